//! Rendering errors.

/// What can go wrong while rendering.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Writing the output failed.
    #[error("failed to write the report")]
    Io(#[from] std::io::Error),
    /// Serializing failed.
    #[error("failed to serialize the report")]
    Json(#[from] serde_json::Error),
    /// A format name that does not exist.
    #[error("unknown output format `{0}` (expected human, json or sarif)")]
    UnknownFormat(String),
}
