//! KIP-848 consumer groups: joining, incremental rebalances (revoke first, then assign once
//! released), leaving, session and revocation timeouts, and topic metadata changes.

mod common;

use common::consumer::{named, ConsumerHarness, REBALANCE_TIMEOUT_MS};

const G: &str = "g";

/// `a` alone on topic `t` (4 partitions), stable at epoch 1.
fn one_member() -> ConsumerHarness {
    let mut c = ConsumerHarness::default();
    c.set_topic("t", 4);
    let r = c.join(G, "a", &["t"]);
    assert_eq!(r.error_code, 0, "{:?}", r.error_message);
    assert_eq!(r.member_id.as_deref(), Some("a"));
    assert_eq!(r.member_epoch, 1);
    assert_eq!(r.heartbeat_interval_ms, 5_000);
    assert_eq!(c.assignment(&r), Some(named(&[("t", &[0, 1, 2, 3])])));
    assert_eq!(c.state(G), "Stable");
    c
}

/// `a` and `b` on topic `t`, stable at epoch 2 with two partitions each.
fn two_members() -> ConsumerHarness {
    let mut c = one_member();
    let rb = c.join(G, "b", &["t"]);
    // `b` is at the new epoch but its partitions are still owned by `a`.
    assert_eq!(rb.member_epoch, 2);
    assert_eq!(c.assignment(&rb), Some(named(&[])));
    assert_eq!(c.state(G), "Reconciling");

    // `a` must revoke 2 and 3 first: it stays at epoch 1 and is told to keep 0 and 1.
    let ra = c.heartbeat(G, "a", 1, None);
    assert_eq!(ra.member_epoch, 1);
    assert_eq!(c.assignment(&ra), Some(named(&[("t", &[0, 1])])));

    // Nothing for `b` until `a` released them, even if `a` still claims them.
    assert_eq!(c.heartbeat(G, "b", 2, None).assignment, None);
    let all = named(&[("t", &[0, 1, 2, 3])]);
    let ra = c.heartbeat(G, "a", 1, Some(&all));
    assert_eq!((ra.member_epoch, ra.assignment), (1, None));
    assert_eq!(c.heartbeat(G, "b", 2, None).assignment, None);

    // `a` acknowledges the revocation: it moves to epoch 2 with the same partitions.
    let ra = c.heartbeat(G, "a", 1, Some(&named(&[("t", &[0, 1])])));
    assert_eq!((ra.member_epoch, ra.assignment), (2, None));

    // Now `b` gets them.
    let rb = c.heartbeat(G, "b", 2, None);
    assert_eq!(rb.member_epoch, 2);
    assert_eq!(c.assignment(&rb), Some(named(&[("t", &[2, 3])])));
    assert_eq!(c.state(G), "Stable");
    assert_eq!(c.group_epoch(G), 2);
    c
}

#[test]
fn first_member_gets_every_partition() {
    let c = one_member();
    let d = c.describe(G);
    assert_eq!((d.group_epoch, d.assignment_epoch), (1, 1));
    assert_eq!(d.assignor_name.as_str(), "uniform");
    assert_eq!(c.owned(G, "a"), named(&[("t", &[0, 1, 2, 3])]));
    // An unchanged heartbeat gets no assignment.
    let mut c = c;
    let r = c.heartbeat(G, "a", 1, None);
    assert_eq!((r.error_code, r.member_epoch, r.assignment), (0, 1, None));
}

#[test]
fn every_group_epoch_bump_counts_as_a_rebalance_but_a_load_does_not() {
    let rebalances = |shard: &strom_coordinator::GroupCoordinatorShard| {
        shard.rebalances().find(|(g, _)| *g == G).map(|(_, n)| n)
    };
    let c = one_member();
    assert_eq!(rebalances(&c.h.shard), Some(1));
    let c = two_members();
    assert_eq!(rebalances(&c.h.shard), Some(2));
    assert_eq!(rebalances(&c.h.replay_log()), Some(0));
}

#[test]
fn second_member_gets_half_after_revocation() {
    let c = two_members();
    assert_eq!(c.owned(G, "a"), named(&[("t", &[0, 1])]));
    assert_eq!(c.owned(G, "b"), named(&[("t", &[2, 3])]));
}

#[test]
fn leaving_member_partitions_go_to_the_other_without_revocation() {
    let mut c = two_members();
    let r = c.leave(G, "b", -1);
    assert_eq!((r.error_code, r.member_epoch), (0, -1));
    assert_eq!(c.group_epoch(G), 3);
    assert_eq!(c.state(G), "Assigning");
    let r = c.heartbeat(G, "a", 2, Some(&named(&[("t", &[0, 1])])));
    assert_eq!(r.member_epoch, 3);
    assert_eq!(c.assignment(&r), Some(named(&[("t", &[0, 1, 2, 3])])));
    assert_eq!(c.state(G), "Stable");
    // The last member leaves: the group is empty but exists.
    assert_eq!(c.leave(G, "a", -1).member_epoch, -1);
    assert_eq!(c.state(G), "Empty");
}

#[test]
fn session_timeout_fences_the_silent_member() {
    let mut c = two_members();
    c.h.advance(30_000);
    assert_eq!(c.heartbeat(G, "a", 2, None).error_code, 0);
    c.h.advance(20_000);
    assert_eq!(c.member_ids(G), vec!["a".to_string()]);
    assert_eq!(c.group_epoch(G), 3);
    let r = c.heartbeat(G, "a", 2, None);
    assert_eq!(r.member_epoch, 3);
    assert_eq!(c.assignment(&r), Some(named(&[("t", &[0, 1, 2, 3])])));
    // The fenced member is unknown now.
    assert_eq!(
        c.heartbeat(G, "b", 2, None).error_code,
        common::code(strom_protocol::ResponseError::UnknownMemberId)
    );
}

#[test]
fn member_that_does_not_revoke_in_time_is_fenced() {
    let mut c = one_member();
    c.join(G, "b", &["t"]);
    let ra = c.heartbeat(G, "a", 1, None);
    assert_eq!(c.assignment(&ra), Some(named(&[("t", &[0, 1])])));
    let all = named(&[("t", &[0, 1, 2, 3])]);
    c.h.advance(i64::from(REBALANCE_TIMEOUT_MS) - 1);
    assert_eq!(c.heartbeat(G, "a", 1, Some(&all)).error_code, 0);
    assert_eq!(c.heartbeat(G, "b", 2, None).error_code, 0);
    c.h.advance(2);
    assert_eq!(c.member_ids(G), vec!["b".to_string()]);
    let rb = c.heartbeat(G, "b", 2, None);
    assert_eq!(rb.member_epoch, 3);
    assert_eq!(c.assignment(&rb), Some(named(&[("t", &[0, 1, 2, 3])])));
}

#[test]
fn topic_gaining_partitions_bumps_the_epoch() {
    let mut c = one_member();
    c.set_topic("t", 6);
    let r = c.heartbeat(G, "a", 1, None);
    assert_eq!(r.member_epoch, 2);
    assert_eq!(c.group_epoch(G), 2);
    assert_eq!(c.assignment(&r), Some(named(&[("t", &[0, 1, 2, 3, 4, 5])])));
    // A topic created later that the member subscribes to bumps it again.
    let r = c.send(
        ConsumerHarness::base(G, "a", 2).with_subscribed_topic_names(Some(vec![
            common::sb("t").into(),
            common::sb("u").into(),
        ])),
    );
    assert_eq!((r.member_epoch, r.assignment), (3, None));
    c.set_topic("u", 2);
    let r = c.heartbeat(G, "a", 3, None);
    assert_eq!(r.member_epoch, 4);
    assert_eq!(
        c.assignment(&r),
        Some(named(&[("t", &[0, 1, 2, 3, 4, 5]), ("u", &[0, 1])]))
    );
}

#[test]
fn lost_epoch_bump_is_tolerated_with_previous_epoch() {
    let mut c = two_members();
    // `a` never saw epoch 2: it comes back with epoch 1 and a subset of its assignment.
    let r = c.heartbeat(G, "a", 1, Some(&named(&[("t", &[0])])));
    assert_eq!((r.error_code, r.member_epoch), (0, 2));
    // Not a subset: fenced.
    let r = c.heartbeat(G, "a", 1, Some(&named(&[("t", &[0, 3])])));
    assert_eq!(
        r.error_code,
        common::code(strom_protocol::ResponseError::FencedMemberEpoch)
    );
}
