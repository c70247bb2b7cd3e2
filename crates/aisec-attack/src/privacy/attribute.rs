//! Attribute inference (black-box): recover a record's sensitive column from the model's answer
//! on that record and the record's other columns, through [`Classifier::predict`] only.
//!
//! The threat model: the attacker holds, for each target record, every column but the sensitive
//! one, the model's output on the record (observed, e.g. a score a service returned), and in one
//! variant the record's true label. It also holds a share of complete records (its own training
//! data). Two attacks:
//!
//! - `learned` (the idea of ART's `AttributeInferenceBlackBox`): a small network trained on the
//!   complete records to predict the sensitive value from the known columns and the model's
//!   probability vector (and the label when known);
//! - `fredrikson` (Fredrikson et al. 2014): for each value the column can take, query the model
//!   with the record completed by it, and keep the value that makes the record's label most
//!   likely, weighted by the value's frequency among the attacker's records.
//!
//! Whatever an attack gets right might come from the other columns alone, so every column is
//! also attacked by a baseline: the same learner on the known columns (and label) without the
//! model's outputs. The leakage is the gap between the two, on training records (members) and on
//! records the model never saw (non-members). Continuous columns are cut into quantile bins of
//! the attacker's records (two bins: above or below the median); a column with few distinct
//! values is categorical, and its domain (not its values per record) is assumed known.

use std::time::Instant;

use aisec_ml::candle::Tensor;
use aisec_ml::train::{TrainConfig, train};
use aisec_ml::{Architecture, Classifier, DType, Device, LayerSpec, Network, Rng};
use serde::{Deserialize, Serialize};

use crate::error::{AttackError, Result};

/// Most rows in each of the train and test sets.
pub const MAX_ROWS: usize = 200_000;
/// Most values in one row.
pub const MAX_FEATURES: usize = 4096;
/// Most values (rows times features) held at once.
pub const MAX_CELLS: usize = 50_000_000;
/// Most quantile bins of a continuous column.
pub const MAX_BINS: usize = 16;
/// Most categories of a categorical column.
pub const MAX_CATEGORIES: usize = 64;
/// Most columns attacked in one run.
pub const MAX_COLUMNS: usize = 512;
/// Most epochs of the attack learner.
pub const MAX_EPOCHS: usize = 2000;
/// Most hidden units of the attack learner.
pub const MAX_HIDDEN: usize = 1024;
/// Rows per `predict` call.
const BATCH: usize = 1024;
/// Smallest accuracy gain reported as leakage, whatever the sample size.
pub const MIN_ADVANTAGE: f64 = 0.02;

/// How the sensitive column is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ColumnKind {
    /// Categorical when the column has at most `max_categories` distinct values, else continuous.
    Auto,
    /// Cut into quantile bins of the attacker's records.
    Continuous,
    /// Each distinct value is a class.
    Categorical,
}

/// An attack on the sensitive column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttributeMethod {
    /// A network trained on the attacker's complete records: known columns and the model's
    /// probabilities (and the label when known) to the sensitive value.
    Learned,
    /// Query the model with each candidate value and keep the one that makes the label most
    /// likely (the true label when known, else the label the model gave the record).
    Fredrikson,
}

impl AttributeMethod {
    /// The method's name in reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Learned => "learned",
            Self::Fredrikson => "fredrikson",
        }
    }
}

/// Where the attacker's complete records come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttackerSource {
    /// A share of the training rows (as ART's examples do): the attacker's own records in the
    /// training set. The other training rows are the member targets.
    Members,
    /// A share of the test rows: records from the same population the model never saw. The other
    /// test rows are the non-member targets.
    NonMembers,
}

/// The attack model (and the baseline, which is the same learner without the model's outputs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Learner {
    /// Hidden ReLU units (0: multinomial logistic regression).
    pub hidden: usize,
    /// Passes over the attacker's records.
    pub epochs: usize,
    /// Adam's step size.
    pub learning_rate: f64,
    /// L2 penalty.
    pub weight_decay: f64,
}

impl Default for Learner {
    fn default() -> Self {
        Self {
            hidden: 32,
            epochs: 100,
            learning_rate: 0.01,
            weight_decay: 1e-3,
        }
    }
}

/// What to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttributePlan {
    /// The sensitive columns (indices into a flattened row); empty: every column (the first
    /// [`MAX_COLUMNS`] of a wider row).
    pub columns: Vec<usize>,
    /// Column names for reports (one per feature), when the data has them.
    pub column_names: Option<Vec<String>>,
    /// How the columns are treated.
    pub kind: ColumnKind,
    /// Quantile bins of a continuous column (2: above or below the median).
    pub bins: usize,
    /// `Auto` treats a column with at most this many distinct values as categorical.
    pub max_categories: usize,
    /// Where the attacker's complete records come from.
    pub attacker_source: AttackerSource,
    /// The share of that set the attacker holds completely.
    pub attacker_fraction: f64,
    /// Whether the attacker knows each target record's true label.
    pub known_label: bool,
    /// The attacks.
    pub methods: Vec<AttributeMethod>,
    /// The attack learner.
    pub learner: Learner,
    /// Most target rows per group (members, non-members); a seeded sample beyond it.
    pub max_targets: usize,
    /// Most `predict` rows the run may send (the observed outputs and every candidate query).
    pub max_queries: u64,
    /// Seed of the split and the learners.
    pub seed: u64,
}

impl Default for AttributePlan {
    fn default() -> Self {
        Self {
            columns: Vec::new(),
            column_names: None,
            kind: ColumnKind::Auto,
            bins: 2,
            max_categories: 10,
            attacker_source: AttackerSource::Members,
            attacker_fraction: 0.5,
            known_label: true,
            methods: vec![AttributeMethod::Learned, AttributeMethod::Fredrikson],
            learner: Learner::default(),
            max_targets: 5000,
            max_queries: 2_000_000,
            seed: 0,
        }
    }
}

impl AttributePlan {
    /// Checks the plan's own bounds.
    pub fn validate(&self) -> Result<()> {
        if !(2..=MAX_BINS).contains(&self.bins) {
            return Err(AttackError::Parameter(format!(
                "bins {} must lie in [2, {MAX_BINS}]",
                self.bins
            )));
        }
        if !(2..=MAX_CATEGORIES).contains(&self.max_categories) {
            return Err(AttackError::Parameter(format!(
                "max categories {} must lie in [2, {MAX_CATEGORIES}]",
                self.max_categories
            )));
        }
        if !(self.attacker_fraction > 0.0 && self.attacker_fraction < 1.0) {
            return Err(AttackError::Parameter(format!(
                "attacker fraction {} must lie in (0, 1)",
                self.attacker_fraction
            )));
        }
        if self.methods.is_empty() {
            return Err(AttackError::Parameter(
                "no attribute-inference method".into(),
            ));
        }
        if self.columns.len() > MAX_COLUMNS {
            return Err(AttackError::TooLarge {
                what: "sensitive columns",
                got: self.columns.len(),
                max: MAX_COLUMNS,
            });
        }
        let l = &self.learner;
        if l.epochs == 0 || l.epochs > MAX_EPOCHS {
            return Err(AttackError::Parameter(format!(
                "learner epochs {} must lie in [1, {MAX_EPOCHS}]",
                l.epochs
            )));
        }
        if l.hidden > MAX_HIDDEN {
            return Err(AttackError::TooLarge {
                what: "learner hidden units",
                got: l.hidden,
                max: MAX_HIDDEN,
            });
        }
        let rate_ok = l.learning_rate.is_finite() && l.learning_rate > 0.0;
        let decay_ok = l.weight_decay.is_finite() && l.weight_decay >= 0.0;
        if !(rate_ok && decay_ok) {
            return Err(AttackError::Parameter(
                "learner learning rate must be positive and weight decay non-negative".into(),
            ));
        }
        if self.max_targets == 0 {
            return Err(AttackError::Parameter(
                "max targets must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// Accuracy of one attacker on one group of target rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Score {
    /// Rows judged.
    pub rows: usize,
    /// Share of rows whose sensitive value (bin or category) was guessed right.
    pub accuracy: f64,
    /// Mean over the true values present of the share guessed right (chance: 1 / values).
    pub balanced_accuracy: f64,
}

/// One attacker on both groups.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    /// Training rows of the model.
    pub members: Score,
    /// Rows the model never saw.
    pub non_members: Score,
}

/// One attack on one column.
#[derive(Debug, Clone, Serialize)]
pub struct MethodOutcome {
    /// The attack.
    pub method: AttributeMethod,
    /// Its accuracy.
    pub scores: Scores,
    /// Accuracy minus the baseline's, on members.
    pub advantage_members: f64,
    /// Accuracy minus the baseline's, on non-members.
    pub advantage_non_members: f64,
    /// Whether either advantage is above [`MIN_ADVANTAGE`] and two standard errors.
    pub leaks: bool,
    /// Whether the advantage on members exceeds the one on non-members by more than
    /// [`MIN_ADVANTAGE`] and two standard errors: the outputs say more about training records.
    pub member_excess: bool,
    /// `predict` rows this attack sent beyond the observed outputs.
    pub queries: u64,
    /// Wall time.
    pub seconds: f64,
}

/// Everything measured on one sensitive column.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnOutcome {
    /// The column's index in a flattened row.
    pub column: usize,
    /// Its name, or `column N`.
    pub name: String,
    /// How it was treated (`continuous` or `categorical`).
    pub kind: ColumnKind,
    /// The values the attacker guesses among (bins as intervals, or categories).
    pub values: Vec<String>,
    /// Guessing the attacker's most common value.
    pub majority: Scores,
    /// The learner on the known columns (and label) without the model's outputs.
    pub baseline: Scores,
    /// The attacks.
    pub methods: Vec<MethodOutcome>,
}

impl ColumnOutcome {
    /// The attack with the largest advantage (on members, then non-members).
    #[must_use]
    pub fn best(&self) -> Option<&MethodOutcome> {
        self.methods.iter().max_by(|a, b| {
            a.advantage_members
                .max(a.advantage_non_members)
                .total_cmp(&b.advantage_members.max(b.advantage_non_members))
        })
    }
}

/// A column the run did not attack, and why.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedColumn {
    /// The column.
    pub column: usize,
    /// Why.
    pub reason: String,
}

/// Everything one attribute-inference run measured.
#[derive(Debug, Clone, Serialize)]
pub struct AttributeRun {
    /// The model's name.
    pub model: String,
    /// Values per row.
    pub features: usize,
    /// The model's classes.
    pub classes: usize,
    /// Where the attacker's complete records came from.
    pub attacker_source: AttackerSource,
    /// Complete records the attacker held.
    pub attacker_rows: usize,
    /// Member target rows.
    pub member_rows: usize,
    /// Non-member target rows.
    pub non_member_rows: usize,
    /// Whether the attacker knew the targets' labels.
    pub known_label: bool,
    /// One outcome per attacked column.
    pub columns: Vec<ColumnOutcome>,
    /// Columns left out.
    pub skipped: Vec<SkippedColumn>,
    /// `predict` rows sent in all.
    pub queries: u64,
    /// Wall time.
    pub seconds: f64,
}

impl AttributeRun {
    /// The columns where an attack beats the baseline.
    pub fn leaking(&self) -> impl Iterator<Item = &ColumnOutcome> {
        self.columns
            .iter()
            .filter(|c| c.methods.iter().any(|m| m.leaks))
    }
}

/// A group of rows: values (row-major, `features` per row), labels and the model's outputs.
struct Rows {
    values: Vec<f32>,
    labels: Vec<u32>,
    outputs: Vec<f32>,
}

impl Rows {
    fn len(&self) -> usize {
        self.labels.len()
    }
}

fn rows_of(x: &Tensor, labels: &[u32], what: &'static str) -> Result<(Vec<f32>, usize)> {
    let n = x.dim(0)?;
    if n != labels.len() {
        return Err(AttackError::Parameter(format!(
            "{what}: {n} rows and {} labels",
            labels.len()
        )));
    }
    if n > MAX_ROWS {
        return Err(AttackError::TooLarge {
            what,
            got: n,
            max: MAX_ROWS,
        });
    }
    let flat = x.flatten_from(1)?.to_dtype(DType::F32)?;
    let d = flat.dim(1)?;
    if n.saturating_mul(d) > MAX_CELLS {
        return Err(AttackError::TooLarge {
            what: "rows times features",
            got: n.saturating_mul(d),
            max: MAX_CELLS,
        });
    }
    let values = flat.flatten_all()?.to_vec1::<f32>()?;
    if values.iter().any(|v| !v.is_finite()) {
        return Err(AttackError::NonFinite { what });
    }
    Ok((values, d))
}

fn gather(values: &[f32], labels: &[u32], d: usize, idx: &[usize]) -> (Vec<f32>, Vec<u32>) {
    let mut v = Vec::with_capacity(idx.len() * d);
    for &i in idx {
        v.extend_from_slice(&values[i * d..(i + 1) * d]);
    }
    (v, idx.iter().map(|&i| labels[i]).collect())
}

/// The model's probabilities for `values` (`d` per row), batched. Counts every row.
fn outputs(model: &dyn Classifier, values: &[f32], d: usize) -> Result<Vec<f32>> {
    let shape = model.info().input_shape.clone();
    let k = model.info().num_classes;
    let n = values.len() / d;
    let mut out = Vec::with_capacity(n * k);
    for start in (0..n).step_by(BATCH) {
        let end = (start + BATCH).min(n);
        let mut dims = vec![end - start];
        dims.extend(&shape);
        let x = Tensor::from_slice(&values[start * d..end * d], dims, &Device::Cpu)?;
        let p = model.predict(&x)?.to_dtype(DType::F32)?;
        let (rows, cols) = p.dims2()?;
        if rows != end - start || cols != k {
            return Err(AttackError::Parameter(format!(
                "the model answered [{rows}, {cols}] for {} rows of {k} classes",
                end - start
            )));
        }
        out.extend(p.flatten_all()?.to_vec1::<f32>()?);
    }
    Ok(out)
}

/// How a column's values map to the classes the attacker guesses among.
#[derive(Debug, Clone)]
struct Encoding {
    kind: ColumnKind,
    /// Continuous: ascending interior bin edges; a value's bin is the number of edges at or
    /// below it.
    edges: Vec<f32>,
    /// Categorical: the sorted distinct values.
    categories: Vec<f32>,
    /// Per class, the value the Fredrikson attack completes a row with.
    representatives: Vec<f32>,
}

impl Encoding {
    fn classes(&self) -> usize {
        self.representatives.len()
    }

    fn class_of(&self, v: f32) -> u32 {
        match self.kind {
            ColumnKind::Categorical => {
                self.categories
                    .binary_search_by(|c| c.total_cmp(&v))
                    .unwrap_or_else(|i| i.min(self.categories.len() - 1)) as u32
            }
            _ => self.edges.partition_point(|e| *e <= v) as u32,
        }
    }

    fn describe(&self) -> Vec<String> {
        match self.kind {
            ColumnKind::Categorical => self.categories.iter().map(|c| format!("{c}")).collect(),
            _ => {
                let n = self.edges.len();
                (0..=n)
                    .map(|i| match i {
                        0 => format!("< {:.4}", self.edges[0]),
                        i if i == n => format!(">= {:.4}", self.edges[n - 1]),
                        i => format!("[{:.4}, {:.4})", self.edges[i - 1], self.edges[i]),
                    })
                    .collect()
            }
        }
    }

    /// The encoding of a column whose values over every row are `all` and over the attacker's
    /// rows `known`; `Err(reason)` when the column cannot be attacked.
    fn new(
        all: &[f32],
        known: &[f32],
        kind: ColumnKind,
        bins: usize,
        max_categories: usize,
    ) -> std::result::Result<Self, String> {
        let mut distinct = all.to_vec();
        distinct.sort_by(f32::total_cmp);
        distinct.dedup();
        if distinct.len() < 2 {
            return Err("the column is constant".into());
        }
        let categorical = match kind {
            ColumnKind::Categorical => {
                if distinct.len() > MAX_CATEGORIES {
                    return Err(format!(
                        "{} distinct values, above the bound of {MAX_CATEGORIES} categories",
                        distinct.len()
                    ));
                }
                true
            }
            ColumnKind::Continuous => false,
            ColumnKind::Auto => distinct.len() <= max_categories,
        };
        if categorical {
            return Ok(Self {
                kind: ColumnKind::Categorical,
                edges: Vec::new(),
                representatives: distinct.clone(),
                categories: distinct,
            });
        }
        let mut sorted = known.to_vec();
        sorted.sort_by(f32::total_cmp);
        let n = sorted.len();
        let mut edges: Vec<f32> = (1..bins)
            .map(|k| sorted[(k * n / bins).min(n - 1)])
            .filter(|e| *e > sorted[0])
            .collect();
        edges.dedup();
        if edges.is_empty() {
            return Err("the attacker's records hold a single value of the column".into());
        }
        // Every bin holds at least its lower edge, so each has a median.
        let mut per_bin: Vec<Vec<f32>> = vec![Vec::new(); edges.len() + 1];
        for &v in &sorted {
            per_bin[edges.partition_point(|e| *e <= v)].push(v);
        }
        let representatives = per_bin.iter().map(|b| b[b.len() / 2]).collect();
        Ok(Self {
            kind: ColumnKind::Continuous,
            edges,
            categories: Vec::new(),
            representatives,
        })
    }
}

fn score(truth: &[u32], guess: &[u32], classes: usize) -> Score {
    let mut hit = vec![0usize; classes];
    let mut total = vec![0usize; classes];
    for (&t, &g) in truth.iter().zip(guess) {
        total[t as usize] += 1;
        if t == g {
            hit[t as usize] += 1;
        }
    }
    let present: Vec<f64> = total
        .iter()
        .zip(&hit)
        .filter(|(t, _)| **t > 0)
        .map(|(&t, &h)| h as f64 / t as f64)
        .collect();
    Score {
        rows: truth.len(),
        accuracy: hit.iter().sum::<usize>() as f64 / truth.len().max(1) as f64,
        balanced_accuracy: present.iter().sum::<f64>() / present.len().max(1) as f64,
    }
}

/// Whether accuracy `a` over `na` rows beats `b` over `nb` rows by more than [`MIN_ADVANTAGE`]
/// and two standard errors of the difference.
fn clearly_above(a: f64, na: usize, b: f64, nb: usize) -> bool {
    let se = (a * (1.0 - a) / na.max(1) as f64 + b * (1.0 - b) / nb.max(1) as f64).sqrt();
    a - b > MIN_ADVANTAGE.max(2.0 * se)
}

/// Whether the attack's gain over the baseline on members (`[attack, baseline]`) exceeds its
/// gain on non-members by more than [`MIN_ADVANTAGE`] and two standard errors.
fn excess_is_clear(members: [Score; 2], non_members: [Score; 2]) -> bool {
    let var = |s: Score| s.accuracy * (1.0 - s.accuracy) / s.rows.max(1) as f64;
    let gain = |[a, b]: [Score; 2]| a.accuracy - b.accuracy;
    let se = members
        .iter()
        .chain(&non_members)
        .map(|&s| var(s))
        .sum::<f64>()
        .sqrt();
    gain(members) - gain(non_members) > MIN_ADVANTAGE.max(2.0 * se)
}

/// The attack features of every row of `rows`: the known columns, then (`with_outputs`) the
/// model's probabilities, then (`with_label`) the one-hot label.
fn features(
    rows: &Rows,
    d: usize,
    k: usize,
    column: usize,
    with_outputs: bool,
    with_label: bool,
) -> (Vec<f32>, usize) {
    let width = d - 1 + if with_outputs { k } else { 0 } + if with_label { k } else { 0 };
    let mut out = Vec::with_capacity(rows.len() * width);
    for r in 0..rows.len() {
        let row = &rows.values[r * d..(r + 1) * d];
        out.extend_from_slice(&row[..column]);
        out.extend_from_slice(&row[column + 1..]);
        if with_outputs {
            out.extend_from_slice(&rows.outputs[r * k..(r + 1) * k]);
        }
        if with_label {
            let start = out.len();
            out.resize(start + k, 0.0);
            out[start + rows.labels[r] as usize] = 1.0;
        }
    }
    (out, width)
}

/// Per-feature mean and spread of the attacker's features.
fn standardiser(train: &[f32], width: usize) -> Vec<(f32, f32)> {
    let n = (train.len() / width).max(1);
    (0..width)
        .map(|j| {
            let mean = (0..n).map(|i| f64::from(train[i * width + j])).sum::<f64>() / n as f64;
            let var = (0..n)
                .map(|i| (f64::from(train[i * width + j]) - mean).powi(2))
                .sum::<f64>()
                / n as f64;
            (mean as f32, (var.sqrt() as f32).max(1e-6))
        })
        .collect()
}

fn standardise(values: &[f32], stats: &[(f32, f32)]) -> Vec<f32> {
    let width = stats.len();
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let (m, s) = stats[i % width];
            (v - m) / s
        })
        .collect()
}

/// Trains the attack learner on `x` (`width` per row) to predict `y` among `classes`, and
/// returns its guesses for each of `targets`.
fn learn_and_guess(
    learner: &Learner,
    seed: u64,
    (x, width): (&[f32], usize),
    y: &[u32],
    classes: usize,
    targets: &[&[f32]],
) -> Result<Vec<Vec<u32>>> {
    let stats = standardiser(x, width);
    let mut layers = Vec::new();
    if learner.hidden > 0 {
        layers.extend([
            LayerSpec::Linear {
                in_features: width,
                out_features: learner.hidden,
                bias: true,
            },
            LayerSpec::Relu,
            LayerSpec::Linear {
                in_features: learner.hidden,
                out_features: classes,
                bias: true,
            },
        ]);
    } else {
        layers.push(LayerSpec::Linear {
            in_features: width,
            out_features: classes,
            bias: true,
        });
    }
    let arch = Architecture::new(vec![width], classes, layers);
    let mut net = Network::init(arch, seed)?;
    let config = TrainConfig {
        learning_rate: learner.learning_rate,
        weight_decay: learner.weight_decay,
        epochs: learner.epochs,
        batch_size: 32,
        seed,
        patience: None,
        validation_fraction: 0.0,
        ..TrainConfig::default()
    };
    let train_x = Tensor::from_vec(standardise(x, &stats), (y.len(), width), &Device::Cpu)?;
    train(&mut net, &train_x, y, &config, None)?;
    targets
        .iter()
        .map(|t| {
            let n = t.len() / width;
            if n == 0 {
                return Ok(Vec::new());
            }
            let tx = Tensor::from_vec(standardise(t, &stats), (n, width), &Device::Cpu)?;
            Ok(net.logits(&tx)?.argmax(1)?.to_vec1::<u32>()?)
        })
        .collect()
}

/// The Fredrikson guesses for `rows`: per row, the candidate value maximising the probability of
/// its label (true or predicted) times the value's prior.
fn fredrikson(
    model: &dyn Classifier,
    rows: &Rows,
    d: usize,
    column: usize,
    encoding: &Encoding,
    prior: &[f64],
    known_label: bool,
) -> Result<Vec<u32>> {
    let k = model.info().num_classes;
    let c = encoding.classes();
    let per_batch = (BATCH / c).max(1);
    let mut guesses = Vec::with_capacity(rows.len());
    for start in (0..rows.len()).step_by(per_batch) {
        let end = (start + per_batch).min(rows.len());
        let mut batch = Vec::with_capacity((end - start) * c * d);
        for r in start..end {
            for &v in &encoding.representatives {
                let at = batch.len();
                batch.extend_from_slice(&rows.values[r * d..(r + 1) * d]);
                batch[at + column] = v;
            }
        }
        let p = outputs(model, &batch, d)?;
        for (i, r) in (start..end).enumerate() {
            let label = if known_label {
                rows.labels[r] as usize
            } else {
                argmax(&rows.outputs[r * k..(r + 1) * k])
            };
            let best = (0..c)
                .map(|j| {
                    let row = &p[(i * c + j) * k..(i * c + j + 1) * k];
                    log_probability(row, label) + prior[j].ln()
                })
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map_or(0, |(j, _)| j);
            guesses.push(best as u32);
        }
    }
    Ok(guesses)
}

/// `ln p[label]`, through the other classes' mass when `p[label]` is near 1, where f32 rounds
/// confident answers to exactly 1 but their complements keep their precision.
fn log_probability(p: &[f32], label: usize) -> f64 {
    let own = f64::from(p[label]);
    if own > 0.5 {
        let rest: f64 = p
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != label)
            .map(|(_, v)| f64::from(*v))
            .sum();
        (-rest.min(0.5)).ln_1p()
    } else {
        own.max(f64::MIN_POSITIVE).ln()
    }
}

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

/// Seeded sample of at most `max` of `idx`, in ascending order.
fn cap(mut idx: Vec<usize>, max: usize, rng: &mut Rng) -> Vec<usize> {
    if idx.len() > max {
        rng.shuffle(&mut idx);
        idx.truncate(max);
        idx.sort_unstable();
    }
    idx
}

/// Runs attribute inference against `model` for every column of the plan. `train_set` holds the
/// model's training rows (members), `test_set` rows it never saw; both with their true labels.
#[allow(clippy::too_many_lines)]
pub fn run_attribute(
    model: &dyn Classifier,
    train_set: (&Tensor, &[u32]),
    test_set: (&Tensor, &[u32]),
    plan: &AttributePlan,
    progress: &mut dyn FnMut(&str),
) -> Result<AttributeRun> {
    let started = Instant::now();
    plan.validate()?;
    let info = model.info().clone();
    let k = info.num_classes;
    let (train_values, d) = rows_of(train_set.0, train_set.1, "training rows")?;
    let (test_values, d_test) = rows_of(test_set.0, test_set.1, "test rows")?;
    if d != info.sample_len() || d_test != d {
        return Err(AttackError::Parameter(format!(
            "the rows hold {d} and {d_test} values, the model takes {}",
            info.sample_len()
        )));
    }
    if !(2..=MAX_FEATURES).contains(&d) {
        return Err(AttackError::Parameter(format!(
            "attribute inference needs 2 to {MAX_FEATURES} values per row, not {d}"
        )));
    }
    if let Some(bad) = train_set
        .1
        .iter()
        .chain(test_set.1)
        .find(|&&l| l as usize >= k)
    {
        return Err(AttackError::Parameter(format!(
            "label {bad} is outside the model's {k} classes"
        )));
    }
    let columns: Vec<usize> = if plan.columns.is_empty() {
        (0..d.min(MAX_COLUMNS)).collect()
    } else {
        plan.columns.clone()
    };
    if let Some(bad) = columns.iter().find(|&&c| c >= d) {
        return Err(AttackError::Parameter(format!(
            "column {bad} is outside the {d} values of a row"
        )));
    }

    // The split: the attacker's complete records, member targets and non-member targets.
    let mut rng = Rng::new(plan.seed ^ 0x6174_7472);
    let (n_train, n_test) = (train_set.1.len(), test_set.1.len());
    let source_len = match plan.attacker_source {
        AttackerSource::Members => n_train,
        AttackerSource::NonMembers => n_test,
    };
    let mut source: Vec<usize> = (0..source_len).collect();
    rng.shuffle(&mut source);
    let take = ((source_len as f64 * plan.attacker_fraction).round() as usize).min(source_len);
    let (attacker_idx, rest) = source.split_at(take);
    let mut attacker_idx = attacker_idx.to_vec();
    attacker_idx.sort_unstable();
    let mut rest = rest.to_vec();
    rest.sort_unstable();
    let (member_idx, non_member_idx) = match plan.attacker_source {
        AttackerSource::Members => (rest, (0..n_test).collect()),
        AttackerSource::NonMembers => ((0..n_train).collect(), rest),
    };
    let member_idx = cap(member_idx, plan.max_targets, &mut rng);
    let non_member_idx = cap(non_member_idx, plan.max_targets, &mut rng);
    if attacker_idx.len() < 4 || member_idx.is_empty() || non_member_idx.is_empty() {
        return Err(AttackError::Parameter(format!(
            "too few rows: {} attacker records (need 4), {} member and {} non-member targets",
            attacker_idx.len(),
            member_idx.len(),
            non_member_idx.len()
        )));
    }
    let (attacker_src, attacker_labels_src) = match plan.attacker_source {
        AttackerSource::Members => (&train_values, train_set.1),
        AttackerSource::NonMembers => (&test_values, test_set.1),
    };
    let observed = (attacker_idx.len() + member_idx.len() + non_member_idx.len()) as u64;
    if observed > plan.max_queries {
        return Err(AttackError::TooLarge {
            what: "queries for the observed outputs",
            got: usize::try_from(observed).unwrap_or(usize::MAX),
            max: usize::try_from(plan.max_queries).unwrap_or(usize::MAX),
        });
    }
    let before = model.queries().predictions;
    progress(&format!(
        "querying the model on {observed} records ({} attacker, {} member, {} non-member)",
        attacker_idx.len(),
        member_idx.len(),
        non_member_idx.len()
    ));
    let make = |values: &[f32], labels: &[u32], idx: &[usize]| -> Result<Rows> {
        let (values, labels) = gather(values, labels, d, idx);
        let outputs = outputs(model, &values, d)?;
        Ok(Rows {
            values,
            labels,
            outputs,
        })
    };
    let attacker = make(attacker_src, attacker_labels_src, &attacker_idx)?;
    let members = make(&train_values, train_set.1, &member_idx)?;
    let non_members = make(&test_values, test_set.1, &non_member_idx)?;
    let mut sent = observed;

    let mut outcomes = Vec::with_capacity(columns.len());
    let mut skipped = Vec::new();
    for (ci, &column) in columns.iter().enumerate() {
        let name = plan
            .column_names
            .as_ref()
            .and_then(|n| n.get(column))
            .cloned()
            .unwrap_or_else(|| format!("column {column}"));
        let pick = |rows: &Rows| -> Vec<f32> {
            (0..rows.len())
                .map(|r| rows.values[r * d + column])
                .collect()
        };
        let known = pick(&attacker);
        let mut all = known.clone();
        all.extend(pick(&members));
        all.extend(pick(&non_members));
        let encoding = match Encoding::new(&all, &known, plan.kind, plan.bins, plan.max_categories)
        {
            Ok(e) => e,
            Err(reason) => {
                skipped.push(SkippedColumn { column, reason });
                continue;
            }
        };
        let c = encoding.classes();
        let truth = |rows: &Rows| -> Vec<u32> {
            pick(rows).iter().map(|&v| encoding.class_of(v)).collect()
        };
        let (y_att, y_mem, y_non) = (truth(&attacker), truth(&members), truth(&non_members));
        let judge = |guess_m: &[u32], guess_n: &[u32]| Scores {
            members: score(&y_mem, guess_m, c),
            non_members: score(&y_non, guess_n, c),
        };
        let mut counts = vec![0usize; c];
        for &y in &y_att {
            counts[y as usize] += 1;
        }
        let majority_class = argmax(&counts.iter().map(|&n| n as f32).collect::<Vec<_>>()) as u32;
        let majority = judge(
            &vec![majority_class; y_mem.len()],
            &vec![majority_class; y_non.len()],
        );
        let seed = plan.seed.wrapping_add(column as u64);
        progress(&format!(
            "column {} ({}/{}): {} values; baseline learner",
            name,
            ci + 1,
            columns.len(),
            c
        ));
        let (bx, bw) = features(&attacker, d, k, column, false, plan.known_label);
        let (bm, _) = features(&members, d, k, column, false, plan.known_label);
        let (bn, _) = features(&non_members, d, k, column, false, plan.known_label);
        let guesses = learn_and_guess(&plan.learner, seed, (&bx, bw), &y_att, c, &[&bm, &bn])?;
        let baseline = judge(&guesses[0], &guesses[1]);

        let mut methods = Vec::with_capacity(plan.methods.len());
        for &method in &plan.methods {
            let t = Instant::now();
            let q0 = model.queries().predictions;
            let scores = match method {
                AttributeMethod::Learned => {
                    let (ax, aw) = features(&attacker, d, k, column, true, plan.known_label);
                    let (am, _) = features(&members, d, k, column, true, plan.known_label);
                    let (an, _) = features(&non_members, d, k, column, true, plan.known_label);
                    let g =
                        learn_and_guess(&plan.learner, seed, (&ax, aw), &y_att, c, &[&am, &an])?;
                    judge(&g[0], &g[1])
                }
                AttributeMethod::Fredrikson => {
                    let need = ((members.len() + non_members.len()) * c) as u64;
                    if sent + need > plan.max_queries {
                        return Err(AttackError::TooLarge {
                            what: "queries",
                            got: usize::try_from(sent + need).unwrap_or(usize::MAX),
                            max: usize::try_from(plan.max_queries).unwrap_or(usize::MAX),
                        });
                    }
                    sent += need;
                    // Laplace-smoothed frequencies of the attacker's records.
                    let prior: Vec<f64> = counts
                        .iter()
                        .map(|&n| (n as f64 + 1.0) / (y_att.len() + c) as f64)
                        .collect();
                    let gm = fredrikson(
                        model,
                        &members,
                        d,
                        column,
                        &encoding,
                        &prior,
                        plan.known_label,
                    )?;
                    let gn = fredrikson(
                        model,
                        &non_members,
                        d,
                        column,
                        &encoding,
                        &prior,
                        plan.known_label,
                    )?;
                    judge(&gm, &gn)
                }
            };
            let (m, n) = (scores.members, scores.non_members);
            let (bm, bn) = (baseline.members, baseline.non_members);
            let leaks = clearly_above(m.accuracy, m.rows, bm.accuracy, bm.rows)
                || clearly_above(n.accuracy, n.rows, bn.accuracy, bn.rows);
            let advantage_members = m.accuracy - bm.accuracy;
            let advantage_non_members = n.accuracy - bn.accuracy;
            let member_excess = leaks && excess_is_clear([m, bm], [n, bn]);
            methods.push(MethodOutcome {
                method,
                scores,
                advantage_members,
                advantage_non_members,
                leaks,
                member_excess,
                queries: model.queries().predictions.saturating_sub(q0),
                seconds: t.elapsed().as_secs_f64(),
            });
        }
        outcomes.push(ColumnOutcome {
            column,
            name,
            kind: encoding.kind,
            values: encoding.describe(),
            majority,
            baseline,
            methods,
        });
    }
    Ok(AttributeRun {
        model: info.name.clone(),
        features: d,
        classes: k,
        attacker_source: plan.attacker_source,
        attacker_rows: attacker.len(),
        member_rows: members.len(),
        non_member_rows: non_members.len(),
        known_label: plan.known_label,
        columns: outcomes,
        skipped,
        queries: model.queries().predictions.saturating_sub(before),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The severity of an attribute leak from the attack's accuracy gain over the baseline.
#[must_use]
pub fn leak_severity(advantage: f64) -> aisec_core::Severity {
    use aisec_core::Severity;
    if advantage >= 0.20 {
        Severity::High
    } else if advantage >= 0.10 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// The findings of a run: AT150 per column an attack infers better than the baseline, AT151
/// (info) when none does, AT152 per column where the attack works better on training records.
#[must_use]
pub fn findings(run: &AttributeRun) -> Vec<aisec_core::Finding> {
    use crate::rules::finding;
    use aisec_core::{Confidence, Location, Severity};
    let location = Location::file(run.model.clone());
    let mut out = Vec::new();
    let setting = serde_json::json!({
        "attacker_source": run.attacker_source,
        "attacker_rows": run.attacker_rows,
        "member_rows": run.member_rows,
        "non_member_rows": run.non_member_rows,
        "known_label": run.known_label,
        "queries": run.queries,
    });
    for col in run.leaking() {
        let Some(best) = col.best() else { continue };
        let advantage = best.advantage_members.max(best.advantage_non_members);
        let evidence = serde_json::json!({
            "setting": setting,
            "column": col,
        });
        out.push(finding(
            "AT150",
            leak_severity(advantage),
            Confidence::Likely,
            &location,
            &format!("{}:{}", col.column, best.method.name()),
            format!(
                "From the model's outputs, the {} attack guesses {} ({} values) right on {:.1}% of training records and {:.1}% of unseen records, against {:.1}% and {:.1}% for a baseline without the model's outputs ({:+.1} points).",
                best.method.name(),
                col.name,
                col.values.len(),
                best.scores.members.accuracy * 100.0,
                best.scores.non_members.accuracy * 100.0,
                col.baseline.members.accuracy * 100.0,
                col.baseline.non_members.accuracy * 100.0,
                advantage * 100.0
            ),
            evidence.clone(),
        ));
        if let Some(m) = col.methods.iter().find(|m| m.member_excess) {
            out.push(finding(
                "AT152",
                Severity::Medium,
                Confidence::Likely,
                &location,
                &format!("{}:{}", col.column, m.method.name()),
                format!(
                    "The {} attack on {} gains {:+.1} points over the baseline on training records but {:+.1} on unseen records: the model's outputs reveal more about the records it was trained on.",
                    m.method.name(),
                    col.name,
                    m.advantage_members * 100.0,
                    m.advantage_non_members * 100.0
                ),
                evidence,
            ));
        }
    }
    if out.is_empty() && !run.columns.is_empty() {
        let table: Vec<serde_json::Value> = run
            .columns
            .iter()
            .map(|c| {
                serde_json::json!({
                    "column": c.column,
                    "name": c.name,
                    "baseline": c.baseline,
                    "methods": c.methods.iter().map(|m| serde_json::json!({
                        "method": m.method,
                        "scores": m.scores,
                        "advantage_members": m.advantage_members,
                        "advantage_non_members": m.advantage_non_members,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        out.push(finding(
            "AT151",
            Severity::Info,
            Confidence::Likely,
            &location,
            "attribute",
            format!(
                "No attack inferred any of the {} columns examined measurably better than a baseline without the model's outputs.",
                run.columns.len()
            ),
            serde_json::json!({ "setting": setting, "columns": table }),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{ColumnKind, Encoding, clearly_above, score};

    #[test]
    fn median_bins_split_the_attacker_records() {
        let known: Vec<f32> = (0..10).map(|i| i as f32).collect();
        let e = Encoding::new(&known, &known, ColumnKind::Auto, 2, 5).unwrap();
        assert_eq!(e.kind, ColumnKind::Continuous);
        assert_eq!(e.edges, vec![5.0]);
        assert_eq!(e.class_of(4.9), 0);
        assert_eq!(e.class_of(5.0), 1);
        assert_eq!(e.representatives, vec![2.0, 7.0]);
        let four = Encoding::new(&known, &known, ColumnKind::Continuous, 4, 5).unwrap();
        assert_eq!(four.classes(), 4);
        assert_eq!(four.describe().len(), 4);
    }

    #[test]
    fn few_values_are_categories_and_constants_are_refused() {
        let v = [0.0, 1.0, 1.0, 2.0, 0.0];
        let e = Encoding::new(&v, &v, ColumnKind::Auto, 2, 5).unwrap();
        assert_eq!(e.kind, ColumnKind::Categorical);
        assert_eq!(e.classes(), 3);
        assert_eq!(e.class_of(2.0), 2);
        assert!(Encoding::new(&[1.0; 4], &[1.0; 4], ColumnKind::Auto, 2, 5).is_err());
        // Ties at the bottom collapse bins rather than leave one empty.
        let tied = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0];
        let t = Encoding::new(&tied, &tied, ColumnKind::Continuous, 4, 2).unwrap();
        assert!(t.edges.iter().all(|e| *e > 0.0));
    }

    #[test]
    fn balanced_accuracy_weighs_classes_equally() {
        let s = score(&[0, 0, 0, 1], &[0, 0, 0, 0], 2);
        assert!((s.accuracy - 0.75).abs() < 1e-12);
        assert!((s.balanced_accuracy - 0.5).abs() < 1e-12);
        assert!(clearly_above(0.9, 200, 0.6, 200));
        assert!(!clearly_above(0.62, 50, 0.6, 50));
    }
}
