//! Whole-stream compression (gzip, zlib, bzip2, xz, `.lzma`, LZ4 frames, joblib's old `ZF` files) and
//! the bounded decompression that every container reader in [`crate::formats`] shares.
//!
//! Detection is by magic bytes and, where the magic is weak (zlib, `.lzma`), by checking that the stream
//! actually decodes. Decompression never produces more than [`Limits::max_decompressed`] bytes per stream,
//! more than the [`DecompressBudget`] left for the top-level file, or a ratio above [`Limits::max_ratio`]
//! once the output passes [`Limits::ratio_floor`]. A stream that is corrupt part-way is not thrown
//! away: loaders unpickle while they decompress, so the bytes before the damage are handed back too.
//!
//! This module never looks inside the decompressed bytes; the caller decides what they are.

use std::fmt;
use std::io::{self, Read};

use crate::blob::Blob;
use crate::limits::Limits;

/// How much a single `read` call asks for while decompressing.
///
/// Small on purpose: some decoders (lzma-rust2's) fill the whole buffer or fail, dropping what they
/// had decoded into it, so a larger read would lose more of the bytes before a corruption.
const CHUNK: usize = 16 * 1024;

/// How many input bytes are inflated to confirm that a zlib header starts a real stream.
const ZLIB_PROBE_INPUT: usize = 64 * 1024;

/// Bytes of decompressed output the whole top-level file may still produce.
///
/// Create one per top-level file and pass it to every decompression done for that file, nested
/// archives included, so a bomb cannot multiply itself through many small members.
#[derive(Debug, Clone)]
pub(crate) struct DecompressBudget {
    used: u64,
    limit: u64,
}

impl DecompressBudget {
    /// A fresh budget of [`Limits::max_total_decompressed`] bytes.
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            used: 0,
            limit: limits.max_total_decompressed,
        }
    }

    /// Bytes produced so far.
    #[allow(dead_code, reason = "reader API; the scan driver does not call it yet")]
    pub(crate) fn used(&self) -> u64 {
        self.used
    }

    /// Bytes that may still be produced.
    pub(crate) fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }

    /// The total this budget started with.
    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }

    /// Records `n` bytes as produced.
    pub(crate) fn charge(&mut self, n: u64) {
        self.used = self.used.saturating_add(n);
    }
}

/// Decompressed bytes held only to hand a partial result back inside an error.
///
/// Its `Debug` prints the length, not the bytes.
pub(crate) struct PartialOutput(pub(crate) Vec<u8>);

impl fmt::Debug for PartialOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PartialOutput({} bytes)", self.0.len())
    }
}

/// Why a bounded read ended before the end of its stream.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The stream produced more than the per-stream limit.
    TooLarge { limit: u64 },
    /// The stream would have exhausted the top-level file's budget.
    Budget { limit: u64 },
    /// The output grew past `max_ratio` times the compressed size.
    Ratio {
        compressed: u64,
        produced: u64,
        max_ratio: u64,
    },
    /// The decoder reported an error (corrupt or truncated input).
    Corrupt(io::Error),
    /// The output buffer could not be grown.
    OutOfMemory { wanted: u64 },
}

/// What a bounded read produced: all the bytes it got, and why it stopped early, if it did.
#[derive(Debug)]
pub(crate) struct Bounded {
    pub(crate) data: Vec<u8>,
    pub(crate) stop: Option<Stop>,
}

/// Reads `reader` to its end, within the per-stream limit, the shared budget and the ratio limit.
///
/// `compressed_len` is the size of the input, for the ratio check; `size_hint` (a declared size, which
/// may lie) only sizes the first allocation and is capped. The budget is charged for what was produced.
pub(crate) fn read_bounded<R: Read>(
    mut reader: R,
    compressed_len: u64,
    size_hint: u64,
    limits: &Limits,
    budget: &mut DecompressBudget,
) -> Bounded {
    let budget_left = budget.remaining();
    let allowed = limits.max_decompressed.min(budget_left);
    let over = || {
        if limits.max_decompressed <= budget_left {
            Stop::TooLarge {
                limit: limits.max_decompressed,
            }
        } else {
            Stop::Budget {
                limit: budget.limit(),
            }
        }
    };
    let mut out: Vec<u8> = Vec::new();
    let first = size_hint.min(allowed).min(64 * 1024 * 1024);
    if out
        .try_reserve(usize::try_from(first).unwrap_or(0))
        .is_err()
    {
        return Bounded {
            data: out,
            stop: Some(Stop::OutOfMemory { wanted: first }),
        };
    }
    let mut stop = None;
    loop {
        let len = out.len() as u64;
        if len > allowed {
            stop = Some(over());
            break;
        }
        // One byte more than allowed tells "exactly at the limit" from "over it".
        let want = (allowed - len).saturating_add(1).min(CHUNK as u64) as usize;
        let start = out.len();
        if out.try_reserve(want).is_err() {
            stop = Some(Stop::OutOfMemory {
                wanted: len.saturating_add(want as u64),
            });
            break;
        }
        out.resize(start + want, 0);
        let Some(buf) = out.get_mut(start..) else {
            break;
        };
        match reader.read(buf) {
            Ok(0) => {
                out.truncate(start);
                break;
            }
            Ok(n) => out.truncate(start + n.min(want)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => out.truncate(start),
            Err(e) => {
                out.truncate(start);
                stop = Some(Stop::Corrupt(e));
                break;
            }
        }
        let produced = out.len() as u64;
        if produced > limits.ratio_floor
            && produced > compressed_len.max(1).saturating_mul(limits.max_ratio)
        {
            stop = Some(Stop::Ratio {
                compressed: compressed_len,
                produced,
                max_ratio: limits.max_ratio,
            });
            break;
        }
    }
    budget.charge(out.len() as u64);
    Bounded { data: out, stop }
}

/// A whole-stream compression format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Compression {
    /// RFC 1952 gzip, possibly several members back to back (Python's `gzip` reads them all).
    Gzip,
    /// RFC 1950 zlib, possibly several streams back to back (joblib's `BinaryZlibFile` reads them all).
    Zlib,
    /// bzip2, possibly several streams back to back.
    Bzip2,
    /// The `.xz` container (LZMA2).
    Xz,
    /// The legacy `.lzma` ("LZMA alone") format, as joblib writes with `lzma.FORMAT_ALONE`.
    LzmaAlone,
    /// LZ4 frame format.
    Lz4Frame,
    /// joblib < 0.10 "Z-file": `ZF`, the length as hex text padded with spaces, then a zlib stream.
    JoblibZfile,
    /// Zstandard, possibly several frames back to back (the `zstd` tool reads them all).
    Zstd,
}

impl Compression {
    /// A short lowercase name for messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Zlib => "zlib",
            Self::Bzip2 => "bzip2",
            Self::Xz => "xz",
            Self::LzmaAlone => "lzma",
            Self::Lz4Frame => "lz4",
            Self::JoblibZfile => "joblib-zfile",
            Self::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a stream could not be decompressed in full.
#[derive(thiserror::Error, Debug)]
#[non_exhaustive]
pub(crate) enum CompressError {
    /// The stream decompresses to more than the per-stream limit.
    #[error("{kind} stream decompresses to more than {limit} bytes")]
    TooLarge { kind: Compression, limit: u64 },
    /// The stream would exhaust the decompression budget of the top-level file.
    #[error("{kind} stream exceeds the {limit}-byte decompression budget of this file")]
    BudgetExhausted { kind: Compression, limit: u64 },
    /// The stream expands more than `max_ratio` times: a decompression bomb.
    #[error(
        "{kind} stream of {compressed} bytes expanded to over {produced} bytes (more than {max_ratio}x)"
    )]
    Bomb {
        kind: Compression,
        compressed: u64,
        produced: u64,
        max_ratio: u64,
    },
    /// The stream is corrupt or truncated after `produced` good bytes, which are kept.
    #[error("{kind} stream is corrupt or truncated after {} decompressed bytes", produced.0.len())]
    Truncated {
        kind: Compression,
        produced: PartialOutput,
        #[source]
        source: io::Error,
    },
    /// The container header around the stream is invalid.
    #[error("invalid {kind} header at offset {offset}: {reason}")]
    BadHeader {
        kind: Compression,
        offset: u64,
        reason: &'static str,
    },
    /// The output buffer could not be allocated.
    #[error("out of memory decompressing {kind} stream ({wanted} bytes)")]
    OutOfMemory { kind: Compression, wanted: u64 },
}

impl CompressError {
    /// A stable `snake_case` identifier of the variant.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::BudgetExhausted { .. } => "budget_exhausted",
            Self::Bomb { .. } => "bomb",
            Self::Truncated { .. } => "truncated",
            Self::BadHeader { .. } => "bad_header",
            Self::OutOfMemory { .. } => "out_of_memory",
        }
    }

    /// The bytes decoded before the stream broke, when there are any.
    pub(crate) fn partial(&self) -> Option<&[u8]> {
        match self {
            Self::Truncated { produced, .. } if !produced.0.is_empty() => Some(&produced.0),
            _ => None,
        }
    }
}

/// Recognises a compressed stream by its first bytes, or returns `None`.
pub(crate) fn detect(data: &[u8]) -> Option<Compression> {
    if is_gzip(data) {
        Some(Compression::Gzip)
    } else if data.starts_with(&[0xFD, b'7', b'z', b'X', b'Z', 0x00]) {
        Some(Compression::Xz)
    } else if is_zstd(data) {
        Some(Compression::Zstd)
    } else if is_bzip2(data) {
        Some(Compression::Bzip2)
    } else if is_lz4_frame(data) {
        Some(Compression::Lz4Frame)
    } else if zfile_stream_start(data).is_some() {
        Some(Compression::JoblibZfile)
    } else if is_zlib(data) {
        Some(Compression::Zlib)
    } else if is_lzma_alone(data) {
        Some(Compression::LzmaAlone)
    } else {
        None
    }
}

fn is_gzip(data: &[u8]) -> bool {
    // ID1 ID2, CM = 8 (deflate, the only one defined), reserved flag bits clear.
    matches!(data, [0x1F, 0x8B, 0x08, flg, ..] if flg & 0xE0 == 0)
}

fn is_bzip2(data: &[u8]) -> bool {
    // "BZh", block size '1'..='9', then a block header (the digits of pi) or an end-of-stream marker
    // (the digits of sqrt(pi)) for an empty stream.
    const BLOCK: [u8; 6] = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
    const END: [u8; 6] = [0x17, 0x72, 0x45, 0x38, 0x50, 0x90];
    match data {
        [b'B', b'Z', b'h', level, rest @ ..] if (b'1'..=b'9').contains(level) => {
            rest.starts_with(&BLOCK) || rest.starts_with(&END)
        }
        _ => false,
    }
}

fn is_zstd(data: &[u8]) -> bool {
    // Frame magic, then a frame header descriptor whose reserved bit is clear.
    matches!(data, [0x28, 0xB5, 0x2F, 0xFD, fhd, ..] if fhd & 0x08 == 0)
}

fn is_lz4_frame(data: &[u8]) -> bool {
    // Magic, then a FLG byte whose version field is 01.
    matches!(data, [0x04, 0x22, 0x4D, 0x18, flg, ..] if flg >> 6 == 1)
}

/// A zlib header (CM = 8, window ≤ 32 KiB, no preset dictionary, valid check bits) whose stream
/// inflates without error for its first `ZLIB_PROBE_INPUT` bytes.
fn zlib_header_ok(data: &[u8]) -> bool {
    match data {
        [cmf, flg, ..] => {
            cmf & 0x0F == 8
                && cmf >> 4 <= 7
                && flg & 0x20 == 0
                && (u16::from(*cmf) * 256 + u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

fn zlib_inflates(data: &[u8]) -> bool {
    let input = data.get(..data.len().min(ZLIB_PROBE_INPUT)).unwrap_or(data);
    let mut probe = flate2::Decompress::new(true);
    let mut out = vec![0u8; 32 * 1024];
    match probe.decompress(input, &mut out, flate2::FlushDecompress::None) {
        Ok(flate2::Status::StreamEnd) => true,
        Ok(_) => probe.total_out() > 0,
        Err(_) => false,
    }
}

fn is_zlib(data: &[u8]) -> bool {
    // Python's zlib.compress and joblib always write 0x78; other window sizes would be legal but
    // would also match far more non-zlib data.
    data.first() == Some(&0x78) && zlib_header_ok(data) && zlib_inflates(data)
}

/// Where the zlib stream of a joblib Z-file starts, if `data` is one.
///
/// joblib wrote `ZF`, then `'{:#x}'.format(len)` left-justified to 19 characters (older releases: the
/// hex digits without `0x`, 17 characters; Python 2 releases: one more character), then zlib data.
fn zfile_stream_start(data: &[u8]) -> Option<usize> {
    let rest = data.strip_prefix(b"ZF")?;
    let field_ok = |len: usize| {
        rest.get(..len).is_some_and(|field| {
            let text = field.trim_ascii();
            let digits = text.strip_prefix(b"0x").unwrap_or(text);
            let digits = digits.strip_suffix(b"L").unwrap_or(digits);
            !digits.is_empty() && digits.iter().all(u8::is_ascii_hexdigit)
        })
    };
    [19usize, 20, 17]
        .into_iter()
        .filter(|&len| field_ok(len))
        .map(|len| len + 2)
        .find(|&start| {
            data.get(start..)
                .is_some_and(|s| zlib_header_ok(s) && zlib_inflates(s))
        })
}

/// Range of LZMA dictionary sizes accepted when sniffing `.lzma` files: 4 KiB ..= 1.5 GiB, as liblzma
/// writes them (2^n or 2^n + 2^(n-1)).
fn plausible_dict_size(d: u32) -> bool {
    if !(4096..=(3 << 29)).contains(&d) {
        return false;
    }
    let high = d.ilog2();
    let rest = d & !(1 << high);
    rest == 0 || rest == 1 << (high - 1)
}

fn is_lzma_alone(data: &[u8]) -> bool {
    // props 0x5D (lc=3, lp=0, pb=2: every preset), dictionary size, uncompressed size (all ones when
    // unknown, as Python writes it), then the range coder's first byte, which is always 0.
    let Some(header) = data.get(..14) else {
        return false;
    };
    let mut dict = [0u8; 4];
    dict.copy_from_slice(header.get(1..5).unwrap_or(&[0; 4]));
    let mut size = [0u8; 8];
    size.copy_from_slice(header.get(5..13).unwrap_or(&[0; 8]));
    let size = u64::from_le_bytes(size);
    header.first() == Some(&0x5D)
        && plausible_dict_size(u32::from_le_bytes(dict))
        && (size == u64::MAX || size < 1 << 48)
        && header.get(13) == Some(&0)
}

/// Decodes zlib streams back to back until the input ends, as joblib's `BinaryZlibFile` does.
struct MultiZlib<'a> {
    decoder: Option<flate2::bufread::ZlibDecoder<&'a [u8]>>,
}

impl Read for MultiZlib<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(decoder) = self.decoder.as_mut() else {
                return Ok(0);
            };
            let n = decoder.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            let rest = self
                .decoder
                .take()
                .map(flate2::bufread::ZlibDecoder::into_inner);
            match rest {
                Some(rest) if !rest.is_empty() => {
                    self.decoder = Some(flate2::bufread::ZlibDecoder::new(rest));
                }
                _ => return Ok(0),
            }
        }
    }
}

/// Decodes zstd frames back to back until the input ends. ruzstd grows its window as output is
/// produced and refuses windows above 128 MiB, so a header's claims cost no memory up front.
struct MultiZstd<'a> {
    rest: &'a [u8],
    decoder: Option<ruzstd::decoding::StreamingDecoder<&'a [u8], ruzstd::decoding::FrameDecoder>>,
}

impl Read for MultiZstd<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.decoder.is_none() {
                if self.rest.is_empty() {
                    return Ok(0);
                }
                let decoder = ruzstd::decoding::StreamingDecoder::new(self.rest)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                self.decoder = Some(decoder);
            }
            let Some(decoder) = self.decoder.as_mut() else {
                return Ok(0);
            };
            let n = decoder.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // The frame ended: go on with what follows it, if reading it consumed anything.
            let rest = self
                .decoder
                .take()
                .map(ruzstd::decoding::StreamingDecoder::into_inner)
                .unwrap_or_default();
            if rest.len() >= self.rest.len() {
                return Ok(0);
            }
            self.rest = rest;
        }
    }
}

/// Decompresses a whole stream of `kind`, within `limits` and `budget`.
///
/// On corruption the error carries the bytes decoded before it ([`CompressError::partial`]).
pub(crate) fn decompress(
    data: &[u8],
    kind: Compression,
    limits: &Limits,
    budget: &mut DecompressBudget,
) -> Result<Blob, CompressError> {
    let compressed = data.len() as u64;
    let bounded = match kind {
        Compression::Gzip => read_bounded(
            flate2::bufread::MultiGzDecoder::new(data),
            compressed,
            0,
            limits,
            budget,
        ),
        Compression::Zlib => read_bounded(
            MultiZlib {
                decoder: Some(flate2::bufread::ZlibDecoder::new(data)),
            },
            compressed,
            0,
            limits,
            budget,
        ),
        Compression::JoblibZfile => {
            let start = zfile_stream_start(data).ok_or(CompressError::BadHeader {
                kind,
                offset: 2,
                reason: "no hex length field followed by a zlib stream",
            })?;
            let stream = data.get(start..).unwrap_or_default();
            read_bounded(
                flate2::bufread::ZlibDecoder::new(stream),
                compressed,
                0,
                limits,
                budget,
            )
        }
        Compression::Bzip2 => read_bounded(
            bzip2::bufread::MultiBzDecoder::new(data),
            compressed,
            0,
            limits,
            budget,
        ),
        // lzma-rs grows its dictionary window as output is produced, so a header that declares a
        // 4 GiB dictionary costs no more memory than the (bounded) output it actually yields.
        Compression::Xz => {
            let mut first = decode_to_writer(compressed, limits, budget, |w| {
                lzma_rs::xz_decompress(&mut io::BufReader::new(data), w).map_err(|e| e.to_string())
            });
            // lzma-rs keeps nothing of a truncated stream; lzma-rust2 streams what it decoded, but
            // allocates the declared dictionary up front, so it only gets streams whose first
            // block declares a modest one.
            if matches!(first.stop, Some(Stop::Corrupt(_)))
                && xz_first_dictionary(data).is_some_and(|d| d <= MAX_EAGER_DICTIONARY)
            {
                let again = read_bounded(
                    lzma_rust2::XzReader::new(data, true),
                    compressed,
                    0,
                    limits,
                    budget,
                );
                if again.data.len() > first.data.len() {
                    first = again;
                }
            }
            first
        }
        Compression::LzmaAlone => {
            let mut first = decode_to_writer(compressed, limits, budget, |w| {
                let options = lzma_rs::decompress::Options {
                    unpacked_size: lzma_rs::decompress::UnpackedSize::ReadFromHeader,
                    memlimit: Some(usize::try_from(limits.max_decompressed).unwrap_or(usize::MAX)),
                    allow_incomplete: false,
                };
                lzma_rs::lzma_decompress_with_options(&mut io::BufReader::new(data), w, &options)
                    .map_err(|e| e.to_string())
            });
            // As for xz: the streaming decoder, for its partial output, only with a modest dictionary.
            if matches!(first.stop, Some(Stop::Corrupt(_))) {
                let mem_limit_kb = u32::try_from(MAX_EAGER_DICTIONARY / 1024)
                    .unwrap_or(u32::MAX)
                    .saturating_add(1024);
                if let Ok(reader) = lzma_rust2::LzmaReader::new_mem_limit(data, mem_limit_kb, None)
                {
                    let again = read_bounded(reader, compressed, 0, limits, budget);
                    if again.data.len() > first.data.len() {
                        first = again;
                    }
                }
            }
            first
        }
        Compression::Zstd => read_bounded(
            MultiZstd {
                rest: data,
                decoder: None,
            },
            compressed,
            0,
            limits,
            budget,
        ),
        Compression::Lz4Frame => read_bounded(
            lz4_flex::frame::FrameDecoder::new(data),
            compressed,
            0,
            limits,
            budget,
        ),
    };
    finish(kind, bounded).map(Blob::Owned)
}

/// The largest dictionary a decoder that allocates it up front is given (xz's `-9` preset uses 64 MiB).
const MAX_EAGER_DICTIONARY: u64 = 64 * 1024 * 1024;

/// The LZMA2 dictionary size declared by the first block of an `.xz` stream, if it can be read.
fn xz_first_dictionary(data: &[u8]) -> Option<u64> {
    // Stream header: 6 magic bytes, 2 flag bytes, CRC32. Then the block header: size byte, flags.
    let size = usize::from(*data.get(12)?).checked_mul(4)?.checked_add(4)?;
    let header = data.get(12..12 + size)?;
    let flags = *header.get(1)?;
    let filters = usize::from(flags & 0x03) + 1;
    let mut i = 2;
    let varint = |i: &mut usize| -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..63).step_by(7) {
            let b = *header.get(*i)?;
            *i += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    };
    if flags & 0x40 != 0 {
        varint(&mut i)?;
    }
    if flags & 0x80 != 0 {
        varint(&mut i)?;
    }
    let mut dict = None;
    for _ in 0..filters {
        let id = varint(&mut i)?;
        let props_len = usize::try_from(varint(&mut i)?).ok()?;
        let props = header.get(i..i + props_len)?;
        i += props_len;
        if id == 0x21 {
            let p = u32::from(*props.first()?);
            if p > 40 {
                return None;
            }
            dict = Some(if p == 40 {
                u64::from(u32::MAX)
            } else {
                u64::from(2 | (p & 1)) << (p / 2 + 11)
            });
        }
    }
    dict
}

/// A writer that keeps at most `cap` bytes and fails once more are offered.
struct CappedWriter {
    buf: Vec<u8>,
    cap: u64,
    over: bool,
}

impl io::Write for CappedWriter {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let room = self.cap.saturating_sub(self.buf.len() as u64);
        if b.len() as u64 > room {
            self.over = true;
            return Err(io::Error::other("decompression output limit reached"));
        }
        self.buf
            .try_reserve(b.len())
            .map_err(|_| io::Error::other("out of memory"))?;
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs a decoder that writes its output, within the same limits as [`read_bounded`].
fn decode_to_writer(
    compressed_len: u64,
    limits: &Limits,
    budget: &mut DecompressBudget,
    decode: impl FnOnce(&mut CappedWriter) -> Result<(), String>,
) -> Bounded {
    let budget_left = budget.remaining();
    let allowed = limits.max_decompressed.min(budget_left);
    let mut w = CappedWriter {
        buf: Vec::new(),
        cap: allowed,
        over: false,
    };
    let result = decode(&mut w);
    let produced = w.buf.len() as u64;
    let stop = if w.over {
        Some(if limits.max_decompressed <= budget_left {
            Stop::TooLarge {
                limit: limits.max_decompressed,
            }
        } else {
            Stop::Budget {
                limit: budget.limit(),
            }
        })
    } else if produced > limits.ratio_floor
        && produced > compressed_len.max(1).saturating_mul(limits.max_ratio)
    {
        Some(Stop::Ratio {
            compressed: compressed_len,
            produced,
            max_ratio: limits.max_ratio,
        })
    } else {
        result
            .err()
            .map(|e| Stop::Corrupt(io::Error::new(io::ErrorKind::InvalidData, e)))
    };
    budget.charge(produced);
    Bounded { data: w.buf, stop }
}

/// Turns a bounded read into the module's result type.
fn finish(kind: Compression, bounded: Bounded) -> Result<Vec<u8>, CompressError> {
    match bounded.stop {
        None => Ok(bounded.data),
        Some(Stop::TooLarge { limit }) => Err(CompressError::TooLarge { kind, limit }),
        Some(Stop::Budget { limit }) => Err(CompressError::BudgetExhausted { kind, limit }),
        Some(Stop::Ratio {
            compressed,
            produced,
            max_ratio,
        }) => Err(CompressError::Bomb {
            kind,
            compressed,
            produced,
            max_ratio,
        }),
        Some(Stop::Corrupt(source)) => Err(CompressError::Truncated {
            kind,
            produced: PartialOutput(bounded.data),
            source,
        }),
        Some(Stop::OutOfMemory { wanted }) => Err(CompressError::OutOfMemory { kind, wanted }),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const PICKLE: &[u8] = b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x05hello\x94.";

    fn limits() -> Limits {
        Limits::default()
    }

    /// `Blob` has no `Debug`, so `unwrap` and `unwrap_err` are spelled out.
    fn ok(r: Result<Blob, CompressError>) -> Blob {
        r.unwrap_or_else(|e| panic!("unexpected error: {e}"))
    }

    fn fails(r: Result<Blob, CompressError>) -> CompressError {
        match r {
            Ok(b) => panic!("unexpected success ({} bytes)", b.len()),
            Err(e) => e,
        }
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn bz2(data: &[u8]) -> Vec<u8> {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn xz(data: &[u8]) -> Vec<u8> {
        let mut w =
            lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(6)).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap()
    }

    fn lzma_alone(data: &[u8]) -> Vec<u8> {
        let opts = lzma_rust2::LzmaOptions::with_preset(6);
        let mut w = lzma_rust2::LzmaWriter::new_use_header(Vec::new(), &opts, None).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap()
    }

    fn lz4(data: &[u8]) -> Vec<u8> {
        let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zstd(data: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
    }

    fn zfile(data: &[u8]) -> Vec<u8> {
        let mut out = b"ZF".to_vec();
        out.extend_from_slice(format!("{:<19}", format!("{:#x}", data.len())).as_bytes());
        out.extend_from_slice(&zlib(data));
        out
    }

    fn roundtrip(kind: Compression, packed: &[u8]) {
        assert_eq!(detect(packed), Some(kind), "{kind}");
        let mut budget = DecompressBudget::new(&limits());
        let out = ok(decompress(packed, kind, &limits(), &mut budget));
        assert_eq!(&*out, PICKLE, "{kind}");
        assert_eq!(budget.used(), PICKLE.len() as u64);
    }

    #[test]
    fn detects_and_decompresses_every_format() {
        roundtrip(Compression::Gzip, &gzip(PICKLE));
        roundtrip(Compression::Zlib, &zlib(PICKLE));
        roundtrip(Compression::Bzip2, &bz2(PICKLE));
        roundtrip(Compression::Xz, &xz(PICKLE));
        roundtrip(Compression::LzmaAlone, &lzma_alone(PICKLE));
        roundtrip(Compression::Lz4Frame, &lz4(PICKLE));
        roundtrip(Compression::JoblibZfile, &zfile(PICKLE));
        roundtrip(Compression::Zstd, &zstd(PICKLE));
    }

    #[test]
    fn zstd_frames_back_to_back_are_all_read() {
        let (a, b) = PICKLE.split_at(PICKLE.len() / 2);
        let mut two = zstd(a);
        two.extend(zstd(b));
        let mut budget = DecompressBudget::new(&limits());
        let out = ok(decompress(&two, Compression::Zstd, &limits(), &mut budget));
        assert_eq!(&*out, PICKLE);
        // Garbage after a good frame keeps what was decoded.
        let mut tail = zstd(PICKLE);
        tail.extend(b"not a frame");
        let Err(e) = decompress(&tail, Compression::Zstd, &limits(), &mut budget) else {
            panic!("garbage after the frame was accepted");
        };
        assert_eq!(e.partial(), Some(PICKLE));
    }

    #[test]
    fn plain_data_is_not_detected() {
        assert_eq!(detect(PICKLE), None);
        assert_eq!(detect(b""), None);
        assert_eq!(detect(b"(dp0\nS'a'\np1\nI1\ns."), None);
        // A zlib-looking header followed by garbage does not inflate.
        assert_eq!(detect(&[0x78, 0x9C, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]), None);
        // ZF with a non-hex length is not a Z-file.
        assert_eq!(detect(b"ZFhello world, this is not hex at all"), None);
        // props 0x5D but an implausible dictionary size.
        let mut lz = lzma_alone(PICKLE);
        lz[1..5].copy_from_slice(&12345u32.to_le_bytes());
        assert_eq!(detect(&lz), None);
    }

    #[test]
    fn concatenated_streams_are_all_read() {
        let mut two = zlib(b"first ");
        two.extend_from_slice(&zlib(b"second"));
        let mut budget = DecompressBudget::new(&limits());
        let out = ok(decompress(&two, Compression::Zlib, &limits(), &mut budget));
        assert_eq!(&*out, b"first second");

        let mut two = gzip(b"a");
        two.extend_from_slice(&gzip(b"b"));
        let out = ok(decompress(&two, Compression::Gzip, &limits(), &mut budget));
        assert_eq!(&*out, b"ab");
    }

    #[test]
    fn truncated_stream_keeps_the_prefix() {
        // Incompressible bytes, so that xz writes several LZMA2 chunks: lzma-rust2 decodes a chunk
        // (up to 64 KiB compressed) only once it has all of it, so a cut inside the first chunk yields
        // nothing.
        let mut seed = 0x9E37_79B9_u32;
        let body: Vec<u8> = (0..400_000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect();
        for (kind, packed) in [
            (Compression::Zlib, zlib(&body)),
            (Compression::Gzip, gzip(&body)),
            (Compression::Xz, xz(&body)),
            (Compression::LzmaAlone, lzma_alone(&body)),
        ] {
            let cut = &packed[..packed.len() / 2];
            let mut budget = DecompressBudget::new(&limits());
            let err = fails(decompress(cut, kind, &limits(), &mut budget));
            assert_eq!(err.kind(), "truncated", "{kind}: {err}");
            let partial = err.partial().unwrap_or_default();
            assert!(!partial.is_empty(), "{kind}: no partial output");
            assert!(
                body.starts_with(partial),
                "{kind}: partial output is not a prefix"
            );
        }
    }

    #[test]
    fn limits_stop_bombs() {
        let zeros = vec![0u8; 4 * 1024 * 1024];
        let packed = zlib(&zeros);
        let small = Limits {
            max_decompressed: 1024 * 1024,
            ..limits()
        };
        let mut budget = DecompressBudget::new(&small);
        let err = fails(decompress(&packed, Compression::Zlib, &small, &mut budget));
        assert!(matches!(err, CompressError::TooLarge { limit, .. } if limit == 1024 * 1024));

        let ratio = Limits {
            max_ratio: 10,
            ratio_floor: 1024,
            ..limits()
        };
        let mut budget = DecompressBudget::new(&ratio);
        let err = fails(decompress(&packed, Compression::Zlib, &ratio, &mut budget));
        assert_eq!(err.kind(), "bomb");

        let total = Limits {
            max_total_decompressed: 6 * 1024 * 1024,
            ..limits()
        };
        let mut budget = DecompressBudget::new(&total);
        ok(decompress(&packed, Compression::Zlib, &total, &mut budget));
        let err = fails(decompress(&packed, Compression::Zlib, &total, &mut budget));
        assert_eq!(err.kind(), "budget_exhausted");
    }

    #[test]
    fn exact_limit_is_accepted() {
        let data = vec![7u8; 1000];
        let exact = Limits {
            max_decompressed: 1000,
            ..limits()
        };
        let mut budget = DecompressBudget::new(&exact);
        let out = ok(decompress(
            &zlib(&data),
            Compression::Zlib,
            &exact,
            &mut budget,
        ));
        assert_eq!(out.len(), 1000);
    }

    #[test]
    fn garbage_never_panics() {
        let mut budget = DecompressBudget::new(&limits());
        let mut seed = 0x1234_5678_u32;
        for kind in [
            Compression::Gzip,
            Compression::Zlib,
            Compression::Bzip2,
            Compression::Xz,
            Compression::LzmaAlone,
            Compression::Lz4Frame,
            Compression::JoblibZfile,
        ] {
            for len in [0usize, 1, 5, 13, 14, 40, 300] {
                let junk: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 17;
                        seed ^= seed << 5;
                        seed as u8
                    })
                    .collect();
                let _ = decompress(&junk, kind, &limits(), &mut budget);
            }
        }
    }

    #[test]
    fn huge_declared_xz_dictionary_is_not_allocated_up_front() {
        // Stream header, then a block header whose LZMA2 filter declares a 2 GiB dictionary (props 38).
        let mut xz = vec![0xFD, b'7', b'z', b'X', b'Z', 0x00, 0x00, 0x04, 0, 0, 0, 0];
        xz.extend([0x02, 0x00, 0x21, 0x01, 38, 0, 0, 0, 0, 0, 0, 0]);
        xz.extend([0u8; 64]);
        assert_eq!(xz_first_dictionary(&xz), Some(2 << 30));
        assert!(xz_first_dictionary(&xz).unwrap() > MAX_EAGER_DICTIONARY);
        // The memory-safe decoder rejects it; the eager one is never tried for such a header.
        let mut budget = DecompressBudget::new(&limits());
        assert!(decompress(&xz, Compression::Xz, &limits(), &mut budget).is_err());
    }
}
