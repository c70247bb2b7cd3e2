//! The cache directory: content-addressed blobs, named trees over them, lock files, temp files.
//!
//! ```text
//! <cache>/blobs/sha256/<hex>        the bytes, read-only, named by their sha256
//! <cache>/trees/<tree-id>/<path>    hard links (or copies) of blobs under the names callers use
//! <cache>/locks/<tree-id>.lock      one lock per tree: fetches of the same pins take turns
//! <cache>/tmp/                      downloads in progress (same file system, so renames are atomic)
//! ```
//! A tree id is the sha256 of the sorted `sha256 path` list, so the same pins always land in the
//! same place whatever their source. Every read hashes the file again: the cache is not trusted more
//! than the network.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Origin, Result};

/// One file the caller wants: where it goes in the tree and what it must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FilePin {
    /// Checked relative path inside the tree.
    pub path: String,
    /// Lower-case hex sha256.
    pub sha256: String,
    /// Exact size, when pinned.
    pub size: Option<u64>,
}

/// What a check of one cached file found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Cached {
    /// Present and matching its pin.
    Good,
    /// Not there (or not a regular file, which has been removed).
    Missing,
}

#[derive(Debug, Clone)]
pub(crate) struct Cache {
    root: PathBuf,
}

/// An exclusive lock on a tree; released when dropped (closing the file releases it).
pub(crate) struct TreeLock {
    _file: File,
}

impl Cache {
    pub(crate) fn new(root: PathBuf) -> Self {
        Cache { root }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn blob_path(&self, sha256: &str) -> PathBuf {
        self.root.join("blobs").join("sha256").join(sha256)
    }

    pub(crate) fn tree_path(&self, tree_id: &str) -> PathBuf {
        self.root.join("trees").join(tree_id)
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Creates the directory layout (idempotent).
    pub(crate) fn ensure(&self) -> Result<()> {
        for d in [
            self.root.join("blobs").join("sha256"),
            self.root.join("trees"),
            self.root.join("locks"),
            self.tmp_dir(),
        ] {
            fs::create_dir_all(&d).map_err(|e| Error::io("creating cache directory", &d, e))?;
        }
        Ok(())
    }

    /// Takes the lock of a tree, waiting for another process or thread holding it.
    pub(crate) fn lock(&self, tree_id: &str) -> Result<TreeLock> {
        let path = self.root.join("locks").join(format!("{tree_id}.lock"));
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("opening lock file", &path, e))?;
        file.lock().map_err(|e| Error::io("locking", &path, e))?;
        Ok(TreeLock { _file: file })
    }

    /// Checks a cached file against its pin. A file that does not match is removed (and so is the
    /// blob behind it when that is bad too) and reported as a [`Error::HashMismatch`] or
    /// [`Error::SizeMismatch`] with [`Origin::Cached`].
    pub(crate) fn check(&self, path: &Path, pin: &FilePin) -> Result<Cached> {
        let meta = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Cached::Missing),
            Err(e) => return Err(Error::io("reading metadata of", path, e)),
        };
        if !meta.is_file() {
            // Something was put in the cache's place: never follow it, fetch again.
            remove_any(path)?;
            return Ok(Cached::Missing);
        }
        if let Some(size) = pin.size
            && meta.len() != size
        {
            self.discard(path, pin)?;
            return Err(Error::SizeMismatch {
                origin: Origin::Cached,
                what: path.display().to_string(),
                expected: size,
                actual: meta.len(),
            });
        }
        let actual = hash_file(path)?;
        if actual != pin.sha256 {
            self.discard(path, pin)?;
            return Err(Error::HashMismatch {
                origin: Origin::Cached,
                what: path.display().to_string(),
                expected: pin.sha256.clone(),
                actual,
            });
        }
        Ok(Cached::Good)
    }

    /// Removes a bad cached file, and its blob when the blob is bad as well.
    fn discard(&self, path: &Path, pin: &FilePin) -> Result<()> {
        remove_any(path)?;
        let blob = self.blob_path(&pin.sha256);
        if blob != path
            && fs::symlink_metadata(&blob).is_ok()
            && hash_file(&blob).ok().as_deref() != Some(pin.sha256.as_str())
        {
            remove_any(&blob)?;
        }
        Ok(())
    }

    /// Streams `reader` into the blob store, bounded by `limit` bytes, and keeps it only if it
    /// matches `pin`. `what` names the source in errors.
    pub(crate) fn write_blob(
        &self,
        pin: &FilePin,
        reader: &mut dyn Read,
        what: &str,
        limit: u64,
    ) -> Result<PathBuf> {
        let tmp_dir = self.tmp_dir();
        let mut tmp = tempfile::Builder::new()
            .prefix("blob-")
            .tempfile_in(&tmp_dir)
            .map_err(|e| Error::io("creating a temporary file in", &tmp_dir, e))?;
        let limit = pin.size.map_or(limit, |s| s.min(limit));
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut total: u64 = 0;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Error::Read {
                        what: what.to_owned(),
                        source: e,
                    });
                }
            };
            total += n as u64;
            if total > limit {
                return Err(match pin.size {
                    Some(expected) if expected <= limit => Error::SizeMismatch {
                        origin: Origin::Fetched,
                        what: what.to_owned(),
                        expected,
                        actual: total,
                    },
                    _ => Error::TooLarge {
                        what: what.to_owned(),
                        limit,
                    },
                });
            }
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n])
                .map_err(|e| Error::io("writing", tmp.path(), e))?;
        }
        if let Some(expected) = pin.size
            && total != expected
        {
            return Err(Error::SizeMismatch {
                origin: Origin::Fetched,
                what: what.to_owned(),
                expected,
                actual: total,
            });
        }
        let actual = hex(&hasher.finalize());
        if actual != pin.sha256 {
            return Err(Error::HashMismatch {
                origin: Origin::Fetched,
                what: what.to_owned(),
                expected: pin.sha256.clone(),
                actual,
            });
        }
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::io("syncing", tmp.path(), e))?;
        let mut perms = tmp
            .as_file()
            .metadata()
            .map_err(|e| Error::io("reading metadata of", tmp.path(), e))?
            .permissions();
        perms.set_readonly(true);
        tmp.as_file()
            .set_permissions(perms)
            .map_err(|e| Error::io("setting permissions of", tmp.path(), e))?;
        let dest = self.blob_path(&pin.sha256);
        tmp.persist(&dest)
            .map_err(|e| Error::io("moving a download into", &dest, e.error))?;
        Ok(dest)
    }

    /// Puts blob `sha256` at `dest` (a hard link; a copy where links are not possible).
    pub(crate) fn link(&self, sha256: &str, dest: &Path) -> Result<()> {
        let blob = self.blob_path(sha256);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io("creating directory", parent, e))?;
        }
        if fs::symlink_metadata(dest).is_ok() {
            remove_any(dest)?;
        }
        if fs::hard_link(&blob, dest).is_ok() {
            return Ok(());
        }
        let tmp_dir = self.tmp_dir();
        let tmp = tempfile::Builder::new()
            .prefix("copy-")
            .tempfile_in(&tmp_dir)
            .map_err(|e| Error::io("creating a temporary file in", &tmp_dir, e))?;
        fs::copy(&blob, tmp.path()).map_err(|e| Error::io("copying", &blob, e))?;
        tmp.persist(dest)
            .map_err(|e| Error::io("moving a copy into", dest, e.error))?;
        Ok(())
    }
}

/// Removes everything in `tree` that is not one of `pins` (files dropped in later, symlinks, other
/// directories), so a folder handed to a loader holds exactly the pinned files. Bounded in entries.
pub(crate) fn prune(tree: &Path, pins: &[FilePin]) -> Result<()> {
    let files: HashSet<&str> = pins.iter().map(|p| p.path.as_str()).collect();
    let dirs: HashSet<&str> = pins
        .iter()
        .flat_map(|p| p.path.match_indices('/').map(|(i, _)| &p.path[..i]))
        .collect();
    let mut budget = 100_000usize;
    prune_dir(tree, "", &files, &dirs, &mut budget)
}

fn prune_dir(
    dir: &Path,
    prefix: &str,
    files: &HashSet<&str>,
    dirs: &HashSet<&str>,
    budget: &mut usize,
) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("listing", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("listing", dir, e))?;
        if *budget == 0 {
            return Err(Error::io(
                "pruning (too many entries)",
                dir,
                io::Error::other("more than 100000 entries in a cache tree"),
            ));
        }
        *budget -= 1;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            remove_any(&path)?;
            continue;
        };
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let ft = entry
            .file_type()
            .map_err(|e| Error::io("reading metadata of", &path, e))?;
        if ft.is_dir() && dirs.contains(rel.as_str()) {
            prune_dir(&path, &rel, files, dirs, budget)?;
        } else if !(ft.is_file() && files.contains(rel.as_str())) {
            remove_any(&path)?;
        }
    }
    Ok(())
}

/// Removes a file, a symlink or a directory tree; a missing path is fine.
fn remove_any(path: &Path) -> Result<()> {
    let res = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(_) => return Ok(()),
    };
    match res {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("removing", path, e)),
    }
}

/// sha256 of a file, lower-case hex.
pub(crate) fn hash_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("reading", path, e)),
        }
    }
    Ok(hex(&hasher.finalize()))
}

/// The id of a tree: sha256 over its sorted `sha256 path` lines.
pub(crate) fn tree_id(pins: &[FilePin]) -> String {
    let mut lines: Vec<String> = pins
        .iter()
        .map(|p| format!("{} {}\n", p.sha256, p.path))
        .collect();
    lines.sort_unstable();
    let mut hasher = Sha256::new();
    hasher.update(b"aisec-resolve tree v1\n");
    for l in &lines {
        hasher.update(l.as_bytes());
    }
    hex(&hasher.finalize())
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Checks a sha256 pin (64 hex digits, either case) and returns it in lower case.
pub(crate) fn parse_sha256(value: &str) -> Result<String> {
    if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(Error::InvalidSha256 {
            value: value.chars().take(80).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(path: &str, data: &[u8]) -> FilePin {
        FilePin {
            path: path.into(),
            sha256: hex(&Sha256::digest(data)),
            size: Some(data.len() as u64),
        }
    }

    #[test]
    fn sha256_pins_are_checked_and_lower_cased() {
        let up = "09F66E6DEBDEE2CD2B5AE59E0D6ABBB73FC2B0E0185D2E1957E9EBB51E23AA22";
        assert_eq!(parse_sha256(up).unwrap(), up.to_ascii_lowercase());
        for bad in [
            "",
            "abc",
            &up[1..],
            &format!("{}g", &up[1..]),
            &format!("{up}0"),
        ] {
            assert!(
                matches!(parse_sha256(bad), Err(Error::InvalidSha256 { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn tree_ids_depend_on_pins_not_order() {
        let a = pin("a", b"1");
        let b = pin("b", b"2");
        assert_eq!(
            tree_id(&[a.clone(), b.clone()]),
            tree_id(&[b.clone(), a.clone()])
        );
        assert_ne!(tree_id(std::slice::from_ref(&a)), tree_id(&[a, b]));
    }

    #[test]
    fn blobs_are_written_only_when_they_match() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_path_buf());
        cache.ensure().unwrap();
        let good = pin("x", b"hello");
        let path = cache
            .write_blob(&good, &mut &b"hello"[..], "x", 100)
            .unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"hello");
        assert_eq!(cache.check(&path, &good).unwrap(), Cached::Good);

        let other = pin("y", b"world");
        let e = cache
            .write_blob(&other, &mut &b"wOrld"[..], "y", 100)
            .unwrap_err();
        let Error::HashMismatch {
            origin,
            expected,
            actual,
            ..
        } = e
        else {
            panic!("{e:?}")
        };
        assert_eq!(origin, Origin::Fetched);
        assert_eq!(expected, other.sha256);
        assert_eq!(actual, hex(&Sha256::digest(b"wOrld")));
        assert!(!cache.blob_path(&other.sha256).exists());

        // Longer than pinned: stopped at the pin, nothing kept.
        let e = cache
            .write_blob(&other, &mut &b"world!!"[..], "y", 100)
            .unwrap_err();
        assert!(
            matches!(e, Error::SizeMismatch { expected: 5, .. }),
            "{e:?}"
        );
        // Unpinned size: the limit applies.
        let unsized_pin = FilePin {
            size: None,
            ..other.clone()
        };
        let e = cache
            .write_blob(&unsized_pin, &mut &b"world"[..], "y", 4)
            .unwrap_err();
        assert!(matches!(e, Error::TooLarge { limit: 4, .. }), "{e:?}");
        // Nothing left behind in tmp/.
        assert_eq!(fs::read_dir(cache.tmp_dir()).unwrap().count(), 0);
    }

    #[test]
    fn a_tampered_cached_file_is_an_error_and_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_path_buf());
        cache.ensure().unwrap();
        let p = pin("f", b"payload");
        let blob = cache
            .write_blob(&p, &mut &b"payload"[..], "f", 100)
            .unwrap();
        let linked = dir.path().join("trees/t/f");
        cache.link(&p.sha256, &linked).unwrap();
        assert_eq!(cache.check(&linked, &p).unwrap(), Cached::Good);

        let mut perms = fs::metadata(&blob).unwrap().permissions();
        assert!(perms.readonly());
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        fs::set_permissions(&blob, perms).unwrap();
        fs::write(&blob, b"PAYLOAD").unwrap(); // same size, other bytes
        let e = cache.check(&linked, &p).unwrap_err();
        let Error::HashMismatch {
            origin,
            expected,
            actual,
            ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(*origin, Origin::Cached);
        assert_eq!(expected, &p.sha256);
        assert_eq!(actual, &hex(&Sha256::digest(b"PAYLOAD")));
        assert!(!linked.exists(), "the bad tree file is removed");
        assert!(!blob.exists(), "the bad blob is removed");
        assert_eq!(cache.check(&linked, &p).unwrap(), Cached::Missing);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_in_the_cache_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_path_buf());
        cache.ensure().unwrap();
        let p = pin("f", b"payload");
        let target = dir.path().join("elsewhere");
        fs::write(&target, b"payload").unwrap();
        let blob = cache.blob_path(&p.sha256);
        std::os::unix::fs::symlink(&target, &blob).unwrap();
        assert_eq!(cache.check(&blob, &p).unwrap(), Cached::Missing);
        assert!(fs::symlink_metadata(&blob).is_err());
        assert!(target.exists(), "the link target is left alone");
    }
}
