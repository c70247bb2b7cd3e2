//! Shared test support. Each test binary uses part of it.
#![allow(dead_code, unreachable_pub)]

pub mod pyenv;
