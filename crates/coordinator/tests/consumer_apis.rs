//! KIP-848 consumer groups and the other group APIs: offsets committed and fetched by members,
//! ConsumerGroupDescribe, ListGroups, DescribeGroups, DeleteGroups, the range assignor, and the
//! rebuild of groups from the log and from snapshots.

mod common;

use common::consumer::{named, ConsumerHarness};
use common::{code, sb, Harness};
use strom_coordinator::GroupCoordinatorShard;
use strom_protocol::ResponseError;

const G: &str = "g";

/// `a` and `b` stable at epoch 2 on `t` (4 partitions).
fn stable_pair() -> ConsumerHarness {
    let mut c = ConsumerHarness::default();
    c.set_topic("t", 4);
    c.join(G, "a", &["t"]);
    c.join(G, "b", &["t"]);
    c.heartbeat(G, "a", 1, None);
    c.heartbeat(G, "a", 1, Some(&named(&[("t", &[0, 1])])));
    c.heartbeat(G, "b", 2, None);
    assert_eq!(c.state(G), "Stable");
    c
}

fn describe_all(shard: &GroupCoordinatorShard, c: &ConsumerHarness) -> String {
    let groups: Vec<_> = shard.group_ids().map(str::to_string).collect();
    groups
        .iter()
        .map(|g| format!("{:?}", shard.consumer_group_describe(g, &c.topics, true)))
        .collect()
}

#[test]
fn offsets_are_checked_against_the_member_epoch() {
    let mut c = stable_pair();
    let r = c.h.commit(G, "a", 2, &[("t", 0, 10, None)], 9);
    assert_eq!(Harness::commit_errors(&r), vec![0]);
    let r = c.h.commit(G, "a", 1, &[("t", 0, 11, None)], 9);
    assert_eq!(
        Harness::commit_errors(&r),
        vec![code(ResponseError::StaleMemberEpoch)]
    );
    let r = c.h.commit(G, "x", 2, &[("t", 0, 11, None)], 9);
    assert_eq!(
        Harness::commit_errors(&r),
        vec![code(ResponseError::UnknownMemberId)]
    );
    let r = c.h.commit(G, "a", 2, &[("t", 0, 11, None)], 8);
    assert_eq!(
        Harness::commit_errors(&r),
        vec![code(ResponseError::UnsupportedVersion)]
    );
    // A simple commit is refused while the group has members.
    let r = c.h.commit(G, "", -1, &[("t", 0, 11, None)], 9);
    assert_eq!(
        Harness::commit_errors(&r),
        vec![code(ResponseError::UnknownMemberId)]
    );
    assert_eq!(c.h.fetch(G, "t", &[0]), vec![(10, 3, String::new())]);

    let wanted = [("t".to_string(), vec![0])];
    let fetch = |c: &ConsumerHarness, member: Option<&str>, epoch| {
        c.h.shard
            .fetch_offsets_as_member(G, member, epoch, Some(&wanted), false, c.h.now)
            .map(|o| o[0].committed_offset)
    };
    assert_eq!(fetch(&c, Some("a"), 2), Ok(10));
    assert_eq!(fetch(&c, None, -1), Ok(10));
    assert_eq!(
        fetch(&c, Some("a"), 1),
        Err(code(ResponseError::StaleMemberEpoch))
    );
    assert_eq!(
        fetch(&c, Some("x"), 2),
        Err(code(ResponseError::UnknownMemberId))
    );

    // Once empty, simple commits are accepted again.
    c.leave(G, "a", -1);
    c.leave(G, "b", -1);
    let r = c.h.commit(G, "", -1, &[("t", 0, 12, None)], 9);
    assert_eq!(Harness::commit_errors(&r), vec![0]);
}

#[test]
fn consumer_group_describe_shows_members_and_assignments() {
    let mut c = stable_pair();
    // `b` moves on to a new subscription that needs a rebalance; look at a target in flight.
    c.set_topic("u", 2);
    let r = c.send(
        ConsumerHarness::base(G, "b", 2)
            .with_subscribed_topic_names(Some(vec![sb("t").into(), sb("u").into()])),
    );
    assert_eq!(r.error_code, 0);
    let d = c.h.shard.consumer_group_describe(G, &c.topics, true);
    assert_eq!(d.error_code, 0);
    assert_eq!(d.group_state.as_str(), "Reconciling");
    assert_eq!((d.group_epoch, d.assignment_epoch), (3, 3));
    assert_eq!(d.authorized_operations, (1 << 3) | (1 << 6) | (1 << 8));
    let b = d
        .members
        .iter()
        .find(|m| m.member_id.as_str() == "b")
        .expect("b");
    assert_eq!(b.member_type, 1);
    assert_eq!(b.client_id.as_str(), "client");
    assert_eq!(b.client_host.as_str(), "/127.0.0.1");
    let names: Vec<&str> = b
        .subscribed_topic_names
        .iter()
        .map(|n| n.as_str())
        .collect();
    assert_eq!(names, vec!["t", "u"]);
    let target: usize = d
        .members
        .iter()
        .flat_map(|m| m.target_assignment.topic_partitions.iter())
        .map(|tp| tp.partitions.len())
        .sum();
    assert_eq!(target, 6);
    assert!(b
        .assignment
        .topic_partitions
        .iter()
        .all(|tp| !tp.topic_name.is_empty()));

    let unknown = c.h.shard.consumer_group_describe("nope", &c.topics, false);
    assert_eq!(unknown.error_code, code(ResponseError::GroupIdNotFound));
    c.h.stable_pair("classic");
    let classic =
        c.h.shard
            .consumer_group_describe("classic", &c.topics, false);
    assert_eq!(classic.error_code, code(ResponseError::GroupIdNotFound));
}

#[test]
fn list_describe_and_delete_groups() {
    let mut c = stable_pair();
    c.h.stable_pair("classic");
    let listed = c.h.shard.list_groups(&[], &["consumer".to_string()]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].group_id.as_str(), G);
    assert_eq!(listed[0].group_type.as_str(), "consumer");
    assert_eq!(listed[0].protocol_type.as_str(), "consumer");
    assert_eq!(listed[0].group_state.as_str(), "Stable");
    assert_eq!(c.h.shard.list_groups(&["stable".to_string()], &[]).len(), 2);
    assert_eq!(c.h.shard.list_groups(&["Empty".to_string()], &[]).len(), 0);

    // DescribeGroups (classic API) does not describe consumer groups.
    let d = c.h.shard.describe_group(G, 6);
    assert_eq!(d.error_code, code(ResponseError::GroupIdNotFound));
    assert_eq!(d.group_state.as_str(), "Dead");

    c.h.commit(G, "a", 2, &[("t", 0, 10, None)], 9);
    let outcome = c.h.shard.delete_groups(&[G.to_string()], c.h.now);
    let results = c.h.absorb(outcome).now().expect("immediate");
    assert_eq!(
        results,
        vec![(G.to_string(), code(ResponseError::NonEmptyGroup))]
    );
    c.leave(G, "a", -1);
    c.leave(G, "b", -1);
    assert_eq!(c.state(G), "Empty");
    let outcome = c.h.shard.delete_groups(&[G.to_string()], c.h.now);
    let results = c.h.absorb(outcome).now().expect("immediate");
    assert_eq!(results, vec![(G.to_string(), 0)]);
    assert!(c.h.shard.consumer_group(G).is_none());
    assert_eq!(c.h.fetch(G, "t", &[0]), vec![(-1, -1, String::new())]);
    let replayed = c.h.replay_log();
    assert!(replayed.consumer_group(G).is_none());
    assert!(replayed.fetch_offsets(G, None, 0).expect("ok").is_empty());
}

#[test]
fn range_assignor_co_partitions() {
    let mut c = ConsumerHarness::default();
    c.set_topic("t", 3);
    c.set_topic("u", 3);
    for m in ["a", "b"] {
        let r = c.send(
            ConsumerHarness::join_request(G, m, &["t", "u"])
                .with_server_assignor(Some(sb("range"))),
        );
        assert_eq!(r.error_code, 0);
    }
    let d = c.describe(G);
    assert_eq!(d.assignor_name.as_str(), "range");
    let target = |member: &str| -> common::consumer::Named {
        d.members
            .iter()
            .find(|m| m.member_id.as_str() == member)
            .expect("member")
            .target_assignment
            .topic_partitions
            .iter()
            .map(|tp| (tp.topic_name.to_string(), tp.partitions.clone()))
            .collect()
    };
    assert_eq!(target("a"), named(&[("t", &[0, 1]), ("u", &[0, 1])]));
    assert_eq!(target("b"), named(&[("t", &[2]), ("u", &[2])]));
}

#[test]
fn log_and_snapshot_replays_rebuild_the_groups() {
    let mut c = stable_pair();
    c.send(
        ConsumerHarness::join_request("h", "s", &["t"])
            .with_instance_id(Some(sb("inst")))
            .with_rack_id(Some(sb("rack-1"))),
    );
    // One member in the middle of a revocation.
    c.join(G, "c", &["t"]);
    c.heartbeat(G, "a", 2, None);
    c.h.commit(G, "a", 2, &[("t", 1, 3, Some("m"))], 9);
    let live = describe_all(&c.h.shard, &c);

    let from_log = c.h.replay_log();
    assert_eq!(describe_all(&from_log, &c), live);

    let mut from_snapshot = GroupCoordinatorShard::new(c.h.shard.config().clone());
    for r in c.h.shard.snapshot_records() {
        from_snapshot
            .replay(&r.key, r.value.as_deref())
            .expect("replays");
    }
    assert_eq!(describe_all(&from_snapshot, &c), live);
    assert_eq!(
        from_snapshot.snapshot_records(),
        c.h.shard.snapshot_records(),
        "a snapshot of a snapshot is the same snapshot"
    );
    assert_eq!(
        from_snapshot.fetch_offsets(G, None, 0),
        c.h.shard.fetch_offsets(G, None, 0)
    );

    // The rebuilt shard arms the sessions at its first poll and carries on.
    let mut h = Harness::new(c.h.shard.config().clone());
    h.shard = from_log;
    h.now = c.h.now;
    h.poll();
    let mut c2 = ConsumerHarness {
        h,
        topics: c.topics.clone(),
    };
    let r = c2.heartbeat(G, "a", 2, Some(&named(&[("t", &[0])])));
    assert_eq!(r.error_code, 0);
    c2.h.advance(46_000);
    assert!(
        c2.member_ids(G).is_empty(),
        "sessions expire after a reload too"
    );
}
