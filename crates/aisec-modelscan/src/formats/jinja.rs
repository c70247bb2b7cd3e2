//! Jinja template analysis (placeholder).

use super::outcome::{Env, Outcome};
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

/// True when `data` is a standalone Jinja template file (`.jinja`, `.j2`).
pub(crate) fn detect(data: &[u8], ext: Option<&str>) -> bool {
    let _ = data;
    matches!(ext, Some("jinja" | "j2"))
}

/// Analyses a standalone template file.
pub(crate) fn analyse<'d>(data: &'d [u8], env: &Env<'_>) -> Outcome<'d> {
    let mut out = Outcome::new("jinja");
    for issue in analyse_template(&String::from_utf8_lossy(data), env.name) {
        out.push(issue);
    }
    out
}
