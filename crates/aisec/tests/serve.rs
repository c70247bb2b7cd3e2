//! `aisec models serve` end to end: the built binary serves the real SmolLM2 (fetched once into
//! this target directory's cache) with a system prompt and a tool, a plain HTTP client talks to
//! it on loopback, and the process is killed at the end.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;

/// Kills the server when the test ends, passed or not.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 exchange over a plain socket: (status, body).
fn http(addr: &str, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\n{headers}content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).expect("read the reply");
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n]);
        rest = &tail[n + 2..];
    }
    out
}

#[test]
fn models_serve_answers_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let prompt = dir.path().join("system.txt");
    std::fs::write(&prompt, "You are the help desk of Example Corp. Be brief.").unwrap();
    let tools = dir.path().join("tools.json");
    std::fs::write(
        &tools,
        r#"[{"type": "function", "function": {"name": "get_weather",
            "description": "Get the current weather in a given city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                           "required": ["city"]}}}]"#,
    )
    .unwrap();
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aisec-cache");
    let child = Command::new(env!("CARGO_BIN_EXE_aisec"))
        .args([
            "models",
            "serve",
            "--model",
            "smollm2-135m-instruct",
            "--port",
            "0",
        ])
        .arg("--system-prompt")
        .arg(&prompt)
        .arg("--tools")
        .arg(&tools)
        .args([
            "--max-tokens",
            "48",
            "--api-key-env",
            "AISEC_SERVE_TEST_KEY",
            "--embeddings",
            "all-minilm-l6-v2",
        ])
        .env("AISEC_CACHE_DIR", cache)
        .env("AISEC_SERVE_TEST_KEY", "sk-e2e-key")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start aisec models serve");
    let mut server = Serving(child);
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("read the port line");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    let auth = "authorization: Bearer sk-e2e-key\r\n";

    let (status, body) = http(&addr, "GET", "/v1/models", "", "");
    assert_eq!(status, 401, "{body}");
    let (status, body) = http(&addr, "GET", "/v1/models", auth, "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"smollm2-135m-instruct\""), "{body}");
    assert!(body.contains("\"all-minilm-l6-v2\""), "{body}");

    let embed = r#"{"model": "all-minilm-l6-v2", "input": ["a cat", "a kitten"]}"#;
    let (status, body) = http(&addr, "POST", "/v1/embeddings", auth, embed);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let vectors: Vec<Vec<f64>> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| serde_json::from_value(d["embedding"].clone()).unwrap())
        .collect();
    assert_eq!(vectors.len(), 2);
    assert_eq!(vectors[0].len(), 384);
    let cosine: f64 = vectors[0].iter().zip(&vectors[1]).map(|(a, b)| a * b).sum();
    assert!(cosine > 0.5, "related sentences, cosine {cosine}");

    // SmolLM2-135M seldom calls a tool unasked: the call is asked for, the model writes it.
    let ask = r#"{"model": "smollm2-135m-instruct", "max_tokens": 24, "tool_choice": "required",
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}]}"#;
    let (status, body) = http(&addr, "POST", "/v1/chat/completions", auth, ask);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls", "{v}");
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );

    let stream = r#"{"model": "m", "stream": true, "max_tokens": 8, "tool_choice": "none", "messages": [{"role": "user", "content": "Say hello."}]}"#;
    let (status, body) = http(&addr, "POST", "/v1/chat/completions", auth, stream);
    assert_eq!(status, 200, "{body}");
    let events: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(events.last(), Some(&"[DONE]"), "{body}");
    assert!(events.len() > 3, "{body}");
    let first: serde_json::Value = serde_json::from_str(events[0]).unwrap();
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
}

#[test]
fn models_serve_refuses_a_remote_address_and_a_missing_model() {
    let (code, _, err) = common::aisec(&["models", "serve", "--host", "0.0.0.0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--allow-remote"), "{err}");
    let (code, _, err) = common::aisec(&["models", "serve", "--model", "no/such/model.gguf"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("neither a catalog model"), "{err}");
}

#[test]
fn models_serve_checks_the_tool_choice_against_its_tools() {
    let dir = tempfile::tempdir().unwrap();
    let tools = dir.path().join("tools.json");
    std::fs::write(
        &tools,
        r#"[{"type": "function", "function": {"name": "send_email", "description": "Send an email",
            "parameters": {"type": "object"}}}]"#,
    )
    .unwrap();
    let (code, _out, err) = common::aisec(&[
        "models",
        "serve",
        "--tools",
        tools.to_str().unwrap(),
        "--tool-choice",
        "delete_everything",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--tool-choice delete_everything"), "{err}");
}
