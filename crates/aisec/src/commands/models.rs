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

/// Largest `--system-prompt` and `--tools` file read.
const MAX_SERVE_FILE_BYTES: u64 = 1 << 20;

/// Reads a small text file, refusing one over [`MAX_SERVE_FILE_BYTES`].
fn read_small(path: &std::path::Path, what: &str) -> anyhow::Result<String> {
    let len = fs_err::metadata(path)
        .with_context(|| format!("cannot read the {what} `{}`", path.display()))?
        .len();
    anyhow::ensure!(
        len <= MAX_SERVE_FILE_BYTES,
        "the {what} `{}` has {len} bytes, more than the {MAX_SERVE_FILE_BYTES}-byte limit",
        path.display()
    );
    fs_err::read_to_string(path)
        .with_context(|| format!("cannot read the {what} `{}`", path.display()))
}

/// The GGUF file and the name to answer under: a catalog entry fetched through the pinned
/// resolver, or a file.
fn resolve_chat_model(spec: &str) -> anyhow::Result<(std::path::PathBuf, String)> {
    if aisec_resolve::catalog::find(spec).is_some() {
        let resolver = aisec_resolve::Resolver::from_env()?;
        let path = resolver
            .fetch(spec)
            .with_context(|| format!("cannot fetch the `{spec}` model"))?;
        anyhow::ensure!(
            path.is_file(),
            "`{spec}` is not a single-file (GGUF) chat model"
        );
        return Ok((path, spec.to_owned()));
    }
    let path = std::path::PathBuf::from(spec);
    anyhow::ensure!(
        path.is_file(),
        "`{spec}` is neither a catalog model (smollm2-135m-instruct) nor a GGUF file"
    );
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("local-model")
        .to_owned();
    Ok((path, name))
}

/// The sentence-embedding model `--embeddings` names: a catalog folder fetched through the
/// pinned resolver, or a folder.
fn open_embedder(spec: &str) -> anyhow::Result<aisec_llm::local::MiniLm> {
    if aisec_resolve::catalog::find(spec).is_some() {
        let resolver = aisec_resolve::Resolver::from_env()?;
        let dir = resolver
            .fetch(spec)
            .with_context(|| format!("cannot fetch the `{spec}` embedding model"))?;
        anyhow::ensure!(dir.is_dir(), "`{spec}` is not an embedding-model folder");
        return aisec_llm::local::MiniLm::open_named(&dir, spec)
            .with_context(|| format!("cannot load `{}`", dir.display()));
    }
    let dir = std::path::Path::new(spec);
    anyhow::ensure!(
        dir.is_dir(),
        "`{spec}` is neither a catalog embedding model (all-minilm-l6-v2) nor a folder"
    );
    aisec_llm::local::MiniLm::open(dir).with_context(|| format!("cannot load `{spec}`"))
}

/// `aisec models serve`: loads the model, binds, prints `listening on http://ADDR`, and serves
/// until the process is stopped.
pub(crate) fn serve(
    args: &crate::cli::ServeArgs,
    global: &GlobalSettings,
) -> anyhow::Result<ExitStatus> {
    use std::sync::Arc;

    anyhow::ensure!(args.threads >= 1, "--threads must be at least 1");
    anyhow::ensure!(args.max_tokens >= 1, "--max-tokens must be at least 1");
    let ip: std::net::IpAddr = args
        .host
        .parse()
        .with_context(|| format!("--host {:?} is not an IP address", args.host))?;
    anyhow::ensure!(
        ip.is_loopback() || args.allow_remote,
        "--host {ip} is not a loopback address: the API has no TLS; pass --allow-remote to serve beyond this machine"
    );
    let system_prompt = args
        .system_prompt
        .as_deref()
        .map(|p| read_small(p, "system prompt"))
        .transpose()?;
    let tools: Vec<aisec_llm::ToolSpec> = match &args.tools {
        Some(p) => serde_json::from_str(&read_small(p, "tools file")?).with_context(|| {
            format!(
                "`{}` is not a JSON array of OpenAI tool specs ({{\"type\": \"function\", \"function\": {{\"name\", \"description\", \"parameters\"}}}})",
                p.display()
            )
        })?,
        None => Vec::new(),
    };
    if let Some(name) = args.tool_choice.as_deref()
        && !matches!(name, "auto" | "required" | "none")
        && !tools.iter().any(|t| t.name == name)
    {
        anyhow::bail!("--tool-choice {name}: no tool of that name in --tools");
    }
    let api_key = args
        .api_key_env
        .as_deref()
        .map(aisec_llm::ApiKey::from_env)
        .transpose()?;
    let (path, name) = resolve_chat_model(&args.model)?;
    super::progress::note(global, &format!("loading {name} from {}", path.display()));
    let chat = aisec_llm::local::LocalChat::open(&path, name.clone())
        .with_context(|| format!("cannot load `{}`", path.display()))?;
    let embedder: Option<Arc<dyn aisec_llm::Embedder>> = match &args.embeddings {
        Some(spec) => {
            super::progress::note(global, &format!("loading the embedding model {spec}"));
            Some(Arc::new(open_embedder(spec)?))
        }
        None => None,
    };
    let mut config = aisec_llm::ServeConfig {
        system_prompt,
        tools,
        api_key,
        max_tokens: args.max_tokens,
        tool_choice: args.tool_choice.as_deref().map(|c| match c {
            "auto" | "required" | "none" => serde_json::json!(c),
            name => serde_json::json!({"type": "function", "function": {"name": name}}),
        }),
        ..aisec_llm::ServeConfig::default()
    };
    config.http.addr = std::net::SocketAddr::new(ip, args.port);
    config.http.allow_non_loopback = args.allow_remote;
    config.http.workers = args.threads;
    config.http.queue = args.threads.saturating_mul(8);
    config.http.limits.max_body_bytes = args.max_body_bytes;
    let server = aisec_llm::Server::start(Arc::new(chat), embedder, config)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{}", server.local_addr())?;
    out.flush()?;
    drop(out);
    super::progress::note(
        global,
        &format!(
            "serving {name} at {} (OpenAI-compatible; stop with Ctrl-C)",
            server.base_url()
        ),
    );
    server.wait();
    Ok(ExitStatus::Success)
}
