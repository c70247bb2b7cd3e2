//! HDF5 reader (placeholder, replaced by the HDF5 analyser).

use super::outcome::{Env, Outcome};
use crate::rules::Rule;

/// The rules this analyser reports under.
pub(crate) const RULES: &[Rule] = &[];

const FORMAT: &str = "hdf5";
/// True when `data` is an HDF5 file.
pub(crate) fn detect(data: &[u8]) -> bool {
    data.starts_with(b"\x89HDF\r\n\x1a\n")
}
/// Analyses an HDF5 file.
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
