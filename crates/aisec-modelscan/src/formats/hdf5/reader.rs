//! A bounded, read-only reader of the HDF5 file format: superblocks v0–v3, object headers v1/v2
//! with continuation blocks, old-style groups (v1 B-tree + local heap + symbol nodes), new-style
//! groups (link messages, dense links in a fractal heap indexed by a v2 B-tree), attributes (compact
//! and dense), datatypes and the global heap.
//!
//! Nothing here allocates in proportion to a count read from the file: every list grows one
//! element at a time behind a bound, every address is checked against the end of the data, and
//! every chain of addresses is walked with a visited set.

use std::collections::{HashMap, HashSet};

use thiserror::Error;

/// The HDF5 signature.
pub(crate) const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";
/// Largest user block searched for the signature (the format allows any power of two from 512).
pub(crate) const MAX_SIGNATURE_OFFSET: usize = 1 << 30;
/// Most messages read from one object header (a v1 header counts them in 16 bits).
const MAX_MESSAGES_PER_OBJECT: usize = 65_536;
/// Most continuation blocks followed for one object header.
const MAX_CONTINUATIONS: usize = 4_096;
/// Deepest v1/v2 B-tree or fractal-heap indirect-block nesting followed.
const MAX_TREE_DEPTH: usize = 32;
/// Most direct blocks read from one fractal heap.
const MAX_HEAP_BLOCKS: usize = 100_000;
/// Most records read from one v1 or v2 B-tree.
const MAX_TREE_RECORDS: usize = 1_000_000;
/// Most structures read from one file before the reader gives up (checked inside every loop that
/// can revisit bytes through overlapping structures).
pub(crate) const MAX_WORK: u64 = 20_000_000;
/// Deepest nesting of datatypes (arrays of variable-length sequences of …).
const MAX_TYPE_DEPTH: usize = 16;
/// Most bytes of one datatype's array dimensions.
const MAX_ARRAY_RANK: usize = 32;

/// Why a structure could not be read. Every variant names the structure and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum H5Error {
    /// A structure runs past the end of the data (or of its enclosing block).
    #[error("{what} at offset {at} runs past the end of the file")]
    Truncated { what: &'static str, at: u64 },
    /// An address points past the end of the file.
    #[error("{what} address {addr:#x} points past the end of the file")]
    PastEof { what: &'static str, addr: u64 },
    /// A structure lacks its signature.
    #[error("{what} at offset {at} lacks its signature")]
    Signature { what: &'static str, at: u64 },
    /// A version this reader (and the format) does not define.
    #[error("{what} at offset {at} has unknown version {version}")]
    Version {
        what: &'static str,
        at: u64,
        version: u8,
    },
    /// A chain of addresses leads back to a structure already read.
    #[error("{what} at offset {at} is reached twice: the structure loops")]
    Cycle { what: &'static str, at: u64 },
    /// Sizes or counts that contradict each other or the format.
    #[error("{what} at offset {at}: {detail}")]
    Inconsistent {
        what: &'static str,
        at: u64,
        detail: String,
    },
    /// A bound of this reader was reached.
    #[error("more than {limit} {what}")]
    Limit { what: &'static str, limit: usize },
    /// A legal construct this reader does not decode.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl H5Error {
    /// True when the error is a violation of the format (a crafted or corrupt file), as opposed to a
    /// reader bound or an unsupported feature.
    pub(crate) fn is_corruption(&self) -> bool {
        !matches!(self, Self::Limit { .. } | Self::Unsupported(_))
    }
}

/// Result of the reader.
pub(crate) type Result<T> = std::result::Result<T, H5Error>;

fn inconsistent(what: &'static str, at: u64, detail: impl Into<String>) -> H5Error {
    H5Error::Inconsistent {
        what,
        at,
        detail: detail.into(),
    }
}

/// A cursor over a byte slice whose positions are reported as file offsets (`base + pos`).
#[derive(Debug, Clone)]
pub(crate) struct Cur<'d> {
    d: &'d [u8],
    pos: usize,
    base: u64,
    what: &'static str,
}

impl<'d> Cur<'d> {
    pub(crate) fn new(d: &'d [u8], base: u64, what: &'static str) -> Self {
        Self {
            d,
            pos: 0,
            base,
            what,
        }
    }

    /// File offset of the cursor.
    pub(crate) fn at(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.d.len() - self.pos
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'d [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.d.len())
            .ok_or(H5Error::Truncated {
                what: self.what,
                at: self.at(),
            })?;
        let s = &self.d[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn skip(&mut self, n: usize) -> Result<()> {
        self.bytes(n).map(|_| ())
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(self.uint(2)? as u16)
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(self.uint(4)? as u32)
    }

    /// A little-endian unsigned integer of `n` (at most 8) bytes.
    pub(crate) fn uint(&mut self, n: usize) -> Result<u64> {
        let b = self.bytes(n.min(8))?;
        Ok(le(b))
    }

    /// A NUL-terminated string (the NUL is consumed, not returned).
    pub(crate) fn cstr(&mut self) -> Result<&'d [u8]> {
        let rest = &self.d[self.pos..];
        let n = memchr::memchr(0, rest).ok_or(H5Error::Truncated {
            what: self.what,
            at: self.at(),
        })?;
        let s = &rest[..n];
        self.pos += n + 1;
        Ok(s)
    }
}

/// Little-endian value of up to 8 bytes.
pub(crate) fn le(b: &[u8]) -> u64 {
    b.iter()
        .take(8)
        .rev()
        .fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

/// Bytes needed to encode `n` (at least one).
fn enc_size(n: u64) -> usize {
    (64 - n.leading_zeros() as usize).div_ceil(8).max(1)
}

/// Bytes for a value below `n` (offsets inside a block of `n` bytes), as the format sizes them.
fn bits_bytes(bits: u32) -> usize {
    (bits as usize).div_ceil(8)
}

/// The superblock's facts the rest of the reader needs.
#[derive(Debug, Clone)]
pub(crate) struct Superblock {
    /// Superblock version (0–3).
    pub version: u8,
    /// Offset of the signature in the data; addresses are relative to it.
    pub base: u64,
    /// Size of file addresses in bytes.
    pub size_of_offsets: u8,
    /// Size of lengths in bytes.
    pub size_of_lengths: u8,
    /// Address of the root group's object header.
    pub root: u64,
    /// The end-of-file address the superblock records (relative to `base`).
    pub eof: u64,
    /// The superblock extension's object header address, when there is one.
    pub extension: Option<u64>,
    /// File offset of the superblock.
    pub at: u64,
}

/// Offset of the signature: 0, or 512, 1024, 2048 … (a user block precedes it).
pub(crate) fn find_signature(data: &[u8]) -> Option<usize> {
    let mut off = 0usize;
    while off <= MAX_SIGNATURE_OFFSET && off.checked_add(8).is_some_and(|e| e <= data.len()) {
        if data[off..].starts_with(SIGNATURE) {
            return Some(off);
        }
        off = if off == 0 { 512 } else { off * 2 };
    }
    None
}

/// One message of an object header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Message<'d> {
    /// Message type.
    pub ty: u16,
    /// Message flags (bit 1: shared).
    pub flags: u8,
    /// The message body.
    pub data: &'d [u8],
    /// File offset of the body.
    pub at: u64,
}

/// A link from a group to an object.
#[derive(Debug, Clone)]
pub(crate) enum Target<'d> {
    /// An object in this file (its header address).
    Hard(u64),
    /// A path inside this file.
    Soft(&'d [u8]),
    /// A file name and an object path in that file.
    External { file: &'d [u8], path: &'d [u8] },
    /// A user-defined link class (type 65–255) and its data.
    UserDefined { class: u8, data: &'d [u8] },
}

/// A named link.
#[derive(Debug, Clone)]
pub(crate) struct Link<'d> {
    pub name: &'d [u8],
    pub target: Target<'d>,
    /// File offset of the link's encoding.
    pub at: u64,
}

/// A datatype, decoded as far as the analysis needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Datatype {
    /// Fixed-length string; `pad` 0 NUL-terminated, 1 NUL-padded, 2 space-padded.
    FixedString { size: u32, pad: u8 },
    /// Variable-length string (global heap).
    VlenString,
    /// Variable-length sequence of `base`.
    VlenSeq(Box<Datatype>),
    /// Fixed-size array of `count` elements of `base`.
    Array { count: u64, base: Box<Datatype> },
    /// Integers (fixed point).
    Int { size: u32 },
    /// Opaque bytes.
    Opaque { size: u32 },
    /// Anything else (floats, compounds, references, enums …): skipped by size.
    Other { class: u8, size: u32 },
}

impl Datatype {
    /// True for a one-byte integer or opaque type (raw bytes a pickle could hide in).
    pub(crate) fn is_bytes(&self) -> bool {
        matches!(self, Self::Int { size: 1 } | Self::Opaque { .. })
    }
}

/// A dataspace: the number of elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dataspace {
    /// Number of elements (1 for scalars, 0 for null dataspaces).
    pub count: u64,
}

/// An attribute message.
#[derive(Debug, Clone)]
pub(crate) struct Attribute<'d> {
    pub name: &'d [u8],
    /// `None` when the datatype is shared (stored elsewhere); then `dtype_raw` holds the reference.
    pub dtype: Option<Datatype>,
    pub space: Dataspace,
    /// The raw value bytes.
    pub data: &'d [u8],
    /// File offset of the value bytes.
    pub data_at: u64,
    /// File offset of the attribute message.
    pub at: u64,
}

/// Data layout of a dataset.
#[derive(Debug, Clone)]
pub(crate) enum Layout {
    /// Compact, contiguous or chunked storage (with the contiguous extent, when known).
    Stored { contiguous: Option<(u64, u64)> },
    /// Virtual dataset: the global heap collection and index of its mapping list.
    Virtual { heap: u64, index: u32 },
    /// A layout this reader does not decode.
    Unknown,
}

/// An External Data Files entry: a file whose bytes are the dataset's raw data.
#[derive(Debug, Clone)]
pub(crate) struct ExternalFile<'d> {
    pub name: &'d [u8],
    pub offset: u64,
    pub size: u64,
}

/// One fractal heap, as far as object lookup needs.
#[derive(Debug, Clone)]
struct FractalHeap {
    id_len: usize,
    off_size: usize,
    len_size: usize,
    filtered: bool,
    /// Huge-object v2 B-tree address.
    huge_btree: Option<u64>,
    /// Direct blocks as (heap offset, size, file offset), sorted by heap offset.
    blocks: Vec<(u64, u64, u64)>,
    at: u64,
}

/// The HDF5 file: the data and the superblock, with caches of parsed heaps.
#[derive(Debug)]
pub(crate) struct File<'d> {
    pub data: &'d [u8],
    pub sb: Superblock,
    so: usize,
    sl: usize,
    gheaps: HashMap<u64, HashMap<u16, (usize, usize)>>,
    fheaps: HashMap<u64, FractalHeap>,
    /// Work done (structures read); checked against a budget by the caller.
    pub work: u64,
}

impl<'d> File<'d> {
    /// Reads the superblock at `sig` (the signature's offset).
    pub(crate) fn open(data: &'d [u8], sig: usize) -> Result<Self> {
        let base = sig as u64;
        let mut c = Cur::new(&data[sig..], base, "superblock");
        c.skip(8)?;
        let version = c.u8()?;
        let sb = match version {
            0 | 1 => {
                c.skip(4)?; // free-space, root symbol table entry, reserved, shared-header versions
                let so = c.u8()?;
                let sl = c.u8()?;
                check_sizes(so, sl, c.at())?;
                c.skip(1 + 2 + 2 + 4)?; // reserved, leaf K, internal K, consistency flags
                if version == 1 {
                    c.skip(4)?; // indexed storage K, reserved
                }
                let so_u = usize::from(so);
                let _base_addr = c.uint(so_u)?;
                let _free_space = c.uint(so_u)?;
                let eof = c.uint(so_u)?;
                let _driver = c.uint(so_u)?;
                // Root group symbol table entry: link name offset, object header address, …
                let _name = c.uint(so_u)?;
                let root = c.uint(so_u)?;
                c.skip(4 + 4 + 16)?;
                Superblock {
                    version,
                    base,
                    size_of_offsets: so,
                    size_of_lengths: sl,
                    root,
                    eof,
                    extension: None,
                    at: base,
                }
            }
            2 | 3 => {
                let so = c.u8()?;
                let sl = c.u8()?;
                check_sizes(so, sl, c.at())?;
                c.skip(1)?; // consistency flags
                let so_u = usize::from(so);
                let _base_addr = c.uint(so_u)?;
                let ext = c.uint(so_u)?;
                let eof = c.uint(so_u)?;
                let root = c.uint(so_u)?;
                c.skip(4)?; // checksum
                Superblock {
                    version,
                    base,
                    size_of_offsets: so,
                    size_of_lengths: sl,
                    root,
                    eof,
                    extension: (!is_undef(ext, so_u)).then_some(ext),
                    at: base,
                }
            }
            v => {
                return Err(H5Error::Version {
                    what: "superblock",
                    at: base,
                    version: v,
                });
            }
        };
        Ok(Self {
            data,
            so: usize::from(sb.size_of_offsets),
            sl: usize::from(sb.size_of_lengths),
            sb,
            gheaps: HashMap::new(),
            fheaps: HashMap::new(),
            work: 0,
        })
    }

    /// Size of offsets.
    pub(crate) fn so(&self) -> usize {
        self.so
    }

    /// Size of lengths.
    pub(crate) fn sl(&self) -> usize {
        self.sl
    }

    /// True for the undefined address.
    pub(crate) fn undef(&self, addr: u64) -> bool {
        is_undef(addr, self.so)
    }

    /// The file offset of `addr`, checked to lie inside the data.
    pub(crate) fn offset(&self, addr: u64, what: &'static str) -> Result<usize> {
        self.sb
            .base
            .checked_add(addr)
            .and_then(|o| usize::try_from(o).ok())
            .filter(|&o| o < self.data.len())
            .ok_or(H5Error::PastEof { what, addr })
    }

    /// A cursor at `addr` running to the end of the data.
    pub(crate) fn cur(&self, addr: u64, what: &'static str) -> Result<Cur<'d>> {
        let o = self.offset(addr, what)?;
        Ok(Cur::new(&self.data[o..], o as u64, what))
    }

    /// `len` bytes at `addr`.
    pub(crate) fn slice(&self, addr: u64, len: u64, what: &'static str) -> Result<&'d [u8]> {
        let o = self.offset(addr, what)?;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| o.checked_add(l))
            .filter(|&e| e <= self.data.len())
            .ok_or(H5Error::Truncated { what, at: o as u64 })?;
        Ok(&self.data[o..end])
    }

    /// Counts `n` structures read.
    pub(crate) fn tick(&mut self, n: u64) {
        self.work = self.work.saturating_add(n);
    }

    /// Fails once the file's work budget is spent.
    pub(crate) fn budget(&self) -> Result<()> {
        if self.work > MAX_WORK {
            return Err(H5Error::Limit {
                what: "HDF5 structures read in one file",
                limit: MAX_WORK as usize,
            });
        }
        Ok(())
    }

    // ----- object headers ------------------------------------------------------------------------

    /// Every message of the object header at `addr`, continuation blocks included.
    pub(crate) fn object_header(&mut self, addr: u64) -> Result<Vec<Message<'d>>> {
        let mut c = self.cur(addr, "object header")?;
        let mut msgs = Vec::new();
        let mut seen = HashSet::new();
        seen.insert(addr);
        let mut pending: Vec<(u64, u64)> = Vec::new();
        let mut v1_count = None;
        let v2 = c.remaining() >= 4 && c.d.starts_with(b"OHDR");
        if v2 {
            c.skip(4)?;
            let version = c.u8()?;
            if version != 2 {
                return Err(H5Error::Version {
                    what: "object header",
                    at: c.at(),
                    version,
                });
            }
            let flags = c.u8()?;
            if flags & 0x20 != 0 {
                c.skip(16)?;
            }
            if flags & 0x10 != 0 {
                c.skip(4)?;
            }
            let size = c.uint(1 << (flags & 3))?;
            let at = c.at();
            let chunk = c.bytes(usize::try_from(size).unwrap_or(usize::MAX))?;
            self.v2_messages(chunk, at, flags, &mut msgs, &mut pending)?;
        } else {
            let at0 = c.at();
            let version = c.u8()?;
            if version != 1 {
                return Err(H5Error::Version {
                    what: "object header",
                    at: at0,
                    version,
                });
            }
            c.skip(1)?;
            let nmsgs = usize::from(c.u16()?);
            c.skip(4)?; // reference count
            let size = c.u32()?;
            c.skip(4)?; // alignment padding
            let at = c.at();
            let chunk = c.bytes(size as usize).map_err(|_| {
                inconsistent(
                    "object header",
                    at0,
                    format!("header size {size} runs past the end of the file"),
                )
            })?;
            self.v1_messages(chunk, at, &mut msgs, &mut pending)?;
            v1_count = Some((nmsgs, at0));
        }
        let mut followed = 0usize;
        while let Some((caddr, clen)) = pending.pop() {
            followed += 1;
            if followed > MAX_CONTINUATIONS {
                return Err(H5Error::Limit {
                    what: "continuation blocks in one object header",
                    limit: MAX_CONTINUATIONS,
                });
            }
            if !seen.insert(caddr) {
                return Err(H5Error::Cycle {
                    what: "object header continuation block",
                    at: self.sb.base.saturating_add(caddr),
                });
            }
            let block = self.slice(caddr, clen, "object header continuation block")?;
            let at = self.sb.base + caddr;
            if v2 {
                if !block.starts_with(b"OCHK") {
                    return Err(H5Error::Signature {
                        what: "object header continuation block",
                        at,
                    });
                }
                let flags = c.d.get(5).copied().unwrap_or(0);
                if block.len() < 8 {
                    return Err(H5Error::Truncated {
                        what: "object header continuation block",
                        at,
                    });
                }
                self.v2_messages(
                    &block[4..block.len() - 4],
                    at + 4,
                    flags,
                    &mut msgs,
                    &mut pending,
                )?;
            } else {
                self.v1_messages(block, at, &mut msgs, &mut pending)?;
            }
        }
        // The library rejects a v1 header holding more messages than its prefix counts.
        if let Some((n, at0)) = v1_count
            && msgs.len() > n
        {
            return Err(inconsistent(
                "object header",
                at0,
                format!("{} messages in a header that declares {n}", msgs.len()),
            ));
        }
        Ok(msgs)
    }

    fn push_msg(
        &mut self,
        m: Message<'d>,
        msgs: &mut Vec<Message<'d>>,
        pending: &mut Vec<(u64, u64)>,
    ) -> Result<()> {
        self.tick(1);
        if msgs.len() >= MAX_MESSAGES_PER_OBJECT {
            return Err(H5Error::Limit {
                what: "messages in one object header",
                limit: MAX_MESSAGES_PER_OBJECT,
            });
        }
        if m.ty == 0x10 {
            let mut c = Cur::new(m.data, m.at, "continuation message");
            let a = c.uint(self.so)?;
            let l = c.uint(self.sl)?;
            if self.undef(a) {
                return Err(inconsistent(
                    "continuation message",
                    m.at,
                    "undefined continuation address",
                ));
            }
            pending.push((a, l));
        }
        msgs.push(m);
        Ok(())
    }

    fn v1_messages(
        &mut self,
        chunk: &'d [u8],
        at: u64,
        msgs: &mut Vec<Message<'d>>,
        pending: &mut Vec<(u64, u64)>,
    ) -> Result<()> {
        let mut c = Cur::new(chunk, at, "object header message");
        while c.remaining() >= 8 {
            let mat = c.at();
            let ty = c.u16()?;
            let size = c.u16()?;
            let flags = c.u8()?;
            c.skip(3)?;
            let data = c.bytes(usize::from(size)).map_err(|_| {
                inconsistent(
                    "object header message",
                    mat,
                    format!("message of {size} bytes runs past its header block"),
                )
            })?;
            self.push_msg(
                Message {
                    ty,
                    flags,
                    data,
                    at: mat + 8,
                },
                msgs,
                pending,
            )?;
        }
        Ok(())
    }

    fn v2_messages(
        &mut self,
        chunk: &'d [u8],
        at: u64,
        hflags: u8,
        msgs: &mut Vec<Message<'d>>,
        pending: &mut Vec<(u64, u64)>,
    ) -> Result<()> {
        let mut c = Cur::new(chunk, at, "object header message");
        let prefix = if hflags & 0x04 != 0 { 6 } else { 4 };
        // What is left after the last message (fewer bytes than a message prefix) is a gap.
        while c.remaining() >= prefix {
            let mat = c.at();
            let ty = u16::from(c.u8()?);
            let size = c.u16()?;
            let flags = c.u8()?;
            if hflags & 0x04 != 0 {
                c.skip(2)?;
            }
            let data = c.bytes(usize::from(size)).map_err(|_| {
                inconsistent(
                    "object header message",
                    mat,
                    format!("message of {size} bytes runs past its header block"),
                )
            })?;
            self.push_msg(
                Message {
                    ty,
                    flags,
                    data,
                    at: mat + prefix as u64,
                },
                msgs,
                pending,
            )?;
        }
        Ok(())
    }

    // ----- old-style groups ----------------------------------------------------------------------

    /// The members of an old-style group: (name, object header address, file offset of the entry).
    pub(crate) fn symbol_table(&mut self, msg: &Message<'d>) -> Result<Vec<Link<'d>>> {
        let mut c = Cur::new(msg.data, msg.at, "symbol table message");
        let btree = c.uint(self.so)?;
        let heap = c.uint(self.so)?;
        let heap_data = self.local_heap(heap)?;
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![(btree, 0usize)];
        while let Some((node, depth)) = stack.pop() {
            if depth > MAX_TREE_DEPTH {
                return Err(H5Error::Limit {
                    what: "levels in a group B-tree",
                    limit: MAX_TREE_DEPTH,
                });
            }
            if !seen.insert(node) {
                return Err(H5Error::Cycle {
                    what: "group B-tree node",
                    at: self.sb.base.saturating_add(node),
                });
            }
            self.tick(1);
            self.budget()?;
            let mut c = self.cur(node, "group B-tree node")?;
            let at = c.at();
            if c.bytes(4)? != b"TREE" {
                return Err(H5Error::Signature {
                    what: "group B-tree node",
                    at,
                });
            }
            let ty = c.u8()?;
            if ty != 0 {
                return Err(inconsistent(
                    "group B-tree node",
                    at,
                    format!("node type {ty} in a group's B-tree"),
                ));
            }
            let level = usize::from(c.u8()?);
            let entries = usize::from(c.u16()?);
            c.skip(2 * self.so)?;
            c.skip(self.sl)?; // key 0
            let mut children = Vec::new();
            for _ in 0..entries {
                children.push(c.uint(self.so)?);
                c.skip(self.sl)?;
                self.tick(1);
            }
            if level > 0 {
                // The level must fall by one per step down; anything else is a crafted tree.
                for &ch in children.iter().rev() {
                    stack.push((ch, depth + 1));
                }
            } else {
                for ch in children {
                    self.symbol_node(ch, heap_data, &mut out, &mut seen)?;
                }
            }
            if out.len() > MAX_TREE_RECORDS {
                return Err(H5Error::Limit {
                    what: "members in one group",
                    limit: MAX_TREE_RECORDS,
                });
            }
        }
        Ok(out)
    }

    fn symbol_node(
        &mut self,
        addr: u64,
        heap: &'d [u8],
        out: &mut Vec<Link<'d>>,
        seen: &mut HashSet<u64>,
    ) -> Result<()> {
        if !seen.insert(addr) {
            return Err(H5Error::Cycle {
                what: "symbol table node",
                at: self.sb.base.saturating_add(addr),
            });
        }
        let mut c = self.cur(addr, "symbol table node")?;
        let at = c.at();
        if c.bytes(4)? != b"SNOD" {
            return Err(H5Error::Signature {
                what: "symbol table node",
                at,
            });
        }
        let version = c.u8()?;
        if version != 1 {
            return Err(H5Error::Version {
                what: "symbol table node",
                at,
                version,
            });
        }
        c.skip(1)?;
        let n = c.u16()?;
        for _ in 0..n {
            let eat = c.at();
            let name_off = c.uint(self.so)?;
            let obj = c.uint(self.so)?;
            let cache = c.u32()?;
            c.skip(4)?;
            let scratch = c.bytes(16)?;
            let name = heap_str(heap, name_off, eat)?;
            // Cache type 2: a soft link whose value sits in the local heap (no object header).
            let target = if cache == 2 {
                Target::Soft(heap_str(heap, le(&scratch[..4]), eat)?)
            } else {
                Target::Hard(obj)
            };
            out.push(Link {
                name,
                target,
                at: eat,
            });
            self.tick(1);
        }
        Ok(())
    }

    /// The data segment of the local heap at `addr`.
    pub(crate) fn local_heap(&self, addr: u64) -> Result<&'d [u8]> {
        let mut c = self.cur(addr, "local heap")?;
        let at = c.at();
        if c.bytes(4)? != b"HEAP" {
            return Err(H5Error::Signature {
                what: "local heap",
                at,
            });
        }
        let version = c.u8()?;
        if version != 0 {
            return Err(H5Error::Version {
                what: "local heap",
                at,
                version,
            });
        }
        c.skip(3)?;
        let size = c.uint(self.sl)?;
        c.skip(self.sl)?;
        let data = c.uint(self.so)?;
        self.slice(data, size, "local heap data segment")
    }

    // ----- messages ------------------------------------------------------------------------------

    /// A link message.
    pub(crate) fn link(&self, msg: &Message<'d>) -> Result<Link<'d>> {
        parse_link(msg.data, msg.at, self.so)
    }

    /// Link info message: the dense-storage fractal heap and name index, when present.
    pub(crate) fn dense_index(&self, msg: &Message<'d>, attrs: bool) -> Result<Option<(u64, u64)>> {
        let what = if attrs {
            "attribute info message"
        } else {
            "link info message"
        };
        let mut c = Cur::new(msg.data, msg.at, what);
        let version = c.u8()?;
        if version != 0 {
            return Err(H5Error::Version {
                what,
                at: msg.at,
                version,
            });
        }
        let flags = c.u8()?;
        if flags & 1 != 0 {
            c.skip(if attrs { 2 } else { 8 })?;
        }
        let heap = c.uint(self.so)?;
        let names = c.uint(self.so)?;
        if self.undef(heap) {
            return Ok(None);
        }
        Ok(Some((heap, names)))
    }

    /// An attribute message (compact, or read from dense storage).
    pub(crate) fn attribute(&self, data: &'d [u8], at: u64) -> Result<Attribute<'d>> {
        let what = "attribute message";
        let mut c = Cur::new(data, at, what);
        let version = c.u8()?;
        let flags = c.u8()?;
        let name_len = usize::from(c.u16()?);
        let dt_len = usize::from(c.u16()?);
        let ds_len = usize::from(c.u16()?);
        let pad = |n: usize| if version == 1 { n.div_ceil(8) * 8 } else { n };
        match version {
            1..=3 => {}
            v => {
                return Err(H5Error::Version {
                    what,
                    at,
                    version: v,
                });
            }
        }
        if version == 3 {
            c.skip(1)?; // name character set
        }
        let name = c.bytes(pad(name_len))?;
        let name = &name[..name_len.min(name.len())];
        let name = &name[..memchr::memchr(0, name).unwrap_or(name.len())];
        let dt_at = c.at();
        let dt_raw = c.bytes(pad(dt_len))?;
        let ds_at = c.at();
        let ds_raw = c.bytes(pad(ds_len))?;
        let dtype = if flags & 1 != 0 {
            None
        } else {
            Some(parse_datatype(&dt_raw[..dt_len.min(dt_raw.len())], dt_at, 0)?.0)
        };
        if flags & 2 != 0 {
            return Err(H5Error::Unsupported(format!(
                "attribute at offset {at} with a shared dataspace"
            )));
        }
        let space = parse_dataspace(ds_raw, ds_at, self.sl)?;
        let data_at = c.at();
        let rest = &data[c.pos()..];
        Ok(Attribute {
            name,
            dtype,
            space,
            data: rest,
            data_at,
            at,
        })
    }

    /// The datatype message of a committed datatype's object header (a shared datatype).
    pub(crate) fn shared_datatype(&mut self, raw: &'d [u8], at: u64) -> Result<Datatype> {
        let mut c = Cur::new(raw, at, "shared message");
        let version = c.u8()?;
        let addr = match version {
            1 => {
                c.skip(7)?;
                c.uint(self.so)?
            }
            2 => {
                c.skip(1)?;
                c.uint(self.so)?
            }
            3 => {
                let ty = c.u8()?;
                if ty != 2 {
                    return Err(H5Error::Unsupported(format!(
                        "datatype at offset {at} kept in the shared-message heap"
                    )));
                }
                c.uint(self.so)?
            }
            v => {
                return Err(H5Error::Version {
                    what: "shared message",
                    at,
                    version: v,
                });
            }
        };
        let msgs = self.object_header(addr)?;
        let m = msgs.iter().find(|m| m.ty == 3).ok_or_else(|| {
            inconsistent(
                "committed datatype",
                at,
                "object header holds no datatype message",
            )
        })?;
        Ok(parse_datatype(m.data, m.at, 0)?.0)
    }

    /// The raw bytes of the shared datatype reference of an attribute (its datatype field).
    pub(crate) fn attribute_dtype_raw(data: &'d [u8]) -> Option<&'d [u8]> {
        let version = *data.first()?;
        let name_len = usize::from(u16::from_le_bytes([*data.get(2)?, *data.get(3)?]));
        let dt_len = usize::from(u16::from_le_bytes([*data.get(4)?, *data.get(5)?]));
        let pad = |n: usize| if version == 1 { n.div_ceil(8) * 8 } else { n };
        let start = 8 + usize::from(version == 3) + pad(name_len);
        data.get(start..start.checked_add(dt_len)?)
    }

    /// External Data Files message: the files and extents.
    pub(crate) fn external_files(&self, msg: &Message<'d>) -> Result<Vec<ExternalFile<'d>>> {
        let what = "external data files message";
        let mut c = Cur::new(msg.data, msg.at, what);
        let version = c.u8()?;
        if version != 1 {
            return Err(H5Error::Version {
                what,
                at: msg.at,
                version,
            });
        }
        c.skip(3)?;
        let _allocated = c.u16()?;
        let used = c.u16()?;
        let heap = c.uint(self.so)?;
        let heap = self.local_heap(heap)?;
        let mut out = Vec::new();
        for _ in 0..used {
            let eat = c.at();
            let name_off = c.uint(self.sl)?;
            let offset = c.uint(self.sl)?;
            let size = c.uint(self.sl)?;
            let name = usize::try_from(name_off)
                .ok()
                .and_then(|o| heap.get(o..))
                .ok_or_else(|| {
                    inconsistent(
                        "external file entry",
                        eat,
                        format!("name offset {name_off} lies outside the local heap"),
                    )
                })?;
            let end = memchr::memchr(0, name).unwrap_or(name.len());
            out.push(ExternalFile {
                name: &name[..end],
                offset,
                size,
            });
        }
        Ok(out)
    }

    /// Data layout message.
    pub(crate) fn layout(&self, msg: &Message<'d>) -> Result<Layout> {
        let what = "data layout message";
        let mut c = Cur::new(msg.data, msg.at, what);
        let version = c.u8()?;
        match version {
            1 | 2 => {
                let _rank = c.u8()?;
                let class = c.u8()?;
                c.skip(5)?;
                if class == 1 {
                    let addr = c.uint(self.so)?;
                    Ok(Layout::Stored {
                        contiguous: Some((addr, 0)),
                    })
                } else {
                    Ok(Layout::Stored { contiguous: None })
                }
            }
            // HDF5 2.0 writes version 5 for filtered chunked datasets (`libver="latest"`); its
            // class byte and storage fields are laid out as in version 4.
            3..=5 => {
                let class = c.u8()?;
                match class {
                    0 | 2 => Ok(Layout::Stored { contiguous: None }),
                    1 => {
                        let addr = c.uint(self.so)?;
                        let size = c.uint(self.sl)?;
                        Ok(Layout::Stored {
                            contiguous: Some((addr, size)),
                        })
                    }
                    3 if version >= 4 => {
                        let heap = c.uint(self.so)?;
                        let index = c.u32()?;
                        Ok(Layout::Virtual { heap, index })
                    }
                    _ => Ok(Layout::Unknown),
                }
            }
            v => Err(H5Error::Version {
                what,
                at: msg.at,
                version: v,
            }),
        }
    }

    // ----- global heap ---------------------------------------------------------------------------

    /// The object `index` of the global heap collection at `addr`.
    pub(crate) fn global_object(&mut self, addr: u64, index: u32) -> Result<&'d [u8]> {
        let what = "global heap collection";
        if !self.gheaps.contains_key(&addr) {
            let mut c = self.cur(addr, what)?;
            let at = c.at();
            if c.bytes(4)? != b"GCOL" {
                return Err(H5Error::Signature { what, at });
            }
            let version = c.u8()?;
            if version != 1 {
                return Err(H5Error::Version { what, at, version });
            }
            c.skip(3)?;
            let size = c.uint(self.sl)?;
            let hdr = 8 + self.sl;
            let coll = self.slice(addr, size, what)?;
            let mut c = Cur::new(coll, at, what);
            c.skip(hdr)?;
            let mut map = HashMap::new();
            // Each object: index, reference count, reserved, size, data padded to 8 bytes.
            while c.remaining() >= 8 + self.sl {
                let idx = c.u16()?;
                c.skip(6)?;
                let osize = c.uint(self.sl)?;
                if idx == 0 {
                    break; // free space runs to the end of the collection
                }
                let start = c.pos();
                let padded = usize::try_from(osize)
                    .ok()
                    .and_then(|s| s.checked_add(7))
                    .map(|s| s / 8 * 8)
                    .ok_or_else(|| inconsistent(what, c.at(), "object size overflows"))?;
                let len = osize as usize;
                c.skip(padded.min(c.remaining()))?;
                if start.checked_add(len).is_none_or(|e| e > coll.len()) {
                    return Err(inconsistent(
                        what,
                        at,
                        format!("object {idx} of {osize} bytes runs past its collection"),
                    ));
                }
                map.insert(idx, (start, len));
                self.tick(1);
            }
            self.gheaps.insert(addr, map);
        }
        let coll_off = self.offset(addr, what)?;
        let (start, len) = self
            .gheaps
            .get(&addr)
            .and_then(|m| u16::try_from(index).ok().and_then(|i| m.get(&i)))
            .copied()
            .ok_or_else(|| {
                inconsistent(
                    what,
                    coll_off as u64,
                    format!("no object with index {index}"),
                )
            })?;
        Ok(&self.data[coll_off + start..coll_off + start + len])
    }

    // ----- dense storage: fractal heap + v2 B-tree -----------------------------------------------

    fn fractal_heap(&mut self, addr: u64) -> Result<&FractalHeap> {
        if !self.fheaps.contains_key(&addr) {
            let h = self.read_fractal_heap(addr)?;
            self.fheaps.insert(addr, h);
        }
        Ok(&self.fheaps[&addr])
    }

    fn read_fractal_heap(&mut self, addr: u64) -> Result<FractalHeap> {
        let what = "fractal heap header";
        let (so, sl) = (self.so, self.sl);
        let mut c = self.cur(addr, what)?;
        let at = c.at();
        if c.bytes(4)? != b"FRHP" {
            return Err(H5Error::Signature { what, at });
        }
        let version = c.u8()?;
        if version != 0 {
            return Err(H5Error::Version { what, at, version });
        }
        let id_len = usize::from(c.u16()?);
        let filter_len = usize::from(c.u16()?);
        let _flags = c.u8()?;
        let max_man = c.u32()?;
        let _next_huge = c.uint(sl)?;
        let huge_btree = c.uint(so)?;
        c.skip(sl)?; // free space in managed blocks
        c.skip(so)?; // free-space manager
        c.skip(sl * 4)?; // managed space, allocated, iterator offset, managed object count
        c.skip(sl * 4)?; // huge size, huge count, tiny size, tiny count
        let width = u64::from(c.u16()?);
        let start = c.uint(sl)?;
        let max_direct = c.uint(sl)?;
        let max_heap_bits = u32::from(c.u16()?);
        let _start_rows = c.u16()?;
        let root = c.uint(so)?;
        let cur_rows = usize::from(c.u16()?);
        let bad = |d: &str| inconsistent(what, at, d.to_owned());
        if width == 0 || !width.is_power_of_two() || width > 65_536 {
            return Err(bad("table width is not a power of two"));
        }
        if !start.is_power_of_two() || !max_direct.is_power_of_two() || max_direct < start {
            return Err(bad("block sizes are not powers of two"));
        }
        if max_heap_bits == 0 || max_heap_bits > 64 {
            return Err(bad("maximum heap size out of range"));
        }
        let off_size = bits_bytes(max_heap_bits);
        let len_size = bits_bytes(max_direct.trailing_zeros()).min(enc_size(u64::from(max_man)));
        if 1 + off_size + len_size > id_len.max(1 + off_size + len_size) || id_len > 64 {
            return Err(bad("heap ID length out of range"));
        }
        let filtered = filter_len > 0;
        let mut blocks = Vec::new();
        if !is_undef(root, so) {
            let max_direct_rows =
                (max_direct.trailing_zeros() - start.trailing_zeros()) as usize + 2;
            let row_size = |r: usize| -> u64 {
                if r < 2 {
                    start
                } else {
                    start.checked_shl(r as u32 - 1).unwrap_or(u64::MAX)
                }
            };
            if cur_rows == 0 {
                blocks.push((0, start, root));
            } else {
                let first_row_bits = start.trailing_zeros() + width.trailing_zeros();
                let mut seen = HashSet::new();
                let mut entries = 0usize;
                let mut stack = vec![(root, cur_rows, 0u64, 0usize)];
                while let Some((iaddr, nrows, heap_off, depth)) = stack.pop() {
                    if depth > MAX_TREE_DEPTH || nrows > 64 {
                        return Err(bad("indirect blocks nest too deep"));
                    }
                    if !seen.insert(iaddr) {
                        return Err(H5Error::Cycle {
                            what: "fractal heap indirect block",
                            at: self.sb.base.saturating_add(iaddr),
                        });
                    }
                    let mut c = self.cur(iaddr, "fractal heap indirect block")?;
                    let iat = c.at();
                    if c.bytes(4)? != b"FHIB" {
                        return Err(H5Error::Signature {
                            what: "fractal heap indirect block",
                            at: iat,
                        });
                    }
                    c.skip(1 + so + off_size)?;
                    let mut off = heap_off;
                    for r in 0..nrows {
                        let rs = row_size(r);
                        for _ in 0..width {
                            let child = c.uint(so)?;
                            if r < max_direct_rows {
                                if filtered {
                                    c.skip(sl + 4)?;
                                }
                                if !is_undef(child, so) {
                                    blocks.push((off, rs, child));
                                }
                            } else if !is_undef(child, so) {
                                let child_rows = (rs.trailing_zeros())
                                    .checked_sub(first_row_bits)
                                    .map_or(0, |x| x as usize + 1);
                                stack.push((child, child_rows, off, depth + 1));
                            }
                            off = off.saturating_add(rs);
                            entries += 1;
                            if blocks.len() > MAX_HEAP_BLOCKS || entries > 4 * MAX_HEAP_BLOCKS {
                                return Err(H5Error::Limit {
                                    what: "blocks in one fractal heap",
                                    limit: MAX_HEAP_BLOCKS,
                                });
                            }
                            self.tick(1);
                        }
                    }
                }
            }
        }
        blocks.sort_unstable();
        Ok(FractalHeap {
            id_len,
            off_size,
            len_size,
            filtered,
            huge_btree: (!is_undef(huge_btree, so)).then_some(huge_btree),
            blocks,
            at,
        })
    }

    /// The object a fractal heap ID names.
    fn heap_object(&mut self, heap_addr: u64, id: &'d [u8]) -> Result<&'d [u8]> {
        let (so, sl) = (self.so, self.sl);
        let h = self.fractal_heap(heap_addr)?.clone();
        let what = "fractal heap object";
        let first = *id.first().ok_or(H5Error::Truncated { what, at: h.at })?;
        if first >> 6 != 0 {
            return Err(inconsistent(what, h.at, "heap ID version is not 0"));
        }
        match (first >> 4) & 3 {
            0 => {
                if h.filtered {
                    return Err(H5Error::Unsupported(
                        "fractal heap with filtered (compressed) direct blocks".into(),
                    ));
                }
                let mut c = Cur::new(id, h.at, "heap ID");
                c.skip(1)?;
                let off = c.uint(h.off_size)?;
                let len = c.uint(h.len_size)?;
                let i = h.blocks.partition_point(|b| b.0 <= off);
                let (boff, bsize, baddr) = i
                    .checked_sub(1)
                    .and_then(|i| h.blocks.get(i))
                    .copied()
                    .ok_or_else(|| {
                        inconsistent(what, h.at, format!("heap offset {off} is in no block"))
                    })?;
                let rel = off - boff;
                if rel.checked_add(len).is_none_or(|e| e > bsize) {
                    return Err(inconsistent(
                        what,
                        h.at,
                        format!("object at heap offset {off} of {len} bytes crosses its block"),
                    ));
                }
                let block = self.slice(baddr, bsize, "fractal heap direct block")?;
                if !block.starts_with(b"FHDB") {
                    return Err(H5Error::Signature {
                        what: "fractal heap direct block",
                        at: self.sb.base.saturating_add(baddr),
                    });
                }
                Ok(&block[rel as usize..(rel + len) as usize])
            }
            1 => {
                // Huge object: directly addressed when the ID is long enough, else keyed in a B-tree.
                let mut c = Cur::new(id, h.at, "heap ID");
                c.skip(1)?;
                if h.id_len > so + sl && !h.filtered {
                    let a = c.uint(so)?;
                    let l = c.uint(sl)?;
                    return self.slice(a, l, "huge heap object");
                }
                let key = c.uint(h.id_len.saturating_sub(1).min(sl))?;
                let bt = h
                    .huge_btree
                    .ok_or_else(|| inconsistent(what, h.at, "huge object without a B-tree"))?;
                let recs = self.btree2(bt)?;
                for (ty, rec, _) in recs {
                    let mut c = Cur::new(rec, 0, "huge object record");
                    let (a, l, k) = match ty {
                        1 => (c.uint(so)?, c.uint(sl)?, c.uint(sl)?),
                        2 => {
                            let a = c.uint(so)?;
                            let l = c.uint(sl)?;
                            c.skip(4 + sl)?;
                            (a, l, c.uint(sl)?)
                        }
                        _ => continue,
                    };
                    if k == key {
                        if ty == 2 {
                            return Err(H5Error::Unsupported(
                                "filtered huge fractal heap object".into(),
                            ));
                        }
                        return self.slice(a, l, "huge heap object");
                    }
                }
                Err(inconsistent(
                    what,
                    h.at,
                    format!("huge object {key} is not in its B-tree"),
                ))
            }
            2 => {
                let len = usize::from(first & 0x0f) + 1;
                id.get(1..1 + len)
                    .ok_or(H5Error::Truncated { what, at: h.at })
            }
            _ => Err(inconsistent(what, h.at, "reserved heap ID type")),
        }
    }

    /// Every record of the v2 B-tree at `addr`: (tree type, record bytes, file offset).
    pub(crate) fn btree2(&mut self, addr: u64) -> Result<Vec<(u8, &'d [u8], u64)>> {
        let what = "v2 B-tree header";
        let so = self.so;
        let mut c = self.cur(addr, what)?;
        let at = c.at();
        if c.bytes(4)? != b"BTHD" {
            return Err(H5Error::Signature { what, at });
        }
        let version = c.u8()?;
        if version != 0 {
            return Err(H5Error::Version { what, at, version });
        }
        let ty = c.u8()?;
        let node_size = u64::from(c.u32()?);
        let rec_size = u64::from(c.u16()?);
        let depth = usize::from(c.u16()?);
        c.skip(2)?;
        let root = c.uint(so)?;
        let root_n = c.u16()?;
        let bad = |d: &str| inconsistent(what, at, d.to_owned());
        if rec_size == 0 || node_size <= 10 + rec_size || depth > MAX_TREE_DEPTH {
            return Err(bad("node or record size out of range"));
        }
        if is_undef(root, so) {
            return Ok(Vec::new());
        }
        // Sizes of the child-pointer fields, per level, as the format derives them.
        let max_leaf = (node_size - 10) / rec_size;
        let max_nrec_size = enc_size(max_leaf);
        let mut cum_max = vec![max_leaf];
        let mut cum_size = vec![0usize];
        for d in 1..=depth {
            let ptr =
                so as u64 + max_nrec_size as u64 + if d > 1 { cum_size[d - 1] as u64 } else { 0 };
            let max_n = (node_size - 10).saturating_sub(ptr) / (rec_size + ptr);
            let cum = max_n
                .saturating_add(1)
                .saturating_mul(cum_max[d - 1])
                .saturating_add(max_n);
            cum_max.push(cum);
            cum_size.push(enc_size(cum));
        }
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![(root, u64::from(root_n), depth)];
        while let Some((naddr, n, d)) = stack.pop() {
            if !seen.insert(naddr) {
                return Err(H5Error::Cycle {
                    what: "v2 B-tree node",
                    at: self.sb.base.saturating_add(naddr),
                });
            }
            let nwhat = if d == 0 {
                "v2 B-tree leaf node"
            } else {
                "v2 B-tree internal node"
            };
            self.tick(1);
            self.budget()?;
            let node = self.slice(naddr, node_size, nwhat)?;
            let nat = self.sb.base + naddr;
            let sig: &[u8] = if d == 0 { b"BTLF" } else { b"BTIN" };
            if !node.starts_with(sig) {
                return Err(H5Error::Signature {
                    what: nwhat,
                    at: nat,
                });
            }
            let mut c = Cur::new(node, nat, nwhat);
            c.skip(6)?;
            for _ in 0..n {
                let rat = c.at();
                out.push((ty, c.bytes(rec_size as usize)?, rat));
                self.tick(1);
                if out.len() > MAX_TREE_RECORDS {
                    return Err(H5Error::Limit {
                        what: "records in one v2 B-tree",
                        limit: MAX_TREE_RECORDS,
                    });
                }
            }
            if d > 0 {
                for _ in 0..=n {
                    let child = c.uint(so)?;
                    let cn = c.uint(max_nrec_size)?;
                    if d > 1 {
                        c.skip(cum_size[d - 1])?;
                    }
                    stack.push((child, cn, d - 1));
                }
            }
        }
        Ok(out)
    }

    /// Links kept in dense storage: the name index's records resolved through the heap.
    pub(crate) fn dense_links(&mut self, heap: u64, names: u64) -> Result<Vec<Link<'d>>> {
        let recs = self.btree2(names)?;
        let id_len = self.fractal_heap(heap)?.id_len;
        let mut out = Vec::new();
        for (ty, rec, rat) in recs {
            if ty != 5 {
                return Err(inconsistent(
                    "link name index",
                    rat,
                    format!("record type {ty} in a link name index"),
                ));
            }
            let id = rec
                .get(4..4 + id_len.min(rec.len().saturating_sub(4)))
                .unwrap_or(&[]);
            let obj = self.heap_object(heap, id)?;
            let at = self.data_offset(obj);
            out.push(parse_link(obj, at, self.so)?);
        }
        Ok(out)
    }

    /// Attributes kept in dense storage.
    pub(crate) fn dense_attributes(&mut self, heap: u64, names: u64) -> Result<Vec<Attribute<'d>>> {
        let recs = self.btree2(names)?;
        let id_len = self.fractal_heap(heap)?.id_len;
        let mut out = Vec::new();
        for (ty, rec, rat) in recs {
            if ty != 8 {
                return Err(inconsistent(
                    "attribute name index",
                    rat,
                    format!("record type {ty} in an attribute name index"),
                ));
            }
            self.budget()?;
            let id = rec.get(..id_len.min(rec.len())).unwrap_or(&[]);
            if rec.get(id_len).is_some_and(|f| f & 2 != 0) {
                return Err(H5Error::Unsupported(
                    "attribute kept in the shared-message heap".into(),
                ));
            }
            let obj = self.heap_object(heap, id)?;
            let at = self.data_offset(obj);
            out.push(self.attribute(obj, at)?);
        }
        Ok(out)
    }

    /// The file offset of a slice of `self.data`.
    fn data_offset(&self, s: &[u8]) -> u64 {
        (s.as_ptr() as usize).saturating_sub(self.data.as_ptr() as usize) as u64
    }
}

/// The NUL-terminated string at `off` in a local heap's data segment.
fn heap_str(heap: &[u8], off: u64, at: u64) -> Result<&[u8]> {
    let s = usize::try_from(off)
        .ok()
        .and_then(|o| heap.get(o..))
        .ok_or_else(|| {
            inconsistent(
                "symbol table entry",
                at,
                format!("name offset {off} lies outside the local heap"),
            )
        })?;
    Ok(&s[..memchr::memchr(0, s).unwrap_or(s.len())])
}

fn check_sizes(so: u8, sl: u8, at: u64) -> Result<()> {
    for (what, v) in [("size of offsets", so), ("size of lengths", sl)] {
        if !matches!(v, 2 | 4 | 8) {
            return Err(inconsistent(
                "superblock",
                at,
                format!("{what} is {v} (2, 4 or 8 expected)"),
            ));
        }
    }
    Ok(())
}

fn is_undef(addr: u64, so: usize) -> bool {
    if so >= 8 {
        addr == u64::MAX
    } else {
        addr == (1u64 << (so * 8)) - 1
    }
}

/// Parses a link message body.
pub(crate) fn parse_link(data: &[u8], at: u64, so: usize) -> Result<Link<'_>> {
    let what = "link message";
    let mut c = Cur::new(data, at, what);
    let version = c.u8()?;
    if version != 1 {
        return Err(H5Error::Version { what, at, version });
    }
    let flags = c.u8()?;
    let ty = if flags & 0x08 != 0 { c.u8()? } else { 0 };
    if flags & 0x04 != 0 {
        c.skip(8)?;
    }
    if flags & 0x10 != 0 {
        c.skip(1)?;
    }
    let name_len = c.uint(1 << (flags & 3))?;
    let name = c.bytes(usize::try_from(name_len).unwrap_or(usize::MAX))?;
    let target = match ty {
        0 => Target::Hard(c.uint(so)?),
        1 => {
            let n = usize::from(c.u16()?);
            Target::Soft(c.bytes(n)?)
        }
        64 => {
            let n = usize::from(c.u16()?);
            let info = c.bytes(n)?;
            let mut ic = Cur::new(info, at, "external link");
            let _vf = ic.u8()?;
            let file = ic.cstr()?;
            let path = if ic.remaining() > 0 {
                let rest = &info[ic.pos()..];
                &rest[..memchr::memchr(0, rest).unwrap_or(rest.len())]
            } else {
                &[][..]
            };
            Target::External { file, path }
        }
        65..=255 => {
            let n = usize::from(c.u16()?);
            Target::UserDefined {
                class: ty,
                data: c.bytes(n)?,
            }
        }
        t => {
            return Err(inconsistent(what, at, format!("reserved link type {t}")));
        }
    };
    Ok(Link { name, target, at })
}

/// Parses a dataspace message body.
pub(crate) fn parse_dataspace(data: &[u8], at: u64, sl: usize) -> Result<Dataspace> {
    let what = "dataspace message";
    let mut c = Cur::new(data, at, what);
    let version = c.u8()?;
    let rank = usize::from(c.u8()?);
    let _flags = c.u8()?;
    let null = match version {
        1 => {
            c.skip(5)?;
            false
        }
        2 => c.u8()? == 2,
        v => {
            return Err(H5Error::Version {
                what,
                at,
                version: v,
            });
        }
    };
    if rank > 32 {
        return Err(inconsistent(what, at, format!("rank {rank} exceeds 32")));
    }
    let mut count: u64 = 1;
    for _ in 0..rank {
        let d = c.uint(sl)?;
        count = count
            .checked_mul(d)
            .ok_or_else(|| inconsistent(what, at, "the number of elements overflows 64 bits"))?;
    }
    Ok(Dataspace {
        count: if null { 0 } else { count },
    })
}

/// Parses a datatype; returns it and the bytes it used.
pub(crate) fn parse_datatype(data: &[u8], at: u64, depth: usize) -> Result<(Datatype, usize)> {
    let what = "datatype";
    if depth > MAX_TYPE_DEPTH {
        return Err(H5Error::Limit {
            what: "levels of nested datatypes",
            limit: MAX_TYPE_DEPTH,
        });
    }
    let mut c = Cur::new(data, at, what);
    let b0 = c.u8()?;
    let bits = c.bytes(3)?;
    let size = c.u32()?;
    let class = b0 & 0x0f;
    let version = b0 >> 4;
    let dt = match class {
        0 => {
            c.skip(4)?;
            Datatype::Int { size }
        }
        1 => {
            c.skip(12)?;
            Datatype::Other { class, size }
        }
        3 => Datatype::FixedString {
            size,
            pad: bits[0] & 0x0f,
        },
        5 => {
            let tag = usize::from(bits[0]);
            c.skip(tag)?;
            Datatype::Opaque { size }
        }
        9 => {
            let (base, used) = parse_datatype(&data[c.pos()..], c.at(), depth + 1)?;
            c.skip(used)?;
            if bits[0] & 0x0f == 1 {
                Datatype::VlenString
            } else {
                Datatype::VlenSeq(Box::new(base))
            }
        }
        10 => {
            let rank = usize::from(c.u8()?);
            if rank == 0 || rank > MAX_ARRAY_RANK {
                return Err(inconsistent(what, at, format!("array rank {rank}")));
            }
            if version < 3 {
                c.skip(3)?;
            }
            let mut count: u64 = 1;
            for _ in 0..rank {
                count = count
                    .checked_mul(u64::from(c.u32()?))
                    .ok_or_else(|| inconsistent(what, at, "array size overflows"))?;
            }
            if version < 3 {
                c.skip(4 * rank)?;
            }
            let (base, used) = parse_datatype(&data[c.pos()..], c.at(), depth + 1)?;
            c.skip(used)?;
            Datatype::Array {
                count,
                base: Box::new(base),
            }
        }
        2 | 4 | 6 | 7 | 8 => {
            // Properties of these classes are not needed: the caller knows the message length.
            c.skip(c.remaining())?;
            Datatype::Other { class, size }
        }
        _ => {
            return Err(inconsistent(
                what,
                at,
                format!("unknown datatype class {class}"),
            ));
        }
    };
    Ok((dt, c.pos()))
}

/// Element size of a datatype as stored in an attribute's value.
pub(crate) fn stored_size(dt: &Datatype, so: usize) -> Option<u64> {
    Some(match dt {
        Datatype::FixedString { size, .. }
        | Datatype::Int { size }
        | Datatype::Opaque { size }
        | Datatype::Other { size, .. } => u64::from(*size),
        Datatype::VlenString | Datatype::VlenSeq(_) => 4 + so as u64 + 4,
        Datatype::Array { count, base } => count.checked_mul(stored_size(base, so)?)?,
    })
}
