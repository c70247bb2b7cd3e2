//! Jinja template analysis: chat templates (`chat_template.jinja`, GGUF `tokenizer.chat_template`,
//! `tokenizer_config.json` `chat_template`) that inference servers render on every request.
//!
//! A template that walks from a value to Python internals (`''.__class__.__mro__[1]
//! .__subclasses__()`, `cycler.__init__.__globals__.os.popen`) runs code on whoever renders it
//! (server-side template injection, CVE-2024-34359). The analysis is static: a bounded lexer, a
//! recursive-descent parser to an AST, and an abstract evaluation that folds the string building
//! attackers use to hide names (`lexer`, `parser`, `eval`). Nothing is ever rendered.

mod eval;
mod lexer;
mod parser;

use std::fmt::Write as _;

use aisec_core::{Confidence, Severity};
use serde_json::json;

use super::outcome::{Env, Issue, Outcome};
use crate::rules::Rule;
use eval::{Analyser, Report};
use lexer::{Piece, Span};

/// Largest template analysed; the rest of a longer one is reported, not read. Real chat templates
/// are a few KiB (the longest known ones, tool-calling templates, stay under 64 KiB).
const MAX_TEMPLATE: usize = 2 << 20;
/// Longest expression text quoted in evidence.
const MAX_QUOTE: usize = 400;

const ATLAS: &[&str] = &["AML.T0011.000", "AML.T0010.003"];
const REFS: &[&str] = &[
    "https://nvd.nist.gov/vuln/detail/CVE-2024-34359",
    "https://jinja.palletsprojects.com/en/stable/sandbox/",
    "https://atlas.mitre.org/techniques/AML.T0011.000",
    "https://cwe.mitre.org/data/definitions/1336.html",
];
const REMEDIATE: &str = "Do not serve this model with this template. Replace the chat template with the publisher's \
original (compare it with the upstream repository), render templates only in Jinja's `ImmutableSandboxedEnvironment` \
with an up-to-date Jinja, and treat every template shipped inside a model as untrusted code.";

/// The rules this analyser reports under.
pub(crate) const RULES: &[Rule] = &[
    Rule {
        id: "MS650",
        name: "jinja-python-internals",
        title: "Jinja template reaches Python internals",
        severity: Severity::Critical,
        what: "An attribute or item lookup in a Jinja template that reaches a Python internal: a dunder attribute \
(`__class__`, `__mro__`, `__base__`, `__subclasses__`, `__globals__`, `__builtins__`, `__init__`, `__import__`, \
`__dict__`, `__code__`, `__getattribute__` …) or a frame/code attribute (`f_globals`, `gi_frame`, `mro`), however it is \
spelled: `.name`, `['name']`, `|attr('name')`, `map(attribute=…)`, a `str.format` field, or a name built from \
concatenation (`~`, `+`), `format`, `join`, `replace`, `reverse`, slices, escapes (`\\x5f`, `\\u005f`), `set` \
variables, namespaces or macro arguments. The evidence names the attributes, how they were spelled and the calls \
reached after them (`os`, `popen`, `system`, `eval`, `open` …). Dunders outside the dangerous list are reported at `high`.",
        why: "No chat template needs Python internals. From any value a template can walk the class hierarchy to \
`os.popen` and run commands on the server that renders it: server-side template injection. Sandboxes have been \
escaped (CVE-2024-34359 in llama-cpp-python rendered GGUF chat templates unsandboxed), and other renderers have \
no sandbox at all.",
        example: "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-1336", "CWE-94"],
        references: REFS,
    },
    Rule {
        id: "MS651",
        name: "jinja-private-attribute",
        title: "Jinja template reads a private attribute",
        severity: Severity::High,
        what: "An attribute lookup of a name starting with `_` (for example `self._TemplateReference__context`, which \
exposes Jinja's render context and the helper objects SSTI payloads start from).",
        why: "Private attributes are Jinja and Python implementation details; templates reach for them only to \
escape the template language.",
        example: "{{ self._TemplateReference__context.cycler }}",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-1336"],
        references: REFS,
    },
    Rule {
        id: "MS652",
        name: "jinja-computed-attribute",
        title: "Jinja template looks up an attribute by a computed name",
        severity: Severity::High,
        what: "`|attr(…)`, `map(attribute=…)`, `selectattr(…)` or a subscript whose name the analysis cannot \
resolve to a constant, or resolves only to a string built from parts that contain `_` (the characters of \
`__class__` picked out of `lipsum|string`, request arguments, loop-built strings).",
        why: "Chat templates index messages with constant keys; a computed attribute name is how payloads hide \
`__class__` and `__globals__` from filters and reviewers.",
        example: "{{ ''|attr(request.args.a) }}",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-1336"],
        references: REFS,
    },
    Rule {
        id: "MS653",
        name: "jinja-obfuscated-name",
        title: "Jinja template builds or hides the name of a Python internal",
        severity: Severity::High,
        what: "A string the template builds (by concatenation, `format`, `join`, `replace`, `reverse`, slices or \
`set` blocks) that names a Python internal (`__globals__`, `__class__` …) without the analysis seeing it used as an \
attribute; a string literal that spells letters, digits, `_` or `.` with escapes (`\\x5f`, `\\u0063`, `\\137`, \
`\\N{LOW LINE}`); or a tag that does not parse but holds `attr` or dunder fragments.",
        why: "Honest templates have no reason to assemble internal names or to escape plain letters; both are \
ways to slip an SSTI payload past review and pattern matching.",
        example: "{% set a = '__glo' ~ 'bals__' %}",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-1336"],
        references: REFS,
    },
    Rule {
        id: "MS654",
        name: "jinja-helper-gadget",
        title: "Jinja template uses a helper global as a gadget",
        severity: Severity::High,
        what: "Attribute access on a Jinja or Flask helper global that SSTI payloads start from (`cycler`, \
`joiner`, `lipsum`, `namespace`, `range`, `dict`, `self`, `config`, `request`, `session`, `g`, `url_for`, \
`get_flashed_messages`), or a call to a Flask helper, when the template does not define that name itself. \
Calling `range(…)`, `namespace(…)` or `dict(…)` is normal and not reported.",
        why: "These objects are plain Python functions or classes; their attributes lead to module globals. Chat \
templates call them, never look inside them.",
        example: "{{ lipsum.x }}",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-1336"],
        references: REFS,
    },
    Rule {
        id: "MS655",
        name: "jinja-python-builtin",
        title: "Jinja template calls a Python builtin or module",
        severity: Severity::High,
        what: "A call of, or attribute access on, a free name that is a Python builtin or module and no Jinja \
environment provides (`eval`, `exec`, `open`, `__import__`, `getattr`, `os`, `subprocess`, `sys` …).",
        why: "A template that expects `os` or `eval` in its namespace is written for a renderer that exposes \
them: an attack, or a template that only works where it can run anything.",
        example: "{{ os.popen('id').read() }}",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-1336", "CWE-94"],
        references: REFS,
    },
    Rule {
        id: "MS656",
        name: "jinja-loads-template",
        title: "Jinja template loads another template",
        severity: Severity::Medium,
        what: "`include`, `import`, `from … import` or `extends`. High when the name is a path (`/`, `\\`, `..`) or \
computed.",
        why: "A chat template is self-contained. Loading another template reads files through the renderer's \
loader; with a file-system loader a path reads files from the server.",
        example: "{% include '../../etc/passwd' %}",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-1336", "CWE-22"],
        references: REFS,
    },
    Rule {
        id: "MS657",
        name: "jinja-syntax-error",
        title: "Jinja template has syntax errors",
        severity: Severity::Low,
        what: "Tags that do not parse as Jinja (the rest of the template is still analysed, and the tokens of the \
broken tags are checked for internal names).",
        why: "Real chat templates parse. A broken one fails to render in Jinja, but other renderers may accept \
what Jinja rejects, so the finding says which parts were read only as tokens.",
        example: "{{ messages[0]['content' }}",
        remediation: "Compare the template with the publisher's original.",
        atlas: ATLAS,
        cwe: &["CWE-1336"],
        references: REFS,
    },
    Rule {
        id: "MS658",
        name: "jinja-analysis-incomplete",
        title: "Jinja template exceeds the analysis bounds",
        severity: Severity::Medium,
        what: "A template larger than 2 MiB, with more than 400,000 tokens, expressions nested more than 100 deep, \
blocks nested more than 100 deep, or string building past the work budget.",
        why: "Chat templates are a few KiB; one past these bounds was not fully analysed and is unusual in itself.",
        example: "{{ ((((((…1…)))))) }}",
        remediation: "Review the template by hand before serving the model.",
        atlas: ATLAS,
        cwe: &["CWE-1336", "CWE-400"],
        references: REFS,
    },
    Rule {
        id: "MS659",
        name: "jinja-resource-exhaustion",
        title: "Jinja template exhausts memory or time when rendered",
        severity: Severity::High,
        what: "Constant expressions whose result cannot be built (a string or list repeated more than 100 million times, an integer power with an exponent above 100,000), constant-size `range` loops nested to more than a billion iterations, and a namespace value rebuilt from two copies of itself (`ns.s ~ ns.s`, `ns.s * 2`) in constant loops of 30 or more iterations.",
        why: "The server renders the chat template on every request: such a template takes the inference server down (out of memory, or a render that never ends) for every user. No chat template needs values that large.",
        example: "{{ 'A' * (10 ** 12) }}",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-400", "CWE-1336"],
        references: REFS,
    },
];

/// Analyses a Jinja template statically; `origin` names where it was found (`tokenizer.chat_template`).
pub(crate) fn analyse_template(src: &str, origin: &str) -> Vec<super::outcome::Issue> {
    analyse_full(src, origin).0
}

/// The issues, and whether the template was analysed to its end within the bounds.
fn analyse_full(src: &str, origin: &str) -> (Vec<Issue>, bool) {
    let mut cut = src.len().min(MAX_TEMPLATE);
    while !src.is_char_boundary(cut) {
        cut -= 1;
    }
    let truncated = cut < src.len();
    let text = &src[..cut];
    let lexed = lexer::lex(text);
    let tags: Vec<Span> = lexed
        .pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Tag { span, .. } => Some(*span),
            Piece::Text { .. } => None,
        })
        .collect();
    let mut an = Analyser::new(tags);
    an.lexical(&lexed.pieces);
    let tpl = parser::parse(lexed);
    an.run(&tpl);

    let mut issues = Vec::new();
    for (tag, report) in an.reports.values() {
        issues.extend(report_issues(text, origin, *tag, report));
    }
    if !tpl.errors.is_empty() {
        let first = &tpl.errors[0];
        let errors: Vec<serde_json::Value> = tpl
            .errors
            .iter()
            .take(5)
            .map(|e| json!({"line": line_of(text, e.offset), "message": e.message}))
            .collect();
        issues.push(
            Issue::new(
                "MS657",
                "Jinja template has syntax errors",
                format!(
                    "{} tag(s) of the template in {origin} do not parse as Jinja (first at line {}: {}); the rest was \
analysed and their tokens were checked for internal names.",
                    tpl.errors.len(),
                    line_of(text, first.offset),
                    first.message
                ),
                json!({"origin": origin, "count": tpl.errors.len(), "errors": errors}),
            )
            .confidence(Confidence::Likely)
            .at(first.offset as u64),
        );
    }
    let incomplete = truncated || tpl.bounded || an.budget_hit;
    if incomplete {
        let why = if truncated {
            format!(
                "it is {} bytes long; only the first {cut} were analysed",
                src.len()
            )
        } else if tpl.bounded {
            "it nests expressions or blocks deeper than the parser accepts, or has too many tokens"
                .to_owned()
        } else {
            "its string building exceeds the analysis work budget".to_owned()
        };
        issues.push(
            Issue::new(
                "MS658",
                "Jinja template exceeds the analysis bounds",
                format!("The template in {origin} was not fully analysed: {why}."),
                json!({"origin": origin, "bytes": src.len(), "reason": why}),
            )
            .confidence(Confidence::Likely),
        );
    }
    (issues, !incomplete)
}

fn line_of(src: &str, offset: usize) -> usize {
    let end = offset.min(src.len());
    1 + memchr::memchr_iter(b'\n', &src.as_bytes()[..end]).count()
}

fn quote(src: &str, tag: Span) -> String {
    let (s, e) = (tag.start as usize, (tag.end as usize).min(src.len()));
    let mut end = e.min(s.saturating_add(MAX_QUOTE));
    while end > s && !src.is_char_boundary(end) {
        end -= 1;
    }
    let text = src.get(s..end).unwrap_or("");
    if end < e {
        format!("{text}…")
    } else {
        text.to_owned()
    }
}

fn ticks<'a>(names: impl IntoIterator<Item = &'a String>) -> String {
    names
        .into_iter()
        .take(6)
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[allow(clippy::too_many_lines)]
fn report_issues(src: &str, origin: &str, tag: Span, r: &Report) -> Vec<Issue> {
    let offset = u64::from(r.first.unwrap_or(tag.start));
    let line = line_of(src, offset as usize);
    let expression = quote(src, tag);
    let mut out = Vec::new();
    let base = |extra: serde_json::Value| {
        let mut ev = json!({"origin": origin, "line": line, "expression": expression});
        if let (Some(m), Some(x)) = (ev.as_object_mut(), extra.as_object()) {
            for (k, v) in x {
                m.insert(k.clone(), v.clone());
            }
        }
        ev
    };
    if !r.internals.is_empty() {
        let names: Vec<&String> = r.internals.keys().collect();
        let dangerous = names.iter().any(|n| {
            eval::DANGEROUS_DUNDERS.contains(&n.as_str()) || eval::INTERNALS.contains(&n.as_str())
        });
        let spelling: std::collections::BTreeSet<&str> =
            r.internals.values().flatten().map(|s| s.as_str()).collect();
        let mut title = format!(
            "Jinja template reaches Python internals through {}",
            ticks(names.iter().copied())
        );
        if !r.sinks.is_empty() {
            let _ = write!(title, " and {}", ticks(&r.sinks));
        }
        let computed = spelling
            .iter()
            .any(|s| *s != "attribute" && *s != "subscript");
        out.push(
            Issue::new(
                "MS650",
                title,
                format!(
                    "Line {line} of the template in {origin} looks up {}{}{}. No chat template needs Python internals: \
this walks from a template value to Python objects that run code on the server that renders the template \
(server-side template injection).",
                    ticks(names.iter().copied()),
                    if computed { ", spelled indirectly so that the name does not appear as written" } else { "" },
                    if r.sinks.is_empty() {
                        String::new()
                    } else {
                        format!(", then reaches {}", ticks(&r.sinks))
                    },
                ),
                base(json!({
                    "attributes": names,
                    "spelling": spelling,
                    "reaches": r.sinks,
                    "gadgets": r.gadgets,
                    "private": r.private,
                    "builtins": r.builtins,
                })),
            )
            .severity(if dangerous { Severity::Critical } else { Severity::High })
            .at(offset),
        );
        return out;
    }
    if !r.private.is_empty() {
        out.push(
            Issue::new(
                "MS651",
                format!("Jinja template reads private attribute {}", ticks(&r.private)),
                format!(
                    "Line {line} of the template in {origin} reads {}: a Jinja or Python implementation detail that \
templates reach only to escape the template language.",
                    ticks(&r.private)
                ),
                base(json!({"attributes": r.private, "gadgets": r.gadgets})),
            )
            .at(offset),
        );
    }
    if !r.dynamic.is_empty() {
        out.push(
            Issue::new(
                "MS652",
                "Jinja template looks up an attribute by a computed name",
                format!(
                    "Line {line} of the template in {origin} looks up an attribute by {}; the name cannot be read from \
the template, which is how payloads hide `__class__` and `__globals__`.",
                    r.dynamic.iter().next().map_or("a computed name", String::as_str)
                ),
                base(json!({"lookups": r.dynamic})),
            )
            .confidence(Confidence::Likely)
            .at(offset),
        );
    }
    if !r.strings.is_empty() || r.obfuscated || r.broken_suspicious {
        let what = if !r.strings.is_empty() {
            format!("builds the string {}", ticks(&r.strings))
        } else if r.obfuscated {
            "spells plain letters, digits or `_` with string escapes".to_owned()
        } else {
            "has a tag that does not parse but holds `attr` or dunder fragments".to_owned()
        };
        out.push(
            Issue::new(
                "MS653",
                "Jinja template builds or hides the name of a Python internal",
                format!("Line {line} of the template in {origin} {what}: a way to slip a template-injection payload past review."),
                base(json!({"strings": r.strings, "escaped_literal": r.obfuscated, "unparsed": r.broken_suspicious})),
            )
            .confidence(Confidence::Likely)
            .at(offset),
        );
    }
    if !r.gadgets.is_empty() && r.private.is_empty() {
        out.push(
            Issue::new(
                "MS654",
                format!("Jinja template uses helper global {} as a gadget", ticks(&r.gadgets)),
                format!(
                    "Line {line} of the template in {origin} looks inside {}, a helper object whose attributes lead to \
Python module globals; chat templates call helpers, never look inside them.",
                    ticks(&r.gadgets)
                ),
                base(json!({"gadgets": r.gadgets})),
            )
            .confidence(Confidence::Likely)
            .at(offset),
        );
    }
    if !r.builtins.is_empty() {
        out.push(
            Issue::new(
                "MS655",
                format!("Jinja template calls Python {}", ticks(&r.builtins)),
                format!(
                    "Line {line} of the template in {origin} uses {}, a Python builtin or module that no Jinja \
environment provides: the template expects a renderer that runs anything.",
                    ticks(&r.builtins)
                ),
                base(json!({"names": r.builtins})),
            )
            .at(offset),
        );
    }
    if !r.exhaustion.is_empty() {
        out.push(
            Issue::new(
                "MS659",
                "Jinja template exhausts memory or time when rendered",
                format!(
                    "Line {line} of the template in {origin} builds {}: rendering it exhausts the memory or time of the server that renders the template, on every request.",
                    r.exhaustion.iter().next().map_or("a huge value", String::as_str)
                ),
                base(json!({"exhaustion": r.exhaustion})),
            )
            .at(offset),
        );
    }
    if !r.loads.is_empty() {
        out.push(
            Issue::new(
                "MS656",
                format!("Jinja template loads {}", ticks(&r.loads)),
                format!(
                    "Line {line} of the template in {origin} loads another template ({}); chat templates are \
self-contained{}.",
                    ticks(&r.loads),
                    if r.load_path { ", and this name is a path or computed" } else { "" }
                ),
                base(json!({"loads": r.loads})),
            )
            .severity(if r.load_path { Severity::High } else { Severity::Medium })
            .at(offset),
        );
    }
    out
}

/// Fuzz entry point: the whole analysis over arbitrary bytes.
pub(crate) fn fuzz(data: &[u8]) -> usize {
    analyse_template(&String::from_utf8_lossy(data), "fuzz").len()
}

/// True when `data` is a standalone Jinja template file (`.jinja`, `.j2`, `.jinja2`): templates carry
/// no magic, so the extension decides, and binary content is refused.
pub(crate) fn detect(data: &[u8], ext: Option<&str>) -> bool {
    matches!(ext, Some("jinja" | "j2" | "jinja2"))
        && !data
            .get(..data.len().min(8192))
            .unwrap_or(data)
            .contains(&0)
}

/// Analyses a standalone template file.
pub(crate) fn analyse<'d>(data: &'d [u8], env: &Env<'_>) -> Outcome<'d> {
    let mut out = Outcome::new("jinja");
    let text = String::from_utf8_lossy(data);
    let (issues, complete) = analyse_full(&text, env.name);
    for issue in issues {
        out.push(issue);
    }
    if !complete {
        out.not_analysed("the template exceeds the analysis bounds");
    }
    out
}

#[cfg(test)]
mod tests;
