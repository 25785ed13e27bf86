//! Micro-benchmarks of the partition log's hot paths: appending a produce batch (16 records of
//! 1 KiB, no fsync) and reading 1 MiB of batches from the page cache for a fetch.
//!
//! `cargo bench -p strom-storage --bench log`. Figures go in BENCHMARKS.md only next to a
//! baseline measured in the same run (see bench/run.sh); these are for comparing changes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use strom_records::{Compression, RecordBatchBuilder};
use strom_storage::{AppendOrigin, Log, LogConfig};

const RECORDS_PER_BATCH: usize = 16;
const RECORD_BYTES: usize = 1024;

fn batch() -> Vec<u8> {
    let value = vec![0x5au8; RECORD_BYTES];
    let mut builder = RecordBatchBuilder::new(Compression::None);
    for i in 0..RECORDS_PER_BATCH {
        builder.append(1_700_000_000_000 + i as i64, None, Some(&value), &[]);
    }
    builder.build().expect("batch")
}

fn append(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), LogConfig::default(), 0).unwrap();
    let batch = batch();
    let mut group = c.benchmark_group("log");
    group.throughput(Throughput::Bytes(batch.len() as u64));
    group.bench_function("append 16 x 1 KiB", |b| {
        b.iter(|| {
            log.append(&batch, AppendOrigin::Coordinator, 0, 0)
                .expect("append")
        })
    });
    group.finish();
}

fn read(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), LogConfig::default(), 0).unwrap();
    let batch = batch();
    // 64 MiB of batches, then fetches of 1 MiB from spread-out offsets.
    let batches = 64 * 1024 * 1024 / batch.len();
    for _ in 0..batches {
        log.append(&batch, AppendOrigin::Coordinator, 0, 0).unwrap();
    }
    let end = log.log_end_offset();
    let mut group = c.benchmark_group("log");
    group.throughput(Throughput::Bytes(1024 * 1024));
    let mut next = 0i64;
    group.bench_function("read 1 MiB", |b| {
        b.iter_batched(
            || {
                next = (next + 7919) % (end - 2048);
                next
            },
            |offset| {
                let plan = log.read_plan(offset, end).expect("plan");
                plan.read(1024 * 1024, true).expect("read")
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, append, read);
criterion_main!(benches);
