//! The report: findings plus what was examined and how completely.

use serde::{Deserialize, Serialize};

use crate::{Artifact, Chart, Finding, Severity, Table};

/// The tool that wrote the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// `aisec`.
    pub name: String,
    /// The tool's version.
    pub version: String,
    /// The version of the policy that decided severities: the same bytes and policy version give the same verdict.
    pub policy_version: String,
}

/// How completely one target was examined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum TargetStatus {
    /// Fully analysed.
    Analysed,
    /// Not a format this capability examines (a README, an image): nothing to say about it.
    Skipped {
        /// Why it was skipped.
        reason: String,
    },
    /// Could not be fully analysed. Never to be read as clean.
    NotAnalysed {
        /// Why not.
        reason: String,
    },
}

/// One examined target (a file, or a member of an archive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The file on disk.
    pub path: String,
    /// The member inside an archive, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// The format detected from the content (`pickle`, `pytorch-zip`, `numpy`, …).
    pub format: String,
    /// Size in bytes.
    pub size: u64,
    /// How completely it was examined.
    #[serde(flatten)]
    pub status: TargetStatus,
}

/// The result of one run of one capability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Who wrote it.
    pub tool: Tool,
    /// Every target examined, in a stable order.
    pub targets: Vec<Target>,
    /// Every finding, in a stable order.
    pub findings: Vec<Finding>,
    /// Wall time of the run in milliseconds.
    #[serde(default)]
    pub duration_ms: u64,
    /// Measurements, keyed by what was measured (an attack's results); absent when none.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metrics: serde_json::Map<String, serde_json::Value>,
    /// Tables presenting the measurements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<Table>,
    /// Charts presenting the measurements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub charts: Vec<Chart>,
    /// Files written beside the report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Artifact>,
}

impl Report {
    /// An empty report by `tool`.
    #[must_use]
    pub fn new(tool: Tool) -> Self {
        Self {
            tool,
            targets: Vec::new(),
            findings: Vec::new(),
            duration_ms: 0,
            metrics: serde_json::Map::new(),
            tables: Vec::new(),
            charts: Vec::new(),
            artifacts: Vec::new(),
        }
    }

    /// The highest severity among the findings, if any.
    #[must_use]
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// Whether any finding is at or above `threshold`.
    #[must_use]
    pub fn fails(&self, threshold: Severity) -> bool {
        self.findings.iter().any(|f| f.severity >= threshold)
    }

    /// The targets that could not be fully analysed.
    pub fn not_analysed(&self) -> impl Iterator<Item = &Target> {
        self.targets
            .iter()
            .filter(|t| matches!(t.status, TargetStatus::NotAnalysed { .. }))
    }

    /// Sorts targets and findings so the report is deterministic.
    pub fn sort(&mut self) {
        self.targets
            .sort_by(|a, b| (&a.path, &a.member).cmp(&(&b.path, &b.member)));
        self.findings.sort_by(|a, b| {
            (
                &a.location,
                std::cmp::Reverse(a.severity),
                &a.rule,
                &a.fingerprint,
            )
                .cmp(&(
                    &b.location,
                    std::cmp::Reverse(b.severity),
                    &b.rule,
                    &b.fingerprint,
                ))
        });
    }
}
