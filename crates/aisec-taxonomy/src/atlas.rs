//! MITRE ATLAS: tactics, techniques (with sub-techniques), mitigations and case studies.
//!
//! [`Atlas::builtin`] is the compact index shipped in the binary (ids, names, tactics, for
//! offline use and for checking rule ids); [`Atlas::from_yaml`] reads the official `ATLAS.yaml`
//! (the `dist/ATLAS.yaml` of MITRE's atlas-data repository) for the full data: descriptions,
//! which techniques each mitigation addresses, case studies and their procedures. The file is
//! untrusted text: bounded in size and nodes, and every field is checked for its shape.

use serde::Serialize;
use serde_json::Value;

use crate::atlas_index;

/// The largest `ATLAS.yaml` read (5.6.0 is 450 KB).
pub const MAX_BYTES: usize = 32 << 20;
/// Most YAML nodes.
const MAX_NODES: usize = 2_000_000;
/// Most objects of one kind.
const MAX_OBJECTS: usize = 100_000;

/// Why ATLAS data could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AtlasError {
    /// The YAML itself.
    #[error("ATLAS data: {0}")]
    Yaml(#[from] aisec_yaml::YamlError),
    /// A structure that is not ATLAS's.
    #[error("ATLAS data, line {line}: {message}")]
    Shape {
        /// What is wrong.
        message: String,
        /// Where (1-based; 0 when unknown).
        line: usize,
    },
}

/// A tactic: the adversary's goal in one phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tactic {
    /// `AML.TA0000`.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// A technique or sub-technique.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Technique {
    /// `AML.T0051` or `AML.T0051.000`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The tactics it serves (a sub-technique's are its parent's).
    pub tactics: Vec<String>,
    /// The parent of a sub-technique.
    pub parent: Option<String>,
    /// `demonstrated`, `realized` or `feasible`, when the data says.
    pub maturity: Option<String>,
    /// Its description, with the full data.
    pub description: Option<String>,
}

/// A mitigation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mitigation {
    /// `AML.M0000`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The techniques it addresses, with the full data.
    pub techniques: Vec<String>,
}

/// A case study: an exercise or an incident, as a procedure of techniques.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseStudy {
    /// `AML.CS0000`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `exercise` or `incident`.
    pub kind: Option<String>,
    /// The techniques of its procedure, in order.
    pub techniques: Vec<String>,
}

/// ATLAS data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Atlas {
    /// The data's version (`5.6.0`).
    pub version: String,
    /// Tactics in the matrix's order.
    pub tactics: Vec<Tactic>,
    /// Techniques and sub-techniques.
    pub techniques: Vec<Technique>,
    /// Mitigations.
    pub mitigations: Vec<Mitigation>,
    /// Case studies (empty in the built-in index).
    pub case_studies: Vec<CaseStudy>,
}

impl Atlas {
    /// The built-in index: ids, names and tactics of every tactic, technique and mitigation of
    /// the version it was taken from; no descriptions, mitigation links or case studies.
    #[must_use]
    pub fn builtin() -> Self {
        Self {
            version: atlas_index::VERSION.to_owned(),
            tactics: atlas_index::TACTICS
                .iter()
                .map(|(id, name)| Tactic {
                    id: (*id).to_owned(),
                    name: (*name).to_owned(),
                })
                .collect(),
            techniques: atlas_index::TECHNIQUES
                .iter()
                .map(|(id, name, tactics)| Technique {
                    id: (*id).to_owned(),
                    name: (*name).to_owned(),
                    tactics: tactics.iter().map(|t| (*t).to_owned()).collect(),
                    parent: id.rsplit_once('.').and_then(|(p, last)| {
                        (p.starts_with("AML.T") && p.matches('.').count() == 1 && last.len() == 3)
                            .then(|| p.to_owned())
                    }),
                    maturity: None,
                    description: None,
                })
                .collect(),
            mitigations: atlas_index::MITIGATIONS
                .iter()
                .map(|(id, name)| Mitigation {
                    id: (*id).to_owned(),
                    name: (*name).to_owned(),
                    techniques: Vec::new(),
                })
                .collect(),
            case_studies: Vec::new(),
        }
    }

    /// Reads the official `ATLAS.yaml`.
    ///
    /// # Errors
    /// [`AtlasError`] for YAML over its bounds or a structure that is not ATLAS's, with the line.
    pub fn from_yaml(text: &str) -> Result<Self, AtlasError> {
        let limits = aisec_yaml::Limits {
            max_bytes: MAX_BYTES,
            max_depth: 32,
            max_nodes: MAX_NODES,
            max_scalar: 1 << 20,
        };
        let doc = aisec_yaml::load_located(text, limits)?;
        let shape = |pointer: &str, message: String| AtlasError::Shape {
            message,
            line: doc.lines.line(pointer).unwrap_or(0),
        };
        let root = &doc.value;
        let version = match root.get("version") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(shape("/version", "no `version`".into())),
        };
        let matrix = root
            .get("matrices")
            .and_then(Value::as_array)
            .and_then(|m| m.first())
            .ok_or_else(|| shape("/matrices", "no `matrices`".into()))?;
        let list = |key: &str| -> Result<&Vec<Value>, AtlasError> {
            let v = matrix
                .get(key)
                .and_then(Value::as_array)
                .ok_or_else(|| shape("/matrices/0", format!("no `{key}` list")))?;
            if v.len() > MAX_OBJECTS {
                return Err(shape(
                    "/matrices/0",
                    format!("more than {MAX_OBJECTS} {key}"),
                ));
            }
            Ok(v)
        };
        let text = |v: &Value, key: &str, at: &str| -> Result<String, AtlasError> {
            v.get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| shape(at, format!("no `{key}`")))
        };
        let ids = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().or_else(|| x.get("id")?.as_str()))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut tactics = Vec::new();
        for (i, t) in list("tactics")?.iter().enumerate() {
            let at = format!("/matrices/0/tactics/{i}");
            tactics.push(Tactic {
                id: text(t, "id", &at)?,
                name: text(t, "name", &at)?,
            });
        }
        let mut techniques = Vec::new();
        for (i, t) in list("techniques")?.iter().enumerate() {
            let at = format!("/matrices/0/techniques/{i}");
            techniques.push(Technique {
                id: text(t, "id", &at)?,
                name: text(t, "name", &at)?,
                tactics: ids(t.get("tactics")),
                parent: t
                    .get("subtechnique-of")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                maturity: t.get("maturity").and_then(Value::as_str).map(str::to_owned),
                description: t
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            });
        }
        // A sub-technique serves its parent's tactics.
        let parents: std::collections::HashMap<String, Vec<String>> = techniques
            .iter()
            .filter(|t| t.parent.is_none())
            .map(|t| (t.id.clone(), t.tactics.clone()))
            .collect();
        for t in &mut techniques {
            if t.tactics.is_empty()
                && let Some(p) = t.parent.as_ref().and_then(|p| parents.get(p))
            {
                t.tactics.clone_from(p);
            }
        }
        let mut mitigations = Vec::new();
        for (i, m) in list("mitigations")?.iter().enumerate() {
            let at = format!("/matrices/0/mitigations/{i}");
            mitigations.push(Mitigation {
                id: text(m, "id", &at)?,
                name: text(m, "name", &at)?,
                techniques: ids(m.get("techniques")),
            });
        }
        let mut case_studies = Vec::new();
        if let Some(cs) = root.get("case-studies").and_then(Value::as_array) {
            for (i, c) in cs.iter().take(MAX_OBJECTS).enumerate() {
                let at = format!("/case-studies/{i}");
                let techniques = c
                    .get("procedure")
                    .and_then(Value::as_array)
                    .map(|steps| {
                        steps
                            .iter()
                            .filter_map(|s| s.get("technique").and_then(Value::as_str))
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                case_studies.push(CaseStudy {
                    id: text(c, "id", &at)?,
                    name: text(c, "name", &at)?,
                    kind: c
                        .get("case-study-type")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    techniques,
                });
            }
        }
        Ok(Self {
            version,
            tactics,
            techniques,
            mitigations,
            case_studies,
        })
    }

    /// The technique `id`.
    #[must_use]
    pub fn technique(&self, id: &str) -> Option<&Technique> {
        self.techniques.iter().find(|t| t.id == id)
    }

    /// The mitigation `id`.
    #[must_use]
    pub fn mitigation(&self, id: &str) -> Option<&Mitigation> {
        self.mitigations.iter().find(|m| m.id == id)
    }

    /// The tactic `id`.
    #[must_use]
    pub fn tactic(&self, id: &str) -> Option<&Tactic> {
        self.tactics.iter().find(|t| t.id == id)
    }

    /// The top-level techniques of tactic `id`, in the data's order.
    pub fn techniques_of<'a>(&'a self, tactic: &'a str) -> impl Iterator<Item = &'a Technique> {
        self.techniques
            .iter()
            .filter(move |t| t.parent.is_none() && t.tactics.iter().any(|x| x == tactic))
    }
}

#[cfg(test)]
mod tests {
    use super::Atlas;

    #[test]
    fn the_builtin_index_is_consistent() {
        let a = Atlas::builtin();
        assert_eq!(a.tactics.len(), 16);
        assert!(a.techniques.len() > 150);
        let t = a.technique("AML.T0051.001").unwrap();
        assert_eq!(t.name, "Indirect");
        assert_eq!(t.parent.as_deref(), Some("AML.T0051"));
        assert_eq!(t.tactics, a.technique("AML.T0051").unwrap().tactics);
        for t in &a.techniques {
            assert!(!t.tactics.is_empty(), "{}", t.id);
            for x in &t.tactics {
                assert!(a.tactic(x).is_some(), "{} names {x}", t.id);
            }
            if let Some(p) = &t.parent {
                assert!(a.technique(p).is_some(), "{}", t.id);
            }
        }
        assert_eq!(
            a.mitigation("AML.M0020").unwrap().name,
            "Generative AI Guardrails"
        );
        assert!(a.techniques_of("AML.TA0005").any(|t| t.id == "AML.T0051"));
    }

    #[test]
    fn malformed_data_is_an_error_with_a_line() {
        for doc in [
            "",
            "version: 1\n",
            "version: 1\nmatrices:\n- id: x\n  tactics:\n  - name: no id\n",
        ] {
            assert!(Atlas::from_yaml(doc).is_err(), "{doc:?}");
        }
        let e = Atlas::from_yaml("version: 1\nmatrices:\n- id: x\n  tactics:\n  - name: no id\n")
            .unwrap_err();
        assert!(e.to_string().contains("line 5"), "{e}");
    }
}
