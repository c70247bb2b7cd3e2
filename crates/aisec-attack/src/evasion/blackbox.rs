//! What the black-box attacks (Square, HopSkipJump) share: an oracle that sends batches to
//! [`Classifier::predict`] in bounded chunks, counts the rows it sent and turns a spent query
//! budget into a clean stop; the run statistics the caller can read; the input layout the square
//! windows are cut from; and fast seeded noise.
//!
//! Both attacks keep their state as plain `Vec<f32>` rows: every step touches a few windows or
//! builds probes from noise drawn element by element, so one fused pass over the data beats a
//! chain of tensor operations. The model itself always sees whole batches.

use aisec_ml::candle::{DType, Tensor};
use aisec_ml::{Classifier, MlError, Rng};
use serde::Serialize;

use super::Goal;
use crate::error::{AttackError, Result};

/// What one black-box run did, for the caller's report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BlackBoxStats {
    /// Rows this run sent to `predict`.
    pub queries: u64,
    /// The model refused a query because its budget was spent. The run stopped there and
    /// returned the best rows it had: eps-bounded attacks their best attempt, minimum-norm
    /// attacks their smallest adversarial row so far (or the clean row when they had none).
    pub budget_exhausted: bool,
    /// Iterations completed (summed over restarts).
    pub iterations: usize,
    /// Rows for which no adversarial starting point was found (HopSkipJump); they come back
    /// unchanged.
    pub rows_without_start: usize,
}

/// Input elements per `predict` call: large probe sets are split into calls of about this size,
/// so that memory stays bounded whatever the number of evaluations and the activations stay in
/// cache (a small CNN on 8x8 inputs runs fastest per row at about 512 rows a call on one thread,
/// and nearly three times slower per row at 8192).
const CHUNK_ELEMENTS: usize = 1 << 15;
/// Bounds on the rows of one `predict` call.
const CHUNK_ROWS: (usize, usize) = (32, 512);

/// The attacks' only door to the model: `predict`, chunked and counted, with the budget turned
/// into a flag.
pub(crate) struct Oracle<'a> {
    model: &'a dyn Classifier,
    shape: Vec<usize>,
    sample_len: usize,
    num_classes: usize,
    pub(crate) stats: BlackBoxStats,
}

impl<'a> Oracle<'a> {
    pub(crate) fn new(model: &'a dyn Classifier) -> Self {
        let info = model.info();
        Self {
            model,
            shape: info.input_shape.clone(),
            sample_len: info.sample_len(),
            num_classes: info.num_classes,
            stats: BlackBoxStats::default(),
        }
    }

    /// The model's number of classes.
    pub(crate) fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Rows per `predict` call.
    pub(crate) fn chunk_rows(&self) -> usize {
        (CHUNK_ELEMENTS / self.sample_len.max(1)).clamp(CHUNK_ROWS.0, CHUNK_ROWS.1)
    }

    fn batch(&self, rows: &[f32]) -> Result<Tensor> {
        let n = rows.len() / self.sample_len;
        let mut shape = vec![n];
        shape.extend(&self.shape);
        Ok(Tensor::from_slice(rows, shape, &aisec_ml::Device::Cpu)?)
    }

    /// One call: probabilities `[n * K]` row-major, or `None` once the budget is spent.
    fn call(&mut self, rows: &[f32]) -> Result<Option<Vec<f32>>> {
        if self.stats.budget_exhausted {
            return Ok(None);
        }
        let n = rows.len() / self.sample_len;
        let batch = self.batch(rows)?;
        match self.model.predict(&batch) {
            Ok(p) => {
                self.stats.queries += n as u64;
                let p = p.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
                if p.len() != n * self.num_classes {
                    return Err(AttackError::Model(MlError::Target(format!(
                        "predict returned {} values for {n} rows of {} classes",
                        p.len(),
                        self.num_classes
                    ))));
                }
                Ok(Some(p))
            }
            Err(MlError::BudgetExhausted { .. }) => {
                self.stats.budget_exhausted = true;
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Class probabilities `[n * K]` for `n` rows laid end to end, or `None` once the budget
    /// is spent.
    pub(crate) fn probabilities(&mut self, rows: &[f32]) -> Result<Option<Vec<f32>>> {
        let step = self.chunk_rows() * self.sample_len;
        if rows.len() <= step {
            return self.call(rows);
        }
        let mut out = Vec::with_capacity(rows.len() / self.sample_len * self.num_classes);
        for chunk in rows.chunks(step) {
            match self.call(chunk)? {
                Some(p) => out.extend(p),
                None => return Ok(None),
            }
        }
        Ok(Some(out))
    }

    /// The predicted class of each of `n` rows, or `None` once the budget is spent.
    pub(crate) fn labels(&mut self, rows: &[f32]) -> Result<Option<Vec<u32>>> {
        Ok(self
            .probabilities(rows)?
            .map(|p| p.chunks(self.num_classes).map(argmax).collect()))
    }

    /// Whether each row meets the goal of the original row `owner[i]`, or `None` once the
    /// budget is spent.
    pub(crate) fn adversarial(
        &mut self,
        rows: &[f32],
        owner: impl Fn(usize) -> usize,
        goal: &Goal,
    ) -> Result<Option<Vec<bool>>> {
        Ok(self.labels(rows)?.map(|labels| {
            labels
                .iter()
                .enumerate()
                .map(|(i, &p)| meets(goal, owner(i), p))
                .collect()
        }))
    }
}

/// Whether class `predicted` meets the goal for row `row`.
pub(crate) fn meets(goal: &Goal, row: usize, predicted: u32) -> bool {
    match &goal.targets {
        Some(t) => predicted == t[row],
        None => predicted != goal.labels[row],
    }
}

/// The first index of the largest value.
pub(crate) fn argmax(p: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in p.iter().enumerate() {
        if v > p[best] {
            best = i;
        }
    }
    best as u32
}

/// Checks a batch and its goal against the model, and returns the batch as f32 rows.
pub(crate) fn rows_of(model: &dyn Classifier, x: &Tensor, goal: &Goal) -> Result<Vec<f32>> {
    let info = model.info();
    let n = x.dim(0)?;
    if x.dims() != info.batch_shape(n).as_slice() {
        return Err(AttackError::Parameter(format!(
            "input shape {:?}, the model expects {:?}",
            x.dims(),
            info.batch_shape(n)
        )));
    }
    if goal.labels.len() != n || goal.targets.as_ref().is_some_and(|t| t.len() != n) {
        return Err(AttackError::Parameter(format!(
            "{n} rows and {} labels{}",
            goal.labels.len(),
            goal.targets
                .as_ref()
                .map(|t| format!(", {} targets", t.len()))
                .unwrap_or_default()
        )));
    }
    let k = info.num_classes;
    if let Some(bad) = goal
        .labels
        .iter()
        .chain(goal.targets.iter().flatten())
        .find(|&&c| c as usize >= k)
    {
        return Err(AttackError::Parameter(format!(
            "class {bad} is out of range for a model of {k} classes"
        )));
    }
    Ok(x.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
}

/// The batch tensor `[n, ...input_shape]` for rows laid end to end.
pub(crate) fn tensor_of(model: &dyn Classifier, rows: Vec<f32>) -> Result<Tensor> {
    let info = model.info();
    let n = rows.len() / info.sample_len().max(1);
    Ok(Tensor::from_vec(
        rows,
        info.batch_shape(n),
        &aisec_ml::Device::Cpu,
    )?)
}

/// How a sample's elements are laid out for windows: `channels` planes of `height x width`.
/// `[C, H, W]` inputs are images; `[H, W]` is one channel; a flat `[D]` vector is one channel
/// of height 1, whose windows are runs of consecutive features; longer shapes fold their leading
/// axes into channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) channels: usize,
    pub(crate) height: usize,
    pub(crate) width: usize,
}

impl Layout {
    pub(crate) fn of(shape: &[usize]) -> Self {
        match shape {
            [] => Self {
                channels: 1,
                height: 1,
                width: 1,
            },
            [d] => Self {
                channels: 1,
                height: 1,
                width: *d,
            },
            [h, w] => Self {
                channels: 1,
                height: *h,
                width: *w,
            },
            [lead @ .., h, w] => Self {
                channels: lead.iter().product(),
                height: *h,
                width: *w,
            },
        }
    }

    /// Elements per channel plane.
    pub(crate) fn plane(&self) -> usize {
        self.height * self.width
    }

    /// A flat vector (windows are 1-D runs).
    pub(crate) fn is_flat(&self) -> bool {
        self.height == 1
    }
}

/// Layers of the ziggurat below.
const LAYERS: usize = 128;
/// Where the base layer's tail starts, for 128 layers of equal area (Marsaglia and Tsang, 2000).
const TAIL: f64 = 3.442_619_855_899;
/// The area of each layer under `exp(-x^2 / 2)`.
const AREA: f64 = 9.912_563_035_262_17e-3;

/// The layers' right edges `x`, decreasing from the base layer's virtual width to 0, and the
/// density `exp(-x^2 / 2)` at each.
struct Ziggurat {
    x: [f64; LAYERS + 1],
    f: [f64; LAYERS + 1],
}

fn ziggurat() -> &'static Ziggurat {
    static TABLE: std::sync::OnceLock<Ziggurat> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let f = |x: f64| (-0.5 * x * x).exp();
        let mut x = [0.0; LAYERS + 1];
        x[0] = AREA / f(TAIL);
        x[1] = TAIL;
        for i in 1..LAYERS - 1 {
            x[i + 1] = (-2.0 * (AREA / x[i] + f(x[i])).ln()).sqrt();
        }
        x[LAYERS] = 0.0;
        Ziggurat { x, f: x.map(f) }
    })
}

/// Fills `out` with standard normal samples: the ziggurat method, one 64-bit draw per sample in
/// all but about 1% of cases (7 bits pick the layer, 53 the position).
pub(crate) fn fill_normal(rng: &mut Rng, out: &mut [f32]) {
    let Ziggurat { x, f } = ziggurat();
    for o in out {
        *o = loop {
            let bits = rng.next_u64();
            let i = (bits & (LAYERS as u64 - 1)) as usize;
            let u = (bits >> 11) as f64 * (1.0 / (1u64 << 52) as f64) - 1.0;
            let v = u * x[i];
            if v.abs() < x[i + 1] {
                break v as f32;
            }
            if i == 0 {
                // The tail beyond TAIL (Marsaglia's method).
                let t = loop {
                    let a = -rng.uniform().max(f64::MIN_POSITIVE).ln() / TAIL;
                    let b = -rng.uniform().max(f64::MIN_POSITIVE).ln();
                    if 2.0 * b > a * a {
                        break TAIL + a;
                    }
                };
                break (if u < 0.0 { -t } else { t }) as f32;
            }
            let y = f[i] + rng.uniform() * (f[i + 1] - f[i]);
            if y < (-0.5 * v * v).exp() {
                break v as f32;
            }
        };
    }
}

/// Fills `out` with uniform samples in [-1, 1) (two per draw).
pub(crate) fn fill_uniform_pm1(rng: &mut Rng, out: &mut [f32]) {
    let scale = 2.0 / 4_294_967_296.0;
    for pair in out.chunks_mut(2) {
        let bits = rng.next_u64();
        pair[0] = (f64::from((bits >> 32) as u32) * scale - 1.0) as f32;
        if let Some(b) = pair.get_mut(1) {
            *b = (f64::from(bits as u32) * scale - 1.0) as f32;
        }
    }
}

/// A random sign.
pub(crate) fn sign(rng: &mut Rng) -> f32 {
    if rng.next_u64() >> 63 == 0 { -1.0 } else { 1.0 }
}

/// Euclidean norm of a slice (accumulated in f64).
pub(crate) fn l2(v: &[f32]) -> f32 {
    v.iter()
        .map(|&a| f64::from(a) * f64::from(a))
        .sum::<f64>()
        .sqrt() as f32
}

/// Distance between two rows in `norm`.
pub(crate) fn distance(a: &[f32], b: &[f32], norm: super::Norm) -> f32 {
    match norm {
        super::Norm::L2 => a
            .iter()
            .zip(b)
            .map(|(&p, &q)| {
                let d = f64::from(p) - f64::from(q);
                d * d
            })
            .sum::<f64>()
            .sqrt() as f32,
        super::Norm::Linf => a
            .iter()
            .zip(b)
            .map(|(&p, &q)| (p - q).abs())
            .fold(0.0, f32::max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts() {
        assert_eq!(
            Layout::of(&[3, 8, 6]),
            Layout {
                channels: 3,
                height: 8,
                width: 6
            }
        );
        assert!(Layout::of(&[64]).is_flat());
        assert_eq!(Layout::of(&[2, 3, 4, 5]).channels, 6);
    }

    #[test]
    fn noise_has_the_right_moments() {
        let mut rng = Rng::new(3);
        let mut v = vec![0.0; 40_001];
        fill_normal(&mut rng, &mut v);
        let mean = v.iter().map(|&a| f64::from(a)).sum::<f64>() / v.len() as f64;
        let var = v
            .iter()
            .map(|&a| (f64::from(a) - mean).powi(2))
            .sum::<f64>()
            / v.len() as f64;
        assert!(
            mean.abs() < 0.02 && (var - 1.0).abs() < 0.03,
            "{mean} {var}"
        );
        fill_uniform_pm1(&mut rng, &mut v);
        assert!(v.iter().all(|a| (-1.0..1.0).contains(a)));
        let mean = v.iter().map(|&a| f64::from(a)).sum::<f64>() / v.len() as f64;
        assert!(mean.abs() < 0.02, "{mean}");
    }
}
