//! The policy: which imports and calls are dangerous, which are what benign model files contain,
//! and how severe everything else is.
//!
//! Matching works on canonical dotted paths (see `pickle::names`). A deny entry matches a path that
//! equals it or extends it (`os` matches `os.system` and `os.path.join`); entries marked `nested`
//! also match anywhere inside a dotted attribute chain (`torch.os.system`, reached through an attribute
//! of an innocent module). The allowlist is exact: anything not on it that is called is at least
//! `high`. Bump [`POLICY_VERSION`] whenever a list changes, so verdicts can be traced to a policy.

/// Version of this policy; reported in every scan report.
pub const POLICY_VERSION: &str = "2026.11.4";

/// What a dangerous callable can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Danger {
    /// Runs Python code (eval, exec, compile, runpy, code objects, profilers that exec).
    CodeExecution,
    /// Runs operating-system commands or processes.
    CommandExecution,
    /// Loads native code.
    NativeCode,
    /// Opens network connections.
    Network,
    /// Reads, writes or deletes files.
    FileSystem,
    /// Resolves arbitrary names at load time, or reaches interpreter internals.
    NameResolution,
    /// Deserializes more data (a nested pickle, marshal, YAML).
    Deserialization,
    /// Installs packages or changes the interpreter's state (signals, exit, environment).
    SystemState,
}

impl Danger {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::CodeExecution => "code-execution",
            Self::CommandExecution => "command-execution",
            Self::NativeCode => "native-code",
            Self::Network => "network",
            Self::FileSystem => "file-system",
            Self::NameResolution => "name-resolution",
            Self::Deserialization => "deserialization",
            Self::SystemState => "system-state",
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::CodeExecution => "runs arbitrary Python code",
            Self::CommandExecution => "runs operating-system commands",
            Self::NativeCode => "loads native code",
            Self::Network => "opens network connections",
            Self::FileSystem => "reads, writes or deletes files",
            Self::NameResolution => "resolves arbitrary names or reaches interpreter internals",
            Self::Deserialization => "deserializes further data, which may itself run code",
            Self::SystemState => "installs packages or changes the interpreter's state",
        }
    }
}

use Danger::{
    CodeExecution as Code, CommandExecution as Cmd, Deserialization as Deser, FileSystem as Fs,
    NameResolution as Names, NativeCode as Native, Network as Net, SystemState as Sys,
};

/// (path, danger, nested): `nested` entries also match inside attribute chains.
const DENY: &[(&str, Danger, bool)] = &[
    // Python code execution.
    ("builtins.eval", Code, true),
    ("builtins.exec", Code, true),
    ("builtins.compile", Code, true),
    ("builtins.execfile", Code, true),
    ("builtins.breakpoint", Code, true),
    ("builtins.help", Code, false),
    ("builtins.input", Sys, false),
    ("builtins.exit", Sys, false),
    ("builtins.quit", Sys, false),
    ("builtins.open", Fs, true),
    ("builtins.__import__", Names, true),
    ("builtins.getattr", Names, true),
    ("builtins.setattr", Names, true),
    ("builtins.delattr", Names, true),
    ("builtins.globals", Names, true),
    ("builtins.locals", Names, true),
    ("builtins.vars", Names, true),
    ("builtins.__build_class__", Code, true),
    ("builtins.__loader__", Names, true),
    ("builtins.__spec__", Names, true),
    ("runpy", Code, true),
    ("code", Code, false),
    ("codeop", Code, false),
    ("types.FunctionType", Code, true),
    ("types.CodeType", Code, true),
    ("types.LambdaType", Code, true),
    ("types.MethodType", Code, false),
    ("marshal", Deser, true),
    ("pdb", Code, true),
    ("bdb", Code, true),
    ("trace", Code, false),
    ("cProfile", Code, true),
    ("profile", Code, false),
    ("timeit", Code, true),
    ("doctest", Code, true),
    ("idlelib", Code, true),
    ("lib2to3", Code, false),
    ("pydoc", Names, true),
    ("site", Code, false),
    ("code.InteractiveInterpreter", Code, true),
    ("code.InteractiveConsole", Code, true),
    ("IPython", Code, true),
    ("jinja2", Code, true),
    ("mako", Code, true),
    ("numpy.testing", Code, false),
    ("numpy.f2py", Code, false),
    ("numpy.distutils", Cmd, false),
    ("numpy.ctypeslib", Native, false),
    ("numpy.load", Deser, false),
    ("numpy.lib.npyio", Fs, false),
    ("numpy.lib._npyio_impl", Fs, false),
    ("numpy.lib.format.read_array", Deser, false),
    ("numpy.lib._format_impl.read_array", Deser, false),
    ("numpy.lib.format.open_memmap", Fs, false),
    ("numpy.fromfile", Fs, false),
    ("numpy.memmap", Fs, false),
    ("numpy.save", Fs, false),
    ("numpy.savez", Fs, false),
    ("numpy.savetxt", Fs, false),
    ("numpy.loadtxt", Fs, false),
    ("numpy.genfromtxt", Fs, false),
    ("numpy.ndarray.tofile", Fs, false),
    ("numpy.ndarray.dump", Fs, false),
    ("torch.jit", Code, false),
    ("torch._dynamo", Code, false),
    ("torch._inductor", Code, false),
    ("torch.fx", Code, false),
    ("torch.package", Code, false),
    ("torch.utils.cpp_extension", Native, false),
    ("torch.hub", Code, false),
    ("torch.ops", Native, false),
    ("torch.classes", Native, false),
    ("torch.library", Native, false),
    ("torch._C._jit_", Code, false),
    ("torch._C.import_ir_module", Code, false),
    ("torch._C._load_for_lite_interpreter", Code, false),
    ("torch.load", Deser, false),
    ("torch.serialization.load", Deser, false),
    ("torch.serialization._load", Deser, false),
    ("torch.serialization._legacy_load", Deser, false),
    ("torch.save", Fs, false),
    ("torch.serialization.save", Fs, false),
    ("torch.from_file", Fs, false),
    ("torch.UntypedStorage.from_file", Fs, false),
    ("torch.distributed", Net, false),
    ("torch.multiprocessing", Cmd, false),
    ("torch.export.load", Deser, false),
    ("torch.compile", Code, false),
    ("torch.utils.tensorboard", Fs, false),
    ("torch.utils.data.datapipes", Fs, false),
    ("torch._utils_internal", Code, false),
    ("tensorflow.io", Fs, false),
    ("tensorflow.py_function", Code, false),
    ("tensorflow.numpy_function", Code, false),
    ("tensorflow.compat.v1.py_func", Code, false),
    ("keras.models.load_model", Deser, false),
    ("keras.saving.load_model", Deser, false),
    ("yaml", Deser, false),
    ("pickle", Deser, true),
    ("dill", Deser, true),
    ("cloudpickle", Deser, true),
    ("shelve", Deser, true),
    ("joblib.load", Deser, false),
    ("joblib.numpy_pickle.load", Deser, false),
    ("joblib.Memory", Fs, false),
    ("joblib.Parallel", Cmd, false),
    ("pandas.read_pickle", Deser, false),
    ("pandas.io.pickle", Deser, false),
    ("pandas.read_csv", Fs, false),
    ("pandas.read_json", Fs, false),
    ("pandas.read_parquet", Fs, false),
    ("pandas.read_sql", Net, false),
    ("pandas.HDFStore", Fs, false),
    ("pandas.ExcelWriter", Fs, false),
    ("pandas.eval", Code, false),
    ("pandas.core.computation", Code, false),
    ("copyreg.add_extension", Names, false),
    // Name resolution and interpreter internals.
    ("importlib", Names, true),
    ("imp", Names, true),
    ("zipimport", Names, true),
    ("pkgutil", Names, true),
    ("pkg_resources", Names, false),
    ("operator.attrgetter", Names, true),
    ("operator.methodcaller", Names, true),
    ("sys", Names, true),
    ("gc", Names, true),
    ("inspect", Names, true),
    ("ctypes", Native, true),
    ("cffi", Native, true),
    ("_cffi_backend", Native, true),
    // Commands and processes.
    ("os", Cmd, true),
    ("subprocess", Cmd, true),
    ("pty", Cmd, true),
    ("platform.popen", Cmd, true),
    ("platform._syscmd_ver", Cmd, true),
    ("platform._syscmd_file", Cmd, true),
    ("platform._syscmd_uname", Cmd, true),
    ("platform.architecture", Cmd, false),
    ("multiprocessing", Cmd, true),
    ("concurrent.futures", Cmd, true),
    ("asyncio", Cmd, true),
    ("threading", Cmd, true),
    ("_thread", Cmd, true),
    ("sched", Code, false),
    ("atexit", Code, true),
    ("signal", Sys, true),
    ("resource", Sys, false),
    ("faulthandler", Sys, false),
    ("uuid._get_command_stdout", Cmd, true),
    ("uuid._popen", Cmd, true),
    ("uuid._find_mac", Cmd, true),
    ("uuid._find_mac_near_keyword", Cmd, true),
    ("uuid._find_mac_under_heading", Cmd, true),
    ("uuid._ifconfig_getnode", Cmd, true),
    ("uuid._ip_getnode", Cmd, true),
    ("uuid._arp_getnode", Cmd, true),
    ("uuid._lanscan_getnode", Cmd, true),
    ("uuid._netstat_getnode", Cmd, true),
    ("uuid._unix_getnode", Cmd, true),
    ("uuid.getnode", Cmd, false),
    ("uuid.uuid1", Cmd, false),
    ("ensurepip", Sys, true),
    ("pip", Sys, true),
    ("setuptools", Sys, true),
    ("distutils", Cmd, true),
    ("venv", Sys, true),
    ("webbrowser", Cmd, true),
    ("ctypes.util", Cmd, true),
    ("mailcap", Cmd, true),
    ("tkinter", Code, false),
    ("turtle", Code, false),
    ("curses", Sys, false),
    ("readline", Sys, false),
    ("rlcompleter", Code, false),
    // Network.
    ("socket", Net, true),
    ("socketserver", Net, true),
    ("ssl", Net, true),
    ("select", Net, false),
    ("selectors", Net, false),
    ("http", Net, true),
    ("urllib", Net, true),
    ("urllib3", Net, true),
    ("requests", Net, true),
    ("httpx", Net, true),
    ("aiohttp", Net, true),
    ("ftplib", Net, true),
    ("smtplib", Net, true),
    ("smtpd", Net, true),
    ("poplib", Net, true),
    ("imaplib", Net, true),
    ("nntplib", Net, true),
    ("telnetlib", Net, true),
    ("xmlrpc", Net, true),
    ("wsgiref", Net, true),
    ("paramiko", Net, true),
    ("logging.config", Code, true),
    ("logging.handlers", Net, true),
    ("logging.FileHandler", Fs, true),
    ("logging.basicConfig", Fs, false),
    // File system.
    ("shutil", Fs, true),
    ("tempfile", Fs, true),
    ("glob", Fs, true),
    ("fileinput", Fs, true),
    ("filecmp", Fs, true),
    ("linecache", Fs, true),
    ("io.open", Fs, true),
    ("io.open_code", Fs, true),
    ("io.FileIO", Fs, true),
    ("io.TextIOWrapper", Fs, false),
    ("io.BufferedReader", Fs, false),
    ("io.BufferedWriter", Fs, false),
    ("zipfile", Fs, true),
    ("tarfile", Fs, true),
    ("gzip.open", Fs, true),
    ("gzip.GzipFile", Fs, true),
    ("bz2.open", Fs, true),
    ("bz2.BZ2File", Fs, true),
    ("lzma.open", Fs, true),
    ("lzma.LZMAFile", Fs, true),
    ("dbm", Fs, true),
    ("sqlite3", Fs, true),
    ("mmap", Fs, true),
    ("mailbox", Fs, true),
    ("netrc", Fs, true),
    ("codecs.open", Fs, true),
    ("codecs.EncodedFile", Fs, true),
    // Windows APIs are CamelCase functions, not classes.
    ("win32api", Cmd, true),
    ("win32process", Cmd, true),
    ("win32com", Cmd, true),
    ("win32event", Cmd, false),
    ("win32service", Cmd, false),
    ("win32file", Fs, false),
    ("pythoncom", Cmd, false),
    ("wmi", Cmd, false),
    ("winreg", Sys, true),
    ("msvcrt", Sys, false),
    // More of the standard library that runs code or commands, or writes files.
    ("pipes", Cmd, true),
    ("unittest", Code, false),
    ("compileall", Fs, false),
    ("py_compile", Fs, false),
    ("zipapp", Fs, false),
    ("_osx_support", Cmd, true),
    ("_aix_support", Cmd, true),
    ("_pyrepl", Code, true),
    ("test.support", Code, false),
    ("getpass", Sys, false),
    ("torch.utils.bottleneck", Code, false),
    ("torch.utils.collect_env", Cmd, false),
    ("torch.utils._config_module", Code, false),
    ("torch.testing._internal", Code, false),
    // Third-party packages that run commands, evaluate expressions or reach the network.
    ("fabric", Cmd, false),
    ("invoke", Cmd, false),
    ("sh", Cmd, false),
    ("plumbum", Cmd, true),
    ("pexpect", Cmd, true),
    ("docker", Cmd, true),
    ("execnet", Code, true),
    ("rpyc", Code, true),
    ("ipykernel", Code, true),
    ("jupyter_client", Code, true),
    ("numexpr.evaluate", Code, false),
    ("sympy.sympify", Code, false),
    ("sympy.parsing", Code, false),
    ("asteval", Code, true),
    ("Cheetah", Code, true),
    ("jsonpickle", Deser, true),
    ("ruamel.yaml", Deser, false),
    ("boto3", Net, true),
    ("botocore", Net, true),
    ("pymongo", Net, true),
    ("httplib2", Net, true),
    ("pycurl", Net, true),
    ("fsspec", Fs, true),
    ("smart_open", Fs, true),
    ("s3fs", Net, true),
    ("gcsfs", Net, true),
    ("numpy.DataSource", Net, false),
    ("numpy.lib._datasource", Net, false),
    ("numpy.lib.DataSource", Net, false),
    ("pandas.io.pytables", Fs, false),
    ("pandas.io.parsers", Fs, false),
    ("pandas.io.sql", Net, false),
    ("pandas.read_", Fs, false),
    ("torch.classes.load_library", Native, false),
    ("keras.utils.get_file", Net, false),
    // Classes whose constructor writes or reads files, connects, or starts processes.
    ("wave", Fs, true),
    ("aifc", Fs, true),
    ("sunau", Fs, true),
    ("pstats", Deser, true),
    ("scipy.io", Fs, false),
    ("joblib.memory", Fs, false),
    ("joblib.pool", Cmd, false),
    ("joblib.parallel", Cmd, false),
    ("joblib._parallel_backends", Cmd, false),
    ("joblib.executor", Cmd, false),
    ("joblib.externals", Cmd, false),
    ("joblib._memmapping_reducer", Fs, false),
    ("joblib.disk", Fs, false),
    ("torch._C._distributed_c10d", Net, false),
    ("torch._C._distributed_rpc", Net, false),
    ("torch._C._distributed_autograd", Net, false),
    ("numpy._core.memmap", Fs, false),
    ("joblib.logger", Fs, false),
    ("joblib.compressor", Fs, false),
    ("pandas.io.common", Fs, false),
    ("xgboost.tracker", Net, false),
    ("xgboost.collective", Net, false),
    ("sklearn.utils._testing", Code, false),
    ("pandas._testing", Fs, false),
    ("pandas.util._tester", Code, false),
    ("scipy._lib._testutils", Code, false),
    ("torch._C.CompilationUnit", Code, false),
    ("torch._C.PyTorchFileReader", Fs, false),
    ("torch._C.PyTorchFileWriter", Fs, false),
];

/// Callables that benign model files call. Exact canonical paths.
const ALLOW_CALL: &[&str] = &[
    // Python builtins that rebuild plain data.
    "builtins.set",
    "builtins.frozenset",
    "builtins.list",
    "builtins.dict",
    "builtins.tuple",
    "builtins.bytearray",
    "builtins.bytes",
    "builtins.complex",
    "builtins.slice",
    "builtins.range",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
    "builtins.str",
    "builtins.object",
    "builtins.object.__new__",
    "copyreg._reconstructor",
    "copyreg.__newobj__",
    "copyreg.__newobj_ex__",
    "codecs.encode",
    "collections.OrderedDict",
    "collections.defaultdict",
    "collections.Counter",
    "collections.deque",
    "datetime.datetime",
    "datetime.date",
    "datetime.time",
    "datetime.timedelta",
    "datetime.timezone",
    "decimal.Decimal",
    "fractions.Fraction",
    "uuid.UUID",
    "re._compile",
    "argparse.Namespace",
    "types.SimpleNamespace",
    "pathlib.Path",
    "pathlib.PosixPath",
    "pathlib.WindowsPath",
    "pathlib.PurePath",
    "pathlib.PurePosixPath",
    "pathlib.PureWindowsPath",
    "enum.Enum",
    // PyTorch.
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "torch._utils._rebuild_sparse_tensor",
    "torch._utils._rebuild_sparse_csr_tensor",
    "torch._utils._rebuild_nested_tensor",
    "torch._utils._rebuild_device_tensor_from_numpy",
    "torch._utils._rebuild_device_tensor_from_cpu_tensor",
    "torch._utils._rebuild_meta_tensor_no_storage",
    "torch._utils._rebuild_qtensor",
    "torch._utils._rebuild_wrapper_subclass",
    "torch._utils._rebuild_xla_tensor",
    "torch._utils._rebuild_mtia_tensor",
    "torch._utils._rebuild_typed_storage",
    "torch._utils._rebuild_typed_storage_child",
    "torch._tensor._rebuild_from_type",
    "torch._tensor._rebuild_from_type_v2",
    "torch.storage._load_from_bytes",
    "torch.Size",
    "torch.device",
    "torch.serialization._get_layout",
    "torch.nn.parameter.Parameter",
    "torch.nn.parameter.Buffer",
    "torch._C._nn.gelu",
    "torch.BoolStorage",
    // NumPy.
    "numpy._core.multiarray._reconstruct",
    "numpy._core.multiarray.scalar",
    "numpy._core._multiarray_umath.scalar",
    "numpy._core._multiarray_umath._reconstruct",
    "functools.partial",
    "operator.or_",
    "operator.itemgetter",
    "io.BytesIO",
    "types.GenericAlias",
    "types.UnionType",
    "array.array",
    "array._array_reconstructor",
    "pytz._p",
    "pytz._UTC",
    "pytz.tzinfo.unpickler",
    "zoneinfo.ZoneInfo._unpickle",
    "dateutil.tz.tz.tzutc",
    "dateutil.tz.tz.tzoffset",
    "operator.and_",
    "operator.xor",
    "numpy._core.numeric._frombuffer",
    "numpy.dtype",
    "numpy.ndarray",
    "numpy.ma.core._mareconstruct",
    "numpy.random._pickle.__randomstate_ctor",
    "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random._pickle.__generator_ctor",
    "numpy.random.__RandomState_ctor",
    "numpy.random._pickle.__RandomState_ctor",
    // joblib.
    "joblib.numpy_pickle.NumpyArrayWrapper",
    "joblib.numpy_pickle.NDArrayWrapper",
    "joblib.numpy_pickle.ZNDArrayWrapper",
];

/// Libraries whose classes benign checkpoints are made of. A class of theirs that is instantiated
/// (`NEWOBJ`, `copyreg._reconstructor`) is not reported; one that is called with arguments is `low`.
const TRUSTED_LIBRARIES: &[&str] = &[
    "torch",
    "torchvision",
    "torchaudio",
    "torchtext",
    "numpy",
    "scipy",
    "sklearn",
    "pandas",
    "transformers",
    "tokenizers",
    "safetensors",
    "accelerate",
    "peft",
    "timm",
    "sentence_transformers",
    "lightning",
    "lightning_fabric",
    "pytorch_lightning",
    "torchmetrics",
    "xgboost",
    "lightgbm",
    "catboost",
    "joblib",
    "collections",
    "datetime",
    "enum",
    "omegaconf",
    "typing",
];

/// Classes of trusted libraries whose constructor reads or writes a file named in its arguments
/// (`xgboost.core.Booster(params, cache, model_file)`): built without arguments (`NEWOBJ`, the way
/// they pickle themselves) they are benign, called with arguments they touch the file system.
pub(crate) const CONSTRUCTOR_IO: &[(&str, &str, Danger)] = &[
    ("xgboost", "Booster", Fs),
    ("xgboost", "DMatrix", Fs),
    ("xgboost", "QuantileDMatrix", Fs),
    ("lightgbm", "Booster", Fs),
    ("lightgbm", "CVBooster", Fs),
    ("lightgbm", "Dataset", Fs),
    ("catboost", "CatBoost", Fs),
    ("catboost", "CatBoostClassifier", Fs),
    ("catboost", "CatBoostRegressor", Fs),
    ("catboost", "Pool", Fs),
];

/// Whether `path` is one of [`CONSTRUCTOR_IO`]'s classes, under any of its library's module paths.
pub(crate) fn constructor_io(path: &str) -> Option<Danger> {
    let root = path.split('.').next()?;
    let last = path.rsplit('.').next()?;
    CONSTRUCTOR_IO
        .iter()
        .find(|(r, n, _)| *r == root && *n == last)
        .map(|&(_, _, d)| d)
}

/// Classes re-exported under many module paths within the libraries named: the last component
/// decides, wherever it is imported from (`sklearn.datasets._lfw.Memory` is `joblib.Memory`).
const REEXPORTED_CLASSES: &[(&str, &[&str], Danger)] = &[
    ("Memory", &["joblib", "sklearn"], Fs),
    ("Parallel", &["joblib", "sklearn"], Cmd),
    ("RabitTracker", &["xgboost"], Net),
];

/// How a canonical path relates to the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Class {
    /// On the deny list (the matched entry and what it does).
    Dangerous { entry: &'static str, danger: Danger },
    /// Reaches interpreter internals through a dunder attribute (`__globals__`, `__subclasses__`, …).
    Introspection { attribute: String },
    /// Exactly on the allowlist.
    Allowed,
    /// A class (by its name) from a library benign checkpoints are made of.
    Trusted,
    /// Anything else.
    Unknown,
}

/// Classifies a canonical dotted path.
pub(crate) fn classify(path: &str) -> Class {
    if let Some((entry, danger)) = deny_match(path) {
        return Class::Dangerous { entry, danger };
    }
    if let Some(attribute) = introspection(path) {
        return Class::Introspection { attribute };
    }
    if ALLOW_CALL.contains(&path) {
        return Class::Allowed;
    }
    if is_trusted_class(path) {
        return Class::Trusted;
    }
    Class::Unknown
}

/// Modules that other modules re-export under any path (`torch.os`, `numpy.core.sys`): a deny entry
/// for them matches at any depth of an attribute chain. Other `nested` entries match inside a chain
/// only as `…module.function` (one lowercase attribute after the module), so a library's own
/// subpackage that shares a standard module's name (`scipy.signal._ltisys.TransferFunction`) is not
/// mistaken for it.
const REEXPORTED: &[&str] = &[
    "os",
    "sys",
    "subprocess",
    "builtins",
    "socket",
    "ctypes",
    "pty",
    "runpy",
    "importlib",
    "pickle",
    "marshal",
    "shutil",
    "pydoc",
    "pkgutil",
];

/// Private aliases modules give what they import (`import os as _os` in `random`, `argparse`, …).
const PRIVATE_ALIASES: &[&str] = &[
    "_os",
    "_sys",
    "_subprocess",
    "_shutil",
    "_socket",
    "_signal",
    "_threading",
    "_builtins",
];

/// Last components distinctive enough to mean the dangerous function wherever it is re-exported
/// (`sklearn.utils._testing.check_output` is `subprocess.check_output`).
const DANGEROUS_NAMES: &[(&str, Danger)] = &[
    ("check_output", Cmd),
    ("check_call", Cmd),
    ("getoutput", Cmd),
    ("getstatusoutput", Cmd),
    ("Popen", Cmd),
    ("popen", Cmd),
    ("spawnv", Cmd),
    ("spawnve", Cmd),
    ("spawnl", Cmd),
    ("spawnlp", Cmd),
    ("execv", Cmd),
    ("execve", Cmd),
    ("execvp", Cmd),
    ("execl", Cmd),
    ("execlp", Cmd),
    ("startfile", Cmd),
    ("posix_spawn", Cmd),
    ("rmtree", Fs),
    ("NamedTemporaryFile", Fs),
    ("TemporaryFile", Fs),
    ("SpooledTemporaryFile", Fs),
    ("TemporaryDirectory", Fs),
    ("mkstemp", Fs),
    ("mkdtemp", Fs),
    ("urlopen", Net),
    ("urlretrieve", Net),
    ("create_connection", Net),
    ("run_path", Code),
    ("run_module", Code),
    ("CDLL", Native),
    ("PyDLL", Native),
    ("WinDLL", Native),
    ("OleDLL", Native),
    ("LoadLibrary", Native),
    ("load_library", Native),
    ("load_inline", Native),
    ("exec_command", Cmd),
];

fn deny_match(path: &str) -> Option<(&'static str, Danger)> {
    let parts: Vec<&str> = path.split('.').collect();
    for start in 0..parts.len() {
        let mut best: Option<(&'static str, Danger)> = None;
        let first = if start > 0 && PRIVATE_ALIASES.contains(&parts[start]) {
            &parts[start][1..]
        } else {
            parts[start]
        };
        let suffix = std::iter::once(first)
            .chain(parts[start + 1..].iter().copied())
            .collect::<Vec<_>>()
            .join(".");
        for &(entry, danger, nested) in DENY {
            if start > 0 && !nested {
                continue;
            }
            // An entry ending in `_` is a name prefix (`torch._C._jit_` covers every `_jit_*` function).
            let hit = suffix == entry
                || (suffix.starts_with(entry)
                    && (entry.ends_with('_') || suffix.as_bytes().get(entry.len()) == Some(&b'.')));
            if !hit {
                continue;
            }
            if start > 0 {
                let rest: Vec<&str> = suffix[entry.len()..]
                    .split('.')
                    .filter(|p| !p.is_empty())
                    .collect();
                let root = entry.split('.').next().unwrap_or(entry);
                // Inside a chain a bare module is just the module object: `foo.os` is not `os.system`.
                if rest.is_empty() && !entry.contains('.') {
                    continue;
                }
                let reexported = REEXPORTED.contains(&root);
                if !reexported && (rest.len() > 1 || rest.first().is_some_and(|a| is_class_name(a)))
                {
                    continue;
                }
            }
            if best.is_none_or(|(b, _)| entry.len() > b.len()) {
                best = Some((entry, danger));
            }
        }
        if best.is_some() {
            return best;
        }
    }
    let last = parts.last()?;
    if let Some(&(n, _, d)) = REEXPORTED_CLASSES
        .iter()
        .find(|(n, roots, _)| n == last && roots.contains(&parts[0]))
    {
        return Some((n, d));
    }
    DANGEROUS_NAMES
        .iter()
        .find(|(n, _)| n == last)
        .map(|&(n, d)| (n, d))
}

fn introspection(path: &str) -> Option<String> {
    path.split('.').skip(1).find_map(|part| {
        let dunder = part.len() > 4 && part.starts_with("__") && part.ends_with("__");
        let harmless = matches!(
            part,
            "__newobj__" | "__newobj_ex__" | "__new__" | "__setstate__" | "__main__"
        );
        (dunder && !harmless).then(|| part.to_owned())
    })
}

fn is_trusted_class(path: &str) -> bool {
    let mut parts = path.split('.');
    let Some(root) = parts.next() else {
        return false;
    };
    let Some(last) = path.rsplit('.').next() else {
        return false;
    };
    if !TRUSTED_LIBRARIES.contains(&root) || path == root {
        return false;
    }
    // Classes, and the helpers libraries register to rebuild their objects on unpickling
    // (`_unpickle_block`, `_timedelta_unpickle`, `_new_Index`, `_rebuild_tensor_v2`, `__pyx_unpickle_X`).
    let class_like = is_class_name(last)
        || last.contains("unpickle")
        || last.starts_with("_new_")
        || last.starts_with("_rebuild")
        || last.starts_with("_reconstruct")
        || last.ends_with("_reconstructor")
        || last.ends_with("_ctor")
        || last == "newObj";
    // A method fetched from a class (`Class.method`) is not a class: the part before it must not be a class.
    let parts: Vec<&str> = path.split('.').collect();
    let parent_is_class = parts.len() >= 2 && is_class_name(parts[parts.len() - 2]);
    class_like && !parent_is_class
}

/// Whether `path` belongs to one of the libraries benign checkpoints are made of.
pub(crate) fn in_trusted_library(path: &str) -> bool {
    path.split('.')
        .next()
        .is_some_and(|root| TRUSTED_LIBRARIES.contains(&root))
}

/// Python's naming convention for classes: `Net`, `_IncompatibleKeys`.
pub(crate) fn is_class_name(name: &str) -> bool {
    name.trim_start_matches('_')
        .chars()
        .next()
        .is_some_and(char::is_uppercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_matches_modules_and_chains() {
        assert!(matches!(
            classify("os.system"),
            Class::Dangerous { entry: "os", .. }
        ));
        assert!(matches!(
            classify("torch.os.system"),
            Class::Dangerous { entry: "os", .. }
        ));
        assert!(matches!(
            classify("builtins.eval.__call__"),
            Class::Dangerous {
                entry: "builtins.eval",
                ..
            }
        ));
        assert!(matches!(
            classify("subprocess.Popen"),
            Class::Dangerous { .. }
        ));
        assert!(matches!(
            classify("torch.hub.load"),
            Class::Dangerous { .. }
        ));
        assert!(matches!(
            classify("uuid._get_command_stdout"),
            Class::Dangerous { .. }
        ));
        // Not every `io` is the io module.
        assert_eq!(classify("pandas.io.formats.style.Styler"), Class::Trusted);
        assert_eq!(classify("uuid.UUID"), Class::Allowed);
    }

    #[test]
    fn introspection_chains() {
        assert!(matches!(
            classify("torch.nn.Module.__init__.__globals__"),
            Class::Introspection { .. }
        ));
        assert!(matches!(
            classify("builtins.object.__subclasses__"),
            Class::Introspection { .. }
        ));
        assert_eq!(classify("copyreg.__newobj__"), Class::Allowed);
    }

    #[test]
    fn allow_and_trusted() {
        assert_eq!(classify("torch._utils._rebuild_tensor_v2"), Class::Allowed);
        assert_eq!(classify("collections.OrderedDict"), Class::Allowed);
        assert_eq!(
            classify("sklearn.linear_model._logistic.LogisticRegression"),
            Class::Trusted
        );
        assert_eq!(classify("sklearn.utils.some_function"), Class::Unknown);
        assert_eq!(classify("torch.nn.Module.apply"), Class::Unknown);
        assert_eq!(classify("mymodule.Net"), Class::Unknown);
        assert_eq!(
            classify("pandas._libs.tslibs.timedeltas._timedelta_unpickle"),
            Class::Trusted
        );
        assert_eq!(
            classify("pandas.core.indexes.base._new_Index"),
            Class::Trusted
        );
        assert_eq!(classify("pandas.core.helpers.run_report"), Class::Unknown);
    }
}
