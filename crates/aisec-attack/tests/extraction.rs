//! Model extraction and its defenses against real trained models: a softmax regression and a
//! binary logistic regression on synthetic tabular blobs, and the small MLP on 8x8 bar images.
//! Every attack sees the victim only through `predict`.

// Agreement of an exact copy is 1.0 exactly, not approximately.
#![allow(clippy::float_cmp)]

mod support;

use aisec_attack::extract::equation_solving::{EquationSolving, Status, extract_log_linear};
use aisec_attack::extract::hardening::{Hardened, OutputDefense};
use aisec_attack::extract::knockoff::{Evaluation, Knockoff, Labels, Reward, Strategy, knockoff};
use aisec_attack::extract::prada::{Prada, PradaDetector, PradaGuard, screen};
use aisec_attack::extract::run::{ExtractPlan, Method, PoolSource, findings, run_extract};
use aisec_attack::extract::{PoolKind, QueryStream, agreement};
use aisec_ml::train::{TrainConfig, train};
use aisec_ml::{Classifier, Device, LocalModel, ModelKind, Network, Rng, Tensor};

const FEATURES: usize = 12;

/// `n` rows of `classes` Gaussian blobs in 12 dimensions (unit spread around seeded centres),
/// clipped to [-5, 5].
fn blobs(n: usize, classes: usize, seed: u64) -> (Tensor, Vec<u32>) {
    let mut centres = Rng::new(99);
    let c: Vec<f64> = (0..classes * FEATURES)
        .map(|_| centres.uniform_in(-2.0, 2.0))
        .collect();
    let mut rng = Rng::new(seed);
    let mut x = Vec::with_capacity(n * FEATURES);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % classes;
        for j in 0..FEATURES {
            x.push((c[class * FEATURES + j] + rng.normal()).clamp(-5.0, 5.0) as f32);
        }
        y.push(class as u32);
    }
    (Tensor::from_vec(x, (n, FEATURES), &Device::Cpu).unwrap(), y)
}

fn recipe() -> TrainConfig {
    TrainConfig {
        epochs: 40,
        batch_size: 32,
        patience: None,
        seed: 1,
        ..TrainConfig::default()
    }
}

/// A logistic model of `classes` classes trained on the blobs, as a black-box target.
fn logistic(classes: usize) -> LocalModel {
    let mut arch = ModelKind::Logistic
        .architecture(&[FEATURES], classes)
        .unwrap();
    arch.input_range = [-5.0, 5.0];
    let (x, y) = blobs(600, classes, 1);
    let mut net = Network::init(arch, 2).unwrap();
    train(&mut net, &x, &y, &recipe(), None).unwrap();
    LocalModel::new(net, format!("blobs-logistic-{classes}"))
}

fn labels_of(model: &dyn Classifier, x: &Tensor) -> Vec<u32> {
    model.predict_labels(x).unwrap()
}

/// The deterministic check: equation solving recovers a logistic model (softmax over
/// three classes, and binary) with 100% agreement on held-out points within K(d+1) queries.
#[test]
fn equation_solving_recovers_logistic_models_exactly() {
    for classes in [3, 2] {
        let victim = logistic(classes);
        let result = extract_log_linear(&victim, &EquationSolving::default()).unwrap();
        let o = &result.outcome;
        assert_eq!(o.status, Status::Exact, "{o:?}");
        assert!(o.queries <= classes * (FEATURES + 1), "{o:?}");
        assert_eq!(o.solve_queries, FEATURES + 1);
        assert_eq!(victim.queries().predictions as usize, o.queries);
        assert!(o.residual.unwrap() < 1e-3, "{o:?}");
        let copy = LocalModel::new(result.fit.unwrap(), "copy");
        let (held_out, _) = blobs(500, classes, 7);
        assert_eq!(
            agreement(&labels_of(&copy, &held_out), &labels_of(&victim, &held_out)),
            1.0
        );
        // The probabilities themselves match, not just the top class.
        let diff = (copy.predict(&held_out).unwrap() - victim.predict(&held_out).unwrap())
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-3, "probabilities differ by {diff}");
    }
}

#[test]
fn equation_solving_says_when_it_does_not_apply() {
    // A network with a hidden layer is not log-linear: no copy is claimed.
    let mlp = support::mlp();
    let result = extract_log_linear(&mlp, &EquationSolving::default()).unwrap();
    assert_eq!(
        result.outcome.status,
        Status::NotLogLinear,
        "{:?}",
        result.outcome
    );
    assert!(result.outcome.residual.unwrap() > 0.1);
    assert!(result.outcome.queries <= 4 * 65);

    // Labels only: nothing to solve.
    let victim = logistic(3);
    let top1 = Hardened::new(&victim, OutputDefense::Top1);
    let result = extract_log_linear(&top1, &EquationSolving::default()).unwrap();
    assert_eq!(result.outcome.status, Status::NoProbabilities);
    assert!(result.fit.is_none());

    // Rounded answers break exactness, and the outcome says why.
    let rounded = Hardened::new(&victim, OutputDefense::Round { decimals: 3 });
    let result = extract_log_linear(&rounded, &EquationSolving::default()).unwrap();
    assert_eq!(
        result.outcome.status,
        Status::Rounded,
        "{:?}",
        result.outcome
    );
    assert_eq!(result.outcome.rounded_to, Some(3));
}

fn knockoff_attack(strategy: Strategy, labels: Labels, budgets: Vec<usize>) -> Knockoff {
    Knockoff {
        strategy,
        labels,
        budgets,
        surrogate: support::mlp_arch(),
        train: TrainConfig {
            epochs: 30,
            batch_size: 32,
            patience: None,
            seed: 4,
            ..TrainConfig::default()
        },
        batch: 25,
        reward: Reward::All,
        bandit_lr: 0.1,
        arms: 0,
        seed: 5,
    }
}

#[test]
fn knockoff_and_copycat_copy_the_mlp_better_with_more_queries() {
    let victim = support::mlp();
    let (pool, _) = support::bars(500, 21);
    let (test_x, test_y) = support::test_set();
    let victim_labels = labels_of(&victim, &test_x);
    let eval = Evaluation {
        x: &test_x,
        labels: &test_y,
        victim: &victim_labels,
    };
    for (strategy, labels) in [
        (Strategy::Random, Labels::Soft),
        (Strategy::Adaptive, Labels::Soft),
        (Strategy::Random, Labels::Hard),
    ] {
        victim.reset_queries();
        let attack = knockoff_attack(strategy, labels, vec![20, 100, 400]);
        let out = knockoff(&victim, &pool, &attack, eval).unwrap();
        assert_eq!(out.points.len(), 3);
        assert_eq!(out.stream.len(), 400);
        assert_eq!(victim.queries().predictions, 400);
        let first = out.points[0].fidelity;
        let last = out.points[2].fidelity;
        assert!(
            last >= 0.9 && last > first,
            "{strategy:?} {labels:?}: fidelity {first} -> {last}"
        );
        assert_eq!(out.policy.is_some(), strategy == Strategy::Adaptive);
    }
}

#[test]
fn a_small_pool_stops_the_stream_and_says_so() {
    let victim = support::mlp();
    let (pool, _) = support::bars(60, 21);
    let (test_x, test_y) = support::test_set();
    let victim_labels = labels_of(&victim, &test_x);
    let out = knockoff(
        &victim,
        &pool,
        &knockoff_attack(Strategy::Random, Labels::Soft, vec![50, 100, 200]),
        Evaluation {
            x: &test_x,
            labels: &test_y,
            victim: &victim_labels,
        },
    )
    .unwrap();
    assert_eq!(out.points.len(), 2);
    assert_eq!(out.points[1].queries, 60);
    assert!(out.stopped.unwrap().contains("60 rows"));
}

/// A stream of synthetic probes: a few seeds, each followed by small steps along single axes
/// (the shape of Papernot-style and equation-solving queries).
fn probe_stream(victim: &dyn Classifier) -> QueryStream {
    let (seeds, _) = blobs(12, 3, 31);
    let seeds = seeds.to_vec2::<f32>().unwrap();
    let mut rows = Vec::new();
    for s in &seeds {
        for j in 0..FEATURES {
            let mut r = s.clone();
            r[j] += 0.05;
            rows.extend(r);
        }
    }
    let n = rows.len() / FEATURES;
    let x = Tensor::from_vec(rows, (n, FEATURES), &Device::Cpu).unwrap();
    stream_of(victim, &x)
}

fn stream_of(victim: &dyn Classifier, x: &Tensor) -> QueryStream {
    let answers = victim.predict(x).unwrap().to_vec2::<f32>().unwrap();
    let mut stream = QueryStream::new(FEATURES);
    stream.push(x, &answers).unwrap();
    stream
}

#[test]
fn prada_flags_synthetic_probes_and_the_guard_refuses_after_it() {
    let victim = logistic(3);
    let stream = probe_stream(&victim);
    let s = screen(Prada::default(), &stream, 3).unwrap();
    assert!(s.detected, "{s:?}");
    assert!(
        s.answered_before_alarm >= 100,
        "tests start after 100 distances: {s:?}"
    );

    // Natural rows (Gaussian blobs) in their natural order pass.
    let (natural, _) = blobs(400, 3, 41);
    let b = screen(Prada::default(), &stream_of(&victim, &natural), 3).unwrap();
    assert!(!b.detected, "{b:?}");
    assert!(b.tested > 200 && b.min_w.unwrap() >= 0.95, "{b:?}");

    // In front of the model: answers until the alarm, then refuses everything.
    let guard = PradaGuard::new(&victim, Prada::default()).unwrap();
    let x = Tensor::from_vec(stream.rows.clone(), (stream.len(), FEATURES), &Device::Cpu).unwrap();
    let mut answered = 0;
    for start in (0..stream.len()).step_by(10) {
        let batch = x.narrow(0, start, 10.min(stream.len() - start)).unwrap();
        match guard.predict(&batch) {
            Ok(_) => answered += batch.dim(0).unwrap(),
            Err(e) => {
                assert!(e.to_string().contains("PRADA"), "{e}");
                break;
            }
        }
    }
    assert_eq!(guard.first_alarm(), Some(s.answered_before_alarm));
    assert!(answered <= s.answered_before_alarm);
    assert!(guard.predict(&x.narrow(0, 0, 1).unwrap()).is_err());

    // Bad input is an error, not a panic.
    let mut d = PradaDetector::new(Prada::default(), 4, 2).unwrap();
    assert!(d.observe(&[0.0; 3], 0).is_err());
    assert!(d.observe(&[0.0; 4], 2).is_err());
    assert!(d.observe(&[f32::NAN; 4], 0).is_err());
}

#[test]
fn a_full_run_measures_hardening_and_gives_findings() {
    let victim = logistic(3);
    let (pool, _) = blobs(400, 3, 11);
    let (test_x, test_y) = blobs(150, 3, 12);
    let mut surrogate = ModelKind::Logistic.architecture(&[FEATURES], 3).unwrap();
    surrogate.input_range = [-5.0, 5.0];
    let plan = ExtractPlan {
        methods: vec![
            Method::EquationSolving,
            Method::Knockoff(Strategy::Random),
            Method::Copycat,
        ],
        knockoff: Knockoff {
            surrogate,
            ..knockoff_attack(Strategy::Random, Labels::Soft, vec![25, 100, 300])
        },
        equation_solving: EquationSolving::default(),
        defenses: vec![
            OutputDefense::Top1,
            OutputDefense::Round { decimals: 2 },
            OutputDefense::ReverseSigmoid {
                beta: 0.7,
                gamma: 0.4,
            },
        ],
        prada: Some(Prada::default()),
    };
    let run = run_extract(
        &victim,
        PoolSource {
            kind: PoolKind::Data,
            rows: &pool,
            name: "blobs",
        },
        (&test_x, &test_y),
        &plan,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(run.attacks.len(), 12);
    assert_eq!(run.hardening.len(), 3);
    assert!(
        run.hardening[0].accuracy_cost.abs() < 1e-12,
        "top-1 keeps the top class"
    );
    let es = run.attacks[0].equation_solving.as_ref().unwrap();
    assert_eq!(es.outcome.status, Status::Exact);
    assert_eq!(es.fidelity, Some(1.0));
    for a in run
        .attacks
        .iter()
        .filter(|a| a.method == Method::EquationSolving && a.defense != "none")
    {
        assert_ne!(
            a.equation_solving.as_ref().unwrap().outcome.status,
            Status::Exact,
            "{}",
            a.defense
        );
    }
    let f = findings(&run, "blobs-logistic");
    let rules: Vec<&str> = f.iter().map(|f| f.rule.as_str()).collect();
    assert!(rules.contains(&"AT131"), "{rules:?}");
    assert_eq!(rules.iter().filter(|r| **r == "AT133").count(), 3);
    assert!(rules.iter().any(|r| matches!(*r, "AT134" | "AT135")));
    let json = serde_json::to_value(&run).unwrap();
    assert_eq!(json["attacks"][0]["equation_solving"]["status"], "exact");
    assert!(run.copies.iter().any(|(l, _)| l == "equation-solving"));
}

#[test]
fn bad_parameters_are_clear_errors() {
    let victim = support::mlp();
    let (pool, _) = support::bars(50, 21);
    let (test_x, test_y) = support::test_set();
    let victim_labels = labels_of(&victim, &test_x);
    let eval = Evaluation {
        x: &test_x,
        labels: &test_y,
        victim: &victim_labels,
    };
    let run = |attack: Knockoff| {
        knockoff(&victim, &pool, &attack, eval)
            .unwrap_err()
            .to_string()
    };
    let base = || knockoff_attack(Strategy::Random, Labels::Soft, vec![10, 20]);
    assert!(
        run(Knockoff {
            budgets: vec![20, 10],
            ..base()
        })
        .contains("ascending")
    );
    assert!(
        run(Knockoff {
            budgets: vec![0],
            ..base()
        })
        .contains("positive")
    );
    assert!(
        run(Knockoff {
            budgets: vec![1_000_000],
            ..base()
        })
        .contains("bound")
    );
    let mut wrong = support::mlp_arch();
    wrong.num_classes = 5;
    if let Some(aisec_ml::LayerSpec::Linear { out_features, .. }) = wrong.layers.last_mut() {
        *out_features = 5;
    }
    assert!(
        run(Knockoff {
            surrogate: wrong,
            ..base()
        })
        .contains("surrogate")
    );
    assert!(run(Knockoff { batch: 0, ..base() }).contains("positive"));
    assert!(
        OutputDefense::ReverseSigmoid {
            beta: f64::NAN,
            gamma: 1.0
        }
        .validate()
        .is_err()
    );
    assert!(
        PradaDetector::new(
            Prada {
                delta: 1.5,
                min_distances: 100
            },
            4,
            2
        )
        .is_err()
    );
    assert!(
        PradaDetector::new(
            Prada {
                delta: 0.9,
                min_distances: 2
            },
            4,
            2
        )
        .is_err()
    );
}
