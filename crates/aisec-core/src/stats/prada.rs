//! PRADA (Juuti et al., "PRADA: Protecting Against DNN Model Stealing Attacks", IEEE EuroS&P
//! 2019): a detector of extraction query streams. Natural queries from one client are spread
//! like natural data, so the distance from each new query to the nearest earlier query of the
//! same predicted class is roughly normally distributed; synthetic or carefully chosen queries
//! bend that distribution. For each class `c` the detector keeps a growing set `G_c` of queries;
//! a new query of class `c` adds its minimum L2 distance to `G_c` to the set `D`, and joins `G_c`
//! when that distance is above the class's threshold `T_c` (the mean minus the standard
//! deviation of the distances that grew `G_c`). Once `D` holds enough distances, a Shapiro-Wilk
//! test (on the last [`MAX_SAMPLE`] distances of `D`, within three standard deviations of their
//! mean) whose statistic falls below `delta` raises the alarm.
//!
//! Classes are kept as they are first seen, up to the bound given to [`PradaDetector::new`], so
//! a detector in front of a model whose class count it does not know costs only what it sees.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::normality::{MAX_SAMPLE, shapiro_wilk};
use super::{Result, StatsError};

/// The most queries one detector keeps (memory and time grow with them).
pub const MAX_QUERIES: usize = 200_000;

/// The most elements in one query.
pub const MAX_DIM: usize = 1 << 20;

/// PRADA's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prada {
    /// The alarm fires when the Shapiro-Wilk statistic falls below this.
    pub delta: f64,
    /// Distances collected before the first test.
    pub min_distances: usize,
}

impl Default for Prada {
    fn default() -> Self {
        Self {
            delta: 0.95,
            min_distances: 100,
        }
    }
}

impl Prada {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`StatsError::Parameter`] for `delta` outside (0, 1) or a minimum outside 3..=5000.
    pub fn validate(&self) -> Result<()> {
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(StatsError::Parameter(format!(
                "PRADA's delta must lie in (0, 1), not {}",
                self.delta
            )));
        }
        if !(3..=MAX_SAMPLE).contains(&self.min_distances) {
            return Err(StatsError::Parameter(format!(
                "PRADA's minimum number of distances must be 3 to {MAX_SAMPLE}, not {}",
                self.min_distances
            )));
        }
        Ok(())
    }
}

/// What the detector said about one query.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Verdict {
    /// The Shapiro-Wilk statistic after this query, once there are enough distances.
    pub w: Option<f64>,
    /// Whether this query raised the alarm (`w < delta`).
    pub alarm: bool,
}

/// One class's growing set.
#[derive(Debug, Clone, Default)]
struct Group {
    /// The set's rows, flattened.
    rows: Vec<f32>,
    /// The distances that grew the set.
    distances: Vec<f64>,
    /// The class's threshold `T_c`.
    threshold: f64,
}

/// The streaming detector.
#[derive(Debug, Clone)]
pub struct PradaDetector {
    config: Prada,
    dim: usize,
    classes: usize,
    groups: HashMap<usize, Group>,
    /// Every minimum distance.
    distances: Vec<f64>,
    queries: usize,
    first_alarm: Option<usize>,
    last_w: Option<f64>,
}

impl PradaDetector {
    /// A detector for rows of `dim` elements whose classes are below `classes`.
    ///
    /// # Errors
    /// [`StatsError`] for invalid settings, no rows or classes, or rows above [`MAX_DIM`].
    pub fn new(config: Prada, dim: usize, classes: usize) -> Result<Self> {
        config.validate()?;
        if dim == 0 || classes == 0 {
            return Err(StatsError::Parameter("PRADA needs rows and classes".into()));
        }
        if dim > MAX_DIM {
            return Err(StatsError::TooLarge {
                what: "PRADA row length",
                got: dim,
                max: MAX_DIM,
            });
        }
        Ok(Self {
            config,
            dim,
            classes,
            groups: HashMap::new(),
            distances: Vec::new(),
            queries: 0,
            first_alarm: None,
            last_w: None,
        })
    }

    /// The elements in one row.
    #[must_use]
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Queries observed.
    #[must_use]
    pub fn queries(&self) -> usize {
        self.queries
    }

    /// Rows kept in the growing sets (what the detector's memory grows with).
    #[must_use]
    pub fn kept_rows(&self) -> usize {
        self.groups.values().map(|g| g.rows.len() / self.dim).sum()
    }

    /// The 0-based index of the query that first raised the alarm.
    #[must_use]
    pub fn first_alarm(&self) -> Option<usize> {
        self.first_alarm
    }

    /// The statistic after the last query, once there were enough distances.
    #[must_use]
    pub fn last_w(&self) -> Option<f64> {
        self.last_w
    }

    /// Observes query `x` whose predicted class is `class`.
    ///
    /// # Errors
    /// [`StatsError`] for a row of the wrong length or with a non-finite value, a class out of
    /// range, or a stream past [`MAX_QUERIES`].
    pub fn observe(&mut self, x: &[f32], class: usize) -> Result<Verdict> {
        if x.len() != self.dim {
            return Err(StatsError::Parameter(format!(
                "a {}-element query for a detector of {}-element rows",
                x.len(),
                self.dim
            )));
        }
        if class >= self.classes {
            return Err(StatsError::Parameter(format!(
                "class {class} of {}",
                self.classes
            )));
        }
        if self.queries >= MAX_QUERIES {
            return Err(StatsError::TooLarge {
                what: "PRADA queries",
                got: self.queries + 1,
                max: MAX_QUERIES,
            });
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(StatsError::NonFinite { what: "query" });
        }
        let index = self.queries;
        self.queries += 1;
        let group = self.groups.entry(class).or_default();
        if group.rows.is_empty() {
            group.rows.extend_from_slice(x);
        } else {
            let d_min = group
                .rows
                .chunks_exact(self.dim)
                .map(|g| {
                    g.iter()
                        .zip(x)
                        .map(|(a, b)| f64::from(a - b).powi(2))
                        .sum::<f64>()
                })
                .fold(f64::INFINITY, f64::min)
                .sqrt();
            self.distances.push(d_min);
            if d_min > group.threshold {
                group.rows.extend_from_slice(x);
                group.distances.push(d_min);
                let (mean, std) = mean_std(&group.distances);
                group.threshold = group.threshold.max(mean - std);
            }
        }
        let w = self.statistic()?;
        self.last_w = w.or(self.last_w);
        let alarm = w.is_some_and(|w| w < self.config.delta);
        if alarm && self.first_alarm.is_none() {
            self.first_alarm = Some(index);
        }
        Ok(Verdict { w, alarm })
    }

    /// The Shapiro-Wilk statistic of the distances (the last [`MAX_SAMPLE`] of them) within three
    /// standard deviations of their mean, once there are enough.
    fn statistic(&self) -> Result<Option<f64>> {
        if self.distances.len() < self.config.min_distances {
            return Ok(None);
        }
        let recent = &self.distances[self.distances.len().saturating_sub(MAX_SAMPLE)..];
        let (mean, std) = mean_std(recent);
        let kept: Vec<f64> = recent
            .iter()
            .copied()
            .filter(|d| (d - mean).abs() <= 3.0 * std)
            .collect();
        if kept.len() < 3 || kept.iter().all(|d| d.total_cmp(&kept[0]).is_eq()) {
            // Identical distances (repeated queries) are as far from natural as it gets.
            return Ok(Some(0.0));
        }
        Ok(Some(shapiro_wilk(&kept)?.w))
    }
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::{Prada, PradaDetector};

    #[test]
    fn classes_are_kept_as_seen_and_bad_rows_refused() {
        let mut d = PradaDetector::new(Prada::default(), 2, 1000).unwrap();
        d.observe(&[0.0, 0.0], 999).unwrap();
        d.observe(&[1.0, 0.0], 999).unwrap();
        assert_eq!(d.kept_rows(), 2);
        assert!(d.observe(&[0.0; 3], 0).is_err());
        assert!(d.observe(&[0.0; 2], 1000).is_err());
        assert!(d.observe(&[f32::NAN; 2], 0).is_err());
        assert!(PradaDetector::new(Prada::default(), 0, 2).is_err());
        let bad = Prada {
            delta: 1.0,
            min_distances: 100,
        };
        assert!(PradaDetector::new(bad, 2, 2).is_err());
    }

    #[test]
    fn repeated_queries_raise_the_alarm() {
        let config = Prada {
            delta: 0.9,
            min_distances: 10,
        };
        let mut d = PradaDetector::new(config, 2, 2).unwrap();
        let mut alarm = None;
        for i in 0..40 {
            let v = d.observe(&[1.0, 2.0], 0).unwrap();
            if v.alarm && alarm.is_none() {
                alarm = Some(i);
            }
        }
        // The first query starts the set; the tenth distance comes with the eleventh query.
        assert_eq!(alarm, Some(10));
        assert_eq!(d.first_alarm(), Some(10));
        assert_eq!(d.last_w(), Some(0.0));
    }
}
