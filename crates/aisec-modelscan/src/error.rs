//! Errors of the scanner itself. Problems with a scanned file are not errors: they are findings or a
//! `not analysed` status in the report.

use std::path::PathBuf;

/// What stopped a scan from running at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A path the user named does not exist.
    #[error("`{}` does not exist", path.display())]
    NotFound {
        /// The path.
        path: PathBuf,
    },
    /// A directory could not be walked.
    #[error("failed to list `{}`", path.display())]
    Walk {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: walkdir::Error,
    },
}

/// Result with the scanner's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
