//! Operations whose gradients candle gets wrong or leaves out, written here with their backward
//! passes: 2-D max and average pooling for any kernel, stride and padding, and the softmax family
//! built from primitives (candle's fused `softmax_last_dim` has no backward at all).

use candle_core::{CpuStorage, CustomOp1, D, DType, Layout, Shape, Tensor};

use crate::error::Result;

/// Pooling geometry: a square kernel, a stride and zero (or minus-infinity) padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool2d {
    /// Kernel side.
    pub kernel: usize,
    /// Step between windows.
    pub stride: usize,
    /// Padding on each side.
    pub padding: usize,
}

impl Pool2d {
    /// The output side for an input side `n`, or `None` when the window does not fit.
    #[must_use]
    pub fn out_len(&self, n: usize) -> Option<usize> {
        let padded = n + 2 * self.padding;
        if self.kernel == 0 || self.stride == 0 || padded < self.kernel {
            return None;
        }
        Some((padded - self.kernel) / self.stride + 1)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum PoolKind {
    Max,
    /// Average over the window, padding counted (PyTorch's `count_include_pad=True`).
    Avg,
}

struct PoolOp {
    geometry: Pool2d,
    kind: PoolKind,
}

struct Dims {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
}

impl PoolOp {
    fn dims(&self, shape: &Shape) -> candle_core::Result<Dims> {
        let (n, c, h, w) = shape.dims4()?;
        let (Some(oh), Some(ow)) = (self.geometry.out_len(h), self.geometry.out_len(w)) else {
            candle_core::bail!(
                "pooling window {:?} does not fit a {h}x{w} input",
                self.geometry
            )
        };
        Ok(Dims { n, c, h, w, oh, ow })
    }

    /// Calls `visit(out_index, in_index)` for every input cell inside each output window
    /// (padding cells are skipped).
    fn windows(&self, d: &Dims, mut visit: impl FnMut(usize, usize)) {
        let Pool2d {
            kernel,
            stride,
            padding,
        } = self.geometry;
        for plane in 0..d.n * d.c {
            let in_base = plane * d.h * d.w;
            let out_base = plane * d.oh * d.ow;
            for oy in 0..d.oh {
                for ox in 0..d.ow {
                    let out = out_base + oy * d.ow + ox;
                    for ky in 0..kernel {
                        let Some(y) = (oy * stride + ky).checked_sub(padding) else {
                            continue;
                        };
                        if y >= d.h {
                            continue;
                        }
                        for kx in 0..kernel {
                            let Some(x) = (ox * stride + kx).checked_sub(padding) else {
                                continue;
                            };
                            if x < d.w {
                                visit(out, in_base + y * d.w + x);
                            }
                        }
                    }
                }
            }
        }
    }

    fn forward<T: Real>(&self, input: &[T], d: &Dims) -> Vec<T> {
        let size = d.n * d.c * d.oh * d.ow;
        match self.kind {
            PoolKind::Max => {
                let mut out = vec![T::NEG_INF; size];
                self.windows(d, |o, i| {
                    if input[i] > out[o] {
                        out[o] = input[i];
                    }
                });
                out
            }
            PoolKind::Avg => {
                let mut out = vec![T::ZERO; size];
                self.windows(d, |o, i| out[o] = out[o] + input[i]);
                let area = T::from_f64((self.geometry.kernel * self.geometry.kernel) as f64);
                for v in &mut out {
                    *v = *v / area;
                }
                out
            }
        }
    }

    /// The input gradient: each output's gradient goes to the first maximum of its window (max),
    /// or is spread evenly over the window (average).
    fn backward<T: Real>(&self, input: &[T], grad_out: &[T], d: &Dims) -> Vec<T> {
        let mut grad_in = vec![T::ZERO; input.len()];
        match self.kind {
            PoolKind::Max => {
                let mut best: Vec<Option<usize>> = vec![None; grad_out.len()];
                self.windows(d, |o, i| match best[o] {
                    Some(b) if input[b] >= input[i] => {}
                    _ => best[o] = Some(i),
                });
                for (o, b) in best.into_iter().enumerate() {
                    if let Some(i) = b {
                        grad_in[i] = grad_in[i] + grad_out[o];
                    }
                }
            }
            PoolKind::Avg => {
                let area = T::from_f64((self.geometry.kernel * self.geometry.kernel) as f64);
                self.windows(d, |o, i| grad_in[i] = grad_in[i] + grad_out[o] / area);
            }
        }
        grad_in
    }
}

/// The float types the pooling kernels run on.
trait Real: Copy + PartialOrd + std::ops::Add<Output = Self> + std::ops::Div<Output = Self> {
    const ZERO: Self;
    const NEG_INF: Self;
    fn from_f64(v: f64) -> Self;
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const NEG_INF: Self = f32::NEG_INFINITY;
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const NEG_INF: Self = f64::NEG_INFINITY;
    fn from_f64(v: f64) -> Self {
        v
    }
}

fn contiguous<'a, T>(data: &'a [T], layout: &Layout) -> candle_core::Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("pooling needs a contiguous input"),
    }
}

impl CustomOp1 for PoolOp {
    fn name(&self) -> &'static str {
        match self.kind {
            PoolKind::Max => "aisec-max-pool2d",
            PoolKind::Avg => "aisec-avg-pool2d",
        }
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = self.dims(layout.shape())?;
        let out_shape = Shape::from((d.n, d.c, d.oh, d.ow));
        let out = match storage {
            CpuStorage::F32(v) => CpuStorage::F32(self.forward(contiguous(v, layout)?, &d)),
            CpuStorage::F64(v) => CpuStorage::F64(self.forward(contiguous(v, layout)?, &d)),
            _ => candle_core::bail!("pooling supports f32 and f64 tensors"),
        };
        Ok((out, out_shape))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let d = self.dims(arg.shape())?;
        let grad = match arg.dtype() {
            DType::F64 => {
                let input = arg.flatten_all()?.to_vec1::<f64>()?;
                let g = grad_res
                    .to_dtype(DType::F64)?
                    .flatten_all()?
                    .to_vec1::<f64>()?;
                Tensor::from_vec(self.backward(&input, &g, &d), arg.shape(), arg.device())?
            }
            _ => {
                let input = arg.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
                let g = grad_res
                    .to_dtype(DType::F32)?
                    .flatten_all()?
                    .to_vec1::<f32>()?;
                Tensor::from_vec(self.backward(&input, &g, &d), arg.shape(), arg.device())?
                    .to_dtype(arg.dtype())?
            }
        };
        Ok(Some(grad))
    }
}

/// 2-D max pooling over an `[N, C, H, W]` tensor, with a correct backward pass for any geometry.
pub fn max_pool2d(x: &Tensor, geometry: Pool2d) -> Result<Tensor> {
    Ok(x.contiguous()?.apply_op1(PoolOp {
        geometry,
        kind: PoolKind::Max,
    })?)
}

/// 2-D average pooling (padding counted in the divisor), with a correct backward pass.
pub fn avg_pool2d(x: &Tensor, geometry: Pool2d) -> Result<Tensor> {
    Ok(x.contiguous()?.apply_op1(PoolOp {
        geometry,
        kind: PoolKind::Avg,
    })?)
}

/// `log(softmax(x))` over the last dimension, from primitives so that it has a gradient.
pub fn log_softmax(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let shifted = x.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    Ok(shifted.broadcast_sub(&lse)?)
}

/// Softmax over the last dimension, from primitives so that it has a gradient.
pub fn softmax(x: &Tensor) -> Result<Tensor> {
    Ok(log_softmax(x)?.exp()?)
}

/// A one-hot `[N, K]` matrix of `labels`, in `dtype`.
pub fn one_hot(
    labels: &[u32],
    classes: usize,
    dtype: DType,
    device: &candle_core::Device,
) -> Result<Tensor> {
    let mut data = vec![0f32; labels.len() * classes];
    for (row, &label) in labels.iter().enumerate() {
        let label = label as usize;
        if label >= classes {
            return Err(crate::MlError::Input(format!(
                "label {label} is outside the model's {classes} classes"
            )));
        }
        data[row * classes + label] = 1.0;
    }
    Ok(Tensor::from_vec(data, (labels.len(), classes), device)?.to_dtype(dtype)?)
}

/// Per-sample cross-entropy `[N]` of `logits` `[N, K]` against `labels`.
pub fn cross_entropy_per_sample(logits: &Tensor, labels: &[u32]) -> Result<Tensor> {
    let (_, classes) = logits.dims2()?;
    let targets = one_hot(labels, classes, logits.dtype(), logits.device())?;
    Ok(log_softmax(logits)?.mul(&targets)?.sum(D::Minus1)?.neg()?)
}

/// Mean cross-entropy of `logits` against `labels` (a scalar).
pub fn cross_entropy(logits: &Tensor, labels: &[u32]) -> Result<Tensor> {
    Ok(cross_entropy_per_sample(logits, labels)?.mean_all()?)
}
