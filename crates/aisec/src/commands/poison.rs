//! `aisec attack poison`: poison a training set, train the victim with the user's architecture,
//! and report clean accuracy and attack success per poisoning rate against a clean twin, with
//! the defenses measured on every victim.

use std::time::Instant;

use aisec_attack::defense::activation_clustering::ActivationClustering;
use aisec_attack::defense::fine_pruning::FinePruning;
use aisec_attack::defense::spectral_signatures::SpectralSignatures;
use aisec_attack::poison::run::{PoisonPlan, PoisonRun, findings, run_poison};
use aisec_attack::poison::{PatchPattern, PatchPosition, PoisonAttack, Trigger};
use aisec_attack::visual::{GridRow, adversarial_grid};
use aisec_core::{Chart, Report, Series, Table, Target, TargetStatus};
use aisec_ml::{ArchLimits, Architecture};
use anyhow::Context;

use super::data;
use super::report_out::{self, Artifacts, fmt3};
use crate::ExitStatus;
use crate::cli::{PatchPatternArg, PoisonArgs, PoisonAttackArg, PoisonDefenseArg};
use crate::settings::GlobalSettings;

pub(crate) fn run(args: &PoisonArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    anyhow::ensure!(args.threads != Some(0), "--threads must be at least 1");
    let pool = super::pool(args.threads)?;
    pool.install(|| poison_command(args, global))
}

fn patch_position(text: &str) -> anyhow::Result<PatchPosition> {
    Ok(match text {
        "bottom-right" => PatchPosition::BottomRight,
        "bottom-left" => PatchPosition::BottomLeft,
        "top-right" => PatchPosition::TopRight,
        "top-left" => PatchPosition::TopLeft,
        "center" | "centre" => PatchPosition::Center,
        other => {
            let (row, col) = other.split_once(',').with_context(|| {
                format!(
                    "--patch-position `{other}`: give bottom-right, bottom-left, top-right, top-left, center or ROW,COL"
                )
            })?;
            PatchPosition::At {
                row: row.trim().parse().context("--patch-position row")?,
                col: col.trim().parse().context("--patch-position column")?,
            }
        }
    })
}

/// The attack the flags describe.
fn attack(args: &PoisonArgs) -> anyhow::Result<PoisonAttack> {
    let patch = || -> anyhow::Result<Trigger> {
        Ok(Trigger::Patch {
            size: args.patch_size,
            position: patch_position(&args.patch_position)?,
            pattern: match args.patch_pattern {
                PatchPatternArg::Checkerboard => PatchPattern::Checkerboard,
                PatchPatternArg::Solid => PatchPattern::Solid,
                PatchPatternArg::Random => PatchPattern::Random { seed: args.seed },
            },
        })
    };
    let target = args.target.unwrap_or(0);
    Ok(match args.attack {
        PoisonAttackArg::LabelFlip => PoisonAttack::LabelFlip {
            target: args.target,
            source: args.source,
        },
        PoisonAttackArg::Badnets => PoisonAttack::Backdoor {
            trigger: patch()?,
            target,
            source: args.source,
        },
        PoisonAttackArg::Blended => PoisonAttack::Backdoor {
            trigger: Trigger::Blend {
                alpha: args.blend_alpha,
                seed: args.seed,
            },
            target,
            source: args.source,
        },
        PoisonAttackArg::CleanLabel => {
            anyhow::ensure!(
                args.source.is_none(),
                "the clean-label attack poisons the target class only; --source does not apply"
            );
            PoisonAttack::CleanLabel {
                trigger: patch()?,
                target,
                eps: args.perturb_eps,
                steps: args.perturb_steps,
            }
        }
    })
}

fn poison_command(args: &PoisonArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    anyhow::ensure!(
        args.rate.iter().all(|r| (0.0..=1.0).contains(r)),
        "--rate values are shares of the training rows, between 0 and 1"
    );
    anyhow::ensure!(
        args.trusted_fraction > 0.0 && args.trusted_fraction <= 1.0,
        "--trusted-fraction must be in (0, 1]"
    );
    let (train_set, test_set) = data::load_train_test(&args.data)?;
    let test_set = test_set.context(
        "the poisoning run needs a test split to measure the victim: use a built-in set or --split",
    )?;
    let arch: Architecture = match &args.arch {
        Some(path) => {
            let mut arch = Architecture::load(path, &ArchLimits::default())
                .with_context(|| format!("cannot load the architecture `{}`", path.display()))?;
            // Trust the data's range over the file's default.
            arch.input_range = train_set.input_range;
            arch
        }
        None => {
            let mut arch = args
                .kind
                .kind()
                .architecture(&train_set.sample_shape, train_set.num_classes)?;
            arch.input_range = train_set.input_range;
            arch.class_names.clone_from(&train_set.class_names);
            arch
        }
    };
    anyhow::ensure!(
        arch.input_shape == train_set.sample_shape && arch.num_classes >= train_set.num_classes,
        "the architecture takes {:?} inputs and {} classes; the data has {:?} and {}",
        arch.input_shape,
        arch.num_classes,
        train_set.sample_shape,
        train_set.num_classes
    );
    let mut rates = args.rate.clone();
    rates.sort_by(f64::total_cmp);
    rates.dedup();
    let attack = attack(args)?;
    let plan = PoisonPlan {
        attack,
        rates,
        train: args.fit.config(args.seed),
        init_seed: args.seed,
        seed: args.seed,
        grid_rows: args.grid,
        fine_pruning: args
            .defense
            .contains(&PoisonDefenseArg::FinePrune)
            .then(|| args.fine_prune.config(args.seed)),
        trusted_fraction: args.trusted_fraction,
        activation_clustering: args.defense.contains(&PoisonDefenseArg::Ac).then(|| {
            ActivationClustering {
                seed: args.seed,
                ..ActivationClustering::default()
            }
        }),
        spectral_signatures: args
            .defense
            .contains(&PoisonDefenseArg::Ss)
            .then(SpectralSignatures::default),
    };
    let kind = match &args.arch {
        Some(p) => p.display().to_string(),
        None => format!("{:?}", args.kind).to_lowercase(),
    };
    let pipeline = format!("{kind} trained on {}", train_set.name);
    let mut note = |m: &str| super::progress::note(global, m);
    let run = run_poison(
        &arch,
        (&train_set.x, &train_set.labels),
        (&test_set.x, &test_set.labels),
        &plan,
        &mut note,
    )
    .with_context(|| format!("the {} run failed", plan.attack.name()))?;

    let mut report = report_out::new_report();
    report.targets.push(Target {
        path: pipeline.clone(),
        member: None,
        format: "training pipeline".into(),
        size: 0,
        status: TargetStatus::Analysed,
    });
    report.findings.extend(findings(&run, &pipeline));
    report.metrics.insert(
        "poison".into(),
        serde_json::json!({
            "data": train_set.name,
            "test_data": test_set.name,
            "architecture": kind,
            "seed": args.seed,
            "run": run,
        }),
    );
    report.tables.push(results_table(&run));
    if run.points.iter().any(|p| !p.defenses.is_empty()) {
        report.tables.push(defense_table(&run));
    }
    report.charts.push(chart(&run));

    let mut artifacts = Artifacts::new(&args.report)?;
    artifacts.put_charts(&mut report)?;
    write_artifacts(
        &mut artifacts,
        &mut report,
        &run,
        &arch,
        &train_set,
        &test_set,
    )?;
    report.duration_ms = started.elapsed().as_millis() as u64;
    report_out::finish(
        &args.report,
        global,
        "aisec attack poison",
        &report,
        artifacts,
    )
}

fn opt3(v: Option<f64>) -> String {
    v.map_or_else(String::new, fmt3)
}

fn results_table(run: &PoisonRun) -> Table {
    let mut rows = vec![vec![
        "clean twin".to_owned(),
        "0".to_owned(),
        "0".to_owned(),
        fmt3(run.twin.clean_accuracy),
        String::new(),
        opt3(run.twin.attack_success),
        String::new(),
    ]];
    for p in &run.points {
        rows.push(vec![
            "victim".to_owned(),
            p.rate.to_string(),
            p.poisoned_rows.to_string(),
            fmt3(p.victim.clean_accuracy),
            format!("{:+.3}", p.victim.clean_accuracy - run.twin.clean_accuracy),
            opt3(p.victim.attack_success),
            format!("{:.1}", p.train_seconds),
        ]);
    }
    Table {
        id: "poison-results".into(),
        title: format!(
            "{} per poisoning rate ({} training rows, {} test rows)",
            run.name, run.train_rows, run.test_rows
        ),
        columns: [
            "model",
            "rate",
            "poisoned rows",
            "clean acc",
            "vs twin",
            "attack success",
            "train s",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
    }
}

fn defense_table(run: &PoisonRun) -> Table {
    let mut rows = Vec::new();
    for p in &run.points {
        for d in &p.defenses {
            rows.push(vec![
                p.rate.to_string(),
                d.defense.clone(),
                d.flagged.map_or_else(String::new, |f| f.to_string()),
                opt3(d.precision),
                opt3(d.recall),
                fmt3(d.after.clean_accuracy),
                opt3(d.after.attack_success),
                format!("{:.1}", d.seconds),
            ]);
        }
    }
    Table {
        id: "poison-defenses".into(),
        title: "Defenses per poisoning rate".into(),
        columns: [
            "rate",
            "defense",
            "flagged",
            "precision",
            "recall",
            "clean acc after",
            "attack success after",
            "seconds",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
    }
}

fn chart(run: &PoisonRun) -> Chart {
    let curve =
        |name: &str, f: &dyn Fn(&aisec_attack::poison::run::RatePoint) -> Option<f64>| Series {
            name: name.to_owned(),
            points: run
                .points
                .iter()
                .filter_map(|p| f(p).map(|v| [p.rate, v]))
                .collect(),
        };
    let mut series = vec![curve("clean accuracy", &|p| Some(p.victim.clean_accuracy))];
    if run.twin.attack_success.is_some() {
        series.push(curve("attack success", &|p| p.victim.attack_success));
    }
    let defenses: Vec<String> = run
        .points
        .iter()
        .flat_map(|p| p.defenses.iter().map(|d| d.defense.clone()))
        .fold(Vec::new(), |mut acc, d| {
            if !acc.contains(&d) {
                acc.push(d);
            }
            acc
        });
    for d in defenses {
        series.push(curve(&format!("attack success after {d}"), &|p| {
            p.defenses
                .iter()
                .find(|x| x.defense == d)
                .and_then(|x| x.after.attack_success)
        }));
    }
    series.retain(|s| !s.points.is_empty());
    Chart {
        id: "poisoning".into(),
        title: format!(
            "{}: clean accuracy and attack success per poisoning rate",
            run.name
        ),
        x_label: "poisoning rate".into(),
        y_label: "share".into(),
        x_log: false,
        y_log: false,
        y_range: Some([0.0, 1.0]),
        categories: Vec::new(),
        series,
    }
}

fn labels_npy(labels: &[u32]) -> anyhow::Result<Vec<u8>> {
    let values: Vec<f32> = labels.iter().map(|&l| l as f32).collect();
    data::npy_f32(&[labels.len()], &values)
}

fn write_artifacts(
    artifacts: &mut Artifacts,
    report: &mut Report,
    run: &PoisonRun,
    arch: &Architecture,
    train_set: &data::Loaded,
    test_set: &data::Loaded,
) -> anyhow::Result<()> {
    if artifacts.dir().is_none() {
        return Ok(());
    }
    let shape = &arch.input_shape;
    let range = arch.input_range;
    if let Some(trigger) = run.attack.trigger() {
        let (mask, pattern) = trigger.mask_and_pattern(shape, range)?;
        let blank = vec![range[0]; mask.len()];
        let mut on_blank = blank.clone();
        trigger.apply_row(&mut on_blank, shape, range)?;
        if let Some(png) = adversarial_grid(
            &[GridRow {
                original: blank,
                adversarial: on_blank,
            }],
            shape,
            range,
        ) {
            artifacts.put(
                report,
                "trigger.png",
                "image/png",
                format!("the trigger ({}) on a blank input", trigger.describe()),
                png,
            )?;
        }
        let mut dims = vec![1];
        dims.extend(shape);
        artifacts.put(
            report,
            "trigger-mask.npy",
            "application/x-npy",
            "the trigger's mask (share of each value it replaces)".into(),
            data::npy_f32(&dims, &mask)?,
        )?;
        artifacts.put(
            report,
            "trigger-pattern.npy",
            "application/x-npy",
            "the trigger's pattern".into(),
            data::npy_f32(&dims, &pattern)?,
        )?;
        if let Some(png) = adversarial_grid(&run.grid, shape, range) {
            artifacts.put(
                report,
                "poisoned-examples.png",
                "image/png",
                format!(
                    "original | poisoned | difference, {} poisoned training rows",
                    run.grid.len()
                ),
                png,
            )?;
        }
    }
    artifacts.put(
        report,
        "train_x.npy",
        "application/x-npy",
        "the clean training rows".into(),
        data::tensor_npy(&train_set.x)?,
    )?;
    artifacts.put(
        report,
        "train_y.npy",
        "application/x-npy",
        "the clean training labels".into(),
        labels_npy(&train_set.labels)?,
    )?;
    artifacts.put(
        report,
        "test_x.npy",
        "application/x-npy",
        "the test rows".into(),
        data::tensor_npy(&test_set.x)?,
    )?;
    artifacts.put(
        report,
        "test_y.npy",
        "application/x-npy",
        "the test labels".into(),
        labels_npy(&test_set.labels)?,
    )?;
    if let Some(twin) = &run.twin_model {
        artifacts.put_model(
            report,
            "clean-twin-model",
            twin,
            "the clean twin (architecture.json + model.safetensors)".into(),
        )?;
    }
    for (point, (victim, set)) in run.points.iter().zip(&run.victims) {
        let tag = format!("rate-{}", point.rate);
        artifacts.put(
            report,
            &format!("poisoned_x-{tag}.npy"),
            "application/x-npy",
            format!("the training rows after poisoning at rate {}", point.rate),
            data::tensor_npy(&set.x)?,
        )?;
        artifacts.put(
            report,
            &format!("poisoned_y-{tag}.npy"),
            "application/x-npy",
            format!("the training labels after poisoning at rate {}", point.rate),
            labels_npy(&set.labels)?,
        )?;
        let idx: Vec<f32> = set.poisoned.iter().map(|&i| i as f32).collect();
        artifacts.put(
            report,
            &format!("poison_idx-{tag}.npy"),
            "application/x-npy",
            format!("the poisoned rows' indices at rate {}", point.rate),
            data::npy_f32(&[idx.len()], &idx)?,
        )?;
        artifacts.put_model(
            report,
            &format!("victim-model-{tag}"),
            victim,
            format!(
                "the victim trained on the set poisoned at rate {}",
                point.rate
            ),
        )?;
    }
    Ok(())
}

impl crate::cli::FinePruneArgs {
    /// Fine-pruning as these flags set it.
    pub(crate) fn config(&self, seed: u64) -> FinePruning {
        let mut config = FinePruning {
            max_accuracy_drop: self.prune_max_drop,
            ..FinePruning::default()
        };
        config.fine_tune.epochs = self.fine_tune_epochs;
        config.fine_tune.learning_rate = self.fine_tune_lr;
        config.fine_tune.seed = seed;
        config
    }
}
