//! Neural Cleanse (Wang et al., IEEE S&P 2019): for each candidate target class, the smallest
//! trigger that sends clean inputs of the other classes there. A backdoor is a shortcut to its
//! target class, so that class needs a much smaller trigger than the others; the median absolute
//! deviation of the trigger norms turns "much smaller" into an anomaly index.
//!
//! The trigger is a mask `m` (one value per input position, shared over an image's channels) and
//! a pattern `p` (a full input): a clean `x` becomes `(1 - m) * x + m * p`. Both are optimised
//! through `tanh` so they stay in `[0, 1]` and the model's input range, minimising the
//! cross-entropy toward the class plus `cost * |m|_1` with Adam. The cost follows the paper's
//! schedule: raised after `patience` rounds in which the trigger works on at least
//! `success_threshold` of the rows, lowered (by the multiplier to the power 1.5) after `patience`
//! rounds in which it does not. Each round is `batches_per_round` Adam steps on batches of a
//! shuffled pass over the clean rows; after it the trigger is measured on every row, and the smallest mask that reached the threshold is kept.
//! Once the cost has been moved both ways, a run whose best norm has not improved by
//! `1 - early_stop_threshold` for `early_stop_patience` rounds stops.
//!
//! Only the model's white-box face and the clean rows the user supplies are used: no training
//! data. Classes are reverse-engineered in parallel, each from its own generator derived from
//! the seed, so results do not depend on the number of threads.

use std::time::Instant;

use aisec_ml::candle::{D, DType, Tensor};
use aisec_ml::{Queries, Rng, WhiteBox, ops};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{AttackError, Result};
use crate::evasion::{objective_gradient, row_index};

/// Makes the median absolute deviation of normally distributed data estimate its standard
/// deviation.
pub const MAD_CONSISTENCY: f64 = 1.4826;

/// Keeps `tanh`-squashed values strictly inside `(0, 1)`, so the inverse at the bounds is finite.
const TANH_MARGIN: f64 = 1e-4;

/// Rows per forward pass when a trigger is measured on every clean row.
const EVAL_BATCH: usize = 512;

/// The optimisation's settings. [`NeuralCleanse::default`] follows the paper's code where it
/// gives a value (Adam at 0.1 with betas 0.5 and 0.9, initial cost 1e-3, threshold 0.99,
/// patience 5, multiplier 1.5, early-stop patience 10 at 0.99).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeuralCleanse {
    /// Most optimisation rounds per class.
    pub steps: usize,
    /// Gradient steps per round; the trigger is measured, and the cost adjusted, after each.
    pub batches_per_round: usize,
    /// Rows per gradient step.
    pub batch_size: usize,
    /// Adam's step size (in `tanh` space).
    pub learning_rate: f64,
    /// Adam's first-moment decay.
    pub beta1: f64,
    /// Adam's second-moment decay.
    pub beta2: f64,
    /// The weight of the mask's L1 norm at the start.
    pub init_cost: f64,
    /// The share of rows a trigger must send to the class to count.
    pub success_threshold: f64,
    /// Rounds above (below) the threshold before the cost is raised (lowered).
    pub patience: usize,
    /// The factor the cost is raised by; it is lowered by this to the power 1.5.
    pub cost_multiplier: f64,
    /// Rounds without a better norm (once the cost moved both ways) before the class stops.
    pub early_stop_patience: usize,
    /// A norm counts as better when below this share of the best so far.
    pub early_stop_threshold: f64,
    /// A class below the median norm is flagged when its anomaly index passes this.
    pub anomaly_threshold: f64,
    /// Seed of the initial masks and patterns and of the batch order.
    pub seed: u64,
}

impl Default for NeuralCleanse {
    fn default() -> Self {
        Self {
            steps: 300,
            batches_per_round: 10,
            batch_size: 64,
            learning_rate: 0.1,
            beta1: 0.5,
            beta2: 0.9,
            init_cost: 1e-3,
            success_threshold: 0.99,
            patience: 5,
            cost_multiplier: 1.5,
            early_stop_patience: 10,
            early_stop_threshold: 0.99,
            anomaly_threshold: 2.0,
            seed: 0,
        }
    }
}

/// The reverse-engineered trigger of one class and what it says.
#[derive(Debug, Clone, Serialize)]
pub struct ClassTrigger {
    /// The candidate target class.
    pub class: u32,
    /// The L1 norm of the kept mask (the sum of its values).
    pub l1_norm: f64,
    /// The share of the clean rows of other classes the kept trigger sends to `class`.
    pub attack_success: f64,
    /// Whether the kept trigger reached the success threshold (otherwise it is the last one
    /// tried, and the class cannot be flagged).
    pub reached_threshold: bool,
    /// `|l1_norm - median| / (1.4826 * MAD)`.
    pub anomaly_index: f64,
    /// Whether the norm is below the median of all classes' norms.
    pub below_median: bool,
    /// Below the median, with an anomaly index above the threshold, and a working trigger.
    pub flagged: bool,
    /// Rounds run.
    pub steps_run: usize,
    /// The L1 weight when the class stopped.
    pub final_cost: f64,
    /// The mask, `mask_shape` values in `[0, 1]`.
    #[serde(skip)]
    pub mask: Vec<f32>,
    /// The pattern, `input_shape` values in the model's input range.
    #[serde(skip)]
    pub pattern: Vec<f32>,
}

/// What Neural Cleanse found.
#[derive(Debug, Clone, Serialize)]
pub struct NeuralCleanseReport {
    /// One entry per class examined, in class order.
    pub classes: Vec<ClassTrigger>,
    /// The median of the norms.
    pub median_norm: f64,
    /// `1.4826 * MAD` of the norms: the spread the anomaly index is measured in.
    pub scaled_mad: f64,
    /// The anomaly index above which a class below the median is flagged.
    pub anomaly_threshold: f64,
    /// The flagged classes, most anomalous first.
    pub flagged: Vec<u32>,
    /// The most anomalous flagged class: the suspected backdoor target.
    pub suspected_target: Option<u32>,
    /// The largest anomaly index among classes below the median (0 when none).
    pub max_anomaly_index: f64,
    /// The shape of one mask: the input shape with an image's channels collapsed to one.
    pub mask_shape: Vec<usize>,
    /// The shape of one input (and of each pattern).
    pub input_shape: Vec<usize>,
    /// Clean rows used.
    pub rows: usize,
    /// Model queries spent.
    pub queries: Queries,
    /// Wall time, in seconds.
    pub seconds: f64,
    /// The settings used.
    pub settings: NeuralCleanse,
}

impl NeuralCleanseReport {
    /// Whether any class was flagged.
    #[must_use]
    pub fn backdoored(&self) -> bool {
        !self.flagged.is_empty()
    }

    /// The trigger of `class`, when it was examined.
    #[must_use]
    pub fn trigger(&self, class: u32) -> Option<&ClassTrigger> {
        self.classes.iter().find(|c| c.class == class)
    }
}

impl ClassTrigger {
    /// `x` `[N, ...input_shape]` with this trigger stamped on: `(1 - m) * x + m * p`.
    pub fn stamp(&self, x: &Tensor, mask_shape: &[usize]) -> Result<Tensor> {
        let sample: Vec<usize> = x.dims()[1..].to_vec();
        let mut mshape = vec![1];
        mshape.extend(mask_shape);
        let mut pshape = vec![1];
        pshape.extend(&sample);
        let m = Tensor::from_slice(&self.mask, mshape.as_slice(), x.device())?;
        let p = Tensor::from_slice(&self.pattern, pshape.as_slice(), x.device())?;
        let x = x.to_dtype(DType::F32)?;
        Ok((&x + p.broadcast_sub(&x)?.broadcast_mul(&m)?)?)
    }
}

/// The mask's shape for an input shape: one value per position, so an image's channels
/// (`[C, H, W]`, channels first) collapse to one.
#[must_use]
pub fn mask_shape(input_shape: &[usize]) -> Vec<usize> {
    match input_shape {
        [_, h, w] => vec![1, *h, *w],
        other => other.to_vec(),
    }
}

/// The median of `values` (the mean of the two middle ones for an even count); 0 when empty.
#[must_use]
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len().is_multiple_of(2) {
        f64::midpoint(v[mid - 1], v[mid])
    } else {
        v[mid]
    }
}

/// The median, the scaled MAD (`1.4826 * median(|v - median|)`) and each value's anomaly index
/// `|v - median| / scaled MAD`. When the MAD is zero (half the values equal), the spread is taken
/// as a millionth of the median so that the indices stay finite.
#[must_use]
pub fn anomaly_indices(values: &[f64]) -> (f64, f64, Vec<f64>) {
    let med = median(values);
    let deviations: Vec<f64> = values.iter().map(|v| (v - med).abs()).collect();
    let scaled = (MAD_CONSISTENCY * median(&deviations)).max(med.abs() * 1e-6 + f64::MIN_POSITIVE);
    let index = deviations.iter().map(|d| d / scaled).collect();
    (med, scaled, index)
}

/// Adam on one tensor.
struct Adam {
    m: Tensor,
    v: Tensor,
    t: i32,
    lr: f64,
    beta1: f64,
    beta2: f64,
}

impl Adam {
    fn new(like: &Tensor, settings: &NeuralCleanse) -> Result<Self> {
        Ok(Self {
            m: like.zeros_like()?,
            v: like.zeros_like()?,
            t: 0,
            lr: settings.learning_rate,
            beta1: settings.beta1,
            beta2: settings.beta2,
        })
    }

    fn step(&mut self, param: &Tensor, grad: &Tensor) -> Result<Tensor> {
        self.t += 1;
        self.m = ((&self.m * self.beta1)? + (grad * (1.0 - self.beta1))?)?;
        self.v = ((&self.v * self.beta2)? + (grad.sqr()? * (1.0 - self.beta2))?)?;
        let m_hat = (&self.m / (1.0 - self.beta1.powi(self.t)))?;
        let v_hat = (&self.v / (1.0 - self.beta2.powi(self.t)))?;
        let update = (m_hat / (v_hat.sqrt()? + 1e-8)?)?;
        Ok((param - (update * self.lr)?)?)
    }
}

/// `tanh`-squashed `[0, 1]` values of `raw` and their derivative.
fn squash(raw: &Tensor) -> Result<(Tensor, Tensor)> {
    let half = 0.5 - TANH_MARGIN / 2.0;
    let t = raw.tanh()?;
    let value = ((&t * half)? + 0.5)?;
    let slope = ((t.sqr()?.neg()? + 1.0)? * half)?;
    Ok((value, slope))
}

/// The raw (`tanh` space) value whose squashed value is `u` in `[0, 1]`.
fn unsquash(u: f64) -> f32 {
    let half = 0.5 - TANH_MARGIN / 2.0;
    ((u.clamp(0.0, 1.0) - 0.5) / half)
        .clamp(-0.999_999, 0.999_999)
        .atanh() as f32
}

/// The pattern in the model's input range `[lo, hi]` from its raw values, and its derivative.
fn squash_pattern(raw: &Tensor, [lo, hi]: [f32; 2]) -> Result<(Tensor, Tensor)> {
    let span = f64::from(hi - lo);
    let (p01, slope) = squash(raw)?;
    Ok((((p01 * span)? + f64::from(lo))?, (slope * span)?))
}

/// The objective on the batch `xb` at the trigger `(raw_mask, raw_pattern)`: the mean
/// cross-entropy toward `class` of `x + m * (p - x)` plus `cost * |m|_1`, with its gradients with
/// respect to the raw mask and pattern.
fn objective(
    model: &dyn WhiteBox,
    xb: &Tensor,
    raw_mask: &Tensor,
    raw_pattern: &Tensor,
    class: u32,
    cost: f64,
) -> Result<(f64, Tensor, Tensor)> {
    let b = xb.dim(0)?;
    let (mask, dmask) = squash(raw_mask)?;
    let (pattern, dpattern) = squash_pattern(raw_pattern, model.info().input_range)?;
    let diff = pattern.broadcast_sub(xb)?;
    let x_adv = (xb + diff.broadcast_mul(&mask)?)?;
    let targets = vec![class; b];
    let lg = objective_gradient(model, &x_adv, &|logits| {
        Ok(ops::cross_entropy_per_sample(logits, &targets)?)
    })?;
    // The mean cross-entropy's gradient, chained through x_adv = x + m * (p - x); a mask shared
    // over channels gathers the gradient of every channel.
    let g = (lg.grad / b as f64)?;
    let mut g_mask = (&g * &diff)?.sum_keepdim(0)?;
    if g_mask.dims() != mask.dims() {
        g_mask = g_mask.sum_keepdim(1)?;
    }
    let g_pattern = g.broadcast_mul(&mask)?.sum_keepdim(0)?;
    // d|m|_1 / dm = 1, as m >= 0.
    let g_raw_mask = ((g_mask + cost)? * dmask)?;
    let g_raw_pattern = (g_pattern * dpattern)?;
    let ce = f64::from(lg.loss.mean_all()?.to_scalar::<f32>()?);
    let l1 = f64::from(mask.sum_all()?.to_scalar::<f32>()?);
    Ok((ce + cost * l1, g_raw_mask, g_raw_pattern))
}

/// One class's optimisation result before the statistics.
struct Reversed {
    mask: Vec<f32>,
    pattern: Vec<f32>,
    l1_norm: f64,
    attack_success: f64,
    reached: bool,
    steps_run: usize,
    final_cost: f64,
}

impl NeuralCleanse {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(AttackError::Parameter(what.to_owned()));
        if self.steps == 0
            || self.batches_per_round == 0
            || self.batch_size == 0
            || self.patience == 0
        {
            return bad("steps, batches per round, batch size and patience must be positive");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad("the learning rate must be a positive number");
        }
        if !(0.0..1.0).contains(&self.beta1) || !(0.0..1.0).contains(&self.beta2) {
            return bad("Adam's betas must be in [0, 1)");
        }
        if !(self.init_cost.is_finite() && self.init_cost >= 0.0) {
            return bad("the initial cost must be a non-negative number");
        }
        if !(self.success_threshold > 0.0 && self.success_threshold <= 1.0) {
            return bad("the success threshold must be in (0, 1]");
        }
        if !(self.cost_multiplier.is_finite() && self.cost_multiplier > 1.0) {
            return bad("the cost multiplier must be above 1");
        }
        if !(self.early_stop_threshold > 0.0 && self.early_stop_threshold <= 1.0) {
            return bad("the early-stop threshold must be in (0, 1]");
        }
        if !(self.anomaly_threshold.is_finite() && self.anomaly_threshold >= 0.0) {
            return bad("the anomaly threshold must be a non-negative number");
        }
        Ok(())
    }

    /// Reverse-engineers a trigger for each of `classes` (all classes when `None`) from the clean
    /// rows `x` `[N, ...input_shape]`, and computes the anomaly statistics over their norms. With
    /// `labels`, each class is optimised on the rows of the other classes only.
    pub fn run(
        &self,
        model: &dyn WhiteBox,
        x: &Tensor,
        labels: Option<&[u32]>,
        classes: Option<&[u32]>,
    ) -> Result<NeuralCleanseReport> {
        self.validate()?;
        let info = model.info().clone();
        let n = x.dim(0)?;
        let mut expected = vec![n];
        expected.extend(&info.input_shape);
        if x.dims() != expected.as_slice() || n == 0 {
            return Err(AttackError::Parameter(format!(
                "clean rows of shape {:?}, the model expects [N > 0, {:?}]",
                x.dims(),
                info.input_shape
            )));
        }
        if let Some(l) = labels
            && l.len() != n
        {
            return Err(AttackError::Parameter(format!(
                "{} labels for {n} rows",
                l.len()
            )));
        }
        let classes: Vec<u32> = match classes {
            Some(c) => {
                let mut c = c.to_vec();
                c.sort_unstable();
                c.dedup();
                c
            }
            None => (0..info.num_classes as u32).collect(),
        };
        if let Some(bad) = classes.iter().find(|&&c| c as usize >= info.num_classes) {
            return Err(AttackError::Parameter(format!(
                "class {bad} is outside the model's {} classes",
                info.num_classes
            )));
        }
        if classes.len() < 3 {
            return Err(AttackError::Parameter(format!(
                "the anomaly index compares classes: examine at least 3, not {}",
                classes.len()
            )));
        }
        let x = x.to_dtype(DType::F32)?;
        let started = Instant::now();
        model.reset_queries();
        let reversed: Vec<Reversed> = classes
            .par_iter()
            .map(|&class| {
                let rows: Vec<usize> = match labels {
                    Some(l) => (0..n).filter(|&i| l[i] != class).collect(),
                    None => (0..n).collect(),
                };
                if rows.is_empty() {
                    return Err(AttackError::Parameter(format!(
                        "no clean rows outside class {class}"
                    )));
                }
                let xs = if rows.len() == n {
                    x.clone()
                } else {
                    x.index_select(&row_index(&rows, x.device())?, 0)?
                };
                let rng =
                    Rng::new(self.seed ^ u64::from(class).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                self.reverse_class(model, &xs, class, rng)
            })
            .collect::<Result<_>>()?;
        let norms: Vec<f64> = reversed.iter().map(|r| r.l1_norm).collect();
        let (median_norm, scaled_mad, index) = anomaly_indices(&norms);
        let mut out: Vec<ClassTrigger> = classes
            .iter()
            .zip(reversed)
            .zip(index)
            .map(|((&class, r), anomaly_index)| {
                let below_median = r.l1_norm < median_norm;
                ClassTrigger {
                    class,
                    l1_norm: r.l1_norm,
                    attack_success: r.attack_success,
                    reached_threshold: r.reached,
                    anomaly_index,
                    below_median,
                    flagged: r.reached && below_median && anomaly_index > self.anomaly_threshold,
                    steps_run: r.steps_run,
                    final_cost: r.final_cost,
                    mask: r.mask,
                    pattern: r.pattern,
                }
            })
            .collect();
        out.sort_by_key(|c| c.class);
        let mut flagged: Vec<&ClassTrigger> = out.iter().filter(|c| c.flagged).collect();
        flagged.sort_by(|a, b| b.anomaly_index.total_cmp(&a.anomaly_index));
        let flagged: Vec<u32> = flagged.iter().map(|c| c.class).collect();
        let max_anomaly_index = out
            .iter()
            .filter(|c| c.below_median)
            .map(|c| c.anomaly_index)
            .fold(0.0, f64::max);
        Ok(NeuralCleanseReport {
            suspected_target: flagged.first().copied(),
            flagged,
            classes: out,
            median_norm,
            scaled_mad,
            anomaly_threshold: self.anomaly_threshold,
            max_anomaly_index,
            mask_shape: mask_shape(&info.input_shape),
            input_shape: info.input_shape.clone(),
            rows: n,
            queries: model.queries(),
            seconds: started.elapsed().as_secs_f64(),
            settings: self.clone(),
        })
    }

    /// The optimisation for one class on the rows `x`.
    #[allow(clippy::too_many_lines)] // One loop with the paper's bookkeeping; splitting hides it.
    fn reverse_class(
        &self,
        model: &dyn WhiteBox,
        x: &Tensor,
        class: u32,
        mut rng: Rng,
    ) -> Result<Reversed> {
        let info = model.info();
        let device = x.device();
        let n = x.dim(0)?;
        let mshape = mask_shape(&info.input_shape);
        let mut batch_mshape = vec![1];
        batch_mshape.extend(&mshape);
        let mut batch_pshape = vec![1];
        batch_pshape.extend(&info.input_shape);
        let m_len: usize = mshape.iter().product();
        let p_len = info.sample_len();

        let init = |rng: &mut Rng, len: usize| -> Vec<f32> {
            (0..len).map(|_| unsquash(rng.uniform())).collect()
        };
        let mut raw_mask =
            Tensor::from_vec(init(&mut rng, m_len), batch_mshape.as_slice(), device)?;
        let mut raw_pattern =
            Tensor::from_vec(init(&mut rng, p_len), batch_pshape.as_slice(), device)?;
        let mut adam_mask = Adam::new(&raw_mask, self)?;
        let mut adam_pattern = Adam::new(&raw_pattern, self)?;

        let mut cost = self.init_cost;
        let mut best: Option<(f64, f64, Tensor, Tensor)> = None;
        let mut last: (f64, f64, Tensor, Tensor) =
            (f64::INFINITY, 0.0, raw_mask.clone(), raw_pattern.clone());
        let (mut up_counter, mut down_counter) = (0usize, 0usize);
        let (mut cost_up, mut cost_down) = (false, false);
        let mut early_counter = 0usize;
        let mut early_best = f64::INFINITY;
        let mut order: Vec<usize> = (0..n).collect();
        let mut cursor = n;
        let mut steps_run = 0;

        for _ in 0..self.steps {
            steps_run += 1;
            for _ in 0..self.batches_per_round {
                // The next batch of a shuffled pass over the rows, reshuffled at each pass.
                if cursor >= n {
                    rng.shuffle(&mut order);
                    cursor = 0;
                }
                let chunk = &order[cursor..(cursor + self.batch_size).min(n)];
                cursor += chunk.len();
                let xb = x.index_select(&row_index(chunk, device)?, 0)?;
                let (_, g_raw_mask, g_raw_pattern) =
                    objective(model, &xb, &raw_mask, &raw_pattern, class, cost)?;
                raw_mask = adam_mask.step(&raw_mask, &g_raw_mask)?;
                raw_pattern = adam_pattern.step(&raw_pattern, &g_raw_pattern)?;
            }

            // The trigger as it stands, measured on every row.
            let (mask, _) = squash(&raw_mask)?;
            let (pattern, _) = squash_pattern(&raw_pattern, info.input_range)?;
            let success = Self::success(model, x, &mask, &pattern, class)?;
            let norm = f64::from(mask.sum_all()?.to_scalar::<f32>()?);
            last = (norm, success, mask.clone(), pattern.clone());
            let reached = success >= self.success_threshold;
            if reached && best.as_ref().is_none_or(|b| norm < b.0) {
                best = Some((norm, success, mask, pattern));
            }

            // Early stop, once a working trigger exists and the cost has moved both ways.
            if let Some((best_norm, ..)) = &best {
                if *best_norm >= self.early_stop_threshold * early_best {
                    early_counter += 1;
                } else {
                    early_counter = 0;
                }
                early_best = early_best.min(*best_norm);
            }
            if cost_up && cost_down && early_counter >= self.early_stop_patience {
                break;
            }

            // The cost schedule.
            if reached {
                up_counter += 1;
                down_counter = 0;
            } else {
                up_counter = 0;
                down_counter += 1;
            }
            if cost == 0.0 && up_counter >= self.patience {
                // Started without a penalty: switch it on once the trigger works.
                cost = 1e-3;
                up_counter = 0;
            } else if up_counter >= self.patience {
                up_counter = 0;
                cost *= self.cost_multiplier;
                cost_up = true;
            } else if down_counter >= self.patience {
                down_counter = 0;
                cost /= self.cost_multiplier.powf(1.5);
                cost_down = true;
            }
        }
        let reached = best.is_some();
        let (l1_norm, attack_success, mask, pattern) = best.unwrap_or(last);
        Ok(Reversed {
            mask: mask.flatten_all()?.to_vec1::<f32>()?,
            pattern: pattern.flatten_all()?.to_vec1::<f32>()?,
            l1_norm,
            attack_success,
            reached,
            steps_run,
            final_cost: cost,
        })
    }

    /// The share of the rows `x` that `(1 - mask) * x + mask * pattern` sends to `class`.
    fn success(
        model: &dyn WhiteBox,
        x: &Tensor,
        mask: &Tensor,
        pattern: &Tensor,
        class: u32,
    ) -> Result<f64> {
        let n = x.dim(0)?;
        let mut hits = 0usize;
        let mut start = 0;
        while start < n {
            let len = EVAL_BATCH.min(n - start);
            let xb = x.narrow(0, start, len)?;
            let x_adv = (&xb + pattern.broadcast_sub(&xb)?.broadcast_mul(mask)?)?;
            let predicted = model.predict(&x_adv)?.argmax(D::Minus1)?.to_vec1::<u32>()?;
            hits += predicted.iter().filter(|&&p| p == class).count();
            start += len;
        }
        Ok(hits as f64 / n as f64)
    }
}

#[cfg(test)]
mod tests {
    use aisec_ml::candle::{Device, Tensor};
    use aisec_ml::{Architecture, LayerSpec, LocalModel, Network, Rng};

    use super::{anomaly_indices, mask_shape, median, objective, unsquash};

    /// The chained gradients of the objective match central differences, for a colour input
    /// whose mask is shared over channels and an input range other than [0, 1].
    #[test]
    fn objective_gradients_match_finite_differences() {
        let mut arch = Architecture::new(
            vec![3, 2, 2],
            3,
            vec![
                LayerSpec::Flatten,
                LayerSpec::Linear {
                    in_features: 12,
                    out_features: 3,
                    bias: true,
                },
            ],
        );
        arch.input_range = [-1.0, 2.0];
        let model = LocalModel::new(Network::init(arch, 3).unwrap(), "tiny");
        let mut rng = Rng::new(9);
        let xb = Tensor::from_vec(
            rng.uniform_vec(5 * 12, -1.0, 2.0),
            (5, 3, 2, 2),
            &Device::Cpu,
        )
        .unwrap();
        let raw_mask = Tensor::from_vec(rng.normal_vec(4), (1, 1, 2, 2), &Device::Cpu).unwrap();
        let raw_pattern = Tensor::from_vec(rng.normal_vec(12), (1, 3, 2, 2), &Device::Cpu).unwrap();
        let cost = 0.05;
        let (_, g_mask, g_pattern) =
            objective(&model, &xb, &raw_mask, &raw_pattern, 1, cost).unwrap();
        let at = |m: &Tensor, p: &Tensor| objective(&model, &xb, m, p, 1, cost).unwrap().0;
        let bump = |t: &Tensor, i: usize, h: f32| {
            let mut v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            v[i] += h;
            Tensor::from_vec(v, t.shape(), &Device::Cpu).unwrap()
        };
        let h = 1e-2;
        let analytic = g_mask.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for (i, &a) in analytic.iter().enumerate() {
            let numeric = (at(&bump(&raw_mask, i, h), &raw_pattern)
                - at(&bump(&raw_mask, i, -h), &raw_pattern))
                / (2.0 * f64::from(h));
            assert!(
                (f64::from(a) - numeric).abs() < 2e-3,
                "mask {i}: {a} vs {numeric}"
            );
        }
        let analytic = g_pattern.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for (i, &a) in analytic.iter().enumerate() {
            let numeric = (at(&raw_mask, &bump(&raw_pattern, i, h))
                - at(&raw_mask, &bump(&raw_pattern, i, -h)))
                / (2.0 * f64::from(h));
            assert!(
                (f64::from(a) - numeric).abs() < 2e-3,
                "pattern {i}: {a} vs {numeric}"
            );
        }
    }

    #[test]
    fn median_and_anomaly_index_follow_the_definition() {
        assert!((median(&[3.0, 1.0, 2.0]) - 2.0).abs() < 1e-12);
        assert!((median(&[4.0, 1.0, 3.0, 2.0]) - 2.5).abs() < 1e-12);
        // Nine ordinary norms and one far below them.
        let norms = [1.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0];
        let (med, scaled, index) = anomaly_indices(&norms);
        assert!((med - 13.5).abs() < 1e-12);
        // Deviations: 12.5, 3.5, 2.5, 1.5, 0.5, 0.5, 1.5, 2.5, 3.5, 4.5; their median is 2.5.
        assert!((scaled - 1.4826 * 2.5).abs() < 1e-12);
        assert!((index[0] - 12.5 / (1.4826 * 2.5)).abs() < 1e-12);
        assert!(index[0] > 2.0 && index[1..].iter().all(|&i| i < 2.0));
        // Equal values: finite indices.
        let (_, _, same) = anomaly_indices(&[5.0, 5.0, 5.0, 1.0]);
        assert!(same.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn masks_collapse_channels_only() {
        assert_eq!(mask_shape(&[3, 32, 32]), vec![1, 32, 32]);
        assert_eq!(mask_shape(&[1, 8, 8]), vec![1, 8, 8]);
        assert_eq!(mask_shape(&[30]), vec![30]);
        assert!(unsquash(0.0).is_finite() && unsquash(1.0).is_finite());
    }
}
