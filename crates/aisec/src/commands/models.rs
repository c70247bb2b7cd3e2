//! `aisec models train`: train one of our classifiers on a data set and save it with its held-out
//! test split, so that `aisec attack` (and the benchmark's reference tools) attack the same rows.

use std::io::Write;
use std::time::Instant;

use aisec_attack::defense::adversarial_training::{AdversarialTraining, adversarial_training};
use aisec_attack::evasion::Norm;
use aisec_ml::train::{DpSgd, Optimizer, TrainConfig, accuracy, train as fit};
use aisec_ml::{Architecture, ModelKind, Network};
use anyhow::Context;

use super::data::{self, Split};
use crate::ExitStatus;
use crate::cli::{ModelKindArg, OptimizerArg, TrainArgs};
use crate::settings::GlobalSettings;

pub(crate) fn train(args: &TrainArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    anyhow::ensure!(args.threads != Some(0), "--threads must be at least 1");
    let pool = super::pool(args.threads)?;
    pool.install(|| train_command(args, global))
}

fn train_command(args: &TrainArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    let (train_set, test_set) = data::load_train_test(&args.data)?;
    let kind = args.kind.kind();
    let mut arch: Architecture =
        kind.architecture(&train_set.sample_shape, train_set.num_classes)?;
    arch.input_range = train_set.input_range;
    arch.class_names.clone_from(&train_set.class_names);
    let mut net = Network::init(arch, args.seed)?;
    let mut config = args.fit.config(args.seed);
    config.dp = args
        .dp
        .dp_sgd(train_set.labels.len(), config.batch_size, config.epochs)?;
    if let Some(dp) = &config.dp {
        super::progress::note(
            global,
            &format!(
                "DP-SGD: clipping at {}, noise multiplier {:.4}, delta {:e}",
                dp.clip_norm, dp.noise_multiplier, dp.delta
            ),
        );
    }
    super::progress::note(
        global,
        &format!(
            "training a {:?} on {} rows of {}",
            args.kind,
            train_set.labels.len(),
            train_set.name
        ),
    );
    let report = match args.adv_eps {
        None => fit(&mut net, &train_set.x, &train_set.labels, &config, None)?,
        Some(eps) => {
            let training = AdversarialTraining::madry(Norm::Linf, eps, args.seed);
            let (trained, report) =
                adversarial_training(&net, &train_set.x, &train_set.labels, &config, &training)?;
            net = trained;
            report
        }
    };
    let test_accuracy = match &test_set {
        Some(t) => Some(accuracy(&net, &t.x, &t.labels)?),
        None => None,
    };
    net.save_dir(&args.out)
        .with_context(|| format!("cannot save the model to `{}`", args.out.display()))?;
    // The same network as ONNX, for tools that read that (and for `--model DIR/model.onnx`).
    let onnx = args.out.join("model.onnx");
    net.to_onnx(&onnx)
        .with_context(|| format!("cannot write `{}`", onnx.display()))?;
    if let Some(t) = &test_set {
        data::write_split(&args.out, "test", t)?;
    }
    let summary = serde_json::json!({
        "kind": args.kind_name(),
        "data": train_set.name,
        "train_rows": train_set.labels.len(),
        "test_rows": test_set.as_ref().map(|t| t.labels.len()),
        "split": test_set.as_ref().map(|_| Split::describe(&args.data)),
        "adversarial_training_eps": args.adv_eps,
        "privacy": report.privacy,
        "config": config,
        "report": report,
        "test_accuracy": test_accuracy,
        "seconds": started.elapsed().as_secs_f64(),
    });
    fs_err::write(
        args.out.join("training.json"),
        serde_json::to_vec_pretty(&summary)?,
    )?;
    let mut out = std::io::stdout().lock();
    let privacy = report.privacy.map_or_else(String::new, |p| {
        let epsilon = if p.epsilon.is_finite() {
            format!("{:.4}", p.epsilon)
        } else {
            "infinite".to_owned()
        };
        format!(
            "; DP-SGD epsilon {epsilon} at delta {:e} (noise multiplier {:.4}, clipping {}, {} steps at rate {:.4})",
            p.delta, p.noise_multiplier, p.clip_norm, p.steps, p.sample_rate
        )
    });
    writeln!(
        out,
        "trained {} on {} rows of {} in {} epochs (best {}); test accuracy {}{privacy}; saved to {}",
        args.kind_name(),
        train_set.labels.len(),
        train_set.name,
        report.epochs_run,
        report.best_epoch,
        test_accuracy.map_or_else(|| "n/a".to_owned(), |a| format!("{a:.4}")),
        args.out.display()
    )?;
    Ok(ExitStatus::Success)
}

impl TrainArgs {
    fn kind_name(&self) -> &'static str {
        match self.kind {
            ModelKindArg::Logistic => "logistic",
            ModelKindArg::Mlp => "mlp",
            ModelKindArg::Cnn => "cnn",
        }
    }
}

impl crate::cli::FitArgs {
    /// The training configuration these flags give, with `seed`.
    pub(crate) fn config(&self, seed: u64) -> TrainConfig {
        TrainConfig {
            optimizer: match self.optimizer {
                OptimizerArg::Adam => Optimizer::adam(),
                OptimizerArg::Sgd => Optimizer::Sgd {
                    momentum: self.momentum,
                },
            },
            learning_rate: self.lr,
            weight_decay: self.weight_decay,
            epochs: self.epochs,
            batch_size: self.batch_size,
            seed,
            patience: (self.patience > 0).then_some(self.patience),
            validation_fraction: 0.1,
            dp: None,
        }
    }
}

/// How the DP-SGD noise is set.
enum Level {
    /// A noise multiplier.
    Noise(f64),
    /// A target epsilon to calibrate the noise for.
    Epsilon(f64),
}

impl crate::cli::DpArgs {
    /// The DP-SGD settings these flags give for `rows` training rows (`None` without
    /// `--dp-noise` or `--dp-epsilon`); `--dp-epsilon` is turned into the noise multiplier that
    /// spends it over `epochs` epochs of batches of `batch_size`.
    pub(crate) fn dp_sgd(
        &self,
        rows: usize,
        batch_size: usize,
        epochs: usize,
    ) -> anyhow::Result<Option<DpSgd>> {
        let level = match (self.noise, self.epsilon) {
            (Some(noise), _) => Level::Noise(noise),
            (None, Some(epsilon)) => Level::Epsilon(epsilon),
            (None, None) => {
                anyhow::ensure!(
                    self.clip.is_none() && self.delta.is_none(),
                    "--dp-clip and --dp-delta need --dp-noise or --dp-epsilon"
                );
                return Ok(None);
            }
        };
        let clip_norm = self.clip.unwrap_or(1.0);
        anyhow::ensure!(
            clip_norm > 0.0 && clip_norm.is_finite(),
            "--dp-clip must be positive, not {clip_norm}"
        );
        let delta = self.delta.unwrap_or(1e-5);
        anyhow::ensure!(rows > 0, "no training rows");
        let limit = 1.0 / rows as f64;
        anyhow::ensure!(
            delta > 0.0 && delta < limit,
            "--dp-delta {delta:e} must be positive and below 1 / {rows} training rows ({limit:.3e}): \
             a larger delta allows a mechanism that publishes some rows outright"
        );
        let (rate, steps) = DpSgd::schedule(rows, batch_size, epochs);
        let noise_multiplier = match level {
            Level::Noise(noise) => {
                anyhow::ensure!(
                    noise > 0.0 && noise.is_finite(),
                    "--dp-noise must be positive (no noise gives no privacy guarantee), not {noise}"
                );
                noise
            }
            Level::Epsilon(eps) => aisec_ml::privacy::noise_for_epsilon(eps, rate, steps, delta)
                .with_context(|| {
                    format!(
                        "cannot calibrate DP-SGD noise for epsilon {eps} over {steps} steps at \
                         sampling rate {rate:.4}"
                    )
                })?,
        };
        Ok(Some(DpSgd {
            clip_norm,
            noise_multiplier,
            delta,
        }))
    }
}

impl ModelKindArg {
    /// The engine's model kind.
    pub(crate) fn kind(self) -> ModelKind {
        match self {
            Self::Logistic => ModelKind::Logistic,
            Self::Mlp => ModelKind::Mlp,
            Self::Cnn => ModelKind::Cnn,
        }
    }
}
