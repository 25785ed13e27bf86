//! ConsumerGroupHeartbeat (KIP-848): members of consumer-protocol groups join, heartbeat,
//! acknowledge revocations and leave; the broker computes their assignments.

use std::sync::Arc;

use strom_coordinator::TopicsImage;
use strom_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};

use super::sb;
use crate::apis::RequestContext;
use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: ConsumerGroupHeartbeatRequest,
    version: i16,
    context: &RequestContext,
) -> ConsumerGroupHeartbeatResponse {
    let topics = topics_image(broker);
    let client_id = context.client_id.clone();
    let client_host = context.client_host();
    broker
        .groups
        .run_now(&request.group_id, |state, now| {
            state.consumer_group_heartbeat(
                &request,
                version,
                &client_id,
                &client_host,
                &topics,
                now,
            )
        })
        .await
        .unwrap_or_else(|error| {
            ConsumerGroupHeartbeatResponse::default()
                .with_error_code(error.code)
                .with_error_message(error.message.map(sb))
        })
}

/// Topic names, ids and partition counts as the metadata image has them now.
pub fn topics_image(broker: &Broker) -> TopicsImage {
    let image = broker.controller.image();
    TopicsImage::new(
        image
            .topics()
            .map(|t| (t.name.clone(), t.topic_id, t.partitions.len() as i32)),
    )
}
