//! Defenses: against evasion, a hardened model (PGD adversarial training) and a detector that
//! flags adversarial inputs (feature squeezing); against poisoning, detectors that flag poisoned
//! training rows (activation clustering, spectral signatures) and a repair of a backdoored model
//! (fine-pruning).

pub mod activation_clustering;
pub mod adversarial_training;
pub mod feature_squeezing;
pub mod fine_pruning;
pub mod spectral_signatures;
pub mod training_set;
