"""IBM ART's Neural Cleanse (KerasNeuralCleanse) on one aisec model, in the TensorFlow venv.

Run by bench/poison_compare.py with the python of bench/install_tf_venv.sh's venv (ART's Neural
Cleanse exists for Keras classifiers only). Rebuilds the model in Keras (keras_arch.py), checks its
logits against the PyTorch ones the caller wrote (--logits), then reverse-engineers a trigger for
every class with ART's `generate_backdoor` on the clean rows --x, on one thread, and writes JSON:
per class the L1 norm of the mask, ART's anomaly index |norm - median| / (1.4826 * MAD), whether ART
flags it (norm at most the median and index above 2, ART's `outlier_detection` rule), the attack
success of the reverse-engineered trigger on --x, and the seconds. The loop over classes is ART's
`outlier_detection` written out, so that the norms and indices it keeps to itself can be reported.

    /work/bench-venv-tf/bin/python bench/poison_nc_keras.py --model DIR --x clean_x.npy \\
        --logits torch_logits.npy --out nc.json
"""

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TQDM_DISABLE", "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))


def anomaly(norms):
    """ART's outlier rule (NeuralCleanseMixin.outlier_detection) on a list of mask norms."""
    norms = np.asarray(norms, dtype=np.float64)
    median = np.median(norms)
    mad = 1.4826 * np.median(np.abs(norms - median))
    dev = np.abs(norms - median)
    # ART divides by a zero MAD too: inf, or nan (never flagged) where the norm is the median.
    index = dev / mad if mad > 0 else np.where(dev > 0, np.inf, np.nan)
    flagged = [int(c) for c in range(len(norms)) if norms[c] <= median and index[c] > 2]
    return index, flagged, float(median), float(mad)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--x", required=True, type=Path, help="clean rows [N, C, H, W] (or [N, D]) in [0, 1]")
    ap.add_argument("--logits", type=Path, help="PyTorch logits on --x, to check the Keras conversion")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--steps", type=int, default=1000, help="ART `steps`: passes over --x per class")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--learning-rate", type=float, default=0.1)
    ap.add_argument("--init-cost", type=float, default=1e-3)
    ap.add_argument("--norm", type=int, default=1, help="ART's default is 2; the paper's is 1")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reinit", action="store_true",
                    help="draw a fresh random mask and pattern before each class, as the paper's code does; "
                         "ART starts each class from where the previous one ended")
    a = ap.parse_args(argv)

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import art
    import keras
    from art.defences.transformer.poisoning import NeuralCleanse
    from art.estimators.classification import KerasClassifier

    import keras_arch

    model, arch = keras_arch.load(a.model)
    x = keras_arch.to_channels_last(np.load(a.x).astype(np.float32))
    logits = model.predict(x, batch_size=256, verbose=0)
    diff = None
    if a.logits:
        ref = np.load(a.logits)
        diff = float(np.abs(ref - logits).max())
        if diff > 1e-3 * max(1.0, float(np.abs(ref).max())):
            raise SystemExit(f"Keras logits differ from PyTorch's by {diff:.3g}: the conversion is wrong")
    nb_classes = int(arch["num_classes"])
    # ART's NeuralCleanse transformer builds its KerasNeuralCleanse from the classifier's model alone
    # and drops `use_logits`, so its loss always reads the output as probabilities: the model it
    # gets ends in a softmax, like the Keras models of ART's own examples.
    probs = keras.Model(model.input, keras.layers.Softmax()(model.output))
    clf = KerasClassifier(probs, clip_values=tuple(arch.get("input_range", (0.0, 1.0))), use_logits=False)
    random.seed(a.seed)
    np.random.seed(a.seed)
    tf.random.set_seed(a.seed)
    nc = NeuralCleanse(clf)(clf, steps=a.steps, init_cost=a.init_cost, norm=a.norm, learning_rate=a.learning_rate,
                            batch_size=a.batch_size)
    y = np.eye(nb_classes)[logits.argmax(1)]  # ART ignores these labels in generate_backdoor
    classes = []
    start = time.perf_counter()
    for c in range(nb_classes):
        t0 = time.perf_counter()
        if a.reinit:  # the same draw as KerasNeuralCleanse.__init__'s
            nc.mask_tensor_raw.assign(np.random.uniform(size=nc.mask_tensor_raw.shape).astype(np.float32))
            nc.pattern_tensor_raw.assign(np.random.uniform(size=nc.pattern_tensor_raw.shape).astype(np.float32))
        # ART prints a tensor per batch (a leftover `print(loss_acc)` in its train step): swallowed.
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            mask, pattern = nc.generate_backdoor(x, y, np.eye(nb_classes)[c])
        seconds = time.perf_counter() - t0
        stamped = (1.0 - mask) * x + mask * pattern
        pred = model.predict(stamped, batch_size=256, verbose=0).argmax(1)
        others = logits.argmax(1) != c
        print(f"    class {c}: mask L1 {np.abs(mask).sum():.2f}, {seconds:.1f} s", file=sys.stderr, flush=True)
        classes.append({"class": c, "l1_norm": float(np.abs(mask).sum()), "seconds": seconds,
                        "trigger_success": float((pred[others] == c).mean()) if others.any() else None,
                        "mask_max": float(mask.max())})
    total = time.perf_counter() - start
    index, flagged, median, mad = anomaly([k["l1_norm"] for k in classes])
    for k, i in zip(classes, index):
        k["anomaly_index"] = float(i)
    smallest = int(np.argmin([k["l1_norm"] for k in classes]))
    out = {"tool": "art-keras", "model": str(a.model), "rows": int(len(x)), "seconds": total,
           "keras_logits_max_abs_diff": diff, "median_norm": median, "mad": mad, "flagged": flagged,
           "smallest_norm_class": smallest, "smallest_norm_anomaly_index": float(index[smallest]),
           "classes": classes,
           "params": {"steps": a.steps, "batch_size": a.batch_size, "learning_rate": a.learning_rate,
                      "init_cost": a.init_cost, "norm": a.norm, "seed": a.seed,
                      "reinit": a.reinit},
           "versions": {"tensorflow": tf.__version__, "keras": keras.__version__, "art": art.__version__}}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
