"""Real TensorFlow / Keras red-team fixtures (tensorflow==2.21.0, keras==3.15.1, tf_keras==2.21.0):
benign models saved by the libraries themselves, and malicious ones whose dangerous parts are
traced into the graph by the libraries (no hand editing). Payloads are inert (reading
/etc/hostname; an `echo aisec-fixture` branch that is never taken). Appends rows to MANIFEST.tsv;
run after gen_fixtures.py and gen_h5.py."""

import os
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS = []


def out(rel):
    p = os.path.join(HERE, rel)
    if os.path.isdir(p):
        shutil.rmtree(p)
    elif os.path.exists(p):
        os.remove(p)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def row(path, expected, cls, desc):
    ROWS.append((path, expected, cls, desc))


def keep_pb_only(d):
    """Drops the variables and fingerprint, keeping the small graph files the scanner reads."""
    for name in os.listdir(d):
        if name not in ("saved_model.pb", "keras_metadata.pb"):
            p = os.path.join(d, name)
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)


# ----- benign: Keras 3 -----
inp = keras.Input((8,))
x = keras.layers.Normalization()(inp)
x = keras.layers.Dense(4, activation="gelu")(x)
x = keras.layers.LayerNormalization()(x)
x = keras.layers.Dropout(0.1)(x)
x = keras.layers.Lambda(lambda t: keras.ops.clip(t * 0.5, -1.0, 1.0))(x)
m3 = keras.Model(inp, keras.layers.Dense(2, activation="softmax")(x))
m3.compile(optimizer="adamw", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
m3.save(out("benign/tf/keras3_functional.h5"))
row("benign/tf/keras3_functional.h5", "benign", "keras3-h5",
    "Keras 3 save(.h5): Normalization, gelu, LayerNorm, keras.ops Lambda, compiled")
seq_in = keras.Input((6, 3))
s = keras.layers.GRU(4, return_sequences=True)(seq_in)
s = keras.layers.MultiHeadAttention(num_heads=2, key_dim=2)(s, s)
s = keras.layers.GlobalAveragePooling1D()(s)
m3b = keras.Model(seq_in, keras.layers.Dense(1)(s))
m3b.save(out("benign/tf/keras3_attention.keras"))
row("benign/tf/keras3_attention.keras", "benign", "keras3",
    "Keras 3 .keras: GRU and MultiHeadAttention")

# ----- benign: tf_keras (Keras 2) -----
tk = tf_keras
vec = tk.layers.TextVectorization(max_tokens=20, output_sequence_length=4,
                                  vocabulary=["cat", "dog", "bird"])
tin = tk.Input((1,), dtype=tf.string)
t = vec(tin)
t = tk.layers.Embedding(20, 4)(t)
t = tk.layers.GlobalAveragePooling1D()(t)
m2 = tk.Model(tin, tk.layers.Dense(1)(t))
m2.save(out("benign/tf/tfkeras_textvec_savedmodel"), save_format="tf")
keep_pb_only(os.path.join(HERE, "benign/tf/tfkeras_textvec_savedmodel"))
row("benign/tf/tfkeras_textvec_savedmodel/saved_model.pb", "benign", "tf-keras-savedmodel",
    "tf_keras SavedModel with a TextVectorization whose vocabulary starts cat, dog")
row("benign/tf/tfkeras_textvec_savedmodel/keras_metadata.pb", "benign", "tf-keras-savedmodel",
    "its keras_metadata.pb")
d = tk.Sequential([tk.layers.Dense(3, input_shape=(4,), activation="relu"),
                   tk.layers.BatchNormalization(),
                   tk.layers.Lambda(lambda z: tf.math.l2_normalize(z, axis=-1))])
d.compile(optimizer="rmsprop", loss="mse")
d.save(out("benign/tf/tfkeras_lambda_math.h5"))
row("benign/tf/tfkeras_lambda_math.h5", "benign", "tf-keras-h5",
    "tf_keras .h5 with BatchNorm and an l2_normalize Lambda")


d.save(out("benign/tf/tfkeras_lambda_math_savedmodel"), save_format="tf")
keep_pb_only(os.path.join(HERE, "benign/tf/tfkeras_lambda_math_savedmodel"))
row("benign/tf/tfkeras_lambda_math_savedmodel/saved_model.pb", "benign", "tf-keras-savedmodel",
    "the same tf_keras model as a SavedModel")
row("benign/tf/tfkeras_lambda_math_savedmodel/keras_metadata.pb", "benign", "tf-keras-savedmodel",
    "its keras_metadata.pb: the Lambda code sits in a `__tuple__` object")


# ----- benign: tf.Module -----
class Benign(tf.Module):
    def __init__(self):
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(["a", "b"], [1, 2]), default_value=-1)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, s):
        s = tf.strings.regex_replace(s, "[^a-z]", "")
        ids = self.table.lookup(s)
        tf.debugging.assert_greater_equal(tf.size(ids), 0)
        tf.print("ids", ids, output_stream="stderr" if False else tf.compat.v1.logging.info)
        i = tf.constant(0)
        total = tf.while_loop(lambda i: i < 3, lambda i: i + 1, [i])
        ds = tf.data.Dataset.from_tensor_slices(ids).map(lambda v: v * 2).batch(2)
        acc = ds.reduce(tf.constant(0, tf.int64), lambda a, b: a + tf.reduce_sum(tf.cast(b, tf.int64)))
        return acc + tf.cast(total, tf.int64)


tf.saved_model.save(Benign(), out("benign/tf/module_table_print_data"))
keep_pb_only(os.path.join(HERE, "benign/tf/module_table_print_data"))
row("benign/tf/module_table_print_data/saved_model.pb", "benign", "tf-module",
    "tf.Module: hash table, regex, assert, tf.print to logging, while loop, tf.data reduce")


# ----- malicious -----
class Reader(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([], tf.int32)])
    def __call__(self, n):
        def body(i, acc):
            ds = tf.data.Dataset.list_files("/etc/host*", shuffle=False).interleave(
                tf.data.TextLineDataset, cycle_length=1)
            got = ds.reduce(tf.constant(""), lambda a, b: tf.strings.join([a, b]))
            return i + 1, tf.strings.join([acc, got])

        _, acc = tf.while_loop(lambda i, a: i < n, body, [tf.constant(0), tf.constant("")])
        return acc


tf.saved_model.save(Reader(), out("malicious/tf/while_list_files_textline"))
keep_pb_only(os.path.join(HERE, "malicious/tf/while_list_files_textline"))
row("malicious/tf/while_list_files_textline/saved_model.pb", "malicious", "file-read",
    "tf.while_loop body builds list_files + TextLineDataset over /etc/host*")

lam = tk.layers.Lambda(lambda z: z + tf.strings.length(tf.io.read_file("/etc/hostname"))[None] * 0)
r = tk.Sequential([tk.Input((1,), dtype=tf.int32), lam])
r.save(out("malicious/tf/tfkeras_lambda_read_file_savedmodel"), save_format="tf")
keep_pb_only(os.path.join(HERE, "malicious/tf/tfkeras_lambda_read_file_savedmodel"))
row("malicious/tf/tfkeras_lambda_read_file_savedmodel/saved_model.pb", "malicious", "file-read",
    "tf_keras Lambda calling tf.io.read_file traced into the SavedModel graph")
row("malicious/tf/tfkeras_lambda_read_file_savedmodel/keras_metadata.pb", "malicious",
    "keras-lambda", "its keras_metadata.pb: the Lambda's code reads a file")


# A lambda expression (a named function would be saved as a reference, not code). The branch that
# runs the command is taken only when the input is None, which never happens.
sneaky = lambda t: t * 2.0 if t is not None else __import__("os").system("echo aisec-fixture")  # noqa: E731


k3 = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(sneaky)])
k3.save(out("malicious/tf/keras3_lambda_os.h5"))
row("malicious/tf/keras3_lambda_os.h5", "malicious", "keras-lambda",
    "Keras 3 save(.h5) of a lambda calling __import__('os').system in a dead branch")

with open(os.path.join(HERE, "MANIFEST.tsv"), "a") as f:
    for r_ in ROWS:
        f.write("\t".join(r_) + "\n")
