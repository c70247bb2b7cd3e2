//! Data poisoning: label flipping, backdoors planted through the training set (BadNets' patch,
//! Blended's mixed-in pattern) and the clean-label backdoor, whose poisoned rows keep their
//! correct labels.
//!
//! The poisoning rate is the share of the training rows the attacker modifies. Dirty-label
//! attacks take rows of other classes, apply the trigger and relabel them to the target; the
//! clean-label attack can only take rows of the target class (so it poisons at most that class).

pub mod run;
pub mod trigger;

use aisec_ml::candle::Tensor;
use aisec_ml::{Classifier, DType, Rng};
use serde::Serialize;

pub use trigger::{PatchPattern, PatchPosition, Trigger};

use crate::error::{AttackError, Result};
use crate::evasion::pgd::Pgd;
use crate::evasion::{EvasionAttack, Goal, Norm, row_index};

/// A poisoning attack.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "attack", rename_all = "kebab-case")]
pub enum PoisonAttack {
    /// Labels changed, inputs untouched. Without a target each chosen row gets a random other
    /// class; with one, rows (of `source`, or of any other class) are relabelled to it.
    LabelFlip {
        /// The class flipped rows go to (`None`: a random other class each).
        target: Option<u32>,
        /// The only class whose rows are flipped.
        source: Option<u32>,
    },
    /// A trigger applied to rows of other classes, relabelled to the target: BadNets with a
    /// patch, Blended with a blend.
    Backdoor {
        /// The trigger.
        trigger: Trigger,
        /// The class triggered inputs should go to.
        target: u32,
        /// The only class whose rows are poisoned (and whose inputs the trigger should turn).
        source: Option<u32>,
    },
    /// Turner et al.'s label-consistent backdoor: rows of the target class are first pushed away
    /// from it by a PGD attack on a surrogate model (so that the trigger, not their content, is
    /// what explains their label), then triggered; labels stay correct.
    CleanLabel {
        /// The trigger.
        trigger: Trigger,
        /// The target class (the only class poisoned).
        target: u32,
        /// The PGD bound (L-infinity, in input units).
        eps: f32,
        /// PGD steps.
        steps: usize,
    },
}

impl PoisonAttack {
    /// The attack's name as the CLI spells it.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::LabelFlip { .. } => "label-flip",
            Self::Backdoor {
                trigger: Trigger::Patch { .. },
                ..
            } => "badnets",
            Self::Backdoor {
                trigger: Trigger::Blend { .. },
                ..
            } => "blended",
            Self::CleanLabel { .. } => "clean-label",
        }
    }

    /// The trigger, for attacks that have one.
    #[must_use]
    pub fn trigger(&self) -> Option<&Trigger> {
        match self {
            Self::LabelFlip { .. } => None,
            Self::Backdoor { trigger, .. } | Self::CleanLabel { trigger, .. } => Some(trigger),
        }
    }

    /// The class the attack steers to, when it has one.
    #[must_use]
    pub fn target(&self) -> Option<u32> {
        match self {
            Self::LabelFlip { target, .. } => *target,
            Self::Backdoor { target, .. } | Self::CleanLabel { target, .. } => Some(*target),
        }
    }

    /// The only source class, when the attack has one.
    #[must_use]
    pub fn source(&self) -> Option<u32> {
        match self {
            Self::LabelFlip { source, .. } | Self::Backdoor { source, .. } => *source,
            Self::CleanLabel { .. } => None,
        }
    }

    /// Whether the attack needs a surrogate model (the clean-label attack does).
    #[must_use]
    pub fn needs_surrogate(&self) -> bool {
        matches!(self, Self::CleanLabel { .. })
    }

    /// Checks the classes and parameters against a model with `num_classes` classes.
    pub fn validate(&self, num_classes: usize) -> Result<()> {
        let check = |what: &str, class: Option<u32>| match class {
            Some(c) if c as usize >= num_classes => Err(AttackError::Parameter(format!(
                "{what} class {c} is outside the {num_classes} classes"
            ))),
            _ => Ok(()),
        };
        check("the target", self.target())?;
        check("the source", self.source())?;
        if self.target().is_some() && self.target() == self.source() {
            return Err(AttackError::Parameter(
                "the source and the target class are the same".into(),
            ));
        }
        if num_classes < 2 {
            return Err(AttackError::Parameter(
                "poisoning needs at least two classes".into(),
            ));
        }
        if let Self::CleanLabel { eps, steps, .. } = self
            && (!(eps.is_finite() && *eps >= 0.0) || *steps == 0)
        {
            return Err(AttackError::Parameter(format!(
                "the clean-label perturbation needs eps >= 0 and steps > 0, not {eps} and {steps}"
            )));
        }
        Ok(())
    }
}

/// A training set after poisoning.
#[derive(Debug, Clone)]
pub struct PoisonedSet {
    /// The rows, `[N, ...]`, f32.
    pub x: Tensor,
    /// The labels the victim trains on.
    pub labels: Vec<u32>,
    /// The poisoned rows' indices, ascending.
    pub poisoned: Vec<usize>,
}

/// A labelled training set.
#[derive(Debug, Clone, Copy)]
pub struct Labelled<'a> {
    /// The rows, `[N, ...]`.
    pub x: &'a Tensor,
    /// One label per row.
    pub labels: &'a [u32],
    /// Classes.
    pub num_classes: usize,
    /// The range the values live in.
    pub range: [f32; 2],
}

/// Poisons `rate` of the rows of `data` with `attack`. The clean-label attack needs
/// `surrogate`, a model trained on clean data with a white-box face.
pub fn poison(
    attack: &PoisonAttack,
    data: &Labelled<'_>,
    rate: f64,
    seed: u64,
    surrogate: Option<&dyn Classifier>,
) -> Result<PoisonedSet> {
    let Labelled {
        x,
        labels,
        num_classes,
        range,
    } = *data;
    attack.validate(num_classes)?;
    let n = labels.len();
    if x.dim(0)? != n || n == 0 {
        return Err(AttackError::Parameter(format!(
            "{} rows and {n} labels",
            x.dim(0)?
        )));
    }
    if !(0.0..=1.0).contains(&rate) {
        return Err(AttackError::Parameter(format!(
            "the poisoning rate {rate} must be between 0 and 1"
        )));
    }
    if let Some(bad) = labels.iter().find(|&&l| l as usize >= num_classes) {
        return Err(AttackError::Parameter(format!(
            "label {bad} is outside the {num_classes} classes"
        )));
    }
    let mut rng = Rng::new(seed);
    let target = attack.target();
    let source = attack.source();
    let mut candidates: Vec<usize> = (0..n)
        .filter(|&i| match attack {
            PoisonAttack::CleanLabel { target, .. } => labels[i] == *target,
            _ => Some(labels[i]) != target && source.is_none_or(|s| labels[i] == s),
        })
        .collect();
    rng.shuffle(&mut candidates);
    let wanted = (rate * n as f64).round() as usize;
    candidates.truncate(wanted);
    candidates.sort_unstable();
    let poisoned = candidates;

    let mut new_labels = labels.to_vec();
    let x = x.to_dtype(DType::F32)?;
    if poisoned.is_empty() {
        return Ok(PoisonedSet {
            x,
            labels: new_labels,
            poisoned,
        });
    }
    let index = row_index(&poisoned, x.device())?;
    let chosen = x.index_select(&index, 0)?;
    let changed = match attack {
        PoisonAttack::LabelFlip { target, .. } => {
            for &i in &poisoned {
                new_labels[i] = match target {
                    Some(t) => *t,
                    None => {
                        // A uniformly drawn class other than the row's own.
                        let other = rng.below(num_classes - 1) as u32;
                        if other >= labels[i] { other + 1 } else { other }
                    }
                };
            }
            None
        }
        PoisonAttack::Backdoor {
            trigger, target, ..
        } => {
            for &i in &poisoned {
                new_labels[i] = *target;
            }
            Some(trigger.apply(&chosen, range)?)
        }
        PoisonAttack::CleanLabel {
            trigger,
            eps,
            steps,
            ..
        } => {
            let surrogate = surrogate.ok_or_else(|| {
                AttackError::Parameter(
                    "the clean-label attack needs a surrogate model to perturb with".into(),
                )
            })?;
            let hard = if *eps > 0.0 {
                let pgd = Pgd {
                    norm: Norm::Linf,
                    eps: *eps,
                    eps_step: 2.5 * eps / *steps as f32,
                    max_iter: *steps,
                    num_random_init: 0,
                    early_stop: false,
                };
                let own: Vec<u32> = poisoned.iter().map(|&i| labels[i]).collect();
                let mut batches = Vec::new();
                for start in (0..poisoned.len()).step_by(256) {
                    let len = 256.min(poisoned.len() - start);
                    let goal = Goal::untargeted(own[start..start + len].to_vec());
                    batches.push(pgd.generate(
                        surrogate,
                        &chosen.narrow(0, start, len)?,
                        &goal,
                        &mut rng,
                    )?);
                }
                Tensor::cat(&batches, 0)?
                    .clamp(range[0], range[1])?
                    .to_dtype(DType::F32)?
            } else {
                chosen.clone()
            };
            Some(trigger.apply(&hard, range)?)
        }
    };
    let x = match changed {
        Some(rows) => x.index_add(&index, &(rows - &chosen)?, 0)?,
        None => x,
    };
    Ok(PoisonedSet {
        x,
        labels: new_labels,
        poisoned,
    })
}

/// The rows an attack's success is measured on, and the class they should go to: test rows of
/// other classes than the target (only the source, when there is one).
fn success_rows(attack: &PoisonAttack, labels: &[u32]) -> Option<(Vec<usize>, u32)> {
    let target = attack.target()?;
    let source = attack.source();
    let rows = labels
        .iter()
        .enumerate()
        .filter(|&(_, &l)| l != target && source.is_none_or(|s| l == s))
        .map(|(i, _)| i)
        .collect();
    Some((rows, target))
}

/// The attack success rate of `model` on the test rows: the share of rows of other classes (the
/// source, when the attack has one) that go to the target once the trigger is applied (as they
/// are, for label flipping). `None` for untargeted label flipping, whose effect is the accuracy
/// lost.
pub fn attack_success(
    attack: &PoisonAttack,
    model: &dyn Classifier,
    x: &Tensor,
    labels: &[u32],
    range: [f32; 2],
) -> Result<Option<f64>> {
    let Some((rows, target)) = success_rows(attack, labels) else {
        return Ok(None);
    };
    if rows.is_empty() {
        return Ok(Some(0.0));
    }
    let index = row_index(&rows, x.device())?;
    let mut chosen = x.index_select(&index, 0)?;
    if let Some(trigger) = attack.trigger() {
        chosen = trigger.apply(&chosen, range)?;
    }
    let mut hits = 0usize;
    for start in (0..rows.len()).step_by(512) {
        let len = 512.min(rows.len() - start);
        let predicted = model.predict_labels(&chosen.narrow(0, start, len)?)?;
        hits += predicted.iter().filter(|&&p| p == target).count();
    }
    Ok(Some(hits as f64 / rows.len() as f64))
}

#[cfg(test)]
mod tests {
    use aisec_ml::candle::{Device, Tensor};

    use super::{Labelled, PoisonAttack, Trigger, poison};

    fn toy_set<'a>(x: &'a Tensor, labels: &'a [u32]) -> Labelled<'a> {
        Labelled {
            x,
            labels,
            num_classes: 4,
            range: [0.0, 1.0],
        }
    }

    fn toy() -> (Tensor, Vec<u32>) {
        let x = Tensor::full(0.5f32, (100, 1, 4, 4), &Device::Cpu).unwrap();
        let labels = (0..100).map(|i| (i % 4) as u32).collect();
        (x, labels)
    }

    #[test]
    fn badnets_poisons_the_rate_of_other_classes_and_relabels() {
        let (x, labels) = toy();
        let attack = PoisonAttack::Backdoor {
            trigger: Trigger::badnets(),
            target: 0,
            source: None,
        };
        let set = poison(&attack, &toy_set(&x, &labels), 0.1, 3, None).unwrap();
        assert_eq!(set.poisoned.len(), 10);
        let rows = set.x.flatten_from(1).unwrap().to_vec2::<f32>().unwrap();
        for (i, row) in rows.iter().enumerate() {
            let hit = set.poisoned.binary_search(&i).is_ok();
            if hit {
                assert_ne!(labels[i], 0);
                assert_eq!(set.labels[i], 0);
                assert!((row[15] - 1.0).abs() < 1e-6, "the patch's corner is high");
            } else {
                assert_eq!(set.labels[i], labels[i]);
                assert!(row.iter().all(|v| (v - 0.5).abs() < 1e-6));
            }
        }
        // Another seed picks other rows; the same seed the same ones.
        let again = poison(&attack, &toy_set(&x, &labels), 0.1, 3, None).unwrap();
        assert_eq!(again.poisoned, set.poisoned);
        let other = poison(&attack, &toy_set(&x, &labels), 0.1, 4, None).unwrap();
        assert_ne!(other.poisoned, set.poisoned);
    }

    #[test]
    fn label_flips_change_labels_only() {
        let (x, labels) = toy();
        let random = PoisonAttack::LabelFlip {
            target: None,
            source: None,
        };
        let set = poison(&random, &toy_set(&x, &labels), 0.2, 1, None).unwrap();
        assert_eq!(set.poisoned.len(), 20);
        for &i in &set.poisoned {
            assert_ne!(set.labels[i], labels[i]);
        }
        let targeted = PoisonAttack::LabelFlip {
            target: Some(2),
            source: Some(1),
        };
        let set = poison(&targeted, &toy_set(&x, &labels), 0.5, 1, None).unwrap();
        // Only the 25 rows of class 1 can be flipped.
        assert_eq!(set.poisoned.len(), 25);
        assert!(
            set.poisoned
                .iter()
                .all(|&i| labels[i] == 1 && set.labels[i] == 2)
        );
    }

    #[test]
    fn bad_parameters_are_refused() {
        let (x, labels) = toy();
        let attack = PoisonAttack::Backdoor {
            trigger: Trigger::badnets(),
            target: 9,
            source: None,
        };
        assert!(poison(&attack, &toy_set(&x, &labels), 0.1, 0, None).is_err());
        let same = PoisonAttack::LabelFlip {
            target: Some(1),
            source: Some(1),
        };
        assert!(poison(&same, &toy_set(&x, &labels), 0.1, 0, None).is_err());
        let clean_label = PoisonAttack::CleanLabel {
            trigger: Trigger::badnets(),
            target: 1,
            eps: 0.1,
            steps: 5,
        };
        assert!(
            poison(&clean_label, &toy_set(&x, &labels), 0.1, 0, None).is_err(),
            "no surrogate"
        );
        let ok = PoisonAttack::LabelFlip {
            target: None,
            source: None,
        };
        assert!(poison(&ok, &toy_set(&x, &labels), 1.5, 0, None).is_err());
    }
}
