//! A view of one complete record batch: its header, raw bytes and (decompressed) records.
//!
//! [`RecordBatch::parse`] checks only that the whole batch is present; CRC and record checks are
//! left to the caller (see [`crate::validate`]), so stored batches can be read without paying for
//! them again.

use std::borrow::Cow;

use crate::compression::{decompress, Compression, CompressionError};
use crate::header::{
    compute_crc, peek_offset_and_len, BatchHeader, HeaderError, BATCH_HEADER_LEN, LOG_OVERHEAD,
};
use crate::record::RecordIter;

/// Why a batch could not be viewed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Header(#[from] HeaderError),
    #[error("record batch needs {needed} bytes, found {available}")]
    Truncated { needed: usize, available: usize },
    #[error(transparent)]
    Compression(#[from] CompressionError),
}

/// One complete v2 batch inside a larger buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordBatch<'a> {
    header: BatchHeader,
    bytes: &'a [u8],
}

/// Total size (header included) of the batch starting at `bytes`, from its length field alone.
/// `None` when fewer than [`LOG_OVERHEAD`] bytes are present or the length is negative.
pub fn batch_size(bytes: &[u8]) -> Option<usize> {
    let (_, batch_length) = peek_offset_and_len(bytes)?;
    usize::try_from(batch_length)
        .ok()?
        .checked_add(LOG_OVERHEAD)
}

impl<'a> RecordBatch<'a> {
    /// Views the batch at the start of `bytes` (which may continue with more batches).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, BatchError> {
        let header = BatchHeader::parse(bytes)?;
        // `parse` has checked that the length is at least a header's, so this cannot overflow.
        let needed = header.total_len();
        let bytes = bytes.get(..needed).ok_or(BatchError::Truncated {
            needed,
            available: bytes.len(),
        })?;
        Ok(Self { header, bytes })
    }

    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// The batch's bytes, header included.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn size_in_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the stored CRC matches the bytes.
    pub fn is_crc_valid(&self) -> bool {
        compute_crc(self.bytes) == self.header.crc
    }

    pub fn compression(&self) -> Result<Compression, CompressionError> {
        Compression::from_attributes(self.header.attributes)
    }

    /// The records section as stored (compressed when the batch is).
    pub fn records_section(&self) -> &'a [u8] {
        self.bytes.get(BATCH_HEADER_LEN..).unwrap_or_default()
    }

    /// The records section, decompressed (at most `max_decompressed` bytes) if needed.
    pub fn decompressed_records(
        &self,
        max_decompressed: usize,
    ) -> Result<Cow<'a, [u8]>, CompressionError> {
        match self.compression()? {
            Compression::None => Ok(Cow::Borrowed(self.records_section())),
            codec => decompress(codec, self.records_section(), max_decompressed).map(Cow::Owned),
        }
    }

    /// Iterates the records of an uncompressed batch without copying; `None` if compressed.
    pub fn uncompressed_records(&self) -> Option<RecordIter<'a>> {
        (self.header.compression_codec() == 0).then(|| RecordIter::new(self.records_section()))
    }
}

/// Iterates the complete batches of a buffer (a log segment slice or a fetch response), stopping
/// at the first batch that is truncated or unreadable and reporting it.
pub fn batches(bytes: &[u8]) -> impl Iterator<Item = Result<RecordBatch<'_>, BatchError>> {
    let mut rest = bytes;
    let mut done = false;
    std::iter::from_fn(move || {
        if done || rest.is_empty() {
            return None;
        }
        let batch = RecordBatch::parse(rest);
        match &batch {
            Ok(b) => rest = rest.get(b.size_in_bytes()..).unwrap_or_default(),
            Err(_) => done = true,
        }
        Some(batch)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::RecordBatchBuilder;

    #[test]
    fn parses_consecutive_batches() {
        let mut one = RecordBatchBuilder::new(Compression::None);
        one.append(10, Some(b"k"), Some(b"v"), &[]);
        let mut two = RecordBatchBuilder::new(Compression::Gzip).base_offset(1);
        two.append(11, None, Some(b"w"), &[])
            .append(12, None, None, &[]);
        let mut buf = one.build().unwrap();
        let first_len = buf.len();
        buf.extend(two.build().unwrap());

        let all: Vec<_> = batches(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].size_in_bytes(), first_len);
        assert_eq!(batch_size(&buf), Some(first_len));
        assert!(all.iter().all(|b| b.is_crc_valid()));
        assert_eq!(all[1].header().records_count, 2);
        assert!(all[1].uncompressed_records().is_none());
        let section = all[1].decompressed_records(1 << 20).unwrap();
        assert_eq!(RecordIter::new(&section).count(), 2);
        assert_eq!(all[0].uncompressed_records().unwrap().count(), 1);
    }

    #[test]
    fn truncated_batch_is_reported() {
        let mut b = RecordBatchBuilder::new(Compression::None);
        b.append(10, Some(b"k"), Some(b"v"), &[]);
        let buf = b.build().unwrap();
        let cut = &buf[..buf.len() - 1];
        assert_eq!(
            RecordBatch::parse(cut),
            Err(BatchError::Truncated {
                needed: buf.len(),
                available: buf.len() - 1
            })
        );
        let results: Vec<_> = batches(cut).collect();
        assert_eq!(results.len(), 1);
        assert!(results[0].is_err());
    }
}
