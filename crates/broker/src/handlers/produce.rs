//! Produce: validate each partition's batches, append them, and acknowledge according to acks.
//!
//! All partitions of a request are appended first; the fsyncs that `acks=all` waits for then run
//! concurrently, so one request over many partitions costs one round of group-committed fsyncs.
//! That wait is a deferred reply: the connection handles the producer's next requests meanwhile
//! (see `connection`), and their appends join the same group commit.

use std::sync::Arc;

use bytes::BytesMut;
use strom_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use strom_protocol::messages::{ProduceRequest, ProduceResponse, TopicName};
use strom_protocol::ResponseError;
use strom_records::validate::validate_batches;
use strom_records::ValidationError;
use strom_storage::{AppendInfo, AppendOrigin, StorageError};

use super::sb;
use crate::apis::Reply;
use crate::partition::Partition;
use crate::server::{now_ms, Broker};

/// The outcome of one partition before its acknowledgement.
struct Appended {
    partition: Arc<Partition>,
    info: AppendInfo,
    /// Records appended (0 for a retried batch answered with its original offsets).
    records: i64,
    /// Bytes of the request's batches for the partition.
    bytes: usize,
}

pub async fn handle(broker: &Arc<Broker>, request: ProduceRequest, version: i16) -> Reply {
    let acks = request.acks;
    let image = broker.controller.image();
    let mut responses = Vec::with_capacity(request.topic_data.len());
    // Partitions to append to: (topic slot, partition slot, partition, records).
    let mut jobs: Vec<(usize, usize, Arc<Partition>, bytes::Bytes)> = Vec::new();
    let mut any_error = false;
    for topic in request.topic_data {
        let name = if version >= 13 {
            image.topic_by_id(&topic.topic_id).map(|t| t.name.clone())
        } else {
            Some(topic.name.to_string())
        };
        let mut partition_responses = Vec::with_capacity(topic.partition_data.len());
        for data in topic.partition_data {
            let index = data.index;
            let mut response = PartitionProduceResponse::default()
                .with_index(index)
                .with_base_offset(-1)
                .with_log_append_time_ms(-1)
                .with_log_start_offset(-1);
            let partition = name.as_deref().and_then(|n| broker.replicas.get(n, index));
            let outcome = match partition {
                _ if !matches!(acks, -1..=1) => Err(error_response(
                    ResponseError::InvalidRequiredAcks,
                    None,
                    version,
                )),
                None if name.is_none() => {
                    Err(error_response(ResponseError::UnknownTopicId, None, version))
                }
                None => Err(error_response(
                    ResponseError::UnknownTopicOrPartition,
                    None,
                    version,
                )),
                Some(partition) if crate::topic_name::is_internal(&partition.topic) => {
                    Err(error_response(
                        ResponseError::InvalidTopicException,
                        Some(format!(
                            "Cannot append to internal topic {}",
                            partition.topic
                        )),
                        version,
                    ))
                }
                Some(partition) => Ok(partition),
            };
            match outcome {
                Ok(partition) => jobs.push((
                    responses.len(),
                    partition_responses.len(),
                    partition,
                    data.records.unwrap_or_default(),
                )),
                Err(error) => {
                    any_error = true;
                    set_error(&mut response, error);
                }
            }
            partition_responses.push(response);
        }
        let mut topic_response =
            TopicProduceResponse::default().with_partition_responses(partition_responses);
        if version >= 13 {
            topic_response.topic_id = topic.topic_id;
        } else {
            topic_response.name = TopicName(sb(name.unwrap_or_default()));
        }
        responses.push(topic_response);
    }
    // Validation (CRC, decompression) and the writes are blocking work: off the async runtime,
    // all partitions of the request in one task.
    let txns = broker.clone();
    let appended = tokio::task::spawn_blocking(move || {
        jobs.into_iter()
            .map(|(topic_slot, partition_slot, partition, records)| {
                let bytes = records.len();
                let outcome =
                    append(&txns, &partition, records, version).map(|(info, records)| Appended {
                        partition,
                        info,
                        records,
                        bytes,
                    });
                (topic_slot, partition_slot, outcome)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_else(|error| crate::error::halt("a produce task failed", &error));
    let mut pending = Vec::with_capacity(appended.len());
    // Per topic of the request, for the metrics: a partition of it, bytes and records appended.
    let mut produced: Vec<Option<(Arc<Partition>, u64, u64)>> = vec![None; responses.len()];
    for (topic_slot, partition_slot, outcome) in appended {
        let Some(response) = responses
            .get_mut(topic_slot)
            .and_then(|t| t.partition_responses.get_mut(partition_slot))
        else {
            continue;
        };
        match outcome {
            Ok(appended) => {
                response.base_offset = appended.info.first_offset;
                response.log_append_time_ms = appended.info.log_append_time_ms.unwrap_or(-1);
                if version >= 5 {
                    response.log_start_offset = appended.partition.log_start_offset();
                }
                // A retried batch was written before and is not counted again.
                if let (Some(topic), false) =
                    (produced.get_mut(topic_slot), appended.info.duplicate)
                {
                    let (_, bytes, records) =
                        topic.get_or_insert_with(|| (appended.partition.clone(), 0, 0));
                    *bytes += appended.bytes as u64;
                    *records += appended.records.max(0) as u64;
                }
                pending.push(appended);
            }
            Err(error) => {
                any_error = true;
                set_error(response, error);
            }
        }
    }
    for (partition, bytes, records) in produced.iter().flatten() {
        // One label lookup per topic of the request.
        broker
            .metrics
            .topics
            .produced(&partition.topic, *bytes, *records);
    }
    let acks_all = acks == -1;
    let durable = async move {
        futures::future::join_all(
            pending
                .iter()
                .map(|a| a.partition.make_durable(&a.info, a.records, acks_all)),
        )
        .await;
    };
    if acks == 0 {
        durable.await;
        // The client reads no response; an error can only be signalled by closing.
        return if any_error { Reply::Close } else { Reply::None };
    }
    // The appends are done (in request order); the acknowledgement waits for durability while
    // the connection goes on with the producer's next requests (one fsync covers them all).
    Reply::Deferred(Box::pin(async move {
        durable.await;
        Reply::Response(strom_protocol::messages::ResponseKind::Produce(
            ProduceResponse::default().with_responses(responses),
        ))
    }))
}

fn set_error(response: &mut PartitionProduceResponse, error: PartitionError) {
    response.error_code = error.code;
    response.record_errors = error.record_errors;
    response.error_message = error.message;
}

struct PartitionError {
    code: i16,
    message: Option<strom_protocol::StrBytes>,
    record_errors: Vec<BatchIndexAndErrorMessage>,
}

fn error_response(error: ResponseError, message: Option<String>, version: i16) -> PartitionError {
    PartitionError {
        code: error.code(),
        message: if version >= 8 { message.map(sb) } else { None },
        record_errors: Vec::new(),
    }
}

fn append(
    broker: &Broker,
    partition: &Partition,
    records: bytes::Bytes,
    version: i16,
) -> Result<(AppendInfo, i64), PartitionError> {
    let config = partition.config();
    let now = now_ms();
    let validation = crate::engine_config::validation_config(&config);
    let validated =
        validate_batches(&records, &validation, now).map_err(|e| validation_error(&e, version))?;
    if validated.len() != 1 {
        // Kafka accepts exactly one batch per partition from produce v3 on.
        return Err(error_response(
            ResponseError::InvalidRecord,
            Some(format!(
                "Produce requests with version {version} are only allowed to contain exactly one record batch per partition"
            )),
            version,
        ));
    }
    let count = validated.record_count() as i64;
    // The log writes the batches straight from the request buffer (it patches base offsets as
    // it writes). Only a timestamp rewrite (LogAppendTime topics, or a max timestamp that
    // disagrees with the records) changes CRC-covered bytes and needs a copy.
    let rewritten = validated
        .needs_timestamp_rewrite(validation.timestamp_type, now)
        .then(|| {
            let mut copy = BytesMut::from(records.as_ref());
            validated.assign_max_timestamps(&mut copy, validation.timestamp_type, now);
            copy
        });
    let buffer: &[u8] = rewritten.as_deref().unwrap_or(&records);
    // KIP-890: transactional data is taken only for a partition the producer's transaction
    // coordinator has in its ongoing transaction (asked under the log's lock, so an end
    // marker cannot slip in between the check and the write).
    let verify_txn = |producer_id: i64, epoch: i16| {
        broker
            .txns
            .is_in_ongoing_txn(producer_id, epoch, &partition.topic, partition.index)
    };
    let origin = AppendOrigin::Client {
        verify_txn: &verify_txn,
    };
    match partition.append(buffer, origin, now) {
        Ok(info) if info.duplicate => Ok((info, 0)),
        Ok(info) => Ok((info, count)),
        Err(StorageError::ProducerState(error)) => Err(error_response(
            ResponseError::try_from_code(error.kafka_error_code())
                .unwrap_or(ResponseError::UnknownServerError),
            Some(error.to_string()),
            version,
        )),
        Err(error) if error.is_fsync_failure() => {
            crate::error::halt("fsync failed during append", &error)
        }
        Err(error) => {
            tracing::error!(topic = %partition.topic, partition = partition.index, %error, "append failed");
            Err(error_response(
                ResponseError::KafkaStorageError,
                Some(error.to_string()),
                version,
            ))
        }
    }
}

fn validation_error(error: &ValidationError, version: i16) -> PartitionError {
    let record_errors = if version >= 8 {
        error
            .record_errors()
            .iter()
            .map(|record_error| {
                BatchIndexAndErrorMessage::default()
                    .with_batch_index(record_error.batch_index)
                    .with_batch_index_error_message(Some(sb(record_error.message.clone())))
            })
            .collect()
    } else {
        Vec::new()
    };
    PartitionError {
        code: error.kafka_error_code(),
        message: if version >= 8 {
            Some(sb(error.error_message()))
        } else {
            None
        },
        record_errors,
    }
}
