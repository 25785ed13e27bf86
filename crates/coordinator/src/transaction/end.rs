//! The end of a transaction: EndTxn (and the aborts the coordinator decides itself: fencing at
//! InitProducerId, timeouts) writes PrepareCommit/PrepareAbort and hands out the markers; once
//! the runtime wrote them, `markers_written` writes CompleteCommit/CompleteAbort.

use super::errors::{
    CONCURRENT_TRANSACTIONS, INVALID_PRODUCER_ID_MAPPING, INVALID_REQUEST, INVALID_TXN_STATE, NONE,
    PRODUCER_FENCED,
};
use super::metadata::NO_PRODUCER_EPOCH;
use super::outcome::{TxnMarker, TxnOutcome};
use super::shard::TransactionCoordinatorShard;
use super::state::TxnState;

impl TransactionCoordinatorShard {
    /// EndTxn: commit (or abort) the producer's ongoing transaction. Replies NONE once the
    /// Prepare record is durable; the outcome's marker is then to be written. Retries of a
    /// finished end get NONE, of an end in progress CONCURRENT_TRANSACTIONS; the other end of
    /// the same transaction, or an end without a transaction, INVALID_TXN_STATE.
    pub fn end_txn(
        &mut self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        now_ms: i64,
    ) -> TxnOutcome<Result<(), i16>> {
        if transactional_id.is_empty() {
            return TxnOutcome::reply(Err(INVALID_REQUEST));
        }
        let Some(current) = self.txns.get(transactional_id) else {
            return TxnOutcome::reply(Err(INVALID_PRODUCER_ID_MAPPING));
        };
        if current.producer_id != producer_id {
            return TxnOutcome::reply(Err(INVALID_PRODUCER_ID_MAPPING));
        }
        if current.producer_epoch != producer_epoch {
            return TxnOutcome::reply(Err(PRODUCER_FENCED));
        }
        let code = match (current.state, commit) {
            (TxnState::Ongoing, _) => {
                let mut outcome = TxnOutcome::reply(Ok(()));
                self.prepare_end(transactional_id, commit, now_ms, &mut outcome);
                return outcome;
            }
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => NONE,
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                CONCURRENT_TRANSACTIONS
            }
            _ => INVALID_TXN_STATE,
        };
        TxnOutcome::reply(if code == NONE { Ok(()) } else { Err(code) })
    }

    /// The runtime wrote every marker of `marker` durably: the transaction completes
    /// (CompleteCommit/CompleteAbort record, no partitions). Ignored unless the transactional
    /// id is still in the matching Prepare state with the marker's producer id and epoch, and
    /// the marker is of this coordinator epoch.
    pub fn markers_written(&mut self, marker: &TxnMarker, now_ms: i64) -> TxnOutcome<()> {
        let Some(current) = self.txns.get(&marker.transactional_id) else {
            return TxnOutcome::reply(());
        };
        let expected = if marker.commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        if current.state != expected
            || current.producer_id != marker.producer_id
            || current.producer_epoch != marker.producer_epoch
            || marker.coordinator_epoch != self.coordinator_epoch
        {
            return TxnOutcome::reply(());
        }
        let mut outcome = TxnOutcome::reply(());
        self.complete(&marker.transactional_id, now_ms, &mut outcome);
        outcome
    }

    /// Fences the producer of `transactional_id`'s ongoing transaction (epoch bump, forgetting
    /// the last epoch so that no KIP-360 retry gets past it) and aborts the transaction with
    /// the new epoch, as Kafka's PrepareEpochFence → PrepareAbort does (only PrepareAbort is
    /// written). The producer id stays: the markers must carry the transaction's producer id;
    /// an exhausted epoch gets a new producer id at the next InitProducerId.
    pub(super) fn fence_and_abort<T>(
        &mut self,
        transactional_id: &str,
        now_ms: i64,
        outcome: &mut TxnOutcome<T>,
    ) {
        if let Some(metadata) = self.txns.get_mut(transactional_id) {
            // Never past i16::MAX; a producer never gets an epoch above i16::MAX - 1.
            metadata.producer_epoch = metadata.producer_epoch.saturating_add(1);
            metadata.last_producer_epoch = NO_PRODUCER_EPOCH;
            self.prepare_end(transactional_id, false, now_ms, outcome);
        }
    }

    /// Moves `transactional_id` from Ongoing to PrepareCommit/PrepareAbort and hands out its
    /// marker. A transaction without partitions has no marker to write: it completes at once
    /// (both records, as Kafka writes both).
    fn prepare_end<T>(
        &mut self,
        transactional_id: &str,
        commit: bool,
        now_ms: i64,
        outcome: &mut TxnOutcome<T>,
    ) {
        let Some(current) = self.txns.get(transactional_id) else {
            return;
        };
        let mut next = current.clone();
        next.state = if commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        next.txn_last_update_timestamp = now_ms;
        let marker = self.marker(transactional_id, &next);
        outcome.records.push(self.store(transactional_id, next));
        if marker.partitions.is_empty() {
            self.complete(transactional_id, now_ms, outcome);
        } else {
            outcome.markers.push(marker);
        }
    }

    /// Moves `transactional_id` from a Prepare state to the matching Complete state.
    fn complete<T>(&mut self, transactional_id: &str, now_ms: i64, outcome: &mut TxnOutcome<T>) {
        let Some(current) = self.txns.get(transactional_id) else {
            return;
        };
        let mut next = current.clone();
        next.state = if current.state == TxnState::PrepareCommit {
            TxnState::CompleteCommit
        } else {
            TxnState::CompleteAbort
        };
        next.partitions.clear();
        next.txn_last_update_timestamp = now_ms;
        outcome.records.push(self.store(transactional_id, next));
    }
}
