//! TensorFlow SavedModel analysis: `saved_model.pb` (a `SavedModel` protobuf) and Keras'
//! `keras_metadata.pb`.
//!
//! A SavedModel runs graphs, not Python, but a graph's ops can call Python functions registered in
//! the loading process (`PyFunc`, `EagerPyFunc`), read and write files, and open connections. The
//! analysis walks the main graph and every function of the library, follows function calls
//! (`PartitionedCall`, control flow, dataset functions) and, for each op that touches a file,
//! traces where its path comes from: the saver's filename tensor (the standard checkpoint pattern
//! every SavedModel has), an asset, a constant, a caller's input. Ops outside TensorFlow's registry
//! need a native op library. Keras metadata JSON is handed to the Keras config analyser.
//!
//! `variables/` (checkpoint shards) and `assets/` are files of their own that the driver scans
//! one by one; nothing here reads them.

mod ops;
mod parse;
mod pbtxt;

use std::collections::{BTreeMap, HashMap, HashSet};

use aisec_core::{Confidence, Severity};
use serde_json::json;

use super::keras;
use super::outcome::{Env, Issue, Outcome};
use crate::rules::Rule;
use ops::{AttrUse, Effect};
use parse::{Budget, Graph, MetaGraph, Node, ParseError};

const FORMAT: &str = "tf-savedmodel";
const KERAS_FORMAT: &str = "keras-metadata";
const GRAPHDEF_FORMAT: &str = "tf-graphdef";

/// Deepest chain of function calls followed.
const MAX_CALL_DEPTH: usize = 32;
/// Most function visits (one per call path to a function with effects) per meta graph.
const MAX_VISITS: usize = 20_000;
/// Most node visits (nodes of visited functions, summed over visits) per meta graph; past it and
/// past [`MAX_VISITS`], each function is visited at most once more, with unbound arguments.
const MAX_WORK: usize = 20_000_000;
/// Most steps of one path trace (node hops and leaves).
const MAX_TRACE_STEPS: usize = 256;
/// Largest Keras metadata JSON parsed.
const MAX_JSON_BYTES: usize = 64 << 20;
/// Most custom op names reported per file.
const MAX_CUSTOM_OPS: usize = 64;

const ATLAS: &[&str] = &["AML.T0011.000", "AML.T0010.003"];
const REFS: &[&str] = &[
    "https://www.tensorflow.org/guide/saved_model",
    "https://www.tensorflow.org/api_docs/python/tf/raw_ops",
    "https://github.com/tensorflow/tensorflow/blob/master/SECURITY.md",
    "https://atlas.mitre.org/techniques/AML.T0011.000",
];
const REMEDIATE: &str = "Do not load or serve this model. A SavedModel is a program: only run models from publishers \
you trust, and inspect the ops named here; re-export the model from its source code if you need it.";

/// The rules this analyser reports under.
pub(crate) const RULES: &[Rule] = &[
    Rule {
        id: "MS400",
        name: "savedmodel-python-callable",
        title: "SavedModel graph calls a Python function",
        severity: Severity::Critical,
        what: "A `PyFunc`, `PyFuncStateless` or `EagerPyFunc` op (made by `tf.py_function` / `tf.numpy_function`) in \
the main graph or any library function. The op calls the Python callable registered under its `token` in the \
loading process.",
        why: "Whatever Python the loading process has registered under that token runs when the graph runs; a model \
that needs Python callbacks cannot be served safely and the callback is outside the file.",
        example: "tf.function(lambda x: tf.py_function(os_helper, [x], tf.string)) saved in a serving signature",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-94"],
        references: REFS,
    },
    Rule {
        id: "MS401",
        name: "savedmodel-file-read",
        title: "SavedModel graph reads files",
        severity: Severity::High,
        what: "An op that reads or lists files: `ReadFile`, `MatchingFiles`, file-reading datasets (`TextLineDataset`, \
`TFRecordDataset`, `FixedLengthRecordDataset`, `CSVDataset`, LMDB and SQL datasets, `LoadDataset`, snapshot \
readers), file readers, `ImmutableConst` (maps a file), `InitializeTableFromTextFile` on a path that is not one of the \
model's assets, `DecodeProtoV2`/`EncodeProto` with a descriptor file, `LoadAndRemapMatrix`, `GenerateVocabRemapping`, \
`RecordInput`. Constant paths that feed the op are evidence. Reading one of the model's own assets is `low`.",
        why: "A model that reads files on the serving host can leak secrets (`/etc/passwd`, credentials) through \
its outputs.",
        example: "tf.io.read_file('/etc/hostname') inside the serving signature",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-73", "CWE-200"],
        references: REFS,
    },
    Rule {
        id: "MS402",
        name: "savedmodel-file-write",
        title: "SavedModel graph writes files",
        severity: Severity::High,
        what: "An op that writes files: `WriteFile`, `PrintV2` with a `file://` output stream, summary writers, \
`SaveDataset`, `SnapshotDataset`, `DatasetToTFRecord`, `CacheDataset` to a file, debug ops dumping to `file://`, \
`CalibrationStatisticsSaver`, `FileSystemSetConfiguration`.",
        why: "Writing files on the serving host plants files (shell start-up files, `.pth` files) or destroys data.",
        example: "tf.io.write_file('/tmp/x', 'payload') or tf.print(x, output_stream='file:///tmp/x')",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-73"],
        references: REFS,
    },
    Rule {
        id: "MS403",
        name: "savedmodel-network",
        title: "SavedModel graph opens network connections",
        severity: Severity::High,
        what: "An op that talks to other hosts: tf.data service (`DataServiceDataset*`, `RegisterDataset*`, \
`DistributedSave`), RPC ops, debug ops streaming to `grpc://`, or a file op on a remote file system URL \
(`gs://`, `s3://`, `hdfs://`, `http://`).",
        why: "Used to exfiltrate inputs or secrets or to fetch data an attacker controls.",
        example: "tf.io.read_file('gs://attacker-bucket/x')",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-441"],
        references: REFS,
    },
    Rule {
        id: "MS404",
        name: "savedmodel-checkpoint-outside-saver",
        title: "SavedModel checkpoint op is not fed by the saver's filename",
        severity: Severity::High,
        what: "A checkpoint op (`Save`, `SaveV2`, `SaveSlices`, `Restore`, `RestoreV2`, `RestoreSlice`, \
`MergeV2Checkpoints`) whose path does not come from the saver's filename tensor (`saver_def.filename_tensor_name`), \
the pattern every SavedModel has. `high` when a constant path leaves the model directory (absolute, `..`, a URL), \
`medium` when a serving input chooses the path, `low` otherwise.",
        why: "Checkpoint ops read and write arbitrary files: `Save` writes exactly the path it is given.",
        example: "tf.raw_ops.Save(filename='/home/u/.bashrc', tensor_names=['x'], data=[x]) in a signature",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-73"],
        references: REFS,
    },
    Rule {
        id: "MS405",
        name: "savedmodel-custom-op",
        title: "SavedModel uses ops outside TensorFlow's registry",
        severity: Severity::High,
        what: "An op name that is neither registered by TensorFlow nor a function of the library. Such an op runs \
only after a native op library (`tf.load_op_library`) is loaded. Ops of well-known add-on libraries \
(tensorflow-text, tensorflow-addons, decision forests) are `low`.",
        why: "Custom ops are native code outside the model file; a model that asks for one asks its user to load \
a shared library.",
        example: "a NodeDef with op `ExecShellCommand`",
        remediation: "Find out which library registers the op and review it before installing; never load op \
libraries shipped next to a model.",
        atlas: ATLAS,
        cwe: &["CWE-829"],
        references: REFS,
    },
    Rule {
        id: "MS406",
        name: "savedmodel-asset-path-escape",
        title: "SavedModel asset path leaves the model directory",
        severity: Severity::High,
        what: "An `asset_file_def` whose filename is absolute or has a `..` component. Loaders join it to `assets/` \
and feed the result to the graph.",
        why: "The graph then reads a file outside the model (for example a vocabulary initializer reading \
`/etc/passwd`).",
        example: "asset_file_def { filename: \"../../../../etc/passwd\" }",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-22"],
        references: REFS,
    },
    Rule {
        id: "MS407",
        name: "savedmodel-embedded-graph",
        title: "SavedModel runs a serialized graph held in a tensor",
        severity: Severity::High,
        what: "A `DatasetFromGraph` op: it deserializes a `GraphDef` from a string tensor and runs it.",
        why: "The embedded graph is hidden from tools that read the model's graph and library.",
        example: "DatasetFromGraph(graph_def=Const(<serialized GraphDef>))",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-94"],
        references: REFS,
    },
    Rule {
        id: "MS410",
        name: "savedmodel-malformed",
        title: "SavedModel protobuf is malformed",
        severity: Severity::Medium,
        what: "A `saved_model.pb` or `keras_metadata.pb` that has the shape of one but breaks the wire format or the \
schema further in, or Keras metadata that is not JSON.",
        why: "A damaged model is not what its publisher made; parts the scanner could not read were not checked.",
        example: "a length prefix that runs past the end of the file",
        remediation: "Obtain the model again from its publisher and compare checksums.",
        atlas: ATLAS,
        cwe: &["CWE-20"],
        references: REFS,
    },
    Rule {
        id: "MS411",
        name: "savedmodel-too-large",
        title: "SavedModel graph exceeds the scanner's limits",
        severity: Severity::Medium,
        what: "More nodes, inputs and attributes than the scanner keeps, or metadata JSON above its size limit.",
        why: "The parts beyond the limit were not checked.",
        example: "a graph of millions of nodes",
        remediation: "Review the model by other means or split it.",
        atlas: ATLAS,
        cwe: &["CWE-400"],
        references: REFS,
    },
];

/// True when `data` is a SavedModel or Keras metadata protobuf. Protobuf has no magic, so the
/// shape is checked against the schema (field numbers and wire types, nested messages). A `.pb`
/// file may also carry fields the schema does not know (TensorFlow skips them), so a file that
/// hides its graph behind an unknown field is still claimed. A `.pbtxt` file in text format is
/// claimed too: TensorFlow loads `saved_model.pbtxt` when there is no `saved_model.pb`.
pub(crate) fn detect(data: &[u8], ext: Option<&str>) -> bool {
    let lenient = ext == Some("pb");
    (ext == Some("pbtxt") && pbtxt::looks_like_text(data))
        || parse::looks_like_saved_model(data, lenient)
        || parse::looks_like_keras_metadata(data)
        || parse::looks_like_graph_def(data, lenient)
}

/// Analyses a SavedModel protobuf.
pub(crate) fn analyse<'d>(data: &'d [u8], env: &Env<'_>) -> Outcome<'d> {
    if pbtxt::looks_like_text(data) {
        let mut out = Outcome::new(FORMAT);
        pbtxt::analyse(data, &mut out);
        return out;
    }
    if !parse::looks_like_saved_model(data, true) {
        if parse::looks_like_keras_metadata(data) {
            return analyse_keras_metadata(data);
        }
        if parse::looks_like_graph_def(data, true) {
            return analyse_frozen_graph(data);
        }
    }
    let mut out = Outcome::new(FORMAT);
    let mut budget = Budget::default();
    match parse::saved_model(data, &mut budget) {
        Ok(mgs) => {
            let mut custom = BTreeMap::new();
            for mg in &mgs {
                analyse_meta_graph(mg, &mut out, &mut custom);
            }
            report_custom_ops(custom, &mut out);
        }
        Err(e) => parse_failed(&e, &mut out),
    }
    let _ = env;
    out
}

fn parse_failed(e: &ParseError, out: &mut Outcome<'_>) {
    let (rule, reason) = match e {
        ParseError::TooLarge => ("MS411", "graph too large"),
        _ => ("MS410", "malformed protobuf"),
    };
    out.push(Issue::new(
        rule,
        format!("SavedModel not fully analysed: {reason}"),
        format!("The protobuf could not be read completely: {e}. Nothing in it was checked."),
        json!({ "error": e.to_string() }),
    ));
    out.not_analysed(format!("{reason}: {e}"));
}

fn analyse_frozen_graph(data: &[u8]) -> Outcome<'_> {
    let mut out = Outcome::new(GRAPHDEF_FORMAT);
    match parse::frozen_graph(data, &mut Budget::default()) {
        Ok(mg) => {
            let mut custom = BTreeMap::new();
            analyse_meta_graph(&mg, &mut out, &mut custom);
            report_custom_ops(custom, &mut out);
        }
        Err(e) => parse_failed(&e, &mut out),
    }
    out
}

fn analyse_keras_metadata(data: &[u8]) -> Outcome<'_> {
    let mut out = Outcome::new(KERAS_FORMAT);
    let mut budget = Budget::default();
    match parse::keras_metadata(data, &mut budget) {
        Ok(nodes) => {
            for n in nodes {
                keras_json(&n.metadata, "keras_metadata.pb", n.offset, &mut out);
            }
        }
        Err(e) => parse_failed(&e, &mut out),
    }
    out
}

/// Parses one Keras metadata JSON document and hands it to the Keras config analyser.
fn keras_json(text: &str, origin: &str, offset: usize, out: &mut Outcome<'_>) {
    if let Some(doc) = parse_keras_json(text, offset, out) {
        keras::analyse_config(&doc, origin, out);
    }
}

/// Parses one Keras metadata JSON document (bounded), reporting what cannot be parsed.
fn parse_keras_json(text: &str, offset: usize, out: &mut Outcome<'_>) -> Option<serde_json::Value> {
    if text.trim().is_empty() {
        return None;
    }
    if text.len() > MAX_JSON_BYTES {
        out.push(
            Issue::new(
                "MS411",
                "Keras metadata too large to analyse",
                format!(
                    "A Keras metadata document of {} bytes is above the {MAX_JSON_BYTES}-byte limit; it was not checked.",
                    text.len()
                ),
                json!({ "bytes": text.len() }),
            )
            .at(offset as u64),
        );
        out.not_analysed("Keras metadata JSON above the size limit");
        return None;
    }
    // serde_json bounds nesting (128 levels), so deep documents are an error, not a stack overflow.
    match super::json::parse_python_json(text) {
        Ok(doc) => Some(doc),
        Err(e) => {
            out.push(
                Issue::new(
                    "MS410",
                    "Keras metadata is not JSON",
                    format!(
                        "A Keras metadata entry is not valid JSON ({e}); Keras cannot load it."
                    ),
                    json!({ "error": e.to_string() }),
                )
                .severity(Severity::Low)
                .at(offset as u64),
            );
            None
        }
    }
}

fn analyse_meta_graph(
    mg: &MetaGraph<'_>,
    out: &mut Outcome<'_>,
    custom: &mut BTreeMap<String, (usize, usize, String)>,
) {
    for a in &mg.assets {
        if ops::path_escapes(&a.filename) {
            out.push(
                Issue::new(
                    "MS406",
                    format!("Asset path `{}` leaves the model directory", a.filename),
                    format!(
                        "The asset file `{}` (tensor `{}`) is absolute or climbs out of `assets/`; the graph is fed \
that file when it loads.",
                        a.filename, a.tensor
                    ),
                    json!({ "filename": a.filename, "tensor": a.tensor }),
                )
                .at(a.offset as u64),
            );
        }
    }
    for (m, off) in &mg.keras_metadata {
        keras_json(m, "saved_model.pb object graph", *off, out);
    }
    let mut ctx = Ctx::new(mg);
    collect_custom_ops(&ctx, custom);
    ctx.run();
    for v in ctx.verdicts.into_values() {
        out.push(v);
    }
}

fn collect_custom_ops(ctx: &Ctx<'_, '_>, custom: &mut BTreeMap<String, (usize, usize, String)>) {
    for g in &ctx.graphs {
        for n in &g.nodes {
            if n.op.is_empty() || ops::is_standard(&n.op) || ctx.by_name.contains_key(n.op.as_ref())
            {
                continue;
            }
            if custom.len() >= MAX_CUSTOM_OPS && !custom.contains_key(n.op.as_ref()) {
                continue;
            }
            let e = custom
                .entry(n.op.to_string())
                .or_insert((0, n.offset, graph_label(g)));
            e.0 += 1;
        }
    }
}

fn report_custom_ops(custom: BTreeMap<String, (usize, usize, String)>, out: &mut Outcome<'_>) {
    for (op, (count, offset, graph)) in custom {
        let issue = if let Some(lib) = ops::known_library(&op) {
            Issue::new(
                "MS405",
                format!("Op `{op}` comes from the `{lib}` op library"),
                format!(
                    "The graph uses `{op}` ({count} node(s), first in {graph}), registered by the `{lib}` package's native \
op library, which must be installed to load the model."
                ),
                json!({ "op": op, "library": lib, "nodes": count, "graph": graph }),
            )
            .severity(Severity::Low)
        } else {
            Issue::new(
                "MS405",
                format!("Custom op `{op}` needs a native op library"),
                format!(
                    "The graph uses `{op}` ({count} node(s), first in {graph}), which TensorFlow does not register: it runs \
only after a native library that defines it is loaded."
                ),
                json!({ "op": op, "nodes": count, "graph": graph }),
            )
            .confidence(Confidence::Likely)
        };
        out.push(issue.at(offset as u64));
    }
}

fn graph_label(g: &Graph<'_>) -> String {
    match &g.function {
        Some(f) => format!("function `{f}`"),
        None => "the main graph".to_owned(),
    }
}

// ----- the walk -----------------------------------------------------------------------------------

/// Where a file op's path comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Leaf {
    /// The saver's filename tensor.
    Saver,
    /// A tensor the loader feeds with an asset's path.
    Asset(String),
    /// A placeholder; `true` when a signature feeds it (a serving request chooses it).
    Input(String, bool),
    /// An argument of a function nobody in the file calls (its caller chooses it).
    Unbound(String),
    /// A constant string tensor.
    Const(Vec<String>),
    /// Computed by an op the trace does not follow.
    Computed(String),
}

/// One function activation: which graph, and the call node that bound its arguments.
#[derive(Debug)]
struct Frame<'f> {
    graph: usize,
    /// The calling graph, the call node, and how many of its data inputs precede the arguments.
    call: Option<(usize, usize, usize)>,
    parent: Option<&'f Frame<'f>>,
}

struct Ctx<'m, 'a> {
    graphs: Vec<&'m Graph<'a>>,
    by_name: HashMap<&'m str, usize>,
    nodes: Vec<HashMap<&'m str, usize>>,
    /// Per graph: resource-variable node → the inputs assigned to it.
    assigns: Vec<HashMap<&'m str, Vec<&'m str>>>,
    /// Per graph and node: the library functions it calls.
    callees: HashMap<(usize, usize), Vec<usize>>,
    saver: Option<&'m str>,
    assets: HashSet<&'m str>,
    signature_inputs: HashSet<&'m str>,
    /// Graphs that hold or (transitively) call an op with effects.
    sensitive: Vec<bool>,
    /// Graphs with effect ops of their own.
    own: Vec<bool>,
    visited: Vec<bool>,
    visits: usize,
    work: usize,
    verdicts: BTreeMap<(usize, usize), Issue>,
}

fn tensor_node(name: &str) -> &str {
    let n = name.strip_prefix('^').unwrap_or(name);
    n.split(':').next().unwrap_or(n)
}

fn call_skip(op: &str, is_function: bool) -> Option<usize> {
    match op {
        "PartitionedCall"
        | "StatefulPartitionedCall"
        | "TPUPartitionedCall"
        | "While"
        | "StatelessWhile"
        | "_While"
        | "XlaLaunch" => Some(0),
        "If" | "StatelessIf" | "_If" | "Case" | "StatelessCase" | "RemoteCall" => Some(1),
        _ if is_function => Some(0),
        op if op.ends_with("Dataset") || op.ends_with("DatasetV2") => Some(usize::MAX),
        _ => None,
    }
}

impl<'m, 'a> Ctx<'m, 'a> {
    fn new(mg: &'m MetaGraph<'a>) -> Self {
        let graphs: Vec<&Graph<'_>> = std::iter::once(&mg.graph)
            .chain(mg.functions.iter())
            .collect();
        let mut by_name = HashMap::new();
        for (i, g) in graphs.iter().enumerate().skip(1) {
            if let Some(f) = &g.function {
                by_name.entry(f.as_ref()).or_insert(i);
            }
        }
        let mut nodes = Vec::with_capacity(graphs.len());
        let mut assigns = Vec::with_capacity(graphs.len());
        let mut callees = HashMap::new();
        let mut own = vec![false; graphs.len()];
        for (gi, g) in graphs.iter().enumerate() {
            let mut idx = HashMap::new();
            let mut asg: HashMap<&str, Vec<&str>> = HashMap::new();
            for (ni, n) in g.nodes.iter().enumerate() {
                idx.entry(n.name.as_ref()).or_insert(ni);
                if ops::effect(&n.op).is_some() {
                    own[gi] = true;
                }
                if matches!(n.op.as_ref(), "AssignVariableOp" | "Assign") {
                    let mut it = n.data_inputs();
                    if let (Some(var), Some(val)) = (it.next(), it.next()) {
                        asg.entry(tensor_node(var)).or_default().push(val);
                    }
                }
                let mut names = Vec::new();
                for (_, v, _) in &n.attrs {
                    parse::attr_functions(v, &mut names);
                }
                let mut called: Vec<usize> = names
                    .iter()
                    .filter_map(|f| by_name.get(f.as_str()).copied())
                    .collect();
                if let Some(&f) = by_name.get(n.op.as_ref()) {
                    called.push(f);
                }
                called.sort_unstable();
                called.dedup();
                if !called.is_empty() {
                    callees.insert((gi, ni), called);
                }
            }
            nodes.push(idx);
            assigns.push(asg);
        }
        // Graphs that reach an effect op: walk the call edges backwards from the graphs that hold one.
        let mut callers: Vec<Vec<usize>> = vec![Vec::new(); graphs.len()];
        for (&(gi, _), cs) in &callees {
            for &c in cs {
                callers[c].push(gi);
            }
        }
        let mut sensitive = own.clone();
        let mut queue: Vec<usize> = (0..graphs.len()).filter(|&g| own[g]).collect();
        while let Some(g) = queue.pop() {
            for &c in &callers[g] {
                if !sensitive[c] {
                    sensitive[c] = true;
                    queue.push(c);
                }
            }
        }
        Self {
            visited: vec![false; graphs.len()],
            graphs,
            by_name,
            nodes,
            assigns,
            callees,
            saver: mg.saver_filename.as_deref().map(tensor_node),
            assets: mg.assets.iter().map(|a| tensor_node(&a.tensor)).collect(),
            signature_inputs: mg
                .signature_inputs
                .iter()
                .map(|(_, t)| tensor_node(t))
                .collect(),
            sensitive,
            own,
            visits: 0,
            work: 0,
            verdicts: BTreeMap::new(),
        }
    }

    fn run(&mut self) {
        let root = Frame {
            graph: 0,
            call: None,
            parent: None,
        };
        let mut stack = vec![0];
        self.visit(&root, &mut stack);
        // Functions with effects that no graph in the file calls: a loader calls them with arguments
        // the file does not show.
        for g in 1..self.graphs.len() {
            if self.own[g] && !self.visited[g] {
                let f = Frame {
                    graph: g,
                    call: None,
                    parent: None,
                };
                let mut stack = vec![g];
                self.visit(&f, &mut stack);
            }
        }
    }

    fn visit(&mut self, frame: &Frame<'_>, stack: &mut Vec<usize>) {
        let gi = frame.graph;
        self.visited[gi] = true;
        let g = self.graphs[gi];
        self.work = self.work.saturating_add(g.nodes.len());
        for (ni, n) in g.nodes.iter().enumerate() {
            if let Some(effect) = ops::effect(&n.op)
                && let Some(issue) = self.judge(frame, n, effect)
            {
                let issue = issue.at(n.offset as u64);
                let keep = self
                    .verdicts
                    .get(&(gi, ni))
                    .is_none_or(|old| severity_of(old) < severity_of(&issue));
                if keep {
                    self.verdicts.insert((gi, ni), issue);
                }
            }
            let Some(called) = self.callees.get(&(gi, ni)).cloned() else {
                continue;
            };
            let direct = self.by_name.contains_key(n.op.as_ref());
            for c in called {
                if !self.sensitive[c] || stack.contains(&c) || stack.len() >= MAX_CALL_DEPTH {
                    continue;
                }
                if (self.visits >= MAX_VISITS || self.work >= MAX_WORK) && self.visited[c] {
                    continue;
                }
                self.visits += 1;
                let skip = call_skip(&n.op, direct);
                let child = Frame {
                    graph: c,
                    call: skip.map(|s| (gi, ni, s)),
                    parent: skip.map(|_| frame),
                };
                stack.push(c);
                self.visit(&child, stack);
                stack.pop();
            }
        }
    }

    /// Where the tensor `input` (as a node input names it) comes from, in `frame`.
    fn trace(&self, frame: &Frame<'_>, input: &str, out: &mut Vec<Leaf>, steps: &mut usize) {
        if *steps >= MAX_TRACE_STEPS || input.starts_with('^') {
            return;
        }
        *steps += 1;
        let gi = frame.graph;
        let g = self.graphs[gi];
        let name = tensor_node(input);
        if g.function.is_some()
            && !input.contains(':')
            && let Some(pos) = g.args.iter().position(|a| a == name)
        {
            match (frame.call, frame.parent) {
                (Some((pg, pn, skip)), Some(parent)) => {
                    let call = &self.graphs[pg].nodes[pn];
                    // `usize::MAX`: a dataset function, whose arguments are the elements of
                    // the calling dataset op's input dataset.
                    let at = if skip == usize::MAX {
                        0
                    } else {
                        pos.saturating_add(skip)
                    };
                    if let Some(arg) = call.data_inputs().nth(at) {
                        self.trace(parent, arg, out, steps);
                    } else {
                        out.push(Leaf::Computed(call.op.to_string()));
                    }
                }
                _ => out.push(Leaf::Unbound(name.to_owned())),
            }
            return;
        }
        let Some(&ni) = self.nodes[gi].get(name) else {
            out.push(Leaf::Computed(format!("missing node `{name}`")));
            return;
        };
        if gi == 0 {
            if self.saver == Some(name) {
                out.push(Leaf::Saver);
                return;
            }
            if self.assets.contains(name) {
                out.push(Leaf::Asset(name.to_owned()));
                return;
            }
        }
        let n = &g.nodes[ni];
        match n.op.as_ref() {
            "Const" | "HostConst" => {
                let strings = n
                    .attr("value")
                    .and_then(|(v, _)| parse::attr_tensor_strings(v))
                    .unwrap_or_default();
                out.push(Leaf::Const(strings));
            }
            "Placeholder" | "PlaceholderV2" | "PlaceholderWithDefault" => {
                out.push(Leaf::Input(
                    name.to_owned(),
                    gi == 0 && self.signature_inputs.contains(name),
                ));
                if let Some(d) = n.data_inputs().next() {
                    self.trace(frame, d, out, steps);
                }
            }
            "ReadVariableOp" => {
                let var = n.data_inputs().next().map(tensor_node);
                let assigned = var.and_then(|v| self.assigns[gi].get(v));
                match assigned {
                    Some(vals) => {
                        for v in vals {
                            self.trace(frame, v, out, steps);
                        }
                    }
                    None => out.push(Leaf::Computed(n.op.to_string())),
                }
            }
            op => match ops::passes_through(op) {
                Some(ops::Through::Inputs(positions)) => {
                    for (i, inp) in n.data_inputs().enumerate() {
                        if positions.contains(&i) {
                            self.trace(frame, inp, out, steps);
                        }
                    }
                }
                Some(ops::Through::All) => {
                    for inp in n.data_inputs() {
                        self.trace(frame, inp, out, steps);
                    }
                }
                None => out.push(Leaf::Computed(op.to_owned())),
            },
        }
    }

    fn leaves(&self, frame: &Frame<'_>, n: &Node<'_>, positions: &[usize]) -> Vec<Leaf> {
        let mut out = Vec::new();
        let mut steps = 0;
        for (i, inp) in n.data_inputs().enumerate() {
            if positions.contains(&i) {
                self.trace(frame, inp, &mut out, &mut steps);
            }
        }
        out
    }

    #[allow(clippy::too_many_lines)]
    fn judge(&self, frame: &Frame<'_>, n: &Node<'_>, effect: Effect) -> Option<Issue> {
        let place = graph_label(self.graphs[frame.graph]);
        let op = n.op.as_ref();
        let node = n.name.as_ref();
        match effect {
            Effect::Python => {
                let token = n
                    .attr("token")
                    .and_then(|(v, _)| parse::attr_string(v))
                    .unwrap_or_default();
                Some(Issue::new(
                    "MS400",
                    format!("`{op}` calls the Python function registered as `{token}`"),
                    format!(
                        "Node `{node}` in {place} is a `{op}` op: running the graph calls the Python callable the loading \
process registered under `{token}`. Models made with `tf.py_function`/`tf.numpy_function` depend on Python code outside \
the file."
                    ),
                    json!({ "op": op, "node": node, "graph": place, "token": token }),
                ))
            }
            Effect::Graph => Some(Issue::new(
                "MS407",
                format!("`{op}` runs a graph serialized in a tensor"),
                format!(
                    "Node `{node}` in {place} deserializes a GraphDef from a string tensor and runs it; that graph was not checked."
                ),
                json!({ "op": op, "node": node, "graph": place }),
            )),
            Effect::Network(pos) => {
                let leaves = self.leaves(frame, n, pos);
                let consts = const_strings(&leaves);
                Some(Issue::new(
                    "MS403",
                    format!("`{op}` opens network connections"),
                    format!(
                        "Node `{node}` in {place} is a `{op}` op, which connects to other hosts{}.",
                        listed(&consts)
                    ),
                    json!({ "op": op, "node": node, "graph": place, "addresses": consts }),
                ))
            }
            Effect::AttrPath(attr, usage) => {
                let values: Vec<String> = n
                    .attr(attr)
                    .map(|(v, _)| {
                        let mut all = parse::attr_string_list(v);
                        all.extend(parse::attr_string(v));
                        all
                    })
                    .unwrap_or_default();
                attr_verdict(op, node, &place, attr, usage, &values)
            }
            Effect::Checkpoint(pos) => {
                let leaves = self.leaves(frame, n, pos);
                checkpoint_verdict(op, node, &place, &leaves)
            }
            Effect::Read(pos) | Effect::Write(pos) => {
                let write = matches!(effect, Effect::Write(_));
                let leaves = self.leaves(frame, n, pos);
                file_verdict(op, node, &place, write, pos.is_empty(), &leaves)
            }
        }
    }
}

/// An issue's severity: its own, or its rule's default.
fn severity_of(issue: &Issue) -> Severity {
    issue.severity.unwrap_or_else(|| {
        RULES
            .iter()
            .find(|r| r.id == issue.rule)
            .map_or(Severity::High, |r| r.severity)
    })
}

fn const_strings(leaves: &[Leaf]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in leaves {
        if let Leaf::Const(s) = l {
            for v in s {
                if !out.contains(v) && out.len() < parse::MAX_STRINGS {
                    out.push(v.clone());
                }
            }
        }
    }
    out
}

fn sources(leaves: &[Leaf]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in leaves {
        let s = match l {
            Leaf::Saver => "the saver's filename tensor".to_owned(),
            Leaf::Asset(a) => format!("asset tensor `{a}`"),
            Leaf::Input(p, true) => format!("serving input `{p}`"),
            Leaf::Input(p, false) => format!("placeholder `{p}`"),
            Leaf::Unbound(a) => format!("argument `{a}` of a function the file never calls"),
            Leaf::Const(_) => continue,
            Leaf::Computed(op) => format!("the output of `{op}`"),
        };
        if !out.contains(&s) && out.len() < parse::MAX_STRINGS {
            out.push(s);
        }
    }
    out
}

fn listed(consts: &[String]) -> String {
    if consts.is_empty() {
        String::new()
    } else {
        format!(
            " (constant {})",
            consts
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

fn checkpoint_verdict(op: &str, node: &str, place: &str, leaves: &[Leaf]) -> Option<Issue> {
    let consts = const_strings(leaves);
    let dynamic: Vec<&Leaf> = leaves
        .iter()
        .filter(|l| !matches!(l, Leaf::Const(_)))
        .collect();
    let escaping: Vec<&String> = consts.iter().filter(|c| ops::path_escapes(c)).collect();
    let evidence = json!({ "op": op, "node": node, "graph": place, "paths": consts, "sources": sources(leaves) });
    if let Some(first) = escaping.first() {
        let rule = if ops::remote_scheme(first).is_some() {
            "MS403"
        } else {
            "MS404"
        };
        return Some(Issue::new(
            rule,
            format!("`{op}` uses the constant path `{first}`"),
            format!(
                "Node `{node}` in {place} is a checkpoint op whose path is built from constant{}, outside the model directory; \
it is not the saver's checkpoint pattern.",
                listed(&consts)
            ),
            evidence,
        ));
    }
    if !dynamic.is_empty() && dynamic.iter().all(|l| matches!(l, Leaf::Saver)) {
        return None;
    }
    let served = dynamic.iter().any(|l| matches!(l, Leaf::Input(_, true)));
    let severity = if served {
        Severity::Medium
    } else {
        Severity::Low
    };
    Some(
        Issue::new(
            "MS404",
            format!("`{op}` outside the saver's checkpoint pattern"),
            format!(
                "Node `{node}` in {place} is a checkpoint op whose path comes from {}{}, not from the saver's filename tensor.",
                sources(leaves).join(", "),
                listed(&consts)
            ),
            evidence,
        )
        .severity(severity)
        .confidence(Confidence::Possible),
    )
}

fn file_verdict(
    op: &str,
    node: &str,
    place: &str,
    write: bool,
    queued: bool,
    leaves: &[Leaf],
) -> Option<Issue> {
    let consts = const_strings(leaves);
    let dynamic = leaves.iter().any(|l| !matches!(l, Leaf::Const(_)));
    let verb = if write { "writes" } else { "reads" };
    let evidence = json!({ "op": op, "node": node, "graph": place, "paths": consts, "sources": sources(leaves) });
    if !queued && !leaves.is_empty() && leaves.iter().all(|l| matches!(l, Leaf::Asset(_))) {
        return Some(
            Issue::new(
                if write { "MS402" } else { "MS401" },
                format!("`{op}` {verb} one of the model's assets"),
                format!("Node `{node}` in {place} {verb} a file the loader names from the model's `assets/` directory."),
                evidence,
            )
            .severity(Severity::Low),
        );
    }
    if !queued && !dynamic && consts.iter().all(|c| c.trim().is_empty()) {
        // An empty constant (`CacheDataset` with filename "") keeps data in memory.
        return None;
    }
    if let Some(remote) = consts.iter().find(|c| ops::remote_scheme(c).is_some()) {
        return Some(Issue::new(
            "MS403",
            format!("`{op}` {verb} the remote file `{remote}`"),
            format!("Node `{node}` in {place} {verb} `{remote}` over the network."),
            evidence,
        ));
    }
    let what = if queued {
        "files named by a queue at run time".to_owned()
    } else if consts.is_empty() {
        format!(
            "a file whose name comes from {}",
            sources(leaves).join(", ")
        )
    } else {
        format!("the file{}", listed(&consts))
    };
    let title = match consts.first() {
        Some(p) if !queued => format!("`{op}` {verb} `{p}`"),
        _ => format!("`{op}` {verb} files"),
    };
    Some(
        Issue::new(
            if write { "MS402" } else { "MS401" },
            title,
            format!("Node `{node}` in {place} is a `{op}` op that {verb} {what}."),
            evidence,
        )
        .confidence(if consts.is_empty() {
            Confidence::Likely
        } else {
            Confidence::Certain
        }),
    )
}

fn attr_verdict(
    op: &str,
    node: &str,
    place: &str,
    attr: &str,
    usage: AttrUse,
    values: &[String],
) -> Option<Issue> {
    let evidence =
        json!({ "op": op, "node": node, "graph": place, "attr": attr, "values": values });
    let lower: Vec<String> = values
        .iter()
        .map(|v| v.trim().to_ascii_lowercase())
        .collect();
    let (rule, target) = match usage {
        AttrUse::PrintStream => {
            let i = lower.iter().position(|v| v.starts_with("file://"))?;
            ("MS402", &values[i])
        }
        AttrUse::DebugUrls => {
            let i = lower.iter().position(|v| !v.is_empty())?;
            let rule = if lower[i].starts_with("file://") {
                "MS402"
            } else {
                "MS403"
            };
            (rule, &values[i])
        }
        AttrUse::Descriptor => {
            let i = lower
                .iter()
                .position(|v| !v.is_empty() && v != "local://" && !v.starts_with("bytes://"))?;
            ("MS401", &values[i])
        }
        AttrUse::Read => ("MS401", values.first()?),
        AttrUse::Write => ("MS402", values.first()?),
    };
    let (verb, verb_inf) = match rule {
        "MS401" => ("reads", "read"),
        "MS402" => ("writes", "write"),
        _ => ("sends data to", "send data to"),
    };
    Some(Issue::new(
        rule,
        format!("`{op}` {verb} `{target}`"),
        format!(
            "Node `{node}` in {place} is a `{op}` op whose `{attr}` attribute makes it {verb_inf} `{target}`."
        ),
        evidence,
    ))
}

/// Fuzz entry point: detection and both analysers on arbitrary bytes.
pub(crate) fn fuzz(data: &[u8]) -> usize {
    let env = Env {
        disk_path: None,
        name: "saved_model.pb",
    };
    let detected = usize::from(detect(data, None)) + usize::from(detect(data, Some("pb")));
    let a = analyse(data, &env).issues.len();
    let b = analyse_keras_metadata(data).issues.len();
    let mut text = Outcome::new(FORMAT);
    pbtxt::analyse(data, &mut text);
    detected + a + b + text.issues.len() + usize::from(detect(data, Some("pbtxt")))
}

#[cfg(test)]
mod tests {
    use super::*;

    // ----- a tiny protobuf writer for hand-built messages -----

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
    fn bytes(n: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        varint(n << 3 | 2, &mut out);
        varint(payload.len() as u64, &mut out);
        out.extend_from_slice(payload);
        out
    }
    fn int(n: u64, v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        varint(n << 3, &mut out);
        varint(v, &mut out);
        out
    }
    fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }
    fn attr(key: &str, value: &[u8]) -> Vec<u8> {
        bytes(5, &cat(&[bytes(1, key.as_bytes()), bytes(2, value)]))
    }
    fn s_attr(v: &str) -> Vec<u8> {
        bytes(2, v.as_bytes())
    }
    fn func_attr(name: &str) -> Vec<u8> {
        bytes(10, &bytes(1, name.as_bytes()))
    }
    fn string_tensor(values: &[&str]) -> Vec<u8> {
        let mut t = int(1, 7);
        for v in values {
            t.extend(bytes(8, v.as_bytes()));
        }
        bytes(8, &t)
    }
    fn node(name: &str, op: &str, inputs: &[&str], attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut n = cat(&[bytes(1, name.as_bytes()), bytes(2, op.as_bytes())]);
        for i in inputs {
            n.extend(bytes(3, i.as_bytes()));
        }
        for a in attrs {
            n.extend_from_slice(a);
        }
        n
    }
    fn konst(name: &str, values: &[&str]) -> Vec<u8> {
        node(name, "Const", &[], &[attr("value", &string_tensor(values))])
    }
    fn function(name: &str, args: &[&str], nodes: &[Vec<u8>]) -> Vec<u8> {
        let mut sig = bytes(1, name.as_bytes());
        for a in args {
            sig.extend(bytes(2, &bytes(1, a.as_bytes())));
        }
        let mut f = bytes(1, &sig);
        for n in nodes {
            f.extend(bytes(3, n));
        }
        bytes(1, &f)
    }
    /// A SavedModel with one meta graph: `main` nodes, library `functions`, extra meta-graph fields.
    fn saved_model(main: &[Vec<u8>], functions: &[Vec<u8>], extra: &[Vec<u8>]) -> Vec<u8> {
        let mut graph = Vec::new();
        for n in main {
            graph.extend(bytes(1, n));
        }
        graph.extend(bytes(2, &functions.concat()));
        let mut mg = cat(&[bytes(1, &bytes(4, b"serve")), bytes(2, &graph)]);
        for e in extra {
            mg.extend_from_slice(e);
        }
        cat(&[int(1, 1), bytes(2, &mg)])
    }
    fn saver_def(filename: &str) -> Vec<u8> {
        bytes(3, &bytes(1, filename.as_bytes()))
    }

    fn detect_strict(data: &[u8]) -> bool {
        detect(data, None)
    }

    fn run(data: &[u8]) -> Outcome<'static> {
        // Outcomes borrow the bytes; the tests' messages are short-lived, so keep them.
        let data: &'static [u8] = Box::leak(data.to_vec().into_boxed_slice());
        let env = Env {
            disk_path: None,
            name: "saved_model.pb",
        };
        assert!(detect(data, None), "not detected");
        analyse(data, &env)
    }
    fn severities(out: &Outcome<'_>) -> Vec<(&'static str, Severity)> {
        out.issues
            .iter()
            .map(|i| {
                let rule = RULES.iter().find(|r| r.id == i.rule).expect("rule");
                (i.rule, i.severity.unwrap_or(rule.severity))
            })
            .collect()
    }

    /// The TF2 saver: `saver_filename` feeds the traced save and restore functions.
    fn traced_saver() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let save = function(
            "__inference__traced_save_1",
            &["file_prefix"],
            &[
                node(
                    "StaticRegexFullMatch",
                    "StaticRegexFullMatch",
                    &["file_prefix"],
                    &[],
                ),
                konst("Const", &[".part"]),
                konst("Const_1", &["_temp/part"]),
                node(
                    "Select",
                    "Select",
                    &[
                        "StaticRegexFullMatch:output:0",
                        "Const:output:0",
                        "Const_1:output:0",
                    ],
                    &[],
                ),
                node(
                    "StringJoin",
                    "StringJoin",
                    &["file_prefix", "Select:output:0"],
                    &[],
                ),
                node(
                    "ShardedFilename",
                    "ShardedFilename",
                    &["StringJoin:output:0", "shard:output:0", "n:output:0"],
                    &[],
                ),
                node(
                    "SaveV2",
                    "SaveV2",
                    &["ShardedFilename:filename:0", "names:output:0"],
                    &[],
                ),
                node(
                    "Pack",
                    "Pack",
                    &["ShardedFilename:filename:0", "^SaveV2"],
                    &[],
                ),
                node(
                    "MergeV2Checkpoints",
                    "MergeV2Checkpoints",
                    &["Pack:output:0", "file_prefix"],
                    &[],
                ),
            ],
        );
        let restore = function(
            "__inference__traced_restore_2",
            &["file_prefix"],
            &[node(
                "RestoreV2",
                "RestoreV2",
                &["file_prefix", "names:output:0"],
                &[],
            )],
        );
        let main = vec![
            node("saver_filename", "Placeholder", &[], &[]),
            node(
                "StatefulPartitionedCall_1",
                "StatefulPartitionedCall",
                &["saver_filename"],
                &[attr("f", &func_attr("__inference__traced_save_1"))],
            ),
            node(
                "StatefulPartitionedCall_2",
                "StatefulPartitionedCall",
                &["saver_filename"],
                &[attr("f", &func_attr("__inference__traced_restore_2"))],
            ),
        ];
        (main, vec![save, restore])
    }

    #[test]
    fn standard_saver_is_silent() {
        let (main, fns) = traced_saver();
        let data = saved_model(&main, &fns, &[saver_def("saver_filename:0")]);
        let out = run(&data);
        assert!(out.issues.is_empty(), "{:?}", out.issues);
        assert!(out.not_analysed.is_none());
    }

    #[test]
    fn saver_function_called_with_a_constant_path_is_high() {
        let (mut main, fns) = traced_saver();
        main.push(konst("evil", &["/root/.bashrc"]));
        main.push(node(
            "evil_call",
            "StatefulPartitionedCall",
            &["evil"],
            &[attr("f", &func_attr("__inference__traced_save_1"))],
        ));
        let data = saved_model(&main, &fns, &[saver_def("saver_filename:0")]);
        let out = run(&data);
        let sev = severities(&out);
        assert!(sev.contains(&("MS404", Severity::High)), "{sev:?}");
        assert!(
            out.issues
                .iter()
                .any(|i| i.evidence.to_string().contains("/root/.bashrc"))
        );
    }

    #[test]
    fn tf1_saver_constant_filename_is_silent() {
        let main = vec![
            konst("save/Const", &["model"]),
            konst("save/StringJoin/inputs_1", &["_temp_abc/part"]),
            node(
                "save/StringJoin",
                "StringJoin",
                &["save/Const", "save/StringJoin/inputs_1"],
                &[],
            ),
            node(
                "save/ShardedFilename",
                "ShardedFilename",
                &["save/StringJoin", "save/num"],
                &[],
            ),
            node(
                "save/SaveV2",
                "SaveV2",
                &["save/ShardedFilename", "save/names"],
                &[],
            ),
            node(
                "save/RestoreV2",
                "RestoreV2",
                &["save/Const", "save/names"],
                &[],
            ),
        ];
        let data = saved_model(&main, &[], &[saver_def("save/Const:0")]);
        assert!(run(&data).issues.is_empty());
        // Without the saver_def naming it, a relative constant is only notable.
        let data = saved_model(&main, &[], &[]);
        let sev = severities(&run(&data));
        assert!(
            !sev.is_empty() && sev.iter().all(|(_, s)| *s == Severity::Low),
            "{sev:?}"
        );
    }

    #[test]
    fn read_file_in_nested_function_is_high_with_its_path() {
        let inner = function(
            "inner",
            &["p"],
            &[node("ReadFile", "ReadFile", &["p"], &[])],
        );
        let outer = function(
            "outer",
            &["x"],
            &[
                konst("path", &["/etc/hostname"]),
                node(
                    "call",
                    "PartitionedCall",
                    &["path:output:0"],
                    &[attr("f", &func_attr("inner"))],
                ),
            ],
        );
        let main = vec![node(
            "call",
            "StatefulPartitionedCall",
            &[],
            &[attr("f", &func_attr("outer"))],
        )];
        let out = run(&saved_model(&main, &[inner, outer], &[]));
        assert_eq!(severities(&out), vec![("MS401", Severity::High)]);
        assert!(
            out.issues[0].title.contains("/etc/hostname"),
            "{}",
            out.issues[0].title
        );
    }

    #[test]
    fn uncalled_function_and_control_flow_bodies_are_checked() {
        let body = function(
            "body",
            &["i"],
            &[node("w", "WriteFile", &["name:output:0", "i"], &[])],
        );
        let f = function(
            "loop",
            &["x"],
            &[node(
                "while",
                "StatelessWhile",
                &["x"],
                &[
                    attr("body", &func_attr("body")),
                    attr("cond", &func_attr("cond")),
                ],
            )],
        );
        let out = run(&saved_model(&[], &[body, f], &[]));
        assert_eq!(severities(&out), vec![("MS402", Severity::High)]);
    }

    #[test]
    fn python_callables_are_critical() {
        for op in ["PyFunc", "PyFuncStateless", "EagerPyFunc"] {
            let f = function(
                "f",
                &[],
                &[node("p", op, &[], &[attr("token", &s_attr("pyfunc_3"))])],
            );
            let out = run(&saved_model(&[], &[f], &[]));
            assert_eq!(severities(&out), vec![("MS400", Severity::Critical)]);
            assert!(out.issues[0].title.contains("pyfunc_3"));
        }
    }

    #[test]
    fn attribute_paths() {
        let print = |stream: &str| {
            let main = vec![node(
                "p",
                "PrintV2",
                &["x"],
                &[attr("output_stream", &s_attr(stream))],
            )];
            severities(&run(&saved_model(&main, &[], &[])))
        };
        assert!(print("stderr").is_empty());
        assert!(print("log(info)").is_empty());
        assert_eq!(print("file:///tmp/x"), vec![("MS402", Severity::High)]);
        let list = bytes(1, &bytes(2, b"grpc://h:1"));
        let main = vec![node(
            "d",
            "DebugIdentity",
            &["x"],
            &[attr("debug_urls", &list)],
        )];
        assert_eq!(
            severities(&run(&saved_model(&main, &[], &[]))),
            vec![("MS403", Severity::High)]
        );
        let main = vec![node(
            "d",
            "DecodeProtoV2",
            &["x"],
            &[attr("descriptor_source", &s_attr("local://"))],
        )];
        assert!(run(&saved_model(&main, &[], &[])).issues.is_empty());
        let main = vec![node(
            "d",
            "ImmutableConst",
            &[],
            &[attr("memory_region_name", &s_attr("/etc/shadow"))],
        )];
        assert_eq!(
            severities(&run(&saved_model(&main, &[], &[]))),
            vec![("MS401", Severity::High)]
        );
    }

    #[test]
    fn custom_ops() {
        let main = vec![
            node("a", "ExecShellCommand", &[], &[]),
            node("b", "ExecShellCommand", &[], &[]),
            node("c", "Addons>GELU", &[], &[]),
            node("d", "MatMul", &[], &[]),
        ];
        let out = run(&saved_model(&main, &[function("MyFn", &[], &[])], &[]));
        let mut sev = severities(&out);
        sev.sort();
        assert_eq!(
            sev,
            vec![("MS405", Severity::Low), ("MS405", Severity::High)]
        );
        // A node whose op names a library function is a call, not a custom op.
        let main = vec![node("a", "MyFn", &[], &[])];
        assert!(
            run(&saved_model(&main, &[function("MyFn", &[], &[])], &[]))
                .issues
                .is_empty()
        );
    }

    #[test]
    fn assets() {
        let asset = |name: &str| {
            bytes(
                6,
                &cat(&[
                    bytes(1, &bytes(1, b"asset_path:0")),
                    bytes(2, name.as_bytes()),
                ]),
            )
        };
        let init = function(
            "init",
            &["path"],
            &[node(
                "t",
                "InitializeTableFromTextFileV2",
                &["table", "path"],
                &[],
            )],
        );
        let main = vec![
            node("asset_path", "Placeholder", &[], &[]),
            node("Variable", "VarHandleOp", &[], &[]),
            node(
                "Variable/Assign",
                "AssignVariableOp",
                &["Variable", "asset_path"],
                &[],
            ),
            node(
                "Read",
                "ReadVariableOp",
                &["Variable", "^Variable/Assign"],
                &[],
            ),
            node(
                "call",
                "StatefulPartitionedCall",
                &["Read", "table"],
                &[attr("f", &func_attr("init"))],
            ),
        ];
        let out = run(&saved_model(
            &main,
            std::slice::from_ref(&init),
            &[asset("vocab.txt")],
        ));
        assert_eq!(severities(&out), vec![("MS401", Severity::Low)]);
        let out = run(&saved_model(&main, &[init], &[asset("../../etc/passwd")]));
        let sev = severities(&out);
        assert!(sev.contains(&("MS406", Severity::High)), "{sev:?}");
    }

    #[test]
    fn dataset_functions_see_their_input_elements() {
        let read = function(
            "read_one",
            &["args_0"],
            &[node("t", "TextLineDataset", &["args_0", "c:output:0"], &[])],
        );
        let f = function(
            "f",
            &[],
            &[
                konst("files", &["/etc/hostname"]),
                node("slices", "TensorSliceDataset", &["files:output:0"], &[]),
                node(
                    "flat",
                    "FlatMapDataset",
                    &["slices:handle:0"],
                    &[attr("f", &func_attr("read_one"))],
                ),
            ],
        );
        let main = vec![node(
            "call",
            "StatefulPartitionedCall",
            &[],
            &[attr("f", &func_attr("f"))],
        )];
        let out = run(&saved_model(&main, &[read, f], &[]));
        assert_eq!(severities(&out), vec![("MS401", Severity::High)]);
        assert!(out.issues[0].title.contains("/etc/hostname"));
    }

    #[test]
    fn memory_cache_is_silent_and_file_cache_is_high() {
        let cache = |name: &str| {
            let main = vec![
                konst("fname", &[name]),
                node("c", "CacheDatasetV2", &["ds", "fname", "res"], &[]),
            ];
            severities(&run(&saved_model(&main, &[], &[])))
        };
        assert!(cache("").is_empty());
        assert_eq!(cache("/tmp/c"), vec![("MS402", Severity::High)]);
        assert_eq!(cache("s3://b/c"), vec![("MS403", Severity::High)]);
    }

    #[test]
    fn recursion_and_deep_call_chains_are_bounded() {
        let mut fns = vec![function(
            "self",
            &["x"],
            &[
                node("c", "self", &["x"], &[]),
                node("r", "ReadFile", &["x"], &[]),
            ],
        )];
        for i in 0..200 {
            fns.push(function(
                &format!("f{i}"),
                &["x"],
                &[node(
                    "c",
                    "PartitionedCall",
                    &["x"],
                    &[attr("f", &func_attr(&format!("f{}", i + 1)))],
                )],
            ));
        }
        fns.push(function(
            "f200",
            &["x"],
            &[node("r", "ReadFile", &["x"], &[])],
        ));
        let main = vec![
            node(
                "a",
                "StatefulPartitionedCall",
                &["p"],
                &[attr("f", &func_attr("f0"))],
            ),
            node(
                "b",
                "StatefulPartitionedCall",
                &["p"],
                &[attr("f", &func_attr("self"))],
            ),
        ];
        let out = run(&saved_model(&main, &fns, &[]));
        assert!(out.issues.iter().all(|i| i.rule == "MS401"));
        assert_eq!(out.issues.len(), 2);
    }

    #[test]
    fn detection_is_strict() {
        let (main, fns) = traced_saver();
        let good = saved_model(&main, &fns, &[]);
        assert!(detect_strict(&good));
        // fingerprint.pb: varints in fields 1-5, a VersionDef in 6.
        let fp = cat(&[
            int(1, 123),
            int(2, 456),
            int(3, 7),
            int(4, 8),
            int(5, 9),
            bytes(6, &int(1, 1)),
        ]);
        assert!(!detect_strict(&fp));
        // ONNX ModelProto: ir_version, producer_name, graph, opset_import.
        let onnx = cat(&[
            int(1, 8),
            bytes(2, b"pytorch"),
            bytes(3, b"2.1"),
            bytes(7, &bytes(1, b"x")),
            bytes(8, &int(2, 17)),
        ]);
        assert!(!detect_strict(&onnx));
        let onnx2 = cat(&[int(1, 7), bytes(2, &bytes(1, b"abc"))]);
        assert!(!detect_strict(&onnx2));
        assert!(!detect_strict(b""));
        assert!(!detect_strict(b"{\"a\": 1}"));
        assert!(!detect_strict(&[0x08, 0x01]));
        assert!(!detect_strict(b"\x08\x01\x12\x05hello"));
        let km = bytes(
            1,
            &cat(&[
                bytes(3, b"root"),
                bytes(4, b"_tf_keras_sequential"),
                bytes(5, b"{\"class_name\": \"Sequential\"}"),
            ]),
        );
        assert!(detect_strict(&km));
        assert!(!detect_strict(&bytes(1, &bytes(5, b"not json"))));
        // An unknown field inside the MetaGraphDef: TensorFlow skips it; `.pb` files are claimed.
        let (main, fns) = traced_saver();
        let mut odd = saved_model(&main, &fns, &[bytes(9, b"x")]);
        assert!(!detect(&odd, None) && detect(&odd, Some("pb")));
        odd.push(0xff);
        assert!(!detect(&odd, Some("pb")));
        assert!(!detect(&fp, Some("pb")) && !detect(&onnx, Some("pb")));
        // Keras metadata whose first object carries only a node id.
        let km2 = cat(&[
            bytes(1, &int(2, 0)),
            bytes(1, &cat(&[bytes(4, b"_tf_keras_layer"), bytes(5, b"{}")])),
        ]);
        assert!(detect_strict(&km2));
    }

    #[test]
    fn keras_metadata_reaches_the_keras_analyser() {
        let lambda = r#"{"class_name": "Lambda", "config": {"name": "l", "function": ["4wEAAAAA", null, null], "function_type": "lambda"}}"#;
        let km = cat(&[
            bytes(
                1,
                &cat(&[
                    bytes(3, b"root"),
                    bytes(4, b"_tf_keras_sequential"),
                    bytes(
                        5,
                        b"{\"class_name\": \"Sequential\", \"config\": {\"layers\": []}}",
                    ),
                ]),
            ),
            bytes(
                1,
                &cat(&[
                    int(2, 1),
                    bytes(3, b"root.layer-0"),
                    bytes(4, b"_tf_keras_layer"),
                    bytes(5, lambda.as_bytes()),
                ]),
            ),
        ]);
        assert!(detect_strict(&km));
        let nodes = parse::keras_metadata(&km, &mut Budget::default()).unwrap();
        assert_eq!(nodes.len(), 2);
        let mut out = Outcome::new(KERAS_FORMAT);
        let doc = parse_keras_json(&nodes[1].metadata, nodes[1].offset, &mut out).unwrap();
        assert_eq!(doc["class_name"], "Lambda");
        assert_eq!(doc["config"]["function_type"], "lambda");
        assert!(keras::is_config(&doc));
        let out = run(&km);
        assert_eq!(out.format, KERAS_FORMAT);
        assert!(out.not_analysed.is_none());
        // Bad JSON is reported, low.
        let bad = bytes(1, &cat(&[bytes(4, b"_tf_keras_layer"), bytes(5, b"{oops")]));
        assert_eq!(severities(&run(&bad)), vec![("MS410", Severity::Low)]);
        // The object graph's SavedUserObject.metadata is read too.
        let user = bytes(
            4,
            &cat(&[bytes(1, b"_tf_keras_layer"), bytes(3, lambda.as_bytes())]),
        );
        let og = bytes(7, &bytes(1, &user));
        let data = saved_model(&[], &[], &[og]);
        let mgs = parse::saved_model(&data, &mut Budget::default()).unwrap();
        assert_eq!(mgs[0].keras_metadata.len(), 1);
        assert!(mgs[0].keras_metadata[0].0.contains("\"Lambda\""));
    }

    #[test]
    fn malformed_input_is_reported_not_analysed() {
        let (main, fns) = traced_saver();
        let mut data = saved_model(&main, &fns, &[]);
        // Break a length prefix deep inside while the outer shape still parses: cut the tail
        // and fix the outer lengths is complex; instead corrupt a nested node's length.
        let pos = data.windows(7).position(|w| w == b"SaveV2\x12").unwrap();
        data[pos + 7] = 0x7f;
        let env = Env {
            disk_path: None,
            name: "x",
        };
        let out = analyse(&data, &env);
        assert!(
            out.not_analysed.is_some() || out.issues.iter().any(|i| i.rule == "MS410"),
            "{:?}",
            out.issues
        );
        for cut in 0..data.len() {
            let _ = fuzz(&data[..cut]);
        }
    }

    #[test]
    fn signature_inputs_choosing_a_checkpoint_path_are_medium() {
        let sig = bytes(
            5,
            &cat(&[
                bytes(1, b"serving_default"),
                bytes(
                    2,
                    &bytes(
                        1,
                        &cat(&[bytes(1, b"x"), bytes(2, &bytes(1, b"serving_default_x:0"))]),
                    ),
                ),
            ]),
        );
        let main = vec![
            node("serving_default_x", "Placeholder", &[], &[]),
            node("r", "RestoreV2", &["serving_default_x", "names"], &[]),
        ];
        let out = run(&saved_model(&main, &[], &[sig]));
        assert_eq!(severities(&out), vec![("MS404", Severity::Medium)]);
    }

    /// A cheap stand-in for the fuzzer inside `cargo test`: byte flips, insertions and cuts of a
    /// real TensorFlow-written file never panic.
    #[test]
    fn mutated_real_files_do_not_panic() {
        let real: &[&[u8]] = &[
            include_bytes!("../../../tests/formats/savedmodel/benign/vocab_asset/saved_model.pb"),
            include_bytes!(
                "../../../tests/formats/savedmodel/benign/tf_keras_sequential/keras_metadata.pb"
            ),
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for base in real {
            assert!(fuzz(base) > 0);
            for _ in 0..300 {
                let mut m = base.to_vec();
                for _ in 0..=(next() % 4) {
                    let i = usize::try_from(next() % m.len() as u64).unwrap();
                    match next() % 3 {
                        0 => m[i] = next() as u8,
                        1 => m.insert(i, next() as u8),
                        _ => m.truncate(i.max(1)),
                    }
                }
                let _ = fuzz(&m);
            }
        }
    }

    #[test]
    fn frozen_graph_defs_are_analysed() {
        let mut g = Vec::new();
        for n in [
            konst("p", &["/etc/hostname"]),
            node("r", "ReadFile", &["p"], &[]),
        ] {
            g.extend(bytes(1, &n));
        }
        g.extend(bytes(4, &int(1, 1000)));
        assert!(detect_strict(&g));
        let out = run(&g);
        assert_eq!(out.format, GRAPHDEF_FORMAT);
        assert_eq!(severities(&out), vec![("MS401", Severity::High)]);
        // Keras metadata objects and sentencepiece-like messages are not graphs.
        assert!(!parse::looks_like_graph_def(
            &bytes(1, &cat(&[bytes(3, b"root"), bytes(4, b"_tf_keras_model")])),
            true
        ));
        assert!(!parse::looks_like_graph_def(
            &bytes(1, &cat(&[bytes(1, b"piece"), vec![0x15, 0, 0, 0, 0]])),
            true
        ));
    }

    #[test]
    fn rules_are_in_range_and_sorted() {
        assert!(RULES.windows(2).all(|w| w[0].id < w[1].id));
        for r in RULES {
            let n: u32 = r.id[2..].parse().unwrap();
            assert!((400..450).contains(&n) && r.id.starts_with("MS"));
        }
    }
}
