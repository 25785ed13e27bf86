//! InitProducerId for a transactional id: a new producer id for a new transactional id, else
//! the next epoch of the current one (fencing older producers), a new producer id when the
//! epochs run out, the abort of a transaction left open by a previous producer, and the KIP-360
//! rules for a producer that names the id and epoch it had.

use std::collections::BTreeSet;

use super::errors::{
    CONCURRENT_TRANSACTIONS, INVALID_REQUEST, INVALID_TRANSACTION_TIMEOUT, PRODUCER_FENCED,
};
use super::metadata::{is_epoch_exhausted, TransactionMetadata, NO_PRODUCER_EPOCH, NO_PRODUCER_ID};
use super::outcome::TxnOutcome;
use super::shard::TransactionCoordinatorShard;
use super::state::TxnState;

impl TransactionCoordinatorShard {
    /// InitProducerId with a transactional id. `expected` is the request's producer id and
    /// epoch when the producer names them (KIP-360; the handler maps `(-1, -1)` to `None`).
    /// `ids` allocates a new producer id; its error code is returned as is.
    ///
    /// Replies with the producer id and epoch, or an error code. An open transaction is aborted
    /// first with the epoch bumped (fencing its producer): the reply is then
    /// CONCURRENT_TRANSACTIONS and the outcome carries the abort's markers; the client retries
    /// and gets its epoch once the abort completed.
    pub fn init_producer_id(
        &mut self,
        transactional_id: &str,
        txn_timeout_ms: i32,
        expected: Option<(i64, i16)>,
        now_ms: i64,
        ids: &mut dyn FnMut() -> Result<i64, i16>,
    ) -> TxnOutcome<Result<(i64, i16), i16>> {
        if transactional_id.is_empty() {
            return TxnOutcome::reply(Err(INVALID_REQUEST));
        }
        if txn_timeout_ms <= 0 || txn_timeout_ms > self.config.transaction_max_timeout_ms {
            return TxnOutcome::reply(Err(INVALID_TRANSACTION_TIMEOUT));
        }
        let Some(current) = self.txns.get(transactional_id).cloned() else {
            return self.init_new(transactional_id, txn_timeout_ms, now_ms, ids);
        };
        if let Some(expected) = expected {
            if !is_valid_producer_id(&current, expected) {
                return TxnOutcome::reply(Err(PRODUCER_FENCED));
            }
        }
        match current.state {
            TxnState::PrepareCommit
            | TxnState::PrepareAbort
            | TxnState::PrepareEpochFence
            | TxnState::Dead => TxnOutcome::reply(Err(CONCURRENT_TRANSACTIONS)),
            TxnState::Ongoing => {
                let mut outcome = TxnOutcome::reply(Err(CONCURRENT_TRANSACTIONS));
                self.fence_and_abort(transactional_id, now_ms, &mut outcome);
                outcome
            }
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {
                let next = if current.is_producer_epoch_exhausted()
                    && expected.is_none_or(|(_, epoch)| epoch == current.producer_epoch)
                {
                    let producer_id = match ids() {
                        Ok(id) => id,
                        Err(code) => return TxnOutcome::reply(Err(code)),
                    };
                    TransactionMetadata {
                        producer_id,
                        last_producer_id: current.producer_id,
                        producer_epoch: 0,
                        last_producer_epoch: if expected.is_some() {
                            current.producer_epoch
                        } else {
                            NO_PRODUCER_EPOCH
                        },
                        ..reset(&current, txn_timeout_ms, now_ms)
                    }
                } else {
                    let (producer_epoch, last_producer_epoch) =
                        match next_epochs(&current, expected.map(|(_, epoch)| epoch)) {
                            Ok(epochs) => epochs,
                            Err(code) => return TxnOutcome::reply(Err(code)),
                        };
                    TransactionMetadata {
                        producer_id: current.producer_id,
                        last_producer_id: current.producer_id,
                        producer_epoch,
                        last_producer_epoch,
                        ..reset(&current, txn_timeout_ms, now_ms)
                    }
                };
                let reply = Ok((next.producer_id, next.producer_epoch));
                let record = self.store(transactional_id, next);
                TxnOutcome {
                    reply,
                    records: vec![record],
                    markers: Vec::new(),
                }
            }
        }
    }

    fn init_new(
        &mut self,
        transactional_id: &str,
        txn_timeout_ms: i32,
        now_ms: i64,
        ids: &mut dyn FnMut() -> Result<i64, i16>,
    ) -> TxnOutcome<Result<(i64, i16), i16>> {
        let producer_id = match ids() {
            Ok(id) => id,
            Err(code) => return TxnOutcome::reply(Err(code)),
        };
        let metadata = TransactionMetadata {
            producer_id,
            last_producer_id: NO_PRODUCER_ID,
            producer_epoch: 0,
            last_producer_epoch: NO_PRODUCER_EPOCH,
            txn_timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            txn_start_timestamp: -1,
            txn_last_update_timestamp: now_ms,
        };
        let record = self.store(transactional_id, metadata);
        TxnOutcome {
            reply: Ok((producer_id, 0)),
            records: vec![record],
            markers: Vec::new(),
        }
    }
}

/// KIP-360: a producer naming its id and epoch is fenced unless the id is the current one (the
/// epoch is checked by [`next_epochs`]), or the previous one with an exhausted epoch (a retry of
/// the call that allocated the current id, whose answer was lost).
fn is_valid_producer_id(current: &TransactionMetadata, (producer_id, epoch): (i64, i16)) -> bool {
    current.producer_epoch == NO_PRODUCER_EPOCH
        || producer_id == current.producer_id
        || (producer_id == current.last_producer_id && is_epoch_exhausted(epoch))
}

/// The (epoch, last epoch) after InitProducerId bumps `current`'s epoch (which is not
/// exhausted unless `expected` differs from it, in which case this never bumps).
fn next_epochs(current: &TransactionMetadata, expected: Option<i16>) -> Result<(i16, i16), i16> {
    let bumped = current.producer_epoch.saturating_add(1);
    match expected {
        // A new producer: fence every older one.
        None => Ok((bumped, NO_PRODUCER_EPOCH)),
        // The producer recovers from an error and nobody else took over: bump, remembering the
        // epoch it had so that a retry of this call gets the same answer.
        Some(epoch)
            if (current.producer_epoch == NO_PRODUCER_EPOCH || epoch == current.producer_epoch)
                && !current.is_producer_epoch_exhausted() =>
        {
            Ok((bumped, current.producer_epoch))
        }
        // A retry of a bump that succeeded: the same answer again. A new producer since would
        // have reset the last epoch to -1.
        Some(epoch) if epoch == current.last_producer_epoch && epoch != NO_PRODUCER_EPOCH => {
            Ok((current.producer_epoch, current.last_producer_epoch))
        }
        Some(_) => Err(PRODUCER_FENCED),
    }
}

/// `current` with no transaction: state Empty, no partitions, the new timeout.
fn reset(current: &TransactionMetadata, txn_timeout_ms: i32, now_ms: i64) -> TransactionMetadata {
    TransactionMetadata {
        txn_timeout_ms,
        state: TxnState::Empty,
        partitions: BTreeSet::new(),
        txn_start_timestamp: -1,
        txn_last_update_timestamp: now_ms,
        ..current.clone()
    }
}
