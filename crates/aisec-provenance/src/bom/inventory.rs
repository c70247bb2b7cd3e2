//! Walks a model directory, groups its files into models, hashes every file and reads the model
//! card, `config.json` and `requirements.txt` of each model.
//!
//! Grouping: a directory holding `config.json` or a model card (`README.md`, `MODEL_CARD.md`) is
//! one model with every file below it; such model roots do not nest (the top-most wins, so a
//! sentence-transformers `1_Pooling/config.json` stays part of its model). Outside any model root,
//! each weight file (by extension) is a model of its own, and other files are listed as files.
//! `.git` directories are skipped; a symlink to a file is hashed through the link, one to a
//! directory is skipped with a warning. Counts, depth and the sizes of parsed files are capped.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256, Sha512};

use super::card::{ModelCard, ModelConfig, Requirement, parse_requirements};
use super::error::{Error, Result};

/// Largest model card read, in bytes.
pub(crate) const MAX_CARD: u64 = 1 << 20;
/// Largest `config.json` read, in bytes.
pub(crate) const MAX_CONFIG: u64 = 4 << 20;
/// Largest `requirements.txt` read, in bytes.
pub(crate) const MAX_REQUIREMENTS: u64 = 1 << 20;
/// The signature file model-signing writes by default.
pub(crate) const SIGNATURE_FILE: &str = "model.sig";

const CARD_NAMES: [&str; 3] = ["README.md", "MODEL_CARD.md", "model_card.md"];
const WEIGHT_EXTENSIONS: [&str; 24] = [
    "safetensors",
    "bin",
    "pt",
    "pth",
    "ckpt",
    "pkl",
    "pickle",
    "joblib",
    "h5",
    "hdf5",
    "keras",
    "onnx",
    "gguf",
    "ggml",
    "npy",
    "npz",
    "pb",
    "tflite",
    "mlmodel",
    "msgpack",
    "ot",
    "llamafile",
    "nemo",
    "pte",
];

/// What to inspect and how far.
#[derive(Debug, Clone)]
pub struct InspectOptions {
    /// Most files walked before giving up.
    pub max_files: usize,
    /// Deepest directory level walked.
    pub max_depth: usize,
    /// The model's hub id (`org/name`), when the user knows it: gives a purl and a supplier.
    /// Used only when the directory holds exactly one model.
    pub model_id: Option<String>,
    /// A signature file given explicitly (otherwise `model.sig` in the directory is used).
    pub signature: Option<PathBuf>,
}

impl Default for InspectOptions {
    fn default() -> Self {
        Self {
            max_files: 100_000,
            max_depth: 32,
            model_id: None,
            signature: None,
        }
    }
}

/// Everything found in a model directory.
#[derive(Debug, Clone)]
pub struct Inventory {
    /// The directory as the caller named it.
    pub root: PathBuf,
    /// Its name (the last path component, resolved for `.`).
    pub root_name: String,
    /// The models, sorted by location.
    pub models: Vec<Model>,
    /// Files that belong to no model, sorted.
    pub other_files: Vec<FileEntry>,
    /// The signature of the whole directory (`model.sig` at the top, or the one given).
    pub signature: Option<FileEntry>,
    /// Problems that did not stop the inventory (a refused card, a skipped link), in order.
    pub warnings: Vec<String>,
}

/// One model.
#[derive(Debug, Clone)]
pub struct Model {
    /// Display name: the card's `model-index` name, else the id's name, else the directory or file.
    pub name: String,
    /// Where it is, relative to the root (`""` for the root itself, a file path for a loose file).
    pub location: String,
    /// Its files, sorted by path (the signature file excluded).
    pub files: Vec<FileEntry>,
    /// The model card file, relative to the root.
    pub card_file: Option<String>,
    /// What the card says.
    pub card: Option<ModelCard>,
    /// What `config.json` says.
    pub config: Option<ModelConfig>,
    /// `requirements.txt`, parsed.
    pub requirements: Vec<Requirement>,
    /// The hub id (`org/name`).
    pub id: Option<String>,
    /// Its `model.sig`, if any.
    pub signature: Option<FileEntry>,
    /// A single weight file outside any model directory.
    pub single_file: bool,
}

/// One hashed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path relative to the root, `/`-separated (for a signature outside the root: as given).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, lower-case hex.
    pub sha256: String,
    /// SHA-512, lower-case hex.
    pub sha512: String,
    /// BLAKE3, lower-case hex.
    pub blake3: String,
}

/// Inspects `root`: walks, groups, hashes (in parallel) and parses.
pub fn inspect(root: &Path, opts: &InspectOptions) -> Result<Inventory> {
    let meta = std::fs::metadata(root).map_err(|source| Error::Io {
        path: root.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(Error::NotADirectory(root.to_path_buf()));
    }
    let root_name = std::fs::canonicalize(root)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| root.display().to_string());

    let mut warnings = Vec::new();
    let mut files: Vec<String> = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .max_depth(opts.max_depth)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| !(e.file_type().is_dir() && e.file_name() == ".git"));
    for entry in walker {
        let entry = entry.map_err(|e| Error::Walk {
            path: e
                .path()
                .map_or_else(|| root.to_path_buf(), Path::to_path_buf),
            message: e.to_string(),
        })?;
        let ft = entry.file_type();
        let rel = relative(root, entry.path());
        if ft.is_dir() {
            continue;
        }
        if ft.is_symlink() {
            match std::fs::metadata(entry.path()) {
                Ok(m) if m.is_file() => {}
                Ok(_) => {
                    warnings.push(format!("`{rel}`: a link to a directory, not followed"));
                    continue;
                }
                Err(e) => {
                    warnings.push(format!("`{rel}`: broken link ({e}), skipped"));
                    continue;
                }
            }
        } else if !ft.is_file() {
            warnings.push(format!("`{rel}`: not a regular file, skipped"));
            continue;
        }
        files.push(rel);
        if files.len() > opts.max_files {
            return Err(Error::TooManyFiles {
                path: root.to_path_buf(),
                max: opts.max_files,
            });
        }
    }
    files.sort();

    let signature_rel: Option<String> = match &opts.signature {
        Some(p) => {
            let r = p
                .strip_prefix(root)
                .ok()
                .map(|r| relative(Path::new(""), r));
            r.filter(|r| files.contains(r))
        }
        None => files.iter().find(|f| *f == SIGNATURE_FILE).cloned(),
    };

    // Directories that hold a config or a card; keep the top-most of any nested ones.
    let mut roots: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let (dir, name) = split(f);
            (name == "config.json" || CARD_NAMES.contains(&name)).then(|| dir.to_owned())
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    roots = roots
        .iter()
        .filter(|d| !roots.iter().any(|o| o != *d && is_under(d, o)))
        .cloned()
        .collect();

    let hashed: Vec<FileEntry> = files
        .par_iter()
        .map(|rel| hash_file(&root.join(rel), rel))
        .collect::<Result<_>>()?;
    let signature = match (&opts.signature, &signature_rel) {
        (_, Some(rel)) => hashed.iter().find(|f| &f.path == rel).cloned(),
        (Some(p), None) => Some(hash_file(p, &p.display().to_string())?),
        (None, None) => None,
    };

    let mut models: Vec<Model> = roots
        .iter()
        .map(|dir| Model {
            name: String::new(),
            location: dir.clone(),
            files: Vec::new(),
            card_file: None,
            card: None,
            config: None,
            requirements: Vec::new(),
            id: None,
            signature: None,
            single_file: false,
        })
        .collect();
    let mut other_files = Vec::new();
    for entry in hashed {
        if signature_rel.as_deref() == Some(entry.path.as_str()) {
            continue;
        }
        if let Some(m) = models
            .iter_mut()
            .find(|m| is_under(&entry.path, &m.location))
        {
            if split(&entry.path) == (m.location.as_str(), SIGNATURE_FILE) {
                m.signature = Some(entry);
            } else {
                m.files.push(entry);
            }
        } else if is_weight(&entry.path) {
            models.push(Model {
                name: split(&entry.path).1.to_owned(),
                location: entry.path.clone(),
                files: vec![entry],
                card_file: None,
                card: None,
                config: None,
                requirements: Vec::new(),
                id: None,
                signature: None,
                single_file: true,
            });
        } else {
            other_files.push(entry);
        }
    }
    models.sort_by(|a, b| a.location.cmp(&b.location));

    let single = models.len() == 1;
    if opts.model_id.is_some() && !single {
        warnings.push(format!(
            "--model-id names one model but the directory holds {}; ignored",
            models.len()
        ));
    }
    for m in &mut models {
        if !m.single_file {
            read_model_files(root, m, &mut warnings);
        }
        if single {
            m.id.clone_from(&opts.model_id);
        }
        if m.location.is_empty() && m.signature.is_none() {
            m.signature.clone_from(&signature);
        }
        m.name = m
            .card
            .as_ref()
            .and_then(|c| c.model_name.clone())
            .or_else(|| m.id.as_ref().map(|id| split(id).1.to_owned()))
            .unwrap_or_else(|| {
                if m.location.is_empty() {
                    root_name.clone()
                } else {
                    split(&m.location).1.to_owned()
                }
            });
    }
    Ok(Inventory {
        root: root.to_path_buf(),
        root_name,
        models,
        other_files,
        signature,
        warnings,
    })
}

fn read_model_files(root: &Path, m: &mut Model, warnings: &mut Vec<String>) {
    let join = |name: &str| {
        if m.location.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", m.location)
        }
    };
    let has = |rel: &str| m.files.iter().any(|f| f.path == rel);
    if let Some(card) = CARD_NAMES.iter().map(|n| join(n)).find(|r| has(r)) {
        match read_capped(&root.join(&card), MAX_CARD) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                match ModelCard::parse(&text) {
                    Ok(c) => {
                        warnings.extend(c.warnings.iter().map(|w| format!("`{card}`: {w}")));
                        m.card = Some(c);
                    }
                    Err(e) => warnings.push(format!("`{card}`: {e}; card not used")),
                }
            }
            Err(e) => warnings.push(format!("`{card}`: {e}; card not used")),
        }
        m.card_file = Some(card);
    }
    let config = join("config.json");
    if has(&config) {
        match read_capped(&root.join(&config), MAX_CONFIG)
            .and_then(|b| ModelConfig::parse(&b).map_err(|e| e.to_string()))
        {
            Ok(c) => m.config = Some(c),
            Err(e) => warnings.push(format!("`{config}`: {e}; not used")),
        }
    }
    let req = join("requirements.txt");
    if has(&req) {
        match read_capped(&root.join(&req), MAX_REQUIREMENTS) {
            Ok(b) => m.requirements = parse_requirements(&String::from_utf8_lossy(&b)),
            Err(e) => warnings.push(format!("`{req}`: {e}; not used")),
        }
    }
}

/// Reads at most `max` bytes of a regular file; a longer file is an error, not a truncation.
fn read_capped(path: &Path, max: u64) -> std::result::Result<Vec<u8>, String> {
    crate::fsread::read_regular(path, max).map_err(|e| e.to_string())
}

fn hash_file(path: &Path, rel: &str) -> Result<FileEntry> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut s256 = Sha256::new();
    let mut s512 = Sha512::new();
    let mut b3 = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        size += n as u64;
        s256.update(&buf[..n]);
        s512.update(&buf[..n]);
        b3.update(&buf[..n]);
    }
    Ok(FileEntry {
        path: rel.to_owned(),
        size,
        sha256: hex(&s256.finalize()),
        sha512: hex(&s512.finalize()),
        blake3: b3.finalize().to_hex().to_string(),
    })
}

pub(crate) use crate::signing::manifest::hex;

/// `path` relative to `root`, `/`-separated.
fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// `(directory, file name)` of a `/`-separated relative path.
fn split(rel: &str) -> (&str, &str) {
    rel.rsplit_once('/').unwrap_or(("", rel))
}

/// Whether `path` is `dir` or below it (`""` is the root, above everything).
fn is_under(path: &str, dir: &str) -> bool {
    dir.is_empty() || path == dir || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

pub(crate) fn is_weight(rel: &str) -> bool {
    let name = split(rel).1;
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| WEIGHT_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert!(is_under("a/b", "a"));
        assert!(!is_under("ab/c", "a"));
        assert!(is_under("x", ""));
        assert_eq!(split("a/b/c.txt"), ("a/b", "c.txt"));
        assert!(is_weight("m/model.SafeTensors"));
        assert!(!is_weight("notes.txt"));
    }
}
