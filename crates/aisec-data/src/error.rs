//! The one error type of the crate. Loaders from a path wrap the cause in [`Error::File`], so the
//! message names the file and the cause stays in `source()`.

use std::path::PathBuf;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Broad classes of [`Error`], for callers that branch on the failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Reading a file failed.
    Io,
    /// A size, count or dimension is over a [`crate::Limits`] bound.
    Limit,
    /// The bytes are not a valid file of the format.
    Malformed,
    /// Valid, but a variant this crate does not load (e.g. Fortran order, object arrays).
    Unsupported,
    /// The arrays do not fit together, or an argument is out of range.
    Invalid,
}

/// Everything that can go wrong while loading or reshaping a data set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file system operation failed.
    #[error("{op} {path}")]
    Io {
        /// The operation.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Loading one file failed; the cause says why.
    #[error("loading {path}")]
    File {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<Error>,
    },
    /// Input (a file, or a decompressed stream) larger than the limit.
    #[error("{what} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// What was being read.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// A declared or counted quantity over its limit.
    #[error("{what} ({value}) is over the limit of {limit}")]
    Limit {
        /// The quantity (rows, elements, classes, ...).
        what: &'static str,
        /// Its value (saturated at `u64::MAX` when it overflows).
        value: u64,
        /// The limit.
        limit: u64,
    },
    /// Bytes that are not a valid file of the format.
    #[error("malformed {format}: {detail}")]
    Malformed {
        /// The format.
        format: &'static str,
        /// What is wrong, and where.
        detail: String,
    },
    /// A valid file this crate does not load.
    #[error("unsupported {format}: {detail}")]
    Unsupported {
        /// The format.
        format: &'static str,
        /// What is not supported.
        detail: String,
    },
    /// Arrays or labels that do not make a data set.
    #[error("inconsistent data set: {detail}")]
    Inconsistent {
        /// What does not fit.
        detail: String,
    },
    /// An argument out of range (a fraction, an index, a column).
    #[error("invalid argument: {detail}")]
    InvalidArgument {
        /// What is wrong.
        detail: String,
    },
    /// The `.npz` zip archive could not be read.
    #[error("reading the .npz archive")]
    Zip {
        /// The cause.
        #[source]
        source: zip::result::ZipError,
    },
    /// A PNG image could not be decoded.
    #[error("decoding PNG")]
    Png {
        /// The cause.
        #[source]
        source: png::DecodingError,
    },
}

impl Error {
    /// The broad class of this error (looking through [`Error::File`]).
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::File { source, .. } => source.kind(),
            Error::Io { .. } => ErrorKind::Io,
            Error::TooLarge { .. } | Error::Limit { .. } => ErrorKind::Limit,
            Error::Malformed { .. } | Error::Zip { .. } | Error::Png { .. } => ErrorKind::Malformed,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Inconsistent { .. } | Error::InvalidArgument { .. } => ErrorKind::Invalid,
        }
    }

    /// The innermost error (through [`Error::File`] wrappers).
    #[must_use]
    pub fn root(&self) -> &Error {
        match self {
            Error::File { source, .. } => source.root(),
            e => e,
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn malformed(format: &'static str, detail: impl Into<String>) -> Self {
        Error::Malformed {
            format,
            detail: detail.into(),
        }
    }

    pub(crate) fn unsupported(format: &'static str, detail: impl Into<String>) -> Self {
        Error::Unsupported {
            format,
            detail: detail.into(),
        }
    }

    pub(crate) fn inconsistent(detail: impl Into<String>) -> Self {
        Error::Inconsistent {
            detail: detail.into(),
        }
    }

    pub(crate) fn in_file(self, path: impl Into<PathBuf>) -> Self {
        match self {
            // An I/O error already names its path.
            e @ (Error::Io { .. } | Error::File { .. }) => e,
            e => Error::File {
                path: path.into(),
                source: Box::new(e),
            },
        }
    }
}
