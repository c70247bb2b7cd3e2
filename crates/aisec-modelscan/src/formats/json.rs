//! JSON documents found among model files: Keras configs (`config.json` inside `.keras` archives)
//! go to the Keras analyser, Hugging Face files (`config.json`, `*.index.json`,
//! `tokenizer_config.json`) to the repository analyser; other JSON is not a model format.

use super::outcome::{Env, Outcome};
use super::{hfrepo, keras};

/// Largest JSON document parsed (model configs are kilobytes; tokenizer files a few megabytes).
const MAX_JSON_BYTES: usize = 64 << 20;

/// True when `data` looks like a JSON object: `{` … `}` around optional whitespace (and BOM).
pub(crate) fn detect(data: &[u8]) -> bool {
    let d = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    let first = d.iter().position(|b| !b.is_ascii_whitespace());
    let last = d.iter().rposition(|b| !b.is_ascii_whitespace());
    matches!((first, last), (Some(f), Some(l)) if f < l && d[f] == b'{' && d[l] == b'}')
}

/// True when `data` is shaped like a JSON array (`[` … `]`).
pub(crate) fn detect_array(data: &[u8]) -> bool {
    let d = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    let first = d.iter().position(|b| !b.is_ascii_whitespace());
    let last = d.iter().rposition(|b| !b.is_ascii_whitespace());
    matches!((first, last), (Some(f), Some(l)) if f < l && d[f] == b'[' && d[l] == b']')
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
    let doc: serde_json::Value = match serde_json::from_slice(d) {
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
    if !hfrepo::analyse_json(&doc, env, &mut out) {
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
}
