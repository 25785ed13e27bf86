//! The partitions of a transaction: AddPartitionsToTxn (which starts the transaction), its
//! verify-only form and the produce-side check of KIP-890.

use super::errors::{
    CONCURRENT_TRANSACTIONS, INVALID_PRODUCER_ID_MAPPING, INVALID_REQUEST, INVALID_TXN_STATE, NONE,
    PRODUCER_FENCED,
};
use super::metadata::TransactionMetadata;
use super::outcome::TxnOutcome;
use super::shard::TransactionCoordinatorShard;
use super::state::TxnState;

/// A partition of a transaction: (topic, partition).
pub type TxnPartition = (String, i32);

impl TransactionCoordinatorShard {
    /// AddPartitionsToTxn (and AddOffsetsToTxn, with the group's `__consumer_offsets`
    /// partition): adds `partitions` to the producer's transaction, starting one when none is
    /// ongoing. Adding partitions already in the transaction changes nothing (no record).
    pub fn add_partitions(
        &mut self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[(String, i32)],
        now_ms: i64,
    ) -> TxnOutcome<Result<(), i16>> {
        let current = match self.check_producer(transactional_id, producer_id, producer_epoch) {
            Ok(current) => current,
            Err(code) => return TxnOutcome::reply(Err(code)),
        };
        if current.state.is_prepare() || current.state == TxnState::PrepareEpochFence {
            return TxnOutcome::reply(Err(CONCURRENT_TRANSACTIONS));
        }
        let ongoing = current.state == TxnState::Ongoing;
        if ongoing && partitions.iter().all(|p| current.partitions.contains(p)) {
            return TxnOutcome::reply(Ok(()));
        }
        let mut next = current.clone();
        if !ongoing {
            next.txn_start_timestamp = now_ms;
        }
        next.state = TxnState::Ongoing;
        next.partitions.extend(partitions.iter().cloned());
        next.txn_last_update_timestamp = now_ms;
        let record = self.store(transactional_id, next);
        TxnOutcome {
            reply: Ok(()),
            records: vec![record],
            markers: Vec::new(),
        }
    }

    /// AddPartitionsToTxn v4+ with `verify_only` (KIP-890): for each partition NONE when it is
    /// in the producer's transaction, else INVALID_TXN_STATE. Whole-request errors as in
    /// [`add_partitions`](Self::add_partitions).
    pub fn verify_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[(String, i32)],
    ) -> Result<Vec<(TxnPartition, i16)>, i16> {
        let current = self.check_producer(transactional_id, producer_id, producer_epoch)?;
        if current.state.is_prepare() || current.state == TxnState::PrepareEpochFence {
            return Err(CONCURRENT_TRANSACTIONS);
        }
        Ok(partitions
            .iter()
            .map(|p| {
                let code = if current.partitions.contains(p) {
                    NONE
                } else {
                    INVALID_TXN_STATE
                };
                (p.clone(), code)
            })
            .collect())
    }

    /// The produce-side check of KIP-890: whether `(topic, partition)` is in the Ongoing
    /// transaction of `producer_id` at `producer_epoch`.
    pub fn is_in_ongoing_txn(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        topic: &str,
        partition: i32,
    ) -> bool {
        self.by_producer_id
            .get(&producer_id)
            .and_then(|id| self.txns.get(id))
            .is_some_and(|m| {
                m.producer_id == producer_id
                    && m.producer_epoch == producer_epoch
                    && m.state == TxnState::Ongoing
                    && m.partitions.contains(&(topic.to_string(), partition))
            })
    }

    /// The transactional id's state, if the request's producer id and epoch are its current
    /// ones.
    fn check_producer(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
    ) -> Result<&TransactionMetadata, i16> {
        if transactional_id.is_empty() {
            return Err(INVALID_REQUEST);
        }
        let current = self
            .txns
            .get(transactional_id)
            .ok_or(INVALID_PRODUCER_ID_MAPPING)?;
        if current.producer_id != producer_id {
            return Err(INVALID_PRODUCER_ID_MAPPING);
        }
        if current.producer_epoch != producer_epoch {
            return Err(PRODUCER_FENCED);
        }
        Ok(current)
    }
}
