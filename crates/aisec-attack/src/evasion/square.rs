//! Square Attack (Andriushchenko, Croce, Flammarion, Hein, 2020): a score-based random search.
//! Each iteration proposes, for every row not yet fooled, one change confined to a random
//! window (a square per channel for images, a run of consecutive features for flat vectors) and
//! keeps it when the loss drops. The window shrinks on the paper's schedule.
//!
//! Loss: the attack reads the model's probabilities only, and works on their logarithms. The
//! untargeted loss is the margin `log p_y - max_{k != y} log p_k`, which equals the logit margin
//! the paper uses (log-softmax differs from the logits by one constant per row) and keeps its
//! resolution where probabilities saturate to 1 in f32. The targeted loss is the cross-entropy
//! `-log p_t`, as in the paper. A row stops as soon as its predicted class meets the goal.
//!
//! Queries: one `predict` of the clean batch, then per restart one for the initialisation and
//! one per iteration, each over the rows still unbroken only.
//!
//! Against IBM ART's `SquareAttack`: `eps`, `max_iter`, `p_init` and `nb_restarts` (here
//! `restarts`) mean the same and share the window schedule. ART predicts all rows, then the
//! unbroken rows twice, per iteration (about three times our queries); it draws one window for
//! the whole batch where we draw one per row (the paper's way); it keeps the stripe
//! initialisation only where it lowers the loss; its margin is on whatever its estimator's
//! `predict` returns (the logits for a PyTorch model without softmax, so the same margin as
//! ours); it has no targeted mode, and runs on `[N, C, H, W]` inputs only (flat vectors must be
//! reshaped into images, where we use 1-D runs).

use aisec_ml::candle::Tensor;
use aisec_ml::{Classifier, Rng};

use super::blackbox::{BlackBoxStats, Layout, Oracle, argmax, l2, meets, rows_of, sign, tensor_of};
use super::{Access, EvasionAttack, Goal, Norm};
use crate::error::{AttackError, Result};

/// The Square Attack, Linf or L2.
#[derive(Debug, Clone)]
pub struct Square {
    /// The bound's norm.
    pub norm: Norm,
    /// The perturbation bound.
    pub eps: f32,
    /// Iterations after the initialisation (one query per unbroken row each).
    pub max_iter: usize,
    /// Share of a channel's elements the first windows cover (the square's area over the
    /// image's, or the run's length over the vector's); it halves on the paper's schedule,
    /// rescaled from 10,000 iterations to `max_iter`.
    pub p_init: f32,
    /// Independent runs from a fresh initialisation for the rows still unbroken.
    pub restarts: usize,
}

impl Square {
    /// Square with IBM ART's defaults: 100 iterations, `p_init` 0.8, one run.
    pub fn new(norm: Norm, eps: f32) -> Result<Self> {
        let attack = Self {
            norm,
            eps,
            max_iter: 100,
            p_init: 0.8,
            restarts: 1,
        };
        attack.check()?;
        Ok(attack)
    }

    fn check(&self) -> Result<()> {
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(AttackError::Parameter(format!(
                "eps {} must be a positive number",
                self.eps
            )));
        }
        if !(self.p_init > 0.0 && self.p_init <= 1.0) {
            return Err(AttackError::Parameter(format!(
                "p_init {} must be in (0, 1]",
                self.p_init
            )));
        }
        if self.restarts == 0 {
            return Err(AttackError::Parameter("restarts must be at least 1".into()));
        }
        Ok(())
    }

    /// The window share at iteration `i`: `p_init` halved once for each of the paper's
    /// breakpoints (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 of 10,000 iterations) that
    /// `i / max_iter` has passed.
    fn share(&self, i: usize) -> f32 {
        const BREAKS: [f64; 9] = [0.001, 0.005, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8];
        let progress = i as f64 / self.max_iter.max(1) as f64;
        let halvings = BREAKS.iter().take_while(|&&b| progress > b).count();
        self.p_init / (1u32 << halvings) as f32
    }

    /// Adversarial rows and what the run did (queries, whether the budget stopped it).
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
        let (n, d, k) = (x.dim(0)?, info.sample_len(), info.num_classes);
        let mut oracle = Oracle::new(model);
        if n == 0 || d == 0 {
            return Ok((x.clone(), oracle.stats));
        }
        let ctx = Context {
            x: &data,
            d,
            layout: Layout::of(&info.input_shape),
            range: info.input_range,
            eps: self.eps,
        };
        let mut out = data.clone();
        let mut out_loss = vec![f32::INFINITY; n];
        let mut done = vec![false; n];
        let mut cur = data.clone();
        let mut cur_loss = vec![f32::INFINITY; n];
        let mut scratch = Scratch::default();

        if let Some(p) = oracle.probabilities(&data)? {
            for (i, row) in p.chunks(k).enumerate() {
                done[i] = meets(goal, i, argmax(row));
            }
            'runs: for _ in 0..self.restarts {
                for it in 0..=self.max_iter {
                    let active: Vec<usize> = (0..n).filter(|&i| !done[i]).collect();
                    if active.is_empty() {
                        break 'runs;
                    }
                    let mut cand = vec![0.0; active.len() * d];
                    for (&i, row) in active.iter().zip(cand.chunks_mut(d)) {
                        match (it, self.norm) {
                            (0, Norm::Linf) => ctx.stripes(i, row, rng),
                            (0, Norm::L2) => ctx.tiles(i, row, rng, &mut scratch),
                            (_, Norm::Linf) => {
                                ctx.linf_step(i, &cur[i * d..][..d], self.share(it - 1), row, rng);
                            }
                            (_, Norm::L2) => ctx.l2_step(
                                i,
                                &cur[i * d..][..d],
                                self.share(it - 1),
                                row,
                                rng,
                                &mut scratch,
                            ),
                        }
                    }
                    let Some(p) = oracle.probabilities(&cand)? else {
                        break 'runs;
                    };
                    for ((&i, row), probs) in active.iter().zip(cand.chunks(d)).zip(p.chunks(k)) {
                        let loss = loss(goal, i, probs);
                        let hit = meets(goal, i, argmax(probs));
                        // The initialisation replaces the clean row whatever its loss; later
                        // proposals stay when they lower it or meet the goal.
                        if it == 0 || hit || loss < cur_loss[i] {
                            cur[i * d..][..d].copy_from_slice(row);
                            cur_loss[i] = loss;
                            if hit || loss < out_loss[i] {
                                out[i * d..][..d].copy_from_slice(row);
                                out_loss[i] = if hit { f32::NEG_INFINITY } else { loss };
                            }
                        }
                        done[i] = hit;
                    }
                    if it > 0 {
                        oracle.stats.iterations += 1;
                    }
                }
            }
        }
        Ok((tensor_of(model, out)?, oracle.stats))
    }
}

/// The loss the search lowers, from one row of probabilities.
fn loss(goal: &Goal, row: usize, probs: &[f32]) -> f32 {
    let log = |p: f32| p.max(f32::MIN_POSITIVE).ln();
    match &goal.targets {
        Some(t) => -log(probs[t[row] as usize]),
        None => {
            let y = goal.labels[row] as usize;
            let other = probs
                .iter()
                .enumerate()
                .filter(|&(c, _)| c != y)
                .map(|(_, &p)| p)
                .fold(0.0f32, f32::max);
            log(probs[y]) - log(other)
        }
    }
}

/// What every proposal needs: the clean rows, the layout, the range and the bound.
struct Context<'a> {
    x: &'a [f32],
    d: usize,
    layout: Layout,
    range: [f32; 2],
    eps: f32,
}

/// Reused buffers for the L2 proposals.
#[derive(Default)]
struct Scratch {
    delta: Vec<f32>,
    patch: Vec<f32>,
    /// Bump shapes by (height, width, transposed).
    bumps: Vec<((usize, usize, bool), Vec<f32>)>,
}

/// A window: top-left corner and size, in a channel plane.
#[derive(Debug, Clone, Copy)]
struct Window {
    top: usize,
    left: usize,
    height: usize,
    width: usize,
}

impl Window {
    fn contains(&self, r: usize, c: usize) -> bool {
        (self.top..self.top + self.height).contains(&r)
            && (self.left..self.left + self.width).contains(&c)
    }

    /// Flat indices of the window's elements in channel `ch`, row by row.
    fn indices(&self, layout: Layout, ch: usize) -> impl Iterator<Item = usize> {
        let base = ch * layout.plane();
        let (w, left, width) = (layout.width, self.left, self.width);
        (self.top..self.top + self.height)
            .flat_map(move |r| (base + r * w + left)..(base + r * w + left + width))
    }
}

impl Context<'_> {
    fn clean(&self, i: usize) -> &[f32] {
        &self.x[i * self.d..][..self.d]
    }

    fn clip(&self, v: f32) -> f32 {
        v.clamp(self.range[0], self.range[1])
    }

    /// The window (height, width) for share `p`: the square whose area is `p` of the plane, or
    /// the run whose length is `p` of the vector. Linf windows keep at least one free row and
    /// column (the paper's bound, so that they can move); L2 windows are odd, at least 3 and
    /// at most the plane.
    fn side(&self, p: f32, norm: Norm) -> (usize, usize) {
        let l = self.layout;
        let (min, odd) = match norm {
            Norm::Linf => (1, false),
            Norm::L2 => (3, true),
        };
        let raw = if l.is_flat() {
            (f64::from(p) * l.width as f64).round() as usize
        } else {
            (f64::from(p) * l.plane() as f64).sqrt().round() as usize
        };
        let mut s = raw.max(min);
        if odd && s % 2 == 0 {
            s += 1;
        }
        let cap = if l.is_flat() {
            l.width
        } else {
            l.height.min(l.width)
        };
        let cap = match norm {
            Norm::Linf => cap.saturating_sub(1).max(1),
            Norm::L2 => cap,
        };
        let s = s.min(cap).max(1);
        if l.is_flat() { (1, s) } else { (s, s) }
    }

    fn place(&self, (height, width): (usize, usize), rng: &mut Rng) -> Window {
        let l = self.layout;
        Window {
            top: rng.below(l.height - height + 1),
            left: rng.below(l.width - width + 1),
            height,
            width,
        }
    }

    /// Linf initialisation: vertical stripes, one random sign of size eps per channel and
    /// column (per feature for flat vectors).
    fn stripes(&self, i: usize, out: &mut [f32], rng: &mut Rng) {
        let x = self.clean(i);
        let l = self.layout;
        for ch in 0..l.channels {
            for col in 0..l.width {
                let s = sign(rng) * self.eps;
                for r in 0..l.height {
                    let e = ch * l.plane() + r * l.width + col;
                    out[e] = self.clip(x[e] + s);
                }
            }
        }
    }

    /// Linf proposal: one window set to `x ± eps` with one sign per channel, redrawn (up to ten
    /// times) when it would leave the current row unchanged.
    fn linf_step(&self, i: usize, cur: &[f32], p: f32, out: &mut [f32], rng: &mut Rng) {
        let x = self.clean(i);
        out.copy_from_slice(cur);
        let window = self.place(self.side(p, Norm::Linf), rng);
        for _ in 0..10 {
            let mut changed = false;
            for ch in 0..self.layout.channels {
                let s = sign(rng) * self.eps;
                for e in window.indices(self.layout, ch) {
                    let v = self.clip(x[e] + s);
                    changed |= (v - cur[e]).abs() >= 1e-7;
                    out[e] = v;
                }
            }
            if changed {
                break;
            }
        }
    }

    /// L2 initialisation: a grid of tiles, each an opposite-signed pair of bumps with a random
    /// sign per channel, scaled to norm eps.
    fn tiles(&self, i: usize, out: &mut [f32], rng: &mut Rng, scratch: &mut Scratch) {
        let x = self.clean(i);
        let l = self.layout;
        let (th, tw) = if l.is_flat() {
            (1, (l.width / 5).max(1))
        } else {
            let t = (l.height.min(l.width) / 5).max(1);
            (t, t)
        };
        let starts = |len: usize, t: usize| {
            let first = len.saturating_sub(5 * t) / 2;
            (0..)
                .map(move |k| first + k * t)
                .take_while(move |&s| s + t <= len)
        };
        let mut delta = std::mem::take(&mut scratch.delta);
        delta.clear();
        delta.resize(self.d, 0.0);
        for top in starts(l.height, th) {
            for left in starts(l.width, tw) {
                let transposed = th == tw && rng.below(2) == 1;
                let bump = scratch.bump(th, tw, transposed);
                let window = Window {
                    top,
                    left,
                    height: th,
                    width: tw,
                };
                for ch in 0..l.channels {
                    let s = sign(rng);
                    for (e, &b) in window.indices(l, ch).zip(bump) {
                        delta[e] += s * b;
                    }
                }
            }
        }
        let scale = self.eps / l2(&delta).max(1e-12);
        for ((o, &xi), &di) in out.iter_mut().zip(x).zip(&delta) {
            *o = self.clip(xi + di * scale);
        }
        scratch.delta = delta;
    }

    /// L2 proposal (the paper's): a new bump pair in window 1 that also takes over the mass of
    /// window 2 and the unused part of the budget, window 2 cleared, the whole perturbation
    /// rescaled to norm eps.
    fn l2_step(
        &self,
        i: usize,
        cur: &[f32],
        p: f32,
        out: &mut [f32],
        rng: &mut Rng,
        scratch: &mut Scratch,
    ) {
        let x = self.clean(i);
        let l = self.layout;
        let size = self.side(p, Norm::L2);
        let w1 = self.place(size, rng);
        let w2 = self.place(size, rng);
        let transposed = size.0 == size.1 && rng.below(2) == 1;
        let mut delta = std::mem::take(&mut scratch.delta);
        let mut patch = std::mem::take(&mut scratch.patch);
        delta.clear();
        delta.extend(cur.iter().zip(x).map(|(&c, &xi)| c - xi));
        let total2 = f64::from(l2(&delta)).powi(2);
        let spare = (f64::from(self.eps).powi(2) - total2).max(0.0) / l.channels as f64;
        let bump = scratch.bump(size.0, size.1, transposed);
        for ch in 0..l.channels {
            let s = sign(rng);
            let mut in1 = 0.0f64;
            patch.clear();
            for e in w1.indices(l, ch) {
                in1 += f64::from(delta[e]).powi(2);
                patch.push(delta[e]);
            }
            let mut only2 = 0.0f64;
            let base = ch * l.plane();
            for e in w2.indices(l, ch) {
                let (r, c) = ((e - base) / l.width, (e - base) % l.width);
                if !w1.contains(r, c) {
                    only2 += f64::from(delta[e]).powi(2);
                }
            }
            let n1 = in1.sqrt() as f32 + 1e-10;
            for (v, &b) in patch.iter_mut().zip(bump) {
                *v = s * b + *v / n1;
            }
            let scale = ((spare + in1 + only2).sqrt() / f64::from(l2(&patch)).max(1e-12)) as f32;
            for e in w2.indices(l, ch) {
                delta[e] = 0.0;
            }
            for (e, &v) in w1.indices(l, ch).zip(&patch) {
                delta[e] = v * scale;
            }
        }
        let norm = l2(&delta);
        let scale = if norm > 0.0 { self.eps / norm } else { 0.0 };
        for ((o, &xi), &di) in out.iter_mut().zip(x).zip(&delta) {
            *o = self.clip(xi + di * scale);
        }
        scratch.delta = delta;
        scratch.patch = patch;
    }
}

impl Scratch {
    /// The paper's pseudo-Gaussian pair for a window of `h x w`: the window split in two halves
    /// (top and bottom for squares, left and right for 1-D runs), a bump of nested rectangles
    /// weighted `1/(k+1)^2` in each, the second one negated, unit L2 norm overall. Cached.
    fn bump(&mut self, h: usize, w: usize, transposed: bool) -> &[f32] {
        let key = (h, w, transposed);
        if let Some(pos) = self.bumps.iter().position(|(k, _)| *k == key) {
            return &self.bumps[pos].1;
        }
        let mut v = vec![0.0f32; h * w];
        if h >= 2 {
            let top = h / 2;
            add_rectangles(&mut v, w, 0, top, w, 1.0);
            add_rectangles(&mut v, w, top, h - top, w, -1.0);
        } else if w >= 2 {
            let left = w / 2;
            add_rectangles(&mut v[..left], left, 0, 1, left, 1.0);
            add_rectangles(&mut v[left..], w - left, 0, 1, w - left, -1.0);
        } else {
            v[0] = 1.0;
        }
        let n = l2(&v).max(1e-12);
        for a in &mut v {
            *a /= n;
        }
        if transposed {
            let mut t = vec![0.0; h * w];
            for r in 0..h {
                for c in 0..w {
                    t[c * h + r] = v[r * w + c];
                }
            }
            v = t;
        }
        self.bumps.push((key, v));
        &self.bumps.last().expect("just pushed").1
    }
}

/// Adds to rows `[top, top + rows)` of the `stride`-wide buffer `v` a bump of `rows x cols` made
/// of rectangles growing from its centre, the k-th weighted `1/(k+1)^2`, normalised to unit
/// norm and multiplied by `sign`.
fn add_rectangles(v: &mut [f32], stride: usize, top: usize, rows: usize, cols: usize, sign: f32) {
    if rows == 0 || cols == 0 {
        return;
    }
    let mut bump = vec![0.0f32; rows * cols];
    let (cr, cc) = (rows / 2, cols / 2);
    for k in 0..=cr.max(cc) {
        let (r0, r1) = (cr.saturating_sub(k), (cr + k + 1).min(rows));
        let (c0, c1) = (cc.saturating_sub(k), (cc + k + 1).min(cols));
        let weight = 1.0 / ((k + 1) * (k + 1)) as f32;
        for r in r0..r1 {
            for b in &mut bump[r * cols + c0..r * cols + c1] {
                *b += weight;
            }
        }
    }
    let n = l2(&bump).max(1e-12);
    for r in 0..rows {
        for c in 0..cols {
            v[(top + r) * stride + c] += sign * bump[r * cols + c] / n;
        }
    }
}

impl EvasionAttack for Square {
    fn name(&self) -> &'static str {
        "square"
    }

    fn access(&self) -> Access {
        Access::Scores
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
        Ok(self.run(model, x, goal, rng)?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_halves_on_the_papers_schedule() {
        let mut s = Square::new(Norm::Linf, 0.1).unwrap();
        s.max_iter = 10_000;
        s.p_init = 0.8;
        assert!((s.share(0) - 0.8).abs() < 1e-7);
        assert!((s.share(10) - 0.8).abs() < 1e-7);
        assert!((s.share(11) - 0.4).abs() < 1e-7);
        assert!((s.share(50) - 0.4).abs() < 1e-7);
        assert!((s.share(51) - 0.2).abs() < 1e-7);
        assert!((s.share(9_999) - 0.8 / 512.0).abs() < 1e-9);
        s.max_iter = 100;
        assert!((s.share(0) - 0.8).abs() < 1e-7);
        assert!((s.share(1) - 0.2).abs() < 1e-7);
        assert!((s.share(2) - 0.2).abs() < 1e-7);
        assert!((s.share(3) - 0.1).abs() < 1e-7);
        assert!((s.share(99) - 0.8 / 512.0).abs() < 1e-9);
    }

    #[test]
    fn bumps_are_unit_and_signed_halves() {
        let mut scratch = Scratch::default();
        for (h, w) in [(5, 5), (7, 7), (1, 9), (1, 1), (3, 3)] {
            let b = scratch.bump(h, w, false).to_vec();
            assert!((l2(&b) - 1.0).abs() < 1e-5, "{h}x{w}");
            if h * w > 1 {
                assert!(b[0] > 0.0 && b[h * w - 1] < 0.0, "{h}x{w}: {b:?}");
                let sum: f32 = b.iter().sum();
                assert!(sum.abs() < 0.5, "{h}x{w}: halves nearly cancel");
            }
            let t = scratch.bump(h, w, true).to_vec();
            if h == w && h > 1 {
                assert!((t[1] - b[w]).abs() < 1e-7);
            }
        }
    }

    #[test]
    fn windows_stay_inside_and_below_the_plane() {
        let ctx = Context {
            x: &[],
            d: 64,
            layout: Layout::of(&[1, 8, 8]),
            range: [0.0, 1.0],
            eps: 0.1,
        };
        assert_eq!(ctx.side(0.8, Norm::Linf), (7, 7));
        assert_eq!(ctx.side(1.0, Norm::Linf), (7, 7));
        assert_eq!(ctx.side(0.001, Norm::Linf), (1, 1));
        assert_eq!(ctx.side(0.8, Norm::L2), (7, 7));
        assert_eq!(ctx.side(0.05, Norm::L2), (3, 3));
        let mut rng = Rng::new(1);
        for _ in 0..200 {
            let w = ctx.place((7, 7), &mut rng);
            assert!(w.top <= 1 && w.left <= 1);
            assert!(w.indices(ctx.layout, 0).all(|e| e < 64));
        }
        let flat = Context {
            layout: Layout::of(&[20]),
            d: 20,
            ..ctx
        };
        assert_eq!(flat.side(0.5, Norm::Linf), (1, 10));
        assert_eq!(flat.side(1.0, Norm::Linf), (1, 19));
    }
}
