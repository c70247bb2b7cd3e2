//! Keras model configurations: the JSON a Keras loader turns back into Python objects.
//!
//! Three shapes reach this module, all as parsed JSON: the legacy tf.keras / Keras 2
//! `model_config` and `training_config` (HDF5 attributes, `keras_metadata.pb` in SavedModels,
//! `model.to_json()` files), and Keras 3's `config.json` inside `.keras` archives. The whole tree
//! is walked (depth- and size-bounded), whatever the key, so Lambda layers nested in wrappers,
//! inner models, RNN cells or unknown custom layers are all seen. Three things are reported:
//!
//! * marshalled Python code (Lambda layers, `__lambda__` objects, any string that decodes to a
//!   code object), decoded with [`super::marshal`] and judged by the names it uses;
//! * references that make the loader import a module and fetch a name from it (Keras 3
//!   `module`/`class_name`, legacy Lambda `function_type: "function"` with a `module`,
//!   `TFOpLambda` TensorFlow symbols, strings naming dangerous functions);
//! * custom objects, which need the user's own code to load.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use aisec_core::{Confidence, Severity};
use serde_json::{Map, Value, json};

use super::marshal;
use super::outcome::{Issue, Outcome};
use crate::policy::{self, Class, Danger};
use crate::rules::Rule;

/// Deepest JSON nesting walked (`serde_json` already stops parsing at 128 levels).
const MAX_DEPTH: usize = 256;
/// Most JSON values visited per document.
const MAX_NODES: usize = 2_000_000;
/// Longest string decoded as marshalled code (real Lambda code is a few kilobytes).
const MAX_CODE_CHARS: usize = 16 << 20;
/// Shortest string tried as marshalled code outside a known code position.
const MIN_CODE_CHARS: usize = 24;
/// Most JSON paths listed per finding (the count is always exact).
const MAX_PATHS: usize = 8;
/// Most distinct findings per document; later ones are counted in the last finding's evidence.
const MAX_FINDINGS: usize = 512;
/// Most string constants quoted per code finding.
const MAX_STRINGS: usize = 24;

const ATLAS: &[&str] = &["AML.T0011.000", "AML.T0010.003"];
const REFS: &[&str] = &[
    "https://keras.io/api/models/model_saving_apis/model_saving_and_loading/",
    "https://keras.io/api/layers/core_layers/lambda/",
    "https://atlas.mitre.org/techniques/AML.T0011.000",
    "https://cwe.mitre.org/data/definitions/502.html",
];
const REMEDIATE_CODE: &str = "Do not load this model. If you must, rebuild the architecture in code you control and \
load only the weights (`model.load_weights`), or load it with `safe_mode=True` (Keras 3) in an isolated environment; \
ask the publisher for a version without Lambda layers.";
const REMEDIATE_REF: &str = "Do not load this model. Keras' `safe_mode` does not stop module references in older \
Keras releases: rebuild the architecture in code you control and load only the weights, and update Keras.";

/// The rules this analyser reports under.
pub(crate) const RULES: &[Rule] = &[
    Rule {
        id: "MS300",
        name: "keras-lambda-code-execution",
        title: "Keras Lambda layer runs dangerous Python code",
        severity: Severity::Critical,
        what: "A Lambda layer (or any marshalled function in a Keras config) whose decoded bytecode uses names that \
run code or commands, reach files or the network, or reach interpreter internals: `os`, `system`, `subprocess`, \
`eval`, `exec`, `__import__`, `getattr`, `open`, `socket`, dunder attributes, and the like.",
        why: "Keras rebuilds the function from its bytecode and calls it while it loads or first runs the model; \
whatever the bytecode does runs with the loader's privileges.",
        example: "{\"class_name\": \"Lambda\", \"config\": {\"function\": {\"class_name\": \"__lambda__\", \"config\": \
{\"code\": \"4wEAAA…\"}}}} whose code is `lambda x: __import__('os').system('id') or x`",
        remediation: REMEDIATE_CODE,
        atlas: ATLAS,
        cwe: &["CWE-502", "CWE-94"],
        references: REFS,
    },
    Rule {
        id: "MS301",
        name: "keras-lambda-unknown-code",
        title: "Keras Lambda layer runs Python code beyond tensor math",
        severity: Severity::High,
        what: "Marshalled Lambda code that uses names outside a conservative list of tensor-math functions and \
tensor methods (TensorFlow, Keras backend and ops, NumPy, math), or whose use of names could not be fully listed.",
        why: "The loader runs this code; names the scanner does not recognise as arithmetic may reach anything the \
Python process can.",
        example: "lambda x: helper.fetch(x)",
        remediation: REMEDIATE_CODE,
        atlas: ATLAS,
        cwe: &["CWE-502", "CWE-94"],
        references: REFS,
    },
    Rule {
        id: "MS302",
        name: "keras-lambda-undecodable",
        title: "Keras Lambda layer holds code that cannot be decoded",
        severity: Severity::High,
        what: "A Lambda layer (or `__lambda__` object) whose code is missing, not base64, not marshal data, or a \
code object in no known Python layout.",
        why: "The loader still hands the bytes to `marshal.loads`; code the scanner cannot read cannot be shown \
harmless, and malformed code objects are also a way to crash the interpreter.",
        example: "{\"function\": \"not-marshal\", \"function_type\": \"lambda\"}",
        remediation: REMEDIATE_CODE,
        atlas: ATLAS,
        cwe: &["CWE-502", "CWE-94"],
        references: REFS,
    },
    Rule {
        id: "MS303",
        name: "keras-lambda-math",
        title: "Keras Lambda layer runs tensor-math Python code",
        severity: Severity::Low,
        what: "A Lambda layer whose decoded bytecode uses only tensor-math names (or none at all, like `x * 2`).",
        why: "Still Python code that runs on load, and it ties the model to the Python version that wrote it; \
benign models use such layers for arithmetic.",
        example: "lambda x: tf.reduce_mean(x, axis=1)",
        remediation: "Prefer built-in layers or registered custom layers to Lambda layers; load with `safe_mode=True` \
where you do not need them.",
        atlas: ATLAS,
        cwe: &["CWE-94"],
        references: REFS,
    },
    Rule {
        id: "MS310",
        name: "keras-dangerous-reference",
        title: "Keras config refers to a dangerous function",
        severity: Severity::Critical,
        what: "A function or class reference the loader resolves by module and name (Keras 3 `module` + \
`class_name`/`config`, a legacy Lambda's `module` + `function`, a `TFOpLambda` TensorFlow symbol) that runs code or \
commands (`os.system`, `builtins.exec`, `subprocess.Popen`, `tf.py_function`), loads native code, turns safe mode \
off (`keras.config.enable_unsafe_deserialization`), or reaches files and the network (`keras.utils.get_file`, \
`tf.io.write_file`); also strings naming such functions, a lookup layer's `vocabulary` naming a file outside \
the archive, and a `TorchModuleWrapper` whose `module` pickle could not be decoded (a decoded one is scanned as a \
nested pickle).",
        why: "Keras 3 before 3.9 imports any `module` a config names and calls what it finds (CVE-2025-1550); Keras' \
own helpers and TensorFlow ops reached this way bypass safe mode in later releases. Lookup layers read a string \
`vocabulary` with `tf.io.gfile` (any local path or URL, CVE-2025-12058), and `TorchModuleWrapper` hands its base64 \
`module` to `torch.load(weights_only=False)`.",
        example: "{\"module\": \"os\", \"class_name\": \"function\", \"config\": \"system\", \"registered_name\": \
\"system\"}",
        remediation: REMEDIATE_REF,
        atlas: ATLAS,
        cwe: &["CWE-502", "CWE-470"],
        references: &[
            "https://nvd.nist.gov/vuln/detail/CVE-2025-1550",
            "https://nvd.nist.gov/vuln/detail/CVE-2025-8747",
            "https://nvd.nist.gov/vuln/detail/CVE-2025-12058",
            "https://atlas.mitre.org/techniques/AML.T0011.000",
            "https://cwe.mitre.org/data/definitions/470.html",
        ],
    },
    Rule {
        id: "MS311",
        name: "keras-module-import",
        title: "Keras config makes the loader import a standard-library module",
        severity: Severity::High,
        what: "A function or class reference whose `module` is a Python standard-library module that has nothing \
to do with models (`webbrowser`, `antigravity`, `ensurepip`, `pydoc` …), or a Python builtin that is not a Keras \
object.",
        why: "The loader imports the module and uses what it names as a layer, activation, loss or metric; importing \
and calling arbitrary standard-library names is how the Keras module-import attacks work.",
        example: "{\"module\": \"webbrowser\", \"class_name\": \"function\", \"config\": \"open\"}",
        remediation: REMEDIATE_REF,
        atlas: ATLAS,
        cwe: &["CWE-502", "CWE-470"],
        references: &[
            "https://nvd.nist.gov/vuln/detail/CVE-2025-1550",
            "https://cwe.mitre.org/data/definitions/470.html",
        ],
    },
    Rule {
        id: "MS312",
        name: "keras-custom-object",
        title: "Keras config needs custom objects",
        severity: Severity::Low,
        what: "Classes and functions Keras does not define: registered names (`package>Name`), Keras 3 references \
to modules outside Keras and TensorFlow (`__main__`, the user's own package), legacy layer classes Keras does \
not know.",
        why: "Loading needs the user's code (or a module the loader imports); the scanner cannot see that code. \
Common in benign models.",
        example: "{\"module\": \"my_models.layers\", \"class_name\": \"Encoder\", \"registered_name\": \
\"my_models>Encoder\"}",
        remediation: "Review the code that defines the named objects before loading the model with it.",
        atlas: ATLAS,
        cwe: &["CWE-502"],
        references: REFS,
    },
];

/// Keys of Hugging Face and diffusers configs: their `config.json` is not a Keras config.
#[rustfmt::skip]
const HF_KEYS: &[&str] = &[
    "model_type", "architectures", "_name_or_path", "transformers_version", "auto_map",
    "torch_dtype", "_class_name", "_diffusers_version",
];

/// True when `doc` is a Keras model or layer config: an object with a string `class_name` and a
/// `config`, and none of the keys Hugging Face configs carry.
pub(crate) fn is_config(doc: &Value) -> bool {
    has_config_shape(doc)
        && doc
            .as_object()
            .is_some_and(|obj| !HF_KEYS.iter().any(|k| obj.contains_key(*k)))
}

/// True when `doc` has what a Keras loader reads (a string `class_name` and a `config`), whatever
/// other keys it carries: the loader ignores keys it does not know, so Hugging Face keys added to a
/// Keras config do not stop it from rebuilding the model.
pub(crate) fn has_config_shape(doc: &Value) -> bool {
    let Some(obj) = doc.as_object() else {
        return false;
    };
    let Some(cls) = obj.get("class_name").and_then(Value::as_str) else {
        return false;
    };
    let config_ok = matches!(
        obj.get("config"),
        Some(Value::Object(_) | Value::String(_) | Value::Null)
    );
    config_ok && !cls.is_empty() && cls.len() <= 256
}

/// Analyses any Keras JSON (model, layer, training or compile config); `origin` says where it was
/// found (`model_config attribute`, `config.json`).
pub(crate) fn analyse_config(doc: &Value, origin: &str, out: &mut Outcome<'_>) {
    let mut w = Walker {
        found: Vec::new(),
        index: HashMap::new(),
        handled: HashSet::new(),
        nodes: 0,
        dropped: 0,
        incomplete: None,
        blobs: Vec::new(),
    };
    let mut path = String::from("$");
    w.walk(doc, &mut path, 0, None);
    for (p, bytes) in std::mem::take(&mut w.blobs) {
        out.nested(p, bytes.into(), Some("pt".to_owned()));
    }
    if let Some(reason) = w.incomplete.take() {
        out.not_analysed(reason);
    }
    let dropped = w.dropped;
    let n = w.found.len();
    for (i, f) in w.found.into_iter().enumerate() {
        let mut evidence = f.evidence;
        if let Value::Object(m) = &mut evidence {
            m.insert("origin".into(), json!(origin));
            m.insert("paths".into(), json!(f.paths));
            m.insert("count".into(), json!(f.count));
            if i + 1 == n && dropped > 0 {
                m.insert("findings_not_listed".into(), json!(dropped));
            }
        }
        out.push(
            Issue::new(f.rule, f.title, f.message, evidence)
                .severity(f.severity)
                .confidence(f.confidence),
        );
    }
}

/// Fuzz entry point: parses `data` as JSON and analyses it as a Keras config.
pub(crate) fn fuzz(data: &[u8]) -> usize {
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return 0;
    };
    let mut out = Outcome::new("keras-config");
    let claimed = usize::from(is_config(&doc));
    analyse_config(&doc, "fuzz", &mut out);
    out.issues.len() + claimed
}

// ----- the walk ----------------------------------------------------------------------------------

struct Found {
    rule: &'static str,
    severity: Severity,
    confidence: Confidence,
    title: String,
    message: String,
    evidence: Value,
    paths: Vec<String>,
    count: usize,
}

struct Walker {
    found: Vec<Found>,
    /// Dedup key -> index in `found`.
    index: HashMap<String, usize>,
    /// Paths of strings already analysed as code.
    handled: HashSet<String>,
    nodes: usize,
    dropped: usize,
    incomplete: Option<String>,
    /// Decoded `TorchModuleWrapper` pickles: (config path, bytes), scanned as nested files.
    blobs: Vec<(String, Vec<u8>)>,
}

/// Legacy Lambda fields: (value, its type, its module).
const LEGACY_FN_FIELDS: &[(&str, &str, &str)] = &[
    ("function", "function_type", "module"),
    ("output_shape", "output_shape_type", "output_shape_module"),
    ("mask", "mask_type", "mask_module"),
];

impl Walker {
    #[allow(clippy::too_many_arguments)]
    fn report(
        &mut self,
        key: String,
        path: &str,
        rule: &'static str,
        severity: Severity,
        confidence: Confidence,
        title: String,
        message: String,
        evidence: Value,
    ) {
        if let Some(&i) = self.index.get(&key) {
            let f = &mut self.found[i];
            f.count += 1;
            if f.paths.len() < MAX_PATHS {
                f.paths.push(path.to_owned());
            }
            return;
        }
        if self.found.len() >= MAX_FINDINGS {
            self.dropped += 1;
            return;
        }
        self.index.insert(key, self.found.len());
        self.found.push(Found {
            rule,
            severity,
            confidence,
            title,
            message,
            evidence,
            paths: vec![path.to_owned()],
            count: 1,
        });
    }

    fn walk<'v>(&mut self, v: &'v Value, path: &mut String, depth: usize, layer: Option<&'v str>) {
        if self.incomplete.is_some() {
            return;
        }
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            self.incomplete = Some(format!(
                "Keras config has more than {MAX_NODES} values; the rest was not examined"
            ));
            return;
        }
        if depth > MAX_DEPTH {
            self.incomplete = Some(format!(
                "Keras config nested deeper than {MAX_DEPTH} levels at {path}; deeper values were not examined"
            ));
            return;
        }
        match v {
            Value::Object(obj) => {
                let layer = obj
                    .get("config")
                    .and_then(|c| c.get("name"))
                    .and_then(Value::as_str)
                    .or_else(|| obj.get("name").and_then(Value::as_str))
                    .or(layer);
                self.object(obj, path, layer);
                for (k, child) in obj {
                    let len = path.len();
                    let _ = write!(path, ".{k}");
                    self.walk(child, path, depth + 1, layer);
                    path.truncate(len);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    let len = path.len();
                    let _ = write!(path, "[{i}]");
                    self.walk(child, path, depth + 1, layer);
                    path.truncate(len);
                }
            }
            Value::String(s) if !self.handled.contains(path.as_str()) => {
                self.loose_string(s, path, layer);
            }
            _ => {}
        }
    }

    /// Checks one object for the constructs the loader acts on.
    fn object(&mut self, obj: &Map<String, Value>, path: &str, layer: Option<&str>) {
        let cls = obj.get("class_name").and_then(Value::as_str);
        let config = obj.get("config");
        if cls == Some("__lambda__") {
            // Keras 3: Lambda layers write `code`/`defaults`/`closure`, the generic serializer `value`.
            let cfg = config.and_then(Value::as_object);
            let mut seen = false;
            for key in ["code", "value"] {
                if let Some(v) = cfg.and_then(|c| c.get(key)) {
                    let p = format!("{path}.config.{key}");
                    self.code_value(v, &p, layer, None);
                    seen = true;
                }
            }
            if !seen {
                self.undecodable(path, layer, None, "the `__lambda__` object has no code");
            }
        }
        for &(fkey, tkey, mkey) in LEGACY_FN_FIELDS {
            let Some(kind) = obj.get(tkey).and_then(Value::as_str) else {
                continue;
            };
            let module = obj.get(mkey).and_then(Value::as_str);
            let value = obj.get(fkey);
            let p = format!("{path}.{fkey}");
            match kind {
                "lambda" => match value {
                    Some(v) => self.code_value(v, &p, layer, module),
                    None => self.undecodable(&p, layer, module, "the Lambda layer has no code"),
                },
                "function" => {
                    if let (Some(m), Some(name)) = (module, value.and_then(Value::as_str)) {
                        self.reference(m, name, None, "function", &p, layer);
                    }
                }
                _ => {}
            }
        }
        if matches!(cls, Some("TFOpLambda" | "SlicingOpLambda"))
            && let Some(sym) = config
                .and_then(|c| c.get("function"))
                .and_then(Value::as_str)
        {
            let p = format!("{path}.config.function");
            self.handled.insert(p.clone());
            if let Some((sev, what)) = tf_symbol_danger(sym) {
                let full = format!("tf.{sym}");
                self.dangerous_ref(&full, sev, what, &p, layer);
            }
        }
        if let Some(cfg) = config.and_then(Value::as_object) {
            self.layer_io(cls, cfg, path, layer);
        }
        let Some(cls) = cls else {
            return;
        };
        let registered = obj.get("registered_name").and_then(Value::as_str);
        if let Some(module) = obj.get("module").and_then(Value::as_str) {
            let (name, kind) = if cls == "function" {
                (config.and_then(Value::as_str).unwrap_or(""), "function")
            } else {
                (cls, "class")
            };
            if !name.is_empty() {
                self.reference(module, name, registered, kind, path, layer);
            }
        } else if registered.is_some_and(|r| r.contains('>'))
            || cls.contains('>')
            || (!cls.starts_with("__")
                && policy::is_class_name(cls)
                && !KNOWN_CLASSES.contains(&cls)
                && config.is_some_and(Value::is_object))
        {
            self.custom(None, cls, registered, path);
        }
    }

    /// Layer arguments the loader turns into file access or deserialization: a lookup layer's string
    /// `vocabulary` (read with `tf.io.gfile`) and a `TorchModuleWrapper`'s base64 `module` (handed to
    /// `torch.load`).
    fn layer_io(
        &mut self,
        cls: Option<&str>,
        cfg: &Map<String, Value>,
        path: &str,
        layer: Option<&str>,
    ) {
        if let Some(Value::String(vocab)) = cfg.get("vocabulary") {
            let p = format!("{path}.config.vocabulary");
            self.handled.insert(p.clone());
            if let Some(why) = outside_path(vocab) {
                let where_ = layer.map_or_else(String::new, |l| format!(" (layer `{l}`)"));
                let shown: String = vocab.chars().take(200).collect();
                self.report(
                    format!("MS310|vocab|{shown}"),
                    &p,
                    "MS310",
                    Severity::High,
                    Confidence::Likely,
                    format!("Lookup layer reads vocabulary file `{shown}`"),
                    format!(
                        "The config sets a lookup layer's `vocabulary`{where_} to `{shown}`, {why}; the loader \
reads it with `tf.io.gfile` while rebuilding the model, so a model can pull in local files or fetch URLs."
                    ),
                    json!({"vocabulary": shown, "layer": layer, "class_name": cls}),
                );
            }
        }
        if cls == Some("TorchModuleWrapper")
            && let Some(Value::String(b64)) = cfg.get("module")
        {
            let p = format!("{path}.config.module");
            self.handled.insert(p.clone());
            let decoded = (b64.len() <= MAX_CODE_CHARS && b64.is_ascii())
                .then(|| marshal::a2b_base64(b64.as_bytes()))
                .flatten()
                .filter(|b| !b.is_empty());
            if let Some(bytes) = decoded {
                if self.blobs.len() < MAX_PATHS {
                    self.blobs.push((p, bytes));
                } else {
                    self.dropped += 1;
                }
            } else {
                let where_ = layer.map_or_else(String::new, |l| format!(" (layer `{l}`)"));
                self.report(
                    format!("MS310|torch|{p}"),
                    &p,
                    "MS310",
                    Severity::High,
                    Confidence::Likely,
                    format!("Undecodable TorchModuleWrapper pickle{where_}"),
                    format!(
                        "A `TorchModuleWrapper`{where_} holds a `module` the scanner could not decode as \
base64 (or it is too large); the loader hands it to `torch.load(weights_only=False)`, which runs pickled code."
                    ),
                    json!({"layer": layer, "chars": b64.len()}),
                );
            }
        }
    }

    /// A value in a code position: a string, or `[code, defaults, closure]` (tf_keras' SavedModel
    /// metadata writes that tuple as `{"class_name": "__tuple__", "items": [...]}`).
    fn code_value(&mut self, v: &Value, path: &str, layer: Option<&str>, module: Option<&str>) {
        if let Some(items) = v
            .as_object()
            .filter(|o| o.get("class_name").and_then(Value::as_str) == Some("__tuple__"))
            .and_then(|o| o.get("items"))
        {
            return self.code_value(items, &format!("{path}.items"), layer, module);
        }
        let (s, p) = match v {
            Value::String(s) => (s.as_str(), path.to_owned()),
            Value::Array(items) => match items.first() {
                Some(Value::String(s)) => (s.as_str(), format!("{path}[0]")),
                _ => {
                    return self.undecodable(path, layer, module, "the code is not a string");
                }
            },
            Value::Null => return,
            _ => return self.undecodable(path, layer, module, "the code is not a string"),
        };
        self.handled.insert(p.clone());
        if s.len() > MAX_CODE_CHARS {
            return self.undecodable(
                &p,
                layer,
                module,
                &format!("the code string is larger than {MAX_CODE_CHARS} characters"),
            );
        }
        let bytes = marshal::code_bytes_from_str(s);
        match marshal::load_code(&bytes) {
            Ok((code, layout)) => self.code(&code, layout, &p, layer, module, false),
            Err(e) => self.undecodable(&p, layer, module, &e.to_string()),
        }
    }

    fn undecodable(&mut self, path: &str, layer: Option<&str>, module: Option<&str>, why: &str) {
        let where_ = layer.map_or_else(String::new, |l| format!(" in layer `{l}`"));
        self.report(
            format!("MS302|{path}"),
            path,
            "MS302",
            Severity::High,
            Confidence::Likely,
            format!("Undecodable Lambda code{where_}"),
            format!(
                "A Lambda function{where_} holds code the scanner could not decode ({why}); the loader still \
hands it to `marshal.loads` and runs the result."
            ),
            json!({"layer": layer, "module": module, "error": why}),
        );
    }

    /// Judges a decoded code object.
    fn code(
        &mut self,
        code: &marshal::Value,
        layout: marshal::Layout,
        path: &str,
        layer: Option<&str>,
        module: Option<&str>,
        loose: bool,
    ) {
        let u = marshal::usage(code);
        let mut dangerous: Vec<&str> = u
            .names
            .iter()
            .map(String::as_str)
            .filter(|n| is_dangerous_name(n))
            .collect();
        // `tf.print(x, output_stream="file:///…")` appends to a file; the names alone look benign.
        if u.strings.iter().any(|s| {
            s.trim_start()
                .get(..7)
                .is_some_and(|p| p.eq_ignore_ascii_case("file://"))
        }) {
            dangerous.push("file://");
        }
        let unlisted: Vec<&str> = u
            .names
            .iter()
            .map(String::as_str)
            // Keras' own class names (`tf.keras.layers.Dropout(0.2)(x)`) build layers, nothing more.
            .filter(|n| {
                !is_dangerous_name(n) && !MATH_NAMES.contains(n) && !KNOWN_CLASSES.contains(n)
            })
            .collect();
        // A legacy Lambda's globals are the named module's: `system` in module `os` is os.system.
        let module_danger = module.is_some_and(|m| {
            let root = m.split('.').next().unwrap_or(m);
            CRITICAL_ROOTS.contains(&root)
        });
        let strings: Vec<&String> = u.strings.iter().take(MAX_STRINGS).collect();
        let where_ = layer.map_or_else(String::new, |l| format!(" in layer `{l}`"));
        let what = if loose {
            "A marshalled Python code object stored in a config string"
        } else {
            "A Lambda function"
        };
        let evidence = json!({
            "layer": layer,
            "python": layout.versions(),
            "functions": u.functions,
            "names": u.names,
            "dangerous_names": dangerous,
            "unlisted_names": unlisted,
            "strings": strings,
            "filename": u.filename,
            "module": module,
            "bytecode_bytes": u.bytecode_len,
        });
        let list = |names: &[&str]| {
            names
                .iter()
                .take(12)
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (rule, severity, title, message) = if !dangerous.is_empty()
            || (module_danger && !unlisted.is_empty())
        {
            let mut names = dangerous.clone();
            if module_danger {
                names.extend(unlisted.iter().copied());
            }
            let modnote = if module_danger {
                format!(" (its globals come from module `{}`)", module.unwrap_or(""))
            } else {
                String::new()
            };
            (
                "MS300",
                Severity::Critical,
                format!(
                    "Lambda code uses {}{where_}",
                    list(&names[..names.len().min(3)])
                ),
                format!(
                    "{what}{where_} (Python {}) uses {}{modnote}: the loader rebuilds and runs this code.",
                    layout.versions(),
                    list(&names)
                ),
            )
        } else if !unlisted.is_empty() || u.truncated {
            let msg = if unlisted.is_empty() {
                "is too large to list every name it uses".to_owned()
            } else {
                format!("uses names beyond tensor math: {}", list(&unlisted))
            };
            (
                "MS301",
                Severity::High,
                format!("Lambda code uses unrecognised names{where_}"),
                format!(
                    "{what}{where_} (Python {}) {msg}; the loader rebuilds and runs this code.",
                    layout.versions()
                ),
            )
        } else {
            (
                "MS303",
                Severity::Low,
                format!("Lambda layer with tensor-math code{where_}"),
                format!(
                    "{what}{where_} (Python {}) uses only tensor-math names ({}); it is still Python code that \
runs when the model loads.",
                    layout.versions(),
                    if u.names.is_empty() {
                        "none".to_owned()
                    } else {
                        list(&u.names.iter().map(String::as_str).collect::<Vec<_>>())
                    }
                ),
            )
        };
        let key = format!("{rule}|{path}");
        self.report(
            key,
            path,
            rule,
            severity,
            Confidence::Certain,
            title,
            message,
            evidence,
        );
    }

    /// A string outside a known code position: marshalled code, or a dotted dangerous name.
    fn loose_string(&mut self, s: &str, path: &str, layer: Option<&str>) {
        if s.len() >= MIN_CODE_CHARS && s.len() <= MAX_CODE_CHARS {
            let bytes = marshal::code_bytes_from_str(s);
            if bytes.first().is_some_and(|b| b & 0x7f == b'c')
                && let Ok((code, layout)) = marshal::load_code(&bytes)
            {
                self.code(&code, layout, path, layer, None, true);
                return;
            }
        }
        if s.len() > 200 || !s.contains('.') || !is_dotted_identifier(s) {
            return;
        }
        let root = s.split('.').next().unwrap_or(s);
        let danger = match policy::classify(s) {
            Class::Dangerous { danger, .. } => Some(danger_severity(danger)),
            Class::Introspection { .. } => Some(Severity::Critical),
            _ if CRITICAL_ROOTS.contains(&root) => Some(Severity::Critical),
            _ => None,
        };
        if danger.is_some() {
            self.report(
                format!("MS310|str|{s}"),
                path,
                "MS310",
                Severity::High,
                Confidence::Possible,
                format!("Config string names `{s}`"),
                format!(
                    "A config value is the string `{s}`, the name of a dangerous function; Keras resolves \
such strings only among its own and registered objects, but custom loading code may import it."
                ),
                json!({"name": s, "layer": layer}),
            );
        }
    }

    /// A reference the loader resolves by importing `module` and fetching `name`.
    fn reference(
        &mut self,
        module: &str,
        name: &str,
        registered: Option<&str>,
        kind: &str,
        path: &str,
        layer: Option<&str>,
    ) {
        let module = module.trim();
        let root = module.split('.').next().unwrap_or(module);
        let full = format!("{module}.{name}");
        if KERAS_ROOTS.contains(&root) {
            let sym = full
                .strip_prefix("tensorflow.")
                .or_else(|| full.strip_prefix("tf_keras."))
                .unwrap_or(&full);
            if let Some((sev, what)) = tf_symbol_danger(sym).or_else(|| keras_symbol_danger(&full))
            {
                self.dangerous_ref(&full, sev, what, path, layer);
            }
            return;
        }
        if matches!(root, "builtins" | "__builtin__") && module == root {
            if !PY_BUILTINS.contains(&name) {
                // Keras looks names under `builtins` up among its own functions first.
                return;
            }
            match policy::classify(&format!("builtins.{name}")) {
                Class::Dangerous { danger, .. } => {
                    self.dangerous_ref(
                        &full,
                        danger_severity(danger),
                        danger.describe(),
                        path,
                        layer,
                    );
                }
                _ => self.import_ref(module, name, kind, path, layer, true),
            }
            return;
        }
        match policy::classify(&full) {
            Class::Dangerous { danger, .. } => {
                return self.dangerous_ref(
                    &full,
                    danger_severity(danger),
                    danger.describe(),
                    path,
                    layer,
                );
            }
            Class::Introspection { .. } => {
                return self.dangerous_ref(
                    &full,
                    Severity::Critical,
                    "reaches interpreter internals",
                    path,
                    layer,
                );
            }
            _ => {}
        }
        if CRITICAL_ROOTS.contains(&root) {
            return self.dangerous_ref(
                &full,
                Severity::Critical,
                "comes from a module that runs code, commands or reaches the system",
                path,
                layer,
            );
        }
        if STDLIB.binary_search(&root).is_ok() && !HARMLESS_STDLIB.contains(&root) {
            return self.import_ref(module, name, kind, path, layer, false);
        }
        self.custom(Some(module), name, registered, path);
    }

    fn dangerous_ref(
        &mut self,
        full: &str,
        severity: Severity,
        what: &str,
        path: &str,
        layer: Option<&str>,
    ) {
        let where_ = layer.map_or_else(String::new, |l| format!(" (layer `{l}`)"));
        self.report(
            format!("MS310|{full}"),
            path,
            "MS310",
            severity,
            Confidence::Certain,
            format!("Config refers to `{full}`"),
            format!(
                "The config names `{full}`{where_}, which {what}; the loader resolves the reference and calls \
or instantiates it while rebuilding the model."
            ),
            json!({"reference": full, "layer": layer}),
        );
    }

    fn import_ref(
        &mut self,
        module: &str,
        name: &str,
        kind: &str,
        path: &str,
        layer: Option<&str>,
        builtin: bool,
    ) {
        let full = format!("{module}.{name}");
        let why = if builtin {
            "a Python builtin that is not a Keras object".to_owned()
        } else {
            format!("module `{module}` is a standard-library module with no place in a model")
        };
        self.report(
            format!("MS311|{full}"),
            path,
            "MS311",
            Severity::High,
            Confidence::Likely,
            format!("Config imports `{full}`"),
            format!(
                "The config refers to the {kind} `{full}`: {why}. The loader imports it and uses it as part \
of the model."
            ),
            json!({"module": module, "name": name, "kind": kind, "layer": layer}),
        );
    }

    fn custom(&mut self, module: Option<&str>, name: &str, registered: Option<&str>, path: &str) {
        let label = registered.filter(|r| !r.is_empty()).unwrap_or(name);
        let from = module.map_or_else(String::new, |m| format!(" from module `{m}`"));
        self.report(
            format!("MS312|{module:?}|{name}|{registered:?}"),
            path,
            "MS312",
            Severity::Low,
            Confidence::Certain,
            format!("Custom object `{label}`"),
            format!(
                "The config uses `{label}`{from}, which Keras does not define; loading needs code the scan did \
not see (registered custom objects or an import of its module)."
            ),
            json!({"module": module, "class_name": name, "registered_name": registered}),
        );
    }
}

fn danger_severity(d: Danger) -> Severity {
    match d {
        Danger::CodeExecution
        | Danger::CommandExecution
        | Danger::NativeCode
        | Danger::NameResolution
        | Danger::Deserialization => Severity::Critical,
        Danger::Network | Danger::FileSystem | Danger::SystemState => Severity::High,
    }
}

/// Why a lookup layer's vocabulary path reaches outside the model: absolute, a URL or remote
/// file-system scheme, a parent-directory step or a home directory. `None` for a plain relative
/// name (older Keras wrote the path the user passed, usually `vocab.txt`).
fn outside_path(p: &str) -> Option<&'static str> {
    let t = p.trim();
    let b = t.as_bytes();
    if t.contains("://") {
        Some("a URL or remote file system")
    } else if t.starts_with('/') || t.starts_with('\\') {
        Some("an absolute path")
    } else if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        Some("an absolute Windows path")
    } else if t.starts_with('~') {
        Some("a path in a home directory")
    } else if t.split(['/', '\\']).any(|c| c.trim() == "..") {
        Some("a path that climbs out of the working directory")
    } else if t.contains('\0') {
        Some("a path with a NUL byte")
    } else {
        None
    }
}

fn is_dotted_identifier(s: &str) -> bool {
    s.split('.').all(|p| {
        let mut c = p.chars();
        c.next()
            .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
            && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
    })
}

/// Names in Lambda bytecode that run code or commands, reach files, the network or interpreter
/// internals, or hide what they call.
fn is_dangerous_name(n: &str) -> bool {
    if n.len() > 4 && n.starts_with("__") && n.ends_with("__") {
        return true;
    }
    DANGEROUS_NAMES.contains(&n)
        || n.starts_with("spawn")
        || n.starts_with("execv")
        || n.starts_with("execl")
        || n.starts_with("popen")
        || n.starts_with("Popen")
}

/// A TensorFlow API symbol (without the `tf.` prefix) that runs Python or native code or touches
/// files: what a `TFOpLambda` layer or a reference into `tensorflow` may name.
fn tf_symbol_danger(sym: &str) -> Option<(Severity, &'static str)> {
    const CODE: &[&str] = &[
        "py_func",
        "py_function",
        "numpy_function",
        "eager_py_func",
        "PyFunc",
        "PyFuncStateless",
        "EagerPyFunc",
        "func_load",
    ];
    const NATIVE: &[&str] = &[
        "load_op_library",
        "load_library",
        "load_pluggable_device_library",
        "register_filesystem_plugin",
    ];
    const FILES: &[&str] = &[
        "read_file",
        "write_file",
        "ReadFile",
        "WriteFile",
        "matching_files",
        "MatchingFiles",
        "gfile",
        "GFile",
        "get_file",
        "MergeV2Checkpoints",
        "Save",
        "SaveV2",
        "SaveSlices",
        "Restore",
        "RestoreV2",
        "RestoreSlice",
        "ShardedFilename",
        "create_file_writer",
        "enable_dump_debug_info",
        "load_model",
        "DeleteFile",
        "rmtree",
        "copy_file",
        "rename_file",
        "TextLineDataset",
        "TFRecordDataset",
        "FixedLengthRecordDataset",
        "CsvDataset",
        "SqlDataset",
        "make_csv_dataset",
        "make_batched_features_dataset",
        "list_files",
        "TextFileInitializer",
        "TFRecordWriter",
        "tf_record_iterator",
        "load_checkpoint",
        "list_variables",
        "Saver",
        "CheckpointManager",
        "saved_model",
    ];
    /// Connects to other hosts: cluster setup, RPC, the tf.data service.
    const NETWORK: &[&str] = &[
        "experimental_connect_to_host",
        "experimental_connect_to_cluster",
        "rpc",
        "Server",
        "service",
        "DistributeDataset",
    ];
    let parts: Vec<&str> = sym.split('.').collect();
    let has = |n: &str| parts.contains(&n);
    let last = parts.last().copied().unwrap_or("");
    if parts.iter().any(|p| CODE.contains(p)) {
        Some((Severity::Critical, "runs arbitrary Python functions"))
    } else if parts.iter().any(|p| NATIVE.contains(p)) {
        Some((Severity::Critical, "loads native code"))
    } else if parts.iter().any(|p| FILES.contains(p))
        || (has("io") && has("gfile"))
        // tf.data.experimental.save / load / snapshot, Dataset.save / load: files by path.
        || (has("data") && matches!(last, "save" | "load" | "snapshot"))
    {
        Some((Severity::High, "reads, writes or downloads files"))
    } else if parts.iter().any(|p| NETWORK.contains(p)) {
        Some((Severity::High, "connects to other hosts"))
    } else {
        None
    }
}

/// Keras' own helpers that defeat its safety or reach the network and files.
fn keras_symbol_danger(full: &str) -> Option<(Severity, &'static str)> {
    let last = full.rsplit('.').next().unwrap_or(full);
    match last {
        "enable_unsafe_deserialization" => Some((
            Severity::Critical,
            "turns Keras safe mode off, so later Lambda code runs",
        )),
        "func_load" | "deserialize_keras_object" | "load_model" | "model_from_json" => Some((
            Severity::Critical,
            "loads further code or models while this one loads",
        )),
        "get_file" | "extract_archive" | "save_model" | "save_weights" | "load_weights" => {
            Some((Severity::High, "downloads, reads or writes files"))
        }
        _ => None,
    }
}

/// Module roots whose objects are Keras' own (resolved through Keras' registry or TensorFlow's API).
#[rustfmt::skip]
const KERAS_ROOTS: &[&str] = &[
    "keras", "tf_keras", "tensorflow", "keras_hub", "keras_cv", "keras_nlp",
];

/// Modules any reference into is dangerous: code, commands, native code, network, files,
/// deserialization, interpreter internals.
#[rustfmt::skip]
const CRITICAL_ROOTS: &[&str] = &[
    "os", "posix", "nt", "posixpath", "ntpath", "subprocess", "_posixsubprocess", "sys",
    "importlib", "imp", "pty", "runpy", "code", "codeop", "ctypes", "_ctypes", "cffi", "pickle",
    "_pickle", "cPickle", "marshal", "dill", "cloudpickle", "joblib", "shelve", "multiprocessing",
    "asyncio", "concurrent", "threading", "_thread", "pdb", "bdb", "timeit", "cProfile", "profile",
    "trace", "pydoc", "pkgutil", "zipimport", "commands", "types", "inspect", "builtins",
    "__builtin__", "socket", "_socket", "ssl", "urllib", "urllib2", "urllib3", "http", "httplib",
    "requests", "httpx", "aiohttp", "ftplib", "smtplib", "telnetlib", "xmlrpc", "webbrowser",
    "shutil", "tempfile", "io", "_io", "pathlib", "platform", "signal", "gc", "pip", "setuptools",
    "distutils", "ensurepip",
];

/// Standard-library modules with nothing a loader could misuse (pure math and data types).
#[rustfmt::skip]
const HARMLESS_STDLIB: &[&str] = &[
    "math", "cmath", "numbers", "decimal", "fractions", "statistics", "string", "collections",
    "enum", "dataclasses", "typing", "abc", "copy", "itertools", "functools", "operator", "random",
    "re", "json", "datetime", "warnings",
];

/// Python's standard-library top-level modules (`sys.stdlib_module_names`, public ones), sorted.
#[rustfmt::skip]
const STDLIB: &[&str] = &[
    "__future__", "_ctypes", "_frozen_importlib", "_imp", "_io", "_osx_support", "_pickle",
    "_posixsubprocess", "_socket", "_ssl", "_thread", "_winapi", "abc", "aifc", "antigravity",
    "argparse", "array", "ast", "asynchat", "asyncio", "asyncore", "atexit", "audioop", "base64",
    "bdb", "binascii", "bisect", "builtins", "bz2", "cProfile", "calendar", "cgi", "cgitb", "chunk",
    "cmath", "cmd", "code", "codecs", "codeop", "collections", "colorsys", "compileall",
    "concurrent", "configparser", "contextlib", "contextvars", "copy", "copyreg", "crypt", "csv",
    "ctypes", "curses", "dataclasses", "datetime", "dbm", "decimal", "difflib", "dis", "distutils",
    "doctest", "email", "encodings", "ensurepip", "enum", "errno", "faulthandler", "fcntl",
    "filecmp", "fileinput", "fnmatch", "fractions", "ftplib", "functools", "gc", "genericpath",
    "getopt", "getpass", "gettext", "glob", "graphlib", "grp", "gzip", "hashlib", "heapq", "hmac",
    "html", "http", "idlelib", "imaplib", "imghdr", "imp", "importlib", "inspect", "io",
    "ipaddress", "itertools", "json", "keyword", "lib2to3", "linecache", "locale", "logging",
    "lzma", "mailbox", "mailcap", "marshal", "math", "mimetypes", "mmap", "modulefinder", "msilib",
    "msvcrt", "multiprocessing", "netrc", "nis", "nntplib", "nt", "ntpath", "nturl2path", "numbers",
    "opcode", "operator", "optparse", "os", "ossaudiodev", "pathlib", "pdb", "pickle",
    "pickletools", "pipes", "pkgutil", "platform", "plistlib", "poplib", "posix", "posixpath",
    "pprint", "profile", "pstats", "pty", "pwd", "py_compile", "pyclbr", "pydoc", "pydoc_data",
    "pyexpat", "queue", "quopri", "random", "re", "readline", "reprlib", "resource", "rlcompleter",
    "runpy", "sched", "secrets", "select", "selectors", "shelve", "shlex", "shutil", "signal",
    "site", "smtpd", "smtplib", "sndhdr", "socket", "socketserver", "spwd", "sqlite3",
    "sre_compile", "sre_constants", "sre_parse", "ssl", "stat", "statistics", "string",
    "stringprep", "struct", "subprocess", "sunau", "symtable", "sys", "sysconfig", "syslog",
    "tabnanny", "tarfile", "telnetlib", "tempfile", "termios", "textwrap", "this", "threading",
    "time", "timeit", "tkinter", "token", "tokenize", "tomllib", "trace", "traceback",
    "tracemalloc", "tty", "turtle", "turtledemo", "types", "typing", "unicodedata", "unittest",
    "urllib", "uu", "uuid", "venv", "warnings", "wave", "weakref", "webbrowser", "winreg",
    "winsound", "wsgiref", "xdrlib", "xml", "xmlrpc", "zipapp", "zipfile", "zipimport", "zlib",
    "zoneinfo",
];

/// Python's builtin functions and constants (`dir(builtins)` less the exception classes).
#[rustfmt::skip]
const PY_BUILTINS: &[&str] = &[
    "__build_class__", "__import__", "__loader__", "__spec__", "abs", "aiter", "all", "anext",
    "any", "ascii", "bin", "bool", "breakpoint", "bytearray", "bytes", "callable", "chr",
    "classmethod", "compile", "complex", "copyright", "credits", "delattr", "dict", "dir", "divmod",
    "enumerate", "eval", "exec", "execfile", "exit", "filter", "float", "format", "frozenset",
    "getattr", "globals", "hasattr", "hash", "help", "hex", "id", "input", "int", "isinstance",
    "issubclass", "iter", "len", "license", "list", "locals", "map", "max", "memoryview", "min",
    "next", "object", "oct", "open", "ord", "pow", "print", "property", "quit", "range",
    "raw_input", "reload", "repr", "reversed", "round", "set", "setattr", "slice", "sorted",
    "staticmethod", "str", "sum", "super", "tuple", "type", "unicode", "vars", "zip",
];

/// Names in Lambda bytecode that are dangerous wherever they appear (besides dunders and the
/// `spawn*`/`execv*`/`execl*`/`popen*` prefixes).
#[rustfmt::skip]
const DANGEROUS_NAMES: &[&str] = &[
    "os", "posix", "nt", "subprocess", "system", "popen", "Popen", "fork", "forkpty", "kill",
    "killpg", "eval", "exec", "execfile", "compile", "import_module", "importlib", "imp", "reload",
    "getattr", "setattr", "delattr", "hasattr", "globals", "locals", "vars", "builtins",
    "breakpoint", "input", "raw_input", "exit", "quit", "open", "file", "socket",
    "create_connection", "urllib", "urllib2", "urllib3", "urlopen", "urlretrieve", "request",
    "requests", "http", "httplib", "ftplib", "smtplib", "telnetlib", "webbrowser", "pickle",
    "cPickle", "dill", "cloudpickle", "marshal", "shelve", "joblib", "loads", "ctypes", "cffi",
    "CDLL", "PyDLL", "WinDLL", "LoadLibrary", "dlopen", "load_library", "load_op_library", "sys",
    "modules", "runpy", "pty", "pdb", "code", "interact", "platform", "shutil", "rmtree", "remove",
    "unlink", "rmdir", "removedirs", "rename", "chmod", "chown", "environ", "getenv", "putenv",
    "tempfile", "pathlib", "Path", "FileIO", "read_file", "write_file", "gfile", "GFile",
    "get_file", "py_function", "numpy_function", "py_func", "eager_py_func", "func_load",
    "enable_unsafe_deserialization", "load_model", "types", "FunctionType", "CodeType",
    "LambdaType", "MethodType", "inspect", "gc", "get_objects", "base64", "b64decode", "b32decode",
    "b16decode", "a2b_base64", "zlib", "decompress", "codecs", "fromhex", "unhexlify", "threading",
    "Thread", "multiprocessing", "Process", "asyncio", "operator", "attrgetter",
    "methodcaller", "functools", "pip", "setuptools", "getoutput", "getstatusoutput", "startfile",
    "system_profile", "memoryview", "matching_files", "check_output", "check_call", "run_path",
    "run_module",
];

/// Names of tensor-math functions, modules and tensor methods that benign Lambda code uses
/// (TensorFlow, the Keras backend and `keras.ops`, NumPy, `math`). Anything else is unrecognised.
#[rustfmt::skip]
const MATH_NAMES: &[&str] = &[
    // Modules and namespaces.
    "tf", "tensorflow", "keras", "K", "backend", "ops", "math", "np", "numpy", "jnp", "jax", "nn",
    "linalg", "image", "signal", "random", "layers", "activations", "dtypes", "experimental",
    "compat", "v1", "v2", "bitwise", "sparse", "ragged", "strings", "applications",
    // Python builtins that are plain values.
    "len", "range", "int", "float", "bool", "abs", "min", "max", "sum", "round", "tuple", "list",
    "slice", "zip", "enumerate", "isinstance", "map", "reversed", "sorted", "pow", "divmod",
    "print", "None", "True", "False",
    // Tensor attributes and methods.
    "shape", "dtype", "ndim", "T", "get_shape", "as_list", "set_shape", "numpy", "astype", "value",
    "values", "rank", "size", "item",
    // Elementwise and reductions.
    "add", "subtract", "multiply", "divide", "truediv", "floordiv", "mod", "negative", "square",
    "sqrt", "rsqrt", "exp", "expm1", "log", "log1p", "log2", "log10", "pow", "power", "sign",
    "round", "floor", "ceil", "clip", "clip_by_value", "clip_by_norm", "maximum", "minimum", "abs",
    "absolute", "reciprocal", "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh",
    "tanh", "arcsin", "arccos", "arctan", "arctan2", "erf", "erfc", "sigmoid", "softmax",
    "log_softmax", "softplus", "softsign", "relu", "relu6", "elu", "selu", "gelu", "swish", "silu",
    "leaky_relu", "hard_sigmoid", "hard_swish", "mish", "reduce_sum", "reduce_mean", "reduce_max",
    "reduce_min", "reduce_prod", "reduce_std", "reduce_variance", "reduce_logsumexp", "reduce_any",
    "reduce_all", "mean", "std", "var", "variance", "prod", "logsumexp", "cumsum", "cumprod",
    "argmax", "argmin", "argsort", "sort", "top_k", "l2_normalize", "normalize", "norm", "moments",
    "batch_normalization", "equal", "not_equal", "greater", "greater_equal", "less", "less_equal",
    "logical_and", "logical_or", "logical_not", "logical_xor", "where", "is_nan", "is_inf",
    "is_finite", "isnan", "isinf", "isfinite", "cast", "to_float", "to_int32", "floatx", "epsilon",
    "constant", "convert_to_tensor", "identity", "stop_gradient", "zeros", "ones", "zeros_like",
    "ones_like", "fill", "eye", "linspace", "arange", "one_hot", "sequence_mask", "float16",
    "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64", "uint8", "bool_",
    // Shapes and indexing.
    "reshape", "expand_dims", "squeeze", "transpose", "permute_dimensions", "flatten",
    "batch_flatten", "concat", "concatenate", "stack", "unstack", "split", "tile", "repeat",
    "repeat_elements", "gather", "gather_nd", "boolean_mask", "pad", "reverse", "flip", "roll",
    "slice", "strided_slice", "int_shape", "shape_n", "broadcast_to", "space_to_depth",
    "depth_to_space", "space_to_batch", "batch_to_space", "einsum", "matmul", "dot", "batch_dot",
    "tensordot", "outer", "cross", "diag", "diag_part", "trace", "triu", "tril", "band_part",
    "segment_sum", "unsorted_segment_sum", "bincount", "unique", "meshgrid",
    // Random numbers, images, signals.
    "random_normal", "random_uniform", "normal", "uniform", "truncated_normal", "resize",
    "resize_images", "resize_bilinear", "resize_nearest_neighbor", "crop_to_bounding_box",
    "pad_to_bounding_box", "central_crop", "rgb_to_grayscale", "grayscale_to_rgb",
    "extract_patches", "per_image_standardization", "fft", "ifft", "rfft", "irfft", "fft2d", "stft",
    "conv1d", "conv2d", "conv2d_transpose", "depthwise_conv2d", "max_pool", "avg_pool", "pool",
    "dropout", "moving_average", "preprocess_input", "in_train_phase", "learning_phase", "switch",
    "any", "all", "image_data_format", "spatial_2d_padding", "ctc_batch_cost", "ctc_decode",
    "ctc_label_dense_to_sparse", "bias_add", "pool2d", "pool3d", "ResizeMethod", "BILINEAR",
    "NEAREST_NEIGHBOR", "BICUBIC", "AREA", "embedding_lookup", "tensor_scatter_nd_update",
    "scatter_nd", "frame", "divide_no_nan", "reduce_euclidean_norm", "avg_pool1d", "avg_pool2d",
    "avg_pool3d", "max_pool1d", "max_pool2d", "max_pool3d", "newaxis", "squared_difference",
    "l2_loss", "complex", "real", "imag", "angle", "conj", "pi", "e", "inf", "nan", "array",
    "asarray", "take", "take_along_axis", "cond", "full", "full_like", "swapaxes", "moveaxis",
    "vstack", "hstack", "average", "median", "nonzero", "count_nonzero", "map_fn", "vectorized_map",
    "to_dense", "sigmoid_cross_entropy_with_logits", "softmax_cross_entropy_with_logits",
    "categorical_crossentropy", "binary_crossentropy", "sparse_categorical_crossentropy",
    "mean_squared_error", "local_response_normalization", "lrn", "crop_and_resize", "rot90",
    "flip_left_right", "flip_up_down", "executing_eagerly", "check_numerics", "debugging", "io",
    "decode_jpeg", "decode_png", "decode_image", "decode_raw", "decode_base64", "parse_tensor",
    "serialize_tensor", "encode_jpeg", "encode_png", "convert_image_dtype", "mobilenet",
    "mobilenet_v2", "mobilenet_v3", "resnet", "resnet50", "resnet_v2", "vgg16", "vgg19",
    "inception_v3", "inception_resnet_v2", "xception", "densenet", "efficientnet",
    "efficientnet_v2", "nasnet", "convnext", "imagenet_utils", "count_params",
    // tf.strings, tf.signal and tf.image functions (`signal` here is TensorFlow's namespace: a
    // Lambda reaches Python's signal module only through `__import__`, `globals` or `sys`, which
    // are flagged).
    "lower", "upper", "regex_replace", "regex_full_match", "strip", "length", "substr", "join",
    "reduce_join", "to_number", "as_string", "unicode_split", "unicode_decode", "bytes_split",
    "string_to_hash_bucket_fast", "ngrams", "inverse_stft", "hann_window", "hamming_window",
    "linear_to_mel_weight_matrix", "mfccs_from_log_mel_spectrograms", "dct", "idct",
    "adjust_brightness", "adjust_contrast", "adjust_saturation", "adjust_hue", "adjust_gamma",
    "resize_with_pad", "resize_with_crop_or_pad", "sobel_edges", "image_gradients",
    "total_variation", "rgb_to_hsv", "hsv_to_rgb", "rgb_to_yuv", "yuv_to_rgb", "segment_mean",
    "segment_max", "unsorted_segment_mean", "unsorted_segment_max", "lgamma", "digamma",
    "in_top_k", "ensure_shape", "from_tensor", "to_tensor", "RaggedTensor", "affine_transform",
    "dynamic_partition", "dynamic_stitch", "tensor_scatter_nd_add", "tensor_scatter_nd_sub",
    "tensor_scatter_nd_max", "tensor_scatter_nd_min", "random_flip_left_right",
    "random_flip_up_down", "random_brightness", "random_contrast", "random_crop",
    "random_saturation", "random_hue", "ctc_loss", "ctc_greedy_decoder", "ctc_beam_search_decoder",
    "floormod", "truncatediv", "truncatemod", "preprocessing", "img_to_array", "sequence",
    "pad_sequences", "nest", "map_structure", "searchsorted", "histogram_fixed_width", "xlogy",
    "clip_by_global_norm", "inv", "det", "cholesky", "svd", "qr", "eigh", "solve", "lstsq", "pinv",
    "logdet", "matrix_transpose", "adjoint", "matrix_inverse", "matrix_determinant",
];

/// Class names Keras itself defines (layers, models, optimizers, losses, metrics, initializers,
/// regularizers, constraints, schedules, dtype policies): legacy configs name them bare.
#[rustfmt::skip]
const KNOWN_CLASSES: &[&str] = &[
    "Activation", "ActivityRegularization", "Add", "AdditiveAttention", "AlphaDropout", "Attention",
    "Average", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "AvgPool1D", "AvgPool2D",
    "AvgPool3D", "BatchNormalization", "Bidirectional", "CategoryEncoding", "CenterCrop",
    "Concatenate", "Conv1D", "Conv1DTranspose", "Conv2D", "Conv2DTranspose", "Conv3D",
    "Conv3DTranspose", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "Convolution1D", "Convolution2D",
    "Convolution3D", "Cropping1D", "Cropping2D", "Cropping3D", "CuDNNGRU", "CuDNNLSTM", "Dense",
    "DenseFeatures", "DepthwiseConv1D", "DepthwiseConv2D", "Discretization", "Dot", "Dropout",
    "ELU", "EinsumDense", "Embedding", "Flatten", "Functional", "GRU", "GRUCell", "GaussianDropout",
    "GaussianNoise", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D", "GlobalMaxPool1D", "GlobalMaxPool2D",
    "GlobalMaxPool3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
    "GroupNormalization", "GroupQueryAttention", "HashedCrossing", "Hashing", "Identity",
    "InputLayer", "InputSpec", "IntegerLookup", "LSTM", "LSTMCell", "Lambda", "LayerNormalization",
    "LeakyReLU", "LocallyConnected1D", "LocallyConnected2D", "Masking", "MaxPool1D", "MaxPool2D",
    "MaxPool3D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "Maximum", "Minimum", "Model",
    "MultiHeadAttention", "Multiply", "Normalization", "PReLU", "Permute", "RNN",
    "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip", "RandomHeight",
    "RandomRotation", "RandomTranslation", "RandomWidth", "RandomZoom", "ReLU", "RepeatVector",
    "Rescaling", "Reshape", "Resizing", "SeparableConv1D", "SeparableConv2D",
    "SeparableConvolution1D", "SeparableConvolution2D", "Sequential", "SimpleRNN", "SimpleRNNCell",
    "SlicingOpLambda", "Softmax", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
    "StackedRNNCells", "StringLookup", "Subtract", "TFOpLambda", "TextVectorization",
    "ThresholdedReLU", "TimeDistributed", "UnitNormalization", "UpSampling1D", "UpSampling2D",
    "UpSampling3D", "Wrapper", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "TFSMLayer",
    "AutoContrast", "MelSpectrogram", "SpectralNormalization", "RMSNormalization", "Pipeline",
    "RandomGrayscale", "RandomColorJitter", "Solarization",
    // Optimizers and schedules.
    "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "Ftrl", "Lamb", "Lion",
    "LossScaleOptimizer", "Nadam", "Optimizer", "RMSprop", "SGD", "CosineDecay",
    "CosineDecayRestarts", "ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay",
    "PolynomialDecay", "LearningRateSchedule",
    // Initializers, regularizers, constraints.
    "Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "IdentityInitializer",
    "LecunNormal", "LecunUniform", "Ones", "Orthogonal", "OrthogonalInitializer", "RandomNormal",
    "RandomUniform", "TruncatedNormal", "VarianceScaling", "Zeros", "L1", "L1L2", "L2",
    "OrthogonalRegularizer", "MaxNorm", "MinMaxNorm", "NonNeg", "RadialConstraint", "UnitNorm",
    // Losses and metrics.
    "BinaryCrossentropy", "BinaryFocalCrossentropy", "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy", "CategoricalHinge", "CosineSimilarity", "Dice", "Hinge",
    "Huber", "KLDivergence", "LogCosh", "MeanAbsoluteError", "MeanAbsolutePercentageError",
    "MeanSquaredError", "MeanSquaredLogarithmicError", "Poisson", "SparseCategoricalCrossentropy",
    "SquaredHinge", "Tversky", "CTC", "AUC", "Accuracy", "BinaryAccuracy", "BinaryIoU",
    "CategoricalAccuracy", "F1Score", "FBetaScore", "FalseNegatives", "FalsePositives", "IoU",
    "Mean", "MeanIoU", "MeanMetricWrapper", "MeanTensor", "OneHotIoU", "OneHotMeanIoU", "Precision",
    "PrecisionAtRecall", "R2Score", "Recall", "RecallAtPrecision", "RootMeanSquaredError",
    "SensitivityAtSpecificity", "SparseCategoricalAccuracy", "SparseTopKCategoricalAccuracy",
    "SpecificityAtSensitivity", "Sum", "TopKCategoricalAccuracy", "TrueNegatives", "TruePositives",
    "LossFunctionWrapper",
    // Dtype policies and other serialized helpers.
    "DTypePolicy", "FloatDTypePolicy", "QuantizedDTypePolicy", "QuantizedFloat8DTypePolicy",
    "DTypePolicyMap", "Policy", "TensorShape", "TensorSpec", "RaggedTensorSpec", "SparseTensorSpec",
    "TypeSpec", "KerasTensor", "Node", "Operation",
];

#[cfg(test)]
mod tests;
