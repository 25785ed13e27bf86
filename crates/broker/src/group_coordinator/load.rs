//! Rebuilding a shard's state by replaying its `__consumer_offsets` partition.

use strom_coordinator::GroupCoordinatorShard;
use strom_records::{batches, RecordIter};

use crate::engine_config::MAX_DECOMPRESSED_BATCH_BYTES;
use crate::partition::Partition;

const READ_CHUNK_BYTES: usize = 1024 * 1024;

/// Replays every record of `partition` into `state`. Unreadable batches are skipped with a
/// warning: the log was validated on append and at recovery, so this only guards against bugs.
pub fn replay_partition(partition: &Partition, state: &mut GroupCoordinatorShard) {
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
                tracing::error!(partition = partition.index, offset, %error, "cannot read __consumer_offsets");
                return;
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
            if batch.header().is_control() {
                continue;
            }
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
                if let Err(error) = state.replay(key, record.value) {
                    tracing::warn!(partition = partition.index, %error, "skipping a coordinator record");
                }
                records += 1;
            }
        }
        if next <= offset {
            break;
        }
        offset = next;
    }
    if records > 0 {
        tracing::debug!(
            partition = partition.index,
            records,
            "replayed __consumer_offsets partition"
        );
    }
}
