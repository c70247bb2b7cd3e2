//! Rules over a model: each rule is tried on every element of its kinds (or every flow), and
//! each match is a [`Threat`] with its score and status. Pure: evidence comes in as findings.
//!
//! Scoring (docs/threat-model.md): likelihood and impact come from the rule, 1 to 5; impact
//! rises by one (to at most 5) when the element receives personal data, credentials, secrets,
//! health or financial data; the score is their product, and the severity follows it: 16 and
//! above critical, 10 and above high, 5 and above medium, below that low.
//!
//! Status, strongest first: `confirmed` (a finding from another command shows the threat is
//! real), `accepted` (the owners accept it in the model, with their reason), `mitigated` (the
//! model shows the rule's control in place, or a finding shows a control working), `open`.

use std::collections::{BTreeSet, HashMap, HashSet};

use aisec_core::{Finding, Severity};
use serde::Serialize;
use serde_json::Value;

use crate::model::{Element, Flow, Kind, SystemModel};
use crate::rules::ThreatRule;

/// Data classes that raise a threat's impact.
const SENSITIVE: [&str; 5] = ["pii", "credentials", "secrets", "health", "financial"];

/// Where a threat stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Status {
    /// Nothing shows a control or a confirmation.
    Open,
    /// A control is in place.
    Mitigated {
        /// What the control is.
        control: String,
    },
    /// The owners accept the threat.
    Accepted {
        /// Their reason.
        reason: String,
    },
    /// A finding shows the threat is real.
    Confirmed {
        /// The findings: `RULE at LOCATION`.
        findings: Vec<String>,
    },
}

impl Status {
    /// Its name.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Mitigated { .. } => "mitigated",
            Status::Accepted { .. } => "accepted",
            Status::Confirmed { .. } => "confirmed",
        }
    }
}

/// One threat to one element or flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Threat {
    /// The rule.
    pub rule: String,
    /// The rule's title.
    pub title: String,
    /// The element or flow id.
    pub target: String,
    /// Its name (a flow's is `from -> to`).
    pub target_name: String,
    /// Its kind (`flow` for a flow).
    pub target_kind: String,
    /// Its line in the model file.
    pub line: usize,
    /// STRIDE categories.
    pub stride: Vec<String>,
    /// ATLAS technique ids.
    pub atlas: Vec<String>,
    /// OWASP LLM ids.
    pub owasp_llm: Vec<String>,
    /// OWASP Agentic ids.
    pub owasp_agentic: Vec<String>,
    /// ATLAS mitigation ids.
    pub mitigations: Vec<String>,
    /// 1 to 5.
    pub likelihood: u8,
    /// 1 to 5.
    pub impact: u8,
    /// `likelihood * impact`.
    pub score: u8,
    /// From the score.
    pub severity: Severity,
    /// Where it stands.
    pub status: Status,
}

/// The severity of a score (1..=25).
#[must_use]
pub fn severity_of(score: u8) -> Severity {
    match score {
        16.. => Severity::Critical,
        10..=15 => Severity::High,
        5..=9 => Severity::Medium,
        _ => Severity::Low,
    }
}

/// What a condition looks at: an element or a flow.
enum Subject<'a> {
    Element(&'a Element),
    Flow(&'a Flow),
}

/// What the rules ask of the model's structure, worked out once per evaluation: elements by id,
/// each element's flows in and out, which elements are untrusted, reached from an untrusted one
/// through flows, or protected by a guardrail.
struct Graph<'a> {
    model: &'a SystemModel,
    elements: HashMap<&'a str, &'a Element>,
    inbound: HashMap<&'a str, Vec<&'a Flow>>,
    outbound: HashMap<&'a str, Vec<&'a Flow>>,
    untrusted: HashSet<&'a str>,
    reached: HashSet<&'a str>,
    guarded: HashSet<&'a str>,
}

impl<'a> Graph<'a> {
    fn new(model: &'a SystemModel) -> Self {
        let elements: HashMap<&str, &Element> =
            model.elements.iter().map(|e| (e.id.as_str(), e)).collect();
        let mut inbound: HashMap<&str, Vec<&Flow>> = HashMap::new();
        let mut outbound: HashMap<&str, Vec<&Flow>> = HashMap::new();
        for f in &model.flows {
            inbound.entry(f.to.as_str()).or_default().push(f);
            outbound.entry(f.from.as_str()).or_default().push(f);
        }
        let untrusted: HashSet<&str> = model
            .elements
            .iter()
            .filter(|e| model.untrusted(e))
            .map(|e| e.id.as_str())
            .collect();
        // Every element a flow enters on a path that starts at an untrusted element.
        let mut reached = HashSet::new();
        let mut visited = untrusted.clone();
        let mut frontier: Vec<&str> = untrusted.iter().copied().collect();
        while let Some(at) = frontier.pop() {
            for f in outbound.get(at).into_iter().flatten() {
                reached.insert(f.to.as_str());
                if visited.insert(f.to.as_str()) {
                    frontier.push(f.to.as_str());
                }
            }
        }
        let guarded = model
            .elements
            .iter()
            .filter(|g| g.kind == Kind::Guardrail)
            .flat_map(|g| g.words("protects"))
            .collect();
        Self {
            model,
            elements,
            inbound,
            outbound,
            untrusted,
            reached,
            guarded,
        }
    }

    fn inbound(&self, id: &str) -> &[&'a Flow] {
        self.inbound.get(id).map_or(&[], Vec::as_slice)
    }

    fn outbound(&self, id: &str) -> &[&'a Flow] {
        self.outbound.get(id).map_or(&[], Vec::as_slice)
    }

    /// Whether `flow` crosses a trust boundary (as [`SystemModel::crosses`] says).
    fn crosses(&self, flow: &Flow) -> bool {
        flow.crosses_with(|id| self.elements.get(id).and_then(|e| e.boundary.as_deref()))
    }

    /// The data classes of the flows into `e`.
    fn inbound_data(&self, e: &Element) -> impl Iterator<Item = &'a str> + '_ {
        self.inbound(&e.id)
            .iter()
            .flat_map(|f| f.data.iter().map(String::as_str))
    }
}

/// Every threat the rules find in `model`, with `evidence` (findings of other reports) linked.
#[must_use]
pub fn evaluate(model: &SystemModel, rules: &[ThreatRule], evidence: &[Finding]) -> Vec<Threat> {
    let graph = Graph::new(model);
    let mut out = Vec::new();
    for rule in rules {
        if rule.applies.iter().any(|k| k == "flow") {
            for f in model.flows.iter().filter(|f| !f.out_of_scope) {
                let s = Subject::Flow(f);
                if holds(&graph, &s, &rule.when) {
                    out.push(threat(&graph, rule, &s, evidence));
                }
            }
        }
        for e in model.elements.iter().filter(|e| !e.out_of_scope) {
            if !rule.applies.iter().any(|k| k == e.kind.name()) {
                continue;
            }
            let s = Subject::Element(e);
            if holds(&graph, &s, &rule.when) {
                out.push(threat(&graph, rule, &s, evidence));
            }
        }
    }
    out
}

fn threat(graph: &Graph<'_>, rule: &ThreatRule, s: &Subject<'_>, evidence: &[Finding]) -> Threat {
    let (target, target_name, target_kind, line, path) = match s {
        Subject::Element(e) => (
            e.id.clone(),
            e.name.clone(),
            e.kind.name().to_owned(),
            e.line,
            e.props.get("path").and_then(Value::as_str),
        ),
        Subject::Flow(f) => (
            f.id.clone(),
            format!("{} -> {}", f.from, f.to),
            "flow".to_owned(),
            f.line,
            None,
        ),
    };
    let sensitive = match s {
        Subject::Element(e) => graph.inbound_data(e).any(|d| SENSITIVE.contains(&d)),
        Subject::Flow(f) => f.data.iter().any(|d| SENSITIVE.contains(&d.as_str())),
    };
    let impact = if sensitive {
        (rule.impact + 1).min(5)
    } else {
        rule.impact
    };
    let score = rule.likelihood * impact;
    let matches_target = |f: &Finding| {
        path.is_none_or(|p| {
            let l = f.location.path.as_str();
            !l.is_empty() && (l.ends_with(p) || p.ends_with(l))
        })
    };
    let confirming: Vec<String> = evidence
        .iter()
        .filter(|f| {
            f.severity >= Severity::Medium
                && rule
                    .confirmed_by
                    .iter()
                    .any(|p| f.rule.as_str().starts_with(p.as_str()))
                && matches_target(f)
        })
        .map(|f| format!("{} at {}", f.rule, f.location))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mitigating = evidence
        .iter()
        .find(|f| rule.mitigated_by.iter().any(|p| f.rule.as_str() == p) && matches_target(f));
    let accepted = graph
        .model
        .accepted
        .iter()
        .find(|a| a.rule == rule.id && a.target.as_ref().is_none_or(|t| *t == target));
    let status = if !confirming.is_empty() {
        Status::Confirmed {
            findings: confirming,
        }
    } else if let Some(a) = accepted {
        Status::Accepted {
            reason: a.reason.clone(),
        }
    } else if !rule.unless.is_empty() && holds(graph, s, &rule.unless) {
        Status::Mitigated {
            control: rule
                .control
                .clone()
                .unwrap_or_else(|| "a control in the model".into()),
        }
    } else if let Some(f) = mitigating {
        Status::Mitigated {
            control: format!("{} ({}) at {}", f.title, f.rule, f.location),
        }
    } else {
        Status::Open
    };
    Threat {
        rule: rule.id.clone(),
        title: rule.title.clone(),
        target,
        target_name,
        target_kind,
        line,
        stride: rule.stride.clone(),
        atlas: rule.atlas.clone(),
        owasp_llm: rule.owasp_llm.clone(),
        owasp_agentic: rule.owasp_agentic.clone(),
        mitigations: rule.mitigations.clone(),
        likelihood: rule.likelihood,
        impact,
        score,
        severity: severity_of(score),
        status,
    }
}

/// Whether every condition holds for `s`.
fn holds(
    graph: &Graph<'_>,
    s: &Subject<'_>,
    conditions: &std::collections::BTreeMap<String, toml::Value>,
) -> bool {
    conditions
        .iter()
        .all(|(key, want)| matches(&actual(graph, s, key), want))
}

/// A property's value for a condition: a boolean, a word, or a list of words.
#[derive(Debug)]
enum Actual {
    Bool(bool),
    Words(Vec<String>),
}

fn words<'s>(it: impl Iterator<Item = &'s str>) -> Actual {
    Actual::Words(it.map(str::to_owned).collect())
}

fn actual(graph: &Graph<'_>, s: &Subject<'_>, key: &str) -> Actual {
    match s {
        Subject::Flow(f) => match key {
            "encrypted" => Actual::Bool(f.encrypted),
            "authenticated" => Actual::Bool(f.authenticated),
            "crosses_boundary" => Actual::Bool(graph.crosses(f)),
            "data" => Actual::Words(f.data.clone()),
            _ => Actual::Bool(false),
        },
        Subject::Element(e) => {
            let id = e.id.as_str();
            let from = |f: &&Flow| graph.elements.get(f.from.as_str()).copied();
            match key {
                "exposed" => Actual::Bool(
                    graph
                        .inbound(id)
                        .iter()
                        .any(|f| graph.untrusted.contains(f.from.as_str())),
                ),
                "reachable" => Actual::Bool(graph.reached.contains(id)),
                "guarded" => Actual::Bool(graph.guarded.contains(id)),
                "untrusted" => Actual::Bool(graph.untrusted.contains(id)),
                "tool_effects" => {
                    let tools: BTreeSet<&str> = e
                        .words("tools")
                        .into_iter()
                        .chain(graph.outbound(id).iter().map(|f| f.to.as_str()))
                        .collect();
                    words(
                        tools
                            .into_iter()
                            .filter_map(|t| graph.elements.get(t))
                            .filter(|t| t.kind == Kind::Tool)
                            .filter_map(|t| t.word("side_effects")),
                    )
                }
                "reads_from" => words(
                    graph
                        .inbound(id)
                        .iter()
                        .filter_map(from)
                        .map(|x| x.kind.name()),
                ),
                "reads_data" => words(graph.inbound_data(e)),
                "sends_unauthenticated" => {
                    Actual::Bool(graph.outbound(id).iter().any(|f| !f.authenticated))
                }
                _ => match e.props.get(key) {
                    Some(Value::Bool(b)) => Actual::Bool(*b),
                    Some(Value::String(w)) => Actual::Words(vec![w.clone()]),
                    Some(Value::Array(a)) => words(a.iter().filter_map(Value::as_str)),
                    _ => Actual::Bool(false),
                },
            }
        }
    }
}

fn matches(actual: &Actual, want: &toml::Value) -> bool {
    match (actual, want) {
        (Actual::Bool(a), toml::Value::Boolean(w)) => a == w,
        // An absent word or list property never matches a word.
        (Actual::Bool(_), _) => false,
        (Actual::Words(a), toml::Value::Boolean(w)) => a.is_empty() != *w,
        (Actual::Words(a), toml::Value::String(w)) => a.iter().any(|x| x == w),
        (Actual::Words(a), toml::Value::Array(ws)) => ws
            .iter()
            .filter_map(toml::Value::as_str)
            .any(|w| a.iter().any(|x| x == w)),
        (Actual::Words(_), _) => false,
    }
}
