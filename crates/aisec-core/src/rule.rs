//! The rule catalog entry every capability uses to document what its findings mean.

use crate::Severity;

/// A rule's documentation and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Stable id (`MS101`).
    pub id: &'static str,
    /// Kebab-case name.
    pub name: &'static str,
    /// One-line title.
    pub title: &'static str,
    /// The usual severity (some findings of a rule may be higher or lower, as the message explains).
    pub severity: Severity,
    /// What it finds.
    pub what: &'static str,
    /// Why it matters.
    pub why: &'static str,
    /// A minimal example of what triggers it.
    pub example: &'static str,
    /// What to do.
    pub remediation: &'static str,
    /// MITRE ATLAS technique ids.
    pub atlas: &'static [&'static str],
    /// CWE ids.
    pub cwe: &'static [&'static str],
    /// Further reading.
    pub references: &'static [&'static str],
}
