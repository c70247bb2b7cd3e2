//! What a format analyser is given and what it hands back to the scan driver.
//!
//! Analysers are pure: they read bytes (and, for a whole file on disk, may look at its siblings),
//! and return an [`Outcome`]. The driver turns issues into findings, scans nested blobs
//! recursively and records the target.

use std::borrow::Cow;
use std::path::Path;

use aisec_core::{Confidence, Severity};

/// Where the analysed bytes come from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Env<'a> {
    /// The file on disk, set only when the bytes are a whole file (not a member or payload).
    pub disk_path: Option<&'a Path>,
    /// The last path component of the member or file (`config.json`).
    pub name: &'a str,
}

/// One thing an analyser found; the driver makes a finding of it under `rule`.
#[derive(Debug, Clone)]
pub(crate) struct Issue {
    /// Rule id; must be in the catalog.
    pub rule: &'static str,
    /// Severity when it differs from the rule's default.
    pub severity: Option<Severity>,
    /// How sure the analyser is.
    pub confidence: Confidence,
    /// One-line title naming the specific construct.
    pub title: String,
    /// What was found and why it matters, in full sentences.
    pub message: String,
    /// Byte offset in the analysed bytes, when there is one.
    pub offset: Option<u64>,
    /// Structured evidence (names, paths, values).
    pub evidence: serde_json::Value,
}

impl Issue {
    /// An issue at the rule's default severity, certain.
    pub(crate) fn new(
        rule: &'static str,
        title: impl Into<String>,
        message: impl Into<String>,
        evidence: serde_json::Value,
    ) -> Self {
        Self {
            rule,
            severity: None,
            confidence: Confidence::Certain,
            title: title.into(),
            message: message.into(),
            offset: None,
            evidence,
        }
    }

    /// Sets the severity.
    #[must_use]
    pub(crate) fn severity(mut self, s: Severity) -> Self {
        self.severity = Some(s);
        self
    }

    /// Sets the confidence.
    #[must_use]
    pub(crate) fn confidence(mut self, c: Confidence) -> Self {
        self.confidence = c;
        self
    }

    /// Sets the byte offset.
    #[must_use]
    pub(crate) fn at(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }
}

/// Bytes inside the analysed blob that the driver scans as a file of their own (the weights file
/// inside a Keras archive, a pickle embedded in metadata).
#[derive(Debug)]
pub(crate) struct Nested<'d> {
    /// Shown as `parent!/name`.
    pub name: String,
    /// The bytes.
    pub data: Cow<'d, [u8]>,
    /// The extension the bytes claim, if any (guides only the `not analysed` decision).
    pub ext: Option<String>,
}

/// Everything an analyser reports about one blob.
#[derive(Debug)]
pub(crate) struct Outcome<'d> {
    /// The format, as targets show it (`keras-h5`, `onnx`, `gguf` …).
    pub format: String,
    /// Why the blob was not (fully) analysed, when it was not.
    pub not_analysed: Option<String>,
    /// Why the blob needs no analysis (it is not a model format after all), when it does not.
    pub skipped: Option<String>,
    /// What was found.
    pub issues: Vec<Issue>,
    /// Blobs to scan recursively.
    pub nested: Vec<Nested<'d>>,
}

impl<'d> Outcome<'d> {
    /// An empty outcome for `format`.
    pub(crate) fn new(format: impl Into<String>) -> Self {
        Self {
            format: format.into(),
            not_analysed: None,
            skipped: None,
            issues: Vec::new(),
            nested: Vec::new(),
        }
    }

    /// Adds an issue.
    pub(crate) fn push(&mut self, issue: Issue) {
        self.issues.push(issue);
    }

    /// Marks the blob as not (fully) analysed; the first reason wins.
    pub(crate) fn not_analysed(&mut self, reason: impl Into<String>) {
        if self.not_analysed.is_none() {
            self.not_analysed = Some(reason.into());
        }
    }

    /// Marks the blob as needing no analysis: it is not a model format after all.
    pub(crate) fn skip(&mut self, reason: impl Into<String>) {
        self.skipped = Some(reason.into());
    }

    /// Queues bytes for a recursive scan.
    pub(crate) fn nested(
        &mut self,
        name: impl Into<String>,
        data: Cow<'d, [u8]>,
        ext: Option<String>,
    ) {
        self.nested.push(Nested {
            name: name.into(),
            data,
            ext,
        });
    }
}
