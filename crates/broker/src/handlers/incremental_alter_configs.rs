//! IncrementalAlterConfigs: set, delete, append to or subtract from individual configs.
//!
//! Topic configs are edited by the controller under its lock with
//! [`crate::config::apply_incremental`] (APPEND/SUBTRACT only on list configs, starting from the
//! override or the default, as Kafka). Broker configs take SET and DELETE, and APPEND/SUBTRACT on
//! their current value.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use strom_protocol::messages::incremental_alter_configs_request::AlterableConfig;
use strom_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use strom_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};
use strom_protocol::ResponseError;

use super::alter_configs::apply_changes;
use super::describe_configs::RESOURCE_TOPIC;
use super::sb;
use crate::apis::blocking;
use crate::config::AlterOp;
use crate::error::ApiError;
use crate::server::Broker;

/// One requested operation: config name, operation, operand.
type Op = (String, AlterOp, Option<String>);

pub async fn handle(
    broker: &Arc<Broker>,
    request: IncrementalAlterConfigsRequest,
    _version: i16,
) -> IncrementalAlterConfigsResponse {
    let validate_only = request.validate_only;
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let name = resource.resource_name.to_string();
        let outcome = match operations(&resource.configs) {
            Err(error) => Err(error),
            Ok(ops) if resource.resource_type == RESOURCE_TOPIC => {
                blocking(broker, move |broker| {
                    broker
                        .controller
                        .incremental_alter_topic_configs(&name, &ops, validate_only)
                })
                .await
            }
            Ok(ops) => {
                let changes = broker_changes(broker, &ops);
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

/// The request's operations; a config named twice or an unknown operation is INVALID_REQUEST.
fn operations(configs: &[AlterableConfig]) -> Result<Vec<Op>, ApiError> {
    let mut seen = HashSet::new();
    configs
        .iter()
        .map(|config| {
            let key = config.name.to_string();
            if !seen.insert(key.clone()) {
                return Err(ApiError::with_message(
                    ResponseError::InvalidRequest,
                    format!("Error due to duplicate config keys: {key}"),
                ));
            }
            let op = AlterOp::from_code(config.config_operation).ok_or_else(|| {
                ApiError::with_message(
                    ResponseError::InvalidRequest,
                    format!("Unknown config operation {}", config.config_operation),
                )
            })?;
            Ok((key, op, config.value.as_ref().map(|v| v.to_string())))
        })
        .collect()
}

/// Broker operations as new values (`None` deletes); list operations start from the value the
/// broker has now.
fn broker_changes(broker: &Broker, ops: &[Op]) -> BTreeMap<String, Option<String>> {
    let described = crate::config::describe_broker(&broker.config.read(), false, false);
    ops.iter()
        .map(|(key, op, value)| {
            let new_value = match op {
                AlterOp::Set => value.clone(),
                AlterOp::Delete => None,
                AlterOp::Append | AlterOp::Subtract => {
                    let current = described
                        .iter()
                        .find(|c| &c.name == key)
                        .and_then(|c| c.value.clone())
                        .unwrap_or_default();
                    let mut items = crate::config::value::parse_list(&current);
                    let operand =
                        crate::config::value::parse_list(value.as_deref().unwrap_or_default());
                    if *op == AlterOp::Append {
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
            };
            (key.clone(), new_value)
        })
        .collect()
}
