"""Text-format SavedModels (tensorflow==2.21.0): the binary SavedModels of ../savedmodel rewritten
as `saved_model.pbtxt`, which TensorFlow loads when no `saved_model.pb` is present. Appends rows to
MANIFEST.tsv; run after the other generators."""

import os
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from google.protobuf import text_format  # noqa: E402
from tensorflow.core.protobuf import saved_model_pb2  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "savedmodel")
ROWS = []


def convert(src, rel, expected, cls, desc, edit=None):
    sm = saved_model_pb2.SavedModel()
    with open(os.path.join(SRC, src, "saved_model.pb"), "rb") as f:
        sm.ParseFromString(f.read())
    text = text_format.MessageToString(sm)
    if edit:
        text = edit(text)
    full = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)
    ROWS.append((rel, expected, cls, desc))


convert("benign/math_module", "benign/pbtxt/math_module/saved_model.pbtxt", "benign",
        "savedmodel-text", "tf.Module math SavedModel in text format")
convert("benign/vocab_asset", "benign/pbtxt/vocab_asset/saved_model.pbtxt", "benign",
        "savedmodel-text", "SavedModel with an asset vocabulary table, in text format")
convert("malicious/read_file_signature", "malicious/pbtxt/read_file/saved_model.pbtxt",
        "malicious", "savedmodel-text", "SavedModel whose signature reads a file, in text format")
convert("malicious/py_function", "malicious/pbtxt/py_function/saved_model.pbtxt", "malicious",
        "savedmodel-text", "SavedModel calling tf.py_function, in text format")
# The op name written with text-format escapes and split across adjacent strings.
convert("malicious/read_file_signature", "malicious/pbtxt/read_file_escaped/saved_model.pbtxt",
        "malicious", "savedmodel-text", "text-format SavedModel spelling ReadFile as 'Read' \"\\x46ile\"",
        edit=lambda t: re.sub(r'op: "ReadFile"', "op: 'Read' \"\\\\x46ile\"", t))

with open(os.path.join(HERE, "MANIFEST.tsv"), "a") as f:
    for r in ROWS:
        f.write("\t".join(r) + "\n")
