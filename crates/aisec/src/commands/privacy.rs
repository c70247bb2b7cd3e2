//! `aisec attack privacy`: membership inference. The experiment trains a target on a random share
//! of a data set and measures how well each attack tells its training rows from the others (with
//! DP-SGD retrained targets as the defense); the audit does the same on the user's own model with
//! the rows they know were and were not in its training set.

use std::path::{Path, PathBuf};
use std::time::Instant;

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
use crate::cli::{DataArgs, PrivacyArgs, PrivacyAttackArg, PrivacyDefenseArg, SplitArg};
use crate::settings::GlobalSettings;

pub(crate) fn run(args: &PrivacyArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    anyhow::ensure!(args.threads != Some(0), "--threads must be at least 1");
    let pool = super::pool(args.threads)?;
    pool.install(|| privacy_command(args, global))
}

impl PrivacyAttackArg {
    /// The library's membership attack, when this is one (attribute inference and model inversion
    /// will join the list as attacks of their own).
    #[expect(
        clippy::unnecessary_wraps,
        reason = "the attack list grows with attacks that are not membership inference"
    )]
    fn membership(self) -> Option<MembershipAttack> {
        Some(match self {
            Self::Loss => MembershipAttack::Loss,
            Self::Shadow => MembershipAttack::Shadow,
            Self::Lira => MembershipAttack::Lira,
            Self::LiraOffline => MembershipAttack::LiraOffline,
            Self::Rmia => MembershipAttack::Rmia,
            Self::RmiaOffline => MembershipAttack::RmiaOffline,
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
    anyhow::ensure!(!attacks.is_empty(), "no attack chosen (--attack)");
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

    let (run, subject, format, data_name, arch_name) = if let Some(spec) = &args.model {
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
        )
    } else {
        let spec = args
            .data
            .as_deref()
            .context("give --data (the experiment) or --model with --members and --non-members")?;
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
        )
    };

    let mut report = report_out::new_report();
    report.targets.push(Target {
        path: subject.clone(),
        member: None,
        format,
        size: 0,
        status: TargetStatus::Analysed,
    });
    report.findings.extend(findings(&run, &subject));
    report.metrics.insert(
        "privacy".into(),
        serde_json::json!({
            "data": data_name,
            "architecture": arch_name,
            "seed": args.seed,
            "train": plan.train,
            "membership": run,
        }),
    );
    report.tables.push(attacks_table(&run));
    report.tables.push(targets_table(&run));
    for (i, t) in run.targets.iter().enumerate() {
        let id = if i == 0 {
            "membership-roc".to_owned()
        } else {
            format!("membership-roc-{}", slug(&t.name))
        };
        report.charts.push(roc_chart(t, &id));
    }
    let mut artifacts = Artifacts::new(&args.report)?;
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
