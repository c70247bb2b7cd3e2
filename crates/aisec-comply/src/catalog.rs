//! The frameworks as data: one TOML catalog per framework (controls, obligations or risks) and
//! the mapping from each kind of aisec evidence to the controls it supports, with the reason.
//! The built-in files are compiled in and checked against each other when loaded.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::Error;

/// When an EU AI Act obligation applies, by the questionnaire's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    /// Every AI system.
    Always,
    /// A practice Art. 5 forbids was declared.
    Prohibited,
    /// High-risk: an Annex III area, or a safety component of an Annex I product.
    HighRisk,
    /// The system interacts with people (Art. 50(1)).
    InteractsWithPeople,
    /// The system generates synthetic audio, image, video or text (Art. 50(2)).
    SyntheticContent,
    /// Emotion recognition or biometric categorisation (Art. 50(3)).
    EmotionOrBiometric,
    /// The system makes deep fakes (Art. 50(4)).
    DeepFake,
    /// A general-purpose AI model (Art. 53).
    Gpai,
    /// A general-purpose AI model with systemic risk (Art. 55).
    GpaiSystemic,
}

/// Who carries an obligation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Develops the system or places it on the market.
    Provider,
    /// Uses the system under its authority.
    Deployer,
}

/// One control, obligation or risk of a framework.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    /// The framework's id (`A.6.2.4`, `MEASURE 2.7`, `Art. 15`).
    pub id: String,
    /// Short title, in our words.
    pub title: String,
    /// What a person must attest where no evidence shows it (the title when not given).
    #[serde(default)]
    pub attest: Option<String>,
    /// When it applies (EU AI Act); always when not given.
    #[serde(default)]
    pub when: Option<Condition>,
    /// Who carries it (EU AI Act); everyone when empty.
    #[serde(default)]
    pub roles: Vec<Role>,
}

impl Control {
    /// What a person attests for this control.
    #[must_use]
    pub fn attestation(&self) -> &str {
        self.attest.as_deref().unwrap_or(&self.title)
    }
}

/// A framework's catalog.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Short id (`iso42001`).
    pub id: String,
    /// Full title.
    pub title: String,
    /// `generative`: the catalog applies only to generative AI systems.
    #[serde(default)]
    pub applies: Option<String>,
    /// Controls in the framework's order.
    #[serde(rename = "control")]
    pub controls: Vec<Control>,
}

/// Why one kind of evidence supports some controls.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Support {
    /// `CATALOG:ID` of each control.
    pub controls: Vec<String>,
    /// The reason, in one sentence.
    pub why: String,
}

/// One kind of evidence an aisec run produces.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceKind {
    /// Stable kind (`signature-verified`).
    pub kind: String,
    /// One line.
    pub title: String,
    /// The command that produces it.
    pub produced_by: String,
    /// When it counts.
    pub passes: String,
    /// The controls it supports.
    pub supports: Vec<Support>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    evidence: Vec<EvidenceKind>,
}

/// Every catalog with the evidence mapping, checked against each other.
#[derive(Debug, Clone)]
pub struct Frameworks {
    /// The catalogs, in report order.
    pub catalogs: Vec<Catalog>,
    /// The evidence kinds and what they support.
    pub evidence: Vec<EvidenceKind>,
}

const BUILTIN: [(&str, &str); 4] = [
    ("iso42001.toml", include_str!("../catalogs/iso42001.toml")),
    ("eu-ai-act.toml", include_str!("../catalogs/eu-ai-act.toml")),
    (
        "nist-ai-rmf.toml",
        include_str!("../catalogs/nist-ai-rmf.toml"),
    ),
    (
        "nist-ai-600-1.toml",
        include_str!("../catalogs/nist-ai-600-1.toml"),
    ),
];
const MAPPING: &str = include_str!("../catalogs/mapping.toml");

impl Frameworks {
    /// The built-in catalogs and mapping.
    #[must_use]
    pub fn builtin() -> &'static Self {
        static BUILT: OnceLock<Frameworks> = OnceLock::new();
        BUILT.get_or_init(|| {
            Self::from_texts(&BUILTIN, MAPPING).expect("the built-in catalogs are consistent")
        })
    }

    /// Reads catalogs (`(file name, TOML)`) and a mapping, and checks that ids are unique and
    /// every control the mapping names exists.
    pub fn from_texts(catalogs: &[(&str, &str)], mapping: &str) -> Result<Self, Error> {
        let mut out = Vec::new();
        for (name, text) in catalogs {
            let c: Catalog = toml::from_str(text).map_err(|e| Error::Catalog {
                file: (*name).to_owned(),
                message: e.to_string(),
            })?;
            let mut seen = BTreeSet::new();
            for control in &c.controls {
                if !seen.insert(control.id.as_str()) {
                    return Err(Error::Catalog {
                        file: (*name).to_owned(),
                        message: format!("control `{}` listed twice", control.id),
                    });
                }
            }
            out.push(c);
        }
        let mapping: MappingFile = toml::from_str(mapping).map_err(|e| Error::Catalog {
            file: "mapping.toml".into(),
            message: e.to_string(),
        })?;
        let fw = Self {
            catalogs: out,
            evidence: mapping.evidence,
        };
        let mut kinds = BTreeSet::new();
        for e in &fw.evidence {
            if !kinds.insert(e.kind.as_str()) {
                return Err(Error::Catalog {
                    file: "mapping.toml".into(),
                    message: format!("evidence kind `{}` listed twice", e.kind),
                });
            }
            for s in &e.supports {
                for r in &s.controls {
                    if fw.control(r).is_none() {
                        return Err(Error::Catalog {
                            file: "mapping.toml".into(),
                            message: format!("`{}` names `{r}`, which no catalog has", e.kind),
                        });
                    }
                }
            }
        }
        Ok(fw)
    }

    /// The control a `CATALOG:ID` reference names.
    #[must_use]
    pub fn control(&self, reference: &str) -> Option<(&Catalog, &Control)> {
        let (cat, id) = reference.split_once(':')?;
        let c = self.catalogs.iter().find(|c| c.id == cat)?;
        c.controls.iter().find(|x| x.id == id).map(|x| (c, x))
    }

    /// The evidence kinds that support a control, each with the reason.
    pub fn supporting<'a>(
        &'a self,
        catalog: &'a str,
        control: &'a str,
    ) -> impl Iterator<Item = (&'a EvidenceKind, &'a str)> + 'a {
        self.evidence.iter().flat_map(move |e| {
            e.supports
                .iter()
                .filter(move |s| {
                    s.controls.iter().any(|r| {
                        r.split_once(':')
                            .is_some_and(|(c, i)| c == catalog && i == control)
                    })
                })
                .map(move |s| (e, s.why.as_str()))
        })
    }

    /// The evidence kind named `kind`.
    #[must_use]
    pub fn kind(&self, kind: &str) -> Option<&EvidenceKind> {
        self.evidence.iter().find(|e| e.kind == kind)
    }
}
