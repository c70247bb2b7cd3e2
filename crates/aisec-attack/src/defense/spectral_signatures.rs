//! Spectral signatures (Tran, Li & Madry, NeurIPS 2018): in the learned representation of one
//! class, poisoned rows move together along a direction that clean rows barely use, so they
//! stand out on the top singular vector of the class's centred representations.
//!
//! Per class (by training label): centre the rows' activations, take the top eigenvector `v`
//! of their covariance (the top right singular vector of the centred matrix), score each row by
//! its squared projection `((r - mean) . v)^2`, and remove the
//! `round(eps_multiplier * expected_poison_share * rows)` highest-scoring rows. As in the paper,
//! every class loses that many rows, clean or not: the method is a filter to retrain on, and
//! its precision is bounded by the share of classes that hold poison. `expected_poison_share`
//! is the share of the *poisoned class* expected to be poison (an upper estimate; the paper's
//! `eps`), not the share of the whole set.

use aisec_ml::Network;
use aisec_ml::candle::Tensor;
use serde::{Deserialize, Serialize};

use crate::defense::training_set::{
    ClassDetection, ClassRows, ClassVerdict, Detector, PoisonDetection, class_features,
};
use crate::error::{AttackError, Result};
use crate::linalg::Pca;

/// The detector's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpectralSignatures {
    /// The layer whose output is analysed (its index, as in [`Network::activations`]);
    /// `None`: the penultimate representation.
    pub layer: Option<usize>,
    /// The expected share of poison in a poisoned class, in (0, 1].
    pub expected_poison_share: f64,
    /// Rows removed per class, as a multiple of the expected poison (the paper uses 1.5).
    pub eps_multiplier: f64,
    /// Classes with fewer rows are not analysed (at least 2).
    pub min_rows: usize,
}

impl Default for SpectralSignatures {
    /// The paper's multiplier and the expected share IBM ART defaults to (0.33).
    fn default() -> Self {
        Self {
            layer: None,
            expected_poison_share: 0.33,
            eps_multiplier: 1.5,
            min_rows: 10,
        }
    }
}

impl SpectralSignatures {
    /// The share of the target class that is poison when `poison_rate` of a set of `classes`
    /// balanced classes is taken from the other classes and relabelled to the target (an
    /// all-to-one attack): `r K / (1 + r K)`. A guess at the rate gives
    /// [`SpectralSignatures::expected_poison_share`].
    #[must_use]
    pub fn class_share(poison_rate: f64, classes: usize) -> f64 {
        let rk = poison_rate.max(0.0) * classes as f64;
        rk / (1.0 + rk)
    }

    fn validate(&self) -> Result<()> {
        let share = self.expected_poison_share;
        if !(share > 0.0 && share <= 1.0) {
            return Err(AttackError::Parameter(format!(
                "expected poison share {share} must lie in (0, 1]"
            )));
        }
        if !(self.eps_multiplier > 0.0 && self.eps_multiplier.is_finite()) {
            return Err(AttackError::Parameter(format!(
                "eps multiplier {} must be positive",
                self.eps_multiplier
            )));
        }
        if self.min_rows < 2 {
            return Err(AttackError::Parameter(format!(
                "at least two rows per class are needed, not {}",
                self.min_rows
            )));
        }
        Ok(())
    }

    /// Scores the training rows `x` with `labels` in `net`'s representation.
    pub fn detect(&self, net: &Network, x: &Tensor, labels: &[u32]) -> Result<PoisonDetection> {
        self.validate()?;
        self.detect_features(&class_features(net, x, labels, self.layer)?)
    }

    /// [`SpectralSignatures::detect`] on activations already grouped by class.
    pub fn detect_features(&self, classes: &[ClassRows]) -> Result<PoisonDetection> {
        self.validate()?;
        let mut flagged = Vec::new();
        let mut reports = Vec::with_capacity(classes.len());
        for class in classes {
            let (report, rows) = self.class(class)?;
            flagged.extend(rows);
            reports.push(report);
        }
        flagged.sort_unstable();
        Ok(PoisonDetection {
            detector: Detector::SpectralSignatures,
            flagged,
            classes: reports,
        })
    }

    fn class(&self, class: &ClassRows) -> Result<(ClassDetection, Vec<usize>)> {
        let n = class.indices.len();
        let mut report = ClassDetection::new(class.class, n);
        if n < self.min_rows {
            return Ok((report, Vec::new()));
        }
        let pca = Pca::fit(&class.features, 1)?;
        let Some(top) = pca.components.first() else {
            // Identical rows: no direction to score along.
            report.verdict = ClassVerdict::Clean;
            report.cluster_sizes = vec![n, 0];
            return Ok((report, Vec::new()));
        };
        report.share = Some(pca.explained_variance[0] / pca.total_variance);
        let mut scores: Vec<(f64, usize)> = (0..n)
            .map(|i| {
                let p: f64 = class
                    .features
                    .row(i)
                    .iter()
                    .zip(&pca.mean)
                    .zip(top)
                    .map(|((r, m), v)| (r - m) * v)
                    .sum();
                (p * p, i)
            })
            .collect();
        scores.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let remove =
            ((self.eps_multiplier * self.expected_poison_share * n as f64).round() as usize).min(n);
        let rows: Vec<usize> = scores[..remove]
            .iter()
            .map(|&(_, i)| class.indices[i])
            .collect();
        report.score_cutoff = remove.checked_sub(1).map(|last| scores[last].0);
        report.cluster_sizes = vec![n - remove, remove];
        report.flagged = remove;
        report.verdict = if remove > 0 {
            ClassVerdict::Poisoned
        } else {
            ClassVerdict::Clean
        };
        Ok((report, rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defense::training_set::group_features;
    use aisec_ml::Rng;

    /// 90 clean rows spread isotropically in 6-D plus 10 rows shifted along one axis: the
    /// shifted rows score highest.
    #[test]
    fn the_shifted_rows_score_highest() {
        let mut rng = Rng::new(3);
        let mut data = Vec::new();
        for i in 0..100 {
            for d in 0..6 {
                let shift = if i >= 90 && d == 2 { 6.0 } else { 0.0 };
                data.push((rng.normal() + shift) as f32);
            }
        }
        let labels = vec![0u32; 100];
        let classes = group_features(&data, 6, &labels).unwrap();
        let ss = SpectralSignatures {
            expected_poison_share: 0.1,
            ..SpectralSignatures::default()
        };
        let d = ss.detect_features(&classes).unwrap();
        assert_eq!(d.flagged.len(), 15);
        assert!((90..100).all(|i| d.flagged.contains(&i)), "{:?}", d.flagged);
        assert_eq!(d.classes[0].cluster_sizes, vec![85, 15]);
        assert!(d.classes[0].share.unwrap() > 0.3);
    }

    #[test]
    fn class_share_of_an_all_to_one_attack() {
        // 5% of 400 rows in 4 classes: 20 poison rows join 100 of the target.
        assert!((SpectralSignatures::class_share(0.05, 4) - 20.0 / 120.0).abs() < 1e-12);
        assert!((SpectralSignatures::class_share(0.1, 10) - 0.5).abs() < 1e-12);
        assert!(SpectralSignatures::class_share(0.0, 10).abs() < f64::MIN_POSITIVE);
    }

    #[test]
    fn settings_are_checked() {
        let classes = group_features(&[0.0; 4], 2, &[0, 0]).unwrap();
        for bad in [
            SpectralSignatures {
                expected_poison_share: 0.0,
                ..SpectralSignatures::default()
            },
            SpectralSignatures {
                eps_multiplier: f64::NAN,
                ..SpectralSignatures::default()
            },
            SpectralSignatures {
                min_rows: 1,
                ..SpectralSignatures::default()
            },
        ] {
            assert!(matches!(
                bad.detect_features(&classes),
                Err(AttackError::Parameter(_))
            ));
        }
        // Two rows are too few for the default: nothing flagged.
        let d = SpectralSignatures::default()
            .detect_features(&classes)
            .unwrap();
        assert!(d.flagged.is_empty());
        assert_eq!(d.classes[0].verdict, ClassVerdict::TooFewRows);
    }
}
