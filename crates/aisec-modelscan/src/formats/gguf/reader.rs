//! A bounded cursor over GGUF's primitives, in the byte order and count width of the file's
//! version. Nothing here allocates: strings come back as slices of the input.

use thiserror::Error;

/// Why a read stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub(crate) enum ReadError {
    /// The bytes ran out: `need` bytes were wanted at `at`, `left` were there.
    #[error("the file ends at offset {at}: a {what} needs {need} bytes, {left} are left")]
    Eof {
        /// Where the read started.
        at: usize,
        /// What was being read.
        what: &'static str,
        /// Bytes wanted (saturated at `u64::MAX` when the figure overflows).
        need: u64,
        /// Bytes left in the file.
        left: usize,
    },
}

/// Reads GGUF primitives from `data`, advancing `pos`.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    /// Offset of the next read.
    pub pos: usize,
    /// Big-endian file (GGUF written on or for big-endian hosts).
    big: bool,
    /// Version 1 files use 32-bit counts, lengths and dimensions; later versions 64-bit.
    narrow: bool,
}

impl<'a> Cursor<'a> {
    /// A cursor at `pos`.
    pub(crate) fn new(data: &'a [u8], pos: usize, big: bool, narrow: bool) -> Self {
        Self {
            data,
            pos,
            big,
            narrow,
        }
    }

    /// Bytes left after `pos`.
    pub(crate) fn left(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    /// True for a big-endian file.
    pub(crate) fn big(&self) -> bool {
        self.big
    }

    /// Width in bytes of a count, length or dimension in this version.
    pub(crate) fn width(&self) -> u64 {
        if self.narrow { 4 } else { 8 }
    }

    /// Takes `n` bytes.
    pub(crate) fn take(&mut self, n: u64, what: &'static str) -> Result<&'a [u8], ReadError> {
        let eof = ReadError::Eof {
            at: self.pos,
            what,
            need: n,
            left: self.left(),
        };
        let n = usize::try_from(n).map_err(|_| eof)?;
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or(eof)?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], ReadError> {
        let s = self.take(N as u64, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// A `u32` in the file's byte order.
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, ReadError> {
        let a = self.array::<4>(what)?;
        Ok(if self.big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }

    /// A `u64` in the file's byte order.
    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, ReadError> {
        let a = self.array::<8>(what)?;
        Ok(if self.big {
            u64::from_be_bytes(a)
        } else {
            u64::from_le_bytes(a)
        })
    }

    /// A count, length or dimension: `u32` in version 1, `u64` after.
    pub(crate) fn count(&mut self, what: &'static str) -> Result<u64, ReadError> {
        if self.narrow {
            self.u32(what).map(u64::from)
        } else {
            self.u64(what)
        }
    }

    /// A scalar of `size` bytes (1, 2, 4 or 8) as an unsigned value in the file's byte order.
    pub(crate) fn scalar(&mut self, size: u64, what: &'static str) -> Result<u64, ReadError> {
        let s = self.take(size, what)?;
        let mut v: u64 = 0;
        if self.big {
            for &b in s {
                v = (v << 8) | u64::from(b);
            }
        } else {
            for &b in s.iter().rev() {
                v = (v << 8) | u64::from(b);
            }
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_byte_orders_and_widths() {
        let d = [1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0];
        let mut le = Cursor::new(&d, 0, false, false);
        assert_eq!(le.u32("x"), Ok(1));
        assert_eq!(le.count("x"), Ok(2));
        assert_eq!(le.left(), 0);
        let mut be = Cursor::new(&d, 0, true, true);
        assert_eq!(be.u32("x"), Ok(0x0100_0000));
        assert_eq!(be.count("x"), Ok(0x0200_0000));
        assert_eq!(be.scalar(2, "x"), Ok(0));
        let mut c = Cursor::new(&d, 0, false, false);
        assert_eq!(c.scalar(2, "x"), Ok(1));
    }

    #[test]
    fn overruns_are_errors_not_panics() {
        let d = [0u8; 3];
        let mut c = Cursor::new(&d, 0, false, false);
        assert!(matches!(
            c.u32("n"),
            Err(ReadError::Eof {
                need: 4,
                left: 3,
                ..
            })
        ));
        assert!(c.take(u64::MAX, "s").is_err());
        let mut c = Cursor::new(&d, 2, false, false);
        assert!(c.take(2, "s").is_err());
        assert_eq!(c.take(1, "s").map(<[u8]>::len), Ok(1));
        let mut c = Cursor::new(&d, 10, false, false);
        assert_eq!(c.left(), 0);
        assert!(c.take(0, "s").is_err());
    }
}
