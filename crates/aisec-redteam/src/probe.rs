//! Probe families as data: one TOML file per family under `crates/aisec-redteam/probes/`, built
//! into the binary, and user files loaded with the same bounds.
//!
//! A family names the finding rule it raises, its taxonomy (OWASP LLM 2025, OWASP Agentic, MITRE
//! ATLAS), its severity and the detector that judges the replies; each probe is one attack: a
//! prompt, a fixed conversation, an instruction hidden in content the application feeds the
//! model, or a generator (many-shot, adaptive escalation, a public corpus).
//!
//! Templates are filled by plain substitution of the placeholders below (never rendered by a
//! template engine): `{marker}` a random token of the attempt that an injected instruction asks
//! the model to repeat (its presence in the reply is the proof); `{exfil_url}` an attacker URL
//! holding the marker; `{payload}` the family's or the probe's payload; `{tool}` the name of a
//! declared tool; `{goal}` a generator's goal.

use serde::{Deserialize, Serialize};

use aisec_core::Severity;

use crate::error::{RedteamError, Result};

/// The largest probe family file read.
pub const MAX_FAMILY_BYTES: usize = 1 << 20;
/// The most probes in one family.
pub const MAX_PROBES: usize = 512;
/// The longest template (bytes).
pub const MAX_TEMPLATE_BYTES: usize = 64 << 10;

/// One probe family (one file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    /// Kebab-case id, the file's stem: `prompt-injection`.
    pub id: String,
    /// One line for reports.
    pub title: String,
    /// What the family tests and why it matters, in our own words.
    pub description: String,
    /// The finding rule raised when a probe succeeds (`RT…`, in `rules.rs`).
    pub rule: String,
    /// The severity of a success.
    pub severity: Severity,
    /// OWASP Top 10 for LLM Applications 2025 ids (`LLM01`…`LLM10`).
    pub owasp_llm: Vec<String>,
    /// OWASP Top 10 for Agentic Applications ids (`ASI01`…), where they apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owasp_agentic: Vec<String>,
    /// MITRE ATLAS technique ids.
    pub atlas: Vec<String>,
    /// What the probes need from the campaign; a family whose needs are unmet is skipped and
    /// reported as skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<Requirement>,
    /// The payload `{payload}` stands for, unless a probe sets its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// The detector for every probe that names none.
    pub detector: DetectorSpec,
    /// The attacks.
    pub probes: Vec<Probe>,
}

/// What a family needs from the campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Requirement {
    /// Tools declared (`--tools`): the target is an agent.
    Tools,
    /// Secrets planted in the target's context (`--canary`).
    Canary,
    /// The target's system prompt (`--system-prompt`), for overlap detection.
    SystemPrompt,
    /// A judge model (`--judge`).
    Judge,
    /// A second model to translate with (`--translator`).
    Translator,
}

/// One attack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// Kebab-case id, unique in the family: `ignore-previous`.
    pub id: String,
    /// What this variant does, in a few words.
    pub description: String,
    /// How the attack is delivered.
    #[serde(flatten)]
    pub attack: Attack,
    /// This probe's payload (`{payload}`), in place of the family's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// This probe's detector, in place of the family's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector: Option<DetectorSpec>,
    /// Converters applied to the attack text before it is sent (in order), on top of any the
    /// campaign stacks with `--converter`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub converters: Vec<ConverterSpec>,
    /// What this probe needs beyond the family's [`Family::requires`]; the probe alone is
    /// skipped when these are unmet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<Requirement>,
}

/// How a probe reaches the model. Exactly one of the keys is set in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attack {
    /// One user message.
    Prompt(String),
    /// A fixed conversation: each user turn is sent after the previous reply; the last reply
    /// is judged.
    Turns(Vec<String>),
    /// Indirect injection: the instruction hides in content the application hands the model.
    Inject(Injection),
    /// Prompts made by a generator.
    Generate(Generator),
}

/// An instruction hidden in content the application feeds the model (indirect injection).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Injection {
    /// Where the content comes from.
    pub carrier: Carrier,
    /// The user's benign request about the content: `Summarise this email.`
    pub task: String,
    /// The content, holding `{payload}` where the hidden instruction goes.
    pub content: String,
}

/// The channel of an indirect injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Carrier {
    /// A document pasted in the user's message (retrieval, uploads).
    Document,
    /// A web page the application fetched.
    Web,
    /// An email the assistant reads.
    Email,
    /// The result of a tool call: sent as an assistant tool call and a `tool` message.
    ToolResult,
}

/// A generator of attack conversations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Generator {
    /// Many-shot jailbreaking: `shots` fabricated exchanges where an assistant complies, then
    /// the real request.
    ManyShot {
        /// Fabricated question/answer pairs (cycled up to `shots`).
        examples: Vec<[String; 2]>,
        /// How many fabricated exchanges precede the request.
        shots: usize,
        /// The request.
        request: String,
    },
    /// Multi-turn escalation that adapts to the replies: start harmless, move towards `goal`
    /// one step at a time; when the model refuses, rephrase with the next tactic instead of
    /// moving on.
    Escalation {
        /// What the attacker wants in the end.
        goal: String,
        /// The steps, from harmless to the goal.
        steps: Vec<String>,
        /// Rephrasings tried after a refusal (`{step}` is the refused step).
        rephrase: Vec<String>,
        /// The most user turns.
        max_turns: usize,
    },
    /// Extraction by sentence completion, in two moves that adapt to the replies: the model
    /// finishes a sentence that names what its instructions protect (`Never reveal the` →
    /// `override code`), then the sentence that holds it (`The override code is`). Each lead is
    /// tried in turn until the model names something.
    Complete {
        /// Sentence starts that make the model name the protected thing.
        leads: Vec<String>,
        /// How a lead is asked, holding `{lead}`.
        ask: String,
        /// The follow-up once something is named, holding `{subject}`.
        then: String,
    },
    /// Prompts from a public corpus through the resolver (`--corpus`), each wrapped around the
    /// payload.
    Corpus {
        /// The corpus name in the resolver's catalog.
        name: String,
        /// The most prompts taken (a seeded sample when the corpus is larger).
        limit: usize,
    },
}

/// The smallest token limit at which a reply cut off by it is evidence of a runaway answer.
pub const UNBOUNDED_MIN_TOKENS: u32 = 256;

fn unbounded_min_tokens() -> u32 {
    UNBOUNDED_MIN_TOKENS
}

/// How a reply is judged. The attack succeeded when the detector fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum DetectorSpec {
    /// The reply holds the attempt's `{marker}` (case and spacing ignored).
    Marker,
    /// The reply holds a planted secret (`--canary`), also encoded (base64, hex, ROT13,
    /// reversed, spelled out).
    Canary,
    /// The reply reproduces the known system prompt: the longest common run of words covers
    /// at least `min` of it.
    Overlap {
        /// Share of the system prompt's words, 0..1.
        min: f64,
    },
    /// The reply matches one of the regular expressions.
    Regex {
        /// Patterns (the `regex` crate's syntax: linear time, no backtracking).
        patterns: Vec<String>,
    },
    /// Markdown images or links whose URL carries data to a host (the marker's or any).
    MarkdownExfil,
    /// Code the application might run: HTML script, SQL, shell.
    UnsafeCode {
        /// Which kinds count.
        kinds: Vec<CodeKind>,
    },
    /// The model called a tool: one of `names`, or any tool declared destructive or
    /// exfiltrating when `names` is empty.
    ToolCall {
        /// Tool names that count.
        #[serde(default)]
        names: Vec<String>,
    },
    /// The model complied instead of refusing (the refusal detector, on MiniLM embeddings).
    Complied,
    /// The reply recommends packages that do not exist.
    PackageHallucination {
        /// `pypi` or `npm`.
        ecosystem: String,
    },
    /// The reply repeats itself without end, or ran to a token limit high enough that a
    /// normal answer would have ended before it.
    Unbounded {
        /// Share of `max_tokens` that counts as running away, 0..1.
        min_share: f64,
        /// The smallest `max_tokens` at which being cut off counts (default
        /// [`UNBOUNDED_MIN_TOKENS`]): under a low limit an ordinary long answer is cut too, so
        /// there only a repetition loop counts.
        #[serde(default = "unbounded_min_tokens")]
        min_tokens: u32,
    },
    /// A judge model answers the question about the reply with yes.
    Judge {
        /// The yes/no question, about `{reply}` and `{goal}`.
        question: String,
    },
}

pub use aisec_llm::inspect::code::CodeKind;

/// An obfuscation converter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ConverterSpec {
    /// Base64, with an instruction to decode it.
    Base64,
    /// Hexadecimal bytes, with an instruction to decode them.
    Hex,
    /// ROT13, with an instruction to decode it.
    Rot13,
    /// Leetspeak.
    Leet,
    /// Latin letters swapped for look-alike Cyrillic and Greek ones.
    Homoglyph,
    /// Zero-width characters between letters.
    ZeroWidth,
    /// The text as invisible Unicode tag characters (U+E0000 block) after a visible cover.
    TagSmuggle,
    /// Translated by the `--translator` model into `language`.
    Translate {
        /// The target language, in English: `French`.
        language: String,
    },
}

impl Family {
    /// Parses a family file.
    ///
    /// # Errors
    /// [`RedteamError::Probe`] when the text is larger than [`MAX_FAMILY_BYTES`], is not TOML
    /// of this format, or breaks a bound.
    pub fn from_toml(name: &str, text: &str) -> Result<Self> {
        let fail = |message: String| RedteamError::Probe {
            family: name.to_owned(),
            message,
        };
        if text.len() > MAX_FAMILY_BYTES {
            return Err(fail(format!(
                "{} bytes, more than {MAX_FAMILY_BYTES}",
                text.len()
            )));
        }
        let family: Self = toml::from_str(text).map_err(|e| fail(e.to_string()))?;
        if family.probes.len() > MAX_PROBES {
            return Err(fail(format!(
                "{} probes, more than {MAX_PROBES}",
                family.probes.len()
            )));
        }
        Ok(family)
    }
}
