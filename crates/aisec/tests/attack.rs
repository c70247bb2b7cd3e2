//! `aisec models train` and `aisec attack evasion` end to end, on the real digits data set
//! (fetched once through the pinned resolver into the target directory's cache).
#![allow(clippy::float_cmp)] // Same rows, same seed: the results must be identical, not close.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::aisec_cached as aisec;
use serde_json::Value;

/// The MLP every test attacks, trained once (seed 0) per test binary.
fn model() -> &'static Path {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| {
        // One directory per process: another run of this binary on the same target must not
        // delete the model under us.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("attack-tests-mlp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (code, out, err) = aisec(&[
            "models",
            "train",
            "--data",
            "digits",
            "--kind",
            "mlp",
            "--epochs",
            "40",
            "--seed",
            "0",
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{out}{err}");
        dir
    })
}

fn json_report(args: &[&str]) -> (i32, Value) {
    let (code, out, err) = aisec(args);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    (
        code,
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}")),
    )
}

fn runs(report: &Value) -> &serde_json::Map<String, Value> {
    report["metrics"]["evasion"]["runs"]
        .as_object()
        .expect("runs")
}

fn robust_at(run: &Value, eps: f64) -> f64 {
    run["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| (p["eps"].as_f64().unwrap() - eps).abs() < 1e-6)
        .unwrap_or_else(|| panic!("no point at {eps}"))["robust_accuracy"]
        .as_f64()
        .unwrap()
}

#[test]
fn a_trained_model_is_accurate_and_keeps_its_test_split() {
    let dir = model();
    let training: Value =
        serde_json::from_slice(&std::fs::read(dir.join("training.json")).unwrap()).unwrap();
    assert!(
        training["test_accuracy"].as_f64().unwrap() > 0.95,
        "{training}"
    );
    assert_eq!(training["test_rows"], 359);
    for f in [
        "architecture.json",
        "model.safetensors",
        "test_x.npy",
        "test_y.npy",
    ] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    // The exported split is the same rows as `--data digits` (the test split): same result.
    let m = dir.to_str().unwrap();
    let x = dir.join("test_x.npy");
    let y = dir.join("test_y.npy");
    let (_, a) = json_report(&[
        "attack", "evasion", "--model", m, "--data", "digits", "--attack", "fgsm", "--eps", "0.1",
        "-f", "json",
    ]);
    let (_, b) = json_report(&[
        "attack",
        "evasion",
        "--model",
        m,
        "--data",
        x.to_str().unwrap(),
        "--labels",
        y.to_str().unwrap(),
        "--attack",
        "fgsm",
        "--eps",
        "0.1",
        "-f",
        "json",
    ]);
    assert_eq!(
        robust_at(&runs(&a)["model"], 0.1),
        robust_at(&runs(&b)["model"], 0.1)
    );
    // The ONNX export of the same network, attacked through candle-onnx, agrees.
    let onnx = dir.join("model.onnx");
    let (_, c) = json_report(&[
        "attack",
        "evasion",
        "--model",
        onnx.to_str().unwrap(),
        "--data",
        "digits",
        "--attack",
        "fgsm",
        "--eps",
        "0.1",
        "-f",
        "json",
    ]);
    assert!(
        (robust_at(&runs(&a)["model"], 0.1) - robust_at(&runs(&c)["model"], 0.1)).abs() <= 0.01
    );
}

/// The end-to-end check: PGD at eps 0.3 drives the plain model to near zero, while the
/// adversarially trained copy keeps a clearly higher robust accuracy.
#[test]
fn pgd_breaks_the_plain_model_and_adversarial_training_resists() {
    let m = model().to_str().unwrap();
    let (code, report) = json_report(&[
        "attack",
        "evasion",
        "--model",
        m,
        "--data",
        "digits",
        "--attack",
        "pgd",
        "--eps",
        "0.1,0.3",
        "--threat-eps",
        "0.3",
        "--defense",
        "adv-train",
        "--seed",
        "0",
        "-f",
        "json",
    ]);
    assert_eq!(code, 1, "a critical finding fails the run");
    let runs = runs(&report);
    let (plain, hard) = (&runs["model"], &runs["adv-trained"]);
    assert!(plain["clean_accuracy"].as_f64().unwrap() > 0.95);
    assert!(
        robust_at(plain, 0.3) <= 0.02,
        "plain robust accuracy {}",
        robust_at(plain, 0.3)
    );
    assert!(
        robust_at(hard, 0.3) >= robust_at(plain, 0.3) + 0.08,
        "{} vs {}",
        robust_at(hard, 0.3),
        robust_at(plain, 0.3)
    );
    assert!(
        robust_at(hard, 0.1) >= robust_at(plain, 0.1) + 0.2,
        "{} vs {}",
        robust_at(hard, 0.1),
        robust_at(plain, 0.1)
    );
    assert!(hard["clean_accuracy"].as_f64().unwrap() > 0.9);
    let findings = report["findings"].as_array().unwrap();
    let at100 = findings
        .iter()
        .find(|f| f["rule"] == "AT100")
        .expect("AT100");
    assert_eq!(at100["severity"], "critical");
    assert_eq!(
        at100["taxonomy"]["atlas"],
        serde_json::json!(["AML.T0015", "AML.T0043"])
    );
    assert!(findings.iter().any(|f| f["rule"] == "AT102"));
}

/// Every attack runs from the command line, respects its bound, and counts the right queries.
#[test]
fn every_attack_runs_within_its_bound_and_counts_queries() {
    let m = model().to_str().unwrap();
    for (attack, norm, bounded, white) in [
        ("fgsm", "linf", true, true),
        ("pgd", "l2", true, true),
        ("apgd", "linf", true, true),
        ("cw", "l2", false, true),
        ("deepfool", "l2", false, true),
        ("square", "linf", true, false),
        ("hopskipjump", "l2", false, false),
    ] {
        let eps = if norm == "l2" { "0.5,1.5" } else { "0.1,0.2" };
        // C&W's optimiser needs more iterations than the others to cross the boundary.
        let steps = if attack == "cw" { "100" } else { "20" };
        let (_, report) = json_report(&[
            "attack",
            "evasion",
            "--model",
            m,
            "--data",
            "digits",
            "--limit",
            "24",
            "--attack",
            attack,
            "--norm",
            norm,
            "--eps",
            eps,
            "--steps",
            steps,
            "--initial-const",
            "0.1",
            "--learning-rate",
            "0.05",
            "--max-eval",
            "200",
            "--init-eval",
            "20",
            "-f",
            "json",
            "--exit-zero",
        ]);
        let run = &runs(&report)["model"];
        let clean = run["clean_accuracy"].as_f64().unwrap();
        let points = run["points"].as_array().unwrap();
        assert_eq!(points.len(), 2, "{attack}");
        let (lo, hi) = (
            points[0]["robust_accuracy"].as_f64().unwrap(),
            points[1]["robust_accuracy"].as_f64().unwrap(),
        );
        assert!(hi <= lo && lo <= clean, "{attack}: {clean} {lo} {hi}");
        assert!(hi < clean, "{attack} turned nothing");
        if bounded {
            for p in points {
                let limit = p["eps"].as_f64().unwrap() + 1e-4;
                let key = if norm == "l2" { "max_l2" } else { "max_linf" };
                assert!(
                    p["metrics"][key].as_f64().unwrap() <= limit,
                    "{attack}: {p}"
                );
            }
        } else {
            assert!(
                run["minimum_norm"]["success_rate"].as_f64().unwrap() > 0.8,
                "{attack}: {run}"
            );
        }
        let q = &run["queries"];
        if white {
            assert!(q["gradients"].as_u64().unwrap() > 0, "{attack}");
        } else {
            assert_eq!(q["gradients"], 0, "{attack} is black-box");
            assert!(q["predictions"].as_u64().unwrap() > 0, "{attack}");
        }
    }
}

#[test]
fn targeted_attacks_reach_the_target_and_budgets_stop_black_box_attacks() {
    let m = model().to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("a");
    let (_, report) = json_report(&[
        "attack",
        "evasion",
        "--model",
        m,
        "--data",
        "digits",
        "--limit",
        "40",
        "--attack",
        "pgd",
        "--eps",
        "0.3",
        "--target-class",
        "3",
        "-f",
        "json",
        "--exit-zero",
        "--artifacts",
        npy.to_str().unwrap(),
    ]);
    let run = &runs(&report)["model"];
    assert!(
        run["points"][0]["metrics"]["success_rate"]
            .as_f64()
            .unwrap()
            > 0.9,
        "{run}"
    );
    assert!(npy.join("model-adversarial.npy").is_file());
    assert!(npy.join("model-adversarial-examples.png").is_file());
    // A budget of 500 rows per setting: Square stops there and still reports.
    let (_, report) = json_report(&[
        "attack",
        "evasion",
        "--model",
        m,
        "--data",
        "digits",
        "--limit",
        "40",
        "--attack",
        "square",
        "--eps",
        "0.2",
        "--budget",
        "500",
        "-f",
        "json",
        "--exit-zero",
    ]);
    let run = &runs(&report)["model"];
    assert!(
        run["queries"]["predictions"].as_u64().unwrap() <= 500,
        "{run}"
    );
}

#[test]
fn markdown_and_html_reports_carry_the_chart_and_the_pictures() {
    let m = model().to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (format, file) in [
        ("markdown", "r.md"),
        ("html", "r.html"),
        ("sarif", "r.sarif"),
    ] {
        let out = dir.path().join(file);
        let (code, _, err) = aisec(&[
            "attack",
            "evasion",
            "--model",
            m,
            "--data",
            "digits",
            "--limit",
            "30",
            "--attack",
            "fgsm",
            "--eps",
            "0.1,0.2",
            "--defense",
            "squeeze",
            "-f",
            format,
            "-o",
            out.to_str().unwrap(),
            "--exit-zero",
        ]);
        assert_eq!(code, 0, "{err}");
        let text = std::fs::read_to_string(&out).unwrap();
        match format {
            "markdown" => {
                assert!(text.contains("## Evasion results per budget"));
                assert!(text.contains("r-artifacts/robust-accuracy.svg"));
                assert!(text.contains("AT100"));
            }
            "html" => {
                assert!(text.starts_with("<!DOCTYPE html>"));
                assert!(text.contains("<svg") && text.contains("data:image/png;base64,"));
                assert!(!text.contains("<script"));
            }
            _ => {
                let sarif: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "AT100");
            }
        }
        let svg = std::fs::read_to_string(dir.path().join(format!(
            "{}-artifacts/robust-accuracy.svg",
            file.split('.').next().unwrap()
        )))
        .unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<polyline"));
    }
}

#[test]
fn bad_inputs_are_clear_errors() {
    let m = model().to_str().unwrap();
    let (code, _, err) = aisec(&[
        "attack", "evasion", "--model", m, "--data", "wine", "--attack", "fgsm",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("shape"), "{err}");
    let (code, _, err) = aisec(&[
        "attack",
        "evasion",
        "--model",
        "/nonexistent",
        "--data",
        "digits",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot load the model"), "{err}");
    let (code, _, err) = aisec(&["attack", "evasion", "--model", m, "--data", "no-such-set"]);
    assert_eq!(code, 2);
    assert!(err.contains("neither a built-in data set"), "{err}");
}
