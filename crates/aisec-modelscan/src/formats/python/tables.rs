//! What the Python analyser knows about names: which qualified names are dangerous, and which
//! strings mark secrets or sensitive paths.

/// What a dangerous name does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cat {
    /// Runs an operating-system command.
    Command,
    /// Runs Python code built at run time.
    Code,
    /// Imports a module by a computed name (only when the name does not fold).
    DynImport,
    /// Loads a Python file by path or through a custom loader.
    FileImport,
    /// Unpickles data.
    Deser,
    /// Opens a network connection (any address).
    Network,
    /// Opens a raw socket or a mail, file-transfer or shell client.
    RawNetwork,
    /// Downloads from a model hub.
    Hub,
    /// Opens a file (mode decides).
    Open,
    /// Deletes, moves or changes files.
    FileChange,
    /// Reads an environment variable (`os.getenv`, `os.environ.get`).
    EnvGet,
    /// Returns the user's hub token.
    Token,
    /// Loads native code.
    Native,
    /// Compiles native sources shipped with the code.
    NativeBuild,
    /// Installs an interpreter hook.
    Hook,
    /// Registers an exit handler.
    AtExit,
    /// `getattr`: resolved when its name folds.
    GetAttr,
}

/// Canonical module spelling: platform aliases and Python 2 names map to one name.
pub(super) fn canonical(qual: &str) -> std::borrow::Cow<'_, str> {
    const MAP: &[(&str, &str)] = &[
        ("posix", "os"),
        ("nt", "os"),
        ("__builtin__", "builtins"),
        ("__builtins__", "builtins"),
        ("_pickle", "pickle"),
        ("cPickle", "pickle"),
        ("_io", "io"),
        ("urllib2", "urllib.request"),
        ("httplib", "http.client"),
        ("xmlrpclib", "xmlrpc.client"),
        ("_socket", "socket"),
        ("_ctypes", "ctypes"),
        ("pathlib2", "pathlib"),
    ];
    for (from, to) in MAP {
        if let Some(rest) = qual.strip_prefix(from)
            && (rest.is_empty() || rest.starts_with('.'))
        {
            return format!("{to}{rest}").into();
        }
    }
    qual.into()
}

const TABLE: &[(&str, Cat)] = &[
    // Commands.
    ("os.system", Cat::Command),
    ("os.popen", Cat::Command),
    ("os.popen2", Cat::Command),
    ("os.popen3", Cat::Command),
    ("os.popen4", Cat::Command),
    ("os.execl", Cat::Command),
    ("os.execle", Cat::Command),
    ("os.execlp", Cat::Command),
    ("os.execlpe", Cat::Command),
    ("os.execv", Cat::Command),
    ("os.execve", Cat::Command),
    ("os.execvp", Cat::Command),
    ("os.execvpe", Cat::Command),
    ("os.spawnl", Cat::Command),
    ("os.spawnle", Cat::Command),
    ("os.spawnlp", Cat::Command),
    ("os.spawnlpe", Cat::Command),
    ("os.spawnv", Cat::Command),
    ("os.spawnve", Cat::Command),
    ("os.spawnvp", Cat::Command),
    ("os.spawnvpe", Cat::Command),
    ("os.posix_spawn", Cat::Command),
    ("os.posix_spawnp", Cat::Command),
    ("os.startfile", Cat::Command),
    ("subprocess.Popen", Cat::Command),
    ("subprocess.run", Cat::Command),
    ("subprocess.call", Cat::Command),
    ("subprocess.check_call", Cat::Command),
    ("subprocess.check_output", Cat::Command),
    ("subprocess.getoutput", Cat::Command),
    ("subprocess.getstatusoutput", Cat::Command),
    ("_posixsubprocess.fork_exec", Cat::Command),
    ("pty.spawn", Cat::Command),
    ("commands.getoutput", Cat::Command),
    ("commands.getstatusoutput", Cat::Command),
    ("commands.getstatus", Cat::Command),
    ("platform.popen", Cat::Command),
    ("asyncio.create_subprocess_exec", Cat::Command),
    ("asyncio.create_subprocess_shell", Cat::Command),
    ("asyncio.subprocess.create_subprocess_exec", Cat::Command),
    ("asyncio.subprocess.create_subprocess_shell", Cat::Command),
    ("pexpect.spawn", Cat::Command),
    ("pexpect.run", Cat::Command),
    ("webbrowser.open", Cat::Command),
    ("pip.main", Cat::Command),
    ("pip._internal.main", Cat::Command),
    ("pip._internal.cli.main.main", Cat::Command),
    // Code.
    ("builtins.eval", Cat::Code),
    ("builtins.exec", Cat::Code),
    ("builtins.compile", Cat::Code),
    ("builtins.execfile", Cat::Code),
    ("runpy.run_path", Cat::Code),
    ("runpy.run_module", Cat::Code),
    ("runpy._run_code", Cat::Code),
    ("runpy._run_module_code", Cat::Code),
    ("code.InteractiveInterpreter", Cat::Code),
    ("code.InteractiveConsole", Cat::Code),
    ("code.interact", Cat::Code),
    ("code.compile_command", Cat::Code),
    ("codeop.compile_command", Cat::Code),
    ("types.CodeType", Cat::Code),
    ("types.FunctionType", Cat::Code),
    ("types.LambdaType", Cat::Code),
    ("marshal.loads", Cat::Code),
    ("marshal.load", Cat::Code),
    ("timeit.timeit", Cat::Code),
    ("timeit.repeat", Cat::Code),
    ("timeit.Timer", Cat::Code),
    ("cProfile.run", Cat::Code),
    ("profile.run", Cat::Code),
    ("pdb.run", Cat::Code),
    // Imports.
    ("builtins.__import__", Cat::DynImport),
    ("importlib.import_module", Cat::DynImport),
    ("importlib.__import__", Cat::DynImport),
    ("pkgutil.resolve_name", Cat::DynImport),
    ("pydoc.locate", Cat::DynImport),
    ("importlib.util.spec_from_file_location", Cat::FileImport),
    ("importlib.util.spec_from_loader", Cat::FileImport),
    ("importlib.machinery.SourceFileLoader", Cat::FileImport),
    ("importlib.machinery.SourcelessFileLoader", Cat::FileImport),
    ("importlib.machinery.ExtensionFileLoader", Cat::FileImport),
    ("imp.load_source", Cat::FileImport),
    ("imp.load_module", Cat::FileImport),
    ("imp.load_compiled", Cat::FileImport),
    ("imp.load_dynamic", Cat::FileImport),
    ("zipimport.zipimporter", Cat::FileImport),
    // Deserialisation.
    ("pickle.load", Cat::Deser),
    ("pickle.loads", Cat::Deser),
    ("pickle.Unpickler", Cat::Deser),
    ("dill.load", Cat::Deser),
    ("dill.loads", Cat::Deser),
    ("cloudpickle.load", Cat::Deser),
    ("cloudpickle.loads", Cat::Deser),
    ("joblib.load", Cat::Deser),
    ("sklearn.externals.joblib.load", Cat::Deser),
    ("torch.load", Cat::Deser),
    ("torch.serialization.load", Cat::Deser),
    ("numpy.load", Cat::Deser),
    ("pandas.read_pickle", Cat::Deser),
    ("shelve.open", Cat::Deser),
    ("jsonpickle.decode", Cat::Deser),
    ("yaml.load", Cat::Deser),
    ("yaml.load_all", Cat::Deser),
    ("yaml.unsafe_load", Cat::Deser),
    ("yaml.unsafe_load_all", Cat::Deser),
    // Network.
    ("socket.socket", Cat::RawNetwork),
    ("socket.create_connection", Cat::RawNetwork),
    ("socket.create_server", Cat::RawNetwork),
    ("socket.fromfd", Cat::RawNetwork),
    ("asyncio.open_connection", Cat::RawNetwork),
    ("ftplib.FTP", Cat::RawNetwork),
    ("ftplib.FTP_TLS", Cat::RawNetwork),
    ("smtplib.SMTP", Cat::RawNetwork),
    ("smtplib.SMTP_SSL", Cat::RawNetwork),
    ("telnetlib.Telnet", Cat::RawNetwork),
    ("paramiko.SSHClient", Cat::RawNetwork),
    ("paramiko.Transport", Cat::RawNetwork),
    ("websocket.create_connection", Cat::RawNetwork),
    ("websocket.WebSocket", Cat::RawNetwork),
    ("websockets.connect", Cat::RawNetwork),
    ("pycurl.Curl", Cat::RawNetwork),
    ("urllib.request.urlopen", Cat::Network),
    ("urllib.request.urlretrieve", Cat::Network),
    ("urllib.request.Request", Cat::Network),
    ("urllib.request.build_opener", Cat::Network),
    ("urllib.urlopen", Cat::Network),
    ("urllib.urlretrieve", Cat::Network),
    ("http.client.HTTPConnection", Cat::Network),
    ("http.client.HTTPSConnection", Cat::Network),
    ("xmlrpc.client.ServerProxy", Cat::Network),
    ("requests.get", Cat::Network),
    ("requests.post", Cat::Network),
    ("requests.put", Cat::Network),
    ("requests.patch", Cat::Network),
    ("requests.delete", Cat::Network),
    ("requests.head", Cat::Network),
    ("requests.options", Cat::Network),
    ("requests.request", Cat::Network),
    ("requests.Session", Cat::Network),
    ("requests.session", Cat::Network),
    ("requests.api", Cat::Network),
    ("httpx.get", Cat::Network),
    ("httpx.post", Cat::Network),
    ("httpx.put", Cat::Network),
    ("httpx.patch", Cat::Network),
    ("httpx.delete", Cat::Network),
    ("httpx.head", Cat::Network),
    ("httpx.request", Cat::Network),
    ("httpx.stream", Cat::Network),
    ("httpx.Client", Cat::Network),
    ("httpx.AsyncClient", Cat::Network),
    ("aiohttp.ClientSession", Cat::Network),
    ("aiohttp.request", Cat::Network),
    ("urllib3.PoolManager", Cat::Network),
    ("urllib3.request", Cat::Network),
    ("urllib3.HTTPConnectionPool", Cat::Network),
    ("urllib3.HTTPSConnectionPool", Cat::Network),
    // Hub downloads.
    ("huggingface_hub.hf_hub_download", Cat::Hub),
    ("huggingface_hub.snapshot_download", Cat::Hub),
    ("huggingface_hub.cached_download", Cat::Hub),
    ("torch.hub.load", Cat::Hub),
    ("torch.hub.load_state_dict_from_url", Cat::Hub),
    ("torch.hub.download_url_to_file", Cat::Hub),
    ("huggingface_hub.file_download.hf_hub_download", Cat::Hub),
    (
        "huggingface_hub._snapshot_download.snapshot_download",
        Cat::Hub,
    ),
    // Files.
    ("builtins.open", Cat::Open),
    ("io.open", Cat::Open),
    ("codecs.open", Cat::Open),
    ("os.remove", Cat::FileChange),
    ("os.unlink", Cat::FileChange),
    ("os.rmdir", Cat::FileChange),
    ("os.removedirs", Cat::FileChange),
    ("os.rename", Cat::FileChange),
    ("os.renames", Cat::FileChange),
    ("os.replace", Cat::FileChange),
    ("os.truncate", Cat::FileChange),
    ("os.chmod", Cat::FileChange),
    ("os.chown", Cat::FileChange),
    ("os.symlink", Cat::FileChange),
    ("os.link", Cat::FileChange),
    ("os.open", Cat::FileChange),
    ("shutil.rmtree", Cat::FileChange),
    ("shutil.move", Cat::FileChange),
    ("shutil.copy", Cat::FileChange),
    ("shutil.copyfile", Cat::FileChange),
    ("shutil.copy2", Cat::FileChange),
    ("shutil.copytree", Cat::FileChange),
    ("shutil.chown", Cat::FileChange),
    // Environment and tokens.
    ("os.getenv", Cat::EnvGet),
    ("os.getenvb", Cat::EnvGet),
    ("os.environ.get", Cat::EnvGet),
    ("os.environ.pop", Cat::EnvGet),
    ("os.environ.setdefault", Cat::EnvGet),
    ("os.environ.__getitem__", Cat::EnvGet),
    ("huggingface_hub.get_token", Cat::Token),
    ("huggingface_hub.HfFolder.get_token", Cat::Token),
    ("huggingface_hub.utils.get_token", Cat::Token),
    // Native code.
    ("ctypes.CDLL", Cat::Native),
    ("ctypes.cdll", Cat::Native),
    ("ctypes.PyDLL", Cat::Native),
    ("ctypes.pydll", Cat::Native),
    ("ctypes.WinDLL", Cat::Native),
    ("ctypes.windll", Cat::Native),
    ("ctypes.OleDLL", Cat::Native),
    ("ctypes.oledll", Cat::Native),
    ("ctypes.LibraryLoader", Cat::Native),
    ("ctypes.CFUNCTYPE", Cat::Native),
    ("ctypes.PYFUNCTYPE", Cat::Native),
    ("ctypes.WINFUNCTYPE", Cat::Native),
    ("ctypes.memmove", Cat::Native),
    ("ctypes.memset", Cat::Native),
    ("ctypes.string_at", Cat::Native),
    ("ctypes.pythonapi", Cat::Native),
    ("ctypes.dlopen", Cat::Native),
    ("cffi.FFI", Cat::Native),
    ("torch.ops.load_library", Cat::Native),
    ("torch.classes.load_library", Cat::Native),
    ("torch.utils.cpp_extension.load_inline", Cat::Native),
    ("torch.utils.cpp_extension.load", Cat::NativeBuild),
    // Hooks.
    ("sys.settrace", Cat::Hook),
    ("sys.setprofile", Cat::Hook),
    ("sys.addaudithook", Cat::Hook),
    ("threading.settrace", Cat::Hook),
    ("threading.setprofile", Cat::Hook),
    ("sys.meta_path", Cat::Hook),
    ("sys.path_hooks", Cat::Hook),
    ("atexit.register", Cat::AtExit),
    ("builtins.getattr", Cat::GetAttr),
];

/// What the qualified name `qual` is, if it is (or is an attribute of) a dangerous name.
pub(super) fn classify(qual: &str) -> Option<(Cat, &'static str)> {
    let qual = canonical(qual);
    TABLE.iter().find_map(|(name, cat)| {
        let rest = qual.strip_prefix(name)?;
        (rest.is_empty() || rest.starts_with('.')).then_some((*cat, *name))
    })
}

/// Modules on which `getattr` with a computed name is obfuscation.
pub(super) fn is_dangerous_module(qual: &str) -> bool {
    matches!(
        &*canonical(qual),
        "builtins"
            | "os"
            | "subprocess"
            | "sys"
            | "importlib"
            | "ctypes"
            | "socket"
            | "pty"
            | "shutil"
            | "marshal"
            | "pickle"
            | "types"
            | "runpy"
            | "io"
            | "requests"
            | "urllib"
            | "urllib.request"
            | "http.client"
            | "platform"
            | "commands"
            | "code"
    )
}

/// Names resolved to `builtins.<name>` when nothing in scope binds them.
pub(super) const BUILTINS: &[&str] = &[
    "eval",
    "exec",
    "compile",
    "execfile",
    "__import__",
    "open",
    "getattr",
    "setattr",
    "globals",
    "vars",
    "breakpoint",
];

/// Environment variable names that hold secrets: a `_`-separated word of the name marks it
/// (`HF_TOKEN`, `WANDB_API_KEY`, `AWS_SECRET_ACCESS_KEY`), so `TOKENIZERS_PARALLELISM` does not.
pub(super) fn is_secret_env(name: &str) -> bool {
    const WORDS: &[&str] = &[
        "TOKEN",
        "TOKENS",
        "SECRET",
        "SECRETS",
        "PASSWORD",
        "PASSWD",
        "CREDENTIAL",
        "CREDENTIALS",
        "APIKEY",
        "KEY",
        "PRIVATE",
        "COOKIE",
        "AUTH",
    ];
    let n = name.to_ascii_uppercase();
    n.starts_with("AWS_")
        || n.starts_with("AZURE_")
        || n.starts_with("GOOGLE_APPLICATION")
        || n.split(['_', '-', '.']).any(|w| WORDS.contains(&w))
}

/// Paths of credential files.
pub(super) fn credential_path(s: &str) -> Option<&'static str> {
    const PATHS: &[&str] = &[
        ".ssh/",
        "id_rsa",
        "id_ed25519",
        "id_ecdsa",
        "authorized_keys",
        ".aws/credentials",
        ".aws/config",
        ".netrc",
        ".git-credentials",
        "huggingface/token",
        "huggingface/stored_tokens",
        "/etc/shadow",
        "/etc/passwd",
        ".kube/config",
        ".docker/config.json",
        ".pypirc",
        ".bash_history",
        ".gnupg",
        "gcloud/credentials",
        "application_default_credentials.json",
    ];
    PATHS.iter().copied().find(|p| s.contains(p))
}

/// Paths whose modification persists code or harms the system.
pub(super) fn sensitive_write_path(s: &str) -> bool {
    let markers = [
        "..",
        ".bashrc",
        ".bash_profile",
        ".profile",
        ".zshrc",
        ".pth",
        "sitecustomize",
        "usercustomize",
        "site-packages",
        "dist-packages",
        "authorized_keys",
        "/etc/",
        "crontab",
        "/cron",
        "/.config/autostart",
        "/bin/",
        "/usr/",
        "/var/",
        "/root",
        "/home/",
        ".ssh",
        ".git/hooks",
    ];
    let persist = [
        ".pth",
        ".bashrc",
        ".profile",
        "sitecustomize",
        "authorized_keys",
        "crontab",
    ];
    let scratch = [
        "/.cache/",
        "~/.cache",
        "/tmp/",
        "/dev/shm/",
        "/dev/null",
        "/var/tmp/",
    ];
    if scratch.iter().any(|p| s.contains(p)) && !persist.iter().any(|p| s.contains(p)) {
        return false;
    }
    s.starts_with('/')
        || s.starts_with('~')
        || s.starts_with('\\')
        || s.as_bytes().get(1) == Some(&b':')
        || markers.iter().any(|m| s.contains(m))
}

/// Calls whose presence in a path expression points outside the model's directories.
pub(super) fn is_path_escape_call(qual: &str) -> bool {
    matches!(
        &*canonical(qual),
        "os.path.expanduser"
            | "os.path.expandvars"
            | "pathlib.Path.home"
            | "site.getsitepackages"
            | "site.getusersitepackages"
            | "sysconfig.get_paths"
            | "sysconfig.get_path"
            | "os.getcwd"
    ) || qual.rsplit('.').next() == Some("home")
}

/// Substrings searched for in text the parser could not structure.
pub(super) const NEEDLES: &[&str] = &[
    "os.system",
    "os.popen",
    "subprocess",
    "pty.spawn",
    "eval(",
    "exec(",
    "__import__",
    "marshal.loads",
    "pickle.loads",
    "socket.socket",
    "urlopen",
    "requests.post",
    "b64decode",
    "ctypes",
    "os.environ",
    "__subclasses__",
    "__globals__",
];
