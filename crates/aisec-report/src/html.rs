//! A single self-contained HTML page: summary, findings, tables, charts as inline SVG and pictures
//! embedded as data URIs. No scripts; every string from the report is escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;

use aisec_core::{Report, Severity};
use base64::Engine as _;

use crate::svg::{escape, line_chart};
use crate::{Emitter, Error};

/// Writes the report as one HTML file.
#[derive(Debug, Default)]
pub struct Html {
    /// The page title.
    pub title: Option<String>,
    /// Bytes of artifacts to embed, by artifact path (PNG pictures).
    pub embedded: BTreeMap<String, Vec<u8>>,
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}\
table{border-collapse:collapse;margin:1rem 0;font-size:14px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f3f3f3}.sev{font-weight:bold;border-radius:3px;padding:1px 6px;color:#fff}\
.critical{background:#8b0000}.high{background:#d9480f}.medium{background:#b8860b}.low{background:#1971c2}.info{background:#666}\
figure{margin:1rem 0}figcaption{font-size:13px;color:#555}img.grid{image-rendering:pixelated;max-width:100%}\
.summary span{margin-right:1rem}";

impl Emitter for Html {
    fn emit(&mut self, out: &mut dyn Write, report: &Report) -> Result<(), Error> {
        let title = escape(self.title.as_deref().unwrap_or("aisec report"));
        write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
             <meta name=\"viewport\" content=\"width=device-width\"><style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n"
        )?;
        writeln!(
            out,
            "<p class=\"summary\"><span>{} {}</span><span>{} target(s)</span><span>{} finding(s)</span><span>{:.1} s</span></p>",
            escape(&report.tool.name),
            escape(&report.tool.version),
            report.targets.len(),
            report.findings.len(),
            report.duration_ms as f64 / 1000.0
        )?;
        let mut counts = String::new();
        for s in [
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low,
            Severity::Info,
        ] {
            let n = report.findings.iter().filter(|f| f.severity == s).count();
            if n > 0 {
                let _ = write!(counts, "<span class=\"sev {s}\">{n} {s}</span> ");
            }
        }
        if !counts.is_empty() {
            writeln!(out, "<p>{counts}</p>")?;
        }
        if !report.findings.is_empty() {
            writeln!(
                out,
                "<h2>Findings</h2><table><thead><tr><th>Severity</th><th>Rule</th><th>Title</th><th>Message</th><th>Location</th><th>ATLAS</th><th>Remediation</th></tr></thead><tbody>"
            )?;
            for f in &report.findings {
                writeln!(
                    out,
                    "<tr><td><span class=\"sev {s}\">{s}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(f.rule.as_str()),
                    escape(&f.title),
                    escape(&f.message),
                    escape(&f.location.path),
                    escape(&f.taxonomy.atlas.join(", ")),
                    escape(&f.remediation),
                    s = f.severity,
                )?;
            }
            writeln!(out, "</tbody></table>")?;
        }
        for t in &report.tables {
            write!(out, "<h2>{}</h2><table><thead><tr>", escape(&t.title))?;
            for c in &t.columns {
                write!(out, "<th>{}</th>", escape(c))?;
            }
            writeln!(out, "</tr></thead><tbody>")?;
            for row in &t.rows {
                write!(out, "<tr>")?;
                for c in row {
                    write!(out, "<td>{}</td>", escape(c))?;
                }
                writeln!(out, "</tr>")?;
            }
            writeln!(out, "</tbody></table>")?;
        }
        for c in &report.charts {
            writeln!(
                out,
                "<h2>{}</h2><figure>{}</figure>",
                escape(&c.title),
                line_chart(c)
            )?;
        }
        for a in report
            .artifacts
            .iter()
            .filter(|a| a.media_type == "image/png")
        {
            if let Some(bytes) = self.embedded.get(&a.path) {
                let data = base64::engine::general_purpose::STANDARD.encode(bytes);
                writeln!(
                    out,
                    "<figure><img class=\"grid\" alt=\"{d}\" src=\"data:image/png;base64,{data}\"><figcaption>{d}</figcaption></figure>",
                    d = escape(&a.description)
                )?;
            }
        }
        if !report.artifacts.is_empty() {
            writeln!(out, "<h2>Artifacts</h2><ul>")?;
            for a in &report.artifacts {
                writeln!(
                    out,
                    "<li><code>{}</code>: {} <small>sha256 {}</small></li>",
                    escape(&a.path),
                    escape(&a.description),
                    escape(&a.sha256)
                )?;
            }
            writeln!(out, "</ul>")?;
        }
        writeln!(out, "</body></html>")?;
        Ok(())
    }
}
