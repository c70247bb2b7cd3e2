//! PRADA (Juuti et al., "PRADA: Protecting Against DNN Model Stealing Attacks", IEEE EuroS&P
//! 2019): a detector of extraction query streams. Natural queries from one client are spread
//! like natural data, so the distance from each new query to the nearest earlier query of the
//! same predicted class is roughly normally distributed; synthetic or carefully chosen queries
//! bend that distribution. For each class `c` the detector keeps a growing set `G_c` of queries;
//! a new query of class `c` adds its minimum L2 distance to `G_c` to the set `D`, and joins `G_c`
//! when that distance is above the class's threshold `T_c` (the mean minus the standard
//! deviation of the distances that grew `G_c`). Once `D` holds enough distances, a Shapiro-Wilk
//! test (on `D` within three standard deviations of its mean) whose statistic falls below
//! `delta` raises the alarm.
//!
//! [`PradaDetector`] is the streaming API; [`PradaGuard`] puts it in front of a model and refuses
//! every query once it has fired; [`screen`] runs it over a recorded stream.

use std::sync::Mutex;

use aisec_ml::candle::Tensor;
use aisec_ml::{Classifier, MlError, ModelInfo, Queries};
use serde::{Deserialize, Serialize};

use super::normality::{MAX_SAMPLE, shapiro_wilk};
use super::{QueryStream, argmax};
use crate::error::{AttackError, Result};

/// The most queries one detector keeps (memory and time grow with them).
pub const MAX_QUERIES: usize = 200_000;

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
    pub fn validate(&self) -> Result<()> {
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(AttackError::Parameter(format!(
                "PRADA's delta must lie in (0, 1), not {}",
                self.delta
            )));
        }
        if !(3..=MAX_SAMPLE).contains(&self.min_distances) {
            return Err(AttackError::Parameter(format!(
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

/// The streaming detector.
#[derive(Debug, Clone)]
pub struct PradaDetector {
    config: Prada,
    dim: usize,
    /// Per class: the growing set (flattened rows).
    groups: Vec<Vec<f32>>,
    /// Per class: the distances that grew its set, and its threshold.
    group_distances: Vec<Vec<f64>>,
    thresholds: Vec<f64>,
    /// Every minimum distance.
    distances: Vec<f64>,
    queries: usize,
    first_alarm: Option<usize>,
}

impl PradaDetector {
    /// A detector for rows of `dim` elements and `classes` classes.
    pub fn new(config: Prada, dim: usize, classes: usize) -> Result<Self> {
        config.validate()?;
        if dim == 0 || classes == 0 {
            return Err(AttackError::Parameter(
                "PRADA needs rows and classes".into(),
            ));
        }
        Ok(Self {
            config,
            dim,
            groups: vec![Vec::new(); classes],
            group_distances: vec![Vec::new(); classes],
            thresholds: vec![0.0; classes],
            distances: Vec::new(),
            queries: 0,
            first_alarm: None,
        })
    }

    /// Queries observed.
    #[must_use]
    pub fn queries(&self) -> usize {
        self.queries
    }

    /// The 0-based index of the query that first raised the alarm.
    #[must_use]
    pub fn first_alarm(&self) -> Option<usize> {
        self.first_alarm
    }

    /// Observes query `x` whose predicted class is `class`.
    pub fn observe(&mut self, x: &[f32], class: usize) -> Result<Verdict> {
        if x.len() != self.dim {
            return Err(AttackError::Parameter(format!(
                "a {}-element query for a detector of {}-element rows",
                x.len(),
                self.dim
            )));
        }
        if class >= self.groups.len() {
            return Err(AttackError::Parameter(format!(
                "class {class} of {}",
                self.groups.len()
            )));
        }
        if self.queries >= MAX_QUERIES {
            return Err(AttackError::TooLarge {
                what: "PRADA queries",
                got: self.queries + 1,
                max: MAX_QUERIES,
            });
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(AttackError::NonFinite { what: "query" });
        }
        let index = self.queries;
        self.queries += 1;
        let group = &mut self.groups[class];
        if group.is_empty() {
            group.extend_from_slice(x);
        } else {
            let d_min = group
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
            if d_min > self.thresholds[class] {
                group.extend_from_slice(x);
                let gd = &mut self.group_distances[class];
                gd.push(d_min);
                let (mean, std) = mean_std(gd);
                self.thresholds[class] = self.thresholds[class].max(mean - std);
            }
        }
        let w = self.statistic()?;
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

/// What the detector made of a whole stream.
#[derive(Debug, Clone, Serialize)]
pub struct Screening {
    /// Queries in the stream.
    pub queries: usize,
    /// Queries the attacker had answered before the alarm (the stream's length without one).
    pub answered_before_alarm: usize,
    /// Whether the alarm fired.
    pub detected: bool,
    /// Queries at which a test ran.
    pub tested: usize,
    /// Queries at which the statistic was below delta.
    pub alarms: usize,
    /// The lowest statistic seen.
    pub min_w: Option<f64>,
    /// The statistic after the last query.
    pub last_w: Option<f64>,
}

/// Runs a fresh detector over a recorded stream.
pub fn screen(config: Prada, stream: &QueryStream, classes: usize) -> Result<Screening> {
    let mut detector = PradaDetector::new(config, stream.dim, classes)?;
    let mut out = Screening {
        queries: stream.len(),
        answered_before_alarm: stream.len(),
        detected: false,
        tested: 0,
        alarms: 0,
        min_w: None,
        last_w: None,
    };
    for i in 0..stream.len() {
        let v = detector.observe(stream.row(i), stream.classes[i] as usize)?;
        if let Some(w) = v.w {
            out.tested += 1;
            out.min_w = Some(out.min_w.map_or(w, |m: f64| m.min(w)));
            out.last_w = Some(w);
        }
        if v.alarm {
            out.alarms += 1;
        }
    }
    if let Some(i) = detector.first_alarm() {
        out.detected = true;
        out.answered_before_alarm = i;
    }
    Ok(out)
}

/// A model behind PRADA: each query is answered only while the stream looks natural; from the
/// first alarm on, every query is refused (the batch that raised it included).
pub struct PradaGuard<'a> {
    inner: &'a dyn Classifier,
    detector: Mutex<PradaDetector>,
    info: ModelInfo,
}

impl<'a> PradaGuard<'a> {
    /// `inner` behind a fresh detector.
    pub fn new(inner: &'a dyn Classifier, config: Prada) -> Result<Self> {
        let mut info = inner.info().clone();
        let detector = PradaDetector::new(config, info.sample_len(), info.num_classes)?;
        info.name = format!("{} (PRADA)", info.name);
        Ok(Self {
            inner,
            detector: Mutex::new(detector),
            info,
        })
    }

    /// The query index at which the alarm fired.
    #[must_use]
    pub fn first_alarm(&self) -> Option<usize> {
        self.detector.lock().map_or(None, |d| d.first_alarm())
    }
}

impl Classifier for PradaGuard<'_> {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn predict(&self, x: &Tensor) -> aisec_ml::Result<Tensor> {
        let mut detector = self
            .detector
            .lock()
            .map_err(|_| MlError::Target("the PRADA detector failed earlier".into()))?;
        let refuse = |at: usize| {
            MlError::Target(format!(
                "PRADA flagged this query stream as model extraction at query {}; further queries are refused",
                at + 1
            ))
        };
        if let Some(at) = detector.first_alarm() {
            return Err(refuse(at));
        }
        let answers = self.inner.predict(x)?;
        let probs = answers.to_dtype(aisec_ml::DType::F32)?.to_vec2::<f32>()?;
        let rows = x.flatten_from(1)?.to_vec2::<f32>()?;
        for (row, p) in rows.iter().zip(&probs) {
            let verdict = detector
                .observe(row, argmax(p))
                .map_err(|e| MlError::Target(format!("PRADA: {e}")))?;
            if verdict.alarm {
                return Err(refuse(detector.first_alarm().unwrap_or(0)));
            }
        }
        Ok(answers)
    }

    fn queries(&self) -> Queries {
        self.inner.queries()
    }

    fn reset_queries(&self) {
        self.inner.reset_queries();
    }

    fn labels_only(&self) -> bool {
        self.inner.labels_only()
    }
}
