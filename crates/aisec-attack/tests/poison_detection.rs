//! The training-set poison detectors on a backdoored training set made here: centred 8x8
//! glyphs (ring, stroke, zigzag, cross: strokes of [0.6, 1] with 8% of their pixels dropped, on
//! a [0, 0.15] noisy background), of which a share of the non-target rows get a BadNets-like
//! patch (a 3x3 checkerboard of 1s and 0s in the bottom-right corner) and the target label 0.
//! A small MLP and a small CNN are trained on it with fixed seeds; the backdoor must take
//! (attack success at least 0.9) for a test to mean anything. The patch is stamped here until
//! the poisoning module provides it.

use aisec_attack::defense::activation_clustering::ActivationClustering;
use aisec_attack::defense::spectral_signatures::SpectralSignatures;
use aisec_attack::defense::training_set::{
    ClassVerdict, DetectionScore, PoisonDetection, conv_feature_layer, score_detection,
};
use aisec_ml::candle::Tensor;
use aisec_ml::train::{Optimizer, TrainConfig, accuracy, train};
use aisec_ml::{Architecture, Device, LayerSpec, Network, Rng};

const SIDE: usize = 8;
const CLASSES: usize = 4;
const ROWS: usize = 400;
const TARGET: u32 = 0;

const GLYPHS: [[&str; 6]; CLASSES] = [
    [".####.", "#....#", "#....#", "#....#", "#....#", ".####."],
    ["..##..", ".###..", "..##..", "..##..", "..##..", ".####."],
    ["#####.", "....#.", "...#..", "..#...", ".#....", "######"],
    ["..##..", "..##..", "######", "######", "..##..", "..##.."],
];

/// `n` glyph images (flattened) with labels `i % CLASSES`.
fn glyphs(n: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let mut rng = Rng::new(seed);
    let mut x = Vec::with_capacity(n * SIDE * SIDE);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % CLASSES;
        let mut image: Vec<f32> = rng.uniform_vec(SIDE * SIDE, 0.0, 0.15);
        for (r, line) in GLYPHS[class].iter().enumerate() {
            for (c, ch) in line.chars().enumerate() {
                if ch == '#' && rng.uniform() > 0.08 {
                    image[(r + 1) * SIDE + c + 1] = rng.uniform_in(0.6, 1.0) as f32;
                }
            }
        }
        x.extend(image);
        y.push(class as u32);
    }
    (x, y)
}

/// The patch: a 3x3 checkerboard in the bottom-right corner.
fn stamp(image: &mut [f32]) {
    for y in SIDE - 3..SIDE {
        for x in SIDE - 3..SIDE {
            image[y * SIDE + x] = if (x + y) % 2 == 0 { 1.0 } else { 0.0 };
        }
    }
}

fn tensor(x: Vec<f32>, n: usize) -> Tensor {
    Tensor::from_vec(x, (n, 1, SIDE, SIDE), &Device::Cpu).unwrap()
}

/// Every seed of a run: data, choice of the poisoned rows (`SEED + 1`), initial weights and
/// batch order.
const SEED: u64 = 11;

/// The training set with `rate` of its rows poisoned, and the poisoned rows (ascending).
fn poisoned_set(rate: f64) -> (Tensor, Vec<u32>, Vec<usize>) {
    let (mut x, mut y) = glyphs(ROWS, SEED);
    let mut candidates: Vec<usize> = (0..ROWS).filter(|&i| y[i] != TARGET).collect();
    Rng::new(SEED + 1).shuffle(&mut candidates);
    let mut poison = candidates[..(rate * ROWS as f64).round() as usize].to_vec();
    poison.sort_unstable();
    for &i in &poison {
        stamp(&mut x[i * SIDE * SIDE..(i + 1) * SIDE * SIDE]);
        y[i] = TARGET;
    }
    (tensor(x, ROWS), y, poison)
}

fn linear(i: usize, o: usize) -> LayerSpec {
    LayerSpec::Linear {
        in_features: i,
        out_features: o,
        bias: true,
    }
}

fn conv(i: usize, o: usize) -> LayerSpec {
    LayerSpec::Conv2d {
        in_channels: i,
        out_channels: o,
        kernel: 3,
        stride: 1,
        padding: 1,
        bias: true,
    }
}

fn pool(k: usize) -> LayerSpec {
    LayerSpec::MaxPool2d {
        kernel: k,
        stride: Some(k),
        padding: 0,
    }
}

/// 64 -> 32 -> 4.
fn mlp() -> Architecture {
    Architecture::new(
        vec![1, SIDE, SIDE],
        CLASSES,
        vec![
            LayerSpec::Flatten,
            linear(SIDE * SIDE, 32),
            LayerSpec::Relu,
            linear(32, CLASSES),
        ],
    )
}

/// Two 3x3 convolutions (8 and 16 channels), a 2x2 and then a global max-pool, linear 16 -> 4.
fn cnn() -> Architecture {
    Architecture::new(
        vec![1, SIDE, SIDE],
        CLASSES,
        vec![
            conv(1, 8),
            LayerSpec::Relu,
            pool(2),
            conv(8, 16),
            LayerSpec::Relu,
            pool(SIDE / 2),
            LayerSpec::Flatten,
            linear(16, CLASSES),
        ],
    )
}

fn trained(arch: Architecture, x: &Tensor, y: &[u32]) -> Network {
    let mut net = Network::init(arch, SEED).unwrap();
    let config = TrainConfig {
        optimizer: Optimizer::adam(),
        learning_rate: 0.01,
        weight_decay: 0.0,
        epochs: 25,
        batch_size: 32,
        seed: SEED,
        patience: None,
        validation_fraction: 0.0,
        dp: None,
    };
    train(&mut net, x, y, &config, None).unwrap();
    net
}

/// Clean accuracy and attack success of `net` on fresh glyphs.
fn clean_accuracy_and_asr(net: &Network) -> (f64, f64) {
    let n = 200;
    let (mut x, y) = glyphs(n, 12);
    let clean = accuracy(net, &tensor(x.clone(), n), &y).unwrap();
    for i in 0..n {
        stamp(&mut x[i * SIDE * SIDE..(i + 1) * SIDE * SIDE]);
    }
    let predicted = net
        .logits(&tensor(x, n))
        .unwrap()
        .argmax(1)
        .unwrap()
        .to_vec1::<u32>()
        .unwrap();
    let others: Vec<usize> = (0..n).filter(|&i| y[i] != TARGET).collect();
    let hits = others.iter().filter(|&&i| predicted[i] == TARGET).count();
    (clean, hits as f64 / others.len() as f64)
}

struct Outcome {
    ac: (PoisonDetection, DetectionScore),
    ss: (PoisonDetection, DetectionScore),
    /// The expected poison share spectral signatures was given.
    share: f64,
}

/// Trains `arch` on the set poisoned at `rate` and runs both detectors (spectral signatures told
/// the class share the rate implies) on the penultimate representation, or for a CNN on the
/// last convolution block's feature maps.
fn run(arch: Architecture, rate: f64) -> Outcome {
    let (x, y, poison) = poisoned_set(rate);
    let net = trained(arch, &x, &y);
    let (clean, asr) = clean_accuracy_and_asr(&net);
    assert!(
        clean > 0.95 && asr > 0.9,
        "the backdoored model: clean accuracy {clean}, attack success {asr}"
    );
    let layer = conv_feature_layer(&net);
    let ac = ActivationClustering {
        layer,
        ..ActivationClustering::default()
    }
    .detect(&net, &x, &y)
    .unwrap();
    let share = SpectralSignatures::class_share(rate, CLASSES);
    let ss = SpectralSignatures {
        layer,
        expected_poison_share: share,
        ..SpectralSignatures::default()
    }
    .detect(&net, &x, &y)
    .unwrap();
    let ac_score = score_detection(&ac.flagged, &poison);
    let ss_score = score_detection(&ss.flagged, &poison);
    Outcome {
        ac: (ac, ac_score),
        ss: (ss, ss_score),
        share,
    }
}

fn assert_found(o: &Outcome, ac_recall: f64, ac_precision: f64, ss_recall: f64) {
    let (ac, score) = &o.ac;
    assert!(
        score.recall >= ac_recall && score.precision >= ac_precision,
        "activation clustering: {score:?}\n{:#?}",
        ac.classes
    );
    assert_eq!(ac.classes[TARGET as usize].verdict, ClassVerdict::Poisoned);
    let (ss, score) = &o.ss;
    assert!(
        score.recall >= ss_recall,
        "spectral signatures: {score:?}\n{:#?}",
        ss.classes
    );
    // Spectral signatures removes round(1.5 * share * rows) rows from every class.
    for class in &ss.classes {
        let want = (1.5 * o.share * class.rows as f64).round() as usize;
        assert_eq!((class.flagged, class.cluster_sizes[1]), (want, want));
    }
}

// Measured figures (seed 11) are in the comments. Over five seeds (11 to 51), activation
// clustering found every poisoned row with no false positive in the 5% and 10% runs of both
// models, and flagged nothing on the clean models; spectral signatures ranged as noted.

#[test]
fn mlp_five_percent_poison_is_found_by_both_detectors() {
    // Activation clustering recall 1.0, precision 1.0; spectral signatures recall 1.0 (five
    // seeds: 0.95 to 1.0), precision 0.2: it removes a quarter of every class.
    assert_found(&run(mlp(), 0.05), 0.9, 0.9, 0.9);
}

#[test]
fn cnn_five_percent_poison_is_found_by_both_detectors() {
    // Activation clustering 1.0 / 1.0; spectral signatures recall 1.0 (five seeds: all 1.0),
    // precision 0.2.
    assert_found(&run(cnn(), 0.05), 0.9, 0.9, 0.9);
}

#[test]
fn ten_percent_poison_is_found_in_both_models() {
    // Activation clustering 1.0 / 1.0 in both. Spectral signatures: MLP recall 1.0 (five
    // seeds: 0.75 to 1.0), CNN 0.65 (0.65 to 1.0), precision 0.15 to 0.23.
    assert_found(&run(mlp(), 0.1), 0.9, 0.9, 0.9);
    assert_found(&run(cnn(), 0.1), 0.9, 0.9, 0.6);
}

#[test]
fn poison_that_is_half_its_class_is_still_found() {
    // 25% of the set into one class of four: the target class is half poison, which a
    // smaller-cluster rule cannot see. Activation clustering 1.0 / 1.0; spectral signatures
    // recall 0.65 (it removes three quarters of every class).
    let o = run(cnn(), 0.25);
    let target = &o.ac.0.classes[TARGET as usize];
    assert_eq!(target.rows, 200);
    assert_found(&o, 0.9, 0.9, 0.6);
}

#[test]
fn clean_models_have_nothing_flagged_by_activation_clustering() {
    let (x, y, poison) = poisoned_set(0.0);
    assert!(poison.is_empty());
    for arch in [mlp(), cnn()] {
        let net = trained(arch, &x, &y);
        let d = ActivationClustering {
            layer: conv_feature_layer(&net),
            ..ActivationClustering::default()
        }
        .detect(&net, &x, &y)
        .unwrap();
        assert!(d.flagged.is_empty(), "{:#?}", d.classes);
        assert!(d.classes.iter().all(|c| c.verdict == ClassVerdict::Clean));
    }
}
