//! Keras model configs (placeholder).

use super::outcome::Outcome;
use crate::rules::Rule;

/// The rules this analyser reports under.
pub(crate) const RULES: &[Rule] = &[];

/// True when `doc` is a Keras model/layer config (`class_name` + `config`).
pub(crate) fn is_config(doc: &serde_json::Value) -> bool {
    doc.get("class_name").is_some() && doc.get("config").is_some()
}
/// Analyses a Keras config; `origin` says where it was found (`model_config attribute`, `config.json`).
pub(crate) fn analyse_config(doc: &serde_json::Value, origin: &str, out: &mut Outcome<'_>) {
    let _ = (doc, origin, out);
}
/// Fuzz entry point.
pub(crate) fn fuzz(data: &[u8]) -> usize {
    data.len()
}
