//! STRIP (Gao et al., ACSAC 2019): an input that carries a backdoor trigger keeps its (target)
//! prediction when another image is superimposed on it, because the trigger dominates whatever
//! else is in the picture; a clean input's prediction falls apart. So the entropy of the
//! predictions over superimposed copies is low for triggered inputs and high for clean ones.
//!
//! Each input is superimposed on `overlays` clean images drawn (seeded, without replacement when
//! there are enough) from the clean set: `clip(x + o - lo)`, the images added on top of the low
//! end of the input range and clipped to it, as the paper adds pictures. The input's score is the
//! mean Shannon entropy (bits) of the model's predicted distribution over those copies. The
//! threshold is the clean inputs' entropy at the chosen false-rejection rate (each clean input
//! scored against the other clean images), and an input below it is flagged.
//!
//! Only the black-box `predict` face is used: every superimposed copy is one counted query.

use std::time::Instant;

use aisec_ml::candle::Tensor;
use aisec_ml::{Classifier, Queries, Rng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{AttackError, Result};

/// Most input values per `predict` call (superimposed rows times the input size): 16 MiB of f32.
const VALUES_PER_CALL: usize = 4 << 20;

/// Most overlays per input: each is a model query, and a batch holds every overlay of an input.
pub const MAX_OVERLAYS: usize = 10_000;

/// STRIP's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Strip {
    /// Clean images superimposed on each input (the paper's N).
    pub overlays: usize,
    /// The share of clean inputs the threshold may reject.
    pub false_rejection_rate: f64,
    /// Seed of the overlay draws.
    pub seed: u64,
}

impl Default for Strip {
    fn default() -> Self {
        Self {
            overlays: 100,
            false_rejection_rate: 0.01,
            seed: 0,
        }
    }
}

/// What STRIP found.
#[derive(Debug, Clone, Serialize)]
pub struct StripReport {
    /// The settings used.
    pub settings: Strip,
    /// Inputs below this entropy (bits) are flagged.
    pub threshold: f64,
    /// Each clean input's entropy, in input order.
    pub clean_entropies: Vec<f64>,
    /// The share of clean inputs the threshold rejects (at most the chosen rate, ties aside).
    pub clean_rejected: f64,
    /// Each checked input's entropy, in input order.
    pub entropies: Vec<f64>,
    /// The positions of the flagged inputs.
    pub flagged: Vec<usize>,
    /// The share of checked inputs flagged.
    pub flagged_share: f64,
    /// Model queries spent (one per superimposed copy).
    pub queries: Queries,
    /// Wall time, in seconds.
    pub seconds: f64,
}

/// A histogram of two samples over shared bins.
#[derive(Debug, Clone, Serialize)]
pub struct Histogram {
    /// `bins + 1` bin edges, ascending.
    pub edges: Vec<f64>,
    /// Counts of the first sample per bin.
    pub first: Vec<usize>,
    /// Counts of the second sample per bin.
    pub second: Vec<usize>,
}

impl StripReport {
    /// The clean and checked entropies over `bins` shared bins, for a chart.
    #[must_use]
    pub fn histogram(&self, bins: usize) -> Histogram {
        histogram(&self.clean_entropies, &self.entropies, bins)
    }
}

/// `a` and `b` counted over `bins` equal bins spanning both (the last bin closed).
#[must_use]
pub fn histogram(a: &[f64], b: &[f64], bins: usize) -> Histogram {
    let bins = bins.max(1);
    let (lo, hi) = a
        .iter()
        .chain(b)
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    let (lo, hi) = if lo.is_finite() {
        (lo, if hi > lo { hi } else { lo + 1.0 })
    } else {
        (0.0, 1.0)
    };
    let width = (hi - lo) / bins as f64;
    let edges = (0..=bins).map(|i| lo + width * i as f64).collect();
    let count = |values: &[f64]| {
        let mut c = vec![0usize; bins];
        for v in values.iter().filter(|v| v.is_finite()) {
            let i = (((v - lo) / width) as usize).min(bins - 1);
            c[i] += 1;
        }
        c
    };
    Histogram {
        edges,
        first: count(a),
        second: count(b),
    }
}

/// The Shannon entropy (bits) of each row of probabilities `[N, K]`.
fn row_entropies(probabilities: &Tensor) -> Result<Vec<f64>> {
    let rows = probabilities
        .to_dtype(aisec_ml::DType::F32)?
        .to_vec2::<f32>()?;
    Ok(rows
        .iter()
        .map(|row| {
            -row.iter()
                .map(|&p| f64::from(p))
                .filter(|&p| p > 0.0)
                .map(|p| p * p.log2())
                .sum::<f64>()
        })
        .collect())
}

impl Strip {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if self.overlays == 0 || self.overlays > MAX_OVERLAYS {
            return Err(AttackError::Parameter(format!(
                "STRIP takes 1 to {MAX_OVERLAYS} overlays per input, not {}",
                self.overlays
            )));
        }
        if !(self.false_rejection_rate >= 0.0 && self.false_rejection_rate < 1.0) {
            return Err(AttackError::Parameter(format!(
                "false-rejection rate {} must be in [0, 1)",
                self.false_rejection_rate
            )));
        }
        Ok(())
    }

    /// Scores the clean rows (each against the others) to set the threshold, then scores and
    /// judges `inputs`. Both are `[N, ...input_shape]` in the model's input range.
    pub fn run(
        &self,
        model: &dyn Classifier,
        clean: &Tensor,
        inputs: &Tensor,
    ) -> Result<StripReport> {
        self.validate()?;
        if clean.dim(0)? < 2 {
            return Err(AttackError::Parameter(
                "STRIP needs at least two clean inputs".into(),
            ));
        }
        let started = Instant::now();
        model.reset_queries();
        let clean_entropies = self.entropies(model, clean, clean, true)?;
        let threshold = threshold(&clean_entropies, self.false_rejection_rate);
        let entropies = self.entropies(model, inputs, clean, false)?;
        let flagged: Vec<usize> = (0..entropies.len())
            .filter(|&i| entropies[i] < threshold)
            .collect();
        let rejected = clean_entropies.iter().filter(|&&e| e < threshold).count();
        Ok(StripReport {
            settings: self.clone(),
            threshold,
            clean_rejected: rejected as f64 / clean_entropies.len() as f64,
            flagged_share: if entropies.is_empty() {
                0.0
            } else {
                flagged.len() as f64 / entropies.len() as f64
            },
            flagged,
            clean_entropies,
            entropies,
            queries: model.queries(),
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// The mean prediction entropy of each row of `inputs` over `overlays` superimposed clean
    /// images. With `exclude_self` (scoring the clean set itself), row `i` is never superimposed
    /// on clean image `i`.
    pub fn entropies(
        &self,
        model: &dyn Classifier,
        inputs: &Tensor,
        clean: &Tensor,
        exclude_self: bool,
    ) -> Result<Vec<f64>> {
        self.validate()?;
        let info = model.info();
        let n = inputs.dim(0)?;
        let pool = clean.dim(0)?;
        let sample = info.sample_len();
        for (what, t) in [("inputs", inputs), ("clean inputs", clean)] {
            let mut expected = vec![t.dim(0)?];
            expected.extend(&info.input_shape);
            if t.dims() != expected.as_slice() {
                return Err(AttackError::Parameter(format!(
                    "{what} of shape {:?}, the model expects [N, {:?}]",
                    t.dims(),
                    info.input_shape
                )));
            }
        }
        if pool == 0 || (exclude_self && pool < 2) {
            return Err(AttackError::Parameter(
                "STRIP needs clean inputs to superimpose".into(),
            ));
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        let [lo, hi] = info.input_range;
        let x = inputs
            .to_dtype(aisec_ml::DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let o = clean
            .to_dtype(aisec_ml::DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let k = self.overlays;
        let per_call = (VALUES_PER_CALL / (k * sample).max(1)).max(1);
        let starts: Vec<usize> = (0..n).step_by(per_call).collect();
        let parts: Vec<Vec<f64>> = starts
            .par_iter()
            .map(|&start| {
                let rows = per_call.min(n - start);
                let mut mixed = Vec::with_capacity(rows * k * sample);
                for i in start..start + rows {
                    let drawn = self.draw(i, pool, exclude_self);
                    let xi = &x[i * sample..(i + 1) * sample];
                    for j in drawn {
                        let oj = &o[j * sample..(j + 1) * sample];
                        mixed.extend(xi.iter().zip(oj).map(|(a, b)| (a + b - lo).clamp(lo, hi)));
                    }
                }
                let mut shape = vec![rows * k];
                shape.extend(&info.input_shape);
                let batch = Tensor::from_vec(mixed, shape.as_slice(), inputs.device())?;
                let h = row_entropies(&model.predict(&batch)?)?;
                Ok(h.chunks(k)
                    .map(|c| c.iter().sum::<f64>() / k as f64)
                    .collect())
            })
            .collect::<Result<_>>()?;
        Ok(parts.concat())
    }

    /// The clean images superimposed on input `i`: `overlays` positions out of `pool` (without
    /// `i` itself when `exclude_self`), without replacement when there are enough. Seeded by the
    /// input's position, so the draw does not depend on batching or threads.
    fn draw(&self, i: usize, pool: usize, exclude_self: bool) -> Vec<usize> {
        let salt = if exclude_self { 0x636c_6561_6e00 } else { 0 };
        let mut rng = Rng::new(
            self.seed
                ^ salt
                ^ (i as u64)
                    .wrapping_add(1)
                    .wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let candidates: Vec<usize> = (0..pool).filter(|&j| !(exclude_self && j == i)).collect();
        let k = self.overlays;
        if k <= candidates.len() {
            // A partial Fisher-Yates shuffle: the first k of a random permutation.
            let mut c = candidates;
            for s in 0..k {
                let t = s + rng.below(c.len() - s);
                c.swap(s, t);
            }
            c.truncate(k);
            c
        } else {
            (0..k)
                .map(|_| candidates[rng.below(candidates.len())])
                .collect()
        }
    }
}

/// The entropy below which at most `rate` of `clean` lies: the `floor(rate * n)`-th smallest
/// clean entropy (inputs strictly below it are flagged).
#[must_use]
pub fn threshold(clean: &[f64], rate: f64) -> f64 {
    let mut sorted: Vec<f64> = clean.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return 0.0;
    }
    sorted.sort_by(f64::total_cmp);
    let k = ((rate * sorted.len() as f64).floor() as usize).min(sorted.len() - 1);
    sorted[k]
}

#[cfg(test)]
mod tests {
    use super::{Strip, histogram, threshold};

    #[test]
    fn threshold_rejects_at_most_the_rate() {
        let clean: Vec<f64> = (0..200).map(f64::from).collect();
        let t = threshold(&clean, 0.05);
        assert!((t - 10.0).abs() < 1e-12);
        assert_eq!(clean.iter().filter(|&&e| e < t).count(), 10);
        // Fewer rows than 1 / rate: nothing rejected.
        assert!((threshold(&clean[..10], 0.01) - 0.0).abs() < 1e-12);
    }

    #[test]
    fn draws_are_seeded_distinct_and_skip_self() {
        let s = Strip {
            overlays: 5,
            ..Strip::default()
        };
        let a = s.draw(3, 10, true);
        assert_eq!(a, s.draw(3, 10, true));
        assert!(!a.contains(&3));
        let mut u = a.clone();
        u.sort_unstable();
        u.dedup();
        assert_eq!(u.len(), 5);
        // More overlays than images: drawn with replacement, still never itself.
        let many = Strip {
            overlays: 20,
            ..Strip::default()
        };
        let b = many.draw(0, 3, true);
        assert_eq!(b.len(), 20);
        assert!(b.iter().all(|&j| j == 1 || j == 2));
    }

    #[test]
    fn histogram_counts_every_value() {
        let h = histogram(&[0.0, 0.5, 1.0], &[0.25, 2.0], 4);
        assert_eq!(h.edges.len(), 5);
        assert_eq!(h.first.iter().sum::<usize>(), 3);
        assert_eq!(h.second.iter().sum::<usize>(), 2);
        assert_eq!(h.second[3], 1);
    }
}
