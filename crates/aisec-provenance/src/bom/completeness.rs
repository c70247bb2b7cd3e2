//! How complete a BOM is, measured against the fields a regulator or a buyer asks about a model.
//!
//! The tiers follow the idea of the OWASP AIBOM generator's scoring (critical, important and
//! supplementary fields with falling weights); the field list is ours and scores only what comes
//! from the model, not the envelope fields aisec always writes (format, version, serial number).
//! Weights: critical 4, important 2, supplementary 1. A model's score is the weight present over
//! the weight possible, 0–100; the directory's score is its weakest model's.

use serde::{Deserialize, Serialize};

use super::card::ModelCard;
use super::inventory::{Inventory, Model};

/// A field's importance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Needed to identify the model and judge whether it may be used.
    Critical,
    /// Needed to judge whether it is fit and safe for a use.
    Important,
    /// Useful context.
    Supplementary,
}

impl Tier {
    /// Points a field of this tier is worth.
    #[must_use]
    pub fn weight(self) -> u32 {
        match self {
            Self::Critical => 4,
            Self::Important => 2,
            Self::Supplementary => 1,
        }
    }

    /// Lower-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Important => "important",
            Self::Supplementary => "supplementary",
        }
    }
}

/// One field: present or not, and where its value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldStatus {
    /// The field, in words (`licence`, `task`).
    pub field: String,
    /// Its tier.
    pub tier: Tier,
    /// Its weight.
    pub weight: u32,
    /// Whether the BOM has it.
    pub present: bool,
    /// Where aisec takes it from (what to add when it is missing).
    pub source: String,
    /// Where it lands in the CycloneDX BOM.
    pub cyclonedx: String,
}

/// One model's score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelCompleteness {
    /// The model's name.
    pub model: String,
    /// Its location under the directory (`""` for the directory itself).
    pub location: String,
    /// 0–100.
    pub score: u8,
    /// Every field, in tier order.
    pub fields: Vec<FieldStatus>,
}

/// The directory's score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completeness {
    /// 0–100: the lowest model score (0 when there is no model).
    pub score: u8,
    /// Per model.
    pub models: Vec<ModelCompleteness>,
}

impl ModelCompleteness {
    /// The fields that are missing.
    pub fn missing(&self) -> impl Iterator<Item = &FieldStatus> {
        self.fields.iter().filter(|f| !f.present)
    }
}

/// Scores every model. `scanned` says whether scan findings go into the BOM.
#[must_use]
pub fn completeness(inv: &Inventory, scanned: bool) -> Completeness {
    let models: Vec<ModelCompleteness> = inv.models.iter().map(|m| score(m, scanned)).collect();
    Completeness {
        score: models.iter().map(|m| m.score).min().unwrap_or(0),
        models,
    }
}

fn score(m: &Model, scanned: bool) -> ModelCompleteness {
    use Tier::{Critical, Important, Supplementary};
    let card = m.card.as_ref();
    let has = |f: &dyn Fn(&ModelCard) -> bool| card.is_some_and(f);
    let k = card.map(|c| &c.considerations);
    let cfg = m.config.as_ref();
    let rows: [(&str, Tier, bool, &str, &str); 19] = [
        (
            "file hashes",
            Critical,
            !m.files.is_empty(),
            "every file of the model (always computed)",
            "components[].components[].hashes",
        ),
        (
            "licence",
            Critical,
            has(&|c| c.license.is_some()),
            "model card front matter `license:` (`license_name:`/`license_link:` for other)",
            "components[].licenses",
        ),
        (
            "task",
            Critical,
            has(&|c| c.pipeline_tag.is_some()),
            "model card front matter `pipeline_tag:`",
            "components[].modelCard.modelParameters.task",
        ),
        (
            "identifier (purl)",
            Critical,
            m.id.as_deref()
                .and_then(super::ids::huggingface_purl)
                .is_some(),
            "`aisec bom --model-id ORG/NAME`",
            "components[].purl",
        ),
        (
            "supplier",
            Critical,
            m.id.as_deref().is_some_and(|id| id.contains('/')),
            "the ORG of `--model-id ORG/NAME`",
            "components[].supplier.name",
        ),
        (
            "description",
            Important,
            has(&|c| c.description.is_some()),
            "model card: first paragraph under the title or `## Model Description`",
            "components[].description",
        ),
        (
            "architecture",
            Important,
            cfg.is_some_and(|c| c.model_type.is_some() || c.architecture.is_some()),
            "config.json `model_type` and `architectures`",
            "components[].modelCard.modelParameters.architectureFamily / modelArchitecture",
        ),
        (
            "training datasets",
            Important,
            has(&|c| !c.datasets.is_empty()),
            "model card front matter `datasets:`",
            "data components + modelCard.modelParameters.datasets",
        ),
        (
            "performance metrics",
            Important,
            has(&|c| !c.metrics.is_empty()),
            "model card front matter `model-index:` results",
            "components[].modelCard.quantitativeAnalysis.performanceMetrics",
        ),
        (
            "limitations",
            Important,
            k.is_some_and(|k| !k.limitations.is_empty() || !k.out_of_scope.is_empty()),
            "model card section `## Limitations` or `### Out-of-Scope Use`",
            "components[].modelCard.considerations.technicalLimitations",
        ),
        (
            "risks and ethical considerations",
            Important,
            k.is_some_and(|k| !k.risks.is_empty()),
            "model card section `## Bias, Risks, and Limitations` or `## Ethical Considerations`",
            "components[].modelCard.considerations.ethicalConsiderations",
        ),
        (
            "security scan",
            Important,
            scanned,
            "aisec's scan of the directory (leave out `--no-scan`)",
            "vulnerabilities",
        ),
        (
            "signature",
            Important,
            m.signature.is_some(),
            "`model.sig` from `aisec sign`, or `--signature FILE`",
            "components[].externalReferences[type=digital-signature]",
        ),
        (
            "intended use",
            Supplementary,
            k.is_some_and(|k| !k.use_cases.is_empty()),
            "model card section `## Uses` / `### Direct Use` / `## Intended Uses`",
            "components[].modelCard.considerations.useCases",
        ),
        (
            "base model",
            Supplementary,
            has(&|c| !c.base_models.is_empty()),
            "model card front matter `base_model:`",
            "components[].pedigree.ancestors",
        ),
        (
            "library",
            Supplementary,
            has(&|c| c.library_name.is_some()),
            "model card front matter `library_name:`",
            "library components (pkg:pypi)",
        ),
        (
            "Python requirements",
            Supplementary,
            !m.requirements.is_empty(),
            "`requirements.txt` in the model directory",
            "library components (pkg:pypi)",
        ),
        (
            "environmental impact",
            Supplementary,
            k.is_some_and(|k| !k.environmental.is_empty()),
            "model card section `## Environmental Impact`",
            "components[].modelCard.considerations.environmentalConsiderations",
        ),
        (
            "training details",
            Supplementary,
            k.is_some_and(|k| !k.training.is_empty()),
            "model card section `## Training Details` / `## Training procedure`",
            "components[].modelCard.properties[aisec:training]",
        ),
    ];
    let fields: Vec<FieldStatus> = rows
        .into_iter()
        .map(|(field, tier, present, source, cdx)| FieldStatus {
            field: field.to_owned(),
            tier,
            weight: tier.weight(),
            present,
            source: source.to_owned(),
            cyclonedx: cdx.to_owned(),
        })
        .collect();
    let total: u32 = fields.iter().map(|f| f.weight).sum();
    let got: u32 = fields.iter().filter(|f| f.present).map(|f| f.weight).sum();
    ModelCompleteness {
        model: m.name.clone(),
        location: m.location.clone(),
        score: ((got * 100 + total / 2) / total) as u8,
        fields,
    }
}
