//! The system model: a YAML file of trust boundaries, elements (the classic data-flow kinds and
//! the AI kinds), data flows between them, and accepted threats. docs/threat-model.md documents
//! every key. Reading is strict: an unknown key, a property of the wrong type or one that does
//! not belong to the element's kind, a flow to an element that does not exist, each is an error
//! naming the file's line.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use serde_json::Value;

/// The largest model file read.
pub const MAX_BYTES: usize = 4 << 20;
/// Most elements, flows or boundaries.
pub const MAX_ITEMS: usize = 10_000;

/// Why a model could not be read: the message and the line it points at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ModelError {
    /// The file (as given).
    pub file: String,
    /// 1-based line (0 when the whole file is meant).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// What an element is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A person or system outside the one modelled.
    Actor,
    /// Code that runs: a service, a job, an application.
    Process,
    /// Where data rests: a database, a bucket, a file share.
    Datastore,
    /// A trained model as an artifact.
    Model,
    /// The pipeline that trains or fine-tunes models.
    TrainingPipeline,
    /// A data set.
    Dataset,
    /// A feature store.
    FeatureStore,
    /// A vector store or RAG index.
    VectorStore,
    /// A large language model, hosted or local.
    Llm,
    /// An agent: an LLM that plans and calls tools.
    Agent,
    /// A tool an agent or LLM application calls.
    Tool,
    /// A prompt template.
    PromptTemplate,
    /// A guardrail: an input or output filter in front of an LLM.
    Guardrail,
    /// An endpoint that serves a model's predictions.
    InferenceEndpoint,
}

/// The type of a property's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Bool,
    Text,
    /// One of a fixed set of words.
    Word(&'static [&'static str]),
    /// A list of words from a fixed set.
    Words(&'static [&'static str]),
    /// A list of element ids.
    Ids,
}

pub(crate) const DATA_CLASSES: &[&str] = &[
    "public",
    "internal",
    "confidential",
    "pii",
    "credentials",
    "secrets",
    "financial",
    "health",
    "model-weights",
    "prompts",
    "training-data",
];

/// The controls every kind that runs code takes (process, tool, guardrail, training pipeline,
/// inference endpoint): the classic STRIDE rules check them.
macro_rules! running {
    ($($extra:expr),* $(,)?) => {
        &[
            ("authenticated", Ty::Bool),
            ("authorization", Ty::Bool),
            ("least_privilege", Ty::Bool),
            ("input_validation", Ty::Bool),
            ("memory_safe", Ty::Bool),
            ("resource_limits", Ty::Bool),
            ("logging", Ty::Bool),
            ("config_integrity", Ty::Bool),
            $($extra),*
        ]
    };
}

/// The controls every kind where data rests takes (datastore, model, dataset, prompt template,
/// feature store, vector store).
macro_rules! resting {
    ($($extra:expr),* $(,)?) => {
        &[
            ("access_controlled", Ty::Bool),
            ("encrypted_at_rest", Ty::Bool),
            ("access_logged", Ty::Bool),
            ("resource_limits", Ty::Bool),
            $($extra),*
        ]
    };
}

/// The properties each kind takes: (name, type). docs/threat-model.md gives their meaning and
/// defaults (a missing boolean is false, except where a rule says it assumes the worse).
fn properties(kind: Kind) -> &'static [(&'static str, Ty)] {
    use Ty::{Bool, Ids, Text, Word, Words};
    match kind {
        Kind::Actor => &[
            ("human", Bool),
            ("trusted", Bool),
            ("provides_authentication", Bool),
        ],
        Kind::Process => running![
            ("runs_untrusted_code", Bool),
            ("web_application", Bool),
            ("browser_protection", Bool),
            ("generic_errors", Bool),
            ("privilege", Text),
            ("handles_payment", Bool),
            ("handles_goods", Bool),
        ],
        Kind::Datastore => resting![
            ("backups", Bool),
            ("contains", Words(DATA_CLASSES)),
            ("log", Bool),
            ("signed", Bool),
            ("inventory", Bool),
        ],
        Kind::Model => resting![
            (
                "source",
                Word(&["internal", "vendor", "public-hub", "unknown"]),
            ),
            (
                "format",
                Word(&[
                    "pickle",
                    "pytorch",
                    "joblib",
                    "numpy",
                    "keras",
                    "tensorflow",
                    "onnx",
                    "gguf",
                    "safetensors",
                    "other",
                ]),
            ),
            ("signed", Bool),
            ("scanned", Bool),
            ("registry", Text),
            ("path", Text),
        ],
        Kind::TrainingPipeline => running![
            ("data_validation", Bool),
            ("isolated", Bool),
            ("reproducible", Bool),
            ("robustness_tested", Bool),
        ],
        Kind::Dataset => resting![
            (
                "provenance",
                Word(&[
                    "internal",
                    "licensed",
                    "public-web",
                    "user-contributed",
                    "unknown",
                ]),
            ),
            ("contains_pii", Bool),
            ("validated", Bool),
            ("path", Text),
        ],
        Kind::FeatureStore => resting![("contains_pii", Bool)],
        Kind::VectorStore => resting![
            (
                "sources",
                Words(&["internal", "user-uploaded", "web", "third-party"]),
            ),
            ("contains_pii", Bool),
        ],
        Kind::Llm => &[
            ("hosting", Word(&["hosted", "local"])),
            ("system_prompt_secrets", Bool),
            ("rate_limited", Bool),
            ("output_to", Word(&["user", "code", "browser", "tools"])),
            ("model", Text),
        ],
        Kind::Agent => &[
            ("tools", Ids),
            ("autonomy", Word(&["low", "medium", "high"])),
            ("human_approval", Bool),
            ("memory", Bool),
        ],
        Kind::Tool => running![
            (
                "side_effects",
                Word(&["none", "read", "write", "external", "execute"]),
            ),
            ("credentials", Bool),
            ("sandboxed", Bool),
        ],
        Kind::PromptTemplate => resting![("user_input_delimited", Bool), ("secrets", Bool)],
        Kind::Guardrail => running![("protects", Ids), ("input", Bool), ("output", Bool)],
        Kind::InferenceEndpoint => running![
            ("rate_limited", Bool),
            ("output_detail", Word(&["label", "scores", "logits"])),
            ("public", Bool),
            ("monitored", Bool),
            ("generic_errors", Bool),
        ],
    }
}

/// Keys every element and flow takes besides its own.
const SCOPE_KEYS: [&str; 5] = [
    "out_of_scope",
    "out_of_scope_reason",
    "threats",
    "layout",
    "threat_dragon",
];

const KINDS: [(&str, Kind); 14] = [
    ("actor", Kind::Actor),
    ("process", Kind::Process),
    ("datastore", Kind::Datastore),
    ("model", Kind::Model),
    ("training-pipeline", Kind::TrainingPipeline),
    ("dataset", Kind::Dataset),
    ("feature-store", Kind::FeatureStore),
    ("vector-store", Kind::VectorStore),
    ("llm", Kind::Llm),
    ("agent", Kind::Agent),
    ("tool", Kind::Tool),
    ("prompt-template", Kind::PromptTemplate),
    ("guardrail", Kind::Guardrail),
    ("inference-endpoint", Kind::InferenceEndpoint),
];

impl Kind {
    /// The kind's name in the YAML (`vector-store`).
    #[must_use]
    pub fn name(self) -> &'static str {
        KINDS
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(n, _)| *n)
    }

    /// Whether it is one of the AI kinds (not actor, process or datastore).
    #[must_use]
    pub fn is_ai(self) -> bool {
        !matches!(self, Kind::Actor | Kind::Process | Kind::Datastore)
    }

    /// Where data rests (drawn as a store).
    #[must_use]
    pub fn is_store(self) -> bool {
        matches!(
            self,
            Kind::Datastore | Kind::Dataset | Kind::FeatureStore | Kind::VectorStore | Kind::Model
        )
    }
}

/// Where an item is drawn: kept from a Threat Dragon import so that an export draws it in the
/// same place; the export lays out the items that have none.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Layout {
    /// The diagram (index into [`SystemModel::diagrams`]).
    pub diagram: usize,
    /// The diagram cell's id.
    pub cell: Option<String>,
    /// Left edge (boxes).
    pub x: Option<f64>,
    /// Top edge (boxes).
    pub y: Option<f64>,
    /// Width (boxes).
    pub width: Option<f64>,
    /// Height (boxes).
    pub height: Option<f64>,
    /// Stacking order.
    pub z: Option<i64>,
    /// Bend points of a flow; a boundary line's points from its start to its end.
    pub points: Vec<[f64; 2]>,
}

/// A diagram of the system (one view; a model has one unless it came from a tool that draws
/// several).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagram {
    /// Its title.
    pub title: String,
    /// Free text.
    pub description: Option<String>,
    /// The threat method it was drawn for (`STRIDE`, `LINDDUN`, `CIA`, `DIE`, `PLOT4ai`, `Generic`).
    pub method: String,
}

/// A text note drawn on a diagram.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Note {
    /// Its text.
    pub text: String,
    /// Where it is drawn.
    pub layout: Option<Layout>,
    /// What a drawing tool keeps on it that aisec does not interpret (see [`Element::foreign`]).
    pub foreign: Option<Value>,
}

/// Where a threat that a person recorded stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordedStatus {
    /// Not dealt with.
    Open,
    /// A control is in place.
    Mitigated,
    /// Does not apply.
    NotApplicable,
}

impl RecordedStatus {
    /// Its name in the YAML.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            RecordedStatus::Open => "open",
            RecordedStatus::Mitigated => "mitigated",
            RecordedStatus::NotApplicable => "not-applicable",
        }
    }
}

/// A threat a person recorded on an element or flow (beside those the rules find).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordedThreat {
    /// Its title.
    pub title: String,
    /// Its category (`Spoofing`... for STRIDE, or another method's).
    pub category: Option<String>,
    /// Where it stands.
    pub status: RecordedStatus,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// The control, planned or in place.
    pub mitigation: Option<String>,
    /// A score the person gave.
    pub score: Option<String>,
    /// The method it was found with (`STRIDE`...).
    pub method: Option<String>,
    /// A stable id (a UUID in Threat Dragon).
    pub id: Option<String>,
    /// Its number in the model.
    pub number: Option<u64>,
    /// The id of the rule that suggested it, when one did.
    pub rule: Option<String>,
    /// Its line in the file.
    pub line: usize,
}

/// A trust boundary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Boundary {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Whether what is inside is trusted (default: true, except a boundary called `internet`).
    pub trusted: bool,
    /// Free text.
    pub description: Option<String>,
    /// Where it is drawn: a box, or a line (`points`) that flows cross.
    pub layout: Option<Layout>,
    /// What a drawing tool keeps on it that aisec does not interpret (see [`Element::foreign`]).
    pub foreign: Option<Value>,
    /// Its line in the file.
    pub line: usize,
}

/// An element of the system.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Element {
    /// Its id (unique among elements and flows).
    pub id: String,
    /// What it is.
    pub kind: Kind,
    /// Its name (the id when absent).
    pub name: String,
    /// The boundary it sits in.
    pub boundary: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Its kind's properties, as given.
    pub props: BTreeMap<String, Value>,
    /// Left out of the analysis (no rule is applied to it).
    pub out_of_scope: bool,
    /// Why it is (or would be) out of scope.
    pub out_of_scope_reason: Option<String>,
    /// Threats a person recorded.
    pub threats: Vec<RecordedThreat>,
    /// Where it is drawn.
    pub layout: Option<Layout>,
    /// What a drawing tool keeps on it that aisec does not interpret (`threat_dragon:` in the
    /// YAML: a Threat Dragon cell's styling, ports and data keys of newer releases), kept so that
    /// an export gives it back.
    pub foreign: Option<Value>,
    /// Its line in the file.
    pub line: usize,
}

/// A data flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flow {
    /// Its id (`from->to` when absent).
    pub id: String,
    /// The element it leaves.
    pub from: String,
    /// The element it reaches.
    pub to: String,
    /// A label for diagrams.
    pub name: Option<String>,
    /// `https`, `grpc`, `sql`...
    pub protocol: Option<String>,
    /// Whether the receiver authenticates the sender.
    pub authenticated: bool,
    /// Whether it is encrypted in transit.
    pub encrypted: bool,
    /// What it carries.
    pub data: Vec<String>,
    /// Free text.
    pub description: Option<String>,
    /// Whether it crosses a public network.
    pub public_network: bool,
    /// Whether data also flows back (a request and its reply).
    pub bidirectional: bool,
    /// Whether it crosses a trust boundary drawn as a line (besides going from one boundary to
    /// another, which is worked out).
    pub crosses_boundary: bool,
    /// Left out of the analysis.
    pub out_of_scope: bool,
    /// Why it is (or would be) out of scope.
    pub out_of_scope_reason: Option<String>,
    /// Threats a person recorded.
    pub threats: Vec<RecordedThreat>,
    /// Where it is drawn.
    pub layout: Option<Layout>,
    /// What a drawing tool keeps on it that aisec does not interpret (`threat_dragon:` in the
    /// YAML: a Threat Dragon cell's styling, ports and data keys of newer releases), kept so that
    /// an export gives it back.
    pub foreign: Option<Value>,
    /// Its line in the file.
    pub line: usize,
}

/// A threat the owners accept, with their reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Acceptance {
    /// The rule id (`TM120`).
    pub rule: String,
    /// The element or flow, or every one the rule applies to when absent.
    pub target: Option<String>,
    /// Why.
    pub reason: String,
    /// Its line in the file.
    pub line: usize,
}

/// The whole model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SystemModel {
    /// The file it was read from (as given).
    pub file: String,
    /// The system's name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Who owns the model.
    pub owner: Option<String>,
    /// Who reviewed it.
    pub reviewer: Option<String>,
    /// Who worked on it.
    pub contributors: Vec<String>,
    /// Its diagrams (views), when it has several or came from a drawing tool.
    pub diagrams: Vec<Diagram>,
    /// Text notes on the diagrams.
    pub notes: Vec<Note>,
    /// Trust boundaries.
    pub boundaries: Vec<Boundary>,
    /// Elements.
    pub elements: Vec<Element>,
    /// Data flows.
    pub flows: Vec<Flow>,
    /// Accepted threats.
    pub accepted: Vec<Acceptance>,
}

struct Reader<'a> {
    file: &'a str,
    lines: &'a aisec_yaml::Lines,
}

impl Reader<'_> {
    fn err(&self, pointer: &str, message: impl Into<String>) -> ModelError {
        ModelError {
            file: self.file.to_owned(),
            line: self.lines.line(pointer).unwrap_or(0),
            message: message.into(),
        }
    }

    fn line(&self, pointer: &str) -> usize {
        self.lines.line(pointer).unwrap_or(0)
    }

    fn map<'v>(
        &self,
        v: &'v Value,
        at: &str,
        what: &str,
    ) -> Result<&'v serde_json::Map<String, Value>, ModelError> {
        v.as_object()
            .ok_or_else(|| self.err(at, format!("{what} must be a mapping")))
    }

    fn list<'v>(&self, v: Option<&'v Value>, at: &str) -> Result<&'v [Value], ModelError> {
        match v {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(a)) if a.len() <= MAX_ITEMS => Ok(a),
            Some(Value::Array(_)) => Err(self.err(at, format!("more than {MAX_ITEMS} items"))),
            Some(_) => Err(self.err(at, "must be a list")),
        }
    }

    fn text(
        &self,
        m: &serde_json::Map<String, Value>,
        key: &str,
        at: &str,
    ) -> Result<Option<String>, ModelError> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(self.err(&format!("{at}/{key}"), format!("`{key}` must be text"))),
        }
    }

    fn id(&self, m: &serde_json::Map<String, Value>, at: &str) -> Result<String, ModelError> {
        let id = self
            .text(m, "id", at)?
            .ok_or_else(|| self.err(at, "an `id` is required"))?;
        if !valid_id(&id) {
            return Err(self.err(
                &format!("{at}/id"),
                format!("id {id:?}: letters, digits, `-`, `_` and `.` only, at most 128"),
            ));
        }
        Ok(id)
    }

    fn boolean(
        &self,
        m: &serde_json::Map<String, Value>,
        key: &str,
        at: &str,
    ) -> Result<Option<bool>, ModelError> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.err(
                &format!("{at}/{key}"),
                format!("`{key}` must be true or false"),
            )),
        }
    }

    fn number(
        &self,
        m: &serde_json::Map<String, Value>,
        key: &str,
        at: &str,
    ) -> Result<Option<f64>, ModelError> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => {
                n.as_f64()
                    .filter(|v| v.is_finite())
                    .map(Some)
                    .ok_or_else(|| {
                        self.err(&format!("{at}/{key}"), format!("`{key}` is out of range"))
                    })
            }
            Some(_) => Err(self.err(&format!("{at}/{key}"), format!("`{key}` must be a number"))),
        }
    }

    fn texts(
        &self,
        m: &serde_json::Map<String, Value>,
        key: &str,
        at: &str,
    ) -> Result<Vec<String>, ModelError> {
        let p = format!("{at}/{key}");
        self.list(m.get(key), &p)?
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(self.err(&format!("{p}/{i}"), format!("`{key}` lists text"))),
            })
            .collect()
    }

    /// `layout:` of an item.
    fn layout(
        &self,
        m: &serde_json::Map<String, Value>,
        at: &str,
        diagrams: usize,
    ) -> Result<Option<Layout>, ModelError> {
        let Some(v) = m.get("layout").filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let at = format!("{at}/layout");
        let l = self.map(v, &at, "`layout`")?;
        self.only(
            l,
            &[
                "diagram", "cell", "x", "y", "width", "height", "z", "points",
            ],
            &at,
            "a layout",
        )?;
        let diagram = match self.number(l, "diagram", &at)? {
            None => 0,
            Some(d) if d >= 0.0 && d.fract() == 0.0 && (d as usize) < diagrams.max(1) => d as usize,
            Some(_) => {
                return Err(self.err(
                    &format!("{at}/diagram"),
                    "`diagram` must be the index of one of `diagrams`",
                ));
            }
        };
        let mut points = Vec::new();
        for (i, p) in self
            .list(l.get("points"), &format!("{at}/points"))?
            .iter()
            .enumerate()
        {
            let pair = p
                .as_array()
                .filter(|a| a.len() == 2)
                .and_then(|a| Some([a[0].as_f64()?, a[1].as_f64()?]))
                .filter(|[x, y]| x.is_finite() && y.is_finite())
                .ok_or_else(|| self.err(&format!("{at}/points/{i}"), "a point is [x, y]"))?;
            points.push(pair);
        }
        let z = match self.number(l, "z", &at)? {
            None => None,
            Some(z) if z.fract() == 0.0 && z.abs() < 1e15 => Some(z as i64),
            Some(_) => return Err(self.err(&format!("{at}/z"), "`z` must be a whole number")),
        };
        Ok(Some(Layout {
            diagram,
            cell: self.text(l, "cell", &at)?,
            x: self.number(l, "x", &at)?,
            y: self.number(l, "y", &at)?,
            width: self.number(l, "width", &at)?,
            height: self.number(l, "height", &at)?,
            z,
            points,
        }))
    }

    /// `threat_dragon:` of an item: any mapping, kept as it is.
    fn foreign(
        &self,
        m: &serde_json::Map<String, Value>,
        at: &str,
    ) -> Result<Option<Value>, ModelError> {
        match m.get("threat_dragon") {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
            Some(_) => Err(self.err(
                &format!("{at}/threat_dragon"),
                "`threat_dragon` must be a mapping",
            )),
        }
    }

    /// `threats:` recorded on an item.
    fn recorded(
        &self,
        m: &serde_json::Map<String, Value>,
        at: &str,
    ) -> Result<Vec<RecordedThreat>, ModelError> {
        let mut out = Vec::new();
        let at = format!("{at}/threats");
        for (i, t) in self.list(m.get("threats"), &at)?.iter().enumerate() {
            let at = format!("{at}/{i}");
            let t = self.map(t, &at, "a recorded threat")?;
            self.only(
                t,
                &[
                    "title",
                    "category",
                    "status",
                    "severity",
                    "description",
                    "mitigation",
                    "score",
                    "method",
                    "id",
                    "number",
                    "rule",
                ],
                &at,
                "a recorded threat",
            )?;
            let status = match self.text(t, "status", &at)?.as_deref() {
                None | Some("open") => RecordedStatus::Open,
                Some("mitigated") => RecordedStatus::Mitigated,
                Some("not-applicable") => RecordedStatus::NotApplicable,
                Some(other) => {
                    return Err(self.err(
                        &format!("{at}/status"),
                        format!(
                            "`status`: {other:?} is not one of open, mitigated, not-applicable"
                        ),
                    ));
                }
            };
            let number = match self.number(t, "number", &at)? {
                None => None,
                Some(n) if n >= 0.0 && n.fract() == 0.0 && n < 1e15 => Some(n as u64),
                Some(_) => {
                    return Err(
                        self.err(&format!("{at}/number"), "`number` must be a whole number")
                    );
                }
            };
            out.push(RecordedThreat {
                title: self
                    .text(t, "title", &at)?
                    .ok_or_else(|| self.err(&at, "a recorded threat needs a `title`"))?,
                category: self.text(t, "category", &at)?,
                status,
                severity: self.text(t, "severity", &at)?,
                description: self.text(t, "description", &at)?,
                mitigation: self.text(t, "mitigation", &at)?,
                score: self.text(t, "score", &at)?,
                method: self.text(t, "method", &at)?,
                id: self.text(t, "id", &at)?,
                number,
                rule: self.text(t, "rule", &at)?,
                line: self.line(&at),
            });
        }
        Ok(out)
    }

    fn only(
        &self,
        m: &serde_json::Map<String, Value>,
        allowed: &[&str],
        at: &str,
        what: &str,
    ) -> Result<(), ModelError> {
        for k in m.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(self.err(
                    &format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    format!(
                        "unknown key `{k}` in {what} (known: {})",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl SystemModel {
    /// Reads a model from YAML text; `file` names it in errors and findings.
    ///
    /// # Errors
    /// [`ModelError`] with the line of what is wrong.
    pub fn from_yaml(text: &str, file: &str) -> Result<Self, ModelError> {
        let limits = aisec_yaml::Limits {
            max_bytes: MAX_BYTES,
            ..aisec_yaml::Limits::default()
        };
        let doc = aisec_yaml::load_located(text, limits).map_err(|e| ModelError {
            file: file.to_owned(),
            line: 0,
            message: e.to_string(),
        })?;
        let r = Reader {
            file,
            lines: &doc.lines,
        };
        let root = r.map(&doc.value, "", "the model")?;
        r.only(
            root,
            &[
                "system",
                "description",
                "owner",
                "reviewer",
                "contributors",
                "diagrams",
                "notes",
                "boundaries",
                "elements",
                "flows",
                "accepted",
            ],
            "",
            "the model",
        )?;
        let name = r
            .text(root, "system", "")?
            .ok_or_else(|| r.err("", "`system` (the system's name) is required"))?;
        let mut model = SystemModel {
            file: file.to_owned(),
            name,
            description: r.text(root, "description", "")?,
            owner: r.text(root, "owner", "")?,
            reviewer: r.text(root, "reviewer", "")?,
            contributors: r.texts(root, "contributors", "")?,
            diagrams: Vec::new(),
            notes: Vec::new(),
            boundaries: Vec::new(),
            elements: Vec::new(),
            flows: Vec::new(),
            accepted: Vec::new(),
        };
        for (i, d) in r
            .list(root.get("diagrams"), "/diagrams")?
            .iter()
            .enumerate()
        {
            let at = format!("/diagrams/{i}");
            let m = r.map(d, &at, "a diagram")?;
            r.only(m, &["title", "description", "method"], &at, "a diagram")?;
            model.diagrams.push(Diagram {
                title: r
                    .text(m, "title", &at)?
                    .unwrap_or_else(|| model.name.clone()),
                description: r.text(m, "description", &at)?,
                method: r
                    .text(m, "method", &at)?
                    .unwrap_or_else(|| "STRIDE".to_owned()),
            });
        }
        let views = model.diagrams.len();
        for (i, n) in r.list(root.get("notes"), "/notes")?.iter().enumerate() {
            let at = format!("/notes/{i}");
            let m = r.map(n, &at, "a note")?;
            r.only(m, &["text", "layout", "threat_dragon"], &at, "a note")?;
            model.notes.push(Note {
                text: r.text(m, "text", &at)?.unwrap_or_default(),
                layout: r.layout(m, &at, views)?,
                foreign: r.foreign(m, &at)?,
            });
        }
        let mut ids = HashSet::new();
        for (i, b) in r
            .list(root.get("boundaries"), "/boundaries")?
            .iter()
            .enumerate()
        {
            let at = format!("/boundaries/{i}");
            let m = r.map(b, &at, "a boundary")?;
            r.only(
                m,
                &[
                    "id",
                    "name",
                    "trusted",
                    "description",
                    "layout",
                    "threat_dragon",
                ],
                &at,
                "a boundary",
            )?;
            let id = r.id(m, &at)?;
            if model.boundaries.iter().any(|x| x.id == id) {
                return Err(r.err(&at, format!("boundary {id:?} is defined twice")));
            }
            model.boundaries.push(Boundary {
                name: r.text(m, "name", &at)?.unwrap_or_else(|| id.clone()),
                trusted: r.boolean(m, "trusted", &at)?.unwrap_or(id != "internet"),
                description: r.text(m, "description", &at)?,
                layout: r.layout(m, &at, views)?,
                foreign: r.foreign(m, &at)?,
                id,
                line: r.line(&at),
            });
        }
        let elements = r.list(root.get("elements"), "/elements")?;
        if elements.is_empty() {
            return Err(r.err("", "`elements` must list at least one element"));
        }
        for (i, e) in elements.iter().enumerate() {
            let at = format!("/elements/{i}");
            let m = r.map(e, &at, "an element")?;
            let id = r.id(m, &at)?;
            let kind_name = r
                .text(m, "kind", &at)?
                .ok_or_else(|| r.err(&at, format!("element {id:?} needs a `kind`")))?;
            let kind = KINDS
                .iter()
                .find(|(n, _)| *n == kind_name)
                .map(|(_, k)| *k)
                .ok_or_else(|| {
                    r.err(
                        &format!("{at}/kind"),
                        format!(
                            "unknown kind {kind_name:?} (known: {})",
                            KINDS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                        ),
                    )
                })?;
            let spec = properties(kind);
            let mut allowed = vec!["id", "kind", "name", "boundary", "description"];
            allowed.extend(SCOPE_KEYS);
            allowed.extend(spec.iter().map(|(n, _)| *n));
            r.only(m, &allowed, &at, &format!("a {kind_name}"))?;
            let mut props = BTreeMap::new();
            for (key, ty) in spec {
                let Some(v) = m.get(*key).filter(|v| !v.is_null()) else {
                    continue;
                };
                let p = format!("{at}/{key}");
                check_type(&r, v, *ty, key, &p)?;
                props.insert((*key).to_owned(), v.clone());
            }
            if !ids.insert(id.clone()) {
                return Err(r.err(&at, format!("id {id:?} is used twice")));
            }
            let boundary = r.text(m, "boundary", &at)?;
            if let Some(b) = &boundary
                && !model.boundaries.iter().any(|x| &x.id == b)
            {
                return Err(r.err(&format!("{at}/boundary"), format!("no boundary {b:?}")));
            }
            model.elements.push(Element {
                name: r.text(m, "name", &at)?.unwrap_or_else(|| id.clone()),
                id,
                kind,
                boundary,
                description: r.text(m, "description", &at)?,
                props,
                out_of_scope: r.boolean(m, "out_of_scope", &at)?.unwrap_or(false),
                out_of_scope_reason: r.text(m, "out_of_scope_reason", &at)?,
                threats: r.recorded(m, &at)?,
                layout: r.layout(m, &at, views)?,
                foreign: r.foreign(m, &at)?,
                line: r.line(&at),
            });
        }
        // Before any flow is read, the ids seen are the elements'.
        let element_ids = ids.clone();
        // Ids an element property points at must exist.
        for (i, e) in model.elements.iter().enumerate() {
            for (key, ty) in properties(e.kind) {
                if *ty == Ty::Ids
                    && let Some(Value::Array(list)) = e.props.get(*key)
                {
                    for (j, v) in list.iter().enumerate() {
                        let target = v.as_str().unwrap_or_default();
                        if !element_ids.contains(target) {
                            return Err(r.err(
                                &format!("/elements/{i}/{key}/{j}"),
                                format!("{}: no element {target:?}", e.id),
                            ));
                        }
                    }
                }
            }
        }
        for (i, f) in r.list(root.get("flows"), "/flows")?.iter().enumerate() {
            let at = format!("/flows/{i}");
            let m = r.map(f, &at, "a flow")?;
            let mut allowed = vec![
                "id",
                "from",
                "to",
                "name",
                "description",
                "protocol",
                "authenticated",
                "encrypted",
                "public_network",
                "bidirectional",
                "crosses_boundary",
                "data",
            ];
            allowed.extend(SCOPE_KEYS);
            r.only(m, &allowed, &at, "a flow")?;
            let end = |key: &str| -> Result<String, ModelError> {
                let v = r
                    .text(m, key, &at)?
                    .ok_or_else(|| r.err(&at, format!("a flow needs `{key}`")))?;
                if element_ids.contains(&v) {
                    Ok(v)
                } else {
                    Err(r.err(&format!("{at}/{key}"), format!("no element {v:?}")))
                }
            };
            let (from, to) = (end("from")?, end("to")?);
            let id = match r.text(m, "id", &at)? {
                Some(_) => r.id(m, &at)?,
                None => Flow::default_id(&from, &to),
            };
            if !ids.insert(id.clone()) {
                return Err(r.err(&at, format!("id {id:?} is used twice")));
            }
            let data = match m.get("data") {
                None | Some(Value::Null) => Vec::new(),
                Some(v) => {
                    check_type(
                        &r,
                        v,
                        Ty::Words(DATA_CLASSES),
                        "data",
                        &format!("{at}/data"),
                    )?;
                    v.as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default()
                }
            };
            model.flows.push(Flow {
                id,
                from,
                to,
                name: r.text(m, "name", &at)?,
                protocol: r.text(m, "protocol", &at)?,
                authenticated: r.boolean(m, "authenticated", &at)?.unwrap_or(false),
                encrypted: r.boolean(m, "encrypted", &at)?.unwrap_or(false),
                data,
                description: r.text(m, "description", &at)?,
                public_network: r.boolean(m, "public_network", &at)?.unwrap_or(false),
                bidirectional: r.boolean(m, "bidirectional", &at)?.unwrap_or(false),
                crosses_boundary: r.boolean(m, "crosses_boundary", &at)?.unwrap_or(false),
                out_of_scope: r.boolean(m, "out_of_scope", &at)?.unwrap_or(false),
                out_of_scope_reason: r.text(m, "out_of_scope_reason", &at)?,
                threats: r.recorded(m, &at)?,
                layout: r.layout(m, &at, views)?,
                foreign: r.foreign(m, &at)?,
                line: r.line(&at),
            });
        }
        for (i, a) in r
            .list(root.get("accepted"), "/accepted")?
            .iter()
            .enumerate()
        {
            let at = format!("/accepted/{i}");
            let m = r.map(a, &at, "an acceptance")?;
            r.only(m, &["threat", "target", "reason"], &at, "an acceptance")?;
            let rule = r
                .text(m, "threat", &at)?
                .ok_or_else(|| r.err(&at, "an acceptance names its `threat` (a rule id)"))?;
            let reason = r
                .text(m, "reason", &at)?
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| r.err(&at, "an acceptance gives its `reason`"))?;
            let target = r.text(m, "target", &at)?;
            if let Some(t) = &target
                && !ids.contains(t)
            {
                return Err(r.err(&format!("{at}/target"), format!("no element or flow {t:?}")));
            }
            model.accepted.push(Acceptance {
                rule,
                target,
                reason,
                line: r.line(&at),
            });
        }
        Ok(model)
    }

    /// Forgets every line (for a model read from another format, whose lines mean nothing).
    pub fn clear_lines(&mut self) {
        for b in &mut self.boundaries {
            b.line = 0;
        }
        for e in &mut self.elements {
            e.line = 0;
            e.threats.iter_mut().for_each(|t| t.line = 0);
        }
        for f in &mut self.flows {
            f.line = 0;
            f.threats.iter_mut().for_each(|t| t.line = 0);
        }
        for a in &mut self.accepted {
            a.line = 0;
        }
    }

    /// The element `id`.
    #[must_use]
    pub fn element(&self, id: &str) -> Option<&Element> {
        self.elements.iter().find(|e| e.id == id)
    }

    /// The boundary `id`.
    #[must_use]
    pub fn boundary(&self, id: &str) -> Option<&Boundary> {
        self.boundaries.iter().find(|b| b.id == id)
    }

    /// Whether `element` is outside every trusted boundary: an actor not marked trusted, or an
    /// element in an untrusted boundary.
    #[must_use]
    pub fn untrusted(&self, element: &Element) -> bool {
        let in_untrusted = element
            .boundary
            .as_ref()
            .and_then(|b| self.boundary(b))
            .is_some_and(|b| !b.trusted);
        in_untrusted || (element.kind == Kind::Actor && !element.flag("trusted"))
    }

    /// Whether `flow` crosses a trust boundary: from one boundary to another, over a boundary
    /// line, or over a public network.
    #[must_use]
    pub fn crosses(&self, flow: &Flow) -> bool {
        flow.crosses_with(|id| self.element(id).and_then(|e| e.boundary.as_deref()))
    }
}

impl Flow {
    /// The id a flow gets when the model gives none.
    #[must_use]
    pub fn default_id(from: &str, to: &str) -> String {
        format!("{from}->{to}")
    }

    /// Whether the flow crosses a trust boundary, given each element's boundary: from one
    /// boundary to another, over a boundary line, or over a public network.
    pub(crate) fn crosses_with<'b>(&self, boundary_of: impl Fn(&str) -> Option<&'b str>) -> bool {
        self.crosses_boundary
            || self.public_network
            || boundary_of(&self.from) != boundary_of(&self.to)
    }
}

impl Element {
    /// A boolean property, false when absent.
    #[must_use]
    pub fn flag(&self, key: &str) -> bool {
        self.props
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// A word property.
    #[must_use]
    pub fn word(&self, key: &str) -> Option<&str> {
        self.props.get(key).and_then(Value::as_str)
    }

    /// A list property's words.
    #[must_use]
    pub fn words(&self, key: &str) -> Vec<&str> {
        self.props
            .get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }
}

fn check_type(r: &Reader<'_>, v: &Value, ty: Ty, key: &str, at: &str) -> Result<(), ModelError> {
    let ok = match ty {
        Ty::Bool => v.is_boolean(),
        Ty::Text => v.is_string(),
        Ty::Word(words) => {
            let Some(s) = v.as_str() else {
                return Err(r.err(at, format!("`{key}` must be one of {}", words.join(", "))));
            };
            if !words.contains(&s) {
                return Err(r.err(
                    at,
                    format!("`{key}`: {s:?} is not one of {}", words.join(", ")),
                ));
            }
            true
        }
        Ty::Words(words) => {
            let Some(list) = v.as_array() else {
                return Err(r.err(
                    at,
                    format!("`{key}` must be a list of: {}", words.join(", ")),
                ));
            };
            for (i, item) in list.iter().enumerate() {
                match item.as_str() {
                    Some(s) if words.contains(&s) => {}
                    _ => {
                        return Err(r.err(
                            &format!("{at}/{i}"),
                            format!("`{key}`: {item} is not one of {}", words.join(", ")),
                        ));
                    }
                }
            }
            true
        }
        Ty::Ids => v
            .as_array()
            .is_some_and(|a| a.len() <= MAX_ITEMS && a.iter().all(Value::is_string)),
    };
    if ok {
        Ok(())
    } else {
        let want = match ty {
            Ty::Bool => "true or false",
            Ty::Text => "text",
            Ty::Ids => "a list of element ids",
            Ty::Word(_) | Ty::Words(_) => "a word",
        };
        Err(r.err(at, format!("`{key}` must be {want}")))
    }
}

/// The property names of each kind, for the documentation and the schema test.
#[must_use]
pub fn property_names(kind_name: &str) -> Option<Vec<&'static str>> {
    let kind = KINDS.iter().find(|(n, _)| *n == kind_name)?.1;
    Some(properties(kind).iter().map(|(n, _)| *n).collect())
}

/// Whether `id` may name a boundary, element or flow: letters, digits, `-`, `_` and `.`, at
/// most 128.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The kind called `name` in the YAML.
pub(crate) fn kind_by_name(name: &str) -> Option<Kind> {
    KINDS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
}

/// Whether `key: value` is a property of `kind` with a value of the right type.
pub(crate) fn property_fits(kind: Kind, key: &str, value: &Value) -> bool {
    let Some((_, ty)) = properties(kind).iter().find(|(n, _)| *n == key) else {
        return false;
    };
    match ty {
        Ty::Bool => value.is_boolean(),
        Ty::Text => value.is_string(),
        Ty::Word(words) => value.as_str().is_some_and(|s| words.contains(&s)),
        Ty::Words(words) => value.as_array().is_some_and(|a| {
            a.iter()
                .all(|v| v.as_str().is_some_and(|s| words.contains(&s)))
        }),
        Ty::Ids => value
            .as_array()
            .is_some_and(|a| a.len() <= MAX_ITEMS && a.iter().all(Value::is_string)),
    }
}

/// Every kind's name.
#[must_use]
pub fn kind_names() -> Vec<&'static str> {
    KINDS.iter().map(|(n, _)| *n).collect()
}

/// Inserts `key: value` when `value` says something (not absent, not false, not empty).
fn put(m: &mut serde_json::Map<String, Value>, key: &str, value: Value) {
    let empty = match &value {
        Value::Null | Value::Bool(false) => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    };
    if !empty {
        m.insert(key.to_owned(), value);
    }
}

fn opt(v: Option<&String>) -> Value {
    v.map_or(Value::Null, |s| Value::String(s.clone()))
}

fn num(v: f64) -> Value {
    // Whole numbers are written as integers (`120`, not `120.0`).
    if v.fract() == 0.0 && v.abs() < 1e15 {
        Value::from(v as i64)
    } else {
        serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}

impl Layout {
    fn to_value(&self) -> Value {
        let mut m = serde_json::Map::new();
        if self.diagram > 0 {
            m.insert("diagram".into(), Value::from(self.diagram));
        }
        put(&mut m, "cell", opt(self.cell.as_ref()));
        for (k, v) in [
            ("x", self.x),
            ("y", self.y),
            ("width", self.width),
            ("height", self.height),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), num(v));
            }
        }
        if let Some(z) = self.z {
            m.insert("z".into(), Value::from(z));
        }
        put(
            &mut m,
            "points",
            list(&self.points, |[x, y]| Value::Array(vec![num(*x), num(*y)])),
        );
        Value::Object(m)
    }
}

impl RecordedThreat {
    fn to_value(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("title".into(), Value::String(self.title.clone()));
        put(&mut m, "category", opt(self.category.as_ref()));
        m.insert("status".into(), Value::from(self.status.name()));
        put(&mut m, "severity", opt(self.severity.as_ref()));
        put(&mut m, "description", opt(self.description.as_ref()));
        put(&mut m, "mitigation", opt(self.mitigation.as_ref()));
        put(&mut m, "score", opt(self.score.as_ref()));
        put(&mut m, "method", opt(self.method.as_ref()));
        put(&mut m, "id", opt(self.id.as_ref()));
        put(
            &mut m,
            "number",
            self.number.map_or(Value::Null, Value::from),
        );
        put(&mut m, "rule", opt(self.rule.as_ref()));
        Value::Object(m)
    }
}

/// The keys every element and flow shares after its own.
fn put_scope(
    m: &mut serde_json::Map<String, Value>,
    out_of_scope: bool,
    reason: Option<&String>,
    threats: &[RecordedThreat],
) {
    put(m, "out_of_scope", Value::Bool(out_of_scope));
    put(m, "out_of_scope_reason", opt(reason));
    put(m, "threats", list(threats, RecordedThreat::to_value));
}

/// Where an item is drawn, and what the drawing tool keeps on it.
fn put_drawing(
    m: &mut serde_json::Map<String, Value>,
    layout: Option<&Layout>,
    foreign: Option<&Value>,
) {
    put(m, "layout", layout.map_or(Value::Null, Layout::to_value));
    put(m, "threat_dragon", foreign.cloned().unwrap_or(Value::Null));
}

/// `items` as a YAML list.
fn list<T>(items: &[T], f: impl FnMut(&T) -> Value) -> Value {
    Value::Array(items.iter().map(f).collect())
}

/// Strings as a YAML list.
fn texts(items: &[String]) -> Value {
    Value::Array(items.iter().cloned().map(Value::String).collect())
}

impl SystemModel {
    /// The model as the YAML document [`SystemModel::from_yaml`] reads (keys in the documented
    /// order; what is absent, false or empty is left out).
    #[must_use]
    pub fn to_value(&self) -> Value {
        let mut root = serde_json::Map::new();
        root.insert("system".into(), Value::String(self.name.clone()));
        put(&mut root, "description", opt(self.description.as_ref()));
        put(&mut root, "owner", opt(self.owner.as_ref()));
        put(&mut root, "reviewer", opt(self.reviewer.as_ref()));
        put(&mut root, "contributors", texts(&self.contributors));
        put(
            &mut root,
            "diagrams",
            list(&self.diagrams, |d| {
                let mut m = serde_json::Map::new();
                m.insert("title".into(), Value::String(d.title.clone()));
                put(&mut m, "description", opt(d.description.as_ref()));
                m.insert("method".into(), Value::String(d.method.clone()));
                Value::Object(m)
            }),
        );
        put(
            &mut root,
            "notes",
            list(&self.notes, |n| {
                let mut m = serde_json::Map::new();
                m.insert("text".into(), Value::String(n.text.clone()));
                put_drawing(&mut m, n.layout.as_ref(), n.foreign.as_ref());
                Value::Object(m)
            }),
        );
        put(
            &mut root,
            "boundaries",
            list(&self.boundaries, |b| {
                let mut m = serde_json::Map::new();
                m.insert("id".into(), Value::String(b.id.clone()));
                m.insert("name".into(), Value::String(b.name.clone()));
                if b.trusted != (b.id != "internet") {
                    m.insert("trusted".into(), Value::Bool(b.trusted));
                }
                put(&mut m, "description", opt(b.description.as_ref()));
                put_drawing(&mut m, b.layout.as_ref(), b.foreign.as_ref());
                Value::Object(m)
            }),
        );
        root.insert(
            "elements".into(),
            list(&self.elements, |e| {
                let mut m = serde_json::Map::new();
                m.insert("id".into(), Value::String(e.id.clone()));
                m.insert("kind".into(), Value::from(e.kind.name()));
                m.insert("name".into(), Value::String(e.name.clone()));
                put(&mut m, "boundary", opt(e.boundary.as_ref()));
                put(&mut m, "description", opt(e.description.as_ref()));
                for (k, v) in &e.props {
                    m.insert(k.clone(), v.clone());
                }
                put_scope(
                    &mut m,
                    e.out_of_scope,
                    e.out_of_scope_reason.as_ref(),
                    &e.threats,
                );
                put_drawing(&mut m, e.layout.as_ref(), e.foreign.as_ref());
                Value::Object(m)
            }),
        );
        put(
            &mut root,
            "flows",
            list(&self.flows, |f| {
                let mut m = serde_json::Map::new();
                // The id is left out when it is the one the reader gives (`from->to`).
                if f.id != Flow::default_id(&f.from, &f.to) {
                    m.insert("id".into(), Value::String(f.id.clone()));
                }
                m.insert("from".into(), Value::String(f.from.clone()));
                m.insert("to".into(), Value::String(f.to.clone()));
                put(&mut m, "name", opt(f.name.as_ref()));
                put(&mut m, "description", opt(f.description.as_ref()));
                put(&mut m, "protocol", opt(f.protocol.as_ref()));
                for (k, v) in [
                    ("authenticated", f.authenticated),
                    ("encrypted", f.encrypted),
                    ("public_network", f.public_network),
                    ("bidirectional", f.bidirectional),
                    ("crosses_boundary", f.crosses_boundary),
                ] {
                    put(&mut m, k, Value::Bool(v));
                }
                put(&mut m, "data", texts(&f.data));
                put_scope(
                    &mut m,
                    f.out_of_scope,
                    f.out_of_scope_reason.as_ref(),
                    &f.threats,
                );
                put_drawing(&mut m, f.layout.as_ref(), f.foreign.as_ref());
                Value::Object(m)
            }),
        );
        put(
            &mut root,
            "accepted",
            list(&self.accepted, |a| {
                let mut m = serde_json::Map::new();
                m.insert("threat".into(), Value::String(a.rule.clone()));
                put(&mut m, "target", opt(a.target.as_ref()));
                m.insert("reason".into(), Value::String(a.reason.clone()));
                Value::Object(m)
            }),
        );
        Value::Object(root)
    }

    /// The model as YAML (see [`SystemModel::to_value`]).
    #[must_use]
    pub fn to_yaml(&self) -> String {
        const ORDER: &[&str] = &[
            "system",
            "description",
            "owner",
            "reviewer",
            "contributors",
            "diagrams",
            "notes",
            "boundaries",
            "elements",
            "flows",
            "accepted",
            "id",
            "kind",
            "title",
            "text",
            "threat",
            "name",
            "from",
            "to",
            "target",
            "boundary",
            "trusted",
            "category",
            "status",
            "severity",
            "method",
        ];
        // Then description, properties, scope, threats and layout (sorted), as documented.
        aisec_yaml::emit::to_string_ordered(&self.to_value(), ORDER)
    }
}
