//! Finds code that runs, and unsafe constructs, in model artifacts, without ever loading them.

mod blob;
mod formats;
mod limits;

pub use limits::Limits;
