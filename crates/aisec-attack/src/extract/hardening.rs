//! Output hardening: what a model API can do to its answers so they leak less (ATLAS AML.M0002
//! Passive AI Output Obfuscation), as a [`Classifier`] in front of any model.
//!
//! - top-1 only: a one-hot row for the predicted class (no scores at all);
//! - rounding: probabilities rounded to N decimals;
//! - reverse sigmoid (Lee et al., "Defending Against NN Model Stealing Attacks Using Deceptive
//!   Perturbations", IEEE S&P Workshops 2019): each probability `p` moves by
//!   `beta * (sigmoid(gamma * logit(p)) - 1/2)` in the direction that misleads a model fitted to
//!   the scores, and the row is renormalised; the top class mostly stays the top class.

use aisec_ml::candle::Tensor;
use aisec_ml::{Classifier, Device, MlError, ModelInfo, Queries};
use serde::{Deserialize, Serialize};

/// An output defense.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum OutputDefense {
    /// Answer a one-hot row of the predicted class.
    Top1,
    /// Round every probability to this many decimals.
    Round {
        /// Decimals kept (0 to 8).
        decimals: u32,
    },
    /// Reverse-sigmoid perturbation.
    ReverseSigmoid {
        /// Strength of the perturbation (Lee et al.'s beta).
        beta: f64,
        /// Its steepness (gamma).
        gamma: f64,
    },
}

impl OutputDefense {
    /// The name reports use (`top1`, `round-4`, `reverse-sigmoid`).
    #[must_use]
    pub fn name(&self) -> String {
        match self {
            Self::Top1 => "top1".into(),
            Self::Round { decimals } => format!("round-{decimals}"),
            Self::ReverseSigmoid { .. } => "reverse-sigmoid".into(),
        }
    }

    /// Checks the parameters.
    pub fn validate(&self) -> crate::error::Result<()> {
        let bad = |m: String| Err(crate::AttackError::Parameter(m));
        match *self {
            Self::Top1 => Ok(()),
            Self::Round { decimals } if decimals > 8 => {
                bad(format!("rounding to {decimals} decimals: keep 0 to 8"))
            }
            Self::Round { .. } => Ok(()),
            Self::ReverseSigmoid { beta, gamma }
                if !(beta.is_finite() && beta > 0.0 && gamma.is_finite() && gamma > 0.0) =>
            {
                bad(format!(
                    "reverse sigmoid needs a positive beta and gamma, not {beta} and {gamma}"
                ))
            }
            Self::ReverseSigmoid { .. } => Ok(()),
        }
    }

    /// The defended version of one row of probabilities.
    #[must_use]
    pub fn apply(&self, row: &[f32]) -> Vec<f32> {
        match *self {
            Self::Top1 => {
                let top = super::argmax(row);
                (0..row.len())
                    .map(|i| f32::from(u8::from(i == top)))
                    .collect()
            }
            Self::Round { decimals } => {
                let scale = 10f64.powi(decimals as i32);
                row.iter()
                    .map(|&p| ((f64::from(p) * scale).round() / scale) as f32)
                    .collect()
            }
            Self::ReverseSigmoid { beta, gamma } => {
                let eps = 1e-7;
                let moved: Vec<f64> = row
                    .iter()
                    .map(|&p| {
                        let p = f64::from(p).clamp(eps, 1.0 - eps);
                        let logit = (p / (1.0 - p)).ln();
                        let r = beta * (1.0 / (1.0 + (-gamma * logit).exp()) - 0.5);
                        (p - r).clamp(0.0, 1.0)
                    })
                    .collect();
                let sum: f64 = moved.iter().sum();
                if sum > 0.0 {
                    moved.iter().map(|&v| (v / sum) as f32).collect()
                } else {
                    row.to_vec()
                }
            }
        }
    }
}

/// A model whose answers pass through an [`OutputDefense`]. Queries are counted by the model
/// inside. It offers no white-box face: a hardened API hides the gradients too.
pub struct Hardened<'a> {
    inner: &'a dyn Classifier,
    defense: OutputDefense,
    info: ModelInfo,
}

impl<'a> Hardened<'a> {
    /// `inner` behind `defense`.
    #[must_use]
    pub fn new(inner: &'a dyn Classifier, defense: OutputDefense) -> Self {
        let mut info = inner.info().clone();
        info.name = format!("{} ({})", info.name, defense.name());
        Self {
            inner,
            defense,
            info,
        }
    }
}

impl Classifier for Hardened<'_> {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn predict(&self, x: &Tensor) -> aisec_ml::Result<Tensor> {
        let probs = self
            .inner
            .predict(x)?
            .to_dtype(aisec_ml::DType::F32)?
            .to_vec2::<f32>()?;
        let n = probs.len();
        let k = self.info.num_classes;
        let mut out = Vec::with_capacity(n * k);
        for row in &probs {
            if row.len() != k {
                return Err(MlError::Target(format!(
                    "the model answered {} values for {k} classes",
                    row.len()
                )));
            }
            out.extend(self.defense.apply(row));
        }
        Ok(Tensor::from_vec(out, (n, k), &Device::Cpu)?)
    }

    fn queries(&self) -> Queries {
        self.inner.queries()
    }

    fn reset_queries(&self) {
        self.inner.reset_queries();
    }

    fn labels_only(&self) -> bool {
        self.defense == OutputDefense::Top1 || self.inner.labels_only()
    }
}

#[cfg(test)]
mod tests {
    use super::OutputDefense;

    #[test]
    fn defenses_transform_rows_as_documented() {
        let row = [0.1f32, 0.6, 0.3];
        assert_eq!(OutputDefense::Top1.apply(&row), vec![0.0, 1.0, 0.0]);
        let rounded = OutputDefense::Round { decimals: 1 }.apply(&[0.123, 0.877]);
        assert!((rounded[0] - 0.1).abs() < 1e-7 && (rounded[1] - 0.9).abs() < 1e-7);
        let rs = OutputDefense::ReverseSigmoid {
            beta: 0.5,
            gamma: 0.2,
        }
        .apply(&row);
        assert!((rs.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!(super::super::argmax(&rs), 1, "{rs:?}");
        assert!(rs.iter().zip(&row).any(|(a, b)| (a - b).abs() > 1e-3));
        assert!(OutputDefense::Round { decimals: 9 }.validate().is_err());
        assert!(
            OutputDefense::ReverseSigmoid {
                beta: 0.0,
                gamma: 1.0
            }
            .validate()
            .is_err()
        );
    }
}
