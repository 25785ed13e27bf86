//! AddOffsetsToTxn: a transactional producer is about to commit a group's offsets in its
//! transaction (TxnOffsetCommit), so the group's `__consumer_offsets` partition joins the
//! transaction and receives its end marker.

use std::sync::Arc;

use strom_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};

use crate::apis::blocking;
use crate::group_coordinator::OFFSETS_TOPIC;
use crate::server::Broker;
use crate::txn_coordinator;

pub async fn handle(
    broker: &Arc<Broker>,
    request: AddOffsetsToTxnRequest,
    version: i16,
) -> AddOffsetsToTxnResponse {
    let group_id = request.group_id.to_string();
    let partition = blocking(broker, move |broker| {
        broker.groups.ensure_ready(broker)?;
        broker.groups.partition_for(&group_id)
    })
    .await;
    let code = match partition {
        Err(error) => error.code,
        Ok(partition) => {
            let id = request.transactional_id.to_string();
            let producer_id = request.producer_id.0;
            let epoch = request.producer_epoch;
            let added =
                txn_coordinator::run(broker, &request.transactional_id, move |state, now, _| {
                    state.add_partitions(
                        &id,
                        producer_id,
                        epoch,
                        &[(OFFSETS_TOPIC.to_string(), partition)],
                        now,
                    )
                })
                .await;
            match added {
                Ok(Ok(())) => 0,
                Ok(Err(code)) => code,
                Err(error) => error.code,
            }
        }
    };
    AddOffsetsToTxnResponse::default().with_error_code(super::fenced_for_version(code, version, 2))
}
