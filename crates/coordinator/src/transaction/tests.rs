//! Scenario tests of the transaction coordinator shard: the request flows, their error codes,
//! the timers, and that replaying the records rebuilds the state.

use super::errors::*;
use super::*;
use crate::outcome::CoordinatorRecord;

const COORDINATOR_EPOCH: i32 = 3;
const TIMEOUT: i32 = 60_000;

fn shard() -> TransactionCoordinatorShard {
    TransactionCoordinatorShard::new(TxnConfig::default(), COORDINATOR_EPOCH)
}

/// A producer id allocator handing out 1000, 1001, ...
fn allocator() -> impl FnMut() -> Result<i64, i16> {
    let mut next = 1000;
    move || {
        next += 1;
        Ok(next - 1)
    }
}

fn no_ids() -> Result<i64, i16> {
    panic!("no producer id expected")
}

fn tp(topic: &str, partition: i32) -> (String, i32) {
    (topic.to_string(), partition)
}

fn replayed(records: &[CoordinatorRecord]) -> TransactionCoordinatorShard {
    let mut s = shard();
    for r in records {
        s.replay(&r.key, r.value.as_deref()).expect("replays");
    }
    s
}

/// Initializes `id` and returns its producer id and epoch.
fn init(s: &mut TransactionCoordinatorShard, id: &str, now: i64) -> (i64, i16) {
    let next = 1000 + s.txns.len() as i64;
    s.init_producer_id(id, TIMEOUT, None, now, &mut || Ok(next))
        .reply
        .expect("init succeeds")
}

#[test]
fn init_new_and_existing_ids() {
    let mut s = shard();
    let mut ids = allocator();
    let out = s.init_producer_id("tx", TIMEOUT, None, 10, &mut ids);
    assert_eq!(out.reply, Ok((1000, 0)));
    assert_eq!(out.records.len(), 1);
    assert!(out.markers.is_empty());
    let m = s.metadata("tx").expect("exists");
    assert_eq!(m.state, TxnState::Empty);
    assert_eq!(m.txn_timeout_ms, TIMEOUT);
    assert_eq!(m.txn_start_timestamp, -1);
    assert_eq!(m.txn_last_update_timestamp, 10);
    assert_eq!(s.transactional_id_of(1000), Some("tx"));

    // A new producer with the same transactional id: same producer id, next epoch, new timeout.
    let out = s.init_producer_id("tx", 30_000, None, 20, &mut no_ids);
    assert_eq!(out.reply, Ok((1000, 1)));
    assert_eq!(out.records.len(), 1);
    let m = s.metadata("tx").expect("exists");
    assert_eq!((m.last_producer_id, m.last_producer_epoch), (1000, -1));
    assert_eq!(m.txn_timeout_ms, 30_000);
    assert_eq!(s.transactional_ids().collect::<Vec<_>>(), vec!["tx"]);
}

#[test]
fn init_refuses_bad_requests() {
    let mut s = shard();
    for timeout in [0, -1, 900_001] {
        let out = s.init_producer_id("tx", timeout, None, 0, &mut no_ids);
        assert_eq!(out.reply, Err(INVALID_TRANSACTION_TIMEOUT));
        assert!(out.records.is_empty());
    }
    let out = s.init_producer_id("", TIMEOUT, None, 0, &mut no_ids);
    assert_eq!(out.reply, Err(INVALID_REQUEST));
    // The allocator's error is the answer; nothing is created.
    let out = s.init_producer_id("tx", TIMEOUT, None, 0, &mut || {
        Err(COORDINATOR_NOT_AVAILABLE)
    });
    assert_eq!(out.reply, Err(COORDINATOR_NOT_AVAILABLE));
    assert!(out.records.is_empty());
    assert!(s.metadata("tx").is_none());
}

#[test]
fn exhausted_epoch_gets_a_new_producer_id() {
    let mut s = shard();
    init(&mut s, "tx", 0);
    // Bring the epoch close to the end through a record, as a long-lived id would have it.
    let mut m = s.metadata("tx").expect("exists").clone();
    m.producer_epoch = i16::MAX - 2;
    let value = m.to_value().encode();
    s.replay(&records::encode_key("tx"), Some(&value))
        .expect("replays");

    // MAX - 1 is still handed out...
    let out = s.init_producer_id("tx", TIMEOUT, None, 1, &mut no_ids);
    assert_eq!(out.reply, Ok((1000, i16::MAX - 1)));
    // ...but then the epochs are exhausted: a new producer id at epoch 0.
    let mut ids = || Ok(2000);
    let out = s.init_producer_id("tx", TIMEOUT, None, 2, &mut ids);
    assert_eq!(out.reply, Ok((2000, 0)));
    let m = s.metadata("tx").expect("exists");
    assert_eq!((m.last_producer_id, m.last_producer_epoch), (1000, -1));
    assert_eq!(s.transactional_id_of(2000), Some("tx"));
    assert_eq!(s.transactional_id_of(1000), None);
}

#[test]
fn kip_360_expected_producer_id_and_epoch() {
    let mut s = shard();
    // A new transactional id accepts any expected id (the producer lost its state).
    let mut ids = allocator();
    let out = s.init_producer_id("tx", TIMEOUT, Some((77, 5)), 0, &mut ids);
    assert_eq!(out.reply, Ok((1000, 0)));

    // The current id and epoch: bump, remembering the epoch.
    let out = s.init_producer_id("tx", TIMEOUT, Some((1000, 0)), 1, &mut no_ids);
    assert_eq!(out.reply, Ok((1000, 1)));
    assert_eq!(s.metadata("tx").expect("exists").last_producer_epoch, 0);
    // A retry of that call (its answer was lost): the same answer.
    let out = s.init_producer_id("tx", TIMEOUT, Some((1000, 0)), 2, &mut no_ids);
    assert_eq!(out.reply, Ok((1000, 1)));
    // Neither the current nor the last epoch, or another producer id: fenced.
    let out = s.init_producer_id("tx", TIMEOUT, Some((1000, 5)), 3, &mut no_ids);
    assert_eq!(out.reply, Err(PRODUCER_FENCED));
    assert!(out.records.is_empty());
    let out = s.init_producer_id("tx", TIMEOUT, Some((999, 1)), 3, &mut no_ids);
    assert_eq!(out.reply, Err(PRODUCER_FENCED));
    // A new producer (no expected id) resets the last epoch: the old retry is now fenced.
    assert_eq!(init(&mut s, "tx", 4), (1000, 2));
    let out = s.init_producer_id("tx", TIMEOUT, Some((1000, 0)), 5, &mut no_ids);
    assert_eq!(out.reply, Err(PRODUCER_FENCED));
}

#[test]
fn kip_360_retry_of_a_producer_id_rotation() {
    let mut s = shard();
    init(&mut s, "tx", 0);
    let mut m = s.metadata("tx").expect("exists").clone();
    m.producer_epoch = i16::MAX - 1;
    s.replay(&records::encode_key("tx"), Some(&m.to_value().encode()))
        .expect("replays");

    let mut ids = || Ok(2000);
    let expected = Some((1000, i16::MAX - 1));
    let out = s.init_producer_id("tx", TIMEOUT, expected, 1, &mut ids);
    assert_eq!(out.reply, Ok((2000, 0)));
    let m = s.metadata("tx").expect("exists");
    assert_eq!(
        (m.last_producer_id, m.last_producer_epoch),
        (1000, i16::MAX - 1)
    );
    // The retry names the old producer id with its exhausted epoch: same answer, no new id.
    let out = s.init_producer_id("tx", TIMEOUT, expected, 2, &mut no_ids);
    assert_eq!(out.reply, Ok((2000, 0)));
    // The old producer id with another epoch is fenced.
    let out = s.init_producer_id("tx", TIMEOUT, Some((1000, 3)), 3, &mut no_ids);
    assert_eq!(out.reply, Err(PRODUCER_FENCED));
}

#[test]
fn commit_flow() {
    let mut s = shard();
    let (pid, epoch) = init(&mut s, "tx", 0);
    assert!(!s.is_in_ongoing_txn(pid, epoch, "t", 0));

    let out = s.add_partitions("tx", pid, epoch, &[tp("t", 0), tp("t", 1)], 100);
    assert_eq!(out.reply, Ok(()));
    assert_eq!(out.records.len(), 1);
    let m = s.metadata("tx").expect("exists");
    assert_eq!(m.state, TxnState::Ongoing);
    assert_eq!(m.txn_start_timestamp, 100);
    assert!(s.is_in_ongoing_txn(pid, epoch, "t", 1));
    assert!(!s.is_in_ongoing_txn(pid, epoch, "t", 2));
    assert!(!s.is_in_ongoing_txn(pid, epoch + 1, "t", 1));

    // Already present: no record. A new partition: a record, same start.
    let out = s.add_partitions("tx", pid, epoch, &[tp("t", 1)], 150);
    assert_eq!(out.reply, Ok(()));
    assert!(out.records.is_empty());
    let out = s.add_partitions("tx", pid, epoch, &[tp("u", 0)], 200);
    assert_eq!(out.records.len(), 1);
    assert_eq!(s.metadata("tx").expect("exists").txn_start_timestamp, 100);

    assert_eq!(
        s.verify_partitions("tx", pid, epoch, &[tp("t", 0), tp("v", 0)]),
        Ok(vec![(tp("t", 0), NONE), (tp("v", 0), INVALID_TXN_STATE)])
    );
    assert_eq!(
        s.verify_partitions("tx", pid, epoch + 1, &[tp("t", 0)]),
        Err(PRODUCER_FENCED)
    );

    let out = s.end_txn("tx", pid, epoch, true, 300);
    assert_eq!(out.reply, Ok(()));
    assert_eq!(out.records.len(), 1);
    let marker = TxnMarker {
        transactional_id: "tx".into(),
        producer_id: pid,
        producer_epoch: epoch,
        coordinator_epoch: COORDINATOR_EPOCH,
        commit: true,
        partitions: vec![tp("t", 0), tp("t", 1), tp("u", 0)],
    };
    assert_eq!(out.markers, vec![marker.clone()]);
    assert_eq!(
        s.metadata("tx").expect("exists").state,
        TxnState::PrepareCommit
    );
    assert_eq!(s.pending_markers(), vec![marker.clone()]);
    assert!(!s.is_in_ongoing_txn(pid, epoch, "t", 0));
    // Adding partitions while the markers are written must wait.
    let out = s.add_partitions("tx", pid, epoch, &[tp("t", 0)], 310);
    assert_eq!(out.reply, Err(CONCURRENT_TRANSACTIONS));
    assert_eq!(
        s.verify_partitions("tx", pid, epoch, &[tp("t", 0)]),
        Err(CONCURRENT_TRANSACTIONS)
    );

    let out = s.markers_written(&marker, 400);
    assert_eq!(out.records.len(), 1);
    let m = s.metadata("tx").expect("exists");
    assert_eq!(m.state, TxnState::CompleteCommit);
    assert!(m.partitions.is_empty());
    assert_eq!(m.txn_last_update_timestamp, 400);
    assert!(s.pending_markers().is_empty());
    // Twice is a no-op.
    assert!(s.markers_written(&marker, 500).records.is_empty());

    // The next transaction starts from CompleteCommit.
    let out = s.add_partitions("tx", pid, epoch, &[tp("t", 0)], 600);
    assert_eq!(out.records.len(), 1);
    assert_eq!(s.metadata("tx").expect("exists").txn_start_timestamp, 600);
}

#[test]
fn add_partitions_errors() {
    let mut s = shard();
    let parts = [tp("t", 0)];
    assert_eq!(
        s.add_partitions("nope", 1, 0, &parts, 0).reply,
        Err(INVALID_PRODUCER_ID_MAPPING)
    );
    let (pid, epoch) = init(&mut s, "tx", 0);
    assert_eq!(
        s.add_partitions("tx", pid + 1, epoch, &parts, 0).reply,
        Err(INVALID_PRODUCER_ID_MAPPING)
    );
    assert_eq!(
        s.add_partitions("tx", pid, epoch + 1, &parts, 0).reply,
        Err(PRODUCER_FENCED)
    );
    assert_eq!(
        s.add_partitions("", pid, epoch, &parts, 0).reply,
        Err(INVALID_REQUEST)
    );
    init(&mut s, "tx", 1);
    let out = s.add_partitions("tx", pid, epoch, &parts, 0);
    assert_eq!(out.reply, Err(PRODUCER_FENCED));
    assert!(out.records.is_empty());
    assert_eq!(
        s.verify_partitions("nope", pid, epoch, &parts),
        Err(INVALID_PRODUCER_ID_MAPPING)
    );
}

#[test]
fn end_txn_retries_and_mismatches() {
    let mut s = shard();
    let (pid, epoch) = init(&mut s, "tx", 0);
    // No transaction.
    assert_eq!(
        s.end_txn("tx", pid, epoch, true, 1).reply,
        Err(INVALID_TXN_STATE)
    );
    assert_eq!(
        s.end_txn("tx", pid, epoch, false, 1).reply,
        Err(INVALID_TXN_STATE)
    );
    assert_eq!(
        s.end_txn("nope", pid, epoch, true, 1).reply,
        Err(INVALID_PRODUCER_ID_MAPPING)
    );

    s.add_partitions("tx", pid, epoch, &[tp("t", 0)], 2);
    assert_eq!(
        s.end_txn("tx", pid + 1, epoch, true, 3).reply,
        Err(INVALID_PRODUCER_ID_MAPPING)
    );
    assert_eq!(
        s.end_txn("tx", pid, epoch + 1, true, 3).reply,
        Err(PRODUCER_FENCED)
    );
    let marker = s.end_txn("tx", pid, epoch, true, 3).markers.remove(0);
    // While committing: a retry waits, an abort is refused.
    assert_eq!(
        s.end_txn("tx", pid, epoch, true, 4).reply,
        Err(CONCURRENT_TRANSACTIONS)
    );
    assert_eq!(
        s.end_txn("tx", pid, epoch, false, 4).reply,
        Err(INVALID_TXN_STATE)
    );
    s.markers_written(&marker, 5);
    // Committed: a retry succeeds without a record, an abort is refused.
    let out = s.end_txn("tx", pid, epoch, true, 6);
    assert_eq!(out.reply, Ok(()));
    assert!(out.records.is_empty() && out.markers.is_empty());
    assert_eq!(
        s.end_txn("tx", pid, epoch, false, 6).reply,
        Err(INVALID_TXN_STATE)
    );

    // The same for an abort.
    s.add_partitions("tx", pid, epoch, &[tp("t", 0)], 7);
    let marker = s.end_txn("tx", pid, epoch, false, 8).markers.remove(0);
    assert!(!marker.commit);
    assert_eq!(
        s.end_txn("tx", pid, epoch, false, 9).reply,
        Err(CONCURRENT_TRANSACTIONS)
    );
    assert_eq!(
        s.end_txn("tx", pid, epoch, true, 9).reply,
        Err(INVALID_TXN_STATE)
    );
    // A commit marker for an aborting transaction changes nothing.
    let wrong = TxnMarker {
        commit: true,
        ..marker.clone()
    };
    assert!(s.markers_written(&wrong, 10).records.is_empty());
    let stale = TxnMarker {
        coordinator_epoch: COORDINATOR_EPOCH - 1,
        ..marker.clone()
    };
    assert!(s.markers_written(&stale, 10).records.is_empty());
    s.markers_written(&marker, 10);
    assert_eq!(s.end_txn("tx", pid, epoch, false, 11).reply, Ok(()));
    assert_eq!(
        s.end_txn("tx", pid, epoch, true, 11).reply,
        Err(INVALID_TXN_STATE)
    );
}

#[test]
fn end_txn_without_partitions_completes_at_once() {
    let mut s = shard();
    let (pid, epoch) = init(&mut s, "tx", 0);
    assert_eq!(s.add_partitions("tx", pid, epoch, &[], 1).reply, Ok(()));
    let out = s.end_txn("tx", pid, epoch, true, 2);
    assert_eq!(out.reply, Ok(()));
    assert!(out.markers.is_empty());
    assert_eq!(out.records.len(), 2);
    assert_eq!(
        s.metadata("tx").expect("exists").state,
        TxnState::CompleteCommit
    );
    let states: Vec<TxnState> = out
        .records
        .iter()
        .map(|r| {
            records::TxnLogValue::decode(r.value.as_deref().expect("value"))
                .expect("decodes")
                .state
        })
        .collect();
    assert_eq!(
        states,
        vec![TxnState::PrepareCommit, TxnState::CompleteCommit]
    );
}

#[test]
fn init_during_a_transaction_fences_and_aborts_it() {
    let mut s = shard();
    let (pid, epoch) = init(&mut s, "tx", 0);
    s.add_partitions("tx", pid, epoch, &[tp("t", 0)], 1);

    let out = s.init_producer_id("tx", TIMEOUT, None, 2, &mut no_ids);
    assert_eq!(out.reply, Err(CONCURRENT_TRANSACTIONS));
    assert_eq!(out.records.len(), 1);
    let marker = TxnMarker {
        transactional_id: "tx".into(),
        producer_id: pid,
        producer_epoch: epoch + 1,
        coordinator_epoch: COORDINATOR_EPOCH,
        commit: false,
        partitions: vec![tp("t", 0)],
    };
    assert_eq!(out.markers, vec![marker.clone()]);
    assert_eq!(
        s.metadata("tx").expect("exists").state,
        TxnState::PrepareAbort
    );
    // The zombie is fenced; the new producer waits for the abort.
    assert_eq!(
        s.end_txn("tx", pid, epoch, true, 3).reply,
        Err(PRODUCER_FENCED)
    );
    assert_eq!(
        s.add_partitions("tx", pid, epoch, &[tp("t", 1)], 3).reply,
        Err(PRODUCER_FENCED)
    );
    let out = s.init_producer_id("tx", TIMEOUT, None, 3, &mut no_ids);
    assert_eq!(out.reply, Err(CONCURRENT_TRANSACTIONS));
    assert!(out.records.is_empty() && out.markers.is_empty());

    s.markers_written(&marker, 4);
    assert_eq!(
        s.metadata("tx").expect("exists").state,
        TxnState::CompleteAbort
    );
    assert_eq!(init(&mut s, "tx", 5), (pid, epoch + 2));
}

#[test]
fn timed_out_transactions_are_aborted_with_a_fence() {
    let mut s = shard();
    let (pid, epoch) = init(&mut s, "tx", 0);
    let (other_pid, other_epoch) = init(&mut s, "later", 0);
    // The first poll only schedules the checks.
    assert_eq!(s.next_deadline(), Some(i64::MIN));
    assert!(s.poll(0, &mut no_ids).records.is_empty());
    assert_eq!(s.next_deadline(), Some(10_000));

    s.add_partitions("tx", pid, epoch, &[tp("t", 0)], 1_000);
    s.add_partitions("later", other_pid, other_epoch, &[tp("t", 1)], 9_000);
    // Not yet due.
    assert!(s.poll(9_999, &mut no_ids).records.is_empty());
    // 1_000 + 60_000 < 61_001 only from 61_001 on: the check at 10_000 finds nothing.
    assert!(s.poll(10_000, &mut no_ids).records.is_empty());
    assert_eq!(s.next_deadline(), Some(20_000));

    let out = s.poll(65_000, &mut no_ids);
    assert_eq!(out.records.len(), 1);
    assert_eq!(
        out.markers,
        vec![TxnMarker {
            transactional_id: "tx".into(),
            producer_id: pid,
            producer_epoch: epoch + 1,
            coordinator_epoch: COORDINATOR_EPOCH,
            commit: false,
            partitions: vec![tp("t", 0)],
        }]
    );
    let m = s.metadata("tx").expect("exists");
    assert_eq!(
        (m.state, m.producer_epoch),
        (TxnState::PrepareAbort, epoch + 1)
    );
    assert_eq!(
        s.metadata("later").expect("exists").state,
        TxnState::Ongoing
    );
    // The zombie producer is fenced.
    assert_eq!(
        s.end_txn("tx", pid, epoch, true, 65_001).reply,
        Err(PRODUCER_FENCED)
    );
    assert!(!s.is_in_ongoing_txn(pid, epoch, "t", 0));
    // The next check aborts the other transaction only, not the one being aborted.
    let out = s.poll(75_000, &mut no_ids);
    assert_eq!(out.markers.len(), 1);
    assert_eq!(out.markers[0].transactional_id, "later");
}

#[test]
fn idle_transactional_ids_expire() {
    let config = TxnConfig {
        transactional_id_expiration_ms: 1_000,
        remove_expired_check_interval_ms: 100,
        ..TxnConfig::default()
    };
    let mut s = TransactionCoordinatorShard::new(config, COORDINATOR_EPOCH);
    let (pid, _) = init(&mut s, "idle", 0);
    let (busy_pid, busy_epoch) = init(&mut s, "busy", 0);
    s.add_partitions("busy", busy_pid, busy_epoch, &[tp("t", 0)], 0);
    s.poll(0, &mut no_ids);
    assert!(s.poll(999, &mut no_ids).records.is_empty());
    // The check at 999 found nothing; the next one (at 1_099) expires the idle id.
    assert!(s.poll(1_098, &mut no_ids).records.is_empty());
    let out = s.poll(1_099, &mut no_ids);
    assert_eq!(
        out.records,
        vec![CoordinatorRecord {
            key: records::encode_key("idle"),
            value: None
        }]
    );
    assert!(s.metadata("idle").is_none());
    assert_eq!(s.transactional_id_of(pid), None);
    assert!(s.metadata("busy").is_some());
    // Replaying the tombstone removes the id too.
    let mut r = shard();
    init(&mut r, "idle", 0);
    r.replay(&out.records[0].key, None).expect("replays");
    assert!(r.metadata("idle").is_none());
}

#[test]
fn replay_rebuilds_the_state() {
    let mut s = shard();
    let mut log: Vec<CoordinatorRecord> = Vec::new();
    log.extend(
        s.init_producer_id("a", TIMEOUT, None, 0, &mut || Ok(4))
            .records,
    );
    log.extend(
        s.init_producer_id("b", TIMEOUT, None, 0, &mut || Ok(5))
            .records,
    );
    log.extend(
        s.init_producer_id("c", TIMEOUT, None, 0, &mut || Ok(6))
            .records,
    );
    let (pid, epoch) = (4, 0);
    log.extend(
        s.add_partitions("a", pid, epoch, &[tp("t", 0), tp("u", 2)], 10)
            .records,
    );
    log.extend(s.add_partitions("b", 5, 0, &[tp("t", 1)], 10).records);
    log.extend(s.end_txn("b", 5, 0, true, 20).records);
    log.push(s.delete("c"));

    let r = replayed(&log);
    assert_eq!(r.snapshot_records(), s.snapshot_records());
    assert_eq!(r.describe("a"), s.describe("a"));
    assert!(r.metadata("c").is_none());
    assert_eq!(r.transactional_id_of(5), Some("b"));
    // After a restart mid-commit, the markers are written again.
    let pending = r.pending_markers();
    assert_eq!(pending, s.pending_markers());
    assert_eq!(pending.len(), 1);
    assert!(pending[0].commit);
    assert_eq!(pending[0].partitions, vec![tp("t", 1)]);
    let mut r = r;
    let out = r.markers_written(&pending[0], 30);
    assert_eq!(out.records.len(), 1);
    assert_eq!(
        r.metadata("b").expect("exists").state,
        TxnState::CompleteCommit
    );
    // The snapshot alone rebuilds the shard.
    assert_eq!(
        replayed(&r.snapshot_records()).snapshot_records(),
        r.snapshot_records()
    );
}

#[test]
fn bad_records_are_errors_and_change_nothing() {
    let mut s = shard();
    init(&mut s, "tx", 0);
    let before = s.snapshot_records();
    let key = records::encode_key("tx");
    assert!(s.replay(&[0], None).is_err());
    assert!(s.replay(&[0, 1, 0, 2, b't', b'x'], None).is_err());
    assert!(s.replay(&key, Some(&[0, 0, 1])).is_err());
    assert!(s.replay(&key, Some(&[0, 9])).is_err());
    assert!(s.replay(&key, Some(&[])).is_err());
    assert_eq!(s.snapshot_records(), before);
    // A Dead value counts as a tombstone.
    let mut m = s.metadata("tx").expect("exists").clone();
    m.state = TxnState::Dead;
    s.replay(&key, Some(&m.to_value().encode()))
        .expect("replays");
    assert!(s.metadata("tx").is_none());
}

#[test]
fn list_and_describe() {
    let mut s = shard();
    let (a, a_epoch) = init(&mut s, "a", 0);
    let (b, b_epoch) = init(&mut s, "b", 0);
    init(&mut s, "c", 0);
    s.add_partitions("a", a, a_epoch, &[tp("t", 0)], 1_000);
    s.add_partitions("b", b, b_epoch, &[tp("t", 1)], 5_000);
    s.end_txn("b", b, b_epoch, false, 6_000);

    let names =
        |l: Vec<ListedTxn>| -> Vec<String> { l.into_iter().map(|t| t.transactional_id).collect() };
    assert_eq!(
        names(s.list_transactions(&[], &[], -1, 10_000)),
        ["a", "b", "c"]
    );
    assert_eq!(
        s.list_transactions(&["Ongoing".into()], &[], -1, 10_000),
        vec![ListedTxn {
            transactional_id: "a".into(),
            producer_id: a,
            state: "Ongoing".into()
        }]
    );
    assert_eq!(
        names(s.list_transactions(&["PrepareAbort".into(), "Empty".into()], &[], -1, 10_000)),
        ["b", "c"]
    );
    assert!(s
        .list_transactions(&["Bogus".into()], &[], -1, 10_000)
        .is_empty());
    assert_eq!(names(s.list_transactions(&[], &[b], -1, 10_000)), ["b"]);
    // Running longer than 6s at 10s: a (started at 1s) only, and c (no start: -1, as Kafka).
    assert_eq!(
        names(s.list_transactions(&[], &[], 6_000, 10_000)),
        ["a", "c"]
    );
    assert_eq!(
        names(s.list_transactions(&["Ongoing".into()], &[], 9_000, 10_000)),
        Vec::<String>::new()
    );

    assert_eq!(
        s.describe("a"),
        Some(TxnDescription {
            state: "Ongoing".into(),
            timeout_ms: TIMEOUT,
            start_timestamp_ms: 1_000,
            producer_id: a,
            producer_epoch: a_epoch,
            partitions: vec![tp("t", 0)],
        })
    );
    let c = s.describe("c").expect("exists");
    assert_eq!((c.state.as_str(), c.start_timestamp_ms), ("Empty", -1));
    assert!(c.partitions.is_empty());
    assert_eq!(s.describe("nope"), None);
}
