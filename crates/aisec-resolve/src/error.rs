//! The one error type of the crate: every failure names what was being resolved and where.

use std::path::PathBuf;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where a file that failed its sha256 check came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Freshly fetched from its source: the source serves other bytes than the pin.
    Fetched,
    /// Read back from the cache: the cached copy was altered or damaged (it has been removed).
    Cached,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Origin::Fetched => "fetched",
            Origin::Cached => "cached",
        })
    }
}

/// Broad classes of [`Error`], for callers that branch on the failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The name, source, pin or path given is malformed or unknown.
    Invalid,
    /// A file does not match its pin (sha256 or size).
    Integrity,
    /// Offline mode and the file is not cached.
    Offline,
    /// The source could not deliver (pip, HTTP, a missing member or file).
    Fetch,
    /// Local file system trouble (cache directory, lock, temp files).
    Io,
}

/// Everything that can go wrong while resolving a pinned file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The name is not in the built-in catalog.
    #[error("unknown model or data set `{name}`; the catalog has: {known}")]
    UnknownName {
        /// The name asked for.
        name: String,
        /// The catalog's names, comma separated.
        known: String,
    },
    /// A source string that does not parse.
    #[error("invalid source `{spec}`: {reason}")]
    InvalidSource {
        /// The source as given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A sha256 pin that is not 64 hexadecimal digits.
    #[error("invalid sha256 pin `{value}`: expected 64 hexadecimal digits")]
    InvalidSha256 {
        /// The pin as given.
        value: String,
    },
    /// A relative path inside a pinned tree that could escape it or is otherwise unusable.
    #[error("invalid file path `{path}` in a pinned tree: {reason}")]
    InvalidMember {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A file's sha256 is not the pinned one.
    #[error("sha256 mismatch for {origin} {what}: expected {expected}, got {actual}")]
    HashMismatch {
        /// Fetched or read from the cache.
        origin: Origin,
        /// The file (source and member, or cache path).
        what: String,
        /// The pinned sha256.
        expected: String,
        /// The sha256 of the bytes seen.
        actual: String,
    },
    /// A file's size is not the pinned one.
    #[error("size mismatch for {origin} {what}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// Fetched or read from the cache.
        origin: Origin,
        /// The file.
        what: String,
        /// The pinned size.
        expected: u64,
        /// The size seen (for a fetch, possibly only a lower bound: reading stops past the limit).
        actual: u64,
    },
    /// A file larger than the resolver accepts.
    #[error("{what} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The file.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// Offline mode and the file is not in the cache.
    #[error(
        "offline: {what} is not in the cache {cache}\n\nhint: run once without offline mode (unset AISEC_OFFLINE) to fetch it, or copy a cache directory made elsewhere to this path"
    )]
    Offline {
        /// What was asked for.
        what: String,
        /// The cache directory.
        cache: PathBuf,
    },
    /// No cache directory could be determined from the environment.
    #[error("no cache directory: set AISEC_CACHE_DIR, XDG_CACHE_HOME or HOME")]
    NoCacheDir,
    /// A file system operation failed.
    #[error("{op} {path}")]
    Io {
        /// The operation, e.g. "creating directory".
        op: &'static str,
        /// The path it failed on.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Reading the bytes of a file from its source failed part-way.
    #[error("reading {what}")]
    Read {
        /// The file (source and member).
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// pip could not be started.
    #[error("could not start `{python} -m pip`")]
    PipSpawn {
        /// The Python interpreter tried.
        python: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// pip ran and failed.
    #[error("`pip download {spec}` failed ({status}): {stderr}")]
    PipFailed {
        /// `package==version`.
        spec: String,
        /// The exit status.
        status: String,
        /// The end of pip's error output.
        stderr: String,
    },
    /// pip did not finish in time (it was killed).
    #[error("`pip download {spec}` did not finish within {secs} s and was stopped")]
    PipTimeout {
        /// `package==version`.
        spec: String,
        /// The timeout.
        secs: u64,
    },
    /// pip finished but did not leave exactly one wheel.
    #[error("`pip download {spec}` left {count} wheel files, expected exactly one")]
    WheelCount {
        /// `package==version`.
        spec: String,
        /// How many `.whl` files it left.
        count: usize,
    },
    /// The wheel is not a readable zip archive.
    #[error("reading wheel {wheel}")]
    Zip {
        /// The wheel file name.
        wheel: String,
        /// The cause.
        #[source]
        source: zip::result::ZipError,
    },
    /// The member is not in the wheel (or is a directory).
    #[error("`{member}` is not a file in wheel {wheel}")]
    MemberNotFound {
        /// The wheel file name.
        wheel: String,
        /// The member path.
        member: String,
    },
    /// A `file:` source that is missing or not a regular file.
    #[error("{path} is not a regular file")]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// An HTTP request failed (connection, TLS, status, body).
    #[error("HTTP GET {url}")]
    Http {
        /// The URL (no credentials are ever part of it).
        url: String,
        /// The cause.
        #[source]
        source: Box<ureq::Error>,
    },
}

impl Error {
    /// The broad class of this error.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::UnknownName { .. }
            | Error::InvalidSource { .. }
            | Error::InvalidSha256 { .. }
            | Error::InvalidMember { .. } => ErrorKind::Invalid,
            Error::HashMismatch { .. } | Error::SizeMismatch { .. } | Error::TooLarge { .. } => {
                ErrorKind::Integrity
            }
            Error::Offline { .. } => ErrorKind::Offline,
            Error::PipSpawn { .. }
            | Error::PipFailed { .. }
            | Error::PipTimeout { .. }
            | Error::WheelCount { .. }
            | Error::Zip { .. }
            | Error::MemberNotFound { .. }
            | Error::NotAFile { .. }
            | Error::Http { .. }
            | Error::Read { .. } => ErrorKind::Fetch,
            Error::NoCacheDir | Error::Io { .. } => ErrorKind::Io,
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
