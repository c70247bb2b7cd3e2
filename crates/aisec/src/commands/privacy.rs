//! `aisec attack privacy`: membership inference. The experiment trains a target on a random share
//! of a data set and measures how well each attack tells its training rows from the others (with
//! DP-SGD retrained targets as the defense); the audit does the same on the user's own model with
//! the rows they know were and were not in its training set.

use std::path::{Path, PathBuf};
use std::time::Instant;

use aisec_attack::privacy::attribute::{
    self, AttackerSource, AttributeMethod, AttributePlan, AttributeRun, run_attribute,
};
use aisec_attack::privacy::inversion::{
    self, Cost, InversionPlan, InversionRun, Start, inversion_grid, run_inversion,
};
use aisec_attack::privacy::membership::{MembershipAttack, MembershipSettings};
use aisec_attack::privacy::run::{
    MembershipPlan, MembershipRun, Variant, audit_membership, findings, roc_chart, run_membership,
};
use aisec_core::{Table, Target, TargetStatus};
use aisec_ml::train::{DpSgd, TrainConfig};
use aisec_ml::{ArchLimits, Architecture, Network, Tensor};
use anyhow::Context;

use super::data;
use super::report_out::{self, Artifacts, fmt3};
use crate::ExitStatus;
use crate::cli::{
    AttackerRecordsArg, AttributeMethodArg, DataArgs, InversionCostArg, InversionStartArg,
    PrivacyArgs, PrivacyAttackArg, PrivacyDefenseArg, SplitArg,
};
use crate::settings::GlobalSettings;

pub(crate) fn run(args: &PrivacyArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    anyhow::ensure!(args.threads != Some(0), "--threads must be at least 1");
    let pool = super::pool(args.threads)?;
    pool.install(|| privacy_command(args, global))
}

impl PrivacyAttackArg {
    /// The library's membership attack, when this is one.
    fn membership(self) -> Option<MembershipAttack> {
        Some(match self {
            Self::Loss => MembershipAttack::Loss,
            Self::Shadow => MembershipAttack::Shadow,
            Self::Lira => MembershipAttack::Lira,
            Self::LiraOffline => MembershipAttack::LiraOffline,
            Self::Rmia => MembershipAttack::Rmia,
            Self::RmiaOffline => MembershipAttack::RmiaOffline,
            Self::Attribute | Self::Inversion => return None,
        })
    }
}

fn data_args(args: &PrivacyArgs, data: String) -> DataArgs {
    DataArgs {
        data,
        labels: args.labels.clone(),
        label_column: args.label_column.clone(),
        split: None,
        split_seed: args.split_seed,
        limit: None,
    }
}

/// Every row of the data set: both splits of a built-in set (standardised alike), all of a file.
fn population(args: &PrivacyArgs, spec: &str) -> anyhow::Result<data::Loaded> {
    let (train, test) = data::load_train_test(&data_args(args, spec.to_owned()))?;
    let mut all = train;
    if let Some(test) = test {
        all.x = Tensor::cat(&[&all.x, &test.x], 0)?;
        all.labels.extend(&test.labels);
    }
    if let Some(limit) = args.limit
        && limit < all.labels.len()
    {
        all.x = all.x.narrow(0, 0, limit)?;
        all.labels.truncate(limit);
    }
    all.name = format!("{spec} (all {} rows)", all.labels.len());
    Ok(all)
}

fn architecture(
    args: &PrivacyArgs,
    shape: &[usize],
    classes: usize,
) -> anyhow::Result<Architecture> {
    Ok(match &args.arch {
        Some(path) => Architecture::load(path, &ArchLimits::default())
            .with_context(|| format!("cannot load the architecture `{}`", path.display()))?,
        None => args.kind.kind().architecture(shape, classes)?,
    })
}

/// The DP-SGD variants of the recipe, one per epsilon.
fn variants(args: &PrivacyArgs, members: usize) -> anyhow::Result<Vec<Variant>> {
    if !args.defense.contains(&PrivacyDefenseArg::DpSgd) {
        return Ok(Vec::new());
    }
    anyhow::ensure!(
        args.model.is_none(),
        "--defense dp-sgd retrains the target: it applies to the experiment (--data), not to an audit of a given model"
    );
    anyhow::ensure!(
        !args.dp_epsilon.is_empty() && args.dp_epsilon.iter().all(|e| *e > 0.0 && e.is_finite()),
        "--dp-epsilon values must be positive"
    );
    anyhow::ensure!(
        args.dp_delta > 0.0 && args.dp_delta < 1.0,
        "--dp-delta must be in (0, 1)"
    );
    anyhow::ensure!(
        args.dp_clip > 0.0 && args.dp_clip.is_finite(),
        "--dp-clip must be positive"
    );
    args.dp_epsilon
        .iter()
        .map(|&epsilon| {
            Ok(Variant {
                name: format!("dp-sgd epsilon {epsilon}"),
                epsilon: Some(epsilon),
                train: dp_config(
                    &args.fit.config(args.seed),
                    members,
                    epsilon,
                    args.dp_delta,
                    args.dp_clip,
                )?,
            })
        })
        .collect()
}

/// The recipe `base` with DP-SGD at `epsilon` (for `delta`) on `rows` training rows: the noise
/// multiplier is the smallest that keeps the whole schedule (Poisson rate `batch / rows`,
/// `epochs * round(rows / batch)` steps) within the budget.
fn dp_config(
    base: &TrainConfig,
    rows: usize,
    epsilon: f64,
    delta: f64,
    clip: f64,
) -> anyhow::Result<TrainConfig> {
    let (rate, steps) = DpSgd::schedule(rows, base.batch_size, base.epochs);
    let noise = aisec_ml::privacy::noise_for_epsilon(epsilon, rate, steps, delta)
        .with_context(|| format!("no DP-SGD noise reaches epsilon {epsilon}"))?;
    let mut config = base.clone();
    config.dp = Some(DpSgd {
        clip_norm: clip,
        noise_multiplier: noise,
        delta,
    });
    Ok(config)
}

fn privacy_command(args: &PrivacyArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    anyhow::ensure!(
        args.target_fraction > 0.0 && args.target_fraction < 1.0,
        "--target-fraction must be strictly between 0 and 1"
    );
    let attacks: Vec<MembershipAttack> = {
        let mut seen = Vec::new();
        for a in args.attack.iter().filter_map(|a| a.membership()) {
            if !seen.contains(&a) {
                seen.push(a);
            }
        }
        seen
    };
    let attribute = args.attack.contains(&PrivacyAttackArg::Attribute);
    let inversion = args.attack.contains(&PrivacyAttackArg::Inversion);
    anyhow::ensure!(
        !attacks.is_empty() || attribute || inversion,
        "no attack chosen (--attack)"
    );
    let mut plan = MembershipPlan {
        attacks,
        references: args.references,
        target_fraction: args.target_fraction,
        train: args.fit.config(args.seed),
        variants: Vec::new(),
        variant_references: !args.dp_reuse_references,
        seed: args.seed,
        settings: MembershipSettings {
            rmia_offline_a: args.rmia_a,
            seed: args.seed,
            ..MembershipSettings::default()
        },
    };
    let mut note = |m: &str| super::progress::note(global, m);

    let (run, subject, format, data_name, arch_name, rows, audited) =
        if let Some(spec) = &args.model {
            let (Some(members), Some(non_members)) = (&args.members, &args.non_members) else {
                anyhow::bail!("an audit needs --members and --non-members");
            };
            let model = data::load_model(
                spec,
                args.arch.as_deref(),
                args.remote_config.as_deref(),
                None,
            )?;
            let load = |p: &Path, labels: Option<&PathBuf>| {
                let mut spec = data_args(args, p.display().to_string());
                spec.labels = labels.cloned();
                data::load(&spec, SplitArg::All, Some(model.info()))
                    .with_context(|| format!("cannot load `{}`", p.display()))
            };
            let members = load(members, args.member_labels.as_ref())?;
            let non_members = load(non_members, args.non_member_labels.as_ref())?;
            // The reference models copy the target's architecture: ours from its directory, else
            // --arch, else --kind.
            let arch = if data::model_format(spec) == "aisec-ml" && Path::new(spec).is_dir() {
                Network::load_dir(Path::new(spec))
                    .map(|n| n.arch().clone())
                    .ok()
            } else {
                None
            };
            let arch = match arch {
                Some(a) => a,
                None => architecture(args, &model.info().input_shape, model.info().num_classes)?,
            };
            let run = audit_membership(
                model.as_ref(),
                Some(&arch),
                (&members.x, &members.labels),
                (&non_members.x, &non_members.labels),
                &plan,
                &mut note,
            )
            .context("the membership audit failed")?;
            let data_name = format!("{} / {}", members.name, non_members.name);
            let x = Tensor::cat(&[&members.x, &non_members.x], 0)?;
            let labels: Vec<u32> = members
                .labels
                .iter()
                .chain(&non_members.labels)
                .copied()
                .collect();
            (
                run,
                spec.clone(),
                data::model_format(spec).to_owned(),
                data_name,
                arch.layers
                    .iter()
                    .map(aisec_ml::LayerSpec::kind_name)
                    .collect::<Vec<_>>()
                    .join(","),
                (x, labels, members.class_names.clone()),
                Some(model),
            )
        } else {
            let spec = args.data.as_deref().context(
                "give --data (the experiment) or --model with --members and --non-members",
            )?;
            let set = population(args, spec)?;
            let mut arch = architecture(args, &set.sample_shape, set.num_classes)?;
            arch.input_range = set.input_range;
            arch.class_names.clone_from(&set.class_names);
            anyhow::ensure!(
                arch.input_shape == set.sample_shape && arch.num_classes >= set.num_classes,
                "the architecture takes {:?} inputs and {} classes; the data has {:?} and {}",
                arch.input_shape,
                arch.num_classes,
                set.sample_shape,
                set.num_classes
            );
            let members = aisec_attack::privacy::run::member_split(
                set.labels.len(),
                args.target_fraction,
                args.seed,
            )
            .iter()
            .filter(|m| **m)
            .count();
            plan.variants = variants(args, members)?;
            let kind = match &args.arch {
                Some(p) => p.display().to_string(),
                None => format!("{:?}", args.kind).to_lowercase(),
            };
            let run = run_membership(&arch, &set.x, &set.labels, &plan, &mut note)
                .context("the membership inference run failed")?;
            (
                run,
                format!("{kind} trained on {}", set.name),
                "training pipeline".to_owned(),
                set.name.clone(),
                kind,
                (set.x, set.labels, set.class_names),
                None,
            )
        };
    let (x, labels, class_names) = rows;

    let mut report = report_out::new_report();
    report.targets.push(Target {
        path: subject.clone(),
        member: None,
        format,
        size: 0,
        status: TargetStatus::Analysed,
    });
    report.findings.extend(findings(&run, &subject));
    let mut artifacts = Artifacts::new(&args.report)?;
    if !plan.attacks.is_empty() {
        report.tables.push(attacks_table(&run));
    }
    report.tables.push(targets_table(&run));
    for (i, t) in run.targets.iter().enumerate() {
        if t.attacks.is_empty() {
            continue;
        }
        let id = if i == 0 {
            "membership-roc".to_owned()
        } else {
            format!("membership-roc-{}", slug(&t.name))
        };
        report.charts.push(roc_chart(t, &id));
    }
    // Per-row scores (which records are exposed) and the trained targets, for follow-up work.
    if artifacts.dir().is_some() && !plan.attacks.is_empty() {
        let scores = serde_json::json!({
            "is_member": run.is_member,
            "targets": run.targets.iter().map(|t| serde_json::json!({
                "name": t.name,
                "scores": t.attacks.iter().map(|a| (a.attack.name().to_owned(), serde_json::json!(a.scores)))
                    .collect::<serde_json::Map<String, serde_json::Value>>(),
            })).collect::<Vec<_>>(),
        });
        artifacts.put(
            &mut report,
            "membership-scores.json",
            "application/json",
            "Each attack's score of every row (higher: member), with the true membership".into(),
            serde_json::to_vec(&scores)?,
        )?;
    }
    for t in &run.targets {
        if let Some(net) = &t.model {
            artifacts.put_model(
                &mut report,
                &format!("model-{}", slug(&t.name)),
                net,
                format!("The {} model the attacks ran against", t.name),
            )?;
        }
    }

    let mut attribute_runs = Vec::new();
    let mut inversion_runs = Vec::new();
    if attribute || inversion {
        let pick = |member: bool| -> anyhow::Result<(Tensor, Vec<u32>)> {
            let idx: Vec<usize> = (0..labels.len())
                .filter(|&i| run.is_member[i] == member)
                .collect();
            let ys = idx.iter().map(|&i| labels[i]).collect();
            Ok((aisec_attack::evasion::select_rows(&x, &idx)?, ys))
        };
        let (mx, my) = pick(true)?;
        let (nx, ny) = pick(false)?;
        for (i, t) in run.targets.iter().enumerate() {
            let name = if i == 0 {
                subject.clone()
            } else {
                format!("{subject} ({})", t.name)
            };
            let local;
            let model: &dyn aisec_ml::Classifier = match (&t.model, &audited) {
                (Some(net), _) => {
                    local = aisec_ml::LocalModel::new(net.clone(), name.clone());
                    &local
                }
                (None, Some(m)) => m.as_ref(),
                (None, None) => continue,
            };
            if attribute {
                note(&format!("{}: attribute inference", t.name));
                let plan = attribute_plan(args);
                let mut progress = |m: &str| super::progress::note(global, m);
                let out = run_attribute(model, (&mx, &my), (&nx, &ny), &plan, &mut progress)
                    .context("attribute inference failed")?;
                report.findings.extend(attribute::findings(&out));
                attribute_runs.push((t.name.clone(), out));
            }
            if inversion {
                note(&format!("{}: model inversion", t.name));
                let mut plan = InversionPlan {
                    classes: args.invert_classes.clone(),
                    start: match args.invert_start {
                        InversionStartArg::Zeros => Start::Zeros,
                        InversionStartArg::Grey => Start::Grey,
                        InversionStartArg::Mean => Start::Mean,
                    },
                    ..InversionPlan::default()
                };
                plan.miface.max_iter = args.invert_steps;
                plan.miface.learning_rate = args.invert_lr;
                plan.miface.threshold = args.invert_threshold;
                plan.miface.cost = match args.invert_cost {
                    InversionCostArg::Confidence => Cost::Confidence,
                    InversionCostArg::LogConfidence => Cost::LogConfidence,
                };
                let mut progress = |m: &str| super::progress::note(global, m);
                let out = run_inversion(model, (&mx, &my), &plan, &mut progress)
                    .context("model inversion failed")?;
                report.findings.extend(inversion::findings(&out));
                if let Some(png) = inversion_grid(&out) {
                    artifacts.put(
                        &mut report,
                        &format!("inversion-{}.png", slug(&t.name)),
                        "image/png",
                        format!(
                            "Model inversion of {}: per class the reconstruction, the class's mean member row, and the mean it correlates best with",
                            t.name
                        ),
                        png,
                    )?;
                }
                inversion_runs.push((t.name.clone(), out));
            }
        }
        if !attribute_runs.is_empty() {
            report.tables.push(attribute_table(&attribute_runs));
        }
        if !inversion_runs.is_empty() {
            report
                .tables
                .push(inversion_table(&inversion_runs, class_names.as_deref()));
        }
    }
    report.metrics.insert(
        "privacy".into(),
        serde_json::json!({
            "data": data_name,
            "architecture": arch_name,
            "seed": args.seed,
            "train": plan.train,
            "membership": run,
            "attribute": attribute_runs.iter().map(|(t, r)| serde_json::json!({"target": t, "run": r})).collect::<Vec<_>>(),
            "inversion": inversion_runs.iter().map(|(t, r)| serde_json::json!({"target": t, "run": r})).collect::<Vec<_>>(),
        }),
    );
    artifacts.put_charts(&mut report)?;
    report.duration_ms = started.elapsed().as_millis() as u64;
    report_out::finish(
        &args.report,
        global,
        "aisec attack privacy",
        &report,
        artifacts,
    )
}

fn attribute_plan(args: &PrivacyArgs) -> AttributePlan {
    AttributePlan {
        columns: args.sensitive.clone(),
        bins: args.attribute_bins,
        attacker_source: match args.attacker_records {
            AttackerRecordsArg::Members => AttackerSource::Members,
            AttackerRecordsArg::NonMembers => AttackerSource::NonMembers,
        },
        attacker_fraction: args.attacker_fraction,
        known_label: !args.label_unknown,
        methods: {
            let mut m: Vec<AttributeMethod> = args
                .attribute_method
                .iter()
                .map(|a| match a {
                    AttributeMethodArg::Learned => AttributeMethod::Learned,
                    AttributeMethodArg::Fredrikson => AttributeMethod::Fredrikson,
                })
                .collect();
            m.dedup();
            m
        },
        seed: args.seed,
        ..AttributePlan::default()
    }
}

fn attribute_table(runs: &[(String, AttributeRun)]) -> Table {
    let rows = runs
        .iter()
        .flat_map(|(target, run)| {
            run.columns.iter().map(move |c| {
                let best = c.best();
                vec![
                    target.clone(),
                    c.name.clone(),
                    c.values.len().to_string(),
                    fmt3(c.baseline.members.accuracy),
                    best.map_or_else(|| "-".into(), |b| b.method.name().to_owned()),
                    best.map_or_else(|| "-".into(), |b| fmt3(b.scores.members.accuracy)),
                    best.map_or_else(|| "-".into(), |b| fmt3(b.scores.non_members.accuracy)),
                    best.map_or_else(|| "-".into(), |b| format!("{:+.3}", b.advantage_members)),
                    if best.is_some_and(|b| b.leaks) {
                        "yes".into()
                    } else {
                        "no".into()
                    },
                ]
            })
        })
        .collect();
    Table {
        id: "attribute-inference".into(),
        title: "Attribute inference: accuracy recovering each column, against a baseline attacker without the model's answers".into(),
        columns: [
            "target",
            "column",
            "values",
            "baseline (members)",
            "best attack",
            "members",
            "non-members",
            "gain over baseline",
            "leaks",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
    }
}

fn inversion_table(runs: &[(String, InversionRun)], names: Option<&[String]>) -> Table {
    let name = |c: u32| {
        names
            .and_then(|n| n.get(c as usize).cloned())
            .unwrap_or_else(|| c.to_string())
    };
    let rows = runs
        .iter()
        .flat_map(|(target, run)| {
            run.classes.iter().map(move |c| {
                vec![
                    target.clone(),
                    name(c.class),
                    name(c.predicted),
                    fmt3(c.confidence),
                    c.iterations.to_string(),
                    format!("{:?}", c.stop).to_lowercase(),
                    c.correlation_with_target_mean
                        .map_or_else(|| "-".into(), fmt3),
                    c.best_correlated_mean.map_or_else(|| "-".into(), name),
                    if c.recognisable { "yes" } else { "no" }.into(),
                ]
            })
        })
        .collect();
    Table {
        id: "model-inversion".into(),
        title: "Model inversion (MIFace): each class's reconstruction, how the model classifies it, and whether it resembles the class's real rows".into(),
        columns: [
            "target",
            "class",
            "classified as",
            "confidence",
            "steps",
            "stopped",
            "correlation with the class mean",
            "closest class mean",
            "recognisable",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
    }
}

fn slug(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn pct(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

fn attacks_table(run: &MembershipRun) -> Table {
    let rows = run
        .targets
        .iter()
        .flat_map(|t| {
            t.attacks.iter().map(|a| {
                vec![
                    t.name.clone(),
                    a.attack.name().to_owned(),
                    fmt3(a.auc),
                    pct(a.tpr_at_fpr_0_1pct),
                    pct(a.tpr_at_fpr_1pct),
                    fmt3(a.advantage),
                    a.queries.to_string(),
                    format!("{:.2}", a.seconds),
                ]
            })
        })
        .collect();
    Table {
        id: "membership-attacks".into(),
        title: format!(
            "Membership inference: {} members, {} non-members, {} reference models (guessing: TPR = FPR)",
            run.members, run.non_members, run.references
        ),
        columns: [
            "target",
            "attack",
            "AUC",
            "TPR @ 0.1% FPR",
            "TPR @ 1% FPR",
            "advantage",
            "queries",
            "seconds",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
    }
}

fn targets_table(run: &MembershipRun) -> Table {
    let rows = run
        .targets
        .iter()
        .map(|t| {
            let spent = t
                .training
                .as_ref()
                .and_then(|r| serde_json::to_value(r).ok())
                .and_then(|v| {
                    v.pointer("/privacy/epsilon")
                        .and_then(serde_json::Value::as_f64)
                });
            vec![
                t.name.clone(),
                spent.map_or_else(|| "-".to_owned(), |e| format!("{e:.2}")),
                fmt3(t.train_accuracy),
                fmt3(t.test_accuracy),
                format!("{:+.3}", t.generalisation_gap),
                format!("{:.1}", t.train_seconds),
                format!("{:.1}", t.reference_seconds),
            ]
        })
        .collect();
    Table {
        id: "membership-targets".into(),
        title: "Targets: accuracy on members (train) and non-members (test)".into(),
        columns: [
            "target",
            "epsilon spent",
            "train acc",
            "test acc",
            "gap",
            "train s",
            "reference models s",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
    }
}
