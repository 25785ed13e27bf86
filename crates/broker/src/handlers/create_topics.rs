//! CreateTopics: new topics with partition counts, replication factor 1 on this node, per-topic
//! configs, and `validate_only`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use strom_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use strom_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use strom_protocol::ResponseError;

use super::sb;
use crate::apis::blocking;
use crate::config;
use crate::controller::NewTopic;
use crate::error::ApiError;
use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: CreateTopicsRequest,
    version: i16,
) -> CreateTopicsResponse {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for topic in &request.topics {
        *counts.entry(topic.name.to_string()).or_default() += 1;
    }
    // Each topic is either refused up front or passed to the controller; `slots` keeps the
    // request's order.
    let mut slots: Vec<(String, Result<usize, ApiError>)> = Vec::new();
    let mut new_topics = Vec::new();
    for topic in &request.topics {
        let name = topic.name.to_string();
        if counts.get(&name).copied().unwrap_or(0) > 1 {
            slots.push((
                name.clone(),
                Err(ApiError::with_message(
                    ResponseError::InvalidRequest,
                    format!("Create topics request contains multiple entries for topic {name}."),
                )),
            ));
            continue;
        }
        if crate::topic_name::is_internal(&name) {
            slots.push((
                name.clone(),
                Err(ApiError::with_message(
                    ResponseError::InvalidRequest,
                    format!("Creation of internal topic {name} is prohibited."),
                )),
            ));
            continue;
        }
        let mut configs = BTreeMap::new();
        let mut null_config = None;
        for c in &topic.configs {
            match &c.value {
                Some(value) => {
                    configs.insert(c.name.to_string(), value.to_string());
                }
                None => null_config = Some(c.name.to_string()),
            }
        }
        if let Some(config_name) = null_config {
            slots.push((
                name,
                Err(ApiError::with_message(
                    ResponseError::InvalidConfig,
                    format!("Null value not supported for topic configs: {config_name}"),
                )),
            ));
            continue;
        }
        let assignments = topic
            .assignments
            .iter()
            .map(|a| {
                (
                    a.partition_index,
                    a.broker_ids.iter().map(|b| b.0).collect(),
                )
            })
            .collect();
        slots.push((name.clone(), Ok(new_topics.len())));
        new_topics.push(NewTopic {
            name,
            num_partitions: topic.num_partitions,
            replication_factor: topic.replication_factor,
            assignments,
            configs,
        });
    }
    let validate_only = request.validate_only;
    let submitted = new_topics.clone();
    let created = blocking(broker, move |broker| {
        broker.controller.create_topics(&submitted, validate_only)
    })
    .await;

    let broker_config = broker.config.read().clone();
    let topics = slots
        .into_iter()
        .map(|(name, slot)| {
            let mut result = CreatableTopicResult::default()
                .with_name(strom_protocol::messages::TopicName(sb(name.clone())))
                .with_num_partitions(-1)
                .with_replication_factor(-1);
            let outcome = slot.and_then(|index| {
                created
                    .get(index)
                    .cloned()
                    .unwrap_or_else(|| Err(ApiError::new(ResponseError::UnknownServerError)))
                    .map(|c| (index, c))
            });
            match outcome {
                Ok((index, created)) => {
                    if version >= 7 {
                        result.topic_id = created.topic_id;
                    }
                    if version >= 5 {
                        result.num_partitions = created.num_partitions;
                        result.replication_factor = created.replication_factor;
                        let overrides = new_topics
                            .get(index)
                            .map(|t| t.configs.clone())
                            .unwrap_or_default();
                        result.configs = Some(
                            config::describe_topic(&overrides, &broker_config, false, false)
                                .into_iter()
                                .map(|c| {
                                    CreatableTopicConfigs::default()
                                        .with_name(sb(c.name))
                                        .with_value(c.value.map(sb))
                                        .with_read_only(c.read_only)
                                        .with_config_source(c.source as i8)
                                        .with_is_sensitive(c.is_sensitive)
                                })
                                .collect(),
                        );
                    }
                }
                Err(error) => {
                    result.error_code = error.code;
                    if version >= 1 {
                        result.error_message = error.message.map(sb);
                    }
                }
            }
            result
        })
        .collect();
    CreateTopicsResponse::default().with_topics(topics)
}
