//! IncrementalAlterConfigs: set, delete, append to or subtract from individual configs.

use std::collections::BTreeMap;
use std::sync::Arc;

use strom_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use strom_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};
use strom_protocol::ResponseError;

use super::alter_configs::apply_changes;
use super::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC};
use super::sb;
use crate::error::ApiError;
use crate::server::Broker;

const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

pub async fn handle(
    broker: &Arc<Broker>,
    request: IncrementalAlterConfigsRequest,
    _version: i16,
) -> IncrementalAlterConfigsResponse {
    let validate_only = request.validate_only;
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let name = resource.resource_name.to_string();
        let outcome = match changes(broker, resource.resource_type, &name, &resource.configs) {
            Ok(changes) => {
                apply_changes(
                    broker,
                    resource.resource_type,
                    name,
                    changes,
                    false,
                    validate_only,
                )
                .await
            }
            Err(error) => Err(error),
        };
        let mut response = AlterConfigsResourceResponse::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name);
        if let Err(error) = outcome {
            response.error_code = error.code;
            response.error_message = error.message.map(sb);
        }
        responses.push(response);
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

/// Turns the operations into new values (`None` deletes), reading current values for list
/// operations.
fn changes(
    broker: &Broker,
    resource_type: i8,
    name: &str,
    configs: &[strom_protocol::messages::incremental_alter_configs_request::AlterableConfig],
) -> Result<BTreeMap<String, Option<String>>, ApiError> {
    let mut seen = std::collections::HashSet::new();
    let mut out = BTreeMap::new();
    for config in configs {
        let key = config.name.to_string();
        if !seen.insert(key.clone()) {
            return Err(ApiError::with_message(
                ResponseError::InvalidRequest,
                format!("Error due to duplicate config keys: {key}"),
            ));
        }
        let value = config.value.as_ref().map(|v| v.to_string());
        let new_value = match config.config_operation {
            OP_SET => value,
            OP_DELETE => None,
            OP_APPEND | OP_SUBTRACT => {
                let current = current_value(broker, resource_type, name, &key);
                let mut items: Vec<String> = current
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                let operand: Vec<String> = value
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                if config.config_operation == OP_APPEND {
                    for item in operand {
                        if !items.contains(&item) {
                            items.push(item);
                        }
                    }
                } else {
                    items.retain(|item| !operand.contains(item));
                }
                Some(items.join(","))
            }
            other => {
                return Err(ApiError::with_message(
                    ResponseError::InvalidRequest,
                    format!("Unknown config operation {other}"),
                ))
            }
        };
        out.insert(key, new_value);
    }
    Ok(out)
}

fn current_value(broker: &Broker, resource_type: i8, name: &str, key: &str) -> String {
    let broker_config = broker.config.read();
    let described = match resource_type {
        RESOURCE_TOPIC => crate::config::describe_topic(
            &broker.controller.image().topic_configs(name),
            &broker_config,
            false,
            false,
        ),
        RESOURCE_BROKER => crate::config::describe_broker(&broker_config, false, false),
        _ => Vec::new(),
    };
    described
        .into_iter()
        .find(|c| c.name == key)
        .and_then(|c| c.value)
        .unwrap_or_default()
}
