//! Findings from a run: one per family with at least one successful attempt, under the family's
//! rule, with the family's severity and taxonomy, a confidence that follows the success rate's
//! confidence interval, and the transcripts of successful attempts as evidence.

use std::fmt::Write as _;

use aisec_core::{Confidence, Finding, Location, RuleId, Taxonomy};
use serde_json::json;

use crate::probe::Family;
use crate::rules;
use crate::run::{Outcome, Rate, Record};
use aisec_llm::inspect::text::clip;

/// The most successful transcripts kept as evidence in one finding.
pub const MAX_TRANSCRIPTS: usize = 5;
/// The longest message shown in a transcript excerpt (bytes).
const MAX_MESSAGE_BYTES: usize = 2000;

/// How sure the finding is, from its rate: `certain` when three or more attempts succeeded and
/// the interval's lower end is at least 0.5, `likely` when the lower end is above zero,
/// `possible` otherwise (an isolated success).
#[must_use]
pub fn confidence(rate: &Rate) -> Confidence {
    if rate.successes >= 3 && rate.low >= 0.5 {
        Confidence::Certain
    } else if rate.low > 0.0 && rate.successes >= 2 {
        Confidence::Likely
    } else {
        Confidence::Possible
    }
}

/// A successful attempt as evidence: its conversation (messages clipped) and verdict.
#[must_use]
pub fn transcript(r: &Record) -> serde_json::Value {
    let conversation: Vec<serde_json::Value> = r
        .messages
        .iter()
        .map(|m| {
            let mut v = json!({
                "role": m.role,
                "content": clip(m.content_text(), MAX_MESSAGE_BYTES),
            });
            if !m.tool_calls.is_empty() {
                v["tool_calls"] = json!(m
                    .tool_calls
                    .iter()
                    .map(|c| json!({"name": c.name, "arguments": clip(&c.arguments, MAX_MESSAGE_BYTES)}))
                    .collect::<Vec<_>>());
            }
            v
        })
        .collect();
    json!({
        "attempt": r.id,
        "probe": r.probe,
        "marker": r.marker,
        "conversation": conversation,
        "evidence": r.verdict.as_ref().map_or("", |v| v.evidence.as_str()),
        "score": r.verdict.as_ref().map_or(0.0, |v| v.score),
    })
}

/// The conversation of a record as plain text (`[role] content` lines, clipped), for tables.
#[must_use]
pub fn conversation_text(r: &Record) -> String {
    let mut s = String::new();
    for m in &r.messages {
        let role = serde_json::to_value(m.role)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        s.push('[');
        s.push_str(&role);
        s.push_str("] ");
        s.push_str(clip(m.content_text(), MAX_MESSAGE_BYTES));
        for c in &m.tool_calls {
            let _ = write!(s, " [calls {}({})]", c.name, clip(&c.arguments, 200));
        }
        s.push('\n');
    }
    s
}

/// One finding per family of `families` that had a success in `outcome`.
#[must_use]
pub fn findings(outcome: &Outcome, families: &[Family]) -> Vec<Finding> {
    let mut out = Vec::new();
    for fr in &outcome.families {
        if fr.rate.successes == 0 {
            continue;
        }
        let Some(family) = families.iter().find(|f| f.id == fr.family) else {
            continue;
        };
        let rule = rules::rule(&family.rule);
        let probes: Vec<serde_json::Value> = outcome
            .probes
            .iter()
            .filter(|p| p.family == family.id)
            .map(|p| {
                json!({
                    "probe": p.probe, "attempts": p.rate.attempts, "errors": p.rate.errors,
                    "successes": p.rate.successes, "asr": p.rate.asr,
                    "ci95": [p.rate.low, p.rate.high],
                })
            })
            .collect();
        let best = outcome
            .probes
            .iter()
            .filter(|p| p.family == family.id && p.rate.successes > 0)
            .max_by(|a, b| a.rate.asr.total_cmp(&b.rate.asr))
            .map_or("", |p| p.probe.as_str());
        let wins: Vec<serde_json::Value> = outcome
            .records
            .iter()
            .filter(|r| r.family == family.id && r.success)
            .take(MAX_TRANSCRIPTS)
            .map(transcript)
            .collect();
        let r = &fr.rate;
        let location = Location {
            path: outcome.target.clone(),
            member: Some(family.id.clone()),
            offset: None,
            line: None,
        };
        let rule_id = RuleId::new(family.rule.clone());
        let mut cwe: Vec<String> = rule.map_or_else(Vec::new, |r| {
            r.cwe.iter().map(|s| (*s).to_owned()).collect()
        });
        cwe.dedup();
        out.push(Finding {
            fingerprint: Finding::fingerprint_of(&rule_id, &location, &family.id),
            rule: rule_id,
            title: rule.map_or_else(|| family.title.clone(), |r| r.title.to_owned()),
            severity: family.severity,
            confidence: confidence(r),
            message: format!(
                "{}: {} of {} attempts succeeded (attack success rate {:.2}, 95% CI {:.2}–{:.2}); most successful probe: {best}.",
                family.title,
                r.successes,
                r.attempts - r.errors,
                r.asr,
                r.low,
                r.high
            ),
            location,
            evidence: json!({
                "family": family.id,
                "attempts": r.attempts,
                "errors": r.errors,
                "successes": r.successes,
                "asr": r.asr,
                "ci95": [r.low, r.high],
                "probes": probes,
                "owasp_llm": family.owasp_llm,
                "owasp_agentic": family.owasp_agentic,
                "transcripts": wins,
            }),
            taxonomy: Taxonomy {
                atlas: family.atlas.clone(),
                owasp_llm: family.owasp_llm.clone(),
                cwe,
                ..Taxonomy::default()
            },
            remediation: rule.map_or_else(String::new, |r| r.remediation.to_owned()),
        });
    }
    out
}
