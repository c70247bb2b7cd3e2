//! Neural Cleanse and STRIP on a model with a BadNets backdoor and on its clean twin.
//!
//! The task: the bars of `tests/support` at ten angles (0, 18, ..., 162 degrees), two pixels
//! thick, through a random point near the centre of a noisy 16x16 image. Every class has the same
//! amount of ink, so no class is naturally much cheaper to reach than the others. (With
//! seven-segment digits, where a `1` has two strokes and an `8` seven, the clean model's thin
//! classes need triggers well below the median, and Neural Cleanse flags them.) The backdoored
//! model is trained with 8% of its training rows carrying a 3x3 checkerboard of
//! maximum-value pixels in the bottom-right corner and relabelled to class 0 (BadNets); its twin
//! is trained the same way (same seeds) without the poison. The trigger is stamped here until the
//! poisoning module offers it.
// The measured figures go to stderr (`--nocapture` shows them).
#![allow(clippy::disallowed_macros, clippy::print_stderr)]

use std::sync::OnceLock;
use std::time::Instant;

use aisec_attack::backdoor::{NeuralCleanse, Strip};
use aisec_ml::candle::Tensor;
use aisec_ml::train::{Optimizer, TrainConfig, accuracy, train};
use aisec_ml::{Architecture, Classifier, Device, LayerSpec, LocalModel, Network, Rng};

const SIDE: usize = 16;
const PIXELS: usize = SIDE * SIDE;
const CLASSES: usize = 10;
const TARGET: u32 = 0;
const POISON_RATE: f64 = 0.08;

/// `n` images `[n, 1, 16, 16]` in [0, 1], class `i % 10` for row `i`: a line two pixels thick
/// (values in [0.7, 1]) at angle `class * 18` degrees through a random point near the centre, on a
/// background in [0, 0.2].
fn lines(n: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let mut rng = Rng::new(seed);
    let mut data = Vec::with_capacity(n * PIXELS);
    let mut labels = Vec::with_capacity(n);
    let centre = (SIDE as f64 - 1.0) / 2.0;
    for i in 0..n {
        let class = i % CLASSES;
        let angle = class as f64 * std::f64::consts::PI / CLASSES as f64;
        let (dx, dy) = (angle.cos(), angle.sin());
        let (cx, cy) = (
            centre + rng.uniform_in(-3.0, 3.0),
            centre + rng.uniform_in(-3.0, 3.0),
        );
        for y in 0..SIDE {
            for x in 0..SIDE {
                // Distance from the pixel centre to the line.
                let (px, py) = (x as f64 - cx, y as f64 - cy);
                let on = (px * dy - py * dx).abs() < 1.0;
                let v = if on {
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

/// Stamps the trigger on image `i` of `data`: a 3x3 checkerboard (max on the corners and the
/// centre, min elsewhere) in the bottom-right corner.
fn stamp(data: &mut [f32], i: usize) {
    for y in SIDE - 3..SIDE {
        for x in SIDE - 3..SIDE {
            data[i * PIXELS + y * SIDE + x] = if (x + y) % 2 == 0 { 1.0 } else { 0.0 };
        }
    }
}

fn tensor(data: Vec<f32>) -> Tensor {
    let n = data.len() / PIXELS;
    Tensor::from_vec(data, (n, 1, SIDE, SIDE), &Device::Cpu).unwrap()
}

/// 256 -> 64 -> 10.
fn arch() -> Architecture {
    Architecture::new(
        vec![1, SIDE, SIDE],
        CLASSES,
        vec![
            LayerSpec::Flatten,
            LayerSpec::Linear {
                in_features: PIXELS,
                out_features: 64,
                bias: true,
            },
            LayerSpec::Relu,
            LayerSpec::Linear {
                in_features: 64,
                out_features: CLASSES,
                bias: true,
            },
        ],
    )
}

struct Fixture {
    backdoored: LocalModel,
    clean: LocalModel,
    /// Clean rows the defender holds (Neural Cleanse's input, STRIP's overlays).
    held_out: (Tensor, Vec<u32>),
    /// Clean test rows of the classes other than the target.
    test_clean: Tensor,
    /// The same rows with the trigger.
    test_triggered: Tensor,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let started = Instant::now();
        let (clean_x, y) = lines(2000, 21);
        let mut poisoned_x = clean_x.clone();
        let mut poisoned_y = y.clone();
        let mut rows: Vec<usize> = (0..y.len()).collect();
        Rng::new(22).shuffle(&mut rows);
        for &i in &rows[..(POISON_RATE * y.len() as f64) as usize] {
            stamp(&mut poisoned_x, i);
            poisoned_y[i] = TARGET;
        }
        let config = TrainConfig {
            optimizer: Optimizer::adam(),
            learning_rate: 0.01,
            weight_decay: 0.0,
            epochs: 30,
            batch_size: 32,
            seed: 3,
            patience: None,
            validation_fraction: 0.0,
            dp: None,
        };
        let fit = |x: Vec<f32>, y: &[u32]| {
            let mut net = Network::init(arch(), 5).unwrap();
            train(&mut net, &tensor(x), y, &config, None).unwrap();
            net
        };
        let backdoored = fit(poisoned_x, &poisoned_y);
        let clean = fit(clean_x, &y);

        let (tx, ty) = lines(300, 23);
        let acc_b = accuracy(&backdoored, &tensor(tx.clone()), &ty).unwrap();
        let acc_c = accuracy(&clean, &tensor(tx.clone()), &ty).unwrap();
        assert!(acc_b > 0.95 && acc_c > 0.95, "clean accuracy {acc_b} / {acc_c}");
        let keep: Vec<usize> = (0..ty.len()).filter(|&i| ty[i] != TARGET).collect();
        let mut test_clean = Vec::new();
        for &i in &keep {
            test_clean.extend_from_slice(&tx[i * PIXELS..(i + 1) * PIXELS]);
        }
        let mut test_triggered = test_clean.clone();
        for i in 0..keep.len() {
            stamp(&mut test_triggered, i);
        }
        let test_triggered = tensor(test_triggered);
        let backdoored = LocalModel::new(backdoored, "backdoored");
        let clean = LocalModel::new(clean, "clean twin");
        let hit = |m: &LocalModel| {
            let p = m.predict_labels(&test_triggered).unwrap();
            p.iter().filter(|&&c| c == TARGET).count() as f64 / p.len() as f64
        };
        let (asr_b, asr_c) = (hit(&backdoored), hit(&clean));
        assert!(asr_b > 0.95, "the backdoor only works on {asr_b} of the rows");
        assert!(asr_c < 0.2, "the clean twin sends {asr_c} of the rows to the target");
        let (hx, hy) = lines(200, 24);
        eprintln!(
            "fixture: clean accuracy {acc_b:.3} / {acc_c:.3}, attack success {asr_b:.3} / {asr_c:.3}, {:.1}s",
            started.elapsed().as_secs_f64()
        );
        Fixture {
            backdoored,
            clean,
            held_out: (tensor(hx), hy),
            test_clean: tensor(test_clean),
            test_triggered,
        }
    })
}

fn cleanse() -> NeuralCleanse {
    NeuralCleanse {
        steps: 100,
        batch_size: 64,
        seed: 1,
        ..NeuralCleanse::default()
    }
}

#[test]
fn neural_cleanse_flags_the_backdoor_and_names_its_target() {
    let f = fixture();
    let (x, y) = &f.held_out;
    let report = cleanse().run(&f.backdoored, x, Some(y), None).unwrap();
    let summary: Vec<String> = report
        .classes
        .iter()
        .map(|c| {
            format!(
                "{}: norm {:.2} success {:.2} index {:.2} steps {}",
                c.class, c.l1_norm, c.attack_success, c.anomaly_index, c.steps_run
            )
        })
        .collect();
    eprintln!("backdoored ({:.1}s): {summary:#?}", report.seconds);
    assert_eq!(report.suspected_target, Some(TARGET), "{summary:#?}");
    let target = report.trigger(TARGET).unwrap();
    assert!(target.anomaly_index > 2.0, "{summary:#?}");
    assert!(target.attack_success >= 0.99);
    assert!(target.below_median && target.flagged);
    // The reversed trigger sits where the real one is: most of its mass in the 3x3 corner.
    let corner: f32 = (SIDE - 3..SIDE)
        .flat_map(|y| (SIDE - 3..SIDE).map(move |x| y * SIDE + x))
        .map(|i| target.mask[i])
        .sum();
    let total: f32 = target.mask.iter().sum();
    assert!(corner > 0.5 * total, "corner {corner} of {total}");
    // The reversed trigger works on inputs it was not optimised on.
    let stamped = target.stamp(&f.test_clean, &report.mask_shape).unwrap();
    let p = f.backdoored.predict_labels(&stamped).unwrap();
    let success = p.iter().filter(|&&c| c == TARGET).count() as f64 / p.len() as f64;
    assert!(success > 0.9, "{success}");
}

#[test]
fn neural_cleanse_does_not_flag_the_clean_twin() {
    let f = fixture();
    let (x, y) = &f.held_out;
    let report = cleanse().run(&f.clean, x, Some(y), None).unwrap();
    let summary: Vec<String> = report
        .classes
        .iter()
        .map(|c| {
            format!(
                "{}: norm {:.2} success {:.2} index {:.2} steps {}",
                c.class, c.l1_norm, c.attack_success, c.anomaly_index, c.steps_run
            )
        })
        .collect();
    eprintln!("clean ({:.1}s): {summary:#?}", report.seconds);
    assert!(report.flagged.is_empty(), "{summary:#?}");
    assert!(report.max_anomaly_index < 2.0);
    assert!(report.classes.iter().all(|c| c.reached_threshold));
}

#[test]
fn strip_flags_triggered_inputs_at_a_low_false_rejection_rate() {
    let f = fixture();
    let strip = Strip {
        overlays: 50,
        false_rejection_rate: 0.02,
        seed: 4,
    };
    let clean = &f.held_out.0;
    // Its own query counter: the other tests use the fixture's models at the same time.
    let model = LocalModel::new(f.backdoored.network().clone(), "backdoored");
    let triggered = strip.run(&model, clean, &f.test_triggered).unwrap();
    let test_clean = strip.run(&model, clean, &f.test_clean).unwrap();
    eprintln!(
        "STRIP: threshold {:.3}, triggered flagged {:.3}, clean test rejected {:.3}, calibration rejected {:.3}, {:.1}s",
        triggered.threshold,
        triggered.flagged_share,
        test_clean.flagged_share,
        triggered.clean_rejected,
        triggered.seconds
    );
    assert!(triggered.clean_rejected <= 0.02);
    assert!(
        triggered.flagged_share >= 0.8,
        "{}",
        triggered.flagged_share
    );
    assert!(
        test_clean.flagged_share <= 0.05,
        "{}",
        test_clean.flagged_share
    );
    // The triggered inputs' entropies sit below the clean ones.
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(mean(&triggered.entropies) < mean(&test_clean.entropies));
    assert_eq!(triggered.queries.predictions as usize, 50 * (200 + 270));
}
