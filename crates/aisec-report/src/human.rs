//! Human-readable output: findings grouped by file, then what could not be analysed, then a summary.

use std::collections::BTreeMap;
use std::io::Write;

use aisec_core::{Report, Severity, TargetStatus};

use crate::{Emitter, Error};

/// Writes the report for a person at a terminal. Color is an extra: the text reads the same without it.
#[derive(Debug, Default)]
pub struct Human {
    /// Use ANSI colors.
    pub color: bool,
    /// Also list every target examined.
    pub verbose: bool,
}

impl Human {
    fn paint(&self, sev: Severity, text: &str) -> String {
        if !self.color {
            return text.to_owned();
        }
        let code = match sev {
            Severity::Critical => "1;31",
            Severity::High => "31",
            Severity::Medium => "33",
            Severity::Low => "36",
            Severity::Info => "2",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    fn bold(&self, text: &str) -> String {
        if self.color {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

impl Emitter for Human {
    fn emit(&mut self, out: &mut dyn Write, report: &Report) -> Result<(), Error> {
        let mut by_file: BTreeMap<(&str, Option<&str>), Vec<&aisec_core::Finding>> =
            BTreeMap::new();
        for f in &report.findings {
            by_file
                .entry((f.location.path.as_str(), f.location.member.as_deref()))
                .or_default()
                .push(f);
        }
        for ((path, member), findings) in &by_file {
            let place = match member {
                Some(m) => format!("{path}!/{m}"),
                None => (*path).to_owned(),
            };
            writeln!(out, "{}", self.bold(&place))?;
            for f in findings {
                let sev = format!("{:<8}", f.severity.as_str().to_uppercase());
                let offset = f
                    .location
                    .offset
                    .map(|o| format!(" @{o}"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "  {} {} {}{offset}",
                    self.paint(f.severity, &sev),
                    f.rule,
                    f.title
                )?;
                writeln!(out, "           {}", f.message)?;
            }
            writeln!(out)?;
        }
        let not_analysed: Vec<_> = report.not_analysed().collect();
        if !not_analysed.is_empty() {
            writeln!(
                out,
                "{}",
                self.bold("Not analysed (never read these as clean):")
            )?;
            for t in &not_analysed {
                if let TargetStatus::NotAnalysed { reason } = &t.status {
                    let place = match &t.member {
                        Some(m) => format!("{}!/{m}", t.path),
                        None => t.path.clone(),
                    };
                    writeln!(out, "  {place}: {reason}")?;
                }
            }
            writeln!(out)?;
        }
        if self.verbose {
            writeln!(out, "{}", self.bold("Examined:"))?;
            for t in &report.targets {
                let place = match &t.member {
                    Some(m) => format!("{}!/{m}", t.path),
                    None => t.path.clone(),
                };
                let status = match &t.status {
                    TargetStatus::Analysed => "analysed".to_owned(),
                    TargetStatus::Skipped { reason } => format!("skipped: {reason}"),
                    TargetStatus::NotAnalysed { reason } => format!("not analysed: {reason}"),
                };
                writeln!(out, "  {place} [{}, {} bytes] {status}", t.format, t.size)?;
            }
            writeln!(out)?;
        }
        let files = report.targets.iter().filter(|t| t.member.is_none()).count();
        let mut counts = Vec::new();
        for sev in Severity::ALL.iter().rev() {
            let n = report
                .findings
                .iter()
                .filter(|f| f.severity == *sev)
                .count();
            if n > 0 {
                counts.push(self.paint(*sev, &format!("{n} {sev}")));
            }
        }
        let summary = if counts.is_empty() {
            "no findings".to_owned()
        } else {
            counts.join(", ")
        };
        writeln!(
            out,
            "Scanned {files} file{} in {} ms: {summary}; {} not analysed.",
            if files == 1 { "" } else { "s" },
            report.duration_ms,
            not_analysed.len()
        )?;
        Ok(())
    }
}
