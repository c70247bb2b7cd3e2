//! Evasion: inputs crafted to be misclassified. One module per attack; each implements
//! [`EvasionAttack`] over a whole batch at once (candle vectorises across the rows).
//!
//! Conventions every attack keeps:
//! - inputs and outputs are f32 tensors `[N, ...input_shape]`, always clipped to the model's
//!   `input_range`;
//! - an untargeted attack tries to change the predicted class away from `goal.labels`; a
//!   targeted one tries to make it `goal.targets`;
//! - a row the attack cannot break comes back as the best attempt within its budget (for
//!   eps-bounded attacks) or unchanged (for minimum-norm attacks), so metrics count it honestly;
//! - randomness comes only from the `Rng` passed in.

pub mod blackbox;
pub mod fgsm;
pub mod hopskipjump;
pub mod square;

use aisec_ml::candle::{D, Tensor};
use aisec_ml::{Classifier, Rng, WhiteBox};
use serde::{Deserialize, Serialize};

use crate::error::{AttackError, Result};

/// The norm a perturbation is measured and bounded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Norm {
    /// Largest absolute change of any input element.
    Linf,
    /// Euclidean length of the change.
    L2,
}

impl std::fmt::Display for Norm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Linf => "linf",
            Self::L2 => "l2",
        })
    }
}

/// What the attacker wants for each row.
#[derive(Debug, Clone)]
pub struct Goal {
    /// The true labels.
    pub labels: Vec<u32>,
    /// Target classes for a targeted attack (one per row), or `None` for untargeted.
    pub targets: Option<Vec<u32>>,
}

impl Goal {
    /// Untargeted: any class but the true one.
    #[must_use]
    pub fn untargeted(labels: Vec<u32>) -> Self {
        Self {
            labels,
            targets: None,
        }
    }

    /// Whether each predicted class meets the goal.
    #[must_use]
    pub fn achieved(&self, predicted: &[u32]) -> Vec<bool> {
        match &self.targets {
            Some(t) => predicted.iter().zip(t).map(|(p, t)| p == t).collect(),
            None => predicted
                .iter()
                .zip(&self.labels)
                .map(|(p, y)| p != y)
                .collect(),
        }
    }

    /// The rows `idx` of this goal.
    #[must_use]
    pub fn select(&self, idx: &[usize]) -> Self {
        Self {
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
            targets: self
                .targets
                .as_ref()
                .map(|t| idx.iter().map(|&i| t[i]).collect()),
        }
    }
}

/// What an attack needs from the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Logits and their input gradients.
    WhiteBox,
    /// Class probabilities.
    Scores,
    /// The predicted class only.
    Decisions,
}

/// An evasion attack.
pub trait EvasionAttack: Send + Sync {
    /// The attack's name as the CLI spells it (`pgd`, `cw`...).
    fn name(&self) -> &'static str;

    /// What the attack needs from the model.
    fn access(&self) -> Access;

    /// The perturbation bound, for eps-bounded attacks; `None` for minimum-norm attacks
    /// (C&W, DeepFool, HopSkipJump), whose robust accuracy per eps is read off their norms.
    fn eps(&self) -> Option<(Norm, f32)>;

    /// The norm the attack minimises or bounds.
    fn norm(&self) -> Norm;

    /// Adversarial versions of the batch `x`.
    fn generate(
        &self,
        model: &dyn Classifier,
        x: &Tensor,
        goal: &Goal,
        rng: &mut Rng,
    ) -> Result<Tensor>;
}

/// The white-box face of `model`, or the error that says this attack needs it.
pub fn white_box<'a>(
    attack: &dyn EvasionAttack,
    model: &'a dyn Classifier,
) -> Result<&'a dyn WhiteBox> {
    model
        .white_box()
        .ok_or_else(|| AttackError::NeedsGradients {
            attack: attack.name(),
            model: model.info().name.clone(),
        })
}

/// Clips to the model's valid input range.
pub fn clip(model: &dyn Classifier, x: &Tensor) -> Result<Tensor> {
    let [lo, hi] = model.info().input_range;
    Ok(x.clamp(lo, hi)?)
}

/// Per-row norms `[N]` of a batch `[N, ...]`.
pub fn row_norms(delta: &Tensor, norm: Norm) -> Result<Tensor> {
    let flat = delta.flatten_from(1)?;
    Ok(match norm {
        Norm::Linf => flat.abs()?.max(D::Minus1)?,
        Norm::L2 => flat.sqr()?.sum(D::Minus1)?.sqrt()?,
    })
}

/// Multiplies each row of `x` `[N, ...]` by `s` `[N]`.
pub fn scale_rows(x: &Tensor, s: &Tensor) -> Result<Tensor> {
    let mut shape = vec![x.dim(0)?];
    shape.extend(std::iter::repeat_n(1, x.rank() - 1));
    Ok(x.broadcast_mul(&s.reshape(shape)?)?)
}

/// Projects `x_adv` onto the `eps`-ball around `x` in `norm`, then clips to the input range.
pub fn project(
    model: &dyn Classifier,
    x: &Tensor,
    x_adv: &Tensor,
    norm: Norm,
    eps: f32,
) -> Result<Tensor> {
    let delta = (x_adv - x)?;
    let delta = match norm {
        Norm::Linf => delta.clamp(-eps, eps)?,
        Norm::L2 => {
            let n = row_norms(&delta, Norm::L2)?;
            let factor = (n.clamp(1e-12, f32::MAX)?.recip()? * f64::from(eps))?.clamp(0.0, 1.0)?;
            scale_rows(&delta, &factor)?
        }
    };
    clip(model, &(x + delta)?)
}

/// A step of length one in `norm` along `grad`: its sign for Linf, the unit vector for L2.
pub fn unit_step(grad: &Tensor, norm: Norm) -> Result<Tensor> {
    Ok(match norm {
        Norm::Linf => grad.sign()?,
        Norm::L2 => {
            let n = row_norms(grad, Norm::L2)?.clamp(1e-12, f32::MAX)?;
            scale_rows(grad, &n.recip()?)?
        }
    })
}

/// Cross-entropy toward the goal, signed so that ascending it serves the attacker: the loss on the
/// true label (untargeted), or minus the loss on the target (targeted).
pub fn goal_loss(model: &dyn WhiteBox, x: &Tensor, goal: &Goal) -> Result<(Tensor, Tensor)> {
    match &goal.targets {
        None => Ok(model.loss_and_input_gradient(x, &goal.labels)?),
        Some(t) => {
            let (loss, grad) = model.loss_and_input_gradient(x, t)?;
            Ok((loss.neg()?, grad.neg()?))
        }
    }
}
