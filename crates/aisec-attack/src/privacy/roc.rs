//! The ROC curve of a membership score: how many members (true positives) an attack finds at each
//! false-positive rate on non-members. A higher score means "more likely a member".
//!
//! Ties are one threshold: rows with equal scores enter the curve together, as one diagonal step,
//! so the area equals the Mann-Whitney statistic with ties counted as one half. The curve has at
//! most one vertex per distinct score, plus the origin.

use serde::Serialize;

use crate::error::{AttackError, Result};

/// A ROC curve: vertices from `(0, 0)` to `(1, 1)`, both rates non-decreasing.
#[derive(Debug, Clone, Serialize)]
pub struct Roc {
    /// False-positive rate of each vertex (non-members scored at or above the threshold).
    pub fpr: Vec<f64>,
    /// True-positive rate of each vertex (members scored at or above the threshold).
    pub tpr: Vec<f64>,
    /// Members scored.
    pub members: usize,
    /// Non-members scored.
    pub non_members: usize,
}

impl Roc {
    /// The curve of `members`' and `non_members`' scores. Both must be non-empty and free of NaN.
    pub fn new(members: &[f64], non_members: &[f64]) -> Result<Self> {
        if members.is_empty() || non_members.is_empty() {
            return Err(AttackError::Parameter(format!(
                "a ROC curve needs members and non-members ({} and {} given)",
                members.len(),
                non_members.len()
            )));
        }
        if members.iter().chain(non_members).any(|s| s.is_nan()) {
            return Err(AttackError::NonFinite {
                what: "membership scores",
            });
        }
        let mut scored: Vec<(f64, bool)> = members
            .iter()
            .map(|&s| (s, true))
            .chain(non_members.iter().map(|&s| (s, false)))
            .collect();
        scored.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
        let (pos, neg) = (members.len() as f64, non_members.len() as f64);
        let mut fpr = Vec::with_capacity(scored.len() + 1);
        let mut tpr = Vec::with_capacity(scored.len() + 1);
        fpr.push(0.0);
        tpr.push(0.0);
        let (mut tp, mut fp) = (0usize, 0usize);
        let mut i = 0;
        while i < scored.len() {
            let threshold = scored[i].0;
            // Every row with this score passes the threshold together.
            while i < scored.len() && scored[i].0.total_cmp(&threshold).is_eq() {
                if scored[i].1 {
                    tp += 1;
                } else {
                    fp += 1;
                }
                i += 1;
            }
            fpr.push(fp as f64 / neg);
            tpr.push(tp as f64 / pos);
        }
        Ok(Self {
            fpr,
            tpr,
            members: members.len(),
            non_members: non_members.len(),
        })
    }

    /// The area under the curve (trapezoids: a tie counts one half).
    #[must_use]
    pub fn auc(&self) -> f64 {
        self.fpr
            .windows(2)
            .zip(self.tpr.windows(2))
            .map(|(f, t)| (f[1] - f[0]) * (t[1] + t[0]) / 2.0)
            .sum()
    }

    /// The highest true-positive rate among thresholds whose false-positive rate is at most
    /// `target` (the convention of Carlini et al.: no interpolation between vertices). With fewer
    /// non-members than `1 / target`, only the thresholds with no false positive qualify.
    #[must_use]
    pub fn tpr_at_fpr(&self, target: f64) -> f64 {
        // Rates are multiples of 1/non_members: a hair of slack keeps 10/1000 <= 0.01 true.
        let limit = target + 1e-12;
        self.fpr
            .iter()
            .zip(&self.tpr)
            .take_while(|(f, _)| **f <= limit)
            .map(|(_, t)| *t)
            .fold(0.0, f64::max)
    }

    /// The membership advantage (Yeom et al.): the largest `TPR - FPR` over thresholds.
    #[must_use]
    pub fn advantage(&self) -> f64 {
        self.fpr
            .iter()
            .zip(&self.tpr)
            .map(|(f, t)| t - f)
            .fold(0.0, f64::max)
    }

    /// The best balanced accuracy over thresholds, `(TPR + 1 - FPR) / 2`: the accuracy of the
    /// attack's best guess when members and non-members are equally likely.
    #[must_use]
    pub fn balanced_accuracy(&self) -> f64 {
        f64::midpoint(1.0, self.advantage())
    }

    /// Vertices for a log-log chart: those with a positive false- and true-positive rate, thinned
    /// to about `max_points` (the first and last vertex of each of `max_points / 2` equal steps of
    /// log FPR, so the staircase keeps its shape). The last vertex `(1, 1)` is always kept.
    #[must_use]
    pub fn log_points(&self, max_points: usize) -> Vec<[f64; 2]> {
        let positive: Vec<usize> = (0..self.fpr.len())
            .filter(|&i| self.fpr[i] > 0.0 && self.tpr[i] > 0.0)
            .collect();
        let Some(&first) = positive.first() else {
            return Vec::new();
        };
        let buckets = (max_points / 2).max(1) as f64;
        let lo = self.fpr[first].log10();
        let span = (0.0 - lo).max(1e-12);
        let bucket =
            |i: usize| (((self.fpr[i].log10() - lo) / span * buckets) as usize).min(1 << 20);
        let mut out: Vec<[f64; 2]> = Vec::new();
        let mut k = 0;
        while k < positive.len() {
            let b = bucket(positive[k]);
            let start = positive[k];
            while k + 1 < positive.len() && bucket(positive[k + 1]) == b {
                k += 1;
            }
            let end = positive[k];
            out.push([self.fpr[start], self.tpr[start]]);
            if end != start {
                out.push([self.fpr[end], self.tpr[end]]);
            }
            k += 1;
        }
        out
    }
}

/// The chance diagonal `TPR = FPR` for a log-log chart, from `lowest` to 1.
#[must_use]
pub fn chance_points(lowest: f64) -> Vec<[f64; 2]> {
    let lo = lowest.clamp(1e-9, 1.0).log10();
    (0..=16)
        .map(|i| {
            let v = 10f64.powf(lo * (1.0 - f64::from(i) / 16.0));
            [v, v]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::Roc;

    #[test]
    fn hand_computed_curve() {
        // Members 0.9, 0.8, 0.4; non-members 0.7, 0.3.
        // Thresholds: 0.9 -> (0, 1/3); 0.8 -> (0, 2/3); 0.7 -> (1/2, 2/3); 0.4 -> (1/2, 1);
        // 0.3 -> (1, 1). AUC: pairs (m > n): 0.9>0.7, 0.9>0.3, 0.8>0.7, 0.8>0.3, 0.4>0.3 = 5/6.
        let roc = Roc::new(&[0.9, 0.8, 0.4], &[0.7, 0.3]).unwrap();
        assert_eq!(roc.fpr, vec![0.0, 0.0, 0.0, 0.5, 0.5, 1.0]);
        let third = 1.0 / 3.0;
        let want = [0.0, third, 2.0 * third, 2.0 * third, 1.0, 1.0];
        for (t, w) in roc.tpr.iter().zip(want) {
            assert!((t - w).abs() < 1e-12);
        }
        assert!((roc.auc() - 5.0 / 6.0).abs() < 1e-12);
        // Highest TPR with FPR <= 0.1: 2/3 (threshold 0.8); with FPR <= 0.5: 1.
        assert!((roc.tpr_at_fpr(0.1) - 2.0 / 3.0).abs() < 1e-12);
        assert!((roc.tpr_at_fpr(0.5) - 1.0).abs() < 1e-12);
        // Advantage: max(TPR - FPR) = 2/3 at (0, 2/3); balanced accuracy 5/6.
        assert!((roc.advantage() - 2.0 / 3.0).abs() < 1e-12);
        assert!((roc.balanced_accuracy() - 5.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn ties_are_one_step_and_count_half() {
        // Everything tied: one diagonal step, AUC 1/2, nothing at FPR 0.
        let roc = Roc::new(&[1.0, 1.0], &[1.0, 1.0, 1.0]).unwrap();
        assert_eq!(roc.fpr, vec![0.0, 1.0]);
        assert_eq!(roc.tpr, vec![0.0, 1.0]);
        assert!((roc.auc() - 0.5).abs() < 1e-12);
        assert!(roc.tpr_at_fpr(0.01).abs() < 1e-12);
        assert!(roc.advantage().abs() < 1e-12);
        // A member tied with a non-member above the rest: pairs m>n: (2,1) (2,1) -> members
        // {2, 1}, non-members {2, 0}: 2 vs 2 tie (1/2), 2 > 0, 1 > 0, 1 < 2: (0.5 + 1 + 1) / 4.
        let roc = Roc::new(&[2.0, 1.0], &[2.0, 0.0]).unwrap();
        assert!((roc.auc() - 2.5 / 4.0).abs() < 1e-12);
        assert_eq!(roc.fpr, vec![0.0, 0.5, 0.5, 1.0]);
        assert_eq!(roc.tpr, vec![0.0, 0.5, 1.0, 1.0]);
    }

    #[test]
    fn tpr_at_low_fpr_on_a_hundred_non_members() {
        // 100 non-members scored 0..99; members: 3 above everything, the rest at -1.
        let non: Vec<f64> = (0..100).map(f64::from).collect();
        let mut mem = vec![1000.0, 1001.0, 1002.0];
        mem.extend(std::iter::repeat_n(-1.0, 7));
        let roc = Roc::new(&mem, &non).unwrap();
        // FPR 1% allows one false positive (score 99), which adds no member: TPR 3/10.
        assert!((roc.tpr_at_fpr(0.01) - 0.3).abs() < 1e-12);
        assert!((roc.tpr_at_fpr(0.001) - 0.3).abs() < 1e-12);
        // AUC: 3 members beat all 100, 7 beat none: 300 / 1000.
        assert!((roc.auc() - 0.3).abs() < 1e-12);
        let pts = roc.log_points(20);
        assert!(pts.iter().all(|p| p[0] > 0.0 && p[1] > 0.0));
        assert!(pts.len() <= 21, "{}", pts.len());
        assert_eq!(pts.last(), Some(&[1.0, 1.0]));
        assert!(
            pts.windows(2)
                .all(|w| w[0][0] <= w[1][0] && w[0][1] <= w[1][1])
        );
    }

    #[test]
    fn refuses_empty_and_nan() {
        assert!(Roc::new(&[], &[1.0]).is_err());
        assert!(Roc::new(&[f64::NAN], &[1.0]).is_err());
    }
}
