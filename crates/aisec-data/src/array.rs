//! [`Array`]: an n-dimensional array as read from `.npy`, `.npz` or IDX, before it becomes a
//! [`Dataset`]; and the rules for turning an `x` and a `y` array into one.

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::limits::Limits;

/// Element type of an [`Array`] as stored in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    /// `bool` (read into [`Data::U8`] as 0 or 1).
    Bool,
    /// `uint8`.
    U8,
    /// `int8`.
    I8,
    /// `uint16`.
    U16,
    /// `int16`.
    I16,
    /// `uint32`.
    U32,
    /// `int32`.
    I32,
    /// `uint64`.
    U64,
    /// `int64`.
    I64,
    /// `float32`.
    F32,
    /// `float64`.
    F64,
}

impl DType {
    /// Bytes per element.
    #[must_use]
    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::U8 | DType::I8 => 1,
            DType::U16 | DType::I16 => 2,
            DType::U32 | DType::I32 | DType::F32 => 4,
            DType::U64 | DType::I64 | DType::F64 => 8,
        }
    }
}

/// The elements of an [`Array`], in row-major order, in their stored type.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // one variant per element type, named after it
pub enum Data {
    U8(Vec<u8>),
    I8(Vec<i8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    U32(Vec<u32>),
    I32(Vec<i32>),
    U64(Vec<u64>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// An n-dimensional array (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// Dimensions; empty for a scalar.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` elements.
    pub data: Data,
}

fn decode<T, const N: usize>(
    bytes: &[u8],
    big_endian: bool,
    le: fn([u8; N]) -> T,
    be: fn([u8; N]) -> T,
) -> Vec<T> {
    bytes
        .chunks_exact(N)
        .map(|c| {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            if big_endian { be(a) } else { le(a) }
        })
        .collect()
}

impl Array {
    /// Decodes `bytes` (exactly `shape` × element size of them) as elements of `dtype`.
    pub(crate) fn decode(
        format: &'static str,
        dtype: DType,
        big_endian: bool,
        shape: Vec<usize>,
        bytes: &[u8],
    ) -> Result<Array> {
        // A zero dimension makes the array empty however large the others are (and their product
        // may overflow): see fuzz/regressions/idx-overflow-zero-dim.bin.
        let count = if shape.contains(&0) {
            Some(0)
        } else {
            shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
        };
        let Some(count) = count else {
            return Err(Error::malformed(
                format,
                format!("shape {shape:?} overflows"),
            ));
        };
        if Some(bytes.len()) != count.checked_mul(dtype.size()) {
            return Err(Error::malformed(
                format,
                format!(
                    "{} data bytes for {count} elements of {} bytes",
                    bytes.len(),
                    dtype.size()
                ),
            ));
        }
        let data = match dtype {
            DType::Bool => {
                if let Some(b) = bytes.iter().find(|&&b| b > 1) {
                    return Err(Error::malformed(format, format!("boolean byte {b}")));
                }
                Data::U8(bytes.to_vec())
            }
            DType::U8 => Data::U8(bytes.to_vec()),
            DType::I8 => Data::I8(bytes.iter().map(|&b| b as i8).collect()),
            DType::U16 => Data::U16(decode(
                bytes,
                big_endian,
                u16::from_le_bytes,
                u16::from_be_bytes,
            )),
            DType::I16 => Data::I16(decode(
                bytes,
                big_endian,
                i16::from_le_bytes,
                i16::from_be_bytes,
            )),
            DType::U32 => Data::U32(decode(
                bytes,
                big_endian,
                u32::from_le_bytes,
                u32::from_be_bytes,
            )),
            DType::I32 => Data::I32(decode(
                bytes,
                big_endian,
                i32::from_le_bytes,
                i32::from_be_bytes,
            )),
            DType::U64 => Data::U64(decode(
                bytes,
                big_endian,
                u64::from_le_bytes,
                u64::from_be_bytes,
            )),
            DType::I64 => Data::I64(decode(
                bytes,
                big_endian,
                i64::from_le_bytes,
                i64::from_be_bytes,
            )),
            DType::F32 => Data::F32(decode(
                bytes,
                big_endian,
                f32::from_le_bytes,
                f32::from_be_bytes,
            )),
            DType::F64 => Data::F64(decode(
                bytes,
                big_endian,
                f64::from_le_bytes,
                f64::from_be_bytes,
            )),
        };
        Ok(Array { shape, data })
    }

    /// Number of elements.
    #[must_use]
    pub fn len(&self) -> usize {
        match &self.data {
            Data::U8(v) => v.len(),
            Data::I8(v) => v.len(),
            Data::U16(v) => v.len(),
            Data::I16(v) => v.len(),
            Data::U32(v) => v.len(),
            Data::I32(v) => v.len(),
            Data::U64(v) => v.len(),
            Data::I64(v) => v.len(),
            Data::F32(v) => v.len(),
            Data::F64(v) => v.len(),
        }
    }

    /// Whether the array has no elements.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements as `f32` (64-bit values are rounded to the nearest `f32`).
    #[must_use]
    pub fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            Data::U8(v) => v.iter().map(|&a| f32::from(a)).collect(),
            Data::I8(v) => v.iter().map(|&a| f32::from(a)).collect(),
            Data::U16(v) => v.iter().map(|&a| f32::from(a)).collect(),
            Data::I16(v) => v.iter().map(|&a| f32::from(a)).collect(),
            Data::U32(v) => v.iter().map(|&a| a as f32).collect(),
            Data::I32(v) => v.iter().map(|&a| a as f32).collect(),
            Data::U64(v) => v.iter().map(|&a| a as f32).collect(),
            Data::I64(v) => v.iter().map(|&a| a as f32).collect(),
            Data::F32(v) => v.clone(),
            Data::F64(v) => v.iter().map(|&a| a as f32).collect(),
        }
    }

    /// The elements as class indices: integers (or integral floats) in `0..=u32::MAX`.
    pub fn to_labels(&self) -> Result<Vec<u32>> {
        fn int<T: Copy + TryInto<u32> + std::fmt::Display>(v: &[T]) -> Result<Vec<u32>> {
            v.iter()
                .map(|&a| {
                    a.try_into()
                        .map_err(|_| Error::inconsistent(format!("label {a} is not a class index")))
                })
                .collect()
        }
        fn float(v: impl Iterator<Item = f64>) -> Result<Vec<u32>> {
            v.map(|a| {
                if a.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&a) {
                    Ok(a as u32)
                } else {
                    Err(Error::inconsistent(format!(
                        "label {a} is not a class index"
                    )))
                }
            })
            .collect()
        }
        match &self.data {
            Data::U8(v) => Ok(v.iter().map(|&a| u32::from(a)).collect()),
            Data::I8(v) => int(v),
            Data::U16(v) => Ok(v.iter().map(|&a| u32::from(a)).collect()),
            Data::I16(v) => int(v),
            Data::U32(v) => Ok(v.clone()),
            Data::I32(v) => int(v),
            Data::U64(v) => int(v),
            Data::I64(v) => int(v),
            Data::F32(v) => float(v.iter().map(|&a| f64::from(a))),
            Data::F64(v) => float(v.iter().copied()),
        }
    }
}

/// A [`Dataset`] from a feature array `x` (first dimension: samples) and a label array `y`.
///
/// - `x` of shape `[n, d1, d2, ...]` gives samples of shape `[d1, d2, ...]`; `[n]` gives `[1]`.
/// - `y` is `[n]` or `[n, 1]` of class indices (`num_classes` = largest + 1), or `[n, k]` one-hot
///   rows (`num_classes` = k; every row exactly one 1, the rest 0).
/// - Values are converted to `f32` as they are: scale with [`Dataset::scale`] if needed.
pub fn dataset_from_arrays(x: &Array, y: &Array, limits: &Limits) -> Result<Dataset> {
    let Some((&n, rest)) = x.shape.split_first() else {
        return Err(Error::inconsistent(
            "x is a scalar; expected samples along its first dimension",
        ));
    };
    Limits::check("number of samples", n as u64, limits.max_rows)?;
    Limits::check("number of elements", x.len() as u64, limits.max_elements)?;
    let sample_shape = if rest.is_empty() {
        vec![1]
    } else {
        rest.to_vec()
    };
    let (labels, num_classes) = match y.shape.as_slice() {
        [m] | [m, 1] if *m == n => {
            let labels = y.to_labels()?;
            let max = labels.iter().copied().max().map_or(0, u64::from);
            (labels, max + 1)
        }
        // One-hot rows hold exact 0s and 1s: anything else is not one-hot.
        #[allow(clippy::float_cmp)]
        [m, k] if *m == n && *k > 1 => {
            let v = y.to_f32();
            let mut labels = Vec::with_capacity(n);
            for (i, row) in v.chunks_exact(*k).enumerate() {
                let ones: Vec<usize> = row
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| **a == 1.0)
                    .map(|(j, _)| j)
                    .collect();
                if ones.len() != 1 || row.iter().any(|a| *a != 0.0 && *a != 1.0) {
                    return Err(Error::inconsistent(format!("label row {i} is not one-hot")));
                }
                labels.push(ones[0] as u32);
            }
            (labels, *k as u64)
        }
        other => {
            return Err(Error::inconsistent(format!(
                "x has {n} samples but y has shape {other:?} (expected [{n}], [{n}, 1] or one-hot [{n}, classes])"
            )));
        }
    };
    Limits::check("number of classes", num_classes, limits.max_classes)?;
    Dataset::new(x.to_f32(), sample_shape, labels, num_classes as usize, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arr(shape: Vec<usize>, data: Data) -> Array {
        Array { shape, data }
    }

    #[test]
    fn decodes_both_byte_orders() {
        let a = Array::decode("t", DType::I16, true, vec![2], &[0xff, 0xfe, 0x01, 0x00]).unwrap();
        assert_eq!(a.data, Data::I16(vec![-2, 256]));
        let a = Array::decode("t", DType::F32, false, vec![1], &1.5f32.to_le_bytes()).unwrap();
        assert_eq!(a.to_f32(), vec![1.5]);
        assert!(Array::decode("t", DType::F32, false, vec![2], &[0; 7]).is_err());
        assert!(Array::decode("t", DType::Bool, false, vec![2], &[1, 2]).is_err());
        // Found by fuzzing (idx): huge dimensions next to a zero one.
        let a = Array::decode("t", DType::U8, false, vec![1 << 40, 1 << 40, 0], &[]).unwrap();
        assert!(a.is_empty());
        assert!(Array::decode("t", DType::U8, false, vec![1 << 40, 1 << 40], &[]).is_err());
    }

    #[test]
    fn labels_must_be_class_indices() {
        assert_eq!(
            arr(vec![2], Data::I64(vec![0, 3])).to_labels().unwrap(),
            vec![0, 3]
        );
        assert_eq!(
            arr(vec![2], Data::F64(vec![1.0, 2.0])).to_labels().unwrap(),
            vec![1, 2]
        );
        for bad in [
            arr(vec![1], Data::I64(vec![-1])),
            arr(vec![1], Data::U64(vec![1 << 40])),
            arr(vec![1], Data::F32(vec![0.5])),
            arr(vec![1], Data::F64(vec![f64::NAN])),
        ] {
            assert!(bad.to_labels().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn arrays_become_datasets() {
        let x = arr(vec![3, 2, 2], Data::U8((0..12).collect()));
        let y = arr(vec![3], Data::I64(vec![0, 2, 1]));
        let d = dataset_from_arrays(&x, &y, &Limits::default()).unwrap();
        assert_eq!(d.sample_shape(), &[2, 2]);
        assert_eq!(d.num_classes(), 3);
        assert_eq!(d.sample(2).unwrap(), &[8.0, 9.0, 10.0, 11.0]);
        let onehot = arr(
            vec![3, 4],
            Data::F32(vec![0., 1., 0., 0., 1., 0., 0., 0., 0., 0., 0., 1.]),
        );
        let d = dataset_from_arrays(&x, &onehot, &Limits::default()).unwrap();
        assert_eq!(d.y(), &[1, 0, 3]);
        assert_eq!(d.num_classes(), 4);
        let not_onehot = arr(vec![3, 2], Data::F32(vec![0.5, 0.5, 1., 0., 0., 1.]));
        assert!(dataset_from_arrays(&x, &not_onehot, &Limits::default()).is_err());
        let short = arr(vec![2], Data::I64(vec![0, 1]));
        assert!(dataset_from_arrays(&x, &short, &Limits::default()).is_err());
        let huge_label = arr(vec![3], Data::U32(vec![0, 0, u32::MAX]));
        let e = dataset_from_arrays(&x, &huge_label, &Limits::default()).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Limit, "{e}");
        let scalar = arr(vec![], Data::F32(vec![1.0]));
        assert!(dataset_from_arrays(&scalar, &y, &Limits::default()).is_err());
        let flat = arr(vec![3], Data::F32(vec![1.0, 2.0, 3.0]));
        assert_eq!(
            dataset_from_arrays(&flat, &y, &Limits::default())
                .unwrap()
                .sample_shape(),
            &[1]
        );
    }
}
