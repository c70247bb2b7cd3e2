//! TensorFlow SavedModel (placeholder).

use super::outcome::{Env, Outcome};
use crate::rules::Rule;

/// The rules this analyser reports under.
pub(crate) const RULES: &[Rule] = &[];

const FORMAT: &str = "tf-savedmodel";
/// True when `data` is a SavedModel or Keras metadata protobuf.
pub(crate) fn detect(data: &[u8]) -> bool {
    let _ = data;
    false
}
/// Analyses a SavedModel protobuf.
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
