//! The attack rules (`AT`): what `aisec attack` reports.

use aisec_core::{Confidence, Finding, Location, Rule, RuleId, Severity, Taxonomy};

const ATLAS_EVASION: &[&str] = &["AML.T0015", "AML.T0043"];
const ATLAS_BACKDOOR: &[&str] = &["AML.T0018", "AML.T0018.000", "AML.T0020"];
const BACKDOOR_REFS: &[&str] = &[
    "https://atlas.mitre.org/techniques/AML.T0018",
    "https://atlas.mitre.org/techniques/AML.T0020",
    "https://atlas.mitre.org/mitigations/AML.M0007",
    "https://atlas.mitre.org/mitigations/AML.M0014",
];
const ATTRIBUTE_REFS: &[&str] = &[
    "https://atlas.mitre.org/techniques/AML.T0024",
    "https://atlas.mitre.org/mitigations/AML.M0002",
    "https://atlas.mitre.org/mitigations/AML.M0004",
    "https://www.usenix.org/conference/usenixsecurity14/technical-sessions/presentation/fredrikson_matthew",
];
const INVERSION_REFS: &[&str] = &[
    "https://atlas.mitre.org/techniques/AML.T0024.001",
    "https://atlas.mitre.org/mitigations/AML.M0001",
    "https://atlas.mitre.org/mitigations/AML.M0002",
    "https://doi.org/10.1145/2810103.2813677",
];
const ATLAS_EXTRACTION: &[&str] = &["AML.T0024", "AML.T0024.002", "AML.T0040"];
const EXTRACTION_REFS: &[&str] = &[
    "https://atlas.mitre.org/techniques/AML.T0024.002",
    "https://atlas.mitre.org/mitigations/AML.M0002",
    "https://atlas.mitre.org/mitigations/AML.M0004",
    "https://www.usenix.org/conference/usenixsecurity16/technical-sessions/presentation/tramer",
];
const PRIVACY_REFS: &[&str] = &[
    "https://atlas.mitre.org/techniques/AML.T0024.000",
    "https://atlas.mitre.org/mitigations/AML.M0002",
    "https://atlas.mitre.org/mitigations/AML.M0004",
    "https://arxiv.org/abs/2112.03570",
    "https://arxiv.org/abs/1607.00133",
];
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
    Rule {
        id: "AT120",
        name: "backdoor-suspected",
        title: "A class is reachable through an abnormally small trigger: the model looks backdoored",
        severity: Severity::High,
        what: "Neural Cleanse reverse-engineered, for every class, the smallest patch (a mask over input positions and a pattern under it) that sends clean inputs of the other classes to that class. The class in the evidence needed a much smaller one than the rest: its trigger's L1 norm lies below the median of all classes' norms, and its anomaly index (the distance from the median in units of 1.4826 times the median absolute deviation) is above 2. Severity: critical when the anomaly index is above 3, else high.",
        why: "A backdoored model answers normally on clean inputs, so accuracy tests pass, while anyone who knows the trigger decides its output. A model trained by a third party or downloaded from a hub can carry one, and no file scanner sees it: the weights are the payload.",
        example: "`aisec defend backdoor --model downloaded-cnn --data digits` on a model trained with 5% of its rows stamped with a 3x3 corner patch and relabelled to class 0: class 0 needs a trigger of a few pixels in that corner, every other class a larger one.",
        remediation: "Do not deploy the model. Get it from a source you can verify (ATLAS AML.M0014) or retrain it on data you control and have sanitised (AML.M0007). If it must stay in service, repair it (fine-pruning, or unlearning with the reversed trigger, then measure again) and screen its inputs at run time (STRIP).",
        atlas: ATLAS_BACKDOOR,
        cwe: &["CWE-506"],
        references: BACKDOOR_REFS,
    },
    Rule {
        id: "AT121",
        name: "strip-triggered-inputs",
        title: "Inputs keep their prediction under superimposition: they look like they carry a trigger",
        severity: Severity::High,
        what: "STRIP laid clean images over each checked input and measured the entropy of the model's predictions. The inputs in the evidence kept a confident, unchanging prediction whatever was laid over them: their entropy is below the threshold that rejects the chosen share (the false-rejection rate) of clean inputs. Severity: high when more inputs are flagged than twice the false-rejection rate explains, else low (the flags may be clean inputs rejected by chance).",
        why: "A trigger dominates the model's decision, so inputs carrying one stay stable under perturbations that scramble the prediction of clean inputs. Such inputs in production traffic or in a data set mean someone is using, or testing, a backdoor.",
        example: "`aisec defend backdoor --model m --data digits --inputs traffic.npy` where some of the inputs carry the 3x3 corner patch of a BadNets backdoor.",
        remediation: "Quarantine the flagged inputs and find where they came from; treat the model as backdoored (see AT120) and keep STRIP, or another input filter, in front of it until it is replaced.",
        atlas: ATLAS_BACKDOOR,
        cwe: &["CWE-506"],
        references: BACKDOOR_REFS,
    },
    Rule {
        id: "AT122",
        name: "backdoor-not-found",
        title: "Neural Cleanse found no class with an abnormally small trigger",
        severity: Severity::Info,
        what: "Neural Cleanse reverse-engineered the smallest trigger of every class examined and no class stood out: none lies below the median norm with an anomaly index above 2. The evidence holds every class's trigger norm and anomaly index.",
        why: "The figures are the evidence behind a clean verdict. They do not prove the model clean: triggers as large as natural features, input-specific triggers, and backdoors toward several classes at once can escape this test.",
        example: "`aisec defend backdoor --model clean-cnn --data digits` on a model trained on clean data.",
        remediation: "Nothing to fix. Keep verifying where models come from (ATLAS AML.M0014); a clean result here is one signal, not a guarantee.",
        atlas: &[],
        cwe: &[],
        references: BACKDOOR_REFS,
    },
    Rule {
        id: "AT130",
        name: "model-extractable-by-queries",
        title: "A working copy of the model can be trained from its answers",
        severity: Severity::High,
        what: "A learning-based extraction (Knockoff Nets with random or adaptive sampling, or Copycat with top-1 labels only) queried the model on inputs the attacker chose, trained the attacker's own architecture on the answers, and the copy agreed with the model on at least 90% of the test rows within the query count in the evidence. Severity follows that count: 100 queries or fewer critical, 1,000 or fewer high, 10,000 or fewer medium, more low.",
        why: "A copy is the model's value without its cost, and a white-box stand-in: the attacker can craft adversarial examples on it that transfer to the original, probe it offline for membership or inversion, and resell it. Every prediction API gives the raw material.",
        example: "`aisec attack extract --model digits-mlp --data digits --method knockoff --budget 100,250,500,1000` where 250 queries from the attacker's unlabelled digits give a 90% copy.",
        remediation: "Limit and monitor the queries each client can make (ATLAS AML.M0004), return as little as the use case needs (labels rather than scores, rounded scores: AML.M0002), screen query streams for extraction (PRADA, `--defense prada`), and treat the model's release as a disclosure of it (AML.M0001).",
        atlas: ATLAS_EXTRACTION,
        cwe: &["CWE-200"],
        references: EXTRACTION_REFS,
    },
    Rule {
        id: "AT131",
        name: "model-extracted-exactly",
        title: "The model's weights were recovered exactly by solving equations",
        severity: Severity::Critical,
        what: "The model is log-linear (logistic or softmax regression) and returns probabilities, so each answer's log-probability ratios are linear equations in its weights: `d + 1` queries (d input values) determined all of them, extra queries confirmed the fit, and the recovered model agrees with the original on the test rows. Severity follows the queries used, on the same scale as AT130.",
        why: "The attacker holds the model itself, not an approximation, for a handful of queries: everything the model encodes (its decision rule, and through it traces of its training data) is disclosed.",
        example: "`aisec attack extract --model breast-cancer-logistic --data breast-cancer --method equation-solving`: 31 queries for 30 features.",
        remediation: "Do not return probabilities from a linear model to untrusted clients: return the label only, or round the scores and measure again (ATLAS AML.M0002); rate-limit queries (AML.M0004).",
        atlas: ATLAS_EXTRACTION,
        cwe: &["CWE-200"],
        references: EXTRACTION_REFS,
    },
    Rule {
        id: "AT132",
        name: "extraction-not-reached",
        title: "Learning-based extraction stayed below 90% fidelity within the budget",
        severity: Severity::Info,
        what: "The extraction attack in the evidence did not train a copy agreeing with the model on 90% of the test rows within its largest query budget; the evidence holds the whole curve of fidelity and copy accuracy per budget.",
        why: "The curve bounds the effort of this attacker (this pool, this architecture, this recipe); a larger budget, a closer pool or a better surrogate may still succeed.",
        example: "`aisec attack extract ... --method copycat --pool noise --budget 100,1000` where noise queries teach a surrogate little.",
        remediation: "Nothing to fix now; keep query limits in place and rerun with the budgets a real client could spend.",
        atlas: &[],
        cwe: &[],
        references: EXTRACTION_REFS,
    },
    Rule {
        id: "AT133",
        name: "output-hardening-measured",
        title: "Output hardening against extraction, measured",
        severity: Severity::Info,
        what: "An output defense (top-1 labels only, rounding, or the reverse-sigmoid perturbation) was put in front of the model; the evidence holds what it costs (the hardened answers' accuracy on the test rows) and what each extraction attack reached against it.",
        why: "Hardening only helps when it defeats the attacks that matter at a cost users accept: rounding breaks exact equation solving, but a learning-based copy may need nothing more than labels.",
        example: "`aisec attack extract ... --defense top1,round,reverse-sigmoid`.",
        remediation: "Keep the cheapest defense that stops the attacks you measured; pair it with query limits (ATLAS AML.M0004) where it does not.",
        atlas: &[],
        cwe: &[],
        references: &["https://atlas.mitre.org/mitigations/AML.M0002"],
    },
    Rule {
        id: "AT134",
        name: "prada-detects-extraction",
        title: "PRADA flags the extraction query stream",
        severity: Severity::Info,
        what: "PRADA, fed the attack's queries in order, found the distances between each query and the earlier queries of its predicted class too far from a normal distribution (Shapiro-Wilk statistic below delta) after the number of queries in the evidence; the evidence also holds the fidelity of the copy the attacker could train on the queries answered before the alarm, and PRADA's behaviour on benign traffic.",
        why: "Detection after N queries bounds what an attacker gets from one identity; the fidelity reached before the alarm says whether that bound comes in time.",
        example: "`aisec attack extract ... --method knockoff --pool noise --defense prada`.",
        remediation: "Deploy the detector in front of the model if it fires before a useful copy exists and rarely on benign traffic; an attacker spreading queries over many identities evades it, so keep per-client and global limits too (ATLAS AML.M0004).",
        atlas: &[],
        cwe: &[],
        references: &["https://atlas.mitre.org/mitigations/AML.M0004"],
    },
    Rule {
        id: "AT135",
        name: "prada-misses-extraction",
        title: "PRADA does not flag the extraction query stream",
        severity: Severity::Medium,
        what: "PRADA, fed the attack's queries in order, never saw the distance statistic fall below delta. Severity: medium when the same stream produced a copy with 90% fidelity, else low.",
        why: "Queries drawn from natural data of the problem domain look like normal traffic: a distance-based detector cannot tell them apart, and an attacker with such data copies the model unseen.",
        example: "`aisec attack extract ... --method knockoff --pool data --defense prada` with the attacker holding unlabelled in-domain data.",
        remediation: "Do not rely on the stream detector alone: limit queries per client and overall (ATLAS AML.M0004) and return as little as the use case needs (AML.M0002).",
        atlas: ATLAS_EXTRACTION,
        cwe: &["CWE-200"],
        references: EXTRACTION_REFS,
    },
    Rule {
        id: "AT136",
        name: "prada-false-alarm",
        title: "PRADA flags benign traffic",
        severity: Severity::Low,
        what: "PRADA raised its alarm on a benign stream (the test rows in their natural order); the evidence holds at which query and how often the statistic was below delta.",
        why: "A detector that refuses legitimate clients is switched off; its delta must be tuned on the traffic the model really serves.",
        example: "`aisec attack extract ... --defense prada --prada-delta 0.99`.",
        remediation: "Lower delta (or raise the number of distances before the first test) until benign traffic passes, then check that the attacks are still flagged.",
        atlas: &[],
        cwe: &[],
        references: &["https://atlas.mitre.org/mitigations/AML.M0004"],
    },
    Rule {
        id: "AT140",
        name: "membership-inference-leak",
        title: "The model's answers reveal which records it was trained on",
        severity: Severity::High,
        what: "A black-box membership inference attack (LOSS threshold, shadow models, LiRA or RMIA, using only the model's probability outputs) told training records from other records of the same population far better than guessing at a low false-positive rate. The evidence holds each attack's AUC and true-positive rate at 0.1% and 1% false positives. Severity follows the strongest attack's TPR at 1% FPR as a multiple of the 1% that guessing achieves: 20x or more critical, 5x high, 2x medium.",
        why: "Knowing that a person's record was in the training set is itself a disclosure when the set is sensitive (patients of a clinic, customers of a lender, users who opted out). The attacks that count are the confident ones: a few records identified with near certainty matter more than a small average edge, which is why the rate at low false positives, not the AUC or accuracy, decides the severity. Memorised records also leak through attribute inference and model inversion.",
        example: "`aisec attack privacy --data digits --kind mlp --attack loss,lira` on an MLP trained 200 epochs without regularisation: LiRA finds a tenth of the members at 1% false positives.",
        remediation: "Train with differential privacy (DP-SGD; `--defense dp-sgd --dp-epsilon 1,8` measures the effect and its cost in accuracy), reduce memorisation (regularisation, early stopping, more data), return labels or rounded scores instead of full probability vectors (ATLAS AML.M0002) and limit how many queries a client can make (AML.M0004).",
        atlas: &["AML.T0024", "AML.T0024.000"],
        cwe: &["CWE-359"],
        references: PRIVACY_REFS,
    },
    Rule {
        id: "AT141",
        name: "membership-inference-not-measured",
        title: "No membership attack did clearly better than chance",
        severity: Severity::Info,
        what: "Every membership inference attack run stayed below twice the 1% baseline in true-positive rate at 1% false positives. The evidence holds each attack's figures, the number of members and non-members, and the lowest false-positive rate the run can resolve.",
        why: "The figures back a low-risk verdict for these attacks at this number of reference models. They are not a proof of privacy: stronger attackers (more reference models, augmented queries, white-box access) or other records may still leak, and only differential privacy bounds the leak for every record.",
        example: "`aisec attack privacy --model my-model --members train.npz --non-members holdout.npz` on a well-regularised model.",
        remediation: "Nothing to fix for these attacks. For a guarantee rather than a measurement, train with DP-SGD and report its epsilon.",
        atlas: &[],
        cwe: &[],
        references: PRIVACY_REFS,
    },
    Rule {
        id: "AT142",
        name: "dp-sgd-measured",
        title: "DP-SGD's measured effect on membership inference and accuracy",
        severity: Severity::Info,
        what: "aisec retrained the target with DP-SGD (per-example gradient clipping and Gaussian noise, the noise set for the epsilon asked at the given delta) on the same members, trained the attacker's reference models the same way, and ran the same attacks. The evidence holds the figures before and after, with the privacy accountant's epsilon. Info when the strongest attack's TPR at 1% FPR falls below twice the 1% baseline; medium when the defended model still leaks that much.",
        why: "Differential privacy bounds what any attack can learn about one record, at a cost in accuracy that grows as epsilon shrinks; the measured figures let the owner choose the epsilon whose accuracy and residual leak are acceptable.",
        example: "`aisec attack privacy --data digits --kind mlp --defense dp-sgd --dp-epsilon 1,8`.",
        remediation: "Adopt the smallest epsilon whose accuracy is acceptable; when the defended model still leaks (medium), lower epsilon, raise the noise or the clipping, or train on more data.",
        atlas: &[],
        cwe: &[],
        references: PRIVACY_REFS,
    },
    Rule {
        id: "AT150",
        name: "attribute-inference-leak",
        title: "The model's outputs reveal a sensitive column of the records it answers on",
        severity: Severity::Medium,
        what: "An attacker who knows a record's other columns (and, in one variant, its label) and sees the model's answer on it guessed the column in the evidence (a category, or a quantile bin of a continuous value) measurably better than a baseline attacker with the same knowledge but without the model's answers: the gain is above 2 points and above two standard errors. Two attacks are tried: a network trained on the attacker's complete records to map known columns and the model's probabilities to the column, and Fredrikson's inversion, which queries the model with the record completed by each candidate value and keeps the value that makes the label most likely. Severity follows the gain in accuracy over the baseline: 20 points or more high, 10 or more medium, else low.",
        why: "Whoever sees the model's scores learns something about a record the model was never meant to disclose: a patient's genotype from a dosing model's output (Fredrikson et al. 2014), an income bracket or a diagnosis from a risk score. The gain over the baseline is what the model adds; a baseline that already guesses well means the other columns give the value away whatever the model does.",
        example: "`aisec attack privacy --model m --data breast-cancer --attack attribute` on an overfit MLP whose probabilities let an attacker recover a column the other columns do not predict.",
        remediation: "Return less: the top label or rounded scores instead of full probability vectors (ATLAS AML.M0002), and limit and monitor queries per client (AML.M0004). Train with differential privacy (DP-SGD) or regularise, which bounds what the outputs say about training records, and leave sensitive columns out of the model's inputs when the task allows.",
        atlas: &["AML.T0024"],
        cwe: &["CWE-200"],
        references: ATTRIBUTE_REFS,
    },
    Rule {
        id: "AT151",
        name: "attribute-inference-no-leak",
        title: "Attribute inference: no column inferred better than the baseline",
        severity: Severity::Info,
        what: "Every attack on every column examined stayed within noise (2 points, two standard errors) of a baseline attacker without the model's outputs. The evidence holds each column's accuracies.",
        why: "The figures are the evidence behind the clean result. They bound what these attacks, with this much attacker knowledge, get from the outputs; a stronger attacker (more complete records, more queries, the model's weights) may still do better.",
        example: "`aisec attack privacy --model m --data breast-cancer --attack attribute` on a model that returns only its top label.",
        remediation: "Nothing to fix. Measure again when the model, its outputs or the attacker's knowledge change.",
        atlas: &[],
        cwe: &[],
        references: ATTRIBUTE_REFS,
    },
    Rule {
        id: "AT152",
        name: "attribute-leak-on-members",
        title: "Attribute inference works better on the model's training records",
        severity: Severity::Medium,
        what: "An attack's gain over the baseline on training records (members) exceeds its gain on records the model never saw by more than 2 points and two standard errors: the model's outputs carry more about the records it was trained on than about the population.",
        why: "This is memorisation: the model answers its training records differently, so the people in its training set are exposed beyond what the population statistics it learned reveal, and membership inference usually works on the same model.",
        example: "`aisec attack privacy --model overfit-mlp --data breast-cancer --attack attribute,membership`.",
        remediation: "Reduce memorisation: regularise, stop training earlier, or train with DP-SGD (whose epsilon bounds the gap), and return less than full probability vectors (ATLAS AML.M0002).",
        atlas: &["AML.T0024"],
        cwe: &["CWE-200"],
        references: ATTRIBUTE_REFS,
    },
    Rule {
        id: "AT155",
        name: "model-inversion-prototype",
        title: "Model inversion reconstructs recognisable class prototypes",
        severity: Severity::Medium,
        what: "MIFace (Fredrikson et al. 2015) ran gradient descent on the input, with the model's gradients, to make the model as sure as it can be of each class. For the classes in the evidence the result is one the model assigns to the class (at the confidence in the evidence) and correlates better with that class's mean of real training rows than with any other class's mean: a recognisable picture of what the class's training data looks like. Severity follows the share of classes: 80% or more high, half or more medium, else low.",
        why: "Where a class is a person (face recognition, speaker or author identification, per-user models), the prototype is that person's likeness recovered from the model alone. Anyone holding the weights can run this; a released model is a release of these prototypes.",
        example: "`aisec attack privacy --model digits-mlp --data digits --attack inversion` on a model whose reconstructions look like the digits.",
        remediation: "Do not release the weights or gradients of models trained on personal data (ATLAS AML.M0001 Limit Model Artifact Release); serve them behind an API that returns the top label or rounded scores (AML.M0002), which also slows black-box inversion; train with differential privacy when the classes are individuals.",
        atlas: &["AML.T0024.001"],
        cwe: &["CWE-200"],
        references: INVERSION_REFS,
    },
    Rule {
        id: "AT156",
        name: "model-inversion-no-prototype",
        title: "Model inversion gives no recognisable class prototype",
        severity: Severity::Info,
        what: "MIFace ran on every class examined and no reconstruction both gets the model's confidence for its class and correlates best with that class's mean of real rows: the inputs that maximise the model's confidence are patterns only the model reads as the class. The evidence holds each class's confidence, distances and correlations.",
        why: "The figures support the clean result for this attack. Stronger inversions (with an image prior, a generative model or auxiliary data) can still recover prototypes that plain gradient descent does not.",
        example: "`aisec attack privacy --model digits-cnn --data digits --attack inversion` on a model whose reconstructions are noise-like patterns.",
        remediation: "Nothing to fix for this attack; keep model artifacts of sensitive models restricted (ATLAS AML.M0001).",
        atlas: &[],
        cwe: &[],
        references: INVERSION_REFS,
    },
];

/// The rule `id` of [`RULES`].
pub(crate) fn rule(id: &str) -> &'static Rule {
    RULES.iter().find(|r| r.id == id).expect("a known rule")
}

/// A finding of rule `id` about `location`, fingerprinted by `key` (what distinguishes it from the
/// rule's other findings there); title, taxonomy and remediation come from the rule.
pub(crate) fn finding(
    id: &str,
    severity: Severity,
    confidence: Confidence,
    location: &Location,
    key: &str,
    message: String,
    evidence: serde_json::Value,
) -> Finding {
    let r = rule(id);
    let rule_id = RuleId::new(r.id);
    Finding {
        fingerprint: Finding::fingerprint_of(&rule_id, location, key),
        rule: rule_id,
        title: r.title.to_owned(),
        severity,
        confidence,
        message,
        location: location.clone(),
        evidence,
        taxonomy: Taxonomy {
            atlas: r.atlas.iter().map(|s| (*s).to_owned()).collect(),
            cwe: r.cwe.iter().map(|s| (*s).to_owned()).collect(),
            ..Taxonomy::default()
        },
        remediation: r.remediation.to_owned(),
    }
}

/// The severity of a backdoor from the smallest poisoning rate reaching 90% attack success (and
/// whether any rate reached 50%).
#[must_use]
pub fn poisoning_severity(smallest_rate_at_90: Option<f64>, any_above_half: bool) -> Severity {
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

/// The severity of a model copied (to 90% fidelity, or exactly) with `queries` queries.
#[must_use]
pub fn extraction_severity(queries: usize) -> Severity {
    match queries {
        0..=100 => Severity::Critical,
        101..=1_000 => Severity::High,
        1_001..=10_000 => Severity::Medium,
        _ => Severity::Low,
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

/// The severity of a Neural Cleanse flag with this anomaly index.
#[must_use]
pub fn backdoor_severity(anomaly_index: f64) -> Severity {
    if anomaly_index > 3.0 {
        Severity::Critical
    } else {
        Severity::High
    }
}

/// The severity of STRIP flagging `flagged_share` of the inputs at a false-rejection rate `frr`.
#[must_use]
pub fn strip_severity(flagged_share: f64, frr: f64) -> Severity {
    if flagged_share > 2.0 * frr {
        Severity::High
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
