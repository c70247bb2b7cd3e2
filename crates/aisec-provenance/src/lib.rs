//! Model provenance.
//!
//! - [`signing`]: the OpenSSF model-signing v1.0 format (a Sigstore bundle holding a DSSE envelope of
//!   an in-toto statement that lists every file of a model with its digest): sign, verify.
//! - [`bom`]: AI bills of materials (CycloneDX 1.6 JSON, SPDX 3.0 with the AI and Dataset profiles).
//!
//! Nothing here prints; every function returns typed results for the binary to render.

pub mod bom;
pub mod rules;
pub mod signing;

pub use rules::RULES;
