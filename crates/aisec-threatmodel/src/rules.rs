//! Threat rules as data: `rules/ai.toml` (the AI threats) and `rules/stride.toml` (STRIDE per
//! element for the classic parts), built in; each rule names the element kinds it applies to,
//! the conditions over their properties, the STRIDE categories, ATLAS technique and mitigation
//! ids, OWASP LLM and Agentic ids, likelihood and impact, and the findings that confirm it or
//! show a control working. Every id is checked against the taxonomies when the rules load.

use std::collections::BTreeMap;

use aisec_taxonomy::{Atlas, Stride, owasp};
use serde::{Deserialize, Serialize};

const AI_RULES: &str = include_str!("../rules/ai.toml");
const STRIDE_RULES: &str = include_str!("../rules/stride.toml");

/// One threat rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreatRule {
    /// `TM100`.
    pub id: String,
    /// One line.
    pub title: String,
    /// Element kinds (`model`, `vector-store`) or `flow`.
    pub applies: Vec<String>,
    /// Conditions that must all hold.
    #[serde(default)]
    pub when: BTreeMap<String, toml::Value>,
    /// Conditions that, all holding, show a control in place: the threat is mitigated.
    #[serde(default)]
    pub unless: BTreeMap<String, toml::Value>,
    /// The control `unless` describes.
    #[serde(default)]
    pub control: Option<String>,
    /// STRIDE categories (`Tampering`).
    pub stride: Vec<String>,
    /// ATLAS technique ids.
    #[serde(default)]
    pub atlas: Vec<String>,
    /// OWASP LLM Top 10 2025 ids.
    #[serde(default)]
    pub owasp_llm: Vec<String>,
    /// OWASP Agentic Top 10 ids.
    #[serde(default)]
    pub owasp_agentic: Vec<String>,
    /// ATLAS mitigation ids.
    #[serde(default)]
    pub mitigations: Vec<String>,
    /// 1 to 5.
    pub likelihood: u8,
    /// 1 to 5.
    pub impact: u8,
    /// What the threat is.
    pub description: String,
    /// What to do.
    pub remediation: String,
    /// Finding rule ids (or prefixes) that confirm it.
    #[serde(default)]
    pub confirmed_by: Vec<String>,
    /// Finding rule ids that show its control working.
    #[serde(default)]
    pub mitigated_by: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    rule: Vec<ThreatRule>,
}

/// Why rules could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("threat rules ({source_name}): {message}")]
pub struct RulesError {
    /// Which file.
    pub source_name: String,
    /// What is wrong.
    pub message: String,
}

/// The conditions a rule may use besides the kind's own properties.
pub const COMPUTED: [&str; 9] = [
    "exposed",
    "reachable",
    "guarded",
    "untrusted",
    "tool_effects",
    "reads_from",
    "reads_data",
    "sends_unauthenticated",
    "crosses_boundary",
];

/// The flow fields a flow rule may test.
pub const FLOW_FIELDS: [&str; 3] = ["encrypted", "authenticated", "data"];

/// The built-in rules, checked.
///
/// # Errors
/// [`RulesError`] when a built-in file does not parse or names an unknown id (a test keeps
/// this from happening).
pub fn builtin() -> Result<Vec<ThreatRule>, RulesError> {
    let mut all = parse(AI_RULES, "rules/ai.toml")?;
    all.extend(parse(STRIDE_RULES, "rules/stride.toml")?);
    check(&all, &Atlas::builtin())?;
    Ok(all)
}

/// Parses one rules file.
///
/// # Errors
/// [`RulesError`] for TOML that is not a rules file.
pub fn parse(text: &str, name: &str) -> Result<Vec<ThreatRule>, RulesError> {
    toml::from_str::<File>(text)
        .map(|f| f.rule)
        .map_err(|e| RulesError {
            source_name: name.to_owned(),
            message: e.to_string(),
        })
}

/// Checks rules: unique ids, known kinds and conditions, ids that exist in `atlas` and the OWASP
/// lists, STRIDE names, scores within 1..=5.
///
/// # Errors
/// [`RulesError`] naming the rule and what is wrong.
pub fn check(rules: &[ThreatRule], atlas: &Atlas) -> Result<(), RulesError> {
    let err = |id: &str, message: String| RulesError {
        source_name: id.to_owned(),
        message,
    };
    let kinds = crate::model::kind_names();
    let mut seen = std::collections::HashSet::new();
    for r in rules {
        if !seen.insert(&r.id) {
            return Err(err(&r.id, "the id is used twice".into()));
        }
        for k in &r.applies {
            if k != "flow" && !kinds.contains(&k.as_str()) {
                return Err(err(&r.id, format!("unknown kind {k:?}")));
            }
        }
        for key in r.when.keys().chain(r.unless.keys()) {
            let known = COMPUTED.contains(&key.as_str())
                || FLOW_FIELDS.contains(&key.as_str())
                || r.applies.iter().any(|k| {
                    crate::model::property_names(k).is_some_and(|p| p.contains(&key.as_str()))
                });
            if !known {
                return Err(err(&r.id, format!("condition on unknown property {key:?}")));
            }
        }
        // A control must be a property of every kind the rule applies to: on a kind without
        // it, the threat could never show as mitigated.
        for key in r.unless.keys() {
            let computed = COMPUTED.contains(&key.as_str()) || FLOW_FIELDS.contains(&key.as_str());
            if let Some(k) = r.applies.iter().find(|k| {
                !computed
                    && *k != "flow"
                    && !crate::model::property_names(k).is_some_and(|p| p.contains(&key.as_str()))
            }) {
                return Err(err(
                    &r.id,
                    format!("control {key:?} is not a property of a {k}"),
                ));
            }
        }
        for s in &r.stride {
            if Stride::parse(s).is_none() {
                return Err(err(&r.id, format!("unknown STRIDE category {s:?}")));
            }
        }
        for t in &r.atlas {
            if atlas.technique(t).is_none() {
                return Err(err(&r.id, format!("unknown ATLAS technique {t}")));
            }
        }
        for m in &r.mitigations {
            if atlas.mitigation(m).is_none() {
                return Err(err(&r.id, format!("unknown ATLAS mitigation {m}")));
            }
        }
        for o in r.owasp_llm.iter().chain(&r.owasp_agentic) {
            if owasp::title(o).is_none() {
                return Err(err(&r.id, format!("unknown OWASP id {o}")));
            }
        }
        if !(1..=5).contains(&r.likelihood) || !(1..=5).contains(&r.impact) {
            return Err(err(&r.id, "likelihood and impact are 1 to 5".into()));
        }
    }
    Ok(())
}
