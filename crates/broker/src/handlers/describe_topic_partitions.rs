//! DescribeTopicPartitions (KIP-966): topics and their partitions, paged by a cursor.

use std::sync::Arc;

use strom_metadata::TopicImage;
use strom_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use strom_protocol::messages::{
    BrokerId, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, TopicName,
};
use strom_protocol::ResponseError;

use super::sb;
use crate::server::Broker;
use crate::topic_name;

pub fn handle(
    broker: &Arc<Broker>,
    request: DescribeTopicPartitionsRequest,
    _version: i16,
) -> DescribeTopicPartitionsResponse {
    let image = broker.controller.image();
    let mut names: Vec<String> = if request.topics.is_empty() {
        image.topics().map(|t| t.name.clone()).collect()
    } else {
        request.topics.iter().map(|t| t.name.to_string()).collect()
    };
    names.sort();
    names.dedup();
    let (cursor_topic, cursor_partition) = match &request.cursor {
        Some(cursor) => (Some(cursor.topic_name.to_string()), cursor.partition_index),
        None => (None, 0),
    };
    let mut budget = request.response_partition_limit.max(1) as usize;
    let mut topics = Vec::new();
    let mut next_cursor = None;
    for name in names {
        if let Some(start) = &cursor_topic {
            if name < *start {
                continue;
            }
        }
        let Some(topic) = image.topic(&name) else {
            topics.push(
                DescribeTopicPartitionsResponseTopic::default()
                    .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                    .with_name(Some(TopicName(sb(name)))),
            );
            continue;
        };
        let first = if cursor_topic.as_deref() == Some(name.as_str()) {
            cursor_partition
        } else {
            0
        };
        if budget == 0 {
            next_cursor = Some(
                Cursor::default()
                    .with_topic_name(TopicName(sb(name)))
                    .with_partition_index(first),
            );
            break;
        }
        let (response, stopped_at) = describe(topic, first, &mut budget);
        topics.push(response);
        if let Some(partition) = stopped_at {
            next_cursor = Some(
                Cursor::default()
                    .with_topic_name(TopicName(sb(name)))
                    .with_partition_index(partition),
            );
            break;
        }
    }
    DescribeTopicPartitionsResponse::default()
        .with_topics(topics)
        .with_next_cursor(next_cursor)
}

/// Describes partitions from `first` on while the budget lasts; returns where it stopped.
fn describe(
    topic: &TopicImage,
    first: i32,
    budget: &mut usize,
) -> (DescribeTopicPartitionsResponseTopic, Option<i32>) {
    let mut partitions = Vec::new();
    let mut stopped_at = None;
    for p in topic.partitions.values().filter(|p| p.partition >= first) {
        if *budget == 0 {
            stopped_at = Some(p.partition);
            break;
        }
        *budget -= 1;
        partitions.push(
            DescribeTopicPartitionsResponsePartition::default()
                .with_partition_index(p.partition)
                .with_leader_id(BrokerId(p.leader))
                .with_leader_epoch(p.leader_epoch)
                .with_replica_nodes(p.replicas.iter().map(|r| BrokerId(*r)).collect())
                .with_isr_nodes(p.isr.iter().map(|r| BrokerId(*r)).collect())
                .with_eligible_leader_replicas(Some(Vec::new()))
                .with_last_known_elr(Some(Vec::new())),
        );
    }
    let response = DescribeTopicPartitionsResponseTopic::default()
        .with_name(Some(TopicName(sb(topic.name.clone()))))
        .with_topic_id(topic.topic_id)
        .with_is_internal(topic_name::is_internal(&topic.name))
        .with_partitions(partitions);
    (response, stopped_at)
}
