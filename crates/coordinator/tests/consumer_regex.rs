//! KIP-848 regex subscriptions: `SubscribedTopicRegex` selects the topics of the image whose
//! whole name it matches, together with the member's topic names; topics created or deleted
//! that it selects bump the group epoch; an invalid regex is INVALID_REGULAR_EXPRESSION; an
//! empty one clears it; replays keep it.

mod common;

use common::consumer::{named, ConsumerHarness};
use common::{code, sb};
use strom_coordinator::GroupCoordinatorShard;
use strom_protocol::messages::ConsumerGroupHeartbeatRequest;
use strom_protocol::ResponseError;

const G: &str = "g";

fn harness() -> ConsumerHarness {
    let mut c = ConsumerHarness::default();
    c.set_topic("orders-a", 2);
    c.set_topic("orders-b", 2);
    c.set_topic("payments", 2);
    c.set_topic("old-orders-a", 1);
    c.set_topic("__consumer_offsets", 3);
    c
}

/// A join subscribing with `names` and `regex`.
fn join_regex(member: &str, names: &[&str], regex: &str) -> ConsumerGroupHeartbeatRequest {
    ConsumerHarness::join_request(G, member, names).with_subscribed_topic_regex(Some(sb(regex)))
}

/// A heartbeat that sends only a new regex.
fn set_regex(member: &str, epoch: i32, regex: &str) -> ConsumerGroupHeartbeatRequest {
    ConsumerHarness::base(G, member, epoch).with_subscribed_topic_regex(Some(sb(regex)))
}

fn regex_of(shard: &GroupCoordinatorShard, member: &str) -> Option<String> {
    shard.consumer_group(G).expect("group exists").members[member]
        .subscribed_topic_regex
        .clone()
}

/// `a` alone, subscribed with `orders-.*` only (no names), stable at epoch 1.
fn orders_member() -> ConsumerHarness {
    let mut c = harness();
    let r = c.send(join_regex("a", &[], "orders-.*").with_subscribed_topic_names(None));
    assert_eq!(r.error_code, 0, "{:?}", r.error_message);
    assert_eq!(r.member_epoch, 1);
    assert_eq!(
        c.assignment(&r),
        Some(named(&[("orders-a", &[0, 1]), ("orders-b", &[0, 1])]))
    );
    assert_eq!(c.state(G), "Stable");
    c
}

#[test]
fn regex_selects_the_topics_whose_whole_name_matches() {
    let c = orders_member();
    // Not `payments`, not `old-orders-a` (the match is anchored), not the internal topic.
    assert_eq!(
        c.owned(G, "a"),
        named(&[("orders-a", &[0, 1]), ("orders-b", &[0, 1])])
    );
    let described = c.describe(G);
    let member = &described.members[0];
    assert_eq!(member.subscribed_topic_regex.as_deref(), Some("orders-.*"));
    assert!(member.subscribed_topic_names.is_empty());
    let group = c.h.shard.consumer_group(G).expect("group");
    assert!(group.is_subscribed_to_topic("orders-a"));
    assert!(!group.is_subscribed_to_topic("payments"));
}

#[test]
fn regex_matching_everything_skips_internal_topics() {
    let mut c = harness();
    let r = c.send(join_regex("a", &[], ".*"));
    assert_eq!(r.error_code, 0, "{:?}", r.error_message);
    let assigned = c.assignment(&r).expect("assignment");
    assert_eq!(
        assigned.keys().map(String::as_str).collect::<Vec<_>>(),
        vec!["old-orders-a", "orders-a", "orders-b", "payments"]
    );
}

#[test]
fn new_matching_topic_bumps_the_epoch_and_is_assigned() {
    let mut c = orders_member();
    // A topic the regex does not select changes nothing.
    c.set_topic("payments-eu", 4);
    let r = c.heartbeat(G, "a", 1, None);
    assert_eq!((r.error_code, r.member_epoch, r.assignment), (0, 1, None));
    assert_eq!(c.group_epoch(G), 1);

    // One it selects bumps the group epoch at the next heartbeat and is assigned.
    c.set_topic("orders-c", 3);
    let r = c.heartbeat(G, "a", 1, None);
    assert_eq!(r.member_epoch, 2);
    assert_eq!(c.group_epoch(G), 2);
    assert_eq!(
        c.assignment(&r),
        Some(named(&[
            ("orders-a", &[0, 1]),
            ("orders-b", &[0, 1]),
            ("orders-c", &[0, 1, 2]),
        ]))
    );
    assert_eq!(c.state(G), "Stable");
}

#[test]
fn deleted_matching_topic_bumps_the_epoch() {
    let mut c = orders_member();
    c.topics.topics.remove("orders-b");
    let r = c.heartbeat(G, "a", 1, None);
    assert_eq!(r.error_code, 0);
    assert_eq!(c.group_epoch(G), 2);
    // The member gives up `orders-b` first, then moves to the new epoch.
    let kept = named(&[("orders-a", &[0, 1])]);
    assert_eq!((r.member_epoch, c.assignment(&r)), (1, Some(kept.clone())));
    let r = c.heartbeat(G, "a", 1, Some(&kept));
    assert_eq!((r.member_epoch, r.assignment), (2, None));
    assert_eq!(c.state(G), "Stable");
}

#[test]
fn topics_are_shared_between_regex_and_name_subscribers() {
    let mut c = orders_member();
    // `b` names `orders-a` and `payments`: `orders-a` is shared with `a`, `payments` is not.
    let rb = c.join(G, "b", &["orders-a", "payments"]);
    assert_eq!(rb.member_epoch, 2);
    // `a` revokes one partition of `orders-a`.
    let ra = c.heartbeat(G, "a", 1, None);
    let kept = c.assignment(&ra).expect("revocation");
    let ra = c.heartbeat(G, "a", 1, Some(&kept));
    assert_eq!(ra.member_epoch, 2);
    let rb = c.heartbeat(G, "b", 2, None);
    let b = c.assignment(&rb).expect("assignment");
    assert_eq!(b["payments"], vec![0, 1]);
    assert_eq!(b["orders-a"].len(), 1);
    assert_eq!(kept["orders-a"].len(), 1);
    assert_eq!(kept["orders-b"], vec![0, 1]);
    assert!(!kept.contains_key("payments"));
    assert_eq!(c.state(G), "Stable");
}

#[test]
fn invalid_regex_is_refused() {
    let mut c = harness();
    let r = c.send(join_regex("a", &[], "orders-("));
    assert_eq!(r.error_code, code(ResponseError::InvalidRegularExpression));
    let message = r.error_message.expect("message").to_string();
    assert!(
        message.starts_with("SubscribedTopicRegex `orders-(` is not a valid regular expression: "),
        "{message}"
    );
    // Nothing was created.
    assert!(c.h.log.is_empty());
    assert_eq!(
        c.describe(G).error_code,
        code(ResponseError::GroupIdNotFound)
    );
    // Wrapping must not turn an invalid pattern into a valid one.
    let r = c.send(join_regex("a", &[], "a)|(b"));
    assert_eq!(r.error_code, code(ResponseError::InvalidRegularExpression));

    // A member changing to an invalid regex keeps its previous one.
    let mut c = orders_member();
    let log = c.h.log.len();
    let r = c.send(set_regex("a", 1, "[z-a]"));
    assert_eq!(r.error_code, code(ResponseError::InvalidRegularExpression));
    assert_eq!(c.h.log.len(), log);
    assert_eq!(regex_of(&c.h.shard, "a").as_deref(), Some("orders-.*"));
    assert_eq!(c.heartbeat(G, "a", 1, None).error_code, 0);
}

#[test]
fn names_and_regex_are_united() {
    let mut c = harness();
    let r = c.send(join_regex("a", &["payments"], "orders-a"));
    assert_eq!(r.error_code, 0, "{:?}", r.error_message);
    assert_eq!(
        c.assignment(&r),
        Some(named(&[("orders-a", &[0, 1]), ("payments", &[0, 1])]))
    );
    // A topic both named and selected is assigned once.
    let r = c.send(
        set_regex("a", 1, "orders-.*|payments")
            .with_subscribed_topic_names(Some(vec![sb("orders-b").into()])),
    );
    assert_eq!(r.member_epoch, 2);
    assert_eq!(
        c.assignment(&r),
        Some(named(&[
            ("orders-a", &[0, 1]),
            ("orders-b", &[0, 1]),
            ("payments", &[0, 1]),
        ]))
    );
}

#[test]
fn empty_regex_clears_it_and_null_keeps_it() {
    let mut c = orders_member();
    // Null (not sent): unchanged.
    let r = c.send(ConsumerHarness::base(G, "a", 1).with_subscribed_topic_regex(None));
    assert_eq!((r.member_epoch, r.assignment), (1, None));
    assert_eq!(regex_of(&c.h.shard, "a").as_deref(), Some("orders-.*"));

    // "" clears it: a new epoch with no topics (the member must revoke everything first).
    let r = c.send(set_regex("a", 1, ""));
    assert_eq!(r.error_code, 0);
    assert_eq!(regex_of(&c.h.shard, "a"), None);
    assert_eq!(c.group_epoch(G), 2);
    assert_eq!(c.assignment(&r), Some(named(&[])));
    let r = c.heartbeat(G, "a", 1, Some(&named(&[])));
    assert_eq!(r.member_epoch, 2);
    assert_eq!(c.state(G), "Stable");
    assert_eq!(c.describe(G).members[0].subscribed_topic_regex, None);
    assert!(c
        .h
        .shard
        .consumer_group(G)
        .expect("group")
        .regexes
        .is_empty());

    // librdkafka joins with names and "": a plain subscription.
    let r = c.send(join_regex("b", &["payments"], ""));
    assert_eq!(r.error_code, 0, "{:?}", r.error_message);
    assert_eq!(regex_of(&c.h.shard, "b"), None);
    assert_eq!(c.assignment(&r), Some(named(&[("payments", &[0, 1])])));
}

#[test]
fn one_compiled_regex_per_distinct_pattern() {
    let mut c = orders_member();
    c.send(join_regex("b", &[], "orders-.*"));
    c.send(join_regex("c", &[], "payments"));
    let group = c.h.shard.consumer_group(G).expect("group");
    assert_eq!(
        group.regexes.patterns().collect::<Vec<_>>(),
        vec!["orders-.*", "payments"]
    );
    // The last member using a pattern leaving drops it.
    assert_eq!(c.leave(G, "c", -1).error_code, 0);
    let group = c.h.shard.consumer_group(G).expect("group");
    assert_eq!(
        group.regexes.patterns().collect::<Vec<_>>(),
        vec!["orders-.*"]
    );
    // And the topics only its regex selected are no longer subscribed.
    let subscribed: Vec<_> = group
        .subscription_metadata
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(subscribed, vec!["orders-a", "orders-b"]);
    assert!(!group.is_subscribed_to_topic("payments"));
}

#[test]
fn replays_keep_the_regex() {
    let mut c = orders_member();
    c.send(join_regex("b", &["payments"], "orders-b"));
    let mut live = c.h.shard.consumer_group(G).expect("group").clone();
    // Session deadlines are not persisted (the first poll after a load arms them), and the
    // rebalance count is this process's (a load does not count).
    live.session_deadlines.clear();
    live.rebalances = 0;

    let mut from_snapshot = GroupCoordinatorShard::new(c.h.shard.config().clone());
    for r in c.h.shard.snapshot_records() {
        from_snapshot
            .replay(&r.key, r.value.as_deref())
            .expect("replays");
    }
    let from_log = c.h.replay_log();
    for shard in [&from_snapshot, &from_log] {
        let group = shard.consumer_group(G).expect("group");
        assert_eq!(group, &live);
        assert_eq!(regex_of(shard, "a").as_deref(), Some("orders-.*"));
        assert_eq!(regex_of(shard, "b").as_deref(), Some("orders-b"));
        // The cache is rebuilt from the member records.
        assert_eq!(
            group.regexes.patterns().collect::<Vec<_>>(),
            vec!["orders-.*", "orders-b"]
        );
        assert!(group.is_subscribed_to_topic("orders-b"));
    }
    assert_eq!(
        from_snapshot.snapshot_records(),
        c.h.shard.snapshot_records()
    );

    // The rebuilt shard resolves the regexes as the live one did: no spurious epoch bump.
    let epoch = c.group_epoch(G);
    c.h.shard = from_snapshot;
    let r = c.heartbeat(G, "a", 1, None);
    assert_eq!(r.error_code, 0, "{:?}", r.error_message);
    assert_eq!(c.group_epoch(G), epoch);
}
