//! safetensors: an 8-byte little-endian header length, a JSON header, then the tensor bytes.
//!
//! The analyser holds the file to the reference loader's rules (the `safetensors` crate 0.8, which
//! the Python package and most frameworks use) and reports every way the file breaks them, plus
//! what the loader accepts but no writer produces (repeated keys, unknown fields, odd spellings)
//! and what hides behind or inside the weights (trailing bytes, gaps, polyglot bodies, payloads
//! in header strings). Only the header is parsed; the body is touched by small probes (the start
//! of each tensor, the last 64 KiB), so a multi-gigabyte file costs what its header costs.

mod header;
mod payload;
mod rules;

use std::borrow::Cow;

use aisec_core::Severity;
use serde_json::json;

use self::header::{Entry, Header, ProblemKind, Quirk};
use super::outcome::{Env, Issue, Outcome};
use crate::pickle;

pub(crate) use self::rules::RULES;

const FORMAT: &str = "safetensors";
/// The reference loader's header limit (`MAX_HEADER_SIZE`).
const MAX_HEADER: u64 = 100_000_000;
/// Headers above this are notable (real ones stay in the low megabytes).
const LARGE_HEADER: u64 = 32 << 20;
/// NumPy's dimension limit.
const MAX_RANK: u64 = 64;
/// Findings of one rule reported one by one before the rest are summarised.
const MAX_REPORTED: usize = 32;
/// Tensors whose first bytes are probed for payloads.
const MAX_PROBED: usize = 4096;
/// Bytes from the end searched for a zip end record (its comment is at most 64 KiB).
const ZIP_TAIL: usize = 22 + 65_535;
/// Bytes of leading whitespace `detect` looks through when the length prefix is not plausible.
const DETECT_WINDOW: usize = 4096;

fn is_json_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// True when `data` is a safetensors file (or a crafted file meant to pass for one): a length
/// prefix that is not text, then, after optional JSON whitespace, an object that opens with a key
/// or closes at once. A prefix that does not fit the file still counts (the header is then
/// reported as too large or truncated), unless the file is a pickle that starts with those bytes.
pub(crate) fn detect(data: &[u8]) -> bool {
    let Some((prefix, rest)) = data.split_first_chunk::<8>() else {
        return false;
    };
    if rest.len() < 2 {
        return false;
    }
    let n = u64::from_le_bytes(*prefix);
    // Eight printable bytes are the start of a text file, never a real length below 100 MB.
    if n < 2
        || prefix
            .iter()
            .all(|b| b.is_ascii_graphic() || is_json_ws(*b))
    {
        return false;
    }
    let fits = n <= MAX_HEADER && n <= rest.len() as u64;
    let window = if fits {
        &rest[..usize::try_from(n).unwrap_or(rest.len())]
    } else {
        &rest[..rest.len().min(DETECT_WINDOW)]
    };
    let Some(open) = window.iter().position(|b| !is_json_ws(*b)) else {
        return false;
    };
    if window[open] != b'{' {
        return false;
    }
    match window[open + 1..].iter().find(|b| !is_json_ws(**b)) {
        Some(b'"' | b'}') => {}
        None if !fits => {}
        _ => return false,
    }
    fits || !starts_like_pickle(data)
}

/// A pickle that happens to have `{"` after eight bytes belongs to the pickle scanner.
fn starts_like_pickle(data: &[u8]) -> bool {
    match data {
        [0x80, p, ..] if *p <= 5 => true,
        _ => pickle::looks_like_pickle(&data[..data.len().min(64 << 10)], false),
    }
}

/// Analyses a safetensors file.
pub(crate) fn analyse<'d>(data: &'d [u8], _env: &Env<'_>) -> Outcome<'d> {
    let mut out = Outcome::new(FORMAT);
    let Some((prefix, _)) = data.split_first_chunk::<8>() else {
        out.skip("shorter than a safetensors length prefix");
        return out;
    };
    let n = u64::from_le_bytes(*prefix);
    let len = data.len() as u64;
    if n > MAX_HEADER {
        out.push(
            Issue::new(
                "MS700",
                format!("safetensors header length {n} is above the loader's limit"),
                format!(
                    "The length prefix claims a {n}-byte header; the reference loader refuses headers above \
{MAX_HEADER} bytes, and loaders without the limit try to read and parse that much."
                ),
                json!({ "header_length": n, "limit": MAX_HEADER, "file_size": len }),
            )
            .at(0),
        );
        out.not_analysed(format!(
            "header length {n} is above the {MAX_HEADER}-byte limit; the header was not parsed"
        ));
        probe_unparsed(data, &mut out);
        return out;
    }
    let header_end = 8 + n;
    if header_end > len {
        out.push(
            Issue::new(
                "MS701",
                "safetensors header runs past the end of the file",
                format!(
                    "The length prefix claims a {n}-byte header, but the file has only {} bytes after the prefix.",
                    len - 8
                ),
                json!({ "header_length": n, "file_size": len }),
            )
            .at(0),
        );
        out.not_analysed("the header runs past the end of the file; it was not parsed");
        probe_unparsed(data, &mut out);
        return out;
    }
    // `header_end <= len`, which is a usize.
    let header_end = usize::try_from(header_end).unwrap_or(data.len());
    let raw = &data[8..header_end];
    check_layout(raw, &mut out);
    if n > LARGE_HEADER {
        out.push(
            Issue::new(
                "MS719",
                "safetensors header is unusually large",
                format!(
                    "The header is {n} bytes; real checkpoints have headers of kilobytes to a few megabytes."
                ),
                json!({ "header_length": n }),
            )
            .at(0),
        );
    }
    let text = match std::str::from_utf8(raw) {
        Ok(t) => t,
        Err(e) => {
            out.push(
                Issue::new(
                    "MS702",
                    "safetensors header is not valid UTF-8",
                    format!(
                        "The header has an invalid UTF-8 sequence at byte {}; the reference loader refuses it.",
                        e.valid_up_to()
                    ),
                    json!({ "error": "utf8", "header_offset": e.valid_up_to() }),
                )
                .at(8 + e.valid_up_to() as u64),
            );
            probe_body(data, header_end, None, &mut out);
            return out;
        }
    };
    let header = match header::parse(text) {
        Ok(h) => h,
        Err(e) => {
            let at = line_col_offset(text, e.line(), e.column());
            out.push(
                Issue::new(
                    "MS702",
                    "safetensors header is not valid JSON",
                    format!(
                        "The header does not parse as JSON ({e}); the reference loader refuses it."
                    ),
                    json!({ "error": e.to_string(), "header_offset": at }),
                )
                .at(8 + at as u64),
            );
            probe_body(data, header_end, None, &mut out);
            return out;
        }
    };
    if let Some(kind) = header.not_object {
        out.push(
            Issue::new(
                "MS702",
                "safetensors header is not a JSON object",
                format!("The header is {kind}, not an object; the reference loader refuses it."),
                json!({ "error": "not_object", "found": kind }),
            )
            .at(8),
        );
        probe_body(data, header_end, None, &mut out);
        return out;
    }
    report_header(&header, &mut out);
    let covered = check_tensors(&header, data, header_end, &mut out);
    probe_body(data, header_end, Some((&header, covered)), &mut out);
    out
}

/// Whitespace around the object: the loader skips it, writers emit only trailing spaces.
fn check_layout(raw: &[u8], out: &mut Outcome<'_>) {
    let lead = raw.iter().take_while(|b| is_json_ws(**b)).count();
    let trail_start = raw
        .iter()
        .rposition(|b| !is_json_ws(*b))
        .map_or(raw.len(), |p| p + 1);
    let odd_padding = raw[trail_start..].iter().any(|b| *b != b' ');
    if lead > 0 || odd_padding {
        out.push(
            Issue::new(
                "MS716",
                "safetensors header has unusual whitespace",
                format!(
                    "The header has {lead} bytes of whitespace before its opening brace{}; writers pad only with \
trailing spaces.",
                    if odd_padding {
                        " and pads with characters other than spaces"
                    } else {
                        ""
                    }
                ),
                json!({ "leading_whitespace": lead, "non_space_padding": odd_padding }),
            )
            .severity(Severity::Low)
            .at(8),
        );
    }
}

/// A serde_json error position as a byte offset in the header.
fn line_col_offset(text: &str, line: usize, column: usize) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    start
        .saturating_add(column.saturating_sub(1))
        .min(text.len())
}

/// Metadata text that mentions running code or fetching it (MS719, low).
const MARKERS: &[&str] = &[
    "__import__",
    "os.system",
    "subprocess",
    "eval(",
    "exec(",
    "curl ",
    "wget ",
    "| sh",
    "|sh",
    "| bash",
];

/// Reports schema problems, duplicates, odd spellings, unknown fields and header payloads.
fn report_header(h: &Header, out: &mut Outcome<'_>) {
    for p in &h.problems {
        let (rule, title) = match p.kind {
            ProblemKind::Metadata => ("MS703", "safetensors metadata value is not a string"),
            ProblemKind::Dtype => ("MS705", "safetensors tensor has an unknown dtype"),
            ProblemKind::DuplicateField if p.at == "__metadata__" => continue,
            ProblemKind::Entry | ProblemKind::DuplicateField => (
                "MS704",
                "safetensors tensor entry does not match the format",
            ),
        };
        out.push(
            Issue::new(
                rule,
                title,
                format!(
                    "`{}`: {}. The reference loader refuses the header.",
                    header::truncate(&p.at),
                    p.what
                ),
                json!({ "at": header::truncate(&p.at), "problem": p.what }),
            )
            .at(8),
        );
    }
    if h.problem_count > h.problems.len() {
        out.push(
            Issue::new(
                "MS704",
                "safetensors header has many more schema problems",
                format!(
                    "{} further schema problems were counted, not listed.",
                    h.problem_count - h.problems.len()
                ),
                json!({ "more": h.problem_count - h.problems.len() }),
            )
            .at(8),
        );
    }
    for (i, d) in h.duplicates.iter().enumerate() {
        if i == MAX_REPORTED {
            out.push(
                Issue::new(
                    "MS712",
                    "safetensors header repeats many keys",
                    format!(
                        "{} further repeated keys were counted, not listed.",
                        h.duplicates.len() - i
                    ),
                    json!({ "more": h.duplicates.len() - i }),
                )
                .at(8),
            );
            break;
        }
        let consequence = match d.scope {
            "tensor" if d.differ => {
                "with different definitions: the reference loader keeps the last, other readers the first"
            }
            "tensor" => "with identical definitions",
            "__metadata__" => "and the reference loader refuses the header",
            _ if d.differ => "with different values: readers disagree on which one wins",
            _ => "with identical values",
        };
        out.push(
            Issue::new(
                "MS712",
                format!("safetensors header repeats the {} `{}`", d.scope, header::truncate(&d.name)),
                format!(
                    "The {} `{}` appears {} times, {consequence}. No writer produces repeated keys.",
                    d.scope,
                    header::truncate(&d.name),
                    d.count
                ),
                json!({ "scope": d.scope, "name": header::truncate(&d.name), "count": d.count, "differ": d.differ }),
            )
            .at(8),
        );
    }
    for q in &h.quirks {
        let severity = if *q == Quirk::NullMetadata {
            Severity::Low
        } else {
            Severity::Medium
        };
        out.push(
            Issue::new(
                "MS716",
                "safetensors header uses a spelling no writer produces",
                format!(
                    "The header has {}. The reference loader accepts it; other readers of the header may not.",
                    q.describe()
                ),
                json!({ "form": format!("{q:?}") }),
            )
            .severity(severity)
            .at(8),
        );
    }
    let mut with_unknown = h.entries.iter().filter(|e| e.unknown_count > 0);
    for (i, e) in with_unknown.by_ref().enumerate() {
        if i == MAX_REPORTED {
            break;
        }
        out.push(
            Issue::new(
                "MS715",
                format!("safetensors tensor `{}` has unknown fields", header::truncate(&e.name)),
                format!(
                    "The entry of `{}` has {} field(s) besides dtype, shape and data_offsets ({}); loaders ignore \
them.",
                    header::truncate(&e.name),
                    e.unknown_count,
                    e.unknown
                        .iter()
                        .map(|u| format!("`{}`", header::truncate(u)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                json!({ "tensor": header::truncate(&e.name), "fields": e.unknown.iter().map(|u| header::truncate(u)).collect::<Vec<_>>() }),
            )
            .at(8),
        );
    }
    let rest = with_unknown.count();
    if rest > 0 {
        out.push(
            Issue::new(
                "MS715",
                "safetensors header has many entries with unknown fields",
                format!("{rest} further entries with unknown fields were counted, not listed."),
                json!({ "more": rest }),
            )
            .at(8),
        );
    }
    if h.entry_count > h.entries.len() {
        out.push(
            Issue::new(
                "MS718",
                "safetensors header declares an absurd number of tensors",
                format!(
                    "The header has {} tensor entries; the first {} were checked.",
                    h.entry_count,
                    h.entries.len()
                ),
                json!({ "entries": h.entry_count, "checked": h.entries.len() }),
            )
            .at(8),
        );
        out.not_analysed(format!(
            "more than {} tensor entries; the rest were not checked",
            header::MAX_TENSORS
        ));
    }
    for c in &h.candidates {
        if let Some((bytes, kind, how)) = payload::decode(&c.text) {
            // A compressed blob in metadata may be benign (packed JSON); only what it holds counts.
            if kind != payload::Kind::Compressed {
                out.push(
                Issue::new(
                    "MS714",
                    format!("safetensors header string holds a {}", kind.name()),
                    format!(
                        "`{}` is a {} ({how}); it was scanned as a file of its own.",
                        header::truncate(&c.at),
                        kind.name()
                    ),
                    json!({ "at": header::truncate(&c.at), "payload": kind.name(), "encoding": how, "bytes": bytes.len() }),
                )
                .at(8),
                );
            }
            out.nested(
                format!("<header {} ({how})>", header::truncate(&c.at)),
                Cow::Owned(bytes),
                kind.ext(),
            );
        }
    }
    for (k, v) in &h.metadata {
        if let Some(m) = MARKERS.iter().find(|m| v.contains(*m)) {
            out.push(
                Issue::new(
                    "MS719",
                    format!(
                        "safetensors metadata `{}` mentions `{m}`",
                        header::truncate(k)
                    ),
                    format!(
                        "The metadata value of `{}` contains `{m}`: free text, but worth reading.",
                        header::truncate(k)
                    ),
                    json!({ "key": header::truncate(k), "marker": m }),
                )
                .at(8),
            );
        }
    }
}

/// Checks each tensor's size and the layout of all of them, as the loader would, and reports
/// every violation rather than the first. Returns the end of the covered region (relative to the
/// body) when the tensors can be laid out at all.
fn check_tensors<'d>(h: &Header, data: &'d [u8], header_end: usize, out: &mut Outcome<'d>) -> u64 {
    let base = header_end as u64;
    let body_len = (data.len() - header_end) as u64;
    let effective = h.effective();
    let mut reported = [0usize; 4];
    let mut push = |out: &mut Outcome<'_>, slot: usize, issue: Issue| {
        reported[slot] += 1;
        if reported[slot] <= MAX_REPORTED {
            out.push(issue);
        }
    };
    for e in &effective {
        let (Some(d), Some(s), Some((b, end))) = (e.dtype, &e.shape, e.offsets) else {
            continue;
        };
        let name = header::truncate(&e.name);
        if s.rank > MAX_RANK || (s.absurd && s.elements.is_some()) {
            push(
                out,
                0,
                Issue::new(
                    "MS717",
                    format!("safetensors tensor `{name}` has an implausible shape"),
                    format!(
                        "`{name}` has {} dimensions (first: {:?}){}.",
                        s.rank,
                        s.dims,
                        if s.absurd && s.elements.is_some() {
                            "; its non-zero dimensions multiply past 64 bits"
                        } else {
                            ""
                        }
                    ),
                    json!({ "tensor": name, "rank": s.rank, "dims": s.dims }),
                )
                .at(8),
            );
        }
        let bits = s.elements.and_then(|n| n.checked_mul(d.bits));
        let Some(bits) = bits else {
            push(
                out,
                1,
                Issue::new(
                    "MS706",
                    format!("safetensors tensor `{name}` size overflows"),
                    format!(
                        "`{name}` ({}, shape {:?}{}) has more elements or bits than 64 bits can count; the reference \
loader refuses it.",
                        d.name,
                        s.dims,
                        if s.rank > s.dims.len() as u64 { "…" } else { "" }
                    ),
                    json!({ "tensor": name, "dtype": d.name, "dims": s.dims, "rank": s.rank }),
                )
                .at(8),
            );
            continue;
        };
        let expected = bits / 8;
        if bits % 8 != 0 || end.checked_sub(b).is_some_and(|span| span != expected) {
            push(
                out,
                1,
                Issue::new(
                    "MS707",
                    format!("safetensors tensor `{name}` size does not match its offsets"),
                    if bits % 8 == 0 {
                        format!(
                            "`{name}` ({}, shape {:?}) needs {expected} bytes, but its offsets [{b}, {end}] span {}.",
                            d.name,
                            s.dims,
                            end.wrapping_sub(b)
                        )
                    } else {
                        format!(
                            "`{name}` ({}, shape {:?}) has {bits} bits, which do not end on a byte boundary.",
                            d.name, s.dims
                        )
                    },
                    json!({ "tensor": name, "dtype": d.name, "dims": s.dims, "offsets": [b, end], "expected_bytes": expected, "bits": bits }),
                )
                .at(base.saturating_add(b)),
            );
        }
    }
    // Layout: every entry with offsets, whatever else is wrong with it.
    let mut spans: Vec<(u64, u64, &Entry)> = effective
        .iter()
        .filter_map(|e| e.offsets.map(|(b, end)| (b, end, *e)))
        .collect();
    spans.sort_unstable_by_key(|s| (s.0, s.1));
    let mut covered = 0u64;
    let mut last: Option<&str> = None;
    for &(b, end, e) in &spans {
        let name = header::truncate(&e.name);
        if end < b {
            push(
                out,
                2,
                Issue::new(
                    "MS708",
                    format!("safetensors tensor `{name}` ends before it begins"),
                    format!(
                        "`{name}` has data_offsets [{b}, {end}]; the reference loader refuses it."
                    ),
                    json!({ "tensor": name, "offsets": [b, end] }),
                )
                .at(base.saturating_add(b)),
            );
            continue;
        }
        if b < covered {
            let other = last.map(header::truncate).unwrap_or_default();
            push(
                out,
                2,
                Issue::new(
                    "MS708",
                    format!("safetensors tensor `{name}` overlaps `{other}`"),
                    format!(
                        "`{name}` starts at body offset {b}, inside `{other}` (which runs to {covered}); the \
reference loader refuses overlapping tensors."
                    ),
                    json!({ "tensor": name, "offsets": [b, end], "overlaps": other, "other_end": covered }),
                )
                .at(base.saturating_add(b)),
            );
        } else if b > covered {
            push(
                out,
                3,
                Issue::new(
                    "MS709",
                    format!("safetensors body has a gap before `{name}`"),
                    format!(
                        "Body bytes {covered}..{b} belong to no tensor; the reference loader refuses gaps. The gap \
was scanned as a file of its own."
                    ),
                    json!({ "gap": [covered, b], "before": name }),
                )
                .at(base.saturating_add(covered)),
            );
            nest_region(
                data,
                base,
                covered,
                b,
                format!("<gap at {covered}>"),
                None,
                out,
            );
        }
        if end >= covered {
            covered = end;
            last = Some(&e.name);
        }
    }
    for (slot, rule) in [(0, "MS717"), (1, "MS707"), (2, "MS708"), (3, "MS709")] {
        if reported[slot] > MAX_REPORTED {
            out.push(
                Issue::new(
                    rule,
                    "safetensors header has many more such problems",
                    format!(
                        "{} further problems of this kind were counted, not listed.",
                        reported[slot] - MAX_REPORTED
                    ),
                    json!({ "more": reported[slot] - MAX_REPORTED }),
                )
                .at(8),
            );
        }
    }
    if covered > body_len {
        out.push(
            Issue::new(
                "MS710",
                "safetensors tensors run past the end of the file",
                format!(
                    "The tensors reach body offset {covered}, but the body has only {body_len} bytes; the reference \
loader refuses the file."
                ),
                json!({ "covered": covered, "body": body_len }),
            )
            .at(data.len() as u64),
        );
    } else if covered < body_len {
        out.push(
            Issue::new(
                "MS711",
                format!("{} bytes follow the last safetensors tensor", body_len - covered),
                format!(
                    "The tensors end at body offset {covered}, but the body has {body_len} bytes; the reference \
loader refuses the file. The trailing bytes were scanned as a file of their own."
                ),
                json!({ "trailing_bytes": body_len - covered, "at": base + covered }),
            )
            .at(base + covered),
        );
        nest_region(
            data,
            base,
            covered,
            body_len,
            "<trailing bytes>".into(),
            None,
            out,
        );
    }
    covered
}

/// Queues body bytes `[from, to)` (relative to `base`) for a recursive scan.
fn nest_region<'d>(
    data: &'d [u8],
    base: u64,
    from: u64,
    to: u64,
    name: String,
    ext: Option<String>,
    out: &mut Outcome<'d>,
) {
    let (Some(a), Some(b)) = (base.checked_add(from), base.checked_add(to)) else {
        return;
    };
    let (Ok(a), Ok(b)) = (
        usize::try_from(a),
        usize::try_from(b.min(data.len() as u64)),
    ) else {
        return;
    };
    if let Some(bytes) = data.get(a..b).filter(|s| !s.is_empty()) {
        out.nested(name, Cow::Borrowed(bytes), ext);
    }
}

/// Whether a zip end record in the last 64 KiB points at a central directory where Python's
/// `zipfile` looks for it (just before the end record, wherever the archive starts).
fn zip_readable_from_end(data: &[u8]) -> bool {
    let tail_start = data.len().saturating_sub(ZIP_TAIL);
    let tail = &data[tail_start..];
    let Some(rel) = memchr::memmem::rfind(tail, b"PK\x05\x06") else {
        return false;
    };
    let eocd = tail_start + rel;
    let Some(rec) = data.get(eocd..eocd + 22) else {
        return false;
    };
    let cd_size = u64::from(u32::from_le_bytes([rec[12], rec[13], rec[14], rec[15]]));
    let entries = u16::from_le_bytes([rec[10], rec[11]]);
    let Some(cd) = (eocd as u64).checked_sub(cd_size) else {
        return false;
    };
    let Ok(cd) = usize::try_from(cd) else {
        return false;
    };
    entries > 0 && data.get(cd..cd + 4) == Some(b"PK\x01\x02")
}

/// The header could not be parsed: whatever else the file is still gets a look. The bytes after
/// the length prefix go to the driver when a zip is readable from the end (they no longer look
/// like safetensors, so the driver does not come back here).
fn probe_unparsed<'d>(data: &'d [u8], out: &mut Outcome<'d>) {
    if zip_readable_from_end(data) {
        out.push(
            Issue::new(
                "MS713",
                "safetensors file is also a zip archive",
                "Zip readers find an archive from the end of this file; it was scanned as one.",
                json!({ "other_format": "zip" }),
            )
            .at(8),
        );
        out.nested("<after length prefix>", Cow::Borrowed(&data[8..]), None);
    }
}

/// Looks at the body for other formats: a zip readable from the end of the file, a body or
/// tensor that starts like a pickle or archive.
fn probe_body<'d>(
    data: &'d [u8],
    header_end: usize,
    parsed: Option<(&Header, u64)>,
    out: &mut Outcome<'d>,
) {
    let body = &data[header_end..];
    if body.is_empty() {
        return;
    }
    // Trailing bytes were already handed over whole: a zip among them is scanned there.
    let trailing_nested = parsed.is_some_and(|(_, covered)| covered < body.len() as u64);
    let start_kind = payload::classify_strict(body);
    let zip_end = !trailing_nested && zip_readable_from_end(data);
    if start_kind.is_some() || zip_end {
        let kind = start_kind.unwrap_or(payload::Kind::Zip);
        out.push(
            Issue::new(
                "MS713",
                format!("safetensors body is also a {}", kind.name()),
                format!(
                    "{}; the body was scanned as a file of its own.",
                    if zip_end {
                        "Zip readers find an archive from the end of this file".to_owned()
                    } else {
                        format!("The tensor bytes start with a {}", kind.name())
                    }
                ),
                json!({ "other_format": kind.name(), "found": if zip_end { "zip end record" } else { "body start" } }),
            )
            .at(header_end as u64),
        );
        out.nested("<body>", Cow::Borrowed(body), kind.ext());
    }
    let Some((h, _)) = parsed else {
        return;
    };
    let base = header_end as u64;
    for e in h.effective().into_iter().take(MAX_PROBED) {
        let Some((b, end)) = e.offsets else { continue };
        if b == 0 || end <= b {
            // The body's start was probed above.
            continue;
        }
        let (Ok(a), Ok(z)) = (
            usize::try_from(base.saturating_add(b)),
            usize::try_from(base.saturating_add(end)),
        ) else {
            continue;
        };
        let Some(bytes) = data.get(a..z.min(data.len())) else {
            continue;
        };
        if let Some(kind) = payload::classify_strict(bytes) {
            if zip_end && kind == payload::Kind::Zip {
                // The archive zip readers find from the end was handed over with the body.
                continue;
            }
            let name = header::truncate(&e.name);
            out.push(
                Issue::new(
                    "MS714",
                    format!("safetensors tensor `{name}` holds a {}", kind.name()),
                    format!(
                        "The bytes of `{name}` start with a {}; they were scanned as a file of their own.",
                        kind.name()
                    ),
                    json!({ "tensor": name, "payload": kind.name(), "offsets": [b, end] }),
                )
                .at(a as u64),
            );
            out.nested(format!("<tensor {name}>"), Cow::Borrowed(bytes), kind.ext());
        }
    }
}

/// Fuzz entry point: detection and the whole analysis over arbitrary bytes.
pub(crate) fn fuzz(data: &[u8]) -> usize {
    let env = Env {
        disk_path: None,
        name: "fuzz.safetensors",
    };
    let detected = usize::from(detect(data));
    let out = analyse(data, &env);
    detected + out.issues.len() + out.nested.len()
}

#[cfg(test)]
mod tests;
