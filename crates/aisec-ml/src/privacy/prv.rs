//! The PRV accountant (Gopi, Lee and Wutschitz, "Numerical Composition of Differential Privacy",
//! NeurIPS 2021) for DP-SGD: the privacy loss random variable of one step of the
//! Poisson-subsampled Gaussian mechanism, discretised on a uniform grid (with its mean kept),
//! composed over the steps by FFT, with rigorous lower and upper bounds on epsilon.
//!
//! One step's privacy loss, for the same neighbouring relation as the RDP accountant (a row
//! removed): with `P = (1-q) N(0, s^2) + q N(1, s^2)` and `Q = N(0, s^2)`,
//! `Y = ln(P(x) / Q(x)) = ln(1 - q + q exp((2x - 1) / (2 s^2)))` for `x ~ P`. Its CDF is closed
//! form: `Y <= y` exactly when `x <= s^2 ln((e^y - 1 + q) / q) + 1/2`.
//!
//! Errors: each step's loss is rounded to a grid of mesh `h` and the grid shifted so the rounded
//! variable has the true mean; Hoeffding's bound then keeps the composed rounding error below
//! `t = h sqrt(2 k ln(2 / delta_err))` except with probability `delta_err`. The tails cut off
//! (one step's above its grid, the composition below and above the FFT window) are bounded
//! by `delta_err` or `2 delta_err` each, the upper tail through the RDP curve's Chernoff bound, the lower one by
//! Markov's inequality (`E[exp(-Y)] = 1`). So
//! `epsilon(delta) <= eps_grid(delta - 6 delta_err) + t` and
//! `epsilon(delta) >= eps_grid(delta + 6 delta_err) - t`, with `delta_err = delta / 1000`.

use serde::{Deserialize, Serialize};

use super::{default_orders, log_erfc, rdp_step};
use crate::error::{MlError, Result};

/// Most points of the composition grid (2^24: 256 MiB of complex numbers).
const MAX_GRID: usize = 1 << 24;

/// Bounds on epsilon from the PRV accountant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrvEpsilon {
    /// Epsilon is at least this.
    pub lower: f64,
    /// The discretised composition's epsilon.
    pub estimate: f64,
    /// Epsilon is at most this: the guarantee to report.
    pub upper: f64,
    /// The delta they hold for.
    pub delta: f64,
}

/// The standard normal's lower and upper tail masses at `z`.
fn normal_tails(z: f64) -> (f64, f64) {
    let r = std::f64::consts::FRAC_1_SQRT_2;
    (0.5 * log_erfc(-z * r).exp(), 0.5 * log_erfc(z * r).exp())
}

/// One step's privacy loss: `(P(Y <= y), P(Y > y))`, each computed without cancellation.
struct StepLoss {
    q: f64,
    sigma: f64,
    floor: f64,
}

impl StepLoss {
    fn new(q: f64, sigma: f64) -> Self {
        Self {
            q,
            sigma,
            floor: (-q).ln_1p(),
        }
    }

    fn cdf_sf(&self, y: f64) -> (f64, f64) {
        if y <= self.floor {
            return (0.0, 1.0);
        }
        // ln((e^y - 1 + q) / q), stable for both signs of y.
        let ratio = if y > 0.0 {
            y - self.q.ln() + (-(1.0 - self.q) * (-y).exp()).ln_1p()
        } else {
            ((y.exp_m1() + self.q) / self.q).ln()
        };
        let x = self.sigma * self.sigma * ratio + 0.5;
        let (f1, s1) = normal_tails(x / self.sigma);
        let (f2, s2) = normal_tails((x - 1.0) / self.sigma);
        let q = self.q;
        ((1.0 - q) * f1 + q * f2, (1.0 - q) * s1 + q * s2)
    }
}

/// Bounds on the epsilon of `steps` steps of DP-SGD at `sample_rate` and `noise_multiplier`
/// for `delta`, with the composed rounding error `eps_error` (0.01 is a good default: the bounds
/// are then about 0.02 apart).
pub fn prv_epsilon(
    sample_rate: f64,
    noise_multiplier: f64,
    steps: usize,
    delta: f64,
    eps_error: f64,
) -> Result<PrvEpsilon> {
    super::check_common(sample_rate, noise_multiplier, delta)?;
    if noise_multiplier <= 0.0 {
        return Err(MlError::Privacy(
            "the PRV accountant needs noise (without it epsilon is infinite)".into(),
        ));
    }
    if steps == 0 {
        return Err(MlError::Privacy("no steps to account for".into()));
    }
    if !(eps_error > 0.0 && eps_error <= 1.0) {
        return Err(MlError::Privacy(format!(
            "eps_error must be in (0, 1], not {eps_error}"
        )));
    }
    let k = steps as f64;
    let delta_err = delta / 1000.0;
    let h = eps_error / (2.0 * k * (2.0 / delta_err).ln()).sqrt();
    let loss = StepLoss::new(sample_rate.min(1.0), noise_multiplier);

    // One step's grid: centres i * h from just below the support's floor up to where the tail
    // above holds at most delta_err / steps.
    let mut top = 1.0f64;
    while loss.cdf_sf(top).1 > delta_err / k {
        top *= 2.0;
        if top > 1e4 {
            return Err(MlError::Privacy(
                "the privacy loss's tail does not vanish: noise too small".into(),
            ));
        }
    }
    let i_lo = if loss.floor.is_finite() {
        (loss.floor / h).floor() as i64
    } else {
        // No subsampling: a Gaussian loss; cut where the lower tail is negligible.
        let mut bottom = -1.0f64;
        while loss.cdf_sf(bottom).0 > delta_err / k {
            bottom *= 2.0;
        }
        (bottom / h).floor() as i64
    };
    let i_hi = (top / h).ceil() as i64;
    let bins = usize::try_from(i_hi - i_lo + 1).unwrap_or(usize::MAX);

    // The composition's window: below, Markov (P(Y_k < -a) <= e^-a); above, the RDP bound.
    let t = eps_error;
    let lo = -((1.0 / delta_err).ln() + t);
    let rdp_top = default_orders()
        .into_iter()
        .map(|a| {
            k * rdp_step(sample_rate, noise_multiplier, a) + (1.0 / delta_err).ln() / (a - 1.0)
        })
        .fold(f64::INFINITY, f64::min);
    if !rdp_top.is_finite() {
        return Err(MlError::Privacy(
            "no finite RDP bound for the window".into(),
        ));
    }
    let hi = rdp_top + t;
    let span = ((hi - lo) / h).ceil();
    if !(span.is_finite() && span < MAX_GRID as f64) || bins >= MAX_GRID {
        return Err(MlError::Privacy(format!(
            "the PRV grid would need {span:.0} points (at most {MAX_GRID}); raise eps_error"
        )));
    }
    let m = (span as usize)
        .next_power_of_two()
        .max(bins.next_power_of_two());

    // Bin masses of the clamped step loss T (the tail above the grid goes to the top bin) and
    // its exact mean, by the trapezoid rule on the half-grid:
    // E[T] = int_0^top P(T > y) dy - int_bottom^0 P(T <= y) dy.
    let half = h / 2.0;
    let edge = |i: i64| i as f64 * h - half;
    let mut masses = vec![0.0f64; bins];
    let mut prev = loss.cdf_sf(edge(i_lo));
    let mut mean_target = 0.0;
    let top_edge = edge(i_hi + 1);
    let sf_top = loss.cdf_sf(top_edge).1;
    // P(T > y) above 0, -P(T <= y) below.
    let side = |positive: bool, fs: (f64, f64)| -> f64 { if positive { fs.1 } else { -fs.0 } };
    for (slot, i) in masses.iter_mut().zip(i_lo..=i_hi) {
        let a = edge(i);
        let c = i as f64 * h;
        let b = a + h;
        let mid = loss.cdf_sf(c);
        let next = loss.cdf_sf(b);
        *slot = if prev.0 < 0.5 {
            next.0 - prev.0
        } else {
            prev.1 - next.1
        }
        .max(0.0);
        // Trapezoids on [a, c] and [c, b], split at 0 where it falls inside one.
        for (x0, f0, x1, f1) in [(a, prev, c, mid), (c, mid, b, next)] {
            if x0 < 0.0 && x1 > 0.0 {
                let z = loss.cdf_sf(0.0);
                mean_target += 0.5 * (side(false, f0) + side(false, z)) * -x0;
                mean_target += 0.5 * (side(true, z) + side(true, f1)) * x1;
            } else {
                let positive = x0 >= 0.0;
                mean_target += 0.5 * (side(positive, f0) + side(positive, f1)) * (x1 - x0);
            }
        }
        prev = next;
    }
    masses[0] += loss.cdf_sf(edge(i_lo)).0;
    masses[bins - 1] += sf_top;
    let mean_grid: f64 = masses
        .iter()
        .zip(i_lo..)
        .map(|(p, i)| p * i as f64 * h)
        .sum();
    let shift = mean_target - mean_grid;

    // k-fold circular convolution by FFT.
    let mut re = vec![0.0f64; m];
    let mut im = vec![0.0f64; m];
    let modulo = |i: i64| -> usize { i.rem_euclid(m as i64) as usize };
    for (p, i) in masses.iter().zip(i_lo..) {
        re[modulo(i)] += p;
    }
    fft(&mut re, &mut im, false);
    for (r, c) in re.iter_mut().zip(im.iter_mut()) {
        (*r, *c) = complex_pow((*r, *c), steps);
    }
    fft(&mut re, &mut im, true);
    // Position r holds the composed mass at index j = r (mod m), value j * h + k * shift,
    // read in the window j in [j_lo, j_lo + m).
    let offset = k * shift;
    let j_lo = ((lo - offset) / h).floor() as i64;
    let mut values: Vec<(f64, f64)> = (0..m as i64)
        .map(|d| {
            let j = j_lo + d;
            (j as f64 * h + offset, (re[modulo(j)] / m as f64).max(0.0))
        })
        .collect();
    drop((re, im));
    values.retain(|v| v.1 > 0.0);
    // Suffix sums for delta(eps) = sum_{y > eps} p (1 - e^(eps - y)).
    let count = values.len();
    let mut tail_p = vec![0.0f64; count + 1];
    let mut tail_pe = vec![0.0f64; count + 1];
    for i in (0..count).rev() {
        let (y, p) = values[i];
        tail_p[i] = tail_p[i + 1] + p;
        tail_pe[i] = tail_pe[i + 1] + p * (-y).exp();
    }
    let delta_at = |eps: f64| -> f64 {
        let first = values.partition_point(|v| v.0 <= eps);
        (tail_p[first] - eps.exp() * tail_pe[first]).max(0.0)
    };
    let eps_for = |target: f64| -> f64 {
        if target <= 0.0 {
            return f64::INFINITY;
        }
        if delta_at(0.0) <= target {
            return 0.0;
        }
        let (mut a, mut b) = (0.0, hi.max(1.0));
        if delta_at(b) > target {
            return f64::INFINITY;
        }
        for _ in 0..100 {
            let mid = 0.5 * (a + b);
            if delta_at(mid) > target {
                a = mid;
            } else {
                b = mid;
            }
        }
        b
    };
    let slack = 6.0 * delta_err;
    Ok(PrvEpsilon {
        lower: (eps_for(delta + slack) - t).max(0.0),
        estimate: eps_for(delta),
        upper: eps_for(delta - slack) + t,
        delta,
    })
}

/// `z^n` by repeated squaring.
fn complex_pow(mut z: (f64, f64), mut n: usize) -> (f64, f64) {
    let mut acc = (1.0, 0.0);
    while n > 0 {
        if n & 1 == 1 {
            acc = (acc.0 * z.0 - acc.1 * z.1, acc.0 * z.1 + acc.1 * z.0);
        }
        z = (z.0 * z.0 - z.1 * z.1, 2.0 * z.0 * z.1);
        n >>= 1;
    }
    acc
}

/// In-place radix-2 FFT (`re.len()` a power of two); the inverse is not scaled.
fn fft(re: &mut [f64], im: &mut [f64], inverse: bool) {
    let n = re.len();
    let mut j = 0usize;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let sign = if inverse { 1.0 } else { -1.0 };
    // Twiddles e^(sign 2 pi i j / n), each from its own sin and cos.
    let half = n / 2;
    let (cos, sin): (Vec<f64>, Vec<f64>) = (0..half)
        .map(|j| {
            let angle = std::f64::consts::TAU * j as f64 / n as f64;
            (angle.cos(), sign * angle.sin())
        })
        .unzip();
    let mut len = 2;
    while len <= n {
        let stride = n / len;
        for start in (0..n).step_by(len) {
            for k in 0..len / 2 {
                let (wr, wi) = (cos[k * stride], sin[k * stride]);
                let (a, b) = (start + k, start + k + len / 2);
                let tr = re[b] * wr - im[b] * wi;
                let ti = re[b] * wi + im[b] * wr;
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
            }
        }
        len <<= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fft_round_trip_and_convolution() {
        let mut re = vec![0.25, 0.5, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0];
        let mut im = vec![0.0; 8];
        fft(&mut re, &mut im, false);
        for (r, c) in re.iter_mut().zip(im.iter_mut()) {
            (*r, *c) = complex_pow((*r, *c), 2);
        }
        fft(&mut re, &mut im, true);
        let got: Vec<f64> = re.iter().map(|v| v / 8.0).collect();
        let want = [0.0625, 0.25, 0.375, 0.25, 0.0625, 0.0, 0.0, 0.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?}");
        }
    }

    #[test]
    fn step_loss_cdf_and_sf_add_to_one() {
        let loss = StepLoss::new(0.01, 1.1);
        for y in [-0.005, 0.0, 0.01, 0.5, 2.0] {
            let (f, s) = loss.cdf_sf(y);
            assert!((f + s - 1.0).abs() < 1e-12, "{y}: {f} {s}");
        }
        assert_eq!(loss.cdf_sf(-0.02), (0.0, 1.0));
    }

    #[test]
    fn gaussian_mechanism_matches_its_closed_form() {
        // No subsampling and one step: the Gaussian mechanism, whose exact delta(eps) is
        // Phi(-eps s + 1/(2s)) - e^eps Phi(-eps s - 1/(2s)) (Balle and Wang 2018).
        let sigma = 2.0;
        let exact = |eps: f64| {
            normal_tails(-eps * sigma + 0.5 / sigma).0
                - eps.exp() * normal_tails(-eps * sigma - 0.5 / sigma).0
        };
        let got = prv_epsilon(1.0, sigma, 1, 1e-5, 0.01).unwrap();
        assert!(
            got.lower <= got.upper && got.upper - got.lower < 0.05,
            "{got:?}"
        );
        assert!(
            exact(got.upper) <= 1e-5 && exact(got.lower) >= 1e-5,
            "{got:?}"
        );
    }
}
