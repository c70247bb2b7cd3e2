//! `aisec guard`: the LLM firewall proxy. Loads the policy, binds, prints
//! `listening on http://ADDR`, serves until stopped, and reloads the policy on SIGHUP (a bad
//! file is reported and the running policy kept).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use std::path::{Path, PathBuf};

use aisec_guard::classifier::{self, ClassifierFile, EmbeddingClassifier, Labelled, TrainOptions};
use aisec_guard::policy::GuardFile;
use aisec_guard::proxy::{Proxy, ProxyConfig, StreamMode};
use aisec_guard::{Exchange, InjectionClassifier, Models, Policy, evaluate_with};
use anyhow::Context;

use crate::ExitStatus;
use crate::cli::{GuardAction, GuardArgs, GuardCheckArgs, GuardTrainArgs, StreamModeArg};
use crate::settings::GlobalSettings;

/// The embedding model the classifier runs on.
const EMBEDDER: &str = "all-minilm-l6-v2";
/// Where `--classifier auto` keeps its trained classifier, under the resolver's cache. The name
/// changes whenever the training recipe does, so an old file is never mistaken for a new one.
const AUTO_CLASSIFIER: &str = "guard/injection-classifier-v3.json";

/// MiniLM through the resolver, with the classifier's window.
fn minilm(resolver: &aisec_resolve::Resolver) -> anyhow::Result<aisec_llm::local::MiniLm> {
    let dir = resolver
        .fetch(EMBEDDER)
        .context("cannot fetch the MiniLM embedding model")?;
    Ok(aisec_llm::local::MiniLm::open_named(&dir, EMBEDDER)
        .context("cannot load MiniLM")?
        .with_window(classifier::WINDOW_TOKENS))
}

/// The screen's static table for `minilm`, from the resolver's cache (distilled into it the
/// first time).
fn screen_table(
    resolver: &aisec_resolve::Resolver,
    minilm: &aisec_llm::local::MiniLm,
    global: &GlobalSettings,
) -> anyhow::Result<aisec_llm::local::StaticEmbedder> {
    let path = resolver.cache_dir().join(classifier::SCREEN_TABLE);
    if !path.is_file() {
        super::progress::note(
            global,
            &format!(
                "distilling the classifier's screen (a static token table) from MiniLM into {}: about a minute, once",
                path.display()
            ),
        );
    }
    let (table, _) =
        aisec_llm::local::StaticEmbedder::cached(minilm, &path, classifier::SCREEN_EMBEDDER)
            .with_context(|| format!("cannot distil the static table into {}", path.display()))?;
    Ok(table)
}

/// The training rows: the attack corpora, PyRIT's benign rows, and the `labelled` sets.
fn training_rows(
    resolver: &aisec_resolve::Resolver,
    labelled: &[String],
) -> anyhow::Result<(Vec<Labelled>, Vec<String>)> {
    let mut provenance = Vec::new();
    let pyrit = resolver
        .fetch("pyrit-refusal")
        .context("cannot fetch PyRIT's labelled sets")?;
    provenance.push(format!("pyrit-refusal ({})", pin("pyrit-refusal")));
    let (mut rows, requests) = classifier::pyrit_benign_rows(&pyrit)?;
    for name in classifier::ATTACK_CORPORA {
        let dir = resolver
            .fetch(name)
            .with_context(|| format!("cannot fetch the corpus {name}"))?;
        rows.extend(classifier::attack_rows(name, &dir, &requests)?);
        provenance.push(format!("{name} ({})", pin(name)));
    }
    for l in labelled {
        if l == "none" {
            continue;
        }
        let (path, name) = if Path::new(l).is_file() {
            (PathBuf::from(l), l.clone())
        } else {
            provenance.push(format!("{l} ({})", pin(l)));
            (
                resolver.fetch(l).with_context(|| {
                    format!("--labelled {l}: neither a file nor a catalog entry")
                })?,
                l.clone(),
            )
        };
        rows.extend(classifier::jsonl_rows(&path, &name, true)?);
    }
    Ok((rows, provenance))
}

/// The catalog's pin of `name`, for the classifier's provenance.
fn pin(name: &str) -> String {
    aisec_resolve::catalog::find(name)
        .map_or_else(|| "not in the catalog".to_owned(), |e| e.source.to_owned())
}

fn train(
    labelled: &[String],
    options: TrainOptions,
    global: &GlobalSettings,
) -> anyhow::Result<ClassifierFile> {
    let resolver = aisec_resolve::Resolver::from_env()?;
    let minilm = minilm(&resolver)?;
    let table = screen_table(&resolver, &minilm, global)?;
    let (rows, provenance) = training_rows(&resolver, labelled)?;
    let (rows, dropped) = classifier::dedup(rows);
    super::progress::note(
        global,
        &format!(
            "training the injection classifier on {} rows ({dropped} repeated or contradicting rows left out; MiniLM embeddings, a few minutes on a small CPU)",
            rows.len()
        ),
    );
    let embedded = classifier::embed_rows(&minilm, &rows)?;
    let screen = classifier::embed_rows(&table, &rows)?;
    let filler = classifier::filler_vectors(&table, &rows, options.seed)?;
    let mut file = classifier::train(
        &rows,
        &embedded,
        EMBEDDER,
        Some(classifier::ScreenInput {
            name: classifier::SCREEN_EMBEDDER,
            embedded: &screen,
            filler: &filler,
        }),
        options,
    )?;
    file.provenance = provenance;
    Ok(file)
}

/// The classifier `spec` names (a file, or `auto`), on MiniLM.
fn load_classifier(
    spec: &str,
    global: &GlobalSettings,
) -> anyhow::Result<Arc<EmbeddingClassifier>> {
    let resolver = aisec_resolve::Resolver::from_env()?;
    let file = if spec == "auto" {
        let path = resolver.cache_dir().join(AUTO_CLASSIFIER);
        // A cached file that cannot be read (cut short, edited) is trained again.
        let cached = match path.is_file().then(|| ClassifierFile::read(&path)) {
            Some(Ok(file)) => Some(file),
            Some(Err(e)) => {
                super::progress::note(
                    global,
                    &format!("{}: {e}; training the classifier again", path.display()),
                );
                None
            }
            None => None,
        };
        if let Some(file) = cached {
            file
        } else {
            let file = train(
                &["bastioncorpus-injections".to_owned()],
                TrainOptions::default(),
                global,
            )?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            // Written whole then renamed, so a concurrent reader never sees half a file.
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            file.write(&tmp)?;
            std::fs::rename(&tmp, &path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            file
        }
    } else {
        ClassifierFile::read(Path::new(spec))?
    };
    anyhow::ensure!(
        file.embedder == EMBEDDER && file.window == classifier::WINDOW_TOKENS,
        "the classifier needs the embedding model {} with a {}-token window, aisec runs {EMBEDDER} with {}",
        file.embedder,
        file.window,
        classifier::WINDOW_TOKENS
    );
    let minilm = minilm(&resolver)?;
    let screen = match &file.screen {
        Some(screen) => {
            anyhow::ensure!(
                screen.embedder == classifier::SCREEN_EMBEDDER,
                "the classifier's screen needs the static table {}, aisec distils {}",
                screen.embedder,
                classifier::SCREEN_EMBEDDER
            );
            Some(screen_table(&resolver, &minilm, global)?)
        }
        None => None,
    };
    let mut c = EmbeddingClassifier::new(Arc::new(minilm), file)?;
    if let Some(table) = screen {
        c = c.with_screen(Arc::new(table))?;
    }
    Ok(Arc::new(c))
}

fn train_command(args: &GuardTrainArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    for (flag, v) in [
        ("--max-fpr", args.max_fpr),
        ("--max-hard-fpr", args.max_hard_fpr),
    ] {
        anyhow::ensure!((0.0..1.0).contains(&v), "{flag} must be in [0, 1)");
    }
    let options = TrainOptions {
        max_fpr: args.max_fpr,
        max_hard_fpr: args.max_hard_fpr,
        ..TrainOptions::default()
    };
    let file = train(&args.labelled, options, global)?;
    file.write(&args.out)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "wrote {}: threshold {:.4}; on held-out rows: false positives {:.3}, recall {:.3}",
        args.out.display(),
        file.threshold,
        file.calibration_fpr,
        file.calibration_recall
    )?;
    if let Some(screen) = &file.screen {
        writeln!(
            out,
            "screen: threshold {:.4}, clears under {:.4}; on held-out rows: false positives {:.3}, recall {:.3}; with the encoder: recall {:.3}, {:.3} of benign rows encoded",
            screen.threshold,
            screen.clear,
            screen.calibration_fpr,
            screen.calibration_recall,
            screen.calibration_cascade_recall,
            screen.calibration_escalated
        )?;
    }
    Ok(ExitStatus::Success)
}

fn check_command(args: &GuardCheckArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    use std::io::{BufRead, Read};
    let policy = match &args.policy {
        Some(p) => GuardFile::from_file(p)?.policy(),
        None => Policy::recommended(),
    };
    let classifier = args
        .classifier
        .as_deref()
        .map(|c| load_classifier(c, global))
        .transpose()?;
    let mut reader: Box<dyn BufRead> = if args.input.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(&args.input)
                .with_context(|| format!("cannot open {}", args.input.display()))?,
        ))
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut index = 0usize;
    let mut line_no = 0usize;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        // A line is read with a bound, so one huge line cannot exhaust memory.
        let n = (&mut reader)
            .take(MAX_CHECK_LINE + 1)
            .read_until(b'\n', &mut buf)
            .context("cannot read the input")?;
        if n == 0 {
            break;
        }
        line_no += 1;
        anyhow::ensure!(
            buf.len() as u64 <= MAX_CHECK_LINE || buf.ends_with(b"\n"),
            "line {line_no}: longer than {MAX_CHECK_LINE} bytes"
        );
        let line = std::str::from_utf8(&buf)
            .with_context(|| format!("line {line_no}: not UTF-8"))?
            .trim();
        if line.is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("line {line_no}: not a JSON object"))?;
        let text = v["text"]
            .as_str()
            .with_context(|| format!("line {line_no}: no `text`"))?;
        let message = match v["role"].as_str().unwrap_or("user") {
            "user" => aisec_llm::Message::user(text),
            "tool" => aisec_llm::Message::tool_result("call", text),
            other => anyhow::bail!("line {line_no}: role {other:?} is neither user nor tool"),
        };
        let messages = [message];
        let encoded_before = classifier.as_ref().map(|c| c.counts().1);
        let started = std::time::Instant::now();
        let verdict = evaluate_with(
            &policy,
            &Exchange::input(&messages),
            Models {
                classifier: classifier.as_deref().map(|c| c as &dyn InjectionClassifier),
            },
        );
        let micros = started.elapsed().as_micros();
        let mut rules: Vec<&str> = verdict.fired.iter().map(|f| f.rule).collect();
        rules.dedup();
        let scores: serde_json::Map<String, serde_json::Value> = verdict
            .fired
            .iter()
            .map(|f| (f.scanner.to_owned(), serde_json::json!(f.hit.score)))
            .collect();
        let mut line = serde_json::json!({
            "index": index,
            "action": verdict.action,
            "rules": rules,
            "scores": scores,
            "micros": micros,
        });
        // Whether the classifier's encoder read this prompt (the screen decided it otherwise).
        if let (Some(c), Some(before)) = (&classifier, encoded_before) {
            line["encoded"] = serde_json::json!(c.counts().1 > before);
        }
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
        index += 1;
    }
    out.flush()?;
    Ok(ExitStatus::Success)
}

/// The longest input line `aisec guard check` reads.
const MAX_CHECK_LINE: u64 = 16 << 20;

/// A fresh random canary: the hash of the time, the process and a stack address.
fn random_canary() -> String {
    let here = 0u8;
    let seed = format!(
        "{:?}{}{:p}",
        std::time::SystemTime::now(),
        std::process::id(),
        &here
    );
    let h = aisec_guard::proxy::audit::sha256_hex(seed.as_bytes());
    format!("AISEC-CANARY-{}", &h[..12].to_ascii_uppercase())
}

fn load(args: &GuardArgs) -> anyhow::Result<GuardFile> {
    match &args.policy {
        Some(p) => GuardFile::from_file(p).map_err(anyhow::Error::from),
        None => {
            let r = aisec_guard::Policy::recommended();
            Ok(GuardFile {
                fail: r.fail,
                input: r.input,
                output: r.output,
                limits: r.limits,
                extraction: r.extraction,
                ..GuardFile::default()
            })
        }
    }
}

pub(crate) fn run(args: &GuardArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    match &args.action {
        Some(GuardAction::Check(a)) => return check_command(a, global),
        Some(GuardAction::TrainClassifier(a)) => return train_command(a, global),
        None => {}
    }
    let upstream = args
        .upstream
        .as_deref()
        .context("--upstream is required to serve")?;
    anyhow::ensure!(args.threads >= 1, "--threads must be at least 1");
    let ip: std::net::IpAddr = args
        .host
        .parse()
        .with_context(|| format!("--host {:?} is not an IP address", args.host))?;
    anyhow::ensure!(
        ip.is_loopback() || args.allow_remote,
        "--host {ip} is not a loopback address: the proxy has no TLS; pass --allow-remote to listen beyond this machine"
    );
    let file = load(args)?;
    let mut config = ProxyConfig::new(upstream);
    config.upstream_key = args
        .upstream_key_env
        .as_deref()
        .map(aisec_llm::ApiKey::from_env)
        .transpose()?;
    config.stream_mode = match args.stream_mode {
        StreamModeArg::Buffer => StreamMode::Buffer,
        StreamModeArg::Incremental => StreamMode::Incremental,
    };
    config.upstream_timeout = Duration::from_secs(args.upstream_timeout.max(1));
    config.log_prompts = args.log_prompts;
    config.infer_upstream.clone_from(&args.infer_upstream);
    config.canary = args.canary.as_deref().map(|c| {
        if c == "auto" {
            random_canary()
        } else {
            c.to_owned()
        }
    });
    let classifier = args
        .classifier
        .as_deref()
        .map(|c| load_classifier(c, global).map(|c| c as Arc<dyn InjectionClassifier>))
        .transpose()?;
    let mut proxy = Proxy::new(config, &file, classifier)?;
    if let Some(path) = &args.audit {
        let out: Box<dyn Write + Send> = if path.as_os_str() == "-" {
            Box::new(std::io::stdout())
        } else {
            Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("cannot open the audit log {}", path.display()))?,
            )
        };
        proxy = proxy.with_audit(out);
    }
    let proxy = Arc::new(proxy);
    let mut http = aisec_llm::serve::http::ServerConfig {
        addr: std::net::SocketAddr::new(ip, args.port),
        allow_non_loopback: args.allow_remote,
        workers: args.threads,
        queue: args.threads.saturating_mul(8),
        keep_alive: (args.keep_alive > 0).then(|| Duration::from_secs(args.keep_alive)),
        ..aisec_llm::serve::http::ServerConfig::default()
    };
    http.limits.max_body_bytes = args.max_body_bytes;
    let server = aisec_guard::proxy::start(Arc::clone(&proxy), &http)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{}", server.local_addr())?;
    out.flush()?;
    drop(out);
    super::progress::note(
        global,
        &format!(
            "guarding {} at http://{}/v1 (SIGHUP reloads the policy; stop with Ctrl-C)",
            upstream,
            server.local_addr()
        ),
    );
    if let Some(path) = args.policy.clone() {
        let proxy = Arc::clone(&proxy);
        let quiet = global.clone();
        let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])
            .context("cannot listen for SIGHUP")?;
        std::thread::spawn(move || {
            for _ in signals.forever() {
                match GuardFile::from_file(&path) {
                    Ok(f) => {
                        proxy.reload(&f);
                        super::progress::note(&quiet, &format!("reloaded {}", path.display()));
                    }
                    Err(e) => {
                        super::progress::note(&quiet, &format!("kept the running policy: {e}"));
                    }
                }
            }
        });
    }
    server.wait();
    Ok(ExitStatus::Success)
}
