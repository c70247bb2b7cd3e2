//! Attacks on ML models, and the defenses measured against them. Every attack runs against the
//! faces of [`aisec_ml::Classifier`]: black-box attacks use `predict` only (each row a counted
//! query), white-box attacks also use the logits' input gradient.

pub mod backdoor;
pub mod defense;
pub mod error;
pub mod evasion;
pub mod extract;
pub mod linalg;
pub mod metrics;
pub mod poison;
pub mod privacy;
pub mod rules;
pub mod run;
pub mod visual;

pub use error::AttackError;
