//! Carlini & Wagner's L2 attack (2017): the smallest L2 change that meets the goal with a margin,
//! found by minimising `||x' - x||² + c · f(x')` over a change of variable
//! `x' = mid + half · tanh(w)` that keeps `x'` inside the input range without clipping.
//!
//! - `f` is the paper's f6 on the logits `Z`: untargeted `max(Z_y - max_{i≠y} Z_i + κ, 0)`,
//!   targeted `max(max_{i≠t} Z_i - Z_t + κ, 0)`, with `κ` the confidence.
//! - `w` is optimised with Adam (restarted, with `w` back at the clean row, for each value of `c`).
//! - A binary search over `c`, per row: after a round that met the goal, `c` moves halfway
//!   toward the largest value that failed; otherwise halfway toward the smallest that succeeded, or
//!   times ten while none has.
//! - Each row keeps the smallest-L2 iterate that met the goal (with the margin `κ`) over all
//!   rounds; a row never broken comes back unchanged.
//! - Abort early (the paper's rule, applied per row rather than to the batch's summed loss): every
//!   `max_iter / 10` iterations a row whose loss fell by less than 0.01 % stops moving; the round ends
//!   when all rows have stopped. Results therefore do not depend on how rows are batched.
//!
//! Defaults follow the authors' code (`binary_search_steps` 9, `learning_rate` 0.01,
//! `initial_const` 1e-3, `confidence` 0) with `max_iter` 1000 instead of 10 000. IBM ART's
//! `CarliniL2Method` defaults to 10 search steps of 10 iterations from `c` = 0.01 and replaces
//! Adam with a gradient step and line search; the CLI passes explicit values.

use aisec_ml::candle::{D, Tensor};
use aisec_ml::{Classifier, Rng};

use super::{
    Access, EvasionAttack, Goal, GoalTensors, Norm, objective_gradient, where_rows, white_box,
};
use crate::error::{AttackError, Result};

/// Pushes a class out of a max over the logits (far below any real logit, exact in f32).
const MASK: f64 = 1e9;
/// The largest `c` the search considers "not found yet".
const C_UNBOUNDED: f64 = 1e10;
/// How close to ±1 the tanh variable may start, so that `atanh` stays finite at the range's ends
/// (the authors' `1.999999 / 2`).
const TANH_SHRINK: f64 = 0.999_999;

/// Carlini & Wagner L2.
#[derive(Debug, Clone)]
pub struct CarliniL2 {
    /// The margin `κ` by which the goal's logit must win.
    pub confidence: f32,
    /// Adam's step size on the tanh variable.
    pub learning_rate: f64,
    /// Rounds of the binary search over `c`.
    pub binary_search_steps: usize,
    /// Adam iterations per round.
    pub max_iter: usize,
    /// The first `c`.
    pub initial_const: f64,
    /// Stop a row's round once its loss stalls.
    pub abort_early: bool,
}

impl Default for CarliniL2 {
    fn default() -> Self {
        Self {
            confidence: 0.0,
            learning_rate: 0.01,
            binary_search_steps: 9,
            max_iter: 1000,
            initial_const: 1e-3,
            abort_early: true,
        }
    }
}

impl CarliniL2 {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, v: f64| {
            Err(AttackError::Parameter(format!(
                "{what} {v} must be a positive number"
            )))
        };
        if !(self.confidence.is_finite() && self.confidence >= 0.0) {
            return Err(AttackError::Parameter(format!(
                "confidence {} must be a non-negative number",
                self.confidence
            )));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad("learning_rate", self.learning_rate);
        }
        if !(self.initial_const.is_finite() && self.initial_const > 0.0) {
            return bad("initial_const", self.initial_const);
        }
        if self.binary_search_steps == 0 || self.max_iter == 0 {
            return Err(AttackError::Parameter(
                "binary_search_steps and max_iter must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// `sign · (Z_class - max_{i≠class} Z_i)`: f6 before the hinge and the margin.
fn margin(logits: &Tensor, onehot: &Tensor, sign: f64) -> Result<Tensor> {
    let own = logits.mul(onehot)?.sum(D::Minus1)?;
    let other = logits.sub(&(onehot * MASK)?)?.max(D::Minus1)?;
    Ok(((own - other)? * sign)?)
}

impl EvasionAttack for CarliniL2 {
    fn name(&self) -> &'static str {
        "cw"
    }

    fn access(&self) -> Access {
        Access::WhiteBox
    }

    fn eps(&self) -> Option<(Norm, f32)> {
        None
    }

    fn norm(&self) -> Norm {
        Norm::L2
    }

    #[allow(clippy::too_many_lines)]
    fn generate(
        &self,
        model: &dyn Classifier,
        x: &Tensor,
        goal: &Goal,
        _rng: &mut Rng,
    ) -> Result<Tensor> {
        self.validate()?;
        let wb = white_box(self, model)?;
        let [lo, hi] = model.info().input_range;
        if !(lo.is_finite() && hi.is_finite() && hi > lo) {
            return Err(AttackError::Parameter(format!(
                "cw needs a bounded input range, the model declares [{lo}, {hi}]"
            )));
        }
        let (mid, half) = (f64::from(hi + lo) / 2.0, f64::from(hi - lo) / 2.0);
        let n = x.dim(0)?;
        let device = x.device();
        let goal = GoalTensors::new(goal, n, model.info().num_classes, device)?;
        if n == 0 {
            return Ok(x.clone());
        }
        let onehot = goal.onehot().clone();
        // Untargeted: the label's logit must lose; targeted: the target's must win.
        let sign = if goal.targeted() { -1.0 } else { 1.0 };
        let kappa = f64::from(self.confidence);

        // atanh(z) = ln((1 + z) / (1 - z)) / 2.
        let z = ((((x - mid)? / half)?.clamp(-1.0, 1.0)?) * TANH_SHRINK)?;
        let w0 = (((&z + 1.0)? / (1.0 - &z)?)?.log()? * 0.5)?;

        let mut c = vec![self.initial_const; n];
        let mut lower = vec![0.0f64; n];
        let mut upper = vec![C_UNBOUNDED; n];
        let mut best_l2 = Tensor::full(f32::INFINITY, n, device)?;
        let mut best_adv = x.clone();
        let (beta1, beta2, adam_eps) = (0.9f64, 0.999f64, 1e-8f64);
        let check_every = (self.max_iter / 10).max(1);

        for _ in 0..self.binary_search_steps {
            let c_t = Tensor::from_vec(c.iter().map(|&v| v as f32).collect(), n, device)?;
            let objective = |logits: &Tensor| -> Result<Tensor> {
                Ok(((margin(logits, &onehot, sign)? + kappa)?.relu()? * &c_t)?)
            };
            let mut w = w0.clone();
            let mut m = w.zeros_like()?;
            let mut v = w.zeros_like()?;
            let mut met = Tensor::zeros(n, aisec_ml::DType::U8, device)?;
            let mut prev = Tensor::full(f32::INFINITY, n, device)?;
            // 1 for rows still moving, 0 for rows whose loss stalled.
            let mut moving = Tensor::ones(n, aisec_ml::DType::F32, device)?;
            for it in 0..self.max_iter {
                let t = w.tanh()?;
                let x_adv = ((&t * half)? + mid)?;
                let lg = objective_gradient(wb, &x_adv, &objective)?;
                let delta = (&x_adv - x)?;
                let l2 = delta.sqr()?.flatten_from(1)?.sum(D::Minus1)?;
                // Success with the margin, at the point just evaluated.
                let ok = (margin(&lg.logits, &onehot, sign)? + kappa)?.lt(0.0)?;
                let improved = ok.mul(&l2.lt(&best_l2)?)?;
                best_l2 = improved.where_cond(&l2, &best_l2)?;
                best_adv = where_rows(&improved, &x_adv, &best_adv)?;
                met = met.maximum(&ok)?;

                if self.abort_early && it % check_every == 0 {
                    let total = (&l2 + &lg.loss)?;
                    let stalled = total.gt(&(&prev * 0.9999)?)?;
                    moving = stalled.where_cond(&moving.zeros_like()?, &moving)?;
                    prev = total;
                    if moving.max_all()?.to_scalar::<f32>()? == 0.0 {
                        break;
                    }
                }

                // d/dw (||x' - x||² + c f) = (2 (x' - x) + c ∂f/∂x') · half · (1 - tanh²).
                let g_x = ((delta * 2.0)? + lg.grad)?;
                let g = (g_x * ((1.0 - t.sqr()?)? * half)?)?;
                m = ((m * beta1)? + (&g * (1.0 - beta1))?)?;
                v = ((v * beta2)? + (g.sqr()? * (1.0 - beta2))?)?;
                let step_no = (it + 1) as i32;
                let m_hat = (&m / (1.0 - beta1.powi(step_no)))?;
                let v_hat = (&v / (1.0 - beta2.powi(step_no)))?;
                let mut step = (m_hat.div(&(v_hat.sqrt()? + adam_eps)?)? * self.learning_rate)?;
                if self.abort_early {
                    step = super::scale_rows(&step, &moving)?;
                }
                w = (w - step)?;
            }
            let met = met.to_vec1::<u8>()?;
            for i in 0..n {
                if met[i] != 0 {
                    upper[i] = upper[i].min(c[i]);
                    if upper[i] < C_UNBOUNDED {
                        c[i] = f64::midpoint(lower[i], upper[i]);
                    }
                } else {
                    lower[i] = lower[i].max(c[i]);
                    c[i] = if upper[i] < C_UNBOUNDED {
                        f64::midpoint(lower[i], upper[i])
                    } else {
                        c[i] * 10.0
                    };
                }
            }
        }
        let found = best_l2.lt(f32::INFINITY)?;
        Ok(where_rows(&found, &best_adv, x)?.clamp(lo, hi)?)
    }
}
