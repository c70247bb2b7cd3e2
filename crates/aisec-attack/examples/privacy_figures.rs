//! Figures for attribute inference (breast-cancer) and MIFace (digits) on the built-in sets, split
//! and standardised the way `aisec` does (20% test, seed 0; tabular columns standardised with the
//! train split's statistics). A measurement, not a test:
//!
//! `cargo run --release -p aisec-attack --example privacy_figures -- DIGITS_CSV_GZ BREAST_CANCER_CSV [OUT_DIR]`
//!
//! with the files the resolver fetched (e.g. under `target/tmp/aisec-cache/trees/`).

use std::io::Write;
use std::path::Path;

use aisec_attack::privacy::attribute::{AttackerSource, AttributePlan, run_attribute};
use aisec_attack::privacy::inversion::{
    Cost, InversionPlan, MiFace, Start, inversion_grid, run_inversion,
};
use aisec_data::{BuiltIn, Dataset, Limits, Standardizer};
use aisec_ml::candle::Tensor;
use aisec_ml::train::{TrainConfig, accuracy, train};
use aisec_ml::{Classifier, Device, LocalModel, ModelKind, Network};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn tensor(d: &Dataset) -> Res<(Tensor, Vec<u32>)> {
    let mut shape = vec![d.len()];
    shape.extend(d.sample_shape());
    Ok((
        Tensor::from_slice(d.x(), shape.as_slice(), &Device::Cpu)?,
        d.y().to_vec(),
    ))
}

fn load(set: BuiltIn, path: &str) -> Res<(Dataset, Dataset)> {
    let full = set.load(Path::new(path), &Limits::default())?;
    let split = full.split(0.2, 0)?;
    let (mut tr, mut te) = (split.train, split.test);
    if tr.sample_shape().len() == 1 {
        let s = Standardizer::fit(&tr)?;
        s.apply(&mut tr)?;
        s.apply(&mut te)?;
    }
    Ok((tr, te))
}

fn fit(
    kind: ModelKind,
    train_set: &(Tensor, Vec<u32>),
    test_set: &(Tensor, Vec<u32>),
    shape: &[usize],
    k: usize,
    config: &TrainConfig,
    range: [f32; 2],
) -> Res<(LocalModel, f64, f64)> {
    let mut arch = kind.architecture(shape, k)?;
    arch.input_range = range;
    let mut net = Network::init(arch, 0)?;
    train(&mut net, &train_set.0, &train_set.1, config, None)?;
    let tr = accuracy(&net, &train_set.0, &train_set.1)?;
    let te = accuracy(&net, &test_set.0, &test_set.1)?;
    Ok((LocalModel::new(net, format!("{kind:?}")), tr, te))
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, digits, cancer, rest @ ..] = args.as_slice() else {
        return Err("usage: privacy_figures DIGITS_CSV_GZ BREAST_CANCER_CSV [OUT_DIR]".into());
    };
    let out_dir = rest.first();
    let mut out = std::io::stdout().lock();

    // Attribute inference on breast-cancer: an overfit MLP (no early stopping, no decay).
    let (tr, te) = load(BuiltIn::BreastCancer, cancer)?;
    let range = {
        let (lo, hi) = tr
            .x()
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        [lo, hi]
    };
    let (trs, tes) = (tensor(&tr)?, tensor(&te)?);
    let overfit = TrainConfig {
        epochs: 300,
        batch_size: 32,
        patience: None,
        validation_fraction: 0.0,
        ..TrainConfig::default()
    };
    let (model, acc_tr, acc_te) = fit(ModelKind::Mlp, &trs, &tes, &[30], 2, &overfit, range)?;
    writeln!(
        out,
        "breast-cancer MLP (300 epochs): train accuracy {acc_tr:.3}, test {acc_te:.3}"
    )?;
    for (source, known_label, bins) in [
        (AttackerSource::Members, true, 2),
        (AttackerSource::Members, false, 2),
        (AttackerSource::NonMembers, true, 2),
        (AttackerSource::Members, true, 4),
    ] {
        model.reset_queries();
        let plan = AttributePlan {
            attacker_source: source,
            known_label,
            bins,
            ..AttributePlan::default()
        };
        let run = run_attribute(
            &model,
            (&trs.0, &trs.1),
            (&tes.0, &tes.1),
            &plan,
            &mut |_| {},
        )?;
        writeln!(
            out,
            "\nattribute inference, {bins} bins, attacker records from {source:?} ({} rows), label known: {known_label}; {} member / {} non-member targets; {} queries, {:.1} s",
            run.attacker_rows, run.member_rows, run.non_member_rows, run.queries, run.seconds
        )?;
        writeln!(
            out,
            "col  base(m)  base(n)  learned(m) learned(n)  fred(m)  fred(n)  leaks"
        )?;
        let mut leaking = 0;
        let mut gains = Vec::new();
        for c in &run.columns {
            let m = |i: usize| c.methods.get(i).map(|m| m.scores);
            let (l, f) = (m(0).unwrap(), m(1).unwrap());
            let leaks: Vec<&str> = c
                .methods
                .iter()
                .filter(|m| m.leaks)
                .map(|m| m.method.name())
                .collect();
            if !leaks.is_empty() {
                leaking += 1;
            }
            gains.push(c.best().map_or(0.0, |b| b.advantage_members));
            writeln!(
                out,
                "{:>3}  {:.3}    {:.3}    {:.3}      {:.3}       {:.3}    {:.3}    {}",
                c.column,
                c.baseline.members.accuracy,
                c.baseline.non_members.accuracy,
                l.members.accuracy,
                l.non_members.accuracy,
                f.members.accuracy,
                f.non_members.accuracy,
                leaks.join(",")
            )?;
        }
        let mean_gain = gains.iter().sum::<f64>() / gains.len().max(1) as f64;
        writeln!(
            out,
            "columns leaking: {leaking} of {}; mean best gain on members {mean_gain:+.3}",
            run.columns.len()
        )?;
    }

    // MIFace on digits.
    let (tr, te) = load(BuiltIn::Digits, digits)?;
    let (trs, tes) = (tensor(&tr)?, tensor(&te)?);
    let config = TrainConfig::default();
    for kind in [ModelKind::Logistic, ModelKind::Mlp, ModelKind::Cnn] {
        let (model, acc_tr, acc_te) = fit(kind, &trs, &tes, &[1, 8, 8], 10, &config, [0.0, 1.0])?;
        for (start, cost, threshold, max_iter) in [
            (Start::Zeros, Cost::Confidence, 0.99, 10_000),
            (Start::Grey, Cost::Confidence, 0.99, 10_000),
            (Start::Mean, Cost::Confidence, 0.99, 10_000),
            (Start::Zeros, Cost::LogConfidence, 0.99, 10_000),
            (Start::Zeros, Cost::Confidence, 1.0, 2000),
            (Start::Zeros, Cost::LogConfidence, 1.0, 500),
        ] {
            model.reset_queries();
            let plan = InversionPlan {
                start,
                miface: MiFace {
                    cost,
                    threshold,
                    max_iter,
                    ..MiFace::default()
                },
                ..InversionPlan::default()
            };
            let run = run_inversion(&model, (&trs.0, &trs.1), &plan, &mut |_| {})?;
            let mean_conf =
                run.classes.iter().map(|c| c.confidence).sum::<f64>() / run.classes.len() as f64;
            let mean_corr = run
                .classes
                .iter()
                .map(|c| c.correlation_with_target_mean.unwrap_or(0.0))
                .sum::<f64>()
                / run.classes.len() as f64;
            let iters: Vec<usize> = run.classes.iter().map(|c| c.iterations).collect();
            let l2_hits = run
                .classes
                .iter()
                .filter(|c| c.nearest_mean == Some(c.class))
                .count();
            writeln!(
                out,
                "\ndigits {kind:?} (train {acc_tr:.3}, test {acc_te:.3}), MIFace start {start:?}, cost {cost:?}, threshold {threshold}, max {max_iter}: confident {}/10, recognisable (best-correlated mean) {}/10, L2-nearest mean is the target {l2_hits}/10, mean confidence {mean_conf:.3}, mean correlation with own mean {mean_corr:.3}, iterations {iters:?}, {} gradient rows, {:.1} s",
                run.confident, run.recognisable, run.queries.gradients, run.seconds
            )?;
            if let Some(dir) = out_dir
                && let Some(png) = inversion_grid(&run)
            {
                std::fs::write(
                    Path::new(dir).join(format!(
                        "miface-{kind:?}-{start:?}-{cost:?}-{threshold}.png"
                    )),
                    png,
                )?;
            }
        }
    }
    Ok(())
}
