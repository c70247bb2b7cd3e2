//! A classifier behind HTTP: the black-box face only.
//!
//! Two protocols. [`Protocol::Json`] fits most bespoke APIs: the user gives a request body in
//! which one string value is exactly `"{{inputs}}"`; the template is parsed as JSON and that value
//! is replaced by the inputs (never by text substitution), and a JSON Pointer (RFC 6901) says where
//! the outputs are in the response. [`Protocol::Kserve`] speaks the KServe v2 / Open Inference
//! Protocol (`POST {base}/v2/models/{name}/infer`), which Triton, KServe, Seldon MLServer and
//! TorchServe's v2 endpoint all serve.
//!
//! Every request is bounded: rows per request, a query budget counted in rows, a minimum interval
//! between requests, bounded retries with backoff on 429/5xx and connection errors, a cap on the
//! response body, and strict checks of what comes back (count, finiteness, range).

use std::fmt;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{MlError, Result};
use crate::model::{Classifier, ModelInfo, Queries, QueryCounter};
use crate::ops;

/// The placeholder a JSON request template holds where the inputs go.
pub const PLACEHOLDER: &str = "{{inputs}}";

/// Largest remote config file read.
const MAX_CONFIG_FILE: u64 = 1 << 20;
/// Most elements in one sample.
const MAX_SAMPLE: usize = 1 << 24;
/// Most classes.
const MAX_CLASSES: usize = 100_000;
/// Most rows in one request.
const MAX_BATCH: usize = 1 << 16;
/// Most retries of one request.
const MAX_RETRIES: u32 = 10;
/// Most header lines.
const MAX_HEADERS: usize = 64;
/// Characters of a server's error body quoted in an error.
const EXCERPT: usize = 200;

/// A value that must never be printed (an API key). `Debug` and `Display` redact it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that sends it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Everything that can go wrong talking to a remote model.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The configuration is invalid.
    #[error("remote config: {0}")]
    Config(String),
    /// A header's value comes from an environment variable that is not set.
    #[error("environment variable {var} (value of header {header}) is not set or not UTF-8")]
    MissingEnv {
        /// The variable.
        var: String,
        /// The header it fills.
        header: String,
    },
    /// The server could not be reached (after every retry).
    #[error("{url}: {message} (after {attempts} attempt(s))")]
    Transport {
        /// The endpoint.
        url: String,
        /// Tries made.
        attempts: u32,
        /// What failed.
        message: String,
    },
    /// The server answered with an error status (after every retry, for retryable ones).
    #[error("{url}: HTTP {status} (after {attempts} attempt(s)): {excerpt}")]
    Status {
        /// The endpoint.
        url: String,
        /// The status code.
        status: u16,
        /// Tries made.
        attempts: u32,
        /// The start of the response body, control characters removed.
        excerpt: String,
    },
    /// The response body is larger than the configured cap.
    #[error("{url}: the response is larger than {limit} bytes")]
    TooLarge {
        /// The endpoint.
        url: String,
        /// The cap.
        limit: u64,
    },
    /// The response is not JSON (or nests too deep).
    #[error("{url}: the response is not valid JSON: {message}")]
    Json {
        /// The endpoint.
        url: String,
        /// What the parser said.
        message: String,
    },
    /// The response does not hold the outputs where the config says.
    #[error("the response has no outputs at {0}")]
    OutputMissing(String),
    /// The outputs are not what a classifier of this shape returns.
    #[error("bad outputs: {0}")]
    Output(String),
    /// The number of output values does not match the rows and classes.
    #[error("the response holds {got} output values; {rows} rows x {per_row} were expected")]
    OutputCount {
        /// Values found.
        got: usize,
        /// Rows sent.
        rows: usize,
        /// Values expected per row.
        per_row: usize,
    },
    /// The model's metadata contradicts the config.
    #[error("model metadata: {0}")]
    Metadata(String),
}

/// How inputs go into the JSON template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// One request per chunk of rows; the placeholder becomes a list of samples, each a nested
    /// array in the sample shape.
    #[default]
    Batch,
    /// One request per row; the placeholder becomes one sample (a nested array in its shape).
    PerRow,
}

/// What the outputs are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    /// Class probabilities (or scores), used as they come.
    #[default]
    Probabilities,
    /// Logits; softmax is applied.
    Logits,
    /// Predicted labels only (class indices, or class names when `class_names` is set): one-hot
    /// encoded, and the target is decision-only.
    Labels,
}

/// The wire protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Protocol {
    /// A JSON request template and a JSON Pointer to the outputs; `url` is the endpoint.
    Json {
        /// The request body: a JSON document with exactly one string value `"{{inputs}}"`.
        request: Value,
        /// How the inputs are laid out.
        #[serde(default)]
        layout: Layout,
        /// RFC 6901 pointer to the outputs in the response (`""` is the whole document).
        outputs: String,
        /// What the outputs are.
        #[serde(default)]
        output_kind: OutputKind,
    },
    /// KServe v2 / Open Inference Protocol; `url` is the server's base URL.
    Kserve {
        /// The model's name on the server.
        model: String,
        /// The model version, if the server needs one.
        #[serde(default)]
        version: Option<String>,
        /// The input tensor's name (default: the metadata's first input, else `input-0`).
        #[serde(default)]
        input_name: Option<String>,
        /// The output tensor to read (default: the first).
        #[serde(default)]
        output_name: Option<String>,
        /// What the output tensor holds.
        #[serde(default)]
        output_kind: OutputKind,
    },
}

/// One request header. The value is a literal or read from an environment variable, and is kept
/// as a [`Secret`] either way; `Debug` redacts a literal value.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderSpec {
    /// Header name (`Authorization`, `x-api-key`).
    pub name: String,
    /// A literal value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The environment variable holding the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// Put before the variable's value (`"Bearer "`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

impl fmt::Debug for HeaderSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeaderSpec")
            .field("name", &self.name)
            .field("value", &self.value.as_ref().map(|_| "[redacted]"))
            .field("env", &self.env)
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// A remote target's configuration, as read from a TOML or JSON file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteConfig {
    /// The endpoint (JSON protocol) or base URL (KServe); `http://` or `https://`. A URL given
    /// on the command line replaces it.
    #[serde(default)]
    pub url: Option<String>,
    /// The wire protocol.
    pub protocol: Protocol,
    /// The shape of one sample (KServe: may come from the server's metadata).
    #[serde(default)]
    pub input_shape: Option<Vec<usize>>,
    /// Number of classes.
    pub num_classes: usize,
    /// The valid input range.
    #[serde(default = "unit_range")]
    pub input_range: [f32; 2],
    /// Class names (also maps string labels back to classes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_names: Option<Vec<String>>,
    /// Extra request headers.
    #[serde(default)]
    pub headers: Vec<HeaderSpec>,
    /// Time limit of one request, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: f64,
    /// Most rows in one request.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// Most rows to send in all (None: no limit).
    #[serde(default)]
    pub budget: Option<u64>,
    /// Most requests per second (None: no limit).
    #[serde(default)]
    pub rate_limit: Option<f64>,
    /// Retries of a request after a 429, a 5xx or a connection error.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// First backoff in milliseconds; it doubles per retry.
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
    /// Longest backoff (also caps a server's Retry-After), in milliseconds.
    #[serde(default = "default_max_backoff")]
    pub max_backoff_ms: u64,
    /// Largest response body read, in bytes.
    #[serde(default = "default_max_response")]
    pub max_response_bytes: u64,
}

fn unit_range() -> [f32; 2] {
    [0.0, 1.0]
}
fn default_timeout() -> f64 {
    30.0
}
fn default_max_batch() -> usize {
    64
}
fn default_retries() -> u32 {
    3
}
fn default_backoff() -> u64 {
    250
}
fn default_max_backoff() -> u64 {
    10_000
}
fn default_max_response() -> u64 {
    16 << 20
}

impl RemoteConfig {
    /// A config with the defaults for everything but the protocol and the classes.
    #[must_use]
    pub fn new(url: impl Into<String>, protocol: Protocol, num_classes: usize) -> Self {
        Self {
            url: Some(url.into()),
            protocol,
            input_shape: None,
            num_classes,
            input_range: unit_range(),
            class_names: None,
            headers: Vec::new(),
            timeout_secs: default_timeout(),
            max_batch: default_max_batch(),
            budget: None,
            rate_limit: None,
            retries: default_retries(),
            backoff_ms: default_backoff(),
            max_backoff_ms: default_max_backoff(),
            max_response_bytes: default_max_response(),
        }
    }

    /// Reads a config file: TOML when the name ends in `.toml`, JSON otherwise (at most 1 MiB).
    pub fn load(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| MlError::io(path, e))?;
        if meta.len() > MAX_CONFIG_FILE {
            return Err(RemoteError::Config(format!(
                "{} is {} bytes; the limit is {MAX_CONFIG_FILE}",
                path.display(),
                meta.len()
            ))
            .into());
        }
        let bytes = std::fs::read(path).map_err(|e| MlError::io(path, e))?;
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
        {
            let text = std::str::from_utf8(&bytes).map_err(|e| {
                RemoteError::Config(format!("{} is not UTF-8: {e}", path.display()))
            })?;
            toml::from_str(text).map_err(|e| {
                RemoteError::Config(format!("{}: {}", path.display(), e.message())).into()
            })
        } else {
            serde_json::from_slice(&bytes).map_err(|source| MlError::Json {
                path: path.to_path_buf(),
                source,
            })
        }
    }

    fn check(&self) -> std::result::Result<(), RemoteError> {
        let bad = |m: String| Err(RemoteError::Config(m));
        if !(2..=MAX_CLASSES).contains(&self.num_classes) {
            return bad(format!(
                "num_classes {} is outside 2..={MAX_CLASSES}",
                self.num_classes
            ));
        }
        if let Some(shape) = &self.input_shape {
            check_shape(shape)?;
        }
        let [lo, hi] = self.input_range;
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return bad(format!("input_range [{lo}, {hi}] is not an interval"));
        }
        if let Some(names) = &self.class_names
            && names.len() != self.num_classes
        {
            return bad(format!(
                "{} class names for {} classes",
                names.len(),
                self.num_classes
            ));
        }
        if !(self.timeout_secs.is_finite()
            && self.timeout_secs > 0.0
            && self.timeout_secs <= 3600.0)
        {
            return bad(format!(
                "timeout_secs {} is outside (0, 3600]",
                self.timeout_secs
            ));
        }
        if !(1..=MAX_BATCH).contains(&self.max_batch) {
            return bad(format!(
                "max_batch {} is outside 1..={MAX_BATCH}",
                self.max_batch
            ));
        }
        if let Some(rate) = self.rate_limit
            && !(rate.is_finite() && rate > 0.0)
        {
            return bad(format!("rate_limit {rate} must be a positive number"));
        }
        if self.retries > MAX_RETRIES {
            return bad(format!("retries {} is above {MAX_RETRIES}", self.retries));
        }
        if self.max_backoff_ms > 600_000 || self.backoff_ms > self.max_backoff_ms {
            return bad("backoff_ms must be at most max_backoff_ms, itself at most 600000".into());
        }
        if self.max_response_bytes == 0 || self.max_response_bytes > 1 << 30 {
            return bad(format!(
                "max_response_bytes {} is outside 1..=1 GiB",
                self.max_response_bytes
            ));
        }
        if self.headers.len() > MAX_HEADERS {
            return bad(format!("more than {MAX_HEADERS} headers"));
        }
        match &self.protocol {
            Protocol::Json {
                request, outputs, ..
            } => {
                let mut count = 0;
                count_placeholders(request, &mut count);
                if count != 1 {
                    return bad(format!(
                        "the request template holds {count} values equal to \"{PLACEHOLDER}\"; exactly one is needed"
                    ));
                }
                if !(outputs.is_empty() || outputs.starts_with('/')) {
                    return bad(format!(
                        "outputs {outputs:?} is not a JSON Pointer (it must be empty or start with '/')"
                    ));
                }
                if self.input_shape.is_none() {
                    return bad("input_shape is required for the json protocol".into());
                }
            }
            Protocol::Kserve { model, version, .. } => {
                for (what, s) in [("model", Some(model)), ("version", version.as_ref())] {
                    if let Some(s) = s
                        && (s.is_empty()
                            || !s
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
                    {
                        return bad(format!(
                            "{what} {s:?} must be letters, digits, '-', '_' or '.'"
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

fn check_shape(shape: &[usize]) -> std::result::Result<(), RemoteError> {
    let elems = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if shape.is_empty()
        || shape.len() > 4
        || shape.contains(&0)
        || elems.is_none_or(|e| e > MAX_SAMPLE)
    {
        return Err(RemoteError::Config(format!(
            "input_shape {shape:?} must have 1 to 4 positive dimensions and at most {MAX_SAMPLE} elements"
        )));
    }
    Ok(())
}

fn count_placeholders(v: &Value, count: &mut usize) {
    match v {
        Value::String(s) if s == PLACEHOLDER => *count += 1,
        Value::Array(items) => items.iter().for_each(|i| count_placeholders(i, count)),
        Value::Object(map) => map.values().for_each(|i| count_placeholders(i, count)),
        _ => {}
    }
}

/// Replaces the one placeholder in `template` by `inputs` (structurally).
fn substitute(template: &Value, inputs: Value) -> Value {
    fn walk(v: &mut Value, inputs: &mut Option<Value>) {
        match v {
            Value::String(s) if s == PLACEHOLDER => {
                if let Some(i) = inputs.take() {
                    *v = i;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, inputs)),
            Value::Object(map) => map.values_mut().for_each(|i| walk(i, inputs)),
            _ => {}
        }
    }
    let mut out = template.clone();
    walk(&mut out, &mut Some(inputs));
    out
}

/// An f32 as a JSON number written with its shortest round-trip digits.
fn number(v: f32) -> Value {
    // f32's Display is the shortest decimal that reads back as the same f32; the f64 nearest to
    // that decimal prints as the same digits.
    let short: f64 = v.to_string().parse().unwrap_or(f64::from(v));
    serde_json::Number::from_f64(short).map_or(Value::Null, Value::Number)
}

/// `data` (row-major, `shape`) as nested JSON arrays.
fn nested(data: &[f32], shape: &[usize]) -> Value {
    match shape {
        [] | [_] => Value::Array(data.iter().map(|&v| number(v)).collect()),
        [_, rest @ ..] => {
            let stride: usize = rest.iter().product();
            Value::Array(data.chunks(stride).map(|c| nested(c, rest)).collect())
        }
    }
}

/// The numeric leaves of `v`, depth-first (the depth is bounded by the JSON parser).
fn flatten_numbers(
    v: &Value,
    out: &mut Vec<f64>,
    limit: usize,
) -> std::result::Result<(), RemoteError> {
    match v {
        Value::Number(n) => {
            if out.len() >= limit {
                return Err(RemoteError::Output(format!("more than {limit} values")));
            }
            let x = n
                .as_f64()
                .ok_or_else(|| RemoteError::Output(format!("{n} is not a number we can read")))?;
            out.push(x);
        }
        Value::Array(items) => {
            for i in items {
                flatten_numbers(i, out, limit)?;
            }
        }
        other => {
            return Err(RemoteError::Output(format!(
                "expected numbers, found {}",
                kind_of(other)
            )));
        }
    }
    Ok(())
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Spaces requests at least `interval` apart (start to start).
#[derive(Debug)]
struct RateLimiter {
    interval: Option<Duration>,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    fn wait(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let start = match *next {
            Some(t) if t > now => {
                std::thread::sleep(t - now);
                t
            }
            _ => now,
        };
        *next = Some(start + interval);
    }
}

/// A classifier behind HTTP.
pub struct RemoteModel {
    config: RemoteConfig,
    url: String,
    endpoint: String,
    headers: Vec<(String, Secret)>,
    info: ModelInfo,
    input_name: String,
    counter: QueryCounter,
    agent: ureq::Agent,
    limiter: RateLimiter,
}

impl fmt::Debug for RemoteModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteModel")
            .field("endpoint", &self.endpoint)
            .field("headers", &self.headers)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// The outcome of one HTTP exchange: a status, a capped body, and the Retry-After seconds.
struct Reply {
    status: u16,
    body: Vec<u8>,
    retry_after: Option<u64>,
    attempts: u32,
}

impl RemoteModel {
    /// Connects to a remote model: checks the config, resolves the header values, and for KServe
    /// reads the model's metadata (when the server offers it) to check or learn the input shape.
    pub fn connect(config: RemoteConfig) -> Result<Self> {
        config.check()?;
        let url = config
            .url
            .clone()
            .ok_or_else(|| RemoteError::Config("no url".into()))?;
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err(
                RemoteError::Config(format!("url {url:?} is not http:// or https://")).into(),
            );
        }
        let mut headers = Vec::with_capacity(config.headers.len());
        for h in &config.headers {
            if h.name.is_empty()
                || !h
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
            {
                return Err(RemoteError::Config(format!("bad header name {:?}", h.name)).into());
            }
            let value = match (&h.value, &h.env) {
                (Some(v), None) => v.clone(),
                (None, Some(var)) => {
                    let v = std::env::var(var).map_err(|_| RemoteError::MissingEnv {
                        var: var.clone(),
                        header: h.name.clone(),
                    })?;
                    format!("{}{v}", h.prefix.as_deref().unwrap_or(""))
                }
                _ => {
                    return Err(RemoteError::Config(format!(
                        "header {}: give exactly one of value and env",
                        h.name
                    ))
                    .into());
                }
            };
            if value.bytes().any(|b| b == b'\r' || b == b'\n') {
                return Err(RemoteError::Config(format!(
                    "header {}: the value holds a line break",
                    h.name
                ))
                .into());
            }
            headers.push((h.name.clone(), Secret(value)));
        }
        let base = url.trim_end_matches('/').to_owned();
        let (endpoint, input_name) = match &config.protocol {
            Protocol::Json { .. } => (url.clone(), String::new()),
            Protocol::Kserve {
                model,
                version,
                input_name,
                ..
            } => {
                let mut path = format!("{base}/v2/models/{model}");
                if let Some(v) = version {
                    path.push_str("/versions/");
                    path.push_str(v);
                }
                (
                    format!("{path}/infer"),
                    input_name.clone().unwrap_or_default(),
                )
            }
        };
        let mut builder = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs_f64(config.timeout_secs)))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("aisec/", env!("CARGO_PKG_VERSION")));
        if is_loopback(&url) {
            // A loopback target is never reached through a proxy.
            builder = builder.proxy(None);
        }
        let agent: ureq::Agent = builder.build().into();
        let interval = config.rate_limit.map(|r| Duration::from_secs_f64(1.0 / r));
        let info = ModelInfo {
            name: url.clone(),
            input_shape: config.input_shape.clone().unwrap_or_default(),
            num_classes: config.num_classes,
            input_range: config.input_range,
            class_names: config.class_names.clone(),
        };
        let mut model = Self {
            counter: QueryCounter::with_budget(config.budget),
            url: base,
            endpoint,
            headers,
            info,
            input_name,
            agent,
            limiter: RateLimiter {
                interval,
                next: Mutex::new(None),
            },
            config,
        };
        if matches!(model.config.protocol, Protocol::Kserve { .. }) {
            model.read_metadata()?;
        }
        Ok(model)
    }

    /// The config in use.
    #[must_use]
    pub fn config(&self) -> &RemoteConfig {
        &self.config
    }

    fn output_kind(&self) -> OutputKind {
        match &self.config.protocol {
            Protocol::Json { output_kind, .. } | Protocol::Kserve { output_kind, .. } => {
                *output_kind
            }
        }
    }

    /// GET `{base}/v2/models/{name}`: checks (or learns) the input's name, shape and datatype.
    fn read_metadata(&mut self) -> Result<()> {
        let Protocol::Kserve { model, version, .. } = &self.config.protocol else {
            return Ok(());
        };
        let mut url = format!("{}/v2/models/{model}", self.url);
        if let Some(v) = version {
            url.push_str("/versions/");
            url.push_str(v);
        }
        let meta = match self.exchange(&url, None) {
            Ok(reply) if reply.status == 200 => serde_json::from_slice::<Value>(&reply.body).ok(),
            // The metadata endpoint is optional in practice; the first inference will tell.
            Ok(_) => None,
            Err(e) => return Err(e),
        };
        let input = meta.as_ref().and_then(|m| {
            let inputs = m.get("inputs")?.as_array()?;
            if self.input_name.is_empty() {
                inputs.first()
            } else {
                inputs
                    .iter()
                    .find(|i| i.get("name").and_then(Value::as_str) == Some(&self.input_name))
            }
        });
        if let Some(input) = input {
            if self.input_name.is_empty()
                && let Some(name) = input.get("name").and_then(Value::as_str)
            {
                self.input_name = name.chars().take(256).collect();
            }
            if let Some(dt) = input.get("datatype").and_then(Value::as_str)
                && dt != "FP32"
            {
                return Err(RemoteError::Metadata(format!(
                    "input {} has datatype {dt}; only FP32 is sent",
                    self.input_name
                ))
                .into());
            }
            if let Some(shape) = input.get("shape").and_then(Value::as_array) {
                let dims: Vec<i64> = shape.iter().filter_map(Value::as_i64).collect();
                if dims.len() != shape.len() || dims.is_empty() {
                    return Err(RemoteError::Metadata(format!(
                        "input {} has shape {shape:?}",
                        self.input_name
                    ))
                    .into());
                }
                let sample = &dims[1..];
                match &self.config.input_shape {
                    Some(want) => {
                        let fits = sample.len() == want.len()
                            && sample
                                .iter()
                                .zip(want)
                                .all(|(&d, &w)| d < 0 || d as usize == w);
                        if !fits {
                            return Err(RemoteError::Metadata(format!(
                                "the server's input {} has shape {dims:?}; the config says [N, {}]",
                                self.input_name,
                                want.iter()
                                    .map(ToString::to_string)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ))
                            .into());
                        }
                    }
                    None => {
                        if sample.iter().any(|&d| d <= 0) {
                            return Err(RemoteError::Metadata(format!(
                                "the server's input shape {dims:?} has variable sample dimensions; set input_shape"
                            ))
                            .into());
                        }
                        let learned: Vec<usize> = sample.iter().map(|&d| d as usize).collect();
                        check_shape(&learned)?;
                        self.config.input_shape = Some(learned.clone());
                        self.info.input_shape = learned;
                    }
                }
            }
        }
        if self.input_name.is_empty() {
            "input-0".clone_into(&mut self.input_name);
        }
        if self.config.input_shape.is_none() {
            return Err(RemoteError::Config(
                "the server gives no input shape in its metadata; set input_shape".into(),
            )
            .into());
        }
        Ok(())
    }

    /// One HTTP exchange with retries: POST `body` (or GET when `None`). Returns the final reply,
    /// whatever its status; transport errors become [`RemoteError::Transport`] after the retries.
    fn exchange(&self, url: &str, body: Option<&[u8]>) -> Result<Reply> {
        let attempts = self.config.retries + 1;
        let mut last_error = String::new();
        let mut delay = None;
        for attempt in 1..=attempts {
            if let Some(d) = delay.take() {
                std::thread::sleep(d);
            }
            self.limiter.wait();
            match self.send_once(url, body) {
                Ok(mut reply) => {
                    reply.attempts = attempt;
                    let retryable = reply.status == 429 || (500..600).contains(&reply.status);
                    if !retryable || attempt == attempts {
                        return Ok(reply);
                    }
                    delay = Some(self.backoff(attempt, reply.retry_after));
                }
                Err(SendError::Fatal(e)) => return Err(e),
                Err(SendError::Retry(message)) => {
                    last_error = message;
                    delay = Some(self.backoff(attempt, None));
                }
            }
        }
        Err(RemoteError::Transport {
            url: url.to_owned(),
            attempts,
            message: last_error,
        }
        .into())
    }

    fn backoff(&self, attempt: u32, retry_after: Option<u64>) -> Duration {
        let cap = self.config.max_backoff_ms;
        let ms = match retry_after {
            Some(secs) => secs.saturating_mul(1000).min(cap),
            None => self
                .config
                .backoff_ms
                .saturating_mul(1u64 << (attempt - 1).min(20))
                .min(cap),
        };
        Duration::from_millis(ms)
    }

    fn send_once(&self, url: &str, body: Option<&[u8]>) -> std::result::Result<Reply, SendError> {
        let result = match body {
            Some(bytes) => {
                let mut req = self
                    .agent
                    .post(url)
                    .header("content-type", "application/json")
                    .header("accept", "application/json");
                for (name, value) in &self.headers {
                    req = req.header(name.as_str(), value.expose());
                }
                req.send(bytes)
            }
            None => {
                let mut req = self.agent.get(url).header("accept", "application/json");
                for (name, value) in &self.headers {
                    req = req.header(name.as_str(), value.expose());
                }
                req.call()
            }
        };
        let response = result.map_err(|e| classify(url, e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let limit = self.config.max_response_bytes;
        let body = response
            .into_body()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => SendError::Fatal(
                    RemoteError::TooLarge {
                        url: url.to_owned(),
                        limit,
                    }
                    .into(),
                ),
                other => classify(url, other),
            })?;
        Ok(Reply {
            status,
            body,
            retry_after,
            attempts: 1,
        })
    }

    /// Sends one chunk of rows and returns its `rows * K` values as f32, checked.
    fn infer_chunk(&self, data: &[f32], rows: usize) -> Result<Vec<f32>> {
        let shape = &self.info.input_shape;
        let body = match &self.config.protocol {
            Protocol::Json {
                request, layout, ..
            } => {
                let inputs = match layout {
                    Layout::Batch => {
                        let mut full = vec![rows];
                        full.extend(shape);
                        nested(data, &full)
                    }
                    Layout::PerRow => nested(data, shape),
                };
                substitute(request, inputs)
            }
            Protocol::Kserve { .. } => {
                let mut full = vec![rows];
                full.extend(shape);
                serde_json::json!({
                    "inputs": [{
                        "name": self.input_name,
                        "shape": full,
                        "datatype": "FP32",
                        "data": data.iter().map(|&v| number(v)).collect::<Vec<_>>(),
                    }]
                })
            }
        };
        let bytes = serde_json::to_vec(&body)
            .map_err(|e| RemoteError::Config(format!("cannot write the request: {e}")))?;
        let reply = self.exchange(&self.endpoint, Some(&bytes))?;
        if !(200..300).contains(&reply.status) {
            return Err(RemoteError::Status {
                url: self.endpoint.clone(),
                status: reply.status,
                attempts: reply.attempts,
                excerpt: excerpt(&reply.body),
            }
            .into());
        }
        let doc: Value = serde_json::from_slice(&reply.body).map_err(|e| RemoteError::Json {
            url: self.endpoint.clone(),
            message: e.to_string(),
        })?;
        self.read_outputs(&doc, rows)
    }

    /// Finds the outputs in a response and turns them into `rows * K` probabilities.
    fn read_outputs(&self, doc: &Value, rows: usize) -> Result<Vec<f32>> {
        let k = self.info.num_classes;
        let kind = self.output_kind();
        let per_row = if kind == OutputKind::Labels { 1 } else { k };
        let expected = rows * per_row;
        let values: Vec<f64> = match &self.config.protocol {
            Protocol::Json { outputs, .. } => {
                let found = doc
                    .pointer(outputs)
                    .ok_or_else(|| RemoteError::OutputMissing(format!("{outputs:?}")))?;
                if kind == OutputKind::Labels {
                    self.labels_from_json(found, expected)?
                } else {
                    let mut v = Vec::with_capacity(expected);
                    flatten_numbers(found, &mut v, expected)?;
                    v
                }
            }
            Protocol::Kserve { output_name, .. } => {
                let outputs = doc
                    .get("outputs")
                    .and_then(Value::as_array)
                    .ok_or_else(|| RemoteError::OutputMissing("\"outputs\"".into()))?;
                let output = match output_name {
                    Some(name) => outputs
                        .iter()
                        .find(|o| o.get("name").and_then(Value::as_str) == Some(name)),
                    None => outputs.first(),
                }
                .ok_or_else(|| {
                    RemoteError::OutputMissing(format!(
                        "outputs[{}]",
                        output_name.as_deref().unwrap_or("0")
                    ))
                })?;
                let data = output
                    .get("data")
                    .ok_or_else(|| RemoteError::OutputMissing("outputs[..].data".into()))?;
                let values = if kind == OutputKind::Labels {
                    self.labels_from_json(data, expected)?
                } else {
                    let mut v = Vec::with_capacity(expected);
                    flatten_numbers(data, &mut v, expected)?;
                    v
                };
                if let Some(shape) = output.get("shape").and_then(Value::as_array) {
                    let dims: Option<Vec<u64>> = shape.iter().map(Value::as_u64).collect();
                    let dims = dims.ok_or_else(|| {
                        RemoteError::Output(format!(
                            "output shape {shape:?} is not a list of sizes"
                        ))
                    })?;
                    let product = dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
                    if product != Some(values.len() as u64) || dims.first() != Some(&(rows as u64))
                    {
                        return Err(RemoteError::Output(format!(
                            "output shape {dims:?} does not fit {} values for {rows} rows",
                            values.len()
                        ))
                        .into());
                    }
                }
                values
            }
        };
        if values.len() != expected {
            return Err(RemoteError::OutputCount {
                got: values.len(),
                rows,
                per_row,
            }
            .into());
        }
        if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(RemoteError::Output(format!("value {i} is {v}")).into());
        }
        match kind {
            OutputKind::Probabilities => {
                if let Some((i, v)) = values
                    .iter()
                    .enumerate()
                    .find(|&(_, &v)| !(0.0..=1.0 + 1e-4).contains(&v))
                {
                    return Err(RemoteError::Output(format!(
                        "value {i} is {v}, not a probability (set output_kind = \"logits\" for scores)"
                    ))
                    .into());
                }
                Ok(values.iter().map(|&v| v as f32).collect())
            }
            OutputKind::Logits => {
                let data: Vec<f32> = values.iter().map(|&v| v as f32).collect();
                if data.iter().any(|v| !v.is_finite()) {
                    return Err(RemoteError::Output("a logit overflows f32".into()).into());
                }
                let t = Tensor::from_vec(data, (rows, k), &Device::Cpu)?;
                Ok(ops::softmax(&t)?.flatten_all()?.to_vec1::<f32>()?)
            }
            OutputKind::Labels => {
                let labels: Vec<u32> = values.iter().map(|&v| v as u32).collect();
                Ok(ops::one_hot(&labels, k, DType::F32, &Device::Cpu)?
                    .flatten_all()?
                    .to_vec1::<f32>()?)
            }
        }
    }

    /// Labels as class indices: integers, or names looked up in `class_names`. Nested arrays of
    /// one label (`[[3], [1]]`) are accepted.
    fn labels_from_json(
        &self,
        v: &Value,
        limit: usize,
    ) -> std::result::Result<Vec<f64>, RemoteError> {
        fn walk(
            v: &Value,
            names: Option<&[String]>,
            k: usize,
            out: &mut Vec<f64>,
            limit: usize,
        ) -> std::result::Result<(), RemoteError> {
            if out.len() > limit {
                return Err(RemoteError::Output(format!("more than {limit} labels")));
            }
            match v {
                Value::Array(items) => {
                    for i in items {
                        walk(i, names, k, out, limit)?;
                    }
                    Ok(())
                }
                Value::Number(n) => match n.as_u64() {
                    Some(i) if (i as usize) < k => {
                        out.push(i as f64);
                        Ok(())
                    }
                    _ => Err(RemoteError::Output(format!(
                        "label {n} is not a class index below {k}"
                    ))),
                },
                Value::String(s) => {
                    let i = names
                        .and_then(|names| names.iter().position(|c| c == s))
                        .ok_or_else(|| {
                            RemoteError::Output(format!(
                                "label {:?} is not one of the class_names",
                                s.chars().take(64).collect::<String>()
                            ))
                        })?;
                    out.push(i as f64);
                    Ok(())
                }
                other => Err(RemoteError::Output(format!(
                    "expected labels, found {}",
                    kind_of(other)
                ))),
            }
        }
        let mut out = Vec::with_capacity(limit);
        walk(
            v,
            self.info.class_names.as_deref(),
            self.info.num_classes,
            &mut out,
            limit,
        )?;
        Ok(out)
    }
}

enum SendError {
    /// Worth another try (connection refused or reset, timeout).
    Retry(String),
    /// Not worth one.
    Fatal(MlError),
}

fn classify(url: &str, e: ureq::Error) -> SendError {
    match e {
        ureq::Error::Io(_)
        | ureq::Error::Timeout(_)
        | ureq::Error::ConnectionFailed
        | ureq::Error::HostNotFound
        | ureq::Error::Protocol(_) => SendError::Retry(e.to_string()),
        other => SendError::Fatal(
            RemoteError::Transport {
                url: url.to_owned(),
                attempts: 1,
                message: other.to_string(),
            }
            .into(),
        ),
    }
}

fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(EXCERPT * 4)])
        .chars()
        .filter(|c| !c.is_control())
        .take(EXCERPT)
        .collect()
}

fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Classifier for RemoteModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn predict(&self, x: &Tensor) -> Result<Tensor> {
        let rows = x.dim(0)?;
        let want = self.info.batch_shape(rows);
        if x.dims() != want.as_slice() {
            return Err(MlError::Input(format!(
                "input shape {:?}, the model expects {want:?}",
                x.dims()
            )));
        }
        let data = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        if data.iter().any(|v| !v.is_finite()) {
            return Err(MlError::Input(
                "inputs hold NaN or infinity, which JSON cannot carry".into(),
            ));
        }
        self.counter.predictions(rows)?;
        let per_request = match self.config.protocol {
            Protocol::Json {
                layout: Layout::PerRow,
                ..
            } => 1,
            _ => self.config.max_batch,
        };
        let sample = self.info.sample_len();
        let k = self.info.num_classes;
        let mut out = Vec::with_capacity(rows * k);
        for chunk in data.chunks(per_request * sample.max(1)) {
            out.extend(self.infer_chunk(chunk, chunk.len() / sample.max(1))?);
        }
        Ok(Tensor::from_vec(out, (rows, k), &Device::Cpu)?)
    }

    fn queries(&self) -> Queries {
        self.counter.snapshot()
    }

    fn reset_queries(&self) {
        self.counter.reset();
    }

    fn labels_only(&self) -> bool {
        self.output_kind() == OutputKind::Labels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("sk-12345");
        assert_eq!(format!("{s}"), "[redacted]");
        assert!(!format!("{s:?}").contains("12345"));
        assert_eq!(s.expose(), "sk-12345");
    }

    #[test]
    fn literal_header_values_do_not_print() {
        let h = HeaderSpec {
            name: "x-api-key".into(),
            value: Some("sk-12345".into()),
            env: None,
            prefix: None,
        };
        let text = format!("{h:?}");
        assert!(
            text.contains("x-api-key") && !text.contains("12345"),
            "{text}"
        );
    }

    #[test]
    fn substitution_is_structural() {
        let t: Value = serde_json::json!({"a": [1, {"x": PLACEHOLDER}], "b": "{{inputs}} no"});
        let mut n = 0;
        count_placeholders(&t, &mut n);
        assert_eq!(n, 1);
        let out = substitute(&t, serde_json::json!([[1.5, 2]]));
        assert_eq!(
            out,
            serde_json::json!({"a": [1, {"x": [[1.5, 2]]}], "b": "{{inputs}} no"})
        );
    }

    #[test]
    fn numbers_are_short_and_exact() {
        let v = nested(&[0.1, 0.25, 1.0 / 3.0, 7.0], &[2, 2]);
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            "[[0.1,0.25],[0.33333334,7.0]]"
        );
        let back: Vec<Vec<f32>> = serde_json::from_value(v).unwrap();
        assert_eq!(back, vec![vec![0.1, 0.25], vec![1.0 / 3.0, 7.0]]);
    }

    #[test]
    fn loopback_hosts() {
        for u in [
            "http://127.0.0.1:80/x",
            "http://localhost/",
            "https://[::1]:8443/v2",
            "http://user@127.0.0.2",
        ] {
            assert!(is_loopback(u), "{u}");
        }
        for u in [
            "http://example.invalid/",
            "https://10.0.0.1/",
            "http://[2001:db8::1]/",
        ] {
            assert!(!is_loopback(u), "{u}");
        }
    }
}
