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
    let mut policy = Policy::default();
    let block = Rule {
        action: Action::Block,
        threshold: 0.5,
    };
    policy.input.injection = Some(block.clone());
    policy.input.invisible = Some(block);
    let (mut tp, mut fp, mut tn, mut fn_) = (0, 0, 0, 0);
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
        match (attack, blocked) {
            (true, true) => tp += 1,
            (true, false) => fn_ += 1,
            (false, true) => fp += 1,
            (false, false) => tn += 1,
        }
    }
    let precision = f64::from(tp) / f64::from((tp + fp).max(1));
    let recall = f64::from(tp) / f64::from(tp + fn_);
    let fpr = f64::from(fp) / f64::from(fp + tn);
    eprintln!(
        "bastioncorpus: precision {precision:.3} recall {recall:.3} false positives {fpr:.3} \
         (tp {tp} fn {fn_} fp {fp} tn {tn})"
    );
    for (cat, (right, n)) in &by_category {
        eprintln!("  {cat:<24} {right}/{n} right");
    }
    assert_eq!(tp + fn_, 118);
    assert_eq!(fp + tn, 63);
    // Floors a little under the measured figures (see docs/guard.md): a change that loses
    // recall or adds false alarms fails here.
    assert!(precision >= 0.95, "precision {precision:.3}");
    assert!(fpr <= 0.05, "false-positive rate {fpr:.3}");
    assert!(recall >= RECALL_FLOOR, "recall {recall:.3}");
}

/// Measured 0.398 (47 of 118) with the patterns alone; the classifier is where recall must come from.
const RECALL_FLOOR: f64 = 0.38;
