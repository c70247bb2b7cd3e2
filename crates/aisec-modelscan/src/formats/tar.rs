//! A bounded lister of POSIX tar archives (v7, ustar, GNU long names, PAX headers).
//!
//! Legacy checkpoints of `torch.save` (before torch 1.6) are tar files written by Python's `tarfile` (PAX format)
//! whose members are pickles. [`list`] returns every member with the offset and length of its data,
//! so the caller reads members as slices of the input without copying. It follows what Python's
//! `tarfile` does (which header fields win, which member types carry data) and, to see what a lenient
//! loader would see, keeps going past bad checksums when the header is otherwise sane and past the
//! end-of-archive marker when real headers follow it; each such oddity is a [`TarAnomaly`].
//!
//! Nothing here decompresses: a `.tar.gz` is first unwrapped by [`super::compress`].

use std::collections::HashMap;
use std::fmt;

use crate::limits::Limits;

const BLOCK: usize = 512;

/// Most anomalies kept per listing; the rest are counted in [`TarAnomaly::AnomaliesDropped`].
const MAX_ANOMALIES: usize = 10_000;

/// What a member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TarKind {
    /// A regular file (`0`, NUL, `7`).
    Regular,
    /// A directory (`5`).
    Directory,
    /// A hard link (`1`).
    HardLink,
    /// A symbolic link (`2`).
    Symlink,
    /// Any other type flag (devices, FIFOs, GNU sparse files, vendor types).
    Other(u8),
}

/// One member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TarEntry {
    /// Name after GNU long-name, PAX `path` and ustar prefix handling (lossy UTF-8).
    pub(crate) name: String,
    /// Offset of the member's (first) header block, including any long-name or PAX headers.
    pub(crate) header_offset: usize,
    /// Offset of the member's data.
    pub(crate) data_offset: usize,
    /// Length of the data present in the file; `data_offset + size <= data.len()` always holds.
    pub(crate) size: usize,
    pub(crate) kind: TarKind,
    /// Link target of hard and symbolic links.
    pub(crate) link_name: Option<String>,
}

impl TarEntry {
    /// Whether the member holds file data (regular files, and unknown types, which `tarfile` treats
    /// as data-bearing).
    pub(crate) fn is_file(&self) -> bool {
        matches!(self.kind, TarKind::Regular)
            || matches!(self.kind, TarKind::Other(t) if !no_data(t))
    }

    /// The member's data, a slice of the archive `data`.
    #[allow(dead_code, reason = "reader API; the scan driver does not call it yet")]
    pub(crate) fn data<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        data.get(self.data_offset..self.data_offset.saturating_add(self.size))
            .unwrap_or_default()
    }
}

/// Everything [`list`] found.
#[derive(Debug, Clone, Default)]
pub(crate) struct TarListing {
    pub(crate) entries: Vec<TarEntry>,
    pub(crate) anomalies: Vec<TarAnomaly>,
}

/// Something about the archive that a loader could read differently from a scanner.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum TarAnomaly {
    /// A header's checksum is wrong; the header was still used because its other fields are sane.
    ChecksumMismatch {
        offset: usize,
        stored: u64,
        computed: u64,
    },
    /// A member's data runs past the end of the file.
    Truncated {
        name: String,
        offset: usize,
        declared: u64,
        available: u64,
    },
    /// Bytes after the last member that are not a readable header.
    TrailingData { offset: usize, len: usize },
    /// Members follow the end-of-archive marker (read by `tarfile` with `ignore_zeros=True`).
    MembersAfterEnd { offset: usize },
    /// Two members carry the same name; extraction keeps the last.
    DuplicateName { name: String },
    /// A member name that escapes or confuses extraction paths.
    SuspiciousName { name: String, reason: &'static str },
    /// A PAX extended header that could not be parsed.
    BadPaxHeader { offset: usize, reason: &'static str },
    /// More anomalies than are kept.
    AnomaliesDropped { count: u64 },
}

impl TarAnomaly {
    /// A stable `snake_case` identifier of the variant.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::ChecksumMismatch { .. } => "checksum_mismatch",
            Self::Truncated { .. } => "truncated",
            Self::TrailingData { .. } => "trailing_data",
            Self::MembersAfterEnd { .. } => "members_after_end",
            Self::DuplicateName { .. } => "duplicate_name",
            Self::SuspiciousName { .. } => "suspicious_name",
            Self::BadPaxHeader { .. } => "bad_pax_header",
            Self::AnomaliesDropped { .. } => "anomalies_dropped",
        }
    }

    /// Where in the file the anomaly is, when it has one place.
    pub(crate) fn offset(&self) -> Option<u64> {
        match self {
            Self::ChecksumMismatch { offset, .. }
            | Self::Truncated { offset, .. }
            | Self::TrailingData { offset, .. }
            | Self::MembersAfterEnd { offset }
            | Self::BadPaxHeader { offset, .. } => Some(*offset as u64),
            _ => None,
        }
    }

    /// One sentence for a human.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::ChecksumMismatch {
                offset,
                stored,
                computed,
            } => format!(
                "The tar header at offset {offset} has checksum {stored} but its bytes sum to {computed}; it was read anyway."
            ),
            Self::Truncated {
                name,
                declared,
                available,
                ..
            } => format!(
                "Member `{name}` declares {declared} bytes but only {available} are present."
            ),
            Self::TrailingData { offset, len } => {
                format!("{len} bytes at offset {offset} follow the last tar member.")
            }
            Self::MembersAfterEnd { offset } => format!(
                "Members follow the end-of-archive marker (at offset {offset}); some tools read them and others do not."
            ),
            Self::DuplicateName { name } => {
                format!("More than one member is named `{name}`; extraction keeps the last one.")
            }
            Self::SuspiciousName { name, reason } => {
                format!("Member name `{}` {reason}.", name.escape_debug())
            }
            Self::BadPaxHeader { offset, reason } => {
                format!("The PAX header at offset {offset} is malformed: {reason}.")
            }
            Self::AnomaliesDropped { count } => {
                format!("{count} further anomalies were not recorded.")
            }
        }
    }
}

impl fmt::Display for TarAnomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Why the archive could not be listed.
#[derive(thiserror::Error, Debug)]
#[non_exhaustive]
pub(crate) enum TarError {
    /// The first block is not a tar header.
    #[error("not a tar archive: {reason}")]
    NotTar { reason: &'static str },
    /// More members than [`Limits::max_members`].
    #[error("tar archive has more than {limit} members")]
    TooManyMembers { limit: usize },
}

impl TarError {
    /// A stable `snake_case` identifier of the variant.
    #[allow(dead_code, reason = "reader API; the scan driver does not call it yet")]
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::NotTar { .. } => "not_tar",
            Self::TooManyMembers { .. } => "too_many_members",
        }
    }
}

/// Types that carry no data in `tarfile` (links, devices, directories, FIFOs).
fn no_data(t: u8) -> bool {
    matches!(t, b'1' | b'2' | b'3' | b'4' | b'5' | b'6')
}

/// The bytes of a NUL-terminated field.
fn nts(field: &[u8]) -> &[u8] {
    let end = memchr::memchr(0, field).unwrap_or(field.len());
    field.get(..end).unwrap_or(field)
}

/// A numeric header field: octal text, or GNU base-256 when the top bit of the first byte is set.
fn number(field: &[u8]) -> Option<u64> {
    match field.first() {
        Some(0x80) => field.get(1..)?.iter().try_fold(0u64, |acc, &b| {
            acc.checked_mul(256)?.checked_add(u64::from(b))
        }),
        // 0xFF starts a negative base-256 number, which no size or checksum can be.
        Some(0xFF) => None,
        _ => {
            let text = nts(field).trim_ascii();
            if text.is_empty() {
                return Some(0);
            }
            text.iter().try_fold(0u64, |acc, &b| {
                let digit = b.checked_sub(b'0').filter(|d| *d < 8)?;
                acc.checked_mul(8)?.checked_add(u64::from(digit))
            })
        }
    }
}

/// The unsigned and signed sums of a header with its checksum field read as spaces.
fn checksums(block: &[u8]) -> (u64, u64) {
    let mut unsigned = 0u64;
    let mut signed = 0i64;
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    (unsigned, signed as u64)
}

/// Parsed checksum state of one header block.
fn checksum_ok(block: &[u8]) -> (bool, u64, u64) {
    let stored = block.get(148..156).and_then(number);
    let (unsigned, signed) = checksums(block);
    match stored {
        Some(s) => (s == unsigned || s == signed, s, unsigned),
        None => (false, 0, unsigned),
    }
}

/// Whether `data` starts with a tar header: the ustar magic, or a valid header checksum (v7 tars).
pub(crate) fn is_tar(data: &[u8]) -> bool {
    let Some(block) = data.get(..BLOCK) else {
        return false;
    };
    if block.iter().all(|&b| b == 0) {
        return false;
    }
    block.get(257..262) == Some(b"ustar") || checksum_ok(block).0
}

fn is_zero(block: &[u8]) -> bool {
    block.iter().all(|&b| b == 0)
}

/// Whether a block is a header worth following (checksum right, or ustar magic and a readable size).
fn plausible_header(block: &[u8]) -> bool {
    !is_zero(block)
        && (checksum_ok(block).0
            || (block.get(257..262) == Some(b"ustar")
                && block.get(124..136).and_then(number).is_some()))
}

/// Parses PAX records (`"<len> <key>=<value>\n"`) into `into`.
fn parse_pax(
    body: &[u8],
    offset: usize,
    into: &mut HashMap<String, String>,
    anomalies: &mut Anomalies,
) {
    let mut rest = body;
    while !rest.is_empty() {
        if rest.iter().all(|&b| b == 0) {
            break;
        }
        let Some(space) = memchr::memchr(b' ', rest) else {
            anomalies.push(TarAnomaly::BadPaxHeader {
                offset,
                reason: "a record has no length",
            });
            return;
        };
        let len = std::str::from_utf8(rest.get(..space).unwrap_or_default())
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|&l| l > space + 1 && l <= rest.len());
        let Some(len) = len else {
            anomalies.push(TarAnomaly::BadPaxHeader {
                offset,
                reason: "a record length is invalid",
            });
            return;
        };
        let record = rest.get(space + 1..len).unwrap_or_default();
        rest = rest.get(len..).unwrap_or_default();
        let Some(record) = record.strip_suffix(b"\n") else {
            anomalies.push(TarAnomaly::BadPaxHeader {
                offset,
                reason: "a record does not end with a newline",
            });
            return;
        };
        let Some(eq) = memchr::memchr(b'=', record) else {
            anomalies.push(TarAnomaly::BadPaxHeader {
                offset,
                reason: "a record has no `=`",
            });
            return;
        };
        let key = String::from_utf8_lossy(record.get(..eq).unwrap_or_default()).into_owned();
        let value = String::from_utf8_lossy(record.get(eq + 1..).unwrap_or_default()).into_owned();
        into.insert(key, value);
    }
}

/// Collects anomalies up to [`MAX_ANOMALIES`], counting the rest.
#[derive(Default)]
struct Anomalies {
    kept: Vec<TarAnomaly>,
    dropped: u64,
}

impl Anomalies {
    fn push(&mut self, a: TarAnomaly) {
        if self.kept.len() < MAX_ANOMALIES {
            self.kept.push(a);
        } else {
            self.dropped += 1;
        }
    }
}

/// Overrides collected from GNU long-name and PAX headers for the next member.
#[derive(Default)]
struct Pending {
    start: Option<usize>,
    long_name: Option<String>,
    long_link: Option<String>,
    pax: HashMap<String, String>,
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Lists the members of the tar archive in `data`.
pub(crate) fn list(data: &[u8], limits: &Limits) -> Result<TarListing, TarError> {
    let first = data.get(..BLOCK).ok_or(TarError::NotTar {
        reason: "shorter than one 512-byte header",
    })?;
    if !plausible_header(first) {
        return Err(TarError::NotTar {
            reason: "the first block is not a valid tar header",
        });
    }
    let mut entries: Vec<TarEntry> = Vec::new();
    let mut anomalies = Anomalies::default();
    let mut global: HashMap<String, String> = HashMap::new();
    let mut pending = Pending::default();
    let mut pos = 0usize;

    while let Some(block) = data
        .get(pos..pos.saturating_add(BLOCK))
        .filter(|b| b.len() == BLOCK)
    {
        if is_zero(block) {
            // End of archive. Skip the zero blocks; if a real header follows, keep reading.
            let mut next = pos;
            while data
                .get(next..next.saturating_add(BLOCK))
                .is_some_and(|b| b.len() == BLOCK && is_zero(b))
            {
                next += BLOCK;
            }
            match data.get(next..next.saturating_add(BLOCK)) {
                Some(b) if b.len() == BLOCK && plausible_header(b) => {
                    anomalies.push(TarAnomaly::MembersAfterEnd { offset: next });
                    pos = next;
                    continue;
                }
                _ => {
                    let rest = data.get(next..).unwrap_or_default();
                    if rest.iter().any(|&b| b != 0) {
                        anomalies.push(TarAnomaly::TrailingData {
                            offset: next,
                            len: rest.len(),
                        });
                    }
                    pos = data.len();
                    break;
                }
            }
        }
        let (sum_ok, stored, computed) = checksum_ok(block);
        let size_field = block.get(124..136).and_then(number);
        if !sum_ok {
            let magic = block.get(257..262) == Some(b"ustar");
            if !(magic && size_field.is_some()) {
                // Not a header: what follows is not an archive any more.
                anomalies.push(TarAnomaly::TrailingData {
                    offset: pos,
                    len: data.len() - pos,
                });
                pos = data.len();
                break;
            }
            anomalies.push(TarAnomaly::ChecksumMismatch {
                offset: pos,
                stored,
                computed,
            });
        }
        let type_flag = block.get(156).copied().unwrap_or(0);
        let mut size = size_field.unwrap_or(0);
        if !matches!(type_flag, b'x' | b'g' | b'L' | b'K')
            && let Some(s) = pending
                .pax
                .get("size")
                .or_else(|| global.get("size"))
                .and_then(|s| s.trim().parse::<u64>().ok())
        {
            size = s;
        }
        let data_offset = pos + BLOCK;
        let available = (data.len() - data_offset) as u64;
        let present = size.min(available) as usize;
        let body = data
            .get(data_offset..data_offset + present)
            .unwrap_or_default();
        let padded = size.div_ceil(BLOCK as u64).saturating_mul(BLOCK as u64);
        let after_data = usize::try_from(padded)
            .ok()
            .and_then(|p| data_offset.checked_add(p))
            .unwrap_or(usize::MAX);
        pending.start.get_or_insert(pos);

        match type_flag {
            b'L' | b'K' => {
                let text = lossy(nts(body));
                if type_flag == b'L' {
                    pending.long_name = Some(text);
                } else {
                    pending.long_link = Some(text);
                }
                pos = after_data;
                continue;
            }
            b'x' | b'g' => {
                let target = if type_flag == b'x' {
                    &mut pending.pax
                } else {
                    &mut global
                };
                parse_pax(body, pos, target, &mut anomalies);
                pos = after_data;
                continue;
            }
            _ => {}
        }

        let magic = block.get(257..265);
        let mut name = lossy(nts(block.get(..100).unwrap_or_default()));
        if magic == Some(b"ustar\x0000") {
            let prefix = nts(block.get(345..500).unwrap_or_default());
            if !prefix.is_empty() {
                name = format!("{}/{name}", lossy(prefix));
            }
        }
        if let Some(long) = pending.long_name.take() {
            name = long;
        }
        if let Some(path) = pending.pax.get("path").or_else(|| global.get("path")) {
            name.clone_from(path);
        }
        let kind = match type_flag {
            b'0' | 0 | b'7' => TarKind::Regular,
            b'5' => TarKind::Directory,
            b'1' => TarKind::HardLink,
            b'2' => TarKind::Symlink,
            t => TarKind::Other(t),
        };
        let link_name = matches!(kind, TarKind::HardLink | TarKind::Symlink).then(|| {
            pending
                .pax
                .get("linkpath")
                .cloned()
                .or(pending.long_link.take())
                .unwrap_or_else(|| lossy(nts(block.get(157..257).unwrap_or_default())))
        });
        let carries_data = !no_data(type_flag);
        if carries_data && size > available {
            anomalies.push(TarAnomaly::Truncated {
                name: name.clone(),
                offset: pos,
                declared: size,
                available,
            });
        }
        if entries.len() >= limits.max_members {
            return Err(TarError::TooManyMembers {
                limit: limits.max_members,
            });
        }
        entries.push(TarEntry {
            name,
            header_offset: pending.start.unwrap_or(pos),
            data_offset,
            size: if carries_data { present } else { 0 },
            kind,
            link_name,
        });
        pending = Pending::default();
        pos = if carries_data {
            after_data
        } else {
            data_offset
        };
    }
    if pos < data.len()
        && data
            .get(pos..)
            .is_some_and(|rest| rest.iter().any(|&b| b != 0))
    {
        anomalies.push(TarAnomaly::TrailingData {
            offset: pos,
            len: data.len() - pos,
        });
    }

    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut extra = Vec::new();
    for e in &entries {
        if e.is_file() {
            let n = seen.entry(e.name.as_str()).or_insert(0);
            *n += 1;
            if *n == 2 {
                extra.push(TarAnomaly::DuplicateName {
                    name: e.name.clone(),
                });
            }
        }
        if let Some(reason) = super::zip::suspicious_name(&e.name) {
            extra.push(TarAnomaly::SuspiciousName {
                name: e.name.clone(),
                reason,
            });
        }
    }
    for a in extra {
        anomalies.push(a);
    }
    let mut kept = anomalies.kept;
    if anomalies.dropped > 0 {
        kept.push(TarAnomaly::AnomaliesDropped {
            count: anomalies.dropped,
        });
    }
    Ok(TarListing {
        entries,
        anomalies: kept,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PICKLE: &[u8] = b"\x80\x02}q\x00.";

    fn limits() -> Limits {
        Limits::default()
    }

    /// A ustar header for `name` with `size` and `type_flag`, checksum filled in.
    fn header(name: &[u8], size: u64, type_flag: u8, posix: bool) -> Vec<u8> {
        let mut h = vec![0u8; BLOCK];
        h[..name.len()].copy_from_slice(name);
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = type_flag;
        if posix {
            h[257..265].copy_from_slice(b"ustar\x0000");
        }
        let sum: u32 = h
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u32::from(b)
                }
            })
            .sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        h
    }

    fn member(out: &mut Vec<u8>, name: &[u8], body: &[u8], type_flag: u8) {
        out.extend_from_slice(&header(name, body.len() as u64, type_flag, true));
        out.extend_from_slice(body);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    }

    fn pax(records: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in records {
            let base = k.len() + v.len() + 3;
            let mut len = base + 1;
            while len != base + len.to_string().len() {
                len = base + len.to_string().len();
            }
            out.extend_from_slice(format!("{len} {k}={v}\n").as_bytes());
        }
        out
    }

    fn end(out: &mut Vec<u8>) {
        out.extend_from_slice(&[0u8; 2 * BLOCK]);
    }

    #[test]
    fn lists_legacy_torch_layout() {
        let mut t = Vec::new();
        member(&mut t, b"sys_info", PICKLE, b'0');
        member(&mut t, b"pickle", PICKLE, b'0');
        member(&mut t, b"storages", b"xyz", b'0');
        member(&mut t, b"tensors", b"", b'0');
        member(&mut t, b"dir", b"", b'5');
        end(&mut t);
        assert!(is_tar(&t));
        let listing = list(&t, &limits()).unwrap();
        assert!(listing.anomalies.is_empty(), "{:?}", listing.anomalies);
        let names: Vec<_> = listing.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["sys_info", "pickle", "storages", "tensors", "dir"]);
        assert_eq!(listing.entries[1].data(&t), PICKLE);
        assert_eq!(listing.entries[2].data(&t), b"xyz");
        assert_eq!(listing.entries[4].kind, TarKind::Directory);
        assert!(!listing.entries[4].is_file());
    }

    #[test]
    fn pax_and_gnu_long_names_and_sizes() {
        let long = "a/".repeat(80) + "data.pkl";
        let mut t = Vec::new();
        member(
            &mut t,
            b"././@LongLink",
            format!("{long}\0").as_bytes(),
            b'L',
        );
        member(&mut t, b"short", PICKLE, b'0');
        let records = pax(&[("path", "pax/name.pkl"), ("size", "5")]);
        member(&mut t, b"PaxHeaders/x", &records, b'x');
        // The ustar size field says 3; the PAX size (5) wins.
        let mut h = header(b"ignored", 3, b'0', true);
        t.append(&mut h);
        t.extend_from_slice(b"hello");
        t.resize(t.len().div_ceil(BLOCK) * BLOCK, 0);
        end(&mut t);
        let listing = list(&t, &limits()).unwrap();
        assert_eq!(listing.entries[0].name, long);
        assert_eq!(listing.entries[0].data(&t), PICKLE);
        assert_eq!(listing.entries[0].header_offset, 0);
        assert_eq!(listing.entries[1].name, "pax/name.pkl");
        assert_eq!(listing.entries[1].data(&t), b"hello");
    }

    #[test]
    fn ustar_prefix_joins_name() {
        let mut h = header(b"file.pkl", 0, b'0', true);
        h[345..350].copy_from_slice(b"outer");
        let sum: u32 = h
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u32::from(b)
                }
            })
            .sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let mut t = h;
        end(&mut t);
        let listing = list(&t, &limits()).unwrap();
        assert_eq!(listing.entries[0].name, "outer/file.pkl");
    }

    #[test]
    fn checksum_mismatch_is_reported_and_read() {
        let mut t = Vec::new();
        member(&mut t, b"a.pkl", PICKLE, b'0');
        t[148] = b'7';
        end(&mut t);
        let listing = list(&t, &limits()).unwrap();
        assert_eq!(listing.entries.len(), 1);
        assert_eq!(listing.anomalies[0].kind(), "checksum_mismatch");
        assert!(!listing.anomalies[0].to_string().is_empty());
    }

    #[test]
    fn members_after_end_marker_and_trailing_data() {
        let mut t = Vec::new();
        member(&mut t, b"a", b"1", b'0');
        end(&mut t);
        member(&mut t, b"hidden.pkl", PICKLE, b'0');
        end(&mut t);
        t.extend_from_slice(b"junk");
        let listing = list(&t, &limits()).unwrap();
        let names: Vec<_> = listing.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a", "hidden.pkl"]);
        let kinds: Vec<_> = listing.anomalies.iter().map(TarAnomaly::kind).collect();
        assert_eq!(kinds, ["members_after_end", "trailing_data"]);
    }

    #[test]
    fn truncated_member_is_clipped() {
        let mut t = Vec::new();
        t.extend_from_slice(&header(b"big", 10_000, b'0', true));
        t.extend_from_slice(b"only this");
        let listing = list(&t, &limits()).unwrap();
        assert_eq!(listing.entries[0].size, 9);
        assert_eq!(listing.entries[0].data(&t), b"only this");
        assert!(matches!(
            listing.anomalies[0],
            TarAnomaly::Truncated {
                declared: 10_000,
                available: 9,
                ..
            }
        ));
    }

    #[test]
    fn names_duplicates_and_links() {
        let mut t = Vec::new();
        member(&mut t, b"x", b"1", b'0');
        member(&mut t, b"x", b"2", b'0');
        member(&mut t, b"../up", b"3", b'0');
        let mut link = header(b"l", 0, b'2', true);
        link[157..168].copy_from_slice(b"/etc/passwd");
        let sum: u32 = link
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u32::from(b)
                }
            })
            .sum();
        link[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        t.extend_from_slice(&link);
        end(&mut t);
        let listing = list(&t, &limits()).unwrap();
        let kinds: Vec<_> = listing.anomalies.iter().map(TarAnomaly::kind).collect();
        assert_eq!(kinds, ["duplicate_name", "suspicious_name"]);
        assert_eq!(listing.entries[3].kind, TarKind::Symlink);
        assert_eq!(listing.entries[3].link_name.as_deref(), Some("/etc/passwd"));
    }

    #[test]
    fn not_tar_and_member_limit() {
        assert!(!is_tar(PICKLE));
        assert!(!is_tar(&[0u8; 1024]));
        assert!(matches!(
            list(PICKLE, &limits()),
            Err(TarError::NotTar { .. })
        ));
        assert!(matches!(
            list(&[7u8; 1024], &limits()),
            Err(TarError::NotTar { .. })
        ));
        let mut t = Vec::new();
        for i in 0..5 {
            member(&mut t, format!("m{i}").as_bytes(), b"x", b'0');
        }
        end(&mut t);
        let few = Limits {
            max_members: 4,
            ..limits()
        };
        assert!(matches!(
            list(&t, &few),
            Err(TarError::TooManyMembers { limit: 4 })
        ));
    }

    #[test]
    fn base256_and_v7_headers() {
        assert_eq!(number(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]), Some(256));
        assert_eq!(number(b"   17 \0"), Some(15));
        assert_eq!(number(&[0xFF; 12]), None);
        let mut t = header(b"v7", 2, b'0', false);
        t.extend_from_slice(b"ok");
        t.resize(BLOCK * 2, 0);
        end(&mut t);
        assert!(is_tar(&t));
        assert_eq!(list(&t, &limits()).unwrap().entries[0].data(&t), b"ok");
    }

    #[test]
    fn mutations_never_panic() {
        let mut t = Vec::new();
        member(&mut t, b"././@LongLink", b"long/name\0", b'L');
        member(&mut t, b"a", PICKLE, b'0');
        member(
            &mut t,
            b"PaxHeaders/x",
            &pax(&[("path", "p"), ("size", "3")]),
            b'x',
        );
        member(&mut t, b"b", b"abc", b'0');
        end(&mut t);
        let mut seed = 0x1357_9BDF_u32;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for _ in 0..3000 {
            let mut m = t.clone();
            for _ in 0..=(next() % 4) {
                let i = next() as usize % m.len();
                m[i] = next() as u8;
            }
            let cut = next() as usize % (m.len() + 1);
            for data in [&m[..], &m[..cut]] {
                if let Ok(listing) = list(data, &limits()) {
                    for e in &listing.entries {
                        assert!(e.data_offset + e.size <= data.len());
                    }
                }
            }
        }
    }
}
