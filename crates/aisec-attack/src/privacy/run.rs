//! `aisec attack privacy` (membership inference) as a library.
//!
//! The experiment ([`run_membership`]): the population is every row of the data set; the target is
//! trained on a seeded random share of it (the members), the rest are the non-members; reference
//! models are trained like the target on random subsets of the population of the target's size; every attack scores
//! every row, and the ROC of members against non-members measures it. Each variant of the recipe
//! (DP-SGD at an epsilon) retrains the target on the same members and measures again.
//!
//! The audit ([`audit_membership`]): the user's own model, with the rows they know were (and were
//! not) in its training set.

use std::time::Instant;

use aisec_core::{Chart, Confidence, Finding, Location, Series, Severity};
use aisec_ml::candle::Tensor;
use aisec_ml::train::{TrainConfig, TrainReport, train};
use aisec_ml::{Architecture, Classifier, LocalModel, Network, Rng};
use serde::Serialize;

use super::membership::{
    MembershipAttack, MembershipSettings, References, score, train_references,
};
use super::roc::{Roc, chance_points};
use crate::error::{AttackError, Result};
use crate::evasion::select_rows;

/// Points kept per ROC curve in charts.
const CHART_POINTS: usize = 300;
/// The false-positive rates reported.
pub const LOW_FPR: [f64; 2] = [0.001, 0.01];

/// Another way of training the target, measured like the first (a defense).
#[derive(Debug, Clone, Serialize)]
pub struct Variant {
    /// What reports call it (`dp-sgd epsilon 1`).
    pub name: String,
    /// The privacy budget asked for, when the variant is DP-SGD.
    pub epsilon: Option<f64>,
    /// The recipe.
    pub train: TrainConfig,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct MembershipPlan {
    /// The attacks, in report order.
    pub attacks: Vec<MembershipAttack>,
    /// Reference (shadow) models shared by every attack but LOSS.
    pub references: usize,
    /// The share of the population the target trains on (the experiment only).
    pub target_fraction: f64,
    /// The target's recipe (and, the attacker knowing it, the reference models').
    pub train: TrainConfig,
    /// Other recipes of the target to measure (DP-SGD at each epsilon).
    pub variants: Vec<Variant>,
    /// Train the reference models of a variant with the variant's recipe (the attacker knows how
    /// the target is trained) rather than reusing the first ones.
    pub variant_references: bool,
    /// Seed of the member split, the models' initial weights and the reference halves.
    pub seed: u64,
    /// The attacks' own settings.
    pub settings: MembershipSettings,
}

/// One attack's result on one target.
#[derive(Debug, Clone, Serialize)]
pub struct AttackOutcome {
    /// The attack.
    pub attack: MembershipAttack,
    /// Area under the ROC curve.
    pub auc: f64,
    /// True-positive rate at 0.1% false positives.
    pub tpr_at_fpr_0_1pct: f64,
    /// True-positive rate at 1% false positives.
    pub tpr_at_fpr_1pct: f64,
    /// Largest `TPR - FPR`.
    pub advantage: f64,
    /// Best balanced accuracy.
    pub balanced_accuracy: f64,
    /// Rows sent to the target.
    pub queries: u64,
    /// Seconds of the attack itself (the reference models' training is counted apart).
    pub seconds: f64,
    /// The curve.
    #[serde(skip)]
    pub roc: Roc,
    /// The score of every row, in the run's row order (see [`MembershipRun::is_member`]); higher
    /// means "member".
    #[serde(skip)]
    pub scores: Vec<f64>,
}

/// A target and what the attacks found on it.
#[derive(Debug, Clone, Serialize)]
pub struct TargetOutcome {
    /// `target`, or the variant's name.
    pub name: String,
    /// The privacy budget asked for (DP-SGD variants).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
    /// Accuracy on the members (its training rows).
    pub train_accuracy: f64,
    /// Accuracy on the non-members.
    pub test_accuracy: f64,
    /// `train_accuracy - test_accuracy`.
    pub generalisation_gap: f64,
    /// How its training went (the experiment only); with DP-SGD, the privacy spent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub training: Option<TrainReport>,
    /// Seconds training the target.
    pub train_seconds: f64,
    /// Seconds training the reference models used against it (0 when shared with an earlier one).
    pub reference_seconds: f64,
    /// One per attack.
    pub attacks: Vec<AttackOutcome>,
    /// The trained target (the experiment; `None` in an audit, where the model is the user's).
    #[serde(skip)]
    pub model: Option<Network>,
}

impl TargetOutcome {
    /// The attack with the highest TPR at 1% FPR (ties: the higher AUC).
    #[must_use]
    pub fn strongest(&self) -> Option<&AttackOutcome> {
        self.attacks.iter().max_by(|a, b| {
            a.tpr_at_fpr_1pct
                .total_cmp(&b.tpr_at_fpr_1pct)
                .then(a.auc.total_cmp(&b.auc))
        })
    }
}

/// Everything a membership run measured.
#[derive(Debug, Clone, Serialize)]
pub struct MembershipRun {
    /// Whether this audited the user's model (else: the experiment).
    pub audit: bool,
    /// Rows scored (members and non-members).
    pub population: usize,
    /// Members among them.
    pub members: usize,
    /// Non-members among them.
    pub non_members: usize,
    /// Reference models per target.
    pub references: usize,
    /// The undefended (or audited) target first, then each variant.
    pub targets: Vec<TargetOutcome>,
    /// Wall time of the run.
    pub seconds: f64,
    /// Whether each row was a member: the population's order in the experiment, the members then
    /// the non-members in an audit.
    #[serde(skip)]
    pub is_member: Vec<bool>,
}

/// Progress messages (the binary shows them on stderr).
pub type Progress<'a> = dyn FnMut(&str) + 'a;

/// The most reference models a run trains.
pub const MAX_REFERENCES: usize = 1024;

fn validate(plan: &MembershipPlan) -> Result<()> {
    if plan.references > MAX_REFERENCES {
        return Err(AttackError::TooLarge {
            what: "reference models",
            got: plan.references,
            max: MAX_REFERENCES,
        });
    }
    let needed = plan
        .attacks
        .iter()
        .map(|a| a.min_references())
        .max()
        .unwrap_or(0);
    if plan.references < needed {
        let which: Vec<&str> = plan
            .attacks
            .iter()
            .filter(|a| a.min_references() > plan.references)
            .map(|a| a.name())
            .collect();
        return Err(AttackError::Parameter(format!(
            "{} need at least {needed} reference models, {} given",
            which.join(", "),
            plan.references
        )));
    }
    if !(plan.target_fraction > 0.0 && plan.target_fraction < 1.0) {
        return Err(AttackError::Parameter(format!(
            "the target fraction {} must be strictly between 0 and 1",
            plan.target_fraction
        )));
    }
    Ok(())
}

fn needs_references(plan: &MembershipPlan) -> bool {
    plan.attacks.iter().any(|a| a.needs_references())
}

/// Runs every attack of the plan against `target` on the population `(x, labels)` whose rows
/// `is_member` marks.
fn attack_target(
    target: &dyn Classifier,
    x: &Tensor,
    labels: &[u32],
    is_member: &[bool],
    references: Option<&References>,
    plan: &MembershipPlan,
) -> Result<Vec<AttackOutcome>> {
    plan.attacks
        .iter()
        .map(|&attack| {
            let started = Instant::now();
            let scores = score(attack, target, x, labels, references, &plan.settings)?;
            let (mut inside, mut outside) = (Vec::new(), Vec::new());
            for (s, &m) in scores.values.iter().zip(is_member) {
                if m {
                    inside.push(*s);
                } else {
                    outside.push(*s);
                }
            }
            let roc = Roc::new(&inside, &outside)?;
            Ok(AttackOutcome {
                attack,
                auc: roc.auc(),
                tpr_at_fpr_0_1pct: roc.tpr_at_fpr(LOW_FPR[0]),
                tpr_at_fpr_1pct: roc.tpr_at_fpr(LOW_FPR[1]),
                advantage: roc.advantage(),
                balanced_accuracy: roc.balanced_accuracy(),
                queries: scores.queries,
                seconds: started.elapsed().as_secs_f64(),
                roc,
                scores: scores.values,
            })
        })
        .collect()
}

/// The share of rows whose predicted class is the label.
fn accuracy_of(target: &dyn Classifier, x: &Tensor, labels: &[u32]) -> Result<f64> {
    if labels.is_empty() {
        return Ok(0.0);
    }
    let mut correct = 0usize;
    let mut start = 0;
    while start < labels.len() {
        let len = 512.min(labels.len() - start);
        let predicted = target.predict_labels(&x.narrow(0, start, len)?)?;
        correct += predicted
            .iter()
            .zip(&labels[start..start + len])
            .filter(|(p, y)| p == y)
            .count();
        start += len;
    }
    Ok(correct as f64 / labels.len() as f64)
}

/// A seeded split of `n` rows: `round(n * fraction)` members (at least one, and one short of all).
#[must_use]
pub fn member_split(n: usize, fraction: f64, seed: u64) -> Vec<bool> {
    let mut order: Vec<usize> = (0..n).collect();
    Rng::new(seed ^ 0x6d65_6d62_6572).shuffle(&mut order);
    let take = ((n as f64 * fraction).round() as usize).clamp(1, n.saturating_sub(1).max(1));
    let mut is_member = vec![false; n];
    for &i in &order[..take] {
        is_member[i] = true;
    }
    is_member
}

/// Trains a target with `config` on the member rows and measures it: (model, accuracy on members,
/// accuracy on non-members, report, seconds).
fn train_target(
    arch: &Architecture,
    x: &Tensor,
    labels: &[u32],
    is_member: &[bool],
    config: &TrainConfig,
    seed: u64,
) -> Result<(LocalModel, TrainReport, f64)> {
    let started = Instant::now();
    let rows: Vec<usize> = (0..labels.len()).filter(|&i| is_member[i]).collect();
    let ys: Vec<u32> = rows.iter().map(|&i| labels[i]).collect();
    let mut net = Network::init(arch.clone(), seed)?;
    let mut config = config.clone();
    config.seed = seed;
    let report = train(&mut net, &select_rows(x, &rows)?, &ys, &config, None)?;
    Ok((
        LocalModel::new(net, "target"),
        report,
        started.elapsed().as_secs_f64(),
    ))
}

fn measured(
    target: &dyn Classifier,
    x: &Tensor,
    labels: &[u32],
    is_member: &[bool],
) -> Result<(f64, f64)> {
    let n = labels.len();
    let ins: Vec<usize> = (0..n).filter(|&i| is_member[i]).collect();
    let outs: Vec<usize> = (0..n).filter(|&i| !is_member[i]).collect();
    let pick = |rows: &[usize]| rows.iter().map(|&i| labels[i]).collect::<Vec<_>>();
    Ok((
        accuracy_of(target, &select_rows(x, &ins)?, &pick(&ins))?,
        accuracy_of(target, &select_rows(x, &outs)?, &pick(&outs))?,
    ))
}

/// The experiment: trains the target on a random share of the population `(x, labels)` with
/// `arch` and the plan's recipe, the reference models on random subsets, and runs every attack;
/// then again for each variant of the recipe.
pub fn run_membership(
    arch: &Architecture,
    x: &Tensor,
    labels: &[u32],
    plan: &MembershipPlan,
    progress: &mut Progress<'_>,
) -> Result<MembershipRun> {
    let started = Instant::now();
    validate(plan)?;
    let n = labels.len();
    if n < 4 {
        return Err(AttackError::Parameter(format!(
            "{n} rows: membership inference needs at least 4"
        )));
    }
    let is_member = member_split(n, plan.target_fraction, plan.seed);
    let members = is_member.iter().filter(|m| **m).count();
    let mut recipes: Vec<(String, Option<f64>, &TrainConfig)> =
        vec![("target".to_owned(), None, &plan.train)];
    recipes.extend(
        plan.variants
            .iter()
            .map(|v| (v.name.clone(), v.epsilon, &v.train)),
    );
    let mut shared: Option<References> = None;
    let mut targets = Vec::with_capacity(recipes.len());
    for (index, (name, epsilon, config)) in recipes.into_iter().enumerate() {
        progress(&format!(
            "{name}: training on {members} of {n} rows ({} epochs)",
            config.epochs
        ));
        let (model, report, train_seconds) =
            train_target(arch, x, labels, &is_member, config, plan.seed)?;
        let (train_accuracy, test_accuracy) = measured(&model, x, labels, &is_member)?;
        let mut reference_seconds = 0.0;
        let fresh = index == 0 || plan.variant_references;
        if needs_references(plan) && fresh {
            progress(&format!(
                "{name}: training {} reference models on random subsets of the population",
                plan.references
            ));
            let refs = train_references(
                arch,
                (x, labels),
                plan.references,
                members as f64 / n as f64,
                config,
                plan.seed.wrapping_add(1),
            )?;
            reference_seconds = refs.seconds;
            shared = Some(refs);
        }
        progress(&format!("{name}: attacking"));
        model.reset_queries();
        let attacks = attack_target(&model, x, labels, &is_member, shared.as_ref(), plan)?;
        targets.push(TargetOutcome {
            name,
            epsilon,
            train_accuracy,
            test_accuracy,
            generalisation_gap: train_accuracy - test_accuracy,
            training: Some(report),
            train_seconds,
            reference_seconds,
            attacks,
            model: Some(model.network().clone()),
        });
    }
    Ok(MembershipRun {
        audit: false,
        population: n,
        members,
        non_members: n - members,
        references: if needs_references(plan) {
            plan.references
        } else {
            0
        },
        targets,
        seconds: started.elapsed().as_secs_f64(),
        is_member,
    })
}

/// The audit of the user's model: `members` were in its training set, `non_members` were not.
/// The reference models (when an attack needs them) are trained with `arch` and the plan's recipe
/// on random subsets of both sets together. Variants do not apply (the model is given).
pub fn audit_membership(
    target: &dyn Classifier,
    arch: Option<&Architecture>,
    members: (&Tensor, &[u32]),
    non_members: (&Tensor, &[u32]),
    plan: &MembershipPlan,
    progress: &mut Progress<'_>,
) -> Result<MembershipRun> {
    let started = Instant::now();
    validate(plan)?;
    if members.1.is_empty() || non_members.1.is_empty() {
        return Err(AttackError::Parameter(
            "the audit needs member and non-member rows".into(),
        ));
    }
    let x = Tensor::cat(&[members.0, non_members.0], 0)?;
    let labels: Vec<u32> = members.1.iter().chain(non_members.1).copied().collect();
    let is_member: Vec<bool> = (0..labels.len()).map(|i| i < members.1.len()).collect();
    let refs = if needs_references(plan) {
        let arch = arch.ok_or_else(|| {
            AttackError::Parameter(
                "the attacks with reference models need the target's architecture".into(),
            )
        })?;
        progress(&format!(
            "training {} reference models on random subsets of the {} rows",
            plan.references,
            labels.len()
        ));
        Some(train_references(
            arch,
            (&x, &labels),
            plan.references,
            members.1.len() as f64 / labels.len() as f64,
            &plan.train,
            plan.seed.wrapping_add(1),
        )?)
    } else {
        None
    };
    progress("attacking");
    let attacks = attack_target(target, &x, &labels, &is_member, refs.as_ref(), plan)?;
    let (train_accuracy, test_accuracy) = measured(target, &x, &labels, &is_member)?;
    Ok(MembershipRun {
        audit: true,
        population: labels.len(),
        members: members.1.len(),
        non_members: non_members.1.len(),
        references: refs.as_ref().map_or(0, References::count),
        targets: vec![TargetOutcome {
            name: target.info().name.clone(),
            epsilon: None,
            train_accuracy,
            test_accuracy,
            generalisation_gap: train_accuracy - test_accuracy,
            training: None,
            train_seconds: 0.0,
            reference_seconds: refs.as_ref().map_or(0.0, |r| r.seconds),
            attacks,
            model: None,
        }],
        seconds: started.elapsed().as_secs_f64(),
        is_member,
    })
}

/// A log-log ROC chart of every attack on `target`, with the chance diagonal.
#[must_use]
pub fn roc_chart(target: &TargetOutcome, id: &str) -> Chart {
    let mut series: Vec<Series> = target
        .attacks
        .iter()
        .map(|a| Series {
            name: format!("{} (AUC {:.3})", a.attack.name(), a.auc),
            points: a.roc.log_points(CHART_POINTS),
        })
        .collect();
    let lowest = target
        .attacks
        .first()
        .map_or(1e-3, |a| 1.0 / a.roc.non_members.max(1) as f64);
    series.push(Series {
        name: "chance".into(),
        points: chance_points(lowest),
    });
    Chart {
        id: id.to_owned(),
        title: format!("Membership inference ROC on {} (log-log)", target.name),
        x_label: "false-positive rate".into(),
        y_label: "true-positive rate".into(),
        x_log: true,
        y_log: true,
        y_range: None,
        categories: Vec::new(),
        series,
    }
}

/// How much TPR at 1% FPR exceeds the 1% of guessing, as a severity: 20x or more critical, 5x
/// high, 2x medium. Below 2x, or when the members found at that threshold are within three
/// standard deviations of what guessing finds among `members` (few rows), there is no leak the
/// run can tell from chance: `None`. The deviation counts twice the binomial variance: the
/// threshold is itself set on a finite sample of non-members.
#[must_use]
pub fn leak_severity(tpr_at_1pct: f64, members: usize) -> Option<Severity> {
    let lift = tpr_at_1pct / LOW_FPR[1];
    let expected = LOW_FPR[1] * members as f64;
    if tpr_at_1pct * (members as f64) < expected + 3.0 * (2.0 * expected).sqrt() {
        return None;
    }
    if lift >= 20.0 {
        Some(Severity::Critical)
    } else if lift >= 5.0 {
        Some(Severity::High)
    } else if lift >= 2.0 {
        Some(Severity::Medium)
    } else {
        None
    }
}

fn attack_summary(a: &AttackOutcome) -> serde_json::Value {
    serde_json::json!({
        "attack": a.attack,
        "auc": a.auc,
        "tpr_at_fpr_0_1pct": a.tpr_at_fpr_0_1pct,
        "tpr_at_fpr_1pct": a.tpr_at_fpr_1pct,
        "advantage": a.advantage,
        "queries": a.queries,
    })
}

fn target_evidence(run: &MembershipRun, t: &TargetOutcome) -> serde_json::Value {
    serde_json::json!({
        "target": t.name,
        "epsilon": t.epsilon,
        "privacy": t.training.as_ref().map(|r| serde_json::to_value(r).unwrap_or_default()),
        "members": run.members,
        "non_members": run.non_members,
        "reference_models": run.references,
        "train_accuracy": t.train_accuracy,
        "test_accuracy": t.test_accuracy,
        "generalisation_gap": t.generalisation_gap,
        "attacks": t.attacks.iter().map(attack_summary).collect::<Vec<_>>(),
        "lowest_measurable_fpr": 1.0 / run.non_members.max(1) as f64,
    })
}

/// The findings of a membership run on `model` (what the report calls the target): AT140 when the
/// strongest attack's TPR at 1% FPR is at least twice the 1% baseline, AT141 when it is not, and
/// AT142 per variant (DP-SGD), with its cost in accuracy.
#[must_use]
pub fn findings(run: &MembershipRun, model: &str) -> Vec<Finding> {
    use crate::rules::finding;
    let location = Location::file(model.to_owned());
    let mut out = Vec::new();
    let Some(first) = run.targets.first() else {
        return out;
    };
    let Some(best) = first.strongest() else {
        return out;
    };
    let describe = |t: &TargetOutcome, a: &AttackOutcome| {
        format!(
            "{} finds {:.1}% of the members at 1% false positives ({:.1}% at 0.1%; AUC {:.3}) on {} members and {} non-members",
            a.attack.name(),
            a.tpr_at_fpr_1pct * 100.0,
            a.tpr_at_fpr_0_1pct * 100.0,
            a.auc,
            run.members,
            run.non_members
        ) + &format!(
            "; accuracy {:.3} on members, {:.3} on non-members (gap {:+.3})",
            t.train_accuracy, t.test_accuracy, t.generalisation_gap
        )
    };
    match leak_severity(best.tpr_at_fpr_1pct, run.members) {
        Some(severity) => out.push(finding(
            "AT140",
            severity,
            Confidence::Certain,
            &location,
            &first.name,
            format!(
                "The model's answers reveal which rows it was trained on: {}. Guessing finds 1% at 1%.",
                describe(first, best)
            ),
            target_evidence(run, first),
        )),
        None => out.push(finding(
            "AT141",
            Severity::Info,
            Confidence::Likely,
            &location,
            &first.name,
            format!(
                "No attack told members from non-members clearly better than chance at low false-positive rates: the strongest, {}.",
                describe(first, best)
            ),
            target_evidence(run, first),
        )),
    }
    for t in run.targets.iter().skip(1) {
        let Some(after) = t.strongest() else {
            continue;
        };
        let spent = t
            .training
            .as_ref()
            .and_then(|r| serde_json::to_value(r).ok())
            .and_then(|v| v.get("privacy").and_then(|p| p.get("epsilon")).cloned())
            .and_then(|e| e.as_f64());
        let budget = match (t.epsilon, spent) {
            (_, Some(e)) => format!("accounted epsilon {e:.2}"),
            (Some(e), None) => format!("epsilon {e}"),
            (None, None) => "this recipe".to_owned(),
        };
        let severity = if leak_severity(after.tpr_at_fpr_1pct, run.members).is_some() {
            Severity::Medium
        } else {
            Severity::Info
        };
        out.push(finding(
            "AT142",
            severity,
            Confidence::Certain,
            &location,
            &t.name,
            format!(
                "{} ({budget}) takes the strongest attack's TPR at 1% FPR from {:.1}% ({}) to {:.1}% ({}), AUC from {:.3} to {:.3}, and accuracy on non-members from {:.3} to {:.3}.",
                t.name,
                best.tpr_at_fpr_1pct * 100.0,
                best.attack.name(),
                after.tpr_at_fpr_1pct * 100.0,
                after.attack.name(),
                best.auc,
                after.auc,
                first.test_accuracy,
                t.test_accuracy
            ),
            serde_json::json!({
                "before": target_evidence(run, first),
                "after": target_evidence(run, t),
            }),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{leak_severity, member_split};
    use aisec_core::Severity;

    #[test]
    fn split_and_severity() {
        let s = member_split(11, 0.5, 3);
        assert_eq!(s.iter().filter(|m| **m).count(), 6);
        assert_eq!(member_split(2, 0.99, 0).iter().filter(|m| **m).count(), 1);
        assert_eq!(leak_severity(0.25, 1000), Some(Severity::Critical));
        assert_eq!(leak_severity(0.06, 1000), Some(Severity::High));
        assert_eq!(leak_severity(0.03, 1000), Some(Severity::Medium));
        assert_eq!(leak_severity(0.021, 1000), None);
        assert_eq!(leak_severity(0.015, 1000), None);
        // 200 members: guessing finds 2 +- 2 (threshold and count both sampled); 6 found (3%)
        // is noise, 9 (4.5%) is not.
        assert_eq!(leak_severity(0.03, 200), None);
        assert_eq!(leak_severity(0.045, 200), Some(Severity::Medium));
    }
}
