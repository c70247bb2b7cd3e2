//! A blocking client for OpenAI-compatible chat-completions endpoints.

use std::fmt;
use std::io::BufReader;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{LlmError, Result};
use crate::key::ApiKey;
use crate::sse::{SseError, SseReader};
use crate::types::{ChatRequest, ChatResponse, Choice, Message, Role, ToolCall, Usage};

/// Characters of an error body kept in [`LlmError::Status`].
const EXCERPT: usize = 200;
/// Most answers (`n`) and most tool calls per answer accepted from a stream.
const MAX_CHOICES: usize = 128;
const MAX_TOOL_CALLS: usize = 128;
/// Longest line (and event) of an event stream.
const MAX_SSE_LINE: usize = 1 << 20;

/// How to reach the server and how patient to be.
#[derive(Clone)]
pub struct ClientConfig {
    /// The API's base URL, up to and including the version (`http://127.0.0.1:8080/v1`);
    /// requests go to `{base_url}/chat/completions`.
    pub base_url: String,
    /// The bearer key, when the server wants one.
    pub api_key: Option<ApiKey>,
    /// Time limit of one whole request (a stream included).
    pub timeout: Duration,
    /// Time limit to connect.
    pub connect_timeout: Duration,
    /// Retries after the first attempt, on 429, 5xx and transport errors.
    pub retries: u32,
    /// First backoff; it doubles per retry.
    pub backoff: Duration,
    /// Longest backoff; also caps a server's Retry-After.
    pub max_backoff: Duration,
    /// Largest JSON reply accepted, in bytes.
    pub max_response_bytes: u64,
    /// Largest event stream accepted, in bytes.
    pub max_stream_bytes: u64,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// Defaults for `base_url`: no key, 120 s per request, 10 s to connect, 3 retries from
    /// 500 ms up to 30 s, 16 MiB replies and 64 MiB streams.
    #[must_use]
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: None,
            timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
            retries: 3,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_response_bytes: 16 << 20,
            max_stream_bytes: 64 << 20,
        }
    }
}

/// One piece of a streamed answer, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDelta {
    /// Which answer it belongs to.
    pub choice: u32,
    /// Text added to the answer.
    pub content: Option<String>,
    /// A tool-call fragment: the call's index, and the id, name and argument text it adds.
    pub tool_call: Option<(u32, ToolCall)>,
    /// Set on the answer's last piece.
    pub finish_reason: Option<String>,
}

/// A streamed answer: the response assembled from the deltas, and the deltas themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOutcome {
    /// The assembled response, as [`OpenAiClient::chat`] would have returned it.
    pub response: ChatResponse,
    /// Every delta in arrival order.
    pub deltas: Vec<StreamDelta>,
}

/// A client for one OpenAI-compatible server.
pub struct OpenAiClient {
    config: ClientConfig,
    endpoint: String,
    agent: ureq::Agent,
}

impl fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("endpoint", &self.endpoint)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// How one attempt went wrong.
enum Attempt {
    Retry(String),
    Fatal(LlmError),
}

impl OpenAiClient {
    /// Checks the config and builds the HTTP agent.
    pub fn new(config: ClientConfig) -> Result<Self> {
        let lower = config.base_url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err(LlmError::Config(format!(
                "base URL {:?} is not http:// or https://",
                config.base_url
            )));
        }
        if config.base_url.chars().any(char::is_control) {
            return Err(LlmError::Config(
                "the base URL holds a control character".into(),
            ));
        }
        if config.timeout.is_zero() || config.connect_timeout.is_zero() {
            return Err(LlmError::Config("timeouts must be above zero".into()));
        }
        if config.retries > 20 || config.backoff > config.max_backoff {
            return Err(LlmError::Config(
                "retries must be at most 20 and backoff at most max_backoff".into(),
            ));
        }
        if config.max_response_bytes == 0 || config.max_stream_bytes == 0 {
            return Err(LlmError::Config("size limits must be above zero".into()));
        }
        let endpoint = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        let mut builder = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .timeout_connect(Some(config.connect_timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("aisec/", env!("CARGO_PKG_VERSION")));
        if is_loopback(&config.base_url) {
            // A loopback target is never reached through a proxy.
            builder = builder.proxy(None);
        }
        Ok(Self {
            agent: builder.build().into(),
            endpoint,
            config,
        })
    }

    /// The chat-completions URL.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends `request` and returns the whole answer.
    pub fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
        let body = Self::body(request, false)?;
        let limit = self.config.max_response_bytes;
        let bytes = self.with_retries(&body, |response| {
            response
                .into_body()
                .with_config()
                .limit(limit)
                .read_to_vec()
                .map_err(|e| match e {
                    ureq::Error::BodyExceedsLimit(_) => Attempt::Fatal(LlmError::TooLarge {
                        url: self.endpoint.clone(),
                        limit,
                    }),
                    other => classify(&self.endpoint, other),
                })
        })?;
        let response: ChatResponse =
            serde_json::from_slice(&bytes).map_err(|e| self.malformed(e.to_string()))?;
        if response.choices.len() > MAX_CHOICES {
            return Err(self.malformed(format!("more than {MAX_CHOICES} choices")));
        }
        Ok(response)
    }

    /// Sends `request` with `stream: true` and reads the server-sent events to the end.
    /// Retries cover the request until the stream starts; a stream broken halfway is an error.
    pub fn chat_stream(&self, request: &ChatRequest) -> Result<StreamOutcome> {
        let body = Self::body(request, true)?;
        let max_total = self.config.max_stream_bytes;
        self.with_retries(&body, |response| {
            let json = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| {
                    v.trim_start()
                        .to_ascii_lowercase()
                        .starts_with("application/json")
                });
            if json {
                // Some servers answer a stream request with one JSON document (often an error).
                let text = response
                    .into_body()
                    .with_config()
                    .limit(64 * 1024)
                    .read_to_vec()
                    .map(|b| self.redact(excerpt(&b)))
                    .unwrap_or_default();
                return Err(Attempt::Fatal(
                    self.malformed(format!("asked for an event stream, got JSON: {text}")),
                ));
            }
            let reader = BufReader::new(response.into_body().into_reader());
            let mut sse = SseReader::new(reader, MAX_SSE_LINE, max_total);
            self.read_stream(&mut sse).map_err(Attempt::Fatal)
        })
    }

    fn body(request: &ChatRequest, stream: bool) -> Result<Vec<u8>> {
        let mut v = serde_json::to_value(request)
            .map_err(|e| LlmError::Config(format!("cannot write the request: {e}")))?;
        if stream && let Value::Object(map) = &mut v {
            map.insert("stream".into(), Value::Bool(true));
            map.insert(
                "stream_options".into(),
                serde_json::json!({ "include_usage": true }),
            );
        }
        serde_json::to_vec(&v)
            .map_err(|e| LlmError::Config(format!("cannot write the request: {e}")))
    }

    /// Removes the key from text a server sent back (a hostile one may echo headers).
    fn redact(&self, text: String) -> String {
        match &self.config.api_key {
            Some(key) if text.contains(key.expose()) => text.replace(key.expose(), "[redacted]"),
            _ => text,
        }
    }

    fn malformed(&self, message: String) -> LlmError {
        LlmError::Malformed {
            url: self.endpoint.clone(),
            message,
        }
    }

    /// POSTs `body` until a 2xx reply, which `read` consumes; 429, 5xx and transport errors
    /// are retried with backoff, other statuses fail at once.
    fn with_retries<T>(
        &self,
        body: &[u8],
        mut read: impl FnMut(ureq::http::Response<ureq::Body>) -> std::result::Result<T, Attempt>,
    ) -> Result<T> {
        let attempts = self.config.retries + 1;
        let mut last_error = String::new();
        for attempt in 1..=attempts {
            let mut req = self
                .agent
                .post(&self.endpoint)
                .header("content-type", "application/json");
            if let Some(key) = &self.config.api_key {
                req = req.header("authorization", format!("Bearer {}", key.expose()));
            }
            let response = match req.send(body) {
                Ok(r) => r,
                Err(e) => match classify(&self.endpoint, e) {
                    Attempt::Fatal(e) => return Err(e),
                    Attempt::Retry(message) => {
                        last_error = message;
                        if attempt < attempts {
                            std::thread::sleep(self.backoff(attempt, None));
                        }
                        continue;
                    }
                },
            };
            let status = response.status().as_u16();
            if (200..300).contains(&status) {
                return match read(response) {
                    Ok(v) => Ok(v),
                    Err(Attempt::Fatal(e)) => Err(e),
                    Err(Attempt::Retry(message)) => Err(LlmError::Transport {
                        url: self.endpoint.clone(),
                        attempts: attempt,
                        message,
                    }),
                };
            }
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let excerpt = response
                .into_body()
                .with_config()
                .limit(64 * 1024)
                .read_to_vec()
                .map(|b| self.redact(excerpt(&b)))
                .unwrap_or_default();
            let retryable = status == 429 || (500..600).contains(&status);
            if !retryable || attempt == attempts {
                return Err(LlmError::Status {
                    url: self.endpoint.clone(),
                    status,
                    attempts: attempt,
                    excerpt,
                });
            }
            std::thread::sleep(self.backoff(attempt, retry_after));
        }
        Err(LlmError::Transport {
            url: self.endpoint.clone(),
            attempts,
            message: last_error,
        })
    }

    fn backoff(&self, attempt: u32, retry_after: Option<u64>) -> Duration {
        let cap = self.config.max_backoff;
        match retry_after {
            Some(secs) => Duration::from_secs(secs).min(cap),
            None => self
                .config
                .backoff
                .saturating_mul(1u32 << (attempt - 1).min(20))
                .min(cap),
        }
    }

    fn read_stream<R: std::io::BufRead>(&self, sse: &mut SseReader<R>) -> Result<StreamOutcome> {
        let mut asm = Assembly::default();
        let mut done = false;
        loop {
            let event = sse.next_event().map_err(|e| match e {
                SseError::TooLarge => LlmError::TooLarge {
                    url: self.endpoint.clone(),
                    limit: self.config.max_stream_bytes,
                },
                SseError::Io(e) => LlmError::Transport {
                    url: self.endpoint.clone(),
                    attempts: 1,
                    message: format!("the stream broke: {e}"),
                },
                SseError::Format { line, message } => LlmError::Stream {
                    url: self.endpoint.clone(),
                    line,
                    message,
                },
            })?;
            let Some(data) = event else { break };
            if data.trim() == "[DONE]" {
                done = true;
                break;
            }
            let chunk: Chunk = serde_json::from_str(&data).map_err(|e| LlmError::Stream {
                url: self.endpoint.clone(),
                line: sse.event_line(),
                message: format!("the event is not a completion chunk: {e}"),
            })?;
            asm.add(chunk).map_err(|message| LlmError::Stream {
                url: self.endpoint.clone(),
                line: sse.event_line(),
                message,
            })?;
        }
        if !done && !asm.finished() {
            return Err(LlmError::Stream {
                url: self.endpoint.clone(),
                line: sse.line(),
                message: "the stream ended before the answer was complete".into(),
            });
        }
        Ok(asm.finish())
    }
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    delta: Delta,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    tool_calls: Vec<ToolCallDelta>,
}

#[derive(Deserialize)]
struct ToolCallDelta {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionDelta>,
}

#[derive(Deserialize, Default)]
struct FunctionDelta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

fn null_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The answers being assembled from a stream.
#[derive(Default)]
struct Assembly {
    id: String,
    model: String,
    choices: Vec<(String, bool, Vec<ToolCall>, Option<String>)>,
    usage: Option<Usage>,
    deltas: Vec<StreamDelta>,
}

impl Assembly {
    fn add(&mut self, chunk: Chunk) -> std::result::Result<(), String> {
        if let Some(id) = chunk.id
            && self.id.is_empty()
        {
            self.id = id;
        }
        if let Some(m) = chunk.model
            && self.model.is_empty()
        {
            self.model = m;
        }
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
        }
        for c in chunk.choices {
            let i = c.index as usize;
            if i >= MAX_CHOICES {
                return Err(format!("choice index {i} is not below {MAX_CHOICES}"));
            }
            if self.choices.len() <= i {
                self.choices.resize_with(i + 1, Default::default);
            }
            let slot = &mut self.choices[i];
            slot.1 = true;
            if let Some(text) = &c.delta.content {
                slot.0.push_str(text);
                self.deltas.push(StreamDelta {
                    choice: c.index,
                    content: Some(text.clone()),
                    tool_call: None,
                    finish_reason: None,
                });
            }
            for t in c.delta.tool_calls {
                let k = t.index as usize;
                if k >= MAX_TOOL_CALLS {
                    return Err(format!("tool call index {k} is not below {MAX_TOOL_CALLS}"));
                }
                if slot.2.len() <= k {
                    slot.2.resize_with(k + 1, || ToolCall {
                        id: String::new(),
                        name: String::new(),
                        arguments: String::new(),
                    });
                }
                let f = t.function.unwrap_or_default();
                let piece = ToolCall {
                    id: t.id.unwrap_or_default(),
                    name: f.name.unwrap_or_default(),
                    arguments: f.arguments.unwrap_or_default(),
                };
                let call = &mut slot.2[k];
                if !piece.id.is_empty() {
                    call.id.clone_from(&piece.id);
                }
                if !piece.name.is_empty() {
                    call.name.push_str(&piece.name);
                }
                call.arguments.push_str(&piece.arguments);
                self.deltas.push(StreamDelta {
                    choice: c.index,
                    content: None,
                    tool_call: Some((t.index, piece)),
                    finish_reason: None,
                });
            }
            if let Some(reason) = c.finish_reason {
                slot.3 = Some(reason.clone());
                self.deltas.push(StreamDelta {
                    choice: c.index,
                    content: None,
                    tool_call: None,
                    finish_reason: Some(reason),
                });
            }
        }
        Ok(())
    }

    fn finished(&self) -> bool {
        !self.choices.is_empty() && self.choices.iter().all(|c| !c.1 || c.3.is_some())
    }

    fn finish(self) -> StreamOutcome {
        let choices = self
            .choices
            .into_iter()
            .enumerate()
            .filter(|(_, c)| c.1)
            .map(|(i, (text, _, tool_calls, finish_reason))| Choice {
                index: i as u32,
                message: Message {
                    role: Role::Assistant,
                    content: if text.is_empty() && !tool_calls.is_empty() {
                        None
                    } else {
                        Some(text)
                    },
                    tool_calls,
                    tool_call_id: None,
                },
                finish_reason,
            })
            .collect();
        StreamOutcome {
            response: ChatResponse {
                id: self.id,
                model: self.model,
                choices,
                usage: self.usage,
            },
            deltas: self.deltas,
        }
    }
}

fn classify(url: &str, e: ureq::Error) -> Attempt {
    match e {
        ureq::Error::Io(_)
        | ureq::Error::Timeout(_)
        | ureq::Error::ConnectionFailed
        | ureq::Error::HostNotFound
        | ureq::Error::Protocol(_) => Attempt::Retry(e.to_string()),
        other => Attempt::Fatal(LlmError::Transport {
            url: url.to_owned(),
            attempts: 1,
            message: other.to_string(),
        }),
    }
}

fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(EXCERPT * 4)])
        .chars()
        .filter(|c| !c.is_control())
        .take(EXCERPT)
        .collect()
}

fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
