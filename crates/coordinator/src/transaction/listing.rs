//! The admin views of the shard: ListTransactions (KIP-664, with KIP-994's duration filter)
//! and DescribeTransactions.

use super::shard::TransactionCoordinatorShard;
use super::state::TxnState;

/// One entry of a ListTransactions answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedTxn {
    pub transactional_id: String,
    pub producer_id: i64,
    /// Kafka's state name ("Ongoing", "PrepareCommit", "CompleteAbort", "Empty", ...).
    pub state: String,
}

/// A DescribeTransactions answer for one transactional id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnDescription {
    /// Kafka's state name.
    pub state: String,
    pub timeout_ms: i32,
    /// When the current (or last) transaction started; -1 when none did since InitProducerId.
    pub start_timestamp_ms: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// The transaction's partitions (topic, partition), sorted.
    pub partitions: Vec<(String, i32)>,
}

impl TransactionCoordinatorShard {
    /// The shard's transactions matching every filter: `state_filters` (Kafka state names; empty
    /// = all, unknown names match nothing), `producer_id_filters` (empty = all) and
    /// `duration_filter_ms` (negative = all, else only transactions started more than that long
    /// before `now_ms`, as Kafka compares it: an id with no transaction has start -1).
    pub fn list_transactions(
        &self,
        state_filters: &[String],
        producer_id_filters: &[i64],
        duration_filter_ms: i64,
        now_ms: i64,
    ) -> Vec<ListedTxn> {
        self.txns
            .iter()
            .filter(|(_, m)| {
                m.state != TxnState::Dead
                    && (producer_id_filters.is_empty()
                        || producer_id_filters.contains(&m.producer_id))
                    && (state_filters.is_empty()
                        || state_filters.iter().any(|s| s == m.state.name()))
                    && (duration_filter_ms < 0
                        || now_ms.saturating_sub(m.txn_start_timestamp) > duration_filter_ms)
            })
            .map(|(id, m)| ListedTxn {
                transactional_id: id.clone(),
                producer_id: m.producer_id,
                state: m.state.name().to_string(),
            })
            .collect()
    }

    /// DescribeTransactions for `transactional_id`; `None` when the shard does not know it
    /// (TRANSACTIONAL_ID_NOT_FOUND).
    pub fn describe(&self, transactional_id: &str) -> Option<TxnDescription> {
        let m = self.txns.get(transactional_id)?;
        if m.state == TxnState::Dead {
            return None;
        }
        Some(TxnDescription {
            state: m.state.name().to_string(),
            timeout_ms: m.txn_timeout_ms,
            start_timestamp_ms: m.txn_start_timestamp,
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            partitions: m.partitions.iter().cloned().collect(),
        })
    }
}
