//! Membership inference: was this row in the model's training set? Every attack here is black-box:
//! it sees the target only through [`Classifier::predict`] (each row a counted query) and returns
//! one score per row, higher meaning "more likely a member".
//!
//! - LOSS (Yeom et al. 2018): the model's loss on the row; members have lower loss.
//! - Shadow models (Shokri et al. 2017): models trained like the target on the attacker's data,
//!   whose in/out behaviour trains a classifier that then reads the target's outputs.
//! - LiRA (Carlini et al. 2022): per row, Gaussians of the logit-scaled confidence of reference
//!   models that did (IN) and did not (OUT) train on it; online compares both, offline asks how
//!   far above the OUT distribution the target is.
//! - RMIA (Zarifzadeh et al. 2024): the ratio of the target's probability of the row to its
//!   probability under the reference models, compared with the same ratio on population rows.
//!
//! The reference models are trained once ([`train_references`]) and shared by shadow, LiRA and
//! RMIA; they are the attack's cost, so they train in parallel (rayon) and from seeds.

use std::time::Instant;

use aisec_ml::candle::{DType, Device, Tensor};
use aisec_ml::train::{TrainConfig, train};
use aisec_ml::{Architecture, Classifier, ModelKind, Network, Rng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{AttackError, Result};
use crate::evasion::select_rows;

/// Rows sent to a model in one call.
const QUERY_BATCH: usize = 512;
/// The floor under probabilities before a logarithm (the smallest positive f32 is ~1.4e-45).
const TINY: f64 = 1e-45;
/// With fewer reference models than this, LiRA uses one variance for all rows (as Carlini et al.
/// advise: per-row variances from a handful of models are too noisy).
pub const GLOBAL_VARIANCE_BELOW: usize = 64;
/// The most rows an attack handles (population and candidates).
pub const MAX_ROWS: usize = 200_000;

/// A membership inference attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MembershipAttack {
    /// Threshold on the loss (Yeom et al.).
    Loss,
    /// Shadow models and an attack classifier (Shokri et al.).
    Shadow,
    /// LiRA with IN and OUT reference models (Carlini et al., online).
    Lira,
    /// LiRA with OUT reference models only (Carlini et al., offline).
    LiraOffline,
    /// RMIA with every reference model (Zarifzadeh et al., online).
    Rmia,
    /// RMIA with OUT reference models only and the paper's linear correction `a`.
    RmiaOffline,
}

impl MembershipAttack {
    /// Every attack, in report order.
    pub const ALL: [Self; 6] = [
        Self::Loss,
        Self::Shadow,
        Self::Lira,
        Self::LiraOffline,
        Self::Rmia,
        Self::RmiaOffline,
    ];

    /// The attack's name in reports and on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Loss => "loss",
            Self::Shadow => "shadow",
            Self::Lira => "lira",
            Self::LiraOffline => "lira-offline",
            Self::Rmia => "rmia",
            Self::RmiaOffline => "rmia-offline",
        }
    }

    /// Whether it needs reference (shadow) models.
    #[must_use]
    pub fn needs_references(self) -> bool {
        self != Self::Loss
    }

    /// The fewest reference models it works with.
    #[must_use]
    pub fn min_references(self) -> usize {
        match self {
            Self::Loss => 0,
            Self::LiraOffline | Self::RmiaOffline => 1,
            // IN and OUT models for every row.
            Self::Shadow | Self::Lira | Self::Rmia => 2,
        }
    }
}

/// Settings of the attacks beyond the reference models.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct MembershipSettings {
    /// RMIA: a row dominates a population row `z` when its likelihood ratio exceeds `gamma`
    /// times `z`'s.
    pub rmia_gamma: f64,
    /// Offline RMIA: `Pr(x) = ((1 + a) Pr_OUT(x) + (1 - a)) / 2` approximates the average over IN
    /// and OUT models from OUT models only.
    pub rmia_offline_a: f64,
    /// LiRA: one variance for all rows (`None`: when there are fewer than
    /// [`GLOBAL_VARIANCE_BELOW`] reference models).
    pub lira_global_variance: Option<bool>,
    /// Seed of the shadow attack's classifier.
    pub seed: u64,
}

impl Default for MembershipSettings {
    fn default() -> Self {
        Self {
            rmia_gamma: 1.0,
            rmia_offline_a: 0.3,
            lira_global_variance: None,
            seed: 0,
        }
    }
}

/// Probability vectors of `n` rows over `k` classes, row-major.
#[derive(Debug, Clone)]
pub struct Probs {
    /// Classes.
    pub k: usize,
    /// `[n * k]` values.
    pub values: Vec<f32>,
}

impl Probs {
    /// Rows held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.values.len() / self.k.max(1)
    }

    /// Whether no row is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Row `i`.
    #[must_use]
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.k..(i + 1) * self.k]
    }

    /// The probability of class `y` in row `i`.
    #[must_use]
    pub fn p(&self, i: usize, y: u32) -> f64 {
        f64::from(self.row(i)[y as usize])
    }

    /// The logit-scaled confidence of row `i` for `y` (see [`phi`]).
    #[must_use]
    pub fn phi(&self, i: usize, y: u32) -> f64 {
        phi(self.row(i), y)
    }
}

/// `log(p_y / (1 - p_y))`, with `1 - p_y` taken as the sum of the other classes' probabilities
/// (no cancellation when `p_y` is close to 1) and both sides floored at the smallest f32.
#[must_use]
pub fn phi(row: &[f32], y: u32) -> f64 {
    let y = y as usize;
    let p = f64::from(row[y]);
    let rest: f64 = row
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != y)
        .map(|(_, &v)| f64::from(v))
        .sum();
    p.max(TINY).ln() - rest.max(TINY).ln()
}

/// The target's probabilities for every row of `x`, in batches (counts `N` queries).
pub fn query(model: &dyn Classifier, x: &Tensor) -> Result<Probs> {
    let n = x.dim(0)?;
    let k = model.info().num_classes;
    let mut values = Vec::with_capacity(n * k);
    let mut start = 0;
    while start < n {
        let len = QUERY_BATCH.min(n - start);
        let p = model.predict(&x.narrow(0, start, len)?)?;
        if p.dims() != [len, k] {
            return Err(AttackError::Parameter(format!(
                "the model answered {:?} for {len} rows of {k} classes",
                p.dims()
            )));
        }
        values.extend(p.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?);
        start += len;
    }
    if values.iter().any(|v| !v.is_finite()) {
        return Err(AttackError::NonFinite {
            what: "the model's probabilities",
        });
    }
    Ok(Probs { k, values })
}

/// One of our networks' probabilities for every row of `x` (not a counted query).
fn network_probs(net: &Network, x: &Tensor) -> Result<Probs> {
    let n = x.dim(0)?;
    let k = net.arch().num_classes;
    let mut values = Vec::with_capacity(n * k);
    let mut start = 0;
    while start < n {
        let len = QUERY_BATCH.min(n - start);
        let xb = x.narrow(0, start, len)?.to_dtype(net.dtype())?;
        values.extend(
            net.probabilities(&xb)?
                .to_dtype(DType::F32)?
                .flatten_all()?
                .to_vec1::<f32>()?,
        );
        start += len;
    }
    Ok(Probs { k, values })
}

/// Reference models: trained like the target on random subsets of the population (each the size of the target's training set), with their
/// outputs on every population row.
#[derive(Debug, Clone)]
pub struct References {
    /// `inside[m][i]`: population row `i` was in model `m`'s training set.
    pub inside: Vec<Vec<bool>>,
    /// Model `m`'s probabilities on every population row.
    pub probs: Vec<Probs>,
    /// Wall time of training them.
    pub seconds: f64,
}

impl References {
    /// Number of models.
    #[must_use]
    pub fn count(&self) -> usize {
        self.probs.len()
    }
}

/// A seed for model `m` from the run's seed (distinct streams for distinct models).
#[must_use]
pub fn model_seed(seed: u64, m: usize) -> u64 {
    Rng::new(seed ^ 0x5265_6665_7265_6e63_u64.wrapping_mul(m as u64 + 1)).next_u64()
}

/// Which reference models train on which row: every row is IN for `fraction` of the models (the
/// share of the population the target trains on; when `count * fraction` is not whole, rounded up
/// or down at random), so that each model trains on about as many rows as the target and every
/// row has IN and OUT models to compare.
#[must_use]
#[expect(
    clippy::needless_range_loop,
    reason = "row i is the inner index of every model's mask"
)]
pub fn assign_halves(rows: usize, count: usize, fraction: f64, seed: u64) -> Vec<Vec<bool>> {
    let mut rng = Rng::new(seed ^ 0x6861_6c76_6573);
    let mut inside = vec![vec![false; rows]; count];
    let mut order: Vec<usize> = (0..count).collect();
    let want = count as f64 * fraction.clamp(0.0, 1.0);
    for i in 0..rows {
        rng.shuffle(&mut order);
        let mut take = want.floor() as usize;
        if rng.uniform() < want - want.floor() {
            take += 1;
        }
        for &m in &order[..take.min(count)] {
            inside[m][i] = true;
        }
    }
    inside
}

/// Trains `count` reference models with `arch` and `config` (the target's recipe) on random
/// subsets of the population `(x, labels)` ([`assign_halves`] with `fraction`, the target's share),
/// in parallel, and records their outputs on every row. Model `m` starts from
/// [`model_seed`]`(seed, m)`.
pub fn train_references(
    arch: &Architecture,
    (x, labels): (&Tensor, &[u32]),
    count: usize,
    fraction: f64,
    config: &TrainConfig,
    seed: u64,
) -> Result<References> {
    let started = Instant::now();
    let n = labels.len();
    check_rows(x, labels)?;
    if count == 0 {
        return Err(AttackError::Parameter(
            "at least one reference model".into(),
        ));
    }
    let inside = assign_halves(n, count, fraction, seed);
    let probs = (0..count)
        .into_par_iter()
        .map(|m| {
            let rows: Vec<usize> = (0..n).filter(|&i| inside[m][i]).collect();
            if rows.is_empty() {
                return Err(AttackError::Parameter(
                    "a reference model got no training rows: give more rows".into(),
                ));
            }
            let xs = select_rows(x, &rows)?;
            let ys: Vec<u32> = rows.iter().map(|&i| labels[i]).collect();
            let s = model_seed(seed, m);
            let mut net = Network::init(arch.clone(), s)?;
            let mut cfg = config.clone();
            cfg.seed = s;
            train(&mut net, &xs, &ys, &cfg, None)?;
            network_probs(&net, x)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(References {
        inside,
        probs,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn check_rows(x: &Tensor, labels: &[u32]) -> Result<()> {
    let n = x.dim(0)?;
    if n != labels.len() || n == 0 {
        return Err(AttackError::Parameter(format!(
            "{n} rows and {} labels",
            labels.len()
        )));
    }
    if n > MAX_ROWS {
        return Err(AttackError::TooLarge {
            what: "rows",
            got: n,
            max: MAX_ROWS,
        });
    }
    Ok(())
}

/// The scores of one attack on every row, and the target queries it made.
#[derive(Debug, Clone)]
pub struct Scores {
    /// One per row, higher meaning "more likely a member".
    pub values: Vec<f64>,
    /// Rows sent to the target's `predict`.
    pub queries: u64,
}

/// Runs `attack` against `target` on the rows `(x, labels)`. The rows are also the population the
/// reference models were trained on (`references`, needed by every attack but LOSS), and the
/// population samples `z` of RMIA.
pub fn score(
    attack: MembershipAttack,
    target: &dyn Classifier,
    x: &Tensor,
    labels: &[u32],
    references: Option<&References>,
    settings: &MembershipSettings,
) -> Result<Scores> {
    check_rows(x, labels)?;
    let k = target.info().num_classes;
    if let Some(bad) = labels.iter().find(|&&y| y as usize >= k) {
        return Err(AttackError::Parameter(format!(
            "label {bad} is outside the target's {k} classes"
        )));
    }
    let refs = if attack.needs_references() {
        let refs = references.ok_or_else(|| {
            AttackError::Parameter(format!("{} needs reference models", attack.name()))
        })?;
        if refs.count() < attack.min_references() {
            return Err(AttackError::Parameter(format!(
                "{} needs at least {} reference models, {} given",
                attack.name(),
                attack.min_references(),
                refs.count()
            )));
        }
        if refs
            .probs
            .iter()
            .any(|p| p.len() != labels.len() || p.k != k)
        {
            return Err(AttackError::Parameter(
                "the reference models' outputs do not match the rows".into(),
            ));
        }
        Some(refs)
    } else {
        None
    };
    let before = target.queries().predictions;
    let probs = query(target, x)?;
    let queries = target.queries().predictions.saturating_sub(before);
    let values = match (attack, refs) {
        (MembershipAttack::Loss, _) => loss_scores(&probs, labels),
        (MembershipAttack::Lira, Some(r)) => lira_scores(&probs, labels, r, true, settings),
        (MembershipAttack::LiraOffline, Some(r)) => lira_scores(&probs, labels, r, false, settings),
        (MembershipAttack::Rmia, Some(r)) => rmia_scores(&probs, labels, r, None, settings),
        (MembershipAttack::RmiaOffline, Some(r)) => {
            rmia_scores(&probs, labels, r, Some(settings.rmia_offline_a), settings)
        }
        (MembershipAttack::Shadow, Some(r)) => shadow_scores(&probs, labels, r, settings)?,
        (_, None) => unreachable!("checked above"),
    };
    Ok(Scores { values, queries })
}

/// LOSS: minus the cross-entropy of the true label, `log p_y`, taken as
/// `-ln(1 + rest / p_y)` with `rest` the other classes' probabilities summed: a confident model's
/// `p_y` rounds to 1 in f32 for members and non-members alike, while `rest` keeps them apart.
#[must_use]
pub fn loss_scores(probs: &Probs, labels: &[u32]) -> Vec<f64> {
    labels
        .iter()
        .enumerate()
        .map(|(i, &y)| {
            let row = probs.row(i);
            let p = f64::from(row[y as usize]).max(TINY);
            let rest: f64 = row
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != y as usize)
                .map(|(_, &v)| f64::from(v))
                .sum();
            -(rest / p).ln_1p()
        })
        .collect()
}

/// Per-row Gaussians of the reference models' `phi`, IN and OUT.
struct Gaussians {
    mu_in: Vec<f64>,
    mu_out: Vec<f64>,
    sd_in: Vec<f64>,
    sd_out: Vec<f64>,
}

/// Mean and per-row variance of `values` grouped per row; a group may be empty (mean NaN).
fn moments(groups: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    groups
        .iter()
        .map(|g| {
            if g.is_empty() {
                return (f64::NAN, f64::NAN);
            }
            let n = g.len() as f64;
            let mean = g.iter().sum::<f64>() / n;
            (mean, g.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n)
        })
        .unzip()
}

/// One standard deviation for every row: the pooled spread of the values around their row's mean
/// (degrees of freedom: values minus rows), or the spread of all values when every row has a
/// single one.
fn pooled_sd(groups: &[Vec<f64>], means: &[f64]) -> f64 {
    let (mut ss, mut dof) = (0.0, 0usize);
    for (g, m) in groups.iter().zip(means) {
        if g.len() > 1 {
            ss += g.iter().map(|v| (v - m).powi(2)).sum::<f64>();
            dof += g.len() - 1;
        }
    }
    if dof > 0 {
        return (ss / dof as f64).sqrt();
    }
    let all: Vec<f64> = groups.iter().flatten().copied().collect();
    if all.len() < 2 {
        return 1.0;
    }
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    (all.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (all.len() - 1) as f64).sqrt()
}

fn fit_gaussians(labels: &[u32], refs: &References, global: bool) -> Gaussians {
    let n = labels.len();
    let mut ins = vec![Vec::new(); n];
    let mut outs = vec![Vec::new(); n];
    for (probs, inside) in refs.probs.iter().zip(&refs.inside) {
        for (i, &y) in labels.iter().enumerate() {
            let v = probs.phi(i, y);
            if inside[i] {
                ins[i].push(v);
            } else {
                outs[i].push(v);
            }
        }
    }
    let (mu_in, var_in) = moments(&ins);
    let (mu_out, var_out) = moments(&outs);
    let floor = 1e-6;
    let spread = |groups: &[Vec<f64>], mu: &[f64], var: Vec<f64>| -> Vec<f64> {
        if global || groups.iter().any(|g| g.len() < 2) {
            vec![pooled_sd(groups, mu).max(floor); n]
        } else {
            var.into_iter().map(|v| v.sqrt().max(floor)).collect()
        }
    };
    let sd_in = spread(&ins, &mu_in, var_in);
    let sd_out = spread(&outs, &mu_out, var_out);
    Gaussians {
        mu_in,
        mu_out,
        sd_in,
        sd_out,
    }
}

fn log_normal(x: f64, mu: f64, sd: f64) -> f64 {
    let z = (x - mu) / sd;
    -0.5 * z * z - sd.ln()
}

/// LiRA. Online: the log-likelihood ratio of the target's `phi` under the row's IN and OUT
/// Gaussians. Offline: the one-sided test against the OUT Gaussian, `(phi - mu_out) / sd_out`
/// (the test's p-value is a decreasing function of it, so the ROC is the same). A row without
/// IN models (an odd split of few models) falls back to the offline test, scaled alike.
fn lira_scores(
    probs: &Probs,
    labels: &[u32],
    refs: &References,
    online: bool,
    settings: &MembershipSettings,
) -> Vec<f64> {
    let global = settings
        .lira_global_variance
        .unwrap_or(refs.count() < GLOBAL_VARIANCE_BELOW);
    let g = fit_gaussians(labels, refs, global);
    labels
        .iter()
        .enumerate()
        .map(|(i, &y)| {
            let t = probs.phi(i, y);
            let offline = (t - g.mu_out[i]) / g.sd_out[i];
            if !online || g.mu_in[i].is_nan() {
                offline
            } else if g.mu_out[i].is_nan() {
                (t - g.mu_in[i]) / g.sd_in[i]
            } else {
                log_normal(t, g.mu_in[i], g.sd_in[i]) - log_normal(t, g.mu_out[i], g.sd_out[i])
            }
        })
        .collect()
}

/// RMIA. `Pr(x)` is the mean of the reference models' probability of the true label: over all of
/// them (online) or over the OUT models with the linear correction `a` (offline). The score of `x`
/// is the share of population rows `z` (here: every row) with `LR(x) / LR(z) > gamma`, where
/// `LR = Pr(.|target) / Pr(.)`.
fn rmia_scores(
    probs: &Probs,
    labels: &[u32],
    refs: &References,
    offline_a: Option<f64>,
    settings: &MembershipSettings,
) -> Vec<f64> {
    let ratio: Vec<f64> = labels
        .iter()
        .enumerate()
        .map(|(i, &y)| {
            let (mut sum, mut count) = (0.0, 0usize);
            for (p, inside) in refs.probs.iter().zip(&refs.inside) {
                if offline_a.is_none() || !inside[i] {
                    sum += p.p(i, y);
                    count += 1;
                }
            }
            let mean = if count == 0 { 0.5 } else { sum / count as f64 };
            let prior = match offline_a {
                Some(a) => 0.5 * ((1.0 + a) * mean + (1.0 - a)),
                None => mean,
            };
            probs.p(i, y) / prior.max(1e-30)
        })
        .collect();
    let mut z = ratio.clone();
    z.sort_unstable_by(f64::total_cmp);
    let total = z.len() as f64;
    ratio
        .iter()
        .map(|&r| z.partition_point(|&rz| r > settings.rmia_gamma * rz) as f64 / total)
        .collect()
}

/// The shadow attack's features of one probability vector with its true label: the probabilities
/// sorted in decreasing order, the true label's probability and its `phi / 10`, and the label
/// one-hot.
fn shadow_features(row: &[f32], y: u32, out: &mut Vec<f32>) {
    let mut sorted = row.to_vec();
    sorted.sort_unstable_by(|a, b| b.total_cmp(a));
    out.extend(&sorted);
    out.push(row[y as usize]);
    out.push((phi(row, y) / 10.0) as f32);
    out.extend((0..row.len()).map(|j| if j == y as usize { 1.0 } else { 0.0 }));
}

/// The most training rows of the shadow attack's classifier (reference models x rows).
const MAX_SHADOW_ROWS: usize = 400_000;

/// Shadow models: an MLP learns IN/OUT from the reference models' outputs on the population, then
/// scores the target's outputs (its logit of IN minus OUT).
fn shadow_scores(
    probs: &Probs,
    labels: &[u32],
    refs: &References,
    settings: &MembershipSettings,
) -> Result<Vec<f64>> {
    let k = probs.k;
    let d = 2 * k + 2;
    let n = labels.len();
    let models = refs.count().min(MAX_SHADOW_ROWS / n.max(1)).max(1);
    let mut feats = Vec::with_capacity(models * n * d);
    let mut ys = Vec::with_capacity(models * n);
    for m in 0..models {
        for (i, &y) in labels.iter().enumerate() {
            shadow_features(refs.probs[m].row(i), y, &mut feats);
            ys.push(u32::from(refs.inside[m][i]));
        }
    }
    let x = Tensor::from_vec(feats, (ys.len(), d), &Device::Cpu)?;
    let arch = ModelKind::Mlp.architecture(&[d], 2)?;
    let mut net = Network::init(arch, settings.seed ^ 0x5368_6164)?;
    let config = TrainConfig {
        learning_rate: 1e-3,
        epochs: 40,
        batch_size: 128,
        seed: settings.seed,
        patience: Some(5),
        ..TrainConfig::default()
    };
    train(&mut net, &x, &ys, &config, None)?;
    let mut target = Vec::with_capacity(n * d);
    for (i, &y) in labels.iter().enumerate() {
        shadow_features(probs.row(i), y, &mut target);
    }
    let t = Tensor::from_vec(target, (n, d), &Device::Cpu)?;
    let logits = net.logits(&t)?.to_dtype(DType::F64)?.to_vec2::<f64>()?;
    Ok(logits.iter().map(|l| l[1] - l[0]).collect())
}

#[cfg(test)]
mod tests {
    use super::{Probs, assign_halves, phi, pooled_sd};

    #[test]
    fn phi_is_stable_near_one() {
        // p_y = 1 - 1e-9 in f32 rounds to 1, but the other class keeps its 1e-9.
        let row = [1.0f32, 1e-9];
        let v = phi(&row, 0);
        assert!((v - (1.0f64 / f64::from(1e-9f32)).ln()).abs() < 1e-3, "{v}");
        assert!(phi(&[0.5, 0.5], 0).abs() < 1e-12);
        assert!(phi(&[0.0, 1.0], 0).is_finite());
        let p = Probs {
            k: 2,
            values: vec![0.25, 0.75],
        };
        assert!((p.phi(0, 1) - 3f64.ln()).abs() < 1e-6);
    }

    #[test]
    fn halves_are_balanced_per_row() {
        let inside = assign_halves(50, 4, 0.5, 1);
        for i in 0..50 {
            assert_eq!(inside.iter().filter(|m| m[i]).count(), 2);
        }
        // A fifth of 8 models: 1 or 2 per row, 1.6 on average.
        let fifth = assign_halves(500, 8, 0.2, 1);
        let per_row: Vec<usize> = (0..500)
            .map(|i| fifth.iter().filter(|m| m[i]).count())
            .collect();
        assert!(per_row.iter().all(|&c| c == 1 || c == 2));
        let mean = per_row.iter().sum::<usize>() as f64 / 500.0;
        assert!((mean - 1.6).abs() < 0.1, "{mean}");
        let odd = assign_halves(200, 1, 0.5, 2);
        let ins = odd[0].iter().filter(|b| **b).count();
        assert!((60..140).contains(&ins), "{ins}");
    }

    #[test]
    fn pooled_spread() {
        // Rows {1, 3} and {10, 14}: squares 1+1 and 4+4 over 2 degrees of freedom: sqrt(5).
        let g = vec![vec![1.0, 3.0], vec![10.0, 14.0]];
        assert!((pooled_sd(&g, &[2.0, 12.0]) - 5f64.sqrt()).abs() < 1e-12);
        // One value per row: the spread of all values (1, 3: sample sd sqrt(2)).
        let g = vec![vec![1.0], vec![3.0]];
        assert!((pooled_sd(&g, &[1.0, 3.0]) - 2f64.sqrt()).abs() < 1e-12);
    }
}
