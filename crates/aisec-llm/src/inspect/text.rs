//! Text normalisation shared by the detectors: invisible characters removed, letters and digits
//! compacted (so spacing, dashes and case do not hide a match), and the reversible encodings a
//! model may wrap a secret in.

/// Whether `c` renders as nothing: zero-width spaces and joiners, the byte-order mark, the soft
/// hyphen, word joiners, variation selectors and Unicode tag characters.
#[must_use]
pub fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{FE00}'..='\u{FE0F}'
        | '\u{E0000}'..='\u{E007F}')
}

/// `s` without its invisible characters.
#[must_use]
pub fn visible(s: &str) -> String {
    s.chars().filter(|c| !invisible(*c)).collect()
}

/// The letters and digits of `s`, lowercased, each with the byte offset in `s` where it starts.
#[must_use]
pub fn compact(s: &str) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(s.len());
    let mut at = Vec::with_capacity(s.len());
    for (i, c) in s.char_indices() {
        if c.is_alphanumeric() {
            for l in c.to_lowercase() {
                out.push(l);
                at.extend(std::iter::repeat_n(i, l.len_utf8()));
            }
        }
    }
    (out, at)
}

/// The letters and digits of `s`, lowercased.
#[must_use]
pub fn compact_str(s: &str) -> String {
    compact(s).0
}

/// The lowercase words (runs of letters and digits) of `s`; invisible characters do not split one.
#[must_use]
pub fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        if c.is_alphanumeric() {
            cur.extend(c.to_lowercase());
        } else if !invisible(c) && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// ROT13 of the ASCII letters of `s`.
#[must_use]
pub fn rot13(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' => (((c as u8 - b'a') + 13) % 26 + b'a') as char,
            'A'..='Z' => (((c as u8 - b'A') + 13) % 26 + b'A') as char,
            _ => c,
        })
        .collect()
}

/// `s` backwards.
#[must_use]
pub fn reversed(s: &str) -> String {
    s.chars().rev().collect()
}

/// Decodes base64 (standard or URL-safe alphabet, padding optional); None when `s` is not.
#[must_use]
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
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

/// Decodes hex digits (separators already removed); None when `s` is not an even run of them.
#[must_use]
pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect()
}

/// Decodes `%XX` escapes and `+` (as a space); bytes that do not form UTF-8 become U+FFFD.
#[must_use]
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Up to `max` bytes of `s` around `start..end`, widened by a little context on both sides and
/// cut at character boundaries.
#[must_use]
pub fn excerpt(s: &str, start: usize, end: usize, max: usize) -> String {
    const CONTEXT: usize = 40;
    let mut a = start.saturating_sub(CONTEXT);
    let mut b = (end + CONTEXT).min(s.len());
    if b - a > max {
        b = (a + max).min(s.len());
    }
    while a > 0 && !s.is_char_boundary(a) {
        a -= 1;
    }
    while b < s.len() && !s.is_char_boundary(b) {
        b += 1;
    }
    let mut out = String::new();
    if a > 0 {
        out.push('…');
    }
    out.push_str(&s[a..b]);
    if b < s.len() {
        out.push('…');
    }
    out
}

/// The first `max` bytes of `s`, cut at a character boundary.
#[must_use]
pub fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut b = max;
    while !s.is_char_boundary(b) {
        b -= 1;
    }
    &s[..b]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_round_trip() {
        assert_eq!(base64_decode("aGVsbG8gd29ybGQ=").unwrap(), b"hello world");
        assert_eq!(base64_decode("aGVsbG8").unwrap(), b"hello");
        assert!(base64_decode("not base64!").is_none());
        assert_eq!(hex_decode("68656c6c6f").unwrap(), b"hello");
        assert!(hex_decode("6g").is_none());
        assert_eq!(rot13("Hello"), "Uryyb");
        assert_eq!(percent_decode("a%20b+c%2"), "a b c%2");
        assert_eq!(compact_str("Z E-B\u{200B}R_a"), "zebra");
        assert_eq!(words("Don't  stop-now"), vec!["don", "t", "stop", "now"]);
        assert!(
            excerpt("é".repeat(100).as_str(), 50, 52, 20)
                .chars()
                .count()
                <= 14
        );
        assert_eq!(clip("héllo", 2), "h");
    }
}
