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

/// Deepest chain of function calls followed.
const MAX_CALL_DEPTH: usize = 32;
/// Most function visits (one per call path to a function with effects) per meta graph.
const MAX_VISITS: usize = 20_000;
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
/// shape is checked against the schema (field numbers and wire types, nested messages).
pub(crate) fn detect(data: &[u8]) -> bool {
    parse::looks_like_saved_model(data) || parse::looks_like_keras_metadata(data)
}

/// Analyses a SavedModel protobuf.
pub(crate) fn analyse<'d>(data: &'d [u8], env: &Env<'_>) -> Outcome<'d> {
    if parse::looks_like_keras_metadata(data) && !parse::looks_like_saved_model(data) {
        return analyse_keras_metadata(data);
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
    if text.trim().is_empty() {
        return;
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
        return;
    }
    // serde_json bounds nesting (128 levels), so deep documents are an error, not a stack overflow.
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(doc) => keras::analyse_config(&doc, origin, out),
        Err(e) => out.push(
            Issue::new(
                "MS410",
                "Keras metadata is not JSON",
                format!("A Keras metadata entry is not valid JSON ({e}); Keras cannot load it."),
                json!({ "error": e.to_string() }),
            )
            .severity(Severity::Low)
            .at(offset as u64),
        ),
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
        for (ni, n) in g.nodes.iter().enumerate() {
            if let Some(effect) = ops::effect(&n.op) {
                if let Some(issue) = self.judge(frame, n, effect) {
                    let issue = issue.at(n.offset as u64);
                    let keep = self.verdicts.get(&(gi, ni)).is_none_or(|old| {
                        old.severity.unwrap_or(Severity::High)
                            < issue.severity.unwrap_or(Severity::High)
                    });
                    if keep {
                        self.verdicts.insert((gi, ni), issue);
                    }
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
                if self.visits >= MAX_VISITS && self.visited[c] {
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
        if g.function.is_some() && !input.contains(':') {
            if let Some(pos) = g.args.iter().position(|a| a == name) {
                match (frame.call, frame.parent) {
                    (Some((pg, pn, skip)), Some(parent)) => {
                        let call = &self.graphs[pg].nodes[pn];
                        if let Some(arg) = call.data_inputs().nth(pos.saturating_add(skip)) {
                            self.trace(parent, arg, out, steps);
                        } else {
                            out.push(Leaf::Computed(call.op.to_string()));
                        }
                    }
                    _ => out.push(Leaf::Unbound(name.to_owned())),
                }
                return;
            }
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
                Some(Some(positions)) => {
                    for (i, inp) in n.data_inputs().enumerate() {
                        if positions.contains(&i) {
                            self.trace(frame, inp, out, steps);
                        }
                    }
                }
                Some(None) => {
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
    let limits = crate::limits::Limits::default();
    let env = Env {
        limits: &limits,
        display: "saved_model.pb",
        member: None,
        disk_path: None,
        name: "saved_model.pb",
        ext: Some("pb"),
    };
    let detected = usize::from(detect(data));
    let a = analyse(data, &env).issues.len();
    let b = analyse_keras_metadata(data).issues.len();
    detected + a + b
}
