//! Rekor (v1) transparency-log entries, as a Sigstore bundle carries them, checked offline:
//!
//! - the inclusion promise (signed entry timestamp, SET): the log's signature over the canonical
//!   JSON `{"body":…,"integratedTime":…,"logID":"<hex>","logIndex":…}`;
//! - the inclusion proof: the RFC 6962 / RFC 9162 Merkle audit path from the hash of the entry's
//!   canonicalized body up to the root hash, and the checkpoint (a signed note) in which the log
//!   signed that root hash and tree size;
//! - that a `dsse` v0.0.1 body records this very envelope (payload hash, signature, certificate).
//!
//! Only what the log signed is read; nothing is fetched. Every length and count is bounded.

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::SigningError;
use super::bundle::{b64decode, b64encode};
use super::keys::PublicKey;
use super::manifest::hex;

/// Largest canonicalized body accepted (a `dsse` body holds hashes, a signature and a certificate).
const MAX_BODY: usize = 1 << 20;
/// Largest log entry read, as JSON text: the body in base64 plus the checkpoint and proof.
const MAX_ENTRY: usize = 2 << 20;
/// Largest checkpoint (signed note) accepted.
const MAX_CHECKPOINT: usize = 64 << 10;
/// Longest audit path accepted (a tree of 2^64 leaves needs 64).
const MAX_PROOF_HASHES: usize = 64;
/// Most signatures read from a checkpoint.
const MAX_NOTE_SIGNATURES: usize = 16;

/// A transparency-log entry.
#[derive(Debug, Clone)]
pub struct TlogEntry {
    /// The entry's index in the whole log (all shards).
    pub log_index: i64,
    /// The log's ID (SHA-256 of its key).
    pub log_id: Vec<u8>,
    /// The body's kind (`dsse`, `hashedrekord`, …).
    pub kind: String,
    /// The body's version.
    pub version: String,
    /// When the log integrated the entry (seconds since the epoch); absent in Rekor v2.
    pub integrated_time: Option<i64>,
    /// The signed entry timestamp.
    pub promise: Option<Vec<u8>>,
    /// The inclusion proof.
    pub proof: Option<InclusionProof>,
    /// The canonicalized body the log recorded.
    pub body: Vec<u8>,
}

/// A Merkle inclusion proof with its checkpoint.
#[derive(Debug, Clone)]
pub struct InclusionProof {
    /// The entry's index in the tree the proof is for (a shard's tree in Rekor v1).
    pub log_index: u64,
    /// The tree's root hash.
    pub root_hash: Vec<u8>,
    /// The tree's size.
    pub tree_size: u64,
    /// The audit path, leaf side first.
    pub hashes: Vec<Vec<u8>>,
    /// The signed note committing to the root hash and size.
    pub checkpoint: Option<String>,
}

fn malformed(msg: impl Into<String>) -> SigningError {
    SigningError::Malformed(format!("transparency-log entry: {}", msg.into()))
}

/// An int64 field, written as a string (protobuf JSON) or a number.
fn int(v: &Value, key: &str) -> Result<Option<i64>, SigningError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| malformed(format!("`{key}` is not an integer"))),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| malformed(format!("`{key}` is not an integer"))),
        Some(_) => Err(malformed(format!("`{key}` is not an integer"))),
    }
}

fn string<'a>(v: &'a Value, key: &str) -> Result<Option<&'a str>, SigningError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(malformed(format!("`{key}` is not a string"))),
    }
}

fn bytes(v: &Value, key: &str, max: usize) -> Result<Option<Vec<u8>>, SigningError> {
    let Some(s) = string(v, key)? else {
        return Ok(None);
    };
    if s.len() > max / 3 * 4 + 4 {
        return Err(malformed(format!("`{key}` is longer than {max} bytes")));
    }
    b64decode(s)
        .map(Some)
        .map_err(|_| malformed(format!("`{key}` is not base64")))
}

impl TlogEntry {
    /// Reads an entry of a bundle's `tlogEntries` from its JSON text, refusing one larger than a
    /// real entry can be (its body, checkpoint and proof are bounded below).
    pub fn parse_raw(raw: &serde_json::value::RawValue) -> Result<Self, SigningError> {
        if raw.get().len() > MAX_ENTRY {
            return Err(malformed(format!(
                "the entry is {} bytes (at most {MAX_ENTRY})",
                raw.get().len()
            )));
        }
        let v: Value = serde_json::from_str(raw.get())
            .map_err(|e| malformed(format!("the entry is not JSON: {e}")))?;
        Self::parse(&v)
    }

    /// Reads an entry of a bundle's `tlogEntries`.
    pub fn parse(v: &Value) -> Result<Self, SigningError> {
        let kv = v
            .get("kindVersion")
            .ok_or_else(|| malformed("no `kindVersion`"))?;
        let proof = match v.get("inclusionProof") {
            None | Some(Value::Null) => None,
            Some(p) => {
                let hashes = match p.get("hashes") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(a)) if a.len() <= MAX_PROOF_HASHES => a
                        .iter()
                        .map(|h| {
                            h.as_str()
                                .and_then(|s| (s.len() <= 128).then(|| b64decode(s).ok())?)
                                .ok_or_else(|| malformed("an inclusion-proof hash is not base64"))
                        })
                        .collect::<Result<_, _>>()?,
                    Some(_) => {
                        return Err(malformed(format!(
                            "the inclusion proof's `hashes` is not a list of at most {MAX_PROOF_HASHES}"
                        )));
                    }
                };
                let checkpoint = match p.get("checkpoint") {
                    None | Some(Value::Null) => None,
                    Some(c) => match string(c, "envelope")? {
                        Some(s) if s.len() > MAX_CHECKPOINT => {
                            return Err(malformed(format!(
                                "the checkpoint is longer than {MAX_CHECKPOINT} bytes"
                            )));
                        }
                        s => s.map(str::to_owned),
                    },
                };
                let unsigned = |k: &str| {
                    int(p, k)?
                        .and_then(|i| u64::try_from(i).ok())
                        .ok_or_else(|| malformed(format!("the inclusion proof has no valid `{k}`")))
                };
                Some(InclusionProof {
                    log_index: unsigned("logIndex")?,
                    tree_size: unsigned("treeSize")?,
                    root_hash: bytes(p, "rootHash", 64)?
                        .ok_or_else(|| malformed("the inclusion proof has no `rootHash`"))?,
                    hashes,
                    checkpoint,
                })
            }
        };
        Ok(Self {
            log_index: int(v, "logIndex")?.ok_or_else(|| malformed("no `logIndex`"))?,
            log_id: v
                .get("logId")
                .map(|l| bytes(l, "keyId", 64))
                .transpose()?
                .flatten()
                .ok_or_else(|| malformed("no `logId.keyId`"))?,
            kind: string(kv, "kind")?.unwrap_or_default().to_owned(),
            version: string(kv, "version")?.unwrap_or_default().to_owned(),
            integrated_time: int(v, "integratedTime")?.filter(|t| *t != 0),
            promise: v
                .get("inclusionPromise")
                .map(|p| bytes(p, "signedEntryTimestamp", 1024))
                .transpose()?
                .flatten(),
            proof,
            body: bytes(v, "canonicalizedBody", MAX_BODY)?
                .ok_or_else(|| malformed("no `canonicalizedBody`"))?,
        })
    }

    /// The canonical JSON the log signed as the inclusion promise.
    #[must_use]
    pub fn promise_payload(&self, integrated_time: i64) -> Vec<u8> {
        // Keys in order, no spaces; base64 and hex need no JSON escaping.
        format!(
            r#"{{"body":"{}","integratedTime":{integrated_time},"logID":"{}","logIndex":{}}}"#,
            b64encode(&self.body),
            hex(&self.log_id),
            self.log_index
        )
        .into_bytes()
    }

    /// Checks the inclusion promise with the log's key.
    pub fn verify_promise(&self, key: &PublicKey) -> Result<(), SigningError> {
        let (Some(t), Some(set)) = (self.integrated_time, &self.promise) else {
            return Err(SigningError::Transparency(
                "the entry carries no inclusion promise with an integrated time".into(),
            ));
        };
        if key.verify(&self.promise_payload(t), set) {
            Ok(())
        } else {
            Err(SigningError::Transparency(format!(
                "the inclusion promise (signed entry timestamp) of entry {} does not verify with \
                 the log's key: the entry, its time or its index was altered, or another key signed it",
                self.log_index
            )))
        }
    }

    /// Checks the inclusion proof against the checkpoint, signed with the log's key.
    pub fn verify_inclusion(&self, key: &PublicKey) -> Result<(), SigningError> {
        let p = self.proof.as_ref().ok_or_else(|| {
            SigningError::Transparency("the entry carries no inclusion proof".into())
        })?;
        let leaf = leaf_hash(&self.body);
        let root = root_from_proof(p.log_index, p.tree_size, &leaf, &p.hashes)
            .map_err(|e| SigningError::Transparency(format!("inclusion proof: {e}")))?;
        if root.as_slice() != p.root_hash {
            return Err(SigningError::Transparency(format!(
                "inclusion proof: the audit path leads to root {}, not to the proof's root hash {}",
                hex(&root),
                hex(&p.root_hash)
            )));
        }
        let cp = p.checkpoint.as_deref().ok_or_else(|| {
            SigningError::Transparency("the inclusion proof carries no checkpoint".into())
        })?;
        verify_checkpoint(cp, key, &self.log_id, &p.root_hash, p.tree_size)
            .map_err(|e| SigningError::Transparency(format!("checkpoint: {e}")))
    }
}

/// RFC 6962 leaf hash.
#[must_use]
pub fn leaf_hash(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

fn node_hash(left: &[u8], right: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root an audit path leads to (RFC 9162, 2.1.3.2).
pub fn root_from_proof(
    index: u64,
    size: u64,
    leaf: &[u8; 32],
    path: &[Vec<u8>],
) -> Result<[u8; 32], String> {
    if index >= size {
        return Err(format!("leaf index {index} is outside a tree of {size}"));
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if p.len() != 32 {
            return Err(format!("a {}-byte hash in the audit path", p.len()));
        }
        if s == 0 {
            return Err("the audit path is longer than the tree is deep".into());
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err("the audit path is shorter than the tree is deep".into());
    }
    Ok(r)
}

/// Checks a Rekor checkpoint: a signed note whose text is `origin\nsize\nbase64(root)\n[…]` and
/// whose signature lines are `— name base64(key hint ‖ signature)`; the key hint is the first four
/// bytes of the log ID. The log's signature must verify and the note must name `root` and `size`.
pub fn verify_checkpoint(
    text: &str,
    key: &PublicKey,
    log_id: &[u8],
    root: &[u8],
    size: u64,
) -> Result<(), String> {
    let split = text
        .find("\n\n")
        .ok_or("no blank line between the note and its signatures")?;
    if text[split + 2..].contains("\n\n") {
        return Err("more than one blank line".into());
    }
    let (note, sigs) = (&text[..=split], &text[split + 2..]);
    if !sigs.ends_with('\n') {
        return Err("the signature block does not end with a newline".into());
    }
    let hint = log_id
        .get(..4)
        .ok_or("the log ID is shorter than 4 bytes")?;
    let mut found = false;
    for line in sigs.lines().take(MAX_NOTE_SIGNATURES) {
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            return Err(format!("`{line}` is not a signature line"));
        };
        let Some((_name, sig)) = rest.split_once(' ') else {
            return Err(format!("`{line}` is not a signature line"));
        };
        let Ok(raw) = b64decode(sig) else {
            return Err("a signature is not base64".into());
        };
        if raw.len() < 5 || &raw[..4] != hint {
            continue;
        }
        found = true;
        if key.verify(note.as_bytes(), &raw[4..]) {
            let mut lines = note.lines();
            let _origin = lines
                .next()
                .filter(|o| !o.is_empty())
                .ok_or("empty origin")?;
            let note_size: u64 = lines
                .next()
                .and_then(|l| l.parse().ok())
                .ok_or("the tree size is not a number")?;
            let note_root = lines
                .next()
                .and_then(|l| b64decode(l).ok())
                .ok_or("the root hash is not base64")?;
            if note_root != root {
                return Err(format!(
                    "the log signed root hash {}, the inclusion proof says {}",
                    hex(&note_root),
                    hex(root)
                ));
            }
            if note_size != size {
                return Err(format!(
                    "the log signed a tree of {note_size} entries, the inclusion proof says {size}"
                ));
            }
            return Ok(());
        }
    }
    Err(if found {
        "the signature under the log's key hint does not verify with the log's key".into()
    } else {
        format!("no signature by log {}", hex(log_id))
    })
}

/// Checks that a `dsse` v0.0.1 body records this envelope: the SHA-256 of `payload`, and exactly the
/// one signature `sig` with the signing certificate `leaf_der` as its verifier. (The envelope hash
/// it also records is over a serialization the bundle does not keep, so it cannot be checked.)
pub fn check_dsse_body(
    body: &[u8],
    kind: &str,
    version: &str,
    payload: &[u8],
    sig: &[u8],
    leaf_der: &[u8],
) -> Result<(), String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    if field(&v, "kind").as_deref() != Some(kind)
        || field(&v, "apiVersion").as_deref() != Some(version)
    {
        return Err(format!(
            "the body is not a {kind} {version} entry, unlike what the bundle says"
        ));
    }
    let spec = v.get("spec").ok_or("the body has no `spec`")?;
    let ph = spec
        .get("payloadHash")
        .ok_or("the body records no payload hash")?;
    if field(ph, "algorithm").as_deref() != Some("sha256") {
        return Err("the body's payload hash is not SHA-256".into());
    }
    let want = hex(&Sha256::digest(payload));
    let got = field(ph, "value").unwrap_or_default();
    if !got.eq_ignore_ascii_case(&want) {
        return Err(format!(
            "the logged payload hash is {got}, the envelope's payload hashes to {want}: the entry \
             records another statement"
        ));
    }
    let sigs = spec
        .get("signatures")
        .and_then(Value::as_array)
        .ok_or("the body records no signatures")?;
    let [s] = sigs.as_slice() else {
        return Err(format!(
            "the body records {} signatures; the envelope has one",
            sigs.len()
        ));
    };
    let logged_sig = field(s, "signature")
        .and_then(|b| b64decode(&b).ok())
        .ok_or("the logged signature is not base64")?;
    if logged_sig != sig {
        return Err("the logged signature is not the envelope's signature".into());
    }
    let verifier = field(s, "verifier")
        .and_then(|b| b64decode(&b).ok())
        .and_then(|pem| String::from_utf8(pem).ok())
        .ok_or("the logged verifier is not base64 PEM")?;
    let certs = super::x509::Cert::from_pem_file(&verifier)
        .map_err(|_| "the logged verifier is not a PEM certificate")?;
    if certs.len() != 1 || certs[0].der != leaf_der {
        return Err("the logged verifier is not the bundle's signing certificate".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The largest power of two below `n`.
    fn split(n: usize) -> usize {
        1 << (usize::BITS - 1 - (n - 1).leading_zeros())
    }

    fn tree(leaves: &[Vec<u8>]) -> [u8; 32] {
        if leaves.len() == 1 {
            return leaf_hash(&leaves[0]);
        }
        let k = split(leaves.len());
        node_hash(&tree(&leaves[..k]), &tree(&leaves[k..]))
    }

    fn path(m: usize, leaves: &[Vec<u8>]) -> Vec<Vec<u8>> {
        if leaves.len() == 1 {
            return Vec::new();
        }
        let k = split(leaves.len());
        if m < k {
            let mut p = path(m, &leaves[..k]);
            p.push(tree(&leaves[k..]).to_vec());
            p
        } else {
            let mut p = path(m - k, &leaves[k..]);
            p.push(tree(&leaves[..k]).to_vec());
            p
        }
    }

    #[test]
    fn audit_paths_lead_to_the_root_for_every_leaf_of_every_small_tree() {
        for n in 1..=17usize {
            let leaves: Vec<Vec<u8>> = (0..n).map(|i| vec![u8::try_from(i).unwrap()]).collect();
            let root = tree(&leaves);
            for m in 0..n {
                let p = path(m, &leaves);
                let (m64, n64) = (m as u64, n as u64);
                assert_eq!(
                    root_from_proof(m64, n64, &leaf_hash(&leaves[m]), &p).unwrap(),
                    root,
                    "{m} of {n}"
                );
                // Another leaf, a wrong index, a short or long path: another root or an error.
                assert_ne!(
                    root_from_proof(m64, n64, &leaf_hash(b"x"), &p).ok(),
                    Some(root)
                );
                if n > 1 {
                    assert_ne!(
                        root_from_proof((m64 + 1) % n64, n64, &leaf_hash(&leaves[m]), &p).ok(),
                        Some(root)
                    );
                    assert!(root_from_proof(m64, n64, &leaf_hash(&leaves[m]), &p[1..]).is_err());
                }
                let mut long = p.clone();
                long.push(vec![0; 32]);
                assert!(root_from_proof(m64, n64, &leaf_hash(&leaves[m]), &long).is_err());
            }
        }
        assert!(root_from_proof(3, 3, &[0; 32], &[]).is_err());
    }

    #[test]
    fn entries_with_bad_fields_are_malformed_not_panics() {
        for v in [
            serde_json::json!({}),
            serde_json::json!({"kindVersion": {"kind": "dsse", "version": "0.0.1"}}),
            serde_json::json!({"kindVersion": {}, "logIndex": "x", "logId": {"keyId": "AA=="}, "canonicalizedBody": "e30="}),
            serde_json::json!({"kindVersion": {}, "logIndex": 1, "logId": {"keyId": "AA=="}, "canonicalizedBody": "e30=",
                "inclusionProof": {"logIndex": "-1", "treeSize": "1", "rootHash": "AA=="}}),
            serde_json::json!({"kindVersion": {}, "logIndex": 1, "logId": {"keyId": "AA=="}, "canonicalizedBody": "e30=",
                "inclusionProof": {"logIndex": "0", "treeSize": "1", "rootHash": "AA==", "hashes": vec!["AA=="; 65]}}),
        ] {
            assert!(matches!(
                TlogEntry::parse(&v),
                Err(SigningError::Malformed(_))
            ));
        }
    }
}
