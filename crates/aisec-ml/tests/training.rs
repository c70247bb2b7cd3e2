//! Training converges, repeats exactly with the same seed, saves and loads.

use aisec_ml::train::{Optimizer, TrainConfig, accuracy, train};
use aisec_ml::{Classifier, Device, LocalModel, ModelKind, Network, Rng, Tensor, WhiteBox};

/// Three Gaussian blobs in 4-D: an easy, real classification problem.
fn blobs(n: usize, seed: u64) -> (Tensor, Vec<u32>) {
    noisy_blobs(n, seed, 0.15)
}

fn noisy_blobs(n: usize, seed: u64, noise: f64) -> (Tensor, Vec<u32>) {
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
            x.push((m + noise * rng.normal()) as f32);
        }
        y.push(c as u32);
    }
    (Tensor::from_vec(x, (n, 4), &Device::Cpu).unwrap(), y)
}

#[test]
fn every_optimizer_learns_and_same_seed_gives_same_weights() {
    let (x, y) = blobs(300, 1);
    let (xt, yt) = blobs(150, 2);
    for optimizer in [
        Optimizer::adam(),
        Optimizer::Sgd { momentum: 0.9 },
        Optimizer::Sgd { momentum: 0.0 },
    ] {
        let config = TrainConfig {
            optimizer,
            learning_rate: if matches!(optimizer, Optimizer::Adam { .. }) {
                0.01
            } else {
                0.1
            },
            weight_decay: 1e-4,
            epochs: 30,
            batch_size: 32,
            seed: 4,
            patience: Some(5),
            validation_fraction: 0.2,
            dp: None,
        };
        let arch = ModelKind::Mlp.architecture(&[4], 3).unwrap();
        let mut a = Network::init(arch.clone(), 9).unwrap();
        let report = train(&mut a, &x, &y, &config, None).unwrap();
        assert!(
            accuracy(&a, &xt, &yt).unwrap() > 0.95,
            "{optimizer:?}: {report:?}"
        );
        let mut b = Network::init(arch, 9).unwrap();
        train(&mut b, &x, &y, &config, None).unwrap();
        for (pa, pb) in a.params().iter().zip(b.params()) {
            let d = (pa - pb)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(d == 0.0, "training is not repeatable");
        }
    }
}

#[test]
fn early_stopping_stops_and_keeps_the_best_epoch() {
    // Overlapping classes and a wide network: validation loss turns up once it overfits.
    let (x, y) = noisy_blobs(120, 3, 0.8);
    let config = TrainConfig {
        epochs: 500,
        patience: Some(3),
        learning_rate: 0.05,
        validation_fraction: 0.3,
        ..TrainConfig::default()
    };
    let mut net = Network::init(ModelKind::Mlp.architecture(&[4], 3).unwrap(), 1).unwrap();
    let report = train(&mut net, &x, &y, &config, None).unwrap();
    assert!(report.epochs_run < 500, "ran every epoch");
    assert_eq!(report.epochs_run, report.best_epoch + 3);
    let best = report.validation_loss[report.best_epoch - 1];
    assert!(report.validation_loss.iter().all(|&l| l >= best));
}

#[test]
fn save_load_round_trip_gives_the_same_predictions() {
    let (x, y) = blobs(120, 5);
    let mut net = Network::init(ModelKind::Mlp.architecture(&[4], 3).unwrap(), 2).unwrap();
    train(
        &mut net,
        &x,
        &y,
        &TrainConfig {
            epochs: 5,
            ..TrainConfig::default()
        },
        None,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    net.save_dir(dir.path()).unwrap();
    let loaded = Network::load_dir(dir.path()).unwrap();
    let a = LocalModel::new(net, "a");
    let b = LocalModel::new(loaded, "b");
    let pa = a.predict(&x).unwrap();
    let pb = b.predict(&x).unwrap();
    let diff = (pa - pb)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(diff == 0.0);
    assert_eq!(b.queries().predictions, 120);
    let (_, grad) = b.loss_and_input_gradient(&x, &y).unwrap();
    assert_eq!(grad.dims(), &[120, 4]);
    assert_eq!(b.queries().gradients, 120);
}

#[test]
fn weights_that_do_not_match_the_architecture_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let net = Network::init(ModelKind::Mlp.architecture(&[4], 3).unwrap(), 2).unwrap();
    net.save_dir(dir.path()).unwrap();
    // Same file, different architecture: shapes no longer agree.
    ModelKind::Mlp
        .architecture(&[5], 3)
        .unwrap()
        .save(&dir.path().join("architecture.json"))
        .unwrap();
    let err = Network::load_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("shape"), "{err}");
    // An architecture that does not chain.
    std::fs::write(
        dir.path().join("architecture.json"),
        r#"{"format":"aisec-ml-architecture","version":1,"input_shape":[4],"num_classes":3,
            "layers":[{"kind":"linear","in_features":5,"out_features":3}]}"#,
    )
    .unwrap();
    let err = Network::load_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("layer 0 (linear)"), "{err}");
}

#[test]
fn features_and_logits_from_compose_to_the_logits() {
    let input = [1usize, 8, 8];
    let mut x = Vec::new();
    let mut rng = Rng::new(3);
    for _ in 0..5 * 64 {
        x.push(rng.uniform() as f32);
    }
    let x = Tensor::from_vec(x, (5, 1, 8, 8), &Device::Cpu).unwrap();
    for kind in [ModelKind::Logistic, ModelKind::Mlp, ModelKind::Cnn] {
        let net = Network::init(kind.architecture(&input, 10).unwrap(), 1).unwrap();
        let at = net.feature_layer();
        let h = net.activations(&x, at).unwrap();
        let via = net.logits_from(&h, at).unwrap();
        let direct = net.logits(&x).unwrap();
        let diff = (via - &direct)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-5, "{kind:?}: {diff}");
        let features = net.features(&x).unwrap();
        let expected = match kind {
            ModelKind::Logistic => 64,
            ModelKind::Mlp => 128,
            ModelKind::Cnn => 64,
        };
        assert_eq!(features.dims(), &[5, expected], "{kind:?}");
    }
}

#[test]
fn pruned_units_are_silent_and_stay_pruned_through_training() {
    let (x, y) = blobs(300, 1);
    let arch = ModelKind::Mlp.architecture(&[4], 3).unwrap();
    let mut net = Network::init(arch, 2).unwrap();
    let pruned: Vec<usize> = (0..128).filter(|u| u % 2 == 0).collect();
    net.prune_units(0, &pruned).unwrap();
    let config = TrainConfig {
        epochs: 5,
        patience: None,
        ..TrainConfig::default()
    };
    train(&mut net, &x, &y, &config, None).unwrap();
    let features = net.features(&x).unwrap().to_vec2::<f32>().unwrap();
    for row in &features {
        for &u in &pruned {
            assert!(row[u].abs() < f32::MIN_POSITIVE);
        }
    }
    // The kept half still learns the problem.
    assert!(accuracy(&net, &x, &y).unwrap() > 0.95);
    assert!(
        net.prune_units(1, &[0]).is_err(),
        "a ReLU has no units to prune"
    );
    assert!(net.prune_units(0, &[128]).is_err());
}
