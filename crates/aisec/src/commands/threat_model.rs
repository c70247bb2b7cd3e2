//! `aisec threat-model`: reads the system model and the evidence reports, applies the threat
//! rules, and writes the report (threat findings, the threats table, the ATLAS coverage matrix)
//! with the data-flow diagram beside it (Mermaid always, DOT, and SVG when Graphviz's `dot` is
//! installed).

use std::path::Path;
use std::time::Instant;

use aisec_core::{Finding, Report, Target, TargetStatus};
use aisec_taxonomy::Atlas;
use aisec_threatmodel::{SystemModel, dfd, evaluate, report, rules};
use anyhow::Context;

use super::report_out::{Artifacts, finish_with_rules, new_report};
use crate::ExitStatus;
use crate::cli::ThreatModelArgs;
use crate::settings::GlobalSettings;

/// The largest evidence report read.
const MAX_EVIDENCE_BYTES: u64 = 256 << 20;

pub(crate) fn run(args: &ThreatModelArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    let text = read_bounded(&args.model, aisec_threatmodel::model::MAX_BYTES as u64)?;
    let model = SystemModel::from_yaml(&text, &args.model.display().to_string())?;
    let atlas = match &args.atlas {
        Some(path) => {
            let text = read_bounded(path, aisec_taxonomy::atlas::MAX_BYTES as u64)?;
            Atlas::from_yaml(&text).with_context(|| format!("{}", path.display()))?
        }
        None => Atlas::builtin(),
    };
    let rules = rules::builtin()?;
    rules::check(&rules, &atlas).context("the threat rules against the ATLAS data given")?;
    let mut evidence: Vec<Finding> = Vec::new();
    for path in &args.evidence {
        let bytes = read_bounded(path, MAX_EVIDENCE_BYTES)?;
        let r: Report = serde_json::from_str(&bytes).with_context(|| {
            format!(
                "{}: not an aisec JSON report (--format json)",
                path.display()
            )
        })?;
        evidence.extend(r.findings);
    }
    let threats = evaluate(&model, &rules, &evidence);
    let coverage = report::coverage(&threats, &atlas);

    let mut out = new_report();
    out.targets.push(Target {
        path: model.file.clone(),
        member: None,
        format: "aisec-threat-model".into(),
        size: text.len() as u64,
        status: TargetStatus::Analysed,
    });
    out.findings = report::findings(&model, &threats, &rules);
    out.tables.push(report::threats_table(&threats));
    out.tables.push(report::coverage_table(&coverage, &atlas));
    out.metrics.insert(
        "threat_model".into(),
        report::metrics(&model, &threats, &coverage),
    );
    let mut artifacts = Artifacts::new(&args.report)?;
    let mermaid = dfd::mermaid(&model);
    let dot = dfd::dot(&model);
    artifacts.put(
        &mut out,
        "dfd.mmd",
        "text/vnd.mermaid",
        "Data-flow diagram (Mermaid)".into(),
        mermaid.clone().into_bytes(),
    )?;
    artifacts.put(
        &mut out,
        "dfd.dot",
        "text/vnd.graphviz",
        "Data-flow diagram (Graphviz DOT)".into(),
        dot.clone().into_bytes(),
    )?;
    if artifacts.dir().is_some()
        && let Some(svg) = render_svg(&dot)
    {
        artifacts.put(
            &mut out,
            "dfd.svg",
            "image/svg+xml",
            "Data-flow diagram (SVG, rendered by Graphviz)".into(),
            svg,
        )?;
    }
    out.tables.push(aisec_core::Table {
        id: "dfd-mermaid".into(),
        title: "Data-flow diagram (Mermaid source)".into(),
        columns: vec!["mermaid".into()],
        rows: mermaid.lines().map(|l| vec![l.to_owned()]).collect(),
    });
    out.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    out.sort();
    let docs = rules
        .iter()
        .map(|r| aisec_report::RuleDoc {
            id: r.id.clone(),
            name: r.title.to_ascii_lowercase().replace(' ', "-"),
            title: r.title.clone(),
            help: format!("{}\n\nRemediation: {}", r.description, r.remediation),
            severity: aisec_threatmodel::engine::severity_of(r.likelihood * r.impact),
            tags: std::iter::once("security".to_owned())
                .chain(r.atlas.iter().map(|a| format!("external/atlas/{a}")))
                .chain(
                    r.owasp_llm
                        .iter()
                        .map(|o| format!("external/owasp-llm/{o}")),
                )
                .collect(),
            help_uri: None,
        })
        .collect();
    let title = format!("aisec threat model: {}", model.name);
    finish_with_rules(&args.report, global, &title, &out, artifacts, docs)
}

fn read_bounded(path: &Path, max: u64) -> anyhow::Result<String> {
    use std::io::Read;
    let f = fs_err::File::open(path)?;
    let mut text = String::new();
    f.take(max + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {} as UTF-8 text", path.display()))?;
    anyhow::ensure!(
        text.len() as u64 <= max,
        "{} is larger than {max} bytes",
        path.display()
    );
    Ok(text)
}

/// `dot -Tsvg` on `source`, when Graphviz is installed; None otherwise or when it fails.
fn render_svg(source: &str) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut child = std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(source.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    (out.status.success() && !out.stdout.is_empty()).then_some(out.stdout)
}
