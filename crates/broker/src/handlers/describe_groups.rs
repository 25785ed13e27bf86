//! DescribeGroups: state, protocol and members of groups.

use std::sync::Arc;

use strom_coordinator::DescribedGroup;
use strom_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};

use super::sb;
use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: DescribeGroupsRequest,
    version: i16,
) -> DescribeGroupsResponse {
    let mut groups = Vec::with_capacity(request.groups.len());
    for group_id in &request.groups {
        let described = match broker.groups.shard_for(group_id) {
            Ok(shard) => {
                let mut described = broker
                    .groups
                    .read(&shard, |state| state.describe_group(group_id, version))
                    .await;
                if version < 4 {
                    for member in &mut described.members {
                        member.group_instance_id = None;
                    }
                }
                if version < 6 {
                    described.error_message = None;
                }
                described
            }
            Err(error) => {
                let mut described = DescribedGroup::default()
                    .with_group_id(group_id.clone())
                    .with_error_code(error.code);
                if version >= 6 {
                    described.error_message = error.message.map(sb);
                }
                described
            }
        };
        groups.push(described);
    }
    DescribeGroupsResponse::default().with_groups(groups)
}
