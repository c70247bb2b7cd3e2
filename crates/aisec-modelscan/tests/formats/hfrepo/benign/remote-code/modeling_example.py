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
            attn = torch.einsum("bhqk,bkhd->bqhd", F.softmax(scores.float(), dim=-1).type_as(q), v)
        return self.out(attn.reshape(b, s, -1)), present


class ExampleBlock(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = RMSNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        self.attn = ExampleAttention(config)
        self.ln_2 = RMSNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        self.mlp = nn.Sequential(
            nn.Linear(config.hidden_size, 4 * config.hidden_size),
            nn.GELU(),
            nn.Linear(4 * config.hidden_size, config.hidden_size),
        )

    def forward(self, x, attention_mask=None, layer_past=None, use_cache=False):
        h, present = self.attn(self.ln_1(x), attention_mask, layer_past, use_cache)
        x = x + h
        return x + self.mlp(self.ln_2(x)), present


class ExamplePreTrainedModel(PreTrainedModel):
    config_class = ExampleConfig
    base_model_prefix = "transformer"
    supports_gradient_checkpointing = True
    _no_split_modules = ["ExampleBlock"]

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=0.02)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(mean=0.0, std=0.02)


class ExampleModel(ExamplePreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.wte = nn.Embedding(config.vocab_size, config.hidden_size)
        self.h = nn.ModuleList([ExampleBlock(config) for _ in range(config.num_layers)])
        self.ln_f = RMSNorm(config.hidden_size)
        self.gradient_checkpointing = False
        if config.quantization_bit:
            from .quantization import quantize
            quantize(self, config.quantization_bit)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, past_key_values=None, use_cache=None,
                return_dict=True, **kwargs):
        use_cache = use_cache if use_cache is not None else self.config.use_cache
        hidden = self.wte(input_ids)
        presents = () if use_cache else None
        past_key_values = past_key_values or tuple([None] * len(self.h))
        for block, past in zip(self.h, past_key_values):
            if self.gradient_checkpointing and self.training:
                hidden, present = torch.utils.checkpoint.checkpoint(block, hidden, attention_mask, past, use_cache)
            else:
                hidden, present = block(hidden, attention_mask, past, use_cache)
            if use_cache:
                presents = presents + (present,)
        hidden = self.ln_f(hidden)
        if not return_dict:
            return (hidden, presents)
        return BaseModelOutputWithPast(last_hidden_state=hidden, past_key_values=presents)


class ExampleForCausalLM(ExamplePreTrainedModel):
    _tied_weights_keys = ["lm_head.weight"]

    def __init__(self, config):
        super().__init__(config)
        self.transformer = ExampleModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs):
        out = self.transformer(input_ids, attention_mask=attention_mask, **kwargs)
        logits = self.lm_head(out.last_hidden_state).float()
        loss = None
        if labels is not None:
            shift_logits = logits[..., :-1, :].contiguous()
            shift_labels = labels[..., 1:].contiguous()
            loss = CrossEntropyLoss()(shift_logits.view(-1, shift_logits.size(-1)), shift_labels.view(-1))
        return CausalLMOutputWithPast(loss=loss, logits=logits, past_key_values=out.past_key_values)

    @torch.no_grad()
    def chat(self, tokenizer, query: str, history: Optional[List[Tuple[str, str]]] = None, **gen_kwargs):
        history = history or []
        prompt = tokenizer.build_prompt(query, history)
        inputs = tokenizer([prompt], return_tensors="pt").to(self.device)
        outputs = self.generate(**inputs, **gen_kwargs)
        response = tokenizer.decode(outputs[0][len(inputs["input_ids"][0]):], skip_special_tokens=True)
        return response, history + [(query, response)]

    def load_extra_state(self, path):
        """Restores an optimizer-free training state saved by the authors' fine-tuning script."""
        state = torch.load(path, map_location="cpu")
        self.load_state_dict(state["model"], strict=False)
