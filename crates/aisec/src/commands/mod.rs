//! One module per command.

pub(crate) mod bom;
pub(crate) mod progress;
pub(crate) mod rules;
pub(crate) mod scan;
pub(crate) mod sign;
pub(crate) mod verify;
