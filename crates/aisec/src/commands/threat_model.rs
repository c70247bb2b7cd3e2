//! `aisec threat-model`: reads the system model and the evidence reports, applies the threat
//! rules, and writes the report (threat findings, the threats table, the ATLAS coverage matrix)
//! with the data-flow diagram beside it (Mermaid always, DOT, and SVG when Graphviz's `dot` is
//! installed), and the model with its threats as an OWASP Threat Dragon v2 model. The model may
//! itself be a Threat Dragon v2 model.

use std::io::Write as _;
use std::time::Instant;

use aisec_core::{Finding, Report, Target, TargetStatus};
use aisec_taxonomy::Atlas;
use aisec_threatmodel::{SystemModel, dfd, evaluate, report, rules, threatdragon};
use anyhow::Context;

use super::read_text;
use super::report_out::{Artifacts, finish_with_rules, new_report};
use crate::ExitStatus;
use crate::cli::ThreatModelArgs;
use crate::settings::GlobalSettings;

/// The largest evidence report read.
const MAX_EVIDENCE_BYTES: u64 = 256 << 20;

pub(crate) fn run(args: &ThreatModelArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    let text = read_text(
        &args.model,
        aisec_threatmodel::model::MAX_BYTES as u64,
        "the system model",
    )?;
    let file = args.model.display().to_string();
    let model = if threatdragon::looks_like(&text) {
        let imported = threatdragon::import(&text, &file)?;
        for w in &imported.warnings {
            // Always shown: a cell of the drawing was left out of the analysis.
            let _ = writeln!(std::io::stderr().lock(), "warning: {w}");
        }
        imported.model
    } else {
        SystemModel::from_yaml(&text, &file)?
    };
    if let Some(path) = &args.to_yaml {
        fs_err::write(path, model.to_yaml())?;
    }
    // The built-in rules are checked against the built-in ATLAS index as they load; ATLAS data
    // given on the command line is checked again.
    let rules = rules::builtin()?;
    let atlas = match &args.atlas {
        Some(path) => {
            let text = read_text(
                path,
                aisec_taxonomy::atlas::MAX_BYTES as u64,
                "the ATLAS data",
            )?;
            let atlas = Atlas::from_yaml(&text).with_context(|| format!("{}", path.display()))?;
            rules::check(&rules, &atlas)
                .context("the threat rules against the ATLAS data given")?;
            atlas
        }
        // What `aisec taxonomy update` cached, else the built-in index.
        None => match super::taxonomy::cached_atlas()? {
            Some((atlas, path)) => {
                rules::check(&rules, &atlas).with_context(|| {
                    format!(
                        "the threat rules against the cached ATLAS data ({})",
                        path.display()
                    )
                })?;
                atlas
            }
            None => Atlas::builtin(),
        },
    };
    let mut evidence: Vec<Finding> = Vec::new();
    for path in &args.evidence {
        let text = read_text(path, MAX_EVIDENCE_BYTES, "an evidence report")?;
        let r: Report = serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: not an aisec JSON report (--format json)",
                path.display()
            )
        })?;
        evidence.extend(r.findings);
    }
    let mut evidence_runs = Vec::new();
    if args.evidence_from_store {
        let (findings, runs) = super::store_out::latest_evidence(global)?;
        evidence.extend(findings);
        evidence_runs = runs;
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
    out.findings.extend(report::recorded_findings(&model));
    out.tables.push(report::threats_table(&threats));
    out.tables.extend(report::recorded_table(&model));
    out.tables.push(report::coverage_table(&coverage, &atlas));
    out.metrics.insert(
        "threat_model".into(),
        report::metrics(&model, &threats, &coverage),
    );
    if let Some(m) = out.metrics.get_mut("threat_model") {
        m["atlas_version"] = serde_json::Value::from(atlas.version.clone());
        if args.evidence_from_store {
            m["evidence_runs"] = serde_json::json!(evidence_runs
                .iter()
                .map(|r| serde_json::json!({"run": r.id, "command": r.command, "created_at": r.created_at}))
                .collect::<Vec<_>>());
        }
    }
    let mermaid = dfd::mermaid(&model);
    let dot = dfd::dot(&model);
    out.tables.push(aisec_core::Table {
        id: "dfd-mermaid".into(),
        title: "Data-flow diagram (Mermaid source)".into(),
        columns: vec!["mermaid".into()],
        rows: mermaid.lines().map(|l| vec![l.to_owned()]).collect(),
    });
    let mut artifacts = Artifacts::new(&args.report)?;
    artifacts.put(
        &mut out,
        "dfd.mmd",
        "text/vnd.mermaid",
        "Data-flow diagram (Mermaid)".into(),
        mermaid.into_bytes(),
    )?;
    let svg = artifacts.dir().and_then(|_| render_svg(&dot));
    artifacts.put(
        &mut out,
        "dfd.dot",
        "text/vnd.graphviz",
        "Data-flow diagram (Graphviz DOT)".into(),
        dot.into_bytes(),
    )?;
    let td = serde_json::to_vec_pretty(&threatdragon::export(&model, &threats, &rules))?;
    if let Some(path) = &args.threat_dragon {
        fs_err::write(path, &td)?;
    }
    artifacts.put(
        &mut out,
        "threat-dragon.json",
        "application/json",
        "The model and its threats as an OWASP Threat Dragon v2 model".into(),
        td,
    )?;
    if let Some(svg) = svg {
        artifacts.put(
            &mut out,
            "dfd.svg",
            "image/svg+xml",
            "Data-flow diagram (SVG, rendered by Graphviz)".into(),
            svg,
        )?;
    }
    out.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    out.sort();
    let docs = rule_docs(&rules);
    let title = format!("aisec threat model: {}", model.name);
    finish_with_rules(&args.report, global, &title, &out, artifacts, docs)
}

/// `dot -Tsvg` on `source`, when Graphviz is installed; None otherwise or when it fails.
fn render_svg(source: &str) -> Option<Vec<u8>> {
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

/// SARIF rule documentation for the threat model's findings: the recorded-threat rule and every
/// threat rule of `rules`.
pub(crate) fn rule_docs(
    rules: &[aisec_threatmodel::rules::ThreatRule],
) -> Vec<aisec_report::RuleDoc> {
    let recorded_doc = aisec_report::RuleDoc {
        id: report::RECORDED_RULE.to_owned(),
        name: "threat-recorded-in-the-model".to_owned(),
        title: "Threat recorded in the model".to_owned(),
        help: "A threat a person recorded on an element or flow of the model (in the YAML's \
               `threats`, or in Threat Dragon), still open.\n\nRemediation: the mitigation the \
               person gave, or decide one and mark the threat mitigated."
            .to_owned(),
        severity: aisec_core::Severity::Medium,
        tags: vec!["security".to_owned()],
        help_uri: None,
    };
    std::iter::once(recorded_doc)
        .chain(rules.iter().map(|r| {
            aisec_report::RuleDoc {
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
            }
        }))
        .collect()
}
