//! `aisec attack evasion`: adversarial examples against a classifier, robust accuracy per budget,
//! and the defenses measured against them.

use std::time::Instant;

use aisec_attack::defense::adversarial_training::{AdversarialTraining, adversarial_training};
use aisec_attack::defense::feature_squeezing::FeatureSqueezing;
use aisec_attack::evasion::{self, EvasionAttack, Goal, Norm};
use aisec_attack::run::{EvasionPlan, EvasionRun, findings, hardened_finding, run_evasion};
use aisec_core::{Chart, Report, Table, Target, TargetStatus};
use aisec_ml::{Classifier, Rng};
use anyhow::Context;

use std::path::Path;

use super::data::{self, Loaded};
use super::report_out::{self, Artifacts, fmt3};
use crate::ExitStatus;
use crate::cli::{DefenseArg, EvasionArgs, EvasionAttackArg, NormArg, SplitArg, TargetArg};
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
fn make_attack(
    args: &EvasionArgs,
    classes: usize,
    eps: Option<f32>,
) -> aisec_attack::error::Result<Box<dyn EvasionAttack>> {
    let norm = norm(args.norm);
    let eps = eps.unwrap_or(0.0);
    let attack: Box<dyn EvasionAttack> = match args.attack {
        EvasionAttackArg::Fgsm => Box::new(evasion::fgsm::Fgsm::new(norm, eps)?),
        EvasionAttackArg::Pgd => {
            let steps = args.steps.unwrap_or(40);
            let pgd = evasion::pgd::Pgd {
                norm,
                eps,
                eps_step: args.step_size.unwrap_or(2.5 * eps / steps.max(1) as f32),
                max_iter: steps,
                num_random_init: if args.no_random_start {
                    0
                } else {
                    args.restarts
                },
                early_stop: false,
            };
            pgd.validate()?;
            Box::new(pgd)
        }
        EvasionAttackArg::Apgd => {
            let mut apgd = evasion::apgd::Apgd::new(norm, eps)?;
            apgd.max_iter = args.steps.unwrap_or(100);
            apgd.restarts = args.restarts.max(1);
            apgd.validate()?;
            Box::new(apgd)
        }
        EvasionAttackArg::Cw => {
            let cw = evasion::cw::CarliniL2 {
                confidence: args.confidence,
                learning_rate: f64::from(args.learning_rate),
                binary_search_steps: args.binary_search_steps,
                max_iter: args.steps.unwrap_or(100),
                initial_const: f64::from(args.initial_const),
                abort_early: true,
            };
            cw.validate()?;
            Box::new(cw)
        }
        EvasionAttackArg::Deepfool => {
            let df = evasion::deepfool::DeepFool {
                norm,
                max_iter: args.steps.unwrap_or(100),
                overshoot: args.overshoot,
                nb_grads: classes,
            };
            df.validate()?;
            Box::new(df)
        }
        EvasionAttackArg::Square => {
            let mut sq = evasion::square::Square::new(norm, eps.max(f32::MIN_POSITIVE))?;
            sq.max_iter = args.steps.unwrap_or(1000);
            sq.p_init = args.p_init;
            sq.restarts = args.restarts.max(1);
            Box::new(sq)
        }
        EvasionAttackArg::Hopskipjump => {
            let mut hsj = evasion::hopskipjump::HopSkipJump::new(norm);
            hsj.max_iter = args.steps.unwrap_or(50);
            hsj.max_eval = args.max_eval;
            hsj.init_eval = args.init_eval;
            Box::new(hsj)
        }
    };
    Ok(attack)
}

fn goal(args: &EvasionArgs, labels: Vec<u32>, classes: usize) -> anyhow::Result<Goal> {
    let targets = match (args.target_class, args.target) {
        (Some(c), _) => {
            anyhow::ensure!(
                (c as usize) < classes,
                "--target-class {c}: the model has {classes} classes"
            );
            Some(vec![c; labels.len()])
        }
        (None, Some(TargetArg::Next)) => {
            Some(labels.iter().map(|&y| (y + 1) % classes as u32).collect())
        }
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
    let model = data::load_model(
        &args.model.path,
        args.model.arch.as_deref(),
        args.model.remote_config.as_deref(),
        args.budget,
    )?;
    let info = model.info().clone();
    let loaded = data::load(&args.data, SplitArg::Test, Some(&info))?;
    let Loaded {
        x,
        labels,
        name: data_name,
        ..
    } = loaded;
    let classes = info.num_classes;
    let goal = goal(args, labels, classes)?;
    let plan = EvasionPlan {
        eps: args.eps.clone(),
        threat_eps: args.threat_eps,
        batch_size: args.batch_size,
        seed: args.seed,
        grid_rows: args.grid,
    };
    let factory = |eps: Option<f32>| make_attack(args, classes, eps);
    super::progress::note(
        global,
        &format!(
            "attacking {} with {:?} on {} rows of {data_name}",
            info.name,
            args.attack,
            goal.labels.len()
        ),
    );

    let squeeze = args.defense.contains(&DefenseArg::Squeeze);
    let detector_for = |m: &dyn Classifier| -> anyhow::Result<Option<FeatureSqueezing>> {
        if !squeeze {
            return Ok(None);
        }
        let mut fs = FeatureSqueezing::for_input(&info.input_shape);
        fs.calibrate(m, &x, args.detector_fpr)?;
        Ok(Some(fs))
    };
    let attack_one = |m: &dyn Classifier| -> anyhow::Result<EvasionRun> {
        let fs = detector_for(m)?;
        let detect = |batch: &aisec_ml::Tensor| -> aisec_attack::error::Result<Vec<bool>> {
            Ok(fs.as_ref().expect("calibrated").detect(m, batch)?.flagged)
        };
        let detector: Option<&aisec_attack::run::Detector<'_>> =
            if fs.is_some() { Some(&detect) } else { None };
        run_evasion(m, &x, &goal, &plan, &factory, detector)
            .with_context(|| format!("the {:?} attack failed", args.attack))
    };
    let mut runs: Vec<(String, EvasionRun)> =
        vec![("model".to_owned(), attack_one(model.as_ref())?)];
    let mut hardened = None;
    if args.defense.contains(&DefenseArg::AdvTrain) {
        let (net, training) = adversarially_train(args, global, &info)?;
        let copy =
            aisec_ml::LocalModel::new(net, format!("{} (adversarially trained copy)", info.name));
        runs.push(("adv-trained".to_owned(), attack_one(&copy)?));
        hardened = Some((copy, training));
    }

    let mut report = report_out::new_report();
    report.targets.push(Target {
        path: info.name.clone(),
        member: None,
        format: data::model_format(&args.model.path).to_owned(),
        size: 0,
        status: TargetStatus::Analysed,
    });
    let fpr = squeeze.then_some(args.detector_fpr);
    report
        .findings
        .extend(findings(&runs[0].1, args.threat_eps, fpr));
    if let Some((_, training)) = &hardened {
        report.findings.push(hardened_finding(
            &runs[0].1,
            &runs[1].1,
            args.threat_eps,
            training,
        ));
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
        title: format!(
            "Robust accuracy under {} ({})",
            runs[0].1.attack, runs[0].1.norm
        ),
        x_label: format!("eps ({})", runs[0].1.norm),
        y_label: "accuracy".into(),
        x_log: false,
        y_log: false,
        y_range: Some([0.0, 1.0]),
        categories: Vec::new(),
        series: runs.iter().map(|(k, r)| r.curve(k)).collect(),
    });
    let mut artifacts = Artifacts::new(&args.report)?;
    artifacts.put_charts(&mut report)?;
    write_artifacts(&mut artifacts, &mut report, &mut runs, &info)?;
    if let Some((copy, _)) = &hardened {
        artifacts.put_model(
            &mut report,
            "adv-trained-model",
            copy.network(),
            "the adversarially trained copy (architecture.json + model.safetensors)".into(),
        )?;
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    report_out::finish(
        &args.report,
        global,
        "aisec attack evasion",
        &report,
        artifacts,
    )
}

/// PGD adversarial training of a fresh copy of the model's architecture (Madry et al.: a random
/// start, 10 steps of 2.5 * eps / 10), on the train split of the data (or `--train-data`).
fn adversarially_train(
    args: &EvasionArgs,
    global: &GlobalSettings,
    info: &aisec_ml::ModelInfo,
) -> anyhow::Result<(aisec_ml::Network, aisec_ml::TrainReport)> {
    anyhow::ensure!(
        data::model_format(&args.model.path) == "aisec-ml",
        "--defense adv-train retrains the model's architecture: it needs a model directory (architecture.json + model.safetensors)"
    );
    let original = match &args.model.arch {
        Some(a) => aisec_ml::Network::load(a, Path::new(&args.model.path))?,
        None => aisec_ml::Network::load_dir(Path::new(&args.model.path))?,
    };
    let mut train_args = args.data.clone();
    if let Some(d) = &args.train_data {
        d.clone_into(&mut train_args.data);
        train_args.split = None;
    }
    train_args.limit = None;
    let (train_set, _) = data::load_train_test(&train_args)?;
    let eps = args
        .adv_eps
        .or(args.threat_eps)
        .or_else(|| args.eps.iter().copied().reduce(f32::max))
        .unwrap_or(0.1);
    super::progress::note(
        global,
        &format!(
            "adversarial training at eps {eps} on {} rows",
            train_set.labels.len()
        ),
    );
    let fresh = aisec_ml::Network::init(original.arch().clone(), args.seed)?;
    let mut x_train = train_set.x;
    if train_set.sample_shape != info.input_shape {
        let mut shape = vec![train_set.labels.len()];
        shape.extend(&info.input_shape);
        x_train = x_train.reshape(shape.as_slice())?;
    }
    let training = AdversarialTraining::madry(norm(args.norm), eps, args.seed);
    let config = aisec_ml::TrainConfig {
        epochs: args.adv_epochs,
        seed: args.seed,
        ..aisec_ml::TrainConfig::default()
    };
    Ok(adversarial_training(
        &fresh,
        &x_train,
        &train_set.labels,
        &config,
        &training,
    )?)
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
                p.detection
                    .as_ref()
                    .map_or_else(String::new, |d| fmt3(d.detection_rate)),
            ]);
        }
    }
    Table {
        id: "evasion-results".into(),
        title: "Evasion results per budget".into(),
        columns: [
            "model",
            "attack",
            "eps",
            "clean acc",
            "robust acc",
            "success",
            "mean L2",
            "max L2",
            "mean Linf",
            "max Linf",
            "queries",
            "seconds",
            "samples/s",
            "detected",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
    }
}

fn write_artifacts(
    artifacts: &mut Artifacts,
    report: &mut Report,
    runs: &mut [(String, EvasionRun)],
    info: &aisec_ml::ModelInfo,
) -> anyhow::Result<()> {
    for (name, run) in runs.iter_mut() {
        if let Some(png) =
            aisec_attack::visual::adversarial_grid(&run.grid, &info.input_shape, info.input_range)
        {
            artifacts.put(
                report,
                &format!("{name}-adversarial-examples.png"),
                "image/png",
                format!(
                    "{name}: original | adversarial | perturbation (amplified), {} examples",
                    run.grid.len()
                ),
                png,
            )?;
        }
        if let Some(adv) = run.adversarial.take() {
            let shape = adv.dims().to_vec();
            let bytes = data::tensor_npy(&adv)?;
            artifacts.put(
                report,
                &format!("{name}-adversarial.npy"),
                "application/x-npy",
                format!("{name}: the adversarial inputs, {shape:?}"),
                bytes,
            )?;
        }
    }
    Ok(())
}
