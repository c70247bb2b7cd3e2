//! Bytes to analyse: a memory map of a file on disk, or bytes we own (a decompressed member).

use std::ops::Deref;

/// Files smaller than this are read into memory rather than mapped.
const SMALL_FILE: u64 = 256 * 1024;

/// A read-only byte buffer, either mapped from disk or owned.
pub(crate) enum Blob {
    /// A memory-mapped file; pages are read only when touched, so tensor data is never read.
    Mapped(memmap2::Mmap),
    /// Bytes held in memory (decompressed data, small files).
    Owned(Vec<u8>),
}

impl Blob {
    /// Maps `file` read-only. Small files are read instead: for them a map costs more system calls
    /// than a read, and empty files cannot be mapped on some systems.
    pub(crate) fn map(file: &std::fs::File, len: u64) -> std::io::Result<Self> {
        if len < SMALL_FILE {
            use std::io::Read;
            let mut buf = Vec::with_capacity(len as usize);
            // `take` bounds the read if the file grows while we read it.
            file.take(SMALL_FILE).read_to_end(&mut buf)?;
            return Ok(Self::Owned(buf));
        }
        // SAFETY: the map is read-only. Another process truncating or rewriting the file while we scan it
        // can change what we read or fault the page; that is the accepted trade-off of every mmap-based
        // scanner (ripgrep makes the same one) and it cannot make us execute anything.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(file)? };
        // Scans jump from header to header over tensor data: no read-ahead, or the kernel maps
        // megabytes around every page touched and the scan reads what it never looks at.
        let _ = map.advise(memmap2::Advice::Random);
        Ok(Self::Mapped(map))
    }
}

impl Deref for Blob {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Self::Mapped(m) => m,
            Self::Owned(v) => v,
        }
    }
}
