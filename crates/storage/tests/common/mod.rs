//! Helpers shared by the log integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use strom_records::{BatchHeader, Compression, RecordBatchBuilder};
use strom_storage::{AppendOrigin, Log, LogConfig};

/// A valid v2 batch of `timestamps.len()` records with `value_len`-byte values.
pub fn batch(timestamps: &[i64], value_len: usize) -> Vec<u8> {
    let value = vec![0xabu8; value_len];
    let mut b = RecordBatchBuilder::new(Compression::None);
    for &t in timestamps {
        b.append(t, Some(b"key"), Some(&value), &[]);
    }
    b.build().unwrap()
}

/// A batch of `n` records all at timestamp `ts`.
pub fn simple(n: usize, ts: i64, value_len: usize) -> Vec<u8> {
    batch(&vec![ts; n], value_len)
}

pub fn small_config(segment_bytes: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        index_interval_bytes: 64,
        retention_ms: -1,
        ..LogConfig::default()
    }
}

/// What the tests remember about each appended batch: `(base, last, bytes with base offset set)`.
#[derive(Debug, Clone)]
pub struct Appended {
    pub base: i64,
    pub last: i64,
    pub bytes: Vec<u8>,
    pub timestamps: Vec<i64>,
}

pub fn append(log: &mut Log, timestamps: &[i64], value_len: usize, now: i64) -> Appended {
    let mut b = batch(timestamps, value_len);
    let info = log.append(&b, AppendOrigin::Coordinator, 3, now).unwrap();
    // What the log stored: the same bytes with the base offset and leader epoch assigned.
    strom_records::header::set_base_offset(&mut b, info.first_offset);
    strom_records::header::set_partition_leader_epoch(&mut b, 3);
    Appended {
        base: info.first_offset,
        last: info.last_offset,
        bytes: b,
        timestamps: timestamps.to_vec(),
    }
}

/// Splits concatenated batches into `(base_offset, bytes)`.
pub fn split(mut bytes: &[u8]) -> Vec<(i64, Vec<u8>)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let h = BatchHeader::parse(bytes).unwrap();
        let (b, rest) = bytes.split_at(h.total_len());
        out.push((h.base_offset, b.to_vec()));
        bytes = rest;
    }
    out
}

/// Reads everything from `from` with a large budget.
pub fn read_all(log: &Log, from: i64) -> Vec<(i64, Vec<u8>)> {
    let plan = log.read_plan(from, i64::MAX).unwrap();
    split(&plan.read(usize::MAX, true).unwrap().records)
}
