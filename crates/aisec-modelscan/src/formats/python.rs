//! Python source (placeholder).

use super::outcome::{Env, Outcome};
use crate::rules::Rule;

/// The rules this analyser reports under.
pub(crate) const RULES: &[Rule] = &[];

const FORMAT: &str = "python";
/// True when `data` is Python source a loader may import.
pub(crate) fn detect(data: &[u8], ext: Option<&str>) -> bool {
    let _ = data;
    ext == Some("py")
}
/// Analyses Python source.
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
