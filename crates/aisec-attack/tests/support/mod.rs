//! Test fixtures: a synthetic 8x8 image task (bars and diagonals at random places, with noise) and
//! small models trained on it with fixed seeds.

#![allow(dead_code, unreachable_pub)]

use aisec_attack::evasion::{Norm, row_norms};
use aisec_ml::candle::{D, Tensor};
use aisec_ml::train::{Optimizer, TrainConfig, accuracy, train};
use aisec_ml::{Architecture, Classifier, Device, LayerSpec, LocalModel, Network, Rng};

/// Number of classes: horizontal bar, vertical bar, diagonal, anti-diagonal.
pub const CLASSES: usize = 4;
/// Image side.
pub const SIDE: usize = 8;

/// `n` images `[n, 1, 8, 8]` in [0, 1] with labels: a two-pixel-thick stroke (on pixels in
/// [0.7, 1]) at a random place on a noisy background ([0, 0.25]), class `i % 4` for row `i`.
pub fn bars(n: usize, seed: u64) -> (Tensor, Vec<u32>) {
    let mut rng = Rng::new(seed);
    let mut data = Vec::with_capacity(n * SIDE * SIDE);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % CLASSES;
        let offset = rng.below(SIDE - 1) as isize;
        let shift = rng.below(5) as isize - 2;
        for y in 0..SIDE as isize {
            for x in 0..SIDE as isize {
                let on = match class {
                    0 => y == offset || y == offset + 1,
                    1 => x == offset || x == offset + 1,
                    2 => x - y == shift || x - y == shift + 1,
                    _ => x + y == 7 + shift || x + y == 8 + shift,
                };
                let v = if on {
                    rng.uniform_in(0.7, 1.0)
                } else {
                    rng.uniform_in(0.0, 0.25)
                };
                data.push(v as f32);
            }
        }
        labels.push(class as u32);
    }
    (
        Tensor::from_vec(data, (n, 1, SIDE, SIDE), &Device::Cpu).unwrap(),
        labels,
    )
}

/// A small MLP on the flattened image: 64 -> 32 -> 4.
pub fn mlp_arch() -> Architecture {
    Architecture::new(
        vec![1, SIDE, SIDE],
        CLASSES,
        vec![
            LayerSpec::Flatten,
            LayerSpec::Linear {
                in_features: SIDE * SIDE,
                out_features: 32,
                bias: true,
            },
            LayerSpec::Relu,
            LayerSpec::Linear {
                in_features: 32,
                out_features: CLASSES,
                bias: true,
            },
        ],
    )
}

/// A small CNN: conv 1->4 (3x3, padding 1), ReLU, 2x2 max-pool, linear 64 -> 4.
pub fn cnn_arch() -> Architecture {
    Architecture::new(
        vec![1, SIDE, SIDE],
        CLASSES,
        vec![
            LayerSpec::Conv2d {
                in_channels: 1,
                out_channels: 4,
                kernel: 3,
                stride: 1,
                padding: 1,
                bias: true,
            },
            LayerSpec::Relu,
            LayerSpec::MaxPool2d {
                kernel: 2,
                stride: Some(2),
                padding: 0,
            },
            LayerSpec::Flatten,
            LayerSpec::Linear {
                in_features: 4 * (SIDE / 2) * (SIDE / 2),
                out_features: CLASSES,
                bias: true,
            },
        ],
    )
}

/// The training recipe every fixture model uses.
pub fn train_config() -> TrainConfig {
    TrainConfig {
        optimizer: Optimizer::adam(),
        learning_rate: 0.01,
        weight_decay: 0.0,
        epochs: 25,
        batch_size: 32,
        seed: 3,
        patience: None,
        validation_fraction: 0.0,
        dp: None,
    }
}

/// The training rows.
pub fn train_set() -> (Tensor, Vec<u32>) {
    bars(400, 11)
}

/// The rows attacked.
pub fn test_set() -> (Tensor, Vec<u32>) {
    bars(120, 12)
}

/// A network of `arch` trained on [`train_set`]; panics unless it is accurate on [`test_set`].
pub fn trained(arch: Architecture) -> Network {
    let (x, y) = train_set();
    let mut net = Network::init(arch, 5).unwrap();
    train(&mut net, &x, &y, &train_config(), None).unwrap();
    let (xt, yt) = test_set();
    let acc = accuracy(&net, &xt, &yt).unwrap();
    assert!(
        acc > 0.95,
        "the fixture model only reaches {acc} test accuracy"
    );
    net
}

/// The trained MLP as a target.
pub fn mlp() -> LocalModel {
    LocalModel::new(trained(mlp_arch()), "bars-mlp")
}

/// The trained CNN as a target.
pub fn cnn() -> LocalModel {
    LocalModel::new(trained(cnn_arch()), "bars-cnn")
}

/// Accuracy of `model` on `x`.
pub fn accuracy_of(model: &dyn Classifier, x: &Tensor, y: &[u32]) -> f64 {
    let p = model.predict_labels(x).unwrap();
    p.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64
}

/// Per-row perturbation norms.
pub fn norms(x: &Tensor, adv: &Tensor, norm: Norm) -> Vec<f32> {
    row_norms(&(adv - x).unwrap(), norm)
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
}

/// Asserts every element of `adv` lies in [0, 1] and every row's change within `bound` in `norm`.
pub fn assert_bounded(x: &Tensor, adv: &Tensor, norm: Norm, bound: f32) {
    let lo = adv.min_all().unwrap().to_scalar::<f32>().unwrap();
    let hi = adv.max_all().unwrap().to_scalar::<f32>().unwrap();
    assert!(
        lo >= 0.0 && hi <= 1.0,
        "outside the input range: [{lo}, {hi}]"
    );
    let slack = match norm {
        Norm::Linf => 1e-6,
        Norm::L2 => 1e-5,
    };
    let worst = norms(x, adv, norm).into_iter().fold(0f32, f32::max);
    assert!(
        worst <= bound + slack,
        "{norm} perturbation {worst} > {bound}"
    );
}

/// Largest absolute difference between two tensors.
pub fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(D::Minus1)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// Share of rows (among those the model gets right on `x`) where `adv` meets the goal.
pub fn success_rate(
    model: &dyn Classifier,
    x: &Tensor,
    adv: &Tensor,
    goal: &aisec_attack::evasion::Goal,
) -> f64 {
    let rows = aisec_attack::metrics::judge(model, x, adv, goal).unwrap();
    let clean = rows.iter().filter(|r| r.clean_correct).count();
    rows.iter().filter(|r| r.success).count() as f64 / clean.max(1) as f64
}
