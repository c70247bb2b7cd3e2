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
//!
//! The gradient attacks share: [`GoalTensors`] (the goal as tensors, built once per batch),
//! [`loss_gradient`] / [`objective_gradient`] (loss, input gradient and logits from one pass, so
//! success checks cost nothing extra), [`class_gradients`] (several logits' gradients per row in
//! one pass, for DeepFool), [`where_rows`] (per-row selection without leaving the tensors), and
//! [`RowSink`] with [`split_rows`] / [`pick`], which let rows that are done leave the batch the
//! step loop works on.

pub mod apgd;
pub mod blackbox;
pub mod cw;
pub mod deepfool;
pub mod fgsm;
pub mod hopskipjump;
pub mod pgd;
pub mod square;

use std::cell::RefCell;

use aisec_ml::candle::{D, DType, Device, Tensor};
use aisec_ml::{Classifier, Rng, WhiteBox, ops};
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

/// A goal as tensors, built once per batch so that the step loops of the gradient attacks stay on
/// tensors: the label (or target) of every row, and the one-hot row its loss is read from.
#[derive(Debug, Clone)]
pub struct GoalTensors {
    /// The true labels `[N]` (u32).
    labels: Tensor,
    /// The targets `[N]` (u32) of a targeted goal.
    targets: Option<Tensor>,
    /// One-hot `[N, K]` (f32) of the class the loss is about (the target, or the label),
    /// signed so that `(log_softmax(z) * signed).sum(1)` is the attacker's loss.
    signed_onehot: Tensor,
    /// One-hot `[N, K]` (f32) of the same class, unsigned.
    onehot: Tensor,
}

impl GoalTensors {
    /// Checks `goal` against a batch of `rows` and a model with `classes` classes, and builds
    /// its tensors.
    pub fn new(goal: &Goal, rows: usize, classes: usize, device: &Device) -> Result<Self> {
        let check = |name: &str, v: &[u32]| -> Result<()> {
            if v.len() != rows {
                return Err(AttackError::Parameter(format!(
                    "{} {name} for {rows} rows",
                    v.len()
                )));
            }
            if let Some(bad) = v.iter().find(|&&c| c as usize >= classes) {
                return Err(AttackError::Parameter(format!(
                    "{name} {bad} is outside the model's {classes} classes"
                )));
            }
            Ok(())
        };
        check("labels", &goal.labels)?;
        let labels = Tensor::from_slice(&goal.labels, rows, device)?;
        let (targets, class) = match &goal.targets {
            Some(t) => {
                check("targets", t)?;
                (Some(Tensor::from_slice(t, rows, device)?), t.as_slice())
            }
            None => (None, goal.labels.as_slice()),
        };
        let onehot = ops::one_hot(class, classes, DType::F32, device)?;
        // Untargeted: minus the log-probability of the label (its cross-entropy, to ascend).
        // Targeted: the log-probability of the target (minus its cross-entropy, to ascend).
        let sign = if targets.is_some() { 1.0 } else { -1.0 };
        let signed_onehot = (&onehot * sign)?;
        Ok(Self {
            labels,
            targets,
            signed_onehot,
            onehot,
        })
    }

    /// Whether the goal is targeted.
    #[must_use]
    pub fn targeted(&self) -> bool {
        self.targets.is_some()
    }

    /// The true labels `[N]`.
    #[must_use]
    pub fn labels(&self) -> &Tensor {
        &self.labels
    }

    /// The class each row's loss is about `[N]`: the target, or the true label.
    #[must_use]
    pub fn class(&self) -> &Tensor {
        self.targets.as_ref().unwrap_or(&self.labels)
    }

    /// One-hot `[N, K]` of [`GoalTensors::class`].
    #[must_use]
    pub fn onehot(&self) -> &Tensor {
        &self.onehot
    }

    /// The rows `idx` (a u32 index tensor) of this goal.
    pub fn select(&self, idx: &Tensor) -> Result<Self> {
        Ok(Self {
            labels: self.labels.index_select(idx, 0)?,
            targets: self
                .targets
                .as_ref()
                .map(|t| t.index_select(idx, 0))
                .transpose()?,
            signed_onehot: self.signed_onehot.index_select(idx, 0)?,
            onehot: self.onehot.index_select(idx, 0)?,
        })
    }

    /// Per row, whether `logits` `[N, K]` meet the goal: `[N]` u8, 1 where met.
    pub fn achieved(&self, logits: &Tensor) -> Result<Tensor> {
        let predicted = logits.argmax(D::Minus1)?;
        Ok(match &self.targets {
            Some(t) => predicted.eq(t)?,
            None => predicted.ne(&self.labels)?,
        })
    }

    /// The attacker's cross-entropy loss `[N]` from `logits`: the loss on the label
    /// (untargeted), or minus the loss on the target (targeted). Ascending it serves the goal.
    pub fn loss(&self, logits: &Tensor) -> Result<Tensor> {
        Ok(ops::log_softmax(logits)?
            .mul(&self.signed_onehot)?
            .sum(D::Minus1)?)
    }
}

/// What one gradient evaluation gives: the attacker's loss per row, its input gradient, and the
/// logits (for success checks at no extra forward pass).
#[derive(Debug, Clone)]
pub struct LossGradient {
    /// The loss `[N]` ([`GoalTensors::loss`]).
    pub loss: Tensor,
    /// Its gradient with respect to the input, `[N, ...]`.
    pub grad: Tensor,
    /// The logits `[N, K]`, detached.
    pub logits: Tensor,
}

/// The input gradient of any per-row objective on the logits, with the logits themselves.
pub fn objective_gradient(
    model: &dyn WhiteBox,
    x: &Tensor,
    objective: &dyn Fn(&Tensor) -> Result<Tensor>,
) -> Result<LossGradient> {
    let seen: RefCell<Option<Tensor>> = RefCell::new(None);
    let failed: RefCell<Option<AttackError>> = RefCell::new(None);
    let result = model.input_gradient(x, &|logits: &Tensor| {
        *seen.borrow_mut() = Some(logits.detach());
        objective(logits).map_err(|e| match e {
            AttackError::Model(e) => e,
            AttackError::Tensor(e) => aisec_ml::MlError::Tensor(e),
            other => {
                let message = other.to_string();
                *failed.borrow_mut() = Some(other);
                aisec_ml::MlError::Unsupported(message)
            }
        })
    });
    if let Some(e) = failed.into_inner() {
        return Err(e);
    }
    let (loss, grad) = result?;
    let logits = seen
        .into_inner()
        .ok_or_else(|| AttackError::Parameter("the model returned no logits".into()))?;
    Ok(LossGradient { loss, grad, logits })
}

/// The attacker's cross-entropy loss ([`GoalTensors::loss`]), its input gradient and the logits.
pub fn loss_gradient(model: &dyn WhiteBox, x: &Tensor, goal: &GoalTensors) -> Result<LossGradient> {
    objective_gradient(model, x, &|logits| goal.loss(logits))
}

/// Per row, `a` where `mask` `[N]` (u8) is set, else `b`.
pub fn where_rows(mask: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let mut shape = vec![mask.dim(0)?];
    shape.extend(std::iter::repeat_n(1, a.rank() - 1));
    let mask = mask.reshape(shape)?.broadcast_as(a.shape())?;
    Ok(mask.where_cond(a, b)?)
}

/// A u32 index tensor for row positions.
pub fn row_index(rows: &[usize], device: &Device) -> Result<Tensor> {
    let ids: Vec<u32> = rows.iter().map(|&i| i as u32).collect();
    Ok(Tensor::from_vec(ids, rows.len(), device)?)
}

/// The rows `rows` of `x` (along the first dimension).
pub fn select_rows(x: &Tensor, rows: &[usize]) -> Result<Tensor> {
    Ok(x.index_select(&row_index(rows, x.device())?, 0)?)
}

/// The positions of the set and of the unset entries of a u8 mask `[N]` (one small copy off
/// the device).
pub fn split_rows(mask: &Tensor) -> Result<(Vec<usize>, Vec<usize>)> {
    let mut set = Vec::new();
    let mut unset = Vec::new();
    for (i, m) in mask.to_vec1::<u8>()?.into_iter().enumerate() {
        if m == 0 {
            unset.push(i);
        } else {
            set.push(i);
        }
    }
    Ok((set, unset))
}

/// `positions[k]` for each `k` in `which`: maps rows of a sub-batch back to the batch.
#[must_use]
pub fn pick(positions: &[usize], which: &[usize]) -> Vec<usize> {
    which.iter().map(|&k| positions[k]).collect()
}

/// The output of an attack, assembled row by row as rows finish (so that finished rows can leave
/// the batch the step loop works on). Starts as a copy of the clean batch: a row never written
/// comes back unchanged.
#[derive(Debug)]
pub struct RowSink {
    data: Vec<f32>,
    row_len: usize,
    shape: Vec<usize>,
    device: Device,
}

impl RowSink {
    /// A sink holding a copy of `x`.
    pub fn new(x: &Tensor) -> Result<Self> {
        let x = x.to_dtype(DType::F32)?;
        let rows = x.dim(0)?;
        Ok(Self {
            row_len: x.elem_count() / rows.max(1),
            data: x.flatten_all()?.to_vec1::<f32>()?,
            shape: x.dims().to_vec(),
            device: x.device().clone(),
        })
    }

    /// Writes `values` `[rows.len(), ...]` to the original positions `rows`.
    pub fn put(&mut self, rows: &[usize], values: &Tensor) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let values = values
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        for (k, &row) in rows.iter().enumerate() {
            self.data[row * self.row_len..(row + 1) * self.row_len]
                .copy_from_slice(&values[k * self.row_len..(k + 1) * self.row_len]);
        }
        Ok(())
    }

    /// The assembled batch.
    pub fn finish(self) -> Result<Tensor> {
        Ok(Tensor::from_vec(self.data, self.shape, &self.device)?)
    }
}

/// A random point in the `eps`-ball of `norm` around each row of `x`, clipped to the model's
/// range: uniform in the cube for Linf, uniform in the ball's volume for L2 (a Gaussian
/// direction and radius `eps * u^(1/d)`, as IBM ART draws it).
pub fn random_in_ball(
    model: &dyn Classifier,
    x: &Tensor,
    norm: Norm,
    eps: f32,
    rng: &mut Rng,
) -> Result<Tensor> {
    let n = x.dim(0)?;
    let d = x.elem_count() / n.max(1);
    let delta = match norm {
        Norm::Linf => Tensor::from_vec(
            rng.uniform_vec(x.elem_count(), -eps, eps),
            x.shape(),
            x.device(),
        )?,
        Norm::L2 => {
            let dir = Tensor::from_vec(rng.normal_vec(x.elem_count()), x.shape(), x.device())?;
            let radius: Vec<f32> = (0..n)
                .map(|_| (f64::from(eps) * rng.uniform().powf(1.0 / d as f64)) as f32)
                .collect();
            let radius = Tensor::from_vec(radius, n, x.device())?;
            let scale = (radius / row_norms(&dir, Norm::L2)?.clamp(1e-12, f32::MAX)?)?;
            scale_rows(&dir, &scale)?
        }
    };
    clip(model, &(x + delta)?)
}

/// Input gradients of chosen logits, row by row: see [`class_gradients`].
#[derive(Debug, Clone)]
pub struct ClassGradients {
    /// The chosen logits `[N, C]`.
    pub selected: Tensor,
    /// Their input gradients `[N, C, ...input_shape]`.
    pub grads: Tensor,
    /// All logits `[N, K]` at `x`.
    pub logits: Tensor,
}

/// For each row `i` and column `j` of `classes` `[N, C]` (u32), the input gradient of logit
/// `classes[i, j]` at `x[i]`: one forward and one backward pass over the `N·C` rows of `x`
/// repeated `C` times (counted as `N·C` gradient evaluations).
pub fn class_gradients(
    model: &dyn WhiteBox,
    x: &Tensor,
    classes: &Tensor,
) -> Result<ClassGradients> {
    let (n, c) = classes.dims2()?;
    let mut rep_shape = vec![n, c];
    rep_shape.extend(&x.dims()[1..]);
    let mut flat_shape = vec![n * c];
    flat_shape.extend(&x.dims()[1..]);
    let repeated = x
        .unsqueeze(1)?
        .broadcast_as(rep_shape.as_slice())?
        .contiguous()?
        .reshape(flat_shape)?;
    let idx = classes.reshape((n * c, 1))?.contiguous()?;
    let lg = objective_gradient(model, &repeated, &|logits| {
        Ok(logits.gather(&idx, 1)?.squeeze(1)?)
    })?;
    let k = lg.logits.dim(1)?;
    Ok(ClassGradients {
        selected: lg.loss.reshape((n, c))?,
        grads: lg.grad.reshape(rep_shape)?,
        logits: lg.logits.reshape((n, c, k))?.narrow(1, 0, 1)?.squeeze(1)?,
    })
}
