//! LeaveGroup: members leave a classic group (one by id, or a batch by id or instance id).

use std::sync::Arc;

use strom_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: LeaveGroupRequest,
    version: i16,
) -> LeaveGroupResponse {
    broker
        .groups
        .run_now(&request.group_id, |state, now| {
            state.leave_group(&request, version, now)
        })
        .await
        .unwrap_or_else(|error| LeaveGroupResponse::default().with_error_code(error.code))
}
