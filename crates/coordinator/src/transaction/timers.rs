//! The shard's timers, as Kafka's periodic tasks: aborting transactions past their timeout
//! (every `abort_timed_out_check_interval_ms`) and expiring transactional ids unused for
//! `transactional_id_expiration_ms` (every `remove_expired_check_interval_ms`). The first poll
//! only schedules both, as Kafka's tasks first run one interval after startup.

use super::outcome::TxnOutcome;
use super::shard::TransactionCoordinatorShard;
use super::state::TxnState;

impl TransactionCoordinatorShard {
    /// Fires the timers that are due at `now_ms`. A transaction whose start plus timeout is
    /// before `now_ms` is aborted with its producer fenced (epoch bump); the outcome carries
    /// the PrepareAbort records and the abort markers. A transactional id with no transaction
    /// in progress (Empty, CompleteCommit, CompleteAbort) whose last update is at least
    /// `transactional_id_expiration_ms` old is removed (tombstone).
    ///
    /// `_ids` is not called: as in Kafka, fencing keeps the producer id (the abort markers must
    /// carry the transaction's producer id) and an exhausted epoch gets a new producer id at
    /// the producer's next InitProducerId. It stays for the runtime's uniform calling shape.
    pub fn poll(
        &mut self,
        now_ms: i64,
        _ids: &mut dyn FnMut() -> Result<i64, i16>,
    ) -> TxnOutcome<()> {
        let mut outcome = TxnOutcome::reply(());
        let abort_interval = self.config.abort_timed_out_check_interval_ms.max(1);
        if due(&mut self.next_abort_check_ms, now_ms, abort_interval) {
            let timed_out: Vec<String> = self
                .txns
                .iter()
                .filter(|(_, m)| {
                    m.state == TxnState::Ongoing
                        && m.txn_start_timestamp
                            .saturating_add(i64::from(m.txn_timeout_ms))
                            < now_ms
                })
                .map(|(id, _)| id.clone())
                .collect();
            for id in timed_out {
                tracing::info!(transactional_id = %id, "aborting transaction past its timeout");
                self.fence_and_abort(&id, now_ms, &mut outcome);
            }
        }
        let expire_interval = self.config.remove_expired_check_interval_ms.max(1);
        if due(&mut self.next_expire_check_ms, now_ms, expire_interval) {
            let expiration = self.config.transactional_id_expiration_ms;
            let expired: Vec<String> = self
                .txns
                .iter()
                .filter(|(_, m)| {
                    m.state.is_idle()
                        && m.txn_last_update_timestamp <= now_ms.saturating_sub(expiration)
                })
                .map(|(id, _)| id.clone())
                .collect();
            for id in expired {
                tracing::debug!(transactional_id = %id, "transactional id expired");
                outcome.records.push(self.delete(&id));
            }
        }
        outcome
    }

    /// When `poll` should next run: the earlier of the two checks, or `i64::MIN` (now) before
    /// the first poll.
    pub fn next_deadline(&self) -> Option<i64> {
        let abort = self.next_abort_check_ms.unwrap_or(i64::MIN);
        let expire = self.next_expire_check_ms.unwrap_or(i64::MIN);
        Some(abort.min(expire))
    }
}

/// Whether a periodic check scheduled at `next` runs at `now_ms`; schedules the next one.
fn due(next: &mut Option<i64>, now_ms: i64, interval: i64) -> bool {
    match *next {
        Some(at) if now_ms < at => false,
        scheduled => {
            *next = Some(now_ms.saturating_add(interval));
            scheduled.is_some()
        }
    }
}
