//! Turns what the pickle machine saw into findings, through the policy.

use std::collections::{BTreeMap, HashSet};

use aisec_core::{Confidence, Severity};
use serde_json::json;

use crate::pickle::{Call, CallKind, NestedData, Stream};
use crate::policy::{self, Class, Danger};
use crate::rules::{self, Rule};

/// A finding before it has a location: the driver adds path and member.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub(crate) rule: &'static Rule,
    pub(crate) severity: Severity,
    pub(crate) confidence: Confidence,
    pub(crate) title: String,
    pub(crate) message: String,
    /// Offset in the member being analysed.
    pub(crate) offset: u64,
    pub(crate) evidence: serde_json::Value,
    /// What identifies this finding within its member (for fingerprints and de-duplication).
    pub(crate) key: String,
}

fn rule(id: &str) -> &'static Rule {
    rules::rule(id).unwrap_or(&rules::RULES[0])
}

fn danger_rule(d: Danger) -> &'static Rule {
    rule(match d {
        Danger::CodeExecution => "MS101",
        Danger::CommandExecution => "MS102",
        Danger::NativeCode => "MS103",
        Danger::Network => "MS104",
        Danger::FileSystem => "MS105",
        Danger::NameResolution => "MS106",
        Danger::Deserialization => "MS107",
        Danger::SystemState => "MS108",
    })
}

fn danger_severity(d: Danger) -> Severity {
    if d == Danger::Deserialization {
        Severity::High
    } else {
        Severity::Critical
    }
}

/// The worst classification among a callee's names, with the name it came from.
fn worst(names: &[String]) -> Option<(String, Class)> {
    fn rank(c: &Class) -> u8 {
        match c {
            Class::Dangerous { danger, .. } if *danger != Danger::Deserialization => 5,
            Class::Dangerous { .. } | Class::Introspection { .. } => 4,
            Class::Unknown => 3,
            Class::Trusted => 1,
            Class::Allowed => 0,
        }
    }
    names
        .iter()
        .map(|n| {
            let bare = n.trim_end_matches("()");
            (n.clone(), policy::classify(bare))
        })
        .max_by_key(|(_, c)| rank(c))
}

fn kind_str(kind: CallKind) -> &'static str {
    match kind {
        CallKind::Reduce => "REDUCE",
        CallKind::NewObj => "NEWOBJ",
        CallKind::Instantiate => "INST/OBJ",
        CallKind::SetState => "BUILD",
        CallKind::Method => "container opcode",
        CallKind::Indirect => "indirect call",
        CallKind::Wrap => "wrapper",
    }
}

/// Who makes the call, for messages: `REDUCE calls`, `` `numpy.random._pickle.__randomstate_ctor` calls ``.
fn subject(call: &Call) -> String {
    match (&call.via, call.kind) {
        (Some(via), CallKind::Wrap) => format!("`{via}` wraps"),
        (Some(via), CallKind::NewObj) => format!("`{via}` builds"),
        (Some(via), _) => format!("`{via}` calls"),
        (None, kind) => format!("{} calls", kind_str(kind)),
    }
}

fn call_evidence(call: &Call) -> serde_json::Value {
    let effect = worst(&call.callee).and_then(|(_, class)| match class {
        Class::Dangerous { danger, .. } => Some(danger.as_str()),
        _ => None,
    });
    json!({
        "effect": effect,
        "callee": call.callee_display,
        "resolved": call.callee,
        "arguments": call.args_display,
        "opcode": kind_str(call.kind),
        "via": call.via,
        "as_written": call.raw,
    })
}

/// Judges one pickle stream. Offsets in the result are those of the stream's input.
pub(crate) fn judge(stream: &Stream) -> Vec<Hit> {
    let mut hits = Vec::new();
    let mut called: HashSet<&str> = HashSet::new();
    let mut passed: BTreeMap<&str, &Call> = BTreeMap::new();

    for call in &stream.calls {
        for n in &call.callee {
            called.insert(n.trim_end_matches("()"));
        }
        for g in &call.arg_globals {
            passed.entry(g.as_str()).or_insert(call);
        }
        if let Some(hit) = judge_call(call) {
            hits.push(hit);
        }
    }

    for import in &stream.imports {
        if let Some(planted_at) = import.overlay_from {
            hits.push(Hit {
                rule: rule("MS112"),
                severity: Severity::High,
                confidence: Confidence::Certain,
                title: format!("Pickle fetches `{}`, an attribute it planted earlier", import.path),
                message: format!(
                    "{} at offset {} imports `{}`, which BUILD at offset {planted_at} set on a class or module: the \
import returns the planted value, not the library's.",
                    import.via, import.offset, import.path
                ),
                offset: import.offset as u64,
                evidence: json!({ "import": import.path, "planted_by_build_at": planted_at }),
                key: format!("planted:{}", import.path),
            });
        }
        if let Some(expr) = &import.computed {
            let resolved = if import.path.starts_with('<') {
                None
            } else {
                Some(import.path.as_str())
            };
            let (rule_id, severity, title) = if import.via == "EXT" {
                (
                    "MS114",
                    Severity::High,
                    format!("Pickle imports through copyreg extension code ({expr})"),
                )
            } else {
                (
                    "MS111",
                    Severity::Critical,
                    format!(
                        "Pickle imports a name computed at load time: {}",
                        resolved.unwrap_or("unresolved")
                    ),
                )
            };
            hits.push(Hit {
                rule: rule(rule_id),
                severity,
                confidence: Confidence::Certain,
                message: match resolved {
                    Some(p) => format!("{} builds the name it imports at load time ({expr}); it resolves to `{p}`.", import.via),
                    None => format!("{} imports a name the scanner cannot resolve statically ({expr}).", import.via),
                },
                title,
                offset: import.offset as u64,
                evidence: json!({ "import": import.path, "expression": expr, "opcode": import.via }),
                key: format!("computed:{}", import.path),
            });
            continue;
        }
        let class = policy::classify(&import.path);
        let is_dangerous = matches!(class, Class::Dangerous { .. } | Class::Introspection { .. });
        if !is_dangerous {
            continue;
        }
        // `getattr` whose only use was fetching attributes of imported names was judged as those imports.
        if import.path == "builtins.getattr"
            && !passed.contains_key(import.path.as_str())
            && stream.imports.iter().any(|i| i.via == "getattr")
            && !called.contains("builtins.getattr")
        {
            continue;
        }
        let used_as_callee = called
            .iter()
            .any(|c| *c == import.path || c.starts_with(&format!("{}.", import.path)));
        if used_as_callee {
            continue;
        }
        if let Some(call) = passed.get(import.path.as_str()) {
            let (rule, severity) = match &class {
                Class::Dangerous { danger, .. } => (danger_rule(*danger), danger_severity(*danger)),
                _ => (rule("MS106"), Severity::Critical),
            };
            hits.push(Hit {
                rule,
                severity,
                confidence: Confidence::Likely,
                title: format!("Pickle passes `{}` to `{}`, which may call it", import.path, call.callee_display),
                message: format!(
                    "`{}` ({}) is imported and handed to `{}({})`, which can call it while the file loads.",
                    import.path,
                    describe(&class),
                    call.callee_display,
                    call.args_display
                ),
                offset: import.offset as u64,
                evidence: json!({ "import": import.path, "as_written": import.raw.replacen(' ', ".", 1), "passed_to": call_evidence(call) }),
                key: format!("passed:{}", import.path),
            });
        } else {
            hits.push(Hit {
                rule: rule("MS110"),
                severity: Severity::High,
                confidence: Confidence::Possible,
                title: format!("Pickle imports `{}`", import.path),
                message: format!(
                    "`{}` ({}) is imported by {} but no call to it was seen; importing runs module code and the \
reference may be used by the loader.",
                    import.path,
                    describe(&class),
                    import.via
                ),
                offset: import.offset as u64,
                evidence: json!({ "import": import.path, "as_written": import.raw.replacen(' ', ".", 1), "opcode": import.via }),
                key: format!("import:{}", import.path),
            });
        }
    }

    for nested in &stream.nested {
        if let NestedData::Unresolved(why) = &nested.data {
            hits.push(Hit {
                rule: rule("MS107"),
                severity: Severity::High,
                confidence: Confidence::Likely,
                title: format!(
                    "Pickle deserializes data the scanner cannot see ({})",
                    nested.via
                ),
                message: format!(
                    "`{}` is called on data the scanner cannot analyse: it {why}.",
                    nested.via
                ),
                offset: nested.offset as u64,
                evidence: json!({ "deserializer": nested.via, "reason": why }),
                key: format!("nested-unresolved:{}", nested.via),
            });
        }
    }

    if let Some(broken) = &stream.broken {
        hits.push(Hit {
            rule: rule("MS120"),
            severity: Severity::Medium,
            confidence: Confidence::Certain,
            title: format!("Pickle stream breaks at offset {}", broken.offset),
            message: format!(
                "The stream breaks at offset {} ({}) after {} opcodes; everything before the break was analysed, and a \
loader runs it before failing.",
                broken.offset, broken.error, stream.opcodes
            ),
            offset: broken.offset as u64,
            evidence: json!({ "error": broken.error.to_string(), "opcodes_before_break": stream.opcodes }),
            key: "malformed".into(),
        });
    }
    dedupe(hits)
}

fn describe(class: &Class) -> String {
    match class {
        Class::Dangerous { danger, entry } => format!("{}; matched `{entry}`", danger.describe()),
        Class::Introspection { attribute } => {
            format!("reaches interpreter internals through `{attribute}`")
        }
        Class::Allowed => "allowlisted".into(),
        Class::Trusted => "a class of a known ML library".into(),
        Class::Unknown => "not on the allowlist".into(),
    }
}

fn judge_call(call: &Call) -> Option<Hit> {
    let offset = call.offset as u64;
    let shown = format!("{}({})", call.callee_display, call.args_display);
    let Some((name, class)) = worst(&call.callee) else {
        // A callee we cannot name: the result of a call, an attribute of an object.
        return Some(Hit {
            rule: rule("MS112"),
            severity: Severity::High,
            confidence: Confidence::Likely,
            title: "Pickle calls a value computed at load time".into(),
            message: format!(
                "{} `{shown}`; what is called is only known when the file loads.",
                subject(call)
            ),
            offset,
            evidence: call_evidence(call),
            key: format!("computed-call:{}", call.callee_display),
        });
    };
    let bare = name.trim_end_matches("()");
    if bare.starts_with("<computed") {
        return Some(Hit {
            rule: rule("MS112"),
            severity: Severity::High,
            confidence: Confidence::Likely,
            title: "Pickle calls a name computed at load time".into(),
            message: format!(
                "{} `{shown}`; the name is built while the file loads.",
                subject(call)
            ),
            offset,
            evidence: call_evidence(call),
            key: format!("computed-call:{bare}"),
        });
    }
    let result_of = name.ends_with("()");
    match class {
        Class::Dangerous { danger, entry } => Some(Hit {
            rule: danger_rule(danger),
            severity: danger_severity(danger),
            confidence: if call.kind == CallKind::Indirect {
                Confidence::Likely
            } else {
                Confidence::Certain
            },
            title: format!("Pickle calls `{bare}`"),
            message: format!(
                "{} `{shown}`, which {} (matched `{entry}`).",
                subject(call),
                danger.describe()
            ),
            offset,
            evidence: call_evidence(call),
            key: format!("call:{bare}"),
        }),
        Class::Introspection { attribute } => Some(Hit {
            rule: rule("MS106"),
            severity: Severity::Critical,
            confidence: Confidence::Certain,
            title: format!("Pickle reaches interpreter internals through `{attribute}`"),
            message: format!(
                "{} `{shown}`, an attribute chain through `{attribute}`.",
                subject(call)
            ),
            offset,
            evidence: call_evidence(call),
            key: format!("call:{bare}"),
        }),
        _ if result_of => Some(Hit {
            rule: rule("MS112"),
            severity: Severity::High,
            confidence: Confidence::Likely,
            title: format!("Pickle calls the result of `{bare}`"),
            message: format!(
                "{} `{shown}`: the value returned by `{bare}` is called in turn.",
                subject(call)
            ),
            offset,
            evidence: call_evidence(call),
            key: format!("call-result:{bare}"),
        }),
        Class::Trusted
            if matches!(call.kind, CallKind::Reduce | CallKind::Instantiate)
                && !call.args_display.is_empty()
                && let Some(danger) = policy::constructor_io(bare) =>
        {
            Some(Hit {
                rule: danger_rule(danger),
                severity: danger_severity(danger),
                confidence: Confidence::Likely,
                title: format!("Pickle calls `{bare}` with arguments"),
                message: format!(
                    "{} `{shown}`: this class {} when its constructor gets arguments (it pickles itself without any).",
                    subject(call),
                    danger.describe()
                ),
                offset,
                evidence: call_evidence(call),
                key: format!("call:{bare}"),
            })
        }
        Class::Allowed | Class::Trusted => None,
        Class::Unknown => {
            // `Pkg.Class` is a class; `Pkg.Class.Method` is a method even when it is CamelCase.
            let mut parts = bare.rsplit('.');
            let class_like = parts.next().is_some_and(policy::is_class_name)
                && !parts.next().is_some_and(policy::is_class_name);
            // A class built from plain data is inert unless its own code says otherwise (the issue's
            // "unknown but inert construction"); calling a function, or passing code-bearing values, is not.
            // A wrapped function runs whenever the wrapper is called (a `defaultdict` factory runs on a
            // missing key during loading): only wrapped classes, builtins not on the deny list and functions
            // of known libraries are low.
            let wrap_is_inert = call.kind == CallKind::Wrap
                && (class_like
                    || policy::in_trusted_library(bare)
                    || bare.starts_with("builtins."));
            let construction = call.kind == CallKind::NewObj
                || wrap_is_inert
                || (matches!(call.kind, CallKind::Instantiate | CallKind::Reduce)
                    && class_like
                    && call.plain_args);
            if construction {
                Some(Hit {
                    rule: rule("MS113"),
                    severity: Severity::Low,
                    confidence: Confidence::Possible,
                    title: if call.kind == CallKind::Wrap {
                        format!("Pickle wraps `{bare}` for a later call")
                    } else {
                        format!("Pickle builds an object of class `{bare}`")
                    },
                    message: if call.kind == CallKind::Wrap {
                        format!(
                            "`{bare}` is wrapped by `{}` but not called while the file loads.",
                            call.via.as_deref().unwrap_or("a wrapper")
                        )
                    } else {
                        format!(
                            "An object of `{bare}` is built from plain data ({}); loading needs that class's code, whose \
constructor or `__setstate__` runs.",
                            kind_str(call.kind)
                        )
                    },
                    offset,
                    evidence: call_evidence(call),
                    key: format!("class:{bare}"),
                })
            } else if call.kind == CallKind::SetState {
                Some(Hit {
                    rule: rule("MS112"),
                    severity: Severity::High,
                    confidence: Confidence::Certain,
                    title: format!(
                        "Pickle changes attributes of `{}`",
                        bare.trim_end_matches(".__setstate__")
                    ),
                    message: format!(
                        "BUILD sets attributes on the class or module `{}` itself ({}); later imports of those attributes \
get the new values.",
                        bare.trim_end_matches(".__setstate__"),
                        call.args_display
                    ),
                    offset,
                    evidence: call_evidence(call),
                    key: format!("setattr:{bare}"),
                })
            } else {
                Some(Hit {
                    rule: rule("MS112"),
                    severity: Severity::High,
                    confidence: Confidence::Likely,
                    title: format!("Pickle calls `{bare}`"),
                    message: format!(
                        "{} `{shown}`; `{bare}` is not on the allowlist of what benign model files call.",
                        subject(call)
                    ),
                    offset,
                    evidence: call_evidence(call),
                    key: format!("call:{bare}"),
                })
            }
        }
    }
}

/// Keeps the first hit per key (highest severity first), counting repeats.
fn dedupe(mut hits: Vec<Hit>) -> Vec<Hit> {
    hits.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.offset.cmp(&b.offset)));
    let mut seen: BTreeMap<(String, &'static str), usize> = BTreeMap::new();
    let mut out: Vec<Hit> = Vec::new();
    let mut counts: Vec<u64> = Vec::new();
    for hit in hits {
        if let Some(&i) = seen.get(&(hit.key.clone(), hit.rule.id)) {
            counts[i] += 1;
        } else {
            seen.insert((hit.key.clone(), hit.rule.id), out.len());
            out.push(hit);
            counts.push(1);
        }
    }
    for (hit, count) in out.iter_mut().zip(counts) {
        if count > 1
            && let Some(obj) = hit.evidence.as_object_mut()
        {
            obj.insert("occurrences".into(), json!(count));
        }
    }
    out.sort_by_key(|h| h.offset);
    out
}
