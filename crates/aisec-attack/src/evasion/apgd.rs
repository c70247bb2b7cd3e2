//! Auto-PGD with the cross-entropy loss (APGD-CE, Croce & Hein 2020): PGD with momentum and a
//! step size that adapts per row, needing no step-size tuning.
//!
//! Each row starts at a random point on the surface of the `eps`-ball (its Linf or L2 norm is
//! exactly `eps` before clipping, as in the authors' code) with step size `2·eps`. A step is
//! `z = P(x_k + η ∇)`, then `x_{k+1} = P(x_k + α (z - x_k) + (1 - α)(x_k - x_{k-1}))` with
//! momentum `α` 0.75 (1 on the first step), where `∇` is the gradient's sign (Linf) or direction
//! (L2) and `P` the projection on the ball and the input range. At checkpoints (the first after
//! `0.22·max_iter` steps, then intervals shrinking by `0.03·max_iter` down to `0.06·max_iter`)
//! a row halves its step size and returns to its best point when
//! 1. its loss increased on at most `rho` of the steps since the last checkpoint, or
//! 2. its step size was not halved at the last checkpoint and its best loss has not improved since.
//!
//! A row stops at the first iterate that meets the goal (the attack's success is "some iterate
//! met it", so this changes which adversarial point is returned, not whether there is one). A row
//! not broken comes back as its highest-loss point. Restarts re-attack only the rows not yet
//! broken, each from a fresh random start; a row no restart breaks keeps its highest-loss point.
//! The targeted variant ascends minus the cross-entropy toward the target (the paper's targeted
//! runs use the DLR loss instead).

use aisec_ml::candle::{DType, Tensor};
use aisec_ml::{Classifier, Rng, WhiteBox};

use super::{
    Access, EvasionAttack, Goal, GoalTensors, LossGradient, Norm, RowSink, clip, loss_gradient,
    pick, project, row_index, row_norms, scale_rows, split_rows, unit_step, where_rows, white_box,
};
use crate::error::{AttackError, Result};

/// APGD-CE under an Linf or L2 bound.
#[derive(Debug, Clone)]
pub struct Apgd {
    /// The bound's norm.
    pub norm: Norm,
    /// The bound.
    pub eps: f32,
    /// Steps per restart.
    pub max_iter: usize,
    /// Runs from random starts (at least 1).
    pub restarts: usize,
    /// The share of loss increases below which a checkpoint halves the step (ρ).
    pub rho: f32,
    /// The weight of the new step against the previous one (α).
    pub momentum: f32,
}

impl Apgd {
    /// APGD-CE with the authors' defaults: 100 iterations, one restart, ρ 0.75, α 0.75.
    pub fn new(norm: Norm, eps: f32) -> Result<Self> {
        let apgd = Self {
            norm,
            eps,
            max_iter: 100,
            restarts: 1,
            rho: 0.75,
            momentum: 0.75,
        };
        apgd.validate()?;
        Ok(apgd)
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        if !(self.eps.is_finite() && self.eps >= 0.0) {
            return Err(AttackError::Parameter(format!(
                "eps {} must be a non-negative number",
                self.eps
            )));
        }
        if !(0.0..=1.0).contains(&self.rho) || !(0.0..=1.0).contains(&self.momentum) {
            return Err(AttackError::Parameter(format!(
                "rho {} and momentum {} must lie in [0, 1]",
                self.rho, self.momentum
            )));
        }
        if self.restarts == 0 {
            return Err(AttackError::Parameter("restarts must be at least 1".into()));
        }
        Ok(())
    }

    /// A random point on the ball's surface around each row, clipped to the input range.
    fn start(&self, model: &dyn Classifier, x: &Tensor, rng: &mut Rng) -> Result<Tensor> {
        let count = x.elem_count();
        let t = match self.norm {
            Norm::Linf => {
                Tensor::from_vec(rng.uniform_vec(count, -1.0, 1.0), x.shape(), x.device())?
            }
            Norm::L2 => Tensor::from_vec(rng.normal_vec(count), x.shape(), x.device())?,
        };
        let size = row_norms(&t, self.norm)?.clamp(1e-12, f32::MAX)?;
        let delta = scale_rows(&t, &(size.recip()? * f64::from(self.eps))?)?;
        clip(model, &(x + delta)?)
    }

    /// One run from `start`: the rows' results, best losses and successes.
    fn run(
        &self,
        model: &dyn WhiteBox,
        x: &Tensor,
        goal: &GoalTensors,
        start: Tensor,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let n = x.dim(0)?;
        let device = x.device();
        let mut out = RowSink::new(&start)?;
        let mut loss_out = vec![f32::NEG_INFINITY; n];
        let mut success = vec![0u8; n];
        let mut active: Vec<usize> = (0..n).collect();

        let first = loss_gradient(model, &start, goal)?;
        let first_logits = first.logits.clone();
        let mut s = State::new(x, goal, start, first, self.eps)?;
        if !Self::retire(&mut s, &mut active, &first_logits, &mut out, &mut success)? {
            return finish(out, loss_out, success, device);
        }

        let checkpoint = |share: f64| ((share * self.max_iter as f64) as usize).max(1);
        let (mut k, k_min, k_decr) = (checkpoint(0.22), checkpoint(0.06), checkpoint(0.03));
        let mut since_check = 0usize;
        for i in 0..self.max_iter {
            let momentum = if i == 0 {
                1.0
            } else {
                f64::from(self.momentum)
            };
            let prev_step = (&s.x_adv - &s.x_old)?;
            s.x_old = s.x_adv.clone();
            let z = project(
                model,
                &s.x,
                &(&s.x_adv + scale_rows(&unit_step(&s.grad, self.norm)?, &s.step)?)?,
                self.norm,
                self.eps,
            )?;
            s.x_adv = if momentum >= 1.0 {
                z
            } else {
                let moved = ((((z - &s.x_adv)? * momentum)? + (prev_step * (1.0 - momentum))?)?
                    + &s.x_adv)?;
                project(model, &s.x, &moved, self.norm, self.eps)?
            };
            let lg = loss_gradient(model, &s.x_adv, &s.goal)?;
            let better = lg.loss.gt(&s.loss_best)?;
            s.x_best = where_rows(&better, &s.x_adv, &s.x_best)?;
            s.grad_best = where_rows(&better, &lg.grad, &s.grad_best)?;
            s.loss_best = better.where_cond(&lg.loss, &s.loss_best)?;
            s.increases = (&s.increases + lg.loss.gt(&s.prev_loss)?.to_dtype(DType::F32)?)?;
            s.prev_loss = lg.loss;
            s.grad = lg.grad;
            if !Self::retire(&mut s, &mut active, &lg.logits, &mut out, &mut success)? {
                return finish(out, loss_out, success, device);
            }
            since_check += 1;
            if since_check == k {
                let oscillating = s.increases.le(k as f64 * f64::from(self.rho))?;
                let stalled = s
                    .reduced_last
                    .eq(0.0)?
                    .mul(&s.best_at_check.ge(&s.loss_best)?)?;
                let reduce = oscillating.maximum(&stalled)?;
                s.step = reduce.where_cond(&(&s.step * 0.5)?, &s.step)?;
                s.x_adv = where_rows(&reduce, &s.x_best, &s.x_adv)?;
                s.grad = where_rows(&reduce, &s.grad_best, &s.grad)?;
                s.reduced_last = reduce.to_dtype(DType::F32)?;
                s.best_at_check = s.loss_best.clone();
                s.increases = s.increases.zeros_like()?;
                since_check = 0;
                k = k.saturating_sub(k_decr).max(k_min);
            }
        }
        out.put(&active, &s.x_best)?;
        let best = s.loss_best.to_vec1::<f32>()?;
        for (k, &row) in active.iter().enumerate() {
            loss_out[row] = best[k];
        }
        finish(out, loss_out, success, device)
    }

    /// Writes the rows of `s` that meet the goal at `logits` to `out` and drops them from `s`.
    /// Returns whether rows remain.
    fn retire(
        s: &mut State,
        active: &mut Vec<usize>,
        logits: &Tensor,
        out: &mut RowSink,
        success: &mut [u8],
    ) -> Result<bool> {
        let (done, keep) = split_rows(&s.goal.achieved(logits)?)?;
        if done.is_empty() {
            return Ok(true);
        }
        let device = s.x.device().clone();
        let rows = pick(active, &done);
        out.put(
            &rows,
            &s.x_adv.index_select(&row_index(&done, &device)?, 0)?,
        )?;
        for &row in &rows {
            success[row] = 1;
        }
        if keep.is_empty() {
            return Ok(false);
        }
        *active = pick(active, &keep);
        *s = s.select(&row_index(&keep, &device)?)?;
        Ok(true)
    }
}

fn finish(
    out: RowSink,
    loss: Vec<f32>,
    success: Vec<u8>,
    device: &aisec_ml::Device,
) -> Result<(Tensor, Tensor, Tensor)> {
    let n = loss.len();
    Ok((
        out.finish()?,
        Tensor::from_vec(loss, n, device)?,
        Tensor::from_vec(success, n, device)?,
    ))
}

/// Per-row state of a run, for the rows still attacked.
struct State {
    x: Tensor,
    goal: GoalTensors,
    x_adv: Tensor,
    x_old: Tensor,
    grad: Tensor,
    /// Step size `[m]`.
    step: Tensor,
    x_best: Tensor,
    grad_best: Tensor,
    loss_best: Tensor,
    /// Best loss at the last checkpoint.
    best_at_check: Tensor,
    /// 1 where the last checkpoint halved the step.
    reduced_last: Tensor,
    /// Loss increases since the last checkpoint.
    increases: Tensor,
    prev_loss: Tensor,
}

impl State {
    fn new(
        x: &Tensor,
        goal: &GoalTensors,
        start: Tensor,
        first: LossGradient,
        eps: f32,
    ) -> Result<Self> {
        let m = x.dim(0)?;
        let device = x.device();
        Ok(Self {
            x: x.clone(),
            goal: goal.clone(),
            x_old: start.clone(),
            x_best: start.clone(),
            x_adv: start,
            grad_best: first.grad.clone(),
            grad: first.grad,
            step: Tensor::full(2.0 * eps, m, device)?,
            best_at_check: first.loss.clone(),
            prev_loss: first.loss.clone(),
            loss_best: first.loss,
            reduced_last: Tensor::ones(m, DType::F32, device)?,
            increases: Tensor::zeros(m, DType::F32, device)?,
        })
    }

    fn select(&self, idx: &Tensor) -> Result<Self> {
        let s = |t: &Tensor| t.index_select(idx, 0);
        Ok(Self {
            x: s(&self.x)?,
            goal: self.goal.select(idx)?,
            x_adv: s(&self.x_adv)?,
            x_old: s(&self.x_old)?,
            grad: s(&self.grad)?,
            step: s(&self.step)?,
            x_best: s(&self.x_best)?,
            grad_best: s(&self.grad_best)?,
            loss_best: s(&self.loss_best)?,
            best_at_check: s(&self.best_at_check)?,
            reduced_last: s(&self.reduced_last)?,
            increases: s(&self.increases)?,
            prev_loss: s(&self.prev_loss)?,
        })
    }
}

impl EvasionAttack for Apgd {
    fn name(&self) -> &'static str {
        "apgd"
    }

    fn access(&self) -> Access {
        Access::WhiteBox
    }

    fn eps(&self) -> Option<(Norm, f32)> {
        Some((self.norm, self.eps))
    }

    fn norm(&self) -> Norm {
        self.norm
    }

    fn generate(
        &self,
        model: &dyn Classifier,
        x: &Tensor,
        goal: &Goal,
        rng: &mut Rng,
    ) -> Result<Tensor> {
        self.validate()?;
        let wb = white_box(self, model)?;
        let n = x.dim(0)?;
        let device = x.device();
        let goal = GoalTensors::new(goal, n, model.info().num_classes, device)?;
        if n == 0 {
            return Ok(x.clone());
        }
        let mut out = RowSink::new(x)?;
        let mut best: Option<(Tensor, Tensor)> = None;
        let mut open: Vec<usize> = (0..n).collect();
        for _ in 0..self.restarts {
            let (x_open, g_open) = if open.len() == n {
                (x.clone(), goal.clone())
            } else {
                let idx = row_index(&open, device)?;
                (x.index_select(&idx, 0)?, goal.select(&idx)?)
            };
            let start = self.start(model, &x_open, rng)?;
            let (adv, loss, ok) = self.run(wb, &x_open, &g_open, start)?;
            let (won, lost) = split_rows(&ok)?;
            if !won.is_empty() {
                out.put(
                    &pick(&open, &won),
                    &adv.index_select(&row_index(&won, device)?, 0)?,
                )?;
            }
            let (adv, loss) = match best.take() {
                None => (adv, loss),
                Some((b_adv, b_loss)) => {
                    let better = loss.gt(&b_loss)?;
                    (
                        where_rows(&better, &adv, &b_adv)?,
                        better.where_cond(&loss, &b_loss)?,
                    )
                }
            };
            open = pick(&open, &lost);
            if open.is_empty() {
                return out.finish();
            }
            let lost = row_index(&lost, device)?;
            best = Some((adv.index_select(&lost, 0)?, loss.index_select(&lost, 0)?));
        }
        if let Some((adv, _)) = best {
            out.put(&open, &adv)?;
        }
        out.finish()
    }
}
