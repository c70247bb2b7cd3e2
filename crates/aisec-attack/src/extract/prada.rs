//! PRADA (Juuti et al., EuroS&P 2019) as a defense under measurement: the detector itself lives
//! in [`aisec_core::stats::prada`] (the guard runs it per client key too); here
//! [`PradaGuard`] puts it in front of a model and refuses every query once it has fired, and
//! [`screen`] runs it over a recorded stream.

use std::sync::Mutex;

use aisec_ml::candle::Tensor;
use aisec_ml::{Classifier, MlError, ModelInfo, Queries};
use serde::Serialize;

pub use aisec_core::stats::prada::{MAX_QUERIES, Prada, PradaDetector, Verdict};

use super::{QueryStream, argmax};
use crate::error::Result;

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
