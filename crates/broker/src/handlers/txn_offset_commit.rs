//! TxnOffsetCommit: a transactional producer commits a group's offsets inside its transaction.
//! The offsets are written to the group's `__consumer_offsets` partition as a transactional
//! batch and stay pending until the transaction's marker commits (applies) or aborts (drops)
//! them. The partition must already be in the producer's ongoing transaction
//! (AddOffsetsToTxn); that is checked under the group shard's lock, so no marker can land
//! between the check and the write.

use std::sync::Arc;

use strom_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use strom_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};
use strom_protocol::ResponseError;

use crate::group_coordinator::{Answer, OFFSETS_TOPIC};
use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    mut request: TxnOffsetCommitRequest,
    version: i16,
) -> TxnOffsetCommitResponse {
    let image = broker.controller.image();
    let mut refused: Vec<TxnOffsetCommitResponseTopic> = Vec::new();
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
            refused.push(topic_result(
                &topic.name,
                unknown.iter().map(|p| p.partition_index),
                ResponseError::UnknownTopicOrPartition.code(),
            ));
        }
    }
    request.topics.retain(|t| !t.partitions.is_empty());
    let shard = match broker.groups.shard_for(&request.group_id) {
        Ok(shard) => shard,
        Err(error) => return all_failed(&request, refused, error.code),
    };
    let producer_id = request.producer_id.0;
    let epoch = request.producer_epoch;
    let index = shard.partition.index;
    let txns = broker.clone();
    let outcome = broker
        .groups
        .run_as(&shard, Some((producer_id, epoch)), |state, _, now| {
            if !txns
                .txns
                .is_in_ongoing_txn(producer_id, epoch, OFFSETS_TOPIC, index)
            {
                return strom_coordinator::Outcome::now(all_failed(
                    &request,
                    Vec::new(),
                    ResponseError::InvalidTxnState.code(),
                ));
            }
            state.txn_commit_offsets(&request, version, now)
        })
        .await;
    let mut response = match outcome {
        Answer::Now(response) => response,
        Answer::Later(_) => {
            return all_failed(&request, refused, ResponseError::UnknownServerError.code())
        }
    };
    response.topics.extend(refused);
    response
}

fn topic_result(
    name: &strom_protocol::messages::TopicName,
    partitions: impl Iterator<Item = i32>,
    code: i16,
) -> TxnOffsetCommitResponseTopic {
    TxnOffsetCommitResponseTopic::default()
        .with_name(name.clone())
        .with_partitions(
            partitions
                .map(|index| {
                    TxnOffsetCommitResponsePartition::default()
                        .with_partition_index(index)
                        .with_error_code(code)
                })
                .collect(),
        )
}

fn all_failed(
    request: &TxnOffsetCommitRequest,
    refused: Vec<TxnOffsetCommitResponseTopic>,
    code: i16,
) -> TxnOffsetCommitResponse {
    let topics = request
        .topics
        .iter()
        .map(|t| {
            topic_result(
                &t.name,
                t.partitions.iter().map(|p| p.partition_index),
                code,
            )
        })
        .chain(refused)
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}
