//! SavedModels and GraphDefs in protobuf text format (`saved_model.pbtxt`, which TensorFlow loads
//! when `saved_model.pb` is absent). The text is not parsed into messages: every `op: "…"` field
//! (a `NodeDef`'s op, in graphs and function bodies alike) is read lexically, with the text
//! format's string rules (single or double quotes, C escapes, adjacent strings joined), and each op
//! is judged by what it does. Paths are not traced, so checkpoint ops (every saver has them) and
//! ops whose target is an attribute are not reported from text.

use std::collections::BTreeMap;

use serde_json::json;

use super::ops::{self, Effect};
use crate::formats::outcome::{Issue, Outcome};

/// Longest op name kept; longer strings are not op names.
const MAX_OP_CHARS: usize = 256;
/// Distinct ops reported.
const MAX_OPS: usize = 256;

/// True when `data` reads as a text-format SavedModel or GraphDef: UTF-8 text whose first field
/// is one those messages have, with at least one `op:` field.
pub(super) fn looks_like_text(data: &[u8]) -> bool {
    let head = &data[..data.len().min(4096)];
    let Ok(text) = std::str::from_utf8(head).or_else(|e| {
        // A multi-byte character cut at the 4 KiB boundary.
        std::str::from_utf8(&head[..e.valid_up_to()])
    }) else {
        return false;
    };
    let first = text
        .lines()
        .map(str::trim_start)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    let field: String = first
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    matches!(
        field.as_str(),
        "saved_model_schema_version" | "meta_graphs" | "node" | "library" | "versions"
    ) && memchr_op(data)
}

fn memchr_op(data: &[u8]) -> bool {
    data.windows(3).any(|w| w == b"op:") || data.windows(3).any(|w| w == b"op ")
}

/// Every value of an `op` field, with its byte offset.
fn op_fields(text: &[u8]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'#' => {
                while i < text.len() && text[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' | b'\'' => {
                // An unterminated quote is not a string: step over it and keep reading.
                i = read_string(text, i).map_or(i + 1, |(_, end)| end);
                continue;
            }
            b'o' if text[i..].starts_with(b"op")
                && (i == 0 || !is_ident(text[i - 1]))
                && !text.get(i + 2).copied().is_some_and(is_ident) =>
            {
                let at = i;
                let mut j = skip_ws(text, i + 2);
                if text.get(j) == Some(&b':') {
                    j = skip_ws(text, j + 1);
                    let mut name = Vec::new();
                    while let Some((s, end)) = read_string(text, j) {
                        name.extend_from_slice(&s);
                        j = skip_ws(text, end);
                    }
                    if !name.is_empty() && name.len() <= MAX_OP_CHARS {
                        out.push((String::from_utf8_lossy(&name).into_owned(), at));
                    }
                    i = j;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn skip_ws(t: &[u8], mut i: usize) -> usize {
    while i < t.len() && t[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// A quoted string at `i` (unescaped) and the offset past it.
fn read_string(t: &[u8], i: usize) -> Option<(Vec<u8>, usize)> {
    let q = *t.get(i)?;
    if q != b'"' && q != b'\'' {
        return None;
    }
    let mut out = Vec::new();
    let mut j = i + 1;
    while j < t.len() {
        let c = t[j];
        if c == q {
            return Some((out, j + 1));
        }
        if c == b'\n' {
            return None;
        }
        if c != b'\\' {
            out.push(c);
            j += 1;
            continue;
        }
        let e = *t.get(j + 1)?;
        j += 2;
        match e {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'x' | b'X' => {
                let mut v: u32 = 0;
                let mut n = 0;
                while n < 2 && j < t.len() && t[j].is_ascii_hexdigit() {
                    v = v * 16 + char::from(t[j]).to_digit(16).unwrap_or(0);
                    j += 1;
                    n += 1;
                }
                out.push(u8::try_from(v).unwrap_or(b'?'));
            }
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                let mut n = 1;
                while n < 3 && j < t.len() && (b'0'..=b'7').contains(&t[j]) {
                    v = v * 8 + u32::from(t[j] - b'0');
                    j += 1;
                    n += 1;
                }
                out.push(u8::try_from(v & 0xff).unwrap_or(b'?'));
            }
            other => out.push(other),
        }
    }
    None
}

/// Judges every op a text-format SavedModel or GraphDef names.
pub(super) fn analyse(data: &[u8], out: &mut Outcome<'_>) {
    let mut seen: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (op, at) in op_fields(data) {
        if seen.len() >= MAX_OPS && !seen.contains_key(&op) {
            continue;
        }
        let e = seen.entry(op).or_insert((0, at));
        e.0 += 1;
    }
    for (op, (count, at)) in seen {
        let evidence = json!({ "op": op, "nodes": count, "text_format": true });
        let issue = match ops::effect(&op) {
            Some(Effect::Python) => Some(Issue::new(
                "MS400",
                format!("`{op}` calls a registered Python function"),
                format!(
                    "The text-format graph has {count} `{op}` node(s): running it calls a Python callable the \
loading process registered."
                ),
                evidence,
            )),
            Some(Effect::Read(_)) if !op.starts_with("InitializeTableFromTextFile") => {
                Some(Issue::new(
                    "MS401",
                    format!("`{op}` reads files"),
                    format!(
                        "The text-format graph has {count} `{op}` node(s), which read files named at run time."
                    ),
                    evidence,
                ))
            }
            Some(Effect::Write(_)) => Some(Issue::new(
                "MS402",
                format!("`{op}` writes files"),
                format!("The text-format graph has {count} `{op}` node(s), which write files."),
                evidence,
            )),
            Some(Effect::Network(_)) => Some(Issue::new(
                "MS403",
                format!("`{op}` opens network connections"),
                format!(
                    "The text-format graph has {count} `{op}` node(s), which connect to other hosts."
                ),
                evidence,
            )),
            Some(Effect::Graph) => Some(Issue::new(
                "MS407",
                format!("`{op}` runs a graph serialized in a tensor"),
                format!(
                    "The text-format graph has {count} `{op}` node(s), which run a graph that was not checked."
                ),
                evidence,
            )),
            Some(_) => None,
            None if !ops::is_standard(&op) && ops::known_library(&op).is_none() => {
                Some(Issue::new(
                    "MS405",
                    format!("Custom op `{op}` needs a native op library"),
                    format!(
                        "The text-format graph uses `{op}` ({count} node(s)), which TensorFlow does not register: it runs \
only after a native library that defines it is loaded."
                    ),
                    evidence,
                ))
            }
            None => None,
        };
        if let Some(i) = issue {
            out.push(i.at(at as u64));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops_of(t: &str) -> Vec<String> {
        op_fields(t.as_bytes())
            .into_iter()
            .map(|(o, _)| o)
            .collect()
    }

    #[test]
    fn reads_op_fields_with_text_format_strings() {
        let t = "meta_graphs {\n  graph_def {\n    node { name: \"a\" op: \"Const\" }\n    \
node { name: 'b' op:'Read\\x46ile' }\n    node { op: \"Py\" \"Func\" } # op: \"WriteFile\"\n    \
node { name: \"op: 'Fake'\" stop: \"X\" op : \"\\127riteFile\" }\n  }\n}\n";
        assert_eq!(ops_of(t), ["Const", "ReadFile", "PyFunc", "WriteFile"]);
        // A stray quote does not hide what follows; truncated escapes do not panic.
        assert_eq!(
            ops_of("node { name: \"x\n op: \"ReadFile\" }"),
            ["ReadFile"]
        );
        for t in ["op: \"\\", "op: \"\\x", "op: '\\7", "op", "op:", "o"] {
            let _ = ops_of(t);
        }
    }

    #[test]
    fn detects_text_savedmodels_only() {
        assert!(looks_like_text(
            b"saved_model_schema_version: 1\nmeta_graphs {\n node { op: \"Const\" } }"
        ));
        assert!(looks_like_text(
            b"# comment\nnode {\n  name: \"x\"\n  op: \"Add\"\n}\n"
        ));
        assert!(!looks_like_text(b"hello world op: x"));
        assert!(!looks_like_text(b"\x08\x01\x12\x02op"));
        assert!(!looks_like_text(b"meta_graphs { }"));
    }

    #[test]
    fn arbitrary_text_does_not_panic() {
        const ALPHABET: &[u8] = b"op: \"'\\x7#\nnode{}RadFile0\xff";
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for len in 0..400 {
            let mut buf = Vec::with_capacity(len);
            for _ in 0..len {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                buf.push(ALPHABET[usize::try_from(seed >> 59).unwrap_or(0) % ALPHABET.len()]);
            }
            let _ = looks_like_text(&buf);
            let mut out = Outcome::new("t");
            analyse(&buf, &mut out);
        }
    }

    #[test]
    fn judges_ops() {
        let mut out = Outcome::new("t");
        analyse(
            b"meta_graphs { graph_def { node { op: \"ReadFile\" } node { op: \"RestoreV2\" } \
node { op: \"InitializeTableFromTextFileV2\" } node { op: \"EagerPyFunc\" } node { op: \"MyOp\" } \
node { op: \"MatMul\" } } }",
            &mut out,
        );
        let rules: Vec<_> = out.issues.iter().map(|i| i.rule).collect();
        assert_eq!(rules, ["MS400", "MS405", "MS401"]);
    }
}
