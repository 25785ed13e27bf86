//! Fetch reads: a [`ReadPlan`] snapshotted under the partition lock without I/O, executed later.
//!
//! The plan holds `Arc<File>` handles and the byte length of each segment at snapshot time.
//! Segment files are append-only, so bytes below those lengths do not change while the plan
//! lives, and an unlinked (retention-deleted) segment stays readable through its handle. The
//! exception is `Log::truncate_to` (replication), which may cut bytes a plan still covers; reads
//! then fail with an I/O or `Corrupt` error and the fetch should be retried.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::StorageError;
use crate::segment::{read_header_at, read_header_with};
use strom_records::header::BATCH_HEADER_LEN;
use strom_records::BatchHeader;

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
    /// offset is `>= max_offset_exclusive`. Each segment is read with as few large positional
    /// reads as the budget allows, straight into the buffer that is returned; batch headers
    /// are then walked in memory (no read per batch), and the bytes past the last whole batch
    /// that qualifies are dropped.
    pub fn read(&self, max_bytes: usize, min_one_batch: bool) -> Result<FetchData, StorageError> {
        self.read_in(max_bytes, min_one_batch, Mode::Wait)
    }

    fn read_in(
        &self,
        max_bytes: usize,
        min_one_batch: bool,
        mode: Mode,
    ) -> Result<FetchData, StorageError> {
        let mut buf: Vec<u8> = Vec::new();
        // Bytes at the front of `buf` that belong to batches before `fetch_offset` (the index
        // points at or before the wanted batch).
        let mut skip = 0usize;
        let mut next_offset = None;
        'segments: for (i, seg) in self.segments.iter().enumerate() {
            let mut pos = if i == 0 {
                self.first_position(seg, mode)?
            } else {
                0
            };
            // A batch larger than the budget that must still be returned whole (KIP-74).
            let mut must_read = 0u64;
            while pos < seg.end {
                let kept = buf.len() - skip;
                let budget = max_bytes.saturating_sub(kept) as u64;
                let first = min_one_batch && kept == 0;
                let want = if first {
                    budget.max(must_read).max(BATCH_HEADER_LEN as u64)
                } else {
                    budget
                };
                let chunk = want.min(seg.end - pos);
                if chunk < BATCH_HEADER_LEN as u64 {
                    if seg.end - pos < BATCH_HEADER_LEN as u64 {
                        return Err(corrupt(seg, pos, "batch header past segment end"));
                    }
                    break 'segments;
                }
                let chunk_len = usize::try_from(chunk)
                    .map_err(|_| corrupt(seg, pos, "read does not fit in memory"))?;
                let at = buf.len();
                if buf.capacity() == 0 {
                    // Room for small batches before `fetch_offset` too, so that reading the
                    // rest of a batch cut by the first read does not reallocate (and copy).
                    buf.reserve_exact(chunk_len.saturating_add(SKIP_SLACK));
                }
                read_into(&mut buf, &seg.file, pos, chunk_len, mode).map_err(|error| {
                    error.into_storage(|| {
                        format!("read {chunk_len} bytes at {pos} of {}", seg.path.display())
                    })
                })?;
                // Walk the batches that are whole in this chunk.
                let mut off = at;
                let mut progressed = false;
                let mut jump = None;
                loop {
                    let rest = &buf[off..];
                    if rest.len() < BATCH_HEADER_LEN {
                        break;
                    }
                    let batch_pos = pos + (off - at) as u64;
                    let h = BatchHeader::parse(rest)
                        .map_err(|e| corrupt(seg, batch_pos, &e.to_string()))?;
                    let len = h.total_len();
                    if batch_pos + len as u64 > seg.end {
                        return Err(corrupt(seg, batch_pos, "batch runs past segment end"));
                    }
                    if next_offset.is_none() && h.last_offset() < self.fetch_offset {
                        // Before the wanted offset: its bytes are not needed, not even read.
                        if rest.len() < len {
                            jump = Some(batch_pos + len as u64);
                            progressed = true;
                            break;
                        }
                        off += len;
                        skip = off;
                        progressed = true;
                        continue;
                    }
                    let kept = off - skip;
                    let over_budget = kept + len > max_bytes;
                    if h.base_offset >= self.max_offset_exclusive
                        || (over_budget && !(min_one_batch && kept == 0))
                    {
                        buf.truncate(off);
                        break 'segments;
                    }
                    if rest.len() < len {
                        // Whole only in a later read; make sure that read covers it.
                        must_read = len as u64;
                        break;
                    }
                    off += len;
                    next_offset = Some(h.next_offset());
                    progressed = true;
                }
                // Bytes past the last whole batch are read again with the next chunk.
                buf.truncate(off);
                if let Some(next) = jump {
                    skip = off;
                    pos = next;
                } else {
                    pos += (off - at) as u64;
                }
                if !progressed && must_read <= chunk {
                    break 'segments;
                }
            }
        }
        let records = Bytes::from(buf).slice(skip..);
        Ok(FetchData {
            records,
            next_offset,
            log_start_offset: self.log_start_offset,
            log_end_offset: self.log_end_offset,
        })
    }
}

/// A piece of a fetch read: bytes read into memory, or a range of a segment file left where
/// it is (for `sendfile`).
#[derive(Debug, Clone)]
pub enum ReadPart {
    Memory(Bytes),
    File {
        file: Arc<File>,
        position: u64,
        len: usize,
    },
}

impl ReadPart {
    pub fn len(&self) -> usize {
        match self {
            ReadPart::Memory(bytes) => bytes.len(),
            ReadPart::File { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The result of [`ReadPlan::read_parts`]: the same batches [`ReadPlan::read`] returns, as
/// file ranges where the batches are large and in memory where they are small.
#[derive(Debug, Clone)]
pub struct FetchParts {
    pub parts: Vec<ReadPart>,
    /// Offset after the last returned batch (`None` when nothing was returned).
    pub next_offset: Option<i64>,
}

impl FetchParts {
    /// Bytes over all parts.
    pub fn len(&self) -> usize {
        self.parts.iter().map(ReadPart::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Batches at least this large are sent from the segment file (located by reading their
/// headers alone); from the first smaller one on, a read copies (one large read costs less
/// than a header read per batch).
pub const ZERO_COPY_MIN_BATCH: usize = 64 * 1024;

/// Small batches before the fetch offset that [`ReadPlan::read_parts`] steps over by their
/// headers before it reads into memory instead.
const STEP_OVER_SMALL_MAX: usize = 4;

impl ReadPlan {
    /// Like [`ReadPlan::read`], but leaves large batches in their segment files: their headers
    /// are read to find where the batches start and end, and their bytes are returned as file
    /// ranges to be sent with `sendfile`. From the first batch smaller than
    /// [`ZERO_COPY_MIN_BATCH`] on, the rest is read into memory as `read` does.
    pub fn read_parts(
        &self,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<FetchParts, StorageError> {
        self.read_parts_in(max_bytes, min_one_batch, Mode::Wait)
    }

    /// [`ReadPlan::read_parts`] for a thread that must not wait for the disk: `None` when the
    /// plan covers more than [`CACHED_READ_MAX`] bytes or when a byte it reads is not in the
    /// page cache (reads with `RWF_NOWAIT`; filesystems without it count as not cached). The
    /// caller then reads on a thread that may block.
    pub fn read_parts_cached(
        &self,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<Option<FetchParts>, StorageError> {
        let span: u64 = self
            .segments
            .iter()
            .map(|seg| seg.end.saturating_sub(seg.start))
            .sum();
        if span > CACHED_READ_MAX as u64 {
            return Ok(None);
        }
        match self.read_parts_in(max_bytes, min_one_batch, Mode::CachedOnly) {
            Ok(parts) => Ok(Some(parts)),
            Err(StorageError::NotCached) => Ok(None),
            Err(error) => Err(error),
        }
    }

    fn read_parts_in(
        &self,
        max_bytes: usize,
        min_one_batch: bool,
        mode: Mode,
    ) -> Result<FetchParts, StorageError> {
        let mut parts = Vec::new();
        let mut kept = 0usize;
        let mut next_offset = None;
        let mut stepped_over = 0;
        for (i, seg) in self.segments.iter().enumerate() {
            let mut pos = if i == 0 {
                self.first_position(seg, mode)?
            } else {
                0
            };
            while pos < seg.end {
                if seg.end - pos < BATCH_HEADER_LEN as u64 {
                    return Err(corrupt(seg, pos, "batch header past segment end"));
                }
                let h = header_at(seg, pos, mode)?;
                let len = h.total_len();
                if pos + len as u64 > seg.end {
                    return Err(corrupt(seg, pos, "batch runs past segment end"));
                }
                let before = h.last_offset() < self.fetch_offset;
                if before && len < ZERO_COPY_MIN_BATCH && stepped_over < STEP_OVER_SMALL_MAX {
                    // A few small batches between the indexed one and the wanted one.
                    stepped_over += 1;
                    pos += len as u64;
                    continue;
                }
                if len < ZERO_COPY_MIN_BATCH {
                    // Small batches: read the rest from here into memory.
                    let mut rest = self.clone();
                    rest.segments.drain(..i);
                    if let Some(first) = rest.segments.first_mut() {
                        first.start = pos;
                    }
                    let data = rest.read_in(
                        max_bytes.saturating_sub(kept),
                        min_one_batch && kept == 0,
                        mode,
                    )?;
                    if !data.records.is_empty() {
                        parts.push(ReadPart::Memory(data.records));
                        next_offset = data.next_offset;
                    }
                    return Ok(FetchParts { parts, next_offset });
                }
                if before {
                    pos += len as u64;
                    continue;
                }
                if h.base_offset >= self.max_offset_exclusive
                    || (kept + len > max_bytes && !(min_one_batch && kept == 0))
                {
                    return Ok(FetchParts { parts, next_offset });
                }
                match parts.last_mut() {
                    Some(ReadPart::File {
                        file,
                        position,
                        len: range,
                    }) if Arc::ptr_eq(file, &seg.file) && *position + *range as u64 == pos => {
                        *range += len;
                    }
                    _ => parts.push(ReadPart::File {
                        file: Arc::clone(&seg.file),
                        position: pos,
                        len,
                    }),
                }
                kept += len;
                next_offset = Some(h.next_offset());
                pos += len as u64;
            }
        }
        Ok(FetchParts { parts, next_offset })
    }

    /// Where reading the first segment starts. The offset index maps batches' last offsets
    /// to positions, so it points at a batch before the wanted one (usually the one just
    /// before). Large batches before `fetch_offset` are stepped over by reading their headers
    /// alone; small ones are read with the rest and dropped, which costs less than a header
    /// read each.
    fn first_position(&self, seg: &PlanSegment, mode: Mode) -> Result<u64, StorageError> {
        let mut pos = seg.start;
        while seg.end.saturating_sub(pos) >= BATCH_HEADER_LEN as u64 {
            let header = header_at(seg, pos, mode)?;
            if header.last_offset() >= self.fetch_offset || header.total_len() < STEP_OVER_MIN {
                break;
            }
            pos += header.total_len() as u64;
        }
        Ok(pos)
    }
}

/// Batches before the fetch offset at least this large are stepped over instead of read.
const STEP_OVER_MIN: usize = 16 * 1024;

/// Extra room in a read's buffer for small batches read before the fetch offset (the index
/// interval's worth, which they stay below by default, and some).
const SKIP_SLACK: usize = 16 * 1024;

/// Appends exactly `len` bytes read at `offset` to `buf`, reading into its spare capacity (no
/// zero-filling first: the read is the first write of that memory).
/// Most bytes a plan may cover for [`ReadPlan::read_parts_cached`] (a read on an async worker
/// copies at most this much).
pub const CACHED_READ_MAX: usize = 64 * 1024;

/// How a read gets its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Waits for the disk when the bytes are not in the page cache.
    Wait,
    /// Takes only bytes already in the page cache (`RWF_NOWAIT`).
    CachedOnly,
}

/// Why a positional read failed.
enum ReadError {
    Io(std::io::Error),
    /// [`Mode::CachedOnly`]: the bytes are not (all) in the page cache.
    NotCached,
}

impl ReadError {
    fn into_storage(self, context: impl FnOnce() -> String) -> StorageError {
        match self {
            ReadError::Io(source) => StorageError::Io {
                context: context(),
                source,
            },
            ReadError::NotCached => StorageError::NotCached,
        }
    }
}

/// Appends `len` bytes read at `offset` to `buf`.
fn read_into(
    buf: &mut Vec<u8>,
    file: &File,
    offset: u64,
    len: usize,
    mode: Mode,
) -> Result<(), ReadError> {
    let start = buf.len();
    let end = start + len;
    if mode == Mode::CachedOnly {
        // Small by construction (CACHED_READ_MAX): zero-filling costs less than a thread hop.
        buf.resize(end, 0);
        let read = pread_cached(file, &mut buf[start..], offset);
        if read.is_err() {
            buf.truncate(start);
        }
        return read;
    }
    buf.reserve_exact(len);
    let mut at = offset;
    while buf.len() < end {
        let before = buf.len();
        match rustix::io::pread(file, rustix::buffer::spare_capacity(buf), at) {
            Ok(0) => return Err(ReadError::Io(std::io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => at += n as u64,
            Err(rustix::io::Errno::INTR) => continue,
            Err(errno) => return Err(ReadError::Io(errno.into())),
        }
        debug_assert!(buf.len() > before);
    }
    // The spare capacity may have been larger than asked: keep only what was asked for.
    buf.truncate(end);
    Ok(())
}

/// Fills `buf` from `offset` with bytes already in the page cache (`preadv2` with
/// `RWF_NOWAIT`, which returns what is cached and then `EAGAIN`).
fn pread_cached(file: &File, buf: &mut [u8], offset: u64) -> Result<(), ReadError> {
    let mut done = 0;
    while done < buf.len() {
        let mut slices = [std::io::IoSliceMut::new(&mut buf[done..])];
        match rustix::io::preadv2(
            file,
            &mut slices,
            offset + done as u64,
            rustix::io::ReadWriteFlags::NOWAIT,
        ) {
            Ok(0) => return Err(ReadError::Io(std::io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => done += n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(
                rustix::io::Errno::AGAIN | rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::NOSYS,
            ) => return Err(ReadError::NotCached),
            Err(errno) => return Err(ReadError::Io(errno.into())),
        }
    }
    Ok(())
}

/// The batch header at `pos` of a plan's segment.
fn header_at(seg: &PlanSegment, pos: u64, mode: Mode) -> Result<BatchHeader, StorageError> {
    match mode {
        Mode::Wait => read_header_at(&seg.file, &seg.path, pos, seg.end),
        Mode::CachedOnly => read_header_with(&seg.path, pos, seg.end, |buf| {
            pread_cached(&seg.file, buf, pos).map_err(|error| {
                error.into_storage(|| {
                    format!("read batch header at {pos} of {}", seg.path.display())
                })
            })
        }),
    }
}

fn corrupt(seg: &PlanSegment, position: u64, reason: &str) -> StorageError {
    StorageError::Corrupt {
        path: seg.path.clone(),
        position,
        reason: reason.to_string(),
    }
}
