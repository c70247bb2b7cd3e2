"""The aisec-ml model contract in PyTorch: `architecture.json` + `model.safetensors`.

One builder maps each layer kind of the contract to its torch module, so the reference side
(ART, torchattacks) attacks exactly the network aisec attacks. Weights are named
`layers.{i}.weight` / `.bias` (and `.running_mean` / `.running_var` for batch_norm), `i` being the
layer's position in the `layers` list. A trailing softmax / log_softmax is dropped: attacks see
logits.
"""

import json
from pathlib import Path

import torch
from torch import nn

FORMAT = "aisec-ml-architecture"


def _pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


def _layer(spec, shape):
    """The torch module for one layer spec, given the per-sample input shape it receives."""
    kind = spec["kind"]
    if kind == "linear":
        return nn.Linear(spec["in_features"], spec["out_features"])
    if kind == "conv2d":
        return nn.Conv2d(spec["in_channels"], spec["out_channels"], _pair(spec["kernel"]),
                         stride=_pair(spec.get("stride", 1)), padding=_pair(spec.get("padding", 0)))
    if kind in ("max_pool2d", "avg_pool2d"):
        kernel = _pair(spec["kernel"])
        args = dict(stride=_pair(spec.get("stride", kernel)), padding=_pair(spec.get("padding", 0)))
        # avg_pool2d keeps PyTorch's default count_include_pad=True: padded zeros count in the mean.
        return nn.MaxPool2d(kernel, **args) if kind == "max_pool2d" else nn.AvgPool2d(kernel, **args)
    if kind == "batch_norm":
        bn = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
        return bn(spec["num_features"], eps=spec.get("eps", 1e-5))
    simple = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "flatten": nn.Flatten}
    if kind in simple:
        return simple[kind]()
    if kind == "dropout":
        return nn.Dropout(spec.get("p", 0.5))
    if kind == "softmax":
        return nn.Softmax(dim=1)
    if kind == "log_softmax":
        return nn.LogSoftmax(dim=1)
    raise ValueError(f"unknown layer kind {kind!r}")


class Net(nn.Module):
    """`self.layers` is the nn.Sequential whose state-dict keys match the safetensors names."""

    def __init__(self, arch):
        super().__init__()
        specs = list(arch["layers"])
        while specs and specs[-1]["kind"] in ("softmax", "log_softmax"):
            specs.pop()
        shape = tuple(arch["input_shape"])
        modules = []
        with torch.no_grad():
            probe = torch.zeros((2, *shape))
            for spec in specs:
                module = _layer(spec, probe.shape[1:]).eval()
                probe = module(probe)
                modules.append(module)
        self.layers = nn.Sequential(*modules)
        self.input_shape = tuple(arch["input_shape"])
        self.num_classes = int(arch["num_classes"])
        self.input_range = tuple(float(v) for v in arch.get("input_range", (0.0, 1.0)))
        if probe.shape[1:] != (self.num_classes,):
            raise ValueError(f"network output {tuple(probe.shape[1:])} != num_classes {self.num_classes}")

    def forward(self, x):
        return self.layers(x)


def load(model_dir):
    """Read `architecture.json` + `model.safetensors` from `model_dir`; the model in eval mode."""
    from safetensors.torch import load_file

    model_dir = Path(model_dir)
    arch = json.loads((model_dir / "architecture.json").read_text())
    if arch.get("format") != FORMAT or arch.get("version") != 1:
        raise ValueError(f"{model_dir}/architecture.json: not {FORMAT} version 1")
    net = Net(arch)
    weights = load_file(str(model_dir / "model.safetensors"))
    expected = {k for k in net.state_dict() if not k.endswith("num_batches_tracked")}
    if set(weights) != expected:
        raise ValueError(f"weight names differ: missing {sorted(expected - set(weights))}, "
                         f"unexpected {sorted(set(weights) - expected)}")
    net.load_state_dict(weights, strict=False)
    return net.eval(), arch


def save(net, arch, model_dir):
    """Write `net` (a Net built from `arch`) in the contract's two files."""
    from safetensors.torch import save_file

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "architecture.json").write_text(json.dumps(arch, indent=1) + "\n")
    tensors = {k: v.detach().float().contiguous() for k, v in net.state_dict().items()
               if not k.endswith("num_batches_tracked")}
    save_file(tensors, str(model_dir / "model.safetensors"))
