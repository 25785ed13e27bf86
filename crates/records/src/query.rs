//! Timestamp look-ups inside one stored batch, for `ListOffsets`.
//!
//! A record's timestamp is `base_timestamp + timestamp_delta`, except in `LogAppendTime` batches
//! where every record has the batch's max timestamp. The batches were validated on append, but
//! stored bytes are still parsed with checks.

use crate::batch::{BatchError, RecordBatch};
use crate::compression::CompressionError;
use crate::record::{RecordFormatError, RecordIter};

/// A record's offset and timestamp (Kafka's `TimestampAndOffset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetAndTimestamp {
    pub offset: i64,
    pub timestamp: i64,
}

/// Why a stored batch could not be searched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error(transparent)]
    Compression(#[from] CompressionError),
    #[error(transparent)]
    Record(#[from] RecordFormatError),
}

/// Walks the batch's records in order, calling `visit` with each offset and timestamp until it
/// returns `true`; yields the matching record.
fn find_record(
    batch: &[u8],
    max_decompressed: usize,
    mut visit: impl FnMut(OffsetAndTimestamp) -> bool,
) -> Result<Option<OffsetAndTimestamp>, QueryError> {
    let batch = RecordBatch::parse(batch)?;
    let header = batch.header();
    let section = batch.decompressed_records(max_decompressed)?;
    for record in RecordIter::new(&section) {
        let record = record?;
        let found = OffsetAndTimestamp {
            offset: record.offset(header.base_offset),
            timestamp: record.timestamp(header),
        };
        if visit(found) {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// The first record whose timestamp is at or after `target_timestamp`, if any.
///
/// Skips decompression when the batch's max timestamp is below the target (Kafka's
/// `LogSegment.findOffsetByTimestamp` does the same).
pub fn first_record_at_or_after(
    batch: &[u8],
    target_timestamp: i64,
    max_decompressed: usize,
) -> Result<Option<OffsetAndTimestamp>, QueryError> {
    let header = *RecordBatch::parse(batch)?.header();
    if header.max_timestamp < target_timestamp {
        return Ok(None);
    }
    find_record(batch, max_decompressed, |r| r.timestamp >= target_timestamp)
}

/// The first record carrying the batch's max timestamp (`ListOffsets` with `MAX_TIMESTAMP`).
/// If no record matches the header (a batch written without the broker's rewrite), the first
/// record with the highest record timestamp. `None` for a batch without records.
pub fn max_timestamp_record(
    batch: &[u8],
    max_decompressed: usize,
) -> Result<Option<OffsetAndTimestamp>, QueryError> {
    let header_max = RecordBatch::parse(batch)?.header().max_timestamp;
    let mut best: Option<OffsetAndTimestamp> = None;
    let exact = find_record(batch, max_decompressed, |r| {
        if best.is_none_or(|b| r.timestamp > b.timestamp) {
            best = Some(r);
        }
        r.timestamp == header_max
    })?;
    Ok(exact.or(best))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::RecordBatchBuilder;
    use crate::compression::Compression;
    use crate::timestamp::stamp_log_append_time;

    const CAP: usize = 1 << 20;

    fn batch(codec: Compression, timestamps: &[i64]) -> Vec<u8> {
        let mut builder = RecordBatchBuilder::new(codec).base_offset(100);
        for &ts in timestamps {
            builder.append(ts, None, Some(b"v"), &[]);
        }
        builder.build().unwrap()
    }

    fn at(offset: i64, timestamp: i64) -> Option<OffsetAndTimestamp> {
        Some(OffsetAndTimestamp { offset, timestamp })
    }

    #[test]
    fn finds_first_record_at_or_after_target() {
        for codec in Compression::ALL {
            let bytes = batch(codec, &[10, 30, 20, 30]);
            assert_eq!(
                first_record_at_or_after(&bytes, 0, CAP).unwrap(),
                at(100, 10)
            );
            assert_eq!(
                first_record_at_or_after(&bytes, 15, CAP).unwrap(),
                at(101, 30)
            );
            assert_eq!(
                first_record_at_or_after(&bytes, 30, CAP).unwrap(),
                at(101, 30)
            );
            assert_eq!(first_record_at_or_after(&bytes, 31, CAP).unwrap(), None);
        }
    }

    #[test]
    fn max_timestamp_is_the_first_record_carrying_it() {
        for codec in Compression::ALL {
            let bytes = batch(codec, &[10, 30, 20, 30]);
            assert_eq!(max_timestamp_record(&bytes, CAP).unwrap(), at(101, 30));
        }
    }

    #[test]
    fn log_append_time_batches_use_the_batch_max_timestamp() {
        let mut bytes = batch(Compression::Zstd, &[10, 30, 20]);
        stamp_log_append_time(&mut bytes, 500);
        assert_eq!(
            first_record_at_or_after(&bytes, 499, CAP).unwrap(),
            at(100, 500)
        );
        assert_eq!(first_record_at_or_after(&bytes, 501, CAP).unwrap(), None);
        assert_eq!(max_timestamp_record(&bytes, CAP).unwrap(), at(100, 500));
    }

    #[test]
    fn stale_header_max_falls_back_to_record_max() {
        let mut bytes = batch(Compression::None, &[10, 30, 20]);
        crate::timestamp::set_max_timestamp(&mut bytes, crate::TimestampType::CreateTime, 99);
        assert_eq!(max_timestamp_record(&bytes, CAP).unwrap(), at(101, 30));
    }

    #[test]
    fn damaged_batches_are_errors() {
        let bytes = batch(Compression::Gzip, &[10, 20]);
        assert!(matches!(
            first_record_at_or_after(&bytes[..bytes.len() - 1], 0, CAP),
            Err(QueryError::Batch(BatchError::Truncated { .. }))
        ));
        assert!(matches!(
            max_timestamp_record(&bytes, 1),
            Err(QueryError::Compression(
                CompressionError::DecompressedTooLarge { .. }
            ))
        ));
    }
}
