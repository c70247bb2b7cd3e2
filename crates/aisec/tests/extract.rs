//! `aisec attack extract` end to end on the real data sets (fetched once through the pinned
//! resolver into the target directory's cache), against victims trained here with
//! `aisec models train`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::aisec_cached as aisec;
use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("extract-tests-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A victim trained once per test binary.
fn victim(data: &str, kind: &str) -> PathBuf {
    let dir = scratch(&format!("victim-{data}-{kind}"));
    let (code, out, err) = aisec(&[
        "models",
        "train",
        "--data",
        data,
        "--kind",
        kind,
        "--epochs",
        "40",
        "--seed",
        "0",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    dir
}

fn breast_cancer_logistic() -> &'static Path {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| victim("breast-cancer", "logistic"))
}

fn digits_mlp() -> &'static Path {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| victim("digits", "mlp"))
}

fn extract(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["attack", "extract", "-f", "json"];
    all.extend(args);
    let (code, out, err) = aisec(&all);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    (
        code,
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}")),
    )
}

fn attacks(report: &Value) -> &Vec<Value> {
    report["metrics"]["extract"]["run"]["attacks"]
        .as_array()
        .expect("attacks")
}

fn rules(report: &Value) -> Vec<&str> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect()
}

/// The check end to end: equation solving copies a logistic regression trained on
/// breast-cancer exactly (100% agreement on the held-out test split) within K(d+1) = 62 queries;
/// rounding the answers breaks exactness and top-1 answers leave nothing to solve.
#[test]
fn equation_solving_steals_the_breast_cancer_logistic_model() {
    let model = breast_cancer_logistic();
    let dir = scratch("es");
    let report_path = dir.join("report.json");
    let (code, out, err) = aisec(&[
        "attack",
        "extract",
        "-f",
        "json",
        "--model",
        model.to_str().unwrap(),
        "--data",
        "breast-cancer",
        "--method",
        "equation-solving",
        "--defense",
        "round,top1",
        "--round-decimals",
        "2",
        "-o",
        report_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "an exact copy is a critical finding: {out}{err}");
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    let a = attacks(&report);
    assert_eq!(a.len(), 3);
    let plain = &a[0];
    assert_eq!(plain["defense"], "none");
    assert_eq!(plain["equation_solving"]["status"], "exact", "{plain}");
    assert_eq!(plain["equation_solving"]["fidelity"], 1.0);
    let queries = plain["queries"].as_u64().unwrap();
    assert!(queries <= 2 * 31, "{queries} queries");
    assert_eq!(plain["equation_solving"]["solve_queries"], 31);
    assert_eq!(a[1]["defense"], "round-2");
    assert_ne!(a[1]["equation_solving"]["status"], "exact");
    assert_eq!(a[2]["equation_solving"]["status"], "no-probabilities");

    let r = rules(&report);
    assert!(r.contains(&"AT131"), "{r:?}");
    assert_eq!(r.iter().filter(|x| **x == "AT133").count(), 2);
    let at131 = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "AT131")
        .unwrap();
    assert_eq!(at131["severity"], "critical");
    assert!(
        at131["taxonomy"]["atlas"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "AML.T0024.002")
    );

    // The stolen copy is a model directory the other commands load.
    let copy = dir.join("report-artifacts/copy-equation-solving");
    assert!(copy.join("model.safetensors").is_file());
    let (code, out, err) = aisec(&[
        "attack",
        "extract",
        "-f",
        "json",
        "--model",
        copy.to_str().unwrap(),
        "--data",
        "breast-cancer",
        "--method",
        "equation-solving",
        "--exit-zero",
    ]);
    assert_eq!(code, 0, "{err}");
    let again: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        again["metrics"]["extract"]["run"]["victim_accuracy"],
        plain_accuracy(&report)
    );
}

fn plain_accuracy(report: &Value) -> Value {
    report["metrics"]["extract"]["run"]["victim_accuracy"].clone()
}

/// Knockoff Nets on digits (MLP victim, MLP surrogate, the train split as the pool): fidelity rises
/// with the budget for both strategies; PRADA is measured on each stream and on benign traffic.
#[test]
fn knockoff_fidelity_rises_with_the_budget_on_digits() {
    let model = digits_mlp();
    let (code, report) = extract(&[
        "--model",
        model.to_str().unwrap(),
        "--data",
        "digits",
        "--method",
        "knockoff",
        "--strategy",
        "random,adaptive",
        "--budget",
        "30,150,600",
        "--surrogate",
        "mlp",
        "--epochs",
        "30",
        "--defense",
        "prada",
    ]);
    assert_eq!(code, 1, "a copy within 1,000 queries is a high finding");
    for a in attacks(&report) {
        let points = a["knockoff"]["points"].as_array().unwrap();
        assert_eq!(points.len(), 3, "{a}");
        let fid: Vec<f64> = points
            .iter()
            .map(|p| p["fidelity"].as_f64().unwrap())
            .collect();
        assert!(fid[2] > fid[0] && fid[2] >= 0.85, "{}: {fid:?}", a["name"]);
        assert_eq!(a["queries"], 600);
        assert!(a["prada"]["queries"] == 600);
    }
    assert!(
        report["metrics"]["extract"]["run"]["prada"]["benign"]["queries"]
            .as_u64()
            .unwrap()
            > 300
    );
    let r = rules(&report);
    assert!(r.contains(&"AT130"), "{r:?}");
    assert!(r.iter().any(|x| matches!(*x, "AT134" | "AT135")), "{r:?}");
    let tables = report["tables"].as_array().unwrap();
    assert!(tables.iter().any(|t| t["id"] == "extract-prada"));
    let chart = &report["charts"][0];
    assert_eq!(chart["x_log"], true);
}

#[test]
fn bad_inputs_are_clear_errors() {
    let model = breast_cancer_logistic();
    let m = model.to_str().unwrap();
    let (code, _, err) = aisec(&[
        "attack",
        "extract",
        "--model",
        m,
        "--data",
        "breast-cancer",
        "--pool",
        "nowhere.npy",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--pool"), "{err}");
    let (code, _, err) = aisec(&[
        "attack",
        "extract",
        "--model",
        m,
        "--data",
        "breast-cancer",
        "--budget",
        "0",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("positive"), "{err}");
    let (code, _, err) = aisec(&[
        "attack",
        "extract",
        "--model",
        m,
        "--data",
        "digits",
        "--method",
        "equation-solving",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("shape") || err.contains("classes"), "{err}");
}
