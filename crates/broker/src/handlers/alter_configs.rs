//! AlterConfigs: replace the whole set of dynamic configs of a topic or of the brokers.

use std::collections::BTreeMap;
use std::sync::Arc;

use strom_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use strom_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};
use strom_protocol::ResponseError;

use super::describe_configs::{check_broker_name, RESOURCE_BROKER, RESOURCE_TOPIC};
use super::sb;
use crate::apis::blocking;
use crate::error::ApiError;
use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: AlterConfigsRequest,
    _version: i16,
) -> AlterConfigsResponse {
    let validate_only = request.validate_only;
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let name = resource.resource_name.to_string();
        let changes: BTreeMap<String, Option<String>> = resource
            .configs
            .iter()
            .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
            .collect();
        let outcome = apply_changes(
            broker,
            resource.resource_type,
            name,
            changes,
            true,
            validate_only,
        )
        .await;
        let mut response = AlterConfigsResourceResponse::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name);
        if let Err(error) = outcome {
            response.error_code = error.code;
            response.error_message = error.message.map(sb);
        }
        responses.push(response);
    }
    AlterConfigsResponse::default().with_responses(responses)
}

/// Applies changes (`None` removes) to one resource, replacing its whole set of dynamic configs
/// when `replace` is set (AlterConfigs) or editing it (IncrementalAlterConfigs on brokers).
pub async fn apply_changes(
    broker: &Arc<Broker>,
    resource_type: i8,
    name: String,
    changes: BTreeMap<String, Option<String>>,
    replace: bool,
    validate_only: bool,
) -> Result<(), ApiError> {
    match resource_type {
        RESOURCE_TOPIC => {
            blocking(broker, move |broker| {
                broker
                    .controller
                    .alter_topic_configs(&name, &changes, replace, validate_only)
            })
            .await
        }
        RESOURCE_BROKER => {
            check_broker_name(broker, &name)?;
            let node = if name.is_empty() {
                None
            } else {
                Some(broker.node_id)
            };
            blocking(broker, move |broker| {
                broker
                    .controller
                    .alter_broker_configs(node, &changes, replace, validate_only)
            })
            .await
        }
        other => Err(ApiError::with_message(
            ResponseError::InvalidRequest,
            format!("Unsupported resource type {other} for altering configs"),
        )),
    }
}
