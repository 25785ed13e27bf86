//! Append/read, rolling, reopen, DeleteRecords, retention, timestamps, truncation.

mod common;

use common::*;
use strom_records::BatchHeader;
use strom_storage::{AppendOrigin, Log, LogConfig, StorageError};

#[test]
fn append_and_read_back_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, report) = Log::open(dir.path(), LogConfig::default(), 0).unwrap();
    assert!(!report.clean_shutdown);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
    let mut written = Vec::new();
    for i in 0..10 {
        let a = append(&mut log, &vec![1000 + i; (i % 3 + 1) as usize], 10, 0);
        assert_eq!(a.base, written.last().map_or(0, |w: &Appended| w.last + 1));
        written.push(a);
    }
    assert_eq!(log.log_end_offset(), written.last().unwrap().last + 1);
    let got = read_all(&log, 0);
    assert_eq!(got.len(), written.len());
    for (g, w) in got.iter().zip(&written) {
        assert_eq!(g.0, w.base);
        assert_eq!(g.1, w.bytes);
        let h = BatchHeader::parse(&g.1).unwrap();
        assert_eq!(h.partition_leader_epoch, 3);
        assert_eq!(strom_records::header::compute_crc(&g.1), h.crc);
    }
    // a fetch inside a batch starts with the batch containing it
    let mid = written[5].base + 1;
    if mid <= written[5].last {
        assert_eq!(read_all(&log, mid)[0].0, written[5].base);
    }
    assert!(read_all(&log, log.log_end_offset()).is_empty());
}

#[test]
fn multi_batch_append_is_contiguous() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), LogConfig::default(), 0).unwrap();
    let mut req = simple(3, 10, 5);
    req.extend(simple(2, 20, 5));
    let info = log.append(&req, AppendOrigin::Coordinator, -1, 0).unwrap();
    assert_eq!(
        (info.first_offset, info.last_offset, info.batches),
        (0, 4, 2)
    );
    assert_eq!((info.max_timestamp, info.offset_of_max_timestamp), (20, 4));
    let got = read_all(&log, 0);
    assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), vec![0, 3]);
    let info = log
        .append(&simple(1, 5, 5), AppendOrigin::Coordinator, -1, 0)
        .unwrap();
    assert_eq!(info.first_offset, 5);
}

#[test]
fn invalid_append_is_rejected_and_leaves_log_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), LogConfig::default(), 0).unwrap();
    let mut b = simple(1, 1, 10);
    b.pop();
    assert!(matches!(
        log.append(&b, AppendOrigin::Coordinator, -1, 0),
        Err(StorageError::InvalidBatch { .. })
    ));
    assert!(matches!(
        log.append(&[], AppendOrigin::Coordinator, -1, 0),
        Err(StorageError::InvalidBatch { .. })
    ));
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.size_bytes(), 0);
}

#[test]
fn rolls_by_size_and_reads_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), small_config(1000), 0).unwrap();
    let written: Vec<Appended> = (0..40)
        .map(|i| append(&mut log, &[i, i + 1], 50, 0))
        .collect();
    assert!(log.segment_count() > 3, "{}", log.segment_count());
    let bases = log.segment_base_offsets();
    for b in &bases {
        assert!(
            written.iter().any(|w| w.base == *b),
            "segment base {b} is a batch base"
        );
        let name = format!("{b:020}.log");
        assert!(dir.path().join(&name).exists(), "{name}");
    }
    // closed segments have their index files
    assert!(dir.path().join(format!("{:020}.index", bases[0])).exists());
    assert!(dir
        .path()
        .join(format!("{:020}.timeindex", bases[0]))
        .exists());
    assert!(log.segment_base_offsets().windows(2).all(|w| w[0] < w[1]));
    let got = read_all(&log, 0);
    assert_eq!(got.len(), written.len());
    for (g, w) in got.iter().zip(&written) {
        assert_eq!(g.1, w.bytes);
    }
    // budgeted read stops at whole batches, crossing a segment boundary
    let plan = log.read_plan(bases[1] - 2, i64::MAX).unwrap();
    let data = plan.read(written[0].bytes.len() * 3, false).unwrap();
    let got = split(&data.records);
    assert_eq!(got.len(), 3);
    assert_eq!(
        data.next_offset,
        Some(written.iter().find(|w| w.base == got[2].0).unwrap().last + 1)
    );
    // max_offset_exclusive (high watermark) stops the read
    let hw = written[10].base;
    let got = split(
        &log.read_plan(0, hw)
            .unwrap()
            .read(usize::MAX, true)
            .unwrap()
            .records,
    );
    assert_eq!(got.len(), 10);
}

#[test]
fn append_would_roll_predicts_the_roll_of_the_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), small_config(1000), 0).unwrap();
    let mut rolls = 0;
    for i in 0..40 {
        let batch = simple(2, i, 50);
        let predicted = log.append_would_roll(&batch, 0);
        let before = log.segment_count();
        log.append(&batch, AppendOrigin::Coordinator, -1, 0)
            .unwrap();
        assert_eq!(predicted, log.segment_count() > before, "append {i}");
        rolls += usize::from(predicted);
    }
    assert!(rolls > 3, "{rolls} rolls");
    // Bytes that do not parse are left to the path that reports them.
    assert!(log.append_would_roll(&[0; 10], 0));
}

#[test]
fn min_one_batch_returns_an_oversized_batch() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), LogConfig::default(), 0).unwrap();
    let big = append(&mut log, &[1], 5000, 0);
    append(&mut log, &[2], 10, 0);
    let plan = log.read_plan(0, i64::MAX).unwrap();
    let d = plan.read(100, true).unwrap();
    assert_eq!(&d.records[..], &big.bytes[..]);
    let d = plan.read(100, false).unwrap();
    assert!(d.records.is_empty());
    assert_eq!(d.next_offset, None);
    // the budget counts whole batches only
    let d = plan.read(big.bytes.len() + 10, true).unwrap();
    assert_eq!(split(&d.records).len(), 1);
}

/// Fetches from every offset over large batches (stepped over by their headers when before the
/// fetch offset) and small ones (read and dropped), with budgets that cut a batch in half.
#[test]
fn reads_from_every_offset_over_large_and_small_batches() {
    // One segment, and segments of one or two large batches each.
    for segment_bytes in [LogConfig::default().segment_bytes, 150_000] {
        reads_from_every_offset(LogConfig {
            segment_bytes,
            ..LogConfig::default()
        });
    }
}

#[allow(clippy::unwrap_used)]
fn reads_from_every_offset(config: LogConfig) {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), config, 0).unwrap();
    let shapes: [(usize, usize); 12] = [
        (3, 7000),
        (2, 30),
        (1, 40_000),
        (1, 20),
        (2, 15_000),
        (4, 10),
        (1, 70_000),
        (2, 40_000),
        (1, 100_000),
        (1, 5),
        (1, 66_000),
        (1, 90_000),
    ];
    let written: Vec<Appended> = shapes
        .iter()
        .map(|&(n, len)| append(&mut log, &vec![1; n], len, 0))
        .collect();
    for from in 0..log.log_end_offset() {
        let first = written.iter().position(|w| w.last >= from).unwrap();
        let plan = log.read_plan(from, i64::MAX).unwrap();
        for budget in [usize::MAX, 200_000, 50_000, 20_000, 100] {
            let got = plan.read(budget, true).unwrap();
            // The same batches as file ranges and memory.
            let parts = plan.read_parts(budget, true).unwrap();
            assert_eq!(
                parts.next_offset, got.next_offset,
                "from {from} budget {budget}"
            );
            assert_eq!(
                materialize(&parts),
                got.records.to_vec(),
                "from {from} budget {budget}"
            );
            if from == written[6].base && budget == usize::MAX {
                assert!(
                    matches!(
                        parts.parts.first(),
                        Some(strom_storage::ReadPart::File { .. })
                    ),
                    "a large batch is sent from its file"
                );
            }
            // Whole batches from the one holding `from`, while they fit (the first always).
            let mut expected = Vec::new();
            for w in &written[first..] {
                if !expected.is_empty() && expected.len() + w.bytes.len() > budget {
                    break;
                }
                expected.extend_from_slice(&w.bytes);
            }
            assert_eq!(
                got.records.len(),
                expected.len(),
                "from {from} budget {budget}"
            );
            assert!(
                got.records[..] == expected[..],
                "from {from} budget {budget}"
            );
        }
    }
}

/// The bytes of a fetch read in parts, file ranges read.
#[allow(clippy::unwrap_used)]
fn materialize(parts: &strom_storage::FetchParts) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let mut out = Vec::new();
    for part in &parts.parts {
        match part {
            strom_storage::ReadPart::Memory(bytes) => out.extend_from_slice(bytes),
            strom_storage::ReadPart::File {
                file,
                position,
                len,
            } => {
                let mut buf = vec![0u8; *len];
                file.read_exact_at(&mut buf, *position).unwrap();
                out.extend_from_slice(&buf);
            }
        }
    }
    out
}

#[test]
fn cached_reads_match_waiting_reads_and_refuse_large_plans() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), LogConfig::default(), 0).unwrap();
    for i in 0..20 {
        append(&mut log, &[i, i + 1], 500, 0);
    }
    // Just written, so in the page cache: the same batches as a read that may wait. (A
    // filesystem without RWF_NOWAIT for buffered reads answers None: nothing to compare.)
    for from in [0, 7, 39] {
        let plan = log.read_plan(from, i64::MAX).unwrap();
        let waited = plan.read_parts(1 << 20, true).unwrap();
        let Some(cached) = plan.read_parts_cached(1 << 20, true).unwrap() else {
            eprintln!("no RWF_NOWAIT reads on this filesystem");
            continue;
        };
        assert_eq!(materialize(&cached), materialize(&waited), "from {from}");
        assert_eq!(cached.next_offset, waited.next_offset);
    }
    // A plan over more than CACHED_READ_MAX bytes is left to a thread that may wait.
    for i in 0..4 {
        append(&mut log, &[100 + i], strom_storage::CACHED_READ_MAX / 2, 0);
    }
    let plan = log.read_plan(0, i64::MAX).unwrap();
    assert!(plan.read_parts_cached(1 << 20, true).unwrap().is_none());
}

#[test]
fn read_plan_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), LogConfig::default(), 0).unwrap();
    for _ in 0..5 {
        append(&mut log, &[1, 2], 10, 0);
    }
    log.delete_records_before(4).unwrap();
    for bad in [-1, 3, 11, 100] {
        match log.read_plan(bad, i64::MAX) {
            Err(StorageError::OffsetOutOfRange {
                offset,
                log_start,
                log_end,
            }) => assert_eq!((offset, log_start, log_end), (bad, 4, 10)),
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert!(log
        .read_plan(10, i64::MAX)
        .unwrap()
        .read(1000, true)
        .unwrap()
        .records
        .is_empty());
}

#[test]
fn reopen_after_close_gives_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(800);
    let (mut log, _) = Log::open(dir.path(), cfg.clone(), 0).unwrap();
    for i in 0..30 {
        append(&mut log, &[i * 10, i * 10 + 5], 40, 0);
    }
    log.delete_records_before(7).unwrap();
    let before = (
        log.log_start_offset(),
        log.log_end_offset(),
        log.segment_base_offsets(),
        log.size_bytes(),
        read_all(&log, 7),
        log.offset_for_timestamp(101).unwrap(),
        log.max_timestamp_offset().unwrap(),
    );
    log.close().unwrap();
    assert!(dir.path().join(".strom_cleanshutdown").exists());
    let (log, report) = Log::open(dir.path(), cfg.clone(), 0).unwrap();
    assert!(report.clean_shutdown);
    assert_eq!(report.truncated_bytes, 0);
    assert_eq!(report.indexes_rebuilt, 0);
    assert!(!dir.path().join(".strom_cleanshutdown").exists());
    let after = (
        log.log_start_offset(),
        log.log_end_offset(),
        log.segment_base_offsets(),
        log.size_bytes(),
        read_all(&log, 7),
        log.offset_for_timestamp(101).unwrap(),
        log.max_timestamp_offset().unwrap(),
    );
    assert_eq!(before, after);
    // and once more without a clean shutdown (drop without close)
    drop(log);
    let (mut log, report) = Log::open(dir.path(), cfg, 0).unwrap();
    assert!(!report.clean_shutdown);
    assert_eq!(report.truncated_bytes, 0);
    assert_eq!(log.log_end_offset(), before.1);
    assert_eq!(read_all(&log, 7), before.4);
    append(&mut log, &[1], 1, 0);
}

#[test]
fn missing_or_bad_index_files_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(800);
    let (mut log, _) = Log::open(dir.path(), cfg.clone(), 0).unwrap();
    for i in 0..30 {
        append(&mut log, &[i], 40, 0);
    }
    let bases = log.segment_base_offsets();
    let all = read_all(&log, 0);
    log.close().unwrap();
    std::fs::remove_file(dir.path().join(format!("{:020}.index", bases[0]))).unwrap();
    std::fs::write(
        dir.path().join(format!("{:020}.index", bases[1])),
        [1, 2, 3],
    )
    .unwrap();
    std::fs::write(
        dir.path().join(format!("{:020}.index", bases[2])),
        [0, 0, 0, 1, 0xff, 0xff, 0, 0],
    )
    .unwrap();
    let (log, report) = Log::open(dir.path(), cfg, 0).unwrap();
    assert!(report.indexes_rebuilt >= 3, "{report:?}");
    assert_eq!(read_all(&log, 0), all);
    for w in all.iter().step_by(3) {
        assert_eq!(read_all(&log, w.0)[0], *w);
    }
}

#[test]
fn delete_records_before_moves_start_and_deletes_segments() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(600);
    let (mut log, _) = Log::open(dir.path(), cfg.clone(), 0).unwrap();
    let written: Vec<Appended> = (0..30).map(|i| append(&mut log, &[i], 40, 0)).collect();
    let n_before = log.segment_count();
    let bases = log.segment_base_offsets();
    let target = bases[2] + 1;
    assert_eq!(log.delete_records_before(target).unwrap(), target);
    assert_eq!(log.log_start_offset(), target);
    assert_eq!(log.segment_base_offsets()[0], bases[2]);
    assert_eq!(log.segment_count(), n_before - 2);
    assert!(!dir.path().join(format!("{:020}.log", bases[0])).exists());
    // moving backwards is a no-op; past the end is an error
    assert_eq!(log.delete_records_before(1).unwrap(), target);
    assert!(matches!(
        log.delete_records_before(log.log_end_offset() + 1),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
    assert_eq!(read_all(&log, target)[0].0, target);
    // persisted across an unclean reopen
    drop(log);
    let (mut log, _) = Log::open(dir.path(), cfg.clone(), 0).unwrap();
    assert_eq!(log.log_start_offset(), target);
    // everything: the active segment stays, empty reads at the end
    let leo = log.log_end_offset();
    log.delete_records_before(leo).unwrap();
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.log_start_offset(), leo);
    assert!(read_all(&log, leo).is_empty());
    let a = append(&mut log, &[5], 1, 0);
    assert_eq!(a.base, written.last().unwrap().last + 1);
}

#[test]
fn retention_by_time_deletes_old_segments_and_rolls_expired_active() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        retention_ms: 1000,
        ..small_config(500)
    };
    let (mut log, _) = Log::open(dir.path(), cfg, 0).unwrap();
    for i in 0..20 {
        append(&mut log, &[i * 100], 40, 0); // timestamps 0..1900
    }
    let n = log.segment_count();
    assert!(n >= 3);
    // nothing is older than 1000 ms at t=1000
    assert_eq!(
        log.apply_retention(1000, i64::MAX)
            .unwrap()
            .deleted_segments(),
        0
    );
    let out = log.apply_retention(2500, i64::MAX).unwrap();
    assert!(
        out.deleted_by_time > 0 && out.deleted_by_time < n,
        "{out:?}"
    );
    assert_eq!(log.log_start_offset(), log.segment_base_offsets()[0]);
    assert_eq!(out.log_start_offset, log.log_start_offset());
    // high watermark bounds deletion
    let leo = log.log_end_offset();
    let out = log
        .apply_retention(100_000, log.log_start_offset())
        .unwrap();
    assert_eq!(out.deleted_segments(), 0);
    // everything expired: the active segment is rolled, then all old ones go
    let out = log.apply_retention(100_000, i64::MAX).unwrap();
    assert!(out.deleted_segments() > 0);
    assert_eq!(log.segment_base_offsets(), vec![leo]);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (leo, leo));
    assert_eq!(log.size_bytes(), 0);
    assert_eq!(append(&mut log, &[1], 1, 0).base, leo);
}

#[test]
fn retention_by_bytes_keeps_at_least_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), small_config(500), 0).unwrap();
    for i in 0..30 {
        append(&mut log, &[i], 40, 0);
    }
    let total = log.size_bytes();
    let limit = (total / 2) as i64;
    let mut cfg = log.config().clone();
    cfg.retention_bytes = limit;
    log.update_config(cfg).unwrap();
    let out = log.apply_retention(0, i64::MAX).unwrap();
    assert!(out.deleted_by_size > 0);
    assert_eq!(out.deleted_bytes, total - log.size_bytes());
    assert!(log.size_bytes() as i64 >= limit);
    // deleting one more segment would go below the limit
    let first = read_all(&log, log.log_start_offset());
    let first_seg = log.segment_base_offsets()[1];
    let first_seg_bytes: usize = first
        .iter()
        .filter(|b| b.0 < first_seg)
        .map(|b| b.1.len())
        .sum();
    assert!((log.size_bytes() as i64 - first_seg_bytes as i64) < limit);
    assert_eq!(
        log.apply_retention(0, i64::MAX).unwrap().deleted_segments(),
        0
    );
}

#[test]
fn roll_by_segment_ms_uses_first_batch_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_ms: 1000,
        ..LogConfig::default()
    };
    let (mut log, _) = Log::open(dir.path(), cfg, 0).unwrap();
    append(&mut log, &[10_000], 1, 0);
    append(&mut log, &[10_900], 1, 0);
    assert_eq!(log.segment_count(), 1);
    append(&mut log, &[11_001], 1, 0);
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
}

#[test]
fn roll_when_index_full() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        index_interval_bytes: 1,
        segment_index_bytes: 24, // 3 offset entries, 2 time entries
        ..LogConfig::default()
    };
    let (mut log, _) = Log::open(dir.path(), cfg, 0).unwrap();
    for i in 0..20 {
        append(&mut log, &[i], 1, 0);
    }
    assert!(log.segment_count() >= 5, "{}", log.segment_count());
    assert_eq!(read_all(&log, 0).len(), 20);
}

#[test]
fn offset_for_timestamp_and_max_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), small_config(400), 0).unwrap();
    assert_eq!(log.offset_for_timestamp(0).unwrap(), None);
    assert_eq!(log.max_timestamp_offset().unwrap(), None);
    let ts: Vec<Vec<i64>> = vec![
        vec![100, 90, 120],
        vec![110],
        vec![300, 50],
        vec![200, 300],
        vec![250],
    ];
    let mut model = Vec::new();
    for t in &ts {
        let a = append(&mut log, t, 30, 0);
        for (i, t) in t.iter().enumerate() {
            model.push((a.base + i as i64, *t));
        }
    }
    for target in [0, 90, 100, 101, 119, 120, 121, 250, 299, 300, 301] {
        // Kafka: first batch (in offset order) with max timestamp >= target, then the first
        // record in it with timestamp >= target.
        let expect = model.iter().find(|(_, t)| *t >= target).copied();
        assert_eq!(
            log.offset_for_timestamp(target).unwrap(),
            expect,
            "target {target}"
        );
    }
    assert_eq!(log.max_timestamp_offset().unwrap(), Some((4, 300)));
}

#[test]
fn truncate_to_removes_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(500);
    let (mut log, _) = Log::open(dir.path(), cfg.clone(), 0).unwrap();
    let written: Vec<Appended> = (0..30).map(|i| append(&mut log, &[i, i], 40, 0)).collect();
    let cut = written[17].base;
    log.truncate_to(cut).unwrap();
    assert_eq!(log.log_end_offset(), cut);
    let got = read_all(&log, 0);
    assert_eq!(got.len(), 17);
    assert!(got.iter().zip(&written).all(|(g, w)| g.1 == w.bytes));
    let a = append(&mut log, &[7], 3, 0);
    assert_eq!(a.base, cut);
    log.close().unwrap();
    let (log, _) = Log::open(dir.path(), cfg, 0).unwrap();
    assert_eq!(log.log_end_offset(), cut + 1);
    // below the first segment: start over there
    let (mut log2, _) = Log::open(&dir.path().join("other"), small_config(500), 0).unwrap();
    for i in 0..10 {
        append(&mut log2, &[i], 40, 0);
    }
    log2.delete_records_before(8).unwrap();
    let first = log2.segment_base_offsets()[0];
    if first > 0 {
        log2.truncate_to(first - 1).unwrap();
        assert_eq!(
            (log2.log_start_offset(), log2.log_end_offset()),
            (first - 1, first - 1)
        );
    }
    drop(log);
}

#[test]
fn sync_handle_reports_durable_offset() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), LogConfig::default(), 0).unwrap();
    append(&mut log, &[1, 2, 3], 10, 0);
    let h = log.sync_handle();
    append(&mut log, &[4], 10, 0);
    assert_eq!(h.sync().unwrap(), 3);
    assert!(log.durable_offset() >= 3);
    log.flush().unwrap();
    assert_eq!(log.durable_offset(), 4);
}

#[test]
fn delete_removes_directory_but_plans_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("topic-0");
    let (mut log, _) = Log::open(&p, LogConfig::default(), 0).unwrap();
    let a = append(&mut log, &[1], 10, 0);
    let plan = log.read_plan(0, i64::MAX).unwrap();
    log.delete().unwrap();
    assert!(!p.exists());
    assert_eq!(&plan.read(1 << 20, true).unwrap().records[..], &a.bytes[..]);
}

#[test]
fn leftover_files_are_cleaned_on_open() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("00000000000000000050.index"), [0u8; 8]).unwrap();
    std::fs::write(dir.path().join("log-start-offset.tmp"), b"junk").unwrap();
    let (log, _) = Log::open(dir.path(), LogConfig::default(), 0).unwrap();
    assert!(!dir.path().join("00000000000000000050.index").exists());
    assert!(!dir.path().join("log-start-offset.tmp").exists());
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn clean_shutdown_still_checks_the_last_batch() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(100_000);
    let (mut log, _) = Log::open(dir.path(), cfg.clone(), 0).unwrap();
    let written: Vec<Appended> = (0..10).map(|i| append(&mut log, &[i], 30, 0)).collect();
    log.close().unwrap();
    let path = dir.path().join(format!("{:020}.log", 0));
    let len = std::fs::metadata(&path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len - 3).unwrap();
    let (log, report) = Log::open(dir.path(), cfg, 0).unwrap();
    assert!(report.clean_shutdown);
    assert_eq!(report.truncated_bytes, written[9].bytes.len() as u64 - 3);
    assert_eq!(log.log_end_offset(), written[8].last + 1);
    assert_eq!(read_all(&log, 0).len(), 9);
}
