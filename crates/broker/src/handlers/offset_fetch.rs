//! OffsetFetch: a group's committed offsets (v0-7: one group; v8+: several groups).

use std::collections::BTreeMap;
use std::sync::Arc;

use strom_coordinator::FetchedOffset;
use strom_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use strom_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};

use super::sb;
use crate::server::{now_ms, Broker};

type Wanted = Option<Vec<(String, Vec<i32>)>>;

pub async fn handle(
    broker: &Arc<Broker>,
    request: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    // KIP-447: a consumer that must not see offsets of open transactions asks for stable ones.
    let require_stable = version >= 7 && request.require_stable;
    if version >= 8 {
        let mut groups = Vec::with_capacity(request.groups.len());
        for group in &request.groups {
            let response = {
                let wanted: Wanted = group.topics.as_ref().map(|topics| {
                    topics
                        .iter()
                        .map(|t| (t.name.to_string(), t.partition_indexes.clone()))
                        .collect()
                });
                let member = group.member_id.as_ref().map(|m| m.to_string());
                let (error_code, offsets) = fetch(
                    require_stable,
                    broker,
                    &group.group_id,
                    member.as_deref(),
                    group.member_epoch,
                    wanted,
                )
                .await;
                OffsetFetchResponseGroup::default()
                    .with_group_id(group.group_id.clone())
                    .with_error_code(error_code)
                    .with_topics(
                        by_topic(offsets)
                            .into_iter()
                            .map(|(topic, partitions)| {
                                OffsetFetchResponseTopics::default()
                                    .with_name(TopicName(sb(topic)))
                                    .with_partitions(
                                        partitions
                                            .into_iter()
                                            .map(|o| {
                                                OffsetFetchResponsePartitions::default()
                                                    .with_partition_index(o.partition)
                                                    .with_committed_offset(o.committed_offset)
                                                    .with_committed_leader_epoch(
                                                        o.committed_leader_epoch,
                                                    )
                                                    .with_metadata(Some(sb(o.metadata)))
                                                    .with_error_code(o.error_code)
                                            })
                                            .collect(),
                                    )
                            })
                            .collect(),
                    )
            };
            groups.push(response);
        }
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let wanted: Wanted = request.topics.as_ref().map(|topics| {
        topics
            .iter()
            .map(|t| (t.name.to_string(), t.partition_indexes.clone()))
            .collect()
    });
    let (error_code, mut offsets) = fetch(
        require_stable,
        broker,
        &request.group_id,
        None,
        -1,
        wanted.clone(),
    )
    .await;
    if version < 2 && error_code != 0 {
        // v0-1 have no group-level error: each requested partition carries it, as in Kafka.
        offsets = wanted
            .unwrap_or_default()
            .into_iter()
            .flat_map(|(topic, partitions)| {
                partitions.into_iter().map(move |partition| FetchedOffset {
                    topic: topic.clone(),
                    partition,
                    committed_offset: -1,
                    committed_leader_epoch: -1,
                    metadata: String::new(),
                    error_code,
                })
            })
            .collect();
    }
    let topics = by_topic(offsets)
        .into_iter()
        .map(|(topic, partitions)| {
            OffsetFetchResponseTopic::default()
                .with_name(TopicName(sb(topic)))
                .with_partitions(
                    partitions
                        .into_iter()
                        .map(|o| {
                            let mut partition = OffsetFetchResponsePartition::default()
                                .with_partition_index(o.partition)
                                .with_committed_offset(o.committed_offset)
                                .with_metadata(Some(sb(o.metadata)))
                                .with_error_code(o.error_code);
                            if version >= 5 {
                                partition.committed_leader_epoch = o.committed_leader_epoch;
                            }
                            partition
                        })
                        .collect(),
                )
        })
        .collect();
    let mut response = OffsetFetchResponse::default().with_topics(topics);
    if version >= 2 {
        response.error_code = error_code;
    }
    response
}

/// The offsets of one group, or a group-level error. A consumer-protocol member (KIP-848) names
/// itself and its epoch, which the coordinator checks.
async fn fetch(
    require_stable: bool,
    broker: &Broker,
    group_id: &str,
    member_id: Option<&str>,
    member_epoch: i32,
    wanted: Wanted,
) -> (i16, Vec<FetchedOffset>) {
    let shard = match broker.groups.shard_for(group_id) {
        Ok(shard) => shard,
        Err(error) => return (error.code, Vec::new()),
    };
    let now = now_ms();
    let fetched = broker
        .groups
        .read(&shard, |state| {
            state.fetch_offsets_as_member(
                group_id,
                member_id,
                member_epoch,
                wanted.as_deref(),
                require_stable,
                now,
            )
        })
        .await;
    match fetched {
        Ok(offsets) => (0, offsets),
        Err(code) => (code, Vec::new()),
    }
}

fn by_topic(offsets: Vec<FetchedOffset>) -> BTreeMap<String, Vec<FetchedOffset>> {
    let mut topics: BTreeMap<String, Vec<FetchedOffset>> = BTreeMap::new();
    for offset in offsets {
        topics.entry(offset.topic.clone()).or_default().push(offset);
    }
    topics
}
