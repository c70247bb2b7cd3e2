//! `aisec attack poison` end to end on the real digits data set (fetched once through the pinned
//! resolver into the target directory's cache): the acceptance figures, the report, the
//! artifacts and the exit status.

mod common;

use std::path::{Path, PathBuf};

use common::aisec_cached as aisec;
use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("poison-tests-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn row<'a>(table: &'a Value, model: &str, rate: &str) -> &'a Vec<Value> {
    table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap())
        .find(|r| r[0] == model && r[1] == rate)
        .unwrap_or_else(|| panic!("no row {model} {rate} in {table}"))
}

fn number(v: &Value) -> f64 {
    v.as_str().unwrap().parse().unwrap()
}

/// The check: BadNets at 5% on digits reaches an attack success of at least 0.95 with a
/// clean-accuracy drop of at most 0.01 (deterministic seeds); the report and artifacts carry the
/// evidence; AT110 fails the run at the default `--fail-on high`.
#[test]
fn badnets_on_digits_meets_the_acceptance_figures() {
    let dir = scratch("badnets");
    let report_path = dir.join("report.json");
    let (code, out, err) = aisec(&[
        "attack",
        "poison",
        "--data",
        "digits",
        "--kind",
        "mlp",
        "--attack",
        "badnets",
        "--rate",
        "0.05",
        "--target",
        "0",
        "--defense",
        "fine-prune",
        "--seed",
        "0",
        "-f",
        "json",
        "-o",
        report_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "a working backdoor fails the run: {out}{err}");
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    let table = &report["tables"][0];
    let twin = row(table, "clean twin", "0");
    let victim = row(table, "victim", "0.05");
    let asr = number(&victim[5]);
    let drop = number(&twin[3]) - number(&victim[3]);
    assert!(asr >= 0.95, "attack success {asr}");
    assert!(drop <= 0.01, "clean accuracy drop {drop}");
    assert!(
        number(&twin[5]) < 0.05,
        "the trigger alone moves the clean twin"
    );
    assert_eq!(victim[2], "72", "5% of 1438 training rows");

    let findings = report["findings"].as_array().unwrap();
    let at110 = findings.iter().find(|f| f["rule"] == "AT110").unwrap();
    assert_eq!(at110["severity"], "high");
    assert!(
        at110["taxonomy"]["atlas"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "AML.T0020")
    );
    assert!(
        findings.iter().any(|f| f["rule"] == "AT113"),
        "fine-pruning measured"
    );
    let defenses = &report["tables"][1];
    assert_eq!(defenses["rows"][0][1], "fine-pruning");

    // Pictures and data beside the report, listed with their hashes.
    let artifacts = dir.join("report-artifacts");
    for name in [
        "trigger.png",
        "poisoned-examples.png",
        "poisoning.svg",
        "train_x.npy",
        "poisoned_x-rate-0.05.npy",
        "poison_idx-rate-0.05.npy",
        "victim-model-rate-0.05/model.safetensors",
        "clean-twin-model/architecture.json",
    ] {
        assert!(artifacts.join(name).is_file(), "{name} missing");
    }
    let listed = report["artifacts"].as_array().unwrap();
    assert!(
        listed
            .iter()
            .all(|a| a["sha256"].as_str().unwrap().len() == 64)
    );

    // The victim saved there is the backdoored one: `aisec attack poison` outputs are usable by
    // the other commands.
    let png = std::fs::read(artifacts.join("trigger.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
}

#[test]
fn label_flipping_and_bad_flags() {
    let (code, out, err) = aisec(&[
        "attack",
        "poison",
        "--data",
        "digits",
        "--kind",
        "logistic",
        "--attack",
        "label-flip",
        "--target",
        "1",
        "--source",
        "7",
        "--rate",
        "0.1",
        "-f",
        "json",
        "--exit-zero",
    ]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let f = &report["findings"][0];
    assert_eq!(f["rule"], "AT111");
    // Every row of class 7 (about 10% of the set) is flipped: most sevens now read as ones.
    let asr = number(&row(&report["tables"][0], "victim", "0.1")[5]);
    assert!(asr > 0.5, "{asr}");

    for bad in [
        vec!["--rate", "1.5"],
        vec!["--target", "10"],
        vec!["--patch-position", "nowhere"],
        vec!["--patch-size", "9"],
        vec!["--attack", "clean-label", "--source", "3"],
    ] {
        let mut args = vec!["attack", "poison", "--data", "digits", "--kind", "logistic"];
        args.extend(bad.iter().copied());
        let (code, _, err) = aisec(&args);
        assert_eq!(code, 2, "{bad:?} should be refused: {err}");
        assert!(err.contains("error"), "{err}");
    }
}

/// The checks on the CNN at 5% BadNets: activation clustering removes at least 90% of the
/// poison and retraining without what it flagged removes the backdoor; Neural Cleanse, given only
/// the victim (and then its clean twin) from the artifacts, flags the right one.
#[test]
fn activation_clustering_and_neural_cleanse_on_a_backdoored_cnn() {
    let dir = scratch("ac");
    let report_path = dir.join("report.json");
    let (code, out, err) = aisec(&[
        "attack",
        "poison",
        "--data",
        "digits",
        "--kind",
        "cnn",
        "--attack",
        "badnets",
        "--rate",
        "0.05",
        "--defense",
        "ac",
        "--seed",
        "0",
        "-f",
        "json",
        "-o",
        report_path.to_str().unwrap(),
        "--exit-zero",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    let victim = row(&report["tables"][0], "victim", "0.05");
    assert!(number(&victim[5]) >= 0.95, "the backdoor took: {victim:?}");
    let ac = row(&report["tables"][1], "0.05", "activation-clustering");
    let (precision, recall) = (number(&ac[3]), number(&ac[4]));
    assert!(recall >= 0.9, "recall {recall}");
    assert!(precision >= 0.5, "precision {precision}");
    assert!(
        number(&ac[6]) < 0.1,
        "the backdoor survived the filter: {ac:?}"
    );
    let at112 = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "AT112")
        .expect("AT112");
    assert_eq!(at112["severity"], "info");

    // The model side, on the same models with no access to their training data: Neural Cleanse
    // flags the backdoored victim with an anomaly index above 2 and names class 0, and does not
    // flag the clean twin.
    let artifacts = dir.join("report-artifacts");
    let defend = |model: &str| -> Value {
        let (code, out, err) = aisec(&[
            "defend",
            "backdoor",
            "--model",
            artifacts.join(model).to_str().unwrap(),
            "--data",
            "digits",
            "--seed",
            "0",
            "-f",
            "json",
            "--exit-zero",
        ]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap()
    };
    let backdoored = defend("victim-model-rate-0.05");
    let verdict = &backdoored["metrics"]["backdoor"];
    assert_eq!(verdict["verdict"], "backdoored", "{verdict}");
    assert_eq!(verdict["suspected_target"], 0);
    let classes = verdict["neural_cleanse"]["classes"].as_array().unwrap();
    let target = classes.iter().find(|c| c["class"] == 0).unwrap();
    assert!(target["anomaly_index"].as_f64().unwrap() > 2.0, "{target}");
    assert!(
        backdoored["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "AT120")
    );
    let clean = defend("clean-twin-model");
    assert_eq!(
        clean["metrics"]["backdoor"]["verdict"], "no backdoor found",
        "{}",
        clean["metrics"]["backdoor"]
    );
}
