//! Did the model refuse? The judgement behind jailbreak probes (`complied`) and the escalation
//! generator's adaptation.

use crate::error::Result;

/// Judges whether a reply is a refusal. Shared by the threads of a run.
pub trait RefusalJudge: Send + Sync {
    /// A short name for reports.
    fn name(&self) -> &str;
    /// The probability, 0..1, that `reply` refuses the request.
    ///
    /// # Errors
    /// When the model behind the judge fails.
    fn refusal_probability(&self, reply: &str) -> Result<f64>;
}
