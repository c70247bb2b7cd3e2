//! Inspection of LLM text shared by the red team's detectors and the guard's scanners: text
//! normalisation and reversible decodings ([`text`]), planted secrets ([`canary`]), markdown and HTML images and links
//! ([`links`]), and code an application might run ([`code`]). Pure functions over strings, every
//! pattern linear-time (the `regex` crate).

pub mod canary;
pub mod code;
pub mod links;
pub mod text;
