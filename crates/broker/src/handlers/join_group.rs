//! JoinGroup: a member joins (or rejoins) a classic group; the answer waits for the rebalance.

use std::sync::Arc;

use strom_coordinator::DelayedResponse;
use strom_protocol::messages::{JoinGroupRequest, JoinGroupResponse};
use strom_protocol::ResponseError;

use crate::apis::RequestContext;
use crate::group_coordinator::{delayed, Answer};
use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: JoinGroupRequest,
    version: i16,
    context: &RequestContext,
) -> JoinGroupResponse {
    let shard = match broker.groups.shard_for(&request.group_id) {
        Ok(shard) => shard,
        Err(error) => return failed(error.code),
    };
    let client_id = context.client_id.clone();
    let client_host = context.client_host();
    let answer = broker
        .groups
        .run(&shard, |state, request_id, now| {
            state.join_group(request_id, &request, version, &client_id, &client_host, now)
        })
        .await;
    match answer {
        Answer::Now(response) => response,
        Answer::Later(receiver) => match delayed(receiver).await {
            Some(DelayedResponse::JoinGroup(response)) => response,
            _ => failed(ResponseError::CoordinatorNotAvailable.code()),
        },
    }
}

fn failed(code: i16) -> JoinGroupResponse {
    JoinGroupResponse::default()
        .with_error_code(code)
        .with_generation_id(-1)
}
