//! NumPy `.npy` files: a bounded reader and `f32`/`i64` writers.
//!
//! The header is a Python dict literal. It is parsed by a small tokenizer that knows exactly the
//! three keys NumPy writes (`descr`, `fortran_order`, `shape`) and the three value forms they take
//! (a string, `True`/`False`, a tuple of integers) — never evaluated, never nested deeper than the
//! one tuple. Object arrays (`|O`, pickles) and structured dtypes are refused.

use std::io::Write;
use std::path::Path;

use crate::array::{Array, DType};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::read::read_file;

const FORMAT: &str = ".npy";
const MAGIC: &[u8] = b"\x93NUMPY";

/// Reads and checks a `.npy` file.
pub fn read_npy(path: &Path, limits: &Limits) -> Result<Array> {
    let bytes = read_file(path, limits)?;
    parse_npy(&bytes, limits).map_err(|e| e.in_file(path))
}

/// Parses `.npy` bytes. The data must be exactly what the header declares.
pub fn parse_npy(bytes: &[u8], limits: &Limits) -> Result<Array> {
    let (header, data) = split_header(bytes, limits)?;
    let h = parse_header(header, limits)?;
    if h.fortran_order {
        return Err(Error::unsupported(
            FORMAT,
            "fortran_order True (save the array C-contiguous)",
        ));
    }
    let count = limits.elements(&h.shape)?;
    let need = count
        .checked_mul(h.dtype.size())
        .ok_or_else(|| Error::malformed(FORMAT, "data size overflows"))?;
    if data.len() != need {
        return Err(Error::malformed(
            FORMAT,
            format!(
                "header declares {count} elements ({need} bytes) but the file holds {} data bytes",
                data.len()
            ),
        ));
    }
    Array::decode(FORMAT, h.dtype, h.big_endian, h.shape, data)
}

/// Splits magic + version + header length off; returns (header text, data).
fn split_header<'a>(bytes: &'a [u8], limits: &Limits) -> Result<(&'a str, &'a [u8])> {
    if bytes.len() < 10 || !bytes.starts_with(MAGIC) {
        return Err(Error::malformed(FORMAT, "no \\x93NUMPY magic"));
    }
    let (len, start) = match bytes[6] {
        1 => (u64::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10usize),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(Error::malformed(FORMAT, "truncated header length"));
            }
            (
                u64::from(u32::from_le_bytes([
                    bytes[8], bytes[9], bytes[10], bytes[11],
                ])),
                12,
            )
        }
        v => {
            return Err(Error::unsupported(
                FORMAT,
                format!("format version {v}.{}", bytes[7]),
            ));
        }
    };
    Limits::check(".npy header length", len, limits.max_header_bytes)?;
    let end = start + len as usize;
    let header = bytes.get(start..end).ok_or_else(|| {
        Error::malformed(FORMAT, format!("header of {len} bytes runs past the end"))
    })?;
    let header =
        std::str::from_utf8(header).map_err(|_| Error::malformed(FORMAT, "header is not UTF-8"))?;
    Ok((header, &bytes[end..]))
}

#[derive(Debug)]
struct Header {
    dtype: DType,
    big_endian: bool,
    fortran_order: bool,
    shape: Vec<usize>,
}

#[derive(Debug, PartialEq)]
enum Value {
    Str(String),
    Bool(bool),
    Tuple(Vec<u64>),
}

/// A cursor over the header text.
struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

impl Lexer<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(&format!("expected `{}`", c as char)))
        }
    }

    fn err(&self, what: &str) -> Error {
        Error::malformed(FORMAT, format!("header: {what} at byte {}", self.i))
    }

    fn string(&mut self) -> Result<String> {
        let q = self
            .peek()
            .filter(|c| *c == b'\'' || *c == b'"')
            .ok_or_else(|| self.err("expected a string"))?;
        self.i += 1;
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i] != q {
            if self.s[self.i] == b'\\' {
                return Err(self.err("escape in a string"));
            }
            self.i += 1;
        }
        if self.i >= self.s.len() {
            return Err(self.err("unterminated string"));
        }
        let out = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        self.i += 1;
        Ok(out)
    }

    fn int(&mut self) -> Result<u64> {
        self.skip_ws();
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
            self.i += 1;
        }
        if start == self.i {
            return Err(self.err("expected a non-negative integer"));
        }
        let digits = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        let v = digits
            .parse::<u64>()
            .map_err(|_| self.err("integer too large"))?;
        // Python 2 era headers write `3L`.
        if self.s.get(self.i) == Some(&b'L') {
            self.i += 1;
        }
        Ok(v)
    }

    fn word(&mut self) -> Result<bool> {
        self.skip_ws();
        for (w, v) in [(&b"True"[..], true), (&b"False"[..], false)] {
            if self.s[self.i..].starts_with(w) {
                self.i += w.len();
                return Ok(v);
            }
        }
        Err(self.err("expected a string, True, False or a tuple"))
    }

    fn value(&mut self, max_dims: usize) -> Result<Value> {
        match self.peek() {
            Some(b'\'' | b'"') => Ok(Value::Str(self.string()?)),
            Some(b'(') => {
                self.i += 1;
                let mut dims = Vec::new();
                loop {
                    if self.peek() == Some(b')') {
                        self.i += 1;
                        break;
                    }
                    if dims.len() >= max_dims {
                        return Err(Error::Limit {
                            what: "array rank",
                            value: dims.len() as u64 + 1,
                            limit: max_dims as u64,
                        });
                    }
                    dims.push(self.int()?);
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b')') => {}
                        _ => return Err(self.err("expected `,` or `)` in the shape")),
                    }
                }
                Ok(Value::Tuple(dims))
            }
            Some(b'[' | b'{') => Err(Error::unsupported(
                FORMAT,
                "structured dtype or nested header value",
            )),
            Some(_) => Ok(Value::Bool(self.word()?)),
            None => Err(self.err("unexpected end")),
        }
    }
}

fn parse_header(text: &str, limits: &Limits) -> Result<Header> {
    let mut lx = Lexer {
        s: text.as_bytes(),
        i: 0,
    };
    lx.expect(b'{')?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        if lx.peek() == Some(b'}') {
            lx.i += 1;
            break;
        }
        let key = lx.string()?;
        lx.expect(b':')?;
        let value = lx.value(limits.max_dims)?;
        let slot_taken = match (key.as_str(), value) {
            ("descr", Value::Str(s)) => descr.replace(s).is_some(),
            ("fortran_order", Value::Bool(b)) => fortran.replace(b).is_some(),
            ("shape", Value::Tuple(t)) => shape.replace(t).is_some(),
            ("descr" | "fortran_order" | "shape", v) => {
                return Err(Error::malformed(
                    FORMAT,
                    format!("header key `{key}` has value {v:?}"),
                ));
            }
            (other, _) => {
                return Err(Error::malformed(
                    FORMAT,
                    format!("unknown header key `{other}`"),
                ));
            }
        };
        if slot_taken {
            return Err(Error::malformed(
                FORMAT,
                format!("header key `{key}` given twice"),
            ));
        }
        match lx.peek() {
            Some(b',') => lx.i += 1,
            Some(b'}') => {}
            _ => return Err(lx.err("expected `,` or `}`")),
        }
    }
    if lx.peek().is_some() {
        return Err(lx.err("text after the header dict"));
    }
    let descr = descr.ok_or_else(|| Error::malformed(FORMAT, "header has no `descr`"))?;
    let fortran_order =
        fortran.ok_or_else(|| Error::malformed(FORMAT, "header has no `fortran_order`"))?;
    let shape = shape.ok_or_else(|| Error::malformed(FORMAT, "header has no `shape`"))?;
    let (dtype, big_endian) = parse_descr(&descr)?;
    let shape = shape
        .into_iter()
        .map(|d| usize::try_from(d).map_err(|_| Error::malformed(FORMAT, "dimension too large")))
        .collect::<Result<Vec<_>>>()?;
    Ok(Header {
        dtype,
        big_endian,
        fortran_order,
        shape,
    })
}

/// `<f4`, `>i8`, `|u1`, `=f8` ... → (dtype, big endian).
fn parse_descr(descr: &str) -> Result<(DType, bool)> {
    let b = descr.as_bytes();
    // ASCII only, so slicing after the first byte is on a character boundary
    // (see fuzz/regressions/npy-non-ascii-descr.bin).
    if b.len() < 2 || !descr.is_ascii() {
        return Err(Error::malformed(FORMAT, format!("dtype `{descr}`")));
    }
    let (order, code) = (b[0], &descr[1..]);
    let big_endian = match order {
        b'<' | b'|' => false,
        b'>' => true,
        b'=' => cfg!(target_endian = "big"),
        _ => return Err(Error::unsupported(FORMAT, format!("dtype `{descr}`"))),
    };
    let dtype = match code {
        "b1" | "?" => DType::Bool,
        "u1" => DType::U8,
        "i1" => DType::I8,
        "u2" => DType::U16,
        "i2" => DType::I16,
        "u4" => DType::U32,
        "i4" => DType::I32,
        "u8" => DType::U64,
        "i8" => DType::I64,
        "f4" => DType::F32,
        "f8" => DType::F64,
        c if c.starts_with('O') => {
            return Err(Error::unsupported(
                FORMAT,
                "object array (a pickle): never loaded",
            ));
        }
        _ => return Err(Error::unsupported(FORMAT, format!("dtype `{descr}`"))),
    };
    Ok((dtype, big_endian))
}

/// Encodes a `.npy` (version 1.0) header for a C-order array.
fn header_bytes(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [d] => format!("({d},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut text = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    // Magic (6) + version (2) + length (2) + text + '\n', padded with spaces to a multiple of 64.
    let unpadded = 10 + text.len() + 1;
    text.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    text.push('\n');
    let mut out = Vec::with_capacity(10 + text.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(text.len() as u16).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out
}

fn check_len(shape: &[usize], len: usize) -> Result<()> {
    let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if count == Some(len) {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            detail: format!("{len} values for shape {shape:?}"),
        })
    }
}

/// `.npy` bytes of a little-endian `float32` array of `shape`.
pub fn encode_npy_f32(shape: &[usize], data: &[f32]) -> Result<Vec<u8>> {
    check_len(shape, data.len())?;
    let mut out = header_bytes("<f4", shape);
    out.reserve(data.len() * 4);
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

/// `.npy` bytes of a little-endian `int64` array of `shape`.
pub fn encode_npy_i64(shape: &[usize], data: &[i64]) -> Result<Vec<u8>> {
    check_len(shape, data.len())?;
    let mut out = header_bytes("<i8", shape);
    out.reserve(data.len() * 8);
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

fn write_all(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = std::fs::File::create(path).map_err(|e| Error::io("creating", path, e))?;
    f.write_all(bytes)
        .map_err(|e| Error::io("writing", path, e))?;
    f.flush().map_err(|e| Error::io("writing", path, e))
}

/// Writes a `float32` `.npy` file that NumPy's `np.load` reads.
pub fn write_npy_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    write_all(path, &encode_npy_f32(shape, data)?)
}

/// Writes an `int64` `.npy` file that NumPy's `np.load` reads.
pub fn write_npy_i64(path: &Path, shape: &[usize], data: &[i64]) -> Result<()> {
    write_all(path, &encode_npy_i64(shape, data)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::Data;
    use crate::error::ErrorKind;

    fn with_header(text: &str, data: &[u8]) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[1, 0]);
        v.extend_from_slice(&(text.len() as u16).to_le_bytes());
        v.extend_from_slice(text.as_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn written_files_read_back() {
        let bytes = encode_npy_f32(&[2, 3], &[0.0, 1.0, 2.0, 3.0, 4.0, -5.5]).unwrap();
        assert_eq!((bytes.len() - 24) % 64, 0, "header padded to 64 bytes");
        let a = parse_npy(&bytes, &Limits::default()).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data, Data::F32(vec![0.0, 1.0, 2.0, 3.0, 4.0, -5.5]));
        let a = parse_npy(
            &encode_npy_i64(&[3], &[-1, 0, 1 << 40]).unwrap(),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(a.shape, vec![3]);
        assert_eq!(a.data, Data::I64(vec![-1, 0, 1 << 40]));
        let a = parse_npy(&encode_npy_f32(&[], &[7.0]).unwrap(), &Limits::default()).unwrap();
        assert!(a.shape.is_empty());
        assert!(encode_npy_f32(&[2, 2], &[1.0]).is_err());
    }

    #[test]
    fn headers_numpy_writes_are_read() {
        for (text, data, want) in [
            (
                "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }    \n",
                vec![7u8, 9],
                Data::U8(vec![7, 9]),
            ),
            (
                "{\"descr\":\">i2\",\"fortran_order\":False,\"shape\":(1L,)}",
                vec![1, 2],
                Data::I16(vec![258]),
            ),
            (
                "{'shape': (1, 1), 'fortran_order': False, 'descr': '<f8'}",
                2.5f64.to_le_bytes().to_vec(),
                Data::F64(vec![2.5]),
            ),
            (
                "{'descr': '|b1', 'fortran_order': False, 'shape': (2,)}",
                vec![1, 0],
                Data::U8(vec![1, 0]),
            ),
            (
                "{'descr': '<u4', 'fortran_order': False, 'shape': (0, 5)}",
                vec![],
                Data::U32(vec![]),
            ),
        ] {
            let a = parse_npy(&with_header(text, &data), &Limits::default())
                .unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(a.data, want, "{text}");
        }
    }

    #[test]
    fn hostile_headers_are_errors() {
        let l = Limits::default();
        for (text, data, kind) in [
            (
                "{'descr': '|O', 'fortran_order': False, 'shape': (1,)}",
                &[0u8; 8][..],
                ErrorKind::Unsupported,
            ),
            (
                "{'descr': '<f4', 'fortran_order': True, 'shape': (1,)}",
                &[0; 4],
                ErrorKind::Unsupported,
            ),
            (
                "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}",
                &[0; 4],
                ErrorKind::Unsupported,
            ),
            (
                "{'descr': '<f2', 'fortran_order': False, 'shape': (1,)}",
                &[0; 2],
                ErrorKind::Unsupported,
            ),
            // Found by fuzzing: a multi-byte character in the dtype.
            (
                "{'descr': '\u{11c}4', 'fortran_order': False, 'shape': (1,)}",
                &[0; 4],
                ErrorKind::Malformed,
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}",
                &[],
                ErrorKind::Limit,
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
                &[],
                ErrorKind::Malformed,
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}",
                &[0; 4],
                ErrorKind::Limit,
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
                &[0; 4],
                ErrorKind::Malformed,
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
                &[0; 5],
                ErrorKind::Malformed,
            ),
            (
                "{'descr': '<f4', 'fortran_order': False}",
                &[0; 4],
                ErrorKind::Malformed,
            ),
            (
                "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
                &[0; 4],
                ErrorKind::Malformed,
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}",
                &[0; 4],
                ErrorKind::Malformed,
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': ((((((1,),),),),),)}",
                &[0; 4],
                ErrorKind::Malformed,
            ),
            (
                "{'descr': '<f4', 'fortran_order': __import__('os'), 'shape': (1,)}",
                &[0; 4],
                ErrorKind::Malformed,
            ),
            (
                "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (1,)}",
                &[0; 4],
                ErrorKind::Malformed,
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} extra",
                &[0; 4],
                ErrorKind::Malformed,
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1,",
                &[],
                ErrorKind::Malformed,
            ),
            ("", &[], ErrorKind::Malformed),
        ] {
            let e = parse_npy(&with_header(text, data), &l).unwrap_err();
            assert_eq!(e.kind(), kind, "{text}: {e}");
        }
        // Deep nesting is refused at the first `[`/`{`, whatever follows.
        let deep = format!("{{'descr': {}", "[".repeat(50_000));
        assert!(parse_npy(&with_header(&deep[..60_000.min(deep.len())], &[]), &l).is_err());
    }

    #[test]
    fn hostile_framing_is_an_error() {
        let l = Limits::default();
        assert!(parse_npy(b"", &l).is_err());
        assert!(parse_npy(b"\x93NUMPY\x01", &l).is_err());
        assert!(parse_npy(b"PK\x03\x04xxxxxxxx", &l).is_err());
        // Header length past the end, and over the limit (v2 has a 32-bit length).
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[1, 0, 0xff, 0xff, b'{']);
        assert_eq!(parse_npy(&v, &l).unwrap_err().kind(), ErrorKind::Malformed);
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[2, 0, 0xff, 0xff, 0xff, 0xff, b'{']);
        assert_eq!(parse_npy(&v, &l).unwrap_err().kind(), ErrorKind::Limit);
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[1, 0, 100, 0, b'{']);
        assert_eq!(parse_npy(&v, &l).unwrap_err().kind(), ErrorKind::Malformed);
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[9, 0, 1, 0, b'{']);
        assert_eq!(
            parse_npy(&v, &l).unwrap_err().kind(),
            ErrorKind::Unsupported
        );
        // Truncated data.
        let good = encode_npy_f32(&[4], &[1.0; 4]).unwrap();
        assert!(parse_npy(&good[..good.len() - 1], &l).is_err());
    }
}
