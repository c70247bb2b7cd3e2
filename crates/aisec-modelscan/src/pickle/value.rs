//! The symbolic values of the pickle machine, kept in an arena per stream.
//!
//! Values are indices into [`Arena`]; nothing is reference-counted, so cyclic structures (a list
//! appended to itself through the memo) and very deep nesting cost no recursion on drop and leak
//! nothing. Strings and bytes keep at most a prefix plus their span in the input, so a gigabyte of
//! tensor bytes inside a pickle is never copied.

use std::ops::Range;

/// An index into the arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Id(pub(crate) u32);

/// What a string-like value holds.
#[derive(Debug, Clone)]
pub(crate) enum Data {
    /// Raw bytes of the input, exactly the value (BINBYTES, BINUNICODE, …).
    Span(Range<usize>),
    /// Decoded or computed bytes we own; `full_len` is the true length when `bytes` is a prefix.
    Owned { bytes: Vec<u8>, full_len: u64 },
}

/// How a call or construction happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallKind {
    /// `REDUCE`: `callable(*args)`.
    Reduce,
    /// `NEWOBJ`/`NEWOBJ_EX`: `cls.__new__(cls, *args)`; no `__init__`.
    NewObj,
    /// `INST`/`OBJ`: `cls(*args)`, or `cls.__new__(cls)` when there are no args and `cls` is a type.
    Instantiate,
    /// `BUILD` on an object whose `__setstate__` we know: `__setstate__(state)`.
    SetState,
    /// A method an opcode invokes on a non-builtin object (`extend`, `append`, `__setitem__`, `add`).
    Method,
    /// A call made inside an allowlisted function that calls one of its arguments.
    Indirect,
    /// A callable wrapped for a later call (`functools.partial`): called only if the wrapper is.
    Wrap,
}

/// One symbolic value.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    None,
    Bool(bool),
    /// Integers that fit; larger ones keep their decimal text.
    Int(i64),
    BigInt(String),
    Float(f64),
    Str(Data),
    Bytes(Data),
    ByteArray(Data),
    Tuple(Vec<Id>),
    /// Lists, dicts and sets keep at most `max_container_items` elements; `dropped` counts the rest.
    List {
        items: Vec<Id>,
        dropped: u64,
    },
    Dict {
        items: Vec<(Id, Id)>,
        dropped: u64,
    },
    Set {
        items: Vec<Id>,
        frozen: bool,
        dropped: u64,
    },
    /// A name imported by `find_class`, canonical dotted path (`os.system`).
    Global(GlobalRef),
    /// An attribute fetched from a value at load time (`getattr(x, "name")`).
    Attr {
        base: Id,
        name: String,
    },
    /// The result of a call.
    Call(CallRef),
    /// The result of `persistent_load(pid)`.
    Persistent(Id),
    /// An out-of-band buffer (`NEXT_BUFFER`).
    Buffer,
}

/// A global reference as found in the stream.
#[derive(Debug, Clone)]
pub(crate) struct GlobalRef {
    /// The module as written.
    pub(crate) module: String,
    /// The attribute path as written (may be dotted).
    pub(crate) name: String,
    /// Canonical dotted path after module aliasing (`posix.system` becomes `os.system`).
    pub(crate) path: String,
}

/// A call as found in the stream.
#[derive(Debug, Clone)]
pub(crate) struct CallRef {
    pub(crate) callee: Id,
    pub(crate) args: Id,
}

/// The arena. Bounded: pushing past `max_nodes` fails.
#[derive(Debug, Default)]
pub(crate) struct Arena {
    nodes: Vec<Node>,
    max_nodes: usize,
}

impl Arena {
    pub(crate) fn new(max_nodes: usize) -> Self {
        Self {
            nodes: Vec::new(),
            max_nodes,
        }
    }

    /// Adds a node; `None` when the budget is spent.
    pub(crate) fn push(&mut self, node: Node) -> Option<Id> {
        if self.nodes.len() >= self.max_nodes {
            return None;
        }
        let id = Id(u32::try_from(self.nodes.len()).ok()?);
        self.nodes.push(node);
        Some(id)
    }

    pub(crate) fn get(&self, id: Id) -> &Node {
        &self.nodes[id.0 as usize]
    }

    pub(crate) fn get_mut(&mut self, id: Id) -> &mut Node {
        &mut self.nodes[id.0 as usize]
    }

    /// The bytes of a string-like node (a prefix when the value was longer than we keep).
    pub(crate) fn data<'a>(&'a self, input: &'a [u8], id: Id) -> Option<(&'a [u8], u64)> {
        let (Node::Str(data) | Node::Bytes(data) | Node::ByteArray(data)) = self.get(id) else {
            return None;
        };
        Some(match data {
            Data::Span(r) => (
                input.get(r.clone()).unwrap_or_default(),
                (r.end - r.start) as u64,
            ),
            Data::Owned { bytes, full_len } => (bytes.as_slice(), *full_len),
        })
    }

    /// The text of a `str` node when it is complete and valid UTF-8.
    pub(crate) fn text<'a>(&'a self, input: &'a [u8], id: Id) -> Option<&'a str> {
        if !matches!(self.get(id), Node::Str(_)) {
            return None;
        }
        let (bytes, len) = self.data(input, id)?;
        if bytes.len() as u64 != len {
            return None;
        }
        std::str::from_utf8(bytes).ok()
    }

    /// Complete bytes of a `bytes`/`str` node (`str` as UTF-8).
    pub(crate) fn complete_bytes<'a>(&'a self, input: &'a [u8], id: Id) -> Option<&'a [u8]> {
        let (bytes, len) = self.data(input, id)?;
        (bytes.len() as u64 == len).then_some(bytes)
    }

    /// The elements of a tuple or list.
    pub(crate) fn seq(&self, id: Id) -> Option<&[Id]> {
        match self.get(id) {
            Node::Tuple(items) | Node::List { items, .. } => Some(items),
            _ => None,
        }
    }
}
