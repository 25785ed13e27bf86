//! DescribeTransactions: the state of transactional ids this broker coordinates. An unknown id
//! gets TRANSACTIONAL_ID_NOT_FOUND.

use std::sync::Arc;

use strom_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use strom_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId, TopicName,
};
use strom_protocol::ResponseError;

use super::sb;
use crate::apis::blocking;
use crate::server::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    request: DescribeTransactionsRequest,
    _version: i16,
) -> DescribeTransactionsResponse {
    let ready = if request.transactional_ids.is_empty() {
        Ok(())
    } else {
        blocking(broker, |broker| broker.txns.ensure_ready(broker)).await
    };
    let mut states = Vec::with_capacity(request.transactional_ids.len());
    for id in request.transactional_ids {
        let described = ready
            .clone()
            .and_then(|()| broker.txns.describe(id.as_str()));
        let state = TransactionState::default()
            .with_transactional_id(id)
            .with_transaction_start_time_ms(-1)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
        states.push(match described {
            Err(error) => state.with_error_code(error.code),
            Ok(None) => state.with_error_code(ResponseError::TransactionalIdNotFound.code()),
            Ok(Some(txn)) => {
                let mut topics: Vec<TopicData> = Vec::new();
                for (topic, partition) in txn.partitions {
                    match topics.iter_mut().find(|t| t.topic.as_str() == topic) {
                        Some(entry) => entry.partitions.push(partition),
                        None => topics.push(
                            TopicData::default()
                                .with_topic(TopicName(sb(topic)))
                                .with_partitions(vec![partition]),
                        ),
                    }
                }
                state
                    .with_transaction_state(sb(txn.state))
                    .with_transaction_timeout_ms(txn.timeout_ms)
                    .with_transaction_start_time_ms(txn.start_timestamp_ms)
                    .with_producer_id(ProducerId(txn.producer_id))
                    .with_producer_epoch(txn.producer_epoch)
                    .with_topics(topics)
            }
        });
    }
    DescribeTransactionsResponse::default().with_transaction_states(states)
}
