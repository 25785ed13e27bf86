//! A bounds-checked reader over untrusted bytes.
//!
//! Every read returns `None` instead of panicking when the input is too short, so parsers built on
//! it cannot index out of bounds. Varint reads report the [`VarintError`] to tell truncation from
//! overflow.

use crate::varint::{decode_varint, decode_varlong, VarintError};

/// A forward-only position in a byte slice.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// The bytes not read yet, without consuming them.
    pub(crate) fn as_slice(&self) -> &'a [u8] {
        self.rest
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Takes the next `len` bytes.
    pub(crate) fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if len > self.rest.len() {
            return None;
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Some(head)
    }

    pub(crate) fn read_i8(&mut self) -> Option<i8> {
        let (&first, tail) = self.rest.split_first()?;
        self.rest = tail;
        Some(first as i8)
    }

    pub(crate) fn read_varint(&mut self) -> Result<i32, VarintError> {
        let (value, used) = decode_varint(self.rest)?;
        self.rest = self.rest.get(used..).ok_or(VarintError::Truncated)?;
        Ok(value)
    }

    pub(crate) fn read_varlong(&mut self) -> Result<i64, VarintError> {
        let (value, used) = decode_varlong(self.rest)?;
        self.rest = self.rest.get(used..).ok_or(VarintError::Truncated)?;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_end() {
        let mut cursor = Cursor::new(&[1, 0, 0, 0, 2, 0x04]);
        assert_eq!(cursor.read_i8(), Some(1));
        assert_eq!(cursor.take(4), Some(&[0, 0, 0, 2][..]));
        assert_eq!(cursor.read_varint(), Ok(2));
        assert!(cursor.is_empty());
        assert_eq!(cursor.read_i8(), None);
        assert_eq!(cursor.take(1), None);
        assert_eq!(cursor.take(0), Some(&[][..]));
        assert_eq!(cursor.read_varlong(), Err(VarintError::Truncated));
    }

    #[test]
    fn short_take_leaves_cursor_unchanged() {
        let mut cursor = Cursor::new(&[1, 2, 3]);
        assert_eq!(cursor.take(4), None);
        assert_eq!(cursor.remaining(), 3);
    }
}
