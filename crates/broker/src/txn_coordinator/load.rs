//! Rebuilding a transaction coordinator shard by replaying its `__transaction_state` partition.

use strom_coordinator::transaction::TransactionCoordinatorShard;

use crate::group_coordinator::load::{replay_log, Replayed};
use crate::partition::Partition;

/// Replays every record of `partition` into `state`.
pub fn replay_partition(partition: &Partition, state: &mut TransactionCoordinatorShard) {
    let records = replay_log(partition, &mut |item| {
        if let Replayed::Record { key, value, .. } = item {
            if let Err(error) = state.replay(key, value) {
                tracing::warn!(partition = partition.index, %error, "skipping a transaction state record");
            }
        }
    });
    if records > 0 {
        tracing::debug!(
            partition = partition.index,
            records,
            "replayed __transaction_state partition"
        );
    }
}
