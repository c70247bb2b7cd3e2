//! Walks a model (a directory or one file) and hashes it into a [`Manifest`].
//!
//! Matches the reference serializer on what is in the manifest: every regular file below the root,
//! hidden ones included; ignored paths left out with everything below them (a lexical,
//! component-wise prefix match on the path relative to the root); symbolic links are an error
//! unless allowed, and when allowed a link to a file is hashed under the link's own name while a
//! link to a directory is not descended; sockets, pipes and devices are an error.

use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use rayon::prelude::*;

use super::SigningError;
use super::hashing::hash_file_counted;
use super::manifest::{Manifest, Method, Resource, Serialization};

/// Deepest directory nesting walked.
const MAX_DEPTH: usize = 256;
/// Most files one model may hold.
const MAX_FILES: usize = 2_000_000;
/// Most shards one model may be cut into.
const MAX_SHARDS: u64 = 10_000_000;

/// The paths every signature leaves out (git metadata).
pub const DEFAULT_IGNORES: [&str; 4] = [".git", ".gitattributes", ".github", ".gitignore"];

/// A file of the model.
#[derive(Debug, Clone)]
pub struct ModelFile {
    /// POSIX path relative to the root (`.` when the model is a single file).
    pub rel: String,
    /// Where it is on disk.
    pub path: PathBuf,
    /// Its size.
    pub len: u64,
}

/// The name a manifest gives the model at `root`: its final path component.
#[must_use]
pub fn model_name(root: &Path) -> String {
    match root.file_name() {
        Some(n) => n.to_string_lossy().into_owned(),
        None => std::fs::canonicalize(root)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default(),
    }
}

/// Normalises an ignore path to components relative to the root; `None` for one that leaves it.
fn ignore_components(p: &str) -> Option<Vec<&str>> {
    // An absolute path names nothing inside the model (the reference records relative ones only).
    if p.starts_with('/') {
        return None;
    }
    let parts: Vec<&str> = p
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    (!parts.is_empty() && !parts.contains(&"..")).then_some(parts)
}

/// Lists the files of the model at `root`, in no particular order.
pub fn list_files(root: &Path, ser: &Serialization) -> Result<Vec<ModelFile>, SigningError> {
    let io = |path: &Path, e: std::io::Error| SigningError::Io {
        path: path.to_owned(),
        source: e,
    };
    let ignores: Vec<Vec<&str>> = ser
        .ignore_paths
        .iter()
        .filter_map(|p| ignore_components(p))
        .collect();
    let meta = std::fs::symlink_metadata(root).map_err(|e| io(root, e))?;
    if meta.file_type().is_symlink() && !ser.allow_symlinks {
        return Err(SigningError::Symlink(root.display().to_string()));
    }
    let meta = std::fs::metadata(root).map_err(|e| io(root, e))?;
    if meta.is_file() {
        return Ok(vec![ModelFile {
            rel: ".".into(),
            path: root.to_owned(),
            len: meta.len(),
        }]);
    }
    if !meta.is_dir() {
        return Err(SigningError::SpecialFile(root.display().to_string()));
    }
    let mut out = Vec::new();
    // (directory on disk, its relative components)
    let mut stack: Vec<(PathBuf, Vec<String>)> = vec![(root.to_owned(), Vec::new())];
    while let Some((dir, rel)) = stack.pop() {
        if rel.len() > MAX_DEPTH {
            return Err(SigningError::Limit(format!(
                "directories nested deeper than {MAX_DEPTH} levels at `{}`",
                dir.display()
            )));
        }
        for entry in std::fs::read_dir(&dir).map_err(|e| io(&dir, e))? {
            let entry = entry.map_err(|e| io(&dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(SigningError::NonUtf8Name(entry.path()));
            };
            let mut parts = rel.clone();
            parts.push(name.to_owned());
            if ignores
                .iter()
                .any(|ig| parts.len() >= ig.len() && parts.iter().zip(ig).all(|(a, b)| a == b))
            {
                continue;
            }
            let rel_name = parts.join("/");
            let path = entry.path();
            let ft = entry.file_type().map_err(|e| io(&path, e))?;
            if ft.is_symlink() {
                if !ser.allow_symlinks {
                    return Err(SigningError::Symlink(rel_name));
                }
                let target = std::fs::metadata(&path).map_err(|e| io(&path, e))?;
                if target.is_file() {
                    out.push(ModelFile {
                        rel: rel_name,
                        path,
                        len: target.len(),
                    });
                } else if !target.is_dir() {
                    return Err(SigningError::SpecialFile(rel_name));
                }
            } else if ft.is_dir() {
                stack.push((path, parts));
            } else if ft.is_file() {
                let len = entry.metadata().map_err(|e| io(&path, e))?.len();
                out.push(ModelFile {
                    rel: rel_name,
                    path,
                    len,
                });
            } else {
                return Err(SigningError::SpecialFile(rel_name));
            }
            if out.len() > MAX_FILES {
                return Err(SigningError::Limit(format!("more than {MAX_FILES} files")));
            }
        }
    }
    Ok(out)
}

/// One unit of hashing work.
struct Unit<'a> {
    file: &'a ModelFile,
    range: Option<(u64, u64)>,
}

impl Unit<'_> {
    fn len(&self) -> u64 {
        self.range.map_or(self.file.len, |(s, e)| e - s)
    }
}

/// Hashes `files` as `ser` says, in parallel on the current rayon pool (largest units first so
/// one big file does not finish last on a single thread).
pub fn hash_files(
    model_name: String,
    files: &[ModelFile],
    ser: &Serialization,
    progress: Option<&Progress>,
) -> Result<Manifest, SigningError> {
    let mut units = Vec::new();
    match ser.method {
        Method::Files => units.extend(files.iter().map(|file| Unit { file, range: None })),
        Method::Shards(size) => {
            let total: u64 = files.iter().map(|f| f.len.div_ceil(size)).sum();
            if total > MAX_SHARDS {
                return Err(SigningError::Limit(format!(
                    "{total} shards of {size} bytes (at most {MAX_SHARDS}); use a larger shard size"
                )));
            }
            for file in files {
                let mut start = 0;
                while start < file.len {
                    let end = start.saturating_add(size).min(file.len);
                    units.push(Unit {
                        file,
                        range: Some((start, end)),
                    });
                    start = end;
                }
            }
        }
    }
    units.sort_by_key(|u| std::cmp::Reverse(u.len()));
    if let Some(p) = progress {
        p.bytes_total
            .fetch_add(units.iter().map(Unit::len).sum(), Ordering::Relaxed);
    }
    let hash = |u: &Unit<'_>| {
        let (digest, _) = hash_file_counted(
            &u.file.path,
            u.range.map_or(0, |r| r.0),
            u.range.map(|r| r.1),
            ser.hash,
            progress.map(|p| &p.bytes_done),
        )
        .map_err(|e| SigningError::Io {
            path: u.file.path.clone(),
            source: e,
        })?;
        Ok(Resource {
            path: u.file.rel.clone(),
            range: u.range,
            digest,
        })
    };
    // Greedy, largest first: each worker takes the next unit as soon as it is free. (Splitting
    // the sorted list between threads, as a plain parallel iterator does, can leave three of
    // four 1 GB shards on one thread.)
    let next = AtomicUsize::new(0);
    let workers = rayon::current_num_threads().clamp(1, units.len().max(1));
    let done: Vec<Vec<Result<Resource, SigningError>>> = (0..workers)
        .into_par_iter()
        .with_max_len(1)
        .map(|_| {
            let mut out = Vec::new();
            while let Some(u) = units.get(next.fetch_add(1, Ordering::Relaxed)) {
                let r = hash(u);
                let failed = r.is_err();
                out.push(r);
                if failed {
                    // Stop everyone: the manifest cannot be built.
                    next.store(usize::MAX / 2, Ordering::Relaxed);
                }
            }
            out
        })
        .collect();
    let resources = done
        .into_iter()
        .flatten()
        .collect::<Result<Vec<_>, SigningError>>()?;
    Ok(Manifest::new(model_name, ser.clone(), resources))
}

/// Lists and hashes the model at `root`.
pub fn hash_model(
    root: &Path,
    ser: &Serialization,
    progress: Option<&Progress>,
) -> Result<Manifest, SigningError> {
    let files = list_files(root, ser)?;
    hash_files(model_name(root), &files, ser, progress)
}

/// How far hashing has got, for a progress display on another thread.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes hashed so far (counted when a file or shard is done).
    pub bytes_done: AtomicU64,
    /// Bytes to hash in all.
    pub bytes_total: AtomicU64,
}
