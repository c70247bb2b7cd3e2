//! Errors of the BOM builder. Problems inside one model's metadata (a bad card, an unreadable
//! `config.json`) are warnings on the inventory, not errors: the BOM is still written.

use std::path::PathBuf;

/// Why no BOM could be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading a file or directory failed.
    #[error("cannot read `{path}`")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The path is not a directory.
    #[error("`{0}` is not a directory (aisec bom takes a model directory)")]
    NotADirectory(PathBuf),
    /// Walking the directory failed (a loop, a permission error).
    #[error("cannot walk `{path}`: {message}")]
    Walk {
        /// Where.
        path: PathBuf,
        /// What happened.
        message: String,
    },
    /// More files than the limit.
    #[error("`{path}` holds more than {max} files")]
    TooManyFiles {
        /// The directory.
        path: PathBuf,
        /// The limit.
        max: usize,
    },
}

/// Result with the BOM [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
