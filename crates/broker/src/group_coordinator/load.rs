//! Rebuilding a coordinator's state by replaying its partition (`__consumer_offsets`,
//! `__transaction_state`).

use strom_coordinator::GroupCoordinatorShard;
use strom_records::{batches, RecordIter};

use crate::engine_config::MAX_DECOMPRESSED_BATCH_BYTES;
use crate::partition::Partition;

const READ_CHUNK_BYTES: usize = 1024 * 1024;

/// One thing read back from a coordinator partition.
pub enum Replayed<'a> {
    /// A record; `producer_id` is set when it is part of a transaction.
    Record {
        key: &'a [u8],
        value: Option<&'a [u8]>,
        offset: i64,
        transactional_producer: Option<i64>,
    },
    /// The end marker of a producer's transaction.
    Marker { producer_id: i64, commit: bool },
}

/// Feeds every record and transaction marker of `partition` to `visit`, in log order.
/// Unreadable batches are skipped with a warning: the log was validated on append and at
/// recovery, so this only guards against bugs.
pub fn replay_log(partition: &Partition, visit: &mut dyn FnMut(Replayed<'_>)) -> u64 {
    let end = partition.log_end_offset();
    let mut offset = partition.log_start_offset();
    let mut records = 0u64;
    while offset < end {
        let data = match partition
            .read_plan(offset, end)
            .and_then(|plan| plan.read(READ_CHUNK_BYTES, true))
        {
            Ok(data) => data,
            Err(error) => {
                tracing::error!(topic = %partition.topic, partition = partition.index, offset, %error, "cannot read coordinator partition");
                return records;
            }
        };
        let Some(next) = data.next_offset else { break };
        for batch in batches(&data.records) {
            let batch = match batch {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::warn!(partition = partition.index, %error, "skipping an unreadable batch");
                    break;
                }
            };
            let header = batch.header();
            if header.is_control() {
                if let Some(marker) = strom_records::control::read_marker(batch.as_bytes()) {
                    visit(Replayed::Marker {
                        producer_id: header.producer_id,
                        commit: marker.kind == strom_records::control::ControlRecordType::Commit,
                    });
                }
                continue;
            }
            let transactional_producer = header.is_transactional().then_some(header.producer_id);
            let section = match batch.decompressed_records(MAX_DECOMPRESSED_BATCH_BYTES) {
                Ok(section) => section,
                Err(error) => {
                    tracing::warn!(partition = partition.index, %error, "skipping an undecodable batch");
                    continue;
                }
            };
            for record in RecordIter::new(&section) {
                let Ok(record) = record else { break };
                let Some(key) = record.key else { continue };
                visit(Replayed::Record {
                    key,
                    value: record.value,
                    offset: header.base_offset + i64::from(record.offset_delta),
                    transactional_producer,
                });
                records += 1;
            }
        }
        if next <= offset {
            break;
        }
        offset = next;
    }
    records
}

/// Replays every record of `partition` into the group coordinator shard `state`.
pub fn replay_partition(partition: &Partition, state: &mut GroupCoordinatorShard) {
    let records = replay_log(partition, &mut |item| {
        let result = match item {
            Replayed::Record {
                key,
                value,
                offset,
                transactional_producer: Some(producer_id),
            } => state.replay_transactional(producer_id, key, value, offset),
            Replayed::Record { key, value, .. } => state.replay(key, value),
            Replayed::Marker {
                producer_id,
                commit,
            } => {
                state.replay_end_transaction(producer_id, commit);
                Ok(())
            }
        };
        if let Err(error) = result {
            tracing::warn!(partition = partition.index, %error, "skipping a coordinator record");
        }
    });
    if records > 0 {
        tracing::debug!(
            partition = partition.index,
            records,
            "replayed __consumer_offsets partition"
        );
    }
}
