//! Model extraction through the prediction API, and the defenses against it. Every attack here
//! sees the victim only through [`aisec_ml::Classifier::predict`] (each row a counted query):
//!
//! - [`equation_solving`]: Tramèr et al.'s exact extraction of log-linear models (logistic and
//!   softmax regression) from `d + 1` queries, with a check that the victim is log-linear.
//! - [`knockoff`]: Knockoff Nets (random or adaptive sampling of the attacker's pool, the
//!   victim's probabilities as soft labels) and Copycat (hard labels), training the attacker's
//!   own surrogate at each query budget.
//! - [`hardening`]: output defenses in front of any model (top-1 only, rounding, reverse sigmoid).
//! - [`prada`]: the PRADA detector of extraction query streams, standalone or in front of a model.
//! - [`run`]: `aisec attack extract` as a library.

pub mod equation_solving;
pub mod hardening;
pub mod knockoff;
pub mod prada;
pub mod run;

use aisec_ml::candle::Tensor;
use aisec_ml::{Classifier, Device, ModelInfo, Rng};
use serde::{Deserialize, Serialize};

use crate::error::{AttackError, Result};

/// The most rows one extraction stream may query (a bound on what the attack keeps in memory).
pub const MAX_STREAM: usize = 200_000;

/// The queries an attack sent, in order, with the class each answer put first: what a
/// stream detector such as PRADA sees.
#[derive(Debug, Clone, Default)]
pub struct QueryStream {
    /// Elements per row.
    pub dim: usize,
    /// The rows, flattened and concatenated.
    pub rows: Vec<f32>,
    /// The top class of each answer.
    pub classes: Vec<u32>,
}

impl QueryStream {
    /// An empty stream of `dim`-element rows.
    #[must_use]
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            rows: Vec::new(),
            classes: Vec::new(),
        }
    }

    /// Queries so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.classes.len()
    }

    /// Whether nothing was queried.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    /// Row `i`.
    #[must_use]
    pub fn row(&self, i: usize) -> &[f32] {
        &self.rows[i * self.dim..(i + 1) * self.dim]
    }

    /// Appends a batch `[n, ...]` and the answers `[n, K]` the victim gave to it.
    pub fn push(&mut self, x: &Tensor, answers: &[Vec<f32>]) -> Result<()> {
        let flat = x.flatten_from(1)?.to_vec2::<f32>()?;
        if flat.len() != answers.len() {
            return Err(AttackError::Parameter(format!(
                "{} rows and {} answers",
                flat.len(),
                answers.len()
            )));
        }
        if self.len() + flat.len() > MAX_STREAM {
            return Err(AttackError::TooLarge {
                what: "query stream",
                got: self.len() + flat.len(),
                max: MAX_STREAM,
            });
        }
        for (row, answer) in flat.iter().zip(answers) {
            if row.len() != self.dim {
                return Err(AttackError::Parameter(format!(
                    "a {}-element row in a stream of {}-element rows",
                    row.len(),
                    self.dim
                )));
            }
            self.rows.extend_from_slice(row);
            self.classes.push(argmax(answer) as u32);
        }
        Ok(())
    }
}

/// The index of the largest value (the first of equals).
#[must_use]
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

/// The share of positions where `a` and `b` agree (0 for empty slices).
#[must_use]
pub fn agreement(a: &[u32], b: &[u32]) -> f64 {
    if a.is_empty() || a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

/// The victim's answers `[n, K]` to `x` as rows of probabilities, checked: `K` columns, finite.
pub fn ask(victim: &dyn Classifier, x: &Tensor) -> Result<Vec<Vec<f32>>> {
    let k = victim.info().num_classes;
    let probs = victim
        .predict(x)?
        .to_dtype(aisec_ml::DType::F32)?
        .to_vec2::<f32>()?;
    if probs.iter().any(|r| r.len() != k) {
        return Err(AttackError::Parameter(format!(
            "the model answered rows of a width other than its {k} classes"
        )));
    }
    if probs.iter().flatten().any(|v| !v.is_finite()) {
        return Err(AttackError::NonFinite {
            what: "the model's answers",
        });
    }
    Ok(probs)
}

/// Where the attacker's queries come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoolKind {
    /// Rows of a data set the attacker holds (its labels unused).
    Data,
    /// Uniform noise over the model's input range.
    Noise,
    /// Gaussian samples around the attacker's data (its mean and per-feature spread), clipped to
    /// the input range.
    Gaussian,
}

impl PoolKind {
    /// The name reports use.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Data => "data",
            Self::Noise => "noise",
            Self::Gaussian => "gaussian",
        }
    }
}

/// `n` synthetic rows for the model `info`: uniform noise in its range, or Gaussian samples
/// with the mean and per-element standard deviation of `reference` (the attacker's data; the
/// middle of the range and a quarter of its width without one), clipped to the range.
pub fn synthetic_pool(
    kind: PoolKind,
    n: usize,
    info: &ModelInfo,
    reference: Option<&Tensor>,
    seed: u64,
) -> Result<Tensor> {
    let dim = info.sample_len();
    if n == 0 || n > MAX_STREAM {
        return Err(AttackError::TooLarge {
            what: "synthetic pool rows",
            got: n,
            max: MAX_STREAM,
        });
    }
    let [lo, hi] = info.input_range;
    let mut rng = Rng::new(seed ^ 0x706f_6f6c);
    let data: Vec<f32> = match kind {
        PoolKind::Data => {
            return Err(AttackError::Parameter(
                "a data pool is the attacker's rows, not synthetic".into(),
            ));
        }
        PoolKind::Noise => rng.uniform_vec(n * dim, lo, hi),
        PoolKind::Gaussian => {
            let (mean, std) = match reference {
                Some(r) => moments(r, dim)?,
                None => (
                    vec![f64::midpoint(f64::from(lo), f64::from(hi)); dim],
                    vec![f64::from(hi - lo) / 4.0; dim],
                ),
            };
            (0..n * dim)
                .map(|i| {
                    let j = i % dim;
                    ((mean[j] + std[j] * rng.normal()) as f32).clamp(lo, hi)
                })
                .collect()
        }
    };
    Ok(Tensor::from_vec(
        data,
        info.batch_shape(n).as_slice(),
        &Device::Cpu,
    )?)
}

/// Per-element mean and standard deviation of the rows of `x` (`dim` elements each).
pub fn moments(x: &Tensor, dim: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    let rows = x.flatten_from(1)?.to_vec2::<f32>()?;
    if rows.is_empty() || rows[0].len() != dim {
        return Err(AttackError::Parameter(format!(
            "reference rows must be non-empty with {dim} elements"
        )));
    }
    let n = rows.len() as f64;
    let mut mean = vec![0.0; dim];
    for r in &rows {
        for (m, v) in mean.iter_mut().zip(r) {
            *m += f64::from(*v) / n;
        }
    }
    let mut var = vec![0.0; dim];
    for r in &rows {
        for ((s, v), m) in var.iter_mut().zip(r).zip(&mean) {
            *s += (f64::from(*v) - m).powi(2) / n;
        }
    }
    Ok((mean, var.into_iter().map(f64::sqrt).collect()))
}

#[cfg(test)]
mod tests {
    use super::{agreement, argmax};

    #[test]
    fn argmax_and_agreement() {
        assert_eq!(argmax(&[0.1, 0.7, 0.2]), 1);
        assert_eq!(argmax(&[0.5, 0.5]), 0);
        assert!((agreement(&[1, 2, 3, 4], &[1, 2, 0, 4]) - 0.75).abs() < 1e-12);
        assert!(agreement(&[], &[]).abs() < 1e-12);
    }
}
