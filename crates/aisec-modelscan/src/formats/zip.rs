//! Our own ZIP reader, built to show everything that any loader of the archive could see.
//!
//! Checkpoints of `torch.save` (`.pt`, `.pth`), Keras v3 files and `.npz` files are ZIP archives, and the usual
//! ways to hide a pickle from a scanner are ZIP quirks: a member that only a local header describes, a
//! local header whose name or method disagrees with the central directory, bytes in front of the
//! archive that another loader reads as a pickle, a duplicate name. [`list`] reads the central
//! directory (ZIP64 included) *and* sweeps the file for local headers, and reports every such quirk as
//! a [`ZipAnomaly`] while still returning every view of every member as a [`ZipEntry`].
//!
//! [`read`] returns one member's bytes: stored members as a slice of the input (never copied),
//! compressed ones decompressed within [`Limits`] and the shared [`DecompressBudget`].
//!
//! The input is untrusted: every offset and length is checked against the bytes present before it is
//! used, arithmetic is checked, and the work of the sweep is linear in the file size.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::ops::Range;

use memchr::memmem;

use super::compress::{DecompressBudget, Stop, read_bounded};
use crate::limits::Limits;

const LOCAL_SIG: &[u8; 4] = b"PK\x03\x04";
const CENTRAL_SIG: &[u8; 4] = b"PK\x01\x02";
const EOCD_SIG: &[u8; 4] = b"PK\x05\x06";
const ZIP64_EOCD_SIG: &[u8; 4] = b"PK\x06\x06";
const ZIP64_LOCATOR_SIG: &[u8; 4] = b"PK\x06\x07";
const DESCRIPTOR_SIG: &[u8; 4] = b"PK\x07\x08";

const LOCAL_LEN: usize = 30;
const CENTRAL_LEN: usize = 46;
const EOCD_LEN: usize = 22;
const ZIP64_LOCATOR_LEN: usize = 20;
const ZIP64_EOCD_LEN: usize = 56;
const MAX_COMMENT: usize = 0xFFFF;

const FLAG_ENCRYPTED: u16 = 0x0001;
const FLAG_LZMA_EOS: u16 = 0x0002;
const FLAG_DESCRIPTOR: u16 = 0x0008;
const FLAG_UTF8: u16 = 0x0800;

const ZIP64_EXTRA_ID: u16 = 0x0001;
const U32_MAX: u64 = 0xFFFF_FFFF;

/// Most end-record signatures considered (they all lie in the last 64 KiB).
const MAX_END_RECORDS: usize = 1024;

/// Most anomalies kept per listing; the rest are counted in [`ZipAnomaly::AnomaliesDropped`].
const MAX_ANOMALIES: usize = 10_000;

/// Compression methods [`read`] understands.
pub(crate) const METHOD_STORED: u16 = 0;
pub(crate) const METHOD_DEFLATE: u16 = 8;
pub(crate) const METHOD_BZIP2: u16 = 12;
pub(crate) const METHOD_LZMA: u16 = 14;
pub(crate) const METHOD_ZSTD: u16 = 93;
pub(crate) const METHOD_XZ: u16 = 95;

/// Which structure of the archive describes an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum EntryOrigin {
    /// A central-directory record (what `zipfile`, miniz and `torch.load` list).
    CentralDirectory,
    /// Only a local file header: a member no central-directory record points at, or the local
    /// header's view of a listed member whose name, method or size disagree with the directory.
    LocalHeaderOnly,
}

/// One view of one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ZipEntry {
    /// The name as loaders decode it: UTF-8 when flag bit 11 is set, else CP437 (as Python does).
    pub(crate) name: String,
    /// The name's bytes as stored.
    pub(crate) raw_name: Vec<u8>,
    /// Position of this entry in [`ZipListing::entries`].
    pub(crate) index: usize,
    /// Offset of the member's local file header.
    pub(crate) header_offset: u64,
    /// Offset of the member's (compressed) data.
    pub(crate) data_offset: u64,
    pub(crate) compressed_size: u64,
    /// Declared size; may lie. Reading is bounded by [`Limits`], not by this.
    pub(crate) uncompressed_size: u64,
    pub(crate) method: u16,
    pub(crate) crc32: u32,
    /// False when neither a header nor a data descriptor gave the CRC.
    pub(crate) crc_known: bool,
    /// False when neither a header nor a data descriptor gave the sizes (the compressed size then
    /// runs to the next ZIP signature, and the uncompressed size is 0).
    pub(crate) sizes_known: bool,
    pub(crate) flags: u16,
    pub(crate) origin: EntryOrigin,
}

impl ZipEntry {
    /// Whether general-purpose flag bit 0 (encryption) is set.
    pub(crate) fn is_encrypted(&self) -> bool {
        self.flags & FLAG_ENCRYPTED != 0
    }

    /// Whether the name denotes a directory.
    #[allow(dead_code, reason = "reader API; the scan driver does not call it yet")]
    pub(crate) fn is_dir(&self) -> bool {
        self.name.ends_with('/')
    }
}

/// Everything [`list`] found.
#[derive(Debug, Clone, Default)]
pub(crate) struct ZipListing {
    /// Central-directory entries in directory order, then local-header views and unlisted members in
    /// file order.
    pub(crate) entries: Vec<ZipEntry>,
    pub(crate) anomalies: Vec<ZipAnomaly>,
    /// Bytes in front of the archive, which another loader may read as something else (a pickle).
    pub(crate) prefix: Option<Range<usize>>,
}

/// Something about the archive that a loader could read differently from a scanner.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum ZipAnomaly {
    /// A local header disagrees with its central-directory record.
    LocalHeaderMismatch {
        name: String,
        offset: u64,
        field: &'static str,
        central: String,
        local: String,
    },
    /// A local header that no central-directory record points at.
    UnlistedLocalMember { name: String, offset: u64 },
    /// A local-header signature that does not start a readable member.
    CorruptMember { offset: u64, reason: String },
    /// Two central-directory records carry the same name.
    DuplicateName { name: String },
    /// The encryption flag is set; loaders that ignore it read the bytes anyway.
    EncryptedFlag { name: String },
    /// Bytes in front of the first member.
    DataBeforeArchive { len: u64 },
    /// Bytes after the end-of-central-directory record and its comment.
    TrailingData { offset: u64, len: u64 },
    /// A member name that escapes or confuses extraction paths.
    SuspiciousName { name: String, reason: &'static str },
    /// The data read does not match the CRC-32 in the headers.
    CrcMismatch {
        name: String,
        expected: u32,
        actual: u32,
    },
    /// The data read is not as long as the headers declare.
    SizeMismatch {
        name: String,
        declared: u64,
        actual: u64,
    },
    /// The member's data is corrupt or truncated after `produced` bytes, which were still returned.
    CorruptData {
        name: String,
        produced: u64,
        reason: String,
    },
    /// The central directory could not be read (in full).
    CentralDirectoryUnreadable { offset: u64, reason: String },
    /// There is no end-of-central-directory record; members come from the local-header sweep only.
    NoCentralDirectory,
    /// The ZIP64 records are inconsistent.
    BadZip64 { offset: u64, reason: String },
    /// The end record declares a different number of entries than the directory holds.
    EntryCountMismatch { declared: u64, found: u64 },
    /// More than one end-of-central-directory signature near the end of the file.
    MultipleEndRecords { count: usize },
    /// Two members share bytes (a known zip-bomb construction).
    OverlappingMembers {
        name: String,
        other: String,
        offset: u64,
    },
    /// A stored member whose compressed and uncompressed sizes differ.
    StoredSizeMismatch {
        name: String,
        compressed: u64,
        uncompressed: u64,
    },
    /// More anomalies than are kept.
    AnomaliesDropped { count: u64 },
}

impl ZipAnomaly {
    /// A stable `snake_case` identifier of the variant.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::LocalHeaderMismatch { .. } => "local_header_mismatch",
            Self::UnlistedLocalMember { .. } => "unlisted_local_member",
            Self::CorruptMember { .. } => "corrupt_member",
            Self::DuplicateName { .. } => "duplicate_name",
            Self::EncryptedFlag { .. } => "encrypted_flag",
            Self::DataBeforeArchive { .. } => "data_before_archive",
            Self::TrailingData { .. } => "trailing_data",
            Self::SuspiciousName { .. } => "suspicious_name",
            Self::CrcMismatch { .. } => "crc_mismatch",
            Self::SizeMismatch { .. } => "size_mismatch",
            Self::CorruptData { .. } => "corrupt_data",
            Self::CentralDirectoryUnreadable { .. } => "central_directory_unreadable",
            Self::NoCentralDirectory => "no_central_directory",
            Self::BadZip64 { .. } => "bad_zip64",
            Self::EntryCountMismatch { .. } => "entry_count_mismatch",
            Self::MultipleEndRecords { .. } => "multiple_end_records",
            Self::OverlappingMembers { .. } => "overlapping_members",
            Self::StoredSizeMismatch { .. } => "stored_size_mismatch",
            Self::AnomaliesDropped { .. } => "anomalies_dropped",
        }
    }

    /// Where in the file the anomaly is, when it has one place.
    pub(crate) fn offset(&self) -> Option<u64> {
        match self {
            Self::LocalHeaderMismatch { offset, .. }
            | Self::UnlistedLocalMember { offset, .. }
            | Self::CorruptMember { offset, .. }
            | Self::TrailingData { offset, .. }
            | Self::CentralDirectoryUnreadable { offset, .. }
            | Self::BadZip64 { offset, .. }
            | Self::OverlappingMembers { offset, .. } => Some(*offset),
            Self::DataBeforeArchive { .. } => Some(0),
            _ => None,
        }
    }

    /// One sentence for a human.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::LocalHeaderMismatch {
                name,
                field,
                central,
                local,
                ..
            } => format!(
                "The local header of `{name}` gives {field} {local} but the central directory gives {central}, so loaders can read different data."
            ),
            Self::UnlistedLocalMember { name, offset } => format!(
                "Member `{name}` at offset {offset} has a local header but is not in the central directory, so most tools do not list it."
            ),
            Self::CorruptMember { offset, reason } => {
                format!("A local header signature at offset {offset} does not start a readable member: {reason}.")
            }
            Self::DuplicateName { name } => format!(
                "More than one member is named `{name}`; loaders disagree on which one they use."
            ),
            Self::EncryptedFlag { name } => format!(
                "Member `{name}` is flagged as encrypted; loaders that ignore the flag still read it."
            ),
            Self::DataBeforeArchive { len } => format!(
                "{len} bytes come before the archive; a loader that does not expect a ZIP may read them (for example as a pickle)."
            ),
            Self::TrailingData { offset, len } => {
                format!("{len} bytes follow the end of the archive at offset {offset}.")
            }
            Self::SuspiciousName { name, reason } => {
                format!("Member name `{}` {reason}.", name.escape_debug())
            }
            Self::CrcMismatch {
                name,
                expected,
                actual,
            } => format!(
                "Member `{name}` has CRC-32 {actual:08x} but its header declares {expected:08x}; loaders that skip the check still load it."
            ),
            Self::SizeMismatch {
                name,
                declared,
                actual,
            } => format!(
                "Member `{name}` decompresses to {actual} bytes but its header declares {declared}."
            ),
            Self::CorruptData {
                name,
                produced,
                reason,
            } => format!(
                "The data of member `{name}` is corrupt after {produced} bytes ({reason}); those bytes were still read."
            ),
            Self::CentralDirectoryUnreadable { offset, reason } => format!(
                "The central directory at offset {offset} could not be read in full: {reason}."
            ),
            Self::NoCentralDirectory => "The file has ZIP members but no end of central directory record; only the local headers describe them.".to_owned(),
            Self::BadZip64 { offset, reason } => {
                format!("The ZIP64 records at offset {offset} are inconsistent: {reason}.")
            }
            Self::EntryCountMismatch { declared, found } => format!(
                "The end record declares {declared} entries but the central directory holds {found}; loaders that trust the count see a different set."
            ),
            Self::MultipleEndRecords { count } => format!(
                "{count} end of central directory signatures are near the end of the file; loaders may pick different ones."
            ),
            Self::OverlappingMembers {
                name,
                other,
                offset,
            } => format!(
                "Members `{name}` and `{other}` share bytes at offset {offset}, a construction used by zip bombs."
            ),
            Self::StoredSizeMismatch {
                name,
                compressed,
                uncompressed,
            } => format!(
                "Stored member `{name}` declares {compressed} stored bytes but {uncompressed} uncompressed bytes."
            ),
            Self::AnomaliesDropped { count } => {
                format!("{count} further anomalies were not recorded.")
            }
        }
    }
}

/// What stopped a decompression that ran over a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BombLimit {
    /// [`Limits::max_decompressed`].
    Member(u64),
    /// The [`DecompressBudget`] of the top-level file.
    Budget(u64),
    /// [`Limits::max_ratio`].
    Ratio(u64),
}

impl fmt::Display for BombLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Member(n) => write!(f, "the {n}-byte member limit"),
            Self::Budget(n) => write!(f, "the {n}-byte decompression budget of the file"),
            Self::Ratio(n) => write!(f, "a compression ratio of {n}"),
        }
    }
}

/// Why the archive or a member could not be read.
#[derive(thiserror::Error, Debug)]
#[non_exhaustive]
pub(crate) enum ZipError {
    /// Neither an end-of-central-directory record nor a local header was found.
    #[error("not a ZIP archive: no end of central directory record and no local file header")]
    NotZip,
    /// More entries than [`Limits::max_members`].
    #[error("archive has more than {limit} members")]
    TooManyMembers { limit: usize },
    /// A compression method we do not decode.
    #[error("member `{name}` uses unsupported compression method {method}")]
    UnsupportedMethod { name: String, method: u16 },
    /// Decompression ran over a limit.
    #[error("member `{name}` exceeds {limit} ({produced} bytes from {compressed} compressed)")]
    Bomb {
        name: String,
        limit: BombLimit,
        compressed: u64,
        produced: u64,
    },
    /// The member's data starts outside the file.
    #[error(
        "data of member `{name}` starts at offset {offset}, past the end of the {file_len}-byte file"
    )]
    DataOutOfBounds {
        name: String,
        offset: u64,
        file_len: u64,
    },
    /// The member's compression header (LZMA properties) is invalid.
    #[error("member `{name}` has an invalid method {method} header: {reason}")]
    BadMethodHeader {
        name: String,
        method: u16,
        reason: &'static str,
    },
    /// Decompression failed before producing any byte.
    #[error("member `{name}` (method {method}) could not be decompressed")]
    Decompress {
        name: String,
        method: u16,
        #[source]
        source: io::Error,
    },
    /// The output buffer could not be allocated.
    #[error("out of memory decompressing member `{name}` ({wanted} bytes)")]
    OutOfMemory { name: String, wanted: u64 },
}

impl ZipError {
    /// Whether a decompression limit stopped the read (a likely zip bomb).
    pub(crate) fn is_bomb(&self) -> bool {
        matches!(self, Self::Bomb { .. })
    }

    /// A stable `snake_case` identifier of the variant.
    #[allow(dead_code, reason = "reader API; the scan driver does not call it yet")]
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::NotZip => "not_zip",
            Self::TooManyMembers { .. } => "too_many_members",
            Self::UnsupportedMethod { .. } => "unsupported_method",
            Self::Bomb { .. } => "bomb",
            Self::DataOutOfBounds { .. } => "data_out_of_bounds",
            Self::BadMethodHeader { .. } => "bad_method_header",
            Self::Decompress { .. } => "decompress",
            Self::OutOfMemory { .. } => "out_of_memory",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Byte access: every read is bounds-checked and returns `None` past the end.

fn bytes_at<const N: usize>(data: &[u8], at: usize) -> Option<[u8; N]> {
    data.get(at..at.checked_add(N)?)?.try_into().ok()
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    bytes_at::<2>(data, at).map(u16::from_le_bytes)
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    bytes_at::<4>(data, at).map(u32::from_le_bytes)
}

fn u64_at(data: &[u8], at: usize) -> Option<u64> {
    bytes_at::<8>(data, at).map(u64::from_le_bytes)
}

fn sig_at(data: &[u8], at: usize, sig: [u8; 4]) -> bool {
    bytes_at::<4>(data, at) == Some(sig)
}

fn to_usize(n: u64) -> Option<usize> {
    usize::try_from(n).ok()
}

/// CP437 for bytes 0x80..=0xFF; Python's `zipfile` decodes names without the UTF-8 flag this way.
const CP437_HIGH: [char; 128] = [
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', 'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å', 'É', 'æ', 'Æ',
    'ô', 'ö', 'ò', 'û', 'ù', 'ÿ', 'Ö', 'Ü', '¢', '£', '¥', '₧', 'ƒ', 'á', 'í', 'ó', 'ú', 'ñ', 'Ñ',
    'ª', 'º', '¿', '⌐', '¬', '½', '¼', '¡', '«', '»', '░', '▒', '▓', '│', '┤', '╡', '╢', '╖', '╕',
    '╣', '║', '╗', '╝', '╜', '╛', '┐', '└', '┴', '┬', '├', '─', '┼', '╞', '╟', '╚', '╔', '╩', '╦',
    '╠', '═', '╬', '╧', '╨', '╤', '╥', '╙', '╘', '╒', '╓', '╫', '╪', '┘', '┌', '█', '▄', '▌', '▐',
    '▀', 'α', 'ß', 'Γ', 'π', 'Σ', 'σ', 'µ', 'τ', 'Φ', 'Θ', 'Ω', 'δ', '∞', 'φ', 'ε', '∩', '≡', '±',
    '≥', '≤', '⌠', '⌡', '÷', '≈', '°', '∙', '·', '√', 'ⁿ', '²', '■', '\u{a0}',
];

fn decode_name(raw: &[u8], flags: u16) -> String {
    if flags & FLAG_UTF8 != 0 || raw.is_ascii() {
        return String::from_utf8_lossy(raw).into_owned();
    }
    raw.iter()
        .map(|&b| {
            if b < 0x80 {
                char::from(b)
            } else {
                CP437_HIGH
                    .get(usize::from(b - 0x80))
                    .copied()
                    .unwrap_or('\u{FFFD}')
            }
        })
        .collect()
}

/// Why a member name is dangerous to extract, if it is.
pub(crate) fn suspicious_name(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    if name.contains('\0') {
        Some("contains a NUL byte")
    } else if name.starts_with('/')
        || name.starts_with('\\')
        || (bytes.get(1) == Some(&b':') && bytes.first().is_some_and(u8::is_ascii_alphabetic))
    {
        Some("is an absolute path")
    } else if name.split(['/', '\\']).any(|part| part == "..") {
        Some("has a `..` component that climbs out of the extraction directory")
    } else if name.contains('\\') {
        Some("contains a backslash, which Windows tools treat as a path separator")
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Records.

/// The fields of a central-directory record that matter here.
struct Central {
    offset: usize,
    raw_name: Vec<u8>,
    flags: u16,
    method: u16,
    crc32: u32,
    compressed_size: u64,
    uncompressed_size: u64,
    header_offset: u64,
}

/// The fields of a local file header that matter here.
struct Local<'a> {
    raw_name: &'a [u8],
    flags: u16,
    method: u16,
    crc32: u32,
    compressed_size: u64,
    uncompressed_size: u64,
    data_offset: u64,
    /// Whether the sizes are in the header (not deferred to a data descriptor).
    sizes_known: bool,
    /// Whether the CRC is in the header.
    crc_known: bool,
}

/// The ZIP64 extended-information extra field of a central record: each value is present only when
/// its 32-bit field is all ones, in the order uncompressed, compressed, offset.
fn apply_zip64_central(extra: &[u8], c: &mut Central) -> Result<(), &'static str> {
    let Some(field) = find_extra(extra, ZIP64_EXTRA_ID) else {
        if c.uncompressed_size == U32_MAX
            || c.compressed_size == U32_MAX
            || c.header_offset == U32_MAX
        {
            return Err("a 32-bit field is 0xFFFFFFFF but there is no ZIP64 extra field");
        }
        return Ok(());
    };
    let mut at = 0usize;
    for value in [
        &mut c.uncompressed_size,
        &mut c.compressed_size,
        &mut c.header_offset,
    ] {
        if *value == U32_MAX {
            *value = u64_at(field, at).ok_or("the ZIP64 extra field is too short")?;
            at += 8;
        }
    }
    Ok(())
}

/// The ZIP64 extra field of a local header holds both sizes (uncompressed first) when either 32-bit
/// field is all ones.
fn apply_zip64_local(extra: &[u8], l: &mut Local) -> Result<(), &'static str> {
    if l.uncompressed_size != U32_MAX && l.compressed_size != U32_MAX {
        return Ok(());
    }
    let field = find_extra(extra, ZIP64_EXTRA_ID)
        .ok_or("a size is 0xFFFFFFFF but there is no ZIP64 extra field")?;
    if field.len() >= 16 {
        l.uncompressed_size = u64_at(field, 0).ok_or("short ZIP64 field")?;
        l.compressed_size = u64_at(field, 8).ok_or("short ZIP64 field")?;
        return Ok(());
    }
    let mut at = 0usize;
    for value in [&mut l.uncompressed_size, &mut l.compressed_size] {
        if *value == U32_MAX {
            *value = u64_at(field, at).ok_or("the ZIP64 extra field is too short")?;
            at += 8;
        }
    }
    Ok(())
}

/// The data of the first extra field with `id`, if the extra block holds one.
fn find_extra(extra: &[u8], id: u16) -> Option<&[u8]> {
    let mut at = 0usize;
    while let (Some(field_id), Some(len)) = (u16_at(extra, at), u16_at(extra, at + 2)) {
        let start = at + 4;
        let end = start.checked_add(usize::from(len))?;
        let body = extra.get(start..end)?;
        if field_id == id {
            return Some(body);
        }
        at = end;
    }
    None
}

fn parse_central(data: &[u8], at: usize) -> Result<(Central, usize), String> {
    if !sig_at(data, at, *CENTRAL_SIG) {
        return Err("no central directory signature".to_owned());
    }
    let fixed = data
        .get(at..at.saturating_add(CENTRAL_LEN))
        .filter(|f| f.len() == CENTRAL_LEN)
        .ok_or("central directory record is truncated")?;
    let name_len = usize::from(u16_at(fixed, 28).unwrap_or(0));
    let extra_len = usize::from(u16_at(fixed, 30).unwrap_or(0));
    let comment_len = usize::from(u16_at(fixed, 32).unwrap_or(0));
    let name_start = at + CENTRAL_LEN;
    let extra_start = name_start + name_len;
    let end = extra_start + extra_len + comment_len;
    let raw_name = data
        .get(name_start..extra_start)
        .ok_or("central directory name runs past the end of the file")?
        .to_vec();
    let extra = data
        .get(extra_start..extra_start + extra_len)
        .ok_or("central directory extra field runs past the end of the file")?;
    if end > data.len() {
        return Err("central directory comment runs past the end of the file".to_owned());
    }
    let mut c = Central {
        offset: at,
        raw_name,
        flags: u16_at(fixed, 8).unwrap_or(0),
        method: u16_at(fixed, 10).unwrap_or(0),
        crc32: u32_at(fixed, 16).unwrap_or(0),
        compressed_size: u64::from(u32_at(fixed, 20).unwrap_or(0)),
        uncompressed_size: u64::from(u32_at(fixed, 24).unwrap_or(0)),
        header_offset: u64::from(u32_at(fixed, 42).unwrap_or(0)),
    };
    apply_zip64_central(extra, &mut c).map_err(str::to_owned)?;
    Ok((c, end))
}

fn parse_local(data: &[u8], at: usize) -> Result<Local<'_>, &'static str> {
    if !sig_at(data, at, *LOCAL_SIG) {
        return Err("no local header signature");
    }
    let fixed = data
        .get(at..at.saturating_add(LOCAL_LEN))
        .filter(|f| f.len() == LOCAL_LEN)
        .ok_or("local header is truncated")?;
    let flags = u16_at(fixed, 6).unwrap_or(0);
    let name_len = usize::from(u16_at(fixed, 26).unwrap_or(0));
    let extra_len = usize::from(u16_at(fixed, 28).unwrap_or(0));
    let name_start = at + LOCAL_LEN;
    let extra_start = name_start + name_len;
    let data_start = extra_start + extra_len;
    let raw_name = data
        .get(name_start..extra_start)
        .ok_or("local header name runs past the end of the file")?;
    let extra = data
        .get(extra_start..data_start)
        .ok_or("local header extra field runs past the end of the file")?;
    let mut l = Local {
        raw_name,
        flags,
        method: u16_at(fixed, 8).unwrap_or(0),
        crc32: u32_at(fixed, 14).unwrap_or(0),
        compressed_size: u64::from(u32_at(fixed, 18).unwrap_or(0)),
        uncompressed_size: u64::from(u32_at(fixed, 22).unwrap_or(0)),
        data_offset: data_start as u64,
        sizes_known: true,
        crc_known: true,
    };
    apply_zip64_local(extra, &mut l)?;
    // With a data descriptor (flag bit 3), writers leave the header's CRC and sizes zero.
    if flags & FLAG_DESCRIPTOR != 0 {
        l.sizes_known = l.compressed_size != 0 || l.uncompressed_size != 0;
        l.crc_known = l.crc32 != 0;
    }
    Ok(l)
}

/// The end-of-central-directory record, with ZIP64 values applied.
struct EndRecord {
    /// Offset of the (32-bit) end record.
    eocd_pos: usize,
    /// Where the region that the central directory must end before starts (the ZIP64 record if
    /// there is one, else the end record).
    cd_limit: usize,
    entries: u64,
    cd_size: u64,
    cd_offset: u64,
    comment_end: usize,
}

/// Offsets of end-record signatures in the last 64 KiB + 22 bytes, last first.
fn eocd_candidates(data: &[u8]) -> Vec<usize> {
    let window_start = data.len().saturating_sub(EOCD_LEN + MAX_COMMENT);
    let window = data.get(window_start..).unwrap_or_default();
    memmem::rfind_iter(window, EOCD_SIG)
        .map(|p| p + window_start)
        .filter(|&p| p + EOCD_LEN <= data.len())
        .take(MAX_END_RECORDS)
        .collect()
}

fn parse_end_record(data: &[u8], eocd_pos: usize, anomalies: &mut Anomalies) -> EndRecord {
    let field16 = |off| u64::from(u16_at(data, eocd_pos + off).unwrap_or(0));
    let field32 = |off| u64::from(u32_at(data, eocd_pos + off).unwrap_or(0));
    let comment_len = usize::from(u16_at(data, eocd_pos + 20).unwrap_or(0));
    let mut end = EndRecord {
        eocd_pos,
        cd_limit: eocd_pos,
        entries: field16(10),
        cd_size: field32(12),
        cd_offset: field32(16),
        comment_end: (eocd_pos + EOCD_LEN)
            .saturating_add(comment_len)
            .min(data.len()),
    };
    let Some(locator) = eocd_pos.checked_sub(ZIP64_LOCATOR_LEN) else {
        return end;
    };
    if !sig_at(data, locator, *ZIP64_LOCATOR_SIG) {
        return end;
    }
    // The locator's offset, or (as Python assumes) the record right before the locator.
    let stated = u64_at(data, locator + 8).and_then(to_usize);
    let adjacent = locator.checked_sub(ZIP64_EOCD_LEN);
    let Some(record) = [stated, adjacent]
        .into_iter()
        .flatten()
        .find(|&p| p < locator && sig_at(data, p, *ZIP64_EOCD_SIG))
    else {
        anomalies.push(ZipAnomaly::BadZip64 {
            offset: locator as u64,
            reason: "the ZIP64 locator points at no ZIP64 end record".to_owned(),
        });
        return end;
    };
    let (Some(entries), Some(cd_size), Some(cd_offset)) = (
        u64_at(data, record + 32),
        u64_at(data, record + 40),
        u64_at(data, record + 48),
    ) else {
        anomalies.push(ZipAnomaly::BadZip64 {
            offset: record as u64,
            reason: "the ZIP64 end record is truncated".to_owned(),
        });
        return end;
    };
    let disagree = |small: u64, max: u64, big: u64| small != max && small != big;
    if disagree(end.entries, 0xFFFF, entries)
        || disagree(end.cd_size, U32_MAX, cd_size)
        || disagree(end.cd_offset, U32_MAX, cd_offset)
    {
        anomalies.push(ZipAnomaly::BadZip64 {
            offset: record as u64,
            reason: "the ZIP64 end record disagrees with the 32-bit end record".to_owned(),
        });
    }
    end.entries = entries;
    end.cd_size = cd_size;
    end.cd_offset = cd_offset;
    end.cd_limit = record;
    end
}

/// Where the central directory really starts, and how far the archive is shifted from where its
/// offsets say (bytes prepended to the archive, as in self-extractors and pickle/zip polyglots).
fn locate_central_directory(data: &[u8], end: &EndRecord) -> Option<(usize, u64)> {
    let declared = to_usize(end.cd_offset);
    let expected = to_usize(end.cd_size).and_then(|size| end.cd_limit.checked_sub(size));
    if end.cd_size == 0 {
        // An empty directory: nothing to find; Python still computes the shift.
        let start = expected.unwrap_or(end.cd_limit);
        let delta = (start as u64).saturating_sub(end.cd_offset);
        return Some((start, delta));
    }
    if let Some(d) = declared.filter(|&d| sig_at(data, d, *CENTRAL_SIG)) {
        return Some((d, 0));
    }
    let e = expected.filter(|&e| sig_at(data, e, *CENTRAL_SIG))?;
    let delta = (e as u64).checked_sub(end.cd_offset)?;
    Some((e, delta))
}

/// Longest name or value kept in an anomaly: names can be 64 KiB long and many records can repeat
/// one, so anomalies keep a prefix.
const MAX_ANOMALY_TEXT: usize = 512;

fn clip(s: &mut String) {
    if s.len() > MAX_ANOMALY_TEXT {
        let mut end = MAX_ANOMALY_TEXT;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
}

fn clip_anomaly(a: &mut ZipAnomaly) {
    match a {
        ZipAnomaly::LocalHeaderMismatch {
            name,
            central,
            local,
            ..
        } => {
            clip(name);
            clip(central);
            clip(local);
        }
        ZipAnomaly::OverlappingMembers { name, other, .. } => {
            clip(name);
            clip(other);
        }
        ZipAnomaly::UnlistedLocalMember { name, .. }
        | ZipAnomaly::DuplicateName { name }
        | ZipAnomaly::EncryptedFlag { name }
        | ZipAnomaly::SuspiciousName { name, .. }
        | ZipAnomaly::CrcMismatch { name, .. }
        | ZipAnomaly::SizeMismatch { name, .. }
        | ZipAnomaly::StoredSizeMismatch { name, .. } => clip(name),
        ZipAnomaly::CorruptData { name, reason, .. } => {
            clip(name);
            clip(reason);
        }
        ZipAnomaly::CorruptMember { reason, .. }
        | ZipAnomaly::CentralDirectoryUnreadable { reason, .. }
        | ZipAnomaly::BadZip64 { reason, .. } => clip(reason),
        ZipAnomaly::DataBeforeArchive { .. }
        | ZipAnomaly::TrailingData { .. }
        | ZipAnomaly::NoCentralDirectory
        | ZipAnomaly::EntryCountMismatch { .. }
        | ZipAnomaly::MultipleEndRecords { .. }
        | ZipAnomaly::AnomaliesDropped { .. } => {}
    }
}

/// Collects anomalies up to [`MAX_ANOMALIES`], counting the rest.
#[derive(Default)]
struct Anomalies {
    kept: Vec<ZipAnomaly>,
    dropped: u64,
}

impl Anomalies {
    fn push(&mut self, mut a: ZipAnomaly) {
        if self.kept.len() < MAX_ANOMALIES {
            clip_anomaly(&mut a);
            self.kept.push(a);
        } else {
            self.dropped += 1;
        }
    }

    fn finish(mut self) -> Vec<ZipAnomaly> {
        if self.dropped > 0 {
            self.kept.push(ZipAnomaly::AnomaliesDropped {
                count: self.dropped,
            });
        }
        self.kept
    }
}

/// Builds the listing while checking the member limit.
struct Builder<'l> {
    entries: Vec<ZipEntry>,
    anomalies: Anomalies,
    limits: &'l Limits,
    /// Local headers that already have a local view.
    local_views: HashSet<u64>,
}

impl Builder<'_> {
    fn add(&mut self, mut entry: ZipEntry) -> Result<(), ZipError> {
        if self.entries.len() >= self.limits.max_members {
            return Err(ZipError::TooManyMembers {
                limit: self.limits.max_members,
            });
        }
        entry.index = self.entries.len();
        self.entries.push(entry);
        Ok(())
    }
}

fn hex32(v: u32) -> String {
    format!("{v:#010x}")
}

/// Lists every member of the ZIP archive in `data` that any loader could see.
pub(crate) fn list(data: &[u8], limits: &Limits) -> Result<ZipListing, ZipError> {
    let mut b = Builder {
        entries: Vec::new(),
        anomalies: Anomalies::default(),
        limits,
        local_views: HashSet::new(),
    };
    let candidates = eocd_candidates(data);

    // Central directory: the last end record whose directory can be found, as Python and miniz pick
    // the last signature.
    let mut directory_ok = false;
    let mut known_headers: HashSet<u64> = HashSet::new();
    // Byte ranges the sweep skips: member data of listed members and the directory itself.
    let mut skip: Vec<Range<usize>> = Vec::new();
    let mut archive_end: Option<usize> = None;
    let mut first_end_error = None;
    for &eocd_pos in &candidates {
        let mut scratch = Anomalies::default();
        let end = parse_end_record(data, eocd_pos, &mut scratch);
        let Some((cd_start, delta)) = locate_central_directory(data, &end) else {
            first_end_error.get_or_insert((
                end.cd_offset,
                "the end record points at no central directory".to_owned(),
            ));
            continue;
        };
        for a in scratch.kept {
            b.anomalies.push(a);
        }
        directory_ok = true;
        archive_end = Some(end.comment_end);
        if end.comment_end < data.len() {
            b.anomalies.push(ZipAnomaly::TrailingData {
                offset: end.comment_end as u64,
                len: (data.len() - end.comment_end) as u64,
            });
        }
        skip.push(cd_start..end.eocd_pos + EOCD_LEN);
        read_central_directory(
            data,
            &end,
            cd_start,
            delta,
            &mut b,
            &mut known_headers,
            &mut skip,
        )?;
        // Other end records, outside the members' data (a nested archive has its own), are a
        // second archive that another loader may pick.
        let tail = candidates.last().copied().unwrap_or(0);
        let near: Vec<&Range<usize>> = skip.iter().filter(|r| r.end > tail).collect();
        let others = candidates
            .iter()
            .filter(|&&c| c != eocd_pos && !near.iter().any(|r| r.contains(&c)))
            .count();
        if others > 0 {
            b.anomalies
                .push(ZipAnomaly::MultipleEndRecords { count: others + 1 });
        }
        break;
    }
    if !directory_ok && let Some((offset, reason)) = first_end_error {
        b.anomalies
            .push(ZipAnomaly::CentralDirectoryUnreadable { offset, reason });
    }

    sweep(data, directory_ok, &known_headers, skip, &mut b)?;

    if !directory_ok {
        if b.entries.is_empty() {
            return Err(ZipError::NotZip);
        }
        if candidates.is_empty() {
            b.anomalies.push(ZipAnomaly::NoCentralDirectory);
        }
    }

    // Names: duplicates among listed members, suspicious names, encryption flags.
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut extra = Vec::new();
    for e in &b.entries {
        if e.origin == EntryOrigin::CentralDirectory {
            let count = seen.entry(e.name.as_str()).or_insert(0);
            *count += 1;
            if *count == 2 {
                extra.push(ZipAnomaly::DuplicateName {
                    name: e.name.clone(),
                });
            }
        }
        if let Some(reason) = suspicious_name(&e.name) {
            extra.push(ZipAnomaly::SuspiciousName {
                name: e.name.clone(),
                reason,
            });
        }
        if e.is_encrypted() {
            extra.push(ZipAnomaly::EncryptedFlag {
                name: e.name.clone(),
            });
        }
        if e.method == METHOD_STORED && e.sizes_known && e.compressed_size != e.uncompressed_size {
            extra.push(ZipAnomaly::StoredSizeMismatch {
                name: e.name.clone(),
                compressed: e.compressed_size,
                uncompressed: e.uncompressed_size,
            });
        }
    }
    for a in extra {
        b.anomalies.push(a);
    }
    overlaps(&b.entries, &mut b.anomalies);

    // Bytes in front of the first member (or of the directory, in an archive without members).
    let first = b
        .entries
        .iter()
        .map(|e| e.header_offset)
        .min()
        .and_then(to_usize)
        .or_else(|| archive_end.map(|_| data.len().min(first_structure(data))));
    let prefix = first.filter(|&f| f > 0).map(|f| 0..f.min(data.len()));
    if let Some(p) = &prefix {
        b.anomalies.push(ZipAnomaly::DataBeforeArchive {
            len: p.len() as u64,
        });
    }
    Ok(ZipListing {
        entries: b.entries,
        anomalies: b.anomalies.finish(),
        prefix,
    })
}

/// Offset of the first ZIP signature of any kind (for archives without members).
fn first_structure(data: &[u8]) -> usize {
    [CENTRAL_SIG, EOCD_SIG, ZIP64_EOCD_SIG]
        .iter()
        .filter_map(|sig| memmem::find(data, *sig))
        .min()
        .unwrap_or(0)
}

fn read_central_directory(
    data: &[u8],
    end: &EndRecord,
    cd_start: usize,
    delta: u64,
    b: &mut Builder<'_>,
    known_headers: &mut HashSet<u64>,
    skip: &mut Vec<Range<usize>>,
) -> Result<(), ZipError> {
    let cd_end = to_usize(end.cd_size)
        .and_then(|s| cd_start.checked_add(s))
        .unwrap_or(usize::MAX)
        .min(end.cd_limit)
        .min(data.len());
    let mut at = cd_start;
    let mut found = 0u64;
    while at < cd_end {
        let (c, next) = match parse_central(data, at) {
            Ok(parsed) => parsed,
            Err(reason) => {
                b.anomalies.push(ZipAnomaly::CentralDirectoryUnreadable {
                    offset: at as u64,
                    reason,
                });
                break;
            }
        };
        found += 1;
        at = next;
        add_central_member(data, &c, delta, b, known_headers, skip)?;
    }
    if found != end.entries {
        b.anomalies.push(ZipAnomaly::EntryCountMismatch {
            declared: end.entries,
            found,
        });
    }
    Ok(())
}

/// Reads the local header a central record points at, compares the two, and adds the entry (and the
/// local view when it differs).
fn add_central_member(
    data: &[u8],
    c: &Central,
    delta: u64,
    b: &mut Builder<'_>,
    known_headers: &mut HashSet<u64>,
    skip: &mut Vec<Range<usize>>,
) -> Result<(), ZipError> {
    let name = decode_name(&c.raw_name, c.flags);
    // Python shifts every offset by the prepended bytes; miniz does not. Try the shifted one first.
    let shifted = c.header_offset.checked_add(delta);
    let header_at = [shifted, Some(c.header_offset)]
        .into_iter()
        .flatten()
        .find(|&off| to_usize(off).is_some_and(|o| sig_at(data, o, *LOCAL_SIG)));
    let Some(header_at) = header_at else {
        b.anomalies.push(ZipAnomaly::CorruptMember {
            offset: shifted.unwrap_or(c.header_offset),
            reason: format!(
                "the central directory record of `{name}` (at offset {}) points at no local header",
                c.offset
            ),
        });
        return Ok(());
    };
    let local = match to_usize(header_at).map(|o| parse_local(data, o)) {
        Some(Ok(local)) => local,
        Some(Err(reason)) => {
            b.anomalies.push(ZipAnomaly::CorruptMember {
                offset: header_at,
                reason: format!("local header of `{name}`: {reason}"),
            });
            return Ok(());
        }
        None => return Ok(()),
    };
    known_headers.insert(header_at);
    if let (Some(start), Some(end)) = (
        to_usize(header_at),
        local
            .data_offset
            .checked_add(c.compressed_size)
            .and_then(to_usize),
    ) {
        skip.push(start..end.min(data.len()));
    }

    let mut mismatch = |field: &'static str, central: String, local: String| {
        b.anomalies.push(ZipAnomaly::LocalHeaderMismatch {
            name: name.clone(),
            offset: header_at,
            field,
            central,
            local,
        });
    };
    let name_differs = local.raw_name != c.raw_name.as_slice();
    if name_differs {
        let local_name = decode_name(local.raw_name, local.flags);
        mismatch("name", format!("`{name}`"), format!("`{local_name}`"));
    }
    if local.method != c.method {
        mismatch("method", c.method.to_string(), local.method.to_string());
    }
    if local.flags != c.flags {
        mismatch(
            "flags",
            format!("{:#06x}", c.flags),
            format!("{:#06x}", local.flags),
        );
    }
    let sizes_differ = local.sizes_known
        && (local.compressed_size != c.compressed_size
            || local.uncompressed_size != c.uncompressed_size);
    if local.crc_known && local.crc32 != c.crc32 {
        mismatch("CRC-32", hex32(c.crc32), hex32(local.crc32));
    }
    if local.sizes_known {
        if local.compressed_size != c.compressed_size {
            mismatch(
                "compressed size",
                c.compressed_size.to_string(),
                local.compressed_size.to_string(),
            );
        }
        if local.uncompressed_size != c.uncompressed_size {
            mismatch(
                "uncompressed size",
                c.uncompressed_size.to_string(),
                local.uncompressed_size.to_string(),
            );
        }
    }

    b.add(ZipEntry {
        name,
        raw_name: c.raw_name.clone(),
        index: 0,
        header_offset: header_at,
        data_offset: local.data_offset,
        compressed_size: c.compressed_size,
        uncompressed_size: c.uncompressed_size,
        method: c.method,
        crc32: c.crc32,
        crc_known: true,
        sizes_known: true,
        flags: c.flags,
        origin: EntryOrigin::CentralDirectory,
    })?;
    // What a loader that reads local headers (a streaming unzipper) sees; one view per local header,
    // however many records point at it.
    if (name_differs || local.method != c.method || sizes_differ) && b.local_views.insert(header_at)
    {
        let (compressed_size, uncompressed_size) = if local.sizes_known {
            (local.compressed_size, local.uncompressed_size)
        } else {
            (c.compressed_size, c.uncompressed_size)
        };
        let crc32 = if local.crc_known {
            local.crc32
        } else {
            c.crc32
        };
        b.add(ZipEntry {
            name: decode_name(local.raw_name, local.flags),
            raw_name: local.raw_name.to_vec(),
            index: 0,
            header_offset: header_at,
            data_offset: local.data_offset,
            compressed_size,
            uncompressed_size,
            method: local.method,
            crc32,
            crc_known: true,
            sizes_known: true,
            flags: local.flags,
            origin: EntryOrigin::LocalHeaderOnly,
        })?;
    }
    Ok(())
}

/// Finds where the data of a member with deferred sizes (flag bit 3, sizes 0) ends: at a data
/// descriptor whose compressed size matches the distance, else at the next ZIP signature.
///
/// Returns `(compressed_size, uncompressed_size, crc, known, end_of_member)`; the scan stops at the
/// first signature, so its work is bounded by the distance to the next header.
fn find_descriptor(data: &[u8], data_offset: usize) -> (u64, u64, u32, bool, usize) {
    let tail = data.get(data_offset..).unwrap_or_default();
    for rel in memmem::find_iter(tail, b"PK") {
        let at = data_offset + rel;
        let Some(sig) = bytes_at::<4>(data, at) else {
            break;
        };
        if &sig == DESCRIPTOR_SIG {
            let len = rel as u64;
            if u32_at(data, at + 8).map(u64::from) == Some(len) {
                let crc = u32_at(data, at + 4).unwrap_or(0);
                let size = u32_at(data, at + 12).map_or(0, u64::from);
                return (len, size, crc, true, at + 16);
            }
            if u64_at(data, at + 8) == Some(len) {
                let crc = u32_at(data, at + 4).unwrap_or(0);
                let size = u64_at(data, at + 16).unwrap_or(0);
                return (len, size, crc, true, at + 24);
            }
            continue;
        }
        if [LOCAL_SIG, CENTRAL_SIG, EOCD_SIG, ZIP64_EOCD_SIG].contains(&&sig) {
            // A descriptor without its optional signature right before the next header.
            if let Some(d) = at.checked_sub(12).filter(|&d| d >= data_offset)
                && u32_at(data, d + 4).map(u64::from) == Some((d - data_offset) as u64)
            {
                let crc = u32_at(data, d).unwrap_or(0);
                let size = u32_at(data, d + 8).map_or(0, u64::from);
                return ((d - data_offset) as u64, size, crc, true, at);
            }
            return (rel as u64, 0, 0, false, at);
        }
    }
    (tail.len() as u64, 0, 0, false, data.len())
}

/// Sweeps the file for local headers that no central record points at.
fn sweep(
    data: &[u8],
    directory_ok: bool,
    known_headers: &HashSet<u64>,
    mut skip: Vec<Range<usize>>,
    b: &mut Builder<'_>,
) -> Result<(), ZipError> {
    skip.sort_by_key(|r| r.start);
    let finder = memmem::Finder::new(LOCAL_SIG);
    // Only the last local header may have data running past the end (a truncated file); anywhere
    // else such a header is garbage, and accepting it would let overlapping fake headers multiply.
    let last_header = memmem::rfind(data, LOCAL_SIG);
    let mut skip_idx = 0usize;
    let mut pos = 0usize;
    loop {
        // Jump over listed members and the directory without touching their bytes (tensor data in
        // a memory map stays unread); what is inside a stored member is scanned when it is read.
        while let Some(r) = skip.get(skip_idx) {
            if r.start <= pos {
                pos = pos.max(r.end);
                skip_idx += 1;
            } else {
                break;
            }
        }
        let window_end = skip
            .get(skip_idx)
            .map_or(data.len(), |r| r.start.min(data.len()));
        let Some(window) = data.get(pos..window_end) else {
            break;
        };
        let Some(rel) = finder.find(window) else {
            if window_end >= data.len() {
                break;
            }
            pos = window_end;
            continue;
        };
        let at = pos + rel;
        pos = at + 4;
        if known_headers.contains(&(at as u64)) {
            continue;
        }
        let local = match parse_local(data, at) {
            Ok(l) => l,
            Err(reason) => {
                b.anomalies.push(ZipAnomaly::CorruptMember {
                    offset: at as u64,
                    reason: reason.to_owned(),
                });
                continue;
            }
        };
        let Some(data_offset) = to_usize(local.data_offset) else {
            continue;
        };
        let (compressed_size, uncompressed_size, crc32, crc_known, sizes_known, member_end) =
            if local.sizes_known {
                // Data that runs past the end (a truncated file) is still returned, and `read`
                // keeps what is there; but such sizes bound nothing, so the sweep goes on inside.
                let end = data_offset
                    .checked_add(to_usize(local.compressed_size).unwrap_or(usize::MAX))
                    .filter(|&e| e <= data.len());
                let end = match end {
                    Some(end) => end,
                    None if last_header == Some(at) => data.len(),
                    None => {
                        b.anomalies.push(ZipAnomaly::CorruptMember {
                            offset: at as u64,
                            reason: format!(
                                "the header declares {} bytes of data, past the end of the file",
                                local.compressed_size
                            ),
                        });
                        continue;
                    }
                };
                (
                    local.compressed_size,
                    local.uncompressed_size,
                    local.crc32,
                    local.crc_known,
                    true,
                    end,
                )
            } else {
                let (csize, usize_, crc, known, end) = find_descriptor(data, data_offset);
                (csize, usize_, crc, known, known, end)
            };
        let name = decode_name(local.raw_name, local.flags);
        if directory_ok {
            b.anomalies.push(ZipAnomaly::UnlistedLocalMember {
                name: name.clone(),
                offset: at as u64,
            });
        }
        b.add(ZipEntry {
            name,
            raw_name: local.raw_name.to_vec(),
            index: 0,
            header_offset: at as u64,
            data_offset: local.data_offset,
            compressed_size,
            uncompressed_size,
            method: local.method,
            crc32,
            crc_known,
            sizes_known,
            flags: local.flags,
            origin: EntryOrigin::LocalHeaderOnly,
        })?;
        // A sequential reader continues after the member; so do we.
        pos = pos.max(member_end);
    }
    Ok(())
}

/// Reports members whose data ranges overlap (different local headers sharing bytes, or several
/// central records pointing at one local header).
fn overlaps(entries: &[ZipEntry], anomalies: &mut Anomalies) {
    let mut ranges: Vec<(u64, u64, &ZipEntry)> = entries
        .iter()
        .filter(|e| e.origin == EntryOrigin::CentralDirectory)
        .map(|e| {
            (
                e.header_offset,
                e.data_offset.saturating_add(e.compressed_size),
                e,
            )
        })
        .collect();
    ranges.sort_by_key(|&(start, end, _)| (start, end));
    let mut reported = 0usize;
    let mut furthest: Option<(u64, &ZipEntry)> = None;
    for &(start, end, e) in &ranges {
        if let Some((prev_end, prev)) = furthest
            && start < prev_end
            && reported < 100
        {
            anomalies.push(ZipAnomaly::OverlappingMembers {
                name: e.name.clone(),
                other: prev.name.clone(),
                offset: start,
            });
            reported += 1;
        }
        if furthest.is_none_or(|(f, _)| end > f) {
            furthest = Some((end, e));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading members.

/// One member's bytes (borrowed from the input for stored members, owned when decompressed), and
/// what reading them revealed: corruption part-way, else a CRC mismatch, else a size mismatch.
pub(crate) type MemberData<'a> = (Cow<'a, [u8]>, Option<ZipAnomaly>);

/// Returns the bytes of `entry`: a slice of `data` for stored members, decompressed bytes otherwise.
///
/// Decompression is bounded by `limits` and `budget` (a violation is [`ZipError::Bomb`]). A CRC or
/// size mismatch, or corruption part-way (the bytes before it are kept), is reported as an anomaly
/// next to the data, since some loaders read such members anyway.
pub(crate) fn read<'a>(
    data: &'a [u8],
    entry: &ZipEntry,
    limits: &Limits,
    budget: &mut DecompressBudget,
) -> Result<MemberData<'a>, ZipError> {
    let name = || entry.name.clone();
    let file_len = data.len() as u64;
    let start = to_usize(entry.data_offset)
        .filter(|&s| s <= data.len())
        .ok_or_else(|| ZipError::DataOutOfBounds {
            name: name(),
            offset: entry.data_offset,
            file_len,
        })?;
    let wanted_end = start.saturating_add(to_usize(entry.compressed_size).unwrap_or(usize::MAX));
    let end = wanted_end.min(data.len());
    let raw = data.get(start..end).unwrap_or_default();
    let mut anomaly = None;
    let truncated = wanted_end > data.len();
    if truncated {
        anomaly = Some(ZipAnomaly::CorruptData {
            name: name(),
            produced: raw.len() as u64,
            reason: format!(
                "{} compressed bytes declared but only {} present",
                entry.compressed_size,
                raw.len()
            ),
        });
    }
    let compressed = raw.len() as u64;
    let hint = if entry.sizes_known {
        entry.uncompressed_size
    } else {
        0
    };
    let bounded = match entry.method {
        METHOD_STORED => {
            let anomaly = anomaly.or_else(|| check(entry, raw));
            return Ok((Cow::Borrowed(raw), anomaly));
        }
        METHOD_DEFLATE => read_bounded(
            flate2::bufread::DeflateDecoder::new(raw),
            compressed,
            hint,
            limits,
            budget,
        ),
        METHOD_BZIP2 => read_bounded(
            bzip2::bufread::MultiBzDecoder::new(raw),
            compressed,
            hint,
            limits,
            budget,
        ),
        METHOD_LZMA => {
            let reader = lzma_member(raw, entry, limits)?;
            read_bounded(reader, compressed, hint, limits, budget)
        }
        METHOD_XZ => read_bounded(
            lzma_rust2::XzReader::new(raw, true),
            compressed,
            hint,
            limits,
            budget,
        ),
        METHOD_ZSTD => match ruzstd::decoding::StreamingDecoder::new(raw) {
            Ok(decoder) => read_bounded(decoder, compressed, hint, limits, budget),
            Err(e) => {
                return Err(ZipError::Decompress {
                    name: name(),
                    method: entry.method,
                    source: io::Error::new(io::ErrorKind::InvalidData, e.to_string()),
                });
            }
        },
        method => {
            return Err(ZipError::UnsupportedMethod {
                name: name(),
                method,
            });
        }
    };
    let produced = bounded.data.len() as u64;
    let bomb = |limit| ZipError::Bomb {
        name: name(),
        limit,
        compressed,
        produced,
    };
    match bounded.stop {
        None => {}
        Some(Stop::TooLarge { limit }) => return Err(bomb(BombLimit::Member(limit))),
        Some(Stop::Budget { limit }) => return Err(bomb(BombLimit::Budget(limit))),
        Some(Stop::Ratio { max_ratio, .. }) => return Err(bomb(BombLimit::Ratio(max_ratio))),
        Some(Stop::OutOfMemory { wanted }) => {
            return Err(ZipError::OutOfMemory {
                name: name(),
                wanted,
            });
        }
        Some(Stop::Corrupt(source)) => {
            if bounded.data.is_empty() {
                return Err(ZipError::Decompress {
                    name: name(),
                    method: entry.method,
                    source,
                });
            }
            let anomaly = anomaly.or_else(|| {
                Some(ZipAnomaly::CorruptData {
                    name: name(),
                    produced,
                    reason: source.to_string(),
                })
            });
            return Ok((Cow::Owned(bounded.data), anomaly));
        }
    }
    let anomaly = anomaly.or_else(|| check(entry, &bounded.data));
    Ok((Cow::Owned(bounded.data), anomaly))
}

/// Compares complete member data with the declared CRC, then the declared size.
fn check(entry: &ZipEntry, out: &[u8]) -> Option<ZipAnomaly> {
    if entry.crc_known {
        let actual = crc32fast::hash(out);
        if actual != entry.crc32 {
            return Some(ZipAnomaly::CrcMismatch {
                name: entry.name.clone(),
                expected: entry.crc32,
                actual,
            });
        }
    }
    (entry.sizes_known && out.len() as u64 != entry.uncompressed_size).then(|| {
        ZipAnomaly::SizeMismatch {
            name: entry.name.clone(),
            declared: entry.uncompressed_size,
            actual: out.len() as u64,
        }
    })
}

/// ZIP's LZMA framing: major and minor version bytes, a 2-byte properties length (5), the properties
/// (lc/lp/pb byte and dictionary size), then raw LZMA, ended by an end marker when flag bit 1 is set.
fn lzma_member<'a>(
    raw: &'a [u8],
    entry: &ZipEntry,
    limits: &Limits,
) -> Result<lzma_rust2::LzmaReader<&'a [u8]>, ZipError> {
    let bad = |reason| ZipError::BadMethodHeader {
        name: entry.name.clone(),
        method: entry.method,
        reason,
    };
    let props_len = u16_at(raw, 2).ok_or(bad("LZMA header is truncated"))?;
    if props_len != 5 {
        return Err(bad("LZMA properties are not 5 bytes long"));
    }
    let props = raw.get(4).copied().ok_or(bad("LZMA header is truncated"))?;
    let dict = u32_at(raw, 5).ok_or(bad("LZMA header is truncated"))?;
    let stream = raw.get(9..).unwrap_or_default();
    let size = if entry.flags & FLAG_LZMA_EOS != 0 || !entry.sizes_known {
        u64::MAX
    } else {
        entry.uncompressed_size
    };
    // The decoder allocates the dictionary up front (capped by a known size): keep it within the
    // per-member output limit.
    if u64::from(dict) > limits.max_decompressed.max(1 << 20) && size == u64::MAX {
        return Err(bad(
            "LZMA dictionary is larger than the member output limit",
        ));
    }
    lzma_rust2::LzmaReader::new_with_props(stream, size, props, dict, None)
        .map_err(|_| bad("invalid LZMA properties"))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const PICKLE: &[u8] = b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.";

    fn limits() -> Limits {
        Limits::default()
    }

    /// One member for [`build`].
    #[derive(Clone)]
    struct M {
        name: Vec<u8>,
        local_name: Option<Vec<u8>>,
        method: u16,
        local_method: Option<u16>,
        flags: u16,
        body: Vec<u8>,
        uncompressed: Vec<u8>,
        in_directory: bool,
        zip64: bool,
        crc_override: Option<u32>,
    }

    fn stored(name: &str, content: &[u8]) -> M {
        M {
            name: name.as_bytes().to_vec(),
            local_name: None,
            method: METHOD_STORED,
            local_method: None,
            flags: 0,
            body: content.to_vec(),
            uncompressed: content.to_vec(),
            in_directory: true,
            zip64: false,
            crc_override: None,
        }
    }

    fn deflated(name: &str, content: &[u8]) -> M {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(content).unwrap();
        M {
            method: METHOD_DEFLATE,
            body: e.finish().unwrap(),
            ..stored(name, content)
        }
    }

    fn push16(out: &mut Vec<u8>, v: u16) {
        out.extend_from_slice(&v.to_le_bytes());
    }

    fn push32(out: &mut Vec<u8>, v: u32) {
        out.extend_from_slice(&v.to_le_bytes());
    }

    fn push64(out: &mut Vec<u8>, v: u64) {
        out.extend_from_slice(&v.to_le_bytes());
    }

    /// Writes a ZIP archive by hand: `prefix`, the local headers and data, the central directory (of
    /// members with `in_directory`), and the end record (plus ZIP64 records when `zip64_end`).
    fn build(prefix: &[u8], members: &[M], zip64_end: bool, trailer: &[u8]) -> Vec<u8> {
        let mut out = prefix.to_vec();
        let mut offsets = Vec::new();
        for m in members {
            offsets.push(out.len() as u64);
            let crc = m
                .crc_override
                .unwrap_or_else(|| crc32fast::hash(&m.uncompressed));
            out.extend_from_slice(LOCAL_SIG);
            push16(&mut out, 20);
            push16(&mut out, m.flags);
            push16(&mut out, m.local_method.unwrap_or(m.method));
            push32(&mut out, 0);
            let streamed = m.flags & FLAG_DESCRIPTOR != 0;
            push32(&mut out, if streamed { 0 } else { crc });
            let name = m.local_name.as_ref().unwrap_or(&m.name);
            if streamed {
                push32(&mut out, 0);
                push32(&mut out, 0);
                push16(&mut out, name.len() as u16);
                push16(&mut out, 0);
                out.extend_from_slice(name);
            } else if m.zip64 {
                push32(&mut out, u32::MAX);
                push32(&mut out, u32::MAX);
                push16(&mut out, name.len() as u16);
                push16(&mut out, 20);
                out.extend_from_slice(name);
                push16(&mut out, 1);
                push16(&mut out, 16);
                push64(&mut out, m.uncompressed.len() as u64);
                push64(&mut out, m.body.len() as u64);
            } else {
                push32(&mut out, m.body.len() as u32);
                push32(&mut out, m.uncompressed.len() as u32);
                push16(&mut out, name.len() as u16);
                push16(&mut out, 0);
                out.extend_from_slice(name);
            }
            out.extend_from_slice(&m.body);
            if streamed {
                out.extend_from_slice(DESCRIPTOR_SIG);
                push32(&mut out, crc);
                push32(&mut out, m.body.len() as u32);
                push32(&mut out, m.uncompressed.len() as u32);
            }
        }
        let cd_start = out.len() as u64 - prefix.len() as u64;
        let mut count = 0u64;
        for (m, &offset) in members.iter().zip(&offsets) {
            if !m.in_directory {
                continue;
            }
            count += 1;
            let offset = offset - prefix.len() as u64;
            let crc = m
                .crc_override
                .unwrap_or_else(|| crc32fast::hash(&m.uncompressed));
            out.extend_from_slice(CENTRAL_SIG);
            push16(&mut out, 45);
            push16(&mut out, 20);
            push16(&mut out, m.flags);
            push16(&mut out, m.method);
            push32(&mut out, 0);
            push32(&mut out, crc);
            if m.zip64 {
                push32(&mut out, u32::MAX);
                push32(&mut out, u32::MAX);
            } else {
                push32(&mut out, m.body.len() as u32);
                push32(&mut out, m.uncompressed.len() as u32);
            }
            push16(&mut out, m.name.len() as u16);
            push16(&mut out, if m.zip64 { 28 } else { 0 });
            push16(&mut out, 0);
            push16(&mut out, 0);
            push16(&mut out, 0);
            push32(&mut out, 0);
            push32(&mut out, if m.zip64 { u32::MAX } else { offset as u32 });
            out.extend_from_slice(&m.name);
            if m.zip64 {
                push16(&mut out, 1);
                push16(&mut out, 24);
                push64(&mut out, m.uncompressed.len() as u64);
                push64(&mut out, m.body.len() as u64);
                push64(&mut out, offset);
            }
        }
        let cd_size = out.len() as u64 - prefix.len() as u64 - cd_start;
        if zip64_end {
            let record = out.len() as u64 - prefix.len() as u64;
            out.extend_from_slice(ZIP64_EOCD_SIG);
            push64(&mut out, 44);
            push16(&mut out, 45);
            push16(&mut out, 45);
            push32(&mut out, 0);
            push32(&mut out, 0);
            push64(&mut out, count);
            push64(&mut out, count);
            push64(&mut out, cd_size);
            push64(&mut out, cd_start);
            out.extend_from_slice(ZIP64_LOCATOR_SIG);
            push32(&mut out, 0);
            push64(&mut out, record);
            push32(&mut out, 1);
        }
        out.extend_from_slice(EOCD_SIG);
        push16(&mut out, 0);
        push16(&mut out, 0);
        let n16 = if zip64_end { 0xFFFF } else { count as u16 };
        push16(&mut out, n16);
        push16(&mut out, n16);
        push32(&mut out, if zip64_end { u32::MAX } else { cd_size as u32 });
        push32(&mut out, if zip64_end { u32::MAX } else { cd_start as u32 });
        push16(&mut out, 0);
        out.extend_from_slice(trailer);
        out
    }

    fn kinds(listing: &ZipListing) -> Vec<&'static str> {
        listing.anomalies.iter().map(ZipAnomaly::kind).collect()
    }

    struct Got {
        data: Vec<u8>,
        anomaly: Option<ZipAnomaly>,
    }

    fn read_all(data: &[u8], entry: &ZipEntry) -> Got {
        let mut budget = DecompressBudget::new(&limits());
        let (bytes, anomaly) = read(data, entry, &limits(), &mut budget).unwrap();
        Got {
            data: bytes.into_owned(),
            anomaly,
        }
    }

    #[test]
    fn clean_archive_lists_and_reads() {
        let zip = build(
            b"",
            &[
                stored("archive/data.pkl", PICKLE),
                deflated("archive/version", b"3\n"),
            ],
            false,
            b"",
        );
        let listing = list(&zip, &limits()).unwrap();
        assert!(listing.anomalies.is_empty(), "{:?}", listing.anomalies);
        assert_eq!(listing.prefix, None);
        assert_eq!(listing.entries.len(), 2);
        let e = &listing.entries[0];
        assert_eq!(e.name, "archive/data.pkl");
        assert_eq!(e.origin, EntryOrigin::CentralDirectory);
        assert_eq!(e.header_offset, 0);
        assert_eq!(e.data_offset, 30 + 16);
        let got = read_all(&zip, e);
        assert_eq!(&*got.data, PICKLE);
        assert!(got.anomaly.is_none());

        // Stored members are borrowed, not copied.
        let mut budget = DecompressBudget::new(&limits());
        let borrowed = read(&zip, e, &limits(), &mut budget).unwrap();
        assert!(matches!(borrowed.0, Cow::Borrowed(_)));
        assert_eq!(budget.used(), 0);

        let got = read_all(&zip, &listing.entries[1]);
        assert_eq!(&*got.data, b"3\n");
    }

    #[test]
    fn zip64_records_and_extra_fields() {
        let mut big = stored("archive/data.pkl", PICKLE);
        big.zip64 = true;
        let zip = build(b"", &[big, deflated("b", b"bbbb")], true, b"");
        let listing = list(&zip, &limits()).unwrap();
        assert!(listing.anomalies.is_empty(), "{:?}", listing.anomalies);
        assert_eq!(listing.entries.len(), 2);
        let e = &listing.entries[0];
        assert_eq!(e.compressed_size, PICKLE.len() as u64);
        assert_eq!(e.uncompressed_size, PICKLE.len() as u64);
        assert_eq!(e.data_offset, 30 + 16 + 20);
        assert_eq!(&*read_all(&zip, e).data, PICKLE);
        assert_eq!(&*read_all(&zip, &listing.entries[1]).data, b"bbbb");
    }

    #[test]
    fn zip64_values_over_4_gib_parse() {
        let mut c = Central {
            offset: 0,
            raw_name: Vec::new(),
            flags: 0,
            method: 0,
            crc32: 0,
            compressed_size: U32_MAX,
            uncompressed_size: U32_MAX,
            header_offset: 1234,
        };
        let mut extra = Vec::new();
        push16(&mut extra, 1);
        push16(&mut extra, 16);
        push64(&mut extra, 5 << 32);
        push64(&mut extra, 6 << 32);
        apply_zip64_central(&extra, &mut c).unwrap();
        assert_eq!(c.uncompressed_size, 5 << 32);
        assert_eq!(c.compressed_size, 6 << 32);
        assert_eq!(c.header_offset, 1234);
        // A maxed field without the extra field is an error, not a silent 4 GiB value.
        let mut c2 = Central {
            header_offset: U32_MAX,
            ..c
        };
        assert!(apply_zip64_central(&[], &mut c2).is_err());
    }

    #[test]
    fn unlisted_local_member_is_found() {
        let mut hidden = stored("hidden.pkl", PICKLE);
        hidden.in_directory = false;
        let zip = build(b"", &[stored("a.txt", b"aaa"), hidden], false, b"");
        let listing = list(&zip, &limits()).unwrap();
        assert_eq!(listing.entries.len(), 2);
        let h = &listing.entries[1];
        assert_eq!(h.name, "hidden.pkl");
        assert_eq!(h.origin, EntryOrigin::LocalHeaderOnly);
        assert!(kinds(&listing).contains(&"unlisted_local_member"));
        assert_eq!(&*read_all(&zip, h).data, PICKLE);
    }

    #[test]
    fn local_name_and_method_mismatch_give_both_views() {
        let mut m = stored("innocent.txt", PICKLE);
        m.local_name = Some(b"data.pkl".to_vec());
        let zip = build(b"", &[m], false, b"");
        let listing = list(&zip, &limits()).unwrap();
        let names: Vec<_> = listing.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["innocent.txt", "data.pkl"]);
        assert_eq!(listing.entries[1].origin, EntryOrigin::LocalHeaderOnly);
        assert!(
            listing
                .anomalies
                .iter()
                .any(|a| matches!(a, ZipAnomaly::LocalHeaderMismatch { field: "name", .. }))
        );
        // The local view is not reported again as an unlisted member.
        assert!(!kinds(&listing).contains(&"unlisted_local_member"));

        let mut m = deflated("data.pkl", PICKLE);
        m.local_method = Some(METHOD_STORED);
        let zip = build(b"", &[m], false, b"");
        let listing = list(&zip, &limits()).unwrap();
        assert_eq!(listing.entries.len(), 2);
        assert_eq!(listing.entries[1].method, METHOD_STORED);
        assert!(
            listing
                .anomalies
                .iter()
                .any(|a| a.describe().contains("method"))
        );
    }

    #[test]
    fn prefix_before_archive_is_reported() {
        // A pickle in front of a zip whose offsets are relative to the zip (a polyglot).
        let zip = build(PICKLE, &[stored("a", b"x")], false, b"");
        let listing = list(&zip, &limits()).unwrap();
        assert_eq!(listing.prefix, Some(0..PICKLE.len()));
        assert!(kinds(&listing).contains(&"data_before_archive"));
        assert_eq!(listing.entries.len(), 1);
        assert_eq!(listing.entries[0].header_offset, PICKLE.len() as u64);
        assert_eq!(&*read_all(&zip, &listing.entries[0]).data, b"x");
    }

    #[test]
    fn duplicates_encryption_names_and_trailing_data() {
        let mut enc = stored("enc", b"e");
        enc.flags = FLAG_ENCRYPTED;
        let zip = build(
            b"",
            &[
                stored("data.pkl", b"1"),
                stored("data.pkl", b"2"),
                enc,
                stored("../evil", b"3"),
                stored("C:\\x", b"4"),
            ],
            false,
            b"TRAILER",
        );
        let listing = list(&zip, &limits()).unwrap();
        let k = kinds(&listing);
        assert!(k.contains(&"duplicate_name"));
        assert!(k.contains(&"encrypted_flag"));
        assert_eq!(k.iter().filter(|&&k| k == "suspicious_name").count(), 2);
        assert!(listing.anomalies.contains(&ZipAnomaly::TrailingData {
            offset: (zip.len() - 7) as u64,
            len: 7
        }));
        // Both duplicates are kept.
        assert_eq!(listing.entries.len(), 5);
        for a in &listing.anomalies {
            assert!(!a.describe().is_empty());
        }
    }

    #[test]
    fn crc_mismatch_still_returns_data() {
        let mut m = deflated("data.pkl", PICKLE);
        m.crc_override = Some(0xDEAD_BEEF);
        let zip = build(b"", &[m], false, b"");
        let listing = list(&zip, &limits()).unwrap();
        let got = read_all(&zip, &listing.entries[0]);
        assert_eq!(&*got.data, PICKLE);
        assert!(matches!(
            got.anomaly,
            Some(ZipAnomaly::CrcMismatch {
                expected: 0xDEAD_BEEF,
                ..
            })
        ));
    }

    #[test]
    fn data_descriptor_bounds_local_only_member() {
        // A local header with bit 3 and zero sizes, its data, a signed descriptor, and no directory.
        let mut zip = Vec::new();
        zip.extend_from_slice(LOCAL_SIG);
        push16(&mut zip, 20);
        push16(&mut zip, FLAG_DESCRIPTOR);
        push16(&mut zip, METHOD_STORED);
        push32(&mut zip, 0);
        push32(&mut zip, 0);
        push32(&mut zip, 0);
        push32(&mut zip, 0);
        push16(&mut zip, 3);
        push16(&mut zip, 0);
        zip.extend_from_slice(b"a.p");
        zip.extend_from_slice(PICKLE);
        zip.extend_from_slice(DESCRIPTOR_SIG);
        push32(&mut zip, crc32fast::hash(PICKLE));
        push32(&mut zip, PICKLE.len() as u32);
        push32(&mut zip, PICKLE.len() as u32);
        let listing = list(&zip, &limits()).unwrap();
        assert_eq!(listing.entries.len(), 1);
        let e = &listing.entries[0];
        assert_eq!(e.compressed_size, PICKLE.len() as u64);
        assert!(e.crc_known);
        assert!(kinds(&listing).contains(&"no_central_directory"));
        let got = read_all(&zip, e);
        assert_eq!(&*got.data, PICKLE);
        assert!(got.anomaly.is_none());
    }

    #[test]
    fn corrupt_local_header_is_reported_and_sweep_continues() {
        let mut hidden = stored("h", PICKLE);
        hidden.in_directory = false;
        let mut zip = b"PK\x03\x04garbage".to_vec();
        let rest = build(b"", &[hidden, stored("a", b"a")], false, b"");
        zip.extend_from_slice(&rest);
        let listing = list(&zip, &limits()).unwrap();
        let k = kinds(&listing);
        assert!(k.contains(&"corrupt_member"), "{k:?}");
        assert!(listing.entries.iter().any(|e| e.name == "h"));
    }

    #[test]
    fn unreadable_directory_still_sweeps() {
        let mut zip = build(b"", &[stored("a.pkl", PICKLE)], false, b"");
        // Point the end record's directory offset into nowhere.
        let eocd = zip.len() - EOCD_LEN;
        zip[eocd + 16..eocd + 20].copy_from_slice(&9999u32.to_le_bytes());
        zip[eocd + 12..eocd + 16].copy_from_slice(&1u32.to_le_bytes());
        let listing = list(&zip, &limits()).unwrap();
        assert_eq!(listing.entries.len(), 1);
        assert_eq!(listing.entries[0].origin, EntryOrigin::LocalHeaderOnly);
        assert!(kinds(&listing).contains(&"central_directory_unreadable"));
    }

    #[test]
    fn not_zip_and_member_limit() {
        assert!(matches!(list(PICKLE, &limits()), Err(ZipError::NotZip)));
        assert!(matches!(list(b"", &limits()), Err(ZipError::NotZip)));
        let members: Vec<M> = (0..5).map(|i| stored(&format!("m{i}"), b"x")).collect();
        let zip = build(b"", &members, false, b"");
        let few = Limits {
            max_members: 4,
            ..limits()
        };
        assert!(matches!(
            list(&zip, &few),
            Err(ZipError::TooManyMembers { limit: 4 })
        ));
    }

    #[test]
    fn empty_archive_is_ok() {
        let zip = build(b"", &[], false, b"");
        let listing = list(&zip, &limits()).unwrap();
        assert!(listing.entries.is_empty());
        assert!(listing.anomalies.is_empty(), "{:?}", listing.anomalies);
    }

    #[test]
    fn bombs_are_stopped() {
        let zeros = vec![0u8; 2 * 1024 * 1024];
        let zip = build(b"", &[deflated("bomb", &zeros)], false, b"");
        let listing = list(&zip, &limits()).unwrap();
        let small = Limits {
            max_decompressed: 1024 * 1024,
            ..limits()
        };
        let mut budget = DecompressBudget::new(&small);
        let err = read(&zip, &listing.entries[0], &small, &mut budget).unwrap_err();
        assert!(matches!(
            err,
            ZipError::Bomb {
                limit: BombLimit::Member(_),
                ..
            }
        ));
        let ratio = Limits {
            max_ratio: 10,
            ratio_floor: 4096,
            ..limits()
        };
        let mut budget = DecompressBudget::new(&ratio);
        let err = read(&zip, &listing.entries[0], &ratio, &mut budget).unwrap_err();
        assert!(matches!(
            err,
            ZipError::Bomb {
                limit: BombLimit::Ratio(10),
                ..
            }
        ));
    }

    #[test]
    fn other_methods_decode() {
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        bz.write_all(PICKLE).unwrap();
        let bz = M {
            method: METHOD_BZIP2,
            body: bz.finish().unwrap(),
            ..stored("bz", PICKLE)
        };

        let opts = lzma_rust2::LzmaOptions::with_preset(6);
        let mut w = lzma_rust2::LzmaWriter::new_no_header(Vec::new(), &opts, true).unwrap();
        w.write_all(PICKLE).unwrap();
        let raw = w.finish().unwrap();
        let mut body = vec![9, 20];
        push16(&mut body, 5);
        body.push(opts.get_props());
        push32(&mut body, opts.dict_size);
        body.extend_from_slice(&raw);
        let lz = M {
            method: METHOD_LZMA,
            flags: FLAG_LZMA_EOS,
            body,
            ..stored("lz", PICKLE)
        };

        let zs = M {
            method: METHOD_ZSTD,
            body: ruzstd::encoding::compress_to_vec(
                PICKLE,
                ruzstd::encoding::CompressionLevel::Fastest,
            ),
            ..stored("zs", PICKLE)
        };
        let odd = M {
            method: 99,
            ..stored("aes", PICKLE)
        };
        let zip = build(b"", &[bz, lz, zs, odd], false, b"");
        let listing = list(&zip, &limits()).unwrap();
        for e in &listing.entries[..3] {
            let got = read_all(&zip, e);
            assert_eq!(&*got.data, PICKLE, "{}", e.name);
            assert!(got.anomaly.is_none(), "{}: {:?}", e.name, got.anomaly);
        }
        let mut budget = DecompressBudget::new(&limits());
        assert!(matches!(
            read(&zip, &listing.entries[3], &limits(), &mut budget),
            Err(ZipError::UnsupportedMethod { method: 99, .. })
        ));
    }

    #[test]
    fn truncated_member_keeps_prefix() {
        let body: Vec<u8> = (0..100_000u32).flat_map(u32::to_le_bytes).collect();
        let m = deflated("data.pkl", &body);
        let zip = build(b"", &[m], false, b"");
        let listing = list(&zip, &limits()).unwrap();
        let cut_at = listing.entries[0].data_offset as usize
            + listing.entries[0].compressed_size as usize / 2;
        let cut = &zip[..cut_at];
        // The directory is gone; the sweep still finds the member, and reading keeps the prefix.
        let listing = list(cut, &limits()).unwrap();
        let e = &listing.entries[0];
        let got = read_all(cut, e);
        assert!(!got.data.is_empty());
        assert!(body.starts_with(&got.data));
        assert!(got.anomaly.is_some_and(|a| a.kind() == "corrupt_data"));
    }

    #[test]
    fn streamed_members_with_descriptors_are_clean() {
        let mut a = deflated("archive/data.pkl", PICKLE);
        a.flags = FLAG_DESCRIPTOR;
        let mut b = stored("archive/version", b"3\n");
        b.flags = FLAG_DESCRIPTOR;
        let zip = build(b"", &[a, b], false, b"");
        let listing = list(&zip, &limits()).unwrap();
        assert!(listing.anomalies.is_empty(), "{:?}", listing.anomalies);
        assert_eq!(listing.entries.len(), 2);
        let got = read_all(&zip, &listing.entries[0]);
        assert_eq!(got.data, PICKLE);
        assert!(got.anomaly.is_none());
    }

    #[test]
    fn nested_zip_in_stored_member_is_not_an_unlisted_member() {
        let inner = build(b"", &[stored("inner.pkl", PICKLE)], false, b"");
        let zip = build(b"", &[stored("nested.zip", &inner)], false, b"");
        let listing = list(&zip, &limits()).unwrap();
        assert!(listing.anomalies.is_empty(), "{:?}", listing.anomalies);
        assert_eq!(listing.entries.len(), 1);
        // Reading the member and listing it finds the inner pickle.
        let got = read_all(&zip, &listing.entries[0]);
        let inner_listing = list(&got.data, &limits()).unwrap();
        assert_eq!(inner_listing.entries[0].name, "inner.pkl");
    }

    #[test]
    fn two_records_for_one_local_header_overlap() {
        let mut zip = build(b"", &[stored("a", b"aaaa"), stored("b", b"bb")], false, b"");
        // Point the second central record (name `b`) at the first local header.
        let cd = memmem::find(&zip, CENTRAL_SIG).unwrap();
        let second = cd + CENTRAL_LEN + 1;
        assert_eq!(&zip[second..second + 4], CENTRAL_SIG);
        zip[second + 42..second + 46].copy_from_slice(&0u32.to_le_bytes());
        let listing = list(&zip, &limits()).unwrap();
        let k = kinds(&listing);
        assert!(k.contains(&"overlapping_members"), "{k:?}");
        // The local header `b` that no record points at any more is found by the sweep.
        assert!(k.contains(&"unlisted_local_member"), "{k:?}");
    }

    #[test]
    fn a_file_of_signatures_stays_cheap() {
        let data = LOCAL_SIG.repeat(256 * 1024);
        let start = std::time::Instant::now();
        let listing = list(&data, &limits()).unwrap_or_default();
        assert!(listing.anomalies.len() <= MAX_ANOMALIES + 1);
        assert!(start.elapsed().as_secs() < 20);
        let mut junk = b"PK\x05\x06".repeat(20_000);
        junk.extend_from_slice(&data);
        let _ = list(&junk, &limits());
    }

    #[test]
    fn cp437_names_decode_like_python() {
        assert_eq!(decode_name(b"caf\x82", 0), "café");
        assert_eq!(decode_name("café".as_bytes(), FLAG_UTF8), "café");
    }

    #[test]
    fn garbage_and_mutations_never_panic() {
        let zip = build(
            b"",
            &[stored("a/data.pkl", PICKLE), deflated("b", b"hello hello")],
            true,
            b"",
        );
        let mut seed = 0x2545_F491_u32;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for _ in 0..3000 {
            let mut m = zip.clone();
            for _ in 0..=(next() % 4) {
                let i = next() as usize % m.len();
                m[i] = next() as u8;
            }
            let cut = next() as usize % (m.len() + 1);
            for data in [&m[..], &m[..cut]] {
                if let Ok(listing) = list(data, &limits()) {
                    let mut budget = DecompressBudget::new(&limits());
                    for e in &listing.entries {
                        let _ = read(data, e, &limits(), &mut budget);
                    }
                }
            }
        }
    }
}
