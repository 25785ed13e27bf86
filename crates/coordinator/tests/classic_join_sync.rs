//! Join and sync scenarios of the classic protocol.

mod common;

use common::*;
use strom_protocol::ResponseError;

#[test]
fn two_members_join_and_sync() {
    let mut h = Harness::default();
    let (a, ja, ra) = h.join_new("g");
    assert!(ra.is_later());
    assert_eq!(h.state("g"), "PreparingRebalance");
    let (b, jb, rb) = h.join_new("g");
    assert!(rb.is_later());

    // The initial delay passes once; B joined during it, so it is extended once more.
    h.advance(i64::from(DELAY_MS));
    assert!(
        h.completions.is_empty(),
        "initial delay extended for the new member"
    );
    h.advance(i64::from(DELAY_MS));
    let resp_a = h.take_join(ja);
    let resp_b = h.take_join(jb);
    assert_eq!(resp_a.error_code, 0);
    assert_eq!(resp_b.error_code, 0);
    assert_eq!(resp_a.generation_id, 1);
    assert_eq!(resp_b.generation_id, 1);
    assert_eq!(resp_a.leader, resp_b.leader);
    assert_eq!(resp_a.protocol_name.as_deref(), Some("range"));
    assert_eq!(h.state("g"), "CompletingRebalance");

    // The first member is the leader and gets both members' metadata; the follower none.
    assert_eq!(resp_a.leader.to_string(), a);
    let mut ids: Vec<String> = resp_a
        .members
        .iter()
        .map(|m| m.member_id.to_string())
        .collect();
    ids.sort();
    let mut expected = vec![a.clone(), b.clone()];
    expected.sort();
    assert_eq!(ids, expected);
    let subscription = &consumer_protocols(&["topic"])[0].1;
    assert!(resp_a.members.iter().all(|m| m.metadata == *subscription));
    assert!(resp_b.members.is_empty());

    // The follower waits for the leader; assignments are relayed byte for byte.
    let (sb_id, sb_reply) = h.sync("g", &b, 1, &[], 5);
    assert!(sb_reply.is_later());
    let records_before = h.log.len();
    let (_, sa_reply) = h.sync("g", &a, 1, &[(&a, b"\x00\x01A"), (&b, b"\xffB\x00")], 5);
    let sa = sa_reply.now().expect("leader answered at once");
    assert_eq!(sa.error_code, 0);
    assert_eq!(&sa.assignment[..], b"\x00\x01A");
    assert_eq!(sa.protocol_name.as_deref(), Some("range"));
    let sb_resp = h.take_sync(sb_id);
    assert_eq!(sb_resp.error_code, 0);
    assert_eq!(&sb_resp.assignment[..], b"\xffB\x00");
    assert_eq!(
        h.log.len(),
        records_before + 1,
        "the group metadata record is written"
    );
    assert_eq!(h.state("g"), "Stable");

    // Heartbeats are fine in Stable, and the describe shows both assignments.
    assert_eq!(h.heartbeat("g", &a, None, 1), 0);
    assert_eq!(h.heartbeat("g", &b, None, 1), 0);
    let described = h.shard.describe_group("g", 5);
    assert_eq!(described.protocol_data.to_string(), "range");
    assert_eq!(described.members.len(), 2);
    let member_b = described
        .members
        .iter()
        .find(|m| m.member_id.to_string() == b)
        .expect("b");
    assert_eq!(&member_b.member_assignment[..], b"\xffB\x00");
    assert_eq!(&member_b.member_metadata, subscription);

    // A sync after Stable returns the current assignment.
    let (_, again) = h.sync("g", &b, 1, &[], 5);
    assert_eq!(
        &again.now().expect("immediate").assignment[..],
        b"\xffB\x00"
    );
}

#[test]
fn third_member_triggers_rebalance() {
    let mut h = Harness::default();
    let (leader, follower, generation) = h.stable_pair("g");
    let (c, jc, rc) = h.join_new("g");
    assert!(rc.is_later());
    assert_eq!(h.state("g"), "PreparingRebalance");
    assert_eq!(
        h.heartbeat("g", &leader, None, generation),
        code(ResponseError::RebalanceInProgress)
    );
    // A sync in PreparingRebalance is refused too.
    let (_, s) = h.sync("g", &follower, generation, &[], 5);
    assert_eq!(
        s.now().expect("immediate").error_code,
        code(ResponseError::RebalanceInProgress)
    );

    let (jl, rl) = h.join("g", &leader, None, 5);
    assert!(rl.is_later());
    // The last member to rejoin completes the join phase at once (not the initial delay).
    let (jf, rf) = h.join("g", &follower, None, 5);
    let resp_f = rf.now().expect("last rejoin completes the join phase");
    let resp_l = h.take_join(jl);
    let resp_c = h.take_join(jc);
    assert_eq!(resp_f.generation_id, generation + 1);
    assert_eq!(resp_l.generation_id, generation + 1);
    assert_eq!(resp_c.generation_id, generation + 1);
    assert_eq!(resp_l.members.len(), 3);
    assert!(resp_c.members.is_empty() && resp_f.members.is_empty());
    let _ = jf;
    // Offsets of the old generation are refused.
    let r = h.commit("g", &c, generation, &[("t", 0, 1, None)], 8);
    assert_eq!(
        Harness::commit_errors(&r),
        vec![code(ResponseError::IllegalGeneration)]
    );
    // ... and in CompletingRebalance, even with the right generation.
    let r = h.commit("g", &c, generation + 1, &[("t", 0, 1, None)], 8);
    assert_eq!(
        Harness::commit_errors(&r),
        vec![code(ResponseError::RebalanceInProgress)]
    );
    // Heartbeats are fine between join and sync.
    assert_eq!(h.heartbeat("g", &c, None, generation + 1), 0);
}

#[test]
fn rejoin_of_follower_with_same_metadata_in_stable_returns_current_generation() {
    let mut h = Harness::default();
    let (_leader, follower, generation) = h.stable_pair("g");
    let (_, r) = h.join("g", &follower, None, 5);
    let r = r.now().expect("no rebalance for an unchanged follower");
    assert_eq!(r.generation_id, generation);
    assert_eq!(h.state("g"), "Stable");
}

#[test]
fn leader_rejoin_forces_rebalance() {
    let mut h = Harness::default();
    let (leader, _follower, _) = h.stable_pair("g");
    let (_, r) = h.join("g", &leader, None, 5);
    assert!(r.is_later());
    assert_eq!(h.state("g"), "PreparingRebalance");
}

#[test]
fn every_new_generation_counts_as_a_rebalance_but_a_load_does_not() {
    let mut h = Harness::default();
    let (leader, follower, _) = h.stable_pair("g");
    let rebalances = |shard: &strom_coordinator::GroupCoordinatorShard| {
        shard.rebalances().find(|(g, _)| *g == "g").map(|(_, n)| n)
    };
    assert_eq!(rebalances(&h.shard), Some(1));
    // Both members rejoin: the join phase completes with the second one.
    let (j1, r1) = h.join("g", &leader, None, 5);
    assert!(r1.is_later());
    let (_, r2) = h.join("g", &follower, None, 5);
    assert_eq!(r2.now().expect("the last join completes").generation_id, 2);
    assert_eq!(h.take_join(j1).generation_id, 2);
    assert_eq!(rebalances(&h.shard), Some(2));
    // Not persisted: a shard loaded from the log starts counting again.
    assert_eq!(rebalances(&h.replay_log()), Some(0));
}

#[test]
fn member_id_required_flow_and_old_versions() {
    let mut h = Harness::default();
    // v4+: an empty member id gets MEMBER_ID_REQUIRED with a generated id, not yet a member.
    let (_, r) = h.join("g", "", None, 4);
    let r = r.now().expect("immediate");
    assert_eq!(r.error_code, code(ResponseError::MemberIdRequired));
    assert!(r.member_id.starts_with("client-"));
    assert_eq!(h.shard.describe_group("g", 5).members.len(), 0);
    // The pending member id expires after the session timeout if never used.
    h.advance(i64::from(SESSION_MS) + 1);
    let (_, r2) = h.join("g", &r.member_id, None, 4);
    assert_eq!(
        r2.now().expect("immediate").error_code,
        code(ResponseError::UnknownMemberId)
    );

    // v0-3 join directly with a generated id.
    let mut h = Harness::default();
    let (j, r) = h.join("g", "", None, 3);
    assert!(r.is_later());
    h.advance(i64::from(DELAY_MS));
    let resp = h.take_join(j);
    assert_eq!(resp.error_code, 0);
    assert_eq!(resp.leader, resp.member_id);
    assert_eq!(resp.members.len(), 1);
    // Before v5 the members carry no group instance id and before v7 no protocol type.
    assert!(resp.protocol_type.is_none());
}

#[test]
fn join_validation_errors() {
    let mut h = Harness::default();
    let (_, r) = h.join_full(
        "g",
        "",
        None,
        "consumer",
        &consumer_protocols(&["t"]),
        10,
        5,
    );
    assert_eq!(
        r.now().expect("now").error_code,
        code(ResponseError::InvalidSessionTimeout)
    );
    let (_, r) = h.join_full("g", "", None, "consumer", &[], SESSION_MS, 5);
    assert_eq!(
        r.now().expect("now").error_code,
        code(ResponseError::InconsistentGroupProtocol)
    );
    let (_, r) = h.join("unknown-group", "some-member", None, 5);
    assert_eq!(
        r.now().expect("now").error_code,
        code(ResponseError::UnknownMemberId)
    );
    let (_, r) = h.join("", "", None, 5);
    assert_eq!(
        r.now().expect("now").error_code,
        code(ResponseError::InvalidGroupId)
    );

    let (_leader, _follower, _) = h.stable_pair("g2");
    // A different protocol type, or no common protocol, is inconsistent.
    let (_, r) = h.join_full(
        "g2",
        "",
        None,
        "connect",
        &consumer_protocols(&["t"]),
        SESSION_MS,
        5,
    );
    assert_eq!(
        r.now().expect("now").error_code,
        code(ResponseError::InconsistentGroupProtocol)
    );
    let other = vec![("sticky".to_string(), bytes::Bytes::new())];
    let (_, r) = h.join_full("g2", "", None, "consumer", &other, SESSION_MS, 5);
    assert_eq!(
        r.now().expect("now").error_code,
        code(ResponseError::InconsistentGroupProtocol)
    );
    // An unknown member id in an existing group.
    let (_, r) = h.join("g2", "nobody", None, 5);
    assert_eq!(
        r.now().expect("now").error_code,
        code(ResponseError::UnknownMemberId)
    );
}

#[test]
fn group_max_size_reached() {
    let mut h = Harness::new(strom_coordinator::ShardConfig {
        group_max_size: 2,
        ..config()
    });
    let (_l, _f, _) = h.stable_pair("g");
    let (_, r) = h.join("g", "", None, 5);
    // The pending member id is handed out; the rejoin is refused.
    let pending = r.now().expect("now").member_id.to_string();
    let (_, r) = h.join("g", &pending, None, 5);
    assert_eq!(
        r.now().expect("now").error_code,
        code(ResponseError::GroupMaxSizeReached)
    );
}

#[test]
fn sync_errors() {
    let mut h = Harness::default();
    let (leader, follower, generation) = h.stable_pair("g");
    let (_, r) = h.sync("g", &follower, generation + 5, &[], 5);
    assert_eq!(
        r.now().expect("now").error_code,
        code(ResponseError::IllegalGeneration)
    );
    let (_, r) = h.sync("g", "nobody", generation, &[], 5);
    assert_eq!(
        r.now().expect("now").error_code,
        code(ResponseError::UnknownMemberId)
    );
    let (_, r) = h.sync("nogroup", &leader, generation, &[], 5);
    assert_eq!(
        r.now().expect("now").error_code,
        code(ResponseError::UnknownMemberId)
    );
    let request = strom_protocol::messages::SyncGroupRequest::default()
        .with_group_id(sb("g").into())
        .with_generation_id(generation)
        .with_member_id(sb(&leader))
        .with_protocol_type(Some(sb("connect")))
        .with_protocol_name(Some(sb("range")));
    let outcome = h.shard.sync_group(99, &request, 5, h.now);
    assert_eq!(
        outcome.reply.now().expect("now").error_code,
        code(ResponseError::InconsistentGroupProtocol)
    );
}

#[test]
fn heartbeat_errors() {
    let mut h = Harness::default();
    let (leader, _follower, generation) = h.stable_pair("g");
    assert_eq!(
        h.heartbeat("g", "nobody", None, generation),
        code(ResponseError::UnknownMemberId)
    );
    assert_eq!(
        h.heartbeat("g", &leader, None, generation - 1),
        code(ResponseError::IllegalGeneration)
    );
    assert_eq!(
        h.heartbeat("nogroup", &leader, None, generation),
        code(ResponseError::UnknownMemberId)
    );
}
