//! A blocking client for the Anthropic Messages API: the same chat types, retries and bounds as
//! the OpenAI-compatible client, translated to and from the Messages wire format.

use std::fmt;
use std::io::BufRead;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{LlmError, Result};
use crate::http::Http;
use crate::openai::{ClientConfig, StreamDelta, StreamOutcome};
use crate::sse::SseReader;
use crate::target::ChatTarget;
use crate::types::{ChatRequest, ChatResponse, Choice, Message, Role, ToolCall, Usage};

/// The API version sent in `anthropic-version`.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// `max_tokens` when the request sets none (the API requires one).
pub const DEFAULT_MAX_TOKENS: u32 = 1024;
/// Most content blocks and most tool calls accepted in one answer.
const MAX_BLOCKS: usize = 1024;
const MAX_TOOL_CALLS: usize = 128;

/// A client for one Messages API server.
pub struct AnthropicClient {
    http: Http,
}

impl fmt::Debug for AnthropicClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnthropicClient")
            .field("endpoint", &self.http.endpoint)
            .field("config", &self.http.config)
            .finish_non_exhaustive()
    }
}

impl AnthropicClient {
    /// Checks the config; requests go to `{base_url}/v1/messages` (give the base without `/v1`).
    pub fn new(config: ClientConfig) -> Result<Self> {
        let endpoint = format!("{}/v1/messages", config.base_url.trim_end_matches('/'));
        Ok(Self {
            http: Http::new(config, endpoint, Vec::new())?,
        })
    }

    /// The messages URL.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.http.endpoint
    }

    /// Sends `request` and returns the whole answer.
    pub fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
        let body = Self::body(request, false)?;
        let key = self.key();
        let bytes = self.http.post_json(&body, &Self::headers(key.as_deref()))?;
        let reply: WireMessage = serde_json::from_slice(&bytes)
            .map_err(|e| self.http.malformed(format!("not a Messages reply: {e}")))?;
        if reply.content.len() > MAX_BLOCKS {
            return Err(self
                .http
                .malformed(format!("more than {MAX_BLOCKS} content blocks")));
        }
        let mut text = String::new();
        let mut tool_calls = Vec::new();
        for block in reply.content {
            match block {
                Block::Text { text: t } => text.push_str(&t),
                Block::ToolUse { id, name, input } => {
                    if tool_calls.len() == MAX_TOOL_CALLS {
                        return Err(self
                            .http
                            .malformed(format!("more than {MAX_TOOL_CALLS} tool calls")));
                    }
                    tool_calls.push(ToolCall {
                        id,
                        name,
                        arguments: input.to_string(),
                    });
                }
                Block::Other => {}
            }
        }
        Ok(ChatResponse {
            id: reply.id,
            model: reply.model,
            choices: vec![answer(text, tool_calls, reply.stop_reason.as_deref())],
            usage: reply.usage.map(|u| usage(u.input_tokens, u.output_tokens)),
        })
    }

    /// Sends `request` with `stream: true` and reads the events to `message_stop`. Retries
    /// cover the request until the stream starts; a stream broken halfway is an error.
    pub fn chat_stream(&self, request: &ChatRequest) -> Result<StreamOutcome> {
        let body = Self::body(request, true)?;
        let key = self.key();
        self.http
            .post_stream(&body, &Self::headers(key.as_deref()), |sse| {
                self.read_stream(sse)
            })
    }

    fn key(&self) -> Option<String> {
        self.http
            .config
            .api_key
            .as_ref()
            .map(|k| k.expose().to_owned())
    }

    fn headers(key: Option<&str>) -> Vec<(&'static str, &str)> {
        let mut h = vec![("anthropic-version", ANTHROPIC_VERSION)];
        if let Some(k) = key {
            h.push(("x-api-key", k));
        }
        h
    }

    /// The Messages request for `request`: system messages joined into `system`, tool results
    /// as `tool_result` blocks of a user turn, consecutive turns of one role merged.
    fn body(request: &ChatRequest, stream: bool) -> Result<Vec<u8>> {
        if request.n.is_some_and(|n| n > 1) {
            return Err(LlmError::Config(
                "the Messages API gives one answer per request (n > 1)".into(),
            ));
        }
        let mut system = Vec::new();
        let mut turns: Vec<(&str, Vec<Value>)> = Vec::new();
        for m in &request.messages {
            let (role, blocks) = match m.role {
                Role::System => {
                    system.push(m.content_text());
                    continue;
                }
                Role::User => (
                    "user",
                    vec![json!({"type": "text", "text": m.content_text()})],
                ),
                Role::Assistant => {
                    let mut blocks = Vec::new();
                    if !m.content_text().is_empty() {
                        blocks.push(json!({"type": "text", "text": m.content_text()}));
                    }
                    for call in &m.tool_calls {
                        let input: Value = if call.arguments.trim().is_empty() {
                            json!({})
                        } else {
                            serde_json::from_str(&call.arguments).map_err(|e| {
                                LlmError::Config(format!(
                                    "the arguments of tool call {:?} are not JSON: {e}",
                                    call.id
                                ))
                            })?
                        };
                        blocks.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input}));
                    }
                    ("assistant", blocks)
                }
                Role::Tool => {
                    let id = m.tool_call_id.as_deref().ok_or_else(|| {
                        LlmError::Config("a tool result without the id of its call".into())
                    })?;
                    (
                        "user",
                        vec![
                            json!({"type": "tool_result", "tool_use_id": id, "content": m.content_text()}),
                        ],
                    )
                }
            };
            match turns.last_mut() {
                Some((r, b)) if *r == role => b.extend(blocks),
                _ => turns.push((role, blocks)),
            }
        }
        let mut map = serde_json::Map::new();
        map.insert("model".into(), json!(request.model));
        map.insert(
            "max_tokens".into(),
            json!(request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
        );
        map.insert(
            "messages".into(),
            turns
                .into_iter()
                .map(|(role, content)| json!({"role": role, "content": content}))
                .collect(),
        );
        if !system.is_empty() {
            map.insert("system".into(), Value::String(system.join("\n\n")));
        }
        if !request.tools.is_empty() {
            map.insert(
                "tools".into(),
                request
                    .tools
                    .iter()
                    .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
                    .collect(),
            );
        }
        if let Some(t) = request.temperature {
            map.insert("temperature".into(), json!(t));
        }
        if stream {
            map.insert("stream".into(), Value::Bool(true));
        }
        serde_json::to_vec(&map)
            .map_err(|e| LlmError::Config(format!("cannot write the request: {e}")))
    }

    fn read_stream<R: BufRead>(&self, sse: &mut SseReader<R>) -> Result<StreamOutcome> {
        let mut asm = Assembly::default();
        loop {
            let data = sse.next_event().map_err(|e| self.http.sse_error(e))?;
            let Some(data) = data else {
                return Err(self
                    .http
                    .stream_error(sse.line(), "the stream ended before message_stop".into()));
            };
            let line = sse.event_line();
            let event: Event = serde_json::from_str(&data).map_err(|e| {
                self.http
                    .stream_error(line, format!("the event is not a Messages event: {e}"))
            })?;
            match event {
                Event::MessageStop => break,
                Event::Error { error } => {
                    let message = self.http.redact(format!(
                        "the server sent an error event: {}: {}",
                        error.kind, error.message
                    ));
                    return Err(self.http.stream_error(line, message));
                }
                other => asm
                    .add(other)
                    .map_err(|message| self.http.stream_error(line, message))?,
            }
        }
        Ok(asm.finish())
    }
}

impl ChatTarget for AnthropicClient {
    fn name(&self) -> &str {
        self.endpoint()
    }
    fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
        AnthropicClient::chat(self, request)
    }
}

/// The finish reason in the chat-completions words.
fn finish_reason(stop: &str) -> String {
    match stop {
        "end_turn" | "stop_sequence" => "stop",
        "max_tokens" => "length",
        "tool_use" => "tool_calls",
        other => other,
    }
    .to_owned()
}

fn usage(input: u64, output: u64) -> Usage {
    Usage {
        prompt_tokens: input,
        completion_tokens: output,
        total_tokens: input.saturating_add(output),
    }
}

fn answer(text: String, tool_calls: Vec<ToolCall>, stop: Option<&str>) -> Choice {
    Choice {
        index: 0,
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
        finish_reason: stop.map(finish_reason),
    }
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        #[serde(default)]
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    /// Thinking and other blocks carry no answer text.
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockStart {
        index: usize,
        content_block: Block,
    },
    ContentBlockDelta {
        index: usize,
        delta: BlockDelta,
    },
    ContentBlockStop {
        #[allow(dead_code)]
        index: usize,
    },
    MessageDelta {
        delta: MessageDeltaBody,
        #[serde(default)]
        usage: Option<WireUsage>,
    },
    MessageStop,
    Error {
        error: ErrorBody,
    },
    /// `ping` and event types added later.
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct MessageDeltaBody {
    #[serde(default)]
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: String,
}

/// What a block index of the stream holds.
#[derive(Clone, Copy)]
enum Slot {
    Text,
    Tool(usize),
    Ignored,
}

#[derive(Default)]
struct Assembly {
    id: String,
    model: String,
    input_tokens: u64,
    output_tokens: Option<u64>,
    blocks: Vec<Option<Slot>>,
    text: String,
    tools: Vec<ToolCall>,
    stop: Option<String>,
    deltas: Vec<StreamDelta>,
}

impl Assembly {
    fn add(&mut self, event: Event) -> std::result::Result<(), String> {
        match event {
            Event::MessageStart { message } => {
                self.id = message.id;
                self.model = message.model;
                if let Some(u) = message.usage {
                    self.input_tokens = u.input_tokens;
                }
            }
            Event::ContentBlockStart {
                index,
                content_block,
            } => {
                if index >= MAX_BLOCKS {
                    return Err(format!("block index {index} is not below {MAX_BLOCKS}"));
                }
                if self.blocks.len() <= index {
                    self.blocks.resize(index + 1, None);
                }
                if self.blocks[index].is_some() {
                    return Err(format!("block {index} started twice"));
                }
                let slot = match content_block {
                    Block::Text { text } => {
                        self.push_text(text);
                        Slot::Text
                    }
                    Block::ToolUse { id, name, .. } => {
                        let k = self.tools.len();
                        if k == MAX_TOOL_CALLS {
                            return Err(format!("more than {MAX_TOOL_CALLS} tool calls"));
                        }
                        let call = ToolCall {
                            id,
                            name,
                            arguments: String::new(),
                        };
                        self.tools.push(call.clone());
                        self.push_delta(None, Some((k, call)), None);
                        Slot::Tool(k)
                    }
                    Block::Other => Slot::Ignored,
                };
                self.blocks[index] = Some(slot);
            }
            Event::ContentBlockDelta { index, delta } => {
                let slot = self
                    .blocks
                    .get(index)
                    .copied()
                    .flatten()
                    .ok_or_else(|| format!("a delta for block {index}, which never started"))?;
                match (slot, delta) {
                    (Slot::Text, BlockDelta::TextDelta { text }) => self.push_text(text),
                    (Slot::Tool(k), BlockDelta::InputJsonDelta { partial_json }) => {
                        self.tools[k].arguments.push_str(&partial_json);
                        let piece = ToolCall {
                            id: String::new(),
                            name: String::new(),
                            arguments: partial_json,
                        };
                        self.push_delta(None, Some((k, piece)), None);
                    }
                    (Slot::Ignored, _) | (_, BlockDelta::Other) => {}
                    _ => return Err(format!("a delta of the wrong kind for block {index}")),
                }
            }
            Event::MessageDelta { delta, usage } => {
                if let Some(u) = usage {
                    self.output_tokens = Some(u.output_tokens);
                }
                if let Some(stop) = delta.stop_reason {
                    let reason = finish_reason(&stop);
                    self.stop = Some(stop);
                    self.push_delta(None, None, Some(reason));
                }
            }
            Event::ContentBlockStop { .. }
            | Event::Other
            | Event::MessageStop
            | Event::Error { .. } => {}
        }
        Ok(())
    }

    fn push_text(&mut self, text: String) {
        if !text.is_empty() {
            self.text.push_str(&text);
            self.push_delta(Some(text), None, None);
        }
    }

    fn push_delta(
        &mut self,
        content: Option<String>,
        tool: Option<(usize, ToolCall)>,
        finish: Option<String>,
    ) {
        self.deltas.push(StreamDelta {
            choice: 0,
            content,
            tool_call: tool.map(|(k, c)| (u32::try_from(k).unwrap_or(u32::MAX), c)),
            finish_reason: finish,
        });
    }

    fn finish(mut self) -> StreamOutcome {
        for call in &mut self.tools {
            if call.arguments.trim().is_empty() {
                "{}".clone_into(&mut call.arguments);
            }
        }
        let usage = self.output_tokens.map(|out| usage(self.input_tokens, out));
        StreamOutcome {
            response: ChatResponse {
                id: self.id,
                model: self.model,
                choices: vec![answer(self.text, self.tools, self.stop.as_deref())],
                usage,
            },
            deltas: self.deltas,
        }
    }
}
