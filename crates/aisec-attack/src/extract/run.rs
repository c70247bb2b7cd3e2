//! `aisec attack extract` as a library: run the chosen extraction methods against the model and
//! against each hardened version of it, measure what hardening costs, screen every query stream
//! with PRADA, and turn the figures into findings.

use std::time::Instant;

use aisec_ml::candle::Tensor;
use aisec_ml::{Classifier, Network};
use serde::Serialize;

use super::equation_solving::{
    EquationSolving, EquationSolvingOutcome, Status, extract_log_linear,
};
use super::hardening::{Hardened, OutputDefense};
use super::knockoff::{Evaluation, Knockoff, KnockoffOutcome, Labels, Strategy, knockoff};
use super::prada::{Prada, Screening, screen};
use super::{PoolKind, QueryStream, agreement, argmax, ask, synthetic_pool};
use crate::error::{AttackError, Result};

/// An extraction method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Tramèr et al.'s equation solving (log-linear models).
    EquationSolving,
    /// Knockoff Nets with a sampling strategy (soft labels).
    Knockoff(Strategy),
    /// Copycat (hard labels, random sampling).
    Copycat,
}

impl Method {
    /// The name reports use: `equation-solving`, `knockoff-random`, `knockoff-adaptive`, `copycat`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::EquationSolving => "equation-solving",
            Self::Knockoff(Strategy::Random) => "knockoff-random",
            Self::Knockoff(Strategy::Adaptive) => "knockoff-adaptive",
            Self::Copycat => "copycat",
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct ExtractPlan {
    /// The methods, in order.
    pub methods: Vec<Method>,
    /// The learning-based attacks' settings (budgets, surrogate, recipe, bandit); the strategy
    /// and labels are set per method.
    pub knockoff: Knockoff,
    /// Equation solving's settings.
    pub equation_solving: EquationSolving,
    /// Output defenses to measure, each in front of the model.
    pub defenses: Vec<OutputDefense>,
    /// PRADA, screening every query stream and a benign one.
    pub prada: Option<Prada>,
}

/// The attacker's pool.
#[derive(Debug, Clone, Copy)]
pub struct PoolSource<'a> {
    /// Data rows, or synthetic rows made from them.
    pub kind: PoolKind,
    /// The attacker's rows (`[P, ...input_shape]`; for a synthetic pool the reference of the
    /// Gaussian, unused by noise).
    pub rows: &'a Tensor,
    /// What they are, for reports.
    pub name: &'a str,
}

/// The pool as used.
#[derive(Debug, Clone, Serialize)]
pub struct PoolSummary {
    /// Kind.
    pub kind: PoolKind,
    /// Where it came from.
    pub source: String,
    /// Rows available.
    pub rows: usize,
}

/// What one output defense costs the model's users.
#[derive(Debug, Clone, Serialize)]
pub struct HardeningCost {
    /// The defense.
    pub defense: OutputDefense,
    /// Its name.
    pub name: String,
    /// Top-1 accuracy of the hardened answers on the test rows.
    pub accuracy: f64,
    /// The plain model's minus the hardened model's accuracy.
    pub accuracy_cost: f64,
    /// The share of test rows whose top class the defense leaves unchanged.
    pub agreement: f64,
}

/// Equation solving's result with the fitted model measured.
#[derive(Debug, Clone, Serialize)]
pub struct EquationSolvingResult {
    /// The extraction's own figures.
    #[serde(flatten)]
    pub outcome: EquationSolvingOutcome,
    /// Agreement of the linear fit with the model on the test rows.
    pub fidelity: Option<f64>,
    /// The fit's accuracy on the test labels.
    pub accuracy: Option<f64>,
}

/// One method against one target (the model, or the model behind a defense).
#[derive(Debug, Clone, Serialize)]
pub struct AttackRun {
    /// The method.
    pub method: Method,
    /// Its name.
    pub name: String,
    /// The defense in front of the model (`none` for the plain model).
    pub defense: String,
    /// Equation solving's result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub equation_solving: Option<EquationSolvingResult>,
    /// The learning-based attack's curve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub knockoff: Option<KnockoffOutcome>,
    /// PRADA on this attack's query stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prada: Option<Screening>,
    /// Queries sent.
    pub queries: usize,
    /// Seconds.
    pub seconds: f64,
}

impl AttackRun {
    /// `knockoff-random`, or `knockoff-random vs round-4` against a hardened model.
    #[must_use]
    pub fn label(&self) -> String {
        if self.defense == "none" {
            self.name.clone()
        } else {
            format!("{} vs {}", self.name, self.defense)
        }
    }

    /// The smallest number of queries at which the copy reached `fidelity`.
    #[must_use]
    pub fn queries_to(&self, fidelity: f64) -> Option<usize> {
        if let Some(es) = &self.equation_solving {
            return (es.outcome.status == Status::Exact
                && es.fidelity.is_some_and(|f| f >= fidelity))
            .then_some(es.outcome.queries);
        }
        self.knockoff.as_ref().and_then(|k| {
            k.points
                .iter()
                .find(|p| p.fidelity >= fidelity)
                .map(|p| p.queries)
        })
    }

    /// The best fidelity reached.
    #[must_use]
    pub fn best_fidelity(&self) -> Option<f64> {
        if let Some(es) = &self.equation_solving {
            return es.fidelity;
        }
        self.knockoff
            .as_ref()
            .and_then(|k| k.points.iter().map(|p| p.fidelity).reduce(f64::max))
    }

    /// The fidelity of the copy trained on the queries answered before PRADA's alarm (the
    /// largest budget point at or below it).
    #[must_use]
    pub fn fidelity_before_alarm(&self) -> Option<f64> {
        let screening = self.prada.as_ref()?;
        self.knockoff.as_ref().and_then(|k| {
            k.points
                .iter()
                .rev()
                .find(|p| p.queries <= screening.answered_before_alarm)
                .map(|p| p.fidelity)
        })
    }
}

/// PRADA's figures on natural traffic.
#[derive(Debug, Clone, Serialize)]
pub struct PradaBenign {
    /// The settings.
    pub config: Prada,
    /// The test rows in their natural order.
    pub benign: Screening,
}

/// Everything an extraction run measured.
#[derive(Debug, Clone, Serialize)]
pub struct ExtractRun {
    /// The model.
    pub victim: String,
    /// Its classes.
    pub classes: usize,
    /// Elements per input.
    pub input_dim: usize,
    /// Test rows.
    pub test_rows: usize,
    /// The plain model's accuracy on them.
    pub victim_accuracy: f64,
    /// The pool.
    pub pool: PoolSummary,
    /// Query budgets of the learning-based attacks.
    pub budgets: Vec<usize>,
    /// The surrogate's layers, in words.
    pub surrogate: String,
    /// What each output defense costs.
    pub hardening: Vec<HardeningCost>,
    /// Every method against every target.
    pub attacks: Vec<AttackRun>,
    /// PRADA on benign traffic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prada: Option<PradaBenign>,
    /// Wall time.
    pub seconds: f64,
    /// The copies: `(attack label, model)`; exact equation-solving fits and each learning-based
    /// attack's copy at its largest budget.
    #[serde(skip)]
    pub copies: Vec<(String, Network)>,
}

/// Progress messages.
pub type Progress<'a> = dyn FnMut(&str) + 'a;

/// Runs the plan against `victim`, measuring copies on `test` (rows and labels).
pub fn run_extract(
    victim: &dyn Classifier,
    pool: PoolSource<'_>,
    test: (&Tensor, &[u32]),
    plan: &ExtractPlan,
    progress: &mut Progress<'_>,
) -> Result<ExtractRun> {
    let started = Instant::now();
    let info = victim.info().clone();
    let (test_x, test_labels) = test;
    if plan.methods.is_empty() {
        return Err(AttackError::Parameter("no extraction method".into()));
    }
    for d in &plan.defenses {
        d.validate()?;
    }
    if let Some(p) = &plan.prada {
        p.validate()?;
    }
    let victim_answers = ask(victim, test_x)?;
    let victim_labels: Vec<u32> = victim_answers.iter().map(|a| argmax(a) as u32).collect();
    let victim_accuracy = agreement(&victim_labels, test_labels);
    let largest = plan.knockoff.budgets.last().copied().unwrap_or(0);
    let learning = plan
        .methods
        .iter()
        .any(|m| !matches!(m, Method::EquationSolving));
    let pool_rows = match pool.kind {
        PoolKind::Data => pool.rows.clone(),
        kind if learning => synthetic_pool(
            kind,
            (2 * largest).clamp(1, super::MAX_STREAM),
            &info,
            Some(pool.rows),
            plan.knockoff.seed,
        )?,
        _ => pool.rows.clone(),
    };
    let summary = PoolSummary {
        kind: pool.kind,
        source: match pool.kind {
            PoolKind::Data => pool.name.to_owned(),
            PoolKind::Noise => "uniform noise over the input range".into(),
            PoolKind::Gaussian => format!("Gaussian around {}", pool.name),
        },
        rows: pool_rows.dim(0)?,
    };

    let mut hardening = Vec::new();
    let mut targets: Vec<(String, Option<OutputDefense>)> = vec![("none".into(), None)];
    for d in &plan.defenses {
        let hardened = Hardened::new(victim, *d);
        let labels: Vec<u32> = ask(&hardened, test_x)?
            .iter()
            .map(|a| argmax(a) as u32)
            .collect();
        let accuracy = agreement(&labels, test_labels);
        hardening.push(HardeningCost {
            defense: *d,
            name: d.name(),
            accuracy,
            accuracy_cost: victim_accuracy - accuracy,
            agreement: agreement(&labels, &victim_labels),
        });
        targets.push((d.name(), Some(*d)));
    }

    let eval = Evaluation {
        x: test_x,
        labels: test_labels,
        victim: &victim_labels,
    };
    let mut attacks = Vec::new();
    let mut copies = Vec::new();
    for (target, defense) in &targets {
        let hardened = defense.map(|d| Hardened::new(victim, d));
        let model: &dyn Classifier = match &hardened {
            Some(h) => h,
            None => victim,
        };
        for &method in &plan.methods {
            progress(&format!(
                "{} against the model{}",
                method.name(),
                if target == "none" {
                    String::new()
                } else {
                    format!(" behind {target}")
                }
            ));
            let t = Instant::now();
            let mut run = AttackRun {
                method,
                name: method.name().to_owned(),
                defense: target.clone(),
                equation_solving: None,
                knockoff: None,
                prada: None,
                queries: 0,
                seconds: 0.0,
            };
            let stream: QueryStream;
            match method {
                Method::EquationSolving => {
                    let (result, fit, s) = equation_solving(model, &plan.equation_solving, eval)?;
                    if result.outcome.status == Status::Exact
                        && let Some(net) = fit
                    {
                        copies.push((run.label(), net));
                    }
                    run.queries = result.outcome.queries;
                    run.equation_solving = Some(result);
                    stream = s;
                }
                Method::Knockoff(_) | Method::Copycat => {
                    let mut attack = plan.knockoff.clone();
                    (attack.strategy, attack.labels) = match method {
                        Method::Knockoff(s) => (s, Labels::Soft),
                        _ => (Strategy::Random, Labels::Hard),
                    };
                    let mut outcome = knockoff(model, &pool_rows, &attack, eval)?;
                    if let Some(net) = outcome.copy.take() {
                        copies.push((run.label(), net));
                    }
                    stream = std::mem::take(&mut outcome.stream);
                    run.queries = stream.len();
                    run.knockoff = Some(outcome);
                }
            }
            if let Some(config) = plan.prada
                && !stream.is_empty()
            {
                run.prada = Some(screen(config, &stream, info.num_classes)?);
            }
            run.seconds = t.elapsed().as_secs_f64();
            attacks.push(run);
        }
    }

    let prada = match plan.prada {
        Some(config) => {
            progress("PRADA on the test rows in their natural order");
            let mut benign = QueryStream::new(info.sample_len());
            benign.push(test_x, &victim_answers)?;
            Some(PradaBenign {
                config,
                benign: screen(config, &benign, info.num_classes)?,
            })
        }
        None => None,
    };
    Ok(ExtractRun {
        victim: info.name.clone(),
        classes: info.num_classes,
        input_dim: info.sample_len(),
        test_rows: test_labels.len(),
        victim_accuracy,
        pool: summary,
        budgets: plan.knockoff.budgets.clone(),
        surrogate: describe(&plan.knockoff.surrogate),
        hardening,
        attacks,
        prada,
        seconds: started.elapsed().as_secs_f64(),
        copies,
    })
}

/// Records the queries equation solving sends (it builds its points itself).
struct Recorder<'a> {
    inner: &'a dyn Classifier,
    stream: std::sync::Mutex<QueryStream>,
}

impl Classifier for Recorder<'_> {
    fn info(&self) -> &aisec_ml::ModelInfo {
        self.inner.info()
    }

    fn predict(&self, x: &Tensor) -> aisec_ml::Result<Tensor> {
        let answers = self.inner.predict(x)?;
        let rows = answers.to_dtype(aisec_ml::DType::F32)?.to_vec2::<f32>()?;
        if let Ok(mut s) = self.stream.lock() {
            s.push(x, &rows)
                .map_err(|e| aisec_ml::MlError::Target(e.to_string()))?;
        }
        Ok(answers)
    }

    fn queries(&self) -> aisec_ml::Queries {
        self.inner.queries()
    }

    fn reset_queries(&self) {
        self.inner.reset_queries();
    }

    fn labels_only(&self) -> bool {
        self.inner.labels_only()
    }
}

fn equation_solving(
    model: &dyn Classifier,
    config: &EquationSolving,
    eval: Evaluation<'_>,
) -> Result<(EquationSolvingResult, Option<Network>, QueryStream)> {
    let recorder = Recorder {
        inner: model,
        stream: std::sync::Mutex::new(QueryStream::new(model.info().sample_len())),
    };
    let extraction = extract_log_linear(&recorder, config)?;
    let (fidelity, accuracy) = match &extraction.fit {
        Some(net) => {
            let predicted = net
                .logits(&eval.x.to_dtype(net.dtype())?)?
                .argmax(1)?
                .to_vec1::<u32>()?;
            (
                Some(agreement(&predicted, eval.victim)),
                Some(agreement(&predicted, eval.labels)),
            )
        }
        None => (None, None),
    };
    let stream = recorder
        .stream
        .into_inner()
        .map_err(|_| AttackError::Parameter("the query recorder failed".into()))?;
    Ok((
        EquationSolvingResult {
            outcome: extraction.outcome,
            fidelity,
            accuracy,
        },
        extraction.fit,
        stream,
    ))
}

/// The layers of an architecture in a few words (`flatten > linear 64x128 > relu > ...`).
#[must_use]
pub fn describe(arch: &aisec_ml::Architecture) -> String {
    use aisec_ml::LayerSpec;
    arch.layers
        .iter()
        .map(|l| match l {
            LayerSpec::Linear {
                in_features,
                out_features,
                ..
            } => format!("linear {in_features}x{out_features}"),
            LayerSpec::Conv2d {
                in_channels,
                out_channels,
                kernel,
                ..
            } => format!("conv {in_channels}>{out_channels} {kernel}x{kernel}"),
            other => other.kind_name().to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" > ")
}

/// The fidelity that counts as a working copy.
pub const FIDELITY_GOAL: f64 = 0.9;

/// The findings of an extraction run against the model at `model` (AT130-AT136).
#[must_use]
pub fn findings(run: &ExtractRun, model: &str) -> Vec<aisec_core::Finding> {
    use crate::rules::{extraction_severity, finding};
    use aisec_core::{Confidence, Location, Severity};
    let location = Location::file(model.to_owned());
    let mut out = Vec::new();
    let curve = |a: &AttackRun| -> serde_json::Value {
        if let Some(es) = &a.equation_solving {
            return serde_json::to_value(es).unwrap_or_default();
        }
        a.knockoff.as_ref().map_or(serde_json::Value::Null, |k| {
            serde_json::json!({
                "points": k.points,
                "stopped": k.stopped,
            })
        })
    };
    let base = |a: &AttackRun| {
        serde_json::json!({
            "method": a.name,
            "defense": a.defense,
            "pool": run.pool,
            "surrogate": run.surrogate,
            "victim_accuracy": run.victim_accuracy,
            "test_rows": run.test_rows,
            "result": curve(a),
        })
    };
    for a in run.attacks.iter().filter(|a| a.defense == "none") {
        if let Some(es) = &a.equation_solving {
            if es.outcome.status == Status::Exact {
                out.push(finding(
                    "AT131",
                    extraction_severity(es.outcome.queries),
                    Confidence::Certain,
                    &location,
                    &a.name,
                    format!(
                        "Equation solving recovered the model's weights from {} queries ({} to solve, {} to check; the bound is K(d+1) = {}): the copy agrees with the model on {:.1}% of the {} test rows.",
                        es.outcome.queries,
                        es.outcome.solve_queries,
                        es.outcome.check_queries,
                        es.outcome.query_bound,
                        es.fidelity.unwrap_or(0.0) * 100.0,
                        run.test_rows
                    ),
                    base(a),
                ));
            }
            continue;
        }
        let Some(k) = &a.knockoff else { continue };
        match a.queries_to(FIDELITY_GOAL) {
            Some(q) => {
                let point = k.points.iter().find(|p| p.queries == q);
                out.push(finding(
                    "AT130",
                    extraction_severity(q),
                    Confidence::Certain,
                    &location,
                    &a.name,
                    format!(
                        "{} copied the model with {q} queries from a {} pool: the surrogate agrees with it on {:.1}% of the test rows (accuracy {:.3}, the model's {:.3}).",
                        a.name,
                        run.pool.kind.name(),
                        point.map_or(0.0, |p| p.fidelity) * 100.0,
                        point.map_or(0.0, |p| p.accuracy),
                        run.victim_accuracy
                    ),
                    base(a),
                ));
            }
            None => out.push(finding(
                "AT132",
                Severity::Info,
                Confidence::Certain,
                &location,
                &a.name,
                format!(
                    "{} did not reach {:.0}% fidelity within {} queries (best {:.1}%).",
                    a.name,
                    FIDELITY_GOAL * 100.0,
                    a.queries,
                    a.best_fidelity().unwrap_or(0.0) * 100.0
                ),
                base(a),
            )),
        }
    }
    for h in &run.hardening {
        let effects: Vec<String> = run
            .attacks
            .iter()
            .filter(|a| a.defense == h.name)
            .map(|a| {
                let plain = run
                    .attacks
                    .iter()
                    .find(|p| p.defense == "none" && p.method == a.method);
                match &a.equation_solving {
                    Some(es) => format!(
                        "equation solving: {:?} (was {})",
                        es.outcome.status,
                        plain.and_then(|p| p.equation_solving.as_ref()).map_or_else(
                            || "not run".into(),
                            |p| format!("{:?}", p.outcome.status)
                        )
                    ),
                    None => format!(
                        "{} best fidelity {:.3} (was {:.3})",
                        a.name,
                        a.best_fidelity().unwrap_or(0.0),
                        plain.and_then(AttackRun::best_fidelity).unwrap_or(0.0)
                    ),
                }
            })
            .collect();
        out.push(finding(
            "AT133",
            Severity::Info,
            Confidence::Certain,
            &location,
            &h.name,
            format!(
                "{} costs {:.3} accuracy ({:.3} against {:.3}); against it, {}.",
                h.name,
                h.accuracy_cost,
                h.accuracy,
                run.victim_accuracy,
                if effects.is_empty() {
                    "no attack was run".to_owned()
                } else {
                    effects.join("; ")
                }
            ),
            serde_json::json!({
                "hardening": h,
                "attacks": run.attacks.iter().filter(|a| a.defense == h.name).map(|a| serde_json::json!({
                    "method": a.name,
                    "result": curve(a),
                })).collect::<Vec<_>>(),
            }),
        ));
    }
    if let Some(p) = &run.prada {
        for a in run.attacks.iter().filter(|a| a.defense == "none") {
            let Some(s) = &a.prada else { continue };
            let evidence = serde_json::json!({
                "method": a.name,
                "prada": p.config,
                "screening": s,
                "benign": p.benign,
            });
            if s.detected {
                out.push(finding(
                    "AT134",
                    Severity::Info,
                    Confidence::Certain,
                    &location,
                    &a.name,
                    format!(
                        "PRADA flagged the {} stream after {} of its {} queries{}.",
                        a.name,
                        s.answered_before_alarm,
                        s.queries,
                        a.fidelity_before_alarm().map_or_else(String::new, |f| format!(
                            "; a copy trained on what it got by then agrees with the model on {:.1}% of the test rows",
                            f * 100.0
                        ))
                    ),
                    evidence,
                ));
            } else {
                let copied = a.queries_to(FIDELITY_GOAL).is_some();
                out.push(finding(
                    "AT135",
                    if copied { Severity::Medium } else { Severity::Low },
                    Confidence::Certain,
                    &location,
                    &a.name,
                    format!(
                        "PRADA (delta {}) did not flag the {} stream in {} queries (lowest W {}){}.",
                        p.config.delta,
                        a.name,
                        s.queries,
                        s.min_w.map_or_else(|| "not tested".into(), |w| format!("{w:.3}")),
                        if copied {
                            format!(
                                ", and that stream reached {:.0}% fidelity",
                                FIDELITY_GOAL * 100.0
                            )
                        } else {
                            String::new()
                        }
                    ),
                    evidence,
                ));
            }
        }
        if p.benign.detected {
            out.push(finding(
                "AT136",
                Severity::Low,
                Confidence::Certain,
                &location,
                "benign",
                format!(
                    "PRADA (delta {}) flagged benign traffic (the {} test rows in their natural order) at query {}; the statistic was below delta at {} of the {} queries tested.",
                    p.config.delta,
                    p.benign.queries,
                    p.benign.answered_before_alarm + 1,
                    p.benign.alarms,
                    p.benign.tested
                ),
                serde_json::to_value(p).unwrap_or_default(),
            ));
        }
    }
    out
}
