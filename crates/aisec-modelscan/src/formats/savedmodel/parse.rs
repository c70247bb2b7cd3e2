//! The parts of TensorFlow's `SavedModel` protobuf schema the analysis needs, read with the shared
//! bounded wire reader: graphs, nodes, attributes, the function library, the saver, assets,
//! signatures and the Keras metadata kept in the object graph.
//!
//! Field numbers follow `tensorflow/core/protobuf/{saved_model,meta_graph,saver,
//! saved_object_graph}.proto` and `tensorflow/core/framework/{graph,node_def,attr_value,function,
//! op_def,tensor}.proto`. Unknown fields are skipped (newer writers add fields); wire-level damage
//! is an error.

use std::borrow::Cow;

use thiserror::Error;

use super::super::protobuf::{Field, ProtoError, Reader, Value};

/// Most nodes, inputs and attributes kept over one file (a large real graph has ~10^5 nodes).
pub(super) const MAX_ITEMS: usize = 4_000_000;
/// Deepest nesting of attribute values (function attributes inside function attributes).
const MAX_ATTR_DEPTH: usize = 8;
/// Most strings kept from one string tensor or string list.
pub(super) const MAX_STRINGS: usize = 64;
/// Longest string kept as evidence; longer ones are cut.
const MAX_STRING_CHARS: usize = 1024;

/// Why a `SavedModel` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(super) enum ParseError {
    /// Wire-level damage.
    #[error("malformed protobuf: {0}")]
    Proto(#[from] ProtoError),
    /// A field has the wrong wire type for the schema.
    #[error("field {field} of {message} at offset {offset} has the wrong wire type")]
    Schema {
        /// The message being read.
        message: &'static str,
        /// The field number.
        field: u32,
        /// Where.
        offset: usize,
    },
    /// More nodes, inputs and attributes than [`MAX_ITEMS`].
    #[error("the graph holds more than {MAX_ITEMS} nodes, inputs and attributes")]
    TooLarge,
}

type Result<T> = std::result::Result<T, ParseError>;

/// One `NodeDef`.
#[derive(Debug, Default)]
pub(super) struct Node<'a> {
    pub name: Cow<'a, str>,
    pub op: Cow<'a, str>,
    pub inputs: Vec<Cow<'a, str>>,
    pub device: Cow<'a, str>,
    /// `attr` map entries: key and the raw `AttrValue`.
    pub attrs: Vec<(Cow<'a, str>, &'a [u8], usize)>,
    pub offset: usize,
}

impl<'a> Node<'a> {
    /// The raw `AttrValue` named `key`.
    pub(super) fn attr(&self, key: &str) -> Option<(&'a [u8], usize)> {
        self.attrs
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|&(_, v, off)| (v, off))
    }

    /// The data inputs (control inputs `^name` dropped), in order.
    pub(super) fn data_inputs(&self) -> impl Iterator<Item = &str> {
        self.inputs
            .iter()
            .map(AsRef::as_ref)
            .filter(|i: &&str| !i.starts_with('^'))
    }
}

/// The main graph or one library function.
#[derive(Debug, Default)]
pub(super) struct Graph<'a> {
    /// `None` for the main graph.
    pub function: Option<Cow<'a, str>>,
    /// Input argument names of a function, in order.
    pub args: Vec<Cow<'a, str>>,
    pub nodes: Vec<Node<'a>>,
    pub offset: usize,
}

/// An `AssetFileDef`.
#[derive(Debug)]
pub(super) struct Asset<'a> {
    pub tensor: Cow<'a, str>,
    pub filename: Cow<'a, str>,
    pub offset: usize,
}

/// One `MetaGraphDef`, reduced to what the checks use.
#[derive(Debug, Default)]
pub(super) struct MetaGraph<'a> {
    pub tags: Vec<Cow<'a, str>>,
    pub graph: Graph<'a>,
    pub functions: Vec<Graph<'a>>,
    /// `SaverDef.filename_tensor_name`.
    pub saver_filename: Option<Cow<'a, str>>,
    pub assets: Vec<Asset<'a>>,
    /// Signature name and the tensor names of its inputs.
    pub signature_inputs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Keras JSON kept in `SavedUserObject.metadata` of the object graph.
    pub keras_metadata: Vec<(Cow<'a, str>, usize)>,
}

/// Counts kept items against [`MAX_ITEMS`].
#[derive(Debug, Default)]
pub(super) struct Budget {
    used: usize,
}

impl Budget {
    fn take(&mut self, n: usize) -> Result<()> {
        self.used = self.used.saturating_add(n);
        if self.used > MAX_ITEMS {
            Err(ParseError::TooLarge)
        } else {
            Ok(())
        }
    }
}

fn bytes<'a>(f: &Field<'a>, message: &'static str) -> Result<&'a [u8]> {
    f.bytes().ok_or(ParseError::Schema {
        message,
        field: f.number,
        offset: f.offset,
    })
}

fn text<'a>(f: &Field<'a>, message: &'static str) -> Result<Cow<'a, str>> {
    bytes(f, message).map(String::from_utf8_lossy)
}

/// Reads a whole `SavedModel`: its `MetaGraphDef`s.
pub(super) fn saved_model<'a>(data: &'a [u8], budget: &mut Budget) -> Result<Vec<MetaGraph<'a>>> {
    let mut out = Vec::new();
    let r = Reader::new(data, 0);
    for f in r.clone() {
        let f = f?;
        if f.number == 2 {
            let b = bytes(&f, "SavedModel")?;
            out.push(meta_graph(b, r.offset_of(b), budget)?);
        }
    }
    Ok(out)
}

fn meta_graph<'a>(buf: &'a [u8], base: usize, budget: &mut Budget) -> Result<MetaGraph<'a>> {
    let mut mg = MetaGraph::default();
    let r = Reader::new(buf, base);
    for f in r.clone() {
        let f = f?;
        let Some(b) = f.bytes() else { continue };
        let at = r.offset_of(b);
        match f.number {
            1 => {
                for g in Reader::new(b, at) {
                    let g = g?;
                    if g.number == 4 {
                        budget.take(1)?;
                        mg.tags.push(text(&g, "MetaInfoDef")?);
                    }
                }
            }
            2 => graph_def(b, at, &mut mg, budget)?,
            3 => {
                for g in Reader::new(b, at) {
                    let g = g?;
                    if g.number == 1 {
                        mg.saver_filename = Some(text(&g, "SaverDef")?);
                    }
                }
            }
            5 => signature(b, at, &mut mg, budget)?,
            6 => {
                let mut asset = Asset {
                    tensor: Cow::Borrowed(""),
                    filename: Cow::Borrowed(""),
                    offset: f.offset,
                };
                for g in Reader::new(b, at) {
                    let g = g?;
                    match g.number {
                        1 => asset.tensor = tensor_info_name(bytes(&g, "AssetFileDef")?, g.offset)?,
                        2 => asset.filename = text(&g, "AssetFileDef")?,
                        _ => {}
                    }
                }
                budget.take(1)?;
                mg.assets.push(asset);
            }
            7 => object_graph(b, at, &mut mg, budget)?,
            _ => {}
        }
    }
    Ok(mg)
}

fn tensor_info_name(buf: &[u8], base: usize) -> Result<Cow<'_, str>> {
    for g in Reader::new(buf, base) {
        let g = g?;
        if g.number == 1 {
            return text(&g, "TensorInfo");
        }
    }
    Ok(Cow::Borrowed(""))
}

/// A `signature_def` map entry: remembers the tensors its inputs feed.
fn signature<'a>(
    buf: &'a [u8],
    base: usize,
    mg: &mut MetaGraph<'a>,
    budget: &mut Budget,
) -> Result<()> {
    let mut name = Cow::Borrowed("");
    let mut def = None;
    let r = Reader::new(buf, base);
    for f in r.clone() {
        let f = f?;
        match f.number {
            1 => name = text(&f, "SignatureDef entry")?,
            2 => {
                let b = bytes(&f, "SignatureDef entry")?;
                def = Some((b, r.offset_of(b)));
            }
            _ => {}
        }
    }
    let Some((b, at)) = def else { return Ok(()) };
    let r = Reader::new(b, at);
    for f in r.clone() {
        let f = f?;
        if f.number != 1 {
            continue;
        }
        // inputs: map<string, TensorInfo>
        let e = bytes(&f, "SignatureDef")?;
        let er = Reader::new(e, r.offset_of(e));
        for g in er.clone() {
            let g = g?;
            if g.number == 2 {
                let ti = bytes(&g, "SignatureDef input")?;
                budget.take(1)?;
                mg.signature_inputs
                    .push((name.clone(), tensor_info_name(ti, er.offset_of(ti))?));
            }
        }
    }
    Ok(())
}

/// `SavedObjectGraph`: only the Keras JSON of user objects is kept.
fn object_graph<'a>(
    buf: &'a [u8],
    base: usize,
    mg: &mut MetaGraph<'a>,
    budget: &mut Budget,
) -> Result<()> {
    let r = Reader::new(buf, base);
    for f in r.clone() {
        let f = f?;
        if f.number != 1 {
            continue;
        }
        let obj = bytes(&f, "SavedObjectGraph")?;
        let or = Reader::new(obj, r.offset_of(obj));
        for g in or.clone() {
            let g = g?;
            if g.number != 4 {
                continue;
            }
            let user = bytes(&g, "SavedObject")?;
            let ur = Reader::new(user, or.offset_of(user));
            for h in ur.clone() {
                let h = h?;
                if h.number == 3 {
                    let m = text(&h, "SavedUserObject")?;
                    if !m.trim().is_empty() {
                        budget.take(1)?;
                        mg.keras_metadata.push((m, h.offset));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Reads a bare `GraphDef` (a frozen graph) as a meta graph without saver, assets or signatures.
pub(super) fn frozen_graph<'a>(data: &'a [u8], budget: &mut Budget) -> Result<MetaGraph<'a>> {
    let mut mg = MetaGraph::default();
    graph_def(data, 0, &mut mg, budget)?;
    Ok(mg)
}

fn graph_def<'a>(
    buf: &'a [u8],
    base: usize,
    mg: &mut MetaGraph<'a>,
    budget: &mut Budget,
) -> Result<()> {
    mg.graph.offset = base;
    let r = Reader::new(buf, base);
    for f in r.clone() {
        let f = f?;
        match f.number {
            1 => {
                let b = bytes(&f, "GraphDef")?;
                mg.graph
                    .nodes
                    .push(node_def(b, r.offset_of(b), f.offset, budget)?);
            }
            2 => {
                let b = bytes(&f, "GraphDef")?;
                library(b, r.offset_of(b), &mut mg.functions, budget)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// `FunctionDefLibrary`: every `FunctionDef`.
pub(super) fn library<'a>(
    buf: &'a [u8],
    base: usize,
    out: &mut Vec<Graph<'a>>,
    budget: &mut Budget,
) -> Result<()> {
    let r = Reader::new(buf, base);
    for f in r.clone() {
        let f = f?;
        if f.number != 1 {
            continue;
        }
        let b = bytes(&f, "FunctionDefLibrary")?;
        let fr = Reader::new(b, r.offset_of(b));
        let mut g = Graph {
            function: Some(Cow::Borrowed("")),
            offset: f.offset,
            ..Graph::default()
        };
        for h in fr.clone() {
            let h = h?;
            match h.number {
                1 => {
                    // OpDef signature: 1 name, 2 input_arg (ArgDef: 1 name)
                    let s = bytes(&h, "FunctionDef")?;
                    for k in Reader::new(s, fr.offset_of(s)) {
                        let k = k?;
                        match k.number {
                            1 => g.function = Some(text(&k, "OpDef")?),
                            2 => {
                                let a = bytes(&k, "OpDef")?;
                                let mut name = Cow::Borrowed("");
                                for l in Reader::new(a, k.offset) {
                                    let l = l?;
                                    if l.number == 1 {
                                        name = text(&l, "ArgDef")?;
                                    }
                                }
                                budget.take(1)?;
                                g.args.push(name);
                            }
                            _ => {}
                        }
                    }
                }
                3 => {
                    let n = bytes(&h, "FunctionDef")?;
                    g.nodes
                        .push(node_def(n, fr.offset_of(n), h.offset, budget)?);
                }
                _ => {}
            }
        }
        budget.take(1)?;
        out.push(g);
    }
    Ok(())
}

/// One `NodeDef`.
pub(super) fn node_def<'a>(
    buf: &'a [u8],
    base: usize,
    offset: usize,
    budget: &mut Budget,
) -> Result<Node<'a>> {
    budget.take(1)?;
    let mut n = Node {
        offset,
        ..Node::default()
    };
    let r = Reader::new(buf, base);
    for f in r.clone() {
        let f = f?;
        match f.number {
            1 => n.name = text(&f, "NodeDef")?,
            2 => n.op = text(&f, "NodeDef")?,
            3 => {
                budget.take(1)?;
                n.inputs.push(text(&f, "NodeDef")?);
            }
            4 => n.device = text(&f, "NodeDef")?,
            5 => {
                let e = bytes(&f, "NodeDef")?;
                let er = Reader::new(e, r.offset_of(e));
                let mut key = Cow::Borrowed("");
                let mut val: (&[u8], usize) = (&[], f.offset);
                for g in er.clone() {
                    let g = g?;
                    match g.number {
                        1 => key = text(&g, "NodeDef attr")?,
                        2 => {
                            let v = bytes(&g, "NodeDef attr")?;
                            val = (v, er.offset_of(v));
                        }
                        _ => {}
                    }
                }
                budget.take(1)?;
                n.attrs.push((key, val.0, val.1));
            }
            _ => {}
        }
    }
    Ok(n)
}

fn cut(s: Cow<'_, str>) -> String {
    if s.chars().count() > MAX_STRING_CHARS {
        let mut t: String = s.chars().take(MAX_STRING_CHARS).collect();
        t.push('…');
        t
    } else {
        s.into_owned()
    }
}

/// `AttrValue.s`.
pub(super) fn attr_string(v: &[u8]) -> Option<String> {
    Reader::new(v, 0)
        .filter_map(std::result::Result::ok)
        .find(|f| f.number == 2)
        .and_then(|f| f.string())
        .map(cut)
}

/// `AttrValue.list.s`.
pub(super) fn attr_string_list(v: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for f in Reader::new(v, 0).filter_map(std::result::Result::ok) {
        if f.number != 1 {
            continue;
        }
        let Some(list) = f.bytes() else { continue };
        for g in Reader::new(list, 0).filter_map(std::result::Result::ok) {
            if g.number == 2
                && out.len() < MAX_STRINGS
                && let Some(s) = g.string()
            {
                out.push(cut(s));
            }
        }
    }
    out
}

/// The strings of a `DT_STRING` tensor in `AttrValue.tensor` (`None` for other tensors).
pub(super) fn attr_tensor_strings(v: &[u8]) -> Option<Vec<String>> {
    let t = Reader::new(v, 0)
        .filter_map(std::result::Result::ok)
        .find(|f| f.number == 8)?
        .bytes()?;
    let mut is_string = false;
    let mut out = Vec::new();
    for f in Reader::new(t, 0).filter_map(std::result::Result::ok) {
        match (f.number, f.value) {
            (1, Value::Varint(7)) => is_string = true,
            (8, Value::Bytes(b)) if out.len() < MAX_STRINGS => {
                out.push(cut(String::from_utf8_lossy(b)));
            }
            _ => {}
        }
    }
    is_string.then_some(out)
}

/// Every function an `AttrValue` names (`func`, `list.func`, and functions nested in their attrs).
pub(super) fn attr_functions(v: &[u8], out: &mut Vec<String>) {
    attr_functions_at(v, out, 0);
}

fn attr_functions_at(v: &[u8], out: &mut Vec<String>, depth: usize) {
    if depth > MAX_ATTR_DEPTH || out.len() >= MAX_STRINGS {
        return;
    }
    for f in Reader::new(v, 0).filter_map(std::result::Result::ok) {
        match (f.number, f.value) {
            (10, Value::Bytes(b)) => name_attr_list(b, out, depth),
            (1, Value::Bytes(list)) => {
                for g in Reader::new(list, 0).filter_map(std::result::Result::ok) {
                    if let (9, Value::Bytes(b)) = (g.number, g.value) {
                        name_attr_list(b, out, depth);
                    }
                }
            }
            _ => {}
        }
    }
}

fn name_attr_list(b: &[u8], out: &mut Vec<String>, depth: usize) {
    for f in Reader::new(b, 0).filter_map(std::result::Result::ok) {
        match (f.number, f.value) {
            (1, Value::Bytes(name)) if out.len() < MAX_STRINGS => {
                out.push(cut(String::from_utf8_lossy(name)));
            }
            (2, Value::Bytes(entry)) => {
                for g in Reader::new(entry, 0).filter_map(std::result::Result::ok) {
                    if let (2, Value::Bytes(av)) = (g.number, g.value) {
                        attr_functions_at(av, out, depth + 1);
                    }
                }
            }
            _ => {}
        }
    }
}

/// One node of `keras_metadata.pb` (`SavedMetadata.nodes`).
#[derive(Debug)]
pub(super) struct KerasNode<'a> {
    pub path: Cow<'a, str>,
    pub identifier: Cow<'a, str>,
    pub metadata: Cow<'a, str>,
    pub offset: usize,
}

/// Reads `keras_metadata.pb`.
pub(super) fn keras_metadata<'a>(
    data: &'a [u8],
    budget: &mut Budget,
) -> Result<Vec<KerasNode<'a>>> {
    let mut out = Vec::new();
    let r = Reader::new(data, 0);
    for f in r.clone() {
        let f = f?;
        if f.number != 1 {
            continue;
        }
        let b = bytes(&f, "SavedMetadata")?;
        let mut node = KerasNode {
            path: Cow::Borrowed(""),
            identifier: Cow::Borrowed(""),
            metadata: Cow::Borrowed(""),
            offset: f.offset,
        };
        for g in Reader::new(b, r.offset_of(b)) {
            let g = g?;
            match g.number {
                3 => node.path = text(&g, "SavedObject")?,
                4 => node.identifier = text(&g, "SavedObject")?,
                5 => node.metadata = text(&g, "SavedObject")?,
                _ => {}
            }
        }
        budget.take(1)?;
        out.push(node);
    }
    Ok(out)
}

// ----- strict detection ---------------------------------------------------------------------------

/// Wire type a schema expects for a field number: 0 varint, 2 length-delimited.
fn wire_ok(value: &Value<'_>, wire: u8) -> bool {
    matches!((value, wire), (Value::Varint(_), 0) | (Value::Bytes(_), 2))
}

/// Checks every field of `buf` against `schema` (`(number, wire)`); unknown numbers fail.
/// Returns the fields' numbers seen, as a bit set, or `None`.
fn conforms<'a>(
    buf: &'a [u8],
    schema: &[(u32, u8)],
    max_fields: usize,
    lenient: bool,
) -> Option<(u64, Vec<Field<'a>>)> {
    let mut seen = 0u64;
    let mut kept = Vec::new();
    for (i, f) in Reader::new(buf, 0).enumerate() {
        let f = f.ok()?;
        match schema.iter().find(|(n, _)| *n == f.number) {
            Some(&(_, wire)) if !wire_ok(&f.value, wire) => return None,
            Some(_) => {}
            None if lenient => continue,
            None => return None,
        }
        seen |= 1u64 << f.number.min(63);
        if i < max_fields {
            kept.push(f);
        }
    }
    Some((seen, kept))
}

const SAVED_MODEL: &[(u32, u8)] = &[(1, 0), (2, 2)];
const META_GRAPH: &[(u32, u8)] = &[(1, 2), (2, 2), (3, 2), (4, 2), (5, 2), (6, 2), (7, 2)];
const META_INFO: &[(u32, u8)] = &[
    (1, 2),
    (2, 2),
    (3, 2),
    (4, 2),
    (5, 2),
    (6, 2),
    (7, 0),
    (8, 2),
];
const GRAPH_DEF: &[(u32, u8)] = &[(1, 2), (2, 2), (3, 0), (4, 2), (5, 2)];
const NODE_DEF: &[(u32, u8)] = &[(1, 2), (2, 2), (3, 2), (4, 2), (5, 2), (6, 2), (7, 2)];
const KERAS_METADATA: &[(u32, u8)] = &[(1, 2)];
const KERAS_OBJECT: &[(u32, u8)] = &[(1, 0), (2, 0), (3, 2), (4, 2), (5, 2), (6, 2)];

/// True when `data` has the shape of a `SavedModel`: only fields 1 (varint) and 2 (message), at
/// least one `MetaGraphDef` whose fields, `MetaInfoDef`, `GraphDef` and first `NodeDef` follow the
/// schema. `lenient` accepts unknown field numbers (known ones must still have their wire type).
pub(super) fn looks_like_saved_model(data: &[u8], lenient: bool) -> bool {
    if !matches!(data.first(), Some(0x08 | 0x12)) {
        return false;
    }
    let conforms = |buf, schema, max| conforms(buf, schema, max, lenient);
    let Some((seen, fields)) = conforms(data, SAVED_MODEL, 4) else {
        return false;
    };
    if seen & (1 << 2) == 0 {
        return false;
    }
    let Some(mg) = fields.iter().find(|f| f.number == 2).and_then(Field::bytes) else {
        return false;
    };
    let Some((mseen, mfields)) = conforms(mg, META_GRAPH, 64) else {
        return false;
    };
    if mseen & ((1 << 1) | (1 << 2)) == 0 {
        return false;
    }
    for f in &mfields {
        let Some(b) = f.bytes() else { return false };
        match f.number {
            1 if conforms(b, META_INFO, 0).is_none() => return false,
            2 => {
                let Some((_, gfields)) = conforms(b, GRAPH_DEF, 1) else {
                    return false;
                };
                if let Some(n) = gfields
                    .iter()
                    .find(|g| g.number == 1)
                    .and_then(Field::bytes)
                    && conforms(n, NODE_DEF, 0).is_none()
                {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

/// True when `data` has the shape of Keras' `keras_metadata.pb`: only field 1 (`SavedObject`
/// messages); the first objects follow the schema, identifiers are text without control
/// characters, metadata starts with `{`, and at least one has an identifier or metadata.
pub(super) fn looks_like_keras_metadata(data: &[u8]) -> bool {
    if data.first() != Some(&0x0a) {
        return false;
    }
    let conforms = |buf, schema, max| conforms(buf, schema, max, false);
    let Some((_, fields)) = conforms(data, KERAS_METADATA, 8) else {
        return false;
    };
    let mut described = false;
    for f in &fields {
        let Some(b) = f.bytes() else { return false };
        let Some((seen, obj)) = conforms(b, KERAS_OBJECT, 8) else {
            return false;
        };
        described |= seen & ((1 << 4) | (1 << 5)) != 0;
        let ok = obj.iter().all(|f| match f.number {
            4 => f.bytes().is_some_and(|b| {
                std::str::from_utf8(b).is_ok_and(|t| !t.chars().any(char::is_control))
            }),
            5 => f.bytes().is_some_and(|b| {
                let t = b.trim_ascii_start();
                t.is_empty() || t.starts_with(b"{")
            }),
            _ => true,
        });
        if !ok {
            return false;
        }
    }
    described
}

/// True when `data` has the shape of a bare `GraphDef` (a frozen graph): only `GraphDef` fields,
/// at least one node, and the first node has a name and an op made of op-name characters.
pub(super) fn looks_like_graph_def(data: &[u8], lenient: bool) -> bool {
    if data.first() != Some(&0x0a) {
        return false;
    }
    let Some((_, fields)) = conforms(data, GRAPH_DEF, 1, lenient) else {
        return false;
    };
    let Some(node) = fields
        .first()
        .filter(|f| f.number == 1)
        .and_then(Field::bytes)
    else {
        return false;
    };
    let Some((seen, nfields)) = conforms(node, NODE_DEF, 8, false) else {
        return false;
    };
    if seen & 0b110 != 0b110 {
        return false;
    }
    nfields.iter().all(|f| match f.number {
        1 => f.bytes().is_some_and(|b| !b.is_empty()),
        2 => f.bytes().is_some_and(|b| {
            !b.is_empty()
                && b.iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'>' | b'.'))
        }),
        _ => true,
    })
}
