//! Threat modeling of AI systems as code (`aisec threat-model`): a system model in YAML
//! ([`model`]), threat rules as data ([`rules`]: STRIDE per element and AI threats with MITRE
//! ATLAS and OWASP ids), the engine that applies them and links evidence from the other
//! commands' reports ([`engine`]), the data-flow diagram ([`dfd`]: Mermaid and DOT) and the
//! report parts ([`report`]), and OWASP Threat Dragon v2 import and export ([`threatdragon`]). No I/O: the binary reads the files and writes the outputs.

pub mod dfd;
pub mod engine;
pub mod model;
pub mod report;
pub mod rules;
pub mod threatdragon;

pub use engine::{Status, Threat, evaluate};
pub use model::{ModelError, SystemModel};
pub use rules::ThreatRule;
