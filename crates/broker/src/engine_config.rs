//! Translates a topic's effective config (Kafka's names, in `config`) into the settings of the
//! engines below the broker: the log's [`LogConfig`] and the produce validator's
//! [`ValidationConfig`].

use strom_records::validate::ValidationConfig;
use strom_records::TimestampType as BatchTimestampType;
use strom_storage::{CompactionConfig, LogConfig};

use crate::config::{TimestampType, TopicConfig};

/// The most a compressed batch may expand to while the broker validates it. Kafka has no such
/// cap; without one a small batch could make the broker allocate without bound.
pub const MAX_DECOMPRESSED_BATCH_BYTES: usize = 64 * 1024 * 1024;

pub fn log_config(config: &TopicConfig) -> LogConfig {
    LogConfig {
        segment_bytes: config.segment_bytes.max(1) as u64,
        // Capped by max.compaction.lag.ms on compacted topics, so that a quiet active segment
        // rolls and becomes cleanable in time (Kafka's `maxSegmentMs`).
        segment_ms: config.max_segment_ms(),
        retention_ms: config.retention_ms,
        retention_bytes: config.retention_bytes,
        index_interval_bytes: config.index_interval_bytes.max(0) as u32,
        segment_index_bytes: config.segment_index_bytes.max(0) as u32,
        max_decompressed_bytes: MAX_DECOMPRESSED_BATCH_BYTES,
        compaction: CompactionConfig {
            enabled: config.cleanup_policy.compact,
            delete_retention_ms: config.delete_retention_ms,
            min_compaction_lag_ms: config.min_compaction_lag_ms,
            max_compaction_lag_ms: config.max_compaction_lag_ms,
            min_cleanable_dirty_ratio: config.min_cleanable_dirty_ratio,
        },
    }
}

pub fn validation_config(config: &TopicConfig) -> ValidationConfig {
    ValidationConfig {
        max_message_bytes: config.max_message_bytes.max(0) as usize,
        timestamp_type: batch_timestamp_type(config.message_timestamp_type),
        max_timestamp_diff_before_ms: config.message_timestamp_before_max_ms,
        max_timestamp_diff_after_ms: config.message_timestamp_after_max_ms,
        max_decompressed_bytes: MAX_DECOMPRESSED_BATCH_BYTES,
        // Kafka refuses records without a key on compacted topics (INVALID_RECORD).
        require_keys: config.cleanup_policy.compact,
    }
}

pub fn batch_timestamp_type(timestamp_type: TimestampType) -> BatchTimestampType {
    match timestamp_type {
        TimestampType::CreateTime => BatchTimestampType::CreateTime,
        TimestampType::LogAppendTime => BatchTimestampType::LogAppendTime,
    }
}
