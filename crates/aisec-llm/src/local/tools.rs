//! Tool calling for the local model, in the format SmolLM2-Instruct learnt from its
//! function-calling data: the functions are offered as a JSON list between `<tools>` and
//! `</tools>` in the system message, and the model answers with a JSON list of calls
//! (`{"name": ..., "arguments": {...}}`) between `<tool_call>` and `</tool_call>`. A tool's
//! result goes back as a user turn wrapped in `<tool_response>` tags, and an earlier call of the
//! model is written back in the form it produced.
//!
//! Everything here is plain string building and bounded JSON parsing; no template is rendered.

use serde_json::Value;

use crate::types::{Message, Role, ToolCall, ToolSpec};

use super::LocalError;

/// Opening tag of the model's calls.
pub const CALL_OPEN: &str = "<tool_call>";
/// Closing tag of the model's calls.
pub const CALL_CLOSE: &str = "</tool_call>";
/// At most this many calls are read from one answer.
pub const MAX_CALLS: usize = 32;
/// At most this many bytes of call JSON are parsed from one answer.
pub const MAX_CALL_BYTES: usize = 64 * 1024;
/// Longest function name accepted.
pub const MAX_NAME_BYTES: usize = 256;

/// Whether, and how, the model is asked to call tools (from the request's `tool_choice`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolMode {
    /// No tools are offered (none given, or `tool_choice: "none"`).
    Off,
    /// The model chooses (`"auto"`, or no choice given).
    Auto,
    /// The answer is started as a call, so the model must call something (`"required"`; with
    /// one tool offered, that is [`Self::Named`]).
    Required,
    /// The answer is started as a call of this function.
    Named(String),
}

impl ToolMode {
    /// Reads the request's `tool_choice` against its `tools`.
    ///
    /// # Errors
    /// [`LocalError::Request`] for a choice that is not one of the wire's forms, or that names
    /// a function the request does not offer.
    pub fn from_request(tools: &[ToolSpec], choice: Option<&Value>) -> Result<Self, LocalError> {
        let bad = |m: String| Err(LocalError::Request(m));
        let mode = match choice {
            None | Some(Value::Null) => Self::Auto,
            Some(Value::String(s)) => match s.as_str() {
                "none" => Self::Off,
                "auto" => Self::Auto,
                "required" => Self::Required,
                other => {
                    return bad(format!(
                        "tool_choice {:?} is not \"none\", \"auto\" or \"required\"",
                        clip(other, 40)
                    ));
                }
            },
            Some(v) => match v.pointer("/function/name").and_then(Value::as_str) {
                Some(name) if v.get("type").and_then(Value::as_str) == Some("function") => {
                    Self::Named(name.to_owned())
                }
                _ => {
                    return bad(
                        "tool_choice must be a string or {\"type\": \"function\", \"function\": {\"name\": ...}}"
                            .to_owned(),
                    );
                }
            },
        };
        if tools.is_empty() {
            return match mode {
                Self::Off | Self::Auto => Ok(Self::Off),
                _ => bad("tool_choice asks for a tool call, but no tools are given".to_owned()),
            };
        }
        if mode == Self::Required
            && let [only] = tools
        {
            // One tool to choose from: the call is of that one.
            return Ok(Self::Named(only.name.clone()));
        }
        if let Self::Named(name) = &mode
            && !tools.iter().any(|t| &t.name == name)
        {
            return bad(format!(
                "tool_choice names {:?}, which is not among the tools",
                clip(name, 80)
            ));
        }
        Ok(mode)
    }

    /// The text the answer is started with, so that the model continues a call.
    #[must_use]
    pub fn prefill(&self) -> Option<String> {
        match self {
            Self::Off | Self::Auto => None,
            Self::Required => Some(format!("{CALL_OPEN}[\n{{\"name\": \"")),
            Self::Named(name) => Some(format!(
                "{CALL_OPEN}[\n{{\"name\": {}, \"arguments\": {{\"",
                Value::String(name.clone())
            )),
        }
    }
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The block added to the system message when tools are offered: what they are, as a JSON
/// list of function descriptions, and how to call them.
#[must_use]
pub fn tools_prompt(tools: &[ToolSpec]) -> String {
    let list: Vec<String> = tools.iter().map(tool_entry).collect();
    let list = format!("[{}]", list.join(", "));
    format!(
        "You may call functions to carry out the user's request. The functions you can call \
         are described in JSON between the <tools> and </tools> tags:\n<tools>{list}</tools>\n\
         To call functions, answer only with a JSON list of the calls between {CALL_OPEN} and \
         {CALL_CLOSE} tags, with arguments of the types the descriptions give, for example:\n\
         {CALL_OPEN}[\n{{\"name\": \"function_name\", \"arguments\": {{\"argument\": \"value\"}}}}\n\
         ]{CALL_CLOSE}\nWhen no function fits the request, answer in words."
    )
}

/// One tool as the model reads it: its name, its description with each parameter's type and
/// description added in words, and the parameter names. A JSON schema's nested objects are left
/// out: SmolLM2-135M copies them into its calls instead of filling in values.
fn tool_entry(t: &ToolSpec) -> String {
    let mut names = Vec::new();
    let mut words = Vec::new();
    if let Some(Value::Object(props)) = t.parameters.get("properties") {
        for (name, schema) in props {
            let kind = schema.get("type").and_then(Value::as_str).unwrap_or("any");
            let mut w = format!("{name} ({kind})");
            if let Some(d) = schema.get("description").and_then(Value::as_str) {
                w.push_str(": ");
                w.push_str(d);
            }
            words.push(w);
            names.push(Value::String(name.clone()));
        }
    }
    let mut description = t.description.clone();
    if !words.is_empty() {
        description.push_str(if description.is_empty() { "" } else { ". " });
        description.push_str("Arguments: ");
        description.push_str(&words.join("; "));
    }
    format!(
        "{{\"name\": {}, \"description\": {}, \"parameters\": {}}}",
        Value::String(t.name.clone()),
        Value::String(description),
        Value::Array(names)
    )
}

/// Writes earlier calls back in the form the model produces them.
fn calls_text(calls: &[ToolCall]) -> String {
    let items: Vec<String> = calls
        .iter()
        .map(|c| {
            // Arguments that are JSON go back as JSON; anything else as a JSON string.
            let args = serde_json::from_str::<Value>(&c.arguments)
                .unwrap_or_else(|_| Value::String(c.arguments.clone()));
            format!(
                "{{\"name\": {}, \"arguments\": {args}}}",
                Value::String(c.name.clone())
            )
        })
        .collect();
    format!("{CALL_OPEN}[\n{}\n]{CALL_CLOSE}", items.join(",\n"))
}

/// The conversation as the local model reads it: tools (when `offer` holds any) described at
/// the end of the first system message (one is added, holding `default_system` when given,
/// when the conversation opens without one), the model's earlier calls written back after
/// their text, and tool results as user turns in `<tool_response>` tags.
#[must_use]
pub fn prepare(
    messages: &[Message],
    offer: &[ToolSpec],
    default_system: Option<&str>,
) -> Vec<Message> {
    let mut out = Vec::with_capacity(messages.len() + 1);
    if !offer.is_empty() && messages.first().is_none_or(|m| m.role != Role::System) {
        let block = tools_prompt(offer);
        out.push(Message::system(match default_system {
            Some(s) => format!("{s}\n\n{block}"),
            None => block,
        }));
    }
    for (i, m) in messages.iter().enumerate() {
        let message = match m.role {
            Role::System if i == 0 && !offer.is_empty() => {
                Message::system(format!("{}\n\n{}", m.content_text(), tools_prompt(offer)))
            }
            Role::Assistant if !m.tool_calls.is_empty() => {
                let calls = calls_text(&m.tool_calls);
                Message::assistant(match m.content_text() {
                    "" => calls,
                    text => format!("{text}\n{calls}"),
                })
            }
            Role::Tool => Message::user(format!(
                "<tool_response>\n{}\n</tool_response>",
                m.content_text()
            )),
            _ => Message {
                tool_calls: Vec::new(),
                tool_call_id: None,
                ..m.clone()
            },
        };
        out.push(message);
    }
    out
}

/// What an answer holds once its calls are taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The text outside the calls, trimmed; `None` when nothing is left.
    pub content: Option<String>,
    /// The calls, ids not yet given.
    pub calls: Vec<ToolCall>,
}

/// Reads the calls out of an answer: every `<tool_call>` block (the last one may lack its
/// closing tag when the answer was cut), holding a JSON list of calls or one call, or else an
/// answer that is nothing but such JSON. Calls of functions not in `offered` and entries that
/// are not `{"name": string, "arguments": ...}` are dropped; when no call is left, the answer
/// is text. Bounded by [`MAX_CALL_BYTES`], [`MAX_CALLS`] and [`MAX_NAME_BYTES`] (and
/// serde_json's nesting limit).
#[must_use]
pub fn parse_calls(text: &str, offered: &[ToolSpec]) -> Parsed {
    let mut calls = Vec::new();
    let mut outside = String::new();
    let mut rest = text;
    let mut budget = MAX_CALL_BYTES;
    let mut tagged = false;
    while let Some(at) = rest.find(CALL_OPEN) {
        tagged = true;
        outside.push_str(&rest[..at]);
        let body_start = at + CALL_OPEN.len();
        let (body, next) = match rest[body_start..].find(CALL_CLOSE) {
            Some(end) => (
                &rest[body_start..body_start + end],
                &rest[body_start + end + CALL_CLOSE.len()..],
            ),
            None => (&rest[body_start..], ""),
        };
        if body.len() <= budget {
            budget -= body.len();
            read_calls(body, offered, &mut calls);
        }
        rest = next;
    }
    outside.push_str(rest);
    if !tagged {
        let trimmed = text.trim();
        if (trimmed.starts_with('{') || trimmed.starts_with('[')) && trimmed.len() <= MAX_CALL_BYTES
        {
            read_calls(trimmed, offered, &mut calls);
            if !calls.is_empty() {
                outside.clear();
            }
        }
    }
    if calls.is_empty() {
        let t = text.trim();
        return Parsed {
            content: (!t.is_empty()).then(|| t.to_owned()),
            calls,
        };
    }
    let t = outside.trim();
    Parsed {
        content: (!t.is_empty()).then(|| t.to_owned()),
        calls,
    }
}

/// Adds the calls in `body` (a JSON list of calls, or one call) to `out`.
fn read_calls(body: &str, offered: &[ToolSpec], out: &mut Vec<ToolCall>) {
    let body = body.trim();
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return;
    };
    let items = match value {
        Value::Array(items) => items,
        one @ Value::Object(_) => vec![one],
        _ => return,
    };
    for item in items {
        if out.len() >= MAX_CALLS {
            return;
        }
        let Some(name) = item.get("name").and_then(Value::as_str) else {
            continue;
        };
        if name.len() > MAX_NAME_BYTES || !offered.iter().any(|t| t.name == name) {
            continue;
        }
        let arguments = match item.get("arguments") {
            None | Some(Value::Null) => "{}".to_owned(),
            // Arguments written as a JSON string holding JSON are taken as that JSON.
            Some(Value::String(s)) => serde_json::from_str::<Value>(s)
                .map_or_else(|_| Value::String(s.clone()).to_string(), |v| v.to_string()),
            Some(v) => v.to_string(),
        };
        out.push(ToolCall {
            id: String::new(),
            name: name.to_owned(),
            arguments,
        });
    }
}

/// Where text may be shown before the answer is complete, when tools are offered: not the
/// leading or trailing whitespace, nothing from a `<tool_call>` tag on (or a `<` that may
/// begin one), and nothing at all when the answer opens with `{` or `[` (it may be a bare
/// call). Returns the byte range of `text` that is safe.
#[must_use]
pub fn safe_prefix(text: &str) -> std::ops::Range<usize> {
    let start = text.len() - text.trim_start().len();
    let body = &text[start..];
    if body.starts_with('{') || body.starts_with('[') {
        return start..start;
    }
    let mut end = text.len();
    for (i, _) in body.match_indices('<') {
        let tail = &body[i..];
        if tail.starts_with(CALL_OPEN) || CALL_OPEN.starts_with(tail) {
            end = start + i;
            break;
        }
    }
    let end = start + text[start..end].trim_end().len();
    start..end.max(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tools() -> Vec<ToolSpec> {
        vec![ToolSpec {
            name: "get_weather".into(),
            description: "Weather in a city".into(),
            parameters: serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}}),
        }]
    }

    #[test]
    fn parses_tagged_lists_single_calls_and_bare_json() {
        let t = tools();
        let p = parse_calls(
            "<tool_call>[\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n]</tool_call>",
            &t,
        );
        assert_eq!(p.content, None);
        assert_eq!(p.calls.len(), 1);
        assert_eq!(p.calls[0].name, "get_weather");
        assert_eq!(p.calls[0].arguments, r#"{"city":"Paris"}"#);

        let p = parse_calls(
            "Let me look.\n<tool_call>{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Oslo\\\"}\"}",
            &t,
        );
        assert_eq!(p.content.as_deref(), Some("Let me look."));
        assert_eq!(p.calls[0].arguments, r#"{"city":"Oslo"}"#);

        let p = parse_calls(" {\"name\": \"get_weather\", \"arguments\": {}} ", &t);
        assert_eq!(p.calls.len(), 1);
        assert_eq!(p.content, None);
    }

    #[test]
    fn unknown_functions_and_broken_json_stay_text() {
        let t = tools();
        let p = parse_calls(
            "<tool_call>[{\"name\": \"rm\", \"arguments\": {}}]</tool_call>",
            &t,
        );
        assert!(p.calls.is_empty());
        assert!(p.content.unwrap().starts_with("<tool_call>"));
        let p = parse_calls("<tool_call>[{\"name\": \"get_weather\", ", &t);
        assert!(p.calls.is_empty());
        let p = parse_calls("  plain answer \n", &t);
        assert_eq!(p.content.as_deref(), Some("plain answer"));
        let deep = format!("<tool_call>{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse_calls(&deep, &t).calls.is_empty());
        let many = format!(
            "<tool_call>[{}]</tool_call>",
            vec!["{\"name\": \"get_weather\", \"arguments\": {}}"; 100].join(",")
        );
        assert_eq!(parse_calls(&many, &t).calls.len(), MAX_CALLS);
    }

    #[test]
    fn tool_choice_forms() {
        let t = tools();
        assert_eq!(ToolMode::from_request(&t, None).unwrap(), ToolMode::Auto);
        assert_eq!(
            ToolMode::from_request(&t, Some(&"none".into())).unwrap(),
            ToolMode::Off
        );
        assert_eq!(ToolMode::from_request(&[], None).unwrap(), ToolMode::Off);
        let named = serde_json::json!({"type": "function", "function": {"name": "get_weather"}});
        assert_eq!(
            ToolMode::from_request(&t, Some(&named)).unwrap(),
            ToolMode::Named("get_weather".into())
        );
        let other = serde_json::json!({"type": "function", "function": {"name": "rm"}});
        assert!(ToolMode::from_request(&t, Some(&other)).is_err());
        assert!(ToolMode::from_request(&t, Some(&"sometimes".into())).is_err());
        assert!(ToolMode::from_request(&[], Some(&"required".into())).is_err());
        assert_eq!(
            ToolMode::from_request(&t, Some(&"required".into())).unwrap(),
            ToolMode::Named("get_weather".into())
        );
        let mut two = t.clone();
        two.push(ToolSpec {
            name: "get_time".into(),
            ..t[0].clone()
        });
        assert_eq!(
            ToolMode::from_request(&two, Some(&"required".into())).unwrap(),
            ToolMode::Required
        );
    }

    #[test]
    fn prepares_tool_turns() {
        let t = tools();
        let call = ToolCall {
            id: "c1".into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"Paris"}"#.into(),
        };
        let msgs = vec![
            Message::user("Weather in Paris?"),
            Message {
                role: Role::Assistant,
                content: None,
                tool_calls: vec![call],
                tool_call_id: None,
            },
            Message::tool_result("c1", "sunny"),
        ];
        let out = prepare(&msgs, &t, Some("Be kind."));
        assert_eq!(out.len(), 4);
        assert_eq!(out[0].role, Role::System);
        assert!(out[0].content_text().starts_with("Be kind.\n\n"));
        assert!(
            out[0]
                .content_text()
                .contains("<tools>[{\"name\": \"get_weather\"")
        );
        assert!(out[0].content_text().contains(
            "\"description\": \"Weather in a city. Arguments: city (string)\", \"parameters\": [\"city\"]}"
        ));
        assert_eq!(
            out[2].content_text(),
            "<tool_call>[\n{\"name\": \"get_weather\", \"arguments\": {\"city\":\"Paris\"}}\n]</tool_call>"
        );
        assert_eq!(out[3].role, Role::User);
        assert_eq!(
            out[3].content_text(),
            "<tool_response>\nsunny\n</tool_response>"
        );
        // Without tools, the system message is left to the chat format.
        assert_eq!(prepare(&msgs, &[], Some("x")).len(), 3);
    }

    #[test]
    fn safe_prefix_holds_back_possible_calls() {
        assert_eq!(safe_prefix("  Hello there  "), 2..13);
        assert_eq!(safe_prefix("Sure <tool_c"), 0..4);
        assert_eq!(safe_prefix("a < b"), 0..5);
        assert_eq!(safe_prefix("x <tool_call>[...] y"), 0..1);
        assert_eq!(safe_prefix(" {\"name\""), 1..1);
        assert_eq!(safe_prefix("   "), 3..3);
    }
}
