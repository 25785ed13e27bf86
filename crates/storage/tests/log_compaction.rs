//! Log compaction: the cleaned log against a model (latest value per key, tombstones dropped
//! after their delete horizon), offsets kept, crash safety of the segment swap, and the
//! producer state and transactions a cleaning must not break.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::AtomicBool;

use proptest::prelude::*;
use strom_records::{BatchHeader, Compression, RecordBatch, RecordBatchBuilder, RecordIter};
use strom_storage::{
    AppendOrigin, CleanedLog, CleanerSettings, CleaningCommit, CleaningStats, CompactionConfig,
    Log, LogConfig,
};

use common::read_all;

const NOW: i64 = 1_700_000_000_000;

/// A record as read back: `(offset, key, value)`.
type Read = (i64, Option<Vec<u8>>, Option<Vec<u8>>);

fn config(segment_bytes: u64, delete_retention_ms: i64) -> LogConfig {
    LogConfig {
        segment_bytes,
        index_interval_bytes: 64,
        retention_ms: -1,
        compaction: CompactionConfig {
            enabled: true,
            delete_retention_ms,
            min_cleanable_dirty_ratio: 0.0,
            ..CompactionConfig::default()
        },
        ..LogConfig::default()
    }
}

fn open(dir: &Path, cfg: &LogConfig) -> Log {
    Log::open(dir, cfg.clone(), NOW).unwrap().0
}

/// One batch of `(key, value)` records.
fn keyed_batch(records: &[(Vec<u8>, Option<Vec<u8>>)], ts: i64, codec: Compression) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new(codec);
    for (k, v) in records {
        b.append(ts, Some(k), v.as_deref(), &[]);
    }
    b.build().unwrap()
}

fn append(
    log: &mut Log,
    records: &[(Vec<u8>, Option<Vec<u8>>)],
    ts: i64,
    codec: Compression,
) -> i64 {
    let b = keyed_batch(records, ts, codec);
    log.append(&b, AppendOrigin::Coordinator, 0, ts)
        .unwrap()
        .first_offset
}

/// Plans, executes and commits one cleaning at `now`.
fn clean(log: &mut Log, now: i64) -> Option<CleaningStats> {
    let plan = log.plan_cleaning(now, CleanerSettings::default())?;
    let mut cleaned = plan
        .execute(&mut |_| {}, &AtomicBool::new(false))
        .unwrap()?;
    commit(log, &mut cleaned)
}

/// Commits every group of `cleaned`; `None` when the cleaning was discarded.
fn commit(log: &mut Log, cleaned: &mut CleanedLog) -> Option<CleaningStats> {
    loop {
        match log.commit_cleaning(cleaned).unwrap() {
            CleaningCommit::Progress => {}
            CleaningCommit::Done(stats) => return Some(stats),
            CleaningCommit::Discarded => return None,
        }
    }
}

/// Every record of the log, in order: `(offset, key, value)`.
fn records(log: &Log) -> Vec<Read> {
    let mut out = Vec::new();
    for (_, bytes) in read_all(log, log.log_start_offset()) {
        let batch = RecordBatch::parse(&bytes).unwrap();
        assert!(batch.is_crc_valid(), "CRC of a batch read back");
        let h = batch.header();
        if h.is_control() {
            continue;
        }
        let section = batch.decompressed_records(1 << 30).unwrap();
        for r in RecordIter::new(&section) {
            let r = r.unwrap();
            out.push((
                r.offset(h.base_offset),
                r.key.map(<[u8]>::to_vec),
                r.value.map(<[u8]>::to_vec),
            ));
        }
    }
    out
}

/// What a reader replaying the log from the start ends up with: key → latest value.
fn replay(records: &[Read]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut state = BTreeMap::new();
    for (_, k, v) in records {
        let Some(k) = k else { continue };
        match v {
            Some(v) => state.insert(k.clone(), v.clone()),
            None => state.remove(k),
        };
    }
    state
}

fn kv(k: &str, v: Option<&str>) -> (Vec<u8>, Option<Vec<u8>>) {
    (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec()))
}

#[test]
fn cleaning_keeps_the_latest_value_of_each_key_at_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(400, 60_000);
    let mut log = open(dir.path(), &cfg);
    for round in 0..20 {
        for key in ["a", "b", "c"] {
            append(
                &mut log,
                &[kv(key, Some(&format!("{key}{round}")))],
                NOW,
                Compression::None,
            );
        }
    }
    log.roll(NOW).unwrap();
    let before = records(&log);
    let end = log.log_end_offset();
    let segments = log.segment_count();
    let stats = clean(&mut log, NOW).expect("a cleaning");
    assert!(stats.records_removed >= 50, "{stats:?}");
    assert!(
        log.segment_count() < segments,
        "emptied segments share one cleaned segment"
    );
    let after = records(&log);
    assert_eq!(
        after,
        vec![
            (57, Some(b"a".to_vec()), Some(b"a19".to_vec())),
            (58, Some(b"b".to_vec()), Some(b"b19".to_vec())),
            (59, Some(b"c".to_vec()), Some(b"c19".to_vec())),
        ]
    );
    assert_eq!(replay(&after), replay(&before));
    assert_eq!(log.log_end_offset(), end, "offsets never move");
    assert_eq!(log.log_start_offset(), 0);
    // Nothing left to do: the checkpoint moved past the cleaned range.
    let state = log.cleaning_state(NOW).unwrap();
    assert_eq!(state.dirty_bytes, 0, "{state:?}");
    assert!(!state.is_due());
    // The cleaned segments survive a clean and an unclean reopen.
    log.close().unwrap();
    let log = open(dir.path(), &cfg);
    assert_eq!(records(&log), after);
    drop(log);
    let log = open(dir.path(), &cfg);
    assert_eq!(records(&log), after);
    // And reads from an offset inside a gap start at the next record.
    let plan = log.read_plan(3, i64::MAX).unwrap();
    let first = plan.read(usize::MAX, true).unwrap().records;
    assert_eq!(BatchHeader::parse(&first).unwrap().base_offset, 57);
}

#[test]
fn the_active_segment_and_open_transactions_are_never_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), &config(1 << 20, 0));
    for v in 0..10 {
        append(
            &mut log,
            &[kv("k", Some(&v.to_string()))],
            NOW,
            Compression::None,
        );
    }
    assert!(
        clean(&mut log, NOW).is_none(),
        "one active segment: nothing to clean"
    );
    assert_eq!(records(&log).len(), 10);
}

#[test]
fn tombstones_live_until_their_delete_horizon() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(300, 1_000);
    let mut log = open(dir.path(), &cfg);
    append(
        &mut log,
        &[kv("gone", Some("v1")), kv("kept", Some("v1"))],
        NOW,
        Compression::None,
    );
    append(&mut log, &[kv("gone", None)], NOW, Compression::None);
    append(&mut log, &[kv("kept", Some("v2"))], NOW, Compression::None);
    log.roll(NOW).unwrap();
    clean(&mut log, NOW).unwrap();
    let first = records(&log);
    assert_eq!(
        first
            .iter()
            .map(|(_, k, v)| (k.clone().unwrap(), v.clone()))
            .collect::<Vec<_>>(),
        vec![
            (b"gone".to_vec(), None),
            (b"kept".to_vec(), Some(b"v2".to_vec()))
        ],
        "the tombstone is kept (the first cleaning sets its horizon)"
    );
    // Before the horizon nothing changes; after it the tombstone goes.
    let state = log.cleaning_state(NOW + 500).unwrap();
    assert!(!state.horizon_passed);
    let state = log.cleaning_state(NOW + 1_000).unwrap();
    assert!(state.horizon_passed && state.is_due(), "{state:?}");
    clean(&mut log, NOW + 1_000).unwrap();
    assert_eq!(
        records(&log),
        vec![(first[1].0, Some(b"kept".to_vec()), Some(b"v2".to_vec()))]
    );
}

#[test]
fn records_without_a_key_are_dropped_and_compressed_batches_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), &config(500, 60_000));
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        append(
            &mut log,
            &[
                kv("x", Some("old")),
                kv("y", Some("y1")),
                kv("x", Some("new")),
            ],
            NOW,
            codec,
        );
    }
    let mut b = RecordBatchBuilder::new(Compression::None);
    b.append(NOW, None, Some(b"no key"), &[]);
    log.append(&b.build().unwrap(), AppendOrigin::Coordinator, 0, NOW)
        .unwrap();
    log.roll(NOW).unwrap();
    clean(&mut log, NOW).unwrap();
    let after = records(&log);
    assert_eq!(
        after,
        vec![
            (10, Some(b"y".to_vec()), Some(b"y1".to_vec())),
            (11, Some(b"x".to_vec()), Some(b"new".to_vec())),
        ]
    );
}

#[test]
fn an_interrupted_cleaning_leaves_the_old_segments() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(300, 60_000);
    let mut log = open(dir.path(), &cfg);
    for v in 0..30 {
        append(
            &mut log,
            &[kv(&format!("k{}", v % 3), Some(&v.to_string()))],
            NOW,
            Compression::None,
        );
    }
    log.roll(NOW).unwrap();
    let before = records(&log);
    let plan = log.plan_cleaning(NOW, CleanerSettings::default()).unwrap();
    let cleaned = plan
        .execute(&mut |_| {}, &AtomicBool::new(false))
        .unwrap()
        .unwrap();
    // A crash now: `.cleaned` files on disk, nothing committed.
    let leftovers = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".cleaned")
        })
        .count();
    assert!(leftovers >= 4, "cleaned segment files written: {leftovers}");
    drop(cleaned);
    drop(log);
    let log = open(dir.path(), &cfg);
    assert_eq!(records(&log), before);
    let names = file_names(dir.path());
    assert!(
        !names
            .iter()
            .any(|n| n.ends_with(".cleaned") || n.ends_with(".swap")),
        "{names:?}"
    );
}

/// A log with 30 versions of one key in closed segments (and an empty active one).
fn thirty_versions_of_one_key(dir: &Path) -> Log {
    let mut log = open(dir, &config(300, 60_000));
    for v in 0..30 {
        append(
            &mut log,
            &[kv("k", Some(&v.to_string()))],
            NOW,
            Compression::None,
        );
    }
    log.roll(NOW).unwrap();
    log
}

/// The file names of `dir`.
fn file_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_stopped_cleaning_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = thirty_versions_of_one_key(dir.path());
    let plan = log.plan_cleaning(NOW, CleanerSettings::default()).unwrap();
    assert!(plan
        .execute(&mut |_| {}, &AtomicBool::new(true))
        .unwrap()
        .is_none());
    let names = file_names(dir.path());
    assert!(!names.iter().any(|n| n.ends_with(".cleaned")), "{names:?}");
}

#[test]
fn a_cleaning_planned_before_retention_ran_is_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = thirty_versions_of_one_key(dir.path());
    let plan = log.plan_cleaning(NOW, CleanerSettings::default()).unwrap();
    let mut cleaned = plan
        .execute(&mut |_| {}, &AtomicBool::new(false))
        .unwrap()
        .unwrap();
    log.delete_records_before(10).unwrap();
    assert!(commit(&mut log, &mut cleaned).is_none());
    assert_eq!(records(&log).first().unwrap().0, 10);
}

/// A producer batch with a sequence (idempotent or transactional).
fn producer_batch(
    pid: i64,
    seq: i32,
    key: &str,
    value: Option<&str>,
    transactional: bool,
) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new(Compression::None)
        .producer(pid, 0, seq)
        .transactional(transactional);
    b.append(NOW, Some(key.as_bytes()), value.map(str::as_bytes), &[]);
    b.build().unwrap()
}

#[test]
fn a_producers_last_batch_survives_so_deduplication_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(300, 60_000);
    let mut log = open(dir.path(), &cfg);
    let ok = |_: i64, _: i16| true;
    let first = producer_batch(9, 0, "k", Some("v0"), false);
    log.append(&first, AppendOrigin::Client { verify_txn: &ok }, 0, NOW)
        .unwrap();
    // Another writer supersedes the producer's only record.
    for v in 1..10 {
        append(
            &mut log,
            &[kv("k", Some(&v.to_string()))],
            NOW,
            Compression::None,
        );
    }
    log.roll(NOW).unwrap();
    clean(&mut log, NOW).unwrap();
    log.close().unwrap();
    // Without producer snapshots the state must come from the log itself.
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "snapshot") {
            std::fs::remove_file(p).unwrap();
        }
    }
    let mut log = open(dir.path(), &cfg);
    let retry = log
        .append(&first, AppendOrigin::Client { verify_txn: &ok }, 0, NOW)
        .unwrap();
    assert!(
        retry.duplicate,
        "the retried batch is recognised after cleaning and reopening"
    );
    assert_eq!(retry.first_offset, 0);
}

#[test]
fn aborted_transactions_are_removed_and_committed_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(400, 0);
    let mut log = open(dir.path(), &cfg);
    let ok = |_: i64, _: i16| true;
    let client = AppendOrigin::Client { verify_txn: &ok };
    log.append(
        &producer_batch(5, 0, "a", Some("aborted"), true),
        client,
        0,
        NOW,
    )
    .unwrap();
    log.append(
        &producer_batch(6, 0, "b", Some("committed"), true),
        client,
        0,
        NOW,
    )
    .unwrap();
    let marker = |pid: i64, kind| {
        let m = strom_records::EndTxnMarker::new(kind, 0);
        strom_records::build_marker_batch(pid, 0, &m, NOW).unwrap()
    };
    log.append(
        &marker(5, strom_records::ControlRecordType::Abort),
        AppendOrigin::Coordinator,
        0,
        NOW,
    )
    .unwrap();
    log.append(
        &marker(6, strom_records::ControlRecordType::Commit),
        AppendOrigin::Coordinator,
        0,
        NOW,
    )
    .unwrap();
    for v in 0..6 {
        append(
            &mut log,
            &[kv("c", Some(&v.to_string()))],
            NOW,
            Compression::None,
        );
    }
    log.roll(NOW).unwrap();
    assert_eq!(log.aborted_transactions(0, i64::MAX).len(), 1);
    clean(&mut log, NOW).unwrap();
    let kept = records(&log);
    assert!(
        kept.iter()
            .all(|(_, k, _)| k.as_deref() != Some(b"a".as_slice())),
        "{kept:?}"
    );
    assert!(kept
        .iter()
        .any(|(_, _, v)| v.as_deref() == Some(b"committed".as_slice())));
    // The abort marker stays while the cleaning that removed its data is the last one to have
    // seen the data; later cleanings may drop the marker (and its index entry) after the horizon.
    clean(&mut log, NOW + 1);
    log.close().unwrap();
    let log = open(dir.path(), &cfg);
    assert!(records(&log)
        .iter()
        .all(|(_, k, _)| k.as_deref() != Some(b"a".as_slice())));
}

/// One step of the property test.
#[derive(Debug, Clone)]
enum Op {
    /// A batch of `(key index, value or tombstone)`.
    Append(Vec<(u8, Option<u8>)>, u8),
    Roll,
    /// A cleaning `advance` ms after the previous step's clock.
    Clean {
        advance: i64,
    },
    Reopen {
        clean_shutdown: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (prop::collection::vec((0u8..6, prop::option::weighted(0.8, any::<u8>())), 1..5), 0u8..5)
            .prop_map(|(r, codec)| Op::Append(r, codec)),
        2 => Just(Op::Roll),
        2 => (0i64..3_000).prop_map(|advance| Op::Clean { advance }),
        1 => any::<bool>().prop_map(|clean_shutdown| Op::Reopen { clean_shutdown }),
    ]
}

fn codec(n: u8) -> Compression {
    match n {
        1 => Compression::Gzip,
        2 => Compression::Snappy,
        3 => Compression::Lz4,
        4 => Compression::Zstd,
        _ => Compression::None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever the interleaving of appends, rolls, cleanings and reopenings, the log reads from
    /// the start as the model does (latest value per key, deleted keys absent), every record read
    /// is one that was appended at that offset, and below the cleaned end no key appears twice.
    #[test]
    fn the_cleaned_log_reads_as_the_model(ops in prop::collection::vec(op(), 1..40), segment_bytes in 150u64..600) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(segment_bytes, 1_000);
        let mut log = open(dir.path(), &cfg);
        let mut appended: HashMap<i64, (Vec<u8>, Option<Vec<u8>>)> = HashMap::new();
        let mut model: Vec<Read> = Vec::new();
        let mut now = NOW;
        for op in ops {
            match op {
                Op::Append(rs, c) => {
                    let rs: Vec<(Vec<u8>, Option<Vec<u8>>)> = rs
                        .into_iter()
                        .map(|(k, v)| (vec![b'k', k], v.map(|v| vec![v; 3])))
                        .collect();
                    let base = append(&mut log, &rs, now, codec(c));
                    for (i, (k, v)) in rs.into_iter().enumerate() {
                        let offset = base + i as i64;
                        appended.insert(offset, (k.clone(), v.clone()));
                        model.push((offset, Some(k), v));
                    }
                }
                Op::Roll => log.roll(now).unwrap(),
                Op::Clean { advance } => {
                    now += advance;
                    if let Some(stats) = clean(&mut log, now) {
                        let below: Vec<_> = records(&log).into_iter().filter(|(o, _, _)| *o < stats.end_offset).collect();
                        let mut keys: Vec<_> = below.iter().map(|(_, k, _)| k.clone()).collect();
                        let n = keys.len();
                        keys.sort();
                        keys.dedup();
                        prop_assert_eq!(keys.len(), n, "a key twice below the cleaned end {}", stats.end_offset);
                    }
                }
                Op::Reopen { clean_shutdown } => {
                    if clean_shutdown {
                        log.close().unwrap();
                    } else {
                        drop(log);
                    }
                    log = open(dir.path(), &cfg);
                }
            }
            let read = records(&log);
            for (offset, k, v) in &read {
                let original = appended.get(offset);
                prop_assert!(original.is_some(), "offset {} was never appended", offset);
                let (ok, ov) = original.unwrap();
                prop_assert_eq!(Some(ok), k.as_ref());
                prop_assert_eq!(ov, v);
            }
            prop_assert!(read.windows(2).all(|w| w[0].0 < w[1].0), "offsets increase");
            prop_assert_eq!(replay(&read), replay(&model));
        }
    }
}

#[test]
fn a_full_offset_map_cleans_up_to_where_it_filled_and_the_next_cleaning_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), &config(1 << 20, 60_000));
    // 40 keys, 3 versions each, in one closed segment; the map holds only 10 keys.
    for round in 0..3 {
        for key in 0..40 {
            append(
                &mut log,
                &[kv(&format!("k{key}"), Some(&format!("v{round}")))],
                NOW,
                Compression::None,
            );
        }
    }
    log.roll(NOW).unwrap();
    let before = records(&log);
    let settings = CleanerSettings {
        dedupe_buffer_bytes: 10 * strom_storage::cleaner::offset_map::BYTES_PER_ENTRY,
        ..CleanerSettings::default()
    };
    let mut passes = 0;
    while let Some(plan) = log.plan_cleaning(NOW, settings) {
        let Some(mut cleaned) = plan.execute(&mut |_| {}, &AtomicBool::new(false)).unwrap() else {
            break;
        };
        let stats = commit(&mut log, &mut cleaned).unwrap();
        assert!(stats.keys <= 11, "the map stays near its bound: {stats:?}");
        assert_eq!(replay(&records(&log)), replay(&before));
        passes += 1;
        assert!(passes < 20, "cleaning makes progress");
        if !log.cleaning_state(NOW).unwrap().is_due() {
            break;
        }
    }
    assert!(
        passes >= 3,
        "the dirty section took several passes: {passes}"
    );
    let after = records(&log);
    assert_eq!(after.len(), 40, "one record per key in the end: {after:?}");
    assert!(after
        .iter()
        .all(|(_, _, v)| v.as_deref() == Some(b"v2".as_slice())));
}
