//! `aisec attack poison` as a library: poison the training set at each rate, train the victim
//! with the user's architecture, and measure clean accuracy and attack success against a twin
//! trained the same way on clean data; then, optionally, the defenses.

use std::time::Instant;

use aisec_ml::candle::Tensor;
use aisec_ml::train::{TrainConfig, TrainReport, accuracy, train};
use aisec_ml::{Architecture, LocalModel, Network, Rng};
use serde::Serialize;

use super::{Labelled, PoisonAttack, PoisonedSet, attack_success, poison};
use crate::defense::activation_clustering::ActivationClustering;
use crate::defense::fine_pruning::{FinePruneReport, FinePruning, fine_prune};
use crate::defense::spectral_signatures::SpectralSignatures;
use crate::defense::training_set::{PoisonDetection, conv_feature_layer, score_detection};
use crate::error::{AttackError, Result};
use crate::evasion::select_rows;
use crate::visual::GridRow;

/// What to run.
#[derive(Debug, Clone)]
pub struct PoisonPlan {
    /// The attack.
    pub attack: PoisonAttack,
    /// Poisoning rates (shares of the training rows), ascending.
    pub rates: Vec<f64>,
    /// How the victim (and its clean twin) are trained.
    pub train: TrainConfig,
    /// Seed of the victim's initial weights (the twin gets the same).
    pub init_seed: u64,
    /// Seed of the poisoning choices.
    pub seed: u64,
    /// Poisoned examples kept for the picture grid.
    pub grid_rows: usize,
    /// Fine-pruning of each victim, with the defender's trusted clean data.
    pub fine_pruning: Option<FinePruning>,
    /// The share of the clean training rows the defender trusts (fine-pruning's data).
    pub trusted_fraction: f64,
    /// Activation clustering of each poisoned training set, then retraining without the flagged
    /// rows. With `layer: None`, the last convolution block of a CNN, else the penultimate
    /// representation.
    pub activation_clustering: Option<ActivationClustering>,
    /// Spectral signatures, the same way.
    pub spectral_signatures: Option<SpectralSignatures>,
}

/// A model's accuracy on clean test rows and the attack's success on it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Measure {
    /// Accuracy on the clean test rows.
    pub clean_accuracy: f64,
    /// Attack success rate (see [`super::attack_success`]).
    pub attack_success: Option<f64>,
}

/// A defense's result on one victim.
#[derive(Debug, Clone, Serialize)]
pub struct DefenseOutcome {
    /// The defense (`fine-pruning`, `activation-clustering`, `spectral-signatures`).
    pub defense: String,
    /// The repaired (or retrained) model, measured like the victim.
    pub after: Measure,
    /// Rows the detector flagged (training-set detectors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flagged: Option<usize>,
    /// Flagged rows that were poison, as a share of the flagged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision: Option<f64>,
    /// Poison rows flagged, as a share of the poison.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recall: Option<f64>,
    /// Fine-pruning's own report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fine_pruning: Option<FinePruneReport>,
    /// The training-set detector's per-class figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detection: Option<PoisonDetection>,
    /// Seconds the defense took (retraining included).
    pub seconds: f64,
}

/// The result at one poisoning rate.
#[derive(Debug, Clone, Serialize)]
pub struct RatePoint {
    /// The rate asked for.
    pub rate: f64,
    /// Rows actually poisoned.
    pub poisoned_rows: usize,
    /// The victim, measured.
    pub victim: Measure,
    /// How its training went.
    pub training: TrainReport,
    /// Training seconds.
    pub train_seconds: f64,
    /// The defenses' results.
    pub defenses: Vec<DefenseOutcome>,
}

/// Everything a poisoning run measured.
#[derive(Debug, Clone, Serialize)]
pub struct PoisonRun {
    /// The attack.
    pub attack: PoisonAttack,
    /// The attack's name.
    pub name: String,
    /// The trigger, described.
    pub trigger: Option<String>,
    /// Training rows.
    pub train_rows: usize,
    /// Test rows.
    pub test_rows: usize,
    /// The clean twin, measured (its attack success is the base rate: the trigger alone).
    pub twin: Measure,
    /// One point per rate.
    pub points: Vec<RatePoint>,
    /// Wall time of the whole run.
    pub seconds: f64,
    /// Examples of poisoned rows (original, poisoned) from the largest rate.
    #[serde(skip)]
    pub grid: Vec<GridRow>,
    /// The clean twin.
    #[serde(skip)]
    pub twin_model: Option<Network>,
    /// The victim and its poisoned training set, per rate.
    #[serde(skip)]
    pub victims: Vec<(Network, PoisonedSet)>,
}

/// A training-set filter.
enum Filter {
    Ac(ActivationClustering),
    Ss(SpectralSignatures),
}

impl Filter {
    fn name(&self) -> &'static str {
        match self {
            Self::Ac(_) => "activation-clustering",
            Self::Ss(_) => "spectral-signatures",
        }
    }

    fn detect(&self, net: &Network, set: &PoisonedSet) -> Result<PoisonDetection> {
        match self {
            Self::Ac(ac) => ac.detect(net, &set.x, &set.labels),
            Self::Ss(ss) => ss.detect(net, &set.x, &set.labels),
        }
    }
}

/// Progress messages (the binary shows them on stderr).
pub type Progress<'a> = dyn FnMut(&str) + 'a;

fn measure(
    attack: &PoisonAttack,
    net: &Network,
    x: &Tensor,
    labels: &[u32],
    range: [f32; 2],
) -> Result<Measure> {
    let model = LocalModel::new(net.clone(), "victim");
    Ok(Measure {
        clean_accuracy: accuracy(net, x, labels)?,
        attack_success: attack_success(attack, &model, x, labels, range)?,
    })
}

/// Runs the plan: the clean twin, then one poisoned victim per rate, with the defenses.
pub fn run_poison(
    arch: &Architecture,
    train_set: (&Tensor, &[u32]),
    test_set: (&Tensor, &[u32]),
    plan: &PoisonPlan,
    progress: &mut Progress<'_>,
) -> Result<PoisonRun> {
    let started = Instant::now();
    let (x, labels) = train_set;
    let (test_x, test_labels) = test_set;
    let range = arch.input_range;
    if plan.rates.is_empty() {
        return Err(AttackError::Parameter("no poisoning rate".into()));
    }
    // Refuse a bad attack before spending a training run on the twin.
    plan.attack.validate(arch.num_classes)?;
    if let Some(trigger) = plan.attack.trigger() {
        trigger.validate(&arch.input_shape)?;
    }
    progress(&format!("training the clean twin on {} rows", labels.len()));
    let mut twin = Network::init(arch.clone(), plan.init_seed)?;
    train(&mut twin, x, labels, &plan.train, None)?;
    let twin_measure = measure(&plan.attack, &twin, test_x, test_labels, range)?;
    let surrogate = LocalModel::new(twin.clone(), "surrogate");

    let mut points = Vec::with_capacity(plan.rates.len());
    let mut victims = Vec::with_capacity(plan.rates.len());
    let mut grid = Vec::new();
    for &rate in &plan.rates {
        let set = poison(
            &plan.attack,
            &Labelled {
                x,
                labels,
                num_classes: arch.num_classes,
                range,
            },
            rate,
            plan.seed,
            plan.attack.needs_surrogate().then_some(&surrogate as _),
        )?;
        progress(&format!(
            "rate {rate}: {} rows poisoned ({}); training the victim",
            set.poisoned.len(),
            plan.attack.name()
        ));
        let t = Instant::now();
        let mut victim = Network::init(arch.clone(), plan.init_seed)?;
        let training = train(&mut victim, &set.x, &set.labels, &plan.train, None)?;
        let train_seconds = t.elapsed().as_secs_f64();
        let victim_measure = measure(&plan.attack, &victim, test_x, test_labels, range)?;

        let mut defenses = Vec::new();
        if let Some(fp) = &plan.fine_pruning {
            progress(&format!("rate {rate}: fine-pruning the victim"));
            let t = Instant::now();
            let trusted = trusted_rows(
                labels.len(),
                &set.poisoned,
                plan.trusted_fraction,
                plan.seed,
            );
            let trusted_labels: Vec<u32> = trusted.iter().map(|&i| labels[i]).collect();
            let (repaired, report) =
                fine_prune(&victim, &select_rows(x, &trusted)?, &trusted_labels, fp)?;
            defenses.push(DefenseOutcome {
                defense: "fine-pruning".into(),
                after: measure(&plan.attack, &repaired, test_x, test_labels, range)?,
                flagged: None,
                precision: None,
                recall: None,
                fine_pruning: Some(report),
                detection: None,
                seconds: t.elapsed().as_secs_f64(),
            });
        }

        let default_layer = conv_feature_layer(&victim);
        let mut filters = Vec::new();
        if let Some(ac) = &plan.activation_clustering {
            let mut ac = *ac;
            ac.layer = ac.layer.or(default_layer);
            filters.push(Filter::Ac(ac));
        }
        if let Some(ss) = &plan.spectral_signatures {
            let mut ss = *ss;
            ss.layer = ss.layer.or(default_layer);
            filters.push(Filter::Ss(ss));
        }
        for filter in filters {
            let name = filter.name();
            progress(&format!("rate {rate}: {name} on the poisoned training set"));
            let t = Instant::now();
            let detection = filter.detect(&victim, &set)?;
            let score = score_detection(&detection.flagged, &set.poisoned);
            // Retrain from the same start without the flagged rows.
            let kept: Vec<usize> = (0..set.labels.len())
                .filter(|i| detection.flagged.binary_search(i).is_err())
                .collect();
            let kept_labels: Vec<u32> = kept.iter().map(|&i| set.labels[i]).collect();
            let mut retrained = Network::init(arch.clone(), plan.init_seed)?;
            train(
                &mut retrained,
                &select_rows(&set.x, &kept)?,
                &kept_labels,
                &plan.train,
                None,
            )?;
            defenses.push(DefenseOutcome {
                defense: name.to_owned(),
                after: measure(&plan.attack, &retrained, test_x, test_labels, range)?,
                flagged: Some(detection.flagged.len()),
                precision: Some(score.precision),
                recall: Some(score.recall),
                fine_pruning: None,
                detection: Some(detection),
                seconds: t.elapsed().as_secs_f64(),
            });
        }

        if plan.attack.trigger().is_some() {
            grid = examples(x, &set, plan.grid_rows)?;
        }
        points.push(RatePoint {
            rate,
            poisoned_rows: set.poisoned.len(),
            victim: victim_measure,
            training,
            train_seconds,
            defenses,
        });
        victims.push((victim, set));
    }
    Ok(PoisonRun {
        name: plan.attack.name().to_owned(),
        trigger: plan.attack.trigger().map(super::Trigger::describe),
        attack: plan.attack.clone(),
        train_rows: labels.len(),
        test_rows: test_labels.len(),
        twin: twin_measure,
        points,
        seconds: started.elapsed().as_secs_f64(),
        grid,
        twin_model: Some(twin),
        victims,
    })
}

/// The defender's trusted clean rows: a seeded `fraction` of the rows that were not poisoned (at
/// least one).
fn trusted_rows(n: usize, poisoned: &[usize], fraction: f64, seed: u64) -> Vec<usize> {
    let mut clean: Vec<usize> = (0..n)
        .filter(|i| poisoned.binary_search(i).is_err())
        .collect();
    let mut rng = Rng::new(seed ^ 0x7275_7374);
    rng.shuffle(&mut clean);
    let keep = ((clean.len() as f64 * fraction).round() as usize).clamp(1, clean.len().max(1));
    clean.truncate(keep);
    clean.sort_unstable();
    clean
}

/// Original and poisoned versions of the first `rows` poisoned rows.
fn examples(x: &Tensor, set: &PoisonedSet, rows: usize) -> Result<Vec<GridRow>> {
    let take: Vec<usize> = set.poisoned.iter().copied().take(rows).collect();
    if take.is_empty() {
        return Ok(Vec::new());
    }
    let original = select_rows(x, &take)?.flatten_from(1)?.to_vec2::<f32>()?;
    let poisoned = select_rows(&set.x, &take)?
        .flatten_from(1)?
        .to_vec2::<f32>()?;
    Ok(original
        .into_iter()
        .zip(poisoned)
        .map(|(original, adversarial)| GridRow {
            original,
            adversarial,
        })
        .collect())
}

/// The findings of a poisoning run on the pipeline `pipeline` (what was trained on what): AT110
/// for a backdoor, AT111 for label flipping, AT112/AT113 per defense at the largest rate.
#[must_use]
pub fn findings(run: &PoisonRun, pipeline: &str) -> Vec<aisec_core::Finding> {
    use crate::rules::{finding, poisoning_severity, remaining_backdoor_severity};
    let location = aisec_core::Location::file(pipeline.to_owned());
    let mut out = Vec::new();
    let points: Vec<serde_json::Value> = run
        .points
        .iter()
        .map(|p| {
            serde_json::json!({
                "rate": p.rate,
                "poisoned_rows": p.poisoned_rows,
                "clean_accuracy": p.victim.clean_accuracy,
                "attack_success": p.victim.attack_success,
            })
        })
        .collect();
    let evidence = serde_json::json!({
        "attack": run.attack,
        "trigger": run.trigger,
        "train_rows": run.train_rows,
        "test_rows": run.test_rows,
        "clean_twin": run.twin,
        "rates": points,
    });
    let Some(last) = run.points.last() else {
        return out;
    };
    match (&run.attack, last.victim.attack_success) {
        (super::PoisonAttack::LabelFlip { target, source }, asr) => {
            let drop = run.twin.clean_accuracy - last.victim.clean_accuracy;
            let severity = if asr.is_some_and(|a| a > 0.5) || drop > 0.10 {
                aisec_core::Severity::High
            } else if drop > 0.02 {
                aisec_core::Severity::Medium
            } else {
                aisec_core::Severity::Low
            };
            let steer = match (target, source, asr) {
                (Some(t), Some(s), Some(a)) => {
                    format!("; {:.1}% of class {s} now goes to class {t}", a * 100.0)
                }
                (Some(t), None, Some(a)) => format!(
                    "; {:.1}% of the other classes' inputs now go to class {t}",
                    a * 100.0
                ),
                _ => String::new(),
            };
            out.push(finding(
                "AT111",
                severity,
                aisec_core::Confidence::Certain,
                &location,
                &format!("{}:{}", run.name, last.rate),
                format!(
                    "With {:.1}% of the training labels flipped ({} rows), test accuracy falls from {:.3} to {:.3}{steer}.",
                    last.rate * 100.0,
                    last.poisoned_rows,
                    run.twin.clean_accuracy,
                    last.victim.clean_accuracy
                ),
                evidence,
            ));
        }
        _ => {
            let smallest = run
                .points
                .iter()
                .filter(|p| p.victim.attack_success.is_some_and(|a| a >= 0.9))
                .min_by(|a, b| a.rate.total_cmp(&b.rate));
            let above_half = run
                .points
                .iter()
                .any(|p| p.victim.attack_success.is_some_and(|a| a >= 0.5));
            let best = run
                .points
                .iter()
                .max_by(|a, b| {
                    a.victim
                        .attack_success
                        .unwrap_or(0.0)
                        .total_cmp(&b.victim.attack_success.unwrap_or(0.0))
                })
                .unwrap_or(last);
            let shown = smallest.unwrap_or(best);
            out.push(finding(
                "AT110",
                poisoning_severity(smallest.map(|p| p.rate), above_half),
                aisec_core::Confidence::Certain,
                &location,
                &run.name,
                format!(
                    "{} with {:.1}% of the training rows poisoned ({} rows; trigger: {}) sends {:.1}% of other classes' test inputs to the target class, against {:.1}% for the clean twin; clean accuracy {:.3} against the twin's {:.3}.",
                    run.name,
                    shown.rate * 100.0,
                    shown.poisoned_rows,
                    run.trigger.as_deref().unwrap_or("none"),
                    shown.victim.attack_success.unwrap_or(0.0) * 100.0,
                    run.twin.attack_success.unwrap_or(0.0) * 100.0,
                    shown.victim.clean_accuracy,
                    run.twin.clean_accuracy
                ),
                evidence,
            ));
        }
    }
    for d in &last.defenses {
        let Some(after) = d.after.attack_success else {
            continue;
        };
        let before = last.victim.attack_success.unwrap_or(0.0);
        let (id, what) = if d.defense == "fine-pruning" {
            ("AT113", "fine-pruning the victim".to_owned())
        } else {
            (
                "AT112",
                format!(
                    "{} (flagged {} rows, precision {:.3}, recall {:.3}) and retraining",
                    d.defense,
                    d.flagged.unwrap_or(0),
                    d.precision.unwrap_or(0.0),
                    d.recall.unwrap_or(0.0)
                ),
            )
        };
        out.push(finding(
            id,
            remaining_backdoor_severity(after),
            aisec_core::Confidence::Certain,
            &location,
            &format!("{}:{}:{}", run.name, d.defense, last.rate),
            format!(
                "At {:.1}% poisoning, {what} takes the attack success from {:.3} to {after:.3} and clean accuracy from {:.3} to {:.3}.",
                last.rate * 100.0,
                before,
                last.victim.clean_accuracy,
                d.after.clean_accuracy
            ),
            serde_json::to_value(d).unwrap_or_default(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::trusted_rows;

    #[test]
    fn trusted_rows_avoid_the_poison() {
        let poisoned = vec![1, 5, 7];
        let rows = trusted_rows(10, &poisoned, 0.5, 3);
        assert_eq!(rows.len(), 4);
        assert!(rows.iter().all(|r| !poisoned.contains(r)));
        assert!(rows.windows(2).all(|w| w[0] < w[1]));
    }
}
