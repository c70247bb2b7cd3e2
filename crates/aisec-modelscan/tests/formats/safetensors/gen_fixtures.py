#!/usr/bin/env python3
"""Builds the safetensors fixtures: benign files written by the real library, crafted files
edited by hand, and MANIFEST.tsv.

    python3 -m venv /work/venv-safetensors
    /work/venv-safetensors/bin/pip install -r requirements.txt
    /work/venv-safetensors/bin/python gen_fixtures.py            # fixtures + MANIFEST.tsv
    /work/venv-safetensors/bin/python gen_fixtures.py --perf OUT # a 2 GB benchmark file (not committed)

Every payload is inert: pickles call os.system('echo aisec-fixture'); nothing here is ever
unpickled or loaded by anything but `safetensors.deserialize` (which only reads the header, to
record whether the reference loader accepts each crafted file).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import shutil
import struct
import sys
import zipfile

import numpy as np
import safetensors
from safetensors.numpy import save

HERE = os.path.dirname(os.path.abspath(__file__))
CMD = "echo aisec-fixture"


def pickle_os_system(protocol: int = 2) -> bytes:
    """A pickle that calls os.system(CMD): assembled from opcodes, never produced by unpickling."""
    cmd = CMD.encode()
    if protocol == 0:
        return b"cposix\nsystem\n(S'" + cmd + b"'\ntR."
    return (
        b"\x80" + bytes([protocol]) + b"cposix\nsystem\nq\x00X" + struct.pack("<I", len(cmd)) + cmd
        + b"q\x01\x85q\x02Rq\x03."
    )


def raw(header: str | bytes, body: bytes = b"", length: int | None = None) -> bytes:
    h = header.encode() if isinstance(header, str) else header
    return struct.pack("<Q", len(h) if length is None else length) + h + body


def entry(dtype: str, shape: list, begin: int, end: int) -> dict:
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def hdr(d: dict) -> str:
    return json.dumps(d, separators=(",", ":"))


def spec(dtype: str, shape: list, data: np.ndarray) -> safetensors.TensorSpec:
    return safetensors.TensorSpec(dtype=dtype, shape=shape, data_ptr=data.ctypes.data, data_len=data.nbytes)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(info, data)
    return buf.getvalue()


def loader_verdict(data: bytes) -> str:
    try:
        safetensors.deserialize(data)
        return "loader accepts"
    except Exception as e:  # noqa: BLE001 - any refusal is the answer
        return "loader refuses: " + str(e).split(":", 1)[-1].strip()[:60]


ROWS: list[tuple[str, str, str, str]] = []


def put(rel: str, data: bytes, expected: str, cls: str, desc: str) -> None:
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    ROWS.append((rel, expected, cls, f"{desc} ({loader_verdict(data)})"))


def benign() -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 16)).astype(np.float32)
    put("benign/pt_style.safetensors",
        save({"model.embed_tokens.weight": w, "model.layers.0.mlp.up_proj.weight": w.astype(np.float16),
              "model.layers.0.input_layernorm.weight": np.ones(16, np.float32),
              "position_ids": np.arange(32, dtype=np.int64)}, {"format": "pt"}),
        "benign", "benign-pt", "transformers-style checkpoint, metadata {format: pt}")
    put("benign/mlx_style.safetensors",
        save({"layers.0.weight": w, "layers.0.scales": np.ones((8, 2), np.float16)}, {"format": "mlx"}),
        "benign", "benign-mlx", "MLX-style metadata")
    put("benign/no_metadata.safetensors", save({"w": w.astype(np.float64), "b": np.zeros(3, np.int32)}),
        "benign", "benign-plain", "no __metadata__, F64 and I32")
    put("benign/scalar_and_empty.safetensors",
        save({"scalar": np.array(3.5, np.float32), "empty": np.zeros((0,), np.float32),
              "empty2d": np.zeros((0, 7), np.float16), "mask": np.array([True, False, True]),
              "bytes": np.arange(5, dtype=np.uint8), "i8": np.arange(-3, 3, dtype=np.int8),
              "u16": np.arange(4, dtype=np.uint16), "u64": np.arange(2, dtype=np.uint64)}, {"format": "pt"}),
        "benign", "benign-shapes", "scalar (shape []), empty tensors (shape [0], [0, 7]), BOOL, U8, I8, U16, U64")
    put("benign/no_tensors.safetensors", save({}, {"format": "pt"}), "benign", "benign-empty",
        "metadata only, no tensors")
    put("benign/empty.safetensors", save({}), "benign", "benign-empty", "no tensors, no metadata")
    # Low-precision dtypes through the library's raw-buffer serializer.
    b = np.arange(64, dtype=np.uint8)
    specs = {
        "bf16": spec("bfloat16", [2, 4], b[:16]),
        "f8_e4m3": spec("float8_e4m3fn", [8], b[:8]),
        "f8_e5m2": spec("float8_e5m2", [8], b[8:16]),
        "f8_e8m0_scales": spec("float8_e8m0fnu", [4], b[16:20]),
        "f8_e4m3fnuz": spec("float8_e4m3fnuz", [4], b[20:24]),
        "f4_packed": spec("float4_e2m1fn_x2", [2, 2], b[24:28]),
        "c64": spec("complex64", [2], b[32:48]),
    }
    put("benign/low_precision.safetensors", bytes(safetensors.serialize(specs, {"format": "pt"})),
        "benign", "benign-dtypes", "BF16, F8_E4M3, F8_E5M2, F8_E8M0, F8_E4M3FNUZ, F4, C64 written by the library")
    # F6 has no writer in the library: the header is written as the library writes it.
    f6 = hdr({"f6_e2m3": entry("F6_E2M3", [4, 4], 0, 12), "f6_e3m2": entry("F6_E3M2", [8], 12, 18)})
    f6 += " " * ((8 - len(f6) % 8) % 8)
    put("benign/f6.safetensors", raw(f6, bytes(18)), "benign", "benign-dtypes", "F6_E2M3 and F6_E3M2 sub-byte tensors")
    # Kohya-style LoRA metadata: many keys, JSON-in-strings, a base64 PNG thumbnail, paths.
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(64)).decode()
    meta = {
        "ss_network_module": "networks.lora", "ss_network_dim": "16", "ss_network_alpha": "8.0",
        "ss_learning_rate": "0.0001", "ss_num_epochs": "10", "ss_output_name": "my_lora",
        "ss_tag_frequency": json.dumps({"img": {"1girl": 12, "solo": 9}}),
        "ss_dataset_dirs": json.dumps({"img": {"n_repeats": 10, "img_count": 40}}),
        "ss_training_comment": "trained on /content/drive/MyDrive/train",
        "modelspec.thumbnail": "data:image/png;base64," + png,
        "modelspec.architecture": "stable-diffusion-xl-v1-base/lora",
        "sshs_model_hash": "a" * 64,
    }
    lora = {f"lora_unet_down_blocks_0_attentions_0_proj_in.lora_{x}.weight": rng.standard_normal((4, 8)).astype(np.float16)
            for x in ("up", "down")}
    put("benign/lora_metadata.safetensors", save(lora, meta), "benign", "benign-lora",
        "LoRA with kohya-style metadata (JSON strings, base64 PNG thumbnail)")
    # Unicode tensor names (the library writes them raw) and names with slashes (TF-converted).
    put("benign/unicode_names.safetensors",
        save({"bert/embeddings/word_embeddings:0": w, "ä/ß/名": np.ones(2, np.float32)}, {"format": "tf"}),
        "benign", "benign-names", "TF-style and non-ASCII tensor names")
    # An older writer's layout: no padding after the header.
    h = hdr({"w": entry("F32", [2], 0, 8)})
    put("benign/unpadded.safetensors", raw(h, bytes(8)), "benign", "benign-plain", "header without padding")


def malicious() -> None:
    a = entry("U8", [4], 0, 4)
    b = entry("U8", [4], 4, 8)
    body8 = bytes(range(8))
    good = hdr({"a": a, "b": b})

    put("malicious/header_too_large.safetensors", raw(good, body8, length=200_000_000), "malicious",
        "header-size", "length prefix 200,000,000 (above the 100 MB limit)")
    put("malicious/header_length_max.safetensors", raw(good, body8, length=2**64 - 1), "malicious",
        "header-size", "length prefix 2^64-1")
    put("malicious/header_past_eof.safetensors", raw(good, body8, length=len(good) + 100), "malicious",
        "header-bounds", "length prefix past the end of the file")
    put("malicious/header_not_json.safetensors", raw('{"a":{"dtype":"U8",}}', body8), "malicious",
        "header-json", "trailing comma")
    put("malicious/header_nul_padding.safetensors", raw(good.encode() + b"\0\0\0", body8), "malicious",
        "header-json", "header padded with NUL instead of spaces")
    put("malicious/header_not_utf8.safetensors", raw(good.encode().replace(b'"a"', b'"\xff"'), body8),
        "malicious", "header-json", "invalid UTF-8 in a tensor name")
    deep = '{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4],"z":' + "[" * 200 + "]" * 200 + "}}"
    put("malicious/header_deep_nesting.safetensors", raw(deep, bytes(4)), "malicious", "header-json",
        "200 nested arrays in an ignored field")
    put("malicious/metadata_int.safetensors", raw(hdr({"__metadata__": {"format": "pt", "epoch": 3}, "a": a}), bytes(4)),
        "malicious", "metadata-type", "integer metadata value")
    put("malicious/metadata_nested.safetensors",
        raw(hdr({"__metadata__": {"format": "pt", "cfg": {"cmd": CMD}}, "a": a}), bytes(4)),
        "malicious", "metadata-type", "object metadata value")
    put("malicious/metadata_list.safetensors", raw(hdr({"__metadata__": ["pt"], "a": a}), bytes(4)),
        "malicious", "metadata-type", "__metadata__ is an array")
    put("malicious/bad_dtype.safetensors", raw(hdr({"a": entry("f32", [1], 0, 4)}), bytes(4)), "malicious",
        "dtype", "lower-case dtype f32")
    put("malicious/bad_dtype_fn.safetensors", raw(hdr({"a": entry("F8_E4M3FN", [4], 0, 4)}), bytes(4)),
        "malicious", "dtype", "dtype spelled as torch's float8_e4m3fn suffix")
    put("malicious/negative_shape.safetensors", raw(hdr({"a": entry("U8", [-4], 0, 4)}), bytes(4)),
        "malicious", "entry", "negative dimension")
    put("malicious/missing_offsets.safetensors", raw(hdr({"a": {"dtype": "U8", "shape": [4]}}), bytes(4)),
        "malicious", "entry", "no data_offsets")
    put("malicious/overlap.safetensors", raw(hdr({"a": a, "b": entry("U8", [4], 2, 6)}), bytes(6)),
        "malicious", "overlap", "b starts inside a")
    put("malicious/aliased.safetensors", raw(hdr({"a": a, "b": a}), bytes(4)), "malicious", "overlap",
        "two tensors share the same bytes")
    put("malicious/reversed_offsets.safetensors", raw(hdr({"a": entry("U8", [0], 4, 0), "b": b}), body8),
        "malicious", "overlap", "data_offsets [4, 0]")
    put("malicious/gap.safetensors", raw(hdr({"a": a, "b": entry("U8", [4], 4 + len(pickle_os_system()),
                                                                  8 + len(pickle_os_system()))}),
                                        bytes(4) + pickle_os_system() + bytes(4)),
        "malicious", "gap", "a pickle calling os.system hidden in a gap between two tensors")
    put("malicious/offsets_past_eof.safetensors", raw(hdr({"a": a, "b": entry("U8", [1 << 20], 4, 4 + (1 << 20))}), bytes(4)),
        "malicious", "past-eof", "second tensor claims 1 MiB the file does not have")
    put("malicious/shape_offset_mismatch.safetensors", raw(hdr({"a": entry("F32", [1024], 0, 16)}), bytes(16)),
        "malicious", "size-mismatch", "F32[1024] in 16 bytes")
    put("malicious/subbyte_misaligned.safetensors", raw(hdr({"a": entry("F4", [3], 0, 2)}), bytes(2)),
        "malicious", "size-mismatch", "three F4 values (12 bits) do not end on a byte")
    put("malicious/overflow_shape.safetensors",
        raw(hdr({"a": entry("F32", [2**32, 2**32, 16], 0, 4)}), bytes(4)), "malicious", "overflow",
        "shape product overflows 64 bits")
    put("malicious/overflow_subbyte.safetensors",
        raw(hdr({"a": entry("C64", [2**61], 0, 0)}), b""), "malicious", "overflow",
        "2^61 C64 elements overflow the bit count")
    dup = '{"w":' + json.dumps(entry("F32", [1], 0, 4)) + ',"w":' + json.dumps(entry("F32", [1], 4, 8)) + \
          ',"x":' + json.dumps(entry("F32", [1], 0, 4)) + "}"
    put("malicious/duplicate_names.safetensors", raw(dup, bytes(8)), "malicious", "duplicate",
        "tensor w defined twice with different offsets")
    dup_same = "{" + '"a":' + json.dumps(a) + ',"a":' + json.dumps(a) + ',"b":' + json.dumps(b) + "}"
    put("malicious/duplicate_names_same.safetensors", raw(dup_same, body8), "malicious", "duplicate",
        "tensor a defined twice identically")
    dup_meta = '{"__metadata__":{"format":"pt","format":"tf"},"a":' + json.dumps(a) + "}"
    put("malicious/duplicate_metadata_key.safetensors", raw(dup_meta, bytes(4)), "malicious", "duplicate",
        "metadata key repeated with different values")
    dup_md = '{"__metadata__":{"format":"pt"},"__metadata__":{"format":"tf"},"a":' + json.dumps(a) + "}"
    put("malicious/duplicate_metadata.safetensors", raw(dup_md, bytes(4)), "malicious", "duplicate",
        "__metadata__ twice")
    escaped_dup = '{"a":' + json.dumps(a) + ',"\\u0061":' + json.dumps(entry("U8", [4], 0, 4)) + "}"
    put("malicious/duplicate_escaped.safetensors", raw(escaped_dup, bytes(4)), "malicious", "duplicate",
        "a and \\u0061: the same name after decoding")
    p = pickle_os_system()
    put("malicious/trailing_pickle.safetensors", raw(good, body8 + p), "malicious", "trailing",
        "pickle calling os.system after the last tensor")
    put("malicious/trailing_pickle_p0.safetensors", raw(good, body8 + pickle_os_system(0)), "malicious",
        "trailing", "protocol-0 pickle after the last tensor")
    put("malicious/trailing_zip.safetensors", raw(good, body8 + zip_bytes({"archive/data.pkl": p})),
        "malicious", "trailing", "zip holding a malicious data.pkl after the last tensor")
    z = zip_bytes({"config.json": b"{}", "payload.pkl": p})
    put("malicious/polyglot_zip.safetensors", raw(hdr({"blob": entry("U8", [len(z)], 0, len(z))}), z),
        "malicious", "polyglot", "valid safetensors whose one U8 tensor is a zip (zip readers find it from the end)")
    zp = zip_bytes({"payload.pkl": p})
    put("malicious/polyglot_zip_last_tensor.safetensors",
        raw(hdr({"a": a, "blob": entry("U8", [len(zp)], 4, 4 + len(zp))}), bytes(4) + zp),
        "malicious", "polyglot", "valid safetensors whose last tensor is a zip")
    put("malicious/polyglot_pickle_body.safetensors", raw(hdr({"blob": entry("U8", [len(p)], 0, len(p))}), p),
        "malicious", "polyglot", "valid safetensors whose body is a pickle calling os.system")
    put("malicious/tensor_pickle.safetensors", raw(hdr({"a": a, "blob": entry("U8", [len(p)], 4, 4 + len(p))}), bytes(4) + p),
        "malicious", "payload", "second tensor's bytes are a pickle calling os.system")
    b64 = base64.b64encode(p).decode()
    put("malicious/metadata_base64_pickle.safetensors",
        raw(hdr({"__metadata__": {"format": "pt", "config": b64}, "a": a}), bytes(4)), "malicious", "payload",
        "base64 pickle calling os.system in a metadata value")
    put("malicious/metadata_pickle_text.safetensors",
        raw(hdr({"__metadata__": {"format": "pt", "hook": pickle_os_system(0).decode()}, "a": a}), bytes(4)),
        "malicious", "payload", "protocol-0 pickle text in a metadata value")
    put("malicious/metadata_latin1_pickle.safetensors",
        raw(hdr({"__metadata__": {"format": "pt", "state": p.decode("latin-1")}, "a": a}), bytes(4)),
        "malicious", "payload", "binary pickle as latin-1 text in a metadata value")
    put("malicious/unknown_field_pickle.safetensors",
        raw(hdr({"a": {**a, "init": base64.b64encode(p).decode()}}), bytes(4)), "malicious", "payload",
        "base64 pickle in an unknown tensor field")
    # Parser-differential spellings hiding a layout error.
    arr = '{"a":["U8",[4],[0,4]],"b":["U8",[4],[2,6]]}'
    put("malicious/array_entries_overlap.safetensors", raw(arr, bytes(6)), "malicious", "overlap",
        "tensor entries written as arrays (loader accepts the form) that overlap")
    dmap = '{"a":{"dtype":{"U8":null},"shape":[4],"data_offsets":[0,4]},"b":{"dtype":{"U8":null},"shape":[4],"data_offsets":[8,12]}}'
    put("malicious/dtype_map_gap.safetensors", raw(dmap, bytes(4) + p[:4] + bytes(4)), "malicious", "gap",
        "dtypes written as one-key maps (loader accepts the form), with a gap")
    esc = '{"__metadata\\u005f_":{"format":"pt","n":7},"a":' + json.dumps(a) + "}"
    put("malicious/escaped_metadata_int.safetensors", raw(esc, bytes(4)), "malicious", "metadata-type",
        "__metadata__ spelled with an escape, holding an integer")
    ws = "\n" * 64 + '{"a":' + json.dumps(a) + ',"b":' + json.dumps(entry("U8", [4], 2, 6)) + "}"
    put("malicious/leading_whitespace_overlap.safetensors", raw(ws, bytes(6)), "malicious", "overlap",
        "64 newlines before the header object (loader skips them), overlapping tensors")


def perf(out: str) -> None:
    """A 2 GiB F32 file (sparse on disk): 16 tensors of 128 MiB each, written in a blink."""
    n = 16
    per = (2 << 30) // n
    header = {"__metadata__": {"format": "pt"}}
    for i in range(n):
        header[f"model.layers.{i}.weight"] = entry("F32", [per // 4 // 4096, 4096], i * per, (i + 1) * per)
    h = hdr(header)
    h += " " * ((8 - len(h) % 8) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h.encode())
        f.truncate(8 + len(h) + n * per)
    print(f"{out}: {os.path.getsize(out)} bytes")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--perf", metavar="OUT", help="write a 2 GiB benchmark file to OUT and stop")
    args = ap.parse_args()
    if args.perf:
        perf(args.perf)
        return
    for d in ("benign", "malicious"):
        shutil.rmtree(os.path.join(HERE, d), ignore_errors=True)
    benign()
    malicious()
    with open(os.path.join(HERE, "MANIFEST.tsv"), "w") as f:
        f.write("path\texpected\tclass\tdescription\n")
        for row in ROWS:
            f.write("\t".join(row) + "\n")
    print(f"{len(ROWS)} fixtures", file=sys.stderr)


if __name__ == "__main__":
    main()
