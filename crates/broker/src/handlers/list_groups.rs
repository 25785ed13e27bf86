//! ListGroups: every group of every shard, filtered by state (v4+) and type (v5+).

use std::sync::Arc;

use strom_protocol::messages::{ListGroupsRequest, ListGroupsResponse};

use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: ListGroupsRequest,
    version: i16,
) -> ListGroupsResponse {
    let states: Vec<String> = request
        .states_filter
        .iter()
        .map(|s| s.to_string())
        .collect();
    let types: Vec<String> = request.types_filter.iter().map(|s| s.to_string()).collect();
    let mut groups = Vec::new();
    for shard in broker.groups.shards() {
        groups.extend(
            broker
                .groups
                .read(&shard, |state| state.list_groups(&states, &types))
                .await,
        );
    }
    for group in &mut groups {
        if version < 4 {
            group.group_state = Default::default();
        }
        if version < 5 {
            group.group_type = Default::default();
        }
    }
    ListGroupsResponse::default().with_groups(groups)
}
