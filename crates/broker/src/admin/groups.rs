//! `GET /v1/groups` and `GET /v1/groups/{id}`: the consumer groups of this broker's group
//! coordinator, what `kafka-consumer-groups.sh --list` and `--describe` show: state, protocol,
//! members with their client and assignment, and per partition the committed offset, the
//! high watermark, the log end offset and the lag (high watermark minus the committed offset,
//! as the `strom_consumer_group_lag` metric computes it).
//!
//! The types here are the JSON shapes (snake_case fields); `strom top` reads them back.

use std::collections::BTreeMap;

use axum::extract::rejection::PathRejection;
use axum::extract::Path;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::AdminError;
use super::readiness::Serving;
use crate::group_coordinator::{GroupSnapshot, MemberSnapshot};
use crate::replica_manager::ReplicaManager;
use crate::server::{now_ms, Broker};

/// The answer of `GET /v1/groups`, sorted by group id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupList {
    pub groups: Vec<GroupListing>,
}

/// One group in [`GroupList`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupListing {
    pub group_id: String,
    /// `classic` (JoinGroup/SyncGroup) or `consumer` (KIP-848).
    pub group_type: String,
    /// Kafka's state names: `Stable`, `PreparingRebalance`, `CompletingRebalance`, `Empty`, ...
    pub state: String,
    /// `consumer`, `connect`, ...; empty for a group that only commits offsets.
    pub protocol_type: String,
    pub members: usize,
    /// The sum of the lags of the partitions the group committed offsets for.
    pub lag: i64,
}

/// The answer of `GET /v1/groups/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDescription {
    pub group_id: String,
    pub group_type: String,
    pub state: String,
    pub protocol_type: String,
    /// Sorted by member id.
    pub members: Vec<GroupMember>,
    /// The group's committed offsets, sorted by topic and partition.
    pub offsets: Vec<GroupOffset>,
    /// The sum of `offsets[].lag`.
    pub lag: i64,
}

/// One member in [`GroupDescription`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    pub member_id: String,
    pub client_id: String,
    pub client_host: String,
    /// The partitions assigned to the member, by topic; empty while a classic group rebalances
    /// or when its protocol is not Kafka's consumer protocol.
    pub assignment: Vec<TopicAssignment>,
}

/// Partitions of one topic assigned to a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicAssignment {
    pub topic: String,
    pub partitions: Vec<i32>,
}

/// A group's position on one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupOffset {
    pub topic: String,
    pub partition: i32,
    pub committed_offset: i64,
    /// `null` when this broker does not host the partition (a deleted topic).
    pub high_watermark: Option<i64>,
    pub log_end_offset: Option<i64>,
    /// `high_watermark - committed_offset`, at least 0; 0 for a partition not hosted.
    pub lag: i64,
}

/// `GET /v1/groups`.
pub async fn list(Serving(broker): Serving) -> Result<Json<GroupList>, AdminError> {
    // High watermarks are read under each log's lock: a blocking thread, not an async worker.
    let groups = tokio::task::spawn_blocking(move || list_groups(&broker))
        .await
        .map_err(|error| AdminError::Internal(format!("listing groups failed: {error}")))?;
    Ok(Json(GroupList { groups }))
}

/// `GET /v1/groups/{id}`; 404 for a group the coordinator does not know.
pub async fn describe(
    Serving(broker): Serving,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<GroupDescription>, AdminError> {
    let Path(id) = id.map_err(|rejection| AdminError::BadRequest(rejection.body_text()))?;
    let described = tokio::task::spawn_blocking({
        let id = id.clone();
        move || describe_group(&broker, &id)
    })
    .await
    .map_err(|error| AdminError::Internal(format!("describing group {id:?} failed: {error}")))?;
    described.map(Json).ok_or(AdminError::UnknownGroup(id))
}

fn list_groups(broker: &Broker) -> Vec<GroupListing> {
    let view = broker.groups.groups_view();
    let mut lags: BTreeMap<String, i64> = BTreeMap::new();
    for (group, topic, partition, committed) in view.all(now_ms()) {
        let offset = group_offset(&broker.replicas, topic, partition, committed);
        *lags.entry(group).or_default() += offset.lag;
    }
    let mut groups: Vec<GroupListing> = view
        .groups()
        .into_iter()
        .map(|group| GroupListing {
            lag: lags.get(&group.group_id).copied().unwrap_or(0),
            group_id: group.group_id,
            group_type: group.group_type.to_owned(),
            state: group.state,
            protocol_type: group.protocol_type,
            members: group.members.len(),
        })
        .collect();
    groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    groups
}

fn describe_group(broker: &Broker, id: &str) -> Option<GroupDescription> {
    let (group, committed) = broker
        .groups
        .groups_view()
        .group_with_offsets(id, now_ms())?;
    let mut offsets: Vec<GroupOffset> = committed
        .into_iter()
        .map(|(topic, partition, committed)| {
            group_offset(&broker.replicas, topic, partition, committed)
        })
        .collect();
    offsets.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    Some(GroupDescription::new(group, offsets))
}

fn group_offset(
    replicas: &ReplicaManager,
    topic: String,
    partition: i32,
    committed_offset: i64,
) -> GroupOffset {
    let hosted = replicas.get(&topic, partition);
    let high_watermark = hosted.as_ref().map(|p| p.high_watermark());
    let log_end_offset = hosted.as_ref().map(|p| p.log_end_offset());
    GroupOffset {
        lag: high_watermark.map_or(0, |hw| (hw - committed_offset).max(0)),
        topic,
        partition,
        committed_offset,
        high_watermark,
        log_end_offset,
    }
}

impl GroupDescription {
    /// The description of `group` with its committed `offsets`.
    pub fn new(group: GroupSnapshot, offsets: Vec<GroupOffset>) -> GroupDescription {
        let consumer_protocol = group.protocol_type == "consumer";
        let mut members: Vec<GroupMember> = group
            .members
            .into_iter()
            .map(|member| GroupMember::new(member, consumer_protocol))
            .collect();
        members.sort_by(|a, b| a.member_id.cmp(&b.member_id));
        GroupDescription {
            group_id: group.group_id,
            group_type: group.group_type.to_owned(),
            state: group.state,
            protocol_type: group.protocol_type,
            members,
            lag: offsets.iter().map(|o| o.lag).sum(),
            offsets,
        }
    }
}

impl GroupMember {
    fn new(member: MemberSnapshot, consumer_protocol: bool) -> GroupMember {
        let assignment = match &member.classic_assignment {
            Some(bytes) if consumer_protocol => decode_assignment(bytes).unwrap_or_default(),
            Some(_) => Vec::new(),
            None => member
                .assigned
                .into_iter()
                .map(|(topic, partitions)| TopicAssignment { topic, partitions })
                .collect(),
        };
        GroupMember {
            member_id: member.member_id,
            client_id: member.client_id,
            client_host: member.client_host,
            assignment,
        }
    }
}

/// The topics and partitions of a `ConsumerProtocolAssignment` (what a classic consumer group's
/// leader sends in SyncGroup): `int16` version, then `[topic: string, partitions: [int32]]`;
/// the user data after it is not read. `None` when the bytes do not parse (the leader chose
/// them: nothing is trusted). Empty bytes (no assignment yet) are an empty assignment.
pub fn decode_assignment(bytes: &[u8]) -> Option<Vec<TopicAssignment>> {
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let mut rest = bytes;
    let mut take = |n: usize| -> Option<&[u8]> {
        let (head, tail) = (rest.get(..n)?, rest.get(n..)?);
        rest = tail;
        Some(head)
    };
    let version = i16::from_be_bytes(take(2)?.try_into().ok()?);
    if version < 0 {
        return None;
    }
    let topics = usize::try_from(i32::from_be_bytes(take(4)?.try_into().ok()?)).ok()?;
    let mut out = Vec::new();
    for _ in 0..topics {
        let len = usize::try_from(i16::from_be_bytes(take(2)?.try_into().ok()?)).ok()?;
        let topic = String::from_utf8(take(len)?.to_vec()).ok()?;
        let count = usize::try_from(i32::from_be_bytes(take(4)?.try_into().ok()?)).ok()?;
        let mut partitions = Vec::new();
        for _ in 0..count {
            partitions.push(i32::from_be_bytes(take(4)?.try_into().ok()?));
        }
        partitions.sort_unstable();
        out.push(TopicAssignment { topic, partitions });
    }
    out.sort_by(|a, b| a.topic.cmp(&b.topic));
    Some(out)
}
