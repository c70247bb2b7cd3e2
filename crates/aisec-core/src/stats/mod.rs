//! Statistics more than one capability needs, kept here because capability crates do not import
//! each other: the Shapiro-Wilk test ([`normality`]) and PRADA's extraction-stream detector
//! ([`prada`]), which `aisec attack extract` measures as a defense and `aisec guard` runs per
//! client key in front of a served classifier. Pure computation, no I/O.

pub mod normality;
pub mod prada;

/// Why a statistic could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// A parameter or a sample is outside what the routine accepts.
    #[error("invalid parameter: {0}")]
    Parameter(String),
    /// An input is larger than the bound kept on it.
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
}

/// The result of a statistical routine.
pub type Result<T> = std::result::Result<T, StatsError>;
