//! Training: mini-batch SGD (with momentum) or Adam, L2 weight decay, seeded shuffles, early
//! stopping on a held-out slice, and a hook that replaces each batch (adversarial training);
//! or DP-SGD ([`DpSgd`]: Poisson sampling, per-sample clipping, Gaussian noise) with its privacy
//! accounted for by [`crate::privacy`].

mod dp;

use candle_core::{D, DType, Device, Tensor, Var};
use serde::{Deserialize, Serialize};

use crate::error::{MlError, Result};
use crate::network::{Mode, Network};
use crate::ops;
use crate::rng::Rng;

/// The optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Optimizer {
    /// Stochastic gradient descent with (heavy-ball) momentum.
    Sgd {
        /// Momentum, 0 for plain SGD.
        momentum: f64,
    },
    /// Adam (Kingma & Ba).
    Adam {
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
        /// Denominator guard.
        eps: f64,
    },
}

impl Optimizer {
    /// Adam with the usual constants.
    #[must_use]
    pub fn adam() -> Self {
        Self::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// How to train.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The optimiser.
    pub optimizer: Optimizer,
    /// Step size.
    pub learning_rate: f64,
    /// L2 penalty added to every weight's gradient.
    pub weight_decay: f64,
    /// Most passes over the data.
    pub epochs: usize,
    /// Rows per step.
    pub batch_size: usize,
    /// Seed for initial shuffles, batch order and dropout.
    pub seed: u64,
    /// Stop after this many epochs without a better validation loss (restoring the best
    /// weights); `None` trains every epoch.
    pub patience: Option<usize>,
    /// The share of the training rows held out for early stopping.
    pub validation_fraction: f64,
    /// Train with DP-SGD instead (no validation slice, no early stopping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dp: Option<DpSgd>,
}

/// DP-SGD (Abadi et al. 2016): each step samples every training row independently with
/// probability `batch_size / rows` (Poisson sampling), clips each sampled row's gradient over all
/// trainable parameters together to L2 norm `clip_norm`, sums them, adds Gaussian noise of
/// standard deviation `noise_multiplier * clip_norm` to every coordinate, and divides by the
/// expected batch size before the optimiser step. An epoch is `round(rows / batch_size)` steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DpSgd {
    /// The per-sample gradient's L2 bound.
    pub clip_norm: f64,
    /// Noise standard deviation over `clip_norm`.
    pub noise_multiplier: f64,
    /// The delta the reported epsilon holds for.
    pub delta: f64,
}

impl DpSgd {
    /// The Poisson sampling rate and the number of noisy steps that `epochs` epochs of batches
    /// of `batch_size` (expected) over `rows` training rows take.
    #[must_use]
    pub fn schedule(rows: usize, batch_size: usize, epochs: usize) -> (f64, usize) {
        if rows == 0 || batch_size == 0 {
            return (0.0, 0);
        }
        let rate = (batch_size as f64 / rows as f64).min(1.0);
        let per_epoch = ((rows as f64 / batch_size as f64).round() as usize).max(1);
        (rate, per_epoch.saturating_mul(epochs))
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            optimizer: Optimizer::adam(),
            learning_rate: 1e-2,
            weight_decay: 0.0,
            epochs: 60,
            batch_size: 64,
            seed: 0,
            patience: Some(8),
            validation_fraction: 0.1,
            dp: None,
        }
    }
}

/// What happened in training.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    /// Epochs run.
    pub epochs_run: usize,
    /// The epoch whose weights were kept (1-based).
    pub best_epoch: usize,
    /// Mean training loss per epoch.
    pub train_loss: Vec<f64>,
    /// Validation loss per epoch (empty without a validation slice).
    pub validation_loss: Vec<f64>,
    /// Validation accuracy of the kept weights.
    pub validation_accuracy: Option<f64>,
    /// The privacy DP-SGD spent (`None` without DP-SGD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privacy: Option<PrivacySpent>,
}

pub use crate::privacy::PrivacySpent;

/// Replaces a batch before the step: `(current network, batch, labels) -> batch to train on`.
pub type BatchHook<'a> = dyn FnMut(&Network, &Tensor, &[u32]) -> Result<Tensor> + 'a;

/// What the network learns to predict: class labels, or a distribution per row.
#[derive(Clone, Copy)]
enum Targets<'a> {
    /// One class per row.
    Labels(&'a [u32]),
    /// `[N, K]` target probabilities per row (cross-entropy against them).
    Soft(&'a Tensor),
}

impl Targets<'_> {
    /// The targets of rows `idx` (`ids` as a row index tensor): their labels, or their target
    /// rows (with no labels).
    fn take(&self, ids: &Tensor, idx: &[usize]) -> Result<(Option<Tensor>, Vec<u32>)> {
        Ok(match self {
            Self::Labels(labels) => (None, idx.iter().map(|&i| labels[i]).collect()),
            Self::Soft(t) => (Some(t.index_select(ids, 0)?), Vec::new()),
        })
    }

    /// The mean loss of `logits` against a batch's targets.
    fn loss(logits: &Tensor, soft: Option<&Tensor>, labels: &[u32]) -> Result<Tensor> {
        match soft {
            None => ops::cross_entropy(logits, labels),
            Some(t) => Ok(ops::log_softmax(logits)?
                .mul(&t.to_dtype(logits.dtype())?)?
                .sum(D::Minus1)?
                .neg()?
                .mean_all()?),
        }
    }
}

fn check_recipe(config: &TrainConfig) -> Result<()> {
    if config.batch_size == 0
        || config.epochs == 0
        || config.learning_rate.is_nan()
        || config.learning_rate <= 0.0
    {
        return Err(MlError::Input(
            "batch size, epochs and learning rate must be positive".into(),
        ));
    }
    Ok(())
}

/// Trains `net` in place on `x` `[N, ...input_shape]` with `labels`.
pub fn train(
    net: &mut Network,
    x: &Tensor,
    labels: &[u32],
    config: &TrainConfig,
    hook: Option<&mut BatchHook<'_>>,
) -> Result<TrainReport> {
    let n = x.dim(0)?;
    if n != labels.len() || n == 0 {
        return Err(MlError::Input(format!(
            "{n} rows and {} labels",
            labels.len()
        )));
    }
    check_recipe(config)?;
    if let Some(dp) = &config.dp {
        return dp::train(net, x, labels, config, dp, hook);
    }
    fit(net, x, Targets::Labels(labels), config, hook)
}

/// Trains `net` in place on `x` against target distributions `targets` `[N, K]` (cross-entropy
/// with soft targets; one-hot rows make it the usual loss): what a copy learns from a model's
/// answers. The same recipe as [`train`]; DP-SGD is refused (it is defined on labelled rows).
pub fn train_soft(
    net: &mut Network,
    x: &Tensor,
    targets: &Tensor,
    config: &TrainConfig,
) -> Result<TrainReport> {
    let n = x.dim(0)?;
    let k = net.arch().num_classes;
    if n == 0 || targets.dims() != [n, k] {
        return Err(MlError::Input(format!(
            "{n} rows and targets of shape {:?} for {k} classes",
            targets.dims()
        )));
    }
    check_recipe(config)?;
    if config.dp.is_some() {
        return Err(MlError::Input(
            "DP-SGD trains on labelled rows, not on target distributions".into(),
        ));
    }
    fit(net, x, Targets::Soft(targets), config, None)
}

/// The training loop shared by [`train`] (without DP-SGD) and [`train_soft`].
fn fit(
    net: &mut Network,
    x: &Tensor,
    targets: Targets<'_>,
    config: &TrainConfig,
    mut hook: Option<&mut BatchHook<'_>>,
) -> Result<TrainReport> {
    let n = x.dim(0)?;
    let mut rng = Rng::new(config.seed);
    let mut order: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut order);
    let n_val = if config.patience.is_some() {
        ((n as f64 * config.validation_fraction).round() as usize).min(n - 1)
    } else {
        0
    };
    let (val_idx, train_idx) = order.split_at(n_val);
    let take = |idx: &[usize]| -> Result<(Tensor, Option<Tensor>, Vec<u32>)> {
        let ids: Vec<u32> = idx.iter().map(|&i| i as u32).collect();
        let t = Tensor::from_vec(ids, idx.len(), &Device::Cpu)?;
        let (soft, labels) = targets.take(&t, idx)?;
        Ok((x.index_select(&t, 0)?, soft, labels))
    };
    let (x_val, t_val, mut y_val) = take(val_idx)?;
    if let Some(t) = &t_val
        && n_val > 0
    {
        // The held-out rows' most likely classes, for the validation accuracy.
        y_val = t.argmax(1)?.to_vec1::<u32>()?;
    }
    let mut train_idx = train_idx.to_vec();

    let specs = net.param_specs_list().to_vec();
    let masks = net.masks().to_vec();
    let vars: Vec<Var> = net
        .params()
        .iter()
        .map(Var::from_tensor)
        .collect::<candle_core::Result<_>>()?;
    let mut state: Vec<(Tensor, Tensor)> = vars
        .iter()
        .map(|v| Ok((v.zeros_like()?, v.zeros_like()?)))
        .collect::<Result<_>>()?;
    let mut step = 0i32;
    let mut best: Option<(f64, usize, Vec<Tensor>)> = None;
    let mut report = TrainReport {
        epochs_run: 0,
        best_epoch: 0,
        train_loss: Vec::new(),
        validation_loss: Vec::new(),
        validation_accuracy: None,
        privacy: None,
    };

    for epoch in 1..=config.epochs {
        rng.shuffle(&mut train_idx);
        let mut total = 0.0;
        for chunk in train_idx.chunks(config.batch_size) {
            let (mut xb, tb, yb) = take(chunk)?;
            let params: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
            if let Some(hook) = hook.as_deref_mut() {
                let mut snapshot = net.clone();
                snapshot.set_params(params.iter().map(Tensor::detach).collect())?;
                xb = hook(&snapshot, &xb, &yb)?.detach();
            }
            let mut bn_stats = Vec::new();
            let logits = net.forward_with(
                &xb.to_dtype(net.dtype())?,
                &params,
                &mut Mode::Train {
                    rng: &mut rng,
                    bn_stats: &mut bn_stats,
                },
            )?;
            let loss = Targets::loss(&logits, tb.as_ref(), &yb)?;
            total += loss.to_dtype(DType::F64)?.to_scalar::<f64>()? * chunk.len() as f64;
            let grads = loss.backward()?;
            step += 1;
            for (i, var) in vars.iter().enumerate() {
                if !specs[i].trainable {
                    continue;
                }
                let Some(g) = grads.get(var.as_tensor()) else {
                    continue;
                };
                apply_update(
                    config,
                    var,
                    &mut state[i],
                    g.clone(),
                    specs[i].name.ends_with("weight"),
                    masks[i].as_ref(),
                    step,
                )?;
            }
            for (index, mean, var) in bn_stats {
                let momentum = 0.1;
                let rm = ((vars[index].as_tensor() * (1.0 - momentum))? + (mean * momentum)?)?;
                let rv = ((vars[index + 1].as_tensor() * (1.0 - momentum))? + (var * momentum)?)?;
                vars[index].set(&rm)?;
                vars[index + 1].set(&rv)?;
            }
        }
        report.epochs_run = epoch;
        report.train_loss.push(total / train_idx.len() as f64);
        if n_val == 0 {
            report.best_epoch = epoch;
            continue;
        }
        let mut current = net.clone();
        current.set_params(vars.iter().map(|v| v.as_tensor().detach()).collect())?;
        let logits = current.logits(&x_val.to_dtype(net.dtype())?)?;
        let val_loss = Targets::loss(&logits, t_val.as_ref(), &y_val)?
            .to_dtype(DType::F64)?
            .to_scalar::<f64>()?;
        report.validation_loss.push(val_loss);
        if best.as_ref().is_none_or(|(b, _, _)| val_loss < *b) {
            best = Some((val_loss, epoch, current.params().to_vec()));
        } else if let (Some(patience), Some((_, best_epoch, _))) = (config.patience, &best)
            && epoch - best_epoch >= patience
        {
            break;
        }
    }
    match best {
        Some((_, epoch, params)) => {
            net.set_params(params)?;
            report.best_epoch = epoch;
            report.validation_accuracy = Some(accuracy(net, &x_val, &y_val)?);
        }
        None => net.set_params(vars.iter().map(|v| v.as_tensor().detach()).collect())?,
    }
    Ok(report)
}

/// One optimiser step on `var` with gradient `g`: weight decay (for weights), then SGD with
/// momentum or Adam (`state` holds the momentum or Adam's moments), then the pruning mask.
fn apply_update(
    config: &TrainConfig,
    var: &Var,
    state: &mut (Tensor, Tensor),
    mut g: Tensor,
    is_weight: bool,
    mask: Option<&Tensor>,
    step: i32,
) -> Result<()> {
    if config.weight_decay > 0.0 && is_weight {
        g = (g + (var.as_tensor() * config.weight_decay)?)?;
    }
    let update = match config.optimizer {
        Optimizer::Sgd { momentum } => {
            let buf = if momentum > 0.0 {
                let b = ((&state.0 * momentum)? + &g)?;
                state.0 = b.clone();
                b
            } else {
                g
            };
            (buf * config.learning_rate)?
        }
        Optimizer::Adam { beta1, beta2, eps } => {
            let m = ((&state.0 * beta1)? + (&g * (1.0 - beta1))?)?;
            let v = ((&state.1 * beta2)? + (g.sqr()? * (1.0 - beta2))?)?;
            let m_hat = (&m / (1.0 - beta1.powi(step)))?;
            let v_hat = (&v / (1.0 - beta2.powi(step)))?;
            *state = (m, v);
            (m_hat.div(&(v_hat.sqrt()? + eps)?)? * config.learning_rate)?
        }
    };
    let mut next = var.as_tensor().sub(&update)?.detach();
    if let Some(mask) = mask {
        next = next.mul(mask)?;
    }
    var.set(&next)?;
    Ok(())
}

/// The share of rows the network classifies correctly.
pub fn accuracy(net: &Network, x: &Tensor, labels: &[u32]) -> Result<f64> {
    if labels.is_empty() {
        return Ok(0.0);
    }
    let predicted = net
        .logits(&x.to_dtype(net.dtype())?)?
        .argmax(1)?
        .to_vec1::<u32>()?;
    let correct = predicted.iter().zip(labels).filter(|(p, y)| p == y).count();
    Ok(correct as f64 / labels.len() as f64)
}
