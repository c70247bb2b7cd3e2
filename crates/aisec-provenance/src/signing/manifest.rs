//! The manifest (every resource of a model with its digest) and the in-toto statement that carries
//! it: predicate `https://model_signing/signature/v1.0`, and the legacy v0.1 digests predicate.
//!
//! Interop details that decide whether another implementation accepts our statements:
//! - resources are ordered by path *components* (`a/b` before `a-b`, as `PurePosixPath` compares),
//!   then by the numeric start and end offsets of a shard (`w:1000:2000` before `w:10000:11000`);
//! - a shard's resource name is `path:start:end` and its algorithm `<hash>-sharded-<shard size>`;
//! - the subject digest is SHA-256 over the concatenated resource digests, in that order;
//! - numbers in the predicate may arrive as floats (`1000000.0`): the reference writes the
//!   predicate through a protobuf `Struct`, whose numbers are doubles.

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use super::SigningError;
use super::hashing::{HashAlg, sha256};

/// The in-toto statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The model-signing v1.0 predicate.
pub const PREDICATE_V1: &str = "https://model_signing/signature/v1.0";
/// The v0.1 predicate (one subject per file), accepted when verifying.
pub const PREDICATE_V01: &str = "https://model_signing/Digests/v0.1";
/// The DSSE payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The model name the reference gives a v0.1 statement, which carries none.
pub const V01_MODEL_NAME: &str = "compat-undefined-not-present";

/// Most resources one statement may list (a 100 TB model in 10 MB shards).
const MAX_RESOURCES: usize = 10_000_000;

/// How a model was cut into resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// One resource per file.
    Files,
    /// Each file cut into shards of this many bytes (the last one shorter; empty files have none).
    Shards(u64),
}

/// The serialization parameters a signature records so a verifier can redo the same cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serialization {
    /// Files or shards.
    pub method: Method,
    /// The hash.
    pub hash: HashAlg,
    /// Whether symbolic links to files were followed (otherwise a link is an error).
    pub allow_symlinks: bool,
    /// Paths relative to the model root left out, with everything below them.
    pub ignore_paths: Vec<String>,
}

impl Serialization {
    /// The `algorithm` recorded for each resource.
    #[must_use]
    pub fn resource_algorithm(&self) -> String {
        match self.method {
            Method::Files => self.hash.name().to_owned(),
            Method::Shards(size) => format!("{}-sharded-{size}", self.hash.name()),
        }
    }

    fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert(
            "method".into(),
            match self.method {
                Method::Files => "files",
                Method::Shards(_) => "shards",
            }
            .into(),
        );
        m.insert("hash_type".into(), self.hash.name().into());
        if let Method::Shards(size) = self.method {
            m.insert("shard_size".into(), size.into());
        }
        m.insert("allow_symlinks".into(), self.allow_symlinks.into());
        if !self.ignore_paths.is_empty() {
            m.insert("ignore_paths".into(), self.ignore_paths.clone().into());
        }
        Value::Object(m)
    }

    fn from_json(v: &Value) -> Result<Self, SigningError> {
        let bad = |what: &str| SigningError::Malformed(format!("predicate.serialization: {what}"));
        let method = v
            .get("method")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no `method`"))?;
        let hash_name = v
            .get("hash_type")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no `hash_type`"))?;
        let hash = HashAlg::from_name(hash_name)
            .ok_or_else(|| bad(&format!("unknown hash_type `{hash_name}`")))?;
        let method =
            match method {
                "files" => Method::Files,
                "shards" => {
                    let size = v.get("shard_size").ok_or_else(|| bad("no `shard_size`"))?;
                    Method::Shards(whole_number(size).filter(|&n| n > 0).ok_or_else(|| {
                        bad(&format!("shard_size {size} is not a positive integer"))
                    })?)
                }
                other => return Err(bad(&format!("unknown method `{other}`"))),
            };
        let allow_symlinks = match v.get("allow_symlinks") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            // Seen as the string "false" in v0.1-era documentation.
            Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
            Some(other) => return Err(bad(&format!("allow_symlinks {other} is not a boolean"))),
        };
        let mut ignore_paths = Vec::new();
        if let Some(list) = v.get("ignore_paths") {
            let list = list
                .as_array()
                .ok_or_else(|| bad("ignore_paths is not a list"))?;
            for p in list {
                ignore_paths.push(
                    p.as_str()
                        .ok_or_else(|| bad("ignore_paths holds a non-string"))?
                        .to_owned(),
                );
            }
        }
        Ok(Self {
            method,
            hash,
            allow_symlinks,
            ignore_paths,
        })
    }
}

/// An integer that may be written as a float (`1000000000.0`).
fn whole_number(v: &Value) -> Option<u64> {
    if let Some(n) = v.as_u64() {
        return Some(n);
    }
    let f = v.as_f64()?;
    // 2^53: above it a double no longer holds every integer, so the size would be a guess.
    (f.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&f)).then_some(f as u64)
}

/// One resource: a file, or a shard of one, with its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// POSIX path relative to the model root (`.` when the model is one file).
    pub path: String,
    /// The shard's byte range, for shard serialization.
    pub range: Option<(u64, u64)>,
    /// The digest.
    pub digest: Vec<u8>,
}

impl Resource {
    /// The resource name in the statement: the path, or `path:start:end` for a shard.
    #[must_use]
    pub fn name(&self) -> String {
        match self.range {
            None => self.path.clone(),
            Some((s, e)) => format!("{}:{s}:{e}", self.path),
        }
    }

    /// The digest in lowercase hex.
    #[must_use]
    pub fn digest_hex(&self) -> String {
        hex(&self.digest)
    }

    /// The reference's order: path components, then shard start, then end.
    fn order(&self, other: &Self) -> Ordering {
        self.path
            .split('/')
            .cmp(other.path.split('/'))
            .then_with(|| self.range.cmp(&other.range))
    }
}

/// Lowercase hex of bytes.
#[must_use]
pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A model's manifest: its name, how it was serialized, and every resource in canonical order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Informative only (the final component of the model path); not compared when verifying.
    pub model_name: String,
    /// How the resources were cut and hashed.
    pub serialization: Serialization,
    /// Resources in canonical order.
    pub resources: Vec<Resource>,
}

impl Manifest {
    /// Builds a manifest, putting the resources in canonical order.
    #[must_use]
    pub fn new(
        model_name: String,
        serialization: Serialization,
        mut resources: Vec<Resource>,
    ) -> Self {
        resources.sort_by(Resource::order);
        Self {
            model_name,
            serialization,
            resources,
        }
    }

    /// SHA-256 over the concatenated resource digests: the statement's subject digest.
    #[must_use]
    pub fn root_digest(&self) -> [u8; 32] {
        let mut all = Vec::with_capacity(self.resources.iter().map(|r| r.digest.len()).sum());
        for r in &self.resources {
            all.extend_from_slice(&r.digest);
        }
        sha256(&all)
    }

    /// The in-toto v1 statement with the v1.0 predicate, as the DSSE payload bytes.
    #[must_use]
    pub fn statement(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Statement<'a> {
            #[serde(rename = "_type")]
            ty: &'a str,
            subject: [Subject<'a>; 1],
            #[serde(rename = "predicateType")]
            predicate_type: &'a str,
            predicate: Predicate,
        }
        #[derive(Serialize)]
        struct Subject<'a> {
            name: &'a str,
            digest: Sha256Digest,
        }
        #[derive(Serialize)]
        struct Sha256Digest {
            sha256: String,
        }
        #[derive(Serialize)]
        struct Predicate {
            serialization: Value,
            resources: Vec<ResourceJson>,
        }
        #[derive(Serialize)]
        struct ResourceJson {
            name: String,
            algorithm: String,
            digest: String,
        }
        let algorithm = self.serialization.resource_algorithm();
        let statement = Statement {
            ty: STATEMENT_TYPE,
            subject: [Subject {
                name: &self.model_name,
                digest: Sha256Digest {
                    sha256: hex(&self.root_digest()),
                },
            }],
            predicate_type: PREDICATE_V1,
            predicate: Predicate {
                serialization: self.serialization.to_json(),
                resources: self
                    .resources
                    .iter()
                    .map(|r| ResourceJson {
                        name: r.name(),
                        algorithm: algorithm.clone(),
                        digest: r.digest_hex(),
                    })
                    .collect(),
            },
        };
        serde_json::to_vec_pretty(&statement).expect("a statement always serializes")
    }

    /// Reads a statement (v1.0, or the legacy v0.1 predicate), checking its internal consistency:
    /// the statement type, one subject whose digest matches the resources, one algorithm per
    /// resource that matches the serialization, well-formed names, no duplicates.
    pub fn from_statement(payload: &[u8]) -> Result<Self, SigningError> {
        let bad = |what: String| SigningError::Malformed(what);
        let v: Value = serde_json::from_slice(payload)
            .map_err(|e| bad(format!("the signed payload is not JSON: {e}")))?;
        let ty = v.get("_type").and_then(Value::as_str).unwrap_or_default();
        if ty != STATEMENT_TYPE {
            return Err(bad(format!(
                "expected an in-toto statement `{STATEMENT_TYPE}`, found `{ty}`"
            )));
        }
        let subjects = v
            .get("subject")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("the statement has no subject list".into()))?;
        let predicate_type = v
            .get("predicateType")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match predicate_type {
            PREDICATE_V1 => {}
            PREDICATE_V01 => return Self::from_v01(subjects),
            other => {
                return Err(bad(format!(
                    "unknown predicate type `{other}` (expected `{PREDICATE_V1}` or `{PREDICATE_V01}`)"
                )));
            }
        }
        let [subject] = subjects.as_slice() else {
            return Err(bad(format!(
                "expected one subject, found {}",
                subjects.len()
            )));
        };
        let model_name = subject
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let expected_root = subject
            .pointer("/digest/sha256")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("the subject has no sha256 digest".into()))?;
        let predicate = v
            .get("predicate")
            .ok_or_else(|| bad("no predicate".into()))?;
        let serialization = Serialization::from_json(
            predicate
                .get("serialization")
                .ok_or_else(|| bad("the predicate has no serialization".into()))?,
        )?;
        let list = predicate
            .get("resources")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("the predicate has no resources".into()))?;
        if list.len() > MAX_RESOURCES {
            return Err(bad(format!(
                "{} resources (at most {MAX_RESOURCES})",
                list.len()
            )));
        }
        let algorithm = serialization.resource_algorithm();
        let mut resources = Vec::with_capacity(list.len());
        let mut all = Vec::new();
        for r in list {
            let name = r.get("name").and_then(Value::as_str).unwrap_or_default();
            let alg = r
                .get("algorithm")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if alg != algorithm {
                return Err(bad(format!(
                    "resource `{name}` uses `{alg}`, the serialization says `{algorithm}`"
                )));
            }
            let digest = r
                .get("digest")
                .and_then(Value::as_str)
                .and_then(unhex)
                .filter(|d| d.len() == serialization.hash.digest_len())
                .ok_or_else(|| bad(format!("resource `{name}` has no valid {alg} digest")))?;
            all.extend_from_slice(&digest);
            let (path, range) = match serialization.method {
                Method::Files => (name.to_owned(), None),
                Method::Shards(size) => {
                    let (path, s, e) = split_shard_name(name).ok_or_else(|| {
                        bad(format!("shard name `{name}` is not `path:start:end`"))
                    })?;
                    if e <= s || e - s > size {
                        return Err(bad(format!(
                            "shard `{name}` does not fit shard size {size}"
                        )));
                    }
                    (path.to_owned(), Some((s, e)))
                }
            };
            check_resource_path(&path).map_err(bad)?;
            resources.push(Resource {
                path,
                range,
                digest,
            });
        }
        let root = hex(&sha256(&all));
        if !root.eq_ignore_ascii_case(expected_root) {
            return Err(bad(format!(
                "the subject digest {expected_root} does not match the resources (they hash to {root})"
            )));
        }
        let m = Self::new(model_name, serialization, resources);
        if let Some(w) = m
            .resources
            .windows(2)
            .find(|w| w[0].order(&w[1]) == Ordering::Equal)
        {
            return Err(bad(format!("resource `{}` is listed twice", w[0].name())));
        }
        Ok(m)
    }

    fn from_v01(subjects: &[Value]) -> Result<Self, SigningError> {
        if subjects.len() > MAX_RESOURCES {
            return Err(SigningError::Malformed(format!(
                "{} subjects",
                subjects.len()
            )));
        }
        let mut resources = Vec::with_capacity(subjects.len());
        for s in subjects {
            let name = s.get("name").and_then(Value::as_str).unwrap_or_default();
            let digest = s
                .pointer("/digest/sha256")
                .and_then(Value::as_str)
                .and_then(unhex)
                .filter(|d| d.len() == 32)
                .ok_or_else(|| {
                    SigningError::Malformed(format!("subject `{name}` has no valid sha256 digest"))
                })?;
            check_resource_path(name).map_err(SigningError::Malformed)?;
            resources.push(Resource {
                path: name.to_owned(),
                range: None,
                digest,
            });
        }
        Ok(Self::new(
            V01_MODEL_NAME.to_owned(),
            Serialization {
                method: Method::Files,
                hash: HashAlg::Sha256,
                allow_symlinks: false,
                ignore_paths: Vec::new(),
            },
            resources,
        ))
    }
}

/// Splits `path:start:end` from the right, so a path that holds `:` still parses.
fn split_shard_name(name: &str) -> Option<(&str, u64, u64)> {
    let mut it = name.rsplitn(3, ':');
    let end = it.next()?.parse().ok()?;
    let start = it.next()?.parse().ok()?;
    let path = it.next()?;
    Some((path, start, end))
}

/// A resource path must stay inside the model: relative, no `..`, no empty components.
fn check_resource_path(path: &str) -> Result<(), String> {
    if path == "." {
        return Ok(());
    }
    if path.is_empty()
        || path.starts_with('/')
        || path.contains('\0')
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(format!(
            "resource path `{path}` is not a plain relative path"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(path: &str, range: Option<(u64, u64)>) -> Resource {
        Resource {
            path: path.into(),
            range,
            digest: vec![0; 32],
        }
    }

    fn ser(method: Method) -> Serialization {
        Serialization {
            method,
            hash: HashAlg::Sha256,
            allow_symlinks: false,
            ignore_paths: vec![".git".into()],
        }
    }

    #[test]
    fn resources_sort_by_path_components_then_numeric_offsets() {
        let m = Manifest::new(
            "m".into(),
            ser(Method::Shards(1000)),
            vec![
                res("a-b", Some((0, 5))),
                res("a/b", Some((10_000, 10_500))),
                res("a/b", Some((2000, 3000))),
                res("a.b", Some((0, 1))),
                res("a/b", Some((0, 1000))),
            ],
        );
        let names: Vec<_> = m.resources.iter().map(Resource::name).collect();
        assert_eq!(
            names,
            [
                "a/b:0:1000",
                "a/b:2000:3000",
                "a/b:10000:10500",
                "a-b:0:5",
                "a.b:0:1"
            ]
        );
    }

    #[test]
    fn a_statement_round_trips_and_float_shard_sizes_are_accepted() {
        let m = Manifest::new(
            "model".into(),
            ser(Method::Shards(1000)),
            vec![
                res("w.bin", Some((0, 1000))),
                res("w.bin", Some((1000, 1500))),
            ],
        );
        let bytes = m.statement();
        assert_eq!(Manifest::from_statement(&bytes).unwrap(), m);
        let text = String::from_utf8(bytes)
            .unwrap()
            .replace("\"shard_size\": 1000", "\"shard_size\": 1000.0");
        assert!(text.contains("1000.0"));
        assert_eq!(Manifest::from_statement(text.as_bytes()).unwrap(), m);
    }

    #[test]
    fn inconsistent_statements_are_refused() {
        let m = Manifest::new(
            "model".into(),
            ser(Method::Files),
            vec![res("a", None), res("b", None)],
        );
        let text = String::from_utf8(m.statement()).unwrap();
        let cases = [
            text.replace("\"name\": \"a\"", "\"name\": \"../a\""),
            text.replace("\"name\": \"b\"", "\"name\": \"a\""),
            text.replacen("0000000000000000", "0000000000000001", 1),
            text.replace("signature/v1.0", "signature/v9"),
            text.replace("\"algorithm\": \"sha256\"", "\"algorithm\": \"blake3\""),
        ];
        for c in cases {
            assert!(Manifest::from_statement(c.as_bytes()).is_err(), "{c}");
        }
    }

    #[test]
    fn shard_names_with_colons_split_from_the_right() {
        assert_eq!(split_shard_name("a:b:0:10"), Some(("a:b", 0, 10)));
        assert_eq!(split_shard_name("a:0"), None);
    }
}
