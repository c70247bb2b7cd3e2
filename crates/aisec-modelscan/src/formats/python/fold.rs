//! Constant folding of string expressions: what an obfuscated name or payload evaluates to,
//! computed without running anything. Bounded in depth, in output size and in total work.

use std::io::Read;

use tree_sitter::Node;

pub(super) use crate::codec::hex_decode;

/// Longest folded value kept.
pub(super) const MAX_FOLDED: usize = 1 << 20;

/// Decodes the text of a `string` node (without interpolations) into its value. `None` for
/// f-strings with interpolations.
pub(super) fn string_value(node: Node<'_>, src: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut raw = false;
    for i in 0..node.child_count() {
        let child = node.child(i)?;
        match child.kind() {
            "string_start" => {
                let prefix = src.get(child.start_byte()..child.end_byte())?;
                raw = prefix.iter().any(|b| matches!(b, b'r' | b'R'));
            }
            "string_content" => {
                let text = src.get(child.start_byte()..child.end_byte())?;
                if raw {
                    out.extend_from_slice(text);
                } else {
                    unescape(text, &mut out);
                }
            }
            "interpolation" => return None,
            _ => {}
        }
        if out.len() > MAX_FOLDED {
            return None;
        }
    }
    Some(out)
}

/// Python's backslash escapes (`\n`, `\xNN`, `\uNNNN`, octal); unknown escapes stay as written.
fn unescape(text: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if b != b'\\' || i + 1 >= text.len() {
            out.push(b);
            i += 1;
            continue;
        }
        let e = text[i + 1];
        i += 2;
        match e {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                let mut n = 1;
                while n < 3 && i < text.len() && (b'0'..=b'7').contains(&text[i]) {
                    v = v * 8 + u32::from(text[i] - b'0');
                    i += 1;
                    n += 1;
                }
                push_char(v, out);
            }
            b'x' | b'u' | b'U' => {
                let len = match e {
                    b'x' => 2,
                    b'u' => 4,
                    _ => 8,
                };
                let hex = text
                    .get(i..i + len)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u32::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        push_char(v, out);
                        i += len;
                    }
                    None => out.extend_from_slice(&[b'\\', e]),
                }
            }
            b'\n' => {}
            b'\\' | b'\'' | b'"' => out.push(e),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            _ => out.extend_from_slice(&[b'\\', e]),
        }
    }
}

fn push_char(v: u32, out: &mut Vec<u8>) {
    match char::from_u32(v) {
        Some(c) if v < 0x80 => out.push(c as u8),
        Some(c) => {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        None => out.push(b'?'),
    }
}

/// Standard or URL-safe base64, padding optional, whitespace ignored.
pub(super) fn base64_decode(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0u32;
    for &b in data {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// ROT13 of ASCII letters.
pub(super) fn rot13(data: &[u8]) -> Vec<u8> {
    data.iter()
        .map(|&b| match b {
            b'a'..=b'z' => (b - b'a' + 13) % 26 + b'a',
            b'A'..=b'Z' => (b - b'A' + 13) % 26 + b'A',
            _ => b,
        })
        .collect()
}

/// zlib, gzip or bzip2 decompression, bounded by [`MAX_FOLDED`].
pub(super) fn decompress(kind: &str, data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let limit = MAX_FOLDED as u64 + 1;
    let ok = match kind {
        "zlib" => flate2::read::ZlibDecoder::new(data)
            .take(limit)
            .read_to_end(&mut out)
            .is_ok(),
        "gzip" => flate2::read::GzDecoder::new(data)
            .take(limit)
            .read_to_end(&mut out)
            .is_ok(),
        "bz2" => bzip2::read::BzDecoder::new(data)
            .take(limit)
            .read_to_end(&mut out)
            .is_ok(),
        // xz/lzma streams declare their own dictionary size; not worth the memory risk here.
        _ => false,
    };
    (ok && out.len() <= MAX_FOLDED).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoders() {
        assert_eq!(base64_decode(b"b3M=").unwrap(), b"os");
        assert_eq!(base64_decode(b"b3M").unwrap(), b"os");
        assert!(base64_decode(b"b3M*").is_none());
        assert_eq!(hex_decode(b"6f73").unwrap(), b"os");
        assert!(hex_decode(b"6f7").is_none());
        assert_eq!(rot13(b"bf.flfgrz"), b"os.system");
        let mut out = Vec::new();
        unescape(br"\x6f\163\n\u0041\q", &mut out);
        assert_eq!(out, b"os\nA\\q");
    }

    #[test]
    fn zlib_round_trip() {
        use std::io::Write;
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b"import os").unwrap();
        let z = e.finish().unwrap();
        assert_eq!(decompress("zlib", &z).unwrap(), b"import os");
        assert!(decompress("zlib", b"junk").is_none());
    }
}
