//! Poisoning on the synthetic bars task: backdoors take, the clean twin is immune, label flips
//! steer a class, the clean-label attack keeps labels, fine-pruning keeps its promises, and the
//! findings follow the measurements.

mod support;

use aisec_attack::defense::fine_pruning::{FinePruning, fine_prune, prunable_layer};
use aisec_attack::poison::run::{PoisonPlan, findings, run_poison};
use aisec_attack::poison::{Labelled, PoisonAttack, Trigger, attack_success, poison};
use aisec_core::Severity;
use aisec_ml::{Architecture, LocalModel};
use support::{cnn_arch, mlp_arch, test_set, train_config, train_set};

fn plan(attack: PoisonAttack, rates: Vec<f64>) -> PoisonPlan {
    PoisonPlan {
        attack,
        rates,
        train: train_config(),
        init_seed: 5,
        seed: 1,
        grid_rows: 4,
        fine_pruning: None,
        trusted_fraction: 0.2,
        activation_clustering: None,
        spectral_signatures: None,
    }
}

fn run(arch: &Architecture, plan: &PoisonPlan) -> aisec_attack::poison::run::PoisonRun {
    let (x, y) = train_set();
    let (xt, yt) = test_set();
    run_poison(arch, (&x, &y), (&xt, &yt), plan, &mut |_| {}).unwrap()
}

#[test]
fn badnets_plants_a_backdoor_the_clean_twin_does_not_have() {
    for arch in [mlp_arch(), cnn_arch()] {
        let attack = PoisonAttack::Backdoor {
            trigger: Trigger::badnets(),
            target: 0,
            source: None,
        };
        let result = run(&arch, &plan(attack, vec![0.0, 0.1]));
        let clean = &result.points[0];
        let poisoned = &result.points[1];
        assert_eq!(clean.poisoned_rows, 0);
        assert_eq!(poisoned.poisoned_rows, 40);
        let twin_asr = result.twin.attack_success.unwrap();
        let asr = poisoned.victim.attack_success.unwrap();
        assert!(
            twin_asr < 0.3,
            "the clean twin obeys the trigger: {twin_asr}"
        );
        assert!(asr > 0.9, "the backdoor did not take: {asr}");
        assert!(
            result.twin.clean_accuracy - poisoned.victim.clean_accuracy < 0.05,
            "{} vs {}",
            poisoned.victim.clean_accuracy,
            result.twin.clean_accuracy
        );
        assert_eq!(result.grid.len(), 4);
        let found = findings(&result, "bars");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rule.as_str(), "AT110");
        assert_eq!(
            found[0].severity,
            Severity::Medium,
            "90% reached at a 10% rate"
        );
    }
}

#[test]
fn a_targeted_label_flip_steers_the_source_class() {
    let attack = PoisonAttack::LabelFlip {
        target: Some(1),
        source: Some(0),
    };
    let result = run(&mlp_arch(), &plan(attack, vec![0.2]));
    // Every row of class 0 (a quarter of the set) is flipped to 1.
    assert_eq!(result.points[0].poisoned_rows, 80);
    let asr = result.points[0].victim.attack_success.unwrap();
    assert!(asr >= 0.7, "{asr}");
    assert!(result.twin.attack_success.unwrap() < 0.1);
    let found = findings(&result, "bars");
    assert_eq!(found[0].rule.as_str(), "AT111");
    assert_eq!(found[0].severity, Severity::High);
}

#[test]
fn clean_label_poison_keeps_labels_and_stays_near_the_originals() {
    let (x, y) = train_set();
    let mut twin = aisec_ml::Network::init(mlp_arch(), 5).unwrap();
    aisec_ml::train(&mut twin, &x, &y, &train_config(), None).unwrap();
    let surrogate = LocalModel::new(twin, "surrogate");
    let attack = PoisonAttack::CleanLabel {
        trigger: Trigger::badnets(),
        target: 2,
        eps: 0.1,
        steps: 10,
    };
    let data = Labelled {
        x: &x,
        labels: &y,
        num_classes: 4,
        range: [0.0, 1.0],
    };
    let set = poison(&attack, &data, 0.1, 3, Some(&surrogate)).unwrap();
    assert_eq!(set.poisoned.len(), 40);
    assert_eq!(set.labels, y, "labels are untouched");
    let before = x.flatten_from(1).unwrap().to_vec2::<f32>().unwrap();
    let after = set.x.flatten_from(1).unwrap().to_vec2::<f32>().unwrap();
    let (mask, _) = Trigger::badnets()
        .mask_and_pattern(&[1, 8, 8], [0.0, 1.0])
        .unwrap();
    let mut perturbed = 0;
    for &i in &set.poisoned {
        assert_eq!(y[i], 2);
        for (j, (a, b)) in before[i].iter().zip(&after[i]).enumerate() {
            if mask[j] == 0.0 {
                assert!((a - b).abs() <= 0.1 + 1e-5, "row {i} value {j}");
                if (a - b).abs() > 1e-4 {
                    perturbed += 1;
                }
            }
        }
    }
    assert!(perturbed > 0, "PGD changed nothing");
    for i in 0..y.len() {
        if set.poisoned.binary_search(&i).is_err() {
            assert_eq!(before[i], after[i]);
        }
    }
}

#[test]
fn fine_pruning_prunes_within_the_accuracy_bound_and_keeps_units_pruned() {
    let attack = PoisonAttack::Backdoor {
        trigger: Trigger::badnets(),
        target: 0,
        source: None,
    };
    let result = run(&cnn_arch(), &plan(attack.clone(), vec![0.1]));
    let (victim, set) = &result.victims[0];
    let (x, y) = (&set.x, &set.labels);
    let clean: Vec<usize> = (0..y.len())
        .filter(|i| set.poisoned.binary_search(i).is_err())
        .collect();
    let index = aisec_ml::Tensor::from_vec(
        clean.iter().map(|&i| i as u32).collect::<Vec<_>>(),
        clean.len(),
        &aisec_ml::Device::Cpu,
    )
    .unwrap();
    let cx = x.index_select(&index, 0).unwrap();
    let cy: Vec<u32> = clean.iter().map(|&i| y[i]).collect();
    let config = FinePruning::default();
    let (repaired, report) = fine_prune(victim, &cx, &cy, &config).unwrap();
    let (layer, read_at) = prunable_layer(victim).unwrap();
    assert_eq!((layer, read_at), (0, 2), "the CNN's only convolution");
    assert_eq!(report.units, 4);
    assert!(report.pruned.len() < 4);
    let [before, pruned, _] = report.clean_data_accuracy;
    assert!(pruned >= before - config.max_accuracy_drop - 1e-9);
    // Pruned channels are silent after fine-tuning.
    let h = repaired.activations(&cx, read_at).unwrap();
    for &u in &report.pruned {
        let channel = h.narrow(1, u, 1).unwrap().abs().unwrap().max_all().unwrap();
        assert!(channel.to_scalar::<f32>().unwrap() < f32::MIN_POSITIVE);
    }
    let (xt, yt) = test_set();
    let model = LocalModel::new(repaired, "repaired");
    assert!(
        attack_success(&attack, &model, &xt, &yt, [0.0, 1.0])
            .unwrap()
            .is_some()
    );
    // A single linear layer has nothing to prune.
    let logistic = aisec_ml::Network::init(
        aisec_ml::ModelKind::Logistic
            .architecture(&[1, 8, 8], 4)
            .unwrap(),
        1,
    )
    .unwrap();
    assert!(prunable_layer(&logistic).is_err());
}
