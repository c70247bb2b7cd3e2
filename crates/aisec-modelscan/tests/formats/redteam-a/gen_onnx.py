"""ONNX red-team fixtures (onnx==1.17.0, numpy). Appends rows to MANIFEST.tsv; run last.
Locations are only written; nothing is loaded."""

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS = []


def row(path, expected, cls, desc):
    ROWS.append((path, expected, cls, desc))


def ext(t, location, offset=None, length=None):
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for k, v in [("location", location), ("offset", offset), ("length", length)]:
        if v is not None:
            e = t.external_data.add()
            e.key, e.value = k, str(v)
    return t


def model(nodes, inits=(), sparse=(), functions=(), opsets=(("", 17),), value_info=()):
    g = helper.make_graph(list(nodes), "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
                          initializer=list(inits), sparse_initializer=list(sparse),
                          value_info=list(value_info))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets],
                          functions=list(functions), producer_name="pytorch",
                          producer_version="2.5.0")
    m.ir_version = 8
    return m


def save(rel, m, sidecars=None):
    full = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(m.SerializeToString())
    for name, data in (sidecars or {}).items():
        with open(os.path.join(os.path.dirname(full), name), "wb") as f:
            f.write(data)


w = numpy_helper.from_array(np.ones((4,), np.float32), "w")
add = helper.make_node("Add", ["x", "w"], ["y"])

# benign: what exporters write
save("benign/onnx/ext_dot_slash/model.onnx", model([add], [ext(w, "./model.onnx.data", 0, 16)]),
     {"model.onnx.data": b"\0" * 16})
row("benign/onnx/ext_dot_slash/model.onnx", "benign", "onnx-external-data",
    "external data at ./model.onnx.data with offset and length")
w2 = numpy_helper.from_array(np.ones((4,), np.float32), "w")
save("benign/onnx/ext_unicode/model.onnx", model([add], [ext(w2, "gewichte_ü.bin")]),
     {"gewichte_ü.bin": b"\0" * 16})
row("benign/onnx/ext_unicode/model.onnx", "benign", "onnx-external-data",
    "external data file with a non-ASCII name")
vi = helper.make_tensor_value_info("h", TensorProto.FLOAT, ["batch", 1 << 40])
mid = helper.make_node("Identity", ["x"], ["h"])
add2 = helper.make_node("Add", ["h", "w"], ["y"])
w3 = numpy_helper.from_array(np.ones((4,), np.float32), "w")
save("benign/onnx/value_info_big_symbolic.onnx", model([mid, add2], [w3], value_info=[vi]))
row("benign/onnx/value_info_big_symbolic.onnx", "benign", "onnx-shapes",
    "value_info declares a symbolic batch and a 2^40 dimension (a declaration, not storage)")
# torch dynamo exporter style: local functions in pkg.onnxscript.torch_lib domains
fn = helper.make_function("pkg.onnxscript.torch_lib", "aten_add", ["a", "b"], ["c"],
                          [helper.make_node("Add", ["a", "b"], ["c"])],
                          [helper.make_opsetid("", 17)])
call = helper.make_node("aten_add", ["x", "w"], ["y"], domain="pkg.onnxscript.torch_lib")
w4 = numpy_helper.from_array(np.ones((4,), np.float32), "w")
save("benign/onnx/dynamo_local_functions.onnx",
     model([call], [w4], functions=[fn],
           opsets=(("", 17), ("pkg.onnxscript.torch_lib", 1), ("pkg.onnxscript.torch_lib.common", 1))))
row("benign/onnx/dynamo_local_functions.onnx", "benign", "onnx-functions",
    "torch.onnx dynamo-style model calling a local function in pkg.onnxscript.torch_lib")

# malicious: external data in places an exporter never puts it
vals = ext(numpy_helper.from_array(np.ones((2,), np.float32), "sv"), "/etc/hostname")
idx = numpy_helper.from_array(np.array([0, 1], np.int64), "si")
sp = helper.make_sparse_tensor(vals, idx, [4])
const = helper.make_node("Constant", [], ["c"], sparse_value=sp)
w5 = numpy_helper.from_array(np.ones((4,), np.float32), "w")
save("malicious/onnx/ext_sparse_constant_attr.onnx", model([const, add], [w5]))
row("malicious/onnx/ext_sparse_constant_attr.onnx", "malicious", "onnx-external-data-escape",
    "Constant node sparse_value whose values live in /etc/hostname")
vals2 = ext(numpy_helper.from_array(np.ones((2,), np.float32), "w"), "../../../../etc/hostname")
idx2 = numpy_helper.from_array(np.array([0, 1], np.int64), "w_idx")
save("malicious/onnx/ext_sparse_initializer.onnx",
     model([add], sparse=[helper.make_sparse_tensor(vals2, idx2, [4])]))
row("malicious/onnx/ext_sparse_initializer.onnx", "malicious", "onnx-external-data-escape",
    "sparse initializer whose values climb to /etc/hostname")
lst = helper.make_attribute("tensors", [ext(numpy_helper.from_array(np.ones((4,), np.float32), "t"),
                                              "C:\\Windows\\win.ini")])
seq = helper.make_node("SequenceConstruct", ["x"], ["s"])
seq.attribute.extend([lst])
w6 = numpy_helper.from_array(np.ones((4,), np.float32), "w")
save("malicious/onnx/ext_tensors_list_attr.onnx", model([seq, add], [w6]))
row("malicious/onnx/ext_tensors_list_attr.onnx", "malicious", "onnx-external-data-escape",
    "a TENSORS attribute entry with external data at a Windows absolute path")
fn_bad = helper.make_function("pkg.onnxscript.torch_lib", "aten_add", ["a", "b"], ["c"],
                              [helper.make_node("Add", ["a", "b"], ["c"]),
                               helper.make_node("Exec", ["a"], ["d"], domain="evil.ops")],
                              [helper.make_opsetid("", 17), helper.make_opsetid("evil.ops", 1)])
call2 = helper.make_node("aten_add", ["x", "w"], ["y"], domain="pkg.onnxscript.torch_lib")
w7 = numpy_helper.from_array(np.ones((4,), np.float32), "w")
save("malicious/onnx/dynamo_function_custom_op.onnx",
     model([call2], [w7], functions=[fn_bad],
           opsets=(("", 17), ("pkg.onnxscript.torch_lib", 1), ("evil.ops", 1))))
row("malicious/onnx/dynamo_function_custom_op.onnx", "malicious", "onnx-custom-op",
    "dynamo-style local function whose body calls an op from an unknown domain")

with open(os.path.join(HERE, "MANIFEST.tsv"), "a") as f:
    for r in ROWS:
        f.write("\t".join(r) + "\n")
