"""Builds the Keras fixtures: benign models made by Keras itself, and inert malicious variants made
the way attackers make them (editing config.json / the model_config attribute by hand).

Run with the pinned requirements in a virtual environment outside the repository:
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install -r requirements.txt
    KERAS_BACKEND=jax /tmp/venv/bin/python gen_fixtures.py
Payloads are harmless (`echo aisec-fixture`, reading /etc/hostname), and nothing here loads or runs
a generated file: code objects are only marshalled.
"""

import base64
import copy
import io
import json
import marshal
import os
import zipfile

os.environ.setdefault("KERAS_BACKEND", "jax")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

import marshal_layouts as ml  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS = []


def row(path, expected, cls, desc):
    ROWS.append((path, expected, cls, desc))


def code_b64(fn_or_bytes):
    raw = fn_or_bytes if isinstance(fn_or_bytes, bytes) else marshal.dumps(fn_or_bytes.__code__)
    return base64.encodebytes(raw).decode("ascii")


def write(rel, data):
    p = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)


def keras_bytes(model):
    path = "/tmp/aisec-keras-fixture.keras"
    model.save(path)
    with open(path, "rb") as f:
        return f.read()


def rewrite_config(archive, edit):
    """A copy of a .keras archive whose config.json is edited by `edit(config) -> config`."""
    src = zipfile.ZipFile(io.BytesIO(archive))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "config.json":
                data = json.dumps(edit(json.loads(data))).encode()
            z.writestr(info.filename, data)
    return out.getvalue()


# ----- benign Keras 3 archives, made by Keras -------------------------------------------------

def small_sequential():
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(1)])
    m.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return m


def small_functional():
    i = keras.Input((8,), name="x")
    h = keras.layers.Dense(4, activation="tanh")(i)
    h = keras.layers.Dropout(0.1)(h)
    o = keras.layers.Dense(2, activation="softmax")(h)
    m = keras.Model(i, o)
    m.compile(optimizer=keras.optimizers.SGD(0.01), loss=keras.losses.CategoricalCrossentropy(),
              metrics=[keras.metrics.CategoricalAccuracy()])
    return m


def lambda_times2():
    return keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda x: x * 2, output_shape=(4,)),
                             keras.layers.Dense(1)])


def lambda_ops():
    return keras.Sequential([keras.Input((4,)),
                             keras.layers.Lambda(lambda x: keras.ops.mean(keras.ops.square(x), axis=-1,
                                                                          keepdims=True),
                                                 output_shape=(1,))])


def rnn_model():
    i = keras.Input((5, 3))
    h = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True))(i)
    h = keras.layers.TimeDistributed(keras.layers.Dense(2))(h)
    return keras.Model(i, h)


@keras.saving.register_keras_serializable(package="aisec_fixture")
class Scale(keras.layers.Layer):
    def __init__(self, factor=2.0, **kw):
        super().__init__(**kw)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def custom_layer_model():
    return keras.Sequential([keras.Input((4,)), Scale(3.0), keras.layers.Dense(1)])


BASE = keras_bytes(small_sequential())

benign = {
    "benign/sequential.keras": (BASE, "keras3-sequential", "Keras 3 Sequential model with compile config"),
    "benign/functional.keras": (keras_bytes(small_functional()), "keras3-functional",
                                "Keras 3 Functional model, SGD, loss and metric objects"),
    "benign/lambda_times2.keras": (keras_bytes(lambda_times2()), "keras3-lambda-math",
                                   "Lambda x*2 serialized by Keras 3 (low only)"),
    "benign/lambda_ops.keras": (keras_bytes(lambda_ops()), "keras3-lambda-math",
                                "Lambda using keras.ops mean/square (low only)"),
    "benign/rnn_wrappers.keras": (keras_bytes(rnn_model()), "keras3-wrappers",
                                  "Bidirectional LSTM and TimeDistributed Dense"),
    "benign/custom_layer.keras": (keras_bytes(custom_layer_model()), "keras3-custom-object",
                                  "registered custom layer aisec_fixture>Scale (low only)"),
}
for rel, (data, cls, desc) in benign.items():
    write(rel, data)
    row(rel, "benign", cls, desc)

# The same configs as standalone JSON (what model.to_json() writes).
write("benign/functional.json", json.dumps(json.loads(small_functional().to_json())).encode())
row("benign/functional.json", "benign", "keras3-json", "Keras 3 model.to_json() output")


# ----- malicious Keras 3 archives ---------------------------------------------------------------

PAYLOADS = {
    "os_system": lambda x: __import__("os").system("echo aisec-fixture") or x,
    "exec": lambda x: exec("import os; os.system('echo aisec-fixture')") or x,
    "eval_getattr": lambda x: getattr(__builtins__, "ev" + "al")("1") and x,
    "open_hostname": lambda x: open("/etc/hostname").read() and x,
    "subprocess": lambda x: __import__("subprocess").run(["echo", "aisec-fixture"]) and x,
    "helper_call": lambda x: fixture_helper.transform(x),  # noqa: F821 - never defined, never run
}


def lambda3(code, key="code"):
    cfg = {"code": code, "defaults": None, "closure": None} if key == "code" else {"value": [code, None, None]}
    return {"class_name": "__lambda__", "config": cfg}


def lambda_layer3(code, name="evil"):
    return {"module": "keras.layers", "class_name": "Lambda",
            "config": {"name": name, "trainable": True, "dtype": "float32", "function": lambda3(code),
                       "output_shape": [3], "arguments": {}},
            "registered_name": None}


def append_layer(layer):
    def edit(cfg):
        cfg = copy.deepcopy(cfg)
        cfg["config"]["layers"].append(layer)
        return cfg
    return edit


for name, fn in PAYLOADS.items():
    rel = f"malicious/lambda_{name}.keras"
    write(rel, rewrite_config(BASE, append_layer(lambda_layer3(code_b64(fn)))))
    row(rel, "malicious", "keras3-lambda", f"__lambda__ Lambda layer, payload {name}")

# Code objects in the layouts of other Python versions (hand-assembled).
for layout in ("py2", "py30", "py38", "py311"):
    raw = ml.code(layout, ["os", "system"], ["echo aisec-fixture"])
    rel = f"malicious/lambda_{layout}_layout.keras"
    write(rel, rewrite_config(BASE, append_layer(lambda_layer3(code_b64(raw)))))
    row(rel, "malicious", "keras3-lambda-pyver", f"os.system Lambda code in the {layout} code-object layout")
inner = ml.code("py38", ["os", "system"], ["echo aisec-fixture"], name="inner", use_refs=False)
rel = "malicious/lambda_py38_nested_function.keras"
write(rel, rewrite_config(BASE, append_layer(lambda_layer3(code_b64(ml.code("py38", ["helper"], [inner]))))))
row(rel, "malicious", "keras3-lambda-pyver", "3.8 layout lambda whose nested function calls os.system")

# Generic serializer form ({"value": [...]}) as the output_shape of an innocent Lambda.
layer = lambda_layer3(code_b64(lambda x: x))
layer["config"]["output_shape"] = lambda3(code_b64(PAYLOADS["os_system"]), key="value")
write("malicious/lambda_output_shape.keras", rewrite_config(BASE, append_layer(layer)))
row("malicious/lambda_output_shape.keras", "malicious", "keras3-lambda-output-shape",
    "output_shape is a __lambda__ calling os.system")

# Lambda hidden in wrappers and nested models.
hidden = lambda_layer3(code_b64(PAYLOADS["os_system"]), name="hidden")
wrapped = {"module": "keras.layers", "class_name": "TimeDistributed",
           "config": {"name": "td", "layer": {"module": "keras.layers", "class_name": "Bidirectional",
                                                "config": {"name": "bi", "layer": hidden,
                                                           "backward_layer": hidden}}},
           "registered_name": None}
write("malicious/lambda_in_wrappers.keras", rewrite_config(BASE, append_layer(wrapped)))
row("malicious/lambda_in_wrappers.keras", "malicious", "keras3-lambda-nested",
    "Lambda inside Bidirectional inside TimeDistributed")
inner_model = {"module": "keras", "class_name": "Sequential",
               "config": {"name": "inner", "layers": [{"module": "keras", "class_name": "Sequential",
                                                        "config": {"name": "inner2", "layers": [hidden]}}]}}
write("malicious/lambda_in_inner_model.keras", rewrite_config(BASE, append_layer(inner_model)))
row("malicious/lambda_in_inner_model.keras", "malicious", "keras3-lambda-nested",
    "Lambda two Sequential models deep")


# Module references (CVE-2025-1550 style).
def fn_ref(module, name):
    return {"module": module, "class_name": "function", "config": name, "registered_name": name}


def set_activation(ref):
    def edit(cfg):
        cfg = copy.deepcopy(cfg)
        cfg["config"]["layers"][1]["config"]["activation"] = ref
        return cfg
    return edit


def set_initializer(ref):
    def edit(cfg):
        cfg = copy.deepcopy(cfg)
        cfg["config"]["layers"][1]["config"]["kernel_initializer"] = ref
        return cfg
    return edit


def set_compile(key, ref):
    def edit(cfg):
        cfg = copy.deepcopy(cfg)
        cfg["compile_config"][key] = ref if key != "metrics" else [ref]
        return cfg
    return edit


refs = [
    ("ref_activation_os_system", set_activation(fn_ref("os", "system")), "activation os.system"),
    ("ref_activation_posix_system", set_activation(fn_ref("posix", "system")), "activation posix.system"),
    ("ref_initializer_subprocess_popen",
     set_initializer({"module": "subprocess", "class_name": "Popen",
                      "config": {"args": ["echo", "aisec-fixture"]}, "registered_name": None}),
     "kernel initializer subprocess.Popen class"),
    ("ref_loss_builtins_exec", set_compile("loss", fn_ref("builtins", "exec")), "compile loss builtins.exec"),
    ("ref_metric_builtins_eval", set_compile("metrics", fn_ref("builtins", "eval")), "compile metric builtins.eval"),
    ("ref_optimizer_importlib",
     set_compile("optimizer", {"module": "importlib", "class_name": "function", "config": "import_module",
                               "registered_name": None}), "optimizer importlib.import_module"),
    ("ref_unsafe_deserialization",
     set_activation(fn_ref("keras.config", "enable_unsafe_deserialization")),
     "keras.config.enable_unsafe_deserialization then a Lambda"),
    ("ref_get_file", set_initializer({"module": "keras.utils", "class_name": "function", "config": "get_file",
                                      "registered_name": None}), "keras.utils.get_file (CVE-2025-8747 style)"),
    ("ref_stdlib_webbrowser", set_activation(fn_ref("webbrowser", "open")), "activation webbrowser.open"),
    ("ref_stdlib_antigravity", set_activation(fn_ref("antigravity", "geohash")),
     "imports antigravity (opens a browser)"),
    ("ref_builtins_open", set_activation(fn_ref("builtins", "open")), "activation builtins.open"),
]
for name, edit, desc in refs:
    rel = f"malicious/{name}.keras"
    if name == "ref_unsafe_deserialization":
        data = rewrite_config(BASE, lambda c, e=edit: append_layer(lambda_layer3(code_b64(PAYLOADS["os_system"])))(e(c)))
    else:
        data = rewrite_config(BASE, edit)
    write(rel, data)
    row(rel, "malicious", "keras3-module-reference", desc)

# A malicious config.json on its own (as the archive member reaches the scanner).
write("malicious/config_os_system.json",
      json.dumps(set_activation(fn_ref("os", "system"))(json.loads(zipfile.ZipFile(io.BytesIO(BASE)).read("config.json")))).encode())
row("malicious/config_os_system.json", "malicious", "keras3-json", "bare config.json with an os.system activation")


# ----- legacy (tf.keras / Keras 2) configs ----------------------------------------------------

def legacy_lambda(function, ftype="lambda", module="__main__", name="lambda_1"):
    return {"class_name": "Lambda",
            "config": {"name": name, "trainable": True, "dtype": "float32", "function": function,
                       "function_type": ftype, "module": module, "output_shape": None,
                       "output_shape_type": "raw", "output_shape_module": None, "arguments": {}}}


def legacy_model(layers):
    return {"class_name": "Sequential",
            "config": {"name": "sequential", "layers": [
                {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "dtype": "float32",
                                                        "sparse": False, "ragged": False, "name": "input_1"}},
                {"class_name": "Dense", "config": {"name": "dense", "trainable": True, "units": 3,
                                                   "activation": "relu", "use_bias": True,
                                                   "kernel_initializer": {"class_name": "GlorotUniform",
                                                                          "config": {"seed": None}},
                                                   "bias_initializer": {"class_name": "Zeros", "config": {}}}},
                *layers]},
            "keras_version": "2.13.1", "backend": "tensorflow"}


TRAINING = {"loss": "mse", "metrics": ["mae"], "weighted_metrics": None, "loss_weights": None,
            "optimizer_config": {"class_name": "Adam", "config": {"name": "Adam", "learning_rate": 0.001}}}


def legacy_h5(rel, model_config, training=TRAINING):
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.attrs["model_config"] = json.dumps(model_config)
        f.attrs["training_config"] = json.dumps(training)
        f.attrs["keras_version"] = "2.13.1"
        f.attrs["backend"] = "tensorflow"
        w = f.create_group("model_weights")
        w.attrs["layer_names"] = np.array([b"dense"])
        d = w.create_group("dense").create_group("dense")
        d.create_dataset("kernel:0", data=np.ones((4, 3), dtype="float32"))
        d.create_dataset("bias:0", data=np.zeros((3,), dtype="float32"))
    write(rel, buf.getvalue())


def sampling_code():
    K = keras.backend  # noqa: N806 - only referenced by the marshalled code, never called

    def sampling(args):
        z_mean, z_log_var = args
        eps = K.random_normal(shape=(K.shape(z_mean)[0], 2))
        return z_mean + K.exp(0.5 * z_log_var) * eps
    return code_b64(sampling)


legacy_h5("benign/legacy_dense.h5", legacy_model([]))
row("benign/legacy_dense.h5", "benign", "legacy-h5", "tf.keras HDF5 model (needs the HDF5 reader)")
legacy_h5("benign/legacy_lambda_math.h5", legacy_model([legacy_lambda([sampling_code(), None, None])]))
row("benign/legacy_lambda_math.h5", "benign", "legacy-h5-lambda-math",
    "VAE sampling function as a legacy Lambda (needs the HDF5 reader)")
write("benign/legacy_model.json", json.dumps(legacy_model([legacy_lambda([sampling_code(), None, None])])).encode())
row("benign/legacy_model.json", "benign", "legacy-json", "model.to_json() of a tf.keras model with a math Lambda")

legacy_cases = {
    "legacy_lambda_os_system": legacy_model([legacy_lambda([code_b64(PAYLOADS["os_system"]), None, None])]),
    "legacy_lambda_string_code": legacy_model([legacy_lambda(code_b64(PAYLOADS["exec"]))]),
    "legacy_lambda_py38": legacy_model([legacy_lambda([code_b64(ml.code("py38", ["os", "system"],
                                                                          ["echo aisec-fixture"])), None, None])]),
    "legacy_function_os_system": legacy_model([legacy_lambda("system", ftype="function", module="os")]),
    "legacy_lambda_module_posix": legacy_model([legacy_lambda(
        code_b64(ml.code("py38", ["system"], ["echo aisec-fixture"])), module="posix")]),
    "legacy_output_shape_lambda": legacy_model([{
        "class_name": "Lambda",
        "config": {"name": "l", "function": "relu", "function_type": "function", "module": "keras.activations",
                   "output_shape": [code_b64(PAYLOADS["open_hostname"]), None, None],
                   "output_shape_type": "lambda", "output_shape_module": "__main__", "arguments": {}}}]),
    "legacy_lambda_in_bidirectional": legacy_model([{
        "class_name": "Bidirectional",
        "config": {"name": "bi", "layer": {"class_name": "RNN", "config": {"name": "rnn", "cell": {
            "class_name": "StackedRNNCells", "config": {"cells": [
                legacy_lambda([code_b64(PAYLOADS["subprocess"]), None, None])]}}}}}}]),
    "legacy_tfoplambda_write_file": legacy_model([{
        "class_name": "TFOpLambda", "config": {"name": "tf.io.write_file", "function": "io.write_file"}}]),
}
for name, cfg in legacy_cases.items():
    legacy_h5(f"malicious/{name}.h5", cfg)
    row(f"malicious/{name}.h5", "malicious", "legacy-h5", f"{name} in the model_config attribute (needs the HDF5 reader)")
    write(f"malicious/{name}.json", json.dumps(cfg).encode())
    row(f"malicious/{name}.json", "malicious", "legacy-json", f"{name} as model.to_json() output")

legacy_h5("malicious/legacy_training_config_ref.h5", legacy_model([]),
          training={**TRAINING, "loss": {"module": "os", "class_name": "function", "config": "system",
                                         "registered_name": None}})
row("malicious/legacy_training_config_ref.h5", "malicious", "legacy-h5",
    "training_config loss refers to os.system (needs the HDF5 reader)")

with open(os.path.join(HERE, "MANIFEST.tsv"), "w") as f:
    f.write("path\texpected\tclass\tdescription\n")
    for r in ROWS:
        f.write("\t".join(r) + "\n")
print(len(ROWS), "fixtures")
