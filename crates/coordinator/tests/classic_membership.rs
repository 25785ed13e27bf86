//! Session, rebalance and sync timeouts, static membership and LeaveGroup.

mod common;

use common::*;
use strom_protocol::ResponseError;

#[test]
fn session_expiry_removes_member_and_rebalances() {
    let mut h = Harness::default();
    let (leader, follower, generation) = h.stable_pair("g");
    // Only the follower heartbeats; the leader's session expires.
    h.advance(i64::from(SESSION_MS) / 2);
    assert_eq!(h.heartbeat("g", &follower, None, generation), 0);
    h.advance(i64::from(SESSION_MS) / 2 - 1);
    assert_eq!(h.state("g"), "Stable");
    h.advance(1);
    assert_eq!(h.state("g"), "PreparingRebalance");
    assert_eq!(
        h.heartbeat("g", &leader, None, generation),
        code(ResponseError::UnknownMemberId)
    );
    assert_eq!(
        h.heartbeat("g", &follower, None, generation),
        code(ResponseError::RebalanceInProgress)
    );
    // The survivor rejoins: it is alone, so the join completes at once and it leads.
    let (_, r) = h.join("g", &follower, None, 5);
    let r = r.now().expect("join completes");
    assert_eq!(r.generation_id, generation + 1);
    assert_eq!(r.leader.to_string(), follower);
    assert_eq!(r.members.len(), 1);
}

#[test]
fn rebalance_timeout_removes_members_that_did_not_rejoin() {
    let mut h = Harness::default();
    let (leader, follower, generation) = h.stable_pair("g");
    let (jl, rl) = h.join("g", &leader, None, 5);
    assert!(rl.is_later());
    // The follower keeps heartbeating but never rejoins.
    let mut waited = 0;
    while waited < REBALANCE_MS {
        h.advance(i64::from(SESSION_MS) / 2);
        waited += SESSION_MS / 2;
        let _ = h.heartbeat("g", &follower, None, generation);
    }
    let r = h.take_join(jl);
    assert_eq!(r.error_code, 0);
    assert_eq!(r.generation_id, generation + 1);
    assert_eq!(r.members.len(), 1);
    assert_eq!(
        h.heartbeat("g", &follower, None, generation),
        code(ResponseError::UnknownMemberId)
    );
}

#[test]
fn sync_timeout_removes_members_that_did_not_sync() {
    let mut h = Harness::default();
    let (_, ja, _) = h.join_new("g");
    let (b, jb, _) = h.join_new("g");
    h.advance(i64::from(DELAY_MS) * 2);
    let ra = h.take_join(ja);
    let _ = h.take_join(jb);
    let leader = ra.leader.to_string();
    // The follower syncs and waits; the leader never sends its assignment.
    let (sb_id, r) = h.sync("g", &b, 1, &[], 5);
    assert!(r.is_later() || leader == b);
    h.advance(i64::from(REBALANCE_MS) + 1);
    if leader != b {
        // The follower's parked sync is answered REBALANCE_IN_PROGRESS by the new rebalance.
        assert_eq!(
            h.take_sync(sb_id).error_code,
            code(ResponseError::RebalanceInProgress)
        );
    }
    assert!(!h
        .shard
        .classic_group("g")
        .expect("group")
        .members
        .contains_key(&leader));
}

#[test]
fn static_member_restart_within_session_timeout_keeps_generation() {
    let mut h = Harness::default();
    let (j1, _) = h.join("g", "", Some("instance-1"), 5);
    let (j2, _) = h.join("g", "", Some("instance-2"), 5);
    h.advance(i64::from(DELAY_MS) * 2);
    let r1 = h.take_join(j1);
    let r2 = h.take_join(j2);
    let (m1, m2) = (r1.member_id.to_string(), r2.member_id.to_string());
    assert!(
        m1.starts_with("instance-1-"),
        "static member ids derive from the instance id"
    );
    assert_eq!(
        r1.members
            .iter()
            .filter(|m| m.group_instance_id.is_some())
            .count(),
        2
    );
    let (leader, follower) = if r1.leader.to_string() == m1 {
        (&m1, &m2)
    } else {
        (&m2, &m1)
    };
    let (fs, _) = h.sync("g", follower, 1, &[], 5);
    let _ = h.sync("g", leader, 1, &[(leader, b"L"), (follower, b"F")], 5);
    let _ = h.take_sync(fs);
    assert_eq!(h.state("g"), "Stable");

    // The follower (instance of `follower`) restarts with an empty member id.
    let follower_instance = if follower == &m1 {
        "instance-1"
    } else {
        "instance-2"
    };
    h.advance(1_000);
    let (_, r) = h.join("g", "", Some(follower_instance), 5);
    let r = r.now().expect("no rebalance for a static restart");
    assert_eq!(r.error_code, 0);
    assert_eq!(r.generation_id, 1);
    assert_ne!(r.member_id.to_string(), *follower);
    assert_eq!(h.state("g"), "Stable");
    // Its assignment is kept.
    let (_, s) = h.sync("g", &r.member_id, 1, &[], 5);
    assert_eq!(&s.now().expect("now").assignment[..], b"F");
    // The old incarnation is fenced.
    assert_eq!(
        h.heartbeat("g", follower, Some(follower_instance), 1),
        code(ResponseError::FencedInstanceId)
    );
    let (_, old) = h.join("g", follower, Some(follower_instance), 5);
    assert_eq!(
        old.now().expect("now").error_code,
        code(ResponseError::FencedInstanceId)
    );
    // The restart was persisted (the new member id is in the latest group record).
    let replayed = h.replay_log();
    let members = replayed.describe_group("g", 5).members;
    assert!(members.iter().any(|m| m.member_id == r.member_id));
}

#[test]
fn static_leader_restart_on_v9_skips_assignment() {
    let mut h = Harness::default();
    let (j1, _) = h.join("g", "", Some("i1"), 9);
    h.advance(i64::from(DELAY_MS));
    let r1 = h.take_join(j1);
    let m1 = r1.member_id.to_string();
    let _ = h.sync("g", &m1, 1, &[(&m1, b"A")], 5);
    let (_, r) = h.join("g", "", Some("i1"), 9);
    let r = r.now().expect("now");
    assert!(r.skip_assignment);
    assert_eq!(r.leader, r.member_id);
    assert_eq!(r.members.len(), 1);
    // Before v9 the restarted leader is told the old leader id so that it does not reassign.
    let (_, r_old) = h.join("g", "", Some("i1"), 8);
    let r_old = r_old.now().expect("now");
    assert!(!r_old.skip_assignment);
    assert_eq!(r_old.leader, r.member_id);
    assert!(r_old.members.is_empty());
}

#[test]
fn batched_leave() {
    let mut h = Harness::default();
    let (j1, _) = h.join("g", "", Some("i1"), 5);
    let (b, jb, _) = h.join_new("g");
    h.advance(i64::from(DELAY_MS) * 2);
    let r1 = h.take_join(j1);
    let _ = h.take_join(jb);
    let response = h.leave(
        "g",
        &[
            ("", Some("i1")),
            (&b, None),
            ("ghost", None),
            ("", Some("i9")),
        ],
    );
    let errors: Vec<i16> = response.members.iter().map(|m| m.error_code).collect();
    assert_eq!(
        errors,
        vec![
            0,
            0,
            code(ResponseError::UnknownMemberId),
            code(ResponseError::UnknownMemberId)
        ]
    );
    assert_eq!(response.error_code, 0);
    // Everyone left: the group is Empty with a new generation, and that is recorded.
    assert_eq!(h.state("g"), "Empty");
    assert_eq!(
        h.shard.classic_group("g").expect("g").generation_id,
        r1.generation_id + 1
    );
    assert_eq!(
        h.replay_log()
            .describe_group("g", 5)
            .group_state
            .to_string(),
        "Empty"
    );
}

#[test]
fn leave_starts_rebalance_and_v0_leave() {
    let mut h = Harness::default();
    let (leader, follower, _) = h.stable_pair("g");
    let request = strom_protocol::messages::LeaveGroupRequest::default()
        .with_group_id(sb("g").into())
        .with_member_id(sb(&follower));
    let outcome = h.shard.leave_group(&request, 1, h.now);
    let response = h.absorb(outcome).now().expect("now");
    assert_eq!(response.error_code, 0);
    assert!(response.members.is_empty());
    assert_eq!(h.state("g"), "PreparingRebalance");
    let (_, r) = h.join("g", &leader, None, 5);
    assert_eq!(r.now().expect("alone, completes").members.len(), 1);
    // A fenced static leave.
    let outcome = h.shard.leave_group(&request, 1, h.now);
    assert_eq!(
        h.absorb(outcome).now().expect("now").error_code,
        code(ResponseError::UnknownMemberId)
    );
}

#[test]
fn fenced_instance_on_leave_and_commit() {
    let mut h = Harness::default();
    let (j1, _) = h.join("g", "", Some("i1"), 5);
    h.advance(i64::from(DELAY_MS));
    let r1 = h.take_join(j1);
    let resp = h.leave("g", &[("wrong-id", Some("i1"))]);
    assert_eq!(
        resp.members[0].error_code,
        code(ResponseError::FencedInstanceId)
    );
    let request = strom_protocol::messages::OffsetCommitRequest::default()
        .with_group_id(sb("g").into())
        .with_generation_id_or_member_epoch(r1.generation_id)
        .with_member_id(sb("wrong-id"))
        .with_group_instance_id(Some(sb("i1")))
        .with_topics(vec![
            strom_protocol::messages::offset_commit_request::OffsetCommitRequestTopic::default()
                .with_name(sb("t").into())
                .with_partitions(vec![Default::default()]),
        ]);
    let outcome = h.shard.commit_offsets(&request, 8, h.now);
    let response = h.absorb(outcome).now().expect("now");
    assert_eq!(
        Harness::commit_errors(&response),
        vec![code(ResponseError::FencedInstanceId)]
    );
}

#[test]
fn loaded_members_get_fresh_sessions() {
    let mut h = Harness::default();
    let (leader, follower, generation) = h.stable_pair("g");
    let mut loaded = h.replay_log();
    assert_eq!(loaded.next_deadline(), Some(i64::MIN));
    let later = h.now + 100_000;
    let _ = loaded.poll(later);
    assert_eq!(
        loaded.describe_group("g", 5).group_state.to_string(),
        "Stable"
    );
    let hb = strom_protocol::messages::HeartbeatRequest::default()
        .with_group_id(sb("g").into())
        .with_generation_id(generation)
        .with_member_id(sb(&leader));
    assert_eq!(
        loaded
            .heartbeat(&hb, 4, later + 1)
            .reply
            .now()
            .expect("now")
            .error_code,
        0
    );
    // The follower's session, started at load, expires.
    let _ = loaded.poll(later + i64::from(SESSION_MS) + 1);
    let group = loaded.classic_group("g").expect("g");
    assert!(!group.members.contains_key(&follower));
}
