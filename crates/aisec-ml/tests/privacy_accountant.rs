//! The RDP accountant against published figures and against the accountants of other libraries
//! run on the same settings (bench/dp_accountant_compare.py prints the full comparison).

use aisec_ml::privacy::{self, Conversion};

/// The orders TensorFlow Privacy's MNIST tutorial minimised over: 1.1..10.9 and 12..63.
fn tutorial_orders() -> Vec<f64> {
    (1..100)
        .map(|x| 1.0 + f64::from(x) / 10.0)
        .chain((12..64).map(f64::from))
        .collect()
}

fn within(got: f64, want: f64, tolerance: f64) -> bool {
    ((got - want) / want).abs() < tolerance
}

/// TensorFlow Privacy, tutorials/README.md ("Expected Output", "Select Parameters" and the
/// `compute_dp_sgd_privacy` example): DP-SGD on MNIST, 60000 training rows, batch 256
/// (sampling rate 256/60000), 234 steps per epoch (60000 // 256), delta 1e-5, the RDP accountant
/// with the classic conversion over the tutorial's orders. Two versions of the README:
/// noise 1.1 for 60 epochs gives epsilon 3.01, 1.3 for 15 gives 1.19, 0.7 for 45 gives 7.10,
/// 1.1 after 1 and 2 epochs 1.03 and 1.11; the earlier one: 1.12 for 60 epochs gives 2.92,
/// 0.6 for 30 gives 9.74, 1.2 for 10 gives 1.20.
#[test]
fn matches_tensorflow_privacy_published_mnist_figures() {
    let q = 256.0 / 60_000.0;
    let orders = tutorial_orders();
    for (noise, epochs, published) in [
        (1.1, 60, 3.01),
        (1.3, 15, 1.19),
        (0.7, 45, 7.10),
        (1.1, 1, 1.03),
        (1.1, 2, 1.11),
        (1.12, 60, 2.92),
        (0.6, 30, 9.74),
        (1.2, 10, 1.20),
    ] {
        let got = privacy::epsilon_with(q, noise, epochs * 234, 1e-5, &orders, Conversion::Classic)
            .unwrap();
        // Published to two decimals: well inside 5%, in fact within 1%.
        assert!(
            within(got.epsilon, published, 0.01),
            "noise {noise}, {epochs} epochs: {} vs published {published}",
            got.epsilon
        );
    }
}

/// The improved conversion against two accountants run on the same settings (delta 1e-5):
/// dp-accounting 0.6.0 (`RdpAccountant`, default orders) and Opacus 1.6.0
/// (`opacus.accountants.analysis.rdp`: `compute_rdp` and `get_privacy_spent`, its default
/// orders), by bench/dp_accountant_compare.py. Both libraries give these figures to the four
/// decimals shown where they can evaluate every order.
#[test]
fn matches_dp_accounting_and_opacus_with_the_improved_conversion() {
    for (q, noise, steps, reference) in [
        (256.0 / 60_000.0, 1.1, 14_040, 2.5944),
        (0.01, 4.0, 10_000, 1.0355),
        (0.01, 2.0, 10_000, 2.3529),
        (0.01, 1.0, 1_000, 2.1014),
        (0.1, 2.0, 500, 6.0343),
        (64.0 / 1437.0, 1.0, 660, 8.4236),
    ] {
        let got = privacy::epsilon(q, noise, steps, 1e-5).unwrap();
        assert!(
            within(got.epsilon, reference, 0.001),
            "q {q} noise {noise} steps {steps}: {} vs {reference}",
            got.epsilon
        );
    }
}

/// The classic conversion is looser than the improved one on the published setting: the
/// improved epsilon of TensorFlow Privacy's default (3.01 classic) is 2.59.
#[test]
fn improved_conversion_tightens_the_published_default() {
    let q = 256.0 / 60_000.0;
    let improved = privacy::epsilon(q, 1.1, 60 * 234, 1e-5).unwrap();
    assert!(within(improved.epsilon, 2.5944, 0.001), "{improved:?}");
    assert!(
        improved.order > 2.0 && improved.order < 20.0,
        "{improved:?}"
    );
    let noise = privacy::noise_for_epsilon(3.01, q, 60 * 234, 1e-5).unwrap();
    assert!(noise < 1.1, "{noise}");
}

/// The PRV accountant against prv-accountant 0.2.0 (`DPSGDAccountant`, eps_error 0.01,
/// delta_error delta/1000, its estimate) on the same settings (delta 1e-5), by
/// bench/dp_accountant_compare.py; and its bounds bracket the estimate and sit under the RDP
/// figure.
#[test]
fn prv_accountant_matches_prv_accountant_library() {
    for (q, noise, steps, reference) in [
        (256.0 / 60_000.0, 1.1, 14_040, 2.3796),
        (0.01, 4.0, 10_000, 0.9469),
        (0.01, 1.0, 1_000, 1.8282),
        (64.0 / 1437.0, 1.0, 660, 7.6588),
    ] {
        let got = privacy::prv_epsilon(q, noise, steps, 1e-5, 0.01).unwrap();
        assert!(
            within(got.estimate, reference, 0.005),
            "q {q} noise {noise} steps {steps}: {got:?} vs {reference}"
        );
        assert!(
            got.lower <= got.estimate && got.estimate <= got.upper,
            "{got:?}"
        );
        assert!(got.upper - got.lower < 0.03, "{got:?}");
        let rdp = privacy::epsilon(q, noise, steps, 1e-5).unwrap();
        assert!(got.upper < rdp.epsilon, "{got:?} {rdp:?}");
    }
}
