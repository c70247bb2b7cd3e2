//! Fine-pruning (Liu et al. 2018), a backdoor repair for a model the defender already has: the
//! units of the last hidden layer that stay dormant on clean inputs are where a backdoor tends to
//! live, so they are pruned (least active first) while accuracy on the defender's clean data
//! holds, and the pruned model is then fine-tuned on that clean data with the pruned units kept
//! at zero.

use aisec_ml::candle::Tensor;
use aisec_ml::train::{TrainConfig, accuracy, train};
use aisec_ml::{LayerSpec, Network};
use serde::Serialize;

use crate::error::{AttackError, Result};

/// How to fine-prune.
#[derive(Debug, Clone, Serialize)]
pub struct FinePruning {
    /// Stop pruning before accuracy on the clean data falls more than this below where it began
    /// (the paper stops at a 4% drop).
    pub max_accuracy_drop: f64,
    /// Never prune more than this share of the layer's units.
    pub max_pruned_share: f64,
    /// Fine-tuning on the clean data after pruning (`epochs` 0 skips it).
    pub fine_tune: TrainConfig,
}

impl Default for FinePruning {
    fn default() -> Self {
        Self {
            max_accuracy_drop: 0.04,
            max_pruned_share: 0.9,
            fine_tune: TrainConfig {
                // The usual training rate: on digits a tenth of it leaves most backdoors in place.
                learning_rate: 1e-2,
                epochs: 10,
                patience: None,
                ..TrainConfig::default()
            },
        }
    }
}

/// What fine-pruning did.
#[derive(Debug, Clone, Serialize)]
pub struct FinePruneReport {
    /// The pruned layer's index in the architecture.
    pub layer: usize,
    /// Its units (channels of a convolution, outputs of a linear layer).
    pub units: usize,
    /// The units pruned, least active first.
    pub pruned: Vec<usize>,
    /// Accuracy on the defender's clean data before, after pruning and after fine-tuning.
    pub clean_data_accuracy: [f64; 3],
}

/// The layer fine-pruning works on: the last convolution, else the last linear layer that feeds
/// another layer (a hidden layer). Returns it with the index just past its activation (where its
/// units' outputs are read).
pub fn prunable_layer(net: &Network) -> Result<(usize, usize)> {
    let layers = &net.arch().layers[..net.logit_layers()];
    let last_linear = layers
        .iter()
        .rposition(|l| matches!(l, LayerSpec::Linear { .. }));
    let layer = layers
        .iter()
        .rposition(|l| matches!(l, LayerSpec::Conv2d { .. }))
        .or_else(|| {
            layers[..last_linear.unwrap_or(0)]
                .iter()
                .rposition(|l| matches!(l, LayerSpec::Linear { .. }))
        })
        .ok_or_else(|| {
            AttackError::Parameter(
                "fine-pruning needs a hidden layer (a convolution or a linear layer before the last); a single linear layer has none".into(),
            )
        })?;
    // Read the units after the activation that follows, when there is one.
    let read_at = match layers.get(layer + 1) {
        Some(LayerSpec::Relu | LayerSpec::Tanh | LayerSpec::Sigmoid) => layer + 2,
        _ => layer + 1,
    };
    Ok((layer, read_at))
}

/// Mean activation of each unit of the prunable layer on `x`.
fn mean_activations(net: &Network, x: &Tensor, read_at: usize) -> Result<Vec<f32>> {
    let h = net.activations(x, read_at)?;
    let per_unit = match h.rank() {
        // [N, C, H, W]: average over rows and positions.
        4 => h.transpose(0, 1)?.flatten_from(1)?.mean(1)?,
        2 => h.mean(0)?,
        r => {
            return Err(AttackError::Parameter(format!(
                "the prunable layer's output has rank {r}"
            )));
        }
    };
    Ok(per_unit.to_dtype(aisec_ml::DType::F32)?.to_vec1()?)
}

/// Fine-prunes a copy of `net` with the defender's clean data.
pub fn fine_prune(
    net: &Network,
    clean_x: &Tensor,
    clean_labels: &[u32],
    config: &FinePruning,
) -> Result<(Network, FinePruneReport)> {
    if clean_labels.is_empty() {
        return Err(AttackError::Parameter(
            "fine-pruning needs clean data".into(),
        ));
    }
    let (layer, read_at) = prunable_layer(net)?;
    let activity = mean_activations(net, clean_x, read_at)?;
    let units = activity.len();
    let mut order: Vec<usize> = (0..units).collect();
    order.sort_by(|&a, &b| activity[a].total_cmp(&activity[b]).then(a.cmp(&b)));
    let before = accuracy(net, clean_x, clean_labels)?;
    let floor = before - config.max_accuracy_drop;
    let most = ((units as f64 * config.max_pruned_share).floor() as usize).min(units - 1);

    // Find the longest prefix of the order whose pruning keeps accuracy above the floor. Units
    // are dropped one at a time; each check is one pass over the clean data.
    let mut kept = net.clone();
    let mut pruned = Vec::new();
    let mut pruned_accuracy = before;
    for &unit in order.iter().take(most) {
        let mut trial = kept.clone();
        trial.prune_units(layer, &[unit])?;
        let acc = accuracy(&trial, clean_x, clean_labels)?;
        if acc < floor {
            break;
        }
        kept = trial;
        pruned.push(unit);
        pruned_accuracy = acc;
    }
    let mut tuned = kept;
    if config.fine_tune.epochs > 0 {
        train(&mut tuned, clean_x, clean_labels, &config.fine_tune, None)?;
    }
    let after = accuracy(&tuned, clean_x, clean_labels)?;
    Ok((
        tuned,
        FinePruneReport {
            layer,
            units,
            pruned,
            clean_data_accuracy: [before, pruned_accuracy, after],
        },
    ))
}
