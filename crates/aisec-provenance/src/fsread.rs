//! The one way this crate reads a whole small file it was pointed at (a signature, a key, a trust
//! root, a model card): regular files only, and never more than a bound.

use std::io::Read;
use std::path::Path;

/// Reads a whole regular file of at most `max` bytes. Anything else (a pipe, whose opening blocks
/// until a writer comes; a device such as `/dev/zero`) is refused before it is opened; a longer
/// file is an error of kind [`std::io::ErrorKind::FileTooLarge`], never a truncation.
pub(crate) fn read_regular(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut buf = Vec::new();
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("larger than the {max}-byte limit"),
        ));
    }
    Ok(buf)
}
