//! IDX files (the MNIST distribution format): `0x00 0x00 <type> <rank>`, `rank` big-endian `u32`
//! dimensions, then the elements big-endian. Gzipped files (`*.gz`) are inflated within the limit.

use std::path::Path;

use crate::array::{Array, DType, dataset_from_arrays};
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::read::{maybe_gunzip, read_file};

const FORMAT: &str = "IDX";

/// Parses IDX bytes (gzip accepted). The data must be exactly what the header declares.
pub fn parse_idx(bytes: &[u8], limits: &Limits) -> Result<Array> {
    let bytes = maybe_gunzip(bytes, limits)?;
    let bytes = &*bytes;
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(Error::malformed(FORMAT, "no 00 00 magic"));
    }
    let dtype = match bytes[2] {
        0x08 => DType::U8,
        0x09 => DType::I8,
        0x0B => DType::I16,
        0x0C => DType::I32,
        0x0D => DType::F32,
        0x0E => DType::F64,
        t => return Err(Error::malformed(FORMAT, format!("element type 0x{t:02x}"))),
    };
    let rank = usize::from(bytes[3]);
    if rank == 0 {
        return Err(Error::malformed(FORMAT, "rank 0"));
    }
    Limits::check("array rank", rank as u64, limits.max_dims as u64)?;
    let dims_end = 4 + 4 * rank;
    let dims = bytes
        .get(4..dims_end)
        .ok_or_else(|| Error::malformed(FORMAT, "truncated dimensions"))?;
    let shape: Vec<usize> = dims
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let count = limits.elements(&shape)?;
    let data = &bytes[dims_end..];
    if Some(data.len()) != count.checked_mul(dtype.size()) {
        return Err(Error::malformed(
            FORMAT,
            format!(
                "dimensions {shape:?} need {} data bytes, the file holds {}",
                count.saturating_mul(dtype.size()),
                data.len()
            ),
        ));
    }
    Array::decode(FORMAT, dtype, true, shape, data)
}

/// Reads an IDX file.
pub fn read_idx(path: &Path, limits: &Limits) -> Result<Array> {
    let bytes = read_file(path, limits)?;
    parse_idx(&bytes, limits).map_err(|e| e.in_file(path))
}

/// A [`Dataset`] from IDX image and label bytes (MNIST's `*-images-idx3-ubyte` and
/// `*-labels-idx1-ubyte`). A rank-3 image file (`[n, rows, columns]`) gives samples of shape
/// `[1, rows, columns]` (one channel); other ranks keep their dimensions. Pixel values are kept as
/// stored (0..255 for MNIST): scale with [`Dataset::scale`].
pub fn parse_idx_pair(images: &[u8], labels: &[u8], limits: &Limits) -> Result<Dataset> {
    let mut x = parse_idx(images, limits)?;
    let y = parse_idx(labels, limits)?;
    if let [n, h, w] = x.shape[..] {
        x.shape = vec![n, 1, h, w];
    }
    dataset_from_arrays(&x, &y, limits)
}

/// [`parse_idx_pair`] over two files.
pub fn load_idx(images: &Path, labels: &Path, limits: &Limits) -> Result<Dataset> {
    let x = read_file(images, limits)?;
    let y = read_file(labels, limits)?;
    parse_idx_pair(&x, &y, limits).map_err(|e| e.in_file(images))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::Data;
    use crate::error::ErrorKind;

    fn idx(t: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, t, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn images_and_labels_make_a_dataset() {
        let images = idx(
            0x08,
            &[2, 2, 3],
            &[0, 1, 2, 3, 4, 5, 255, 254, 253, 252, 251, 250],
        );
        let labels = idx(0x08, &[2], &[7, 3]);
        let d = parse_idx_pair(&images, &labels, &Limits::default()).unwrap();
        assert_eq!(d.sample_shape(), &[1, 2, 3]);
        assert_eq!(d.y(), &[7, 3]);
        assert_eq!(d.num_classes(), 8);
        assert_eq!(d.sample(1).unwrap()[0], 255.0);
    }

    #[test]
    fn every_element_type_is_big_endian() {
        let a = parse_idx(
            &idx(0x0B, &[2], &[0xff, 0xfe, 0x01, 0x00]),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(a.data, Data::I16(vec![-2, 256]));
        let a = parse_idx(&idx(0x0C, &[1], &(-5i32).to_be_bytes()), &Limits::default()).unwrap();
        assert_eq!(a.data, Data::I32(vec![-5]));
        let a = parse_idx(&idx(0x0D, &[1], &1.25f32.to_be_bytes()), &Limits::default()).unwrap();
        assert_eq!(a.data, Data::F32(vec![1.25]));
        let a = parse_idx(
            &idx(0x0E, &[1], &(-0.5f64).to_be_bytes()),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(a.data, Data::F64(vec![-0.5]));
        let a = parse_idx(&idx(0x09, &[1], &[0x80]), &Limits::default()).unwrap();
        assert_eq!(a.data, Data::I8(vec![-128]));
    }

    #[test]
    fn hostile_files_are_errors() {
        let l = Limits::default();
        for (bytes, kind) in [
            (vec![], ErrorKind::Malformed),
            (vec![1, 0, 8, 1, 0, 0, 0, 0], ErrorKind::Malformed),
            (idx(0x07, &[1], &[0]), ErrorKind::Malformed),
            (vec![0, 0, 8, 0], ErrorKind::Malformed),
            (vec![0, 0, 8, 200], ErrorKind::Limit),
            (vec![0, 0, 8, 3, 0, 0], ErrorKind::Malformed),
            (
                idx(0x08, &[u32::MAX, u32::MAX, u32::MAX], &[]),
                ErrorKind::Limit,
            ),
            (idx(0x0E, &[60_000, 28, 28], &[0; 16]), ErrorKind::Malformed),
            (idx(0x08, &[3], &[1, 2]), ErrorKind::Malformed),
            (idx(0x08, &[3], &[1, 2, 3, 4]), ErrorKind::Malformed),
        ] {
            let e = parse_idx(&bytes, &l).unwrap_err();
            assert_eq!(e.kind(), kind, "{bytes:?}: {e}");
        }
        // Labels that do not match the images.
        let images = idx(0x08, &[2, 1, 1], &[0, 1]);
        assert!(parse_idx_pair(&images, &idx(0x08, &[3], &[0, 1, 2]), &l).is_err());
        assert!(
            parse_idx_pair(&images, &idx(0x0D, &[2], &[0x3f, 0, 0, 1, 0, 0, 0, 0]), &l).is_err()
        );
    }
}
