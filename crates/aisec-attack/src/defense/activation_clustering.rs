//! Activation clustering (Chen et al., "Detecting Backdoor Attacks on Deep Neural Networks by
//! Activation Clustering", 2018): rows poisoned into a class reach its label through the
//! trigger while still carrying the features of the classes they came from, so within that
//! class the network's activations split into populations that a clean class does not show.
//!
//! # Method
//! Per class (by training label), with at least `min_rows` rows: take the rows' activations at
//! a layer (default the penultimate representation), mean-centre them and project them on
//! their top `dims` principal components, split them in two with k-means (k-means++ seeding,
//! seeded restarts, lowest inertia kept) and measure the split's silhouette. The paper reduces
//! with ICA; PCA is used here because it keeps the directions of largest spread, where a second
//! population shows, and is exact and deterministic, while ICA adds a whitening step and a
//! non-Gaussianity search that a two-means split does not need.
//!
//! # Decision rule
//! **Is the class poisoned?** Every class's activations have structure (styles, positions), so
//! no fixed silhouette separates poisoned classes from clean ones across data sets and models;
//! what poison adds is a split that is clearer *than the other classes' splits in the same
//! model*. A class is poisoned when its silhouette is at least `min_silhouette` and its robust
//! z-score against the other analysed classes, `(s - median) / max(1.4826 * MAD, min_spread)`,
//! is at least `min_z` (with fewer than two other classes, the absolute threshold alone
//! decides). The smaller-cluster-under-35% rule of the paper is not used: at 10% poisoning of a
//! ten-class set the poison is about half its target class.
//!
//! **Which rows?** The smaller cluster is the poison, except when the split is balanced (the
//! smaller cluster holds at least `balanced_share` of the rows): then the cluster whose rows
//! sit less firmly in it (the lower mean silhouette) is taken, because poison gathered from
//! several source classes is less cohesive than one clean class. The flagged cluster is taken
//! off and the rest of the class is split again, and again flagged while it still passes the
//! same test against the other classes, up to `max_rounds` splits: poison from several source
//! classes can form several clusters, and one split takes only the farthest of them.
//!
//! Single-source poison that is half a class or more cannot be told from the clean half by
//! cohesion; a class whose representation does not separate the poison (a layer where it is
//! not distinct) shows no outlying silhouette and is reported clean. The per-class figures in
//! [`ClassDetection`] show why each verdict was reached.

use aisec_ml::Network;
use aisec_ml::Rng;
use aisec_ml::candle::Tensor;
use serde::{Deserialize, Serialize};

use crate::defense::training_set::{
    ClassDetection, ClassRows, ClassVerdict, Detector, PoisonDetection, class_features,
};
use crate::error::{AttackError, Result};
use crate::linalg::{KMeansConfig, Matrix, Pca, kmeans, silhouette};

/// Most principal components a class is reduced to.
pub const MAX_DIMS: usize = 256;
/// Most splits per class.
pub const MAX_ROUNDS: usize = 16;

/// The detector's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ActivationClustering {
    /// The layer whose output is clustered (its index, as in [`Network::activations`]);
    /// `None`: the penultimate representation.
    pub layer: Option<usize>,
    /// Principal components kept per class (1..=[`MAX_DIMS`]).
    pub dims: usize,
    /// k-means restarts per split (1..=[`MAX_RESTARTS`](crate::linalg::MAX_RESTARTS)).
    pub restarts: usize,
    /// Seed of the k-means draws.
    pub seed: u64,
    /// Classes (and remainders of classes) with fewer rows are not split (at least 4).
    pub min_rows: usize,
    /// A split needs at least this silhouette to count as poison.
    pub min_silhouette: f64,
    /// ... and at least this robust z-score against the other classes' silhouettes.
    pub min_z: f64,
    /// Floor of the other classes' spread in the z-score (silhouette units), so that classes
    /// that happen to split alike do not make a small difference look large.
    pub min_spread: f64,
    /// A split whose smaller cluster holds at least this share of the rows is balanced: the
    /// less cohesive cluster is taken instead of the smaller.
    pub balanced_share: f64,
    /// Most splits per class (1..=[`MAX_ROUNDS`]).
    pub max_rounds: usize,
}

impl Default for ActivationClustering {
    fn default() -> Self {
        Self {
            layer: None,
            dims: 10,
            restarts: 10,
            seed: 0,
            min_rows: 20,
            min_silhouette: 0.25,
            min_z: 3.0,
            min_spread: 0.05,
            balanced_share: 0.4,
            max_rounds: 3,
        }
    }
}

/// One two-means split of some rows of a class.
#[derive(Clone)]
struct Split {
    /// Cluster per row: 0 the larger, 1 the smaller.
    assignment: Vec<usize>,
    sizes: [usize; 2],
    silhouette: f64,
    /// Mean silhouette of each cluster's rows.
    cohesion: [f64; 2],
}

impl ActivationClustering {
    fn validate(&self) -> Result<()> {
        if self.dims == 0 || self.dims > MAX_DIMS {
            return Err(AttackError::TooLarge {
                what: "principal components",
                got: self.dims,
                max: MAX_DIMS,
            });
        }
        if self.max_rounds == 0 || self.max_rounds > MAX_ROUNDS {
            return Err(AttackError::TooLarge {
                what: "activation clustering rounds",
                got: self.max_rounds,
                max: MAX_ROUNDS,
            });
        }
        if self.min_rows < 4 {
            return Err(AttackError::Parameter(format!(
                "at least four rows per class are needed, not {}",
                self.min_rows
            )));
        }
        if !(-1.0..=1.0).contains(&self.min_silhouette) {
            return Err(AttackError::Parameter(format!(
                "silhouette threshold {} must lie in [-1, 1]",
                self.min_silhouette
            )));
        }
        if !(self.min_z.is_finite() && self.min_spread > 0.0 && self.min_spread.is_finite()) {
            return Err(AttackError::Parameter(format!(
                "z threshold {} must be finite and spread floor {} positive",
                self.min_z, self.min_spread
            )));
        }
        if !(0.0..=0.5).contains(&self.balanced_share) {
            return Err(AttackError::Parameter(format!(
                "balanced share {} must lie in [0, 0.5]",
                self.balanced_share
            )));
        }
        Ok(())
    }

    /// Analyses the training rows `x` with `labels` in `net`'s representation.
    pub fn detect(&self, net: &Network, x: &Tensor, labels: &[u32]) -> Result<PoisonDetection> {
        self.validate()?;
        self.detect_features(&class_features(net, x, labels, self.layer)?)
    }

    /// [`ActivationClustering::detect`] on activations already grouped by class.
    pub fn detect_features(&self, classes: &[ClassRows]) -> Result<PoisonDetection> {
        self.validate()?;
        let mut rng = Rng::new(self.seed);
        let mut seeds: Vec<Rng> = classes.iter().map(|_| rng.fork()).collect();
        // First splits of every class: the baseline each class is measured against.
        let first: Vec<Option<Split>> = classes
            .iter()
            .zip(&mut seeds)
            .map(|(class, rng)| {
                if class.indices.len() < self.min_rows {
                    Ok(None)
                } else {
                    self.split(&class.features, rng)
                }
            })
            .collect::<Result<_>>()?;
        let mut flagged = Vec::new();
        let mut reports = Vec::with_capacity(classes.len());
        for (c, class) in classes.iter().enumerate() {
            let n = class.indices.len();
            let mut report = ClassDetection::new(class.class, n);
            if n < self.min_rows {
                reports.push(report);
                continue;
            }
            report.verdict = ClassVerdict::Clean;
            let others: Vec<f64> = first
                .iter()
                .enumerate()
                .filter(|&(o, s)| o != c && s.is_some())
                .filter_map(|(_, s)| s.as_ref().map(|s| s.silhouette))
                .collect();
            let z = |s: f64| robust_z(s, &others, self.min_spread);
            let Some(split) = &first[c] else {
                report.cluster_sizes = vec![n, 0];
                reports.push(report);
                continue;
            };
            report.cluster_sizes = split.sizes.to_vec();
            report.silhouette = Some(split.silhouette);
            report.silhouette_z = z(split.silhouette);
            report.share = Some(split.sizes[1] as f64 / n as f64);
            // Rows of the class still in play (positions into `class.indices`).
            let mut remaining: Vec<usize> = (0..n).collect();
            let mut current = Some(split.clone());
            let mut class_flagged = Vec::new();
            while let Some(split) = current.take() {
                let sil = split.silhouette;
                if sil < self.min_silhouette || z(sil).is_some_and(|z| z < self.min_z) {
                    break;
                }
                let poison = self.poison_cluster(split.sizes, split.cohesion);
                if report.rounds == 0 {
                    report.poison_cluster = Some(poison);
                }
                report.rounds += 1;
                let mut keep = Vec::with_capacity(remaining.len());
                for (&p, &a) in remaining.iter().zip(&split.assignment) {
                    if a == poison {
                        class_flagged.push(class.indices[p]);
                    } else {
                        keep.push(p);
                    }
                }
                remaining = keep;
                if report.rounds >= self.max_rounds || remaining.len() < self.min_rows {
                    break;
                }
                let rest = class.features.select_rows(&remaining)?;
                current = self.split(&rest, &mut seeds[c])?;
            }
            if !class_flagged.is_empty() {
                report.verdict = ClassVerdict::Poisoned;
                report.flagged = class_flagged.len();
                flagged.extend(class_flagged);
            }
            reports.push(report);
        }
        flagged.sort_unstable();
        Ok(PoisonDetection {
            detector: Detector::ActivationClustering,
            flagged,
            classes: reports,
        })
    }

    /// The cluster taken as poison: the smaller, or in a balanced split the less cohesive.
    fn poison_cluster(&self, sizes: [usize; 2], cohesion: [f64; 2]) -> usize {
        let share = sizes[1] as f64 / (sizes[0] + sizes[1]) as f64;
        let larger_is_looser = share >= self.balanced_share && cohesion[0] < cohesion[1];
        usize::from(!larger_is_looser)
    }

    /// PCA to `dims`, two-means and silhouette of `rows` (`None` when they do not spread into
    /// two non-empty clusters).
    fn split(&self, rows: &Matrix, rng: &mut Rng) -> Result<Option<Split>> {
        let seed = rng.next_u64();
        let pca = Pca::fit(rows, self.dims)?;
        if pca.components.is_empty() {
            return Ok(None);
        }
        let reduced = pca.transform(rows)?;
        let km = kmeans(
            &reduced,
            &KMeansConfig {
                clusters: 2,
                restarts: self.restarts,
                seed,
                ..KMeansConfig::default()
            },
        )?;
        if km.sizes.contains(&0) {
            return Ok(None);
        }
        let sil = silhouette(&reduced, &km.assignment, 2, seed)?;
        // Renumber so that cluster 0 is the larger.
        let swap = km.sizes[1] > km.sizes[0];
        let pick = |pair: [usize; 2]| if swap { [pair[1], pair[0]] } else { pair };
        let per = |c: usize| sil.per_cluster[c].unwrap_or(0.0);
        let cohesion = if swap {
            [per(1), per(0)]
        } else {
            [per(0), per(1)]
        };
        Ok(Some(Split {
            assignment: km
                .assignment
                .iter()
                .map(|&c| usize::from((c == 1) != swap))
                .collect(),
            sizes: pick([km.sizes[0], km.sizes[1]]),
            silhouette: sil.mean,
            cohesion,
        }))
    }
}

/// `(value - median) / max(1.4826 * MAD, floor)` over `others`; `None` with fewer than two.
fn robust_z(value: f64, others: &[f64], floor: f64) -> Option<f64> {
    if others.len() < 2 {
        return None;
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let m = v.len() / 2;
        if v.len().is_multiple_of(2) {
            f64::midpoint(v[m - 1], v[m])
        } else {
            v[m]
        }
    };
    let mut v = others.to_vec();
    let med = median(&mut v);
    let mut dev: Vec<f64> = others.iter().map(|o| (o - med).abs()).collect();
    let mad = median(&mut dev);
    Some((value - med) / (1.4826 * mad).max(floor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defense::training_set::group_features;

    /// Rows of `classes` classes in 8-D: each class a unit-spread blob around its own centre;
    /// rows listed in `poison` (all labelled 0) sit in far blobs, one per source class.
    fn data(
        per_class: usize,
        classes: usize,
        poison: usize,
        seed: u64,
    ) -> (Vec<f32>, Vec<u32>, Vec<usize>) {
        let mut rng = Rng::new(seed);
        let (mut x, mut y, mut p) = (Vec::new(), Vec::new(), Vec::new());
        for c in 0..classes {
            for i in 0..per_class {
                let poisoned = c > 0 && i < poison / (classes - 1);
                for d in 0..8 {
                    let centre = if d == c { 6.0 } else { 0.0 };
                    let trigger = if poisoned && d == 7 { 8.0 } else { 0.0 };
                    x.push((rng.normal() + centre + trigger) as f32);
                }
                if poisoned {
                    p.push(y.len());
                    y.push(0);
                } else {
                    y.push(c as u32);
                }
            }
        }
        (x, y, p)
    }

    #[test]
    fn flags_the_outlying_class_and_not_the_clean_ones() {
        let (x, y, poison) = data(60, 5, 24, 1);
        let classes = group_features(&x, 8, &y).unwrap();
        let d = ActivationClustering::default()
            .detect_features(&classes)
            .unwrap();
        assert_eq!(d.flagged, poison, "{:#?}", d.classes);
        assert_eq!(d.classes[0].verdict, ClassVerdict::Poisoned);
        assert!(
            d.classes[1..]
                .iter()
                .all(|c| c.verdict == ClassVerdict::Clean)
        );
        assert!(d.classes[0].silhouette_z.unwrap() > 3.0);
        // Without poison, nothing.
        let (x, y, _) = data(60, 5, 0, 1);
        let d = ActivationClustering::default()
            .detect_features(&group_features(&x, 8, &y).unwrap())
            .unwrap();
        assert!(d.flagged.is_empty(), "{:#?}", d.classes);
    }

    #[test]
    fn robust_z_scores() {
        assert_eq!(robust_z(1.0, &[0.5], 0.05), None);
        // Median 0.3, MAD 0.1: z = (0.6 - 0.3) / 0.14826.
        let z = robust_z(0.6, &[0.2, 0.3, 0.4], 0.05).unwrap();
        assert!((z - 0.3 / 0.14826).abs() < 1e-9);
        // Identical others: the floor keeps the score finite.
        assert!((robust_z(0.5, &[0.3, 0.3, 0.3], 0.05).unwrap() - 4.0).abs() < 1e-9);
    }

    #[test]
    fn settings_are_checked() {
        let classes = group_features(&[0.0; 8], 2, &[0, 0, 0, 0]).unwrap();
        for bad in [
            ActivationClustering {
                dims: 0,
                ..ActivationClustering::default()
            },
            ActivationClustering {
                max_rounds: MAX_ROUNDS + 1,
                ..ActivationClustering::default()
            },
            ActivationClustering {
                min_rows: 3,
                ..ActivationClustering::default()
            },
            ActivationClustering {
                balanced_share: 0.7,
                ..ActivationClustering::default()
            },
        ] {
            assert!(bad.detect_features(&classes).is_err());
        }
    }
}
