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
    /// A statistic (PRADA's test) could not be computed.
    #[error(transparent)]
    Stats(#[from] aisec_core::stats::StatsError),
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
    /// An input is larger than the bound this crate keeps on it (rows, dimensions, clusters).
    #[error("{what} is {got}, above the bound of {max}")]
    TooLarge {
        /// What was measured.
        what: &'static str,
        /// Its size.
        got: usize,
        /// The bound.
        max: usize,
    },
    /// Data holds a NaN or an infinity.
    #[error("{what} holds a non-finite value")]
    NonFinite {
        /// Which data.
        what: &'static str,
    },
    /// A numerical routine did not settle within its iteration bound.
    #[error("{routine} did not converge within {iterations} iterations")]
    NoConvergence {
        /// The routine.
        routine: &'static str,
        /// The bound it ran to.
        iterations: usize,
    },
}

/// Shorthand for this crate's results.
pub type Result<T, E = AttackError> = std::result::Result<T, E>;
