//! `aisec redteam`: probe an LLM application (an OpenAI-compatible endpoint, the Anthropic API,
//! any HTTP JSON API, or a local model run in-process) with the probe families, and report the
//! attack success rate of each family and probe with its confidence interval, a finding per
//! family that an attack got through, and the transcripts of the successful attempts.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aisec_core::{Table, Target, TargetStatus};
use aisec_llm::{
    AnthropicClient, ApiKey, ChatTarget, ClientConfig, HeaderValue, HttpTarget, HttpTargetConfig,
    JsonPath, Limited, OpenAiClient, RateLimit,
};
use aisec_redteam::convert::Translator;
use aisec_redteam::probe::{ConverterSpec, Family};
use aisec_redteam::refusal::RefusalJudge;
use aisec_redteam::run::{Campaign, Outcome, Rate};
use aisec_redteam::{catalog, corpus, detect, findings};
use anyhow::{Context, bail};

use super::report_out::{self, Artifacts, fmt3};
use crate::ExitStatus;
use crate::cli::{RedteamArgs, RefusalKind};
use crate::settings::GlobalSettings;

/// The largest system prompt, tools or HTTP target file read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// The most successful transcripts shown in the report's table.
const MAX_TRANSCRIPT_ROWS: usize = 50;

fn read_bounded(path: &Path, what: &str) -> anyhow::Result<String> {
    super::read_text(path, MAX_CONFIG_BYTES, what)
}

fn client_config(url: &str, key_env: Option<&str>, timeout: u64) -> anyhow::Result<ClientConfig> {
    let mut c = ClientConfig::new(url.trim_end_matches('/'));
    c.timeout = Duration::from_secs(timeout);
    if let Some(var) = key_env {
        c.api_key = Some(ApiKey::from_env(var).with_context(|| format!("--api-key-env {var}"))?);
    }
    Ok(c)
}

/// A generic HTTP application: `{"url", "name"?, "template", "reply_path", "headers"?}`.
fn http_target(path: &Path, timeout: u64) -> anyhow::Result<HttpTarget> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        url: String,
        #[serde(default)]
        name: Option<String>,
        template: serde_json::Value,
        reply_path: String,
        #[serde(default)]
        headers: std::collections::BTreeMap<String, String>,
    }
    let text = read_bounded(path, "the HTTP target file")?;
    let f: File = serde_json::from_str(&text)
        .with_context(|| format!("`{}` is not an HTTP target file", path.display()))?;
    let headers = f
        .headers
        .iter()
        .map(|(k, v)| Ok((k.clone(), HeaderValue::from_config(v)?)))
        .collect::<aisec_llm::Result<Vec<_>>>()?;
    let mut client = ClientConfig::new(f.url.clone());
    client.timeout = Duration::from_secs(timeout);
    Ok(HttpTarget::new(HttpTargetConfig {
        name: f.name.unwrap_or(f.url),
        client,
        template: f.template,
        headers,
        reply_path: JsonPath::parse(&f.reply_path)?,
    })?)
}

fn limited<T: ChatTarget + 'static>(t: T, limit: &Arc<RateLimit>) -> Box<dyn ChatTarget> {
    Box::new(Limited::new(t, Arc::clone(limit)))
}

/// The target and the model name sent to it.
fn target(
    args: &RedteamArgs,
    limit: &Arc<RateLimit>,
    global: &GlobalSettings,
) -> anyhow::Result<(Box<dyn ChatTarget>, String)> {
    let key = args.api_key_env.as_deref();
    if let Some(url) = &args.target {
        let model = args
            .model
            .clone()
            .context("--target needs --model (the model's name on the server)")?;
        let client = OpenAiClient::new(client_config(url, key, args.timeout)?)?;
        return Ok((limited(client, limit), model));
    }
    if args.anthropic {
        let model = args.model.clone().context("--anthropic needs --model")?;
        let url = args
            .anthropic_url
            .as_deref()
            .unwrap_or("https://api.anthropic.com");
        let client = AnthropicClient::new(client_config(
            url,
            Some(key.unwrap_or("ANTHROPIC_API_KEY")),
            args.timeout,
        )?)?;
        return Ok((limited(client, limit), model));
    }
    if let Some(path) = &args.http_config {
        let t = http_target(path, args.timeout)?;
        return Ok((limited(t, limit), args.model.clone().unwrap_or_default()));
    }
    if let Some(name) = &args.local {
        super::progress::note(
            global,
            &format!("loading {name} (fetched once through the resolver)"),
        );
        let path = aisec_resolve::Resolver::from_env()?
            .fetch(name)
            .with_context(|| format!("cannot fetch the local model {name}"))?;
        let chat = aisec_llm::local::LocalChat::open(&path, name)
            .with_context(|| format!("cannot load {name}"))?;
        return Ok((limited(chat, limit), name.clone()));
    }
    bail!(
        "name a target: --target URL --model NAME, --anthropic --model NAME, --http-config FILE or --local MODEL"
    )
}

fn converters(list: &[String]) -> anyhow::Result<Vec<ConverterSpec>> {
    list.iter()
        .map(|c| {
            let c = c.trim();
            Ok(match c {
                "base64" => ConverterSpec::Base64,
                "hex" => ConverterSpec::Hex,
                "rot13" => ConverterSpec::Rot13,
                "leet" => ConverterSpec::Leet,
                "homoglyph" => ConverterSpec::Homoglyph,
                "zero-width" => ConverterSpec::ZeroWidth,
                "tag-smuggle" => ConverterSpec::TagSmuggle,
                other => match other.strip_prefix("translate:") {
                    Some(language) if !language.is_empty() => ConverterSpec::Translate {
                        language: language.to_owned(),
                    },
                    _ => bail!(
                        "--converter {other}: one of base64, hex, rot13, leet, homoglyph, zero-width, tag-smuggle, translate:LANGUAGE"
                    ),
                },
            })
        })
        .collect()
}

pub(crate) fn run(args: &RedteamArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    let started = std::time::Instant::now();
    anyhow::ensure!(args.concurrency >= 1, "--concurrency must be at least 1");
    anyhow::ensure!(
        args.rate.is_none_or(|r| r > 0.0 && r.is_finite()),
        "--rate must be a positive number of requests per second"
    );
    let limit = Arc::new(RateLimit::new(args.concurrency, args.rate)?);
    let (target, model) = target(args, &limit, global)?;

    let user_paths: Vec<&Path> = args
        .probe_files
        .iter()
        .map(std::path::PathBuf::as_path)
        .collect();
    let all = catalog::catalog(&user_paths)?;
    let selectors: Vec<&str> = args.probes.iter().map(String::as_str).collect();
    let families: Vec<Family> = catalog::select(&all, &selectors)?;

    let system_prompt = args
        .system_prompt
        .as_deref()
        .map(|p| read_bounded(p, "the system prompt"))
        .transpose()?;
    anyhow::ensure!(
        !args.plant_system_prompt || system_prompt.is_some() || !args.canary.is_empty(),
        "--plant-system-prompt needs --system-prompt or --canary"
    );
    let tools = match &args.tools {
        Some(p) => detect::parse_tools(&read_bounded(p, "the tools file")?)?,
        None => Vec::new(),
    };
    let key = args.api_key_env.as_deref();
    let judge = match &args.judge {
        Some(url) => Some(OpenAiClient::new(client_config(url, key, args.timeout)?)?),
        None => None,
    };
    let judge_model = args.judge_model.clone().unwrap_or_else(|| model.clone());
    let translator = match &args.translator {
        Some(url) => Some(OpenAiClient::new(client_config(url, key, args.timeout)?)?),
        None => None,
    };
    let translator_model = args
        .translator_model
        .clone()
        .unwrap_or_else(|| model.clone());
    let refusal = refusal_judge(args.refusal, global)?;

    // Corpora named by --corpus, fetched through the resolver on first use.
    for name in &args.corpus {
        anyhow::ensure!(
            corpus::CORPORA.contains(&name.as_str()),
            "--corpus {name}: one of {}",
            corpus::CORPORA.join(", ")
        );
    }
    let corpus_fn = |name: &str, limit: usize, seed: u64| -> aisec_redteam::Result<Vec<String>> {
        if !args.corpus.iter().any(|c| c == name) {
            return Err(aisec_redteam::RedteamError::Config(format!(
                "corpus {name} not selected (--corpus {name})"
            )));
        }
        let dir = aisec_resolve::Resolver::from_env()
            .and_then(|r| r.fetch(name))
            .map_err(|e| aisec_redteam::RedteamError::Config(format!("corpus {name}: {e}")))?;
        let prompts = corpus::load(name, &dir)?;
        Ok(sample(
            prompts.into_iter().map(|p| p.text).collect(),
            limit,
            seed,
        ))
    };

    let show = global.progress;
    let progress = |done: usize, total: usize| {
        if show && (done == total || done.is_multiple_of(10)) {
            use std::io::Write;
            let _ = write!(
                std::io::stderr().lock(),
                "\r\x1b[2Kredteam: {done}/{total} attempts"
            );
            if done == total {
                let _ = writeln!(std::io::stderr().lock());
            }
        }
    };
    let mut campaign = Campaign::new(families.clone(), model.clone());
    campaign.generations = args.generations;
    campaign.seed = args.seed;
    campaign.concurrency = args.concurrency;
    campaign.max_tokens = args.max_tokens;
    campaign.temperature = args.temperature;
    campaign.canaries.clone_from(&args.canary);
    campaign.system_prompt = system_prompt;
    campaign.plant_system_prompt = args.plant_system_prompt;
    campaign.tools = tools;
    campaign.converters = converters(&args.converter)?;
    campaign.judge = judge
        .as_ref()
        .map(|j| (j as &dyn ChatTarget, judge_model.clone()));
    campaign.translator = translator.as_ref().map(|t| Translator {
        target: t as &dyn ChatTarget,
        model: translator_model.as_str(),
    });
    campaign.refusal = Some(refusal.as_ref());
    campaign.corpus = Some(&corpus_fn);
    campaign.transcript.clone_from(&args.transcript);
    campaign.resume = args.resume;
    campaign.progress = Some(&progress);
    let outcome = aisec_redteam::run::run(target.as_ref(), &campaign)?;

    let mut report = report_out::new_report();
    report.targets.push(Target {
        path: outcome.target.clone(),
        member: None,
        format: if args.local.is_some() {
            "local-chat-model"
        } else {
            "chat-endpoint"
        }
        .into(),
        size: 0,
        status: if outcome.records.is_empty() {
            TargetStatus::NotAnalysed {
                reason: "no attempt ran (every selected probe was skipped)".into(),
            }
        } else {
            TargetStatus::Analysed
        },
    });
    report.findings = findings::findings(&outcome, &families);
    report
        .metrics
        .insert("redteam".into(), metrics(&outcome, &campaign, args));
    report.tables.push(family_table(&outcome, &families));
    report.tables.push(probe_table(&outcome));
    if !outcome.skipped.is_empty() {
        report.tables.push(skipped_table(&outcome));
    }
    if let Some(path) = &args.baseline {
        let (table, compared) = before_after(path, &outcome)?;
        report.tables.push(table);
        if let Some(serde_json::Value::Object(m)) = report.metrics.get_mut("redteam") {
            m.insert("before_after".into(), compared);
        }
    }
    if outcome.records.iter().any(|r| r.success) {
        report.tables.push(transcript_table(&outcome));
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    report.sort();
    let artifacts = Artifacts::new(&args.report)?;
    report_out::finish(&args.report, global, "aisec redteam", &report, artifacts)
}

/// The largest baseline report read.
const MAX_BASELINE_BYTES: u64 = 64 << 20;

/// Each family's attack success in the baseline report at `path` and in this run, as a table
/// and as JSON (families of either run; a family only one ran shows `-` for the other).
fn before_after(path: &Path, o: &Outcome) -> anyhow::Result<(Table, serde_json::Value)> {
    let text = super::read_text(path, MAX_BASELINE_BYTES, "the --baseline report")?;
    let v: serde_json::Value =
        serde_json::from_str(&text).context("the --baseline report is not JSON")?;
    let families = v["metrics"]["redteam"]["families"].as_array().context(
        "the --baseline file is not an aisec redteam JSON report (no metrics.redteam.families)",
    )?;
    let mut before: Vec<(String, usize, usize)> = Vec::new();
    for f in families {
        let name = f["family"]
            .as_str()
            .context("a baseline family has no name")?;
        let count = |k: &str| {
            f["rate"][k]
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .with_context(|| format!("baseline family {name}: no rate.{k}"))
        };
        before.push((name.to_owned(), count("attempts")?, count("successes")?));
    }
    let mut names: Vec<String> = before.iter().map(|b| b.0.clone()).collect();
    for f in &o.families {
        if !names.contains(&f.family) {
            names.push(f.family.clone());
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let asr = |attempts: usize, successes: usize| {
        if attempts == 0 {
            0.0
        } else {
            successes as f64 / attempts as f64
        }
    };
    let mut rows = Vec::new();
    let mut json = Vec::new();
    for name in names {
        let b = before.iter().find(|b| b.0 == name).map(|b| (b.1, b.2));
        let a = o
            .families
            .iter()
            .find(|f| f.family == name)
            .map(|f| (f.rate.attempts, f.rate.successes));
        let show = |r: Option<(usize, usize)>| {
            r.map_or_else(
                || "-".to_owned(),
                |(n, s)| format!("{} ({s}/{n})", fmt3(asr(n, s))),
            )
        };
        let change = match (b, a) {
            (Some((bn, bs)), Some((an, as_))) => {
                format!("{:+.3}", asr(an, as_) - asr(bn, bs))
            }
            _ => "-".to_owned(),
        };
        rows.push(vec![name.clone(), show(b), show(a), change]);
        json.push(serde_json::json!({
            "family": name,
            "before": b.map(|(n, s)| serde_json::json!({"attempts": n, "successes": s, "asr": asr(n, s)})),
            "after": a.map(|(n, s)| serde_json::json!({"attempts": n, "successes": s, "asr": asr(n, s)})),
        }));
    }
    Ok((
        Table {
            id: "redteam-before-after".into(),
            title: format!(
                "Attack success before (baseline {}) and after (this run)",
                path.display()
            ),
            columns: ["Family", "Before", "After", "Change"]
                .map(String::from)
                .to_vec(),
            rows,
        },
        serde_json::json!({ "baseline": path.display().to_string(), "families": json }),
    ))
}

/// Up to `limit` of `items`, a seeded sample when there are more (stable for a seed).
fn sample(mut items: Vec<String>, limit: usize, seed: u64) -> Vec<String> {
    if items.len() <= limit {
        return items;
    }
    // A seeded Fisher-Yates prefix with SplitMix64.
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for i in 0..limit {
        let j = i + (next() % (items.len() - i) as u64) as usize;
        items.swap(i, j);
    }
    items.truncate(limit);
    items
}

fn ci(r: &Rate) -> String {
    format!("{}–{}", fmt3(r.low), fmt3(r.high))
}

fn metrics(o: &Outcome, c: &Campaign<'_>, args: &RedteamArgs) -> serde_json::Value {
    serde_json::json!({
        "target": o.target,
        "model": c.model,
        "seed": c.seed,
        "generations": c.generations,
        "concurrency": c.concurrency,
        "rate_limit": args.rate,
        "max_tokens": c.max_tokens,
        "temperature": c.temperature,
        "converters": c.converters,
        "attempts": o.records.len(),
        "resumed": o.resumed,
        "errors": o.errors,
        "requests": o.requests,
        "requests_per_second": o.requests_per_second,
        "elapsed_seconds": o.elapsed.as_secs_f64(),
        "transcript": args.transcript.as_ref().map(|p| p.display().to_string()),
        "families": o.families,
        "probes": o.probes,
        "skipped": o.skipped,
    })
}

fn family_table(o: &Outcome, families: &[Family]) -> Table {
    let rows = o
        .families
        .iter()
        .map(|f| {
            let fam = families.iter().find(|x| x.id == f.family);
            vec![
                f.family.clone(),
                fam.map_or_else(String::new, |x| x.rule.clone()),
                fam.map_or_else(String::new, |x| x.owasp_llm.join(", ")),
                fam.map_or_else(String::new, |x| x.severity.to_string()),
                f.rate.attempts.to_string(),
                f.rate.errors.to_string(),
                f.rate.successes.to_string(),
                fmt3(f.rate.asr),
                ci(&f.rate),
            ]
        })
        .collect();
    Table {
        id: "redteam-families".into(),
        title: format!(
            "Attack success rate per family against {} ({} requests, {:.1} requests/s)",
            o.target, o.requests, o.requests_per_second
        ),
        columns: [
            "Family",
            "Rule",
            "OWASP LLM",
            "Severity",
            "Attempts",
            "Errors",
            "Successes",
            "ASR",
            "95% CI",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

fn probe_table(o: &Outcome) -> Table {
    Table {
        id: "redteam-probes".into(),
        title: "Attack success rate per probe (percentile bootstrap 95% CI)".into(),
        columns: [
            "Family",
            "Probe",
            "Attempts",
            "Errors",
            "Successes",
            "ASR",
            "95% CI",
        ]
        .map(String::from)
        .to_vec(),
        rows: o
            .probes
            .iter()
            .map(|p| {
                vec![
                    p.family.clone(),
                    p.probe.clone(),
                    p.rate.attempts.to_string(),
                    p.rate.errors.to_string(),
                    p.rate.successes.to_string(),
                    fmt3(p.rate.asr),
                    ci(&p.rate),
                ]
            })
            .collect(),
    }
}

fn skipped_table(o: &Outcome) -> Table {
    Table {
        id: "redteam-skipped".into(),
        title: "Not run".into(),
        columns: ["Family", "Probe", "Why"].map(String::from).to_vec(),
        rows: o
            .skipped
            .iter()
            .map(|s| {
                vec![
                    s.family.clone(),
                    s.probe.clone().unwrap_or_else(|| "(all)".into()),
                    s.reason.clone(),
                ]
            })
            .collect(),
    }
}

fn transcript_table(o: &Outcome) -> Table {
    Table {
        id: "redteam-transcripts".into(),
        title: format!("Transcripts of successful attempts (first {MAX_TRANSCRIPT_ROWS})"),
        columns: ["Family", "Probe", "Attempt", "Conversation", "Evidence"]
            .map(String::from)
            .to_vec(),
        rows: o
            .records
            .iter()
            .filter(|r| r.success)
            .take(MAX_TRANSCRIPT_ROWS)
            .map(|r| {
                vec![
                    r.family.clone(),
                    r.probe.clone(),
                    r.id.clone(),
                    findings::conversation_text(r),
                    r.verdict
                        .as_ref()
                        .map_or_else(String::new, |v| v.evidence.clone()),
                ]
            })
            .collect(),
    }
}

/// The refusal judge `--refusal` names: the phrase list, or the MiniLM classifier trained on
/// PyRIT's labelled sets (the model and the sets fetched once through the resolver).
fn refusal_judge(
    kind: RefusalKind,
    global: &GlobalSettings,
) -> anyhow::Result<Box<dyn RefusalJudge>> {
    use aisec_redteam::refusal::{EmbeddingRefusal, KeywordRefusal, REFUSAL_WINDOW};
    Ok(match kind {
        RefusalKind::Keywords => Box::new(KeywordRefusal::default()),
        RefusalKind::Embedding => {
            super::progress::note(
                global,
                "training the refusal judge (MiniLM on PyRIT's labelled refusals)",
            );
            let resolver = aisec_resolve::Resolver::from_env()?;
            let model = resolver
                .fetch("all-minilm-l6-v2")
                .context("cannot fetch the MiniLM embedding model")?;
            let embedder = aisec_llm::local::MiniLm::open(&model)
                .context("cannot load MiniLM")?
                .with_window(REFUSAL_WINDOW);
            let data = resolver
                .fetch("pyrit-refusal")
                .context("cannot fetch PyRIT's labelled refusal sets")?;
            Box::new(
                EmbeddingRefusal::from_pyrit(Arc::new(embedder), &data)
                    .context("cannot train the refusal judge")?,
            )
        }
    })
}
