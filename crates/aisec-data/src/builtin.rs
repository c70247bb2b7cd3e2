//! The built-in data sets, from the files the resolver fetches (`aisec_resolve` catalog names):
//! `digits`, `breast-cancer`, `wine`. Each file is checked against the shape it is known to have.

use std::path::Path;

use crate::csv::{fields, integer_label, number};
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::read::{maybe_gunzip, read_file};

/// A built-in data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltIn {
    /// 8×8 handwritten digits: 1797 samples `[1, 8, 8]`, pixels 0..16 scaled to `[0, 1]`, 10 classes.
    Digits,
    /// Wisconsin diagnostic breast cancer: 569 samples `[30]`, raw feature values, classes
    /// `malignant` (0) and `benign` (1).
    BreastCancer,
    /// Wine recognition: 178 samples `[13]`, raw feature values, classes `class_0..class_2`.
    Wine,
}

impl BuiltIn {
    /// Every built-in set.
    pub const ALL: [BuiltIn; 3] = [BuiltIn::Digits, BuiltIn::BreastCancer, BuiltIn::Wine];

    /// Its name, which is also its name in the resolver's catalog.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            BuiltIn::Digits => "digits",
            BuiltIn::BreastCancer => "breast-cancer",
            BuiltIn::Wine => "wine",
        }
    }

    /// The set called `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<BuiltIn> {
        BuiltIn::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Loads the set from the bytes of its file.
    pub fn parse(self, bytes: &[u8], limits: &Limits) -> Result<Dataset> {
        match self {
            BuiltIn::Digits => parse_digits(bytes, limits),
            BuiltIn::BreastCancer => {
                parse_sklearn_csv(bytes, "breast-cancer", Some((30, 2)), limits)
            }
            BuiltIn::Wine => parse_sklearn_csv(bytes, "wine", Some((13, 3)), limits),
        }
    }

    /// Loads the set from its file (as fetched by the resolver).
    pub fn load(self, path: &Path, limits: &Limits) -> Result<Dataset> {
        let bytes = read_file(path, limits)?;
        self.parse(&bytes, limits).map_err(|e| e.in_file(path))
    }
}

/// The scikit-learn `digits.csv.gz` (gzip or already inflated): lines of 64 pixel values 0..16
/// and a label 0..9, no header.
pub fn parse_digits(bytes: &[u8], limits: &Limits) -> Result<Dataset> {
    const FORMAT: &str = "digits CSV";
    let bytes = maybe_gunzip(bytes, limits)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::malformed(FORMAT, "not UTF-8"))?;
    let mut x = Vec::new();
    let mut y = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let lineno = i + 1;
        Limits::check("number of rows", y.len() as u64 + 1, limits.max_rows)?;
        Limits::check(
            "number of elements",
            x.len() as u64 + 64,
            limits.max_elements,
        )?;
        let f = fields(line, b',', lineno)?;
        if f.len() != 65 {
            return Err(Error::malformed(
                FORMAT,
                format!("line {lineno} has {} fields, expected 65", f.len()),
            ));
        }
        for (col, v) in f[..64].iter().enumerate() {
            let p = number(v, lineno, col)?;
            if !(0.0..=16.0).contains(&p) {
                return Err(Error::malformed(
                    FORMAT,
                    format!("line {lineno}, column {}: pixel {p} outside 0..16", col + 1),
                ));
            }
            x.push(p / 16.0);
        }
        let label = integer_label(f[64].trim())
            .filter(|&l| l < 10)
            .ok_or_else(|| {
                Error::malformed(
                    FORMAT,
                    format!("line {lineno}: label `{}` is not 0..9", f[64].trim()),
                )
            })?;
        y.push(label);
    }
    if y.is_empty() {
        return Err(Error::malformed(FORMAT, "no rows"));
    }
    let names = (0..10).map(|d| d.to_string()).collect();
    Dataset::new(x, vec![1, 8, 8], y, 10, Some(names))
}

/// scikit-learn's bundled table format: a first line `n_samples,n_features,class names...`, then
/// `n_samples` lines of `n_features` numbers and an integer label. `expect` pins the number of
/// features and classes a known set must have.
pub fn parse_sklearn_csv(
    bytes: &[u8],
    name: &'static str,
    expect: Option<(usize, usize)>,
    limits: &Limits,
) -> Result<Dataset> {
    let format = name;
    let bytes = maybe_gunzip(bytes, limits)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::malformed(format, "not UTF-8"))?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, head) = lines
        .next()
        .ok_or_else(|| Error::malformed(format, "empty"))?;
    let head = fields(head, b',', 1)?;
    if head.len() < 3 {
        return Err(Error::malformed(
            format,
            "first line is not `n_samples,n_features,class names...`",
        ));
    }
    let count = |s: &str, what| {
        s.trim().parse::<u64>().map_err(|_| {
            Error::malformed(format, format!("{what} `{}` in the first line", s.trim()))
        })
    };
    let n = count(&head[0], "sample count")?;
    let d = count(&head[1], "feature count")?;
    Limits::check("number of rows", n, limits.max_rows)?;
    Limits::check(
        "number of CSV columns",
        d.saturating_add(1),
        limits.max_columns,
    )?;
    Limits::check(
        "number of elements",
        n.saturating_mul(d),
        limits.max_elements,
    )?;
    let names: Vec<String> = head[2..].iter().map(|s| s.trim().to_owned()).collect();
    Limits::check("number of classes", names.len() as u64, limits.max_classes)?;
    let (n, d) = (n as usize, d as usize);
    if let Some((ed, ek)) = expect
        && (d != ed || names.len() != ek)
    {
        return Err(Error::malformed(
            format,
            format!(
                "{d} features and {} classes, expected {ed} and {ek}",
                names.len()
            ),
        ));
    }
    if d == 0 {
        return Err(Error::malformed(format, "no features"));
    }
    // Declared counts are only trusted as far as the text could hold them (two bytes a value).
    let mut x = Vec::with_capacity((n * d).min(text.len() / 2));
    let mut y = Vec::with_capacity(n.min(text.len() / 2));
    for (i, line) in lines {
        let lineno = i + 1;
        if y.len() == n {
            return Err(Error::malformed(
                format,
                format!("more than the {n} rows the first line declares"),
            ));
        }
        let f = fields(line, b',', lineno)?;
        if f.len() != d + 1 {
            return Err(Error::malformed(
                format,
                format!("line {lineno} has {} fields, expected {}", f.len(), d + 1),
            ));
        }
        for (col, v) in f[..d].iter().enumerate() {
            x.push(number(v, lineno, col)?);
        }
        let label = integer_label(f[d].trim())
            .filter(|&l| (l as usize) < names.len())
            .ok_or_else(|| {
                Error::malformed(
                    format,
                    format!(
                        "line {lineno}: label `{}` is not a class index",
                        f[d].trim()
                    ),
                )
            })?;
        y.push(label);
    }
    if y.len() != n {
        return Err(Error::malformed(
            format,
            format!("{} rows, the first line declares {n}", y.len()),
        ));
    }
    let k = names.len();
    Dataset::new(x, vec![d], y, k, Some(names))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn digits_rows_are_scaled_images() {
        let row = |label: u32| {
            let px: Vec<String> = (0..64).map(|i| (i % 17).to_string()).collect();
            format!("{},{label}\n", px.join(","))
        };
        let text = format!("{}{}", row(3), row(9));
        let d = parse_digits(text.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d.sample_shape(), &[1, 8, 8]);
        assert_eq!(d.y(), &[3, 9]);
        assert_eq!(d.sample(0).unwrap()[16], 16.0 / 16.0);
        assert_eq!(d.sample(0).unwrap()[1], 1.0 / 16.0);
        for bad in [
            String::new(),
            row(10),
            format!("{}17,0\n", "0,".repeat(63)),
            format!("{}0\n", "0,".repeat(63)),
        ] {
            assert_eq!(
                parse_digits(bad.as_bytes(), &Limits::default())
                    .unwrap_err()
                    .kind(),
                ErrorKind::Malformed,
                "{bad}"
            );
        }
    }

    #[test]
    fn sklearn_tables_check_their_first_line() {
        let ok = "3,2,a,b\n1,2,0\n3,4,1\n5,6,1\n";
        let d = parse_sklearn_csv(ok.as_bytes(), "t", None, &Limits::default()).unwrap();
        assert_eq!(d.class_names().unwrap(), &["a", "b"]);
        assert_eq!(d.y(), &[0, 1, 1]);
        assert_eq!(d.x(), &[1., 2., 3., 4., 5., 6.]);
        for (bad, kind) in [
            ("", ErrorKind::Malformed),
            ("3,2\n", ErrorKind::Malformed),
            ("x,2,a,b\n", ErrorKind::Malformed),
            ("4,2,a,b\n1,2,0\n3,4,1\n5,6,1\n", ErrorKind::Malformed),
            ("2,2,a,b\n1,2,0\n3,4,1\n5,6,1\n", ErrorKind::Malformed),
            ("3,2,a,b\n1,2,0\n3,4,2\n5,6,1\n", ErrorKind::Malformed),
            ("3,2,a,b\n1,2,0\n3,1\n5,6,1\n", ErrorKind::Malformed),
            ("99999999999,99999999999,a\n", ErrorKind::Limit),
            ("1000000000,1000,a\n", ErrorKind::Limit),
        ] {
            let e = parse_sklearn_csv(bad.as_bytes(), "t", None, &Limits::default()).unwrap_err();
            assert_eq!(e.kind(), kind, "{bad:?}: {e}");
        }
        let e = BuiltIn::Wine
            .parse(ok.as_bytes(), &Limits::default())
            .unwrap_err();
        assert!(e.to_string().contains("expected 13 and 3"), "{e}");
        assert_eq!(
            BuiltIn::from_name("breast-cancer"),
            Some(BuiltIn::BreastCancer)
        );
        assert_eq!(BuiltIn::from_name("iris"), None);
    }
}
