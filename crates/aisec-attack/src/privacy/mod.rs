//! Privacy attacks: what a model's answers (or its weights) give away about its training data.
//! Attribute inference recovers a hidden column of a record from the model's outputs and the
//! record's other columns; model inversion reconstructs what a class looks like to the model.

pub mod attribute;
pub mod inversion;
