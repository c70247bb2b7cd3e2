//! Defenses: against evasion, a hardened model (PGD adversarial training) and a detector that flags
//! adversarial inputs (feature squeezing); against backdoors, repair by fine-pruning.

pub mod adversarial_training;
pub mod feature_squeezing;
pub mod fine_pruning;
