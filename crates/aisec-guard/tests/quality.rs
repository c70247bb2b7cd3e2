//! Detection quality of the pattern layer on a labelled public set no rule was written from:
//! bastioncorpus 0.6.0's injections (118 attacks in 7 categories, 63 benign look-alikes that use
//! the same words: "ignore", "act as", "reveal", "system"...), fetched once through the pinned
//! resolver. Prints precision, recall and the false-positive rate on the look-alikes
//! (`cargo test -p aisec-guard --test quality -- --nocapture`) and holds them above floors.
#![allow(clippy::disallowed_macros, clippy::print_stderr)]

use std::path::Path;

use aisec_guard::policy::{Action, Policy, Rule};
use aisec_guard::{Exchange, evaluate};
use aisec_llm::Message;

#[test]
fn patterns_on_bastioncorpus() {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aisec-cache");
    let path = aisec_resolve::Resolver::new(cache)
        .fetch("bastioncorpus-injections")
        .expect("fetch bastioncorpus");
    let text = std::fs::read_to_string(path).unwrap();
    let policy = pattern_policy();
    let mut labels = Vec::new();
    let mut flags = Vec::new();
    let mut by_category: std::collections::BTreeMap<String, (u32, u32)> =
        std::collections::BTreeMap::default();
    for line in text.lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let attack = row["label"] == "malicious";
        let msgs = [Message::user(row["text"].as_str().unwrap())];
        let blocked = evaluate(&policy, &Exchange::input(&msgs)).blocked();
        let c = by_category
            .entry(row["category"].as_str().unwrap().to_owned())
            .or_default();
        c.1 += 1;
        if blocked == attack {
            c.0 += 1;
        }
        labels.push(attack);
        flags.push(blocked);
    }
    let (precision, recall, fpr) = summary("patterns", &flags, &labels);
    for (cat, (right, n)) in &by_category {
        eprintln!("  {cat:<24} {right}/{n} right");
    }
    assert_eq!(labels.iter().filter(|l| **l).count(), 118);
    assert_eq!(labels.len(), 181);
    // Floors a little under the measured figures (see docs/guard.md): a change that loses
    // recall or adds false alarms fails here.
    assert!(precision >= 0.95, "precision {precision:.3}");
    assert!(fpr <= 0.05, "false-positive rate {fpr:.3}");
    assert!(recall >= RECALL_FLOOR, "recall {recall:.3}");
}

/// Measured 0.398 (47 of 118) with the patterns alone; the classifier is where recall must come from.
const RECALL_FLOOR: f64 = 0.38;

/// The classifier layer on bastioncorpus, every row scored by a classifier that never saw it:
/// five stratified folds of bastioncorpus; for each, a classifier (the screen on the static
/// table, then MiniLM for what the screen leaves) trained on the public attack corpora, PyRIT's
/// benign rows and the other four folds, its thresholds and clearing point calibrated on rows
/// its first fits did not see. Reports MiniLM alone, the cascade as the guard runs it, how many
/// rows still reach MiniLM, and the cascade with the patterns, and holds them to floors.
#[test]
fn classifier_on_bastioncorpus_held_out_folds() {
    use aisec_guard::classifier::{self, Labelled, TrainOptions};
    use aisec_llm::linear::stratified_folds;

    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aisec-cache");
    let resolver = aisec_resolve::Resolver::new(cache.clone());
    let fetch = |name: &str| {
        resolver
            .fetch(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let minilm = aisec_llm::local::MiniLm::open(&fetch("all-minilm-l6-v2"))
        .unwrap()
        .with_window(classifier::WINDOW_TOKENS);
    let started = std::time::Instant::now();
    let (table, distilled) = aisec_llm::local::StaticEmbedder::cached(
        &minilm,
        &cache.join(classifier::SCREEN_TABLE),
        classifier::SCREEN_EMBEDDER,
    )
    .unwrap();
    eprintln!(
        "static table {} in {:.1} s",
        if distilled { "distilled" } else { "read" },
        started.elapsed().as_secs_f64()
    );
    let (mut base, requests) = classifier::pyrit_benign_rows(&fetch("pyrit-refusal")).unwrap();
    for name in classifier::ATTACK_CORPORA {
        base.extend(classifier::attack_rows(name, &fetch(name), &requests).unwrap());
    }
    // As `aisec guard train-classifier` does: repeats and contradictions out.
    let (base, _) = classifier::dedup(base);
    let bastion =
        classifier::jsonl_rows(&fetch("bastioncorpus-injections"), "bastioncorpus", true).unwrap();
    assert_eq!(bastion.len(), 181);
    let texts: Vec<&str> = bastion.iter().map(|r| r.text.as_str()).collect();
    let started = std::time::Instant::now();
    let embed = |e: &dyn aisec_llm::Embedder| {
        (
            classifier::embed_rows(e, &base).unwrap(),
            classifier::embed_rows(e, &bastion).unwrap(),
            classifier::embed_for_scoring(e, &texts).unwrap(),
        )
    };
    let (base_m, bastion_m, scoring_m) = embed(&minilm);
    let (base_s, bastion_s, scoring_s) = embed(&table);
    // The screen's filler, from the public corpora's benign words only (as training does).
    let filler = classifier::filler_vectors(&table, &base, 0).unwrap();
    eprintln!(
        "embedded {} + {} training chunks and {} test rows (both models) in {:.1} s",
        base_m.vectors.len(),
        bastion_m.vectors.len(),
        texts.len(),
        started.elapsed().as_secs_f64()
    );

    // The pattern layer's verdicts, for the two layers together.
    let policy = pattern_policy();
    let patterns: Vec<bool> = bastion
        .iter()
        .map(|r| {
            let msgs = [Message::user(r.text.as_str())];
            evaluate(&policy, &Exchange::input(&msgs)).blocked()
        })
        .collect();

    let labels: Vec<bool> = bastion.iter().map(|r| r.attack).collect();
    let folds = stratified_folds(&labels, 5, 11);
    let mut encoder_alone = vec![false; bastion.len()];
    let mut flagged = vec![false; bastion.len()];
    let mut escalated = vec![false; bastion.len()];
    for k in 0..5 {
        let mut rows: Vec<Labelled> = base.clone();
        // Rows of the test fold stay in `rows` only as unused placeholders, so the chunks' row
        // indices stay valid; they carry no chunk and so never reach the fit.
        rows.extend(bastion.iter().cloned());
        let kept: Vec<usize> = (0..rows.len())
            .filter(|&i| i < base.len() || folds[i - base.len()] != k)
            .collect();
        let with_fold = |base_e: &classifier::EmbeddedRows,
                         bastion_e: &classifier::EmbeddedRows| {
            let mut embedded = base_e.clone();
            for (chunk, &row) in bastion_e.vectors.iter().zip(&bastion_e.row) {
                if folds[row] != k {
                    embedded.vectors.push(chunk.clone());
                    embedded.row.push(base.len() + row);
                }
            }
            reindex(&rows, &embedded, &kept)
        };
        let (fold_rows, embedded_m) = with_fold(&base_m, &bastion_m);
        let (_, embedded_s) = with_fold(&base_s, &bastion_s);
        let file = classifier::train(
            &fold_rows,
            &embedded_m,
            "all-minilm-l6-v2",
            Some(classifier::ScreenInput {
                name: classifier::SCREEN_EMBEDDER,
                embedded: &embedded_s,
                filler: &filler,
            }),
            TrainOptions::default(),
        )
        .unwrap();
        let screen = file.screen.as_ref().unwrap();
        eprintln!(
            "fold {k}: MiniLM threshold {:.4} (held out: false positives {:.3}, recall {:.3}); screen threshold {:.4}, clears under {:.4} (held out: screen recall {:.3}, cascade recall {:.3}, benign rows encoded {:.3})",
            file.threshold,
            file.calibration_fpr,
            file.calibration_recall,
            screen.threshold,
            screen.clear,
            screen.calibration_recall,
            screen.calibration_cascade_recall,
            screen.calibration_escalated,
        );
        for i in (0..bastion.len()).filter(|&i| folds[i] == k) {
            encoder_alone[i] = classifier::score_vectors(&file, &scoring_m[i], None).value >= 0.5;
            let s = classifier::score_vectors(&file, &scoring_m[i], Some(&scoring_s[i]));
            flagged[i] = s.value >= 0.5;
            escalated[i] = s.encoded > 0;
        }
    }
    summary("MiniLM alone (held-out folds)", &encoder_alone, &labels);
    let (_, alone_recall, alone_fpr) = summary(
        "classifier: screen, then MiniLM (held-out folds)",
        &flagged,
        &labels,
    );
    let benign = labels.iter().filter(|l| !**l).count();
    let benign_encoded = (0..labels.len())
        .filter(|&i| !labels[i] && escalated[i])
        .count();
    #[allow(clippy::cast_precision_loss)]
    let encoded_share = benign_encoded as f64 / benign as f64;
    eprintln!(
        "benign look-alikes that reached MiniLM: {benign_encoded}/{benign} ({encoded_share:.3}); attacks: {}/{}",
        (0..labels.len())
            .filter(|&i| labels[i] && escalated[i])
            .count(),
        labels.len() - benign
    );
    let both: Vec<bool> = flagged
        .iter()
        .zip(&patterns)
        .map(|(a, b)| *a || *b)
        .collect();
    let (_, recall, fpr) = summary("patterns or classifier", &both, &labels);
    let mut by_category: std::collections::BTreeMap<String, (u32, u32)> =
        std::collections::BTreeMap::default();
    for (row, (f, r)) in bastion_rows_categories(&fetch("bastioncorpus-injections"))
        .iter()
        .zip(both.iter().zip(&labels))
    {
        let c = by_category.entry(row.clone()).or_default();
        c.1 += 1;
        if f == r {
            c.0 += 1;
        }
    }
    for (cat, (right, n)) in &by_category {
        eprintln!("  {cat:<24} {right}/{n} right");
    }
    assert!(
        alone_fpr <= CLASSIFIER_FPR_CEILING,
        "classifier false positives {alone_fpr:.3}"
    );
    assert!(
        alone_recall >= CLASSIFIER_RECALL_FLOOR,
        "classifier recall {alone_recall:.3}"
    );
    assert!(fpr <= CLASSIFIER_FPR_CEILING, "false positives {fpr:.3}");
    assert!(recall >= COMBINED_RECALL_FLOOR, "recall {recall:.3}");
    assert!(
        encoded_share <= ENCODED_CEILING,
        "{encoded_share:.3} of the benign look-alikes reached MiniLM"
    );
}

/// Floors a little under the measured figures (MiniLM alone: recall 0.271; the screen, then
/// MiniLM: recall 0.314 at 0 false positives; with the patterns: recall 0.508 at 0 false
/// positives; 18 of 63 look-alikes reached MiniLM; see docs/guard.md).
const CLASSIFIER_FPR_CEILING: f64 = 0.05;
const CLASSIFIER_RECALL_FLOOR: f64 = 0.26;
const COMBINED_RECALL_FLOOR: f64 = 0.48;
/// The most benign look-alikes allowed to reach MiniLM (the screen's job is to clear them).
const ENCODED_CEILING: f64 = 0.45;

fn bastion_rows_categories(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["category"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// `rows` and `embedded` restricted to the rows `kept`, the chunks' row indices renumbered.
fn reindex(
    rows: &[aisec_guard::classifier::Labelled],
    embedded: &aisec_guard::classifier::EmbeddedRows,
    kept: &[usize],
) -> (
    Vec<aisec_guard::classifier::Labelled>,
    aisec_guard::classifier::EmbeddedRows,
) {
    let mut new_index = vec![usize::MAX; rows.len()];
    for (n, &i) in kept.iter().enumerate() {
        new_index[i] = n;
    }
    let mut out = aisec_guard::classifier::EmbeddedRows {
        vectors: Vec::new(),
        row: Vec::new(),
    };
    for (v, &r) in embedded.vectors.iter().zip(&embedded.row) {
        if new_index[r] != usize::MAX {
            out.vectors.push(v.clone());
            out.row.push(new_index[r]);
        }
    }
    (kept.iter().map(|&i| rows[i].clone()).collect(), out)
}

/// Precision, recall and false-positive rate of `flags` against `labels`, printed.
fn summary(name: &str, flags: &[bool], labels: &[bool]) -> (f64, f64, f64) {
    let scores: Vec<f64> = flags.iter().map(|f| f64::from(u8::from(*f))).collect();
    let c = aisec_llm::linear::Confusion::count(&scores, labels, 0.5);
    #[allow(clippy::cast_precision_loss)]
    let fpr = c.false_positives as f64 / (c.false_positives + c.true_negatives).max(1) as f64;
    eprintln!(
        "{name}: precision {:.3} recall {:.3} false positives {fpr:.3} (tp {} fn {} fp {} tn {})",
        c.precision(),
        c.recall(),
        c.true_positives,
        c.false_negatives,
        c.false_positives,
        c.true_negatives
    );
    (c.precision(), c.recall(), fpr)
}

/// The pattern layer alone: injection patterns and invisible characters, `block` at 0.5.
fn pattern_policy() -> Policy {
    let mut policy = Policy::default();
    let block = Rule {
        action: Action::Block,
        threshold: 0.5,
    };
    policy.input.injection = Some(block.clone());
    policy.input.invisible = Some(block);
    policy
}
