//! Writing coordinator records to a `__consumer_offsets` partition as one uncompressed batch.

use strom_coordinator::CoordinatorRecord;
use strom_records::{Compression, RecordBatchBuilder};

use crate::error::halt;
use crate::partition::Partition;

/// Appends `records` as one batch; returns the offset the caller must wait to be durable
/// (exclusive), or `None` when there was nothing to write.
pub fn append_records(
    partition: &Partition,
    records: &[CoordinatorRecord],
    now_ms: i64,
) -> Option<i64> {
    if records.is_empty() {
        return None;
    }
    let mut builder = RecordBatchBuilder::new(Compression::None);
    for record in records {
        builder.append(now_ms, Some(&record.key), record.value.as_deref(), &[]);
    }
    let mut batch = match builder.build() {
        Ok(batch) => batch,
        Err(error) => halt("cannot build a coordinator record batch", &error),
    };
    match partition.append(&mut batch, now_ms) {
        Ok(info) => Some(info.last_offset + 1),
        // The state already reflects these records; a log that cannot take them would let the
        // two diverge, which only a restart (replaying the log) can repair.
        Err(error) => halt("cannot append to __consumer_offsets", &error),
    }
}
