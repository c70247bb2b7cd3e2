//! The errors of the red team.

/// Result with [`RedteamError`].
pub type Result<T> = std::result::Result<T, RedteamError>;

/// Everything that can go wrong preparing or running a red-team campaign.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedteamError {
    /// A probe family file is unreadable or breaks the format.
    #[error("probe family {family}: {message}")]
    Probe {
        /// The family id or file.
        family: String,
        /// What was wrong.
        message: String,
    },
    /// The campaign's settings are unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// A labelled data set (the refusal detector's training data) is unreadable or malformed.
    #[error("{path}: {message}")]
    Dataset {
        /// The file.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// The target, judge or embedding model failed.
    #[error(transparent)]
    Llm(#[from] aisec_llm::LlmError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}
