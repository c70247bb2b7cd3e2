//! The ML engine behind `aisec attack`: tensors on candle's CPU path, a layer set whose gradients
//! are checked against finite differences, sequential models (logistic regression, MLP, CNN),
//! training, and the [`Classifier`] abstraction that attacks run against.
//!
//! candle computes most gradients correctly; where it does not (max-pool's backward, pooling with
//! kernel != stride, the fused softmax) or does so slowly (convolution's input gradient, weight
//! gradients nobody asked for in an attack), [`ops`] has our own.

pub mod arch;
pub mod error;
pub mod network;
pub mod ops;
pub mod rng;

pub use arch::{ArchLimits, Architecture, LayerSpec, ModelKind};
pub use candle_core as candle;
pub use candle_core::{DType, Device, Tensor};
pub use error::{MlError, Result};
pub use network::Network;
pub use rng::Rng;
pub mod model;
#[cfg(feature = "onnx")]
pub mod onnx;
pub mod privacy;
pub mod remote;
pub mod target;
pub mod train;

pub use model::{Classifier, LocalModel, ModelInfo, Queries, QueryCounter, WhiteBox};
pub use train::{DpSgd, TrainConfig, TrainReport, train};
