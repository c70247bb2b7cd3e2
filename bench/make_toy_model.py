"""Train small torch models on digits and write them in aisec's model contract.

Writes, per model kind, OUT/KIND/{architecture.json, model.safetensors, test_x.npy, test_y.npy,
logits.npy} so `evasion_compare.py --only-reference` can run without the Rust side. Digits comes
from scikit-learn's bundled copy (no network); pixels 0..16 are divided by 16, the split is a
seeded shuffle (seed 0) whose last 20% is the test split, as in the brief. This is a stand-in for
`aisec models train`: numpy's shuffle is not aisec's, so the split differs from aisec's own.

    python bench/make_toy_model.py --out /work/bench-data/ml-toy [--kinds logreg,mlp,cnn]
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

import ml_arch

KINDS = {
    "logreg": ([64], [{"kind": "linear", "in_features": 64, "out_features": 10}]),
    "mlp": ([64], [
        {"kind": "linear", "in_features": 64, "out_features": 64}, {"kind": "relu"},
        {"kind": "dropout", "p": 0.1},
        {"kind": "linear", "in_features": 64, "out_features": 10}]),
    "cnn": ([1, 8, 8], [
        {"kind": "conv2d", "in_channels": 1, "out_channels": 16, "kernel": 3, "stride": 1, "padding": 1},
        {"kind": "batch_norm", "num_features": 16, "eps": 1e-5}, {"kind": "relu"},
        {"kind": "max_pool2d", "kernel": 2, "stride": 2, "padding": 0},
        {"kind": "conv2d", "in_channels": 16, "out_channels": 32, "kernel": 3, "stride": 1, "padding": 1},
        {"kind": "relu"},
        {"kind": "avg_pool2d", "kernel": 2, "stride": 2, "padding": 0},
        {"kind": "flatten"},
        {"kind": "linear", "in_features": 128, "out_features": 10},
        {"kind": "log_softmax"}]),
}


def digits_split(seed=0, test_fraction=0.2):
    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    cut = len(x) - int(round(test_fraction * len(x)))
    return (x[order[:cut]], y[order[:cut]]), (x[order[cut:]], y[order[cut:]])


def train(net, x, y, epochs, seed):
    torch.manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2, weight_decay=1e-4)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    net.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(xt)).split(64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx]).backward()
            opt.step()
    return net.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--kinds", default="logreg,mlp,cnn")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    (x_train, y_train), (x_test, y_test) = digits_split(args.seed)
    for kind in args.kinds.split(","):
        input_shape, layers = KINDS[kind]
        arch = {"format": ml_arch.FORMAT, "version": 1, "input_shape": input_shape, "num_classes": 10,
                "input_range": [0.0, 1.0], "class_names": [str(d) for d in range(10)], "layers": layers}
        # Train the logits network; the trailing log_softmax (if any) stays in the file only.
        net = train(ml_arch.Net(arch), x_train.reshape(-1, *input_shape), y_train, args.epochs, args.seed)
        out = args.out / kind
        ml_arch.save(net, arch, out)
        xt = x_test.reshape(-1, *input_shape)
        with torch.no_grad():
            logits = net(torch.from_numpy(xt)).numpy()
        np.save(out / "test_x.npy", xt)
        np.save(out / "test_y.npy", y_test)
        np.save(out / "logits.npy", logits)
        acc = float((logits.argmax(1) == y_test).mean())
        print(f"{kind}: test accuracy {acc:.3f} on {len(y_test)} points -> {out}")


if __name__ == "__main__":
    main()
