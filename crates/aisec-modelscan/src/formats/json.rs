//! JSON documents found among model files: Keras configs (`config.json` inside `.keras` archives)
//! go to the Keras analyser, Hugging Face files (`config.json`, `*.index.json`,
//! `tokenizer_config.json`) to the repository analyser; other JSON is not a model format.

use super::outcome::{Env, Outcome};
use super::{hfrepo, keras};

/// Largest JSON document parsed (model configs are kilobytes; tokenizer files a few megabytes).
const MAX_JSON_BYTES: usize = 64 << 20;

/// True when `data` looks like a JSON object: `{` … `}` around optional whitespace (and BOM).
pub(crate) fn detect(data: &[u8]) -> bool {
    bracketed(data, b'{', b'}')
}

/// True when `data` is shaped like a JSON array (`[` … `]`).
pub(crate) fn detect_array(data: &[u8]) -> bool {
    bracketed(data, b'[', b']')
}

/// `open` … `close` around optional whitespace, after an optional UTF-8 BOM.
fn bracketed(data: &[u8], open: u8, close: u8) -> bool {
    let d = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    let first = d.iter().position(|b| !b.is_ascii_whitespace());
    let last = d.iter().rposition(|b| !b.is_ascii_whitespace());
    matches!((first, last), (Some(f), Some(l)) if f < l && d[f] == open && d[l] == close)
}

/// `s` with the bare tokens `NaN`, `Infinity` and `-Infinity` (outside strings) replaced by `null`,
/// or `None` when there are none.
pub(crate) fn nonfinite_to_null(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let (mut i, mut last, mut in_str, mut changed) = (0usize, 0usize, false, false);
    while i < b.len() {
        if in_str {
            match b[i] {
                b'\\' => i += 1,
                b'"' => in_str = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        let token = [&b"-Infinity"[..], b"Infinity", b"NaN"]
            .into_iter()
            .find(|t| b[i..].starts_with(t));
        if let Some(t) = token {
            out.push_str(&s[last..i]);
            out.push_str("null");
            i += t.len();
            last = i;
            changed = true;
            continue;
        }
        if b[i] == b'"' {
            in_str = true;
        }
        i += 1;
    }
    out.push_str(&s[last..]);
    changed.then_some(out)
}

/// Parses JSON as Python's `json` module reads it: strict JSON, or failing that with the non-finite
/// floats it writes (`NaN`, `Infinity`, `-Infinity`) read as `null`. Keras writes configs with
/// Python's `json`, so a config holding them is one Keras loads.
pub(crate) fn parse_python_json(s: &str) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::from_str(s).or_else(|e| {
        nonfinite_to_null(s)
            .and_then(|t| serde_json::from_str(&t).ok())
            .ok_or(e)
    })
}

/// Parses the document and hands it to the analyser that knows it.
pub(crate) fn analyse<'d>(data: &'d [u8], env: &Env<'_>) -> Outcome<'d> {
    let d = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    if d.len() > MAX_JSON_BYTES {
        let mut out = Outcome::new("json");
        out.not_analysed(format!(
            "JSON document of {} bytes is larger than the {MAX_JSON_BYTES}-byte limit",
            d.len()
        ));
        return out;
    }
    // serde_json bounds nesting at 128 levels, so a deep document is an error, not a stack overflow.
    let doc: serde_json::Value = match std::str::from_utf8(d)
        .map_err(|e| e.to_string())
        .and_then(|s| parse_python_json(s).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            let mut out = Outcome::new("json");
            out.skip(format!("not valid JSON: {e}"));
            return out;
        }
    };
    if keras::is_config(&doc) {
        let mut out = Outcome::new("keras-config");
        keras::analyse_config(&doc, env.name, &mut out);
        return out;
    }
    let mut out = Outcome::new("json");
    let hf = hfrepo::analyse_json(&doc, env, &mut out);
    if keras::has_config_shape(&doc) {
        // Hugging Face keys next to `class_name` and `config`: a Keras loader ignores them and
        // still rebuilds the model, so the Keras analysis runs as well.
        if !hf {
            out.format = "keras-config".into();
        }
        keras::analyse_config(&doc, env.name, &mut out);
    } else if !hf {
        out.skip("JSON that no model loader reads as code or configuration");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_objects_only() {
        assert!(detect(b" {\"a\": 1}\n"));
        assert!(detect(b"\xef\xbb\xbf{}"));
        assert!(!detect(b"[1]"));
        assert!(!detect(b"{"));
        assert!(!detect(b""));
        assert!(detect_array(b" [{\"type\": \"x\"}]\n"));
        assert!(!detect_array(b"[1"));
        assert!(!detect_array(b"{}"));
    }

    #[test]
    fn python_json_non_finite_floats_parse() {
        let v = parse_python_json(r#"{"a": NaN, "b": [-Infinity, Infinity], "c": "NaN"}"#).unwrap();
        assert_eq!(v["a"], serde_json::Value::Null);
        assert_eq!(v["b"][0], serde_json::Value::Null);
        assert_eq!(v["c"], "NaN");
        assert!(parse_python_json("{\"a\": Nope}").is_err());
    }

    #[test]
    fn hugging_face_keys_do_not_hide_a_keras_config() {
        let doc = br#"{"model_type": "bert", "architectures": ["X"], "class_name": "Sequential",
            "config": {"layers": [{"module": "os", "class_name": "function", "config": "system",
            "registered_name": null}]}}"#;
        let env = Env {
            name: "config.json",
            disk_path: None,
        };
        let out = analyse(doc, &env);
        assert!(
            out.issues
                .iter()
                .any(|i| i.rule == "MS310" && i.severity == Some(aisec_core::Severity::Critical)),
            "{:?}",
            out.issues
        );
    }
}
