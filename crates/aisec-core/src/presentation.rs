//! What a report carries besides findings: measured metrics, tables and charts that present them,
//! and artifacts written beside the report (pictures, adversarial examples). Renderers that can
//! show them (Markdown, HTML) do; the JSON report keeps them all.

use serde::{Deserialize, Serialize};

/// A titled table of text cells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Stable id (`evasion-results`).
    pub id: String,
    /// Caption.
    pub title: String,
    /// Column headers.
    pub columns: Vec<String>,
    /// Rows, each as long as `columns`.
    pub rows: Vec<Vec<String>>,
}

/// A line chart: one or more series of points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chart {
    /// Stable id, also the artifact's file stem (`robust-accuracy`).
    pub id: String,
    /// Caption.
    pub title: String,
    /// The x axis label.
    pub x_label: String,
    /// The y axis label.
    pub y_label: String,
    /// Draw x on a log scale (ROC curves at low false-positive rates).
    #[serde(default)]
    pub x_log: bool,
    /// Draw y on a log scale too (ROC curves: true-positive rates at low false-positive rates).
    #[serde(default)]
    pub y_log: bool,
    /// Fixed y range, when the quantity has one (accuracy: 0 to 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y_range: Option<[f64; 2]>,
    /// Names of the x positions 0, 1, 2, …: when given, the chart is drawn as grouped bars,
    /// one group per category and one bar per series.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// The lines.
    pub series: Vec<Series>,
}

/// One line of a chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// `(x, y)` points in drawing order.
    pub points: Vec<[f64; 2]>,
}

/// A file written beside the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// What it is (`image/png`, `image/svg+xml`, `application/x-npy`).
    pub media_type: String,
    /// Path as written (relative to the working directory, or absolute).
    pub path: String,
    /// One line about it.
    pub description: String,
    /// Hex SHA-256 of the bytes written.
    pub sha256: String,
}
