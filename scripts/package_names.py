#!/usr/bin/env python3
"""Builds the package-name sets of aisec-redteam's package-hallucination detector.

Input: a folder with `pypi.tsv` and `npm.tsv`, snapshot name lists of the Python and npm package
registries (first column the package name, one header line). Listing a whole registry through
pip or npm would take one query per name, so snapshot lists are the source.

Output (crates/aisec-redteam/data/): `pypi.bloom` and `npm.bloom`, Bloom filters over the
normalised names (`AISECBF1`, then m as u64 LE, k as u8, then m bits little-endian within each
byte), and `python-stdlib.txt`, the standard-library module names of the running Python.

Hashing (mirrored in src/detect/packages.rs): h1 = FNV-1a 64 of the name's bytes, h2 = FNV-1a 64
of 0xff followed by the bytes, forced odd; bit i of k is (h1 + i*h2) mod m.

Usage: python3 scripts/package_names.py PACKAGES_DIR
"""
import math
import re
import sys
from pathlib import Path

BITS_PER_NAME = 10
K = 7
MASK = (1 << 64) - 1
OUT = Path(__file__).resolve().parent.parent / "crates" / "aisec-redteam" / "data"


def fnv1a(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & MASK
    return h


def bloom(names):
    names = sorted(set(names))
    m = max(64, int(math.ceil(len(names) * BITS_PER_NAME / 8.0)) * 8)
    bits = bytearray(m // 8)
    for n in names:
        data = n.encode("utf-8")
        h1 = fnv1a(data)
        h2 = fnv1a(b"\xff" + data) | 1
        for i in range(K):
            j = ((h1 + i * h2) & MASK) % m
            bits[j >> 3] |= 1 << (j & 7)
    return b"AISECBF1" + m.to_bytes(8, "little") + bytes([K]) + bytes(bits), len(names)


def names(path: Path):
    with path.open(encoding="utf-8", errors="replace") as f:
        next(f)
        for line in f:
            name = line.split("\t", 1)[0].strip()
            if name:
                yield name


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    src = Path(sys.argv[1])
    OUT.mkdir(parents=True, exist_ok=True)
    pypi = (re.sub(r"[-_.]+", "-", n).lower() for n in names(src / "pypi.tsv"))
    blob, count = bloom(pypi)
    (OUT / "pypi.bloom").write_bytes(blob)
    print(f"pypi: {count} names, {len(blob)} bytes")
    blob, count = bloom(n.lower() for n in names(src / "npm.tsv"))
    (OUT / "npm.bloom").write_bytes(blob)
    print(f"npm: {count} names, {len(blob)} bytes")
    std = sorted(m for m in sys.stdlib_module_names if not m.startswith("_"))
    (OUT / "python-stdlib.txt").write_text("\n".join(std) + "\n", encoding="utf-8")
    print(f"python stdlib: {len(std)} modules")


if __name__ == "__main__":
    main()
