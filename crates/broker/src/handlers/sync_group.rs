//! SyncGroup: the leader hands in the assignment; every member receives its own part.

use std::sync::Arc;

use strom_coordinator::DelayedResponse;
use strom_protocol::messages::{SyncGroupRequest, SyncGroupResponse};
use strom_protocol::ResponseError;

use crate::group_coordinator::{delayed, Answer};
use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: SyncGroupRequest,
    version: i16,
) -> SyncGroupResponse {
    let shard = match broker.groups.shard_for(&request.group_id) {
        Ok(shard) => shard,
        Err(error) => return SyncGroupResponse::default().with_error_code(error.code),
    };
    let answer = broker
        .groups
        .run(&shard, |state, request_id, now| {
            state.sync_group(request_id, &request, version, now)
        })
        .await;
    match answer {
        Answer::Now(response) => response,
        Answer::Later(receiver) => match delayed(receiver).await {
            Some(DelayedResponse::SyncGroup(response)) => response,
            _ => SyncGroupResponse::default()
                .with_error_code(ResponseError::CoordinatorNotAvailable.code()),
        },
    }
}
