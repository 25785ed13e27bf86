//! Log compaction (Kafka's log cleaner): for topics with `cleanup.policy=compact`, the closed
//! segments are rewritten keeping only the latest record of each key.
//!
//! A cleaning has three steps, so that the partition's lock is held only for bookkeeping:
//! 1. [`Log::plan_cleaning`](crate::Log::plan_cleaning), under the lock, snapshots what to clean:
//!    the segments (file handles, base offsets) from the log start up to the end of the
//!    cleanable range, the aborted transactions and each producer's last batch. No I/O.
//! 2. [`CleaningPlan::execute`], outside the lock (a cleaner thread), reads the dirty section
//!    (from the cleaner checkpoint to the first uncleanable offset) into an [`OffsetMap`], then
//!    copies the live batches of every planned segment into new segments, grouped so that each
//!    stays under `segment.bytes`, and writes them as `.cleaned` files (see [`swap`]).
//! 3. [`Log::commit_cleaning`](crate::Log::commit_cleaning), under the lock, one group per call
//!    (the caller releases the lock in between): checks that the group's old segments are all
//!    still there, unchanged (retention or truncation may have run meanwhile), commits it with
//!    one rename and swaps the segments in memory; after the last group it moves the cleaner
//!    checkpoint (`cleaner-offset-checkpoint`) to the end of the cleaned range.
//!
//! What is kept, as Kafka does: offsets never change (removed records leave gaps); a record is
//! kept when it is the latest of its key in the dirty section or its key is not there; records
//! without a key are dropped; a tombstone (null value) is kept until its batch's delete horizon
//! (`delete.retention.ms` after the cleaning that first saw it, KIP-534) has passed; the records
//! of aborted transactions are removed, and transaction markers once they guard no data and their
//! horizon has passed; the last batch of every producer the log still tracks is kept (empty if
//! need be) so that its sequence numbers survive. The first uncleanable offset is the lowest of
//! the active segment's base, the first unstable offset (an open transaction) and the base of
//! the first segment younger than `min.compaction.lag.ms`: the active segment is never cleaned.

pub mod offset_map;
pub mod swap;
pub mod throttle;
pub mod transactions;

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use strom_records::filter::{filter_batch, FilterOptions, FilterOutcome};
use strom_records::{
    read_marker, BatchHeader, ControlRecordType, RecordBatch, RecordIter, BATCH_HEADER_LEN,
};

use crate::error::{IoContext, StorageError};
use crate::producer_state::AbortedTxn;
use crate::recovery::BatchMeta;
use crate::segment::Segment;
use crate::txn_index;

pub use offset_map::OffsetMap;
pub use throttle::Throttler;
use transactions::CleanedTransactions;

/// Name of the per-partition file holding the cleaner checkpoint: the offset below which the log
/// has been cleaned (Kafka keeps one `cleaner-offset-checkpoint` per log directory).
pub const CLEANER_CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";

/// The topic configs that drive compaction (Kafka's names).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompactionConfig {
    /// `cleanup.policy` contains `compact`.
    pub enabled: bool,
    /// `delete.retention.ms`: how long tombstones and empty transaction markers outlive the
    /// cleaning that first saw them.
    pub delete_retention_ms: i64,
    /// `min.compaction.lag.ms`: records younger than this are not compacted.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: a dirty record older than this makes the log due regardless of
    /// the dirty ratio.
    pub max_compaction_lag_ms: i64,
    /// `min.cleanable.dirty.ratio`.
    pub min_cleanable_dirty_ratio: f64,
}

impl Default for CompactionConfig {
    fn default() -> Self {
        CompactionConfig {
            enabled: false,
            delete_retention_ms: 24 * 60 * 60 * 1000,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            min_cleanable_dirty_ratio: 0.5,
        }
    }
}

/// Broker-wide cleaner settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanerSettings {
    /// `log.cleaner.dedupe.buffer.size` (of one cleaner thread): bounds the offset map.
    pub dedupe_buffer_bytes: usize,
    /// `log.cleaner.io.buffer.size`: the size of each read.
    pub io_buffer_bytes: usize,
}

impl Default for CleanerSettings {
    fn default() -> Self {
        CleanerSettings {
            dedupe_buffer_bytes: 128 * 1024 * 1024,
            io_buffer_bytes: 1024 * 1024,
        }
    }
}

/// Where a log's compaction stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CleaningState {
    /// The log is clean below this offset.
    pub first_dirty_offset: i64,
    /// Nothing at or past this offset may be cleaned yet.
    pub first_uncleanable_offset: i64,
    /// Bytes of the segments below the first dirty offset.
    pub clean_bytes: u64,
    /// Bytes of the closed segments between the first dirty and first uncleanable offsets.
    pub dirty_bytes: u64,
    /// A dirty record has waited longer than `max.compaction.lag.ms`.
    pub lag_exceeded: bool,
    /// A batch's delete horizon has passed: a cleaning would remove tombstones or markers.
    pub horizon_passed: bool,
    /// The log's `min.cleanable.dirty.ratio`.
    pub min_cleanable_dirty_ratio: f64,
}

impl CleaningState {
    /// `dirty / (clean + dirty)`; 0 when there is nothing cleanable.
    pub fn dirty_ratio(&self) -> f64 {
        let total = self.clean_bytes + self.dirty_bytes;
        if total == 0 {
            0.0
        } else {
            self.dirty_bytes as f64 / total as f64
        }
    }

    /// Whether a cleaning is due (Kafka's `grabFilthiestCompactedLog` criteria: a dirty ratio
    /// above the minimum, so 1.0 never cleans by ratio alone).
    pub fn is_due(&self) -> bool {
        let dirty = self.dirty_bytes > 0
            && (self.lag_exceeded || self.dirty_ratio() > self.min_cleanable_dirty_ratio);
        dirty || (self.horizon_passed && self.clean_bytes > 0)
    }
}

/// What one cleaning did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleaningStats {
    /// Wall-clock time the cleaning was planned.
    pub started_ms: i64,
    pub duration_ms: u64,
    /// Bytes read: the dirty section once for the offset map, then every cleaned segment.
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub batches_read: u64,
    pub records_read: u64,
    pub records_removed: u64,
    pub segments_before: usize,
    pub segments_after: usize,
    /// Keys in the offset map.
    pub keys: usize,
    /// The range rewritten: `[first segment base, end_offset)`.
    pub end_offset: i64,
}

/// One planned segment: a closed segment of the log when the cleaning was planned.
#[derive(Debug, Clone)]
pub(crate) struct PlannedSegment {
    pub base_offset: i64,
    /// Base offset of the segment after it (the range it may hold is `[base, end)`).
    pub end_offset: i64,
    pub file: Arc<File>,
    pub path: PathBuf,
    pub size: u64,
}

/// A cleaning snapshotted under the log's lock; [`CleaningPlan::execute`] does the work.
#[derive(Debug)]
pub struct CleaningPlan {
    pub(crate) dir: PathBuf,
    pub(crate) segments: Vec<PlannedSegment>,
    pub(crate) log_start_offset: i64,
    pub(crate) first_dirty_offset: i64,
    pub(crate) first_uncleanable_offset: i64,
    pub(crate) aborted: Vec<AbortedTxn>,
    /// Producer id → (last offset of its last data batch or -1, epoch).
    pub(crate) last_batches: HashMap<i64, (i64, i16)>,
    pub(crate) config: CompactionConfig,
    pub(crate) segment_bytes: u64,
    pub(crate) index_interval_bytes: u32,
    pub(crate) max_decompressed_bytes: usize,
    pub(crate) settings: CleanerSettings,
    pub(crate) now_ms: i64,
}

/// One group of old segments replaced by one cleaned segment (written as `.cleaned` files).
#[derive(Debug)]
pub(crate) struct CleanedGroup {
    pub base_offset: i64,
    pub end_offset: i64,
    /// The old segments it replaces (base, file, size), to check they are still the log's, as
    /// planned, at commit time.
    pub replaced: Vec<(i64, Arc<File>, u64)>,
}

/// The result of [`CleaningPlan::execute`], to hand to
/// [`Log::commit_cleaning`](crate::Log::commit_cleaning).
#[derive(Debug)]
pub struct CleanedLog {
    pub(crate) dir: PathBuf,
    pub(crate) groups: Vec<CleanedGroup>,
    /// Aborted transactions whose markers the cleaned segments keep.
    pub(crate) kept_aborted: Vec<AbortedTxn>,
    /// Smallest delete horizon now set on a batch of the cleaned range, if any.
    pub(crate) next_horizon_ms: Option<i64>,
    pub(crate) stats: CleaningStats,
    /// Groups swapped in so far by [`Log::commit_cleaning`](crate::Log::commit_cleaning).
    pub(crate) committed: usize,
    /// Segments of the log when the first group was committed.
    pub(crate) segments_before: usize,
}

/// What one [`Log::commit_cleaning`](crate::Log::commit_cleaning) call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleaningCommit {
    /// A group was swapped in; call again for the next.
    Progress,
    /// Every group is in and the checkpoint moved: the cleaning's figures.
    Done(CleaningStats),
    /// The log changed since the plan; what was not yet swapped in was discarded.
    Discarded,
}

impl CleanedLog {
    /// Deletes the `.cleaned` files (a cleaning that will not be committed).
    pub fn discard(&self) {
        self.discard_from(self.committed);
    }

    /// Deletes the `.cleaned` files of the groups from `first` on.
    pub(crate) fn discard_from(&self, first: usize) {
        for g in self.groups.iter().skip(first) {
            for ext in crate::segment::SEGMENT_EXTS {
                let path = self.dir.join(swap::cleaned_name(g.base_offset, ext));
                if let Err(e) = crate::checkpoint::remove_if_exists(&path) {
                    tracing::warn!(file = %path.display(), error = %e, "cannot remove a discarded cleaned file");
                }
            }
        }
    }

    pub fn stats(&self) -> &CleaningStats {
        &self.stats
    }
}

impl CleaningPlan {
    /// Offsets below which the log will be clean once this plan is committed.
    pub fn first_dirty_offset(&self) -> i64 {
        self.first_dirty_offset
    }

    /// Builds the offset map and writes the cleaned segments. `throttle(bytes)` is called for
    /// every batch read and written (it may sleep: `log.cleaner.io.max.bytes.per.second`); `stop` makes
    /// it give up early (shutdown). Nothing of the log is changed: on error
    /// or stop the `.cleaned` files are removed.
    pub fn execute(
        self,
        throttle: &mut dyn FnMut(u64),
        stop: &AtomicBool,
    ) -> Result<Option<CleanedLog>, StorageError> {
        let started = Instant::now();
        let mut stats = CleaningStats {
            started_ms: self.now_ms,
            ..CleaningStats::default()
        };
        let Some((map, map_end)) = self.build_offset_map(throttle, stop, &mut stats)? else {
            return Ok(None);
        };
        let segments: Vec<&PlannedSegment> = self
            .segments
            .iter()
            .filter(|s| s.base_offset < map_end)
            .collect();
        if segments.is_empty() {
            return Ok(None);
        }
        let mut cleaned = CleanedLog {
            dir: self.dir.clone(),
            groups: Vec::new(),
            kept_aborted: Vec::new(),
            next_horizon_ms: None,
            stats,
            committed: 0,
            segments_before: 0,
        };
        let mut txns = CleanedTransactions::new(self.aborted.clone());
        let result = self.clean_groups(&segments, &map, &mut txns, &mut cleaned, throttle, stop);
        match result {
            Ok(true) => {}
            Ok(false) => {
                cleaned.discard();
                return Ok(None);
            }
            Err(e) => {
                cleaned.discard();
                return Err(e);
            }
        }
        cleaned.kept_aborted = txns.into_kept();
        cleaned.stats.keys = map.len();
        cleaned.stats.end_offset = map_end;
        cleaned.stats.segments_after = cleaned.groups.len();
        cleaned.stats.duration_ms = started.elapsed().as_millis() as u64;
        Ok(Some(cleaned))
    }

    /// Puts the keys of the dirty section into an offset map, segment by segment while the map
    /// has room (the first dirty segment always goes in). Returns the map and the offset it
    /// covers up to (a segment boundary); `None` when stopped.
    fn build_offset_map(
        &self,
        throttle: &mut dyn FnMut(u64),
        stop: &AtomicBool,
        stats: &mut CleaningStats,
    ) -> Result<Option<(OffsetMap, i64)>, StorageError> {
        // A seed no producer can know (std's per-instance random hasher keys).
        let seed = {
            use std::hash::{BuildHasher, Hasher};
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        };
        let mut map = OffsetMap::with_buffer_size(self.settings.dedupe_buffer_bytes, seed);
        // The walk starts at the first dirty segment: transactions that ended before it are
        // not its business.
        let walk_start = self
            .segments
            .iter()
            .find(|s| s.end_offset > self.first_dirty_offset)
            .map_or(i64::MAX, |s| s.base_offset);
        let mut txns = CleanedTransactions::new(
            self.aborted
                .iter()
                .filter(|t| t.last_offset >= walk_start)
                .copied()
                .collect(),
        );
        // With no dirty segment the cleaning rewrites the clean section only (tombstones and
        // markers whose horizon passed).
        let mut map_end = self
            .segments
            .iter()
            .filter(|s| s.end_offset <= self.first_dirty_offset)
            .map(|s| s.end_offset)
            .max()
            .unwrap_or(self.log_start_offset);
        let first_dirty = self.first_dirty_offset;
        for seg in &self.segments {
            if seg.end_offset <= first_dirty {
                continue;
            }
            if seg.end_offset > self.first_uncleanable_offset {
                break;
            }
            // Where the map filled up, if it did: the first offset not mapped.
            let mut full_at = None;
            let walk = for_each_batch(seg, self.settings.io_buffer_bytes, stop, |bytes, h| {
                throttle(bytes.len() as u64);
                if map.is_full() && h.last_offset() >= first_dirty {
                    full_at = Some(h.base_offset.max(first_dirty));
                    return Ok(false);
                }
                if h.last_offset() >= first_dirty {
                    map.update_latest_offset(h.last_offset());
                }
                if h.is_control() {
                    txns.on_marker(
                        h.producer_id,
                        read_marker(bytes).map(|m| m.kind),
                        h.base_offset,
                    );
                    return Ok(true);
                }
                if txns.is_aborted_data(h.producer_id, h.is_transactional(), h.last_offset())
                    || h.last_offset() < first_dirty
                {
                    return Ok(true);
                }
                let batch = parse_checked(bytes, seg)?;
                let section = batch
                    .decompressed_records(self.max_decompressed_bytes)
                    .map_err(|e| {
                        bad_batch(seg, h.base_offset, format!("cannot decompress: {e}"))
                    })?;
                for record in RecordIter::new(&section) {
                    let record =
                        record.map_err(|e| bad_batch(seg, h.base_offset, e.to_string()))?;
                    let offset = record.offset(h.base_offset);
                    if offset < first_dirty {
                        continue;
                    }
                    if let Some(key) = record.key {
                        map.put(key, offset);
                    }
                }
                Ok(true)
            })?;
            stats.bytes_read += seg.size;
            match walk {
                Walk::Stopped => return Ok(None),
                // Kafka's KAFKA-3894: clean up to where the map filled, even mid-segment; the
                // records past it are kept as they are and the next cleaning starts there.
                Walk::Halted => {
                    map_end = full_at.unwrap_or(seg.base_offset);
                    break;
                }
                Walk::Done => map_end = seg.end_offset,
            }
        }
        Ok(Some((map, map_end)))
    }

    /// Groups `segments` by size and writes one cleaned segment per group. `Ok(false)` when
    /// stopped.
    fn clean_groups(
        &self,
        segments: &[&PlannedSegment],
        map: &OffsetMap,
        txns: &mut CleanedTransactions,
        cleaned: &mut CleanedLog,
        throttle: &mut dyn FnMut(u64),
        stop: &AtomicBool,
    ) -> Result<bool, StorageError> {
        let groups = group_by_size(segments, self.segment_bytes);
        // A group whose live records are all gone shares the next group's cleaned segment
        // (when the offsets still fit one segment), so that cleanings do not leave a trail of
        // empty segments behind.
        let mut open: Option<Segment> = None;
        for (i, group) in groups.iter().enumerate() {
            let (Some(first), Some(last)) = (group.first(), group.last()) else {
                continue;
            };
            let mut out = match open.take() {
                Some(out) if last.end_offset - out.base_offset() <= i64::from(i32::MAX) => out,
                Some(mut out) => {
                    self.finish_group(&mut out, txns, cleaned)?;
                    Segment::create_cleaned(&self.dir, first.base_offset, self.now_ms)?
                }
                None => Segment::create_cleaned(&self.dir, first.base_offset, self.now_ms)?,
            };
            let replaced = group
                .iter()
                .map(|s| (s.base_offset, Arc::clone(&s.file), s.size));
            match cleaned.groups.last_mut() {
                Some(g) if g.base_offset == out.base_offset() => {
                    g.end_offset = last.end_offset;
                    g.replaced.extend(replaced);
                }
                _ => cleaned.groups.push(CleanedGroup {
                    base_offset: out.base_offset(),
                    end_offset: last.end_offset,
                    replaced: replaced.collect(),
                }),
            }
            for seg in group {
                if !self.clean_segment(seg, &mut out, map, txns, cleaned, throttle, stop)? {
                    return Ok(false);
                }
            }
            if out.is_empty() && i + 1 < groups.len() {
                open = Some(out);
            } else {
                self.finish_group(&mut out, txns, cleaned)?;
            }
        }
        if let Some(mut out) = open {
            self.finish_group(&mut out, txns, cleaned)?;
        }
        Ok(true)
    }

    /// Writes the index files of the group `out` ends (the last of `cleaned.groups`).
    fn finish_group(
        &self,
        out: &mut Segment,
        txns: &CleanedTransactions,
        cleaned: &mut CleanedLog,
    ) -> Result<(), StorageError> {
        let end = cleaned.groups.last().map_or(i64::MAX, |g| g.end_offset);
        let base = out.base_offset();
        let kept: Vec<u8> = txns
            .kept_so_far()
            .iter()
            .filter(|t| t.last_offset >= base && t.last_offset < end)
            .flat_map(txn_index::encode_entry)
            .collect();
        out.finish_cleaned(&kept)?;
        cleaned.stats.bytes_written += out.size();
        Ok(())
    }

    /// Copies the live batches of `seg` to `out`. `Ok(false)` when stopped.
    #[allow(clippy::too_many_arguments)]
    fn clean_segment(
        &self,
        seg: &PlannedSegment,
        out: &mut Segment,
        map: &OffsetMap,
        txns: &mut CleanedTransactions,
        cleaned: &mut CleanedLog,
        throttle: &mut dyn FnMut(u64),
        stop: &AtomicBool,
    ) -> Result<bool, StorageError> {
        let now = self.now_ms;
        let horizon = now.saturating_add(self.config.delete_retention_ms);
        let interval = self.index_interval_bytes;
        let stats = &mut cleaned.stats;
        let next_horizon = &mut cleaned.next_horizon_ms;
        stats.bytes_read += seg.size;
        let walk = for_each_batch(seg, self.settings.io_buffer_bytes, stop, |bytes, h| {
            throttle(bytes.len() as u64);
            stats.batches_read += 1;
            let records_in_batch = u64::try_from(h.records_count.max(0)).unwrap_or(0);
            stats.records_read += records_in_batch;
            if h.last_offset() < self.log_start_offset {
                stats.records_removed += records_in_batch;
                return Ok(true);
            }
            let batch = parse_checked(bytes, seg)?;
            let last_of_producer = h.producer_id >= 0
                && self
                    .last_batches
                    .get(&h.producer_id)
                    .is_some_and(|&(last_data, epoch)| {
                        if last_data >= 0 {
                            h.last_offset() == last_data
                        } else {
                            h.is_control() && h.producer_epoch == epoch
                        }
                    });
            let batch_horizon = h.delete_horizon_ms();
            let outcome = if h.is_control() {
                let kind = read_marker(bytes).map(|m| m.kind);
                let removable = txns.on_marker(h.producer_id, kind, h.base_offset)
                    && matches!(
                        kind,
                        Some(ControlRecordType::Abort | ControlRecordType::Commit)
                    );
                let expired = batch_horizon.is_some_and(|t| t <= now);
                let options = FilterOptions {
                    max_decompressed_bytes: self.max_decompressed_bytes,
                    delete_horizon_ms: removable.then_some(horizon),
                    retain_empty: last_of_producer,
                };
                filter_batch(&batch, &options, |_, _| !(removable && expired))
            } else {
                let aborted =
                    txns.is_aborted_data(h.producer_id, h.is_transactional(), h.last_offset());
                let options = FilterOptions {
                    max_decompressed_bytes: self.max_decompressed_bytes,
                    delete_horizon_ms: Some(horizon),
                    retain_empty: last_of_producer,
                };
                let tombstones_expired = batch_horizon.is_some_and(|t| t <= now);
                let map_latest = map.latest_offset();
                filter_batch(&batch, &options, |record, offset| {
                    if aborted {
                        return false;
                    }
                    if offset > map_latest && map_latest >= 0 {
                        return true;
                    }
                    let Some(key) = record.key else {
                        return false;
                    };
                    let latest = map.get(key).is_none_or(|latest| offset >= latest);
                    latest && (record.value.is_some() || !tombstones_expired)
                })
            }
            .map_err(|e| bad_batch(seg, h.base_offset, e.to_string()))?;
            let written: Option<std::borrow::Cow<'_, [u8]>> = match outcome {
                FilterOutcome::Unchanged => Some(bytes.into()),
                FilterOutcome::Rewritten(v) => Some(v.into()),
                FilterOutcome::Dropped => None,
            };
            let Some(written) = written else {
                stats.records_removed += records_in_batch;
                return Ok(true);
            };
            let new_header = BatchHeader::parse(&written)
                .map_err(|e| bad_batch(seg, h.base_offset, format!("rewritten batch: {e}")))?;
            stats.records_removed += records_in_batch
                .saturating_sub(u64::try_from(new_header.records_count.max(0)).unwrap_or(0));
            // Horizons already passed are not counted: what they guard could not be removed
            // now (a producer's last batch) and waits for the next dirty cleaning.
            if let Some(t) = new_header.delete_horizon_ms().filter(|&t| t > now) {
                *next_horizon = Some(next_horizon.map_or(t, |n: i64| n.min(t)));
            }
            let meta = BatchMeta::from_header(&new_header, 0);
            out.append(&written, &[meta], interval, now)?;
            throttle(written.len() as u64);
            Ok(true)
        })?;
        Ok(walk == Walk::Done)
    }
}

/// Consecutive segments whose sizes add up to at most `max_bytes` (and whose offsets fit an
/// index's 32-bit relative offsets) share one cleaned segment (Kafka's `groupSegmentsBySize`).
fn group_by_size<'a>(
    segments: &[&'a PlannedSegment],
    max_bytes: u64,
) -> Vec<Vec<&'a PlannedSegment>> {
    let mut groups: Vec<Vec<&PlannedSegment>> = Vec::new();
    let mut size = 0u64;
    for &seg in segments {
        let fits = groups.last().and_then(|g| g.first()).is_some_and(|first| {
            size + seg.size <= max_bytes
                && seg.end_offset - first.base_offset <= i64::from(i32::MAX)
        });
        match groups.last_mut() {
            Some(group) if fits => {
                group.push(seg);
                size += seg.size;
            }
            _ => {
                groups.push(vec![seg]);
                size = seg.size;
            }
        }
    }
    groups
}

/// Calls `f(batch bytes, header)` for every batch of `seg`, reading `chunk` bytes at a time.
/// Nothing read is trusted: a batch must lie inside the segment, and offsets must increase and
/// stay inside the segment's range `[base, end)` (the CRC does not cover the base offset, and a
/// cleaned segment with a wrong offset would be cut short by the next recovery). `f` returns
/// whether to go on.
fn for_each_batch(
    seg: &PlannedSegment,
    chunk: usize,
    stop: &AtomicBool,
    mut f: impl FnMut(&[u8], &BatchHeader) -> Result<bool, StorageError>,
) -> Result<Walk, StorageError> {
    let chunk = chunk.max(64 * 1024);
    let mut buf: Vec<u8> = Vec::with_capacity(chunk);
    let mut pos = 0u64;
    let mut next_offset = seg.base_offset;
    while pos < seg.size {
        if stop.load(Ordering::Relaxed) {
            return Ok(Walk::Stopped);
        }
        let want = usize::try_from((seg.size - pos).min(chunk as u64)).unwrap_or(chunk);
        buf.resize(want, 0);
        seg.file
            .read_exact_at(&mut buf, pos)
            .ctx(|| format!("read {want} bytes at {pos} of {}", seg.path.display()))?;
        let mut at = 0usize;
        while let Some(rest) = buf.get(at..) {
            if rest.len() < BATCH_HEADER_LEN {
                break;
            }
            let h = BatchHeader::parse(rest)
                .map_err(|e| corrupt(seg, pos + at as u64, e.to_string()))?;
            check_batch(seg, &h, pos + at as u64, &mut next_offset)?;
            let len = h.total_len();
            let Some(bytes) = rest.get(..len) else {
                if at == 0 {
                    // One batch larger than the chunk (its size was checked against the
                    // segment above): read it whole.
                    let mut big = vec![0u8; len];
                    seg.file
                        .read_exact_at(&mut big, pos)
                        .ctx(|| format!("read {len} bytes at {pos} of {}", seg.path.display()))?;
                    if !f(&big, &h)? {
                        return Ok(Walk::Halted);
                    }
                    at = len;
                } else {
                    // Read again from this batch's start; it was checked, so undo that.
                    next_offset = h.base_offset;
                }
                break;
            };
            if !f(bytes, &h)? {
                return Ok(Walk::Halted);
            }
            at += len;
        }
        if at == 0 {
            return Err(corrupt(
                seg,
                pos,
                "batch header does not fit the segment".into(),
            ));
        }
        pos += at as u64;
    }
    Ok(Walk::Done)
}

/// How a [`for_each_batch`] walk ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// Every batch was seen.
    Done,
    /// The callback asked to stop.
    Halted,
    /// The cleaning was stopped (`stop` set).
    Stopped,
}

/// The checks of [`for_each_batch`] on one batch header at `at`; moves `next_offset` past it.
fn check_batch(
    seg: &PlannedSegment,
    h: &BatchHeader,
    at: u64,
    next_offset: &mut i64,
) -> Result<(), StorageError> {
    let fits = at
        .checked_add(h.total_len() as u64)
        .is_some_and(|end| end <= seg.size);
    if !fits {
        return Err(corrupt(
            seg,
            at,
            format!("batch of {} bytes runs past the segment end", h.total_len()),
        ));
    }
    if h.last_offset_delta < 0 || h.base_offset < *next_offset || h.last_offset() >= seg.end_offset
    {
        return Err(corrupt(
            seg,
            at,
            format!(
                "batch offsets [{}, {}] out of place (expected at or after {}, below {})",
                h.base_offset,
                h.last_offset(),
                next_offset,
                seg.end_offset
            ),
        ));
    }
    *next_offset = h.next_offset();
    Ok(())
}

/// Parses a batch read back from a segment, checking its CRC.
fn parse_checked<'a>(
    bytes: &'a [u8],
    seg: &PlannedSegment,
) -> Result<RecordBatch<'a>, StorageError> {
    let batch = RecordBatch::parse(bytes).map_err(|e| corrupt(seg, 0, e.to_string()))?;
    if !batch.is_crc_valid() {
        return Err(corrupt(
            seg,
            0,
            format!(
                "CRC mismatch in the batch at offset {}",
                batch.header().base_offset
            ),
        ));
    }
    Ok(batch)
}

/// A batch the cleaner cannot read or rewrite (`Corrupt`, naming its base offset).
fn bad_batch(seg: &PlannedSegment, base_offset: i64, reason: String) -> StorageError {
    corrupt(seg, 0, format!("batch at offset {base_offset}: {reason}"))
}

fn corrupt(seg: &PlannedSegment, position: u64, reason: String) -> StorageError {
    StorageError::Corrupt {
        path: seg.path.clone(),
        position,
        reason,
    }
}

/// Reads the cleaner checkpoint of the log in `dir`, if any.
pub(crate) fn read_checkpoint(dir: &Path) -> Option<i64> {
    let bytes = std::fs::read(dir.join(CLEANER_CHECKPOINT_FILE)).ok()?;
    crate::checkpoint::decode_log_start_offset(&bytes)
}

/// Persists the cleaner checkpoint atomically.
pub(crate) fn write_checkpoint(dir: &Path, offset: i64) -> Result<(), StorageError> {
    crate::checkpoint::write_atomic(
        dir,
        CLEANER_CHECKPOINT_FILE,
        &crate::checkpoint::encode_log_start_offset(offset),
    )
}
