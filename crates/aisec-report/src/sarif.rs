//! SARIF 2.1.0 as GitHub code scanning accepts it: one run, the rules that fired (plus the
//! `not analysed` pseudo-rule), results sorted for deterministic output, and a tool-execution
//! notification for every target that could not be analysed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;

use aisec_core::{Report, Severity, TargetStatus};
use serde::Serialize;

use crate::{Emitter, Error, RuleDoc};

/// The rule id results use for targets that could not be analysed.
pub const NOT_ANALYSED_RULE: &str = "AISEC-NOT-ANALYSED";

/// Writes SARIF 2.1.0.
#[derive(Debug, Default)]
pub struct Sarif {
    /// Documentation of every rule that may appear.
    pub rules: Vec<RuleDoc>,
}

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: ToolC<'a>,
    results: Vec<ResultC>,
    invocations: Vec<Invocation>,
    column_kind: &'static str,
}

#[derive(Serialize)]
struct ToolC<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'a str,
    version: &'a str,
    semantic_version: &'a str,
    information_uri: &'static str,
    rules: Vec<RuleC>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleC {
    id: String,
    name: String,
    short_description: Text,
    full_description: Text,
    help: Help,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<String>,
    default_configuration: Config,
    properties: RuleProps,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Config {
    level: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct RuleProps {
    tags: Vec<String>,
    security_severity: String,
    precision: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultC {
    rule_id: String,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: Vec<LocationC>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    properties: serde_json::Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LocationC {
    physical_location: Physical,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<Logical>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Physical {
    artifact_location: Artifact,
    region: Region,
}

/// GitHub needs `startLine` on every result. Model files are binary, so the line is 1 (the whole
/// artifact) and, where the offset is one in the file itself, the byte range says where exactly.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    byte_offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    byte_length: Option<u64>,
}

#[derive(Serialize)]
struct Artifact {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Logical {
    fully_qualified_name: String,
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    level: &'static str,
    message: Text,
    locations: Vec<LocationC>,
    descriptor: Descriptor,
}

#[derive(Serialize)]
struct Descriptor {
    id: &'static str,
}

fn level(sev: Severity) -> &'static str {
    match sev {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's `security-severity`: a CVSS-like score that sorts alerts.
fn score(sev: Severity) -> &'static str {
    match sev {
        Severity::Critical => "9.8",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

/// SARIF wants URIs: forward slashes, percent-encoding for what a URI cannot hold, and absolute
/// paths as `file://` URIs (a relative reference must not start with a slash).
fn uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let path = path.strip_prefix("./").unwrap_or(&path);
    let mut out = String::with_capacity(path.len() + 8);
    if path.starts_with('/') {
        out.push_str("file://");
    }
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn location(path: &str, member: Option<&str>, offset: Option<u64>) -> LocationC {
    let offset = if member.is_none() { offset } else { None };
    LocationC {
        physical_location: Physical {
            artifact_location: Artifact { uri: uri(path) },
            region: Region {
                start_line: 1,
                byte_offset: offset,
                byte_length: offset.map(|_| 1),
            },
        },
        logical_locations: member
            .map(|m| {
                vec![Logical {
                    fully_qualified_name: m.to_owned(),
                    kind: "member",
                }]
            })
            .unwrap_or_default(),
    }
}

impl Emitter for Sarif {
    fn emit(&mut self, out: &mut dyn Write, report: &Report) -> Result<(), Error> {
        let mut used: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
        let incomplete: Vec<_> = report.not_analysed().collect();
        used.sort_unstable();
        used.dedup();
        let mut rules: Vec<RuleC> = used
            .iter()
            .map(|id| {
                let doc = self.rules.iter().find(|r| r.id == *id);
                match doc {
                    Some(d) => RuleC {
                        id: d.id.clone(),
                        name: d.name.clone(),
                        short_description: Text {
                            text: d.title.clone(),
                        },
                        full_description: Text {
                            text: d.title.clone(),
                        },
                        help: Help {
                            text: d.help.clone(),
                            markdown: d.help.clone(),
                        },
                        help_uri: d.help_uri.clone(),
                        default_configuration: Config {
                            level: level(d.severity),
                        },
                        properties: RuleProps {
                            tags: d.tags.clone(),
                            security_severity: score(d.severity).into(),
                            precision: "high",
                        },
                    },
                    None => {
                        // No documentation handed in: the findings' own title stands in, as
                        // code scanning requires a help text.
                        let title = report
                            .findings
                            .iter()
                            .find(|f| f.rule.as_str() == *id)
                            .map_or_else(|| (*id).to_owned(), |f| f.title.clone());
                        RuleC {
                            id: (*id).to_owned(),
                            name: (*id).to_owned(),
                            short_description: Text {
                                text: title.clone(),
                            },
                            full_description: Text {
                                text: title.clone(),
                            },
                            help: Help {
                                text: title.clone(),
                                markdown: title,
                            },
                            help_uri: None,
                            default_configuration: Config { level: "warning" },
                            properties: RuleProps {
                                tags: vec!["security".into()],
                                security_severity: "5.5".into(),
                                precision: "medium",
                            },
                        }
                    }
                }
            })
            .collect();
        if !incomplete.is_empty() {
            rules.push(RuleC {
                id: NOT_ANALYSED_RULE.into(),
                name: "not-analysed".into(),
                short_description: Text { text: "File could not be fully analysed".into() },
                full_description: Text { text: "The scanner could not analyse this file completely. It is not known to be clean.".into() },
                help: Help {
                    text: "The reason is in the result message. Treat the file as unverified until it can be analysed.".into(),
                    markdown: "The reason is in the result message. Treat the file as **unverified** until it can be analysed.".into(),
                },
                help_uri: None,
                default_configuration: Config { level: "warning" },
                properties: RuleProps { tags: vec!["security".into()], security_severity: "5.0".into(), precision: "high" },
            });
        }
        let index: BTreeMap<&str, usize> = rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i))
            .collect();
        let mut results: Vec<ResultC> = report
            .findings
            .iter()
            .map(|f| {
                let mut fp = BTreeMap::new();
                fp.insert("aisecFingerprint/v1", f.fingerprint.clone());
                ResultC {
                    rule_id: f.rule.as_str().to_owned(),
                    rule_index: index.get(f.rule.as_str()).copied().unwrap_or(0),
                    level: level(f.severity),
                    message: Text {
                        text: f.message.clone(),
                    },
                    locations: vec![location(
                        &f.location.path,
                        f.location.member.as_deref(),
                        f.location.offset,
                    )],
                    partial_fingerprints: fp,
                    properties: serde_json::json!({
                        "severity": f.severity,
                        "confidence": f.confidence,
                        "offset": f.location.offset,
                        "member": f.location.member,
                        "title": f.title,
                        "evidence": f.evidence,
                        "taxonomy": f.taxonomy,
                    }),
                }
            })
            .collect();
        let mut notifications = Vec::new();
        for t in &incomplete {
            if let TargetStatus::NotAnalysed { reason } = &t.status {
                let text = format!("Not analysed: {reason}");
                let mut fp = BTreeMap::new();
                fp.insert(
                    "aisecFingerprint/v1",
                    format!(
                        "not-analysed:{}:{}",
                        t.member.as_deref().unwrap_or(""),
                        t.format
                    ),
                );
                results.push(ResultC {
                    rule_id: NOT_ANALYSED_RULE.into(),
                    rule_index: index.get(NOT_ANALYSED_RULE).copied().unwrap_or(0),
                    level: "warning",
                    message: Text { text: text.clone() },
                    locations: vec![location(&t.path, t.member.as_deref(), None)],
                    partial_fingerprints: fp,
                    properties: serde_json::json!({ "status": "not_analysed", "format": t.format, "member": t.member }),
                });
                notifications.push(Notification {
                    level: "error",
                    message: Text { text },
                    locations: vec![location(&t.path, t.member.as_deref(), None)],
                    descriptor: Descriptor {
                        id: NOT_ANALYSED_RULE,
                    },
                });
            }
        }
        results.sort_by(|a, b| {
            let ka = (
                &a.locations[0].physical_location.artifact_location.uri,
                &a.rule_id,
                a.message.text.as_str(),
            );
            let kb = (
                &b.locations[0].physical_location.artifact_location.uri,
                &b.rule_id,
                b.message.text.as_str(),
            );
            ka.cmp(&kb)
        });
        let log = Log {
            schema: "https://json.schemastore.org/sarif-2.1.0.json",
            version: "2.1.0",
            runs: vec![Run {
                tool: ToolC {
                    driver: Driver {
                        name: &report.tool.name,
                        version: &report.tool.version,
                        semantic_version: &report.tool.version,
                        information_uri: "https://example.invalid/aisec",
                        rules,
                    },
                },
                results,
                invocations: vec![Invocation {
                    execution_successful: true,
                    tool_execution_notifications: notifications,
                }],
                column_kind: "utf16CodeUnits",
            }],
        };
        serde_json::to_writer_pretty(&mut *out, &log)?;
        out.write_all(b"\n")?;
        Ok(())
    }
}
