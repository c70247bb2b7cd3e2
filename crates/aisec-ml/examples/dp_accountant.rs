//! The RDP accountant from the command line, for bench/dp_accountant_compare.py: reads lines of
//! `sample_rate noise_multiplier steps delta` on stdin and writes one JSON object per line with
//! epsilon (default orders, improved conversion), epsilon with the classic conversion over the
//! TensorFlow Privacy tutorial's orders, the one-step RDP at a few orders, and the PRV
//! accountant's bounds (eps_error 0.01). A line
//! `noise target_epsilon sample_rate steps delta` asks for the calibrated noise instead.

use std::io::{BufRead, Write};

use aisec_ml::privacy::{self, Conversion};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The orders the early TensorFlow Privacy tutorials minimised over.
    let tutorial_orders: Vec<f64> = (1..100)
        .map(|x| 1.0 + f64::from(x) / 10.0)
        .chain((12..64).map(f64::from))
        .collect();
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"noise") && words.len() == 5 {
            let target: f64 = words[1].parse()?;
            let rate: f64 = words[2].parse()?;
            let steps: usize = words[3].parse()?;
            let delta: f64 = words[4].parse()?;
            let sigma = privacy::noise_for_epsilon(target, rate, steps, delta)?;
            writeln!(out, "{}", serde_json::json!({ "noise_multiplier": sigma }))?;
            continue;
        }
        let [rate, sigma, steps, delta] = words.as_slice() else {
            continue;
        };
        let (rate, sigma, steps, delta): (f64, f64, usize, f64) = (
            rate.parse()?,
            sigma.parse()?,
            steps.parse()?,
            delta.parse()?,
        );
        let best = privacy::epsilon(rate, sigma, steps, delta)?;
        let classic = privacy::epsilon_with(
            rate,
            sigma,
            steps,
            delta,
            &tutorial_orders,
            Conversion::Classic,
        )?;
        let prv = privacy::prv_epsilon(rate, sigma, steps, delta, 0.01)?;
        let rdp: Vec<(f64, f64)> = [1.5, 2.0, 2.5, 8.0, 10.5, 32.0, 256.0]
            .iter()
            .map(|&a| (a, privacy::rdp_step(rate, sigma, a)))
            .collect();
        writeln!(
            out,
            "{}",
            serde_json::json!({
                "epsilon": best.epsilon,
                "order": best.order,
                "epsilon_classic_tutorial_orders": classic.epsilon,
                "rdp_one_step": rdp,
                "prv": prv,
            })
        )?;
    }
    Ok(())
}
