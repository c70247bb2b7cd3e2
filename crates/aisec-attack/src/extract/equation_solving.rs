//! Equation-solving extraction (Tramèr et al., "Stealing Machine Learning Models via Prediction
//! APIs", USENIX Security 2016). A log-linear model answers `p_i(x) ∝ exp(w_i · x + b_i)`, so
//! the log-ratio `ln p_i(x) - ln p_0(x) = (w_i - w_0) · x + (b_i - b_0)` is linear in the input.
//! Each query gives `K - 1` such equations; `d + 1` affinely independent queries determine every
//! difference, and a model with class 0's weights at zero and the differences for the others
//! answers exactly what the victim answers. The unknowns are solved by Gaussian elimination with
//! partial pivoting in f64.
//!
//! Extra random queries then check the fit: on a log-linear victim the predicted log-ratios match
//! the observed ones to rounding error. When they do not, the victim is not log-linear (a
//! network with hidden layers), or its outputs are rounded or perturbed; the outcome says which
//! it looks like instead of passing a wrong copy off as a stolen model.

use std::time::Instant;

use aisec_ml::candle::Tensor;
use aisec_ml::{Classifier, Device, ModelKind, Network, Rng};
use serde::Serialize;

use super::ask;
use crate::error::{AttackError, Result};

/// The most input elements the solver takes (its work grows as the cube).
pub const MAX_DIM: usize = 2048;
/// The most classes.
pub const MAX_CLASSES: usize = 1000;

/// How to run the extraction.
#[derive(Debug, Clone)]
pub struct EquationSolving {
    /// Random queries, beyond the `d + 1` solved for, that check the fit (fewer when the total
    /// would pass `K (d + 1)`).
    pub check_points: usize,
    /// The largest log-ratio error on the check queries for the victim to count as log-linear.
    pub tolerance: f64,
    /// The centre of the query box (default: the middle of the input range).
    pub center: Option<Vec<f64>>,
    /// The half-width of the query box per element (default: half the input range).
    pub spread: Option<Vec<f64>>,
    /// Seed of the query points.
    pub seed: u64,
}

impl Default for EquationSolving {
    fn default() -> Self {
        Self {
            check_points: 10,
            tolerance: 1e-2,
            center: None,
            spread: None,
            seed: 0,
        }
    }
}

/// What the check said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The victim is log-linear and the copy answers what it answers.
    Exact,
    /// The outputs are rounded: the linear fit is approximate (its fidelity says how good).
    Rounded,
    /// The log-ratios are not linear in the input: the victim is not a log-linear model, or its
    /// outputs are perturbed. The method does not apply; no copy is claimed.
    NotLogLinear,
    /// The outputs carry no usable probabilities (labels only, or zeros everywhere): nothing to
    /// solve.
    NoProbabilities,
}

impl Status {
    /// The name reports use (`exact`, `rounded`, `not-log-linear`, `no-probabilities`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Rounded => "rounded",
            Self::NotLogLinear => "not-log-linear",
            Self::NoProbabilities => "no-probabilities",
        }
    }
}

/// What the extraction did.
#[derive(Debug, Clone, Serialize)]
pub struct EquationSolvingOutcome {
    /// The verdict.
    pub status: Status,
    /// What the verdict means here, in a sentence.
    pub note: String,
    /// Input elements `d`.
    pub dim: usize,
    /// Classes `K`.
    pub classes: usize,
    /// Queries spent on the system (`d + 1`, plus replacements of saturated answers).
    pub solve_queries: usize,
    /// Queries spent checking the fit.
    pub check_queries: usize,
    /// All queries.
    pub queries: usize,
    /// `K (d + 1)`: the bound the method stays within.
    pub query_bound: usize,
    /// The largest log-ratio error on the check queries.
    pub residual: Option<f64>,
    /// The largest probability error on the check queries.
    pub probability_error: Option<f64>,
    /// The decimals the outputs look rounded to, when they do.
    pub rounded_to: Option<u32>,
    /// Seconds.
    pub seconds: f64,
}

/// The outcome and the fitted linear model (the stolen copy when the status is exact).
#[derive(Debug, Clone)]
pub struct LogLinearExtraction {
    /// What happened.
    pub outcome: EquationSolvingOutcome,
    /// The fitted model, when a system was solved.
    pub fit: Option<Network>,
}

/// Runs the extraction against `victim`.
pub fn extract_log_linear(
    victim: &dyn Classifier,
    config: &EquationSolving,
) -> Result<LogLinearExtraction> {
    let started = Instant::now();
    let info = victim.info().clone();
    let d = info.sample_len();
    let k = info.num_classes;
    if d == 0 || d > MAX_DIM {
        return Err(AttackError::TooLarge {
            what: "input elements for equation solving",
            got: d,
            max: MAX_DIM,
        });
    }
    if !(2..=MAX_CLASSES).contains(&k) {
        return Err(AttackError::Parameter(format!(
            "equation solving needs 2 to {MAX_CLASSES} classes, not {k}"
        )));
    }
    let bound = k * (d + 1);
    let [lo, hi] = info.input_range.map(f64::from);
    let center = config
        .center
        .clone()
        .unwrap_or_else(|| vec![f64::midpoint(lo, hi); d]);
    let spread = config
        .spread
        .clone()
        .unwrap_or_else(|| vec![(hi - lo) / 2.0; d]);
    if center.len() != d || spread.len() != d {
        return Err(AttackError::Parameter(format!(
            "the query box needs {d} centre and spread values"
        )));
    }
    let mut rng = Rng::new(config.seed ^ 0x6571_736f);
    let point = |scale: f64, rng: &mut Rng| -> Vec<f64> {
        center
            .iter()
            .zip(&spread)
            .map(|(c, s)| (c + scale * s * rng.uniform_in(-1.0, 1.0)).clamp(lo, hi))
            .collect()
    };
    let mut outcome = EquationSolvingOutcome {
        status: Status::NoProbabilities,
        note: String::new(),
        dim: d,
        classes: k,
        solve_queries: 0,
        check_queries: 0,
        queries: 0,
        query_bound: bound,
        residual: None,
        probability_error: None,
        rounded_to: None,
        seconds: 0.0,
    };
    let mut seen: Vec<f32> = Vec::new();

    // The system: the centre and d random points; an answer with a zero probability (saturated,
    // or rounded to zero) gives no log-ratio, so its point is replaced by one nearer the centre.
    let mut points: Vec<Vec<f64>> = (0..=d)
        .map(|i| {
            if i == 0 {
                center.iter().map(|c| c.clamp(lo, hi)).collect()
            } else {
                point(1.0, &mut rng)
            }
        })
        .collect();
    let mut ratios: Vec<Option<Vec<f64>>> = vec![None; d + 1];
    let mut scale = 1.0;
    let reserve = config.check_points.min(bound.saturating_sub(d + 1));
    loop {
        let pending: Vec<usize> = (0..=d).filter(|&i| ratios[i].is_none()).collect();
        if pending.is_empty() {
            break;
        }
        if outcome.solve_queries + pending.len() + reserve > bound {
            outcome.note = format!(
                "{} of {} answers kept a zero probability even near the centre of the query box: no log-ratios to solve for within {bound} queries",
                pending.len(),
                d + 1
            );
            return Ok(finish(outcome, None, started));
        }
        let answers = query(
            victim,
            &info,
            &pending
                .iter()
                .map(|&i| points[i].clone())
                .collect::<Vec<_>>(),
        )?;
        outcome.solve_queries += pending.len();
        outcome.queries = outcome.solve_queries;
        seen.extend(answers.iter().flatten());
        if answers
            .iter()
            .all(|a| a.iter().filter(|&&p| p > 0.0).count() <= 1)
        {
            outcome.note = "the answers carry one class each (labels only): there are no log-probability ratios to solve for".into();
            return Ok(finish(outcome, None, started));
        }
        for (&i, a) in pending.iter().zip(&answers) {
            ratios[i] = log_ratios(a);
        }
        scale /= 4.0;
        for &i in &pending {
            if ratios[i].is_none() {
                points[i] = point(scale, &mut rng);
            }
        }
    }

    // Solve [1, x] · X = R for X (d + 1 rows: bias then weights; K - 1 columns).
    let cols = k - 1;
    let mut a = Vec::with_capacity((d + 1) * (d + 1));
    let mut r = Vec::with_capacity((d + 1) * cols);
    for (p, ratio) in points.iter().zip(&ratios) {
        a.push(1.0);
        a.extend(p);
        r.extend(ratio.as_deref().unwrap_or(&[]));
    }
    let Some(solution) = solve(&mut a, &mut r, d + 1, cols) else {
        outcome.note = "the query points were affinely dependent; no unique solution".into();
        return Ok(finish(outcome, None, started));
    };
    let fit = build(&info, &solution, d, k)?;

    // Check on fresh points.
    let checks = config.check_points.min(bound - outcome.solve_queries);
    let check_points: Vec<Vec<f64>> = (0..checks).map(|_| point(1.0, &mut rng)).collect();
    if !check_points.is_empty() {
        let answers = query(victim, &info, &check_points)?;
        outcome.check_queries = checks;
        seen.extend(answers.iter().flatten());
        let mut residual: f64 = 0.0;
        let mut prob_error: f64 = 0.0;
        let mut any = false;
        for (p, ans) in check_points.iter().zip(&answers) {
            let predicted = predicted_ratios(&solution, p, d, cols);
            if let Some(observed) = log_ratios(ans) {
                any = true;
                for (o, q) in observed.iter().zip(&predicted) {
                    residual = residual.max((o - q).abs());
                }
            }
            let probs = softmax_with_zero(&predicted);
            for (o, q) in ans.iter().zip(&probs) {
                prob_error = prob_error.max((f64::from(*o) - q).abs());
            }
        }
        outcome.residual = any.then_some(residual);
        outcome.probability_error = Some(prob_error);
    }
    outcome.queries = outcome.solve_queries + outcome.check_queries;
    outcome.rounded_to = rounding(&seen);
    let exact = outcome.residual.is_some_and(|r| r <= config.tolerance)
        || (outcome.residual.is_none() && outcome.probability_error.is_some_and(|e| e <= 1e-4));
    let error = outcome.residual.map_or_else(
        || {
            format!(
                "every check answer has a zero probability; probability error {:.3}",
                outcome.probability_error.unwrap_or(f64::NAN)
            )
        },
        |r| {
            if r < 0.01 {
                format!("log-ratio error {r:.1e}")
            } else {
                format!("log-ratio error {r:.2}")
            }
        },
    );
    (outcome.status, outcome.note) = if exact {
        (
            Status::Exact,
            format!(
                "the victim is log-linear: the solved weights reproduce its answers on {} fresh queries ({error})",
                outcome.check_queries
            ),
        )
    } else if let Some(decimals) = outcome.rounded_to {
        (
            Status::Rounded,
            format!(
                "the answers are rounded to {decimals} decimals, so the solved weights are approximate ({error} on the check queries); fidelity tells how close the copy is"
            ),
        )
    } else {
        (
            Status::NotLogLinear,
            format!(
                "the log-probability ratios are not linear in the input ({error} on the check queries): the model is not log-linear, or its outputs are perturbed, and the method does not apply"
            ),
        )
    };
    Ok(finish(outcome, Some(fit), started))
}

fn finish(
    mut outcome: EquationSolvingOutcome,
    fit: Option<Network>,
    started: Instant,
) -> LogLinearExtraction {
    outcome.seconds = started.elapsed().as_secs_f64();
    LogLinearExtraction { outcome, fit }
}

fn query(
    victim: &dyn Classifier,
    info: &aisec_ml::ModelInfo,
    points: &[Vec<f64>],
) -> Result<Vec<Vec<f32>>> {
    let flat: Vec<f32> = points.iter().flatten().map(|&v| v as f32).collect();
    let x = Tensor::from_vec(
        flat,
        info.batch_shape(points.len()).as_slice(),
        &Device::Cpu,
    )?;
    ask(victim, &x)
}

/// `ln p_i - ln p_0` for i = 1..K, or None when a probability is not positive.
fn log_ratios(p: &[f32]) -> Option<Vec<f64>> {
    if p.iter().any(|&v| v <= 0.0 || !v.is_finite()) {
        return None;
    }
    let base = f64::from(p[0]).ln();
    Some(p[1..].iter().map(|&v| f64::from(v).ln() - base).collect())
}

fn predicted_ratios(x_sol: &[f64], p: &[f64], d: usize, cols: usize) -> Vec<f64> {
    (0..cols)
        .map(|c| {
            x_sol[c]
                + (0..d)
                    .map(|j| x_sol[(j + 1) * cols + c] * p[j])
                    .sum::<f64>()
        })
        .collect()
}

/// Softmax over `[0, ratios...]`.
fn softmax_with_zero(ratios: &[f64]) -> Vec<f64> {
    let max = ratios.iter().copied().fold(0.0f64, f64::max);
    let mut e: Vec<f64> = std::iter::once(0.0)
        .chain(ratios.iter().copied())
        .map(|z| (z - max).exp())
        .collect();
    let s: f64 = e.iter().sum();
    for v in &mut e {
        *v /= s;
    }
    e
}

/// The fewest decimals (1 to 6) every answer is exactly rounded to, if any (answers that are
/// all 0 or 1 say nothing).
fn rounding(values: &[f32]) -> Option<u32> {
    if !values.iter().any(|&v| v > 0.0 && v < 1.0) {
        return None;
    }
    (1..=6u32).find(|&n| {
        let scale = 10f64.powi(n as i32);
        values
            .iter()
            .all(|&v| (((f64::from(v) * scale).round() / scale) as f32).to_bits() == v.to_bits())
    })
}

/// Solves `A X = B` in place (`A` `n x n`, `B` `n x m`, row-major) by Gaussian elimination with
/// partial pivoting; `X` comes back row-major `n x m`. None when `A` is singular (a pivot below
/// 1e-12 of the largest entry).
#[must_use]
pub fn solve(a: &mut [f64], b: &mut [f64], n: usize, m: usize) -> Option<Vec<f64>> {
    if a.len() != n * n || b.len() != n * m {
        return None;
    }
    let largest = a.iter().fold(0.0f64, |acc, v| acc.max(v.abs()));
    if largest == 0.0 || !largest.is_finite() {
        return None;
    }
    for col in 0..n {
        let pivot =
            (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[pivot * n + col].abs() <= 1e-12 * largest {
            return None;
        }
        if pivot != col {
            for j in 0..n {
                a.swap(pivot * n + j, col * n + j);
            }
            for j in 0..m {
                b.swap(pivot * m + j, col * m + j);
            }
        }
        let diag = a[col * n + col];
        for i in col + 1..n {
            let f = a[i * n + col] / diag;
            if f == 0.0 {
                continue;
            }
            for j in col..n {
                a[i * n + j] -= f * a[col * n + j];
            }
            for j in 0..m {
                b[i * m + j] -= f * b[col * m + j];
            }
        }
    }
    let mut x = vec![0.0; n * m];
    for i in (0..n).rev() {
        for j in 0..m {
            let mut s = b[i * m + j];
            for l in i + 1..n {
                s -= a[i * n + l] * x[l * m + j];
            }
            x[i * m + j] = s / a[i * n + i];
        }
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// A logistic model of `info`'s shape with class 0 at zero and the solved differences.
fn build(info: &aisec_ml::ModelInfo, x_sol: &[f64], d: usize, k: usize) -> Result<Network> {
    let mut arch = ModelKind::Logistic.architecture(&info.input_shape, k)?;
    arch.input_range = info.input_range;
    arch.class_names.clone_from(&info.class_names);
    let cols = k - 1;
    let mut weight = vec![0f32; k * d];
    let mut bias = vec![0f32; k];
    for c in 1..k {
        bias[c] = x_sol[c - 1] as f32;
        for j in 0..d {
            weight[c * d + j] = x_sol[(j + 1) * cols + c - 1] as f32;
        }
    }
    let mut net = Network::init(arch, 0)?;
    net.set_params(vec![
        Tensor::from_vec(weight, (k, d), &Device::Cpu)?,
        Tensor::from_vec(bias, k, &Device::Cpu)?,
    ])?;
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::{rounding, solve};

    #[test]
    fn gaussian_elimination_solves_and_refuses_singular_systems() {
        // x + 2y = 5, 3x + 4y = 6 (a zero first pivot after reordering would break naive
        // elimination: put the rows the other way round).
        let mut a = vec![0.0, 1.0, 2.0, 1.0];
        let mut b = vec![3.0, 10.0, 4.0, 9.0];
        let x = solve(&mut a, &mut b, 2, 2).unwrap();
        // 0x + 1y = 3 -> y = 3; 2x + y = 4 -> x = 0.5. Second column: y = 10, x = -0.5.
        assert!((x[0] - 0.5).abs() < 1e-12 && (x[2] - 3.0).abs() < 1e-12);
        assert!((x[1] + 0.5).abs() < 1e-12 && (x[3] - 10.0).abs() < 1e-12);
        let mut singular = vec![1.0, 2.0, 2.0, 4.0];
        let mut rhs = vec![1.0, 2.0];
        assert!(solve(&mut singular, &mut rhs, 2, 1).is_none());
    }

    #[test]
    fn rounded_answers_are_recognised() {
        assert_eq!(rounding(&[0.25, 0.75, 0.5]), Some(2));
        assert_eq!(rounding(&[0.1234, 0.8766]), Some(4));
        assert_eq!(rounding(&[0.123_456_7, 0.876_543_3]), None);
        assert_eq!(rounding(&[0.999_999_94, 1e-20]), None);
        assert_eq!(rounding(&[1.0, 0.0]), None);
    }
}
