//! Integration tests of the model scanner, over two labelled corpora: `tests/fixtures` (one file per
//! technique class, by `gen_fixtures.py`) and `tests/redteam` (variations written to break the
//! scanner, by `gen_redteam.py`).

mod corpus;
mod engine;
mod snapshots;

use std::path::{Path, PathBuf};

use aisec_core::{Finding, Target};
use aisec_modelscan::Scanner;

/// One row of a `MANIFEST.tsv`.
pub(crate) struct Case {
    /// Relative to `tests/`.
    pub(crate) path: String,
    pub(crate) malicious: bool,
    pub(crate) class: String,
}

pub(crate) fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// Both corpora's cases.
pub(crate) fn manifest() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut dirs: Vec<String> = ["fixtures", "redteam", "redteam2", "redteam3", "redteam4"]
        .map(String::from)
        .to_vec();
    // One corpus per format analyser: `tests/formats/<format>/MANIFEST.tsv`.
    let mut per_format: Vec<String> = std::fs::read_dir(tests_dir().join("formats"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("MANIFEST.tsv").is_file())
        .map(|e| format!("formats/{}", e.file_name().to_string_lossy()))
        .collect();
    per_format.sort();
    dirs.extend(per_format);
    for dir in &dirs {
        let text = std::fs::read_to_string(tests_dir().join(dir).join("MANIFEST.tsv"))
            .expect("MANIFEST.tsv");
        cases.extend(
            text.lines()
                .skip(1)
                .filter(|l| !l.trim().is_empty())
                .map(|l| {
                    let cols: Vec<&str> = l.split('\t').collect();
                    Case {
                        path: format!("{dir}/{}", cols[0]),
                        malicious: cols[1] == "malicious",
                        class: cols[2].to_owned(),
                    }
                }),
        );
    }
    cases
}

pub(crate) fn scan(rel: &str) -> (Vec<Finding>, Vec<Target>) {
    let path = tests_dir().join(rel);
    Scanner::default().scan_file(&path, rel)
}
