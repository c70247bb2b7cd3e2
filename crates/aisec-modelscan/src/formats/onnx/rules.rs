//! The ONNX rules (MS500–MS549): their documentation and default severities.

use aisec_core::Severity;

use crate::rules::Rule;

const ATLAS_UNSAFE_ARTIFACT: &[&str] = &["AML.T0011.000", "AML.T0010.003"];
const ATLAS_SUPPLY_CHAIN: &[&str] = &["AML.T0010.003"];
const ONNX_IR: &str = "https://onnx.ai/onnx/repo-docs/IR.html";
const EXTERNAL_DATA_REFS: &[&str] = &[
    "https://onnx.ai/onnx/repo-docs/ExternalData.html",
    "https://nvd.nist.gov/vuln/detail/CVE-2022-25882",
    "https://nvd.nist.gov/vuln/detail/CVE-2024-27318",
    "https://cwe.mitre.org/data/definitions/22.html",
];
const CUSTOM_OP_REFS: &[&str] = &[
    "https://onnxruntime.ai/docs/reference/operators/add-custom-op.html",
    "https://onnxruntime.ai/docs/reference/operators/ContribOperators.html",
    ONNX_IR,
];
const EXHAUSTION_REFS: &[&str] = &[ONNX_IR, "https://cwe.mitre.org/data/definitions/789.html"];
const REMEDIATE_EXTERNAL: &str = "Do not load the model. External data must be a plain file next to the model, named \
by a relative path without `..`; re-export the model (`onnx.save_model(..., save_as_external_data=True)`) from a \
trusted source.";

/// The rules, in id order.
pub(crate) const RULES: &[Rule] = &[
    Rule {
        id: "MS500",
        name: "onnx-malformed",
        title: "ONNX model is not a well-formed protobuf message",
        severity: Severity::Medium,
        what: "A field of the `ModelProto` (or of a graph, node, tensor or function inside it) is truncated, has a \
broken varint, an invalid field number or an undefined wire type. What was read before the break is reported; the \
model is marked not analysed.",
        why: "Protobuf parsers reject the whole message, so the file does not load as it is; a file that is ONNX up \
to a deliberate break is also a way to hide content from scanners that give up on the first error.",
        example: "a model whose graph field claims 10 MB but the file ends after 2 KB",
        remediation: "Re-fetch the model from its source; treat a file that was edited to break its structure as tampered.",
        atlas: ATLAS_SUPPLY_CHAIN,
        cwe: &["CWE-20"],
        references: &[ONNX_IR, "https://protobuf.dev/programming-guides/encoding/"],
    },
    Rule {
        id: "MS510",
        name: "onnx-external-data-escape",
        title: "ONNX external data is read from outside the model directory",
        severity: Severity::High,
        what: "A tensor's `external_data` `location` that is an absolute path (POSIX, Windows drive or UNC), contains \
a `..` component or a NUL byte, or (for a file on disk) resolves, through symbolic links, to a file outside the \
model's directory.",
        why: "Loaders join the location to the model's directory and read the bytes into the tensor: any file the \
loading user can read (keys, `/etc/passwd`, cloud credentials) becomes model weights, and can leak through the \
model's outputs or through a re-saved copy of the model.",
        example: "an initializer with `data_location: EXTERNAL` and `external_data { key: \"location\" value: \
\"../../../home/user/.ssh/id_rsa\" }`",
        remediation: REMEDIATE_EXTERNAL,
        atlas: ATLAS_UNSAFE_ARTIFACT,
        cwe: &["CWE-22", "CWE-59"],
        references: EXTERNAL_DATA_REFS,
    },
    Rule {
        id: "MS511",
        name: "onnx-external-data-special-file",
        title: "ONNX external data names a device, FIFO or other non-regular file",
        severity: Severity::High,
        what: "The external data location, on disk, is (or links to) a character or block device, a FIFO, a socket \
or a directory rather than a regular file.",
        why: "Reading `/dev/zero` or `/dev/urandom` as weights never ends or fills memory; a FIFO blocks the loader \
until someone writes to it. A model has no reason to keep weights in anything but a plain file.",
        example: "`model.onnx_data` is a symbolic link to `/dev/zero`",
        remediation: REMEDIATE_EXTERNAL,
        atlas: ATLAS_UNSAFE_ARTIFACT,
        cwe: &["CWE-67", "CWE-400"],
        references: EXTERNAL_DATA_REFS,
    },
    Rule {
        id: "MS512",
        name: "onnx-external-data-out-of-range",
        title: "ONNX external data offset or length lies past the end of its file",
        severity: Severity::High,
        what: "A tensor's external `offset`, or `offset + length`, lies beyond the size of the external file, or the \
tensor declares far more bytes than the external file holds.",
        why: "The model cannot have been written this way by an exporter; readers that map or seek blindly read \
past the data, and the declared size makes a loader allocate memory the file never fills.",
        example: "`offset: 0, length: 1099511627776` against a 4 KB `weights.bin`",
        remediation: "Do not load the model; re-export it with its external data from a trusted source.",
        atlas: ATLAS_SUPPLY_CHAIN,
        cwe: &["CWE-125", "CWE-789"],
        references: EXTERNAL_DATA_REFS,
    },
    Rule {
        id: "MS513",
        name: "onnx-external-data-missing",
        title: "ONNX external data file is missing",
        severity: Severity::Info,
        what: "A tensor's external data location names a file that does not exist next to the model (checked only \
for a model file on disk; archive members are checked by name only).",
        why: "The model does not load without it; a file placed there later is read as weights unchecked.",
        example: "`location: model.onnx_data` with no such file beside `model.onnx`",
        remediation: "Fetch the external data file with the model and scan both together.",
        atlas: ATLAS_SUPPLY_CHAIN,
        cwe: &["CWE-20"],
        references: EXTERNAL_DATA_REFS,
    },
    Rule {
        id: "MS514",
        name: "onnx-external-data-malformed",
        title: "ONNX external data entry is malformed",
        severity: Severity::Medium,
        what: "An external tensor without a `location`, with an `offset` or `length` that is not a non-negative \
decimal integer, or with a `length` that disagrees with the tensor's declared size.",
        why: "Exporters write these entries mechanically; a malformed entry means a hand-edited file, and loaders \
differ in how they read it.",
        example: "`external_data { key: \"offset\" value: \"-4096\" }`",
        remediation: "Re-export the model from a trusted source.",
        atlas: ATLAS_SUPPLY_CHAIN,
        cwe: &["CWE-20"],
        references: EXTERNAL_DATA_REFS,
    },
    Rule {
        id: "MS520",
        name: "onnx-custom-op-domain",
        title: "ONNX model uses operators from an unknown domain",
        severity: Severity::High,
        what: "Nodes (in the main graph, a control-flow subgraph, a training graph or a model-local function) whose \
operator domain is not a standard ONNX domain, not ONNX Runtime's built-in contrib domain, not a well-known operator \
library and not defined by a model-local function. The evidence lists the operator types per domain. A domain that \
is only declared in `opset_import` and used by no node is reported at low severity.",
        why: "Such operators run only after a native custom-operator library is registered with the runtime \
(`SessionOptions.register_custom_ops_library`), so the model comes with, or asks for, a shared library: native code \
that runs with the loader's privileges as soon as it is registered.",
        example: "a node `op_type: \"Run\" domain: \"com.evil\"` and `opset_import { domain: \"com.evil\" version: 1 }`",
        remediation: "Find out which library implements the domain and where it comes from; load only libraries \
built from source you trust, in an isolated environment.",
        atlas: ATLAS_UNSAFE_ARTIFACT,
        cwe: &["CWE-829", "CWE-94"],
        references: CUSTOM_OP_REFS,
    },
    Rule {
        id: "MS521",
        name: "onnx-op-library-domain",
        title: "ONNX model uses operators of a known third-party operator library",
        severity: Severity::Low,
        what: "Nodes in a domain implemented by a well-known, separately distributed operator library: ONNX Runtime \
Extensions (`ai.onnx.contrib`), PyTorch's ATen fallback (`org.pytorch.aten`), OpenVINO (`org.openvinotoolkit`), \
TensorRT plugins (`trt.plugins`), MMDeploy (`mmdeploy`).",
        why: "The model needs that library's native code to run. The library is a known project, not something the \
model chooses, but it must come from a trusted build.",
        example: "a tokenizer model with `op_type: \"GPT2Tokenizer\" domain: \"ai.onnx.contrib\"`",
        remediation: "Install the operator library from its publisher; never a copy shipped with the model.",
        atlas: ATLAS_SUPPLY_CHAIN,
        cwe: &["CWE-829"],
        references: CUSTOM_OP_REFS,
    },
    Rule {
        id: "MS522",
        name: "onnx-runtime-contrib-ops",
        title: "ONNX model uses ONNX Runtime contrib operators",
        severity: Severity::Info,
        what: "Nodes in the domains whose operators are built into ONNX Runtime: `com.microsoft`, \
`com.microsoft.nchwc`, `com.microsoft.experimental`, `com.microsoft.mlfeaturizers`, `com.microsoft.dml`, \
`com.ms.internal.nhwc` (exact names; other `com.microsoft.*` domains are custom). Common in optimised transformer \
exports.",
        why: "They need no extra library in ONNX Runtime, but tie the model to that runtime; listed for inventory.",
        example: "`op_type: \"Attention\" domain: \"com.microsoft\"`",
        remediation: "None needed.",
        atlas: ATLAS_SUPPLY_CHAIN,
        cwe: &[],
        references: CUSTOM_OP_REFS,
    },
    Rule {
        id: "MS523",
        name: "onnx-python-op",
        title: "ONNX model calls a Python operator",
        severity: Severity::Medium,
        what: "A `com.microsoft` `PythonOp` or `PythonOpGrad` node: ONNX Runtime training builds run a Python \
function (named by the node's attributes) for it.",
        why: "Exported inference models do not contain these nodes; they hand control to Python code in the \
loading process.",
        example: "`op_type: \"PythonOp\" domain: \"com.microsoft\"` with `func_name: \"mymodule.Fn\"`",
        remediation: "Check the named function; do not load the model in a process that registers functions you do not trust.",
        atlas: ATLAS_UNSAFE_ARTIFACT,
        cwe: &["CWE-94"],
        references: CUSTOM_OP_REFS,
    },
    Rule {
        id: "MS524",
        name: "onnx-unknown-standard-op",
        title: "ONNX model uses operators the standard domain does not define",
        severity: Severity::High,
        what: "Nodes in a standard domain (`\"\"`/`ai.onnx`, `ai.onnx.ml`, `ai.onnx.preview`) whose operator type no \
version of the ONNX standard defines (checked against the schemas of `onnx` 1.23, plus the experimental operators of \
the first opsets and ONNX Runtime's inserted copy operators), and that no model-local function defines.",
        why: "Runtimes let a custom-operator library register operators in the default domain too; an unknown name \
there hides the need for native code from checks that only look at domains.",
        example: "`op_type: \"Exec\" domain: \"\"`",
        remediation: "Find out which library implements the operator; load only libraries built from source you \
trust, in an isolated environment.",
        atlas: ATLAS_UNSAFE_ARTIFACT,
        cwe: &["CWE-829", "CWE-94"],
        references: CUSTOM_OP_REFS,
    },
    Rule {
        id: "MS530",
        name: "onnx-local-functions",
        title: "ONNX model defines model-local functions",
        severity: Severity::Low,
        what: "`FunctionProto` entries in the model: operators defined inside the file by a body of other nodes. \
Their bodies are analysed like graphs (custom domains and tensors inside them are reported by the other rules).",
        why: "Functions are expanded by the runtime and can call further functions; they are how a model hides \
operator use one level deeper. Exporters (PyTorch's dynamo exporter, onnxscript) write them routinely.",
        example: "a function `pkg.custom:Gelu` whose body calls `Erf`, `Mul`, `Add`",
        remediation: "None needed when the functions come from a known exporter.",
        atlas: ATLAS_SUPPLY_CHAIN,
        cwe: &[],
        references: &[ONNX_IR],
    },
    Rule {
        id: "MS531",
        name: "onnx-recursive-function",
        title: "ONNX model-local functions call each other in a cycle",
        severity: Severity::High,
        what: "A model-local function that calls itself, directly or through other local functions.",
        why: "Runtimes inline function bodies; a cycle makes the expansion recurse until the loader's stack or \
memory runs out: a certain loader crash.",
        example: "function `x:F` whose body contains a node `op_type: \"F\" domain: \"x\"`",
        remediation: "Do not load the model.",
        atlas: ATLAS_SUPPLY_CHAIN,
        cwe: &["CWE-674"],
        references: &[ONNX_IR, "https://cwe.mitre.org/data/definitions/674.html"],
    },
    Rule {
        id: "MS540",
        name: "onnx-tensor-size-exhaustion",
        title: "ONNX tensor declares an absurd or invalid size",
        severity: Severity::High,
        what: "A tensor (initializer, sparse initializer, attribute value, function default) whose dimensions \
are negative, whose element count times element size overflows 64 bits, that declares more than 64 GiB, or that \
declares at least 1 GiB while storing far fewer bytes. Sparse tensors are measured at their dense size, which \
runtimes materialise when they load them.",
        why: "Loaders allocate a tensor's declared size before they copy its data: a few bytes of dims make a \
loader allocate terabytes, and an overflowing size can make it allocate too little and write past the buffer.",
        example: "an initializer with `dims: [1099511627776, 1099511627776]`, `data_type: FLOAT` and no data",
        remediation: "Do not load the model.",
        atlas: ATLAS_SUPPLY_CHAIN,
        cwe: &["CWE-789", "CWE-190"],
        references: EXHAUSTION_REFS,
    },
    Rule {
        id: "MS541",
        name: "onnx-tensor-data-mismatch",
        title: "ONNX tensor's stored data does not match its declared size",
        severity: Severity::Medium,
        what: "A tensor whose `raw_data` holds a different number of bytes than its dimensions and data type \
declare, or that declares elements but stores no data at all.",
        why: "Exporters always write matching sizes; a mismatch means a hand-edited file, and loaders either reject \
it or read past the stored bytes.",
        example: "`dims: [1000]`, `data_type: FLOAT`, `raw_data` of 16 bytes",
        remediation: "Re-export the model from a trusted source.",
        atlas: ATLAS_SUPPLY_CHAIN,
        cwe: &["CWE-130"],
        references: EXHAUSTION_REFS,
    },
    Rule {
        id: "MS542",
        name: "onnx-graph-too-large",
        title: "ONNX model has an absurd number of nodes or tensors",
        severity: Severity::High,
        what: "More than two million nodes, or more than one million tensors, across all graphs and functions.",
        why: "Each node and tensor becomes an object in the runtime's graph; counts no real model reaches exhaust \
the loader's memory and time.",
        example: "three million `Identity` nodes of a few bytes each",
        remediation: "Do not load the model.",
        atlas: ATLAS_SUPPLY_CHAIN,
        cwe: &["CWE-400"],
        references: EXHAUSTION_REFS,
    },
    Rule {
        id: "MS543",
        name: "onnx-nesting-too-deep",
        title: "ONNX subgraphs or types are nested absurdly deep",
        severity: Severity::High,
        what: "Control-flow subgraphs (`If`, `Loop`, `Scan` attributes) nested more than 32 levels deep, or type \
descriptions (sequence of sequence of ...) nested more than 32 levels. Nothing below that depth is analysed.",
        why: "Loaders, checkers and shape inference recurse once per level; deep nesting overflows their stacks.",
        example: "an `If` whose `then_branch` holds an `If` whose `then_branch` holds ... 1,000 times",
        remediation: "Do not load the model.",
        atlas: ATLAS_SUPPLY_CHAIN,
        cwe: &["CWE-674"],
        references: EXHAUSTION_REFS,
    },
];
