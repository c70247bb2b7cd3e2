//! The Shapiro-Wilk test of normality, in Royston's approximation (1992, 1995: the coefficients
//! from normal order-statistic scores with polynomial corrections, and the p-value from a normal
//! approximation of a transform of `1 - W`), with the normal distribution functions it needs.
//! PRADA ([`super::prada`]) tests the distances between queries with it.

use super::{Result, StatsError};

/// The smallest sample the test accepts.
pub const MIN_SAMPLE: usize = 3;
/// The largest sample the approximation is made for (Royston 1995).
pub const MAX_SAMPLE: usize = 5000;

/// The result of one test.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ShapiroWilk {
    /// The statistic, in (0, 1]; small values speak against normality.
    pub w: f64,
    /// The p-value of `w` under normality.
    pub p: f64,
}

/// `erfc(x)` to about 1e-15: a series of positive terms below 2.5, a continued fraction above.
#[must_use]
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.5 {
        // erf(x) = 2/sqrt(pi) e^{-x^2} sum_n 2^n x^{2n+1} / (1*3*...*(2n+1))
        let mut term = x;
        let mut sum = x;
        let x2 = x * x;
        for n in 1..200 {
            term *= 2.0 * x2 / f64::from(2 * n + 1);
            sum += term;
            if term < sum * 1e-17 {
                break;
            }
        }
        1.0 - 2.0 / std::f64::consts::PI.sqrt() * (-x2).exp() * sum
    } else if x > 27.0 {
        0.0
    } else {
        // erfc(x) = e^{-x^2}/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated
        // from the tail.
        let mut t = x;
        for n in (1..=80).rev() {
            t = x + f64::from(n) / 2.0 / t;
        }
        (-x * x).exp() / std::f64::consts::PI.sqrt() / t
    }
}

/// The standard normal distribution function.
#[must_use]
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// The standard normal quantile of `p` in (0, 1): Acklam's rational approximation, polished by
/// one Halley step on [`normal_cdf`].
#[must_use]
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.02425;
    if p.is_nan() || p <= 0.0 || p >= 1.0 {
        return match p {
            0.0 => f64::NEG_INFINITY,
            1.0 => f64::INFINITY,
            _ => f64::NAN,
        };
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    };
    // Halley's step: e = F(x) - p, u = e sqrt(2 pi) exp(x^2 / 2).
    let e = normal_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

fn poly(c: &[f64], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &k| acc * x + k)
}

/// The Shapiro-Wilk test of `sample` (3 to [`MAX_SAMPLE`] finite values, not all equal).
///
/// # Errors
/// [`StatsError`] for a sample too small, too large, non-finite or constant.
pub fn shapiro_wilk(sample: &[f64]) -> Result<ShapiroWilk> {
    let n = sample.len();
    if n < MIN_SAMPLE {
        return Err(StatsError::Parameter(format!(
            "the Shapiro-Wilk test needs at least {MIN_SAMPLE} values, not {n}"
        )));
    }
    if n > MAX_SAMPLE {
        return Err(StatsError::TooLarge {
            what: "Shapiro-Wilk sample",
            got: n,
            max: MAX_SAMPLE,
        });
    }
    if sample.iter().any(|v| !v.is_finite()) {
        return Err(StatsError::NonFinite {
            what: "Shapiro-Wilk sample",
        });
    }
    let mut x = sample.to_vec();
    x.sort_by(f64::total_cmp);
    let mean = x.iter().sum::<f64>() / n as f64;
    let ssq: f64 = x.iter().map(|v| (v - mean).powi(2)).sum();
    if x[0].total_cmp(&x[n - 1]).is_eq() || ssq <= 0.0 {
        return Err(StatsError::Parameter(
            "the Shapiro-Wilk test needs values that are not all equal".into(),
        ));
    }
    let half = n / 2;
    let an = n as f64;
    // a[i] for i < half: the weight of x[n-1-i] - x[i].
    let mut a = vec![0.0; half];
    if n == 3 {
        a[0] = 0.5f64.sqrt();
    } else {
        let m: Vec<f64> = (1..=half)
            .map(|i| normal_quantile((i as f64 - 0.375) / (an + 0.25)))
            .collect();
        let summ2 = 2.0 * m.iter().map(|v| v * v).sum::<f64>();
        let ssumm2 = summ2.sqrt();
        let rsn = 1.0 / an.sqrt();
        let a1 = poly(
            &[0.0, 0.221_157, -0.147_981, -2.071_19, 4.434_685, -2.706_056],
            rsn,
        ) - m[0] / ssumm2;
        let (first, fac) = if n > 5 {
            let a2 = -m[1] / ssumm2
                + poly(
                    &[
                        0.0, 0.042_981, -0.293_762, -1.752_461, 5.682_633, -3.582_633,
                    ],
                    rsn,
                );
            a[1] = a2;
            let fac = ((summ2 - 2.0 * m[0] * m[0] - 2.0 * m[1] * m[1])
                / (1.0 - 2.0 * a1 * a1 - 2.0 * a2 * a2))
                .sqrt();
            (2, fac)
        } else {
            (
                1,
                ((summ2 - 2.0 * m[0] * m[0]) / (1.0 - 2.0 * a1 * a1)).sqrt(),
            )
        };
        a[0] = a1;
        for (ai, mi) in a.iter_mut().zip(&m).skip(first) {
            *ai = -mi / fac;
        }
    }
    let b: f64 = (0..half).map(|i| a[i] * (x[n - 1 - i] - x[i])).sum();
    let w = (b * b / ssq).min(1.0);
    let p = if n == 3 {
        let pi6 = 6.0 / std::f64::consts::PI;
        let stqr = std::f64::consts::PI / 3.0;
        (pi6 * (w.sqrt().asin() - stqr)).max(0.0)
    } else {
        let w1 = (1.0 - w).max(f64::MIN_POSITIVE);
        let mut y = w1.ln();
        let (mu, sigma) = if n <= 11 {
            let gamma = poly(&[-2.273, 0.459], an);
            if y >= gamma {
                return Ok(ShapiroWilk { w, p: 1e-99 });
            }
            y = -(gamma - y).ln();
            (
                poly(&[0.544, -0.399_78, 0.025_054, -6.714e-4], an),
                poly(&[1.3822, -0.778_57, 0.062_767, -0.002_032_2], an).exp(),
            )
        } else {
            let ln = an.ln();
            (
                poly(&[-1.5861, -0.310_82, -0.083_751, 0.003_891_5], ln),
                poly(&[-0.4803, -0.082_676, 0.003_030_2], ln).exp(),
            )
        };
        1.0 - normal_cdf((y - mu) / sigma)
    };
    Ok(ShapiroWilk { w, p })
}

#[cfg(test)]
mod tests {
    use super::{erfc, normal_cdf, normal_quantile, shapiro_wilk};

    #[test]
    fn normal_functions_match_known_values() {
        // Values of the standard normal (tables; erfc(1) = 0.157299207050285...).
        assert!((erfc(1.0) - 0.157_299_207_050_285_1).abs() < 1e-14);
        assert!((erfc(3.0) - 2.209_049_699_858_544e-5).abs() < 1e-18);
        assert!((normal_cdf(1.959_963_984_540_054) - 0.975).abs() < 1e-14);
        assert!((normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-12);
        assert!((normal_quantile(0.001) + 3.090_232_306_167_813_5).abs() < 1e-11);
        assert!(normal_quantile(0.5).abs() < 1e-15);
        for p in [1e-10, 0.01, 0.3, 0.7, 0.99, 1.0 - 1e-9] {
            assert!((normal_cdf(normal_quantile(p)) - p).abs() < 1e-13 * p.max(1e-3));
        }
    }

    /// W and p against `scipy.stats.shapiro` (SciPy 1.17.1, whose swilk is Royston's AS R94) on
    /// samples written here.
    #[test]
    fn shapiro_wilk_matches_the_reference_implementation() {
        let h100: Vec<f64> = (0..100)
            .map(|i| f64::from((i * 37) % 101) / 10.0 + f64::from(i % 7) * 0.3)
            .collect();
        let exp200: Vec<f64> = (0..200)
            .map(|i| (f64::from((i * 37) % 101) / 30.0).exp())
            .collect();
        let sq20: Vec<f64> = (1..=20).map(|i| f64::from(i * i)).collect();
        let cases: [(&[f64], f64, f64); 6] = [
            (
                &[1.0, 2.0, 4.0],
                0.964_285_714_285_714_2,
                0.636_886_845_028_968_9,
            ),
            (
                &[2.1, 3.4, 1.9, 5.6, 4.4],
                0.932_084_939_195_386_3,
                0.610_655_902_260_484_5,
            ),
            (
                &[
                    148.0, 154.0, 158.0, 160.0, 161.0, 162.0, 166.0, 170.0, 182.0, 195.0,
                ],
                0.908_049_114_102_890_6,
                0.267_857_557_537_650_5,
            ),
            (&sq20, 0.906_130_628_605_387_4, 0.053_809_589_128_654_696),
            (&h100, 0.968_480_053_204_925_1, 0.016_929_811_268_857_096),
            (&exp200, 0.846_735_680_611_441, 2.994_176_037_615_529_7e-13),
        ];
        for (sample, w, p) in cases {
            let got = shapiro_wilk(sample).unwrap();
            assert!(
                (got.w - w).abs() < 1e-6,
                "n={} W {} vs {w}",
                sample.len(),
                got.w
            );
            assert!(
                (got.p - p).abs() < 1e-5 + 1e-3 * p,
                "n={} p {} vs {p}",
                sample.len(),
                got.p
            );
        }
    }

    #[test]
    fn bad_samples_are_refused() {
        assert!(shapiro_wilk(&[1.0, 2.0]).is_err());
        assert!(shapiro_wilk(&[1.0, 1.0, 1.0, 1.0]).is_err());
        assert!(shapiro_wilk(&[1.0, f64::NAN, 2.0]).is_err());
        assert!(shapiro_wilk(&vec![0.5; 6000]).is_err());
    }
}
