//! The produce-path validator, mirroring Kafka's `UnifiedLog.analyzeAndValidateRecords` and
//! `LogValidator` for magic v2 client appends.
//!
//! Per batch, in Kafka's order: magic must be 2; the batch must be complete; its base offset must
//! be 0 (clients always send 0; Kafka rejects anything else); its size must not exceed
//! `max.message.bytes`; the CRC-32C must match; `last_offset_delta + 1` must equal the record
//! count (and both be positive); control batches are refused; an idempotent batch needs a
//! non-negative base sequence. Then the records are walked, after decompression capped at
//! `max_decompressed_bytes`: their framing must fill the section exactly, offset deltas must run
//! 0, 1, ..., count-1, and (KIP-467, collected per record) keys must be present when required and
//! `CreateTime` timestamps must fall in `[now - before, now + after]`.
//!
//! Like Kafka, a wrong max timestamp in the header is not an error: the broker recomputes it and
//! rewrites it with [`ValidatedBatches::assign_max_timestamps`] (Kafka's `setMaxTimestamp`).
//! Kafka also requires produce v3+ to carry exactly one batch per partition; that check belongs
//! to the request decoder (`ValidatedBatches::len() == 1`).

use crate::batch::batch_size;
use crate::compression::{decompress, Compression, CompressionError};
use crate::header::{compute_crc, BatchHeader, BATCH_HEADER_LEN, OFFSET_MAGIC};
use crate::record::{Record, RecordIter};
use crate::timestamp::{set_max_timestamp, TimestampType, NO_TIMESTAMP};
use crate::validation_error::{RecordError, ValidationError};

/// At most this many [`RecordError`]s are kept per batch (Kafka keeps all; this bounds memory).
pub const MAX_RECORD_ERRORS: usize = 1024;

/// Topic and broker settings that validation depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationConfig {
    /// `max.message.bytes`: the largest batch accepted, header included.
    pub max_message_bytes: usize,
    /// `message.timestamp.type`.
    pub timestamp_type: TimestampType,
    /// `message.timestamp.before.max.ms` (default `i64::MAX`).
    pub max_timestamp_diff_before_ms: i64,
    /// `message.timestamp.after.max.ms` (default one hour since Kafka 3.6).
    pub max_timestamp_diff_after_ms: i64,
    /// Cap on the decompressed records section of one batch.
    pub max_decompressed_bytes: usize,
    /// Refuse records with a null key (compacted topics).
    pub require_keys: bool,
}

impl Default for ValidationConfig {
    /// Kafka's defaults; the decompression cap is Strom's own (Kafka has none).
    fn default() -> Self {
        Self {
            max_message_bytes: 1_048_588,
            timestamp_type: TimestampType::CreateTime,
            max_timestamp_diff_before_ms: i64::MAX,
            max_timestamp_diff_after_ms: 3_600_000,
            max_decompressed_bytes: 64 * 1024 * 1024,
            require_keys: false,
        }
    }
}

/// What an append needs to know about one accepted batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidatedBatch {
    /// Where the batch starts in the validated buffer.
    pub position: usize,
    /// Its size in bytes, header included.
    pub len: usize,
    pub header: BatchHeader,
    pub compression: Compression,
    /// Max of the record timestamps, computed like Kafka (`NO_TIMESTAMP` if all are -1); may
    /// differ from `header.max_timestamp` until [`ValidatedBatches::assign_max_timestamps`].
    pub max_timestamp: i64,
    /// Offset delta of the first record carrying `max_timestamp`.
    pub offset_delta_of_max_timestamp: i32,
}

impl ValidatedBatch {
    pub fn records_count(&self) -> i32 {
        self.header.records_count
    }

    pub fn last_offset_delta(&self) -> i32 {
        self.header.last_offset_delta
    }

    pub fn producer_id(&self) -> i64 {
        self.header.producer_id
    }

    pub fn producer_epoch(&self) -> i16 {
        self.header.producer_epoch
    }

    pub fn base_sequence(&self) -> i32 {
        self.header.base_sequence
    }

    /// Sequence of the last record; wraps past `i32::MAX` to 0 like Kafka's `incrementSequence`.
    pub fn last_sequence(&self) -> i32 {
        let (base, delta) = (self.header.base_sequence, self.header.last_offset_delta);
        if base < 0 {
            return base;
        }
        if base > i32::MAX - delta {
            delta - (i32::MAX - base) - 1
        } else {
            base + delta
        }
    }

    /// Whether an idempotent (or transactional) producer wrote the batch.
    pub fn has_producer_id(&self) -> bool {
        self.header.producer_id >= 0
    }

    pub fn is_transactional(&self) -> bool {
        self.header.is_transactional()
    }

    /// This batch's bytes within the validated buffer.
    pub fn bytes<'a>(&self, records: &'a [u8]) -> Option<&'a [u8]> {
        records.get(self.position..self.position.checked_add(self.len)?)
    }
}

/// The accepted batches of one produce partition, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidatedBatches {
    pub batches: Vec<ValidatedBatch>,
}

impl ValidatedBatches {
    pub fn len(&self) -> usize {
        self.batches.len()
    }

    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, ValidatedBatch> {
        self.batches.iter()
    }

    /// Total number of records.
    pub fn record_count(&self) -> u64 {
        self.batches
            .iter()
            .map(|b| u64::try_from(b.header.records_count).unwrap_or(0))
            .sum()
    }

    /// Offset delta (from the first batch's base) of the last record: appending at `base`
    /// assigns offsets `base ..= base + last_offset_delta()`.
    pub fn last_offset_delta(&self) -> i64 {
        self.record_count() as i64 - 1
    }

    /// Max timestamp over all batches (`NO_TIMESTAMP` if none).
    pub fn max_timestamp(&self) -> i64 {
        self.batches
            .iter()
            .map(|b| b.max_timestamp)
            .max()
            .unwrap_or(NO_TIMESTAMP)
    }

    /// Whether [`Self::assign_max_timestamps`] would change any byte: only then does the
    /// caller need a writable copy of the batches (a `LogAppendTime` topic, or a producer whose
    /// header disagrees with its records).
    pub fn needs_timestamp_rewrite(&self, timestamp_type: TimestampType, now_ms: i64) -> bool {
        self.batches.iter().any(|batch| {
            let wanted = match timestamp_type {
                TimestampType::LogAppendTime => now_ms,
                TimestampType::CreateTime => batch.max_timestamp,
            };
            TimestampType::of_attributes(batch.header.attributes) != timestamp_type
                || batch.header.max_timestamp != wanted
        })
    }

    /// Rewrites each batch's timestamp type, max timestamp and CRC as Kafka does on append:
    /// `LogAppendTime` topics get `now_ms`, `CreateTime` topics the computed max timestamp.
    /// `records` must be the buffer that was validated.
    pub fn assign_max_timestamps(
        &self,
        records: &mut [u8],
        timestamp_type: TimestampType,
        now_ms: i64,
    ) {
        for batch in &self.batches {
            let Some(bytes) = records.get_mut(batch.position..batch.position + batch.len) else {
                continue;
            };
            match timestamp_type {
                TimestampType::LogAppendTime => set_max_timestamp(bytes, timestamp_type, now_ms),
                TimestampType::CreateTime => {
                    set_max_timestamp(bytes, timestamp_type, batch.max_timestamp)
                }
            }
        }
    }
}

impl<'a> IntoIterator for &'a ValidatedBatches {
    type Item = &'a ValidatedBatch;
    type IntoIter = std::slice::Iter<'a, ValidatedBatch>;
    fn into_iter(self) -> Self::IntoIter {
        self.batches.iter()
    }
}

/// Validates the `records` field of one produce partition: one or more concatenated batches.
pub fn validate_batches(
    records: &[u8],
    config: &ValidationConfig,
    now_ms: i64,
) -> Result<ValidatedBatches, ValidationError> {
    if records.is_empty() {
        return Err(ValidationError::NoBatches);
    }
    let mut batches = Vec::with_capacity(1);
    let mut position = 0;
    while let Some(rest) = records.get(position..).filter(|rest| !rest.is_empty()) {
        let batch = validate_batch(rest, batches.len(), position, config, now_ms)?;
        position += batch.len;
        batches.push(batch);
    }
    Ok(ValidatedBatches { batches })
}

fn invalid(batch: usize, reason: impl Into<String>) -> ValidationError {
    ValidationError::InvalidRecord {
        batch,
        reason: reason.into(),
        record_errors: Vec::new(),
    }
}

fn invalid_at(batch: usize, index: usize, reason: String) -> ValidationError {
    ValidationError::InvalidRecord {
        batch,
        record_errors: vec![RecordError {
            batch_index: i32::try_from(index).unwrap_or(i32::MAX),
            message: reason.clone(),
        }],
        reason,
    }
}

/// Validates the batch at the start of `rest`, which sits at `position` in the request.
fn validate_batch(
    rest: &[u8],
    batch: usize,
    position: usize,
    config: &ValidationConfig,
    now_ms: i64,
) -> Result<ValidatedBatch, ValidationError> {
    let corrupt = |reason: String| ValidationError::CorruptMessage { batch, reason };
    if let Some(&magic) = rest.get(OFFSET_MAGIC) {
        if magic as i8 != 2 {
            return Err(ValidationError::UnsupportedMagic {
                batch,
                magic: magic as i8,
            });
        }
    }
    if rest.len() < BATCH_HEADER_LEN {
        return Err(corrupt(format!(
            "truncated: {} bytes left where a batch header needs {BATCH_HEADER_LEN}",
            rest.len()
        )));
    }
    let size = batch_size(rest)
        .filter(|&size| size >= BATCH_HEADER_LEN)
        .ok_or_else(|| corrupt("batch length is smaller than a batch header".to_string()))?;
    let bytes = rest.get(..size).ok_or_else(|| {
        corrupt(format!(
            "truncated: batch needs {size} bytes, {} present",
            rest.len()
        ))
    })?;
    let header = BatchHeader::parse(bytes).map_err(|e| corrupt(e.to_string()))?;

    if header.base_offset != 0 {
        return Err(invalid(
            batch,
            format!(
                "the baseOffset of the record batch should be 0, but it is {}",
                header.base_offset
            ),
        ));
    }
    if size > config.max_message_bytes {
        return Err(ValidationError::MessageTooLarge {
            batch,
            size,
            max: config.max_message_bytes,
        });
    }
    let computed = compute_crc(bytes);
    if computed != header.crc {
        return Err(corrupt(format!(
            "record is corrupt (stored crc = {}, computed crc = {computed})",
            header.crc
        )));
    }
    check_batch_fields(&header, batch)?;

    let compression = Compression::from_attributes(header.attributes).map_err(|_| {
        ValidationError::UnsupportedCompression {
            batch,
            codec: header.compression_codec(),
        }
    })?;
    let section = bytes.get(BATCH_HEADER_LEN..).unwrap_or_default();
    let decompressed;
    let section = match compression {
        Compression::None => section,
        codec => {
            decompressed =
                decompress(codec, section, config.max_decompressed_bytes).map_err(|e| match e {
                    CompressionError::DecompressedTooLarge { limit, .. } => {
                        ValidationError::DecompressedTooLarge { batch, limit }
                    }
                    other => corrupt(format!("failed to decompress record stream: {other}")),
                })?;
            decompressed.as_slice()
        }
    };
    let (max_timestamp, offset_delta_of_max_timestamp) =
        walk_records(section, &header, batch, config, now_ms)?;

    Ok(ValidatedBatch {
        position,
        len: size,
        header,
        compression,
        max_timestamp,
        offset_delta_of_max_timestamp,
    })
}

/// Kafka's `LogValidator.validateBatch` for client appends.
fn check_batch_fields(header: &BatchHeader, batch: usize) -> Result<(), ValidationError> {
    let count_from_offsets = i64::from(header.last_offset_delta) + 1;
    if count_from_offsets <= 0 {
        return Err(invalid(
            batch,
            format!(
                "batch has an invalid offset range: [0, {}]",
                header.last_offset_delta
            ),
        ));
    }
    if header.records_count <= 0 {
        return Err(invalid(
            batch,
            format!(
                "invalid reported count for record batch: {}",
                header.records_count
            ),
        ));
    }
    if count_from_offsets != i64::from(header.records_count) {
        return Err(invalid(
            batch,
            format!(
                "inconsistent batch offset range [0, {}] and count of records {}",
                header.last_offset_delta, header.records_count
            ),
        ));
    }
    if header.is_control() {
        return Err(invalid(
            batch,
            "clients are not allowed to write control records",
        ));
    }
    if header.producer_id >= 0 && header.base_sequence < 0 {
        return Err(invalid(
            batch,
            format!(
                "invalid sequence number {} in record batch with producerId {}",
                header.base_sequence, header.producer_id
            ),
        ));
    }
    Ok(())
}

/// Walks the records of a (decompressed) section; returns the max timestamp and its offset delta.
fn walk_records(
    section: &[u8],
    header: &BatchHeader,
    batch: usize,
    config: &ValidationConfig,
    now_ms: i64,
) -> Result<(i64, i32), ValidationError> {
    let count = usize::try_from(header.records_count).unwrap_or(0);
    let mut iter = RecordIter::new(section);
    let mut record_errors = Vec::new();
    let mut timestamp_error = false;
    let mut max_timestamp = NO_TIMESTAMP;
    let mut offset_delta_of_max = 0;
    for index in 0..count {
        let record = match iter.next() {
            Some(Ok(record)) => record,
            Some(Err(e)) => {
                return Err(invalid_at(
                    batch,
                    index,
                    format!("found invalid record structure: {e}"),
                ))
            }
            None => {
                return Err(invalid(
                    batch,
                    format!(
                        "incorrect declared batch size: {count} records declared, {index} present"
                    ),
                ))
            }
        };
        if usize::try_from(record.offset_delta).ok() != Some(index) {
            return Err(invalid_at(
                batch,
                index,
                format!(
                    "inner record does not have incremental offsets: offset delta {}, expected {index}",
                    record.offset_delta
                ),
            ));
        }
        let timestamp = record.timestamp(header);
        if timestamp > max_timestamp {
            max_timestamp = timestamp;
            offset_delta_of_max = record.offset_delta;
        }
        if let Some(message) = check_record(&record, timestamp, header, config, now_ms) {
            timestamp_error |= message.is_timestamp;
            if record_errors.len() < MAX_RECORD_ERRORS {
                record_errors.push(RecordError {
                    batch_index: record.offset_delta,
                    message: message.text,
                });
            }
        }
    }
    if iter.remaining() > 0 {
        return Err(invalid(
            batch,
            "incorrect declared batch size, records still remaining in file",
        ));
    }
    if record_errors.is_empty() {
        Ok((max_timestamp, offset_delta_of_max))
    } else if timestamp_error {
        Err(ValidationError::InvalidTimestamp {
            batch,
            record_errors,
        })
    } else {
        let shown: Vec<String> = record_errors
            .iter()
            .take(3)
            .map(ToString::to_string)
            .collect();
        Err(ValidationError::InvalidRecord {
            batch,
            reason: format!(
                "one or more records have been rejected due to {} record errors in total, and only showing the first three errors at most: [{}]",
                record_errors.len(),
                shown.join(", ")
            ),
            record_errors,
        })
    }
}

struct RecordProblem {
    text: String,
    is_timestamp: bool,
}

/// Kafka's `validateKey` then `validateTimestamp` for one record.
fn check_record(
    record: &Record<'_>,
    timestamp: i64,
    header: &BatchHeader,
    config: &ValidationConfig,
    now_ms: i64,
) -> Option<RecordProblem> {
    if config.require_keys && record.key.is_none() {
        return Some(RecordProblem {
            text: "compacted topic cannot accept message without key".to_string(),
            is_timestamp: false,
        });
    }
    if config.timestamp_type == TimestampType::CreateTime && timestamp != NO_TIMESTAMP {
        let diff = i128::from(now_ms) - i128::from(timestamp);
        if diff > i128::from(config.max_timestamp_diff_before_ms)
            || -diff > i128::from(config.max_timestamp_diff_after_ms)
        {
            return Some(RecordProblem {
                text: format!(
                    "timestamp {timestamp} of message with offset {} is out of range. The timestamp should be within [{}, {}]",
                    record.offset_delta,
                    now_ms.saturating_sub(config.max_timestamp_diff_before_ms),
                    now_ms.saturating_add(config.max_timestamp_diff_after_ms)
                ),
                is_timestamp: true,
            });
        }
    } else if header.is_log_append_time() {
        return Some(RecordProblem {
            text: "invalid timestamp type in message: producer should not set timestamp type to LogAppendTime".to_string(),
            is_timestamp: true,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::RecordBatchBuilder;

    fn validated(base_sequence: i32, count: usize) -> ValidatedBatch {
        let mut builder = RecordBatchBuilder::new(Compression::None).producer(1, 0, base_sequence);
        for i in 0..count {
            builder.append(i as i64, None, None, &[]);
        }
        let bytes = builder.build().unwrap();
        validate_batches(&bytes, &ValidationConfig::default(), 0)
            .unwrap()
            .batches[0]
    }

    #[test]
    fn last_sequence_wraps_like_kafka() {
        assert_eq!(validated(5, 3).last_sequence(), 7);
        assert_eq!(validated(i32::MAX, 1).last_sequence(), i32::MAX);
        assert_eq!(validated(i32::MAX, 2).last_sequence(), 0);
        assert_eq!(validated(i32::MAX - 1, 4).last_sequence(), 1);
    }

    #[test]
    fn summary_fields() {
        let batch = validated(0, 4);
        assert!(batch.has_producer_id());
        assert!(!batch.is_transactional());
        assert_eq!((batch.records_count(), batch.last_offset_delta()), (4, 3));
        assert_eq!(
            (batch.max_timestamp, batch.offset_delta_of_max_timestamp),
            (3, 3)
        );
        assert_eq!(batch.compression, Compression::None);
    }
}
