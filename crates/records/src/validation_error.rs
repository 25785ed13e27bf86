//! Errors of produce-path validation and their Kafka error codes.
//!
//! Mapping (Kafka 4.x broker behaviour):
//! - truncated or undecodable bytes, CRC mismatch: `CORRUPT_MESSAGE` (2)
//! - batch over `max.message.bytes`: `MESSAGE_TOO_LARGE` (10); a batch whose records decompress
//!   past the broker's cap gets the same code, so Java producers split the batch and retry
//! - magic other than 2: `INVALID_RECORD` (87), as Kafka's `ProduceRequest.validateRecords`
//!   throws `InvalidRecordException` for it (produce v3+, the only versions Kafka 4 accepts)
//! - unknown compression codec: `UNSUPPORTED_COMPRESSION_TYPE` (76)
//! - record framing, offsets, counts, control batches, missing keys: `INVALID_RECORD` (87)
//! - record timestamps out of range: `INVALID_TIMESTAMP` (32)
//!
//! Like Kafka (KIP-467), record-level problems carry the index of each bad record inside its
//! batch ([`RecordError`]) for the produce response's `record_errors`, and a message for its
//! `error_message`.

use std::fmt;

pub const CORRUPT_MESSAGE: i16 = 2;
pub const MESSAGE_TOO_LARGE: i16 = 10;
pub const INVALID_TIMESTAMP: i16 = 32;
pub const UNSUPPORTED_COMPRESSION_TYPE: i16 = 76;
pub const INVALID_RECORD: i16 = 87;

/// One rejected record (Kafka's `ProduceResponse.RecordError`, KIP-467).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Index of the record inside its batch (the wire field `batch_index`).
    pub batch_index: i32,
    pub message: String,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RecordError(batchIndex={}, message='{}')",
            self.batch_index, self.message
        )
    }
}

/// Why a produce request's records were rejected. `batch` is the ordinal of the offending batch
/// in the request's `records` field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("produce request must have at least one record batch per partition")]
    NoBatches,
    #[error("record batch {batch} is corrupt: {reason}")]
    CorruptMessage { batch: usize, reason: String },
    #[error(
        "the record batch size is {size} bytes which exceeds the maximum configured value of {max}"
    )]
    MessageTooLarge {
        batch: usize,
        size: usize,
        max: usize,
    },
    #[error("record batch {batch} decompresses to more than {limit} bytes")]
    DecompressedTooLarge { batch: usize, limit: usize },
    #[error("record batch {batch} has magic {magic}; only record batches with magic version 2 are allowed")]
    UnsupportedMagic { batch: usize, magic: i8 },
    #[error("record batch {batch} uses unknown compression type id {codec}")]
    UnsupportedCompression { batch: usize, codec: i16 },
    #[error("record batch {batch}: {reason}")]
    InvalidRecord {
        batch: usize,
        reason: String,
        record_errors: Vec<RecordError>,
    },
    #[error(
        "record batch {batch}: one or more records have been rejected due to invalid timestamp"
    )]
    InvalidTimestamp {
        batch: usize,
        record_errors: Vec<RecordError>,
    },
}

impl ValidationError {
    /// Kafka's numeric error code for the produce response partition.
    pub fn kafka_error_code(&self) -> i16 {
        match self {
            Self::CorruptMessage { .. } => CORRUPT_MESSAGE,
            Self::MessageTooLarge { .. } | Self::DecompressedTooLarge { .. } => MESSAGE_TOO_LARGE,
            Self::UnsupportedCompression { .. } => UNSUPPORTED_COMPRESSION_TYPE,
            Self::InvalidTimestamp { .. } => INVALID_TIMESTAMP,
            Self::NoBatches | Self::UnsupportedMagic { .. } | Self::InvalidRecord { .. } => {
                INVALID_RECORD
            }
        }
    }

    /// The produce response's `error_message`.
    pub fn error_message(&self) -> String {
        self.to_string()
    }

    /// The produce response's `record_errors` (empty when no single record is to blame).
    pub fn record_errors(&self) -> &[RecordError] {
        match self {
            Self::InvalidRecord { record_errors, .. }
            | Self::InvalidTimestamp { record_errors, .. } => record_errors,
            _ => &[],
        }
    }

    /// Ordinal of the offending batch in the request, when one is to blame.
    pub fn batch(&self) -> Option<usize> {
        match self {
            Self::NoBatches => None,
            Self::CorruptMessage { batch, .. }
            | Self::MessageTooLarge { batch, .. }
            | Self::DecompressedTooLarge { batch, .. }
            | Self::UnsupportedMagic { batch, .. }
            | Self::UnsupportedCompression { batch, .. }
            | Self::InvalidRecord { batch, .. }
            | Self::InvalidTimestamp { batch, .. } => Some(*batch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_kafka() {
        let record_errors = vec![RecordError {
            batch_index: 3,
            message: "bad".into(),
        }];
        let cases = [
            (ValidationError::NoBatches, 87),
            (
                ValidationError::CorruptMessage {
                    batch: 0,
                    reason: "x".into(),
                },
                2,
            ),
            (
                ValidationError::MessageTooLarge {
                    batch: 0,
                    size: 2,
                    max: 1,
                },
                10,
            ),
            (
                ValidationError::DecompressedTooLarge { batch: 0, limit: 1 },
                10,
            ),
            (ValidationError::UnsupportedMagic { batch: 0, magic: 1 }, 87),
            (
                ValidationError::UnsupportedCompression { batch: 0, codec: 5 },
                76,
            ),
            (
                ValidationError::InvalidRecord {
                    batch: 0,
                    reason: "x".into(),
                    record_errors: record_errors.clone(),
                },
                87,
            ),
            (
                ValidationError::InvalidTimestamp {
                    batch: 1,
                    record_errors: record_errors.clone(),
                },
                32,
            ),
        ];
        for (error, code) in cases {
            assert_eq!(error.kafka_error_code(), code, "{error}");
            assert!(!error.error_message().is_empty());
        }
        let ts = ValidationError::InvalidTimestamp {
            batch: 1,
            record_errors,
        };
        assert_eq!(ts.record_errors()[0].batch_index, 3);
        assert_eq!(ts.batch(), Some(1));
        assert_eq!(ValidationError::NoBatches.record_errors(), &[]);
    }
}
