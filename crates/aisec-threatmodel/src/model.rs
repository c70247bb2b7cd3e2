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

const DATA_CLASSES: &[&str] = &[
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

/// The properties each kind takes: (name, type). docs/threat-model.md gives their meaning and
/// defaults (a missing boolean is false, except where a rule says it assumes the worse).
fn properties(kind: Kind) -> &'static [(&'static str, Ty)] {
    use Ty::{Bool, Ids, Text, Word, Words};
    match kind {
        Kind::Actor => &[("human", Bool), ("trusted", Bool)],
        Kind::Process => &[
            ("authenticated", Bool),
            ("logging", Bool),
            ("runs_untrusted_code", Bool),
            ("input_validation", Bool),
        ],
        Kind::Datastore => &[
            ("encrypted_at_rest", Bool),
            ("access_logged", Bool),
            ("backups", Bool),
            ("contains", Words(DATA_CLASSES)),
        ],
        Kind::Model => &[
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
        Kind::TrainingPipeline => &[
            ("data_validation", Bool),
            ("isolated", Bool),
            ("reproducible", Bool),
            ("robustness_tested", Bool),
        ],
        Kind::Dataset => &[
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
        Kind::FeatureStore => &[("access_controlled", Bool), ("contains_pii", Bool)],
        Kind::VectorStore => &[
            (
                "sources",
                Words(&["internal", "user-uploaded", "web", "third-party"]),
            ),
            ("access_controlled", Bool),
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
        Kind::Tool => &[
            (
                "side_effects",
                Word(&["none", "read", "write", "external", "execute"]),
            ),
            ("credentials", Bool),
            ("sandboxed", Bool),
        ],
        Kind::PromptTemplate => &[("user_input_delimited", Bool), ("secrets", Bool)],
        Kind::Guardrail => &[("protects", Ids), ("input", Bool), ("output", Bool)],
        Kind::InferenceEndpoint => &[
            ("authenticated", Bool),
            ("rate_limited", Bool),
            ("output_detail", Word(&["label", "scores", "logits"])),
            ("public", Bool),
            ("monitored", Bool),
        ],
    }
}

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

/// A trust boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Boundary {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Whether what is inside is trusted (default: true, except a boundary called `internet`).
    pub trusted: bool,
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
        if id.is_empty()
            || id.len() > 128
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
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
            boundaries: Vec::new(),
            elements: Vec::new(),
            flows: Vec::new(),
            accepted: Vec::new(),
        };
        let mut ids = HashSet::new();
        for (i, b) in r
            .list(root.get("boundaries"), "/boundaries")?
            .iter()
            .enumerate()
        {
            let at = format!("/boundaries/{i}");
            let m = r.map(b, &at, "a boundary")?;
            r.only(m, &["id", "name", "trusted"], &at, "a boundary")?;
            let id = r.id(m, &at)?;
            if model.boundaries.iter().any(|x| x.id == id) {
                return Err(r.err(&at, format!("boundary {id:?} is defined twice")));
            }
            model.boundaries.push(Boundary {
                name: r.text(m, "name", &at)?.unwrap_or_else(|| id.clone()),
                trusted: r.boolean(m, "trusted", &at)?.unwrap_or(id != "internet"),
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
            r.only(
                m,
                &[
                    "id",
                    "from",
                    "to",
                    "name",
                    "protocol",
                    "authenticated",
                    "encrypted",
                    "data",
                ],
                &at,
                "a flow",
            )?;
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
                None => format!("{from}->{to}"),
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

    /// Whether `flow` crosses from one boundary to another.
    #[must_use]
    pub fn crosses(&self, flow: &Flow) -> bool {
        let b = |id: &str| self.element(id).and_then(|e| e.boundary.as_deref());
        b(&flow.from) != b(&flow.to)
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

/// Every kind's name.
#[must_use]
pub fn kind_names() -> Vec<&'static str> {
    KINDS.iter().map(|(n, _)| *n).collect()
}
