//! DeleteGroups: remove empty groups and their committed offsets.

use std::sync::Arc;

use strom_protocol::messages::delete_groups_response::DeletableGroupResult;
use strom_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: DeleteGroupsRequest,
    _version: i16,
) -> DeleteGroupsResponse {
    let mut results = Vec::with_capacity(request.groups_names.len());
    for group_id in &request.groups_names {
        let ids = vec![group_id.to_string()];
        let code = match broker
            .groups
            .run_now(group_id, |state, now| state.delete_groups(&ids, now))
            .await
        {
            Ok(outcome) => outcome.first().map(|(_, code)| *code).unwrap_or(0),
            Err(error) => error.code,
        };
        results.push(
            DeletableGroupResult::default()
                .with_group_id(group_id.clone())
                .with_error_code(code),
        );
    }
    DeleteGroupsResponse::default().with_results(results)
}
