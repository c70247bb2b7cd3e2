//! DP-SGD: Poisson-sampled batches, per-sample gradients clipped over all trainable parameters
//! together, Gaussian noise on their sum, then the configured optimiser.
//!
//! Per-sample gradients (candle has no vectorising map): networks made only of linear layers,
//! element-wise activations (ReLU, tanh, sigmoid), flatten and dropout take an exact batched
//! path: a linear layer's per-sample weight gradient is the outer product of its output delta and
//! its input, so its squared norm is `|delta|^2 |input|^2` and the clipped sum is one matrix
//! product of the rescaled deltas with the inputs. Every other network (convolutions, pooling)
//! runs one backward pass per sampled row. Batch norm mixes rows within a batch, which breaks the
//! per-sample bound, so it is refused.

use candle_core::{D, DType, Device, Tensor, Var};

use super::{BatchHook, TrainConfig, TrainReport, apply_update};
use crate::arch::LayerSpec;
use crate::error::{MlError, Result};
use crate::network::{Mode, Network};
use crate::ops;
use crate::privacy::{self, PrivacySpent};
use crate::rng::Rng;

use super::DpSgd;

/// Checks the settings and the network, then trains with DP-SGD.
pub(super) fn train(
    net: &mut Network,
    x: &Tensor,
    labels: &[u32],
    config: &TrainConfig,
    dp: &DpSgd,
    mut hook: Option<&mut BatchHook<'_>>,
) -> Result<TrainReport> {
    if !(dp.clip_norm > 0.0 && dp.clip_norm.is_finite()) {
        return Err(MlError::Privacy(format!(
            "the clipping norm must be positive and finite, not {}",
            dp.clip_norm
        )));
    }
    if !(dp.noise_multiplier >= 0.0 && dp.noise_multiplier.is_finite()) {
        return Err(MlError::Privacy(format!(
            "the noise multiplier must be finite and non-negative, not {}",
            dp.noise_multiplier
        )));
    }
    if !(dp.delta > 0.0 && dp.delta < 1.0) {
        return Err(MlError::Privacy(format!(
            "delta must be in (0, 1), not {}",
            dp.delta
        )));
    }
    let layers = &net.arch().layers[..net.logit_layers()];
    if layers
        .iter()
        .any(|l| matches!(l, LayerSpec::BatchNorm { .. }))
    {
        return Err(MlError::Privacy(
            "DP-SGD cannot train batch normalisation (it mixes the rows of a batch, so no \
             per-sample bound holds); use an architecture without it"
                .into(),
        ));
    }
    let n = labels.len();
    let (rate, steps) = DpSgd::schedule(n, config.batch_size, config.epochs);
    let steps_per_epoch = steps / config.epochs;
    let expected_batch = rate * n as f64;
    let fast = batched_path_fits(net);

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
    // Batches and dropout from one stream, noise from another: the same seed draws the same
    // batches whatever the noise.
    let mut rng = Rng::new(config.seed);
    let mut noise_rng = rng.fork();
    let sigma = dp.noise_multiplier * dp.clip_norm;
    let mut report = TrainReport {
        epochs_run: 0,
        best_epoch: 0,
        train_loss: Vec::new(),
        validation_loss: Vec::new(),
        validation_accuracy: None,
        privacy: None,
    };
    let mut step = 0i32;
    for epoch in 1..=config.epochs {
        let (mut total, mut seen) = (0.0, 0usize);
        for _ in 0..steps_per_epoch {
            let chosen: Vec<u32> = (0..n)
                .filter(|_| rng.uniform() < rate)
                .map(|i| i as u32)
                .collect();
            let params: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().detach()).collect();
            let mut sums = if chosen.is_empty() {
                params
                    .iter()
                    .map(|p| Ok(Some(p.zeros_like()?)))
                    .collect::<Result<Vec<_>>>()?
            } else {
                let ids = Tensor::from_vec(chosen.clone(), chosen.len(), &Device::Cpu)?;
                let mut xb = x.index_select(&ids, 0)?;
                let yb: Vec<u32> = chosen.iter().map(|&i| labels[i as usize]).collect();
                if let Some(hook) = hook.as_deref_mut() {
                    let mut snapshot = net.clone();
                    snapshot.set_params(params.clone())?;
                    xb = hook(&snapshot, &xb, &yb)?.detach();
                }
                let xb = xb.to_dtype(net.dtype())?;
                let (sums, loss) = if fast {
                    clipped_sum_batched(net, &params, &xb, &yb, dp.clip_norm, &mut rng)?
                } else {
                    clipped_sum_per_row(net, &vars, &xb, &yb, dp.clip_norm, &mut rng)?
                };
                total += loss;
                seen += chosen.len();
                sums
            };
            step += 1;
            for (i, var) in vars.iter().enumerate() {
                if !specs[i].trainable {
                    continue;
                }
                let sum = sums[i]
                    .take()
                    .map_or_else(|| var.as_tensor().zeros_like(), Ok)?;
                let noisy = if sigma > 0.0 {
                    let noise = Tensor::from_vec(
                        (0..sum.elem_count())
                            .map(|_| (noise_rng.normal() * sigma) as f32)
                            .collect::<Vec<f32>>(),
                        sum.shape(),
                        &Device::Cpu,
                    )?
                    .to_dtype(sum.dtype())?;
                    (sum + noise)?
                } else {
                    sum
                };
                let g = (noisy / expected_batch)?;
                apply_update(
                    config,
                    var,
                    &mut state[i],
                    g,
                    specs[i].name.ends_with("weight"),
                    masks[i].as_ref(),
                    step,
                )?;
            }
        }
        report.epochs_run = epoch;
        report.best_epoch = epoch;
        report
            .train_loss
            .push(if seen == 0 { 0.0 } else { total / seen as f64 });
    }
    net.set_params(vars.iter().map(|v| v.as_tensor().detach()).collect())?;
    let spent = privacy::epsilon(rate, dp.noise_multiplier, steps, dp.delta)?;
    report.privacy = Some(PrivacySpent {
        epsilon: spent.epsilon,
        delta: dp.delta,
        order: spent.order,
        steps,
        sample_rate: rate,
        noise_multiplier: dp.noise_multiplier,
        clip_norm: dp.clip_norm,
    });
    Ok(report)
}

/// Whether the exact batched path covers the network: only linear layers (on flat inputs),
/// element-wise activations, flatten and dropout.
fn batched_path_fits(net: &Network) -> bool {
    let mut rank = 1 + net.arch().input_shape.len();
    for layer in &net.arch().layers[..net.logit_layers()] {
        match layer {
            LayerSpec::Linear { .. } if rank == 2 => {}
            LayerSpec::Flatten => rank = 2,
            LayerSpec::Relu | LayerSpec::Tanh | LayerSpec::Sigmoid | LayerSpec::Dropout { .. } => {}
            _ => return false,
        }
    }
    true
}

/// What the backward pass needs from each layer of the batched path.
enum Saved {
    Linear {
        input: Tensor,
        param: usize,
        bias: bool,
    },
    Relu {
        input: Tensor,
    },
    Tanh {
        output: Tensor,
    },
    Sigmoid {
        output: Tensor,
    },
    Flatten {
        shape: Vec<usize>,
    },
    Dropout {
        mask: Tensor,
    },
}

/// Per-parameter sums of the clipped per-sample gradients (in parameter order; `None` for
/// parameters the loss does not touch) and the summed loss, by the batched path.
fn clipped_sum_batched(
    net: &Network,
    params: &[Tensor],
    xb: &Tensor,
    yb: &[u32],
    clip_norm: f64,
    rng: &mut Rng,
) -> Result<(Vec<Option<Tensor>>, f64)> {
    let mut saved = Vec::new();
    let mut h = xb.clone();
    let mut param = 0usize;
    for layer in &net.arch().layers[..net.logit_layers()] {
        h = match layer {
            LayerSpec::Linear { bias, .. } => {
                saved.push(Saved::Linear {
                    input: h.clone(),
                    param,
                    bias: *bias,
                });
                let y = h.matmul(&params[param].t()?)?;
                let y = if *bias {
                    y.broadcast_add(&params[param + 1])?
                } else {
                    y
                };
                param += 1 + usize::from(*bias);
                y
            }
            LayerSpec::Relu => {
                saved.push(Saved::Relu { input: h.clone() });
                h.relu()?
            }
            LayerSpec::Tanh => {
                let out = h.tanh()?;
                saved.push(Saved::Tanh {
                    output: out.clone(),
                });
                out
            }
            LayerSpec::Sigmoid => {
                let out = (h.neg()?.exp()? + 1.0)?.recip()?;
                saved.push(Saved::Sigmoid {
                    output: out.clone(),
                });
                out
            }
            LayerSpec::Flatten => {
                saved.push(Saved::Flatten {
                    shape: h.dims().to_vec(),
                });
                h.flatten_from(1)?
            }
            LayerSpec::Dropout { p } => {
                let keep = 1.0 - p;
                let mask: Vec<f32> = (0..h.elem_count())
                    .map(|_| {
                        if rng.uniform() < keep {
                            (1.0 / keep) as f32
                        } else {
                            0.0
                        }
                    })
                    .collect();
                let mask = Tensor::from_vec(mask, h.shape(), h.device())?.to_dtype(h.dtype())?;
                saved.push(Saved::Dropout { mask: mask.clone() });
                h.mul(&mask)?
            }
            _ => {
                return Err(MlError::Unsupported(
                    "a layer outside the batched DP-SGD path".into(),
                ));
            }
        };
    }
    let logits = h;
    let loss = ops::cross_entropy_per_sample(&logits, yb)?
        .to_dtype(DType::F64)?
        .sum_all()?
        .to_scalar::<f64>()?;
    // The per-sample loss's gradient at the logits: softmax minus the one-hot label.
    let classes = logits.dim(1)?;
    let mut delta =
        (ops::softmax(&logits)? - ops::one_hot(yb, classes, logits.dtype(), logits.device())?)?;
    let mut linear: Vec<(usize, bool, Tensor, Tensor)> = Vec::new();
    let rows = yb.len();
    let mut sq_norm = Tensor::zeros(rows, logits.dtype(), logits.device())?;
    for (k, s) in saved.into_iter().enumerate().rev() {
        match s {
            Saved::Linear { input, param, bias } => {
                let d2 = delta.sqr()?.sum(D::Minus1)?;
                let a2 = input.sqr()?.sum(D::Minus1)?;
                sq_norm = (sq_norm + d2.mul(&a2)?)?;
                if bias {
                    sq_norm = (sq_norm + d2)?;
                }
                // No layer before the first one needs its delta.
                let next = if k > 0 {
                    Some(delta.matmul(&params[param])?)
                } else {
                    None
                };
                linear.push((param, bias, delta, input));
                match next {
                    Some(d) => delta = d,
                    None => break,
                }
            }
            Saved::Relu { input } => {
                delta = delta.mul(&input.gt(0.0)?.to_dtype(delta.dtype())?)?;
            }
            Saved::Tanh { output } => {
                delta = delta.mul(&(1.0 - output.sqr()?)?)?;
            }
            Saved::Sigmoid { output } => {
                delta = delta.mul(&output.mul(&(1.0 - &output)?)?)?;
            }
            Saved::Flatten { shape } => delta = delta.reshape(shape)?,
            Saved::Dropout { mask } => delta = delta.mul(&mask)?,
        }
    }
    // Each row's factor min(1, C / |g|) = C / max(|g|, C).
    let norm = sq_norm.sqrt()?;
    let factor = norm
        .maximum(clip_norm)?
        .recip()?
        .affine(clip_norm, 0.0)?
        .unsqueeze(1)?;
    let mut sums: Vec<Option<Tensor>> = vec![None; params.len()];
    for (param, bias, delta, input) in linear {
        let scaled = delta.broadcast_mul(&factor)?;
        sums[param] = Some(scaled.t()?.matmul(&input)?);
        if bias {
            sums[param + 1] = Some(scaled.sum(0)?);
        }
    }
    Ok((sums, loss))
}

/// The same sums by one backward pass per row (any architecture without batch norm).
fn clipped_sum_per_row(
    net: &Network,
    vars: &[Var],
    xb: &Tensor,
    yb: &[u32],
    clip_norm: f64,
    rng: &mut Rng,
) -> Result<(Vec<Option<Tensor>>, f64)> {
    let specs = net.param_specs_list();
    let params: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let mut sums: Vec<Option<Tensor>> = vec![None; vars.len()];
    let mut total = 0.0;
    for (row, &label) in yb.iter().enumerate() {
        let xr = xb.narrow(0, row, 1)?;
        let mut bn_stats = Vec::new();
        let logits = net.forward_with(
            &xr,
            &params,
            &mut Mode::Train {
                rng: &mut *rng,
                bn_stats: &mut bn_stats,
            },
        )?;
        let loss = ops::cross_entropy(&logits, &[label])?;
        total += loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        let grads = loss.backward()?;
        let mut per_param = Vec::with_capacity(vars.len());
        let mut sq = 0.0f64;
        for (i, var) in vars.iter().enumerate() {
            let g = if specs[i].trainable {
                grads.get(var.as_tensor()).cloned()
            } else {
                None
            };
            if let Some(g) = &g {
                sq += g
                    .to_dtype(DType::F64)?
                    .sqr()?
                    .sum_all()?
                    .to_scalar::<f64>()?;
            }
            per_param.push(g);
        }
        let factor = (clip_norm / sq.sqrt()).min(1.0);
        for (sum, g) in sums.iter_mut().zip(per_param) {
            let Some(g) = g else { continue };
            let g = (g * factor)?;
            *sum = Some(match sum.take() {
                Some(s) => (s + g)?,
                None => g,
            });
        }
    }
    Ok((sums, total))
}
