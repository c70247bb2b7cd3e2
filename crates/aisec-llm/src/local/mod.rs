//! Local models read from GGUF files: the tokenizer rebuilt from the file's metadata, the
//! ChatML chat format written in Rust (the Jinja template in the file is never rendered), tool
//! calls in the form SmolLM2 learnt ([`tools`]), and [`LocalChat`], a chat model on candle's
//! quantized llama that answers whole or streamed; and [`MiniLm`], sentence embeddings from a
//! safetensors BERT with its WordPiece tokenizer written in Rust.

pub mod embed;
pub mod model;
pub mod prefix;
pub mod template;
pub mod tokenizer;
pub mod tools;

pub use embed::{MiniLm, StaticEmbedder, WordPiece};
pub use model::LocalChat;
pub use prefix::PrefixStats;
pub use template::{ChatMl, SMOLLM2_DEFAULT_SYSTEM};
pub use tokenizer::Tokenizer;

use std::path::Path;

use candle_core::quantized::gguf_file::Content;

/// The largest GGUF file we open (weights included).
pub const MAX_GGUF_BYTES: u64 = 64 << 30;

/// What can go wrong reading a local model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a GGUF file we can read, or breaks one of our bounds.
    #[error("{path}: not a readable GGUF file: {message}")]
    Gguf {
        /// The file.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// The metadata lacks a key we need, or holds the wrong type or an out-of-bounds value.
    #[error("GGUF metadata {key}: {message}")]
    Metadata {
        /// The metadata key.
        key: String,
        /// What was wrong.
        message: String,
    },
    /// The model could not be loaded or run.
    #[error("local model: {0}")]
    Model(String),
    /// The request cannot be served as given (too long a prompt, too many answers, a tool
    /// choice that does not fit the tools).
    #[error("local model: {0}")]
    Request(String),
    /// The caller stopped a streamed answer before it was complete.
    #[error("local model: the stream was stopped by its reader")]
    Cancelled,
    /// A token id outside the vocabulary.
    #[error("token id {0} is not in the vocabulary")]
    UnknownId(u32),
}

/// Reads the header of a GGUF file: metadata and tensor descriptions, not the weights.
///
/// The file's size is capped at [`MAX_GGUF_BYTES`]; candle's reader caps every string at
/// 1 GiB, every array and count at 2^30 entries and nesting at 64 levels, and the tokenizer
/// applies its own, tighter bounds to what it takes from the metadata.
///
/// # Errors
/// [`LocalError::Io`] when the file cannot be read, [`LocalError::Gguf`] when it is not GGUF
/// or is larger than the cap.
pub fn read_gguf_header(path: &Path) -> Result<Content, LocalError> {
    let shown = path.display().to_string();
    let io = |source| LocalError::Io {
        path: shown.clone(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len > MAX_GGUF_BYTES {
        return Err(LocalError::Gguf {
            path: shown,
            message: format!("{len} bytes, more than the {MAX_GGUF_BYTES}-byte limit"),
        });
    }
    let mut reader = std::io::BufReader::new(&mut file);
    Content::read(&mut reader).map_err(|e| LocalError::Gguf {
        path: shown.clone(),
        message: e.to_string(),
    })
}
