//! Keeps `__consumer_offsets` partitions from growing without bound until the general log
//! cleaner (log compaction) exists: when a partition has grown well past its live state, the
//! shard's live records are written again at the end of the log, and everything before them is
//! deleted. Replaying from the new log start rebuilds exactly the same state, because the
//! snapshot is taken and appended under the shard's lock, after every earlier record, and only
//! while no transaction is open on the partition.

use std::sync::atomic::Ordering;

use super::{write, Shard};
use crate::error::halt;
use crate::server::now_ms;

/// Below this size a partition is never cleaned.
const MIN_CLEANABLE_BYTES: u64 = 16 * 1024 * 1024;
/// Clean when the log is this many times its size right after the previous cleanup.
const GROWTH_FACTOR: u64 = 4;

pub async fn maybe_clean(shard: &Shard) {
    let size = shard.partition.size_bytes();
    let baseline = shard.size_after_cleanup.load(Ordering::Relaxed);
    if size < MIN_CLEANABLE_BYTES || size < baseline.saturating_mul(GROWTH_FACTOR) {
        return;
    }
    let (snapshot_start, durable_at, records) = {
        let state = shard.state.lock();
        // The snapshot holds committed state only: offsets of open transactions live in their
        // transactional batches, which must stay until their markers decide them (and a
        // snapshot written after them would reorder which commit is the latest).
        if state.has_open_transactions()
            || shard.partition.last_stable_offset() < shard.partition.log_end_offset()
        {
            return;
        }
        let snapshot_start = shard.partition.log_end_offset();
        let records = state.snapshot_records();
        let durable_at = write::append_records(&shard.partition, &records, now_ms());
        (snapshot_start, durable_at, records.len())
    };
    if let Some(offset) = durable_at {
        shard.partition.wait_durable(offset).await;
    }
    let partition = shard.partition.clone();
    let deleted =
        tokio::task::spawn_blocking(move || partition.delete_records_before(snapshot_start)).await;
    match deleted {
        Ok(Ok(log_start)) => {
            let after = shard.partition.size_bytes();
            shard.size_after_cleanup.store(after, Ordering::Relaxed);
            tracing::info!(
                partition = shard.partition.index,
                live_records = records,
                bytes_before = size,
                bytes_after = after,
                log_start_offset = log_start,
                "cleaned __consumer_offsets partition"
            );
        }
        Ok(Err(error)) if error.is_fsync_failure() => {
            halt("fsync while cleaning __consumer_offsets failed", &error)
        }
        Ok(Err(error)) => {
            tracing::warn!(partition = shard.partition.index, %error, "cannot clean __consumer_offsets partition")
        }
        Err(error) => tracing::warn!(%error, "cleanup task failed"),
    }
}
