//! 7z archives: validation of the header by our own bounded walker, then listing and extraction with
//! the pure-Rust `sevenz-rust2` decoders.
//!
//! `sevenz-rust2` trusts the counts in a 7z header (it allocates `num_files` entries, `next_header_size`
//! bytes, the declared size of a compressed header) and indexes its tables without checks, so no byte
//! of an untrusted archive reaches it before [`validate`] has walked the whole header: every count is
//! checked against the bytes present and against [`Limits`], every table it will index is checked to
//! be long enough, and LZMA2 dictionaries (allocated whole, up front) are capped. The calls into the
//! crate are also wrapped in `catch_unwind`, so a panic we did not foresee becomes an error.
//!
//! Encrypted archives (7-Zip's AES-256) are reported as [`SevenZError::Encrypted`]: the scanner
//! cannot look inside them. Extraction is bounded per member by [`Limits::max_decompressed`], per
//! archive by the shared [`DecompressBudget`], and declared sizes and ratios are checked before any
//! block is decoded.

use std::fmt::Write as _;
use std::io::{self, Cursor, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};

use sevenz_rust2::{Archive, BlockDecoder, Password};

use super::compress::{DecompressBudget, PartialOutput, Stop, read_bounded};
use crate::limits::Limits;

const SIGNATURE: &[u8; 6] = b"7z\xBC\xAF\x27\x1C";
const SIGNATURE_HEADER_LEN: usize = 32;

/// Most bytes a (decoded) header may have, whatever the limits say.
const MAX_HEADER: u64 = 16 * 1024 * 1024;
/// Largest LZMA2 dictionary accepted: the decoder allocates and zeroes it before decoding.
const MAX_DICT: u64 = 1536 * 1024 * 1024;
/// 7-Zip's own limits on coders per block and streams per coder.
const MAX_CODERS: u64 = 32;
const MAX_CODER_STREAMS: u64 = 32;

const ID_COPY: &[u8] = &[0x00];
const ID_LZMA: &[u8] = &[0x03, 0x01, 0x01];
const ID_LZMA2: &[u8] = &[0x21];
const ID_AES: &[u8] = &[0x06, 0xF1, 0x07, 0x01];
/// Coders `sevenz-rust2` is built with here: copy, LZMA, LZMA2, delta, BCJ filters, BCJ2, deflate.
const SUPPORTED: &[&[u8]] = &[
    ID_COPY,
    ID_LZMA,
    ID_LZMA2,
    &[0x03],
    &[0x03, 0x03, 0x01, 0x03],
    &[0x03, 0x03, 0x01, 0x1B],
    &[0x03, 0x03, 0x02, 0x05],
    &[0x03, 0x03, 0x04, 0x01],
    &[0x03, 0x03, 0x05, 0x01],
    &[0x0A],
    &[0x03, 0x03, 0x07, 0x01],
    &[0x03, 0x03, 0x08, 0x05],
    &[0x0B],
    &[0x04, 0x01, 0x08],
    // bzip2, PPMd, and the zstd / lz4 coders of 7-Zip's forks.
    &[0x04, 0x02, 0x02],
    &[0x03, 0x04, 0x01],
    &[0x04, 0xF7, 0x11, 0x01],
    &[0x04, 0xF7, 0x11, 0x04],
];

// Property ids of the 7z header.
const K_END: u8 = 0x00;
const K_HEADER: u8 = 0x01;
const K_ARCHIVE_PROPERTIES: u8 = 0x02;
const K_ADDITIONAL_STREAMS_INFO: u8 = 0x03;
const K_MAIN_STREAMS_INFO: u8 = 0x04;
const K_FILES_INFO: u8 = 0x05;
const K_PACK_INFO: u8 = 0x06;
const K_UNPACK_INFO: u8 = 0x07;
const K_SUBSTREAMS_INFO: u8 = 0x08;
const K_SIZE: u8 = 0x09;
const K_CRC: u8 = 0x0A;
const K_FOLDER: u8 = 0x0B;
const K_CODERS_UNPACK_SIZE: u8 = 0x0C;
const K_NUM_UNPACK_STREAM: u8 = 0x0D;
const K_EMPTY_STREAM: u8 = 0x0E;
const K_EMPTY_FILE: u8 = 0x0F;
const K_ANTI: u8 = 0x10;
const K_NAME: u8 = 0x11;
const K_CTIME: u8 = 0x12;
const K_ATIME: u8 = 0x13;
const K_MTIME: u8 = 0x14;
const K_WIN_ATTRIBUTES: u8 = 0x15;
const K_ENCODED_HEADER: u8 = 0x17;

/// Why a 7z archive or member could not be read.
#[derive(thiserror::Error, Debug)]
#[non_exhaustive]
pub(crate) enum SevenZError {
    /// The data does not start with the 7z signature.
    #[error("not a 7z archive")]
    NotSevenZ,
    /// A 7z format version we do not know.
    #[error("unsupported 7z format version {major}.{minor}")]
    UnsupportedVersion { major: u8, minor: u8 },
    /// The header (or, with `name`, one member) is encrypted; it cannot be analysed.
    #[error("{}", match name { Some(n) => format!("7z member `{n}` is encrypted"), None => "7z archive header is encrypted".to_owned() })]
    Encrypted { name: Option<String> },
    /// The header is malformed at `offset` (in the decoded header when it was compressed).
    #[error("invalid 7z header at offset {offset}: {reason}")]
    BadHeader { offset: u64, reason: &'static str },
    /// The header is larger than we read.
    #[error("7z header of {size} bytes exceeds the {limit}-byte limit")]
    HeaderTooLarge { size: u64, limit: u64 },
    /// More members than [`Limits::max_members`].
    #[error("7z archive has more than {limit} members")]
    TooManyMembers { limit: usize },
    /// A feature of the format that the decoder does not support.
    #[error("unsupported 7z feature: {feature}")]
    Unsupported { feature: &'static str },
    /// A member uses a coder that is not built in.
    #[error("7z member `{name}` uses unsupported method {method}")]
    UnsupportedMethod { name: String, method: String },
    /// An LZMA2 dictionary too large to allocate.
    #[error("7z block {block} declares a {dict}-byte dictionary, over the {limit}-byte limit")]
    DictionaryTooLarge { block: usize, dict: u64, limit: u64 },
    /// A member larger than [`Limits::max_decompressed`].
    #[error("7z member `{name}` has {size} bytes, over the {limit}-byte member limit")]
    TooLarge { name: String, size: u64, limit: u64 },
    /// A member's block would exhaust the top-level file's decompression budget.
    #[error("7z member `{name}` exceeds the {limit}-byte decompression budget of this file")]
    BudgetExhausted { name: String, limit: u64 },
    /// A member's block expands more than [`Limits::max_ratio`] times.
    #[error(
        "7z member `{name}` expands {packed} packed bytes to {unpacked} (more than {max_ratio}x)"
    )]
    Bomb {
        name: String,
        packed: u64,
        unpacked: u64,
        max_ratio: u64,
    },
    /// A member is corrupt after `partial` good bytes, which are kept.
    #[error("7z member `{name}` is corrupt after {} bytes: {reason}", partial.0.len())]
    Corrupt {
        name: String,
        partial: PartialOutput,
        reason: String,
    },
    /// The decoder failed on the archive as a whole.
    #[error("7z decoder failed: {reason}")]
    Decoder { reason: String },
    /// The decoder panicked; the panic was caught.
    #[error("7z decoder panicked while {context}")]
    Panicked { context: &'static str },
}

impl SevenZError {
    /// A stable `snake_case` identifier of the variant.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::NotSevenZ => "not_7z",
            Self::UnsupportedVersion { .. } => "unsupported_version",
            Self::Encrypted { .. } => "encrypted",
            Self::BadHeader { .. } => "bad_header",
            Self::HeaderTooLarge { .. } => "header_too_large",
            Self::TooManyMembers { .. } => "too_many_members",
            Self::Unsupported { .. } => "unsupported",
            Self::UnsupportedMethod { .. } => "unsupported_method",
            Self::DictionaryTooLarge { .. } => "dictionary_too_large",
            Self::TooLarge { .. } => "too_large",
            Self::BudgetExhausted { .. } => "budget_exhausted",
            Self::Bomb { .. } => "bomb",
            Self::Corrupt { .. } => "corrupt",
            Self::Decoder { .. } => "decoder",
            Self::Panicked { .. } => "panicked",
        }
    }

    /// Whether a decompression limit stopped the read.
    pub(crate) fn is_bomb(&self) -> bool {
        matches!(
            self,
            Self::TooLarge { .. } | Self::BudgetExhausted { .. } | Self::Bomb { .. }
        )
    }

    /// The bytes decoded before a member broke, when there are any.
    pub(crate) fn partial(&self) -> Option<&[u8]> {
        match self {
            Self::Corrupt { partial, .. } if !partial.0.is_empty() => Some(&partial.0),
            _ => None,
        }
    }
}

/// Whether `data` starts with the 7z signature.
pub(crate) fn is_7z(data: &[u8]) -> bool {
    data.starts_with(SIGNATURE)
}

// ---------------------------------------------------------------------------------------------
// Header walker.

/// A bounds-checked cursor over header bytes.
struct Walker<'a> {
    buf: &'a [u8],
    pos: usize,
}

type Walk<T> = Result<T, SevenZError>;

impl<'a> Walker<'a> {
    fn bad(&self, reason: &'static str) -> SevenZError {
        SevenZError::BadHeader {
            offset: self.pos as u64,
            reason,
        }
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn u8(&mut self) -> Walk<u8> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(self.bad("header ends early"))?;
        self.pos += 1;
        Ok(b)
    }

    fn bytes(&mut self, n: usize) -> Walk<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(self.bad("a field runs past the end of the header"))?;
        let out = self.buf.get(self.pos..end).unwrap_or_default();
        self.pos = end;
        Ok(out)
    }

    fn u32(&mut self) -> Walk<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes(b.try_into().unwrap_or_default()))
    }

    /// 7z's variable-length NUMBER: leading one bits of the first byte count the extra bytes.
    fn number(&mut self) -> Walk<u64> {
        let first = self.u8()?;
        let mut value = 0u64;
        for i in 0..8u32 {
            let mask = 0x80u8 >> i;
            if first & mask == 0 {
                let high = u64::from(first & mask.wrapping_sub(1));
                return Ok(value | (high << (8 * i)));
            }
            value |= u64::from(self.u8()?) << (8 * i);
        }
        Ok(value)
    }

    /// A count of items that each take at least `min_bytes` bytes of what is left.
    fn count(&mut self, min_bytes: usize, reason: &'static str) -> Walk<usize> {
        let n = self.number()?;
        let most = (self.remaining() / min_bytes.max(1)) as u64;
        if n > most {
            return Err(self.bad(reason));
        }
        Ok(n as usize)
    }

    /// A bit vector of `n` bits, most significant bit first.
    fn bits(&mut self, n: usize) -> Walk<Vec<bool>> {
        let bytes = self.bytes(n.div_ceil(8))?;
        Ok((0..n)
            .map(|i| bytes.get(i / 8).is_some_and(|b| b & (0x80 >> (i % 8)) != 0))
            .collect())
    }

    /// An "all defined" byte, else a bit vector.
    fn all_or_bits(&mut self, n: usize) -> Walk<Vec<bool>> {
        if self.u8()? != 0 {
            Ok(vec![true; n])
        } else {
            self.bits(n)
        }
    }

    /// A digest list: defined flags, then one CRC-32 per defined entry.
    fn digests(&mut self, n: usize) -> Walk<Vec<Option<u32>>> {
        let defined = self.all_or_bits(n)?;
        defined
            .into_iter()
            .map(|d| if d { self.u32().map(Some) } else { Ok(None) })
            .collect()
    }

    fn expect(&mut self, id: u8, reason: &'static str) -> Walk<()> {
        if self.u8()? == id {
            Ok(())
        } else {
            Err(self.bad(reason))
        }
    }
}

#[derive(Debug, Clone)]
struct CoderInfo {
    id: Vec<u8>,
    props: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
struct Folder {
    coders: Vec<CoderInfo>,
    /// (in index, out index) pairs.
    bind_pairs: Vec<(u64, u64)>,
    packed_streams: usize,
    total_out: usize,
    unpack_sizes: Vec<u64>,
    crc: Option<u32>,
    substreams: usize,
}

impl Folder {
    /// The size of the block's final output: the out stream no bind pair consumes.
    fn unpack_size(&self) -> u64 {
        (0..self.unpack_sizes.len())
            .rev()
            .find(|&i| !self.bind_pairs.iter().any(|&(_, out)| out == i as u64))
            .and_then(|i| self.unpack_sizes.get(i).copied())
            .unwrap_or(0)
    }

    fn encrypted(&self) -> bool {
        self.coders.iter().any(|c| c.id == ID_AES)
    }

    fn unsupported(&self) -> Option<&CoderInfo> {
        self.coders
            .iter()
            .find(|c| !SUPPORTED.contains(&c.id.as_slice()))
    }
}

#[derive(Debug, Clone, Default)]
struct StreamsInfo {
    pack_pos: u64,
    pack_sizes: Vec<u64>,
    folders: Vec<Folder>,
    has_substreams: bool,
}

impl StreamsInfo {
    fn total_substreams(&self) -> usize {
        self.folders.iter().map(|f| f.substreams).sum()
    }
}

fn read_folder(w: &mut Walker<'_>) -> Walk<Folder> {
    let num_coders = w.number()?;
    if num_coders == 0 || num_coders > MAX_CODERS {
        return Err(w.bad("a block has no coders or too many"));
    }
    let mut folder = Folder::default();
    let mut total_in = 0u64;
    let mut total_out = 0u64;
    for _ in 0..num_coders {
        let flags = w.u8()?;
        if flags & 0x80 != 0 {
            return Err(SevenZError::Unsupported {
                feature: "alternative coder methods",
            });
        }
        let id = w.bytes(usize::from(flags & 0x0F))?.to_vec();
        let (ins, outs) = if flags & 0x10 != 0 {
            (w.number()?, w.number()?)
        } else {
            (1, 1)
        };
        if ins > MAX_CODER_STREAMS || outs > MAX_CODER_STREAMS {
            return Err(w.bad("a coder has too many streams"));
        }
        total_in += ins;
        total_out += outs;
        let props = if flags & 0x20 != 0 {
            let n = w.count(1, "coder properties run past the end of the header")?;
            w.bytes(n)?.to_vec()
        } else {
            Vec::new()
        };
        folder.coders.push(CoderInfo { id, props });
    }
    if total_out == 0 {
        return Err(w.bad("a block has no output stream"));
    }
    let num_bind_pairs = total_out - 1;
    for _ in 0..num_bind_pairs {
        let (i, o) = (w.number()?, w.number()?);
        if i >= total_in || o >= total_out {
            return Err(w.bad("a bind pair refers to a missing stream"));
        }
        folder.bind_pairs.push((i, o));
    }
    let packed = total_in
        .checked_sub(num_bind_pairs)
        .filter(|&p| p > 0)
        .ok_or(w.bad("a block has fewer input streams than bind pairs"))?;
    if packed == 1 {
        if !(0..total_in).any(|i| !folder.bind_pairs.iter().any(|&(bi, _)| bi == i)) {
            return Err(w.bad("a block has no unbound input stream"));
        }
    } else {
        for _ in 0..packed {
            if w.number()? >= total_in {
                return Err(w.bad("a packed stream refers to a missing input"));
            }
        }
    }
    folder.packed_streams = packed as usize;
    folder.total_out = total_out as usize;
    folder.substreams = 1;
    Ok(folder)
}

fn read_streams_info(w: &mut Walker<'_>, limits: &Limits) -> Walk<StreamsInfo> {
    let mut si = StreamsInfo::default();
    let mut id = w.u8()?;
    if id == K_PACK_INFO {
        si.pack_pos = w.number()?;
        let n = w.count(1, "too many pack streams for the header size")?;
        if n > limits.max_members.saturating_mul(4) {
            return Err(SevenZError::TooManyMembers {
                limit: limits.max_members,
            });
        }
        id = w.u8()?;
        if id != K_SIZE && n > 0 {
            return Err(w.bad("pack stream sizes are missing"));
        }
        if id == K_SIZE {
            for _ in 0..n {
                si.pack_sizes.push(w.number()?);
            }
            id = w.u8()?;
        }
        if id == K_CRC {
            w.digests(n)?;
            id = w.u8()?;
        }
        if id != K_END {
            return Err(w.bad("pack info is not terminated"));
        }
        id = w.u8()?;
    }
    if id == K_UNPACK_INFO {
        w.expect(K_FOLDER, "unpack info does not start with the block list")?;
        let n = w.count(2, "too many blocks for the header size")?;
        if n > limits.max_members {
            return Err(SevenZError::TooManyMembers {
                limit: limits.max_members,
            });
        }
        if w.u8()? != 0 {
            return Err(SevenZError::Unsupported {
                feature: "external block lists",
            });
        }
        for _ in 0..n {
            si.folders.push(read_folder(w)?);
        }
        w.expect(K_CODERS_UNPACK_SIZE, "block sizes are missing")?;
        for f in &mut si.folders {
            for _ in 0..f.total_out {
                f.unpack_sizes.push(w.number()?);
            }
        }
        id = w.u8()?;
        if id == K_CRC {
            for (f, crc) in si.folders.iter_mut().zip(w.digests(n)?) {
                f.crc = crc;
            }
            id = w.u8()?;
        }
        if id != K_END {
            return Err(w.bad("unpack info is not terminated"));
        }
        id = w.u8()?;
    }
    if id == K_SUBSTREAMS_INFO {
        si.has_substreams = true;
        id = w.u8()?;
        if id == K_NUM_UNPACK_STREAM {
            let mut total = 0usize;
            for f in &mut si.folders {
                let n = w.number()?;
                total = usize::try_from(n)
                    .ok()
                    .and_then(|n| total.checked_add(n))
                    .filter(|&t| t <= limits.max_members)
                    .ok_or(SevenZError::TooManyMembers {
                        limit: limits.max_members,
                    })?;
                f.substreams = n as usize;
            }
            id = w.u8()?;
        }
        if id == K_SIZE {
            for f in &si.folders {
                let mut sum = 0u64;
                for _ in 1..f.substreams {
                    sum = sum
                        .checked_add(w.number()?)
                        .ok_or(w.bad("member sizes overflow"))?;
                }
                if sum > f.unpack_size() {
                    return Err(w.bad("member sizes exceed their block's size"));
                }
            }
            id = w.u8()?;
        }
        let digests: usize = si
            .folders
            .iter()
            .filter(|f| f.substreams != 1 || f.crc.is_none())
            .map(|f| f.substreams)
            .sum();
        if id == K_CRC {
            w.digests(digests)?;
            id = w.u8()?;
        }
        if id != K_END {
            return Err(w.bad("substream info is not terminated"));
        }
        id = w.u8()?;
    }
    if id != K_END {
        return Err(w.bad("streams info is not terminated"));
    }
    let needed: usize = si.folders.iter().map(|f| f.packed_streams).sum();
    if needed > si.pack_sizes.len() {
        return Err(w.bad("blocks refer to more packed streams than are listed"));
    }
    Ok(si)
}

/// Walks the files list: counts members, checks that names, bit vectors and times fit.
fn read_files_info(w: &mut Walker<'_>, limits: &Limits, si: Option<&StreamsInfo>) -> Walk<()> {
    let num_files = usize::try_from(w.number()?).unwrap_or(usize::MAX);
    if num_files > limits.max_members {
        return Err(SevenZError::TooManyMembers {
            limit: limits.max_members,
        });
    }
    let mut empty_streams: Option<usize> = None;
    loop {
        let prop = w.u8()?;
        if prop == K_END {
            break;
        }
        let size = w.count(1, "a file property runs past the end of the header")?;
        let body = w.bytes(size)?;
        let mut p = Walker { buf: body, pos: 0 };
        match prop {
            K_EMPTY_STREAM => {
                empty_streams = Some(p.bits(num_files)?.iter().filter(|&&b| b).count());
            }
            K_EMPTY_FILE | K_ANTI => {
                let n = empty_streams
                    .ok_or(p.bad("empty-file flags come before empty-stream flags"))?;
                p.bits(n)?;
            }
            K_NAME => {
                if p.u8()? != 0 {
                    return Err(SevenZError::Unsupported {
                        feature: "external file names",
                    });
                }
                let names = p.bytes(p.remaining())?;
                if names.len() % 2 != 0 {
                    return Err(p.bad("file names have an odd byte length"));
                }
                let terminators = names.chunks_exact(2).filter(|c| *c == [0, 0]).count();
                if terminators != num_files
                    || names.get(names.len().saturating_sub(2)..) != Some(&[0, 0])
                {
                    return Err(p.bad("the number of file names differs from the number of files"));
                }
            }
            K_CTIME | K_ATIME | K_MTIME | K_WIN_ATTRIBUTES => {
                let defined = p.all_or_bits(num_files)?.iter().filter(|&&d| d).count();
                if p.u8()? != 0 {
                    return Err(SevenZError::Unsupported {
                        feature: "external file times",
                    });
                }
                let width = if prop == K_WIN_ATTRIBUTES { 4 } else { 8 };
                p.bytes(defined.saturating_mul(width))?;
            }
            0x18 => {
                return Err(SevenZError::Unsupported {
                    feature: "file start positions",
                });
            }
            _ => {
                p.pos = p.buf.len();
            }
        }
        // `sevenz-rust2` reads known properties by their content, not their size: a size that
        // disagrees would desynchronise it.
        if p.remaining() != 0 {
            return Err(p.bad("a file property is longer than its content"));
        }
    }
    let with_stream = num_files - empty_streams.unwrap_or(0).min(num_files);
    if let Some(s) = si.filter(|s| s.has_substreams)
        && with_stream > s.total_substreams()
    {
        return Err(w.bad("more files have data than there are streams"));
    }
    Ok(())
}

/// A plain (decoded) header: properties, main streams, files.
fn read_header(buf: &[u8], limits: &Limits) -> Walk<StreamsInfo> {
    let mut w = Walker { buf, pos: 0 };
    w.expect(K_HEADER, "the header does not start with kHeader")?;
    let mut id = w.u8()?;
    if id == K_ARCHIVE_PROPERTIES {
        loop {
            if w.u8()? == K_END {
                break;
            }
            let n = w.count(1, "an archive property runs past the end of the header")?;
            w.bytes(n)?;
        }
        id = w.u8()?;
    }
    if id == K_ADDITIONAL_STREAMS_INFO {
        return Err(SevenZError::Unsupported {
            feature: "additional streams",
        });
    }
    let mut si = None;
    if id == K_MAIN_STREAMS_INFO {
        si = Some(read_streams_info(&mut w, limits)?);
        id = w.u8()?;
    }
    if id == K_FILES_INFO {
        read_files_info(&mut w, limits, si.as_ref())?;
        id = w.u8()?;
    } else if si.as_ref().is_some_and(|s| !s.folders.is_empty()) {
        return Err(w.bad("streams without a file list"));
    }
    if id != K_END {
        return Err(w.bad("the header is not terminated"));
    }
    Ok(si.unwrap_or_default())
}

/// LZMA2's dictionary size from its one property byte.
fn lzma2_dict(props: &[u8]) -> Option<u64> {
    let p = *props.first()?;
    match p {
        0..=39 => Some(u64::from(2 | (p & 1)) << (p / 2 + 11)),
        40 => Some(u64::from(u32::MAX)),
        _ => None,
    }
}

/// Checks the dictionaries of a block's coders against what we allow to allocate: the decoder
/// allocates and zeroes an LZMA2 dictionary whole (an LZMA one is capped by the known output size).
fn check_dictionaries(block: usize, f: &Folder, limits: &Limits) -> Walk<()> {
    // Decoders allocate (and zero) the whole window up front: keep it modest whatever the header says.
    let limit = MAX_DICT
        .min(limits.max_decompressed.max(64 << 20))
        .min(128 << 20);
    for c in &f.coders {
        if c.id == ID_LZMA2 {
            let dict = lzma2_dict(&c.props).ok_or(SevenZError::BadHeader {
                offset: 0,
                reason: "invalid LZMA2 properties",
            })?;
            if dict > limit {
                return Err(SevenZError::DictionaryTooLarge { block, dict, limit });
            }
        }
        if c.id == ID_LZMA {
            let Some(p) = c.props.get(1..5) else {
                return Err(SevenZError::BadHeader {
                    offset: 0,
                    reason: "LZMA properties are shorter than 5 bytes",
                });
            };
            let dict = u64::from(u32::from_le_bytes([p[0], p[1], p[2], p[3]]));
            if dict > limit {
                return Err(SevenZError::DictionaryTooLarge { block, dict, limit });
            }
        }
        // PPMd: order, then the model's memory size (allocated up front).
        if c.id == [0x03, 0x04, 0x01] {
            let Some(p) = c.props.get(1..5) else {
                return Err(SevenZError::BadHeader {
                    offset: 0,
                    reason: "PPMd properties are shorter than 5 bytes",
                });
            };
            let mem = u64::from(u32::from_le_bytes([p[0], p[1], p[2], p[3]]));
            if mem > limit {
                return Err(SevenZError::DictionaryTooLarge {
                    block,
                    dict: mem,
                    limit,
                });
            }
        }
    }
    Ok(())
}

/// Checks that every block's packed streams lie inside the file.
fn check_pack_ranges(data: &[u8], si: &StreamsInfo) -> Walk<()> {
    let end = si
        .pack_sizes
        .iter()
        .try_fold(si.pack_pos, |acc, &s| acc.checked_add(s))
        .and_then(|e| e.checked_add(SIGNATURE_HEADER_LEN as u64));
    match end {
        Some(e) if e <= data.len() as u64 => Ok(()),
        _ => Err(SevenZError::BadHeader {
            offset: si.pack_pos,
            reason: "packed streams run past the end of the file",
        }),
    }
}

/// Decodes a compressed header (`kEncodedHeader`) within `limit` bytes.
fn decode_header(data: &[u8], si: &StreamsInfo, limit: u64) -> Walk<Vec<u8>> {
    let folder = si.folders.first().ok_or(SevenZError::BadHeader {
        offset: 0,
        reason: "the encoded header has no block",
    })?;
    if folder.encrypted() {
        return Err(SevenZError::Encrypted { name: None });
    }
    check_pack_ranges(data, si)?;
    let size = folder.unpack_size();
    if size > limit {
        return Err(SevenZError::HeaderTooLarge { size, limit });
    }
    let start = usize::try_from(si.pack_pos)
        .ok()
        .and_then(|p| p.checked_add(SIGNATURE_HEADER_LEN))
        .unwrap_or(usize::MAX);
    let len = si
        .pack_sizes
        .first()
        .and_then(|&s| usize::try_from(s).ok())
        .unwrap_or(0);
    let packed = data
        .get(start..start.saturating_add(len))
        .ok_or(SevenZError::BadHeader {
            offset: si.pack_pos,
            reason: "the encoded header's data is outside the file",
        })?;
    let [coder] = folder.coders.as_slice() else {
        return Err(SevenZError::Unsupported {
            feature: "a header compressed with several coders",
        });
    };
    let size_usize = size as usize;
    let corrupt = |_| SevenZError::BadHeader {
        offset: si.pack_pos,
        reason: "the encoded header does not decompress",
    };
    let mut out = Vec::with_capacity(size_usize);
    if coder.id == ID_COPY {
        out.extend_from_slice(packed.get(..size_usize).ok_or(SevenZError::BadHeader {
            offset: si.pack_pos,
            reason: "the stored header is shorter than declared",
        })?);
    } else if coder.id == ID_LZMA {
        let props = coder.props.first().copied().unwrap_or(0);
        let dict = coder
            .props
            .get(1..5)
            .and_then(|d| d.try_into().ok())
            .map_or(0, u32::from_le_bytes);
        let reader = lzma_rust2::LzmaReader::new_with_props(packed, size, props, dict, None)
            .map_err(corrupt)?;
        reader.take(size).read_to_end(&mut out).map_err(corrupt)?;
    } else if coder.id == ID_LZMA2 {
        let dict = lzma2_dict(&coder.props).ok_or(SevenZError::BadHeader {
            offset: 0,
            reason: "invalid LZMA2 properties",
        })?;
        // Every match distance is within the output, so the output size is dictionary enough.
        let dict = dict.min(size.max(4096)) as u32;
        lzma_rust2::Lzma2Reader::new(packed, dict, None)
            .take(size)
            .read_to_end(&mut out)
            .map_err(corrupt)?;
    } else {
        return Err(SevenZError::Unsupported {
            feature: "a header compressed with an unusual method",
        });
    }
    if out.len() as u64 != size {
        return Err(SevenZError::BadHeader {
            offset: si.pack_pos,
            reason: "the encoded header is shorter than declared",
        });
    }
    if folder.crc.is_some_and(|crc| crc != crc32fast::hash(&out)) {
        return Err(SevenZError::BadHeader {
            offset: si.pack_pos,
            reason: "the encoded header fails its CRC",
        });
    }
    Ok(out)
}

/// Walks the whole archive structure before any of it is given to `sevenz-rust2`; returns the main
/// streams (one [`Folder`] per block, in the order the crate numbers them).
fn validate(data: &[u8], limits: &Limits) -> Walk<StreamsInfo> {
    if !is_7z(data) {
        return Err(SevenZError::NotSevenZ);
    }
    let start = data
        .get(..SIGNATURE_HEADER_LEN)
        .ok_or(SevenZError::BadHeader {
            offset: 0,
            reason: "the signature header is truncated",
        })?;
    let (major, minor) = (
        start.get(6).copied().unwrap_or(0),
        start.get(7).copied().unwrap_or(0),
    );
    if major != 0 {
        return Err(SevenZError::UnsupportedVersion { major, minor });
    }
    let word = |at: usize| {
        start
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u32::from_le_bytes)
    };
    let rest = start.get(12..32).unwrap_or_default();
    if crc32fast::hash(rest) != word(8) {
        return Err(SevenZError::BadHeader {
            offset: 8,
            reason: "the start header fails its CRC (damaged archive)",
        });
    }
    let field = |at: usize| {
        start
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    };
    let (offset, size) = (field(12), field(20));
    let next_crc = word(28);
    let header_limit = MAX_HEADER.min(limits.max_decompressed);
    if size > header_limit {
        return Err(SevenZError::HeaderTooLarge {
            size,
            limit: header_limit,
        });
    }
    let header_start = offset
        .checked_add(SIGNATURE_HEADER_LEN as u64)
        .and_then(|s| usize::try_from(s).ok())
        .unwrap_or(usize::MAX);
    let header = data
        .get(header_start..header_start.saturating_add(size as usize))
        .filter(|h| h.len() as u64 == size && size > 0)
        .ok_or(SevenZError::BadHeader {
            offset: 12,
            reason: "the header lies outside the file",
        })?;
    if crc32fast::hash(header) != next_crc {
        return Err(SevenZError::BadHeader {
            offset: header_start as u64,
            reason: "the header fails its CRC",
        });
    }
    let si = if header.first() == Some(&K_ENCODED_HEADER) {
        let mut w = Walker {
            buf: header,
            pos: 1,
        };
        let encoded = read_streams_info(&mut w, limits)?;
        for (block, f) in encoded.folders.iter().enumerate() {
            check_dictionaries(block, f, limits)?;
        }
        let decoded = decode_header(data, &encoded, header_limit)?;
        if decoded.first() == Some(&K_ENCODED_HEADER) {
            return Err(SevenZError::Unsupported {
                feature: "a doubly encoded header",
            });
        }
        read_header(&decoded, limits)?
    } else {
        read_header(header, limits)?
    };
    check_pack_ranges(data, &si)?;
    Ok(si)
}

// ---------------------------------------------------------------------------------------------
// Listing and extraction.

/// One member, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SevenZEntry {
    pub(crate) name: String,
    /// Declared size.
    pub(crate) size: u64,
    pub(crate) is_dir: bool,
    /// Index of the compressed block holding the data (`None` for empty files and directories).
    pub(crate) block: Option<usize>,
    /// Whether the member's block is AES-encrypted.
    pub(crate) encrypted: bool,
}

fn panicked(context: &'static str) -> impl Fn(Box<dyn std::any::Any + Send>) -> SevenZError {
    move |_| SevenZError::Panicked { context }
}

fn open(data: &[u8], limits: &Limits) -> Walk<(StreamsInfo, Archive)> {
    let si = validate(data, limits)?;
    let archive = catch_unwind(AssertUnwindSafe(|| {
        Archive::read(&mut Cursor::new(data), &Password::empty())
    }))
    .map_err(panicked("reading the header"))?
    .map_err(|e| SevenZError::Decoder {
        reason: e.to_string(),
    })?;
    if archive.blocks.len() != si.folders.len() {
        return Err(SevenZError::Decoder {
            reason: "the decoder disagrees with the header walk".to_owned(),
        });
    }
    Ok((si, archive))
}

fn entries(si: &StreamsInfo, archive: &Archive) -> Vec<SevenZEntry> {
    archive
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let block = archive
                .stream_map
                .file_block_index
                .get(i)
                .copied()
                .flatten()
                .filter(|_| f.has_stream);
            SevenZEntry {
                name: f.name.clone(),
                size: f.size,
                is_dir: f.is_directory,
                block,
                encrypted: block
                    .and_then(|b| si.folders.get(b))
                    .is_some_and(Folder::encrypted),
            }
        })
        .collect()
}

/// Lists the members of a 7z archive without decompressing them (beyond a compressed header).
#[allow(dead_code, reason = "reader API; the scan driver does not call it yet")]
pub(crate) fn list(data: &[u8], limits: &Limits) -> Result<Vec<SevenZEntry>, SevenZError> {
    let (si, archive) = open(data, limits)?;
    Ok(entries(&si, &archive))
}

/// Why a whole block is not decoded, decided from its declared sizes and coders.
fn block_refusal(
    block: usize,
    folder: &Folder,
    packed: u64,
    limits: &Limits,
    budget: &DecompressBudget,
    name: &str,
) -> Option<SevenZError> {
    if folder.encrypted() {
        return Some(SevenZError::Encrypted {
            name: Some(name.to_owned()),
        });
    }
    if let Some(c) = folder.unsupported() {
        let method = c.id.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        });
        return Some(SevenZError::UnsupportedMethod {
            name: name.to_owned(),
            method,
        });
    }
    if let Err(e) = check_dictionaries(block, folder, limits) {
        return Some(e);
    }
    let unpacked = folder.unpack_size();
    if unpacked > budget.remaining() {
        return Some(SevenZError::BudgetExhausted {
            name: name.to_owned(),
            limit: budget.limit(),
        });
    }
    if unpacked > limits.ratio_floor && unpacked > packed.max(1).saturating_mul(limits.max_ratio) {
        return Some(SevenZError::Bomb {
            name: name.to_owned(),
            packed,
            unpacked,
            max_ratio: limits.max_ratio,
        });
    }
    None
}

/// Decompresses every member of a 7z archive and hands each to `each` with its bytes or the reason it
/// could not be read; directories are skipped. Members are decoded one block at a time.
pub(crate) fn extract_each(
    data: &[u8],
    limits: &Limits,
    budget: &mut DecompressBudget,
    mut each: impl FnMut(&SevenZEntry, Result<Vec<u8>, SevenZError>),
) -> Result<(), SevenZError> {
    let (si, archive) = open(data, limits)?;
    let listed = entries(&si, &archive);
    let mut done = vec![false; listed.len()];
    let password = Password::empty();
    let mut first_pack = 0usize;
    for (block, folder) in si.folders.iter().enumerate() {
        let packs = si
            .pack_sizes
            .get(first_pack..first_pack + folder.packed_streams)
            .unwrap_or_default();
        first_pack += folder.packed_streams;
        let packed: u64 = packs.iter().sum();
        let first_file = archive
            .stream_map
            .block_first_file_index
            .get(block)
            .copied()
            .unwrap_or(usize::MAX);
        let first_name = listed.get(first_file).map_or("", |e| e.name.as_str());
        if let Some(refusal) = block_refusal(block, folder, packed, limits, budget, first_name) {
            for (i, e) in listed.iter().enumerate() {
                if e.block == Some(block) && !done[i] {
                    done[i] = true;
                    each(e, Err(refusal_for(&refusal, &e.name)));
                }
            }
            continue;
        }
        let mut index = first_file;
        let mut results = Vec::new();
        let mut cursor = Cursor::new(data);
        let decoded = catch_unwind(AssertUnwindSafe(|| {
            BlockDecoder::new(1, block, &archive, &password, &mut cursor).for_each_entries(
                &mut |_entry: &sevenz_rust2::ArchiveEntry, reader: &mut dyn Read| {
                    let i = index;
                    index += 1;
                    let Some(e) = listed.get(i) else {
                        return Ok(false);
                    };
                    if let Some(d) = done.get_mut(i) {
                        *d = true;
                    }
                    if e.is_dir {
                        return Ok(true);
                    }
                    let (result, go_on) = read_member(reader, e, packed, limits, budget);
                    results.push((i, result));
                    Ok(go_on)
                },
            )
        }));
        // The caller's callback runs outside `catch_unwind`: only the decoder's panics are caught.
        for (i, result) in results.drain(..) {
            if let Some(e) = listed.get(i) {
                each(e, result);
            }
        }
        let reason = match decoded {
            Ok(Ok(_)) => "an earlier member of the same solid block could not be read".to_owned(),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "the decoder panicked".to_owned(),
        };
        for (i, e) in listed.iter().enumerate() {
            if e.block == Some(block) && !done[i] && !e.is_dir {
                done[i] = true;
                each(
                    e,
                    Err(SevenZError::Corrupt {
                        name: e.name.clone(),
                        partial: PartialOutput(Vec::new()),
                        reason: reason.clone(),
                    }),
                );
            }
        }
    }
    // Members without data: empty files.
    for (i, e) in listed.iter().enumerate() {
        if !done[i] && !e.is_dir && e.block.is_none() {
            each(e, Ok(Vec::new()));
        }
    }
    Ok(())
}

/// The same refusal, renamed for another member of the block.
fn refusal_for(refusal: &SevenZError, name: &str) -> SevenZError {
    let name = name.to_owned();
    match refusal {
        SevenZError::Encrypted { .. } => SevenZError::Encrypted { name: Some(name) },
        SevenZError::UnsupportedMethod { method, .. } => SevenZError::UnsupportedMethod {
            name,
            method: method.clone(),
        },
        SevenZError::BudgetExhausted { limit, .. } => SevenZError::BudgetExhausted {
            name,
            limit: *limit,
        },
        SevenZError::Bomb {
            packed,
            unpacked,
            max_ratio,
            ..
        } => SevenZError::Bomb {
            name,
            packed: *packed,
            unpacked: *unpacked,
            max_ratio: *max_ratio,
        },
        SevenZError::DictionaryTooLarge { block, dict, limit } => SevenZError::DictionaryTooLarge {
            block: *block,
            dict: *dict,
            limit: *limit,
        },
        other => SevenZError::Decoder {
            reason: other.to_string(),
        },
    }
}

/// Reads one member from its block's stream. Returns the result and whether the block can go on.
fn read_member(
    reader: &mut dyn Read,
    e: &SevenZEntry,
    packed: u64,
    limits: &Limits,
    budget: &mut DecompressBudget,
) -> (Result<Vec<u8>, SevenZError>, bool) {
    if e.size > limits.max_decompressed {
        // The bytes must still be decoded for the members after it in a solid block; the block's
        // declared size was checked against the budget, so this is bounded.
        let drained = io::copy(&mut reader.take(e.size), &mut io::sink()).unwrap_or(0);
        budget.charge(drained);
        let err = SevenZError::TooLarge {
            name: e.name.clone(),
            size: e.size,
            limit: limits.max_decompressed,
        };
        return (Err(err), drained == e.size);
    }
    let bounded = read_bounded(reader, packed, e.size, limits, budget);
    match bounded.stop {
        None => (Ok(bounded.data), true),
        Some(Stop::Corrupt(err)) => (
            Err(SevenZError::Corrupt {
                name: e.name.clone(),
                partial: PartialOutput(bounded.data),
                reason: err.to_string(),
            }),
            false,
        ),
        Some(Stop::TooLarge { limit } | Stop::OutOfMemory { wanted: limit }) => (
            Err(SevenZError::TooLarge {
                name: e.name.clone(),
                size: e.size,
                limit,
            }),
            false,
        ),
        Some(Stop::Budget { limit }) => (
            Err(SevenZError::BudgetExhausted {
                name: e.name.clone(),
                limit,
            }),
            false,
        ),
        Some(Stop::Ratio {
            compressed,
            produced,
            max_ratio,
        }) => (
            Err(SevenZError::Bomb {
                name: e.name.clone(),
                packed: compressed,
                unpacked: produced,
                max_ratio,
            }),
            false,
        ),
    }
}

/// Member (file) results of a 7z archive: each file's name with its bytes or why they were not read.
pub(crate) type Extracted = Vec<(String, Result<Vec<u8>, SevenZError>)>;

/// Decompresses every member of a 7z archive (see [`extract_each`]); directories are left out.
pub(crate) fn extract(
    data: &[u8],
    limits: &Limits,
    budget: &mut DecompressBudget,
) -> Result<Extracted, SevenZError> {
    let mut out = Vec::new();
    extract_each(data, limits, budget, |e, r| out.push((e.name.clone(), r)))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PICKLE: &[u8] = b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.";

    fn limits() -> Limits {
        Limits::default()
    }

    /// An archive written by `sevenz-rust2` (LZMA2 content, LZMA-compressed header).
    fn written(solid: bool) -> Vec<u8> {
        let mut w = sevenz_rust2::ArchiveWriter::new(Cursor::new(Vec::new())).unwrap();
        w.push_archive_entry::<&[u8]>(sevenz_rust2::ArchiveEntry::new_directory("dir"), None)
            .unwrap();
        if solid {
            let entries = vec![
                sevenz_rust2::ArchiveEntry::new_file("dir/data.pkl"),
                sevenz_rust2::ArchiveEntry::new_file("notes.txt"),
            ];
            let readers = vec![
                sevenz_rust2::SourceReader::new(PICKLE),
                sevenz_rust2::SourceReader::new(&b"hello"[..]),
            ];
            w.push_archive_entries(entries, readers).unwrap();
        } else {
            w.push_archive_entry(
                sevenz_rust2::ArchiveEntry::new_file("dir/data.pkl"),
                Some(PICKLE),
            )
            .unwrap();
            w.push_archive_entry(
                sevenz_rust2::ArchiveEntry::new_file("notes.txt"),
                Some(&b"hello"[..]),
            )
            .unwrap();
        }
        w.push_archive_entry(
            sevenz_rust2::ArchiveEntry::new_file("empty"),
            Some(&b""[..]),
        )
        .unwrap();
        w.finish().unwrap().into_inner()
    }

    fn num(v: u64) -> Vec<u8> {
        for i in 0..8u32 {
            let high = v >> (8 * i);
            if high < (1 << (7 - i)) {
                let first = (0xFF00u16 >> i) as u8 | high as u8;
                let mut out = vec![first];
                out.extend_from_slice(&v.to_le_bytes()[..i as usize]);
                return out;
            }
        }
        let mut out = vec![0xFF];
        out.extend_from_slice(&v.to_le_bytes());
        out
    }

    /// A hand-written archive with a plain header: one copy-coded block per file, except that
    /// `coder` (id, props) replaces the copy coder.
    fn handmade(files: &[(&str, &[u8])], coder: (&[u8], &[u8])) -> Vec<u8> {
        let packed: Vec<u8> = files.iter().flat_map(|(_, d)| d.to_vec()).collect();
        let mut h = vec![K_HEADER, K_MAIN_STREAMS_INFO, K_PACK_INFO];
        h.extend(num(0));
        h.extend(num(files.len() as u64));
        h.push(K_SIZE);
        for (_, d) in files {
            h.extend(num(d.len() as u64));
        }
        h.push(K_END);
        h.extend([K_UNPACK_INFO, K_FOLDER]);
        h.extend(num(files.len() as u64));
        h.push(0);
        for _ in files {
            h.extend(num(1));
            let (id, props) = coder;
            h.push(id.len() as u8 | if props.is_empty() { 0 } else { 0x20 });
            h.extend_from_slice(id);
            if !props.is_empty() {
                h.extend(num(props.len() as u64));
                h.extend_from_slice(props);
            }
        }
        h.push(K_CODERS_UNPACK_SIZE);
        for (_, d) in files {
            h.extend(num(d.len() as u64));
        }
        h.push(K_END);
        h.extend([K_SUBSTREAMS_INFO, K_CRC, 1]);
        for (_, d) in files {
            h.extend_from_slice(&crc32fast::hash(d).to_le_bytes());
        }
        h.extend([K_END, K_END]);
        h.push(K_FILES_INFO);
        h.extend(num(files.len() as u64));
        let names: Vec<u8> = files
            .iter()
            .flat_map(|(n, _)| n.encode_utf16().chain([0]).flat_map(u16::to_le_bytes))
            .collect();
        h.push(K_NAME);
        h.extend(num(names.len() as u64 + 1));
        h.push(0);
        h.extend(names);
        h.extend([K_END, K_END]);
        seal(&packed, &h)
    }

    /// Signature header + packed data + header, with both CRCs filled in.
    fn seal(packed: &[u8], header: &[u8]) -> Vec<u8> {
        let mut start = Vec::new();
        start.extend_from_slice(&(packed.len() as u64).to_le_bytes());
        start.extend_from_slice(&(header.len() as u64).to_le_bytes());
        start.extend_from_slice(&crc32fast::hash(header).to_le_bytes());
        let mut out = SIGNATURE.to_vec();
        out.extend([0, 4]);
        out.extend_from_slice(&crc32fast::hash(&start).to_le_bytes());
        out.extend(start);
        out.extend_from_slice(packed);
        out.extend_from_slice(header);
        out
    }

    #[test]
    fn extracts_written_archives() {
        for solid in [false, true] {
            let data = written(solid);
            assert!(is_7z(&data));
            let listed = list(&data, &limits()).unwrap();
            let names: Vec<_> = listed.iter().map(|e| e.name.as_str()).collect();
            assert_eq!(
                names,
                ["dir", "dir/data.pkl", "notes.txt", "empty"],
                "solid={solid}"
            );
            assert!(listed[0].is_dir);
            let mut budget = DecompressBudget::new(&limits());
            let got = extract(&data, &limits(), &mut budget).unwrap();
            let got: Vec<(String, Vec<u8>)> =
                got.into_iter().map(|(n, r)| (n, r.unwrap())).collect();
            assert_eq!(
                got,
                [
                    ("dir/data.pkl".to_owned(), PICKLE.to_vec()),
                    ("notes.txt".to_owned(), b"hello".to_vec()),
                    ("empty".to_owned(), Vec::new()),
                ],
                "solid={solid}"
            );
            assert_eq!(budget.used(), (PICKLE.len() + 5) as u64);
        }
    }

    #[test]
    fn handmade_plain_header_archive() {
        let data = handmade(&[("a.pkl", PICKLE), ("b", b"bb")], (ID_COPY, &[]));
        let mut budget = DecompressBudget::new(&limits());
        let got = extract(&data, &limits(), &mut budget).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "a.pkl");
        assert_eq!(got[0].1.as_deref().unwrap(), PICKLE);
        assert_eq!(got[1].1.as_deref().unwrap(), b"bb");
    }

    #[test]
    fn encrypted_members_and_headers() {
        let data = handmade(&[("secret.pkl", PICKLE)], (ID_AES, &[0x01, 0x02]));
        let listed = list(&data, &limits()).unwrap();
        assert!(listed[0].encrypted);
        let mut budget = DecompressBudget::new(&limits());
        let got = extract(&data, &limits(), &mut budget).unwrap();
        assert!(matches!(
            &got[0].1,
            Err(SevenZError::Encrypted { name: Some(n) }) if n == "secret.pkl"
        ));

        // An encoded header whose block is AES-encrypted (7-Zip's -mhe=on).
        let mut h = vec![K_ENCODED_HEADER, K_PACK_INFO];
        h.extend(num(0));
        h.extend(num(1));
        h.extend([K_SIZE, 16, K_END, K_UNPACK_INFO, K_FOLDER, 1, 0, 1, 0x24]);
        h.extend_from_slice(ID_AES);
        h.extend([2, 0, 0, K_CODERS_UNPACK_SIZE, 16, K_END, K_END]);
        let data = seal(&[0u8; 16], &h);
        let err = list(&data, &limits()).unwrap_err();
        assert!(
            matches!(err, SevenZError::Encrypted { name: None }),
            "{err}"
        );
    }

    #[test]
    fn limits_are_enforced() {
        let data = written(false);
        let few = Limits {
            max_members: 2,
            ..limits()
        };
        assert!(matches!(
            list(&data, &few),
            Err(SevenZError::TooManyMembers { limit: 2 })
        ));

        let zeros = vec![0u8; 3 * 1024 * 1024];
        let mut w = sevenz_rust2::ArchiveWriter::new(Cursor::new(Vec::new())).unwrap();
        w.push_archive_entry(sevenz_rust2::ArchiveEntry::new_file("z"), Some(&zeros[..]))
            .unwrap();
        let bomb = w.finish().unwrap().into_inner();

        let small = Limits {
            max_decompressed: 1024 * 1024,
            ..limits()
        };
        let mut budget = DecompressBudget::new(&small);
        let got = extract(&bomb, &small, &mut budget).unwrap();
        assert_eq!(got[0].1.as_ref().unwrap_err().kind(), "too_large");

        let ratio = Limits {
            max_ratio: 10,
            ratio_floor: 1024,
            ..limits()
        };
        let mut budget = DecompressBudget::new(&ratio);
        let got = extract(&bomb, &ratio, &mut budget).unwrap();
        assert_eq!(got[0].1.as_ref().unwrap_err().kind(), "bomb");
        assert_eq!(budget.used(), 0);

        let total = Limits {
            max_total_decompressed: 1024 * 1024,
            ..limits()
        };
        let mut budget = DecompressBudget::new(&total);
        let got = extract(&bomb, &total, &mut budget).unwrap();
        assert_eq!(got[0].1.as_ref().unwrap_err().kind(), "budget_exhausted");
    }

    #[test]
    fn huge_counts_are_refused_before_the_decoder() {
        // 2^40 files declared in a tiny header.
        let mut h = vec![K_HEADER, K_FILES_INFO];
        h.extend(num(1 << 40));
        h.extend([K_END, K_END]);
        let data = seal(&[], &h);
        assert!(matches!(
            list(&data, &limits()),
            Err(SevenZError::TooManyMembers { .. })
        ));

        // A next-header size far beyond the file.
        let mut data = handmade(&[("a", b"a")], (ID_COPY, &[]));
        data[20..28].copy_from_slice(&(1u64 << 50).to_le_bytes());
        let crc = crc32fast::hash(&data[12..32]);
        data[8..12].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            list(&data, &limits()).unwrap_err().kind(),
            "header_too_large"
        );

        // A 4 GiB LZMA2 dictionary: the block is refused, the listing still works.
        let data = handmade(&[("a", b"a")], (ID_LZMA2, &[40]));
        assert_eq!(list(&data, &limits()).unwrap().len(), 1);
        let mut budget = DecompressBudget::new(&limits());
        let got = extract(&data, &limits(), &mut budget).unwrap();
        assert_eq!(
            got[0].1.as_ref().unwrap_err().kind(),
            "dictionary_too_large"
        );
    }

    #[test]
    fn corrupt_member_keeps_partial_output() {
        let mut seed = 0xACE1_u32;
        let body: Vec<u8> = (0..300_000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect();
        let mut data = handmade(&[("big", &body)], (ID_COPY, &[]));
        // Flip a byte near the end of the stored data: the CRC check fails at the end.
        let at = 32 + body.len() - 10;
        data[at] ^= 0xFF;
        let mut budget = DecompressBudget::new(&limits());
        let got = extract(&data, &limits(), &mut budget).unwrap();
        let err = got[0].1.as_ref().unwrap_err();
        assert_eq!(err.kind(), "corrupt", "{err}");
        assert!(!err.partial().unwrap_or_default().is_empty());
    }

    #[test]
    fn not_7z_and_bad_crcs() {
        assert!(!is_7z(PICKLE));
        assert!(matches!(
            list(PICKLE, &limits()),
            Err(SevenZError::NotSevenZ)
        ));
        let mut data = written(false);
        let last = data.len() - 1;
        data[last] ^= 1;
        assert_eq!(list(&data, &limits()).unwrap_err().kind(), "bad_header");
        assert!(list(&data[..20], &limits()).is_err());
    }

    #[test]
    fn mutated_headers_never_panic_or_explode() {
        let base = handmade(&[("a.pkl", PICKLE), ("b", b"bb")], (ID_COPY, &[]));
        let packed_len = PICKLE.len() + 2;
        let header = base[32 + packed_len..].to_vec();
        let packed = base[32..32 + packed_len].to_vec();
        let written = written(true);
        // The written archive's header, decoded, to mutate as a plain header next to its real data.
        let (real_packed, real_header) = {
            let next = u64::from_le_bytes(written[12..20].try_into().unwrap()) as usize;
            let size = u64::from_le_bytes(written[20..28].try_into().unwrap()) as usize;
            let mut w = Walker {
                buf: &written[32 + next..32 + next + size],
                pos: 1,
            };
            let encoded = read_streams_info(&mut w, &limits()).unwrap();
            let decoded = decode_header(&written, &encoded, MAX_HEADER).unwrap();
            (written[32..32 + next].to_vec(), decoded)
        };
        assert!(list(&seal(&real_packed, &real_header), &limits()).is_ok());
        let mut seed = 0x0BAD_5EED_u32;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for round in 0..8000 {
            let data = if round % 4 == 1 {
                let mut h = real_header.clone();
                for _ in 0..=(next() % 3) {
                    let i = next() as usize % h.len();
                    h[i] = next() as u8;
                }
                seal(&real_packed, &h)
            } else if round % 4 == 0 {
                // Mutate anywhere in a real archive (mostly caught by CRCs).
                let mut m = written.clone();
                let i = next() as usize % m.len();
                m[i] = next() as u8;
                m
            } else {
                // Mutate the plain header and re-seal, so the walker and decoder see it.
                let mut h = header.clone();
                for _ in 0..=(next() % 3) {
                    let i = next() as usize % h.len();
                    h[i] = next() as u8;
                }
                if next() % 4 == 0 {
                    h.truncate(next() as usize % h.len());
                }
                seal(&packed, &h)
            };
            let mut budget = DecompressBudget::new(&limits());
            let _ = extract(&data, &limits(), &mut budget);
        }
    }
}
