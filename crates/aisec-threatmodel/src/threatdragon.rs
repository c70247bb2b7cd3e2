//! OWASP Threat Dragon v2 models, both ways, so users can draw in Threat Dragon and analyse in
//! aisec.
//!
//! [`import`] reads a v2 JSON model into a [`SystemModel`]: actors, processes and stores become
//! elements, flows become flows (a flow drawn across a trust-boundary line is marked as crossing
//! it), boundary boxes become boundaries holding the elements drawn inside them, text blocks
//! become notes, and every cell's threats, scope, description and place on the diagram are kept.
//! [`export`] writes a model back as a v2 model with the threats the rules found added to each
//! cell (`ruleId` is the aisec rule), so a model read from Threat Dragon and written back keeps
//! every cell with its id, place, flags and recorded threats.
//!
//! Threat Dragon has three element shapes; aisec's AI kinds are drawn as a process or a store,
//! and the aisec kind, id and properties travel in the cell's `data.aisec` object (the v2 schema
//! allows extra keys there), so a round trip through Threat Dragon keeps them.
//!
//! Reading is bounded: the file's size, the number of diagrams, cells and threats.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::engine::{Status, Threat};
use crate::model::{
    Boundary, Diagram, Element, Flow, Kind, Layout, ModelError, Note, RecordedStatus,
    RecordedThreat, SystemModel, kind_by_name, property_fits, valid_id,
};

/// The largest Threat Dragon file read.
pub const MAX_BYTES: usize = 16 << 20;
/// Most diagrams in a model.
pub const MAX_DIAGRAMS: usize = 256;
/// Most cells in all diagrams together.
pub const MAX_CELLS: usize = 20_000;
/// Most threats on one cell.
pub const MAX_THREATS: usize = 10_000;

/// The Threat Dragon version written in exports (the v2 format).
pub const VERSION: &str = "2.2.0";

/// What [`import`] read, and what it had to leave out.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The model.
    pub model: SystemModel,
    /// Cells that could not be kept, and why (a flow not attached at both ends).
    pub warnings: Vec<String>,
}

/// Whether `text` looks like a Threat Dragon model (a JSON object with `detail.diagrams`)
/// rather than aisec YAML.
#[must_use]
pub fn looks_like(text: &str) -> bool {
    let t = text.trim_start_matches('\u{feff}').trim_start();
    t.starts_with('{') && t.contains("\"diagrams\"") && t.contains("\"detail\"")
}

struct Cx<'a> {
    file: &'a str,
}

impl Cx<'_> {
    fn err(&self, at: &str, message: impl Into<String>) -> ModelError {
        ModelError {
            file: self.file.to_owned(),
            line: 0,
            message: format!("{at}: {}", message.into()),
        }
    }
}

fn text_of(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn flag(data: &Map<String, Value>, key: &str) -> bool {
    data.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn point(v: Option<&Value>) -> Option<[f64; 2]> {
    let m = v?.as_object()?;
    let x = m.get("x")?.as_f64()?;
    let y = m.get("y")?.as_f64()?;
    (x.is_finite() && y.is_finite()).then_some([x, y])
}

/// An id for aisec from a name: lower-case letters, digits and `-`.
fn slug(name: &str, fallback: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.is_empty() && !s.ends_with('-') {
            s.push('-');
        }
        if s.len() >= 60 {
            break;
        }
    }
    let s = s.trim_end_matches('-').to_owned();
    if s.is_empty() { fallback.to_owned() } else { s }
}

/// A unique id: `wanted` (from `data.aisec.id`) when valid and free, else the name's slug with a
/// number after it when taken.
fn unique(ids: &mut HashSet<String>, wanted: Option<&str>, name: &str, fallback: &str) -> String {
    if let Some(w) = wanted.filter(|w| valid_id(w))
        && ids.insert(w.to_owned())
    {
        return w.to_owned();
    }
    let base = slug(name, fallback);
    let mut id = base.clone();
    let mut n = 2;
    while !ids.insert(id.clone()) {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

/// What a cell is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CellKind {
    Actor,
    Process,
    Store,
    Flow,
    BoundaryLine,
    BoundaryBox,
    Text,
}

fn cell_kind(cell: &Map<String, Value>, data: &Map<String, Value>) -> Option<CellKind> {
    let t = data.get("type").and_then(Value::as_str).unwrap_or_default();
    let shape = cell
        .get("shape")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Some(match (t, shape) {
        ("tm.Actor", _) | (_, "actor") => CellKind::Actor,
        ("tm.Process", _) | (_, "process") => CellKind::Process,
        ("tm.Store", _) | (_, "store") => CellKind::Store,
        ("tm.Flow", _) | (_, "flow") => CellKind::Flow,
        // Some Threat Dragon releases wrote the curve's shape as `trust-broundary-curve`.
        ("tm.Boundary", _) | (_, "trust-boundary-curve" | "trust-broundary-curve") => {
            CellKind::BoundaryLine
        }
        ("tm.BoundaryBox", _) | (_, "trust-boundary-box") => CellKind::BoundaryBox,
        ("tm.Text", _) | (_, "td-text-block") => CellKind::Text,
        _ => return None,
    })
}

/// Reads one cell's threats; those an aisec rule raised (`ruleId` is an aisec rule id) are left
/// out, since the rules raise them again.
fn threats_of(
    cx: &Cx<'_>,
    data: &Map<String, Value>,
    at: &str,
) -> Result<Vec<RecordedThreat>, ModelError> {
    let Some(list) = data.get("threats").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| cx.err(at, "`threats` must be a list"))?;
    if list.len() > MAX_THREATS {
        return Err(cx.err(at, format!("more than {MAX_THREATS} threats")));
    }
    let mut out = Vec::new();
    for (i, t) in list.iter().enumerate() {
        let at = format!("{at}.threats[{i}]");
        let t = t
            .as_object()
            .ok_or_else(|| cx.err(&at, "a threat must be an object"))?;
        let rule = text_of(t.get("ruleId"));
        if rule.as_deref().is_some_and(is_aisec_rule) {
            continue;
        }
        let status = match t
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("Open")
            .to_ascii_lowercase()
            .as_str()
        {
            "open" | "" => RecordedStatus::Open,
            "mitigated" => RecordedStatus::Mitigated,
            "na" | "n/a" | "notapplicable" | "not applicable" => RecordedStatus::NotApplicable,
            other => return Err(cx.err(&at, format!("unknown threat status {other:?}"))),
        };
        out.push(RecordedThreat {
            title: text_of(t.get("title")).unwrap_or_default(),
            category: text_of(t.get("type")),
            status,
            severity: text_of(t.get("severity")),
            description: text_of(t.get("description")),
            mitigation: text_of(t.get("mitigation")),
            score: text_of(t.get("score")),
            method: text_of(t.get("modelType")),
            id: text_of(t.get("threatId")).or_else(|| text_of(t.get("id"))),
            number: t.get("number").and_then(Value::as_u64),
            rule,
            line: 0,
        });
    }
    Ok(out)
}

/// The keys of a cell aisec reads or rebuilds; the others are kept as they are.
const CELL_READ: [&str; 7] = [
    "id", "shape", "position", "size", "zIndex", "data", "vertices",
];

/// The keys of a cell's `data` aisec reads; the others are kept as they are.
const DATA_READ: [&str; 22] = [
    "type",
    "name",
    "description",
    "outOfScope",
    "reasonOutOfScope",
    "threats",
    "hasOpenThreats",
    "aisec",
    "providesAuthentication",
    "privilegeLevel",
    "handlesCardPayment",
    "handlesGoodsOrServices",
    "isWebApplication",
    "isALog",
    "storesCredentials",
    "isEncrypted",
    "isSigned",
    "storesInventory",
    "protocol",
    "isPublicNetwork",
    "isBidirectional",
    "isTrustBoundary",
];

/// What a cell holds that aisec does not interpret (styling, ports, keys of newer Threat Dragon
/// releases), kept so the export gives it back: `{"cell": {...}, "data": {...}}`, or None.
fn foreign_of(
    cell: &Map<String, Value>,
    data: &Map<String, Value>,
    kind: CellKind,
) -> Option<Value> {
    let mut c = Map::new();
    for (k, v) in cell {
        if CELL_READ.contains(&k.as_str()) {
            continue;
        }
        if matches!(k.as_str(), "source" | "target") {
            // A flow's ends are rebuilt from its elements, a boundary line's from its points;
            // what else an end holds (a port) is kept.
            if kind == CellKind::Flow
                && let Some(o) = v.as_object()
            {
                let rest: Map<String, Value> = o
                    .iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "cell" | "x" | "y"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if !rest.is_empty() {
                    c.insert(k.clone(), Value::Object(rest));
                }
            }
            continue;
        }
        c.insert(k.clone(), v.clone());
    }
    let d: Map<String, Value> = data
        .iter()
        .filter(|(k, _)| !DATA_READ.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut out = Map::new();
    if !c.is_empty() {
        out.insert("cell".into(), Value::Object(c));
    }
    if !d.is_empty() {
        out.insert("data".into(), Value::Object(d));
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// Puts back what [`foreign_of`] kept: styling and other keys aisec does not interpret replace
/// the generated ones (with the label text set to the current name), extra ends' keys and data
/// keys are added.
fn with_foreign(mut cell: Map<String, Value>, foreign: Option<&Value>, name: &str) -> Value {
    let Some(f) = foreign else {
        return Value::Object(cell);
    };
    if let Some(extra) = f.get("cell").and_then(Value::as_object) {
        // A drawn cell keeps exactly the styling it was drawn with: generated keys it did not
        // have are not added.
        for k in ["attrs", "labels", "connector", "visible", "width", "height"] {
            if !extra.contains_key(k) {
                cell.remove(k);
            }
        }
        for (k, v) in extra {
            match k.as_str() {
                "source" | "target" => {
                    if let (Some(ours), Some(theirs)) = (
                        cell.get_mut(k).and_then(Value::as_object_mut),
                        v.as_object(),
                    ) {
                        for (kk, vv) in theirs {
                            ours.entry(kk.clone()).or_insert_with(|| vv.clone());
                        }
                    }
                }
                "labels" if v.as_array().is_some_and(|a| a.iter().all(Value::is_string)) => {}
                "attrs" => {
                    let mut attrs = v.clone();
                    for part in ["text", "label", "headerText"] {
                        if let Some(t) = attrs.get_mut(part).and_then(Value::as_object_mut)
                            && t.contains_key("text")
                        {
                            t.insert("text".into(), Value::from(name));
                        }
                    }
                    cell.insert(k.clone(), attrs);
                }
                _ => {
                    cell.insert(k.clone(), v.clone());
                }
            }
        }
    }
    if let (Some(extra), Some(Value::Object(data))) = (
        f.get("data").and_then(Value::as_object),
        cell.get_mut("data"),
    ) {
        for (k, v) in extra {
            data.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Value::Object(cell)
}

/// `TM` and three digits.
fn is_aisec_rule(id: &str) -> bool {
    id.len() == 5 && id.starts_with("TM") && id[2..].bytes().all(|b| b.is_ascii_digit())
}

fn layout_of(cell: &Map<String, Value>, diagram: usize, kind: CellKind) -> Layout {
    let mut l = Layout {
        diagram,
        cell: text_of(cell.get("id")),
        z: cell.get("zIndex").and_then(Value::as_i64),
        ..Layout::default()
    };
    match kind {
        CellKind::Flow | CellKind::BoundaryLine => {
            let vertices = cell
                .get("vertices")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|v| point(Some(v))).collect::<Vec<_>>())
                .unwrap_or_default();
            if kind == CellKind::BoundaryLine {
                l.points.extend(point(cell.get("source")));
                l.points.extend(vertices);
                l.points.extend(point(cell.get("target")));
            } else {
                l.points = vertices;
            }
        }
        _ => {
            if let Some([x, y]) = point(cell.get("position")) {
                l.x = Some(x);
                l.y = Some(y);
            }
            let size = cell.get("size").and_then(Value::as_object);
            let dim = |k: &str| {
                size.and_then(|s| s.get(k))
                    .and_then(Value::as_f64)
                    .filter(|v| v.is_finite())
            };
            l.width = dim("width");
            l.height = dim("height");
        }
    }
    l
}

fn center(l: &Layout) -> Option<[f64; 2]> {
    Some([
        l.x? + l.width.unwrap_or(0.0) / 2.0,
        l.y? + l.height.unwrap_or(0.0) / 2.0,
    ])
}

fn inside(b: &Layout, p: [f64; 2]) -> bool {
    match (b.x, b.y, b.width, b.height) {
        (Some(x), Some(y), Some(w), Some(h)) => {
            p[0] >= x && p[0] <= x + w && p[1] >= y && p[1] <= y + h
        }
        _ => false,
    }
}

/// Whether segment ab meets segment cd.
fn meets(a: [f64; 2], b: [f64; 2], c: [f64; 2], d: [f64; 2]) -> bool {
    let cross = |o: [f64; 2], p: [f64; 2], q: [f64; 2]| {
        (p[0] - o[0]) * (q[1] - o[1]) - (p[1] - o[1]) * (q[0] - o[0])
    };
    let (d1, d2) = (cross(c, d, a), cross(c, d, b));
    let (d3, d4) = (cross(a, b, c), cross(a, b, d));
    ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
}

fn crosses_line(path: &[[f64; 2]], line: &[[f64; 2]]) -> bool {
    path.windows(2)
        .any(|p| line.windows(2).any(|l| meets(p[0], p[1], l[0], l[1])))
}

/// Reads a Threat Dragon v2 model. `file` names it in errors.
///
/// # Errors
/// [`ModelError`] (line 0, the message names the JSON path) when the text is not a v2 model or
/// breaks a bound.
#[allow(clippy::too_many_lines)]
pub fn import(text: &str, file: &str) -> Result<Imported, ModelError> {
    let cx = Cx { file };
    if text.len() > MAX_BYTES {
        return Err(cx.err("model", format!("larger than {MAX_BYTES} bytes")));
    }
    let root: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| cx.err("model", format!("not JSON: {e}")))?;
    let root = root
        .as_object()
        .ok_or_else(|| cx.err("model", "a Threat Dragon model is a JSON object"))?;
    let version = root
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !version.starts_with('2') {
        return Err(cx.err(
            "version",
            format!("Threat Dragon model version {version:?}: only v2 models are read (open and save it in Threat Dragon 2 first)"),
        ));
    }
    let summary = root.get("summary").and_then(Value::as_object);
    let detail = root
        .get("detail")
        .and_then(Value::as_object)
        .ok_or_else(|| cx.err("detail", "missing"))?;
    let diagrams = detail
        .get("diagrams")
        .and_then(Value::as_array)
        .ok_or_else(|| cx.err("detail.diagrams", "missing"))?;
    if diagrams.len() > MAX_DIAGRAMS {
        return Err(cx.err("detail.diagrams", format!("more than {MAX_DIAGRAMS}")));
    }
    let cells_total: usize = diagrams
        .iter()
        .map(|d| d.get("cells").and_then(Value::as_array).map_or(0, Vec::len))
        .sum();
    if cells_total > MAX_CELLS {
        return Err(cx.err("detail.diagrams", format!("more than {MAX_CELLS} cells")));
    }
    let name = summary
        .and_then(|s| text_of(s.get("title")))
        .unwrap_or_else(|| "Threat Dragon model".to_owned());
    let mut model = SystemModel {
        file: file.to_owned(),
        name,
        description: summary.and_then(|s| text_of(s.get("description"))),
        owner: summary.and_then(|s| text_of(s.get("owner"))),
        reviewer: text_of(detail.get("reviewer")),
        contributors: detail
            .get("contributors")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|c| text_of(c.get("name"))).collect())
            .unwrap_or_default(),
        diagrams: Vec::new(),
        notes: Vec::new(),
        boundaries: Vec::new(),
        elements: Vec::new(),
        flows: Vec::new(),
        accepted: Vec::new(),
    };
    let mut warnings = Vec::new();
    let mut ids: HashSet<String> = HashSet::new();
    let mut boundary_ids: HashSet<String> = HashSet::new();
    // Cell id -> element id, per diagram.
    let mut nodes: HashMap<(usize, String), String> = HashMap::new();
    let mut pending_flows = Vec::new();
    // The boundary lines of each diagram, which flows drawn across them cross.
    let mut lines_of: Vec<Vec<Vec<[f64; 2]>>> = Vec::new();
    let empty = Map::new();
    for (di, d) in diagrams.iter().enumerate() {
        let at = format!("detail.diagrams[{di}]");
        let d = d
            .as_object()
            .ok_or_else(|| cx.err(&at, "a diagram must be an object"))?;
        model.diagrams.push(Diagram {
            title: text_of(d.get("title")).unwrap_or_else(|| format!("Diagram {}", di + 1)),
            description: text_of(d.get("description")),
            method: text_of(d.get("diagramType")).unwrap_or_else(|| "STRIDE".to_owned()),
        });
        let cells = d
            .get("cells")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        // Boundary boxes first, so elements can be placed in them.
        let mut boxes: Vec<(String, Layout)> = Vec::new();
        let mut lines: Vec<Vec<[f64; 2]>> = Vec::new();
        let mut parsed = Vec::new();
        for (ci, c) in cells.iter().enumerate() {
            let at = format!("{at}.cells[{ci}]");
            let cell = c
                .as_object()
                .ok_or_else(|| cx.err(&at, "a cell must be an object"))?;
            let data = cell
                .get("data")
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            let kind = cell_kind(cell, data).ok_or_else(|| {
                cx.err(
                    &at,
                    format!(
                        "unknown cell type {:?} (shape {:?})",
                        data.get("type").and_then(Value::as_str).unwrap_or(""),
                        cell.get("shape").and_then(Value::as_str).unwrap_or("")
                    ),
                )
            })?;
            parsed.push((at, cell, data, kind));
        }
        for (_, cell, data, kind) in &parsed {
            let aisec = data.get("aisec").and_then(Value::as_object);
            let name = text_of(data.get("name")).unwrap_or_default();
            match kind {
                CellKind::BoundaryBox | CellKind::BoundaryLine => {
                    let id = unique(
                        &mut boundary_ids,
                        aisec.and_then(|a| a.get("id")).and_then(Value::as_str),
                        &name,
                        "boundary",
                    );
                    let layout = layout_of(cell, di, *kind);
                    if *kind == CellKind::BoundaryBox {
                        boxes.push((id.clone(), layout.clone()));
                    } else if layout.points.len() >= 2 {
                        lines.push(layout.points.clone());
                    }
                    let lower = name.to_ascii_lowercase();
                    let untrusted_name = ["internet", "public", "untrusted", "external"]
                        .iter()
                        .any(|w| lower.contains(w));
                    model.boundaries.push(Boundary {
                        trusted: aisec
                            .and_then(|a| a.get("trusted"))
                            .and_then(Value::as_bool)
                            .unwrap_or(!untrusted_name && id != "internet"),
                        name: if name.is_empty() { id.clone() } else { name },
                        id,
                        description: text_of(data.get("description")),
                        layout: Some(layout),
                        foreign: foreign_of(cell, data, *kind),
                        line: 0,
                    });
                }
                CellKind::Text => model.notes.push(Note {
                    text: text_of(data.get("name")).unwrap_or_default(),
                    layout: Some(layout_of(cell, di, *kind)),
                    foreign: foreign_of(cell, data, *kind),
                }),
                _ => {}
            }
        }
        for (at, cell, data, kind) in &parsed {
            let (CellKind::Actor | CellKind::Process | CellKind::Store) = kind else {
                continue;
            };
            let aisec = data.get("aisec").and_then(Value::as_object);
            let name = text_of(data.get("name")).unwrap_or_default();
            let base = match kind {
                CellKind::Actor => Kind::Actor,
                CellKind::Process => Kind::Process,
                _ => Kind::Datastore,
            };
            let kind_name = aisec.and_then(|a| a.get("kind")).and_then(Value::as_str);
            let element_kind = match kind_name {
                Some(k) => kind_by_name(k)
                    .ok_or_else(|| cx.err(at, format!("data.aisec.kind: unknown kind {k:?}")))?,
                None => base,
            };
            let fallback = element_kind.name();
            let id = unique(
                &mut ids,
                aisec.and_then(|a| a.get("id")).and_then(Value::as_str),
                &name,
                fallback,
            );
            let mut props = BTreeMap::new();
            if let Some(p) = aisec
                .and_then(|a| a.get("properties"))
                .and_then(Value::as_object)
            {
                for (k, v) in p {
                    if !property_fits(element_kind, k, v) {
                        return Err(cx.err(at, format!("data.aisec.properties.{k}: not a property of a {} (or of the wrong type)", element_kind.name())));
                    }
                    props.insert(k.clone(), v.clone());
                }
            }
            td_flags_in(element_kind, data, &mut props);
            let layout = layout_of(cell, di, *kind);
            let boundary = center(&layout).and_then(|p| {
                boxes
                    .iter()
                    .filter(|(_, b)| inside(b, p))
                    .min_by(|(_, a), (_, b)| {
                        let area = |l: &Layout| l.width.unwrap_or(0.0) * l.height.unwrap_or(0.0);
                        area(a).total_cmp(&area(b))
                    })
                    .map(|(id, _)| id.clone())
            });
            if let Some(cell_id) = &layout.cell {
                nodes.insert((di, cell_id.clone()), id.clone());
            }
            model.elements.push(Element {
                name: if name.is_empty() { id.clone() } else { name },
                id,
                kind: element_kind,
                boundary,
                description: text_of(data.get("description")),
                props,
                out_of_scope: flag(data, "outOfScope"),
                out_of_scope_reason: text_of(data.get("reasonOutOfScope")),
                threats: threats_of(&cx, data, at)?,
                layout: Some(layout),
                foreign: foreign_of(cell, data, *kind),
                line: 0,
            });
        }
        for (at, cell, data, kind) in parsed {
            if kind == CellKind::Flow {
                pending_flows.push((di, at, cell, data));
            }
        }
        lines_of.push(lines);
    }
    if model.elements.is_empty() {
        return Err(cx.err("detail.diagrams", "no actor, process or store is drawn"));
    }
    let centers: HashMap<&str, [f64; 2]> = model
        .elements
        .iter()
        .filter_map(|e| Some((e.id.as_str(), center(e.layout.as_ref()?)?)))
        .collect();
    let mut flows = Vec::new();
    for (di, at, cell, data) in pending_flows {
        let end = |key: &str| {
            cell.get(key)
                .and_then(|s| s.get("cell"))
                .and_then(Value::as_str)
                .and_then(|c| nodes.get(&(di, c.to_owned())))
                .cloned()
        };
        let name = text_of(data.get("name")).unwrap_or_default();
        let (Some(from), Some(to)) = (end("source"), end("target")) else {
            warnings.push(format!(
                "{at}: flow {name:?} is not attached to an element at both ends; left out"
            ));
            continue;
        };
        let aisec = data.get("aisec").and_then(Value::as_object);
        let layout = layout_of(cell, di, CellKind::Flow);
        let mut path = Vec::new();
        path.extend(centers.get(from.as_str()).copied());
        path.extend(layout.points.iter().copied());
        path.extend(centers.get(to.as_str()).copied());
        let crossing = lines_of[di].iter().any(|l| crosses_line(&path, l));
        let wanted = aisec.and_then(|a| a.get("id")).and_then(Value::as_str);
        let default_id = Flow::default_id(&from, &to);
        let id = if wanted == Some(default_id.as_str()) && ids.insert(default_id.clone()) {
            default_id
        } else {
            unique(&mut ids, wanted, &name, &format!("{from}-to-{to}"))
        };
        let data_classes = aisec
            .and_then(|a| a.get("data"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        for d in &data_classes {
            if !crate::model::DATA_CLASSES.contains(&d.as_str()) {
                return Err(cx.err(&at, format!("data.aisec.data: unknown data class {d:?}")));
            }
        }
        flows.push(Flow {
            id,
            from,
            to,
            name: (!name.is_empty()).then_some(name),
            protocol: text_of(data.get("protocol")),
            authenticated: aisec
                .and_then(|a| a.get("authenticated"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            encrypted: flag(data, "isEncrypted"),
            data: data_classes,
            description: text_of(data.get("description")),
            public_network: flag(data, "isPublicNetwork"),
            bidirectional: flag(data, "isBidirectional"),
            crosses_boundary: crossing,
            out_of_scope: flag(data, "outOfScope"),
            out_of_scope_reason: text_of(data.get("reasonOutOfScope")),
            threats: threats_of(&cx, data, &at)?,
            layout: Some(layout),
            foreign: foreign_of(cell, data, CellKind::Flow),
            line: 0,
        });
    }
    model.flows = flows;
    // Everything the YAML reader checks (properties naming elements that exist, types) holds
    // for an imported model too: it is read back through it.
    let mut checked = SystemModel::from_yaml(&model.to_yaml(), file).map_err(|e| ModelError {
        file: file.to_owned(),
        line: 0,
        message: format!("as imported: {}", e.message),
    })?;
    checked.clear_lines();
    Ok(Imported {
        model: checked,
        warnings,
    })
}

/// Threat Dragon's flags on an element, as aisec properties of its kind.
fn td_flags_in(kind: Kind, data: &Map<String, Value>, props: &mut BTreeMap<String, Value>) {
    let mut set = |key: &str, td: &str| {
        if flag(data, td) {
            props.insert(key.to_owned(), Value::Bool(true));
        }
    };
    match kind {
        Kind::Actor => set("provides_authentication", "providesAuthentication"),
        Kind::Process => {
            set("web_application", "isWebApplication");
            set("handles_payment", "handlesCardPayment");
            set("handles_goods", "handlesGoodsOrServices");
            if let Some(p) = text_of(data.get("privilegeLevel")) {
                props.insert("privilege".into(), Value::String(p));
            }
        }
        Kind::Datastore => {
            set("log", "isALog");
            set("encrypted_at_rest", "isEncrypted");
            set("signed", "isSigned");
            set("inventory", "storesInventory");
            if flag(data, "storesCredentials") {
                let list = props
                    .entry("contains".to_owned())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(a) = list
                    && !a.iter().any(|v| v == "credentials")
                {
                    a.push(Value::from("credentials"));
                }
            }
        }
        _ => {}
    }
}

/// The properties Threat Dragon shows as its own flags (written there, not in `data.aisec`).
fn td_flags_out(e: &Element, data: &mut Map<String, Value>) -> BTreeMap<String, Value> {
    let mut rest = e.props.clone();
    // A flag set true moves to Threat Dragon's; one written false stays in `data.aisec` too, so
    // the model reads back as written.
    let mut take = |key: &str, td: &str, data: &mut Map<String, Value>| {
        let v = rest.get(key).and_then(Value::as_bool).unwrap_or(false);
        if v {
            rest.remove(key);
        }
        data.insert(td.to_owned(), Value::Bool(v));
    };
    match e.kind {
        Kind::Actor => take("provides_authentication", "providesAuthentication", data),
        Kind::Process => {
            take("web_application", "isWebApplication", data);
            take("handles_payment", "handlesCardPayment", data);
            take("handles_goods", "handlesGoodsOrServices", data);
            let p = rest
                .remove("privilege")
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            data.insert("privilegeLevel".into(), Value::String(p));
        }
        Kind::Datastore => {
            take("log", "isALog", data);
            take("encrypted_at_rest", "isEncrypted", data);
            take("signed", "isSigned", data);
            take("inventory", "storesInventory", data);
            let creds = e.words("contains").contains(&"credentials");
            data.insert("storesCredentials".into(), Value::Bool(creds));
            if let Some(Value::Array(a)) = rest.get_mut("contains") {
                a.retain(|v| v != "credentials");
                if a.is_empty() {
                    rest.remove("contains");
                }
            }
        }
        // AI kinds drawn as a process or store: Threat Dragon's flags stay false.
        k if k.is_store() => {
            for f in [
                "isALog",
                "isEncrypted",
                "isSigned",
                "storesCredentials",
                "storesInventory",
            ] {
                data.insert(f.into(), Value::Bool(false));
            }
        }
        _ => {
            for f in [
                "isWebApplication",
                "handlesCardPayment",
                "handlesGoodsOrServices",
            ] {
                data.insert(f.into(), Value::Bool(false));
            }
            data.insert("privilegeLevel".into(), Value::String(String::new()));
        }
    }
    rest
}

/// Threat Dragon's words for a STRIDE category.
fn td_category(stride: &str) -> &'static str {
    match aisec_taxonomy::Stride::parse(stride) {
        Some(aisec_taxonomy::Stride::Spoofing) => "Spoofing",
        Some(aisec_taxonomy::Stride::Tampering) => "Tampering",
        Some(aisec_taxonomy::Stride::Repudiation) => "Repudiation",
        Some(aisec_taxonomy::Stride::InformationDisclosure) => "Information disclosure",
        Some(aisec_taxonomy::Stride::DenialOfService) => "Denial of service",
        Some(aisec_taxonomy::Stride::ElevationOfPrivilege) => "Elevation of privilege",
        None => "Tampering",
    }
}

/// A stable UUID-shaped id from `seed` (SHA-256, version and variant bits set as for v5).
fn uuid_of(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().fold(String::new(), |mut s, x| {
        use std::fmt::Write;
        let _ = write!(s, "{x:02x}");
        s
    });
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn recorded_out(t: &RecordedThreat, number: &mut u64) -> Value {
    let n = t.number.unwrap_or_else(|| {
        *number += 1;
        *number
    });
    *number = (*number).max(n);
    let mut m = Map::new();
    m.insert("title".into(), json!(t.title));
    m.insert("type".into(), json!(t.category.clone().unwrap_or_default()));
    m.insert(
        "status".into(),
        json!(match t.status {
            RecordedStatus::Open => "Open",
            RecordedStatus::Mitigated => "Mitigated",
            RecordedStatus::NotApplicable => "NA",
        }),
    );
    m.insert(
        "severity".into(),
        json!(t.severity.clone().unwrap_or_default()),
    );
    m.insert(
        "description".into(),
        json!(t.description.clone().unwrap_or_default()),
    );
    m.insert(
        "mitigation".into(),
        json!(t.mitigation.clone().unwrap_or_default()),
    );
    m.insert(
        "modelType".into(),
        json!(t.method.clone().unwrap_or_default()),
    );
    m.insert("number".into(), json!(n));
    m.insert("score".into(), json!(t.score.clone().unwrap_or_default()));
    if let Some(id) = t.id.as_ref().filter(|s| s.len() >= 2) {
        // Threat Dragon releases have used both keys for the threat's UUID.
        m.insert("threatId".into(), json!(id));
        m.insert("id".into(), json!(id));
    }
    if let Some(r) = t.rule.as_ref().filter(|s| s.len() >= 2) {
        m.insert("ruleId".into(), json!(r));
    }
    Value::Object(m)
}

fn rule_out(t: &Threat, description: &str, remediation: &str, number: &mut u64) -> Value {
    *number += 1;
    let (status, detail) = match &t.status {
        Status::Open => ("Open", String::new()),
        Status::Confirmed { findings } => {
            ("Open", format!(" Confirmed by {}.", findings.join(", ")))
        }
        Status::Mitigated { control } => ("Mitigated", format!(" Control in place: {control}.")),
        Status::Accepted { reason } => ("NA", format!(" Accepted: {reason}")),
    };
    let severity = match t.severity {
        aisec_core::Severity::Critical | aisec_core::Severity::High => "High",
        aisec_core::Severity::Medium => "Medium",
        _ => "Low",
    };
    let mut refs: Vec<String> = t.atlas.clone();
    refs.extend(t.owasp_llm.iter().cloned());
    refs.extend(t.owasp_agentic.iter().cloned());
    let refs = if refs.is_empty() {
        String::new()
    } else {
        format!(" ({})", refs.join(", "))
    };
    json!({
        "threatId": uuid_of(&format!("{}\u{0}{}", t.rule, t.target)),
        "number": *number,
        "title": format!("{}: {}", t.rule, t.title),
        "type": td_category(t.stride.first().map_or("", String::as_str)),
        "status": status,
        "severity": severity,
        "score": t.score.to_string(),
        "description": format!("{description}{refs}{detail}"),
        "mitigation": remediation,
        "modelType": "STRIDE",
        "ruleId": t.rule,
    })
}

const NODE: (f64, f64) = (160.0, 80.0);

/// Places the items that have no layout: one column per boundary (elements in no boundary in a
/// column of their own), elements stacked in their column, boxes around each column.
fn auto_layout(model: &SystemModel) -> (HashMap<String, Layout>, HashMap<String, Layout>) {
    let mut columns: Vec<(Option<&str>, Vec<&Element>)> = Vec::new();
    for e in &model.elements {
        let b = e.boundary.as_deref();
        match columns.iter_mut().find(|(k, _)| *k == b) {
            Some((_, list)) => list.push(e),
            None => columns.push((b, vec![e])),
        }
    }
    let mut elements = HashMap::new();
    let mut boxes = HashMap::new();
    for (i, (b, list)) in columns.iter().enumerate() {
        let x = 60.0 + i as f64 * 280.0;
        for (j, e) in list.iter().enumerate() {
            elements.insert(
                e.id.clone(),
                Layout {
                    x: Some(x),
                    y: Some(80.0 + j as f64 * 140.0),
                    width: Some(NODE.0),
                    height: Some(NODE.1),
                    ..Layout::default()
                },
            );
        }
        if let Some(b) = b {
            boxes.insert(
                (*b).to_owned(),
                Layout {
                    x: Some(x - 30.0),
                    y: Some(30.0),
                    width: Some(NODE.0 + 60.0),
                    height: Some(list.len() as f64 * 140.0 + 60.0),
                    ..Layout::default()
                },
            );
        }
    }
    (elements, boxes)
}

fn position(cell: &mut Map<String, Value>, l: &Layout, fallback: &Layout) {
    let get = |a: Option<f64>, b: Option<f64>, d: f64| a.or(b).unwrap_or(d);
    cell.insert(
        "position".into(),
        json!({"x": n(get(l.x, fallback.x, 0.0)), "y": n(get(l.y, fallback.y, 0.0))}),
    );
    cell.insert(
        "size".into(),
        json!({
            "width": n(get(l.width, fallback.width, NODE.0).max(10.0)),
            "height": n(get(l.height, fallback.height, NODE.1).max(10.0)),
        }),
    );
}

fn body(open: bool, out_of_scope: bool) -> Value {
    json!({
        "stroke": if open { "red" } else { "#333333" },
        "strokeWidth": if open { 2.5 } else { 1.5 },
        "strokeDasharray": if out_of_scope { "4 3" } else { "" },
    })
}

/// A number as Threat Dragon writes it: whole numbers without a fraction.
fn n(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

fn int_point(p: [f64; 2]) -> Value {
    json!({"x": p[0].round() as i64, "y": p[1].round() as i64})
}

/// The model as a Threat Dragon v2 model, with `threats` (from [`crate::evaluate`]) added to
/// their cells. `rules` give the threats' descriptions and remediations.
#[must_use]
#[allow(clippy::too_many_lines)]
pub fn export(
    model: &SystemModel,
    threats: &[Threat],
    rules: &[crate::rules::ThreatRule],
) -> Value {
    let diagrams: Vec<Diagram> = if model.diagrams.is_empty() {
        vec![Diagram {
            title: model.name.clone(),
            description: model.description.clone(),
            method: "STRIDE".to_owned(),
        }]
    } else {
        model.diagrams.clone()
    };
    let mut cells: Vec<Vec<Value>> = vec![Vec::new(); diagrams.len()];
    let (auto_elements, auto_boxes) = auto_layout(model);
    let blank = Layout::default();
    let mut number = model
        .elements
        .iter()
        .flat_map(|e| &e.threats)
        .chain(model.flows.iter().flat_map(|f| &f.threats))
        .filter_map(|t| t.number)
        .max()
        .unwrap_or(0);
    let mut z = 0i64;
    let mut next_z = |l: &Layout| {
        z += 1;
        l.z.unwrap_or(z)
    };
    let describe = |t: &Threat| {
        let r = rules.iter().find(|r| r.id == t.rule);
        (
            r.map_or(String::new(), |r| r.description.clone()),
            r.map_or(String::new(), |r| r.remediation.clone()),
        )
    };
    let mut cell_ids: HashMap<&str, String> = HashMap::new();
    for b in &model.boundaries {
        let l = b.layout.clone().unwrap_or_default();
        let view = l.diagram.min(diagrams.len() - 1);
        let id = l
            .cell
            .clone()
            .unwrap_or_else(|| uuid_of(&format!("boundary\u{0}{}", b.id)));
        let data = json!({
            "type": if l.points.len() >= 2 && l.width.is_none() { "tm.Boundary" } else { "tm.BoundaryBox" },
            "name": b.name,
            "description": b.description.clone().unwrap_or_default(),
            "isTrustBoundary": true,
            "hasOpenThreats": false,
            "aisec": {"id": b.id, "trusted": b.trusted},
        });
        let mut cell = Map::new();
        if l.points.len() >= 2 && l.width.is_none() {
            let last = l.points.len() - 1;
            cell.insert("shape".into(), json!("trust-boundary-curve"));
            cell.insert("source".into(), int_point(l.points[0]));
            cell.insert("target".into(), int_point(l.points[last]));
            cell.insert(
                "vertices".into(),
                Value::Array(
                    l.points[1..last]
                        .iter()
                        .map(|p| json!({"x": n(p[0]), "y": n(p[1])}))
                        .collect(),
                ),
            );
            cell.insert("connector".into(), json!("smooth"));
            cell.insert("labels".into(), json!([b.name]));
            cell.insert(
                "attrs".into(),
                json!({"line": {"stroke": "red", "strokeWidth": 3, "targetMarker": {"name": ""}, "sourceMarker": {"name": ""}, "strokeDasharray": "10 5"}}),
            );
        } else {
            cell.insert("shape".into(), json!("trust-boundary-box"));
            let fallback = auto_boxes.get(&b.id).unwrap_or(&blank);
            position(&mut cell, &l, fallback);
            cell.insert(
                "attrs".into(),
                json!({"body": {"stroke": "red", "strokeWidth": 2, "strokeDasharray": "10 5"}, "label": {"text": b.name}}),
            );
        }
        cell.insert("id".into(), json!(id));
        cell.insert("zIndex".into(), json!(next_z(&l)));
        cell.insert("visible".into(), json!(true));
        cell.insert("data".into(), data);
        cells[view].push(with_foreign(cell, b.foreign.as_ref(), &b.name));
    }
    for e in &model.elements {
        let l = e.layout.clone().unwrap_or_default();
        let view = l.diagram.min(diagrams.len() - 1);
        let id = l
            .cell
            .clone()
            .unwrap_or_else(|| uuid_of(&format!("element\u{0}{}", e.id)));
        cell_ids.insert(e.id.as_str(), id.clone());
        let (shape, td_type) = match e.kind {
            Kind::Actor => ("actor", "tm.Actor"),
            k if k.is_store() => ("store", "tm.Store"),
            _ => ("process", "tm.Process"),
        };
        let mut list: Vec<Value> = e
            .threats
            .iter()
            .map(|t| recorded_out(t, &mut number))
            .collect();
        for t in threats.iter().filter(|t| t.target == e.id) {
            let (d, r) = describe(t);
            list.push(rule_out(t, &d, &r, &mut number));
        }
        let open = list.iter().any(|t| t["status"] == "Open");
        let mut data = Map::new();
        data.insert("type".into(), json!(td_type));
        data.insert("name".into(), json!(e.name));
        data.insert(
            "description".into(),
            json!(e.description.clone().unwrap_or_default()),
        );
        data.insert("outOfScope".into(), json!(e.out_of_scope));
        data.insert(
            "reasonOutOfScope".into(),
            json!(e.out_of_scope_reason.clone().unwrap_or_default()),
        );
        let rest = td_flags_out(e, &mut data);
        data.insert("threats".into(), Value::Array(list));
        data.insert("hasOpenThreats".into(), json!(open));
        data.insert(
            "aisec".into(),
            json!({"id": e.id, "kind": e.kind.name(), "properties": rest}),
        );
        let mut cell = Map::new();
        cell.insert("shape".into(), json!(shape));
        cell.insert("id".into(), json!(id));
        cell.insert("zIndex".into(), json!(next_z(&l)));
        cell.insert("visible".into(), json!(true));
        position(&mut cell, &l, auto_elements.get(&e.id).unwrap_or(&blank));
        cell.insert(
            "attrs".into(),
            json!({"body": body(open, e.out_of_scope), "text": {"text": e.name}}),
        );
        cell.insert("data".into(), Value::Object(data));
        cells[view].push(with_foreign(cell, e.foreign.as_ref(), &e.name));
    }
    for f in &model.flows {
        let l = f.layout.clone().unwrap_or_default();
        let view = l.diagram.min(diagrams.len() - 1);
        let id = l
            .cell
            .clone()
            .unwrap_or_else(|| uuid_of(&format!("flow\u{0}{}", f.id)));
        let mut list: Vec<Value> = f
            .threats
            .iter()
            .map(|t| recorded_out(t, &mut number))
            .collect();
        for t in threats.iter().filter(|t| t.target == f.id) {
            let (d, r) = describe(t);
            list.push(rule_out(t, &d, &r, &mut number));
        }
        let open = list.iter().any(|t| t["status"] == "Open");
        let name = f.name.clone().unwrap_or_default();
        let data = json!({
            "type": "tm.Flow",
            "name": name,
            "description": f.description.clone().unwrap_or_default(),
            "outOfScope": f.out_of_scope,
            "reasonOutOfScope": f.out_of_scope_reason.clone().unwrap_or_default(),
            "protocol": f.protocol.clone().unwrap_or_default(),
            "isEncrypted": f.encrypted,
            "isPublicNetwork": f.public_network,
            "isBidirectional": f.bidirectional,
            "threats": list,
            "hasOpenThreats": open,
            "aisec": {"id": f.id, "authenticated": f.authenticated, "data": f.data},
        });
        let end = |e: &str| json!({"cell": cell_ids.get(e).cloned().unwrap_or_default()});
        let mut cell = Map::new();
        cell.insert("shape".into(), json!("flow"));
        cell.insert("id".into(), json!(id));
        cell.insert("zIndex".into(), json!(next_z(&l)));
        cell.insert("visible".into(), json!(true));
        cell.insert("connector".into(), json!("smooth"));
        cell.insert("source".into(), end(&f.from));
        cell.insert("target".into(), end(&f.to));
        cell.insert(
            "vertices".into(),
            Value::Array(
                l.points
                    .iter()
                    .map(|p| json!({"x": n(p[0]), "y": n(p[1])}))
                    .collect(),
            ),
        );
        cell.insert("labels".into(), json!([name]));
        let mut line = body(open, f.out_of_scope);
        line["targetMarker"] = json!({"name": "block"});
        line["sourceMarker"] = json!({"name": if f.bidirectional { "block" } else { "" }});
        cell.insert("attrs".into(), json!({"line": line}));
        cell.insert("data".into(), data);
        cells[view].push(with_foreign(cell, f.foreign.as_ref(), &name));
    }
    for n in &model.notes {
        let l = n.layout.clone().unwrap_or_default();
        let view = l.diagram.min(diagrams.len() - 1);
        let id = l
            .cell
            .clone()
            .unwrap_or_else(|| uuid_of(&format!("note\u{0}{}", n.text)));
        let mut cell = Map::new();
        cell.insert("shape".into(), json!("td-text-block"));
        cell.insert("id".into(), json!(id));
        cell.insert("zIndex".into(), json!(next_z(&l)));
        cell.insert("visible".into(), json!(true));
        position(
            &mut cell,
            &l,
            &Layout {
                x: Some(60.0),
                y: Some(0.0),
                ..Layout::default()
            },
        );
        cell.insert("attrs".into(), json!({"label": {"text": n.text}}));
        cell.insert(
            "data".into(),
            json!({"type": "tm.Text", "name": n.text, "hasOpenThreats": false}),
        );
        cells[view].push(with_foreign(cell, n.foreign.as_ref(), &n.text));
    }
    let diagrams_out: Vec<Value> = diagrams
        .iter()
        .zip(cells)
        .enumerate()
        .map(|(i, (d, cells))| {
            let thumb = match d.method.to_ascii_lowercase().as_str() {
                m @ ("stride" | "linddun" | "cia" | "die" | "plot4ai") => {
                    format!("./public/content/images/thumbnail.{m}.jpg")
                }
                _ => "./public/content/images/thumbnail.jpg".to_owned(),
            };
            json!({
                "id": i,
                "title": d.title,
                "description": d.description.clone().unwrap_or_default(),
                "diagramType": d.method,
                "placeholder": "New data-flow diagram description",
                "thumbnail": thumb,
                "version": VERSION,
                "cells": cells,
            })
        })
        .collect();
    json!({
        "version": VERSION,
        "summary": {
            "title": model.name,
            "owner": model.owner.clone().unwrap_or_default(),
            "description": model.description.clone().unwrap_or_default(),
            "id": 0,
        },
        "detail": {
            "contributors": model.contributors.iter().map(|c| json!({"name": c})).collect::<Vec<_>>(),
            "diagrams": diagrams_out,
            "diagramTop": diagrams.len(),
            "reviewer": model.reviewer.clone().unwrap_or_default(),
            "threatTop": number,
        },
    })
}
