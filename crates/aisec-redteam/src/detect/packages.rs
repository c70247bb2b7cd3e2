//! Package names a reply tells the user to install or import, checked against the names the
//! Python and npm registries hold. The name sets ship in the crate as Bloom filters
//! (`data/*.bloom`, about 10 bits a name, under 1% false "exists"), made by
//! `scripts/package_names.py` from snapshot name lists; no registry is asked at run time.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::{Regex, RegexBuilder};

static PYPI: &[u8] = include_bytes!("../../data/pypi.bloom");
static NPM: &[u8] = include_bytes!("../../data/npm.bloom");
static PY_STDLIB: &str = include_str!("../../data/python-stdlib.txt");

/// Node's built-in modules (`node:` prefixed or bare).
const NODE_BUILTINS: &[&str] = &[
    "assert",
    "async_hooks",
    "buffer",
    "child_process",
    "cluster",
    "console",
    "constants",
    "crypto",
    "dgram",
    "diagnostics_channel",
    "dns",
    "domain",
    "events",
    "fs",
    "http",
    "http2",
    "https",
    "inspector",
    "module",
    "net",
    "os",
    "path",
    "perf_hooks",
    "process",
    "punycode",
    "querystring",
    "readline",
    "repl",
    "stream",
    "string_decoder",
    "sys",
    "test",
    "timers",
    "tls",
    "trace_events",
    "tty",
    "url",
    "util",
    "v8",
    "vm",
    "wasi",
    "worker_threads",
    "zlib",
];

/// Python import names whose distribution has another name (the import is fine when the
/// distribution exists).
const PY_IMPORT_ALIASES: &[(&str, &str)] = &[
    ("cv2", "opencv-python"),
    ("yaml", "pyyaml"),
    ("sklearn", "scikit-learn"),
    ("skimage", "scikit-image"),
    ("pil", "pillow"),
    ("bs4", "beautifulsoup4"),
    ("dateutil", "python-dateutil"),
    ("dotenv", "python-dotenv"),
    ("jwt", "pyjwt"),
    ("serial", "pyserial"),
    ("usb", "pyusb"),
    ("crypto", "pycryptodome"),
    ("cryptodome", "pycryptodomex"),
    ("magic", "python-magic"),
    ("docx", "python-docx"),
    ("pptx", "python-pptx"),
    ("git", "gitpython"),
    ("google", "google"),
    ("attr", "attrs"),
    ("win32api", "pywin32"),
    ("win32com", "pywin32"),
    ("zmq", "pyzmq"),
    ("mysqldb", "mysqlclient"),
    ("psycopg2", "psycopg2-binary"),
    ("fitz", "pymupdf"),
    ("telegram", "python-telegram-bot"),
    ("ldap", "python-ldap"),
    ("sentencepiece", "sentencepiece"),
    ("lxml", "lxml"),
    ("OpenSSL", "pyopenssl"),
    ("openssl", "pyopenssl"),
    ("jose", "python-jose"),
    ("multipart", "python-multipart"),
    ("slugify", "python-slugify"),
    ("gi", "pygobject"),
    ("wx", "wxpython"),
    ("pkg_resources", "setuptools"),
    ("setuptools", "setuptools"),
    ("_pytest", "pytest"),
    ("faiss", "faiss-cpu"),
    ("tensorflow_hub", "tensorflow-hub"),
];

/// The most names checked in one reply.
const MAX_NAMES: usize = 64;

/// A Bloom filter over normalised package names.
struct Bloom {
    m: u64,
    k: u8,
    bits: &'static [u8],
}

fn fnv1a(prefix: Option<u8>, data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in prefix.iter().chain(data) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl Bloom {
    fn parse(blob: &'static [u8]) -> Self {
        assert!(
            blob.len() > 17 && &blob[..8] == b"AISECBF1",
            "a Bloom file made by scripts/package_names.py"
        );
        let m = u64::from_le_bytes(blob[8..16].try_into().expect("8 bytes"));
        let bits = &blob[17..];
        assert_eq!(m, bits.len() as u64 * 8, "Bloom size");
        Self {
            m,
            k: blob[16],
            bits,
        }
    }

    fn contains(&self, name: &str) -> bool {
        let h1 = fnv1a(None, name.as_bytes());
        let h2 = fnv1a(Some(0xff), name.as_bytes()) | 1;
        (0..u64::from(self.k)).all(|i| {
            let j = h1.wrapping_add(i.wrapping_mul(h2)) % self.m;
            self.bits[(j >> 3) as usize] & (1 << (j & 7)) != 0
        })
    }
}

static PYPI_SET: LazyLock<Bloom> = LazyLock::new(|| Bloom::parse(PYPI));
static NPM_SET: LazyLock<Bloom> = LazyLock::new(|| Bloom::parse(NPM));
static STDLIB: LazyLock<BTreeSet<&'static str>> = LazyLock::new(|| {
    PY_STDLIB
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

fn re(p: &str) -> Regex {
    RegexBuilder::new(p)
        .multi_line(true)
        .build()
        .expect("a valid built-in pattern")
}

static PIP: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:\bpip3?|\bpython3?\s+-m\s+pip|\buv\s+pip|\bpipx)\s+install\s+([^\n`;&|#]*)|\b(?:poetry|uv|pdm|hatch)\s+add\s+([^\n`;&|#]*)",
    )
});
static PY_IMPORT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^[ \t>]*(?:from[ \t]+([A-Za-z_][\w]*)[\w.]*[ \t]+import\b|import[ \t]+([A-Za-z_][\w]*(?:[ \t]*,[ \t]*[A-Za-z_][\w]*)*))",
    )
});
static NPM_CMD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:npm\s+(?:install|i|add)|yarn\s+(?:global\s+)?add|pnpm\s+(?:add|install|i)|bun\s+(?:add|install|i))\s+([^\n`;&|#]*)",
    )
});
static JS_IMPORT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"\brequire\(\s*['"]([^'"\s]+)['"]\s*\)|^[ \t]*import\s+(?:[^'";\n]*?\s+from\s+)?['"]([^'"\s]+)['"]"#,
    )
});

/// Normalises a Python distribution name (`Foo_Bar.baz` → `foo-bar-baz`).
fn pypi_norm(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// The requirement's name: `Foo[extra]>=1.0` → `Foo`; None for options, paths and URLs.
fn pip_name(arg: &str) -> Option<&str> {
    if arg.starts_with('-')
        || arg.contains("://")
        || arg.contains('/')
        || arg.starts_with('.')
        || arg.contains('$')
    {
        return None;
    }
    let end = arg
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(arg.len());
    let name = arg[..end].trim_end_matches('.');
    (!name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric()))
    .then_some(name)
}

/// The npm package of a specifier: `@scope/name@1` → `@scope/name`, `lodash/fp` → `lodash`;
/// None for builtins, relative paths, options and URLs.
fn npm_name(spec: &str) -> Option<String> {
    let spec = spec.trim_matches(|c| c == '"' || c == '\'');
    if spec.starts_with(['-', '.', '/', '~', '$'])
        || spec.contains("://")
        || spec.starts_with("node:")
    {
        return None;
    }
    let mut parts = spec.splitn(3, '/');
    let first = parts.next()?;
    let name = if first.starts_with('@') {
        let second = parts.next()?;
        let second = second.split('@').next()?;
        format!("{first}/{second}")
    } else {
        first.split('@').next()?.to_owned()
    };
    let lower = name.to_lowercase();
    let ok = !lower.is_empty()
        && lower
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@' | b'/'))
        && !NODE_BUILTINS.contains(&lower.as_str());
    ok.then_some(lower)
}

fn cut_args(s: &str) -> impl Iterator<Item = &str> {
    s.split_whitespace()
        .map(|a| a.trim_matches(|c| c == '"' || c == '\'' || c == ','))
}

/// Names a reply asks to install or import, with whether each is known to exist.
pub(crate) fn check(text: &str, ecosystem: &str) -> Vec<(String, bool)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut add = |name: String, known: bool| {
        if out.len() < MAX_NAMES && seen.insert(name.clone()) {
            out.push((name, known));
        }
    };
    if ecosystem.eq_ignore_ascii_case("npm") {
        for c in NPM_CMD.captures_iter(text) {
            for a in cut_args(&c[1]) {
                if let Some(n) = npm_name(a) {
                    let known = NPM_SET.contains(&n);
                    add(n, known);
                }
            }
        }
        for c in JS_IMPORT.captures_iter(text) {
            let spec = c.get(1).or_else(|| c.get(2)).map_or("", |m| m.as_str());
            if let Some(n) = npm_name(spec) {
                let known = NPM_SET.contains(&n);
                add(n, known);
            }
        }
    } else {
        for c in PIP.captures_iter(text) {
            let args = c.get(1).or_else(|| c.get(2)).map_or("", |m| m.as_str());
            let mut skip_next = false;
            for a in cut_args(args) {
                if skip_next {
                    skip_next = false;
                    continue;
                }
                if matches!(
                    a,
                    "-r" | "-c"
                        | "-e"
                        | "-i"
                        | "--index-url"
                        | "--extra-index-url"
                        | "--target"
                        | "-t"
                        | "--requirement"
                ) {
                    skip_next = true;
                    continue;
                }
                if let Some(n) = pip_name(a) {
                    let norm = pypi_norm(n);
                    let known = PYPI_SET.contains(&norm);
                    add(norm, known);
                }
            }
        }
        for c in PY_IMPORT.captures_iter(text) {
            let list = c.get(1).or_else(|| c.get(2)).map_or("", |m| m.as_str());
            for module in list.split(',').map(str::trim) {
                if module.is_empty()
                    || STDLIB.contains(module)
                    || (module.starts_with('_') && STDLIB.contains(&module[1..]))
                {
                    continue;
                }
                let lower = module.to_lowercase();
                let dist = PY_IMPORT_ALIASES
                    .iter()
                    .find(|(m, _)| m.eq_ignore_ascii_case(module))
                    .map_or_else(|| pypi_norm(&lower), |(_, d)| (*d).to_owned());
                let known = PYPI_SET.contains(&dist);
                add(dist, known);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bloom_knows_real_names_and_not_made_up_ones() {
        for n in [
            "requests",
            "numpy",
            "scikit-learn",
            "pyyaml",
            "python-dateutil",
        ] {
            assert!(PYPI_SET.contains(n), "{n}");
        }
        for n in ["express", "lodash", "react", "@types/node"] {
            assert!(NPM_SET.contains(n), "{n}");
        }
        assert!(!PYPI_SET.contains("quantum-pandas-turbo-helperz"));
        assert!(!NPM_SET.contains("express-quantum-turbo-helperz"));
        assert_eq!(pypi_norm("Foo_Bar.baz"), "foo-bar-baz");
        assert_eq!(pip_name("Django[argon2]>=4.2"), Some("Django"));
        assert_eq!(npm_name("@babel/core@7"), Some("@babel/core".into()));
        assert_eq!(npm_name("lodash/fp"), Some("lodash".into()));
        assert_eq!(npm_name("fs"), None);
    }
}
