//! Feature squeezing (Xu, Evans & Qi, NDSS 2018): an input whose prediction moves a lot when its
//! features are coarsened is likely adversarial. Each squeezer (bit-depth reduction, median
//! smoothing) makes a coarser copy; the score of a row is the largest L1 distance between the
//! model's probabilities on the row and on any of its copies. The threshold is set on clean rows
//! for a chosen false-positive rate.
//!
//! Squeezers follow the paper's code: bit depth `b` maps each feature, scaled to `[0, 1]` by the
//! input range, to `rint(v·(2^b - 1)) / (2^b - 1)` (ties to even, as numpy's `rint`); the median
//! filter takes a `size x size` window per channel whose centre sits at offset `size / 2` (so a
//! 2x2 window covers the pixel and its upper-left neighbours), reflects at the borders
//! (`d c b a | a b c d`), and takes the upper median for even windows, as scipy's
//! `median_filter` does. Median smoothing needs image inputs `[C, H, W]`.

use aisec_ml::Classifier;
use aisec_ml::candle::{D, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{AttackError, Result};

/// One way to coarsen an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Squeezer {
    /// Keep `bits` bits per feature (1..=16).
    BitDepth {
        /// Bits kept.
        bits: u32,
    },
    /// Median over a `size x size` window in each channel (2..=9; images only).
    Median {
        /// Window side.
        size: usize,
    },
}

impl Squeezer {
    fn validate(self, input_shape: &[usize]) -> Result<()> {
        match self {
            Self::BitDepth { bits } if !(1..=16).contains(&bits) => Err(AttackError::Parameter(
                format!("bit depth {bits} must lie in 1..=16"),
            )),
            Self::Median { size } if !(2..=9).contains(&size) => Err(AttackError::Parameter(
                format!("median window {size} must lie in 2..=9"),
            )),
            Self::Median { .. } if input_shape.len() != 3 => Err(AttackError::Parameter(format!(
                "median smoothing needs image inputs [channels, height, width], not {input_shape:?}"
            ))),
            _ => Ok(()),
        }
    }

    /// The squeezed copy of a batch `x` `[N, ...input_shape]` whose features lie in `range`.
    pub fn apply(self, x: &Tensor, range: [f32; 2]) -> Result<Tensor> {
        self.validate(&x.dims()[1..])?;
        let data = x.flatten_all()?.to_vec1::<f32>()?;
        let out = match self {
            Self::BitDepth { bits } => {
                let [lo, hi] = range;
                let span = (hi - lo).max(f32::MIN_POSITIVE);
                let levels = ((1u32 << bits) - 1) as f32;
                data.iter()
                    .map(|&v| {
                        let u = ((v - lo) / span).clamp(0.0, 1.0);
                        lo + span * ((u * levels).round_ties_even() / levels)
                    })
                    .collect()
            }
            Self::Median { size } => {
                let (n, c, h, w) = x.dims4()?;
                median_filter(&data, n * c, h, w, size)
            }
        };
        Ok(Tensor::from_vec(out, x.shape(), x.device())?)
    }
}

/// scipy's `median_filter(size, mode="reflect")` over each of `planes` `h x w` planes.
fn median_filter(data: &[f32], planes: usize, h: usize, w: usize, size: usize) -> Vec<f32> {
    let reflect = |i: isize, n: usize| -> usize {
        let n = n as isize;
        // Reflection about the edge, repeated for windows wider than the plane.
        let period = 2 * n;
        let mut i = i.rem_euclid(period);
        if i >= n {
            i = period - 1 - i;
        }
        i as usize
    };
    let before = (size / 2) as isize;
    let rank = size * size / 2;
    let mut out = vec![0f32; data.len()];
    let mut window = Vec::with_capacity(size * size);
    for p in 0..planes {
        let plane = &data[p * h * w..(p + 1) * h * w];
        for y in 0..h {
            for x in 0..w {
                window.clear();
                for dy in 0..size as isize {
                    let yy = reflect(y as isize + dy - before, h);
                    for dx in 0..size as isize {
                        let xx = reflect(x as isize + dx - before, w);
                        window.push(plane[yy * w + xx]);
                    }
                }
                let (_, m, _) = window.select_nth_unstable_by(rank, f32::total_cmp);
                out[p * h * w + y * w + x] = *m;
            }
        }
    }
    out
}

/// The detector: squeezers and a threshold on the score.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeatureSqueezing {
    /// The squeezers; a row's score is the largest distance over them.
    pub squeezers: Vec<Squeezer>,
    /// Rows scoring above it are flagged; set by [`FeatureSqueezing::calibrate`].
    pub threshold: Option<f32>,
}

/// What the detector says about a batch.
#[derive(Debug, Clone, Serialize)]
pub struct Detection {
    /// Each row's score.
    pub scores: Vec<f32>,
    /// Each row flagged as adversarial.
    pub flagged: Vec<bool>,
}

/// Detection measured on clean and adversarial rows.
#[derive(Debug, Clone, Serialize)]
pub struct DetectionReport {
    /// The threshold used.
    pub threshold: f32,
    /// Share of the adversarial rows flagged.
    pub detection_rate: f64,
    /// Share of the clean rows flagged.
    pub false_positive_rate: f64,
    /// Adversarial rows judged.
    pub adversarial_rows: usize,
    /// Clean rows judged.
    pub clean_rows: usize,
}

impl FeatureSqueezing {
    /// A detector with the given squeezers, not yet calibrated.
    pub fn new(squeezers: Vec<Squeezer>) -> Result<Self> {
        if squeezers.is_empty() {
            return Err(AttackError::Parameter(
                "feature squeezing needs at least one squeezer".into(),
            ));
        }
        Ok(Self {
            squeezers,
            threshold: None,
        })
    }

    /// The paper's settings for an input shape: 1-bit depth and a 2x2 median for one-channel
    /// images (its MNIST setting), 5-bit depth and a 2x2 median for colour images (CIFAR-10),
    /// 5-bit depth alone for feature vectors.
    #[must_use]
    pub fn for_input(input_shape: &[usize]) -> Self {
        let squeezers = match input_shape {
            [1, _, _] => vec![Squeezer::BitDepth { bits: 1 }, Squeezer::Median { size: 2 }],
            [_, _, _] => vec![Squeezer::BitDepth { bits: 5 }, Squeezer::Median { size: 2 }],
            _ => vec![Squeezer::BitDepth { bits: 5 }],
        };
        Self {
            squeezers,
            threshold: None,
        }
    }

    /// Each row's score: the largest L1 distance between the probabilities on the row and on a
    /// squeezed copy. Costs `1 + squeezers` predictions per row.
    pub fn scores(&self, model: &dyn Classifier, x: &Tensor) -> Result<Vec<f32>> {
        let range = model.info().input_range;
        let p = model.predict(x)?;
        let mut best: Option<Tensor> = None;
        for s in &self.squeezers {
            let d = (&p - model.predict(&s.apply(x, range)?)?)?
                .abs()?
                .sum(D::Minus1)?;
            best = Some(match best {
                None => d,
                Some(b) => b.maximum(&d)?,
            });
        }
        Ok(best
            .ok_or_else(|| AttackError::Parameter("no squeezers".into()))?
            .to_vec1::<f32>()?)
    }

    /// Sets the threshold so that a share `fpr` of `clean` rows score above it (the
    /// `floor(fpr·n) + 1`-th highest clean score), and returns it.
    pub fn calibrate(&mut self, model: &dyn Classifier, clean: &Tensor, fpr: f64) -> Result<f32> {
        if !(0.0..1.0).contains(&fpr) {
            return Err(AttackError::Parameter(format!(
                "false-positive rate {fpr} must lie in [0, 1)"
            )));
        }
        let mut scores = self.scores(model, clean)?;
        if scores.is_empty() {
            return Err(AttackError::Parameter(
                "calibration needs clean rows".into(),
            ));
        }
        scores.sort_by(|a, b| b.total_cmp(a));
        let allowed = (fpr * scores.len() as f64).floor() as usize;
        let threshold = scores[allowed.min(scores.len() - 1)];
        self.threshold = Some(threshold);
        Ok(threshold)
    }

    /// Scores and flags each row of `x`.
    pub fn detect(&self, model: &dyn Classifier, x: &Tensor) -> Result<Detection> {
        let threshold = self.threshold.ok_or_else(|| {
            AttackError::Parameter("feature squeezing must be calibrated before detecting".into())
        })?;
        let scores = self.scores(model, x)?;
        let flagged = scores.iter().map(|&s| s > threshold).collect();
        Ok(Detection { scores, flagged })
    }

    /// Detection rate on `adversarial` rows and false-positive rate on `clean` rows.
    pub fn evaluate(
        &self,
        model: &dyn Classifier,
        clean: &Tensor,
        adversarial: &Tensor,
    ) -> Result<DetectionReport> {
        let share = |d: &Detection| {
            if d.flagged.is_empty() {
                0.0
            } else {
                d.flagged.iter().filter(|&&f| f).count() as f64 / d.flagged.len() as f64
            }
        };
        let on_clean = self.detect(model, clean)?;
        let on_adv = self.detect(model, adversarial)?;
        Ok(DetectionReport {
            threshold: self.threshold.unwrap_or(f32::NAN),
            detection_rate: share(&on_adv),
            false_positive_rate: share(&on_clean),
            adversarial_rows: on_adv.flagged.len(),
            clean_rows: on_clean.flagged.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aisec_ml::Device;

    #[test]
    #[allow(clippy::float_cmp)] // The squeezed values are exact.
    fn bit_depth_rounds_ties_to_even_and_median_matches_scipy() {
        let x =
            Tensor::from_vec(vec![0.0f32, 0.2, 0.5, 0.7, 1.0, 0.49], (1, 6), &Device::Cpu).unwrap();
        let y = Squeezer::BitDepth { bits: 1 }
            .apply(&x, [0.0, 1.0])
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(y[0], vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0]);

        // a = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]; a 2x2 window covers the pixel and its
        // upper-left neighbours, reflected at the border, and takes the upper median.
        let a: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let out = median_filter(&a, 1, 3, 3, 2);
        // Window of (0,0): rows -1..0 -> 0,0 ; cols -1..0 -> 0,0: all `1` -> 1.
        // Window of (1,1): {1, 2, 4, 5} sorted, index 2 -> 4.
        // Window of (2,2): {5, 6, 8, 9} -> 8. Window of (0,2): {2, 3, 2, 3} -> 3.
        assert_eq!([out[0], out[4], out[8], out[2]], [1.0, 4.0, 8.0, 3.0]);
        // A 3x3 window is the plain median with reflected borders.
        let out3 = median_filter(&a, 1, 3, 3, 3);
        assert_eq!(out3[3..6], [4.0, 5.0, 6.0]);
    }
}
