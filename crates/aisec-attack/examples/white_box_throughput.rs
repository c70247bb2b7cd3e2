//! Rows per second of each white-box attack on digits-shaped (1x8x8) MLP and CNN models trained
//! on the synthetic bars task, one thread, wall and CPU time. A measurement, not a test:
//! `RAYON_NUM_THREADS=1 cargo run --release -p aisec-attack --example white_box_throughput`.

#[allow(missing_docs)]
#[path = "../tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::time::Instant;

use aisec_attack::evasion::apgd::Apgd;
use aisec_attack::evasion::cw::CarliniL2;
use aisec_attack::evasion::deepfool::DeepFool;
use aisec_attack::evasion::fgsm::Fgsm;
use aisec_attack::evasion::pgd::Pgd;
use aisec_attack::evasion::{EvasionAttack, Goal, Norm};
use aisec_ml::{LocalModel, ModelKind, Rng};
use support::{CLASSES, bars, success_rate, trained};

fn pgd(norm: Norm, eps: f32, step: f32) -> Pgd {
    Pgd {
        eps_step: step,
        max_iter: 40,
        ..Pgd::new(norm, eps).unwrap()
    }
}

fn main() {
    let (x, y) = bars(360, 99);
    let goal = Goal::untargeted(y);
    let attacks: Vec<(&str, Box<dyn EvasionAttack>)> = vec![
        (
            "fgsm linf 0.1",
            Box::new(Fgsm::new(Norm::Linf, 0.1).unwrap()),
        ),
        ("pgd linf 0.1 x40", Box::new(pgd(Norm::Linf, 0.1, 0.01))),
        ("pgd l2 1.0 x40", Box::new(pgd(Norm::L2, 1.0, 0.1))),
        (
            "pgd linf 0.1 x40 early",
            Box::new(Pgd {
                early_stop: true,
                ..pgd(Norm::Linf, 0.1, 0.01)
            }),
        ),
        (
            "apgd linf 0.1 x40",
            Box::new(Apgd {
                max_iter: 40,
                ..Apgd::new(Norm::Linf, 0.1).unwrap()
            }),
        ),
        ("deepfool l2", Box::new(DeepFool::default())),
        (
            "cw l2 5x100",
            Box::new(CarliniL2 {
                binary_search_steps: 5,
                max_iter: 100,
                initial_const: 0.1,
                ..CarliniL2::default()
            }),
        ),
    ];
    let mut err = std::io::stderr();
    for kind in [ModelKind::Mlp, ModelKind::Cnn] {
        let model = LocalModel::new(
            trained(kind.architecture(&[1, 8, 8], CLASSES).unwrap()),
            "timing",
        );
        for (name, attack) in &attacks {
            let (t, cpu) = (Instant::now(), cpu_seconds());
            let adv = attack
                .generate(&model, &x, &goal, &mut Rng::new(0))
                .unwrap();
            let (s, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
            let rate = success_rate(&model, &x, &adv, &goal);
            writeln!(
                err,
                "{kind:?} {name:<24} {:>8.1} rows/s wall, {:>8.1} rows/s cpu ({s:.3} s wall, {cpu:.2} s cpu, success {rate:.3})",
                360.0 / s,
                360.0 / cpu.max(0.01)
            )
            .unwrap();
            assert!(rate > 0.0, "{name} broke nothing");
        }
    }
}

/// CPU time of this process (user + system) in seconds, from `/proc/self/stat` (Linux, 10 ms
/// ticks): on a shared machine wall time says more about the neighbours than about the attack.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is parenthesised and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name and state.
    (ticks(11) + ticks(12)) / 100.0
}
