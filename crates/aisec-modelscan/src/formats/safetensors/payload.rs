//! Serialized payloads hidden in header strings or tensor bytes: pickles (as text, as latin-1
//! text, base64-encoded), archives and compressed streams. Only magic numbers and a bounded pickle
//! dry run decide; the driver then scans what is handed to it like any file.

use crate::pickle;

/// What a byte string is, when it is something a loader could deserialize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A pickle stream.
    Pickle,
    /// A zip archive (PyTorch, Keras, NumPy `.npz`).
    Zip,
    /// A gzip, bzip2, xz or zstd stream.
    Compressed,
}

impl Kind {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Pickle => "pickle",
            Self::Zip => "zip archive",
            Self::Compressed => "compressed stream",
        }
    }

    /// The extension the driver is given, so a pickle is parsed as one.
    pub(super) fn ext(self) -> Option<String> {
        match self {
            Self::Pickle => Some("pkl".into()),
            Self::Zip | Self::Compressed => None,
        }
    }
}

/// Bytes fed to the pickle dry run (a payload imports its callable within the first few hundred).
const DRY_RUN_BYTES: usize = 64 << 10;

/// Classifies bytes by their start.
pub(super) fn classify(b: &[u8]) -> Option<Kind> {
    if b.starts_with(b"PK\x03\x04") || b.starts_with(b"PK\x05\x06") {
        return Some(Kind::Zip);
    }
    if b.starts_with(&[0x1f, 0x8b])
        || b.starts_with(b"BZh")
        || b.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0])
        || b.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
    {
        return Some(Kind::Compressed);
    }
    let head = &b[..b.len().min(DRY_RUN_BYTES)];
    match head {
        [0x80, p, next, ..] if (2..=5).contains(p) && pickle::is_opcode(*next) => {
            Some(Kind::Pickle)
        }
        [first, ..] if *first != 0x80 && pickle::looks_like_pickle(head, false) => {
            Some(Kind::Pickle)
        }
        _ => None,
    }
}

/// Classifies tensor bytes, where chance matches must be rare: a zip local header, or a
/// protocol 2+ pickle that also passes the dry run. Compressed-stream magics are two or three bytes
/// and text pickles start with common bytes, so neither is looked for in weights.
pub(super) fn classify_strict(b: &[u8]) -> Option<Kind> {
    if b.starts_with(b"PK\x03\x04") {
        return Some(Kind::Zip);
    }
    let head = &b[..b.len().min(DRY_RUN_BYTES)];
    match head {
        [0x80, p, next, ..]
            if (2..=5).contains(p)
                && pickle::is_opcode(*next)
                && pickle::looks_like_pickle(head, false) =>
        {
            Some(Kind::Pickle)
        }
        _ => None,
    }
}

/// A cheap first filter on header strings: could this be a payload at all?
pub(super) fn worth_a_look(text: &str) -> bool {
    let b = text.as_bytes();
    let Some(&first) = b.first() else {
        return false;
    };
    // Protocol-0/1 pickle text opens with an opcode and holds a newline-terminated argument;
    // binary pickles kept as latin-1 text open with U+0080; base64 opens with its alphabet.
    (pickle::is_opcode(first) && b.contains(&b'\n'))
        || text.starts_with('\u{80}')
        || text.starts_with("PK")
        || text.starts_with("data:")
        || (b.len() >= 16 && b[..16].iter().all(|c| is_b64(*c)))
}

fn is_b64(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'-' | b'_' | b'=')
}

/// The bytes a header string stands for, when they are a payload: the text itself, its latin-1
/// encoding, or its base64 decoding.
pub(super) fn decode(text: &str) -> Option<(Vec<u8>, Kind, &'static str)> {
    if let Some(k) = classify(text.as_bytes()) {
        return Some((text.as_bytes().to_vec(), k, "text"));
    }
    if text.chars().any(|c| c as u32 >= 0x80) && text.chars().all(|c| (c as u32) < 0x100) {
        let bytes: Vec<u8> = text.chars().map(|c| c as u8).collect();
        if let Some(k) = classify(&bytes) {
            return Some((bytes, k, "latin-1 text"));
        }
    }
    let b64 = text
        .split_once(";base64,")
        .map_or(text, |(_, rest)| rest)
        .trim();
    if b64.len() >= 16
        && let Some(bytes) = base64(b64)
        && let Some(k) = classify(&bytes)
    {
        return Some((bytes, k, "base64"));
    }
    None
}

/// Decodes standard or URL-safe base64, padding optional, whitespace ignored; `None` on any other
/// character.
pub(super) fn base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut padded = false;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => {
                padded = true;
                continue;
            }
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        if padded {
            return None;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64_both_alphabets() {
        assert_eq!(base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64("aGVsbG8").unwrap(), b"hello");
        assert_eq!(base64("-_-_").unwrap(), base64("+/+/").unwrap());
        assert!(base64("a!b").is_none());
        assert!(base64("aGV=sbG8").is_none());
    }

    #[test]
    fn recognises_payloads_in_strings() {
        let p0 = "cposix\nsystem\n(S'echo aisec-fixture'\ntR.";
        assert_eq!(decode(p0).map(|d| d.1), Some(Kind::Pickle));
        let bin: &[u8] = b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00N.";
        let latin: String = bin.iter().map(|&b| char::from(b)).collect();
        assert_eq!(
            decode(&latin).map(|d| (d.1, d.2)),
            Some((Kind::Pickle, "latin-1 text"))
        );
        let b64 = "gASVBQAAAAAAAABOLg==";
        assert_eq!(
            decode(b64).map(|d| (d.1, d.2)),
            Some((Kind::Pickle, "base64"))
        );
        assert!(decode("pt").is_none());
        assert!(decode("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB").is_none());
        assert!(decode("{\"lr\": 0.0001, \"epochs\": 10}").is_none());
        assert!(worth_a_look("UEsDBAoAAAAAAAAAIQ"));
    }
}
