//! The transaction coordinator's configuration: the `transaction.*` and `transactional.id.*`
//! broker settings it obeys.

/// Settings of one transaction coordinator shard, named after Kafka's broker configs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnConfig {
    /// `transaction.max.timeout.ms`: the largest transaction timeout a producer may ask for.
    pub transaction_max_timeout_ms: i32,
    /// `transactional.id.expiration.ms`: how long a transactional id without a transaction in
    /// progress lives after its last update.
    pub transactional_id_expiration_ms: i64,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`: how often `poll` looks for
    /// transactions past their timeout.
    pub abort_timed_out_check_interval_ms: i64,
    /// `transaction.remove.expired.transaction.cleanup.interval.ms`: how often `poll` looks for
    /// expired transactional ids.
    pub remove_expired_check_interval_ms: i64,
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig {
            transaction_max_timeout_ms: 900_000,
            transactional_id_expiration_ms: 7 * 24 * 60 * 60 * 1000,
            abort_timed_out_check_interval_ms: 10_000,
            remove_expired_check_interval_ms: 3_600_000,
        }
    }
}
