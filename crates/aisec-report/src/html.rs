//! A single self-contained HTML page: summary with the risk posture, findings with filters,
//! compliance, charts as inline SVG, the data-flow diagram, red team transcripts, the MITRE
//! ATLAS coverage matrix, tables and pictures embedded as data URIs. No scripts: the filters
//! are checkboxes and CSS; a Content-Security-Policy forbids anything from outside the file;
//! every string from the report is escaped.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write;

use aisec_core::{Finding, Report, Severity, Table};
use base64::Engine as _;

use crate::svg::{chart, escape};
use crate::{Emitter, Error};

/// Writes the report as one HTML file.
#[derive(Debug, Default)]
pub struct Html {
    /// The page title.
    pub title: Option<String>,
    /// Bytes of artifacts to embed, by artifact path (PNG and SVG pictures).
    pub embedded: BTreeMap<String, Vec<u8>>,
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1200px;color:#222;padding:0 1rem 3rem}\
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:.5rem 0;z-index:1}nav a{margin-right:1rem;font-size:14px}\
table{border-collapse:collapse;margin:1rem 0;font-size:13px;width:100%}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;white-space:pre-line}\
th{background:#f3f3f3}.sev{font-weight:bold;border-radius:3px;padding:1px 6px;color:#fff;white-space:nowrap}\
.critical{background:#8b0000}.high{background:#d9480f}.medium{background:#b8860b}.low{background:#1971c2}.info{background:#666}\
.posture{font-size:20px;font-weight:bold;padding:.6rem 1rem;border-radius:6px;color:#fff;display:inline-block}\
figure{margin:1rem 0}figcaption{font-size:13px;color:#555}img.grid{image-rendering:pixelated;max-width:100%}img.dfd{max-width:100%;border:1px solid #ddd}\
.summary span{margin-right:1rem}.filters label{margin-right:1rem;font-size:14px;white-space:nowrap}\
td.st-evidenced{background:#d3f9d8}td.st-partly{background:#fff3bf}td.st-gap{background:#ffc9c9}td.st-manual{background:#e7f5ff}td.st-na{color:#888}\
.matrix{display:flex;gap:6px;overflow-x:auto;padding-bottom:.5rem}.tactic{min-width:140px;flex:1;font-size:12px}\
.tactic h4{margin:0 0 4px;font-size:12px;background:#343a40;color:#fff;padding:4px;border-radius:3px}\
.tech{border:1px solid #ccc;border-radius:3px;padding:3px;margin-bottom:3px;background:#fff5f5}.none{color:#999;font-style:italic}\
.msg{border-left:3px solid #ccc;padding:2px 8px;margin:4px 0;white-space:pre-wrap;font-size:13px}.msg.user{border-color:#1971c2}\
.msg.assistant{border-color:#d9480f}.msg.system,.msg.tool{border-color:#888;color:#555}details{margin:.4rem 0}summary{cursor:pointer}";

const SEVERITIES: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];

impl Emitter for Html {
    fn emit(&mut self, out: &mut dyn Write, report: &Report) -> Result<(), Error> {
        let title = escape(self.title.as_deref().unwrap_or("aisec report"));
        let mut body = String::new();
        let mut nav: Vec<(&str, &str)> = vec![("summary", "Summary")];
        summary(&mut body, report);
        if !report.findings.is_empty() {
            nav.push(("findings", "Findings"));
            findings(&mut body, &report.findings);
        }
        let (comply, rest): (Vec<&Table>, Vec<&Table>) = report
            .tables
            .iter()
            .partition(|t| t.id.starts_with("comply-"));
        if !comply.is_empty() {
            nav.push(("compliance", "Compliance"));
            let _ = writeln!(body, "<section id=\"compliance\"><h2>Compliance</h2>");
            compliance_summary(&mut body, report);
            for t in comply {
                table(&mut body, t, true);
            }
            body.push_str("</section>\n");
        }
        if !report.charts.is_empty() {
            nav.push(("charts", "Charts"));
            let _ = writeln!(body, "<section id=\"charts\"><h2>Charts</h2>");
            for c in &report.charts {
                let _ = writeln!(
                    body,
                    "<figure id=\"chart-{}\">{}</figure>",
                    escape(&c.id),
                    chart(c)
                );
            }
            body.push_str("</section>\n");
        }
        if self.figures(
            &mut body,
            report,
            "image/svg+xml",
            "dfd",
            "Data-flow diagram",
        ) {
            nav.push(("dfd", "Data flows"));
        }
        if transcripts(&mut body, &report.findings) {
            nav.push(("transcripts", "Transcripts"));
        }
        let (atlas, rest): (Vec<&Table>, Vec<&Table>) = rest
            .into_iter()
            .partition(|t| t.id.ends_with("atlas-coverage"));
        if !atlas.is_empty() {
            nav.push(("atlas", "ATLAS"));
            let _ = writeln!(body, "<section id=\"atlas\"><h2>MITRE ATLAS coverage</h2>");
            for t in atlas {
                matrix(&mut body, t);
            }
            body.push_str("</section>\n");
        }
        if !rest.is_empty() {
            nav.push(("tables", "Tables"));
            let _ = writeln!(body, "<section id=\"tables\"><h2>Results</h2>");
            for t in rest {
                table(&mut body, t, false);
            }
            body.push_str("</section>\n");
        }
        if self.figures(&mut body, report, "image/png", "pictures", "Pictures") {
            nav.push(("pictures", "Pictures"));
        }
        if !report.artifacts.is_empty() {
            nav.push(("artifacts", "Artifacts"));
            let _ = writeln!(body, "<section id=\"artifacts\"><h2>Artifacts</h2><ul>");
            for a in &report.artifacts {
                let _ = writeln!(
                    body,
                    "<li><code>{}</code>: {} <small>sha256 {}</small></li>",
                    escape(&a.path),
                    escape(&a.description),
                    escape(&a.sha256)
                );
            }
            body.push_str("</ul></section>\n");
        }
        // The filters hide rows by severity and by capability (the rule's prefix).
        let mut css = String::from(STYLE);
        for s in SEVERITIES {
            let _ = write!(css, "body:has(#hide-{s}:checked) tr.f-{s}{{display:none}}");
        }
        for p in prefixes(&report.findings) {
            let _ = write!(css, "body:has(#hide-{p}:checked) tr.p-{p}{{display:none}}");
        }
        write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
             <title>{title}</title><meta name=\"viewport\" content=\"width=device-width\"><style>{css}</style></head><body>\n<nav>"
        )?;
        for (id, name) in nav {
            write!(out, "<a href=\"#{id}\">{name}</a>")?;
        }
        writeln!(out, "</nav>\n<h1>{title}</h1>\n{body}</body></html>")?;
        Ok(())
    }
}

impl Html {
    /// A section `id` of the embedded artifacts of `media` type, as data-URI images (class
    /// `grid` for PNG pictures, `dfd` for SVG diagrams). Returns whether there were any.
    fn figures(
        &self,
        body: &mut String,
        report: &Report,
        media: &str,
        id: &str,
        heading: &str,
    ) -> bool {
        let found: Vec<_> = report
            .artifacts
            .iter()
            .filter(|a| a.media_type == media)
            .filter_map(|a| self.embedded.get(&a.path).map(|b| (a, b)))
            .collect();
        if found.is_empty() {
            return false;
        }
        let class = if media == "image/png" { "grid" } else { "dfd" };
        let _ = writeln!(body, "<section id=\"{id}\"><h2>{heading}</h2>");
        for (a, bytes) in found {
            let data = base64::engine::general_purpose::STANDARD.encode(bytes);
            let _ = writeln!(
                body,
                "<figure><img class=\"{class}\" alt=\"{d}\" src=\"data:{media};base64,{data}\"><figcaption>{d}</figcaption></figure>",
                d = escape(&a.description)
            );
        }
        body.push_str("</section>\n");
        true
    }
}

fn summary(body: &mut String, report: &Report) {
    let worst = report.max_severity();
    let (posture, class) = match worst {
        Some(Severity::Critical) => ("Critical risk: act before release", "critical"),
        Some(Severity::High) => ("High risk", "high"),
        Some(Severity::Medium) => ("Moderate risk", "medium"),
        Some(Severity::Low) => ("Low risk", "low"),
        Some(Severity::Info) | None => ("No risk found", "info"),
    };
    let _ = writeln!(
        body,
        "<section id=\"summary\"><h2>Summary</h2><p><span class=\"posture {class}\">{posture}</span></p>\
         <p class=\"summary\"><span>{} {}</span><span>{} target(s)</span><span>{} finding(s)</span><span>{:.1} s</span></p>",
        escape(&report.tool.name),
        escape(&report.tool.version),
        report.targets.len(),
        report.findings.len(),
        report.duration_ms as f64 / 1000.0
    );
    let mut counts = String::new();
    for s in SEVERITIES {
        let n = report.findings.iter().filter(|f| f.severity == s).count();
        if n > 0 {
            let _ = write!(counts, "<span class=\"sev {s}\">{n} {s}</span> ");
        }
    }
    if !counts.is_empty() {
        let _ = writeln!(body, "<p>{counts}</p>");
    }
    if let Some(stages) = report
        .metrics
        .get("assess")
        .and_then(|a| a["stages"].as_array())
    {
        body.push_str("<table><thead><tr><th>Stage</th><th>Outcome</th><th>Seconds</th><th>Findings</th></tr></thead><tbody>\n");
        for s in stages {
            let outcome = match &s["outcome"] {
                serde_json::Value::String(x) => x.clone(),
                serde_json::Value::Object(o) => o
                    .get("failed")
                    .and_then(|v| v.as_str())
                    .map_or_else(|| "failed".into(), |w| format!("failed: {w}")),
                other => other.to_string(),
            };
            let _ = writeln!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(s["name"].as_str().unwrap_or("")),
                escape(&outcome),
                s["seconds"],
                s["findings"]
            );
        }
        body.push_str("</tbody></table>\n");
    }
    body.push_str("</section>\n");
}

fn prefixes(findings: &[Finding]) -> BTreeSet<String> {
    findings
        .iter()
        .map(|f| prefix(f.rule.as_str()))
        .filter(|p| !p.is_empty())
        .collect()
}

/// The capability prefix of a rule id (`MS` of `MS101`), letters only.
fn prefix(rule: &str) -> String {
    rule.chars().take_while(char::is_ascii_alphabetic).collect()
}

fn findings(body: &mut String, findings: &[Finding]) {
    let _ = writeln!(
        body,
        "<section id=\"findings\"><h2>Findings</h2><div class=\"filters\">Hide: "
    );
    for s in SEVERITIES {
        if findings.iter().any(|f| f.severity == s) {
            let _ = write!(
                body,
                "<label><input type=\"checkbox\" id=\"hide-{s}\"> {s}</label>"
            );
        }
    }
    body.push_str(" | ");
    for p in prefixes(findings) {
        let _ = write!(
            body,
            "<label><input type=\"checkbox\" id=\"hide-{p}\"> {p} ({})</label>",
            capability(&p)
        );
    }
    body.push_str("</div>\n<table><thead><tr><th>Severity</th><th>Rule</th><th>Title</th><th>Message</th><th>Location</th><th>ATLAS</th><th>Remediation</th></tr></thead><tbody>\n");
    for f in findings {
        let _ = writeln!(
            body,
            "<tr class=\"f-{s} p-{p}\"><td><span class=\"sev {s}\">{s}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(f.rule.as_str()),
            escape(&f.title),
            escape(&f.message),
            escape(&f.location.to_string()),
            escape(&f.taxonomy.atlas.join(", ")),
            escape(&f.remediation),
            s = f.severity,
            p = prefix(f.rule.as_str()),
        );
    }
    body.push_str("</tbody></table></section>\n");
}

fn capability(prefix: &str) -> &'static str {
    match prefix {
        "MS" => "model scan",
        "PV" => "provenance",
        "AT" => "attacks",
        "RT" => "red team",
        "GD" => "guard",
        "TM" => "threat model",
        "CP" => "compliance",
        _ => "other",
    }
}

fn compliance_summary(body: &mut String, report: &Report) {
    let Some(c) = report.metrics.get("comply") else {
        return;
    };
    let _ = writeln!(
        body,
        "<p>EU AI Act risk tier: <strong>{}</strong></p>",
        escape(c["eu_ai_act_tier"].as_str().unwrap_or("unknown"))
    );
    let Some(by) = c["by_framework"].as_object() else {
        return;
    };
    let statuses = ["evidenced", "partly", "gap", "manual", "not applicable"];
    body.push_str("<table><thead><tr><th>Framework</th>");
    for s in statuses {
        let _ = write!(body, "<th>{s}</th>");
    }
    body.push_str("</tr></thead><tbody>\n");
    for (fw, counts) in by {
        let _ = write!(body, "<tr><td>{}</td>", escape(fw));
        for s in statuses {
            let _ = write!(
                body,
                "<td class=\"{}\">{}</td>",
                status_class(s),
                counts
                    .get(s)
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0)
            );
        }
        body.push_str("</tr>\n");
    }
    body.push_str("</tbody></table>\n");
}

fn status_class(s: &str) -> &'static str {
    match s {
        "evidenced" => "st-evidenced",
        "partly" => "st-partly",
        "gap" => "st-gap",
        "manual" => "st-manual",
        "not applicable" => "st-na",
        _ => "",
    }
}

fn table(body: &mut String, t: &Table, statuses: bool) {
    let _ = write!(
        body,
        "<h3 id=\"table-{}\">{}</h3><table><thead><tr>",
        escape(&t.id),
        escape(&t.title)
    );
    for c in &t.columns {
        let _ = write!(body, "<th>{}</th>", escape(c));
    }
    body.push_str("</tr></thead><tbody>\n");
    for row in &t.rows {
        body.push_str("<tr>");
        for c in row {
            let class = if statuses { status_class(c) } else { "" };
            if class.is_empty() {
                let _ = write!(body, "<td>{}</td>", escape(c));
            } else {
                let _ = write!(body, "<td class=\"{class}\">{}</td>", escape(c));
            }
        }
        body.push_str("</tr>\n");
    }
    body.push_str("</tbody></table>\n");
}

/// The ATLAS coverage table (tactic, count, techniques joined by `; `) as a matrix: one column
/// per tactic, one card per technique reached.
fn matrix(body: &mut String, t: &Table) {
    let _ = writeln!(body, "<h3>{}</h3><div class=\"matrix\">", escape(&t.title));
    for row in &t.rows {
        let [tactic, count, techniques, ..] = row.as_slice() else {
            continue;
        };
        let _ = write!(
            body,
            "<div class=\"tactic\"><h4>{} <small>{}</small></h4>",
            escape(tactic),
            escape(count)
        );
        let list: Vec<&str> = techniques
            .split("; ")
            .filter(|s| !s.trim().is_empty())
            .collect();
        if list.is_empty() {
            body.push_str("<div class=\"none\">none reached</div>");
        }
        for tech in list {
            let _ = write!(body, "<div class=\"tech\">{}</div>", escape(tech));
        }
        body.push_str("</div>");
    }
    body.push_str("</div>\n");
}

/// Red team exchanges kept as evidence, one collapsible block per transcript. Returns whether
/// there were any.
fn transcripts(body: &mut String, findings: &[Finding]) -> bool {
    let mut any = false;
    for f in findings {
        let Some(ts) = f.evidence.get("transcripts").and_then(|t| t.as_array()) else {
            continue;
        };
        for t in ts {
            let Some(conv) = t.get("conversation").and_then(|c| c.as_array()) else {
                continue;
            };
            if !any {
                let _ = writeln!(
                    body,
                    "<section id=\"transcripts\"><h2>Transcripts of successful attacks</h2>"
                );
                any = true;
            }
            let _ = write!(
                body,
                "<details><summary><span class=\"sev {s}\">{s}</span> {} {}: {}</summary>",
                escape(f.rule.as_str()),
                escape(&f.title),
                escape(t.get("probe").and_then(|p| p.as_str()).unwrap_or("")),
                s = f.severity
            );
            for m in conv {
                let role = m.get("role").and_then(|r| r.as_str()).unwrap_or("?");
                let text = match m.get("content") {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                let role_class = match role {
                    "user" | "assistant" | "system" | "tool" => role,
                    _ => "other",
                };
                let _ = write!(
                    body,
                    "<div class=\"msg {role_class}\"><strong>{}</strong>: {}</div>",
                    escape(role),
                    escape(&text)
                );
            }
            body.push_str("</details>\n");
        }
    }
    if any {
        body.push_str("</section>\n");
    }
    any
}
