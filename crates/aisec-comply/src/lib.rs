//! `aisec comply`: maps the evidence of aisec runs (a verified signature, a BOM, a threat model,
//! measured robustness and privacy, a red team, a guard, audit logs, the findings store) to the
//! controls of ISO/IEC 42001 Annex A, the EU AI Act, the NIST AI RMF and NIST AI 600-1, and says
//! per control whether it is evidenced, partly evidenced, a gap, or manual, with the gaps ranked
//! by what closes most. The catalogs and the mapping are data (`catalogs/*.toml`).

pub mod catalog;
pub mod evaluate;
pub mod evidence;
pub mod profile;
pub mod rules;

pub use catalog::Frameworks;
pub use evaluate::{Assessment, Closer, ControlResult, Status, evaluate};
pub use evidence::{Evidence, Run, State};
pub use profile::{EuAiAct, Profile, Tier};
pub use rules::RULES;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A catalog or the mapping is malformed or inconsistent.
    #[error("compliance catalog `{file}`: {message}")]
    Catalog {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// The `[comply]` answers are wrong.
    #[error("[comply] in aisec.toml: {0}")]
    Profile(String),
}
