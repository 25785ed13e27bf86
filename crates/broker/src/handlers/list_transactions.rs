//! ListTransactions: the transactional ids this broker coordinates, filtered by state, producer
//! id and (v1+) how long they have been running. Unknown state names are echoed back.

use std::sync::Arc;

use strom_protocol::messages::list_transactions_response::TransactionState;
use strom_protocol::messages::{
    ListTransactionsRequest, ListTransactionsResponse, ProducerId, TransactionalId,
};

use super::sb;
use crate::server::Broker;

/// Kafka's transaction state names.
const STATES: &[&str] = &[
    "Empty",
    "Ongoing",
    "PrepareCommit",
    "PrepareAbort",
    "CompleteCommit",
    "CompleteAbort",
    "Dead",
    "PrepareEpochFence",
];

pub async fn handle(
    broker: &Arc<Broker>,
    request: ListTransactionsRequest,
    version: i16,
) -> ListTransactionsResponse {
    let states: Vec<String> = request
        .state_filters
        .iter()
        .map(|s| s.to_string())
        .collect();
    let unknown: Vec<_> = states
        .iter()
        .filter(|s| !STATES.contains(&s.as_str()))
        .map(|s| sb(s.clone()))
        .collect();
    let producer_ids: Vec<i64> = request.producer_id_filters.iter().map(|p| p.0).collect();
    let duration = if version >= 1 {
        request.duration_filter
    } else {
        -1
    };
    let pattern = if version >= 2 {
        match request
            .transactional_id_pattern
            .as_deref()
            .map(regex::Regex::new)
        {
            Some(Ok(re)) => Some(re),
            Some(Err(_)) => {
                return ListTransactionsResponse::default().with_error_code(
                    strom_protocol::ResponseError::InvalidRegularExpression.code(),
                );
            }
            None => None,
        }
    } else {
        None
    };
    let listed = broker.txns.list(&states, &producer_ids, duration);
    let transaction_states = listed
        .into_iter()
        .filter(|t| {
            pattern
                .as_ref()
                .is_none_or(|re| re.is_match(&t.transactional_id))
        })
        .map(|t| {
            TransactionState::default()
                .with_transactional_id(TransactionalId(sb(t.transactional_id)))
                .with_producer_id(ProducerId(t.producer_id))
                .with_transaction_state(sb(t.state))
        })
        .collect();
    ListTransactionsResponse::default()
        .with_unknown_state_filters(unknown)
        .with_transaction_states(transaction_states)
}
