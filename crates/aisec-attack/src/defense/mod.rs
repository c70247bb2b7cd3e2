//! Defenses an evasion run is measured against: a hardened model (PGD adversarial training) and a
//! detector that flags adversarial inputs (feature squeezing).

pub mod adversarial_training;
pub mod feature_squeezing;
