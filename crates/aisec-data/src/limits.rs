//! Every bound the loaders apply, in one place. Each is checked before the allocation it guards.

use crate::error::{Error, Result};

/// Bounds on what a loader accepts. The defaults fit data sets of a few GiB on a workstation;
/// tighten them for untrusted input in a service, loosen them for a large local set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest file read, and largest decompressed stream (gzip, a `.npz` member).
    pub max_file_bytes: u64,
    /// Largest number of feature values in a data set (and of elements in one array).
    pub max_elements: u64,
    /// Largest number of samples (CSV rows, array rows, images).
    pub max_rows: u64,
    /// Largest number of CSV columns.
    pub max_columns: u64,
    /// Largest number of classes.
    pub max_classes: u64,
    /// Largest array rank (`.npy`, IDX).
    pub max_dims: usize,
    /// Largest `.npy` header.
    pub max_header_bytes: u64,
    /// Largest number of members in a `.npz` archive.
    pub max_members: u64,
    /// Largest number of pixels (width × height) in one image.
    pub max_image_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 4 << 30,
            max_elements: 1 << 30,
            max_rows: 50_000_000,
            max_columns: 1_000_000,
            max_classes: 100_000,
            max_dims: 8,
            max_header_bytes: 64 << 10,
            max_members: 4096,
            max_image_pixels: 64 << 20,
        }
    }
}

impl Limits {
    /// Small bounds for fuzzing and for input from strangers: 16 MiB files, 4 Mi elements.
    #[must_use]
    pub fn small() -> Self {
        Limits {
            max_file_bytes: 16 << 20,
            max_elements: 4 << 20,
            max_rows: 1 << 20,
            max_columns: 1 << 16,
            max_classes: 1 << 12,
            max_dims: 8,
            max_header_bytes: 4 << 10,
            max_members: 64,
            max_image_pixels: 1 << 22,
        }
    }

    /// `Ok` if `value <= limit`, else an [`Error::Limit`] naming `what`.
    pub(crate) fn check(what: &'static str, value: u64, limit: u64) -> Result<()> {
        if value > limit {
            Err(Error::Limit { what, value, limit })
        } else {
            Ok(())
        }
    }

    /// Product of `dims`, checked for overflow and against `max_elements`.
    pub(crate) fn elements(&self, dims: &[usize]) -> Result<usize> {
        Self::check("array rank", dims.len() as u64, self.max_dims as u64)?;
        let mut n: u64 = 1;
        for &d in dims {
            n = n.saturating_mul(d as u64);
        }
        Self::check("number of elements", n, self.max_elements)?;
        usize::try_from(n).map_err(|_| Error::Limit {
            what: "number of elements",
            value: n,
            limit: usize::MAX as u64,
        })
    }
}
