//! Numeric CSV tables: one sample per line, feature columns parsed as numbers, one label column.
//!
//! Fields may be quoted (`"..."`, `""` for a quote) but a quoted field cannot span lines. Blank
//! lines are skipped, a UTF-8 byte-order mark is ignored, gzip input is inflated within the limit.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::read::{maybe_gunzip, read_file};

const FORMAT: &str = "CSV";

/// Which column holds the label.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LabelColumn {
    /// The last column (the default).
    #[default]
    Last,
    /// The first column.
    First,
    /// The column at this 0-based index.
    Index(usize),
    /// The column with this header name (needs [`CsvOptions::header`]).
    Name(String),
}

/// How to read a CSV table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// Field separator (an ASCII character other than `"`, CR and LF); `,` by default.
    pub delimiter: u8,
    /// Whether the first non-blank line holds column names.
    pub header: bool,
    /// The label column.
    pub label: LabelColumn,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: b',',
            header: false,
            label: LabelColumn::Last,
        }
    }
}

/// Labels: if every label is a non-negative integer, it is the class index (`num_classes` =
/// largest + 1, no class names); otherwise the distinct labels, sorted, are the class names and
/// each label's class is its position among them.
pub fn parse_csv(bytes: &[u8], opts: &CsvOptions, limits: &Limits) -> Result<Dataset> {
    let d = opts.delimiter;
    if !d.is_ascii() || matches!(d, b'"' | b'\n' | b'\r') {
        return Err(Error::InvalidArgument {
            detail: format!("CSV delimiter 0x{d:02x}"),
        });
    }
    let bytes = maybe_gunzip(bytes, limits)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| Error::malformed(FORMAT, format!("not UTF-8 (byte {})", e.valid_up_to())))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty());

    let mut ncols = None;
    let mut names = None;
    if opts.header {
        let (lineno, line) = lines
            .next()
            .ok_or_else(|| Error::malformed(FORMAT, "no header line"))?;
        let f = fields(line, d, lineno)?;
        Limits::check("number of CSV columns", f.len() as u64, limits.max_columns)?;
        ncols = Some(f.len());
        names = Some(f.iter().map(|s| s.trim().to_owned()).collect::<Vec<_>>());
    }

    let mut label_col = None;
    let mut x: Vec<f32> = Vec::new();
    let mut label_ids: Vec<u32> = Vec::new();
    let mut distinct: BTreeMap<String, u32> = BTreeMap::new();
    for (lineno, line) in lines {
        let f = fields(line, d, lineno)?;
        let n = *ncols.get_or_insert(f.len());
        Limits::check("number of CSV columns", n as u64, limits.max_columns)?;
        if f.len() != n {
            return Err(Error::malformed(
                FORMAT,
                format!("line {lineno} has {} fields, expected {n}", f.len()),
            ));
        }
        let lc = match label_col {
            Some(c) => c,
            None => *label_col.insert(resolve_label(&opts.label, n, names.as_deref())?),
        };
        Limits::check(
            "number of rows",
            label_ids.len() as u64 + 1,
            limits.max_rows,
        )?;
        Limits::check(
            "number of elements",
            (x.len() + n - 1) as u64,
            limits.max_elements,
        )?;
        for (col, field) in f.iter().enumerate() {
            if col == lc {
                let label = field.trim();
                let next = distinct.len() as u32;
                let id = match distinct.get(label) {
                    Some(&id) => id,
                    None => {
                        Limits::check(
                            "number of distinct labels",
                            u64::from(next) + 1,
                            limits.max_classes,
                        )?;
                        distinct.insert(label.to_owned(), next);
                        next
                    }
                };
                label_ids.push(id);
            } else {
                x.push(number(field, lineno, col)?);
            }
        }
    }
    let n = ncols.unwrap_or(0);
    if label_ids.is_empty() {
        return Err(Error::malformed(FORMAT, "no data rows"));
    }
    let (y, num_classes, class_names) = classes(&distinct, &label_ids, limits)?;
    Dataset::new(x, vec![n - 1], y, num_classes, class_names)
}

/// Loads a CSV file (gzip accepted).
pub fn load_csv(path: &Path, opts: &CsvOptions, limits: &Limits) -> Result<Dataset> {
    let bytes = read_file(path, limits)?;
    parse_csv(&bytes, opts, limits).map_err(|e| e.in_file(path))
}

fn resolve_label(label: &LabelColumn, ncols: usize, names: Option<&[String]>) -> Result<usize> {
    if ncols < 2 {
        return Err(Error::malformed(
            FORMAT,
            "fewer than two columns (features and a label)",
        ));
    }
    match label {
        LabelColumn::Last => Ok(ncols - 1),
        LabelColumn::First => Ok(0),
        LabelColumn::Index(i) if *i < ncols => Ok(*i),
        LabelColumn::Index(i) => Err(Error::InvalidArgument {
            detail: format!("label column {i} but the table has {ncols} columns"),
        }),
        LabelColumn::Name(name) => {
            let names = names.ok_or_else(|| Error::InvalidArgument {
                detail: format!("label column `{name}` named but the table has no header"),
            })?;
            names
                .iter()
                .position(|n| n == name)
                .ok_or_else(|| Error::InvalidArgument {
                    detail: format!("no column `{name}` in the header"),
                })
        }
    }
}

/// Turns interned label strings into class indices (see [`parse_csv`]).
fn classes(
    distinct: &BTreeMap<String, u32>,
    ids: &[u32],
    limits: &Limits,
) -> Result<(Vec<u32>, usize, Option<Vec<String>>)> {
    let numeric: Option<Vec<(u32, u32)>> = distinct
        .iter()
        .map(|(s, &id)| integer_label(s).map(|v| (id, v)))
        .collect();
    if let Some(pairs) = numeric {
        let mut value_of = vec![0u32; distinct.len()];
        for (id, v) in pairs {
            value_of[id as usize] = v;
        }
        let max = value_of.iter().copied().max().unwrap_or(0);
        Limits::check(
            "number of classes (largest label + 1)",
            u64::from(max) + 1,
            limits.max_classes,
        )?;
        let y = ids.iter().map(|&i| value_of[i as usize]).collect();
        return Ok((y, max as usize + 1, None));
    }
    // BTreeMap order is sorted order: position = class index.
    let mut class_of = vec![0u32; distinct.len()];
    for (pos, &id) in distinct.values().enumerate() {
        class_of[id as usize] = pos as u32;
    }
    let y = ids.iter().map(|&i| class_of[i as usize]).collect();
    let names: Vec<String> = distinct.keys().cloned().collect();
    Ok((y, names.len(), Some(names)))
}

/// `7`, `7.0` → 7; anything else (negative, fractional, text) → `None`.
pub(crate) fn integer_label(s: &str) -> Option<u32> {
    if let Ok(v) = s.parse::<u32>() {
        return Some(v);
    }
    let f: f64 = s.parse().ok()?;
    (f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f)).then_some(f as u32)
}

/// A finite number from a field.
pub(crate) fn number(field: &str, lineno: usize, col: usize) -> Result<f32> {
    let t = field.trim();
    match t.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(Error::malformed(
            FORMAT,
            format!(
                "line {lineno}, column {}: `{t}` is not a finite number",
                col + 1
            ),
        )),
        Err(_) => Err(Error::malformed(
            FORMAT,
            format!(
                "line {lineno}, column {}: `{}` is not a number",
                col + 1,
                t.chars().take(40).collect::<String>()
            ),
        )),
    }
}

/// Splits one line into fields, unquoting `"..."` fields.
pub(crate) fn fields(line: &str, delim: u8, lineno: usize) -> Result<Vec<Cow<'_, str>>> {
    let delim = delim as char;
    // Spaces around a quoted field are padding, unless space is the separator.
    let pad: &[char] = if delim == ' ' { &[] } else { &[' '] };
    if !line.contains('"') {
        return Ok(line.split(delim).map(Cow::Borrowed).collect());
    }
    let mut out = Vec::new();
    let mut rest = line;
    loop {
        let lead = rest.len() - rest.trim_start_matches(pad).len();
        if rest[lead..].starts_with('"') {
            let body = &rest[lead + 1..];
            let mut value = String::new();
            let mut chars = body.char_indices();
            let end = loop {
                match chars.next() {
                    Some((i, '"')) => {
                        if body[i + 1..].starts_with('"') {
                            value.push('"');
                            chars.next();
                        } else {
                            break i + 1;
                        }
                    }
                    Some((_, c)) => value.push(c),
                    None => {
                        return Err(Error::malformed(
                            FORMAT,
                            format!("line {lineno}: unterminated quoted field"),
                        ));
                    }
                }
            };
            out.push(Cow::Owned(value));
            let after = body[end..].trim_start_matches(pad);
            if after.is_empty() {
                return Ok(out);
            }
            match after.strip_prefix(delim) {
                Some(r) => rest = r,
                None => {
                    return Err(Error::malformed(
                        FORMAT,
                        format!("line {lineno}: text after a closing quote"),
                    ));
                }
            }
        } else {
            match rest.find(delim) {
                Some(i) => {
                    out.push(Cow::Borrowed(&rest[..i]));
                    rest = &rest[i + delim.len_utf8()..];
                }
                None => {
                    out.push(Cow::Borrowed(rest));
                    return Ok(out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn parse(text: &str, opts: &CsvOptions) -> Result<Dataset> {
        parse_csv(text.as_bytes(), opts, &Limits::default())
    }

    #[test]
    fn numeric_labels_are_class_indices() {
        let d = parse("1,2,0\n3,4,2\r\n\n5,6,1\n", &CsvOptions::default()).unwrap();
        assert_eq!(d.sample_shape(), &[2]);
        assert_eq!(d.x(), &[1., 2., 3., 4., 5., 6.]);
        assert_eq!(d.y(), &[0, 2, 1]);
        assert_eq!(d.num_classes(), 3);
        assert!(d.class_names().is_none());
        let d = parse("1,2,3.0\n", &CsvOptions::default()).unwrap();
        assert_eq!(d.y(), &[3]);
        assert_eq!(d.num_classes(), 4);
    }

    #[test]
    fn text_labels_become_sorted_class_names() {
        let opts = CsvOptions {
            header: true,
            label: LabelColumn::Name("species".into()),
            delimiter: b';',
        };
        let d = parse(
            "\u{feff}species;\"len\";w\n\"vir;ginica\";1.5;2\nsetosa;1;2\n\"vir;ginica\";3;4\n",
            &opts,
        )
        .unwrap();
        assert_eq!(d.class_names().unwrap(), &["setosa", "vir;ginica"]);
        assert_eq!(d.y(), &[1, 0, 1]);
        assert_eq!(d.x(), &[1.5, 2., 1., 2., 3., 4.]);
        let first = CsvOptions {
            label: LabelColumn::First,
            ..CsvOptions::default()
        };
        assert_eq!(parse("b,1\na,2\n", &first).unwrap().y(), &[1, 0]);
        let idx = CsvOptions {
            label: LabelColumn::Index(1),
            ..CsvOptions::default()
        };
        let d = parse("1,7,2\n", &idx).unwrap();
        assert_eq!((d.x(), d.y()), (&[1., 2.][..], &[7][..]));
    }

    #[test]
    fn quoted_fields() {
        let f = fields(r#"1, "a ""b"", c" ,"",x"#, b',', 1).unwrap();
        assert_eq!(f, vec!["1", r#"a "b", c"#, "", "x"]);
        assert!(fields(r#""open,1"#, b',', 1).is_err());
        assert!(fields(r#""a"b,1"#, b',', 1).is_err());
        assert_eq!(fields("a,\"é\"", b',', 1).unwrap(), vec!["a", "é"]);
    }

    #[test]
    fn bad_tables_are_errors() {
        let o = CsvOptions::default();
        for (text, kind) in [
            ("", ErrorKind::Malformed),
            ("\n\n", ErrorKind::Malformed),
            ("1\n", ErrorKind::Malformed),
            ("1,2,0\n1,0\n", ErrorKind::Malformed),
            ("1,x,0\n", ErrorKind::Malformed),
            ("1,nan,0\n", ErrorKind::Malformed),
            ("1,inf,0\n", ErrorKind::Malformed),
            ("1,1e39,0\n", ErrorKind::Malformed),
            ("1,,0\n", ErrorKind::Malformed),
            ("1,2,4294967295\n", ErrorKind::Limit),
        ] {
            let e = parse(text, &o).unwrap_err();
            assert_eq!(e.kind(), kind, "{text:?}: {e}");
        }
        assert!(parse_csv(b"1,\xff,0\n", &o, &Limits::default()).is_err());
        let named = CsvOptions {
            label: LabelColumn::Name("y".into()),
            ..CsvOptions::default()
        };
        assert_eq!(
            parse("1,2\n", &named).unwrap_err().kind(),
            ErrorKind::Invalid
        );
        let far = CsvOptions {
            label: LabelColumn::Index(5),
            ..CsvOptions::default()
        };
        assert_eq!(parse("1,2\n", &far).unwrap_err().kind(), ErrorKind::Invalid);
        let quote = CsvOptions {
            delimiter: b'"',
            ..CsvOptions::default()
        };
        assert_eq!(
            parse("1,2\n", &quote).unwrap_err().kind(),
            ErrorKind::Invalid
        );
    }

    #[test]
    fn limits_stop_big_tables() {
        let rows: String = (0..100)
            .map(|i| {
                [
                    i.to_string(),
                    ",1,".into(),
                    (i % 3).to_string(),
                    "\n".into(),
                ]
                .concat()
            })
            .collect();
        let few_rows = Limits {
            max_rows: 50,
            ..Limits::default()
        };
        let e = parse_csv(rows.as_bytes(), &CsvOptions::default(), &few_rows).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Limit {
                    what: "number of rows",
                    ..
                }
            ),
            "{e}"
        );
        let few_elems = Limits {
            max_elements: 100,
            ..Limits::default()
        };
        let e = parse_csv(rows.as_bytes(), &CsvOptions::default(), &few_elems).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Limit {
                    what: "number of elements",
                    ..
                }
            ),
            "{e}"
        );
        let labels: String = (0..100)
            .map(|i| ["1,c", &i.to_string(), "\n"].concat())
            .collect();
        let few_classes = Limits {
            max_classes: 10,
            ..Limits::default()
        };
        let e = parse_csv(labels.as_bytes(), &CsvOptions::default(), &few_classes).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
        let wide = format!("{}0\n", "1,".repeat(100));
        let narrow = Limits {
            max_columns: 50,
            ..Limits::default()
        };
        let e = parse_csv(wide.as_bytes(), &CsvOptions::default(), &narrow).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
    }
}
