"""Writes src/formats/savedmodel/tf_ops.txt: every op name TensorFlow's registry holds (the
Python-visible `tf.raw_ops` plus internal `_`-prefixed ops), one per line, sorted bytewise.

    /work/venv-tf/bin/python gen_tf_ops.py
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402,F401  (registers the ops)
from tensorflow.core.framework import op_def_pb2  # noqa: E402
from tensorflow.python.client import pywrap_tf_session as c_api  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "..", "src", "formats", "savedmodel", "tf_ops.txt")

ops = op_def_pb2.OpList()
ops.ParseFromString(c_api.TF_GetBuffer(c_api.TF_GetAllOpList()))
names = sorted({o.name for o in ops.op}, key=lambda n: n.encode())
with open(OUT, "w") as f:
    f.write("\n".join(names) + "\n")
print(f"{len(names)} ops (TensorFlow {tf.__version__})")
