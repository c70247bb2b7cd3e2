//! The findings store end to end: real `aisec scan` runs kept in a SQLite file (and in a real
//! PostgreSQL server when `AISEC_TEST_POSTGRES` names one), then `history`, `diff` after a fix,
//! suppressions with a reason and an expiry, concurrent writers, and the threat model taking its
//! evidence from the store.

mod common;

use std::path::Path;
use std::process::Command;

use common::{root, run};
use serde_json::Value;

fn aisec(store: &str, args: &[&str]) -> (i32, String, String) {
    run(Command::new(env!("CARGO_BIN_EXE_aisec"))
        .args(args)
        .args(["--store", store]))
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A project folder with three model files: two with code in them, one clean.
fn project(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("project");
    std::fs::create_dir_all(&p).unwrap();
    for f in ["payload.pkl", "pytorch_model.bin", "model.safetensors"] {
        std::fs::copy(root().join("examples/models").join(f), p.join(f)).unwrap();
    }
    p
}

fn scan(store: &str, path: &Path) -> Value {
    let (code, out, err) = aisec(
        store,
        &[
            "scan",
            path.to_str().unwrap(),
            "--format",
            "json",
            "--exit-zero",
        ],
    );
    assert_eq!(code, 0, "{err}");
    json(&out)
}

fn exercise(store: &str, dir: &Path) {
    let p = project(dir);
    let first = scan(store, &p);
    let run1 = first["metrics"]["store"]["run"].as_i64().unwrap();
    let payload: Vec<String> = first["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["location"]["path"]
                .as_str()
                .unwrap()
                .ends_with("payload.pkl")
        })
        .map(|f| f["fingerprint"].as_str().unwrap().to_owned())
        .collect();
    assert!(!payload.is_empty());
    let others = first["findings"].as_array().unwrap().len() - payload.len();
    assert!(others > 0);

    // The fix: the malicious pickle is removed. The diff shows its findings fixed.
    std::fs::remove_file(p.join("payload.pkl")).unwrap();
    let second = scan(store, &p);
    let run2 = second["metrics"]["store"]["run"].as_i64().unwrap();
    assert!(run2 > run1);
    let (code, out, err) = aisec(store, &["diff", "--command", "scan", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let d = json(&out);
    assert_eq!(
        (d["before"].as_i64(), d["after"].as_i64()),
        (Some(run1), Some(run2))
    );
    let fixed: Vec<&str> = d["diff"]["fixed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fingerprint"].as_str().unwrap())
        .collect();
    assert_eq!(fixed.len(), payload.len());
    assert!(payload.iter().all(|fp| fixed.contains(&fp.as_str())));
    assert_eq!(d["diff"]["unchanged"].as_array().unwrap().len(), others);
    assert!(d["diff"]["new"].as_array().unwrap().is_empty());
    let (_, human, _) = aisec(store, &["diff", &run1.to_string(), &run2.to_string()]);
    assert!(
        human.contains(&format!("fixed: {}", payload.len())),
        "{human}"
    );

    // History lists both, latest first.
    let (code, out, err) = aisec(store, &["history", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let h = json(&out);
    let ids: Vec<i64> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(&ids[..2], [run2, run1]);

    // Accepting one remaining finding: the next scan leaves it out and lists it as suppressed.
    let accepted = second["findings"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, _, err) = aisec(store, &["suppress", &accepted]);
    assert_eq!(code, 2, "a reason is required: {err}");
    assert!(err.contains("--reason"), "{err}");
    let (code, out, err) = aisec(
        store,
        &[
            "suppress",
            &accepted,
            "--reason",
            "vendor model, reviewed",
            "--expires",
            "2999-12-31",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2999-12-31T23:59:59.999Z"), "{out}");
    let third = scan(store, &p);
    assert!(
        third["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["fingerprint"] != accepted.as_str())
    );
    assert_eq!(
        third["metrics"]["store"]["suppressed"][0],
        accepted.as_str()
    );
    let (_, out, _) = aisec(store, &["diff", "--command", "scan", "--format", "json"]);
    assert_eq!(
        json(&out)["diff"]["suppressed"].as_array().unwrap().len(),
        1
    );
    let (_, out, _) = aisec(store, &["suppress", "--list"]);
    assert!(
        out.contains(&accepted) && out.contains("vendor model, reviewed"),
        "{out}"
    );

    // A new finding makes `diff --fail-on-new` fail: the pickle is back.
    std::fs::copy(
        root().join("examples/models/payload.pkl"),
        p.join("payload.pkl"),
    )
    .unwrap();
    scan(store, &p);
    let (code, _, _) = aisec(store, &["diff", "--command", "scan", "--fail-on-new"]);
    assert_eq!(code, 1);

    // Writers at once (CI jobs): every run kept.
    let before = json(&aisec(store, &["history", "--limit", "1000", "--format", "json"]).1)
        .as_array()
        .unwrap()
        .len();
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_aisec"))
                .args([
                    "scan",
                    p.to_str().unwrap(),
                    "--format",
                    "json",
                    "--exit-zero",
                    "--quiet",
                ])
                .args(["--store", store])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let after = json(&aisec(store, &["history", "--limit", "1000", "--format", "json"]).1)
        .as_array()
        .unwrap()
        .len();
    assert_eq!(after, before + 4);

    // The threat model takes the newest scan as evidence: the pickle's threat is confirmed.
    let model = dir.join("m.yaml");
    std::fs::write(
        &model,
        "system: Pickle demo\nelements:\n  - id: svc\n    kind: process\n  - id: clf\n    kind: model\n    format: pickle\n    path: payload.pkl\nflows:\n  - from: clf\n    to: svc\n",
    )
    .unwrap();
    let (code, out, err) = aisec(
        store,
        &[
            "threat-model",
            model.to_str().unwrap(),
            "--evidence-from-store",
            "--format",
            "json",
            "--exit-zero",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let r = json(&out);
    let tm100 = r["metrics"]["threat_model"]["threat_list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["rule"] == "TM100")
        .unwrap();
    assert_eq!(tm100["status"]["status"], "confirmed", "{tm100}");
    assert_eq!(
        r["metrics"]["threat_model"]["evidence_runs"][0]["command"],
        "scan"
    );
}

#[test]
fn sqlite_store_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("findings.db").display());
    exercise(&store, dir.path());
    // Bad store URLs are usage errors.
    let (code, _, err) = aisec("mysql://x/y", &["history"]);
    assert_eq!(code, 2);
    assert!(err.contains("sqlite:PATH"), "{err}");
}

#[test]
fn postgres_store_end_to_end() {
    let Some(url) = std::env::var("AISEC_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        assert!(
            std::env::var_os("AISEC_REQUIRE_POSTGRES").is_none(),
            "AISEC_REQUIRE_POSTGRES is set but AISEC_TEST_POSTGRES is not"
        );
        return;
    };
    let name = format!("aisec_cli_{}", std::process::id());
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
    let dir = tempfile::tempdir().unwrap();
    exercise(&format!("{base}/{name}"), dir.path());
    drop(admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")));
}
