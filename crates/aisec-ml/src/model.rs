//! The two faces attacks see. [`Classifier`] is the black-box face: class probabilities for a
//! batch, every row counted as a query, and a budget that can stop the attack. [`WhiteBox`] adds
//! logits that candle can differentiate with respect to the input, for gradient attacks.

use std::sync::atomic::{AtomicU64, Ordering};

use candle_core::{DType, Tensor, Var};
use serde::Serialize;

use crate::error::{MlError, Result};
use crate::network::Network;
use crate::ops;

/// What every target tells about itself.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    /// A short name for reports (a path, a URL, a model kind).
    pub name: String,
    /// The shape of one sample.
    pub input_shape: Vec<usize>,
    /// Number of classes.
    pub num_classes: usize,
    /// The valid input range; attacks clip to it.
    pub input_range: [f32; 2],
    /// Optional class names.
    pub class_names: Option<Vec<String>>,
}

impl ModelInfo {
    /// Elements in one sample.
    #[must_use]
    pub fn sample_len(&self) -> usize {
        self.input_shape.iter().product()
    }

    /// `[n, ...input_shape]`.
    #[must_use]
    pub fn batch_shape(&self, n: usize) -> Vec<usize> {
        let mut s = vec![n];
        s.extend(&self.input_shape);
        s
    }
}

/// Query counters: predictions (black-box rows) and gradient evaluations (white-box rows).
#[derive(Debug, Default)]
pub struct QueryCounter {
    predictions: AtomicU64,
    gradients: AtomicU64,
    budget: Option<u64>,
}

/// A snapshot of a [`QueryCounter`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Queries {
    /// Rows sent to `predict`.
    pub predictions: u64,
    /// Rows whose logits were taken for a gradient.
    pub gradients: u64,
}

impl Queries {
    /// Both kinds together.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.predictions + self.gradients
    }
}

impl QueryCounter {
    /// A counter that refuses predictions beyond `budget` rows (None: unlimited).
    #[must_use]
    pub fn with_budget(budget: Option<u64>) -> Self {
        Self {
            budget,
            ..Self::default()
        }
    }

    /// Counts `rows` predictions, or refuses them when they would pass the budget.
    pub fn predictions(&self, rows: usize) -> Result<()> {
        let rows = rows as u64;
        let before = self.predictions.fetch_add(rows, Ordering::Relaxed);
        if let Some(budget) = self.budget
            && before + rows > budget
        {
            self.predictions.fetch_sub(rows, Ordering::Relaxed);
            return Err(MlError::BudgetExhausted { budget });
        }
        Ok(())
    }

    /// Counts `rows` gradient evaluations.
    pub fn gradients(&self, rows: usize) {
        self.gradients.fetch_add(rows as u64, Ordering::Relaxed);
    }

    /// The counts so far.
    #[must_use]
    pub fn snapshot(&self) -> Queries {
        Queries {
            predictions: self.predictions.load(Ordering::Relaxed),
            gradients: self.gradients.load(Ordering::Relaxed),
        }
    }

    /// Sets both counts to zero.
    pub fn reset(&self) {
        self.predictions.store(0, Ordering::Relaxed);
        self.gradients.store(0, Ordering::Relaxed);
    }
}

/// The black-box face: what a remote API or any runtime gives.
pub trait Classifier: Send + Sync {
    /// Shapes, classes, range.
    fn info(&self) -> &ModelInfo;

    /// Class probabilities `[N, K]` (f32) for a batch `[N, ...input_shape]`. Counts `N` queries.
    fn predict(&self, x: &Tensor) -> Result<Tensor>;

    /// Queries so far.
    fn queries(&self) -> Queries;

    /// Zeroes the query counters (between attacks).
    fn reset_queries(&self);

    /// The predicted class of each row (counts `N` queries).
    fn predict_labels(&self, x: &Tensor) -> Result<Vec<u32>> {
        Ok(self.predict(x)?.argmax(1)?.to_vec1::<u32>()?)
    }

    /// Whether `predict` only carries the predicted label (one-hot rows): a decision-only target,
    /// which only decision-based attacks can use.
    fn labels_only(&self) -> bool {
        false
    }

    /// The white-box face, when the target has one.
    fn white_box(&self) -> Option<&dyn WhiteBox> {
        None
    }
}

/// The white-box face: logits differentiable with respect to the input.
pub trait WhiteBox: Classifier {
    /// Logits `[N, K]` for a batch, as a candle graph that `backward` can differentiate with
    /// respect to `x` when `x` is a variable. Counts `N` gradient evaluations.
    fn logits(&self, x: &Tensor) -> Result<Tensor>;

    /// The input gradient of `objective(logits)` summed over the batch, with the per-sample
    /// objective values: the building block of every gradient attack. `objective` maps logits
    /// `[N, K]` to a per-sample loss `[N]`.
    fn input_gradient(
        &self,
        x: &Tensor,
        objective: &dyn Fn(&Tensor) -> Result<Tensor>,
    ) -> Result<(Tensor, Tensor)> {
        let var = Var::from_tensor(&x.detach())?;
        let logits = self.logits(var.as_tensor())?;
        let per_sample = objective(&logits)?;
        let grads = per_sample.sum_all()?.backward()?;
        let grad = grads.get(var.as_tensor()).cloned().ok_or_else(|| {
            MlError::Unsupported("the model's graph does not reach its input".into())
        })?;
        Ok((per_sample.detach(), grad))
    }

    /// Per-sample cross-entropy and its input gradient.
    fn loss_and_input_gradient(&self, x: &Tensor, labels: &[u32]) -> Result<(Tensor, Tensor)> {
        self.input_gradient(x, &|logits| ops::cross_entropy_per_sample(logits, labels))
    }
}

/// One of our networks as a target: both faces.
#[derive(Debug)]
pub struct LocalModel {
    network: Network,
    info: ModelInfo,
    counter: QueryCounter,
}

impl LocalModel {
    /// Wraps a network; `name` is what reports call it.
    #[must_use]
    pub fn new(network: Network, name: impl Into<String>) -> Self {
        let arch = network.arch();
        let info = ModelInfo {
            name: name.into(),
            input_shape: arch.input_shape.clone(),
            num_classes: arch.num_classes,
            input_range: arch.input_range,
            class_names: arch.class_names.clone(),
        };
        Self {
            network,
            info,
            counter: QueryCounter::default(),
        }
    }

    /// Refuses predictions past `budget` rows (until the counters are reset).
    #[must_use]
    pub fn with_budget(mut self, budget: Option<u64>) -> Self {
        self.counter = QueryCounter::with_budget(budget);
        self
    }

    /// The network inside.
    #[must_use]
    pub fn network(&self) -> &Network {
        &self.network
    }
}

impl Classifier for LocalModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn predict(&self, x: &Tensor) -> Result<Tensor> {
        self.counter.predictions(x.dim(0)?)?;
        let x = x.to_dtype(self.network.dtype())?;
        Ok(self.network.probabilities(&x)?.to_dtype(DType::F32)?)
    }

    fn queries(&self) -> Queries {
        self.counter.snapshot()
    }

    fn reset_queries(&self) {
        self.counter.reset();
    }

    fn white_box(&self) -> Option<&dyn WhiteBox> {
        Some(self)
    }
}

impl WhiteBox for LocalModel {
    fn logits(&self, x: &Tensor) -> Result<Tensor> {
        self.counter.gradients(x.dim(0)?);
        self.network.logits(x)
    }
}
