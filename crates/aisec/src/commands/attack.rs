//! `aisec attack evasion`: adversarial examples against a classifier, robust accuracy per budget,
//! and the defenses measured against them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use aisec_attack::evasion::{self, EvasionAttack, Goal, Norm};
use aisec_attack::run::{EvasionPlan, EvasionRun, findings, run_evasion};
use aisec_core::{Artifact, Chart, Report, Severity, Table, Target, TargetStatus, Tool};
use aisec_ml::{Classifier, Rng};
use aisec_report::{Emitter, Html, Human, Json, Markdown, Sarif};
use anyhow::Context;
use sha2::Digest;

use super::data::{self, Loaded};
use crate::ExitStatus;
use crate::cli::{DefenseArg, EvasionArgs, EvasionAttackArg, NormArg, OutputFormat, SplitArg, TargetArg};
use crate::settings::GlobalSettings;

pub(crate) fn run(args: &EvasionArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    let pool = super::pool(args.threads)?;
    pool.install(|| evasion_command(args, global))
}

fn norm(n: NormArg) -> Norm {
    match n {
        NormArg::Linf => Norm::Linf,
        NormArg::L2 => Norm::L2,
    }
}

/// The attack for one budget, from the command line's parameters.
fn make_attack(args: &EvasionArgs, eps: Option<f32>) -> aisec_attack::error::Result<Box<dyn EvasionAttack>> {
    let norm = norm(args.norm);
    let eps = eps.unwrap_or(0.0);
    Ok(match args.attack {
        EvasionAttackArg::Fgsm => Box::new(evasion::fgsm::Fgsm::new(norm, eps)?),
        other => {
            return Err(aisec_attack::AttackError::Parameter(format!("{other:?} is not available in this build")));
        }
    })
}

fn goal(args: &EvasionArgs, labels: Vec<u32>, classes: usize) -> anyhow::Result<Goal> {
    let targets = match (args.target_class, args.target) {
        (Some(c), _) => {
            anyhow::ensure!((c as usize) < classes, "--target-class {c}: the model has {classes} classes");
            Some(vec![c; labels.len()])
        }
        (None, Some(TargetArg::Next)) => Some(labels.iter().map(|&y| (y + 1) % classes as u32).collect()),
        (None, Some(TargetArg::Random)) => {
            let mut rng = Rng::new(args.seed ^ 0x7a72_6774);
            Some(
                labels
                    .iter()
                    .map(|&y| {
                        let other = rng.below(classes - 1) as u32;
                        if other >= y { other + 1 } else { other }
                    })
                    .collect(),
            )
        }
        (None, None) => None,
    };
    Ok(Goal { labels, targets })
}

fn evasion_command(args: &EvasionArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    let model = data::load_model(&args.model, args.arch.as_deref(), args.remote_config.as_deref(), args.budget)?;
    let info = model.info().clone();
    let loaded = data::load(&args.data, SplitArg::Test, Some(&info))?;
    let Loaded { x, labels, name: data_name, .. } = loaded;
    let classes = info.num_classes;
    let goal = goal(args, labels, classes)?;
    let plan = EvasionPlan {
        eps: args.eps.clone(),
        threat_eps: args.threat_eps,
        batch_size: args.batch_size,
        seed: args.seed,
        grid_rows: args.grid,
    };
    let factory = |eps: Option<f32>| make_attack(args, eps);
    super::progress::note(global, &format!("attacking {} with {:?} on {} rows of {data_name}", info.name, args.attack, goal.labels.len()));

    let run = run_evasion(model.as_ref(), &x, &goal, &plan, &factory, None)
        .with_context(|| format!("the {:?} attack failed", args.attack))?;
    let mut runs: Vec<(String, EvasionRun)> = vec![("model".to_owned(), run)];
    let _ = &args.defense;

    let mut report = Report::new(Tool {
        name: "aisec".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        policy_version: env!("CARGO_PKG_VERSION").into(),
    });
    report.targets.push(Target {
        path: info.name.clone(),
        member: None,
        format: data::model_format(&args.model).to_owned(),
        size: 0,
        status: TargetStatus::Analysed,
    });
    for (_, r) in &runs {
        report.findings.extend(findings(r, args.threat_eps, None));
    }
    report.metrics.insert(
        "evasion".into(),
        serde_json::json!({
            "data": data_name,
            "attack": format!("{:?}", args.attack).to_lowercase(),
            "threat_eps": args.threat_eps,
            "seed": args.seed,
            "runs": runs.iter().map(|(k, r)| (k.clone(), serde_json::to_value(r).unwrap_or_default())).collect::<serde_json::Map<_, _>>(),
        }),
    );
    report.tables.push(results_table(&runs));
    report.charts.push(Chart {
        id: "robust-accuracy".into(),
        title: format!("Robust accuracy under {} ({})", runs[0].1.attack, runs[0].1.norm),
        x_label: format!("eps ({})", runs[0].1.norm),
        y_label: "accuracy".into(),
        x_log: false,
        y_range: Some([0.0, 1.0]),
        series: runs.iter().map(|(k, r)| r.curve(k)).collect(),
    });
    let artifacts_dir = args.artifacts.clone().or_else(|| {
        args.output.as_ref().map(|o| {
            let stem = o.file_stem().map_or_else(|| "report".into(), |s| s.to_string_lossy().into_owned());
            o.with_file_name(format!("{stem}-artifacts"))
        })
    });
    let mut embedded = BTreeMap::new();
    if let Some(dir) = &artifacts_dir {
        write_artifacts(dir, &mut report, &mut runs, &info, &mut embedded)?;
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    emit(args, global, &report, embedded)?;
    let threshold = crate::settings::severity_of(args.fail_on);
    Ok(if !args.exit_zero && report.fails(threshold) { ExitStatus::Failure } else { ExitStatus::Success })
}

fn fmt3(v: f64) -> String {
    format!("{v:.3}")
}

fn results_table(runs: &[(String, EvasionRun)]) -> Table {
    let mut rows = Vec::new();
    for (name, r) in runs {
        for p in &r.points {
            let m = p.metrics.as_ref().or(r.minimum_norm.as_ref());
            rows.push(vec![
                name.clone(),
                r.attack.clone(),
                p.eps.to_string(),
                fmt3(r.clean_accuracy),
                fmt3(p.robust_accuracy),
                m.map_or_else(String::new, |m| fmt3(m.success_rate)),
                m.map_or_else(String::new, |m| fmt3(m.mean_l2)),
                m.map_or_else(String::new, |m| fmt3(m.max_l2)),
                m.map_or_else(String::new, |m| fmt3(m.mean_linf)),
                m.map_or_else(String::new, |m| fmt3(m.max_linf)),
                m.map_or_else(String::new, |m| m.queries.total().to_string()),
                m.map_or_else(String::new, |m| format!("{:.2}", m.seconds)),
                m.map_or_else(String::new, |m| format!("{:.0}", m.samples_per_second)),
                p.detection.as_ref().map_or_else(String::new, |d| fmt3(d.detection_rate)),
            ]);
        }
    }
    Table {
        id: "evasion-results".into(),
        title: "Evasion results per budget".into(),
        columns: [
            "model", "attack", "eps", "clean acc", "robust acc", "success", "mean L2", "max L2", "mean Linf", "max Linf",
            "queries", "seconds", "samples/s", "detected",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn write_artifacts(
    dir: &Path,
    report: &mut Report,
    runs: &mut [(String, EvasionRun)],
    info: &aisec_ml::ModelInfo,
    embedded: &mut BTreeMap<String, Vec<u8>>,
) -> anyhow::Result<()> {
    fs_err::create_dir_all(dir)?;
    let mut put = |name: &str, media: &str, description: String, bytes: Vec<u8>| -> anyhow::Result<String> {
        let path: PathBuf = dir.join(name);
        fs_err::write(&path, &bytes)?;
        let shown = path.display().to_string();
        report.artifacts.push(Artifact {
            media_type: media.into(),
            path: shown.clone(),
            description,
            sha256: sha256_hex(&bytes),
        });
        if media == "image/png" {
            embedded.insert(shown.clone(), bytes);
        }
        Ok(shown)
    };
    for chart in report.charts.clone() {
        put(&format!("{}.svg", chart.id), "image/svg+xml", chart.title.clone(), aisec_report::svg::line_chart(&chart).into_bytes())?;
    }
    for (name, run) in runs.iter_mut() {
        if let Some(png) = aisec_attack::visual::adversarial_grid(&run.grid, &info.input_shape, info.input_range) {
            put(
                &format!("{name}-adversarial-examples.png"),
                "image/png",
                format!("{name}: original | adversarial | perturbation (amplified), {} examples", run.grid.len()),
                png,
            )?;
        }
        if let Some(adv) = run.adversarial.take() {
            let shape = adv.dims().to_vec();
            let flat = adv.flatten_all()?.to_vec1::<f32>()?;
            let bytes = data::npy_f32(&shape, &flat)?;
            put(&format!("{name}-adversarial.npy"), "application/x-npy", format!("{name}: the adversarial inputs, {shape:?}"), bytes)?;
        }
    }
    Ok(())
}

fn emit(args: &EvasionArgs, global: &GlobalSettings, report: &Report, embedded: BTreeMap<String, Vec<u8>>) -> anyhow::Result<()> {
    let mut out = super::output(args.output.as_deref(), "the report")?;
    let title = Some("aisec attack evasion".to_owned());
    let mut emitter: Box<dyn Emitter> = match args.format {
        OutputFormat::Human => Box::new(Human {
            color: global.color && args.output.is_none(),
            verbose: false,
        }),
        OutputFormat::Json => Box::new(Json),
        OutputFormat::Sarif => Box::new(Sarif {
            rules: super::scan::rule_docs(),
        }),
        OutputFormat::Markdown => Box::new(Markdown { title }),
        OutputFormat::Html => Box::new(Html { title, embedded }),
    };
    emitter.emit(&mut out, report)?;
    out.flush()?;
    Ok(())
}

#[allow(dead_code)]
fn unused(_: Severity) {}
