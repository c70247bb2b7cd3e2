//! The Anthropic Messages client against a loopback server: plain answers, tool use, streams
//! with text and input_json deltas, error events, retries.

mod support;

use std::time::Duration;

use aisec_llm::{
    AnthropicClient, ApiKey, ChatRequest, ChatTarget, ClientConfig, LlmError, Message, Role,
    ToolCall, ToolSpec,
};
use serde_json::{Value, json};
use support::{Server, json as json_reply, reply, sse};

const KEY: &str = "sk-ant-test-0123456789-secret";

fn client(server: &Server) -> AnthropicClient {
    let mut config = ClientConfig::new(&server.base);
    config.api_key = Some(ApiKey::new(KEY).unwrap());
    config.timeout = Duration::from_secs(10);
    config.retries = 2;
    config.backoff = Duration::from_millis(10);
    AnthropicClient::new(config).unwrap()
}

fn request() -> ChatRequest {
    let mut r = ChatRequest::new(
        "claude-test",
        vec![
            Message::system("Be brief."),
            Message::system("Never reveal CANARY-7."),
            Message::user("What is the weather in Paris?"),
        ],
    );
    r.max_tokens = Some(64);
    r.temperature = Some(0.0);
    r.tools = vec![ToolSpec {
        name: "get_weather".into(),
        description: "Weather for a city".into(),
        parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
    }];
    r
}

#[test]
fn plain_answer_and_the_request_it_sent() {
    let server = Server::start(vec![json_reply(
        r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-test",
            "content":[{"type":"text","text":"Sunny, "},{"type":"thinking","thinking":"x"},{"type":"text","text":"20 C."}],
            "stop_reason":"end_turn","usage":{"input_tokens":12,"output_tokens":5}}"#,
    )]);
    let c = client(&server);
    let answer = c.chat(&request()).unwrap();
    assert_eq!(answer.id, "msg_1");
    assert_eq!(answer.text(), "Sunny, 20 C.");
    assert_eq!(answer.choices[0].finish_reason.as_deref(), Some("stop"));
    let usage = answer.usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (12, 5, 17)
    );
    assert!(c.name().ends_with("/v1/messages"));

    let seen = server.seen();
    assert!(
        seen[0].head.starts_with("POST /v1/messages "),
        "{}",
        seen[0].head
    );
    let head = seen[0].head.to_ascii_lowercase();
    assert!(head.contains(&format!("x-api-key: {KEY}")));
    assert!(head.contains("anthropic-version: 2023-06-01"));
    assert!(!head.contains("authorization"));
    let body: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(
        body,
        json!({
            "model": "claude-test",
            "max_tokens": 64,
            "temperature": 0.0,
            "system": "Be brief.\n\nNever reveal CANARY-7.",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "What is the weather in Paris?"}]}],
            "tools": [{"name": "get_weather", "description": "Weather for a city",
                       "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        })
    );
}

#[test]
fn tool_use_round_trip() {
    let server = Server::start(vec![json_reply(
        r#"{"id":"msg_2","model":"claude-test","content":[
            {"type":"text","text":"Checking."},
            {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}],
            "stop_reason":"tool_use","usage":{"input_tokens":3,"output_tokens":4}}"#,
    )]);
    let c = client(&server);
    let answer = c.chat(&request()).unwrap();
    let m = &answer.choices[0].message;
    assert_eq!(m.content.as_deref(), Some("Checking."));
    assert_eq!(
        answer.choices[0].finish_reason.as_deref(),
        Some("tool_calls")
    );
    assert_eq!(m.tool_calls.len(), 1);
    assert_eq!(m.tool_calls[0].id, "toolu_1");
    assert_eq!(m.tool_calls[0].name, "get_weather");
    let args: Value = serde_json::from_str(&m.tool_calls[0].arguments).unwrap();
    assert_eq!(args, json!({"city": "Paris"}));

    // The conversation continues: the call and two results go back as blocks, the results
    // merged into one user turn.
    let mut next = request();
    next.messages.push(m.clone());
    next.messages.push(Message::tool_result("toolu_1", "20 C"));
    next.messages
        .push(Message::tool_result("toolu_2", "no data"));
    c.chat(&next).unwrap();
    let body: Value = serde_json::from_str(&server.seen()[1].body).unwrap();
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "What is the weather in Paris?"}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "20 C"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "no data"}]},
        ])
    );

    // Arguments that are not JSON cannot be sent as a tool_use input.
    let mut bad = request();
    bad.messages.push(Message {
        role: Role::Assistant,
        content: None,
        tool_calls: vec![ToolCall {
            id: "t".into(),
            name: "f".into(),
            arguments: "{not json".into(),
        }],
        tool_call_id: None,
    });
    assert!(matches!(c.chat(&bad), Err(LlmError::Config(_))));
}

fn event(kind: &str, data: &str) -> String {
    format!("event: {kind}\ndata: {data}\n\n")
}

#[test]
fn stream_with_text_and_input_json_deltas() {
    let events = [
        event(
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_3","model":"claude-test","usage":{"input_tokens":9,"output_tokens":1}}}"#,
        ),
        event(
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
        event("ping", r#"{"type":"ping"}"#),
        event(
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Let me "}}"#,
        ),
        event(
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"check."}}"#,
        ),
        event(
            "content_block_stop",
            r#"{"type":"content_block_stop","index":0}"#,
        ),
        event(
            "content_block_start",
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_9","name":"get_weather","input":{}}}"#,
        ),
        event(
            "content_block_delta",
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": "}}"#,
        ),
        event(
            "content_block_delta",
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}}"#,
        ),
        event(
            "content_block_stop",
            r#"{"type":"content_block_stop","index":1}"#,
        ),
        event(
            "message_delta",
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":21}}"#,
        ),
        event("message_stop", r#"{"type":"message_stop"}"#),
    ];
    let events: Vec<&str> = events.iter().map(String::as_str).collect();
    let server = Server::start(vec![sse(&events)]);
    let out = client(&server).chat_stream(&request()).unwrap();
    let r = &out.response;
    assert_eq!(r.id, "msg_3");
    assert_eq!(r.text(), "Let me check.");
    let m = &r.choices[0].message;
    assert_eq!(m.tool_calls.len(), 1);
    assert_eq!(m.tool_calls[0].id, "toolu_9");
    assert_eq!(m.tool_calls[0].arguments, r#"{"city": "Paris"}"#);
    assert_eq!(r.choices[0].finish_reason.as_deref(), Some("tool_calls"));
    let usage = r.usage.unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (9, 21));
    let pieces: Vec<String> = out
        .deltas
        .iter()
        .map(|d| match (&d.content, &d.tool_call, &d.finish_reason) {
            (Some(t), _, _) => format!("text:{t}"),
            (_, Some((k, c)), _) => format!("tool{k}:{}|{}|{}", c.id, c.name, c.arguments),
            (_, _, Some(f)) => format!("finish:{f}"),
            _ => "empty".into(),
        })
        .collect();
    assert_eq!(
        pieces,
        [
            "text:Let me ",
            "text:check.",
            "tool0:toolu_9|get_weather|",
            "tool0:||{\"city\": ",
            "tool0:||\"Paris\"}",
            "finish:tool_calls",
        ]
    );
    let body: Value = serde_json::from_str(&server.seen()[0].body).unwrap();
    assert_eq!(body["stream"], true);
}

#[test]
fn an_error_event_or_a_cut_stream_is_an_error() {
    let start = event(
        "message_start",
        r#"{"type":"message_start","message":{"id":"m","model":"x"}}"#,
    );
    let error = event(
        "error",
        &format!(
            r#"{{"type":"error","error":{{"type":"overloaded_error","message":"Overloaded {KEY}"}}}}"#
        ),
    );
    let server = Server::start(vec![sse(&[&start, &error])]);
    let e = client(&server).chat_stream(&request()).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, LlmError::Stream { line: 5, .. }), "{text}");
    assert!(
        text.contains("overloaded_error: Overloaded [redacted]"),
        "{text}"
    );
    assert!(!text.contains(KEY));

    let server = Server::start(vec![sse(&[&start])]);
    let e = client(&server).chat_stream(&request()).unwrap_err();
    assert!(e.to_string().contains("before message_stop"), "{e}");

    let wrong = event(
        "content_block_delta",
        r#"{"type":"content_block_delta","index":5,"delta":{"type":"text_delta","text":"x"}}"#,
    );
    let server = Server::start(vec![sse(&[&start, &wrong])]);
    let e = client(&server).chat_stream(&request()).unwrap_err();
    assert!(e.to_string().contains("never started"), "{e}");
}

#[test]
fn overloaded_then_success_is_retried_and_n_above_one_refused() {
    let server = Server::start(vec![
        reply("529 Overloaded", "application/json", br#"{"type":"error"}"#),
        json_reply(
            r#"{"id":"m","model":"x","content":[{"type":"text","text":"ok"}],"stop_reason":"max_tokens"}"#,
        ),
    ]);
    let c = client(&server);
    let answer = c.chat(&request()).unwrap();
    assert_eq!(answer.text(), "ok");
    assert_eq!(answer.choices[0].finish_reason.as_deref(), Some("length"));
    assert_eq!(server.seen().len(), 2);
    let mut r = request();
    r.n = Some(2);
    assert!(matches!(c.chat(&r), Err(LlmError::Config(_))));
    let server = Server::start(vec![json_reply(r#"{"id":"m","content":"oops"}"#)]);
    assert!(matches!(
        client(&server).chat(&request()),
        Err(LlmError::Malformed { .. })
    ));
}
