"""aisec's evasion attacks against IBM ART and torchattacks: same model, points, parameters.

Reads a model directory in aisec's contract (architecture.json + model.safetensors, see
ml_arch.py) holding the test split test_x.npy (float32, [N, *input_shape]) and test_y.npy
(int64), and optionally logits.npy (aisec's logits on test_x, checked against torch's). Runs each
attack with ART (all models) and torchattacks (image models with input range [0, 1]), and aisec
unless --only-reference, all on one thread. Prints a side-by-side table: robust accuracy, success
rate over the initially correct points, mean / max L2 and Linf perturbation over the successful
points, samples per second and its ratio to ART and torchattacks. Exits 1 when aisec's robust
accuracy differs from ART's by more than 0.02 for FGSM or PGD.

    /work/bench-venv-ml/bin/python bench/evasion_compare.py --model DIR --only-reference
    /work/bench-venv-ml/bin/python bench/evasion_compare.py --model DIR \\
        --aisec /work/target-bench/release/aisec --json /work/bench-results/evasion.json
"""

import os

# One thread everywhere; must be set before numpy / torch load their thread pools.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ml_arch  # noqa: E402

ATTACKS = ["fgsm", "pgd", "pgd-l2", "apgd", "cw", "deepfool", "square", "hsj"]
LINF_EPS = {"fgsm", "pgd", "apgd", "square"}
SLOW = {"cw", "square", "hsj"}  # attacked on the first --slow-limit points only
AGREEMENT = {"fgsm", "pgd", "pgd-l2"}  # robust accuracy must agree with ART within TOLERANCE
TOLERANCE = 0.02


class Counted(torch.nn.Module):
    """The attacked network, counting the rows it evaluates (queries, for black-box attacks).

    `shape` reshapes inputs first, so ART's Square (4-D inputs only) can run on a flat model. Inputs
    are cast to float32: ART's HopSkipJump hands float64 interpolations to predict."""

    def __init__(self, net, shape=None):
        super().__init__()
        self.net, self.shape, self.rows = net, shape, 0

    def forward(self, x):
        self.rows += x.shape[0]
        x = x.float()
        return self.net(x if self.shape is None else x.reshape(len(x), *self.shape))


def predict(net, x, batch=1024):
    with torch.no_grad():
        return np.concatenate([net(torch.from_numpy(x[i:i + batch])).numpy() for i in range(0, len(x), batch)])


def step_size(eps, a):
    return a.step_size if a.step_size is not None else a.step_ratio * eps


def image_shape(input_shape):
    """The image shape Square works on: the input's own, or a square 1-channel one for flat inputs."""
    if len(input_shape) == 3:
        return tuple(input_shape)
    side = int(round(np.prod(input_shape) ** 0.5))
    return (1, side, side) if side * side == np.prod(input_shape) else None


# --- reference tools ---------------------------------------------------------------------------

def art_attack(name, clf, eps, a, num_classes):
    from art.attacks import evasion as ev

    b = a.batch_size
    if name == "fgsm":
        return ev.FastGradientMethod(clf, norm=np.inf, eps=eps, num_random_init=0, batch_size=b)
    if name in ("pgd", "pgd-l2"):
        return ev.ProjectedGradientDescent(
            clf, norm=np.inf if name == "pgd" else 2, eps=eps, eps_step=step_size(eps, a),
            max_iter=a.steps, num_random_init=a.restarts if a.random_start else 0, batch_size=b, verbose=False)
    if name == "apgd":
        return ev.AutoProjectedGradientDescent(
            clf, norm=np.inf, eps=eps, eps_step=a.apgd_step_ratio * eps, max_iter=a.steps,
            nb_random_init=a.restarts, batch_size=b, loss_type="cross_entropy", verbose=False)
    if name == "cw":
        return ev.CarliniL2Method(
            clf, confidence=a.confidence, learning_rate=a.learning_rate,
            binary_search_steps=a.binary_search_steps, max_iter=a.cw_steps, initial_const=a.initial_const,
            batch_size=b, verbose=False)
    if name == "deepfool":
        return ev.DeepFool(clf, max_iter=a.deepfool_steps, epsilon=a.overshoot, nb_grads=num_classes,
                           batch_size=b, verbose=False)
    if name == "square":
        return ev.SquareAttack(clf, norm=np.inf, eps=eps, max_iter=a.queries, p_init=a.p_init, nb_restarts=1,
                               batch_size=b, verbose=False)
    if name == "hsj":
        return ev.HopSkipJump(clf, norm=2, max_iter=a.hsj_steps, max_eval=a.max_eval, init_eval=a.init_eval,
                              init_size=a.init_size, batch_size=b, verbose=False)
    raise ValueError(name)


def run_art(name, eps, ctx):
    from art.estimators.classification import PyTorchClassifier

    a, net = ctx["args"], ctx["net"]
    shape = tuple(net.input_shape)
    if name == "square" and len(shape) != 3:
        shape = image_shape(shape)
        if shape is None:
            return None
    model = Counted(net, None if shape == tuple(net.input_shape) else net.input_shape)
    clf = PyTorchClassifier(model=model, loss=torch.nn.CrossEntropyLoss(), input_shape=shape,
                            nb_classes=net.num_classes, clip_values=net.input_range, device_type="cpu")
    attack = art_attack(name, clf, eps, a, net.num_classes)
    x = ctx["x"].reshape(len(ctx["x"]), *shape)
    return lambda: attack.generate(x=x, y=ctx["y"]).reshape(ctx["x"].shape), model


def run_torchattacks(name, eps, ctx):
    import torchattacks as ta

    a, net = ctx["args"], ctx["net"]
    if len(net.input_shape) != 3 or net.input_range != (0.0, 1.0) or name == "hsj":
        return None  # torchattacks clamps to [0, 1], assumes [N, C, H, W], and has no HopSkipJump
    model = Counted(net).eval()
    attack = {
        "fgsm": lambda: ta.FGSM(model, eps=eps),
        "pgd": lambda: ta.PGD(model, eps=eps, alpha=step_size(eps, a), steps=a.steps, random_start=a.random_start),
        "pgd-l2": lambda: ta.PGDL2(model, eps=eps, alpha=step_size(eps, a), steps=a.steps,
                                   random_start=a.random_start),
        "apgd": lambda: ta.APGD(model, norm="Linf", eps=eps, steps=a.steps, n_restarts=a.restarts, seed=a.seed,
                                loss="ce"),
        # No binary search over c in torchattacks: one run at --cw-c for the same total step count.
        "cw": lambda: ta.CW(model, c=a.cw_c, kappa=a.confidence, steps=a.cw_steps * a.binary_search_steps,
                            lr=a.learning_rate),
        "deepfool": lambda: ta.DeepFool(model, steps=a.deepfool_steps, overshoot=a.overshoot),
        "square": lambda: ta.Square(model, norm="Linf", eps=eps, n_queries=a.queries, n_restarts=1,
                                    p_init=a.p_init, loss="margin", resc_schedule=True, seed=a.seed),
    }[name]()
    x, y = torch.from_numpy(ctx["x"]), torch.from_numpy(ctx["y"])
    b = a.batch_size
    return lambda: torch.cat([attack(x[i:i + b], y[i:i + b]) for i in range(0, len(x), b)]).detach().numpy(), model


def measure(ctx, x_adv):
    """Robust accuracy: the share of all points classified right both before and after the attack
    (ART's DeepFool and HopSkipJump attack the prediction, so they can move a misclassified point
    into its true class; plain accuracy on the adversarials, `adversarial_accuracy`, counts those).
    Success rate over the initially correct points; norms over the successful ones."""
    x, y, net = ctx["x"], ctx["y"], ctx["net"]
    adv_pred = predict(net, x_adv.astype(np.float32)).argmax(1)
    correct = ctx["clean_pred"] == y
    fooled = correct & (adv_pred != y)
    d = (x_adv - x).reshape(len(x), -1).astype(np.float64)
    l2, linf = np.linalg.norm(d, axis=1), np.abs(d).max(axis=1)
    out = {"robust_accuracy": float((correct & (adv_pred == y)).mean()),
           "adversarial_accuracy": float((adv_pred == y).mean()),
           "success_rate": float(fooled.sum() / max(correct.sum(), 1)),
           "n_success": int(fooled.sum()),
           "linf_max_all": float(linf.max())}
    for key, v in (("l2", l2), ("linf", linf)):
        out[f"{key}_mean"] = float(v[fooled].mean()) if fooled.any() else None
        out[f"{key}_max"] = float(v[fooled].max()) if fooled.any() else None
    return out


def timed(fn, a):
    """fn's first result and its median wall time over repeats (same seed) filling --min-time."""
    times, first = [], None
    while not times or (sum(times) < a.min_time and len(times) < 100):
        random.seed(a.seed)
        np.random.seed(a.seed)
        torch.manual_seed(a.seed)
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        first = result if first is None else first
    return first, float(np.median(times)), len(times)


def reference_row(tool, name, eps, ctx):
    prepared = (run_art if tool == "art" else run_torchattacks)(name, eps, ctx)
    if prepared is None:
        return None
    fn, model = prepared
    rows = []

    def once():
        model.rows = 0
        x_adv = fn()
        rows.append(model.rows)
        return x_adv

    x_adv, seconds, runs = timed(once, ctx["args"])
    n = len(ctx["x"])
    return {"tool": tool, "attack": name, "eps": eps, "n": n, "seconds": seconds, "runs": runs,
            "samples_per_s": n / seconds, "forward_rows_per_sample": rows[0] / n, **measure(ctx, x_adv)}


# --- aisec ------------------------------------------------------------------------------------

def aisec_command(aisec, data, labels, name, eps, a, limit):
    """The `aisec attack evasion` call for one attack at one eps, with this script's parameters."""
    cmd = [*shlex.split(aisec), "attack", "evasion", "--model", str(a.model), "--data", str(data),
           "--labels", str(labels), "-f", "json", "--exit-zero", "--threads", "1", "--seed", str(a.seed),
           "--batch-size", str(a.batch_size)]
    if limit:
        cmd += ["--limit", str(limit)]
    attack = {"pgd-l2": "pgd", "hsj": "hopskipjump"}.get(name, name)
    cmd += ["--attack", attack]
    # Minimum-norm attacks run once; their --eps only says where aisec reads its curve.
    cmd += ["--eps", repr(eps) if eps is not None else ",".join(map(repr, a.eps_l2))]
    cmd += ["--norm", "l2" if name in ("pgd-l2", "cw", "deepfool", "hsj") else "linf"]
    if name in ("pgd", "pgd-l2"):
        cmd += ["--steps", str(a.steps), "--step-size", repr(step_size(eps, a)), "--restarts", str(a.restarts)]
        cmd += [] if a.random_start else ["--no-random-start"]
    elif name == "apgd":  # aisec's first step is 2 x eps, like --apgd-step-ratio's default
        cmd += ["--steps", str(a.steps), "--restarts", str(a.restarts)]
    elif name == "cw":
        cmd += ["--confidence", repr(a.confidence), "--learning-rate", repr(a.learning_rate),
                "--binary-search-steps", str(a.binary_search_steps), "--steps", str(a.cw_steps),
                "--initial-const", repr(a.initial_const)]
    elif name == "deepfool":
        cmd += ["--steps", str(a.deepfool_steps), "--overshoot", repr(a.overshoot)]
    elif name == "square":
        cmd += ["--steps", str(a.queries), "--p-init", repr(a.p_init), "--restarts", "1"]
    elif name == "hsj":
        cmd += ["--steps", str(a.hsj_steps), "--max-eval", str(a.max_eval), "--init-eval", str(a.init_eval)]
    return cmd


def parse_aisec_report(report, name, eps):
    """One result row from aisec's JSON report for `name` at `eps` (None: a minimum-norm attack),
    with the keys of `measure()`. aisec's own `robust_accuracy` is the accuracy on the adversarial
    rows (`adversarial_accuracy` here); right-before-and-after is clean accuracy x (1 - success rate),
    exact for untargeted attacks since a success is a row right before and wrong after. `seconds` is
    aisec's attack time alone (no process start, model or data loading)."""
    run = report["metrics"]["evasion"]["runs"]["model"]
    if eps is None:
        m = run["minimum_norm"]
    else:
        m = next(p["metrics"] for p in run["points"] if abs(p["eps"] - eps) <= 1e-6 * max(1.0, eps))
    clean, success, n = run["clean_accuracy"], m["success_rate"], m["samples"]
    wins = success > 0
    q = m["queries"]
    return {"robust_accuracy": clean * (1.0 - success), "adversarial_accuracy": m["robust_accuracy"],
            "clean_accuracy": clean, "success_rate": success, "n_success": int(round(success * clean * n)),
            "l2_mean": m["mean_l2"] if wins else None, "l2_max": m["max_l2"] if wins else None,
            "linf_mean": m["mean_linf"] if wins else None, "linf_max": m["max_linf"] if wins else None,
            "linf_max_all": None, "seconds": m["seconds"], "n": n,
            "forward_rows_per_sample": (q["predictions"] + q["gradients"]) / n,
            "queries": q}


def aisec_row(name, eps, ctx):
    a = ctx["args"]
    cmd = aisec_command(a.aisec, ctx["data"], ctx["labels"], name, eps, a, len(ctx["x"]))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RAYON_NUM_THREADS": "1"}
    runs = []  # repeated like the reference tools (see timed), on aisec's own attack time
    while not runs or (sum(r["seconds"] for r in runs) < a.min_time and len(runs) < 100):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{shlex.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
        runs.append({**parse_aisec_report(json.loads(proc.stdout), name, eps), "process_seconds": wall})
    row = {**runs[0], "tool": "aisec", "attack": name, "eps": eps, "runs": len(runs), "command": shlex.join(cmd),
           "seconds": float(np.median([r["seconds"] for r in runs]))}
    if abs(row["clean_accuracy"] - ctx["clean"]) > 1e-9:
        raise RuntimeError(f"aisec's clean accuracy {row['clean_accuracy']} differs from torch's {ctx['clean']}: "
                           "the two sides do not compute the same model")
    row["samples_per_s"] = len(ctx["x"]) / row["seconds"]
    return row


# --- report -----------------------------------------------------------------------------------

def fmt(v, spec=".3f"):
    return "-" if v is None else format(v, spec)


def print_table(rows, out=sys.stdout):
    """One line per (attack, eps, tool); aisec's lines carry the speed ratios and the agreement check.

    rob.acc: right before and after the attack, over all points (both sides); adv.acc: accuracy on
    the adversarial points (aisec's own `robust_accuracy`). Success: over the points right before."""
    by_key = {(r["attack"], r["eps"], r["tool"]): r for r in rows}
    head = (f"{'attack':9} {'eps':>5} {'n':>4} {'tool':12} {'rob.acc':>7} {'adv.acc':>7} {'success':>7} "
            f"{'L2 mean':>7} {'L2 max':>7} {'Linf mean':>9} {'Linf max':>8} {'q/sample':>9} {'samples/s':>10} "
            f"{'x ART':>7} {'x TA':>7}  check")
    print(head, file=out)
    print("-" * len(head), file=out)
    failed = False
    for r in rows:
        art = by_key.get((r["attack"], r["eps"], "art"))
        ta = by_key.get((r["attack"], r["eps"], "torchattacks"))
        ratio = lambda ref: fmt(r["samples_per_s"] / ref["samples_per_s"], ".2f") if ref else ""
        art = art if r["tool"] != "art" else None  # ratios: torchattacks to ART, aisec to both
        ta = ta if r["tool"] == "aisec" else None
        check = ""
        if r["tool"] == "aisec" and r["attack"] in AGREEMENT and art:
            diff = abs(r["robust_accuracy"] - art["robust_accuracy"])
            failed |= diff > TOLERANCE
            check = f"|d| {diff:.3f} {'ok' if diff <= TOLERANCE else 'FAIL'}"
        print(f"{r['attack']:9} {fmt(r['eps'], '.3g'):>5} {r['n']:>4} {r['tool']:12} {fmt(r['robust_accuracy']):>7} "
              f"{fmt(r['adversarial_accuracy']):>7} {fmt(r['success_rate']):>7} {fmt(r['l2_mean']):>7} "
              f"{fmt(r['l2_max']):>7} {fmt(r['linf_mean']):>9} {fmt(r['linf_max']):>8} "
              f"{fmt(r['forward_rows_per_sample'], '.1f'):>9} {fmt(r['samples_per_s'], '.1f'):>10} "
              f"{ratio(art):>7} {ratio(ta):>7}  {check}", file=out)
    return failed


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    floats = lambda s: [float(v) for v in s.split(",") if v]
    ap.add_argument("--model", required=True, type=Path, help="model dir (architecture.json, model.safetensors, "
                    "test_x.npy, test_y.npy, optional logits.npy)")
    ap.add_argument("--attacks", default=",".join(ATTACKS), help="subset of " + ",".join(ATTACKS))
    ap.add_argument("--tools", default="art,torchattacks", help="reference tools to run")
    ap.add_argument("--aisec", help="aisec command, e.g. /work/target-bench/release/aisec")
    ap.add_argument("--only-reference", action="store_true", help="do not run aisec")
    ap.add_argument("--json", type=Path, help="write parameters and results here")
    ap.add_argument("--limit", type=int, help="attack only the first N test points")
    ap.add_argument("--slow-limit", type=int, default=50,
                    help="C&W, Square and HopSkipJump attack only the first N of those points (0: all)")
    ap.add_argument("--table", type=Path, help="also write the table here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--min-time", type=float, default=1.0,
                    help="repeat an attack faster than this many seconds and report the median time")
    g = ap.add_argument_group("FGSM, PGD, APGD, Square")
    g.add_argument("--eps", type=floats, default=[0.05, 0.1, 0.2, 0.3], help="Linf budgets")
    g.add_argument("--eps-l2", type=floats, default=[0.5, 1.0, 2.0], help="L2 budgets (pgd-l2)")
    g.add_argument("--steps", type=int, default=40, help="PGD / APGD iterations")
    g.add_argument("--step-size", type=float, help="PGD step (absolute); default --step-ratio x eps")
    g.add_argument("--step-ratio", type=float, default=0.25)
    g.add_argument("--restarts", type=int, default=1, help="PGD / APGD runs, each from a random start")
    g.add_argument("--no-random-start", dest="random_start", action="store_false",
                   help="PGD starts at x (one run)")
    g.add_argument("--apgd-step-ratio", type=float, default=2.0, help="APGD initial step = ratio x eps")
    g = ap.add_argument_group("C&W L2")
    g.add_argument("--confidence", type=float, default=0.0)
    g.add_argument("--learning-rate", type=float, default=0.01)
    g.add_argument("--binary-search-steps", type=int, default=10)
    g.add_argument("--cw-steps", type=int, default=10, help="iterations per binary-search step")
    g.add_argument("--initial-const", type=float, default=0.01)
    g.add_argument("--cw-c", type=float, default=1.0, help="torchattacks' fixed c (it has no binary search)")
    g = ap.add_argument_group("DeepFool")
    g.add_argument("--deepfool-steps", type=int, default=50)
    g.add_argument("--overshoot", type=float, default=0.02)
    g = ap.add_argument_group("Square (Linf)")
    g.add_argument("--queries", type=int, default=1000, help="iterations (ART max_iter, torchattacks n_queries)")
    g.add_argument("--p-init", type=float, default=0.8)
    g = ap.add_argument_group("HopSkipJump (L2)")
    g.add_argument("--hsj-steps", type=int, default=20, help="ART's default is 50, 4x the queries")
    g.add_argument("--max-eval", type=int, default=10000)
    g.add_argument("--init-eval", type=int, default=100)
    g.add_argument("--init-size", type=int, default=100)
    a = ap.parse_args(argv)
    unknown = set(a.attacks.split(",")) - set(ATTACKS)
    if unknown:
        ap.error(f"unknown attacks {sorted(unknown)}")
    if not a.only_reference and not a.aisec:
        ap.error("give --aisec CMD or --only-reference")
    return a


def load_case(a):
    net, arch = ml_arch.load(a.model)
    x = np.load(a.model / "test_x.npy").astype(np.float32)
    y = np.load(a.model / "test_y.npy").astype(np.int64)
    if x.shape[1:] != net.input_shape or len(y) != len(x):
        raise SystemExit(f"test_x {x.shape} / test_y {y.shape} do not fit input_shape {net.input_shape}")
    lo, hi = net.input_range
    if x.min() < lo or x.max() > hi or y.min() < 0 or y.max() >= net.num_classes:
        raise SystemExit("test_x outside input_range or test_y outside 0..num_classes-1")
    logits = predict(net, x)
    diff = None
    if (a.model / "logits.npy").exists():
        ref = np.load(a.model / "logits.npy")
        diff = float(np.abs(ref - logits).max())
        if diff > 1e-4 * max(1.0, float(np.abs(ref).max())):
            raise SystemExit(f"torch logits differ from logits.npy by {diff:.3g}: the model does not load the same")
    if a.limit:
        x, y, logits = x[:a.limit], y[:a.limit], logits[:a.limit]
    return {"net": net, "arch": arch, "x": x, "y": y, "clean_pred": logits.argmax(1), "logits_max_abs_diff": diff}


def main(argv=None):
    a = parse_args(argv)
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    ctx = load_case(a)
    ctx["args"] = a
    import art
    import torchattacks
    versions = {"torch": torch.__version__, "art": art.__version__, "torchattacks": torchattacks.__version__,
                "numpy": np.__version__}
    clean = float((ctx["clean_pred"] == ctx["y"]).mean())
    header = (f"model {a.model}: input {list(ctx['net'].input_shape)}, {len(ctx['y'])} points, clean accuracy "
          f"{clean:.3f}, logits vs logits.npy max |diff| {fmt(ctx['logits_max_abs_diff'], '.2e')}; one thread; "
          + ", ".join(f"{k} {v}" for k, v in versions.items()) + f"; load average {os.getloadavg()[0]:.1f}")
    print(header, flush=True)
    tools = [t for t in a.tools.split(",") if t]
    ctx["clean"] = clean
    # aisec reads the same files and takes their first N rows (--limit), like ctx["x"] here.
    ctx["data"], ctx["labels"] = a.model / "test_x.npy", a.model / "test_y.npy"
    rows = []
    for name in a.attacks.split(","):
        sub = ctx
        if name in SLOW and a.slow_limit and a.slow_limit < len(ctx["x"]):
            k = a.slow_limit
            sub = {**ctx, "x": ctx["x"][:k], "y": ctx["y"][:k], "clean_pred": ctx["clean_pred"][:k]}
            sub["clean"] = float((sub["clean_pred"] == sub["y"]).mean())
        budgets = a.eps if name in LINF_EPS else a.eps_l2 if name == "pgd-l2" else [None]
        for eps in budgets:
            for tool in tools + ([] if a.only_reference else ["aisec"]):
                row = aisec_row(name, eps, sub) if tool == "aisec" else reference_row(tool, name, eps, sub)
                if row:
                    rows.append(row)
                    print(f"  {name} eps={fmt(eps, '.3g')} {tool}: {row['seconds']:.2f} s, "
                          f"robust accuracy {row['robust_accuracy']:.3f}", file=sys.stderr, flush=True)
    print()
    failed = print_table(rows)
    if a.table:
        a.table.parent.mkdir(parents=True, exist_ok=True)
        with a.table.open("w") as f:
            f.write(header + "\n\n")
            print_table(rows, f)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        params = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()}
        a.json.write_text(json.dumps({"model": str(a.model), "n": len(ctx["y"]), "clean_accuracy": clean,
                                      "input_shape": list(ctx["net"].input_shape), "threads": 1,
                                      "logits_max_abs_diff": ctx["logits_max_abs_diff"], "versions": versions,
                                      "params": params, "results": rows}, indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
