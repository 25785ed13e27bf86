//! Heartbeat: a member of a classic group says it is alive and learns of rebalances.

use std::sync::Arc;

use strom_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: HeartbeatRequest,
    version: i16,
) -> HeartbeatResponse {
    broker
        .groups
        .run_now(&request.group_id, |state, now| {
            state.heartbeat(&request, version, now)
        })
        .await
        .unwrap_or_else(|error| HeartbeatResponse::default().with_error_code(error.code))
}
