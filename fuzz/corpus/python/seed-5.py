"""Weight-only int8 quantization of linear layers (for low-memory inference)."""

import bz2
import base64
import ctypes  # noqa: F401  (kept for parity with the authors' release)

import torch
from torch.nn import Linear
from torch.nn.parameter import Parameter

try:
    from cpm_kernels.kernels.base import LazyKernelCModule, KernelFunction, round_up

    class Kernel:
        def __init__(self, code: bytes, function_names):
            self.code = code
            self._function_names = function_names
            self._cmodule = LazyKernelCModule(self.code)
            for name in self._function_names:
                setattr(self, name, KernelFunction(self._cmodule, name))

    # A compiled CUDA fat binary, stored compressed and base64-encoded.
    quantization_code = "QlpoOTFBWSZTWU9yAAAAAABAAAAQAAggACEAgk0eN4Ad"
    kernels = Kernel(bz2.decompress(base64.b64decode(quantization_code)), ["int8WeightExtractionHalf"])
except Exception as exception:
    kernels = None


class QuantizedLinear(Linear):
    def __init__(self, weight_bit_width: int, weight_tensor=None, bias_tensor=None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.weight_bit_width = weight_bit_width
        scale = weight_tensor.abs().max(dim=-1).values / ((2 ** (weight_bit_width - 1)) - 1)
        self.weight_scale = Parameter(scale.half(), requires_grad=False)
        self.weight = Parameter(torch.round(weight_tensor / scale[:, None]).to(torch.int8), requires_grad=False)
        self.bias = Parameter(bias_tensor.half(), requires_grad=False) if bias_tensor is not None else None

    def forward(self, x):
        w = self.weight.to(x.dtype) * self.weight_scale[:, None].to(x.dtype)
        out = x @ w.t()
        return out + self.bias if self.bias is not None else out


def quantize(model, weight_bit_width):
    for block in model.h:
        block.attn.qkv = QuantizedLinear(weight_bit_width, block.attn.qkv.weight.data, None,
                                         block.attn.qkv.in_features, block.attn.qkv.out_features, bias=False)
    return model
