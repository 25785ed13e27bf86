//! FindCoordinator: every group's and every transactional id's coordinator is this node (it
//! hosts every partition of `__consumer_offsets` and `__transaction_state`). The first request
//! of each kind creates and loads that topic.

use std::sync::Arc;

use strom_protocol::messages::find_coordinator_response::Coordinator;
use strom_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use strom_protocol::ResponseError;

use super::sb;
use crate::apis::blocking;
use crate::error::ApiError;
use crate::server::Broker;

/// FindCoordinator key types.
const KEY_TYPE_GROUP: i8 = 0;
const KEY_TYPE_TRANSACTION: i8 = 1;

pub async fn handle(
    broker: &Arc<Broker>,
    request: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let keys: Vec<String> = if version >= 4 {
        request
            .coordinator_keys
            .iter()
            .map(|k| k.to_string())
            .collect()
    } else {
        vec![request.key.to_string()]
    };
    let key_type = if version >= 1 {
        request.key_type
    } else {
        KEY_TYPE_GROUP
    };
    let ready = if keys.iter().all(|k| k.is_empty()) {
        Ok(())
    } else if key_type == KEY_TYPE_GROUP {
        blocking(broker, |broker| broker.groups.ensure_ready(broker)).await
    } else if key_type == KEY_TYPE_TRANSACTION {
        blocking(broker, |broker| broker.txns.ensure_ready(broker)).await
    } else {
        Ok(())
    };
    let results: Vec<Result<(), ApiError>> = keys
        .iter()
        .map(|key| match key_type {
            KEY_TYPE_GROUP | KEY_TYPE_TRANSACTION if key.is_empty() => {
                Err(ApiError::new(ResponseError::InvalidRequest))
            }
            KEY_TYPE_GROUP | KEY_TYPE_TRANSACTION => ready.clone(),
            _ => Err(ApiError::with_message(
                ResponseError::InvalidRequest,
                format!("unknown coordinator key type {key_type}"),
            )),
        })
        .collect();
    let host = sb(broker.advertised_host.clone());
    if version >= 4 {
        let coordinators = keys
            .into_iter()
            .zip(results)
            .map(|(key, result)| {
                let coordinator = Coordinator::default().with_key(sb(key));
                match result {
                    Ok(()) => coordinator
                        .with_node_id(BrokerId(broker.node_id))
                        .with_host(host.clone())
                        .with_port(broker.advertised_port),
                    Err(error) => coordinator
                        .with_node_id(BrokerId(-1))
                        .with_port(-1)
                        .with_error_code(error.code)
                        .with_error_message(error.message.map(sb)),
                }
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let mut response = FindCoordinatorResponse::default();
    match results.into_iter().next().unwrap_or(Ok(())) {
        Ok(()) => {
            response.node_id = BrokerId(broker.node_id);
            response.host = host;
            response.port = broker.advertised_port;
        }
        Err(error) => {
            response.error_code = error.code;
            response.node_id = BrokerId(-1);
            response.port = -1;
            if version >= 1 {
                response.error_message = error.message.map(sb);
            }
        }
    }
    response
}
