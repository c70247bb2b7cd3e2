//! The white-box attacks against small models trained here on a synthetic image task: each must
//! break the model, respect its bound and the input range, reach targets, and repeat exactly
//! with the same seed.
//!
//! Throughput (ignored in the normal run):
//! `RAYON_NUM_THREADS=1 cargo test --release -p aisec-attack --test white_box -- --ignored --nocapture`.

mod support;

use std::sync::OnceLock;

use aisec_attack::evasion::apgd::Apgd;
use aisec_attack::evasion::cw::CarliniL2;
use aisec_attack::evasion::deepfool::DeepFool;
use aisec_attack::evasion::fgsm::Fgsm;
use aisec_attack::evasion::pgd::Pgd;
use aisec_attack::evasion::{EvasionAttack, Goal, Norm};
use aisec_attack::metrics::judge;
use aisec_ml::candle::Tensor;
use aisec_ml::{Classifier, LocalModel, Rng, WhiteBox};
use support::{CLASSES, accuracy_of, assert_bounded, max_diff, norms, success_rate, test_set};

fn mlp() -> &'static LocalModel {
    static MODEL: OnceLock<LocalModel> = OnceLock::new();
    MODEL.get_or_init(support::mlp)
}

fn untargeted() -> Goal {
    Goal::untargeted(test_set().1)
}

fn targeted() -> Goal {
    let labels = test_set().1;
    let targets = labels.iter().map(|&y| (y + 1) % CLASSES as u32).collect();
    Goal {
        labels,
        targets: Some(targets),
    }
}

fn run(attack: &dyn EvasionAttack, model: &dyn Classifier, goal: &Goal, seed: u64) -> Tensor {
    attack
        .generate(model, &test_set().0, goal, &mut Rng::new(seed))
        .unwrap()
}

fn pgd(norm: Norm, eps: f32, step: f32, iters: usize) -> Pgd {
    Pgd {
        eps_step: step,
        max_iter: iters,
        ..Pgd::new(norm, eps).unwrap()
    }
}

/// For each row, the perturbation of FGSM (`fgsm_norm`) at the smallest eps on `grid` that meets
/// the goal, measured in `measure` (None: FGSM never breaks the row).
fn fgsm_min_size(
    model: &dyn Classifier,
    fgsm_norm: Norm,
    measure: Norm,
    grid: &[f32],
) -> Vec<Option<f32>> {
    let (x, y) = test_set();
    let goal = Goal::untargeted(y);
    let mut found = vec![None; x.dim(0).unwrap()];
    for &eps in grid {
        let adv = run(&Fgsm::new(fgsm_norm, eps).unwrap(), model, &goal, 0);
        let size = norms(&x, &adv, measure);
        for (i, row) in judge(model, &x, &adv, &goal).unwrap().iter().enumerate() {
            if row.success && found[i].is_none() {
                found[i] = Some(size[i]);
            }
        }
    }
    found
}

/// Compares a minimum-norm attack's successful rows (measured in `measure`) with the smallest
/// FGSM perturbation that breaks the same rows: returns the share of rows where the attack's is
/// smaller, and the mean ratio. Also checks that the rows it did not break come back unchanged.
fn against_fgsm(
    model: &dyn Classifier,
    adv: &Tensor,
    measure: Norm,
    fgsm_norm: Norm,
    grid: &[f32],
) -> (f64, f64) {
    let (x, y) = test_set();
    let goal = Goal::untargeted(y);
    let rows = judge(model, &x, adv, &goal).unwrap();
    let fgsm = fgsm_min_size(model, fgsm_norm, measure, grid);
    let size = norms(&x, adv, measure);
    let mut compared = 0u32;
    let mut smaller = 0u32;
    let mut ratio = 0.0;
    for (i, row) in rows.iter().enumerate() {
        if !row.success {
            assert!(
                size[i] == 0.0,
                "row {i} was not broken but comes back changed"
            );
            continue;
        }
        if let Some(f) = fgsm[i] {
            compared += 1;
            if size[i] < f {
                smaller += 1;
            }
            ratio += f64::from(size[i] / f);
        }
    }
    assert!(
        compared as usize >= rows.len() / 2,
        "only {compared} rows to compare"
    );
    (
        f64::from(smaller) / f64::from(compared),
        ratio / f64::from(compared),
    )
}

/// A fine eps grid for FGSM in `norm`.
fn grid(norm: Norm) -> Vec<f32> {
    match norm {
        Norm::L2 => (1..=200).map(|i| i as f32 * 0.02).collect(),
        Norm::Linf => (1..=100).map(|i| i as f32 * 0.005).collect(),
    }
}

#[test]
fn pgd_linf_drives_accuracy_to_zero_at_large_eps_and_stays_in_the_ball() {
    let model = mlp();
    let (x, y) = test_set();
    let goal = Goal::untargeted(y.clone());
    assert!(accuracy_of(model, &x, &y) > 0.95);
    let mut previous = 1.0;
    for (k, eps) in [0.05, 0.1, 0.2, 0.3].into_iter().enumerate() {
        let adv = run(&pgd(Norm::Linf, eps, eps / 4.0, 20), model, &goal, 0);
        assert_bounded(&x, &adv, Norm::Linf, eps);
        let acc = accuracy_of(model, &adv, &y);
        assert!(
            acc <= previous,
            "accuracy rose from {previous} to {acc} at eps {eps}"
        );
        previous = acc;
        if k == 0 {
            assert!(acc > 0.8, "eps 0.05 should barely hurt this model: {acc}");
        }
    }
    assert!(previous <= 0.02, "robust accuracy {previous} at eps 0.3");
}

#[test]
fn pgd_l2_breaks_the_model_within_the_ball() {
    let model = mlp();
    let (x, y) = test_set();
    let goal = Goal::untargeted(y.clone());
    let adv = run(&pgd(Norm::L2, 1.5, 0.3, 20), model, &goal, 0);
    assert_bounded(&x, &adv, Norm::L2, 1.5);
    let acc = accuracy_of(model, &adv, &y);
    assert!(acc <= 0.05, "robust accuracy {acc} at L2 eps 1.5");
    // A small ball leaves most rows intact.
    let adv = run(&pgd(Norm::L2, 0.2, 0.05, 20), model, &goal, 0);
    assert_bounded(&x, &adv, Norm::L2, 0.2);
    assert!(accuracy_of(model, &adv, &y) > 0.8);
}

#[test]
fn pgd_random_starts_repeat_with_the_seed_and_restarts_never_lose() {
    let model = mlp();
    let (x, _) = test_set();
    let goal = untargeted();
    for norm in [Norm::Linf, Norm::L2] {
        let eps = if norm == Norm::Linf { 0.12 } else { 0.6 };
        let one = Pgd {
            num_random_init: 1,
            ..pgd(norm, eps, eps / 4.0, 10)
        };
        let three = Pgd {
            num_random_init: 3,
            ..one.clone()
        };
        let a = run(&one, model, &goal, 7);
        assert!(max_diff(&a, &run(&one, model, &goal, 7)) == 0.0);
        assert!(
            max_diff(&a, &run(&one, model, &goal, 8)) > 0.0,
            "the seed is ignored"
        );
        assert_bounded(&x, &a, norm, eps);
        let b = run(&three, model, &goal, 7);
        assert_bounded(&x, &b, norm, eps);
        let (sa, sb) = (
            success_rate(model, &x, &a, &goal),
            success_rate(model, &x, &b, &goal),
        );
        assert!(sb >= sa, "{norm}: 3 restarts {sb} < 1 restart {sa}");
        assert!(
            sa > 0.2 && sa < 1.0,
            "{norm}: eps should be mid-range, success {sa}"
        );
    }
}

#[test]
fn pgd_early_stop_is_never_weaker_than_the_last_iterate() {
    let model = mlp();
    let (x, _) = test_set();
    let goal = untargeted();
    let plain = pgd(Norm::Linf, 0.12, 0.03, 20);
    let early = Pgd {
        early_stop: true,
        ..plain.clone()
    };
    let a = run(&plain, model, &goal, 0);
    let b = run(&early, model, &goal, 0);
    assert_bounded(&x, &b, Norm::Linf, 0.12);
    assert!(success_rate(model, &x, &b, &goal) >= success_rate(model, &x, &a, &goal));
}

#[test]
fn pgd_and_apgd_reach_targets() {
    let model = mlp();
    let (x, _) = test_set();
    let goal = targeted();
    let adv = run(&pgd(Norm::Linf, 0.3, 0.05, 30), model, &goal, 0);
    assert_bounded(&x, &adv, Norm::Linf, 0.3);
    let s = success_rate(model, &x, &adv, &goal);
    assert!(s >= 0.9, "targeted PGD success {s}");
    let apgd = Apgd {
        max_iter: 30,
        ..Apgd::new(Norm::Linf, 0.3).unwrap()
    };
    let adv = run(&apgd, model, &goal, 0);
    assert_bounded(&x, &adv, Norm::Linf, 0.3);
    let s = success_rate(model, &x, &adv, &goal);
    assert!(s >= 0.9, "targeted APGD success {s}");
}

#[test]
fn apgd_is_at_least_as_strong_as_pgd_at_the_same_budget() {
    let model = mlp();
    let (x, _) = test_set();
    let goal = untargeted();
    for (norm, eps) in [(Norm::Linf, 0.12), (Norm::L2, 0.6)] {
        let apgd = Apgd {
            max_iter: 20,
            ..Apgd::new(norm, eps).unwrap()
        };
        let a = run(&apgd, model, &goal, 3);
        assert_bounded(&x, &a, norm, eps);
        assert!(max_diff(&a, &run(&apgd, model, &goal, 3)) == 0.0);
        let p = run(&pgd(norm, eps, eps / 4.0, 20), model, &goal, 3);
        let (sa, sp) = (
            success_rate(model, &x, &a, &goal),
            success_rate(model, &x, &p, &goal),
        );
        assert!(sa >= sp - 0.02, "{norm}: APGD {sa} < PGD {sp}");
        assert!(sp < 1.0, "{norm}: eps too large to compare");
        // Two restarts only add successes.
        let two = Apgd {
            restarts: 2,
            ..apgd.clone()
        };
        let b = run(&two, model, &goal, 3);
        assert_bounded(&x, &b, norm, eps);
        assert!(success_rate(model, &x, &b, &goal) >= sa);
    }
}

#[test]
fn cw_breaks_rows_with_smaller_changes_than_fgsm_needs() {
    let model = mlp();
    let cw = CarliniL2 {
        max_iter: 100,
        binary_search_steps: 6,
        initial_const: 0.1,
        ..CarliniL2::default()
    };
    let (x, _) = test_set();
    let goal = untargeted();
    let adv = run(&cw, model, &goal, 0);
    assert_bounded(&x, &adv, Norm::L2, f32::INFINITY);
    let s = success_rate(model, &x, &adv, &goal);
    assert!(s >= 0.95, "C&W success {s}");
    // Against FGSM's sign step, the classic: smaller on nearly every row.
    let (share, ratio) = against_fgsm(model, &adv, Norm::L2, Norm::Linf, &grid(Norm::Linf));
    assert!(
        share >= 0.9 && ratio <= 0.9,
        "C&W smaller than FGSM (sign) on {share} of rows, mean ratio {ratio}"
    );
    // Against FGSM's L2 step (the gradient direction, near-optimal for a near-linear model): no
    // larger on average.
    let (share, ratio) = against_fgsm(model, &adv, Norm::L2, Norm::L2, &grid(Norm::L2));
    assert!(
        ratio <= 1.0,
        "C&W vs FGSM (L2): smaller on {share} of rows, mean ratio {ratio}"
    );
    assert!(max_diff(&adv, &run(&cw, model, &goal, 1)) == 0.0);
}

#[test]
fn cw_targeted_wins_by_the_confidence_margin() {
    let model = mlp();
    let kappa = 2.0;
    let cw = CarliniL2 {
        max_iter: 100,
        binary_search_steps: 6,
        initial_const: 0.1,
        confidence: kappa,
        ..CarliniL2::default()
    };
    let (x, _) = test_set();
    let goal = targeted();
    let adv = run(&cw, model, &goal, 0);
    let rows = judge(model, &x, &adv, &goal).unwrap();
    let s = success_rate(model, &x, &adv, &goal);
    assert!(s >= 0.9, "targeted C&W success {s}");
    let logits = WhiteBox::logits(model, &adv)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let targets = goal.targets.as_ref().unwrap();
    for (i, row) in rows.iter().enumerate() {
        if !row.success {
            continue;
        }
        let t = targets[i] as usize;
        let rival = (0..CLASSES)
            .filter(|&k| k != t)
            .map(|k| logits[i][k])
            .fold(f32::NEG_INFINITY, f32::max);
        assert!(
            logits[i][t] - rival >= kappa - 1e-3,
            "row {i}: margin {} < {kappa}",
            logits[i][t] - rival
        );
    }
}

#[test]
fn deepfool_l2_and_linf_need_less_than_fgsm() {
    let model = mlp();
    let (x, _) = test_set();
    let goal = untargeted();
    for norm in [Norm::L2, Norm::Linf] {
        let df = DeepFool {
            norm,
            ..DeepFool::default()
        };
        let adv = run(&df, model, &goal, 0);
        assert_bounded(&x, &adv, norm, f32::INFINITY);
        let s = success_rate(model, &x, &adv, &goal);
        assert!(s >= 0.95, "{norm} DeepFool success {s}");
        // Against FGSM's sign step, measured in the attack's norm. In Linf the sign step is
        // itself the best first-order direction, so DeepFool's gain there is smaller.
        let (share, ratio) = against_fgsm(model, &adv, norm, Norm::Linf, &grid(Norm::Linf));
        let (want_share, want_ratio) = match norm {
            Norm::L2 => (0.9, 0.9),
            Norm::Linf => (0.7, 0.95),
        };
        assert!(
            share >= want_share && ratio <= want_ratio,
            "{norm} DeepFool smaller than FGSM (sign) on {share} of rows, mean ratio {ratio}"
        );
        if norm == Norm::L2 {
            let (share, ratio) = against_fgsm(model, &adv, norm, Norm::L2, &grid(Norm::L2));
            assert!(
                ratio <= 1.0,
                "DeepFool vs FGSM (L2): smaller on {share} of rows, mean ratio {ratio}"
            );
        }
    }
}

#[test]
fn deepfool_targeted_reaches_targets() {
    let model = mlp();
    let (x, _) = test_set();
    let goal = targeted();
    let adv = run(&DeepFool::default(), model, &goal, 0);
    assert_bounded(&x, &adv, Norm::L2, f32::INFINITY);
    let s = success_rate(model, &x, &adv, &goal);
    assert!(s >= 0.9, "targeted DeepFool success {s}");
}

#[test]
fn attacks_run_through_a_cnn() {
    let model = support::cnn();
    let (x, y) = test_set();
    let goal = Goal::untargeted(y.clone());
    let adv = run(&pgd(Norm::Linf, 0.3, 0.075, 8), &model, &goal, 0);
    assert_bounded(&x, &adv, Norm::Linf, 0.3);
    let acc = accuracy_of(&model, &adv, &y);
    assert!(acc <= 0.05, "CNN robust accuracy {acc} at eps 0.3");
    let adv = run(&DeepFool::default(), &model, &goal, 0);
    let s = success_rate(&model, &x, &adv, &goal);
    assert!(s >= 0.95, "DeepFool success on the CNN {s}");
}

#[test]
fn goals_that_do_not_fit_the_batch_are_refused() {
    let model = mlp();
    let attacks: Vec<Box<dyn EvasionAttack>> = vec![
        Box::new(pgd(Norm::Linf, 0.1, 0.05, 2)),
        Box::new(Apgd::new(Norm::Linf, 0.1).unwrap()),
        Box::new(CarliniL2::default()),
        Box::new(DeepFool::default()),
    ];
    let short = Goal::untargeted(vec![0; 3]);
    let outside = Goal::untargeted(vec![CLASSES as u32; 120]);
    for attack in &attacks {
        for goal in [&short, &outside] {
            let err = attack
                .generate(model, &test_set().0, goal, &mut Rng::new(0))
                .unwrap_err();
            assert!(
                matches!(err, aisec_attack::AttackError::Parameter(_)),
                "{}: {err}",
                attack.name()
            );
        }
    }
    assert!(Pgd::new(Norm::L2, -1.0).is_err());
    assert!(
        CarliniL2 {
            max_iter: 0,
            ..CarliniL2::default()
        }
        .validate()
        .is_err()
    );
}

#[test]
fn an_empty_batch_comes_back_empty() {
    let model = mlp();
    let empty = test_set().0.narrow(0, 0, 0).unwrap();
    let goal = Goal::untargeted(Vec::new());
    let attacks: Vec<Box<dyn EvasionAttack>> = vec![
        Box::new(pgd(Norm::Linf, 0.1, 0.05, 2)),
        Box::new(Pgd {
            num_random_init: 2,
            ..pgd(Norm::L2, 0.1, 0.05, 2)
        }),
        Box::new(Apgd::new(Norm::Linf, 0.1).unwrap()),
        Box::new(CarliniL2::default()),
        Box::new(DeepFool::default()),
    ];
    for attack in &attacks {
        let adv = attack
            .generate(model, &empty, &goal, &mut Rng::new(0))
            .unwrap();
        assert_eq!(adv.dims(), empty.dims(), "{}", attack.name());
    }
}
