//! [`Dataset`]: labelled samples as one flat `f32` buffer, with seeded shuffles and splits.

use crate::error::{Error, Result};
use crate::rng::SplitMix64;

/// A labelled data set held in memory.
///
/// - `x` holds `len() * sample_len()` values, sample after sample, each sample laid out in
///   row-major order of `sample_shape` (images are `[channels, height, width]`, tables `[features]`);
/// - `y[i]` is the class of sample `i`, `< num_classes`;
/// - `class_names`, when known, has `num_classes` entries.
///
/// [`Dataset::new`] checks all of that and that every value is finite; every method keeps it true.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    x: Vec<f32>,
    sample_shape: Vec<usize>,
    y: Vec<u32>,
    num_classes: usize,
    class_names: Option<Vec<String>>,
}

/// A train/test split of a [`Dataset`].
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The first part of the shuffled order.
    pub train: Dataset,
    /// The last `test_fraction` of the shuffled order.
    pub test: Dataset,
}

impl Dataset {
    /// A data set from its parts, checked: sizes agree, labels are below `num_classes`, every
    /// value is finite, the sample shape has no zero dimension.
    pub fn new(
        x: Vec<f32>,
        sample_shape: Vec<usize>,
        y: Vec<u32>,
        num_classes: usize,
        class_names: Option<Vec<String>>,
    ) -> Result<Self> {
        if sample_shape.is_empty() || sample_shape.contains(&0) {
            return Err(Error::inconsistent(format!(
                "sample shape {sample_shape:?} must have at least one dimension and no zero"
            )));
        }
        let sample_len = sample_shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| Error::inconsistent("sample shape overflows"))?;
        if y.len().checked_mul(sample_len) != Some(x.len()) {
            return Err(Error::inconsistent(format!(
                "{} values for {} samples of {sample_len}",
                x.len(),
                y.len()
            )));
        }
        if num_classes == 0 || u32::try_from(num_classes).is_err() {
            return Err(Error::inconsistent(format!("{num_classes} classes")));
        }
        if let Some(bad) = y.iter().position(|&c| c as usize >= num_classes) {
            return Err(Error::inconsistent(format!(
                "sample {bad} has class {} but there are {num_classes} classes",
                y[bad]
            )));
        }
        if let Some(names) = &class_names
            && names.len() != num_classes
        {
            return Err(Error::inconsistent(format!(
                "{} class names for {num_classes} classes",
                names.len()
            )));
        }
        if let Some(bad) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::inconsistent(format!(
                "value {} of sample {} is not finite ({})",
                bad % sample_len,
                bad / sample_len,
                x[bad]
            )));
        }
        Ok(Dataset {
            x,
            sample_shape,
            y,
            num_classes,
            class_names,
        })
    }

    /// Number of samples.
    #[must_use]
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether there are no samples.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// The shape of one sample.
    #[must_use]
    pub fn sample_shape(&self) -> &[usize] {
        &self.sample_shape
    }

    /// Number of values in one sample (product of the sample shape).
    #[must_use]
    pub fn sample_len(&self) -> usize {
        self.sample_shape.iter().product()
    }

    /// All values, sample after sample.
    #[must_use]
    pub fn x(&self) -> &[f32] {
        &self.x
    }

    /// All labels.
    #[must_use]
    pub fn y(&self) -> &[u32] {
        &self.y
    }

    /// Number of classes.
    #[must_use]
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Class names, when known.
    #[must_use]
    pub fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }

    /// The values of sample `i`.
    #[must_use]
    pub fn sample(&self, i: usize) -> Option<&[f32]> {
        let n = self.sample_len();
        self.x.get(i * n..(i + 1) * n)
    }

    /// The label of sample `i`.
    #[must_use]
    pub fn label(&self, i: usize) -> Option<u32> {
        self.y.get(i).copied()
    }

    /// Samples per class (`num_classes` entries).
    #[must_use]
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes];
        for &c in &self.y {
            counts[c as usize] += 1;
        }
        counts
    }

    /// Takes the values and labels out without copying (read the shape and classes first).
    #[must_use]
    pub fn into_xy(self) -> (Vec<f32>, Vec<u32>) {
        (self.x, self.y)
    }

    /// The samples at `indices`, in that order (repeats allowed).
    pub fn subset(&self, indices: &[usize]) -> Result<Dataset> {
        let n = self.sample_len();
        let mut x = Vec::with_capacity(indices.len().saturating_mul(n));
        let mut y = Vec::with_capacity(indices.len());
        for &i in indices {
            let s = self.sample(i).ok_or_else(|| Error::InvalidArgument {
                detail: format!("sample index {i} out of range (len {})", self.len()),
            })?;
            x.extend_from_slice(s);
            y.push(self.y[i]);
        }
        Ok(Dataset {
            x,
            sample_shape: self.sample_shape.clone(),
            y,
            num_classes: self.num_classes,
            class_names: self.class_names.clone(),
        })
    }

    /// The first `n` samples (all of them if there are fewer).
    #[must_use]
    pub fn head(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        Dataset {
            x: self.x[..n * self.sample_len()].to_vec(),
            sample_shape: self.sample_shape.clone(),
            y: self.y[..n].to_vec(),
            num_classes: self.num_classes,
            class_names: self.class_names.clone(),
        }
    }

    /// The samples in the seeded order of [`permutation`].
    #[must_use]
    pub fn shuffled(&self, seed: u64) -> Dataset {
        self.subset(&permutation(self.len(), seed))
            .expect("a permutation's indices are in range")
    }

    /// Seeded split: the samples are shuffled with `seed` ([`permutation`]) and the last
    /// `round(len * test_fraction)` of that order is the test part ([`split_indices`]).
    pub fn split(&self, test_fraction: f64, seed: u64) -> Result<Split> {
        let (train, test) = split_indices(self.len(), test_fraction, seed)?;
        Ok(Split {
            train: self.subset(&train)?,
            test: self.subset(&test)?,
        })
    }

    /// Multiplies every value by `factor` (e.g. `1.0 / 255.0` for 8-bit pixels).
    pub fn scale(&mut self, factor: f32) -> Result<()> {
        if !factor.is_finite() {
            return Err(Error::InvalidArgument {
                detail: format!("scale factor {factor} is not finite"),
            });
        }
        // Checked first, so a failed call leaves the data as it was.
        if self.x.iter().any(|v| !(v * factor).is_finite()) {
            return Err(Error::InvalidArgument {
                detail: format!("scaling by {factor} overflows"),
            });
        }
        for v in &mut self.x {
            *v *= factor;
        }
        Ok(())
    }

    /// A copy with the sample shape changed to `shape` (same number of values per sample).
    pub fn reshaped(&self, shape: Vec<usize>) -> Result<Dataset> {
        Dataset::new(
            self.x.clone(),
            shape,
            self.y.clone(),
            self.num_classes,
            self.class_names.clone(),
        )
    }
}

/// The seeded shuffle of `0..n` every split uses: Fisher–Yates driven by [`SplitMix64`] seeded with `seed`.
#[must_use]
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    SplitMix64::new(seed).shuffle(&mut idx);
    idx
}

/// The indices of a seeded split of `n` samples: `(train, test)`, where the test part is the last
/// `round(n * test_fraction)` entries of [`permutation`]`(n, seed)` and the train part the rest,
/// both in shuffled order. `test_fraction` must be in `[0, 1]`.
pub fn split_indices(n: usize, test_fraction: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(0.0..=1.0).contains(&test_fraction) {
        return Err(Error::InvalidArgument {
            detail: format!("test fraction {test_fraction} is not in [0, 1]"),
        });
    }
    let n_test = ((n as f64) * test_fraction).round() as usize;
    let n_test = n_test.min(n);
    let mut perm = permutation(n, seed);
    let test = perm.split_off(n - n_test);
    Ok((perm, test))
}

/// Per-value mean and standard deviation, fitted on one data set (a train split) and applied to
/// others, so the test split never leaks into the statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    /// Mean of each value position.
    pub mean: Vec<f32>,
    /// Population standard deviation of each position; 1 where it is 0, so constants map to 0.
    pub std: Vec<f32>,
}

impl Standardizer {
    /// Fits on `data` (which must not be empty).
    pub fn fit(data: &Dataset) -> Result<Standardizer> {
        if data.is_empty() {
            return Err(Error::InvalidArgument {
                detail: "cannot fit a standardizer on an empty data set".into(),
            });
        }
        let d = data.sample_len();
        let n = data.len() as f64;
        let mut sum = vec![0f64; d];
        for s in data.x.chunks_exact(d) {
            for (a, &v) in sum.iter_mut().zip(s) {
                *a += f64::from(v);
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let mut var = vec![0f64; d];
        for s in data.x.chunks_exact(d) {
            for ((a, &v), m) in var.iter_mut().zip(s).zip(&mean) {
                let dv = f64::from(v) - m;
                *a += dv * dv;
            }
        }
        let std = var
            .iter()
            .map(|v| {
                let s = (v / n).sqrt() as f32;
                if s > 0.0 && s.is_finite() { s } else { 1.0 }
            })
            .collect();
        Ok(Standardizer {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std,
        })
    }

    /// Maps every value to `(v - mean) / std` in place.
    pub fn apply(&self, data: &mut Dataset) -> Result<()> {
        let d = data.sample_len();
        if d != self.mean.len() {
            return Err(Error::InvalidArgument {
                detail: format!(
                    "standardizer fitted on {} values per sample, data has {d}",
                    self.mean.len()
                ),
            });
        }
        for s in data.x.chunks_exact_mut(d) {
            for ((v, m), sd) in s.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / sd;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(n: usize) -> Dataset {
        let x = (0..n * 2).map(|v| v as f32).collect();
        let y = (0..n).map(|i| (i % 3) as u32).collect();
        Dataset::new(x, vec![2], y, 3, None).unwrap()
    }

    #[test]
    fn new_checks_every_invariant() {
        assert!(Dataset::new(vec![0.0; 4], vec![2], vec![0, 1], 2, None).is_ok());
        for (x, shape, y, k, names) in [
            (vec![0.0; 3], vec![2], vec![0, 1], 2, None),
            (vec![0.0; 4], vec![2], vec![0, 2], 2, None),
            (vec![0.0; 4], vec![2], vec![0, 1], 0, None),
            (vec![0.0; 4], vec![], vec![0, 1], 2, None),
            (vec![0.0; 4], vec![2, 0], vec![0, 1], 2, None),
            (
                vec![0.0; 4],
                vec![2],
                vec![0, 1],
                2,
                Some(vec!["a".to_owned()]),
            ),
            (vec![0.0, f32::NAN, 0.0, 0.0], vec![2], vec![0, 1], 2, None),
            (vec![0.0; 4], vec![usize::MAX, 2], vec![0, 1], 2, None),
        ] {
            let e = Dataset::new(x, shape, y, k, names).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Invalid, "{e}");
        }
    }

    #[test]
    fn accessors_and_subsets() {
        let d = toy(5);
        assert_eq!(d.len(), 5);
        assert_eq!(d.sample(1), Some(&[2.0, 3.0][..]));
        assert_eq!(d.sample(5), None);
        assert_eq!(d.label(4), Some(1));
        assert_eq!(d.class_counts(), vec![2, 2, 1]);
        let s = d.subset(&[4, 0, 4]).unwrap();
        assert_eq!(s.x(), &[8.0, 9.0, 0.0, 1.0, 8.0, 9.0]);
        assert_eq!(s.y(), &[1, 0, 1]);
        assert!(d.subset(&[5]).is_err());
        assert_eq!(d.head(2).y(), &[0, 1]);
        assert_eq!(d.head(99).len(), 5);
        assert_eq!(d.reshaped(vec![1, 2]).unwrap().sample_shape(), &[1, 2]);
        assert!(d.reshaped(vec![3]).is_err());
    }

    #[test]
    fn splits_are_seeded_disjoint_and_complete() {
        let d = toy(1797);
        let a = d.split(0.2, 0).unwrap();
        let b = d.split(0.2, 0).unwrap();
        assert_eq!(a, b, "same seed, same split");
        assert_eq!(a.test.len(), 359); // round(1797 * 0.2)
        assert_eq!(a.train.len(), 1438);
        let (tr, te) = split_indices(1797, 0.2, 0).unwrap();
        let mut all: Vec<usize> = tr.iter().chain(&te).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1797).collect::<Vec<_>>());
        assert_ne!(split_indices(1797, 0.2, 1).unwrap().1, te);
        // The split is the tail of the permutation.
        assert_eq!(te, permutation(1797, 0)[1438..]);
        assert_eq!(split_indices(10, 0.0, 0).unwrap().1.len(), 0);
        assert_eq!(split_indices(10, 1.0, 0).unwrap().0.len(), 0);
        for bad in [-0.1, 1.1, f64::NAN] {
            assert!(split_indices(10, bad, 0).is_err());
        }
        assert_eq!(d.shuffled(0).y()[..5], a.train.y()[..5]);
    }

    #[test]
    fn standardizer_fits_on_one_split_and_applies_to_another() {
        let d = Dataset::new(
            vec![1.0, 5.0, 3.0, 5.0, 5.0, 5.0],
            vec![2],
            vec![0, 1, 0],
            2,
            None,
        )
        .unwrap();
        let s = Standardizer::fit(&d).unwrap();
        assert_eq!(s.mean, vec![3.0, 5.0]);
        assert!((s.std[0] - (8.0f32 / 3.0).sqrt()).abs() < 1e-6);
        assert_eq!(s.std[1], 1.0, "a constant column keeps std 1");
        let mut t = d.clone();
        s.apply(&mut t).unwrap();
        assert!((t.x()[0] + 1.224_744_9).abs() < 1e-5);
        assert_eq!(t.x()[1], 0.0);
        let mut wrong = toy(2).reshaped(vec![1, 2]).unwrap();
        wrong = wrong.subset(&[0]).unwrap();
        assert!(Standardizer::fit(&d.subset(&[]).unwrap()).is_err());
        let mut three = Dataset::new(vec![0.0; 3], vec![3], vec![0], 1, None).unwrap();
        assert!(s.apply(&mut three).is_err());
        assert!(s.apply(&mut wrong).is_ok());
    }

    #[test]
    fn scaling_rejects_non_finite_results() {
        let mut d = toy(2);
        d.scale(0.5).unwrap();
        assert_eq!(d.x()[3], 1.5);
        assert!(d.scale(f32::INFINITY).is_err());
        assert!(d.scale(f32::MAX).is_err());
        assert_eq!(d.x()[3], 1.5, "unchanged after a failed scale");
    }
}
