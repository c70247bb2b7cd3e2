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
    /// Sign a model (directory or file) in the OpenSSF model-signing format.
    Sign(SignArgs),
    /// Verify a model against its OpenSSF model-signing signature.
    Verify(VerifyArgs),
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

/// Hash algorithms for model signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HashArg {
    /// SHA-256 (the default; what every verifier supports).
    Sha256,
    /// BLAKE2b-512.
    Blake2b,
    /// BLAKE3 (fastest; parallel within a file, so never sharded).
    Blake3,
}

/// What selects and hashes the files of a model, for `sign` and `verify`.
#[derive(Debug, Args)]
pub struct ModelFilesArgs {
    /// Paths (relative to the model) to leave out, with everything below them.
    #[arg(long = "ignore-paths", alias = "ignore_paths", value_name = "PATH", num_args = 1..)]
    pub ignore_paths: Vec<String>,
    /// Do not leave out `.git`, `.gitattributes`, `.github` and `.gitignore`.
    #[arg(long, alias = "no_ignore_git_paths")]
    pub no_ignore_git_paths: bool,
    /// Worker threads for hashing (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// `aisec sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The model: a directory (every file below it) or a single file.
    pub model: PathBuf,
    /// Where to write the signature (default: `model.sig` inside a model directory, `FILE.sig`
    /// beside a single-file model). Left out of the signature when inside the model.
    #[arg(long, short)]
    pub signature: Option<PathBuf>,
    /// The ECDSA private key (P-256, P-384 or P-521), PEM: SEC1 or PKCS#8, possibly encrypted.
    #[arg(long, alias = "private_key", alias = "private-key", value_name = "PEM")]
    pub key: PathBuf,
    /// Read the key's password from this environment variable.
    #[arg(long, value_name = "VAR", conflicts_with = "password_file")]
    pub password_env: Option<String>,
    /// Read the key's password from this file (first line).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Sign with a certificate: the signing certificate (PEM) whose key is `--key`.
    #[arg(
        long,
        alias = "signing_certificate",
        alias = "signing-certificate",
        value_name = "PEM"
    )]
    pub certificate: Option<PathBuf>,
    /// The certificates above the signing certificate (intermediates, root), PEM, to put in the
    /// signature.
    #[arg(long, alias = "certificate_chain", value_name = "PEM", num_args = 1.., requires = "certificate")]
    pub certificate_chain: Vec<PathBuf>,
    /// The hash.
    #[arg(long, value_enum, default_value_t = HashArg::Sha256)]
    pub hash: HashArg,
    /// Cut files into shards of this size (bytes; or with a suffix: 500M, 1G decimal, 512Mi, 1Gi
    /// binary) and hash the shards in parallel. Default: one digest per file.
    #[arg(long, value_name = "SIZE")]
    pub shard_size: Option<String>,
    /// Follow symbolic links to files (signed under the link's name). Otherwise a link is an error.
    #[arg(long, alias = "allow_symlinks")]
    pub allow_symlinks: bool,
    /// Selecting and hashing files.
    #[command(flatten)]
    pub files: ModelFilesArgs,
    /// Output format of the summary (human or json).
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
}

/// `aisec verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The model: a directory or a single file.
    pub model: PathBuf,
    /// The signature (default: `model.sig` inside a model directory, `FILE.sig` beside a file).
    #[arg(long, short)]
    pub signature: Option<PathBuf>,
    /// Trust this public key (PEM, or a certificate whose key to use).
    #[arg(long, alias = "public_key", value_name = "PEM", group = "trust")]
    pub public_key: Option<PathBuf>,
    /// Trust certificates issued by these (PEM root and intermediate certificates).
    #[arg(long, alias = "certificate_chain", value_name = "PEM", num_args = 1.., group = "trust")]
    pub certificate_chain: Vec<PathBuf>,
    /// Sigstore keyless: the trust root (`trusted_root.json`: Fulcio CAs, Rekor and CT log keys).
    #[arg(long, alias = "trust_config", alias = "trust-config", value_name = "JSON", group = "trust", requires_all = ["identity", "identity_provider"])]
    pub trust_root: Option<PathBuf>,
    /// Sigstore keyless: the signer identity the certificate must name (email or URI).
    #[arg(long, requires = "trust_root")]
    pub identity: Option<String>,
    /// Sigstore keyless: the OIDC issuer that must have vouched for the identity.
    #[arg(long, alias = "identity_provider", requires = "trust_root")]
    pub identity_provider: Option<String>,
    /// Only check the files the signature lists; files it does not list are not reported.
    #[arg(long, alias = "ignore_unsigned_files")]
    pub ignore_unsigned_files: bool,
    /// Selecting and hashing files.
    #[command(flatten)]
    pub files: ModelFilesArgs,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
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
