//! A real OpenAI-compatible chat server on loopback that answers by rules: a function from the
//! request to the answer. It serves each connection on its own thread, sleeps a fixed time per
//! request (so that concurrency shows), keeps every request, and counts the most requests it
//! had in flight at once.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aisec_llm::ChatRequest;

/// What the server answers.
pub(crate) enum Answer {
    /// A text reply that stopped by itself.
    Text(String),
    /// A text reply cut at the token limit.
    Length(String),
    /// A tool call.
    Call { name: String, arguments: String },
    /// An HTTP error status with no body.
    Status(u16),
    /// An HTTP error status with a body.
    Error(u16, String),
}

pub(crate) type Rule = Arc<dyn Fn(&ChatRequest) -> Answer + Send + Sync>;

pub(crate) struct Scripted {
    pub(crate) base: String,
    seen: Arc<Mutex<Vec<ChatRequest>>>,
    in_flight: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

fn body(answer: &Answer, request: &ChatRequest) -> (u16, String) {
    let (message, finish, tokens) = match answer {
        Answer::Text(t) => (
            serde_json::json!({"role": "assistant", "content": t}),
            "stop",
            t.split_whitespace().count(),
        ),
        Answer::Length(t) => (
            serde_json::json!({"role": "assistant", "content": t}),
            "length",
            request.max_tokens.unwrap_or(16) as usize,
        ),
        Answer::Call { name, arguments } => (
            serde_json::json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}
            ]}),
            "tool_calls",
            8,
        ),
        Answer::Status(s) => return (*s, String::new()),
        Answer::Error(s, b) => return (*s, b.clone()),
    };
    let v = serde_json::json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": request.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 10, "completion_tokens": tokens, "total_tokens": 10 + tokens},
    });
    (200, v.to_string())
}

impl Scripted {
    pub(crate) fn start(delay: Duration, rule: Rule) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (s, f, m) = (Arc::clone(&seen), Arc::clone(&in_flight), Arc::clone(&most));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (seen, in_flight, most, rule) = (
                    Arc::clone(&s),
                    Arc::clone(&f),
                    Arc::clone(&m),
                    Arc::clone(&rule),
                );
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut length = 0usize;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut raw = vec![0; length];
                    if reader.read_exact(&mut raw).is_err() {
                        return;
                    }
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    let request: ChatRequest =
                        serde_json::from_slice(&raw).expect("a chat request");
                    std::thread::sleep(delay);
                    let answer = rule(&request);
                    seen.lock().unwrap().push(request.clone());
                    let (status, text) = body(&answer, &request);
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                        text.len()
                    );
                    let _ = stream.write_all(reply.as_bytes());
                    let _ = stream.flush();
                });
            }
        });
        Self {
            base,
            seen,
            in_flight,
            most,
        }
    }

    pub(crate) fn seen(&self) -> Vec<ChatRequest> {
        self.seen.lock().unwrap().clone()
    }

    pub(crate) fn clear(&self) {
        self.seen.lock().unwrap().clear();
    }

    pub(crate) fn most_in_flight(&self) -> usize {
        self.most.load(Ordering::SeqCst)
    }

    /// A client for this server: no retries, short timeouts.
    pub(crate) fn client(&self) -> aisec_llm::OpenAiClient {
        let mut c = aisec_llm::ClientConfig::new(self.base.clone());
        c.retries = 0;
        c.timeout = Duration::from_secs(20);
        aisec_llm::OpenAiClient::new(c).unwrap()
    }
}

/// The last user message of a request.
pub(crate) fn last_user(request: &ChatRequest) -> &str {
    request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == aisec_llm::Role::User)
        .map_or("", |m| m.content_text())
}

/// The first `AISEC-XXXXXXXX` marker in `text`.
pub(crate) fn marker_in(text: &str) -> Option<&str> {
    let i = text.find("AISEC-")?;
    text.get(i..i + 14)
}
