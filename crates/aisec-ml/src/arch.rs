//! The architecture file: a small JSON description of a sequential network, stored beside its
//! safetensors weights. The layer names and tensor layouts follow PyTorch's `nn.Sequential`, so a
//! user's PyTorch model exports to it in a few lines (docs/ml.md shows how).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{MlError, Result};
use crate::ops::Pool2d;

/// The `format` value of every architecture file.
pub const FORMAT: &str = "aisec-ml-architecture";

/// Limits on what an architecture file may declare, so a hostile file cannot ask for absurd
/// allocations.
#[derive(Debug, Clone, Copy)]
pub struct ArchLimits {
    /// Most layers.
    pub max_layers: usize,
    /// Most elements in one sample or activation.
    pub max_activation: usize,
    /// Most parameters in the whole network.
    pub max_params: usize,
    /// Largest kernel side.
    pub max_kernel: usize,
    /// Most classes.
    pub max_classes: usize,
    /// Largest architecture file in bytes.
    pub max_file: u64,
}

impl Default for ArchLimits {
    fn default() -> Self {
        Self {
            max_layers: 256,
            max_activation: 1 << 24,
            max_params: 1 << 28,
            max_kernel: 64,
            max_classes: 100_000,
            max_file: 1 << 20,
        }
    }
}

/// One layer, as written in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LayerSpec {
    /// A fully connected layer, `y = x W^T + b`.
    Linear {
        /// Inputs.
        in_features: usize,
        /// Outputs.
        out_features: usize,
        /// Whether there is a bias (default yes).
        #[serde(default = "yes")]
        bias: bool,
    },
    /// A 2-D convolution with a square kernel.
    Conv2d {
        /// Input channels.
        in_channels: usize,
        /// Output channels.
        out_channels: usize,
        /// Kernel side.
        kernel: usize,
        /// Stride (default 1).
        #[serde(default = "one")]
        stride: usize,
        /// Zero padding on each side (default 0).
        #[serde(default)]
        padding: usize,
        /// Whether there is a bias (default yes).
        #[serde(default = "yes")]
        bias: bool,
    },
    /// 2-D max pooling.
    MaxPool2d {
        /// Kernel side.
        kernel: usize,
        /// Stride (default: the kernel).
        #[serde(default)]
        stride: Option<usize>,
        /// Padding (default 0).
        #[serde(default)]
        padding: usize,
    },
    /// 2-D average pooling (padding counted in the divisor).
    AvgPool2d {
        /// Kernel side.
        kernel: usize,
        /// Stride (default: the kernel).
        #[serde(default)]
        stride: Option<usize>,
        /// Padding (default 0).
        #[serde(default)]
        padding: usize,
    },
    /// max(0, x).
    Relu,
    /// tanh(x).
    Tanh,
    /// 1 / (1 + e^-x).
    Sigmoid,
    /// Softmax over the features (dropped when it ends the network: the network returns logits).
    Softmax,
    /// Log-softmax over the features (dropped when it ends the network).
    LogSoftmax,
    /// Dropout with drop probability `p`; the identity outside training.
    Dropout {
        /// Drop probability.
        p: f64,
    },
    /// Batch normalisation over channels (`[N, C, H, W]`) or features (`[N, C]`).
    BatchNorm {
        /// Channels or features.
        num_features: usize,
        /// Added to the variance (default 1e-5).
        #[serde(default = "bn_eps")]
        eps: f64,
    },
    /// Flattens each sample to one dimension.
    Flatten,
}

fn yes() -> bool {
    true
}
fn one() -> usize {
    1
}
fn bn_eps() -> f64 {
    1e-5
}

/// A sequential classifier's description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Architecture {
    /// Always [`FORMAT`].
    pub format: String,
    /// Format version, 1.
    pub version: u32,
    /// The shape of one sample: `[features]` or `[channels, height, width]`.
    pub input_shape: Vec<usize>,
    /// Number of classes (the width of the logits).
    pub num_classes: usize,
    /// The valid input range; attacks clip to it.
    #[serde(default = "unit_range")]
    pub input_range: [f32; 2],
    /// Optional class names, one per class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_names: Option<Vec<String>>,
    /// The layers, in order.
    pub layers: Vec<LayerSpec>,
}

fn unit_range() -> [f32; 2] {
    [0.0, 1.0]
}

/// A parameter tensor a layer owns: its name suffix, shape and whether training updates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    /// The safetensors name: `layers.{i}.{suffix}`.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Trainable (weights, biases) or state (batch-norm running statistics).
    pub trainable: bool,
    /// Fan-in, for initialisation.
    pub fan_in: usize,
}

impl Architecture {
    /// Reads and validates an architecture file.
    pub fn load(path: &Path, limits: &ArchLimits) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| MlError::io(path, e))?;
        if meta.len() > limits.max_file {
            return Err(MlError::Architecture(format!(
                "{} is {} bytes; the limit is {}",
                path.display(),
                meta.len(),
                limits.max_file
            )));
        }
        let text = std::fs::read(path).map_err(|e| MlError::io(path, e))?;
        let arch: Self = serde_json::from_slice(&text).map_err(|source| MlError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        arch.validate(limits)?;
        Ok(arch)
    }

    /// Writes the file as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(|source| MlError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        std::fs::write(path, text).map_err(|e| MlError::io(path, e))
    }

    /// A new architecture with the given input and layers.
    #[must_use]
    pub fn new(input_shape: Vec<usize>, num_classes: usize, layers: Vec<LayerSpec>) -> Self {
        Self {
            format: FORMAT.to_owned(),
            version: 1,
            input_shape,
            num_classes,
            input_range: unit_range(),
            class_names: None,
            layers,
        }
    }

    /// Elements in one sample.
    #[must_use]
    pub fn sample_len(&self) -> usize {
        self.input_shape.iter().product()
    }

    /// Checks the file's consistency: known format, shapes that chain from the input to
    /// `num_classes` logits, and every size within `limits`. Returns the activation shape after
    /// each layer.
    pub fn validate(&self, limits: &ArchLimits) -> Result<Vec<Vec<usize>>> {
        let bad = |msg: String| Err(MlError::Architecture(msg));
        if self.format != FORMAT {
            return bad(format!("format is {:?}, expected {FORMAT:?}", self.format));
        }
        if self.version != 1 {
            return bad(format!("version {} is not supported (1 is)", self.version));
        }
        if self.layers.is_empty() || self.layers.len() > limits.max_layers {
            return bad(format!(
                "{} layers; between 1 and {} are allowed",
                self.layers.len(),
                limits.max_layers
            ));
        }
        if self.num_classes < 2 || self.num_classes > limits.max_classes {
            return bad(format!(
                "num_classes {} is outside 2..={}",
                self.num_classes, limits.max_classes
            ));
        }
        let [lo, hi] = self.input_range;
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return bad(format!("input_range [{lo}, {hi}] is not an interval"));
        }
        if let Some(names) = &self.class_names
            && names.len() != self.num_classes
        {
            return bad(format!(
                "{} class names for {} classes",
                names.len(),
                self.num_classes
            ));
        }
        if !(1..=3).contains(&self.input_shape.len()) || self.input_shape.contains(&0) {
            return bad(format!(
                "input_shape {:?} must have 1 to 3 positive dimensions",
                self.input_shape
            ));
        }
        let mut shape = self.input_shape.clone();
        let mut shapes = Vec::with_capacity(self.layers.len());
        let mut params = 0usize;
        for (i, layer) in self.layers.iter().enumerate() {
            let at = |msg: String| {
                MlError::Architecture(format!("layer {i} ({}): {msg}", layer.kind_name()))
            };
            let elems = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
            if elems.is_none_or(|e| e > limits.max_activation) {
                return Err(at(format!(
                    "activation {shape:?} is larger than {}",
                    limits.max_activation
                )));
            }
            shape = layer.output_shape(&shape, limits).map_err(at)?;
            for p in layer.params(i) {
                params = params.saturating_add(p.shape.iter().product());
            }
            if params > limits.max_params {
                return Err(at(format!("more than {} parameters", limits.max_params)));
            }
            shapes.push(shape.clone());
        }
        if shape != [self.num_classes] {
            return bad(format!(
                "the network ends with shape {shape:?}, expected [{}] (num_classes)",
                self.num_classes
            ));
        }
        Ok(shapes)
    }
}

impl LayerSpec {
    /// The layer's `kind` as written in the file.
    #[must_use]
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Linear { .. } => "linear",
            Self::Conv2d { .. } => "conv2d",
            Self::MaxPool2d { .. } => "max_pool2d",
            Self::AvgPool2d { .. } => "avg_pool2d",
            Self::Relu => "relu",
            Self::Tanh => "tanh",
            Self::Sigmoid => "sigmoid",
            Self::Softmax => "softmax",
            Self::LogSoftmax => "log_softmax",
            Self::Dropout { .. } => "dropout",
            Self::BatchNorm { .. } => "batch_norm",
            Self::Flatten => "flatten",
        }
    }

    /// Pooling geometry of a pooling layer.
    #[must_use]
    pub fn pool(&self) -> Option<Pool2d> {
        match *self {
            Self::MaxPool2d {
                kernel,
                stride,
                padding,
            }
            | Self::AvgPool2d {
                kernel,
                stride,
                padding,
            } => Some(Pool2d {
                kernel,
                stride: stride.unwrap_or(kernel),
                padding,
            }),
            _ => None,
        }
    }

    /// The parameters layer `index` owns.
    #[must_use]
    pub fn params(&self, index: usize) -> Vec<ParamSpec> {
        let p = |suffix: &str, shape: Vec<usize>, trainable: bool, fan_in: usize| ParamSpec {
            name: format!("layers.{index}.{suffix}"),
            shape,
            trainable,
            fan_in,
        };
        match *self {
            Self::Linear {
                in_features,
                out_features,
                bias,
            } => {
                let mut v = vec![p(
                    "weight",
                    vec![out_features, in_features],
                    true,
                    in_features,
                )];
                if bias {
                    v.push(p("bias", vec![out_features], true, in_features));
                }
                v
            }
            Self::Conv2d {
                in_channels,
                out_channels,
                kernel,
                bias,
                ..
            } => {
                let fan_in = in_channels * kernel * kernel;
                let mut v = vec![p(
                    "weight",
                    vec![out_channels, in_channels, kernel, kernel],
                    true,
                    fan_in,
                )];
                if bias {
                    v.push(p("bias", vec![out_channels], true, fan_in));
                }
                v
            }
            Self::BatchNorm { num_features, .. } => vec![
                p("weight", vec![num_features], true, 0),
                p("bias", vec![num_features], true, 0),
                p("running_mean", vec![num_features], false, 0),
                p("running_var", vec![num_features], false, 0),
            ],
            _ => Vec::new(),
        }
    }

    fn output_shape(
        &self,
        shape: &[usize],
        limits: &ArchLimits,
    ) -> std::result::Result<Vec<usize>, String> {
        let positive = |name: &str, v: usize| {
            if v == 0 {
                Err(format!("{name} must be positive"))
            } else {
                Ok(())
            }
        };
        match *self {
            Self::Linear {
                in_features,
                out_features,
                ..
            } => {
                positive("out_features", out_features)?;
                if shape != [in_features] {
                    return Err(format!(
                        "expects [{in_features}] but gets {shape:?} (add a flatten?)"
                    ));
                }
                if out_features > limits.max_activation {
                    return Err(format!("out_features {out_features} is too large"));
                }
                Ok(vec![out_features])
            }
            Self::Conv2d {
                in_channels,
                out_channels,
                kernel,
                stride,
                padding,
                ..
            } => {
                positive("out_channels", out_channels)?;
                positive("kernel", kernel)?;
                positive("stride", stride)?;
                if kernel > limits.max_kernel || padding > limits.max_kernel {
                    return Err(format!(
                        "kernel {kernel} / padding {padding} above {}",
                        limits.max_kernel
                    ));
                }
                let [c, h, w] = shape else {
                    return Err(format!(
                        "expects [channels, height, width] but gets {shape:?}"
                    ));
                };
                if *c != in_channels {
                    return Err(format!("expects {in_channels} channels but gets {c}"));
                }
                let geometry = Pool2d {
                    kernel,
                    stride,
                    padding,
                };
                match (geometry.out_len(*h), geometry.out_len(*w)) {
                    (Some(oh), Some(ow)) => Ok(vec![out_channels, oh, ow]),
                    _ => Err(format!("a {kernel}x{kernel} kernel does not fit {h}x{w}")),
                }
            }
            Self::MaxPool2d { .. } | Self::AvgPool2d { .. } => {
                let geometry = self.pool().expect("pooling layer");
                positive("kernel", geometry.kernel)?;
                positive("stride", geometry.stride)?;
                if geometry.kernel > limits.max_kernel || 2 * geometry.padding > geometry.kernel {
                    return Err("padding must be at most half the kernel".to_owned());
                }
                let [c, h, w] = shape else {
                    return Err(format!(
                        "expects [channels, height, width] but gets {shape:?}"
                    ));
                };
                match (geometry.out_len(*h), geometry.out_len(*w)) {
                    (Some(oh), Some(ow)) => Ok(vec![*c, oh, ow]),
                    _ => Err(format!(
                        "a {}x{} window does not fit {h}x{w}",
                        geometry.kernel, geometry.kernel
                    )),
                }
            }
            Self::Relu | Self::Tanh | Self::Sigmoid => Ok(shape.to_vec()),
            Self::Softmax | Self::LogSoftmax => {
                if shape.len() == 1 {
                    Ok(shape.to_vec())
                } else {
                    Err(format!("softmax needs flat features, gets {shape:?}"))
                }
            }
            Self::Dropout { p } => {
                if (0.0..1.0).contains(&p) {
                    Ok(shape.to_vec())
                } else {
                    Err(format!("p {p} is outside [0, 1)"))
                }
            }
            Self::BatchNorm { num_features, eps } => {
                if shape.first() != Some(&num_features) || shape.len() == 2 {
                    return Err(format!(
                        "expects {num_features} features/channels, gets {shape:?}"
                    ));
                }
                if !(eps > 0.0 && eps.is_finite()) {
                    return Err(format!("eps {eps} must be positive"));
                }
                Ok(shape.to_vec())
            }
            Self::Flatten => Ok(vec![shape.iter().product()]),
        }
    }
}

/// Ready-made architectures for the kinds `aisec models train` builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// Multinomial logistic regression: one linear layer.
    Logistic,
    /// One hidden layer of 128 ReLU units... or `hidden` given.
    Mlp,
    /// Two 3x3 convolutions, a 2x2 max-pool and two linear layers (for image inputs).
    Cnn,
}

impl ModelKind {
    /// The architecture of this kind for the given input and classes.
    pub fn architecture(self, input_shape: &[usize], num_classes: usize) -> Result<Architecture> {
        let features: usize = input_shape.iter().product();
        let mut layers = Vec::new();
        if input_shape.len() > 1 && self != Self::Cnn {
            layers.push(LayerSpec::Flatten);
        }
        match self {
            Self::Logistic => layers.push(LayerSpec::Linear {
                in_features: features,
                out_features: num_classes,
                bias: true,
            }),
            Self::Mlp => layers.extend([
                LayerSpec::Linear {
                    in_features: features,
                    out_features: 128,
                    bias: true,
                },
                LayerSpec::Relu,
                LayerSpec::Linear {
                    in_features: 128,
                    out_features: num_classes,
                    bias: true,
                },
            ]),
            Self::Cnn => {
                let [c, h, w] = input_shape else {
                    return Err(MlError::Architecture(format!(
                        "a CNN needs [channels, height, width] inputs, not {input_shape:?}"
                    )));
                };
                if h % 2 != 0 || w % 2 != 0 {
                    return Err(MlError::Architecture(format!(
                        "a CNN here needs even sides, not {h}x{w}"
                    )));
                }
                let conv = |i, o| LayerSpec::Conv2d {
                    in_channels: i,
                    out_channels: o,
                    kernel: 3,
                    stride: 1,
                    padding: 1,
                    bias: true,
                };
                layers.extend([
                    conv(*c, 16),
                    LayerSpec::Relu,
                    conv(16, 32),
                    LayerSpec::Relu,
                    LayerSpec::MaxPool2d {
                        kernel: 2,
                        stride: Some(2),
                        padding: 0,
                    },
                    LayerSpec::Flatten,
                    LayerSpec::Linear {
                        in_features: 32 * (h / 2) * (w / 2),
                        out_features: 64,
                        bias: true,
                    },
                    LayerSpec::Relu,
                    LayerSpec::Linear {
                        in_features: 64,
                        out_features: num_classes,
                        bias: true,
                    },
                ]);
            }
        }
        let arch = Architecture::new(input_shape.to_vec(), num_classes, layers);
        arch.validate(&ArchLimits::default())?;
        Ok(arch)
    }
}
