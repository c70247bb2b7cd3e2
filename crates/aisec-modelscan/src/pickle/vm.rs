//! The symbolic pickle machine: CPython's unpickler, run on symbols instead of objects.
//!
//! Every opcode of protocols 0 to 5 is decoded with the semantics of CPython's C unpickler
//! (`Modules/_pickle.c`), which is what `pickle.load` runs, rather than those of `pickletools`: text
//! integers are parsed the way `strtol(…, 0)` parses them, `PROTO` may appear anywhere, `POP` at a
//! mark pops the mark, `FRAME` only asks that its bytes exist, `INST`/`OBJ` call the class unless
//! there are no arguments and it is a type, and so on. Nothing is imported or called: each import
//! becomes a [`Node::Global`], each call a [`Node::Call`], and both are logged with their byte offset
//! so the policy can judge them. A stream that breaks keeps everything logged before the break.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::names;
use super::value::{Arena, CallKind, CallRef, Data, GlobalRef, Id, Node};
use crate::codec::hex_decode;
use crate::limits::Limits;

/// Why a stream stopped before its `STOP`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum StreamError {
    #[error("the stream ends in the middle of an opcode")]
    Truncated,
    #[error("unknown opcode 0x{0:02x}")]
    UnknownOpcode(u8),
    #[error("unsupported pickle protocol {0}")]
    UnsupportedProtocol(u64),
    #[error("unpickling stack underflow")]
    StackUnderflow,
    #[error("an opcode needs a MARK and there is none")]
    NoMark,
    #[error("memo key {0} was never stored")]
    MemoMissing(u64),
    #[error("{0}")]
    Invalid(String),
    #[error("analysis budget exceeded: {0}")]
    Budget(&'static str),
    #[error("the stream holds {0}")]
    Unsupported(&'static str),
}

/// A stream error with where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BrokenAt {
    /// Offset of the opcode that failed.
    pub(crate) offset: usize,
    /// What failed.
    pub(crate) error: StreamError,
}

/// One import made by `find_class`.
#[derive(Debug, Clone)]
pub(crate) struct Import {
    /// Canonical dotted path, or a rendering of the expression when the name is computed at load time.
    pub(crate) path: String,
    /// Module and name as the stream spells them.
    pub(crate) raw: String,
    /// Offset of the opcode.
    pub(crate) offset: usize,
    /// The opcode (or mechanism) that imported it.
    pub(crate) via: &'static str,
    /// Set when module or name were not constants: what they were computed from.
    pub(crate) computed: Option<String>,
    /// Set when the value is an attribute stored earlier by `BUILD` (offset of that `BUILD`).
    pub(crate) overlay_from: Option<usize>,
}

/// One call (or construction) the loader would make.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) offset: usize,
    pub(crate) kind: CallKind,
    /// What is called, resolved through aliases, attribute fetches and name resolvers, most specific
    /// first; empty when it is a value we cannot name.
    pub(crate) callee: Vec<String>,
    /// A Python-like rendering of the callee (`pydoc.locate('os.system')`).
    pub(crate) callee_display: String,
    /// A Python-like rendering of the arguments, shortened.
    pub(crate) args_display: String,
    /// Globals that appear anywhere in the arguments.
    pub(crate) arg_globals: Vec<String>,
    /// For calls made on the stream's behalf by another callable (an indirect call, a wrapper, a
    /// constructor helper), that callable.
    pub(crate) via: Option<String>,
    /// The callee as the stream spells it, when it is a global (`posix.system`).
    pub(crate) raw: Option<String>,
    /// The arguments are plain data: constants and containers of constants, no globals or call results.
    pub(crate) plain_args: bool,
}

/// Bytes a call hands to a deserializer (`pickle.loads`, `torch.load`, …).
#[derive(Debug, Clone)]
pub(crate) struct Nested {
    /// Offset of the call.
    pub(crate) offset: usize,
    /// The deserializer.
    pub(crate) via: String,
    /// The bytes, or why they are unknown.
    pub(crate) data: NestedData,
}

/// The payload of a [`Nested`] call.
#[derive(Debug, Clone)]
pub(crate) enum NestedData {
    /// A span of the input.
    Span(std::ops::Range<usize>),
    /// Bytes decoded or computed at load time.
    Owned(Vec<u8>),
    /// Not known statically.
    Unresolved(String),
}

/// A short description of the value a pickle returns, enough to recognise container layouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Root {
    Int(String),
    Seq(Vec<RootItem>),
    Other,
}

/// An element of a [`Root::Seq`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RootItem {
    Int(i64),
    Str(String),
    Global(String),
    Other,
}

/// Everything learned from one pickle.
#[derive(Debug, Clone)]
pub(crate) struct Stream {
    /// Offset just past `STOP` (or where the stream broke).
    pub(crate) end: usize,
    pub(crate) imports: Vec<Import>,
    pub(crate) calls: Vec<Call>,
    pub(crate) nested: Vec<Nested>,
    pub(crate) broken: Option<BrokenAt>,
    pub(crate) root: Root,
    pub(crate) opcodes: u64,
    /// The highest protocol a `PROTO` opcode announced.
    pub(crate) protocol: u8,
    /// Keys of the storages a PyTorch pickle refers to (`persistent_load(('storage', cls, key, …))`).
    pub(crate) storage_keys: Vec<String>,
}

/// Functions that deserialize one of their arguments, and which argument.
const DESERIALIZERS: &[(&str, usize)] = &[
    ("pickle.loads", 0),
    ("pickle.load", 0),
    ("pickle.Unpickler", 0),
    ("dill.loads", 0),
    ("dill.load", 0),
    ("dill._dill.loads", 0),
    ("cloudpickle.loads", 0),
    ("cloudpickle.load", 0),
    ("joblib.load", 0),
    ("joblib.numpy_pickle.load", 0),
    ("torch.load", 0),
    ("torch.serialization.load", 0),
    ("torch.storage._load_from_bytes", 0),
    ("numpy.load", 0),
    ("numpy.lib.npyio.load", 0),
    ("numpy.lib._npyio_impl.load", 0),
    ("numpy.lib.format.read_array", 0),
    ("numpy.lib._format_impl.read_array", 0),
    ("pandas.read_pickle", 0),
    ("pandas.io.pickle.read_pickle", 0),
    ("marshal.loads", 0),
    ("shelve.open", 0),
];

/// Where the arguments of an indirect call come from.
#[derive(Clone, Copy)]
enum ArgsFrom {
    /// The caller's arguments after the callee (`partial(f, *args)`).
    Rest,
    /// One argument of the caller, itself an argument tuple.
    Tuple(usize),
    /// One argument of the caller, passed alone.
    Single(usize),
    /// None.
    Empty,
}

/// Allowlisted and other callables that call (or construct) one of their arguments: (name, index of
/// the callee, its arguments, how it is invoked). A callable may appear more than once.
const CALLS_ARGUMENT: &[(&str, usize, ArgsFrom, CallKind)] = &[
    (
        "torch._tensor._rebuild_from_type_v2",
        0,
        ArgsFrom::Tuple(2),
        CallKind::Indirect,
    ),
    (
        "torch._tensor._rebuild_from_type",
        0,
        ArgsFrom::Tuple(2),
        CallKind::Indirect,
    ),
    ("functools.partial", 0, ArgsFrom::Rest, CallKind::Wrap),
    ("functools.reduce", 0, ArgsFrom::Rest, CallKind::Indirect),
    ("builtins.map", 0, ArgsFrom::Rest, CallKind::Indirect),
    ("builtins.filter", 0, ArgsFrom::Rest, CallKind::Indirect),
    ("itertools.starmap", 0, ArgsFrom::Rest, CallKind::Indirect),
    // `_reconstructor(cls, base, state)`: `base.__new__(cls, state)`, then `base.__init__(obj, state)`.
    (
        "copyreg._reconstructor",
        0,
        ArgsFrom::Rest,
        CallKind::NewObj,
    ),
    (
        "copyreg._reconstructor",
        1,
        ArgsFrom::Single(2),
        CallKind::Indirect,
    ),
    ("copyreg.__newobj__", 0, ArgsFrom::Rest, CallKind::NewObj),
    (
        "copyreg.__newobj_ex__",
        0,
        ArgsFrom::Tuple(1),
        CallKind::NewObj,
    ),
    (
        "numpy._core.multiarray._reconstruct",
        0,
        ArgsFrom::Rest,
        CallKind::NewObj,
    ),
    // numpy's generator constructors call the constructor they are given with the name.
    (
        "numpy.random._pickle.__randomstate_ctor",
        1,
        ArgsFrom::Single(0),
        CallKind::Indirect,
    ),
    (
        "numpy.random._pickle.__generator_ctor",
        1,
        ArgsFrom::Single(0),
        CallKind::Indirect,
    ),
    (
        "numpy.random._pickle.__bit_generator_ctor",
        0,
        ArgsFrom::Empty,
        CallKind::Indirect,
    ),
];

const MAX_DISPLAY: usize = 240;

/// numpy's ufunc reconstructors: `getattr(__import__(module), name)`.
const UFUNC_RECONSTRUCT: &[&str] = &[
    "numpy._core._ufunc_reconstruct",
    "numpy._core._internal._ufunc_reconstruct",
    "numpy._core.multiarray._ufunc_reconstruct",
];

/// Runs pickles over `input`.
pub(crate) struct Machine<'a> {
    input: &'a [u8],
    limits: &'a Limits,
    depth: usize,
    /// Attributes set on globals through `BUILD`: dotted path to (value, offset of the BUILD).
    overlay: HashMap<String, (Id, usize)>,
    /// `copyreg` extension codes registered in the stream.
    extensions: HashMap<i64, (String, String)>,
    arena: Arena,
    owned_bytes: usize,
    /// The state each `BUILD` gave an object (numpy dtypes carry their element size there).
    dtype_states: HashMap<Id, Id>,
    /// `functools.partial` objects whose function a `BUILD` replaced (`partial.__setstate__`).
    partial_targets: HashMap<Id, Id>,
    out: Stream,
}

impl<'a> Machine<'a> {
    /// Runs one pickle starting at `start`.
    pub(crate) fn run(input: &'a [u8], start: usize, limits: &'a Limits) -> Stream {
        Self::run_nested(input, start, limits, 0)
    }

    fn run_nested(input: &'a [u8], start: usize, limits: &'a Limits, depth: usize) -> Stream {
        let mut m = Machine {
            input,
            limits,
            depth,
            overlay: HashMap::new(),
            extensions: HashMap::new(),
            arena: Arena::new(limits.max_nodes),
            owned_bytes: 0,
            dtype_states: HashMap::new(),
            partial_targets: HashMap::new(),
            out: Stream {
                end: start,
                imports: Vec::new(),
                calls: Vec::new(),
                nested: Vec::new(),
                broken: None,
                root: Root::Other,
                opcodes: 0,
                protocol: 0,
                storage_keys: Vec::new(),
            },
        };
        let mut exec = Exec {
            pos: start,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            proto: 0,
        };
        match m.execute(&mut exec) {
            Ok(root) => {
                m.out.end = exec.pos;
                m.out.root = m.root_summary(root);
            }
            Err(broken) => {
                m.out.end = broken.offset;
                m.out.broken = Some(broken);
            }
        }
        m.out
    }

    // ----- the opcode loop -------------------------------------------------------------------

    fn execute(&mut self, x: &mut Exec) -> Result<Id, BrokenAt> {
        loop {
            let at = x.pos;
            let op = *self.input.get(at).ok_or(BrokenAt {
                offset: at,
                error: StreamError::Truncated,
            })?;
            x.pos += 1;
            self.out.opcodes += 1;
            if self.out.opcodes > self.limits.max_opcodes {
                return Err(BrokenAt {
                    offset: at,
                    error: StreamError::Budget("too many opcodes"),
                });
            }
            match self.step(x, op, at) {
                Ok(Some(root)) => return Ok(root),
                Ok(None) => {}
                Err(error) => return Err(BrokenAt { offset: at, error }),
            }
            if x.stack.len() + x.marks.len() > self.limits.max_stack {
                return Err(BrokenAt {
                    offset: at,
                    error: StreamError::Budget("stack too deep"),
                });
            }
        }
    }

    #[allow(clippy::match_same_arms)]
    fn step(&mut self, x: &mut Exec, op: u8, at: usize) -> Result<Option<Id>, StreamError> {
        match op {
            // PROTO
            0x80 => {
                let p = u64::from(self.byte(x)?);
                if p > 5 {
                    return Err(StreamError::UnsupportedProtocol(p));
                }
                x.proto = p as u8;
                self.out.protocol = self.out.protocol.max(x.proto);
            }
            // FRAME: the C unpickler only requires that the frame's bytes be there.
            0x95 => {
                let len = self.u64le(x)?;
                let end = (x.pos as u64)
                    .checked_add(len)
                    .ok_or(StreamError::Truncated)?;
                if end > self.input.len() as u64 {
                    return Err(StreamError::Truncated);
                }
            }
            b'.' => {
                let v = Self::pop(x)?;
                return Ok(Some(v));
            }
            b'(' => x.marks.push(x.stack.len()),
            b'0' => {
                // POP: at the fence it pops the mark instead.
                if x.marks.last() == Some(&x.stack.len()) {
                    x.marks.pop();
                } else {
                    Self::pop(x)?;
                }
            }
            b'1' => {
                Self::pop_mark(x)?;
            }
            b'2' => {
                let top = *x
                    .stack
                    .last()
                    .filter(|_| x.stack.len() > fence(x))
                    .ok_or(StreamError::StackUnderflow)?;
                x.stack.push(top);
            }
            // Numbers.
            b'F' => {
                let line = self.line(x)?;
                let v = parse_float_opcode(line)
                    .ok_or_else(|| invalid("could not convert string to float"))?;
                self.push(x, Node::Float(v))?;
            }
            b'I' => {
                let line = self.line(x)?;
                let node =
                    parse_int_opcode(line).ok_or_else(|| invalid("invalid literal for INT"))?;
                self.push(x, node)?;
            }
            b'L' => {
                let line = self.line(x)?;
                let line = line.strip_suffix(b"L").unwrap_or(line);
                let node =
                    pylong(c_str(line), 0).ok_or_else(|| invalid("invalid literal for LONG"))?;
                self.push(x, node)?;
            }
            b'J' => {
                let b = self.take(x, 4)?;
                let v = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                self.push(x, Node::Int(i64::from(v)))?;
            }
            b'K' => {
                let v = self.byte(x)?;
                self.push(x, Node::Int(i64::from(v)))?;
            }
            b'M' => {
                let b = self.take(x, 2)?;
                self.push(x, Node::Int(i64::from(u16::from_le_bytes([b[0], b[1]]))))?;
            }
            0x8a => {
                let n = usize::from(self.byte(x)?);
                let b = self.take(x, n)?;
                let node = long_from_le(b);
                self.push(x, node)?;
            }
            0x8b => {
                let n = self.i32le(x)?;
                let n = usize::try_from(n)
                    .map_err(|_| invalid("LONG pickle has negative byte count"))?;
                let b = self.take(x, n)?;
                let node = long_from_le(b);
                self.push(x, node)?;
            }
            b'G' => {
                let b = self.take(x, 8)?;
                let v = f64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                self.push(x, Node::Float(v))?;
            }
            b'N' => self.push(x, Node::None)?,
            0x88 => self.push(x, Node::Bool(true))?,
            0x89 => self.push(x, Node::Bool(false))?,
            // Strings.
            b'S' => {
                let line = self.line(x)?;
                let decoded = decode_string_literal(line)
                    .ok_or_else(|| invalid("the STRING opcode argument must be quoted"))?;
                let data = self.owned(decoded)?;
                self.push(x, Node::Str(data))?;
            }
            b'T' => {
                let n = self.i32le(x)?;
                let n = usize::try_from(n)
                    .map_err(|_| invalid("BINSTRING pickle has negative byte count"))?;
                let r = self.span(x, n)?;
                self.push(x, Node::Str(Data::Span(r)))?;
            }
            b'U' => {
                let n = usize::from(self.byte(x)?);
                let r = self.span(x, n)?;
                self.push(x, Node::Str(Data::Span(r)))?;
            }
            b'V' => {
                let line = self.line(x)?;
                let decoded = decode_raw_unicode_escape(line);
                let data = self.owned(decoded)?;
                self.push(x, Node::Str(data))?;
            }
            b'X' => {
                let n = self.u32le(x)? as usize;
                let r = self.span(x, n)?;
                self.check_utf8(&r)?;
                self.push(x, Node::Str(Data::Span(r)))?;
            }
            0x8c => {
                let n = usize::from(self.byte(x)?);
                let r = self.span(x, n)?;
                self.check_utf8(&r)?;
                self.push(x, Node::Str(Data::Span(r)))?;
            }
            0x8d => {
                let n = self.u64le(x)?;
                let r = self.span(x, usize::try_from(n).map_err(|_| StreamError::Truncated)?)?;
                self.check_utf8(&r)?;
                self.push(x, Node::Str(Data::Span(r)))?;
            }
            b'B' => {
                let n = self.u32le(x)? as usize;
                let r = self.span(x, n)?;
                self.push(x, Node::Bytes(Data::Span(r)))?;
            }
            b'C' => {
                let n = usize::from(self.byte(x)?);
                let r = self.span(x, n)?;
                self.push(x, Node::Bytes(Data::Span(r)))?;
            }
            0x8e => {
                let n = self.u64le(x)?;
                let r = self.span(x, usize::try_from(n).map_err(|_| StreamError::Truncated)?)?;
                self.push(x, Node::Bytes(Data::Span(r)))?;
            }
            0x96 => {
                let n = self.u64le(x)?;
                let r = self.span(x, usize::try_from(n).map_err(|_| StreamError::Truncated)?)?;
                self.push(x, Node::ByteArray(Data::Span(r)))?;
            }
            0x97 => {
                self.push(x, Node::Buffer)?;
            }
            0x98 => {
                // READONLY_BUFFER wraps the top in a read-only memoryview: same value for us.
                if x.stack.len() <= fence(x) {
                    return Err(StreamError::StackUnderflow);
                }
            }
            // Containers.
            b')' => self.push(x, Node::Tuple(Vec::new()))?,
            b't' => {
                let items = Self::pop_mark(x)?;
                self.push(x, Node::Tuple(items))?;
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                if x.stack.len() < fence(x) + n {
                    return Err(StreamError::StackUnderflow);
                }
                let items = x.stack.split_off(x.stack.len() - n);
                self.push(x, Node::Tuple(items))?;
            }
            b']' => self.push(
                x,
                Node::List {
                    items: Vec::new(),
                    dropped: 0,
                },
            )?,
            b'l' => {
                let items = Self::pop_mark(x)?;
                self.push(x, Node::List { items, dropped: 0 })?;
            }
            b'}' => self.push(
                x,
                Node::Dict {
                    items: Vec::new(),
                    dropped: 0,
                },
            )?,
            b'd' => {
                let items = Self::pop_mark(x)?;
                if items.len() % 2 != 0 {
                    return Err(invalid("odd number of items for DICT"));
                }
                let pairs = items.chunks_exact(2).map(|c| (c[0], c[1])).collect();
                self.push(
                    x,
                    Node::Dict {
                        items: pairs,
                        dropped: 0,
                    },
                )?;
            }
            0x8f => self.push(
                x,
                Node::Set {
                    items: Vec::new(),
                    frozen: false,
                    dropped: 0,
                },
            )?,
            0x91 => {
                let items = Self::pop_mark(x)?;
                self.push(
                    x,
                    Node::Set {
                        items,
                        frozen: true,
                        dropped: 0,
                    },
                )?;
            }
            b'a' => {
                let item = Self::pop(x)?;
                let target = Self::top(x)?;
                self.append(target, vec![item], at)?;
            }
            b'e' => {
                let items = Self::pop_mark(x)?;
                let target = Self::top(x)?;
                self.append(target, items, at)?;
            }
            b's' => {
                let value = Self::pop(x)?;
                let key = Self::pop(x)?;
                let target = Self::top(x)?;
                self.set_items(target, vec![key, value], at)?;
            }
            b'u' => {
                let items = Self::pop_mark(x)?;
                if items.len() % 2 != 0 {
                    return Err(invalid("odd number of items for SETITEMS"));
                }
                let target = Self::top(x)?;
                self.set_items(target, items, at)?;
            }
            0x90 => {
                let items = Self::pop_mark(x)?;
                let target = Self::top(x)?;
                self.add_items(target, items, at)?;
            }
            // Memo.
            b'g' => {
                let line = self.line(x)?;
                let key = parse_memo_key(line)?;
                let v = *x.memo.get(&key).ok_or(StreamError::MemoMissing(key))?;
                x.stack.push(v);
            }
            b'h' => {
                let key = u64::from(self.byte(x)?);
                let v = *x.memo.get(&key).ok_or(StreamError::MemoMissing(key))?;
                x.stack.push(v);
            }
            b'j' => {
                let key = u64::from(self.u32le(x)?);
                let v = *x.memo.get(&key).ok_or(StreamError::MemoMissing(key))?;
                x.stack.push(v);
            }
            b'p' => {
                let line = self.line(x)?;
                let key = parse_memo_key(line)?;
                self.memo_put(x, key)?;
            }
            b'q' => {
                let key = u64::from(self.byte(x)?);
                self.memo_put(x, key)?;
            }
            b'r' => {
                let key = u64::from(self.u32le(x)?);
                self.memo_put(x, key)?;
            }
            0x94 => {
                let key = x.memo.len() as u64;
                self.memo_put(x, key)?;
            }
            // Imports.
            b'c' => {
                let module = self.utf8_line(x)?;
                let name = self.utf8_line(x)?;
                let id = self.import(&module, &name, at, "GLOBAL", None)?;
                x.stack.push(id);
            }
            0x93 => {
                let name = Self::pop(x)?;
                let module = Self::pop(x)?;
                let id = self.stack_global(module, name, at)?;
                x.stack.push(id);
            }
            0x82..=0x84 => {
                let code = match op {
                    0x82 => i64::from(self.byte(x)?),
                    0x83 => {
                        let b = self.take(x, 2)?;
                        i64::from(u16::from_le_bytes([b[0], b[1]]))
                    }
                    _ => i64::from(self.i32le(x)?),
                };
                if code <= 0 {
                    return Err(invalid("EXT specifies code <= 0"));
                }
                let id = if let Some((m, n)) = self.extensions.get(&code).cloned() {
                    self.import(&m, &n, at, "EXT", None)?
                } else {
                    let path = format!("<copyreg extension {code}>");
                    self.import_node(
                        path.clone(),
                        path,
                        at,
                        "EXT",
                        Some(format!("copyreg extension code {code}")),
                    )?
                };
                x.stack.push(id);
            }
            // Calls.
            b'R' => {
                let args = Self::pop(x)?;
                let callee = Self::pop(x)?;
                let id = self.call(callee, args, None, CallKind::Reduce, at)?;
                x.stack.push(id);
            }
            0x81 => {
                let args = Self::pop(x)?;
                let cls = Self::pop(x)?;
                let id = self.call(cls, args, None, CallKind::NewObj, at)?;
                x.stack.push(id);
            }
            0x92 => {
                let kwargs = Self::pop(x)?;
                let args = Self::pop(x)?;
                let cls = Self::pop(x)?;
                let id = self.call(cls, args, Some(kwargs), CallKind::NewObj, at)?;
                x.stack.push(id);
            }
            b'i' => {
                let module = self.utf8_line(x)?;
                let name = self.utf8_line(x)?;
                let args = Self::pop_mark(x)?;
                let cls = self.import(&module, &name, at, "INST", None)?;
                let args = self.node(Node::Tuple(args))?;
                let id = self.call(cls, args, None, CallKind::Instantiate, at)?;
                x.stack.push(id);
            }
            b'o' => {
                let mut items = Self::pop_mark(x)?;
                if items.is_empty() {
                    return Err(StreamError::StackUnderflow);
                }
                let cls = items.remove(0);
                let args = self.node(Node::Tuple(items))?;
                let id = self.call(cls, args, None, CallKind::Instantiate, at)?;
                x.stack.push(id);
            }
            b'b' => {
                let state = Self::pop(x)?;
                let inst = Self::top(x)?;
                self.build(x, inst, state, at)?;
            }
            // Persistent ids.
            b'P' => {
                let line = self.line(x)?;
                if !line.is_ascii() {
                    return Err(invalid(
                        "persistent IDs in protocol 0 must be ASCII strings",
                    ));
                }
                let pid = self.owned(line.to_vec())?;
                let pid = self.node(Node::Str(pid))?;
                self.persistent(x, pid)?;
            }
            b'Q' => {
                let pid = Self::pop(x)?;
                self.persistent(x, pid)?;
            }
            other => return Err(StreamError::UnknownOpcode(other)),
        }
        Ok(None)
    }

    // ----- reading -----------------------------------------------------------------------------

    fn take(&self, x: &mut Exec, n: usize) -> Result<&'a [u8], StreamError> {
        let end = x.pos.checked_add(n).ok_or(StreamError::Truncated)?;
        let b = self.input.get(x.pos..end).ok_or(StreamError::Truncated)?;
        x.pos = end;
        Ok(b)
    }

    fn span(&self, x: &mut Exec, n: usize) -> Result<std::ops::Range<usize>, StreamError> {
        let start = x.pos;
        self.take(x, n)?;
        Ok(start..x.pos)
    }

    fn byte(&self, x: &mut Exec) -> Result<u8, StreamError> {
        Ok(self.take(x, 1)?[0])
    }

    fn u32le(&self, x: &mut Exec) -> Result<u32, StreamError> {
        let b = self.take(x, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i32le(&self, x: &mut Exec) -> Result<i32, StreamError> {
        let b = self.take(x, 4)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64le(&self, x: &mut Exec) -> Result<u64, StreamError> {
        let b = self.take(x, 8)?;
        Ok(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }

    /// A line without its `\n`. A missing newline is a truncation, as in CPython.
    fn line(&self, x: &mut Exec) -> Result<&'a [u8], StreamError> {
        let rest = self.input.get(x.pos..).ok_or(StreamError::Truncated)?;
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(StreamError::Truncated)?;
        x.pos += n + 1;
        Ok(&rest[..n])
    }

    fn utf8_line(&self, x: &mut Exec) -> Result<String, StreamError> {
        let line = self.line(x)?;
        std::str::from_utf8(line)
            .map(str::to_owned)
            .map_err(|_| invalid("GLOBAL names must be UTF-8"))
    }

    fn check_utf8(&self, r: &std::ops::Range<usize>) -> Result<(), StreamError> {
        // Validating a huge string costs a pass over it; the loader does the same, and names matter.
        let bytes = &self.input[r.clone()];
        // CPython decodes these strings with `surrogatepass`: lone surrogates are valid.
        if bytes.len() <= 1 << 20 && !utf8_surrogatepass(bytes) {
            return Err(invalid("BINUNICODE data is not valid UTF-8"));
        }
        Ok(())
    }

    // ----- stack and memo ----------------------------------------------------------------------

    fn node(&mut self, node: Node) -> Result<Id, StreamError> {
        self.arena
            .push(node)
            .ok_or(StreamError::Budget("too many values"))
    }

    fn push(&mut self, x: &mut Exec, node: Node) -> Result<(), StreamError> {
        let id = self.node(node)?;
        x.stack.push(id);
        Ok(())
    }

    fn owned(&mut self, bytes: Vec<u8>) -> Result<Data, StreamError> {
        let full_len = bytes.len() as u64;
        let mut bytes = bytes;
        if bytes.len() > self.limits.max_kept_bytes {
            bytes.truncate(self.limits.max_kept_bytes);
        }
        self.owned_bytes = self.owned_bytes.saturating_add(bytes.len());
        if self.owned_bytes > self.limits.max_owned_bytes {
            return Err(StreamError::Budget("too many decoded bytes"));
        }
        Ok(Data::Owned { bytes, full_len })
    }

    fn pop(x: &mut Exec) -> Result<Id, StreamError> {
        if x.stack.len() <= fence(x) {
            return Err(StreamError::StackUnderflow);
        }
        x.stack.pop().ok_or(StreamError::StackUnderflow)
    }

    fn top(x: &mut Exec) -> Result<Id, StreamError> {
        if x.stack.len() <= fence(x) {
            return Err(StreamError::StackUnderflow);
        }
        x.stack.last().copied().ok_or(StreamError::StackUnderflow)
    }

    fn pop_mark(x: &mut Exec) -> Result<Vec<Id>, StreamError> {
        let mark = x.marks.pop().ok_or(StreamError::NoMark)?;
        Ok(x.stack.split_off(mark.min(x.stack.len())))
    }

    fn memo_put(&mut self, x: &mut Exec, key: u64) -> Result<(), StreamError> {
        let top = Self::top(x)?;
        if x.memo.len() >= self.limits.max_memo && !x.memo.contains_key(&key) {
            return Err(StreamError::Budget("memo too large"));
        }
        x.memo.insert(key, top);
        Ok(())
    }

    // ----- imports -----------------------------------------------------------------------------

    fn import(
        &mut self,
        module: &str,
        name: &str,
        at: usize,
        via: &'static str,
        computed: Option<String>,
    ) -> Result<Id, StreamError> {
        let path = names::canonical(module, name);
        let raw = format!("{module} {name}");
        // An attribute stored on a global by an earlier BUILD is what find_class now returns.
        if let Some((base_path, rest, value, from)) = self.overlay_lookup(&path) {
            self.out.imports.push(Import {
                path: path.clone(),
                raw,
                offset: at,
                via,
                computed,
                overlay_from: Some(from),
            });
            let mut id = value;
            for part in rest.split('.').filter(|p| !p.is_empty()) {
                id = self.node(Node::Attr {
                    base: id,
                    name: part.to_owned(),
                })?;
            }
            let _ = base_path;
            return Ok(id);
        }
        self.import_node(path, raw, at, via, computed)
    }

    fn import_node(
        &mut self,
        path: String,
        raw: String,
        at: usize,
        via: &'static str,
        computed: Option<String>,
    ) -> Result<Id, StreamError> {
        let (module, name) = raw
            .split_once(' ')
            .map_or((raw.clone(), String::new()), |(m, n)| {
                (m.to_owned(), n.to_owned())
            });
        self.out.imports.push(Import {
            path: path.clone(),
            raw,
            offset: at,
            via,
            computed,
            overlay_from: None,
        });
        self.node(Node::Global(GlobalRef { module, name, path }))
    }

    fn overlay_lookup(&self, path: &str) -> Option<(String, String, Id, usize)> {
        if self.overlay.is_empty() {
            return None;
        }
        let mut cut = path.len();
        loop {
            let prefix = &path[..cut];
            if let Some(&(id, from)) = self.overlay.get(prefix) {
                return Some((prefix.to_owned(), path[cut..].to_owned(), id, from));
            }
            cut = prefix.rfind('.')?;
        }
    }

    fn stack_global(&mut self, module: Id, name: Id, at: usize) -> Result<Id, StreamError> {
        let m = self.eval_str(module, 0);
        let n = self.eval_str(name, 0);
        match (m, n) {
            (Some((m, m_const)), Some((n, n_const))) => {
                let computed = (!m_const || !n_const)
                    .then(|| format!("module {} name {}", self.render(module), self.render(name)));
                self.import(&m, &n, at, "STACK_GLOBAL", computed)
            }
            _ => {
                if !matches!(
                    self.arena.get(module),
                    Node::Str(_) | Node::Call(_) | Node::Attr { .. }
                ) && !matches!(
                    self.arena.get(name),
                    Node::Str(_) | Node::Call(_) | Node::Attr { .. }
                ) {
                    return Err(invalid("STACK_GLOBAL requires str"));
                }
                let expr = format!("{}.{}", self.render(module), self.render(name));
                let path = format!("<computed: {expr}>");
                self.import_node(path, expr.clone(), at, "STACK_GLOBAL", Some(expr))
            }
        }
    }

    // ----- calls -------------------------------------------------------------------------------

    fn call(
        &mut self,
        callee: Id,
        args: Id,
        kwargs: Option<Id>,
        kind: CallKind,
        at: usize,
    ) -> Result<Id, StreamError> {
        // numpy pickles ufuncs as `_ufunc_reconstruct(module, name)`, which is `getattr(import(module), name)`:
        // an import in disguise, judged as one.
        if kind == CallKind::Reduce
            && let Node::Global(g) = self.arena.get(callee)
            && UFUNC_RECONSTRUCT.contains(&g.path.as_str())
            && let Some([m, n]) = self.arena.seq(args).map(<[Id]>::to_vec).as_deref()
            && let (Some((m, _)), Some((n, _))) = (self.eval_str(*m, 0), self.eval_str(*n, 0))
        {
            return self.import(&m, &n, at, "_ufunc_reconstruct", None);
        }
        // Typing constructs are values, built by subscripting a type (`typing.List[int]` pickles as
        // `operator.getitem(typing.List, int)`) or asking one (`type(None)` for `Optional`'s NoneType).
        if kind == CallKind::Reduce
            && let Some(callee_name) = self.callee_names(callee, 0).0.first().cloned()
            && let Some(argv) = self.arena.seq(args).map(<[Id]>::to_vec)
        {
            let typing_base = |id: Id| match self.arena.get(id) {
                Node::Global(g) => {
                    !g.path.contains("__")
                        && (g.path.starts_with("typing.")
                            || g.path.starts_with("collections.abc.")
                            || g.path.starts_with("builtins."))
                }
                _ => false,
            };
            let value = match callee_name.as_str() {
                "operator.getitem" => argv.len() == 2 && typing_base(argv[0]),
                "builtins.type" => argv.len() == 1 && self.is_plain(argv[0], 0),
                _ => false,
            };
            if value {
                return self.node(Node::Tuple(argv));
            }
        }
        // `getattr(cls, "NAME")` on a name the stream imported is an attribute import in another
        // spelling (Python 3.11 pickles enum members this way): judge the attribute, not getattr.
        if kind == CallKind::Reduce
            && self.callee_names(callee, 0).0.first().map(String::as_str)
                == Some("builtins.getattr")
            && let Some([base, attr]) = self.arena.seq(args).map(<[Id]>::to_vec).as_deref()
            && let Some(attr_name) = self.const_str(*attr)
            && let Some(base_name) = self.callee_names(*base, 0).0.first().cloned()
            && (matches!(self.arena.get(*base), Node::Global(_) | Node::Attr { .. })
                // A bound method of an object of a known library's class (torch 1.x pickles
                // `OneCycleLR.anneal_func` as `getattr(scheduler, '_annealing_cos')`).
                || (matches!(self.arena.get(*base), Node::Call(_))
                    && !attr_name.starts_with("__")
                    && crate::policy::in_trusted_library(&base_name)
                    && base_name.ends_with("()")))
        {
            let path = format!("{base_name}.{attr_name}");
            self.out.imports.push(Import {
                path,
                raw: format!("{base_name} {attr_name}"),
                offset: at,
                via: "getattr",
                computed: None,
                overlay_from: None,
            });
            return self.node(Node::Attr {
                base: *base,
                name: attr_name,
            });
        }
        let id = self.node(Node::Call(CallRef { callee, args }))?;
        let names = self.record_call(at, kind, callee, args, kwargs, None);
        self.after_call(&names, args, at)?;
        Ok(id)
    }

    /// Logs a call for the judge: what is called (resolved), with what, and on whose behalf. Returns the
    /// callee's names.
    fn record_call(
        &mut self,
        at: usize,
        kind: CallKind,
        callee: Id,
        args: Id,
        kwargs: Option<Id>,
        via: Option<String>,
    ) -> Vec<String> {
        let (names, display) = self.callee_names(callee, 0);
        let args_display = self.render_args(args, kwargs);
        let mut arg_globals = Vec::new();
        self.collect_globals(args, 0, &mut arg_globals);
        if let Some(k) = kwargs {
            self.collect_globals(k, 0, &mut arg_globals);
        }
        let raw = match (self.arena.get(callee), &via) {
            (Node::Global(g), None) => Some(format!("{}.{}", g.module, g.name)),
            _ => None,
        };
        let plain_args = self.is_plain(args, 0) && kwargs.is_none_or(|k| self.is_plain(k, 0));
        self.out.calls.push(Call {
            offset: at,
            kind,
            callee: names.clone(),
            callee_display: display,
            args_display,
            arg_globals,
            via,
            raw,
            plain_args,
        });
        names
    }

    /// What a call implies beyond itself: registered extensions, nested payloads, indirect calls.
    fn after_call(&mut self, names: &[String], args: Id, at: usize) -> Result<(), StreamError> {
        let Some(name) = names.first() else {
            return Ok(());
        };
        let argv: Vec<Id> = self.arena.seq(args).map(<[Id]>::to_vec).unwrap_or_default();
        if name == "copyreg.add_extension"
            && argv.len() == 3
            && let (Some(m), Some(n), Node::Int(code)) = (
                self.const_str(argv[0]),
                self.const_str(argv[1]),
                self.arena.get(argv[2]).clone(),
            )
        {
            self.extensions.insert(code, (m, n));
        }
        if let Some((_, idx)) = DESERIALIZERS
            .iter()
            .find(|(d, _)| names.iter().any(|n| n == d))
        {
            let data = match argv.get(*idx) {
                Some(&arg) => self.payload_of(arg, 0),
                None => NestedData::Unresolved("there is no argument".into()),
            };
            self.out.nested.push(Nested {
                offset: at,
                via: name.clone(),
                data,
            });
        }
        // Library helpers that rebuild an object of the class they are given (`_new_Index(cls, d)`,
        // Cython's `newObj(cls)` and `__pyx_unpickle_X(cls, …)`) construct their first argument.
        let last = name.rsplit('.').next().unwrap_or_default();
        let constructs_first = last.starts_with("_new_")
            || last == "newObj"
            || last.starts_with("__pyx_unpickle")
            || last.starts_with("_unpickle");
        let generic = [(name.as_str(), 0usize, ArgsFrom::Rest, CallKind::NewObj)];
        let first_is_class = argv
            .first()
            .is_some_and(|&a| matches!(self.arena.get(a), Node::Global(_) | Node::Attr { .. }));
        let entries = CALLS_ARGUMENT.iter().filter(|(n, ..)| n == name).chain(
            generic
                .iter()
                .filter(|_| constructs_first && first_is_class),
        );
        for &(_, f_idx, from, kind) in entries {
            let Some(&f) = argv.get(f_idx) else { continue };
            // Only a callee that is a name (not plain data) is worth logging as an indirect call.
            if !matches!(
                self.arena.get(f),
                Node::Global(_) | Node::Attr { .. } | Node::Call(_) | Node::Persistent(_)
            ) {
                continue;
            }
            let inner_args = match from {
                ArgsFrom::Tuple(i) if argv.get(i).is_some() => argv[i],
                ArgsFrom::Single(i) if argv.get(i).is_some() => {
                    self.node(Node::Tuple(vec![argv[i]]))?
                }
                ArgsFrom::Rest => {
                    self.node(Node::Tuple(argv.iter().skip(f_idx + 1).copied().collect()))?
                }
                _ => self.node(Node::Tuple(Vec::new()))?,
            };
            self.record_call(at, kind, f, inner_args, None, Some(name.clone()));
        }
        Ok(())
    }

    /// The bytes a deserializer would read from `arg`.
    fn payload_of(&self, arg: Id, depth: usize) -> NestedData {
        if depth > 8 {
            return NestedData::Unresolved("the data is wrapped too deeply".into());
        }
        // A `str` given to a loader that takes paths names a file on the loading host, not the data.
        if depth == 0
            && matches!(self.arena.get(arg), Node::Str(_))
            && let Some(path) = self.const_str(arg)
            && path.len() < 4096
        {
            return NestedData::Unresolved(format!(
                "the argument is the path `{path}`, a file on the loading host"
            ));
        }
        match self.arena.get(arg) {
            Node::Bytes(d) | Node::ByteArray(d) | Node::Str(d) => match d {
                Data::Span(r) => NestedData::Span(r.clone()),
                Data::Owned { bytes, full_len } if bytes.len() as u64 == *full_len => {
                    NestedData::Owned(bytes.clone())
                }
                Data::Owned { .. } => {
                    NestedData::Unresolved("the payload is longer than the analysis keeps".into())
                }
            },
            Node::Call(c) => {
                let (names, _) = self.callee_names(c.callee, 0);
                let argv = self.arena.seq(c.args).unwrap_or_default();
                let wrapper = names.iter().any(|n| {
                    matches!(
                        n.as_str(),
                        "io.BytesIO"
                            | "io.BufferedReader"
                            | "io.StringIO"
                            | "builtins.memoryview"
                            | "builtins.bytes"
                            | "builtins.bytearray"
                    )
                });
                if wrapper && let Some(&inner) = argv.first() {
                    return self.payload_of(inner, depth + 1);
                }
                if let Some(bytes) = self.eval_bytes(arg, 0) {
                    return NestedData::Owned(bytes);
                }
                NestedData::Unresolved(format!(
                    "the data is computed at load time by {}",
                    self.render(arg)
                ))
            }
            _ => NestedData::Unresolved(format!("the argument is {}", self.render(arg))),
        }
    }

    fn build(&mut self, x: &mut Exec, inst: Id, state: Id, at: usize) -> Result<(), StreamError> {
        let inst_node = self.arena.get(inst).clone();
        match &inst_node {
            // BUILD on a class or module object sets attributes that a later find_class returns.
            Node::Global(_) | Node::Attr { .. } => {
                let (names, _) = self.callee_names(inst, 0);
                if let Some(base) = names.first().cloned() {
                    for (k, v) in self.state_items(state) {
                        if let Some(k) = self.const_str(k) {
                            let path = format!("{base}.{k}");
                            if self.overlay.len() < 10_000 {
                                self.overlay.insert(path, (v, at));
                            }
                        }
                    }
                }
                // Setting attributes is itself a call to setattr on the object.
                let setattr = self.node(Node::Attr {
                    base: inst,
                    name: "__setstate__".into(),
                })?;
                let args = self.node(Node::Tuple(vec![state]))?;
                self.call(setattr, args, None, CallKind::SetState, at)?;
            }
            Node::Call(c) => {
                let (class_names, _) = self.callee_names(c.callee, 0);
                let class = class_names.first().cloned().unwrap_or_default();
                // A __setstate__ stored on the class earlier in the stream runs now.
                if let Some((_, rest, value, _)) =
                    self.overlay_lookup(&format!("{class}.__setstate__"))
                    && rest.is_empty()
                {
                    let args = self.node(Node::Tuple(vec![state]))?;
                    self.call(value, args, None, CallKind::SetState, at)?;
                }
                // `partial.__setstate__((func, args, kwds, dict))` replaces what the partial calls.
                if class == "functools.partial"
                    && let Some(items) = self.arena.seq(state).map(<[Id]>::to_vec)
                    && let Some(&func) = items.first()
                {
                    let args = match items.get(1) {
                        Some(&a) => a,
                        None => self.node(Node::Tuple(Vec::new()))?,
                    };
                    self.partial_targets.insert(inst, func);
                    self.record_call(
                        at,
                        CallKind::Wrap,
                        func,
                        args,
                        None,
                        Some("functools.partial (its function replaced by BUILD)".into()),
                    );
                }
                if class == "numpy.dtype" && self.dtype_states.len() < 100_000 {
                    self.dtype_states.insert(inst, state);
                }
                if is_joblib_legacy_wrapper(&class) {
                    self.joblib_legacy_file(state, at)?;
                }
                if is_joblib_wrapper(&class) {
                    self.joblib_array(x, state)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// joblib writes each array's bytes right after the wrapper's BUILD; object arrays are a pickle there.
    fn joblib_array(&mut self, x: &mut Exec, state: Id) -> Result<(), StreamError> {
        let mut shape: Option<Vec<u64>> = None;
        let mut dtype: Option<Id> = None;
        let mut aligned = false;
        for (k, v) in self.state_items(state) {
            match self.const_str(k).as_deref() {
                Some("shape") => {
                    shape = self.arena.seq(v).map(|items| {
                        items
                            .iter()
                            .map(|&i| match self.arena.get(i) {
                                Node::Int(n) => u64::try_from(*n).unwrap_or(u64::MAX),
                                _ => u64::MAX,
                            })
                            .collect()
                    });
                }
                Some("dtype") => dtype = Some(v),
                Some("numpy_array_alignment_bytes") => {
                    aligned = !matches!(self.arena.get(v), Node::None);
                }
                _ => {}
            }
        }
        let (Some(shape), Some(dtype)) = (shape, dtype) else {
            return Err(invalid("joblib array wrapper without shape or dtype"));
        };
        let count = shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| invalid("joblib array shape overflows"))?;
        let (object, itemsize) = self.dtype_info(dtype)?;
        if object {
            if count == 0 {
                return Ok(());
            }
            if self.depth >= self.limits.max_nesting {
                return Err(StreamError::Budget("pickles nested too deeply"));
            }
            // joblib unpickles object arrays with a fresh unpickler on the same file.
            let inner = Machine::run_nested(self.input, x.pos, self.limits, self.depth + 1);
            let broken = inner.broken.clone();
            x.pos = inner.end;
            self.merge(inner);
            if let Some(b) = broken {
                return Err(StreamError::Invalid(format!(
                    "object array pickle broke at offset {}: {}",
                    b.offset, b.error
                )));
            }
            return Ok(());
        }
        let itemsize = itemsize.ok_or(StreamError::Unsupported(
            "a joblib array whose element size is unknown",
        ))?;
        if aligned {
            let pad = usize::from(self.byte(x)?);
            self.take(x, pad)?;
        }
        let bytes = count
            .checked_mul(itemsize)
            .ok_or_else(|| invalid("joblib array size overflows"))?;
        let n = usize::try_from(bytes).map_err(|_| StreamError::Truncated)?;
        self.take(x, n)?;
        Ok(())
    }

    /// An old-format joblib wrapper names the file `joblib.load` opens next to the pickle; a name that
    /// leaves that directory makes the loader read (and unpickle) a file the scan never saw.
    fn joblib_legacy_file(&mut self, state: Id, at: usize) -> Result<(), StreamError> {
        for (k, v) in self.state_items(state) {
            if self.const_str(k).as_deref() != Some("filename") {
                continue;
            }
            let Some(file) = self.const_str(v) else {
                continue;
            };
            let escapes = file.starts_with('/')
                || file.contains("..")
                || file.contains('/')
                || file.contains('\\')
                || file.contains(':');
            if escapes {
                let callee = self.import_node(
                    "numpy.load".into(),
                    "numpy load".into(),
                    at,
                    "joblib wrapper",
                    None,
                )?;
                let args = self.node(Node::Tuple(vec![v]))?;
                self.call(callee, args, None, CallKind::Indirect, at)?;
            }
        }
        Ok(())
    }

    fn merge(&mut self, inner: Stream) {
        self.out.imports.extend(inner.imports);
        self.out.calls.extend(inner.calls);
        self.out.nested.extend(inner.nested);
        self.out.storage_keys.extend(inner.storage_keys);
        self.out.opcodes += inner.opcodes;
    }

    /// Whether a `numpy.dtype(…)` value holds objects, and its element size, as numpy pickles it:
    /// `dtype(typestr, align, copy)` then BUILD with `(version, byteorder, subarray, names, fields,
    /// elsize, alignment, flags)`. The flags' bit 0 (`NPY_ITEM_HASOBJECT`) and `elsize` are what numpy
    /// itself uses; the type string is the fallback.
    fn dtype_info(&self, dtype: Id) -> Result<(bool, Option<u64>), StreamError> {
        let mut descr: Option<crate::numpy::Dtype> = None;
        if let Node::Call(c) = self.arena.get(dtype)
            && let Some(args) = self.arena.seq(c.args)
            && let Some(&first) = args.first()
        {
            descr = self
                .const_str(first)
                .as_deref()
                .and_then(crate::numpy::typestr);
        }
        let state = self
            .dtype_states
            .get(&dtype)
            .and_then(|s| self.arena.seq(*s));
        let int_at = |i: usize| match state.and_then(|s| s.get(i)).map(|&v| self.arena.get(v)) {
            Some(Node::Int(n)) => Some(*n),
            _ => None,
        };
        let object = match int_at(7) {
            Some(flags) => flags & 1 == 1 || descr.is_some_and(|d| d.object),
            None => {
                descr
                    .ok_or(StreamError::Unsupported(
                        "a joblib array with a dtype this scanner does not understand",
                    ))?
                    .object
            }
        };
        let itemsize = int_at(5)
            .filter(|&n| n > 0)
            .map(|n| n as u64)
            .or_else(|| descr.and_then(|d| d.itemsize).filter(|&n| n > 0));
        Ok((object, itemsize))
    }

    fn persistent(&mut self, x: &mut Exec, pid: Id) -> Result<(), StreamError> {
        if let Some([kind, _, key, ..]) = self.arena.seq(pid)
            && self.const_str(*kind).as_deref() == Some("storage")
            && let Some(key) = self.const_str(*key)
            && self.out.storage_keys.len() < 1_000_000
        {
            self.out.storage_keys.push(key);
        }
        let id = self.node(Node::Persistent(pid))?;
        x.stack.push(id);
        Ok(())
    }

    fn append(&mut self, target: Id, items: Vec<Id>, at: usize) -> Result<(), StreamError> {
        let cap = self.limits.max_container_items;
        match self.arena.get_mut(target) {
            Node::List {
                items: list,
                dropped,
            } => {
                extend_capped(list, items, cap, dropped);
                Ok(())
            }
            _ => self.method_call(target, "extend", items, at),
        }
    }

    fn set_items(&mut self, target: Id, items: Vec<Id>, at: usize) -> Result<(), StreamError> {
        let cap = self.limits.max_container_items;
        match self.arena.get_mut(target) {
            Node::Dict {
                items: dict,
                dropped,
            } => {
                extend_capped(
                    dict,
                    items.chunks_exact(2).map(|p| (p[0], p[1])),
                    cap,
                    dropped,
                );
                Ok(())
            }
            _ => self.method_call(target, "__setitem__", items, at),
        }
    }

    fn add_items(&mut self, target: Id, items: Vec<Id>, at: usize) -> Result<(), StreamError> {
        let cap = self.limits.max_container_items;
        match self.arena.get_mut(target) {
            Node::Set {
                items: set,
                frozen: false,
                dropped,
            } => {
                extend_capped(set, items, cap, dropped);
                Ok(())
            }
            _ => self.method_call(target, "add", items, at),
        }
    }

    /// Container opcodes on something that is not a builtin container call its methods.
    fn method_call(
        &mut self,
        target: Id,
        method: &str,
        items: Vec<Id>,
        at: usize,
    ) -> Result<(), StreamError> {
        // Methods of objects built in the stream belong to their class, which was judged when it was
        // built; methods of classes and modules themselves (`os.environ.__setitem__`) are judged here.
        if !matches!(self.arena.get(target), Node::Global(_) | Node::Attr { .. }) {
            return Ok(());
        }
        let callee = self.node(Node::Attr {
            base: target,
            name: method.to_owned(),
        })?;
        let args = self.node(Node::Tuple(items))?;
        self.call(callee, args, None, CallKind::Method, at)?;
        Ok(())
    }

    // ----- symbolic evaluation -----------------------------------------------------------------

    /// Names a callable value can be: `os.system` for a global, `pydoc.locate('os.system')` resolved to
    /// `os.system`, `getattr(os, 'system')` to `os.system`. Returns the names (most specific first) and
    /// a rendering.
    fn callee_names(&self, id: Id, depth: usize) -> (Vec<String>, String) {
        if depth > self.limits.max_value_depth.min(32) {
            return (Vec::new(), "<deep>".into());
        }
        match self.arena.get(id) {
            Node::Global(g) => (vec![g.path.clone()], g.path.clone()),
            Node::Attr { base, name } => {
                let (names, display) = self.callee_names(*base, depth + 1);
                (
                    names.iter().map(|n| format!("{n}.{name}")).collect(),
                    format!("{display}.{name}"),
                )
            }
            Node::Call(c) => {
                let (inner, inner_display) = self.callee_names(c.callee, depth + 1);
                let argv = self.arena.seq(c.args).unwrap_or_default();
                let display = format!("{inner_display}({})", self.render_seq(argv));
                let first = inner.first().map(String::as_str).unwrap_or_default();
                let s0 = argv
                    .first()
                    .and_then(|&a| self.eval_str(a, 0))
                    .map(|(s, _)| s);
                let resolved = match first {
                    "pydoc.locate"
                    | "importlib.import_module"
                    | "builtins.__import__"
                    | "importlib.__import__" => s0.map(|s| names::canonical_module(&s)),
                    "pkgutil.resolve_name" => {
                        s0.map(|s| names::canonical_module(&s.replace(':', ".")))
                    }
                    "builtins.getattr" | "operator.getitem" => {
                        let base = argv
                            .first()
                            .map(|&b| self.callee_names(b, depth + 1).0)
                            .unwrap_or_default();
                        let attr = argv
                            .get(1)
                            .and_then(|&a| self.eval_str(a, 0))
                            .map(|(s, _)| s);
                        match (base.first(), attr) {
                            (Some(b), Some(a)) => Some(format!("{b}.{a}")),
                            _ => None,
                        }
                    }
                    "functools.partial" => self
                        .partial_targets
                        .get(&id)
                        .or(argv.first())
                        .and_then(|&f| self.callee_names(f, depth + 1).0.into_iter().next()),
                    _ => None,
                };
                // Calling the result of attrgetter/methodcaller fetches or calls a named attribute.
                let mut out: Vec<String> = resolved.into_iter().collect();
                if out.is_empty() && !inner.is_empty() {
                    out.push(format!("{first}()"));
                }
                (out, display)
            }
            // Legacy torch.save stores module classes as persistent ids ('module', cls, file, source);
            // its persistent_load returns `cls`.
            Node::Persistent(pid) => match self.arena.seq(*pid) {
                Some([kind, cls, ..]) if self.const_str(*kind).as_deref() == Some("module") => {
                    let (names, display) = self.callee_names(*cls, depth + 1);
                    (names, format!("persistent_load('module', {display})"))
                }
                _ => (Vec::new(), "<persistent object>".into()),
            },
            _ => (Vec::new(), self.render(id)),
        }
    }

    /// A string value, evaluating the pure string functions attackers use to hide names.
    /// The flag says whether it was a constant (as opposed to computed).
    fn eval_str(&self, id: Id, depth: usize) -> Option<(String, bool)> {
        if let Some(t) = self.arena.text(self.input, id) {
            return Some((t.to_owned(), true));
        }
        if depth > 16 {
            return None;
        }
        let bytes = self.eval_bytes(id, depth)?;
        Some((String::from_utf8(bytes).ok()?, false))
    }

    fn const_str(&self, id: Id) -> Option<String> {
        self.arena.text(self.input, id).map(str::to_owned)
    }

    /// Bytes (or a string's UTF-8) computed by a small set of pure functions over constants.
    fn eval_bytes(&self, id: Id, depth: usize) -> Option<Vec<u8>> {
        if depth > 16 {
            return None;
        }
        if let Some(b) = self.arena.complete_bytes(self.input, id) {
            return Some(b.to_vec());
        }
        let Node::Call(c) = self.arena.get(id) else {
            return None;
        };
        let (names, _) = self.callee_names(c.callee, depth + 1);
        let name = names.first()?.as_str();
        let argv = self.arena.seq(c.args)?;
        let arg = |i: usize| argv.get(i).and_then(|&a| self.eval_bytes(a, depth + 1));
        let method = name.rsplit('.').next().unwrap_or_default();
        let is_str_method =
            name.starts_with("builtins.str.") || name.starts_with("builtins.bytes.");
        match name {
            "codecs.encode" | "codecs.decode" => {
                let data = arg(0)?;
                let enc = argv
                    .get(1)
                    .and_then(|&a| self.const_str(a))
                    .unwrap_or_else(|| "utf-8".into())
                    .to_ascii_lowercase()
                    .replace('-', "_");
                match enc.as_str() {
                    "latin1" | "latin_1" | "iso_8859_1" | "iso8859_1" | "l1" => {
                        if name == "codecs.encode" {
                            let s = String::from_utf8(data).ok()?;
                            s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
                        } else {
                            Some(
                                data.iter()
                                    .map(|&b| char::from(b))
                                    .collect::<String>()
                                    .into_bytes(),
                            )
                        }
                    }
                    "utf8" | "utf_8" | "ascii" | "us_ascii" => Some(data),
                    "rot13" | "rot_13" => Some(rot13(&data)),
                    "base64" | "base_64" | "base64_codec" => base64_decode(&data),
                    "hex" | "hex_codec" => hex_decode(&data),
                    _ => None,
                }
            }
            "base64.b64decode"
            | "base64.standard_b64decode"
            | "base64.decodebytes"
            | "binascii.a2b_base64" => base64_decode(&arg(0)?),
            "base64.urlsafe_b64decode" => base64_decode(
                &arg(0)?
                    .iter()
                    .map(|&b| match b {
                        b'-' => b'+',
                        b'_' => b'/',
                        o => o,
                    })
                    .collect::<Vec<_>>(),
            ),
            "base64.b16decode"
            | "binascii.unhexlify"
            | "binascii.a2b_hex"
            | "builtins.bytes.fromhex" => hex_decode(&arg(0)?),
            "operator.add" | "operator.concat" | "operator.iadd" => {
                let mut a = arg(0)?;
                a.extend(arg(1)?);
                Some(a)
            }
            // `str(b, encoding)` decodes.
            "builtins.str" if argv.len() >= 2 => arg(0),
            "builtins.str" | "builtins.bytes" | "builtins.bytearray" if argv.len() == 1 => {
                if let Some(items) = self.arena.seq(argv[0]) {
                    items
                        .iter()
                        .map(|&i| match self.arena.get(i) {
                            Node::Int(n) => u8::try_from(*n).ok(),
                            _ => None,
                        })
                        .collect()
                } else {
                    arg(0)
                }
            }
            "builtins.chr" => match self.arena.get(*argv.first()?) {
                Node::Int(n) => {
                    char::from_u32(u32::try_from(*n).ok()?).map(|c| c.to_string().into_bytes())
                }
                _ => None,
            },
            _ if is_str_method => match method {
                "join" => {
                    let sep = arg(0)?;
                    let items = self.arena.seq(*argv.get(1)?)?;
                    let parts: Option<Vec<Vec<u8>>> = items
                        .iter()
                        .map(|&i| self.eval_bytes(i, depth + 1))
                        .collect();
                    Some(parts?.join(sep.as_slice()))
                }
                "__add__" | "__iadd__" => {
                    let mut a = arg(0)?;
                    a.extend(arg(1)?);
                    Some(a)
                }
                "decode" | "encode" | "__str__" | "strip" => Some(arg(0)?),
                "lower" => Some(arg(0)?.to_ascii_lowercase()),
                "upper" => Some(arg(0)?.to_ascii_uppercase()),
                "replace" => {
                    let s = String::from_utf8(arg(0)?).ok()?;
                    let from = String::from_utf8(arg(1)?).ok()?;
                    let to = String::from_utf8(arg(2)?).ok()?;
                    if from.is_empty() {
                        None
                    } else {
                        Some(s.replace(&from, &to).into_bytes())
                    }
                }
                "fromhex" => hex_decode(&arg(0)?),
                _ => None,
            },
            "zlib.decompress" => {
                use std::io::Read;
                let data = arg(0)?;
                let mut out = Vec::new();
                flate2::read::ZlibDecoder::new(data.as_slice())
                    .take(16 << 20)
                    .read_to_end(&mut out)
                    .ok()?;
                Some(out)
            }
            _ => None,
        }
    }

    /// Key/value pairs of a BUILD state: a dict, or the two dicts of `(state, slotstate)`.
    fn state_items(&self, state: Id) -> Vec<(Id, Id)> {
        let mut out = Vec::new();
        let mut add = |id: Id| {
            if let Node::Dict { items, .. } = self.arena.get(id) {
                out.extend(items.iter().copied());
            }
        };
        match self.arena.get(state) {
            Node::Tuple(items) if items.len() == 2 => {
                add(items[0]);
                add(items[1]);
            }
            _ => add(state),
        }
        out
    }

    /// Constants and containers of constants only.
    fn is_plain(&self, id: Id, depth: usize) -> bool {
        if depth > 16 {
            return false;
        }
        match self.arena.get(id) {
            Node::None
            | Node::Bool(_)
            | Node::Int(_)
            | Node::BigInt(_)
            | Node::Float(_)
            | Node::Str(_)
            | Node::Bytes(_)
            | Node::ByteArray(_) => true,
            Node::Tuple(items) | Node::List { items, .. } | Node::Set { items, .. } => items
                .iter()
                .take(1024)
                .all(|&i| self.is_plain(i, depth + 1)),
            Node::Dict { items, .. } => items
                .iter()
                .take(1024)
                .all(|&(k, v)| self.is_plain(k, depth + 1) && self.is_plain(v, depth + 1)),
            _ => false,
        }
    }

    fn collect_globals(&self, id: Id, depth: usize, out: &mut Vec<String>) {
        if depth > 12 || out.len() > 64 {
            return;
        }
        match self.arena.get(id) {
            Node::Global(_) | Node::Attr { .. } => {
                let (names, _) = self.callee_names(id, 0);
                out.extend(
                    names
                        .into_iter()
                        .filter(|n| !out.contains(n))
                        .collect::<Vec<_>>(),
                );
            }
            Node::Tuple(items) | Node::List { items, .. } | Node::Set { items, .. } => {
                for &i in items.iter().take(256) {
                    self.collect_globals(i, depth + 1, out);
                }
            }
            Node::Dict { items, .. } => {
                for &(k, v) in items.iter().take(256) {
                    self.collect_globals(k, depth + 1, out);
                    self.collect_globals(v, depth + 1, out);
                }
            }
            _ => {}
        }
    }

    fn root_summary(&self, root: Id) -> Root {
        match self.arena.get(root) {
            Node::Int(n) => Root::Int(n.to_string()),
            Node::BigInt(s) => Root::Int(s.clone()),
            Node::List { items, .. } | Node::Tuple(items) => Root::Seq(
                items
                    .iter()
                    .take(1_000_000)
                    .map(|&i| match self.arena.get(i) {
                        Node::Int(n) => RootItem::Int(*n),
                        Node::Global(g) => RootItem::Global(g.path.clone()),
                        _ => self.const_str(i).map_or(RootItem::Other, RootItem::Str),
                    })
                    .collect(),
            ),
            _ => Root::Other,
        }
    }

    // ----- rendering ---------------------------------------------------------------------------

    fn render(&self, id: Id) -> String {
        let mut s = String::new();
        self.render_into(id, 0, &mut s);
        shorten(s)
    }

    fn render_seq(&self, items: &[Id]) -> String {
        let mut s = String::new();
        for (i, &item) in items.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            if s.len() > MAX_DISPLAY {
                s.push('…');
                break;
            }
            self.render_into(item, 1, &mut s);
        }
        shorten(s)
    }

    fn render_args(&self, args: Id, kwargs: Option<Id>) -> String {
        let mut s = match self.arena.seq(args) {
            Some(items) => self.render_seq(items),
            None => format!("*{}", self.render(args)),
        };
        if let Some(k) = kwargs {
            let _ = write!(s, ", **{}", self.render(k));
        }
        shorten(s)
    }

    fn render_into(&self, id: Id, depth: usize, s: &mut String) {
        if s.len() > MAX_DISPLAY {
            return;
        }
        if depth > 6 {
            s.push('…');
            return;
        }
        match self.arena.get(id) {
            Node::None => s.push_str("None"),
            Node::Bool(b) => s.push_str(if *b { "True" } else { "False" }),
            Node::Int(n) => {
                let _ = write!(s, "{n}");
            }
            Node::BigInt(t) => s.push_str(t),
            Node::Float(f) => {
                let _ = write!(s, "{f}");
            }
            Node::Str(_) | Node::Bytes(_) | Node::ByteArray(_) => {
                let (bytes, len) = self.arena.data(self.input, id).unwrap_or_default();
                let prefix = match self.arena.get(id) {
                    Node::Str(_) => "",
                    Node::Bytes(_) => "b",
                    _ => "bytearray:b",
                };
                let shown = &bytes[..bytes.len().min(80)];
                let _ = write!(s, "{prefix}{:?}", String::from_utf8_lossy(shown));
                if len > shown.len() as u64 {
                    let _ = write!(s, "…({len} bytes)");
                }
            }
            Node::Tuple(items) => {
                s.push('(');
                self.render_items(items, depth, s);
                if items.len() == 1 {
                    s.push(',');
                }
                s.push(')');
            }
            Node::List { items, .. } => {
                s.push('[');
                self.render_items(items, depth, s);
                s.push(']');
            }
            Node::Set { items, .. } => {
                s.push('{');
                self.render_items(items, depth, s);
                s.push('}');
            }
            Node::Dict { items, .. } => {
                s.push('{');
                for (i, &(k, v)) in items.iter().enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    if i >= 8 || s.len() > MAX_DISPLAY {
                        s.push('…');
                        break;
                    }
                    self.render_into(k, depth + 1, s);
                    s.push_str(": ");
                    self.render_into(v, depth + 1, s);
                }
                s.push('}');
            }
            Node::Global(g) => s.push_str(&g.path),
            Node::Attr { base, name } => {
                self.render_into(*base, depth + 1, s);
                let _ = write!(s, ".{name}");
            }
            Node::Call(c) => {
                self.render_into(c.callee, depth + 1, s);
                s.push('(');
                if let Some(items) = self.arena.seq(c.args) {
                    self.render_items(items, depth, s);
                }
                s.push(')');
            }
            Node::Persistent(pid) => {
                s.push_str("persistent_load(");
                self.render_into(*pid, depth + 1, s);
                s.push(')');
            }
            Node::Buffer => s.push_str("<out-of-band buffer>"),
        }
    }

    fn render_items(&self, items: &[Id], depth: usize, s: &mut String) {
        for (i, &item) in items.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            if i >= 8 || s.len() > MAX_DISPLAY {
                s.push('…');
                break;
            }
            self.render_into(item, depth + 1, s);
        }
    }
}

/// Appends up to `cap` elements in total; counts the rest as dropped.
fn extend_capped<T>(
    dst: &mut Vec<T>,
    items: impl IntoIterator<Item = T>,
    cap: usize,
    dropped: &mut u64,
) {
    for item in items {
        if dst.len() < cap {
            dst.push(item);
        } else {
            *dropped += 1;
        }
    }
}

/// Per-pickle execution state.
struct Exec {
    pos: usize,
    stack: Vec<Id>,
    marks: Vec<usize>,
    memo: HashMap<u64, Id>,
    proto: u8,
}

fn fence(x: &Exec) -> usize {
    x.marks.last().copied().unwrap_or(0)
}

fn invalid(msg: &str) -> StreamError {
    StreamError::Invalid(msg.to_owned())
}

fn shorten(mut s: String) -> String {
    if s.len() > MAX_DISPLAY {
        let mut cut = MAX_DISPLAY;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// joblib < 0.10 stored arrays in sibling files that `joblib.load` opens with `numpy.load`.
fn is_joblib_legacy_wrapper(class: &str) -> bool {
    (class.ends_with("numpy_pickle.NDArrayWrapper")
        || class.ends_with("numpy_pickle.ZNDArrayWrapper"))
        && (class.starts_with("joblib.") || class.starts_with("sklearn.externals.joblib."))
}

fn is_joblib_wrapper(class: &str) -> bool {
    class.ends_with("numpy_pickle.NumpyArrayWrapper")
        && (class.starts_with("joblib.") || class.starts_with("sklearn.externals.joblib."))
}

/// The C unpickler parses text arguments as C strings: a NUL ends them.
fn c_str(line: &[u8]) -> &[u8] {
    line.split(|&b| b == 0).next().unwrap_or_default()
}

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `strtol(s, &end, 0)`: leading white space, a sign, `0x` for hex, a leading `0` for octal. Returns
/// the value and where parsing stopped, or `None` on overflow or when no digit was read.
fn strtol0(s: &[u8]) -> Option<(i64, usize)> {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut radix = 10;
    if s.get(i) == Some(&b'0')
        && matches!(s.get(i + 1), Some(b'x' | b'X'))
        && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    {
        radix = 16;
        i += 2;
    } else if s.get(i) == Some(&b'0') {
        radix = 8;
    }
    let start = i;
    let mut v: i64 = 0;
    while let Some(d) = s.get(i).and_then(|&b| char::from(b).to_digit(radix)) {
        v = v.checked_mul(i64::from(radix))?.checked_add(i64::from(d))?;
        i += 1;
    }
    if i == start {
        return None;
    }
    Some((if neg { -v } else { v }, i))
}

/// `PyLong_FromString(s, NULL, base)` with base 0 or 10: white space around, a sign, for base 0 the
/// prefixes `0x`/`0o`/`0b` (and no other leading zero), single underscores between digits.
fn pylong(s: &[u8], base: u32) -> Option<Node> {
    let s = std::str::from_utf8(s).ok()?;
    let s = s.trim_matches(|c: char| c.is_ascii() && is_c_space(c as u8));
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if base == 0 && lower.starts_with("0x") {
        (16, &body[2..])
    } else if base == 0 && lower.starts_with("0o") {
        (8, &body[2..])
    } else if base == 0 && lower.starts_with("0b") {
        (2, &body[2..])
    } else {
        (10, body)
    };
    let prefixed = radix != 10;
    // Underscores: only single ones between digits (or right after a base prefix).
    let digits = digits
        .strip_prefix('_')
        .filter(|_| prefixed)
        .unwrap_or(digits);
    if digits.is_empty() || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if !clean.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    if base == 0
        && radix == 10
        && clean.len() > 1
        && clean.starts_with('0')
        && clean.chars().any(|c| c != '0')
    {
        return None;
    }
    match i64::from_str_radix(&clean, radix) {
        Ok(v) => Some(Node::Int(if neg { -v } else { v })),
        Err(_) => Some(Node::BigInt(format!(
            "{}{}{clean}",
            if neg { "-" } else { "" },
            match radix {
                16 => "0x",
                8 => "0o",
                2 => "0b",
                _ => "",
            }
        ))),
    }
}

/// `INT`: `strtol` first; if it did not consume the whole argument, `PyLong_FromString`.
fn parse_int_opcode(line: &[u8]) -> Option<Node> {
    let s = c_str(line);
    match strtol0(s) {
        Some((v, end)) if end == s.len() => {
            // "00" and "01" (with the newline, three bytes) are protocol 0's booleans.
            if line.len() == 2 && (v == 0 || v == 1) {
                Some(Node::Bool(v == 1))
            } else {
                Some(Node::Int(v))
            }
        }
        _ => pylong(s, 0),
    }
}

/// `FLOAT`: the number must run to the end of the (C) string.
fn parse_float_opcode(line: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(c_str(line)).ok()?;
    s.parse().ok()
}

/// Validates UTF-8 as CPython's `surrogatepass` decoder does: encoded surrogates are accepted.
fn utf8_surrogatepass(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(_) => return true,
            Err(e) => {
                let at = e.valid_up_to();
                match rest.get(at..at + 3) {
                    Some([0xED, b1, b2])
                        if (0xA0..=0xBF).contains(b1) && (0x80..=0xBF).contains(b2) =>
                    {
                        rest = &rest[at + 3..];
                    }
                    _ => return false,
                }
            }
        }
    }
}

fn parse_memo_key(line: &[u8]) -> Result<u64, StreamError> {
    match pylong(c_str(line), 10) {
        Some(Node::Int(n)) if n >= 0 => Ok(n as u64),
        Some(Node::Int(_)) => Err(invalid("negative memo key")),
        _ => Err(invalid("memo key is not an integer")),
    }
}

/// Two's-complement little-endian integer (LONG1/LONG4).
fn long_from_le(b: &[u8]) -> Node {
    if b.is_empty() {
        return Node::Int(0);
    }
    if b.len() <= 8 {
        let neg = b[b.len() - 1] & 0x80 != 0;
        let mut buf = if neg { [0xffu8; 8] } else { [0u8; 8] };
        buf[..b.len()].copy_from_slice(b);
        return Node::Int(i64::from_le_bytes(buf));
    }
    // Too large to matter as a number; keep a hex rendering (bounded).
    let shown: String = b
        .iter()
        .rev()
        .take(64)
        .fold(String::from("0x"), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        });
    Node::BigInt(if b.len() > 64 {
        format!("{shown}…")
    } else {
        shown
    })
}

/// Decodes a protocol 0 `STRING` argument: a quoted Python 2 literal with backslash escapes.
fn decode_string_literal(line: &[u8]) -> Option<Vec<u8>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() < 2 {
        return None;
    }
    let q = line[0];
    if !(q == b'\'' || q == b'"') || line[line.len() - 1] != q {
        return None;
    }
    let body = &line[1..line.len() - 1];
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        if c != b'\\' || i + 1 >= body.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let e = body[i + 1];
        i += 2;
        match e {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'\\' | b'\'' | b'"' => out.push(e),
            b'\n' => {}
            b'x' => {
                let h = body.get(i..i + 2)?;
                out.push(u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?);
                i += 2;
            }
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match body.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((v & 0xff) as u8);
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Some(out)
}

/// Decodes `raw-unicode-escape` (protocol 0 `UNICODE`): `\uXXXX`, `\UXXXXXXXX`, other bytes are Latin-1.
fn decode_raw_unicode_escape(line: &[u8]) -> Vec<u8> {
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        let c = line[i];
        if c == b'\\' && i + 1 < line.len() && (line[i + 1] == b'u' || line[i + 1] == b'U') {
            let n = if line[i + 1] == b'u' { 4 } else { 8 };
            if let Some(h) = line.get(i + 2..i + 2 + n)
                && let Ok(h) = std::str::from_utf8(h)
                && let Ok(v) = u32::from_str_radix(h, 16)
                && let Some(ch) = char::from_u32(v)
            {
                out.push(ch);
                i += 2 + n;
                continue;
            }
        }
        out.push(char::from(c));
        i += 1;
    }
    out.into_bytes()
}

fn rot13(data: &[u8]) -> Vec<u8> {
    data.iter()
        .map(|&b| match b {
            b'a'..=b'z' => (b - b'a' + 13) % 26 + b'a',
            b'A'..=b'Z' => (b - b'A' + 13) % 26 + b'A',
            _ => b,
        })
        .collect()
}

fn base64_decode(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0;
    for &b in data {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            b'\n' | b'\r' | b' ' => continue,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_integers_parse_as_the_c_unpickler_does() {
        assert!(matches!(parse_int_opcode(b"01"), Some(Node::Bool(true))));
        assert!(matches!(parse_int_opcode(b"00"), Some(Node::Bool(false))));
        assert!(matches!(parse_int_opcode(b"1"), Some(Node::Int(1))));
        assert!(matches!(parse_int_opcode(b"0x1f"), Some(Node::Int(31))));
        assert!(matches!(parse_int_opcode(b"010"), Some(Node::Int(8))));
        assert!(matches!(parse_int_opcode(b"1 "), Some(Node::Int(1))));
        assert!(matches!(parse_int_opcode(b"1_0\t"), Some(Node::Int(10))));
        assert!(matches!(parse_int_opcode(b"1\x00junk"), Some(Node::Int(1))));
        assert!(matches!(parse_int_opcode(b" -7"), Some(Node::Int(-7))));
        assert!(matches!(
            parse_int_opcode(b"99999999999999999999"),
            Some(Node::BigInt(_))
        ));
        assert!(parse_int_opcode(b"1__0").is_none());
        assert!(parse_int_opcode(b"x").is_none());
        assert!(matches!(pylong(c_str(b" 7 "), 0), Some(Node::Int(7))));
        assert!(pylong(b"010", 0).is_none());
        assert!(matches!(pylong(b"010", 10), Some(Node::Int(10))));
        assert_eq!(parse_float_opcode(b"1.5\x00junk"), Some(1.5));
    }

    #[test]
    fn surrogates_pass_like_cpython() {
        assert!(utf8_surrogatepass(b"a\xed\xa0\x80b"));
        assert!(!utf8_surrogatepass(b"a\xffb"));
    }
}
