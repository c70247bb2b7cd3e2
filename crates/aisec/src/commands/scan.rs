//! `aisec scan`: run the model scanner and render its report.

use std::io::Write;

use aisec_modelscan::{FileDone, Scanner};
use aisec_report::{Emitter, Format, Html, Human, Json, Markdown, RuleDoc, Sarif};
use anyhow::Context;

use crate::ExitStatus;
use crate::settings::{GlobalSettings, ScanSettings};

pub(crate) fn run(settings: &ScanSettings, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    let scanner = Scanner::default();
    let progress = |done: FileDone<'_>| {
        if global.progress && done.total > 1 {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K[{}/{}] {}", done.done, done.total, done.path);
            if done.done == done.total {
                let _ = writeln!(err);
            }
        }
    };
    let pool = super::pool(settings.threads)?;
    let mut report = pool
        .install(|| scanner.scan(&settings.paths, &progress))
        .context("scan failed")?;
    super::store_out::keep(global, "aisec scan", &mut report)?;

    let mut emitter: Box<dyn Emitter> = match settings.format {
        Format::Human => Box::new(Human {
            color: global.color && settings.output.is_none(),
            verbose: settings.verbose,
        }),
        Format::Json => Box::new(Json),
        Format::Sarif => Box::new(Sarif { rules: rule_docs() }),
        Format::Markdown => Box::new(Markdown {
            title: Some("aisec scan".into()),
        }),
        Format::Html => Box::new(Html {
            title: Some("aisec scan".into()),
            embedded: std::collections::BTreeMap::new(),
        }),
    };
    let mut out = super::output(settings.output.as_deref(), "the report")?;
    emitter.emit(&mut out, &report)?;
    out.flush()?;
    Ok(if settings.exit_zero {
        ExitStatus::Success
    } else if report.fails(settings.fail_on) {
        ExitStatus::Failure
    } else if report.not_analysed().next().is_some() {
        ExitStatus::Incomplete
    } else {
        ExitStatus::Success
    })
}

/// The scanner's rule catalog in the form SARIF embeds.
pub(crate) fn rule_docs() -> Vec<RuleDoc> {
    super::rules::all()
        .map(|r| {
            let mut tags = vec!["security".to_owned()];
            tags.extend(
                r.cwe
                    .iter()
                    .map(|c| format!("external/cwe/{}", c.to_ascii_lowercase())),
            );
            tags.extend(r.atlas.iter().map(|a| format!("external/atlas/{a}")));
            RuleDoc {
                id: r.id.into(),
                name: r.name.into(),
                title: r.title.into(),
                help: format!(
                    "{}\n\n{}\n\nExample: {}\n\nRemediation: {}",
                    r.what, r.why, r.example, r.remediation
                ),
                severity: r.severity,
                tags,
                help_uri: r
                    .references
                    .iter()
                    .find(|s| s.starts_with("https://"))
                    .map(|s| (*s).to_owned()),
            }
        })
        .collect()
}
