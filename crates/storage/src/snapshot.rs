//! Producer state snapshots: `<offset, 20 digits>.snapshot` files in the partition directory,
//! holding every producer entry as of `offset` (the state after all batches below it).
//!
//! Written atomically when a segment is rolled (at the new segment's base) and at `close()` (at
//! the log end); the [`KEEP`] newest are kept. On open the newest readable one at or below the
//! log end is loaded and the log is replayed from its offset, so a snapshot only saves work:
//! losing one costs a longer replay, never correctness.
//!
//! Layout (big endian): `version u16 (1)`, `crc u32` (CRC-32C of everything after it),
//! `offset i64`, `count u32`, then per producer `producer_id i64`, `epoch i16`,
//! `coordinator_epoch i32`, `last_timestamp i64`, `last_data_offset i64`,
//! `current_txn_first_offset i64 (-1 = none)`, `batches u8 (<= 5)` and per batch
//! `first_seq i32`, `last_seq i32`, `first_offset i64`, `last_offset i64`, `timestamp i64`.
//! A file that does not decode exactly (CRC, counts, trailing bytes) is rejected whole.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use crate::checkpoint::{remove_if_exists, write_atomic};
use crate::error::{IoContext, StorageError};
use crate::producer_state::{
    BatchMetadata, ProducerEntry, ProducerStateManager, MAX_CACHED_BATCHES,
};
use crate::segment::{file_name, parse_file_name};

pub const SNAPSHOT_EXT: &str = "snapshot";
/// Snapshots kept after writing a new one.
pub const KEEP: usize = 2;
const VERSION: u16 = 1;
const HEADER_LEN: usize = 2 + 4 + 8 + 4;
const ENTRY_LEN: usize = 8 + 2 + 4 + 8 + 8 + 8 + 1;
const BATCH_LEN: usize = 4 + 4 + 8 + 8 + 8;

pub fn encode(offset: i64, state: &ProducerStateManager) -> Vec<u8> {
    let mut body = Vec::with_capacity(HEADER_LEN + state.len() * (ENTRY_LEN + BATCH_LEN));
    body.extend_from_slice(&offset.to_be_bytes());
    let count = u32::try_from(state.len()).unwrap_or(u32::MAX);
    body.extend_from_slice(&count.to_be_bytes());
    for e in state.entries().take(count as usize) {
        body.extend_from_slice(&e.producer_id.to_be_bytes());
        body.extend_from_slice(&e.epoch.to_be_bytes());
        body.extend_from_slice(&e.coordinator_epoch.to_be_bytes());
        body.extend_from_slice(&e.last_timestamp.to_be_bytes());
        body.extend_from_slice(&e.last_data_offset.to_be_bytes());
        body.extend_from_slice(&e.current_txn_first_offset.unwrap_or(-1).to_be_bytes());
        let n = e.batches.len().min(MAX_CACHED_BATCHES);
        body.push(n as u8);
        for b in e.batches.iter().skip(e.batches.len() - n) {
            body.extend_from_slice(&b.first_seq.to_be_bytes());
            body.extend_from_slice(&b.last_seq.to_be_bytes());
            body.extend_from_slice(&b.first_offset.to_be_bytes());
            body.extend_from_slice(&b.last_offset.to_be_bytes());
            body.extend_from_slice(&b.timestamp.to_be_bytes());
        }
    }
    let mut out = Vec::with_capacity(6 + body.len());
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Bounds-checked big-endian reads.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let (head, rest) = self
            .buf
            .split_at_checked(N)
            .ok_or_else(|| "truncated snapshot".to_string())?;
        self.buf = rest;
        head.try_into()
            .map_err(|_| "truncated snapshot".to_string())
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take::<1>()?[0])
    }
    fn i16(&mut self) -> Result<i16, String> {
        self.take().map(i16::from_be_bytes)
    }
    fn i32(&mut self) -> Result<i32, String> {
        self.take().map(i32::from_be_bytes)
    }
    fn u32(&mut self) -> Result<u32, String> {
        self.take().map(u32::from_be_bytes)
    }
    fn i64(&mut self) -> Result<i64, String> {
        self.take().map(i64::from_be_bytes)
    }
}

/// Decodes a snapshot into its offset and entries.
pub fn decode(bytes: &[u8]) -> Result<(i64, Vec<ProducerEntry>), String> {
    let mut r = Reader { buf: bytes };
    let version = u16::from_be_bytes(r.take()?);
    if version != VERSION {
        return Err(format!("unknown snapshot version {version}"));
    }
    let crc = r.u32()?;
    let computed = crc32c::crc32c(r.buf);
    if crc != computed {
        return Err(format!(
            "crc mismatch: stored {crc:#010x}, computed {computed:#010x}"
        ));
    }
    let offset = r.i64()?;
    if offset < 0 {
        return Err(format!("negative snapshot offset {offset}"));
    }
    let count = r.u32()? as usize;
    if count > r.buf.len() / ENTRY_LEN {
        return Err(format!("{count} entries do not fit the snapshot"));
    }
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let producer_id = r.i64()?;
        let epoch = r.i16()?;
        let coordinator_epoch = r.i32()?;
        let last_timestamp = r.i64()?;
        let last_data_offset = r.i64()?;
        let txn = r.i64()?;
        let n = usize::from(r.u8()?);
        if producer_id < 0 || n > MAX_CACHED_BATCHES {
            return Err(format!("invalid entry for producer {producer_id}"));
        }
        let mut batches = VecDeque::with_capacity(n);
        for _ in 0..n {
            batches.push_back(BatchMetadata {
                first_seq: r.i32()?,
                last_seq: r.i32()?,
                first_offset: r.i64()?,
                last_offset: r.i64()?,
                timestamp: r.i64()?,
            });
        }
        entries.push(ProducerEntry {
            producer_id,
            epoch,
            batches,
            coordinator_epoch,
            last_timestamp,
            last_data_offset,
            current_txn_first_offset: (txn >= 0).then_some(txn),
        });
    }
    if !r.buf.is_empty() {
        return Err(format!("{} trailing bytes", r.buf.len()));
    }
    Ok((offset, entries))
}

/// Snapshot files of `dir` as `(offset, path)`, oldest first.
pub fn list(dir: &Path) -> Result<Vec<(i64, PathBuf)>, StorageError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).ctx(|| format!("list {}", dir.display()))? {
        let entry = entry.ctx(|| format!("list {}", dir.display()))?;
        let name = entry.file_name();
        if let Some((offset, SNAPSHOT_EXT)) = name.to_str().and_then(parse_file_name) {
            out.push((offset, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Writes the snapshot at `offset` and deletes all but the [`KEEP`] newest.
pub fn write(dir: &Path, offset: i64, state: &ProducerStateManager) -> Result<(), StorageError> {
    write_atomic(
        dir,
        &file_name(offset, SNAPSHOT_EXT),
        &encode(offset, state),
    )?;
    let all = list(dir)?;
    for (_, path) in all.iter().take(all.len().saturating_sub(KEEP)) {
        remove_if_exists(path)?;
    }
    Ok(())
}

/// Deletes the snapshots above `offset`.
pub fn delete_above(dir: &Path, offset: i64) -> Result<(), StorageError> {
    for (o, path) in list(dir)? {
        if o > offset {
            remove_if_exists(&path)?;
        }
    }
    Ok(())
}

/// Deletes every snapshot.
pub fn delete_all(dir: &Path) -> Result<(), StorageError> {
    delete_above(dir, -1)
}

/// Loads the newest readable snapshot at or below `max_offset`; unreadable ones are deleted
/// with a warning.
pub fn load_newest(
    dir: &Path,
    max_offset: i64,
) -> Result<Option<(i64, ProducerStateManager)>, StorageError> {
    for (offset, path) in list(dir)?.into_iter().rev() {
        if offset > max_offset {
            continue;
        }
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read producer snapshot; deleting it");
                remove_if_exists(&path)?;
                continue;
            }
        };
        match decode(&bytes) {
            Ok((o, entries)) if o == offset => {
                return Ok(Some((offset, ProducerStateManager::from_entries(entries))));
            }
            Ok((o, _)) => {
                tracing::warn!(path = %path.display(), stored_offset = o, "producer snapshot names another offset; deleting it");
            }
            Err(reason) => {
                tracing::warn!(path = %path.display(), %reason, "corrupt producer snapshot; deleting it");
            }
        }
        remove_if_exists(&path)?;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> ProducerStateManager {
        let mut a = ProducerEntry::new(3);
        a.epoch = 2;
        a.coordinator_epoch = 7;
        a.last_timestamp = 1234;
        a.last_data_offset = 50;
        a.current_txn_first_offset = Some(40);
        for i in 0..5 {
            a.batches.push_back(BatchMetadata {
                first_seq: i * 10,
                last_seq: i * 10 + 9,
                first_offset: i64::from(i) * 10,
                last_offset: i64::from(i) * 10 + 9,
                timestamp: 99,
            });
        }
        ProducerStateManager::from_entries([a, ProducerEntry::new(9)])
    }

    #[test]
    fn roundtrip() {
        let s = state();
        let (offset, entries) = decode(&encode(77, &s)).unwrap();
        assert_eq!(offset, 77);
        let back = ProducerStateManager::from_entries(entries);
        assert_eq!(back, s);
        assert_eq!(back.first_unstable_offset(), Some(40));
    }

    #[test]
    fn damage_is_detected_and_never_panics() {
        let bytes = encode(77, &state());
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err());
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x5a;
            assert!(decode(&b).is_err(), "flip at {i}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
    }

    #[test]
    fn files_keep_the_newest_and_skip_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let s = state();
        for o in [10, 20, 30] {
            write(dir.path(), o, &s).unwrap();
        }
        let offsets: Vec<i64> = list(dir.path()).unwrap().iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, vec![20, 30]);
        std::fs::write(dir.path().join(file_name(30, SNAPSHOT_EXT)), b"garbage").unwrap();
        let (o, loaded) = load_newest(dir.path(), i64::MAX).unwrap().unwrap();
        assert_eq!((o, loaded), (20, s));
        assert_eq!(list(dir.path()).unwrap().len(), 1);
        assert!(load_newest(dir.path(), 19).unwrap().is_none());
    }
}
