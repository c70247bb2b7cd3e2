//! API keys that never print.

use std::fmt;

use crate::error::{LlmError, Result};

/// A secret API key. `Debug` and `Display` show `[redacted]`; only [`ApiKey::expose`] gives the
/// value, for the one place that writes the request header.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key. Surrounding whitespace (a trailing newline from a file) is dropped.
    ///
    /// A key holding a line break or other control character would break the HTTP header, so it
    /// is refused.
    pub fn new(value: impl Into<String>) -> Result<Self> {
        let value: String = value.into();
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(LlmError::Config("the API key is empty".into()));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(LlmError::Config(
                "the API key holds a control character".into(),
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// Reads the key from the environment variable `var`.
    pub fn from_env(var: &str) -> Result<Self> {
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Self::new(v),
            _ => Err(LlmError::MissingKey {
                var: var.to_owned(),
            }),
        }
    }

    /// The key itself. Only for the request header; never log it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_the_value() {
        let key = ApiKey::new("sk-test-very-secret-4242\n").unwrap();
        assert_eq!(key.expose(), "sk-test-very-secret-4242");
        for shown in [format!("{key:?}"), format!("{key}"), format!("{key:#?}")] {
            assert!(!shown.contains("4242"), "{shown}");
            assert!(shown.contains("redacted"), "{shown}");
        }
    }

    #[test]
    fn refuses_empty_and_control_characters() {
        assert!(ApiKey::new("  ").is_err());
        assert!(ApiKey::new("a\r\nX-Evil: 1").is_err());
        let err = ApiKey::from_env("AISEC_LLM_TEST_SURELY_UNSET_VAR").unwrap_err();
        assert!(matches!(err, LlmError::MissingKey { .. }));
    }
}
