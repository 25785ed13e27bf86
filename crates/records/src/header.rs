//! The fixed-size header of a v2 record batch, read without touching the records.
//!
//! Layout (big endian), offsets in bytes:
//! `base_offset i64 @0`, `batch_length i32 @8`, `partition_leader_epoch i32 @12`, `magic i8 @16`,
//! `crc u32 @17` (CRC-32C of everything from `attributes` to the end), `attributes i16 @21`,
//! `last_offset_delta i32 @23`, `base_timestamp i64 @27`, `max_timestamp i64 @35`,
//! `producer_id i64 @43`, `producer_epoch i16 @51`, `base_sequence i32 @53`, `records_count i32 @57`.

/// Bytes before `batch_length` counts: base offset and the length field itself.
pub const LOG_OVERHEAD: usize = 12;
/// Size of the full v2 batch header, up to and including the record count.
pub const BATCH_HEADER_LEN: usize = 61;

pub const OFFSET_BASE_OFFSET: usize = 0;
pub const OFFSET_BATCH_LENGTH: usize = 8;
pub const OFFSET_PARTITION_LEADER_EPOCH: usize = 12;
pub const OFFSET_MAGIC: usize = 16;
pub const OFFSET_CRC: usize = 17;
pub const OFFSET_ATTRIBUTES: usize = 21;
pub const OFFSET_LAST_OFFSET_DELTA: usize = 23;
pub const OFFSET_BASE_TIMESTAMP: usize = 27;
pub const OFFSET_MAX_TIMESTAMP: usize = 35;
pub const OFFSET_PRODUCER_ID: usize = 43;
pub const OFFSET_PRODUCER_EPOCH: usize = 51;
pub const OFFSET_BASE_SEQUENCE: usize = 53;
pub const OFFSET_RECORDS_COUNT: usize = 57;

/// Attribute bits of a v2 batch.
pub const ATTR_COMPRESSION_MASK: i16 = 0x07;
pub const ATTR_TIMESTAMP_TYPE_LOG_APPEND: i16 = 0x08;
pub const ATTR_TRANSACTIONAL: i16 = 0x10;
pub const ATTR_CONTROL: i16 = 0x20;
/// KIP-534 (Kafka's `DELETE_HORIZON_FLAG_MASK`): set by the log cleaner on a batch holding
/// tombstones or an end-transaction marker it may later remove. The base timestamp field then
/// holds the delete horizon (ms); record timestamp deltas stay relative to it, so record
/// timestamps are still `base_timestamp + delta` (deltas may be negative).
pub const ATTR_DELETE_HORIZON: i16 = 0x40;

/// Why a header could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("batch header needs {BATCH_HEADER_LEN} bytes, found {0}")]
    Truncated(usize),
    #[error("unsupported record batch magic {0}")]
    UnsupportedMagic(i8),
    #[error("batch length {0} is smaller than a batch header")]
    LengthTooSmall(i32),
}

/// The decoded fixed header of one record batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(a)
}
fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}

impl BatchHeader {
    /// Reads the header at the start of `bytes`. Checks only what is needed to trust the header's
    /// own fields (length and magic); the CRC and the records are checked by validation.
    #[allow(clippy::indexing_slicing)]
    pub fn parse(bytes: &[u8]) -> Result<Self, HeaderError> {
        if bytes.len() < BATCH_HEADER_LEN {
            return Err(HeaderError::Truncated(bytes.len()));
        }
        let magic = bytes[OFFSET_MAGIC] as i8;
        if magic != 2 {
            return Err(HeaderError::UnsupportedMagic(magic));
        }
        let batch_length = be_i32(bytes, OFFSET_BATCH_LENGTH);
        if (batch_length as i64) < (BATCH_HEADER_LEN - LOG_OVERHEAD) as i64 {
            return Err(HeaderError::LengthTooSmall(batch_length));
        }
        Ok(Self {
            base_offset: be_i64(bytes, OFFSET_BASE_OFFSET),
            batch_length,
            partition_leader_epoch: be_i32(bytes, OFFSET_PARTITION_LEADER_EPOCH),
            magic,
            crc: u32::from_be_bytes([
                bytes[OFFSET_CRC],
                bytes[OFFSET_CRC + 1],
                bytes[OFFSET_CRC + 2],
                bytes[OFFSET_CRC + 3],
            ]),
            attributes: be_i16(bytes, OFFSET_ATTRIBUTES),
            last_offset_delta: be_i32(bytes, OFFSET_LAST_OFFSET_DELTA),
            base_timestamp: be_i64(bytes, OFFSET_BASE_TIMESTAMP),
            max_timestamp: be_i64(bytes, OFFSET_MAX_TIMESTAMP),
            producer_id: be_i64(bytes, OFFSET_PRODUCER_ID),
            producer_epoch: be_i16(bytes, OFFSET_PRODUCER_EPOCH),
            base_sequence: be_i32(bytes, OFFSET_BASE_SEQUENCE),
            records_count: be_i32(bytes, OFFSET_RECORDS_COUNT),
        })
    }

    /// Total size of the batch in bytes, header included.
    pub fn total_len(&self) -> usize {
        LOG_OVERHEAD + self.batch_length as usize
    }

    /// Offset of the last record in the batch.
    pub fn last_offset(&self) -> i64 {
        self.base_offset + self.last_offset_delta as i64
    }

    /// Offset following the batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }

    pub fn compression_codec(&self) -> i16 {
        self.attributes & ATTR_COMPRESSION_MASK
    }

    pub fn is_log_append_time(&self) -> bool {
        self.attributes & ATTR_TIMESTAMP_TYPE_LOG_APPEND != 0
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }

    /// The delete horizon the log cleaner stored in the base timestamp (Kafka's
    /// `deleteHorizonMs()`), if the [`ATTR_DELETE_HORIZON`] bit is set.
    pub fn delete_horizon_ms(&self) -> Option<i64> {
        (self.attributes & ATTR_DELETE_HORIZON != 0).then_some(self.base_timestamp)
    }
}

/// Reads only `base_offset` and `batch_length`: enough to walk a log from batch to batch.
pub fn peek_offset_and_len(bytes: &[u8]) -> Option<(i64, i32)> {
    if bytes.len() < LOG_OVERHEAD {
        return None;
    }
    Some((be_i64(bytes, 0), be_i32(bytes, OFFSET_BATCH_LENGTH)))
}

/// Rewrites the base offset of the batch at the start of `bytes` (not covered by the CRC).
pub fn set_base_offset(bytes: &mut [u8], base_offset: i64) {
    if let Some(slot) = bytes.get_mut(OFFSET_BASE_OFFSET..OFFSET_BASE_OFFSET + 8) {
        slot.copy_from_slice(&base_offset.to_be_bytes());
    }
}

/// Rewrites the partition leader epoch (not covered by the CRC).
pub fn set_partition_leader_epoch(bytes: &mut [u8], epoch: i32) {
    if let Some(slot) =
        bytes.get_mut(OFFSET_PARTITION_LEADER_EPOCH..OFFSET_PARTITION_LEADER_EPOCH + 4)
    {
        slot.copy_from_slice(&epoch.to_be_bytes());
    }
}

/// CRC-32C over `attributes..end` of the batch, as stored in the `crc` field.
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(batch.get(OFFSET_ATTRIBUTES..).unwrap_or(&[]))
}
