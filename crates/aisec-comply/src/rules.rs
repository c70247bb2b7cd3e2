//! The CP rules: what `aisec comply` reports as findings.

use aisec_core::{Rule, Severity};

const REFS: &[&str] = &[
    "ISO/IEC 42001:2023, Annex A",
    "Regulation (EU) 2024/1689 (AI Act)",
    "NIST AI 100-1, AI Risk Management Framework 1.0",
    "NIST AI 600-1, Generative AI Profile",
];

/// CP100: evidence that would improve controls is missing or failing.
pub static MISSING: &Rule = &RULES[0];
/// CP110: a prohibited practice is declared.
pub static PROHIBITED: &Rule = &RULES[1];
/// CP120: the EU AI Act questionnaire is unanswered.
pub static UNANSWERED: &Rule = &RULES[2];

/// Every comply rule, sorted by id.
pub static RULES: &[Rule] = &[
    Rule {
        id: "CP100",
        name: "compliance-evidence-missing",
        title: "Compliance evidence missing or failing",
        severity: Severity::Medium,
        what: "A kind of evidence (a verified signature, a red team run, a measured robustness, …) that supports framework controls is absent from the assessment, or the check ran and failed.",
        why: "Each such kind leaves controls of ISO/IEC 42001, the EU AI Act, the NIST AI RMF or NIST AI 600-1 as gaps or partly evidenced; an auditor asks for it.",
        example: "No `aisec verify` stage in aisec.toml: `signature-verified` is absent, and the supplier and deployment controls it supports stay open.",
        remediation: "Run the command the finding names (add its stage to aisec.toml), or fix what makes it fail; `aisec comply` ranks these by how many controls each closes.",
        atlas: &[],
        cwe: &[],
        references: REFS,
    },
    Rule {
        id: "CP110",
        name: "eu-ai-act-prohibited-practice",
        title: "EU AI Act prohibited practice declared",
        severity: Severity::Critical,
        what: "The EU AI Act questionnaire in aisec.toml declares a practice Art. 5 forbids.",
        why: "A system using a prohibited practice may not be placed on the EU market, put into service or used there; fines reach 7% of worldwide turnover.",
        example: "`[comply.eu_ai_act] prohibited = [\"social-scoring\"]`",
        remediation: "Remove the practice from the system, or keep the system out of the EU; get legal advice.",
        atlas: &[],
        cwe: &[],
        references: REFS,
    },
    Rule {
        id: "CP120",
        name: "eu-ai-act-questionnaire-unanswered",
        title: "EU AI Act questionnaire not answered",
        severity: Severity::Low,
        what: "aisec.toml has no `[comply.eu_ai_act]` table, so the system's risk tier is unknown.",
        why: "Which obligations apply (high-risk duties, transparency, GPAI) depends on the tier; without it only the obligations every system has are checked.",
        example: "An aisec.toml whose `[comply]` table has no `eu_ai_act` answers.",
        remediation: "Answer the questionnaire: roles, prohibited practices, Annex III areas, Art. 50 questions, GPAI (docs/comply.md).",
        atlas: &[],
        cwe: &[],
        references: REFS,
    },
];
