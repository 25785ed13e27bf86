//! Fetch: return stored batches verbatim from each requested partition, waiting (without
//! spinning) up to `max_wait_ms` until `min_bytes` are available.
//!
//! The partitions are planned under their locks without I/O; the reads of all partitions then
//! run in one blocking task, outside any lock (a `read_committed` read then takes the log's lock
//! briefly again for its in-memory list of aborted transactions). Large batches are not read at
//! all: their headers locate them, and they stay in the segment files as ranges that the
//! connection sends with `sendfile`; small ones are read into memory with one large read. A
//! waiting fetch registers with each partition it reads and is woken by the next append to any
//! of them (Kafka's fetch purgatory).
//!
//! Isolation: a `read_committed` fetch reads no further than the last stable offset and lists
//! the aborted transactions among the batches it returns, so the client drops their records;
//! `read_uncommitted` reads up to the high watermark.
//!
//! Fetch sessions (KIP-227): Strom answers every fetch in full and never creates a session
//! (session id 0), which the protocol allows; clients then keep sending full fetches. An
//! incremental fetch naming a session gets FETCH_SESSION_ID_NOT_FOUND and starts over.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use strom_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use strom_protocol::messages::{BrokerId, FetchRequest, FetchResponse, ProducerId, TopicName};
use strom_protocol::{FileRange, RecordPart, RecordParts, ResponseError};
use strom_storage::{AbortedTxn, ReadPart, ReadPlan, StorageError};
use tokio::sync::Notify;

use super::sb;
use crate::apis::FetchReply;
use crate::partition::Partition;
use crate::server::Broker;

/// One requested partition, resolved.
struct Wanted {
    topic_index: usize,
    partition_index: i32,
    fetch_offset: i64,
    partition_max_bytes: i32,
    current_leader_epoch: i32,
    partition: Result<Arc<Partition>, ResponseError>,
}

/// What one partition contributes to the response.
struct Answer {
    error: Option<ResponseError>,
    /// In memory, or left in the segment files to be sent with `sendfile`.
    records: RecordParts,
    high_watermark: i64,
    last_stable_offset: i64,
    log_start_offset: i64,
    /// For `read_committed`: the aborted transactions among the returned batches.
    aborted: Vec<AbortedTxn>,
}

pub async fn handle(broker: &Arc<Broker>, request: FetchRequest, version: i16) -> FetchReply {
    if request.session_id != 0 && request.session_epoch > 0 {
        return FetchReply {
            response: FetchResponse::default()
                .with_error_code(ResponseError::FetchSessionIdNotFound.code())
                .with_session_id(0),
            records: Vec::new(),
        };
    }
    let image = broker.controller.image();
    let mut topic_names = Vec::with_capacity(request.topics.len());
    let mut wanted = Vec::new();
    for (topic_index, topic) in request.topics.iter().enumerate() {
        let name = if version >= 13 {
            image.topic_by_id(&topic.topic_id).map(|t| t.name.clone())
        } else {
            Some(topic.topic.to_string())
        };
        for p in &topic.partitions {
            let partition = match &name {
                None => Err(ResponseError::UnknownTopicId),
                Some(name) => broker
                    .replicas
                    .get(name, p.partition)
                    .ok_or(ResponseError::UnknownTopicOrPartition),
            };
            wanted.push(Wanted {
                topic_index,
                partition_index: p.partition,
                fetch_offset: p.fetch_offset,
                partition_max_bytes: p.partition_max_bytes,
                current_leader_epoch: p.current_leader_epoch,
                partition,
            });
        }
        topic_names.push(name);
    }

    let max_wait = Duration::from_millis(request.max_wait_ms.max(0) as u64);
    let deadline = tokio::time::Instant::now() + max_wait;
    let notify = Arc::new(Notify::new());
    let mut shutdown = broker.shutdown_signal();
    let read_committed = request.isolation_level == 1;
    let answers = loop {
        for w in &wanted {
            if let Ok(partition) = &w.partition {
                partition.register_waiter(&notify);
            }
        }
        let answers = read_all(&wanted, request.max_bytes, read_committed).await;
        let bytes: usize = answers.iter().map(|a| a.records.len()).sum();
        let any_error = answers.iter().any(|a| a.error.is_some());
        if bytes >= request.min_bytes.max(0) as usize
            || any_error
            || *shutdown.borrow()
            || tokio::time::Instant::now() >= deadline
        {
            break answers;
        }
        tokio::select! {
            _ = notify.notified() => {}
            // A parked fetch answers with what it has when the broker stops.
            _ = shutdown.changed() => {}
            _ = tokio::time::sleep_until(deadline) => {
                break read_all(&wanted, request.max_bytes, read_committed).await;
            }
        }
    };

    let mut responses: Vec<FetchableTopicResponse> = request
        .topics
        .iter()
        .zip(&topic_names)
        .map(|(topic, name)| {
            let mut response = FetchableTopicResponse::default();
            if version >= 13 {
                response.topic_id = topic.topic_id;
            } else {
                response.topic = TopicName(sb(name.clone().unwrap_or_default()));
            }
            response
        })
        .collect();
    // Record bytes returned per topic, for the metrics.
    let mut fetched = vec![0u64; responses.len()];
    // The record sets by topic, in the order of the response's partitions.
    let mut records: Vec<Vec<Option<RecordParts>>> = vec![Vec::new(); responses.len()];
    for (w, answer) in wanted.iter().zip(answers) {
        if let Some(bytes) = fetched.get_mut(w.topic_index) {
            *bytes += answer.records.len() as u64;
        }
        let mut data = PartitionData::default()
            .with_partition_index(w.partition_index)
            .with_error_code(answer.error.map(|e| e.code()).unwrap_or(0))
            .with_high_watermark(answer.high_watermark)
            .with_last_stable_offset(answer.last_stable_offset)
            .with_log_start_offset(answer.log_start_offset)
            // The encoder takes the record set from `records` instead (see FetchReply).
            .with_records(Some(Bytes::new()));
        if read_committed {
            data.aborted_transactions = Some(
                answer
                    .aborted
                    .iter()
                    .map(|txn| {
                        AbortedTransaction::default()
                            .with_producer_id(ProducerId(txn.producer_id))
                            .with_first_offset(txn.first_offset)
                    })
                    .collect(),
            );
        }
        if version >= 11 {
            data.preferred_read_replica = BrokerId(-1);
        }
        if let (Some(topic), Some(sets)) = (
            responses.get_mut(w.topic_index),
            records.get_mut(w.topic_index),
        ) {
            topic.partitions.push(data);
            sets.push(Some(answer.records));
        }
    }
    for (name, bytes) in topic_names.iter().zip(fetched) {
        if let (Some(name), true) = (name, bytes > 0) {
            // One label lookup per topic that returned data.
            broker.metrics.topics.fetched(name, bytes);
        }
    }
    FetchReply {
        response: FetchResponse::default()
            .with_error_code(0)
            .with_session_id(0)
            .with_responses(responses),
        records: records.into_iter().flatten().collect(),
    }
}

/// Plans every partition under its lock, then reads them in order: on the async worker while
/// each plan is small and its bytes are in the page cache (the common case of a consumer at the
/// end of the log: a copy of a few KiB, where a hop to a blocking thread and back costs two
/// thread wake-ups), on one blocking task from the first partition that is not.
async fn read_all(wanted: &[Wanted], max_bytes: i32, read_committed: bool) -> Vec<Answer> {
    let mut budget = Budget {
        remaining: max_bytes.max(0) as usize,
        returned_any: false,
    };
    let mut answers = Vec::with_capacity(wanted.len());
    let mut plans = wanted.iter().map(|w| plan(w, read_committed));
    let mut rest = Vec::new();
    for planned in plans.by_ref() {
        let planned = match planned {
            Ok(planned) => planned,
            Err(answer) => {
                answers.push(answer);
                continue;
            }
        };
        match budget.read(&planned, Mode::CachedOnly) {
            Some(answer) => answers.push(answer),
            None => {
                rest.push(Ok(planned));
                break;
            }
        }
    }
    rest.extend(plans);
    if rest.is_empty() {
        return answers;
    }
    let read = tokio::task::spawn_blocking(move || {
        rest.into_iter()
            .map(|planned| match planned {
                // A read that may wait always answers; the default is never used.
                Ok(planned) => budget
                    .read(&planned, Mode::Wait)
                    .unwrap_or_else(|| planned.answer(None, RecordParts::default())),
                Err(answer) => answer,
            })
            .collect::<Vec<Answer>>()
    })
    .await;
    match read {
        Ok(rest) => {
            answers.extend(rest);
            answers
        }
        Err(error) => crate::error::halt("a fetch read task failed", &error),
    }
}

/// Where a partition's read may get its bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Only from the page cache, without waiting (on an async worker).
    CachedOnly,
    /// From the disk if need be (on a blocking thread).
    Wait,
}

/// What is left of a fetch's `max_bytes` as its partitions are read in order.
struct Budget {
    remaining: usize,
    returned_any: bool,
}

impl Budget {
    /// Reads one partition within the budget; `None` (nothing read) when `mode` is
    /// [`Mode::CachedOnly`] and the read would wait for the disk.
    fn read(&mut self, planned: &Planned, mode: Mode) -> Option<Answer> {
        let limit = planned.partition_max_bytes.min(self.remaining);
        let min_one_batch = !self.returned_any;
        let read = match mode {
            Mode::CachedOnly => planned.plan.read_parts_cached(limit, min_one_batch),
            Mode::Wait => planned.plan.read_parts(limit, min_one_batch).map(Some),
        };
        let answer = match read {
            Ok(None) => return None,
            Ok(Some(data)) => {
                self.remaining = self.remaining.saturating_sub(data.len());
                self.returned_any |= !data.is_empty();
                let aborted = match data.next_offset {
                    Some(upper) if planned.read_committed => planned
                        .partition
                        .aborted_transactions(planned.plan.fetch_offset(), upper),
                    _ => Vec::new(),
                };
                Answer {
                    aborted,
                    ..planned.answer(None, record_parts(data.parts))
                }
            }
            Err(error) => {
                tracing::error!(%error, "fetch read failed");
                planned.answer(
                    Some(ResponseError::KafkaStorageError),
                    RecordParts::default(),
                )
            }
        };
        Some(answer)
    }
}

/// A partition ready to be read, with the offsets as they were when it was planned.
struct Planned {
    partition: Arc<Partition>,
    read_committed: bool,
    plan: ReadPlan,
    partition_max_bytes: usize,
    high_watermark: i64,
    last_stable_offset: i64,
    log_start_offset: i64,
}

impl Planned {
    fn answer(&self, error: Option<ResponseError>, records: RecordParts) -> Answer {
        Answer {
            error,
            records,
            high_watermark: self.high_watermark,
            last_stable_offset: self.last_stable_offset,
            log_start_offset: self.log_start_offset,
            aborted: Vec::new(),
        }
    }
}

fn plan(w: &Wanted, read_committed: bool) -> Result<Planned, Answer> {
    let partition = match &w.partition {
        Ok(partition) => partition,
        Err(error) => return Err(empty_answer(Some(*error), None)),
    };
    if w.current_leader_epoch >= 0 {
        let epoch = partition.leader_epoch();
        if w.current_leader_epoch < epoch {
            return Err(empty_answer(
                Some(ResponseError::FencedLeaderEpoch),
                Some(partition),
            ));
        }
        if w.current_leader_epoch > epoch {
            return Err(empty_answer(
                Some(ResponseError::UnknownLeaderEpoch),
                Some(partition),
            ));
        }
    }
    // Read the offsets before planning: the plan then never returns data past them.
    let high_watermark = partition.high_watermark();
    let last_stable_offset = partition.last_stable_offset();
    let log_start_offset = partition.log_start_offset();
    let max_offset = if read_committed {
        last_stable_offset
    } else {
        high_watermark
    };
    match partition.read_plan(w.fetch_offset, max_offset) {
        Ok(plan) => Ok(Planned {
            partition: partition.clone(),
            read_committed,
            plan,
            partition_max_bytes: w.partition_max_bytes.max(0) as usize,
            high_watermark,
            last_stable_offset,
            log_start_offset,
        }),
        Err(StorageError::OffsetOutOfRange { .. }) => Err(empty_answer(
            Some(ResponseError::OffsetOutOfRange),
            Some(partition),
        )),
        Err(error) => {
            tracing::error!(topic = %partition.topic, partition = partition.index, %error, "fetch planning failed");
            Err(empty_answer(
                Some(ResponseError::KafkaStorageError),
                Some(partition),
            ))
        }
    }
}

fn empty_answer(error: Option<ResponseError>, partition: Option<&Arc<Partition>>) -> Answer {
    Answer {
        error,
        records: RecordParts::default(),
        high_watermark: partition.map(|p| p.high_watermark()).unwrap_or(-1),
        last_stable_offset: partition.map(|p| p.last_stable_offset()).unwrap_or(-1),
        log_start_offset: partition.map(|p| p.log_start_offset()).unwrap_or(-1),
        aborted: Vec::new(),
    }
}

/// The storage engine's read parts as the protocol's record parts.
fn record_parts(parts: Vec<ReadPart>) -> RecordParts {
    RecordParts {
        parts: parts
            .into_iter()
            .map(|part| match part {
                ReadPart::Memory(bytes) => RecordPart::Memory(bytes),
                ReadPart::File {
                    file,
                    position,
                    len,
                } => RecordPart::File(FileRange {
                    file,
                    position,
                    len,
                }),
            })
            .collect(),
    }
}
