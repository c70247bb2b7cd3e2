//! Privacy attacks: what a model's answers (or its weights) give away about its training data.
//! Membership inference ([`membership`], run as an experiment or an audit by [`run`], measured by
//! [`roc`]) tells whether a record was in the training set; attribute inference recovers a hidden
//! column of a record from the model's outputs and the record's other columns; model inversion
//! reconstructs what a class looks like to the model.

pub mod attribute;
pub mod inversion;
pub mod membership;
pub mod roc;
pub mod run;
