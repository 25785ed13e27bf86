//! A harness for KIP-848 consumer groups: ConsumerGroupHeartbeat requests against a shard with
//! a fake clock and a topics image the test changes at will.

use std::collections::BTreeMap;

use strom_coordinator::{DescribedConsumerGroup, ShardConfig, TopicsImage};
use strom_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use strom_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use uuid::Uuid;

use super::{sb, Harness};

/// The rebalance timeout members ask for.
pub const REBALANCE_TIMEOUT_MS: i32 = 30_000;

/// A member's assignment as `topic name → partitions`.
pub type Named = BTreeMap<String, Vec<i32>>;

pub struct ConsumerHarness {
    pub h: Harness,
    pub topics: TopicsImage,
}

impl Default for ConsumerHarness {
    fn default() -> Self {
        Self::new(super::config())
    }
}

impl ConsumerHarness {
    pub fn new(config: ShardConfig) -> Self {
        ConsumerHarness {
            h: Harness::new(config),
            topics: TopicsImage::default(),
        }
    }

    /// The id of topic `name` (stable: derived from the name; wraps for long names).
    pub fn topic_id(name: &str) -> Uuid {
        Uuid::from_u128(name.bytes().fold(7u128, |acc, b| {
            acc.wrapping_mul(131).wrapping_add(u128::from(b))
        }))
    }

    /// Creates (or resizes) a topic in the image.
    pub fn set_topic(&mut self, name: &str, partitions: i32) {
        self.topics
            .topics
            .insert(name.to_string(), (Self::topic_id(name), partitions));
    }

    pub fn name_of(&self, id: Uuid) -> String {
        self.topics.name_of(id).expect("known topic id").to_string()
    }

    pub fn send(
        &mut self,
        request: ConsumerGroupHeartbeatRequest,
    ) -> ConsumerGroupHeartbeatResponse {
        let outcome = self.h.shard.consumer_group_heartbeat(
            &request,
            1,
            "client",
            "/127.0.0.1",
            &self.topics,
            self.h.now,
        );
        self.h
            .absorb(outcome)
            .now()
            .expect("heartbeats are immediate")
    }

    pub fn base(group: &str, member: &str, epoch: i32) -> ConsumerGroupHeartbeatRequest {
        ConsumerGroupHeartbeatRequest::default()
            .with_group_id(sb(group).into())
            .with_member_id(sb(member))
            .with_member_epoch(epoch)
            .with_rebalance_timeout_ms(-1)
    }

    /// A join (epoch 0) subscribing to `topics`.
    pub fn join_request(
        group: &str,
        member: &str,
        topics: &[&str],
    ) -> ConsumerGroupHeartbeatRequest {
        Self::base(group, member, 0)
            .with_rebalance_timeout_ms(REBALANCE_TIMEOUT_MS)
            .with_subscribed_topic_names(Some(topics.iter().map(|t| sb(t).into()).collect()))
            .with_topic_partitions(Some(Vec::new()))
    }

    pub fn join(
        &mut self,
        group: &str,
        member: &str,
        topics: &[&str],
    ) -> ConsumerGroupHeartbeatResponse {
        self.send(Self::join_request(group, member, topics))
    }

    /// A heartbeat reporting the owned partitions (`None`: not reported).
    pub fn heartbeat(
        &mut self,
        group: &str,
        member: &str,
        epoch: i32,
        owned: Option<&Named>,
    ) -> ConsumerGroupHeartbeatResponse {
        let owned = owned.map(|o| {
            o.iter()
                .map(|(t, ps)| {
                    TopicPartitions::default()
                        .with_topic_id(Self::topic_id(t))
                        .with_partitions(ps.clone())
                })
                .collect()
        });
        self.send(Self::base(group, member, epoch).with_topic_partitions(owned))
    }

    pub fn leave(
        &mut self,
        group: &str,
        member: &str,
        epoch: i32,
    ) -> ConsumerGroupHeartbeatResponse {
        self.send(Self::base(group, member, epoch))
    }

    /// The assignment of a response by topic name (`None` when the response carries none).
    pub fn assignment(&self, response: &ConsumerGroupHeartbeatResponse) -> Option<Named> {
        response.assignment.as_ref().map(|a| {
            a.topic_partitions
                .iter()
                .map(|tp| {
                    let mut ps = tp.partitions.clone();
                    ps.sort_unstable();
                    (self.name_of(tp.topic_id), ps)
                })
                .collect()
        })
    }

    pub fn describe(&self, group: &str) -> DescribedConsumerGroup {
        self.h
            .shard
            .consumer_group_describe(group, &self.topics, false)
    }

    pub fn state(&self, group: &str) -> String {
        self.describe(group).group_state.to_string()
    }

    pub fn group_epoch(&self, group: &str) -> i32 {
        self.describe(group).group_epoch
    }

    /// A member's current assignment as the group sees it.
    pub fn owned(&self, group: &str, member: &str) -> Named {
        let described = self.describe(group);
        let m = described
            .members
            .iter()
            .find(|m| &*m.member_id == member)
            .expect("member exists");
        m.assignment
            .topic_partitions
            .iter()
            .map(|tp| (tp.topic_name.to_string(), tp.partitions.clone()))
            .collect()
    }

    pub fn member_ids(&self, group: &str) -> Vec<String> {
        self.describe(group)
            .members
            .iter()
            .map(|m| m.member_id.to_string())
            .collect()
    }
}

/// `{topic: partitions}` from a slice.
pub fn named(entries: &[(&str, &[i32])]) -> Named {
    entries
        .iter()
        .map(|(t, ps)| (t.to_string(), ps.to_vec()))
        .collect()
}
