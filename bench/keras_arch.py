"""The aisec-ml model contract (architecture.json + model.safetensors) as a Keras 3 model.

IBM ART's Neural Cleanse runs on Keras classifiers only, so bench/poison_nc_keras.py rebuilds our
network in Keras with the same weights. Keras convolutions on the CPU want channels-last inputs, so
the Keras model takes [H, W, C] images; before a flatten it permutes back to [C, H, W], so that the
flattened order, and with it the next linear layer's weights, are PyTorch's. The output is logits
(a trailing softmax / log_softmax is dropped, as in ml_arch.py).

Covers the layer kinds of `aisec models train --kind logistic|mlp|cnn`: linear, conv2d, relu,
max_pool2d (no padding), flatten; anything else is refused rather than approximated.
"""

import json
from pathlib import Path

import numpy as np

FORMAT = "aisec-ml-architecture"


def _pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


def load(model_dir):
    """(keras model taking channels-last inputs, arch dict) for the model in `model_dir`."""
    import keras
    from safetensors.numpy import load_file

    model_dir = Path(model_dir)
    arch = json.loads((model_dir / "architecture.json").read_text())
    if arch.get("format") != FORMAT or arch.get("version") != 1:
        raise ValueError(f"{model_dir}/architecture.json: not {FORMAT} version 1")
    weights = load_file(str(model_dir / "model.safetensors"))
    specs = list(arch["layers"])
    while specs and specs[-1]["kind"] in ("softmax", "log_softmax"):
        specs.pop()
    shape = tuple(arch["input_shape"])
    image = len(shape) == 3
    inp = keras.Input(shape=(shape[1], shape[2], shape[0]) if image else shape)
    h, channels_last, used = inp, image, set()
    for i, spec in enumerate(specs):
        kind = spec["kind"]
        if kind == "conv2d":
            if not channels_last:
                raise ValueError(f"layer {i}: conv2d after a flatten")
            pad = _pair(spec.get("padding", 0))
            if any(pad):
                h = keras.layers.ZeroPadding2D(pad)(h)
            w = weights[f"layers.{i}.weight"]  # [out, in, kh, kw]
            bias = f"layers.{i}.bias" in weights
            layer = keras.layers.Conv2D(spec["out_channels"], _pair(spec["kernel"]),
                                        strides=_pair(spec.get("stride", 1)), use_bias=bias)
            h = layer(h)
            layer.set_weights([np.transpose(w, (2, 3, 1, 0))] + ([weights[f"layers.{i}.bias"]] if bias else []))
            used |= {f"layers.{i}.weight", f"layers.{i}.bias"}
        elif kind == "linear":
            w = weights[f"layers.{i}.weight"]  # [out, in]
            bias = f"layers.{i}.bias" in weights
            layer = keras.layers.Dense(spec["out_features"], use_bias=bias)
            h = layer(h)
            layer.set_weights([w.T] + ([weights[f"layers.{i}.bias"]] if bias else []))
            used |= {f"layers.{i}.weight", f"layers.{i}.bias"}
        elif kind == "relu":
            h = keras.layers.ReLU()(h)
        elif kind == "max_pool2d":
            if any(_pair(spec.get("padding", 0))):
                raise ValueError(f"layer {i}: padded max-pool is not mapped")
            kernel = _pair(spec["kernel"])
            h = keras.layers.MaxPooling2D(kernel, strides=_pair(spec.get("stride") or kernel))(h)
        elif kind == "flatten":
            if channels_last:
                h = keras.layers.Permute((3, 1, 2))(h)  # [H, W, C] -> [C, H, W], PyTorch's flatten order
                channels_last = False
            h = keras.layers.Flatten()(h)
        else:
            raise ValueError(f"layer {i}: kind {kind!r} is not mapped to Keras here")
    unused = set(weights) - used
    if unused:
        raise ValueError(f"weights not used by the Keras model: {sorted(unused)}")
    return keras.Model(inp, h), arch


def to_channels_last(x):
    """[N, C, H, W] -> [N, H, W, C]; other shapes unchanged."""
    return np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1))) if x.ndim == 4 else x
