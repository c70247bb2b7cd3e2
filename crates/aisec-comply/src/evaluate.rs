//! Per control: evidenced, partly evidenced (what is missing), gap, or manual (what a person must
//! attest); the gaps ranked by what closes most; and the result as findings, tables and metrics.

use std::collections::BTreeMap;

use aisec_core::{Confidence, Finding, Location, RuleId, Severity, Table, Taxonomy};
use serde::Serialize;

use crate::catalog::{Condition, Frameworks};
use crate::evidence::{Evidence, State};
use crate::profile::{Profile, Tier};
use crate::{Error, rules};

/// Where a control stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Every kind of evidence that supports it passes, or a person attested it.
    Evidenced,
    /// Some supporting evidence passes or was measured; the rest is missing.
    Partly,
    /// Evidence could support it, and none does.
    Gap,
    /// No aisec evidence can show it: a person must attest it.
    Manual,
    /// The EU AI Act questionnaire's answers make it not apply.
    NotApplicable,
}

impl Status {
    /// The word used in every output.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Evidenced => "evidenced",
            Self::Partly => "partly",
            Self::Gap => "gap",
            Self::Manual => "manual",
            Self::NotApplicable => "not applicable",
        }
    }
}

/// One control's result.
#[derive(Debug, Clone, Serialize)]
pub struct ControlResult {
    /// Catalog id.
    pub catalog: String,
    /// Control id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Where it stands.
    pub status: Status,
    /// Passing evidence: `kind: what the run showed (why it supports the control)`.
    pub evidenced_by: Vec<String>,
    /// Evidence that is missing or failing: `kind: what to do or what failed`.
    pub missing: Vec<String>,
    /// What a person attested, or must attest for a manual control.
    pub attestation: Option<String>,
}

/// A kind of evidence that is missing or failing, and what producing it would change.
#[derive(Debug, Clone, Serialize)]
pub struct Closer {
    /// The evidence kind.
    pub kind: String,
    /// Its title.
    pub title: String,
    /// The command that produces it.
    pub produced_by: String,
    /// Failing (the detail) rather than absent.
    pub failing: Option<String>,
    /// Controls whose status would improve if it passed (`CATALOG:ID`): gaps it supports, and
    /// partly evidenced controls it is the last missing piece of.
    pub improves: Vec<String>,
    /// Of those, how many are gaps now.
    pub closes_gaps: usize,
}

/// The whole result.
#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    /// The EU AI Act tier.
    pub tier: Tier,
    /// Whether NIST AI 600-1 was applied.
    pub generative: bool,
    /// Every control of every selected catalog, in catalog order.
    pub controls: Vec<ControlResult>,
    /// Missing or failing evidence, most improving first.
    pub closers: Vec<Closer>,
    /// Prohibited practices declared.
    pub prohibited: Vec<String>,
}

/// Evaluates the frameworks against the evidence and the profile.
pub fn evaluate(fw: &Frameworks, profile: &Profile, ev: &Evidence) -> Result<Assessment, Error> {
    for key in profile.attest.keys() {
        if fw.control(key).is_none() {
            return Err(Error::Profile(format!(
                "attestation `{key}` names no control (write CATALOG:ID, e.g. `iso42001:A.2.2`)"
            )));
        }
    }
    for f in &profile.frameworks {
        if !fw.catalogs.iter().any(|c| &c.id == f) {
            return Err(Error::Profile(format!(
                "unknown framework `{f}` (known: {})",
                fw.catalogs
                    .iter()
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let generative = profile
        .generative
        .unwrap_or_else(|| ev.get("redteam-run").is_some() || ev.get("guard-deployed").is_some());
    let eu = profile.eu_ai_act.as_ref();
    let tier = eu.map_or(Tier::Unknown, crate::profile::EuAiAct::tier);
    let mut controls = Vec::new();
    for cat in &fw.catalogs {
        if !profile.frameworks.is_empty() && !profile.frameworks.contains(&cat.id) {
            continue;
        }
        if cat.applies.as_deref() == Some("generative") && !generative {
            continue;
        }
        for c in &cat.controls {
            let key = format!("{}:{}", cat.id, c.id);
            let applies = match (cat.id.as_str(), eu) {
                ("eu-ai-act", Some(e)) => {
                    e.holds(c.when.unwrap_or(Condition::Always))
                        && (c.roles.is_empty() || c.roles.iter().any(|r| e.roles.contains(r)))
                }
                ("eu-ai-act", None) => c.when.is_none_or(|w| w == Condition::Always),
                _ => true,
            };
            let mut result = ControlResult {
                catalog: cat.id.clone(),
                id: c.id.clone(),
                title: c.title.clone(),
                status: Status::NotApplicable,
                evidenced_by: Vec::new(),
                missing: Vec::new(),
                attestation: None,
            };
            if !applies {
                controls.push(result);
                continue;
            }
            let mut supported = 0;
            let mut measured = 0;
            for (kind, why) in fw.supporting(&cat.id, &c.id) {
                supported += 1;
                match ev.get(&kind.kind) {
                    Some(State::Passing(d)) => {
                        result
                            .evidenced_by
                            .push(format!("{}: {d} ({why})", kind.kind));
                    }
                    Some(State::Failing(d)) => {
                        measured += 1;
                        result.missing.push(format!("{}: failing: {d}", kind.kind));
                    }
                    None => result
                        .missing
                        .push(format!("{}: run {}", kind.kind, kind.produced_by)),
                }
            }
            let passing = result.evidenced_by.len();
            result.status = if supported == 0 {
                Status::Manual
            } else if passing == supported {
                Status::Evidenced
            } else if passing + measured > 0 {
                Status::Partly
            } else {
                Status::Gap
            };
            // Art. 5 is answered by the questionnaire itself.
            if cat.id == "eu-ai-act"
                && c.id == "Art. 5"
                && let Some(e) = eu
            {
                if e.prohibited.is_empty() {
                    result.status = Status::Evidenced;
                    result.evidenced_by.push(
                        "questionnaire: no prohibited practice declared ([comply.eu_ai_act] prohibited = [])".into(),
                    );
                } else {
                    result.status = Status::Gap;
                    result.missing.push(format!(
                        "prohibited practice(s) declared: {}",
                        practice_names(&e.prohibited).join(", ")
                    ));
                }
            }
            if let Some(a) = profile.attest.get(&key) {
                // An attestation covers what no evidence can; where evidence could show the
                // control and does not, the attestation alone makes it partly evidenced.
                result.attestation = Some(format!("attested: {a}"));
                result.status = match result.status {
                    Status::Manual => Status::Evidenced,
                    Status::Gap if !(c.id == "Art. 5" && eu.is_some()) => Status::Partly,
                    s => s,
                };
            } else if result.status == Status::Manual {
                result.attestation = Some(c.attestation().to_owned());
            }
            controls.push(result);
        }
    }
    let closers = rank(fw, ev, &controls);
    let prohibited = eu
        .map(|e| practice_names(&e.prohibited))
        .unwrap_or_default();
    Ok(Assessment {
        tier,
        generative,
        controls,
        closers,
        prohibited,
    })
}

fn practice_names(p: &[crate::profile::Practice]) -> Vec<String> {
    p.iter()
        .map(|x| {
            serde_json::to_value(x)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        })
        .collect()
}

/// For each kind not passing: the controls it would improve if it passed, most first.
fn rank(fw: &Frameworks, ev: &Evidence, controls: &[ControlResult]) -> Vec<Closer> {
    let mut out = Vec::new();
    for kind in &fw.evidence {
        if ev.passes(&kind.kind) {
            continue;
        }
        let mut improves = Vec::new();
        let mut closes_gaps = 0;
        for c in controls {
            if !matches!(c.status, Status::Partly | Status::Gap) {
                continue;
            }
            // A gap improves with any of its kinds; a partly evidenced control only when this
            // kind is the last one not passing.
            let open: Vec<&str> = fw
                .supporting(&c.catalog, &c.id)
                .map(|(k, _)| k.kind.as_str())
                .filter(|k| !ev.passes(k))
                .collect();
            let helps = open.contains(&kind.kind.as_str())
                && (c.status == Status::Gap || open.iter().all(|k| *k == kind.kind));
            if helps {
                improves.push(format!("{}:{}", c.catalog, c.id));
                if c.status == Status::Gap {
                    closes_gaps += 1;
                }
            }
        }
        if improves.is_empty() {
            continue;
        }
        out.push(Closer {
            kind: kind.kind.clone(),
            title: kind.title.clone(),
            produced_by: kind.produced_by.clone(),
            failing: match ev.get(&kind.kind) {
                Some(State::Failing(d)) => Some(d.clone()),
                _ => None,
            },
            improves,
            closes_gaps,
        });
    }
    out.sort_by(|a, b| {
        (b.improves.len(), b.closes_gaps)
            .cmp(&(a.improves.len(), a.closes_gaps))
            .then_with(|| a.kind.cmp(&b.kind))
    });
    out
}

impl Assessment {
    /// Counts by catalog and status.
    #[must_use]
    pub fn counts(&self) -> BTreeMap<String, BTreeMap<&'static str, usize>> {
        let mut out: BTreeMap<String, BTreeMap<&'static str, usize>> = BTreeMap::new();
        for c in &self.controls {
            *out.entry(c.catalog.clone())
                .or_default()
                .entry(c.status.as_str())
                .or_insert(0) += 1;
        }
        out
    }

    /// The findings: one per kind of missing or failing evidence that would improve a control
    /// (CP100), one per prohibited practice declared (CP110), and one when the EU AI Act
    /// questionnaire is unanswered (CP120).
    #[must_use]
    pub fn findings(&self, config: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        for p in &self.prohibited {
            out.push(finding(
                rules::PROHIBITED,
                Severity::Critical,
                config,
                p,
                format!(
                    "The EU AI Act questionnaire declares the prohibited practice `{p}` (Art. 5): the system may not be placed on the EU market or used there."
                ),
                serde_json::json!({"practice": p}),
            ));
        }
        if self.tier == Tier::Unknown {
            out.push(finding(
                rules::UNANSWERED,
                Severity::Low,
                config,
                "eu-ai-act",
                "The EU AI Act questionnaire ([comply.eu_ai_act] in aisec.toml) is not answered: the risk tier, and so the obligations, are unknown.".into(),
                serde_json::Value::Null,
            ));
        }
        for c in &self.closers {
            let severity = if c.closes_gaps > 0 {
                Severity::Medium
            } else {
                Severity::Low
            };
            let what = match &c.failing {
                Some(d) => format!("`{}` is failing ({d})", c.kind),
                None => format!("No `{}` evidence ({})", c.kind, c.title.to_lowercase()),
            };
            out.push(finding(
                rules::MISSING,
                severity,
                config,
                &c.kind,
                format!(
                    "{what}; with it {} control(s) would improve, {} of them gaps now. Produced by `{}`.",
                    c.improves.len(),
                    c.closes_gaps,
                    c.produced_by
                ),
                serde_json::json!({"kind": c.kind, "improves": c.improves, "closes_gaps": c.closes_gaps, "failing": c.failing}),
            ));
        }
        out
    }

    /// One table per catalog, and the ranking of what closes most.
    #[must_use]
    pub fn tables(&self, fw: &Frameworks) -> Vec<Table> {
        let mut out = Vec::new();
        for cat in &fw.catalogs {
            let rows: Vec<Vec<String>> = self
                .controls
                .iter()
                .filter(|c| c.catalog == cat.id)
                .map(|c| {
                    let mut todo = c.missing.clone();
                    if let Some(a) = &c.attestation {
                        todo.push(if c.status == Status::Manual {
                            format!("attest: {a}")
                        } else {
                            a.clone()
                        });
                    }
                    vec![
                        c.id.clone(),
                        c.title.clone(),
                        c.status.as_str().to_owned(),
                        c.evidenced_by.join("\n"),
                        todo.join("\n"),
                    ]
                })
                .collect();
            if rows.is_empty() {
                continue;
            }
            out.push(Table {
                id: format!("comply-{}", cat.id),
                title: format!("Compliance: {}", cat.title),
                columns: [
                    "Control",
                    "Title",
                    "Status",
                    "Evidence",
                    "Missing or to attest",
                ]
                .map(String::from)
                .to_vec(),
                rows,
            });
        }
        out.push(Table {
            id: "comply-gaps".into(),
            title: "Compliance: what closes most".into(),
            columns: [
                "Evidence",
                "Produced by",
                "Controls improved",
                "Gaps closed",
                "Now",
            ]
            .map(String::from)
            .to_vec(),
            rows: self
                .closers
                .iter()
                .map(|c| {
                    vec![
                        c.kind.clone(),
                        c.produced_by.clone(),
                        c.improves.len().to_string(),
                        c.closes_gaps.to_string(),
                        c.failing
                            .as_ref()
                            .map_or_else(|| "absent".to_owned(), |d| format!("failing: {d}")),
                    ]
                })
                .collect(),
        });
        out
    }

    /// `metrics.comply`: the tier and the counts.
    #[must_use]
    pub fn metrics(&self) -> serde_json::Value {
        serde_json::json!({
            "eu_ai_act_tier": self.tier,
            "generative": self.generative,
            "by_framework": self.counts(),
            "closers": self.closers.iter().map(|c| serde_json::json!({"kind": c.kind, "improves": c.improves.len(), "closes_gaps": c.closes_gaps})).collect::<Vec<_>>(),
        })
    }
}

fn finding(
    rule: &aisec_core::Rule,
    severity: Severity,
    config: &str,
    key: &str,
    message: String,
    evidence: serde_json::Value,
) -> Finding {
    let id = RuleId::new(rule.id);
    let location = Location::file(config);
    Finding {
        fingerprint: Finding::fingerprint_of(&id, &location, key),
        rule: id,
        title: rule.title.to_owned(),
        severity,
        confidence: Confidence::Certain,
        message,
        location,
        evidence,
        taxonomy: Taxonomy::default(),
        remediation: rule.remediation.to_owned(),
    }
}
