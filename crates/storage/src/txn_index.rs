//! Aborted transactions: the per-segment `.txnindex` files and their in-memory copy.
//!
//! Kafka's layout: a file of 34-byte entries, `version i16 (0)`, `producer_id i64`,
//! `first_offset i64`, `last_offset i64`, `last_stable_offset i64`, appended to the index of the
//! segment holding the ABORT marker (`last_offset`). Entries are appended in marker order, so a
//! file is sorted by `last_offset`. The files are fsynced when their segment is rolled and at
//! close; after a crash the replay of the log rebuilds the entries of the replayed range.
//!
//! Every byte read is untrusted: a trailing partial entry is ignored (with a warning), as is an
//! entry with an unknown version or inconsistent offsets.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use crate::checkpoint::{fsync_file, remove_if_exists, write_atomic};
use crate::error::{IoContext, StorageError};
use crate::producer_state::AbortedTxn;

/// Size of one `.txnindex` entry.
pub const ENTRY_LEN: usize = 34;
const VERSION: i16 = 0;

pub fn encode_entry(t: &AbortedTxn) -> [u8; ENTRY_LEN] {
    let mut out = [0u8; ENTRY_LEN];
    out[0..2].copy_from_slice(&VERSION.to_be_bytes());
    out[2..10].copy_from_slice(&t.producer_id.to_be_bytes());
    out[10..18].copy_from_slice(&t.first_offset.to_be_bytes());
    out[18..26].copy_from_slice(&t.last_offset.to_be_bytes());
    out[26..34].copy_from_slice(&t.last_stable_offset.to_be_bytes());
    out
}

fn be_i64(b: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(b.try_into().ok()?))
}

/// Decodes one entry; `None` for a wrong version or inconsistent offsets.
pub fn decode_entry(b: &[u8; ENTRY_LEN]) -> Option<AbortedTxn> {
    if i16::from_be_bytes([b[0], b[1]]) != VERSION {
        return None;
    }
    let t = AbortedTxn {
        producer_id: be_i64(b.get(2..10)?)?,
        first_offset: be_i64(b.get(10..18)?)?,
        last_offset: be_i64(b.get(18..26)?)?,
        last_stable_offset: be_i64(b.get(26..34)?)?,
    };
    // The marker always follows the transaction's first record, so `first < last`; this also
    // rejects an all-zero entry (a tail the file system zero-filled after a power loss).
    let sane = t.producer_id >= 0 && t.first_offset >= 0 && t.first_offset < t.last_offset;
    sane.then_some(t)
}

/// Decodes a whole file, skipping what cannot be trusted.
pub fn decode(bytes: &[u8], path: &Path) -> Vec<AbortedTxn> {
    let mut chunks = bytes.chunks_exact(ENTRY_LEN);
    let mut out = Vec::with_capacity(bytes.len() / ENTRY_LEN);
    for (i, chunk) in chunks.by_ref().enumerate() {
        let Ok(entry) = <&[u8; ENTRY_LEN]>::try_from(chunk) else {
            continue;
        };
        match decode_entry(entry) {
            Some(t) => out.push(t),
            None => {
                tracing::warn!(path = %path.display(), entry = i, "ignoring unreadable transaction index entry");
            }
        }
    }
    if !chunks.remainder().is_empty() {
        tracing::warn!(
            path = %path.display(),
            bytes = chunks.remainder().len(),
            "ignoring a partial entry at the end of the transaction index"
        );
    }
    out
}

/// Reads a `.txnindex` file; a missing file has no entries.
pub fn read(path: &Path) -> Result<Vec<AbortedTxn>, StorageError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(decode(&bytes, path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(StorageError::io(format!("read {}", path.display()), e)),
    }
}

/// Appends one entry (not fsynced: see the module doc).
pub fn append(path: &Path, t: &AbortedTxn) -> Result<(), StorageError> {
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .ctx(|| format!("open {}", path.display()))?;
    f.write_all(&encode_entry(t))
        .ctx(|| format!("append to {}", path.display()))
}

/// fdatasyncs the file if it exists.
pub fn sync(path: &Path) -> Result<(), StorageError> {
    match OpenOptions::new().write(true).open(path) {
        Ok(f) => fsync_file(&f, path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StorageError::io(format!("open {}", path.display()), e)),
    }
}

/// Rewrites the file (atomically) without the entries whose marker is at or past `offset`, and
/// without unreadable bytes. Returns the entries kept. Removes the file when none are left.
pub fn truncate_from(path: &Path, offset: i64) -> Result<Vec<AbortedTxn>, StorageError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StorageError::io(format!("read {}", path.display()), e)),
    };
    let all = decode(&bytes, path);
    let kept: Vec<AbortedTxn> = all
        .iter()
        .copied()
        .filter(|t| t.last_offset < offset)
        .collect();
    if kept.len() * ENTRY_LEN == bytes.len() {
        return Ok(kept);
    }
    if kept.is_empty() {
        remove_if_exists(path)?;
        return Ok(kept);
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Err(StorageError::io(
            format!("rewrite {}", path.display()),
            std::io::ErrorKind::InvalidInput.into(),
        ));
    };
    let contents: Vec<u8> = kept.iter().flat_map(encode_entry).collect();
    write_atomic(dir, name, &contents)?;
    Ok(kept)
}

/// The in-memory copy of every segment's aborted transactions, keyed by marker offset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AbortedTxns {
    by_last_offset: BTreeMap<i64, AbortedTxn>,
}

impl AbortedTxns {
    pub fn insert(&mut self, t: AbortedTxn) {
        self.by_last_offset.insert(t.last_offset, t);
    }

    pub fn len(&self) -> usize {
        self.by_last_offset.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_last_offset.is_empty()
    }

    pub fn clear(&mut self) {
        self.by_last_offset.clear();
    }

    /// Every entry, in marker order.
    pub fn all(&self) -> Vec<AbortedTxn> {
        self.by_last_offset.values().copied().collect()
    }

    /// Replaces the entries whose marker is in `[from, to)` by `entries` (a cleaning).
    pub fn replace_range(&mut self, from: i64, to: i64, entries: Vec<AbortedTxn>) {
        let mut tail = self.by_last_offset.split_off(&from);
        let mut after = tail.split_off(&to);
        drop(tail);
        self.by_last_offset.append(&mut after);
        for t in entries {
            self.by_last_offset.insert(t.last_offset, t);
        }
    }

    /// Drops entries whose marker is below `offset` (log start moved).
    pub fn drop_below(&mut self, offset: i64) {
        self.by_last_offset = self.by_last_offset.split_off(&offset);
    }

    /// Drops entries whose marker is at or past `offset` (truncation).
    pub fn drop_from(&mut self, offset: i64) {
        self.by_last_offset.split_off(&offset);
    }

    /// Aborted transactions overlapping `[fetch_offset, upper_bound_offset)`: marker at or after
    /// `fetch_offset`, first offset below `upper_bound_offset`; ordered by first offset. The walk
    /// stops at the first entry whose last stable offset reaches the bound: every later one
    /// started at or after it (Kafka's `TxnIndexSearchResult.isComplete`).
    pub fn collect(&self, fetch_offset: i64, upper_bound_offset: i64) -> Vec<AbortedTxn> {
        let mut out = Vec::new();
        for t in self.by_last_offset.range(fetch_offset..).map(|(_, t)| t) {
            if t.first_offset < upper_bound_offset {
                out.push(*t);
            }
            if t.last_stable_offset >= upper_bound_offset {
                break;
            }
        }
        out.sort_by_key(|t| (t.first_offset, t.last_offset));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(pid: i64, first: i64, last: i64, lso: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id: pid,
            first_offset: first,
            last_offset: last,
            last_stable_offset: lso,
        }
    }

    #[test]
    fn zero_filled_entries_are_not_aborted_transactions() {
        let mut bytes = encode_entry(&t(7, 3, 9, 10)).to_vec();
        bytes.extend_from_slice(&[0u8; ENTRY_LEN * 2]);
        assert_eq!(
            decode(&bytes, Path::new("x.txnindex")),
            vec![t(7, 3, 9, 10)]
        );
    }

    #[test]
    fn file_roundtrip_truncate_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("00000000000000000000.txnindex");
        assert!(read(&p).unwrap().is_empty());
        for e in [t(1, 0, 5, 6), t(2, 3, 9, 10), t(1, 10, 12, 13)] {
            append(&p, &e).unwrap();
        }
        assert_eq!(read(&p).unwrap().len(), 3);
        // a torn tail is ignored
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(&[0; 7])
            .unwrap();
        assert_eq!(read(&p).unwrap().len(), 3);
        let kept = truncate_from(&p, 9).unwrap();
        assert_eq!(kept, vec![t(1, 0, 5, 6)]);
        assert_eq!(std::fs::metadata(&p).unwrap().len(), ENTRY_LEN as u64);
        assert!(truncate_from(&p, 0).unwrap().is_empty());
        assert!(!p.exists());
        // bad version and bad offsets
        let mut bad = encode_entry(&t(1, 0, 5, 6));
        bad[1] = 1;
        assert_eq!(decode_entry(&bad), None);
        assert_eq!(decode_entry(&encode_entry(&t(1, 6, 5, 6))), None);
    }

    #[test]
    fn collect_follows_kafka() {
        let mut a = AbortedTxns::default();
        a.insert(t(1, 0, 10, 5)); // txn of 2 still ongoing at 5
        a.insert(t(2, 5, 20, 21));
        a.insert(t(3, 30, 40, 41));
        assert_eq!(a.collect(0, 100).len(), 3);
        assert_eq!(a.collect(11, 100), vec![t(2, 5, 20, 21), t(3, 30, 40, 41)]);
        assert_eq!(a.collect(0, 5), vec![t(1, 0, 10, 5)]);
        assert_eq!(a.collect(0, 6), vec![t(1, 0, 10, 5), t(2, 5, 20, 21)]);
        assert!(a.collect(41, 100).is_empty());
        a.drop_below(11);
        assert_eq!(a.len(), 2);
        a.drop_from(40);
        assert_eq!(a.len(), 1);
    }
}
