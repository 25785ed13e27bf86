//! Builds v2 record batches, for tests and Strom's own tools (the broker stores client batches
//! as they are).
//!
//! Follows Kafka's `MemoryRecordsBuilder`: offset deltas count up from 0, the base timestamp is
//! the first record's timestamp, the max timestamp is the max over the records, and the producer
//! fields default to "none" (`-1`).

use crate::compression::{compress, Compression, CompressionError};
use crate::header::{
    compute_crc, ATTR_CONTROL, ATTR_TRANSACTIONAL, BATCH_HEADER_LEN, LOG_OVERHEAD, OFFSET_CRC,
};
use crate::timestamp::NO_TIMESTAMP;
use crate::varint::{encode_varint, encode_varlong};

/// Why a batch could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("a record batch needs at least one record")]
    Empty,
    #[error("a record, field or batch is larger than i32::MAX bytes")]
    TooLarge,
    #[error(transparent)]
    Compression(#[from] CompressionError),
}

/// Accumulates records, then writes one batch with [`RecordBatchBuilder::build`].
#[derive(Debug, Clone)]
pub struct RecordBatchBuilder {
    compression: Compression,
    base_offset: i64,
    partition_leader_epoch: i32,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    transactional: bool,
    control: bool,
    base_timestamp: Option<i64>,
    max_timestamp: i64,
    count: i32,
    too_large: bool,
    records: Vec<u8>,
}

impl RecordBatchBuilder {
    pub fn new(compression: Compression) -> Self {
        Self {
            compression,
            base_offset: 0,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            transactional: false,
            control: false,
            base_timestamp: None,
            max_timestamp: NO_TIMESTAMP,
            count: 0,
            too_large: false,
            records: Vec::new(),
        }
    }

    pub fn base_offset(mut self, base_offset: i64) -> Self {
        self.base_offset = base_offset;
        self
    }

    pub fn partition_leader_epoch(mut self, epoch: i32) -> Self {
        self.partition_leader_epoch = epoch;
        self
    }

    /// Marks the batch as written by an idempotent producer.
    pub fn producer(mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
        self
    }

    pub fn transactional(mut self, transactional: bool) -> Self {
        self.transactional = transactional;
        self
    }

    /// Marks the batch as a control batch (brokers only; clients may not send these).
    pub fn control(mut self, control: bool) -> Self {
        self.control = control;
        self
    }

    /// Number of records appended so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends a record with the next offset delta.
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&[u8], Option<&[u8]>)],
    ) -> &mut Self {
        let base_timestamp = *self.base_timestamp.get_or_insert(timestamp);
        self.max_timestamp = self.max_timestamp.max(timestamp);
        let mut body = vec![0u8]; // record attributes
        encode_varlong(timestamp.wrapping_sub(base_timestamp), &mut body);
        encode_varint(self.count, &mut body);
        self.too_large |= !put_nullable(key, &mut body) || !put_nullable(value, &mut body);
        let header_count = i32::try_from(headers.len());
        self.too_large |= header_count.is_err();
        encode_varint(header_count.unwrap_or(0), &mut body);
        for (header_key, header_value) in headers {
            self.too_large |= !put_nullable(Some(header_key), &mut body);
            self.too_large |= !put_nullable(*header_value, &mut body);
        }
        let body_len = i32::try_from(body.len());
        self.too_large |= body_len.is_err();
        encode_varint(body_len.unwrap_or(0), &mut self.records);
        self.records.extend_from_slice(&body);
        self.count = self.count.saturating_add(1);
        self
    }

    /// Writes the batch: header, CRC and (compressed) records.
    pub fn build(&self) -> Result<Vec<u8>, BuildError> {
        if self.count == 0 {
            return Err(BuildError::Empty);
        }
        if self.too_large {
            return Err(BuildError::TooLarge);
        }
        let section = compress(self.compression, &self.records)?;
        let total = BATCH_HEADER_LEN + section.len();
        let batch_length = i32::try_from(total - LOG_OVERHEAD).map_err(|_| BuildError::TooLarge)?;
        let mut attributes = self.compression.id();
        if self.transactional {
            attributes |= ATTR_TRANSACTIONAL;
        }
        if self.control {
            attributes |= ATTR_CONTROL;
        }

        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&self.base_offset.to_be_bytes());
        out.extend_from_slice(&batch_length.to_be_bytes());
        out.extend_from_slice(&self.partition_leader_epoch.to_be_bytes());
        out.push(2); // magic
        out.extend_from_slice(&[0; 4]); // crc, filled below
        out.extend_from_slice(&attributes.to_be_bytes());
        out.extend_from_slice(&(self.count - 1).to_be_bytes());
        out.extend_from_slice(&self.base_timestamp.unwrap_or(NO_TIMESTAMP).to_be_bytes());
        out.extend_from_slice(&self.max_timestamp.to_be_bytes());
        out.extend_from_slice(&self.producer_id.to_be_bytes());
        out.extend_from_slice(&self.producer_epoch.to_be_bytes());
        out.extend_from_slice(&self.base_sequence.to_be_bytes());
        out.extend_from_slice(&self.count.to_be_bytes());
        out.extend_from_slice(&section);

        let crc = compute_crc(&out);
        if let Some(slot) = out.get_mut(OFFSET_CRC..OFFSET_CRC + 4) {
            slot.copy_from_slice(&crc.to_be_bytes());
        }
        Ok(out)
    }
}

/// Writes `length varint` + bytes (-1 for null); false if the length does not fit an i32.
fn put_nullable(bytes: Option<&[u8]>, out: &mut Vec<u8>) -> bool {
    match bytes {
        None => {
            encode_varint(-1, out);
            true
        }
        Some(bytes) => match i32::try_from(bytes.len()) {
            Ok(len) => {
                encode_varint(len, out);
                out.extend_from_slice(bytes);
                true
            }
            Err(_) => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::BatchHeader;

    #[test]
    fn header_fields_follow_the_records() {
        let mut builder = RecordBatchBuilder::new(Compression::Lz4)
            .base_offset(42)
            .producer(7, 1, 100)
            .transactional(true);
        builder
            .append(1_000, Some(b"a"), None, &[])
            .append(3_000, None, Some(b"b"), &[(b"h", None)])
            .append(2_000, None, None, &[]);
        let bytes = builder.build().unwrap();
        let header = BatchHeader::parse(&bytes).unwrap();
        assert_eq!(header.base_offset, 42);
        assert_eq!(header.total_len(), bytes.len());
        assert_eq!(header.last_offset_delta, 2);
        assert_eq!(header.records_count, 3);
        assert_eq!(header.base_timestamp, 1_000);
        assert_eq!(header.max_timestamp, 3_000);
        assert_eq!(
            (
                header.producer_id,
                header.producer_epoch,
                header.base_sequence
            ),
            (7, 1, 100)
        );
        assert!(header.is_transactional());
        assert!(!header.is_control());
        assert_eq!(header.compression_codec(), Compression::Lz4.id());
        assert_eq!(header.partition_leader_epoch, -1);
        assert_eq!(header.crc, compute_crc(&bytes));
    }

    #[test]
    fn empty_builder_is_an_error() {
        assert_eq!(
            RecordBatchBuilder::new(Compression::None).build(),
            Err(BuildError::Empty)
        );
    }
}
