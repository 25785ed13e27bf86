//! Per-partition log settings (the topic-level `segment.*` and `retention.*` configs).

use crate::cleaner::CompactionConfig;
use crate::error::StorageError;

/// Settings of one partition log; names follow Kafka's topic configs.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// `segment.bytes`: roll when the active segment would grow past this.
    pub segment_bytes: u64,
    /// `segment.ms`: roll when the active segment's first batch is older than this.
    pub segment_ms: i64,
    /// `retention.ms`: delete segments whose largest timestamp is older; -1 keeps forever.
    pub retention_ms: i64,
    /// `retention.bytes`: delete oldest segments while the log stays at least this big; -1 = no limit.
    pub retention_bytes: i64,
    /// `index.interval.bytes`: add an offset-index entry after this many bytes.
    pub index_interval_bytes: u32,
    /// `segment.index.bytes`: roll when an index would exceed this size.
    pub segment_index_bytes: u32,
    /// Cap on decompressed batch size when looking inside compressed batches.
    pub max_decompressed_bytes: usize,
    /// `cleanup.policy=compact` and its settings (see [`crate::cleaner`]).
    pub compaction: CompactionConfig,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1024 * 1024 * 1024,
            segment_ms: 7 * 24 * 60 * 60 * 1000,
            retention_ms: 7 * 24 * 60 * 60 * 1000,
            retention_bytes: -1,
            index_interval_bytes: 4096,
            segment_index_bytes: 10 * 1024 * 1024,
            max_decompressed_bytes: 64 * 1024 * 1024,
            compaction: CompactionConfig::default(),
        }
    }
}

/// Positions in a segment are stored as `u32` in the offset index (Kafka caps `segment.bytes` at `i32::MAX`).
pub(crate) const MAX_SEGMENT_BYTES: u64 = i32::MAX as u64;

impl LogConfig {
    /// Checks the ranges Kafka enforces for these settings.
    pub fn validate(&self) -> Result<(), StorageError> {
        let bad = |m: String| Err(StorageError::InvalidConfig(m));
        if self.segment_bytes < 14 || self.segment_bytes > MAX_SEGMENT_BYTES {
            return bad(format!(
                "segment.bytes {} not in [14, {MAX_SEGMENT_BYTES}]",
                self.segment_bytes
            ));
        }
        if self.segment_ms < 1 {
            return bad(format!("segment.ms {} must be >= 1", self.segment_ms));
        }
        if self.retention_ms < -1 {
            return bad(format!("retention.ms {} must be >= -1", self.retention_ms));
        }
        if self.retention_bytes < -1 {
            return bad(format!(
                "retention.bytes {} must be >= -1",
                self.retention_bytes
            ));
        }
        if self.segment_index_bytes < 12 {
            return bad(format!(
                "segment.index.bytes {} must be >= 12",
                self.segment_index_bytes
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        assert!(LogConfig::default().validate().is_ok());
    }

    #[test]
    fn rejects_out_of_range() {
        let c = LogConfig {
            segment_bytes: 1,
            ..LogConfig::default()
        };
        assert!(c.validate().is_err());
        let c = LogConfig {
            retention_ms: -2,
            ..LogConfig::default()
        };
        assert!(c.validate().is_err());
        let c = LogConfig {
            segment_bytes: u64::from(u32::MAX),
            ..LogConfig::default()
        };
        assert!(c.validate().is_err());
    }
}
