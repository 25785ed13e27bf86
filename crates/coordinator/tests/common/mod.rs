//! A test harness driving a shard with requests and a fake clock, keeping the records it
//! returned (the "log") and the completions by request id.
#![allow(dead_code)]

use std::collections::HashMap;

use bytes::Bytes;
use strom_coordinator::classic::subscription::encode_subscription;
use strom_coordinator::{
    CoordinatorRecord, DelayedResponse, GroupCoordinatorShard, Outcome, Reply, RequestId,
    ShardConfig,
};
use strom_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use strom_protocol::messages::leave_group_request::MemberIdentity;
use strom_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use strom_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use strom_protocol::messages::{
    HeartbeatRequest, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse,
    OffsetCommitRequest, OffsetCommitResponse, SyncGroupRequest, SyncGroupResponse,
};
use strom_protocol::{str_bytes, ResponseError, StrBytes};

pub const SESSION_MS: i32 = 10_000;
pub const REBALANCE_MS: i32 = 30_000;
pub const DELAY_MS: i32 = 100;

pub fn code(e: ResponseError) -> i16 {
    e.code()
}

pub fn sb(s: &str) -> StrBytes {
    str_bytes(s.to_string())
}

pub fn config() -> ShardConfig {
    ShardConfig {
        group_initial_rebalance_delay_ms: DELAY_MS,
        ..ShardConfig::default()
    }
}

/// A consumer-protocol member's protocols: ("range", subscription to `topics`).
pub fn consumer_protocols(topics: &[&str]) -> Vec<(String, Bytes)> {
    vec![(
        "range".to_string(),
        Bytes::from(encode_subscription(topics)),
    )]
}

pub struct Harness {
    pub shard: GroupCoordinatorShard,
    pub now: i64,
    next_request: RequestId,
    pub completions: HashMap<RequestId, DelayedResponse>,
    pub log: Vec<CoordinatorRecord>,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new(config())
    }
}

impl Harness {
    pub fn new(config: ShardConfig) -> Self {
        let mut h = Harness {
            shard: GroupCoordinatorShard::new(config),
            now: 1_000,
            next_request: 1,
            completions: HashMap::new(),
            log: Vec::new(),
        };
        h.poll();
        h
    }

    pub fn absorb<T>(&mut self, outcome: Outcome<T>) -> Reply<T> {
        self.log.extend(outcome.records);
        for c in outcome.completions {
            assert!(
                self.completions.insert(c.request_id, c.response).is_none(),
                "request {} completed twice",
                c.request_id
            );
        }
        outcome.reply
    }

    pub fn poll(&mut self) {
        let outcome = self.shard.poll(self.now);
        self.absorb(outcome);
    }

    /// Advances the clock by `ms`, polling at every deadline on the way (like the runtime).
    pub fn advance(&mut self, ms: i64) {
        let target = self.now + ms;
        while let Some(deadline) = self.shard.next_deadline() {
            if deadline > target {
                break;
            }
            self.now = self.now.max(deadline);
            self.poll();
        }
        self.now = target;
        self.poll();
    }

    fn request_id(&mut self) -> RequestId {
        let id = self.next_request;
        self.next_request += 1;
        id
    }

    #[allow(clippy::too_many_arguments)]
    pub fn join_full(
        &mut self,
        group: &str,
        member_id: &str,
        instance: Option<&str>,
        protocol_type: &str,
        protocols: &[(String, Bytes)],
        session_ms: i32,
        version: i16,
    ) -> (RequestId, Reply<JoinGroupResponse>) {
        let request = JoinGroupRequest::default()
            .with_group_id(sb(group).into())
            .with_session_timeout_ms(session_ms)
            .with_rebalance_timeout_ms(REBALANCE_MS)
            .with_member_id(sb(member_id))
            .with_group_instance_id(instance.map(sb))
            .with_protocol_type(sb(protocol_type))
            .with_protocols(
                protocols
                    .iter()
                    .map(|(n, m)| {
                        JoinGroupRequestProtocol::default()
                            .with_name(sb(n))
                            .with_metadata(m.clone())
                    })
                    .collect(),
            );
        let id = self.request_id();
        let outcome =
            self.shard
                .join_group(id, &request, version, "client", "/127.0.0.1", self.now);
        (id, self.absorb(outcome))
    }

    pub fn join(
        &mut self,
        group: &str,
        member_id: &str,
        instance: Option<&str>,
        version: i16,
    ) -> (RequestId, Reply<JoinGroupResponse>) {
        self.join_full(
            group,
            member_id,
            instance,
            "consumer",
            &consumer_protocols(&["topic"]),
            SESSION_MS,
            version,
        )
    }

    /// A dynamic member's first join on v5: MEMBER_ID_REQUIRED, then the rejoin (parked).
    pub fn join_new(&mut self, group: &str) -> (String, RequestId, Reply<JoinGroupResponse>) {
        let (_, reply) = self.join(group, "", None, 5);
        let first = reply.now().expect("member id required is immediate");
        assert_eq!(first.error_code, code(ResponseError::MemberIdRequired));
        let member_id = first.member_id.to_string();
        assert!(member_id.starts_with("client-"));
        let (id, reply) = self.join(group, &member_id, None, 5);
        (member_id, id, reply)
    }

    pub fn take_join(&mut self, id: RequestId) -> JoinGroupResponse {
        match self.completions.remove(&id) {
            Some(DelayedResponse::JoinGroup(r)) => r,
            other => panic!("no join completion for request {id}: {other:?}"),
        }
    }

    pub fn take_sync(&mut self, id: RequestId) -> SyncGroupResponse {
        match self.completions.remove(&id) {
            Some(DelayedResponse::SyncGroup(r)) => r,
            other => panic!("no sync completion for request {id}: {other:?}"),
        }
    }

    /// The join response, immediate or completed.
    pub fn join_response(
        &mut self,
        id: RequestId,
        reply: Reply<JoinGroupResponse>,
    ) -> JoinGroupResponse {
        match reply {
            Reply::Now(r) => r,
            Reply::Later => self.take_join(id),
        }
    }

    pub fn sync(
        &mut self,
        group: &str,
        member_id: &str,
        generation: i32,
        assignments: &[(&str, &[u8])],
        version: i16,
    ) -> (RequestId, Reply<SyncGroupResponse>) {
        let request = SyncGroupRequest::default()
            .with_group_id(sb(group).into())
            .with_generation_id(generation)
            .with_member_id(sb(member_id))
            .with_assignments(
                assignments
                    .iter()
                    .map(|(m, a)| {
                        SyncGroupRequestAssignment::default()
                            .with_member_id(sb(m))
                            .with_assignment(Bytes::copy_from_slice(a))
                    })
                    .collect(),
            );
        let id = self.request_id();
        let outcome = self.shard.sync_group(id, &request, version, self.now);
        (id, self.absorb(outcome))
    }

    pub fn heartbeat(
        &mut self,
        group: &str,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
    ) -> i16 {
        let request = HeartbeatRequest::default()
            .with_group_id(sb(group).into())
            .with_generation_id(generation)
            .with_member_id(sb(member_id))
            .with_group_instance_id(instance.map(sb));
        let outcome = self.shard.heartbeat(&request, 4, self.now);
        self.absorb(outcome)
            .now()
            .expect("heartbeat is immediate")
            .error_code
    }

    pub fn leave(&mut self, group: &str, members: &[(&str, Option<&str>)]) -> LeaveGroupResponse {
        let request = LeaveGroupRequest::default()
            .with_group_id(sb(group).into())
            .with_members(
                members
                    .iter()
                    .map(|(m, i)| {
                        MemberIdentity::default()
                            .with_member_id(sb(m))
                            .with_group_instance_id(i.map(sb))
                    })
                    .collect(),
            );
        let outcome = self.shard.leave_group(&request, 5, self.now);
        self.absorb(outcome).now().expect("leave is immediate")
    }

    #[allow(clippy::too_many_arguments)]
    pub fn commit(
        &mut self,
        group: &str,
        member_id: &str,
        generation: i32,
        offsets: &[(&str, i32, i64, Option<&str>)],
        version: i16,
    ) -> OffsetCommitResponse {
        let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
        for (topic, partition, offset, metadata) in offsets {
            let p = OffsetCommitRequestPartition::default()
                .with_partition_index(*partition)
                .with_committed_offset(*offset)
                .with_committed_leader_epoch(if version >= 6 { 3 } else { -1 })
                .with_committed_metadata(metadata.map(sb));
            match topics.iter_mut().find(|t| &*t.name.0 == *topic) {
                Some(t) => t.partitions.push(p),
                None => topics.push(
                    OffsetCommitRequestTopic::default()
                        .with_name(sb(topic).into())
                        .with_partitions(vec![p]),
                ),
            }
        }
        let request = OffsetCommitRequest::default()
            .with_group_id(sb(group).into())
            .with_generation_id_or_member_epoch(generation)
            .with_member_id(sb(member_id))
            .with_topics(topics);
        let outcome = self.shard.commit_offsets(&request, version, self.now);
        self.absorb(outcome).now().expect("commit is immediate")
    }

    /// Every partition error of a commit response, flattened.
    pub fn commit_errors(response: &OffsetCommitResponse) -> Vec<i16> {
        response
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .collect()
    }

    pub fn fetch(&self, group: &str, topic: &str, partitions: &[i32]) -> Vec<(i64, i32, String)> {
        self.shard
            .fetch_offsets(
                group,
                Some(&[(topic.to_string(), partitions.to_vec())]),
                self.now,
            )
            .expect("no group error")
            .into_iter()
            .map(|f| (f.committed_offset, f.committed_leader_epoch, f.metadata))
            .collect()
    }

    pub fn state(&self, group: &str) -> String {
        self.shard.describe_group(group, 5).group_state.to_string()
    }

    /// A fresh shard that replayed this harness's log.
    pub fn replay_log(&self) -> GroupCoordinatorShard {
        let mut shard = GroupCoordinatorShard::new(self.shard.config().clone());
        for r in &self.log {
            shard
                .replay(&r.key, r.value.as_deref())
                .expect("log replays");
        }
        shard
    }

    /// Forms a stable two-member group (dynamic members, v5); returns (leader, follower, generation).
    pub fn stable_pair(&mut self, group: &str) -> (String, String, i32) {
        let (a, ja, ra) = self.join_new(group);
        assert!(ra.is_later());
        let (b, jb, rb) = self.join_new(group);
        assert!(rb.is_later());
        self.advance(i64::from(DELAY_MS) * 2);
        let resp_a = self.take_join(ja);
        let resp_b = self.take_join(jb);
        assert_eq!(resp_a.generation_id, resp_b.generation_id);
        let (leader, follower) = if resp_a.leader.to_string() == a {
            (a, b)
        } else {
            (b, a)
        };
        let generation = resp_a.generation_id;
        let (fs, fr) = self.sync(group, &follower, generation, &[], 5);
        assert!(fr.is_later());
        let (_, lr) = self.sync(
            group,
            &leader,
            generation,
            &[(leader.as_str(), b"L"), (follower.as_str(), b"F")],
            5,
        );
        assert_eq!(lr.now().expect("leader sync is immediate").error_code, 0);
        assert_eq!(self.take_sync(fs).error_code, 0);
        assert_eq!(self.state(group), "Stable");
        (leader, follower, generation)
    }
}

pub mod consumer;
