//! A streaming reader of the safetensors JSON header that accepts exactly what the reference loader
//! accepts, and records everything else instead of stopping at it.
//!
//! The reference loader deserializes the header with `serde_json` into a struct with a flattened
//! map of tensor entries. That path has quirks a scanner must mirror: a tensor entry may be an
//! object or an array of three, a dtype may be a string or a one-key map `{"F32": null}`, unknown
//! fields of an entry are ignored, a repeated tensor name keeps its last definition, a repeated
//! `dtype`/`shape`/`data_offsets`/`__metadata__` is an error, and nesting stops at 128 levels.
//! The same `serde_json` tokenizer runs here (so syntax, escapes, numbers and depth agree), but
//! with visitors that accept any value and note how it differs from the schema. No tree is built:
//! each tensor keeps its name, dtype, a summary of its shape and its offsets; other values are
//! walked and dropped, except strings that may hold a serialized payload.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Most tensor entries kept; further entries are counted, not kept (1M entries is far past any
/// real checkpoint shard and costs the reference loader hundreds of megabytes).
pub(super) const MAX_TENSORS: usize = 1_000_000;
/// Most schema problems kept (the first ones name the cause; the rest are counted).
const MAX_PROBLEMS: usize = 64;
/// Most strings kept as payload candidates, and their total size.
const MAX_CANDIDATES: usize = 64;
const MAX_CANDIDATE_BYTES: usize = 32 << 20;
/// Shortest string examined as a payload candidate (a pickle calling anything is longer).
const MIN_CANDIDATE_LEN: usize = 12;
/// Dimensions kept per shape for evidence.
const KEPT_DIMS: usize = 8;
/// Most unknown field names kept per entry.
const KEPT_UNKNOWN: usize = 8;

/// A safetensors element type, with its size in bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Dtype {
    /// The name as the header spells it.
    pub name: &'static str,
    /// Bits per element.
    pub bits: u64,
}

/// The dtypes of the reference loader (0.8): the only spellings it accepts.
pub(super) const DTYPES: &[Dtype] = &[
    Dtype {
        name: "BOOL",
        bits: 8,
    },
    Dtype {
        name: "F4",
        bits: 4,
    },
    Dtype {
        name: "F6_E2M3",
        bits: 6,
    },
    Dtype {
        name: "F6_E3M2",
        bits: 6,
    },
    Dtype {
        name: "U8",
        bits: 8,
    },
    Dtype {
        name: "I8",
        bits: 8,
    },
    Dtype {
        name: "F8_E5M2",
        bits: 8,
    },
    Dtype {
        name: "F8_E4M3",
        bits: 8,
    },
    Dtype {
        name: "F8_E8M0",
        bits: 8,
    },
    Dtype {
        name: "F8_E4M3FNUZ",
        bits: 8,
    },
    Dtype {
        name: "F8_E5M2FNUZ",
        bits: 8,
    },
    Dtype {
        name: "I16",
        bits: 16,
    },
    Dtype {
        name: "U16",
        bits: 16,
    },
    Dtype {
        name: "F16",
        bits: 16,
    },
    Dtype {
        name: "BF16",
        bits: 16,
    },
    Dtype {
        name: "I32",
        bits: 32,
    },
    Dtype {
        name: "U32",
        bits: 32,
    },
    Dtype {
        name: "F32",
        bits: 32,
    },
    Dtype {
        name: "C64",
        bits: 64,
    },
    Dtype {
        name: "F64",
        bits: 64,
    },
    Dtype {
        name: "I64",
        bits: 64,
    },
    Dtype {
        name: "U64",
        bits: 64,
    },
];

fn dtype(name: &str) -> Option<Dtype> {
    DTYPES.iter().copied().find(|d| d.name == name)
}

/// What a shape summarises to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Shape {
    /// Number of dimensions.
    pub rank: u64,
    /// The first dimensions, for evidence.
    pub dims: Vec<u64>,
    /// The element count as the loader computes it (a checked product, left to right); `None`
    /// when it overflows.
    pub elements: Option<u64>,
    /// Whether the product of the non-zero dimensions overflows (a shape no framework can stride).
    pub absurd: bool,
}

/// One tensor entry, as far as it matches the schema.
#[derive(Debug, Clone, Default)]
pub(super) struct Entry {
    /// The tensor name (decoded).
    pub name: String,
    /// Position among the header's entries.
    pub index: usize,
    /// The dtype, when it is a known one.
    pub dtype: Option<Dtype>,
    /// The shape, when it is an array of non-negative integers.
    pub shape: Option<Shape>,
    /// `[begin, end]`, when it is a pair of non-negative integers.
    pub offsets: Option<(u64, u64)>,
    /// Whether the entry matches the schema (otherwise the loader rejects the header).
    pub valid: bool,
    /// Unknown fields (first few), ignored by the loader.
    pub unknown: Vec<String>,
    /// How many unknown fields there were.
    pub unknown_count: usize,
}

/// Which schema rule a value breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProblemKind {
    /// `__metadata__` is not a map of strings to strings.
    Metadata,
    /// A tensor entry, or one of its fields, has the wrong type or form.
    Entry,
    /// The dtype is not one the loader knows.
    Dtype,
    /// A field or key appears twice where the loader refuses that.
    DuplicateField,
}

/// One way the header breaks the schema.
#[derive(Debug, Clone)]
pub(super) struct Problem {
    /// Which rule.
    pub kind: ProblemKind,
    /// The tensor name or metadata key concerned.
    pub at: String,
    /// What is wrong, in words.
    pub what: String,
}

/// A spelling the loader accepts but no writer produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Quirk {
    /// A tensor entry written as an array `[dtype, shape, offsets]`.
    ArrayEntry,
    /// A dtype written as a one-key map `{"F32": null}`.
    DtypeAsMap,
    /// `__metadata__`, a field name or a dtype spelled with JSON escapes.
    EscapedKeyword,
    /// `"__metadata__": null`.
    NullMetadata,
}

impl Quirk {
    pub(super) fn describe(self) -> &'static str {
        match self {
            Self::ArrayEntry => "a tensor entry written as an array instead of an object",
            Self::DtypeAsMap => "a dtype written as a one-key map instead of a string",
            Self::EscapedKeyword => {
                "`__metadata__`, a field name or a dtype spelled with JSON escapes"
            }
            Self::NullMetadata => "`__metadata__` set to null",
        }
    }
}

/// A string from the header that may hold a serialized payload.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    /// Where it was: `__metadata__.<key>`, `<tensor>.<field>`.
    pub at: String,
    /// The decoded string.
    pub text: String,
}

/// A key that appears more than once.
#[derive(Debug, Clone)]
pub(super) struct Duplicate {
    /// `tensor`, `metadata key` or `__metadata__`.
    pub scope: &'static str,
    /// The key.
    pub name: String,
    /// How many times it appears.
    pub count: usize,
    /// Whether the definitions differ (tensor entries only).
    pub differ: bool,
}

/// Everything the header says.
#[derive(Debug, Default)]
pub(super) struct Header {
    /// Tensor entries in header order, at most [`MAX_TENSORS`].
    pub entries: Vec<Entry>,
    /// Tensor entries in the header, kept or not.
    pub entry_count: usize,
    /// `__metadata__`'s string pairs, in order (duplicates included).
    pub metadata: Vec<(String, String)>,
    /// Whether `__metadata__` is present (null included).
    pub has_metadata: bool,
    /// Schema problems (the loader rejects the header when there is one), at most [`MAX_PROBLEMS`].
    pub problems: Vec<Problem>,
    /// Schema problems, kept or not.
    pub problem_count: usize,
    /// Accepted oddities.
    pub quirks: Vec<Quirk>,
    /// Keys that repeat: tensor names, metadata keys, `__metadata__`.
    pub duplicates: Vec<Duplicate>,
    /// Payload candidates.
    pub candidates: Vec<Candidate>,
    /// The top-level value is not an object (the loader rejects it).
    pub not_object: Option<&'static str>,
    candidate_bytes: usize,
}

impl Header {
    fn problem(&mut self, kind: ProblemKind, at: &str, what: impl Into<String>) {
        self.problem_count += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem {
                kind,
                at: at.to_owned(),
                what: what.into(),
            });
        }
    }

    fn quirk(&mut self, q: Quirk) {
        if !self.quirks.contains(&q) {
            self.quirks.push(q);
        }
    }

    fn candidate(&mut self, at: impl FnOnce() -> String, text: &str) {
        if text.len() < MIN_CANDIDATE_LEN
            || self.candidates.len() >= MAX_CANDIDATES
            || self.candidate_bytes.saturating_add(text.len()) > MAX_CANDIDATE_BYTES
            || !super::payload::worth_a_look(text)
        {
            return;
        }
        self.candidate_bytes += text.len();
        self.candidates.push(Candidate {
            at: at(),
            text: text.to_owned(),
        });
    }

    /// Finds repeated tensor names and metadata keys.
    fn find_duplicates(&mut self) {
        let mut names: Vec<(&str, usize)> = self
            .entries
            .iter()
            .map(|e| (e.name.as_str(), e.index))
            .collect();
        names.sort_unstable();
        let mut dups = Vec::new();
        for group in names.chunk_by(|a, b| a.0 == b.0) {
            if group.len() > 1 {
                let first = &self.entries[group[0].1];
                let differ = group[1..].iter().any(|(_, i)| {
                    let e = &self.entries[*i];
                    e.dtype != first.dtype || e.shape != first.shape || e.offsets != first.offsets
                });
                dups.push(Duplicate {
                    scope: "tensor",
                    name: group[0].0.to_owned(),
                    count: group.len(),
                    differ,
                });
            }
        }
        let mut keys: Vec<(&str, &str)> = self
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        keys.sort_unstable_by_key(|k| k.0);
        for group in keys.chunk_by(|a, b| a.0 == b.0) {
            if group.len() > 1 {
                dups.push(Duplicate {
                    scope: "metadata key",
                    name: group[0].0.to_owned(),
                    count: group.len(),
                    differ: group.iter().any(|(_, v)| *v != group[0].1),
                });
            }
        }
        self.duplicates.extend(dups);
    }

    /// The entries the loader sees: the last definition of each name.
    pub(super) fn effective(&self) -> Vec<&Entry> {
        if self.duplicates.iter().all(|d| d.scope != "tensor") {
            return self.entries.iter().collect();
        }
        let mut seen: HashSet<&str> = HashSet::new();
        let mut out: Vec<&Entry> = self
            .entries
            .iter()
            .rev()
            .filter(|e| seen.insert(e.name.as_str()))
            .collect();
        out.reverse();
        out
    }
}

/// Parses `text`, the header between its length prefix and the body. Errors are JSON syntax
/// errors (including trailing characters and nesting past 128 levels), which the loader refuses.
pub(super) fn parse(text: &str) -> Result<Header, serde_json::Error> {
    let mut header = Header::default();
    let mut de = serde_json::Deserializer::from_str(text);
    de.deserialize_any(TopVisitor(&mut header))?;
    de.end()?;
    header.find_duplicates();
    Ok(header)
}

/// A JSON value's type, for messages.
fn kind_of_unexpected(u: &de::Unexpected<'_>) -> &'static str {
    match u {
        de::Unexpected::Bool(_) => "a boolean",
        de::Unexpected::Unsigned(_) | de::Unexpected::Signed(_) => "an integer",
        de::Unexpected::Float(_) => "a number with a fraction or exponent",
        de::Unexpected::Str(_) => "a string",
        de::Unexpected::Unit => "null",
        de::Unexpected::Seq => "an array",
        de::Unexpected::Map => "an object",
        _ => "an unexpected value",
    }
}

/// A key, remembering whether it was spelled with escapes (serde_json hands out borrowed strings
/// only when the text needed no decoding).
struct Key {
    text: String,
    escaped: bool,
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key, E> {
        Ok(Key {
            text: v.to_owned(),
            escaped: false,
        })
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(Key {
            text: v.to_owned(),
            escaped: true,
        })
    }
}

/// A scalar or container seen where something else was expected; containers are drained.
enum Seen {
    Str(String),
    Null,
    Other(&'static str),
}

/// Reads any value; strings come back whole, containers are walked (their strings offered as
/// payload candidates under `at`) and reported by type.
struct AnySeed<'h> {
    header: &'h mut Header,
    at: &'h str,
}

impl<'de> DeserializeSeed<'de> for AnySeed<'_> {
    type Value = Seen;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Seen, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AnySeed<'_> {
    type Value = Seen;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Seen, E> {
        Ok(Seen::Other("a boolean"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Seen, E> {
        Ok(Seen::Other("an integer"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Seen, E> {
        Ok(Seen::Other("a negative integer"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Seen, E> {
        Ok(Seen::Other("a number with a fraction or exponent"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Seen, E> {
        Ok(Seen::Null)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Seen, E> {
        Ok(Seen::Str(v.to_owned()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Seen, E> {
        Ok(Seen::Str(v.to_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Seen, A::Error> {
        while seq
            .next_element_seed(Skim {
                header: &mut *self.header,
                at: self.at,
            })?
            .is_some()
        {}
        Ok(Seen::Other("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Seen, A::Error> {
        while map
            .next_key_seed(Skim {
                header: &mut *self.header,
                at: self.at,
            })?
            .is_some()
        {
            map.next_value_seed(Skim {
                header: &mut *self.header,
                at: self.at,
            })?;
        }
        Ok(Seen::Other("an object"))
    }
}

/// Walks and drops any value, offering its strings as payload candidates.
struct Skim<'h> {
    header: &'h mut Header,
    at: &'h str,
}

impl<'de> DeserializeSeed<'de> for Skim<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let at = self.at;
        let header = self.header;
        match d.deserialize_any(AnySeed {
            header: &mut *header,
            at,
        })? {
            Seen::Str(text) => header.candidate(|| at.to_owned(), &text),
            Seen::Null | Seen::Other(_) => {}
        }
        Ok(())
    }
}

struct TopVisitor<'h>(&'h mut Header);

impl<'de> Visitor<'de> for TopVisitor<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let header = self.0;
        let mut metadata_seen = 0usize;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if key.text == "__metadata__" {
                if key.escaped {
                    header.quirk(Quirk::EscapedKeyword);
                }
                metadata_seen += 1;
                if metadata_seen == 2 {
                    header.problem(
                        ProblemKind::DuplicateField,
                        "__metadata__",
                        "`__metadata__` appears more than once",
                    );
                }
                header.has_metadata = true;
                map.next_value_seed(MetaSeed(&mut *header))?;
            } else {
                let index = header.entry_count;
                header.entry_count += 1;
                let entry = map.next_value_seed(EntrySeed {
                    header: &mut *header,
                    name: key.text,
                    index,
                })?;
                if header.entries.len() < MAX_TENSORS {
                    header.entries.push(entry);
                }
            }
        }
        if metadata_seen > 1 {
            header.duplicates.push(Duplicate {
                scope: "__metadata__",
                name: "__metadata__".into(),
                count: metadata_seen,
                differ: true,
            });
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.0.not_object = Some("an array");
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.not_scalar(&de::Unexpected::Bool(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.not_scalar(&de::Unexpected::Unsigned(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.not_scalar(&de::Unexpected::Signed(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.not_scalar(&de::Unexpected::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.not_scalar(&de::Unexpected::Str(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.not_scalar(&de::Unexpected::Unit)
    }
}

impl TopVisitor<'_> {
    #[allow(clippy::unnecessary_wraps)]
    fn not_scalar<E>(self, u: &de::Unexpected<'_>) -> Result<(), E> {
        self.0.not_object = Some(kind_of_unexpected(u));
        Ok(())
    }
}

/// `__metadata__`: null, or a map of strings to strings.
struct MetaSeed<'h>(&'h mut Header);

impl<'de> DeserializeSeed<'de> for MetaSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MetaSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of strings")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.quirk(Quirk::NullMetadata);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let header = self.0;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let at = format!("__metadata__.{}", key.text);
            match map.next_value_seed(AnySeed {
                header: &mut *header,
                at: &at,
            })? {
                Seen::Str(text) => {
                    header.candidate(|| at.clone(), &text);
                    header.metadata.push((key.text, text));
                }
                Seen::Null => header.problem(
                    ProblemKind::Metadata,
                    &key.text,
                    "metadata value is null, not a string",
                ),
                Seen::Other(kind) => header.problem(
                    ProblemKind::Metadata,
                    &key.text,
                    format!("metadata value is {kind}, not a string"),
                ),
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let header = self.0;
        while seq
            .next_element_seed(Skim {
                header: &mut *header,
                at: "__metadata__",
            })?
            .is_some()
        {}
        header.problem(
            ProblemKind::Metadata,
            "__metadata__",
            "`__metadata__` is an array, not a map of strings",
        );
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.scalar(&de::Unexpected::Bool(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.scalar(&de::Unexpected::Unsigned(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.scalar(&de::Unexpected::Signed(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.scalar(&de::Unexpected::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.candidate(|| "__metadata__".to_owned(), v);
        self.scalar(&de::Unexpected::Str(v))
    }
}

impl MetaSeed<'_> {
    #[allow(clippy::unnecessary_wraps)]
    fn scalar<E>(self, u: &de::Unexpected<'_>) -> Result<(), E> {
        self.0.problem(
            ProblemKind::Metadata,
            "__metadata__",
            format!(
                "`__metadata__` is {}, not a map of strings",
                kind_of_unexpected(u)
            ),
        );
        Ok(())
    }
}

/// One tensor entry: an object with `dtype`, `shape`, `data_offsets` (other fields ignored), or an
/// array of exactly those three.
struct EntrySeed<'h> {
    header: &'h mut Header,
    name: String,
    index: usize,
}

impl<'de> DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = Entry;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Entry, D::Error> {
        d.deserialize_any(self)
    }
}

/// Which field an entry value fills.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Dtype,
    Shape,
    Offsets,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Self::Dtype => "dtype",
            Self::Shape => "shape",
            Self::Offsets => "data_offsets",
        }
    }
}

impl EntrySeed<'_> {
    fn fill<'de, A: MapAccess<'de>>(
        header: &mut Header,
        entry: &mut Entry,
        field: Field,
        map: &mut A,
    ) -> Result<bool, A::Error> {
        let at = format!("{}.{}", entry.name, field.name());
        let seen = map.next_value_seed(AnySeedOrShape {
            header: &mut *header,
            at: &at,
            field,
        })?;
        Ok(Self::apply(header, entry, field, seen))
    }

    /// Stores a field's value in the entry; false when it does not fit the schema.
    fn apply(header: &mut Header, entry: &mut Entry, field: Field, seen: FieldValue) -> bool {
        let name = entry.name.clone();
        match (field, seen) {
            (Field::Dtype, FieldValue::Dtype(Ok(d), quirks)) => {
                for q in quirks {
                    header.quirk(q);
                }
                entry.dtype = Some(d);
                true
            }
            (Field::Dtype, FieldValue::Dtype(Err(what), _)) => {
                let kind = if what.starts_with("unknown dtype") {
                    ProblemKind::Dtype
                } else {
                    ProblemKind::Entry
                };
                header.problem(kind, &name, what);
                false
            }
            (Field::Shape, FieldValue::Shape(Ok(s))) => {
                entry.shape = Some(s);
                true
            }
            (Field::Offsets, FieldValue::Offsets(Ok(o))) => {
                entry.offsets = Some(o);
                true
            }
            (_, FieldValue::Shape(Err(what)) | FieldValue::Offsets(Err(what))) => {
                header.problem(ProblemKind::Entry, &name, what);
                false
            }
            (f, FieldValue::Other(kind)) => {
                header.problem(
                    ProblemKind::Entry,
                    &name,
                    format!("`{}` is {kind}", f.name()),
                );
                false
            }
            _ => false,
        }
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_> {
    type Value = Entry;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tensor entry")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
        let header = self.header;
        let mut entry = Entry {
            name: self.name,
            index: self.index,
            ..Entry::default()
        };
        let mut ok = true;
        let mut seen: [bool; 3] = [false; 3];
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let field = match key.text.as_str() {
                "dtype" => Some(Field::Dtype),
                "shape" => Some(Field::Shape),
                "data_offsets" => Some(Field::Offsets),
                _ => None,
            };
            let Some(field) = field else {
                entry.unknown_count += 1;
                if entry.unknown.len() < KEPT_UNKNOWN {
                    entry.unknown.push(key.text.clone());
                }
                let at = format!("{}.{}", entry.name, key.text);
                map.next_value_seed(Skim {
                    header: &mut *header,
                    at: &at,
                })?;
                continue;
            };
            if key.escaped {
                header.quirk(Quirk::EscapedKeyword);
            }
            let slot = &mut seen[field as usize];
            if *slot {
                header.problem(
                    ProblemKind::DuplicateField,
                    &entry.name,
                    format!("field `{}` appears more than once", field.name()),
                );
                ok = false;
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            *slot = true;
            ok &= Self::fill(header, &mut entry, field, &mut map)?;
        }
        for (i, f) in [Field::Dtype, Field::Shape, Field::Offsets]
            .into_iter()
            .enumerate()
        {
            if !seen[i] {
                header.problem(
                    ProblemKind::Entry,
                    &entry.name,
                    format!("field `{}` is missing", f.name()),
                );
                ok = false;
            }
        }
        entry.valid = ok;
        Ok(entry)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entry, A::Error> {
        let header = self.header;
        header.quirk(Quirk::ArrayEntry);
        let mut entry = Entry {
            name: self.name,
            index: self.index,
            ..Entry::default()
        };
        let mut ok = true;
        let mut n = 0usize;
        for field in [Field::Dtype, Field::Shape, Field::Offsets] {
            let at = format!("{}.{}", entry.name, field.name());
            let Some(seen) = seq.next_element_seed(AnySeedOrShape {
                header: &mut *header,
                at: &at,
                field,
            })?
            else {
                break;
            };
            n += 1;
            ok &= Self::apply(header, &mut entry, field, seen);
        }
        let at = entry.name.clone();
        while seq
            .next_element_seed(Skim {
                header: &mut *header,
                at: &at,
            })?
            .is_some()
        {
            n += 1;
        }
        if n != 3 {
            header.problem(
                ProblemKind::Entry,
                &entry.name,
                format!("entry is an array of {n} elements, not 3"),
            );
            ok = false;
        }
        entry.valid = ok;
        Ok(entry)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Entry, E> {
        Ok(self.scalar(&de::Unexpected::Bool(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Entry, E> {
        Ok(self.scalar(&de::Unexpected::Unsigned(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Entry, E> {
        Ok(self.scalar(&de::Unexpected::Signed(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Entry, E> {
        Ok(self.scalar(&de::Unexpected::Float(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Entry, E> {
        let name = self.name.clone();
        self.header.candidate(|| name, v);
        Ok(self.scalar(&de::Unexpected::Str(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Entry, E> {
        Ok(self.scalar(&de::Unexpected::Unit))
    }
}

impl EntrySeed<'_> {
    fn scalar(self, u: &de::Unexpected<'_>) -> Entry {
        self.header.problem(
            ProblemKind::Entry,
            &self.name,
            format!("entry is {}, not an object", kind_of_unexpected(u)),
        );
        Entry {
            name: self.name,
            index: self.index,
            ..Entry::default()
        }
    }
}

/// A field's value as read.
enum FieldValue {
    Dtype(Result<Dtype, String>, Vec<Quirk>),
    Shape(Result<Shape, String>),
    Offsets(Result<(u64, u64), String>),
    Other(&'static str),
}

/// Reads the value of one known field.
struct AnySeedOrShape<'h> {
    header: &'h mut Header,
    at: &'h str,
    field: Field,
}

impl<'de> DeserializeSeed<'de> for AnySeedOrShape<'_> {
    type Value = FieldValue;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<FieldValue, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AnySeedOrShape<'_> {
    type Value = FieldValue;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tensor field")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<FieldValue, E> {
        Ok(self.string(v, false))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldValue, E> {
        Ok(self.string(v, true))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<FieldValue, E> {
        Ok(FieldValue::Other("a boolean"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<FieldValue, E> {
        Ok(FieldValue::Other("an integer"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<FieldValue, E> {
        Ok(FieldValue::Other("an integer"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<FieldValue, E> {
        Ok(FieldValue::Other("a number"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<FieldValue, E> {
        Ok(FieldValue::Other("null"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FieldValue, A::Error> {
        match self.field {
            Field::Shape => {
                let mut shape = Shape {
                    elements: Some(1),
                    ..Shape::default()
                };
                let mut nonzero: Option<u64> = Some(1);
                let mut bad: Option<&'static str> = None;
                while let Some(n) = seq.next_element_seed(Number)? {
                    match n {
                        Num::U(d) => {
                            shape.rank += 1;
                            if shape.dims.len() < KEPT_DIMS {
                                shape.dims.push(d);
                            }
                            shape.elements = shape.elements.and_then(|e| e.checked_mul(d));
                            if d != 0 {
                                nonzero = nonzero.and_then(|e| e.checked_mul(d));
                            }
                        }
                        Num::Bad(kind) => {
                            shape.rank += 1;
                            bad.get_or_insert(kind);
                        }
                    }
                }
                shape.absurd = nonzero.is_none();
                Ok(FieldValue::Shape(match bad {
                    Some(kind) => Err(format!("`shape` holds {kind}, not a non-negative integer")),
                    None => Ok(shape),
                }))
            }
            Field::Offsets => {
                let mut vals = [0u64; 2];
                let mut n = 0usize;
                let mut bad: Option<&'static str> = None;
                while let Some(v) = seq.next_element_seed(Number)? {
                    match v {
                        Num::U(x) if n < 2 => vals[n] = x,
                        Num::U(_) => {}
                        Num::Bad(kind) => {
                            bad.get_or_insert(kind);
                        }
                    }
                    n += 1;
                }
                Ok(FieldValue::Offsets(match (bad, n) {
                    (Some(kind), _) => Err(format!(
                        "`data_offsets` holds {kind}, not a non-negative integer"
                    )),
                    (None, 2) => Ok((vals[0], vals[1])),
                    (None, n) => Err(format!("`data_offsets` has {n} elements, not 2")),
                }))
            }
            Field::Dtype => {
                while seq
                    .next_element_seed(Skim {
                        header: &mut *self.header,
                        at: self.at,
                    })?
                    .is_some()
                {}
                Ok(FieldValue::Other("an array"))
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FieldValue, A::Error> {
        if self.field != Field::Dtype {
            AnySeed {
                header: self.header,
                at: self.at,
            }
            .visit_map(map)?;
            return Ok(FieldValue::Other("an object"));
        }
        // The loader's externally tagged enum: exactly one key naming the variant, value null.
        let mut keys = 0usize;
        let mut variant: Option<Key> = None;
        let mut unit = true;
        while let Some(k) = map.next_key_seed(KeySeed)? {
            keys += 1;
            let v = map.next_value_seed(AnySeed {
                header: &mut *self.header,
                at: self.at,
            })?;
            unit &= matches!(v, Seen::Null);
            variant.get_or_insert(k);
        }
        let result = match variant {
            Some(k) if keys == 1 && unit => match dtype(&k.text) {
                Some(d) => {
                    let mut q = vec![Quirk::DtypeAsMap];
                    if k.escaped {
                        q.push(Quirk::EscapedKeyword);
                    }
                    return Ok(FieldValue::Dtype(Ok(d), q));
                }
                None => Err(format!("unknown dtype `{}`", truncate(&k.text))),
            },
            _ => Err("`dtype` is an object that is not a one-key map to null".to_owned()),
        };
        Ok(FieldValue::Dtype(result, Vec::new()))
    }
}

impl AnySeedOrShape<'_> {
    fn string(self, v: &str, escaped: bool) -> FieldValue {
        if self.field != Field::Dtype {
            self.header.candidate(|| self.at.to_owned(), v);
            return FieldValue::Other("a string");
        }
        match dtype(v) {
            Some(d) => FieldValue::Dtype(
                Ok(d),
                if escaped {
                    vec![Quirk::EscapedKeyword]
                } else {
                    Vec::new()
                },
            ),
            None => {
                self.header.candidate(|| self.at.to_owned(), v);
                FieldValue::Dtype(Err(format!("unknown dtype `{}`", truncate(v))), Vec::new())
            }
        }
    }
}

/// Shortens a value quoted in a message.
pub(super) fn truncate(s: &str) -> String {
    const MAX: usize = 64;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// An array element that should be a non-negative integer.
enum Num {
    U(u64),
    Bad(&'static str),
}

struct Number;

impl<'de> DeserializeSeed<'de> for Number {
    type Value = Num;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Num, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Number {
    type Value = Num;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a non-negative integer")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
        Ok(Num::U(v))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Num, E> {
        Ok(Num::Bad("a negative integer"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Num, E> {
        Ok(Num::Bad(
            "a number with a fraction, an exponent or more than 64 bits",
        ))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Num, E> {
        Ok(Num::Bad("a boolean"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Num, E> {
        Ok(Num::Bad("a string"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Num, E> {
        Ok(Num::Bad("null"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Num, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Num::Bad("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Num, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Num::Bad("an object"))
    }
}
