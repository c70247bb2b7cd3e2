//! Model inversion with MIFace (Fredrikson, Jha & Ristenpart, CCS 2015), white-box: gradient
//! descent on the input to make the model as sure as it can be of a chosen class, giving the
//! input the model holds as that class's prototype.
//!
//! The cost is `1 - p_c(x)` (the paper's) or `-log p_c(x)` (whose gradient does not vanish while
//! `p_c` is still tiny); each step moves the input against the cost's gradient and clips it to
//! the model's input range. A class stops when its confidence reaches the threshold, or when its
//! cost has not improved for a window of steps, or at the iteration bound; the input with the
//! lowest cost seen is kept.
//!
//! A reconstruction is only a privacy problem if it shows something of the training data, so
//! the run also compares each one with the class means of real rows: the correlation with each
//! (which decides) and the nearest mean in L2, so the report says whether the model gives away a
//! recognisable class prototype or an adversarial pattern that only the model reads as the
//! class.

use std::time::Instant;

use aisec_core::{Confidence, Finding, Location, Severity};
use aisec_ml::candle::{D, Tensor};
use aisec_ml::{Classifier, DType, Device, Queries, WhiteBox, ops};
use serde::{Deserialize, Serialize};

use crate::error::{AttackError, Result};

/// Most gradient steps per class.
pub const MAX_ITER: usize = 100_000;
/// Most classes inverted in one run.
pub const MAX_CLASSES: usize = 1000;
/// Most values in one input.
pub const MAX_SAMPLE_LEN: usize = 1 << 20;
/// Most reference rows used for the class means.
pub const MAX_REFERENCE_ROWS: usize = 200_000;
/// Most values (rows times input size) held at once, for the reconstructions and the reference.
pub const MAX_CELLS: usize = 50_000_000;

/// What the cost is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cost {
    /// `1 - p_c(x)`, as in the paper and ART.
    Confidence,
    /// `-log p_c(x)`: the same optimum, with a gradient that does not vanish far from it.
    LogConfidence,
}

/// Where the descent starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Start {
    /// Every value 0 (clipped to the input range).
    Zeros,
    /// Every value at the middle of the input range.
    Grey,
    /// The mean of the reference rows (every class together).
    Mean,
}

/// Why a class's descent stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stop {
    /// The confidence reached the threshold.
    Confident,
    /// The cost did not improve for a window of steps.
    Stalled,
    /// The iteration bound.
    MaxIter,
}

/// MIFace's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MiFace {
    /// Most gradient steps per class.
    pub max_iter: usize,
    /// Steps without a lower cost after which a class stops.
    pub window: usize,
    /// The target confidence at which a class stops.
    pub threshold: f64,
    /// Step size on the cost's gradient.
    pub learning_rate: f64,
    /// The cost.
    pub cost: Cost,
}

impl Default for MiFace {
    fn default() -> Self {
        Self {
            max_iter: 10_000,
            window: 100,
            threshold: 0.99,
            learning_rate: 0.1,
            cost: Cost::Confidence,
        }
    }
}

/// One class's reconstruction.
#[derive(Debug, Clone)]
pub struct Reconstruction {
    /// The target class.
    pub class: u32,
    /// The input with the lowest cost seen (`C*H*W` values).
    pub input: Vec<f32>,
    /// Its cost.
    pub cost: f64,
    /// The target's probability there.
    pub confidence: f64,
    /// Gradient steps taken.
    pub iterations: usize,
    /// Why it stopped.
    pub stop: Stop,
}

impl MiFace {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        if self.max_iter == 0 || self.max_iter > MAX_ITER {
            return Err(AttackError::Parameter(format!(
                "max iterations {} must lie in [1, {MAX_ITER}]",
                self.max_iter
            )));
        }
        if self.window == 0 {
            return Err(AttackError::Parameter("the window must be positive".into()));
        }
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err(AttackError::Parameter(format!(
                "threshold {} must lie in (0, 1]",
                self.threshold
            )));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(AttackError::Parameter(format!(
                "learning rate {} must be positive",
                self.learning_rate
            )));
        }
        Ok(())
    }

    /// Inverts `classes[i]` from `starts` row `i` (`[N, ...input_shape]`), all rows descending
    /// together.
    pub fn invert(
        &self,
        model: &dyn WhiteBox,
        classes: &[u32],
        starts: &Tensor,
    ) -> Result<Vec<Reconstruction>> {
        self.validate()?;
        let info = model.info();
        let k = info.num_classes;
        let len = info.sample_len();
        let n = classes.len();
        if starts.dim(0)? != n {
            return Err(AttackError::Parameter(format!(
                "{} starts for {n} classes",
                starts.dim(0)?
            )));
        }
        if let Some(bad) = classes.iter().find(|&&c| c as usize >= k) {
            return Err(AttackError::Parameter(format!(
                "class {bad} is outside the model's {k} classes"
            )));
        }
        let [lo, hi] = info.input_range;
        let mut x: Vec<Vec<f32>> = starts
            .flatten_from(1)?
            .to_dtype(DType::F32)?
            .to_vec2::<f32>()?;
        if x.first().is_some_and(|r| r.len() != len) {
            return Err(AttackError::Parameter(format!(
                "starts hold {} values per row, the model takes {len}",
                x[0].len()
            )));
        }
        let mut best: Vec<(f64, f64, Vec<f32>)> =
            x.iter().map(|r| (f64::INFINITY, 0.0, r.clone())).collect();
        let mut best_at = vec![0usize; n];
        let mut iterations = vec![0usize; n];
        let mut stop = vec![Stop::MaxIter; n];
        let mut active: Vec<usize> = (0..n).collect();
        let cost = self.cost;
        for it in 0..self.max_iter {
            if active.is_empty() {
                break;
            }
            let labels: Vec<u32> = active.iter().map(|&r| classes[r]).collect();
            let mut flat = Vec::with_capacity(active.len() * len);
            for &r in &active {
                flat.extend_from_slice(&x[r]);
            }
            let batch = Tensor::from_vec(flat, info.batch_shape(active.len()), &Device::Cpu)?;
            let (costs, grad) = model.input_gradient(&batch, &|logits| {
                let logits = logits.to_dtype(DType::F32)?;
                match cost {
                    Cost::Confidence => {
                        let onehot = ops::one_hot(&labels, k, DType::F32, logits.device())?;
                        let p = ops::softmax(&logits)?.mul(&onehot)?.sum(D::Minus1)?;
                        Ok(p.affine(-1.0, 1.0)?)
                    }
                    Cost::LogConfidence => ops::cross_entropy_per_sample(&logits, &labels),
                }
            })?;
            let costs = costs.to_dtype(DType::F64)?.to_vec1::<f64>()?;
            let grad = grad
                .flatten_from(1)?
                .to_dtype(DType::F32)?
                .to_vec2::<f32>()?;
            let mut still = Vec::with_capacity(active.len());
            for (j, &r) in active.iter().enumerate() {
                let c = costs[j];
                if !c.is_finite() {
                    return Err(AttackError::NonFinite {
                        what: "MIFace cost",
                    });
                }
                iterations[r] = it + 1;
                let confidence = match cost {
                    Cost::Confidence => 1.0 - c,
                    Cost::LogConfidence => (-c).exp(),
                };
                if c < best[r].0 {
                    best[r] = (c, confidence, x[r].clone());
                    best_at[r] = it;
                }
                if confidence >= self.threshold {
                    stop[r] = Stop::Confident;
                } else if it - best_at[r] >= self.window {
                    stop[r] = Stop::Stalled;
                } else {
                    let step = self.learning_rate as f32;
                    for (v, g) in x[r].iter_mut().zip(&grad[j]) {
                        *v = (*v - step * g).clamp(lo, hi);
                    }
                    still.push(r);
                }
            }
            active = still;
        }
        Ok(best
            .into_iter()
            .enumerate()
            .map(|(r, (cost, confidence, input))| Reconstruction {
                class: classes[r],
                input,
                cost,
                confidence,
                iterations: iterations[r],
                stop: stop[r],
            })
            .collect())
    }
}

/// What to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InversionPlan {
    /// The classes to invert (empty: every class).
    pub classes: Vec<u32>,
    /// Where the descent starts.
    pub start: Start,
    /// MIFace's parameters.
    pub miface: MiFace,
    /// The confidence the model must give a reconstruction for it to count as the class.
    pub min_confidence: f64,
}

impl Default for InversionPlan {
    fn default() -> Self {
        Self {
            classes: Vec::new(),
            start: Start::Zeros,
            miface: MiFace::default(),
            min_confidence: 0.5,
        }
    }
}

/// One class's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct ClassInversion {
    /// The target class.
    pub class: u32,
    /// Its name, when the model has names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The class the model predicts for the reconstruction.
    pub predicted: u32,
    /// The model's probability of the target class on the reconstruction.
    pub confidence: f64,
    /// Gradient steps taken.
    pub iterations: usize,
    /// Why the descent stopped.
    pub stop: Stop,
    /// The class whose mean of real rows is nearest (L2) to the reconstruction.
    pub nearest_mean: Option<u32>,
    /// L2 distance to the target class's mean.
    pub distance_to_target_mean: Option<f64>,
    /// L2 distance to the nearest class mean.
    pub distance_to_nearest_mean: Option<f64>,
    /// Pearson correlation with the target class's mean.
    pub correlation_with_target_mean: Option<f64>,
    /// The class whose mean correlates best with the reconstruction.
    pub best_correlated_mean: Option<u32>,
    /// Whether the model assigns the reconstruction to the target (at `min_confidence`) and the
    /// class mean it correlates with best is the target's: a usable class prototype.
    /// Correlation, not distance, decides: it ignores brightness and contrast, and a faint
    /// reconstruction (the usual result from a dark start) lies nearest in L2 to whichever mean
    /// has the least ink, whatever its shape.
    pub recognisable: bool,
}

/// Everything one inversion run measured.
#[derive(Debug, Clone, Serialize)]
pub struct InversionRun {
    /// The model's name.
    pub model: String,
    /// The shape of one input.
    pub input_shape: Vec<usize>,
    /// The input range.
    pub input_range: [f32; 2],
    /// The plan.
    pub plan: InversionPlan,
    /// Reference rows behind the class means.
    pub reference_rows: usize,
    /// One outcome per class.
    pub classes: Vec<ClassInversion>,
    /// Classes the model assigns their reconstruction to, at `min_confidence`.
    pub confident: usize,
    /// Classes whose reconstruction is recognisable (see [`ClassInversion::recognisable`]).
    pub recognisable: usize,
    /// Gradient and prediction rows used.
    pub queries: Queries,
    /// Wall time.
    pub seconds: f64,
    /// The reconstructions, one per class (for the picture).
    #[serde(skip)]
    pub reconstructions: Vec<Vec<f32>>,
    /// The class means of the reference rows (`None` for a class without rows).
    #[serde(skip)]
    pub class_means: Vec<Option<Vec<f32>>>,
}

/// Per-class means of `x` (`[N, ...]`), `None` for a class without rows.
fn class_means(x: &Tensor, labels: &[u32], k: usize) -> Result<Vec<Option<Vec<f32>>>> {
    let rows = x.flatten_from(1)?.to_dtype(DType::F32)?.to_vec2::<f32>()?;
    let len = rows.first().map_or(0, Vec::len);
    let mut sums = vec![vec![0f64; len]; k];
    let mut counts = vec![0usize; k];
    for (row, &l) in rows.iter().zip(labels) {
        let l = l as usize;
        if l >= k {
            return Err(AttackError::Parameter(format!(
                "label {l} is outside the model's {k} classes"
            )));
        }
        counts[l] += 1;
        for (s, v) in sums[l].iter_mut().zip(row) {
            *s += f64::from(*v);
        }
    }
    Ok(sums
        .into_iter()
        .zip(counts)
        .map(|(s, c)| (c > 0).then(|| s.iter().map(|v| (v / c as f64) as f32).collect()))
        .collect())
}

fn distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Pearson correlation (0 when either side is constant).
fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().max(1) as f64;
    let ma = a.iter().map(|v| f64::from(*v)).sum::<f64>() / n;
    let mb = b.iter().map(|v| f64::from(*v)).sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (f64::from(*x) - ma, f64::from(*y) - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    if saa <= 0.0 || sbb <= 0.0 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// Inverts the plan's classes of `model` with MIFace and measures how recognisable each
/// reconstruction is against the class means of `reference` (real rows with labels, e.g. the
/// training set). A black-box target gives [`AttackError::NeedsGradients`].
pub fn run_inversion(
    model: &dyn Classifier,
    reference: (&Tensor, &[u32]),
    plan: &InversionPlan,
    progress: &mut dyn FnMut(&str),
) -> Result<InversionRun> {
    let started = Instant::now();
    plan.miface.validate()?;
    let info = model.info().clone();
    let wb = model
        .white_box()
        .ok_or_else(|| AttackError::NeedsGradients {
            attack: "model inversion (MIFace)",
            model: info.name.clone(),
        })?;
    let k = info.num_classes;
    let len = info.sample_len();
    if len == 0 || len > MAX_SAMPLE_LEN {
        return Err(AttackError::TooLarge {
            what: "input size",
            got: len,
            max: MAX_SAMPLE_LEN,
        });
    }
    if !(0.0..=1.0).contains(&plan.min_confidence) {
        return Err(AttackError::Parameter(format!(
            "minimum confidence {} must lie in [0, 1]",
            plan.min_confidence
        )));
    }
    let classes: Vec<u32> = if plan.classes.is_empty() {
        (0..k.min(MAX_CLASSES) as u32).collect()
    } else {
        plan.classes.clone()
    };
    if classes.len() > MAX_CLASSES {
        return Err(AttackError::TooLarge {
            what: "classes to invert",
            got: classes.len(),
            max: MAX_CLASSES,
        });
    }
    for (what, got) in [
        (
            "classes times input size",
            classes.len().saturating_mul(len),
        ),
        ("reference rows times input size", reference.0.elem_count()),
    ] {
        if got > MAX_CELLS {
            return Err(AttackError::TooLarge {
                what,
                got,
                max: MAX_CELLS,
            });
        }
    }
    let (ref_x, ref_labels) = reference;
    let rows = ref_x.dim(0)?;
    if rows != ref_labels.len() {
        return Err(AttackError::Parameter(format!(
            "reference: {rows} rows and {} labels",
            ref_labels.len()
        )));
    }
    if rows > MAX_REFERENCE_ROWS {
        return Err(AttackError::TooLarge {
            what: "reference rows",
            got: rows,
            max: MAX_REFERENCE_ROWS,
        });
    }
    if rows > 0 && ref_x.elem_count() / rows != len {
        return Err(AttackError::Parameter(format!(
            "reference rows hold {} values, the model takes {len}",
            ref_x.elem_count() / rows
        )));
    }
    let means = if rows > 0 {
        class_means(ref_x, ref_labels, k)?
    } else {
        vec![None; k]
    };
    let [lo, hi] = info.input_range;
    let start_row: Vec<f32> = match plan.start {
        Start::Zeros => vec![0f32.clamp(lo, hi); len],
        Start::Grey => vec![lo + (hi - lo) / 2.0; len],
        Start::Mean => {
            if rows == 0 {
                return Err(AttackError::Parameter(
                    "the mean start needs reference rows".into(),
                ));
            }
            ref_x
                .flatten_from(1)?
                .to_dtype(DType::F32)?
                .mean(0)?
                .to_vec1::<f32>()?
        }
    };
    let starts = Tensor::from_vec(
        start_row.repeat(classes.len()),
        info.batch_shape(classes.len()),
        &Device::Cpu,
    )?;
    let before = model.queries();
    progress(&format!(
        "MIFace on {} classes (at most {} steps each)",
        classes.len(),
        plan.miface.max_iter
    ));
    let recon = plan.miface.invert(wb, &classes, &starts)?;
    let flat: Vec<f32> = recon.iter().flat_map(|r| r.input.iter().copied()).collect();
    let probs = model
        .predict(&Tensor::from_vec(
            flat,
            info.batch_shape(recon.len()),
            &Device::Cpu,
        )?)?
        .to_dtype(DType::F32)?
        .to_vec2::<f32>()?;
    let mut outcomes = Vec::with_capacity(recon.len());
    for (r, p) in recon.iter().zip(&probs) {
        let predicted = p
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i as u32);
        let confidence = f64::from(p[r.class as usize]);
        let dists: Vec<(u32, f64)> = means
            .iter()
            .enumerate()
            .filter_map(|(c, m)| m.as_ref().map(|m| (c as u32, distance(&r.input, m))))
            .collect();
        let corrs: Vec<(u32, f64)> = means
            .iter()
            .enumerate()
            .filter_map(|(c, m)| m.as_ref().map(|m| (c as u32, correlation(&r.input, m))))
            .collect();
        let nearest = dists.iter().min_by(|a, b| a.1.total_cmp(&b.1)).copied();
        let best_corr = corrs.iter().max_by(|a, b| a.1.total_cmp(&b.1)).copied();
        let own = |v: &[(u32, f64)]| v.iter().find(|(c, _)| *c == r.class).map(|(_, d)| *d);
        let nearest_mean = nearest.map(|(c, _)| c);
        outcomes.push(ClassInversion {
            class: r.class,
            name: info
                .class_names
                .as_ref()
                .and_then(|n| n.get(r.class as usize))
                .cloned(),
            predicted,
            confidence,
            iterations: r.iterations,
            stop: r.stop,
            nearest_mean,
            distance_to_target_mean: own(&dists),
            distance_to_nearest_mean: nearest.map(|(_, d)| d),
            correlation_with_target_mean: own(&corrs),
            best_correlated_mean: best_corr.map(|(c, _)| c),
            recognisable: predicted == r.class
                && confidence >= plan.min_confidence
                && best_corr.map(|(c, _)| c) == Some(r.class),
        });
    }
    let after = model.queries();
    Ok(InversionRun {
        model: info.name.clone(),
        input_shape: info.input_shape.clone(),
        input_range: info.input_range,
        plan: plan.clone(),
        reference_rows: rows,
        confident: outcomes
            .iter()
            .filter(|c| c.predicted == c.class && c.confidence >= plan.min_confidence)
            .count(),
        recognisable: outcomes.iter().filter(|c| c.recognisable).count(),
        classes: outcomes,
        queries: Queries {
            predictions: after.predictions.saturating_sub(before.predictions),
            gradients: after.gradients.saturating_sub(before.gradients),
        },
        seconds: started.elapsed().as_secs_f64(),
        reconstructions: recon.into_iter().map(|r| r.input).collect(),
        class_means: means,
    })
}

/// A PNG with one row per inverted class: the reconstruction (stretched from its own minimum
/// and maximum to black and white, since reconstructions are often faint), the mean of the
/// class's real rows, and the mean that correlates best with the reconstruction. Rows with a
/// recognisable reconstruction are framed. `None` when the input is not an image.
#[must_use]
pub fn inversion_grid(run: &InversionRun) -> Option<Vec<u8>> {
    let [lo, hi] = run.input_range;
    let byte = |v: f32, lo: f32, hi: f32| {
        (((v - lo) / (hi - lo).max(f32::EPSILON)).clamp(0.0, 1.0) * 255.0).round() as u8
    };
    let stretch: Vec<(f32, f32)> = run
        .reconstructions
        .iter()
        .map(|v| {
            v.iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| {
                    (a.min(x), b.max(x))
                })
        })
        .collect();
    let mean_of = |c: Option<u32>| {
        c.and_then(|c| run.class_means.get(c as usize))
            .and_then(Option::as_ref)
    };
    crate::visual::render_grid(
        run.classes.len(),
        &run.input_shape,
        |r| run.classes[r].recognisable,
        |r, col, _, i| {
            let outcome = &run.classes[r];
            match col {
                0 => run
                    .reconstructions
                    .get(r)
                    .and_then(|v| v.get(i))
                    .map_or(255, |&v| byte(v, stretch[r].0, stretch[r].1)),
                1 => mean_of(Some(outcome.class))
                    .and_then(|v| v.get(i))
                    .map_or(255, |&v| byte(v, lo, hi)),
                _ => mean_of(outcome.best_correlated_mean)
                    .and_then(|v| v.get(i))
                    .map_or(255, |&v| byte(v, lo, hi)),
            }
        },
    )
}

/// The severity of an inversion that gives `recognisable` of `classes` class prototypes.
#[must_use]
pub fn inversion_severity(recognisable: usize, classes: usize) -> Severity {
    let share = recognisable as f64 / classes.max(1) as f64;
    if share >= 0.8 {
        Severity::High
    } else if share >= 0.5 {
        Severity::Medium
    } else if recognisable > 0 {
        Severity::Low
    } else {
        Severity::Info
    }
}

/// The findings of an inversion run: AT155 when some reconstruction is recognisable, else AT156
/// (info).
#[must_use]
pub fn findings(run: &InversionRun) -> Vec<Finding> {
    let location = Location::file(run.model.clone());
    let evidence = serde_json::json!({
        "plan": run.plan,
        "reference_rows": run.reference_rows,
        "classes": run.classes,
        "confident": run.confident,
        "recognisable": run.recognisable,
        "queries": run.queries,
        "seconds": run.seconds,
    });
    let n = run.classes.len();
    let (id, message) = if run.recognisable > 0 {
        let which: Vec<String> = run
            .classes
            .iter()
            .filter(|c| c.recognisable)
            .map(|c| c.name.clone().unwrap_or_else(|| c.class.to_string()))
            .collect();
        (
            "AT155",
            format!(
                "MIFace reconstructed a recognisable prototype for {} of {n} classes ({}): the model assigns each to its class with confidence of at least {} and, of the class means of real rows, that class's correlates best with it.",
                run.recognisable,
                which.join(", "),
                run.plan.min_confidence
            ),
        )
    } else {
        (
            "AT156",
            format!(
                "MIFace made the model assign {} of {n} reconstructions to their class, but none correlates best with its own class's mean of real rows: the model gives away no recognisable prototype this way.",
                run.confident
            ),
        )
    };
    vec![crate::rules::finding(
        id,
        inversion_severity(run.recognisable, n),
        Confidence::Likely,
        &location,
        "miface",
        message,
        evidence,
    )]
}

#[cfg(test)]
mod tests {
    use super::{correlation, distance, inversion_severity};
    use aisec_core::Severity;

    #[test]
    fn similarity_measures() {
        let a = [0.0, 1.0, 2.0];
        assert!((correlation(&a, &[1.0, 3.0, 5.0]) - 1.0).abs() < 1e-12);
        assert!((correlation(&a, &[2.0, 1.0, 0.0]) + 1.0).abs() < 1e-12);
        assert!(correlation(&a, &[1.0, 1.0, 1.0]).abs() < 1e-12);
        assert!((distance(&a, &[0.0, 1.0, 0.0]) - 2.0).abs() < 1e-12);
        assert_eq!(inversion_severity(9, 10), Severity::High);
        assert_eq!(inversion_severity(0, 10), Severity::Info);
    }
}
