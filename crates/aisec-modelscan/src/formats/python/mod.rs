//! Python source that a model loader may import: the custom code of Hugging Face repositories
//! (`modeling_*.py`, `tokenization_*.py` named by `auto_map`) and any other `.py` file or
//! Python script shipped beside a model.
//!
//! The source is parsed with tree-sitter's Python grammar (error-tolerant, iterative, no stack
//! growth on deep nesting); [`walk`] resolves import aliases and folds constant strings, then
//! reports dangerous references with their line and whether they run on import. Nothing is ever
//! executed. Regions the parser cannot read, and files too large to parse, are searched as text.

mod fold;
mod rules;
mod tables;
mod walk;

use std::borrow::Cow;
use std::time::{Duration, Instant};

use aisec_core::{Confidence, Severity};
use serde_json::json;

use super::outcome::{Env, Issue, Outcome};

pub(crate) use rules::RULES;

const FORMAT: &str = "python";
/// Largest source parsed; larger files are searched as text and reported as not analysed.
const MAX_SOURCE: usize = 8 << 20;
/// Wall-clock bound on one parse (tree-sitter's error recovery is the only super-linear part).
const MAX_PARSE_TIME: Duration = Duration::from_secs(20);
/// Matches reported per text search.
const MAX_TEXT_HITS: usize = 24;

/// True when `data` is Python source a loader may import: a `.py` file, or a script whose first
/// line is a Python shebang.
pub(crate) fn detect(data: &[u8], ext: Option<&str>) -> bool {
    if matches!(ext, Some("py" | "pyw")) {
        return true;
    }
    let first = data.split(|b| *b == b'\n').next().unwrap_or_default();
    first.starts_with(b"#!")
        && first.len() < 256
        && memchr::memmem::find(first, b"python").is_some()
}

/// What the analysis of one source found; shared with the repository analyser.
pub(crate) struct SourceReport {
    /// The issues.
    pub(crate) issues: Vec<Issue>,
    /// Decoded payloads (`exec(b64decode(…))`) to scan as files of their own: (name, bytes, ext).
    pub(crate) payloads: Vec<(String, Vec<u8>, &'static str)>,
    /// Modules the source imports relatively (`configuration_x`, `sub.helpers`).
    pub(crate) relative_imports: Vec<String>,
    /// Why the source was not fully analysed, if it was not.
    pub(crate) not_analysed: Option<String>,
}

/// Analyses Python source.
pub(crate) fn analyse<'d>(data: &'d [u8], env: &Env<'_>) -> Outcome<'d> {
    let _ = env;
    let mut out = Outcome::new(FORMAT);
    let report = analyse_source(data);
    for i in report.issues {
        out.push(i);
    }
    for (name, bytes, ext) in report.payloads {
        out.nested(name, Cow::Owned(bytes), Some(ext.to_owned()));
    }
    if let Some(reason) = report.not_analysed {
        out.not_analysed(reason);
    }
    out
}

/// Parses and judges `src`.
pub(crate) fn analyse_source(src: &[u8]) -> SourceReport {
    let mut report = SourceReport {
        issues: Vec::new(),
        payloads: Vec::new(),
        relative_imports: Vec::new(),
        not_analysed: None,
    };
    if src.len() > MAX_SOURCE {
        report.not_analysed = Some(format!(
            "Python source of {} bytes is larger than the {MAX_SOURCE}-byte parse limit; it was \
             only searched as text",
            src.len()
        ));
        text_search(src, 0, src.len(), &mut report.issues);
        return report;
    }
    // Python folds identifiers to NFKC: `ｅｘｅｃ` (fullwidth) and mathematical letters name
    // `exec`. Judge the folded text; line numbers are unchanged.
    let folded = fold_identifier_lookalikes(src);
    let src: &[u8] = &folded;
    let Some(tree) = parse(src) else {
        report.not_analysed = Some(format!(
            "the Python parser gave up (more than {} s); the file was only searched as text",
            MAX_PARSE_TIME.as_secs()
        ));
        text_search(src, 0, src.len(), &mut report.issues);
        return report;
    };
    let root = tree.root_node();
    let found = walk::walk(root, src);
    report.issues = found.issues;
    report.relative_imports = found.relative_imports;
    report.payloads = found
        .payloads
        .into_iter()
        .map(|p| (p.name, p.data, p.ext))
        .collect();
    if found.budget_exhausted {
        report.not_analysed = Some(format!(
            "the Python analysis ran out of its work budget in {} bytes of source; names after that \
             point may be unresolved, so the whole file was also searched as text",
            src.len()
        ));
        text_search(src, 0, src.len(), &mut report.issues);
    }
    if root.has_error() {
        let first = found.error_regions.first().copied();
        let line = first.map_or(1, |(s, _)| line_of(src, s));
        report.issues.push(
            Issue::new(
                "MS861",
                format!("Python source does not parse (first error at line {line})"),
                format!(
                    "The parser found {} syntax error region(s), the first at line {line}. Python \
                     cannot import a file that does not compile; the broken regions were searched \
                     as text.",
                    found.error_regions.len()
                ),
                json!({ "line": line, "regions": found.error_regions.len() }),
            )
            .at(first.map_or(0, |(s, _)| s as u64)),
        );
        for (s, e) in found.error_regions {
            text_search(src, s, e, &mut report.issues);
        }
    }
    report
}

/// Replaces the compatibility characters that NFKC folds to ASCII letters, digits and `_`
/// (fullwidth forms, mathematical alphanumerics, long s, Kelvin sign, `ﬁ`/`ﬂ` ligatures).
fn fold_identifier_lookalikes(src: &[u8]) -> Cow<'_, [u8]> {
    if src.is_ascii() {
        return Cow::Borrowed(src);
    }
    let Ok(text) = std::str::from_utf8(src) else {
        return Cow::Borrowed(src);
    };
    let lookalike = |c: char| {
        let cp = c as u32;
        matches!(cp, 0xFF10..=0xFF19 | 0xFF21..=0xFF3A | 0xFF3F | 0xFF41..=0xFF5A
            | 0x1D400..=0x1D6A3 | 0x1D7CE..=0x1D7FF | 0x017F | 0x212A | 0xFB01 | 0xFB02)
    };
    if !text.chars().any(lookalike) {
        return Cow::Borrowed(src);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let cp = c as u32;
        let letter = |n: u32| char::from_u32(if n < 26 { 0x41 + n } else { 0x61 + n - 26 });
        match cp {
            0xFF10..=0xFF19 | 0xFF21..=0xFF3A | 0xFF3F | 0xFF41..=0xFF5A => {
                out.push(char::from_u32(cp - 0xFEE0).unwrap_or(c));
            }
            0x1D400..=0x1D6A3 => out.push(letter((cp - 0x1D400) % 52).unwrap_or(c)),
            0x1D7CE..=0x1D7FF => out.push(char::from_u32(0x30 + (cp - 0x1D7CE) % 10).unwrap_or(c)),
            0x017F => out.push('s'),
            0x212A => out.push('K'),
            0xFB01 => out.push_str("fi"),
            0xFB02 => out.push_str("fl"),
            _ => out.push(c),
        }
    }
    Cow::Owned(out.into_bytes())
}

fn parse(src: &[u8]) -> Option<tree_sitter::Tree> {
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .ok()?;
    let start = Instant::now();
    let mut progress = |_: &tree_sitter::ParseState| start.elapsed() > MAX_PARSE_TIME;
    let options = tree_sitter::ParseOptions::new().progress_callback(&mut progress);
    parser.parse_with_options(
        &mut |i, _| src.get(i..).unwrap_or_default(),
        None,
        Some(options),
    )
}

fn line_of(src: &[u8], offset: usize) -> usize {
    memchr::memchr_iter(b'\n', src.get(..offset).unwrap_or(src)).count() + 1
}

/// Searches `src[start..end]` for dangerous names as words.
fn text_search(src: &[u8], start: usize, end: usize, issues: &mut Vec<Issue>) {
    let Some(region) = src.get(start..end) else {
        return;
    };
    let mut hits = 0usize;
    for needle in tables::NEEDLES {
        let finder = memchr::memmem::Finder::new(needle.as_bytes());
        for pos in finder.find_iter(region) {
            let before = pos.checked_sub(1).and_then(|p| region.get(p));
            if before.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.') {
                continue;
            }
            let offset = start + pos;
            let line = line_of(src, offset);
            let snippet: String =
                String::from_utf8_lossy(&region[pos..region.len().min(pos + 120)])
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned();
            issues.push(
                Issue::new(
                    "MS862",
                    format!("`{needle}` in Python text the parser could not read (line {line})"),
                    format!(
                        "Line {line} contains `{needle}` in a region that could not be parsed; \
                         what the scanner cannot read it cannot clear."
                    ),
                    json!({ "line": line, "name": needle, "code": snippet }),
                )
                .severity(Severity::High)
                .confidence(Confidence::Possible)
                .at(offset as u64),
            );
            hits += 1;
            break;
        }
        if hits >= MAX_TEXT_HITS {
            break;
        }
    }
}

/// Fuzz entry point: parse and judge arbitrary bytes.
pub(crate) fn fuzz(data: &[u8]) -> usize {
    let r = analyse_source(data);
    r.issues.len() + r.payloads.len() + r.relative_imports.len()
}

#[cfg(test)]
mod tests;
