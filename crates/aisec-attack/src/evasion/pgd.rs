//! Projected gradient descent (Madry et al., 2018): `max_iter` steps of size `eps_step` along the
//! sign (Linf) or direction (L2) of the loss gradient, each followed by a projection onto the
//! `eps`-ball around the clean row and a clip to the input range.
//!
//! Semantics follow IBM ART's `ProjectedGradientDescent` (numpy flavour):
//! - `eps_step` is absolute (not a fraction of `eps`); ART's defaults are `eps` 0.3,
//!   `eps_step` 0.1, `max_iter` 100, `num_random_init` 0;
//! - `num_random_init == 0` runs once from the clean row; `num_random_init == k > 0` runs `k`
//!   times, each from a random point of the ball (uniform in the Linf cube; uniform in the L2
//!   ball's volume, as ART's `random_sphere` draws it; torchattacks' `PGDL2` instead draws the
//!   radius uniformly in `[0, eps]`);
//! - the result of a run is its last iterate (no early exit), unless [`Pgd::early_stop`] is set.
//!
//! Across random restarts each row keeps its first successful result; a row no run breaks keeps
//! the result with the highest loss (ART keeps the latest successful one and otherwise the first
//! run's; success counts are the same). A restart only re-attacks the rows not yet broken.

use aisec_ml::candle::Tensor;
use aisec_ml::{Classifier, Rng, WhiteBox};

use super::{
    Access, EvasionAttack, Goal, GoalTensors, Norm, RowSink, loss_gradient, pick, project,
    random_in_ball, row_index, split_rows, unit_step, where_rows, white_box,
};
use crate::error::{AttackError, Result};

/// Projected gradient descent under an Linf or L2 bound.
#[derive(Debug, Clone)]
pub struct Pgd {
    /// The bound's norm.
    pub norm: Norm,
    /// The bound: the largest perturbation allowed, in `norm`.
    pub eps: f32,
    /// The length of each step, in `norm` (absolute, as in ART).
    pub eps_step: f32,
    /// Steps per run.
    pub max_iter: usize,
    /// Runs from random starting points; 0 runs once from the clean row (ART's
    /// `num_random_init`).
    pub num_random_init: usize,
    /// Stop each row at its first successful iterate and drop it from the batch. Faster, and
    /// never weaker (a row that ends successful was successful at some iterate); off by default
    /// to match ART, which returns the last iterate.
    pub early_stop: bool,
}

impl Pgd {
    /// PGD with ART's defaults for everything but the bound: `eps_step` 0.1, `max_iter` 100,
    /// `num_random_init` 0, no early stop.
    pub fn new(norm: Norm, eps: f32) -> Result<Self> {
        let pgd = Self {
            norm,
            eps,
            eps_step: 0.1,
            max_iter: 100,
            num_random_init: 0,
            early_stop: false,
        };
        pgd.validate()?;
        Ok(pgd)
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        if !(self.eps.is_finite() && self.eps >= 0.0) {
            return Err(AttackError::Parameter(format!(
                "eps {} must be a non-negative number",
                self.eps
            )));
        }
        if !(self.eps_step.is_finite() && self.eps_step > 0.0) {
            return Err(AttackError::Parameter(format!(
                "eps_step {} must be a positive number",
                self.eps_step
            )));
        }
        Ok(())
    }

    /// One run on the rows of `x` from `start`: returns the adversarial rows, their loss and
    /// whether each met the goal.
    fn run(
        &self,
        model: &dyn WhiteBox,
        x: &Tensor,
        goal: &GoalTensors,
        start: Tensor,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        if self.early_stop {
            return self.run_early_stop(model, x, goal, start);
        }
        let x_adv = self.iterate(model, x, goal, start)?;
        let logits = model.logits(&x_adv)?;
        Ok((x_adv, goal.loss(&logits)?, goal.achieved(&logits)?))
    }

    /// `max_iter` steps from `x_adv`, keeping the last iterate.
    fn iterate(
        &self,
        model: &dyn WhiteBox,
        x: &Tensor,
        goal: &GoalTensors,
        mut x_adv: Tensor,
    ) -> Result<Tensor> {
        for _ in 0..self.max_iter {
            let grad = loss_gradient(model, &x_adv, goal)?.grad;
            let step = (unit_step(&grad, self.norm)? * f64::from(self.eps_step))?;
            x_adv = project(model, x, &(x_adv + step)?, self.norm, self.eps)?;
        }
        Ok(x_adv)
    }

    /// [`Pgd::run`] where a row leaves the batch at its first successful iterate.
    fn run_early_stop(
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
        // Original positions of the rows still attacked.
        let mut active: Vec<usize> = (0..n).collect();
        let (mut x_adv, mut x_cur, mut g_cur) = (start, x.clone(), goal.clone());
        for it in 0..=self.max_iter {
            let last = it == self.max_iter;
            let (loss, grad, logits) = if last {
                let logits = model.logits(&x_adv)?;
                (g_cur.loss(&logits)?, None, logits)
            } else {
                let lg = loss_gradient(model, &x_adv, &g_cur)?;
                (lg.loss, Some(lg.grad), lg.logits)
            };
            let achieved = g_cur.achieved(&logits)?;
            let (done, keep) = if last {
                ((0..active.len()).collect(), Vec::new())
            } else {
                split_rows(&achieved)?
            };
            if !done.is_empty() {
                let idx = row_index(&done, device)?;
                let rows = pick(&active, &done);
                out.put(&rows, &x_adv.index_select(&idx, 0)?)?;
                let l = loss.index_select(&idx, 0)?.to_vec1::<f32>()?;
                let a = achieved.index_select(&idx, 0)?.to_vec1::<u8>()?;
                for (k, &row) in rows.iter().enumerate() {
                    loss_out[row] = l[k];
                    success[row] = a[k];
                }
                if keep.is_empty() {
                    break;
                }
                let idx = row_index(&keep, device)?;
                active = pick(&active, &keep);
                x_adv = x_adv.index_select(&idx, 0)?;
                x_cur = x_cur.index_select(&idx, 0)?;
                g_cur = g_cur.select(&idx)?;
                let grad = grad.expect("not last").index_select(&idx, 0)?;
                let step = (unit_step(&grad, self.norm)? * f64::from(self.eps_step))?;
                x_adv = project(model, &x_cur, &(x_adv + step)?, self.norm, self.eps)?;
            } else if let Some(grad) = grad {
                let step = (unit_step(&grad, self.norm)? * f64::from(self.eps_step))?;
                x_adv = project(model, &x_cur, &(x_adv + step)?, self.norm, self.eps)?;
            }
        }
        Ok((
            out.finish()?,
            Tensor::from_vec(loss_out, n, device)?,
            Tensor::from_vec(success, n, device)?,
        ))
    }
}

impl EvasionAttack for Pgd {
    fn name(&self) -> &'static str {
        "pgd"
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
        if self.num_random_init == 0 {
            return if self.early_stop {
                Ok(self.run_early_stop(wb, x, &goal, x.clone())?.0)
            } else {
                self.iterate(wb, x, &goal, x.clone())
            };
        }
        // The best failed attempt so far of each open row, in the order of `open`.
        let mut best: Option<(Tensor, Tensor)> = None;
        let mut out = RowSink::new(x)?;
        // Original positions of the rows no run has broken yet.
        let mut open: Vec<usize> = (0..n).collect();
        for _ in 0..self.num_random_init {
            let (x_open, g_open) = if open.len() == n {
                (x.clone(), goal.clone())
            } else {
                let idx = row_index(&open, device)?;
                (x.index_select(&idx, 0)?, goal.select(&idx)?)
            };
            let start = random_in_ball(model, &x_open, self.norm, self.eps, rng)?;
            let (adv, loss, ok) = self.run(wb, &x_open, &g_open, start)?;
            let (won, lost) = split_rows(&ok)?;
            out.put(
                &pick(&open, &won),
                &adv.index_select(&row_index(&won, device)?, 0)?,
            )?;
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
