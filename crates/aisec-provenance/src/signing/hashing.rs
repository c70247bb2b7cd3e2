//! Digests of files and file ranges: SHA-256, BLAKE2b-512 and BLAKE3.
//!
//! Each work unit (a whole file, or one shard of one) is hashed on its own thread, read with
//! `pread` in cache-sized pieces into one buffer per thread. Reads rather than memory maps: a file
//! truncated while it is hashed gives an error naming it instead of a SIGBUS that kills the
//! process, resident memory stays at a few MiB whatever the file sizes, and the copy leaves each
//! piece in the cache where the hash reads it (measured faster for SHA-256 than maps; see
//! docs/benchmarks.md). BLAKE3 also spreads a piece across threads (its tree mode).

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use blake2::Digest as _;

/// The most a single read asks for (tests use smaller values to exercise the loop).
const WINDOW: u64 = 64 << 20;
/// SHA-256 and BLAKE2b read a unit in pieces of this size, into one buffer per unit: small enough
/// to stay in a per-core L2 cache (1-2 MiB on current x86), so the hash reads what the copy has
/// just brought into the cache.
const PIECE: usize = 512 << 10;
/// BLAKE3 reads larger pieces: its tree mode spreads a piece over the cores.
const BLAKE3_PIECE: usize = 1 << 20;
/// BLAKE3 hashes a unit at least this large with its multi-threaded tree mode.
const BLAKE3_PARALLEL: u64 = 1 << 20;

/// The hash algorithms of the model-signing format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA-256 (the default).
    Sha256,
    /// BLAKE2b with a 64-byte digest.
    Blake2b,
    /// BLAKE3 with a 32-byte digest.
    Blake3,
}

impl HashAlg {
    /// The name the format records (`hash_type`, and each resource's `algorithm` for files).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Blake2b => "blake2b",
            Self::Blake3 => "blake3",
        }
    }

    /// Parses a recorded name. `blake2` is accepted for `blake2b` (the reference tool's option name).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(Self::Sha256),
            "blake2b" | "blake2" => Some(Self::Blake2b),
            "blake3" => Some(Self::Blake3),
            _ => None,
        }
    }

    /// Digest length in bytes.
    #[must_use]
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha256 | Self::Blake3 => 32,
            Self::Blake2b => 64,
        }
    }
}

enum State {
    Sha256(sha2::Sha256),
    Blake2b(Box<blake2::Blake2b512>),
    Blake3(Box<blake3::Hasher>),
}

/// An incremental hasher for any [`HashAlg`].
pub(crate) struct Hasher(State);

impl Hasher {
    pub(crate) fn new(alg: HashAlg) -> Self {
        Self(match alg {
            HashAlg::Sha256 => State::Sha256(sha2::Sha256::new()),
            HashAlg::Blake2b => State::Blake2b(Box::default()),
            HashAlg::Blake3 => State::Blake3(Box::default()),
        })
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            State::Sha256(h) => h.update(data),
            State::Blake2b(h) => h.update(data),
            State::Blake3(h) => {
                if data.len() as u64 >= BLAKE3_PARALLEL {
                    h.update_rayon(data);
                } else {
                    h.update(data);
                }
            }
        }
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        match self.0 {
            State::Sha256(h) => h.finalize().to_vec(),
            State::Blake2b(h) => h.finalize().to_vec(),
            State::Blake3(h) => h.finalize().as_bytes().to_vec(),
        }
    }
}

/// SHA-256 of a byte string.
#[must_use]
pub fn sha256(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

/// Hashes bytes `start..end` of the file at `path` (the whole file when `end` is `None`).
///
/// Returns the digest and the number of bytes hashed. A file that shrank below `end` is an error
/// (the manifest would not describe what is on disk).
pub fn hash_file(
    path: &Path,
    start: u64,
    end: Option<u64>,
    alg: HashAlg,
) -> std::io::Result<(Vec<u8>, u64)> {
    hash_file_in_windows(path, start, end, alg, WINDOW, None)
}

/// [`hash_file`], adding the bytes hashed to `counter` as each piece is done.
pub fn hash_file_counted(
    path: &Path,
    start: u64,
    end: Option<u64>,
    alg: HashAlg,
    counter: Option<&AtomicU64>,
) -> std::io::Result<(Vec<u8>, u64)> {
    hash_file_in_windows(path, start, end, alg, WINDOW, counter)
}

thread_local! {
    /// The read buffer of this thread.
    static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn read_full_at(file: &File, buf: &mut [u8], mut at: u64) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], at) {
            Ok(0) => break,
            Ok(k) => {
                got += k;
                at += k as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// [`hash_file`] with the read size as a parameter (tests use small windows).
fn hash_file_in_windows(
    path: &Path,
    start: u64,
    end: Option<u64>,
    alg: HashAlg,
    window: u64,
    counter: Option<&AtomicU64>,
) -> std::io::Result<(Vec<u8>, u64)> {
    let count = |n: u64| {
        if let Some(c) = counter {
            c.fetch_add(n, Ordering::Relaxed);
        }
    };
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let end = end.unwrap_or(len);
    if end > len || start > end {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("the file is {len} bytes; bytes {start}..{end} were to be hashed"),
        ));
    }
    let mut hasher = Hasher::new(alg);
    let n = end - start;
    // Read with `pread` into a buffer the size of a piece, not through a map: a file truncated
    // while we hash it then gives a short read (an error naming the file) where a map would raise
    // SIGBUS and kill the process; the copy also leaves the piece in the cache for the hash.
    let piece = if alg == HashAlg::Blake3 {
        BLAKE3_PIECE
    } else {
        PIECE
    };
    BUFFER.with_borrow_mut(|buf| {
        // One buffer per thread, reused for every unit: no allocation or page faults per file.
        if buf.len() < piece {
            buf.resize(piece, 0);
        }
        let mut at = start;
        while at < end {
            let want = (end - at).min(window).min(piece as u64) as usize;
            let got = read_full_at(&file, &mut buf[..want], at)?;
            if got < want {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!(
                        "the file shrank while it was hashed (at byte {})",
                        at + got as u64
                    ),
                ));
            }
            hasher.update(&buf[..want]);
            at += want as u64;
            count(want as u64);
        }
        Ok(())
    })?;
    Ok((hasher.finish(), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::signing::manifest::hex;

    #[test]
    fn known_digests_of_the_empty_string() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e");
        std::fs::write(&p, b"").unwrap();
        let (d, n) = hash_file(&p, 0, None, HashAlg::Sha256).unwrap();
        assert_eq!(n, 0);
        assert_eq!(
            hex(&d),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let (d, _) = hash_file(&p, 0, None, HashAlg::Blake3).unwrap();
        assert_eq!(
            hex(&d),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        let (d, _) = hash_file(&p, 0, None, HashAlg::Blake2b).unwrap();
        assert!(hex(&d).starts_with("786a02f742015903c6c6fd852552d272912f4740e1584761"));
    }

    #[test]
    fn ranges_of_a_file_match_hashing_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        for alg in [HashAlg::Sha256, HashAlg::Blake2b, HashAlg::Blake3] {
            for (s, e) in [(0, 3_000_000), (100, 2_500_000), (2_999_000, 3_000_000)] {
                let mut h = Hasher::new(alg);
                h.update(&data[s..e]);
                let (d, n) = hash_file(&p, s as u64, Some(e as u64), alg).unwrap();
                assert_eq!(n, (e - s) as u64);
                assert_eq!(d, h.finish(), "{alg:?} {s}..{e}");
            }
        }
        assert!(hash_file(&p, 0, Some(3_000_001), HashAlg::Sha256).is_err());
    }

    #[test]
    fn hashing_in_many_small_windows_gives_the_same_digest() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        let data: Vec<u8> = (0..1_000_003u32).map(|i| (i * 13 % 253) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        // Windows that are and are not page multiples, ranges that start off a page boundary.
        for window in [4096, 65_536, 100_000, 333_333] {
            for alg in [HashAlg::Sha256, HashAlg::Blake2b, HashAlg::Blake3] {
                for (s, e) in [(0, 1_000_003), (5, 999_999), (70_000, 1_000_003)] {
                    let mut h = Hasher::new(alg);
                    h.update(&data[s..e]);
                    let (d, n) =
                        hash_file_in_windows(&p, s as u64, Some(e as u64), alg, window, None)
                            .unwrap();
                    assert_eq!(n, (e - s) as u64);
                    assert_eq!(d, h.finish(), "{alg:?} {s}..{e} window {window}");
                }
            }
        }
    }
}
