//! LeaveGroup: members leave a classic group (one by id, or a batch by id or instance id).

use std::sync::Arc;

use strom_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use crate::group_coordinator::Answer;
use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: LeaveGroupRequest,
    version: i16,
) -> LeaveGroupResponse {
    let shard = match broker.groups.shard_for(&request.group_id) {
        Ok(shard) => shard,
        Err(error) => return LeaveGroupResponse::default().with_error_code(error.code),
    };
    match broker
        .groups
        .run(&shard, |state, _, now| {
            state.leave_group(&request, version, now)
        })
        .await
    {
        Answer::Now(response) => response,
        Answer::Later(_) => LeaveGroupResponse::default()
            .with_error_code(strom_protocol::ResponseError::UnknownServerError.code()),
    }
}
