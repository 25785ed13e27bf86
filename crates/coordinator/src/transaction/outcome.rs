//! What a transaction coordinator call hands back to the runtime: the reply, the records to
//! append to `__transaction_state`, and the transaction markers to write.

use crate::outcome::CoordinatorRecord;

/// The result of one call.
///
/// The runtime appends `records` to the shard's partition and waits until they are durable
/// before sending `reply` and before writing any marker: a client never sees (and a data
/// partition never gets a marker for) a decision that a crash could lose. If the append fails,
/// the in-memory state is ahead of the log; the runtime must reload the shard from the log (or
/// halt), as the shard does not roll back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnOutcome<T> {
    pub reply: T,
    pub records: Vec<CoordinatorRecord>,
    pub markers: Vec<TxnMarker>,
}

impl<T> TxnOutcome<T> {
    /// An answer with no side effect.
    pub fn reply(reply: T) -> Self {
        TxnOutcome {
            reply,
            records: Vec::new(),
            markers: Vec::new(),
        }
    }
}

/// The end of one transaction to write on each of its data partitions (a WriteTxnMarkers
/// entry): a COMMIT or ABORT control batch for `producer_id` at `producer_epoch`.
///
/// Once every partition has it durably, the runtime calls
/// [`markers_written`](super::TransactionCoordinatorShard::markers_written) with this marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMarker {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub coordinator_epoch: i32,
    /// COMMIT when true, ABORT when false.
    pub commit: bool,
    /// The transaction's partitions (topic, partition), sorted.
    pub partitions: Vec<(String, i32)>,
}
