//! The LLM firewall of aisec: scanners over prompts and replies ([`scan`]), the policy that
//! says what their hits mean ([`policy`]), and the engine that turns an exchange into a verdict
//! ([`engine::evaluate`]). Pure functions: no I/O but reading a policy file, no clock; the proxy
//! is a thin adapter over them.

pub mod classifier;
pub mod engine;
mod error;
pub mod monitor;
pub mod policy;
pub mod proxy;
pub mod scan;

pub use engine::{
    Exchange, Fired, InjectionClassifier, Models, Stage, Verdict, evaluate, evaluate_with,
};
pub use error::{GuardError, Result};
pub use policy::{Action, FailMode, Policy};
