//! The scanners: pure functions from a text (and what they are told) to hits. The policy engine
//! ([`crate::engine`]) decides what a hit means.

pub mod injection;
pub mod invisible;
pub mod output;
pub mod pii;
pub mod secrets;
pub mod views;

use serde::{Deserialize, Serialize};

/// Something a scanner found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// What it is, within the scanner: `email`, `aws-access-key-id`, `countermand`,
    /// `tag-characters`.
    pub kind: String,
    /// How sure the scanner is, 0..1.
    pub score: f64,
    /// A short description for logs and clients, never the secret or the personal data itself.
    pub detail: String,
    /// Byte span in the scanned text, where the scanner can point at it (redaction uses it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<(usize, usize)>,
}
