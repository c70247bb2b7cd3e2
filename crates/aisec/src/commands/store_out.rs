//! The findings store at the binary's edge: keeping a command's report as a run (`--store`),
//! and `aisec history`, `aisec diff`, `aisec suppress`.

use std::io::Write as _;

use aisec_core::{Finding, Report};
use aisec_store::{FindingRow, Location, NewRun, Store};
use anyhow::{Context, bail};

use crate::ExitStatus;
use crate::cli::{DiffArgs, HistoryArgs, OutputFormat, SuppressArgs};
use crate::settings::GlobalSettings;

/// The store `url` names (`default`: the user's data directory).
fn location(url: &str) -> anyhow::Result<Location> {
    if url == "default" {
        return Location::default_from(|k| std::env::var_os(k)).context(
            "no data directory for the default store: set AISEC_DATA_DIR, XDG_DATA_HOME or HOME, or give --store",
        );
    }
    Ok(Location::parse(url)?)
}

/// Opens the store `url` names.
fn open(url: &str) -> anyhow::Result<Store> {
    let loc = location(url)?;
    Store::open(&loc).with_context(|| format!("opening the store {loc}"))
}

/// The store to read: `--store`, else the default one.
pub(crate) fn open_for_reading(global: &GlobalSettings) -> anyhow::Result<Store> {
    open(global.store.as_deref().unwrap_or("default"))
}

/// With `--store`: keeps `report` as a run of this command, then leaves out of `report` the
/// findings an active suppression silences (listed in `metrics.store`).
pub(crate) fn keep(
    global: &GlobalSettings,
    title: &str,
    report: &mut Report,
) -> anyhow::Result<()> {
    let Some(url) = &global.store else {
        return Ok(());
    };
    let project = report
        .targets
        .first()
        .map(|t| t.path.clone())
        .unwrap_or_default();
    keep_in(url, global, &project, title, report)
}

/// Keeps `report` in the store `url` names as a run of `global.command` for `project`, then
/// leaves out of it the findings an active suppression silences (listed in `metrics.store`).
pub(crate) fn keep_in(
    url: &str,
    global: &GlobalSettings,
    project: &str,
    title: &str,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut store = open(url)?;
    let (id, silenced) = store.record(
        &NewRun {
            command: global.command,
            project,
            title,
        },
        report,
    )?;
    let silent: std::collections::HashSet<&str> = silenced.iter().map(String::as_str).collect();
    report
        .findings
        .retain(|f| !silent.contains(f.fingerprint.as_str()));
    report.metrics.insert(
        "store".into(),
        serde_json::json!({
            "store": store.location().to_string(),
            "run": id,
            "suppressed": silenced,
        }),
    );
    if !global.quiet {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "kept as run {id} in {}{}",
            store.location(),
            if silenced.is_empty() {
                String::new()
            } else {
                format!(" ({} suppressed finding(s) left out)", silenced.len())
            }
        );
    }
    Ok(())
}

/// The findings of the latest run of each other command in the store (evidence for the threat
/// model), with the runs they came from.
pub(crate) fn latest_evidence(
    global: &GlobalSettings,
) -> anyhow::Result<(Vec<Finding>, Vec<aisec_store::RunInfo>)> {
    let mut store = open_for_reading(global)?;
    let runs: Vec<_> = store
        .latest_per_command()?
        .into_iter()
        .filter(|r| !matches!(r.command.as_str(), "threat-model" | "assess"))
        .collect();
    let mut findings = Vec::new();
    for r in &runs {
        findings.extend(store.report(r.id)?.findings);
    }
    Ok((findings, runs))
}

pub(crate) fn history(args: &HistoryArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    let mut store = open_for_reading(global)?;
    let runs = store.runs(args.limit, args.command.as_deref())?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &runs)?;
            writeln!(out)?;
        }
        OutputFormat::Human => {
            if runs.is_empty() {
                writeln!(out, "no runs in {}", store.location())?;
            }
            for r in &runs {
                writeln!(
                    out,
                    "{:>6}  {}  {:<16} {:>4} finding(s){}  {}",
                    r.id,
                    &r.created_at[..r.created_at.len().min(19)],
                    r.command,
                    r.findings - r.suppressed,
                    if r.suppressed > 0 {
                        format!(" (+{} suppressed)", r.suppressed)
                    } else {
                        String::new()
                    },
                    r.project
                )?;
            }
        }
        _ => bail!("history writes human or json"),
    }
    Ok(ExitStatus::Success)
}

fn rows(out: &mut impl std::io::Write, label: &str, list: &[FindingRow]) -> std::io::Result<()> {
    writeln!(out, "{label}: {}", list.len())?;
    let mut list: Vec<&FindingRow> = list.iter().collect();
    list.sort_by_key(|r| (aisec_store::severity_rank(&r.severity), r.rule.clone()));
    for r in list {
        writeln!(
            out,
            "  {:<8} {:<6} {}  {}  [{}]",
            r.severity,
            r.rule,
            r.title,
            r.location,
            &r.fingerprint[..r.fingerprint.len().min(16)]
        )?;
    }
    Ok(())
}

pub(crate) fn diff(args: &DiffArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    let mut store = open_for_reading(global)?;
    let a = store.resolve(&args.before, args.command.as_deref())?;
    let b = store.resolve(&args.after, args.command.as_deref())?;
    let d = store.diff(a, b)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(
                &mut out,
                &serde_json::json!({"before": a, "after": b, "diff": d}),
            )?;
            writeln!(out)?;
        }
        OutputFormat::Human => {
            writeln!(out, "run {a} -> run {b} ({})", store.location())?;
            rows(&mut out, "new", &d.new)?;
            rows(&mut out, "fixed", &d.fixed)?;
            rows(&mut out, "unchanged", &d.unchanged)?;
            rows(&mut out, "suppressed", &d.suppressed)?;
        }
        _ => bail!("diff writes human or json"),
    }
    Ok(if args.fail_on_new && !d.new.is_empty() {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

pub(crate) fn suppress(args: &SuppressArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    let mut store = open_for_reading(global)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let by = args
        .by
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_default();
    if args.list {
        let now = aisec_core::time::rfc3339(std::time::SystemTime::now(), true);
        for s in store.suppressions()? {
            writeln!(
                out,
                "{}  until {}{}  by {}: {}",
                s.fingerprint,
                s.expires_at.as_deref().unwrap_or("never"),
                if s.active_at(&now) { "" } else { " (expired)" },
                if s.created_by.is_empty() {
                    "?"
                } else {
                    &s.created_by
                },
                s.reason
            )?;
        }
        return Ok(ExitStatus::Success);
    }
    if let Some(fp) = &args.remove {
        if !store.unsuppress(fp)? {
            bail!("no acceptance of {fp}");
        }
        writeln!(out, "removed the acceptance of {fp}")?;
        return Ok(ExitStatus::Success);
    }
    let reason = args
        .reason
        .as_deref()
        .context("--reason is required: say why the finding is accepted")?;
    if let Some(run) = &args.run {
        let id = store.resolve(run, None)?;
        let n = store.baseline(id, reason, args.expires.as_deref(), &by)?;
        writeln!(out, "accepted {n} finding(s) of run {id}")?;
    } else if let Some(fp) = &args.fingerprint {
        let s = store.suppress(fp, reason, args.expires.as_deref(), &by)?;
        writeln!(
            out,
            "accepted {} until {}",
            s.fingerprint,
            s.expires_at.as_deref().unwrap_or("never")
        )?;
    }
    Ok(ExitStatus::Success)
}
