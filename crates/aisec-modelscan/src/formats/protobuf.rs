//! A bounded reader of the protocol-buffers wire format, schema-less: callers walk the fields they
//! know. Nothing here allocates in proportion to the input; callers bound their own recursion.

use thiserror::Error;

/// Why bytes are not a well-formed protobuf message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum ProtoError {
    /// A varint ran past the end or past ten bytes.
    #[error("malformed varint at offset {0}")]
    Varint(usize),
    /// A length-delimited field or fixed field ran past the end of its message.
    #[error("field at offset {0} runs past the end of its message")]
    Truncated(usize),
    /// Wire type 3/4 (groups, deprecated) or 6/7 (undefined).
    #[error("unsupported wire type {1} at offset {0}")]
    WireType(usize, u8),
    /// Field number 0 or above the protobuf maximum.
    #[error("invalid field number at offset {0}")]
    FieldNumber(usize),
}

/// A field's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 2: strings, bytes, sub-messages, packed repeated scalars.
    Bytes(&'a [u8]),
    /// Wire type 5.
    Fixed32(u32),
}

/// One field of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field<'a> {
    /// The field number.
    pub number: u32,
    /// The payload.
    pub value: Value<'a>,
    /// Offset of the field's tag, relative to the start of the reader's buffer plus its base.
    pub offset: usize,
}

impl<'a> Field<'a> {
    /// The payload of a length-delimited field.
    pub(crate) fn bytes(&self) -> Option<&'a [u8]> {
        match self.value {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// A length-delimited field as UTF-8 text (lossy for invalid sequences).
    pub(crate) fn string(&self) -> Option<std::borrow::Cow<'a, str>> {
        self.bytes().map(String::from_utf8_lossy)
    }

    /// A varint payload.
    pub(crate) fn varint(&self) -> Option<u64> {
        match self.value {
            Value::Varint(v) => Some(v),
            _ => None,
        }
    }
}

/// Iterates the fields of one message. Stops (returning the error once) at the first malformed field.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
    failed: bool,
}

impl<'a> Reader<'a> {
    /// Reads `buf`, a message that starts at absolute offset `base` in the file.
    pub(crate) fn new(buf: &'a [u8], base: usize) -> Self {
        Self {
            buf,
            pos: 0,
            base,
            failed: false,
        }
    }

    fn varint(&mut self) -> Result<u64, ProtoError> {
        let start = self.pos;
        let mut v: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(ProtoError::Varint(self.base + start));
            };
            self.pos += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(ProtoError::Varint(self.base + start))
    }

    fn take(&mut self, n: u64, at: usize) -> Result<&'a [u8], ProtoError> {
        let n = usize::try_from(n).map_err(|_| ProtoError::Truncated(self.base + at))?;
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(ProtoError::Truncated(self.base + at))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn next_field(&mut self) -> Result<Field<'a>, ProtoError> {
        let at = self.pos;
        let key = self.varint()?;
        let wire = (key & 7) as u8;
        let number = key >> 3;
        if number == 0 || number > (1 << 29) - 1 {
            return Err(ProtoError::FieldNumber(self.base + at));
        }
        let value = match wire {
            0 => Value::Varint(self.varint()?),
            1 => {
                let b = self.take(8, at)?;
                Value::Fixed64(u64::from_le_bytes(b.try_into().unwrap_or_default()))
            }
            2 => {
                let n = self.varint()?;
                Value::Bytes(self.take(n, at)?)
            }
            5 => {
                let b = self.take(4, at)?;
                Value::Fixed32(u32::from_le_bytes(b.try_into().unwrap_or_default()))
            }
            w => return Err(ProtoError::WireType(self.base + at, w)),
        };
        Ok(Field {
            number: number as u32,
            value,
            offset: self.base + at,
        })
    }

    /// Absolute offset of `payload` (a slice of this reader's buffer) in the file.
    pub(crate) fn offset_of(&self, payload: &[u8]) -> usize {
        self.base + (payload.as_ptr() as usize).saturating_sub(self.buf.as_ptr() as usize)
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Field<'a>, ProtoError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let r = self.next_field();
        if r.is_err() {
            self.failed = true;
        }
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_scalars_strings_and_submessages() {
        // 1: varint 150, 2: "hi", 3: { 1: 1 }, 4: fixed32 7, 5: fixed64 9
        let msg = [
            0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x1a, 0x02, 0x08, 0x01, 0x25, 7, 0, 0, 0,
            0x29, 9, 0, 0, 0, 0, 0, 0, 0,
        ];
        let fields: Vec<_> = Reader::new(&msg, 100).collect::<Result<_, _>>().unwrap();
        assert_eq!(fields.len(), 5);
        assert_eq!(fields[0].varint(), Some(150));
        assert_eq!(fields[1].string().as_deref(), Some("hi"));
        let r = Reader::new(&msg, 100);
        let sub = fields[2].bytes().unwrap();
        assert_eq!(r.offset_of(sub), 109);
        let inner: Vec<_> = Reader::new(sub, 109).collect::<Result<_, _>>().unwrap();
        assert_eq!(inner[0].varint(), Some(1));
        assert_eq!(inner[0].offset, 109);
        assert_eq!(fields[3].value, Value::Fixed32(7));
        assert_eq!(fields[4].value, Value::Fixed64(9));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in [
            &[0x12, 0x05, b'a'][..],
            &[0x08][..],
            &[0x0b][..],
            &[0x00, 0x01][..],
            &[0xff; 12][..],
            &[
                0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ][..],
        ] {
            let r: Result<Vec<_>, _> = Reader::new(bad, 0).collect();
            assert!(r.is_err(), "{bad:?}");
        }
    }
}
