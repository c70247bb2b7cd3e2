//! Text-to-bytes decoders the analyses share (what a loader would decode before using a string).

/// Hex digits, whitespace ignored; `None` for an odd count or a non-hex character.
pub(crate) fn hex_decode(data: &[u8]) -> Option<Vec<u8>> {
    let clean: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if !clean.len().is_multiple_of(2) {
        return None;
    }
    clean
        .chunks_exact(2)
        .map(|c| u8::from_str_radix(std::str::from_utf8(c).ok()?, 16).ok())
        .collect()
}
