//! What every chat endpoint offers the red team: [`ChatTarget`], and [`Limited`], a target
//! behind a shared [`RateLimit`].

use std::sync::Arc;

use crate::error::Result;
use crate::limit::RateLimit;
use crate::local::LocalChat;
use crate::openai::OpenAiClient;
use crate::types::{ChatRequest, ChatResponse};

/// Something that answers chat requests: an OpenAI-compatible server, the Anthropic API, a
/// generic HTTP application, or a local model. Shared by the threads of a run.
pub trait ChatTarget: Send + Sync {
    /// A short name for reports (the endpoint, or the configured name).
    fn name(&self) -> &str;
    /// Sends `request` and returns the whole answer.
    fn chat(&self, request: &ChatRequest) -> Result<ChatResponse>;
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
}
