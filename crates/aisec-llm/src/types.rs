//! The chat types: what a conversation, its tools and a model's answer are. Serialised in the
//! OpenAI chat-completions wire format, which most servers (and our own) speak.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions from the application (the system prompt).
    System,
    /// The end user (or the attacker).
    User,
    /// The model.
    Assistant,
    /// The result of a tool the model called.
    Tool,
}

/// A function call the model asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "WireToolCall", from = "WireToolCall")]
pub struct ToolCall {
    /// The call's id; a tool result answers it through [`Message::tool_call_id`].
    pub id: String,
    /// The function's name.
    pub name: String,
    /// The arguments as the model wrote them: a JSON string, not checked against the schema
    /// (the model may write anything here).
    pub arguments: String,
}

/// The name and argument string of a call, as the wire nests them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FunctionCall {
    /// The function's name.
    #[serde(default)]
    pub name: String,
    /// The arguments, a JSON string.
    #[serde(default)]
    pub arguments: String,
}

#[derive(Serialize, Deserialize)]
struct WireToolCall {
    #[serde(default)]
    id: String,
    #[serde(rename = "type", default = "function_kind")]
    kind: String,
    #[serde(default)]
    function: FunctionCall,
}

fn function_kind() -> String {
    "function".to_owned()
}

impl From<ToolCall> for WireToolCall {
    fn from(c: ToolCall) -> Self {
        Self {
            id: c.id,
            kind: function_kind(),
            function: FunctionCall {
                name: c.name,
                arguments: c.arguments,
            },
        }
    }
}

impl From<WireToolCall> for ToolCall {
    fn from(w: WireToolCall) -> Self {
        Self {
            id: w.id,
            name: w.function.name,
            arguments: w.function.arguments,
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The author.
    pub role: Role,
    /// The text (None for an assistant turn that only calls tools).
    #[serde(default)]
    pub content: Option<String>,
    /// Tool calls the model made in this turn.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub tool_calls: Vec<ToolCall>,
    /// For a [`Role::Tool`] message: the id of the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

fn null_as_empty<'de, D, T>(d: D) -> std::result::Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

impl Message {
    fn text(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: Some(content.into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// A system message.
    #[must_use]
    pub fn system(content: impl Into<String>) -> Self {
        Self::text(Role::System, content)
    }

    /// A user message.
    #[must_use]
    pub fn user(content: impl Into<String>) -> Self {
        Self::text(Role::User, content)
    }

    /// An assistant message with text only.
    #[must_use]
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::text(Role::Assistant, content)
    }

    /// The result of the tool call `call_id`.
    #[must_use]
    pub fn tool_result(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            tool_call_id: Some(call_id.into()),
            ..Self::text(Role::Tool, content)
        }
    }

    /// The text, or "" when there is none.
    #[must_use]
    pub fn content_text(&self) -> &str {
        self.content.as_deref().unwrap_or("")
    }
}

/// A function the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "WireTool", try_from = "WireTool")]
pub struct ToolSpec {
    /// The function's name.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// The JSON schema of its arguments (an object schema).
    pub parameters: Value,
}

#[derive(Serialize, Deserialize)]
struct WireTool {
    #[serde(rename = "type")]
    kind: String,
    function: WireFunction,
}

#[derive(Serialize, Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default = "empty_object")]
    parameters: Value,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

impl From<ToolSpec> for WireTool {
    fn from(t: ToolSpec) -> Self {
        Self {
            kind: function_kind(),
            function: WireFunction {
                name: t.name,
                description: t.description,
                parameters: t.parameters,
            },
        }
    }
}

impl TryFrom<WireTool> for ToolSpec {
    type Error = String;
    fn try_from(w: WireTool) -> std::result::Result<Self, String> {
        if w.kind != "function" {
            return Err(format!("tool type {:?} is not \"function\"", w.kind));
        }
        Ok(Self {
            name: w.function.name,
            description: w.function.description,
            parameters: w.function.parameters,
        })
    }
}

/// A chat-completions request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The model's name on the server.
    pub model: String,
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// Functions the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSpec>,
    /// Whether and which tools the model must call, as the wire writes it: `"none"`, `"auto"`,
    /// `"required"`, or `{"type": "function", "function": {"name": ...}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Most tokens to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling seed, for servers that honour it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// How many answers to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
}

impl ChatRequest {
    /// A request for `model` with `messages` and no options.
    #[must_use]
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        Self {
            model: model.into(),
            messages,
            tools: Vec::new(),
            tool_choice: None,
            temperature: None,
            max_tokens: None,
            seed: None,
            n: None,
        }
    }
}

/// Token counts the server reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Tokens generated.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Their sum, as the server counts it.
    #[serde(default)]
    pub total_tokens: u64,
}

/// One answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// Its position among the request's `n` answers.
    #[serde(default)]
    pub index: u32,
    /// The model's message.
    pub message: Message,
    /// Why generation stopped (`stop`, `length`, `tool_calls`, `content_filter`, ...).
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// A chat-completions response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The server's id for the completion.
    #[serde(default)]
    pub id: String,
    /// The model that answered, as the server names it.
    #[serde(default)]
    pub model: String,
    /// The answers.
    pub choices: Vec<Choice>,
    /// Token counts, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

impl ChatResponse {
    /// The first answer's text, or "" when there is none.
    #[must_use]
    pub fn text(&self) -> &str {
        self.choices
            .first()
            .map_or("", |c| c.message.content_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_round_trip() {
        let mut req = ChatRequest::new("m", vec![Message::system("s"), Message::user("u")]);
        req.tools.push(ToolSpec {
            name: "delete_file".into(),
            description: "Deletes a file".into(),
            parameters: serde_json::json!({"type": "object", "properties": {"path": {"type": "string"}}}),
        });
        req.seed = Some(7);
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(v["tools"][0]["type"], "function");
        assert_eq!(v["tools"][0]["function"]["name"], "delete_file");
        assert_eq!(v["messages"][1]["role"], "user");
        assert!(v.get("temperature").is_none());
        let back: ChatRequest = serde_json::from_value(v).unwrap();
        assert_eq!(back, req);

        let m: Message = serde_json::from_str(
            r#"{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]}"#,
        )
        .unwrap();
        assert_eq!(m.tool_calls[0].name, "f");
        assert_eq!(m.tool_calls[0].arguments, r#"{"a":1}"#);
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["tool_calls"][0]["function"]["arguments"], r#"{"a":1}"#);
        let t = Message::tool_result("c1", "done");
        assert_eq!(serde_json::to_value(&t).unwrap()["tool_call_id"], "c1");
    }
}
