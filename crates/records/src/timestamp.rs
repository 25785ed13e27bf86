//! Timestamp types and the broker's in-place timestamp rewrite of a stored batch.
//!
//! Kafka's `DefaultRecordBatch.setMaxTimestamp(type, ts)` rewrites the timestamp-type attribute
//! bit and the max timestamp, then recomputes the CRC; it does nothing when both already match.
//! With `LogAppendTime` the broker calls it with the append time; with `CreateTime` it calls it
//! with the max of the record timestamps, which fixes a wrong max timestamp sent by a client.

use crate::header::{
    compute_crc, BatchHeader, ATTR_TIMESTAMP_TYPE_LOG_APPEND, OFFSET_ATTRIBUTES, OFFSET_CRC,
    OFFSET_MAX_TIMESTAMP,
};

/// `RecordBatch.NO_TIMESTAMP`: a record without a timestamp.
pub const NO_TIMESTAMP: i64 = -1;

/// The `message.timestamp.type` of a topic, and the timestamp-type bit of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimestampType {
    /// Records keep the timestamp set by the producer.
    #[default]
    CreateTime,
    /// The broker stamps every batch with the time it appends it.
    LogAppendTime,
}

impl TimestampType {
    /// Kafka's numeric id (`TimestampType.id`): 0 = CreateTime, 1 = LogAppendTime.
    pub fn id(self) -> i8 {
        match self {
            Self::CreateTime => 0,
            Self::LogAppendTime => 1,
        }
    }

    /// The config value, as in `message.timestamp.type`.
    pub fn name(self) -> &'static str {
        match self {
            Self::CreateTime => "CreateTime",
            Self::LogAppendTime => "LogAppendTime",
        }
    }

    /// The type of a batch from its attributes.
    pub fn of_attributes(attributes: i16) -> Self {
        if attributes & ATTR_TIMESTAMP_TYPE_LOG_APPEND != 0 {
            Self::LogAppendTime
        } else {
            Self::CreateTime
        }
    }
}

/// Sets the timestamp type and max timestamp of the batch at the start of `batch` and recomputes
/// its CRC (over the batch's own length, so `batch` may continue with other bytes). Leaves the
/// bytes alone when they already hold these values, or when the batch is not complete.
pub fn set_max_timestamp(batch: &mut [u8], timestamp_type: TimestampType, max_timestamp: i64) {
    let Ok(header) = BatchHeader::parse(batch) else {
        return;
    };
    let Some(batch) = batch.get_mut(..header.total_len()) else {
        return;
    };
    if TimestampType::of_attributes(header.attributes) == timestamp_type
        && header.max_timestamp == max_timestamp
    {
        return;
    }
    let attributes = match timestamp_type {
        TimestampType::CreateTime => header.attributes & !ATTR_TIMESTAMP_TYPE_LOG_APPEND,
        TimestampType::LogAppendTime => header.attributes | ATTR_TIMESTAMP_TYPE_LOG_APPEND,
    };
    write_at(batch, OFFSET_ATTRIBUTES, &attributes.to_be_bytes());
    write_at(batch, OFFSET_MAX_TIMESTAMP, &max_timestamp.to_be_bytes());
    let crc = compute_crc(batch);
    write_at(batch, OFFSET_CRC, &crc.to_be_bytes());
}

/// Stamps a batch with the broker's append time (topic `message.timestamp.type=LogAppendTime`):
/// sets the `LogAppendTime` attribute bit and `max_timestamp = now_ms`, keeps the base timestamp,
/// and recomputes the CRC.
pub fn stamp_log_append_time(batch: &mut [u8], now_ms: i64) {
    set_max_timestamp(batch, TimestampType::LogAppendTime, now_ms);
}

fn write_at(batch: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(slot) = batch.get_mut(at..at + bytes.len()) {
        slot.copy_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::RecordBatchBuilder;
    use crate::compression::Compression;

    fn batch() -> Vec<u8> {
        let mut b = RecordBatchBuilder::new(Compression::None);
        b.append(1_000, Some(b"k"), Some(b"v"), &[])
            .append(2_000, None, None, &[]);
        b.build().unwrap()
    }

    #[test]
    fn stamping_sets_type_max_timestamp_and_crc() {
        let mut bytes = batch();
        bytes.extend([0xAA; 7]); // trailing bytes of another batch are untouched
        stamp_log_append_time(&mut bytes, 5_000);
        let header = BatchHeader::parse(&bytes).unwrap();
        assert!(header.is_log_append_time());
        assert_eq!(header.max_timestamp, 5_000);
        assert_eq!(header.base_timestamp, 1_000);
        assert_eq!(header.crc, compute_crc(&bytes[..header.total_len()]));
        assert_eq!(&bytes[header.total_len()..], &[0xAA; 7]);

        set_max_timestamp(&mut bytes, TimestampType::CreateTime, 2_000);
        let back = BatchHeader::parse(&bytes).unwrap();
        assert_eq!(&bytes[..back.total_len()], &batch()[..]);
    }

    #[test]
    fn unchanged_values_leave_bytes_alone() {
        let mut bytes = batch();
        let before = bytes.clone();
        set_max_timestamp(&mut bytes, TimestampType::CreateTime, 2_000);
        assert_eq!(bytes, before);
        let mut short = before[..40].to_vec();
        stamp_log_append_time(&mut short, 1);
        assert_eq!(short, &before[..40]);
    }

    #[test]
    fn type_names_and_ids() {
        assert_eq!(TimestampType::LogAppendTime.id(), 1);
        assert_eq!(TimestampType::CreateTime.name(), "CreateTime");
        assert_eq!(
            TimestampType::of_attributes(ATTR_TIMESTAMP_TYPE_LOG_APPEND | 3),
            TimestampType::LogAppendTime
        );
    }
}
