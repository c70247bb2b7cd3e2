//! Validated settings, built once from the parsed arguments. Commands never see clap types.

use std::io::IsTerminal;
use std::path::PathBuf;

use aisec_core::Severity;
use aisec_report::Format;

use crate::cli::{
    BomArgs, BomFormat, ColorChoice, GlobalArgs, OutputFormat, ScanArgs, SeverityArg,
};

/// Settings every command shares.
#[derive(Debug, Clone)]
pub(crate) struct GlobalSettings {
    pub(crate) progress: bool,
    pub(crate) quiet: bool,
    pub(crate) color: bool,
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
            fail_on: severity(args.fail_on),
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
    }
}

fn severity(s: SeverityArg) -> Severity {
    match s {
        SeverityArg::Info => Severity::Info,
        SeverityArg::Low => Severity::Low,
        SeverityArg::Medium => Severity::Medium,
        SeverityArg::High => Severity::High,
        SeverityArg::Critical => Severity::Critical,
    }
}
