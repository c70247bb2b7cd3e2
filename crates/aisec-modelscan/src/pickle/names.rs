//! Canonical names for what `find_class` imports.
//!
//! The same callable hides behind many spellings: Python 2 module names that the unpickler maps on
//! load (`__builtin__`, `copy_reg`, `commands`), C accelerator modules (`_operator`, `_pickle`,
//! `_io`), platform modules that `os` re-exports (`posix`, `nt`), and NumPy 1 and 2 module paths.
//! Policy matching works on the canonical dotted path this module produces, so one list entry covers
//! every spelling.

/// Module aliases, applied to the first components of a dotted path (longest match first).
const MODULE_ALIASES: &[(&str, &str)] = &[
    // Python 2 names the unpickler maps (`_compat_pickle.IMPORT_MAPPING`), and C accelerators.
    ("__builtin__", "builtins"),
    ("exceptions", "builtins"),
    ("copy_reg", "copyreg"),
    ("cPickle", "pickle"),
    ("_pickle", "pickle"),
    ("commands", "subprocess"),
    ("popen2", "subprocess"),
    ("_operator", "operator"),
    ("_functools", "functools"),
    ("_io", "io"),
    ("_pyio", "io"),
    ("StringIO", "io"),
    ("cStringIO", "io"),
    ("_codecs", "codecs"),
    ("_collections", "collections"),
    ("UserDict", "collections"),
    ("UserList", "collections"),
    ("UserString", "collections"),
    ("_socket", "socket"),
    ("SocketServer", "socketserver"),
    ("thread", "_thread"),
    ("dummy_thread", "_thread"),
    ("_dummy_thread", "_thread"),
    ("httplib", "http.client"),
    ("urllib2", "urllib.request"),
    ("urlparse", "urllib.parse"),
    ("xmlrpclib", "xmlrpc.client"),
    ("SimpleXMLRPCServer", "xmlrpc.server"),
    ("BaseHTTPServer", "http.server"),
    ("SimpleHTTPServer", "http.server"),
    ("CGIHTTPServer", "http.server"),
    ("Cookie", "http.cookies"),
    ("cookielib", "http.cookiejar"),
    ("Tkinter", "tkinter"),
    ("ConfigParser", "configparser"),
    ("Queue", "queue"),
    ("repr", "reprlib"),
    ("_winreg", "winreg"),
    ("anydbm", "dbm"),
    ("whichdb", "dbm"),
    ("dumbdbm", "dbm.dumb"),
    ("gdbm", "dbm.gnu"),
    ("dbhash", "dbm.bsd"),
    // `os` re-exports the platform module; `os.path` is `posixpath`/`ntpath`.
    ("posix", "os"),
    ("nt", "os"),
    ("posixpath", "os.path"),
    ("ntpath", "os.path"),
    ("genericpath", "os.path"),
    ("_posixsubprocess", "subprocess._posixsubprocess"),
    ("_winapi", "subprocess._winapi"),
    ("_ctypes", "ctypes"),
    ("_sqlite3", "sqlite3"),
    ("_bz2", "bz2"),
    ("_lzma", "lzma"),
    ("_marshal", "marshal"),
    ("_imp", "importlib._imp"),
    ("_frozen_importlib", "importlib"),
    ("_frozen_importlib_external", "importlib"),
    ("_thread", "_thread"),
    ("_signal", "signal"),
    ("_tracemalloc", "tracemalloc"),
    ("_lsprof", "cProfile"),
    ("_multiprocessing", "multiprocessing"),
    ("_asyncio", "asyncio"),
    ("_pydecimal", "decimal"),
    // NumPy 2 moved `numpy.core` to `numpy._core`; both spellings load.
    ("numpy.core", "numpy._core"),
];

/// A module and a name in it.
type QualName = (&'static str, &'static str);

/// Names `_compat_pickle.NAME_MAPPING` rewrites, (module, name) to (module, name).
const NAME_ALIASES: &[(QualName, QualName)] = &[
    (("__builtin__", "xrange"), ("builtins", "range")),
    (("__builtin__", "reduce"), ("functools", "reduce")),
    (("__builtin__", "intern"), ("sys", "intern")),
    (("__builtin__", "unichr"), ("builtins", "chr")),
    (("__builtin__", "unicode"), ("builtins", "str")),
    (("__builtin__", "long"), ("builtins", "int")),
    (("__builtin__", "basestring"), ("builtins", "str")),
    (("__builtin__", "execfile"), ("builtins", "exec")),
    (("itertools", "izip"), ("builtins", "zip")),
    (("itertools", "imap"), ("builtins", "map")),
    (("itertools", "ifilter"), ("builtins", "filter")),
    (("urllib", "urlopen"), ("urllib.request", "urlopen")),
    (("urllib", "urlretrieve"), ("urllib.request", "urlretrieve")),
];

/// The canonical dotted path of `module` + `name`.
pub(crate) fn canonical(module: &str, name: &str) -> String {
    let (module, name) = NAME_ALIASES
        .iter()
        .find(|((m, n), _)| *m == module && *n == name)
        .map_or((module, name), |(_, to)| *to);
    let module = canonical_module(module);
    if name.is_empty() {
        module
    } else {
        format!("{module}.{name}")
    }
}

/// The canonical spelling of a (possibly dotted) module path.
pub(crate) fn canonical_module(module: &str) -> String {
    let mut best: Option<(&str, &str)> = None;
    for (from, to) in MODULE_ALIASES {
        let matches = module == *from
            || (module.starts_with(from) && module.as_bytes().get(from.len()) == Some(&b'.'));
        if matches && best.is_none_or(|(b, _)| from.len() > b.len()) {
            best = Some((from, to));
        }
    }
    match best {
        Some((from, to)) => format!("{to}{}", &module[from.len()..]),
        None => module.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases() {
        assert_eq!(canonical("posix", "system"), "os.system");
        assert_eq!(canonical("nt", "system"), "os.system");
        assert_eq!(canonical("__builtin__", "eval"), "builtins.eval");
        assert_eq!(canonical("__builtin__", "execfile"), "builtins.exec");
        assert_eq!(canonical("_operator", "attrgetter"), "operator.attrgetter");
        assert_eq!(
            canonical("numpy.core.multiarray", "_reconstruct"),
            "numpy._core.multiarray._reconstruct"
        );
        assert_eq!(canonical("numpyx", "a"), "numpyx.a");
        assert_eq!(
            canonical("builtins", "eval.__call__"),
            "builtins.eval.__call__"
        );
        assert_eq!(canonical("posixpath", "join"), "os.path.join");
    }
}
