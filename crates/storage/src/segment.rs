//! One segment: a `.log` file of concatenated batches plus its in-memory offset and time indexes.
//!
//! The `.log` file is append-only (except for `truncate_to`), written with positional writes at
//! `size`. The `.index` and `.timeindex` files are written whole, atomically, when the segment is
//! rolled or the log is closed; on open they are loaded if sane and rebuilt from the `.log`
//! otherwise. The `.txnindex` (aborted transactions, see [`crate::txn_index`]) is appended to on
//! each ABORT marker and fsynced when the segment is rolled and at close; it goes with the
//! segment. Invariant: index entries never point at or past `size`.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use strom_records::{BatchHeader, BATCH_HEADER_LEN};

use crate::checkpoint::{fsync_file, remove_if_exists, write_atomic};
use crate::error::{IoContext, StorageError};
use crate::offset_index::OffsetIndex;
use crate::recovery::{scan_batches, BatchMeta, Invalid, ScanOutcome, Validation};
use crate::time_index::TimeIndex;

pub const LOG_EXT: &str = "log";
pub const INDEX_EXT: &str = "index";
pub const TIME_INDEX_EXT: &str = "timeindex";
/// Aborted transactions whose ABORT marker is in the segment (see [`crate::txn_index`]).
pub const TXN_INDEX_EXT: &str = "txnindex";
/// Every file that belongs to a segment.
pub const SEGMENT_EXTS: [&str; 4] = [LOG_EXT, INDEX_EXT, TIME_INDEX_EXT, TXN_INDEX_EXT];

/// `00000000000000000042.log` and friends.
pub fn file_name(base_offset: i64, ext: &str) -> String {
    format!("{base_offset:020}.{ext}")
}

/// Parses `<20 digits>.<ext>` into the base offset and the extension.
pub fn parse_file_name(name: &str) -> Option<(i64, &str)> {
    let (stem, ext) = name.split_once('.')?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((stem.parse().ok()?, ext))
}

/// How much to trust a segment's files on open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// After a clean shutdown: load indexes, walk headers from the last index entry.
    Trusted,
    /// After a crash: validate every batch (CRC included) and rebuild the indexes.
    Recover,
}

/// What opening a segment found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentOpen {
    /// Bytes cut off the end of the `.log`.
    pub truncated_bytes: u64,
    /// Why the tail was cut, if it was.
    pub invalid: Option<Invalid>,
    /// The indexes were rebuilt from the `.log`.
    pub index_rebuilt: bool,
}

/// One segment of the log.
#[derive(Debug)]
pub struct Segment {
    base_offset: i64,
    dir: PathBuf,
    log_path: PathBuf,
    file: Arc<File>,
    /// Bytes of valid batches in the file; writes go here.
    size: u64,
    /// Offset after the last batch (= `base_offset` when empty).
    next_offset: i64,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    bytes_since_index: u64,
    /// Largest batch max timestamp and the last offset of the batch that first reached it.
    max_timestamp: Option<(i64, i64)>,
    /// Max timestamp of the first batch: `segment.ms` counts from it.
    first_batch_timestamp: Option<i64>,
    created_ms: i64,
    last_modified_ms: i64,
}

impl Segment {
    fn blank(dir: &Path, base_offset: i64, file: File, now_ms: i64) -> Self {
        Segment {
            base_offset,
            dir: dir.to_path_buf(),
            log_path: dir.join(file_name(base_offset, LOG_EXT)),
            file: Arc::new(file),
            size: 0,
            next_offset: base_offset,
            offset_index: OffsetIndex::new(base_offset),
            time_index: TimeIndex::new(base_offset),
            bytes_since_index: 0,
            max_timestamp: None,
            first_batch_timestamp: None,
            created_ms: now_ms,
            last_modified_ms: now_ms,
        }
    }

    /// Creates an empty segment (replacing stale files of the same name). The caller fsyncs the dir.
    pub fn create(dir: &Path, base_offset: i64, now_ms: i64) -> Result<Self, StorageError> {
        let path = dir.join(file_name(base_offset, LOG_EXT));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .ctx(|| format!("create segment {}", path.display()))?;
        for ext in [INDEX_EXT, TIME_INDEX_EXT, TXN_INDEX_EXT] {
            remove_if_exists(&dir.join(file_name(base_offset, ext)))?;
        }
        Ok(Segment::blank(dir, base_offset, file, now_ms))
    }

    /// Creates the cleaner's replacement for the segments from `base_offset` on, as
    /// `<base>.log.cleaned` (see [`crate::cleaner::swap`]); written with [`Self::append`] and
    /// finished with [`Self::finish_cleaned`].
    pub fn create_cleaned(dir: &Path, base_offset: i64, now_ms: i64) -> Result<Self, StorageError> {
        let path = dir.join(crate::cleaner::swap::cleaned_name(base_offset, LOG_EXT));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .ctx(|| format!("create {}", path.display()))?;
        let mut seg = Segment::blank(dir, base_offset, file, now_ms);
        seg.log_path = path;
        Ok(seg)
    }

    /// Writes a cleaned segment's index files as `.cleaned` and fdatasyncs everything
    /// (`aborted`: the `.txnindex` entries, written even when empty).
    pub fn finish_cleaned(&mut self, aborted: &[u8]) -> Result<(), StorageError> {
        use crate::cleaner::swap::cleaned_name;
        let [index, time_index] = self.final_indexes();
        let files = [index, time_index, (TXN_INDEX_EXT, aborted.to_vec())];
        for (ext, contents) in files {
            let path = self.dir.join(cleaned_name(self.base_offset, ext));
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .ctx(|| format!("create {}", path.display()))?;
            std::io::Write::write_all(&mut f, &contents)
                .ctx(|| format!("write {}", path.display()))?;
            fsync_file(&f, &path)?;
        }
        fsync_file(&self.file, &self.log_path)
    }

    /// Opens an existing segment and brings its state in line with the `.log` file.
    pub fn open(
        dir: &Path,
        base_offset: i64,
        mode: OpenMode,
        index_interval: u32,
        now_ms: i64,
    ) -> Result<(Self, SegmentOpen), StorageError> {
        let path = dir.join(file_name(base_offset, LOG_EXT));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .ctx(|| format!("open segment {}", path.display()))?;
        let meta = file
            .metadata()
            .ctx(|| format!("stat segment {}", path.display()))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .and_then(|d| i64::try_from(d.as_millis()).ok())
            .unwrap_or(now_ms);
        let mut seg = Segment::blank(dir, base_offset, file, now_ms);
        seg.size = meta.len();
        seg.last_modified_ms = mtime;
        let report = match mode {
            OpenMode::Recover => seg.rebuild(Validation::Full, index_interval)?,
            OpenMode::Trusted => match seg.load_indexes() {
                Ok(()) => match seg.walk_tail(index_interval)? {
                    Some(report) => report,
                    None => seg.rebuild(Validation::HeadersOnly, index_interval)?,
                },
                Err(reason) => {
                    tracing::info!(segment = %seg.log_path.display(), %reason, "rebuilding segment indexes");
                    seg.rebuild(Validation::HeadersOnly, index_interval)?
                }
            },
        };
        seg.first_batch_timestamp = match seg.size {
            0 => None,
            _ => Some(seg.read_header(0)?.max_timestamp),
        };
        Ok((seg, report))
    }

    /// Loads both index files; any problem means "rebuild".
    fn load_indexes(&mut self) -> Result<(), String> {
        let read = |ext: &str| {
            let p = self.dir.join(file_name(self.base_offset, ext));
            std::fs::read(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))
        };
        let oi = OffsetIndex::decode(self.base_offset, &read(INDEX_EXT)?, self.size)
            .map_err(|e| format!("offset index: {e}"))?;
        let ti = TimeIndex::decode(self.base_offset, &read(TIME_INDEX_EXT)?)
            .map_err(|e| format!("time index: {e}"))?;
        if oi.is_empty() && self.size > 0 {
            // Small segment or index never written: a rebuild costs no more than the tail walk.
            return Err("offset index is empty".into());
        }
        self.offset_index = oi;
        self.time_index = ti;
        Ok(())
    }

    /// Walks the batches after the last index entry. `None` when the indexes don't match the log.
    fn walk_tail(&mut self, index_interval: u32) -> Result<Option<SegmentOpen>, StorageError> {
        let (entry_offset, start) = self.offset_index.lookup(i64::MAX);
        self.max_timestamp = self.time_index.last();
        self.bytes_since_index = 0;
        let mut first_last_offset = None;
        let file = Arc::clone(&self.file);
        let out = scan_batches(
            &*file,
            u64::from(start),
            self.size,
            self.base_offset,
            None,
            true,
            Validation::HeadersOnly,
            |m| {
                first_last_offset.get_or_insert(m.last_offset);
                self.index_batch(m, index_interval);
            },
        )
        .ctx(|| format!("read segment {}", self.log_path.display()))?;
        let Some(next) = out.next_offset else {
            return Ok(None);
        };
        if first_last_offset != Some(entry_offset)
            || self.time_index.last().is_some_and(|(_, o)| o >= next)
        {
            return Ok(None);
        }
        self.next_offset = next;
        self.apply_scan(out).map(Some)
    }

    /// Forgets the indexes and walks the whole `.log`, truncating at the first invalid batch.
    fn rebuild(
        &mut self,
        validation: Validation,
        index_interval: u32,
    ) -> Result<SegmentOpen, StorageError> {
        self.offset_index.clear();
        self.time_index.clear();
        self.max_timestamp = None;
        self.bytes_since_index = 0;
        let file = Arc::clone(&self.file);
        // Offsets must increase; gaps are allowed everywhere, as in Kafka: compaction leaves
        // them in closed segments, and a cleaned segment can end up last (after a truncation),
        // where a strict check would cut acknowledged records off at the first gap.
        let allow_gaps = true;
        let out = scan_batches(
            &*file,
            0,
            self.size,
            self.base_offset,
            Some(self.base_offset),
            allow_gaps,
            validation,
            |m| self.index_batch(m, index_interval),
        )
        .ctx(|| format!("read segment {}", self.log_path.display()))?;
        self.next_offset = out.next_offset.unwrap_or(self.base_offset);
        let mut report = self.apply_scan(out)?;
        report.index_rebuilt = true;
        Ok(report)
    }

    /// Truncates the file at the end of the valid prefix found by a scan.
    fn apply_scan(&mut self, out: ScanOutcome) -> Result<SegmentOpen, StorageError> {
        let mut report = SegmentOpen::default();
        if let Some(invalid) = out.invalid {
            report.truncated_bytes = self.size - out.valid_end;
            tracing::warn!(
                segment = %self.log_path.display(),
                position = invalid.position,
                truncated_bytes = report.truncated_bytes,
                last_offset = self.next_offset - 1,
                reason = %invalid.reason,
                "truncating invalid or torn tail of segment"
            );
            self.truncate_file(out.valid_end)?;
            report.invalid = Some(invalid);
        }
        Ok(report)
    }

    /// Cuts the file at `position` (durably) and drops index entries past it.
    fn truncate_file(&mut self, position: u64) -> Result<(), StorageError> {
        self.file
            .set_len(position)
            .ctx(|| format!("truncate {} to {position}", self.log_path.display()))?;
        fsync_file(&self.file, &self.log_path)?;
        self.size = position;
        self.offset_index.truncate_to_position(position);
        self.time_index.truncate_to_offset(self.next_offset);
        Ok(())
    }

    /// Index bookkeeping for one batch appended (or found) at `meta.position` (Kafka's `LogSegment.append`).
    fn index_batch(&mut self, meta: &BatchMeta, index_interval: u32) {
        if self
            .max_timestamp
            .is_none_or(|(ts, _)| meta.max_timestamp > ts)
        {
            self.max_timestamp = Some((meta.max_timestamp, meta.last_offset));
        }
        if self.bytes_since_index > u64::from(index_interval) {
            if let Ok(pos) = u32::try_from(meta.position) {
                self.offset_index.append(meta.last_offset, pos);
            }
            if let Some((ts, off)) = self.max_timestamp {
                self.time_index.maybe_append(ts, off);
            }
            self.bytes_since_index = 0;
        }
        self.bytes_since_index += meta.size;
    }

    /// Writes `bytes` (whole batches described by `metas`, positions relative to `bytes`) at the end.
    /// On error the file is cut back to its previous size if possible; the caller poisons the log.
    pub fn append(
        &mut self,
        bytes: &[u8],
        metas: &[BatchMeta],
        index_interval: u32,
        now_ms: i64,
    ) -> Result<(), StorageError> {
        self.append_vectored(&[bytes], metas, index_interval, now_ms)
    }

    /// [`Self::append`] of bytes given in pieces (written with positional vectored writes, so
    /// the pieces need not be copied together first). `metas` positions are relative to the
    /// start of the concatenation.
    pub fn append_vectored(
        &mut self,
        pieces: &[&[u8]],
        metas: &[BatchMeta],
        index_interval: u32,
        now_ms: i64,
    ) -> Result<(), StorageError> {
        let total: usize = pieces.iter().map(|p| p.len()).sum();
        if let Err(e) = write_all_vectored_at(&self.file, pieces, self.size) {
            let _ = self.file.set_len(self.size);
            return Err(StorageError::io(
                format!("append {total} bytes to {}", self.log_path.display()),
                e,
            ));
        }
        for m in metas {
            let m = BatchMeta {
                position: self.size + m.position,
                ..*m
            };
            self.index_batch(&m, index_interval);
            self.next_offset = m.last_offset + 1;
        }
        if self.first_batch_timestamp.is_none() {
            self.first_batch_timestamp = metas.first().map(|m| m.max_timestamp);
        }
        self.size += total as u64;
        self.last_modified_ms = now_ms;
        Ok(())
    }

    /// Removes every batch containing an offset `>= offset` (whole batches), then re-derives
    /// the indexes from what is left. Returns the number of bytes removed.
    pub fn truncate_to_offset(
        &mut self,
        offset: i64,
        index_interval: u32,
    ) -> Result<u64, StorageError> {
        let position = self.position_of(offset)?;
        let removed = self.size - position;
        if removed > 0 {
            self.size = position;
            self.truncate_file(position)?;
            self.rebuild(Validation::HeadersOnly, index_interval)?;
            self.first_batch_timestamp = match self.size {
                0 => None,
                _ => Some(self.read_header(0)?.max_timestamp),
            };
        }
        Ok(removed)
    }

    /// Position of the first batch whose last offset is `>= offset`, or `size` if none.
    pub fn position_of(&self, offset: i64) -> Result<u64, StorageError> {
        let mut pos = u64::from(self.offset_index.lookup(offset).1);
        while pos < self.size {
            let h = self.read_header(pos)?;
            if h.last_offset() >= offset {
                return Ok(pos);
            }
            pos += h.total_len() as u64;
        }
        Ok(self.size)
    }

    /// Reads and parses the batch header at `pos`, checking the batch fits in the segment.
    pub fn read_header(&self, pos: u64) -> Result<BatchHeader, StorageError> {
        read_header_at(&self.file, &self.log_path, pos, self.size)
    }

    /// Reads `len` bytes at `pos`.
    pub fn read_bytes(&self, pos: u64, len: usize) -> Result<Vec<u8>, StorageError> {
        let mut buf = vec![0u8; len];
        self.file
            .read_exact_at(&mut buf, pos)
            .ctx(|| format!("read {len} bytes at {pos} of {}", self.log_path.display()))?;
        Ok(buf)
    }

    /// fdatasyncs the `.log` file.
    pub fn flush(&self) -> Result<(), StorageError> {
        fsync_file(&self.file, &self.log_path)
    }

    /// Adds the final time-index entry and writes both index files atomically.
    pub fn write_indexes(&mut self) -> Result<(), StorageError> {
        for (ext, contents) in self.final_indexes() {
            write_atomic(&self.dir, &file_name(self.base_offset, ext), &contents)?;
        }
        Ok(())
    }

    /// The offset and time index files' contents once nothing more is appended (the time index
    /// gets its final entry), with their extensions.
    fn final_indexes(&mut self) -> [(&'static str, Vec<u8>); 2] {
        if let Some((ts, off)) = self.max_timestamp {
            self.time_index.maybe_append(ts, off);
        }
        [
            (INDEX_EXT, self.offset_index.encode()),
            (TIME_INDEX_EXT, self.time_index.encode()),
        ]
    }

    /// Unlinks the segment's files. Open `Arc<File>` handles keep the data readable.
    pub fn delete_files(&self) -> Result<(), StorageError> {
        for ext in SEGMENT_EXTS {
            remove_if_exists(&self.dir.join(file_name(self.base_offset, ext)))?;
        }
        Ok(())
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }
    pub fn file(&self) -> &Arc<File> {
        &self.file
    }
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }
    /// Path of the segment's `.txnindex` (which may not exist).
    pub fn txn_index_path(&self) -> PathBuf {
        self.dir.join(file_name(self.base_offset, TXN_INDEX_EXT))
    }
    pub fn offset_index(&self) -> &OffsetIndex {
        &self.offset_index
    }
    pub fn time_index(&self) -> &TimeIndex {
        &self.time_index
    }
    /// Max timestamp of the first batch, if any (`max.compaction.lag.ms` counts from it).
    pub fn first_batch_timestamp(&self) -> Option<i64> {
        self.first_batch_timestamp
    }
    /// `(max timestamp, offset where it was first reached)`.
    pub fn max_timestamp(&self) -> Option<(i64, i64)> {
        self.max_timestamp
    }

    /// Kafka's `largestTimestamp`: the max batch timestamp, or the file's mtime without timestamps.
    pub fn largest_timestamp(&self) -> i64 {
        match self.max_timestamp {
            Some((ts, _)) if ts >= 0 => ts,
            _ => self.last_modified_ms,
        }
    }

    /// How long the segment has been waiting for a time-based roll (Kafka's `timeWaitedForRoll`).
    pub fn time_waited_for_roll(&self, now_ms: i64, incoming_max_timestamp: i64) -> i64 {
        match self.first_batch_timestamp {
            Some(t) if t >= 0 => incoming_max_timestamp.saturating_sub(t),
            _ => now_ms.saturating_sub(self.created_ms),
        }
    }
}

/// Writes every piece, in order, at `offset` (pwritev, resumed after short writes).
fn write_all_vectored_at(file: &File, pieces: &[&[u8]], offset: u64) -> std::io::Result<()> {
    /// Linux's IOV_MAX.
    const MAX_SLICES: usize = 1024;
    let mut pieces: Vec<&[u8]> = pieces.iter().copied().filter(|p| !p.is_empty()).collect();
    let mut offset = offset;
    let mut first = 0;
    while first < pieces.len() {
        let slices: Vec<std::io::IoSlice<'_>> = pieces[first..]
            .iter()
            .take(MAX_SLICES)
            .map(|p| std::io::IoSlice::new(p))
            .collect();
        let written = match rustix::io::pwritev(file, &slices, offset) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(errno) => return Err(errno.into()),
        };
        offset += written as u64;
        let mut left = written;
        while left > 0 && first < pieces.len() {
            let len = pieces[first].len();
            if left >= len {
                left -= len;
                first += 1;
            } else {
                pieces[first] = &pieces[first][left..];
                left = 0;
            }
        }
    }
    Ok(())
}

/// Reads the header at `pos` of a file whose valid bytes end at `end`.
pub fn read_header_at(
    file: &File,
    path: &Path,
    pos: u64,
    end: u64,
) -> Result<BatchHeader, StorageError> {
    read_header_with(path, pos, end, |buf| {
        file.read_exact_at(buf, pos)
            .ctx(|| format!("read batch header at {pos} of {}", path.display()))
    })
}

/// The header at `pos` of a file whose valid bytes end at `end`, its bytes read by `read`
/// (which may refuse to wait for the disk): checked to lie within the valid bytes.
pub(crate) fn read_header_with(
    path: &Path,
    pos: u64,
    end: u64,
    read: impl FnOnce(&mut [u8; BATCH_HEADER_LEN]) -> Result<(), StorageError>,
) -> Result<BatchHeader, StorageError> {
    if end.saturating_sub(pos) < BATCH_HEADER_LEN as u64 {
        return Err(corrupt_at(
            path,
            pos,
            format!("batch header past segment end {end}"),
        ));
    }
    let mut buf = [0u8; BATCH_HEADER_LEN];
    read(&mut buf)?;
    let h = BatchHeader::parse(&buf).map_err(|e| corrupt_at(path, pos, e.to_string()))?;
    if pos + h.total_len() as u64 > end {
        return Err(corrupt_at(
            path,
            pos,
            format!(
                "batch of {} bytes runs past segment end {end}",
                h.total_len()
            ),
        ));
    }
    Ok(h)
}

fn corrupt_at(path: &Path, position: u64, reason: String) -> StorageError {
    StorageError::Corrupt {
        path: path.to_path_buf(),
        position,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_roundtrip() {
        assert_eq!(file_name(42, LOG_EXT), "00000000000000000042.log");
        assert_eq!(
            parse_file_name("00000000000000000042.timeindex"),
            Some((42, "timeindex"))
        );
        assert_eq!(parse_file_name("42.log"), None);
        assert_eq!(parse_file_name("0000000000000000004x.log"), None);
        assert_eq!(parse_file_name("log-start-offset"), None);
    }
}
