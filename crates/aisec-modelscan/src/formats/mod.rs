//! Readers of every format the scanner understands. Containers (archives, compressed streams) are
//! opened by the driver; each model format has an analyser that returns an [`outcome::Outcome`].

pub(crate) mod compress;
pub(crate) mod gguf;
pub(crate) mod hdf5;
pub(crate) mod hfrepo;
pub(crate) mod jinja;
pub(crate) mod json;
pub(crate) mod keras;
pub(crate) mod marshal;
pub(crate) mod onnx;
pub(crate) mod outcome;
pub(crate) mod protobuf;
pub(crate) mod python;
pub(crate) mod safetensors;
pub(crate) mod savedmodel;
pub(crate) mod sevenz;
pub(crate) mod tar;
pub(crate) mod zip;

use outcome::{Env, Outcome};

use crate::rules::Rule;

/// The rules of every format analyser, joined with the pickle and archive rules in
/// [`crate::rules::RULES`].
pub(crate) const RULE_SETS: &[&[Rule]] = &[
    hdf5::RULES,
    keras::RULES,
    savedmodel::RULES,
    onnx::RULES,
    gguf::RULES,
    jinja::RULES,
    safetensors::RULES,
    hfrepo::RULES,
    python::RULES,
];

/// A model format with an analyser of its own (as opposed to containers and pickles, which the
/// driver handles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// HDF5 files: Keras `.h5` models and the weights inside `.keras` archives.
    Hdf5,
    /// GGUF (llama.cpp) models.
    Gguf,
    /// safetensors.
    Safetensors,
    /// ONNX `ModelProto`.
    Onnx,
    /// TensorFlow `saved_model.pb` or Keras `keras_metadata.pb`.
    SavedModel,
    /// JSON: Keras configs, Hugging Face configs and indexes.
    Json,
    /// Git LFS pointer files that stand where a model should be.
    LfsPointer,
    /// Python source a loader may import (Hugging Face custom code).
    Python,
    /// A standalone Jinja template (`chat_template.jinja`) that chat front-ends render.
    Jinja,
}

/// Detects a format by content (`ext` only decides between text formats that carry no magic).
/// Called after archives and compressed streams, before pickles.
pub(crate) fn detect(data: &[u8], ext: Option<&str>) -> Option<Kind> {
    if hdf5::detect(data) {
        Some(Kind::Hdf5)
    } else if gguf::detect(data) {
        Some(Kind::Gguf)
    } else if safetensors::detect(data) {
        Some(Kind::Safetensors)
    } else if hfrepo::is_lfs_pointer(data) {
        Some(Kind::LfsPointer)
    } else if onnx::detect(data) {
        Some(Kind::Onnx)
    } else if savedmodel::detect(data, ext) {
        Some(Kind::SavedModel)
    } else if jinja::detect(data, ext) {
        // Before JSON: a template that starts with `{%` and ends with `%}` looks like a JSON object.
        Some(Kind::Jinja)
    } else if json::detect(data) || (ext == Some("json") && json::detect_array(data)) {
        // A top-level array only with the extension: sentence-transformers `modules.json`.
        Some(Kind::Json)
    } else if python::detect(data, ext) {
        Some(Kind::Python)
    } else {
        None
    }
}

/// Runs the analyser for `kind`.
pub(crate) fn analyse<'d>(kind: Kind, data: &'d [u8], env: &Env<'_>) -> Outcome<'d> {
    match kind {
        Kind::Hdf5 => hdf5::analyse(data, env),
        Kind::Gguf => gguf::analyse(data, env),
        Kind::Safetensors => safetensors::analyse(data, env),
        Kind::Onnx => onnx::analyse(data, env),
        Kind::SavedModel => savedmodel::analyse(data, env),
        Kind::Json => json::analyse(data, env),
        Kind::LfsPointer => hfrepo::analyse_lfs_pointer(data, env),
        Kind::Python => python::analyse(data, env),
        Kind::Jinja => jinja::analyse(data, env),
    }
}
