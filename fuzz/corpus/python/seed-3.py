"""PyTorch Example model: a small decoder with rotary attention, written for trust_remote_code."""

import importlib.util
import math
import os
import warnings
from typing import List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn
from torch.nn import CrossEntropyLoss

from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from transformers.modeling_utils import PreTrainedModel
from transformers.utils import logging

from .configuration_example import ExampleConfig

logger = logging.get_logger(__name__)

_CHECKPOINT_FOR_DOC = "example/example-small"
SUPPORT_BF16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()

try:
    from flash_attn import flash_attn_func
except ImportError:
    flash_attn_func = None

_einops_available = importlib.util.find_spec("einops") is not None


def _import_kernels():
    """Loads the optional fused kernels, when the environment asks for them."""
    global fused_rms_norm
    if os.environ.get("EXAMPLE_USE_FUSED_KERNELS", "0") != "1":
        return None
    try:
        from .kernels import fused_rms_norm
    except ImportError:
        warnings.warn("fused kernels requested but not available; using the PyTorch path")
        fused_rms_norm = None
    return fused_rms_norm


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        variance = x.float().pow(2).mean(-1, keepdim=True)
        return (x * torch.rsqrt(variance + self.eps)).type_as(x) * self.weight


class RotaryEmbedding(nn.Module):
    def __init__(self, dim, base=10000):
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self._seq_len_cached = 0
        self._cos = None
        self._sin = None

    def forward(self, x, seq_len):
        if seq_len > self._seq_len_cached:
            t = torch.arange(seq_len, device=x.device, dtype=self.inv_freq.dtype)
            freqs = torch.outer(t, self.inv_freq)
            emb = torch.cat((freqs, freqs), dim=-1)
            self._cos, self._sin = emb.cos(), emb.sin()
            self._seq_len_cached = seq_len
        return self._cos[:seq_len], self._sin[:seq_len]


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class ExampleAttention(nn.Module):
    def __init__(self, config: ExampleConfig):
        super().__init__()
        self.num_heads = config.num_heads
        self.head_dim = config.hidden_size // config.num_heads
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size, bias=False)
        self.out = nn.Linear(config.hidden_size, config.hidden_size, bias=False)
        self.rotary = RotaryEmbedding(self.head_dim)
        self.use_flash = flash_attn_func is not None and config.use_flash_attn != False

    def forward(self, hidden, attention_mask=None, layer_past=None, use_cache=False):
        b, s, _ = hidden.shape
        q, k, v = self.qkv(hidden).view(b, s, 3, self.num_heads, self.head_dim).unbind(2)
        cos, sin = self.rotary(q, s)
        q = q * cos[None, :, None] + rotate_half(q) * sin[None, :, None]
        k = k * cos[None, :, None] + rotate_half(k) * sin[None, :, None]
        if layer_past is not None:
            k = torch.cat((layer_past[0], k), dim=1)
            v = torch.cat((layer_past[1], v), dim=1)
        present = (k, v) if use_cache else None
        if self.use_flash:
            attn = flash_attn_func(q, k, v, causal=True)
        else:
            scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(self.head_dim)
            if attention_mask is not None:
                scores = scores + attention_mask
            attn = torch.einsum("bhqk,bkhd->bqhd", F.softmax(scores.float(), dim=-1).t