//! Python `marshal` decoding, enough to read the code objects Keras stores for Lambda layers.
//!
//! Never executes anything: it reads the serialized objects into [`Value`]s and hands back the
//! names, string constants and nested function names a code object uses. Every type code of
//! marshal versions 0–5 is understood (Python 2 string references included); code objects are
//! read with the field layout of Python 2.x, 3.0–3.7, 3.8–3.10 or 3.11 and later, whichever the
//! bytes fit ([`Layout`]). Bounds: nesting depth ([`MAX_DEPTH`]), every length checked against
//! the bytes left before anything is allocated, references shared (never copied), and walks over
//! the result capped at [`MAX_WALK`] visits.

use std::rc::Rc;

/// Deepest nesting of containers and code objects accepted (CPython allows 2000; real code
/// objects nest a few levels).
pub(crate) const MAX_DEPTH: usize = 200;
/// Most values visited when collecting what a code object uses (shared references could
/// otherwise make a walk exponential).
pub(crate) const MAX_WALK: usize = 200_000;
/// Most names, strings and function names kept per kind.
const MAX_KEPT: usize = 256;
/// Longest string constant kept whole.
const MAX_STRING_CHARS: usize = 200;

/// Why bytes could not be read as marshal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Error {
    /// The data ended inside an object.
    #[error("marshal data ends at offset {0} inside an object")]
    Truncated(usize),
    /// An unknown type code.
    #[error("unknown marshal type code 0x{code:02x} at offset {offset}")]
    UnknownType { code: u8, offset: usize },
    /// A negative or impossible length or count.
    #[error("bad length {len} at offset {offset}")]
    BadLength { len: i64, offset: usize },
    /// A reference to an object that was never stored.
    #[error("reference {index} at offset {offset} points past the {count} stored objects")]
    BadRef {
        index: i64,
        offset: usize,
        count: usize,
    },
    /// Containers nested deeper than [`MAX_DEPTH`].
    #[error("objects nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// A code object whose fields fit none of the known layouts.
    #[error("code object at offset {0} fits no known Python layout")]
    BadCode(usize),
    /// A value where a code object was expected.
    #[error("the data holds a {0}, not a code object")]
    NotCode(&'static str),
}

/// The field layout of a code object, by the Python versions that write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Python 2.x: four integers, then `code, consts, names, varnames, freevars, cellvars,
    /// filename, name, firstlineno, lnotab`.
    Py2,
    /// Python 3.0–3.7: five integers (with `kwonlyargcount`), then as 2.x.
    Py30,
    /// Python 3.8–3.10: six integers (with `posonlyargcount`), then as 2.x.
    Py38,
    /// Python 3.11 and later: five integers, then `code, consts, names, localsplusnames,
    /// localspluskinds, filename, name, qualname, firstlineno, linetable, exceptiontable`.
    Py311,
}

impl Layout {
    /// The Python versions that write this layout.
    pub(crate) fn versions(self) -> &'static str {
        match self {
            Self::Py2 => "2.x",
            Self::Py30 => "3.0-3.7",
            Self::Py38 => "3.8-3.10",
            Self::Py311 => "3.11+",
        }
    }

    const ALL: [Self; 4] = [Self::Py311, Self::Py38, Self::Py30, Self::Py2];
}

/// A decoded code object (only the fields the scanner reports).
#[derive(Debug, Clone)]
pub(crate) struct Code {
    /// The bytecode.
    pub bytecode: Rc<Value>,
    /// `co_consts`.
    pub consts: Rc<Value>,
    /// `co_names`: globals, attributes and imported modules the code refers to.
    pub names: Rc<Value>,
    /// `co_filename`.
    pub filename: Rc<Value>,
    /// `co_name`.
    pub name: Rc<Value>,
}

/// A decoded marshal value.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// The `NULL` marker (ends dicts).
    Null,
    /// `None`, booleans, `StopIteration`, `Ellipsis`, numbers: values the scanner only names.
    Scalar(&'static str),
    /// `bytes` (Python 2 `str`).
    Bytes(Vec<u8>),
    /// `str`.
    Str(String),
    /// Tuple, list, set or frozenset.
    Seq(Vec<Rc<Value>>),
    /// A dict.
    Dict(Vec<(Rc<Value>, Rc<Value>)>),
    /// A slice (Python 3.14).
    Slice(Rc<Value>, Rc<Value>, Rc<Value>),
    /// A code object.
    Code(Box<Code>),
    /// A reference to an object still being read (a container referring to itself).
    Pending,
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Self::Null => "NULL marker",
            Self::Scalar(k) => k,
            Self::Bytes(_) => "bytes",
            Self::Str(_) => "str",
            Self::Seq(_) => "sequence",
            Self::Dict(_) => "dict",
            Self::Slice(..) => "slice",
            Self::Code(_) => "code object",
            Self::Pending => "pending reference",
        }
    }

    /// The text of a `str` (or Python 2 `str`, as lossy UTF-8).
    pub(crate) fn text(&self) -> Option<String> {
        match self {
            Self::Str(s) => Some(s.clone()),
            Self::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    refs: Vec<Rc<Value>>,
    /// Python 2 interned strings (`t`), referred to by `R`.
    interned: Vec<Rc<Value>>,
    layout: Layout,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8], layout: Layout) -> Self {
        Self {
            data,
            pos: 0,
            refs: Vec::new(),
            interned: Vec::new(),
            layout,
        }
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or(Error::Truncated(self.data.len()))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.bytes(1)?[0])
    }

    fn i32(&mut self) -> Result<i32, Error> {
        let b = self.bytes(4)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A length prefix that must fit the bytes left (each element takes at least `unit` bytes).
    fn len(&mut self, unit: usize) -> Result<usize, Error> {
        let at = self.pos;
        let n = self.i32()?;
        let bad = Error::BadLength {
            len: i64::from(n),
            offset: at,
        };
        let n = usize::try_from(n).map_err(|_| bad.clone())?;
        let left = self.data.len() - self.pos;
        if n.checked_mul(unit).is_none_or(|need| need > left) {
            return Err(bad);
        }
        Ok(n)
    }

    fn object(&mut self, depth: usize) -> Result<Rc<Value>, Error> {
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        let at = self.pos;
        let byte = self.u8()?;
        let flag = byte & 0x80 != 0;
        let code = byte & 0x7f;
        // Containers and code objects take their reference slot before their children, as CPython does.
        let slot = if flag && matches!(code, b'(' | b')' | b'[' | b'{' | b'<' | b'>' | b'c' | b':')
        {
            self.refs.push(Rc::new(Value::Pending));
            Some(self.refs.len() - 1)
        } else {
            None
        };
        let value = match code {
            b'0' => Value::Null,
            b'N' => Value::Scalar("None"),
            b'F' | b'T' => Value::Scalar("bool"),
            b'S' => Value::Scalar("StopIteration"),
            b'.' => Value::Scalar("Ellipsis"),
            b'i' => {
                self.bytes(4)?;
                Value::Scalar("int")
            }
            b'I' => {
                self.bytes(8)?;
                Value::Scalar("int")
            }
            b'f' => {
                let n = usize::from(self.u8()?);
                self.bytes(n)?;
                Value::Scalar("float")
            }
            b'g' => {
                self.bytes(8)?;
                Value::Scalar("float")
            }
            b'x' => {
                for _ in 0..2 {
                    let n = usize::from(self.u8()?);
                    self.bytes(n)?;
                }
                Value::Scalar("complex")
            }
            b'y' => {
                self.bytes(16)?;
                Value::Scalar("complex")
            }
            b'l' => {
                let at = self.pos;
                let n = self.i32()?;
                let digits = usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX);
                if digits
                    .checked_mul(2)
                    .is_none_or(|b| b > self.data.len() - self.pos)
                {
                    return Err(Error::BadLength {
                        len: i64::from(n),
                        offset: at,
                    });
                }
                self.bytes(digits * 2)?;
                Value::Scalar("int")
            }
            b's' => {
                let n = self.len(1)?;
                Value::Bytes(self.bytes(n)?.to_vec())
            }
            b't' => {
                // Python 3: interned str; Python 2: interned byte string that `R` refers to.
                let n = self.len(1)?;
                let raw = self.bytes(n)?;
                let v = if self.layout == Layout::Py2 {
                    Value::Bytes(raw.to_vec())
                } else {
                    Value::Str(String::from_utf8_lossy(raw).into_owned())
                };
                if self.layout == Layout::Py2 {
                    let v = Rc::new(v);
                    self.interned.push(Rc::clone(&v));
                    return Ok(v);
                }
                v
            }
            b'R' => {
                let at = self.pos;
                let i = self.i32()?;
                let idx = usize::try_from(i).ok().filter(|&i| i < self.interned.len());
                return idx
                    .map(|i| Rc::clone(&self.interned[i]))
                    .ok_or(Error::BadRef {
                        index: i64::from(i),
                        offset: at,
                        count: self.interned.len(),
                    });
            }
            b'u' | b'a' | b'A' => {
                let n = self.len(1)?;
                Value::Str(String::from_utf8_lossy(self.bytes(n)?).into_owned())
            }
            b'z' | b'Z' => {
                let n = usize::from(self.u8()?);
                Value::Str(String::from_utf8_lossy(self.bytes(n)?).into_owned())
            }
            b'r' => {
                let at = self.pos;
                let i = self.i32()?;
                let idx = usize::try_from(i).ok().filter(|&i| i < self.refs.len());
                return idx.map(|i| Rc::clone(&self.refs[i])).ok_or(Error::BadRef {
                    index: i64::from(i),
                    offset: at,
                    count: self.refs.len(),
                });
            }
            b'(' | b'[' | b'<' | b'>' => {
                let n = self.len(1)?;
                self.seq(n, depth)?
            }
            b')' => {
                let n = usize::from(self.u8()?);
                self.seq(n, depth)?
            }
            b'{' => {
                let mut items = Vec::new();
                loop {
                    let k = self.object(depth + 1)?;
                    if matches!(*k, Value::Null) {
                        break;
                    }
                    let v = self.object(depth + 1)?;
                    items.push((k, v));
                }
                Value::Dict(items)
            }
            b':' => {
                let a = self.object(depth + 1)?;
                let b = self.object(depth + 1)?;
                let c = self.object(depth + 1)?;
                Value::Slice(a, b, c)
            }
            b'c' => Value::Code(Box::new(self.code(at, depth)?)),
            _ => {
                return Err(Error::UnknownType {
                    code: byte,
                    offset: at,
                });
            }
        };
        let value = Rc::new(value);
        if let Some(slot) = slot {
            self.refs[slot] = Rc::clone(&value);
        } else if flag {
            self.refs.push(Rc::clone(&value));
        }
        Ok(value)
    }

    fn seq(&mut self, n: usize, depth: usize) -> Result<Value, Error> {
        let mut items = Vec::new();
        for _ in 0..n {
            items.push(self.object(depth + 1)?);
        }
        Ok(Value::Seq(items))
    }

    fn code(&mut self, at: usize, depth: usize) -> Result<Code, Error> {
        let ints = match self.layout {
            Layout::Py2 => 4,
            Layout::Py30 | Layout::Py311 => 5,
            Layout::Py38 => 6,
        };
        for _ in 0..ints {
            self.i32()?;
        }
        let d = depth + 1;
        let py311 = self.layout == Layout::Py311;
        let bytecode = self.object(d)?;
        let consts = self.object(d)?;
        let names = self.object(d)?;
        let varnames = self.object(d)?;
        // From 3.11 localspluskinds (bytes) stands where freevars stood, and there are no cellvars.
        let freevars = self.object(d)?;
        let cellvars = if py311 { None } else { Some(self.object(d)?) };
        let filename = self.object(d)?;
        let name = self.object(d)?;
        let qualname = if py311 { Some(self.object(d)?) } else { None };
        self.i32()?;
        let table = self.object(d)?;
        let exceptions = if py311 { Some(self.object(d)?) } else { None };
        // The types CPython's code constructor insists on; a wrong layout fails them.
        let is_bytes = |v: &Value| matches!(v, Value::Bytes(_));
        let is_text = |v: &Value| matches!(v, Value::Str(_) | Value::Bytes(_));
        let is_names = |v: &Value| match v {
            Value::Seq(items) => items.iter().all(|i| is_text(i)),
            _ => false,
        };
        let ok = is_bytes(&bytecode)
            && matches!(*consts, Value::Seq(_))
            && is_names(&names)
            && is_names(&varnames)
            && if py311 {
                is_bytes(&freevars)
            } else {
                is_names(&freevars)
            }
            && cellvars.as_deref().is_none_or(is_names)
            && is_text(&filename)
            && is_text(&name)
            && qualname.as_deref().is_none_or(is_text)
            && is_bytes(&table)
            && exceptions.as_deref().is_none_or(is_bytes);
        if !ok {
            return Err(Error::BadCode(at));
        }
        Ok(Code {
            bytecode,
            consts,
            names,
            filename,
            name,
        })
    }
}

/// Reads one marshal object from the start of `data` with code objects in `layout`.
pub(crate) fn loads(data: &[u8], layout: Layout) -> Result<Rc<Value>, Error> {
    Reader::new(data, layout).object(0)
}

/// Reads a code object, trying each [`Layout`] (newest first) until one fits.
pub(crate) fn load_code(data: &[u8]) -> Result<(Rc<Value>, Layout), Error> {
    let mut first_err = None;
    for layout in Layout::ALL {
        match loads(data, layout) {
            Ok(v) if matches!(*v, Value::Code(_)) => return Ok((v, layout)),
            Ok(v) => return Err(Error::NotCode(v.kind())),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    Err(first_err.unwrap_or(Error::Truncated(0)))
}

/// What a code object (and every code object nested in its constants) refers to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Usage {
    /// `co_names` of every code object: globals, attributes, imported modules.
    pub names: Vec<String>,
    /// String (and bytes) constants, truncated to [`MAX_STRING_CHARS`].
    pub strings: Vec<String>,
    /// `co_name` of every code object, outermost first.
    pub functions: Vec<String>,
    /// `co_filename` of the outermost code object.
    pub filename: Option<String>,
    /// Total bytecode bytes.
    pub bytecode_len: usize,
    /// The walk stopped at [`MAX_WALK`] visits or [`MAX_KEPT`] entries.
    pub truncated: bool,
}

fn keep(list: &mut Vec<String>, s: String, truncated: &mut bool) {
    if list.contains(&s) {
        return;
    }
    if list.len() >= MAX_KEPT {
        *truncated = true;
        return;
    }
    list.push(s);
}

fn clip(s: &str) -> String {
    if s.chars().count() <= MAX_STRING_CHARS {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(MAX_STRING_CHARS).collect();
        t.push('…');
        t
    }
}

/// Collects what `value` (a code object, or any value holding code objects) uses.
pub(crate) fn usage(value: &Value) -> Usage {
    let mut u = Usage::default();
    let mut budget = MAX_WALK;
    collect(value, &mut u, &mut budget, 0);
    u
}

fn collect(value: &Value, u: &mut Usage, budget: &mut usize, depth: usize) {
    if *budget == 0 || depth > MAX_DEPTH {
        u.truncated = true;
        return;
    }
    *budget -= 1;
    match value {
        Value::Code(code) => {
            if let Some(n) = code.name.text() {
                keep(&mut u.functions, clip(&n), &mut u.truncated);
            }
            if u.filename.is_none() {
                u.filename = code.filename.text().map(|f| clip(&f));
            }
            if let Value::Bytes(b) = &*code.bytecode {
                u.bytecode_len = u.bytecode_len.saturating_add(b.len());
            }
            if let Value::Seq(names) = &*code.names {
                for n in names {
                    if let Some(t) = n.text() {
                        keep(&mut u.names, clip(&t), &mut u.truncated);
                    }
                }
            }
            collect(&code.consts, u, budget, depth + 1);
        }
        Value::Str(s) => keep(&mut u.strings, clip(s), &mut u.truncated),
        Value::Bytes(b) => keep(
            &mut u.strings,
            clip(&String::from_utf8_lossy(b)),
            &mut u.truncated,
        ),
        Value::Seq(items) => {
            for i in items {
                collect(i, u, budget, depth + 1);
            }
        }
        Value::Dict(items) => {
            for (k, v) in items {
                collect(k, u, budget, depth + 1);
                collect(v, u, budget, depth + 1);
            }
        }
        Value::Slice(a, b, c) => {
            for i in [a, b, c] {
                collect(i, u, budget, depth + 1);
            }
        }
        _ => {}
    }
}

/// Python's lenient base64 decoding (`binascii.a2b_base64` without `strict_mode`): characters
/// outside the alphabet are skipped, decoding stops at complete padding, and a dangling
/// partial quad is an error (`None`). Keras decodes Lambda code this way.
pub(crate) fn a2b_base64(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut quad = 0u8;
    let mut left = 0u8;
    let mut pads = 0u8;
    for &c in text {
        if c == b'=' {
            if quad >= 2 {
                pads += 1;
                if quad + pads >= 4 {
                    return Some(out);
                }
            }
            continue;
        }
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        pads = 0;
        // Bytes come out as soon as they are complete, as in CPython.
        match quad {
            0 => left = v,
            1 => {
                out.push((left << 2) | (v >> 4));
                left = v & 0x0f;
            }
            2 => {
                out.push((left << 4) | (v >> 2));
                left = v & 0x03;
            }
            _ => out.push((left << 6) | v),
        }
        quad = (quad + 1) % 4;
    }
    (quad == 0).then_some(out)
}

/// The bytes Keras' `func_load` hands to `marshal.loads` for a code string: base64 when the
/// string is ASCII and decodes, otherwise the string encoded as `raw_unicode_escape`.
pub(crate) fn code_bytes_from_str(s: &str) -> Vec<u8> {
    if s.is_ascii()
        && let Some(b) = a2b_base64(s.as_bytes())
    {
        return b;
    }
    let mut out = Vec::new();
    for ch in s.chars() {
        let c = u32::from(ch);
        if let Ok(b) = u8::try_from(c) {
            out.push(b);
        } else if c <= 0xffff {
            out.extend_from_slice(format!("\\u{c:04x}").as_bytes());
        } else {
            out.extend_from_slice(format!("\\U{c:08x}").as_bytes());
        }
    }
    out
}

/// Fuzz entry point: decodes `data` as a code object (every layout) and walks it.
pub(crate) fn fuzz(data: &[u8]) -> usize {
    let mut n = 0;
    for layout in Layout::ALL {
        if let Ok(v) = loads(data, layout) {
            let u = usage(&v);
            n += u.names.len() + u.strings.len() + u.functions.len();
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        n += code_bytes_from_str(s).len();
    }
    n
}

#[cfg(test)]
pub(crate) mod tests;
