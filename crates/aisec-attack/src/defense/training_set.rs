//! What a training-set poison detector reports (the rows it flags, and per class the figures
//! behind its verdict), how flagged rows are scored against known poison, and the per-class
//! activations both detectors start from.

use aisec_ml::Network;
use aisec_ml::candle::Tensor;
use serde::{Deserialize, Serialize};

use crate::error::{AttackError, Result};
use crate::linalg::{MAX_ELEMENTS, Matrix};

/// Most training rows a detector reads.
pub const MAX_ROWS: usize = 1 << 20;
/// Most classes a detector handles.
pub const MAX_CLASSES: usize = 4096;
/// Rows per forward pass when reading activations.
const BATCH: usize = 256;

/// Which detector produced a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detector {
    /// Activation clustering (Chen et al. 2018).
    ActivationClustering,
    /// Spectral signatures (Tran et al. 2018).
    SpectralSignatures,
}

/// A detector's verdict on one class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassVerdict {
    /// Nothing in the class is flagged.
    Clean,
    /// Rows of the class are flagged as poison.
    Poisoned,
    /// The class has too few rows to analyse; nothing in it is flagged.
    TooFewRows,
}

/// The figures behind one class's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassDetection {
    /// The class (the training label).
    pub class: u32,
    /// Training rows with this label.
    pub rows: usize,
    /// Activation clustering: the sizes of the two clusters of the first split, larger first.
    /// Spectral signatures: rows kept and rows removed.
    pub cluster_sizes: Vec<usize>,
    /// Activation clustering: the silhouette of the first two-cluster split.
    pub silhouette: Option<f64>,
    /// Activation clustering: how far that silhouette stands above the other classes' (robust
    /// z-score: distance to their median over their scaled median absolute deviation).
    pub silhouette_z: Option<f64>,
    /// Activation clustering: the index (into `cluster_sizes`) of the cluster judged poison in
    /// the first split.
    pub poison_cluster: Option<usize>,
    /// Activation clustering: splits that flagged rows (each takes one cluster off the class).
    pub rounds: usize,
    /// Activation clustering: the size of the smaller cluster as a share of the class.
    /// Spectral signatures: the share of the class's variance along the top direction.
    pub share: Option<f64>,
    /// Spectral signatures: the outlier score above which rows are removed.
    pub score_cutoff: Option<f64>,
    /// Rows flagged in this class.
    pub flagged: usize,
    /// The verdict.
    pub verdict: ClassVerdict,
}

impl ClassDetection {
    pub(crate) fn new(class: u32, rows: usize) -> Self {
        Self {
            class,
            rows,
            cluster_sizes: Vec::new(),
            silhouette: None,
            silhouette_z: None,
            poison_cluster: None,
            rounds: 0,
            share: None,
            score_cutoff: None,
            flagged: 0,
            verdict: ClassVerdict::TooFewRows,
        }
    }
}

/// What a detector found in a training set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoisonDetection {
    /// The detector.
    pub detector: Detector,
    /// Flagged rows (indices into the training set), ascending.
    pub flagged: Vec<usize>,
    /// Per class, in ascending class order (classes with no rows are left out).
    pub classes: Vec<ClassDetection>,
}

/// Flagged rows scored against the rows known to be poison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DetectionScore {
    /// Rows flagged.
    pub flagged: usize,
    /// Rows that are poison.
    pub poison: usize,
    /// Flagged rows that are poison.
    pub true_positives: usize,
    /// Share of the flagged rows that are poison (`1` when nothing is flagged).
    pub precision: f64,
    /// Share of the poison that is flagged (`1` when there is no poison).
    pub recall: f64,
    /// Harmonic mean of precision and recall (`0` when both are `0`).
    pub f1: f64,
}

/// Precision, recall and F1 of `flagged` against `poison` (both row indices; duplicates
/// count once).
#[must_use]
pub fn score_detection(flagged: &[usize], poison: &[usize]) -> DetectionScore {
    let dedup = |rows: &[usize]| {
        let mut v = rows.to_vec();
        v.sort_unstable();
        v.dedup();
        v
    };
    let (flagged, poison) = (dedup(flagged), dedup(poison));
    let true_positives = flagged
        .iter()
        .filter(|r| poison.binary_search(r).is_ok())
        .count();
    let ratio = |num: usize, den: usize| {
        if den == 0 {
            1.0
        } else {
            num as f64 / den as f64
        }
    };
    let precision = ratio(true_positives, flagged.len());
    let recall = ratio(true_positives, poison.len());
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    DetectionScore {
        flagged: flagged.len(),
        poison: poison.len(),
        true_positives,
        precision,
        recall,
        f1,
    }
}

/// The training rows of one label and their activations.
#[derive(Debug, Clone)]
pub struct ClassRows {
    /// The label.
    pub class: u32,
    /// Indices of the rows into the training set, ascending.
    pub indices: Vec<usize>,
    /// Their activations, one row each.
    pub features: Matrix,
}

/// The activations of the rows of `x` after the first `layer` layers (flattened; `None`: the
/// penultimate representation, [`Network::features`]) grouped by `labels`, in ascending class
/// order; classes without rows are left out.
pub fn class_features(
    net: &Network,
    x: &Tensor,
    labels: &[u32],
    layer: Option<usize>,
) -> Result<Vec<ClassRows>> {
    let layer = layer.unwrap_or_else(|| net.feature_layer());
    if layer > net.logit_layers() {
        return Err(AttackError::Parameter(format!(
            "layer {layer} of a network with {} layers",
            net.logit_layers()
        )));
    }
    let n = x.dim(0)?;
    check_rows(n, labels)?;
    let mut features: Vec<f32> = Vec::new();
    let mut dims = 0;
    let mut start = 0;
    while start < n {
        let len = BATCH.min(n - start);
        let f = net
            .activations(&x.narrow(0, start, len)?, layer)?
            .flatten_from(1)?;
        let (_, d) = f.dims2()?;
        if start == 0 {
            dims = d;
            // Bound the whole read before holding it.
            let total = n.saturating_mul(d);
            if total > 4 * MAX_ELEMENTS {
                return Err(AttackError::TooLarge {
                    what: "activation values",
                    got: total,
                    max: 4 * MAX_ELEMENTS,
                });
            }
            features.reserve(total);
        }
        features.extend(
            f.to_dtype(aisec_ml::candle::DType::F32)?
                .flatten_all()?
                .to_vec1::<f32>()?,
        );
        start += len;
    }
    group_features(&features, dims, labels)
}

/// The layer index just past the activation that follows the network's last convolution
/// (`None` without one): the spatial feature maps of the last convolution block, before any
/// pooling or dense layer mixes them. On small CNNs the poison separates there more clearly
/// than in the penultimate representation, for both detectors (measured on 8x8 digits and
/// glyphs: see the crate's poison-detection tests).
#[must_use]
pub fn conv_feature_layer(net: &Network) -> Option<usize> {
    use aisec_ml::LayerSpec;
    let layers = &net.arch().layers[..net.logit_layers()];
    let last = layers
        .iter()
        .rposition(|l| matches!(l, LayerSpec::Conv2d { .. }))?;
    let mut end = last + 1;
    while end < layers.len()
        && matches!(
            layers[end],
            LayerSpec::Relu | LayerSpec::Tanh | LayerSpec::Sigmoid | LayerSpec::BatchNorm { .. }
        )
    {
        end += 1;
    }
    Some(end)
}

/// [`class_features`] for activations the caller already holds: `features` is row-major,
/// `labels.len()` rows of `dims` values.
pub fn group_features(features: &[f32], dims: usize, labels: &[u32]) -> Result<Vec<ClassRows>> {
    check_rows(labels.len(), labels)?;
    if dims == 0 || features.len() != labels.len() * dims {
        return Err(AttackError::Parameter(format!(
            "{} activation values for {} rows of {dims}",
            features.len(),
            labels.len()
        )));
    }
    let mut classes: Vec<u32> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    classes
        .into_iter()
        .map(|class| {
            let indices: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
            let mut data = Vec::with_capacity(indices.len() * dims);
            for &i in &indices {
                data.extend_from_slice(&features[i * dims..(i + 1) * dims]);
            }
            let features = Matrix::from_f32(indices.len(), dims, &data)?;
            Ok(ClassRows {
                class,
                indices,
                features,
            })
        })
        .collect()
}

fn check_rows(n: usize, labels: &[u32]) -> Result<()> {
    if n != labels.len() || n == 0 {
        return Err(AttackError::Parameter(format!(
            "{n} training rows and {} labels",
            labels.len()
        )));
    }
    if n > MAX_ROWS {
        return Err(AttackError::TooLarge {
            what: "training rows",
            got: n,
            max: MAX_ROWS,
        });
    }
    let classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
    if classes > MAX_CLASSES {
        return Err(AttackError::TooLarge {
            what: "class label",
            got: classes - 1,
            max: MAX_CLASSES - 1,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_count_each_row_once() {
        let s = score_detection(&[1, 2, 3, 3, 9], &[2, 3, 4, 5]);
        assert_eq!((s.flagged, s.poison, s.true_positives), (4, 4, 2));
        assert!((s.precision - 0.5).abs() < 1e-12 && (s.recall - 0.5).abs() < 1e-12);
        assert!((s.f1 - 0.5).abs() < 1e-12);
        let none = score_detection(&[], &[1]);
        assert_eq!((none.precision, none.recall, none.f1), (1.0, 0.0, 0.0));
        let clean = score_detection(&[], &[]);
        assert_eq!((clean.precision, clean.recall), (1.0, 1.0));
    }

    #[test]
    fn features_group_by_label() {
        let f = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        let g = group_features(&f, 2, &[7, 2, 7]).unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!((g[0].class, g[0].indices.clone()), (2, vec![1]));
        assert_eq!(g[1].indices, vec![0, 2]);
        assert_eq!(g[1].features.row(1), &[4.0, 5.0]);
        assert!(group_features(&f, 4, &[0, 1, 2]).is_err());
        assert!(group_features(&f, 2, &[0, 1, u32::MAX]).is_err());
    }
}
