//! NumPy knowledge the scanner needs without NumPy: whether a dtype holds Python objects (then its
//! data is a pickle), the element size of a dtype (to skip array bytes), and the `.npy` header, which
//! NumPy reads with `ast.literal_eval`, so it is parsed here as a Python literal.

/// What matters about a dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dtype {
    /// Holds Python objects anywhere (a field, a subarray).
    pub(crate) object: bool,
    /// Bytes per element, when known.
    pub(crate) itemsize: Option<u64>,
}

/// Classifies a dtype string the way `numpy.dtype(s)` reads it: type codes with byte order and size
/// (`<f8`, `|O`, `U10`), names (`int64`, `object`), subarray prefixes (`(2,3)f4`) and comma-separated
/// structured specs (`i4,O`). `None` when the string is not a dtype this function knows.
pub(crate) fn typestr(s: &str) -> Option<Dtype> {
    let s = s.trim();
    let parts = top_level_parts(s);
    if parts.len() > 1 {
        let mut object = false;
        let mut size = Some(0u64);
        for part in parts.into_iter().filter(|p| !p.trim().is_empty()) {
            let d = typestr(part)?;
            object |= d.object;
            size = size.zip(d.itemsize).and_then(|(a, b)| a.checked_add(b));
        }
        return Some(Dtype {
            object,
            itemsize: size,
        });
    }
    // A subarray prefix: `(2,3)f4`.
    let (count, s) = match s.strip_prefix('(') {
        Some(rest) => {
            let (dims, tail) = rest.split_once(')')?;
            let n = dims
                .split(',')
                .filter(|d| !d.trim().is_empty())
                .try_fold(1u64, |acc, d| acc.checked_mul(d.trim().parse().ok()?))?;
            (n, tail)
        }
        None => (1, s),
    };
    let s = s.trim_start_matches(['<', '>', '=', '|']);
    let (object, size) = base(s)?;
    Some(Dtype {
        object,
        itemsize: size.and_then(|n| n.checked_mul(count)),
    })
}

/// Splits on commas outside parentheses and brackets (`(2,3)f4,i4` has two parts).
fn top_level_parts(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// (holds objects, element size) of a single dtype code or name.
fn base(s: &str) -> Option<(bool, Option<u64>)> {
    let named = match s {
        "object" | "object_" | "object0" | "O" => Some((true, 8)),
        "bool" | "bool_" | "bool8" | "?" | "b1" => Some((false, 1)),
        "int8" | "byte" | "b" | "i1" | "uint8" | "ubyte" | "B" | "u1" => Some((false, 1)),
        "int16" | "short" | "h" | "uint16" | "ushort" | "H" => Some((false, 2)),
        "int32" | "intc" | "i" | "uint32" | "uintc" | "I" => Some((false, 4)),
        "int64" | "int" | "int_" | "long" | "longlong" | "intp" | "l" | "q" | "p" | "uint64"
        | "uint" | "ulong" | "ulonglong" | "uintp" | "L" | "Q" | "P" => Some((false, 8)),
        "float16" | "half" | "e" => Some((false, 2)),
        "float32" | "single" | "f" => Some((false, 4)),
        "float64" | "float" | "float_" | "double" | "d" => Some((false, 8)),
        "float128" | "longdouble" | "longfloat" | "g" => Some((false, 16)),
        "complex64" | "csingle" | "singlecomplex" | "F" => Some((false, 8)),
        "complex128" | "complex" | "complex_" | "cdouble" | "cfloat" | "D" => Some((false, 16)),
        "complex256" | "clongdouble" | "clongfloat" | "longcomplex" | "G" => Some((false, 32)),
        _ => None,
    };
    if let Some((o, n)) = named {
        return Some((o, Some(n)));
    }
    // Datetimes: `M8[ns]`, `datetime64[s]`, `m8`, `timedelta64`.
    let stem = s.split('[').next().unwrap_or(s);
    if matches!(stem, "M" | "M8" | "m" | "m8" | "datetime64" | "timedelta64") {
        return Some((false, Some(8)));
    }
    if matches!(
        s,
        "str"
            | "str_"
            | "unicode"
            | "unicode_"
            | "U"
            | "bytes"
            | "bytes_"
            | "string_"
            | "S"
            | "a"
            | "void"
            | "V"
    ) {
        return Some((false, Some(0)));
    }
    let kind = s.chars().next()?;
    let digits = &s[kind.len_utf8()..];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    match kind {
        'O' => Some((true, Some(n))),
        'i' | 'u' | 'f' | 'c' | 'b' | 'S' | 'a' | 'V' => Some((false, Some(n))),
        'U' => Some((false, n.checked_mul(4))),
        _ => None,
    }
}

/// A Python literal, as `ast.literal_eval` accepts them (the subset `.npy` headers use).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Str(String),
    Int(i64),
    Float,
    Bool(bool),
    None,
    Tuple(Vec<Literal>),
    List(Vec<Literal>),
    Dict(Vec<(Literal, Literal)>),
}

/// Parses a Python literal. Bounded: depth 64, and the input is the header (at most 4 GiB by format,
/// capped by the caller).
pub(crate) fn literal(text: &str) -> Result<Literal, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    let v = p.value()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("unexpected text at {}", p.i));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while let Some(&b) = self.s.get(self.i) {
            if b.is_ascii_whitespace() {
                self.i += 1;
            } else if b == b'\\' && self.s.get(self.i + 1) == Some(&b'\n') {
                self.i += 2;
            } else {
                break;
            }
        }
    }

    fn value(&mut self) -> Result<Literal, String> {
        self.depth += 1;
        if self.depth > 64 {
            return Err("literal nested too deeply".into());
        }
        self.ws();
        let v = match self.s.get(self.i).copied() {
            Some(b'{') => self.dict(),
            Some(b'[') => self.seq(b']').map(Literal::List),
            Some(b'(') => {
                self.i += 1;
                self.ws();
                if self.s.get(self.i) == Some(&b')') {
                    self.i += 1;
                    Ok(Literal::Tuple(Vec::new()))
                } else {
                    let first = self.value()?;
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b')') => {
                            self.i += 1;
                            Ok(first)
                        }
                        Some(b',') => {
                            self.i += 1;
                            let mut items = vec![first];
                            items.extend(self.seq_rest(b')')?);
                            Ok(Literal::Tuple(items))
                        }
                        _ => Err("bad tuple".into()),
                    }
                }
            }
            Some(b'\'' | b'"') => self.strings(),
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
                {
                    self.i += 1;
                }
                let word = &self.s[start..self.i];
                // String prefixes: u'', b'', r''.
                if matches!(self.s.get(self.i), Some(b'\'' | b'"')) && word.len() <= 2 {
                    self.i = start;
                    return self.strings();
                }
                match word {
                    b"True" => Ok(Literal::Bool(true)),
                    b"False" => Ok(Literal::Bool(false)),
                    b"None" => Ok(Literal::None),
                    _ => Err(format!(
                        "name `{}` is not a literal",
                        String::from_utf8_lossy(word)
                    )),
                }
            }
            Some(c) if c.is_ascii_digit() || c == b'-' || c == b'+' || c == b'.' => self.number(),
            _ => Err("expected a literal".into()),
        };
        self.depth -= 1;
        v
    }

    fn number(&mut self) -> Result<Literal, String> {
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|b| b.is_ascii_alphanumeric() || b"+-._".contains(b))
        {
            self.i += 1;
        }
        let text: String = String::from_utf8_lossy(&self.s[start..self.i]).replace('_', "");
        if let Ok(n) = text.parse::<i64>() {
            return Ok(Literal::Int(n));
        }
        if text.parse::<f64>().is_ok() || text.ends_with(['j', 'J']) {
            return Ok(Literal::Float);
        }
        if let Some(h) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            return i64::from_str_radix(h, 16)
                .map(Literal::Int)
                .map_err(|e| e.to_string());
        }
        Err(format!("bad number `{text}`"))
    }

    fn seq(&mut self, close: u8) -> Result<Vec<Literal>, String> {
        self.i += 1;
        self.seq_rest(close)
    }

    fn seq_rest(&mut self, close: u8) -> Result<Vec<Literal>, String> {
        let mut items = Vec::new();
        loop {
            self.ws();
            if self.s.get(self.i) == Some(&close) {
                self.i += 1;
                return Ok(items);
            }
            items.push(self.value()?);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(c) if *c == close => {}
                _ => return Err("expected `,`".into()),
            }
        }
    }

    fn dict(&mut self) -> Result<Literal, String> {
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.ws();
            if self.s.get(self.i) == Some(&b'}') {
                self.i += 1;
                return Ok(Literal::Dict(items));
            }
            let k = self.value()?;
            self.ws();
            if self.s.get(self.i) != Some(&b':') {
                return Err("expected `:`".into());
            }
            self.i += 1;
            let v = self.value()?;
            items.push((k, v));
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {}
                _ => return Err("expected `,`".into()),
            }
        }
    }

    /// One or more adjacent string literals, concatenated as Python does.
    fn strings(&mut self) -> Result<Literal, String> {
        let mut out = String::new();
        loop {
            self.ws();
            let start = self.i;
            let mut raw = false;
            while let Some(&b) = self.s.get(self.i) {
                match b {
                    b'r' | b'R' => raw = true,
                    b'u' | b'U' | b'b' | b'B' => {}
                    _ => break,
                }
                self.i += 1;
            }
            let Some(&q) = self.s.get(self.i).filter(|q| **q == b'\'' || **q == b'"') else {
                self.i = start;
                break;
            };
            let triple = self.s.get(self.i..self.i + 3) == Some(&[q, q, q][..]);
            self.i += if triple { 3 } else { 1 };
            loop {
                let Some(&b) = self.s.get(self.i) else {
                    return Err("unterminated string".into());
                };
                if b == q && (!triple || self.s.get(self.i..self.i + 3) == Some(&[q, q, q][..])) {
                    self.i += if triple { 3 } else { 1 };
                    break;
                }
                if b == b'\\' && !raw {
                    self.i += 1;
                    self.escape(&mut out)?;
                    continue;
                }
                let ch_len = utf8_len(b);
                let chunk = self.s.get(self.i..self.i + ch_len).ok_or("bad UTF-8")?;
                out.push_str(std::str::from_utf8(chunk).map_err(|e| e.to_string())?);
                self.i += ch_len;
            }
        }
        Ok(Literal::Str(out))
    }

    fn escape(&mut self, out: &mut String) -> Result<(), String> {
        let e = *self.s.get(self.i).ok_or("bad escape")?;
        self.i += 1;
        let hex = |p: &mut Self, n: usize| -> Result<char, String> {
            let h = p.s.get(p.i..p.i + n).ok_or("short escape")?;
            p.i += n;
            let v = u32::from_str_radix(std::str::from_utf8(h).map_err(|e| e.to_string())?, 16)
                .map_err(|e| e.to_string())?;
            char::from_u32(v).ok_or_else(|| "bad code point".to_owned())
        };
        match e {
            b'n' => out.push('\n'),
            b't' => out.push('\t'),
            b'r' => out.push('\r'),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match self.s.get(self.i) {
                        Some(d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            self.i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(char::from_u32(v).ok_or("bad octal escape")?);
            }
            b'x' => out.push(hex(self, 2)?),
            b'u' => out.push(hex(self, 4)?),
            b'U' => out.push(hex(self, 8)?),
            b'a' => out.push('\x07'),
            b'b' => out.push('\x08'),
            b'f' => out.push('\x0c'),
            b'v' => out.push('\x0b'),
            b'\n' => {}
            b'\\' | b'\'' | b'"' => out.push(char::from(e)),
            b'N' => return Err("named escapes are not supported".into()),
            other => {
                out.push('\\');
                out.push(char::from(other));
            }
        }
        Ok(())
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Whether a dtype given as NumPy's `descr` (a type string, or a list of `(name, dtype[, shape])`
/// fields) holds objects. `None` when some part is not understood.
pub(crate) fn descr_has_object(descr: &Literal) -> Option<bool> {
    match descr {
        Literal::Str(s) => typestr(s).map(|d| d.object),
        Literal::List(fields) => {
            let mut any = false;
            for f in fields {
                let Literal::Tuple(parts) = f else {
                    return None;
                };
                any |= descr_has_object(parts.get(1)?)?;
            }
            Some(any)
        }
        _ => None,
    }
}

/// Parses an `.npy` header: where the data starts and whether the dtype holds objects (the data is
/// then a pickle, which `numpy.load(allow_pickle=True)` unpickles).
pub(crate) fn npy_header(data: &[u8]) -> Result<(usize, bool), String> {
    let major = *data.get(6).ok_or("truncated header")?;
    let (len, start): (usize, usize) = match major {
        1 => {
            let b = data.get(8..10).ok_or("truncated header")?;
            (usize::from(u16::from_le_bytes([b[0], b[1]])), 10)
        }
        2 | 3 => {
            let b = data.get(8..12).ok_or("truncated header")?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
        v => return Err(format!("unknown .npy format version {v}")),
    };
    if len > 16 << 20 {
        return Err("header longer than 16 MiB".into());
    }
    let end = start
        .checked_add(len)
        .filter(|&e| e <= data.len())
        .ok_or("header runs past the end of the file")?;
    // Version 1 and 2 headers are Latin-1, version 3 UTF-8.
    let header: String = if major == 3 {
        String::from_utf8(data[start..end].to_vec()).map_err(|_| "header is not UTF-8")?
    } else {
        data[start..end].iter().map(|&b| char::from(b)).collect()
    };
    let Literal::Dict(items) =
        literal(&header).map_err(|e| format!("header is not a Python literal: {e}"))?
    else {
        return Err("header is not a dict".into());
    };
    let descr = items
        .iter()
        .find(|(k, _)| *k == Literal::Str("descr".into()))
        .map(|(_, v)| v)
        .ok_or("header has no descr")?;
    let object =
        descr_has_object(descr).ok_or("header has a dtype this scanner does not understand")?;
    Ok((end, object))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str) -> Vec<u8> {
        let mut f = b"\x93NUMPY\x01\x00".to_vec();
        f.extend(u16::try_from(header.len()).unwrap().to_le_bytes());
        f.extend(header.as_bytes());
        f
    }

    #[test]
    fn object_dtypes_however_spelled() {
        for descr in [
            "'|O'",
            "'O'",
            "'object'",
            "'\\u004f'",
            "'\\x4f'",
            "[('a', '<i4'), ('b', '|O')]",
            "'i4,O'",
            "'(2,)O'",
        ] {
            let h = format!("{{'descr': {descr}, 'fortran_order': False, 'shape': (2,), }}");
            assert_eq!(npy_header(&npy(&h)).map(|r| r.1), Ok(true), "{descr}");
        }
        let concat = "{'de' 'scr': '|O', 'fortran_order': False, 'shape': (2,)}";
        assert_eq!(npy_header(&npy(concat)).map(|r| r.1), Ok(true));
    }

    #[test]
    fn plain_dtypes_and_fields_named_like_o() {
        for descr in [
            "'<f8'",
            "[('O', '<f8'), ('Obj', '<i4')]",
            "'int64'",
            "'<U10'",
            "'<M8[ns]'",
        ] {
            let h = format!("{{'descr': {descr}, 'fortran_order': False, 'shape': (2,), }}");
            assert_eq!(npy_header(&npy(&h)).map(|r| r.1), Ok(false), "{descr}");
        }
        assert!(npy_header(&npy("{'descr': 'mystery', 'shape': ()}")).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(typestr("int64").and_then(|d| d.itemsize), Some(8));
        assert_eq!(typestr("<U10").and_then(|d| d.itemsize), Some(40));
        assert_eq!(typestr("(2,3)<f4").and_then(|d| d.itemsize), Some(24));
        assert_eq!(typestr("i4,f8").and_then(|d| d.itemsize), Some(12));
    }
}
