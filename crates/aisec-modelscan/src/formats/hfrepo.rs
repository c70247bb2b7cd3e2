//! Hugging Face repository files: `config.json` and its siblings (`tokenizer_config.json`,
//! `processor_config.json`, …) that name custom code a `trust_remote_code=True` loader imports,
//! sharded-checkpoint indexes (`*.index.json`), chat templates, and Git LFS pointer files that
//! stand where a model file should be.
//!
//! A config that names custom code present beside it is `low` by itself: that is how remote-code
//! models work. The danger is judged by the Python analyser over the named files (and the files
//! they import relatively), and summarised on the config when it is `high` or above. References
//! to another repository's code, or that leave the directory, are `high`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use aisec_core::Severity;
use serde_json::{Value, json};

use super::outcome::{Env, Issue, Outcome};
use super::{jinja, python};
use crate::rules::Rule;

/// Deepest level of a config searched for `auto_map` and `trust_remote_code`.
const MAX_CONFIG_DEPTH: usize = 8;
/// Python files followed from one config (named files and their relative imports).
const MAX_CODE_FILES: usize = 32;
/// Largest Python file read from disk for a config's summary.
const MAX_CODE_BYTES: u64 = 8 << 20;
/// Class references examined per config.
const MAX_REFS: usize = 256;
/// Shard names listed in one finding.
const MAX_LISTED: usize = 20;
/// Largest Git LFS pointer file (the specification's bound).
const MAX_POINTER: usize = 1024;

const ATLAS: &[&str] = &["AML.T0010.003", "AML.T0011.000"];
const REFS: &[&str] = &[
    "https://huggingface.co/docs/transformers/main/en/custom_models",
    "https://atlas.mitre.org/techniques/AML.T0010.003",
];
const REMEDIATE_CODE: &str = "Load the model without `trust_remote_code=True`, or review every Python file the config \
names and pin the reviewed revision by commit hash (`revision=`).";

/// The rules this analyser reports under.
pub(crate) const RULES: &[Rule] = &[
    Rule {
        id: "MS800",
        name: "hf-custom-code",
        title: "Config names custom code that loaders import",
        severity: Severity::Low,
        what: "An `auto_map` entry (`\"AutoModel\": \"modeling_x.XModel\"`, tokenizer pairs `[slow, fast]`) or a \
`custom_pipelines` implementation in `config.json`, `tokenizer_config.json`, `processor_config.json` or another \
Hugging Face config names a Python file of the repository. The evidence lists the files and the classes.",
        why: "`trust_remote_code=True` imports these files: whatever they do runs on the loading machine. Their \
content is analysed as Python; this finding records the entry point.",
        example: "{\"auto_map\": {\"AutoModelForCausalLM\": \"modeling_x.XForCausalLM\"}}",
        remediation: REMEDIATE_CODE,
        atlas: ATLAS,
        cwe: &["CWE-94", "CWE-829"],
        references: REFS,
    },
    Rule {
        id: "MS801",
        name: "hf-custom-code-missing",
        title: "Config names custom code that is not in the directory",
        severity: Severity::Low,
        what: "A class reference whose Python file is not beside the config.",
        why: "The code was not scanned: a loader fetches it from the hub at load time (a partial clone) or fails.",
        example: "auto_map names modeling_x.py, but the directory has no modeling_x.py",
        remediation: "Fetch the whole repository at the revision you intend to load and scan it again.",
        atlas: ATLAS,
        cwe: &["CWE-829"],
        references: REFS,
    },
    Rule {
        id: "MS802",
        name: "hf-cross-repo-code",
        title: "Config loads custom code from another repository",
        severity: Severity::High,
        what: "A class reference of the form `other/repo--module.Class` in `auto_map`, `custom_pipelines` or \
`tokenizer_class`.",
        why: "The loader downloads and imports code from a repository other than the one being reviewed; its owner \
can change it at any time.",
        example: "{\"auto_map\": {\"AutoModel\": \"someone/code--modeling_x.XModel\"}}",
        remediation: REMEDIATE_CODE,
        atlas: ATLAS,
        cwe: &["CWE-494", "CWE-829"],
        references: REFS,
    },
    Rule {
        id: "MS803",
        name: "hf-code-path-escape",
        title: "Custom-code reference leaves the repository",
        severity: Severity::High,
        what: "A class reference whose module part holds a path (`../x`, `/abs`, `C:`), a dotted module path (`os.path`), \
or names a file that is a symbolic link pointing outside the directory. A reference without a class part is `low` \
(loaders refuse it).",
        why: "Benign configs name a module file of their own repository; anything else tries to make the loader import \
code from elsewhere.",
        example: "{\"auto_map\": {\"AutoModel\": \"../../outside.Evil\"}}",
        remediation: REMEDIATE_CODE,
        atlas: ATLAS,
        cwe: &["CWE-22", "CWE-829"],
        references: REFS,
    },
    Rule {
        id: "MS804",
        name: "hf-dangerous-custom-code",
        title: "Custom code named by the config does something dangerous",
        severity: Severity::Critical,
        what: "The Python analysis of a file the config names (or of a file it imports relatively) found something at \
`high` or above; the finding takes that severity and lists what was found. The file's own findings are reported under \
its own path too.",
        why: "Loading the model with `trust_remote_code=True` runs it.",
        example: "auto_map names modeling_x.py, which calls os.system at import",
        remediation: REMEDIATE_CODE,
        atlas: ATLAS,
        cwe: &["CWE-94", "CWE-829"],
        references: REFS,
    },
    Rule {
        id: "MS805",
        name: "hf-trust-remote-code-flag",
        title: "Config asks loaders to trust remote code",
        severity: Severity::Low,
        what: "A `trust_remote_code: true` entry anywhere in a config (sentence-transformers and pipeline configs pass \
it on to `from_pretrained`), or a `tokenizer_class` that is a module reference rather than a class name.",
        why: "Whoever runs the config enables custom code without deciding to.",
        example: "{\"model_args\": {\"trust_remote_code\": true}}",
        remediation: "Decide about remote code at the call site; remove the flag from shared configs.",
        atlas: ATLAS,
        cwe: &["CWE-829"],
        references: REFS,
    },
    Rule {
        id: "MS810",
        name: "hf-shard-path-escape",
        title: "Sharded-checkpoint index names a shard outside the repository",
        severity: Severity::High,
        what: "A `weight_map` value in a `*.index.json` that is an absolute path, holds `..`, a drive letter, or a URL.",
        why: "Loaders join the shard name to the model directory and open it: a crafted name reads (and, for pickle \
shards, unpickles) a file the attacker placed elsewhere.",
        example: "{\"weight_map\": {\"w\": \"../../../tmp/payload.bin\"}}",
        remediation: "Do not load the checkpoint; shard names are plain file names beside the index.",
        atlas: ATLAS,
        cwe: &["CWE-22"],
        references: REFS,
    },
    Rule {
        id: "MS811",
        name: "hf-shard-missing",
        title: "Sharded-checkpoint index names shards that are not in the directory",
        severity: Severity::Low,
        what: "Shard files named by `weight_map` are not beside the index, or the index's `weight_map` is not an \
object of strings.",
        why: "What is missing was not scanned; a partial download or a broken index.",
        example: "weight_map names model-00002-of-00002.safetensors, which is absent",
        remediation: "Fetch every shard and scan again.",
        atlas: ATLAS,
        cwe: &["CWE-829"],
        references: REFS,
    },
];

/// True when `data` is a Git LFS pointer file: the version line, then `key value` lines that
/// include `oid` and `size`, under the specification's 1024-byte bound.
pub(crate) fn is_lfs_pointer(data: &[u8]) -> bool {
    parse_pointer(data).is_some()
}

struct Pointer<'a> {
    oid: &'a str,
    size: &'a str,
}

fn parse_pointer(data: &[u8]) -> Option<Pointer<'_>> {
    if data.len() > MAX_POINTER
        || !(data.starts_with(b"version https://git-lfs.github.com/spec/")
            || data.starts_with(b"version https://hawser.github.com/spec/v1"))
    {
        return None;
    }
    let text = std::str::from_utf8(data).ok()?;
    let (mut oid, mut size) = (None, None);
    for line in text.lines().filter(|l| !l.is_empty()) {
        let (key, value) = line.split_once(' ')?;
        if !key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        {
            return None;
        }
        match key {
            "oid" => oid = Some(value),
            "size" if value.bytes().all(|b| b.is_ascii_digit()) => size = Some(value),
            "size" => return None,
            _ => {}
        }
    }
    Some(Pointer {
        oid: oid?,
        size: size?,
    })
}

/// Reports an LFS pointer file: never fetched, so never scanned.
pub(crate) fn analyse_lfs_pointer<'d>(data: &'d [u8], env: &Env<'_>) -> Outcome<'d> {
    let mut out = Outcome::new("git-lfs-pointer");
    let (oid, size) = parse_pointer(data).map_or(("unknown", "unknown"), |p| (p.oid, p.size));
    out.not_analysed(format!(
        "Git LFS pointer: `{}` stands for {size} bytes ({oid}) that were never fetched, so the real \
         file was not scanned; run `git lfs pull` and scan again",
        env.name
    ));
    out
}

/// Analyses a JSON document that is not a Keras config (config.json, *.index.json,
/// tokenizer_config.json …). Returns false when the document is none of the Hugging Face files
/// this module knows.
pub(crate) fn analyse_json(doc: &Value, env: &Env<'_>, out: &mut Outcome<'_>) -> bool {
    if env.name == "modules.json" && doc.is_array() {
        out.format = "hf-config".into();
        analyse_config(doc, env, out);
        return true;
    }
    let Some(obj) = doc.as_object() else {
        return false;
    };
    if obj.contains_key("weight_map") || env.name.ends_with(".index.json") {
        out.format = "hf-index".into();
        analyse_index(doc, env, out);
        return true;
    }
    if !is_hf_config(obj, env.name) {
        return false;
    }
    out.format = "hf-config".into();
    analyse_config(doc, env, out);
    true
}

fn is_hf_config(obj: &serde_json::Map<String, Value>, name: &str) -> bool {
    const NAMES: &[&str] = &[
        "config.json",
        "tokenizer_config.json",
        "generation_config.json",
        "preprocessor_config.json",
        "processor_config.json",
        "feature_extractor_config.json",
        "image_processor_config.json",
        "video_preprocessor_config.json",
        "adapter_config.json",
        "chat_template.json",
        "special_tokens_map.json",
        "model_index.json",
        "sentence_bert_config.json",
        "config_sentence_transformers.json",
    ];
    const KEYS: &[&str] = &[
        "auto_map",
        "custom_pipelines",
        "trust_remote_code",
        "chat_template",
        "architectures",
        "model_type",
        "transformers_version",
        "_name_or_path",
        "tokenizer_class",
        "processor_class",
        "feature_extractor_type",
        "image_processor_type",
        "peft_type",
        "base_model_name_or_path",
        "_class_name",
        "_diffusers_version",
        "added_tokens_decoder",
    ];
    NAMES.contains(&name) || KEYS.iter().any(|k| obj.contains_key(*k))
}

/// A class reference: `[repo--]module.Class`.
struct ClassRef {
    /// Where it was found (`auto_map.AutoModel`).
    key: String,
    text: String,
}

fn collect_refs(
    v: &Value,
    path: &str,
    depth: usize,
    refs: &mut Vec<ClassRef>,
    flags: &mut Vec<String>,
) {
    if depth > MAX_CONFIG_DEPTH || refs.len() >= MAX_REFS {
        return;
    }
    let Some(obj) = v.as_object() else {
        if let Some(arr) = v.as_array() {
            for (i, x) in arr.iter().enumerate().take(MAX_REFS) {
                collect_refs(x, &format!("{path}[{i}]"), depth + 1, refs, flags);
            }
        }
        return;
    };
    for (k, x) in obj {
        let here = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        match (k.as_str(), x) {
            ("auto_map", Value::Object(m)) => {
                for (class, target) in m {
                    let key = format!("{here}.{class}");
                    let items: Vec<&Value> = match target {
                        Value::Array(a) => a.iter().collect(),
                        other => vec![other],
                    };
                    for item in items {
                        if let Some(s) = item.as_str()
                            && refs.len() < MAX_REFS
                        {
                            refs.push(ClassRef {
                                key: key.clone(),
                                text: s.to_owned(),
                            });
                        }
                    }
                }
            }
            ("custom_pipelines", Value::Object(m)) => {
                for (task, spec) in m {
                    if let Some(s) = spec.get("impl").and_then(Value::as_str)
                        && refs.len() < MAX_REFS
                    {
                        refs.push(ClassRef {
                            key: format!("{here}.{task}.impl"),
                            text: s.to_owned(),
                        });
                    }
                }
            }
            ("trust_remote_code", Value::Bool(true)) => flags.push(here),
            ("tokenizer_class", Value::String(s))
                if s.contains("--") || s.contains('.') || s.contains('/') =>
            {
                refs.push(ClassRef {
                    key: here,
                    text: s.clone(),
                });
            }
            _ => collect_refs(x, &here, depth + 1, refs, flags),
        }
    }
}

/// Why a module part of a reference leaves the repository, if it does.
fn module_escape(module: &str) -> Option<&'static str> {
    if module.starts_with('/') || module.starts_with('\\') {
        Some("an absolute path")
    } else if module.contains("..") {
        Some("a `..` path")
    } else if module.as_bytes().get(1) == Some(&b':') {
        Some("a drive path")
    } else if module.contains('/') || module.contains('\\') {
        Some("a path with directories")
    } else if module.contains('.') {
        Some("a dotted module path outside the repository")
    } else if module.is_empty()
        || !module
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        Some("not a module name")
    } else {
        None
    }
}

/// Module references that name code by `[library-or-module, Class]` pairs (diffusers
/// `model_index.json` components) or by a `type` path (sentence-transformers `modules.json`).
/// References to the library's own classes are left out; one whose module is neither the
/// library nor a file of the repository is reported here (MS802/MS803), the rest returned.
fn component_refs(doc: &Value, env: &Env<'_>, out: &mut Outcome<'_>) -> Vec<ClassRef> {
    const LIBRARIES: &[&str] = &[
        "diffusers",
        "transformers",
        "peft",
        "onnxruntime",
        "onnxruntime.training",
        "sentence_transformers",
        "torch",
        "flax",
    ];
    let dir = env.disk_path.and_then(Path::parent);
    let mut refs = Vec::new();
    let mut check = |key: String, module: &str, class: &str, out: &mut Outcome<'_>| {
        let top = module.split('.').next().unwrap_or(module);
        if LIBRARIES.contains(&module) || LIBRARIES.contains(&top) {
            return;
        }
        let text = format!("{module}.{class}");
        let ev = json!({ "key": key, "reference": text, "module": module, "class": class });
        // `owner/repo`: code fetched from another repository.
        if let Some((owner, repo)) = module.split_once('/')
            && !owner.is_empty()
            && !repo.is_empty()
            && !repo.contains('/')
            && !module.contains("..")
        {
            out.push(Issue::new(
                "MS802",
                format!("`{key}` loads `{class}` from another repository, `{module}`"),
                format!(
                    "`{key}` names `{module}`: loaders that accept custom code download it from that \
                     repository and import it. That code is not in this directory and was not scanned."
                ),
                ev,
            ));
            return;
        }
        let installed = dir.is_some_and(|d| {
            module_escape(module).is_none() && !d.join(format!("{module}.py")).exists()
        }) && env.name == "modules.json";
        if let Some(why) = module_escape(module).or(installed.then_some(
            "an installed module, not \
            a file of the repository",
        )) {
            out.push(Issue::new(
                "MS803",
                format!("`{key}` names code outside the repository: {why}"),
                format!(
                    "`{key}` = `{text}`: the module part `{module}` is {why}; loaders import it and \
                     instantiate `{class}` from it."
                ),
                ev,
            ));
            return;
        }
        refs.push(ClassRef { key, text });
    };
    if env.name == "modules.json"
        && let Some(items) = doc.as_array()
    {
        for (i, item) in items.iter().enumerate().take(MAX_REFS) {
            if let Some(t) = item.get("type").and_then(Value::as_str) {
                let (module, class) = t.rsplit_once('.').unwrap_or((t, ""));
                check(format!("[{i}].type"), module, class, out);
            }
        }
    } else if let Some(obj) = doc.as_object()
        && (obj.contains_key("_diffusers_version") || env.name == "model_index.json")
    {
        for (k, v) in obj.iter().take(MAX_REFS) {
            if let Some([Value::String(lib), Value::String(class)]) =
                v.as_array().map(Vec::as_slice)
            {
                // Custom components name a module file of their own subfolder; only references
                // that leave the repository are judged here.
                if lib.contains('/') || lib.contains('\\') || lib.contains("..") {
                    check(k.clone(), lib, class, out);
                }
            }
        }
    }
    refs
}

fn analyse_config(doc: &Value, env: &Env<'_>, out: &mut Outcome<'_>) {
    let mut refs = Vec::new();
    let mut flags = Vec::new();
    collect_refs(doc, "", 0, &mut refs, &mut flags);
    refs.extend(component_refs(doc, env, out));
    // module file -> (classes, keys)
    let mut local: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &refs {
        let (repo, rest) = match r.text.split_once("--") {
            Some((repo, rest)) => (Some(repo), rest),
            None => (None, r.text.as_str()),
        };
        let (module, class) = rest.rsplit_once('.').unwrap_or((rest, ""));
        let ev = json!({ "key": r.key, "reference": r.text, "repo": repo, "module": module, "class": class });
        if let Some(repo) = repo {
            out.push(Issue::new(
                "MS802",
                format!("`{}` loads `{rest}` from another repository, `{repo}`", r.key),
                format!(
                    "`{}` = `{}`: a `trust_remote_code=True` loader downloads `{module}.py` from \
                     `{repo}` and imports it. That code is not in this directory and was not scanned.",
                    r.key, r.text
                ),
                ev,
            ));
            continue;
        }
        if class.is_empty() && !r.key.ends_with("tokenizer_class") {
            out.push(
                Issue::new(
                    "MS803",
                    format!("`{}` is not a `module.Class` reference", r.key),
                    format!(
                        "`{}` = `{}` has no class part; loaders refuse it.",
                        r.key, r.text
                    ),
                    ev,
                )
                .severity(Severity::Low),
            );
            continue;
        }
        if let Some(why) = module_escape(module) {
            out.push(Issue::new(
                "MS803",
                format!("`{}` names code outside the repository: {why}", r.key),
                format!(
                    "`{}` = `{}`: the module part `{module}` is {why}. Benign configs name a module \
                     file of their own repository.",
                    r.key, r.text
                ),
                ev,
            ));
            continue;
        }
        local
            .entry(module.to_owned())
            .or_default()
            .insert(format!("{} -> {class}", r.key));
    }
    for flag in &flags {
        out.push(Issue::new(
            "MS805",
            format!("`{flag}` enables remote code"),
            format!("`{flag}` is true: whoever loads with this config runs the repository's custom code."),
            json!({ "key": flag }),
        ));
    }
    let dir = env.disk_path.and_then(Path::parent);
    for (module, uses) in &local {
        let file = format!("{module}.py");
        let uses: Vec<&String> = uses.iter().collect();
        let Some(dir) = dir else {
            out.push(Issue::new(
                "MS800",
                format!("Config names custom code `{file}`"),
                format!(
                    "{} entr(y/ies) name `{file}`, imported by `trust_remote_code=True` loaders. The \
                     config is not a file on disk, so the file was not looked up.",
                    uses.len()
                ),
                json!({ "file": file, "uses": uses }),
            ));
            continue;
        };
        let path = dir.join(&file);
        match fs_err::symlink_metadata(&path) {
            Err(_) => {
                out.push(Issue::new(
                    "MS801",
                    format!("Config names custom code `{file}`, which is not in the directory"),
                    format!(
                        "{} entr(y/ies) name `{file}`, but there is no such file beside the config: a \
                         loader would fetch it from the hub (or fail), and it was not scanned.",
                        uses.len()
                    ),
                    json!({ "file": file, "uses": uses }),
                ));
                continue;
            }
            Ok(meta) if meta.file_type().is_symlink() => {
                let inside = match (fs_err::canonicalize(&path), fs_err::canonicalize(dir)) {
                    (Ok(t), Ok(d)) => t.starts_with(d),
                    _ => false,
                };
                if !inside {
                    out.push(Issue::new(
                        "MS803",
                        format!("`{file}` is a symbolic link that leaves the repository"),
                        format!(
                            "`{file}`, named by the config, is a symbolic link whose target is outside \
                             the directory (or does not exist); loaders copy and import the target."
                        ),
                        json!({ "file": file, "uses": uses }),
                    ));
                    continue;
                }
            }
            Ok(_) => {}
        }
        out.push(Issue::new(
            "MS800",
            format!("Config names custom code `{file}`"),
            format!(
                "{} entr(y/ies) name `{file}`, which `trust_remote_code=True` loaders import. Its \
                 content is analysed as Python (findings under its own path).",
                uses.len()
            ),
            json!({ "file": file, "uses": uses }),
        ));
        summarise_code(dir, module, out);
    }
    for (key, template) in chat_templates(doc) {
        let origin = format!("{} {key}", env.name);
        for issue in jinja::analyse_template(template, &origin) {
            out.push(issue);
        }
    }
}

/// `chat_template` as a string, or a list of `{name, template}`.
fn chat_templates(doc: &Value) -> Vec<(String, &str)> {
    match doc.get("chat_template") {
        Some(Value::String(s)) => vec![("chat_template".into(), s.as_str())],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| {
                let t = i.get("template")?.as_str()?;
                let name = i.get("name").and_then(Value::as_str).unwrap_or("?");
                Some((format!("chat_template[{name}]"), t))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Runs the Python analysis over `module.py` and what it imports relatively; reports the worst
/// on the config when it is `high` or above.
fn summarise_code(dir: &Path, module: &str, out: &mut Outcome<'_>) {
    let mut queue: Vec<String> = vec![module.to_owned()];
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut worst: Option<Severity> = None;
    let mut found = Vec::new();
    while let Some(m) = queue.pop() {
        if done.len() >= MAX_CODE_FILES || !done.insert(m.clone()) {
            continue;
        }
        let rel: PathBuf = m.split('.').collect::<PathBuf>().with_extension("py");
        if m.split('.').any(|p| p.is_empty() || p == "..") {
            continue;
        }
        let path = dir.join(&rel);
        // Links are not followed: a link that leaves the directory is reported for the named
        // module (MS803), and a relative import through a link is not read.
        let Ok(meta) = fs_err::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_file() || meta.len() > MAX_CODE_BYTES {
            continue;
        }
        let Ok(src) = fs_err::read(&path) else {
            continue;
        };
        let report = python::analyse_source(&src);
        for i in report.issues {
            let sev = i.severity.unwrap_or(Severity::Low);
            if sev >= Severity::High {
                worst = worst.max(Some(sev));
                if found.len() < 8 {
                    found.push(json!({
                        "file": rel.to_string_lossy(),
                        "rule": i.rule,
                        "severity": sev.as_str(),
                        "line": i.evidence.get("line"),
                        "title": i.title,
                    }));
                }
            }
        }
        queue.extend(report.relative_imports);
    }
    if let Some(sev) = worst {
        let file = format!("{module}.py");
        out.push(
            Issue::new(
                "MS804",
                format!("Custom code `{file}` named by the config is dangerous ({sev})"),
                format!(
                    "Loading this model with `trust_remote_code=True` imports `{file}`; its Python \
                     analysis found {} problem(s) at `high` or above, the worst `{sev}`.",
                    found.len()
                ),
                json!({ "file": file, "findings": found }),
            )
            .severity(sev),
        );
    }
}

fn shard_escape(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if lower.contains("://") {
        Some("a URL")
    } else if name.starts_with('/') || name.starts_with('\\') {
        Some("an absolute path")
    } else if name.as_bytes().get(1) == Some(&b':') {
        Some("a drive path")
    } else if name.split(['/', '\\']).any(|p| p == "..") {
        Some("a `..` path")
    } else if name.contains('\0') {
        Some("a name with a NUL byte")
    } else {
        None
    }
}

fn analyse_index(doc: &Value, env: &Env<'_>, out: &mut Outcome<'_>) {
    let Some(map) = doc.get("weight_map").and_then(Value::as_object) else {
        out.push(Issue::new(
            "MS811",
            "Index has no `weight_map` object",
            "The index names no shards in the form loaders read; nothing it would load was checked.",
            json!({ "file": env.name }),
        ));
        return;
    };
    let mut shards: BTreeSet<&str> = BTreeSet::new();
    let mut bad = 0usize;
    for v in map.values() {
        match v.as_str() {
            Some(s) => {
                shards.insert(s);
            }
            None => bad += 1,
        }
    }
    if bad > 0 {
        out.push(Issue::new(
            "MS811",
            format!("{bad} `weight_map` value(s) are not strings"),
            "Loaders expect a shard file name for every tensor; the index is malformed.",
            json!({ "non_string_values": bad }),
        ));
    }
    let mut escaping = 0usize;
    let mut clean: Vec<&str> = Vec::new();
    for s in &shards {
        match shard_escape(s) {
            Some(why) => {
                escaping += 1;
                if escaping <= MAX_LISTED {
                    out.push(Issue::new(
                        "MS810",
                        format!("Shard `{s}` is {why}"),
                        format!(
                            "`weight_map` names the shard `{s}`, {why}: loaders join it to the model \
                             directory and open what it points at."
                        ),
                        json!({ "shard": s }),
                    ));
                }
            }
            None => clean.push(s),
        }
    }
    if let Some(dir) = env.disk_path.and_then(Path::parent) {
        let missing: Vec<&str> = clean
            .iter()
            .copied()
            .filter(|s| fs_err::symlink_metadata(dir.join(s)).is_err())
            .collect();
        if !missing.is_empty() {
            out.push(Issue::new(
                "MS811",
                format!(
                    "{} of {} shard(s) named by the index are missing",
                    missing.len(),
                    shards.len()
                ),
                "These shards are not beside the index, so they were not scanned.".to_owned(),
                json!({
                    "missing": missing.iter().take(MAX_LISTED).collect::<Vec<_>>(),
                    "missing_count": missing.len(),
                }),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;

    fn env<'a>(_limits: &'a Limits, name: &'a str, disk: Option<&'a Path>) -> Env<'a> {
        Env {
            disk_path: disk,
            name,
        }
    }

    fn run(
        doc: &str,
        name: &str,
        disk: Option<&Path>,
    ) -> (bool, Vec<(&'static str, Severity, String)>) {
        let limits = Limits::default();
        let e = env(&limits, name, disk);
        let v: Value = serde_json::from_str(doc).unwrap();
        let mut out = Outcome::new("json");
        let known = analyse_json(&v, &e, &mut out);
        let rule_sev = |i: &Issue| {
            let default = RULES
                .iter()
                .chain(python::RULES)
                .find(|r| r.id == i.rule)
                .map_or(Severity::Info, |r| r.severity);
            i.severity.unwrap_or(default)
        };
        (
            known,
            out.issues
                .iter()
                .map(|i| (i.rule, rule_sev(i), i.title.clone()))
                .collect(),
        )
    }

    #[test]
    fn lfs_pointers() {
        let p = b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n";
        assert!(is_lfs_pointer(p));
        let limits = Limits::default();
        let out = analyse_lfs_pointer(p, &env(&limits, "model.safetensors", None));
        let reason = out.not_analysed.unwrap();
        assert!(
            reason.contains("never fetched") && reason.contains("12345"),
            "{reason}"
        );
        assert!(!is_lfs_pointer(
            b"version https://git-lfs.github.com/spec/v1\n\x80\x04junk"
        ));
        assert!(!is_lfs_pointer(
            b"version https://git-lfs.github.com/spec/v1\noid sha256:x\n"
        ));
        assert!(!is_lfs_pointer(
            b"version https://git-lfs.github.com/spec/v1\noid sha256:x\nsize 12a\n"
        ));
        let mut big = p.to_vec();
        big.extend(std::iter::repeat_n(b'x', 2000));
        assert!(!is_lfs_pointer(&big));
    }

    /// A pointer where `model.safetensors` should be is reported as not analysed, with the reason;
    /// the fixture is not in MANIFEST.tsv because it is neither clean nor malicious.
    #[test]
    fn lfs_pointer_fixture_is_not_analysed() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/formats/hfrepo/lfs/model.safetensors");
        let (findings, targets) =
            crate::Scanner::default().scan_file(&path, "lfs/model.safetensors");
        assert!(findings.is_empty());
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].format, "git-lfs-pointer");
        match &targets[0].status {
            aisec_core::TargetStatus::NotAnalysed { reason } => {
                assert!(
                    reason.contains("never fetched") && reason.contains("2684354560"),
                    "{reason}"
                );
            }
            other => panic!("expected not analysed, got {other:?}"),
        }
    }

    #[test]
    fn sentence_transformers_module_types() {
        let dir = std::env::temp_dir().join(format!("aisec-st-modules-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("modules.json");
        std::fs::write(dir.join("custom_st.py"), "class Transformer:\n    pass\n").unwrap();
        let benign = r#"[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "", "type": "custom_st.Transformer"}]"#;
        let (known, issues) = run(benign, "modules.json", Some(&path));
        assert!(known);
        assert!(issues.iter().all(|i| i.1 < Severity::Medium), "{issues:#?}");
        let bad = r#"[{"idx": 0, "name": "0", "path": "", "type": "subprocess.Popen"}]"#;
        let (_, issues) = run(bad, "modules.json", Some(&path));
        assert!(
            issues
                .iter()
                .any(|i| i.0 == "MS803" && i.1 >= Severity::High),
            "{issues:#?}"
        );
        let bad = r#"[{"idx": 0, "name": "0", "path": "", "type": "os.path.join"}]"#;
        let (_, issues) = run(bad, "modules.json", Some(&path));
        assert!(issues.iter().any(|i| i.1 >= Severity::High), "{issues:#?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn diffusers_components_from_other_repositories() {
        let benign = r#"{"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.30.0",
            "unet": ["diffusers", "UNet2DConditionModel"], "text_encoder": ["transformers", "CLIPTextModel"],
            "safety_checker": [null, null], "scheduler": ["my_scheduler", "MyScheduler"]}"#;
        let (_, issues) = run(benign, "model_index.json", None);
        assert!(issues.iter().all(|i| i.1 < Severity::Medium), "{issues:#?}");
        for bad in [
            r#"{"_class_name": ["someone/pipeline-repo", "P"], "_diffusers_version": "0.30.0"}"#,
            r#"{"_diffusers_version": "0.30.0", "unet": ["../../tmp/x", "U"]}"#,
        ] {
            let (_, issues) = run(bad, "model_index.json", None);
            assert!(
                issues.iter().any(|i| i.1 >= Severity::High),
                "{bad}: {issues:#?}"
            );
        }
    }

    #[test]
    fn plain_config_is_known_and_quiet() {
        let (known, issues) = run(
            r#"{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64}"#,
            "config.json",
            None,
        );
        assert!(known);
        assert!(issues.is_empty());
        let (known, _) = run(r#"{"foo": 1}"#, "data.json", None);
        assert!(!known);
    }

    #[test]
    fn auto_map_references() {
        let (_, issues) = run(
            r#"{"auto_map": {"AutoConfig": "configuration_x.XConfig", "AutoModel": "modeling_x.XModel",
                "AutoTokenizer": ["tokenization_x.XTokenizer", null]}}"#,
            "config.json",
            None,
        );
        assert_eq!(issues.iter().filter(|i| i.0 == "MS800").count(), 3);
        assert!(issues.iter().all(|i| i.1 < Severity::Medium));
        let (_, issues) = run(
            r#"{"auto_map": {"AutoModel": "evil/code--modeling_x.XModel"}}"#,
            "config.json",
            None,
        );
        assert!(
            issues
                .iter()
                .any(|i| i.0 == "MS802" && i.1 == Severity::High)
        );
        for bad in [
            "../../x.Evil",
            "/tmp/x.Evil",
            "os.path.Evil",
            "a/b.Evil",
            "C:\\x.Evil",
        ] {
            let doc = format!(
                r#"{{"auto_map": {{"AutoModel": {}}}}}"#,
                serde_json::to_string(bad).unwrap()
            );
            let (_, issues) = run(&doc, "config.json", None);
            assert!(
                issues
                    .iter()
                    .any(|i| i.0 == "MS803" && i.1 == Severity::High),
                "{bad}: {issues:?}"
            );
        }
        let (_, issues) = run(
            r#"{"custom_pipelines": {"t": {"impl": "other/r--pipe.P"}}, "model_args": {"trust_remote_code": true}}"#,
            "config.json",
            None,
        );
        assert!(issues.iter().any(|i| i.0 == "MS802"));
        assert!(
            issues
                .iter()
                .any(|i| i.0 == "MS805" && i.1 == Severity::Low)
        );
    }

    #[test]
    fn indexes() {
        let (known, issues) = run(
            r#"{"metadata": {"total_size": 10}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "../../etc/x.bin", "c": "https://h/x", "d": 3}}"#,
            "model.safetensors.index.json",
            None,
        );
        assert!(known);
        assert_eq!(issues.iter().filter(|i| i.0 == "MS810").count(), 2);
        assert!(issues.iter().any(|i| i.0 == "MS811"));
    }

    #[test]
    fn on_disk_lookup_and_summary() {
        let dir = std::env::temp_dir().join(format!("aisec-hfrepo-{}", std::process::id()));
        let _ = fs_err::remove_dir_all(&dir);
        fs_err::create_dir_all(&dir).unwrap();
        let cfg = dir.join("config.json");
        fs_err::write(&cfg, "{}").unwrap();
        fs_err::write(dir.join("modeling_x.py"), "from .helpers import f\n").unwrap();
        fs_err::write(
            dir.join("helpers.py"),
            "import os\nos.system('echo aisec-fixture')\n",
        )
        .unwrap();
        fs_err::write(dir.join("shard-1.bin"), "x").unwrap();
        let (_, issues) = run(
            r#"{"auto_map": {"AutoModel": "modeling_x.XModel", "AutoConfig": "configuration_x.XConfig"}}"#,
            "config.json",
            Some(&cfg),
        );
        assert!(
            issues
                .iter()
                .any(|i| i.0 == "MS804" && i.1 == Severity::Critical),
            "{issues:?}"
        );
        assert!(issues.iter().any(|i| i.0 == "MS801"));
        let idx = dir.join("x.index.json");
        let (_, issues) = run(
            r#"{"weight_map": {"a": "shard-1.bin", "b": "shard-2.bin"}}"#,
            "x.index.json",
            Some(&idx),
        );
        assert!(
            issues
                .iter()
                .any(|i| i.0 == "MS811" && i.2.contains("1 of 2")),
            "{issues:?}"
        );
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc/hostname", dir.join("modeling_link.py")).unwrap();
            let (_, issues) = run(
                r#"{"auto_map": {"AutoModel": "modeling_link.XModel"}}"#,
                "config.json",
                Some(&cfg),
            );
            assert!(
                issues
                    .iter()
                    .any(|i| i.0 == "MS803" && i.1 == Severity::High),
                "{issues:?}"
            );
        }
        let _ = fs_err::remove_dir_all(&dir);
    }
}
