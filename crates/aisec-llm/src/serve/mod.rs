//! An OpenAI-compatible HTTP server over any [`ChatTarget`] (in practice the local model) and,
//! optionally, an [`Embedder`]: what `aisec models serve` runs, a practice target for the red
//! team.
//!
//! Routes: `POST /v1/chat/completions` (a JSON answer, or with `"stream": true` server-sent
//! events `data: {chunk}` ... `data: [DONE]`, tool calls in the chunk format, usage when
//! `stream_options.include_usage` asks for it), `GET /v1/models` (and `/v1/models/{id}`), and
//! `POST /v1/embeddings` (vectors as float lists or base64, as asked). Errors are OpenAI-shaped:
//! `{"error": {"message", "type", "param", "code"}}`.
//!
//! The server's own system prompt goes first, before any system message of the client; its own
//! tools are offered with the request's (the server's win when names collide). With an API key,
//! every route wants `Authorization: Bearer KEY`. The request's `model` is not checked: every
//! chat request goes to the one target, which answers under its own name.
//!
//! Concurrency: a fixed pool of workers ([`ServeConfig::http`]`.workers`) serves requests;
//! `queue` more connections may wait; beyond that the answer is 429 with `Retry-After: 1`.
//! The HTTP plumbing lives in [`http`].

pub mod http;

use std::io;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::embed::Embedder;
use crate::error::{LlmError, Result};
use crate::key::ApiKey;
use crate::local::LocalError;
use crate::openai::StreamDelta;
use crate::target::ChatTarget;
use crate::types::{ChatRequest, Message, Role, ToolSpec};

use self::http::{ReadError, Request, Responder, Response, ServerConfig, ServerHandle};

/// Most texts one embeddings request may hold.
pub const MAX_EMBED_INPUTS: usize = 256;

/// What the server offers and how it listens.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address, workers, queue and request bounds.
    pub http: ServerConfig,
    /// Put before every conversation, ahead of the client's own system message.
    pub system_prompt: Option<String>,
    /// Offered on every chat request, with the request's own tools.
    pub tools: Vec<ToolSpec>,
    /// When set, every request must carry `Authorization: Bearer KEY`.
    pub api_key: Option<ApiKey>,
    /// Tokens per answer: the default, and the most a request may ask for.
    pub max_tokens: u32,
    /// The `tool_choice` of a request with tools that names none (`"auto"`, `"required"`, or
    /// `{"type": "function", "function": {"name": ...}}`): a small model that never calls a tool
    /// on its own can be made an agent that does, for practice.
    pub tool_choice: Option<serde_json::Value>,
}

impl Default for ServeConfig {
    /// Loopback on a free port, the default HTTP bounds, no prompt, tools or key, 256 tokens.
    fn default() -> Self {
        Self {
            http: ServerConfig::default(),
            system_prompt: None,
            tools: Vec::new(),
            api_key: None,
            max_tokens: 256,
            tool_choice: None,
        }
    }
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    handle: ServerHandle,
}

impl Server {
    /// Starts serving `target` (and `embedder`, when given) as `config` says.
    ///
    /// # Errors
    /// [`LlmError::Serve`] when the address is not loopback and that was not allowed, or it
    /// cannot be bound, or `max_tokens` or the pool sizes are 0.
    pub fn start(
        target: Arc<dyn ChatTarget>,
        embedder: Option<Arc<dyn Embedder>>,
        config: ServeConfig,
    ) -> Result<Self> {
        if config.max_tokens == 0 {
            return Err(LlmError::Serve("max_tokens must be at least 1".into()));
        }
        let http_config = config.http.clone();
        let app = Arc::new(App {
            target,
            embedder,
            config,
            next_id: AtomicU64::new(1),
        });
        let handle = http::start(&http_config, app)
            .map_err(|e| LlmError::Serve(format!("cannot serve on {}: {e}", http_config.addr)))?;
        Ok(Self { handle })
    }

    /// The bound address.
    #[must_use]
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.handle.local_addr()
    }

    /// The base URL for clients, `http://ADDR/v1`.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.handle.local_addr())
    }

    /// Stops accepting, finishes the requests in hand and returns.
    pub fn shutdown(self) {
        self.handle.shutdown();
    }

    /// Serves until the process ends.
    pub fn wait(self) {
        self.handle.wait();
    }
}

struct App {
    target: Arc<dyn ChatTarget>,
    embedder: Option<Arc<dyn Embedder>>,
    config: ServeConfig,
    next_id: AtomicU64,
}

/// An OpenAI-shaped error reply.
fn error(status: u16, kind: &str, code: Option<&str>, message: &str) -> Response {
    Response::json(
        status,
        &json!({
            "error": { "message": message, "type": kind, "param": null, "code": code }
        }),
    )
}

fn invalid(message: &str) -> Response {
    error(400, "invalid_request_error", None, message)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Compares without stopping at the first difference.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
    }
    diff == 0
}

impl http::Handler for App {
    fn handle(&self, request: Request, out: &mut Responder<'_>) -> io::Result<()> {
        if let Some(key) = &self.config.api_key {
            let given = request
                .header("authorization")
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .unwrap_or("")
                .trim();
            if !same_secret(given.as_bytes(), key.expose().as_bytes()) {
                return out.send(&error(
                    401,
                    "invalid_request_error",
                    Some("invalid_api_key"),
                    "missing or wrong API key: send Authorization: Bearer KEY",
                ));
            }
        }
        let path = request.path.trim_end_matches('/');
        match (request.method.as_str(), path) {
            ("POST", "/v1/chat/completions") => self.chat(&request, out),
            ("GET", "/v1/models") => out.send(&self.models()),
            ("GET", p) if p.starts_with("/v1/models/") => {
                out.send(&self.model(&p["/v1/models/".len()..]))
            }
            ("POST", "/v1/embeddings") => out.send(&self.embeddings(&request)),
            (_, "/v1/chat/completions" | "/v1/embeddings") => out.send(&error(
                405,
                "invalid_request_error",
                Some("method_not_allowed"),
                &format!("{} is not allowed here: use POST", clip(&request.method)),
            )),
            (_, "/v1/models") => out.send(&error(
                405,
                "invalid_request_error",
                Some("method_not_allowed"),
                &format!("{} is not allowed here: use GET", clip(&request.method)),
            )),
            _ => out.send(&error(
                404,
                "invalid_request_error",
                Some("unknown_url"),
                &format!("no route {} {}", clip(&request.method), clip(&request.path)),
            )),
        }
    }

    fn unreadable(&self, e: &ReadError) -> Response {
        let code = match e {
            ReadError::BodyTooLarge { .. } => Some("request_too_large"),
            ReadError::HeadTooLarge(_) => Some("headers_too_large"),
            ReadError::Timeout => Some("timeout"),
            ReadError::Bad { .. } | ReadError::Closed => None,
        };
        error(e.status(), "invalid_request_error", code, &e.to_string())
    }

    fn overloaded(&self) -> Response {
        error(
            429,
            "rate_limit_error",
            Some("rate_limit_exceeded"),
            "every worker is busy and the queue is full: retry later",
        )
        .with_header("retry-after", "1")
    }
}

fn clip(s: &str) -> String {
    s.chars().take(80).filter(|c| !c.is_control()).collect()
}

fn model_object(id: &str) -> Value {
    json!({ "id": id, "object": "model", "created": 0, "owned_by": "aisec" })
}

impl App {
    fn model_names(&self) -> Vec<&str> {
        let mut names = vec![self.target.name()];
        names.extend(self.embedder.as_ref().map(|e| e.name()));
        names
    }

    fn models(&self) -> Response {
        let data: Vec<Value> = self.model_names().into_iter().map(model_object).collect();
        Response::json(200, &json!({ "object": "list", "data": data }))
    }

    fn model(&self, id: &str) -> Response {
        if self.model_names().contains(&id) {
            Response::json(200, &model_object(id))
        } else {
            error(
                404,
                "invalid_request_error",
                Some("model_not_found"),
                &format!("no model {:?} here", clip(id)),
            )
        }
    }

    fn target_error(e: &LlmError) -> Response {
        match e {
            LlmError::Local(LocalError::Request(m)) => invalid(m),
            other => error(500, "server_error", None, &other.to_string()),
        }
    }

    fn chat(&self, request: &Request, out: &mut Responder<'_>) -> io::Result<()> {
        let body: Value = match serde_json::from_slice(&request.body) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => return out.send(&invalid("the body must be a JSON object")),
            Err(e) => return out.send(&invalid(&format!("the body is not JSON: {e}"))),
        };
        let stream = match body.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return out.send(&invalid("stream must be true or false")),
        };
        let include_usage = body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let chat: ChatRequest = match serde_json::from_value(body) {
            Ok(c) => c,
            Err(e) => return out.send(&invalid(&format!("not a chat-completions request: {e}"))),
        };
        if chat.messages.is_empty() {
            return out.send(&invalid("messages must not be empty"));
        }
        let chat = prepare(&self.config, chat);
        let id = format!("chatcmpl-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let created = now();
        if !stream {
            return match self.target.chat(&chat) {
                Ok(r) => {
                    let mut v = serde_json::to_value(&r).unwrap_or(Value::Null);
                    if let Value::Object(map) = &mut v {
                        map.insert("id".into(), Value::String(id));
                        map.insert("object".into(), "chat.completion".into());
                        map.insert("created".into(), created.into());
                    }
                    out.send(&Response::json(200, &v))
                }
                Err(e) => out.send(&Self::target_error(&e)),
            };
        }
        let mut sse = SseOut {
            out,
            id,
            created,
            model: self.target.name().to_owned(),
            started: Vec::new(),
            streaming: false,
            failed: None,
        };
        let result = self
            .target
            .chat_stream(&chat, &mut |delta: StreamDelta| sse.delta(&delta));
        if let Some(e) = sse.failed.take() {
            return Err(e);
        }
        match result {
            Ok(response) => {
                if include_usage && let Some(usage) = response.usage {
                    let chunk = json!({
                        "id": sse.id, "object": "chat.completion.chunk", "created": sse.created,
                        "model": sse.model, "choices": [], "usage": usage,
                    });
                    sse.event(&chunk.to_string())?;
                }
                sse.event("[DONE]")?;
                sse.out.end_chunked()
            }
            Err(e) if !sse.streaming => sse.out.send(&Self::target_error(&e)),
            Err(e) => {
                // The stream has started: say what went wrong in an event and end without
                // [DONE], so that the client knows the answer is incomplete.
                let chunk = json!({
                    "error": { "message": e.to_string(), "type": "server_error", "param": null, "code": null }
                });
                sse.event(&chunk.to_string())?;
                sse.out.end_chunked()
            }
        }
    }

    fn embeddings(&self, request: &Request) -> Response {
        let Some(embedder) = &self.embedder else {
            return error(
                404,
                "invalid_request_error",
                Some("model_not_found"),
                "this server has no embedding model (start it with --embeddings)",
            );
        };
        let body: Value = match serde_json::from_slice(&request.body) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => return invalid("the body must be a JSON object"),
            Err(e) => return invalid(&format!("the body is not JSON: {e}")),
        };
        let texts: Vec<&str> = match body.get("input") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => {
                if items.is_empty() || items.len() > MAX_EMBED_INPUTS {
                    return invalid(&format!("input must hold 1 to {MAX_EMBED_INPUTS} texts"));
                }
                let mut texts = Vec::with_capacity(items.len());
                for item in items {
                    match item.as_str() {
                        Some(s) => texts.push(s),
                        None => {
                            return invalid(
                                "input must be a string or a list of strings (token lists are not accepted)",
                            );
                        }
                    }
                }
                texts
            }
            _ => return invalid("input must be a string or a list of strings"),
        };
        let base64 = match body.get("encoding_format").and_then(Value::as_str) {
            None | Some("float") => false,
            Some("base64") => true,
            Some(other) => {
                return invalid(&format!(
                    "encoding_format {:?} is not \"float\" or \"base64\"",
                    clip(other)
                ));
            }
        };
        let vectors = match embedder.embed(&texts) {
            Ok(v) => v,
            Err(e) => return error(500, "server_error", None, &e.to_string()),
        };
        let data: Vec<Value> = vectors
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let embedding = if base64 {
                    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                    Value::String(base64_encode(&bytes))
                } else {
                    json!(v)
                };
                json!({ "object": "embedding", "index": i, "embedding": embedding })
            })
            .collect();
        // The embedder does not count tokens; usage is reported as 0 rather than guessed.
        Response::json(
            200,
            &json!({
                "object": "list",
                "data": data,
                "model": embedder.name(),
                "usage": { "prompt_tokens": 0, "total_tokens": 0 },
            }),
        )
    }
}

/// The request as the target gets it: the server's system prompt first, its tools merged in
/// (the server's win on a name both have), the server's `tool_choice` where the request has
/// tools and names none, `max_tokens` within the server's cap.
fn prepare(config: &ServeConfig, mut request: ChatRequest) -> ChatRequest {
    if let Some(system) = &config.system_prompt {
        request.messages.insert(0, Message::system(system.clone()));
    }
    if !config.tools.is_empty() {
        let mut tools = config.tools.clone();
        for t in request.tools {
            if !tools.iter().any(|s| s.name == t.name) {
                tools.push(t);
            }
        }
        request.tools = tools;
    }
    if request.tool_choice.is_none() && !request.tools.is_empty() {
        request.tool_choice.clone_from(&config.tool_choice);
    }
    let cap = config.max_tokens;
    request.max_tokens = Some(request.max_tokens.unwrap_or(cap).min(cap));
    request
}

fn sse_headers() -> Vec<(String, String)> {
    vec![
        ("content-type".into(), "text/event-stream".into()),
        ("cache-control".into(), "no-cache".into()),
    ]
}

/// A streamed answer being written as chat-completion chunks; the reply starts with the
/// first piece, so that a request the target refuses still gets a plain error reply.
struct SseOut<'r, 's> {
    out: &'r mut Responder<'s>,
    id: String,
    created: u64,
    model: String,
    /// Answers whose first chunk (with the role) has gone out.
    started: Vec<u32>,
    streaming: bool,
    failed: Option<io::Error>,
}

impl SseOut<'_, '_> {
    fn delta(&mut self, d: &StreamDelta) -> ControlFlow<()> {
        match self.write_delta(d) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.failed = Some(e);
                ControlFlow::Break(())
            }
        }
    }

    /// Writes `data: {data}` and a blank line, starting the reply when needed.
    fn event(&mut self, data: &str) -> io::Result<()> {
        if !self.streaming {
            self.out.start_chunked(200, &sse_headers())?;
            self.streaming = true;
        }
        self.out.chunk(format!("data: {data}\n\n").as_bytes())
    }

    fn write_delta(&mut self, d: &StreamDelta) -> io::Result<()> {
        let mut delta = serde_json::Map::new();
        if !self.started.contains(&d.choice) {
            self.started.push(d.choice);
            delta.insert("role".into(), json!(Role::Assistant));
        }
        if let Some(text) = &d.content {
            delta.insert("content".into(), Value::String(text.clone()));
        }
        if let Some((k, call)) = &d.tool_call {
            delta.insert(
                "tool_calls".into(),
                json!([{
                    "index": k, "id": call.id, "type": "function",
                    "function": { "name": call.name, "arguments": call.arguments },
                }]),
            );
        }
        let chunk = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model,
            "choices": [{ "index": d.choice, "delta": delta, "finish_reason": d.finish_reason }],
        });
        self.event(&chunk.to_string())
    }
}

/// Standard base64 with padding.
fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(plain.as_bytes()), coded);
        }
    }

    #[test]
    fn the_server_prompt_and_tools_come_first() {
        let tool = |name: &str, description: &str| ToolSpec {
            name: name.into(),
            description: description.into(),
            parameters: json!({"type": "object"}),
        };
        let config = ServeConfig {
            system_prompt: Some("Server rules.".into()),
            tools: vec![tool("a", "server's a")],
            max_tokens: 64,
            ..ServeConfig::default()
        };
        let mut req = ChatRequest::new(
            "m",
            vec![Message::system("Client rules."), Message::user("hi")],
        );
        req.tools = vec![tool("a", "client's a"), tool("b", "client's b")];
        req.max_tokens = Some(1000);
        let got = prepare(&config, req.clone());
        assert_eq!(got.messages[0], Message::system("Server rules."));
        assert_eq!(got.messages[1], Message::system("Client rules."));
        assert_eq!(got.messages.len(), 3);
        let names: Vec<(&str, &str)> = got
            .tools
            .iter()
            .map(|t| (t.name.as_str(), t.description.as_str()))
            .collect();
        assert_eq!(names, [("a", "server's a"), ("b", "client's b")]);
        assert_eq!(got.max_tokens, Some(64));
        req.max_tokens = None;
        assert_eq!(prepare(&config, req.clone()).max_tokens, Some(64));
        req.max_tokens = Some(5);
        assert_eq!(prepare(&config, req.clone()).max_tokens, Some(5));

        // The server's tool choice applies where the request names none.
        assert_eq!(prepare(&config, req.clone()).tool_choice, None);
        let config = ServeConfig {
            tool_choice: Some(json!("required")),
            ..config
        };
        assert_eq!(
            prepare(&config, req.clone()).tool_choice,
            Some(json!("required"))
        );
        req.tool_choice = Some(json!("none"));
        assert_eq!(prepare(&config, req).tool_choice, Some(json!("none")));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"ab"));
        assert!(!same_secret(b"", b"a"));
        assert!(same_secret(b"", b""));
    }
}
