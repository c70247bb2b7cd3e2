//! Typed errors of the attack crate.

/// What can stop an attack.
#[derive(Debug, thiserror::Error)]
pub enum AttackError {
    /// The model or a tensor operation failed.
    #[error(transparent)]
    Model(#[from] aisec_ml::MlError),
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] aisec_ml::candle::Error),
    /// The attack's parameters are invalid.
    #[error("invalid parameter: {0}")]
    Parameter(String),
    /// The attack needs gradients and the target has none.
    #[error(
        "{attack} needs the model's gradients, and {model} is black-box only; use a black-box attack (square, hopskipjump)"
    )]
    NeedsGradients {
        /// The attack.
        attack: &'static str,
        /// The target.
        model: String,
    },
}

/// Shorthand for this crate's results.
pub type Result<T, E = AttackError> = std::result::Result<T, E>;
