//! `aisec bom`: inventory a model directory, scan it, and write its AI bill of materials; print the
//! completeness score on stderr.

use std::io::Write;

use aisec_modelscan::Scanner;
use aisec_provenance::bom::{self, BomMeta, Completeness, InspectOptions};
use anyhow::Context;

use crate::ExitStatus;
use crate::settings::{BomSettings, GlobalSettings};

pub(crate) fn run(settings: &BomSettings, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    let opts = InspectOptions {
        model_id: settings.model_id.clone(),
        signature: settings.signature.clone(),
        ..InspectOptions::default()
    };
    let inv = bom::inspect(&settings.dir, &opts)
        .with_context(|| format!("cannot inventory `{}`", settings.dir.display()))?;
    let findings = if settings.scan {
        let report = Scanner::default()
            .scan(&[&settings.dir], &|_| {})
            .context("scan failed")?;
        Some(report.findings)
    } else {
        None
    };
    let meta = BomMeta::now(env!("CARGO_PKG_VERSION"))
        .context("cannot read the system's random source for the BOM serial number")?;
    let doc = if settings.spdx3 {
        bom::spdx3(&inv, findings.as_deref(), &meta)
    } else {
        bom::cyclonedx(&inv, findings.as_deref(), &meta)
    };
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    let mut out = super::output(settings.output.as_deref(), "the BOM")?;
    out.write_all(text.as_bytes())?;
    out.flush()?;

    let score = bom::completeness(&inv, settings.scan);
    if let Some(path) = &settings.completeness_json {
        let json = serde_json::to_string_pretty(&score)? + "\n";
        fs_err::write(path, json).with_context(|| {
            format!(
                "cannot write the completeness score to `{}`",
                path.display()
            )
        })?;
    }
    let mut err = std::io::stderr().lock();
    for w in &inv.warnings {
        writeln!(err, "warning: {w}")?;
    }
    if !global.quiet {
        write_table(&mut err, &score)?;
    }
    Ok(ExitStatus::Success)
}

/// A short table: one line per model with what is missing, then where each missing field comes from.
fn write_table(out: &mut dyn Write, score: &Completeness) -> std::io::Result<()> {
    writeln!(
        out,
        "BOM completeness: {}/100 (the weakest model)",
        score.score
    )?;
    // Models missing the same fields share a line, so a directory of loose files stays short.
    let mut groups: Vec<(u8, Vec<&str>, Vec<String>)> = Vec::new();
    let mut legend = std::collections::BTreeMap::new();
    for m in &score.models {
        let missing: Vec<&str> = m.missing().map(|f| f.field.as_str()).collect();
        let name = if m.location.is_empty() || m.location == m.model {
            m.model.clone()
        } else {
            format!("{} ({})", m.model, m.location)
        };
        match groups
            .iter_mut()
            .find(|(s, miss, _)| *s == m.score && *miss == missing)
        {
            Some(g) => g.2.push(name),
            None => groups.push((m.score, missing, vec![name])),
        }
        for f in m.missing() {
            legend
                .entry((f.tier, f.field.clone()))
                .or_insert_with(|| f.source.clone());
        }
    }
    for (s, missing, names) in groups {
        let who = if names.len() > 3 {
            format!("{}, … ({} models)", names[..3].join(", "), names.len())
        } else {
            names.join(", ")
        };
        if missing.is_empty() {
            writeln!(out, "  {s:>3}  {who}: complete")?;
        } else {
            writeln!(out, "  {s:>3}  {who}: missing {}", missing.join(", "))?;
        }
    }
    if !legend.is_empty() {
        writeln!(out, "Where the missing fields come from:")?;
        for ((tier, field), source) in legend {
            writeln!(out, "  {:<13} {field}: {source}", tier.as_str())?;
        }
    }
    Ok(())
}
