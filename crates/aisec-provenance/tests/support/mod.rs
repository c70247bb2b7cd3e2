//! Shared test support.

pub mod pyenv;
