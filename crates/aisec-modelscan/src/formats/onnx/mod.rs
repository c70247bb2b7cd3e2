//! ONNX `ModelProto` analysis on the bounded protobuf wire reader.
//!
//! The model is walked field by field (never decoded into an owned tree): the main graph, every
//! control-flow subgraph in node attributes (depth-bounded), training graphs and model-local
//! functions. Reported: external-data locations that leave the model directory (by name, and on disk
//! through symbolic links), operator domains that need native code, local functions and cycles
//! among them, tensor sizes that would exhaust a loader, and malformed structure. Tensor bytes are
//! never read beyond their lengths, and external files are never opened.

mod external;
mod ops;
mod rules;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use aisec_core::{Confidence, Severity};
use serde_json::json;

use super::outcome::{Env, Issue, Outcome};
use super::protobuf::{Field, ProtoError, Reader, Value};

pub(crate) use rules::RULES;

const FORMAT: &str = "onnx";

/// Highest `ir_version` taken as ONNX (1.20 writes 12; room for a few more).
const MAX_IR_VERSION: u64 = 31;
/// Top-level fields examined by `detect` before it decides on what it has seen.
const DETECT_FIELDS: usize = 4_096;
/// Graph fields whose wire types `detect` checks.
const DETECT_GRAPH_FIELDS: usize = 64;
/// Deepest subgraph nesting analysed; deeper is reported (MS543) and not analysed.
const MAX_GRAPH_DEPTH: usize = 32;
/// Deepest `TypeProto` nesting analysed.
const MAX_TYPE_DEPTH: usize = 32;
/// Node count above which the model is reported as absurdly large (MS542).
const MAX_NODES: u64 = 2_000_000;
/// Tensor count above which the model is reported as absurdly large (MS542).
const MAX_TENSORS: u64 = 1_000_000;
/// Protobuf fields walked per model before analysis stops (not analysed).
const MAX_FIELDS: u64 = 200_000_000;
/// Model-local functions indexed; more are not analysed.
const MAX_FUNCTIONS: usize = 20_000;
/// Calls between local functions kept for the cycle check.
const MAX_CALLS: usize = 200_000;
/// Distinct operator domains kept for the report; more are counted.
const MAX_DOMAINS: usize = 256;
/// Operator types kept per domain for the evidence.
const MAX_OPS_PER_DOMAIN: usize = 64;
/// Distinct external locations checked on disk; more are not analysed.
const MAX_DISK_CHECKS: usize = 100_000;
/// Issues reported per rule; later ones of the same rule are dropped (the first ones make the case).
const MAX_ISSUES_PER_RULE: usize = 32;
/// Declared tensor size that no real model has in one tensor.
const ABSURD_TENSOR_BYTES: u128 = 64 << 30;
/// Declared tensor size that a loader allocates before it notices the data is missing.
const LARGE_TENSOR_BYTES: u128 = 1 << 30;
/// Dims kept per tensor for the evidence.
const MAX_DIMS_KEPT: usize = 8;
/// Metadata values handed to the driver as nested payloads (pickles, archives), at most.
const MAX_NESTED_METADATA: usize = 16;
/// Characters of a name kept in evidence and scope paths.
const MAX_NAME: usize = 80;

/// Domains of the ONNX standard: no library needed.
const STANDARD_DOMAINS: &[&str] = &[
    "",
    "ai.onnx",
    "ai.onnx.ml",
    "ai.onnx.training",
    "ai.onnx.preview",
    "ai.onnx.preview.training",
];

/// Domains of operators built into ONNX Runtime (contrib, layout-transformed and provider ops).
/// Exact names only: `com.microsoft.anything` is a custom domain like any other.
const RUNTIME_DOMAINS: &[&str] = &[
    "com.microsoft",
    "com.microsoft.nchwc",
    "com.microsoft.experimental",
    "com.microsoft.mlfeaturizers",
    "com.microsoft.dml",
    "com.ms.internal.nhwc",
];

/// Domains implemented by well-known operator libraries distributed apart from the runtime, with
/// the library's name.
const LIBRARY_DOMAINS: &[(&str, &str)] = &[
    ("ai.onnx.contrib", "ONNX Runtime Extensions"),
    ("org.pytorch.aten", "PyTorch ATen fallback"),
    ("org.pytorch._caffe2", "PyTorch Caffe2 operators"),
    ("org.openvinotoolkit", "OpenVINO"),
    ("trt.plugins", "TensorRT plugins"),
    ("mmdeploy", "MMDeploy operators"),
];

/// True when `data` is an ONNX `ModelProto`: a plausible `ir_version` varint, a graph or functions,
/// and every known top-level field of the right wire type (a SavedModel also starts with field 1 as
/// a varint, but has neither a field 7 nor a field 25).
pub(crate) fn detect(data: &[u8]) -> bool {
    let mut ir = None;
    let mut body = false;
    let mut unknown = 0usize;
    for (i, field) in Reader::new(data, 0).enumerate() {
        if i >= DETECT_FIELDS {
            break;
        }
        let f = match field {
            Ok(f) => f,
            Err(ProtoError::Truncated(at)) => {
                // A truncated graph or function still makes the file a (broken) model.
                if matches!(tag_at(data, at), Some((7 | 25, 2))) {
                    body = true;
                }
                break;
            }
            Err(_) => break,
        };
        match (f.number, f.value) {
            (1, Value::Varint(v)) => ir = Some(v),
            (5, Value::Varint(_)) => {}
            (2 | 3 | 4 | 6, Value::Bytes(b)) => {
                if std::str::from_utf8(b).is_err() {
                    return false;
                }
            }
            (7, Value::Bytes(b)) => {
                if !plausible_graph(b) {
                    return false;
                }
                body = true;
            }
            (8, Value::Bytes(b)) => {
                if !plausible_opset(b) {
                    return false;
                }
            }
            (14 | 20 | 26, Value::Bytes(_)) => {}
            (25, Value::Bytes(_)) => body = true,
            (1..=8 | 14 | 20 | 25 | 26, _) => return false,
            _ => {
                unknown += 1;
                if unknown > 2 {
                    return false;
                }
            }
        }
    }
    body && ir.is_some_and(|v| (1..=MAX_IR_VERSION).contains(&v))
}

/// Field number and wire type of the tag at `at`.
fn tag_at(data: &[u8], at: usize) -> Option<(u64, u8)> {
    let mut key = 0u64;
    for (i, &b) in data.get(at..)?.iter().take(10).enumerate() {
        key |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((key >> 3, (key & 7) as u8));
        }
    }
    None
}

fn plausible_graph(b: &[u8]) -> bool {
    for field in Reader::new(b, 0).take(DETECT_GRAPH_FIELDS) {
        let Ok(f) = field else {
            // A graph that breaks later is still a graph; the analysis reports the break.
            return true;
        };
        let ok = match f.number {
            1 | 2 | 5 | 10..=16 => matches!(f.value, Value::Bytes(_)),
            _ => true,
        };
        if !ok {
            return false;
        }
    }
    true
}

fn plausible_opset(b: &[u8]) -> bool {
    Reader::new(b, 0)
        .take(DETECT_GRAPH_FIELDS)
        .all(|f| match f {
            Ok(f) => match f.number {
                1 => f.bytes().is_some_and(|s| std::str::from_utf8(s).is_ok()),
                2 => f.varint().is_some(),
                _ => true,
            },
            Err(_) => false,
        })
}

/// Analyses an ONNX model.
pub(crate) fn analyse<'d>(data: &'d [u8], env: &Env<'_>) -> Outcome<'d> {
    let mut w = Walker::new(data, env);
    w.model();
    w.finish()
}

/// Fuzz entry point: the whole analysis over arbitrary bytes, without a file on disk.
pub(crate) fn fuzz(data: &[u8]) -> usize {
    let env = Env {
        disk_path: None,
        name: "fuzz.onnx",
    };
    let _ = detect(data);
    let out = analyse(data, &env);
    out.issues.len() + out.nested.len()
}

/// Cuts a name for evidence.
fn short(s: &str) -> String {
    if s.chars().count() <= MAX_NAME {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(MAX_NAME).collect();
        t.push('…');
        t
    }
}

/// How a domain is classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DomainKind {
    Standard,
    RuntimeContrib,
    Library(&'static str),
    Unknown,
}

/// True when `op` is an operator of the standard `domain` (any version), or the domain's operator
/// list is not known.
fn is_standard_op(domain: &str, op: &str) -> bool {
    let list = match domain {
        "" | "ai.onnx" => ops::ONNX_OPS,
        "ai.onnx.ml" => ops::ML_OPS,
        "ai.onnx.preview" | "ai.onnx.preview.training" => ops::PREVIEW_OPS,
        _ => return true,
    };
    list.binary_search(&op).is_ok()
}

fn classify(domain: &str) -> DomainKind {
    if STANDARD_DOMAINS.contains(&domain) {
        DomainKind::Standard
    } else if RUNTIME_DOMAINS.contains(&domain) {
        DomainKind::RuntimeContrib
    } else if let Some((_, lib)) = LIBRARY_DOMAINS.iter().find(|(d, _)| *d == domain) {
        DomainKind::Library(lib)
    } else {
        DomainKind::Unknown
    }
}

/// What is known about the use of one operator domain.
#[derive(Debug, Default)]
struct DomainUse {
    nodes: u64,
    ops: BTreeSet<String>,
    ops_dropped: bool,
    scopes: BTreeSet<String>,
    first_offset: Option<usize>,
}

/// A model-local function, by the key nodes call it with.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct FnKey {
    domain: String,
    name: String,
    overload: String,
}

/// What a tensor declares and stores.
#[derive(Debug, Default)]
struct TensorInfo {
    name: String,
    /// The first dims, for evidence.
    dims: Vec<i64>,
    ndims: usize,
    /// Product of the non-negative dims (1 for a scalar).
    elements: u128,
    overflow: bool,
    negative_dim: bool,
    data_type: u64,
    raw_len: Option<u64>,
    typed_bytes: u64,
    typed_present: bool,
    data_location: u64,
    locations: Vec<(String, usize)>,
    offset: Option<String>,
    length: Option<String>,
    has_external_entries: bool,
}

impl TensorInfo {
    fn dim(&mut self, v: u64) {
        let d = v as i64;
        if self.ndims == 0 {
            self.elements = 1;
        }
        if self.dims.len() < MAX_DIMS_KEPT {
            self.dims.push(d);
        }
        self.ndims += 1;
        if d < 0 {
            self.negative_dim = true;
        } else if let Some(e) = self.elements.checked_mul(u128::from(v)) {
            self.elements = e;
        } else {
            self.overflow = true;
        }
    }

    fn add_typed(&mut self, bytes: u64) {
        self.typed_present = true;
        self.typed_bytes = self.typed_bytes.saturating_add(bytes);
    }
}

/// Bits per element of an ONNX data type (strings counted as a pointer-sized object).
fn element_bits(data_type: u64) -> Option<u128> {
    Some(match data_type {
        2 | 3 | 9 | 17..=20 | 24 => 8,
        4 | 5 | 10 | 16 => 16,
        1 | 6 | 12 => 32,
        7 | 11 | 13 | 14 => 64,
        15 => 128,
        8 => 256,
        21..=23 => 4,
        25 | 26 => 2,
        _ => return None,
    })
}

struct Walker<'d, 'e> {
    data: &'d [u8],
    env: &'e Env<'e>,
    out: Outcome<'d>,
    fields: u64,
    budget_hit: bool,
    malformed: bool,
    nodes: u64,
    tensors: u64,
    too_deep: Option<(usize, String)>,
    domains: BTreeMap<String, DomainUse>,
    domains_dropped: u64,
    unknown_standard: BTreeMap<String, DomainUse>,
    python_ops: Vec<(String, String, usize)>,
    opset_domains: BTreeMap<String, usize>,
    functions: BTreeMap<FnKey, usize>,
    function_list: Vec<(FnKey, &'d [u8], usize)>,
    calls: Vec<(usize, usize)>,
    per_rule: HashMap<&'static str, usize>,
    disk: HashMap<String, external::OnDisk>,
    nested_metadata: usize,
}

impl<'d, 'e> Walker<'d, 'e> {
    fn new(data: &'d [u8], env: &'e Env<'e>) -> Self {
        Self {
            data,
            env,
            out: Outcome::new(FORMAT),
            fields: 0,
            budget_hit: false,
            malformed: false,
            nodes: 0,
            tensors: 0,
            too_deep: None,
            domains: BTreeMap::new(),
            domains_dropped: 0,
            unknown_standard: BTreeMap::new(),
            python_ops: Vec::new(),
            opset_domains: BTreeMap::new(),
            functions: BTreeMap::new(),
            function_list: Vec::new(),
            calls: Vec::new(),
            per_rule: HashMap::new(),
            disk: HashMap::new(),
            nested_metadata: 0,
        }
    }

    /// Pushes an issue unless its rule already has its share.
    fn issue(&mut self, issue: Issue) {
        let n = self.per_rule.entry(issue.rule).or_insert(0);
        *n += 1;
        if *n <= MAX_ISSUES_PER_RULE {
            self.out.push(issue);
        }
    }

    /// The next field of `r`, counted against the budget; the first malformed field is reported and
    /// ends the message.
    fn next(&mut self, r: &mut Reader<'d>, what: &str) -> Option<Field<'d>> {
        let f = r.next()?;
        self.fields += 1;
        if self.fields > MAX_FIELDS {
            if !self.budget_hit {
                self.budget_hit = true;
                self.out.not_analysed(format!(
                    "more than {MAX_FIELDS} protobuf fields; analysis stopped"
                ));
            }
            return None;
        }
        match f {
            Ok(f) => Some(f),
            Err(e) => {
                self.malformed(what, &e);
                None
            }
        }
    }

    fn malformed(&mut self, what: &str, e: &ProtoError) {
        let at = match *e {
            ProtoError::Varint(o)
            | ProtoError::Truncated(o)
            | ProtoError::WireType(o, _)
            | ProtoError::FieldNumber(o) => o,
        };
        if !self.malformed {
            self.malformed = true;
            self.out
                .not_analysed(format!("malformed protobuf in {what}: {e}"));
        }
        self.issue(
            Issue::new(
                "MS500",
                format!("Malformed {what}"),
                format!(
                    "The {what} is not a well-formed protobuf message ({e}); protobuf parsers reject the model. \
Everything before the break was analysed."
                ),
                json!({ "in": what, "error": e.to_string() }),
            )
            .at(at as u64),
        );
    }

    fn offset_in(&self, payload: &[u8]) -> usize {
        Reader::new(self.data, 0).offset_of(payload)
    }

    // ----- ModelProto ----------------------------------------------------------------------------

    fn model(&mut self) {
        let data = self.data;
        // Pass 1: what nodes are resolved against (functions, opsets), and metadata.
        let mut ir = None;
        let mut r = Reader::new(data, 0);
        while let Some(f) = self.next(&mut r, "ModelProto") {
            match (f.number, f.value) {
                (1, Value::Varint(v)) => ir = Some(v),
                (8, Value::Bytes(b)) => self.opset(b),
                (14, Value::Bytes(b)) => self.metadata_entry(b),
                (25, Value::Bytes(b)) => self.index_function(b),
                _ => {}
            }
        }
        if ir.is_none() {
            self.out
                .not_analysed("no ir_version: not a model ONNX loaders accept");
        }
        // Pass 2: the graphs (repeated `graph` fields are merged by protobuf parsers: all are walked).
        for f in Reader::new(data, 0).map_while(Result::ok) {
            let Value::Bytes(b) = f.value else { continue };
            let base = self.offset_in(b);
            match f.number {
                7 => self.graph(b, base, 0, "graph"),
                20 => {
                    let mut t = Reader::new(b, base);
                    while let Some(g) = self.next(&mut t, "TrainingInfoProto") {
                        if let (1 | 2, Value::Bytes(g_b)) = (g.number, g.value) {
                            let what = if g.number == 1 {
                                "training initialization graph"
                            } else {
                                "training algorithm graph"
                            };
                            let at = self.offset_in(g_b);
                            self.graph(g_b, at, 0, what);
                        }
                    }
                }
                _ => {}
            }
        }
        let list = std::mem::take(&mut self.function_list);
        for (i, (key, body, base)) in list.iter().enumerate() {
            let scope = format!("function {}:{}", short(&key.domain), short(&key.name));
            self.function_body(body, *base, i, &scope);
        }
        self.function_list = list;
    }

    fn opset(&mut self, b: &'d [u8]) {
        let base = self.offset_in(b);
        let mut domain = String::new();
        let mut r = Reader::new(b, base);
        while let Some(f) = self.next(&mut r, "OperatorSetIdProto") {
            if f.number == 1
                && let Some(s) = f.string()
            {
                domain = s.into_owned();
            }
        }
        if self.opset_domains.len() < MAX_DOMAINS {
            self.opset_domains.entry(domain).or_insert(base);
        }
    }

    /// A model-level `metadata_props` entry: a value that is a pickle or an archive is scanned as a
    /// file of its own.
    fn metadata_entry(&mut self, b: &'d [u8]) {
        let base = self.offset_in(b);
        let mut key = String::new();
        let mut value: &'d [u8] = &[];
        let mut r = Reader::new(b, base);
        while let Some(f) = self.next(&mut r, "metadata_props entry") {
            match (f.number, f.value) {
                (1, Value::Bytes(k)) => key = short(&String::from_utf8_lossy(k)),
                (2, Value::Bytes(v)) => value = v,
                _ => {}
            }
        }
        let binary = matches!(value, [0x80, 2..=5, ..]) || value.starts_with(b"PK\x03\x04");
        if binary && self.nested_metadata < MAX_NESTED_METADATA {
            self.nested_metadata += 1;
            self.out
                .nested(format!("metadata_props[{key}]"), Cow::Borrowed(value), None);
        }
    }

    fn index_function(&mut self, b: &'d [u8]) {
        let base = self.offset_in(b);
        let mut key = FnKey::default();
        let mut r = Reader::new(b, base);
        while let Some(f) = self.next(&mut r, "FunctionProto") {
            let s = || f.string().unwrap_or_default().into_owned();
            match f.number {
                1 => key.name = s(),
                10 => key.domain = s(),
                13 => key.overload = s(),
                _ => {}
            }
        }
        if self.function_list.len() >= MAX_FUNCTIONS {
            self.out
                .not_analysed(format!("more than {MAX_FUNCTIONS} model-local functions"));
            return;
        }
        let idx = self.function_list.len();
        self.functions.entry(key.clone()).or_insert(idx);
        self.function_list.push((key, b, base));
    }

    // ----- graphs, nodes, attributes -------------------------------------------------------------

    fn enter(&mut self, depth: usize, scope: &str, at: usize) -> bool {
        if depth > MAX_GRAPH_DEPTH {
            if self.too_deep.is_none() {
                self.too_deep = Some((at, scope.to_owned()));
                self.out.not_analysed(format!(
                    "subgraphs nested more than {MAX_GRAPH_DEPTH} levels deep"
                ));
            }
            return false;
        }
        true
    }

    fn graph(&mut self, buf: &'d [u8], base: usize, depth: usize, scope: &str) {
        if !self.enter(depth, scope, base) {
            return;
        }
        let mut r = Reader::new(buf, base);
        while let Some(f) = self.next(&mut r, "GraphProto") {
            let Value::Bytes(b) = f.value else { continue };
            let at = self.offset_in(b);
            match f.number {
                1 => self.node(b, at, depth, scope, None),
                5 => self.tensor(b, at, scope, "initializer"),
                15 => self.sparse_tensor(b, at, scope, "sparse initializer"),
                11..=13 => self.value_info(b, at),
                _ => {}
            }
        }
    }

    fn function_body(&mut self, buf: &'d [u8], base: usize, idx: usize, scope: &str) {
        let mut r = Reader::new(buf, base);
        while let Some(f) = self.next(&mut r, "FunctionProto") {
            let Value::Bytes(b) = f.value else { continue };
            let at = self.offset_in(b);
            match f.number {
                7 => self.node(b, at, 0, scope, Some(idx)),
                11 => self.attribute(b, at, 0, scope, "default attribute"),
                12 => self.value_info(b, at),
                _ => {}
            }
        }
    }

    fn node(
        &mut self,
        buf: &'d [u8],
        base: usize,
        depth: usize,
        scope: &str,
        in_function: Option<usize>,
    ) {
        self.nodes += 1;
        let mut key = FnKey::default();
        let mut name = String::new();
        let mut r = Reader::new(buf, base);
        while let Some(f) = self.next(&mut r, "NodeProto") {
            let s = || f.string().unwrap_or_default().into_owned();
            match f.number {
                3 => name = short(&s()),
                4 => key.name = s(),
                7 => key.domain = s(),
                8 => key.overload = s(),
                _ => {}
            }
        }
        self.use_op(&key, base, scope, in_function);
        // Errors were reported by the first pass.
        let mut node_scope = None;
        for f in Reader::new(buf, base).map_while(Result::ok) {
            if let (5, Value::Bytes(b)) = (f.number, f.value) {
                let at = self.offset_in(b);
                let s = node_scope
                    .get_or_insert_with(|| {
                        if name.is_empty() {
                            format!("{scope} > {}", short(&key.name))
                        } else {
                            format!("{scope} > {} '{name}'", short(&key.name))
                        }
                    })
                    .clone();
                self.attribute(b, at, depth, &s, "attribute");
            }
        }
    }

    fn use_op(&mut self, key: &FnKey, at: usize, scope: &str, in_function: Option<usize>) {
        if let Some(&callee) = self.functions.get(key) {
            if let Some(caller) = in_function
                && self.calls.len() < MAX_CALLS
            {
                self.calls.push((caller, callee));
            }
            return;
        }
        let (domain, op) = (key.domain.as_str(), key.name.as_str());
        let kind = classify(domain);
        if kind == DomainKind::Standard {
            if !is_standard_op(domain, op) {
                Self::tally(
                    &mut self.unknown_standard,
                    &mut self.domains_dropped,
                    domain,
                    op,
                    at,
                    scope,
                );
            }
            return;
        }
        if kind == DomainKind::RuntimeContrib
            && matches!(op, "PythonOp" | "PythonOpGrad")
            && self.python_ops.len() < MAX_ISSUES_PER_RULE
        {
            self.python_ops.push((short(op), short(scope), at));
        }
        Self::tally(
            &mut self.domains,
            &mut self.domains_dropped,
            domain,
            op,
            at,
            scope,
        );
    }

    fn tally(
        map: &mut BTreeMap<String, DomainUse>,
        dropped: &mut u64,
        domain: &str,
        op: &str,
        at: usize,
        scope: &str,
    ) {
        if !map.contains_key(domain) && map.len() >= MAX_DOMAINS {
            *dropped += 1;
            return;
        }
        let u = map.entry(domain.to_owned()).or_default();
        u.nodes += 1;
        u.first_offset.get_or_insert(at);
        if u.ops.len() < MAX_OPS_PER_DOMAIN {
            u.ops.insert(short(op));
        } else if !u.ops.contains(op) {
            u.ops_dropped = true;
        }
        if u.scopes.len() < 8 {
            u.scopes.insert(short(scope));
        }
    }

    fn attribute(&mut self, buf: &'d [u8], base: usize, depth: usize, scope: &str, what: &str) {
        let mut name = String::new();
        let mut r = Reader::new(buf, base);
        while let Some(f) = self.next(&mut r, "AttributeProto") {
            if f.number == 1 {
                name = short(&f.string().unwrap_or_default());
            }
        }
        let where_ = format!("{scope} {what} '{name}'");
        for f in Reader::new(buf, base).map_while(Result::ok) {
            let Value::Bytes(b) = f.value else { continue };
            let at = self.offset_in(b);
            match f.number {
                5 | 10 => self.tensor(b, at, &where_, "attribute value"),
                22 | 23 => self.sparse_tensor(b, at, &where_, "sparse tensor"),
                6 | 11 => {
                    let sub = format!("{scope}.{name}");
                    self.graph(b, at, depth + 1, &sub);
                }
                14 | 15 => self.type_proto(b, at, 0),
                _ => {}
            }
        }
    }

    fn value_info(&mut self, buf: &'d [u8], base: usize) {
        let mut r = Reader::new(buf, base);
        while let Some(f) = self.next(&mut r, "ValueInfoProto") {
            if let (2, Value::Bytes(b)) = (f.number, f.value) {
                let at = self.offset_in(b);
                self.type_proto(b, at, 0);
            }
        }
    }

    /// Walks a `TypeProto` for structure and depth; shapes of values cause no allocation at load.
    fn type_proto(&mut self, buf: &'d [u8], base: usize, depth: usize) {
        if depth > MAX_TYPE_DEPTH {
            if self.too_deep.is_none() {
                self.too_deep = Some((base, "type description".into()));
                self.out.not_analysed(format!(
                    "types nested more than {MAX_TYPE_DEPTH} levels deep"
                ));
            }
            return;
        }
        let mut r = Reader::new(buf, base);
        while let Some(f) = self.next(&mut r, "TypeProto") {
            let Value::Bytes(b) = f.value else { continue };
            let at = self.offset_in(b);
            // tensor_type and sparse_tensor_type hold a shape at 2; sequence_type and optional_type a
            // type at 1, map_type one at 2.
            let mut g = Reader::new(b, at);
            while let Some(inner) = self.next(&mut g, "TypeProto member") {
                let Value::Bytes(ib) = inner.value else {
                    continue;
                };
                let iat = self.offset_in(ib);
                match (f.number, inner.number) {
                    (1 | 8, 2) => self.shape(ib, iat),
                    (4 | 9, 1) | (5, 2) => self.type_proto(ib, iat, depth + 1),
                    _ => {}
                }
            }
        }
    }

    fn shape(&mut self, buf: &'d [u8], base: usize) {
        let mut r = Reader::new(buf, base);
        while let Some(d) = self.next(&mut r, "TensorShapeProto") {
            if let (1, Value::Bytes(dim)) = (d.number, d.value) {
                let at = self.offset_in(dim);
                let mut dr = Reader::new(dim, at);
                while self.next(&mut dr, "TensorShapeProto.Dimension").is_some() {}
            }
        }
    }

    // ----- tensors -------------------------------------------------------------------------------

    fn read_tensor(&mut self, buf: &'d [u8], base: usize) -> TensorInfo {
        self.tensors += 1;
        let mut t = TensorInfo::default();
        let mut r = Reader::new(buf, base);
        while let Some(f) = self.next(&mut r, "TensorProto") {
            match (f.number, f.value) {
                (1, Value::Varint(v)) => t.dim(v),
                (1, Value::Bytes(b)) if !each_varint(b, |v| t.dim(v)) => {
                    self.malformed("TensorProto dims", &ProtoError::Varint(f.offset));
                }
                (2, Value::Varint(v)) => t.data_type = v,
                (8, Value::Bytes(b)) => t.name = short(&String::from_utf8_lossy(b)),
                (9, Value::Bytes(b)) => t.raw_len = Some(b.len() as u64),
                (4 | 10, Value::Bytes(b)) => t.add_typed(b.len() as u64),
                (4, Value::Fixed32(_)) => t.add_typed(4),
                (10, Value::Fixed64(_)) => t.add_typed(8),
                // Varint-packed int32/int64/uint64 data: each value takes at least one byte and
                // stands for at most one element, counted at the widest element size.
                (5 | 7 | 11, Value::Bytes(b)) => t.add_typed(varint_count(b).saturating_mul(8)),
                (5 | 7 | 11, Value::Varint(_)) => t.add_typed(8),
                (6, Value::Bytes(_)) => t.add_typed(32),
                (13, Value::Bytes(b)) => {
                    t.has_external_entries = true;
                    let at = self.offset_in(b);
                    self.external_entry(&mut t, b, at);
                }
                (14, Value::Varint(v)) => t.data_location = v,
                _ => {}
            }
        }
        t
    }

    fn external_entry(&mut self, t: &mut TensorInfo, b: &'d [u8], base: usize) {
        let mut key = String::new();
        let mut value = String::new();
        let mut value_at = base;
        let mut r = Reader::new(b, base);
        while let Some(f) = self.next(&mut r, "external_data entry") {
            match (f.number, f.value) {
                (1, Value::Bytes(k)) => key = String::from_utf8_lossy(k).into_owned(),
                (2, Value::Bytes(v)) => {
                    value = String::from_utf8_lossy(v).into_owned();
                    value_at = f.offset;
                }
                _ => {}
            }
        }
        match key.as_str() {
            "location" => {
                if t.locations.len() < 4 {
                    t.locations.push((value, value_at));
                } else {
                    // The kept entries are checked with the tensor; further ones by name here.
                    let name = t.name.clone();
                    self.check_location_name(&value, value_at, &name);
                }
            }
            "offset" => t.offset = Some(value),
            "length" => t.length = Some(value),
            _ => {}
        }
    }

    fn tensor(&mut self, buf: &'d [u8], base: usize, scope: &str, what: &str) {
        let t = self.read_tensor(buf, base);
        self.check_tensor(&t, false, base, scope, what);
    }

    fn sparse_tensor(&mut self, buf: &'d [u8], base: usize, scope: &str, what: &str) {
        let mut dense = TensorInfo {
            data_type: 1,
            ..TensorInfo::default()
        };
        let mut r = Reader::new(buf, base);
        while let Some(f) = self.next(&mut r, "SparseTensorProto") {
            match (f.number, f.value) {
                (1 | 2, Value::Bytes(b)) => {
                    let at = self.offset_in(b);
                    let t = self.read_tensor(b, at);
                    let part = if f.number == 1 {
                        dense.data_type = t.data_type;
                        dense.name.clone_from(&t.name);
                        "values"
                    } else {
                        "indices"
                    };
                    self.check_tensor(&t, false, at, scope, &format!("{what} {part}"));
                }
                (3, Value::Varint(v)) => dense.dim(v),
                (3, Value::Bytes(b)) if !each_varint(b, |v| dense.dim(v)) => {
                    self.malformed("SparseTensorProto dims", &ProtoError::Varint(f.offset));
                }
                _ => {}
            }
        }
        self.check_tensor(&dense, true, base, scope, what);
    }
    /// Size checks of one tensor, and its external data. `sparse` is set for the dense shape of a
    /// sparse tensor (which stores nothing itself).
    fn check_tensor(&mut self, t: &TensorInfo, sparse: bool, at: usize, scope: &str, what: &str) {
        let bits = element_bits(t.data_type);
        let declared = if t.overflow {
            None
        } else {
            let elements = if t.ndims == 0 { 1 } else { t.elements };
            bits.map_or(Some(elements), |b| {
                elements.checked_mul(b).map(|x| x.div_ceil(8))
            })
        };
        let mut dims: Vec<String> = t.dims.iter().map(ToString::to_string).collect();
        if t.ndims > t.dims.len() {
            dims.push(format!("… ({} dims)", t.ndims));
        }
        let ev = |extra: serde_json::Value| {
            let mut v = json!({
                "tensor": t.name,
                "where": format!("{scope} {what}"),
                "dims": dims,
                "data_type": t.data_type,
            });
            if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
                o.extend(e.clone());
            }
            v
        };
        let label = if t.name.is_empty() {
            what.to_owned()
        } else {
            format!("{what} '{}'", t.name)
        };
        let external = t.data_location == 1;
        if t.negative_dim {
            self.issue(
                Issue::new(
                    "MS540",
                    format!("Tensor {label} has a negative dimension"),
                    format!(
                        "The {what} in {scope} declares dims [{}]; a negative size is invalid, and loaders that \
compute sizes in unsigned arithmetic turn it into an enormous allocation.",
                        dims.join(", ")
                    ),
                    ev(json!({})),
                )
                .at(at as u64),
            );
        } else if declared.is_none_or(|d| d > u128::from(u64::MAX >> 1)) {
            self.issue(
                Issue::new(
                    "MS540",
                    format!("Tensor {label} declares a size that overflows 64 bits"),
                    format!(
                        "The {what} in {scope} declares dims [{}]: its byte size does not fit in 64 bits, so a loader \
either fails to allocate it or computes a wrapped, too-small size.",
                        dims.join(", ")
                    ),
                    ev(json!({ "declared_bytes": "overflow" })),
                )
                .at(at as u64),
            );
        } else if let Some(d) = declared {
            let stored = if external {
                None
            } else if let Some(r) = t.raw_len {
                Some(u128::from(r))
            } else if t.typed_present {
                Some(u128::from(t.typed_bytes))
            } else {
                Some(0)
            };
            let dense_note = if sparse {
                " (sparse; runtimes materialise the dense tensor)"
            } else {
                ""
            };
            if d > ABSURD_TENSOR_BYTES {
                self.issue(
                    Issue::new(
                        "MS540",
                        format!("Tensor {label} declares {}", human(d)),
                        format!(
                            "The {what} in {scope} declares dims [{}] of data type {}: {} bytes{dense_note}. \
No real model holds a tensor this size; a loader allocating it exhausts memory.",
                            dims.join(", "),
                            t.data_type,
                            d
                        ),
                        ev(json!({ "declared_bytes": d.to_string() })),
                    )
                    .at(at as u64),
                );
            } else if !sparse
                && let Some(s) = stored
                && d >= LARGE_TENSOR_BYTES
                && s < d / 2
            {
                self.issue(
                    Issue::new(
                        "MS540",
                        format!("Tensor {label} declares {} but stores {}", human(d), human(s)),
                        format!(
                            "The {what} in {scope} declares {d} bytes but stores {s}; loaders allocate the declared \
size before they copy the data."
                        ),
                        ev(json!({ "declared_bytes": d.to_string(), "stored_bytes": s.to_string() })),
                    )
                    .at(at as u64),
                );
            } else if !sparse
                && let Some(r) = t.raw_len
                && !external
                && bits.is_some()
                && t.data_type != 8
                && u128::from(r) != d
            {
                self.issue(
                    Issue::new(
                        "MS541",
                        format!("Tensor {label} stores {r} bytes for {d} declared"),
                        format!(
                            "The {what} in {scope} declares dims [{}] of data type {} ({d} bytes) but its raw_data \
holds {r} bytes.",
                            dims.join(", "),
                            t.data_type
                        ),
                        ev(json!({ "declared_bytes": d.to_string(), "stored_bytes": r })),
                    )
                    .at(at as u64),
                );
            } else if !sparse
                && !external
                && t.raw_len.is_none()
                && !t.typed_present
                && d > 0
                && !t.has_external_entries
            {
                self.issue(
                    Issue::new(
                        "MS541",
                        format!("Tensor {label} declares {d} bytes and stores none"),
                        format!(
                            "The {what} in {scope} declares dims [{}] but holds no data.",
                            dims.join(", ")
                        ),
                        ev(json!({ "declared_bytes": d.to_string(), "stored_bytes": 0 })),
                    )
                    .at(at as u64),
                );
            }
        }
        if !sparse && (external || t.has_external_entries) {
            self.check_external(t, declared, at, scope, what, external);
        }
    }

    // ----- external data -------------------------------------------------------------------------

    fn check_location_name(&mut self, location: &str, at: usize, tensor: &str) -> bool {
        let Some(problem) = external::name_problem(location) else {
            return false;
        };
        let shown = location.replace('\0', "\\0");
        self.issue(
            Issue::new(
                "MS510",
                format!("External data location `{}` {problem}", short(&shown)),
                format!(
                    "Tensor '{tensor}' reads its data from `{shown}`, which {problem}: a loader reads that file, \
outside the model directory, into the model's weights."
                ),
                json!({ "tensor": tensor, "location": shown, "problem": problem }),
            )
            .at(at as u64),
        );
        true
    }

    fn check_external(
        &mut self,
        t: &TensorInfo,
        declared: Option<u128>,
        at: usize,
        scope: &str,
        what: &str,
        external: bool,
    ) {
        let tensor = if t.name.is_empty() {
            format!("{scope} {what}")
        } else {
            t.name.clone()
        };
        if external && t.locations.is_empty() {
            self.issue(
                Issue::new(
                    "MS514",
                    format!("External tensor '{}' has no location", short(&tensor)),
                    "The tensor is marked EXTERNAL but names no file to read its data from.",
                    json!({ "tensor": tensor }),
                )
                .at(at as u64),
            );
        }
        let offset = self.parse_number(t.offset.as_deref(), "offset", &tensor, at);
        let length = self.parse_number(t.length.as_deref(), "length", &tensor, at);
        if let (Some(l), Some(d)) = (length, declared)
            && external
            && element_bits(t.data_type).is_some()
            && t.data_type != 8
            && u128::from(l) != d
        {
            self.issue(
                Issue::new(
                    "MS514",
                    format!("External tensor '{}' length {l} differs from its declared {d} bytes", short(&tensor)),
                    "The external `length` does not match the tensor's dims and data type; loaders reject or misread it.",
                    json!({ "tensor": tensor, "length": l, "declared_bytes": d.to_string() }),
                )
                .at(at as u64),
            );
        }
        let mut escaped = false;
        for (loc, loc_at) in &t.locations {
            escaped |= self.check_location_name(loc, *loc_at, &tensor);
        }
        if escaped || !external {
            return;
        }
        // The loader uses the last location entry.
        let Some((loc, loc_at)) = t.locations.last() else {
            return;
        };
        let Some(model) = self.env.disk_path else {
            return;
        };
        let state = if let Some(s) = self.disk.get(loc) {
            s.clone()
        } else if self.disk.len() >= MAX_DISK_CHECKS {
            self.out.not_analysed(format!(
                "more than {MAX_DISK_CHECKS} distinct external data files"
            ));
            return;
        } else {
            let s = external::on_disk(model, loc);
            self.disk.insert(loc.clone(), s.clone());
            // Each file's verdict is reported once; sizes are checked per tensor.
            self.report_disk(loc, &s, &tensor, *loc_at);
            s
        };
        if let external::OnDisk::Regular(size) = state {
            let off = offset.unwrap_or(0);
            let need = match (length, declared) {
                (Some(l), _) => Some(u128::from(l)),
                (None, Some(d)) => Some(d),
                (None, None) => None,
            };
            let end = need.map_or(u128::from(off), |n| u128::from(off) + n);
            if u128::from(off) > u128::from(size) || end > u128::from(size) {
                self.issue(
                    Issue::new(
                        "MS512",
                        format!("External tensor '{}' reads past the end of `{}`", short(&tensor), short(loc)),
                        format!(
                            "Tensor '{tensor}' reads bytes {off}..{end} of `{loc}`, which holds {size} bytes."
                        ),
                        json!({ "tensor": tensor, "location": loc, "offset": off, "end": end.to_string(), "file_size": size }),
                    )
                    .at(at as u64),
                );
            }
        }
    }

    fn report_disk(&mut self, loc: &str, s: &external::OnDisk, tensor: &str, at: usize) {
        use external::OnDisk;
        match s {
            OnDisk::Regular(_) => {}
            OnDisk::Missing => self.issue(
                Issue::new(
                    "MS513",
                    format!("External data file `{}` is missing", short(loc)),
                    format!("Tensor '{tensor}' reads from `{loc}`, which is not next to the model; the model does not load without it."),
                    json!({ "tensor": tensor, "location": loc }),
                )
                .at(at as u64),
            ),
            OnDisk::Special(kind) => self.issue(
                Issue::new(
                    "MS511",
                    format!("External data location `{}` is a {kind}", short(loc)),
                    format!("Tensor '{tensor}' reads from `{loc}`, which is a {kind}, not a regular file."),
                    json!({ "tensor": tensor, "location": loc, "kind": kind }),
                )
                .at(at as u64),
            ),
            OnDisk::Outside(target) => self.issue(
                Issue::new(
                    "MS510",
                    format!("External data location `{}` resolves outside the model directory", short(loc)),
                    format!(
                        "Tensor '{tensor}' reads from `{loc}`, which resolves through a symbolic link to `{target}`, \
outside the model's directory: a loader reads that file into the weights."
                    ),
                    json!({ "tensor": tensor, "location": loc, "resolves_to": target }),
                )
                .at(at as u64),
            ),
            OnDisk::Unknown(e) => {
                self.out.not_analysed(format!(
                    "external data file `{}` could not be examined: {e}",
                    short(loc)
                ));
            }
        }
    }

    fn parse_number(&mut self, v: Option<&str>, key: &str, tensor: &str, at: usize) -> Option<u64> {
        let v = v?;
        if let Ok(n) = v.trim().parse::<u64>() {
            return Some(n);
        }
        self.issue(
            Issue::new(
                "MS514",
                format!("External tensor '{}' has an invalid {key} `{}`", short(tensor), short(v)),
                format!("The external `{key}` of tensor '{tensor}' is `{v}`, not a non-negative decimal integer."),
                json!({ "tensor": tensor, "key": key, "value": v }),
            )
            .at(at as u64),
        );
        None
    }

    // ----- the report ----------------------------------------------------------------------------

    fn finish(mut self) -> Outcome<'d> {
        self.report_domains();
        self.report_functions();
        if self.nodes > MAX_NODES || self.tensors > MAX_TENSORS {
            self.issue(Issue::new(
                "MS542",
                format!("Model has {} nodes and {} tensors", self.nodes, self.tensors),
                format!(
                    "The model's graphs and functions hold {} nodes and {} tensors (limits {MAX_NODES} and \
{MAX_TENSORS}); no real model is this large, and each becomes an object in the loader's memory.",
                    self.nodes, self.tensors
                ),
                json!({ "nodes": self.nodes, "tensors": self.tensors }),
            ));
        }
        if let Some((at, scope)) = self.too_deep.take() {
            self.issue(
                Issue::new(
                    "MS543",
                    format!("Nesting deeper than {MAX_GRAPH_DEPTH} levels"),
                    format!(
                        "Subgraphs or types are nested more than {MAX_GRAPH_DEPTH} levels deep (at {scope}); loaders \
recurse once per level and can overflow their stack. Nothing deeper was analysed."
                    ),
                    json!({ "limit": MAX_GRAPH_DEPTH, "at": short(&scope) }),
                )
                .at(at as u64),
            );
        }
        self.out
    }

    fn report_domains(&mut self) {
        let domains = std::mem::take(&mut self.domains);
        for (domain, u) in &domains {
            let mut ops: Vec<&str> = u.ops.iter().map(String::as_str).collect();
            if u.ops_dropped {
                ops.push("…");
            }
            let ev = json!({
                "domain": domain,
                "nodes": u.nodes,
                "op_types": ops,
                "where": u.scopes,
                "opset_declared": self.opset_domains.contains_key(domain),
            });
            let shown = short(domain);
            let list = ops.join(", ");
            let at = u.first_offset.unwrap_or(0) as u64;
            match classify(domain) {
                DomainKind::Standard => {}
                DomainKind::RuntimeContrib => self.issue(
                    Issue::new(
                        "MS522",
                        format!("ONNX Runtime contrib operators in `{shown}`: {}", short(&list)),
                        format!(
                            "{} node(s) use operators of the `{shown}` domain ({list}), built into ONNX Runtime.",
                            u.nodes
                        ),
                        ev,
                    )
                    .at(at),
                ),
                DomainKind::Library(lib) => self.issue(
                    Issue::new(
                        "MS521",
                        format!("Operators of `{shown}` ({lib}): {}", short(&list)),
                        format!(
                            "{} node(s) use operators of the `{shown}` domain ({list}); they run only with the {lib} \
native library registered with the runtime.",
                            u.nodes
                        ),
                        ev,
                    )
                    .at(at),
                ),
                DomainKind::Unknown => self.issue(
                    Issue::new(
                        "MS520",
                        format!("Custom operator domain `{shown}`: {}", short(&list)),
                        format!(
                            "{} node(s) use operators of the domain `{shown}` ({list}), which no standard runtime \
implements and no model-local function defines: the model runs only with a native custom-operator library \
registered for it, code that executes with the loader's privileges.",
                            u.nodes
                        ),
                        ev,
                    )
                    .at(at),
                ),
            }
        }
        let unknown = std::mem::take(&mut self.unknown_standard);
        for (domain, u) in &unknown {
            let ops: Vec<&str> = u.ops.iter().map(String::as_str).collect();
            let list = ops.join(", ");
            let shown = if domain.is_empty() {
                "ai.onnx"
            } else {
                domain.as_str()
            };
            self.issue(
                Issue::new(
                    "MS524",
                    format!("Operators unknown to the standard domain `{shown}`: {}", short(&list)),
                    format!(
                        "{} node(s) use operator types ({list}) that the ONNX standard domain `{shown}` does not \
define in any version: they run only if a custom-operator library registers them in that domain, native code that \
executes with the loader's privileges.",
                        u.nodes
                    ),
                    json!({ "domain": shown, "nodes": u.nodes, "op_types": ops, "where": u.scopes }),
                )
                .at(u.first_offset.unwrap_or(0) as u64),
            );
        }
        if self.domains_dropped > 0 {
            self.issue(Issue::new(
                "MS520",
                format!("More than {MAX_DOMAINS} operator domains"),
                format!(
                    "{} nodes use domains beyond the first {MAX_DOMAINS} distinct non-standard ones, which no real \
model has.",
                    self.domains_dropped
                ),
                json!({ "nodes": self.domains_dropped }),
            ));
        }
        let function_domains: BTreeSet<&str> =
            self.functions.keys().map(|k| k.domain.as_str()).collect();
        let unused: Vec<(String, usize)> = self
            .opset_domains
            .iter()
            .filter(|(d, _)| {
                classify(d) == DomainKind::Unknown
                    && !domains.contains_key(*d)
                    && !function_domains.contains(d.as_str())
            })
            .map(|(d, at)| (d.clone(), *at))
            .collect();
        for (d, at) in unused {
            self.issue(
                Issue::new(
                    "MS520",
                    format!("Opset for custom domain `{}` declared, no node uses it", short(&d)),
                    format!(
                        "The model imports the operator set of the domain `{d}`, which needs a custom-operator \
library, but no node uses it."
                    ),
                    json!({ "domain": d, "nodes": 0 }),
                )
                .severity(Severity::Low)
                .confidence(Confidence::Possible)
                .at(at as u64),
            );
        }
        for (op, scope, at) in std::mem::take(&mut self.python_ops) {
            self.issue(
                Issue::new(
                    "MS523",
                    format!("Python operator `{op}`"),
                    format!("A `com.microsoft` `{op}` node in {scope} hands control to a Python function in ONNX Runtime training builds."),
                    json!({ "op_type": op, "where": scope }),
                )
                .at(at as u64),
            );
        }
        self.domains = domains;
    }

    fn report_functions(&mut self) {
        if self.function_list.is_empty() {
            return;
        }
        let names: Vec<String> = self
            .function_list
            .iter()
            .take(MAX_OPS_PER_DOMAIN)
            .map(|(k, _, _)| format!("{}:{}", short(&k.domain), short(&k.name)))
            .collect();
        let at = self.function_list[0].2 as u64;
        self.issue(
            Issue::new(
                "MS530",
                format!("{} model-local function(s)", self.function_list.len()),
                format!(
                    "The model defines {} function(s) of its own ({}); their bodies were analysed like graphs.",
                    self.function_list.len(),
                    names.join(", ")
                ),
                json!({ "count": self.function_list.len(), "functions": names }),
            )
            .at(at),
        );
        if let Some(cycle) = find_cycle(self.function_list.len(), &self.calls) {
            let names: Vec<String> = cycle
                .iter()
                .map(|&i| {
                    let k = &self.function_list[i].0;
                    format!("{}:{}", short(&k.domain), short(&k.name))
                })
                .collect();
            let at = self.function_list[cycle[0]].2 as u64;
            self.issue(
                Issue::new(
                    "MS531",
                    format!("Local functions call each other in a cycle: {}", names.join(" -> ")),
                    format!(
                        "The model-local functions {} call one another in a cycle; a runtime that inlines them \
recurses until it crashes.",
                        names.join(" -> ")
                    ),
                    json!({ "cycle": names }),
                )
                .at(at),
            );
        }
    }
}

/// Calls `f` with each varint of a packed payload; false when one is malformed.
fn each_varint(b: &[u8], mut f: impl FnMut(u64)) -> bool {
    let mut v = 0u64;
    let mut shift = 0u32;
    for &x in b {
        if shift >= 70 {
            return false;
        }
        v |= u64::from(x & 0x7f).checked_shl(shift).unwrap_or(0);
        if x & 0x80 == 0 {
            f(v);
            v = 0;
            shift = 0;
        } else {
            shift += 7;
        }
    }
    shift == 0
}

/// Number of varints in a packed payload (bytes without the continuation bit).
fn varint_count(b: &[u8]) -> u64 {
    b.iter().filter(|&&x| x & 0x80 == 0).count() as u64
}

fn human(n: u128) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

/// A cycle in the call graph of `n` functions, as the functions on it in call order.
fn find_cycle(n: usize, calls: &[(usize, usize)]) -> Option<Vec<usize>> {
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in calls {
        if a < n && b < n {
            adj[a].push(b);
        }
    }
    // 0 = unseen, 1 = on the stack, 2 = done.
    let mut color = vec![0u8; n];
    let mut parent = vec![usize::MAX; n];
    for start in 0..n {
        if color[start] != 0 {
            continue;
        }
        let mut stack = vec![(start, 0usize)];
        color[start] = 1;
        while let Some(&mut (v, ref mut i)) = stack.last_mut() {
            if let Some(&w) = adj[v].get(*i) {
                *i += 1;
                match color[w] {
                    0 => {
                        color[w] = 1;
                        parent[w] = v;
                        stack.push((w, 0));
                    }
                    1 => {
                        let mut cycle = vec![w];
                        let mut x = v;
                        while x != w && x != usize::MAX && cycle.len() <= n {
                            cycle.push(x);
                            x = parent[x];
                        }
                        cycle[1..].reverse();
                        cycle.push(w);
                        return Some(cycle);
                    }
                    _ => {}
                }
            } else {
                color[v] = 2;
                stack.pop();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn fv(num: u64, v: u64) -> Vec<u8> {
        let mut o = Vec::new();
        varint(num << 3, &mut o);
        varint(v, &mut o);
        o
    }

    fn fb(num: u64, b: &[u8]) -> Vec<u8> {
        let mut o = Vec::new();
        varint(num << 3 | 2, &mut o);
        varint(b.len() as u64, &mut o);
        o.extend_from_slice(b);
        o
    }

    fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    fn opset(domain: &str, v: u64) -> Vec<u8> {
        fb(8, &cat(&[fb(1, domain.as_bytes()), fv(2, v)]))
    }

    fn node(op: &str, domain: &str) -> Vec<u8> {
        fb(
            1,
            &cat(&[
                fb(1, b"x"),
                fb(2, b"y"),
                fb(4, op.as_bytes()),
                fb(7, domain.as_bytes()),
            ]),
        )
    }

    fn tensor(name: &str, dims: &[i64], data_type: u64, raw: Option<&[u8]>) -> Vec<u8> {
        let mut t: Vec<u8> = dims.iter().flat_map(|&d| fv(1, d as u64)).collect();
        t.extend(fv(2, data_type));
        t.extend(fb(8, name.as_bytes()));
        if let Some(r) = raw {
            t.extend(fb(9, r));
        }
        t
    }

    fn external_tensor(location: &str, extra: &[(&str, &str)]) -> Vec<u8> {
        let mut t = tensor("w", &[4], 1, None);
        for (k, v) in [("location", location)].iter().chain(extra) {
            t.extend(fb(13, &cat(&[fb(1, k.as_bytes()), fb(2, v.as_bytes())])));
        }
        t.extend(fv(14, 1));
        t
    }

    fn model(graph: &[u8], extra: &[Vec<u8>]) -> Vec<u8> {
        let mut m = cat(&[fv(1, 8), fb(2, b"pytorch"), fb(7, graph), opset("", 17)]);
        for e in extra {
            m.extend_from_slice(e);
        }
        m
    }

    fn mlp() -> Vec<u8> {
        cat(&[
            node("MatMul", ""),
            node("Relu", "ai.onnx"),
            fb(5, &tensor("w1", &[2, 2], 1, Some(&[0; 16]))),
            fb(5, &tensor("h", &[3], 10, Some(&[0; 6]))),
            fb(5, &tensor("i4", &[5], 22, Some(&[0; 3]))),
        ])
    }

    fn run_at(data: &[u8], disk: Option<&std::path::Path>) -> Outcome<'static> {
        let env = Env {
            disk_path: disk,
            name: "m.onnx",
        };
        let data: &'static [u8] = Box::leak(data.to_vec().into_boxed_slice());
        assert!(detect(data), "not detected");
        analyse(data, &env)
    }

    fn run(data: &[u8]) -> Outcome<'static> {
        run_at(data, None)
    }

    fn severity(i: &Issue) -> Severity {
        i.severity
            .unwrap_or_else(|| RULES.iter().find(|r| r.id == i.rule).unwrap().severity)
    }

    fn max_for(out: &Outcome<'_>, rule: &str) -> Option<Severity> {
        out.issues
            .iter()
            .filter(|i| i.rule == rule)
            .map(severity)
            .max()
    }

    fn quiet(out: &Outcome<'_>) {
        let loud: Vec<_> = out
            .issues
            .iter()
            .filter(|i| severity(i) >= Severity::Medium)
            .map(|i| format!("{} {}", i.rule, i.title))
            .collect();
        assert!(loud.is_empty(), "{loud:?}");
        assert_eq!(out.not_analysed, None);
    }

    #[test]
    fn rules_are_in_range_and_sorted() {
        for pair in RULES.windows(2) {
            assert!(pair[0].id < pair[1].id);
        }
        assert!(RULES.iter().all(|r| ("MS500"..="MS549").contains(&r.id)));
    }

    #[test]
    fn detection_is_strict() {
        let m = model(&mlp(), &[]);
        assert!(detect(&m));
        // Fields in any order.
        let rev = cat(&[opset("", 17), fb(7, &mlp()), fv(1, 9)]);
        assert!(detect(&rev));
        // A graph cut short is still a (broken) model.
        let cut = &m[..m.len() - 30];
        assert!(detect(cut));
        // A SavedModel: schema version 1, then a MetaGraphDef at field 2 (not text).
        let saved = cat(&[fv(1, 1), fb(2, &[0x0a, 0x80, 0xff, 0x01])]);
        assert!(!detect(&saved));
        // No graph or functions, ir_version out of range or of the wrong type.
        assert!(!detect(&cat(&[fv(1, 8), fb(2, b"x")])));
        assert!(!detect(&cat(&[fv(1, 0), fb(7, &mlp())])));
        assert!(!detect(&cat(&[fv(1, 1000), fb(7, &mlp())])));
        assert!(!detect(&cat(&[fb(1, b"x"), fb(7, &mlp())])));
        assert!(!detect(&cat(&[fv(1, 8), fv(7, 3)])));
        // A graph whose node field is a varint is not a graph.
        assert!(!detect(&cat(&[fv(1, 8), fb(7, &fv(1, 5))])));
        for other in [
            &b"{\"a\": 1}"[..],
            b"\x80\x04\x95\x00",
            b"PK\x03\x04",
            b"",
            b"\x08",
            b"\x08\x08",
        ] {
            assert!(!detect(other), "{other:?}");
        }
        // Functions alone make a model.
        let f = fb(25, &cat(&[fb(1, b"F"), fb(10, b"d"), node("Relu", "")]));
        assert!(detect(&cat(&[fv(1, 8), f])));
    }

    #[test]
    fn benign_model_is_quiet() {
        let g = cat(&[
            mlp(),
            node("Attention", "com.microsoft"),
            node("LinearClassifier", "ai.onnx.ml"),
            fb(
                11,
                &cat(&[
                    fb(1, b"x"),
                    fb(
                        2,
                        &fb(1, &cat(&[fv(1, 1), fb(2, &fb(1, &fv(1, u64::MAX)))])),
                    ),
                ]),
            ),
        ]);
        let out = run(&model(&g, &[opset("com.microsoft", 1)]));
        quiet(&out);
        assert_eq!(max_for(&out, "MS522"), Some(Severity::Info));
        let ev = &out
            .issues
            .iter()
            .find(|i| i.rule == "MS522")
            .unwrap()
            .evidence;
        assert_eq!(ev["op_types"], json!(["Attention"]));
    }

    #[test]
    fn external_locations_that_escape() {
        for loc in [
            "/etc/passwd",
            "../../etc/hostname",
            "C:\\Windows\\win.ini",
            "w/../../x",
        ] {
            let g = cat(&[node("MatMul", ""), fb(5, &external_tensor(loc, &[]))]);
            let out = run(&model(&g, &[]));
            assert_eq!(max_for(&out, "MS510"), Some(Severity::High), "{loc}");
        }
        // In a subgraph of an If node.
        let then = cat(&[fb(5, &external_tensor("/etc/passwd", &[]))]);
        let attr = cat(&[fb(1, b"then_branch"), fv(20, 5), fb(6, &then)]);
        let g = fb(1, &cat(&[fb(4, b"If"), fb(5, &attr)]));
        let out = run(&model(&g, &[]));
        assert_eq!(max_for(&out, "MS510"), Some(Severity::High));
        // A relative name passes; the offset must be a number.
        let g = fb(5, &external_tensor("model.onnx_data", &[("offset", "-1")]));
        let out = run(&model(&g, &[]));
        assert_eq!(max_for(&out, "MS510"), None);
        assert_eq!(max_for(&out, "MS514"), Some(Severity::Medium));
    }

    #[cfg(unix)]
    #[test]
    fn external_files_on_disk() {
        let dir = std::env::temp_dir().join(format!("aisec-onnx-mod-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.onnx");
        std::fs::write(dir.join("ok.bin"), [0u8; 16]).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.join("link.bin")).unwrap();
        let case = |loc: &str, extra: &[(&str, &str)]| {
            let g = fb(5, &external_tensor(loc, extra));
            run_at(&model(&g, &[]), Some(&path))
        };
        quiet(&case("ok.bin", &[]));
        assert_eq!(
            max_for(&case("link.bin", &[]), "MS510"),
            Some(Severity::High)
        );
        let missing = case("gone.bin", &[]);
        assert_eq!(max_for(&missing, "MS513"), Some(Severity::Info));
        quiet(&missing);
        let past = case("ok.bin", &[("offset", "8"), ("length", "16")]);
        assert_eq!(max_for(&past, "MS512"), Some(Severity::High));
        // Inside an archive (no disk path) only names are checked.
        let g = fb(5, &external_tensor("link.bin", &[]));
        quiet(&run(&model(&g, &[])));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn operator_domains() {
        let out = run(&model(
            &cat(&[mlp(), node("Exec", "com.evil")]),
            &[opset("com.evil", 1)],
        ));
        assert_eq!(max_for(&out, "MS520"), Some(Severity::High));
        let ev = &out
            .issues
            .iter()
            .find(|i| i.rule == "MS520")
            .unwrap()
            .evidence;
        assert_eq!(ev["op_types"], json!(["Exec"]));
        let out = run(&model(&node("FusedX", "com.microsoft.evil"), &[]));
        assert_eq!(max_for(&out, "MS520"), Some(Severity::High));
        let out = run(&model(&node("GPT2Tokenizer", "ai.onnx.contrib"), &[]));
        assert_eq!(max_for(&out, "MS521"), Some(Severity::Low));
        quiet(&out);
        let out = run(&model(&node("PythonOp", "com.microsoft"), &[]));
        assert_eq!(max_for(&out, "MS523"), Some(Severity::Medium));
        // Unknown operators in standard domains.
        let out = run(&model(&cat(&[mlp(), node("Exec", "")]), &[]));
        assert_eq!(max_for(&out, "MS524"), Some(Severity::High));
        let out = run(&model(&node("Shell", "ai.onnx.ml"), &[]));
        assert_eq!(max_for(&out, "MS524"), Some(Severity::High));
        quiet(&run(&model(
            &cat(&[
                node("ImageScaler", ""),
                node("TreeEnsembleClassifier", "ai.onnx.ml"),
            ]),
            &[],
        )));
        // Declared but unused: low.
        let out = run(&model(&mlp(), &[opset("com.evil", 1)]));
        assert_eq!(max_for(&out, "MS520"), Some(Severity::Low));
    }

    #[test]
    fn local_functions_resolve_calls_and_are_analysed() {
        let f = |name: &str, body: Vec<u8>| {
            fb(
                25,
                &cat(&[fb(1, name.as_bytes()), fb(10, b"pkg.fns"), fb(7, &body)]),
            )
        };
        let inner = |op: &str, dom: &str| cat(&[fb(4, op.as_bytes()), fb(7, dom.as_bytes())]);
        let g = node("Gelu", "pkg.fns");
        let out = run(&model(&g, &[f("Gelu", inner("Erf", ""))]));
        assert_eq!(max_for(&out, "MS530"), Some(Severity::Low));
        quiet(&out);
        let out = run(&model(&g, &[f("Gelu", inner("Run", "com.evil"))]));
        assert_eq!(max_for(&out, "MS520"), Some(Severity::High));
        let out = run(&model(
            &g,
            &[
                f("Gelu", inner("H", "pkg.fns")),
                f("H", inner("Gelu", "pkg.fns")),
            ],
        ));
        assert_eq!(max_for(&out, "MS531"), Some(Severity::High));
        let ev = &out
            .issues
            .iter()
            .find(|i| i.rule == "MS531")
            .unwrap()
            .evidence;
        assert_eq!(
            ev["cycle"],
            json!(["pkg.fns:Gelu", "pkg.fns:H", "pkg.fns:Gelu"])
        );
        let out = run(&model(&g, &[f("Gelu", inner("Gelu", "pkg.fns"))]));
        assert_eq!(max_for(&out, "MS531"), Some(Severity::High));
    }

    #[test]
    fn tensor_sizes() {
        let case = |t: Vec<u8>| run(&model(&fb(5, &t), &[]));
        let out = case(tensor("t", &[1 << 40, 1 << 40], 1, None));
        assert_eq!(max_for(&out, "MS540"), Some(Severity::High));
        let out = case(tensor("t", &[-1, 4], 1, Some(&[0; 16])));
        assert_eq!(max_for(&out, "MS540"), Some(Severity::High));
        let out = case(tensor("t", &[1 << 30], 1, Some(&[0; 16])));
        assert_eq!(max_for(&out, "MS540"), Some(Severity::High));
        let out = case(tensor("t", &[1 << 20, 1 << 20], 11, None));
        assert_eq!(max_for(&out, "MS540"), Some(Severity::High));
        let out = case(tensor("t", &[5], 1, Some(&[0; 16])));
        assert_eq!(max_for(&out, "MS541"), Some(Severity::Medium));
        assert_eq!(max_for(&out, "MS540"), None);
        // Packed dims, typed data, strings and scalars are fine.
        let mut packed = Vec::new();
        for d in [2u64, 3] {
            varint(d, &mut packed);
        }
        let t = cat(&[
            fb(1, &packed),
            fv(2, 6),
            fb(5, &[1, 2, 3, 4, 5, 0x96, 0x01]),
        ]);
        quiet(&case(t));
        quiet(&case(cat(&[fv(1, 2), fv(2, 8), fb(6, b"a"), fb(6, b"b")])));
        quiet(&case(cat(&[fv(2, 1), fb(4, &[0; 4])])));
        // Sparse: the dense shape counts.
        let sparse = cat(&[
            fb(1, &tensor("v", &[1], 1, Some(&[0; 4]))),
            fb(2, &tensor("i", &[1], 7, Some(&[0; 8]))),
            fv(3, 1 << 30),
            fv(3, 1 << 30),
        ]);
        let out = run(&model(&fb(15, &sparse), &[]));
        assert_eq!(max_for(&out, "MS540"), Some(Severity::High));
    }

    #[test]
    fn deep_nesting_is_reported_and_bounded() {
        let mut g = node("Relu", "");
        for _ in 0..200 {
            let attr = cat(&[fb(1, b"then_branch"), fb(6, &g)]);
            g = fb(1, &cat(&[fb(4, b"If"), fb(5, &attr)]));
        }
        let out = run(&model(&g, &[]));
        assert_eq!(max_for(&out, "MS543"), Some(Severity::High));
        assert!(out.not_analysed.is_some());
        // Deep types too.
        let mut t = fb(1, &fv(1, 1));
        for _ in 0..100 {
            t = fb(4, &fb(1, &t));
        }
        let g = fb(11, &cat(&[fb(1, b"x"), fb(2, &t)]));
        let out = run(&model(&g, &[]));
        assert_eq!(max_for(&out, "MS543"), Some(Severity::High));
    }

    #[test]
    fn huge_node_counts() {
        let g: Vec<u8> = std::iter::repeat_n([0x0a, 0x00], 2_000_001)
            .flatten()
            .collect();
        let out = run(&model(&g, &[]));
        assert_eq!(max_for(&out, "MS542"), Some(Severity::High));
    }

    #[test]
    fn malformed_models_are_reported_not_analysed() {
        let m = model(&mlp(), &[]);
        let out = run(&m[..m.len() - 20]);
        assert_eq!(max_for(&out, "MS500"), Some(Severity::Medium));
        assert!(out.not_analysed.is_some());
        // A broken node inside a whole graph.
        let g = cat(&[mlp(), fb(1, &[0x22, 0x05, b'a'])]);
        let out = run(&model(&g, &[]));
        assert_eq!(max_for(&out, "MS500"), Some(Severity::Medium));
    }

    #[test]
    fn metadata_payloads_are_scanned() {
        let entry = fb(14, &cat(&[fb(1, b"blob"), fb(2, b"\x80\x04K\x01.")]));
        let out = run(&model(&mlp(), &[entry]));
        assert_eq!(out.nested.len(), 1);
        assert_eq!(out.nested[0].name, "metadata_props[blob]");
    }

    #[test]
    fn fuzz_never_panics_on_prefixes() {
        let m = model(
            &cat(&[mlp(), fb(5, &external_tensor("/x", &[("length", "zz")]))]),
            &[opset("com.evil", 1)],
        );
        for i in 0..m.len() {
            let _ = fuzz(&m[..i]);
            let mut flipped = m.clone();
            flipped[i] ^= 0x55;
            let _ = fuzz(&flipped);
        }
    }
}
