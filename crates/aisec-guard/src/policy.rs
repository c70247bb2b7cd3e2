//! The guard's policy, read from TOML: for each scanner of prompts (`[input.*]`) and of replies
//! (`[output.*]`) the action its hits get and the score they must reach, and what to do when a
//! scanner fails. A scanner whose section is absent does not run; [`Policy::recommended`] is the
//! policy the proxy uses when given none. docs/guard.md documents every key.

use std::collections::BTreeMap;
use std::path::Path;

use aisec_llm::inspect::code::CodeKind;
use serde::{Deserialize, Serialize};

use crate::error::{GuardError, Result};
use crate::scan::pii::PiiKind;

/// What happens to an exchange when a rule fires. Ordered: the strongest action of all the
/// rules that fired is the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Let it through and record nothing.
    Allow,
    /// Let it through unchanged and record it (shadow mode: measure a rule before enforcing).
    Alert,
    /// Replace what fired with a placeholder and let the rest through.
    Redact,
    /// Stop the exchange.
    Block,
}

/// What to do when a scanner fails or runs out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailMode {
    /// Let the exchange through (availability first); the failure is recorded.
    Open,
    /// Block the exchange (safety first).
    #[default]
    Closed,
}

fn default_threshold() -> f64 {
    0.5
}

/// A scanner's action and threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The action of a hit at or above the threshold.
    pub action: Action,
    /// The least score (0..1) that counts; default 0.5.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
}

/// Personal-data scanning: which kinds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PiiRule {
    /// Action and threshold.
    #[serde(flatten)]
    pub rule: Rule,
    /// The kinds looked for (default: all).
    #[serde(default = "all_pii")]
    pub kinds: Vec<PiiKind>,
}

fn all_pii() -> Vec<PiiKind> {
    PiiKind::ALL.to_vec()
}

/// Banned substrings (compared after folding case, homoglyphs and invisible characters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BanRule {
    /// Action (the threshold is not used: a ban matches or not).
    #[serde(flatten)]
    pub rule: Rule,
    /// The banned substrings.
    #[serde(default)]
    pub substrings: Vec<String>,
}

/// Size limits on the text of an exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LengthRule {
    /// Action when a limit is passed.
    #[serde(flatten)]
    pub rule: Rule,
    /// Most characters in all the scanned messages together.
    #[serde(default)]
    pub max_chars: Option<usize>,
    /// Most tokens, estimated as one per 4 bytes of UTF-8 (rounded up), the usual rule of thumb
    /// for English with BPE tokenizers.
    #[serde(default)]
    pub max_tokens: Option<usize>,
}

/// Canaries: secrets planted in the system prompt that must never come back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryRule {
    /// Action when one is in a reply.
    #[serde(flatten)]
    pub rule: Rule,
    /// The secrets (the proxy adds the canary it plants itself).
    #[serde(default)]
    pub canaries: Vec<String>,
}

/// Images and links in replies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRule {
    /// Action and threshold (an image carrying data scores 1.0, a plain image 0.8, a link
    /// carrying data 0.7, a plain link 0.4).
    #[serde(flatten)]
    pub rule: Rule,
    /// Hosts (and their subdomains) that replies may show images from and link to.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Check links too, not only images.
    #[serde(default)]
    pub links: bool,
}

/// Code in replies that the application might run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRule {
    /// Action and threshold.
    #[serde(flatten)]
    pub rule: Rule,
    /// The kinds (default: script, sql, shell).
    #[serde(default = "all_code")]
    pub kinds: Vec<CodeKind>,
}

fn all_code() -> Vec<CodeKind> {
    vec![CodeKind::Script, CodeKind::Sql, CodeKind::Shell]
}

/// The scanners of prompts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputPolicy {
    /// Prompt injection and jailbreak patterns, over every reading of the text.
    #[serde(default)]
    pub injection: Option<Rule>,
    /// The injection classifier on sentence embeddings (when one is loaded).
    #[serde(default)]
    pub classifier: Option<Rule>,
    /// Invisible and smuggled characters.
    #[serde(default)]
    pub invisible: Option<Rule>,
    /// Credentials.
    #[serde(default)]
    pub secrets: Option<Rule>,
    /// Personal data.
    #[serde(default)]
    pub pii: Option<PiiRule>,
    /// Banned substrings.
    #[serde(default)]
    pub bans: Option<BanRule>,
    /// Size limits.
    #[serde(default)]
    pub length: Option<LengthRule>,
}

/// The scanners of replies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputPolicy {
    /// Planted canaries.
    #[serde(default)]
    pub canary: Option<CanaryRule>,
    /// The system prompt recited: the score is the share of its words in the reply.
    #[serde(default)]
    pub leak: Option<Rule>,
    /// Credentials.
    #[serde(default)]
    pub secrets: Option<Rule>,
    /// Personal data.
    #[serde(default)]
    pub pii: Option<PiiRule>,
    /// Images and links to hosts not allowed.
    #[serde(default)]
    pub links: Option<LinkRule>,
    /// Code the application might run.
    #[serde(default)]
    pub code: Option<CodeRule>,
    /// Banned substrings.
    #[serde(default)]
    pub bans: Option<BanRule>,
}

/// The whole policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// When a scanner fails (default: closed).
    #[serde(default)]
    pub fail: FailMode,
    /// Scanners of prompts.
    #[serde(default)]
    pub input: InputPolicy,
    /// Scanners of replies.
    #[serde(default)]
    pub output: OutputPolicy,
    /// What one request may make the model do.
    #[serde(default)]
    pub limits: Limits,
    /// Per-client monitoring of classifier query streams for model extraction.
    #[serde(default)]
    pub extraction: Option<ExtractionRule>,
}

/// Per-client monitoring of query streams to a served classifier (`/v2/models/NAME/infer`) for
/// model extraction: PRADA's test of the distances between each client's queries. Each client
/// and model has its own stream; a stream that raised the alarm is refused for `block_seconds`
/// when the action is `block`, then starts afresh.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractionRule {
    /// `block` (refuse the stream from the alarm on) or `alert` (record it and answer).
    pub action: Action,
    /// The alarm fires when the Shapiro-Wilk statistic of the distances falls below this
    /// (default 0.95; calibrate on natural traffic: the lowest statistic its streams reach,
    /// less a margin).
    #[serde(default = "default_delta")]
    pub delta: f64,
    /// Distances collected before the first test (default 100).
    #[serde(default = "default_min_queries")]
    pub min_queries: usize,
    /// Queries one stream holds before it starts afresh (default 10,000; memory grows with it).
    #[serde(default = "default_window")]
    pub window: usize,
    /// How long a stream that raised the alarm stays refused (default one hour).
    #[serde(default = "default_block_seconds")]
    pub block_seconds: u64,
}

fn default_delta() -> f64 {
    0.95
}

fn default_min_queries() -> usize {
    100
}

fn default_window() -> usize {
    10_000
}

fn default_block_seconds() -> u64 {
    3600
}

impl ExtractionRule {
    /// PRADA's settings for this rule.
    #[must_use]
    pub fn prada(&self) -> aisec_core::stats::prada::Prada {
        aisec_core::stats::prada::Prada {
            delta: self.delta,
            min_distances: self.min_queries,
        }
    }

    fn check(&self) -> Result<()> {
        if !matches!(self.action, Action::Block | Action::Alert) {
            return Err(GuardError::Policy(
                "extraction: the action is block or alert".into(),
            ));
        }
        self.prada()
            .validate()
            .map_err(|e| GuardError::Policy(format!("extraction: {e}")))?;
        let most = aisec_core::stats::prada::MAX_QUERIES;
        if self.window <= self.min_queries || self.window > most {
            return Err(GuardError::Policy(format!(
                "extraction: window must be above min_queries ({}) and at most {most}, not {}",
                self.min_queries, self.window
            )));
        }
        Ok(())
    }
}

/// Limits on what one request may make the model generate (unbounded consumption, OWASP LLM10).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Most tokens one answer may generate: a request asking for more (`max_tokens`,
    /// `max_completion_tokens`) is cut to this, and one asking for none gets this.
    #[serde(default)]
    pub max_completion_tokens: Option<u32>,
    /// Most answers (`n`) one request may ask for; a request asking for more is refused.
    #[serde(default)]
    pub max_choices: Option<u32>,
}

const fn rule(action: Action, threshold: f64) -> Rule {
    Rule { action, threshold }
}

impl Policy {
    /// Every scanner on: injections, smuggled characters, oversized prompts, canaries and
    /// recited prompts and exfiltrating images blocked; credentials redacted both ways; personal
    /// data in replies redacted; code in replies and personal data in prompts recorded.
    #[must_use]
    pub fn recommended() -> Self {
        Self {
            fail: FailMode::Closed,
            input: InputPolicy {
                injection: Some(rule(Action::Block, 0.5)),
                classifier: Some(rule(Action::Block, 0.5)),
                invisible: Some(rule(Action::Block, 0.5)),
                secrets: Some(rule(Action::Redact, 0.5)),
                pii: Some(PiiRule {
                    rule: rule(Action::Alert, 0.5),
                    kinds: all_pii(),
                }),
                bans: None,
                length: Some(LengthRule {
                    rule: rule(Action::Block, 0.5),
                    max_chars: None,
                    max_tokens: Some(32_768),
                }),
            },
            output: OutputPolicy {
                canary: Some(CanaryRule {
                    rule: rule(Action::Block, 0.5),
                    canaries: Vec::new(),
                }),
                leak: Some(rule(Action::Block, 0.3)),
                secrets: Some(rule(Action::Redact, 0.5)),
                pii: Some(PiiRule {
                    rule: rule(Action::Redact, 0.5),
                    kinds: all_pii(),
                }),
                links: Some(LinkRule {
                    rule: rule(Action::Redact, 0.7),
                    allow: Vec::new(),
                    links: false,
                }),
                code: Some(CodeRule {
                    rule: rule(Action::Alert, 0.5),
                    kinds: all_code(),
                }),
                bans: None,
            },
            limits: Limits {
                max_completion_tokens: None,
                max_choices: Some(8),
            },
            extraction: Some(ExtractionRule {
                action: Action::Alert,
                delta: default_delta(),
                min_queries: default_min_queries(),
                window: default_window(),
                block_seconds: default_block_seconds(),
            }),
        }
    }

    /// Parses a policy and checks it (thresholds within 0..1).
    ///
    /// # Errors
    /// [`GuardError::Policy`] with the TOML error's line and column, or the bad value.
    pub fn from_toml(text: &str) -> Result<Self> {
        let p: Self = toml::from_str(text).map_err(|e| GuardError::Policy(e.to_string()))?;
        p.check()?;
        Ok(p)
    }

    /// Reads and parses a policy file (at most 1 MiB).
    ///
    /// # Errors
    /// [`GuardError::Io`], or as [`Self::from_toml`] with the path in front.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = read_small(path)?;
        Self::from_toml(&text).map_err(|e| GuardError::Policy(format!("{}: {e}", path.display())))
    }

    fn check(&self) -> Result<()> {
        let i = &self.input;
        let o = &self.output;
        let rules: [(&str, Option<&Rule>); 13] = [
            ("input.injection", i.injection.as_ref()),
            ("input.classifier", i.classifier.as_ref()),
            ("input.invisible", i.invisible.as_ref()),
            ("input.secrets", i.secrets.as_ref()),
            ("input.pii", i.pii.as_ref().map(|r| &r.rule)),
            ("input.bans", i.bans.as_ref().map(|r| &r.rule)),
            ("input.length", i.length.as_ref().map(|r| &r.rule)),
            ("output.canary", o.canary.as_ref().map(|r| &r.rule)),
            ("output.leak", o.leak.as_ref()),
            ("output.secrets", o.secrets.as_ref()),
            ("output.pii", o.pii.as_ref().map(|r| &r.rule)),
            ("output.links", o.links.as_ref().map(|r| &r.rule)),
            ("output.code", o.code.as_ref().map(|r| &r.rule)),
        ];
        for (name, r) in rules {
            if let Some(r) = r
                && !(0.0..=1.0).contains(&r.threshold)
            {
                return Err(GuardError::Policy(format!(
                    "{name}: threshold {} is not within 0..1",
                    r.threshold
                )));
            }
        }
        if let Some(e) = &self.extraction {
            e.check()?;
        }
        Ok(())
    }
}

/// A client of the proxy: who it is (the SHA-256 of its key, so the file holds no key), which
/// policy applies to it, and its limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// The name in logs and metrics.
    pub name: String,
    /// Lower-case hex SHA-256 of the client's key (`printf %s KEY | sha256sum`).
    pub key_sha256: String,
    /// A profile of the file (`[profiles.NAME]`); the top-level policy when absent.
    #[serde(default)]
    pub profile: Option<String>,
    /// Most requests per minute (a token bucket refilled continuously).
    #[serde(default)]
    pub requests_per_minute: Option<u32>,
    /// Most tokens (prompt plus completion, as the upstream counts them) per UTC day.
    #[serde(default)]
    pub tokens_per_day: Option<u64>,
}

/// The guard's file: the default policy at the top level, named profiles, and the clients.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardFile {
    /// When a scanner fails (default: closed).
    #[serde(default)]
    pub fail: FailMode,
    /// Scanners of prompts.
    #[serde(default)]
    pub input: InputPolicy,
    /// Scanners of replies.
    #[serde(default)]
    pub output: OutputPolicy,
    /// What one request may make the model do.
    #[serde(default)]
    pub limits: Limits,
    /// Per-client monitoring of classifier query streams for model extraction.
    #[serde(default)]
    pub extraction: Option<ExtractionRule>,
    /// Other policies, by name, for clients that need a different one.
    #[serde(default)]
    pub profiles: BTreeMap<String, Policy>,
    /// The clients allowed in; with none, any client is let in under the default policy.
    #[serde(default)]
    pub clients: Vec<Client>,
}

impl GuardFile {
    /// The top-level policy.
    #[must_use]
    pub fn policy(&self) -> Policy {
        Policy {
            fail: self.fail,
            input: self.input.clone(),
            output: self.output.clone(),
            limits: self.limits,
            extraction: self.extraction,
        }
    }

    /// Parses a guard file and checks it: thresholds, profiles that exist, well-formed and
    /// distinct key hashes.
    ///
    /// # Errors
    /// [`GuardError::Policy`] saying what is wrong.
    pub fn from_toml(text: &str) -> Result<Self> {
        let f: Self = toml::from_str(text).map_err(|e| GuardError::Policy(e.to_string()))?;
        f.policy().check()?;
        for (name, p) in &f.profiles {
            p.check()
                .map_err(|e| GuardError::Policy(format!("profile {name}: {e}")))?;
        }
        let mut seen = std::collections::HashSet::new();
        for c in &f.clients {
            let h = c.key_sha256.to_ascii_lowercase();
            if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(GuardError::Policy(format!(
                    "client {}: key_sha256 must be 64 hex digits",
                    c.name
                )));
            }
            if !seen.insert(h) {
                return Err(GuardError::Policy(format!(
                    "client {}: the same key as another client",
                    c.name
                )));
            }
            if let Some(p) = &c.profile
                && !f.profiles.contains_key(p)
            {
                return Err(GuardError::Policy(format!(
                    "client {}: no profile {p:?}",
                    c.name
                )));
            }
        }
        Ok(f)
    }

    /// Reads a guard file (at most 1 MiB).
    ///
    /// # Errors
    /// [`GuardError::Io`], or as [`Self::from_toml`] with the path in front.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = read_small(path)?;
        Self::from_toml(&text).map_err(|e| GuardError::Policy(format!("{}: {e}", path.display())))
    }
}

fn read_small(path: &Path) -> Result<String> {
    let io = |source| GuardError::Io {
        path: path.display().to_string(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() > 1 << 20 {
        return Err(GuardError::Policy(format!(
            "{}: a policy file is at most 1 MiB",
            path.display()
        )));
    }
    std::fs::read_to_string(path).map_err(io)
}
