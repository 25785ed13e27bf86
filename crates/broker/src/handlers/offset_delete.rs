//! OffsetDelete: remove committed offsets of topics a group no longer consumes.

use std::sync::Arc;

use strom_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: OffsetDeleteRequest,
    _version: i16,
) -> OffsetDeleteResponse {
    broker
        .groups
        .run_now(&request.group_id, |state, now| {
            state.delete_offsets(&request, now)
        })
        .await
        .unwrap_or_else(|error| OffsetDeleteResponse::default().with_error_code(error.code))
}
