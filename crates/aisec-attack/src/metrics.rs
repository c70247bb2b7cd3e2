//! What an evasion run measured: robust accuracy, success, perturbation norms, queries, time.

use aisec_ml::candle::Tensor;
use aisec_ml::{Classifier, Queries};
use serde::Serialize;

use crate::error::Result;
use crate::evasion::{Goal, Norm, row_norms};

/// The outcome of one attack at one setting.
#[derive(Debug, Clone, Serialize)]
pub struct EvasionMetrics {
    /// Rows attacked.
    pub samples: usize,
    /// Accuracy on the clean rows.
    pub clean_accuracy: f64,
    /// Accuracy on the adversarial rows.
    pub robust_accuracy: f64,
    /// Of the rows the model got right, the share where the attack met its goal.
    pub success_rate: f64,
    /// Mean L2 norm of the perturbation over successful rows (0 when none).
    pub mean_l2: f64,
    /// Largest L2 norm over successful rows.
    pub max_l2: f64,
    /// Mean Linf norm over successful rows.
    pub mean_linf: f64,
    /// Largest Linf norm over successful rows.
    pub max_linf: f64,
    /// Queries the attack made.
    pub queries: Queries,
    /// Wall time of the attack in seconds.
    pub seconds: f64,
    /// Rows per second.
    pub samples_per_second: f64,
}

/// Per-row outcome, kept so curves can be drawn for minimum-norm attacks.
#[derive(Debug, Clone, Serialize)]
pub struct RowOutcome {
    /// The model was right on the clean row.
    pub clean_correct: bool,
    /// The model is right on the adversarial row.
    pub adversarial_correct: bool,
    /// The attack's goal was met.
    pub success: bool,
    /// L2 norm of the perturbation.
    pub l2: f32,
    /// Linf norm of the perturbation.
    pub linf: f32,
}

/// Judges adversarial rows against clean ones. Predictions here are not charged to the
/// attack: the caller snapshots the attack's queries before calling.
pub fn judge(
    model: &dyn Classifier,
    x: &Tensor,
    x_adv: &Tensor,
    goal: &Goal,
) -> Result<Vec<RowOutcome>> {
    let clean = model.predict_labels(x)?;
    let adv = model.predict_labels(x_adv)?;
    let achieved = goal.achieved(&adv);
    let delta = (x_adv - x)?;
    let l2 = row_norms(&delta, Norm::L2)?.to_vec1::<f32>()?;
    let linf = row_norms(&delta, Norm::Linf)?.to_vec1::<f32>()?;
    Ok((0..clean.len())
        .map(|i| RowOutcome {
            clean_correct: clean[i] == goal.labels[i],
            adversarial_correct: adv[i] == goal.labels[i],
            success: clean[i] == goal.labels[i] && achieved[i],
            l2: l2[i],
            linf: linf[i],
        })
        .collect())
}

/// Sums per-row outcomes into metrics.
#[must_use]
pub fn summarize(rows: &[RowOutcome], queries: Queries, seconds: f64) -> EvasionMetrics {
    let n = rows.len().max(1) as f64;
    let clean = rows.iter().filter(|r| r.clean_correct).count();
    let robust = rows.iter().filter(|r| r.adversarial_correct).count();
    let wins: Vec<&RowOutcome> = rows.iter().filter(|r| r.success).collect();
    let mean = |f: fn(&RowOutcome) -> f32| {
        if wins.is_empty() {
            0.0
        } else {
            wins.iter().map(|r| f64::from(f(r))).sum::<f64>() / wins.len() as f64
        }
    };
    let max = |f: fn(&RowOutcome) -> f32| wins.iter().map(|r| f64::from(f(r))).fold(0.0, f64::max);
    EvasionMetrics {
        samples: rows.len(),
        clean_accuracy: clean as f64 / n,
        robust_accuracy: robust as f64 / n,
        success_rate: if clean == 0 {
            0.0
        } else {
            wins.len() as f64 / clean as f64
        },
        mean_l2: mean(|r| r.l2),
        max_l2: max(|r| r.l2),
        mean_linf: mean(|r| r.linf),
        max_linf: max(|r| r.linf),
        queries,
        seconds,
        samples_per_second: if seconds > 0.0 {
            rows.len() as f64 / seconds
        } else {
            0.0
        },
    }
}

/// Robust accuracy at `eps` read off a minimum-norm attack: a row stays correct when the model
/// was right and the attack failed or needed more than `eps`.
#[must_use]
pub fn robust_accuracy_at(rows: &[RowOutcome], norm: Norm, eps: f32) -> f64 {
    let n = rows.len().max(1) as f64;
    rows.iter()
        .filter(|r| {
            let size = match norm {
                Norm::Linf => r.linf,
                Norm::L2 => r.l2,
            };
            r.clean_correct && (!r.success || size > eps)
        })
        .count() as f64
        / n
}
