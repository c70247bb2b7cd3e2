//! The rule catalog: every finding the scanner can emit, with the documentation `aisec rules explain`
//! prints. Rule ids are stable; a test checks they are unique and snapshots the list.

use aisec_core::Severity;

pub use aisec_core::Rule;

const ATLAS_UNSAFE_ARTIFACT: &[&str] = &["AML.T0011.000", "AML.T0010.003"];
const CWE_DESER: &[&str] = &["CWE-502"];
const PICKLE_REFS: &[&str] = &[
    "https://docs.python.org/3/library/pickle.html#restricting-globals",
    "https://atlas.mitre.org/techniques/AML.T0011.000",
    "https://cwe.mitre.org/data/definitions/502.html",
];
const ZIP_REFS: &[&str] = &[
    "https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT",
    "https://atlas.mitre.org/techniques/AML.T0010.003",
];
const REMEDIATE_PICKLE: &str = "Do not load this file. Obtain the model from its publisher in a format that cannot run \
code (safetensors, GGUF, ONNX) and verify its signature; if you must load a pickle, use an allowlisting unpickler \
(torch.load(weights_only=True)) in an isolated environment.";

/// Every rule of the scanner, in id order: the pickle and archive rules here, then each format
/// analyser's own (`crate::formats::RULE_SETS`).
pub static RULES: std::sync::LazyLock<Vec<Rule>> = std::sync::LazyLock::new(|| {
    let mut all: Vec<Rule> = CORE_RULES
        .iter()
        .chain(crate::formats::RULE_SETS.iter().flat_map(|set| set.iter()))
        .copied()
        .collect();
    all.sort_by_key(|r| r.id);
    all
});

/// The pickle (MS1xx) and archive (MS2xx) rules.
const CORE_RULES: &[Rule] = &[
    Rule {
        id: "MS101",
        name: "pickle-code-execution",
        title: "Pickle runs Python code when loaded",
        severity: Severity::Critical,
        what: "A call, made while the pickle loads, to a function that runs arbitrary Python code: `eval`, `exec`, \
`compile`, `runpy`, `code`, profilers and debuggers that execute their argument (`cProfile.run`, `timeit`, `trace`, `bdb`, \
`pdb`), code-object constructors, template engines, TorchScript and `torch.fx` code generation, `numpy.testing` helpers that exec.",
        why: "Whoever made the file runs code on every machine that loads it: the classic model supply-chain attack.",
        example: "GLOBAL 'builtins eval' + REDUCE (\"__import__('os').system('id')\",)",
        remediation: REMEDIATE_PICKLE,
        atlas: ATLAS_UNSAFE_ARTIFACT,
        cwe: &["CWE-502", "CWE-94"],
        references: PICKLE_REFS,
    },
    Rule {
        id: "MS102",
        name: "pickle-command-execution",
        title: "Pickle runs operating-system commands when loaded",
        severity: Severity::Critical,
        what: "A call to `os`/`posix`/`nt`, `subprocess`, `pty`, `platform.popen`, `multiprocessing`, `asyncio` subprocess \
helpers, `uuid`'s command helpers, `webbrowser`, threads and other process launchers.",
        why: "The loader's machine runs the attacker's command with the loader's privileges.",
        example: "GLOBAL 'os system' + REDUCE ('curl … | sh',)",
        remediation: REMEDIATE_PICKLE,
        atlas: ATLAS_UNSAFE_ARTIFACT,
        cwe: &["CWE-502", "CWE-78"],
        references: PICKLE_REFS,
    },
    Rule {
        id: "MS103",
        name: "pickle-native-code",
        title: "Pickle loads native code when loaded",
        severity: Severity::Critical,
        what: "A call to `ctypes`, `cffi`, `numpy.ctypeslib`, `torch.ops`/`torch.classes` library loaders or \
`torch.utils.cpp_extension`.",
        why: "Loading a shared library runs its initialisers: arbitrary machine code.",
        example: "GLOBAL 'ctypes CDLL' + REDUCE ('/tmp/x.so',)",
        remediation: REMEDIATE_PICKLE,
        atlas: ATLAS_UNSAFE_ARTIFACT,
        cwe: CWE_DESER,
        references: PICKLE_REFS,
    },
    Rule {
        id: "MS104",
        name: "pickle-network",
        title: "Pickle opens network connections when loaded",
        severity: Severity::Critical,
        what: "A call to `socket`, `http`, `urllib`, `requests`, `ftplib`, `smtplib`, `xmlrpc`, logging socket handlers and \
other network clients.",
        why: "Used to exfiltrate data or fetch a second stage; a model file has no reason to connect anywhere.",
        example: "GLOBAL 'socket create_connection' + REDUCE (('attacker', 4444),)",
        remediation: REMEDIATE_PICKLE,
        atlas: ATLAS_UNSAFE_ARTIFACT,
        cwe: CWE_DESER,
        references: PICKLE_REFS,
    },
    Rule {
        id: "MS105",
        name: "pickle-file-system",
        title: "Pickle reads, writes or deletes files when loaded",
        severity: Severity::Critical,
        what: "A call to `open`, `io.open`, `shutil`, `tempfile`, `zipfile`/`tarfile` extraction, `sqlite3`, `numpy` and \
`torch` file readers and writers, `linecache`, `glob` and the like.",
        why: "Files can be planted (a `.pth` file in site-packages runs on every interpreter start), read or destroyed.",
        example: "GLOBAL 'shutil rmtree' + REDUCE ('/home/user',)",
        remediation: REMEDIATE_PICKLE,
        atlas: ATLAS_UNSAFE_ARTIFACT,
        cwe: &["CWE-502", "CWE-73"],
        references: PICKLE_REFS,
    },
    Rule {
        id: "MS106",
        name: "pickle-name-resolution",
        title: "Pickle resolves arbitrary names or reaches interpreter internals",
        severity: Severity::Critical,
        what: "A call to a function that turns a string into any object (`getattr`, `pydoc.locate`, `pkgutil.resolve_name`, \
`importlib`, `__import__`, `operator.attrgetter`/`methodcaller`, `sys.modules`), or an attribute chain through dunder \
attributes (`__globals__`, `__builtins__`, `__subclasses__`, `__dict__`).",
        why: "These are how payloads hide the name of what they really call from allowlists and scanners.",
        example: "GLOBAL 'pydoc locate' + REDUCE ('os.system',), then REDUCE on the result",
        remediation: REMEDIATE_PICKLE,
        atlas: ATLAS_UNSAFE_ARTIFACT,
        cwe: CWE_DESER,
        references: PICKLE_REFS,
    },
    Rule {
        id: "MS107",
        name: "pickle-nested-deserialization",
        title: "Pickle deserializes further data when loaded",
        severity: Severity::High,
        what: "A call to a deserializer (`pickle.loads`, `marshal.loads`, `torch.load`, `numpy.load`, `joblib.load`, \
`dill`, `yaml`) inside the pickle. The nested data is scanned too and its findings reported under `…!/<call@offset>`.",
        why: "A second layer of serialization hides a payload from scanners that read only the outer stream.",
        example: "GLOBAL 'pickle loads' + REDUCE (b'\\x80\\x04…',)",
        remediation: REMEDIATE_PICKLE,
        atlas: ATLAS_UNSAFE_ARTIFACT,
        cwe: CWE_DESER,
        references: PICKLE_REFS,
    },
    Rule {
        id: "MS108",
        name: "pickle-system-state",
        title: "Pickle installs packages or changes interpreter state when loaded",
        severity: Severity::Critical,
        what: "A call to `pip`, `ensurepip`, `setuptools`, `venv`, `signal`, `sys.exit`, `atexit` and similar.",
        why: "Installing a package runs its code; changing interpreter state can disable defences or persist.",
        example: "GLOBAL 'pip main' + REDUCE (['install', 'evil'],)",
        remediation: REMEDIATE_PICKLE,
        atlas: ATLAS_UNSAFE_ARTIFACT,
        cwe: CWE_DESER,
        references: PICKLE_REFS,
    },
    Rule {
        id: "MS110",
        name: "pickle-dangerous-import",
        title: "Pickle imports a dangerous callable",
        severity: Severity::High,
        what: "A dangerous callable is imported (or passed to a call, which is `critical`) but no call to it was seen.",
        why: "Importing runs the module's import-time code, and the reference may be called by code the scanner cannot see.",
        example: "GLOBAL 'os system' stored in a dict",
        remediation: REMEDIATE_PICKLE,
        atlas: ATLAS_UNSAFE_ARTIFACT,
        cwe: CWE_DESER,
        references: PICKLE_REFS,
    },
    Rule {
        id: "MS111",
        name: "pickle-computed-import",
        title: "Pickle imports a name computed at load time",
        severity: Severity::Critical,
        what: "`STACK_GLOBAL` whose module or name is not a constant string but the result of a call, or an extension \
code registered in the stream. The scanner evaluates string operations it knows (join, concatenation, codecs, base64) \
and reports the resolved name too.",
        why: "Benign pickles always name their classes literally; computing the name is done only to evade scanners.",
        example: "STACK_GLOBAL with module = ''.join(['o', 's'])",
        remediation: REMEDIATE_PICKLE,
        atlas: ATLAS_UNSAFE_ARTIFACT,
        cwe: CWE_DESER,
        references: PICKLE_REFS,
    },
    Rule {
        id: "MS112",
        name: "pickle-unknown-call",
        title: "Pickle calls a callable that benign model files do not use",
        severity: Severity::High,
        what: "A call (REDUCE, INST, OBJ) to something that is neither on the deny list nor on the allowlist of what \
PyTorch, NumPy, scikit-learn, joblib and Hugging Face files contain, or a call of a value computed at load time, or \
`BUILD` that sets attributes on a class or module.",
        why: "Any call runs code chosen by the file's author; only well-known constructors are safe to call.",
        example: "GLOBAL 'somepkg helpers.run' + REDUCE ('x',)",
        remediation: "Find out what the callable does before loading the file. If it is a class of your own project that is \
expected, load the file only in an isolated environment or convert the model to safetensors.",
        atlas: ATLAS_UNSAFE_ARTIFACT,
        cwe: CWE_DESER,
        references: PICKLE_REFS,
    },
    Rule {
        id: "MS113",
        name: "pickle-unknown-class",
        title: "Pickle builds an object of a class outside the known libraries",
        severity: Severity::Low,
        what: "An object of a class that is not part of PyTorch, NumPy, scikit-learn and the other libraries benign \
checkpoints are made of is built with plain data (NEWOBJ, or a class called with arguments), or a trusted library's class \
is called with arguments.",
        why: "Usually a project's own model class (`__main__.Net`). Loading it needs that code, and its `__setstate__` runs.",
        example: "GLOBAL '__main__ Net' + NEWOBJ () + BUILD {…}",
        remediation: "Make sure the class is your own code; prefer saving a state dict and loading weights-only.",
        atlas: ATLAS_UNSAFE_ARTIFACT,
        cwe: CWE_DESER,
        references: PICKLE_REFS,
    },
    Rule {
        id: "MS114",
        name: "pickle-extension-code",
        title: "Pickle uses a copyreg extension code",
        severity: Severity::High,
        what: "An EXT1/EXT2/EXT4 opcode whose code is not registered in the stream: what it imports depends on the \
loading host's `copyreg` registry.",
        why: "No common library registers extension codes; a payload can use one registered by code it ran earlier.",
        example: "EXT1 0x01",
        remediation: REMEDIATE_PICKLE,
        atlas: ATLAS_UNSAFE_ARTIFACT,
        cwe: CWE_DESER,
        references: PICKLE_REFS,
    },
    Rule {
        id: "MS120",
        name: "pickle-malformed",
        title: "Pickle stream is malformed",
        severity: Severity::Medium,
        what: "The stream breaks (unknown opcode, truncation, stack underflow, a missing memo entry) before its STOP. \
Everything before the break was analysed and is reported; the offset says where it broke.",
        why: "The loader executes every opcode up to the break, so a payload placed before a deliberately broken tail \
runs while scanners that give up on errors report nothing.",
        example: "GLOBAL 'os system' REDUCE … then the byte 0xff",
        remediation: "Treat the file as hostile unless it is a known truncated download; re-fetch it from the source.",
        atlas: ATLAS_UNSAFE_ARTIFACT,
        cwe: CWE_DESER,
        references: PICKLE_REFS,
    },
    Rule {
        id: "MS121",
        name: "pickle-trailing-data",
        title: "Data follows the pickle stream",
        severity: Severity::Low,
        what: "Bytes after the last STOP of a stream that is neither a known container layout nor a further pickle.",
        why: "A loader that reads more than one pickle from the file (legacy `torch.load` does) may see what a scanner \
reading one pickle does not.",
        example: "a pickle followed by a second, different pickle",
        remediation: "Check where the extra bytes come from.",
        atlas: ATLAS_UNSAFE_ARTIFACT,
        cwe: CWE_DESER,
        references: PICKLE_REFS,
    },
    Rule {
        id: "MS201",
        name: "zip-header-mismatch",
        title: "Archive member's local header disagrees with the central directory",
        severity: Severity::High,
        what: "Name, sizes, method or flags of a member differ between its local header and its central directory entry. \
Both views are scanned.",
        why: "Readers that trust the local header (streaming extractors) and readers that trust the central directory \
(Python's zipfile, PyTorch) see different files: the classic way to hide a payload from a scanner.",
        example: "central directory says `archive/data.pkl`, local header says `archive/data.pkl.bak`",
        remediation: "Do not load the archive; re-create it from trusted sources.",
        atlas: &["AML.T0010.003"],
        cwe: &["CWE-434"],
        references: ZIP_REFS,
    },
    Rule {
        id: "MS202",
        name: "zip-duplicate-member",
        title: "Archive has two members with the same name",
        severity: Severity::High,
        what: "Two entries share a name. Every one of them is scanned.",
        why: "Different readers pick different duplicates (first or last), so a scanner and a loader can read different bytes.",
        example: "two `archive/data.pkl` entries, the second malicious",
        remediation: "Do not load the archive; re-create it from trusted sources.",
        atlas: &["AML.T0010.003"],
        cwe: &["CWE-434"],
        references: ZIP_REFS,
    },
    Rule {
        id: "MS203",
        name: "zip-crc-mismatch",
        title: "Archive member's CRC does not match its data",
        severity: Severity::Medium,
        what: "The CRC-32 in the archive does not match the member's bytes. The member is scanned anyway.",
        why: "Some loaders do not check CRCs; a scanner that stops on the error would miss what they load.",
        example: "a data.pkl whose bytes were edited after the archive was written",
        remediation: "Re-fetch the file; treat it as tampered.",
        atlas: &["AML.T0010.003"],
        cwe: &["CWE-354"],
        references: ZIP_REFS,
    },
    Rule {
        id: "MS204",
        name: "zip-encrypted-flag",
        title: "Archive member is flagged encrypted",
        severity: Severity::Medium,
        what: "The encryption bit is set on a member. It is scanned as if it were not encrypted (readers that ignore the \
flag do the same); if it really is encrypted, the member is reported as not analysed.",
        why: "Scanners that skip encrypted members would skip a payload that lenient loaders read in clear.",
        example: "general-purpose flag bit 0 set on a stored data.pkl",
        remediation: "Re-create the archive without the flag.",
        atlas: &["AML.T0010.003"],
        cwe: &["CWE-693"],
        references: ZIP_REFS,
    },
    Rule {
        id: "MS205",
        name: "archive-prefix-data",
        title: "Data before the archive",
        severity: Severity::Medium,
        what: "Bytes in front of the first archive member (a ZIP polyglot). The prefix is scanned on its own as well.",
        why: "`pickle.load` on the file reads the prefix, while zip readers skip it: a pickle in front of a valid \
PyTorch zip runs when loaded by a plain unpickler.",
        example: "a malicious pickle concatenated in front of a PyTorch checkpoint",
        remediation: "Do not load the file; re-create it from trusted sources.",
        atlas: &["AML.T0010.003"],
        cwe: &["CWE-434"],
        references: ZIP_REFS,
    },
    Rule {
        id: "MS206",
        name: "zip-hidden-member",
        title: "Archive member not listed in the central directory",
        severity: Severity::High,
        what: "A local file header that no central-directory entry points to. It is scanned.",
        why: "Streaming readers see it, central-directory readers do not.",
        example: "an extra local header inserted before the real ones",
        remediation: "Do not load the archive; re-create it from trusted sources.",
        atlas: &["AML.T0010.003"],
        cwe: &["CWE-434"],
        references: ZIP_REFS,
    },
    Rule {
        id: "MS207",
        name: "archive-corrupt",
        title: "Archive structure is corrupt",
        severity: Severity::Medium,
        what: "A corrupt member header, an unreadable central directory, or trailing bytes after the end record.",
        why: "Malformed structure is how archives evade scanners; what could be read was still scanned.",
        example: "a garbage local header before the real members",
        remediation: "Re-fetch the file; treat it as tampered.",
        atlas: &["AML.T0010.003"],
        cwe: &["CWE-20"],
        references: ZIP_REFS,
    },
    Rule {
        id: "MS208",
        name: "archive-suspicious-path",
        title: "Archive member has a path that escapes extraction",
        severity: Severity::High,
        what: "A member name with `..`, an absolute path, a backslash or a NUL byte.",
        why: "Extracting such an archive writes outside the target directory (zip slip): a model archive \
that plants `~/.bashrc` or a Python file on the import path runs code later, whatever its members contain.",
        example: "../../.bashrc",
        remediation: "Do not extract the archive with a tool that follows member paths.",
        atlas: &["AML.T0010.003"],
        cwe: &["CWE-22"],
        references: ZIP_REFS,
    },
    Rule {
        id: "MS209",
        name: "archive-bomb",
        title: "Archive or compressed stream exceeds the decompression budget",
        severity: Severity::High,
        what: "A member or stream inflates past the configured size or ratio limit; what was inflated before the limit \
is scanned and the rest is reported as not analysed.",
        why: "Decompression bombs exhaust memory or disk of whoever opens them, and hide content past the point a scanner stops.",
        example: "a 10 KB zip member that inflates to 10 GB",
        remediation: "Do not open the file.",
        atlas: &["AML.T0010.003"],
        cwe: &["CWE-409"],
        references: ZIP_REFS,
    },
    Rule {
        id: "MS210",
        name: "archive-sparse-member",
        title: "Archive member is stored sparse",
        severity: Severity::High,
        what: "A tar member in GNU sparse form (type `S`, or a PAX sparse map). Extraction re-inserts holes of zeros \
between the stored fragments; the stored bytes are scanned as they are and the member is reported as not analysed.",
        why: "A hole placed inside a pickle's length-prefixed argument shifts what follows: a scanner reading the stored \
bytes and a loader reading the extracted file see different opcode streams. Model archives have no reason to be sparse.",
        example: "a tar whose `model.pkl` member is sparse with a 1 KiB hole inside a BINBYTES argument",
        remediation: "Do not extract the archive with a sparse-aware tool and load its contents; re-create it from trusted sources.",
        atlas: &["AML.T0010.003"],
        cwe: &["CWE-436"],
        references: ZIP_REFS,
    },
];

/// Looks a rule up by id (case-insensitive) or name.
#[must_use]
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .find(|r| r.id.eq_ignore_ascii_case(id) || r.name == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_are_unique_and_sorted() {
        for pair in RULES.windows(2) {
            assert!(
                pair[0].id < pair[1].id,
                "{} before {}",
                pair[0].id,
                pair[1].id
            );
        }
        let mut names: Vec<_> = RULES.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RULES.len());
        assert_eq!(rule("ms101").map(|r| r.name), Some("pickle-code-execution"));
    }
}
