//! Writing a `serde_json::Value` as block-style YAML that [`crate::load`] reads back to the same
//! value. Strings are written plain only when the core schema would read them back as the same
//! string; otherwise they are double-quoted with JSON's escapes, which YAML's double-quoted style
//! shares. Lists of scalars short enough for one line are written in flow style (`[1, 2]`).

use serde_json::Value;

/// Longest flow-style list line.
const FLOW_WIDTH: usize = 72;

/// `value` as a YAML document (ends with a newline), mapping keys in sorted order.
#[must_use]
pub fn to_string(value: &Value) -> String {
    to_string_ordered(value, &[])
}

/// `value` as a YAML document, each mapping's keys that appear in `first` written first in that
/// order, the others after them in sorted order.
#[must_use]
pub fn to_string_ordered(value: &Value, first: &[&str]) -> String {
    let mut e = Emitter {
        out: String::new(),
        first,
    };
    match value {
        Value::Object(m) if !m.is_empty() => e.map(m, 0),
        Value::Array(a) if !a.is_empty() && flow(a).is_none() => e.list(a, 0),
        other => {
            e.out.push_str(&inline(other).unwrap_or_default());
            e.out.push('\n');
        }
    }
    e.out
}

struct Emitter<'a> {
    out: String,
    first: &'a [&'a str],
}

impl Emitter<'_> {
    fn indent(&mut self, n: usize) {
        self.out.extend(std::iter::repeat_n(' ', n));
    }

    fn map(&mut self, m: &serde_json::Map<String, Value>, at: usize) {
        let mut keys: Vec<&String> = m.keys().collect();
        keys.sort_by_key(|k| {
            (
                self.first
                    .iter()
                    .position(|f| f == k)
                    .unwrap_or(self.first.len()),
                k.as_str(),
            )
        });
        for (i, k) in keys.into_iter().enumerate() {
            if i > 0 || !self.out.ends_with("- ") {
                self.indent(at);
            }
            self.out.push_str(&scalar_text(k));
            self.out.push(':');
            self.value(&m[k], at);
        }
    }

    fn list(&mut self, a: &[Value], at: usize) {
        for (i, v) in a.iter().enumerate() {
            if i > 0 || !self.out.ends_with("- ") {
                self.indent(at);
            }
            self.out.push_str("- ");
            match v {
                Value::Object(m) if !m.is_empty() => self.map(m, at + 2),
                Value::Array(inner) if !inner.is_empty() && flow(inner).is_none() => {
                    self.list(inner, at + 2);
                }
                other => {
                    self.out.push_str(&inline(other).unwrap_or_default());
                    self.out.push('\n');
                }
            }
        }
    }

    /// After `key:`: the value on the same line, or a nested block on the next lines.
    fn value(&mut self, v: &Value, at: usize) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                self.out.push('\n');
                self.map(m, at + 2);
            }
            Value::Array(a) if !a.is_empty() && flow(a).is_none() => {
                self.out.push('\n');
                self.list(a, at);
            }
            other => {
                self.out.push(' ');
                self.out.push_str(&inline(other).unwrap_or_default());
                self.out.push('\n');
            }
        }
    }
}

/// A value on one line: a scalar, an empty collection, or a short list in flow style.
fn inline(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("null".to_owned()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(scalar_text(s)),
        Value::Array(a) if a.is_empty() => Some("[]".to_owned()),
        Value::Object(m) if m.is_empty() => Some("{}".to_owned()),
        Value::Array(a) => flow(a),
        Value::Object(_) => None,
    }
}

/// `[a, b]` when every item is a scalar or such a list and the line stays short.
fn flow(a: &[Value]) -> Option<String> {
    let mut s = String::from("[");
    for (i, v) in a.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        match v {
            Value::Object(_) => return None,
            Value::Array(inner) => s.push_str(&flow(inner)?),
            other => s.push_str(&inline(other)?),
        }
        if s.len() > FLOW_WIDTH {
            return None;
        }
    }
    s.push(']');
    Some(s)
}

/// A string as a plain scalar when it reads back as itself, else double-quoted.
fn scalar_text(s: &str) -> String {
    if plain_ok(s) { s.to_owned() } else { quoted(s) }
}

/// YAML's printable characters (c-printable): the others must be escaped in a document.
fn printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// `s` double-quoted: `"` and `\` escaped, line breaks and tabs as `\n`, `\r`, `\t`, every other
/// character that is not printable as `\uXXXX`.
fn quoted(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // NEL is printable but a line break inside a quoted scalar; escape it too.
            c if !printable(c)
                || c == '\u{85}'
                || c == '\u{2028}'
                || c == '\u{2029}'
                || c == '\u{feff}' =>
            {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !(first.is_ascii_alphabetic() || first == '_' || first == '/' || first == '.') {
        return false;
    }
    if s.ends_with(' ') || s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    if !s.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                ' ' | '_' | '-' | '.' | '/' | '(' | ')' | ',' | ':' | '+' | '='
            )
    }) {
        return false;
    }
    // Words the core schema reads as something other than a string.
    let lower = s.to_ascii_lowercase();
    !matches!(
        lower.as_str(),
        "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | ".inf" | ".nan"
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{to_string, to_string_ordered};
    use crate::{Limits, load};

    fn round_trip(v: &serde_json::Value) {
        let text = to_string(v);
        let back = load(&text, Limits::default()).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(&back, v, "{text}");
    }

    #[test]
    fn values_read_back_the_same() {
        round_trip(&json!({
            "system": "RAG chatbot",
            "empty": "",
            "words": ["true", "null", "1.5", "-x", "a: b", "# no", "yes", "ünï", "line\nbreak", "tab\t"],
            "odd": ["\u{7f}\u{85}\u{9f}\u{fffe}\u{2028}\u{feff}x", "q\"b\\s", "\u{1}\u{1b}", "  lead", "\u{1F600}"],
            "numbers": [1, -2, 3.25, 1e300],
            "nested": {"list": [{"a": 1, "b": [[1.0, 2.5], [3.0, 4.0]]}, {"c": {}}, []], "x": null},
            "flags": [true, false],
            "long": (0..40).map(|i| format!("item-{i}")).collect::<Vec<_>>(),
            "colon:key": "v",
            "list of lists": [[[1, 2], [3]], ["a"]],
        }));
        round_trip(&json!([{"a": [1, {"b": 2}]}, "x"]));
        round_trip(&json!("scalar"));
        round_trip(&json!([]));
    }

    #[test]
    fn output_is_block_style() {
        let text = to_string(&json!({"a": {"b": [{"c": 1, "d": "two words"}]}, "p": [1, 2]}));
        assert_eq!(text, "a:\n  b:\n  - c: 1\n    d: two words\np: [1, 2]\n");
        let text = to_string_ordered(&json!({"a": 1, "b": 2, "z": 3}), &["z", "b"]);
        assert_eq!(text, "z: 3\nb: 2\na: 1\n");
    }
}
