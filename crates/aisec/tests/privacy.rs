//! `aisec attack privacy` end to end on the real digits data set (fetched once through the pinned
//! resolver into the target directory's cache; 600 of its rows): an MLP overfit on purpose leaks
//! its members to LOSS and LiRA at 1% false positives; DP-SGD at a small epsilon brings the leak down to near the
//! 1% of guessing, at a cost in accuracy the report shows.

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use common::aisec_cached as aisec;
use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("privacy-tests-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn attack<'a>(target: &'a Value, name: &str) -> &'a Value {
    target["attacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["attack"] == name)
        .unwrap_or_else(|| panic!("no {name} in {target}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

#[test]
fn overfit_digits_mlp_leaks_and_dp_sgd_stops_it() {
    let dir = scratch("digits");
    let report_path = dir.join("report.json");
    let (code, out, err) = aisec(&[
        "attack",
        "privacy",
        "--data",
        "digits",
        "--kind",
        "mlp",
        "--attack",
        "loss,lira",
        "--limit",
        "600",
        "--references",
        "8",
        "--epochs",
        "100",
        "--defense",
        "dp-sgd",
        "--dp-epsilon",
        "1",
        "--seed",
        "0",
        "-f",
        "json",
        "-o",
        report_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "a membership leak fails the run: {out}{err}");
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    let run = &report["metrics"]["privacy"]["membership"];
    assert_eq!(run["population"], 600);
    let targets = run["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    let (plain, dp) = (&targets[0], &targets[1]);
    let figures = format!("{plain}\n{dp}");

    // The overfit target (300 members): a clear gap, and both attacks well above guessing at 1%
    // FPR (guessing finds 3 +- 1.7 members there: 1%).
    assert!(f(&plain["train_accuracy"]) > 0.99, "{figures}");
    assert!(f(&plain["generalisation_gap"]) > 0.03, "{figures}");
    let loss = attack(plain, "loss");
    let lira = attack(plain, "lira");
    assert!(f(&loss["tpr_at_fpr_1pct"]) > 0.03, "{figures}");
    assert!(f(&lira["tpr_at_fpr_1pct"]) > 0.06, "{figures}");
    for a in [loss, lira] {
        assert!(f(&a["auc"]) > 0.6, "{figures}");
        assert_eq!(a["queries"], 600, "one query per row");
    }

    // DP-SGD at epsilon 1: the accountant's epsilon is within the budget, the attacks fall to
    // near the baseline (DP bounds TPR by e^epsilon x FPR + delta, 2.7% at 1% FPR, in
    // expectation; 300 members make the measured figure noisy), and the accuracy it costs is
    // reported.
    let spent = f(&dp["training"]["privacy"]["epsilon"]);
    assert!(spent <= 1.0 + 1e-6 && spent > 0.5, "{figures}");
    for name in ["loss", "lira"] {
        let a = attack(dp, name);
        assert!(f(&a["tpr_at_fpr_1pct"]) < 0.035, "{name}: {figures}");
        assert!(f(&a["auc"]) < 0.56, "{name}: {figures}");
    }
    assert!(
        f(&attack(dp, "lira")["tpr_at_fpr_1pct"]) < f(&lira["tpr_at_fpr_1pct"]) / 2.0,
        "{figures}"
    );
    assert!(f(&dp["test_accuracy"]) > 0.4, "{figures}");
    assert!(
        f(&dp["test_accuracy"]) < f(&plain["test_accuracy"]),
        "{figures}"
    );

    let findings = report["findings"].as_array().unwrap();
    let rules: Vec<&str> = findings
        .iter()
        .map(|x| x["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"AT140"), "{rules:?}");
    assert!(rules.contains(&"AT142"), "{rules:?}");

    // The log-log ROC charts: every attack plus chance, positive coordinates only.
    let charts = report["charts"].as_array().unwrap();
    assert_eq!(charts.len(), 2);
    assert_eq!(charts[0]["x_log"], true);
    assert_eq!(charts[0]["y_log"], true);
    let series = charts[0]["series"].as_array().unwrap();
    assert_eq!(series.len(), 3);
    for s in series {
        for p in s["points"].as_array().unwrap() {
            assert!(f(&p[0]) > 0.0 && f(&p[1]) > 0.0);
        }
    }
}

/// `n` CSV rows (10 features, then the label) of four heavily overlapping Gaussian classes; the
/// centres are fixed, `seed` draws the rows.
fn blobs_csv(path: &Path, n: usize, seed: u64) {
    let mut state = 0x2545_f491_4f6c_dd1d_u64 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut normal = move || {
        let (u, v) = (uniform().max(1e-300), uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    let centre = |class: usize, j: usize| ((class * 7 + j * 3) % 5) as f64 - 2.0;
    let mut text = String::new();
    for i in 0..n {
        let class = i % 4;
        for j in 0..10 {
            let _ = write!(text, "{:.5},", centre(class, j) + 3.0 * normal());
        }
        let _ = writeln!(text, "{class}");
    }
    std::fs::write(path, text).unwrap();
}

/// The audit of a model you trained yourself: `aisec models train` on the member rows, then
/// `aisec attack privacy --model` with the rows it saw and rows it did not.
#[test]
fn audit_of_your_own_overfit_model() {
    let dir = scratch("audit");
    let members = dir.join("members.csv");
    let non_members = dir.join("non-members.csv");
    blobs_csv(&members, 200, 1);
    blobs_csv(&non_members, 200, 2);
    let model = dir.join("model");
    let (code, out, err) = aisec(&[
        "models",
        "train",
        "--data",
        members.to_str().unwrap(),
        "--split",
        "all",
        "--kind",
        "mlp",
        "--epochs",
        "150",
        "--batch-size",
        "32",
        "--patience",
        "0",
        "--out",
        model.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let report_path = dir.join("report.json");
    let (code, out, err) = aisec(&[
        "attack",
        "privacy",
        "--model",
        model.to_str().unwrap(),
        "--members",
        members.to_str().unwrap(),
        "--non-members",
        non_members.to_str().unwrap(),
        "--attack",
        "loss,lira",
        "--references",
        "8",
        "--epochs",
        "150",
        "--batch-size",
        "32",
        "-f",
        "json",
        "-o",
        report_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "the leak fails the run: {out}{err}");
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    let run = &report["metrics"]["privacy"]["membership"];
    assert_eq!(run["audit"], true);
    assert_eq!(
        (run["members"].clone(), run["non_members"].clone()),
        (200.into(), 200.into())
    );
    let target = &run["targets"][0];
    assert!(f(&target["generalisation_gap"]) > 0.2, "{target}");
    let lira = attack(target, "lira");
    assert!(f(&lira["auc"]) > 0.75, "{target}");
    assert!(f(&lira["tpr_at_fpr_1pct"]) > 0.05, "{target}");
    assert!(f(&attack(target, "loss")["auc"]) > 0.7, "{target}");
    assert_eq!(report["findings"][0]["rule"], "AT140");
}

#[test]
fn audit_needs_both_row_sets_and_a_model() {
    let (code, _, err) = aisec(&[
        "attack",
        "privacy",
        "--model",
        "nowhere",
        "--members",
        "a.npz",
    ]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = aisec(&[
        "attack",
        "privacy",
        "--data",
        "digits",
        "--attack",
        "lira",
        "--references",
        "1",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("reference models"), "{err}");
}
