//! What every chat endpoint offers the red team: [`ChatTarget`], and [`Limited`], a target
//! behind a shared [`RateLimit`].

use std::ops::ControlFlow;
use std::sync::Arc;

use crate::error::{LlmError, Result};
use crate::limit::RateLimit;
use crate::local::LocalChat;
use crate::openai::{OpenAiClient, StreamDelta};
use crate::types::{ChatRequest, ChatResponse};

/// Something that answers chat requests: an OpenAI-compatible server, the Anthropic API, a
/// generic HTTP application, or a local model. Shared by the threads of a run.
pub trait ChatTarget: Send + Sync {
    /// A short name for reports (the endpoint, or the configured name).
    fn name(&self) -> &str;
    /// Sends `request` and returns the whole answer.
    fn chat(&self, request: &ChatRequest) -> Result<ChatResponse>;
    /// Sends `request` and hands the answer to `on_delta` piece by piece (text, then each
    /// tool call whole, then the finish reason, per answer), returning the whole answer; the
    /// pieces add up to it. `on_delta` returning `Break` stops the answer with an error.
    ///
    /// The default asks [`Self::chat`] and replays its answer ([`replay`]); targets that can
    /// stream do so as the model writes.
    fn chat_stream(
        &self,
        request: &ChatRequest,
        on_delta: &mut dyn FnMut(StreamDelta) -> ControlFlow<()>,
    ) -> Result<ChatResponse> {
        let response = self.chat(request)?;
        replay(&response, on_delta)?;
        Ok(response)
    }
}

/// Hands a whole answer to `on_delta` as the pieces [`ChatTarget::chat_stream`] promises.
///
/// # Errors
/// [`LlmError::Cancelled`] when `on_delta` returns `Break`.
pub fn replay(
    response: &ChatResponse,
    on_delta: &mut dyn FnMut(StreamDelta) -> ControlFlow<()>,
) -> Result<()> {
    for c in &response.choices {
        let mut pieces = Vec::new();
        if let Some(text) = &c.message.content
            && !text.is_empty()
        {
            pieces.push(StreamDelta {
                choice: c.index,
                content: Some(text.clone()),
                tool_call: None,
                finish_reason: None,
            });
        }
        for (k, call) in c.message.tool_calls.iter().enumerate() {
            pieces.push(StreamDelta {
                choice: c.index,
                content: None,
                tool_call: Some((k as u32, call.clone())),
                finish_reason: None,
            });
        }
        pieces.push(StreamDelta {
            choice: c.index,
            content: None,
            tool_call: None,
            finish_reason: c.finish_reason.clone(),
        });
        for p in pieces {
            if on_delta(p).is_break() {
                return Err(LlmError::Cancelled);
            }
        }
    }
    Ok(())
}

impl ChatTarget for OpenAiClient {
    fn name(&self) -> &str {
        self.endpoint()
    }
    fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
        OpenAiClient::chat(self, request)
    }
}

impl ChatTarget for LocalChat {
    fn name(&self) -> &str {
        LocalChat::name(self)
    }
    fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
        Ok(LocalChat::chat(self, request)?)
    }
    fn chat_stream(
        &self,
        request: &ChatRequest,
        on_delta: &mut dyn FnMut(StreamDelta) -> ControlFlow<()>,
    ) -> Result<ChatResponse> {
        Ok(LocalChat::chat_stream(self, request, on_delta)?)
    }
}

/// A target whose requests pass through a [`RateLimit`] (which several targets may share).
#[derive(Debug)]
pub struct Limited<T> {
    inner: T,
    limit: Arc<RateLimit>,
}

impl<T: ChatTarget> Limited<T> {
    /// Puts `inner` behind `limit`.
    pub fn new(inner: T, limit: Arc<RateLimit>) -> Self {
        Self { inner, limit }
    }

    /// The wrapped target.
    pub fn inner(&self) -> &T {
        &self.inner
    }
}

impl<T: ChatTarget> ChatTarget for Limited<T> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
        let _permit = self.limit.acquire();
        self.inner.chat(request)
    }
    fn chat_stream(
        &self,
        request: &ChatRequest,
        on_delta: &mut dyn FnMut(StreamDelta) -> ControlFlow<()>,
    ) -> Result<ChatResponse> {
        let _permit = self.limit.acquire();
        self.inner.chat_stream(request, on_delta)
    }
}
