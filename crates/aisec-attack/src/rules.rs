//! The attack rules (`AT`): what `aisec attack` reports.

use aisec_core::{Rule, Severity};

const ATLAS_EVASION: &[&str] = &["AML.T0015", "AML.T0043"];
const REFS: &[&str] = &[
    "https://atlas.mitre.org/techniques/AML.T0015",
    "https://atlas.mitre.org/techniques/AML.T0043",
    "https://atlas.mitre.org/mitigations/AML.M0003",
    "https://atlas.mitre.org/mitigations/AML.M0015",
];

/// Every attack rule, sorted by id.
pub static RULES: &[Rule] = &[
    Rule {
        id: "AT100",
        name: "evasion-within-threat-model",
        title: "Adversarial inputs within the declared threat model fool the model",
        severity: Severity::High,
        what: "An evasion attack, limited to the perturbation size the user declared as the threat model (`--threat-eps`), changed the model's decision on the share of correctly classified inputs given in the evidence. The severity follows the robust accuracy as a share of the clean accuracy: under 10% critical, under 40% high, under 70% medium, under 90% low, else info.",
        why: "An attacker who can alter inputs by that much controls the model's output on those inputs: spam and malware filters, fraud scores, content moderation and perception systems are bypassed this way. Art. 15 of the EU AI Act asks high-risk systems to be resilient to exactly this.",
        example: "`aisec attack evasion --model digits-cnn --data digits --attack pgd --eps 0.05,0.1,0.2 --threat-eps 0.1` on an undefended CNN.",
        remediation: "Harden the model with adversarial training (ATLAS AML.M0003; `--defense adv-train` measures a hardened copy), detect adversarial inputs (AML.M0015) or restore them (AML.M0010), and keep a human or a second signal in decisions the model alone must not make.",
        atlas: ATLAS_EVASION,
        cwe: &["CWE-1039"],
        references: REFS,
    },
    Rule {
        id: "AT101",
        name: "evasion-detector-bypassed",
        title: "Adversarial inputs pass the input detector",
        severity: Severity::Medium,
        what: "A detector in front of the model (feature squeezing, calibrated to the false-positive rate in the evidence on clean inputs) let through the share of successful adversarial inputs given in the evidence. Severity: more than half missed high, more than 10% medium, else low.",
        why: "A detector that misses adversarial inputs gives false assurance; attackers adapt to known detectors.",
        example: "`aisec attack evasion ... --defense squeeze` where C&W examples keep their effect after bit-depth reduction.",
        remediation: "Do not rely on one detector; combine it with adversarial training and test it with adaptive attacks.",
        atlas: ATLAS_EVASION,
        cwe: &["CWE-1039"],
        references: REFS,
    },
    Rule {
        id: "AT102",
        name: "adversarial-training-measured",
        title: "Robustness of the adversarially trained copy",
        severity: Severity::Info,
        what: "aisec trained a hardened copy of the model with PGD adversarial training and measured it with the same attack; the evidence holds clean and robust accuracy of both.",
        why: "The cost (clean accuracy) and the gain (robust accuracy) of the defense are what a robustness decision weighs.",
        example: "`aisec attack evasion ... --defense adv-train`.",
        remediation: "Adopt the hardened training if its clean-accuracy cost is acceptable.",
        atlas: &[],
        cwe: &[],
        references: &["https://atlas.mitre.org/mitigations/AML.M0003"],
    },
    Rule {
        id: "AT110",
        name: "backdoor-implanted-by-poisoning",
        title: "A backdoor planted through poisoned training data works",
        severity: Severity::High,
        what: "aisec poisoned the share of the training rows given in the evidence with a trigger (BadNets patch, Blended pattern, or clean-label), trained the model's architecture on it the way the user trains it, and measured the attack success rate: the share of test inputs of other classes that the trigger sends to the target class. Severity follows the smallest poisoning rate at which the attack succeeds on at least 90% of inputs: 1% or less critical, 5% or less high, 10% or less medium, above low; info when no rate reaches 50%.",
        why: "Anyone who can place a few rows in the training data (a scraped source, a contributed data set, a labelling vendor, a compromised pipeline) can plant a behaviour that triggers on demand while the model's accuracy on clean data, the usual acceptance test, stays the same.",
        example: "`aisec attack poison --data digits --kind cnn --attack badnets --rate 0.01,0.05,0.1` on an unfiltered training pipeline.",
        remediation: "Control and verify training-data provenance (ATLAS AML.M0007 Sanitize Training Data, AML.M0025 Maintain AI Dataset Provenance), screen the training set with activation clustering or spectral signatures, and test trained models for backdoors (`aisec defend backdoor`) before release.",
        atlas: &["AML.T0020", "AML.T0018.000"],
        cwe: &["CWE-1039"],
        references: &[
            "https://atlas.mitre.org/techniques/AML.T0020",
            "https://atlas.mitre.org/techniques/AML.T0018",
            "https://atlas.mitre.org/mitigations/AML.M0007",
        ],
    },
    Rule {
        id: "AT111",
        name: "label-flipping-degrades-model",
        title: "Flipped labels in the training data degrade the model",
        severity: Severity::Medium,
        what: "aisec flipped the labels of the share of training rows given in the evidence (to random classes, or from one class to another) and measured the trained model against a twin trained on clean labels. Severity follows the damage at the largest rate: a targeted flip that sends more than half of the source class to the target, or an accuracy loss above 10 points, is high; above 2 points medium; else low.",
        why: "Labels are often the least controlled part of a pipeline (crowd workers, weak supervision, user feedback); an attacker who controls some of them degrades the model or steers one class into another.",
        example: "`aisec attack poison --data digits --attack label-flip --target 1 --source 7 --rate 0.05,0.1`.",
        remediation: "Audit labels (agreement between annotators, confident-learning checks), limit what one contributor can label, and monitor per-class accuracy (ATLAS AML.M0007).",
        atlas: &["AML.T0020"],
        cwe: &["CWE-1039"],
        references: &[
            "https://atlas.mitre.org/techniques/AML.T0020",
            "https://atlas.mitre.org/mitigations/AML.M0007",
        ],
    },
    Rule {
        id: "AT112",
        name: "poison-filter-measured",
        title: "Training-set poison detection, measured",
        severity: Severity::Info,
        what: "A training-set defense (activation clustering or spectral signatures) screened the poisoned training set; the evidence holds the rows it flagged, its precision and recall against the known poison, and the attack success after retraining without the flagged rows. Severity: info when the retrained model's attack success is under 20%, medium under 50%, high above.",
        why: "A filter that removes most of the poison but not enough of it leaves the backdoor in place; only the attack success after retraining says whether the defense works.",
        example: "`aisec attack poison --data digits --attack badnets --rate 0.05 --defense ac,ss`.",
        remediation: "Keep the filter in the training pipeline if it brings the attack success down; otherwise combine it with provenance controls and model-level backdoor tests.",
        atlas: &[],
        cwe: &[],
        references: &["https://atlas.mitre.org/mitigations/AML.M0007"],
    },
    Rule {
        id: "AT113",
        name: "backdoor-repair-measured",
        title: "Backdoor repair by fine-pruning, measured",
        severity: Severity::Info,
        what: "Fine-pruning pruned the hidden units that stay dormant on the defender's clean data and fine-tuned the model on that data; the evidence holds the units pruned and the clean accuracy and attack success before and after. Severity: info when the repaired model's attack success is under 20%, medium under 50%, high above.",
        why: "A repair that costs little accuracy and removes the backdoor lets a team keep a model it cannot retrain from scratch; one that leaves the backdoor gives false assurance.",
        example: "`aisec attack poison --data digits --attack badnets --defense fine-prune`.",
        remediation: "Use the repaired model if its clean accuracy is acceptable and its attack success low; otherwise retrain from trusted data.",
        atlas: &[],
        cwe: &[],
        references: &["https://atlas.mitre.org/mitigations/AML.M0007"],
    },
];

/// The severity of a backdoor from the smallest poisoning rate reaching 90% attack success (and
/// whether any rate reached 50%).
#[must_use]
pub fn backdoor_severity(smallest_rate_at_90: Option<f64>, any_above_half: bool) -> Severity {
    match smallest_rate_at_90 {
        Some(r) if r <= 0.01 + 1e-9 => Severity::Critical,
        Some(r) if r <= 0.05 + 1e-9 => Severity::High,
        Some(r) if r <= 0.10 + 1e-9 => Severity::Medium,
        Some(_) => Severity::Low,
        None if any_above_half => Severity::Low,
        None => Severity::Info,
    }
}

/// The severity of a defense that leaves `attack_success` after it.
#[must_use]
pub fn remaining_backdoor_severity(attack_success: f64) -> Severity {
    if attack_success >= 0.5 {
        Severity::High
    } else if attack_success >= 0.2 {
        Severity::Medium
    } else {
        Severity::Info
    }
}

/// The severity of evasion at the threat model: robust accuracy as a share of clean accuracy.
#[must_use]
pub fn evasion_severity(clean_accuracy: f64, robust_accuracy: f64) -> Severity {
    if clean_accuracy <= 0.0 {
        return Severity::Info;
    }
    let kept = robust_accuracy / clean_accuracy;
    if kept < 0.1 {
        Severity::Critical
    } else if kept < 0.4 {
        Severity::High
    } else if kept < 0.7 {
        Severity::Medium
    } else if kept < 0.9 {
        Severity::Low
    } else {
        Severity::Info
    }
}

/// The severity of a detector that misses `missed` (a share) of adversarial inputs.
#[must_use]
pub fn detector_severity(missed: f64) -> Severity {
    if missed > 0.5 {
        Severity::High
    } else if missed > 0.1 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

#[cfg(test)]
mod tests {
    use aisec_core::Severity;

    #[test]
    fn severity_follows_the_share_of_accuracy_kept() {
        assert_eq!(super::evasion_severity(0.98, 0.01), Severity::Critical);
        assert_eq!(super::evasion_severity(0.98, 0.3), Severity::High);
        assert_eq!(super::evasion_severity(0.98, 0.6), Severity::Medium);
        assert_eq!(super::evasion_severity(0.98, 0.8), Severity::Low);
        assert_eq!(super::evasion_severity(0.98, 0.95), Severity::Info);
        let ids: Vec<_> = super::RULES.iter().map(|r| r.id).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted);
    }
}
