//! The OpenAI-compatible client against a real HTTP/1.1 server on loopback, started by the test
//! and answering with hand-written replies.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use aisec_llm::{
    ApiKey, ChatRequest, ClientConfig, LlmError, Message, OpenAiClient, Role, ToolSpec,
};

mod support;

use support::{Server, json, reply_with as reply, sse};

/// The OpenAI-compatible base URL of `server` (its `/v1`).
fn v1(server: &Server) -> String {
    format!("{}/v1", server.base)
}

const KEY: &str = "sk-aisec-test-0123456789-topsecret";

fn client(server: &Server) -> OpenAiClient {
    let mut config = ClientConfig::new(v1(server));
    config.api_key = Some(ApiKey::new(KEY).unwrap());
    config.timeout = Duration::from_secs(10);
    config.retries = 2;
    config.backoff = Duration::from_millis(10);
    config.max_backoff = Duration::from_secs(3);
    OpenAiClient::new(config).unwrap()
}

fn request() -> ChatRequest {
    let mut r = ChatRequest::new(
        "smollm2",
        vec![Message::system("Be brief."), Message::user("Hello")],
    );
    r.seed = Some(42);
    r.tools.push(ToolSpec {
        name: "send_email".into(),
        description: "Sends an email".into(),
        parameters: serde_json::json!({"type": "object", "properties": {"to": {"type": "string"}}}),
    });
    r
}

const PLAIN: &str = r#"{"id":"c-1","object":"chat.completion","model":"smollm2","choices":[{"index":0,"message":{"role":"assistant","content":"Hi there."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}"#;

#[test]
fn plain_completion_and_the_request_sent() {
    let server = Server::start(vec![json(PLAIN)]);
    let response = client(&server).chat(&request()).unwrap();
    assert_eq!(response.text(), "Hi there.");
    assert_eq!(response.id, "c-1");
    assert_eq!(response.choices[0].finish_reason.as_deref(), Some("stop"));
    assert_eq!(response.usage.unwrap().total_tokens, 12);

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0]
            .head
            .starts_with("POST /v1/chat/completions HTTP/1.1"),
        "{}",
        seen[0].head
    );
    assert!(
        seen[0]
            .head
            .contains(&format!("authorization: Bearer {KEY}")),
        "{}",
        seen[0].head
    );
    let body: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(body["model"], "smollm2");
    assert_eq!(body["seed"], 42);
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["tools"][0]["function"]["name"], "send_email");
    assert!(body.get("stream").is_none());
}

#[test]
fn tool_call_in_a_plain_completion() {
    let server = Server::start(vec![json(
        r#"{"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"send_email","arguments":"{\"to\":\"x@example.invalid\"}"}}]},"finish_reason":"tool_calls"}]}"#,
    )]);
    let response = client(&server).chat(&request()).unwrap();
    let m = &response.choices[0].message;
    assert_eq!(m.role, Role::Assistant);
    assert_eq!(m.content, None);
    assert_eq!(m.tool_calls[0].id, "call_1");
    assert_eq!(m.tool_calls[0].name, "send_email");
    let args: serde_json::Value = serde_json::from_str(&m.tool_calls[0].arguments).unwrap();
    assert_eq!(args["to"], "x@example.invalid");
}

#[test]
fn stream_with_content_and_tool_call_deltas() {
    let server = Server::start(vec![sse(&[
        ": a comment\n\n",
        "data: {\"id\":\"s-1\",\"model\":\"smollm2\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Sure\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\", sending.\"}}]}\r\n\r\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"send_email\",\"arguments\":\"\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"function\":{\"name\":\"delete_file\",\"arguments\":\"{\\\"path\\\":\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"to\\\":\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"a@b\\\"}\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"\\\"/etc\\\"}\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":15,\"total_tokens\":35}}\n\n",
        "data: [DONE]\n\n",
    ])]);
    let outcome = client(&server).chat_stream(&request()).unwrap();
    let r = &outcome.response;
    assert_eq!(r.id, "s-1");
    assert_eq!(r.text(), "Sure, sending.");
    assert_eq!(r.choices[0].finish_reason.as_deref(), Some("tool_calls"));
    let calls = &r.choices[0].message.tool_calls;
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].id.as_str(), calls[0].name.as_str()),
        ("call_a", "send_email")
    );
    assert_eq!(calls[0].arguments, r#"{"to":"a@b"}"#);
    assert_eq!(
        (calls[1].id.as_str(), calls[1].name.as_str()),
        ("call_b", "delete_file")
    );
    assert_eq!(calls[1].arguments, r#"{"path":"/etc"}"#);
    assert_eq!(r.usage.unwrap().total_tokens, 35);
    // 2 text pieces, 5 tool-call pieces, 1 finish.
    assert_eq!(outcome.deltas.len(), 8);
    assert_eq!(outcome.deltas[0].content.as_deref(), Some("Sure"));
    assert_eq!(outcome.deltas[3].tool_call.as_ref().unwrap().0, 1);

    let body: serde_json::Value = serde_json::from_str(&server.seen()[0].body).unwrap();
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
}

#[test]
fn retry_after_is_honoured_then_success() {
    let server = Server::start(vec![
        reply(
            "429 Too Many Requests",
            &[("Retry-After", "1")],
            "application/json",
            b"{\"error\":\"slow down\"}",
        ),
        json(PLAIN),
    ]);
    let start = Instant::now();
    let response = client(&server).chat(&request()).unwrap();
    let waited = start.elapsed();
    assert_eq!(response.text(), "Hi there.");
    assert_eq!(server.seen().len(), 2);
    // The backoff alone would be 10 ms; the server asked for a second.
    assert!(waited >= Duration::from_millis(950), "{waited:?}");
}

#[test]
fn server_error_forever_exhausts_the_retries() {
    let server = Server::start(vec![reply(
        "500 Internal Server Error",
        &[],
        "text/plain",
        format!("boom; your header was Bearer {KEY}").as_bytes(),
    )]);
    let err = client(&server).chat(&request()).unwrap_err();
    match &err {
        LlmError::Status {
            status,
            attempts,
            excerpt,
            ..
        } => {
            assert_eq!((*status, *attempts), (500, 3));
            assert!(excerpt.starts_with("boom"), "{excerpt}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.seen().len(), 3);
    // A server echoing the key back does not put it into the error.
    assert!(!err.to_string().contains(KEY), "{err}");
    assert!(!format!("{err:?}").contains(KEY), "{err:?}");
}

#[test]
fn client_errors_are_not_retried() {
    let server = Server::start(vec![reply(
        "401 Unauthorized",
        &[],
        "application/json",
        b"{}",
    )]);
    let err = client(&server).chat(&request()).unwrap_err();
    assert!(
        matches!(
            err,
            LlmError::Status {
                status: 401,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.seen().len(), 1);
}

#[test]
fn oversized_bodies_are_refused() {
    let big = format!(
        r#"{{"choices":[{{"message":{{"role":"assistant","content":"{}"}}}}]}}"#,
        "a".repeat(5000)
    );
    let server = Server::start(vec![json(&big)]);
    let mut config = ClientConfig::new(v1(&server));
    config.max_response_bytes = 1000;
    let err = OpenAiClient::new(config)
        .unwrap()
        .chat(&request())
        .unwrap_err();
    assert!(
        matches!(err, LlmError::TooLarge { limit: 1000, .. }),
        "{err:?}"
    );

    let chunk = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}]}\n\n";
    let events: Vec<&str> = std::iter::repeat_n(chunk, 100).collect();
    let server = Server::start(vec![sse(&events)]);
    let mut config = ClientConfig::new(v1(&server));
    config.max_stream_bytes = 2000;
    let err = OpenAiClient::new(config)
        .unwrap()
        .chat_stream(&request())
        .unwrap_err();
    assert!(
        matches!(err, LlmError::TooLarge { limit: 2000, .. }),
        "{err:?}"
    );
}

#[test]
fn malformed_json_is_a_typed_error() {
    for body in [
        "{\"choices\": [",
        "not json at all",
        "{\"choices\":[{\"message\":{\"role\":\"wizard\",\"content\":\"x\"}}]}",
        "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":{\"deep\":1}}}]}",
        "[]",
    ] {
        let server = Server::start(vec![json(body)]);
        let err = client(&server).chat(&request()).unwrap_err();
        assert!(matches!(err, LlmError::Malformed { .. }), "{body}: {err:?}");
    }
}

#[test]
fn malformed_streams_are_typed_errors() {
    let ok = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n";
    let cases: [(&[&str], usize); 5] = [
        (&[ok, "data: {not json}\n\n", "data: [DONE]\n\n"], 3),
        (&[ok, "garbage without a colon\n\n"], 3),
        (
            &[
                ok,
                "data: {\"choices\":[{\"index\":999999,\"delta\":{}}]}\n\n",
            ],
            3,
        ),
        (
            &[
                ok,
                "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":4000000000}]}}]}\n\n",
            ],
            3,
        ),
        // Ends with neither [DONE] nor a finish reason.
        (&[ok], 2),
    ];
    for (events, line) in cases {
        let server = Server::start(vec![sse(events)]);
        let err = client(&server).chat_stream(&request()).unwrap_err();
        match &err {
            LlmError::Stream { line: got, .. } => assert_eq!(*got, line, "{events:?}: {err}"),
            other => panic!("{events:?}: {other:?}"),
        }
    }
    let mut bad_utf8 = sse(&[ok]);
    bad_utf8.extend_from_slice(b"data: \xff\xfe\n\n");
    let server = Server::start(vec![bad_utf8]);
    let err = client(&server).chat_stream(&request()).unwrap_err();
    assert!(matches!(err, LlmError::Stream { line: 3, .. }), "{err:?}");
}

#[test]
fn transport_errors_are_retried_then_typed() {
    // A port with nothing listening: bind, learn the port, close.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = ClientConfig::new(format!("http://127.0.0.1:{port}/v1"));
    config.api_key = Some(ApiKey::new(KEY).unwrap());
    config.retries = 2;
    config.backoff = Duration::from_millis(5);
    let err = OpenAiClient::new(config)
        .unwrap()
        .chat(&request())
        .unwrap_err();
    assert!(
        matches!(err, LlmError::Transport { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains(KEY));
}

#[test]
fn the_key_never_prints() {
    let mut config = ClientConfig::new("http://127.0.0.1:9/v1");
    config.api_key = Some(ApiKey::new(KEY).unwrap());
    let shown = format!("{config:?}");
    assert!(
        !shown.contains(KEY) && shown.contains("redacted"),
        "{shown}"
    );
    let client = OpenAiClient::new(config).unwrap();
    let shown = format!("{client:?}");
    assert!(
        !shown.contains(KEY) && shown.contains("redacted"),
        "{shown}"
    );
    assert!(OpenAiClient::new(ClientConfig::new("file:///etc/passwd")).is_err());
}

#[test]
fn stream_retries_before_it_starts_and_refuses_json_instead_of_events() {
    let server = Server::start(vec![
        reply("503 Service Unavailable", &[], "text/plain", b"warming up"),
        sse(&[
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\n\n",
        ]),
    ]);
    // No [DONE]: a finish reason on every answer is enough.
    let outcome = client(&server).chat_stream(&request()).unwrap();
    assert_eq!(outcome.response.text(), "ok");
    assert_eq!(server.seen().len(), 2);

    let server = Server::start(vec![json(PLAIN)]);
    let err = client(&server).chat_stream(&request()).unwrap_err();
    assert!(
        matches!(&err, LlmError::Malformed { message, .. } if message.contains("got JSON")),
        "{err:?}"
    );
}

#[test]
fn the_client_is_shared_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<OpenAiClient>();
    let server = Server::start(vec![json(PLAIN)]);
    let client = client(&server);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| client.chat(&request()).map(|r| r.text().to_owned())))
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap().unwrap(), "Hi there.");
        }
    });
    assert_eq!(server.seen().len(), 4);
}
