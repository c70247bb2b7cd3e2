# coding=utf-8
"""PyTorch custom causal LM (remote code), in the style of published remote-code models."""
import importlib.metadata
import importlib.util
import inspect
import math
import os
import sys
import warnings
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_utils import PreTrainedModel
from transformers.utils import is_flash_attn_2_available, logging

from .configuration_custom import CustomConfig

sys.path.append(os.path.dirname(os.path.abspath(__file__)))
logger = logging.get_logger(__name__)

if is_flash_attn_2_available():
    from flash_attn import flash_attn_func, flash_attn_varlen_func
    _flash_supports_window_size = "window_size" in list(inspect.signature(flash_attn_func).parameters)

_HAS_TRITON = importlib.util.find_spec("triton") is not None
try:
    _TORCH_VERSION = importlib.metadata.version("torch")
except importlib.metadata.PackageNotFoundError:
    _TORCH_VERSION = "0"

ACT2FN = {"silu": F.silu, "gelu": F.gelu, "relu": F.relu}


def _get_unpad_data(attention_mask):
    seqlens = attention_mask.sum(dim=-1, dtype=torch.int32)
    indices = torch.nonzero(attention_mask.flatten(), as_tuple=False).flatten()
    return indices, seqlens


class CustomAttention(nn.Module):
    def __init__(self, config: CustomConfig, layer_idx: Optional[int] = None):
        super().__init__()
        self.config = config
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size, bias=False)
        self.o_proj = nn.Linear(config.hidden_size, config.hidden_size, bias=False)
        self.act = ACT2FN[getattr(config, "hidden_act", "silu")]
        if os.environ.get("CUSTOM_DISABLE_FLASH", "0") == "1":
            warnings.warn("flash attention disabled by environment")

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.head_dim), dim=-1)
        return self.o_proj(w @ v)


class CustomPreTrainedModel(PreTrainedModel):
    config_class = CustomConfig
    base_model_prefix = "model"
    _no_split_modules = ["CustomAttention"]

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=self.config.initializer_range)


class CustomForCausalLM(CustomPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.layers = nn.ModuleList([CustomAttention(config, i) for i in range(config.num_hidden_layers)])
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def forward(self, hidden):
        for layer in self.layers:
            hidden = layer(hidden)
        return self.lm_head(hidden)
