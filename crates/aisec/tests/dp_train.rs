//! `aisec models train` with DP-SGD on the real digits data set: the training record carries the
//! privacy spent, and it is the accountant's figure for the run's rate, noise and steps.

mod common;

use std::path::Path;

use common::aisec_cached as aisec;
use serde_json::Value;

fn train(name: &str, extra: &[&str]) -> (i32, String, String, Option<Value>) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("dp-train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut args = vec![
        "models",
        "train",
        "--data",
        "digits",
        "--kind",
        "mlp",
        "--epochs",
        "8",
        "--batch-size",
        "64",
        "--seed",
        "1",
        "--out",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = aisec(&args);
    let record = std::fs::read(dir.join("training.json"))
        .ok()
        .map(|b| serde_json::from_slice(&b).unwrap());
    (code, out, err, record)
}

#[test]
fn dp_sgd_training_reports_the_accountants_epsilon() {
    let (code, out, err, record) = train("noise", &["--dp-noise", "1.1", "--dp-clip", "1.0"]);
    assert_eq!(code, 0, "{out}{err}");
    let record = record.unwrap();
    let privacy = &record["privacy"];
    let rows = record["train_rows"].as_u64().unwrap() as usize;
    let (rate, steps) = aisec_ml::train::DpSgd::schedule(rows, 64, 8);
    assert_eq!(privacy["steps"].as_u64().unwrap() as usize, steps);
    assert!((privacy["sample_rate"].as_f64().unwrap() - rate).abs() < 1e-12);
    assert_eq!(privacy["noise_multiplier"], 1.1);
    assert_eq!(privacy["clip_norm"], 1.0);
    assert_eq!(privacy["delta"], 1e-5);
    let expected = aisec_ml::privacy::epsilon(rate, 1.1, steps, 1e-5).unwrap();
    let epsilon = privacy["epsilon"].as_f64().unwrap();
    assert!(
        (epsilon - expected.epsilon).abs() < 1e-9,
        "{epsilon} vs {expected:?}"
    );
    assert!(epsilon > 0.5 && epsilon < 20.0, "{epsilon}");
    assert_eq!(record["report"]["privacy"], *privacy);
    assert!(out.contains(&format!("epsilon {epsilon:.4}")), "{out}");
    // DP-SGD runs every epoch (no early stopping) and still learns something.
    assert_eq!(record["report"]["epochs_run"], 8);
    let accuracy = record["test_accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.5, "{accuracy}");
}

#[test]
fn dp_epsilon_calibrates_the_noise() {
    let (code, out, err, record) = train("epsilon", &["--dp-epsilon", "4", "--dp-delta", "1e-4"]);
    assert_eq!(code, 0, "{out}{err}");
    let privacy = record.unwrap()["privacy"].clone();
    let epsilon = privacy["epsilon"].as_f64().unwrap();
    assert!(epsilon <= 4.0 && epsilon > 3.99, "{privacy}");
    assert_eq!(privacy["delta"], 1e-4);
    assert_eq!(privacy["clip_norm"], 1.0);
}

#[test]
fn impossible_dp_settings_are_refused() {
    // delta must be below 1 / training rows.
    let (code, _, err, _) = train("delta", &["--dp-noise", "1.0", "--dp-delta", "0.01"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--dp-delta"), "{err}");
    // No noise is no privacy.
    let (code, _, err, _) = train("zero", &["--dp-noise", "0"]);
    assert_eq!(code, 2, "{err}");
    // A clipping norm alone does not turn DP-SGD on.
    let (code, _, err, _) = train("clip", &["--dp-clip", "1.0"]);
    assert_eq!(code, 2, "{err}");
    // An epsilon no noise reaches.
    let (code, _, err, _) = train("tiny", &["--dp-epsilon", "1e-6"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("out of reach"), "{err}");
    // Both noise and epsilon.
    let (code, _, err, _) = train("both", &["--dp-noise", "1", "--dp-epsilon", "1"]);
    assert_eq!(code, 2, "{err}");
}
