//! The defenses against models trained here: adversarial training must buy robustness that the
//! plain model lacks, and feature squeezing must flag most adversarial rows at a 5% false-positive
//! calibration.

mod support;

use aisec_attack::defense::adversarial_training::{AdversarialTraining, adversarial_training};
use aisec_attack::defense::feature_squeezing::{FeatureSqueezing, Squeezer};
use aisec_attack::evasion::cw::CarliniL2;
use aisec_attack::evasion::fgsm::Fgsm;
use aisec_attack::evasion::pgd::Pgd;
use aisec_attack::evasion::{EvasionAttack, Goal, Norm};
use aisec_attack::metrics::judge;
use aisec_ml::candle::Tensor;
use aisec_ml::{Device, LocalModel, Network, Rng};
use support::{accuracy_of, bars, max_diff, mlp_arch, test_set, train_config, train_set, trained};

fn pgd(eps: f32, step: f32, iters: usize, random: usize) -> Pgd {
    Pgd {
        eps_step: step,
        max_iter: iters,
        num_random_init: random,
        ..Pgd::new(Norm::Linf, eps).unwrap()
    }
}

#[test]
fn adversarial_training_buys_pgd_robustness_the_plain_model_lacks() {
    let (x, y) = train_set();
    let (xt, yt) = test_set();
    let plain = LocalModel::new(trained(mlp_arch()), "plain");
    let training = AdversarialTraining {
        attack: pgd(0.15, 0.05, 5, 1),
        mix_clean: false,
        seed: 1,
    };
    let initial = Network::init(mlp_arch(), 5).unwrap();
    let t = std::time::Instant::now();
    let (hardened, report) =
        adversarial_training(&initial, &x, &y, &train_config(), &training).unwrap();
    let took = t.elapsed();
    assert_eq!(report.epochs_run, train_config().epochs);
    let hardened = LocalModel::new(hardened, "hardened");

    let attack = pgd(0.15, 0.0375, 20, 0);
    let goal = Goal::untargeted(yt.clone());
    let robust = |m: &LocalModel| {
        let adv = attack.generate(m, &xt, &goal, &mut Rng::new(0)).unwrap();
        accuracy_of(m, &adv, &yt)
    };
    let (plain_robust, hard_robust) = (robust(&plain), robust(&hardened));
    let hard_clean = accuracy_of(&hardened, &xt, &yt);
    assert!(
        plain_robust < 0.3 && hard_robust > plain_robust + 0.4 && hard_clean > 0.9,
        "robust accuracy plain {plain_robust}, hardened {hard_robust} (clean {hard_clean}), {took:?}"
    );
}

#[test]
fn mixed_adversarial_training_repeats_with_its_seed_and_still_hardens() {
    let (x, y) = train_set();
    let (xt, yt) = test_set();
    let mut config = train_config();
    config.epochs = 15;
    let training = AdversarialTraining {
        attack: pgd(0.15, 0.05, 5, 1),
        mix_clean: true,
        seed: 2,
    };
    let initial = Network::init(mlp_arch(), 5).unwrap();
    let (a, _) = adversarial_training(&initial, &x, &y, &config, &training).unwrap();
    let (b, _) = adversarial_training(&initial, &x, &y, &config, &training).unwrap();
    for (pa, pb) in a.params().iter().zip(b.params()) {
        assert!(
            max_diff(pa, pb) == 0.0,
            "adversarial training is not repeatable"
        );
    }
    let plain = LocalModel::new(trained(mlp_arch()), "plain");
    let hardened = LocalModel::new(a, "hardened");
    let goal = Goal::untargeted(yt.clone());
    let attack = pgd(0.15, 0.0375, 20, 0);
    let robust = |m: &LocalModel| {
        let adv = attack.generate(m, &xt, &goal, &mut Rng::new(0)).unwrap();
        accuracy_of(m, &adv, &yt)
    };
    let (p, h) = (robust(&plain), robust(&hardened));
    assert!(
        h > p + 0.3,
        "robust accuracy plain {p}, half-adversarial training {h}"
    );
}

/// The rows of `x` where `adv` broke the model, and their adversarial versions.
fn broken_rows(model: &LocalModel, x: &Tensor, adv: &Tensor, goal: &Goal) -> (Tensor, usize) {
    let rows = judge(model, x, adv, goal).unwrap();
    let idx: Vec<u32> = (0..rows.len() as u32)
        .filter(|&i| rows[i as usize].success)
        .collect();
    let n = idx.len();
    let idx = Tensor::from_vec(idx, n, &Device::Cpu).unwrap();
    (adv.index_select(&idx, 0).unwrap(), n)
}

#[test]
fn feature_squeezing_flags_most_cw_and_fgsm_rows_at_a_five_percent_calibration() {
    let model = LocalModel::new(trained(mlp_arch()), "plain");
    let mut detector = FeatureSqueezing::for_input(&[1, 8, 8]);
    assert_eq!(
        detector.squeezers,
        vec![Squeezer::BitDepth { bits: 1 }, Squeezer::Median { size: 2 }]
    );
    assert!(
        detector.detect(&model, &test_set().0).is_err(),
        "not calibrated yet"
    );
    let (calibration, _) = bars(200, 21);
    let threshold = detector.calibrate(&model, &calibration, 0.05).unwrap();
    let flagged = detector.detect(&model, &calibration).unwrap().flagged;
    assert_eq!(flagged.iter().filter(|&&f| f).count(), 10, "5% of 200 rows");

    let (x, y) = test_set();
    let goal = Goal::untargeted(y);
    let cw = CarliniL2 {
        max_iter: 100,
        binary_search_steps: 6,
        initial_const: 0.1,
        ..CarliniL2::default()
    };
    for (name, attack) in [
        ("cw", &cw as &dyn EvasionAttack),
        ("fgsm", &Fgsm::new(Norm::Linf, 0.2).unwrap()),
    ] {
        let adv = attack
            .generate(&model, &x, &goal, &mut Rng::new(0))
            .unwrap();
        let (broken, n) = broken_rows(&model, &x, &adv, &goal);
        assert!(n >= 60, "{name} broke only {n} rows");
        let report = detector.evaluate(&model, &x, &broken).unwrap();
        assert!(
            report.detection_rate >= 0.8 && report.false_positive_rate <= 0.15,
            "{name}: {report:?} (threshold {threshold})"
        );
    }
}

#[test]
fn median_smoothing_is_refused_for_feature_vectors() {
    let x = Tensor::zeros((2, 64), aisec_ml::DType::F32, &Device::Cpu).unwrap();
    assert!(Squeezer::Median { size: 2 }.apply(&x, [0.0, 1.0]).is_err());
    assert!(
        Squeezer::BitDepth { bits: 0 }
            .apply(&x, [0.0, 1.0])
            .is_err()
    );
    assert_eq!(
        FeatureSqueezing::for_input(&[64]).squeezers,
        vec![Squeezer::BitDepth { bits: 5 }]
    );
    assert!(FeatureSqueezing::new(Vec::new()).is_err());
}
