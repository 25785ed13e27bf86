//! ConsumerGroupDescribe (KIP-848): members, epochs and assignments of consumer-protocol groups.

use std::sync::Arc;

use strom_coordinator::DescribedConsumerGroup;
use strom_protocol::messages::{ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse};

use super::consumer_group_heartbeat::topics_image;
use super::sb;
use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: ConsumerGroupDescribeRequest,
    _version: i16,
) -> ConsumerGroupDescribeResponse {
    let topics = topics_image(broker);
    let mut groups = Vec::with_capacity(request.group_ids.len());
    for group_id in &request.group_ids {
        let described = match broker.groups.shard_for(group_id) {
            Ok(shard) => {
                broker
                    .groups
                    .read(&shard, |state| {
                        state.consumer_group_describe(
                            group_id,
                            &topics,
                            request.include_authorized_operations,
                        )
                    })
                    .await
            }
            Err(error) => DescribedConsumerGroup::default()
                .with_group_id(group_id.clone())
                .with_error_code(error.code)
                .with_error_message(error.message.map(sb)),
        };
        groups.push(described);
    }
    ConsumerGroupDescribeResponse::default().with_groups(groups)
}
