//! The scan driver: walks paths, detects each file's format by content, opens containers
//! recursively and runs the pickle machine wherever a loader would unpickle.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use aisec_core::{Finding, Location, Report, RuleId, Target, TargetStatus, Taxonomy, Tool};
use rayon::prelude::*;
use serde_json::json;

use crate::blob::Blob;
use crate::error::{Error, Result};
use crate::formats::compress::{self, DecompressBudget};
use crate::formats::outcome::{Env, Issue, Outcome};
use crate::formats::{self, sevenz, tar, zip};
use crate::judge::{self, Hit};
use crate::limits::Limits;
use crate::pickle::{self, Machine, NestedData, Root, RootItem, Stream};
use crate::policy::POLICY_VERSION;
use crate::rules::{self, Rule};

/// `torch.save`'s legacy magic number, as the pickle machine renders a 10-byte LONG1.
const TORCH_MAGIC_HEX: &str = "0x1950a86a20f9469cfc6c";
const TORCH_MAGIC_DEC: &str = "119547037146038801333356";

/// File extensions that promise a model format: content that is none of ours is `not analysed`.
const MODEL_EXTENSIONS: &[&str] = &[
    "pkl",
    "pickle",
    "pk",
    "p",
    "bin",
    "pt",
    "pth",
    "ckpt",
    "joblib",
    "dat",
    "npy",
    "npz",
    "tar",
    "zip",
    "7z",
    "model",
    "sav",
    "dill",
    "cloudpickle",
    "gz",
    "bz2",
    "xz",
    "lzma",
    "z",
    "lz4",
    "zst",
    "pt2",
    "mar",
    "nemo",
];

/// The scanner. Cheap to create; `scan` runs files in parallel.
#[derive(Debug, Clone, Default)]
pub struct Scanner {
    limits: Limits,
}

/// What happened to one file, for progress reporting.
#[derive(Debug, Clone)]
pub struct FileDone<'a> {
    /// The file.
    pub path: &'a str,
    /// Files done so far, this one included.
    pub done: usize,
    /// Files in the run.
    pub total: usize,
}

impl Scanner {
    /// A scanner with the given limits.
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        Self { limits }
    }

    /// Scans files and directories (recursively), in parallel. `progress` is called after each file.
    pub fn scan<P: AsRef<Path>>(
        &self,
        paths: &[P],
        progress: &(dyn Fn(FileDone<'_>) + Sync),
    ) -> Result<Report> {
        let started = Instant::now();
        let walk = collect_files(paths)?;
        let files: Vec<PathBuf> = walk.files.into_iter().collect();
        let total = files.len();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let results: Vec<(Vec<Finding>, Vec<Target>)> = files
            .par_iter()
            .map(|path| {
                let display = path.to_string_lossy().into_owned();
                let out = self.scan_file(path, &display);
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                progress(FileDone {
                    path: &display,
                    done: n,
                    total,
                });
                out
            })
            .collect();
        let mut report = Report::new(tool());
        for (path, status) in walk.skipped {
            report.targets.push(Target {
                path: path.to_string_lossy().into_owned(),
                member: None,
                format: "unknown".into(),
                size: 0,
                status,
            });
        }
        for (findings, targets) in results {
            report.findings.extend(findings);
            report.targets.extend(targets);
        }
        report.sort();
        report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(report)
    }

    /// Scans one file on disk. `display` is the path as the report shows it.
    #[must_use]
    pub fn scan_file(&self, path: &Path, display: &str) -> (Vec<Finding>, Vec<Target>) {
        let mut ctx = Ctx::new(display, &self.limits);
        ctx.disk = Some(path);
        let opened = fs_err::File::open(path).and_then(|f| {
            let len = f.metadata()?.len();
            Blob::map(f.file(), len).map_err(|e| {
                std::io::Error::new(e.kind(), format!("failed to map `{display}`: {e}"))
            })
        });
        match opened {
            Ok(blob) => ctx.scan_blob(&blob, None, 0, extension(display)),
            Err(e) => ctx.target(
                None,
                "unknown",
                0,
                TargetStatus::NotAnalysed {
                    reason: e.to_string(),
                },
            ),
        }
        (ctx.findings, ctx.targets)
    }

    /// Scans bytes held in memory as if they were the file `name`.
    #[must_use]
    pub fn scan_bytes(&self, name: &str, data: &[u8]) -> (Vec<Finding>, Vec<Target>) {
        let mut ctx = Ctx::new(name, &self.limits);
        ctx.scan_blob(data, None, 0, extension(name));
        (ctx.findings, ctx.targets)
    }
}

/// The tool block of scan reports.
#[must_use]
pub fn tool() -> Tool {
    Tool {
        name: "aisec".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        policy_version: POLICY_VERSION.into(),
    }
}

fn extension(name: &str) -> Option<String> {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    file.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())
}

/// What a walk found: files to scan, and paths reported without scanning (links not followed,
/// entries that could not be read).
#[derive(Default)]
struct Walk {
    files: BTreeSet<PathBuf>,
    skipped: Vec<(PathBuf, TargetStatus)>,
}

fn collect_files<P: AsRef<Path>>(paths: &[P]) -> Result<Walk> {
    let mut walk = Walk::default();
    for p in paths {
        let p = p.as_ref();
        // Paths named by the user are followed even when they are links.
        let meta = std::fs::metadata(p).map_err(|_| Error::NotFound { path: p.to_owned() })?;
        if !meta.is_dir() {
            walk.files.insert(p.to_owned());
            continue;
        }
        for entry in walkdir::WalkDir::new(p)
            .follow_links(false)
            .sort_by_file_name()
        {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let path = e.path().map_or_else(|| p.to_owned(), Path::to_owned);
                    let reason = format!("cannot be read: {e}");
                    walk.skipped
                        .push((path, TargetStatus::NotAnalysed { reason }));
                    continue;
                }
            };
            if is_vcs(entry.path()) {
                continue;
            }
            if entry.file_type().is_file() {
                walk.files.insert(entry.into_path());
            } else if entry.file_type().is_symlink() {
                let reason =
                    "symbolic link inside a directory is not followed; name its target to scan it"
                        .into();
                walk.skipped
                    .push((entry.into_path(), TargetStatus::Skipped { reason }));
            }
        }
    }
    Ok(walk)
}

fn is_vcs(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == ".git")
}

/// The content-detected format of some bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Zip,
    Tar,
    SevenZ,
    Compressed(compress::Compression),
    Npy,
    Pickle,
    /// A model format with an analyser of its own.
    Model(formats::Kind),
    Unknown,
}

fn detect(data: &[u8], ext: Option<&str>) -> Format {
    if data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06") {
        return Format::Zip;
    }
    if data.starts_with(b"\x93NUMPY") {
        return Format::Npy;
    }
    if sevenz::is_7z(data) {
        return Format::SevenZ;
    }
    if let Some(kind) = compress::detect(data) {
        return Format::Compressed(kind);
    }
    if tar::is_tar(data) {
        return Format::Tar;
    }
    if let Some(kind) = formats::detect(data, ext) {
        return Format::Model(kind);
    }
    let pickle_ext = ext.is_some_and(|e| MODEL_EXTENSIONS.contains(&e));
    if starts_like_pickle(data, pickle_ext) {
        return Format::Pickle;
    }
    if zip_end_present(data) {
        return Format::Zip;
    }
    Format::Unknown
}

/// Protocol 2+ pickles announce themselves; a file whose name promises a pickle is parsed as one if it
/// starts with an opcode; anything else must look like a pickle when run.
fn starts_like_pickle(data: &[u8], promised: bool) -> bool {
    match data {
        [0x80, p, next, ..] if *p <= 5 => promised || pickle::is_opcode(*next),
        _ => pickle::looks_like_pickle(data, promised),
    }
}

fn zip_end_present(data: &[u8]) -> bool {
    let tail = &data[data.len().saturating_sub(65_557)..];
    tail.windows(4).any(|w| w == b"PK\x05\x06")
}

/// Per-file state: where findings go and what has been decompressed.
struct Ctx<'a> {
    path: &'a str,
    /// The top-level file on disk, when scanning one.
    disk: Option<&'a Path>,
    limits: &'a Limits,
    budget: DecompressBudget,
    findings: Vec<Finding>,
    targets: Vec<Target>,
    /// Nested payloads already scanned, by content hash: a memoized payload referenced a thousand
    /// times is scanned once.
    nested_seen: std::collections::HashSet<u64>,
    /// Bytes of nested payloads scanned so far, bounded by `Limits::max_nested_bytes`.
    nested_bytes: u64,
    /// Containers already opened in this file, by content: an archive that contains itself (members
    /// overlapping the whole archive) is opened once, not once per level.
    containers_seen: std::collections::HashSet<u64>,
    /// Blobs (files, members, payloads) examined so far, bounded by `Limits::max_blobs`.
    blobs: usize,
    /// Fingerprints of the findings so far.
    fingerprints: std::collections::HashSet<String>,
}

fn child(parent: Option<&str>, name: &str) -> String {
    match parent {
        Some(p) => format!("{p}!/{name}"),
        None => name.to_owned(),
    }
}

impl<'a> Ctx<'a> {
    fn new(path: &'a str, limits: &'a Limits) -> Self {
        Self {
            path,
            disk: None,
            limits,
            budget: DecompressBudget::new(limits),
            findings: Vec::new(),
            targets: Vec::new(),
            nested_seen: std::collections::HashSet::new(),
            nested_bytes: 0,
            containers_seen: std::collections::HashSet::new(),
            blobs: 0,
            fingerprints: std::collections::HashSet::new(),
        }
    }

    fn not_analysed(
        &mut self,
        member: Option<&str>,
        format: &str,
        size: u64,
        reason: impl Into<String>,
    ) {
        self.target(
            member,
            format,
            size,
            TargetStatus::NotAnalysed {
                reason: reason.into(),
            },
        );
    }

    fn target(&mut self, member: Option<&str>, format: &str, size: u64, status: TargetStatus) {
        self.targets.push(Target {
            path: self.path.to_owned(),
            member: member.map(str::to_owned),
            format: format.to_owned(),
            size,
            status,
        });
    }

    /// Records a finding; `base` is the offset of the analysed bytes in the member, `None` when the
    /// finding has no place more precise than the member.
    fn finding(&mut self, member: Option<&str>, hit: Hit, base: Option<u64>) {
        let location = Location {
            path: self.path.to_owned(),
            member: member.map(str::to_owned),
            offset: base.map(|b| b + hit.offset),
            line: None,
        };
        let rule_id = RuleId::new(hit.rule.id);
        let fingerprint = Finding::fingerprint_of(&rule_id, &location, &hit.key);
        // The same finding reached twice (an anomaly seen from two views of one archive) is one finding.
        if !self.fingerprints.insert(fingerprint.clone()) {
            return;
        }
        self.findings.push(Finding {
            fingerprint,
            rule: rule_id,
            title: hit.title,
            severity: hit.severity,
            confidence: hit.confidence,
            message: hit.message,
            location,
            evidence: hit.evidence,
            taxonomy: taxonomy(hit.rule),
            remediation: hit.rule.remediation.to_owned(),
        });
    }

    /// A finding from an archive anomaly or similar structural rule.
    fn structural(
        &mut self,
        member: Option<&str>,
        rule_id: &'static str,
        title: String,
        message: String,
        offset: Option<u64>,
        evidence: serde_json::Value,
    ) {
        let mut issue = Issue::new(rule_id, title, message, evidence);
        issue.offset = offset;
        self.issue(member, issue);
    }

    /// Records one issue (from an analyser or a structural check) as a finding under its rule.
    fn issue(&mut self, member: Option<&str>, issue: Issue) {
        let rule: &'static Rule = rules::rule(issue.rule).unwrap_or_else(|| {
            debug_assert!(false, "rule {} is not in the catalog", issue.rule);
            &rules::RULES[0]
        });
        let key = format!("{}|{}", issue.title, issue.evidence);
        self.finding(
            member,
            Hit {
                rule,
                severity: issue.severity.unwrap_or(rule.severity),
                confidence: issue.confidence,
                title: issue.title,
                message: issue.message,
                offset: 0,
                evidence: issue.evidence,
                key,
            },
            issue.offset,
        );
    }

    fn scan_blob(&mut self, data: &[u8], member: Option<&str>, depth: usize, ext: Option<String>) {
        if depth > self.limits.max_nesting {
            self.not_analysed(
                member,
                "nested",
                data.len() as u64,
                format!("nested more than {} levels deep", self.limits.max_nesting),
            );
            return;
        }
        let size = data.len() as u64;
        self.blobs += 1;
        if self.blobs > self.limits.max_blobs {
            self.not_analysed(
                member,
                "nested",
                size,
                format!(
                    "more than {} members and payloads in one file",
                    self.limits.max_blobs
                ),
            );
            return;
        }
        if data.is_empty() {
            // Nothing to load, nothing to run.
            self.target(member, "empty", 0, TargetStatus::Analysed);
            return;
        }
        let format = detect(data, ext.as_deref());
        if matches!(
            format,
            Format::Zip | Format::Tar | Format::SevenZ | Format::Compressed(_)
        ) && !self.containers_seen.insert(content_key(data))
        {
            // Same bytes as an archive already opened in this file: same findings, already reported.
            self.target(
                member,
                "duplicate",
                size,
                TargetStatus::Skipped {
                    reason: "same content as an archive already scanned in this file".into(),
                },
            );
            return;
        }
        match format {
            Format::Zip => {
                self.scan_zip(data, member, depth);
                self.hdf5_behind_archive(data, member, depth);
            }
            Format::Tar => {
                self.scan_tar(data, member, depth);
                self.hdf5_behind_archive(data, member, depth);
            }
            Format::SevenZ => self.scan_7z(data, member, depth),
            Format::Compressed(kind) => self.scan_compressed(data, kind, member, depth, ext),
            Format::Npy => self.scan_npy(data, member, depth),
            Format::Pickle => {
                self.scan_pickles(data, member, depth, "pickle");
                // A pickle in front of a zip is a polyglot: zip readers see the archive behind it.
                if zip_end_present(data) && zip::list(data, self.limits).is_ok() {
                    self.scan_zip(data, member, depth);
                }
            }
            Format::Model(kind) => self.scan_model(kind, data, member, depth),
            Format::Unknown => {
                let promised = ext
                    .as_deref()
                    .is_some_and(|e| MODEL_EXTENSIONS.contains(&e));
                if promised {
                    self.not_analysed(
                        member,
                        "unknown",
                        size,
                        "content is not a model format this scanner recognises",
                    );
                } else {
                    self.target(
                        member,
                        "unknown",
                        size,
                        TargetStatus::Skipped {
                            reason: "not a model format".into(),
                        },
                    );
                }
            }
        }
    }

    /// An HDF5 file whose user block holds an archive: h5py opens the HDF5 part, so its external
    /// links and storage matter as much as the archive's members.
    fn hdf5_behind_archive(&mut self, data: &[u8], member: Option<&str>, depth: usize) {
        if formats::hdf5::detect(data) {
            self.scan_model(formats::Kind::Hdf5, data, member, depth);
        }
    }

    // ----- formats with analysers of their own ----------------------------------------------------

    fn scan_model(&mut self, kind: formats::Kind, data: &[u8], member: Option<&str>, depth: usize) {
        let name = member.unwrap_or(self.path);
        let name = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let env = Env {
            disk_path: if member.is_none() { self.disk } else { None },
            name,
        };
        let outcome = formats::analyse(kind, data, &env);
        self.apply(outcome, data.len() as u64, member, depth);
    }

    /// Turns an analyser's outcome into findings, targets and recursive scans.
    fn apply(&mut self, outcome: Outcome<'_>, size: u64, member: Option<&str>, depth: usize) {
        let Outcome {
            format,
            not_analysed,
            skipped,
            issues,
            nested,
        } = outcome;
        for issue in issues {
            self.issue(member, issue);
        }
        let status = match (not_analysed, skipped) {
            (Some(reason), _) => TargetStatus::NotAnalysed { reason },
            (None, Some(reason)) => TargetStatus::Skipped { reason },
            (None, None) => TargetStatus::Analysed,
        };
        self.target(member, &format, size, status);
        for n in nested {
            let name = child(member, &n.name);
            self.scan_blob(&n.data, Some(&name), depth + 1, n.ext);
        }
    }

    // ----- pickles -------------------------------------------------------------------------------

    /// Runs every pickle in `data` back to back, as `pickle.load` called in a loop would.
    fn scan_pickles(&mut self, data: &[u8], member: Option<&str>, depth: usize, format: &str) {
        let mut pos = 0usize;
        let mut count = 0usize;
        let mut legacy_torch = false;
        let mut status = TargetStatus::Analysed;
        let mut format = format.to_owned();
        loop {
            let stream = Machine::run(data, pos, self.limits);
            count += 1;
            if count == 1
                && matches!(&stream.root, Root::Int(v) if v == TORCH_MAGIC_HEX || v == TORCH_MAGIC_DEC)
            {
                legacy_torch = true;
                format = "pytorch-legacy".into();
            }
            if let Some(b) = &stream.broken
                && matches!(
                    b.error,
                    crate::pickle::StreamError::Budget(_)
                        | crate::pickle::StreamError::Unsupported(_)
                )
            {
                status = TargetStatus::NotAnalysed {
                    reason: format!("analysis stopped at offset {}: {}", b.offset, b.error),
                };
            }
            self.judge_stream(data, &stream, member, depth, 0);
            if stream.broken.is_some() || stream.end <= pos {
                break;
            }
            pos = stream.end;
            // Legacy torch.save: magic, protocol, sys_info, the object, storage keys, then raw storage bytes.
            if legacy_torch && count == 5 {
                break;
            }
            if pos >= data.len() {
                break;
            }
            if count >= self.limits.max_pickles_per_stream {
                status = TargetStatus::NotAnalysed {
                    reason: format!(
                        "more than {} pickles in one stream",
                        self.limits.max_pickles_per_stream
                    ),
                };
                break;
            }
            let rest = &data[pos..];
            if !starts_like_pickle(rest, false) {
                self.structural(
                    member,
                    "MS121",
                    format!("{} bytes follow the pickle stream", rest.len()),
                    format!("{} bytes after the STOP at offset {} are not a pickle and belong to no known layout.", rest.len(), pos),
                    Some(pos as u64),
                    json!({ "trailing_bytes": rest.len() }),
                );
                break;
            }
        }
        self.target(member, &format, data.len() as u64, status);
    }

    /// Judges one stream and follows its nested payloads.
    fn judge_stream(
        &mut self,
        data: &[u8],
        stream: &Stream,
        member: Option<&str>,
        depth: usize,
        base: u64,
    ) {
        for hit in judge::judge(stream) {
            self.finding(member, hit, Some(base));
        }
        for nested in &stream.nested {
            let name = child(
                member,
                &format!("<{}@{}>", nested.via, base + nested.offset as u64),
            );
            let bytes: &[u8] = match &nested.data {
                NestedData::Span(r) => data.get(r.clone()).unwrap_or_default(),
                NestedData::Owned(bytes) => bytes,
                NestedData::Unresolved(_) => continue,
            };
            if !self.nested_seen.insert(content_key(bytes)) {
                continue;
            }
            self.nested_bytes = self.nested_bytes.saturating_add(bytes.len() as u64);
            if self.nested_seen.len() > self.limits.max_nested_payloads
                || self.nested_bytes > self.limits.max_nested_bytes
            {
                self.not_analysed(
                    Some(&name),
                    "nested",
                    bytes.len() as u64,
                    "the file's budget for nested payloads is spent",
                );
                continue;
            }
            self.scan_blob(bytes, Some(&name), depth + 1, Some("pkl".into()));
        }
    }

    fn scan_npy(&mut self, data: &[u8], member: Option<&str>, depth: usize) {
        match crate::numpy::npy_header(data) {
            Ok((header_end, object)) => {
                if object {
                    let body = &data[header_end..];
                    let name = child(member, "<object array pickle>");
                    self.target(member, "numpy", data.len() as u64, TargetStatus::Analysed);
                    self.scan_pickles(body, Some(&name), depth + 1, "pickle");
                } else {
                    self.target(member, "numpy", data.len() as u64, TargetStatus::Analysed);
                }
            }
            Err(reason) => self.target(
                member,
                "numpy",
                data.len() as u64,
                TargetStatus::NotAnalysed { reason },
            ),
        }
    }

    // ----- containers ----------------------------------------------------------------------------

    fn scan_compressed(
        &mut self,
        data: &[u8],
        kind: compress::Compression,
        member: Option<&str>,
        depth: usize,
        ext: Option<String>,
    ) {
        let name = child(member, &format!("<{kind}>"));
        // The inner file keeps the outer extension's promise (`model.joblib` compressed is still a joblib).
        let inner_ext = ext
            .filter(|e| {
                !matches!(
                    e.as_str(),
                    "gz" | "bz2" | "xz" | "lzma" | "z" | "lz4" | "zst"
                )
            })
            .or(Some("pkl".into()));
        match compress::decompress(data, kind, self.limits, &mut self.budget) {
            Ok(blob) => {
                self.target(
                    member,
                    kind.name(),
                    data.len() as u64,
                    TargetStatus::Analysed,
                );
                self.scan_blob(&blob, Some(&name), depth + 1, inner_ext);
            }
            Err(e) => {
                let reason = e.to_string();
                if matches!(
                    e,
                    compress::CompressError::Bomb { .. }
                        | compress::CompressError::TooLarge { .. }
                        | compress::CompressError::BudgetExhausted { .. }
                ) {
                    self.structural(
                        member,
                        "MS209",
                        format!("{kind} stream exceeds the decompression budget"),
                        reason.clone(),
                        None,
                        json!({ "error": e.kind() }),
                    );
                } else {
                    self.structural(
                        member,
                        "MS207",
                        format!("{kind} stream is corrupt"),
                        reason.clone(),
                        None,
                        json!({ "error": e.kind() }),
                    );
                }
                self.not_analysed(member, kind.name(), data.len() as u64, reason.clone());
                if let Some(partial) = e.partial() {
                    let partial = partial.to_vec();
                    self.scan_blob(&partial, Some(&name), depth + 1, inner_ext);
                }
            }
        }
    }

    fn scan_zip(&mut self, data: &[u8], member: Option<&str>, depth: usize) {
        let listing = match zip::list(data, self.limits) {
            Ok(l) => l,
            Err(e) => {
                self.not_analysed(member, "zip", data.len() as u64, e.to_string());
                return;
            }
        };
        for anomaly in &listing.anomalies {
            self.zip_anomaly(member, anomaly);
        }
        if let Some(prefix) = &listing.prefix
            && prefix.end > prefix.start
            && !starts_like_pickle(data, false)
        {
            // A prefix that is a pickle was already scanned as the file itself; anything else gets its own look.
            if let Some(bytes) = data.get(prefix.clone()) {
                self.scan_blob(
                    bytes,
                    Some(&child(member, "<data before archive>")),
                    depth + 1,
                    None,
                );
            }
        }
        // PyTorch archives: `<dir>/data.pkl` names its tensor storages `<dir>/data/<key>` through
        // persistent ids. Exactly those members are tensor bytes torch never unpickles, so they are
        // not read; every other member is scanned by content.
        let mut storages: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut torch = false;
        for entry in listing
            .entries
            .iter()
            .filter(|e| e.name == "data.pkl" || e.name.ends_with("/data.pkl"))
        {
            torch = true;
            let dir = &entry.name[..entry.name.len() - "data.pkl".len()];
            if let Ok((bytes, _)) = zip::read(data, entry, self.limits, &mut self.budget) {
                let mut pos = 0;
                // A few streams at most: data.pkl holds one pickle.
                for _ in 0..4 {
                    let s = Machine::run(&bytes, pos, self.limits);
                    storages.extend(s.storage_keys.iter().map(|k| format!("{dir}data/{k}")));
                    if s.broken.is_some() || s.end <= pos || s.end >= bytes.len() {
                        break;
                    }
                    pos = s.end;
                }
            }
        }
        let format = if torch { "pytorch-zip" } else { "zip" };
        self.target(member, format, data.len() as u64, TargetStatus::Analysed);
        let mut seen: HashMap<String, usize> = HashMap::new();
        for entry in &listing.entries {
            // A "directory" that holds bytes is a file to every reader that asks for it by name.
            if entry.name.ends_with('/')
                && entry.compressed_size == 0
                && entry.uncompressed_size == 0
            {
                continue;
            }
            // Tensor storages of a PyTorch archive: torch never unpickles them, so neither do we.
            if entry.origin == zip::EntryOrigin::CentralDirectory && storages.contains(&entry.name)
            {
                continue;
            }
            let n = seen.entry(entry.name.clone()).or_insert(0);
            *n += 1;
            let label = if *n > 1 {
                format!("{} (copy {})", entry.name, n)
            } else {
                entry.name.clone()
            };
            let label = if entry.origin == zip::EntryOrigin::CentralDirectory {
                label
            } else {
                format!("{label} (local header at {})", entry.header_offset)
            };
            let name = child(member, &label);
            match zip::read(data, entry, self.limits, &mut self.budget) {
                Ok((bytes, anomaly)) => {
                    if let Some(a) = anomaly {
                        self.zip_anomaly(Some(&name), &a);
                    }
                    // A member really encrypted reads as noise: say so rather than skip it.
                    if entry.is_encrypted()
                        && detect(&bytes, extension(&entry.name).as_deref()) == Format::Unknown
                    {
                        self.not_analysed(
                            Some(&name),
                            "zip-member",
                            entry.uncompressed_size,
                            "member is encrypted",
                        );
                        continue;
                    }
                    self.scan_blob(&bytes, Some(&name), depth + 1, extension(&entry.name));
                }
                Err(e) => {
                    if e.is_bomb() {
                        self.structural(
                            Some(&name),
                            "MS209",
                            "Archive member exceeds the decompression budget".into(),
                            e.to_string(),
                            None,
                            json!({ "member": entry.name }),
                        );
                    }
                    self.not_analysed(
                        Some(&name),
                        "zip-member",
                        entry.uncompressed_size,
                        e.to_string(),
                    );
                }
            }
        }
    }

    fn zip_anomaly(&mut self, member: Option<&str>, a: &zip::ZipAnomaly) {
        let rule = match a.kind() {
            "local_header_mismatch" => "MS201",
            "duplicate_name" => "MS202",
            "crc_mismatch" => "MS203",
            "encrypted_flag" => "MS204",
            "data_before_archive" => "MS205",
            "unlisted_local_member" => "MS206",
            "suspicious_name" => "MS208",
            _ => "MS207",
        };
        self.anomaly(member, rule, a.describe(), a.offset(), a.kind());
    }

    /// A structural finding for an archive anomaly, titled by its rule.
    fn anomaly(
        &mut self,
        member: Option<&str>,
        rule: &'static str,
        message: String,
        offset: Option<u64>,
        kind: &str,
    ) {
        let title = rules::rule(rule)
            .map_or("Archive anomaly", |r| r.title)
            .to_owned();
        self.structural(
            member,
            rule,
            title,
            message,
            offset,
            json!({ "anomaly": kind }),
        );
    }

    fn scan_tar(&mut self, data: &[u8], member: Option<&str>, depth: usize) {
        let listing = match tar::list(data, self.limits) {
            Ok(l) => l,
            Err(e) => {
                self.not_analysed(member, "tar", data.len() as u64, e.to_string());
                return;
            }
        };
        let names: BTreeSet<&str> = listing.entries.iter().map(|e| e.name.as_str()).collect();
        let legacy = ["sys_info", "pickle", "storages", "tensors"]
            .iter()
            .all(|n| names.contains(n));
        self.target(
            member,
            if legacy { "pytorch-legacy-tar" } else { "tar" },
            data.len() as u64,
            TargetStatus::Analysed,
        );
        for anomaly in &listing.anomalies {
            let rule = match anomaly.kind() {
                "duplicate_name" => "MS202",
                "suspicious_name" => "MS208",
                _ => "MS207",
            };
            self.anomaly(
                member,
                rule,
                anomaly.describe(),
                anomaly.offset(),
                anomaly.kind(),
            );
        }
        for entry in &listing.entries {
            // GNU sparse members (type `S`, or PAX sparse formats stored as `GNUSparseFile.N/…`): `tarfile`
            // fills the holes with zeros on extraction; the stored bytes alone are not what a loader reads.
            let sparse = matches!(entry.kind, tar::TarKind::Other(b'S'))
                || entry.name.contains("GNUSparseFile.");
            if sparse {
                let name = child(member, &entry.name);
                self.structural(
                    Some(&name),
                    "MS210",
                    "Archive member is stored sparse".into(),
                    format!("`{}` is a GNU sparse member: extraction inserts holes the scanner does not reconstruct.", entry.name),
                    None,
                    json!({ "member": entry.name }),
                );
                self.not_analysed(
                    Some(&name),
                    "tar-member",
                    entry.size as u64,
                    "sparse member; its holes are not reconstructed",
                );
            }
            if !entry.is_file() {
                continue;
            }
            let Some(bytes) = data.get(entry.data_offset..entry.data_offset + entry.size) else {
                self.not_analysed(
                    Some(&child(member, &entry.name)),
                    "tar-member",
                    entry.size as u64,
                    "member data runs past the end of the archive",
                );
                continue;
            };
            let name = child(member, &entry.name);
            if legacy && (entry.name == "storages" || entry.name == "tensors") {
                self.scan_torch_records(bytes, &name, depth + 1, entry.name == "storages");
            } else if legacy && (entry.name == "pickle" || entry.name == "sys_info") {
                self.scan_pickles(bytes, Some(&name), depth + 1, "pickle");
            } else {
                self.scan_blob(bytes, Some(&name), depth + 1, extension(&entry.name));
            }
        }
    }

    /// The `storages` and `tensors` members of a legacy PyTorch tar: a count pickle, then per record a
    /// pickle followed by raw bytes whose length the record gives. The raw bytes are skipped, never parsed.
    fn scan_torch_records(&mut self, data: &[u8], member: &str, depth: usize, storages: bool) {
        let fail = |ctx: &mut Self, reason: String| {
            ctx.target(
                Some(member),
                "pytorch-legacy-records",
                data.len() as u64,
                TargetStatus::NotAnalysed { reason },
            );
        };
        let first = Machine::run(data, 0, self.limits);
        self.judge_stream(data, &first, Some(member), depth, 0);
        let count = match (&first.broken, &first.root) {
            (None, Root::Int(n)) => n.parse::<u64>().unwrap_or(u64::MAX),
            _ => return fail(self, "record count is not an integer pickle".into()),
        };
        let mut pos = first.end;
        for _ in 0..count.min(1_000_000) {
            let rec = Machine::run(data, pos, self.limits);
            self.judge_stream(data, &rec, Some(member), depth, 0);
            if rec.broken.is_some() {
                return fail(self, format!("record pickle broke at offset {pos}"));
            }
            pos = rec.end;
            let skip = if storages {
                let Root::Seq(items) = &rec.root else {
                    return fail(self, "storage record is not a tuple".into());
                };
                let elem = items
                    .get(2)
                    .and_then(|i| match i {
                        RootItem::Global(g) => storage_element_size(g),
                        _ => None,
                    })
                    .unwrap_or(1);
                let Some(n) = data
                    .get(pos..pos + 8)
                    .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
                else {
                    return fail(self, "storage size missing".into());
                };
                n.checked_mul(elem).and_then(|b| b.checked_add(8))
            } else {
                let Some(ndim) = data
                    .get(pos..pos + 4)
                    .map(|b| u64::from(u32::from_le_bytes(b.try_into().unwrap_or_default())))
                else {
                    return fail(self, "tensor record truncated".into());
                };
                ndim.checked_mul(16).and_then(|b| b.checked_add(16))
            };
            let Some(next) = skip
                .and_then(|s| usize::try_from(s).ok())
                .and_then(|s| pos.checked_add(s))
                .filter(|&n| n <= data.len())
            else {
                return fail(self, "record data runs past the end of the member".into());
            };
            pos = next;
        }
        if storages && pos < data.len() {
            // storage_views
            let views = Machine::run(data, pos, self.limits);
            self.judge_stream(data, &views, Some(member), depth, 0);
        }
        self.target(
            Some(member),
            "pytorch-legacy-records",
            data.len() as u64,
            TargetStatus::Analysed,
        );
    }

    fn scan_7z(&mut self, data: &[u8], member: Option<&str>, depth: usize) {
        match sevenz::extract(data, self.limits, &mut self.budget) {
            Ok(entries) => {
                self.target(member, "7z", data.len() as u64, TargetStatus::Analysed);
                for (entry_name, result) in entries {
                    let name = child(member, &entry_name);
                    match result {
                        Ok(bytes) => {
                            self.scan_blob(&bytes, Some(&name), depth + 1, extension(&entry_name));
                        }
                        Err(e) => {
                            if e.is_bomb() {
                                self.structural(
                                    Some(&name),
                                    "MS209",
                                    "Archive member exceeds the decompression budget".into(),
                                    e.to_string(),
                                    None,
                                    json!({ "error": e.kind() }),
                                );
                            }
                            self.not_analysed(Some(&name), "7z-member", 0, e.to_string());
                            if let Some(partial) = e.partial() {
                                self.scan_blob(
                                    partial,
                                    Some(&name),
                                    depth + 1,
                                    extension(&entry_name),
                                );
                            }
                        }
                    }
                }
            }
            Err(e) => self.not_analysed(member, "7z", data.len() as u64, e.to_string()),
        }
    }
}

/// A cheap identity for payload bytes (length plus samples): equal payloads collide, as intended;
/// distinct payloads colliding only skips a duplicate-looking scan, never a whole file.
fn content_key(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.len().hash(&mut h);
    if bytes.len() <= 1 << 16 {
        bytes.hash(&mut h);
    } else {
        bytes[..4096].hash(&mut h);
        bytes[bytes.len() - 4096..].hash(&mut h);
        bytes[bytes.len() / 2..bytes.len() / 2 + 4096].hash(&mut h);
    }
    h.finish()
}

/// Element size of a legacy storage class (`torch.FloatStorage`).
fn storage_element_size(class: &str) -> Option<u64> {
    let name = class.rsplit('.').next()?;
    Some(match name {
        "DoubleStorage" | "LongStorage" | "ComplexFloatStorage" => 8,
        "FloatStorage" | "IntStorage" | "QInt32Storage" => 4,
        "HalfStorage" | "ShortStorage" | "BFloat16Storage" => 2,
        "CharStorage" | "ByteStorage" | "BoolStorage" | "QInt8Storage" | "QUInt8Storage"
        | "QUInt4x2Storage" | "QUInt2x4Storage" => 1,
        "ComplexDoubleStorage" => 16,
        _ => return None,
    })
}

fn taxonomy(rule: &Rule) -> Taxonomy {
    Taxonomy {
        atlas: rule.atlas.iter().map(|s| (*s).to_owned()).collect(),
        owasp_llm: vec!["LLM03".into()],
        cwe: rule.cwe.iter().map(|s| (*s).to_owned()).collect(),
        stride: vec!["Tampering".into(), "Elevation of Privilege".into()],
    }
}
