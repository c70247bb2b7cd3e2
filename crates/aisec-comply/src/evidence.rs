//! Evidence read from aisec reports: for each kind in the mapping, whether a run shows it, shows
//! it failing (the check ran and found a problem), or does not show it.

use std::collections::BTreeMap;

use aisec_core::{Report, Severity};
use serde::Serialize;

/// What the runs show for one kind of evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "detail", rename_all = "kebab-case")]
pub enum State {
    /// The check ran and passed; the detail says what it showed.
    Passing(String),
    /// The check ran and found a problem; the detail says which.
    Failing(String),
}

/// The evidence of a set of runs, by kind. A kind not present is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Evidence {
    states: BTreeMap<String, State>,
}

/// One run's report and the command that made it (`scan`, `verify`, `bom`, `threat-model`,
/// `attack-evasion`, `attack-privacy`, `attack-poison`, `attack-extract`, `defend-backdoor`,
/// `redteam`, `guard`).
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    /// The command.
    pub command: &'a str,
    /// Its report.
    pub report: &'a Report,
}

impl Evidence {
    /// No evidence.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// What the runs show. Several runs of one command combine: a failing one makes the kind
    /// fail.
    #[must_use]
    pub fn from_runs(runs: &[Run<'_>]) -> Self {
        let mut ev = Self::new();
        for run in runs {
            ev.add_run(*run);
        }
        ev
    }

    /// Adds one run.
    pub fn add_run(&mut self, run: Run<'_>) {
        let r = run.report;
        match run.command {
            "scan" => {
                let analysed = r
                    .targets
                    .iter()
                    .filter(|t| t.status == aisec_core::TargetStatus::Analysed)
                    .count();
                if analysed == 0 {
                    return;
                }
                let state = verdict(
                    r,
                    || format!("{analysed} file(s) scanned, nothing at high or critical"),
                    |n, titles| format!("{n} finding(s) at high or critical: {titles}"),
                );
                self.add("scan-clean", state);
            }
            "verify" => {
                let verified = r
                    .findings
                    .iter()
                    .filter(|f| f.rule.as_str() == "PV100")
                    .count();
                let state = match serious(r, Severity::Medium) {
                    (0, _) if verified > 0 => {
                        State::Passing(format!("{verified} signature(s) verified"))
                    }
                    (0, _) => return,
                    (n, titles) => State::Failing(format!("{n} verification problem(s): {titles}")),
                };
                self.add("signature-verified", state);
            }
            "bom" => {
                let bom = r.metrics.get("bom");
                let components = bom
                    .and_then(|b| b.get("components"))
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0);
                self.add(
                    "bom",
                    State::Passing(format!("AI-BOM written with {components} component(s)")),
                );
                let datasets = bom
                    .and_then(|b| b.get("datasets"))
                    .and_then(serde_json::Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(serde_json::Value::as_str)
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                if !datasets.is_empty() {
                    self.add(
                        "dataset-provenance",
                        State::Passing(format!("data set(s) named: {}", datasets.join(", "))),
                    );
                }
            }
            "threat-model" => {
                let threats = r
                    .metrics
                    .get("threat_model")
                    .and_then(|m| m.get("threats"))
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0);
                self.add(
                    "threat-model",
                    State::Passing(format!("{threats} threat(s) analysed")),
                );
                let state = verdict(
                    r,
                    || "no open threat at high or critical".into(),
                    |n, titles| format!("{n} open threat(s) at high or critical: {titles}"),
                );
                self.add("threats-treated", state);
            }
            "attack-evasion" => self.measured(r, "robustness-tested", "evasion attacks ran"),
            "attack-privacy" => self.measured(r, "privacy-tested", "privacy attacks ran"),
            "attack-poison" | "defend-backdoor" => {
                self.measured(r, "poisoning-tested", "poisoning and backdoors measured");
            }
            "attack-extract" => self.measured(r, "extraction-tested", "extraction attacks ran"),
            "redteam" => {
                let attempts = attempts(r);
                let state = verdict(
                    r,
                    || format!("{attempts} attack attempt(s), none at high or critical succeeded"),
                    |n, titles| {
                        format!("{n} kind(s) of attack at high or critical succeeded: {titles}")
                    },
                );
                self.add("redteam-run", state);
            }
            "guard" => {
                let attempts = attempts(r);
                let state = verdict(
                    r,
                    || {
                        format!(
                            "{attempts} attack attempt(s) through the guard, none at high or critical got through"
                        )
                    },
                    |n, titles| {
                        format!(
                            "{n} kind(s) of attack at high or critical still got through the guard: {titles}"
                        )
                    },
                );
                self.add("guard-deployed", state);
                let lines = r
                    .metrics
                    .get("guard")
                    .and_then(|g| g.get("audit_lines"))
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0);
                if lines > 0 {
                    self.add(
                        "logging-on",
                        State::Passing(format!("{lines} audit line(s) written")),
                    );
                }
            }
            _ => {}
        }
    }

    /// Records `state` for `kind`; a failing state wins over a passing one, and details of the
    /// same state are joined.
    pub fn add(&mut self, kind: &str, state: State) {
        let merged = match (self.states.remove(kind), state) {
            (None, s) => s,
            (Some(State::Failing(a)), State::Failing(b)) => State::Failing(format!("{a}; {b}")),
            (Some(State::Failing(a)), State::Passing(_))
            | (Some(State::Passing(_)), State::Failing(a)) => State::Failing(a),
            (Some(State::Passing(a)), State::Passing(b)) => State::Passing(format!("{a}; {b}")),
        };
        self.states.insert(kind.to_owned(), merged);
    }

    /// What the runs show for `kind`, if anything.
    #[must_use]
    pub fn get(&self, kind: &str) -> Option<&State> {
        self.states.get(kind)
    }

    /// Whether `kind` passes.
    #[must_use]
    pub fn passes(&self, kind: &str) -> bool {
        matches!(self.states.get(kind), Some(State::Passing(_)))
    }

    /// Every kind shown, in kind order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &State)> {
        self.states.iter().map(|(k, s)| (k.as_str(), s))
    }

    fn measured(&mut self, r: &Report, kind: &str, ran: &str) {
        let state = verdict(
            r,
            || format!("{ran}, no weakness at high or critical"),
            |n, titles| format!("{n} weakness(es) at high or critical: {titles}"),
        );
        self.add(kind, state);
    }
}

/// Passing (`passing`'s text) when the report has nothing at high or above, else failing with
/// `failing`'s text for the count and the titles.
fn verdict(
    r: &Report,
    passing: impl FnOnce() -> String,
    failing: impl FnOnce(usize, &str) -> String,
) -> State {
    match serious(r, Severity::High) {
        (0, _) => State::Passing(passing()),
        (n, titles) => State::Failing(failing(n, &titles)),
    }
}

/// How many findings are at `at` or above, and their distinct titles (at most three named).
fn serious(r: &Report, at: Severity) -> (usize, String) {
    let hits: Vec<&str> = r
        .findings
        .iter()
        .filter(|f| f.severity >= at)
        .map(|f| f.title.as_str())
        .collect();
    let mut titles: Vec<&str> = hits.clone();
    titles.sort_unstable();
    titles.dedup();
    let more = titles.len().saturating_sub(3);
    let mut text = titles.into_iter().take(3).collect::<Vec<_>>().join("; ");
    if more > 0 {
        use std::fmt::Write as _;
        let _ = write!(text, " and {more} more");
    }
    (hits.len(), text)
}

/// The red team's attempt count, from its metrics.
fn attempts(r: &Report) -> u64 {
    r.metrics
        .get("redteam")
        .and_then(|m| m.get("attempts"))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0)
}
