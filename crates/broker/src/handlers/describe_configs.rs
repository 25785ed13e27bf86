//! DescribeConfigs: a topic's or the broker's configs with values, sources, synonyms and docs.

use std::sync::Arc;

use strom_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use strom_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use strom_protocol::ResponseError;

use super::sb;
use crate::config::{self, DescribedConfig};
use crate::error::ApiError;
use crate::server::Broker;

/// Kafka's ConfigResource types.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
pub const RESOURCE_BROKER_LOGGER: i8 = 8;

pub fn handle(
    broker: &Arc<Broker>,
    request: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    let image = broker.controller.image();
    let broker_config = broker.config.read().clone();
    let include_synonyms = version >= 1 && request.include_synonyms;
    let include_docs = version >= 3 && request.include_documentation;
    let results = request
        .resources
        .into_iter()
        .map(|resource| {
            let name = resource.resource_name.to_string();
            let described: Result<Vec<DescribedConfig>, ApiError> = match resource.resource_type {
                RESOURCE_TOPIC => match image.topic(&name) {
                    Some(_) => Ok(config::describe_topic(
                        &image.topic_configs(&name),
                        &broker_config,
                        include_synonyms,
                        include_docs,
                    )),
                    None => Err(ApiError::with_message(
                        ResponseError::UnknownTopicOrPartition,
                        format!("Topic {name} does not exist."),
                    )),
                },
                // "" names the cluster-wide defaults; this node's id names the broker itself.
                RESOURCE_BROKER if name.is_empty() => Ok(config::describe_broker_defaults(
                    &broker_config,
                    include_synonyms,
                    include_docs,
                )),
                RESOURCE_BROKER => check_broker_name(broker, &name).map(|_| {
                    config::describe_broker(&broker_config, include_synonyms, include_docs)
                }),
                RESOURCE_BROKER_LOGGER => check_broker_name(broker, &name).map(|_| Vec::new()),
                other => Err(ApiError::with_message(
                    ResponseError::InvalidRequest,
                    format!("Unsupported resource type {other}"),
                )),
            };
            let mut result = DescribeConfigsResult::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name);
            match described {
                Ok(configs) => {
                    let keys = resource.configuration_keys;
                    result.configs = configs
                        .into_iter()
                        .filter(|c| {
                            keys.as_ref()
                                .is_none_or(|keys| keys.iter().any(|k| k.as_str() == c.name))
                        })
                        .map(|c| to_wire(c, version, include_synonyms, include_docs))
                        .collect();
                }
                Err(error) => {
                    result.error_code = error.code;
                    result.error_message = error.message.map(sb);
                }
            }
            result
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

/// A broker resource is named by this node's id, or "" for the cluster-wide default.
pub fn check_broker_name(broker: &Broker, name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name == broker.node_id.to_string() {
        Ok(())
    } else {
        Err(ApiError::with_message(
            ResponseError::InvalidRequest,
            format!(
                "Unexpected broker id, expected {} or empty string, but received {name}",
                broker.node_id
            ),
        ))
    }
}

fn to_wire(
    c: DescribedConfig,
    version: i16,
    include_synonyms: bool,
    include_docs: bool,
) -> DescribeConfigsResourceResult {
    let mut result = DescribeConfigsResourceResult::default()
        .with_name(sb(c.name))
        .with_value(c.value.map(sb))
        .with_read_only(c.read_only)
        .with_is_sensitive(c.is_sensitive)
        .with_config_source(c.source as i8);
    if include_synonyms {
        result.synonyms = c
            .synonyms
            .into_iter()
            .map(|s| {
                DescribeConfigsSynonym::default()
                    .with_name(sb(s.name))
                    .with_value(s.value.map(sb))
                    .with_source(s.source as i8)
            })
            .collect();
    }
    if version >= 3 {
        result.config_type = c.config_type;
        if include_docs {
            result.documentation = c.documentation.map(sb);
        }
    }
    result
}
