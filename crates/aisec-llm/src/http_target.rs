//! A chat target for applications that do not speak a model API: the user's JSON request
//! template with placeholders, extra headers (secrets read from the environment), and a small
//! JSON path to the reply text.
//!
//! Placeholders are replaced in the parsed JSON tree, inside string values only, and what
//! replaces them is never scanned again: a prompt holding quotes, braces or `{{system}}` arrives
//! verbatim and cannot leave its string.

use std::fmt;

use serde_json::Value;

use crate::error::{LlmError, Result};
use crate::http::Http;
use crate::key::ApiKey;
use crate::openai::ClientConfig;
use crate::target::ChatTarget;
use crate::types::{ChatRequest, ChatResponse, Choice, Message, Role};

/// Most segments of a reply path.
const MAX_PATH_SEGMENTS: usize = 32;
/// Most placeholders replaced in one template.
const MAX_PLACEHOLDERS: usize = 1024;

/// One segment of a [`JsonPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// A path to a value in a JSON reply: `$`, then `.name` (letters, digits, `_` and `-`) or
/// `[N]` segments, at most 32 of them, as in `$.choices[0].message.content`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    segments: Vec<Segment>,
}

impl JsonPath {
    /// Parses `text`; anything outside the subset is a [`LlmError::Config`].
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: &str| LlmError::Config(format!("reply path {text:?}: {why}"));
        let Some(mut rest) = text.strip_prefix('$') else {
            return Err(bad("it must start with `$`"));
        };
        let mut segments = Vec::new();
        while !rest.is_empty() {
            if segments.len() == MAX_PATH_SEGMENTS {
                return Err(bad("more than 32 segments"));
            }
            if let Some(r) = rest.strip_prefix('.') {
                let end = r
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                    .unwrap_or(r.len());
                if end == 0 {
                    return Err(bad("a `.` must be followed by a name"));
                }
                segments.push(Segment::Key(r[..end].to_owned()));
                rest = &r[end..];
            } else if let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']').ok_or_else(|| bad("a `[` is not closed"))?;
                let digits = &r[..end];
                if digits.is_empty()
                    || digits.len() > 9
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(bad("an index must be a number below 10^9"));
                }
                segments.push(Segment::Index(
                    digits.parse().map_err(|_| bad("bad index"))?,
                ));
                rest = &r[end + 1..];
            } else {
                return Err(bad("expected `.name` or `[N]`"));
            }
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    /// The value at the path, if there is one.
    #[must_use]
    pub fn find<'a>(&self, value: &'a Value) -> Option<&'a Value> {
        self.segments.iter().try_fold(value, |v, s| match s {
            Segment::Key(k) => v.get(k.as_str()),
            Segment::Index(i) => v.get(*i),
        })
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A header value: plain text, or text around a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    /// Sent as it is.
    Plain(String),
    /// `before`, the key, `after` (as in `Bearer ` + key).
    Secret {
        /// Text before the key.
        before: String,
        /// The key.
        key: ApiKey,
        /// Text after the key.
        after: String,
    },
}

impl HeaderValue {
    /// Reads a configured value: one `{{env:VAR}}` in it is replaced by the key in `VAR`
    /// (`"Bearer {{env:APP_KEY}}"`); a value without one is plain. Control characters are
    /// refused (they would forge headers).
    pub fn from_config(value: &str) -> Result<Self> {
        if value.chars().any(char::is_control) {
            return Err(LlmError::Config(
                "a header value holds a control character".into(),
            ));
        }
        let Some(start) = value.find("{{env:") else {
            return Ok(Self::Plain(value.to_owned()));
        };
        let rest = &value[start + 6..];
        let end = rest
            .find("}}")
            .ok_or_else(|| LlmError::Config("a `{{env:` in a header is not closed".into()))?;
        let var = &rest[..end];
        if var.is_empty() || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(LlmError::Config(format!(
                "{var:?} is not an environment variable name"
            )));
        }
        Ok(Self::Secret {
            before: value[..start].to_owned(),
            key: ApiKey::from_env(var)?,
            after: rest[end + 2..].to_owned(),
        })
    }

    fn expose(&self) -> String {
        match self {
            Self::Plain(v) => v.clone(),
            Self::Secret { before, key, after } => format!("{before}{}{after}", key.expose()),
        }
    }
}

/// What a generic HTTP target is.
#[derive(Debug, Clone)]
pub struct HttpTargetConfig {
    /// The name in reports.
    pub name: String,
    /// The full URL (in `client.base_url`) and the retry, timeout and size settings. Its
    /// `api_key`, when set, is sent as `Authorization: Bearer`.
    pub client: ClientConfig,
    /// The request body with placeholders: a string value may hold `{{prompt}}` (the last user
    /// message), `{{system}}` (the system messages, joined by blank lines) and `{{model}}`;
    /// a string value that is exactly `{{messages}}` becomes the conversation as an array of
    /// `{"role", "content"}` objects.
    pub template: Value,
    /// Extra headers.
    pub headers: Vec<(String, HeaderValue)>,
    /// Where the reply text is.
    pub reply_path: JsonPath,
}

/// A chat target that posts the filled template and reads the reply at a JSON path.
pub struct HttpTarget {
    name: String,
    http: Http,
    template: Value,
    headers: Vec<(String, HeaderValue)>,
    reply_path: JsonPath,
}

impl fmt::Debug for HttpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTarget")
            .field("name", &self.name)
            .field("endpoint", &self.http.endpoint)
            .field("headers", &self.headers)
            .field("reply_path", &self.reply_path)
            .finish_non_exhaustive()
    }
}

impl HttpTarget {
    /// Checks the config (URL, header names, the template's `{{messages}}` uses).
    pub fn new(config: HttpTargetConfig) -> Result<Self> {
        for (name, _) in &config.headers {
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(LlmError::Config(format!("{name:?} is not a header name")));
            }
        }
        // A dry run catches a misplaced `{{messages}}` before any request.
        fill(&config.template, &Fill::default(), &mut 0)?;
        let secrets = config
            .headers
            .iter()
            .filter_map(|(_, v)| match v {
                HeaderValue::Secret { key, .. } => Some(key.clone()),
                HeaderValue::Plain(_) => None,
            })
            .collect();
        let endpoint = config.client.base_url.clone();
        Ok(Self {
            name: config.name,
            http: Http::new(config.client, endpoint, secrets)?,
            template: config.template,
            headers: config.headers,
            reply_path: config.reply_path,
        })
    }

    /// The body that `request` turns into.
    pub fn body(&self, request: &ChatRequest) -> Result<Value> {
        let join = |role: Role, sep: &str| {
            request
                .messages
                .iter()
                .filter(|m| m.role == role)
                .map(Message::content_text)
                .collect::<Vec<_>>()
                .join(sep)
        };
        let prompt = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content_text().to_owned())
            .unwrap_or_default();
        let messages = Value::Array(
            request
                .messages
                .iter()
                .map(|m| {
                    serde_json::json!({
                        "role": serde_json::to_value(m.role).unwrap_or(Value::Null),
                        "content": m.content_text(),
                    })
                })
                .collect(),
        );
        let values = Fill {
            prompt,
            system: join(Role::System, "\n\n"),
            model: request.model.clone(),
            messages,
        };
        fill(&self.template, &values, &mut 0)
    }
}

impl ChatTarget for HttpTarget {
    fn name(&self) -> &str {
        &self.name
    }

    fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
        let body = serde_json::to_vec(&self.body(request)?)
            .map_err(|e| LlmError::Config(format!("cannot write the request: {e}")))?;
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.expose()))
            .collect();
        if let Some(key) = &self.http.config.api_key {
            headers.push(("authorization".into(), format!("Bearer {}", key.expose())));
        }
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let bytes = self.http.post_json(&body, &headers)?;
        let reply: Value = serde_json::from_slice(&bytes)
            .map_err(|e| self.http.malformed(format!("the reply is not JSON: {e}")))?;
        let text = match self.reply_path.find(&reply) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(self.http.malformed(format!(
                    "the reply path {} holds {}, not text",
                    self.reply_path,
                    kind(other)
                )));
            }
            None => {
                return Err(self
                    .http
                    .malformed(format!("the reply has nothing at {}", self.reply_path)));
            }
        };
        Ok(ChatResponse {
            id: String::new(),
            model: request.model.clone(),
            choices: vec![Choice {
                index: 0,
                message: Message::assistant(text),
                finish_reason: Some("stop".into()),
            }],
            usage: None,
        })
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[derive(Default)]
struct Fill {
    prompt: String,
    system: String,
    model: String,
    messages: Value,
}

/// Copies `template`, replacing placeholders in string values in one left-to-right pass.
fn fill(template: &Value, values: &Fill, count: &mut usize) -> Result<Value> {
    Ok(match template {
        Value::String(s) if s == "{{messages}}" => {
            *count += 1;
            values.messages.clone()
        }
        Value::String(s) => Value::String(fill_text(s, values, count)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| fill(v, values, count))
                .collect::<Result<_>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), fill(v, values, count)?)))
                .collect::<Result<_>>()?,
        ),
        other => other.clone(),
    })
}

fn fill_text(s: &str, values: &Fill, count: &mut usize) -> Result<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let (name, value) = [
            ("{{prompt}}", values.prompt.as_str()),
            ("{{system}}", values.system.as_str()),
            ("{{model}}", values.model.as_str()),
        ]
        .into_iter()
        .find(|(name, _)| after.starts_with(name))
        .map_or(("{{", None), |(n, v)| (n, Some(v)));
        if after.starts_with("{{messages}}") {
            return Err(LlmError::Config(
                "`{{messages}}` must be a whole string value of the template".into(),
            ));
        }
        match value {
            Some(v) => {
                *count += 1;
                if *count > MAX_PLACEHOLDERS {
                    return Err(LlmError::Config(format!(
                        "the template holds more than {MAX_PLACEHOLDERS} placeholders"
                    )));
                }
                out.push_str(v);
            }
            None => out.push_str(name),
        }
        rest = &after[name.len()..];
    }
    out.push_str(rest);
    Ok(out)
}
