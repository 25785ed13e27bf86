//! Idempotent and transactional producer state through the `Log` API: duplicates, sequence and
//! epoch checks, transactions and markers, snapshots, crash replay, retention and truncation.
#![allow(clippy::unwrap_used)]

mod common;

use std::cell::Cell;
use std::path::Path;

use common::*;
use strom_records::{
    build_marker_batch, Compression, ControlRecordType, EndTxnMarker, RecordBatchBuilder,
};
use strom_storage::producer_state::{
    INVALID_PRODUCER_EPOCH, INVALID_TXN_STATE, OUT_OF_ORDER_SEQUENCE_NUMBER,
    TRANSACTION_COORDINATOR_FENCED,
};
use strom_storage::{AbortedTxn, AppendInfo, AppendOrigin, Log, LogConfig, StorageError};

const YES: &dyn Fn(i64, i16) -> bool = &|_, _| true;
const NO: &dyn Fn(i64, i16) -> bool = &|_, _| false;

fn producer_batch(pid: i64, epoch: i16, seq: i32, n: usize, transactional: bool) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new(Compression::None)
        .producer(pid, epoch, seq)
        .transactional(transactional);
    for i in 0..n {
        b.append(1_000 + i as i64, Some(b"k"), Some(b"value"), &[]);
    }
    b.build().unwrap()
}

fn client(log: &mut Log, batch: Vec<u8>) -> Result<AppendInfo, StorageError> {
    client_with(log, batch, YES)
}

fn client_with(
    log: &mut Log,
    batch: Vec<u8>,
    verify: &dyn Fn(i64, i16) -> bool,
) -> Result<AppendInfo, StorageError> {
    log.append(&batch, AppendOrigin::Client { verify_txn: verify }, 0, 0)
}

fn idem(
    log: &mut Log,
    pid: i64,
    epoch: i16,
    seq: i32,
    n: usize,
) -> Result<AppendInfo, StorageError> {
    client(log, producer_batch(pid, epoch, seq, n, false))
}

fn txn(
    log: &mut Log,
    pid: i64,
    epoch: i16,
    seq: i32,
    n: usize,
) -> Result<AppendInfo, StorageError> {
    client(log, producer_batch(pid, epoch, seq, n, true))
}

fn marker(
    log: &mut Log,
    pid: i64,
    epoch: i16,
    kind: ControlRecordType,
    coordinator_epoch: i32,
) -> Result<AppendInfo, StorageError> {
    let b = build_marker_batch(
        pid,
        epoch,
        &EndTxnMarker::new(kind, coordinator_epoch),
        2_000,
    )
    .unwrap();
    log.append(&b, AppendOrigin::Coordinator, 0, 0)
}

fn code(r: Result<AppendInfo, StorageError>) -> i16 {
    match r {
        Err(StorageError::ProducerState(e)) => e.kafka_error_code(),
        other => panic!("expected a producer state error, got {other:?}"),
    }
}

fn aborted(pid: i64, first: i64, last: i64, lso: i64) -> AbortedTxn {
    AbortedTxn {
        producer_id: pid,
        first_offset: first,
        last_offset: last,
        last_stable_offset: lso,
    }
}

fn open(dir: &Path, cfg: &LogConfig) -> Log {
    Log::open(dir, cfg.clone(), 0).unwrap().0
}

fn files_with_ext(dir: &Path, ext: &str) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| {
            e.file_name()
                .to_str()
                .unwrap()
                .ends_with(&format!(".{ext}"))
        })
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn retried_batch_returns_the_original_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), &LogConfig::default());
    append(&mut log, &[1], 5, 0); // offset 0, no producer
    let first = idem(&mut log, 7, 0, 0, 3).unwrap();
    assert_eq!(
        (first.first_offset, first.last_offset, first.duplicate),
        (1, 3, false)
    );
    idem(&mut log, 7, 0, 3, 2).unwrap(); // 4..5
    let dup = idem(&mut log, 7, 0, 0, 3).unwrap();
    assert!(dup.duplicate);
    assert_eq!((dup.first_offset, dup.last_offset), (1, 3));
    assert_eq!(
        (dup.batches, dup.bytes, dup.log_append_time_ms),
        (0, 0, None)
    );
    assert_eq!(log.log_end_offset(), 6);
    let dup = idem(&mut log, 7, 0, 3, 2).unwrap();
    assert_eq!(
        (dup.first_offset, dup.last_offset, dup.duplicate),
        (4, 5, true)
    );
    let p = log.producers();
    assert_eq!(p.len(), 1);
    assert_eq!(
        (p[0].producer_id, p[0].producer_epoch, p[0].last_sequence),
        (7, 0, 4)
    );
    assert_eq!(p[0].current_txn_start_offset, -1);
}

#[test]
fn sequence_and_epoch_checks() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), &LogConfig::default());
    // an unknown producer may start at any sequence
    idem(&mut log, 1, 0, 42, 2).unwrap();
    assert_eq!(
        code(idem(&mut log, 1, 0, 45, 1)),
        OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    assert_eq!(
        code(idem(&mut log, 1, 0, 43, 1)),
        OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    idem(&mut log, 1, 0, 44, 1).unwrap();
    // an epoch bump restarts at 0
    assert_eq!(
        code(idem(&mut log, 1, 1, 45, 1)),
        OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    idem(&mut log, 1, 1, 0, 1).unwrap();
    // the old epoch is fenced
    assert_eq!(code(idem(&mut log, 1, 0, 45, 1)), INVALID_PRODUCER_EPOCH);
    assert_eq!(log.log_end_offset(), 4);
    assert_eq!(log.producers()[0].producer_epoch, 1);
}

#[test]
fn a_failing_batch_rejects_the_whole_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), &LogConfig::default());
    idem(&mut log, 1, 0, 0, 1).unwrap();
    let mut req = producer_batch(1, 0, 1, 2, false);
    req.extend(producer_batch(1, 0, 9, 1, false));
    assert_eq!(code(client(&mut log, req)), OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_eq!(log.log_end_offset(), 1);
    // both batches of a valid request are checked in order
    let mut req = producer_batch(1, 0, 1, 2, false);
    req.extend(producer_batch(1, 0, 3, 1, false));
    let info = client(&mut log, req).unwrap();
    assert_eq!(
        (info.first_offset, info.last_offset, info.batches),
        (1, 3, 2)
    );
    assert_eq!(log.producers()[0].last_sequence, 3);
}

#[test]
fn transactions_need_verification() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), &LogConfig::default());
    assert_eq!(
        code(client_with(&mut log, producer_batch(3, 0, 0, 1, true), NO)),
        INVALID_TXN_STATE
    );
    assert_eq!(log.log_end_offset(), 0);
    let calls = Cell::new(0);
    let verify = |pid: i64, epoch: i16| {
        calls.set(calls.get() + 1);
        (pid, epoch) == (3, 0)
    };
    let mut req = producer_batch(3, 0, 0, 2, true);
    req.extend(producer_batch(3, 0, 2, 1, true));
    client_with(&mut log, req, &verify).unwrap();
    assert_eq!(calls.get(), 1);
    client_with(&mut log, producer_batch(3, 0, 3, 1, true), &verify).unwrap();
    assert_eq!(
        calls.get(),
        1,
        "an ongoing transaction needs no verification"
    );
    assert!(log.has_ongoing_txn(3));
    assert_eq!(
        code(client(&mut log, producer_batch(3, 0, 4, 1, false))),
        INVALID_TXN_STATE
    );
}

#[test]
fn abort_and_commit_markers() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), &LogConfig::default());
    txn(&mut log, 1, 0, 0, 2).unwrap(); // 0..1
    txn(&mut log, 2, 5, 0, 2).unwrap(); // 2..3
    append(&mut log, &[1], 1, 0); // 4
    assert_eq!(log.first_unstable_offset(), Some(0));
    assert_eq!(
        code(marker(&mut log, 1, -1, ControlRecordType::Abort, 0)),
        INVALID_PRODUCER_EPOCH
    );
    let m = marker(&mut log, 1, 0, ControlRecordType::Abort, 4).unwrap(); // 5
    assert_eq!(m.first_offset, 5);
    assert_eq!(log.aborted_transactions(0, 100), vec![aborted(1, 0, 5, 2)]);
    assert_eq!(log.first_unstable_offset(), Some(2));
    assert!(!log.has_ongoing_txn(1));
    assert_eq!(
        log.producers()
            .iter()
            .find(|p| p.producer_id == 1)
            .unwrap()
            .coordinator_epoch,
        4
    );
    assert_eq!(
        code(marker(&mut log, 1, 0, ControlRecordType::Commit, 3)),
        TRANSACTION_COORDINATOR_FENCED
    );
    marker(&mut log, 2, 5, ControlRecordType::Commit, 4).unwrap(); // 6
    assert_eq!(log.first_unstable_offset(), None);
    assert_eq!(log.aborted_transactions(0, 100).len(), 1);
    // a marker without a transaction is written, nothing aborted
    marker(&mut log, 2, 5, ControlRecordType::Abort, 4).unwrap(); // 7
    assert_eq!(log.aborted_transactions(0, 100).len(), 1);
    // query bounds
    assert!(log.aborted_transactions(6, 100).is_empty());
    assert!(log.aborted_transactions(0, 0).is_empty());
    assert_eq!(log.aborted_transactions(5, 1).len(), 1);
    let idx = files_with_ext(dir.path(), "txnindex");
    assert_eq!(idx, vec![("00000000000000000000.txnindex".to_string(), 34)]);
}

#[test]
fn coordinator_transactional_batches_are_tracked_without_sequences() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), &LogConfig::default());
    for _ in 0..2 {
        let b = producer_batch(9, 1, -1, 1, true);
        log.append(&b, AppendOrigin::Coordinator, 0, 0).unwrap();
    }
    assert_eq!(log.first_unstable_offset(), Some(0));
    marker(&mut log, 9, 1, ControlRecordType::Commit, 0).unwrap();
    assert_eq!(log.first_unstable_offset(), None);
    assert_eq!(log.producers()[0].last_sequence, -1);
}

/// Builds a log with two transactions (one aborted) across several segments; returns what
/// the producer state looks like.
fn populate(log: &mut Log) -> (Vec<strom_storage::ProducerSnapshot>, Vec<AbortedTxn>) {
    let mut seq = 0;
    for round in 0..4 {
        txn(log, 1, 0, seq, 2).unwrap();
        idem(log, 2, 0, seq, 2).unwrap();
        seq += 2;
        let kind = if round % 2 == 0 {
            ControlRecordType::Abort
        } else {
            ControlRecordType::Commit
        };
        marker(log, 1, 0, kind, 0).unwrap();
    }
    txn(log, 1, 0, seq, 1).unwrap(); // left ongoing
    idem(log, 2, 0, seq, 1).unwrap();
    (log.producers(), log.aborted_transactions(0, i64::MAX))
}

#[test]
fn snapshot_at_close_keeps_dedup_working() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(400);
    let mut log = open(dir.path(), &cfg);
    let (producers, aborted) = populate(&mut log);
    assert_eq!(aborted.len(), 2);
    assert!(log.segment_count() > 2);
    let leo = log.log_end_offset();
    let unstable = log.first_unstable_offset();
    log.close().unwrap();
    let snaps = files_with_ext(dir.path(), "snapshot");
    assert_eq!(snaps.len(), 2);
    assert_eq!(snaps[1].0, format!("{leo:020}.snapshot"));
    let mut log = open(dir.path(), &cfg);
    assert_eq!(log.producers(), producers);
    assert_eq!(log.aborted_transactions(0, i64::MAX), aborted);
    assert_eq!(log.first_unstable_offset(), unstable);
    let dup = idem(&mut log, 2, 0, 8, 1).unwrap();
    assert!(dup.duplicate);
    assert_eq!(dup.last_offset, leo - 1);
    assert_eq!(
        code(idem(&mut log, 2, 0, 11, 1)),
        OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    idem(&mut log, 2, 0, 9, 1).unwrap();
}

#[test]
fn unclean_reopen_rebuilds_state_and_txn_index_without_duplicates() {
    for segment_bytes in [400, 1 << 20] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = small_config(segment_bytes);
        let mut log = open(dir.path(), &cfg);
        let (producers, aborted) = populate(&mut log);
        let index_files = files_with_ext(dir.path(), "txnindex");
        assert_eq!(index_files.iter().map(|(_, n)| n).sum::<u64>(), 2 * 34);
        drop(log); // crash: no snapshot at the end, no clean-shutdown marker
        for _ in 0..2 {
            let (log, report) = Log::open(dir.path(), cfg.clone(), 0).unwrap();
            assert!(!report.clean_shutdown);
            assert_eq!(log.producers(), producers);
            assert_eq!(log.aborted_transactions(0, i64::MAX), aborted);
            assert_eq!(files_with_ext(dir.path(), "txnindex"), index_files);
            drop(log);
        }
        let mut log = open(dir.path(), &cfg);
        assert!(idem(&mut log, 2, 0, 8, 1).unwrap().duplicate);
        assert!(log.has_ongoing_txn(1));
    }
}

#[test]
fn lost_index_entries_of_the_active_segment_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig::default();
    let mut log = open(dir.path(), &cfg);
    let (_, aborted) = populate(&mut log);
    drop(log);
    // the crash lost the unsynced txnindex (and left a torn partial entry elsewhere)
    std::fs::write(dir.path().join("00000000000000000000.txnindex"), [0u8; 20]).unwrap();
    let log = open(dir.path(), &cfg);
    assert_eq!(log.aborted_transactions(0, i64::MAX), aborted);
    assert_eq!(files_with_ext(dir.path(), "txnindex")[0].1, 2 * 34);
}

#[test]
fn corrupt_snapshot_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(400);
    let mut log = open(dir.path(), &cfg);
    let (producers, aborted) = populate(&mut log);
    log.close().unwrap();
    let snaps = files_with_ext(dir.path(), "snapshot");
    let newest = dir.path().join(&snaps[1].0);
    let mut bytes = std::fs::read(&newest).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&newest, bytes).unwrap();
    let log = open(dir.path(), &cfg);
    assert_eq!(log.producers(), producers);
    assert_eq!(log.aborted_transactions(0, i64::MAX), aborted);
    assert!(!newest.exists());
}

#[test]
fn moving_the_log_start_drops_aborted_txns_and_old_producers() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(300);
    let mut log = open(dir.path(), &cfg);
    txn(&mut log, 1, 0, 0, 2).unwrap(); // 0..1
    marker(&mut log, 1, 0, ControlRecordType::Abort, 0).unwrap(); // 2
    idem(&mut log, 5, 0, 0, 1).unwrap(); // 3
    log.roll(0).unwrap();
    let base = log.log_end_offset();
    idem(&mut log, 6, 0, 0, 1).unwrap();
    assert_eq!(log.aborted_transactions(0, i64::MAX).len(), 1);
    log.delete_records_before(base).unwrap();
    assert_eq!(log.log_start_offset(), base);
    assert!(log.aborted_transactions(0, i64::MAX).is_empty());
    assert!(files_with_ext(dir.path(), "txnindex").is_empty());
    let pids: Vec<i64> = log.producers().iter().map(|p| p.producer_id).collect();
    assert_eq!(pids, vec![6]);
    // a forgotten producer is unknown again: any sequence
    idem(&mut log, 5, 0, 17, 1).unwrap();
}

#[test]
fn retention_deletes_aborted_txns_with_their_segment() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        retention_ms: 1_000,
        ..small_config(300)
    };
    let (mut log, _) = Log::open(dir.path(), cfg, 0).unwrap();
    txn(&mut log, 1, 0, 0, 2).unwrap(); // timestamps ~1000
    marker(&mut log, 1, 0, ControlRecordType::Abort, 0).unwrap(); // ts 2000
    log.roll(0).unwrap();
    // a recent batch in the new segment
    let mut recent = RecordBatchBuilder::new(Compression::None).producer(8, 0, 0);
    recent.append(1_000_000, None, Some(b"v"), &[]);
    client(&mut log, recent.build().unwrap()).unwrap();
    let hw = log.log_end_offset();
    let out = log.apply_retention(1_000_500, hw).unwrap();
    assert_eq!(out.deleted_segments(), 1);
    assert!(log.aborted_transactions(0, i64::MAX).is_empty());
    assert!(files_with_ext(dir.path(), "txnindex").is_empty());
}

#[test]
fn truncate_to_rewinds_producer_state() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(400);
    let mut log = open(dir.path(), &cfg);
    populate(&mut log);
    log.close().unwrap();
    let mut log = open(dir.path(), &cfg);
    // offsets: round r occupies [5r, 5r+5): txn 2, idem 2, marker 1
    // truncate right before the second abort marker (round 2: marker at 14)
    log.truncate_to(14).unwrap();
    assert_eq!(log.log_end_offset(), 14);
    assert_eq!(
        log.aborted_transactions(0, i64::MAX),
        vec![aborted(1, 0, 4, 5)]
    );
    assert_eq!(log.first_unstable_offset(), Some(10));
    assert!(log.has_ongoing_txn(1));
    assert!(files_with_ext(dir.path(), "snapshot")
        .iter()
        .all(|(name, _)| name.as_str() <= format!("{:020}.snapshot", 14).as_str()));
    // producer 2's batch at seq 4..5 (offsets 12..13) is the last one; 6 is next
    assert!(idem(&mut log, 2, 0, 4, 2).unwrap().duplicate);
    marker(&mut log, 1, 0, ControlRecordType::Abort, 0).unwrap();
    assert_eq!(log.aborted_transactions(0, i64::MAX).len(), 2);
    idem(&mut log, 2, 0, 6, 1).unwrap();
    // and the same state survives a crash
    let expected = (log.producers(), log.aborted_transactions(0, i64::MAX));
    drop(log);
    let log = open(dir.path(), &cfg);
    assert_eq!(
        (log.producers(), log.aborted_transactions(0, i64::MAX)),
        expected
    );
    // truncation below the first segment empties everything
    let mut log = log;
    log.truncate_to(0).unwrap();
    assert!(log.producers().is_empty());
    assert!(log.aborted_transactions(0, i64::MAX).is_empty());
    assert_eq!(log.first_unstable_offset(), None);
}

#[test]
fn expired_producers_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), &LogConfig::default());
    idem(&mut log, 1, 0, 0, 1).unwrap(); // timestamp 1000
    txn(&mut log, 2, 0, 0, 1).unwrap(); // ongoing: never expires
    assert_eq!(log.remove_expired_producers(1_500, 1_000), 0);
    assert_eq!(log.remove_expired_producers(2_000, 1_000), 1);
    assert_eq!(log.producers().len(), 1);
    assert!(log.has_ongoing_txn(2));
}
