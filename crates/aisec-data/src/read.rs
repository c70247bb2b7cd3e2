//! Bounded reading: whole files up to `max_file_bytes`, and gzip streams inflated up to the same
//! bound (a 1 KiB gzip bomb stops at the limit, it never fills memory).

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};
use crate::limits::Limits;

/// The bytes of a regular file, refused when larger than `max_file_bytes`.
pub(crate) fn read_file(path: &Path, limits: &Limits) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("reading metadata of", path, e))?;
    if !meta.is_file() {
        return Err(Error::io(
            "reading",
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
        ));
    }
    if meta.len() > limits.max_file_bytes {
        return Err(Error::TooLarge {
            what: "file",
            limit: limits.max_file_bytes,
        }
        .in_file(path));
    }
    let f = std::fs::File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let mut out = Vec::with_capacity(meta.len() as usize);
    f.take(limits.max_file_bytes + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::io("reading", path, e))?;
    if out.len() as u64 > limits.max_file_bytes {
        return Err(Error::TooLarge {
            what: "file",
            limit: limits.max_file_bytes,
        }
        .in_file(path));
    }
    Ok(out)
}

/// `bytes` inflated if they start with the gzip magic, else as they are.
pub(crate) fn maybe_gunzip<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Cow<'a, [u8]>> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(limits.max_file_bytes + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::malformed("gzip", e.to_string()))?;
    if out.len() as u64 > limits.max_file_bytes {
        return Err(Error::TooLarge {
            what: "decompressed gzip stream",
            limit: limits.max_file_bytes,
        });
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_is_inflated_within_the_limit() {
        let l = Limits::default();
        assert_eq!(&*maybe_gunzip(&gz(b"1,2\n"), &l).unwrap(), b"1,2\n");
        assert_eq!(&*maybe_gunzip(b"plain", &l).unwrap(), b"plain");
        let bomb = gz(&vec![0u8; 1 << 20]);
        assert!(bomb.len() < 2048);
        let small = Limits {
            max_file_bytes: 1000,
            ..Limits::default()
        };
        let e = maybe_gunzip(&bomb, &small).unwrap_err();
        assert!(matches!(e, Error::TooLarge { limit: 1000, .. }), "{e}");
        let mut broken = gz(b"hello world");
        broken.truncate(broken.len() - 6);
        assert!(maybe_gunzip(&broken, &l).is_err());
    }

    #[test]
    fn files_over_the_limit_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, [0u8; 100]).unwrap();
        let small = Limits {
            max_file_bytes: 99,
            ..Limits::default()
        };
        assert_eq!(
            read_file(&p, &small).unwrap_err().kind(),
            crate::ErrorKind::Limit
        );
        assert_eq!(read_file(&p, &Limits::default()).unwrap().len(), 100);
        assert_eq!(
            read_file(dir.path(), &Limits::default())
                .unwrap_err()
                .kind(),
            crate::ErrorKind::Io
        );
    }
}
