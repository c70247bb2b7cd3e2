//! A blocking client for OpenAI-compatible chat-completions endpoints.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{LlmError, Result};
use crate::http::Http;
use crate::key::ApiKey;
use crate::sse::SseReader;
use crate::types::{ChatRequest, ChatResponse, Choice, Message, Role, ToolCall, Usage};

/// Most answers (`n`) and most tool calls per answer accepted from a stream.
const MAX_CHOICES: usize = 128;
const MAX_TOOL_CALLS: usize = 128;

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
    http: Http,
}

impl fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("endpoint", &self.http.endpoint)
            .field("config", &self.http.config)
            .finish_non_exhaustive()
    }
}

impl OpenAiClient {
    /// Checks the config and builds the HTTP agent.
    pub fn new(config: ClientConfig) -> Result<Self> {
        let endpoint = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        Ok(Self {
            http: Http::new(config, endpoint, Vec::new())?,
        })
    }

    /// The chat-completions URL.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.http.endpoint
    }

    /// Sends `request` and returns the whole answer.
    pub fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
        let body = Self::body(request, false)?;
        let auth = self.auth();
        let bytes = self.http.post_json(
            &body,
            &auth
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .collect::<Vec<_>>(),
        )?;
        let response: ChatResponse =
            serde_json::from_slice(&bytes).map_err(|e| self.http.malformed(e.to_string()))?;
        if response.choices.len() > MAX_CHOICES {
            return Err(self
                .http
                .malformed(format!("more than {MAX_CHOICES} choices")));
        }
        Ok(response)
    }

    /// Sends `request` with `stream: true` and reads the server-sent events to the end.
    /// Retries cover the request until the stream starts; a stream broken halfway is an error.
    pub fn chat_stream(&self, request: &ChatRequest) -> Result<StreamOutcome> {
        let body = Self::body(request, true)?;
        let auth = self.auth();
        let headers: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.http
            .post_stream(&body, &headers, |sse| self.read_stream(sse))
    }

    /// The bearer header, when there is a key.
    fn auth(&self) -> Vec<(&'static str, String)> {
        self.http
            .config
            .api_key
            .iter()
            .map(|key| ("authorization", format!("Bearer {}", key.expose())))
            .collect()
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

    fn read_stream<R: std::io::BufRead>(&self, sse: &mut SseReader<R>) -> Result<StreamOutcome> {
        let mut asm = Assembly::default();
        let mut done = false;
        loop {
            let event = sse.next_event().map_err(|e| self.http.sse_error(e))?;
            let Some(data) = event else { break };
            if data.trim() == "[DONE]" {
                done = true;
                break;
            }
            let chunk: Chunk = serde_json::from_str(&data).map_err(|e| {
                self.http.stream_error(
                    sse.event_line(),
                    format!("the event is not a completion chunk: {e}"),
                )
            })?;
            asm.add(chunk)
                .map_err(|message| self.http.stream_error(sse.event_line(), message))?;
        }
        if !done && !asm.finished() {
            return Err(self.http.stream_error(
                sse.line(),
                "the stream ended before the answer was complete".into(),
            ));
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
