//! Learning-based extraction: the attacker queries the victim on inputs of its own and trains a
//! surrogate of its own architecture on the answers.
//!
//! - Knockoff Nets (Orekondy et al., CVPR 2019) trains on the victim's probabilities (soft
//!   labels). Its *random* strategy samples the attacker's pool uniformly; its *adaptive* strategy
//!   treats groups of the pool (here: k-means clusters, which cost no query) as the arms of a
//!   gradient bandit, rewarded per query by the answer's certainty (top-1 minus top-2
//!   probability), its diversity (how far the answer stands above the recent answers' mean) and
//!   the surrogate's loss on it (how much the attacker still has to learn there).
//! - Copycat CNN (Correia-Silva et al., IJCNN 2018) keeps only the victim's top-1 label, and
//!   queries with non-problem-domain or synthetic data.
//!
//! The surrogate is retrained from scratch at each budget on the queries so far, so every budget
//! of one run shares one query stream: the curve shows what a longer stream buys.

use std::time::Instant;

use aisec_ml::candle::{DType, Tensor};
use aisec_ml::train::{TrainConfig, train_soft};
use aisec_ml::{Architecture, Classifier, Device, MlError, Network, Rng, ops};
use serde::{Deserialize, Serialize};

use super::{QueryStream, agreement, argmax, ask};
use crate::error::{AttackError, Result};
use crate::evasion::select_rows;
use crate::linalg::{KMeansConfig, Matrix, kmeans};

/// How the attacker picks its next query from the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Uniformly, without replacement.
    Random,
    /// A gradient bandit over clusters of the pool.
    Adaptive,
}

/// What the surrogate learns from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Labels {
    /// The victim's probabilities (Knockoff Nets).
    Soft,
    /// The victim's top-1 class only (Copycat).
    Hard,
}

/// The adaptive strategy's reward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reward {
    /// Top-1 minus top-2 probability of the answer.
    Certainty,
    /// How far the answer stands above the mean of the recent answers.
    Diversity,
    /// The surrogate's cross-entropy against the answer.
    Loss,
    /// The three, each scaled to about [0, 1], summed.
    All,
}

/// A learning-based extraction.
#[derive(Debug, Clone)]
pub struct Knockoff {
    /// How queries are chosen.
    pub strategy: Strategy,
    /// What the surrogate learns from.
    pub labels: Labels,
    /// Query budgets, ascending; a surrogate is trained at each.
    pub budgets: Vec<usize>,
    /// The attacker's architecture.
    pub surrogate: Architecture,
    /// How the attacker trains it (soft targets use the same recipe).
    pub train: TrainConfig,
    /// Rows per victim call (the adaptive strategy's round: rewards update the bandit after each).
    pub batch: usize,
    /// The adaptive strategy's reward.
    pub reward: Reward,
    /// The bandit's step size.
    pub bandit_lr: f64,
    /// The adaptive strategy's arms: k-means clusters of the pool (0: the victim's classes).
    pub arms: usize,
    /// Seed of sampling and the surrogate's initial weights.
    pub seed: u64,
}

/// The test rows a copy is measured on, with the labels the victim itself gives them.
#[derive(Debug, Clone, Copy)]
pub struct Evaluation<'a> {
    /// `[n, ...input_shape]`.
    pub x: &'a Tensor,
    /// The true labels.
    pub labels: &'a [u32],
    /// The undefended victim's predictions.
    pub victim: &'a [u32],
}

/// A copy measured at one budget.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BudgetPoint {
    /// The budget.
    pub budget: usize,
    /// Queries the copy was trained on (below the budget when the stream stopped early).
    pub queries: usize,
    /// Agreement of the copy's top-1 with the victim's on the test rows.
    pub fidelity: f64,
    /// The copy's accuracy on the test labels.
    pub accuracy: f64,
    /// Seconds of querying and sampling so far in the stream.
    pub query_seconds: f64,
    /// Seconds training this copy.
    pub train_seconds: f64,
}

/// A learning-based extraction's result.
#[derive(Debug, Clone, Serialize)]
pub struct KnockoffOutcome {
    /// One point per budget reached.
    pub points: Vec<BudgetPoint>,
    /// Why the stream stopped before the largest budget, if it did.
    pub stopped: Option<String>,
    /// The adaptive bandit's final policy over its arms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<Vec<f64>>,
    /// The queries, in order.
    #[serde(skip)]
    pub stream: QueryStream,
    /// The copy trained at the largest budget reached.
    #[serde(skip)]
    pub copy: Option<Network>,
}

impl Knockoff {
    fn validate(&self, victim: &dyn Classifier) -> Result<()> {
        let info = victim.info();
        if self.budgets.is_empty() || self.budgets.contains(&0) {
            return Err(AttackError::Parameter(
                "query budgets must be positive".into(),
            ));
        }
        if self.budgets.windows(2).any(|w| w[0] >= w[1]) {
            return Err(AttackError::Parameter(
                "query budgets must be strictly ascending".into(),
            ));
        }
        let largest = *self.budgets.last().unwrap_or(&0);
        if largest > super::MAX_STREAM {
            return Err(AttackError::TooLarge {
                what: "query budget",
                got: largest,
                max: super::MAX_STREAM,
            });
        }
        if self.surrogate.input_shape != info.input_shape
            || self.surrogate.num_classes != info.num_classes
        {
            return Err(AttackError::Parameter(format!(
                "the surrogate takes {:?} inputs and {} classes; the victim {:?} and {}",
                self.surrogate.input_shape,
                self.surrogate.num_classes,
                info.input_shape,
                info.num_classes
            )));
        }
        if self.batch == 0 || !(self.bandit_lr.is_finite() && self.bandit_lr > 0.0) {
            return Err(AttackError::Parameter(
                "the batch and the bandit's step size must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// Runs the extraction: queries `victim` on rows of `pool` (`[P, ...input_shape]`, read in a
/// seeded order or by the bandit) up to the largest budget, and trains and measures a copy at
/// each budget.
pub fn knockoff(
    victim: &dyn Classifier,
    pool: &Tensor,
    attack: &Knockoff,
    eval: Evaluation<'_>,
) -> Result<KnockoffOutcome> {
    attack.validate(victim)?;
    let info = victim.info().clone();
    let k = info.num_classes;
    let pool_rows = pool.dim(0)?;
    if pool_rows == 0 {
        return Err(AttackError::Parameter("the query pool is empty".into()));
    }
    let mut rng = Rng::new(attack.seed ^ 0x6b6e_6f63);
    let largest = *attack.budgets.last().unwrap_or(&0);
    let target = largest.min(pool_rows);
    let mut stopped = (largest > pool_rows).then(|| {
        format!("the pool holds {pool_rows} rows, fewer than the largest budget of {largest}")
    });
    let mut stream = QueryStream::new(info.sample_len());
    let mut answers: Vec<Vec<f32>> = Vec::new();
    let mut picked: Vec<usize> = Vec::new();
    let mut points = Vec::new();
    let mut copy = None;
    let mut query_seconds = 0.0;
    let mut halted = false;
    let mut bandit = match attack.strategy {
        Strategy::Random => None,
        Strategy::Adaptive => Some(Bandit::new(pool, attack, k, &mut rng)?),
    };
    let mut order: Vec<usize> = (0..pool_rows).collect();
    rng.shuffle(&mut order);
    // The adaptive strategy's online surrogate (refreshed after each round).
    let mut online = match attack.strategy {
        Strategy::Adaptive => Some(Network::init(attack.surrogate.clone(), attack.seed)?),
        Strategy::Random => None,
    };

    for &budget in &attack.budgets {
        let goal = budget.min(target);
        while !halted && picked.len() < goal {
            let t = Instant::now();
            let n = attack.batch.min(goal - picked.len());
            let batch_idx: Vec<usize> = match bandit.as_mut() {
                None => order[picked.len()..picked.len() + n].to_vec(),
                Some(b) => b.draw(n, &mut rng),
            };
            if batch_idx.is_empty() {
                stopped = Some("the pool ran out of rows".into());
                halted = true;
                break;
            }
            let xb = select_rows(pool, &batch_idx)?;
            let ans = match ask(victim, &xb) {
                Ok(a) => a,
                Err(AttackError::Model(MlError::BudgetExhausted { budget })) => {
                    stopped = Some(format!("the model's query budget of {budget} is spent"));
                    halted = true;
                    break;
                }
                Err(e) => return Err(e),
            };
            stream.push(&xb, &ans)?;
            if let (Some(b), Some(net)) = (bandit.as_mut(), online.as_ref()) {
                b.reward(&batch_idx, &ans, net, &xb, attack.reward)?;
            }
            picked.extend(&batch_idx);
            answers.extend(ans);
            query_seconds += t.elapsed().as_secs_f64();
            if let Some(net) = online.as_mut() {
                // One pass over everything so far keeps the online surrogate near the copy the
                // attacker would hold; its cost counts as the attacker's time.
                let t = Instant::now();
                let mut quick = attack.train.clone();
                quick.epochs = 1;
                quick.patience = None;
                quick.seed = attack.seed.wrapping_add(picked.len() as u64);
                fit_targets(
                    net,
                    &select_rows(pool, &picked)?,
                    &targets(&answers, attack.labels),
                    &quick,
                )?;
                query_seconds += t.elapsed().as_secs_f64();
            }
        }
        if picked.is_empty() {
            break;
        }
        if points
            .last()
            .is_some_and(|p: &BudgetPoint| p.queries == picked.len())
        {
            // The stream stopped: a larger budget would train the same copy.
            break;
        }
        let t = Instant::now();
        let mut net = Network::init(attack.surrogate.clone(), attack.seed)?;
        fit_targets(
            &mut net,
            &select_rows(pool, &picked)?,
            &targets(&answers, attack.labels),
            &attack.train,
        )?;
        let train_seconds = t.elapsed().as_secs_f64();
        let predicted = net
            .logits(&eval.x.to_dtype(net.dtype())?)?
            .argmax(1)?
            .to_vec1::<u32>()?;
        points.push(BudgetPoint {
            budget,
            queries: picked.len(),
            fidelity: agreement(&predicted, eval.victim),
            accuracy: agreement(&predicted, eval.labels),
            query_seconds,
            train_seconds,
        });
        copy = Some(net);
        if stopped.is_some() && picked.len() >= target {
            break;
        }
    }
    Ok(KnockoffOutcome {
        points,
        stopped,
        policy: bandit.map(|b| b.policy()),
        stream,
        copy,
    })
}

/// Targets `[n, K]`: the answers themselves, or one-hot rows of their top class.
fn targets(answers: &[Vec<f32>], labels: Labels) -> Vec<Vec<f32>> {
    match labels {
        Labels::Soft => answers.to_vec(),
        Labels::Hard => answers
            .iter()
            .map(|a| {
                let top = argmax(a);
                (0..a.len())
                    .map(|i| f32::from(u8::from(i == top)))
                    .collect()
            })
            .collect(),
    }
}

/// Trains `net` in place on `x` against target distributions `[n, K]` with the recipe
/// (`aisec_ml::train::train_soft`); under 20 rows nothing is held out for early stopping.
pub fn fit_targets(
    net: &mut Network,
    x: &Tensor,
    targets: &[Vec<f32>],
    config: &TrainConfig,
) -> Result<()> {
    let n = x.dim(0)?;
    let k = net.arch().num_classes;
    if n == 0 || n != targets.len() || targets.iter().any(|t| t.len() != k) {
        return Err(AttackError::Parameter(format!(
            "{n} rows and {} targets of {k} classes",
            targets.len()
        )));
    }
    let flat: Vec<f32> = targets.iter().flatten().copied().collect();
    let targets = Tensor::from_vec(flat, (n, k), &Device::Cpu)?;
    let mut config = config.clone();
    if n < 20 {
        config.patience = None;
    }
    train_soft(net, x, &targets, &config).map_err(|e| match e {
        aisec_ml::MlError::Input(m) => AttackError::Parameter(m),
        other => other.into(),
    })?;
    Ok(())
}

/// The adaptive strategy's gradient bandit (Sutton & Barto, 2.8) over clusters of the pool.
struct Bandit {
    /// Pool rows per arm not yet queried (shuffled; drawn from the back).
    remaining: Vec<Vec<usize>>,
    /// Preferences.
    h: Vec<f64>,
    /// The arm of each pool row.
    arm_of: Vec<usize>,
    lr: f64,
    /// Mean reward so far (the baseline) and rewards seen.
    baseline: f64,
    seen: usize,
    /// Recent answers, for the diversity reward.
    recent: std::collections::VecDeque<Vec<f32>>,
    /// Running scale of the loss reward.
    classes: usize,
}

/// Answers the diversity reward compares with.
const DIVERSITY_WINDOW: usize = 25;

impl Bandit {
    fn new(pool: &Tensor, attack: &Knockoff, classes: usize, rng: &mut Rng) -> Result<Self> {
        let rows = pool.flatten_from(1)?.to_dtype(DType::F32)?;
        let (n, d) = rows.dims2()?;
        let arms = if attack.arms == 0 {
            classes
        } else {
            attack.arms
        }
        .min(n)
        .max(1);
        let data = rows.flatten_all()?.to_vec1::<f32>()?;
        let km = kmeans(
            &Matrix::from_f32(n, d, &data)?,
            &KMeansConfig {
                clusters: arms,
                restarts: 3,
                max_iter: 100,
                seed: attack.seed,
                ..KMeansConfig::default()
            },
        )?;
        let mut remaining = vec![Vec::new(); arms];
        for (i, &a) in km.assignment.iter().enumerate() {
            remaining[a].push(i);
        }
        for r in &mut remaining {
            rng.shuffle(r);
        }
        Ok(Self {
            remaining,
            h: vec![0.0; arms],
            arm_of: km.assignment,
            lr: attack.bandit_lr,
            baseline: 0.0,
            seen: 0,
            recent: std::collections::VecDeque::new(),
            classes,
        })
    }

    fn policy(&self) -> Vec<f64> {
        let live: Vec<bool> = self.remaining.iter().map(|r| !r.is_empty()).collect();
        let max = self
            .h
            .iter()
            .zip(&live)
            .filter(|(_, l)| **l)
            .map(|(h, _)| *h)
            .fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = self
            .h
            .iter()
            .zip(&live)
            .map(|(h, l)| if *l { (h - max).exp() } else { 0.0 })
            .collect();
        let s: f64 = e.iter().sum();
        if s > 0.0 {
            e.iter().map(|v| v / s).collect()
        } else {
            vec![0.0; e.len()]
        }
    }

    /// Draws up to `n` pool rows, each from an arm sampled from the policy.
    fn draw(&mut self, n: usize, rng: &mut Rng) -> Vec<usize> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let pi = self.policy();
            let u = rng.uniform();
            let mut acc = 0.0;
            let mut arm = None;
            for (a, p) in pi.iter().enumerate() {
                acc += p;
                if *p > 0.0 && (u < acc || arm.is_none()) {
                    arm = Some(a);
                    if u < acc {
                        break;
                    }
                }
            }
            let Some(arm) = arm else { break };
            if let Some(row) = self.remaining[arm].pop() {
                out.push(row);
            }
        }
        out
    }

    /// Rewards the arms of `rows` with what their answers `ans` showed.
    fn reward(
        &mut self,
        rows: &[usize],
        ans: &[Vec<f32>],
        surrogate: &Network,
        x: &Tensor,
        kind: Reward,
    ) -> Result<()> {
        let predicted = ops::softmax(&surrogate.logits(&x.to_dtype(surrogate.dtype())?)?)?
            .to_dtype(DType::F32)?
            .to_vec2::<f32>()?;
        for ((&row, a), q) in rows.iter().zip(ans).zip(&predicted) {
            let mut sorted = a.clone();
            sorted.sort_by(|x, y| y.total_cmp(x));
            let certainty = f64::from(sorted[0] - sorted.get(1).copied().unwrap_or(0.0));
            let diversity = if self.recent.is_empty() {
                1.0
            } else {
                let m = self.recent.len() as f32;
                (0..a.len())
                    .map(|c| {
                        let mean: f32 = self.recent.iter().map(|r| r[c]).sum::<f32>() / m;
                        f64::from((a[c] - mean).max(0.0))
                    })
                    .sum::<f64>()
            };
            let loss = -a
                .iter()
                .zip(q)
                .map(|(t, p)| f64::from(*t) * f64::from(p.max(1e-12)).ln())
                .sum::<f64>()
                / (self.classes as f64).ln().max(1.0);
            let r = match kind {
                Reward::Certainty => certainty,
                Reward::Diversity => diversity,
                Reward::Loss => loss,
                Reward::All => certainty + diversity + loss.min(1.0),
            };
            self.recent.push_back(a.clone());
            if self.recent.len() > DIVERSITY_WINDOW {
                self.recent.pop_front();
            }
            let advantage = r - self.baseline;
            self.seen += 1;
            self.baseline += (r - self.baseline) / self.seen as f64;
            let arm = self.arm_of[row];
            let pi = self.policy();
            for (b, h) in self.h.iter_mut().enumerate() {
                if b == arm {
                    *h += self.lr * advantage * (1.0 - pi[b]);
                } else {
                    *h -= self.lr * advantage * pi[b];
                }
            }
        }
        Ok(())
    }
}
