#!/usr/bin/env python3
"""Builds the HDF5 fixtures: benign look-alikes of Keras `.h5` models and plain HDF5 data files, and
inert malicious variants per technique (external raw storage, external links, virtual datasets,
user blocks holding pickles, pickles in attributes, Lambda layers in `model_config`, corrupt
structures). Payloads are harmless (`echo aisec-fixture`, reading /etc/hostname).

Run with h5py and numpy installed (see requirements.txt):
    python3 gen_fixtures.py      # writes benign/, malicious/ and MANIFEST.tsv next to this file
"""

import base64
import json
import marshal
import os
import pickle
import shutil
import struct

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS = []


def path(kind, name):
    d = os.path.join(HERE, kind)
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, name)


def add(kind, name, cls, desc):
    ROWS.append((f"{kind}/{name}", kind, cls, desc))


# ----- Keras-style configs ------------------------------------------------------------------------

def dense(name, units, act="relu", inp=None):
    cfg = {"name": name, "trainable": True, "dtype": "float32", "units": units, "activation": act,
           "use_bias": True, "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
           "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None,
           "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
           "bias_constraint": None}
    if inp:
        cfg["batch_input_shape"] = [None, inp]
    return {"class_name": "Dense", "config": cfg}


def sequential_dense():
    return {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 8], "dtype": "float32",
                                                "sparse": False, "ragged": False, "name": "dense_input"}},
        dense("dense", 16, inp=8), dense("dense_1", 4, "softmax")]}}


def sequential_conv():
    return {"class_name": "Sequential", "config": {"name": "sequential_1", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 28, 28, 1], "dtype": "float32",
                                                "name": "conv2d_input"}},
        {"class_name": "Conv2D", "config": {"name": "conv2d", "trainable": True, "filters": 4,
                                            "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid",
                                            "activation": "relu", "use_bias": True}},
        {"class_name": "MaxPooling2D", "config": {"name": "max_pooling2d", "pool_size": [2, 2]}},
        {"class_name": "Flatten", "config": {"name": "flatten"}},
        dense("dense_2", 10, "softmax")]}}


def functional():
    return {"class_name": "Functional", "config": {"name": "model", "layers": [
        {"class_name": "InputLayer", "name": "input_1",
         "config": {"batch_input_shape": [None, 8], "dtype": "float32", "name": "input_1"}, "inbound_nodes": []},
        dict(dense("dense_3", 8), name="dense_3", inbound_nodes=[[["input_1", 0, 0, {}]]]),
        dict(dense("dense_4", 1, "sigmoid"), name="dense_4", inbound_nodes=[[["dense_3", 0, 0, {}]]])],
        "input_layers": [["input_1", 0, 0]], "output_layers": [["dense_4", 0, 0]]}}


TRAINING = {"loss": "categorical_crossentropy", "metrics": ["accuracy"], "weighted_metrics": None,
            "loss_weights": None, "optimizer_config": {"class_name": "Adam", "config": {
                "name": "Adam", "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07,
                "amsgrad": False}}}


def layer_weights(cfg):
    """(layer name, [(weight name, shape)]) as Keras 2 writes them."""
    out = []
    for layer in cfg["config"]["layers"]:
        name = layer["config"]["name"]
        cls = layer["class_name"]
        if cls == "Dense":
            units = layer["config"]["units"]
            out.append((name, [(f"{name}/kernel:0", (8, units)), (f"{name}/bias:0", (units,))]))
        elif cls == "Conv2D":
            out.append((name, [(f"{name}/kernel:0", (3, 3, 1, 4)), (f"{name}/bias:0", (4,))]))
        elif cls != "InputLayer":
            out.append((name, []))
    return out


def keras_h5(p, cfg, training=True, vlen=False, fixed=False, libver=None, weights_only=False, string_cfg=None):
    """Writes an HDF5 file laid out like Keras 2's `model.save('m.h5')`."""
    kw = {"libver": libver} if libver else {}
    with h5py.File(p, "w", **kw) as f:
        if not weights_only:
            text = string_cfg if string_cfg is not None else json.dumps(cfg)
            if vlen:
                f.attrs.create("model_config", text, dtype=h5py.string_dtype())
            elif fixed:  # h5py 2.x wrote bytes as fixed-length strings
                f.attrs["model_config"] = np.bytes_(text.encode("utf8"))
            else:
                f.attrs["model_config"] = text.encode("utf8")
            if training:
                f.attrs["training_config"] = json.dumps(TRAINING).encode("utf8")
        f.attrs["keras_version"] = b"2.13.1"
        f.attrs["backend"] = b"tensorflow"
        g = f if weights_only else f.create_group("model_weights")
        layers = layer_weights(cfg)
        g.attrs["layer_names"] = np.array([n.encode() for n, _ in layers])
        g.attrs["backend"] = b"tensorflow"
        g.attrs["keras_version"] = b"2.13.1"
        rng = np.random.default_rng(0)
        for name, ws in layers:
            lg = g.create_group(name)
            lg.attrs["weight_names"] = np.array([w.encode() for w, _ in ws], dtype="S")
            for wname, shape in ws:
                lg.create_dataset(wname, data=rng.standard_normal(shape).astype("float32"))
        if not weights_only and training:
            og = f.create_group("optimizer_weights")
            og.attrs["weight_names"] = np.array([b"Adam/iter:0"])
            og.create_dataset("Adam/iter:0", data=np.int64(10))


def lambda_cfg(src_code, wrapper=None, nested=False):
    code = marshal.dumps(src_code.__code__)
    lam = {"class_name": "Lambda", "config": {
        "name": "lambda", "trainable": True, "dtype": "float32",
        "function": [base64.b64encode(code).decode("ascii"), None, None],
        "function_type": "lambda", "module": "__main__", "output_shape": None,
        "output_shape_type": "raw", "output_shape_module": None, "arguments": {}}}
    if wrapper:
        lam = {"class_name": wrapper, "config": {"name": "wrapped", "layer": lam}}
    layers = [dense("dense", 8, inp=8), lam, dense("dense_1", 1)]
    inner = {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}
    if nested:
        return {"class_name": "Sequential", "config": {"name": "outer", "layers": [inner]}}
    return inner


# ----- raw-byte helpers ---------------------------------------------------------------------------

def patch(p, old, new, count=1):
    with open(p, "rb") as fh:
        b = fh.read()
    assert b.count(old) >= count, (p, old)
    b = b.replace(old, new, count)
    with open(p, "wb") as fh:
        fh.write(b)


def benign():
    keras_h5(path("benign", "keras_sequential_dense.h5"), sequential_dense())
    add("benign", "keras_sequential_dense.h5", "keras-h5", "Keras 2 Sequential Dense model saved as .h5")
    keras_h5(path("benign", "keras_sequential_conv.h5"), sequential_conv(), training=False, fixed=True)
    add("benign", "keras_sequential_conv.h5", "keras-h5", "Keras 2 Conv2D Sequential model, fixed-length model_config, no training config")
    keras_h5(path("benign", "keras_functional.h5"), functional())
    add("benign", "keras_functional.h5", "keras-h5", "Keras 2 Functional model")
    keras_h5(path("benign", "keras_functional_vlen.h5"), functional(), vlen=True)
    add("benign", "keras_functional_vlen.h5", "keras-h5", "model_config stored as a variable-length string")
    keras_h5(path("benign", "keras_latest.h5"), sequential_dense(), libver="latest")
    add("benign", "keras_latest.h5", "keras-h5", "Keras-style model written with libver='latest' (v3 superblock)")
    keras_h5(path("benign", "keras_weights_only.h5"), sequential_conv(), weights_only=True)
    add("benign", "keras_weights_only.h5", "keras-weights", "save_weights() layout: layer_names at the root")

    p = path("benign", "data_plain.h5")
    with h5py.File(p, "w") as f:
        f.create_dataset("x", data=np.arange(100, dtype="f8"))
        f.create_dataset("labels", data=np.arange(10, dtype="i4"), compression="gzip", chunks=(5,))
        f.create_dataset("empty", shape=(0,), dtype="f4")
        f.create_dataset("scalar", data=3.5)
        f["x"].attrs["units"] = "metres"
        f["x"].attrs["scale"] = np.float32(2.0)
        f.attrs["description"] = "a plain data file"
        f.attrs["tags"] = np.array(["a", "bb", "ccc"], dtype=h5py.string_dtype())
        f["soft"] = h5py.SoftLink("/x")
        f["alias"] = f["x"]
    add("benign", "data_plain.h5", "data", "datasets, gzip chunks, scalar, attrs, soft and hard links")

    for libver in ("earliest", "latest"):
        p = path("benign", f"many_groups_{libver}.h5")
        with h5py.File(p, "w", libver=libver) as f:
            for i in range(60):
                g = f.create_group(f"group_{i:03d}")
                g.create_dataset("w", data=np.full((2,), i, dtype="i2"))
                g.attrs["index"] = i
            f.create_group("big").attrs["names"] = np.array([f"n{i}".encode() for i in range(300)])
        add("benign", f"many_groups_{libver}.h5", "data", f"60 groups (dense link storage with libver={libver})")

    p = path("benign", "track_order.h5")
    with h5py.File(p, "w", track_order=True) as f:
        for i in range(20):
            f.create_dataset(f"d{i}", data=np.zeros(3))
            f.attrs[f"a{i}"] = i
    add("benign", "track_order.h5", "data", "track_order=True: link/attribute info with creation order, dense")

    p = path("benign", "dense_attrs_latest.h5")
    with h5py.File(p, "w", libver="latest") as f:
        d = f.create_dataset("d", data=np.zeros(4))
        d.attrs["big"] = np.zeros(20000, dtype="f8")  # > 64 KiB: dense attribute storage, huge object
        d.attrs["note"] = "x" * 100
        for i in range(12):
            f.attrs[f"attr{i}"] = f"value {i}"
    add("benign", "dense_attrs_latest.h5", "data", "attribute > 64 KiB and many attributes (dense attribute storage)")

    p = path("benign", "userblock_zero.h5")
    with h5py.File(p, "w", userblock_size=512) as f:
        f.create_dataset("x", data=np.arange(4))
    add("benign", "userblock_zero.h5", "data", "512-byte user block left empty")

    p = path("benign", "userblock_text.h5")
    with h5py.File(p, "w", userblock_size=1024) as f:
        f.create_dataset("x", data=np.arange(4))
    with open(p, "r+b") as fh:
        fh.write(b"Created by the experiment logger, run 42.\n")
    add("benign", "userblock_text.h5", "data", "user block holding a short text note (reported low)")

    p = path("benign", "committed_type.h5")
    with h5py.File(p, "w") as f:
        f["str_t"] = np.dtype("S10")
        f.attrs.create("label", np.bytes_("hello"), dtype=f["str_t"])
        f.create_dataset("compound", data=np.zeros(3, dtype=[("a", "i4"), ("b", "f8")]))
        f.attrs["vlen_ints"] = np.array([1, 2, 3], dtype="i8")
    add("benign", "committed_type.h5", "data", "committed datatype used by an attribute, compound dataset")

    p = path("benign", "vds_same_file.h5")
    with h5py.File(p, "w", libver="latest") as f:
        f.create_dataset("src", data=np.arange(4, dtype="f4"))
        layout = h5py.VirtualLayout(shape=(4,), dtype="f4")
        layout[:] = h5py.VirtualSource(".", "src", shape=(4,))
        f.create_virtual_dataset("view", layout)
    add("benign", "vds_same_file.h5", "data", "virtual dataset over a dataset of the same file (low)")


def malicious():
    # External raw storage.
    for name, files in [
        ("external_etc_passwd.h5", [("/etc/passwd", 0, 4096)]),
        ("external_relative.h5", [("../../../../etc/hostname", 0, 64)]),
        ("external_sibling.h5", [("weights.bin", 0, 64)]),
        ("external_multi.h5", [("a.bin", 0, 16), ("/etc/hostname", 0, 16)]),
    ]:
        p = path("malicious", name)
        total = sum(s for _, _, s in files)
        with h5py.File(p, "w") as f:
            f.attrs["model_config"] = json.dumps(sequential_dense()).encode()
            g = f.create_group("model_weights/dense")
            g.create_dataset("dense/kernel:0", shape=(total,), dtype="u1", external=files)
        add("malicious", name, "external-storage", f"dataset raw data in external files {files}")

    p = path("malicious", "external_storage_latest.h5")
    with h5py.File(p, "w", libver="latest") as f:
        f.create_dataset("w", shape=(64,), dtype="u1", external=[("/etc/hostname", 0, 64)])
    add("malicious", "external_storage_latest.h5", "external-storage", "external storage, v2 object headers")

    # External links.
    p = path("malicious", "external_link.h5")
    with h5py.File(p, "w") as f:
        f.attrs["model_config"] = json.dumps(sequential_dense()).encode()
        f["model_weights"] = h5py.ExternalLink("/tmp/attacker.h5", "/model_weights")
    add("malicious", "external_link.h5", "external-link", "model_weights is an external link to /tmp/attacker.h5")
    p = path("malicious", "external_link_latest.h5")
    with h5py.File(p, "w", libver="latest") as f:
        g = f.create_group("deep/er")
        for i in range(10):
            g.create_dataset(f"d{i}", data=np.zeros(2))
        g["evil"] = h5py.ExternalLink("../../secret.h5", "/data")
    add("malicious", "external_link_latest.h5", "external-link", "external link in a dense (libver=latest) group")

    # Virtual datasets over another file.
    p = path("malicious", "vds_other_file.h5")
    with h5py.File(p, "w", libver="latest") as f:
        layout = h5py.VirtualLayout(shape=(4,), dtype="f4")
        layout[:] = h5py.VirtualSource("/etc/secret_weights.h5", "data", shape=(4,))
        f.create_virtual_dataset("kernel", layout, fillvalue=0)
    add("malicious", "vds_other_file.h5", "virtual-dataset", "virtual dataset sourcing /etc/secret_weights.h5")
    p = path("malicious", "vds_mixed.h5")
    with h5py.File(p, "w", libver="latest") as f:
        f.create_dataset("src", data=np.arange(4, dtype="f4"))
        layout = h5py.VirtualLayout(shape=(8,), dtype="f4")
        layout[0:4] = h5py.VirtualSource(".", "src", shape=(4,))
        layout[4:8] = h5py.VirtualSource("../other.h5", "x", shape=(4,))
        f.create_virtual_dataset("view", layout)
    add("malicious", "vds_mixed.h5", "virtual-dataset", "VDS: first source is the file itself, second another file")

    # User block holding a pickle.
    class Cmd:
        def __reduce__(self):
            return (os.system, ("echo aisec-fixture",))

    payload = pickle.dumps(Cmd(), protocol=4)
    for size, name in [(512, "userblock_pickle.h5"), (4096, "userblock_pickle_4k.h5")]:
        p = path("malicious", name)
        with h5py.File(p, "w", userblock_size=size) as f:
            f.attrs["model_config"] = json.dumps(sequential_dense()).encode()
            f.create_dataset("x", data=np.arange(4))
        with open(p, "r+b") as fh:
            fh.write(payload)
        add("malicious", name, "user-block", f"{size}-byte user block holds a pickle calling os.system")

    # A zip (PyTorch-style archive holding the pickle) in a 4 KiB user block.
    import io
    import zipfile
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("archive/data.pkl", payload)
    assert len(zbuf.getvalue()) < 4096
    p = path("malicious", "userblock_zip.h5")
    with h5py.File(p, "w", userblock_size=4096) as f:
        f.create_dataset("x", data=np.arange(4))
    with open(p, "r+b") as fh:
        fh.write(zbuf.getvalue())
    add("malicious", "userblock_zip.h5", "user-block", "4 KiB user block holds a zip whose pickle calls os.system")

    # Pickle appended past the end of file.
    p = path("malicious", "trailing_pickle.h5")
    with h5py.File(p, "w") as f:
        f.create_dataset("x", data=np.arange(4))
    with open(p, "ab") as fh:
        fh.write(payload)
    add("malicious", "trailing_pickle.h5", "trailing-data", "pickle appended after the HDF5 end of file")

    # Pickles in attributes.
    p = path("malicious", "attr_pickle_void.h5")
    with h5py.File(p, "w") as f:
        f.create_dataset("x", data=np.arange(4))
        f["x"].attrs["state"] = np.void(payload)
    add("malicious", "attr_pickle_void.h5", "attribute-pickle", "opaque attribute holding a pickle")
    p = path("malicious", "attr_pickle_bytes.h5")
    with h5py.File(p, "w", libver="latest") as f:
        f.attrs["optimizer_state"] = np.frombuffer(payload, dtype="u1")
        f.attrs.create("meta", payload, dtype=h5py.vlen_dtype(np.uint8)) if False else None
    add("malicious", "attr_pickle_bytes.h5", "attribute-pickle", "uint8 array attribute holding a pickle")
    p = path("malicious", "attr_pickle_vlen.h5")
    with h5py.File(p, "w") as f:
        dt = h5py.vlen_dtype(np.uint8)
        a = np.empty(1, dtype=object)
        a[0] = np.frombuffer(payload, dtype="u1")
        f.attrs.create("blob", a, dtype=dt)
    add("malicious", "attr_pickle_vlen.h5", "attribute-pickle", "variable-length uint8 attribute holding a pickle")
    p = path("malicious", "attr_pickle_string.h5")
    with h5py.File(p, "w") as f:
        f.attrs["custom_objects"] = np.bytes_(payload)
    add("malicious", "attr_pickle_string.h5", "attribute-pickle", "fixed-length string attribute holding a pickle")

    p = path("malicious", "attr_pickle_dense.h5")
    with h5py.File(p, "w", libver="latest") as f:
        d = f.create_dataset("model_weights/dense/kernel", data=np.zeros(4, dtype="f4"))
        for i in range(10):
            d.attrs[f"meta{i}"] = i
        d.attrs["custom"] = np.void(payload)
    add("malicious", "attr_pickle_dense.h5", "attribute-pickle", "pickle in an attribute kept in dense storage")

    # Lambda layers (flagged by the Keras analyser, which reads the model_config handed over).
    def evil(x):
        return __import__("os").system("echo aisec-fixture") or x

    for name, kw, extra in [
        ("keras_lambda.h5", {}, {}),
        ("keras_lambda_vlen.h5", {}, {"vlen": True}),
        ("keras_lambda_fixed.h5", {}, {"fixed": True}),
        ("keras_lambda_timedistributed.h5", {"wrapper": "TimeDistributed"}, {}),
        ("keras_lambda_nested.h5", {"nested": True}, {"libver": "latest"}),
    ]:
        p = path("malicious", name)
        keras_h5(p, lambda_cfg(evil, **kw), **extra)
        add("malicious", name, "keras-lambda", f"Lambda layer with marshalled code calling os.system {kw} {extra}")

    # Structural corruption.
    base = path("malicious", "corrupt_base.tmp")
    keras_h5(base, sequential_dense())
    with open(base, "rb") as fh:
        good = fh.read()
    os.remove(base)

    def write(name, data, desc):
        with open(path("malicious", name), "wb") as fh:
            fh.write(data)
        add("malicious", name, "corrupt", desc)

    # Root object header address (superblock v0: in the root symbol table entry at 56, after its name offset) past EOF.
    b = bytearray(good)
    struct.pack_into("<Q", b, 64, len(good) * 4)
    write("corrupt_root_past_eof.h5", bytes(b), "root object header address past the end of the file")
    # The local heap of the root group: data segment pointed past EOF.
    b = bytearray(good)
    i = b.find(b"HEAP")
    struct.pack_into("<Q", b, i + 24, 0x7FFF_FFFF_0000)
    write("corrupt_heap_past_eof.h5", bytes(b), "local heap data segment address past EOF")
    # A v1 B-tree node's first child pointing back at the node: a cycle.
    b = bytearray(good)
    i = b.find(b"TREE")
    b[i + 5] = 1  # level 1: children are B-tree nodes
    struct.pack_into("<Q", b, i + 8 + 16 + 8, i)
    write("corrupt_btree_cycle.h5", bytes(b), "group B-tree node whose child is itself (loop)")
    # The model_config attribute (a vlen string, as h5py 3 stores bytes) claims 2 GiB of heap data.
    b = bytearray(good)
    i = b.find(b"model_config\x00")
    value = i + 16 + 24 + 8  # v1 attribute: name, datatype, dataspace, each padded to 8
    struct.pack_into("<I", b, value, 0x7FFF_FFFF)
    write("corrupt_attr_size.h5", bytes(b), "model_config vlen string claims 2 GiB in a small heap object")
    # Object header message size larger than the header.
    b = bytearray(good)
    i = b.find(b"model_config\x00")
    struct.pack_into("<H", b, i - 8 - 8 + 2, 0xFFF8)
    write("corrupt_message_size.h5", bytes(b), "attribute message size runs past its object header")
    # Superblock v3 file with the root object header's continuation looping to itself.
    p2 = path("malicious", "corrupt_tmp.tmp")
    with h5py.File(p2, "w", libver="latest") as f:
        f.create_dataset("d", data=np.zeros(4))
        for i in range(6):
            f.attrs[f"a{i:02d}"] = np.bytes_(b"x" * 200)  # the root header grows: a continuation chunk
    with open(p2, "rb") as fh:
        b = bytearray(fh.read())
    os.remove(p2)
    ochk = b.find(b"OCHK")
    assert ochk > 0
    # The continuation message: type 0x10 in a v2 header: find its body (address == ochk).
    body = b.find(struct.pack("<Q", ochk))
    assert body > 0
    struct.pack_into("<Q", b, body, b.find(b"OHDR"))
    write("corrupt_continuation_loop.h5", bytes(b), "continuation message points back at the object header")
    # Truncated to half: structures past EOF.
    write("corrupt_truncated.h5", good[: len(good) // 2], "file cut in half: addresses past the end")


def main():
    for kind in ("benign", "malicious"):
        shutil.rmtree(os.path.join(HERE, kind), ignore_errors=True)
    benign()
    malicious()
    with open(os.path.join(HERE, "MANIFEST.tsv"), "w") as fh:
        fh.write("path\texpected\tclass\tdescription\n")
        for p, kind, cls, desc in ROWS:
            fh.write(f"{p}\t{kind}\t{cls}\t{desc}\n")


if __name__ == "__main__":
    main()
