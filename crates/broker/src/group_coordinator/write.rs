//! Writing coordinator records to a coordinator partition (`__consumer_offsets`,
//! `__transaction_state`) as one uncompressed batch.

use strom_coordinator::CoordinatorRecord;
use strom_records::{Compression, RecordBatchBuilder};
use strom_storage::AppendOrigin;

use crate::error::halt;
use crate::partition::Partition;

/// Appends `records` as one batch; returns the offset the caller must wait to be durable
/// (exclusive), or `None` when there was nothing to write.
pub fn append_records(
    partition: &Partition,
    records: &[CoordinatorRecord],
    now_ms: i64,
) -> Option<i64> {
    append_records_as(partition, records, None, now_ms)
}

/// [`append_records`] for records written on behalf of a transactional producer
/// (TxnOffsetCommit): one transactional batch with that producer id and epoch, which the
/// transaction's end marker on the partition later commits or aborts.
pub fn append_records_as(
    partition: &Partition,
    records: &[CoordinatorRecord],
    producer: Option<(i64, i16)>,
    now_ms: i64,
) -> Option<i64> {
    if records.is_empty() {
        return None;
    }
    let mut builder = RecordBatchBuilder::new(Compression::None);
    if let Some((producer_id, epoch)) = producer {
        builder = builder.producer(producer_id, epoch, -1).transactional(true);
    }
    for record in records {
        builder.append(now_ms, Some(&record.key), record.value.as_deref(), &[]);
    }
    let batch = match builder.build() {
        Ok(batch) => batch,
        Err(error) => halt("cannot build a coordinator record batch", &error),
    };
    match partition.append(&batch, AppendOrigin::Coordinator, now_ms) {
        Ok(info) => Some(info.last_offset + 1),
        // The state already reflects these records; a log that cannot take them would let the
        // two diverge, which only a restart (replaying the log) can repair.
        Err(error) => halt(
            &format!(
                "cannot append to coordinator partition {}-{}",
                partition.topic, partition.index
            ),
            &error,
        ),
    }
}
