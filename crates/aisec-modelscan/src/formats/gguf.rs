//! GGUF (placeholder).

use super::outcome::{Env, Outcome};
use crate::rules::Rule;

/// The rules this analyser reports under.
pub(crate) const RULES: &[Rule] = &[];

const FORMAT: &str = "gguf";
/// True when `data` is a GGUF file.
pub(crate) fn detect(data: &[u8]) -> bool {
    data.starts_with(b"GGUF")
}
/// Analyses a GGUF file.
pub(crate) fn analyse<'d>(data: &'d [u8], env: &Env<'_>) -> Outcome<'d> {
    let mut out = Outcome::new(FORMAT);
    out.not_analysed("not analysed by this build");
    let _ = (data, env);
    out
}
/// Fuzz entry point.
pub(crate) fn fuzz(data: &[u8]) -> usize {
    data.len()
}
