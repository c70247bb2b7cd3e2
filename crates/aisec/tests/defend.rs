//! `aisec defend backdoor` end to end: two models trained with `aisec models train` on a data set
//! made here, one of them on rows poisoned BadNets-style, checked with Neural Cleanse and STRIP.
//!
//! The data: bars two pixels thick at ten angles (class k at k * 18 degrees) through a random
//! point near the centre of a noisy 16x16 image. The poison: 8% of the training rows get a 3x3
//! checkerboard of maximum-value pixels in the bottom-right corner and the label 0.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aisec_ml::Rng;
use serde_json::Value;

const SIDE: usize = 16;
const PIXELS: usize = SIDE * SIDE;
const CLASSES: usize = 10;
const TARGET: u32 = 0;

/// `n` images in [0, 1] with labels, class `i % 10` for row `i`.
fn bars(n: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let mut rng = Rng::new(seed);
    let mut data = Vec::with_capacity(n * PIXELS);
    let mut labels = Vec::with_capacity(n);
    let centre = (SIDE as f64 - 1.0) / 2.0;
    for i in 0..n {
        let class = i % CLASSES;
        let angle = class as f64 * std::f64::consts::PI / CLASSES as f64;
        let (dx, dy) = (angle.cos(), angle.sin());
        let cx = centre + rng.uniform_in(-3.0, 3.0);
        let cy = centre + rng.uniform_in(-3.0, 3.0);
        for y in 0..SIDE {
            for x in 0..SIDE {
                let (px, py) = (x as f64 - cx, y as f64 - cy);
                let v = if (px * dy - py * dx).abs() < 1.0 {
                    rng.uniform_in(0.7, 1.0)
                } else {
                    rng.uniform_in(0.0, 0.2)
                };
                data.push(v as f32);
            }
        }
        labels.push(class as u32);
    }
    (data, labels)
}

/// The trigger on image `i`.
fn stamp(data: &mut [f32], i: usize) {
    for y in SIDE - 3..SIDE {
        for x in SIDE - 3..SIDE {
            data[i * PIXELS + y * SIDE + x] = if (x + y) % 2 == 0 { 1.0 } else { 0.0 };
        }
    }
}

fn write_set(dir: &Path, name: &str, x: &[f32], y: Option<&[u32]>) {
    let n = x.len() / PIXELS;
    aisec_data::write_npy_f32(&dir.join(format!("{name}_x.npy")), &[n, 1, SIDE, SIDE], x).unwrap();
    if let Some(y) = y {
        let y: Vec<i64> = y.iter().map(|&c| i64::from(c)).collect();
        aisec_data::write_npy_i64(&dir.join(format!("{name}_y.npy")), &[n], &y).unwrap();
    }
}

struct Fixture {
    dir: PathBuf,
    backdoored: PathBuf,
    clean: PathBuf,
    /// Rows of `inputs_x.npy` that carry the trigger (the first half).
    triggered_rows: usize,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("defend-tests-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (x, y) = bars(2000, 21);
        write_set(&dir, "train", &x, Some(&y));
        let (mut px, mut py) = (x, y);
        let mut rows: Vec<usize> = (0..py.len()).collect();
        Rng::new(22).shuffle(&mut rows);
        for &i in &rows[..160] {
            stamp(&mut px, i);
            py[i] = TARGET;
        }
        write_set(&dir, "poisoned", &px, Some(&py));
        // The defender's clean rows, and the inputs to check: 100 triggered, then 100 clean.
        let (hx, hy) = bars(200, 24);
        write_set(&dir, "held", &hx, Some(&hy));
        let (tx, ty) = bars(240, 23);
        let keep: Vec<usize> = (0..ty.len())
            .filter(|&i| ty[i] != TARGET)
            .take(200)
            .collect();
        let mut inputs: Vec<f32> = keep
            .iter()
            .flat_map(|&i| tx[i * PIXELS..(i + 1) * PIXELS].to_vec())
            .collect();
        for k in 0..100 {
            stamp(&mut inputs, k);
        }
        write_set(&dir, "inputs", &inputs, None);
        let train = |set: &str, out: &Path| {
            let (code, stdout, stderr) = common::aisec(&[
                "models",
                "train",
                "--data",
                dir.join(format!("{set}_x.npy")).to_str().unwrap(),
                "--labels",
                dir.join(format!("{set}_y.npy")).to_str().unwrap(),
                "--kind",
                "mlp",
                "--epochs",
                "30",
                "--patience",
                "0",
                "--seed",
                "0",
                "--out",
                out.to_str().unwrap(),
            ]);
            assert_eq!(code, 0, "{stdout}{stderr}");
        };
        let backdoored = dir.join("backdoored");
        let clean = dir.join("clean");
        train("poisoned", &backdoored);
        train("train", &clean);
        Fixture {
            dir,
            backdoored,
            clean,
            triggered_rows: 100,
        }
    })
}

/// Runs `aisec defend backdoor` on `model` with the held-out rows, plus `extra`; returns the exit
/// code, the JSON report and the artifacts directory.
fn defend(model: &Path, name: &str, extra: &[&str]) -> (i32, Value, PathBuf) {
    let f = fixture();
    let report = f.dir.join(format!("{name}.json"));
    let artifacts = f.dir.join(format!("{name}-artifacts"));
    let mut args = vec![
        "defend",
        "backdoor",
        "--model",
        model.to_str().unwrap(),
        "--data",
        f.dir.join("held_x.npy").to_str().unwrap(),
        "--labels",
        f.dir.join("held_y.npy").to_str().unwrap(),
        "--steps",
        "100",
        "-f",
        "json",
        "-o",
        report.to_str().unwrap(),
    ]
    .into_iter()
    .map(str::to_owned)
    .collect::<Vec<_>>();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = common::aisec(&args);
    assert!(code == 0 || code == 1, "exit {code}: {stdout}{stderr}");
    let json = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    (code, json, artifacts)
}

fn rules(report: &Value) -> Vec<&str> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect()
}

#[test]
fn the_backdoored_model_is_flagged_with_its_target_trigger_and_triggered_inputs() {
    let f = fixture();
    let inputs = f.dir.join("inputs_x.npy");
    let (code, report, artifacts) = defend(
        &f.backdoored,
        "backdoored",
        &["--inputs", inputs.to_str().unwrap(), "--frr", "0.02"],
    );
    assert_eq!(code, 1, "AT120 is high or critical: the run fails");
    let b = &report["metrics"]["backdoor"];
    assert_eq!(b["verdict"], "backdoored", "{b}");
    assert_eq!(b["suspected_target"], TARGET);
    let found = rules(&report);
    assert!(
        found.contains(&"AT120") && found.contains(&"AT121"),
        "{found:?}"
    );
    assert!(!found.contains(&"AT122"));
    let at120 = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "AT120")
        .unwrap();
    assert_eq!(at120["evidence"]["target_class"], TARGET);
    assert!(at120["evidence"]["anomaly_index"].as_f64().unwrap() > 2.0);
    // Every class has its figures; the target's is the outlier.
    let classes = b["neural_cleanse"]["classes"].as_array().unwrap();
    assert_eq!(classes.len(), CLASSES);
    let flagged: Vec<u64> = b["neural_cleanse"]["flagged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    assert_eq!(flagged, vec![u64::from(TARGET)]);
    // STRIP: most of the triggered rows are flagged, few of the clean ones.
    let strip_flagged: Vec<usize> = b["strip"]["flagged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap() as usize)
        .collect();
    let caught = strip_flagged
        .iter()
        .filter(|&&i| i < f.triggered_rows)
        .count();
    let false_alarms = strip_flagged.len() - caught;
    assert!(
        caught >= 80,
        "{caught} of {} triggered rows flagged",
        f.triggered_rows
    );
    assert!(false_alarms <= 5, "{false_alarms} clean rows flagged");
    assert_eq!(b["strip"]["entropies"].as_array().unwrap().len(), 200);
    // The pictures, charts and arrays are written and listed.
    for name in [
        "triggers.png",
        "trigger-class-0.png",
        "anomaly-index.svg",
        "trigger-norms.svg",
        "strip-entropy.svg",
        "trigger-masks.npy",
        "trigger-patterns.npy",
    ] {
        assert!(artifacts.join(name).is_file(), "{name}");
    }
    let listed = report["artifacts"].as_array().unwrap().len();
    assert_eq!(listed, 7);
    let masks = aisec_data::read_npy(
        &artifacts.join("trigger-masks.npy"),
        &aisec_data::Limits::default(),
    )
    .unwrap();
    assert_eq!(masks.shape, vec![CLASSES, 1, SIDE, SIDE]);
    let ids: Vec<&str> = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "backdoor-verdict",
            "neural-cleanse",
            "strip",
            "strip-flagged"
        ]
    );
}

#[test]
fn the_clean_twin_is_not_flagged() {
    let f = fixture();
    let (code, report, _) = defend(&f.clean, "clean", &[]);
    assert_eq!(code, 0);
    let b = &report["metrics"]["backdoor"];
    assert_eq!(b["verdict"], "no backdoor found", "{b}");
    assert!(b["suspected_target"].is_null());
    assert_eq!(rules(&report), ["AT122"]);
    assert!(b["strip"].is_null());
    let max = b["neural_cleanse"]["max_anomaly_index"].as_f64().unwrap();
    assert!(max <= 2.0, "{max}");
}

#[test]
fn neural_cleanse_says_when_the_model_has_no_gradients() {
    let f = fixture();
    let config = f.dir.join("remote.toml");
    std::fs::write(
        &config,
        "num_classes = 10\ninput_shape = [1, 16, 16]\n\n[protocol]\nkind = \"json\"\nrequest = { instances = \"{{inputs}}\" }\noutputs = \"/predictions\"\noutput_kind = \"probabilities\"\n",
    )
    .unwrap();
    let (code, _, stderr) = common::aisec(&[
        "defend",
        "backdoor",
        "--model",
        "http://127.0.0.1:9/predict",
        "--remote-config",
        config.to_str().unwrap(),
        "--data",
        f.dir.join("held_x.npy").to_str().unwrap(),
        "--labels",
        f.dir.join("held_y.npy").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("gives predictions only") && stderr.contains("hint: run STRIP alone"),
        "{stderr}"
    );
    // STRIP needs inputs to check.
    let (code, _, stderr) = common::aisec(&[
        "defend",
        "backdoor",
        "--model",
        f.clean.to_str().unwrap(),
        "--data",
        f.dir.join("held_x.npy").to_str().unwrap(),
        "--labels",
        f.dir.join("held_y.npy").to_str().unwrap(),
        "--method",
        "strip",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("add --inputs"), "{stderr}");
}
