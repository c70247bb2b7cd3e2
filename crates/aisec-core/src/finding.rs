//! One finding: what was found, where, how sure we are, and how it maps to the taxonomies.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Severity;

/// A stable rule identifier such as `MS101`. The prefix names the capability (`MS` model scan).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RuleId(String);

impl RuleId {
    /// Wraps an identifier.
    #[must_use]
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The identifier as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How sure the analysis is that the finding is real.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// The construct may be harmful, depending on what the loading host has installed.
    Possible,
    /// The construct is harmful unless the loader behaves unusually.
    Likely,
    /// The bytes do this whenever they are loaded.
    Certain,
}

impl Confidence {
    /// The lowercase name used in every output format.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Possible => "possible",
            Self::Likely => "likely",
            Self::Certain => "certain",
        }
    }
}

/// Where a finding is.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Location {
    /// The file on disk, as the user named it (or as found under a directory they named).
    pub path: String,
    /// The member inside an archive, nested members joined by `!/` (`outer.zip!/inner.pt!/archive/data.pkl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// Byte offset inside the member (or the file when there is no member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Line number, 1-based, for text inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
}

impl Location {
    /// A location naming a whole file.
    #[must_use]
    pub fn file(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            ..Self::default()
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)?;
        if let Some(member) = &self.member {
            write!(f, "!/{member}")?;
        }
        if let Some(offset) = self.offset {
            write!(f, " @{offset}")?;
        }
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        Ok(())
    }
}

/// References into the taxonomies the finding belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taxonomy {
    /// MITRE ATLAS technique ids (`AML.T0011.000`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub atlas: Vec<String>,
    /// OWASP Top 10 for LLM applications 2025 ids (`LLM03`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owasp_llm: Vec<String>,
    /// CWE ids (`CWE-502`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cwe: Vec<String>,
    /// STRIDE categories (`Tampering`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stride: Vec<String>,
}

/// One finding. Its JSON form is the public contract shared by every capability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable hash of rule, location and key evidence: the same finding in a later run has the same fingerprint.
    pub fingerprint: String,
    /// The rule that fired.
    pub rule: RuleId,
    /// One-line title.
    pub title: String,
    /// How bad it is.
    pub severity: Severity,
    /// How sure the analysis is.
    pub confidence: Confidence,
    /// What was found, in one or two sentences.
    pub message: String,
    /// Where it was found.
    pub location: Location,
    /// Rule-specific evidence (a call chain, the names a payload uses, …).
    #[serde(default)]
    pub evidence: serde_json::Value,
    /// Taxonomy references.
    #[serde(default)]
    pub taxonomy: Taxonomy,
    /// What to do about it.
    #[serde(default)]
    pub remediation: String,
}

impl Finding {
    /// Computes the fingerprint from the rule, the location (path excluded: a moved file keeps its
    /// findings' identity) and a key that names what was found.
    #[must_use]
    pub fn fingerprint_of(rule: &RuleId, location: &Location, key: &str) -> String {
        let mut hasher = Sha256::new();
        for part in [
            rule.as_str(),
            location.member.as_deref().unwrap_or(""),
            &location.offset.map(|o| o.to_string()).unwrap_or_default(),
            key,
        ] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        let digest = hasher.finalize();
        digest[..12]
            .iter()
            .fold(String::with_capacity(24), |mut s, b| {
                use fmt::Write;
                let _ = write!(s, "{b:02x}");
                s
            })
    }
}
