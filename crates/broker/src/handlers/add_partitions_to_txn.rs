//! AddPartitionsToTxn: a transactional producer names the partitions it is about to write
//! (v0-v3, one transaction), or a broker batches several transactions and may only verify
//! (v4, KIP-890). Partitions of unknown topics fail with UNKNOWN_TOPIC_OR_PARTITION and the
//! others of that transaction with OPERATION_NOT_ATTEMPTED, as Kafka answers.

use std::sync::Arc;

use strom_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use strom_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use strom_protocol::messages::{AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, TopicName};
use strom_protocol::ResponseError;

use crate::server::Broker;
use crate::txn_coordinator;

pub async fn handle(
    broker: &Arc<Broker>,
    request: AddPartitionsToTxnRequest,
    version: i16,
) -> AddPartitionsToTxnResponse {
    if version <= 3 {
        let results = add(
            broker,
            request.v3_and_below_transactional_id.to_string(),
            request.v3_and_below_producer_id.0,
            request.v3_and_below_producer_epoch,
            false,
            &request.v3_and_below_topics,
        )
        .await;
        let mut results = results;
        for topic in &mut results {
            for partition in &mut topic.results_by_partition {
                partition.partition_error_code =
                    super::fenced_for_version(partition.partition_error_code, version, 2);
            }
        }
        return AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results);
    }
    let mut results = Vec::with_capacity(request.transactions.len());
    for txn in &request.transactions {
        let topic_results = add(
            broker,
            txn.transactional_id.to_string(),
            txn.producer_id.0,
            txn.producer_epoch,
            txn.verify_only,
            &txn.topics,
        )
        .await;
        results.push(
            AddPartitionsToTxnResult::default()
                .with_transactional_id(txn.transactional_id.clone())
                .with_topic_results(topic_results),
        );
    }
    AddPartitionsToTxnResponse::default().with_results_by_transaction(results)
}

/// One transaction's partitions: added (or only verified), each with its error.
async fn add(
    broker: &Arc<Broker>,
    transactional_id: String,
    producer_id: i64,
    epoch: i16,
    verify_only: bool,
    topics: &[AddPartitionsToTxnTopic],
) -> Vec<AddPartitionsToTxnTopicResult> {
    let image = broker.controller.image();
    let mut wanted: Vec<(String, i32)> = Vec::new();
    let mut unknown: Vec<(String, i32)> = Vec::new();
    for topic in topics {
        let known = image.topic(topic.name.as_str());
        for &p in &topic.partitions {
            let entry = (topic.name.to_string(), p);
            if known.is_some_and(|t| t.partitions.contains_key(&p)) {
                wanted.push(entry);
            } else {
                unknown.push(entry);
            }
        }
    }
    let errors: Vec<((String, i32), i16)> = if !unknown.is_empty() {
        unknown
            .into_iter()
            .map(|tp| (tp, ResponseError::UnknownTopicOrPartition.code()))
            .chain(
                wanted
                    .into_iter()
                    .map(|tp| (tp, ResponseError::OperationNotAttempted.code())),
            )
            .collect()
    } else if verify_only {
        let id = transactional_id.clone();
        let partitions = wanted.clone();
        let verified = txn_coordinator::run(broker, &transactional_id, move |state, _, _| {
            strom_coordinator::transaction::TxnOutcome::reply(state.verify_partitions(
                &id,
                producer_id,
                epoch,
                &partitions,
            ))
        })
        .await;
        match verified {
            Ok(Ok(results)) => results,
            Ok(Err(code)) => wanted.into_iter().map(|tp| (tp, code)).collect(),
            Err(error) => wanted.into_iter().map(|tp| (tp, error.code)).collect(),
        }
    } else {
        let id = transactional_id.clone();
        let partitions = wanted.clone();
        let added = txn_coordinator::run(broker, &transactional_id, move |state, now, _| {
            state.add_partitions(&id, producer_id, epoch, &partitions, now)
        })
        .await;
        let code = match added {
            Ok(Ok(())) => 0,
            Ok(Err(code)) => code,
            Err(error) => error.code,
        };
        wanted.into_iter().map(|tp| (tp, code)).collect()
    };
    let mut by_topic: Vec<AddPartitionsToTxnTopicResult> = Vec::new();
    for ((topic, partition), code) in errors {
        let result = AddPartitionsToTxnPartitionResult::default()
            .with_partition_index(partition)
            .with_partition_error_code(code);
        match by_topic.iter_mut().find(|t| t.name.as_str() == topic) {
            Some(entry) => entry.results_by_partition.push(result),
            None => by_topic.push(
                AddPartitionsToTxnTopicResult::default()
                    .with_name(TopicName(super::sb(topic)))
                    .with_results_by_partition(vec![result]),
            ),
        }
    }
    by_topic
}
