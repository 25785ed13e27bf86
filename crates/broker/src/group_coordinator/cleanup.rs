//! Keeps coordinator partitions (`__consumer_offsets`, `__transaction_state`) from growing
//! without bound until the general log cleaner (log compaction) exists: when a partition has
//! grown well past its live state, the shard's live records are written again at the end of the
//! log, and everything before them is deleted. Replaying from the new log start rebuilds exactly
//! the same state, because the snapshot is taken and appended under the shard's lock, after
//! every earlier record, and only while no transaction is open on the partition.

use std::sync::atomic::{AtomicU64, Ordering};

use strom_coordinator::CoordinatorRecord;

use super::{write, Shard};
use crate::error::halt;
use crate::partition::Partition;
use crate::server::now_ms;

/// Below this size a partition is never cleaned.
const MIN_CLEANABLE_BYTES: u64 = 16 * 1024 * 1024;
/// Clean when the log is this many times its size right after the previous cleanup.
const GROWTH_FACTOR: u64 = 4;

/// Cleans a group coordinator shard's partition when it has grown enough.
pub async fn maybe_clean(shard: &Shard) {
    maybe_clean_partition(&shard.partition, &shard.size_after_cleanup, || {
        let state = shard.state.lock();
        // The snapshot holds committed state only: offsets of open transactions live in their
        // transactional batches, which must stay until their markers decide them (and a
        // snapshot written after them would reorder which commit is the latest).
        if state.has_open_transactions() {
            return None;
        }
        snapshot_under_lock(&shard.partition, state.snapshot_records())
    })
    .await;
}

/// Appends `records` (the live state, taken under the caller's shard lock) and returns where
/// they start and the offset to wait for; `None` when a transaction is open on the partition.
pub(crate) fn snapshot_under_lock(
    partition: &Partition,
    records: Vec<CoordinatorRecord>,
) -> Option<(i64, Option<i64>, usize)> {
    if partition.last_stable_offset() < partition.log_end_offset() {
        return None;
    }
    let snapshot_start = partition.log_end_offset();
    let durable_at = write::append_records(partition, &records, now_ms());
    Some((snapshot_start, durable_at, records.len()))
}

/// The cleanup itself: `snapshot` appends the live records under the shard's lock (or declines).
pub(crate) async fn maybe_clean_partition(
    partition: &std::sync::Arc<Partition>,
    size_after_cleanup: &AtomicU64,
    snapshot: impl FnOnce() -> Option<(i64, Option<i64>, usize)>,
) {
    let size = partition.size_bytes();
    let baseline = size_after_cleanup.load(Ordering::Relaxed);
    if size < MIN_CLEANABLE_BYTES || size < baseline.saturating_mul(GROWTH_FACTOR) {
        return;
    }
    let Some((snapshot_start, durable_at, records)) = snapshot() else {
        return;
    };
    if let Some(offset) = durable_at {
        partition.wait_durable(offset).await;
    }
    let deleting = partition.clone();
    let deleted =
        tokio::task::spawn_blocking(move || deleting.delete_records_before(snapshot_start)).await;
    match deleted {
        Ok(Ok(log_start)) => {
            let after = partition.size_bytes();
            size_after_cleanup.store(after, Ordering::Relaxed);
            tracing::info!(
                topic = %partition.topic,
                partition = partition.index,
                live_records = records,
                bytes_before = size,
                bytes_after = after,
                log_start_offset = log_start,
                "cleaned coordinator partition"
            );
        }
        Ok(Err(error)) if error.is_fsync_failure() => halt(
            "fsync while cleaning a coordinator partition failed",
            &error,
        ),
        Ok(Err(error)) => {
            tracing::warn!(topic = %partition.topic, partition = partition.index, %error, "cannot clean coordinator partition")
        }
        Err(error) => tracing::warn!(%error, "cleanup task failed"),
    }
}
