//! Validated settings, built once from the parsed arguments. Commands never see clap types.

use std::io::IsTerminal;
use std::path::PathBuf;

use aisec_core::Severity;
use aisec_report::Format;

use aisec_provenance::signing::{CheckOptions, HashAlg, HashOptions, Method};

use crate::cli::{
    BomArgs, BomFormat, ColorChoice, GlobalArgs, HashArg, ModelFilesArgs, OutputFormat, ScanArgs,
    SeverityArg, SignArgs, VerifyArgs,
};

/// Settings every command shares.
#[derive(Debug, Clone)]
pub(crate) struct GlobalSettings {
    pub(crate) progress: bool,
    pub(crate) quiet: bool,
    pub(crate) color: bool,
    /// `--store`, as given.
    pub(crate) store: Option<String>,
    /// The command's name, as runs are kept under it (`scan`, `attack-evasion`, ...).
    pub(crate) command: &'static str,
}

impl GlobalSettings {
    pub(crate) fn from_cli(args: &GlobalArgs) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match args.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => !no_color && std::io::stdout().is_terminal(),
        };
        Self {
            progress: !args.quiet && std::io::stderr().is_terminal(),
            quiet: args.quiet,
            color,
            store: args.store.clone(),
            command: "",
        }
    }
}

/// `aisec scan`, validated.
#[derive(Debug, Clone)]
pub(crate) struct ScanSettings {
    pub(crate) paths: Vec<PathBuf>,
    pub(crate) format: Format,
    pub(crate) output: Option<PathBuf>,
    pub(crate) fail_on: Severity,
    pub(crate) verbose: bool,
    pub(crate) threads: Option<usize>,
    pub(crate) exit_zero: bool,
}

impl ScanSettings {
    pub(crate) fn from_args(args: ScanArgs) -> anyhow::Result<Self> {
        if args.threads == Some(0) {
            anyhow::bail!("--threads must be at least 1");
        }
        Ok(Self {
            paths: args.paths,
            format: format(args.format),
            output: args.output,
            fail_on: severity_of(args.fail_on),
            verbose: args.verbose,
            threads: args.threads,
            exit_zero: args.exit_zero,
        })
    }
}

/// `aisec bom`, validated.
#[derive(Debug, Clone)]
pub(crate) struct BomSettings {
    pub(crate) dir: PathBuf,
    pub(crate) spdx3: bool,
    pub(crate) output: Option<PathBuf>,
    pub(crate) scan: bool,
    pub(crate) signature: Option<PathBuf>,
    pub(crate) model_id: Option<String>,
    pub(crate) completeness_json: Option<PathBuf>,
}

impl BomSettings {
    pub(crate) fn from_args(args: BomArgs) -> anyhow::Result<Self> {
        if let Some(id) = &args.model_id {
            let parts: Vec<&str> = id.split('/').collect();
            let ok = |s: &str| {
                !s.is_empty()
                    && !s.starts_with('.')
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
            };
            if parts.len() != 2 || !parts.iter().all(|p| ok(p)) {
                anyhow::bail!(
                    "--model-id takes ORG/NAME (letters, digits, `.`, `-`, `_`; not starting with `.`), got `{id}`"
                );
            }
        }
        Ok(Self {
            dir: args.dir,
            spdx3: args.format == BomFormat::Spdx3,
            output: args.output,
            scan: !args.no_scan,
            signature: args.signature,
            model_id: args.model_id,
            completeness_json: args.completeness_json,
        })
    }
}

pub(crate) fn format(f: OutputFormat) -> Format {
    match f {
        OutputFormat::Human => Format::Human,
        OutputFormat::Json => Format::Json,
        OutputFormat::Sarif => Format::Sarif,
        OutputFormat::Markdown => Format::Markdown,
        OutputFormat::Html => Format::Html,
    }
}

pub(crate) fn severity_of(s: SeverityArg) -> Severity {
    match s {
        SeverityArg::Info => Severity::Info,
        SeverityArg::Low => Severity::Low,
        SeverityArg::Medium => Severity::Medium,
        SeverityArg::High => Severity::High,
        SeverityArg::Critical => Severity::Critical,
    }
}

/// The signature path when none is given: `model.sig` inside a model directory, `FILE.sig` beside
/// a single-file model.
fn default_signature(model: &std::path::Path) -> PathBuf {
    if model.is_dir() {
        model.join("model.sig")
    } else {
        let mut s = model.as_os_str().to_owned();
        s.push(".sig");
        PathBuf::from(s)
    }
}

/// Ignore paths as the format records them: relative to the model root, `/`-separated.
///
/// A path is taken relative to the model unless it only makes sense from the working directory:
/// an absolute path, or a relative one that does not exist inside the model but exists from here
/// and lies inside the model (how the reference's command line reads `--ignore_paths`). Either
/// way it becomes relative to the model root.
fn ignore_paths(model: &std::path::Path, given: &[String]) -> anyhow::Result<Vec<String>> {
    let root = std::fs::canonicalize(model).ok();
    let inside = |path: &std::path::Path| -> Option<String> {
        let abs = std::fs::canonicalize(path).ok()?;
        let rel = abs.strip_prefix(root.as_ref()?).ok()?;
        Some(rel.to_string_lossy().replace('\\', "/"))
    };
    given
        .iter()
        .map(|p| {
            let path = std::path::Path::new(p);
            let from_here = path.is_absolute() || (!model.join(path).exists() && path.exists());
            if from_here && let Some(rel) = inside(path).filter(|r| !r.is_empty()) {
                return Ok(rel);
            }
            if path.is_absolute() || p.split('/').any(|c| c == "..") {
                anyhow::bail!(
                    "--ignore-paths `{p}` is not inside the model `{}`",
                    model.display()
                );
            }
            Ok(p.trim_start_matches("./").trim_end_matches('/').to_owned())
        })
        .collect()
}

fn threads(t: Option<usize>) -> anyhow::Result<Option<usize>> {
    if t == Some(0) {
        anyhow::bail!("--threads must be at least 1");
    }
    Ok(t)
}

/// Parses a size: an integer, optionally with K/M/G/T (powers of 1000) or Ki/Mi/Gi/Ti (of 1024).
pub(crate) fn parse_size(s: &str) -> anyhow::Result<u64> {
    let t = s.trim().trim_end_matches(['B', 'b']);
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("`{s}` is not a size"))?;
    let mult: u64 = match unit {
        "" => 1,
        "K" | "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        _ => anyhow::bail!("`{s}`: unknown size unit `{unit}`"),
    };
    let size = n
        .checked_mul(mult)
        .ok_or_else(|| anyhow::anyhow!("`{s}` is too large"))?;
    if size == 0 {
        anyhow::bail!("a shard size must be at least 1 byte");
    }
    Ok(size)
}

/// `aisec sign`, validated.
#[derive(Debug)]
pub(crate) struct SignSettings {
    pub(crate) model: PathBuf,
    pub(crate) signature: PathBuf,
    pub(crate) key: PathBuf,
    pub(crate) password: Option<Vec<u8>>,
    pub(crate) certificate: Option<PathBuf>,
    pub(crate) chain: Vec<PathBuf>,
    pub(crate) hashing: HashOptions,
    pub(crate) threads: Option<usize>,
    pub(crate) json: bool,
}

impl SignSettings {
    pub(crate) fn from_args(args: SignArgs) -> anyhow::Result<Self> {
        let password = match (&args.password_env, &args.password_file) {
            (Some(var), _) => Some(
                std::env::var(var)
                    .map_err(|_| anyhow::anyhow!("the environment variable `{var}` is not set"))?
                    .into_bytes(),
            ),
            (None, Some(file)) => {
                if fs_err::metadata(file)?.len() > 64 * 1024 {
                    anyhow::bail!("`{}` is too large for a password file", file.display());
                }
                let text = fs_err::read_to_string(file)?;
                Some(text.lines().next().unwrap_or_default().as_bytes().to_vec())
            }
            (None, None) => None,
        };
        let ModelFilesArgs {
            ignore_paths: ignore,
            no_ignore_git_paths,
            threads: t,
        } = args.files;
        Ok(Self {
            signature: args
                .signature
                .unwrap_or_else(|| default_signature(&args.model)),
            hashing: HashOptions {
                method: match &args.shard_size {
                    Some(s) => Method::Shards(parse_size(s)?),
                    None => Method::Files,
                },
                hash: match args.hash {
                    HashArg::Sha256 => HashAlg::Sha256,
                    HashArg::Blake2b => HashAlg::Blake2b,
                    HashArg::Blake3 => HashAlg::Blake3,
                },
                allow_symlinks: args.allow_symlinks,
                ignore_paths: ignore_paths(&args.model, &ignore)?,
                ignore_git: !no_ignore_git_paths,
                progress: None,
            },
            model: args.model,
            key: args.key,
            password,
            certificate: args.certificate,
            chain: args.certificate_chain,
            threads: threads(t)?,
            json: args.format == OutputFormat::Json,
        })
    }
}

/// What `aisec verify` trusts, as given.
#[derive(Debug)]
pub(crate) enum TrustSpec {
    Key(PathBuf),
    Certificates(Vec<PathBuf>),
    Keyless {
        trust_root: PathBuf,
        identity: String,
        issuer: String,
    },
}

/// `aisec verify`, validated.
#[derive(Debug)]
pub(crate) struct VerifySettings {
    pub(crate) model: PathBuf,
    pub(crate) signature: PathBuf,
    pub(crate) trust: TrustSpec,
    pub(crate) check: CheckOptions,
    pub(crate) threads: Option<usize>,
    pub(crate) format: Format,
    pub(crate) output: Option<PathBuf>,
}

impl VerifySettings {
    pub(crate) fn from_args(args: VerifyArgs) -> anyhow::Result<Self> {
        let trust = match (
            args.public_key,
            args.certificate_chain.is_empty(),
            args.trust_root,
        ) {
            (Some(k), true, None) => TrustSpec::Key(k),
            (None, false, None) => TrustSpec::Certificates(args.certificate_chain),
            (None, true, Some(trust_root)) => TrustSpec::Keyless {
                trust_root,
                identity: args.identity.unwrap_or_default(),
                issuer: args.identity_provider.unwrap_or_default(),
            },
            _ => anyhow::bail!(
                "say what to trust: --public-key, --certificate-chain, or --trust-root with --identity and --identity-provider"
            ),
        };
        Ok(Self {
            signature: args
                .signature
                .unwrap_or_else(|| default_signature(&args.model)),
            check: CheckOptions {
                ignore_unsigned: args.ignore_unsigned_files,
                ignore_paths: ignore_paths(&args.model, &args.files.ignore_paths)?,
                no_git_ignores: args.files.no_ignore_git_paths,
                progress: None,
            },
            model: args.model,
            trust,
            threads: threads(args.files.threads)?,
            format: format(args.format),
            output: args.output,
        })
    }
}
