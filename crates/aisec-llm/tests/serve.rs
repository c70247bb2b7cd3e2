//! The OpenAI-compatible server over the real SmolLM2-135M-Instruct GGUF (fetched once through
//! the pinned resolver), on loopback, talked to with our own `OpenAiClient` and with raw HTTP.
#![allow(clippy::disallowed_macros, clippy::print_stderr)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use aisec_llm::local::LocalChat;
use aisec_llm::{
    ApiKey, ChatRequest, ClientConfig, LlmError, Message, OpenAiClient, ServeConfig, Server,
    ToolSpec,
};
use serde_json::{Value, json};

const MODEL: &str = "smollm2-135m-instruct";

fn model() -> Arc<LocalChat> {
    static CHAT: OnceLock<Arc<LocalChat>> = OnceLock::new();
    Arc::clone(CHAT.get_or_init(|| {
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aisec-cache");
        let path = aisec_resolve::Resolver::new(cache)
            .fetch(MODEL)
            .expect("fetch the SmolLM2 GGUF");
        Arc::new(LocalChat::open(&path, MODEL).expect("load the model"))
    }))
}

fn serve(config: ServeConfig) -> Server {
    Server::start(model(), None, config).expect("start the server")
}

fn client(server: &Server, key: Option<&str>) -> OpenAiClient {
    let mut config = ClientConfig::new(server.base_url());
    config.api_key = key.map(|k| ApiKey::new(k).unwrap());
    config.retries = 0;
    config.timeout = Duration::from_secs(120);
    OpenAiClient::new(config).unwrap()
}

fn weather_tool() -> ToolSpec {
    ToolSpec {
        name: "get_weather".into(),
        description: "Get the current weather in a given city".into(),
        parameters: json!({
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city name"}},
            "required": ["city"],
        }),
    }
}

/// One raw HTTP exchange: the status and the body parsed as JSON (Null when it is not).
fn raw(addr: SocketAddr, request: &[u8]) -> (u16, Value, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = s.write_all(request);
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    let text = String::from_utf8_lossy(&reply).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (
        status,
        serde_json::from_str(body).unwrap_or(Value::Null),
        text,
    )
}

fn post(path: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn assert_openai_error(body: &Value, kind: &str) {
    assert_eq!(body["error"]["type"], kind, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[test]
fn plain_and_streamed_answers_agree() {
    let server = serve(ServeConfig::default());
    let c = client(&server, None);
    let mut req = ChatRequest::new(
        MODEL,
        vec![Message::user(
            "What is the capital of France? Answer in one sentence.",
        )],
    );
    req.max_tokens = Some(40);
    let started = Instant::now();
    let whole = c.chat(&req).expect("chat");
    let secs = started.elapsed().as_secs_f64();
    let usage = whole.usage.expect("usage");
    eprintln!(
        "served reply {:?}: {} prompt + {} completion tokens in {secs:.2} s ({:.1} tokens/s)",
        whole.text(),
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.completion_tokens as f64 / secs
    );
    assert!(whole.text().contains("Paris"), "{:?}", whole.text());
    assert_eq!(whole.model, MODEL);
    assert!(whole.id.starts_with("chatcmpl-"));

    let streamed = c.chat_stream(&req).expect("stream");
    let pieces = streamed
        .deltas
        .iter()
        .filter(|d| d.content.is_some())
        .count();
    assert!(pieces > 3, "the text came in {pieces} piece(s)");
    assert_eq!(streamed.response.text(), whole.text());
    assert_eq!(
        streamed.response.choices[0].finish_reason,
        whole.choices[0].finish_reason
    );
    assert_eq!(
        streamed.response.usage, whole.usage,
        "usage is reported in the stream"
    );
    server.shutdown();
}

/// SmolLM2-135M rarely calls a tool on its own (asked about the weather, it describes the
/// weather in words; told to call the tool, it copies the tool's description), so the call is
/// asked for with `tool_choice`: the answer is started as a call of `get_weather` and the model
/// writes the arguments.
#[test]
fn tools_give_real_tool_calls_whole_and_streamed() {
    let config = ServeConfig {
        tools: vec![weather_tool()],
        ..ServeConfig::default()
    };
    let server = serve(config);
    let c = client(&server, None);
    let mut req = ChatRequest::new(MODEL, vec![Message::user("What is the weather in Paris?")]);
    req.max_tokens = Some(24);
    req.tool_choice = Some(json!({"type": "function", "function": {"name": "get_weather"}}));
    let whole = c.chat(&req).expect("chat");
    eprintln!("tool answer: {:?}", whole.choices[0]);
    let choice = &whole.choices[0];
    assert_eq!(choice.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(choice.message.content, None);
    let call = &choice.message.tool_calls[0];
    assert_eq!(call.name, "get_weather");
    assert!(!call.id.is_empty());
    let args: Value = serde_json::from_str(&call.arguments).expect("arguments are JSON");
    assert_eq!(args["city"], "Paris", "{args}");

    let streamed = c.chat_stream(&req).expect("stream");
    assert_eq!(
        streamed.response.choices[0].message.tool_calls,
        choice.message.tool_calls
    );
    assert_eq!(
        streamed.response.choices[0].finish_reason.as_deref(),
        Some("tool_calls")
    );
    assert!(
        streamed.deltas.iter().all(|d| d.content.is_none()),
        "no call text leaks as content"
    );

    // tool_choice "none": the same question gets words, not a call.
    req.tool_choice = Some(json!("none"));
    req.max_tokens = Some(12);
    let words = c.chat(&req).expect("chat");
    assert!(words.choices[0].message.tool_calls.is_empty());
    assert!(!words.text().is_empty());
    assert_ne!(
        words.choices[0].finish_reason.as_deref(),
        Some("tool_calls")
    );

    // The call and its result go back, and the model answers.
    req.tool_choice = None;
    req.messages.push(choice.message.clone());
    req.messages.push(Message::tool_result(
        &call.id,
        r#"{"temperature_c": 21, "sky": "sunny"}"#,
    ));
    let after = c.chat(&req).expect("chat after the tool result");
    eprintln!("after the tool result: {:?}", after.choices[0]);
    assert!(after.usage.expect("usage").prompt_tokens > whole.usage.expect("usage").prompt_tokens);
    server.shutdown();
}

#[test]
fn bad_requests_get_openai_errors() {
    let server = serve(ServeConfig::default());
    let addr = server.local_addr();
    let (status, body, _) = raw(addr, &post("/v1/chat/completions", "", "{not json"));
    assert_eq!(status, 400);
    assert_openai_error(&body, "invalid_request_error");
    let (status, body, _) = raw(addr, &post("/v1/chat/completions", "", r#"{"model":"m"}"#));
    assert_eq!(status, 400);
    assert_openai_error(&body, "invalid_request_error");
    let (status, body, _) = raw(
        addr,
        &post("/v1/chat/completions", "", r#"{"model":"m","messages":[]}"#),
    );
    assert_eq!(status, 400, "{body}");
    let (status, body, _) = raw(
        addr,
        &post(
            "/v1/chat/completions",
            "",
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"tool_choice":"required"}"#,
        ),
    );
    assert_eq!(status, 400, "required without tools: {body}");
    assert_openai_error(&body, "invalid_request_error");
    let (status, body, _) = raw(addr, b"GET /v1/nowhere HTTP/1.1\r\nhost: x\r\n\r\n");
    assert_eq!(status, 404);
    assert_openai_error(&body, "invalid_request_error");
    let (status, body, _) = raw(
        addr,
        b"GET /v1/chat/completions HTTP/1.1\r\nhost: x\r\n\r\n",
    );
    assert_eq!(status, 405);
    assert_openai_error(&body, "invalid_request_error");
    let (status, body, _) = raw(addr, &post("/v1/embeddings", "", r#"{"input":"hi"}"#));
    assert_eq!(status, 404, "no embedder here");
    assert_eq!(body["error"]["code"], "model_not_found");
    let (status, _, _) = raw(addr, b"this is not http\r\n\r\n");
    assert_eq!(status, 400);
    let (status, _, _) = raw(
        addr,
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    assert_eq!(status, 411);

    let (status, body, _) = raw(addr, b"GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n");
    assert_eq!(status, 200);
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"][0]["id"], MODEL);

    // Our client reports the server's error status.
    let c = client(&server, None);
    let mut req = ChatRequest::new(MODEL, vec![Message::user("hi")]);
    req.n = Some(50);
    match c.chat(&req) {
        Err(LlmError::Status { status: 400, .. }) => {}
        other => panic!("{other:?}"),
    }
    server.shutdown();
}

#[test]
fn bodies_and_heads_are_bounded() {
    let mut config = ServeConfig::default();
    config.http.limits.max_body_bytes = 1024;
    config.http.limits.max_head_bytes = 2048;
    let server = serve(config);
    let addr = server.local_addr();
    let big = format!(
        r#"{{"model":"m","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "a".repeat(200_000)
    );
    let (status, body, _) = raw(addr, &post("/v1/chat/completions", "", &big));
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "request_too_large");
    // Our client sees the same.
    let c = client(&server, None);
    let req = ChatRequest::new(MODEL, vec![Message::user("a".repeat(200_000))]);
    match c.chat(&req) {
        Err(LlmError::Status { status: 413, .. }) => {}
        other => panic!("{other:?}"),
    }
    let long_header = format!("x-filler: {}\r\n", "b".repeat(4000));
    let (status, body, _) = raw(addr, &post("/v1/chat/completions", &long_header, "{}"));
    assert_eq!(status, 431, "{body}");
    assert_openai_error(&body, "invalid_request_error");
    server.shutdown();
}

#[test]
fn the_api_key_is_required_when_set() {
    let key = "sk-serve-test-5f0e2c";
    let config = ServeConfig {
        api_key: Some(ApiKey::new(key).unwrap()),
        ..ServeConfig::default()
    };
    let server = serve(config);
    let addr = server.local_addr();
    let (status, body, _) = raw(addr, b"GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n");
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "invalid_api_key");
    let (status, _, _) = raw(
        addr,
        b"GET /v1/models HTTP/1.1\r\nhost: x\r\nauthorization: Bearer sk-serve-test-5f0e2d\r\n\r\n",
    );
    assert_eq!(status, 401);
    let (status, _, _) = raw(
        addr,
        format!("GET /v1/models HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(status, 200);

    let mut req = ChatRequest::new(MODEL, vec![Message::user("Say hi.")]);
    req.max_tokens = Some(8);
    match client(&server, None).chat(&req) {
        Err(LlmError::Status { status: 401, .. }) => {}
        other => panic!("{other:?}"),
    }
    match client(&server, Some("wrong")).chat_stream(&req) {
        Err(LlmError::Status { status: 401, .. }) => {}
        other => panic!("{other:?}"),
    }
    let ok = client(&server, Some(key))
        .chat_stream(&req)
        .expect("with the key");
    assert!(!ok.response.text().is_empty());
    server.shutdown();
}

#[test]
fn a_full_queue_gets_429_and_shutdown_stops_the_server() {
    let mut config = ServeConfig::default();
    config.http.workers = 1;
    config.http.queue = 1;
    config.http.limits.read_timeout = Duration::from_secs(3);
    let server = serve(config);
    let addr = server.local_addr();
    // Two half-sent requests: one holds the worker, one waits in the queue.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /v1/models HTTP/1.1\r\n").unwrap();
        held.push(s);
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, body, text) = raw(addr, b"GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n");
    assert_eq!(status, 429, "{text}");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert!(text.to_ascii_lowercase().contains("retry-after: 1"));
    // The held requests time out with 408 and the server serves again.
    let mut first = String::new();
    held[0].read_to_string(&mut first).unwrap();
    assert!(first.starts_with("HTTP/1.1 408"), "{first}");
    drop(held);
    std::thread::sleep(Duration::from_millis(3500));
    let (status, _, _) = raw(addr, b"GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n");
    assert_eq!(status, 200);
    server.shutdown();
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
        "the listener is closed after shutdown"
    );
}

#[test]
fn non_loopback_addresses_are_refused_unless_allowed() {
    let mut config = ServeConfig::default();
    config.http.addr = "0.0.0.0:0".parse().unwrap();
    match Server::start(model(), None, config) {
        Err(LlmError::Serve(m)) => assert!(m.contains("loopback"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn embeddings_as_floats_and_base64() {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aisec-cache");
    let dir = aisec_resolve::Resolver::new(cache)
        .fetch("all-minilm-l6-v2")
        .expect("fetch all-MiniLM-L6-v2");
    let embedder = aisec_llm::local::MiniLm::open_named(&dir, "all-minilm-l6-v2").expect("load");
    let server = Server::start(model(), Some(Arc::new(embedder)), ServeConfig::default())
        .expect("start the server");
    let addr = server.local_addr();
    let (status, body, _) = raw(
        addr,
        &post(
            "/v1/embeddings",
            "",
            r#"{"model":"all-minilm-l6-v2","input":["The cat sat on the mat.","A kitten sat on a rug.","Stock prices fell sharply."]}"#,
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "list");
    assert_eq!(body["model"], "all-minilm-l6-v2");
    let vectors: Vec<Vec<f32>> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, d)| {
            assert_eq!(d["index"], i);
            assert_eq!(d["object"], "embedding");
            serde_json::from_value(d["embedding"].clone()).unwrap()
        })
        .collect();
    assert_eq!(vectors.len(), 3);
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    for v in &vectors {
        assert_eq!(v.len(), 384);
        assert!((dot(v, v) - 1.0).abs() < 1e-3, "unit length");
    }
    assert!(
        dot(&vectors[0], &vectors[1]) > dot(&vectors[0], &vectors[2]) + 0.2,
        "the related sentences are closer"
    );

    // base64: the same vector as little-endian f32 bytes.
    let (status, body, _) = raw(
        addr,
        &post(
            "/v1/embeddings",
            "",
            r#"{"model":"m","input":"The cat sat on the mat.","encoding_format":"base64"}"#,
        ),
    );
    assert_eq!(status, 200, "{body}");
    let coded = body["data"][0]["embedding"]
        .as_str()
        .expect("a base64 string");
    let bytes = decode_base64(coded);
    let back: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(back, vectors[0]);

    for bad in [
        r#"{"input":[]}"#,
        r#"{"input":[1,2,3]}"#,
        r#"{"input":"x","encoding_format":"hex"}"#,
        r#"{"nothing":true}"#,
    ] {
        let (status, body, _) = raw(addr, &post("/v1/embeddings", "", bad));
        assert_eq!(status, 400, "{bad}: {body}");
        assert_openai_error(&body, "invalid_request_error");
    }
    let (_, models, _) = raw(addr, b"GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n");
    assert_eq!(models["data"][1]["id"], "all-minilm-l6-v2");
    server.shutdown();
}

/// A plain base64 decoder for the check (standard alphabet, padding).
fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let mut out = Vec::new();
    for quad in text.as_bytes().chunks(4) {
        let data: Vec<u8> = quad.iter().copied().filter(|&c| c != b'=').collect();
        let mut n = 0u32;
        for (i, &c) in data.iter().enumerate() {
            n |= value(c) << (18 - 6 * i);
        }
        for i in 0..data.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}
