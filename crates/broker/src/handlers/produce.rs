//! Produce: validate each partition's batches, append them, and acknowledge according to acks.
//!
//! All partitions of a request are appended first (a small request on the async worker, see
//! [`append_all`]); the fsyncs that `acks=all` waits for then run concurrently, so one request
//! over many partitions costs one round of group-committed fsyncs.
//! That wait is a deferred reply: the connection handles the producer's next requests meanwhile
//! (see `connection`), and their appends join the same group commit.

use std::sync::Arc;

use bytes::BytesMut;
use strom_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use strom_protocol::messages::{ProduceRequest, ProduceResponse, TopicName};
use strom_protocol::ResponseError;
use strom_records::header::BatchHeader;
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
    let mut jobs: Vec<Job> = Vec::new();
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
    let appended = append_all(broker, jobs, version).await;
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

/// Largest request (record bytes over all its partitions) appended on the async worker.
const INLINE_APPEND_MAX: usize = 64 * 1024;

/// A partition to append to: (topic slot, partition slot, partition, records).
type Job = (usize, usize, Arc<Partition>, bytes::Bytes);

/// A job's result, in its slots.
type Outcome = (usize, usize, Result<Appended, PartitionError>);

/// Appends the request's partitions in order. A small request of uncompressed,
/// non-transactional batches is appended on the async worker itself: checking its CRCs and
/// copying it into the page cache take microseconds, while handing it to a blocking thread and
/// back costs two thread wake-ups (on a 2-vCPU VM, half the broker's CPU and most of an
/// `acks=1` acknowledgement's latency at 5,000 requests/s). From the first partition whose log
/// is locked by someone else or whose append would roll a segment (fsyncs, new files), and for
/// large, compressed (validation decompresses) or transactional data, the appends run on a
/// blocking thread.
async fn append_all(broker: &Arc<Broker>, jobs: Vec<Job>, version: i16) -> Vec<Outcome> {
    let inline = jobs.iter().map(|job| job.3.len()).sum::<usize>() <= INLINE_APPEND_MAX
        && jobs.iter().all(|job| plain(&job.3));
    let mut appended = Vec::with_capacity(jobs.len());
    let mut jobs = jobs.into_iter();
    let mut rest = Vec::new();
    if inline {
        for job in jobs.by_ref() {
            let (topic_slot, partition_slot, partition, records) = job;
            // A panic halfway through an append must not leave the log serving on (a panic
            // on a blocking thread halts the broker the same way, below).
            let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                append_unless_roll(broker, &partition, &records, version)
            }))
            .unwrap_or_else(|_| {
                crate::error::halt("a produce append panicked", &"its message is above")
            });
            match attempt {
                Some(outcome) => appended.push(outcome_of(
                    topic_slot,
                    partition_slot,
                    partition,
                    records.len(),
                    outcome,
                )),
                None => {
                    rest.push((topic_slot, partition_slot, partition, records));
                    break;
                }
            }
        }
    }
    rest.extend(jobs);
    if rest.is_empty() {
        return appended;
    }
    let broker = broker.clone();
    let blocking = tokio::task::spawn_blocking(move || {
        rest.into_iter()
            .map(|(topic_slot, partition_slot, partition, records)| {
                let outcome = append(&broker, &partition, &records, version);
                outcome_of(
                    topic_slot,
                    partition_slot,
                    partition,
                    records.len(),
                    outcome,
                )
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_else(|error| crate::error::halt("a produce task failed", &error));
    appended.extend(blocking);
    appended
}

fn outcome_of(
    topic_slot: usize,
    partition_slot: usize,
    partition: Arc<Partition>,
    bytes: usize,
    outcome: Result<(AppendInfo, i64), PartitionError>,
) -> Outcome {
    let appended = outcome.map(|(info, records)| Appended {
        partition,
        info,
        records,
        bytes,
    });
    (topic_slot, partition_slot, appended)
}

/// Whether every batch of `records` is uncompressed and not transactional, i.e. cheap to
/// validate and append on the worker (false when a header does not parse, so that validation
/// reports it off the worker). A transactional batch is verified with the transaction
/// coordinator (KIP-890), whose state locks may be held across its own log's writes.
fn plain(records: &[u8]) -> bool {
    let mut rest = records;
    while !rest.is_empty() {
        let Ok(header) = BatchHeader::parse(rest) else {
            return false;
        };
        if header.compression_codec() != 0 || header.is_transactional() {
            return false;
        }
        let Some(next) = rest.get(header.total_len()..) else {
            return false;
        };
        rest = next;
    }
    true
}

/// Validates a partition's batches and appends them (on a thread that may block).
fn append(
    broker: &Broker,
    partition: &Partition,
    records: &[u8],
    version: i16,
) -> Result<(AppendInfo, i64), PartitionError> {
    let now = now_ms();
    let prepared = prepare(partition, records, version, now)?;
    let verify_txn = txn_check(broker, partition);
    let origin = AppendOrigin::Client {
        verify_txn: &verify_txn,
    };
    let written = partition.append(prepared.buffer(records), origin, now);
    finish(partition, written, prepared.count, version)
}

/// [`append`] on the async worker: `None`, with nothing written, when the append would roll a
/// segment.
fn append_unless_roll(
    broker: &Broker,
    partition: &Partition,
    records: &[u8],
    version: i16,
) -> Option<Result<(AppendInfo, i64), PartitionError>> {
    let now = now_ms();
    let prepared = match prepare(partition, records, version, now) {
        Ok(prepared) => prepared,
        Err(error) => return Some(Err(error)),
    };
    let verify_txn = txn_check(broker, partition);
    let origin = AppendOrigin::Client {
        verify_txn: &verify_txn,
    };
    let written = partition.append_unless_roll(prepared.buffer(records), origin, now)?;
    Some(finish(partition, written, prepared.count, version))
}

/// Validated batches, ready to be written.
struct Prepared {
    /// Records in the batches.
    count: i64,
    /// The batches with their timestamps rewritten, when they needed it.
    rewritten: Option<BytesMut>,
}

impl Prepared {
    /// The bytes to write: the request's own, unless they were rewritten.
    fn buffer<'a>(&'a self, records: &'a [u8]) -> &'a [u8] {
        self.rewritten.as_deref().unwrap_or(records)
    }
}

fn prepare(
    partition: &Partition,
    records: &[u8],
    version: i16,
    now: i64,
) -> Result<Prepared, PartitionError> {
    let config = partition.config();
    let validation = crate::engine_config::validation_config(&config);
    let validated =
        validate_batches(records, &validation, now).map_err(|e| validation_error(&e, version))?;
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
    // The log writes the batches straight from the request buffer (it patches base offsets as
    // it writes). Only a timestamp rewrite (LogAppendTime topics, or a max timestamp that
    // disagrees with the records) changes CRC-covered bytes and needs a copy.
    let rewritten = validated
        .needs_timestamp_rewrite(validation.timestamp_type, now)
        .then(|| {
            let mut copy = BytesMut::from(records);
            validated.assign_max_timestamps(&mut copy, validation.timestamp_type, now);
            copy
        });
    Ok(Prepared {
        count: validated.record_count() as i64,
        rewritten,
    })
}

/// KIP-890: transactional data is taken only for a partition the producer's transaction
/// coordinator has in its ongoing transaction (asked under the log's lock, so an end marker
/// cannot slip in between the check and the write).
fn txn_check<'a>(broker: &'a Broker, partition: &'a Partition) -> impl Fn(i64, i16) -> bool + 'a {
    move |producer_id, epoch| {
        broker
            .txns
            .is_in_ongoing_txn(producer_id, epoch, &partition.topic, partition.index)
    }
}

/// The response for a write's result.
fn finish(
    partition: &Partition,
    written: Result<AppendInfo, StorageError>,
    count: i64,
    version: i16,
) -> Result<(AppendInfo, i64), PartitionError> {
    match written {
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

#[cfg(test)]
mod tests {
    use strom_records::{Compression, RecordBatchBuilder};

    use super::plain;

    fn batch(compression: Compression, transactional: bool) -> Vec<u8> {
        let mut builder = RecordBatchBuilder::new(compression)
            .producer(1, 0, 0)
            .transactional(transactional);
        builder.append(1, Some(b"k"), Some(b"value"), &[]);
        builder.build().unwrap()
    }

    #[test]
    fn only_uncompressed_non_transactional_batches_are_plain() {
        let plain_batch = batch(Compression::None, false);
        assert!(plain(&plain_batch));
        assert!(plain(&[plain_batch.clone(), plain_batch.clone()].concat()));
        let gzip = batch(Compression::Gzip, false);
        assert!(!plain(&gzip));
        assert!(!plain(&batch(Compression::None, true)));
        // A compressed batch behind a plain one is found.
        assert!(!plain(&[plain_batch.clone(), gzip].concat()));
        // Bytes that do not parse go to validation on a blocking thread.
        assert!(!plain(&plain_batch[..20]));
        assert!(!plain(
            &[plain_batch.clone(), plain_batch[..30].to_vec()].concat()
        ));
    }
}
