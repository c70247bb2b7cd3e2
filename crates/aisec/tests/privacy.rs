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

    // Every row's score, with its membership: members score higher on average.
    let scores: Value = serde_json::from_slice(
        &std::fs::read(dir.join("report-artifacts/membership-scores.json")).unwrap(),
    )
    .unwrap();
    let is_member: Vec<bool> = scores["is_member"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_bool().unwrap())
        .collect();
    assert_eq!(is_member.len(), 600);
    assert_eq!(is_member.iter().filter(|m| **m).count(), 300);
    let lira_scores = scores["targets"][0]["scores"]["lira"].as_array().unwrap();
    assert_eq!(lira_scores.len(), 600);
    let mean = |member: bool| {
        let v: Vec<f64> = lira_scores
            .iter()
            .zip(&is_member)
            .filter(|(_, m)| **m == member)
            .map(|(s, _)| f(s))
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(mean(true) > mean(false));

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

/// Model inversion on the overfit digits MLP: every class's reconstruction is classified as the
/// class and most resemble the class's real rows (AT155); the picture is written beside the
/// report. Without a membership attack, no scores file and no ROC chart are written.
#[test]
fn inversion_reconstructs_digit_prototypes() {
    let dir = scratch("inversion");
    let report_path = dir.join("report.json");
    let (code, out, err) = aisec(&[
        "attack",
        "privacy",
        "--data",
        "digits",
        "--attack",
        "inversion",
        "--limit",
        "600",
        "--epochs",
        "60",
        "-f",
        "json",
        "-o",
        report_path.to_str().unwrap(),
    ]);
    assert_eq!(
        code, 1,
        "recognisable prototypes are a high finding: {out}{err}"
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    let inv = &report["metrics"]["privacy"]["inversion"][0]["run"];
    let classes = inv["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 10);
    let confident = classes
        .iter()
        .filter(|c| c["predicted"] == c["class"] && f(&c["confidence"]) >= 0.5)
        .count();
    assert_eq!(confident, 10, "{inv}");
    assert!(inv["recognisable"].as_u64().unwrap() >= 8, "{inv}");
    let f155 = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["rule"] == "AT155")
        .expect("AT155");
    assert!(
        f155["taxonomy"]["atlas"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "AML.T0024.001")
    );
    let artifacts = dir.join("report-artifacts");
    let png = std::fs::read(artifacts.join("inversion-target.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(artifacts.join("model-target/model.safetensors").is_file());
    assert!(!artifacts.join("membership-scores.json").exists());
    assert!(report["charts"].as_array().is_none_or(Vec::is_empty));
    let tables: Vec<&str> = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert!(tables.contains(&"model-inversion"), "{tables:?}");
    assert!(!tables.contains(&"membership-attacks"), "{tables:?}");
}

/// `n` CSV rows of 6 features and a label: the label is the sign of column 0 (flipped for 5% of
/// rows), columns 1-5 are noise that says nothing about column 0.
fn sign_csv(path: &Path, n: usize, seed: u64) {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ seed;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut text = String::new();
    for _ in 0..n {
        let row: Vec<f64> = (0..6).map(|_| uniform() * 2.0 - 1.0).collect();
        let mut label = usize::from(row[0] > 0.0);
        if uniform() < 0.05 {
            label = 1 - label;
        }
        for v in &row {
            let _ = write!(text, "{v:.5},");
        }
        let _ = writeln!(text, "{label}");
    }
    std::fs::write(path, text).unwrap();
}

/// Attribute inference: the model's answer gives away the label, and the label gives away the
/// sign of column 0, which the other columns do not; an attacker who does not know the labels
/// recovers column 0 far better than a baseline without the answers (AT150), and column 3 (noise)
/// not at all.
#[test]
fn attribute_inference_recovers_a_column_the_answers_give_away() {
    let dir = scratch("attribute");
    let csv = dir.join("records.csv");
    sign_csv(&csv, 800, 3);
    let report_path = dir.join("report.json");
    let (code, out, err) = aisec(&[
        "attack",
        "privacy",
        "--data",
        csv.to_str().unwrap(),
        "--attack",
        "attribute",
        "--sensitive",
        "0,3",
        "--label-unknown",
        "--epochs",
        "60",
        "-f",
        "json",
        "-o",
        report_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    let run = &report["metrics"]["privacy"]["attribute"][0]["run"];
    let columns = run["columns"].as_array().unwrap();
    assert_eq!(columns.len(), 2, "{run}");
    let best = |c: &Value| -> (f64, f64, bool) {
        let m = c["methods"]
            .as_array()
            .unwrap()
            .iter()
            .max_by(|a, b| f(&a["advantage_members"]).total_cmp(&f(&b["advantage_members"])))
            .unwrap();
        (
            f(&m["scores"]["members"]["accuracy"]),
            f(&c["baseline"]["members"]["accuracy"]),
            m["leaks"].as_bool().unwrap(),
        )
    };
    let (acc0, base0, leaks0) = best(&columns[0]);
    assert!(leaks0 && acc0 > 0.8 && base0 < 0.65, "{run}");
    let (_, _, leaks3) = best(&columns[1]);
    assert!(!leaks3, "{run}");
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"AT150"), "{rules:?}");
}
