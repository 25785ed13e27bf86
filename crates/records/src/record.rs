//! Records inside an (uncompressed or already decompressed) records section of a v2 batch.
//!
//! Each record is `length varint`, then `length` bytes of: `attributes i8`,
//! `timestampDelta varlong`, `offsetDelta varint`, `keyLength varint` (-1 = null), `key`,
//! `valueLength varint` (-1 = null), `value`, `headersCount varint`, and per header
//! `keyLength varint` (never null), `key`, `valueLength varint` (-1 = null), `value`.
//!
//! [`RecordIter`] borrows everything from the section: a record costs no allocation, and its
//! headers are checked when the record is read but decoded lazily by [`Headers::iter`].

use crate::cursor::Cursor;
use crate::header::BatchHeader;
use crate::varint::VarintError;

/// Why a record could not be read. Kafka reports these as `INVALID_RECORD`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordFormatError {
    #[error("record {field} is truncated")]
    Truncated { field: &'static str },
    #[error("record {field}: {source}")]
    Varint {
        field: &'static str,
        source: VarintError,
    },
    #[error("record {field} has invalid length {length}")]
    InvalidLength { field: &'static str, length: i32 },
    #[error("invalid record size: expected to read {declared} bytes in record payload, but instead read {read}")]
    SizeMismatch { declared: usize, read: usize },
    #[error("found invalid number of record headers {0}")]
    InvalidHeaderCount(i32),
}

/// One record, borrowing its key, value and headers from the records section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// Record-level attributes (unused by Kafka so far, always 0).
    pub attributes: i8,
    pub timestamp_delta: i64,
    pub offset_delta: i32,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: Headers<'a>,
    /// Bytes the record takes in the section, its length varint included.
    pub size_in_bytes: usize,
}

impl Record<'_> {
    /// The record's offset in a batch starting at `base_offset`.
    pub fn offset(&self, base_offset: i64) -> i64 {
        base_offset.wrapping_add(i64::from(self.offset_delta))
    }

    /// The record's timestamp as Kafka reports it: the batch max timestamp for `LogAppendTime`
    /// batches, else `base_timestamp + timestamp_delta`.
    pub fn timestamp(&self, batch: &BatchHeader) -> i64 {
        if batch.is_log_append_time() {
            batch.max_timestamp
        } else {
            batch.base_timestamp.wrapping_add(self.timestamp_delta)
        }
    }
}

/// The headers of one record, checked when the record was read and decoded on iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Headers<'a> {
    raw: &'a [u8],
    count: usize,
}

/// One record header. Kafka header keys are UTF-8 strings; [`Header::key_str`] checks that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub key: &'a [u8],
    pub value: Option<&'a [u8]>,
}

impl<'a> Header<'a> {
    /// The key as UTF-8, if it is valid UTF-8.
    pub fn key_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.key).ok()
    }
}

impl<'a> Headers<'a> {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn iter(&self) -> HeaderIter<'a> {
        HeaderIter {
            cursor: Cursor::new(self.raw),
            left: self.count,
        }
    }

    /// The headers as `(key, value)` pairs.
    pub fn to_vec(&self) -> Vec<(&'a [u8], Option<&'a [u8]>)> {
        self.iter().map(|h| (h.key, h.value)).collect()
    }
}

impl<'a> IntoIterator for Headers<'a> {
    type Item = Header<'a>;
    type IntoIter = HeaderIter<'a>;
    fn into_iter(self) -> HeaderIter<'a> {
        self.iter()
    }
}

/// Iterator over [`Headers`].
#[derive(Debug, Clone)]
pub struct HeaderIter<'a> {
    cursor: Cursor<'a>,
    left: usize,
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = Header<'a>;
    fn next(&mut self) -> Option<Header<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // Checked when the record was read, so this cannot fail; stop quietly if it does.
        let header = read_header(&mut self.cursor).ok();
        if header.is_none() {
            self.left = 0;
        }
        header
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

fn varint(cursor: &mut Cursor<'_>, field: &'static str) -> Result<i32, RecordFormatError> {
    cursor
        .read_varint()
        .map_err(|source| RecordFormatError::Varint { field, source })
}

/// Reads `length varint` + bytes; a length of -1 is null, other negative lengths are errors.
fn nullable_bytes<'a>(
    cursor: &mut Cursor<'a>,
    field: &'static str,
) -> Result<Option<&'a [u8]>, RecordFormatError> {
    let length = varint(cursor, field)?;
    if length == -1 {
        return Ok(None);
    }
    let len =
        usize::try_from(length).map_err(|_| RecordFormatError::InvalidLength { field, length })?;
    cursor
        .take(len)
        .map(Some)
        .ok_or(RecordFormatError::Truncated { field })
}

fn read_header<'a>(cursor: &mut Cursor<'a>) -> Result<Header<'a>, RecordFormatError> {
    let field = "header key";
    let length = varint(cursor, field)?;
    let len =
        usize::try_from(length).map_err(|_| RecordFormatError::InvalidLength { field, length })?;
    let key = cursor
        .take(len)
        .ok_or(RecordFormatError::Truncated { field })?;
    let value = nullable_bytes(cursor, "header value")?;
    Ok(Header { key, value })
}

/// Reads one record at the cursor.
fn read_record<'a>(cursor: &mut Cursor<'a>) -> Result<Record<'a>, RecordFormatError> {
    let before = cursor.remaining();
    let length = varint(cursor, "length")?;
    let declared = usize::try_from(length).map_err(|_| RecordFormatError::InvalidLength {
        field: "length",
        length,
    })?;
    let body = cursor
        .take(declared)
        .ok_or(RecordFormatError::Truncated { field: "body" })?;
    let size_in_bytes = before - cursor.remaining();

    let mut body = Cursor::new(body);
    let attributes = body.read_i8().ok_or(RecordFormatError::Truncated {
        field: "attributes",
    })?;
    let timestamp_delta = body
        .read_varlong()
        .map_err(|source| RecordFormatError::Varint {
            field: "timestamp delta",
            source,
        })?;
    let offset_delta = varint(&mut body, "offset delta")?;
    let key = nullable_bytes(&mut body, "key")?;
    let value = nullable_bytes(&mut body, "value")?;
    let header_count = varint(&mut body, "header count")?;
    let count = usize::try_from(header_count)
        .map_err(|_| RecordFormatError::InvalidHeaderCount(header_count))?;
    let headers_start = body.as_slice();
    // Each header consumes at least two bytes or fails, so a huge count cannot spin for long.
    for _ in 0..count {
        read_header(&mut body)?;
    }
    let raw = headers_start
        .get(..headers_start.len() - body.remaining())
        .unwrap_or_default();
    if !body.is_empty() {
        return Err(RecordFormatError::SizeMismatch {
            declared,
            read: declared - body.remaining(),
        });
    }
    Ok(Record {
        attributes,
        timestamp_delta,
        offset_delta,
        key,
        value,
        headers: Headers { raw, count },
        size_in_bytes,
    })
}

/// Iterator over the records of a records section. Yields each record or the first framing error,
/// then stops.
#[derive(Debug, Clone)]
pub struct RecordIter<'a> {
    cursor: Cursor<'a>,
    failed: bool,
}

impl<'a> RecordIter<'a> {
    /// Iterates the records in `section` (the bytes after the batch header, decompressed).
    pub fn new(section: &'a [u8]) -> Self {
        Self {
            cursor: Cursor::new(section),
            failed: false,
        }
    }

    /// Bytes of the section not read yet.
    pub fn remaining(&self) -> usize {
        self.cursor.remaining()
    }
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = Result<Record<'a>, RecordFormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.cursor.is_empty() {
            return None;
        }
        let record = read_record(&mut self.cursor);
        self.failed = record.is_err();
        Some(record)
    }
}

impl std::iter::FusedIterator for RecordIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::varint::{encode_varint, encode_varlong};

    /// Encodes one record by hand, independently of the batch builder.
    fn encode(
        ts_delta: i64,
        offset_delta: i32,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&[u8], Option<&[u8]>)],
    ) -> Vec<u8> {
        let mut body = vec![0u8];
        encode_varlong(ts_delta, &mut body);
        encode_varint(offset_delta, &mut body);
        for field in [key, value] {
            match field {
                None => encode_varint(-1, &mut body),
                Some(b) => {
                    encode_varint(b.len() as i32, &mut body);
                    body.extend_from_slice(b);
                }
            }
        }
        encode_varint(headers.len() as i32, &mut body);
        for (k, v) in headers {
            encode_varint(k.len() as i32, &mut body);
            body.extend_from_slice(k);
            match v {
                None => encode_varint(-1, &mut body),
                Some(b) => {
                    encode_varint(b.len() as i32, &mut body);
                    body.extend_from_slice(b);
                }
            }
        }
        let mut out = Vec::new();
        encode_varint(body.len() as i32, &mut out);
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn reads_records_with_nulls_and_headers() {
        let mut section = encode(0, 0, None, Some(b"v0"), &[]);
        section.extend(encode(
            5,
            1,
            Some(b"k1"),
            None,
            &[(b"h1", Some(b"x")), (b"h2", None)],
        ));
        let records: Vec<_> = RecordIter::new(&section).collect::<Result<_, _>>().unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].key, None);
        assert_eq!(records[0].value, Some(&b"v0"[..]));
        assert!(records[0].headers.is_empty());
        assert_eq!(records[1].timestamp_delta, 5);
        assert_eq!(records[1].offset_delta, 1);
        assert_eq!(records[1].key, Some(&b"k1"[..]));
        assert_eq!(records[1].value, None);
        assert_eq!(
            records[1].headers.to_vec(),
            vec![(&b"h1"[..], Some(&b"x"[..])), (&b"h2"[..], None)]
        );
        assert_eq!(
            records[1].headers.iter().next().unwrap().key_str(),
            Some("h1")
        );
        assert_eq!(
            records[0].size_in_bytes + records[1].size_in_bytes,
            section.len()
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        let section = encode(1, 0, Some(b"key"), Some(b"value"), &[(b"h", Some(b"v"))]);
        for cut in 1..section.len() {
            let mut iter = RecordIter::new(&section[..cut]);
            assert!(iter.next().unwrap().is_err(), "cut at {cut}");
            assert!(iter.next().is_none());
        }
    }

    #[test]
    fn bad_lengths_are_errors() {
        // Record length says more bytes than the fields use.
        let mut section = encode(0, 0, None, None, &[]);
        section[0] += 4; // zigzag: +2 on the decoded length
        section.extend([0, 0]);
        assert_eq!(
            RecordIter::new(&section).next(),
            Some(Err(RecordFormatError::SizeMismatch {
                declared: 8,
                read: 6
            }))
        );
        // Key length -2.
        let mut body = vec![0u8, 0, 0];
        encode_varint(-2, &mut body);
        let mut section = Vec::new();
        encode_varint(body.len() as i32, &mut section);
        section.extend(&body);
        assert_eq!(
            RecordIter::new(&section).next(),
            Some(Err(RecordFormatError::InvalidLength {
                field: "key",
                length: -2
            }))
        );
        // Negative header count.
        let mut body = vec![0u8, 0, 0, 1, 1];
        encode_varint(-1, &mut body);
        let mut section = Vec::new();
        encode_varint(body.len() as i32, &mut section);
        section.extend(&body);
        assert_eq!(
            RecordIter::new(&section).next(),
            Some(Err(RecordFormatError::InvalidHeaderCount(-1)))
        );
    }

    #[test]
    fn huge_header_count_fails_fast() {
        let mut body = vec![0u8, 0, 0, 1, 1];
        encode_varint(i32::MAX, &mut body);
        let mut section = Vec::new();
        encode_varint(body.len() as i32, &mut section);
        section.extend(&body);
        assert!(matches!(
            RecordIter::new(&section).next(),
            Some(Err(RecordFormatError::Varint { .. }))
        ));
    }
}
