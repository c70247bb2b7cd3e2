//! The LLM layer of aisec: the chat types every target speaks, [`ApiKey`] (a key that never
//! prints), the remote targets behind [`ChatTarget`] ([`OpenAiClient`] for OpenAI-compatible
//! chat-completions endpoints, [`AnthropicClient`], and [`HttpTarget`] for any JSON API), all with
//! retries, bounded replies and streaming where the API has it, a shared [`RateLimit`], and
//! [`local`]: SmolLM2 from its GGUF file (tokenizer, ChatML template, tool calls, quantized
//! llama, streamed answers) and MiniLM sentence embeddings ([`local::MiniLm`], an [`Embedder`])
//! on the CPU, and [`serve`]: an OpenAI-compatible HTTP server over any target.
//!
//! Nothing here prints or exits: every failure is an [`LlmError`].

pub mod anthropic;
pub mod corpus;
mod embed;
mod error;
mod http;
pub mod http_target;
pub mod inspect;
mod key;
pub mod limit;
pub mod linear;
pub mod local;
mod openai;
pub mod serve;
mod sse;
pub mod target;
mod types;

pub use anthropic::AnthropicClient;
pub use embed::Embedder;
pub use error::{LlmError, Result};
pub use http_target::{HeaderValue, HttpTarget, HttpTargetConfig, JsonPath};
pub use key::ApiKey;
pub use limit::{Clock, Permit, RateLimit, SystemClock};
pub use openai::{ClientConfig, OpenAiClient, StreamDelta, StreamOutcome};
pub use serve::{ServeConfig, Server};
pub use target::{ChatTarget, Limited, replay};
pub use types::{
    ChatRequest, ChatResponse, Choice, FunctionCall, Message, Role, ToolCall, ToolSpec, Usage,
};
