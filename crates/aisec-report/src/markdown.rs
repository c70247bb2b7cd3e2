//! Markdown: a summary, the findings, then every table and chart the report carries. Charts link to
//! their SVG artifact when one was written, and are inlined as SVG otherwise.

use std::io::Write;

use aisec_core::{Report, Severity};

use crate::svg::chart as render_chart;
use crate::{Emitter, Error};

/// Writes the report as GitHub-flavoured Markdown.
#[derive(Debug, Default)]
pub struct Markdown {
    /// The report's title (`aisec attack evasion`).
    pub title: Option<String>,
}

/// A table cell: no newlines, pipes escaped.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
        .replace('<', "&lt;")
}

fn severity_counts(report: &Report) -> Vec<(Severity, usize)> {
    [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ]
    .into_iter()
    .map(|s| {
        (
            s,
            report.findings.iter().filter(|f| f.severity == s).count(),
        )
    })
    .collect()
}

impl Emitter for Markdown {
    fn emit(&mut self, out: &mut dyn Write, report: &Report) -> Result<(), Error> {
        let title = self.title.as_deref().unwrap_or("aisec report");
        writeln!(out, "# {}\n", cell(title))?;
        writeln!(
            out,
            "{} {} · {} target(s) · {} finding(s) · {:.1} s\n",
            report.tool.name,
            report.tool.version,
            report.targets.len(),
            report.findings.len(),
            report.duration_ms as f64 / 1000.0
        )?;
        let counts: Vec<String> = severity_counts(report)
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        if !counts.is_empty() {
            writeln!(out, "**Findings by severity:** {}\n", counts.join(", "))?;
        }
        if !report.findings.is_empty() {
            writeln!(out, "## Findings\n")?;
            writeln!(out, "| Severity | Rule | Title | Location | ATLAS |")?;
            writeln!(out, "|---|---|---|---|---|")?;
            for f in &report.findings {
                writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    f.severity,
                    cell(f.rule.as_str()),
                    cell(&f.title),
                    cell(&f.location.path),
                    cell(&f.taxonomy.atlas.join(", "))
                )?;
            }
            writeln!(out)?;
            for f in &report.findings {
                writeln!(
                    out,
                    "### {} {}\n\n{}\n",
                    cell(f.rule.as_str()),
                    cell(&f.title),
                    f.message.replace('<', "&lt;")
                )?;
                if !f.remediation.is_empty() {
                    writeln!(
                        out,
                        "**Remediation:** {}\n",
                        f.remediation.replace('<', "&lt;")
                    )?;
                }
            }
        }
        for t in &report.tables {
            writeln!(out, "## {}\n", cell(&t.title))?;
            writeln!(
                out,
                "| {} |",
                t.columns
                    .iter()
                    .map(|c| cell(c))
                    .collect::<Vec<_>>()
                    .join(" | ")
            )?;
            writeln!(out, "|{}|", vec!["---"; t.columns.len()].join("|"))?;
            for row in &t.rows {
                writeln!(
                    out,
                    "| {} |",
                    row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
                )?;
            }
            writeln!(out)?;
        }
        for c in &report.charts {
            writeln!(out, "## {}\n", cell(&c.title))?;
            let file = format!("{}.svg", c.id);
            match report.artifacts.iter().find(|a| a.path.ends_with(&file)) {
                Some(a) => writeln!(
                    out,
                    "![{}]({})\n",
                    cell(&c.title),
                    a.path.replace(' ', "%20")
                )?,
                None => writeln!(out, "{}", render_chart(c))?,
            }
        }
        let pictures: Vec<_> = report
            .artifacts
            .iter()
            .filter(|a| a.media_type == "image/png")
            .collect();
        for a in &pictures {
            writeln!(
                out,
                "![{}]({})\n",
                cell(&a.description),
                a.path.replace(' ', "%20")
            )?;
        }
        if !report.artifacts.is_empty() {
            writeln!(out, "## Artifacts\n")?;
            for a in &report.artifacts {
                writeln!(
                    out,
                    "- `{}`: {} (sha256 {})",
                    a.path,
                    cell(&a.description),
                    &a.sha256
                )?;
            }
            writeln!(out)?;
        }
        Ok(())
    }
}
