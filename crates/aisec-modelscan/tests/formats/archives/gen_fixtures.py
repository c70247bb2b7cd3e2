#!/usr/bin/env python3
"""Builds archive fixtures for the issue's Archives bullet: zip, tar (plain, gzip, bzip2, xz, zstd),
7z, nested recursively, bombs, and member names that escape the extraction directory.

    python3 -m venv /work/venv-safetensors
    /work/venv-safetensors/bin/pip install -r requirements.txt
    /work/venv-safetensors/bin/python gen_fixtures.py

Payloads are inert pickles assembled from opcodes (os.system('echo aisec-fixture')); nothing is
unpickled or extracted here.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import pickle
import shutil
import struct
import tarfile
import zipfile

import py7zr
import zstandard

HERE = os.path.dirname(os.path.abspath(__file__))
CMD = b"echo aisec-fixture"
MTIME = 1704067200
PAYLOAD = (b"\x80\x02cposix\nsystem\nq\x00X" + struct.pack("<I", len(CMD)) + CMD + b"q\x01\x85q\x02Rq\x03.")
BENIGN = pickle.dumps({"epoch": 3, "lr": [0.1, 0.01], "name": "resnet"}, protocol=4)
ROWS: list[tuple[str, str, str, str]] = []


def tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), MTIME, 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def sevenz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(data, name)
    return buf.getvalue()


def zst(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=3).compress(data)


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=MTIME)


def put(rel: str, data: bytes, expected: str, cls: str, desc: str) -> None:
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    ROWS.append((rel, expected, cls, desc))


def main() -> None:
    for d in ("benign", "malicious"):
        shutil.rmtree(os.path.join(HERE, d), ignore_errors=True)
    # zstd, the compression the scanner did not read before this corpus.
    put("malicious/model.tar.zst", zst(tar({"model/model.pkl": PAYLOAD})), "malicious", "tar-zstd",
        "zstd-compressed tar holding a pickle that calls os.system")
    put("malicious/model.pkl.zst", zst(PAYLOAD), "malicious", "zstd", "zstd-compressed pickle")
    two_frames = zst(b"\x80\x02N.") + zst(PAYLOAD)
    put("malicious/two_frames.pkl.zst", two_frames, "malicious", "zstd",
        "two zstd frames back to back; the payload is in the second")
    put("malicious/bomb.zst", zst(bytes(64 << 20)), "malicious", "bomb", "64 MiB of zeros in a few KiB of zstd")
    # Plain and compressed tars.
    put("malicious/model.tar", tar({"model.pkl": PAYLOAD}), "malicious", "tar", "plain tar")
    put("malicious/model.tar.gz", gz(tar({"model.pkl": PAYLOAD})), "malicious", "tar-gzip", "gzip tar")
    put("malicious/model.tar.bz2", bz2.compress(tar({"model.pkl": PAYLOAD})), "malicious", "tar-bzip2", "bzip2 tar")
    put("malicious/model.tar.xz", lzma.compress(tar({"model.pkl": PAYLOAD})), "malicious", "tar-xz", "xz tar")
    put("malicious/bomb.bz2", bz2.compress(bytes(64 << 20)), "malicious", "bomb", "64 MiB of zeros in bzip2")
    # Path traversal in member names, each with a payload the extraction would drop outside the target.
    put("malicious/dotdot.tar", tar({"../../.config/autostart/model.pkl": PAYLOAD}), "malicious", "traversal",
        "tar member named ../../…")
    put("malicious/absolute.tar.gz", gz(tar({"/tmp/aisec-fixture/model.pkl": PAYLOAD})), "malicious", "traversal",
        "tar member with an absolute path")
    put("malicious/dotdot.zip", zip_({"model/../../model.pkl": PAYLOAD}), "malicious", "traversal",
        "zip member with a .. component")
    # Recursion across every container.
    inner = zip_({"archive/data.pkl": PAYLOAD})
    put("malicious/zip_in_tar.tar.xz", lzma.compress(tar({"checkpoints/inner.zip": inner})), "malicious",
        "nested", "zip inside an xz tar")
    deep = sevenz({"bundle.zip": zip_({"nested.tar.bz2": bz2.compress(tar({"m/model.pkl": PAYLOAD}))})})
    put("malicious/deep.7z", deep, "malicious", "nested", "7z > zip > tar.bz2 > pickle")
    put("malicious/zst_in_zip.zip", zip_({"weights/model.tar.zst": zst(tar({"model.pkl": PAYLOAD}))}),
        "malicious", "nested", "zip holding a zstd tar")
    # Benign look-alikes.
    put("benign/model.tar.zst", zst(tar({"model/config.json": b'{"hidden_size": 8}', "model/state.pkl": BENIGN})),
        "benign", "benign-tar-zstd", "zstd tar of a config and a plain-data pickle")
    put("benign/model.tar.gz", gz(tar({"state.pkl": BENIGN})), "benign", "benign-tar-gzip", "gzip tar")
    put("benign/bundle.7z", sevenz({"config.json": b'{"a": 1}', "state.pkl": BENIGN}), "benign", "benign-7z",
        "7z of a config and a plain-data pickle")
    put("benign/state.pkl.zst", zst(BENIGN), "benign", "benign-zstd", "zstd pickle of plain data")
    with open(os.path.join(HERE, "MANIFEST.tsv"), "w") as f:
        f.write("path\texpected\tclass\tdescription\n")
        for row in ROWS:
            f.write("\t".join(row) + "\n")


if __name__ == "__main__":
    main()
