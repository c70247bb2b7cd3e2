//! NumPy `.npz` archives (a zip of `.npy` members, stored or deflated), read with bounds on the
//! number of members and on each member's inflated size.

use std::io::{Cursor, Read};
use std::path::Path;

use crate::array::{Array, dataset_from_arrays};
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::npy::parse_npy;
use crate::read::read_file;

/// Which arrays of an `.npz` are the features and the labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NpzOptions {
    /// Name of the feature array (without `.npy`); `None` tries the pairs of [`DEFAULT_PAIRS`].
    pub x: Option<String>,
    /// Name of the label array; `None` takes the partner of `x` in [`DEFAULT_PAIRS`] (or `y`).
    pub y: Option<String>,
}

/// The `(x, y)` names tried in order when none are given.
pub const DEFAULT_PAIRS: &[(&str, &str)] = &[
    ("x", "y"),
    ("X", "y"),
    ("x_train", "y_train"),
    ("X_train", "y_train"),
    ("x_test", "y_test"),
    ("X_test", "y_test"),
];

/// An opened `.npz`: the member names, and bounded reads of single arrays.
pub struct Npz<'a> {
    archive: zip::ZipArchive<Cursor<&'a [u8]>>,
    limits: Limits,
}

impl std::fmt::Debug for Npz<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Npz")
            .field("names", &self.names())
            .finish_non_exhaustive()
    }
}

impl<'a> Npz<'a> {
    /// Opens the archive held in `bytes`.
    pub fn new(bytes: &'a [u8], limits: &Limits) -> Result<Self> {
        let archive =
            zip::ZipArchive::new(Cursor::new(bytes)).map_err(|source| Error::Zip { source })?;
        Limits::check(
            "number of .npz members",
            archive.len() as u64,
            limits.max_members,
        )?;
        Ok(Npz {
            archive,
            limits: limits.clone(),
        })
    }

    /// The array names (members ending in `.npy`, without the suffix), in archive order.
    #[must_use]
    pub fn names(&self) -> Vec<String> {
        self.archive
            .file_names()
            .filter_map(|n| n.ok()?.strip_suffix(".npy").map(str::to_owned))
            .collect()
    }

    /// Reads array `name` (member `name.npy`).
    pub fn array(&mut self, name: &str) -> Result<Array> {
        let member = format!("{name}.npy");
        let mut entry = match self.archive.by_name(&member) {
            Ok(e) => e,
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(Error::inconsistent(format!(
                    "no array `{name}` in the .npz"
                )));
            }
            Err(source) => return Err(Error::Zip { source }),
        };
        let limit = self.limits.max_file_bytes;
        if entry.size() > limit {
            return Err(Error::TooLarge {
                what: ".npz member",
                limit,
            });
        }
        let mut bytes = Vec::new();
        (&mut entry)
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::Zip { source: e.into() })?;
        if bytes.len() as u64 > limit {
            return Err(Error::TooLarge {
                what: ".npz member",
                limit,
            });
        }
        parse_npy(&bytes, &self.limits)
    }
}

/// A [`Dataset`] from `.npz` bytes (see [`NpzOptions`] for which arrays).
pub fn parse_npz(bytes: &[u8], opts: &NpzOptions, limits: &Limits) -> Result<Dataset> {
    let mut npz = Npz::new(bytes, limits)?;
    let names = npz.names();
    let has = |n: &str| names.iter().any(|m| m == n);
    let (x, y) = match (&opts.x, &opts.y) {
        (Some(x), Some(y)) => (x.clone(), y.clone()),
        (Some(x), None) => {
            let y = DEFAULT_PAIRS
                .iter()
                .find(|(a, _)| a == x)
                .map_or("y", |(_, b)| b);
            (x.clone(), y.to_owned())
        }
        (None, y) => {
            let (a, b) = DEFAULT_PAIRS
                .iter()
                .find(|(a, b)| has(a) && (y.is_some() || has(b)))
                .ok_or_else(|| {
                    Error::inconsistent(format!(
                        "no feature/label arrays found (tried x/y, X/y, x_train/y_train, x_test/y_test); the .npz holds: {}",
                        names.join(", ")
                    ))
                })?;
            (
                (*a).to_owned(),
                y.clone().unwrap_or_else(|| (*b).to_owned()),
            )
        }
    };
    let xa = npz.array(&x)?;
    let ya = npz.array(&y)?;
    dataset_from_arrays(&xa, &ya, limits)
}

/// Loads a data set from an `.npz` file.
pub fn load_npz(path: &Path, opts: &NpzOptions, limits: &Limits) -> Result<Dataset> {
    let bytes = read_file(path, limits)?;
    parse_npz(&bytes, opts, limits).map_err(|e| e.in_file(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npy::{encode_npy_f32, encode_npy_i64};
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    fn npz(members: &[(&str, Vec<u8>)], deflate: bool) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let method = if deflate {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        for (name, data) in members {
            w.start_file(
                *name,
                SimpleFileOptions::default().compression_method(method),
            )
            .unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn default_and_named_arrays() {
        let x = encode_npy_f32(&[2, 3], &[0., 1., 2., 3., 4., 5.]).unwrap();
        let y = encode_npy_i64(&[2], &[1, 0]).unwrap();
        for deflate in [false, true] {
            let bytes = npz(&[("x.npy", x.clone()), ("y.npy", y.clone())], deflate);
            let d = parse_npz(&bytes, &NpzOptions::default(), &Limits::default()).unwrap();
            assert_eq!(d.sample_shape(), &[3]);
            assert_eq!(d.y(), &[1, 0]);
        }
        let bytes = npz(
            &[
                ("x_train.npy", x.clone()),
                ("y_train.npy", y.clone()),
                (
                    "x_test.npy",
                    encode_npy_f32(&[1, 3], &[9., 9., 9.]).unwrap(),
                ),
                ("y_test.npy", encode_npy_i64(&[1], &[2]).unwrap()),
            ],
            true,
        );
        let d = parse_npz(&bytes, &NpzOptions::default(), &Limits::default()).unwrap();
        assert_eq!(d.len(), 2, "x_train/y_train first");
        let opts = NpzOptions {
            x: Some("x_test".into()),
            y: None,
        };
        let d = parse_npz(&bytes, &opts, &Limits::default()).unwrap();
        assert_eq!(d.y(), &[2]);
        assert_eq!(d.num_classes(), 3);
        let opts = NpzOptions {
            x: Some("nope".into()),
            y: None,
        };
        assert!(parse_npz(&bytes, &opts, &Limits::default()).is_err());
        let e = parse_npz(
            &npz(&[("a.npy", x)], false),
            &NpzOptions::default(),
            &Limits::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("holds: a"), "{e}");
    }

    #[test]
    fn hostile_archives_are_errors() {
        let l = Limits::default();
        assert!(parse_npz(b"", &NpzOptions::default(), &l).is_err());
        assert!(parse_npz(b"PK\x05\x06", &NpzOptions::default(), &l).is_err());
        // A member whose inflated size is over the limit.
        let x = encode_npy_f32(&[1 << 16], &vec![0.0; 1 << 16]).unwrap();
        let y = encode_npy_i64(&[1 << 16], &vec![0; 1 << 16]).unwrap();
        let bytes = npz(&[("x.npy", x), ("y.npy", y)], true);
        let small = Limits {
            max_file_bytes: 100_000,
            ..Limits::default()
        };
        let e = parse_npz(&bytes, &NpzOptions::default(), &small).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Limit, "{e}");
        // Too many members.
        let many: Vec<(String, Vec<u8>)> = (0..10).map(|i| (format!("{i}.npy"), vec![])).collect();
        let refs: Vec<(&str, Vec<u8>)> =
            many.iter().map(|(n, d)| (n.as_str(), d.clone())).collect();
        let few = Limits {
            max_members: 5,
            ..Limits::default()
        };
        let e = parse_npz(&npz(&refs, false), &NpzOptions::default(), &few).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Limit, "{e}");
        // Truncated archive.
        let good = npz(
            &[("x.npy", encode_npy_f32(&[1, 1], &[1.0]).unwrap())],
            false,
        );
        assert!(parse_npz(&good[..good.len() - 10], &NpzOptions::default(), &l).is_err());
    }
}
