"""Data poisoning and backdoor defenses: aisec against IBM ART, same data, architecture and trigger.

For each model kind (the CNN and the MLP of `aisec models train`) on the digits split in --data
(train_x.npy, train_y.npy, test_x.npy, test_y.npy; `--export-digits DIR` writes one from
scikit-learn's copy of the data, or give aisec's `--artifacts` directory):

1. BadNets (a 3x3 patch in the bottom-right corner, --target class) at each --rates: ART's
   PoisoningAttackBackdoor stamps the trigger on the chosen rows and relabels them; the victim and a
   clean-trained twin are trained through ART's PyTorchClassifier with aisec's recipe (Adam 0.01,
   batch 64, up to 60 epochs, early stopping with patience 8 on a 10% hold-out). Clean accuracy,
   attack success rate (ASR: test rows of other classes put in the target class once triggered),
   wall time.
2. ART's ActivationDefence and SpectralSignatureDefense on each poisoned training set and its
   victim: precision and recall of the flagged rows against the true poison, wall time.
3. ART's Neural Cleanse (Keras only: run by bench/poison_nc_keras.py in the TF venv of
   bench/install_tf_venv.sh) on the victim at --nc-rate and on the clean twin: smallest-norm class,
   its anomaly index, the flagged classes, wall time. As shipped, and with a fresh random mask and
   pattern per class (`reinit`, as the paper's code does; ART carries the last class's over).
4. ART's STRIP on the same victim: the entropy threshold set on the first half of the test rows at
   --strip-frr, then the share of the other half's triggered rows (true class not the target) it
   flags and the share of its clean rows it rejects, wall time. As shipped, with the paper's
   entropy (per prediction; ART takes it along the other axis), with the paper's superimposition
   (the sum, clipped; ART averages the two images), and with both.

ART's detectors read the layer and the outputs its examples give them: the activation and spectral
defenses the last module of a PyTorch nn.Sequential (handed the network without its final linear
layer, so that this is the penultimate representation the papers and aisec use; `--layers logits`
adds ART's own pick), STRIP and Neural Cleanse probabilities (a softmax is appended).

Every reference run is on one thread (torch, TF and numpy). aisec's side is added with --aisec
once `aisec attack poison` and `aisec defend backdoor` exist (see docs/benchmarks.md).

    /work/bench-venv-ml/bin/python bench/poison_compare.py --export-digits /work/bench-data/poison/digits
    /work/bench-venv-ml/bin/python bench/poison_compare.py --data /work/bench-data/poison/digits \\
        --only-reference --json bench/results/poison-art.json --table bench/results/poison-art.txt
"""

import os

# One thread everywhere; must be set before numpy / torch load their thread pools.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("TQDM_DISABLE", "1")

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import ml_arch  # noqa: E402

KINDS = ("cnn", "mlp")


# --- data, architecture, trigger ----------------------------------------------------------------

def export_digits(out, seed):
    """scikit-learn's digits (the same file aisec's built-in set reads) as [N, 1, 8, 8] float32 in
    [0, 1] (pixels 0..16 / 16) and int64 labels, split 80/20 with a seeded shuffle."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = d.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(0.2 * len(y)))
    test, train = order[:n_test], order[n_test:]
    out.mkdir(parents=True, exist_ok=True)
    for name, idx in (("train", train), ("test", test)):
        np.save(out / f"{name}_x.npy", x[idx])
        np.save(out / f"{name}_y.npy", y[idx])
    (out / "split.json").write_text(json.dumps({"source": "sklearn.datasets.load_digits", "scale": "pixels / 16",
                                                "test_fraction": 0.2, "seed": seed,
                                                "shuffle": "numpy default_rng(seed).permutation",
                                                "train_rows": len(train), "test_rows": len(test)}, indent=1) + "\n")
    print(f"wrote {len(train)} train and {len(test)} test rows to {out}")


def load_split(d):
    s = {k: np.load(d / f"{k}.npy") for k in ("train_x", "train_y", "test_x", "test_y")}
    for k in ("train_x", "test_x"):
        s[k] = s[k].astype(np.float32)
        if s[k].ndim == 2 and s[k].shape[1] == 64:
            s[k] = s[k].reshape(-1, 1, 8, 8)
    for k in ("train_y", "test_y"):
        s[k] = s[k].astype(np.int64)
    if s["train_x"].min() < 0 or s["train_x"].max() > 1:
        raise SystemExit(f"{d}: inputs outside [0, 1]")
    return s


def architecture(kind, input_shape=(1, 8, 8), num_classes=10):
    """aisec-ml's `ModelKind::architecture` for digits (crates/aisec-ml/src/arch.rs), as
    architecture.json would hold it."""
    c, h, w = input_shape
    if kind == "mlp":
        layers = [{"kind": "flatten"},
                  {"kind": "linear", "in_features": c * h * w, "out_features": 128, "bias": True},
                  {"kind": "relu"},
                  {"kind": "linear", "in_features": 128, "out_features": num_classes, "bias": True}]
    elif kind == "cnn":
        conv = lambda i, o: {"kind": "conv2d", "in_channels": i, "out_channels": o, "kernel": 3, "stride": 1,
                             "padding": 1, "bias": True}
        layers = [conv(c, 16), {"kind": "relu"}, conv(16, 32), {"kind": "relu"},
                  {"kind": "max_pool2d", "kernel": 2, "stride": 2, "padding": 0}, {"kind": "flatten"},
                  {"kind": "linear", "in_features": 32 * (h // 2) * (w // 2), "out_features": 64, "bias": True},
                  {"kind": "relu"},
                  {"kind": "linear", "in_features": 64, "out_features": num_classes, "bias": True}]
    else:
        raise ValueError(kind)
    return {"format": ml_arch.FORMAT, "version": 1, "input_shape": list(input_shape), "num_classes": num_classes,
            "input_range": [0.0, 1.0], "layers": layers}


def default_trigger(shape=(1, 8, 8), size=3):
    """BadNets on digits: a size x size checkerboard of max-value (1) and zero pixels in the
    bottom-right corner (the top-left pixel of the patch is 1); mask and pattern of one row's shape."""
    mask = np.zeros(shape, np.float32)
    pattern = np.zeros(shape, np.float32)
    mask[..., -size:, -size:] = 1.0
    ii, jj = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    pattern[..., -size:, -size:] = ((ii + jj) % 2 == 0).astype(np.float32)
    return mask, pattern


def stamp(x, mask, pattern):
    return ((1.0 - mask) * x + mask * pattern).astype(x.dtype)


def choose_poison(y, rate, target, seed):
    """round(rate x N) rows, drawn without replacement (seeded) among the rows not of the target class."""
    n = int(round(rate * len(y)))
    candidates = np.flatnonzero(y != target)
    if n > len(candidates):
        raise SystemExit(f"rate {rate}: {n} rows to poison, only {len(candidates)} outside the target class")
    return np.sort(np.random.default_rng(seed).choice(candidates, n, replace=False))


def onehot(y, n=10):
    return np.eye(n, dtype=np.float32)[y]


# --- ART / PyTorch side -------------------------------------------------------------------------

def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def predict(net, x, batch=1024):
    with torch.no_grad():
        return np.concatenate([net(torch.from_numpy(x[i:i + batch])).numpy() for i in range(0, len(x), batch)])


def accuracy(net, x, y):
    return float((predict(net, x).argmax(1) == y).mean())


def attack_success(net, x, y, target, mask, pattern):
    """ASR: the share of rows whose true class is not the target put in the target class once triggered."""
    keep = y != target
    return float((predict(net, stamp(x[keep], mask, pattern)).argmax(1) == target).mean())


def art_poison(x, y, idx, target, mask, pattern):
    """ART's PoisoningAttackBackdoor on rows `idx`: triggered and relabelled to `target`."""
    from art.attacks.poisoning import PoisoningAttackBackdoor

    attack = PoisoningAttackBackdoor(lambda rows: stamp(rows, mask, pattern))
    xp, yp = attack.poison(x[idx], y=onehot(np.array([target]))[0], broadcast=True)
    x, y = x.copy(), y.copy()
    x[idx], y[idx] = xp, np.argmax(yp, axis=1)
    return x, y


def art_train(arch, x, y, a):
    """Trains a fresh network through ART's PyTorchClassifier.fit, one epoch per call, with aisec's
    recipe: Adam (lr --lr), batch --batch-size, at most --epochs epochs, stopping after --patience
    epochs without a better loss on a seeded 10% hold-out of the rows and keeping the best weights."""
    from art.estimators.classification import PyTorchClassifier

    seed_all(a.seed)
    net = ml_arch.Net(arch)
    order = np.random.default_rng(a.seed).permutation(len(y))
    n_val = int(round(0.1 * len(y)))
    val, tr = order[:n_val], order[n_val:]
    clf = PyTorchClassifier(model=net, loss=torch.nn.CrossEntropyLoss(), optimizer=torch.optim.Adam(net.parameters(),
                            lr=a.lr), input_shape=tuple(arch["input_shape"]), nb_classes=arch["num_classes"],
                            clip_values=(0.0, 1.0), device_type="cpu")
    xv, yv = torch.from_numpy(x[val]), torch.from_numpy(y[val])
    best, best_epoch, epochs = None, 0, 0
    for epoch in range(1, a.epochs + 1):
        clf.fit(x[tr], onehot(y[tr], arch["num_classes"]), batch_size=a.batch_size, nb_epochs=1)
        epochs = epoch
        net.eval()
        with torch.no_grad():
            loss = float(torch.nn.functional.cross_entropy(net(xv), yv))
        if best is None or loss < best[0]:
            best, best_epoch = (loss, copy.deepcopy(net.state_dict())), epoch
        elif epoch - best_epoch >= a.patience:
            break
    net.load_state_dict(best[1])
    return net.eval(), {"epochs_run": epochs, "best_epoch": best_epoch}


def art_classifier(module, arch):
    from art.estimators.classification import PyTorchClassifier

    return PyTorchClassifier(model=module, loss=torch.nn.CrossEntropyLoss(), input_shape=tuple(arch["input_shape"]),
                             nb_classes=arch["num_classes"], clip_values=(0.0, 1.0), device_type="cpu")


def conv_block_end(arch):
    """The index just past the activation after the last convolution (None without one): where
    aisec's training-set detectors read a CNN (`conv_feature_layer` in aisec-attack)."""
    kinds = [l["kind"] for l in arch["layers"]]
    convs = [i for i, k in enumerate(kinds) if k == "conv2d"]
    if not convs:
        return None
    end = convs[-1] + 1
    while end < len(kinds) and kinds[end] in ("relu", "tanh", "sigmoid", "batch_norm"):
        end += 1
    return end


def resolve_layers(names, arch):
    """--layers for one architecture: `aisec` becomes the layer aisec's detectors read (`conv`, the
    last convolution block, for a CNN; else `penultimate`); duplicates go."""
    out = []
    for name in names:
        if name == "aisec":
            name = "conv" if conv_block_end(arch) is not None else "penultimate"
        if name == "conv" and conv_block_end(arch) is None:
            continue
        if name not in out:
            out.append(name)
    return out


def feature_module(net, arch, layer):
    """What ART's poison detectors read: they take the activations of the last entry of
    `classifier.layer_names`, which for a PyTorch nn.Sequential is its last module, the logits. The
    papers use the penultimate representation, aisec the penultimate one or, for a CNN, the output
    of the last convolution block: handing ART the Sequential cut there makes that the last module
    (ART flattens it). `layer`: "penultimate", "conv" or "logits"."""
    mods = list(net.layers)
    cut = {"penultimate": len(mods) - 1, "conv": conv_block_end(arch), "logits": len(mods)}[layer]
    return torch.nn.Sequential(*mods[:cut]).eval()


def flag_scores(flagged, poison_idx, n):
    flagged = np.asarray(sorted(set(int(i) for i in flagged)), dtype=np.int64)
    truth = np.zeros(n, bool)
    truth[poison_idx] = True
    tp = int(truth[flagged].sum()) if len(flagged) else 0
    return {"flagged": int(len(flagged)), "true_positives": tp,
            "precision": tp / len(flagged) if len(flagged) else None,
            "recall": tp / len(poison_idx) if len(poison_idx) else None}


def art_activation_clustering(net, arch, x, y, poison_idx, analysis, layer, seed):
    from art.defences.detector.poison import ActivationDefence

    seed_all(seed)  # KMeans draws its starts from numpy's global state
    start = time.perf_counter()
    defence = ActivationDefence(art_classifier(feature_module(net, arch, layer), arch), x,
                                onehot(y, arch["num_classes"]))
    _, is_clean = defence.detect_poison(nb_clusters=2, nb_dims=10, reduce="PCA", cluster_analysis=analysis)
    seconds = time.perf_counter() - start
    flagged = np.flatnonzero(np.asarray(is_clean) == 0)
    return {**flag_scores(flagged, poison_idx, len(y)), "seconds": seconds}, flagged


def art_spectral_signatures(net, arch, x, y, poison_idx, expected, layer):
    from art.defences.detector.poison import SpectralSignatureDefense

    start = time.perf_counter()
    defence = SpectralSignatureDefense(art_classifier(feature_module(net, arch, layer), arch), x,
                                       onehot(y, arch["num_classes"]), expected_pp_poison=expected, batch_size=128,
                                       eps_multiplier=1.5)
    _, is_clean = defence.detect_poison()
    seconds = time.perf_counter() - start
    flagged = np.flatnonzero(np.asarray(is_clean) == 0)
    return {**flag_scores(flagged, poison_idx, len(y)), "seconds": seconds}, flagged


def art_strip(net, arch, calib, clean_eval, triggered, a, paper_entropy=False, paper_overlay=False):
    """ART's STRIP: `mitigate` fits a normal to the entropies of the calibration rows and sets the
    threshold at its --strip-frr quantile; `predict` abstains (an all-zero row) on inputs whose
    entropy is at or below it. ART computes the entropy along axis 0 of the [num_samples, classes]
    predictions (per class, over the superimposed copies), not per prediction as the paper does;
    `paper_entropy` swaps in the paper's (per prediction, over classes) to see what that changes.
    ART superimposes `0.5 x + 0.5 other`; `paper_overlay` swaps in the paper's sum, clipped to the
    input range."""
    import importlib

    from art.defences.transformer.poisoning import STRIP
    from scipy.stats import entropy

    strip_module = importlib.import_module("art.estimators.poison_mitigation.strip.strip")
    original = strip_module.entropy, strip_module.combine_images
    lo, hi = arch.get("input_range", (0.0, 1.0))
    if paper_entropy:
        strip_module.entropy = lambda p, base=None, axis=0: entropy(p, base=base, axis=1)
    if paper_overlay:
        strip_module.combine_images = lambda img1, img2, alpha=0.5: np.clip(img1 + img2 - lo, lo, hi)
    try:
        seed_all(a.seed)
        # STRIP takes the entropy of what `predict` returns: probabilities, so the model ends in a
        # softmax (ART's PyTorchClassifier returns whatever the module does, here logits).
        clf = art_classifier(torch.nn.Sequential(net, torch.nn.Softmax(dim=1)).eval(), arch)
        start = time.perf_counter()
        defended = STRIP(clf)(num_samples=a.strip_samples, false_acceptance_rate=a.strip_frr)
        defended.mitigate(calib)
        rejected = lambda x: float((np.abs(defended.predict(x)).sum(axis=1) == 0).mean())
        frr = rejected(clean_eval)
        detection = rejected(triggered)
        seconds = time.perf_counter() - start
    finally:
        strip_module.entropy, strip_module.combine_images = original
    return {"frr": frr, "detection": detection, "threshold": float(defended.entropy_threshold), "seconds": seconds,
            "calibration_rows": len(calib), "clean_rows": len(clean_eval), "triggered_rows": len(triggered)}


def art_neural_cleanse(model_dir, net, x, a, variant):
    """ART's KerasNeuralCleanse on the model in `model_dir`, in the TF venv (bench/poison_nc_keras.py).
    `variant`: "as shipped", or "reinit" (a fresh random mask and pattern for each class)."""
    import hashlib

    # ART's Neural Cleanse takes minutes per model: a result is kept under the hash of the weights,
    # the rows and the settings, and reused (with the time it took then) while they do not change.
    key = hashlib.sha256((model_dir / "model.safetensors").read_bytes() + x.tobytes() + repr(
        (variant, a.nc_steps, a.nc_batch_size, a.nc_lr, a.nc_init_cost, a.seed)).encode()).hexdigest()[:20]
    cached = a.work / "nc-cache" / f"{key}.json"
    if cached.exists() and not a.no_nc_cache:
        return {**json.loads(cached.read_text()), "cached": str(cached)}
    np.save(model_dir / "nc_x.npy", x)
    np.save(model_dir / "nc_logits.npy", predict(net, x))
    out = cached
    cmd = [a.tf_python, str(HERE / "poison_nc_keras.py"), "--model", str(model_dir), "--x",
           str(model_dir / "nc_x.npy"), "--logits", str(model_dir / "nc_logits.npy"), "--out", str(out),
           "--steps", str(a.nc_steps), "--batch-size", str(a.nc_batch_size), "--learning-rate", str(a.nc_lr),
           "--init-cost", str(a.nc_init_cost), "--norm", "1", "--seed", str(a.seed)]
    cmd += ["--reinit"] if variant == "reinit" else []
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return {**json.loads(out.read_text()), "cached": None}


# --- the run ------------------------------------------------------------------------------------

def log(msg):
    print(msg, file=sys.stderr, flush=True)


def aisec_defense_values(a):
    """The values `aisec attack poison --defense` accepts (from its --help), intersected with
    --aisec-defenses: the benchmark runs whichever training-set defenses this build has."""
    proc = subprocess.run([*shlex.split(a.aisec), "attack", "poison", "-h"], capture_output=True, text=True,
                          check=True)
    text = " ".join(proc.stdout.split())
    m = re.search(r"--defense <[A-Z_]+>.*?\[possible values: ([^\]]+)\]", text)
    offered = [v.strip() for v in m.group(1).split(",")] if m else []
    return [d for d in a.aisec_defenses if d in offered]


def run_aisec_poison(kind, a):
    """`aisec attack poison` for one kind: (its JSON report, its artifacts directory, process seconds)."""
    out = a.work / kind / "aisec"
    out.mkdir(parents=True, exist_ok=True)
    report, artifacts = out / "poison.json", out / "artifacts"
    cmd = [*shlex.split(a.aisec), "attack", "poison", "--data", "digits", "--kind", kind, "--attack", "badnets",
           "--rate", ",".join(f"{r:g}" for r in a.rates), "--target", str(a.target), "--seed", str(a.seed),
           "--threads", "1", "--epochs", str(a.epochs), "--lr", str(a.lr), "--batch-size", str(a.batch_size),
           "--patience", str(a.patience), "-f", "json", "-o", str(report), "--artifacts", str(artifacts),
           "--exit-zero"]
    defenses = aisec_defense_values(a)
    if defenses:
        cmd += ["--defense", ",".join(defenses)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RAYON_NUM_THREADS": "1"}
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return json.loads(report.read_text()), artifacts, wall, shlex.join(cmd)


def load_aisec_artifacts(d, rates):
    """aisec's split, trigger, poisoned sets and models, from `attack poison --artifacts`."""
    data = load_split(d)
    shape = data["train_x"].shape[1:]
    data["mask"] = np.load(d / "trigger-mask.npy").astype(np.float32).reshape(shape)
    data["pattern"] = np.load(d / "trigger-pattern.npy").astype(np.float32).reshape(shape)
    data["poison_idx"], data["poisoned"], data["models"] = {}, {}, {"clean": d / "clean-twin-model"}
    for rate in rates:
        tag = f"rate-{rate:g}"
        data["poison_idx"][rate] = np.load(d / f"poison_idx-{tag}.npy").astype(np.int64)
        data["poisoned"][rate] = (np.load(d / f"poisoned_x-{tag}.npy").astype(np.float32).reshape(-1, *shape),
                                  np.load(d / f"poisoned_y-{tag}.npy").astype(np.int64))
        data["models"][rate] = d / f"victim-model-{tag}"
    return data


def aisec_defense_label(name):
    """aisec's defense name -> (detector column, the ART detector it is compared with)."""
    low = name.lower()
    if "activation" in low or low == "ac":
        return "AC", "AC (smaller)"
    if "spectral" in low or low == "ss":
        return "SS", "SS (expected 0.33)"  # aisec's default share is ART's default
    return name, None


def aisec_rows(kind, report, wall, command, rows):
    """The rows of aisec's JSON report (metrics.poison.run) in this script's shape."""
    run = report["metrics"]["poison"]["run"]
    spent = sum(p["train_seconds"] + sum(d["seconds"] for d in p.get("defenses", [])) for p in run["points"])
    rows.append({"section": "badnets", "kind": kind, "rate": 0.0, "tool": "aisec",
                 "clean_accuracy": run["twin"]["clean_accuracy"], "asr": run["twin"]["attack_success"],
                 "poisoned_rows": 0, "seconds": run["seconds"] - spent, "seconds_note": "run total minus the victims "
                 "and defenses: the twin's training, poisoning and measuring", "process_seconds": wall,
                 "command": command})
    for p in run["points"]:
        rows.append({"section": "badnets", "kind": kind, "rate": p["rate"], "tool": "aisec",
                     "clean_accuracy": p["victim"]["clean_accuracy"], "twin_accuracy": run["twin"]["clean_accuracy"],
                     "accuracy_drop": run["twin"]["clean_accuracy"] - p["victim"]["clean_accuracy"],
                     "asr": p["victim"]["attack_success"], "poisoned_rows": p["poisoned_rows"],
                     "seconds": p["train_seconds"], "epochs_run": p["training"]["epochs_run"],
                     "best_epoch": p["training"]["best_epoch"]})
        for d in p.get("defenses", []):
            label, art_ref = aisec_defense_label(d["defense"])
            row = {"kind": kind, "rate": p["rate"], "tool": "aisec", "detector": label, "art_detector": art_ref,
                   "aisec_defense": d["defense"], "flagged": d.get("flagged"), "precision": d.get("precision"),
                   "recall": d.get("recall"), "seconds": None, "total_seconds": d["seconds"],
                   "clean_accuracy_after": d["after"]["clean_accuracy"], "asr_after": d["after"]["attack_success"],
                   "victim_model": "aisec", "layer": "aisec's"}
            rows.append({**row, "section": "training-set" if d.get("flagged") is not None else "repair"})


def aisec_has_defend(a):
    proc = subprocess.run([*shlex.split(a.aisec), "defend", "backdoor", "-h"], capture_output=True, text=True,
                          check=False)
    return proc.returncode == 0


def run_aisec_defend(a, model_dir, out, extra):
    """`aisec defend backdoor` on one model: its JSON report's metrics.backdoor, and the command."""
    cmd = [*shlex.split(a.aisec), "defend", "backdoor", "--model", str(model_dir), "--seed", str(a.seed),
           "--threads", "1", "-f", "json", "-o", str(out), "--exit-zero", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RAYON_NUM_THREADS": "1"}
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return json.loads(out.read_text())["metrics"]["backdoor"], shlex.join(cmd), wall


def aisec_neural_cleanse(a, model_dir, work, x, y, label):
    """aisec's Neural Cleanse on the model, on the same clean rows ART's gets."""
    np.save(work / "nc_x.npy", x)
    np.save(work / "nc_y.npy", y)
    extra = ["--data", str(work / "nc_x.npy"), "--labels", str(work / "nc_y.npy"), "--method", "nc"]
    extra += ["--steps", str(a.aisec_nc_steps)] if a.aisec_nc_steps else []
    m, cmd, wall = run_aisec_defend(a, model_dir, work / f"defend-nc-{label}.json", extra)
    nc = m["neural_cleanse"]
    norms = [c["l1_norm"] for c in nc["classes"]]
    smallest = int(np.argmin(norms))
    return {"smallest_norm_class": int(nc["classes"][smallest]["class"]),
            "anomaly_index": nc["classes"][smallest]["anomaly_index"], "flagged": nc["flagged"],
            "suspected_target": nc.get("suspected_target"), "max_anomaly_index": nc.get("max_anomaly_index"),
            "norms": norms, "trigger_success": [c["attack_success"] for c in nc["classes"]],
            "steps_run": [c.get("steps_run") for c in nc["classes"]], "seconds": nc["seconds"],
            "adam_steps_per_class": float(np.mean([c.get("steps_run") or 0 for c in nc["classes"]]))
            * nc.get("settings", {}).get("batches_per_round", 1),
            "process_seconds": wall, "verdict": m.get("verdict"), "command": cmd}


def aisec_strip(a, model_dir, work, calib, calib_y, clean_eval, triggered):
    """aisec's STRIP: the threshold from the calibration rows (--data), then the clean and the
    triggered rows checked in one --inputs file (clean first)."""
    np.save(work / "strip_calib_x.npy", calib)
    np.save(work / "strip_calib_y.npy", calib_y)
    np.save(work / "strip_inputs.npy", np.concatenate([clean_eval, triggered]).astype(np.float32))
    extra = ["--data", str(work / "strip_calib_x.npy"), "--labels", str(work / "strip_calib_y.npy"),
             "--inputs", str(work / "strip_inputs.npy"), "--method", "strip", "--overlays", str(a.strip_samples),
             "--frr", str(a.strip_frr)]
    m, cmd, wall = run_aisec_defend(a, model_dir, work / "defend-strip.json", extra)
    st = m["strip"]
    flagged = np.asarray(st["flagged"], dtype=np.int64)
    n = len(clean_eval)
    return {"frr": float((flagged < n).sum() / n), "detection": float((flagged >= n).sum() / len(triggered)),
            "threshold": st["threshold"], "calibration_rejected": st.get("clean_rejected"), "seconds": st["seconds"],
            "process_seconds": wall, "calibration_rows": len(calib), "clean_rows": n,
            "triggered_rows": len(triggered), "command": cmd}


def run_kind(kind, data, a, rows):
    arch = architecture(kind, tuple(data["train_x"].shape[1:]), int(max(data["train_y"].max(),
                                                                        data["test_y"].max())) + 1)
    mask, pattern = data["mask"], data["pattern"]
    xt, yt = data["test_x"], data["test_y"]
    work = a.work / kind
    models = {}  # what Neural Cleanse and STRIP examine: aisec's models when there are, else ART's

    aisec_nets = {}
    for label, d in data.get("models", {}).items():
        net, aisec_arch = ml_arch.load(d)
        if aisec_arch["layers"] != arch["layers"]:
            raise SystemExit(f"{d}: aisec's {kind} is not the architecture this script trains: "
                             f"{aisec_arch['layers']} vs {arch['layers']}")
        aisec_nets[label] = net
        models[label] = (d, net)
    aisec_measure = {r["rate"]: r for r in rows if r["section"] == "badnets" and r["kind"] == kind
                     and r["tool"] == "aisec"}
    for label, net in aisec_nets.items():  # torch must compute what aisec did on the same rows
        rate = 0.0 if label == "clean" else label
        if rate in aisec_measure and abs(accuracy(net, xt, yt) - aisec_measure[rate]["clean_accuracy"]) > 1e-9:
            raise SystemExit(f"aisec's {label} model: torch's test accuracy differs from aisec's report")

    start = time.perf_counter()
    twin, twin_info = art_train(arch, data["train_x"], data["train_y"], a)
    twin_seconds = time.perf_counter() - start
    twin_acc = accuracy(twin, xt, yt)
    twin_asr = attack_success(twin, xt, yt, a.target, mask, pattern)
    ml_arch.save(twin, arch, work / "art-clean")
    models.setdefault("clean", (work / "art-clean", twin))
    rows.append({"section": "badnets", "kind": kind, "rate": 0.0, "tool": "art", "clean_accuracy": twin_acc,
                 "asr": twin_asr, "poisoned_rows": 0, "seconds": twin_seconds, **twin_info})
    log(f"{kind} clean twin: accuracy {twin_acc:.3f}, ASR {twin_asr:.3f}, {twin_seconds:.1f} s")

    for rate in a.rates:
        idx = data["poison_idx"].get(rate)
        if idx is None:
            idx = choose_poison(data["train_y"], rate, a.target, a.seed)
        start = time.perf_counter()
        xp, yp = art_poison(data["train_x"], data["train_y"], idx, a.target, mask, pattern)
        victim, info = art_train(arch, xp, yp, a)
        seconds = time.perf_counter() - start
        if rate in data["poisoned"]:  # aisec's poisoned set: ART's must be the same rows
            ax, ay = data["poisoned"][rate]
            info["same_poisoned_set_as_aisec"] = bool(np.array_equal(ay, yp) and np.abs(ax - xp).max() <= 1e-6)
            if not info["same_poisoned_set_as_aisec"]:
                raise SystemExit(f"rate {rate:g}: ART's poisoned set differs from aisec's")
        acc = accuracy(victim, xt, yt)
        asr = attack_success(victim, xt, yt, a.target, mask, pattern)
        d = work / f"art-badnets-{rate:g}"
        ml_arch.save(victim, arch, d)
        np.save(d / "poison_idx.npy", idx)
        models.setdefault(rate, (d, victim))
        rows.append({"section": "badnets", "kind": kind, "rate": rate, "tool": "art", "clean_accuracy": acc,
                     "twin_accuracy": twin_acc, "accuracy_drop": twin_acc - acc, "asr": asr,
                     "poisoned_rows": int(len(idx)), "seconds": seconds, **info})
        log(f"{kind} rate {rate:g}: {len(idx)} rows poisoned, accuracy {acc:.3f} (twin {twin_acc:.3f}), "
            f"ASR {asr:.3f}, {seconds:.1f} s")

        victims = [("art", victim)] + ([("aisec", aisec_nets[rate])] if rate in aisec_nets else [])
        layers = resolve_layers(a.layers, arch)
        for owner, net in victims:
            for layer in layers:
                common = {"section": "training-set", "kind": kind, "rate": rate, "tool": "art", "layer": layer,
                          "victim_model": owner}
                # ART on the model and layer aisec's detectors read is the comparison: its flagged rows
                # are dropped and a fresh model retrained, as aisec does.
                compare = owner == ("aisec" if aisec_nets else "art") and layer == layers[0]
                detections = []
                for analysis in a.ac_analysis:
                    try:
                        r, flagged = art_activation_clustering(net, arch, xp, yp, idx, analysis, layer, a.seed)
                    except Exception as err:  # noqa: BLE001 (ART's relative-size analysis crashes: reported)
                        r, flagged = {"flagged": None, "precision": None, "recall": None, "seconds": None,
                                      "error": f"{type(err).__name__}: {err}"}, None
                    detections.append(({**common, "detector": f"AC ({analysis})", **r}, flagged))
                for expected in a.ss_expected:
                    e = rate if expected == "rate" else float(expected)
                    r, flagged = art_spectral_signatures(net, arch, xp, yp, idx, e, layer)
                    detections.append(({**common, "detector": f"SS (expected {expected})", **r}, flagged))
                for row, flagged in detections:
                    if compare and flagged is not None and not a.skip_retrain:
                        keep = np.setdiff1d(np.arange(len(yp)), flagged)
                        t0 = time.perf_counter()
                        retrained, _ = art_train(arch, xp[keep], yp[keep], a)
                        row["retrain_seconds"] = time.perf_counter() - t0
                        row["clean_accuracy_after"] = accuracy(retrained, xt, yt)
                        row["asr_after"] = attack_success(retrained, xt, yt, a.target, mask, pattern)
                        row["total_seconds"] = row["seconds"] + row["retrain_seconds"]
                    rows.append(row)
                    log(f"  {row['detector']} @{layer} on {owner}'s victim: precision {fmt(row['precision'])}, "
                        f"recall {fmt(row['recall'])}, ASR after {fmt(row.get('asr_after'))}, "
                        f"{fmt(row['seconds'], '.2f')} s {row.get('error', '')}")

    owner = "aisec" if aisec_nets else "art"
    if a.nc_rate in models and not a.skip_nc:
        for label in (a.nc_rate, "clean"):
            d, net = models[label]
            for variant in a.nc_variants:
                r = art_neural_cleanse(d, net, xt, a, variant)
                rows.append({"section": "neural-cleanse", "kind": kind, "model": "clean twin" if label == "clean"
                             else f"badnets {label:g}", "model_owner": owner, "tool": "art", "variant": variant,
                             "smallest_norm_class": r["smallest_norm_class"],
                             "anomaly_index": r["smallest_norm_anomaly_index"], "flagged": r["flagged"],
                             "norms": [c["l1_norm"] for c in r["classes"]],
                             "trigger_success": [c["trigger_success"] for c in r["classes"]],
                             "seconds": r["seconds"], "keras_logits_max_abs_diff": r["keras_logits_max_abs_diff"],
                             "adam_steps_per_class": a.nc_steps * (len(xt) // a.nc_batch_size),
                             "cached": r["cached"]})
                log(f"  NC {variant} {label}: class {r['smallest_norm_class']} index "
                    f"{r['smallest_norm_anomaly_index']:.2f}, flagged {r['flagged']}, {r['seconds']:.1f} s")
            if a.aisec and aisec_nets and a.defend:
                r = aisec_neural_cleanse(a, d, work / "aisec", xt, yt, "clean" if label == "clean" else f"{label:g}")
                rows.append({"section": "neural-cleanse", "kind": kind, "model": "clean twin" if label == "clean"
                             else f"badnets {label:g}", "model_owner": owner, "tool": "aisec", "variant": "-", **r})
                log(f"  NC aisec {label}: class {r['smallest_norm_class']} index {r['anomaly_index']:.2f}, "
                    f"flagged {r['flagged']}, {r['seconds']:.1f} s")

    if a.nc_rate in models and not a.skip_strip:
        _, net = models[a.nc_rate]
        half = len(yt) // 2
        calib, clean_eval = xt[:half], xt[half:]
        rest_x, rest_y = xt[half:], yt[half:]
        triggered = stamp(rest_x[rest_y != a.target], mask, pattern)
        for variant, ent, overlay in (("as shipped", False, False), ("paper entropy", True, False),
                                      ("paper overlay", False, True), ("paper both", True, True)):
            r = art_strip(net, arch, calib, clean_eval, triggered, a, paper_entropy=ent, paper_overlay=overlay)
            rows.append({"section": "strip", "kind": kind, "model": f"badnets {a.nc_rate:g}", "model_owner": owner,
                         "tool": "art", "variant": variant, "frr_target": a.strip_frr, **r})
            log(f"  STRIP ART {variant}: FRR {r['frr']:.3f}, detection {r['detection']:.3f}, {r['seconds']:.1f} s")
        if a.aisec and aisec_nets and a.defend:
            d, _ = models[a.nc_rate]
            r = aisec_strip(a, d, work / "aisec", calib, yt[:half], clean_eval, triggered)
            rows.append({"section": "strip", "kind": kind, "model": f"badnets {a.nc_rate:g}", "model_owner": owner,
                         "tool": "aisec", "variant": "-", "frr_target": a.strip_frr, **r})
            log(f"  STRIP aisec: FRR {r['frr']:.3f}, detection {r['detection']:.3f}, {r['seconds']:.1f} s")


# --- report -------------------------------------------------------------------------------------

def fmt(v, spec=".3f"):
    return "-" if v is None else format(v, spec)


def ratio(ours, ref):
    return fmt(ref["seconds"] / ours["seconds"], ".1f") if ours and ref and ours.get("seconds") else ""


def print_tables(rows, out=sys.stdout):
    p = lambda *s: print(*s, file=out)
    by = lambda sec: [r for r in rows if r["section"] == sec]
    find = lambda sec, **kw: next((r for r in by(sec) if all(r.get(k) == v for k, v in kw.items())), None)

    p("BadNets (3x3 patch, target class): victim trained on the poisoned set; rate 0 is the clean twin")
    head = (f"{'kind':4} {'rate':>5} {'tool':6} {'rows':>5} {'clean acc':>9} {'drop':>6} {'ASR':>6} "
            f"{'epochs':>6} {'seconds':>8} {'x ART':>6}")
    p(head)
    p("-" * len(head))
    for r in by("badnets"):
        ref = find("badnets", kind=r["kind"], rate=r["rate"], tool="art") if r["tool"] != "art" else None
        p(f"{r['kind']:4} {r['rate']:>5g} {r['tool']:6} {r['poisoned_rows']:>5} {fmt(r['clean_accuracy']):>9} "
          f"{fmt(r.get('accuracy_drop'), '+.3f'):>6} {fmt(r['asr']):>6} {r.get('epochs_run', '-'):>6} "
          f"{r['seconds']:>8.2f} {ratio(r, ref):>6}")

    p("\nTraining-set defenses on the poisoned set: rows flagged, precision and recall against the true poison;"
      "\nthen a fresh model trained without the flagged rows: its clean accuracy and ASR (victim: whose model gives"
      "\nthe features; ART retrains on the model and layer aisec reads; aisec's time includes its retraining,"
      "\nx ART compares detection plus retraining with ART's on that model and layer)")
    head = (f"{'kind':4} {'rate':>5} {'tool':6} {'detector':24} {'victim':6} {'layer':11} {'flagged':>7} {'prec':>6} "
            f"{'recall':>6} {'acc after':>9} {'ASR after':>9} {'detect s':>8} {'total s':>8} {'x ART':>6}")
    p(head)
    p("-" * len(head))
    for r in by("training-set"):
        ref = None
        if r["tool"] != "art":
            ref = next((x for x in by("training-set") if x["tool"] == "art" and x["kind"] == r["kind"]
                        and x["rate"] == r["rate"] and x["detector"] == r.get("art_detector")
                        and x.get("total_seconds") is not None), None)
        speed = fmt(ref["total_seconds"] / r["total_seconds"], ".1f") if ref and r.get("total_seconds") else ""
        err = ("ART error: " + r["error"][:60]) if r.get("error") else ""
        p(f"{r['kind']:4} {r['rate']:>5g} {r['tool']:6} {r['detector']:24} {r.get('victim_model', '-'):6} "
          f"{r.get('layer', '-'):11} {fmt(r['flagged'], 'd'):>7} {fmt(r['precision']):>6} {fmt(r['recall']):>6} "
          f"{fmt(r.get('clean_accuracy_after')):>9} {fmt(r.get('asr_after')):>9} {fmt(r['seconds'], '.2f'):>8} "
          f"{fmt(r.get('total_seconds'), '.2f'):>8} {speed:>6} {err}")

    if by("repair"):
        p("\nRepair (aisec only: ART 1.20 has no fine-pruning): clean accuracy and ASR after, on the test split")
        head = f"{'kind':4} {'rate':>5} {'tool':6} {'defense':16} {'clean acc':>9} {'ASR':>6} {'seconds':>8}"
        p(head)
        p("-" * len(head))
        for r in by("repair"):
            p(f"{r['kind']:4} {r['rate']:>5g} {r['tool']:6} {r['aisec_defense']:16} "
              f"{fmt(r['clean_accuracy_after']):>9} {fmt(r['asr_after']):>6} {r['total_seconds']:>8.2f}")

    if by("neural-cleanse"):
        p("\nNeural Cleanse: smallest-norm class, its anomaly index, flagged classes (index > 2, norm <= median),"
          "\nthe smallest and median mask L1 norms, gradient steps per class (mean)")
        head = (f"{'kind':4} {'model':22} {'tool':6} {'variant':11} {'class':>5} {'index':>6} {'flagged':12} "
                f"{'norm min':>8} {'median':>7} {'steps/cl':>8} {'seconds':>8} {'x ART':>6}")
        p(head)
        p("-" * len(head))
        for r in by("neural-cleanse"):
            ref = (find("neural-cleanse", kind=r["kind"], model=r["model"], tool="art", variant="as shipped")
                   if r["tool"] != "art" else None)
            norms = r.get("norms") or []
            model = f"{r['model']} ({r.get('model_owner', 'art')})"
            p(f"{r['kind']:4} {model:22} {r['tool']:6} {r.get('variant', '-'):11} {r['smallest_norm_class']:>5} "
              f"{fmt(r['anomaly_index'], '.2f'):>6} {str(r['flagged']):12} {fmt(min(norms) if norms else None, '.2f'):>8} "
              f"{fmt(float(np.median(norms)) if norms else None, '.2f'):>7} "
              f"{fmt(r.get('adam_steps_per_class'), '.0f'):>8} {r['seconds']:>8.1f} {ratio(r, ref):>6}")

    if by("strip"):
        p("\nSTRIP: threshold on clean rows at the target FRR; rejected share of other clean rows (FRR) and of "
          "triggered rows (detection)")
        head = (f"{'kind':4} {'model':22} {'tool':6} {'variant':14} {'FRR target':>10} {'FRR':>6} {'detect':>6} "
                f"{'seconds':>8} {'x ART':>6}")
        p(head)
        p("-" * len(head))
        for r in by("strip"):
            ref = (find("strip", kind=r["kind"], tool="art", variant="as shipped") if r["tool"] != "art" else None)
            model = f"{r['model']} ({r.get('model_owner', 'art')})"
            p(f"{r['kind']:4} {model:22} {r['tool']:6} {r['variant']:14} {r['frr_target']:>10g} "
              f"{fmt(r['frr']):>6} {fmt(r['detection']):>6} {r['seconds']:>8.2f} {ratio(r, ref):>6}")


def print_markdown(rows, out):
    """The side-by-side tables of docs/benchmarks.md: aisec against ART's comparison rows (the same
    victim and layer for the training-set detectors)."""
    p = lambda *x: print(*x, file=out)
    sec = lambda name, tool=None: [r for r in rows if r["section"] == name and (tool is None or r["tool"] == tool)]
    pair = lambda a, b, spec=".3f": f"{fmt(a, spec)} / {fmt(b, spec)}"
    speed = lambda ours, ref, key="seconds": (fmt(ref[key] / ours[key], ".1f")
                                             if ours and ref and ours.get(key) and ref.get(key) else "-")

    p("| kind | rate | poisoned rows | clean acc aisec / ART | drop aisec / ART | ASR aisec / ART | "
      "seconds aisec / ART | x ART |")
    p("|---|---|---|---|---|---|---|---|")
    for r in sec("badnets", "aisec"):
        ref = next((x for x in sec("badnets", "art") if x["kind"] == r["kind"] and x["rate"] == r["rate"]), None)
        if ref is None:
            continue
        p(f"| {r['kind']} | {'twin' if r['rate'] == 0 else format(r['rate'], 'g')} | {r['poisoned_rows']} | "
          f"{pair(r['clean_accuracy'], ref['clean_accuracy'])} | "
          f"{pair(r.get('accuracy_drop'), ref.get('accuracy_drop'), '+.3f')} | {pair(r['asr'], ref['asr'])} | "
          f"{pair(r['seconds'], ref['seconds'], '.2f')} | {speed(r, ref)} |")

    p("")
    p("| kind | rate | detector aisec / ART | flagged aisec / ART | precision aisec / ART | recall aisec / ART | "
      "acc after aisec / ART | ASR after aisec / ART | seconds aisec / ART | x ART |")
    p("|---|---|---|---|---|---|---|---|---|---|")
    for r in sec("training-set", "aisec"):
        ref = next((x for x in sec("training-set", "art") if x["kind"] == r["kind"] and x["rate"] == r["rate"]
                    and x["detector"] == r.get("art_detector") and x.get("total_seconds") is not None), None)
        if ref is None:
            continue
        p(f"| {r['kind']} | {r['rate']:g} | {r['detector']} / {ref['detector']} @{ref['layer']} | "
          f"{pair(r['flagged'], ref['flagged'], 'd')} | {pair(r['precision'], ref['precision'])} | "
          f"{pair(r['recall'], ref['recall'])} | {pair(r.get('clean_accuracy_after'), ref.get('clean_accuracy_after'))} | "
          f"{pair(r.get('asr_after'), ref.get('asr_after'))} | "
          f"{pair(r['total_seconds'], ref['total_seconds'], '.2f')} | {speed(r, ref, 'total_seconds')} |")

    p("")
    p("| kind | model | tool | smallest-norm class | anomaly index | flagged | norm min / median | "
      "steps per class | seconds | x ART |")
    p("|---|---|---|---|---|---|---|---|---|---|")
    for r in sec("neural-cleanse"):
        ref = (next((x for x in sec("neural-cleanse", "art") if x["kind"] == r["kind"] and x["model"] == r["model"]
                     and x["variant"] == "as shipped"), None) if r["tool"] != "art" else None)
        tool = "aisec" if r["tool"] == "aisec" else f"ART ({r['variant']})"
        norms = r.get("norms") or [0]
        p(f"| {r['kind']} | {r['model']} | {tool} | {r['smallest_norm_class']} | {fmt(r['anomaly_index'], '.2f')} | "
          f"{r['flagged']} | {min(norms):.2f} / {float(np.median(norms)):.2f} | "
          f"{fmt(r.get('adam_steps_per_class'), '.0f')} | {r['seconds']:.1f} | {speed(r, ref) if ref else ''} |")

    p("")
    p("| kind | model | tool | FRR (target) | detection | seconds | x ART |")
    p("|---|---|---|---|---|---|---|")
    for r in sec("strip"):
        ref = (next((x for x in sec("strip", "art") if x["kind"] == r["kind"] and x["variant"] == "as shipped"), None)
               if r["tool"] != "art" else None)
        tool = "aisec" if r["tool"] == "aisec" else f"ART ({r['variant']})"
        p(f"| {r['kind']} | {r['model']} | {tool} | {r['frr']:.3f} ({r['frr_target']:g}) | {r['detection']:.3f} | "
          f"{r['seconds']:.2f} | {speed(r, ref) if ref else ''} |")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    floats = lambda s: [float(v) for v in s.split(",") if v]
    ap.add_argument("--export-digits", type=Path, metavar="DIR",
                    help="write scikit-learn's digits, split 80/20 (--seed), to DIR and exit")
    ap.add_argument("--data", type=Path, help="directory with train_x/train_y/test_x/test_y .npy")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--rates", type=floats, default=[0.01, 0.05, 0.1])
    ap.add_argument("--target", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=Path("/work/bench-data/poison/work"),
                    help="where the trained models and intermediate files go")
    ap.add_argument("--only-reference", action="store_true", help="do not run aisec")
    ap.add_argument("--aisec", help="aisec command, e.g. /work/target-bench/release/aisec; its `attack poison` "
                    "artifacts (split, trigger, poisoned rows, models) then replace --data")
    ap.add_argument("--aisec-defenses", default="ac,ss,fine-prune",
                    help="`attack poison --defense` values to ask for (those this build offers)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--table", type=Path)
    ap.add_argument("--markdown", type=Path, help="also write the side-by-side tables of docs/benchmarks.md here")
    ap.add_argument("--from-json", type=Path, help="print the tables of an earlier --json run and exit")
    g = ap.add_argument_group("training (aisec models train's defaults)")
    g.add_argument("--epochs", type=int, default=60)
    g.add_argument("--lr", type=float, default=0.01)
    g.add_argument("--batch-size", type=int, default=64)
    g.add_argument("--patience", type=int, default=8)
    g = ap.add_argument_group("training-set defenses")
    g.add_argument("--layers", default="aisec,penultimate",
                   help="where ART's detectors read: aisec (the layer aisec's detectors read: the last convolution "
                        "block of a CNN, else the penultimate representation), conv, penultimate (the papers'), "
                        "logits (what ART picks for a PyTorch nn.Sequential by itself)")
    g.add_argument("--skip-retrain", action="store_true", help="do not retrain without ART's flagged rows")
    g.add_argument("--ac-analysis", default="smaller,silhouette-scores",
                   help="ART's cluster analyses: smaller (its default), silhouette-scores, distance, relative-size "
                        "(crashes in ART 1.20.1 when a class has no small cluster: shown as an error)")
    g.add_argument("--ss-expected", default="0.33,rate",
                   help="SpectralSignatureDefense expected_pp_poison values: numbers, or `rate` for the true rate")
    g = ap.add_argument_group("Neural Cleanse and STRIP")
    g.add_argument("--nc-rate", type=float, default=0.05, help="the backdoored model they test")
    g.add_argument("--tf-python", default="/work/bench-venv-tf/bin/python", help="python of the TF venv")
    g.add_argument("--nc-steps", type=int, default=100,
                   help="ART `steps` (passes over the clean rows) per class; ART's default 1000 always runs to the "
                        "end (its cost schedule never lets early stopping fire), 10x the time")
    g.add_argument("--nc-variants", default="as shipped,reinit",
                   help="`as shipped` and/or `reinit` (a fresh random mask and pattern per class, as in the paper)")
    g.add_argument("--nc-batch-size", type=int, default=32)
    g.add_argument("--nc-lr", type=float, default=0.1)
    g.add_argument("--nc-init-cost", type=float, default=1e-3)
    g.add_argument("--skip-nc", action="store_true")
    g.add_argument("--no-nc-cache", action="store_true", help="rerun ART's Neural Cleanse even where a result "
                   "for the same weights, rows and settings is kept under --work/nc-cache")
    g.add_argument("--aisec-nc-steps", type=int, help="aisec defend backdoor --steps (default: aisec's own)")
    g.add_argument("--strip-frr", type=float, default=0.01, help="target false rejection rate on clean rows")
    g.add_argument("--strip-samples", type=int, default=100,
                   help="superimposed copies per input, both sides (the paper's N; ART's default is 20)")
    g.add_argument("--skip-strip", action="store_true")
    a = ap.parse_args(argv)
    if a.export_digits or a.from_json:
        return a
    if not a.only_reference and not a.aisec:
        ap.error("give --aisec CMD or --only-reference")
    if a.only_reference:
        a.aisec = None
    if not a.data and not a.aisec:
        ap.error("give --data DIR (or --export-digits DIR) or --aisec CMD")
    a.kinds = [k for k in a.kinds.split(",") if k]
    a.layers = [v for v in a.layers.split(",") if v]
    a.ac_analysis = [v for v in a.ac_analysis.split(",") if v]
    a.ss_expected = [v for v in a.ss_expected.split(",") if v]
    a.nc_variants = [v for v in a.nc_variants.split(",") if v]
    a.aisec_defenses = [v for v in a.aisec_defenses.split(",") if v]
    return a


def main(argv=None):
    a = parse_args(argv)
    if a.export_digits:
        export_digits(a.export_digits, a.seed)
        return 0
    if a.from_json:
        saved = json.loads(a.from_json.read_text())
        print(saved["data"] + "\n")
        print_tables(saved["results"])
        if a.markdown:
            with a.markdown.open("w") as f:
                print_markdown(saved["results"], f)
        return 0
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    import art
    import sklearn

    versions = {"torch": torch.__version__, "art": art.__version__, "numpy": np.__version__,
                "scikit-learn": sklearn.__version__}
    a.defend = False
    if a.aisec:
        versions["aisec"] = subprocess.run([*shlex.split(a.aisec), "--version"], capture_output=True, text=True,
                                           check=True).stdout.strip()
        a.defend = aisec_has_defend(a)
        if not a.defend:
            log("this aisec has no `defend backdoor`: Neural Cleanse and STRIP run on ART's side only")
    rows, header, commands = [], None, {}
    for kind in a.kinds:
        if a.aisec:
            log(f"{kind}: aisec attack poison")
            report, artifacts, wall, command = run_aisec_poison(kind, a)
            commands[kind] = command
            aisec_rows(kind, report, wall, command, rows)
            log(f"{kind}: aisec done in {wall:.1f} s (process)")
            data = load_aisec_artifacts(artifacts, a.rates)
            source = f"aisec's split ({report['metrics']['poison']['data']}, {artifacts})"
        else:
            data = load_split(a.data)
            data["mask"], data["pattern"] = default_trigger(tuple(data["train_x"].shape[1:]))
            data["poison_idx"], data["poisoned"] = {}, {}
            source = str(a.data)
        if header is None:
            header = (f"data {source}: {len(data['train_y'])} train / {len(data['test_y'])} test rows, input "
                      f"{list(data['train_x'].shape[1:])}; target class {a.target}; seed {a.seed}; one thread; "
                      + ", ".join(f"{k} {v}" for k, v in versions.items())
                      + f"; load average {os.getloadavg()[0]:.1f}")
            print(header, flush=True)
        run_kind(kind, data, a, rows)
        data.pop("models", None)
    print()
    print_tables(rows)
    if a.table:
        a.table.parent.mkdir(parents=True, exist_ok=True)
        with a.table.open("w") as f:
            f.write(header + "\n\n")
            print_tables(rows, f)
    if a.markdown:
        a.markdown.parent.mkdir(parents=True, exist_ok=True)
        with a.markdown.open("w") as f:
            print_markdown(rows, f)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        params = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()}
        a.json.write_text(json.dumps({"data": header, "threads": 1, "versions": versions, "params": params,
                                      "aisec_commands": commands,
                                      "trigger": {"mask": data["mask"].tolist(), "pattern": data["pattern"].tolist()},
                                      "results": rows}, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
