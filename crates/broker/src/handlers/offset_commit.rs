//! OffsetCommit: store a group's consumed positions. Partitions of unknown topics are refused
//! with UNKNOWN_TOPIC_OR_PARTITION; the rest go to the group's shard.

use std::sync::Arc;

use strom_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use strom_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};
use strom_protocol::ResponseError;

use crate::group_coordinator::Answer;
use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    mut request: OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    let image = broker.controller.image();
    let mut refused: Vec<OffsetCommitResponseTopic> = Vec::new();
    for topic in &mut request.topics {
        let partitions = image
            .topic(topic.name.as_str())
            .map(|t| t.partitions.len() as i32);
        let (known, unknown): (Vec<_>, Vec<_>) = std::mem::take(&mut topic.partitions)
            .into_iter()
            .partition(|p| {
                partitions.is_some_and(|n| p.partition_index >= 0 && p.partition_index < n)
            });
        topic.partitions = known;
        if !unknown.is_empty() {
            refused.push(
                OffsetCommitResponseTopic::default()
                    .with_name(topic.name.clone())
                    .with_partitions(
                        unknown
                            .iter()
                            .map(|p| {
                                OffsetCommitResponsePartition::default()
                                    .with_partition_index(p.partition_index)
                                    .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                            })
                            .collect(),
                    ),
            );
        }
    }
    request.topics.retain(|t| !t.partitions.is_empty());
    let shard = match broker.groups.shard_for(&request.group_id) {
        Ok(shard) => shard,
        Err(error) => return all_failed(&request, refused, error.code),
    };
    let mut response = match broker
        .groups
        .run(&shard, |state, _, now| {
            state.commit_offsets(&request, version, now)
        })
        .await
    {
        Answer::Now(response) => response,
        Answer::Later(_) => {
            return all_failed(&request, refused, ResponseError::UnknownServerError.code())
        }
    };
    response.topics.extend(refused);
    response
}

fn all_failed(
    request: &OffsetCommitRequest,
    mut refused: Vec<OffsetCommitResponseTopic>,
    code: i16,
) -> OffsetCommitResponse {
    let mut topics: Vec<OffsetCommitResponseTopic> = request
        .topics
        .iter()
        .map(|t| {
            OffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            OffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(code)
                        })
                        .collect(),
                )
        })
        .collect();
    topics.append(&mut refused);
    OffsetCommitResponse::default().with_topics(topics)
}
