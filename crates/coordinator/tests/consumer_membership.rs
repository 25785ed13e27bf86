//! KIP-848 consumer group membership: request validation, epochs and fencing, static members,
//! group size, and the boundary with classic groups of the same id.

mod common;

use common::consumer::{named, ConsumerHarness};
use common::{code, sb, Harness};
use strom_coordinator::ShardConfig;
use strom_protocol::ResponseError;

const G: &str = "g";

fn harness() -> ConsumerHarness {
    let mut c = ConsumerHarness::default();
    c.set_topic("t", 4);
    c
}

fn static_join(
    c: &mut ConsumerHarness,
    member: &str,
    instance: &str,
) -> (i16, i32, Option<common::consumer::Named>) {
    let r = c.send(
        ConsumerHarness::join_request(G, member, &["t"]).with_instance_id(Some(sb(instance))),
    );
    let a = c.assignment(&r);
    (r.error_code, r.member_epoch, a)
}

#[test]
fn invalid_requests() {
    let mut c = harness();
    let invalid = code(ResponseError::InvalidRequest);
    // No rebalance timeout on join.
    let r = c.send(ConsumerHarness::join_request(G, "a", &["t"]).with_rebalance_timeout_ms(-1));
    assert_eq!(r.error_code, invalid);
    // Owned partitions on join.
    let r = c.send(ConsumerHarness::join_request(G, "a", &["t"]).with_topic_partitions(None));
    assert_eq!(r.error_code, invalid);
    // No subscription on join (neither names nor a regex).
    let r = c.send(ConsumerHarness::join_request(G, "a", &["t"]).with_subscribed_topic_names(None));
    assert_eq!(r.error_code, invalid);
    assert_eq!(
        r.error_message.as_deref(),
        Some("Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.")
    );
    // Empty member id on v1, bad epoch, empty group id.
    assert_eq!(c.join(G, "", &["t"]).error_code, invalid);
    assert_eq!(c.heartbeat(G, "a", -3, None).error_code, invalid);
    assert_eq!(c.join("", "a", &["t"]).error_code, invalid);
    // -2 needs an instance id.
    assert_eq!(c.leave(G, "a", -2).error_code, invalid);
    // Unknown assignor.
    let r = c.send(
        ConsumerHarness::join_request(G, "a", &["t"]).with_server_assignor(Some(sb("sticky"))),
    );
    assert_eq!(r.error_code, code(ResponseError::UnsupportedAssignor));
    // Nothing was created.
    assert!(c.h.log.is_empty());
    assert_eq!(
        c.describe(G).error_code,
        code(ResponseError::GroupIdNotFound)
    );
}

#[test]
fn v0_server_generates_the_member_id() {
    let mut c = harness();
    let request = ConsumerHarness::join_request(G, "", &["t"]);
    let outcome =
        c.h.shard
            .consumer_group_heartbeat(&request, 0, "c", "/h", &c.topics, c.h.now);
    let r = c.h.absorb(outcome).now().expect("immediate");
    assert_eq!(r.error_code, 0);
    let id = r.member_id.expect("member id").to_string();
    assert!(!id.is_empty());
    assert_eq!(c.member_ids(G), vec![id]);
}

#[test]
fn unknown_group_member_and_fenced_epochs() {
    let mut c = harness();
    assert_eq!(
        c.heartbeat(G, "a", 1, None).error_code,
        code(ResponseError::GroupIdNotFound)
    );
    assert_eq!(
        c.leave(G, "a", -1).error_code,
        code(ResponseError::GroupIdNotFound)
    );
    assert_eq!(c.join(G, "a", &["t"]).member_epoch, 1);
    assert_eq!(
        c.heartbeat(G, "x", 1, None).error_code,
        code(ResponseError::UnknownMemberId)
    );
    assert_eq!(
        c.leave(G, "x", -1).error_code,
        code(ResponseError::UnknownMemberId)
    );
    let fenced = code(ResponseError::FencedMemberEpoch);
    assert_eq!(c.heartbeat(G, "a", 5, None).error_code, fenced);
    // Rejoining with epoch 0 after being fenced keeps the member and re-sends its assignment.
    let r = c.join(G, "a", &["t"]);
    assert_eq!((r.error_code, r.member_epoch), (0, 1));
    assert_eq!(c.assignment(&r), Some(named(&[("t", &[0, 1, 2, 3])])));
    // An older epoch that is not the previous one is fenced.
    c.set_topic("t", 5);
    assert_eq!(c.heartbeat(G, "a", 1, None).member_epoch, 2);
    c.set_topic("t", 6);
    assert_eq!(c.heartbeat(G, "a", 2, None).member_epoch, 3);
    assert_eq!(c.heartbeat(G, "a", 1, Some(&named(&[]))).error_code, fenced);
}

#[test]
fn static_member_leaves_temporarily_and_its_successor_keeps_the_assignment() {
    let mut c = harness();
    assert_eq!(static_join(&mut c, "a1", "i").0, 0);
    c.join(G, "b", &["t"]);
    c.heartbeat(G, "a1", 1, None);
    c.heartbeat(G, "a1", 1, Some(&named(&[("t", &[0, 1])])));
    c.heartbeat(G, "b", 2, None);
    assert_eq!(c.state(G), "Stable");
    let epoch = c.group_epoch(G);

    // The instance id is taken while a1 is active.
    assert_eq!(
        static_join(&mut c, "a2", "i").0,
        code(ResponseError::UnreleasedInstanceId)
    );
    // Someone else claiming the instance with a positive epoch is fenced.
    let r = c.send(ConsumerHarness::base(G, "a2", 2).with_instance_id(Some(sb("i"))));
    assert_eq!(r.error_code, code(ResponseError::FencedInstanceId));

    let r = c.send(ConsumerHarness::base(G, "a1", -2).with_instance_id(Some(sb("i"))));
    assert_eq!((r.error_code, r.member_epoch), (0, -2));
    assert_eq!(
        c.group_epoch(G),
        epoch,
        "a temporary leave does not rebalance"
    );

    let (error, member_epoch, assignment) = static_join(&mut c, "a2", "i");
    assert_eq!((error, member_epoch), (0, epoch));
    assert_eq!(assignment, Some(named(&[("t", &[0, 1])])));
    assert_eq!(c.group_epoch(G), epoch);
    assert_eq!(c.member_ids(G), vec!["a2".to_string(), "b".to_string()]);
    assert_eq!(c.state(G), "Stable");
    // b was never disturbed.
    assert_eq!(c.heartbeat(G, "b", epoch, None).assignment, None);
}

#[test]
fn static_member_that_does_not_come_back_is_removed() {
    let mut c = harness();
    static_join(&mut c, "a1", "i");
    c.send(ConsumerHarness::base(G, "a1", -2).with_instance_id(Some(sb("i"))));
    c.h.advance(46_000);
    assert!(c.member_ids(G).is_empty());
    assert_eq!(c.state(G), "Empty");
    // A static member leaving for good (-1) is removed at once.
    static_join(&mut c, "a3", "i");
    let r = c.send(ConsumerHarness::base(G, "a3", -1).with_instance_id(Some(sb("i"))));
    assert_eq!(r.member_epoch, -1);
    assert!(c.member_ids(G).is_empty());
}

#[test]
fn group_max_size() {
    let mut c = ConsumerHarness::new(ShardConfig {
        consumer_group_max_size: 1,
        ..ShardConfig::default()
    });
    c.set_topic("t", 1);
    assert_eq!(c.join(G, "a", &["t"]).error_code, 0);
    assert_eq!(
        c.join(G, "b", &["t"]).error_code,
        code(ResponseError::GroupMaxSizeReached)
    );
    assert_eq!(c.heartbeat(G, "a", 1, None).error_code, 0);
}

#[test]
fn classic_and_consumer_groups_of_the_same_id() {
    let mut c = harness();
    // A non-empty classic group refuses consumer members.
    let (_, _, _) = c.h.stable_pair("classic");
    let r = c.join("classic", "a", &["t"]);
    assert_eq!(r.error_code, code(ResponseError::GroupIdNotFound));

    // A non-empty consumer group refuses classic members; the other classic APIs do not know them.
    c.join(G, "a", &["t"]);
    let (_, reply) = c.h.join(G, "", None, 5);
    let r = reply.now().expect("immediate");
    assert_eq!(r.error_code, code(ResponseError::InconsistentGroupProtocol));
    assert_eq!(
        c.h.heartbeat(G, "a", None, 1),
        code(ResponseError::UnknownMemberId)
    );

    // An empty classic group (here a simple one, from an offset commit) is converted.
    let r = c.h.commit("simple", "", -1, &[("t", 0, 5, None)], 9);
    assert_eq!(Harness::commit_errors(&r), vec![0]);
    assert!(c.h.shard.classic_group("simple").is_some());
    assert_eq!(c.join("simple", "a", &["t"]).error_code, 0);
    assert!(c.h.shard.consumer_group("simple").is_some());
    assert_eq!(c.h.fetch("simple", "t", &[0]), vec![(5, 3, String::new())]);

    // An empty consumer group gives way to a classic one.
    c.leave("simple", "a", -1);
    let (member, _, reply) = c.h.join_new("simple");
    assert!(reply.is_later(), "{member}");
    assert!(c.h.shard.classic_group("simple").is_some());
    let replayed = c.h.replay_log();
    assert!(replayed.classic_group("simple").is_some());
    assert!(replayed.consumer_group(G).is_some());
}
