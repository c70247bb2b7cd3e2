//! Threats as report parts: a finding per open or confirmed threat (TM rules, located at the
//! element's line in the model file), the threats table (every threat with its status), the
//! ATLAS coverage matrix (per tactic, the techniques the model's threats reach and where they
//! stand), and the metrics (`metrics.threat_model`).

use std::collections::BTreeMap;

use aisec_core::{Confidence, Finding, Location, RuleId, Severity, Table, Taxonomy};
use aisec_taxonomy::{Atlas, Stride};
use serde_json::json;

use crate::engine::{Status, Threat};
use crate::model::{RecordedStatus, RecordedThreat, SystemModel};
use crate::rules::ThreatRule;

/// The findings of `threats`: one per open or confirmed threat.
#[must_use]
pub fn findings(model: &SystemModel, threats: &[Threat], rules: &[ThreatRule]) -> Vec<Finding> {
    threats
        .iter()
        .filter(|t| matches!(t.status, Status::Open | Status::Confirmed { .. }))
        .map(|t| {
            let rule = rules.iter().find(|r| r.id == t.rule);
            let location = Location {
                path: model.file.clone(),
                member: Some(t.target.clone()),
                offset: None,
                line: (t.line > 0).then_some(t.line as u64),
            };
            let id = RuleId::new(t.rule.clone());
            let (severity, confidence) = match &t.status {
                Status::Confirmed { .. } => (t.severity.max(Severity::High), Confidence::Certain),
                _ => (t.severity, Confidence::Possible),
            };
            let mut message = format!(
                "{}: {} ({} {}, likelihood {} x impact {} = {})",
                t.target_name,
                rule.map_or("", |r| r.description.as_str()),
                t.target_kind,
                t.target,
                t.likelihood,
                t.impact,
                t.score
            );
            if let Status::Confirmed { findings } = &t.status {
                message.push_str("; confirmed by ");
                message.push_str(&findings.join(", "));
            }
            Finding {
                fingerprint: Finding::fingerprint_of(&id, &location, &t.target),
                rule: id,
                title: t.title.clone(),
                severity,
                confidence,
                message,
                location,
                evidence: json!({
                    "target": t.target,
                    "target_kind": t.target_kind,
                    "status": t.status,
                    "likelihood": t.likelihood,
                    "impact": t.impact,
                    "score": t.score,
                    "owasp_agentic": t.owasp_agentic,
                    "atlas_mitigations": t.mitigations,
                }),
                taxonomy: Taxonomy {
                    atlas: t.atlas.clone(),
                    owasp_llm: t.owasp_llm.clone(),
                    cwe: Vec::new(),
                    stride: t
                        .stride
                        .iter()
                        .filter_map(|s| Stride::parse(s))
                        .map(|s| s.name().to_owned())
                        .collect(),
                },
                remediation: rule.map_or_else(String::new, |r| r.remediation.clone()),
            }
        })
        .collect()
}

/// Every threat, with its status, as a table.
#[must_use]
pub fn threats_table(threats: &[Threat]) -> Table {
    Table {
        id: "threats".into(),
        title: "Threats".into(),
        columns: [
            "rule", "threat", "target", "STRIDE", "ATLAS", "OWASP", "score", "severity", "status",
            "why",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: threats
            .iter()
            .map(|t| {
                let why = match &t.status {
                    Status::Open => String::new(),
                    Status::Mitigated { control } => control.clone(),
                    Status::Accepted { reason } => reason.clone(),
                    Status::Confirmed { findings } => findings.join(", "),
                };
                vec![
                    t.rule.clone(),
                    t.title.clone(),
                    format!("{} ({})", t.target_name, t.target_kind),
                    t.stride
                        .iter()
                        .filter_map(|s| Stride::parse(s))
                        .map(|s| &s.name()[..1])
                        .collect::<String>(),
                    t.atlas.join(" "),
                    t.owasp_llm
                        .iter()
                        .chain(&t.owasp_agentic)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" "),
                    t.score.to_string(),
                    t.severity.to_string(),
                    t.status.name().to_owned(),
                    why,
                ]
            })
            .collect(),
    }
}

/// One technique's place in the coverage matrix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Coverage {
    /// The tactic.
    pub tactic: String,
    /// The technique (top-level; a sub-technique's threats count for its parent).
    pub technique: String,
    /// Threats reaching it, by status name.
    pub threats: BTreeMap<String, usize>,
}

/// The ATLAS coverage matrix: for each tactic of `atlas`, each top-level technique with the
/// model's threats that reach it (directly or through a sub-technique), by status.
#[must_use]
pub fn coverage(threats: &[Threat], atlas: &Atlas) -> Vec<Coverage> {
    let mut out = Vec::new();
    for tactic in &atlas.tactics {
        for tech in atlas.techniques_of(&tactic.id) {
            let mut by_status = BTreeMap::new();
            for t in threats {
                let reaches = t.atlas.iter().any(|id| {
                    id == &tech.id
                        || atlas
                            .technique(id)
                            .is_some_and(|x| x.parent.as_deref() == Some(tech.id.as_str()))
                });
                if reaches {
                    *by_status.entry(t.status.name().to_owned()).or_insert(0) += 1;
                }
            }
            if !by_status.is_empty() {
                out.push(Coverage {
                    tactic: tactic.id.clone(),
                    technique: tech.id.clone(),
                    threats: by_status,
                });
            }
        }
    }
    out
}

/// The coverage matrix as a table: one row per tactic, its techniques reached with their counts.
#[must_use]
pub fn coverage_table(cov: &[Coverage], atlas: &Atlas) -> Table {
    let rows = atlas
        .tactics
        .iter()
        .map(|tactic| {
            let total = atlas.techniques_of(&tactic.id).count();
            let reached: Vec<String> = cov
                .iter()
                .filter(|c| c.tactic == tactic.id)
                .map(|c| {
                    let name = atlas
                        .technique(&c.technique)
                        .map_or("", |t| t.name.as_str());
                    let counts = c
                        .threats
                        .iter()
                        .map(|(s, n)| format!("{n} {s}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    format!("{} {name} ({counts})", c.technique)
                })
                .collect();
            vec![
                format!("{} {}", tactic.id, tactic.name),
                format!("{}/{total}", reached.len()),
                reached.join("; "),
            ]
        })
        .collect();
    Table {
        id: "atlas-coverage".into(),
        title: format!("MITRE ATLAS {} coverage", atlas.version),
        columns: vec![
            "tactic".into(),
            "techniques reached".into(),
            "techniques (threats by status)".into(),
        ],
        rows,
    }
}

/// `metrics.threat_model`: counts by status, severity and STRIDE category, and the coverage.
#[must_use]
pub fn metrics(model: &SystemModel, threats: &[Threat], cov: &[Coverage]) -> serde_json::Value {
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_severity: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_stride: BTreeMap<&str, usize> = BTreeMap::new();
    for t in threats {
        *by_status.entry(t.status.name()).or_insert(0) += 1;
        *by_severity.entry(t.severity.to_string()).or_insert(0) += 1;
        for s in t.stride.iter().filter_map(|s| Stride::parse(s)) {
            *by_stride.entry(s.name()).or_insert(0) += 1;
        }
    }
    json!({
        "system": model.name,
        "elements": model.elements.len(),
        "flows": model.flows.len(),
        "boundaries": model.boundaries.len(),
        "threats": threats.len(),
        "by_status": by_status,
        "by_severity": by_severity,
        "by_stride": by_stride,
        "atlas_techniques_reached": cov.len(),
        "threat_list": threats,
    })
}

/// The rule id of a threat a person recorded in the model.
pub const RECORDED_RULE: &str = "TM001";

/// The severity a person gave as text (`High`, `medium`, ...); medium when none or unknown.
fn recorded_severity(text: Option<&str>) -> Severity {
    match text.map(str::to_ascii_lowercase).as_deref() {
        Some("critical") => Severity::Critical,
        Some("high") => Severity::High,
        Some("low") => Severity::Low,
        Some("info" | "informational" | "none") => Severity::Info,
        _ => Severity::Medium,
    }
}

/// Every threat a person recorded: (target id, target name, kind, threat).
fn recorded(model: &SystemModel) -> Vec<(&str, String, &str, &RecordedThreat)> {
    let elements = model.elements.iter().flat_map(|e| {
        e.threats
            .iter()
            .map(move |t| (e.id.as_str(), e.name.clone(), e.kind.name(), t))
    });
    let flows = model.flows.iter().flat_map(|f| {
        f.threats
            .iter()
            .map(move |t| (f.id.as_str(), format!("{} -> {}", f.from, f.to), "flow", t))
    });
    elements.chain(flows).collect()
}

/// A finding per open threat that a person recorded in the model (rule TM001), with the
/// severity they gave.
#[must_use]
pub fn recorded_findings(model: &SystemModel) -> Vec<Finding> {
    recorded(model)
        .into_iter()
        .filter(|(.., t)| t.status == RecordedStatus::Open)
        .map(|(id, name, kind, t)| {
            let location = Location {
                path: model.file.clone(),
                member: Some(id.to_owned()),
                offset: None,
                line: (t.line > 0).then_some(t.line as u64),
            };
            let rule = RuleId::new(RECORDED_RULE);
            let mut message = format!("{name} ({kind} {id}): {}", t.title);
            if let Some(d) = &t.description {
                message.push_str(": ");
                message.push_str(d);
            }
            let stride = t
                .category
                .as_deref()
                .and_then(Stride::parse)
                .map(|s| vec![s.name().to_owned()])
                .unwrap_or_default();
            Finding {
                fingerprint: Finding::fingerprint_of(
                    &rule,
                    &location,
                    &format!("{id}\u{0}{}", t.title),
                ),
                rule,
                title: t.title.clone(),
                severity: recorded_severity(t.severity.as_deref()),
                confidence: Confidence::Likely,
                message,
                location,
                evidence: json!({
                    "target": id,
                    "target_kind": kind,
                    "category": t.category,
                    "method": t.method,
                    "threat_id": t.id,
                    "number": t.number,
                    "score": t.score,
                }),
                taxonomy: Taxonomy {
                    stride,
                    ..Taxonomy::default()
                },
                remediation: t.mitigation.clone().unwrap_or_default(),
            }
        })
        .collect()
}

/// The threats people recorded in the model, with their status, as a table (None when there
/// are none).
#[must_use]
pub fn recorded_table(model: &SystemModel) -> Option<Table> {
    let rows: Vec<Vec<String>> = recorded(model)
        .into_iter()
        .map(|(id, name, kind, t)| {
            vec![
                t.title.clone(),
                format!("{name} ({kind} {id})"),
                t.category.clone().unwrap_or_default(),
                t.severity.clone().unwrap_or_default(),
                t.status.name().to_owned(),
                t.mitigation.clone().unwrap_or_default(),
            ]
        })
        .collect();
    (!rows.is_empty()).then(|| Table {
        id: "recorded-threats".into(),
        title: "Threats recorded in the model".into(),
        columns: [
            "threat",
            "target",
            "category",
            "severity",
            "status",
            "mitigation",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
    })
}
