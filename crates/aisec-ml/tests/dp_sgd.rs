//! DP-SGD: each row's clipped gradient is what the update uses (checked against gradients taken
//! one row at a time), the noise has the promised scale, and a DP-trained model still learns.

use aisec_ml::arch::{Architecture, FORMAT, LayerSpec};
use aisec_ml::candle::Var;
use aisec_ml::network::Mode;
use aisec_ml::privacy;
use aisec_ml::train::{DpSgd, Optimizer, TrainConfig, accuracy, train};
use aisec_ml::{DType, Device, MlError, ModelKind, Network, Rng, Tensor, ops};

fn arch(input_shape: Vec<usize>, classes: usize, layers: Vec<LayerSpec>) -> Architecture {
    Architecture {
        format: FORMAT.into(),
        version: 1,
        input_shape,
        num_classes: classes,
        input_range: [0.0, 1.0],
        class_names: None,
        layers,
    }
}

fn linear(i: usize, o: usize) -> LayerSpec {
    LayerSpec::Linear {
        in_features: i,
        out_features: o,
        bias: true,
    }
}

fn random_set(n: usize, shape: &[usize], classes: u32, seed: u64) -> (Tensor, Vec<u32>) {
    let mut rng = Rng::new(seed);
    let per: usize = shape.iter().product();
    let x = rng.uniform_vec(n * per, 0.0, 1.0);
    let mut dims = vec![n];
    dims.extend(shape);
    let y = (0..n).map(|_| rng.below(classes as usize) as u32).collect();
    (Tensor::from_vec(x, dims, &Device::Cpu).unwrap(), y)
}

/// One step over every row (batch = rows, so the sampling rate is 1), plain SGD.
fn one_step(clip: f64, noise: f64, n: usize) -> TrainConfig {
    TrainConfig {
        optimizer: Optimizer::Sgd { momentum: 0.0 },
        learning_rate: 0.5,
        weight_decay: 0.0,
        epochs: 1,
        batch_size: n,
        seed: 11,
        patience: None,
        validation_fraction: 0.0,
        dp: Some(DpSgd {
            clip_norm: clip,
            noise_multiplier: noise,
            delta: 1e-5,
        }),
    }
}

/// Each row's gradient by its own backward pass, in f64.
fn per_row_gradients(net: &Network, x: &Tensor, y: &[u32]) -> Vec<Vec<Tensor>> {
    let net64 = net.to_dtype(DType::F64).unwrap();
    let vars: Vec<Var> = net64
        .params()
        .iter()
        .map(|p| Var::from_tensor(p).unwrap())
        .collect();
    let params: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    (0..y.len())
        .map(|r| {
            let xr = x.narrow(0, r, 1).unwrap().to_dtype(DType::F64).unwrap();
            let logits = net64.forward_with(&xr, &params, &mut Mode::Eval).unwrap();
            let loss = ops::cross_entropy(&logits, &y[r..=r]).unwrap();
            let grads = loss.backward().unwrap();
            vars.iter()
                .map(|v| grads.get(v.as_tensor()).unwrap().clone())
                .collect()
        })
        .collect()
}

fn norm(g: &[Tensor]) -> f64 {
    g.iter()
        .map(|t| {
            t.sqr()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap()
        })
        .sum::<f64>()
        .sqrt()
}

fn flat(params: &[Tensor]) -> Vec<f64> {
    params
        .iter()
        .flat_map(|p| {
            p.flatten_all()
                .unwrap()
                .to_dtype(DType::F64)
                .unwrap()
                .to_vec1::<f64>()
                .unwrap()
        })
        .collect()
}

fn check_update_is_mean_of_clipped(architecture: Architecture, x: &Tensor, y: &[u32]) {
    let n = y.len();
    let net = Network::init(architecture, 5).unwrap();
    let grads = per_row_gradients(&net, x, y);
    let mut norms: Vec<f64> = grads.iter().map(|g| norm(g)).collect();
    norms.sort_by(f64::total_cmp);
    // The median: half the rows are clipped, half are not.
    let clip = norms[n / 2];
    assert!(norms[0] < clip && norms[n - 1] > 1.2 * clip, "{norms:?}");
    let mut expected = vec![0.0; flat(net.params()).len()];
    for g in &grads {
        let factor = (clip / norm(g)).min(1.0);
        for (e, v) in expected.iter_mut().zip(flat(g)) {
            *e += v * factor / n as f64;
        }
    }
    let config = one_step(clip, 0.0, n);
    let mut trained = net.clone();
    let report = train(&mut trained, x, y, &config, None).unwrap();
    let before = flat(net.params());
    let after = flat(trained.params());
    let mut worst = 0.0f64;
    for ((b, a), e) in before.iter().zip(&after).zip(&expected) {
        let step = (b - a) / config.learning_rate;
        worst = worst.max((step - e).abs());
    }
    let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(
        worst < 1e-4 * scale.max(1e-3),
        "worst {worst}, scale {scale}"
    );
    // The unclipped mean differs: clipping really changed the update.
    let mut unclipped = vec![0.0; expected.len()];
    for g in &grads {
        for (u, v) in unclipped.iter_mut().zip(flat(g)) {
            *u += v / n as f64;
        }
    }
    let gap = unclipped
        .iter()
        .zip(&expected)
        .fold(0.0f64, |m, (u, e)| m.max((u - e).abs()));
    assert!(gap > 100.0 * worst, "gap {gap} worst {worst}");
    let privacy = report.privacy.unwrap();
    assert!(privacy.epsilon.is_infinite() && privacy.steps == 1);
}

#[test]
fn update_is_the_mean_of_clipped_per_sample_gradients_batched_path() {
    // Linear / ReLU / Flatten: the exact batched path.
    let (x, y) = random_set(24, &[1, 3, 4], 3, 1);
    let a = arch(
        vec![1, 3, 4],
        3,
        vec![
            LayerSpec::Flatten,
            linear(12, 10),
            LayerSpec::Relu,
            linear(10, 8),
            LayerSpec::Tanh,
            linear(8, 6),
            LayerSpec::Sigmoid,
            linear(6, 3),
        ],
    );
    check_update_is_mean_of_clipped(a, &x, &y);
}

#[test]
fn update_is_the_mean_of_clipped_per_sample_gradients_per_row_path() {
    // A convolution and pooling: one backward pass per row.
    let (x, y) = random_set(16, &[1, 4, 4], 3, 2);
    let a = arch(
        vec![1, 4, 4],
        3,
        vec![
            LayerSpec::Conv2d {
                in_channels: 1,
                out_channels: 3,
                kernel: 3,
                stride: 1,
                padding: 1,
                bias: true,
            },
            LayerSpec::Relu,
            LayerSpec::MaxPool2d {
                kernel: 2,
                stride: None,
                padding: 0,
            },
            LayerSpec::Flatten,
            linear(12, 3),
        ],
    );
    check_update_is_mean_of_clipped(a, &x, &y);
}

#[test]
fn noise_has_standard_deviation_noise_multiplier_times_clip() {
    let n = 20;
    let (x, y) = random_set(n, &[24], 4, 3);
    let a = ModelKind::Mlp.architecture(&[24], 4).unwrap();
    let net = Network::init(a, 7).unwrap();
    let (clip, sigma) = (0.5, 2.0);
    let mut quiet = net.clone();
    let quiet_config = one_step(clip, 0.0, n);
    train(&mut quiet, &x, &y, &quiet_config, None).unwrap();
    let mut noisy = net.clone();
    train(&mut noisy, &x, &y, &one_step(clip, sigma, n), None).unwrap();
    // Same seed, same batch: the difference is lr * noise / expected batch.
    let noise: Vec<f64> = flat(quiet.params())
        .iter()
        .zip(flat(noisy.params()))
        .map(|(q, v)| (q - v) * n as f64 / quiet_config.learning_rate)
        .collect();
    let count = noise.len() as f64;
    let mean = noise.iter().sum::<f64>() / count;
    let sd = (noise.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / count).sqrt();
    let want = sigma * clip;
    assert!(count > 3000.0, "{count}");
    assert!((sd / want - 1.0).abs() < 0.04, "sd {sd}, want {want}");
    assert!(mean.abs() < 0.05 * want, "mean {mean}");
    // Gaussian tails: about 4.6% of draws beyond 2 sd, 0.27% beyond 3.
    let beyond = |k: f64| noise.iter().filter(|v| v.abs() > k * want).count() as f64 / count;
    assert!((beyond(2.0) - 0.0455).abs() < 0.012, "{}", beyond(2.0));
    assert!(beyond(3.0) < 0.008, "{}", beyond(3.0));
}

fn blobs(n: usize, seed: u64) -> (Tensor, Vec<u32>) {
    let mut rng = Rng::new(seed);
    let centres = [
        [1.0, 0.0, 0.0, 1.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 1.0],
    ];
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        let c = i % 3;
        for &m in &centres[c] {
            x.push((m + 0.2 * rng.normal()) as f32);
        }
        y.push(c as u32);
    }
    (Tensor::from_vec(x, (n, 4), &Device::Cpu).unwrap(), y)
}

#[test]
fn dp_trained_model_learns_at_moderate_epsilon_and_reports_it() {
    let (x, y) = blobs(600, 1);
    let (xt, yt) = blobs(300, 2);
    let n = y.len();
    let (batch, epochs, delta) = (60, 15, 1e-4);
    let (rate, steps) = DpSgd::schedule(n, batch, epochs);
    assert_eq!(steps, 150);
    let noise = privacy::noise_for_epsilon(2.0, rate, steps, delta).unwrap();
    let config = TrainConfig {
        optimizer: Optimizer::adam(),
        learning_rate: 0.02,
        epochs,
        batch_size: batch,
        seed: 4,
        dp: Some(DpSgd {
            clip_norm: 1.0,
            noise_multiplier: noise,
            delta,
        }),
        ..TrainConfig::default()
    };
    let mut net = Network::init(ModelKind::Mlp.architecture(&[4], 3).unwrap(), 9).unwrap();
    let report = train(&mut net, &x, &y, &config, None).unwrap();
    let acc = accuracy(&net, &xt, &yt).unwrap();
    assert!(acc > 0.9, "accuracy {acc}: {report:?}");
    let spent = report.privacy.unwrap();
    assert_eq!(spent.steps, steps);
    assert!((spent.sample_rate - 0.1).abs() < 1e-12);
    assert!(spent.epsilon <= 2.0 && spent.epsilon > 1.99, "{spent:?}");
    let again = privacy::epsilon(rate, noise, steps, delta).unwrap();
    assert!((again.epsilon - spent.epsilon).abs() < 1e-12);
    // No validation slice in DP mode: every epoch runs.
    assert_eq!(report.epochs_run, epochs);
    assert!(report.validation_loss.is_empty());
    // Same seed, same model.
    let mut twin = Network::init(ModelKind::Mlp.architecture(&[4], 3).unwrap(), 9).unwrap();
    train(&mut twin, &x, &y, &config, None).unwrap();
    assert_eq!(flat(net.params()), flat(twin.params()));
}

#[test]
fn bad_settings_and_batch_norm_are_refused() {
    let (x, y) = blobs(30, 1);
    let mut net = Network::init(ModelKind::Mlp.architecture(&[4], 3).unwrap(), 1).unwrap();
    for (clip, noise, delta) in [(0.0, 1.0, 1e-5), (1.0, -1.0, 1e-5), (1.0, 1.0, 1.0)] {
        let mut c = one_step(clip, noise, 30);
        c.dp.as_mut().unwrap().delta = delta;
        assert!(matches!(
            train(&mut net, &x, &y, &c, None),
            Err(MlError::Privacy(_))
        ));
    }
    let bn = arch(
        vec![4],
        3,
        vec![
            linear(4, 8),
            LayerSpec::BatchNorm {
                num_features: 8,
                eps: 1e-5,
            },
            LayerSpec::Relu,
            linear(8, 3),
        ],
    );
    let mut net = Network::init(bn, 1).unwrap();
    let err = train(&mut net, &x, &y, &one_step(1.0, 1.0, 30), None).unwrap_err();
    assert!(err.to_string().contains("batch normalisation"), "{err}");
}
