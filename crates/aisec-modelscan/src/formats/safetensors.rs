//! safetensors (placeholder).

use super::outcome::{Env, Outcome};
use crate::rules::Rule;

/// The rules this analyser reports under.
pub(crate) const RULES: &[Rule] = &[];

const FORMAT: &str = "safetensors";
/// True when `data` is a safetensors file.
pub(crate) fn detect(data: &[u8]) -> bool {
    data.len() >= 10
        && u64::from_le_bytes(data[..8].try_into().unwrap_or_default()) < data.len() as u64
        && data[8] == b'{'
}
/// Analyses a safetensors file.
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
