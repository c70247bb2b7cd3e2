//! ONNX (placeholder).

use super::outcome::{Env, Outcome};
use crate::rules::Rule;

/// The rules this analyser reports under.
pub(crate) const RULES: &[Rule] = &[];

const FORMAT: &str = "onnx";
/// True when `data` is an ONNX ModelProto.
pub(crate) fn detect(data: &[u8]) -> bool {
    let _ = data;
    false
}
/// Analyses an ONNX model.
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
