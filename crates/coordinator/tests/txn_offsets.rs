//! Transactional offset commits (TxnOffsetCommit): pending offsets per producer, the end
//! markers, `require_stable`, group checks, deletion and expiration, and the replay of a log
//! with transactional and control batches.

mod common;

use common::consumer::{named, ConsumerHarness};
use common::*;
use strom_coordinator::{CoordinatorRecord, GroupCoordinatorShard};
use strom_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use strom_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use strom_protocol::messages::{OffsetDeleteRequest, ProducerId, TxnOffsetCommitRequest};
use strom_protocol::ResponseError;

const UNSTABLE: i16 = 88;

/// One entry of the `__consumer_offsets` log as the runtime would write it.
#[derive(Debug, Clone)]
enum Entry {
    Plain(CoordinatorRecord),
    Txn(i64, CoordinatorRecord),
    Marker(i64, bool),
}

/// The member fields of a TxnOffsetCommit v3+: (member id, generation, instance id).
type MemberFields<'a> = (&'a str, i32, Option<&'a str>);

const NO_MEMBER: MemberFields<'static> = ("", -1, None);

fn txn_request(
    producer_id: i64,
    group: &str,
    member: MemberFields<'_>,
    offsets: &[(&str, i32, i64, Option<&str>)],
) -> TxnOffsetCommitRequest {
    let mut topics: Vec<TxnOffsetCommitRequestTopic> = Vec::new();
    for (topic, partition, offset, metadata) in offsets {
        let p = TxnOffsetCommitRequestPartition::default()
            .with_partition_index(*partition)
            .with_committed_offset(*offset)
            .with_committed_leader_epoch(5)
            .with_committed_metadata(metadata.map(sb));
        match topics.iter_mut().find(|t| &*t.name.0 == *topic) {
            Some(t) => t.partitions.push(p),
            None => topics.push(
                TxnOffsetCommitRequestTopic::default()
                    .with_name(sb(topic).into())
                    .with_partitions(vec![p]),
            ),
        }
    }
    TxnOffsetCommitRequest::default()
        .with_transactional_id(sb("txn").into())
        .with_group_id(sb(group).into())
        .with_producer_id(ProducerId(producer_id))
        .with_producer_epoch(0)
        .with_member_id(sb(member.0))
        .with_generation_id(member.1)
        .with_group_instance_id(member.2.map(sb))
        .with_topics(topics)
}

/// A harness that keeps the full log: plain records, transactional records and markers.
struct Txn {
    h: Harness,
    log: Vec<Entry>,
}

impl Txn {
    fn new() -> Self {
        Txn {
            h: Harness::default(),
            log: Vec::new(),
        }
    }

    /// Moves the harness's plain records into the log (keeps the order of appends).
    fn sync(&mut self) {
        let plain: Vec<_> = self.h.log.drain(..).map(Entry::Plain).collect();
        self.log.extend(plain);
    }

    fn commit(
        &mut self,
        producer_id: i64,
        group: &str,
        member: MemberFields<'_>,
        offsets: &[(&str, i32, i64, Option<&str>)],
        version: i16,
    ) -> Vec<i16> {
        self.sync();
        let request = txn_request(producer_id, group, member, offsets);
        let outcome = self
            .h
            .shard
            .txn_commit_offsets(&request, version, self.h.now);
        assert!(outcome.completions.is_empty());
        let errors: Vec<i16> = outcome
            .reply
            .now()
            .expect("txn offset commit is immediate")
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .collect();
        self.log.extend(
            outcome
                .records
                .into_iter()
                .map(|r| Entry::Txn(producer_id, r)),
        );
        errors
    }

    fn end(&mut self, producer_id: i64, commit: bool) {
        self.sync();
        self.h.shard.complete_transaction(producer_id, commit);
        self.log.push(Entry::Marker(producer_id, commit));
    }

    fn replay(&mut self) -> GroupCoordinatorShard {
        self.sync();
        replay_entries(&self.h.shard, &self.log)
    }
}

fn replay_entries(like: &GroupCoordinatorShard, log: &[Entry]) -> GroupCoordinatorShard {
    let mut shard = GroupCoordinatorShard::new(like.config().clone());
    for (offset, entry) in log.iter().enumerate() {
        match entry {
            Entry::Plain(r) => shard.replay(&r.key, r.value.as_deref()),
            Entry::Txn(pid, r) => {
                shard.replay_transactional(*pid, &r.key, r.value.as_deref(), offset as i64)
            }
            Entry::Marker(pid, commit) => {
                shard.replay_end_transaction(*pid, *commit);
                Ok(())
            }
        }
        .expect("log replays");
    }
    shard
}

/// (offset, error) per partition of `topic`, with or without `require_stable`.
fn fetch(
    shard: &GroupCoordinatorShard,
    group: &str,
    topic: &str,
    partitions: &[i32],
    require_stable: bool,
) -> Vec<(i64, i16)> {
    shard
        .fetch_offsets_as_member(
            group,
            None,
            -1,
            Some(&[(topic.to_string(), partitions.to_vec())]),
            require_stable,
            0,
        )
        .expect("no group error")
        .into_iter()
        .map(|f| (f.committed_offset, f.error_code))
        .collect()
}

/// Everything a client can observe of the offsets of `groups`, plus the pending state.
fn observable(shard: &GroupCoordinatorShard, groups: &[&str]) -> String {
    let mut out = format!("{:?}\n", shard.group_ids().collect::<Vec<_>>());
    for g in groups {
        out += &format!("{g}: {:?}\n", shard.fetch_offsets(g, None, 0));
        for p in 0..4 {
            out += &format!(
                "{g}/t-{p}: pending={} stable={:?}\n",
                shard.has_pending_transactional_offsets(g, "t", p),
                fetch(shard, g, "t", &[p], true)
            );
        }
    }
    out += &format!("open={:?}\n", shard.open_transaction_producers());
    out
}

#[test]
fn commit_marker_makes_pending_offsets_visible() {
    let mut t = Txn::new();
    // A producer outside any group (v0: no member fields), unknown group: accepted, pending.
    let errors = t.commit(
        7,
        "g",
        NO_MEMBER,
        &[("t", 0, 10, Some("m")), ("t", 1, 11, None)],
        0,
    );
    assert_eq!(errors, vec![0, 0]);
    assert_eq!(
        fetch(&t.h.shard, "g", "t", &[0, 1], false),
        vec![(-1, 0); 2]
    );
    assert_eq!(
        fetch(&t.h.shard, "g", "t", &[0, 1, 2], true),
        vec![(-1, UNSTABLE), (-1, UNSTABLE), (-1, 0)]
    );
    assert!(t.h.shard.has_pending_transactional_offsets("g", "t", 0));
    assert!(t.h.shard.has_open_transactions());
    let pending =
        t.h.shard
            .pending_transactional_offset(7, "g", "t", 0)
            .expect("pending");
    // Before v2 there is no leader epoch.
    assert_eq!((pending.committed_offset, pending.leader_epoch), (10, -1));
    // The group exists (a simple group), as for OffsetCommit.
    assert!(t.h.shard.classic_group("g").is_some());
    // Pending offsets are not in a snapshot.
    assert!(t.h.shard.snapshot_records().is_empty());
    let mid = t.replay();
    assert_eq!(observable(&mid, &["g"]), observable(&t.h.shard, &["g"]));

    t.end(7, true);
    assert!(!t.h.shard.has_open_transactions());
    assert_eq!(
        fetch(&t.h.shard, "g", "t", &[0, 1], true),
        vec![(10, 0), (11, 0)]
    );
    let all = t.h.shard.fetch_offsets("g", None, 0).expect("ok");
    assert_eq!(all[0].metadata, "m");
    // A marker for a producer without pending offsets changes nothing.
    t.end(99, true);
    let replayed = t.replay();
    assert_eq!(
        observable(&replayed, &["g"]),
        observable(&t.h.shard, &["g"])
    );
    assert_eq!(replayed.snapshot_records(), t.h.shard.snapshot_records());
}

#[test]
fn abort_marker_drops_pending_offsets() {
    let mut t = Txn::new();
    let r = t.h.commit("g", "", -1, &[("t", 0, 5, None)], 8);
    assert_eq!(Harness::commit_errors(&r), vec![0]);
    assert_eq!(
        t.commit(7, "g", NO_MEMBER, &[("t", 0, 20, None)], 3),
        vec![0]
    );
    // Another producer's transaction on the same partition.
    assert_eq!(
        t.commit(8, "g", NO_MEMBER, &[("t", 0, 30, None)], 3),
        vec![0]
    );
    t.end(7, false);
    assert_eq!(
        fetch(&t.h.shard, "g", "t", &[0], true),
        vec![(-1, UNSTABLE)]
    );
    t.end(8, false);
    assert_eq!(fetch(&t.h.shard, "g", "t", &[0], true), vec![(5, 0)]);

    // A simple group that only an aborted transaction created goes away with it.
    assert_eq!(
        t.commit(9, "s", NO_MEMBER, &[("t", 0, 1, None)], 3),
        vec![0]
    );
    assert!(t.h.shard.classic_group("s").is_some());
    t.end(9, false);
    assert!(t.h.shard.classic_group("s").is_none());
    let replayed = t.replay();
    assert_eq!(
        observable(&replayed, &["g", "s"]),
        observable(&t.h.shard, &["g", "s"])
    );
}

#[test]
fn require_stable_when_fetching_all_partitions() {
    let mut t = Txn::new();
    t.h.commit("g", "", -1, &[("t", 0, 5, None), ("t", 1, 6, None)], 8);
    t.commit(
        7,
        "g",
        NO_MEMBER,
        &[("t", 1, 60, None), ("t", 2, 70, None)],
        3,
    );
    let all =
        t.h.shard
            .fetch_offsets_as_member("g", None, -1, None, true, 0)
            .expect("ok");
    // Only committed partitions are listed; the one with a pending offset is unstable.
    let seen: Vec<(i32, i64, i16)> = all
        .iter()
        .map(|f| (f.partition, f.committed_offset, f.error_code))
        .collect();
    assert_eq!(seen, vec![(0, 5, 0), (1, -1, UNSTABLE)]);
    assert_eq!(all[1].committed_leader_epoch, -1);
    let all = t.h.shard.fetch_offsets("g", None, 0).expect("ok");
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].committed_offset, 6);
}

#[test]
fn later_non_transactional_commit_wins_over_the_transaction() {
    let mut t = Txn::new();
    // t-0: committed before the transaction, the transaction wins.
    t.h.commit("g", "", -1, &[("t", 0, 1, None)], 8);
    t.commit(
        7,
        "g",
        NO_MEMBER,
        &[
            ("t", 0, 100, None),
            ("t", 1, 100, None),
            ("t", 2, 100, None),
        ],
        3,
    );
    // t-1: committed after the transactional record but before the marker: it wins.
    t.h.commit("g", "", -1, &[("t", 1, 200, None)], 8);
    // t-2: the transaction writes the partition again after a plain commit: its last write wins.
    t.h.commit("g", "", -1, &[("t", 2, 200, None)], 8);
    t.commit(7, "g", NO_MEMBER, &[("t", 2, 300, None)], 3);
    assert_eq!(
        fetch(&t.h.shard, "g", "t", &[0, 1, 2], false),
        vec![(1, 0), (200, 0), (200, 0)]
    );
    let mid = t.replay();
    assert_eq!(observable(&mid, &["g"]), observable(&t.h.shard, &["g"]));
    t.end(7, true);
    assert_eq!(
        fetch(&t.h.shard, "g", "t", &[0, 1, 2], true),
        vec![(100, 0), (200, 0), (300, 0)]
    );
    let replayed = t.replay();
    assert_eq!(
        observable(&replayed, &["g"]),
        observable(&t.h.shard, &["g"])
    );
    // A snapshot (no open transaction now) rebuilds the same offsets.
    let mut from_snapshot = GroupCoordinatorShard::new(t.h.shard.config().clone());
    for r in t.h.shard.snapshot_records() {
        from_snapshot
            .replay(&r.key, r.value.as_deref())
            .expect("replays");
    }
    assert_eq!(
        observable(&from_snapshot, &["g"]),
        observable(&t.h.shard, &["g"])
    );
}

#[test]
fn classic_group_member_checks() {
    let mut t = Txn::new();
    let (leader, _follower, generation) = t.h.stable_pair("g");
    let ok = t.commit(
        7,
        "g",
        (&leader, generation, None),
        &[("t", 0, 10, None)],
        3,
    );
    assert_eq!(ok, vec![0]);
    assert_eq!(
        t.h.shard
            .pending_transactional_offset(7, "g", "t", 0)
            .map(|o| o.leader_epoch),
        Some(5)
    );
    let unknown = t.commit(
        7,
        "g",
        ("stranger", generation, None),
        &[("t", 0, 1, None)],
        3,
    );
    assert_eq!(unknown, vec![code(ResponseError::UnknownMemberId)]);
    let stale = t.commit(
        7,
        "g",
        (&leader, generation + 1, None),
        &[("t", 0, 1, None), ("u", 0, 1, None)],
        3,
    );
    assert_eq!(stale, vec![code(ResponseError::IllegalGeneration); 2]);
    // No member fields (v3 with defaults, or v0-2 whatever the fields say): accepted although
    // the group is Stable (unlike OffsetCommit).
    assert_eq!(
        t.commit(7, "g", NO_MEMBER, &[("t", 1, 1, None)], 3),
        vec![0]
    );
    assert_eq!(
        t.commit(7, "g", ("stranger", 99, None), &[("t", 1, 2, None)], 2),
        vec![0]
    );
    // Metadata too large fails only its partition.
    let big = "x".repeat(4097);
    let errors = t.commit(
        7,
        "g",
        (&leader, generation, None),
        &[("t", 2, 1, Some(&big)), ("t", 3, 1, None)],
        3,
    );
    assert_eq!(errors, vec![code(ResponseError::OffsetMetadataTooLarge), 0]);
    assert!(!t.h.shard.has_pending_transactional_offsets("g", "t", 2));
    // Unknown groups: generation >= 0 is ILLEGAL_GENERATION; empty group id INVALID_GROUP_ID.
    let errors = t.commit(7, "nobody", ("m", 1, None), &[("t", 0, 1, None)], 3);
    assert_eq!(errors, vec![code(ResponseError::IllegalGeneration)]);
    assert!(t.h.shard.classic_group("nobody").is_none());
    let errors = t.commit(7, "", NO_MEMBER, &[("t", 0, 1, None)], 3);
    assert_eq!(errors, vec![code(ResponseError::InvalidGroupId)]);
    let errors = t.commit(-1, "g", NO_MEMBER, &[("t", 0, 1, None)], 3);
    assert_eq!(errors, vec![code(ResponseError::InvalidProducerIdMapping)]);

    // A static member: another member id with its instance id is fenced.
    let (id, reply) = t.h.join("s", "", Some("inst"), 5);
    assert!(reply.is_later());
    t.h.advance(i64::from(DELAY_MS) * 2);
    let joined = t.h.take_join(id);
    let member = joined.member_id.to_string();
    let (_, sync) =
        t.h.sync("s", &member, joined.generation_id, &[(&member, b"A")], 5);
    assert_eq!(sync.now().expect("immediate").error_code, 0);
    let fenced = t.commit(
        8,
        "s",
        ("other", joined.generation_id, Some("inst")),
        &[("t", 0, 1, None)],
        3,
    );
    assert_eq!(fenced, vec![code(ResponseError::FencedInstanceId)]);
    let ok = t.commit(
        8,
        "s",
        (&member, joined.generation_id, Some("inst")),
        &[("t", 0, 1, None)],
        3,
    );
    assert_eq!(ok, vec![0]);
    t.end(7, true);
    t.end(8, true);
    assert_eq!(
        fetch(&t.h.shard, "g", "t", &[0, 1, 3], true),
        vec![(10, 0), (2, 0), (1, 0)]
    );
    assert_eq!(fetch(&t.h.shard, "s", "t", &[0], true), vec![(1, 0)]);
}

#[test]
fn consumer_group_member_epoch_checks() {
    const G: &str = "cg";
    let mut c = ConsumerHarness::default();
    c.set_topic("t", 4);
    c.join(G, "a", &["t"]);
    c.join(G, "b", &["t"]);
    c.heartbeat(G, "a", 1, None);
    c.heartbeat(G, "a", 1, Some(&named(&[("t", &[0, 1])])));
    c.heartbeat(G, "b", 2, None);
    assert_eq!(c.state(G), "Stable");
    let mut commit = |member: MemberFields<'_>, partition: i32| -> i16 {
        let request = txn_request(7, G, member, &[("t", partition, 10, None)]);
        let outcome = c.h.shard.txn_commit_offsets(&request, 4, c.h.now);
        outcome.reply.now().expect("immediate").topics[0].partitions[0].error_code
    };
    assert_eq!(commit(("a", 2, None), 0), 0);
    // A stale member epoch is ILLEGAL_GENERATION for TxnOffsetCommit.
    assert_eq!(
        commit(("a", 1, None), 1),
        code(ResponseError::IllegalGeneration)
    );
    assert_eq!(
        commit(("x", 2, None), 1),
        code(ResponseError::UnknownMemberId)
    );
    // No member named (KAFKA-18060): accepted while the group has members.
    assert_eq!(commit(NO_MEMBER, 2), 0);
    // An empty member id with an epoch is not "no member".
    assert_eq!(
        commit(("", 2, None), 3),
        code(ResponseError::UnknownMemberId)
    );
    assert!(c.h.shard.has_pending_transactional_offsets(G, "t", 0));
    assert!(c.h.shard.has_pending_transactional_offsets(G, "t", 2));
    assert!(!c.h.shard.has_pending_transactional_offsets(G, "t", 1));
    c.h.shard.complete_transaction(7, true);
    assert_eq!(c.h.fetch(G, "t", &[0, 2])[0].0, 10);
    assert_eq!(c.h.fetch(G, "t", &[0, 2])[1].0, 10);
    assert!(c.h.shard.consumer_group(G).is_some());
}

#[test]
fn deletions_drop_pending_offsets() {
    let mut t = Txn::new();
    t.h.commit("g", "", -1, &[("t", 0, 5, None)], 8);
    t.commit(
        7,
        "g",
        NO_MEMBER,
        &[("t", 0, 50, None), ("t", 1, 51, None), ("t", 2, 52, None)],
        3,
    );
    t.commit(
        7,
        "h",
        NO_MEMBER,
        &[("t", 0, 60, None), ("u", 0, 61, None)],
        3,
    );
    t.commit(8, "k", NO_MEMBER, &[("t", 3, 70, None)], 3);

    // OffsetDelete writes a tombstone for a partition with only a pending offset.
    let request = OffsetDeleteRequest::default()
        .with_group_id(sb("g").into())
        .with_topics(vec![OffsetDeleteRequestTopic::default()
            .with_name(sb("t").into())
            .with_partitions(vec![
                OffsetDeleteRequestPartition::default().with_partition_index(1)
            ])]);
    let outcome = t.h.shard.delete_offsets(&request, t.h.now);
    assert_eq!(outcome.records.len(), 1);
    t.h.absorb(outcome);
    assert!(!t.h.shard.has_pending_transactional_offsets("g", "t", 1));
    assert!(t.h.shard.has_pending_transactional_offsets("g", "t", 2));

    // Deleted topics: pending offsets go too.
    let outcome = t.h.shard.delete_topic_offsets(&["u".to_string()]);
    assert_eq!(outcome.records.len(), 1);
    t.h.absorb(outcome);
    assert!(!t.h.shard.has_pending_transactional_offsets("h", "u", 0));

    // DeleteGroups is not refused by an open transaction; it tombstones the committed and the
    // pending-only partitions (one tombstone each), then the group.
    let outcome = t.h.shard.delete_groups(&["g".to_string()], t.h.now);
    assert_eq!(outcome.records.len(), 3);
    let results = t.h.absorb(outcome).now().expect("immediate");
    assert_eq!(results, vec![("g".to_string(), 0)]);
    assert!(!t.h.shard.has_pending_transactional_offsets("g", "t", 0));
    assert!(!t.h.shard.has_pending_transactional_offsets("g", "t", 2));
    let mid = t.replay();
    assert_eq!(
        observable(&mid, &["g", "h", "k"]),
        observable(&t.h.shard, &["g", "h", "k"])
    );

    // The commit marker finds nothing left for g (and its simple group stays deleted).
    t.end(7, true);
    t.end(8, true);
    assert!(t.h.shard.classic_group("g").is_none());
    assert!(t
        .h
        .shard
        .fetch_offsets("g", None, 0)
        .expect("ok")
        .is_empty());
    assert_eq!(fetch(&t.h.shard, "h", "t", &[0], true), vec![(60, 0)]);
    assert!(t.h.shard.fetch_offsets("h", None, 0).expect("ok").len() == 1);
    assert_eq!(fetch(&t.h.shard, "k", "t", &[3], true), vec![(70, 0)]);
    let replayed = t.replay();
    assert_eq!(
        observable(&replayed, &["g", "h", "k"]),
        observable(&t.h.shard, &["g", "h", "k"])
    );
}

#[test]
fn expiration_waits_for_open_transactions() {
    let mut t = Txn::new();
    t.h.commit("g", "", -1, &[("t", 0, 5, None), ("t", 1, 6, None)], 8);
    t.commit(7, "g", NO_MEMBER, &[("t", 0, 50, None)], 3);
    t.commit(8, "p", NO_MEMBER, &[("t", 0, 1, None)], 3);
    let retention = t.h.shard.config().offsets_retention_ms;
    t.h.advance(retention + t.h.shard.config().offsets_retention_check_interval_ms);
    // t-1 expired; t-0 has a pending offset and stays, and so do both groups.
    assert_eq!(
        fetch(&t.h.shard, "g", "t", &[0, 1], false),
        vec![(5, 0), (-1, 0)]
    );
    assert!(t.h.shard.classic_group("g").is_some());
    assert!(t.h.shard.classic_group("p").is_some());
    t.end(7, true);
    t.end(8, true);
    assert_eq!(fetch(&t.h.shard, "g", "t", &[0], false), vec![(50, 0)]);
    let replayed = t.replay();
    assert_eq!(
        observable(&replayed, &["g", "p"]),
        observable(&t.h.shard, &["g", "p"])
    );
}
