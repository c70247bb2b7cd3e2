//! `aisec attack extract`: steal a model through its predictions (equation solving, Knockoff Nets,
//! Copycat) and report fidelity and copy accuracy per query budget, with output hardening's cost
//! and effect and PRADA's detection measured.

use std::path::Path;
use std::time::Instant;

use aisec_attack::extract::equation_solving::EquationSolving;
use aisec_attack::extract::hardening::OutputDefense;
use aisec_attack::extract::knockoff::{Knockoff, Labels, Reward, Strategy};
use aisec_attack::extract::prada::Prada;
use aisec_attack::extract::run::{
    AttackRun, ExtractPlan, ExtractRun, Method, PoolSource, findings, run_extract,
};
use aisec_attack::extract::{PoolKind, moments};
use aisec_core::{Chart, Series, Table, Target, TargetStatus};
use aisec_ml::{ArchLimits, Architecture, Tensor};
use anyhow::Context;

use super::data;
use super::report_out::{self, Artifacts, fmt3};
use crate::ExitStatus;
use crate::cli::{ExtractArgs, ExtractDefenseArg, ExtractMethodArg, RewardArg, StrategyArg};
use crate::settings::GlobalSettings;

pub(crate) fn run(args: &ExtractArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    anyhow::ensure!(args.threads != Some(0), "--threads must be at least 1");
    let pool = super::pool(args.threads)?;
    pool.install(|| extract_command(args, global))
}

/// Reshapes `x` `[n, ...]` to the model's input shape when the element counts agree.
fn fit_shape(x: &Tensor, shape: &[usize], what: &str) -> anyhow::Result<Tensor> {
    let n = x.dim(0)?;
    let mut want = vec![n];
    want.extend(shape);
    if x.dims() == want.as_slice() {
        return Ok(x.clone());
    }
    anyhow::ensure!(
        x.elem_count() == want.iter().product::<usize>(),
        "{what} rows have shape {:?}, the model expects {shape:?}",
        &x.dims()[1..]
    );
    Ok(x.reshape(want.as_slice())?)
}

fn methods(args: &ExtractArgs) -> Vec<Method> {
    let mut out = Vec::new();
    for m in &args.method {
        match m {
            ExtractMethodArg::EquationSolving => out.push(Method::EquationSolving),
            ExtractMethodArg::Copycat => out.push(Method::Copycat),
            ExtractMethodArg::Knockoff => {
                for s in &args.strategy {
                    out.push(Method::Knockoff(match s {
                        StrategyArg::Random => Strategy::Random,
                        StrategyArg::Adaptive => Strategy::Adaptive,
                    }));
                }
            }
        }
    }
    out.dedup();
    out
}

fn extract_command(args: &ExtractArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    let victim = data::load_model(
        &args.model.path,
        args.model.arch.as_deref(),
        args.model.remote_config.as_deref(),
        None,
    )?;
    let info = victim.info().clone();
    let pool_file = !matches!(args.pool.as_str(), "data" | "noise" | "gaussian");
    let (train_set, test_set) = data::load_train_test(&args.data)?;
    // With the attacker's own pool file and `--split all`, every row of --data measures the copies.
    let whole = test_set.is_none() && pool_file;
    let (train_set, test_set) = match test_set {
        Some(test) => (train_set, test),
        None if whole => (train_set.clone(), train_set),
        None => anyhow::bail!(
            "extraction needs a test split to measure the copies: use a built-in set, --split test, or --split all with a --pool file"
        ),
    };
    let test_x = fit_shape(&test_set.x, &info.input_shape, "the data's")?;
    if let Some(bad) = test_set
        .labels
        .iter()
        .find(|&&y| y as usize >= info.num_classes)
    {
        anyhow::bail!(
            "label {bad} is outside the model's {} classes",
            info.num_classes
        );
    }
    let train_x = fit_shape(&train_set.x, &info.input_shape, "the data's")?;

    let (pool_kind, pool_rows, pool_name) = match args.pool.as_str() {
        "data" => (PoolKind::Data, train_x.clone(), train_set.name.clone()),
        "noise" => (PoolKind::Noise, train_x.clone(), train_set.name.clone()),
        "gaussian" => (PoolKind::Gaussian, train_x.clone(), train_set.name.clone()),
        file => {
            let path = Path::new(file);
            anyhow::ensure!(
                path.exists(),
                "--pool `{file}` is neither data, noise, gaussian nor an existing data file"
            );
            let rows = data::read_inputs(path)
                .with_context(|| format!("cannot read the pool `{file}`"))?;
            (
                PoolKind::Data,
                fit_shape(&rows, &info.input_shape, "the pool's")?,
                file.to_owned(),
            )
        }
    };

    let mut surrogate: Architecture = match &args.surrogate_arch {
        Some(path) => Architecture::load(path, &ArchLimits::default())
            .with_context(|| format!("cannot load the architecture `{}`", path.display()))?,
        None => args
            .surrogate
            .kind()
            .architecture(&info.input_shape, info.num_classes)?,
    };
    surrogate.input_range = info.input_range;
    anyhow::ensure!(
        surrogate.input_shape == info.input_shape && surrogate.num_classes == info.num_classes,
        "the surrogate takes {:?} inputs and {} classes; the model {:?} and {}",
        surrogate.input_shape,
        surrogate.num_classes,
        info.input_shape,
        info.num_classes
    );
    let mut budgets = args.budget.clone();
    budgets.sort_unstable();
    budgets.dedup();
    anyhow::ensure!(
        !budgets.is_empty() && budgets[0] > 0,
        "--budget values must be positive"
    );

    // Equation solving queries around the attacker's data when it has some.
    let mut equation_solving = EquationSolving {
        check_points: args.check_points,
        seed: args.seed,
        ..EquationSolving::default()
    };
    if pool_kind == PoolKind::Data {
        let [lo, hi] = info.input_range.map(f64::from);
        let (mean, std) = moments(&pool_rows, info.sample_len())?;
        equation_solving.spread = Some(
            std.iter()
                .map(|s| (2.0 * s).max(0.05 * (hi - lo)))
                .collect(),
        );
        equation_solving.center = Some(mean);
    }
    let mut defenses = Vec::new();
    for d in &args.defense {
        match d {
            ExtractDefenseArg::Top1 => defenses.push(OutputDefense::Top1),
            ExtractDefenseArg::Round => defenses.push(OutputDefense::Round {
                decimals: args.round_decimals,
            }),
            ExtractDefenseArg::ReverseSigmoid => defenses.push(OutputDefense::ReverseSigmoid {
                beta: args.rs_beta,
                gamma: args.rs_gamma,
            }),
            ExtractDefenseArg::Prada => {}
        }
    }
    defenses.dedup();
    let plan = ExtractPlan {
        methods: methods(args),
        knockoff: Knockoff {
            strategy: Strategy::Random,
            labels: Labels::Soft,
            budgets,
            surrogate: surrogate.clone(),
            train: args.fit.config(args.seed),
            batch: args.query_batch,
            reward: match args.reward {
                RewardArg::Certainty => Reward::Certainty,
                RewardArg::Diversity => Reward::Diversity,
                RewardArg::Loss => Reward::Loss,
                RewardArg::All => Reward::All,
            },
            bandit_lr: args.bandit_lr,
            arms: args.arms.unwrap_or(0),
            seed: args.seed,
        },
        equation_solving,
        defenses,
        prada: args
            .defense
            .contains(&ExtractDefenseArg::Prada)
            .then_some(Prada {
                delta: args.prada_delta,
                min_distances: args.prada_min,
            }),
    };
    let mut note = |m: &str| super::progress::note(global, m);
    let run = run_extract(
        victim.as_ref(),
        PoolSource {
            kind: pool_kind,
            rows: &pool_rows,
            name: &pool_name,
        },
        (&test_x, &test_set.labels),
        &plan,
        &mut note,
    )
    .context("the extraction run failed")?;

    let mut report = report_out::new_report();
    report.targets.push(Target {
        path: args.model.path.clone(),
        member: None,
        format: data::model_format(&args.model.path).into(),
        size: 0,
        status: TargetStatus::Analysed,
    });
    report.findings.extend(findings(&run, &args.model.path));
    report.metrics.insert(
        "extract".into(),
        serde_json::json!({
            "data": test_set.name,
            "seed": args.seed,
            "run": run,
        }),
    );
    report.tables.push(results_table(&run));
    if !run.hardening.is_empty() {
        report.tables.push(hardening_table(&run));
    }
    if run.prada.is_some() {
        report.tables.push(prada_table(&run));
    }
    report.charts.extend(charts(&run));
    let mut artifacts = Artifacts::new(&args.report)?;
    artifacts.put_charts(&mut report)?;
    for (label, net) in &run.copies {
        let name = format!("copy-{}", label.replace(' ', "-"));
        artifacts.put_model(
            &mut report,
            &name,
            net,
            format!("the stolen copy from {label} (architecture.json + model.safetensors)"),
        )?;
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    report_out::finish(
        &args.report,
        global,
        "aisec attack extract",
        &report,
        artifacts,
    )
}

fn opt3(v: Option<f64>) -> String {
    v.map_or_else(String::new, fmt3)
}

fn results_table(run: &ExtractRun) -> Table {
    let mut rows = Vec::new();
    for a in &run.attacks {
        if let Some(es) = &a.equation_solving {
            rows.push(vec![
                a.name.clone(),
                a.defense.clone(),
                String::new(),
                es.outcome.queries.to_string(),
                opt3(es.fidelity),
                opt3(es.accuracy),
                format!("{:.2}", es.outcome.seconds),
                format!("{}: {}", es.outcome.status.name(), es.outcome.note),
            ]);
        }
        if let Some(k) = &a.knockoff {
            for p in &k.points {
                rows.push(vec![
                    a.name.clone(),
                    a.defense.clone(),
                    p.budget.to_string(),
                    p.queries.to_string(),
                    fmt3(p.fidelity),
                    fmt3(p.accuracy),
                    format!("{:.2}", p.query_seconds + p.train_seconds),
                    if p.queries < p.budget {
                        k.stopped.clone().unwrap_or_default()
                    } else {
                        String::new()
                    },
                ]);
            }
        }
    }
    Table {
        id: "extract-results".into(),
        title: format!(
            "Extraction of {} ({} test rows; the model's accuracy {:.3}; pool: {}; surrogate: {})",
            run.victim, run.test_rows, run.victim_accuracy, run.pool.source, run.surrogate
        ),
        columns: [
            "attack", "defense", "budget", "queries", "fidelity", "copy acc", "seconds", "note",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
    }
}

fn hardening_table(run: &ExtractRun) -> Table {
    let rows = run
        .hardening
        .iter()
        .map(|h| {
            vec![
                h.name.clone(),
                fmt3(h.accuracy),
                format!("{:+.3}", h.accuracy - run.victim_accuracy),
                fmt3(h.agreement),
            ]
        })
        .collect();
    Table {
        id: "extract-hardening".into(),
        title: format!(
            "What output hardening costs (the plain model's accuracy {:.3})",
            run.victim_accuracy
        ),
        columns: ["defense", "accuracy", "vs plain", "top-1 unchanged"]
            .map(str::to_owned)
            .to_vec(),
        rows,
    }
}

fn prada_table(run: &ExtractRun) -> Table {
    let mut rows = Vec::new();
    if let Some(p) = &run.prada {
        let b = &p.benign;
        rows.push(vec![
            "benign (test rows in order)".to_owned(),
            b.queries.to_string(),
            if b.detected { "yes" } else { "no" }.to_owned(),
            if b.detected {
                b.answered_before_alarm.to_string()
            } else {
                String::new()
            },
            format!("{}/{}", b.alarms, b.tested),
            opt3(b.min_w),
            String::new(),
        ]);
    }
    for a in &run.attacks {
        let Some(s) = &a.prada else { continue };
        rows.push(vec![
            a.label(),
            s.queries.to_string(),
            if s.detected { "yes" } else { "no" }.to_owned(),
            if s.detected {
                s.answered_before_alarm.to_string()
            } else {
                String::new()
            },
            format!("{}/{}", s.alarms, s.tested),
            opt3(s.min_w),
            opt3(AttackRun::fidelity_before_alarm(a).filter(|_| s.detected)),
        ]);
    }
    Table {
        id: "extract-prada".into(),
        title: run.prada.as_ref().map_or_else(String::new, |p| {
            format!(
                "PRADA (delta {}, tests after {} distances) on each query stream",
                p.config.delta, p.config.min_distances
            )
        }),
        columns: [
            "stream",
            "queries",
            "detected",
            "answered before alarm",
            "alarms/tested",
            "lowest W",
            "fidelity before alarm",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
    }
}

fn charts(run: &ExtractRun) -> Vec<Chart> {
    let curve = |a: &AttackRun,
                 f: &dyn Fn(&aisec_attack::extract::knockoff::BudgetPoint) -> f64| {
        a.knockoff.as_ref().map_or_else(Vec::new, |k| {
            k.points.iter().map(|p| [p.queries as f64, f(p)]).collect()
        })
    };
    let mut plain = Vec::new();
    let mut hardened = Vec::new();
    for a in &run.attacks {
        if let Some(es) = &a.equation_solving
            && a.defense == "none"
            && let Some(f) = es.fidelity
        {
            plain.push(Series {
                name: format!("fidelity: {}", a.name),
                points: vec![[es.outcome.queries as f64, f]],
            });
            continue;
        }
        if a.knockoff.is_none() {
            continue;
        }
        if a.defense == "none" {
            plain.push(Series {
                name: format!("fidelity: {}", a.name),
                points: curve(a, &|p| p.fidelity),
            });
            plain.push(Series {
                name: format!("copy accuracy: {}", a.name),
                points: curve(a, &|p| p.accuracy),
            });
        } else {
            hardened.push(Series {
                name: format!("fidelity: {}", a.label()),
                points: curve(a, &|p| p.fidelity),
            });
        }
    }
    let mut out = vec![Chart {
        id: "extraction".into(),
        title: format!(
            "Fidelity and copy accuracy per query count (the model's accuracy {:.3})",
            run.victim_accuracy
        ),
        x_label: "queries".into(),
        y_label: "share of test rows".into(),
        x_log: true,
        y_log: false,
        y_range: Some([0.0, 1.0]),
        categories: Vec::new(),
        series: plain,
    }];
    if !hardened.is_empty() {
        out.push(Chart {
            id: "extraction-hardened".into(),
            title: "Fidelity against the hardened model per query count".into(),
            x_label: "queries".into(),
            y_label: "fidelity".into(),
            x_log: true,
            y_log: false,
            y_range: Some([0.0, 1.0]),
            categories: Vec::new(),
            series: hardened,
        });
    }
    out.retain(|c| c.series.iter().any(|s| !s.points.is_empty()));
    out
}
