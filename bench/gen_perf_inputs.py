#!/usr/bin/env python3
"""Generate the benign performance inputs for bench/compare.py (no torch or numpy needed).

  (a) torch_2g.pt        PyTorch zip checkpoint: model/data.pkl (protocol 2 pickle of an
                         OrderedDict of 200 tensors via torch._utils._rebuild_tensor_v2 and
                         persistent ids ('storage', torch.FloatStorage, key, 'cpu', numel)),
                         200 stored members model/data/<key> of 10 MiB each (~2.0 GiB),
                         model/version, model/byteorder.
  (b) bytes_1g.pkl       one protocol-4 pickle of a dict of 100 bytes objects of 10 MiB each
                         (~1.0 GiB), written opcode by opcode (BINBYTES8) so the payload is never
                         held in memory twice.
  (c) small_2000/        2,000 small pickles (a few KiB each) of plain dicts/lists, protocols 2-5.
  (d) model_2g.safetensors  safetensors checkpoint: 200 F32 tensors of 10 MiB each (~2.0 GiB) named
                         like a transformer's, `{"format": "pt"}` metadata.
  (e) model_1g.gguf      GGUF v3 llama-style model: realistic metadata (32,000-token vocabulary
                         arrays, a Llama-3-style chat template), 100 F16 tensors of 10 MiB (~1.0 GiB).
  (f) hf_repo_2000/      a Hugging Face-style repository of 2,000 files: config/tokenizer JSON,
                         a remote-code modeling file per sub-model, small safetensors shards with
                         their index, READMEs.

Plus two MALICIOUS "tail" variants (never loaded by anything here) that check a fast scanner
is not fast because it stops reading early:
  tail/torch_2g_tail.pt  as (a), but model/data.pkl is the LAST member (after 2 GB of storages)
                         and its state dict also holds posix.system('echo aisec-bench') (REDUCE).
  tail/bytes_1g_tail.pkl as (b), plus one more item after the 1 GB of payload whose value is
                         posix.system('echo aisec-bench') (GLOBAL + REDUCE).

Usage: gen_perf_inputs.py [--out DIR] [--force]
DIR defaults to $BENCH_DATA or /work/bench-data. Inputs that already exist (and whose size
matches) are kept unless --force is given. Everything is deterministic (fixed seeds).
"""
import argparse
import collections
import io
import os
import pickle
import random
import struct
import sys
import types
import zipfile

MIB = 1024 * 1024

N_TENSORS = 200
TENSOR_BYTES = 10 * MIB  # float32 -> 2,621,440 elements each
N_BLOBS = 100
BLOB_BYTES = 10 * MIB
N_SMALL = 2000


# --------------------------------------------------------------------------- (a) torch zip
def _install_fake_torch():
    """Put minimal `torch` / `torch._utils` modules in sys.modules so that the real pickle
    module emits exactly the globals torch.save emits (torch._utils._rebuild_tensor_v2,
    torch.FloatStorage, collections.OrderedDict)."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):  # never called: we only pickle, never unpickle
        raise RuntimeError("fake torch")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2

    class FloatStorage:
        pass

    FloatStorage.__module__ = "torch"
    FloatStorage.__qualname__ = "FloatStorage"
    torch.FloatStorage = FloatStorage
    torch._utils = utils
    sys.modules["torch"] = torch
    sys.modules["torch._utils"] = utils
    return torch


class _Storage:
    def __init__(self, key, numel):
        self.key = key
        self.numel = numel


class _Tensor:
    def __init__(self, storage, shape):
        self.storage = storage
        self.shape = shape

    def __reduce_ex__(self, protocol):
        torch = sys.modules["torch"]
        stride = []
        acc = 1
        for dim in reversed(self.shape):
            stride.insert(0, acc)
            acc *= dim
        return (
            torch._utils._rebuild_tensor_v2,
            (self.storage, 0, tuple(self.shape), tuple(stride), False, collections.OrderedDict()),
        )


class _TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", sys.modules["torch"].FloatStorage, obj.key, "cpu", obj.numel)
        return None


class _SystemCall:
    """Pickles as posix.system('echo aisec-bench'): GLOBAL 'posix system' + REDUCE.
    Built from a stand-in module, so nothing here can ever call it."""

    def __reduce__(self):
        posix = types.ModuleType("posix")

        def system(cmd):
            raise RuntimeError("never called")

        system.__module__, system.__qualname__ = "posix", "system"
        posix.system = system
        sys.modules["posix"] = posix  # _PosixSwapPickler puts the real one back
        return (system, ("echo aisec-bench",))


class _PosixSwapPickler(_TorchPickler):
    """After pickling _SystemCall, put the real posix module back."""

    def dump(self, obj):
        real = sys.modules.get("posix")
        try:
            super().dump(obj)
        finally:
            if real is not None:
                sys.modules["posix"] = real


def torch_state_dict_pickle(tail_call=False):
    _install_fake_torch()
    numel = TENSOR_BYTES // 4
    shapes = [(2560, 1024), (1024, 2560), (numel,), (640, 64, 64)]
    sd = collections.OrderedDict()
    for i in range(N_TENSORS):
        layer, kind = divmod(i, 4)
        name = f"encoder.layers.{layer}." + ["attn.q.weight", "attn.o.weight", "norm.weight", "conv.weight"][kind]
        sd[name] = _Tensor(_Storage(str(i), numel), shapes[kind])
    if tail_call:
        sd["zz.tail"] = _SystemCall()
    buf = io.BytesIO()
    _PosixSwapPickler(buf, protocol=2).dump(sd)
    return buf.getvalue()


def gen_torch_zip(path, tail=False):
    data_pkl = torch_state_dict_pickle(tail_call=tail)
    if tail:
        assert b"cposix\nsystem\n" in data_pkl
    rnd = random.Random(0xA15EC)
    block = rnd.randbytes(TENSOR_BYTES)
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        if not tail:
            zf.writestr("model/data.pkl", data_pkl)
        zf.writestr("model/byteorder", b"little")
        for i in range(N_TENSORS):
            # vary each member cheaply so no two storages are byte-identical
            head = struct.pack("<Q", i) * 512
            with zf.open(f"model/data/{i}", "w", force_zip64=True) as member:
                member.write(head)
                member.write(memoryview(block)[len(head):])
        zf.writestr("model/version", b"3\n")
        if tail:
            zf.writestr("model/data.pkl", data_pkl)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- (b) 1 GiB pickle
def write_bytes_pickle(f, n_blobs, blob_bytes, seed, tail_call=False):
    """Protocol 4, hand-written: PROTO 4, EMPTY_DICT, MARK, (SHORT_BINUNICODE key,
    BINBYTES8 payload)*, SETITEMS, STOP. Same opcodes pickle.dump emits for large bytes
    (minus the optional FRAME/MEMOIZE bookkeeping)."""
    rnd = random.Random(seed)
    f.write(b"\x80\x04")  # PROTO 4
    f.write(b"}")  # EMPTY_DICT
    f.write(b"(")  # MARK
    for i in range(n_blobs):
        key = f"blob_{i:03d}".encode()
        f.write(b"\x8c" + bytes([len(key)]) + key)  # SHORT_BINUNICODE
        f.write(b"\x8e" + struct.pack("<Q", blob_bytes))  # BINBYTES8
        f.write(rnd.randbytes(blob_bytes))
    if tail_call:
        f.write(b"\x8c\x07zz.tail")  # SHORT_BINUNICODE key
        f.write(b"cposix\nsystem\n")  # GLOBAL posix.system
        f.write(b"\x8c\x10echo aisec-bench")  # SHORT_BINUNICODE arg
        f.write(b"\x85R")  # TUPLE1, REDUCE
    f.write(b"u")  # SETITEMS
    f.write(b".")  # STOP


def _self_test_bytes_pickle():
    # Our own writer on a tiny size, loaded with the real unpickler (benign, generated here).
    buf = io.BytesIO()
    write_bytes_pickle(buf, 3, 1000, 7)
    obj = pickle.loads(buf.getvalue())
    rnd = random.Random(7)
    expect = {}
    for i in range(3):
        expect[f"blob_{i:03d}"] = rnd.randbytes(1000)
    assert obj == expect, "bytes pickle writer is wrong"


def gen_bytes_pickle(path, tail=False):
    _self_test_bytes_pickle()
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        write_bytes_pickle(f, N_BLOBS, BLOB_BYTES, 0xB10B, tail_call=tail)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- (c) small pickles
def gen_small(dirpath):
    rnd = random.Random(0x5A11)
    tmp = dirpath + ".tmp"
    os.makedirs(tmp, exist_ok=True)
    for i in range(N_SMALL):
        kind = i % 4
        if kind == 0:
            obj = {f"k{j}": rnd.random() for j in range(rnd.randint(80, 200))}
        elif kind == 1:
            obj = [rnd.randint(-(2**40), 2**40) for _ in range(rnd.randint(200, 600))]
        elif kind == 2:
            obj = {
                "name": f"record-{i}",
                "tags": [f"tag{rnd.randint(0, 999)}" for _ in range(rnd.randint(20, 60))],
                "matrix": [[rnd.random() for _ in range(8)] for _ in range(rnd.randint(10, 40))],
                "meta": {"id": i, "ok": True, "none": None, "pair": (1, 2.5, "x")},
            }
        else:
            obj = collections.OrderedDict(
                (f"layer{j}", {"w": [rnd.random() for _ in range(16)], "b": rnd.random()})
                for j in range(rnd.randint(5, 20))
            )
        with open(os.path.join(tmp, f"p{i:04d}.pkl"), "wb") as f:
            pickle.dump(obj, f, protocol=2 + i % 4)
    os.replace(tmp, dirpath)


# --------------------------------------------------------------------------- (d) safetensors
def _st_header(tensors, metadata=None):
    """tensors: [(name, dtype, shape, nbytes)] -> (header bytes padded to 8, body size)."""
    import json

    h = {}
    if metadata is not None:
        h["__metadata__"] = metadata
    off = 0
    for name, dtype, shape, nbytes in tensors:
        h[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + nbytes]}
        off += nbytes
    raw = json.dumps(h, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw, off


def write_safetensors(path, tensors, block, metadata=None):
    head, size = _st_header(tensors, metadata)
    with open(path + ".tmp", "wb") as f:
        f.write(head)
        left = size
        while left:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n
    os.replace(path + ".tmp", path)


def gen_safetensors(path):
    rng = random.Random(4)
    block = rng.randbytes(TENSOR_BYTES)
    tensors = []
    for i in range(N_TENSORS):
        layer, part = divmod(i, 8)
        names = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "norm"]
        tensors.append((f"model.layers.{layer}.{names[part]}.weight", "F32", [1280, 2048], TENSOR_BYTES))
    write_safetensors(path, tensors, block, {"format": "pt"})


# --------------------------------------------------------------------------- (e) GGUF
LLAMA3_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)


def _gguf_str(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def _gguf_kv(key, vtype, payload):
    return _gguf_str(key) + struct.pack("<I", vtype) + payload


def gen_gguf(path, n_tensors=100, tensor_bytes=TENSOR_BYTES):
    rng = random.Random(5)
    vocab = 32000
    kv = [
        _gguf_kv("general.architecture", 8, _gguf_str("llama")),
        _gguf_kv("general.name", 8, _gguf_str("aisec bench llama")),
        _gguf_kv("general.alignment", 4, struct.pack("<I", 32)),
        _gguf_kv("llama.context_length", 4, struct.pack("<I", 4096)),
        _gguf_kv("llama.embedding_length", 4, struct.pack("<I", 2048)),
        _gguf_kv("llama.block_count", 4, struct.pack("<I", n_tensors // 4)),
        _gguf_kv("llama.attention.head_count", 4, struct.pack("<I", 16)),
        _gguf_kv("tokenizer.ggml.model", 8, _gguf_str("llama")),
        _gguf_kv(
            "tokenizer.ggml.tokens",
            9,
            struct.pack("<IQ", 8, vocab) + b"".join(_gguf_str(f"tok{i:05d}") for i in range(vocab)),
        ),
        _gguf_kv("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, vocab) + struct.pack(f"<{vocab}f", *range(vocab))),
        _gguf_kv("tokenizer.ggml.token_type", 9, struct.pack("<IQ", 5, vocab) + struct.pack(f"<{vocab}i", *([1] * vocab))),
        _gguf_kv("tokenizer.chat_template", 8, _gguf_str(LLAMA3_TEMPLATE)),
    ]
    elems = tensor_bytes // 2  # F16
    infos = []
    for i in range(n_tensors):
        name = f"blk.{i // 4}.{['attn_q', 'attn_k', 'ffn_up', 'ffn_down'][i % 4]}.weight"
        infos.append(_gguf_str(name) + struct.pack("<IQQIQ", 2, 2048, elems // 2048, 1, i * tensor_bytes))
    head = b"GGUF" + struct.pack("<IQQ", 3, n_tensors, len(kv)) + b"".join(kv) + b"".join(infos)
    head += b"\0" * (-len(head) % 32)
    block = rng.randbytes(tensor_bytes)
    with open(path + ".tmp", "wb") as f:
        f.write(head)
        for _ in range(n_tensors):
            f.write(block)
    os.replace(path + ".tmp", path)


# --------------------------------------------------------------------------- (f) HF-style repo
MODELING_PY = '''"""Modeling code for the bench model {i} (benign, generated)."""
import math

import torch
from torch import nn
from transformers import PreTrainedModel

from .configuration_bench import BenchConfig


class BenchBlock{i}(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.proj = nn.Linear(config.hidden_size, config.hidden_size)
        self.scale = 1.0 / math.sqrt(config.hidden_size)

    def forward(self, x):
        return torch.tanh(self.proj(x)) * self.scale


class BenchModel{i}(PreTrainedModel):
    config_class = BenchConfig

    def __init__(self, config):
        super().__init__(config)
        self.blocks = nn.ModuleList(BenchBlock{i}(config) for _ in range(config.num_layers))

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x
'''

N_REPO_FILES = 2000


def gen_hf_repo(dirpath):
    import json

    rng = random.Random(6)
    os.makedirs(dirpath + ".tmp", exist_ok=True)
    d = dirpath + ".tmp"
    files = 0

    def put(name, data):
        nonlocal files
        p = os.path.join(d, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        files += 1

    n_sub = 250  # 250 sub-models x 8 files = 2,000
    for i in range(n_sub):
        sub = f"sub{i:03d}"
        cfg = {
            "architectures": [f"BenchModel{i}"],
            "auto_map": {"AutoModel": f"modeling_bench.BenchModel{i}", "AutoConfig": "configuration_bench.BenchConfig"},
            "model_type": "bench",
            "hidden_size": 64,
            "num_layers": 2,
            "torch_dtype": "float32",
        }
        put(f"{sub}/config.json", json.dumps(cfg, indent=2))
        put(f"{sub}/modeling_bench.py", MODELING_PY.format(i=i))
        put(f"{sub}/configuration_bench.py", "from transformers import PretrainedConfig\n\n\nclass BenchConfig(PretrainedConfig):\n    model_type = 'bench'\n")
        put(f"{sub}/tokenizer_config.json", json.dumps({"bos_token": "<s>", "eos_token": "</s>", "chat_template": LLAMA3_TEMPLATE, "model_max_length": 4096}))
        put(f"{sub}/README.md", f"# bench sub-model {i}\n\nGenerated for benchmarks.\n")
        shards = []
        for k in range(2):
            name = f"model-{k + 1:05d}-of-00002.safetensors"
            tensors = [(f"blocks.{k}.proj.weight", "F32", [64, 64], 64 * 64 * 4), (f"blocks.{k}.proj.bias", "F32", [64], 256)]
            head, size = _st_header(tensors, {"format": "pt"})
            put(f"{sub}/{name}", head + rng.randbytes(size))
            shards.append((name, tensors))
        index = {"metadata": {"total_size": 2 * (64 * 64 * 4 + 256)}, "weight_map": {t[0]: n for n, ts in shards for t in ts}}
        put(f"{sub}/model.safetensors.index.json", json.dumps(index, indent=2))
    assert files == N_REPO_FILES, files
    os.replace(d, dirpath)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.environ.get("BENCH_DATA", "/work/bench-data"))
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)

    torch_zip = os.path.join(out, "torch_2g.pt")
    torch_min = N_TENSORS * TENSOR_BYTES
    if args.force or not os.path.exists(torch_zip) or os.path.getsize(torch_zip) < torch_min:
        print(f"generating {torch_zip} ...", flush=True)
        gen_torch_zip(torch_zip)

    big = os.path.join(out, "bytes_1g.pkl")
    big_min = N_BLOBS * BLOB_BYTES
    if args.force or not os.path.exists(big) or os.path.getsize(big) < big_min:
        print(f"generating {big} ...", flush=True)
        gen_bytes_pickle(big)

    small = os.path.join(out, "small_2000")
    if args.force and os.path.isdir(small):
        import shutil

        shutil.rmtree(small)
    if not os.path.isdir(small) or len(os.listdir(small)) != N_SMALL:
        if os.path.isdir(small):
            import shutil

            shutil.rmtree(small)
        print(f"generating {small}/ ...", flush=True)
        gen_small(small)

    os.makedirs(os.path.join(out, "tail"), exist_ok=True)
    torch_tail = os.path.join(out, "tail", "torch_2g_tail.pt")
    if args.force or not os.path.exists(torch_tail) or os.path.getsize(torch_tail) < torch_min:
        print(f"generating {torch_tail} ...", flush=True)
        gen_torch_zip(torch_tail, tail=True)
    big_tail = os.path.join(out, "tail", "bytes_1g_tail.pkl")
    if args.force or not os.path.exists(big_tail) or os.path.getsize(big_tail) < big_min:
        print(f"generating {big_tail} ...", flush=True)
        gen_bytes_pickle(big_tail, tail=True)

    st = os.path.join(out, "model_2g.safetensors")
    if args.force or not os.path.exists(st) or os.path.getsize(st) < N_TENSORS * TENSOR_BYTES:
        print(f"generating {st} ...", flush=True)
        gen_safetensors(st)
    gg = os.path.join(out, "model_1g.gguf")
    if args.force or not os.path.exists(gg) or os.path.getsize(gg) < 100 * TENSOR_BYTES:
        print(f"generating {gg} ...", flush=True)
        gen_gguf(gg)
    repo = os.path.join(out, "hf_repo_2000")
    if args.force and os.path.isdir(repo):
        import shutil

        shutil.rmtree(repo)
    if not os.path.isdir(repo):
        print(f"generating {repo}/ ...", flush=True)
        gen_hf_repo(repo)

    for p in (torch_zip, big, torch_tail, big_tail, st, gg):
        print(f"{p}: {os.path.getsize(p):,} bytes")
    sizes = [os.path.getsize(os.path.join(small, n)) for n in os.listdir(small)]
    print(f"{small}/: {len(sizes)} files, {sum(sizes):,} bytes (min {min(sizes):,}, max {max(sizes):,})")


if __name__ == "__main__":
    main()
