//! Command-line definitions (clap derive). Doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// aisec: AI security engineering from one binary.
#[derive(Debug, Parser)]
#[command(name = "aisec", version, about, long_about = None)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// No progress output on stderr.
    #[arg(long, short, global = true, help_heading = "Global options")]
    pub quiet: bool,
    /// When to use color: auto (a terminal without NO_COLOR), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true, help_heading = "Global options")]
    pub color: ColorChoice,
}

/// When to color output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find code that runs, and unsafe constructs, in model files (pickle, PyTorch, joblib, NumPy, archives).
    Scan(ScanArgs),
    /// Write an AI bill of materials (CycloneDX 1.6 or SPDX 3.0.1) for a model directory.
    Bom(BomArgs),
    /// List the rules, or explain one.
    #[command(subcommand)]
    Rules(RulesCommand),
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people.
    Human,
    /// The JSON report.
    Json,
    /// SARIF 2.1.0 (GitHub code scanning).
    Sarif,
}

/// Severities for `--fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeverityArg {
    /// Fail on anything.
    Info,
    /// Low and above.
    Low,
    /// Medium and above.
    Medium,
    /// High and above.
    High,
    /// Critical only.
    Critical,
}

/// `aisec scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files and directories to scan (directories recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Exit with 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = SeverityArg::High)]
    pub fail_on: SeverityArg,
    /// Exit 0 even when findings are at or above `--fail-on` (errors still exit 2).
    #[arg(long)]
    pub exit_zero: bool,
    /// In human output, also list every file and member examined.
    #[arg(long, short)]
    pub verbose: bool,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// `aisec rules …`.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// List every rule.
    List {
        /// Output format (human or json).
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
    },
    /// Explain one rule: what it finds, why it matters, an example, references.
    Explain {
        /// The rule id (`MS101`) or name (`pickle-code-execution`).
        id: String,
    },
}

/// BOM formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BomFormat {
    /// CycloneDX 1.6 JSON.
    Cyclonedx,
    /// SPDX 3.0.1 JSON-LD with the AI and Dataset profiles.
    Spdx3,
}

/// `aisec bom`.
#[derive(Debug, Args)]
pub struct BomArgs {
    /// The model directory (a Hugging Face style repository, or a directory of models).
    pub dir: PathBuf,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = BomFormat::Cyclonedx)]
    pub format: BomFormat,
    /// Write the BOM to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Do not scan the directory (the BOM then has no vulnerabilities section).
    #[arg(long)]
    pub no_scan: bool,
    /// The signature file to reference (default: `model.sig` in the directory, if present).
    #[arg(long, value_name = "FILE")]
    pub signature: Option<PathBuf>,
    /// The model's hub id, `ORG/NAME`: gives the model a purl and a supplier.
    #[arg(long, value_name = "ORG/NAME")]
    pub model_id: Option<String>,
    /// Also write the completeness score, with every field, as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub completeness_json: Option<PathBuf>,
}
