"""Model extraction, membership inference and model inversion: aisec against IBM ART on the same
models and data.

`--export DIR` writes the inputs from scikit-learn's copy of digits (the file aisec's built-in set
reads), pixels / 16 as [N, 1, 8, 8] float32, int64 labels, one seeded shuffle:

- `members.npz` / `non_members.npz`: the two halves of the shuffle (x, y). The membership target is
  trained on `members.npz` only (`aisec models train --split all`, no regularisation, no early
  stopping): the deliberately overfit model of the issue.
- `victim_train.npz`, `pool.npz`, `test.npz`: 50% / 30% / 20% of the shuffle for extraction. The
  victim is trained on `victim_train.npz`; the attacker queries rows of `pool.npz` (labels unused
  except by ART's adaptive strategy, which needs them); fidelity (agreement with the victim) and
  the copy's accuracy are measured on `test.npz`.

Then, with `--data DIR --aisec CMD` (the models are trained by aisec once, under --work, and both
tools attack the same files):

1. Extraction: ART's KnockoffNets (random and adaptive) and CopycatCNN against `aisec attack extract
   --method knockoff|copycat`, the same surrogate architecture (the MLP of `aisec models train`),
   per query budget: fidelity, the copy's accuracy, wall time.
2. Membership inference: ART's MembershipInferenceBlackBox (supervised: its attack model learns from
   half of the members and non-members, and every figure here is measured on the other half), ART's
   shadow models feeding that attack model, against aisec's LOSS, shadow, LiRA and RMIA
   (`aisec attack privacy --model ... --members ... --non-members ...`): AUC, TPR at 0.1% and 1%
   FPR on the same evaluation half, wall time.
3. Model inversion: ART's MIFace against aisec's (`--attack inversion`): per class, the model's
   confidence in its class on the reconstruction, whether the nearest class mean of the member rows
   is that class, wall time.

Every reference run is on one thread (torch, numpy); aisec runs with `--threads 1`.

    /work/bench-venv-ml/bin/python bench/privacy_compare.py --export /work/bench-data/privacy
    /work/bench-venv-ml/bin/python bench/privacy_compare.py --data /work/bench-data/privacy \\
        --aisec target/release/aisec --json bench/results/privacy.json --table bench/results/privacy.txt
"""

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("TQDM_DISABLE", "1")

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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import ml_arch  # noqa: E402

torch.set_num_threads(1)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# --- data -----------------------------------------------------------------------------------------

def export(out, seed):
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = d.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    out.mkdir(parents=True, exist_ok=True)
    half = len(y) // 2
    parts = {"members": order[:half], "non_members": order[half:]}
    a, b = int(round(0.5 * len(y))), int(round(0.8 * len(y)))
    parts.update({"victim_train": order[:a], "pool": order[a:b], "test": order[b:]})
    for name, idx in parts.items():
        np.savez(out / f"{name}.npz", x=x[idx], y=y[idx])
    (out / "split.json").write_text(json.dumps({
        "source": "sklearn.datasets.load_digits", "scale": "pixels / 16", "seed": seed,
        "shuffle": "numpy default_rng(seed).permutation", **{k: len(v) for k, v in parts.items()}}, indent=1) + "\n")
    log(f"wrote {', '.join(f'{k} ({len(v)})' for k, v in parts.items())} to {out}")


def load(d, name):
    z = np.load(d / f"{name}.npz")
    return z["x"].astype(np.float32), z["y"].astype(np.int64)


def onehot(y, n=10):
    out = np.zeros((len(y), n), dtype=np.float32)
    out[np.arange(len(y)), y] = 1.0
    return out


# --- metrics (the conventions aisec's roc.rs follows) --------------------------------------------

def roc_figures(member_scores, non_member_scores):
    """AUC (ties count half) and the highest TPR whose FPR is at most 0.1% and 1%."""
    from sklearn.metrics import roc_auc_score, roc_curve

    s = np.concatenate([member_scores, non_member_scores]).astype(np.float64)
    t = np.concatenate([np.ones(len(member_scores)), np.zeros(len(non_member_scores))])
    fpr, tpr, _ = roc_curve(t, s)

    def at(limit):
        ok = fpr <= limit + 1e-12
        return float(tpr[ok].max()) if ok.any() else 0.0

    return {"auc": float(roc_auc_score(t, s)), "tpr_at_0.1%": at(0.001), "tpr_at_1%": at(0.01)}


def eval_halves(n_members, n_non, seed):
    """Which rows of each side the supervised ART attack learns from (True) and which every tool is
    measured on (False): half of each, seeded."""
    rng = np.random.default_rng(seed + 7)
    m = np.zeros(n_members, bool)
    m[rng.permutation(n_members)[: n_members // 2]] = True
    n = np.zeros(n_non, bool)
    n[rng.permutation(n_non)[: n_non // 2]] = True
    return m, n


# --- models ---------------------------------------------------------------------------------------

def aisec_train(a, data, out, epochs, patience):
    if (out / "architecture.json").exists():
        return
    cmd = [*shlex.split(a.aisec), "models", "train", "--data", str(data), "--split", "all", "--kind", "mlp",
           "--out", str(out), "--epochs", str(epochs), "--patience", str(patience), "--lr", str(a.lr),
           "--batch-size", str(a.batch_size), "--seed", str(a.seed), "--threads", "1"]
    log("$ " + shlex.join(cmd))
    subprocess.run(cmd, check=True, capture_output=True, text=True)


def art_classifier(net, arch, fit_epochs=None, batch_size=64, lr=0.01):
    """ART's PyTorchClassifier around `net`; with `fit_epochs`, a `fit` whose default epochs and batch
    follow aisec's recipe (ART's shadow models call `fit(x, y)` with nothing else)."""
    from art.estimators.classification import PyTorchClassifier

    class Recipe(PyTorchClassifier):
        def fit(self, x, y, batch_size=batch_size, nb_epochs=fit_epochs or 10, **kwargs):
            return super().fit(x, y, batch_size=batch_size, nb_epochs=nb_epochs, **kwargs)

    cls = Recipe if fit_epochs else PyTorchClassifier
    return cls(model=net, loss=torch.nn.CrossEntropyLoss(), optimizer=torch.optim.Adam(net.parameters(), lr=lr),
               input_shape=tuple(arch["input_shape"]), nb_classes=arch["num_classes"], clip_values=(0.0, 1.0),
               device_type="cpu")


def with_softmax(net):
    """The network with a softmax on top: ART's attacks read probabilities from `predict` (and MIFace
    follows the gradient of the class probability)."""
    return torch.nn.Sequential(net, torch.nn.Softmax(dim=1)).eval()


def predict(net, x):
    with torch.no_grad():
        return torch.softmax(net(torch.from_numpy(x)), 1).numpy()


def agreement(a_net_or_probs, victim_probs, y):
    p = a_net_or_probs
    return float((p.argmax(1) == victim_probs.argmax(1)).mean()), float((p.argmax(1) == y).mean())


# --- 1. extraction --------------------------------------------------------------------------------

def art_extraction(a, victim_dir, d, rows):
    from art.attacks.extraction import CopycatCNN, KnockoffNets

    victim, arch = ml_arch.load(victim_dir)
    victim_clf = art_classifier(with_softmax(victim), arch)
    pool_x, pool_y = load(d, "pool")
    test_x, test_y = load(d, "test")
    victim_test = predict(victim, test_x)
    for method, strategy in (("knockoff", "random"), ("knockoff", "adaptive"), ("copycat", None)):
        for budget in a.budgets:
            if budget > len(pool_x):
                continue
            seed_all(a.seed)
            thief_net = ml_arch.Net(arch)
            thief = art_classifier(thief_net, arch, lr=a.lr)
            start = time.perf_counter()
            if method == "knockoff":
                attack = KnockoffNets(classifier=victim_clf, batch_size_fit=a.batch_size, batch_size_query=a.batch_size,
                                      nb_epochs=a.extract_epochs, nb_stolen=budget, sampling_strategy=strategy,
                                      use_probability=True)
                stolen = attack.extract(pool_x, pool_y if strategy == "adaptive" else None, thieved_classifier=thief)
            else:
                attack = CopycatCNN(classifier=victim_clf, batch_size_fit=a.batch_size, batch_size_query=a.batch_size,
                                    nb_epochs=a.extract_epochs, nb_stolen=budget, use_probability=False)
                stolen = attack.extract(pool_x, thieved_classifier=thief)
            wall = time.perf_counter() - start
            fidelity, acc = agreement(stolen.predict(test_x), victim_test, test_y)
            rows.append({"section": "extraction", "tool": "ART", "method": method, "strategy": strategy,
                         "budget": budget, "fidelity": fidelity, "accuracy": acc, "seconds": wall})
            log(f"ART {method} {strategy or ''} {budget}: fidelity {fidelity:.3f} acc {acc:.3f} {wall:.1f}s")


# --- 2. membership inference ---------------------------------------------------------------------

def art_membership(a, target_dir, d, rows):
    from art.attacks.inference.membership_inference import MembershipInferenceBlackBox, ShadowModels

    target, arch = ml_arch.load(target_dir)
    clf = art_classifier(with_softmax(target), arch)
    clf_logits = art_classifier(target, arch)
    mx, my = load(d, "members")
    nx, ny = load(d, "non_members")
    m_train, n_train = eval_halves(len(my), len(ny), a.seed)
    base = {"section": "membership", "tool": "ART", "eval_members": int((~m_train).sum()),
            "eval_non_members": int((~n_train).sum())}
    for model_type, input_type in (("nn", "prediction"), ("rf", "prediction"), ("gb", "prediction"),
                                   ("nn", "loss")):
        seed_all(a.seed)
        start = time.perf_counter()
        attack = MembershipInferenceBlackBox(clf if input_type == "prediction" else clf_logits,
                                             input_type=input_type, attack_model_type=model_type)
        attack.fit(mx[m_train], onehot(my[m_train]), nx[n_train], onehot(ny[n_train]))
        sm = attack.infer(mx[~m_train], onehot(my[~m_train]), probabilities=True).reshape(-1)
        sn = attack.infer(nx[~n_train], onehot(ny[~n_train]), probabilities=True).reshape(-1)
        wall = time.perf_counter() - start
        fig = roc_figures(sm, sn)
        rows.append({**base, "attack": f"black-box {model_type} ({input_type}), knows half the membership",
                     **fig, "seconds": wall})
        log(f"ART MIA {model_type}/{input_type}: {fig} {wall:.1f}s")
    # Shadow models (Shokri et al.): the attack model learns from shadow models trained on random
    # halves of the population (members and non-members together, as aisec's reference models).
    seed_all(a.seed)
    start = time.perf_counter()
    template = art_classifier(ml_arch.Net(arch), arch, fit_epochs=a.target_epochs, batch_size=a.batch_size, lr=a.lr)
    shadows = ShadowModels(template, num_shadow_models=a.references, random_state=a.seed)
    px, py = np.concatenate([mx, nx]), np.concatenate([my, ny])
    (smx, smy, smp), (snx, sny, snp) = shadows.generate_shadow_dataset(px, onehot(py))
    attack = MembershipInferenceBlackBox(clf, attack_model_type="rf")
    attack.fit(smx, smy, snx, sny, smp, snp)
    sm = attack.infer(mx[~m_train], onehot(my[~m_train]), probabilities=True).reshape(-1)
    sn = attack.infer(nx[~n_train], onehot(ny[~n_train]), probabilities=True).reshape(-1)
    wall = time.perf_counter() - start
    fig = roc_figures(sm, sn)
    rows.append({**base, "attack": f"shadow models ({a.references}) + black-box rf", **fig, "seconds": wall})
    log(f"ART shadow: {fig} {wall:.1f}s")


# --- 3. model inversion ---------------------------------------------------------------------------

def inversion_figures(net, recon, class_means):
    probs = predict(net, recon.astype(np.float32))
    classes = np.arange(len(recon))
    flat = recon.reshape(len(recon), -1)
    dist = ((flat[:, None, :] - class_means[None, :, :]) ** 2).sum(-1)
    return {"mean_confidence": float(probs[classes, classes].mean()),
            "classified_as_target": float((probs.argmax(1) == classes).mean()),
            "nearest_mean_is_target": float((dist.argmin(1) == classes).mean())}


def art_inversion(a, target_dir, d, rows):
    from art.attacks.inference.model_inversion import MIFace

    target, arch = ml_arch.load(target_dir)
    clf = art_classifier(with_softmax(target), arch)
    mx, my = load(d, "members")
    means = np.stack([mx[my == c].reshape((my == c).sum(), -1).mean(0) for c in range(10)])
    seed_all(a.seed)
    start = time.perf_counter()
    attack = MIFace(clf, max_iter=a.inversion_iter, window_length=100, threshold=0.99, learning_rate=0.1,
                    batch_size=10, verbose=False)
    recon = attack.infer(np.zeros((10, 1, 8, 8), np.float32), np.arange(10))
    wall = time.perf_counter() - start
    fig = inversion_figures(target, recon, means)
    rows.append({"section": "inversion", "tool": "ART", "attack": "MIFace (zeros start)", **fig, "seconds": wall})
    log(f"ART MIFace: {fig} {wall:.1f}s")
    np.save(a.work / "art-miface.npy", recon)


# --- driver ---------------------------------------------------------------------------------------

def print_table(rows, out):
    for section in ("extraction", "membership", "inversion"):
        sel = [r for r in rows if r["section"] == section]
        if not sel:
            continue
        skip = ("section", "command", "seconds_note", "eval_members", "eval_non_members")
        keys = [k for k in sel[0] if k not in skip]
        for r in sel:
            keys += [k for k in r if k not in keys and k not in skip]
        print(f"\n## {section}\n", file=out)
        print(" | ".join(keys), file=out)
        print(" | ".join("---" for _ in keys), file=out)
        for r in sel:
            print(" | ".join(f"{r.get(k):.3f}" if isinstance(r.get(k), float) else str(r.get(k, "")) for k in keys),
                  file=out)


def ints(text):
    return [int(v) for v in text.split(",") if v]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--export", type=Path, metavar="DIR", help="write the inputs and exit")
    ap.add_argument("--data", type=Path, help="a directory --export wrote")
    ap.add_argument("--aisec", default="target/release/aisec", help="the aisec command (trains the models too)")
    ap.add_argument("--work", type=Path, default=Path("/work/bench-data/privacy-work"))
    ap.add_argument("--only", default="extraction,membership,inversion")
    ap.add_argument("--only-reference", action="store_true", help="do not run aisec's attacks")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--target-epochs", type=int, default=100, help="the overfit membership target's epochs")
    ap.add_argument("--extract-epochs", type=int, default=60, help="epochs of each surrogate training")
    ap.add_argument("--budgets", type=ints, default=[50, 100, 250, 500])
    ap.add_argument("--references", type=int, default=8, help="shadow / reference models")
    ap.add_argument("--inversion-iter", type=int, default=10000)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--table", type=Path)
    return ap.parse_args(argv)


def main():
    a = parse_args()
    if a.export:
        export(a.export, a.seed)
        return
    if not a.data:
        raise SystemExit("give --export DIR or --data DIR")
    a.work.mkdir(parents=True, exist_ok=True)
    victim_dir, target_dir = a.work / "victim", a.work / "target"
    aisec_train(a, a.data / "victim_train.npz", victim_dir, 60, 8)
    aisec_train(a, a.data / "members.npz", target_dir, a.target_epochs, 0)
    only = set(a.only.split(","))
    rows = []
    if "extraction" in only:
        art_extraction(a, victim_dir, a.data, rows)
        if not a.only_reference:
            aisec_extraction(a, victim_dir, a.data, rows)
    if "membership" in only:
        art_membership(a, target_dir, a.data, rows)
        if not a.only_reference:
            aisec_membership(a, target_dir, a.data, rows)
    if "inversion" in only:
        art_inversion(a, target_dir, a.data, rows)
        if not a.only_reference:
            aisec_inversion(a, target_dir, a.data, rows)
    print_table(rows, sys.stdout)
    if a.table:
        with a.table.open("w") as f:
            print_table(rows, f)
    if a.json:
        a.json.write_text(json.dumps({"rows": rows, "args": {k: str(v) for k, v in vars(a).items()}}, indent=1) + "\n")


def run_aisec(a, args, name):
    """One aisec command with a JSON report: (the report, process seconds, the command line)."""
    out = a.work / f"aisec-{name}.json"
    cmd = [*shlex.split(a.aisec), *args, "--threads", "1", "-f", "json", "-o", str(out), "--exit-zero"]
    log("$ " + shlex.join(cmd))
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                          env={**os.environ, "RAYON_NUM_THREADS": "1"})
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return json.loads(out.read_text()), wall, shlex.join(cmd)


def aisec_extraction(a, victim_dir, d, rows):
    budgets = ",".join(str(b) for b in a.budgets)
    common = ["attack", "extract", "--model", str(victim_dir), "--data", str(d / "test.npz"), "--split", "all",
              "--pool", str(d / "pool.npz"), "--surrogate", "mlp", "--budget", budgets, "--epochs",
              str(a.extract_epochs), "--patience", "0", "--lr", str(a.lr), "--batch-size", str(a.batch_size),
              "--seed", str(a.seed)]
    for strategy, methods in (("random", "knockoff,copycat"), ("adaptive", "knockoff")):
        report, wall, command = run_aisec(a, [*common, "--method", methods, "--strategy", strategy],
                                          f"extract-{strategy}")
        for attack in report["metrics"]["extract"]["run"]["attacks"]:
            if attack["defense"] != "none":
                continue
            method = "copycat" if attack["name"] == "copycat" else "knockoff"
            for p in attack["knockoff"]["points"]:
                rows.append({"section": "extraction", "tool": "aisec", "method": method,
                             "strategy": None if method == "copycat" else strategy, "budget": p["budget"],
                             "fidelity": p["fidelity"], "accuracy": p["accuracy"],
                             "seconds": p["query_seconds"] + p["train_seconds"], "process_seconds": wall,
                             "command": command})


def aisec_audit_args(a, target_dir, d):
    return ["attack", "privacy", "--model", str(target_dir), "--members", str(d / "members.npz"),
            "--non-members", str(d / "non_members.npz"), "--epochs", str(a.target_epochs), "--patience", "0",
            "--lr", str(a.lr), "--batch-size", str(a.batch_size), "--seed", str(a.seed)]


def aisec_membership(a, target_dir, d, rows):
    """aisec's attacks on the same target; every figure from its per-row scores on the evaluation
    half ART is measured on (the attacks themselves need no membership labels)."""
    attacks = "loss,shadow,lira,lira-offline,rmia,rmia-offline"
    artifacts = a.work / "aisec-membership-artifacts"
    report, wall, command = run_aisec(a, [*aisec_audit_args(a, target_dir, d), "--attack", attacks, "--references",
                                         str(a.references), "--artifacts", str(artifacts)], "membership")
    scores = json.loads((artifacts / "membership-scores.json").read_text())
    is_member = np.array(scores["is_member"])
    n_members = int(is_member.sum())
    m_train, n_train = eval_halves(n_members, len(is_member) - n_members, a.seed)
    evaluate = np.concatenate([~m_train, ~n_train])
    target = report["metrics"]["privacy"]["membership"]["targets"][0]
    seconds = {x["attack"]: x["seconds"] for x in target["attacks"]}
    shared = target["reference_seconds"]
    for name, values in scores["targets"][0]["scores"].items():
        v = np.array([np.nan if x is None else x for x in values], dtype=np.float64)
        v = np.nan_to_num(v, nan=-np.inf)
        keep = evaluate
        fig = roc_figures(v[keep & is_member], v[keep & ~is_member])
        uses_refs = name != "loss"
        rows.append({"section": "membership", "tool": "aisec", "attack": name, **fig,
                     "seconds": seconds.get(name, 0.0) + (shared if uses_refs else 0.0),
                     "seconds_note": f"attack + the {a.references} shared reference models" if uses_refs else
                     "attack only", "eval_members": int((keep & is_member).sum()),
                     "eval_non_members": int((keep & ~is_member).sum()), "process_seconds": wall,
                     "command": command})
        log(f"aisec {name}: {fig}")


def aisec_inversion(a, target_dir, d, rows):
    """aisec's MIFace twice: as configured by default (stop at confidence 0.99, the paper's
    criterion), and with threshold 1, which no class reaches, so that it runs until the cost stalls
    or --inversion-iter steps, as ART's loop does (ART's `active` test keeps every class whose cost
    is under its threshold going)."""
    for label, threshold in (("stop at 0.99", "0.99"), ("run on like ART", "1.0")):
        aisec_inversion_once(a, target_dir, d, rows, label, threshold)


def aisec_inversion_once(a, target_dir, d, rows, label, threshold):
    artifacts = a.work / "aisec-inversion-artifacts"
    report, wall, command = run_aisec(a, [*aisec_audit_args(a, target_dir, d), "--attack", "inversion",
                                         "--invert-steps", str(a.inversion_iter), "--invert-threshold", threshold,
                                         "--artifacts", str(artifacts)], "inversion")
    run = report["metrics"]["privacy"]["inversion"][0]["run"]
    classes = run["classes"]
    # The same three figures as ART's row, from aisec's own outcome (its recognisability by
    # correlation is reported beside them).
    rows.append({"section": "inversion", "tool": "aisec", "attack": f"MIFace (zeros start, {label})",
                 "mean_confidence": float(np.mean([c["confidence"] for c in classes])),
                 "classified_as_target": float(np.mean([c["predicted"] == c["class"] for c in classes])),
                 "nearest_mean_is_target": float(np.mean([c["nearest_mean"] == c["class"] for c in classes])),
                 "recognisable_by_correlation": run["recognisable"] / len(classes),
                 "seconds": run["seconds"], "process_seconds": wall, "command": command})


if __name__ == "__main__":
    main()
