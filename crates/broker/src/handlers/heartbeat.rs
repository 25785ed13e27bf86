//! Heartbeat: a member of a classic group says it is alive and learns of rebalances.

use std::sync::Arc;

use strom_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use crate::group_coordinator::Answer;
use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: HeartbeatRequest,
    version: i16,
) -> HeartbeatResponse {
    let shard = match broker.groups.shard_for(&request.group_id) {
        Ok(shard) => shard,
        Err(error) => return HeartbeatResponse::default().with_error_code(error.code),
    };
    match broker
        .groups
        .run(&shard, |state, _, now| {
            state.heartbeat(&request, version, now)
        })
        .await
    {
        Answer::Now(response) => response,
        Answer::Later(_) => HeartbeatResponse::default()
            .with_error_code(strom_protocol::ResponseError::UnknownServerError.code()),
    }
}
