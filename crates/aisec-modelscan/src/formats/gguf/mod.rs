//! GGUF (llama.cpp, ggml) models: the header, every metadata key/value and every tensor-info
//! entry, bounds-checked, and every Jinja template found in metadata handed to the Jinja analyser.
//!
//! Only the header sections are read: tensor data is never touched, so a file mapped from disk is
//! analysed by reading the pages that hold its metadata. Nothing is allocated in proportion to a
//! declared count or length; kept state (keys, tensor ranges, templates) grows only with entries
//! actually present in the file and is capped.

mod ggml;
mod reader;
mod rules;

use std::collections::{BTreeMap, HashMap};

use aisec_core::Severity;
use serde_json::json;

use super::jinja;
use super::outcome::{Env, Issue, Outcome};
use reader::{Cursor, ReadError};
pub(crate) use rules::RULES;

const FORMAT: &str = "gguf";
const MAGIC: &[u8; 4] = b"GGUF";
/// ggml's `GGML_MAX_DIMS`.
const MAX_DIMS: u32 = 4;
/// ggml's `GGML_MAX_NAME`: names of this many bytes or more do not fit a ggml tensor.
const GGML_MAX_NAME: usize = 64;
/// The alignment of the data section and of every tensor offset when the file does not set one.
const DEFAULT_ALIGNMENT: u64 = 32;
/// Deepest nesting of arrays in arrays read; no writer nests at all, the spec allows it.
const MAX_ARRAY_DEPTH: usize = 8;
/// Most tensor-info entries kept for duplicate and range checks (real models have thousands).
const MAX_TENSORS: usize = 1 << 20;
/// Most templates handed to the Jinja analyser per file.
const MAX_TEMPLATES: usize = 256;
/// Longest template analysed (real chat templates are kilobytes).
const MAX_TEMPLATE_BYTES: usize = 16 << 20;
/// Most special token ids kept for the vocabulary range check.
const MAX_TOKEN_IDS: usize = 64;
/// Issues reported per rule; the rest are counted in one summary issue.
const MAX_ISSUES_PER_RULE: usize = 16;
/// A declared size that runs past the end of the file is reported as an attack on loader memory
/// (rather than as truncation) when it needs more than this many bytes ...
const ABSURD_FLOOR: u64 = 1 << 20;
/// ... and more than this many times the file's size.
const ABSURD_FACTOR: u64 = 16;
/// Longest key or name shown in evidence.
const MAX_SHOWN: usize = 200;

// GGUF metadata value types.
const T_INT32: u32 = 5;
const T_FLOAT32: u32 = 6;
const T_UINT32: u32 = 4;
const T_STRING: u32 = 8;
const T_ARRAY: u32 = 9;
const VALUE_TYPE_NAMES: [&str; 13] = [
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array",
    "uint64", "int64", "float64",
];

/// Byte size of a fixed-size value type.
fn value_size(ty: u32) -> Option<u64> {
    match ty {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

fn type_name(ty: u32) -> &'static str {
    usize::try_from(ty)
        .ok()
        .and_then(|i| VALUE_TYPE_NAMES.get(i))
        .copied()
        .unwrap_or("invalid")
}

/// Byte order and version from the 4 bytes after the magic: a version written big-endian reads
/// as a little-endian number whose low 16 bits are zero (the `gguf` Python package decides so too).
fn version(data: &[u8]) -> Option<(bool, u32)> {
    let v: [u8; 4] = data.get(4..8)?.try_into().ok()?;
    let le = u32::from_le_bytes(v);
    Some(if le.trailing_zeros() >= 16 {
        (true, le.swap_bytes())
    } else {
        (false, le)
    })
}

/// True when `data` is a GGUF file: the magic and a small version number in either byte order.
pub(crate) fn detect(data: &[u8]) -> bool {
    data.starts_with(MAGIC) && version(data).is_some_and(|(_, v)| (1..=0xffff).contains(&v))
}

/// Analyses a GGUF file.
pub(crate) fn analyse<'d>(data: &'d [u8], env: &Env<'_>) -> Outcome<'d> {
    let _ = env;
    let mut p = Parser::new(data);
    p.run();
    let mut out = p.finish();
    if let Some(start) = appended_zip(data) {
        out.push(
            Issue::new(
                "MS613",
                "GGUF file is also a ZIP archive",
                format!(
                    "A ZIP archive starts at offset {start} and its end record closes the file: zip readers (`torch.load`, \
`zipfile`) open the same file as an archive. The archive is scanned as `appended.zip`."
                ),
                json!({ "zip_offset": start, "zip_bytes": data.len() - start }),
            )
            .at(start as u64),
        );
        out.nested(
            "appended.zip",
            std::borrow::Cow::Borrowed(&data[start..]),
            Some("zip".into()),
        );
    }
    out
}

/// Where a ZIP archive whose end record closes `data` starts, when it starts after the GGUF
/// header: zip readers look for the end record in the last 64 KiB and locate the archive from it,
/// whatever precedes it.
fn appended_zip(data: &[u8]) -> Option<usize> {
    const EOCD: &[u8] = b"PK\x05\x06";
    let tail = data.len().saturating_sub(65_557);
    let pos = memchr::memmem::rfind(data.get(tail..)?, EOCD)? + tail;
    let rec = data.get(pos..pos.checked_add(22)?)?;
    let le32 = |o: usize| -> Option<usize> {
        let b: [u8; 4] = rec.get(o..o + 4)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(b)).ok()
    };
    let start = pos.checked_sub(le32(12)?)?.checked_sub(le32(16)?)?;
    (start >= 8 && data.get(start..start + 4) == Some(b"PK\x03\x04")).then_some(start)
}

/// Fuzz entry point: the whole analysis over arbitrary bytes.
pub(crate) fn fuzz(data: &[u8]) -> usize {
    let mut p = Parser::new(data);
    p.run();
    let templates = p.templates.len();
    p.finish().issues.len() + templates
}

/// The analysis stopped; the issue that says why was already reported.
struct Stop;

/// A template found in metadata.
#[derive(Debug)]
struct Template<'a> {
    /// The key, with `[i]` for array elements.
    origin: String,
    /// Offset of the text's first byte.
    at: usize,
    text: &'a [u8],
}

/// A tensor-info entry kept for the range checks.
#[derive(Debug)]
struct Tensor<'a> {
    name: &'a [u8],
    at: usize,
    offset: u64,
    /// Byte size, when the type and shape give one.
    size: Option<u64>,
}

/// What a metadata value is, as far as the checks need it.
#[derive(Debug, Clone, Copy, Default)]
struct Val {
    ty: u32,
    /// Integer and bool values (signed types sign-extended).
    int: Option<i128>,
    /// Element type and length of arrays.
    array: Option<(u32, u64)>,
}

/// A tokenizer array's element type and length, and where its key is.
#[derive(Debug, Clone, Copy)]
struct VocabArray {
    val: Val,
    at: usize,
}

#[derive(Default)]
struct RuleCount {
    shown: usize,
    more: usize,
    worst: Option<Severity>,
}

struct Parser<'a> {
    data: &'a [u8],
    cur: Cursor<'a>,
    out: Outcome<'a>,
    counts: BTreeMap<&'static str, RuleCount>,
    /// A count or length running past the end was reported: later truncation is its consequence.
    overrun_reported: bool,
    /// A declared entry count is impossible for the file: entries past the real ones are read
    /// from whatever follows, so structural issues found from then on are not reported (the
    /// count itself was), while templates still are.
    degraded: bool,
    keys: HashMap<&'a [u8], usize>,
    alignment: u64,
    tokens: Option<VocabArray>,
    scores: Option<VocabArray>,
    token_types: Option<VocabArray>,
    token_ids: Vec<(&'a [u8], i128, usize)>,
    /// The bytes of `tokenizer.ggml.precompiled_charsmap` (one-byte elements) and their offset.
    charsmap: Option<(&'a [u8], usize)>,
    templates: Vec<Template<'a>>,
    tensors: Vec<Tensor<'a>>,
    names: HashMap<&'a [u8], usize>,
}

fn shown(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_SHOWN)]).into_owned();
    if bytes.len() > MAX_SHOWN {
        format!("{s}…")
    } else {
        s
    }
}

fn align_up(v: u64, a: u64) -> Option<u64> {
    let a = a.max(1);
    v.checked_add(a - 1).map(|x| x / a * a)
}

impl<'a> Parser<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            cur: Cursor::new(data, 0, false, false),
            out: Outcome::new(FORMAT),
            counts: BTreeMap::new(),
            overrun_reported: false,
            degraded: false,
            keys: HashMap::new(),
            alignment: DEFAULT_ALIGNMENT,
            tokens: None,
            scores: None,
            token_types: None,
            token_ids: Vec::new(),
            charsmap: None,
            templates: Vec::new(),
            tensors: Vec::new(),
            names: HashMap::new(),
        }
    }

    fn file_len(&self) -> u64 {
        self.data.len() as u64
    }

    // ----- reporting ------------------------------------------------------------------------------

    fn report(&mut self, issue: Issue) {
        if self.degraded && !matches!(issue.rule, "MS600" | "MS601") {
            return;
        }
        let default = RULES
            .iter()
            .find(|r| r.id == issue.rule)
            .map_or(Severity::High, |r| r.severity);
        let sev = issue.severity.unwrap_or(default);
        let c = self.counts.entry(issue.rule).or_default();
        if c.shown < MAX_ISSUES_PER_RULE {
            c.shown += 1;
            self.out.push(issue);
        } else {
            c.more += 1;
            c.worst = c.worst.max(Some(sev));
        }
    }

    /// A read ran out of bytes: absurd declared sizes are an attack on loader memory, the rest is
    /// truncation.
    fn overrun(&mut self, e: ReadError, subject: &str) -> Stop {
        let ReadError::Eof {
            at,
            what,
            need,
            left,
        } = e;
        let file = self.file_len();
        let absurd = need > ABSURD_FLOOR.max(file.saturating_mul(ABSURD_FACTOR));
        if absurd {
            self.report(
                Issue::new(
                    "MS601",
                    format!("GGUF {what} declares {need} bytes in a {file}-byte file"),
                    format!(
                        "The {what} at offset {at}{subject} needs {need} bytes but only {left} are left in the file. \
A loader that allocates by this figure before reading exhausts memory or overflows; no writer produces it."
                    ),
                    json!({ "field": what, "needed_bytes": need, "bytes_left": left, "file_size": file, "offset": at }),
                )
                .at(at as u64),
            );
            self.overrun_reported = true;
        } else if !self.overrun_reported {
            self.report(
                Issue::new(
                    "MS600",
                    format!("GGUF file ends inside a {what}"),
                    format!(
                        "The {what} at offset {at}{subject} needs {need} bytes but only {left} are left: the file \
is truncated or malformed."
                    ),
                    json!({ "field": what, "needed_bytes": need, "bytes_left": left, "file_size": file, "offset": at }),
                )
                .at(at as u64),
            );
            self.overrun_reported = true;
        }
        self.out
            .not_analysed(format!("GGUF structure breaks at offset {at}: {e}"));
        Stop
    }

    /// Checks that `need` bytes (None: the figure overflowed) are left before a loop reads them.
    fn need(&mut self, need: Option<u64>, what: &'static str, subject: &str) -> Result<(), Stop> {
        let left = self.cur.left();
        match need {
            Some(n) if n <= left as u64 => Ok(()),
            n => Err(self.overrun(
                ReadError::Eof {
                    at: self.cur.pos,
                    what,
                    need: n.unwrap_or(u64::MAX),
                    left,
                },
                subject,
            )),
        }
    }

    fn finish(mut self) -> Outcome<'a> {
        for (rule, c) in std::mem::take(&mut self.counts) {
            if c.more > 0 {
                let mut issue = Issue::new(
                    rule,
                    format!("{} more GGUF issues of this kind", c.more),
                    format!(
                        "{} further issues under {rule} were counted but not listed one by one.",
                        c.more
                    ),
                    json!({ "more": c.more }),
                );
                if let Some(s) = c.worst {
                    issue = issue.severity(s);
                }
                self.out.push(issue);
            }
        }
        let templates = std::mem::take(&mut self.templates);
        for t in templates {
            if t.text.len() > MAX_TEMPLATE_BYTES {
                self.out.push(
                    Issue::new(
                        "MS612",
                        format!("GGUF template `{}` is {} bytes", t.origin, t.text.len()),
                        format!(
                            "The template in `{}` is longer than the {MAX_TEMPLATE_BYTES}-byte analysis bound and was \
not analysed.",
                            t.origin
                        ),
                        json!({ "key": t.origin, "bytes": t.text.len() }),
                    )
                    .at(t.at as u64),
                );
                self.out.not_analysed(format!(
                    "template `{}` is larger than the analysis bound",
                    t.origin
                ));
                continue;
            }
            let text = String::from_utf8_lossy(t.text);
            for mut issue in jinja::analyse_template(&text, &t.origin) {
                if issue.offset.is_none() {
                    issue = issue.at(t.at as u64);
                }
                self.out.push(issue);
            }
        }
        self.out
    }

    // ----- the file -------------------------------------------------------------------------------

    fn run(&mut self) {
        if !self.data.starts_with(MAGIC) {
            self.out.skip("no GGUF magic");
            return;
        }
        let Some((big, version)) = version(self.data) else {
            let _ = self.overrun(
                ReadError::Eof {
                    at: 4,
                    what: "version",
                    need: 4,
                    left: self.data.len().saturating_sub(4),
                },
                "",
            );
            return;
        };
        if !(1..=3).contains(&version) {
            self.report(
                Issue::new(
                    "MS600",
                    format!("GGUF version {version} is not known"),
                    format!(
                        "The file declares GGUF version {version} ({} byte order); versions 1 to 3 exist. Its \
layout is unknown, so it was not analysed.",
                        if big { "big-endian" } else { "little-endian" }
                    ),
                    json!({ "version": version, "big_endian": big }),
                )
                .at(4),
            );
            self.out
                .not_analysed(format!("unknown GGUF version {version}"));
            return;
        }
        if version == 1 {
            self.report(
                Issue::new(
                    "MS621",
                    "GGUF version 1",
                    "The file is GGUF version 1 (32-bit counts); current llama.cpp refuses it.",
                    json!({ "version": 1 }),
                )
                .at(4),
            );
        }
        self.cur = Cursor::new(self.data, 8, big, version == 1);
        let _ = self.sections();
    }

    fn sections(&mut self) -> Result<(), Stop> {
        let n_tensors = self
            .cur
            .count("tensor count")
            .map_err(|e| self.overrun(e, ""))?;
        let n_kv = self
            .cur
            .count("metadata count")
            .map_err(|e| self.overrun(e, ""))?;
        let w = self.cur.width();
        // Smallest possible entries: an empty key, a type and a one-byte value; an empty name, no
        // dimensions, a type and an offset.
        let min_kv = w + 4 + 1;
        let min_tensor = w + 4 + 4 + 8;
        let left = self.cur.left() as u64;
        let mut impossible = [false; 2];
        for (slot, (count, min, what)) in [
            (n_kv, min_kv, "metadata count"),
            (n_tensors, min_tensor, "tensor count"),
        ]
        .into_iter()
        .enumerate()
        {
            let need = count.saturating_mul(min);
            if need > left {
                let at = if what == "tensor count" { 8 } else { 8 + w };
                let subject = format!(" (declared {count} entries of at least {min} bytes each)");
                // Reported, then parsing goes on: what the file does hold is still analysed.
                impossible[slot] = true;
                let _ = self.overrun(
                    ReadError::Eof {
                        at: usize::try_from(at).unwrap_or(usize::MAX),
                        what,
                        need,
                        left: usize::try_from(left).unwrap_or(usize::MAX),
                    },
                    &subject,
                );
                self.out.not_analysed = Some(format!(
                    "the declared {what} ({count}) cannot fit in the file; entries were read until the file ended"
                ));
            }
        }
        self.degraded = impossible[0];
        for _ in 0..n_kv {
            self.kv()?;
        }
        self.vocabulary();
        self.degraded = impossible[0] || impossible[1];
        for _ in 0..n_tensors {
            self.tensor_info()?;
        }
        if self.out.not_analysed.is_some() {
            return Ok(());
        }
        let data_start = align_up(self.cur.pos as u64, self.alignment).unwrap_or(u64::MAX);
        self.ranges(data_start);
        Ok(())
    }

    /// A length-prefixed string.
    fn string(&mut self, what: &'static str) -> Result<(&'a [u8], usize), Stop> {
        let len = self.cur.count(what).map_err(|e| self.overrun(e, ""))?;
        let at = self.cur.pos;
        let s = self
            .cur
            .take(len, what)
            .map_err(|e| self.overrun(e, &format!(" (declared string length {len})")))?;
        Ok((s, at))
    }

    // ----- metadata -------------------------------------------------------------------------------

    fn kv(&mut self) -> Result<(), Stop> {
        let at = self.cur.pos;
        let (key, _) = self.string("metadata key")?;
        let ty = self
            .cur
            .u32("metadata value type")
            .map_err(|e| self.overrun(e, &format!(" of key `{}`", shown(key))))?;
        if let Some(&first) = self.keys.get(key) {
            self.report(
                Issue::new(
                    "MS608",
                    format!("GGUF key `{}` appears twice", shown(key)),
                    format!(
                        "Metadata key `{}` at offset {at} repeats the entry at offset {first}; readers disagree on which \
value counts. Both are analysed.",
                        shown(key)
                    ),
                    json!({ "key": shown(key), "offsets": [first, at] }),
                )
                .at(at as u64),
            );
        } else if self.keys.len() < MAX_TENSORS {
            self.keys.insert(key, at);
        }
        let val = self.value(ty, key, 0, None)?;
        self.note(key, val, at);
        Ok(())
    }

    fn invalid_type(&mut self, ty: u32, key: &[u8], at: usize, element: bool) -> Stop {
        let what = if element {
            "array element type"
        } else {
            "value type"
        };
        self.report(
            Issue::new(
                "MS610",
                format!("GGUF key `{}` has invalid {what} {ty}", shown(key)),
                format!(
                    "The {what} of key `{}` at offset {at} is {ty}; GGUF defines types 0 to 12. The rest of the file \
cannot be read.",
                    shown(key)
                ),
                json!({ "key": shown(key), "type": ty, "offset": at }),
            )
            .at(at as u64),
        );
        self.out
            .not_analysed(format!("invalid GGUF {what} {ty} at offset {at}"));
        Stop
    }

    fn value(
        &mut self,
        ty: u32,
        key: &'a [u8],
        depth: usize,
        index: Option<u64>,
    ) -> Result<Val, Stop> {
        let mut val = Val {
            ty,
            ..Val::default()
        };
        match ty {
            T_STRING => {
                let (s, at) = self.string("string value")?;
                self.maybe_template(key, s, at, index);
            }
            T_ARRAY => {
                let at = self.cur.pos;
                if depth >= MAX_ARRAY_DEPTH {
                    self.report(
                        Issue::new(
                            "MS610",
                            format!("GGUF key `{}` nests arrays {depth} deep", shown(key)),
                            format!(
                                "Key `{}` holds arrays nested more than {MAX_ARRAY_DEPTH} levels deep at offset {at}; \
recursive readers exhaust their stack. It was not read further.",
                                shown(key)
                            ),
                            json!({ "key": shown(key), "depth": depth, "offset": at }),
                        )
                        .at(at as u64),
                    );
                    self.out
                        .not_analysed(format!("arrays nested too deep at offset {at}"));
                    return Err(Stop);
                }
                let elem = self
                    .cur
                    .u32("array element type")
                    .map_err(|e| self.overrun(e, ""))?;
                let len = self
                    .cur
                    .count("array length")
                    .map_err(|e| self.overrun(e, ""))?;
                val.array = Some((elem, len));
                let subject = format!(
                    " (array of {len} {} in key `{}`)",
                    type_name(elem),
                    shown(key)
                );
                let w = self.cur.width();
                if let Some(size) = value_size(elem) {
                    let need = len.checked_mul(size);
                    self.need(need, "array", &subject)?;
                    let items = self
                        .cur
                        .take(need.unwrap_or(u64::MAX), "array")
                        .map_err(|e| self.overrun(e, &subject))?;
                    if depth == 0 && size == 1 && key == b"tokenizer.ggml.precompiled_charsmap" {
                        self.charsmap = Some((items, at));
                    }
                } else if elem == T_STRING {
                    self.need(len.checked_mul(w), "array", &subject)?;
                    for i in 0..len {
                        let (s, at) = self.string("string value")?;
                        self.maybe_template(key, s, at, Some(i));
                    }
                } else if elem == T_ARRAY {
                    self.need(len.checked_mul(w + 4), "array", &subject)?;
                    for i in 0..len {
                        self.value(T_ARRAY, key, depth + 1, Some(i))?;
                    }
                } else {
                    return Err(self.invalid_type(elem, key, at, true));
                }
            }
            _ => {
                let at = self.cur.pos;
                let Some(size) = value_size(ty) else {
                    return Err(self.invalid_type(ty, key, at.saturating_sub(4), false));
                };
                let raw = self
                    .cur
                    .scalar(size, "value")
                    .map_err(|e| self.overrun(e, &format!(" of key `{}`", shown(key))))?;
                val.int = match ty {
                    0 | 2 | 4 | 7 | 10 => Some(i128::from(raw)),
                    1 | 3 | 5 | 11 => {
                        let shift = 64 - size * 8;
                        #[allow(clippy::cast_possible_wrap)]
                        let signed = ((raw << shift) as i64) >> shift;
                        Some(i128::from(signed))
                    }
                    _ => None,
                };
            }
        }
        Ok(val)
    }

    fn maybe_template(&mut self, key: &'a [u8], s: &'a [u8], at: usize, index: Option<u64>) {
        let named =
            key == b"tokenizer.chat_template" || key.starts_with(b"tokenizer.chat_template.");
        // Vocabulary entries (`{{`, `{%` are tokens of many vocabularies) are not templates.
        let looks = !(index.is_some() && key.starts_with(b"tokenizer.ggml."))
            && (memchr::memmem::find(s, b"{{").is_some()
                || memchr::memmem::find(s, b"{%").is_some());
        if !(named || looks) {
            return;
        }
        if self.templates.len() >= MAX_TEMPLATES {
            self.out.not_analysed(format!(
                "more than {MAX_TEMPLATES} templates in metadata; the rest were not analysed"
            ));
            return;
        }
        let origin = match index {
            Some(i) => format!("{}[{i}]", shown(key)),
            None => shown(key),
        };
        self.templates.push(Template {
            origin,
            at,
            text: s,
        });
    }

    /// Records the values later checks need.
    fn note(&mut self, key: &'a [u8], val: Val, at: usize) {
        match key {
            b"general.alignment" => self.alignment(val, at),
            b"tokenizer.ggml.tokens" => self.tokens = Some(VocabArray { val, at }),
            b"tokenizer.ggml.scores" => self.scores = Some(VocabArray { val, at }),
            b"tokenizer.ggml.token_type" => self.token_types = Some(VocabArray { val, at }),
            _ => {
                if key.starts_with(b"tokenizer.ggml.")
                    && key.ends_with(b"_token_id")
                    && self.token_ids.len() < MAX_TOKEN_IDS
                    && let Some(v) = val.int
                {
                    self.token_ids.push((key, v, at));
                }
            }
        }
    }

    fn alignment(&mut self, val: Val, at: usize) {
        let ok = match (val.ty, val.int) {
            (T_UINT32, Some(v)) => u64::try_from(v).ok().filter(|v| v.is_power_of_two()),
            _ => None,
        };
        if let Some(a) = ok {
            self.alignment = a;
            return;
        }
        let shown_value = val.int.map_or_else(|| "-".to_owned(), |v| v.to_string());
        self.report(
            Issue::new(
                "MS609",
                format!("GGUF alignment is invalid ({} {shown_value})", type_name(val.ty)),
                format!(
                    "`general.alignment` at offset {at} is a {} of value {shown_value}; it must be a uint32 power of two. \
Loaders divide by it; the default of {DEFAULT_ALIGNMENT} is assumed for the checks that follow.",
                    type_name(val.ty)
                ),
                json!({ "type": type_name(val.ty), "value": shown_value }),
            )
            .at(at as u64),
        );
    }

    /// Tokenizer arrays that loaders index by token id must agree with the token list.
    fn vocabulary(&mut self) {
        let mut problems: Vec<(usize, String)> = Vec::new();
        let tokens = self.tokens;
        let n_tokens = match tokens.map(|t| (t.val.array, t.at)) {
            Some((Some((T_STRING, n)), _)) => Some(n),
            Some((arr, at)) => {
                let got = arr.map_or_else(
                    || type_name(tokens.map_or(0, |t| t.val.ty)).to_owned(),
                    |(e, n)| format!("array of {n} {}", type_name(e)),
                );
                problems.push((
                    at,
                    format!("`tokenizer.ggml.tokens` is a {got}, not an array of strings"),
                ));
                None
            }
            None => None,
        };
        for (name, arr, want) in [
            ("tokenizer.ggml.scores", self.scores, T_FLOAT32),
            ("tokenizer.ggml.token_type", self.token_types, T_INT32),
        ] {
            let Some(a) = arr else { continue };
            match a.val.array {
                Some((e, n)) => {
                    if e != want {
                        problems.push((
                            a.at,
                            format!(
                                "`{name}` holds {} elements, not {}",
                                type_name(e),
                                type_name(want)
                            ),
                        ));
                    }
                    if let Some(t) = n_tokens
                        && n != t
                    {
                        problems.push((a.at, format!("`{name}` has {n} entries for {t} tokens")));
                    }
                }
                None => problems.push((
                    a.at,
                    format!("`{name}` is a {}, not an array", type_name(a.val.ty)),
                )),
            }
        }
        for (at, what) in problems {
            self.report(
                Issue::new(
                    "MS611",
                    "GGUF tokenizer arrays disagree",
                    format!("{what}: loaders read it by token id, past its end."),
                    json!({ "problem": what, "tokens": n_tokens }),
                )
                .at(at as u64),
            );
        }
        self.charsmap();
        let Some(n) = n_tokens else { return };
        for (key, id, at) in std::mem::take(&mut self.token_ids) {
            if id >= i128::from(n) {
                self.report(
                    Issue::new(
                        "MS622",
                        format!("GGUF `{}` = {id} is past the vocabulary", shown(key)),
                        format!(
                            "`{}` is {id} but the vocabulary has {n} tokens.",
                            shown(key)
                        ),
                        json!({ "key": shown(key), "id": id.to_string(), "tokens": n }),
                    )
                    .at(at as u64),
                );
            }
        }
    }

    /// llama.cpp reads a 32-bit blob size from the start of the SentencePiece charsmap and indexes
    /// the charsmap past it (an out-of-bounds read before it checked the size).
    fn charsmap(&mut self) {
        let Some((bytes, at)) = self.charsmap.take() else {
            return;
        };
        let blob = bytes
            .get(..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(|b| {
                if self.cur.big() {
                    u32::from_be_bytes(b)
                } else {
                    u32::from_le_bytes(b)
                }
            });
        let ok = blob.is_some_and(|b| u64::from(b) + 4 < bytes.len() as u64);
        if !ok {
            let blob_text = blob.map_or_else(|| "missing".to_owned(), |b| b.to_string());
            self.report(
                Issue::new(
                    "MS611",
                    "GGUF precompiled charsmap is out of bounds",
                    format!(
                        "`tokenizer.ggml.precompiled_charsmap` at offset {at} has {} bytes but declares a blob of {blob_text} \
bytes after its 4-byte size: loaders index past its end.",
                        bytes.len()
                    ),
                    json!({ "charsmap_bytes": bytes.len(), "declared_blob_bytes": blob_text }),
                )
                .at(at as u64),
            );
        }
    }

    // ----- tensor infos ---------------------------------------------------------------------------

    fn tensor_info(&mut self) -> Result<(), Stop> {
        let at = self.cur.pos;
        let (name, _) = self.string("tensor name")?;
        let subject = format!(" of tensor `{}`", shown(name));
        let n_dims = self
            .cur
            .u32("tensor dimension count")
            .map_err(|e| self.overrun(e, &subject))?;
        let w = self.cur.width();
        self.need(
            u64::from(n_dims).checked_mul(w),
            "tensor dimensions",
            &subject,
        )?;
        let mut ne = [1u64; MAX_DIMS as usize];
        let mut negative = None;
        for i in 0..n_dims {
            let d = self
                .cur
                .count("tensor dimension")
                .map_err(|e| self.overrun(e, &subject))?;
            if let Some(slot) = usize::try_from(i).ok().and_then(|i| ne.get_mut(i)) {
                *slot = d;
            }
            if d > i64::MAX as u64 && negative.is_none() {
                negative = Some(d);
            }
        }
        let ty = self
            .cur
            .u32("tensor type")
            .map_err(|e| self.overrun(e, &subject))?;
        let offset = self
            .cur
            .u64("tensor offset")
            .map_err(|e| self.overrun(e, &subject))?;
        let tname = shown(name);
        if let Some(&first) = self.names.get(name) {
            self.report(
                Issue::new(
                    "MS607",
                    format!("GGUF tensor `{tname}` appears twice"),
                    format!("Tensor `{tname}` at offset {at} repeats the entry at offset {first}."),
                    json!({ "tensor": tname, "offsets": [first, at] }),
                )
                .at(at as u64),
            );
        }
        if name.len() >= GGML_MAX_NAME {
            self.report(
                Issue::new(
                    "MS621",
                    format!("GGUF tensor name of {} bytes", name.len()),
                    format!(
                        "Tensor `{tname}` has a name of {} bytes; ggml holds at most {} and refuses the file.",
                        name.len(),
                        GGML_MAX_NAME - 1
                    ),
                    json!({ "tensor": tname, "name_bytes": name.len() }),
                )
                .at(at as u64),
            );
        }
        let shape_problem = if n_dims == 0 || n_dims > MAX_DIMS {
            Some(format!(
                "has {n_dims} dimensions; ggml allows 1 to {MAX_DIMS} and writes them into a {MAX_DIMS}-slot array"
            ))
        } else {
            negative.map(|d| format!("has dimension {d}, negative as ggml's signed 64-bit field"))
        };
        let shape: Vec<u64> = ne
            .iter()
            .take(usize::try_from(n_dims).unwrap_or(usize::MAX))
            .copied()
            .collect();
        if let Some(p) = &shape_problem {
            self.shape_issue(&tname, at, p, &shape, n_dims);
        }
        let size = match ggml::lookup(ty) {
            None => {
                self.report(
                    Issue::new(
                        "MS603",
                        format!("GGUF tensor `{tname}` has unknown ggml type {ty}"),
                        format!(
                            "Tensor `{tname}` at offset {at} has ggml type {ty}; known types are 0 to {} (with gaps).",
                            ggml::known_count() - 1
                        ),
                        json!({ "tensor": tname, "type": ty }),
                    )
                    .at(at as u64),
                );
                None
            }
            Some(t) => {
                if t.status == ggml::TypeStatus::Removed {
                    self.report(
                        Issue::new(
                            "MS621",
                            format!("GGUF tensor type {} was removed from ggml", t.name),
                            format!(
                                "Tensor `{tname}` uses ggml type {} ({ty}), which current ggml no longer loads.",
                                t.name
                            ),
                            json!({ "tensor": tname, "type": t.name }),
                        )
                        .at(at as u64),
                    );
                }
                if shape_problem.is_some() {
                    None
                } else {
                    self.tensor_size(&tname, at, &ne, t, &shape, n_dims)
                }
            }
        };
        if self.tensors.len() < MAX_TENSORS {
            self.names.insert(name, at);
            self.tensors.push(Tensor {
                name,
                at,
                offset,
                size,
            });
        } else {
            self.out.not_analysed(format!(
                "more than {MAX_TENSORS} tensors; the rest were not compared"
            ));
        }
        Ok(())
    }

    fn shape_issue(&mut self, tname: &str, at: usize, problem: &str, shape: &[u64], n_dims: u32) {
        self.report(
            Issue::new(
                "MS602",
                format!("GGUF tensor `{tname}` has an invalid shape"),
                format!("Tensor `{tname}` at offset {at} {problem}."),
                json!({ "tensor": tname, "n_dims": n_dims, "shape": shape }),
            )
            .at(at as u64),
        );
    }

    /// Byte size from the type's block layout, the way ggml computes it, with ggml's signed
    /// 64-bit bounds.
    fn tensor_size(
        &mut self,
        tname: &str,
        at: usize,
        ne: &[u64; MAX_DIMS as usize],
        t: ggml::GgmlType,
        shape: &[u64],
        n_dims: u32,
    ) -> Option<u64> {
        if !ne[0].is_multiple_of(t.block) {
            let p = format!(
                "has first dimension {} that is not a multiple of {}'s block of {}",
                ne[0], t.name, t.block
            );
            self.shape_issue(tname, at, &p, shape, n_dims);
            return None;
        }
        let limit = i64::MAX as u64;
        let elements = ne
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d).filter(|&v| v <= limit));
        let bytes = (ne[0] / t.block)
            .checked_mul(t.bytes)
            .and_then(|row| ne[1..].iter().try_fold(row, |acc, &d| acc.checked_mul(d)))
            .filter(|&v| v <= limit);
        match (elements, bytes) {
            (Some(_), Some(b)) => Some(b),
            _ => {
                let count = ne
                    .iter()
                    .try_fold(1u128, |acc, &d| acc.checked_mul(u128::from(d)))
                    .map_or_else(|| "more than 2^128".to_owned(), |n| n.to_string());
                let p = format!(
                    "has {count} elements of {} (shape {shape:?}): the element count or byte size overflows 63 bits",
                    t.name
                );
                self.shape_issue(tname, at, &p, shape, n_dims);
                None
            }
        }
    }

    // ----- data section ---------------------------------------------------------------------------

    fn ranges(&mut self, data_start: u64) {
        let file = self.file_len();
        let data_len = file.saturating_sub(data_start);
        let alignment = self.alignment;
        let mut spans: Vec<(u64, u64, usize)> = Vec::new();
        let tensors = std::mem::take(&mut self.tensors);
        for (i, t) in tensors.iter().enumerate() {
            let tname = shown(t.name);
            if !t.offset.is_multiple_of(alignment) {
                self.report(
                    Issue::new(
                        "MS605",
                        format!("GGUF tensor `{tname}` is misaligned"),
                        format!(
                            "Tensor `{tname}` has data offset {} which is not a multiple of the alignment {alignment}.",
                            t.offset
                        ),
                        json!({ "tensor": tname, "offset": t.offset, "alignment": alignment }),
                    )
                    .at(t.at as u64),
                );
            }
            let Some(size) = t.size else { continue };
            let end = t.offset.checked_add(size);
            if end.is_none_or(|e| e > data_len) || t.offset > data_len {
                self.report(
                    Issue::new(
                        "MS604",
                        format!("GGUF tensor `{tname}` lies outside the file"),
                        format!(
                            "Tensor `{tname}` spans {size} bytes from data offset {} but the data section, starting at \
file offset {data_start}, holds {data_len} bytes of a {file}-byte file.",
                            t.offset
                        ),
                        json!({ "tensor": tname, "offset": t.offset, "size": size, "data_start": data_start, "data_bytes": data_len, "file_size": file }),
                    )
                    .at(t.at as u64),
                );
                continue;
            }
            if size > 0 {
                spans.push((t.offset, t.offset + size, i));
            }
        }
        spans.sort_unstable();
        let mut covered: Option<(u64, usize)> = None;
        let mut gap_total = 0u64;
        let mut gap_largest = (0u64, 0u64);
        let mut cursor = 0u64;
        for &(start, end, i) in &spans {
            if let Some((cend, ci)) = covered
                && start < cend
            {
                let (a, b) = (shown(tensors[ci].name), shown(tensors[i].name));
                self.report(
                    Issue::new(
                        "MS606",
                        format!("GGUF tensors `{a}` and `{b}` overlap"),
                        format!(
                            "Tensor `{b}` starts at data offset {start}, inside tensor `{a}`, which ends at {cend}."
                        ),
                        json!({ "tensors": [a, b], "overlap_bytes": cend.min(end) - start }),
                    )
                    .at(tensors[i].at as u64),
                );
            }
            if start > cursor {
                gap_total += start - cursor;
                if start - cursor > gap_largest.1 {
                    gap_largest = (cursor, start - cursor);
                }
            }
            if covered.is_none_or(|(cend, _)| end > cend) {
                covered = Some((end, i));
            }
            cursor = align_up(covered.map_or(0, |c| c.0), alignment).unwrap_or(u64::MAX);
        }
        let trailing = data_len.saturating_sub(cursor);
        // A file with no tensor data at all may end right after its metadata.
        let trailing = if spans.is_empty() && trailing < alignment {
            0
        } else {
            trailing
        };
        if gap_total > 0 || trailing > 0 {
            self.report(
                Issue::new(
                    "MS620",
                    format!("GGUF has {} bytes outside any tensor", gap_total + trailing),
                    format!(
                        "The data section holds {gap_total} bytes between tensors beyond alignment padding and {trailing} \
bytes after the last tensor; no loader reads them."
                    ),
                    json!({ "gap_bytes": gap_total, "largest_gap_at": gap_largest.0 + data_start, "largest_gap_bytes": gap_largest.1, "trailing_bytes": trailing }),
                )
                .at(data_start.saturating_add(if gap_total > 0 { gap_largest.0 } else { cursor })),
            );
        }
    }
}

#[cfg(test)]
mod tests;
