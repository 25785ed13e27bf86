//! EndTxn: commit or abort the producer's transaction. The answer comes once the decision
//! (PrepareCommit/PrepareAbort) is durable; the markers follow in the background, and the
//! producer's next transaction waits (CONCURRENT_TRANSACTIONS) until they are written.

use std::sync::Arc;

use strom_protocol::messages::{EndTxnRequest, EndTxnResponse};

use crate::server::Broker;
use crate::txn_coordinator;

pub async fn handle(broker: &Arc<Broker>, request: EndTxnRequest, version: i16) -> EndTxnResponse {
    let id = request.transactional_id.to_string();
    let producer_id = request.producer_id.0;
    let epoch = request.producer_epoch;
    let commit = request.committed;
    let ended = txn_coordinator::run(broker, &request.transactional_id, move |state, now, _| {
        state.end_txn(&id, producer_id, epoch, commit, now)
    })
    .await;
    let code = match ended {
        Ok(Ok(())) => 0,
        Ok(Err(code)) => code,
        Err(error) => error.code,
    };
    EndTxnResponse::default().with_error_code(super::fenced_for_version(code, version, 2))
}
