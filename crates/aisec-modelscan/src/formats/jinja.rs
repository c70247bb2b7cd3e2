//! Jinja template analysis (placeholder).

use crate::rules::Rule;

/// The rules this analyser reports under.
pub(crate) const RULES: &[Rule] = &[];

/// Analyses a Jinja template statically; `origin` names where it was found (`tokenizer.chat_template`).
pub(crate) fn analyse_template(src: &str, origin: &str) -> Vec<super::outcome::Issue> {
    let _ = (src, origin);
    Vec::new()
}
/// Fuzz entry point.
pub(crate) fn fuzz(data: &[u8]) -> usize {
    data.len()
}
