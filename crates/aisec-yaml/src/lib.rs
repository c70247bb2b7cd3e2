//! A bounded YAML loader for untrusted text (model-card front matter, threat models, MITRE ATLAS
//! data), with the line of every node for error messages that point at the file.
//!
//! The project's YAML crate is `saphyr-parser`: pure Rust, YAML 1.2, maintained (the successor of
//! yaml-rust/yaml-rust2), two small dependencies, and it stops at an event stream. The tree is built
//! here, so every limit is ours: input size, nesting depth, total nodes *after* alias expansion (a
//! "billion laughs" document fails at the budget instead of allocating), scalar length, anchors.
//! The result is a `serde_json::Value`, so callers can `serde_json::from_value` into typed structs.
//!
//! [`load_located`] also returns where each node starts ([`Lines`], by JSON Pointer), so a
//! caller that checks the structure can say "line 12: flows[3].protocol ...".
//!
//! Plain scalars are resolved with the YAML 1.2 core schema (null, booleans, integers, floats);
//! quoted and block scalars are strings. Tags are ignored: nothing in the document can select code.
//! Mapping keys must be scalars; duplicate keys keep the last value, as most loaders do.

pub mod emit;

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Number, Value};

/// Limits for one document.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest input, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of sequences and mappings.
    pub max_depth: usize,
    /// Most nodes in the loaded tree, counting every copy an alias makes.
    pub max_nodes: usize,
    /// Longest scalar, in bytes.
    pub max_scalar: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 1 << 20,
            max_depth: 64,
            max_nodes: 100_000,
            max_scalar: 256 << 10,
        }
    }
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum YamlError {
    /// The input is larger than [`Limits::max_bytes`].
    #[error("YAML document is {size} bytes, over the {max}-byte limit")]
    TooLarge {
        /// The input size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Nesting deeper than [`Limits::max_depth`].
    #[error("YAML nesting deeper than {max} levels (line {line})")]
    TooDeep {
        /// The limit.
        max: usize,
        /// Where it was exceeded.
        line: usize,
    },
    /// More nodes than [`Limits::max_nodes`] (aliases count every copy).
    #[error(
        "YAML document expands to more than {max} nodes (line {line}); aliases count each copy"
    )]
    TooManyNodes {
        /// The limit.
        max: usize,
        /// Where it was exceeded.
        line: usize,
    },
    /// A scalar longer than [`Limits::max_scalar`].
    #[error("YAML scalar of {size} bytes at line {line}, over the {max}-byte limit")]
    ScalarTooLong {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
        /// Where it is.
        line: usize,
    },
    /// A syntax error from the parser.
    #[error("YAML syntax error at line {line}, column {col}: {message}")]
    Syntax {
        /// The parser's message.
        message: String,
        /// 1-based line.
        line: usize,
        /// 0-based column.
        col: usize,
    },
    /// A structure this loader does not accept (a mapping as a key, an unknown alias, several documents).
    #[error("unsupported YAML at line {line}: {what}")]
    Unsupported {
        /// What it was.
        what: &'static str,
        /// Where.
        line: usize,
    },
}

/// Loads one YAML document into a JSON value under `limits`. An empty document is `null`.
///
/// # Errors
/// [`YamlError`] for a syntax error or a document over a limit.
pub fn load(text: &str, limits: Limits) -> Result<Value, YamlError> {
    load_inner(text, limits, false).map(|l| l.value)
}

/// Where the nodes of a loaded document start: 1-based lines by JSON Pointer (RFC 6901:
/// `/flows/3/protocol`). Nodes copied by an alias are found at the alias.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lines(HashMap<String, usize>);

impl Lines {
    /// The line of the node at `pointer`, or of its nearest ancestor that has one.
    #[must_use]
    pub fn line(&self, pointer: &str) -> Option<usize> {
        let mut p = pointer;
        loop {
            if let Some(&l) = self.0.get(p) {
                return Some(l);
            }
            if p.is_empty() {
                return None;
            }
            p = p.rfind('/').map_or("", |i| &p[..i]);
        }
    }
}

/// A loaded document and where its nodes are.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    /// The document.
    pub value: Value,
    /// Where each node starts.
    pub lines: Lines,
}

/// [`load`], keeping the line of every node.
///
/// # Errors
/// As [`load`].
pub fn load_located(text: &str, limits: Limits) -> Result<Located, YamlError> {
    load_inner(text, limits, true)
}

fn load_inner(text: &str, limits: Limits, locate: bool) -> Result<Located, YamlError> {
    if text.len() > limits.max_bytes {
        return Err(YamlError::TooLarge {
            size: text.len(),
            max: limits.max_bytes,
        });
    }
    let mut loader = Loader {
        limits,
        nodes: 0,
        stack: Vec::new(),
        anchors: Vec::new(),
        root: None,
        documents: 0,
        lines: locate.then(HashMap::new),
    };
    let mut parser = Parser::new_from_str(text);
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| YamlError::Syntax {
            message: e.info().to_owned(),
            line: e.marker().line(),
            col: e.marker().col(),
        })?;
        loader.on_event(event, span.start.line())?;
    }
    Ok(Located {
        value: loader.root.map_or(Value::Null, |(v, _)| v),
        lines: Lines(loader.lines.unwrap_or_default()),
    })
}

/// `~` and `/` escaped as a JSON Pointer reference token.
fn escape(token: &str) -> Cow<'_, str> {
    if token.contains(['~', '/']) {
        Cow::Owned(token.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(token)
    }
}

/// A collection being built: its value, its anchor, the pending key of a mapping, its node count.
struct Open {
    value: Value,
    anchor: usize,
    key: Option<String>,
    nodes: usize,
    /// Its JSON Pointer (kept only when lines are asked for).
    pointer: String,
}

struct Loader {
    limits: Limits,
    nodes: usize,
    stack: Vec<Open>,
    /// Anchored nodes with their node counts, indexed by anchor id (ids are small and dense).
    anchors: Vec<Option<(Value, usize)>>,
    root: Option<(Value, usize)>,
    documents: usize,
    /// Node lines by pointer, when asked for.
    lines: Option<HashMap<String, usize>>,
}

impl Loader {
    fn on_event(&mut self, event: Event<'_>, line: usize) -> Result<(), YamlError> {
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(YamlError::Unsupported {
                        what: "more than one document",
                        line,
                    });
                }
            }
            Event::Scalar(text, style, anchor, _tag) => {
                if text.len() > self.limits.max_scalar {
                    return Err(YamlError::ScalarTooLong {
                        size: text.len(),
                        max: self.limits.max_scalar,
                        line,
                    });
                }
                self.count(1, line)?;
                let value = scalar(text, style);
                self.place(line);
                self.finish(value, 1, anchor, line)?;
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.stack.len() >= self.limits.max_depth {
                    return Err(YamlError::TooDeep {
                        max: self.limits.max_depth,
                        line,
                    });
                }
                self.count(1, line)?;
                let value = if matches!(event, Event::SequenceStart(..)) {
                    Value::Array(Vec::new())
                } else {
                    Value::Object(Map::new())
                };
                let pointer = self.place(line);
                self.stack.push(Open {
                    value,
                    anchor,
                    key: None,
                    nodes: 1,
                    pointer,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let open = self.stack.pop().ok_or(YamlError::Unsupported {
                    what: "unbalanced collection",
                    line,
                })?;
                self.finish(open.value, open.nodes, open.anchor, line)?;
            }
            Event::Alias(id) => {
                let nodes = self
                    .anchors
                    .get(id)
                    .and_then(Option::as_ref)
                    .map(|(_, n)| *n)
                    .ok_or(YamlError::Unsupported {
                        what: "alias to an unknown anchor",
                        line,
                    })?;
                // Count before cloning: the budget, not the allocator, stops an exploding document.
                self.count(nodes, line)?;
                self.place(line);
                let value = self.anchors[id]
                    .as_ref()
                    .map_or(Value::Null, |(v, _)| v.clone());
                self.finish(value, nodes, 0, line)?;
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
        Ok(())
    }

    /// The pointer of the node about to be placed, noted at `line` (a mapping key is not a node
    /// of its own and is not noted). Empty when lines are not kept.
    fn place(&mut self, line: usize) -> String {
        let Some(lines) = self.lines.as_mut() else {
            return String::new();
        };
        let pointer = match self.stack.last() {
            None => String::new(),
            Some(parent) => match (&parent.value, &parent.key) {
                (Value::Array(items), _) => format!("{}/{}", parent.pointer, items.len()),
                (Value::Object(_), Some(key)) => format!("{}/{}", parent.pointer, escape(key)),
                // A mapping key: not a node.
                _ => return String::new(),
            },
        };
        lines.entry(pointer.clone()).or_insert(line);
        pointer
    }

    fn count(&mut self, n: usize, line: usize) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > self.limits.max_nodes {
            return Err(YamlError::TooManyNodes {
                max: self.limits.max_nodes,
                line,
            });
        }
        Ok(())
    }

    /// Places a finished node into its parent (or as the root) and records its anchor.
    fn finish(
        &mut self,
        value: Value,
        nodes: usize,
        anchor: usize,
        line: usize,
    ) -> Result<(), YamlError> {
        if anchor > 0 {
            if anchor > self.limits.max_nodes {
                return Err(YamlError::Unsupported {
                    what: "anchor id out of range",
                    line,
                });
            }
            if self.anchors.len() <= anchor {
                self.anchors.resize(anchor + 1, None);
            }
            self.anchors[anchor] = Some((value.clone(), nodes));
        }
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some((value, nodes));
            return Ok(());
        };
        parent.nodes = parent.nodes.saturating_add(nodes);
        match &mut parent.value {
            Value::Array(items) => items.push(value),
            Value::Object(map) => match parent.key.take() {
                None => {
                    let key = match value {
                        Value::String(s) => s,
                        Value::Null => "null".to_owned(),
                        Value::Bool(b) => b.to_string(),
                        Value::Number(n) => n.to_string(),
                        Value::Array(_) | Value::Object(_) => {
                            return Err(YamlError::Unsupported {
                                what: "a collection used as a mapping key",
                                line,
                            });
                        }
                    };
                    parent.key = Some(key);
                }
                Some(key) => {
                    map.insert(key, value);
                }
            },
            _ => unreachable!("only collections are pushed on the stack"),
        }
        Ok(())
    }
}

/// Resolves a scalar with the YAML 1.2 core schema.
fn scalar(text: Cow<'_, str>, style: ScalarStyle) -> Value {
    if style != ScalarStyle::Plain {
        return Value::String(text.into_owned());
    }
    match text.as_ref() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let t = text.as_ref();
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(i) = t.parse::<i64>()
    {
        return Value::Number(i.into());
    }
    if let Some(hex) = t.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Value::Number(i.into());
    }
    if let Some(oct) = t.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Value::Number(i.into());
    }
    let looks_float = !digits.is_empty()
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.');
    if looks_float && let Some(n) = t.parse::<f64>().ok().and_then(Number::from_f64) {
        return Value::Number(n);
    }
    // `.inf` and `.nan` have no JSON form; they stay text.
    Value::String(text.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::fmt::Write as _;

    #[test]
    fn card_front_matter_loads() {
        let v = load(
            "license: apache-2.0\ntags:\n- a\n- 'b'\nmodel-index:\n- name: x\n  results:\n  - metrics:\n    - {type: accuracy, value: 0.91}\nn: 3\nz: ~\nq: \"1\"\n",
            Limits::default(),
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"license": "apache-2.0", "tags": ["a", "b"], "n": 3, "z": null, "q": "1",
                "model-index": [{"name": "x", "results": [{"metrics": [{"type": "accuracy", "value": 0.91}]}]}]})
        );
    }

    #[test]
    fn aliases_expand_within_budget() {
        let v = load("a: &x [1, 2]\nb: *x\n", Limits::default()).unwrap();
        assert_eq!(v, json!({"a": [1, 2], "b": [1, 2]}));
    }

    #[test]
    fn billion_laughs_is_refused_quickly() {
        let mut doc = String::from(
            "a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        for i in 1..10 {
            let p = i - 1;
            let _ = writeln!(
                doc,
                "a{i}: &a{i} [*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p}]"
            );
        }
        let start = std::time::Instant::now();
        let err = load(&doc, Limits::default()).unwrap_err();
        assert!(matches!(err, YamlError::TooManyNodes { .. }), "{err}");
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn depth_size_and_scalar_caps() {
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(matches!(
            load(&deep, Limits::default()),
            Err(YamlError::TooDeep { max: 64, .. })
        ));
        let big = "a: b\n".repeat(300_000);
        assert!(matches!(
            load(&big, Limits::default()),
            Err(YamlError::TooLarge { .. })
        ));
        let long = format!("a: {}\n", "x".repeat(300 << 10));
        assert!(matches!(
            load(&long, Limits::default()),
            Err(YamlError::ScalarTooLong { .. })
        ));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for doc in [
            "a: [1, 2",
            "? [a]\n: b\n",
            "a: *nope\n",
            "---\na: 1\n---\nb: 2\n",
            "\t- x: : :",
        ] {
            assert!(load(doc, Limits::default()).is_err(), "{doc:?}");
        }
    }

    #[test]
    fn lines_are_kept_by_pointer() {
        let doc = "name: shop\nflows:\n  - from: user\n    to: app\n  - from: app\n    to: db\n    tags: [a, b]\nodd/key: 1\n";
        let l = load_located(doc, Limits::default()).unwrap();
        assert_eq!(l.value["flows"][1]["to"], "db");
        assert_eq!(l.lines.line("/name"), Some(1));
        assert_eq!(l.lines.line("/flows"), Some(3));
        assert_eq!(l.lines.line("/flows/0/to"), Some(4));
        assert_eq!(l.lines.line("/flows/1"), Some(5));
        assert_eq!(l.lines.line("/flows/1/tags/1"), Some(7));
        assert_eq!(l.lines.line("/odd~1key"), Some(8));
        // Missing nodes fall back to their nearest ancestor.
        assert_eq!(l.lines.line("/flows/1/protocol"), Some(5));
        assert_eq!(load(doc, Limits::default()).unwrap(), l.value);
    }

    #[test]
    fn tags_do_not_change_meaning() {
        let v = load("a: !!python/object:os.system ls\n", Limits::default()).unwrap();
        assert_eq!(v, json!({"a": "ls"}));
    }
}
