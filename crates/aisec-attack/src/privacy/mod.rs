//! Privacy attacks: what a model's answers reveal about its training data. Membership inference
//! ([`membership`], run as an experiment or an audit by [`run`]) with its ROC measures ([`roc`]).

pub mod membership;
pub mod roc;
pub mod run;
