//! CreatePartitions: raise a topic's partition count.

use std::collections::HashMap;
use std::sync::Arc;

use strom_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use strom_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use strom_protocol::ResponseError;

use super::sb;
use crate::apis::blocking;
use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: CreatePartitionsRequest,
    _version: i16,
) -> CreatePartitionsResponse {
    let validate_only = request.validate_only;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for topic in &request.topics {
        *counts.entry(topic.name.to_string()).or_default() += 1;
    }
    let mut results = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let name = topic.name.to_string();
        if counts.get(&name).copied().unwrap_or(0) > 1 {
            // Kafka refuses a topic named twice in one request.
            results.push(
                CreatePartitionsTopicResult::default()
                    .with_name(topic.name)
                    .with_error_code(ResponseError::InvalidRequest.code())
                    .with_error_message(Some(sb("Duplicate topic in request."))),
            );
            continue;
        }
        let assignments = topic.assignments.map(|a| {
            a.into_iter()
                .map(|x| x.broker_ids.iter().map(|b| b.0).collect())
                .collect()
        });
        let count = topic.count;
        let outcome = blocking(broker, move |broker| {
            broker
                .controller
                .create_partitions(&name, count, assignments, validate_only)
        })
        .await;
        let mut result = CreatePartitionsTopicResult::default().with_name(topic.name);
        if let Err(error) = outcome {
            result.error_code = error.code;
            result.error_message = error.message.map(sb);
        }
        results.push(result);
    }
    CreatePartitionsResponse::default().with_results(results)
}
