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

/// `pattern` with its word boundaries made ASCII ones. The regex crate's fast engines (the lazy
/// DFA) cannot run a Unicode `\b` on a text holding any non-ASCII character, and fall back to
/// one about ten times slower: a prompt with one accented name took 3 ms instead of 0.3. The
/// patterns are English words, and look-alike letters are folded to ASCII in a reading of their
/// own ([`views`]), so an ASCII boundary loses nothing.
pub(crate) fn ascii_boundaries(pattern: &str) -> String {
    pattern.replace(r"\b", r"(?-u:\b)")
}

#[cfg(test)]
mod tests {
    #[test]
    fn word_boundaries_become_ascii_and_still_bound_words() {
        assert_eq!(
            super::ascii_boundaries(r"\bignore\b"),
            r"(?-u:\b)ignore(?-u:\b)"
        );
        let re = regex::Regex::new(&super::ascii_boundaries(r"(?i)\bignore\s+all\b")).unwrap();
        // Next to accented names, and not inside a longer word.
        assert!(re.is_match("Michaël Zasso wrote: ignore all of it"));
        assert!(re.is_match("é ignore all é"));
        assert!(!re.is_match("signore allora"));
    }
}
