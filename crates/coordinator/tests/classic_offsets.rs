//! Offset commit/fetch, admin APIs (delete groups/offsets, list, describe), expiration, and
//! replay of the log and of snapshots.

mod common;

use common::*;
use proptest::prelude::*;
use strom_coordinator::{GroupCoordinatorShard, ShardConfig};
use strom_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use strom_protocol::messages::OffsetDeleteRequest;
use strom_protocol::ResponseError;

#[test]
fn commit_and_fetch_with_metadata() {
    let mut h = Harness::default();
    let (leader, follower, generation) = h.stable_pair("g");
    let r = h.commit(
        "g",
        &leader,
        generation,
        &[
            ("t", 0, 42, Some("meta-0")),
            ("t", 1, 7, None),
            ("u", 0, 9, Some("")),
        ],
        8,
    );
    assert_eq!(Harness::commit_errors(&r), vec![0, 0, 0]);
    assert_eq!(
        h.fetch("g", "t", &[0, 1, 2]),
        vec![
            (42, 3, "meta-0".to_string()),
            (7, 3, String::new()),
            (-1, -1, String::new())
        ]
    );
    let all = h.shard.fetch_offsets("g", None, h.now).expect("ok");
    assert_eq!(all.len(), 3);
    // Metadata over offset.metadata.max.bytes fails only its partition.
    let big = "x".repeat(4097);
    let r = h.commit(
        "g",
        &follower,
        generation,
        &[("t", 0, 50, Some(&big)), ("t", 1, 8, None)],
        8,
    );
    assert_eq!(
        Harness::commit_errors(&r),
        vec![code(ResponseError::OffsetMetadataTooLarge), 0]
    );
    assert_eq!(h.fetch("g", "t", &[0, 1])[0].0, 42);
    assert_eq!(h.fetch("g", "t", &[0, 1])[1].0, 8);
    // Before v6 there is no leader epoch.
    let _ = h.commit("g", &leader, generation, &[("t", 0, 43, None)], 5);
    assert_eq!(h.fetch("g", "t", &[0])[0], (43, -1, String::new()));
    // Unknown group: -1 and no error.
    assert_eq!(h.fetch("nobody", "t", &[0]), vec![(-1, -1, String::new())]);
    // Member and generation checks.
    let r = h.commit("g", "stranger", generation, &[("t", 0, 1, None)], 8);
    assert_eq!(
        Harness::commit_errors(&r),
        vec![code(ResponseError::UnknownMemberId)]
    );
    let r = h.commit("g", &leader, generation + 1, &[("t", 0, 1, None)], 8);
    assert_eq!(
        Harness::commit_errors(&r),
        vec![code(ResponseError::IllegalGeneration)]
    );
    // A simple commit to a group with members is refused.
    let r = h.commit("g", "", -1, &[("t", 0, 1, None)], 8);
    assert_eq!(
        Harness::commit_errors(&r),
        vec![code(ResponseError::UnknownMemberId)]
    );
}

#[test]
fn simple_commit_on_empty_or_missing_group() {
    let mut h = Harness::default();
    let r = h.commit("simple", "", -1, &[("t", 0, 5, Some("m"))], 8);
    assert_eq!(Harness::commit_errors(&r), vec![0]);
    assert_eq!(h.fetch("simple", "t", &[0]), vec![(5, 3, "m".to_string())]);
    let described = h.shard.describe_group("simple", 5);
    assert_eq!(described.group_state.to_string(), "Empty");
    assert_eq!(described.protocol_type.to_string(), "");
    // A member commit to a missing group: ILLEGAL_GENERATION before v9, GROUP_ID_NOT_FOUND from v9.
    let r = h.commit("missing", "m", 1, &[("t", 0, 5, None)], 8);
    assert_eq!(
        Harness::commit_errors(&r),
        vec![code(ResponseError::IllegalGeneration)]
    );
    let r = h.commit("missing", "m", 1, &[("t", 0, 5, None)], 9);
    assert_eq!(
        Harness::commit_errors(&r),
        vec![code(ResponseError::GroupIdNotFound)]
    );
    // A group whose members all left accepts simple commits.
    let (leader, follower, _) = h.stable_pair("g");
    let _ = h.leave("g", &[(&leader, None), (&follower, None)]);
    let r = h.commit("g", "", -1, &[("t", 0, 77, None)], 8);
    assert_eq!(Harness::commit_errors(&r), vec![0]);
}

#[test]
fn delete_groups() {
    let mut h = Harness::default();
    let (_leader, _follower, _) = h.stable_pair("busy");
    let _ = h.commit("idle", "", -1, &[("t", 0, 5, None), ("t", 1, 6, None)], 8);
    let outcome = h.shard.delete_groups(
        &["busy".to_string(), "idle".to_string(), "none".to_string()],
        h.now,
    );
    let tombstones = outcome.records.len();
    let results = h.absorb(outcome).now().expect("now");
    assert_eq!(
        results,
        vec![
            ("busy".to_string(), code(ResponseError::NonEmptyGroup)),
            ("idle".to_string(), 0),
            ("none".to_string(), code(ResponseError::GroupIdNotFound)),
        ]
    );
    assert_eq!(tombstones, 3, "two offsets and the group");
    assert_eq!(h.fetch("idle", "t", &[0]), vec![(-1, -1, String::new())]);
    assert_eq!(h.state("idle"), "Dead");
    assert_eq!(
        h.shard.describe_group("idle", 6).error_code,
        code(ResponseError::GroupIdNotFound)
    );
    // The log agrees.
    let replayed = h.replay_log();
    assert!(replayed.classic_group("idle").is_none());
}

#[test]
fn delete_offsets() {
    let mut h = Harness::default();
    let (leader, _follower, generation) = h.stable_pair("g");
    let _ = h.commit(
        "g",
        &leader,
        generation,
        &[("topic", 0, 1, None), ("other", 0, 2, None)],
        8,
    );
    let request = OffsetDeleteRequest::default()
        .with_group_id(sb("g").into())
        .with_topics(vec![
            OffsetDeleteRequestTopic::default()
                .with_name(sb("topic").into())
                .with_partitions(vec![
                    OffsetDeleteRequestPartition::default().with_partition_index(0)
                ]),
            OffsetDeleteRequestTopic::default()
                .with_name(sb("other").into())
                .with_partitions(vec![
                    OffsetDeleteRequestPartition::default().with_partition_index(0)
                ]),
        ]);
    let outcome = h.shard.delete_offsets(&request, h.now);
    assert_eq!(outcome.records.len(), 1);
    let response = h.absorb(outcome).now().expect("now");
    assert_eq!(response.error_code, 0);
    // The members subscribe to "topic" (their consumer subscription says so).
    assert_eq!(
        response.topics[0].partitions[0].error_code,
        code(ResponseError::GroupSubscribedToTopic)
    );
    assert_eq!(response.topics[1].partitions[0].error_code, 0);
    assert_eq!(h.fetch("g", "other", &[0])[0].0, -1);
    assert_eq!(h.fetch("g", "topic", &[0])[0].0, 1);
    let missing = OffsetDeleteRequest::default().with_group_id(sb("nope").into());
    assert_eq!(
        h.shard
            .delete_offsets(&missing, h.now)
            .reply
            .now()
            .expect("now")
            .error_code,
        code(ResponseError::GroupIdNotFound)
    );
}

#[test]
fn list_and_describe() {
    let mut h = Harness::default();
    let _ = h.stable_pair("a");
    let _ = h.commit("b", "", -1, &[("t", 0, 1, None)], 8);
    let all = h.shard.list_groups(&[], &[]);
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|g| g.group_type.to_string() == "classic"));
    let stable = h.shard.list_groups(&["stable".to_string()], &[]);
    assert_eq!(stable.len(), 1);
    assert_eq!(stable[0].protocol_type.to_string(), "consumer");
    assert!(h
        .shard
        .list_groups(&[], &["consumer".to_string()])
        .is_empty());
    // Not Stable: no protocol and no member metadata.
    let (_, _) = h.join("a", "", None, 3);
    let d = h.shard.describe_group("a", 5);
    assert_eq!(d.group_state.to_string(), "PreparingRebalance");
    assert_eq!(d.protocol_data.to_string(), "");
    assert!(d.members.iter().all(|m| m.member_metadata.is_empty()));
}

#[test]
fn offsets_expiration() {
    let config = ShardConfig {
        offsets_retention_ms: 60_000,
        offsets_retention_check_interval_ms: 10_000,
        ..config()
    };
    let mut h = Harness::new(config);
    // A simple group: offsets expire retention after their commit.
    let _ = h.commit("simple", "", -1, &[("t", 0, 1, None)], 8);
    h.advance(30_000);
    let _ = h.commit("simple", "", -1, &[("t", 1, 1, None)], 8);
    h.advance(40_000);
    assert_eq!(
        h.fetch("simple", "t", &[0, 1])
            .iter()
            .map(|f| f.0)
            .collect::<Vec<_>>(),
        vec![-1, 1]
    );
    h.advance(30_000);
    assert!(
        h.shard.classic_group("simple").is_none(),
        "the empty group went with its offsets"
    );

    // A consumer group: offsets live while it has members, then retention after it empties.
    let (leader, follower, generation) = h.stable_pair("g");
    let _ = h.commit("g", &leader, generation, &[("topic", 0, 5, None)], 8);
    for _ in 0..10 {
        h.advance(i64::from(SESSION_MS) / 2);
        let _ = h.heartbeat("g", &leader, None, generation);
        let _ = h.heartbeat("g", &follower, None, generation);
    }
    assert_eq!(
        h.fetch("g", "topic", &[0])[0].0,
        5,
        "subscribed topic of a live group is kept"
    );
    let _ = h.leave("g", &[(&leader, None), (&follower, None)]);
    h.advance(50_000);
    assert_eq!(h.fetch("g", "topic", &[0])[0].0, 5);
    h.advance(20_000);
    assert_eq!(h.fetch("g", "topic", &[0])[0].0, -1);
    // The tombstones are in the log.
    assert_eq!(
        h.replay_log()
            .fetch_offsets("g", None, h.now)
            .expect("ok")
            .len(),
        0
    );
}

#[test]
fn replay_of_log_and_snapshot_reproduce_state() {
    let mut h = Harness::default();
    let (leader, _follower, generation) = h.stable_pair("g");
    let _ = h.commit(
        "g",
        &leader,
        generation,
        &[("t", 0, 5, Some("x")), ("t", 3, 9, None)],
        8,
    );
    let _ = h.commit("s", "", -1, &[("u", 1, 2, Some("y"))], 3);
    for shard in [h.replay_log(), snapshot_replay(&h.shard)] {
        for group in ["g", "s"] {
            assert_eq!(
                shard.describe_group(group, 5),
                h.shard.describe_group(group, 5)
            );
            assert_eq!(
                shard.fetch_offsets(group, None, 0),
                h.shard.fetch_offsets(group, None, 0)
            );
        }
    }
}

fn snapshot_replay(shard: &GroupCoordinatorShard) -> GroupCoordinatorShard {
    let mut replayed = GroupCoordinatorShard::new(shard.config().clone());
    for r in shard.snapshot_records() {
        replayed
            .replay(&r.key, r.value.as_deref())
            .expect("snapshot replays");
    }
    replayed
}

#[derive(Debug, Clone)]
enum Op {
    Commit {
        group: u8,
        topic: u8,
        partition: i32,
        offset: i64,
        metadata: Option<String>,
        version: i16,
        retention: bool,
    },
    DeleteGroup(u8),
    DeleteOffset {
        group: u8,
        topic: u8,
        partition: i32,
    },
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..3, 0u8..3, 0i32..4, 0i64..1000, proptest::option::of("[a-z]{0,5}"), 2i16..=9, any::<bool>())
            .prop_map(|(group, topic, partition, offset, metadata, version, retention)| Op::Commit { group, topic, partition, offset, metadata, version, retention }),
        1 => (0u8..3).prop_map(Op::DeleteGroup),
        1 => (0u8..3, 0u8..3, 0i32..4).prop_map(|(group, topic, partition)| Op::DeleteOffset { group, topic, partition }),
        1 => (0i64..100_000_000).prop_map(Op::Advance),
    ]
}

proptest! {
    #[test]
    fn snapshot_and_log_replay_match_live_state(ops in proptest::collection::vec(op(), 0..40)) {
        let mut h = Harness::new(ShardConfig {
            offsets_retention_ms: 50_000_000,
            ..config()
        });
        for op in ops {
            match op {
                Op::Commit { group, topic, partition, offset, metadata, version, retention } => {
                    let request = strom_protocol::messages::OffsetCommitRequest::default()
                        .with_group_id(sb(&format!("g{group}")).into())
                        .with_retention_time_ms(if retention && version <= 4 { 1_000_000 } else { -1 })
                        .with_topics(vec![strom_protocol::messages::offset_commit_request::OffsetCommitRequestTopic::default()
                            .with_name(sb(&format!("t{topic}")).into())
                            .with_partitions(vec![strom_protocol::messages::offset_commit_request::OffsetCommitRequestPartition::default()
                                .with_partition_index(partition)
                                .with_committed_offset(offset)
                                .with_committed_leader_epoch(if version >= 6 { 2 } else { -1 })
                                .with_committed_metadata(metadata.map(|m| sb(&m)))])]);
                    let outcome = h.shard.commit_offsets(&request, version, h.now);
                    h.absorb(outcome);
                }
                Op::DeleteGroup(group) => {
                    let outcome = h.shard.delete_groups(&[format!("g{group}")], h.now);
                    h.absorb(outcome);
                }
                Op::DeleteOffset { group, topic, partition } => {
                    let request = OffsetDeleteRequest::default()
                        .with_group_id(sb(&format!("g{group}")).into())
                        .with_topics(vec![OffsetDeleteRequestTopic::default()
                            .with_name(sb(&format!("t{topic}")).into())
                            .with_partitions(vec![OffsetDeleteRequestPartition::default().with_partition_index(partition)])]);
                    let outcome = h.shard.delete_offsets(&request, h.now);
                    h.absorb(outcome);
                }
                Op::Advance(ms) => h.advance(ms),
            }
        }
        let from_snapshot = snapshot_replay(&h.shard);
        let from_log = h.replay_log();
        for group in ["g0", "g1", "g2"] {
            let live = h.shard.fetch_offsets(group, None, h.now);
            prop_assert_eq!(&from_snapshot.fetch_offsets(group, None, h.now), &live);
            prop_assert_eq!(&from_log.fetch_offsets(group, None, h.now), &live);
            prop_assert_eq!(from_snapshot.describe_group(group, 5), h.shard.describe_group(group, 5));
            prop_assert_eq!(from_log.describe_group(group, 5), h.shard.describe_group(group, 5));
        }
        prop_assert_eq!(from_snapshot.list_groups(&[], &[]), h.shard.list_groups(&[], &[]));
        // A snapshot of the replayed shard is the same snapshot.
        prop_assert_eq!(from_snapshot.snapshot_records(), h.shard.snapshot_records());
    }
}

#[test]
fn deleted_topics_lose_their_committed_offsets() {
    let mut h = Harness::default();
    let _ = h.commit(
        "g1",
        "",
        -1,
        &[("gone", 0, 5, None), ("kept", 0, 6, None)],
        8,
    );
    let _ = h.commit("g2", "", -1, &[("gone", 1, 7, None)], 8);
    let outcome = h.shard.delete_topic_offsets(&["gone".to_string()]);
    assert_eq!(outcome.records.len(), 2);
    assert!(outcome.records.iter().all(|r| r.value.is_none()));
    let _ = h.absorb(outcome);
    assert_eq!(h.fetch("g1", "gone", &[0]), vec![(-1, -1, String::new())]);
    assert_eq!(h.fetch("g2", "gone", &[1]), vec![(-1, -1, String::new())]);
    assert_eq!(h.fetch("g1", "kept", &[0]), vec![(6, 3, String::new())]);
}
