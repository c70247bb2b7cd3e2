//! Validated settings, built once from the parsed arguments. Commands never see clap types.

use std::io::IsTerminal;
use std::path::PathBuf;

use aisec_core::Severity;
use aisec_report::Format;

use crate::cli::{ColorChoice, GlobalArgs, OutputFormat, ScanArgs, SeverityArg};

/// Settings every command shares.
#[derive(Debug, Clone)]
pub(crate) struct GlobalSettings {
    pub(crate) progress: bool,
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
