//! Per-client query-pattern monitoring against model extraction, where it applies: a classifier
//! served under the Open Inference Protocol (KServe v2: `POST /v2/models/NAME/infer`, which
//! Triton, KServe, Seldon MLServer and TorchServe speak). Each (client, model) pair has its own
//! stream and its own PRADA detector ([`aisec_core::stats::prada`]): the rows a client sends
//! and the classes the model answered go in, and the detector says when the distances between
//! that client's queries stop looking like natural data (synthetic probes, Jacobian-style
//! augmentation, single-feature sweeps, repeated queries).
//!
//! Pure: the proxy hands in the parsed bodies and the time. Every count is bounded: elements per
//! request, row length, streams kept (the least recently seen is dropped), queries per stream
//! (the policy's window, after which the stream starts afresh).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::{Duration, Instant};

use aisec_core::stats::prada::PradaDetector;
use serde_json::Value;

use crate::policy::ExtractionRule;

/// Most numbers read from one request or reply.
pub const MAX_ELEMENTS: usize = 1 << 22;
/// Longest row monitored (elements per query, all inputs together).
pub const MAX_ROW: usize = 1 << 16;
/// Most streams kept at once; past it the least recently seen is dropped.
pub const MAX_STREAMS: usize = 4096;
/// Deepest nesting of a `data` array.
const MAX_DEPTH: usize = 32;
/// Class ids the monitor accepts (labels beyond are folded into this range).
pub const MAX_CLASSES: usize = 1 << 16;

/// The query rows of one inference request: `n` rows of `dim` numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    /// Rows in the batch.
    pub n: usize,
    /// Numbers per row (all inputs together, in their order).
    pub dim: usize,
    /// Row-major numbers.
    pub data: Vec<f32>,
}

/// Reads the rows of an Open Inference Protocol request: every input tensor's `shape` starts
/// with the batch size, its `data` is flat or nested numbers; a row is the concatenation of each
/// input's slice for it. `Ok(None)` when the inputs are not numeric (`BYTES`): nothing to measure.
///
/// # Errors
/// A sentence saying what is malformed or over a bound.
pub fn request_rows(body: &Value) -> Result<Option<Rows>, String> {
    let inputs = body
        .get("inputs")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or("`inputs` must be a non-empty array")?;
    let mut tensors = Vec::with_capacity(inputs.len());
    let mut n = None;
    for (i, input) in inputs.iter().enumerate() {
        if input.get("datatype").and_then(Value::as_str) == Some("BYTES") {
            return Ok(None);
        }
        let shape = shape_of(input).map_err(|e| format!("inputs[{i}]: {e}"))?;
        let batch = *shape
            .first()
            .ok_or(format!("inputs[{i}]: an empty shape"))?;
        if *n.get_or_insert(batch) != batch {
            return Err(format!(
                "inputs[{i}]: a batch of {batch} beside one of {}",
                n.unwrap_or(0)
            ));
        }
        let data = numbers(input.get("data").ok_or(format!("inputs[{i}]: no `data`"))?)
            .map_err(|e| format!("inputs[{i}]: {e}"))?;
        let expected = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if expected != Some(data.len()) {
            return Err(format!(
                "inputs[{i}]: {} numbers for the shape {shape:?}",
                data.len()
            ));
        }
        tensors.push(data);
    }
    let n = n.unwrap_or(0);
    if n == 0 {
        return Ok(Some(Rows {
            n: 0,
            dim: 0,
            data: Vec::new(),
        }));
    }
    let widths: Vec<usize> = tensors.iter().map(|t| t.len() / n).collect();
    let dim: usize = widths.iter().sum();
    if dim == 0 || dim > MAX_ROW {
        return Err(format!(
            "rows of {dim} numbers (1 to {MAX_ROW} are monitored)"
        ));
    }
    let mut data = Vec::with_capacity(n * dim);
    for r in 0..n {
        for (t, &w) in tensors.iter().zip(&widths) {
            data.extend_from_slice(&t[r * w..(r + 1) * w]);
        }
    }
    Ok(Some(Rows { n, dim, data }))
}

/// The class the model answered for each of `n` rows, from the first output of an Open
/// Inference Protocol reply: integer labels (`[n]` or `[n, 1]`), one score per row (`[n]` or
/// `[n, 1]`, class 1 at 0.5 and above), scores per class (`[n, k]`: the highest), or `BYTES`
/// labels (each distinct label its own class).
///
/// # Errors
/// A sentence saying what is malformed.
pub fn reply_classes(body: &Value, n: usize) -> Result<Vec<usize>, String> {
    let output = body
        .get("outputs")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .ok_or("the reply has no `outputs`")?;
    let shape = shape_of(output)?;
    if shape.first() != Some(&n) {
        return Err(format!("an output of shape {shape:?} for {n} rows"));
    }
    let datatype = output.get("datatype").and_then(Value::as_str).unwrap_or("");
    let data = output.get("data").ok_or("the output has no `data`")?;
    if datatype == "BYTES" {
        let labels = data.as_array().ok_or("`data` must be an array")?;
        if labels.len() != n {
            return Err(format!("{} labels for {n} rows", labels.len()));
        }
        return Ok(labels.iter().map(|l| label_class(&l.to_string())).collect());
    }
    let values = numbers(data)?;
    let per_row = values.len() / n.max(1);
    if per_row == 0 || per_row * n != values.len() {
        return Err(format!("{} numbers for {n} rows", values.len()));
    }
    let integer = datatype.starts_with("INT") || datatype.starts_with("UINT");
    Ok(values
        .chunks_exact(per_row)
        .map(|row| match (per_row, integer) {
            (1, true) => {
                // A label: classes beyond the bound fold into it (they stay distinct mostly).
                let v = row[0];
                if v >= 0.0 && v < MAX_CLASSES as f32 {
                    v as usize
                } else {
                    label_class(&v.to_string())
                }
            }
            (1, false) => usize::from(row[0] >= 0.5),
            _ => row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(i, _)| i),
        })
        .collect())
}

fn label_class(label: &str) -> usize {
    let h = label.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (h % MAX_CLASSES as u64) as usize
}

fn shape_of(tensor: &Value) -> Result<Vec<usize>, String> {
    let shape = tensor
        .get("shape")
        .and_then(Value::as_array)
        .ok_or("no `shape`")?;
    if shape.len() > MAX_DEPTH {
        return Err(format!("a shape of {} dimensions", shape.len()));
    }
    shape
        .iter()
        .map(|d| {
            d.as_u64()
                .and_then(|d| usize::try_from(d).ok())
                .filter(|&d| d <= MAX_ELEMENTS)
                .ok_or_else(|| format!("a shape entry {d} that is not a count"))
        })
        .collect()
}

/// Flattens `data` (numbers or booleans, nested to at most [`MAX_DEPTH`]) into f32s.
fn numbers(data: &Value) -> Result<Vec<f32>, String> {
    fn walk(v: &Value, depth: usize, out: &mut Vec<f32>) -> Result<(), String> {
        if out.len() >= MAX_ELEMENTS {
            return Err(format!("more than {MAX_ELEMENTS} numbers"));
        }
        match v {
            Value::Number(x) => {
                let x = x.as_f64().ok_or("a number out of range")?;
                #[allow(clippy::cast_possible_truncation)]
                out.push(x as f32);
            }
            Value::Bool(b) => out.push(f32::from(u8::from(*b))),
            Value::Array(items) if depth < MAX_DEPTH => {
                for item in items {
                    walk(item, depth + 1, out)?;
                }
            }
            Value::Array(_) => return Err(format!("`data` nested deeper than {MAX_DEPTH}")),
            _ => return Err("`data` holds something that is not a number".into()),
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(data, 0, &mut out)?;
    Ok(out)
}

/// What the monitor made of one request's rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamVerdict {
    /// The stream's statistic after these rows, once tested.
    pub w: Option<f64>,
    /// Whether these rows raised the alarm (its first time in this stream).
    pub alarm: bool,
    /// Queries in the stream so far (this window).
    pub queries: usize,
}

/// One client's stream to one model.
#[derive(Debug)]
struct Stream {
    detector: PradaDetector,
    last_seen: Instant,
    /// When the alarm fired, for `block_seconds`.
    alarmed: Option<(Instant, usize)>,
}

/// The monitor of every (client, model) stream.
#[derive(Debug, Default)]
pub struct Monitor {
    streams: HashMap<(String, String), Stream>,
}

impl Monitor {
    /// An empty monitor.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Streams kept.
    #[must_use]
    pub fn streams(&self) -> usize {
        self.streams.len()
    }

    /// The query at which `client`'s stream to `model` raised the alarm, while `rule` still
    /// refuses it at `now`. A stream whose refusal has run out starts afresh.
    pub fn refused(
        &mut self,
        rule: &ExtractionRule,
        client: &str,
        model: &str,
        now: Instant,
    ) -> Option<usize> {
        let key = (client.to_owned(), model.to_owned());
        let (at, query) = self.streams.get(&key)?.alarmed?;
        if now.duration_since(at) < Duration::from_secs(rule.block_seconds) {
            Some(query)
        } else {
            self.streams.remove(&key);
            None
        }
    }

    /// Feeds the rows of one answered request and the classes answered into `client`'s stream
    /// to `model`.
    ///
    /// # Errors
    /// A sentence when the rows cannot be measured (a class count that does not match, a
    /// non-finite number). A stream whose row length changes starts afresh.
    pub fn observe(
        &mut self,
        rule: &ExtractionRule,
        client: &str,
        model: &str,
        rows: &Rows,
        classes: &[usize],
        now: Instant,
    ) -> Result<StreamVerdict, String> {
        if classes.len() != rows.n {
            return Err(format!("{} classes for {} rows", classes.len(), rows.n));
        }
        if rows.n == 0 {
            return Ok(StreamVerdict {
                w: None,
                alarm: false,
                queries: 0,
            });
        }
        let detector =
            || PradaDetector::new(rule.prada(), rows.dim, MAX_CLASSES).map_err(|e| e.to_string());
        let fresh = || {
            detector().map(|detector| Stream {
                detector,
                last_seen: now,
                alarmed: None,
            })
        };
        let key = (client.to_owned(), model.to_owned());
        if !self.streams.contains_key(&key) && self.streams.len() >= MAX_STREAMS {
            self.evict_oldest();
        }
        let stream = match self.streams.entry(key) {
            Entry::Occupied(e) => {
                let s = e.into_mut();
                if s.detector.dim() != rows.dim {
                    // Another row length is another stream.
                    *s = fresh()?;
                }
                s
            }
            Entry::Vacant(e) => e.insert(fresh()?),
        };
        stream.last_seen = now;
        let mut out = StreamVerdict {
            w: None,
            alarm: false,
            queries: 0,
        };
        for (row, &class) in rows.data.chunks_exact(rows.dim).zip(classes) {
            if stream.detector.queries() >= rule.window {
                // A full window starts afresh (an alarm already raised stays on record).
                stream.detector = detector()?;
            }
            let v = stream
                .detector
                .observe(row, class % MAX_CLASSES)
                .map_err(|e| e.to_string())?;
            out.w = v.w.or(out.w);
            if v.alarm && stream.alarmed.is_none() {
                stream.alarmed = Some((now, stream.detector.queries() - 1));
                out.alarm = true;
            }
        }
        out.queries = stream.detector.queries();
        Ok(out)
    }

    fn evict_oldest(&mut self) {
        if let Some(key) = self
            .streams
            .iter()
            .min_by_key(|(_, s)| s.last_seen)
            .map(|(k, _)| k.clone())
        {
            self.streams.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Action;
    use serde_json::json;

    fn rule() -> ExtractionRule {
        ExtractionRule {
            action: Action::Block,
            delta: 0.9,
            min_queries: 10,
            window: 1000,
            block_seconds: 60,
        }
    }

    #[test]
    fn requests_are_read_as_rows_across_inputs() {
        let body = json!({"inputs": [
            {"name": "a", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2], [3, 4]]},
            {"name": "b", "shape": [2], "datatype": "BOOL", "data": [true, false]}
        ]});
        let rows = request_rows(&body).unwrap().unwrap();
        assert_eq!((rows.n, rows.dim), (2, 3));
        assert_eq!(rows.data, vec![1.0, 2.0, 1.0, 3.0, 4.0, 0.0]);
        let bytes =
            json!({"inputs": [{"name": "t", "shape": [1], "datatype": "BYTES", "data": ["hi"]}]});
        assert_eq!(request_rows(&bytes).unwrap(), None);
        for bad in [
            json!({}),
            json!({"inputs": []}),
            json!({"inputs": [{"shape": [2, 2], "data": [1, 2, 3]}]}),
            json!({"inputs": [{"shape": [1, 2], "data": [1, "x"]}]}),
            json!({"inputs": [{"shape": [-1, 2], "data": [1, 2]}]}),
            json!({"inputs": [{"shape": [1, 1], "data": [1]}, {"shape": [2, 1], "data": [1, 2]}]}),
        ] {
            assert!(request_rows(&bad).is_err(), "{bad}");
        }
        let mut deep = json!(1);
        for _ in 0..40 {
            deep = json!([deep]);
        }
        assert!(request_rows(&json!({"inputs": [{"shape": [1], "data": deep}]})).is_err());
    }

    #[test]
    fn replies_give_a_class_per_row() {
        let probs = json!({"outputs": [{"shape": [2, 3], "datatype": "FP32", "data": [0.1, 0.7, 0.2, 0.5, 0.2, 0.3]}]});
        assert_eq!(reply_classes(&probs, 2).unwrap(), vec![1, 0]);
        let labels = json!({"outputs": [{"shape": [3], "datatype": "INT64", "data": [4, 0, 9]}]});
        assert_eq!(reply_classes(&labels, 3).unwrap(), vec![4, 0, 9]);
        let score =
            json!({"outputs": [{"shape": [2, 1], "datatype": "FP32", "data": [[0.2], [0.9]]}]});
        assert_eq!(reply_classes(&score, 2).unwrap(), vec![0, 1]);
        let named =
            json!({"outputs": [{"shape": [2], "datatype": "BYTES", "data": ["cat", "dog"]}]});
        let c = reply_classes(&named, 2).unwrap();
        assert_ne!(c[0], c[1]);
        assert!(reply_classes(&probs, 3).is_err());
        assert!(reply_classes(&json!({"outputs": []}), 1).is_err());
    }

    #[test]
    fn a_repeated_query_is_refused_until_the_block_runs_out() {
        let mut m = Monitor::new();
        let r = rule();
        let t0 = Instant::now();
        let row = Rows {
            n: 1,
            dim: 2,
            data: vec![0.5, 0.5],
        };
        let mut alarm_at = None;
        for i in 0..30 {
            let v = m.observe(&r, "mallory", "digits", &row, &[3], t0).unwrap();
            if v.alarm {
                alarm_at = Some(i);
                break;
            }
        }
        assert_eq!(alarm_at, Some(10));
        assert_eq!(m.refused(&r, "mallory", "digits", t0), Some(10));
        assert_eq!(m.refused(&r, "alice", "digits", t0), None);
        assert_eq!(m.refused(&r, "mallory", "other", t0), None);
        let later = t0 + Duration::from_secs(61);
        assert_eq!(m.refused(&r, "mallory", "digits", later), None);
        assert_eq!(m.streams(), 0);
    }

    #[test]
    fn streams_are_bounded_and_windows_restart() {
        let mut m = Monitor::new();
        let mut r = rule();
        r.window = 20;
        let t0 = Instant::now();
        let row = |x: f32| Rows {
            n: 1,
            dim: 1,
            data: vec![x],
        };
        for i in 0..MAX_STREAMS + 5 {
            m.observe(
                &r,
                &format!("k{i}"),
                "m",
                &row(1.0),
                &[0],
                t0 + Duration::from_millis(i as u64),
            )
            .unwrap();
        }
        assert_eq!(m.streams(), MAX_STREAMS);
        for i in 0..45 {
            let v = m.observe(&r, "k", "m", &row(i as f32), &[0], t0).unwrap();
            assert!(v.queries <= 20 && v.queries > 0, "{v:?}");
        }
        // A change of row length starts a new stream rather than failing.
        let two = Rows {
            n: 1,
            dim: 2,
            data: vec![0.0, 1.0],
        };
        assert_eq!(m.observe(&r, "k", "m", &two, &[0], t0).unwrap().queries, 1);
        assert!(m.observe(&r, "k", "m", &two, &[0, 1], t0).is_err());
    }
}
