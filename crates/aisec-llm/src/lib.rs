//! The LLM layer of aisec: the chat types every target speaks, [`ApiKey`] (a key that never
//! prints), and [`OpenAiClient`], a blocking client for OpenAI-compatible chat-completions
//! endpoints with retries, bounded replies, streaming over server-sent events and tool calls.
//!
//! Nothing here prints or exits: every failure is an [`LlmError`].

pub mod anthropic;
mod error;
mod http;
pub mod http_target;
mod key;
pub mod limit;
mod openai;
mod sse;
pub mod target;
mod types;

pub use anthropic::AnthropicClient;
pub use error::{LlmError, Result};
pub use http_target::{HeaderValue, HttpTarget, HttpTargetConfig, JsonPath};
pub use key::ApiKey;
pub use limit::{Clock, Permit, RateLimit, SystemClock};
pub use openai::{ClientConfig, OpenAiClient, StreamDelta, StreamOutcome};
pub use target::{ChatTarget, Limited};
pub use types::{
    ChatRequest, ChatResponse, Choice, FunctionCall, Message, Role, ToolCall, ToolSpec, Usage,
};
