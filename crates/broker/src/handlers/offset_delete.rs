//! OffsetDelete: remove committed offsets of topics a group no longer consumes.

use std::sync::Arc;

use strom_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};
use strom_protocol::ResponseError;

use crate::group_coordinator::Answer;
use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: OffsetDeleteRequest,
    _version: i16,
) -> OffsetDeleteResponse {
    let shard = match broker.groups.shard_for(&request.group_id) {
        Ok(shard) => shard,
        Err(error) => return OffsetDeleteResponse::default().with_error_code(error.code),
    };
    match broker
        .groups
        .run(&shard, |state, _, now| state.delete_offsets(&request, now))
        .await
    {
        Answer::Now(response) => response,
        Answer::Later(_) => OffsetDeleteResponse::default()
            .with_error_code(ResponseError::UnknownServerError.code()),
    }
}
