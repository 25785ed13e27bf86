//! DeleteGroups: remove empty groups and their committed offsets.

use std::sync::Arc;

use strom_protocol::messages::delete_groups_response::DeletableGroupResult;
use strom_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};
use strom_protocol::ResponseError;

use crate::group_coordinator::Answer;
use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: DeleteGroupsRequest,
    _version: i16,
) -> DeleteGroupsResponse {
    let mut results = Vec::with_capacity(request.groups_names.len());
    for group_id in &request.groups_names {
        let code = match broker.groups.shard_for(group_id) {
            Err(error) => error.code,
            Ok(shard) => {
                let ids = vec![group_id.to_string()];
                match broker
                    .groups
                    .run(&shard, |state, _, now| state.delete_groups(&ids, now))
                    .await
                {
                    Answer::Now(outcome) => outcome.first().map(|(_, code)| *code).unwrap_or(0),
                    Answer::Later(_) => ResponseError::UnknownServerError.code(),
                }
            }
        };
        results.push(
            DeletableGroupResult::default()
                .with_group_id(group_id.clone())
                .with_error_code(code),
        );
    }
    DeleteGroupsResponse::default().with_results(results)
}
