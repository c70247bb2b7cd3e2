//! The errors of the LLM layer.

/// Result with [`LlmError`].
pub type Result<T> = std::result::Result<T, LlmError>;

/// Everything that can go wrong talking to a model. No variant ever holds an API key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// A public corpus could not be read as its source ships it.
    #[error("corpus {name}: {message}")]
    Corpus {
        /// The corpus's catalog name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A labelled data file is malformed or over a limit.
    #[error("{path}: {message}")]
    Dataset {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The client or request settings are unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// The environment variable that should hold the API key is unset or empty.
    #[error("environment variable {var} holds no API key")]
    MissingKey {
        /// The variable's name.
        var: String,
    },
    /// The server could not be reached, after every retry.
    #[error("{url}: no answer after {attempts} attempt(s): {message}")]
    Transport {
        /// The endpoint.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last transport error.
        message: String,
    },
    /// The server answered with an error status (after every retry, for retryable ones).
    #[error("{url}: HTTP {status} after {attempts} attempt(s): {excerpt}")]
    Status {
        /// The endpoint.
        url: String,
        /// The final status.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// The start of the reply body, control characters removed.
        excerpt: String,
    },
    /// The reply (or the whole stream) is larger than the configured limit.
    #[error("{url}: the response is larger than {limit} bytes")]
    TooLarge {
        /// The endpoint.
        url: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The reply is not the JSON the protocol promises.
    #[error("{url}: malformed reply: {message}")]
    Malformed {
        /// The endpoint.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// The event stream broke the server-sent-events format or the chunk format.
    #[error("{url}: malformed event stream at line {line}: {message}")]
    Stream {
        /// The endpoint.
        url: String,
        /// The 1-based line of the stream.
        line: usize,
        /// What was wrong.
        message: String,
    },
    /// A local model could not be loaded or run.
    #[error(transparent)]
    Local(#[from] crate::local::LocalError),
    /// The reader of a streamed answer stopped it.
    #[error("the stream was stopped by its reader")]
    Cancelled,
    /// The OpenAI-compatible server could not start or run.
    #[error("server: {0}")]
    Serve(String),
}
