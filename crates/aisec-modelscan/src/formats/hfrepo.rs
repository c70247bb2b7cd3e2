//! Hugging Face repository files (placeholder).

use super::outcome::{Env, Outcome};
use crate::rules::Rule;

/// The rules this analyser reports under.
pub(crate) const RULES: &[Rule] = &[];

/// True when `data` is a Git LFS pointer file.
pub(crate) fn is_lfs_pointer(data: &[u8]) -> bool {
    data.starts_with(b"version https://git-lfs.github.com/spec/v1")
}
/// Reports an LFS pointer file.
pub(crate) fn analyse_lfs_pointer<'d>(data: &'d [u8], env: &Env<'_>) -> Outcome<'d> {
    let _ = (data, env);
    let mut out = Outcome::new("git-lfs-pointer");
    out.not_analysed("Git LFS pointer: the file was never fetched");
    out
}
/// Analyses a JSON document that is not a Keras config (config.json, *.index.json, tokenizer_config.json).
/// Returns false when the document is none of the Hugging Face files this module knows.
pub(crate) fn analyse_json(doc: &serde_json::Value, env: &Env<'_>, out: &mut Outcome<'_>) -> bool {
    let _ = (doc, env, out);
    false
}
