//! The black-box attacks against real trained models: a small CNN on 8x8 images of noisy shapes,
//! and an MLP on overlapping Gaussian blobs (flat vectors). The attacks see the models only
//! through a wrapper that exposes `predict` (no white-box face) and counts what it forwards.

// Unchanged rows must come back bit for bit: their norms are compared to zero exactly.
#![allow(clippy::float_cmp)]

use std::sync::OnceLock;

use aisec_attack::AttackError;
use aisec_attack::evasion::blackbox::BlackBoxStats;
use aisec_attack::evasion::hopskipjump::HopSkipJump;
use aisec_attack::evasion::square::Square;
use aisec_attack::evasion::{Goal, Norm, row_norms};
use aisec_ml::arch::{Architecture, LayerSpec};
use aisec_ml::train::{TrainConfig, accuracy, train};
use aisec_ml::{
    Classifier, Device, LocalModel, ModelInfo, ModelKind, Network, Queries, QueryCounter, Rng,
    Tensor,
};

const SHAPES: usize = 5;

/// 8x8 images of one of five noisy shapes at a random place and brightness: a horizontal bar, a
/// vertical bar, a diagonal, a hollow box, a plus.
fn shapes(n: usize, seed: u64) -> (Tensor, Vec<u32>) {
    let mut rng = Rng::new(seed);
    let mut x = Vec::with_capacity(n * 64);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % SHAPES;
        let mut img = [0.0f32; 64];
        let level = rng.uniform_in(0.6, 1.0) as f32;
        let mut put = |r: usize, c: usize| img[r * 8 + c] = level;
        let (a, b) = (1 + rng.below(6), 1 + rng.below(6));
        match class {
            0 => (0..8).for_each(|c| put(a, c)),
            1 => (0..8).for_each(|r| put(r, b)),
            2 => (0..8).for_each(|k| put(k, (k + a) % 8)),
            3 => {
                let (top, left) = (rng.below(4), rng.below(4));
                for k in 0..4 {
                    put(top, left + k);
                    put(top + 3, left + k);
                    put(top + k, left);
                    put(top + k, left + 3);
                }
            }
            _ => {
                for k in a.saturating_sub(2)..(a + 3).min(8) {
                    put(k, b);
                }
                for k in b.saturating_sub(2)..(b + 3).min(8) {
                    put(a, k);
                }
            }
        }
        x.extend(
            img.iter()
                .map(|&v| (v + 0.15 * rng.normal() as f32).clamp(0.0, 1.0)),
        );
        y.push(class as u32);
    }
    (Tensor::from_vec(x, (n, 1, 8, 8), &Device::Cpu).unwrap(), y)
}

const BLOBS: usize = 4;
const FEATURES: usize = 16;

/// Four overlapping Gaussian blobs in [0, 1]^16.
fn blobs(n: usize, seed: u64) -> (Tensor, Vec<u32>) {
    let mut centres = Rng::new(99);
    let centres: Vec<Vec<f64>> = (0..BLOBS)
        .map(|_| {
            (0..FEATURES)
                .map(|_| centres.uniform_in(0.3, 0.7))
                .collect()
        })
        .collect();
    let mut rng = Rng::new(seed);
    let mut x = Vec::with_capacity(n * FEATURES);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % BLOBS;
        x.extend(
            centres[class]
                .iter()
                .map(|&m| (m + 0.08 * rng.normal()).clamp(0.0, 1.0) as f32),
        );
        y.push(class as u32);
    }
    (Tensor::from_vec(x, (n, FEATURES), &Device::Cpu).unwrap(), y)
}

struct Trained {
    model: LocalModel,
    x: Tensor,
    y: Vec<u32>,
}

fn fit(arch: Architecture, data: fn(usize, u64) -> (Tensor, Vec<u32>)) -> Trained {
    let (x, y) = data(600, 1);
    let (xt, yt) = data(60, 2);
    let mut net = Network::init(arch, 5).unwrap();
    let config = TrainConfig {
        epochs: 25,
        batch_size: 32,
        learning_rate: 3e-3,
        seed: 3,
        patience: Some(5),
        ..TrainConfig::default()
    };
    train(&mut net, &x, &y, &config, None).unwrap();
    let acc = accuracy(&net, &xt, &yt).unwrap();
    assert!(acc >= 0.9, "test accuracy {acc}");
    Trained {
        model: LocalModel::new(net, "test model"),
        x: xt,
        y: yt,
    }
}

fn cnn() -> &'static Trained {
    static M: OnceLock<Trained> = OnceLock::new();
    // Small enough to train in seconds in a debug build.
    let conv = LayerSpec::Conv2d {
        in_channels: 1,
        out_channels: 6,
        kernel: 3,
        stride: 1,
        padding: 1,
        bias: true,
    };
    let pool = LayerSpec::MaxPool2d {
        kernel: 2,
        stride: Some(2),
        padding: 0,
    };
    let linear = |i, o| LayerSpec::Linear {
        in_features: i,
        out_features: o,
        bias: true,
    };
    let layers = vec![
        conv,
        LayerSpec::Relu,
        pool,
        LayerSpec::Flatten,
        linear(96, 32),
        LayerSpec::Relu,
        linear(32, SHAPES),
    ];
    M.get_or_init(|| fit(Architecture::new(vec![1, 8, 8], SHAPES, layers), shapes))
}

fn mlp() -> &'static Trained {
    static M: OnceLock<Trained> = OnceLock::new();
    M.get_or_init(|| {
        fit(
            ModelKind::Mlp.architecture(&[FEATURES], BLOBS).unwrap(),
            blobs,
        )
    })
}

/// The black-box face only, with its own counter and optional budget.
struct Remote<'a> {
    inner: &'a LocalModel,
    counter: QueryCounter,
}

impl<'a> Remote<'a> {
    fn new(inner: &'a LocalModel, budget: Option<u64>) -> Self {
        Self {
            inner,
            counter: QueryCounter::with_budget(budget),
        }
    }
}

impl Classifier for Remote<'_> {
    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }

    fn predict(&self, x: &Tensor) -> aisec_ml::Result<Tensor> {
        self.counter.predictions(x.dim(0)?)?;
        self.inner.predict(x)
    }

    fn queries(&self) -> Queries {
        self.counter.snapshot()
    }

    fn reset_queries(&self) {
        self.counter.reset();
    }
}

fn labels(model: &LocalModel, x: &Tensor) -> Vec<u32> {
    model.predict_labels(x).unwrap()
}

fn share(hits: impl Iterator<Item = bool>) -> f64 {
    let v: Vec<bool> = hits.collect();
    v.iter().filter(|&&b| b).count() as f64 / v.len().max(1) as f64
}

fn accuracy_of(model: &LocalModel, x: &Tensor, y: &[u32]) -> f64 {
    share(labels(model, x).iter().zip(y).map(|(p, t)| p == t))
}

fn norms(a: &Tensor, b: &Tensor, norm: Norm) -> Vec<f32> {
    row_norms(&(a - b).unwrap(), norm)
        .unwrap()
        .to_vec1()
        .unwrap()
}

fn in_range(x: &Tensor) -> bool {
    let v: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
    v.iter().all(|a| (0.0..=1.0).contains(a))
}

/// Uniform random signs of size eps: what Square must beat.
fn random_signs(x: &Tensor, eps: f32, seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    let v: Vec<f32> = x
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|&a| (a + if rng.uniform() < 0.5 { -eps } else { eps }).clamp(0.0, 1.0))
        .collect();
    Tensor::from_vec(v, x.shape(), &Device::Cpu).unwrap()
}

fn mean(v: &[f32]) -> f64 {
    v.iter().map(|&a| f64::from(a)).sum::<f64>() / v.len().max(1) as f64
}

#[test]
fn square_linf_breaks_the_cnn_inside_the_box() {
    let t = cnn();
    let goal = Goal::untargeted(t.y.clone());
    let n = t.y.len() as u64;
    let clean = accuracy_of(&t.model, &t.x, &t.y);
    let mut robust = Vec::new();
    for eps in [0.05f32, 0.3] {
        let remote = Remote::new(&t.model, None);
        let attack = Square::new(Norm::Linf, eps).unwrap();
        let (adv, stats) = attack.run(&remote, &t.x, &goal, &mut Rng::new(1)).unwrap();
        assert!(in_range(&adv));
        let linf = norms(&adv, &t.x, Norm::Linf);
        assert!(linf.iter().all(|&v| v <= eps + 1e-6), "{linf:?}");
        assert!(!stats.budget_exhausted);
        // Every query went through the model the attack saw, and only unbroken rows are asked.
        assert_eq!(stats.queries, remote.queries().predictions);
        assert!(
            stats.queries <= n * (2 + attack.max_iter as u64),
            "{stats:?}"
        );
        robust.push(accuracy_of(&t.model, &adv, &t.y));
    }
    let noise = accuracy_of(&t.model, &random_signs(&t.x, 0.3, 4), &t.y);
    assert!(
        robust[1] <= 0.05,
        "robust accuracy {robust:?} (clean {clean})"
    );
    assert!(robust[0] > robust[1], "{robust:?}");
    assert!(
        noise >= robust[1] + 0.3,
        "random signs {noise} vs square {robust:?}"
    );
}

#[test]
fn square_l2_on_flat_vectors_stays_in_the_ball() {
    let t = mlp();
    let remote = Remote::new(&t.model, None);
    let goal = Goal::untargeted(t.y.clone());
    let clean = accuracy_of(&t.model, &t.x, &t.y);
    let eps = 0.6;
    let mut attack = Square::new(Norm::L2, eps).unwrap();
    attack.max_iter = 200;
    let (adv, stats) = attack.run(&remote, &t.x, &goal, &mut Rng::new(2)).unwrap();
    assert!(in_range(&adv));
    let l2 = norms(&adv, &t.x, Norm::L2);
    assert!(l2.iter().all(|&v| v <= eps * 1.0001), "{l2:?}");
    let robust = accuracy_of(&t.model, &adv, &t.y);
    // Random directions of the same length barely matter.
    let mut rng = Rng::new(9);
    let n = t.y.len();
    let mut noise: Vec<f32> = (0..n * FEATURES).map(|_| rng.normal() as f32).collect();
    for row in noise.chunks_mut(FEATURES) {
        let s = eps / row.iter().map(|a| a * a).sum::<f32>().sqrt();
        for a in row.iter_mut() {
            *a *= s;
        }
    }
    let noisy = (&t.x + Tensor::from_vec(noise, (n, FEATURES), &Device::Cpu).unwrap())
        .unwrap()
        .clamp(0.0f32, 1.0)
        .unwrap();
    let noise_acc = accuracy_of(&t.model, &noisy, &t.y);
    assert!(
        robust <= 0.25 && noise_acc >= robust + 0.4,
        "clean {clean}, square {robust}, noise {noise_acc}, {stats:?}"
    );
}

#[test]
fn square_restarts_only_add_broken_rows() {
    let t = mlp();
    let goal = Goal::untargeted(t.y.clone());
    let mut attack = Square::new(Norm::Linf, 0.1).unwrap();
    attack.max_iter = 15;
    let remote = Remote::new(&t.model, None);
    let (one, first) = attack.run(&remote, &t.x, &goal, &mut Rng::new(4)).unwrap();
    attack.restarts = 3;
    let (more, stats) = attack.run(&remote, &t.x, &goal, &mut Rng::new(4)).unwrap();
    let (p1, p3) = (labels(&t.model, &one), labels(&t.model, &more));
    let broken = |p: &[u32]| p.iter().zip(&t.y).filter(|(a, b)| a != b).count();
    // The first run is the same; later runs only touch rows it left unbroken.
    for i in 0..t.y.len() {
        if p1[i] != t.y[i] {
            assert_eq!(p3[i], p1[i], "row {i}");
        }
    }
    assert!(
        broken(&p3) > broken(&p1),
        "{} vs {}",
        broken(&p3),
        broken(&p1)
    );
    assert!(stats.iterations > first.iterations && stats.iterations <= 3 * 15);
    assert!(
        norms(&more, &t.x, Norm::Linf)
            .iter()
            .all(|&v| v <= 0.1 + 1e-6)
    );
}

#[test]
fn square_targeted_reaches_the_target() {
    let t = cnn();
    let remote = Remote::new(&t.model, None);
    let targets: Vec<u32> = t.y.iter().map(|&y| (y + 1) % SHAPES as u32).collect();
    let goal = Goal {
        labels: t.y.clone(),
        targets: Some(targets.clone()),
    };
    let mut attack = Square::new(Norm::Linf, 0.3).unwrap();
    attack.max_iter = 400;
    let (adv, _) = attack.run(&remote, &t.x, &goal, &mut Rng::new(3)).unwrap();
    let hit = share(
        labels(&t.model, &adv)
            .iter()
            .zip(&targets)
            .map(|(p, t)| p == t),
    );
    assert!(hit >= 0.9, "targeted success {hit}");
    assert!(
        norms(&adv, &t.x, Norm::Linf)
            .iter()
            .all(|&v| v <= 0.3 + 1e-6)
    );
}

fn hsj(norm: Norm, iters: usize) -> HopSkipJump {
    let mut a = HopSkipJump::new(norm);
    a.max_iter = iters;
    a.init_eval = 40;
    a.max_eval = 400;
    a
}

/// Rows HopSkipJump tests attack (it is the slowest attack in a debug build).
const HSJ_ROWS: usize = 30;

/// Runs HopSkipJump on the first rows at growing iteration counts; checks every changed row is
/// adversarial and returns the mean norm over the broken rows, and the success rate, per count.
fn hsj_curve(t: &Trained, goal: &Goal, norm: Norm, iters: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let t = &Trained {
        model: LocalModel::new(t.model.network().clone(), "head"),
        x: t.x.narrow(0, 0, HSJ_ROWS).unwrap(),
        y: t.y[..HSJ_ROWS].to_vec(),
    };
    let goal = &goal.select(&(0..HSJ_ROWS).collect::<Vec<_>>());
    let clean = labels(&t.model, &t.x);
    let mut means = Vec::new();
    let mut success = Vec::new();
    for &it in iters {
        let remote = Remote::new(&t.model, None);
        let (adv, stats) = hsj(norm, it)
            .run(&remote, &t.x, goal, &mut Rng::new(5))
            .unwrap();
        assert_eq!(stats.iterations, it);
        assert_eq!(stats.queries, remote.queries().predictions);
        assert!(in_range(&adv));
        let pred = labels(&t.model, &adv);
        let achieved = goal.achieved(&pred);
        let d = norms(&adv, &t.x, norm);
        let mut broken = Vec::new();
        let mut attacked = 0;
        for i in 0..t.y.len() {
            let already = match &goal.targets {
                Some(targets) => clean[i] == targets[i],
                None => clean[i] != goal.labels[i],
            };
            if already {
                assert_eq!(d[i], 0.0, "row {i} was adversarial already");
                continue;
            }
            attacked += 1;
            if achieved[i] {
                broken.push(d[i]);
            } else {
                assert_eq!(d[i], 0.0, "row {i}: a failed row comes back unchanged");
            }
        }
        success.push(broken.len() as f64 / f64::from(attacked));
        means.push(mean(&broken));
    }
    (means, success)
}

#[test]
fn hopskipjump_l2_norms_shrink_as_iterations_grow() {
    let t = cnn();
    let goal = Goal::untargeted(t.y.clone());
    let (means, success) = hsj_curve(t, &goal, Norm::L2, &[0, 3, 12]);
    assert!(success.iter().all(|&s| s >= 0.95), "{success:?}");
    assert!(
        means[1] < 0.8 * means[0] && means[2] < 0.9 * means[1] && means[2] < 0.5 * means[0],
        "mean L2 per iteration count: {means:?}"
    );
}

#[test]
fn hopskipjump_linf_and_flat_vectors() {
    let t = mlp();
    let goal = Goal::untargeted(t.y.clone());
    let (means, success) = hsj_curve(t, &goal, Norm::Linf, &[0, 10]);
    assert!(success.iter().all(|&s| s >= 0.95), "{success:?}");
    assert!(means[1] < 0.8 * means[0], "mean Linf: {means:?}");
    let (means, success) = hsj_curve(t, &goal, Norm::L2, &[0, 10]);
    assert!(success.iter().all(|&s| s >= 0.95), "{success:?}");
    assert!(means[1] < 0.8 * means[0], "mean L2: {means:?}");
}

#[test]
fn hopskipjump_targeted_reaches_the_target() {
    let t = cnn();
    let targets: Vec<u32> = t.y.iter().map(|&y| (y + 2) % SHAPES as u32).collect();
    let goal = Goal {
        labels: t.y.clone(),
        targets: Some(targets),
    };
    let (means, success) = hsj_curve(t, &goal, Norm::L2, &[0, 8]);
    assert!(success.iter().all(|&s| s >= 0.95), "{success:?}");
    assert!(means[1] < 0.8 * means[0], "mean L2: {means:?}");
}

#[test]
fn budgets_stop_the_attacks_cleanly() {
    let t = cnn();
    let n = t.y.len() as u64;
    let goal = Goal::untargeted(t.y.clone());
    let clean = accuracy_of(&t.model, &t.x, &t.y);

    // Square: the clean pass, the initialisation and a few iterations fit.
    let budget = 6 * n;
    let remote = Remote::new(&t.model, Some(budget));
    let attack = Square::new(Norm::Linf, 0.3).unwrap();
    let (adv, stats) = attack.run(&remote, &t.x, &goal, &mut Rng::new(1)).unwrap();
    assert!(stats.budget_exhausted, "{stats:?}");
    assert!(remote.queries().predictions <= budget);
    assert_eq!(stats.queries, remote.queries().predictions);
    assert!(stats.iterations >= 3, "{stats:?}");
    assert!(
        norms(&adv, &t.x, Norm::Linf)
            .iter()
            .all(|&v| v <= 0.3 + 1e-6)
    );
    assert!(in_range(&adv));
    let robust = accuracy_of(&t.model, &adv, &t.y);
    assert!(
        robust < clean - 0.2,
        "best rows so far: {robust} vs clean {clean}"
    );

    // HopSkipJump: stops mid-way; what it returns is adversarial or untouched.
    let budget = 3_000;
    let remote = Remote::new(&t.model, Some(budget));
    let (adv, stats) = hsj(Norm::L2, 50)
        .run(&remote, &t.x, &goal, &mut Rng::new(1))
        .unwrap();
    assert!(stats.budget_exhausted && stats.iterations < 50, "{stats:?}");
    assert!(remote.queries().predictions <= budget);
    let pred = labels(&t.model, &adv);
    let clean_pred = labels(&t.model, &t.x);
    let d = norms(&adv, &t.x, Norm::L2);
    let mut broken = 0;
    for i in 0..t.y.len() {
        if d[i] > 0.0 {
            assert_ne!(pred[i], t.y[i], "row {i} changed without being adversarial");
            broken += 1;
        } else {
            assert!(clean_pred[i] != t.y[i] || pred[i] == t.y[i]);
        }
    }
    assert!(
        f64::from(broken) >= 0.8 * clean * t.y.len() as f64,
        "{broken} rows broken"
    );

    // A budget too small for the clean pass: nothing changes, no error.
    let remote = Remote::new(&t.model, Some(n - 1));
    let (adv, stats) = attack.run(&remote, &t.x, &goal, &mut Rng::new(1)).unwrap();
    assert_eq!(
        stats,
        BlackBoxStats {
            budget_exhausted: true,
            ..BlackBoxStats::default()
        }
    );
    assert_eq!(
        norms(&adv, &t.x, Norm::Linf)
            .iter()
            .copied()
            .fold(0.0, f32::max),
        0.0
    );
}

#[test]
fn same_seed_same_rows() {
    let t = mlp();
    let goal = Goal::untargeted(t.y.clone());
    let remote = Remote::new(&t.model, None);
    let flat = |x: &Tensor| x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    for norm in [Norm::Linf, Norm::L2] {
        let mut square = Square::new(norm, 0.2).unwrap();
        square.max_iter = 30;
        let a = flat(
            &square
                .run(&remote, &t.x, &goal, &mut Rng::new(7))
                .unwrap()
                .0,
        );
        let b = flat(
            &square
                .run(&remote, &t.x, &goal, &mut Rng::new(7))
                .unwrap()
                .0,
        );
        let c = flat(
            &square
                .run(&remote, &t.x, &goal, &mut Rng::new(8))
                .unwrap()
                .0,
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        let h = hsj(norm, 3);
        let a = flat(&h.run(&remote, &t.x, &goal, &mut Rng::new(7)).unwrap().0);
        let b = flat(&h.run(&remote, &t.x, &goal, &mut Rng::new(7)).unwrap().0);
        assert_eq!(a, b);
    }
}

#[test]
fn bad_parameters_and_inputs_are_refused() {
    let t = mlp();
    let goal = Goal::untargeted(t.y.clone());
    assert!(matches!(
        Square::new(Norm::Linf, 0.0),
        Err(AttackError::Parameter(_))
    ));
    assert!(matches!(
        Square::new(Norm::L2, f32::NAN),
        Err(AttackError::Parameter(_))
    ));
    let mut square = Square::new(Norm::Linf, 0.1).unwrap();
    square.p_init = 1.5;
    let err = square.run(&t.model, &t.x, &goal, &mut Rng::new(1));
    assert!(matches!(err, Err(AttackError::Parameter(_))));
    let mut h = HopSkipJump::new(Norm::L2);
    h.init_eval = 0;
    assert!(matches!(
        h.run(&t.model, &t.x, &goal, &mut Rng::new(1)),
        Err(AttackError::Parameter(_))
    ));
    let short = Goal::untargeted(t.y[..3].to_vec());
    let square = Square::new(Norm::Linf, 0.1).unwrap();
    assert!(matches!(
        square.run(&t.model, &t.x, &short, &mut Rng::new(1)),
        Err(AttackError::Parameter(_))
    ));
    let wrong = t.x.reshape((t.y.len(), 4, 4)).unwrap();
    assert!(matches!(
        HopSkipJump::new(Norm::L2).run(&t.model, &wrong, &goal, &mut Rng::new(1)),
        Err(AttackError::Parameter(_))
    ));
    let bad_target = Goal {
        labels: t.y.clone(),
        targets: Some(vec![BLOBS as u32; t.y.len()]),
    };
    assert!(matches!(
        square.run(&t.model, &t.x, &bad_target, &mut Rng::new(1)),
        Err(AttackError::Parameter(_))
    ));
}
