//! PGD adversarial training (Madry et al., 2018): train on PGD examples made against the current
//! weights at every step, so the model learns to classify the worst case in the ball.
//!
//! The trainer ([`aisec_ml::train::train`]) calls a batch hook before each step; the hook here
//! replaces the batch with PGD examples against a snapshot of the weights (in inference mode:
//! dropout off, batch norm on its running statistics), optionally only half of it (the first half
//! of each shuffled batch, as in Goodfellow et al.'s mixed objective).

use std::cell::RefCell;

use aisec_ml::candle::Tensor;
use aisec_ml::train::{TrainConfig, TrainReport, train};
use aisec_ml::{LocalModel, MlError, Network, Rng};

use crate::error::{AttackError, Result};
use crate::evasion::pgd::Pgd;
use crate::evasion::{EvasionAttack, Goal};

/// How adversarial training makes its batches.
#[derive(Debug, Clone)]
pub struct AdversarialTraining {
    /// The attack that makes the training examples (Madry et al. use a random start and a
    /// handful of steps of about `2.5·eps / steps`).
    pub attack: Pgd,
    /// Train on half adversarial, half clean rows instead of adversarial rows only.
    pub mix_clean: bool,
    /// Seed of the attack's random starts.
    pub seed: u64,
}

impl AdversarialTraining {
    /// Madry et al.'s recipe: PGD with one random start and 10 steps of 2.5·eps/10, batches half
    /// clean, half adversarial.
    #[must_use]
    pub fn madry(norm: crate::evasion::Norm, eps: f32, seed: u64) -> Self {
        let steps = 10;
        Self {
            attack: Pgd {
                norm,
                eps,
                eps_step: 2.5 * eps / steps as f32,
                max_iter: steps,
                num_random_init: 1,
                early_stop: false,
            },
            mix_clean: true,
            seed,
        }
    }
}

/// Trains a hardened copy of `initial` on `x` `[N, ...input_shape]` with `labels`, replacing each
/// batch by PGD examples against the current weights. Returns the trained network and the
/// trainer's report; `initial` is left as it was.
pub fn adversarial_training(
    initial: &Network,
    x: &Tensor,
    labels: &[u32],
    config: &TrainConfig,
    training: &AdversarialTraining,
) -> Result<(Network, TrainReport)> {
    training.attack.validate()?;
    let mut net = initial.clone();
    let rng = RefCell::new(Rng::new(training.seed));
    // The hook must return the engine's error type; an attack error is kept here and returned
    // as itself.
    let failure: RefCell<Option<AttackError>> = RefCell::new(None);
    let mut hook = |current: &Network, batch: &Tensor, y: &[u32]| -> aisec_ml::Result<Tensor> {
        let made = harden_batch(current, batch, y, training, &mut rng.borrow_mut());
        made.map_err(|e| match e {
            AttackError::Model(e) => e,
            AttackError::Tensor(e) => MlError::Tensor(e),
            other => {
                let message = other.to_string();
                *failure.borrow_mut() = Some(other);
                MlError::Unsupported(message)
            }
        })
    };
    let report = train(&mut net, x, labels, config, Some(&mut hook));
    if let Some(e) = failure.into_inner() {
        return Err(e);
    }
    Ok((net, report?))
}

/// The batch to train on: PGD examples for all rows, or for the first half.
fn harden_batch(
    current: &Network,
    batch: &Tensor,
    y: &[u32],
    training: &AdversarialTraining,
    rng: &mut Rng,
) -> Result<Tensor> {
    let model = LocalModel::new(current.clone(), "adversarial-training");
    let n = batch.dim(0)?;
    let attacked = if training.mix_clean { n.div_ceil(2) } else { n };
    if attacked == n {
        return training
            .attack
            .generate(&model, batch, &Goal::untargeted(y.to_vec()), rng);
    }
    let adv = training.attack.generate(
        &model,
        &batch.narrow(0, 0, attacked)?,
        &Goal::untargeted(y[..attacked].to_vec()),
        rng,
    )?;
    Ok(Tensor::cat(
        &[&adv, &batch.narrow(0, attacked, n - attacked)?],
        0,
    )?)
}
