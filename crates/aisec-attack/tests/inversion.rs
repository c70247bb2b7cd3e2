//! Attribute inference and model inversion on data made here: a tabular set where one column
//! decides the label and another is independent of everything, and the `bars` image task.

mod support;

use aisec_attack::AttackError;
use aisec_attack::privacy::attribute::{
    AttributeMethod, AttributePlan, AttributeRun, findings as attribute_findings, run_attribute,
};
use aisec_attack::privacy::inversion::{
    InversionPlan, MiFace, Start, findings as inversion_findings, inversion_grid, run_inversion,
};
use aisec_ml::candle::Tensor;
use aisec_ml::train::{Optimizer, TrainConfig, train};
use aisec_ml::{
    Architecture, Classifier, Device, LayerSpec, LocalModel, ModelInfo, Network, Queries, Rng,
};

const FEATURES: usize = 6;

/// `n` rows of independent standard normal columns; the label is 1 when
/// `2.5 x0 + 0.5 x1 + 0.3 noise > 0`. Columns 2..5 play no part.
fn tabular(n: usize, seed: u64) -> (Tensor, Vec<u32>) {
    let mut rng = Rng::new(seed);
    let mut data = Vec::with_capacity(n * FEATURES);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let row: Vec<f32> = rng.normal_vec(FEATURES);
        let score = 2.5 * row[0] + 0.5 * row[1] + 0.3 * rng.normal() as f32;
        labels.push(u32::from(score > 0.0));
        data.extend(row);
    }
    (
        Tensor::from_vec(data, (n, FEATURES), &Device::Cpu).unwrap(),
        labels,
    )
}

fn tabular_model(x: &Tensor, y: &[u32]) -> LocalModel {
    let arch = Architecture::new(
        vec![FEATURES],
        2,
        vec![
            LayerSpec::Linear {
                in_features: FEATURES,
                out_features: 16,
                bias: true,
            },
            LayerSpec::Relu,
            LayerSpec::Linear {
                in_features: 16,
                out_features: 2,
                bias: true,
            },
        ],
    );
    let mut net = Network::init(arch, 1).unwrap();
    let config = TrainConfig {
        optimizer: Optimizer::adam(),
        learning_rate: 0.01,
        epochs: 60,
        batch_size: 32,
        seed: 2,
        patience: None,
        validation_fraction: 0.0,
        ..TrainConfig::default()
    };
    train(&mut net, x, y, &config, None).unwrap();
    LocalModel::new(net, "tabular-mlp")
}

fn attack(column: usize, known_label: bool) -> AttributeRun {
    let (x, y) = tabular(800, 21);
    let (xt, yt) = tabular(300, 22);
    let model = tabular_model(&x, &y);
    let plan = AttributePlan {
        columns: vec![column],
        known_label,
        seed: 4,
        ..AttributePlan::default()
    };
    run_attribute(&model, (&x, &y), (&xt, &yt), &plan, &mut |_| {}).unwrap()
}

#[test]
fn a_column_tied_to_the_label_leaks_through_the_outputs() {
    let run = attack(0, false);
    let col = &run.columns[0];
    assert_eq!(col.values.len(), 2, "binarised at the median");
    // Column 0 is independent of the other columns: the baseline is near chance.
    assert!(
        col.baseline.members.accuracy < 0.62 && col.baseline.non_members.accuracy < 0.62,
        "{:?}",
        col.baseline
    );
    for m in &col.methods {
        assert!(m.leaks, "{m:?}");
        assert!(
            m.advantage_members > 0.2 && m.advantage_non_members > 0.2,
            "{m:?}"
        );
    }
    let learned = col
        .methods
        .iter()
        .find(|m| m.method == AttributeMethod::Learned)
        .unwrap();
    assert!(learned.scores.non_members.accuracy > 0.85, "{learned:?}");
    let fredrikson = col
        .methods
        .iter()
        .find(|m| m.method == AttributeMethod::Fredrikson)
        .unwrap();
    // Two candidate values per target row, nothing else.
    assert_eq!(
        fredrikson.queries,
        2 * (run.member_rows + run.non_member_rows) as u64
    );
    assert_eq!(
        run.queries,
        (run.attacker_rows + run.member_rows + run.non_member_rows) as u64 + fredrikson.queries
    );
    let found = attribute_findings(&run);
    assert!(
        found.iter().any(|f| f.rule.as_str() == "AT150"),
        "{found:?}"
    );
}

#[test]
fn knowing_the_label_raises_the_baseline_and_the_gap_shrinks() {
    let blind = attack(0, false);
    let labelled = attack(0, true);
    let (b, l) = (&blind.columns[0], &labelled.columns[0]);
    // The label alone tells most of column 0's sign.
    assert!(
        l.baseline.non_members.accuracy > b.baseline.non_members.accuracy + 0.2,
        "{:?} vs {:?}",
        l.baseline,
        b.baseline
    );
    let gap = |c: &aisec_attack::privacy::attribute::ColumnOutcome| {
        c.best().unwrap().advantage_non_members
    };
    assert!(gap(l) < gap(b), "{} vs {}", gap(l), gap(b));
}

#[test]
fn an_independent_column_does_not_leak() {
    let run = attack(5, true);
    let col = &run.columns[0];
    for m in &col.methods {
        assert!(!m.leaks, "{m:?}");
        assert!(
            m.scores.members.accuracy < 0.62 && m.scores.non_members.accuracy < 0.62,
            "{m:?}"
        );
        assert!(m.advantage_members.abs() < 0.1, "{m:?}");
    }
    let found = attribute_findings(&run);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].rule.as_str(), "AT151");
}

#[test]
fn attribute_plans_are_bounded() {
    let (x, y) = tabular(50, 1);
    let model = tabular_model(&x, &y);
    let bad = AttributePlan {
        bins: 100,
        ..AttributePlan::default()
    };
    assert!(matches!(
        run_attribute(&model, (&x, &y), (&x, &y), &bad, &mut |_| {}),
        Err(AttackError::Parameter(_))
    ));
    let out_of_range = AttributePlan {
        columns: vec![FEATURES],
        ..AttributePlan::default()
    };
    assert!(run_attribute(&model, (&x, &y), (&x, &y), &out_of_range, &mut |_| {}).is_err());
    let few_queries = AttributePlan {
        max_queries: 60,
        ..AttributePlan::default()
    };
    assert!(matches!(
        run_attribute(&model, (&x, &y), (&x, &y), &few_queries, &mut |_| {}),
        Err(AttackError::TooLarge { .. })
    ));
}

#[test]
fn miface_reconstructs_recognisable_bars() {
    let model = support::mlp();
    let (x, y) = support::train_set();
    let plan = InversionPlan::default();
    let run = run_inversion(&model, (&x, &y), &plan, &mut |_| {}).unwrap();
    assert_eq!(run.classes.len(), support::CLASSES);
    for c in &run.classes {
        assert_eq!(c.predicted, c.class, "{c:?}");
        assert!(c.confidence > 0.9, "{c:?}");
    }
    assert!(run.recognisable >= 3, "{:#?}", run.classes);
    assert!(run.queries.gradients > 0);
    let found = inversion_findings(&run);
    assert_eq!(found[0].rule.as_str(), "AT155");
    let png = inversion_grid(&run).unwrap();
    let reader = png::Decoder::new(std::io::Cursor::new(png))
        .read_info()
        .unwrap();
    assert_eq!(reader.info().height as usize, 4 * 96 + 5 * 4);
}

#[test]
fn miface_starts_from_the_mean_and_respects_the_range() {
    let model = support::mlp();
    let (x, y) = support::train_set();
    let plan = InversionPlan {
        classes: vec![1, 2],
        start: Start::Mean,
        ..InversionPlan::default()
    };
    let run = run_inversion(&model, (&x, &y), &plan, &mut |_| {}).unwrap();
    assert_eq!(run.classes.len(), 2);
    assert!(
        run.reconstructions
            .iter()
            .flatten()
            .all(|v| (0.0..=1.0).contains(v))
    );
    for miface in [
        MiFace {
            max_iter: 0,
            ..MiFace::default()
        },
        MiFace {
            learning_rate: f64::NAN,
            ..MiFace::default()
        },
        MiFace {
            threshold: 1.5,
            ..MiFace::default()
        },
    ] {
        let bad = InversionPlan {
            miface,
            ..InversionPlan::default()
        };
        assert!(matches!(
            run_inversion(&model, (&x, &y), &bad, &mut |_| {}),
            Err(AttackError::Parameter(_))
        ));
    }
    let unknown_class = InversionPlan {
        classes: vec![support::CLASSES as u32],
        ..InversionPlan::default()
    };
    assert!(run_inversion(&model, (&x, &y), &unknown_class, &mut |_| {}).is_err());
}

/// A target with only the black-box face.
struct BlackBox(LocalModel);

impl Classifier for BlackBox {
    fn info(&self) -> &ModelInfo {
        self.0.info()
    }
    fn predict(&self, x: &Tensor) -> aisec_ml::Result<Tensor> {
        self.0.predict(x)
    }
    fn queries(&self) -> Queries {
        self.0.queries()
    }
    fn reset_queries(&self) {
        self.0.reset_queries();
    }
}

#[test]
fn inversion_needs_gradients() {
    let model = BlackBox(support::mlp());
    let (x, y) = support::train_set();
    assert!(matches!(
        run_inversion(&model, (&x, &y), &InversionPlan::default(), &mut |_| {}),
        Err(AttackError::NeedsGradients { .. })
    ));
}
