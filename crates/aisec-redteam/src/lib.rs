//! The red team of aisec: probe families as data ([`probe`]), obfuscation converters, detectors
//! that judge each reply, and a runner that measures how often each attack succeeds against any
//! [`aisec_llm::ChatTarget`].
//!
//! Nothing here prints or exits: every failure is a [`RedteamError`].

pub mod attempt;
pub mod catalog;
pub mod convert;
pub mod detect;
mod error;
pub mod findings;
pub mod probe;
pub mod refusal;
pub mod rules;
pub mod run;

pub use aisec_llm::corpus;
pub use error::{RedteamError, Result};
