//! The engine's typed errors.

use std::path::PathBuf;

/// Everything that can go wrong in the ML engine.
#[derive(Debug, thiserror::Error)]
pub enum MlError {
    /// A tensor operation failed (shapes, dtypes, devices).
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] candle_core::Error),
    /// The architecture file is malformed or inconsistent.
    #[error("architecture: {0}")]
    Architecture(String),
    /// The weights do not match the architecture.
    #[error("weights: {0}")]
    Weights(String),
    /// Input data does not fit the model.
    #[error("input: {0}")]
    Input(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A JSON document could not be parsed or written.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        source: serde_json::Error,
    },
    /// The model refused more queries: its budget is spent.
    #[error("query budget of {budget} spent")]
    BudgetExhausted {
        /// The budget that was set.
        budget: u64,
    },
    /// A remote model or runtime failed.
    #[error("target: {0}")]
    Target(String),
    /// A remote model (HTTP) failed or answered badly.
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
    /// An ONNX model could not be read or run.
    #[cfg(feature = "onnx")]
    #[error(transparent)]
    Onnx(#[from] crate::onnx::OnnxError),
    /// A differential-privacy setting is impossible or out of range (accountant, DP-SGD).
    #[error("privacy: {0}")]
    Privacy(String),
    /// The operation is not available for this model (for example gradients of a black-box model).
    #[error("unsupported: {0}")]
    Unsupported(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = MlError> = std::result::Result<T, E>;

impl MlError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
