//! DescribeProducers: the idempotent and transactional producers each partition tracks (id,
//! epoch, last sequence, last write, open transaction) — what `kafka-transactions.sh
//! describe-producers` and hanging-transaction tooling read.

use std::sync::Arc;

use strom_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use strom_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};
use strom_protocol::ResponseError;

use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: DescribeProducersRequest,
    _version: i16,
) -> DescribeProducersResponse {
    let topics = request
        .topics
        .iter()
        .map(|topic| {
            let partitions = topic
                .partition_indexes
                .iter()
                .map(|&index| {
                    let response = PartitionResponse::default().with_partition_index(index);
                    match broker.replicas.get(topic.name.as_str(), index) {
                        None => {
                            response.with_error_code(ResponseError::UnknownTopicOrPartition.code())
                        }
                        Some(partition) => response.with_active_producers(
                            partition
                                .producers()
                                .into_iter()
                                .map(|p| {
                                    ProducerState::default()
                                        .with_producer_id(ProducerId(p.producer_id))
                                        .with_producer_epoch(i32::from(p.producer_epoch))
                                        .with_last_sequence(p.last_sequence)
                                        .with_last_timestamp(p.last_timestamp)
                                        .with_coordinator_epoch(p.coordinator_epoch)
                                        .with_current_txn_start_offset(p.current_txn_start_offset)
                                })
                                .collect(),
                        ),
                    }
                })
                .collect();
            TopicResponse::default()
                .with_name(topic.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default().with_topics(topics)
}
