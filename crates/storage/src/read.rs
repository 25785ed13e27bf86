//! Fetch reads: a [`ReadPlan`] snapshotted under the partition lock without I/O, executed later.
//!
//! The plan holds `Arc<File>` handles and the byte length of each segment at snapshot time.
//! Segment files are append-only, so bytes below those lengths do not change while the plan
//! lives, and an unlinked (retention-deleted) segment stays readable through its handle. The
//! exception is `Log::truncate_to` (replication), which may cut bytes a plan still covers; reads
//! then fail with an I/O or `Corrupt` error and the fetch should be retried.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::error::{IoContext, StorageError};
use crate::segment::read_header_at;

/// One segment as seen by a plan.
#[derive(Debug, Clone)]
pub(crate) struct PlanSegment {
    pub file: Arc<File>,
    pub path: PathBuf,
    /// Where to start walking headers (from the offset index).
    pub start: u64,
    /// Valid bytes of the segment at snapshot time.
    pub end: u64,
}

/// A fetch to execute outside the partition lock.
#[derive(Debug, Clone)]
pub struct ReadPlan {
    pub(crate) fetch_offset: i64,
    pub(crate) max_offset_exclusive: i64,
    pub(crate) log_start_offset: i64,
    pub(crate) log_end_offset: i64,
    pub(crate) segments: Vec<PlanSegment>,
}

/// The result of a fetch read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchData {
    /// Whole batches, concatenated, verbatim from disk. The first one contains `fetch_offset`.
    pub records: Bytes,
    /// Offset after the last returned batch (`None` when nothing was returned).
    pub next_offset: Option<i64>,
    /// Log start offset when the plan was made.
    pub log_start_offset: i64,
    /// Log end offset when the plan was made.
    pub log_end_offset: i64,
}

struct Range {
    seg: usize,
    start: u64,
    end: u64,
}

impl ReadPlan {
    pub fn fetch_offset(&self) -> i64 {
        self.fetch_offset
    }
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }
    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }

    /// Reads whole batches starting with the one containing `fetch_offset`, up to `max_bytes`
    /// (at least one batch when `min_one_batch`, KIP-74), stopping before any batch whose base
    /// offset is `>= max_offset_exclusive`. Walks the header chain with small positional reads,
    /// then reads each segment's range with one positional read into one buffer.
    pub fn read(&self, max_bytes: usize, min_one_batch: bool) -> Result<FetchData, StorageError> {
        let mut ranges: Vec<Range> = Vec::new();
        let mut total: u64 = 0;
        let mut next_offset = None;
        'segments: for (i, seg) in self.segments.iter().enumerate() {
            let mut pos = seg.start;
            let mut range: Option<Range> = None;
            while pos < seg.end {
                let h = read_header_at(&seg.file, &seg.path, pos, seg.end)?;
                let len = h.total_len() as u64;
                let started = next_offset.is_some();
                if !started && h.last_offset() < self.fetch_offset {
                    pos += len;
                    continue;
                }
                let over_budget = total + len > max_bytes as u64;
                if h.base_offset >= self.max_offset_exclusive
                    || (over_budget && !(min_one_batch && total == 0))
                {
                    ranges.extend(range);
                    break 'segments;
                }
                range.get_or_insert(Range {
                    seg: i,
                    start: pos,
                    end: pos,
                });
                if let Some(r) = range.as_mut() {
                    r.end = pos + len;
                }
                total += len;
                next_offset = Some(h.next_offset());
                pos += len;
            }
            ranges.extend(range);
        }
        let capacity = usize::try_from(total).map_err(|_| StorageError::Corrupt {
            path: PathBuf::new(),
            position: 0,
            reason: format!("fetch of {total} bytes does not fit in memory"),
        })?;
        let mut buf = BytesMut::zeroed(capacity);
        let mut at = 0usize;
        for r in &ranges {
            let seg = &self.segments[r.seg];
            let n = (r.end - r.start) as usize;
            let dst = &mut buf[at..at + n];
            seg.file
                .read_exact_at(dst, r.start)
                .ctx(|| format!("read {n} bytes at {} of {}", r.start, seg.path.display()))?;
            at += n;
        }
        Ok(FetchData {
            records: buf.freeze(),
            next_offset,
            log_start_offset: self.log_start_offset,
            log_end_offset: self.log_end_offset,
        })
    }
}
