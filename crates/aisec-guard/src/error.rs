//! The guard's errors.

/// What goes wrong in the guard library.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// A policy file that cannot be used.
    #[error("policy: {0}")]
    Policy(String),
    /// An injection classifier that cannot be trained, read or run.
    #[error("injection classifier: {0}")]
    Classifier(String),
    /// A file that cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The guard's result.
pub type Result<T, E = GuardError> = std::result::Result<T, E>;
