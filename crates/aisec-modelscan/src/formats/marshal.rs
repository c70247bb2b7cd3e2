//! Python marshal decoding (placeholder).

use crate::rules::Rule;

/// The rules this analyser reports under.
pub(crate) const RULES: &[Rule] = &[];

/// Fuzz entry point.
pub(crate) fn fuzz(data: &[u8]) -> usize {
    data.len()
}
