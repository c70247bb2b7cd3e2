//! `aisec assess`: runs every stage `aisec.toml` configures (scan, verify, bom, attacks, the red
//! team and the guard, the threat model with the others' findings as evidence, compliance),
//! independent stages in parallel, each as its own `aisec` process so one stage's failure or
//! crash cannot take the others down; then merges their reports into one, keeps it in the
//! findings store, and writes it as HTML, Markdown, JSON and SARIF.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use aisec_core::{Artifact, Report};
use anyhow::{Context, bail};
use serde::Serialize;

use crate::ExitStatus;
use crate::cli::{AssessArgs, ComplyArgs, OutputFormat};
use crate::project::{Config, Loaded};
use crate::settings::GlobalSettings;

use super::report_out::{emitter, sha256_hex};

/// The largest stage report or BOM read back.
const MAX_STAGE_REPORT: u64 = 256 << 20;
/// The largest picture embedded in the HTML report.
const MAX_EMBEDDED: u64 = 8 << 20;

/// How a stage ended.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Outcome {
    /// It wrote its report.
    Done,
    /// It could not run; why.
    Failed(String),
}

/// One stage: an `aisec` command line, or the red team (with the guard) around local servers.
#[derive(Debug, Clone)]
struct Stage {
    /// Its name in the report (`scan`, `verify-1`, `attack-evasion`).
    name: String,
    /// The command it runs, as runs are kept in the store and read as evidence.
    command: &'static str,
    /// What to run.
    work: Work,
}

#[derive(Debug, Clone)]
enum Work {
    /// `aisec ARGS -f json -o REPORT`.
    Report(Vec<OsString>),
    /// `aisec bom MODEL -o BOM`, turned into a report here.
    Bom(Vec<OsString>),
    /// The red team, then (with a guard, when `true`) the red team again through `aisec guard`.
    Llm(bool),
}

/// What a stage left.
#[derive(Debug)]
struct Done {
    name: String,
    command: String,
    outcome: Outcome,
    seconds: f64,
    report: Option<Report>,
    log: PathBuf,
}

/// Runs `aisec assess`.
pub(crate) fn run(args: &AssessArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    let loaded = Loaded::read(&args.project, args.config.as_deref())?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| loaded.dir.join("aisec-report"));
    fs_err::create_dir_all(out.join("stages"))?;
    let out = std::fs::canonicalize(&out).unwrap_or(out);
    let stages_dir = out.join("stages");
    let started = Instant::now();
    let ctx = Ctx {
        loaded: &loaded,
        dir: &stages_dir,
        exe: std::env::current_exe().context("cannot find the aisec executable")?,
        quiet: global.quiet,
    };
    let wanted = |name: &str, kind: &str| {
        (args.only.is_empty() || args.only.iter().any(|o| o == name || o == kind))
            && !args.skip.iter().any(|o| o == name || o == kind)
    };
    // The guard runs inside the red team's stage (it needs the red team's target and baseline):
    // `--only guard` keeps the red team, `--skip guard` only drops the guard.
    let plan: Vec<Stage> = plan(&loaded)
        .into_iter()
        .filter(|s| {
            wanted(&s.name, kind_of(s.command))
                || (matches!(s.work, Work::Llm(true)) && wanted("guard", "guard"))
        })
        .map(|mut s| {
            if let Work::Llm(g) = &mut s.work {
                *g = *g && wanted("guard", "guard");
            }
            s
        })
        .collect();
    let tm = loaded
        .project
        .threat_model
        .as_ref()
        .filter(|_| wanted("threat-model", "threat-model"));
    anyhow::ensure!(
        !plan.is_empty() || tm.is_some() || wanted("comply", "comply"),
        "nothing to run: aisec.toml configures no stage that --only/--skip leave"
    );
    ctx.say(&format!(
        "assessing {} ({} stage(s){}{}), reports in {}",
        loaded.name(),
        plan.len(),
        if tm.is_some() { " + threat model" } else { "" },
        if wanted("comply", "comply") {
            " + compliance"
        } else {
            ""
        },
        out.display()
    ));

    // Independent stages, `--jobs` at a time.
    let queue = Mutex::new(plan.into_iter().collect::<VecDeque<_>>());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..args.jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().expect("queue").pop_front();
                    let Some(stage) = next else { break };
                    let done = ctx.run_stage(&stage);
                    results.lock().expect("results").extend(done);
                }
            });
        }
    });
    let mut done = results.into_inner().expect("results");

    // The threat model, with every other stage's report as evidence.
    if let Some(t) = tm {
        let mut argv: Vec<OsString> = vec!["threat-model".into(), t.file.clone().into()];
        let evidence: Vec<PathBuf> = done
            .iter()
            .filter(|d| d.report.is_some() && d.command != "bom")
            .map(|d| ctx.dir.join(format!("{}.json", d.name)))
            .filter(|p| p.exists())
            .collect();
        if !evidence.is_empty() {
            argv.push("--evidence".into());
            argv.extend(evidence.into_iter().map(OsString::from));
        }
        argv.push("--exit-zero".into());
        done.extend(ctx.run_stage(&Stage {
            name: "threat-model".into(),
            command: "threat-model",
            work: Work::Report(argv),
        }));
    }
    done.sort_by_key(|d| order(&d.name));

    let mut report = merge(&loaded, &done);
    let store_url = if args.no_store {
        None
    } else {
        Some(
            global
                .store
                .clone()
                .or_else(|| loaded.project.project.store.clone())
                .unwrap_or_else(|| "default".into()),
        )
    };
    if wanted("comply", "comply") {
        let t = Instant::now();
        comply_into(&loaded, &done, store_url.is_some(), &mut report)?;
        ctx.say(&format!(
            "comply: done in {:.1} s",
            t.elapsed().as_secs_f64()
        ));
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    report.sort();
    // Worst first across stages (each stage's own order kept within a severity).
    report.findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.rule.cmp(&b.rule))
    });
    let title = format!("aisec assessment: {}", loaded.name());
    if let Some(url) = &store_url {
        let g = GlobalSettings {
            command: "assess",
            ..global.clone()
        };
        super::store_out::keep_in(url, &g, &loaded.name(), &title, &mut report)?;
    }

    let embedded = embedded(&report);
    let files = [
        ("report.html", OutputFormat::Html),
        ("report.md", OutputFormat::Markdown),
        ("report.json", OutputFormat::Json),
        ("report.sarif", OutputFormat::Sarif),
    ];
    // SARIF also documents the threat model's rules, which are data.
    let threat_docs = || {
        aisec_threatmodel::rules::builtin()
            .map(|r| super::threat_model::rule_docs(&r))
            .unwrap_or_default()
    };
    for (file, format) in files {
        let mut w = super::output(Some(&out.join(file)), "the report")?;
        emitter(format, &title, embedded.clone(), false, threat_docs()).emit(&mut w, &report)?;
        w.flush()?;
    }
    let mut stdout = super::output(None, "the report")?;
    emitter(args.format, &title, embedded, global.color, threat_docs())
        .emit(&mut stdout, &report)?;
    stdout.flush()?;
    ctx.say(&format!(
        "done in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        out.join("report.html").display()
    ));
    let failed = done.iter().any(|d| matches!(d.outcome, Outcome::Failed(_)));
    let threshold = crate::settings::severity_of(args.fail_on);
    Ok(if !args.exit_zero && report.fails(threshold) {
        ExitStatus::Failure
    } else if failed {
        ExitStatus::Incomplete
    } else {
        ExitStatus::Success
    })
}

/// `aisec comply`: the compliance view of a project, from stage reports or the store.
pub(crate) fn comply(args: &ComplyArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    let loaded = Loaded::read(&args.project, args.config.as_deref())?;
    let mut runs: Vec<(String, Report)> = Vec::new();
    for spec in &args.evidence {
        let text = spec.to_string_lossy();
        let (command, path) = match text.split_once('=') {
            Some((c, p)) if !c.contains('/') => (c.to_owned(), PathBuf::from(p)),
            _ => (String::new(), spec.clone()),
        };
        let report = read_report(&path)?;
        let command = if command.is_empty() {
            infer_command(&report).with_context(|| {
                format!(
                    "cannot tell which command wrote `{}`: name it, as COMMAND=FILE (scan=scan.json)",
                    path.display()
                )
            })?
        } else {
            command
        };
        runs.push((command, report));
    }
    let mut tracked = false;
    if args.evidence_from_store {
        let mut store = super::store_out::open_for_reading(global)?;
        for r in store.latest_per_command()? {
            if matches!(r.command.as_str(), "assess" | "comply") {
                continue;
            }
            runs.push((r.command.clone(), store.report(r.id)?));
        }
        tracked = true;
    }
    let done: Vec<Done> = runs
        .into_iter()
        .map(|(command, report)| Done {
            name: command.clone(),
            command,
            outcome: Outcome::Done,
            seconds: 0.0,
            report: Some(report),
            log: PathBuf::new(),
        })
        .collect();
    let mut report = super::report_out::new_report();
    comply_into(&loaded, &done, tracked, &mut report)?;
    report.sort();
    let title = format!("aisec compliance: {}", loaded.name());
    super::report_out::finish_with_rules(
        &args.report,
        global,
        &title,
        &report,
        super::report_out::Artifacts::new(&args.report)?,
        Vec::new(),
    )
}

struct Ctx<'a> {
    loaded: &'a Loaded,
    dir: &'a Path,
    exe: PathBuf,
    quiet: bool,
}

impl Ctx<'_> {
    fn say(&self, line: &str) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "[assess] {line}");
        }
    }

    /// Runs one stage (two for the red team with a guard), timing each.
    fn run_stage(&self, stage: &Stage) -> Vec<Done> {
        self.say(&format!("{}: started", stage.name));
        let t = Instant::now();
        let log = self.dir.join(format!("{}.log", stage.name));
        let results = match &stage.work {
            Work::Report(argv) => {
                let r = self.report_stage(&stage.name, argv, &log);
                vec![(
                    stage.name.clone(),
                    stage.command,
                    r,
                    t.elapsed().as_secs_f64(),
                )]
            }
            Work::Bom(argv) => {
                let r = self.bom_stage(&stage.name, argv, &log);
                vec![(
                    stage.name.clone(),
                    stage.command,
                    r,
                    t.elapsed().as_secs_f64(),
                )]
            }
            Work::Llm(guard) => self.llm_stages(*guard, &log),
        };
        results
            .into_iter()
            .map(|(name, command, r, seconds)| {
                let (outcome, report) = match r {
                    Ok(report) => (Outcome::Done, Some(report)),
                    Err(e) => (Outcome::Failed(format!("{e:#}")), None),
                };
                match (&outcome, &report) {
                    (Outcome::Done, Some(rep)) => self.say(&format!(
                        "{name}: done in {seconds:.1} s, {} finding(s)",
                        rep.findings.len()
                    )),
                    (Outcome::Failed(why), _) => self.say(&format!(
                        "{name}: FAILED after {seconds:.1} s: {why} (log: {})",
                        log.display()
                    )),
                    _ => {}
                }
                Done {
                    name,
                    command: command.to_owned(),
                    outcome,
                    seconds,
                    report,
                    log: log.clone(),
                }
            })
            .collect()
    }

    /// Runs `aisec ARGV -f json -o STAGE.json` and reads the report back.
    fn report_stage(&self, name: &str, argv: &[OsString], log: &Path) -> anyhow::Result<Report> {
        let path = self.dir.join(format!("{name}.json"));
        let _ = std::fs::remove_file(&path);
        let mut full = argv.to_vec();
        full.extend(["--format".into(), "json".into(), "--output".into()]);
        full.push(path.clone().into());
        self.aisec(&full, log)?;
        read_report(&path)
    }

    /// Runs `aisec bom`, then describes the BOM it wrote as a report.
    fn bom_stage(&self, name: &str, argv: &[OsString], log: &Path) -> anyhow::Result<Report> {
        let bom_path = self.dir.join(format!("{name}.cdx.json"));
        let mut full = argv.to_vec();
        full.push("--output".into());
        full.push(bom_path.clone().into());
        self.aisec(&full, log)?;
        let bytes = read_bounded(&bom_path, MAX_STAGE_REPORT)?;
        let bom: serde_json::Value =
            serde_json::from_slice(&bytes).context("the BOM is not JSON")?;
        let components = bom["components"].as_array().map_or(0, Vec::len);
        let datasets: Vec<String> = bom["components"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["type"] == "data")
            .filter_map(|c| c["name"].as_str().map(str::to_owned))
            .collect();
        let model = bom["metadata"]["component"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut report = super::report_out::new_report();
        report.metrics.insert(
            "bom".into(),
            serde_json::json!({"model": model, "components": components, "datasets": datasets, "file": bom_path.display().to_string()}),
        );
        report.artifacts.push(Artifact {
            media_type: "application/vnd.cyclonedx+json".into(),
            path: bom_path.display().to_string(),
            description: format!("CycloneDX 1.6 AI-BOM of {model}"),
            sha256: sha256_hex(&bytes),
        });
        // Kept beside the others, so `aisec comply --evidence` can read every stage.
        fs_err::write(
            self.dir.join(format!("{name}.json")),
            serde_json::to_vec_pretty(&report)?,
        )?;
        Ok(report)
    }

    /// The red team (against a served local model, or the configured target), then the same
    /// campaign through `aisec guard` when a guard is configured.
    fn llm_stages(
        &self,
        with_guard: bool,
        log: &Path,
    ) -> Vec<(String, &'static str, anyhow::Result<Report>, f64)> {
        let t = Instant::now();
        let p = &self.loaded.project;
        let Some(rt) = &p.redteam else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut server = None;
        let target = match (&rt.target, &rt.serve) {
            (Some(t), _) => Ok(t.clone()),
            (None, Some(s)) => {
                let mut argv: Vec<OsString> = vec![
                    "models".into(),
                    "serve".into(),
                    "--model".into(),
                    s.model.clone().into(),
                    "--port".into(),
                    "0".into(),
                ];
                if let Some(sp) = &s.system_prompt {
                    argv.extend(["--system-prompt".into(), sp.into()]);
                }
                if let Some(tools) = &s.tools {
                    argv.extend(["--tools".into(), tools.into()]);
                }
                argv.extend(s.args.iter().map(OsString::from));
                self.server(&argv, &self.dir.join("serve.log"))
                    .map(|(child, url)| {
                        server = Some(child);
                        format!("{url}/v1")
                    })
            }
            (None, None) => Err(anyhow::anyhow!("[redteam] has no target")),
        };
        let target = match target {
            Ok(t) => t,
            Err(e) => {
                out.push((
                    "redteam".into(),
                    "redteam",
                    Err(e),
                    t.elapsed().as_secs_f64(),
                ));
                return out;
            }
        };
        let before = self.redteam("redteam", &target, None, log);
        let ok = before.is_ok();
        out.push((
            "redteam".into(),
            "redteam",
            before,
            t.elapsed().as_secs_f64(),
        ));
        if let Some(g) = p.guard.as_ref().filter(|_| ok && with_guard) {
            let t = Instant::now();
            let audit = self.dir.join("guard-audit.jsonl");
            let _ = std::fs::remove_file(&audit);
            let mut argv: Vec<OsString> = vec![
                "guard".into(),
                "--upstream".into(),
                target.clone().into(),
                "--policy".into(),
                g.policy.clone().into(),
                "--port".into(),
                "0".into(),
                "--audit".into(),
                audit.clone().into(),
            ];
            argv.extend(g.args.iter().map(OsString::from));
            self.say("guard: started (the red team again, through aisec guard)");
            let guarded = self
                .server(&argv, &self.dir.join("guard.log"))
                .and_then(|(child, url)| {
                    let baseline = self.dir.join("redteam.json");
                    let r = self.redteam(
                        "guard",
                        &format!("{url}/v1"),
                        Some(&baseline),
                        &self.dir.join("guard-redteam.log"),
                    );
                    drop(child);
                    let mut r = r?;
                    let lines = std::fs::read_to_string(&audit).map_or(0, |s| {
                        s.lines().filter(|l| !l.trim().is_empty()).count()
                    });
                    r.metrics.insert(
                        "guard".into(),
                        serde_json::json!({"policy": self.loaded.path(&g.policy).display().to_string(), "audit": audit.display().to_string(), "audit_lines": lines}),
                    );
                    // The stage's file gets the audit count too, for `aisec comply --evidence`.
                    fs_err::write(
                        self.dir.join("guard.json"),
                        serde_json::to_vec_pretty(&r)?,
                    )?;
                    Ok(r)
                });
            out.push(("guard".into(), "guard", guarded, t.elapsed().as_secs_f64()));
        }
        drop(server);
        out
    }

    fn redteam(
        &self,
        name: &str,
        target: &str,
        baseline: Option<&Path>,
        log: &Path,
    ) -> anyhow::Result<Report> {
        let rt = self.loaded.project.redteam.as_ref().expect("redteam");
        let model = rt
            .model
            .clone()
            .or_else(|| rt.serve.as_ref().map(|s| s.model.clone()))
            .unwrap_or_else(|| "default".into());
        let mut argv: Vec<OsString> = vec![
            "redteam".into(),
            "--target".into(),
            target.into(),
            "--model".into(),
            model.into(),
            "--exit-zero".into(),
            "--transcript".into(),
            self.dir.join(format!("{name}.jsonl")).into(),
        ];
        let _ = std::fs::remove_file(self.dir.join(format!("{name}.jsonl")));
        if let Some(k) = &rt.api_key_env {
            argv.extend(["--api-key-env".into(), k.into()]);
        }
        if !rt.probes.is_empty() {
            argv.extend(["--probes".into(), rt.probes.join(",").into()]);
        }
        if !rt.canary.is_empty() {
            argv.extend(["--canary".into(), rt.canary.join(",").into()]);
        }
        let sp = rt
            .system_prompt
            .as_ref()
            .or_else(|| rt.serve.as_ref().and_then(|s| s.system_prompt.as_ref()));
        if let Some(sp) = sp {
            argv.extend(["--system-prompt".into(), sp.into()]);
        }
        let tools = rt
            .tools
            .as_ref()
            .or_else(|| rt.serve.as_ref().and_then(|s| s.tools.as_ref()));
        if let Some(t) = tools {
            argv.extend(["--tools".into(), t.into()]);
        }
        if let Some(b) = baseline {
            argv.extend(["--baseline".into(), b.into()]);
        }
        argv.extend(rt.args.iter().map(OsString::from));
        self.report_stage(name, &argv, log)
    }

    /// Runs `aisec ARGV` with its output in `log`; exit codes 0, 1 and 3 mean it finished.
    fn aisec(&self, argv: &[OsString], log: &Path) -> anyhow::Result<()> {
        let file = fs_err::File::create(log)?;
        let status = Command::new(&self.exe)
            .args(argv)
            .current_dir(&self.loaded.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.file().try_clone()?))
            .stderr(Stdio::from(file.into_parts().0))
            .status()
            .context("cannot start aisec")?;
        match status.code() {
            Some(0 | 1 | 3) => Ok(()),
            code => bail!(
                "`aisec {}` ended with {}: {}",
                argv.first()
                    .map(|a| a.to_string_lossy())
                    .unwrap_or_default(),
                code.map_or_else(|| "a signal".into(), |c| format!("exit code {c}")),
                last_error(log)
            ),
        }
    }

    /// Starts a server (`models serve`, `guard`) and waits for its `listening on URL` line.
    fn server(&self, argv: &[OsString], log: &Path) -> anyhow::Result<(Server, String)> {
        let file = fs_err::File::create(log)?;
        let mut child = Command::new(&self.exe)
            .args(argv)
            .current_dir(&self.loaded.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(file.into_parts().0))
            .spawn()
            .context("cannot start aisec")?;
        let stdout = child.stdout.take().expect("piped");
        let server = Server(child);
        let mut line = String::new();
        BufReader::new(std::io::Read::take(stdout, 4096))
            .read_line(&mut line)
            .context("reading the server's address")?;
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .map(str::to_owned)
            .with_context(|| {
                format!(
                    "`aisec {}` did not start: {}",
                    argv.first()
                        .map(|a| a.to_string_lossy())
                        .unwrap_or_default(),
                    last_error(log)
                )
            })?;
        Ok((server, url))
    }
}

/// A child server, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The stages `aisec.toml` configures, threat model and compliance aside.
fn plan(loaded: &Loaded) -> Vec<Stage> {
    let p: &Config = &loaded.project;
    let mut out = Vec::new();
    if let Some(s) = &p.scan {
        let mut argv: Vec<OsString> = vec!["scan".into()];
        argv.extend(s.paths.iter().map(OsString::from));
        argv.push("--exit-zero".into());
        out.push(Stage {
            name: "scan".into(),
            command: "scan",
            work: Work::Report(argv),
        });
    }
    let numbered = |base: &str, i: usize, n: usize| {
        if n == 1 {
            base.to_owned()
        } else {
            format!("{base}-{}", i + 1)
        }
    };
    for (i, v) in p.verify.iter().enumerate() {
        let mut argv: Vec<OsString> = vec!["verify".into(), v.model.clone().into()];
        if let Some(s) = &v.signature {
            argv.extend(["--signature".into(), s.into()]);
        }
        if let Some(k) = &v.public_key {
            argv.extend(["--public-key".into(), k.into()]);
        }
        if !v.certificate_chain.is_empty() {
            argv.push("--certificate-chain".into());
            argv.extend(v.certificate_chain.iter().map(OsString::from));
        }
        if !v.ignore_paths.is_empty() {
            argv.push("--ignore-paths".into());
            argv.extend(v.ignore_paths.iter().map(OsString::from));
        }
        out.push(Stage {
            name: numbered("verify", i, p.verify.len()),
            command: "verify",
            work: Work::Report(argv),
        });
    }
    for (i, b) in p.bom.iter().enumerate() {
        let mut argv: Vec<OsString> = vec!["bom".into(), b.model.clone().into()];
        if let Some(id) = &b.model_id {
            argv.extend(["--model-id".into(), id.into()]);
        }
        out.push(Stage {
            name: numbered("bom", i, p.bom.len()),
            command: "bom",
            work: Work::Bom(argv),
        });
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &p.attack {
        let (words, command) = a.kind.command();
        let n = seen.entry(command).or_insert(0);
        *n += 1;
        let name = a.name.clone().unwrap_or_else(|| {
            if p.attack.iter().filter(|x| x.kind == a.kind).count() > 1 {
                format!("{command}-{n}")
            } else {
                command.to_owned()
            }
        });
        let mut argv: Vec<OsString> = words.iter().map(OsString::from).collect();
        if let Some(m) = &a.model {
            argv.extend(["--model".into(), m.into()]);
        }
        if let Some(d) = &a.data {
            argv.extend(["--data".into(), d.into()]);
        }
        argv.extend(a.args.iter().map(OsString::from));
        argv.push("--exit-zero".into());
        out.push(Stage {
            name,
            command,
            work: Work::Report(argv),
        });
    }
    if p.redteam.is_some() {
        out.push(Stage {
            name: "redteam".into(),
            command: "redteam",
            work: Work::Llm(p.guard.is_some()),
        });
    }
    // The slowest first, so the pool ends together: the red team, then attacks, then the rest.
    out.sort_by_key(|s| match s.work {
        Work::Llm(_) => 0,
        _ if s.command.starts_with("attack") || s.command.starts_with("defend") => 1,
        _ => 2,
    });
    out
}

/// The word `--only`/`--skip` also accept for a stage (`attack` for every attack).
fn kind_of(command: &str) -> &str {
    if command.starts_with("attack") || command.starts_with("defend") {
        "attack"
    } else {
        command
    }
}

/// Report order of stages.
fn order(name: &str) -> (u8, String) {
    let rank = [
        "scan",
        "verify",
        "bom",
        "attack",
        "defend",
        "redteam",
        "guard",
        "threat-model",
    ]
    .iter()
    .position(|p| name.starts_with(p))
    .unwrap_or(9) as u8;
    (rank, name.to_owned())
}

/// One report from the stages': every finding and target, each stage's metrics, tables and
/// charts under its name, and `metrics.assess` with the stage list.
fn merge(loaded: &Loaded, done: &[Done]) -> Report {
    let mut report = super::report_out::new_report();
    let mut fingerprints = HashSet::new();
    let mut targets = HashSet::new();
    let mut stages = Vec::new();
    let mut table_ids = HashSet::new();
    for d in done {
        stages.push(serde_json::json!({
            "name": d.name,
            "command": d.command,
            "outcome": d.outcome,
            "seconds": (d.seconds * 1000.0).round() / 1000.0,
            "findings": d.report.as_ref().map_or(0, |r| r.findings.len()),
            "log": d.log.display().to_string(),
        }));
        let Some(r) = &d.report else { continue };
        for t in &r.targets {
            if targets.insert((t.path.clone(), t.member.clone())) {
                report.targets.push(t.clone());
            }
        }
        for f in &r.findings {
            if fingerprints.insert((f.rule.clone(), f.fingerprint.clone())) {
                report.findings.push(f.clone());
            }
        }
        report
            .metrics
            .insert(d.name.clone(), serde_json::Value::Object(r.metrics.clone()));
        for t in &r.tables {
            let mut t = t.clone();
            if !table_ids.insert(t.id.clone()) {
                t.id = format!("{}-{}", d.name, t.id);
                table_ids.insert(t.id.clone());
            }
            report.tables.push(t);
        }
        for c in &r.charts {
            let mut c = c.clone();
            if report.charts.iter().any(|x| x.id == c.id) {
                c.id = format!("{}-{}", d.name, c.id);
            }
            report.charts.push(c);
        }
        report.artifacts.extend(r.artifacts.iter().cloned());
    }
    // Attack success before and after the guard, per family, as a bar chart.
    if let Some(g) = done
        .iter()
        .find(|d| d.name == "guard")
        .and_then(|d| d.report.as_ref())
        && let Some(fams) = g.metrics["redteam"]["before_after"]["families"].as_array()
    {
        let asr = |f: &serde_json::Value, k: &str| f[k]["asr"].as_f64().unwrap_or(0.0);
        let names: Vec<String> = fams
            .iter()
            .filter_map(|f| f["family"].as_str().map(str::to_owned))
            .collect();
        let points = |k: &str| {
            fams.iter()
                .enumerate()
                .map(|(i, f)| [i as f64, asr(f, k)])
                .collect::<Vec<_>>()
        };
        report.charts.push(aisec_core::Chart {
            id: "guard-before-after".into(),
            title: "Attack success rate per family, without and with the guard".into(),
            x_label: "family".into(),
            y_label: "attack success rate".into(),
            x_log: false,
            y_log: false,
            y_range: Some([0.0, 1.0]),
            categories: names,
            series: vec![
                aisec_core::Series {
                    name: "without the guard".into(),
                    points: points("before"),
                },
                aisec_core::Series {
                    name: "through the guard".into(),
                    points: points("after"),
                },
            ],
        });
    }
    report.metrics.insert(
        "assess".into(),
        serde_json::json!({
            "project": loaded.name(),
            "description": loaded.project.project.description,
            "config": loaded.file.display().to_string(),
            "stages": stages,
        }),
    );
    report
}

/// Evaluates the compliance frameworks on the stages' reports and adds the result.
fn comply_into(
    loaded: &Loaded,
    done: &[Done],
    tracked: bool,
    report: &mut Report,
) -> anyhow::Result<()> {
    let runs: Vec<aisec_comply::Run<'_>> = done
        .iter()
        .filter_map(|d| {
            d.report.as_ref().map(|r| aisec_comply::Run {
                command: &d.command,
                report: r,
            })
        })
        .collect();
    let mut ev = aisec_comply::Evidence::from_runs(&runs);
    if tracked {
        ev.add(
            "findings-tracked",
            aisec_comply::State::Passing("the run is kept in the findings store".into()),
        );
    }
    let fw = aisec_comply::Frameworks::builtin();
    let a = aisec_comply::evaluate(fw, &loaded.project.comply, &ev)?;
    let config = loaded.file.display().to_string();
    let mut seen: HashSet<String> = report
        .findings
        .iter()
        .map(|f| f.fingerprint.clone())
        .collect();
    for f in a.findings(&config) {
        if seen.insert(f.fingerprint.clone()) {
            report.findings.push(f);
        }
    }
    report.tables.extend(a.tables(fw));
    report.metrics.insert("comply".into(), a.metrics());
    Ok(())
}

/// The pictures (PNG, SVG) the stages wrote, for the HTML report.
fn embedded(report: &Report) -> BTreeMap<String, Vec<u8>> {
    report
        .artifacts
        .iter()
        .filter(|a| matches!(a.media_type.as_str(), "image/png" | "image/svg+xml"))
        .filter_map(|a| {
            read_bounded(Path::new(&a.path), MAX_EMBEDDED)
                .ok()
                .map(|b| (a.path.clone(), b))
        })
        .collect()
}

fn read_bounded(path: &Path, limit: u64) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    fs_err::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    anyhow::ensure!(
        bytes.len() as u64 <= limit,
        "`{}` is larger than {limit} bytes",
        path.display()
    );
    Ok(bytes)
}

fn read_report(path: &Path) -> anyhow::Result<Report> {
    let bytes = read_bounded(path, MAX_STAGE_REPORT)?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("`{}` is not an aisec JSON report", path.display()))
}

/// The command that wrote a report, from what it holds.
fn infer_command(r: &Report) -> Option<String> {
    for (key, command) in [
        ("evasion", "attack-evasion"),
        ("privacy", "attack-privacy"),
        ("extract", "attack-extract"),
        ("poison", "attack-poison"),
        ("backdoor", "defend-backdoor"),
        ("threat_model", "threat-model"),
        ("bom", "bom"),
    ] {
        if r.metrics.contains_key(key) {
            return Some(command.into());
        }
    }
    if r.metrics.contains_key("redteam") {
        let guarded = r.metrics.contains_key("guard")
            || r.findings.iter().any(|f| f.message.contains("guard"))
                && r.metrics["redteam"].get("before_after").is_some();
        return Some(if guarded { "guard" } else { "redteam" }.into());
    }
    let prefix = r.findings.first().map(|f| &f.rule.as_str()[..2]);
    match prefix {
        Some("PV") => Some("verify".into()),
        Some("MS") => Some("scan".into()),
        _ if !r.targets.is_empty() => Some("scan".into()),
        _ => None,
    }
}

/// The last `error:` line of a log, or its last line.
fn last_error(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines
        .iter()
        .rposition(|l| l.starts_with("error"))
        .map_or_else(
            || lines.last().copied().unwrap_or("no output").to_owned(),
            |i| lines[i..].join(" "),
        )
}
