//! The partition log: the ordered segments of one partition and the public API.
//!
//! # Invariants
//! - Segments are ordered and never overlap: each segment's `next_offset` is at most the next
//!   segment's base offset (equal unless compaction removed the segment's last records), and a
//!   segment's base offset is the log end offset at the time it was rolled. There is always at
//!   least one segment; the last one is the active segment and the only one appended to.
//! - Compaction (see [`crate::cleaner`]) replaces closed segments only, keeps every remaining
//!   batch's offsets, and swaps files with one committing rename, so the directory holds either
//!   the old segments of a range or the cleaned one.
//! - `log_start_offset` lies in `[first segment base, log_end_offset]`.
//! - Every byte below `durable_offset` has been fdatasynced, and so has the directory entry of
//!   every segment file below it: segments are fsynced (with the directory) when rolled, so
//!   syncing the active file makes everything below the log end offset durable.
//! - Indexes never point at or past the end of their segment's `.log`; closed segments' index
//!   files are written (atomically) when they are rolled and the active one's at `close()`.
//! - After a failed fsync the log is poisoned and refuses every write; reads still work.
//! - Segment files are append-only except for `truncate_to` and recovery, and compaction
//!   replaces them by rename (never in place), so a [`ReadPlan`] snapshot (file handles + byte
//!   lengths) stays valid outside the caller's lock.
//! - Nothing read from disk is trusted: every length is checked before it is used.
//!
//! Producer state (idempotence and transactions, see [`crate::producer_state`]):
//! - The producer state always describes the log up to `log_end_offset`: an append is checked
//!   against a scratch copy first (all batches or none), written, and only then applied.
//! - A retried batch (same producer, epoch and sequence range as one of the producer's last five)
//!   is not written again: `append` answers with the original offsets and `duplicate: true`.
//! - Every ABORT marker that completed a transaction has an entry in the `.txnindex` of the
//!   segment holding it and in the in-memory copy; entries below the log start are forgotten, and
//!   truncation removes those at or past the new end.
//! - A snapshot `<offset>.snapshot` holds the producer state after every batch below `offset`;
//!   one is written at each roll (new segment base) and at `close()` (log end), the two newest
//!   are kept, none lies past the log end. `open` and `truncate_to` load the newest usable one and
//!   replay the batch headers after it (rewriting the `.txnindex` entries of that range), so a
//!   crash loses no producer state that the log still holds.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use strom_records::header;
use strom_records::{read_marker, BatchHeader};

use crate::checkpoint::{
    fsync_dir, fsync_file, read_log_start_offset, remove_if_exists, write_atomic,
    write_log_start_offset, CLEAN_SHUTDOWN_FILE, TMP_SUFFIX,
};
use crate::cleaner::{
    self, CleanedLog, CleanerSettings, CleaningCommit, CleaningPlan, CleaningState, CleaningStats,
    PlannedSegment,
};
use crate::config::LogConfig;
use crate::error::{IoContext, StorageError};
use crate::producer_state::{
    AbortedTxn, BatchInfo, Origin, ProducerAppend, ProducerSnapshot, ProducerStateManager,
};
use crate::query;
use crate::read::{PlanSegment, ReadPlan};
use crate::recovery::BatchMeta;
use crate::retention::{self, RetentionOutcome, SegmentSummary};
use crate::segment::{
    parse_file_name, OpenMode, Segment, INDEX_EXT, LOG_EXT, SEGMENT_EXTS, TIME_INDEX_EXT,
    TXN_INDEX_EXT,
};
use crate::snapshot;
use crate::txn_index::{self, AbortedTxns};

/// Who appends to the log, which decides the producer state checks.
#[derive(Clone, Copy)]
pub enum AppendOrigin<'a> {
    /// A producer. `verify_txn(producer_id, epoch)` answers whether the transaction coordinator
    /// has this partition in that producer's ongoing transaction; it is called (under the log's
    /// lock) only for a transactional batch that would start a transaction on this partition.
    Client {
        verify_txn: &'a dyn Fn(i64, i16) -> bool,
    },
    /// The broker itself: coordinator records and transaction markers. No sequence checks.
    Coordinator,
}

impl std::fmt::Debug for AppendOrigin<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AppendOrigin::Client { .. } => "Client",
            AppendOrigin::Coordinator => "Coordinator",
        })
    }
}

impl<'a> From<AppendOrigin<'a>> for Origin<'a> {
    fn from(o: AppendOrigin<'a>) -> Self {
        match o {
            AppendOrigin::Client { verify_txn } => Origin::Client { verify_txn },
            AppendOrigin::Coordinator => Origin::Coordinator,
        }
    }
}

/// Bytes of a batch header up to and including the partition leader epoch: what `append`
/// rewrites (base offset, length kept, leader epoch).
const PATCHED_PREFIX_LEN: usize = 16;

/// What `append` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub first_offset: i64,
    pub last_offset: i64,
    /// Set when a batch uses `LogAppendTime`: the time the validator stamped into it
    /// (`strom_records::ValidatedBatches::assign_max_timestamps`, called by the broker before append).
    pub log_append_time_ms: Option<i64>,
    /// Largest batch max timestamp of the request.
    pub max_timestamp: i64,
    /// Last offset of the batch holding `max_timestamp`.
    pub offset_of_max_timestamp: i64,
    pub batches: usize,
    pub bytes: usize,
    /// The request was a retry of a batch already in the log: nothing was written,
    /// `first_offset`/`last_offset` are the original batch's, `log_append_time_ms` is `None`,
    /// `batches` and `bytes` are 0.
    pub duplicate: bool,
}

/// What `open` found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The clean-shutdown marker was present.
    pub clean_shutdown: bool,
    /// Segments after opening.
    pub segments: usize,
    /// Bytes cut off the end of segments (torn or invalid batches).
    pub truncated_bytes: u64,
    /// Segments whose indexes were rebuilt from the `.log`.
    pub indexes_rebuilt: usize,
    /// Base offsets of segments dropped because an earlier segment ended early.
    pub dropped_segments: Vec<i64>,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
}

/// A handle to fdatasync the active segment outside the partition lock.
#[derive(Debug, Clone)]
pub struct SyncHandle {
    file: Arc<File>,
    path: PathBuf,
    dir: PathBuf,
    covers: i64,
    poisoned: Arc<AtomicBool>,
    durable: Arc<AtomicI64>,
}

impl SyncHandle {
    /// The log end offset this handle makes durable.
    pub fn covers(&self) -> i64 {
        self.covers
    }

    /// fdatasyncs the file; returns the offset everything below which is now durable.
    /// A failure poisons the log (and is fatal for the broker).
    pub fn sync(&self) -> Result<i64, StorageError> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(StorageError::Poisoned {
                dir: self.dir.clone(),
            });
        }
        if let Err(e) = fsync_file(&self.file, &self.path) {
            self.poisoned.store(true, Ordering::Release);
            tracing::error!(dir = %self.dir.display(), error = %e, "fsync failed, log poisoned");
            return Err(e);
        }
        self.durable.fetch_max(self.covers, Ordering::AcqRel);
        Ok(self.covers)
    }
}

/// One partition's log.
#[derive(Debug)]
pub struct Log {
    dir: PathBuf,
    config: LogConfig,
    segments: BTreeMap<i64, Segment>,
    log_start_offset: i64,
    poisoned: Arc<AtomicBool>,
    durable: Arc<AtomicI64>,
    producers: ProducerStateManager,
    aborted: AbortedTxns,
    /// The last cleaning's figures, for `strom topic describe`.
    last_cleaning: Option<CleaningStats>,
    /// Smallest delete horizon set by the last cleaning: a cleaning is due when it passes.
    next_horizon_ms: Option<i64>,
    /// The cleaner checkpoint (`cleaner-offset-checkpoint`): the log is clean below it.
    cleaner_checkpoint: Option<i64>,
}

fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Log {
    /// Opens (creating if missing) the log in `dir`, recovering after an unclean shutdown.
    pub fn open(
        dir: &Path,
        config: LogConfig,
        now_ms: i64,
    ) -> Result<(Log, RecoveryReport), StorageError> {
        config.validate()?;
        if !dir.exists() {
            std::fs::create_dir_all(dir).ctx(|| format!("create {}", dir.display()))?;
            if let Some(parent) = dir.parent() {
                fsync_dir(parent)?;
            }
        }
        let marker = dir.join(CLEAN_SHUTDOWN_FILE);
        let clean = marker.exists();
        let mut report = RecoveryReport {
            clean_shutdown: clean,
            ..RecoveryReport::default()
        };

        cleaner::swap::recover(dir)?;
        let mut bases = BTreeSet::new();
        let mut index_files = Vec::new();
        for entry in std::fs::read_dir(dir).ctx(|| format!("list {}", dir.display()))? {
            let entry = entry.ctx(|| format!("list {}", dir.display()))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(TMP_SUFFIX) {
                tracing::info!(file = %entry.path().display(), "removing leftover temporary file");
                remove_if_exists(&entry.path())?;
                continue;
            }
            match parse_file_name(name) {
                Some((base, LOG_EXT)) => {
                    bases.insert(base);
                }
                Some((base, INDEX_EXT | TIME_INDEX_EXT | TXN_INDEX_EXT)) => {
                    index_files.push((base, entry.path()));
                }
                _ => {}
            }
        }
        for (base, path) in index_files {
            if !bases.contains(&base) {
                tracing::info!(file = %path.display(), "removing index file without a segment");
                remove_if_exists(&path)?;
            }
        }

        let bases: Vec<i64> = bases.into_iter().collect();
        let mut segments = BTreeMap::new();
        for (i, &base) in bases.iter().enumerate() {
            let next_base = bases.get(i + 1).copied();
            let mode = if next_base.is_none() && !clean {
                OpenMode::Recover
            } else {
                OpenMode::Trusted
            };
            let (seg, r) = Segment::open(dir, base, mode, config.index_interval_bytes, now_ms)?;
            report.truncated_bytes += r.truncated_bytes;
            report.indexes_rebuilt += usize::from(r.index_rebuilt);
            if let Some(next_base) = next_base {
                // The first one stays: it holds the log start (compaction can empty a segment).
                if seg.is_empty() && !segments.is_empty() {
                    tracing::warn!(segment = %seg.log_path().display(), "removing empty inactive segment");
                    seg.delete_files()?;
                    continue;
                }
                // A gap (`next_offset < next_base`) is compaction's doing; an overlap is not ours.
                if seg.next_offset() > next_base {
                    let dropped: Vec<i64> = bases.get(i + 1..).unwrap_or(&[]).to_vec();
                    tracing::warn!(
                        segment = %seg.log_path().display(),
                        next_offset = seg.next_offset(),
                        next_segment = next_base,
                        dropped_segments = dropped.len(),
                        "segment overlaps the next one; dropping the later segments"
                    );
                    for &b in &dropped {
                        for ext in SEGMENT_EXTS {
                            remove_if_exists(&dir.join(crate::segment::file_name(b, ext)))?;
                        }
                    }
                    report.dropped_segments = dropped;
                    segments.insert(base, seg);
                    break;
                }
            }
            segments.insert(base, seg);
        }

        let checkpoint = read_log_start_offset(dir)?;
        if segments.is_empty() {
            let base = checkpoint.unwrap_or(0);
            segments.insert(base, Segment::create(dir, base, now_ms)?);
        }
        let mut log = Log {
            dir: dir.to_path_buf(),
            config,
            segments,
            log_start_offset: 0,
            poisoned: Arc::new(AtomicBool::new(false)),
            durable: Arc::new(AtomicI64::new(0)),
            producers: ProducerStateManager::new(),
            aborted: AbortedTxns::default(),
            last_cleaning: None,
            next_horizon_ms: None,
            cleaner_checkpoint: cleaner::read_checkpoint(dir),
        };
        let first_base = log.first_segment().base_offset();
        log.log_start_offset = checkpoint.map_or(first_base, |c| c.max(first_base));
        if log.log_start_offset > log.log_end_offset() {
            tracing::warn!(
                dir = %dir.display(),
                log_start_offset = log.log_start_offset,
                log_end_offset = log.log_end_offset(),
                "log start offset is past the log end; starting an empty log there"
            );
            let start = log.log_start_offset;
            log.truncate_fully_and_start_at(start, now_ms)?;
        }
        log.rebuild_producer_state()?;
        if clean {
            remove_if_exists(&marker)?;
        } else {
            log.active().flush()?;
        }
        fsync_dir(dir)?;
        log.durable.store(log.log_end_offset(), Ordering::Release);
        report.segments = log.segments.len();
        report.log_start_offset = log.log_start_offset;
        report.log_end_offset = log.log_end_offset();
        tracing::info!(
            dir = %dir.display(),
            clean_shutdown = clean,
            segments = report.segments,
            log_start_offset = report.log_start_offset,
            log_end_offset = report.log_end_offset,
            truncated_bytes = report.truncated_bytes,
            "opened partition log"
        );
        Ok((log, report))
    }

    fn first_segment(&self) -> &Segment {
        #[allow(clippy::expect_used)]
        self.segments
            .values()
            .next()
            .expect("a log always has a segment")
    }

    fn active(&self) -> &Segment {
        #[allow(clippy::expect_used)]
        self.segments
            .values()
            .next_back()
            .expect("a log always has a segment")
    }

    fn active_mut(&mut self) -> &mut Segment {
        #[allow(clippy::expect_used)]
        self.segments
            .values_mut()
            .next_back()
            .expect("a log always has a segment")
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn config(&self) -> &LogConfig {
        &self.config
    }
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }
    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset()
    }
    /// Everything below this offset has been fdatasynced.
    pub fn durable_offset(&self) -> i64 {
        self.durable.load(Ordering::Acquire)
    }
    /// Bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments.values().map(Segment::size).sum()
    }
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }
    /// Base offsets of the segments, oldest first.
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments.keys().copied().collect()
    }
    /// True after a failed fsync: every write is refused.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// Replaces the configuration (new values apply to the next roll/retention check).
    pub fn update_config(&mut self, config: LogConfig) -> Result<(), StorageError> {
        config.validate()?;
        self.config = config;
        Ok(())
    }

    fn check_writable(&self) -> Result<(), StorageError> {
        if self.is_poisoned() {
            return Err(StorageError::Poisoned {
                dir: self.dir.clone(),
            });
        }
        Ok(())
    }

    /// Poisons the log when `r` is a failed fsync (or, with `any_io`, any I/O failure).
    fn guard<T>(&self, r: Result<T, StorageError>, any_io: bool) -> Result<T, StorageError> {
        if let Err(e) = &r {
            if e.is_fsync_failure() || (any_io && matches!(e, StorageError::Io { .. })) {
                self.poisoned.store(true, Ordering::Release);
                tracing::error!(dir = %self.dir.display(), error = %e, "write failed, log poisoned");
            }
        }
        r
    }

    /// Appends complete, validated v2 batches, assigning offsets from the log end offset.
    /// Each batch goes to the active segment (rolled first when needed) with its base offset
    /// (and the leader epoch when `leader_epoch >= 0`; neither is covered by the CRC) replaced:
    /// one positional vectored write of the patched first bytes and the untouched rest, so the
    /// caller's buffer is neither modified nor copied. Timestamps are taken from the headers as
    /// the validator left them.
    ///
    /// Batches with a producer id are first checked against the producer state (Kafka's
    /// `analyzeAndValidateProducerState`): a failed check (`StorageError::ProducerState`) writes
    /// nothing. For a client, the first batch that repeats one of its producer's last five
    /// batches makes the whole call a duplicate: nothing is written and the original batch's
    /// offsets are returned with `duplicate: true`.
    pub fn append(
        &mut self,
        batches: &[u8],
        origin: AppendOrigin<'_>,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, StorageError> {
        self.check_writable()?;
        let headers = parse_request(batches)?;
        let first_offset = self.log_end_offset();
        let is_client = matches!(origin, AppendOrigin::Client { .. });
        let origin = Origin::from(origin);

        let mut producer_append = ProducerAppend::new(&self.producers);
        let mut count: i64 = 0;
        let mut log_append_time = None;
        for (pos, h) in &headers {
            let base = first_offset + count;
            count += i64::from(h.last_offset_delta) + 1;
            if h.is_log_append_time() && log_append_time.is_none() {
                log_append_time = Some(h.max_timestamp);
            }
            if h.producer_id < 0 {
                continue;
            }
            let marker = match h.is_control() {
                true => batches
                    .get(*pos..*pos + h.total_len())
                    .and_then(read_marker),
                false => None,
            };
            let info = batch_info(h, base, marker);
            if is_client {
                if let Some(dup) = producer_append.find_duplicate(&info) {
                    tracing::debug!(
                        dir = %self.dir.display(),
                        producer_id = h.producer_id,
                        first_sequence = h.base_sequence,
                        first_offset = dup.first_offset,
                        "duplicate batch; answering with the original offsets"
                    );
                    return Ok(AppendInfo {
                        first_offset: dup.first_offset,
                        last_offset: dup.last_offset,
                        log_append_time_ms: None,
                        max_timestamp: dup.timestamp,
                        offset_of_max_timestamp: dup.last_offset,
                        batches: 0,
                        bytes: 0,
                        duplicate: true,
                    });
                }
            }
            producer_append
                .append(&info, origin)
                .map_err(StorageError::ProducerState)?;
        }
        let mut update = producer_append.finish();
        let last_offset = first_offset + count - 1;
        if self.rolls_for(&headers, batches.len(), now_ms) {
            let r = self.roll_inner(now_ms);
            self.guard(r, false)?;
        }

        let mut metas = Vec::with_capacity(headers.len());
        // The first bytes of each batch with its base offset and leader epoch assigned (neither
        // is covered by the CRC): written in front of the rest of the batch, which goes to the
        // file straight from the request buffer.
        let mut prefixes: Vec<[u8; PATCHED_PREFIX_LEN]> = Vec::with_capacity(headers.len());
        let mut next = first_offset;
        let (mut max_ts, mut offset_of_max) = (i64::MIN, first_offset);
        for (pos, h) in &headers {
            let Some(prefix) = batches
                .get(*pos..*pos + PATCHED_PREFIX_LEN)
                .and_then(|b| <[u8; PATCHED_PREFIX_LEN]>::try_from(b).ok())
            else {
                continue; // parse_request checked the bounds
            };
            let mut prefix = prefix;
            header::set_base_offset(&mut prefix, next);
            if leader_epoch >= 0 {
                header::set_partition_leader_epoch(&mut prefix, leader_epoch);
            }
            prefixes.push(prefix);
            let batch_max = h.max_timestamp;
            let last = next + i64::from(h.last_offset_delta);
            if batch_max > max_ts {
                max_ts = batch_max;
                offset_of_max = last;
            }
            metas.push(BatchMeta {
                position: *pos as u64,
                size: h.total_len() as u64,
                base_offset: next,
                last_offset: last,
                max_timestamp: batch_max,
            });
            next = last + 1;
        }
        let mut pieces: Vec<&[u8]> = Vec::with_capacity(headers.len() * 2);
        for ((pos, h), prefix) in headers.iter().zip(&prefixes) {
            pieces.push(prefix);
            pieces.push(
                batches
                    .get(*pos + PATCHED_PREFIX_LEN..*pos + h.total_len())
                    .unwrap_or_default(),
            );
        }
        let interval = self.config.index_interval_bytes;
        let r = self
            .active_mut()
            .append_vectored(&pieces, &metas, interval, now_ms);
        self.guard(r, true)?;
        let aborted = std::mem::take(&mut update.aborted);
        self.producers.apply(update);
        if !aborted.is_empty() {
            let path = self.active().txn_index_path();
            for t in aborted {
                let r = txn_index::append(&path, &t);
                self.guard(r, true)?;
                self.aborted.insert(t);
            }
        }
        Ok(AppendInfo {
            first_offset,
            last_offset,
            log_append_time_ms: log_append_time,
            max_timestamp: max_ts,
            offset_of_max_timestamp: offset_of_max,
            batches: metas.len(),
            bytes: batches.len(),
            duplicate: false,
        })
    }

    /// Whether appending `batches` now would first roll a new segment (closing the active one
    /// with fsyncs and creating files), so that a caller that must not block can leave the
    /// append to a thread that may. Batches that do not parse count as rolling: the caller then
    /// takes the path that reports the error.
    pub fn append_would_roll(&self, batches: &[u8], now_ms: i64) -> bool {
        match parse_request(batches) {
            Ok(headers) => self.rolls_for(&headers, batches.len(), now_ms),
            Err(_) => true,
        }
    }

    /// Whether appending these batches (`bytes` in all) at the log end rolls a segment first.
    fn rolls_for(&self, headers: &[(usize, BatchHeader)], bytes: usize, now_ms: i64) -> bool {
        let count: i64 = headers
            .iter()
            .map(|(_, h)| i64::from(h.last_offset_delta) + 1)
            .sum();
        let incoming_max_ts = headers
            .iter()
            .map(|(_, h)| h.max_timestamp)
            .max()
            .unwrap_or(i64::MIN);
        let last_offset = self.log_end_offset() + count - 1;
        self.should_roll(bytes as u64, incoming_max_ts, last_offset, now_ms)
    }

    /// Kafka's `LogSegment.shouldRoll`, for a non-empty active segment.
    fn should_roll(&self, bytes: u64, incoming_max_ts: i64, last_offset: i64, now_ms: i64) -> bool {
        let seg = self.active();
        if seg.is_empty() {
            return false;
        }
        let c = &self.config;
        seg.size() + bytes > c.segment_bytes
            || seg.time_waited_for_roll(now_ms, incoming_max_ts) > c.segment_ms
            || seg.offset_index().is_full(c.segment_index_bytes)
            || seg.time_index().is_full(c.segment_index_bytes)
            || last_offset - seg.base_offset() > i64::from(i32::MAX)
    }

    /// Closes the active segment (fsync, index files) and starts a new one at the log end offset,
    /// with a producer state snapshot at its base.
    fn roll_inner(&mut self, now_ms: i64) -> Result<(), StorageError> {
        let leo = self.log_end_offset();
        if self.active().is_empty() {
            return Ok(());
        }
        let active = self.active_mut();
        active.flush()?;
        active.write_indexes()?;
        txn_index::sync(&active.txn_index_path())?;
        self.durable.fetch_max(leo, Ordering::AcqRel);
        let seg = Segment::create(&self.dir, leo, now_ms)?;
        fsync_dir(&self.dir)?;
        self.segments.insert(leo, seg);
        snapshot::write(&self.dir, leo, &self.producers)?;
        tracing::info!(dir = %self.dir.display(), base_offset = leo, "rolled new segment");
        Ok(())
    }

    /// Rolls a new segment now (if the active one is not empty).
    pub fn roll(&mut self, now_ms: i64) -> Result<(), StorageError> {
        self.check_writable()?;
        let r = self.roll_inner(now_ms);
        self.guard(r, false)
    }

    /// Snapshots what a fetch from `fetch_offset` needs, without I/O.
    /// `OffsetOutOfRange` when `fetch_offset` is outside `[log_start, log_end]`.
    pub fn read_plan(
        &self,
        fetch_offset: i64,
        max_offset_exclusive: i64,
    ) -> Result<ReadPlan, StorageError> {
        let (log_start, log_end) = (self.log_start_offset, self.log_end_offset());
        if fetch_offset < log_start || fetch_offset > log_end {
            return Err(StorageError::OffsetOutOfRange {
                offset: fetch_offset,
                log_start,
                log_end,
            });
        }
        let mut segments = Vec::new();
        if fetch_offset < log_end {
            let first = self
                .segments
                .range(..=fetch_offset)
                .next_back()
                .map_or(i64::MIN, |(b, _)| *b);
            for (i, seg) in self.segments.range(first..).map(|(_, s)| s).enumerate() {
                let start = match i {
                    0 => u64::from(seg.offset_index().lookup(fetch_offset).1),
                    _ => 0,
                };
                segments.push(PlanSegment {
                    file: Arc::clone(seg.file()),
                    path: seg.log_path().to_path_buf(),
                    start,
                    end: seg.size(),
                });
            }
        }
        Ok(ReadPlan {
            fetch_offset,
            max_offset_exclusive,
            log_start_offset: log_start,
            log_end_offset: log_end,
            segments,
        })
    }

    /// A handle to fdatasync the active segment outside the lock (group commit).
    pub fn sync_handle(&self) -> SyncHandle {
        let active = self.active();
        SyncHandle {
            file: Arc::clone(active.file()),
            path: active.log_path().to_path_buf(),
            dir: self.dir.clone(),
            covers: active.next_offset(),
            poisoned: Arc::clone(&self.poisoned),
            durable: Arc::clone(&self.durable),
        }
    }

    /// fdatasyncs the active segment under the caller's lock.
    pub fn flush(&mut self) -> Result<(), StorageError> {
        self.check_writable()?;
        let r = self.active().flush();
        self.guard(r, false)?;
        self.durable
            .fetch_max(self.log_end_offset(), Ordering::AcqRel);
        Ok(())
    }

    /// ListOffsets by timestamp: `(offset, timestamp)` of the first record (in offset order, at or
    /// after the log start) whose timestamp is `>= ts`.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, StorageError> {
        let log_start = self.log_start_offset;
        for seg in self.segments.values() {
            if seg.max_timestamp().is_none_or(|(max, _)| max < ts) {
                continue;
            }
            let from = seg
                .time_index()
                .lookup(ts)
                .map_or(seg.base_offset(), |(_, o)| o)
                .max(log_start);
            let mut pos = u64::from(seg.offset_index().lookup(from).1);
            while pos < seg.size() {
                let h = seg.read_header(pos)?;
                if h.last_offset() >= log_start && h.max_timestamp >= ts {
                    let batch = seg.read_bytes(pos, h.total_len())?;
                    let found = query::first_record_at_or_after(
                        &batch,
                        ts,
                        log_start,
                        self.config.max_decompressed_bytes,
                    )
                    .map_err(|reason| corrupt(seg, pos, reason))?;
                    if found.is_some() {
                        return Ok(found);
                    }
                }
                pos += h.total_len() as u64;
            }
        }
        Ok(None)
    }

    /// ListOffsets `MAX_TIMESTAMP`: `(offset, timestamp)` of the record with the largest timestamp
    /// (the first one if several share it). `None` for an empty log.
    pub fn max_timestamp_offset(&self) -> Result<Option<(i64, i64)>, StorageError> {
        let mut best: Option<(&Segment, i64, i64)> = None;
        for seg in self.segments.values() {
            if let Some((ts, off)) = seg.max_timestamp() {
                if best.is_none_or(|(_, b, _)| ts > b) {
                    best = Some((seg, ts, off));
                }
            }
        }
        let Some((seg, max_ts, offset)) = best else {
            return Ok(None);
        };
        let mut pos = u64::from(seg.offset_index().lookup(offset).1);
        while pos < seg.size() {
            let h = seg.read_header(pos)?;
            if h.max_timestamp == max_ts {
                let batch = seg.read_bytes(pos, h.total_len())?;
                let found = query::max_timestamp_record(&batch, self.config.max_decompressed_bytes)
                    .map_err(|reason| corrupt(seg, pos, reason))?;
                return Ok(Some(found.unwrap_or((h.last_offset(), max_ts))));
            }
            pos += h.total_len() as u64;
        }
        Ok(None)
    }

    /// DeleteRecords: moves the log start offset to `offset` (persisted) and deletes the segments
    /// entirely below it (never the active one). Returns the new log start offset.
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64, StorageError> {
        self.check_writable()?;
        let log_end = self.log_end_offset();
        if offset < 0 || offset > log_end {
            return Err(StorageError::OffsetOutOfRange {
                offset,
                log_start: self.log_start_offset,
                log_end,
            });
        }
        if offset <= self.log_start_offset {
            return Ok(self.log_start_offset);
        }
        let r = write_log_start_offset(&self.dir, offset);
        self.guard(r, false)?;
        self.log_start_offset = offset;
        let r = self.delete_segments_below(offset);
        self.guard(r, false)?;
        tracing::info!(dir = %self.dir.display(), log_start_offset = offset, "moved log start offset");
        Ok(offset)
    }

    /// Deletes leading segments whose next segment starts at or below `offset`.
    fn delete_segments_below(&mut self, offset: i64) -> Result<usize, StorageError> {
        let keys: Vec<i64> = self.segments.keys().copied().collect();
        let n = keys
            .windows(2)
            .take_while(|w| w.get(1).is_some_and(|next| *next <= offset))
            .count();
        self.delete_first(n).map(|(n, _)| n)
    }

    /// Removes the `n` oldest segments (never all of them) and fsyncs the directory.
    fn delete_first(&mut self, n: usize) -> Result<(usize, u64), StorageError> {
        let n = n.min(self.segments.len().saturating_sub(1));
        let mut bytes = 0;
        for _ in 0..n {
            if let Some((_, seg)) = self.segments.pop_first() {
                bytes += seg.size();
                tracing::info!(segment = %seg.log_path().display(), size = seg.size(), "deleting segment");
                seg.delete_files()?;
            }
        }
        if n > 0 {
            fsync_dir(&self.dir)?;
        }
        let first = self.first_segment().base_offset();
        self.log_start_offset = self.log_start_offset.max(first);
        self.on_log_start_moved();
        Ok((n, bytes))
    }

    /// Forgets the aborted transactions and producers the log start left behind (Kafka's
    /// `truncateHead`).
    fn on_log_start_moved(&mut self) {
        self.aborted.drop_below(self.log_start_offset);
        let removed = self.producers.truncate_head(self.log_start_offset);
        if removed > 0 {
            tracing::debug!(dir = %self.dir.display(), removed, "removed producers below the log start");
        }
    }

    /// Deletes old segments by log start offset, `retention.bytes` and `retention.ms`
    /// (Kafka's `deleteOldSegments`); only segments entirely below `high_watermark`. An expired
    /// non-empty active segment is rolled first and then deleted.
    pub fn apply_retention(
        &mut self,
        now_ms: i64,
        high_watermark: i64,
    ) -> Result<RetentionOutcome, StorageError> {
        self.check_writable()?;
        let summaries: Vec<SegmentSummary> = self
            .segments
            .values()
            .map(|s| SegmentSummary {
                base_offset: s.base_offset(),
                size: s.size(),
                largest_timestamp: s.largest_timestamp(),
            })
            .collect();
        let (by_start, by_size, by_time) = retention::plan(
            &summaries,
            self.log_start_offset,
            self.log_end_offset(),
            high_watermark,
            &self.config,
            now_ms,
        );
        let n = by_start + by_size + by_time;
        let mut outcome = RetentionOutcome {
            deleted_by_log_start: by_start,
            deleted_by_size: by_size,
            deleted_by_time: by_time,
            deleted_bytes: 0,
            log_start_offset: self.log_start_offset,
        };
        if n == 0 {
            return Ok(outcome);
        }
        if n >= self.segments.len() {
            let r = self.roll_inner(now_ms);
            self.guard(r, false)?;
        }
        let r = self.delete_first(n);
        let (_, bytes) = self.guard(r, false)?;
        outcome.deleted_bytes = bytes;
        outcome.log_start_offset = self.log_start_offset;
        tracing::info!(
            dir = %self.dir.display(),
            by_log_start = by_start,
            by_size,
            by_time,
            deleted_bytes = bytes,
            log_start_offset = self.log_start_offset,
            "applied retention"
        );
        Ok(outcome)
    }

    /// Removes every batch holding an offset `>= offset` (whole batches; replication).
    pub fn truncate_to(&mut self, offset: i64) -> Result<(), StorageError> {
        self.check_writable()?;
        let r = self.truncate_inner(offset);
        self.guard(r, true)?;
        // What is appended after the truncation point is new, dirty data.
        if self.cleaner_checkpoint.is_some_and(|c| c > offset) {
            let r = cleaner::write_checkpoint(&self.dir, offset);
            self.guard(r, false)?;
            self.cleaner_checkpoint = Some(offset);
        }
        Ok(())
    }

    fn truncate_inner(&mut self, offset: i64) -> Result<(), StorageError> {
        let log_end = self.log_end_offset();
        if offset < 0 {
            return Err(StorageError::OffsetOutOfRange {
                offset,
                log_start: self.log_start_offset,
                log_end,
            });
        }
        if offset >= log_end {
            return Ok(());
        }
        if offset < self.first_segment().base_offset() {
            return self.truncate_fully_and_start_at(offset, wall_clock_ms());
        }
        let doomed: Vec<i64> = self.segments.range(offset + 1..).map(|(b, _)| *b).collect();
        for b in doomed {
            if let Some(seg) = self.segments.remove(&b) {
                seg.delete_files()?;
            }
        }
        let interval = self.config.index_interval_bytes;
        let removed = self.active_mut().truncate_to_offset(offset, interval)?;
        fsync_dir(&self.dir)?;
        let leo = self.log_end_offset();
        self.durable.fetch_min(leo, Ordering::AcqRel);
        if self.log_start_offset > leo {
            self.log_start_offset = leo;
            write_log_start_offset(&self.dir, leo)?;
        }
        self.rebuild_producer_state()?;
        tracing::info!(dir = %self.dir.display(), target = offset, log_end_offset = leo, removed_bytes = removed, "truncated log");
        Ok(())
    }

    /// Deletes every segment and starts an empty log at `offset`.
    fn truncate_fully_and_start_at(
        &mut self,
        offset: i64,
        now_ms: i64,
    ) -> Result<(), StorageError> {
        for seg in std::mem::take(&mut self.segments).into_values() {
            seg.delete_files()?;
        }
        let seg = Segment::create(&self.dir, offset, now_ms)?;
        self.segments.insert(offset, seg);
        fsync_dir(&self.dir)?;
        self.log_start_offset = offset;
        write_log_start_offset(&self.dir, offset)?;
        self.durable.store(offset, Ordering::Release);
        self.producers = ProducerStateManager::new();
        self.aborted.clear();
        snapshot::delete_all(&self.dir)?;
        tracing::info!(dir = %self.dir.display(), offset, "truncated log fully");
        Ok(())
    }

    /// Earliest first offset of any ongoing transaction; the last stable offset is the minimum of
    /// this and the high watermark.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        // Retention and DeleteRecords may move the log start past an open transaction's first
        // offset; the last stable offset never points below the log start (Kafka clamps too).
        self.producers
            .first_unstable_offset()
            .map(|offset| offset.max(self.log_start_offset))
    }

    /// Aborted transactions a READ_COMMITTED fetch of `[fetch_offset, upper_bound_offset)` must
    /// report: marker at or after `fetch_offset`, first offset below `upper_bound_offset`,
    /// ordered by first offset.
    pub fn aborted_transactions(
        &self,
        fetch_offset: i64,
        upper_bound_offset: i64,
    ) -> Vec<AbortedTxn> {
        self.aborted.collect(fetch_offset, upper_bound_offset)
    }

    /// Every producer's state (DescribeProducers).
    pub fn producers(&self) -> Vec<ProducerSnapshot> {
        self.producers.snapshots()
    }

    /// Whether `producer_id` has an ongoing transaction on this partition.
    pub fn has_ongoing_txn(&self, producer_id: i64) -> bool {
        self.producers.has_ongoing_txn(producer_id)
    }

    /// Removes producers without an ongoing transaction whose last write is at least
    /// `producer_id_expiration_ms` old (Kafka's `producer.id.expiration.ms`). Returns how many.
    pub fn remove_expired_producers(
        &mut self,
        now_ms: i64,
        producer_id_expiration_ms: i64,
    ) -> usize {
        self.producers
            .remove_expired(now_ms, producer_id_expiration_ms)
    }

    /// Rebuilds the producer state and the aborted transactions from the newest snapshot at or
    /// below the log end and the batches after it. The `.txnindex` entries of the replayed range
    /// are removed first and written again by the replay, so none is lost or duplicated.
    fn rebuild_producer_state(&mut self) -> Result<(), StorageError> {
        let leo = self.log_end_offset();
        let first_base = self.first_segment().base_offset();
        snapshot::delete_above(&self.dir, leo)?;
        let (start, state) = match snapshot::load_newest(&self.dir, leo)? {
            Some((offset, state)) => (offset.max(first_base), state),
            None => (first_base, ProducerStateManager::new()),
        };
        self.producers = state;
        self.aborted.clear();
        for seg in self.segments.values() {
            let (base, next) = (seg.base_offset(), seg.next_offset());
            for t in txn_index::truncate_from(&seg.txn_index_path(), start)? {
                if (base..next).contains(&t.last_offset) {
                    self.aborted.insert(t);
                } else {
                    tracing::warn!(
                        path = %seg.txn_index_path().display(),
                        last_offset = t.last_offset,
                        "ignoring transaction index entry outside its segment"
                    );
                }
            }
        }
        let replayed = self.replay(start)?;
        self.on_log_start_moved();
        tracing::debug!(
            dir = %self.dir.display(),
            from = start,
            batches = replayed,
            producers = self.producers.len(),
            aborted_txns = self.aborted.len(),
            "rebuilt producer state"
        );
        Ok(())
    }

    /// Applies the batches from `start` to the log end to the producer state without checks,
    /// appending the aborted transactions found to the `.txnindex` files. A damaged header ends
    /// the replay of its segment (with a warning). Returns the number of batches replayed.
    fn replay(&mut self, start: i64) -> Result<u64, StorageError> {
        let mut state = std::mem::take(&mut self.producers);
        let mut found: Vec<(PathBuf, AbortedTxn)> = Vec::new();
        let mut replayed = 0u64;
        let first = self
            .segments
            .range(..=start)
            .next_back()
            .map_or(i64::MIN, |(b, _)| *b);
        for seg in self.segments.range(first..).map(|(_, s)| s) {
            let r = replay_segment(seg, start, &mut state, &mut found);
            match r {
                Ok(n) => replayed += n,
                Err(e @ StorageError::Corrupt { .. }) => {
                    tracing::warn!(segment = %seg.log_path().display(), error = %e, "stopping producer state replay of a damaged segment");
                }
                Err(e) => {
                    self.producers = state;
                    return Err(e);
                }
            }
        }
        self.producers = state;
        let mut touched = BTreeSet::new();
        for (path, t) in found {
            txn_index::append(&path, &t)?;
            self.aborted.insert(t);
            touched.insert(path);
        }
        // A later snapshot will vouch for these entries: make them durable now.
        for path in touched {
            txn_index::sync(&path)?;
        }
        Ok(replayed)
    }

    // ---- compaction (see crate::cleaner) ------------------------------------------------------

    /// Where compaction stands; `None` unless the log is compacted (`cleanup.policy=compact`).
    pub fn cleaning_state(&self, now_ms: i64) -> Option<CleaningState> {
        let config = &self.config.compaction;
        if !config.enabled || self.is_poisoned() {
            return None;
        }
        let first_dirty = self.first_dirty_offset();
        let first_uncleanable = self.first_uncleanable_offset(first_dirty, now_ms);
        let mut state = CleaningState {
            first_dirty_offset: first_dirty,
            first_uncleanable_offset: first_uncleanable,
            clean_bytes: 0,
            dirty_bytes: 0,
            lag_exceeded: false,
            horizon_passed: self.next_horizon_ms.is_some_and(|t| t <= now_ms),
            min_cleanable_dirty_ratio: config.min_cleanable_dirty_ratio,
        };
        // Kafka's `maxCompactionDelay`: the oldest first-batch time of the dirty segments.
        let mut oldest_dirty: Option<i64> = None;
        for (_, end, seg) in self.closed_segments() {
            if end <= first_dirty {
                state.clean_bytes += seg.size();
            } else if end <= first_uncleanable {
                state.dirty_bytes += seg.size();
                if let Some(ts) = seg.first_batch_timestamp().filter(|&t| t > 0) {
                    oldest_dirty = Some(oldest_dirty.map_or(ts, |o| o.min(ts)));
                }
            }
        }
        state.lag_exceeded = config.max_compaction_lag_ms < i64::MAX
            && oldest_dirty
                .is_some_and(|ts| now_ms.saturating_sub(ts) > config.max_compaction_lag_ms);
        Some(state)
    }

    /// The figures of the last cleaning since the log was opened.
    pub fn last_cleaning(&self) -> Option<&CleaningStats> {
        self.last_cleaning.as_ref()
    }

    /// The cleaner checkpoint, within `[log start, log end]`.
    fn first_dirty_offset(&self) -> i64 {
        let start = self.log_start_offset;
        match self.cleaner_checkpoint {
            Some(c) if c >= start && c <= self.log_end_offset() => c,
            _ => start,
        }
    }

    /// Kafka's `firstUncleanableDirtyOffset`: the active segment, an open transaction and
    /// `min.compaction.lag.ms` bound what may be cleaned.
    fn first_uncleanable_offset(&self, first_dirty: i64, now_ms: i64) -> i64 {
        let mut limit = self.active().base_offset();
        if let Some(unstable) = self.first_unstable_offset() {
            limit = limit.min(unstable);
        }
        let lag = self.config.compaction.min_compaction_lag_ms;
        if lag > 0 {
            if let Some((base, _, _)) = self.closed_segments().find(|(_, end, seg)| {
                *end > first_dirty && seg.largest_timestamp() > now_ms.saturating_sub(lag)
            }) {
                limit = limit.min(base);
            }
        }
        limit
    }

    /// Closed segments with the base offset of the segment after each.
    fn closed_segments(&self) -> impl Iterator<Item = (i64, i64, &Segment)> {
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        self.segments
            .values()
            .zip(bases.into_iter().skip(1))
            .map(|(seg, end)| (seg.base_offset(), end, seg))
    }

    /// Snapshots a cleaning, or `None` when the log is not compacted, poisoned, or has nothing
    /// cleanable. No I/O; see [`crate::cleaner`].
    pub fn plan_cleaning(&self, now_ms: i64, settings: CleanerSettings) -> Option<CleaningPlan> {
        if self.is_poisoned() {
            return None;
        }
        let state = self.cleaning_state(now_ms)?;
        let end = state.first_uncleanable_offset;
        let segments: Vec<PlannedSegment> = self
            .closed_segments()
            .take_while(|(_, seg_end, _)| *seg_end <= end)
            .map(|(base, seg_end, seg)| PlannedSegment {
                base_offset: base,
                end_offset: seg_end,
                file: Arc::clone(seg.file()),
                path: seg.log_path().to_path_buf(),
                size: seg.size(),
            })
            .collect();
        if segments.is_empty() {
            return None;
        }
        let last_batches = self
            .producers
            .entries()
            .map(|e| (e.producer_id, (e.last_data_offset, e.epoch)))
            .collect();
        Some(CleaningPlan {
            dir: self.dir.clone(),
            segments,
            log_start_offset: self.log_start_offset,
            first_dirty_offset: state.first_dirty_offset,
            first_uncleanable_offset: end,
            aborted: self.aborted.all(),
            last_batches,
            config: self.config.compaction,
            segment_bytes: self.config.segment_bytes,
            index_interval_bytes: self.config.index_interval_bytes,
            max_decompressed_bytes: self.config.max_decompressed_bytes,
            settings,
            now_ms,
        })
    }

    /// Swaps in the next group of segments a [`CleaningPlan`] wrote (one committing rename, see
    /// [`cleaner::swap`]), if every segment it replaces is still the log's, unchanged (retention,
    /// DeleteRecords or truncation may have run since the plan). Call until the answer is not
    /// [`CleaningCommit::Progress`]; the caller may release the log's lock between calls so that
    /// produce and fetch are held up by one group at a time. A group that no longer applies
    /// discards the rest of the cleaning (the groups already in stay: each is complete). A failure
    /// after a group's commit point poisons the log; reopening it finishes the swap.
    pub fn commit_cleaning(
        &mut self,
        cleaned: &mut CleanedLog,
    ) -> Result<CleaningCommit, StorageError> {
        if cleaned.segments_before == 0 {
            cleaned.segments_before = self.segments.len();
        }
        let Some(g) = cleaned.groups.get(cleaned.committed) else {
            return Ok(self.finish_cleaning(cleaned));
        };
        let unchanged = g.replaced.iter().all(|(base, file, size)| {
            self.segments
                .get(base)
                .is_some_and(|seg| Arc::ptr_eq(seg.file(), file) && seg.size() == *size)
        }) && self.segments.range(g.base_offset..g.end_offset).count()
            == g.replaced.len()
            && self.segments.contains_key(&g.end_offset);
        if self.is_poisoned() || !unchanged {
            tracing::info!(dir = %self.dir.display(), "log changed during cleaning; discarding the rest of the cleaned segments");
            cleaned.discard_from(cleaned.committed);
            return Ok(CleaningCommit::Discarded);
        }
        let (base, end) = (g.base_offset, g.end_offset);
        let kept: Vec<AbortedTxn> = cleaned
            .kept_aborted
            .iter()
            .filter(|t| t.last_offset >= base && t.last_offset < end)
            .copied()
            .collect();
        cleaner::swap::commit(&self.dir, base, end)?;
        // Past the commit point: any failure leaves the directory ahead of memory.
        let swapped = cleaner::swap::finish(&self.dir, base, end).and_then(|()| {
            Segment::open(
                &self.dir,
                base,
                OpenMode::Trusted,
                self.config.index_interval_bytes,
                wall_clock_ms(),
            )
        });
        let seg = match swapped {
            Ok((seg, _)) => seg,
            Err(e) => {
                self.poisoned.store(true, Ordering::Release);
                tracing::error!(dir = %self.dir.display(), error = %e, "swapping in cleaned segments failed, log poisoned");
                return Err(e);
            }
        };
        let old: Vec<i64> = self.segments.range(base..end).map(|(b, _)| *b).collect();
        for b in old {
            self.segments.remove(&b);
        }
        self.segments.insert(base, seg);
        self.aborted.replace_range(base, end, kept);
        cleaned.committed += 1;
        if cleaned.committed < cleaned.groups.len() {
            return Ok(CleaningCommit::Progress);
        }
        let r = cleaner::write_checkpoint(&self.dir, cleaned.stats.end_offset);
        self.guard(r, false)?;
        self.cleaner_checkpoint = Some(cleaned.stats.end_offset);
        Ok(self.finish_cleaning(cleaned))
    }

    /// The last step of a complete cleaning: its figures.
    fn finish_cleaning(&mut self, cleaned: &CleanedLog) -> CleaningCommit {
        let mut stats = cleaned.stats;
        stats.segments_before = cleaned.segments_before;
        stats.segments_after = self.segments.len();
        self.next_horizon_ms = cleaned.next_horizon_ms;
        self.last_cleaning = Some(stats);
        tracing::info!(
            dir = %self.dir.display(),
            bytes_read = stats.bytes_read,
            bytes_written = stats.bytes_written,
            records_read = stats.records_read,
            records_removed = stats.records_removed,
            keys = stats.keys,
            segments_before = stats.segments_before,
            segments_after = stats.segments_after,
            cleaned_up_to = stats.end_offset,
            duration_ms = stats.duration_ms,
            "cleaned log"
        );
        CleaningCommit::Done(stats)
    }

    /// Flushes, writes the active segment's indexes, a producer state snapshot at the log end and
    /// the clean-shutdown marker.
    pub fn close(mut self) -> Result<(), StorageError> {
        self.check_writable()?;
        let active = self.active_mut();
        active.flush()?;
        active.write_indexes()?;
        txn_index::sync(&active.txn_index_path())?;
        snapshot::write(&self.dir, self.log_end_offset(), &self.producers)?;
        write_atomic(&self.dir, CLEAN_SHUTDOWN_FILE, b"")?;
        tracing::info!(dir = %self.dir.display(), log_end_offset = self.log_end_offset(), "closed partition log");
        Ok(())
    }

    /// Removes the partition directory (topic deletion). Open read plans keep their files readable.
    pub fn delete(self) -> Result<(), StorageError> {
        std::fs::remove_dir_all(&self.dir).ctx(|| format!("remove {}", self.dir.display()))?;
        if let Some(parent) = self.dir.parent() {
            fsync_dir(parent)?;
        }
        tracing::info!(dir = %self.dir.display(), "deleted partition log");
        Ok(())
    }
}

/// What the producer state needs of a batch the log places at `base_offset`.
fn batch_info(
    h: &BatchHeader,
    base_offset: i64,
    marker: Option<strom_records::EndTxnMarker>,
) -> BatchInfo {
    BatchInfo {
        producer_id: h.producer_id,
        epoch: h.producer_epoch,
        base_sequence: h.base_sequence,
        last_offset_delta: h.last_offset_delta,
        first_offset: base_offset,
        last_offset: base_offset + i64::from(h.last_offset_delta),
        max_timestamp: h.max_timestamp,
        transactional: h.is_transactional(),
        control: h.is_control(),
        marker,
    }
}

/// Replays the batches of `seg` that start at or after `start`.
fn replay_segment(
    seg: &Segment,
    start: i64,
    state: &mut ProducerStateManager,
    found: &mut Vec<(PathBuf, AbortedTxn)>,
) -> Result<u64, StorageError> {
    let mut pos = seg.position_of(start)?;
    let mut n = 0;
    while pos < seg.size() {
        let h = seg.read_header(pos)?;
        if h.producer_id >= 0 && h.base_offset >= start {
            let marker = match h.is_control() {
                true => read_marker(&seg.read_bytes(pos, h.total_len())?),
                false => None,
            };
            // An empty control batch is what compaction keeps of a producer's last marker.
            if h.is_control() && marker.is_none() && h.records_count > 0 {
                tracing::warn!(segment = %seg.log_path().display(), offset = h.base_offset, "skipping a control batch without a readable marker");
            } else {
                let mut append = ProducerAppend::new(state);
                if append
                    .append(&batch_info(&h, h.base_offset, marker), Origin::Replay)
                    .is_ok()
                {
                    let update = append.finish();
                    for t in &update.aborted {
                        found.push((seg.txn_index_path(), *t));
                    }
                    state.apply(update);
                }
            }
            n += 1;
        }
        pos += h.total_len() as u64;
    }
    Ok(n)
}

fn corrupt(seg: &Segment, position: u64, reason: String) -> StorageError {
    StorageError::Corrupt {
        path: seg.log_path().to_path_buf(),
        position,
        reason,
    }
}

/// Splits an append request into `(position, header)` of each batch, checking structure only.
fn parse_request(bytes: &[u8]) -> Result<Vec<(usize, BatchHeader)>, StorageError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let invalid = |reason: String| StorageError::InvalidBatch {
            position: pos,
            reason,
        };
        let rest = bytes.get(pos..).unwrap_or(&[]);
        let h = BatchHeader::parse(rest).map_err(|e| invalid(e.to_string()))?;
        if h.total_len() > rest.len() {
            return Err(invalid(format!(
                "batch length {} runs past the request end",
                h.total_len()
            )));
        }
        if h.last_offset_delta < 0 {
            return Err(invalid(format!(
                "negative last offset delta {}",
                h.last_offset_delta
            )));
        }
        out.push((pos, h));
        pos += h.total_len();
    }
    if out.is_empty() {
        return Err(StorageError::InvalidBatch {
            position: 0,
            reason: "no batches".into(),
        });
    }
    Ok(out)
}
