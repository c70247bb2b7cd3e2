#!/usr/bin/env bash
# Install the pinned TensorFlow side of bench/poison_compare.py (bench/requirements-tf.txt: ART's
# Keras-only Neural Cleanse) into a throwaway venv OUTSIDE the repository, then check that ART's
# KerasNeuralCleanse moves the trigger mask for three classes in turn on a small Keras model
# (with Keras 3 it does not: see requirements-tf.txt). Idempotent: a venv whose
# stamp matches the pins is kept.
#
#   TF_VENV=/work/bench-venv-tf (default)   PYTHON=python3 (default, CPython 3.11)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="${TF_VENV:-/work/bench-venv-tf}"
python="${PYTHON:-python3}"
reqs="$here/requirements-tf.txt"

case "$(realpath -m "$venv")/" in
  "$repo"/*) echo "TF_VENV must be outside the repository ($repo)" >&2; exit 2 ;;
esac

if [ -f "$venv/.pins" ] && cmp -s "$reqs" "$venv/.pins"; then
  echo "TF venv $venv is up to date"
else
  echo "creating TF venv $venv (about 250 MB of wheels, 1.5 GB installed)"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$reqs"
fi

TF_CPP_MIN_LOG_LEVEL=3 "$venv/bin/python" - <<'PY'
import contextlib, io
import numpy as np, tensorflow as tf, keras, art
from art.estimators.classification import KerasClassifier
from art.defences.transformer.poisoning import NeuralCleanse
m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
clf = KerasClassifier(m, clip_values=(0.0, 1.0), use_logits=True)
nc = NeuralCleanse(clf)(clf, steps=2, batch_size=8, norm=1)
x = np.random.rand(16, 8, 8, 1).astype(np.float32)
y = np.eye(10)[np.zeros(16, int)]
masks = []
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    for c in (0, 1, 2):  # the optimiser restarts for each class: the learning rate must survive it
        before = nc.mask_tensor_raw.numpy().copy()
        mask, pattern = nc.generate_backdoor(x, y, np.eye(10)[c])
        assert mask.shape == (8, 8, 1) and pattern.shape == (8, 8, 1)
        assert np.abs(nc.mask_tensor_raw.numpy() - before).max() > 0, f"class {c}: the mask did not move"
print(f"tensorflow {tf.__version__}, keras {keras.__version__}, art {art.__version__}: KerasNeuralCleanse ok")
PY
cp "$reqs" "$venv/.pins"
