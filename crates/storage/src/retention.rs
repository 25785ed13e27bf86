//! Which old segments to delete, following Kafka's `UnifiedLog.deleteOldSegments`.
//!
//! Three passes, each over the segments left by the previous one, each deleting a prefix:
//! 1. log start breached: the *next* segment's base offset is `<= log_start_offset`;
//! 2. `retention.bytes`: while `total - segment.size >= retention.bytes` (oldest first);
//! 3. `retention.ms`: while `now - segment.largest_timestamp > retention.ms`.
//!
//! A segment is only deletable if the high watermark is at or past its upper bound (the next
//! segment's base offset, or the log end for the last one), and the last segment is never
//! deletable while empty. When every segment is deletable the log first rolls a new empty active
//! segment (Kafka's `deleteSegments`), so a log always has one segment.

use crate::config::LogConfig;

/// What the planner needs to know of one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentSummary {
    pub base_offset: i64,
    pub size: u64,
    /// Kafka's `largestTimestamp` (max batch timestamp, else file mtime).
    pub largest_timestamp: i64,
}

/// How many segments each pass deleted, and what it freed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionOutcome {
    pub deleted_by_log_start: usize,
    pub deleted_by_size: usize,
    pub deleted_by_time: usize,
    pub deleted_bytes: u64,
    /// Log start offset after deletion.
    pub log_start_offset: i64,
}

impl RetentionOutcome {
    pub fn deleted_segments(&self) -> usize {
        self.deleted_by_log_start + self.deleted_by_size + self.deleted_by_time
    }
}

/// Number of leading segments to delete per pass: `(by_log_start, by_size, by_time)`.
pub fn plan(
    segments: &[SegmentSummary],
    log_start_offset: i64,
    log_end_offset: i64,
    high_watermark: i64,
    config: &LogConfig,
    now_ms: i64,
) -> (usize, usize, usize) {
    let upper = |i: usize| {
        segments
            .get(i + 1)
            .map_or(log_end_offset, |s| s.base_offset)
    };
    // Length of the deletable prefix starting at `from`, given a per-segment predicate.
    let prefix = |from: usize, pred: &mut dyn FnMut(usize) -> bool| {
        let mut n = 0;
        for i in from..segments.len() {
            let last_and_empty = i + 1 == segments.len() && segments[i].size == 0;
            if last_and_empty || high_watermark < upper(i) || !pred(i) {
                break;
            }
            n += 1;
        }
        n
    };
    let by_start = prefix(0, &mut |i| {
        segments
            .get(i + 1)
            .is_some_and(|next| next.base_offset <= log_start_offset)
    });
    let mut from = by_start;
    let by_size = if config.retention_bytes < 0 {
        0
    } else {
        let total: u64 = segments[from..].iter().map(|s| s.size).sum();
        let retention = config.retention_bytes as u64;
        if total < retention {
            0
        } else {
            let mut diff = total - retention;
            prefix(from, &mut |i| match diff.checked_sub(segments[i].size) {
                Some(d) => {
                    diff = d;
                    true
                }
                None => false,
            })
        }
    };
    from += by_size;
    let by_time = if config.retention_ms < 0 {
        0
    } else {
        prefix(from, &mut |i| {
            now_ms.saturating_sub(segments[i].largest_timestamp) > config.retention_ms
        })
    };
    (by_start, by_size, by_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(base: i64, size: u64, ts: i64) -> SegmentSummary {
        SegmentSummary {
            base_offset: base,
            size,
            largest_timestamp: ts,
        }
    }

    fn cfg(bytes: i64, ms: i64) -> LogConfig {
        LogConfig {
            retention_bytes: bytes,
            retention_ms: ms,
            ..LogConfig::default()
        }
    }

    #[test]
    fn nothing_to_do_forever() {
        let s = [seg(0, 100, 0), seg(10, 100, 0)];
        assert_eq!(plan(&s, 0, 20, 20, &cfg(-1, -1), 1_000_000), (0, 0, 0));
    }

    #[test]
    fn by_time_includes_expired_active() {
        let s = [seg(0, 100, 10), seg(10, 100, 20), seg(20, 100, 500)];
        assert_eq!(plan(&s, 0, 30, 30, &cfg(-1, 100), 200), (0, 0, 2));
        assert_eq!(plan(&s, 0, 30, 30, &cfg(-1, 100), 1000), (0, 0, 3));
        // ...but not past the high watermark
        assert_eq!(plan(&s, 0, 30, 5, &cfg(-1, 100), 1000), (0, 0, 0));
        assert_eq!(plan(&s, 0, 30, 15, &cfg(-1, 100), 1000), (0, 0, 1));
        assert_eq!(plan(&s, 0, 30, 29, &cfg(-1, 100), 1000), (0, 0, 2));
    }

    #[test]
    fn by_size_keeps_at_least_retention_bytes() {
        let s = [seg(0, 100, 0), seg(10, 100, 0), seg(20, 50, 0)];
        assert_eq!(plan(&s, 0, 30, 30, &cfg(150, -1), 0), (0, 1, 0));
        assert_eq!(plan(&s, 0, 30, 30, &cfg(149, -1), 0), (0, 1, 0));
        assert_eq!(plan(&s, 0, 30, 30, &cfg(50, -1), 0), (0, 2, 0));
        assert_eq!(plan(&s, 0, 30, 30, &cfg(0, -1), 0), (0, 3, 0));
        assert_eq!(plan(&s, 0, 30, 30, &cfg(251, -1), 0), (0, 0, 0));
    }

    #[test]
    fn empty_active_is_never_deleted() {
        let s = [seg(0, 100, 0), seg(10, 0, 0)];
        assert_eq!(plan(&s, 0, 10, 10, &cfg(0, 0), 1000), (0, 1, 0));
    }

    #[test]
    fn log_start_breach_then_others() {
        let s = [
            seg(0, 100, 0),
            seg(10, 100, 0),
            seg(20, 100, 0),
            seg(30, 10, 900),
        ];
        assert_eq!(plan(&s, 15, 40, 40, &cfg(-1, -1), 0), (1, 0, 0));
        assert_eq!(plan(&s, 20, 40, 40, &cfg(-1, -1), 0), (2, 0, 0));
        assert_eq!(plan(&s, 20, 40, 40, &cfg(-1, 500), 1000), (2, 0, 1));
        assert_eq!(plan(&s, 20, 40, 40, &cfg(100, -1), 0), (2, 0, 0));
        assert_eq!(plan(&s, 20, 40, 40, &cfg(10, -1), 0), (2, 1, 0));
    }
}
