//! Metadata: brokers, the controller, and topics with their partitions' leaders and epochs.
//! Topics a client names that do not exist are created when auto-creation is allowed.

use std::sync::Arc;

use strom_metadata::{MetadataImage, TopicImage, Uuid};
use strom_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use strom_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use strom_protocol::ResponseError;

use super::sb;
use crate::apis::blocking;
use crate::server::Broker;
use crate::topic_name;

pub async fn handle(
    broker: &Arc<Broker>,
    request: MetadataRequest,
    version: i16,
) -> MetadataResponse {
    let auto_create_allowed = (version < 4 || request.allow_auto_topic_creation)
        && broker.config.read().auto_create_topics_enable();
    // v0 answers an empty list with every topic; later versions use null for that.
    let wanted = match request.topics {
        None => None,
        Some(topics) if topics.is_empty() && version == 0 => None,
        Some(topics) => Some(topics),
    };
    let mut image = broker.controller.image();
    let mut topics = Vec::new();
    match wanted {
        None => {
            topics.extend(image.topics().map(|t| topic_response(t, version)));
        }
        Some(requested) => {
            let missing: Vec<String> = requested
                .iter()
                .filter_map(|t| t.name.as_ref().map(|n| n.to_string()))
                // Internal topics are created by their coordinators, with their own settings.
                .filter(|name| {
                    image.topic(name).is_none()
                        && topic_name::validate(name).is_ok()
                        && !topic_name::is_internal(name)
                })
                .collect();
            if auto_create_allowed && !missing.is_empty() {
                let names = missing.clone();
                let errors = blocking(broker, move |broker| {
                    names
                        .iter()
                        .filter_map(|name| {
                            broker
                                .controller
                                .ensure_topic(name)
                                .err()
                                .map(|e| (name.clone(), e))
                        })
                        .collect::<Vec<_>>()
                })
                .await;
                for (name, error) in errors {
                    tracing::warn!(topic = %name, ?error, "auto-creation failed");
                }
                image = broker.controller.image();
            }
            for topic in requested {
                topics.push(requested_topic(
                    &image,
                    topic.name.as_deref().map(|s| s.as_str()),
                    topic.topic_id,
                    version,
                ));
            }
        }
    }
    let mut response = MetadataResponse::default()
        .with_brokers(vec![MetadataResponseBroker::default()
            .with_node_id(BrokerId(broker.node_id))
            .with_host(sb(broker.advertised_host.clone()))
            .with_port(broker.advertised_port)])
        .with_controller_id(BrokerId(broker.node_id))
        .with_topics(topics);
    if version >= 2 {
        response.cluster_id = Some(sb(broker.cluster_id.clone()));
    }
    response
}

fn requested_topic(
    image: &MetadataImage,
    name: Option<&str>,
    topic_id: Uuid,
    version: i16,
) -> MetadataResponseTopic {
    match name {
        Some(name) => {
            if let Err(message) = topic_name::validate(name) {
                tracing::debug!(topic = name, %message, "metadata for an illegal topic name");
                return error_topic(
                    Some(name),
                    Uuid::nil(),
                    ResponseError::InvalidTopicException,
                    version,
                );
            }
            match image.topic(name) {
                Some(topic) => topic_response(topic, version),
                None => error_topic(
                    Some(name),
                    Uuid::nil(),
                    ResponseError::UnknownTopicOrPartition,
                    version,
                ),
            }
        }
        None => match image.topic_by_id(&topic_id) {
            Some(topic) => topic_response(topic, version),
            None => error_topic(None, topic_id, ResponseError::UnknownTopicId, version),
        },
    }
}

fn error_topic(
    name: Option<&str>,
    topic_id: Uuid,
    error: ResponseError,
    version: i16,
) -> MetadataResponseTopic {
    let mut topic = MetadataResponseTopic::default()
        .with_error_code(error.code())
        .with_name(name.map(|n| TopicName(sb(n))));
    if version >= 10 {
        topic.topic_id = topic_id;
    }
    topic
}

fn topic_response(topic: &TopicImage, version: i16) -> MetadataResponseTopic {
    let partitions = topic
        .partitions
        .values()
        .map(|p| {
            let mut partition = MetadataResponsePartition::default()
                .with_error_code(0)
                .with_partition_index(p.partition)
                .with_leader_id(BrokerId(p.leader))
                .with_replica_nodes(p.replicas.iter().map(|r| BrokerId(*r)).collect())
                .with_isr_nodes(p.isr.iter().map(|r| BrokerId(*r)).collect());
            if version >= 7 {
                partition.leader_epoch = p.leader_epoch;
            }
            partition
        })
        .collect();
    let mut response = MetadataResponseTopic::default()
        .with_error_code(0)
        .with_name(Some(TopicName(sb(topic.name.clone()))))
        .with_is_internal(topic_name::is_internal(&topic.name))
        .with_partitions(partitions);
    if version >= 10 {
        response.topic_id = topic.topic_id;
    }
    response
}
