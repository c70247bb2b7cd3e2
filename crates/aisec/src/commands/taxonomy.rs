//! `aisec taxonomy update` and `aisec taxonomy show`: the MITRE ATLAS data the threat model
//! uses. `update` downloads the official `ATLAS.yaml` (for users with a network; `--from FILE`
//! for those without), checks it reads and holds every id the threat rules use, and caches it
//! under the cache directory; `aisec threat-model` then uses it instead of the built-in index
//! (`--atlas FILE` still wins). The cache is replaced only by data that passed the checks.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use aisec_taxonomy::Atlas;
use anyhow::{Context, bail};

use super::read_text;
use crate::ExitStatus;
use crate::cli::TaxonomyCommand;
use crate::settings::GlobalSettings;

/// Where MITRE publishes the data: the `dist/ATLAS.yaml` of the `mitre-atlas/atlas-data`
/// repository.
pub(crate) const DEFAULT_ATLAS_URL: &str =
    "https://raw.githubusercontent.com/mitre-atlas/atlas-data/main/dist/ATLAS.yaml";

/// The cached data's path (whether or not it is there yet).
pub(crate) fn cached_atlas_path() -> anyhow::Result<PathBuf> {
    let resolver = aisec_resolve::Resolver::from_env()?;
    Ok(resolver.cache_dir().join("taxonomy").join("ATLAS.yaml"))
}

/// The cached ATLAS data, when `aisec taxonomy update` put it there: (data, path).
pub(crate) fn cached_atlas() -> anyhow::Result<Option<(Atlas, PathBuf)>> {
    let Ok(path) = cached_atlas_path() else {
        return Ok(None);
    };
    if !path.is_file() {
        return Ok(None);
    }
    let text = read_text(
        &path,
        aisec_taxonomy::atlas::MAX_BYTES as u64,
        "the cached ATLAS data",
    )?;
    let atlas = Atlas::from_yaml(&text).with_context(|| {
        format!(
            "{}: the cached ATLAS data does not read; run `aisec taxonomy update` again or delete it",
            path.display()
        )
    })?;
    Ok(Some((atlas, path)))
}

pub(crate) fn run(cmd: &TaxonomyCommand, _global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cmd {
        TaxonomyCommand::Update { url, from } => {
            let max = aisec_taxonomy::atlas::MAX_BYTES as u64;
            let (text, source) = match from {
                Some(file) => (
                    read_text(file, max, "the ATLAS data")?,
                    file.display().to_string(),
                ),
                None => {
                    let resolver = aisec_resolve::Resolver::from_env()?;
                    if resolver.is_offline() {
                        bail!(
                            "AISEC_OFFLINE is set: not downloading; give the file with `--from ATLAS.yaml`"
                        );
                    }
                    (download(url, max)?, url.clone())
                }
            };
            let atlas = Atlas::from_yaml(&text)
                .with_context(|| format!("{source}: not MITRE ATLAS data"))?;
            let rules = aisec_threatmodel::rules::builtin()?;
            aisec_threatmodel::rules::check(&rules, &atlas).with_context(|| {
                format!(
                    "{source}: ATLAS {} lacks ids the threat rules use; the cache is unchanged",
                    atlas.version
                )
            })?;
            let path = cached_atlas_path()?;
            let dir = path.parent().context("cache path")?;
            fs_err::create_dir_all(dir)?;
            let tmp = dir.join(format!(".ATLAS.yaml.{}", std::process::id()));
            fs_err::write(&tmp, text.as_bytes())?;
            fs_err::rename(&tmp, &path)?;
            let sha = super::report_out::sha256_hex(text.as_bytes());
            writeln!(
                out,
                "ATLAS {}: {}\nfrom {source}\ncached at {} (sha256 {sha})",
                atlas.version,
                counts(&atlas),
                path.display()
            )?;
        }
        TaxonomyCommand::Show => {
            let (atlas, source) = match cached_atlas()? {
                Some((atlas, path)) => (atlas, format!("cached: {}", path.display())),
                None => (
                    Atlas::builtin(),
                    "built-in index (ids and names; `aisec taxonomy update` fetches the full data)"
                        .to_owned(),
                ),
            };
            writeln!(
                out,
                "ATLAS {} ({source}): {}",
                atlas.version,
                counts(&atlas)
            )?;
            writeln!(
                out,
                "OWASP Top 10 for LLM applications 2025: {} ids; OWASP Top 10 for agentic applications 2026: {} ids",
                aisec_taxonomy::owasp::LLM_TOP10_2025.len(),
                aisec_taxonomy::owasp::AGENTIC_TOP10_2026.len(),
            )?;
        }
    }
    Ok(ExitStatus::Success)
}

/// What the data holds, in one line.
fn counts(atlas: &Atlas) -> String {
    format!(
        "{} tactics, {} techniques, {} mitigations, {} case studies",
        atlas.tactics.len(),
        atlas.techniques.len(),
        atlas.mitigations.len(),
        atlas.case_studies.len()
    )
}

/// GET `url`, at most `max` bytes, as text.
fn download(url: &str, max: u64) -> anyhow::Result<String> {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(120)))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut response = agent
        .get(url)
        .call()
        .with_context(|| format!("downloading {url}"))?;
    let status = response.status();
    if !status.is_success() {
        bail!("downloading {url}: HTTP {status}");
    }
    let mut body = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(max + 1)
        .read_to_end(&mut body)
        .with_context(|| format!("downloading {url}"))?;
    if body.len() as u64 > max {
        bail!("{url}: larger than {max} bytes");
    }
    String::from_utf8(body).with_context(|| format!("{url}: not UTF-8 text"))
}
