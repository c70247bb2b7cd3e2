//! HopSkipJump (Chen, Jordan, Wainwright, 2020): a decision-based, minimum-norm attack that
//! needs the predicted class only. From an adversarial starting point it repeats: estimate the
//! boundary's normal at the current boundary point by Monte-Carlo sampling of decisions, step
//! along it (geometric step-size search), and binary-search back to the boundary.
//!
//! The rows move in lockstep: every binary-search step, step-size trial and gradient estimate
//! for all rows goes to `predict` together (large probe sets in bounded chunks).
//!
//! Parameters follow the paper's code: binary-search threshold `theta = gamma / d^1.5` (L2) or
//! `gamma / d^2` (Linf) for `d` input elements, probe radius `delta = 0.1 * range` at the first
//! iteration and then `sqrt(d) * theta * dist` (L2) or `d * theta * dist` (Linf) from the
//! distance reached by the last step, `init_eval * sqrt(t)` probes at iteration `t` (at most
//! `max_eval`), first trial step `dist / sqrt(t)` halved until the decision holds.
//!
//! Against IBM ART's `HopSkipJump`: `max_iter`, `max_eval`, `init_eval` and `init_size` mean the
//! same; ART's binary-search threshold is `gamma = 0.01 * d` here. ART attacks one row at a time,
//! leaves the class the model predicts for the clean row (we leave the true label, so a row the
//! model already gets wrong comes back unchanged), searches the boundary before each gradient
//! estimate and returns the last stepped point; we return the closest adversarial point seen,
//! which is on the boundary. Its targeted start is random noise unless given; ours is the
//! nearest row of the batch in the target class.

use aisec_ml::candle::Tensor;
use aisec_ml::{Classifier, Rng};

use super::blackbox::{
    BlackBoxStats, Oracle, distance, fill_normal, fill_uniform_pm1, l2, meets, rows_of, tensor_of,
};
use super::{Access, EvasionAttack, Goal, Norm};
use crate::error::{AttackError, Result};

/// Step-size halvings tried before a row keeps its point for this iteration (the paper's loop is
/// unbounded; 2^-30 of the distance is far below f32 resolution of a useful step).
const MAX_HALVINGS: usize = 30;

/// Rows of each predicted class considered as starting points (the nearest one is taken).
const CANDIDATES_PER_CLASS: usize = 256;

/// The HopSkipJump attack, L2 or Linf.
#[derive(Debug, Clone)]
pub struct HopSkipJump {
    /// The norm minimised.
    pub norm: Norm,
    /// Iterations (gradient estimate, step, binary search).
    pub max_iter: usize,
    /// Most probes per row for one gradient estimate.
    pub max_eval: usize,
    /// Probes per row at the first iteration; iteration `t` uses `init_eval * sqrt(t)`.
    pub init_eval: usize,
    /// Most random-noise draws per row when looking for a starting point.
    pub init_size: usize,
    /// Scales the binary-search threshold and the probe radius (1 in the paper; IBM ART's
    /// thresholds are `gamma = 0.01 * d`).
    pub gamma: f64,
}

impl HopSkipJump {
    /// HopSkipJump with IBM ART's iteration and evaluation defaults (50 iterations, 100 to
    /// 10,000 probes, 100 initial draws) and the paper's `gamma` of 1.
    #[must_use]
    pub fn new(norm: Norm) -> Self {
        Self {
            norm,
            max_iter: 50,
            max_eval: 10_000,
            init_eval: 100,
            init_size: 100,
            gamma: 1.0,
        }
    }

    fn check(&self) -> Result<()> {
        if self.init_eval == 0 || self.max_eval < self.init_eval {
            return Err(AttackError::Parameter(format!(
                "init_eval ({}) must be positive and at most max_eval ({})",
                self.init_eval, self.max_eval
            )));
        }
        if self.init_size == 0 {
            return Err(AttackError::Parameter("init_size must be positive".into()));
        }
        if !(self.gamma.is_finite() && self.gamma > 0.0) {
            return Err(AttackError::Parameter(format!(
                "gamma {} must be a positive number",
                self.gamma
            )));
        }
        Ok(())
    }

    /// Adversarial rows and what the run did (queries, budget, rows without a start).
    pub fn run(
        &self,
        model: &dyn Classifier,
        x: &Tensor,
        goal: &Goal,
        rng: &mut Rng,
    ) -> Result<(Tensor, BlackBoxStats)> {
        self.check()?;
        let data = rows_of(model, x, goal)?;
        let info = model.info();
        let (n, d) = (x.dim(0)?, info.sample_len());
        let mut run = Run {
            oracle: Oracle::new(model),
            goal,
            x: &data,
            d,
            norm: self.norm,
            range: info.input_range,
            best: data.clone(),
            best_dist: vec![f32::INFINITY; n],
        };
        if n > 0 && d > 0 {
            self.attack(&mut run, rng)?;
        }
        let stats = run.oracle.stats;
        Ok((tensor_of(model, run.best)?, stats))
    }

    fn attack(&self, run: &mut Run<'_>, rng: &mut Rng) -> Result<()> {
        let (n, d) = (run.x.len() / run.d, run.d);
        let Some(clean) = run.oracle.labels(run.x)? else {
            return Ok(());
        };
        let (rows, start) = run.starts(&clean, self.init_size, rng)?;
        run.oracle.stats.rows_without_start =
            (0..n).filter(|&i| !meets(run.goal, i, clean[i])).count() - rows.len();
        if rows.is_empty() || run.oracle.stats.budget_exhausted {
            return Ok(());
        }
        let df = d as f64;
        let theta = match self.norm {
            Norm::L2 => self.gamma / (df * df.sqrt()),
            Norm::Linf => self.gamma / (df * df),
        } as f32;
        // To the boundary: along the segment first, then (Linf) shrinking the box.
        let mut cur = match self.norm {
            Norm::L2 => run.search(&rows, &start, Search::Blend, theta)?,
            Norm::Linf => {
                let p = run.search(&rows, &start, Search::Blend, 0.001)?;
                run.search(&rows, &p, Search::Box, theta)?
            }
        };
        let mut dist_post: Vec<f32> = Vec::new();
        for t in 1..=self.max_iter {
            if run.oracle.stats.budget_exhausted {
                break;
            }
            let deltas: Vec<f32> = if t == 1 {
                vec![0.1 * (run.range[1] - run.range[0]); rows.len()]
            } else {
                let factor = match self.norm {
                    Norm::L2 => df.sqrt(),
                    Norm::Linf => df,
                } as f32
                    * theta;
                dist_post.iter().map(|&v| (factor * v).max(1e-12)).collect()
            };
            let evals =
                ((self.init_eval as f64 * (t as f64).sqrt()) as usize).clamp(1, self.max_eval);
            let Some(update) = run.gradient(&rows, &cur, &deltas, evals, rng)? else {
                break;
            };
            let stepped = run.step(&rows, &cur, &update, t)?;
            dist_post = rows
                .iter()
                .zip(stepped.chunks(d))
                .map(|(&i, p)| distance(p, run.clean(i), self.norm))
                .collect();
            cur = match self.norm {
                Norm::L2 => run.search(&rows, &stepped, Search::Blend, theta)?,
                Norm::Linf => run.search(&rows, &stepped, Search::Box, theta)?,
            };
            if !run.oracle.stats.budget_exhausted {
                run.oracle.stats.iterations += 1;
            }
        }
        Ok(())
    }
}

/// How a binary search moves between the clean row and an adversarial one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Search {
    /// Along the segment: `(1 - a) x + a adv`, `a` in [0, 1].
    Blend,
    /// Shrinking the Linf box: `adv` clipped to `[x - a, x + a]`, `a` up to `|adv - x|_inf`.
    Box,
}

/// One run's state shared by its phases.
struct Run<'a> {
    oracle: Oracle<'a>,
    goal: &'a Goal,
    x: &'a [f32],
    d: usize,
    norm: Norm,
    range: [f32; 2],
    /// The closest adversarial row found so far for each row (the clean row until one is).
    best: Vec<f32>,
    best_dist: Vec<f32>,
}

impl Run<'_> {
    fn clean(&self, i: usize) -> &[f32] {
        &self.x[i * self.d..][..self.d]
    }

    /// Records adversarial points `points` (one per row of `rows`) that are closer than the best.
    fn offer(&mut self, rows: &[usize], points: &[f32]) {
        for (&i, p) in rows.iter().zip(points.chunks(self.d)) {
            let dist = distance(p, &self.x[i * self.d..][..self.d], self.norm);
            if dist < self.best_dist[i] {
                self.best_dist[i] = dist;
                self.best[i * self.d..][..self.d].copy_from_slice(p);
            }
        }
    }

    /// Adversarial starting points for the rows that are not adversarial already. Targeted: the
    /// nearest row of the batch the model puts in the target class, else uniform noise (up to
    /// `tries` draws per row). Untargeted: uniform noise, else the nearest row of the batch the
    /// model puts in another class. Returns the rows that have one and their points.
    fn starts(
        &mut self,
        clean: &[u32],
        tries: usize,
        rng: &mut Rng,
    ) -> Result<(Vec<usize>, Vec<f32>)> {
        let d = self.d;
        let n = clean.len();
        let need: Vec<usize> = (0..n).filter(|&i| !meets(self.goal, i, clean[i])).collect();
        let mut found: Vec<Option<usize>> = vec![None; n]; // the batch row used, or n for noise
        let mut noise = vec![0.0f32; n * d];
        // Candidate starting rows: the first rows the model puts in each class (bounded, so that
        // the nearest-row search stays linear in the batch).
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); self.oracle.num_classes()];
        for (j, &c) in clean.iter().enumerate() {
            if let Some(list) = by_class.get_mut(c as usize)
                && list.len() < CANDIDATES_PER_CLASS
            {
                list.push(j);
            }
        }
        let from_batch = |this: &Self, i: usize| -> Option<usize> {
            by_class
                .iter()
                .enumerate()
                .filter(|&(c, _)| meets(this.goal, i, c as u32))
                .flat_map(|(_, rows)| rows.iter().copied())
                .map(|j| (j, distance(this.clean(j), this.clean(i), this.norm)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(j, _)| j)
        };
        let targeted = self.goal.targets.is_some();
        if targeted {
            for &i in &need {
                found[i] = from_batch(self, i);
            }
        }
        let [lo, hi] = self.range;
        for _ in 0..tries {
            let pending: Vec<usize> = need
                .iter()
                .copied()
                .filter(|&i| found[i].is_none())
                .collect();
            if pending.is_empty() {
                break;
            }
            let mut probes = vec![0.0f32; pending.len() * d];
            fill_uniform_pm1(rng, &mut probes);
            let (mid, half) = (f32::midpoint(lo, hi), (hi - lo) / 2.0);
            for v in &mut probes {
                *v = (mid + half * *v).clamp(lo, hi);
            }
            let Some(hit) = self
                .oracle
                .adversarial(&probes, |a| pending[a], self.goal)?
            else {
                break;
            };
            for ((&i, p), ok) in pending.iter().zip(probes.chunks(d)).zip(hit) {
                if ok {
                    found[i] = Some(n);
                    noise[i * d..][..d].copy_from_slice(p);
                }
            }
        }
        if !targeted {
            for &i in &need {
                if found[i].is_none() {
                    found[i] = from_batch(self, i);
                }
            }
        }
        let rows: Vec<usize> = need.into_iter().filter(|&i| found[i].is_some()).collect();
        let mut points = Vec::with_capacity(rows.len() * d);
        for &i in &rows {
            match found[i] {
                Some(j) if j < n => points.extend_from_slice(self.clean(j)),
                _ => points.extend_from_slice(&noise[i * d..][..d]),
            }
        }
        self.offer(&rows, &points);
        Ok((rows, points))
    }

    /// Binary search from the clean rows toward the adversarial `adv` until the bracket is below
    /// `theta` (Linf boxes: `min(theta, a * theta)`); returns the adversarial end of each bracket.
    /// Stops early, with the brackets reached, when the budget runs out.
    fn search(&mut self, rows: &[usize], adv: &[f32], how: Search, theta: f32) -> Result<Vec<f32>> {
        let d = self.d;
        let mut high: Vec<f32> = match how {
            Search::Blend => vec![1.0; rows.len()],
            Search::Box => rows
                .iter()
                .zip(adv.chunks(d))
                .map(|(&i, a)| distance(a, self.clean(i), Norm::Linf))
                .collect(),
        };
        let threshold: Vec<f32> = match how {
            Search::Blend => vec![theta; rows.len()],
            Search::Box => high.iter().map(|&h| (h * theta).min(theta)).collect(),
        };
        let mut low = vec![0.0f32; rows.len()];
        let mut moved = vec![false; rows.len()];
        let project = |x: &[f32], a: &[f32], alpha: f32, out: &mut [f32]| match how {
            Search::Blend => {
                for ((o, &xi), &ai) in out.iter_mut().zip(x).zip(a) {
                    *o = (1.0 - alpha) * xi + alpha * ai;
                }
            }
            Search::Box => {
                for ((o, &xi), &ai) in out.iter_mut().zip(x).zip(a) {
                    *o = ai.clamp(xi - alpha, xi + alpha);
                }
            }
        };
        let mut probes = Vec::new();
        // Each round halves every open bracket; 64 rounds exhaust f32 whatever the threshold.
        for _ in 0..64 {
            let open: Vec<usize> = (0..rows.len())
                .filter(|&r| high[r] - low[r] > threshold[r])
                .collect();
            if open.is_empty() {
                break;
            }
            probes.clear();
            probes.resize(open.len() * d, 0.0);
            for (&r, out) in open.iter().zip(probes.chunks_mut(d)) {
                let mid = f32::midpoint(high[r], low[r]);
                project(self.clean(rows[r]), &adv[r * d..][..d], mid, out);
            }
            let Some(hit) = self
                .oracle
                .adversarial(&probes, |a| rows[open[a]], self.goal)?
            else {
                break;
            };
            for (&r, ok) in open.iter().zip(hit) {
                let mid = f32::midpoint(high[r], low[r]);
                if ok {
                    high[r] = mid;
                    moved[r] = true;
                } else {
                    low[r] = mid;
                }
            }
        }
        let mut out = adv.to_vec();
        for r in 0..rows.len() {
            if moved[r] {
                project(
                    self.clean(rows[r]),
                    &adv[r * d..][..d],
                    high[r],
                    &mut out[r * d..][..d],
                );
            }
        }
        self.offer(rows, &out);
        Ok(out)
    }

    /// The update direction at each boundary point: the mean of `evals` random unit directions
    /// of radius `delta`, weighted by whether the probe is adversarial (baseline-subtracted), then
    /// normalised (L2) or signed (Linf). `None` when the budget runs out.
    fn gradient(
        &mut self,
        rows: &[usize],
        points: &[f32],
        deltas: &[f32],
        evals: usize,
        rng: &mut Rng,
    ) -> Result<Option<Vec<f32>>> {
        let d = self.d;
        let [lo, hi] = self.range;
        let total = rows.len() * evals;
        let chunk = self.oracle.chunk_rows();
        // Per row: sum of f * u and of u over its probes, and its number of adversarial probes.
        let mut weighted = vec![0.0f32; rows.len() * d];
        let mut plain = vec![0.0f32; rows.len() * d];
        let mut positive = vec![0usize; rows.len()];
        let mut probes = Vec::new();
        let mut dirs = Vec::new();
        let mut start = 0;
        while start < total {
            let end = (start + chunk).min(total);
            probes.clear();
            probes.resize((end - start) * d, 0.0);
            dirs.clear();
            dirs.resize((end - start) * d, 0.0);
            match self.norm {
                Norm::L2 => fill_normal(rng, &mut dirs),
                Norm::Linf => fill_uniform_pm1(rng, &mut dirs),
            }
            for (k, (probe, dir)) in probes.chunks_mut(d).zip(dirs.chunks_mut(d)).enumerate() {
                let r = (start + k) / evals;
                let (point, delta) = (&points[r * d..][..d], deltas[r]);
                let scale = delta / l2(dir).max(1e-12);
                for ((p, u), &c) in probe.iter_mut().zip(dir.iter_mut()).zip(point) {
                    let v = (c + scale * *u).clamp(lo, hi);
                    *p = v;
                    *u = (v - c) / delta;
                }
            }
            let Some(hit) =
                self.oracle
                    .adversarial(&probes, |a| rows[(start + a) / evals], self.goal)?
            else {
                return Ok(None);
            };
            for (k, (dir, ok)) in dirs.chunks(d).zip(hit).enumerate() {
                let r = (start + k) / evals;
                let f = if ok { 1.0 } else { -1.0 };
                positive[r] += usize::from(ok);
                let (w, p) = (&mut weighted[r * d..][..d], &mut plain[r * d..][..d]);
                for ((w, p), &u) in w.iter_mut().zip(p.iter_mut()).zip(dir) {
                    *w += f * u;
                    *p += u;
                }
            }
            start = end;
        }
        let mut update = weighted;
        for r in 0..rows.len() {
            let g = &mut update[r * d..][..d];
            // Mixed decisions: subtract the mean decision as a baseline; unanimous ones keep
            // their sign (the paper's rule).
            if positive[r] > 0 && positive[r] < evals {
                let mean = (2.0 * positive[r] as f32 - evals as f32) / evals as f32;
                for (w, &p) in g.iter_mut().zip(&plain[r * d..][..d]) {
                    *w -= mean * p;
                }
            }
            match self.norm {
                Norm::L2 => {
                    let n = l2(g);
                    let inv = if n > 0.0 { 1.0 / n } else { 0.0 };
                    for v in g.iter_mut() {
                        *v *= inv;
                    }
                }
                Norm::Linf => g
                    .iter_mut()
                    .for_each(|v| *v = v.signum() * f32::from(*v != 0.0)),
            }
        }
        Ok(Some(update))
    }

    /// Geometric step-size search: from `dist / sqrt(t)`, halve until the stepped point is
    /// still adversarial. A row whose steps all fail (or that the budget stops) keeps its point.
    fn step(&mut self, rows: &[usize], cur: &[f32], update: &[f32], t: usize) -> Result<Vec<f32>> {
        let d = self.d;
        let [lo, hi] = self.range;
        let mut eps: Vec<f32> = rows
            .iter()
            .zip(cur.chunks(d))
            .map(|(&i, c)| distance(c, self.clean(i), self.norm) / (t as f32).sqrt())
            .collect();
        let mut out = cur.to_vec();
        let mut pending: Vec<usize> = (0..rows.len()).collect();
        let mut probes = Vec::new();
        for _ in 0..MAX_HALVINGS {
            if pending.is_empty() {
                break;
            }
            probes.clear();
            probes.resize(pending.len() * d, 0.0);
            for (&r, p) in pending.iter().zip(probes.chunks_mut(d)) {
                let (c, u) = (&cur[r * d..][..d], &update[r * d..][..d]);
                for ((p, &c), &u) in p.iter_mut().zip(c).zip(u) {
                    *p = (c + eps[r] * u).clamp(lo, hi);
                }
            }
            let Some(hit) = self
                .oracle
                .adversarial(&probes, |a| rows[pending[a]], self.goal)?
            else {
                break;
            };
            let mut still = Vec::new();
            for ((&r, ok), p) in pending.iter().zip(hit).zip(probes.chunks(d)) {
                if ok {
                    out[r * d..][..d].copy_from_slice(p);
                } else {
                    eps[r] /= 2.0;
                    still.push(r);
                }
            }
            pending = still;
        }
        self.offer(rows, &out);
        Ok(out)
    }
}

impl EvasionAttack for HopSkipJump {
    fn name(&self) -> &'static str {
        "hopskipjump"
    }

    fn access(&self) -> Access {
        Access::Decisions
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
        rng: &mut Rng,
    ) -> Result<Tensor> {
        Ok(self.run(model, x, goal, rng)?.0)
    }
}
