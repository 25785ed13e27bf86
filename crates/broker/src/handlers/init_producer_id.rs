//! InitProducerId: a producer id and epoch for an idempotent producer (a fresh id every time,
//! as Kafka does) or, with a transactional id, from that id's transaction coordinator.

use std::sync::Arc;

use strom_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::apis::blocking;
use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: InitProducerIdRequest,
    version: i16,
) -> InitProducerIdResponse {
    let result = match request.transactional_id.as_deref() {
        Some(id) if !id.is_empty() => {
            let id = id.to_string();
            let expected = (request.producer_id.0 >= 0)
                .then_some((request.producer_id.0, request.producer_epoch));
            let timeout = request.transaction_timeout_ms;
            crate::txn_coordinator::init_producer_id(broker, id, timeout, expected).await
        }
        _ => blocking(broker, |broker| broker.controller.allocate_producer_id())
            .await
            .map(|id| (id, 0))
            .map_err(|error| error.code),
    };
    match result {
        Ok((producer_id, epoch)) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(producer_id))
            .with_producer_epoch(epoch),
        Err(code) => InitProducerIdResponse::default()
            .with_error_code(super::fenced_for_version(code, version, 4))
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    }
}
