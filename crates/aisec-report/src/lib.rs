//! Renders an [`aisec_core::Report`] in one of the output formats: `human`, `json`, `sarif`,
//! `markdown`, `html`.
//!
//! Each format is one [`Emitter`]. Renderers write to any `io::Write` and never print on their own;
//! the binary picks stdout or a file.

mod error;
mod html;
mod human;
mod json;
mod markdown;
mod sarif;
pub mod svg;

use std::io::Write;

use aisec_core::{Report, Severity};

pub use error::Error;
pub use html::Html;
pub use human::Human;
pub use json::Json;
pub use markdown::Markdown;
pub use sarif::{NOT_ANALYSED_RULE, Sarif};

/// Documentation of a rule, for formats that embed it (SARIF).
#[derive(Debug, Clone)]
pub struct RuleDoc {
    /// Stable id (`MS101`).
    pub id: String,
    /// Kebab-case name.
    pub name: String,
    /// One-line title.
    pub title: String,
    /// Full description (Markdown).
    pub help: String,
    /// Default severity.
    pub severity: Severity,
    /// Taxonomy tags (`external/cwe/cwe-502`, ATLAS ids).
    pub tags: Vec<String>,
    /// A page with more.
    pub help_uri: Option<String>,
}

/// A renderer of reports.
pub trait Emitter {
    /// Writes `report` to `out`.
    fn emit(&mut self, out: &mut dyn Write, report: &Report) -> Result<(), Error>;
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// For people at a terminal.
    Human,
    /// The JSON report (the public contract).
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
    /// Markdown, for pull requests and wikis.
    Markdown,
    /// One self-contained HTML page.
    Html,
}

impl Format {
    /// Every format's name.
    pub const NAMES: [&'static str; 5] = ["human", "json", "sarif", "markdown", "html"];
}

impl std::str::FromStr for Format {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "human" => Ok(Self::Human),
            "json" => Ok(Self::Json),
            "sarif" => Ok(Self::Sarif),
            "markdown" | "md" => Ok(Self::Markdown),
            "html" => Ok(Self::Html),
            other => Err(Error::UnknownFormat(other.to_owned())),
        }
    }
}
