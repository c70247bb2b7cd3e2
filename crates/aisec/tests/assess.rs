//! `aisec assess` end to end on the shipped example project (`examples/northwind-support`), with
//! nothing mocked: every stage runs as the real command (the red team against the real SmolLM2,
//! then through the real guard), the run is kept in a real store (SQLite, and PostgreSQL when
//! `.ci/run` started one), a fix makes `aisec diff` show the finding fixed, two assessments
//! writing at once lose nothing, and the HTML report is opened in headless Chromium.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{chromium, rgba, root};
use serde_json::Value;

/// A copy of the example project (without any report a person left in it) under `dir`.
fn example_copy(dir: &Path) -> PathBuf {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let name = e.file_name();
            if name == "aisec-report" {
                continue;
            }
            let target = to.join(&name);
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), &target).unwrap();
            }
        }
    }
    let to = dir.join("northwind-support");
    copy(&root().join("examples/northwind-support"), &to);
    to
}

fn assess(project: &Path, store: &str, out: &Path, extra: &[&str]) -> (i32, String, String) {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aisec-cache");
    common::run(
        Command::new(env!("CARGO_BIN_EXE_aisec"))
            .arg("assess")
            .arg(project)
            .arg("--store")
            .arg(store)
            .arg("--out")
            .arg(out)
            .args(["--exit-zero", "--format", "json"])
            .args(extra)
            .env("AISEC_CACHE_DIR", cache),
    )
}

/// The run id `aisec assess` reports on stderr (`kept as run N in …`).
fn run_id(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("kept as run "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no run kept: {stderr}"))
        .to_owned()
}

fn diff(store: &str, before: &str, after: &str) -> Value {
    let (code, out, err) = common::aisec(&["diff", before, after, "--store", store, "-f", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    v["diff"].clone()
}

fn rules_of(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_owned())
        .collect()
}

/// The stages that need no model server and no training: fast and deterministic everywhere.
const QUICK: &[&str] = &["--skip", "redteam,guard,attack"];

#[test]
fn the_example_assessed_end_to_end_then_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let project = example_copy(dir.path());
    let store = format!("sqlite:{}", dir.path().join("findings.db").display());
    let out1 = dir.path().join("first");
    let (code, stdout, err) = assess(&project, &store, &out1, &[]);
    assert_eq!(code, 0, "{err}");
    // Progress went to stderr, stage by stage.
    for stage in [
        "scan",
        "verify-1",
        "verify-2",
        "bom",
        "attack-evasion",
        "attack-privacy",
        "redteam",
        "guard",
        "threat-model",
        "comply",
    ] {
        assert!(
            err.contains(&format!("[assess] {stage}: done")),
            "{stage}: {err}"
        );
    }
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let on_disk: Value =
        serde_json::from_str(&std::fs::read_to_string(out1.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["findings"], on_disk["findings"]);
    for f in ["report.html", "report.md", "report.sarif"] {
        assert!(out1.join(f).exists(), "{f}");
    }
    let stages = report["metrics"]["assess"]["stages"].as_array().unwrap();
    for s in stages {
        assert_eq!(s["outcome"], "done", "{s}");
    }
    let rules = rules_of(&report["findings"]);
    let has = |r: &str| rules.iter().any(|x| x == r);
    // The malicious download, the tampered model, the chatbot's leak, the threat model's
    // threats, and compliance evidence still missing.
    for r in ["MS102", "PV110", "RT150", "TM132", "CP100"] {
        assert!(has(r), "no {r} in {rules:?}");
    }
    // Through the guard the leak is gone: its stage's own report has no RT150.
    let guard: Value =
        serde_json::from_str(&std::fs::read_to_string(out1.join("stages/guard.json")).unwrap())
            .unwrap();
    assert!(!rules_of(&guard["findings"]).contains(&"RT150".to_owned()));
    assert!(guard["metrics"]["guard"]["audit_lines"].as_u64().unwrap() > 0);
    // The charts the report promises.
    let charts: Vec<&str> = report["charts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(charts.contains(&"robust-accuracy"), "{charts:?}");
    assert!(charts.iter().any(|c| c.contains("roc")), "{charts:?}");
    assert!(charts.contains(&"guard-before-after"), "{charts:?}");
    // Compliance with every piece of evidence the example produces.
    let comply = &report["metrics"]["comply"];
    assert_eq!(comply["eu_ai_act_tier"], "limited");
    assert!(
        comply["by_framework"]["nist-ai-600-1"].is_object(),
        "{comply}"
    );
    let table = |id: &str| {
        report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap_or_else(|| panic!("no table {id}"))
            .clone()
    };
    let iso = table("comply-iso42001");
    let row = |t: &Value, id: &str| {
        t["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r[0] == id)
            .unwrap()
            .clone()
    };
    // A.6.2.4 (verification and validation): robustness, privacy and the red team all ran, the
    // red team found attacks that work: partly evidenced, with what fails.
    assert_eq!(row(&iso, "A.6.2.4")[2], "partly");
    // A.2.2 (AI policy) is attested in aisec.toml.
    assert_eq!(row(&iso, "A.2.2")[2], "evidenced");
    assert!(row(&iso, "A.2.2")[4].as_str().unwrap().contains("CTO"));

    browser_check(&out1.join("report.html"), dir.path());

    // The fix: the malicious download is deleted. The next assessment's diff shows its
    // findings fixed, and nothing new.
    let first = run_id(&err);
    std::fs::remove_file(project.join("downloads/pytorch_model.bin")).unwrap();
    let (code, _, err) = assess(&project, &store, &dir.path().join("second"), &[]);
    assert_eq!(code, 0, "{err}");
    let second = run_id(&err);
    let d = diff(&store, &first, &second);
    let fixed = rules_of(&d["fixed"]);
    assert!(fixed.contains(&"MS102".to_owned()), "{d:#}");
    assert!(fixed.contains(&"MS106".to_owned()), "{d:#}");
    assert_eq!(d["new"].as_array().unwrap().len(), 0, "{d:#}");
    let (code, out, err) = common::aisec(&["history", "--store", &store, "--command", "assess"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 2, "{out}");
}

/// Opens the report in headless Chromium: the screenshot has the page's colours, the DOM has
/// every section, no console error is logged, and nothing outside the file is referenced.
fn browser_check(html: &Path, dir: &Path) {
    let text = std::fs::read_to_string(html).unwrap();
    // Offline: every src and href is a data: URI or an anchor in the page.
    for attr in ["src=\"", "href=\""] {
        for (i, _) in text.match_indices(attr) {
            let value = &text[i + attr.len()..];
            assert!(
                value.starts_with("data:") || value.starts_with('#'),
                "external reference: {}",
                &value[..value.len().min(80)]
            );
        }
    }
    assert!(!text.contains("<script"), "the report has no script");
    let Some(browser) = chromium() else { return };
    let run = |page: &Path, extra: &[&str]| {
        let profile = tempfile::tempdir_in(dir).unwrap();
        common::headless(&browser, profile.path(), 1400, 1800)
            .args(["--enable-logging=stderr", "--log-level=0"])
            .args(extra)
            .arg(format!("file://{}", page.display()))
            .output()
            .expect("run chromium")
    };
    let console_errors = |stderr: &str| -> Vec<String> {
        stderr
            .lines()
            .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("Refused to"))
            .map(str::to_owned)
            .collect()
    };
    // The detector sees errors on a page that has them, so its silence below means something.
    let bad = dir.join("bad.html");
    std::fs::write(
        &bad,
        "<!doctype html><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:\"><img src=\"http://192.0.2.1/x.png\"><script>throw new Error('boom')</script>",
    )
    .unwrap();
    let out = run(&bad, &["--dump-dom"]);
    assert!(
        !console_errors(&String::from_utf8_lossy(&out.stderr)).is_empty(),
        "the console check sees nothing on a broken page:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(html, &["--dump-dom"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors = console_errors(&stderr);
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    let dom = String::from_utf8_lossy(&out.stdout);
    for id in [
        "summary",
        "findings",
        "compliance",
        "charts",
        "dfd",
        "transcripts",
        "atlas",
        "tables",
        "artifacts",
    ] {
        assert!(
            dom.contains(&format!("id=\"{id}\"")),
            "section {id} missing"
        );
    }
    assert!(dom.contains("<svg"), "inline SVG charts");
    let shot = dir.join("report.png");
    let out = run(html, &[&format!("--screenshot={}", shot.display())]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::copy(
        &shot,
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("assess-report-screenshot.png"),
    )
    .unwrap();
    let (w, h, px) = rgba(&shot);
    assert_eq!((w, h), (1400, 1800));
    let near = |p: &[u8; 4], c: [u8; 3]| (0..3).all(|i| p[i].abs_diff(c[i]) <= 8);
    // The critical posture banner and badges (#8b0000), and text.
    let critical = px.iter().filter(|p| near(p, [0x8b, 0, 0])).count();
    let dark = px
        .iter()
        .filter(|p| p[0] < 80 && p[1] < 80 && p[2] < 80)
        .count();
    assert!(critical > 2_000, "critical-red pixels: {critical}");
    assert!(dark > 10_000, "text pixels: {dark}");
}

/// Two assessments into one store at the same moment, then a fix: both runs are kept whole, and
/// the diff from either shows the fix.
fn concurrent_then_fixed(store: &str) {
    let dir = tempfile::tempdir().unwrap();
    let project = example_copy(dir.path());
    let (a, b) = std::thread::scope(|s| {
        let one = s.spawn(|| assess(&project, store, &dir.path().join("a"), QUICK));
        let two = s.spawn(|| assess(&project, store, &dir.path().join("b"), QUICK));
        (one.join().unwrap(), two.join().unwrap())
    });
    assert_eq!(a.0, 0, "{}", a.2);
    assert_eq!(b.0, 0, "{}", b.2);
    let (ra, rb) = (run_id(&a.2), run_id(&b.2));
    assert_ne!(ra, rb);
    // Both runs hold every finding: the same set.
    let same = diff(store, &ra, &rb);
    assert_eq!(same["new"].as_array().unwrap().len(), 0, "{same:#}");
    assert_eq!(same["fixed"].as_array().unwrap().len(), 0, "{same:#}");
    let report_a: Value = serde_json::from_str(&a.1).unwrap();
    assert_eq!(
        same["unchanged"].as_array().unwrap().len(),
        report_a["findings"].as_array().unwrap().len()
    );
    std::fs::remove_file(project.join("downloads/pytorch_model.bin")).unwrap();
    let c = assess(&project, store, &dir.path().join("c"), QUICK);
    assert_eq!(c.0, 0, "{}", c.2);
    let d = diff(store, &rb, &run_id(&c.2));
    let fixed = rules_of(&d["fixed"]);
    assert!(fixed.contains(&"MS102".to_owned()), "{d:#}");
    // Deleting the malicious file also made the scan evidence pass: its CP100 is fixed too.
    assert!(fixed.contains(&"CP100".to_owned()), "{d:#}");
    assert_eq!(d["new"].as_array().unwrap().len(), 0, "{d:#}");
}

#[test]
fn concurrent_assessments_into_sqlite_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    concurrent_then_fixed(&format!("sqlite:{}", dir.path().join("team.db").display()));
}

#[test]
fn concurrent_assessments_into_postgres_lose_nothing() {
    let Ok(url) = std::env::var("AISEC_TEST_POSTGRES") else {
        assert!(
            std::env::var_os("AISEC_REQUIRE_POSTGRES").is_none(),
            "AISEC_REQUIRE_POSTGRES is set but AISEC_TEST_POSTGRES is not"
        );
        let _ = writeln!(
            std::io::stderr(),
            "AISEC_TEST_POSTGRES not set: PostgreSQL assessment test not run"
        );
        return;
    };
    concurrent_then_fixed(&url);
}

/// `aisec comply` on the example's stage reports: the same tables as the assessment's compliance
/// stage (without the store's evidence), and a snapshot of every framework's statuses.
#[test]
fn comply_on_the_example() {
    let dir = tempfile::tempdir().unwrap();
    let project = example_copy(dir.path());
    let out = dir.path().join("r");
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aisec-cache");
    let (code, _, err) = common::run(
        Command::new(env!("CARGO_BIN_EXE_aisec"))
            .arg("assess")
            .arg(&project)
            .arg("--out")
            .arg(&out)
            .args(["--no-store", "--exit-zero", "-q"])
            .args(QUICK)
            .env("AISEC_CACHE_DIR", cache),
    );
    assert_eq!(code, 0, "{err}");
    let assessed: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let stages = out.join("stages");
    let evidence: Vec<String> = [
        "scan=scan.json",
        "verify=verify-1.json",
        "verify=verify-2.json",
        "bom.json",
        "threat-model.json",
    ]
    .iter()
    .map(|e| match e.split_once('=') {
        Some((c, f)) => format!("{c}={}", stages.join(f).display()),
        None => stages.join(e).display().to_string(),
    })
    .collect();
    let mut args = vec![
        "comply".to_owned(),
        project.display().to_string(),
        "-f".into(),
        "json".into(),
        "--exit-zero".into(),
        "--evidence".into(),
    ];
    args.extend(evidence);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, err) = common::aisec(&args);
    assert_eq!(code, 0, "{err}");
    let comply: Value = serde_json::from_str(&stdout).unwrap();
    let tables = |r: &Value| -> Vec<Value> {
        r["tables"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["id"].as_str().unwrap().starts_with("comply-"))
            .cloned()
            .collect()
    };
    assert_eq!(tables(&comply), tables(&assessed));
    // The statuses per control, and the ranking: what a reviewer checks when the mapping changes.
    let statuses: Vec<Value> = tables(&comply)
        .iter()
        .map(|t| {
            let rows: Vec<String> = t["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    if t["id"] == "comply-gaps" {
                        format!(
                            "{} improves {} (gaps {})",
                            r[0].as_str().unwrap(),
                            r[2],
                            r[3]
                        )
                    } else {
                        format!("{} {}", r[0].as_str().unwrap(), r[2].as_str().unwrap())
                    }
                })
                .collect();
            serde_json::json!({"table": t["id"], "rows": rows})
        })
        .collect();
    insta::assert_json_snapshot!("comply_example_statuses", statuses);
    insta::assert_json_snapshot!("comply_example_metrics", comply["metrics"]["comply"]);
}
