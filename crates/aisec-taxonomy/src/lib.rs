//! The taxonomies aisec speaks: MITRE ATLAS (a built-in index of ids and names, and the full
//! data loaded from the official `ATLAS.yaml`), the OWASP Top 10 for LLM Applications 2025, the
//! OWASP Top 10 for Agentic Applications 2026, and STRIDE. Facts only (ids, names, relations);
//! no I/O but parsing text handed in.

pub mod atlas;
mod atlas_index;
pub mod owasp;
pub mod stride;

pub use atlas::{Atlas, AtlasError, CaseStudy, Mitigation, Tactic, Technique};
pub use stride::Stride;
