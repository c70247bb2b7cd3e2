//! DeepFool (Moosavi-Dezfooli et al., 2016), multi-class: at each step the classifier is
//! linearised around the current point and the row moves to the nearest linearised decision
//! boundary, until its label changes.
//!
//! - Candidates: the `nb_grads` classes with the highest clean logits (all classes when there are
//!   no more), always including the true label (untargeted) or the target (targeted). Each step
//!   takes every candidate's logit gradient in one batched pass ([`super::class_gradients`]).
//! - Untargeted, with `w_k = ∇Z_k - ∇Z_y` and `f_k = Z_k - Z_y`: the step goes toward the class
//!   `l` minimising `|f_k| / ||w_k||_q` (q = 2 for L2, q = 1 for the Linf variant), by
//!   `(|f_l| / ||w_l||_q + 1e-4)` along `w_l / ||w_l||_2` (L2) or `sign(w_l)` (Linf).
//! - Targeted (not in the paper; the same step toward one boundary): the strongest rival `k` of
//!   the target `t` is the candidate with the highest logit, and the step crosses the linearised
//!   boundary between them along `-(∇Z_k - ∇Z_t)`.
//! - The steps add up to `r`; the row tested and returned is `clip(x + (1 + overshoot) · r)`
//!   (the authors' code; IBM ART instead applies the overshoot once at the end, and defaults it to
//!   1e-6 where the paper and torchattacks use 0.02).
//! - A row stops (and leaves the batch) as soon as its goal is met; a row not broken within
//!   `max_iter` steps comes back unchanged.

use aisec_ml::candle::{D, Tensor};
use aisec_ml::{Classifier, Rng};

use super::{
    Access, EvasionAttack, Goal, GoalTensors, Norm, RowSink, class_gradients, clip, pick,
    row_index, row_norms, scale_rows, split_rows, white_box,
};
use crate::error::{AttackError, Result};

/// Added to each step's length so that it lands past the linearised boundary (the authors' code).
const STEP_SLACK: f64 = 1e-4;

/// DeepFool, L2 or Linf.
#[derive(Debug, Clone)]
pub struct DeepFool {
    /// The norm the step minimises.
    pub norm: Norm,
    /// Most steps per row.
    pub max_iter: usize,
    /// How far past the boundary to go, as a share of the total perturbation.
    pub overshoot: f32,
    /// How many of the top classes to take gradients for.
    pub nb_grads: usize,
}

impl Default for DeepFool {
    /// ART's `max_iter` (100) and `nb_grads` (10), the paper's overshoot (0.02), L2.
    fn default() -> Self {
        Self {
            norm: Norm::L2,
            max_iter: 100,
            overshoot: 0.02,
            nb_grads: 10,
        }
    }
}

impl DeepFool {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        if !(self.overshoot.is_finite() && self.overshoot >= 0.0) {
            return Err(AttackError::Parameter(format!(
                "overshoot {} must be a non-negative number",
                self.overshoot
            )));
        }
        if self.nb_grads < 2 {
            return Err(AttackError::Parameter("nb_grads must be at least 2".into()));
        }
        Ok(())
    }

    /// The candidate classes `[N, C]`: the anchor (label or target) first, then the other top
    /// classes by clean logit.
    fn candidates(logits: &Tensor, anchors: &[u32], count: usize) -> Result<Tensor> {
        let (n, k) = logits.dims2()?;
        let values = logits.to_vec2::<f32>()?;
        let mut out = Vec::with_capacity(n * count);
        let mut order: Vec<u32> = Vec::with_capacity(k);
        for (row, &anchor) in values.iter().zip(anchors) {
            order.clear();
            order.extend((0..k as u32).filter(|&c| c != anchor));
            order.sort_by(|&a, &b| row[b as usize].total_cmp(&row[a as usize]));
            out.push(anchor);
            out.extend(&order[..count - 1]);
        }
        Ok(Tensor::from_vec(out, (n, count), logits.device())?)
    }

    /// One step for each row from its candidates' logits `[m, C]` and gradients `[m, C, ...]`.
    fn step(&self, selected: &Tensor, grads: &Tensor, targeted: bool) -> Result<Tensor> {
        let (m, c) = selected.dims2()?;
        let rest = c - 1;
        let g = grads.flatten_from(2)?;
        let w = g.narrow(1, 1, rest)?.broadcast_sub(&g.narrow(1, 0, 1)?)?;
        let f = selected
            .narrow(1, 1, rest)?
            .broadcast_sub(&selected.narrow(1, 0, 1)?)?;
        let dual = match self.norm {
            Norm::L2 => w.sqr()?.sum(D::Minus1)?.sqrt()?,
            Norm::Linf => w.abs()?.sum(D::Minus1)?,
        };
        let distance = f.abs()?.div(&(dual + 1e-12)?)?;
        let choice = if targeted {
            // The rival with the highest logit.
            f.argmax(D::Minus1)?
        } else {
            distance.argmin(D::Minus1)?
        };
        let pert = distance
            .gather(&choice.unsqueeze(1)?.contiguous()?, 1)?
            .squeeze(1)?;
        let d = w.dim(2)?;
        let pick_w = choice
            .reshape((m, 1, 1))?
            .broadcast_as((m, 1, d))?
            .contiguous()?;
        let w_l = w.gather(&pick_w, 1)?.squeeze(1)?;
        let dir = match self.norm {
            Norm::L2 => scale_rows(
                &w_l,
                &row_norms(&w_l, Norm::L2)?.clamp(1e-12, f32::MAX)?.recip()?,
            )?,
            Norm::Linf => w_l.sign()?,
        };
        let sign = if targeted { -1.0 } else { 1.0 };
        let length = ((pert + STEP_SLACK)? * sign)?;
        let mut shape = vec![m];
        shape.extend(&grads.dims()[2..]);
        Ok(scale_rows(&dir, &length)?.reshape(shape)?)
    }
}

impl EvasionAttack for DeepFool {
    fn name(&self) -> &'static str {
        "deepfool"
    }

    fn access(&self) -> Access {
        Access::WhiteBox
    }

    fn eps(&self) -> Option<(Norm, f32)> {
        None
    }

    fn norm(&self) -> Norm {
        self.norm
    }

    fn generate(
        &self,
        model: &dyn Classifier,
        x: &Tensor,
        goal: &Goal,
        _rng: &mut Rng,
    ) -> Result<Tensor> {
        self.validate()?;
        let wb = white_box(self, model)?;
        let n = x.dim(0)?;
        let classes = model.info().num_classes;
        let device = x.device();
        let goal_t = GoalTensors::new(goal, n, classes, device)?;
        let mut out = RowSink::new(x)?;
        if n == 0 || classes < 2 {
            return out.finish();
        }
        let anchors = goal.targets.as_ref().unwrap_or(&goal.labels);
        let count = self.nb_grads.min(classes);
        let mut cand = Self::candidates(&wb.logits(x)?, anchors, count)?;
        let targeted = goal_t.targeted();
        let overshoot = 1.0 + f64::from(self.overshoot);

        let mut active: Vec<usize> = (0..n).collect();
        let (mut x_a, mut g_a) = (x.clone(), goal_t);
        let mut x_cur = x.clone();
        let mut r_tot = x.zeros_like()?;
        for it in 0..=self.max_iter {
            let last = it == self.max_iter;
            let (cg, logits) = if last {
                (None, wb.logits(&x_cur)?)
            } else {
                let cg = class_gradients(wb, &x_cur, &cand)?;
                let logits = cg.logits.clone();
                (Some(cg), logits)
            };
            let (done, keep) = split_rows(&g_a.achieved(&logits)?)?;
            if !done.is_empty() {
                let idx = row_index(&done, device)?;
                out.put(&pick(&active, &done), &x_cur.index_select(&idx, 0)?)?;
            }
            let Some(mut cg) = cg else { break };
            if keep.is_empty() {
                break;
            }
            if !done.is_empty() {
                let idx = row_index(&keep, device)?;
                active = pick(&active, &keep);
                x_a = x_a.index_select(&idx, 0)?;
                g_a = g_a.select(&idx)?;
                r_tot = r_tot.index_select(&idx, 0)?;
                cand = cand.index_select(&idx, 0)?;
                cg.selected = cg.selected.index_select(&idx, 0)?;
                cg.grads = cg.grads.index_select(&idx, 0)?;
            }
            r_tot = (r_tot + self.step(&cg.selected, &cg.grads, targeted)?)?;
            x_cur = clip(model, &(&x_a + (&r_tot * overshoot)?)?)?;
        }
        out.finish()
    }
}
