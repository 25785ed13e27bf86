//! The state of one transactional id (Kafka's `TransactionMetadata`): its producer id and
//! epoch, the previous ones (for KIP-360 retries), its transaction timeout, and its current or
//! last transaction.

use std::collections::BTreeSet;

use super::records::TxnLogValue;
use super::state::TxnState;

/// Kafka's `RecordBatch.NO_PRODUCER_ID`.
pub const NO_PRODUCER_ID: i64 = -1;
/// Kafka's `RecordBatch.NO_PRODUCER_EPOCH`.
pub const NO_PRODUCER_EPOCH: i16 = -1;

/// One transactional id.
///
/// `last_producer_id` and `last_producer_epoch` are not in the log (value v0 has no room for
/// them): after a reload they are unknown (-1), as in Kafka, so a KIP-360 retry that spans a
/// coordinator restart is fenced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionMetadata {
    pub producer_id: i64,
    /// The producer id before the last InitProducerId (the same id after an epoch bump, the old
    /// one after the epochs ran out and a new id was allocated).
    pub last_producer_id: i64,
    pub producer_epoch: i16,
    /// The epoch the last InitProducerId bumped from when the producer named it (KIP-360),
    /// else -1.
    pub last_producer_epoch: i16,
    pub txn_timeout_ms: i32,
    pub state: TxnState,
    /// The partitions of the transaction in progress (topic, partition).
    pub partitions: BTreeSet<(String, i32)>,
    /// When the current (or last) transaction started, -1 when none did since InitProducerId.
    pub txn_start_timestamp: i64,
    pub txn_last_update_timestamp: i64,
}

/// Whether `epoch` leaves no room to fence its producer: Kafka never hands out `i16::MAX`, so
/// that a producer at any returned epoch can still be fenced by a bump.
pub fn is_epoch_exhausted(epoch: i16) -> bool {
    epoch >= i16::MAX - 1
}

impl TransactionMetadata {
    /// Whether the current epoch is exhausted (the next InitProducerId allocates a new
    /// producer id).
    pub fn is_producer_epoch_exhausted(&self) -> bool {
        is_epoch_exhausted(self.producer_epoch)
    }

    /// The log value of this state.
    pub fn to_value(&self) -> TxnLogValue {
        TxnLogValue {
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            txn_timeout_ms: self.txn_timeout_ms,
            state: self.state,
            partitions: self.partitions.clone(),
            last_update_timestamp_ms: self.txn_last_update_timestamp,
            start_timestamp_ms: self.txn_start_timestamp,
        }
    }

    /// The state a log value describes. Partitions of an `Empty` state are ignored, as Kafka
    /// ignores them.
    pub fn from_value(value: TxnLogValue) -> Self {
        TransactionMetadata {
            producer_id: value.producer_id,
            last_producer_id: NO_PRODUCER_ID,
            producer_epoch: value.producer_epoch,
            last_producer_epoch: NO_PRODUCER_EPOCH,
            txn_timeout_ms: value.txn_timeout_ms,
            state: value.state,
            partitions: if value.state == TxnState::Empty {
                BTreeSet::new()
            } else {
                value.partitions
            },
            txn_start_timestamp: value.start_timestamp_ms,
            txn_last_update_timestamp: value.last_update_timestamp_ms,
        }
    }
}
