//! The policy engine: [`evaluate`] runs the scanners a [`Policy`] turns on over an [`Exchange`]
//! (a request's messages and, once the model answered, its reply) and returns the [`Verdict`]:
//! every rule that fired, the strongest action among them, and the redacted texts. No I/O and no
//! clock: the same inputs give the same verdict, which is how it is tested.

use aisec_llm::{Message, Role};
use serde::Serialize;

use crate::policy::{Action, FailMode, Policy, Rule};
use crate::scan::{Hit, injection, invisible, output, pii, secrets, views};

/// Where in the exchange a rule fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// In the request's messages, before the model sees them.
    Input,
    /// In the model's reply, before the client sees it.
    Output,
    /// In the stream of one client's queries (model extraction), not in one exchange.
    Stream,
}

/// A classifier of prompts: the probability that a text is an injection or a jailbreak.
pub trait InjectionClassifier: Send + Sync {
    /// The probability, 0..1.
    ///
    /// # Errors
    /// Whatever stops the model; the engine applies the policy's fail mode.
    fn probability(&self, text: &str) -> std::result::Result<f64, String>;
}

/// One exchange to judge.
#[derive(Clone, Copy)]
pub struct Exchange<'a> {
    /// The request's messages. User and tool messages are scanned as input (a tool result is
    /// where indirect injections arrive); system messages are the prompt a reply must not
    /// recite.
    pub messages: &'a [Message],
    /// The model's reply, once there is one: then the reply is judged (output stage).
    pub reply: Option<&'a str>,
    /// Canaries planted for this exchange, on top of the policy's.
    pub canaries: &'a [String],
}

impl<'a> Exchange<'a> {
    /// The input stage of `messages`.
    #[must_use]
    pub fn input(messages: &'a [Message]) -> Self {
        Self {
            messages,
            reply: None,
            canaries: &[],
        }
    }

    /// The output stage: `reply` to `messages`.
    #[must_use]
    pub fn output(messages: &'a [Message], reply: &'a str) -> Self {
        Self {
            messages,
            reply: Some(reply),
            canaries: &[],
        }
    }
}

/// A rule that fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fired {
    /// The rule id: GD100-GD109 for prompts, GD150-GD159 for replies, GD160 for a client's query
    /// stream, GD199 a scanner failure.
    pub rule: &'static str,
    /// The scanner's name in the policy file (`injection`, `pii`, `links`...).
    pub scanner: &'static str,
    /// Prompt or reply.
    pub stage: Stage,
    /// What the policy does about it.
    pub action: Action,
    /// The message it is in (an index into the request's messages); None for the reply.
    pub message: Option<usize>,
    /// What the scanner found.
    pub hit: Hit,
}

/// The engine's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// The strongest action of the rules that fired (`allow` when none did).
    pub action: Action,
    /// Every rule that fired, in the order scanned.
    pub fired: Vec<Fired>,
    /// Scanners that failed, with the reason.
    pub errors: Vec<String>,
    /// Messages whose text was redacted: (index, new text). Only when the action is `redact`.
    pub redacted_messages: Vec<(usize, String)>,
    /// The reply with redactions, when the action is `redact`.
    pub redacted_reply: Option<String>,
}

impl Verdict {
    /// Whether the exchange must stop.
    #[must_use]
    pub fn blocked(&self) -> bool {
        self.action == Action::Block
    }
}

/// GD199: `scanner` failed with `error`; the policy's fail mode says whether that blocks
/// (closed) or is only recorded (open).
#[must_use]
pub fn failure(
    fail: FailMode,
    scanner: &'static str,
    stage: Stage,
    error: &str,
    message: Option<usize>,
) -> Fired {
    let action = match fail {
        FailMode::Open => Action::Alert,
        FailMode::Closed => Action::Block,
    };
    Fired {
        rule: "GD199",
        scanner,
        stage,
        action,
        message,
        hit: Hit {
            kind: "scanner-error".into(),
            score: 1.0,
            detail: format!("{scanner} failed: {error}"),
            span: None,
        },
    }
}

/// What [`evaluate`] may use besides the policy: the injection classifier, when loaded.
#[derive(Default, Clone, Copy)]
pub struct Models<'a> {
    /// The classifier behind `[input.classifier]`.
    pub classifier: Option<&'a dyn InjectionClassifier>,
}

/// Judges `exchange` under `policy` with the pattern scanners only.
#[must_use]
pub fn evaluate(policy: &Policy, exchange: &Exchange<'_>) -> Verdict {
    evaluate_with(policy, exchange, Models::default())
}

/// Judges `exchange` under `policy`, with `models` for the scanners that need one.
#[must_use]
pub fn evaluate_with(policy: &Policy, exchange: &Exchange<'_>, models: Models<'_>) -> Verdict {
    let mut run = Run {
        policy,
        fired: Vec::new(),
        errors: Vec::new(),
    };
    match exchange.reply {
        None => run.input(exchange, models),
        Some(reply) => run.output(exchange, reply),
    }
    run.finish(exchange)
}

struct Run<'p> {
    policy: &'p Policy,
    fired: Vec<Fired>,
    errors: Vec<String>,
}

/// Replacement text of a redacted span.
fn placeholder(kind: &str) -> String {
    format!("[REDACTED:{}]", kind.to_ascii_uppercase())
}

/// Case-folded text with invisible characters and look-alike letters normalised, for bans.
fn folded(text: &str) -> String {
    views::fold_homoglyphs(&invisible::strip(text)).to_lowercase()
}

impl Run<'_> {
    fn fire(
        &mut self,
        rule: &'static str,
        scanner: &'static str,
        stage: Stage,
        r: &Rule,
        message: Option<usize>,
        hit: Hit,
    ) {
        if hit.score >= r.threshold && r.action != Action::Allow {
            // A redaction needs a span; without one the text cannot be cut, so it is stopped.
            let action = if r.action == Action::Redact && hit.span.is_none() {
                Action::Block
            } else {
                r.action
            };
            self.fired.push(Fired {
                rule,
                scanner,
                stage,
                action,
                message,
                hit,
            });
        }
    }

    fn input(&mut self, ex: &Exchange<'_>, models: Models<'_>) {
        let p = &self.policy.input;
        let scanned: Vec<(usize, &str)> = ex
            .messages
            .iter()
            .enumerate()
            .filter(|(_, m)| matches!(m.role, Role::User | Role::Tool))
            .map(|(i, m)| (i, m.content_text()))
            .collect();
        let s = Stage::Input;
        for &(i, text) in &scanned {
            let at = Some(i);
            if let Some(r) = &p.invisible {
                for h in invisible::scan(text).hits {
                    self.fire("GD101", "invisible", s, r, at, Hit { span: None, ..h });
                }
            }
            if let Some(r) = &p.injection
                && let Some(h) = injection::scan(&views::views(text))
            {
                self.fire("GD100", "injection", s, r, at, h);
            }
            if let Some(r) = &p.classifier
                && let Some(c) = models.classifier
            {
                match c.probability(&invisible::strip(text)) {
                    Ok(prob) => {
                        let hit = Hit {
                            kind: "classifier".into(),
                            score: prob,
                            detail: format!("the injection classifier gives {prob:.3}"),
                            span: None,
                        };
                        self.fire("GD100", "classifier", s, r, at, hit);
                    }
                    Err(e) => self.failed("classifier", &e, at),
                }
            }
            if let Some(r) = &p.secrets {
                for h in secrets::scan(text) {
                    self.fire("GD102", "secrets", s, r, at, h);
                }
            }
            if let Some(r) = &p.pii {
                for h in pii::scan(text, &r.kinds) {
                    self.fire("GD103", "pii", s, &r.rule, at, h);
                }
            }
            if let Some(r) = &p.bans {
                self.bans(text, &r.substrings, &r.rule, s, at, "GD104");
            }
        }
        if let Some(r) = &p.length {
            let chars: usize = scanned.iter().map(|(_, t)| t.chars().count()).sum();
            let tokens: usize = scanned.iter().map(|(_, t)| t.len().div_ceil(4)).sum();
            let over = r
                .max_chars
                .filter(|&m| chars > m)
                .map(|m| format!("{chars} characters, limit {m}"))
                .or_else(|| {
                    r.max_tokens
                        .filter(|&m| tokens > m)
                        .map(|m| format!("about {tokens} tokens, limit {m}"))
                });
            if let Some(detail) = over {
                let hit = Hit {
                    kind: "length".into(),
                    score: 1.0,
                    detail,
                    span: None,
                };
                self.fire("GD105", "length", s, &r.rule, None, hit);
            }
        }
    }

    fn output(&mut self, ex: &Exchange<'_>, reply: &str) {
        let p = &self.policy.output;
        let s = Stage::Output;
        if let Some(r) = &p.canary {
            let all: Vec<String> = r.canaries.iter().chain(ex.canaries).cloned().collect();
            if let Some(h) = output::canary(reply, &all) {
                self.fire("GD150", "canary", s, &r.rule, None, h);
            }
        }
        if let Some(r) = &p.leak {
            for m in ex.messages.iter().filter(|m| m.role == Role::System) {
                let runs = output::PromptRuns::new(m.content_text());
                if let Some(h) = output::leak(reply, &runs) {
                    self.fire("GD151", "leak", s, r, None, h);
                }
            }
        }
        if let Some(r) = &p.secrets {
            for h in secrets::scan(reply) {
                self.fire("GD152", "secrets", s, r, None, h);
            }
        }
        if let Some(r) = &p.pii {
            for h in pii::scan(reply, &r.kinds) {
                self.fire("GD153", "pii", s, &r.rule, None, h);
            }
        }
        if let Some(r) = &p.links {
            for h in output::foreign_links(reply, &r.allow, r.links) {
                self.fire("GD154", "links", s, &r.rule, None, h);
            }
        }
        if let Some(r) = &p.code
            && let Some(h) = output::unsafe_code(reply, &r.kinds)
        {
            self.fire("GD155", "code", s, &r.rule, None, h);
        }
        if let Some(r) = &p.bans {
            self.bans(reply, &r.substrings, &r.rule, s, None, "GD156");
        }
    }

    fn bans(
        &mut self,
        text: &str,
        banned: &[String],
        r: &Rule,
        s: Stage,
        at: Option<usize>,
        rule: &'static str,
    ) {
        let t = folded(text);
        for (k, b) in banned.iter().enumerate() {
            let b = folded(b);
            if !b.trim().is_empty() && t.contains(b.trim()) {
                // The exact span, when the text holds the substring as written.
                let lower = text.to_lowercase();
                let span = (lower.len() == text.len())
                    .then(|| lower.find(b.trim()).map(|i| (i, i + b.trim().len())))
                    .flatten();
                let hit = Hit {
                    kind: "banned".into(),
                    score: 1.0,
                    detail: format!("banned substring #{}", k + 1),
                    span,
                };
                self.fire(rule, "bans", s, r, at, hit);
            }
        }
    }

    fn failed(&mut self, scanner: &'static str, error: &str, at: Option<usize>) {
        self.errors.push(format!("{scanner}: {error}"));
        self.fired
            .push(failure(self.policy.fail, scanner, Stage::Input, error, at));
    }

    fn finish(self, ex: &Exchange<'_>) -> Verdict {
        let action = self
            .fired
            .iter()
            .map(|f| f.action)
            .max()
            .unwrap_or(Action::Allow);
        let mut redacted_messages = Vec::new();
        let mut redacted_reply = None;
        if action == Action::Redact {
            let spans_of = |message: Option<usize>| -> Vec<(usize, usize, &str)> {
                self.fired
                    .iter()
                    .filter(|f| f.action == Action::Redact && f.message == message)
                    .filter_map(|f| f.hit.span.map(|(a, b)| (a, b, f.hit.kind.as_str())))
                    .collect()
            };
            match ex.reply {
                Some(reply) => redacted_reply = Some(redact(reply, &spans_of(None))),
                None => {
                    let mut indices: Vec<usize> =
                        self.fired.iter().filter_map(|f| f.message).collect();
                    indices.sort_unstable();
                    indices.dedup();
                    for i in indices {
                        let spans = spans_of(Some(i));
                        if !spans.is_empty() {
                            let text = ex.messages[i].content_text();
                            redacted_messages.push((i, redact(text, &spans)));
                        }
                    }
                }
            }
        }
        Verdict {
            action,
            fired: self.fired,
            errors: self.errors,
            redacted_messages,
            redacted_reply,
        }
    }
}

/// `text` with each span replaced by a placeholder naming its kind; overlapping spans merge.
#[must_use]
pub fn redact(text: &str, spans: &[(usize, usize, &str)]) -> String {
    let mut spans: Vec<(usize, usize, &str)> = spans
        .iter()
        .copied()
        .filter(|&(a, b, _)| {
            a < b && b <= text.len() && text.is_char_boundary(a) && text.is_char_boundary(b)
        })
        .collect();
    spans.sort_by_key(|&(a, b, _)| (a, std::cmp::Reverse(b)));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (a, b, kind) in spans {
        if a < at {
            if b > at {
                at = b;
            }
            continue;
        }
        out.push_str(&text[at..a]);
        out.push_str(&placeholder(kind));
        at = b;
    }
    out.push_str(&text[at..]);
    out
}
