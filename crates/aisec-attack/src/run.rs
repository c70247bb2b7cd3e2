//! Runs one evasion attack over a data set at every perturbation budget the user asked for, and
//! turns the measurements into findings, a robust-accuracy curve and example pictures.
//!
//! The rows are cut into batches; each batch draws its randomness from its own generator derived
//! from the seed and the batch index, so results do not depend on how many threads run them.

use std::time::Instant;

use aisec_core::{Confidence, Finding, Location, Series};
use aisec_ml::candle::Tensor;
use aisec_ml::{Classifier, Queries, Rng};
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{AttackError, Result};
use crate::evasion::{Access, EvasionAttack, Goal, Norm};
use crate::metrics::{EvasionMetrics, RowOutcome, judge, robust_accuracy_at, summarize};
use crate::rules::{detector_severity, evasion_severity, finding, rule};
use crate::visual::GridRow;

/// Makes the attack for one budget (`Some(eps)`), or the minimum-norm attack (`None`).
pub type AttackFactory<'a> = dyn Fn(Option<f32>) -> Result<Box<dyn EvasionAttack>> + Sync + 'a;

/// Flags rows a detector considers adversarial.
pub type Detector<'a> = dyn Fn(&Tensor) -> Result<Vec<bool>> + Sync + 'a;

/// What to run.
#[derive(Debug, Clone)]
pub struct EvasionPlan {
    /// Budgets, ascending. For minimum-norm attacks they are where the curve is read.
    pub eps: Vec<f32>,
    /// The budget the user declares as the threat model; findings are judged there.
    pub threat_eps: Option<f32>,
    /// Rows per batch.
    pub batch_size: usize,
    /// Seed of every batch's generator.
    pub seed: u64,
    /// Example rows kept for the picture grid.
    pub grid_rows: usize,
}

/// A detector's result at one budget.
#[derive(Debug, Clone, Serialize)]
pub struct Detection {
    /// Successful adversarial rows judged.
    pub adversarial_rows: usize,
    /// Of those, the share the detector flagged.
    pub detection_rate: f64,
}

/// The result at one budget.
#[derive(Debug, Clone, Serialize)]
pub struct EpsPoint {
    /// The budget.
    pub eps: f32,
    /// Accuracy under attack at this budget.
    pub robust_accuracy: f64,
    /// Full metrics of the run at this budget (eps-bounded attacks only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<EvasionMetrics>,
    /// The detector's result, when one was measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detection: Option<Detection>,
}

/// Everything one attack measured.
#[derive(Debug, Clone, Serialize)]
pub struct EvasionRun {
    /// The attack's name.
    pub attack: String,
    /// The norm it bounds or minimises.
    pub norm: Norm,
    /// What it needed from the model.
    pub access: Access,
    /// The model's name.
    pub model: String,
    /// Rows attacked.
    pub samples: usize,
    /// Clean accuracy on those rows.
    pub clean_accuracy: f64,
    /// One point per budget.
    pub points: Vec<EpsPoint>,
    /// The unbounded run of a minimum-norm attack.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_norm: Option<EvasionMetrics>,
    /// Queries over all budgets.
    pub queries: Queries,
    /// Attack time over all budgets, in seconds.
    pub seconds: f64,
    /// Example rows at the threat budget (or the largest), for pictures.
    #[serde(skip)]
    pub grid: Vec<GridRow>,
    /// The adversarial rows at the threat budget (or the largest).
    #[serde(skip)]
    pub adversarial: Option<Tensor>,
}

impl EvasionRun {
    /// The point at the threat budget (or, without one, the largest budget).
    #[must_use]
    pub fn at_threat(&self, threat_eps: Option<f32>) -> Option<&EpsPoint> {
        match threat_eps {
            Some(t) => self
                .points
                .iter()
                .find(|p| (p.eps - t).abs() <= f32::EPSILON * t.max(1.0)),
            None => self.points.last(),
        }
    }

    /// The robust-accuracy curve, with the clean accuracy at eps 0.
    #[must_use]
    pub fn curve(&self, name: &str) -> Series {
        let mut points = vec![[0.0, self.clean_accuracy]];
        points.extend(
            self.points
                .iter()
                .map(|p| [f64::from(p.eps), p.robust_accuracy]),
        );
        Series {
            name: name.to_owned(),
            points,
        }
    }
}

/// Runs the attack on every row of `x` at every budget of the plan.
pub fn run_evasion(
    model: &dyn Classifier,
    x: &Tensor,
    goal: &Goal,
    plan: &EvasionPlan,
    make: &AttackFactory<'_>,
    detector: Option<&Detector<'_>>,
) -> Result<EvasionRun> {
    let n = x.dim(0)?;
    if n == 0 || n != goal.labels.len() {
        return Err(AttackError::Parameter(format!(
            "{n} rows and {} labels",
            goal.labels.len()
        )));
    }
    if plan.batch_size == 0 {
        return Err(AttackError::Parameter("batch size must be positive".into()));
    }
    let mut eps = plan.eps.clone();
    if let Some(t) = plan.threat_eps
        && !eps
            .iter()
            .any(|e| (e - t).abs() <= f32::EPSILON * t.max(1.0))
    {
        eps.push(t);
    }
    eps.sort_by(f32::total_cmp);
    eps.dedup();
    if eps.iter().any(|e| !e.is_finite() || *e < 0.0) {
        return Err(AttackError::Parameter(
            "every eps must be a non-negative number".into(),
        ));
    }
    let probe = make(eps.first().copied())?;
    let (name, norm, access) = (probe.name().to_owned(), probe.norm(), probe.access());
    let bounded = probe.eps().is_some();
    let threat = plan.threat_eps.or_else(|| eps.last().copied());

    let mut run = EvasionRun {
        attack: name,
        norm,
        access,
        model: model.info().name.clone(),
        samples: n,
        clean_accuracy: 0.0,
        points: Vec::new(),
        minimum_norm: None,
        queries: Queries::default(),
        seconds: 0.0,
        grid: Vec::new(),
        adversarial: None,
    };
    let settings: Vec<Option<f32>> = if bounded {
        eps.iter().map(|e| Some(*e)).collect()
    } else {
        vec![None]
    };
    for setting in settings {
        let attack = make(setting)?;
        model.reset_queries();
        let started = Instant::now();
        let x_adv = generate_batched(attack.as_ref(), model, x, goal, plan)?;
        let seconds = started.elapsed().as_secs_f64();
        let queries = model.queries();
        // Judging is ours, not the attacker's: it must not spend (or be refused by) the budget.
        model.reset_queries();
        let rows = judge(model, x, &x_adv, goal)?;
        let metrics = summarize(&rows, queries, seconds);
        run.clean_accuracy = metrics.clean_accuracy;
        run.queries.predictions += queries.predictions;
        run.queries.gradients += queries.gradients;
        run.seconds += seconds;
        let keep_examples = setting.is_none() || setting == threat;
        if keep_examples {
            run.grid = grid_rows(x, &x_adv, &rows, plan.grid_rows)?;
        }
        // The detector runs once per setting; each budget reads its flags.
        let flags = match detector {
            Some(d) => Some(d(&x_adv)?),
            None => None,
        };
        match setting {
            Some(e) => run.points.push(EpsPoint {
                eps: e,
                robust_accuracy: metrics.robust_accuracy,
                metrics: Some(metrics),
                detection: flags.as_deref().map(|f| detection(f, &rows, |_| true)),
            }),
            None => {
                let size = |r: &RowOutcome| if norm == Norm::Linf { r.linf } else { r.l2 };
                for &e in &eps {
                    run.points.push(EpsPoint {
                        eps: e,
                        robust_accuracy: robust_accuracy_at(&rows, norm, e),
                        metrics: None,
                        detection: flags
                            .as_deref()
                            .map(|f| detection(f, &rows, |r| size(r) <= e)),
                    });
                }
                run.minimum_norm = Some(metrics);
            }
        }
        if keep_examples {
            run.adversarial = Some(x_adv);
        }
    }
    Ok(run)
}

fn generate_batched(
    attack: &dyn EvasionAttack,
    model: &dyn Classifier,
    x: &Tensor,
    goal: &Goal,
    plan: &EvasionPlan,
) -> Result<Tensor> {
    let n = x.dim(0)?;
    let starts: Vec<usize> = (0..n).step_by(plan.batch_size).collect();
    let parts: Vec<Tensor> = starts
        .par_iter()
        .enumerate()
        .map(|(b, &start)| {
            let len = plan.batch_size.min(n - start);
            let idx: Vec<usize> = (start..start + len).collect();
            let mut rng = Rng::new(plan.seed ^ (b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            attack.generate(
                model,
                &x.narrow(0, start, len)?,
                &goal.select(&idx),
                &mut rng,
            )
        })
        .collect::<Result<_>>()?;
    Ok(Tensor::cat(&parts, 0)?)
}

fn grid_rows(x: &Tensor, x_adv: &Tensor, rows: &[RowOutcome], k: usize) -> Result<Vec<GridRow>> {
    let mut out = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        if out.len() >= k {
            break;
        }
        if r.success {
            out.push(GridRow {
                original: x.get(i)?.flatten_all()?.to_vec1::<f32>()?,
                adversarial: x_adv.get(i)?.flatten_all()?.to_vec1::<f32>()?,
            });
        }
    }
    Ok(out)
}

/// The share of successful adversarial rows (those `within` keeps) that the detector flagged.
fn detection(
    flags: &[bool],
    rows: &[RowOutcome],
    within: impl Fn(&RowOutcome) -> bool,
) -> Detection {
    let wins: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].success && within(&rows[i]))
        .collect();
    let caught = wins.iter().filter(|&&i| flags[i]).count();
    Detection {
        adversarial_rows: wins.len(),
        detection_rate: if wins.is_empty() {
            0.0
        } else {
            caught as f64 / wins.len() as f64
        },
    }
}

/// The findings of a run: AT100 at the threat budget and, with a detector, AT101.
#[must_use]
pub fn findings(
    run: &EvasionRun,
    threat_eps: Option<f32>,
    detector_fpr: Option<f64>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(point) = run.at_threat(threat_eps) else {
        return out;
    };
    let location = Location::file(run.model.clone());
    let key = format!("{}:{}:{}", run.attack, run.norm, point.eps);
    let severity = evasion_severity(run.clean_accuracy, point.robust_accuracy);
    let message = format!(
        "{} ({} {}, eps {}) lowers accuracy from {:.3} to {:.3} on {} inputs: {:.1}% of the correctly classified inputs were turned.",
        run.attack,
        run.norm,
        match run.access {
            Access::WhiteBox => "white-box",
            Access::Scores => "score-based black-box",
            Access::Decisions => "decision-based black-box",
        },
        point.eps,
        run.clean_accuracy,
        point.robust_accuracy,
        run.samples,
        if run.clean_accuracy > 0.0 {
            100.0 * (1.0 - point.robust_accuracy / run.clean_accuracy)
        } else {
            0.0
        }
    );
    out.push(finding(
        "AT100",
        severity,
        Confidence::Certain,
        &location,
        &key,
        message,
        serde_json::json!({
            "attack": run.attack,
            "norm": run.norm,
            "eps": point.eps,
            "threat_eps_declared": threat_eps.is_some(),
            "clean_accuracy": run.clean_accuracy,
            "robust_accuracy": point.robust_accuracy,
            "samples": run.samples,
            "queries": run.queries,
            "metrics": point.metrics.as_ref().or(run.minimum_norm.as_ref()),
        }),
    ));
    if let (Some(d), Some(fpr)) = (&point.detection, detector_fpr)
        && d.adversarial_rows > 0
    {
        let missed = 1.0 - d.detection_rate;
        out.push(finding(
            "AT101",
            detector_severity(missed),
            Confidence::Certain,
            &location,
            &key,
            format!(
                "Feature squeezing, calibrated to a {:.1}% false-positive rate on clean inputs, missed {:.1}% of {} successful {} examples at eps {}.",
                fpr * 100.0,
                missed * 100.0,
                d.adversarial_rows,
                run.attack,
                point.eps
            ),
            serde_json::json!({
                "detector": "feature-squeezing",
                "false_positive_rate": fpr,
                "detection_rate": d.detection_rate,
                "adversarial_rows": d.adversarial_rows,
                "eps": point.eps,
            }),
        ));
    }
    out
}

/// AT102: clean and robust accuracy of the model and of its adversarially trained copy, at the
/// threat budget, with the training report as evidence.
#[must_use]
pub fn hardened_finding(
    plain: &EvasionRun,
    hard: &EvasionRun,
    threat_eps: Option<f32>,
    training: &aisec_ml::TrainReport,
) -> Finding {
    let robust = |run: &EvasionRun| run.at_threat(threat_eps).map_or(0.0, |p| p.robust_accuracy);
    let eps = plain.at_threat(threat_eps).map_or(0.0, |p| p.eps);
    finding(
        "AT102",
        rule("AT102").severity,
        Confidence::Certain,
        &Location::file(plain.model.clone()),
        &format!("{}:{}:{eps}", plain.attack, plain.norm),
        format!(
            "At eps {eps}, {} leaves the model {:.3} robust accuracy and the adversarially trained copy {:.3}; clean accuracy {:.3} against {:.3}.",
            plain.attack,
            robust(plain),
            robust(hard),
            plain.clean_accuracy,
            hard.clean_accuracy
        ),
        serde_json::json!({
            "eps": eps,
            "model": { "clean_accuracy": plain.clean_accuracy, "robust_accuracy": robust(plain) },
            "adv_trained": { "clean_accuracy": hard.clean_accuracy, "robust_accuracy": robust(hard) },
            "training": training,
        }),
    )
}
