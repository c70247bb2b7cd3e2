//! Model-card (`README.md`) and `config.json` parsing: the YAML front matter between `---` lines, the
//! markdown sections that carry considerations, and the few `config.json` keys a BOM names.
//!
//! Everything here reads untrusted text: sizes are capped by the caller's read, the YAML by
//! [`super::yaml::Limits`], section text by [`MAX_SECTION`]. Nothing is rendered or evaluated.

use std::fmt::Write as _;

use serde_json::Value;

use super::yaml::{self, YamlError};

/// Longest section text kept, in bytes; longer text is cut at a character boundary.
pub(crate) const MAX_SECTION: usize = 8 << 10;
/// Most list entries kept from any one front-matter key (datasets, base models, metrics).
const MAX_LIST: usize = 256;

/// What a model card says, as far as a BOM needs it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelCard {
    /// `license:` (a Hugging Face licence id, often an SPDX id in lower case).
    pub license: Option<String>,
    /// `license_name:` (for `license: other`).
    pub license_name: Option<String>,
    /// `license_link:`.
    pub license_link: Option<String>,
    /// `pipeline_tag:` (the task).
    pub pipeline_tag: Option<String>,
    /// `library_name:`.
    pub library_name: Option<String>,
    /// `datasets:`.
    pub datasets: Vec<String>,
    /// `base_model:` (one or several).
    pub base_models: Vec<String>,
    /// `base_model_relation:` (finetune, adapter, quantized, merge).
    pub base_model_relation: Option<String>,
    /// `language:`.
    pub languages: Vec<String>,
    /// `model-index[0].name`.
    pub model_name: Option<String>,
    /// Metrics from `model-index[].results[]`.
    pub metrics: Vec<Metric>,
    /// The first paragraph of the model description.
    pub description: Option<String>,
    /// Considerations from the markdown sections.
    pub considerations: Considerations,
    /// Problems met while reading the card (a refused front matter, an ignored malformed entry).
    pub warnings: Vec<String>,
}

/// One evaluation result from `model-index`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    /// `metrics[].type` (accuracy, f1, …).
    pub kind: String,
    /// `metrics[].value`, as text.
    pub value: String,
    /// The dataset, split and task it was measured on.
    pub slice: Option<String>,
}

/// The considerations a card's sections describe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Considerations {
    /// Intended / direct / downstream uses.
    pub use_cases: Vec<String>,
    /// Out-of-scope uses.
    pub out_of_scope: Vec<String>,
    /// Limitations.
    pub limitations: Vec<String>,
    /// Bias, risks, ethical considerations, each with the recommendation that follows it if any.
    pub risks: Vec<Risk>,
    /// Environmental impact.
    pub environmental: Vec<String>,
    /// Performance trade-offs.
    pub tradeoffs: Vec<String>,
    /// Training details and hyperparameters.
    pub training: Vec<String>,
}

impl Considerations {
    /// The limitations, then the out-of-scope uses (each prefixed as such): both formats have one
    /// field for what a model should not be relied on for.
    #[must_use]
    pub fn technical_limitations(&self) -> Vec<String> {
        let mut limits = self.limitations.clone();
        limits.extend(
            self.out_of_scope
                .iter()
                .map(|t| format!("Out-of-scope use: {t}")),
        );
        limits
    }
}

/// A risk and how to mitigate it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Risk {
    /// The risk, as the card states it.
    pub name: String,
    /// The card's recommendation, if a `Recommendations` section follows.
    pub mitigation: Option<String>,
}

/// Why a card could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CardError {
    /// The front matter opens with `---` but never closes.
    #[error("model card front matter opens with `---` but has no closing `---`")]
    Unclosed,
    /// The front matter is not YAML this loader accepts.
    #[error("model card front matter: {0}")]
    Yaml(#[from] YamlError),
    /// The front matter is YAML but not a mapping.
    #[error("model card front matter is not a mapping of keys to values")]
    NotAMapping,
}

/// Splits `---` front matter from the markdown body. `None` when the text has no front matter.
pub(crate) fn split_front_matter(text: &str) -> Result<Option<(&str, &str)>, CardError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    let Some(first) = lines.next() else {
        return Ok(None);
    };
    if first.trim_end() != "---" {
        return Ok(None);
    }
    let start = first.len();
    let mut at = start;
    for line in lines {
        let t = line.trim_end();
        if t == "---" || t == "..." {
            return Ok(Some((&text[start..at], &text[at + line.len()..])));
        }
        at += line.len();
    }
    Err(CardError::Unclosed)
}

impl ModelCard {
    /// Parses a card. A card without front matter still yields its sections; a front matter that
    /// fails to load is an error (the caller decides whether that stops the BOM).
    pub fn parse(text: &str) -> Result<Self, CardError> {
        let mut card = Self::default();
        let body = match split_front_matter(text)? {
            Some((front, body)) => {
                let value = yaml::load(front, yaml::Limits::default())?;
                match value {
                    Value::Object(_) => card.read_front(&value),
                    Value::Null => {}
                    _ => return Err(CardError::NotAMapping),
                }
                body
            }
            None => text,
        };
        card.read_body(body);
        Ok(card)
    }

    fn read_front(&mut self, v: &Value) {
        self.license = text(&v["license"]).or_else(|| strings(&v["license"]).into_iter().next());
        self.license_name = text(&v["license_name"]);
        self.license_link = text(&v["license_link"]);
        self.pipeline_tag = text(&v["pipeline_tag"]);
        self.library_name = text(&v["library_name"]);
        self.datasets = strings(&v["datasets"]);
        self.base_models = strings(&v["base_model"]);
        self.base_model_relation = text(&v["base_model_relation"]);
        self.languages = strings(&v["language"]);
        let index = v["model-index"].as_array().map_or(&[][..], Vec::as_slice);
        self.model_name = index.first().and_then(|m| text(&m["name"]));
        for entry in index.iter().take(MAX_LIST) {
            for result in entry["results"]
                .as_array()
                .into_iter()
                .flatten()
                .take(MAX_LIST)
            {
                let task = text(&result["task"]["type"]);
                let dataset =
                    text(&result["dataset"]["name"]).or_else(|| text(&result["dataset"]["type"]));
                let split = text(&result["dataset"]["split"]);
                let slice = match (dataset, split, task) {
                    (None, None, None) => None,
                    (d, s, t) => {
                        let mut out = String::new();
                        if let Some(d) = d {
                            let _ = write!(out, "dataset: {d}");
                            if let Some(s) = s {
                                let _ = write!(out, " ({s} split)");
                            }
                        }
                        if let Some(t) = t {
                            if !out.is_empty() {
                                out.push_str("; ");
                            }
                            let _ = write!(out, "task: {t}");
                        }
                        Some(out)
                    }
                };
                for metric in result["metrics"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .take(MAX_LIST)
                {
                    let kind = text(&metric["type"]).or_else(|| text(&metric["name"]));
                    let value = text(&metric["value"]);
                    match (kind, value) {
                        (Some(kind), Some(value)) if self.metrics.len() < MAX_LIST => {
                            self.metrics.push(Metric {
                                kind,
                                value,
                                slice: slice.clone(),
                            });
                        }
                        (Some(_), Some(_)) => {}
                        _ => self.warnings.push(
                            "a model-index metric without `type` or `value` was skipped".into(),
                        ),
                    }
                }
            }
        }
    }

    fn read_body(&mut self, body: &str) {
        let sections = sections(body);
        let mut last_was_risk = false;
        for (heading, text) in &sections {
            let h = heading.to_ascii_lowercase();
            let c = &mut self.considerations;
            let mut risk_now = false;
            if h.contains("recommendation") && last_was_risk {
                if let Some(risk) = c.risks.last_mut() {
                    risk.mitigation = Some(text.clone());
                }
                risk_now = true;
            } else if h.contains("out-of-scope")
                || h.contains("out of scope")
                || h.contains("misuse")
            {
                c.out_of_scope.push(text.clone());
            } else if h == "uses"
                || h.contains("intended use")
                || h.contains("direct use")
                || h.contains("downstream use")
                || h.contains("use case")
            {
                c.use_cases.push(text.clone());
            } else {
                if h.contains("limitation") {
                    c.limitations.push(text.clone());
                }
                if h.contains("bias") || h.contains("risk") || h.contains("ethic") {
                    c.risks.push(Risk {
                        name: text.clone(),
                        mitigation: None,
                    });
                    risk_now = true;
                }
                if h.contains("environmental") || h.contains("carbon") {
                    c.environmental.push(text.clone());
                }
                if h.contains("trade-off") || h.contains("tradeoff") {
                    c.tradeoffs.push(text.clone());
                }
                if h.contains("training procedure")
                    || h.contains("training details")
                    || h.contains("hyperparameter")
                {
                    c.training.push(text.clone());
                }
                if self.description.is_none()
                    && (h.contains("model description")
                        || h.contains("model summary")
                        || h.contains("model details")
                        || h.contains("overview"))
                {
                    self.description = first_paragraph(text);
                }
            }
            last_was_risk = risk_now;
        }
        if self.description.is_none() {
            // The prose under the title, before any second-level heading.
            // A card that goes from its title straight to `## Limitations` has no description:
            // only text under no heading, or under the `# Title` itself, counts.
            let title = body
                .trim_start()
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# "))
                .map(|t| t.trim().to_lowercase());
            self.description = sections
                .first()
                .filter(|(h, _)| {
                    h.is_empty() || title.as_deref() == Some(h.trim().to_lowercase().as_str())
                })
                .and_then(|(_, t)| first_paragraph(t));
        }
    }
}

/// `(heading, text)` for each markdown section with content; the text before the first heading
/// has an empty heading. Fenced code is kept as text, never read as headings.
fn sections(body: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut heading = String::new();
    let mut buf = String::new();
    let mut fence: Option<&str> = None;
    for line in body.lines() {
        let t = line.trim_start();
        if let Some(f) = fence {
            if t.starts_with(f) {
                fence = None;
            }
            buf.push_str(line);
            buf.push('\n');
            continue;
        }
        if t.starts_with("```") || t.starts_with("~~~") {
            fence = Some(&t[..3]);
            buf.push_str(line);
            buf.push('\n');
            continue;
        }
        let hashes = t.bytes().take_while(|&b| b == b'#').count();
        if (1..=6).contains(&hashes) && t[hashes..].starts_with([' ', '\t']) {
            push_section(&mut out, &heading, &buf);
            t[hashes..]
                .trim()
                .trim_end_matches('#')
                .trim()
                .clone_into(&mut heading);
            buf.clear();
            continue;
        }
        buf.push_str(line);
        buf.push('\n');
    }
    push_section(&mut out, &heading, &buf);
    out
}

fn push_section(out: &mut Vec<(String, String)>, heading: &str, raw: &str) {
    let text = clean(raw);
    if !text.is_empty() {
        out.push((heading.to_owned(), text));
    }
}

/// Drops HTML comments and the model-card template's placeholder, trims, caps the length.
fn clean(raw: &str) -> String {
    let mut s = String::with_capacity(raw.len().min(MAX_SECTION));
    let mut rest = raw;
    while let Some(open) = rest.find("<!--") {
        s.push_str(&rest[..open]);
        rest = rest[open..]
            .find("-->")
            .map_or("", |close| &rest[open + close + 3..]);
    }
    s.push_str(rest);
    let s = s.replace("[More Information Needed]", "");
    let mut s = s.trim().to_owned();
    if s.len() > MAX_SECTION {
        let mut cut = MAX_SECTION;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    // A section left with only list markers and blank lines says nothing.
    if s.chars()
        .all(|c| c.is_whitespace() || matches!(c, '-' | '*'))
    {
        String::new()
    } else {
        s
    }
}

/// The first paragraph that is prose (not an image, badge, table or code).
fn first_paragraph(text: &str) -> Option<String> {
    text.split("\n\n")
        .map(str::trim)
        .find(|p| {
            !p.is_empty()
                && !p.starts_with('!')
                && !p.starts_with('<')
                && !p.starts_with('|')
                && !p.starts_with("```")
                && !p.starts_with("[!")
        })
        .map(|p| {
            let mut p = p.split_whitespace().collect::<Vec<_>>().join(" ");
            if p.len() > 1024 {
                let mut cut = 1024;
                while !p.is_char_boundary(cut) {
                    cut -= 1;
                }
                p.truncate(cut);
                p.push('…');
            }
            p
        })
}

/// A scalar as text (strings, numbers, booleans); `None` for null, collections and blank text.
fn text(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

/// A scalar or a list of scalars as a list of text, capped.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().filter_map(text).take(MAX_LIST).collect(),
        other => text(other).into_iter().collect(),
    }
}

/// The `config.json` keys a BOM names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelConfig {
    /// `model_type` (the architecture family: bert, llama, …).
    pub model_type: Option<String>,
    /// `architectures[0]` (the class: BertForSequenceClassification, …).
    pub architecture: Option<String>,
    /// `transformers_version`, when the file records it.
    pub transformers_version: Option<String>,
}

impl ModelConfig {
    /// Parses `config.json` (the caller caps its size).
    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let v: Value = serde_json::from_slice(bytes)?;
        Ok(Self {
            model_type: text(&v["model_type"]),
            architecture: v["architectures"]
                .as_array()
                .and_then(|a| a.first())
                .and_then(text),
            transformers_version: text(&v["transformers_version"]),
        })
    }
}

/// One pinned or named Python requirement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Requirement {
    /// The normalized project name (lower case, runs of `-_.` as one `-`).
    pub name: String,
    /// The version when pinned with `==`.
    pub version: Option<String>,
}

/// Parses `requirements.txt`: `name`, `name==1.2`, `name>=1`, extras and markers; options (`-r`,
/// `--hash`), URLs and local paths are skipped. Sorted and deduplicated.
#[must_use]
pub(crate) fn parse_requirements(text: &str) -> Vec<Requirement> {
    let mut out = Vec::new();
    for line in text.lines().take(10_000) {
        let line = line.split(" #").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with(['#', '-']) || line.contains("://") {
            continue;
        }
        let line = line.split(';').next().unwrap_or("").trim();
        let end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(line.len());
        let name = &line[..end];
        if name.is_empty() || name.starts_with('.') {
            continue;
        }
        let rest = line[end..].trim_start();
        let rest = match rest.strip_prefix('[') {
            Some(r) => r
                .split_once(']')
                .map_or("", |(_, after)| after.trim_start()),
            None => rest,
        };
        let version = rest
            .strip_prefix("==")
            .map(|v| {
                v.trim_start()
                    .split([',', ' '])
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_owned()
            })
            .filter(|v| !v.is_empty() && !v.contains('*'));
        out.push(Requirement {
            name: normalize_name(name),
            version,
        });
    }
    out.sort();
    out.dedup_by(|a, b| a.name == b.name);
    out
}

/// A Python project name in normalized form.
#[must_use]
pub(crate) fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD: &str = "---\nlicense: apache-2.0\npipeline_tag: text-classification\nlibrary_name: transformers\ndatasets:\n- imdb\nbase_model: distilbert/distilbert-base-uncased\nmodel-index:\n- name: tiny-imdb\n  results:\n  - task: {type: text-classification}\n    dataset: {name: imdb, type: imdb, split: test}\n    metrics:\n    - {type: accuracy, value: 0.93}\n---\n# tiny-imdb\n\nA small sentiment classifier.\n\n## Intended uses\n\nSorting reviews.\n\n### Out-of-Scope Use\n\nMedical text.\n\n## Bias, Risks, and Limitations\n\nEnglish only.\n\n### Recommendations\n\nCheck outputs.\n\n## Training procedure\n\n```\n# not a heading\nlr = 5e-5\n```\n\n## Environmental Impact\n\n[More Information Needed]\n";

    #[test]
    fn a_card_without_an_introduction_has_no_description() {
        let c =
            ModelCard::parse("---\nlicense: mit\n---\n# tiny\n\n## Limitations\n\nEnglish only.\n")
                .unwrap();
        assert_eq!(c.description, None);
        assert_eq!(c.considerations.limitations, ["English only."]);
        let c =
            ModelCard::parse("Plain prose first.\n\n## Limitations\n\nEnglish only.\n").unwrap();
        assert_eq!(c.description.as_deref(), Some("Plain prose first."));
    }

    #[test]
    fn reads_front_matter_and_sections() {
        let c = ModelCard::parse(CARD).unwrap();
        assert_eq!(c.license.as_deref(), Some("apache-2.0"));
        assert_eq!(c.datasets, ["imdb"]);
        assert_eq!(c.base_models, ["distilbert/distilbert-base-uncased"]);
        assert_eq!(c.model_name.as_deref(), Some("tiny-imdb"));
        assert_eq!(
            c.metrics,
            [Metric {
                kind: "accuracy".into(),
                value: "0.93".into(),
                slice: Some("dataset: imdb (test split); task: text-classification".into())
            }]
        );
        assert_eq!(
            c.description.as_deref(),
            Some("A small sentiment classifier.")
        );
        let k = &c.considerations;
        assert_eq!(k.use_cases, ["Sorting reviews."]);
        assert_eq!(k.out_of_scope, ["Medical text."]);
        assert_eq!(k.limitations, ["English only."]);
        assert_eq!(k.risks[0].mitigation.as_deref(), Some("Check outputs."));
        assert!(k.training[0].contains("# not a heading"));
        assert!(
            k.environmental.is_empty(),
            "placeholder-only sections are dropped"
        );
    }

    #[test]
    fn front_matter_edge_cases() {
        assert_eq!(split_front_matter("# hi\n").unwrap(), None);
        assert_eq!(
            split_front_matter("---\na: 1\n---\nbody").unwrap(),
            Some(("a: 1\n", "body"))
        );
        assert_eq!(split_front_matter("---\na: 1\n"), Err(CardError::Unclosed));
        assert!(matches!(
            ModelCard::parse("---\n- a\n---\n"),
            Err(CardError::NotAMapping)
        ));
        assert!(ModelCard::parse("---\n---\n# t\n").is_ok());
    }

    #[test]
    fn requirements() {
        let r = parse_requirements(
            "# c\ntorch==2.3.1\nTransformers[torch]>=4.40 ; python_version>'3.8'\n-r other.txt\nhttps://x/y.whl\nsentence_transformers == 3.0.1\nnumpy==1.*\n",
        );
        assert_eq!(
            r,
            [
                Requirement {
                    name: "numpy".into(),
                    version: None
                },
                Requirement {
                    name: "sentence-transformers".into(),
                    version: Some("3.0.1".into())
                },
                Requirement {
                    name: "torch".into(),
                    version: Some("2.3.1".into())
                },
                Requirement {
                    name: "transformers".into(),
                    version: None
                },
            ]
        );
    }

    #[test]
    fn config() {
        let c =
            ModelConfig::parse(br#"{"model_type":"bert","architectures":["BertModel"]}"#).unwrap();
        assert_eq!(c.model_type.as_deref(), Some("bert"));
        assert_eq!(c.architecture.as_deref(), Some("BertModel"));
        assert!(ModelConfig::parse(b"{").is_err());
    }
}
