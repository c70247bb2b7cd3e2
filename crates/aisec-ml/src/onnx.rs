//! A user's ONNX classifier as a target, and our networks exported to ONNX.
//!
//! Two faces, two engines. The black-box face runs any graph tract can run (a pure-Rust ONNX
//! runtime). The white-box face evaluates the graph node by node on candle tensors, so that
//! gradients reach the input: candle-onnx evaluates the ops whose candle gradients are right,
//! and our own code evaluates the ops where candle's are wrong or missing (max and average
//! pooling, softmax) or that candle-onnx lacks (global average pooling). Before a graph is used
//! white-box, every node is checked against that list; the first op outside it is named, and the
//! model stays a black box.
//!
//! Reading is bounded: the file size, the node and initializer counts, every tensor's element
//! count; external tensor data is refused (it names other files), and a panic inside either
//! engine becomes an error.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use candle_onnx::onnx::{
    self, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, attribute_proto::AttributeType,
    tensor_proto::DataType, tensor_shape_proto::dimension, type_proto,
};
use prost::Message;
use serde::{Deserialize, Serialize};
use tract_onnx::prelude::{
    DatumType, Framework, InferenceFact, InferenceModelExt, IntoRunnable, TDim, TValue, TVec,
    Tensor as TractTensor, TypedRunnableModel,
};

use crate::arch::LayerSpec;
use crate::error::{MlError, Result};
use crate::model::{Classifier, ModelInfo, Queries, QueryCounter, WhiteBox};
use crate::network::Network;
use crate::ops::{self, Pool2d};

/// The ONNX protobuf message types (from candle-onnx), for callers that build graphs.
pub use candle_onnx::onnx as proto;

/// What can go wrong reading or running an ONNX model.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// The file is larger than the limit.
    #[error("{path}: {size} bytes; the limit for an ONNX model is {limit}")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The protobuf could not be decoded.
    #[error("{path}: not an ONNX model: {message}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        message: String,
    },
    /// The graph is not a classifier we can use (inputs, outputs, shapes, external data).
    #[error("ONNX graph: {0}")]
    Graph(String),
    /// tract could not load or run the graph.
    #[error("ONNX runtime (tract): {0}")]
    Runtime(String),
    /// An op stops white-box use.
    #[error("op {op} (node {node:?}) stops white-box use: {reason}")]
    Unsupported {
        /// The op type.
        op: String,
        /// The node's name (or its first output).
        node: String,
        /// Why.
        reason: String,
    },
    /// The white-box evaluation failed.
    #[error("ONNX white-box evaluation: {0}")]
    Eval(String),
}

/// Limits on what an ONNX file may hold.
#[derive(Debug, Clone, Copy)]
pub struct OnnxLimits {
    /// Largest file in bytes.
    pub max_file: u64,
    /// Most nodes in the graph.
    pub max_nodes: usize,
    /// Most elements in one tensor (initializer or constant).
    pub max_tensor_elems: usize,
    /// Most elements in one sample.
    pub max_sample: usize,
}

impl Default for OnnxLimits {
    fn default() -> Self {
        Self {
            max_file: 1 << 30,
            max_nodes: 100_000,
            max_tensor_elems: 1 << 28,
            max_sample: 1 << 24,
        }
    }
}

/// What the chosen output holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreKind {
    /// Probabilities when the output comes from a Softmax node, logits otherwise.
    #[default]
    Auto,
    /// Logits.
    Logits,
    /// Probabilities.
    Probabilities,
}

/// How to read a user's ONNX classifier.
#[derive(Debug, Clone)]
pub struct OnnxOptions {
    /// The shape of one sample, when the graph's input shape is not fixed.
    pub input_shape: Option<Vec<usize>>,
    /// The output to read (default: the graph's first).
    pub output: Option<String>,
    /// What that output holds.
    pub scores: ScoreKind,
    /// The valid input range.
    pub input_range: [f32; 2],
    /// Class names.
    pub class_names: Option<Vec<String>>,
    /// Size limits.
    pub limits: OnnxLimits,
}

impl Default for OnnxOptions {
    fn default() -> Self {
        Self {
            input_shape: None,
            output: None,
            scores: ScoreKind::Auto,
            input_range: [0.0, 1.0],
            class_names: None,
            limits: OnnxLimits::default(),
        }
    }
}

/// Ops the white-box face evaluates, and by whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    /// candle-onnx; candle's gradient for the op is right.
    Candle,
    /// Our own code: candle's gradient is wrong or missing, or candle-onnx lacks the op.
    Ours,
    /// Folded at load time (constants).
    Load,
}

/// The white-box op table: what is evaluated, and the fewest inputs each needs (candle-onnx
/// indexes inputs without checking their number).
const WHITE_BOX_OPS: &[(&str, Engine, usize)] = &[
    // Arithmetic and activations: candle primitives with standard backward passes.
    ("Add", Engine::Candle, 2),
    ("Sub", Engine::Candle, 2),
    ("Mul", Engine::Candle, 2),
    ("Div", Engine::Candle, 2),
    ("Neg", Engine::Candle, 1),
    ("Abs", Engine::Candle, 1),
    ("Exp", Engine::Candle, 1),
    ("Log", Engine::Candle, 1),
    ("Sqrt", Engine::Candle, 1),
    ("Erf", Engine::Candle, 1),
    ("Relu", Engine::Candle, 1),
    ("LeakyRelu", Engine::Candle, 1),
    ("Tanh", Engine::Candle, 1),
    ("Sigmoid", Engine::Candle, 1),
    ("Gelu", Engine::Candle, 1),
    ("Clip", Engine::Candle, 1),
    ("MatMul", Engine::Candle, 2),
    ("Gemm", Engine::Candle, 3),
    ("Conv", Engine::Candle, 2),
    ("BatchNormalization", Engine::Candle, 5),
    ("ReduceMean", Engine::Candle, 1),
    ("ReduceSum", Engine::Candle, 1),
    // Layout: views and copies.
    ("Reshape", Engine::Candle, 2),
    ("Flatten", Engine::Candle, 1),
    ("Transpose", Engine::Candle, 1),
    ("Squeeze", Engine::Candle, 1),
    ("Unsqueeze", Engine::Candle, 1),
    ("Concat", Engine::Candle, 1),
    ("Identity", Engine::Candle, 1),
    ("Dropout", Engine::Candle, 1),
    ("Gather", Engine::Candle, 2),
    ("Slice", Engine::Candle, 3),
    ("Expand", Engine::Candle, 2),
    // Shape arithmetic (integers; no gradient flows through them).
    ("Shape", Engine::Candle, 1),
    ("Cast", Engine::Candle, 1),
    // Ours: candle's max-pool backward is off by 1/(k*k) and pooling has no backward unless
    // kernel == stride; candle-onnx's axis-less Softmax uses a fused kernel with no gradient;
    // candle-onnx has no GlobalAveragePool.
    ("MaxPool", Engine::Ours, 1),
    ("AveragePool", Engine::Ours, 1),
    ("GlobalAveragePool", Engine::Ours, 1),
    ("Softmax", Engine::Ours, 1),
    ("LogSoftmax", Engine::Ours, 1),
    ("Constant", Engine::Load, 0),
];

/// Ops candle-onnx evaluates whose gradients aisec has not checked: they stop white-box use.
const CANDLE_UNCHECKED: &[&str] = &[
    "Pow",
    "Equal",
    "Not",
    "Min",
    "Where",
    "Greater",
    "Less",
    "LessOrEqual",
    "GreaterOrEqual",
    "ConstantOfShape",
    "Size",
    "Range",
    "GatherElements",
    "Cos",
    "Sin",
    "PRelu",
    "Ceil",
    "Floor",
    "CumSum",
    "If",
    "Pad",
    "ReduceMax",
    "ReduceMin",
    "Split",
    "Tile",
    "ArgMin",
    "ArgMax",
    "LSTM",
    "RNN",
    "Xor",
    "And",
    "Or",
    "Sign",
    "Selu",
    "OneHot",
    "HardSwish",
    "Resize",
    "Trilu",
    "ScatterND",
];

/// Why the white-box face is or is not available.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum WhiteBoxStatus {
    /// Every op is one we evaluate with trusted gradients.
    Available,
    /// An op stops it.
    Blocked {
        /// The op type.
        op: String,
        /// The node.
        node: String,
        /// Why.
        reason: String,
    },
}

/// One step of the white-box evaluation.
enum Step {
    /// candle-onnx evaluates a one-node model.
    Candle {
        model: Box<ModelProto>,
        inputs: Vec<String>,
    },
    /// Max or average pooling with our own gradient.
    Pool {
        input: String,
        output: String,
        geometry: Pool2d,
        max: bool,
    },
    /// Mean over the spatial axes, keeping them.
    GlobalAveragePool { input: String, output: String },
    /// Softmax or log-softmax over `axis` (must be the last at run time).
    Softmax {
        input: String,
        output: String,
        axis: i64,
        log: bool,
    },
}

/// The white-box plan: constants, steps, and where the logits come out.
struct WhiteGraph {
    constants: HashMap<String, Tensor>,
    steps: Vec<Step>,
    input: String,
    logits: String,
    /// Take the log of the output (the graph gives probabilities without a Softmax node).
    log_of_output: bool,
}

/// A user's ONNX classifier.
pub struct OnnxModel {
    info: ModelInfo,
    counter: QueryCounter,
    plan: Arc<TypedRunnableModel>,
    output_is_probabilities: bool,
    white: Option<WhiteGraph>,
    status: WhiteBoxStatus,
    ops: BTreeMap<String, usize>,
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel")
            .field("info", &self.info)
            .field("white_box", &self.status)
            .field("ops", &self.ops)
            .finish_non_exhaustive()
    }
}

fn guard<T>(what: &str, f: impl FnOnce() -> std::result::Result<T, OnnxError>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(MlError::from),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            Err(OnnxError::Runtime(format!("{what} panicked: {msg}")).into())
        }
    }
}

fn node_label(node: &NodeProto) -> String {
    if node.name.is_empty() {
        node.output.first().cloned().unwrap_or_default()
    } else {
        node.name.clone()
    }
}

fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn attr_int(node: &NodeProto, name: &str) -> Option<i64> {
    attr(node, name).map(|a| a.i)
}

fn attr_ints<'a>(node: &'a NodeProto, name: &str) -> Option<&'a [i64]> {
    attr(node, name).map(|a| a.ints.as_slice())
}

/// Decodes an initializer or constant tensor, bounded and without trusting its byte layout.
fn decode_tensor(t: &TensorProto, limits: &OnnxLimits) -> std::result::Result<Tensor, OnnxError> {
    let bad = |m: String| OnnxError::Graph(format!("tensor {:?}: {m}", t.name));
    if t.data_location == onnx::tensor_proto::DataLocation::External as i32 {
        return Err(bad(
            "its data is in an external file, which aisec does not follow".into(),
        ));
    }
    let mut n = 1usize;
    let mut dims = Vec::with_capacity(t.dims.len());
    for &d in &t.dims {
        let d = usize::try_from(d).map_err(|_| bad(format!("dimension {d}")))?;
        n = n
            .checked_mul(d)
            .filter(|&n| n <= limits.max_tensor_elems)
            .ok_or_else(|| bad(format!("more than {} elements", limits.max_tensor_elems)))?;
        dims.push(d);
    }
    let raw = &t.raw_data;
    let from_raw = |width: usize| -> std::result::Result<Vec<[u8; 8]>, OnnxError> {
        if raw.len() != n * width {
            return Err(bad(format!(
                "{} bytes of data for {n} elements of {width} bytes",
                raw.len()
            )));
        }
        Ok(raw
            .chunks_exact(width)
            .map(|c| {
                let mut b = [0u8; 8];
                b[..width].copy_from_slice(c);
                b
            })
            .collect())
    };
    let count = |len: usize| {
        if len == n {
            Ok(())
        } else {
            Err(bad(format!("{len} values for {n} elements")))
        }
    };
    let dev = &Device::Cpu;
    let tensor = match DataType::try_from(t.data_type) {
        Ok(DataType::Float) => {
            let v: Vec<f32> = if raw.is_empty() {
                count(t.float_data.len())?;
                t.float_data.clone()
            } else {
                from_raw(4)?
                    .iter()
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect()
            };
            Tensor::from_vec(v, dims, dev)
        }
        Ok(DataType::Double) => {
            let v: Vec<f64> = if raw.is_empty() {
                count(t.double_data.len())?;
                t.double_data.clone()
            } else {
                from_raw(8)?
                    .iter()
                    .map(|b| f64::from_le_bytes(*b))
                    .collect()
            };
            Tensor::from_vec(v, dims, dev)
        }
        Ok(DataType::Int64) => {
            let v: Vec<i64> = if raw.is_empty() {
                count(t.int64_data.len())?;
                t.int64_data.clone()
            } else {
                from_raw(8)?
                    .iter()
                    .map(|b| i64::from_le_bytes(*b))
                    .collect()
            };
            Tensor::from_vec(v, dims, dev)
        }
        Ok(DataType::Int32) => {
            let v: Vec<i64> = if raw.is_empty() {
                count(t.int32_data.len())?;
                t.int32_data.iter().map(|&v| i64::from(v)).collect()
            } else {
                from_raw(4)?
                    .iter()
                    .map(|b| i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                    .collect()
            };
            Tensor::from_vec(v, dims, dev)
        }
        Ok(DataType::Bool | DataType::Uint8) => {
            let v: Vec<u8> = if raw.is_empty() {
                count(t.int32_data.len())?;
                t.int32_data.iter().map(|&v| v as u8).collect()
            } else {
                from_raw(1)?.iter().map(|b| b[0]).collect()
            };
            Tensor::from_vec(v, dims, dev)
        }
        _ => {
            return Err(OnnxError::Unsupported {
                op: "initializer".into(),
                node: t.name.clone(),
                reason: format!("data type {} is not supported", t.data_type),
            });
        }
    };
    tensor.map_err(|e| bad(e.to_string()))
}

/// Checks what tract would otherwise trust before it reads the graph: no external data (it names
/// other files), every stored tensor and every constant shape within the element limit, and
/// subgraphs likewise.
fn prescan(
    graph: &GraphProto,
    limits: &OnnxLimits,
    depth: usize,
) -> std::result::Result<(), OnnxError> {
    if depth > 8 {
        return Err(OnnxError::Graph("subgraphs nest more than 8 deep".into()));
    }
    let check = |t: &TensorProto| -> std::result::Result<(), OnnxError> {
        if t.data_location == onnx::tensor_proto::DataLocation::External as i32 {
            return Err(OnnxError::Graph(format!(
                "tensor {:?} keeps its data in an external file, which aisec does not follow",
                t.name
            )));
        }
        let n = t
            .dims
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(usize::try_from(d).ok()?));
        if n.is_none_or(|n| n > limits.max_tensor_elems) {
            return Err(OnnxError::Graph(format!(
                "tensor {:?} has dimensions {:?} (at most {} elements are allowed)",
                t.name, t.dims, limits.max_tensor_elems
            )));
        }
        Ok(())
    };
    let mut shapes: HashMap<&str, &TensorProto> = HashMap::new();
    for t in &graph.initializer {
        check(t)?;
        shapes.insert(t.name.as_str(), t);
    }
    for node in &graph.node {
        for a in &node.attribute {
            if let Some(t) = &a.t {
                check(t)?;
                if node.op_type == "Constant"
                    && let Some(o) = node.output.first()
                {
                    shapes.insert(o.as_str(), t);
                }
            }
            a.tensors.iter().try_for_each(check)?;
            for g in a.g.iter().chain(&a.graphs) {
                prescan(g, limits, depth + 1)?;
            }
        }
        // Ops that allocate the shape another tensor holds: bound constant shapes here, before
        // tract folds them.
        if matches!(node.op_type.as_str(), "ConstantOfShape" | "Expand") {
            let at = usize::from(node.op_type == "Expand");
            if let Some(t) = node.input.get(at).and_then(|i| shapes.get(i.as_str())) {
                let values: Vec<i64> = if t.raw_data.is_empty() {
                    t.int64_data.clone()
                } else {
                    t.raw_data
                        .chunks_exact(8)
                        .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                        .collect()
                };
                let n = values.iter().try_fold(1usize, |a, &d| {
                    a.checked_mul(usize::try_from(d.max(1)).ok()?)
                });
                if n.is_none_or(|n| n > limits.max_tensor_elems) {
                    return Err(OnnxError::Graph(format!(
                        "node {:?} ({}) asks for shape {values:?}",
                        node_label(node),
                        node.op_type
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The sample shape declared by a graph input (the first dimension is the batch).
fn declared_shape(v: &ValueInfoProto) -> Option<Vec<Option<usize>>> {
    let Some(type_proto::Value::TensorType(t)) = v.r#type.as_ref()?.value.as_ref() else {
        return None;
    };
    let dims = &t.shape.as_ref()?.dim;
    Some(
        dims.iter()
            .map(|d| match d.value {
                Some(dimension::Value::DimValue(v)) if v > 0 => Some(v as usize),
                _ => None,
            })
            .collect(),
    )
}

fn elem_type(v: &ValueInfoProto) -> Option<i32> {
    match v.r#type.as_ref()?.value.as_ref()? {
        type_proto::Value::TensorType(t) => Some(t.elem_type),
        _ => None,
    }
}

impl OnnxModel {
    /// Reads an ONNX classifier from a file.
    pub fn load(path: &Path, options: &OnnxOptions) -> Result<Self> {
        let limits = options.limits;
        let size = std::fs::metadata(path)
            .map_err(|e| MlError::io(path, e))?
            .len();
        if size > limits.max_file {
            return Err(OnnxError::TooLarge {
                path: path.to_path_buf(),
                size,
                limit: limits.max_file,
            }
            .into());
        }
        let mut bytes = Vec::with_capacity(size as usize);
        File::open(path)
            .and_then(|f| f.take(limits.max_file + 1).read_to_end(&mut bytes))
            .map_err(|e| MlError::io(path, e))?;
        if bytes.len() as u64 > limits.max_file {
            return Err(OnnxError::TooLarge {
                path: path.to_path_buf(),
                size: bytes.len() as u64,
                limit: limits.max_file,
            }
            .into());
        }
        Self::from_bytes(&bytes, &path.display().to_string(), options)
    }

    /// Reads an ONNX classifier from its bytes; `name` is what reports call it.
    pub fn from_bytes(bytes: &[u8], name: &str, options: &OnnxOptions) -> Result<Self> {
        let limits = options.limits;
        if bytes.len() as u64 > limits.max_file {
            return Err(OnnxError::TooLarge {
                path: PathBuf::from(name),
                size: bytes.len() as u64,
                limit: limits.max_file,
            }
            .into());
        }
        let proto = ModelProto::decode(bytes).map_err(|e| OnnxError::Decode {
            path: PathBuf::from(name),
            message: e.to_string(),
        })?;
        let proto = &proto;
        let name = name.to_owned();
        let graph = proto
            .graph
            .as_ref()
            .ok_or_else(|| OnnxError::Graph("the model has no graph".into()))?;
        if graph.node.len() > limits.max_nodes {
            return Err(OnnxError::Graph(format!(
                "{} nodes; the limit is {}",
                graph.node.len(),
                limits.max_nodes
            ))
            .into());
        }
        let initializers: HashSet<&str> =
            graph.initializer.iter().map(|t| t.name.as_str()).collect();
        let inputs: Vec<&ValueInfoProto> = graph
            .input
            .iter()
            .filter(|i| !initializers.contains(i.name.as_str()))
            .collect();
        let [input] = inputs.as_slice() else {
            return Err(OnnxError::Graph(format!(
                "a classifier has one input; this graph has {} ({})",
                inputs.len(),
                inputs
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .into());
        };
        if elem_type(input) != Some(DataType::Float as i32) {
            return Err(OnnxError::Graph(format!(
                "input {:?} is not a float32 tensor",
                input.name
            ))
            .into());
        }
        let declared = declared_shape(input);
        let input_shape = match (&options.input_shape, &declared) {
            (Some(given), Some(d)) => {
                let fits = d.len() == given.len() + 1
                    && d[1..]
                        .iter()
                        .zip(given)
                        .all(|(a, b)| a.is_none_or(|a| a == *b));
                if !fits {
                    return Err(OnnxError::Graph(format!(
                        "the graph's input shape {d:?} does not take samples of shape {given:?}"
                    ))
                    .into());
                }
                given.clone()
            }
            (Some(given), None) => given.clone(),
            (None, Some(d)) if d.len() >= 2 && d[1..].iter().all(Option::is_some) => {
                d[1..].iter().map(|v| v.unwrap_or(0)).collect()
            }
            (None, _) => {
                return Err(OnnxError::Graph(format!(
                    "the input {:?} has no fixed sample shape ({declared:?}); give one",
                    input.name
                ))
                .into());
            }
        };
        let sample = input_shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .filter(|&n| n > 0 && n <= limits.max_sample);
        if sample.is_none() || input_shape.is_empty() {
            return Err(OnnxError::Graph(format!(
                "sample shape {input_shape:?} is empty or larger than {}",
                limits.max_sample
            ))
            .into());
        }
        let output = match &options.output {
            Some(name) => graph
                .output
                .iter()
                .find(|o| &o.name == name)
                .ok_or_else(|| OnnxError::Graph(format!("no output named {name:?}")))?,
            None => graph
                .output
                .first()
                .ok_or_else(|| OnnxError::Graph("the graph has no output".into()))?,
        };
        let producer = graph
            .node
            .iter()
            .rev()
            .find(|n| n.output.iter().any(|o| o == &output.name));
        let from_softmax = producer.map(|n| n.op_type.as_str());
        let output_is_probabilities = match options.scores {
            ScoreKind::Auto => from_softmax == Some("Softmax"),
            ScoreKind::Probabilities => true,
            ScoreKind::Logits => false,
        };
        let mut ops = BTreeMap::new();
        for n in &graph.node {
            *ops.entry(n.op_type.clone()).or_insert(0) += 1;
        }

        prescan(graph, &limits, 0)?;

        // The black-box face: tract.
        let output_name = output.name.clone();
        let input_name = input.name.clone();
        let shape_for_tract = input_shape.clone();
        let plan = guard("tract", || {
            let rt = |e: tract_onnx::prelude::TractError| OnnxError::Runtime(format!("{e:#}"));
            let onnx = tract_onnx::onnx();
            let mut model = onnx.model_for_read(&mut &bytes[..]).map_err(rt)?;
            let batch = model.sym("N");
            let mut dims: TVec<TDim> = TVec::new();
            dims.push(batch.into());
            dims.extend(shape_for_tract.iter().map(|&d| TDim::from(d as i64)));
            let index = model
                .input_outlets()
                .map_err(rt)?
                .iter()
                .position(|o| model.node(o.node).name == input_name)
                .unwrap_or(0);
            model = model
                .with_input_fact(index, InferenceFact::dt_shape(DatumType::F32, dims))
                .map_err(rt)?;
            model
                .select_outputs_by_name([output_name.as_str()])
                .map_err(rt)?;
            let typed = model.into_optimized().map_err(rt)?;
            typed.into_runnable().map_err(rt)
        })?;

        // Classes: from the declared output shape, else by running one zero sample.
        let declared_out = declared_shape(output);
        let num_classes = match declared_out.as_deref() {
            Some([_, Some(k)]) => *k,
            _ => {
                let zeros = vec![0f32; sample.unwrap_or(0)];
                let out = run_tract(&plan, &input_shape, &zeros, 1)?;
                out.len()
            }
        };
        if !(2..=100_000).contains(&num_classes) {
            return Err(OnnxError::Graph(format!(
                "output {:?} has {num_classes} classes",
                output.name
            ))
            .into());
        }
        if let Some(names) = &options.class_names
            && names.len() != num_classes
        {
            return Err(OnnxError::Graph(format!(
                "{} class names for {num_classes} classes",
                names.len()
            ))
            .into());
        }

        // The white-box face: checked op by op.
        let (white, status) =
            match WhiteGraph::plan(graph, &input.name, &output.name, options.scores, &limits) {
                Ok(w) => (Some(w), WhiteBoxStatus::Available),
                Err(OnnxError::Unsupported { op, node, reason }) => {
                    (None, WhiteBoxStatus::Blocked { op, node, reason })
                }
                Err(other) => return Err(other.into()),
            };
        Ok(Self {
            info: ModelInfo {
                name,
                input_shape,
                num_classes,
                input_range: options.input_range,
                class_names: options.class_names.clone(),
            },
            counter: QueryCounter::default(),
            plan,
            output_is_probabilities,
            white,
            status,
            ops,
        })
    }

    /// Whether the white-box face is available, and if not, which op stops it.
    #[must_use]
    pub fn white_box_status(&self) -> &WhiteBoxStatus {
        &self.status
    }

    /// The graph's op types with their counts.
    #[must_use]
    pub fn op_types(&self) -> &BTreeMap<String, usize> {
        &self.ops
    }
}

fn run_tract(
    plan: &Arc<TypedRunnableModel>,
    sample_shape: &[usize],
    data: &[f32],
    rows: usize,
) -> Result<Vec<f32>> {
    guard("tract", || {
        let rt = |e: tract_onnx::prelude::TractError| OnnxError::Runtime(format!("{e:#}"));
        let mut shape = vec![rows];
        shape.extend(sample_shape);
        let t = TractTensor::from_shape(&shape, data).map_err(rt)?;
        let inputs: TVec<TValue> = std::iter::once(t.into()).collect();
        let out = plan.run(inputs).map_err(rt)?;
        let first = out
            .first()
            .ok_or_else(|| OnnxError::Runtime("no output".into()))?;
        let values: Vec<f32> = first
            .cast_to::<f32>()
            .map_err(rt)?
            .to_plain_array_view::<f32>()
            .map_err(rt)?
            .iter()
            .copied()
            .collect();
        if first.shape().first() != Some(&rows) || !values.len().is_multiple_of(rows.max(1)) {
            return Err(OnnxError::Runtime(format!(
                "output shape {:?} for {rows} rows",
                first.shape()
            )));
        }
        Ok(values)
    })
}

impl WhiteGraph {
    /// Checks every node and builds the evaluation steps, or names the op that stops it.
    fn plan(
        graph: &GraphProto,
        input: &str,
        output: &str,
        scores: ScoreKind,
        limits: &OnnxLimits,
    ) -> std::result::Result<Self, OnnxError> {
        let table: HashMap<&str, (Engine, usize)> = WHITE_BOX_OPS
            .iter()
            .map(|&(op, e, n)| (op, (e, n)))
            .collect();
        let mut constants = HashMap::new();
        for t in &graph.initializer {
            constants.insert(t.name.clone(), decode_tensor(t, limits)?);
        }
        // Where the logits are: before a final Softmax/LogSoftmax, or the output itself.
        let producer = graph
            .node
            .iter()
            .rposition(|n| n.output.iter().any(|o| o == output));
        let (logits, skip, log_of_output) = match producer.map(|i| (i, &graph.node[i])) {
            Some((i, n))
                if scores != ScoreKind::Logits
                    && matches!(n.op_type.as_str(), "Softmax" | "LogSoftmax")
                    && !n.input.is_empty() =>
            {
                (n.input[0].clone(), Some(i), false)
            }
            _ => (output.to_owned(), None, scores == ScoreKind::Probabilities),
        };
        let mut known: HashSet<String> = constants.keys().cloned().collect();
        known.insert(input.to_owned());
        let mut steps = Vec::new();
        for (index, node) in graph.node.iter().enumerate() {
            if skip == Some(index) {
                continue;
            }
            let label = node_label(node);
            let unsupported = |reason: String| OnnxError::Unsupported {
                op: node.op_type.clone(),
                node: label.clone(),
                reason,
            };
            if !(node.domain.is_empty() || node.domain == "ai.onnx") {
                return Err(unsupported(format!(
                    "domain {:?} is not the standard ONNX domain",
                    node.domain
                )));
            }
            let Some(&(engine, min_inputs)) = table.get(node.op_type.as_str()) else {
                let reason = if CANDLE_UNCHECKED.contains(&node.op_type.as_str()) {
                    "candle-onnx evaluates it, but aisec has not checked its gradient".to_owned()
                } else {
                    "candle-onnx does not implement it".to_owned()
                };
                return Err(unsupported(reason));
            };
            if node.input.len() < min_inputs || node.output.is_empty() {
                return Err(unsupported(format!(
                    "{} inputs and {} outputs; at least {min_inputs} and 1 are needed",
                    node.input.len(),
                    node.output.len()
                )));
            }
            for i in node.input.iter().filter(|i| !i.is_empty()) {
                if !known.contains(i) {
                    return Err(OnnxError::Graph(format!(
                        "node {label:?} reads {i:?} before anything writes it"
                    )));
                }
            }
            match (engine, node.op_type.as_str()) {
                (Engine::Load, _) => {
                    let value = attr(node, "value")
                        .and_then(|a| a.t.as_ref())
                        .ok_or_else(|| unsupported("only a tensor `value` is supported".into()))?;
                    constants.insert(node.output[0].clone(), decode_tensor(value, limits)?);
                }
                (Engine::Ours, "MaxPool" | "AveragePool") => {
                    let max = node.op_type == "MaxPool";
                    let geometry = pool_geometry(node, max).map_err(unsupported)?;
                    steps.push(Step::Pool {
                        input: node.input[0].clone(),
                        output: node.output[0].clone(),
                        geometry,
                        max,
                    });
                }
                (Engine::Ours, "GlobalAveragePool") => steps.push(Step::GlobalAveragePool {
                    input: node.input[0].clone(),
                    output: node.output[0].clone(),
                }),
                (Engine::Ours, _) => steps.push(Step::Softmax {
                    input: node.input[0].clone(),
                    output: node.output[0].clone(),
                    axis: attr_int(node, "axis").unwrap_or(-1),
                    log: node.op_type == "LogSoftmax",
                }),
                (Engine::Candle, _) => {
                    if node.op_type == "Conv" && attr_int(node, "group").unwrap_or(1) != 1 {
                        return Err(unsupported("grouped convolution".into()));
                    }
                    if node.op_type == "Dropout" && node.output.len() > 1 {
                        return Err(unsupported("a Dropout mask output".into()));
                    }
                    let one = GraphProto {
                        node: vec![node.clone()],
                        output: node
                            .output
                            .iter()
                            .filter(|o| !o.is_empty())
                            .map(|o| ValueInfoProto {
                                name: o.clone(),
                                ..ValueInfoProto::default()
                            })
                            .collect(),
                        ..GraphProto::default()
                    };
                    steps.push(Step::Candle {
                        model: Box::new(ModelProto {
                            graph: Some(one),
                            ..ModelProto::default()
                        }),
                        inputs: node
                            .input
                            .iter()
                            .filter(|i| !i.is_empty())
                            .cloned()
                            .collect(),
                    });
                }
            }
            known.extend(node.output.iter().cloned());
        }
        if !known.contains(&logits) {
            return Err(OnnxError::Graph(format!("nothing computes {logits:?}")));
        }
        Ok(Self {
            constants,
            steps,
            input: input.to_owned(),
            logits,
            log_of_output,
        })
    }

    fn logits(&self, x: &Tensor) -> Result<Tensor> {
        // candle appends a backtrace to its messages when RUST_BACKTRACE is set: keep the words.
        let eval = |e: candle_core::Error| {
            OnnxError::Eval(e.to_string().lines().next().unwrap_or_default().to_owned())
        };
        let mut values = self.constants.clone();
        values.insert(self.input.clone(), x.clone());
        for step in &self.steps {
            let get = |name: &str| {
                values
                    .get(name)
                    .cloned()
                    .ok_or_else(|| OnnxError::Eval(format!("no value {name:?}")))
            };
            match step {
                Step::Candle { model, inputs } => {
                    let mut args = HashMap::with_capacity(inputs.len());
                    for i in inputs {
                        args.insert(i.clone(), get(i)?);
                    }
                    let out = guard("candle-onnx", || {
                        candle_onnx::simple_eval(model, args).map_err(eval)
                    })?;
                    values.extend(out);
                }
                Step::Pool {
                    input,
                    output,
                    geometry,
                    max,
                } => {
                    let x = get(input)?;
                    let y = if *max {
                        ops::max_pool2d(&x, *geometry)?
                    } else {
                        ops::avg_pool2d(&x, *geometry)?
                    };
                    values.insert(output.clone(), y);
                }
                Step::GlobalAveragePool { input, output } => {
                    let x = get(input)?;
                    let mut y = x.clone();
                    for axis in (2..x.rank()).rev() {
                        y = y.mean_keepdim(axis)?;
                    }
                    values.insert(output.clone(), y);
                }
                Step::Softmax {
                    input,
                    output,
                    axis,
                    log,
                } => {
                    let x = get(input)?;
                    let rank = x.rank() as i64;
                    let a = if *axis < 0 { axis + rank } else { *axis };
                    if a != rank - 1 {
                        return Err(OnnxError::Eval(format!(
                            "softmax over axis {axis} of a rank-{rank} tensor (only the last axis is supported)"
                        ))
                        .into());
                    }
                    let y = if *log {
                        ops::log_softmax(&x)?
                    } else {
                        ops::softmax(&x)?
                    };
                    values.insert(output.clone(), y);
                }
            }
        }
        let out = values
            .remove(&self.logits)
            .ok_or_else(|| OnnxError::Eval(format!("no value {:?}", self.logits)))?;
        let out = out.to_dtype(DType::F32)?;
        if self.log_of_output {
            Ok((out + 1e-12)?.log()?)
        } else {
            Ok(out)
        }
    }
}

/// Our pooling's geometry from an ONNX pooling node: square kernel, equal strides, equal pads.
fn pool_geometry(node: &NodeProto, max: bool) -> std::result::Result<Pool2d, String> {
    let kernel = attr_ints(node, "kernel_shape").unwrap_or_default();
    let strides = attr_ints(node, "strides").unwrap_or(&[]);
    let pads = attr_ints(node, "pads").unwrap_or(&[]);
    let all_same = |v: &[i64]| v.windows(2).all(|w| w[0] == w[1]);
    let &[k, k2] = kernel else {
        return Err(format!("kernel_shape {kernel:?} is not 2-D"));
    };
    if k != k2 || k <= 0 || k > 64 {
        return Err(format!("kernel {kernel:?} is not square (or is too large)"));
    }
    if !strides.is_empty() && (strides.len() != 2 || !all_same(strides) || strides[0] <= 0) {
        return Err(format!("strides {strides:?} differ per axis"));
    }
    if !pads.is_empty() && (pads.len() != 4 || !all_same(pads) || pads[0] < 0) {
        return Err(format!("pads {pads:?} differ per side"));
    }
    if attr_ints(node, "dilations").is_some_and(|d| d.iter().any(|&v| v != 1)) {
        return Err("dilation".into());
    }
    if attr_int(node, "ceil_mode").unwrap_or(0) != 0 {
        return Err("ceil_mode".into());
    }
    if attr(node, "auto_pad").is_some_and(|a| !a.s.is_empty() && a.s != b"NOTSET") {
        return Err("auto_pad".into());
    }
    let padding = pads.first().copied().unwrap_or(0) as usize;
    if !max && padding > 0 && attr_int(node, "count_include_pad").unwrap_or(0) == 0 {
        return Err("average pooling that leaves padding out of the divisor".into());
    }
    let kernel = k as usize;
    if 2 * padding > kernel {
        return Err(format!("padding {padding} is more than half the kernel"));
    }
    Ok(Pool2d {
        kernel,
        stride: strides.first().map_or(kernel, |&s| s as usize),
        padding,
    })
}

impl Classifier for OnnxModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn predict(&self, x: &Tensor) -> Result<Tensor> {
        let rows = x.dim(0)?;
        let want = self.info.batch_shape(rows);
        if x.dims() != want.as_slice() {
            return Err(MlError::Input(format!(
                "input shape {:?}, the model expects {want:?}",
                x.dims()
            )));
        }
        self.counter.predictions(rows)?;
        let k = self.info.num_classes;
        if rows == 0 {
            return Ok(Tensor::zeros((0, k), DType::F32, &Device::Cpu)?);
        }
        let data = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        let out = run_tract(&self.plan, &self.info.input_shape, &data, rows)?;
        if out.len() != rows * k {
            return Err(OnnxError::Runtime(format!(
                "{} output values for {rows} rows of {k} classes",
                out.len()
            ))
            .into());
        }
        let t = Tensor::from_vec(out, (rows, k), &Device::Cpu)?;
        if self.output_is_probabilities {
            Ok(t)
        } else {
            ops::softmax(&t)
        }
    }

    fn queries(&self) -> Queries {
        self.counter.snapshot()
    }

    fn reset_queries(&self) {
        self.counter.reset();
    }

    fn white_box(&self) -> Option<&dyn WhiteBox> {
        if self.white.is_some() {
            Some(self)
        } else {
            None
        }
    }
}

impl WhiteBox for OnnxModel {
    fn logits(&self, x: &Tensor) -> Result<Tensor> {
        let white = self.white.as_ref().ok_or_else(|| {
            MlError::Unsupported(match &self.status {
                WhiteBoxStatus::Blocked { op, node, reason } => {
                    format!("op {op} (node {node:?}) stops white-box use: {reason}")
                }
                WhiteBoxStatus::Available => "no white-box plan".into(),
            })
        })?;
        let rows = x.dim(0)?;
        let want = self.info.batch_shape(rows);
        if x.dims() != want.as_slice() {
            return Err(MlError::Input(format!(
                "input shape {:?}, the model expects {want:?}",
                x.dims()
            )));
        }
        self.counter.gradients(rows);
        let x = if x.dtype() == DType::F32 {
            x.clone()
        } else {
            x.to_dtype(DType::F32)?
        };
        let logits = white.logits(&x)?;
        if logits.dims() != [rows, self.info.num_classes] {
            return Err(OnnxError::Eval(format!(
                "logits of shape {:?}, expected [{rows}, {}]",
                logits.dims(),
                self.info.num_classes
            ))
            .into());
        }
        Ok(logits)
    }
}

// ----- Export -------------------------------------------------------------------------------

/// The ONNX opset our exports declare.
pub const EXPORT_OPSET: i64 = 13;

/// Builders for ONNX protobuf messages (used by the export and by tests that write graphs).
pub mod build {
    use super::{
        AttributeProto, AttributeType, DataType, NodeProto, TensorProto, TensorShapeProto,
        TypeProto, ValueInfoProto, dimension, type_proto,
    };
    use candle_onnx::onnx::tensor_shape_proto::Dimension;

    /// A float32 tensor (raw little-endian data).
    #[must_use]
    pub fn tensor_f32(name: &str, dims: &[usize], data: &[f32]) -> TensorProto {
        TensorProto {
            name: name.to_owned(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: DataType::Float as i32,
            raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..TensorProto::default()
        }
    }

    /// An int64 tensor.
    #[must_use]
    pub fn tensor_i64(name: &str, dims: &[usize], data: &[i64]) -> TensorProto {
        TensorProto {
            name: name.to_owned(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: DataType::Int64 as i32,
            int64_data: data.to_vec(),
            ..TensorProto::default()
        }
    }

    /// A node.
    #[must_use]
    pub fn node(
        op: &str,
        name: &str,
        inputs: &[&str],
        outputs: &[&str],
        attributes: Vec<AttributeProto>,
    ) -> NodeProto {
        NodeProto {
            op_type: op.to_owned(),
            name: name.to_owned(),
            input: inputs.iter().map(|s| (*s).to_owned()).collect(),
            output: outputs.iter().map(|s| (*s).to_owned()).collect(),
            attribute: attributes,
            ..NodeProto::default()
        }
    }

    /// An integer attribute.
    #[must_use]
    pub fn int(name: &str, v: i64) -> AttributeProto {
        AttributeProto {
            name: name.to_owned(),
            r#type: AttributeType::Int as i32,
            i: v,
            ..AttributeProto::default()
        }
    }

    /// A float attribute.
    #[must_use]
    pub fn float(name: &str, v: f32) -> AttributeProto {
        AttributeProto {
            name: name.to_owned(),
            r#type: AttributeType::Float as i32,
            f: v,
            ..AttributeProto::default()
        }
    }

    /// An integer-list attribute.
    #[must_use]
    pub fn ints(name: &str, v: &[i64]) -> AttributeProto {
        AttributeProto {
            name: name.to_owned(),
            r#type: AttributeType::Ints as i32,
            ints: v.to_vec(),
            ..AttributeProto::default()
        }
    }

    /// A float32 tensor value: `None` dimensions are symbolic (`N`).
    #[must_use]
    pub fn value(name: &str, dims: &[Option<usize>]) -> ValueInfoProto {
        ValueInfoProto {
            name: name.to_owned(),
            r#type: Some(TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                    elem_type: DataType::Float as i32,
                    shape: Some(TensorShapeProto {
                        dim: dims
                            .iter()
                            .map(|d| Dimension {
                                value: Some(match d {
                                    Some(v) => dimension::Value::DimValue(*v as i64),
                                    None => dimension::Value::DimParam("N".to_owned()),
                                }),
                                ..Dimension::default()
                            })
                            .collect(),
                    }),
                })),
                ..TypeProto::default()
            }),
            ..ValueInfoProto::default()
        }
    }
}

/// Wraps a graph into a model with our opset and producer.
#[must_use]
pub fn model_proto(graph: GraphProto) -> ModelProto {
    ModelProto {
        ir_version: 8,
        producer_name: "aisec".to_owned(),
        producer_version: env!("CARGO_PKG_VERSION").to_owned(),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: EXPORT_OPSET,
        }],
        graph: Some(graph),
        ..ModelProto::default()
    }
}

impl Network {
    /// The network as an ONNX graph (opset 13): input `input` `[N, ...input_shape]`, output
    /// `logits` `[N, K]` (or `probabilities`/`log_probabilities` when the architecture ends in a
    /// softmax). Dropout exports as Identity, batch norm with its running statistics.
    pub fn to_onnx_proto(&self) -> Result<ModelProto> {
        use build::{float, int, ints, node, tensor_f32, value};
        let arch = self.arch();
        let specs = self.param_specs_list();
        let params = self.params();
        let mut initializer = Vec::new();
        let mut nodes = Vec::new();
        let mut current = "input".to_owned();
        let mut p = 0usize;
        let mut take = |initializer: &mut Vec<TensorProto>, transpose: bool| -> Result<String> {
            let spec = &specs[p];
            let mut t = params[p].to_dtype(DType::F32)?;
            if transpose {
                t = t.t()?.contiguous()?;
            }
            let data = t.flatten_all()?.to_vec1::<f32>()?;
            initializer.push(tensor_f32(&spec.name, t.dims(), &data));
            p += 1;
            Ok(spec.name.clone())
        };
        let last = arch.layers.len().saturating_sub(1);
        for (i, layer) in arch.layers.iter().enumerate() {
            let out = if i == last {
                match layer {
                    LayerSpec::Softmax => "probabilities".to_owned(),
                    LayerSpec::LogSoftmax => "log_probabilities".to_owned(),
                    _ => "logits".to_owned(),
                }
            } else {
                format!("h{i}")
            };
            let name = format!("layers.{i}");
            let (cur, o) = (current.as_str(), out.as_str());
            let n = match layer {
                LayerSpec::Linear { bias: true, .. } => {
                    let w = take(&mut initializer, false)?;
                    let b = take(&mut initializer, false)?;
                    node("Gemm", &name, &[cur, &w, &b], &[o], vec![int("transB", 1)])
                }
                LayerSpec::Linear { bias: false, .. } => {
                    let w = take(&mut initializer, true)?;
                    node("MatMul", &name, &[cur, &w], &[o], vec![])
                }
                LayerSpec::Conv2d {
                    kernel,
                    stride,
                    padding,
                    bias,
                    ..
                } => {
                    let w = take(&mut initializer, false)?;
                    let mut inputs = vec![cur.to_owned(), w];
                    if *bias {
                        inputs.push(take(&mut initializer, false)?);
                    }
                    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
                    let (k, s, pd) = (*kernel as i64, *stride as i64, *padding as i64);
                    node(
                        "Conv",
                        &name,
                        &inputs,
                        &[o],
                        vec![
                            ints("kernel_shape", &[k, k]),
                            ints("strides", &[s, s]),
                            ints("pads", &[pd, pd, pd, pd]),
                        ],
                    )
                }
                LayerSpec::MaxPool2d { .. } | LayerSpec::AvgPool2d { .. } => {
                    let g = layer.pool().expect("pooling layer");
                    let (k, s, pd) = (g.kernel as i64, g.stride as i64, g.padding as i64);
                    let mut attrs = vec![
                        ints("kernel_shape", &[k, k]),
                        ints("strides", &[s, s]),
                        ints("pads", &[pd, pd, pd, pd]),
                    ];
                    let op = if matches!(layer, LayerSpec::MaxPool2d { .. }) {
                        "MaxPool"
                    } else {
                        // Our average pooling counts the padding in the divisor.
                        attrs.push(int("count_include_pad", 1));
                        "AveragePool"
                    };
                    node(op, &name, &[cur], &[o], attrs)
                }
                LayerSpec::Relu => node("Relu", &name, &[cur], &[o], vec![]),
                LayerSpec::Tanh => node("Tanh", &name, &[cur], &[o], vec![]),
                LayerSpec::Sigmoid => node("Sigmoid", &name, &[cur], &[o], vec![]),
                LayerSpec::Softmax => node("Softmax", &name, &[cur], &[o], vec![int("axis", -1)]),
                LayerSpec::LogSoftmax => {
                    node("LogSoftmax", &name, &[cur], &[o], vec![int("axis", -1)])
                }
                LayerSpec::Dropout { .. } => node("Identity", &name, &[cur], &[o], vec![]),
                LayerSpec::BatchNorm { eps, .. } => {
                    let names: Vec<String> = (0..4)
                        .map(|_| take(&mut initializer, false))
                        .collect::<Result<_>>()?;
                    let mut inputs = vec![cur];
                    inputs.extend(names.iter().map(String::as_str));
                    node(
                        "BatchNormalization",
                        &name,
                        &inputs,
                        &[o],
                        vec![float("epsilon", *eps as f32)],
                    )
                }
                LayerSpec::Flatten => node("Flatten", &name, &[cur], &[o], vec![int("axis", 1)]),
            };
            nodes.push(n);
            current = out;
        }
        let mut in_dims = vec![None];
        in_dims.extend(arch.input_shape.iter().map(|&d| Some(d)));
        let graph = GraphProto {
            name: "aisec".to_owned(),
            node: nodes,
            initializer,
            input: vec![value("input", &in_dims)],
            output: vec![value(&current, &[None, Some(arch.num_classes)])],
            ..GraphProto::default()
        };
        Ok(model_proto(graph))
    }

    /// Writes the network as an ONNX file (see [`Network::to_onnx_proto`]).
    pub fn to_onnx(&self, path: &Path) -> Result<()> {
        let bytes = self.to_onnx_proto()?.encode_to_vec();
        std::fs::write(path, bytes).map_err(|e| MlError::io(path, e))
    }
}

/// Writes any model proto to a file.
pub fn write_model(model: &ModelProto, path: &Path) -> Result<()> {
    std::fs::write(path, model.encode_to_vec()).map_err(|e| MlError::io(path, e))
}
