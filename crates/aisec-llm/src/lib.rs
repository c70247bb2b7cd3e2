//! The LLM layer of aisec: the chat types every target speaks, [`ApiKey`] (a key that never
//! prints), and [`OpenAiClient`], a blocking client for OpenAI-compatible chat-completions
//! endpoints with retries, bounded replies, streaming over server-sent events and tool calls.
//!
//! Nothing here prints or exits: every failure is an [`LlmError`].

mod error;
mod key;
pub mod local;
mod openai;
mod sse;
mod types;

pub use error::{LlmError, Result};
pub use key::ApiKey;
pub use openai::{ClientConfig, OpenAiClient, StreamDelta, StreamOutcome};
pub use types::{
    ChatRequest, ChatResponse, Choice, FunctionCall, Message, Role, ToolCall, ToolSpec, Usage,
};
