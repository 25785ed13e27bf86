//! Walking the batches of a segment file and deciding where its valid prefix ends.
//!
//! Used on open: after an unclean shutdown the active segment is walked with full validation
//! (header, length fits, CRC-32C, offsets increasing) and truncated at the first bad or torn
//! batch; after a clean shutdown only headers are walked from the last index entry to check that
//! the last batch is complete. Index rebuilding uses the same walk. Nothing read here is trusted:
//! every length is checked against the file size before it is used.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use strom_records::{header, BatchHeader, BATCH_HEADER_LEN};

/// Positional reads from a file or, in tests, from memory.
pub trait ReadAt {
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()>;
}

impl ReadAt for File {
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        FileExt::read_exact_at(self, buf, pos)
    }
}

impl ReadAt for [u8] {
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        let start = usize::try_from(pos).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// What the walk learned about one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMeta {
    /// File position of the batch's first byte.
    pub position: u64,
    /// Total size, header included.
    pub size: u64,
    pub base_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
}

impl BatchMeta {
    pub fn from_header(h: &BatchHeader, position: u64) -> Self {
        BatchMeta {
            position,
            size: h.total_len() as u64,
            base_offset: h.base_offset,
            last_offset: h.last_offset(),
            max_timestamp: h.max_timestamp,
        }
    }
}

/// How much checking the walk does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validation {
    /// Headers, lengths and offsets only (one small read per batch).
    HeadersOnly,
    /// Also read each batch whole and check its CRC-32C.
    Full,
}

/// Why the walk stopped before the end of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Position of the first byte not accepted.
    pub position: u64,
    pub reason: String,
}

/// Result of walking `[start, len)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOutcome {
    /// End of the valid prefix: `len` when everything was valid.
    pub valid_end: u64,
    /// Offset after the last valid batch, if any batch was seen.
    pub next_offset: Option<i64>,
    /// Number of valid batches walked.
    pub batches: u64,
    pub invalid: Option<Invalid>,
}

/// Walks batches from `start` to `len`, calling `on_batch` for each valid one, and stops at the
/// first invalid or torn batch. Offsets increase: the first batch starts at `expected_first`
/// when given (at or above `segment_base` otherwise) and every later batch right after the
/// previous one, except that with `allow_gaps` (segments compaction may have rewritten) a batch
/// may start anywhere after the previous one ends. Relative offsets must fit an `i32`, as in the
/// index. The base offset is not covered by the CRC, so this check is what catches a damaged one
/// (only a damaged one that goes backwards where gaps are allowed, as in Kafka). I/O errors are
/// returned as errors.
#[allow(clippy::too_many_arguments)]
pub fn scan_batches<R: ReadAt + ?Sized>(
    src: &R,
    start: u64,
    len: u64,
    segment_base: i64,
    expected_first: Option<i64>,
    allow_gaps: bool,
    validation: Validation,
    mut on_batch: impl FnMut(&BatchMeta),
) -> io::Result<ScanOutcome> {
    let mut pos = start;
    let mut next_offset: Option<i64> = None;
    let mut batches = 0u64;
    let mut hdr = [0u8; BATCH_HEADER_LEN];
    let mut body = Vec::new();
    let invalid = |position: u64, reason: String| Some(Invalid { position, reason });
    let stop = loop {
        let remaining = len.saturating_sub(pos);
        if remaining == 0 {
            break None;
        }
        if remaining < BATCH_HEADER_LEN as u64 {
            break invalid(pos, format!("torn batch header: {remaining} bytes left"));
        }
        src.read_exact_at(&mut hdr, pos)?;
        let h = match BatchHeader::parse(&hdr) {
            Ok(h) => h,
            Err(e) => break invalid(pos, format!("bad batch header: {e}")),
        };
        let size = h.total_len() as u64;
        if size > remaining {
            break invalid(
                pos,
                format!("torn batch: length {size} but {remaining} bytes left"),
            );
        }
        if h.last_offset_delta < 0 {
            break invalid(
                pos,
                format!("negative last offset delta {}", h.last_offset_delta),
            );
        }
        let expected = next_offset.or(expected_first);
        let misplaced = expected.is_some_and(|e| match allow_gaps {
            true => h.base_offset < e,
            false => h.base_offset != e,
        });
        if misplaced || h.base_offset < segment_base {
            break invalid(
                pos,
                format!(
                    "base offset {} is not the expected {}",
                    h.base_offset,
                    expected.unwrap_or(segment_base)
                ),
            );
        }
        if h.last_offset() - segment_base > i64::from(i32::MAX) {
            break invalid(
                pos,
                format!(
                    "offset {} too far from segment base {segment_base}",
                    h.last_offset()
                ),
            );
        }
        if validation == Validation::Full {
            body.resize(h.total_len(), 0);
            src.read_exact_at(&mut body, pos)?;
            let crc = header::compute_crc(&body);
            if crc != h.crc {
                break invalid(
                    pos,
                    format!("crc mismatch: stored {:#010x}, computed {crc:#010x}", h.crc),
                );
            }
        }
        on_batch(&BatchMeta::from_header(&h, pos));
        batches += 1;
        next_offset = Some(h.next_offset());
        pos += size;
    };
    Ok(ScanOutcome {
        valid_end: stop.as_ref().map_or(len, |s| s.position),
        next_offset,
        batches,
        invalid: stop,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use strom_records::header::{OFFSET_CRC, OFFSET_LAST_OFFSET_DELTA, OFFSET_MAX_TIMESTAMP};

    /// A v2 batch with `n` offsets and `payload` bytes after the header (not real records:
    /// the walk never looks inside).
    pub(crate) fn batch(base: i64, n: i32, max_ts: i64, payload: usize) -> Vec<u8> {
        let mut b = vec![0u8; BATCH_HEADER_LEN + payload];
        b[0..8].copy_from_slice(&base.to_be_bytes());
        let len = (b.len() - 12) as i32;
        b[8..12].copy_from_slice(&len.to_be_bytes());
        b[16] = 2;
        b[OFFSET_LAST_OFFSET_DELTA..OFFSET_LAST_OFFSET_DELTA + 4]
            .copy_from_slice(&(n - 1).to_be_bytes());
        b[OFFSET_MAX_TIMESTAMP..OFFSET_MAX_TIMESTAMP + 8].copy_from_slice(&max_ts.to_be_bytes());
        for (i, x) in b[BATCH_HEADER_LEN..].iter_mut().enumerate() {
            *x = i as u8;
        }
        let crc = header::compute_crc(&b);
        b[OFFSET_CRC..OFFSET_CRC + 4].copy_from_slice(&crc.to_be_bytes());
        b
    }

    fn log(batches: &[(i64, i32, usize)]) -> Vec<u8> {
        batches
            .iter()
            .flat_map(|&(b, n, p)| batch(b, n, 0, p))
            .collect()
    }

    fn scan(bytes: &[u8], v: Validation) -> ScanOutcome {
        scan_batches(bytes, 0, bytes.len() as u64, 0, Some(0), false, v, |_| {}).unwrap()
    }

    #[test]
    fn valid_log_scans_to_end() {
        let bytes = log(&[(0, 3, 10), (3, 1, 0), (4, 5, 100)]);
        let out = scan(&bytes, Validation::Full);
        assert_eq!(out.valid_end, bytes.len() as u64);
        assert_eq!(out.next_offset, Some(9));
        assert_eq!(out.batches, 3);
        assert!(out.invalid.is_none());
    }

    #[test]
    fn torn_tail_stops_at_batch_start() {
        let bytes = log(&[(0, 3, 10), (3, 1, 50)]);
        let first = (BATCH_HEADER_LEN + 10) as u64;
        for cut in [first + 1, first + 30, bytes.len() as u64 - 1] {
            let out = scan(&bytes[..cut as usize], Validation::HeadersOnly);
            assert_eq!(out.valid_end, first);
            assert_eq!(out.next_offset, Some(3));
        }
    }

    #[test]
    fn crc_flip_detected_only_with_full_validation() {
        let mut bytes = log(&[(0, 1, 10), (1, 1, 10)]);
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        assert!(scan(&bytes, Validation::HeadersOnly).invalid.is_none());
        let out = scan(&bytes, Validation::Full);
        assert_eq!(out.valid_end, (BATCH_HEADER_LEN + 10) as u64);
        assert!(out.invalid.unwrap().reason.contains("crc"));
    }

    #[test]
    fn offsets_must_increase() {
        let bytes = log(&[(0, 3, 0), (2, 1, 0)]);
        let out = scan(&bytes, Validation::HeadersOnly);
        assert_eq!(out.batches, 1);
        assert!(out.invalid.unwrap().reason.contains("expected"));
        let bytes = log(&[(0, 3, 0), (4, 1, 0)]);
        assert_eq!(scan(&bytes, Validation::HeadersOnly).batches, 1);
        let bytes = log(&[(1, 3, 0)]);
        assert_eq!(scan(&bytes, Validation::HeadersOnly).batches, 0);
    }

    #[test]
    fn garbage_never_panics() {
        let mut bytes = vec![0xffu8; 200];
        bytes[16] = 2;
        let out = scan(&bytes, Validation::Full);
        assert_eq!(out.valid_end, 0);
        let out = scan(&[0u8; 61], Validation::Full);
        assert_eq!(out.valid_end, 0);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let out = scan(&bytes, Validation::Full);
            proptest::prop_assert!(out.valid_end <= bytes.len() as u64);
        }
    }
}
