//! Linear models on embeddings, trained here in f64 with no sampling: the binary logistic
//! regression behind the red team's refusal judge and the guard's injection classifier, with
//! what measuring them needs (confusion counts, stratified folds).

use crate::error::{LlmError, Result};

/// Training settings of [`Logistic::fit`].
#[derive(Debug, Clone, Copy)]
pub struct FitOptions {
    /// L2 penalty on the weights (not the bias).
    pub l2: f64,
    /// Most gradient steps.
    pub max_steps: usize,
    /// Stop when the gradient's largest component is below this.
    pub tolerance: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            l2: 1e-2,
            max_steps: 2_000,
            tolerance: 1e-6,
        }
    }
}

/// A binary logistic regression, trained in f64 by accelerated (Nesterov) gradient descent on
/// the class-balanced log loss with an L2 penalty. Deterministic: no sampling.
#[derive(Debug, Clone, PartialEq)]
pub struct Logistic {
    /// One weight per feature.
    pub weights: Vec<f64>,
    /// The intercept.
    pub bias: f64,
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl Logistic {
    /// Fits `labels` from the feature rows `x` (all the same length).
    ///
    /// # Errors
    /// [`LlmError::Config`] when there are no rows, the rows differ in length, a value is not
    /// finite, or one class is missing.
    pub fn fit(x: &[Vec<f64>], labels: &[bool], options: FitOptions) -> Result<Self> {
        Self::fit_inner(x, labels, &vec![1.0; x.len()], options, false)
    }

    /// [`Logistic::fit`] with a weight per row (a row of weight 3 counts as three copies of
    /// it; the class balance is still by row count).
    ///
    /// # Errors
    /// As [`Logistic::fit`], and when `weights` is not one finite non-negative number per row.
    ///
    /// Its step comes from the mean of the rows' weighted curvature (the trace of the Hessian
    /// bound, no smaller than its largest eigenvalue), where [`Logistic::fit`] takes the largest
    /// row's: with a few heavy rows the mean gives far longer steps, so it converges in the
    /// same number of steps.
    pub fn fit_weighted(
        x: &[Vec<f64>],
        labels: &[bool],
        weights: &[f64],
        options: FitOptions,
    ) -> Result<Self> {
        Self::fit_inner(x, labels, weights, options, true)
    }

    fn fit_inner(
        x: &[Vec<f64>],
        labels: &[bool],
        weights: &[f64],
        options: FitOptions,
        mean_curvature: bool,
    ) -> Result<Self> {
        let n = x.len();
        if weights.len() != n || weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return Err(LlmError::Config(
                "logistic regression needs one finite non-negative weight per row".into(),
            ));
        }
        let dim = x.first().map_or(0, Vec::len);
        if n == 0 || dim == 0 || labels.len() != n {
            return Err(LlmError::Config(
                "logistic regression needs rows of features and one label per row".into(),
            ));
        }
        if x.iter()
            .any(|r| r.len() != dim || r.iter().any(|v| !v.is_finite()))
        {
            return Err(LlmError::Config(
                "feature rows differ in length or hold a non-finite value".into(),
            ));
        }
        let positives = labels.iter().filter(|l| **l).count();
        if positives == 0 || positives == n {
            return Err(LlmError::Config(
                "training needs examples of both classes".into(),
            ));
        }
        #[allow(clippy::cast_precision_loss)]
        let (nf, pos, neg) = (n as f64, positives as f64, (n - positives) as f64);
        // Balanced weights: each class counts as half the data.
        let class_weight = |l: bool| {
            if l {
                nf / (2.0 * pos)
            } else {
                nf / (2.0 * neg)
            }
        };
        // A step of 1/L, with L a bound on the loss's curvature: 1/4 of the largest weighted
        // squared row norm (plus the bias's 1), plus the penalty.
        let row_curvature = x.iter().zip(labels).zip(weights).map(|((r, &l), sw)| {
            sw * class_weight(l) * (1.0 + r.iter().map(|v| v * v).sum::<f64>())
        });
        let curvature = if mean_curvature {
            row_curvature.sum::<f64>() / nf
        } else {
            row_curvature.fold(0.0f64, f64::max)
        };
        let step = 1.0 / (0.25 * curvature + options.l2);
        let mut w = vec![0.0; dim];
        let mut b = 0.0;
        let (mut prev_w, mut prev_b) = (w.clone(), b);
        let mut grad = vec![0.0; dim];
        for t in 0..options.max_steps {
            // Look-ahead point.
            #[allow(clippy::cast_precision_loss)]
            let momentum = t as f64 / (t as f64 + 3.0);
            let look: Vec<f64> = w
                .iter()
                .zip(&prev_w)
                .map(|(a, p)| a + momentum * (a - p))
                .collect();
            let look_b = b + momentum * (b - prev_b);
            grad.fill(0.0);
            let mut grad_b = 0.0;
            for ((r, &l), sw) in x.iter().zip(labels).zip(weights) {
                let z = look_b + r.iter().zip(&look).map(|(v, w)| v * w).sum::<f64>();
                let err = sw * class_weight(l) * (sigmoid(z) - if l { 1.0 } else { 0.0 }) / nf;
                grad_b += err;
                for (g, v) in grad.iter_mut().zip(r) {
                    *g += err * v;
                }
            }
            let mut largest = grad_b.abs();
            for (g, w) in grad.iter_mut().zip(&look) {
                *g += options.l2 * w;
                largest = largest.max(g.abs());
            }
            prev_w.clone_from(&w);
            prev_b = b;
            for ((w, l), g) in w.iter_mut().zip(&look).zip(&grad) {
                *w = l - step * g;
            }
            b = look_b - step * grad_b;
            if largest < options.tolerance {
                break;
            }
        }
        Ok(Self {
            weights: w,
            bias: b,
        })
    }

    /// The probability of the positive class for one feature row.
    #[must_use]
    pub fn probability(&self, row: &[f64]) -> f64 {
        sigmoid(
            self.bias
                + self
                    .weights
                    .iter()
                    .zip(row)
                    .map(|(w, v)| w * v)
                    .sum::<f64>(),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring a judge

/// Counts of a binary judgement against labels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confusion {
    /// Positives judged positive.
    pub true_positives: usize,
    /// Negatives judged positive.
    pub false_positives: usize,
    /// Negatives judged negative.
    pub true_negatives: usize,
    /// Positives missed.
    pub false_negatives: usize,
}

impl Confusion {
    /// Counts `probabilities >= threshold` against `labels`.
    #[must_use]
    pub fn count(probabilities: &[f64], labels: &[bool], threshold: f64) -> Self {
        let mut c = Self::default();
        for (p, l) in probabilities.iter().zip(labels) {
            match (*p >= threshold, *l) {
                (true, true) => c.true_positives += 1,
                (true, false) => c.false_positives += 1,
                (false, false) => c.true_negatives += 1,
                (false, true) => c.false_negatives += 1,
            }
        }
        c
    }

    /// Of the rows judged positive, the share that are (1 when none were).
    #[must_use]
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    /// Of the positives, the share found (1 when there were none).
    #[must_use]
    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }

    /// The harmonic mean of precision and recall.
    #[must_use]
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

#[allow(clippy::cast_precision_loss)]
fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// Assigns each row one of `k` folds so that each class is spread evenly (stratified), in an
/// order shuffled by `seed`. A `k` of 0 counts as 1.
#[must_use]
pub fn stratified_folds(labels: &[bool], k: usize, seed: u64) -> Vec<usize> {
    let k = k.max(1);
    let mut folds = vec![0; labels.len()];
    let mut state = seed;
    for class in [false, true] {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        // Fisher-Yates with splitmix64.
        for i in (1..idx.len()).rev() {
            let r = splitmix64(&mut state);
            let j = usize::try_from(r % (i as u64 + 1)).unwrap_or(0);
            idx.swap(i, j);
        }
        for (n, i) in idx.into_iter().enumerate() {
            folds[i] = n % k;
        }
    }
    folds
}

/// SplitMix64: the next number of the sequence `state` seeds (the folds' and the training
/// fillers' shuffles).
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_regression_separates_and_refuses_bad_input() {
        let x: Vec<Vec<f64>> = (0..40)
            .map(|i| {
                let t = f64::from(i) / 40.0;
                vec![t, 1.0 - t]
            })
            .collect();
        let y: Vec<bool> = (0..40).map(|i| i >= 20).collect();
        let m = Logistic::fit(&x, &y, FitOptions::default()).unwrap();
        assert!(m.probability(&[0.95, 0.05]) > 0.7);
        assert!(m.probability(&[0.05, 0.95]) < 0.3);
        assert!(Logistic::fit(&x, &[true; 40], FitOptions::default()).is_err());
        assert!(Logistic::fit(&[], &[], FitOptions::default()).is_err());
        assert!(Logistic::fit(&[vec![f64::NAN]], &[true], FitOptions::default()).is_err());
    }

    #[test]
    fn folds_are_stratified_and_seeded() {
        let labels: Vec<bool> = (0..103).map(|i| i % 3 == 0).collect();
        let f = stratified_folds(&labels, 5, 7);
        assert_eq!(f, stratified_folds(&labels, 5, 7));
        assert_ne!(f, stratified_folds(&labels, 5, 8));
        for k in 0..5 {
            let pos = (0..103).filter(|&i| f[i] == k && labels[i]).count();
            let all = (0..103).filter(|&i| f[i] == k).count();
            assert!((6..=7).contains(&pos), "fold {k}: {pos} positives");
            assert!((20..=21).contains(&all), "fold {k}: {all} rows");
        }
        let c = Confusion::count(&[0.9, 0.2, 0.6, 0.1], &[true, true, false, false], 0.5);
        assert_eq!(
            (c.true_positives, c.false_negatives, c.false_positives),
            (1, 1, 1)
        );
        assert!((c.precision() - 0.5).abs() < 1e-12 && (c.f1() - 0.5).abs() < 1e-12);
    }
}
