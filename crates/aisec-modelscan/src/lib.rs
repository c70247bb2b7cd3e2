//! Finds code that runs, and unsafe constructs, in model artifacts, without ever loading them.
//!
//! The entry point is [`Scanner`]: give it paths, get an [`aisec_core::Report`]. Pickle streams
//! (raw, inside PyTorch zips, legacy PyTorch files and tars, joblib, NumPy object arrays, archives
//! of any of these) are run on a symbolic machine that imports and calls nothing; a [`policy`] of
//! deny and allow lists decides the severity of what they would do. Every parser is bounded by
//! [`Limits`].

mod blob;
mod codec;
mod error;
mod formats;
mod judge;
mod limits;
mod numpy;
mod pickle;
pub mod policy;
pub mod rules;
mod scan;

pub use error::{Error, Result};
pub use limits::Limits;
pub use policy::POLICY_VERSION;
pub use rules::{RULES, Rule};
pub use scan::{FileDone, Scanner, tool};

/// Runs the pickle machine over arbitrary bytes, as the fuzz targets do. Never panics.
#[doc(hidden)]
#[must_use]
pub fn fuzz_pickle(data: &[u8]) -> usize {
    let limits = Limits {
        max_opcodes: 200_000,
        max_nodes: 200_000,
        ..Limits::default()
    };
    let stream = pickle::Machine::run(data, 0, &limits);
    judge::judge(&stream).len()
}

/// Scans arbitrary bytes as a file named `name`, as the fuzz targets do. Never panics.
#[doc(hidden)]
#[must_use]
pub fn fuzz_scan(name: &str, data: &[u8]) -> usize {
    let limits = Limits {
        max_opcodes: 200_000,
        max_nodes: 200_000,
        max_decompressed: 8 << 20,
        max_total_decompressed: 32 << 20,
        ..Limits::default()
    };
    Scanner::new(limits).scan_bytes(name, data).0.len()
}

/// Entry points of the per-parser fuzz targets (`fuzz/fuzz_targets/*.rs`). Each runs one parser
/// over arbitrary bytes and never panics.
#[doc(hidden)]
pub mod fuzzing {
    /// The HDF5 reader and Keras `.h5` analysis.
    #[must_use]
    pub fn hdf5(data: &[u8]) -> usize {
        crate::formats::hdf5::fuzz(data)
    }
    /// Keras config analysis (JSON text).
    #[must_use]
    pub fn keras(data: &[u8]) -> usize {
        crate::formats::keras::fuzz(data)
    }
    /// The Python marshal decoder.
    #[must_use]
    pub fn marshal(data: &[u8]) -> usize {
        crate::formats::marshal::fuzz(data)
    }
    /// The SavedModel protobuf walker.
    #[must_use]
    pub fn savedmodel(data: &[u8]) -> usize {
        crate::formats::savedmodel::fuzz(data)
    }
    /// The ONNX protobuf walker.
    #[must_use]
    pub fn onnx(data: &[u8]) -> usize {
        crate::formats::onnx::fuzz(data)
    }
    /// The GGUF reader.
    #[must_use]
    pub fn gguf(data: &[u8]) -> usize {
        crate::formats::gguf::fuzz(data)
    }
    /// The Jinja template analyser.
    #[must_use]
    pub fn jinja(data: &[u8]) -> usize {
        crate::formats::jinja::fuzz(data)
    }
    /// The safetensors validator.
    #[must_use]
    pub fn safetensors(data: &[u8]) -> usize {
        crate::formats::safetensors::fuzz(data)
    }
    /// The Python source analyser.
    #[must_use]
    pub fn python(data: &[u8]) -> usize {
        crate::formats::python::fuzz(data)
    }
}
