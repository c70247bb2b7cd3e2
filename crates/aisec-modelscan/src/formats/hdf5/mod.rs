//! HDF5 files: Keras `.h5` models, the weights inside `.keras` archives, and plain HDF5 data.
//!
//! A pure-Rust reader ([`reader`]) walks every object of the file (bounded, cycle-safe) without
//! the HDF5 C library, whose history of memory-safety bugs on malformed files is long. The
//! analysis reports what makes a loader touch other files (external raw storage, external links,
//! virtual datasets), what hides next to the HDF5 data (the user block, bytes past the end), Python
//! pickles in attributes, structural corruption, and hands the Keras `model_config` and
//! `training_config` attributes to the Keras analyser.

mod reader;

use std::borrow::Cow;
use std::collections::HashSet;

use aisec_core::{Confidence, Severity};
use serde_json::json;

use self::reader::{
    Attribute, Datatype, File, H5Error, Layout, Link, MAX_WORK, Message, Target, find_signature,
    stored_size,
};
use super::keras;
use super::outcome::{Env, Issue, Outcome};
use crate::rules::Rule;

const FORMAT: &str = "hdf5";
const FORMAT_KERAS: &str = "keras-h5";
/// Most objects (groups, datasets, committed datatypes) visited in one file.
const MAX_OBJECTS: usize = 1_000_000;
/// Most bytes of Keras config text parsed per file.
const MAX_CONFIG_TOTAL: usize = 256 << 20;
/// Most values decoded from one attribute.
const MAX_ATTR_VALUES: usize = 1_000_000;
/// Largest Keras config parsed as JSON.
const MAX_CONFIG_BYTES: usize = 64 << 20;
/// Most issues of one rule reported per file (the rest are counted in the last one).
const MAX_ISSUES_PER_RULE: usize = 50;
/// Most attribute payloads handed to the driver per file.
const MAX_NESTED: usize = 1_000;
/// Longest piece of text kept as evidence.
const MAX_EVIDENCE_CHARS: usize = 200;

const ATLAS: &[&str] = &["AML.T0011.000", "AML.T0010.003"];
const REFS: &[&str] = &[
    "https://docs.hdfgroup.org/hdf5/develop/_f_m_t3.html",
    "https://atlas.mitre.org/techniques/AML.T0011.000",
];
const REMEDIATE_FILES: &str = "Do not load this file where it can read other files. Re-save the data with h5py \
so that every dataset is stored inside the file (`ds[...]` copied into a new file without `external=`, links \
replaced by the objects themselves), and obtain models from their publisher with a verified signature.";

/// The rules this analyser reports under.
pub(crate) const RULES: &[Rule] = &[
    Rule {
        id: "MS350",
        name: "hdf5-external-raw-storage",
        title: "HDF5 dataset stores its data in external files",
        severity: Severity::High,
        what: "A dataset with an External Data Files message (type 0x0007): its raw data is not in the HDF5 file but \
in the named files, read at the given offsets when the dataset is read.",
        why: "Loading the weights reads whatever file the name points at (`/etc/passwd`, `../../.ssh/id_rsa`, a file the \
attacker can later replace) into the model, and from there into outputs, gradients or uploads. Writing to such a dataset \
writes to that file.",
        example: "h5py: f.create_dataset('kernel', shape=(4096,), dtype='u1', external=[('/etc/passwd', 0, 4096)])",
        remediation: REMEDIATE_FILES,
        atlas: ATLAS,
        cwe: &["CWE-73", "CWE-22"],
        references: REFS,
    },
    Rule {
        id: "MS351",
        name: "hdf5-external-link",
        title: "HDF5 file links to an object in another file",
        severity: Severity::High,
        what: "A link of type 64 (external link): a group member that names another HDF5 file and an object in it.",
        why: "Following the link opens the named file (any path, including network shares and devices) and reads its \
objects as part of this one, so a model's weights or config can come from a file the attacker controls.",
        example: "h5py: f['model_weights'] = h5py.ExternalLink('/tmp/evil.h5', '/model_weights')",
        remediation: REMEDIATE_FILES,
        atlas: ATLAS,
        cwe: &["CWE-73", "CWE-22"],
        references: REFS,
    },
    Rule {
        id: "MS352",
        name: "hdf5-virtual-dataset",
        title: "HDF5 virtual dataset maps data from other files",
        severity: Severity::High,
        what: "A dataset with the virtual layout (data layout class 3): its elements come from datasets in the source \
files named in its mapping list. Mappings whose only source is the file itself (`.`) are reported at `low`.",
        why: "Reading the dataset opens the source files (names may be absolute, relative or patterns), so the weights \
come from files outside the one that was checked.",
        example: "h5py: layout = h5py.VirtualLayout((4,), 'f4'); layout[:] = h5py.VirtualSource('/other/file.h5', 'x', (4,))",
        remediation: REMEDIATE_FILES,
        atlas: ATLAS,
        cwe: &["CWE-73"],
        references: REFS,
    },
    Rule {
        id: "MS353",
        name: "hdf5-odd-soft-link",
        title: "HDF5 soft link with an unusual path",
        severity: Severity::Low,
        what: "A soft link whose target path holds `..` components or control characters.",
        why: "Soft links resolve inside the file, so they cannot reach other files, but odd paths are a sign of a \
hand-made file and can confuse tools that map HDF5 paths to file-system paths.",
        example: "f['w'] = h5py.SoftLink('/../../etc')",
        remediation: "Check where the file comes from; a library-written model has no such links.",
        atlas: ATLAS,
        cwe: &["CWE-22"],
        references: REFS,
    },
    Rule {
        id: "MS354",
        name: "hdf5-user-defined-link",
        title: "HDF5 link of a user-defined class",
        severity: Severity::Medium,
        what: "A link of type 65–255: a user-defined link class whose meaning is given by a plug-in registered in the \
reading program.",
        why: "Resolving it needs native code the file's author chose; without it the link fails. No library writes \
such links into model files.",
        example: "A link message with link type 99 and opaque link data",
        remediation: "Do not load the file in a program that registers link classes; ask the publisher what the link is.",
        atlas: ATLAS,
        cwe: &["CWE-829"],
        references: REFS,
    },
    Rule {
        id: "MS355",
        name: "hdf5-user-block",
        title: "HDF5 user block or trailing bytes hold data",
        severity: Severity::Low,
        what: "Bytes in front of the superblock (the user block, 512 bytes or a larger power of two) or past the end of \
the file the superblock records, when they are not all zero. They are scanned as files of their own; a pickle or \
archive there is reported by the rules for those formats.",
        why: "HDF5 readers skip these bytes, so they can carry a second file (a pickle, a zip) that another loader runs: \
a polyglot that passes for an HDF5 model.",
        example: "h5py.File('m.h5', 'w', userblock_size=512), then a pickle written into the first 512 bytes",
        remediation: "Strip the user block (h5jam/h5unjam) or re-save the data with h5py before sharing the file.",
        atlas: ATLAS,
        cwe: &["CWE-506"],
        references: REFS,
    },
    Rule {
        id: "MS356",
        name: "hdf5-pickle-attribute",
        title: "HDF5 attribute holds a Python pickle",
        severity: Severity::Low,
        what: "An attribute whose value (a byte string, an opaque or byte array, or a variable-length sequence) starts \
with a pickle protocol 2–5 header. The pickle is scanned; what it calls is reported by the pickle rules.",
        why: "Code that reads the attribute and unpickles it (custom objects, optimizer state, metadata helpers) runs \
whatever the pickle calls.",
        example: "f.attrs['state'] = np.void(pickle.dumps(obj))",
        remediation: "Do not unpickle attribute values; store metadata as JSON.",
        atlas: ATLAS,
        cwe: &["CWE-502"],
        references: REFS,
    },
    Rule {
        id: "MS357",
        name: "keras-h5-config-malformed",
        title: "Keras HDF5 config attribute is not valid JSON",
        severity: Severity::Medium,
        what: "A `model_config` or `training_config` attribute that is not UTF-8 JSON, or that is too large to parse.",
        why: "Keras parses these attributes to build the model; a config that is not JSON was not written by Keras, \
and the parts the scanner cannot read may hide layers that run code.",
        example: "f.attrs['model_config'] = b'{\"class_name\": \"Sequential\", ...'  (truncated)",
        remediation: "Do not load the model; obtain it again from its publisher.",
        atlas: ATLAS,
        cwe: &["CWE-502"],
        references: &[
            "https://keras.io/api/models/model_saving_apis/",
            "https://atlas.mitre.org/techniques/AML.T0011.000",
        ],
    },
    Rule {
        id: "MS390",
        name: "hdf5-malformed-structure",
        title: "HDF5 structure violates the format",
        severity: Severity::High,
        what: "A structure the format does not allow: an address past the end of the file, a missing signature, an \
unknown version, sizes that overflow or contradict their container (a message longer than its header, an \
attribute value longer than its message), a reserved type. A file shorter than its superblock records is `medium`.",
        why: "Files written by the HDF5 library never look like this. The HDF5 C library (behind h5py and TensorFlow) \
has a long record of memory-safety bugs (out-of-bounds reads and writes, use-after-free, crashes) on exactly such \
malformed headers, heaps and B-trees; a crafted file can crash or exploit the loading process.",
        example: "An object header whose continuation message points past the end of the file",
        remediation: "Do not open the file with the HDF5 C library; obtain it again from its publisher.",
        atlas: ATLAS,
        cwe: &["CWE-20", "CWE-125", "CWE-787"],
        references: &[
            "https://docs.hdfgroup.org/hdf5/develop/_f_m_t3.html",
            "https://www.cve.org/CVERecord?id=CVE-2020-10810",
            "https://www.cve.org/CVERecord?id=CVE-2021-37501",
        ],
    },
    Rule {
        id: "MS391",
        name: "hdf5-structure-cycle",
        title: "HDF5 structure loops back on itself",
        severity: Severity::High,
        what: "A chain of addresses the reader follows (object header continuation blocks, B-tree nodes, fractal heap \
indirect blocks) that leads back to a structure already read.",
        why: "Loaders that follow such chains without a visited set loop forever or recurse until the stack \
overflows: a denial of service against whatever loads the model.",
        example: "A continuation message that points at its own object header",
        remediation: "Do not open the file with the HDF5 C library; obtain it again from its publisher.",
        atlas: ATLAS,
        cwe: &["CWE-835", "CWE-674"],
        references: &[
            "https://docs.hdfgroup.org/hdf5/develop/_f_m_t3.html",
            "https://www.cve.org/CVERecord?id=CVE-2019-8396",
        ],
    },
];

/// True when `data` is an HDF5 file: the signature at offset 0, 512, 1024, 2048 ….
pub(crate) fn detect(data: &[u8]) -> bool {
    find_signature(data).is_some()
}

/// Analyses an HDF5 file.
pub(crate) fn analyse<'d>(data: &'d [u8], env: &Env<'_>) -> Outcome<'d> {
    let _ = env;
    let Some(sig) = find_signature(data) else {
        let mut out = Outcome::new(FORMAT);
        out.skip("no HDF5 signature");
        return out;
    };
    let mut out = Outcome::new(FORMAT);
    user_block(data, sig, &mut out);
    let file = match File::open(data, sig) {
        Ok(f) => f,
        Err(e) => {
            let mut a = Analysis::new(out);
            a.error(&e, "/");
            return a.finish();
        }
    };
    let mut a = Analysis::new(out);
    a.superblock(&file);
    a.walk(file);
    a.finish()
}

/// Fuzz entry point: the whole analysis over arbitrary bytes.
pub(crate) fn fuzz(data: &[u8]) -> usize {
    let env = Env {
        disk_path: None,
        name: "fuzz.h5",
    };
    let out = analyse(data, &env);
    out.issues.len() + out.nested.len() + usize::from(out.not_analysed.is_some())
}

/// Hands a non-empty user block to the driver.
fn user_block<'d>(data: &'d [u8], sig: usize, out: &mut Outcome<'d>) {
    if sig == 0 {
        return;
    }
    let block = &data[..sig];
    let used = block.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    if used == 0 {
        return;
    }
    out.push(
        Issue::new(
            "MS355",
            "HDF5 user block holds data",
            format!(
                "The {sig}-byte user block in front of the HDF5 data holds {used} bytes of content; HDF5 readers skip \
it, other loaders may not. It is scanned as a file of its own."
            ),
            json!({ "region": "user block", "size": sig, "content_bytes": used, "starts_with": hex_prefix(block) }),
        )
        .at(0),
    );
    out.nested("<user block>", Cow::Borrowed(&block[..used]), None);
}

fn hex_prefix(b: &[u8]) -> String {
    use std::fmt::Write;
    b.iter().take(16).fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

/// Text for evidence: lossy UTF-8, control characters escaped, bounded.
fn show(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let mut out: String = s
        .chars()
        .take(MAX_EVIDENCE_CHARS)
        .flat_map(char::escape_debug)
        .collect();
    if s.chars().count() > MAX_EVIDENCE_CHARS {
        out.push('…');
    }
    out
}

fn join(path: &str, name: &[u8]) -> String {
    let name = show(name);
    if path.ends_with('/') {
        format!("{path}{name}")
    } else {
        format!("{path}/{name}")
    }
}

/// A decoded attribute value that may matter: text or raw bytes.
#[derive(Debug, Clone, Copy)]
enum Value<'d> {
    Text(&'d [u8]),
    Bytes(&'d [u8]),
}

/// How the attribute's value is stored (evidence for Keras configs).
fn storage_name(dt: &Datatype) -> &'static str {
    match dt {
        Datatype::FixedString { .. } => "fixed-length string",
        Datatype::VlenString => "variable-length string",
        Datatype::VlenSeq(_) => "variable-length sequence",
        Datatype::Array { .. } => "array",
        Datatype::Int { .. } => "integers",
        Datatype::Opaque { .. } => "opaque bytes",
        Datatype::Other { .. } => "other",
    }
}

struct Analysis<'d> {
    out: Outcome<'d>,
    per_rule: std::collections::HashMap<&'static str, usize>,
    nested: usize,
    /// Config texts parsed so far (by position), and their total size.
    configs: HashSet<(usize, usize)>,
    config_bytes: usize,
    keras_version: Option<String>,
    backend: Option<String>,
    keras: bool,
}

impl<'d> Analysis<'d> {
    fn new(out: Outcome<'d>) -> Self {
        Self {
            out,
            per_rule: std::collections::HashMap::new(),
            nested: 0,
            configs: HashSet::new(),
            config_bytes: 0,
            keras_version: None,
            backend: None,
            keras: false,
        }
    }

    fn finish(mut self) -> Outcome<'d> {
        if self.keras {
            self.out.format = FORMAT_KERAS.into();
        }
        self.out
    }

    fn push(&mut self, issue: Issue) {
        let n = self.per_rule.entry(issue.rule).or_insert(0);
        *n += 1;
        if *n <= MAX_ISSUES_PER_RULE {
            self.out.push(issue);
        }
    }

    /// Reports a reader error: corruption as a finding, bounds and unsupported features as `not
    /// analysed`.
    fn error(&mut self, e: &H5Error, path: &str) {
        match e {
            H5Error::Limit { .. } | H5Error::Unsupported(_) => {
                self.out.not_analysed(format!("{path}: {e}"));
            }
            H5Error::Cycle { at, .. } => {
                self.push(
                    Issue::new(
                        "MS391",
                        "HDF5 structure loops back on itself",
                        format!("While reading object {path}: {e}. Loaders without loop checks hang or overflow their stack."),
                        json!({ "object": path, "error": e.to_string() }),
                    )
                    .at(*at),
                );
                self.out.not_analysed(format!("{path}: {e}"));
            }
            _ => {
                let at = match e {
                    H5Error::Truncated { at, .. }
                    | H5Error::Signature { at, .. }
                    | H5Error::Version { at, .. }
                    | H5Error::Inconsistent { at, .. } => Some(*at),
                    _ => None,
                };
                let mut issue = Issue::new(
                    "MS390",
                    "HDF5 structure violates the format",
                    format!(
                        "While reading object {path}: {e}. The HDF5 library never writes this; its C implementation \
has mishandled such structures (crashes, out-of-bounds memory access)."
                    ),
                    json!({ "object": path, "error": e.to_string() }),
                );
                if let Some(at) = at {
                    issue = issue.at(at);
                }
                self.push(issue);
                self.out.not_analysed(format!("{path}: {e}"));
            }
        }
        debug_assert!(e.is_corruption() || self.out.not_analysed.is_some());
    }

    fn superblock(&mut self, f: &File<'d>) {
        let sb = &f.sb;
        // The recorded end of file counts the user block too.
        let end = sb.eof;
        let len = f.data.len() as u64;
        if end > len {
            self.push(
                Issue::new(
                    "MS390",
                    "HDF5 file is shorter than its superblock records",
                    format!(
                        "The superblock records an end of file at byte {end}, but the file has {len} bytes: it is \
truncated or its structures were edited. The HDF5 library refuses to open it."
                    ),
                    json!({ "recorded_end": end, "size": len, "superblock_version": sb.version }),
                )
                .severity(Severity::Medium)
                .at(sb.at),
            );
        } else if end < len {
            let tail = &f.data[end as usize..];
            let used = tail.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
            if used > 0 {
                self.push(
                    Issue::new(
                        "MS355",
                        "HDF5 file has data past its recorded end",
                        format!(
                            "{} bytes follow the end of file the superblock records (byte {end}); HDF5 readers ignore \
them, other loaders may read them. They are scanned as a file of their own.",
                            tail.len()
                        ),
                        json!({ "region": "after end of file", "offset": end, "size": tail.len(), "starts_with": hex_prefix(tail) }),
                    )
                    .at(end),
                );
                self.out
                    .nested("<after end of file>", Cow::Borrowed(&tail[..used]), None);
            }
        }
    }

    /// Visits every object reachable from the root group.
    fn walk(&mut self, mut f: File<'d>) {
        let mut visited: HashSet<u64> = HashSet::new();
        let mut queue: Vec<(u64, String)> = vec![(f.sb.root, "/".to_owned())];
        if let Some(ext) = f.sb.extension {
            queue.push((ext, "<superblock extension>".to_owned()));
        }
        while let Some((addr, path)) = queue.pop() {
            if !visited.insert(addr) {
                continue; // hard links may alias an object; each is read once
            }
            if visited.len() > MAX_OBJECTS {
                self.out
                    .not_analysed(format!("more than {MAX_OBJECTS} objects in one file"));
                return;
            }
            if f.work > MAX_WORK {
                self.out.not_analysed(format!(
                    "more than {MAX_WORK} HDF5 structures read in one file"
                ));
                return;
            }
            let msgs = match f.object_header(addr) {
                Ok(m) => m,
                Err(e) => {
                    self.error(&e, &path);
                    continue;
                }
            };
            if let Err(e) = self.object(&mut f, &msgs, &path, &mut queue) {
                self.error(&e, &path);
            }
        }
    }

    fn object(
        &mut self,
        f: &mut File<'d>,
        msgs: &[Message<'d>],
        path: &str,
        queue: &mut Vec<(u64, String)>,
    ) -> reader::Result<()> {
        let mut first_err: Option<H5Error> = None;
        let mut note = |r: reader::Result<()>| {
            if let Err(e) = r {
                first_err.get_or_insert(e);
            }
        };
        for m in msgs {
            f.budget()?;
            match m.ty {
                0x0011 => note(f.symbol_table(m).map(|members| {
                    for l in members.iter().rev() {
                        self.link(f, l, path, queue);
                    }
                })),
                0x0006 => {
                    let r = f.link(m).map(|l| self.link(f, &l, path, queue));
                    note(r);
                }
                0x0002 => {
                    let r = f.dense_index(m, false).and_then(|d| match d {
                        Some((heap, names)) => f.dense_links(heap, names).map(|links| {
                            for l in &links {
                                self.link(f, l, path, queue);
                            }
                        }),
                        None => Ok(()),
                    });
                    note(r);
                }
                0x000C => {
                    if m.flags & 0x02 != 0 {
                        self.out.not_analysed(format!(
                            "{path}: an attribute is kept in the shared-message heap, which this reader does not decode"
                        ));
                        continue;
                    }
                    let r = f
                        .attribute(m.data, m.at)
                        .and_then(|a| self.attribute(f, &a, m.data, path));
                    note(r);
                }
                0x0015 => {
                    let r = f.dense_index(m, true).and_then(|d| match d {
                        Some((heap, names)) => f.dense_attributes(heap, names).and_then(|attrs| {
                            for a in &attrs {
                                self.attribute(f, a, &[], path)?;
                            }
                            Ok(())
                        }),
                        None => Ok(()),
                    });
                    note(r);
                }
                0x0007 => note(self.external_files(f, m, path)),
                0x0008 => note(self.layout(f, m, path)),
                _ => {}
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn link(&mut self, f: &File<'d>, l: &Link<'d>, path: &str, queue: &mut Vec<(u64, String)>) {
        let name = join(path, l.name);
        match &l.target {
            Target::Hard(addr) => {
                if f.undef(*addr) || f.offset(*addr, "hard link").is_err() {
                    self.error(
                        &H5Error::PastEof {
                            what: "hard link target",
                            addr: *addr,
                        },
                        &name,
                    );
                } else {
                    queue.push((*addr, name));
                }
            }
            Target::Soft(p) => {
                let odd = p.split(|&b| b == b'/').any(|c| c == b"..")
                    || p.iter().any(|&b| b < 0x20 || b == 0x7f);
                if odd {
                    self.push(
                        Issue::new(
                            "MS353",
                            "HDF5 soft link with an unusual path",
                            format!("Soft link {name} points at {}.", show(p)),
                            json!({ "link": name, "target": show(p) }),
                        )
                        .at(l.at),
                    );
                }
            }
            Target::External { file, path: obj } => {
                self.push(
                    Issue::new(
                        "MS351",
                        format!("HDF5 external link to {}", show(file)),
                        format!(
                            "Link {name} resolves to object {} in file {}: opening it reads that file as part of \
this one.",
                            show(obj),
                            show(file)
                        ),
                        json!({ "link": name, "file": show(file), "object": show(obj) }),
                    )
                    .at(l.at),
                );
            }
            Target::UserDefined { class, data } => {
                self.push(
                    Issue::new(
                        "MS354",
                        format!("HDF5 link of user-defined class {class}"),
                        format!(
                            "Link {name} is of user-defined class {class}; resolving it runs a plug-in of the reading \
program."
                        ),
                        json!({ "link": name, "class": class, "data": show(data) }),
                    )
                    .at(l.at),
                );
            }
        }
    }

    fn external_files(&mut self, f: &File<'d>, m: &Message<'d>, path: &str) -> reader::Result<()> {
        let files = f.external_files(m)?;
        let names: Vec<String> = files.iter().take(32).map(|e| show(e.name)).collect();
        let escapes = files.iter().any(|e| {
            e.name.starts_with(b"/")
                || e.name
                    .split(|&b| b == b'/' || b == b'\\')
                    .any(|c| c == b"..")
                || e.name.get(1) == Some(&b':')
        });
        let extents: Vec<serde_json::Value> = files
            .iter()
            .take(32)
            .map(|e| json!({ "file": show(e.name), "offset": e.offset, "size": e.size }))
            .collect();
        self.push(
            Issue::new(
                "MS350",
                format!(
                    "HDF5 dataset {path} reads its data from {}",
                    names.first().map_or("external files", String::as_str)
                ),
                format!(
                    "Dataset {path} keeps its raw data in {} external file(s) ({}){}: reading the dataset reads those \
files.",
                    files.len(),
                    names.join(", "),
                    if escapes {
                        ", by absolute path or outside the model's directory"
                    } else {
                        ""
                    }
                ),
                json!({ "dataset": path, "files": names, "extents": extents, "escapes_directory": escapes }),
            )
            .at(m.at),
        );
        Ok(())
    }

    fn layout(&mut self, f: &mut File<'d>, m: &Message<'d>, path: &str) -> reader::Result<()> {
        match f.layout(m)? {
            Layout::Virtual { heap, index } => {
                let obj = f.global_object(heap, index)?;
                let (sources, complete) = vds_sources(obj, f.sl());
                let outside = !complete || sources.iter().any(|(file, _)| file != ".");
                let mut files: Vec<&str> = Vec::new();
                for (file, _) in &sources {
                    if !files.contains(&file.as_str()) && files.len() < 32 {
                        files.push(file);
                    }
                }
                // The title names a file outside this one when there is one.
                files.sort_by_key(|f| *f == ".");
                let mut issue = Issue::new(
                    "MS352",
                    format!(
                        "HDF5 virtual dataset {path} maps data from {}",
                        files.first().copied().unwrap_or("other files")
                    ),
                    format!(
                        "Dataset {path} is virtual: reading it opens {} source mapping(s) in {}{}.",
                        sources.len(),
                        files.join(", "),
                        if complete {
                            ""
                        } else {
                            " (the mapping list could not be read to its end)"
                        }
                    ),
                    json!({
                        "dataset": path,
                        "sources": sources.iter().take(32).map(|(file, ds)| json!({"file": file, "dataset": ds})).collect::<Vec<_>>(),
                        "mapping_list_complete": complete,
                    }),
                )
                .at(m.at);
                if !outside {
                    issue = issue.severity(Severity::Low);
                }
                self.push(issue);
            }
            Layout::Stored {
                contiguous: Some((addr, size)),
            } if !f.undef(addr) && size > 0 => {
                let end =
                    f.sb.base
                        .checked_add(addr)
                        .and_then(|a| a.checked_add(size));
                if end.is_none_or(|e| e > f.data.len() as u64) {
                    return Err(H5Error::Inconsistent {
                        what: "data layout message",
                        at: m.at,
                        detail: format!(
                            "contiguous data of {size} bytes at address {addr:#x} runs past the end of the file"
                        ),
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn attribute(
        &mut self,
        f: &mut File<'d>,
        a: &Attribute<'d>,
        raw_msg: &'d [u8],
        path: &str,
    ) -> reader::Result<()> {
        let dtype = if let Some(d) = &a.dtype {
            d.clone()
        } else {
            let raw = File::attribute_dtype_raw(raw_msg).unwrap_or(&[]);
            match f.shared_datatype(raw, a.at) {
                Ok(d) => d,
                Err(e) if !e.is_corruption() => {
                    self.out.not_analysed(format!(
                        "{path}: attribute {} has a datatype this reader cannot resolve: {e}",
                        show(a.name)
                    ));
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        };
        let mut values = Vec::new();
        let elem = stored_size(&dtype, f.so()).unwrap_or(u64::MAX);
        let need = a.space.count.checked_mul(elem);
        if need.is_none_or(|n| n > a.data.len() as u64) {
            return Err(H5Error::Inconsistent {
                what: "attribute message",
                at: a.at,
                detail: format!(
                    "attribute {} declares {} elements of {elem} bytes, more than the {} bytes its message holds",
                    show(a.name),
                    a.space.count,
                    a.data.len()
                ),
            });
        }
        let data = &a.data[..need.unwrap_or(0) as usize];
        if dtype.is_bytes() {
            values.push(Value::Bytes(data));
        } else if elem > 0 {
            let mut budget = MAX_ATTR_VALUES;
            for i in 0..a.space.count as usize {
                let e = &data[i * elem as usize..(i + 1) * elem as usize];
                if !decode(f, &dtype, e, &mut values, &mut budget, 0).map_err(|e| at_attr(e, a))? {
                    self.out.not_analysed(format!(
                        "{path}: attribute {}: value budget spent ({MAX_ATTR_VALUES} per attribute, \
{MAX_WORK} structures per file)",
                        show(a.name)
                    ));
                    break;
                }
            }
        }
        let name = a.name;
        for v in &values {
            let (Value::Text(b) | Value::Bytes(b)) = *v;
            if b.len() > 2 && b[0] == 0x80 && (2..=5).contains(&b[1]) && self.nested < MAX_NESTED {
                self.nested += 1;
                let label = format!("{}@{}", path, show(name));
                self.push(
                    Issue::new(
                        "MS356",
                        format!("HDF5 attribute {label} holds a pickle"),
                        format!(
                            "Attribute {} of {path} holds a {}-byte protocol-{} pickle; it is scanned as a pickle.",
                            show(name),
                            b.len(),
                            b[1]
                        ),
                        json!({ "object": path, "attribute": show(name), "size": b.len(), "storage": storage_name(&dtype) }),
                    )
                    .at(a.data_at),
                );
                self.out
                    .nested(label, Cow::Borrowed(b), Some("pkl".to_owned()));
            }
        }
        match name {
            b"model_config" | b"training_config" => {
                if path == "/" && name == b"model_config" {
                    self.keras = true;
                }
                let texts: Vec<&'d [u8]> = values
                    .iter()
                    .filter_map(|v| match v {
                        Value::Text(t) => Some(*t),
                        Value::Bytes(_) => None,
                    })
                    .collect();
                for t in texts {
                    self.config(name, t, path, &dtype, a.data_at);
                }
            }
            b"keras_version" | b"backend" if path == "/" => {
                if let Some(Value::Text(t)) = values.first() {
                    let s = Some(show(t));
                    if name == b"backend" {
                        self.backend = s;
                    } else {
                        self.keras_version = s;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Parses a Keras config attribute and hands it to the Keras analyser.
    fn config(&mut self, name: &[u8], text: &'d [u8], path: &str, dt: &Datatype, at: u64) {
        let attr = String::from_utf8_lossy(name).into_owned();
        let origin = if path == "/" {
            format!("{attr} attribute")
        } else {
            format!("{attr} attribute of {path}")
        };
        if !self.configs.insert((text.as_ptr() as usize, text.len())) {
            return; // the same bytes, reached again through another attribute
        }
        self.config_bytes = self.config_bytes.saturating_add(text.len());
        if self.config_bytes > MAX_CONFIG_TOTAL {
            self.out.not_analysed(format!(
                "more than {MAX_CONFIG_TOTAL} bytes of Keras config text in one file"
            ));
            return;
        }
        match config_json(text) {
            Ok(doc) => keras::analyse_config(&doc, &origin, &mut self.out),
            Err(ConfigError::TooLarge(n)) => self.out.not_analysed(format!(
                "{origin} of {n} bytes is larger than the {MAX_CONFIG_BYTES}-byte limit"
            )),
            Err(ConfigError::Invalid(e)) => {
                let issue = Issue::new(
                    "MS357",
                    format!("Keras {attr} attribute is not valid JSON"),
                    format!(
                        "The {origin} ({} bytes, stored as {}) does not parse as JSON: {e}. Keras did not write it.",
                        text.len(),
                        storage_name(dt)
                    ),
                    json!({
                        "attribute": attr,
                        "object": path,
                        "error": e,
                        "starts_with": show(&text[..text.len().min(80)]),
                        "keras_version": self.keras_version,
                        "backend": self.backend,
                    }),
                )
                .confidence(Confidence::Likely)
                .at(at);
                self.push(issue);
            }
        }
    }
}

/// Why a config attribute could not be parsed.
#[derive(Debug)]
enum ConfigError {
    TooLarge(usize),
    Invalid(String),
}

/// The JSON document of a config attribute's text (as Keras reads it: UTF-8, trailing NULs gone).
fn config_json(text: &[u8]) -> Result<serde_json::Value, ConfigError> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge(text.len()));
    }
    let s = std::str::from_utf8(text).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    // serde_json bounds nesting at 128 levels.
    serde_json::from_str(s).or_else(|e| {
        // Python's json module writes and reads NaN and ±Infinity; serde_json does not.
        super::json::nonfinite_to_null(s)
            .and_then(|t| serde_json::from_str(&t).ok())
            .ok_or_else(|| ConfigError::Invalid(e.to_string()))
    })
}

/// Places a value-decoding error at the attribute's value.
fn at_attr(e: H5Error, a: &Attribute<'_>) -> H5Error {
    match e {
        H5Error::Inconsistent {
            what,
            at: 0,
            detail,
        } => H5Error::Inconsistent {
            what,
            at: a.data_at,
            detail: format!("attribute {}: {detail}", show(a.name)),
        },
        e => e,
    }
}

/// Decodes one element of `dt` into values; false when the value budget ran out.
fn decode<'d>(
    f: &mut File<'d>,
    dt: &Datatype,
    e: &'d [u8],
    out: &mut Vec<Value<'d>>,
    budget: &mut usize,
    depth: usize,
) -> reader::Result<bool> {
    f.tick(1);
    if *budget == 0 || f.work > MAX_WORK {
        return Ok(false);
    }
    *budget -= 1;
    let so = f.so();
    match dt {
        Datatype::FixedString { pad, .. } => out.push(Value::Text(trim_string(e, *pad))),
        Datatype::VlenString | Datatype::VlenSeq(_) => {
            let mut c = reader::Cur::new(e, 0, "variable-length value");
            let n = u64::from(c.u32()?);
            let addr = c.uint(so)?;
            let idx = c.u32()?;
            if n == 0 || f.undef(addr) || addr == 0 {
                return Ok(true);
            }
            let unit = match dt {
                Datatype::VlenSeq(base) => stored_size(base, so).unwrap_or(u64::MAX),
                _ => 1,
            };
            let obj = f.global_object(addr, idx)?;
            let want = n
                .checked_mul(unit)
                .filter(|&w| w <= obj.len() as u64)
                .ok_or(H5Error::Inconsistent {
                    what: "variable-length value",
                    at: 0,
                    detail: format!(
                        "{n} elements of {unit} bytes, more than the {}-byte heap object",
                        obj.len()
                    ),
                })?;
            let bytes = &obj[..want as usize];
            match dt {
                Datatype::VlenString => out.push(Value::Text(bytes)),
                Datatype::VlenSeq(base) if base.is_bytes() => out.push(Value::Bytes(bytes)),
                Datatype::VlenSeq(base)
                    if depth < 4
                        && matches!(
                            **base,
                            Datatype::FixedString { .. } | Datatype::VlenString
                        ) =>
                {
                    for ch in bytes.chunks_exact(unit as usize) {
                        if !decode(f, base, ch, out, budget, depth + 1)? {
                            return Ok(false);
                        }
                    }
                }
                _ => {}
            }
        }
        Datatype::Array { base, .. } => {
            if base.is_bytes() {
                out.push(Value::Bytes(e));
            } else if matches!(
                **base,
                Datatype::FixedString { .. }
                    | Datatype::VlenString
                    | Datatype::VlenSeq(_)
                    | Datatype::Array { .. }
            ) && depth < 4
            {
                let unit = stored_size(base, so).unwrap_or(0);
                if unit > 0 {
                    for ch in e.chunks_exact(unit as usize) {
                        if !decode(f, base, ch, out, budget, depth + 1)? {
                            return Ok(false);
                        }
                    }
                }
            }
        }
        Datatype::Int { .. } | Datatype::Opaque { .. } | Datatype::Other { .. } => {}
    }
    Ok(true)
}

/// A fixed-length string's value as h5py returns it: NUL-terminated strings end at the first NUL,
/// padded ones lose their trailing NULs (or spaces).
fn trim_string(e: &[u8], pad: u8) -> &[u8] {
    match pad {
        0 => &e[..memchr::memchr(0, e).unwrap_or(e.len())],
        2 => &e[..e.iter().rposition(|&b| b != b' ').map_or(0, |p| p + 1)],
        _ => &e[..e.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1)],
    }
}

/// The (source file, source dataset) pairs of a virtual dataset's mapping list, and whether the
/// list was read to its end.
fn vds_sources(obj: &[u8], sl: usize) -> (Vec<(String, String)>, bool) {
    let mut out = Vec::new();
    let mut c = reader::Cur::new(obj, 0, "virtual dataset mapping");
    let Ok(version) = c.u8() else {
        return (out, false);
    };
    if version > 1 {
        return (out, false);
    }
    let Ok(n) = c.uint(sl) else {
        return (out, false);
    };
    for _ in 0..n.min(100_000) {
        // Version 1 prefixes each entry with flags: 0x04 marks the file itself (no name follows);
        // other bits share names between entries, an encoding this reader does not follow.
        let flags = if version == 1 {
            match c.u8() {
                Ok(f) if f & !0x04 == 0 => f,
                _ => return (out, false),
            }
        } else {
            0
        };
        let file = if flags & 0x04 != 0 {
            Ok(&b"."[..])
        } else {
            c.cstr()
        };
        let (Ok(file), Ok(ds)) = (file, c.cstr()) else {
            return (out, false);
        };
        out.push((show(file), show(ds)));
        if skip_selection(&mut c).is_err() || skip_selection(&mut c).is_err() {
            return (out, false);
        }
    }
    (out, true)
}

/// Skips one serialized dataspace selection.
fn skip_selection(c: &mut reader::Cur<'_>) -> reader::Result<()> {
    let bad = || H5Error::Unsupported("selection encoding".into());
    let ty = c.u32()?;
    let version = c.u32()?;
    let mul = |a: u64, b: u64| a.checked_mul(b).ok_or_else(bad);
    let skip = |c: &mut reader::Cur<'_>, n: u64| -> reader::Result<()> {
        c.skip(usize::try_from(n).map_err(|_| bad())?)
    };
    match (ty, version) {
        (0 | 3, _) => c.skip(8),
        (1, 1) => {
            c.skip(8)?;
            let rank = u64::from(c.u32()?);
            let num = u64::from(c.u32()?);
            skip(c, mul(mul(num, rank)?, 4)?)
        }
        (1, 2) => {
            let enc = c.u8()? as usize;
            let rank = u64::from(c.u32()?);
            let num = c.uint(enc)?;
            skip(c, mul(mul(num, rank)?, enc as u64)?)
        }
        (2, 1) => {
            c.skip(8)?;
            let rank = u64::from(c.u32()?);
            let num = u64::from(c.u32()?);
            skip(c, mul(mul(num, rank)?, 8)?)
        }
        (2, 2) => {
            let flags = c.u8()?;
            c.skip(4)?;
            let rank = u64::from(c.u32()?);
            if flags & 1 == 0 {
                return Err(bad());
            }
            skip(c, mul(rank, 32)?)
        }
        (2, 3) => {
            let flags = c.u8()?;
            let enc = c.u8()? as usize;
            let rank = u64::from(c.u32()?);
            if flags & 1 != 0 {
                skip(c, mul(mul(rank, 4)?, enc as u64)?)
            } else {
                let num = c.uint(enc)?;
                skip(c, mul(mul(mul(num, rank)?, 2)?, enc as u64)?)
            }
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests;
