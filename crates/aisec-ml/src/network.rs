//! A sequential network: an [`Architecture`] plus its parameter tensors, with a forward pass that
//! candle can differentiate (through our own pooling and softmax where candle's are wrong).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::arch::{ArchLimits, Architecture, LayerSpec, ParamSpec};
use crate::error::{MlError, Result};
use crate::ops;
use crate::rng::Rng;

/// File names inside a model directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The architecture file's name inside a model directory.
pub const ARCH_FILE: &str = "architecture.json";

/// How the forward pass runs.
pub enum Mode<'a> {
    /// Inference: dropout is the identity, batch norm uses its running statistics.
    Eval,
    /// Training: dropout draws masks from `rng`; batch norm uses batch statistics and reports
    /// them through `bn_stats` so the caller can update the running averages.
    Train {
        /// Source of dropout masks.
        rng: &'a mut Rng,
        /// `(parameter index of running_mean, batch mean, batch variance)` per batch-norm layer.
        bn_stats: &'a mut Vec<(usize, Tensor, Tensor)>,
    },
}

/// Whether a layer's weight and bias are constants (not variables being trained), so that its
/// frozen op, whose backward pass skips their gradients, may run.
fn frozen(weight: &Tensor, bias: Option<&Tensor>) -> bool {
    !weight.track_op() && bias.is_none_or(|b| !b.track_op())
}

/// An architecture with its weights.
#[derive(Debug, Clone)]
pub struct Network {
    arch: Architecture,
    specs: Vec<ParamSpec>,
    /// Index of each layer's first parameter in `params`.
    offsets: Vec<usize>,
    params: Vec<Tensor>,
    /// Number of leading layers in the logits face (a trailing softmax is dropped).
    logit_layers: usize,
    /// Per parameter, a 0/1 mask that training keeps applying (pruned units stay pruned).
    masks: Vec<Option<Tensor>>,
}

impl Network {
    /// A freshly initialised network (PyTorch's default: uniform in ±1/sqrt(fan_in) for weights
    /// and biases; batch norm starts at weight 1, bias 0, mean 0, variance 1).
    pub fn init(arch: Architecture, seed: u64) -> Result<Self> {
        arch.validate(&ArchLimits::default())?;
        let mut rng = Rng::new(seed);
        let (specs, offsets) = Self::param_specs(&arch);
        let mut params = Vec::with_capacity(specs.len());
        for spec in &specs {
            let n: usize = spec.shape.iter().product();
            let data = if spec.fan_in == 0 {
                let fill = if spec.name.ends_with("weight") || spec.name.ends_with("running_var") {
                    1.0
                } else {
                    0.0
                };
                vec![fill; n]
            } else {
                let bound = 1.0 / (spec.fan_in as f32).sqrt();
                rng.uniform_vec(n, -bound, bound)
            };
            params.push(Tensor::from_vec(data, spec.shape.as_slice(), &Device::Cpu)?);
        }
        Ok(Self::assemble(arch, specs, offsets, params))
    }

    fn param_specs(arch: &Architecture) -> (Vec<ParamSpec>, Vec<usize>) {
        let mut specs = Vec::new();
        let mut offsets = Vec::with_capacity(arch.layers.len());
        for (i, layer) in arch.layers.iter().enumerate() {
            offsets.push(specs.len());
            specs.extend(layer.params(i));
        }
        (specs, offsets)
    }

    fn assemble(
        arch: Architecture,
        specs: Vec<ParamSpec>,
        offsets: Vec<usize>,
        params: Vec<Tensor>,
    ) -> Self {
        let mut logit_layers = arch.layers.len();
        while logit_layers > 1
            && matches!(
                arch.layers[logit_layers - 1],
                LayerSpec::Softmax | LayerSpec::LogSoftmax | LayerSpec::Dropout { .. }
            )
        {
            logit_layers -= 1;
        }
        let masks = vec![None; params.len()];
        Self {
            arch,
            specs,
            offsets,
            params,
            logit_layers,
            masks,
        }
    }

    /// Loads `architecture.json` and `model.safetensors` from a model directory.
    pub fn load_dir(dir: &Path) -> Result<Self> {
        Self::load(&dir.join(ARCH_FILE), &dir.join(WEIGHTS_FILE))
    }

    /// Loads an architecture file and its safetensors weights, checking that every tensor the
    /// architecture needs is there with its shape, and that the file holds nothing else.
    pub fn load(arch_path: &Path, weights_path: &Path) -> Result<Self> {
        let limits = ArchLimits::default();
        let arch = Architecture::load(arch_path, &limits)?;
        let size = std::fs::metadata(weights_path)
            .map_err(|e| MlError::io(weights_path, e))?
            .len();
        let (specs, offsets) = Self::param_specs(&arch);
        let expected: u64 = specs
            .iter()
            .map(|s| s.shape.iter().product::<usize>() as u64 * 8)
            .sum::<u64>()
            + (1 << 20);
        if size > expected {
            return Err(MlError::Weights(format!(
                "{} is {size} bytes, more than the architecture's parameters can need ({expected})",
                weights_path.display()
            )));
        }
        let mut tensors: HashMap<String, Tensor> =
            candle_core::safetensors::load(weights_path, &Device::Cpu)
                .map_err(|e| MlError::Weights(format!("{}: {e}", weights_path.display())))?;
        let mut params = Vec::with_capacity(specs.len());
        for spec in &specs {
            let t = tensors.remove(&spec.name).ok_or_else(|| {
                MlError::Weights(format!(
                    "{} has no tensor {:?}",
                    weights_path.display(),
                    spec.name
                ))
            })?;
            if t.dims() != spec.shape.as_slice() {
                return Err(MlError::Weights(format!(
                    "tensor {:?} has shape {:?}, the architecture needs {:?}",
                    spec.name,
                    t.dims(),
                    spec.shape
                )));
            }
            params.push(t.to_dtype(DType::F32)?);
        }
        if let Some(extra) = tensors.keys().min() {
            return Err(MlError::Weights(format!(
                "{} holds tensor {extra:?} that the architecture does not use",
                weights_path.display()
            )));
        }
        Ok(Self::assemble(arch, specs, offsets, params))
    }

    /// Writes `architecture.json` and `model.safetensors` into `dir` (created if needed).
    pub fn save_dir(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| MlError::io(dir, e))?;
        self.arch.save(&dir.join(ARCH_FILE))?;
        let named: HashMap<String, Tensor> = self
            .specs
            .iter()
            .zip(&self.params)
            .map(|(s, t)| Ok((s.name.clone(), t.to_dtype(DType::F32)?)))
            .collect::<Result<_>>()?;
        let path = dir.join(WEIGHTS_FILE);
        candle_core::safetensors::save(&named, &path)
            .map_err(|e| MlError::Weights(format!("{}: {e}", path.display())))
    }

    /// The architecture.
    #[must_use]
    pub fn arch(&self) -> &Architecture {
        &self.arch
    }

    /// The parameters, in architecture order.
    #[must_use]
    pub fn params(&self) -> &[Tensor] {
        &self.params
    }

    /// The parameter descriptions, in the same order as [`Network::params`].
    #[must_use]
    pub fn param_specs_list(&self) -> &[ParamSpec] {
        &self.specs
    }

    /// Replaces the parameters (same count and shapes).
    pub fn set_params(&mut self, params: Vec<Tensor>) -> Result<()> {
        if params.len() != self.specs.len() {
            return Err(MlError::Weights(format!(
                "{} tensors for {} parameters",
                params.len(),
                self.specs.len()
            )));
        }
        for (p, s) in params.iter().zip(&self.specs) {
            if p.dims() != s.shape.as_slice() {
                return Err(MlError::Weights(format!(
                    "{:?}: shape {:?} != {:?}",
                    s.name,
                    p.dims(),
                    s.shape
                )));
            }
        }
        self.params = params;
        Ok(())
    }

    /// A copy with every parameter in `dtype` (f64 for gradient checks).
    pub fn to_dtype(&self, dtype: DType) -> Result<Self> {
        let mut copy = self.clone();
        copy.params = self
            .params
            .iter()
            .map(|p| p.to_dtype(dtype))
            .collect::<candle_core::Result<_>>()?;
        copy.masks = self
            .masks
            .iter()
            .map(|m| m.as_ref().map(|m| m.to_dtype(dtype)).transpose())
            .collect::<candle_core::Result<_>>()?;
        Ok(copy)
    }

    /// The dtype of the parameters.
    #[must_use]
    pub fn dtype(&self) -> DType {
        self.params.first().map_or(DType::F32, Tensor::dtype)
    }

    /// Logits `[N, K]` for a batch `[N, ...input_shape]`, in inference mode. Differentiable with
    /// respect to `x` when `x` is a variable.
    pub fn logits(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_with(x, &self.params, &mut Mode::Eval)
    }

    /// The forward pass to the logits with the given parameters (the trainer passes variables).
    pub fn forward_with(
        &self,
        x: &Tensor,
        params: &[Tensor],
        mode: &mut Mode<'_>,
    ) -> Result<Tensor> {
        self.forward_range(x, params, mode, 0..self.logit_layers)
    }

    /// The number of layers in the logits face (a trailing softmax or dropout is not in it).
    #[must_use]
    pub fn logit_layers(&self) -> usize {
        self.logit_layers
    }

    /// The output of the first `upto` layers `[N, ...]`, in inference mode: the activations a
    /// backdoor defense clusters or prunes.
    pub fn activations(&self, x: &Tensor, upto: usize) -> Result<Tensor> {
        let x = x.to_dtype(self.dtype())?;
        self.forward_range(&x, &self.params, &mut Mode::Eval, 0..upto)
    }

    /// The layers from `from` to the logits applied to activations `h` (the output of layer
    /// `from - 1`), in inference mode.
    pub fn logits_from(&self, h: &Tensor, from: usize) -> Result<Tensor> {
        self.forward_range(h, &self.params, &mut Mode::Eval, from..self.logit_layers)
    }

    /// The index just past the last layer before the final linear layer: the activations there
    /// (the penultimate representation) are what the last layer separates the classes by. `0`
    /// (the input itself) for a single linear layer.
    #[must_use]
    pub fn feature_layer(&self) -> usize {
        let layers = &self.arch.layers[..self.logit_layers];
        layers
            .iter()
            .rposition(|l| matches!(l, LayerSpec::Linear { .. }))
            .map_or(0, |last| {
                // Skip back over a flatten (and dropout) that only reshape what feeds it.
                let mut i = last;
                while i > 0
                    && matches!(
                        layers[i - 1],
                        LayerSpec::Flatten | LayerSpec::Dropout { .. }
                    )
                {
                    i -= 1;
                }
                i
            })
    }

    /// The penultimate representation `[N, D]` (see [`Network::feature_layer`]), flattened.
    pub fn features(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.activations(x, self.feature_layer())?.flatten_from(1)?)
    }

    /// Prunes output units of layer `layer` (a linear layer's rows, a convolution's channels):
    /// their weights and bias are zeroed now and stay zero through later training.
    pub fn prune_units(&mut self, layer: usize, pruned: &[usize]) -> Result<()> {
        let outputs = match self.arch.layers.get(layer) {
            Some(
                LayerSpec::Linear {
                    out_features: o, ..
                }
                | LayerSpec::Conv2d {
                    out_channels: o, ..
                },
            ) => *o,
            _ => {
                return Err(MlError::Input(format!(
                    "layer {layer} is not a linear or convolution layer"
                )));
            }
        };
        if let Some(&u) = pruned.iter().find(|&&u| u >= outputs) {
            return Err(MlError::Input(format!(
                "layer {layer} has {outputs} units, not {}",
                u + 1
            )));
        }
        let count = self.arch.layers[layer].params(layer).len();
        let first = self.offsets[layer];
        for index in first..first + count {
            let shape = self.specs[index].shape.clone();
            let per_unit: usize = shape[1..].iter().product();
            let mut keep: Vec<f32> = match &self.masks[index] {
                Some(m) => m.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?,
                None => vec![1.0; shape.iter().product()],
            };
            for &u in pruned {
                keep[u * per_unit..(u + 1) * per_unit].fill(0.0);
            }
            let mask = Tensor::from_vec(keep, shape.as_slice(), &Device::Cpu)?
                .to_dtype(self.params[index].dtype())?;
            self.params[index] = self.params[index].mul(&mask)?;
            self.masks[index] = Some(mask);
        }
        Ok(())
    }

    /// The pruning mask of each parameter (`None`: not pruned).
    #[must_use]
    pub fn masks(&self) -> &[Option<Tensor>] {
        &self.masks
    }

    /// The layers `range` of the network applied to `x` (the network's input when the range
    /// starts at 0, else the previous layer's output).
    fn forward_range(
        &self,
        x: &Tensor,
        params: &[Tensor],
        mode: &mut Mode<'_>,
        range: std::ops::Range<usize>,
    ) -> Result<Tensor> {
        if range.start == 0 {
            let batch = x.dim(0)?;
            let mut expected = vec![batch];
            expected.extend(&self.arch.input_shape);
            if x.dims() != expected.as_slice() {
                return Err(MlError::Input(format!(
                    "input shape {:?}, the model expects {expected:?}",
                    x.dims()
                )));
            }
        }
        if range.end > self.arch.layers.len() || range.start > range.end {
            return Err(MlError::Input(format!(
                "layers {range:?} of a {}-layer network",
                self.arch.layers.len()
            )));
        }
        let mut h = x.clone();
        let start = range.start;
        let layers = &self.arch.layers[range];
        // Set when a frozen linear or convolution layer has applied the ReLU that follows it.
        let mut relu_done = false;
        for (j, layer) in layers.iter().enumerate() {
            let i = start + j;
            if std::mem::take(&mut relu_done) {
                continue;
            }
            let p = &params[self.offsets[i]..];
            let relu_next = matches!(layers.get(j + 1), Some(LayerSpec::Relu));
            h = match layer {
                LayerSpec::Linear { bias, .. } => {
                    let b = bias.then(|| &p[1]);
                    if frozen(&p[0], b) {
                        // Weights that are not being trained take a path whose backward pass
                        // skips their gradient (an attack's input gradient costs half as much).
                        relu_done = relu_next;
                        ops::linear_frozen(&h, &p[0], b, relu_next)?
                    } else {
                        let y = h.matmul(&p[0].t()?)?;
                        if *bias { y.broadcast_add(&p[1])? } else { y }
                    }
                }
                LayerSpec::Conv2d {
                    stride,
                    padding,
                    bias,
                    ..
                } => {
                    let b = bias.then(|| &p[1]);
                    if frozen(&p[0], b) {
                        relu_done = relu_next;
                        ops::conv2d_frozen(&h, &p[0], b, relu_next, *stride, *padding)?
                    } else {
                        let y = ops::conv2d(&h, &p[0], *stride, *padding)?;
                        if *bias {
                            y.broadcast_add(&p[1].reshape((1, (), 1, 1))?)?
                        } else {
                            y
                        }
                    }
                }
                LayerSpec::MaxPool2d { .. } => ops::max_pool2d(&h, layer.pool().expect("pool"))?,
                LayerSpec::AvgPool2d { .. } => ops::avg_pool2d(&h, layer.pool().expect("pool"))?,
                LayerSpec::Relu => h.relu()?,
                LayerSpec::Tanh => h.tanh()?,
                LayerSpec::Sigmoid => (h.neg()?.exp()? + 1.0)?.recip()?,
                LayerSpec::Softmax => ops::softmax(&h)?,
                LayerSpec::LogSoftmax => ops::log_softmax(&h)?,
                LayerSpec::Dropout { p: drop } => match mode {
                    Mode::Eval => h,
                    Mode::Train { rng, .. } => {
                        let keep = 1.0 - drop;
                        let mask: Vec<f32> = (0..h.elem_count())
                            .map(|_| {
                                if rng.uniform() < keep {
                                    (1.0 / keep) as f32
                                } else {
                                    0.0
                                }
                            })
                            .collect();
                        let mask =
                            Tensor::from_vec(mask, h.shape(), h.device())?.to_dtype(h.dtype())?;
                        h.mul(&mask)?
                    }
                },
                LayerSpec::BatchNorm { eps, .. } => {
                    let rank = h.rank();
                    let view = |t: &Tensor| -> candle_core::Result<Tensor> {
                        if rank == 4 {
                            t.reshape((1, (), 1, 1))
                        } else {
                            t.reshape((1, ()))
                        }
                    };
                    let (mean, var) = match mode {
                        Mode::Eval => (p[2].clone(), p[3].clone()),
                        Mode::Train { bn_stats, .. } => {
                            // Statistics over every axis but the channel one.
                            let moved = if rank == 4 {
                                h.transpose(0, 1)?.flatten_from(1)?
                            } else {
                                h.t()?
                            };
                            let mean = moved.mean(1)?;
                            let var = moved.broadcast_sub(&mean.unsqueeze(1)?)?.sqr()?.mean(1)?;
                            bn_stats.push((self.offsets[i] + 2, mean.detach(), var.detach()));
                            (mean, var)
                        }
                    };
                    let scale = p[0].broadcast_div(&(var + *eps)?.sqrt()?)?;
                    h.broadcast_sub(&view(&mean)?)?
                        .broadcast_mul(&view(&scale)?)?
                        .broadcast_add(&view(&p[1])?)?
                }
                LayerSpec::Flatten => h.flatten_from(1)?,
            };
        }
        Ok(h)
    }

    /// Class probabilities `[N, K]` for a batch.
    pub fn probabilities(&self, x: &Tensor) -> Result<Tensor> {
        ops::softmax(&self.logits(x)?)
    }
}
