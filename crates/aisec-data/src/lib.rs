//! Bounded loaders for labelled data sets, into one in-memory [`Dataset`].
//!
//! Formats: the built-in sets ([`BuiltIn`]: `digits`, `breast-cancer`, `wine`, from the files
//! `aisec-resolve` fetches), numeric CSV ([`parse_csv`]), NumPy `.npy` ([`parse_npy`]) and `.npz`
//! ([`parse_npz`]), IDX ([`parse_idx`], MNIST's format) and PNG folders ([`load_image_folder`]).
//! Every loader bounds what it reads by [`Limits`] (file and decompressed sizes, rows, elements,
//! classes, ranks, header sizes, archive members, image pixels) before allocating, and returns a
//! typed [`Error`] on bad input; none of them panics or evaluates anything from the file.
//!
//! This crate has no ML engine in it, so the loaders build and fuzz quickly; `aisec-ml` turns a
//! [`Dataset`] into tensors.
//!
//! ```
//! use aisec_data::{CsvOptions, Limits, parse_csv};
//! let d = parse_csv(b"0.1,0.2,1\n0.3,0.4,0\n", &CsvOptions::default(), &Limits::default())?;
//! let split = d.split(0.5, 0)?; // seeded shuffle, last half is the test part
//! assert_eq!((split.train.len(), split.test.len()), (1, 1));
//! # Ok::<(), aisec_data::Error>(())
//! ```

// Tests compare exact values (pixels / 16, stored floats), which is what they mean to check.
#![cfg_attr(test, allow(clippy::float_cmp))]

mod array;
mod builtin;
mod csv;
mod dataset;
mod error;
mod idx;
mod images;
mod limits;
mod npy;
mod npz;
mod read;
mod rng;

pub use array::{Array, DType, Data, dataset_from_arrays};
pub use builtin::{BuiltIn, parse_digits, parse_sklearn_csv};
pub use csv::{CsvOptions, LabelColumn, load_csv, parse_csv};
pub use dataset::{Dataset, Split, Standardizer, permutation, split_indices};
pub use error::{Error, ErrorKind, Result};
pub use idx::{load_idx, parse_idx, parse_idx_pair, read_idx};
pub use images::{Image, decode_png, load_image_folder, load_png_files};
pub use limits::Limits;
pub use npy::{encode_npy_f32, encode_npy_i64, parse_npy, read_npy, write_npy_f32, write_npy_i64};
pub use npz::{DEFAULT_PAIRS, Npz, NpzOptions, load_npz, parse_npz};
pub use rng::SplitMix64;

/// Entry points for the fuzz targets in `fuzz/` (not a stable API): each runs one loader over
/// arbitrary bytes with [`Limits::small`].
#[doc(hidden)]
pub mod fuzzing {
    use crate::{CsvOptions, LabelColumn, Limits, NpzOptions};

    /// `.npy`, then the array's conversions.
    pub fn npy(data: &[u8]) {
        if let Ok(a) = crate::parse_npy(data, &Limits::small()) {
            let _ = a.to_f32();
            let _ = a.to_labels();
        }
    }

    /// `.npz`: the archive, its member list, the default x/y pair.
    pub fn npz(data: &[u8]) {
        let _ = crate::parse_npz(data, &NpzOptions::default(), &Limits::small());
    }

    /// IDX alone, and the first half as images with the second half as labels.
    pub fn idx(data: &[u8]) {
        let l = Limits::small();
        let _ = crate::parse_idx(data, &l);
        let (a, b) = data.split_at(data.len() / 2);
        let _ = crate::parse_idx_pair(a, b, &l);
    }

    /// CSV with options picked by the first byte, and the digits and scikit-learn readers.
    pub fn csv(data: &[u8]) {
        let Some((&sel, rest)) = data.split_first() else {
            return;
        };
        let l = Limits::small();
        let opts = CsvOptions {
            delimiter: [b',', b';', b'\t', b' '][usize::from(sel & 3)],
            header: sel & 4 != 0,
            label: match (sel >> 3) & 3 {
                0 => LabelColumn::Last,
                1 => LabelColumn::First,
                2 => LabelColumn::Index(usize::from(sel >> 5)),
                _ => LabelColumn::Name("label".into()),
            },
        };
        if let Ok(d) = crate::parse_csv(rest, &opts, &l) {
            let _ = d.split(0.25, u64::from(sel));
        }
        let _ = crate::parse_digits(rest, &l);
        let _ = crate::parse_sklearn_csv(rest, "fuzz", None, &l);
    }
}
