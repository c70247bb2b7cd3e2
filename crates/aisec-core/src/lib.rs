//! The vocabulary every aisec capability speaks: [`Finding`], [`Severity`], [`Confidence`], [`RuleId`],
//! [`Location`], [`Taxonomy`] references and the [`Report`] that wraps them.
//!
//! This crate does no I/O. Capability crates produce these values, `aisec-report` renders them, and the
//! JSON form of [`Report`] is the public contract of `--format json`.

mod finding;
mod presentation;
mod report;
mod rule;
mod severity;
pub mod stats;
pub mod time;

pub use finding::{Confidence, Finding, Location, RuleId, Taxonomy};
pub use presentation::{Artifact, Chart, Series, Table};
pub use report::{Report, Target, TargetStatus, Tool};
pub use rule::Rule;
pub use severity::{ParseSeverityError, Severity};
