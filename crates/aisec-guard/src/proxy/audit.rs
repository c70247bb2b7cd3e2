//! The audit log: one JSON line per exchange with Elastic Common Schema (ECS) field names, so
//! Elasticsearch, OpenSearch and most SIEMs ingest it without a mapping. docs/guard.md lists the
//! fields. Prompts are only hashed (SHA-256) unless the operator asks for them in full.

use std::time::SystemTime;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::engine::Fired;
use crate::policy::Action;

/// Lower-case hex SHA-256 of `bytes`.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// What one exchange did, for its audit line.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// When the request arrived.
    pub start: Option<SystemTime>,
    /// The client's name (`anonymous` without client keys).
    pub client: String,
    /// The request path.
    pub path: String,
    /// The model asked for.
    pub model: Option<String>,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// The status the client got.
    pub status: u16,
    /// The final action over both stages.
    pub action: Option<Action>,
    /// The rules that fired, both stages.
    pub fired: Vec<Fired>,
    /// Scanner failures.
    pub errors: Vec<String>,
    /// SHA-256 of the request body.
    pub prompt_sha256: Option<String>,
    /// The request body itself, when the operator logs prompts.
    pub prompt: Option<String>,
    /// Time spent scanning the prompt, the upstream, and scanning the reply, in microseconds.
    pub input_us: u64,
    /// Upstream time.
    pub upstream_us: u64,
    /// Reply-scanning time.
    pub output_us: u64,
    /// The whole exchange.
    pub total_us: u64,
    /// Tokens the upstream reported (prompt plus completion).
    pub tokens: Option<u64>,
    /// What went wrong, for a failed exchange.
    pub error: Option<String>,
}

impl Entry {
    /// The ECS document.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let action = self.action.unwrap_or(Action::Allow);
        let action_name = serde_json::to_value(action).unwrap_or(Value::Null);
        let ids: Vec<&str> = self.fired.iter().map(|f| f.rule).collect();
        let names: Vec<&str> = self.fired.iter().map(|f| f.scanner).collect();
        let outcome = if self.error.is_some() || self.status >= 500 || action == Action::Block {
            "failure"
        } else {
            "success"
        };
        let mut doc = json!({
            "@timestamp": aisec_core::time::rfc3339(self.start.unwrap_or_else(SystemTime::now), true),
            "ecs": {"version": "8.11.0"},
            "event": {
                "kind": if self.fired.is_empty() { "event" } else { "alert" },
                "category": ["web", "intrusion_detection"],
                "type": if action == Action::Block { json!(["denied"]) } else { json!(["allowed"]) },
                "action": action_name,
                "outcome": outcome,
                "duration": self.total_us * 1000,
                "module": "aisec-guard",
            },
            "user": {"name": self.client},
            "url": {"path": self.path},
            "http": {"response": {"status_code": self.status}},
            "rule": {"id": ids, "name": names},
            "aisec": {
                "model": self.model,
                "stream": self.stream,
                "fired": self.fired,
                "errors": self.errors,
                "prompt_sha256": self.prompt_sha256,
                "tokens": self.tokens,
                "latency_us": {
                    "input": self.input_us,
                    "upstream": self.upstream_us,
                    "output": self.output_us,
                },
            },
        });
        if let Some(p) = &self.prompt {
            doc["aisec"]["prompt"] = json!(p);
        }
        if let Some(e) = &self.error {
            doc["error"] = json!({"message": e});
        }
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
