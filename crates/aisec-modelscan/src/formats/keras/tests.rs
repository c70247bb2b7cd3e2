use super::*;
use crate::formats::marshal::tests::{
    PY2_EVAL, PY30_MATH, PY38_MATH, PY38_NESTED, PY311_OS, PY311_TIMES2, PY312_MATH, hex,
};

fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

fn code(h: &str) -> String {
    b64(&hex(h))
}

fn run(doc: &Value) -> Vec<(&'static str, Severity)> {
    let mut out = Outcome::new("keras-config");
    analyse_config(doc, "config.json", &mut out);
    assert!(out.not_analysed.is_none(), "{:?}", out.not_analysed);
    out.issues
        .iter()
        .map(|i| (i.rule, i.severity.unwrap_or(Severity::Info)))
        .collect()
}

fn keras3_lambda(code: &str) -> Value {
    json!({"module": "keras.layers", "class_name": "Lambda", "config": {"name": "lam",
        "function": {"class_name": "__lambda__", "config": {"code": code, "defaults": null, "closure": null}},
        "output_shape": [3], "arguments": {}}, "registered_name": null})
}

fn sequential(layers: &[Value]) -> Value {
    json!({"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": layers},
        "registered_name": null})
}

fn legacy_lambda(function: &Value, ftype: &str, module: Option<&str>) -> Value {
    json!({"class_name": "Lambda", "config": {"name": "lam", "function": function,
        "function_type": ftype, "module": module, "output_shape": null, "output_shape_type": "raw",
        "output_shape_module": null, "arguments": {}}})
}

#[test]
fn claims_keras_not_hugging_face() {
    assert!(is_config(&sequential(&[])));
    assert!(is_config(
        &json!({"class_name": "Model", "config": {}, "keras_version": "2.4.0"})
    ));
    assert!(!is_config(
        &json!({"architectures": ["Bert"], "model_type": "bert"})
    ));
    assert!(!is_config(
        &json!({"class_name": "X", "config": {}, "model_type": "bert"})
    ));
    assert!(!is_config(&json!({"_class_name": "UNet2DConditionModel"})));
    assert!(!is_config(&json!({"class_name": 3, "config": {}})));
    assert!(!is_config(&json!([1])));
}

#[test]
fn benign_keras3_model_is_quiet() {
    let doc = sequential(&[
        json!({"module": "keras.layers", "class_name": "Dense", "config": {"name": "d", "activation": "relu",
            "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {}}},
            "registered_name": null}),
        keras3_lambda(&code(PY311_TIMES2)),
    ]);
    assert_eq!(run(&doc), [("MS303", Severity::Low)]);
}

#[test]
fn keras3_lambda_with_os_system_is_critical() {
    let doc = sequential(&[keras3_lambda(&code(PY311_OS))]);
    assert_eq!(run(&doc), [("MS300", Severity::Critical)]);
    let mut out = Outcome::new("k");
    analyse_config(&doc, "config.json", &mut out);
    let ev = &out.issues[0].evidence;
    assert_eq!(ev["python"], "3.11+");
    assert!(
        ev["strings"]
            .as_array()
            .unwrap()
            .contains(&json!("echo aisec-fixture"))
    );
    assert_eq!(ev["layer"], "lam");
}

#[test]
fn generic_lambda_value_form_and_output_shape() {
    let doc = json!({"class_name": "Lambda", "module": "keras.layers", "config": {"name": "l",
        "function": {"module": "keras.ops", "class_name": "function", "config": "relu"},
        "output_shape": {"class_name": "__lambda__", "config": {"value": [code(PY311_OS), null, null]}}}});
    assert_eq!(run(&doc), [("MS300", Severity::Critical)]);
}

#[test]
fn every_python_layout_is_judged() {
    for h in [
        PY30_MATH,
        PY38_MATH,
        PY312_MATH,
        crate::formats::marshal::tests::PY2_MATH,
    ] {
        assert_eq!(
            run(&keras3_lambda(&code(h))),
            [("MS303", Severity::Low)],
            "{h}"
        );
    }
    assert_eq!(
        run(&keras3_lambda(&code(PY2_EVAL))),
        [("MS300", Severity::Critical)]
    );
    // A harmless-looking lambda that defines a nested function calling os.system.
    assert_eq!(
        run(&keras3_lambda(&code(PY38_NESTED))),
        [("MS300", Severity::Critical)]
    );
}

#[test]
fn legacy_lambdas_nested_in_wrappers() {
    let inner = legacy_lambda(
        &json!([code(PY311_OS), null, null]),
        "lambda",
        Some("__main__"),
    );
    let doc = json!({"class_name": "Model", "config": {"name": "m", "layers": [
        {"class_name": "TimeDistributed", "config": {"name": "td", "layer": {"class_name": "Bidirectional",
            "config": {"name": "bi", "layer": {"class_name": "RNN", "config": {"name": "r", "cell": {
                "class_name": "StackedRNNCells", "config": {"cells": [inner]}}}}}}}}
    ]}, "keras_version": "2.4.0", "backend": "tensorflow"});
    assert_eq!(run(&doc), [("MS300", Severity::Critical)]);
    // A code string alone (no list) also counts.
    let doc = legacy_lambda(&json!(code(PY38_MATH)), "lambda", Some("__main__"));
    assert_eq!(run(&doc), [("MS303", Severity::Low)]);
}

#[test]
fn legacy_lambda_in_a_dangerous_module() {
    // Names resolve in the module's globals: `reduce_mean` in module `os` is not arithmetic, and
    // `helper` is unknown anywhere.
    let doc = legacy_lambda(&json!(code(PY38_MATH)), "lambda", Some("os"));
    assert_eq!(run(&doc), [("MS303", Severity::Low)]);
    let nested = legacy_lambda(&json!(code(PY38_NESTED)), "lambda", Some("posix"));
    assert_eq!(run(&nested), [("MS300", Severity::Critical)]);
}

#[test]
fn undecodable_code_is_high() {
    for f in [
        json!("not marshal at all"),
        json!(["@@@@", null, null]),
        json!(42),
    ] {
        assert_eq!(
            run(&legacy_lambda(&f, "lambda", None)),
            [("MS302", Severity::High)]
        );
    }
    assert_eq!(
        run(&json!({"class_name": "__lambda__", "config": {}})),
        [("MS302", Severity::High)]
    );
    assert_eq!(run(&keras3_lambda("")), [("MS302", Severity::High)]);
}

#[test]
fn raw_unicode_escape_code_is_decoded() {
    // Keras falls back to the string's raw_unicode_escape bytes when it is not base64.
    let raw: String = hex(PY38_NESTED).iter().map(|&b| char::from(b)).collect();
    assert!(!raw.is_ascii());
    assert_eq!(
        run(&legacy_lambda(&json!(raw), "lambda", None)),
        [("MS300", Severity::Critical)]
    );
}

#[test]
fn module_references() {
    let r = |module: &str, cls: &str, config: Value| {
        run(
            &json!({"module": module, "class_name": cls, "config": config, "registered_name": null}),
        )
    };
    assert_eq!(
        r("os", "function", json!("system")),
        [("MS310", Severity::Critical)]
    );
    assert_eq!(
        r("builtins", "function", json!("exec")),
        [("MS310", Severity::Critical)]
    );
    assert_eq!(
        r("subprocess", "Popen", json!({})),
        [("MS310", Severity::Critical)]
    );
    assert_eq!(
        r("posix", "function", json!("getcwd")),
        [("MS310", Severity::Critical)]
    );
    assert_eq!(
        r("webbrowser", "function", json!("open")),
        [("MS310", Severity::Critical)]
    );
    assert_eq!(
        r("antigravity", "function", json!("geohash")),
        [("MS311", Severity::High)]
    );
    assert_eq!(
        r("builtins", "function", json!("print")),
        [("MS311", Severity::High)]
    );
    assert_eq!(
        r("keras.utils", "function", json!("get_file")),
        [("MS310", Severity::High)]
    );
    assert_eq!(
        r(
            "keras.config",
            "function",
            json!("enable_unsafe_deserialization")
        ),
        [("MS310", Severity::Critical)]
    );
    assert_eq!(
        r("tensorflow", "function", json!("py_function")),
        [("MS310", Severity::Critical)]
    );
    // Keras' own objects and names Keras resolves under `builtins` are fine.
    assert!(r("keras.losses", "function", json!("mean_squared_error")).is_empty());
    assert!(r("builtins", "function", json!("acc")).is_empty());
    assert!(r("keras.layers", "Dense", json!({})).is_empty());
    // User code is a custom object.
    assert_eq!(
        r("__main__", "MyLayer", json!({})),
        [("MS312", Severity::Low)]
    );
    assert_eq!(
        r("math", "function", json!("tanh")),
        [("MS312", Severity::Low)]
    );
}

#[test]
fn compile_config_references() {
    let doc = json!({"module": "keras", "class_name": "Functional", "config": {"name": "f", "layers": []},
        "compile_config": {"loss": {"module": "builtins", "class_name": "function", "config": "eval",
        "registered_name": "eval"}, "metrics": [{"module": "subprocess", "class_name": "function",
        "config": "check_output", "registered_name": null}], "optimizer": "adam"}});
    let got = run(&doc);
    assert_eq!(
        got,
        [("MS310", Severity::Critical), ("MS310", Severity::Critical)]
    );
}

#[test]
fn legacy_function_references_and_tf_ops() {
    let doc = legacy_lambda(&json!("system"), "function", Some("os"));
    assert_eq!(run(&doc), [("MS310", Severity::Critical)]);
    assert!(
        run(&legacy_lambda(
            &json!("relu"),
            "function",
            Some("keras.activations")
        ))
        .is_empty()
    );
    let op =
        |f: &str| run(&json!({"class_name": "TFOpLambda", "config": {"name": "t", "function": f}}));
    assert_eq!(op("io.write_file"), [("MS310", Severity::High)]);
    assert_eq!(op("numpy_function"), [("MS310", Severity::Critical)]);
    assert!(op("math.add").is_empty());
    assert!(op("__operators__.getitem").is_empty());
    for f in [
        "compat.v1.saved_model.load",
        "data.TextLineDataset",
        "data.Dataset.list_files",
        "data.experimental.load",
        "lookup.TextFileInitializer",
        "io.TFRecordWriter",
        "train.load_checkpoint",
    ] {
        assert_eq!(op(f), [("MS310", Severity::High)], "{f}");
    }
    assert_eq!(
        op("config.experimental_connect_to_host"),
        [("MS310", Severity::High)]
    );
    assert_eq!(
        op("distribute.experimental.rpc.Client.create"),
        [("MS310", Severity::High)]
    );
    for f in [
        "nn.relu",
        "image.resize",
        "compat.v1.transpose",
        "data.Dataset.from_tensors",
    ] {
        assert!(op(f).is_empty(), "{f}");
    }
}

#[test]
fn custom_objects_are_low_and_deduplicated() {
    let layer = json!({"module": "my_pkg.layers", "class_name": "Block", "config": {"name": "b"},
        "registered_name": "my_pkg>Block"});
    let doc = sequential(&[
        layer.clone(),
        layer,
        json!({"class_name": "MyLegacyLayer", "config": {}}),
        json!({"class_name": "Addons>GroupNorm", "config": {}}),
    ]);
    let mut out = Outcome::new("k");
    analyse_config(&doc, "config.json", &mut out);
    let got: Vec<_> = out.issues.iter().map(|i| (i.rule, i.severity)).collect();
    assert_eq!(got, vec![("MS312", Some(Severity::Low)); 3]);
    assert_eq!(out.issues[0].evidence["count"], 2);
}

#[test]
fn loose_code_and_dangerous_strings() {
    // Code hidden under an unknown key of a custom layer is still found.
    let doc = json!({"class_name": "Dense", "config": {"name": "d", "extra": {"payload": code(PY311_OS)}}});
    assert_eq!(run(&doc), [("MS300", Severity::Critical)]);
    let doc = json!({"class_name": "Dense", "config": {"name": "d", "activation": "os.system"}});
    assert_eq!(run(&doc), [("MS310", Severity::High)]);
    // Dotted names of harmless things and ordinary text stay quiet.
    let doc = json!({"class_name": "Dense", "config": {"name": "block1.conv", "note": "tf.math.add",
        "text": "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo="}});
    assert!(run(&doc).is_empty());
}

#[test]
fn depth_and_size_bounds() {
    let mut v = json!("leaf");
    for _ in 0..(MAX_DEPTH + 10) {
        v = json!([v]);
    }
    let mut out = Outcome::new("k");
    analyse_config(&v, "x", &mut out);
    assert!(out.not_analysed.is_some());
    // Many distinct findings are capped, and the overflow is counted.
    let layers: Vec<Value> = (0..(MAX_FINDINGS + 5))
        .map(|i| json!({"module": format!("pkg{i}"), "class_name": "L", "config": {}}))
        .collect();
    let mut out = Outcome::new("k");
    analyse_config(&sequential(&layers), "x", &mut out);
    assert_eq!(out.issues.len(), MAX_FINDINGS);
    assert_eq!(
        out.issues[MAX_FINDINGS - 1].evidence["findings_not_listed"],
        5
    );
}

#[test]
fn fuzz_entry_never_panics() {
    for data in [
        &b"{}"[..],
        b"[",
        b"{\"class_name\": \"__lambda__\", \"config\": {\"code\": 1}}",
        b"\xff",
    ] {
        let _ = fuzz(data);
    }
}

#[test]
fn tensor_names_that_look_like_danger_stay_low() {
    // tf.executing_eagerly, tf.debugging.check_numerics, tf.io.decode_jpeg (3.8 layout).
    let benign = "e3010000000000000000000000010000000300000043000000730a0000007400006401008301005329014e29067a0274667a11657865637574696e675f65616765726c797a09646562756767696e677a0e636865636b5f6e756d65726963737a02696f7a0b6465636f64655f6a70656729017a0178a90072010000007a073c737464696e3e7a083c6c616d6264613e0100000073020000000001";
    assert_eq!(
        run(&keras3_lambda(&code(benign))),
        [("MS303", Severity::Low)]
    );
    // tf.io.gfile.GFile reads files.
    let files = "e3010000000000000000000000010000000300000043000000730a0000007400006401008301005329014e29047a0274667a02696f7a056766696c657a054746696c6529017a0178a90072010000007a073c737464696e3e7a083c6c616d6264613e0100000073020000000001";
    assert_eq!(
        run(&keras3_lambda(&code(files))),
        [("MS300", Severity::Critical)]
    );
}

fn lookup(vocab: &Value) -> Value {
    json!({"module": "keras.layers", "class_name": "StringLookup", "config": {"name": "lk",
        "vocabulary": vocab, "num_oov_indices": 1, "mask_token": null}, "registered_name": null})
}

#[test]
fn lookup_vocabulary_outside_the_archive_is_high() {
    for v in [
        "/etc/passwd",
        "gs://bucket/vocab.txt",
        "https://example.invalid/v.txt",
        "../../secrets.txt",
        "C:\\Windows\\win.ini",
        "~/.ssh/id_rsa",
    ] {
        let found = run(&sequential(&[lookup(&json!(v))]));
        assert_eq!(found, vec![("MS310", Severity::High)], "{v}");
    }
    // Older Keras wrote the relative name the user passed; inline lists and null are normal.
    for v in [json!("vocab.txt"), json!(["a", "b"]), Value::Null] {
        assert!(run(&sequential(&[lookup(&v)])).is_empty(), "{v}");
    }
}

#[test]
fn torch_module_wrapper_pickle_is_scanned_nested() {
    let layer = |m: &str| {
        json!({"module": "keras.layers", "class_name": "TorchModuleWrapper",
            "config": {"name": "tw", "module": m, "output_shape": null}, "registered_name": null})
    };
    let mut out = Outcome::new("keras-config");
    analyse_config(
        &sequential(&[layer(&b64(b"\x80\x02N."))]),
        "config.json",
        &mut out,
    );
    assert!(out.issues.is_empty());
    assert_eq!(out.nested.len(), 1);
    assert_eq!(&*out.nested[0].data, b"\x80\x02N.");
    let found = run(&sequential(&[layer("!!not base64!!")]));
    assert_eq!(found, vec![("MS310", Severity::High)]);
}

#[test]
fn tuple_wrapped_legacy_code_is_decoded() {
    // tf_keras' SavedModel metadata writes the `(code, defaults, closure)` tuple as `__tuple__`.
    let f = json!({"class_name": "__tuple__", "items": [code(PY311_TIMES2), null, null]});
    let found = run(&sequential(&[legacy_lambda(
        &f,
        "lambda",
        Some("__main__"),
    )]));
    assert_eq!(found, vec![("MS303", Severity::Low)]);
    let f = json!({"class_name": "__tuple__", "items": [code(PY311_OS), null, null]});
    let found = run(&sequential(&[legacy_lambda(
        &f,
        "lambda",
        Some("__main__"),
    )]));
    assert_eq!(found, vec![("MS300", Severity::Critical)]);
}

#[test]
fn tensorflow_namespaces_named_like_python_modules_stay_low() {
    // `tf.signal.stft(x)` and `tf.strings.lower(x)`: the names are TensorFlow's; Python's signal
    // module is reachable from a Lambda only through flagged names (`__import__`, `globals`, `sys`).
    for n in [
        "signal",
        "stft",
        "lower",
        "regex_replace",
        "dynamic_partition",
        "floormod",
    ] {
        assert!(!is_dangerous_name(n) && MATH_NAMES.contains(&n), "{n}");
    }
    assert!(is_dangerous_name("__import__"));
}

#[test]
fn tf_print_to_a_file_is_dangerous() {
    // Python 3.11: `lambda x: tf.print(x, output_stream='file:///tmp/aisec-fixture')`.
    const PRINT_FILE: &str = "e30100000000000000000000000400000003000000f33a0000009700740000000000000000000000a00100000000000000000000000000000000000000007c006401ac02a6020000ab020000000000000000530029034efa1966696c653a2f2f2f746d702f61697365632d666978747572652901da0d6f75747075745f73747265616d2902da027466da057072696e742901da0178730100000020fa083c737472696e673efa083c6c616d6264613e72080000000200000073170000008000ad72af78aa78b801d04964a878d12f65d42f658000f300000000";
    let found = run(&sequential(&[keras3_lambda(&code(PRINT_FILE))]));
    assert_eq!(found, vec![("MS300", Severity::Critical)]);
}
