//! Operations whose gradients candle gets wrong, leaves out or computes slowly, written here with
//! their backward passes: 2-D max and average pooling for any kernel, stride and padding; the
//! softmax family built from primitives (candle's fused `softmax_last_dim` has no backward at
//! all); 2-D convolution as kernel times patches (candle's input gradient goes through a direct
//! transposed convolution); and "frozen" linear and convolution layers for weights that are not
//! trained, whose backward pass gives the input's gradient only, with bias and a following ReLU
//! in the same op. An attack's gradient of a small CNN costs about a third of what it did through
//! candle's layers.

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

    /// For max pooling without padding (every window inside the input): calls
    /// `visit(out_index, in_index)` with the first maximum of each window.
    fn unpadded_argmax<T: Real>(&self, input: &[T], d: &Dims, mut visit: impl FnMut(usize, usize)) {
        let Pool2d { kernel, stride, .. } = self.geometry;
        for plane in 0..d.n * d.c {
            let in_base = plane * d.h * d.w;
            let out_base = plane * d.oh * d.ow;
            for oy in 0..d.oh {
                for ox in 0..d.ow {
                    let corner = in_base + oy * stride * d.w + ox * stride;
                    let mut best = corner;
                    for ky in 0..kernel {
                        let row = &input[corner + ky * d.w..corner + ky * d.w + kernel];
                        for (kx, &v) in row.iter().enumerate() {
                            if v > input[best] {
                                best = corner + ky * d.w + kx;
                            }
                        }
                    }
                    visit(out_base + oy * d.ow + ox, best);
                }
            }
        }
    }

    fn forward<T: Real>(&self, input: &[T], d: &Dims) -> Vec<T> {
        let size = d.n * d.c * d.oh * d.ow;
        match self.kind {
            PoolKind::Max if self.geometry.padding == 0 => {
                let mut out = vec![T::ZERO; size];
                self.unpadded_argmax(input, d, |o, i| out[o] = input[i]);
                out
            }
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
            PoolKind::Max if self.geometry.padding == 0 => {
                self.unpadded_argmax(input, d, |o, i| grad_in[i] = grad_in[i] + grad_out[o]);
            }
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

/// The patches of a 2-D convolution, laid out for one matrix product per image: `[N, C, H, W]`
/// becomes `[N, C·k·k, OH·OW]`, row `(c, ky, kx)` (the layout of a `[O, C, k, k]` kernel) holding,
/// for every output position, the input pixel under that kernel cell (zero over padding). Then
/// `kernel [O, C·k·k] × patches [C·k·k, OH·OW]` is the output `[O, OH, OW]` of each image with no
/// transposition.
#[derive(Clone, Copy)]
struct Im2Col {
    kernel: usize,
    stride: usize,
    padding: usize,
}

#[derive(Clone, Copy)]
struct ConvDims {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
}

impl ConvDims {
    fn positions(&self) -> usize {
        self.oh * self.ow
    }
}

impl Im2Col {
    fn out_len(self, side: usize) -> Option<usize> {
        Pool2d {
            kernel: self.kernel,
            stride: self.stride,
            padding: self.padding,
        }
        .out_len(side)
    }

    fn dims(self, shape: &Shape) -> candle_core::Result<ConvDims> {
        let (n, c, h, w) = shape.dims4()?;
        let (Some(oh), Some(ow)) = (self.out_len(h), self.out_len(w)) else {
            candle_core::bail!("a {0}x{0} kernel does not fit a {h}x{w} input", self.kernel)
        };
        Ok(ConvDims { n, c, h, w, oh, ow })
    }

    /// The output columns `ox` whose input column `ox·stride + kx - padding` lies inside
    /// `[0, w)`, as a range.
    fn valid(self, kx: usize, w: usize, ow: usize) -> std::ops::Range<usize> {
        let (s, p) = (self.stride, self.padding);
        // ox·s + kx >= p  <=>  ox >= ceil((p - kx) / s) when kx < p.
        let first = if kx >= p { 0 } else { (p - kx).div_ceil(s) };
        // ox·s + kx - p < w  <=>  ox·s < w + p - kx.
        let last = if w + p > kx {
            (w + p - kx).div_ceil(s)
        } else {
            0
        };
        first.min(ow)..last.min(ow).max(first.min(ow))
    }

    /// Calls `visit(patch_row_slice_start, input_row_start, ox_range)` for every stretch of one
    /// patch row that reads one input row: patch cells `start + ox` read input `src + ox·stride`.
    fn rows(&self, d: &ConvDims, mut visit: impl FnMut(usize, usize, std::ops::Range<usize>)) {
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        let l = d.positions();
        for n in 0..d.n {
            for c in 0..d.c {
                let plane = (n * d.c + c) * d.h * d.w;
                for ky in 0..k {
                    for kx in 0..k {
                        let row = ((n * d.c + c) * k * k + ky * k + kx) * l;
                        let cols = self.valid(kx, d.w, d.ow);
                        if cols.is_empty() {
                            continue;
                        }
                        for oy in 0..d.oh {
                            let Some(y) = (oy * s + ky).checked_sub(p) else {
                                continue;
                            };
                            if y >= d.h {
                                continue;
                            }
                            // Input column of ox = 0 (may be "negative": only valid ox are read).
                            let src = plane + y * d.w + kx;
                            visit(row + oy * d.ow, src, cols.clone());
                        }
                    }
                }
            }
        }
    }

    fn forward<T: Real>(self, input: &[T], d: &ConvDims) -> Vec<T> {
        let mut out = vec![T::ZERO; d.n * d.c * self.kernel * self.kernel * d.positions()];
        let (s, p) = (self.stride, self.padding);
        self.rows(d, |dst, src, cols| {
            if s == 1 {
                let (a, b) = (cols.start, cols.end);
                out[dst + a..dst + b].copy_from_slice(&input[src + a - p..src + b - p]);
            } else {
                for ox in cols {
                    out[dst + ox] = input[src + ox * s - p];
                }
            }
        });
        out
    }

    /// The input gradient: each patch cell's gradient added back to the pixel it came from.
    fn backward<T: Real>(self, grad_cols: &[T], d: &ConvDims) -> Vec<T> {
        let mut grad = vec![T::ZERO; d.n * d.c * d.h * d.w];
        self.backward_into(grad_cols, d, &mut grad);
        grad
    }

    /// [`Im2Col::backward`] added into `grad` (the images of `d`).
    fn backward_into<T: Real>(self, grad_cols: &[T], d: &ConvDims, grad: &mut [T]) {
        let (s, p) = (self.stride, self.padding);
        self.rows(d, |dst, src, cols| {
            if s == 1 {
                let (a, b) = (cols.start, cols.end);
                for (g, &c) in grad[src + a - p..src + b - p]
                    .iter_mut()
                    .zip(&grad_cols[dst + a..dst + b])
                {
                    *g = *g + c;
                }
            } else {
                for ox in cols {
                    let i = src + ox * s - p;
                    grad[i] = grad[i] + grad_cols[dst + ox];
                }
            }
        });
    }
}

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "aisec-im2col"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = self.dims(layout.shape())?;
        let shape = Shape::from((d.n, d.c * self.kernel * self.kernel, d.positions()));
        let out = match storage {
            CpuStorage::F32(v) => CpuStorage::F32(self.forward(contiguous(v, layout)?, &d)),
            CpuStorage::F64(v) => CpuStorage::F64(self.forward(contiguous(v, layout)?, &d)),
            _ => candle_core::bail!("convolution supports f32 and f64 tensors"),
        };
        Ok((out, shape))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let d = self.dims(arg.shape())?;
        Ok(Some(col2im(*self, &d, grad_res, arg)?))
    }
}

/// The input gradient `[N, C, H, W]` (shaped and typed like `arg`) from the patches' gradient.
fn col2im(
    op: Im2Col,
    d: &ConvDims,
    grad_cols: &Tensor,
    arg: &Tensor,
) -> candle_core::Result<Tensor> {
    Ok(match arg.dtype() {
        DType::F64 => {
            let g = grad_cols
                .to_dtype(DType::F64)?
                .flatten_all()?
                .to_vec1::<f64>()?;
            Tensor::from_vec(op.backward(&g, d), arg.shape(), arg.device())?
        }
        _ => {
            let g = grad_cols
                .to_dtype(DType::F32)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            Tensor::from_vec(op.backward(&g, d), arg.shape(), arg.device())?
                .to_dtype(arg.dtype())?
        }
    })
}

/// The geometry of `x` under a square `kernel`, checked.
fn conv_geometry(
    x: &Tensor,
    kernel: &Tensor,
    stride: usize,
    padding: usize,
) -> Result<(Im2Col, ConvDims, usize)> {
    let (o, c, k, kw) = kernel.dims4()?;
    if k != kw {
        return Err(crate::MlError::Input(format!(
            "convolution kernels here are square, not {k}x{kw}"
        )));
    }
    let op = Im2Col {
        kernel: k,
        stride,
        padding,
    };
    let d = op.dims(x.shape())?;
    if d.c != c || x.dtype() != kernel.dtype() {
        return Err(crate::MlError::Input(format!(
            "a {:?} kernel over {c} channels applied to a {:?} input with {} channels",
            kernel.dtype(),
            x.dtype(),
            d.c
        )));
    }
    Ok((op, d, o))
}

/// 2-D convolution of `x` `[N, C, H, W]` with `kernel` `[O, C, k, k]` (square, no dilation or
/// groups), as kernel times patches for each image, differentiable in both. candle's own
/// `conv2d` takes its input gradient through a direct, unvectorised transposed convolution,
/// which made a small CNN's input gradient several times slower than its forward pass.
pub fn conv2d(x: &Tensor, kernel: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
    let (op, d, o) = conv_geometry(x, kernel, stride, padding)?;
    let ckk = d.c * op.kernel * op.kernel;
    let cols = x.contiguous()?.apply_op1(op)?;
    let w = kernel.reshape((o, ckk))?.broadcast_as((d.n, o, ckk))?;
    Ok(w.matmul(&cols)?.reshape((d.n, o, d.oh, d.ow))?)
}

/// A convolution whose kernel is not trained, in one op: its backward pass is the input's
/// gradient only (kernel-transposed times the output gradient, scattered back), where candle's
/// matmul backward would also compute the kernel's.
struct FrozenConv {
    im2col: Im2Col,
    /// The kernel as `[O, C·k·k]`.
    w: Tensor,
    /// The bias `[O]`, added in the same pass.
    bias: Option<Tensor>,
    /// Apply a ReLU to the output in the same pass.
    relu: bool,
}

/// `max(v, 0)` for every value.
fn relu_in_place<T: Real>(values: &mut [T]) {
    for v in values {
        if (*v).partial_cmp(&T::ZERO) != Some(std::cmp::Ordering::Greater) {
            *v = T::ZERO;
        }
    }
}

/// Zeroes the gradient where the ReLU's output `out` is not positive (PyTorch's convention at 0).
fn relu_mask<T: Real>(grad: &mut [T], out: &[T]) {
    for (g, &y) in grad.iter_mut().zip(out) {
        if y.partial_cmp(&T::ZERO) != Some(std::cmp::Ordering::Greater) {
            *g = T::ZERO;
        }
    }
}

/// Adds `bias[ch]` to every element of channel `ch` in `values` laid out `[.., O, per]`.
fn add_channel_bias<T: Real>(values: &mut [T], bias: &[T], per: usize) {
    if bias.is_empty() || per == 0 {
        return;
    }
    for (i, chunk) in values.chunks_exact_mut(per).enumerate() {
        let b = bias[i % bias.len()];
        for v in chunk {
            *v = *v + b;
        }
    }
}

/// Bytes of patches per matrix product in [`FrozenConv`]: the batch is taken a few images at a
/// time so that temporaries stay small enough for the allocator to reuse. One product over the
/// whole batch needs patches of `N·C·k²·OH·OW` elements (13 MB for a 360-image batch of 8x8
/// inputs with 16 channels), and fresh pages for those cost more than the products themselves.
const CONV_CHUNK_BYTES: usize = 96 * 1024;

impl FrozenConv {
    /// Images per product.
    fn chunk<T>(&self, d: &ConvDims) -> usize {
        let per_image = self.w.dim(1).unwrap_or(1) * d.positions() * std::mem::size_of::<T>();
        (CONV_CHUNK_BYTES / per_image.max(1)).clamp(1, d.n.max(1))
    }

    fn output<T: Real + candle_core::WithDType>(
        &self,
        input: &[T],
        d: &ConvDims,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (o, ckk) = self.w.dims2()?;
        let (image_in, l) = (d.c * d.h * d.w, d.positions());
        let mut out = Vec::with_capacity(d.n * o * l);
        let bias = match &self.bias {
            Some(b) => b.to_vec1::<T>()?,
            None => Vec::new(),
        };
        let step = self.chunk::<T>(d);
        for start in (0..d.n).step_by(step) {
            let m = step.min(d.n - start);
            let part = ConvDims { n: m, ..*d };
            let cols = Tensor::from_vec(
                self.im2col
                    .forward(&input[start * image_in..(start + m) * image_in], &part),
                (m, ckk, l),
                &candle_core::Device::Cpu,
            )?;
            let y = self.w.broadcast_as((m, o, ckk))?.matmul(&cols)?;
            let mut y = y.flatten_all()?.to_vec1::<T>()?;
            add_channel_bias(&mut y, &bias, l);
            if self.relu {
                relu_in_place(&mut y);
            }
            out.extend(y);
        }
        Ok((
            T::to_cpu_storage_owned(out),
            Shape::from((d.n, o, d.oh, d.ow)),
        ))
    }

    fn input_grad<T: Real + candle_core::WithDType>(
        &self,
        grad_out: &Tensor,
        out: &Tensor,
        d: &ConvDims,
    ) -> candle_core::Result<Vec<T>> {
        let (o, ckk) = self.w.dims2()?;
        let (image_in, l) = (d.c * d.h * d.w, d.positions());
        let grad_out = grad_out
            .to_dtype(T::DTYPE)?
            .reshape((d.n, o, l))?
            .contiguous()?;
        let w_t = self.w.to_dtype(T::DTYPE)?.t()?;
        let mut grad = vec![T::ZERO; d.n * image_in];
        let step = self.chunk::<T>(d);
        for start in (0..d.n).step_by(step) {
            let m = step.min(d.n - start);
            let part = ConvDims { n: m, ..*d };
            let mut g = grad_out.narrow(0, start, m)?;
            if self.relu {
                let y = out.narrow(0, start, m)?.flatten_all()?.to_vec1::<T>()?;
                let mut masked = g.flatten_all()?.to_vec1::<T>()?;
                relu_mask(&mut masked, &y);
                g = Tensor::from_vec(masked, (m, o, l), &candle_core::Device::Cpu)?;
            }
            let cols = w_t
                .broadcast_as((m, ckk, o))?
                .matmul(&g)?
                .flatten_all()?
                .to_vec1::<T>()?;
            self.im2col.backward_into(
                &cols,
                &part,
                &mut grad[start * image_in..(start + m) * image_in],
            );
        }
        Ok(grad)
    }
}

impl CustomOp1 for FrozenConv {
    fn name(&self) -> &'static str {
        "aisec-frozen-conv2d"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = self.im2col.dims(layout.shape())?;
        match storage {
            CpuStorage::F32(v) => self.output(contiguous(v, layout)?, &d),
            CpuStorage::F64(v) => self.output(contiguous(v, layout)?, &d),
            _ => candle_core::bail!("convolution supports f32 and f64 tensors"),
        }
    }

    fn bwd(
        &self,
        arg: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let d = self.im2col.dims(arg.shape())?;
        let grad = match arg.dtype() {
            DType::F64 => Tensor::from_vec(
                self.input_grad::<f64>(grad_res, res, &d)?,
                arg.shape(),
                arg.device(),
            )?,
            _ => Tensor::from_vec(
                self.input_grad::<f32>(grad_res, res, &d)?,
                arg.shape(),
                arg.device(),
            )?
            .to_dtype(arg.dtype())?,
        };
        Ok(Some(grad))
    }
}

/// [`conv2d`] plus an optional per-channel `bias` `[O]` and an optional ReLU, for a kernel and
/// bias that are not being trained: the backward pass computes only the gradient with respect to
/// `x`. The ReLU's gradient at exactly 0 is 0, as in PyTorch.
pub fn conv2d_frozen(
    x: &Tensor,
    kernel: &Tensor,
    bias: Option<&Tensor>,
    relu: bool,
    stride: usize,
    padding: usize,
) -> Result<Tensor> {
    let (im2col, d, o) = conv_geometry(x, kernel, stride, padding)?;
    let w = kernel
        .detach()
        .reshape((o, d.c * im2col.kernel * im2col.kernel))?
        .contiguous()?;
    let bias = bias.map(|b| checked_bias(b, o, x.dtype())).transpose()?;
    Ok(x.contiguous()?.apply_op1(FrozenConv {
        im2col,
        w,
        bias,
        relu,
    })?)
}

/// `bias` as a detached `[len]` tensor of `dtype`, or the error that it does not fit.
fn checked_bias(bias: &Tensor, len: usize, dtype: DType) -> Result<Tensor> {
    if bias.dims() != [len] || bias.dtype() != dtype {
        return Err(crate::MlError::Input(format!(
            "a {:?} bias of shape {:?} for {len} {dtype:?} outputs",
            bias.dtype(),
            bias.dims()
        )));
    }
    Ok(bias.detach())
}

/// A contiguous CPU tensor's data as storage, for custom ops that compute with candle inside.
fn storage_of(t: &Tensor) -> candle_core::Result<CpuStorage> {
    let flat = t.flatten_all()?;
    Ok(match t.dtype() {
        DType::F64 => CpuStorage::F64(flat.to_vec1::<f64>()?),
        DType::F32 => CpuStorage::F32(flat.to_vec1::<f32>()?),
        other => candle_core::bail!("frozen layers support f32 and f64, not {other:?}"),
    })
}

/// A CPU storage slice as a tensor of `shape`.
fn tensor_of(
    storage: &CpuStorage,
    layout: &Layout,
    shape: &[usize],
) -> candle_core::Result<Tensor> {
    let device = candle_core::Device::Cpu;
    match storage {
        CpuStorage::F32(v) => Tensor::from_slice(contiguous(v, layout)?, shape, &device),
        CpuStorage::F64(v) => Tensor::from_slice(contiguous(v, layout)?, shape, &device),
        _ => candle_core::bail!("frozen layers support f32 and f64 tensors"),
    }
}

/// `x · wᵀ` for a weight `w` `[O, I]` that is not trained: its backward pass gives the input's
/// gradient only (candle's matmul backward always also computes the other operand's, which
/// doubles the cost of an attack's gradient).
struct FrozenLinear {
    w: Tensor,
    bias: Option<Tensor>,
    relu: bool,
}

impl CustomOp1 for FrozenLinear {
    fn name(&self) -> &'static str {
        "aisec-frozen-linear"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (m, i) = layout.shape().dims2()?;
        let x = tensor_of(storage, layout, &[m, i])?;
        let mut y = x.matmul(&self.w.t()?)?;
        if let Some(b) = &self.bias {
            y = y.broadcast_add(b)?;
        }
        if self.relu {
            y = y.relu()?;
        }
        Ok((storage_of(&y)?, y.shape().clone()))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let grad = if self.relu {
            res.gt(0.0)?.where_cond(grad_res, &grad_res.zeros_like()?)?
        } else {
            grad_res.clone()
        };
        Ok(Some(grad.matmul(&self.w)?))
    }
}

/// `x · wᵀ + bias` (`x` `[M, I]`, `w` `[O, I]`, `bias` `[O]`), then a ReLU when `relu`, for
/// weights that are not being trained: the backward pass computes only the gradient with respect
/// to `x`. The ReLU's gradient at exactly 0 is 0, as in PyTorch.
pub fn linear_frozen(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, relu: bool) -> Result<Tensor> {
    let w = w.detach().contiguous()?;
    if x.dtype() != w.dtype() {
        return Err(crate::MlError::Input(format!(
            "input {:?} and weights {:?} differ in dtype",
            x.dtype(),
            w.dtype()
        )));
    }
    let bias = bias
        .map(|b| checked_bias(b, w.dim(0)?, x.dtype()))
        .transpose()?;
    Ok(x.contiguous()?.apply_op1(FrozenLinear { w, bias, relu })?)
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
