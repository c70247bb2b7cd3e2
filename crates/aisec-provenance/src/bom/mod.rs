//! AI bills of materials: CycloneDX 1.6 JSON and SPDX 3.0.1 JSON-LD (AI and Dataset profiles).
//!
//! [`inspect`] walks a model directory into an [`Inventory`] (files hashed, model cards,
//! `config.json` and `requirements.txt` read under size and depth caps); [`cyclonedx`] and
//! [`spdx3`] render it, with the scan findings the caller hands over (this crate does not scan);
//! [`completeness`] scores it. Nothing here prints; docs/bom.md maps every field.
//!
//! ```no_run
//! use aisec_provenance::bom::{self, BomMeta, InspectOptions};
//! let inv = bom::inspect("models/tiny".as_ref(), &InspectOptions::default())?;
//! let meta = BomMeta::now("0.1.0")?;
//! let json = bom::cyclonedx(&inv, Some(&[]), &meta);
//! let score = bom::completeness(&inv, true);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod card;
mod completeness;
mod cyclonedx;
mod error;
mod ids;
mod inventory;
mod spdx3;
/// The bounded YAML loader (model-card front matter), from `aisec-yaml`.
pub use aisec_yaml as yaml;

use std::time::SystemTime;

pub use card::{Considerations, Metric, ModelCard, ModelConfig, Requirement, Risk};
pub use completeness::{Completeness, FieldStatus, ModelCompleteness, Tier, completeness};
pub use error::{Error, Result};
pub use ids::SPDX_LICENSES;
pub use inventory::{FileEntry, InspectOptions, Inventory, Model, inspect};

/// What identifies one BOM document: its serial number, time and the tool version.
#[derive(Debug, Clone)]
pub struct BomMeta {
    /// 16 random bytes; rendered as a version-4 UUID.
    pub serial: [u8; 16],
    /// When the BOM was made.
    pub timestamp: SystemTime,
    /// aisec's version.
    pub tool_version: String,
}

impl BomMeta {
    /// A fresh serial number from the operating system's random source, and the current time.
    pub fn now(tool_version: &str) -> std::result::Result<Self, getrandom::Error> {
        Ok(Self {
            serial: ids::random_uuid()?,
            timestamp: SystemTime::now(),
            tool_version: tool_version.to_owned(),
        })
    }
}

/// The CycloneDX 1.6 BOM. `findings`: `None` when no scan ran.
#[must_use]
pub fn cyclonedx(
    inv: &Inventory,
    findings: Option<&[aisec_core::Finding]>,
    meta: &BomMeta,
) -> serde_json::Value {
    cyclonedx::render(inv, findings, meta)
}

/// The SPDX 3.0.1 document. `findings`: `None` when no scan ran.
#[must_use]
pub fn spdx3(
    inv: &Inventory,
    findings: Option<&[aisec_core::Finding]>,
    meta: &BomMeta,
) -> serde_json::Value {
    spdx3::render(inv, findings, meta)
}
