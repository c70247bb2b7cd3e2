//! The project's answers: which frameworks to report, the EU AI Act questionnaire that sets the
//! risk tier, and what people attest. Read from the `[comply]` table of `aisec.toml`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::catalog::{Condition, Role};

/// The `[comply]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Catalog ids to report (`iso42001`, `eu-ai-act`, `nist-ai-rmf`, `nist-ai-600-1`); all
    /// when empty.
    #[serde(default)]
    pub frameworks: Vec<String>,
    /// Whether the system is generative AI (NIST AI 600-1 applies). When not given: yes if a
    /// red team or guard run is among the evidence.
    #[serde(default)]
    pub generative: Option<bool>,
    /// The EU AI Act questionnaire; the tier is unknown when absent.
    #[serde(default)]
    pub eu_ai_act: Option<EuAiAct>,
    /// Attestations by `CATALOG:ID`: who confirmed what, in the person's words.
    #[serde(default)]
    pub attest: BTreeMap<String, String>,
}

/// A practice Art. 5 of the EU AI Act forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Practice {
    /// Art. 5(1)(a): subliminal, manipulative or deceptive techniques that distort behaviour.
    SubliminalManipulation,
    /// Art. 5(1)(b): exploiting vulnerabilities of age, disability or social situation.
    ExploitingVulnerabilities,
    /// Art. 5(1)(c): social scoring leading to detrimental treatment.
    SocialScoring,
    /// Art. 5(1)(d): predicting crime from profiling or personality traits alone.
    CrimePredictionByProfiling,
    /// Art. 5(1)(e): untargeted scraping of facial images for recognition databases.
    FacialImageScraping,
    /// Art. 5(1)(f): emotion recognition at work or in education.
    EmotionRecognitionAtWorkOrSchool,
    /// Art. 5(1)(g): biometric categorisation inferring sensitive traits.
    BiometricCategorisationSensitive,
    /// Art. 5(1)(h): real-time remote biometric identification in public for law enforcement.
    RealtimeRemoteBiometricIdentification,
}

/// An Annex III area of high-risk use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Area {
    /// 1: biometrics.
    Biometrics,
    /// 2: critical infrastructure.
    CriticalInfrastructure,
    /// 3: education and vocational training.
    Education,
    /// 4: employment and workers management.
    Employment,
    /// 5: access to essential private and public services (credit, insurance, benefits).
    EssentialServices,
    /// 6: law enforcement.
    LawEnforcement,
    /// 7: migration, asylum and border control.
    MigrationBorder,
    /// 8: administration of justice and democratic processes.
    JusticeDemocracy,
}

/// The EU AI Act questionnaire.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EuAiAct {
    /// The organisation's roles for this system.
    #[serde(default = "default_roles")]
    pub roles: Vec<Role>,
    /// Practices of Art. 5 the system uses (it must be none).
    #[serde(default)]
    pub prohibited: Vec<Practice>,
    /// Annex III areas the system is used in.
    #[serde(default)]
    pub annex_iii: Vec<Area>,
    /// The system is a safety component of a product under Annex I legislation.
    #[serde(default)]
    pub annex_i_safety_component: bool,
    /// The system interacts directly with people.
    #[serde(default)]
    pub interacts_with_people: bool,
    /// The system generates synthetic audio, image, video or text.
    #[serde(default)]
    pub synthetic_content: bool,
    /// The system recognises emotions or categorises people biometrically.
    #[serde(default)]
    pub emotion_or_biometric: bool,
    /// The system makes deep fakes.
    #[serde(default)]
    pub deep_fake: bool,
    /// The organisation provides a general-purpose AI model.
    #[serde(default)]
    pub gpai: bool,
    /// That model has systemic risk (Art. 51).
    #[serde(default)]
    pub gpai_systemic_risk: bool,
}

fn default_roles() -> Vec<Role> {
    vec![Role::Provider]
}

/// The EU AI Act risk tier the answers give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    /// A prohibited practice: the system may not be placed on the EU market.
    Prohibited,
    /// High-risk (Art. 6): Annex III, or an Annex I safety component.
    HighRisk,
    /// Transparency obligations only (Art. 50).
    Limited,
    /// No specific obligation beyond AI literacy.
    Minimal,
    /// The questionnaire was not answered.
    Unknown,
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Prohibited => "prohibited",
            Self::HighRisk => "high-risk",
            Self::Limited => "limited (transparency)",
            Self::Minimal => "minimal",
            Self::Unknown => "unknown",
        })
    }
}

impl EuAiAct {
    /// The tier.
    #[must_use]
    pub fn tier(&self) -> Tier {
        if !self.prohibited.is_empty() {
            Tier::Prohibited
        } else if !self.annex_iii.is_empty() || self.annex_i_safety_component {
            Tier::HighRisk
        } else if self.interacts_with_people
            || self.synthetic_content
            || self.emotion_or_biometric
            || self.deep_fake
        {
            Tier::Limited
        } else {
            Tier::Minimal
        }
    }

    /// Whether the answers make `condition` hold.
    #[must_use]
    pub fn holds(&self, condition: Condition) -> bool {
        match condition {
            Condition::Always => true,
            Condition::Prohibited => !self.prohibited.is_empty(),
            Condition::HighRisk => !self.annex_iii.is_empty() || self.annex_i_safety_component,
            Condition::InteractsWithPeople => self.interacts_with_people,
            Condition::SyntheticContent => self.synthetic_content,
            Condition::EmotionOrBiometric => self.emotion_or_biometric,
            Condition::DeepFake => self.deep_fake,
            Condition::Gpai => self.gpai || self.gpai_systemic_risk,
            Condition::GpaiSystemic => self.gpai_systemic_risk,
        }
    }
}
