//! Finding a backdoor in a trained model without its training data: [`neural_cleanse`]
//! reverse-engineers the smallest trigger per class from the model's gradients and a few clean
//! inputs, and [`strip`] tells inputs that carry a trigger from clean ones by how stable the
//! model's prediction stays when other images are superimposed on them.

pub mod neural_cleanse;
pub mod strip;

pub use neural_cleanse::{ClassTrigger, NeuralCleanse, NeuralCleanseReport};
pub use strip::{Strip, StripReport};

use aisec_core::{Confidence, Finding, Location};

use crate::rules::{backdoor_severity, finding, rule, strip_severity};

/// The per-class figures as evidence (norms, success, anomaly indices), without masks.
fn class_evidence(report: &NeuralCleanseReport) -> serde_json::Value {
    serde_json::json!(
        report
            .classes
            .iter()
            .map(|c| serde_json::json!({
                "class": c.class,
                "l1_norm": c.l1_norm,
                "attack_success": c.attack_success,
                "anomaly_index": c.anomaly_index,
                "below_median": c.below_median,
                "flagged": c.flagged,
            }))
            .collect::<Vec<_>>()
    )
}

/// The findings of a Neural Cleanse run on `model`: AT120 for each flagged class, or AT122 with
/// the statistics when none is.
#[must_use]
pub fn neural_cleanse_findings(report: &NeuralCleanseReport, model: &str) -> Vec<Finding> {
    let location = Location::file(model.to_owned());
    let mut out = Vec::new();
    for &class in &report.flagged {
        let Some(c) = report.trigger(class) else {
            continue;
        };
        out.push(finding(
            "AT120",
            backdoor_severity(c.anomaly_index),
            Confidence::Likely,
            &location,
            &format!("class:{class}"),
            format!(
                "Class {class} is reached by a trigger of L1 norm {:.2} (it sends {:.1}% of the clean inputs of other classes there), against a median of {:.2} over {} classes: anomaly index {:.2} (threshold {}). Suspected backdoor target: class {class}.",
                c.l1_norm,
                c.attack_success * 100.0,
                report.median_norm,
                report.classes.len(),
                c.anomaly_index,
                report.anomaly_threshold
            ),
            serde_json::json!({
                "method": "neural-cleanse",
                "target_class": class,
                "l1_norm": c.l1_norm,
                "attack_success": c.attack_success,
                "anomaly_index": c.anomaly_index,
                "median_norm": report.median_norm,
                "scaled_mad": report.scaled_mad,
                "anomaly_threshold": report.anomaly_threshold,
                "clean_rows": report.rows,
                "classes": class_evidence(report),
            }),
        ));
    }
    if out.is_empty() {
        let smallest = report
            .classes
            .iter()
            .min_by(|a, b| a.l1_norm.total_cmp(&b.l1_norm));
        out.push(finding(
            "AT122",
            rule("AT122").severity,
            Confidence::Likely,
            &location,
            "neural-cleanse",
            format!(
                "Trigger norms over {} classes have median {:.2}; the smallest ({}) has anomaly index {:.2}, under the threshold {}: no class stands out.",
                report.classes.len(),
                report.median_norm,
                smallest.map_or_else(String::new, |c| format!(
                    "class {}, {:.2}",
                    c.class, c.l1_norm
                )),
                report.max_anomaly_index,
                report.anomaly_threshold
            ),
            serde_json::json!({
                "method": "neural-cleanse",
                "median_norm": report.median_norm,
                "scaled_mad": report.scaled_mad,
                "max_anomaly_index": report.max_anomaly_index,
                "anomaly_threshold": report.anomaly_threshold,
                "clean_rows": report.rows,
                "classes": class_evidence(report),
            }),
        ));
    }
    out
}

/// AT121 when STRIP flagged any of the inputs (`inputs` names them), with the figures.
#[must_use]
pub fn strip_finding(report: &StripReport, model: &str, inputs: &str) -> Option<Finding> {
    if report.flagged.is_empty() {
        return None;
    }
    let location = Location::file(inputs.to_owned());
    let frr = report.settings.false_rejection_rate;
    let shown: Vec<serde_json::Value> = report
        .flagged
        .iter()
        .take(100)
        .map(|&i| serde_json::json!({ "index": i, "entropy": report.entropies[i] }))
        .collect();
    Some(finding(
        "AT121",
        strip_severity(report.flagged_share, frr),
        Confidence::Possible,
        &location,
        model,
        format!(
            "{} of {} inputs ({:.1}%) keep a near-constant prediction of {model} under superimposition: entropy below {:.3} bits, the threshold that rejects {:.1}% of the clean inputs ({:.1}% measured).",
            report.flagged.len(),
            report.entropies.len(),
            report.flagged_share * 100.0,
            report.threshold,
            frr * 100.0,
            report.clean_rejected * 100.0
        ),
        serde_json::json!({
            "method": "strip",
            "model": model,
            "threshold": report.threshold,
            "false_rejection_rate": frr,
            "clean_rejected": report.clean_rejected,
            "overlays": report.settings.overlays,
            "inputs": report.entropies.len(),
            "flagged": report.flagged.len(),
            "flagged_share": report.flagged_share,
            "flagged_inputs": shown,
        }),
    ))
}
