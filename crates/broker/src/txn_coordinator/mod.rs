//! The runtime around the transaction coordinator's state machines (`strom-coordinator`).
//!
//! Transactional ids live in the shards of the internal topic `__transaction_state`: id `t`
//! belongs to partition `abs(hash(t)) % transaction.state.log.num.partitions`, hashed as Java
//! hashes strings so the placement matches Kafka's. Each shard is a
//! [`TransactionCoordinatorShard`] (pure state) behind a lock, next to the partition that is its
//! log; operations run under the lock, their records are appended in the same critical
//! section, and the client hears of the result once they are durable. A transaction that
//! reaches PrepareCommit/PrepareAbort has its markers written by [`markers`] in the background;
//! once they are durable the shard completes it. At startup the shards are rebuilt by replaying
//! their partitions, and transactions caught between prepare and complete get their markers
//! written again (markers are idempotent for the partitions).

mod load;
pub mod markers;

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use strom_coordinator::transaction::{
    ListedTxn, TransactionCoordinatorShard, TxnConfig, TxnDescription, TxnMarker, TxnOutcome,
};
use strom_protocol::ResponseError;

use crate::error::ApiError;
use crate::group_coordinator::write;
use crate::partition::Partition;
use crate::server::{now_ms, Broker};

/// The internal topic that holds transaction state.
pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

/// The coordinator epoch markers carry. On one node the coordinator never moves, so it stays 0;
/// replication will bump it when a partition of `__transaction_state` changes leader.
const COORDINATOR_EPOCH: i32 = 0;

/// One `__transaction_state` partition and the transactional ids it holds.
pub struct TxnShard {
    pub partition: Arc<Partition>,
    state: Mutex<TransactionCoordinatorShard>,
}

/// The transaction coordinator of this broker.
pub struct TransactionCoordinator {
    shards: RwLock<HashMap<i32, Arc<TxnShard>>>,
    num_partitions: RwLock<Option<i32>>,
    /// Serializes creating and loading the topic.
    loading: Mutex<()>,
}

impl Default for TransactionCoordinator {
    fn default() -> Self {
        Self::new()
    }
}

impl TransactionCoordinator {
    pub fn new() -> Self {
        Self {
            shards: RwLock::new(HashMap::new()),
            num_partitions: RwLock::new(None),
            loading: Mutex::new(()),
        }
    }

    fn txn_config(broker: &Broker) -> TxnConfig {
        let config = broker.config.read();
        TxnConfig {
            transaction_max_timeout_ms: config.transaction_max_timeout_ms(),
            transactional_id_expiration_ms: i64::from(config.transactional_id_expiration_ms()),
            abort_timed_out_check_interval_ms: i64::from(
                config.transaction_abort_timed_out_cleanup_interval_ms(),
            ),
            remove_expired_check_interval_ms: i64::from(
                config.transaction_remove_expired_cleanup_interval_ms(),
            ),
        }
    }

    /// Loads the shards of an existing `__transaction_state` (at startup). Blocking. Returns
    /// the markers of transactions that were between prepare and complete.
    pub fn load_existing(&self, broker: &Broker) -> Vec<(Arc<TxnShard>, TxnMarker)> {
        if broker
            .controller
            .image()
            .topic(TRANSACTION_STATE_TOPIC)
            .is_none()
        {
            return Vec::new();
        }
        if let Err(error) = self.ensure_ready(broker) {
            tracing::error!(?error, "cannot load the transaction coordinator");
            return Vec::new();
        }
        self.shards()
            .into_iter()
            .flat_map(|shard| {
                let markers = shard.state.lock().pending_markers();
                markers.into_iter().map(move |m| (shard.clone(), m))
            })
            .collect()
    }

    /// Creates `__transaction_state` if needed and loads every shard. Blocking.
    pub fn ensure_ready(&self, broker: &Broker) -> Result<(), ApiError> {
        if self.num_partitions.read().is_some() {
            return Ok(());
        }
        let _loading = self.loading.lock();
        if self.num_partitions.read().is_some() {
            return Ok(());
        }
        let partitions = broker.controller.ensure_coordinator_topic(
            TRANSACTION_STATE_TOPIC,
            broker.config.read().transaction_state_log_num_partitions(),
            "uncompressed",
            broker.config.read().transaction_state_log_segment_bytes(),
        )?;
        let config = Self::txn_config(broker);
        let started = std::time::Instant::now();
        let mut loaded = HashMap::new();
        for (index, partition) in partitions {
            let mut state = TransactionCoordinatorShard::new(config.clone(), COORDINATOR_EPOCH);
            load::replay_partition(&partition, &mut state);
            loaded.insert(
                index,
                Arc::new(TxnShard {
                    partition,
                    state: Mutex::new(state),
                }),
            );
        }
        tracing::info!(
            shards = loaded.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "transaction coordinator loaded"
        );
        let count = loaded.len() as i32;
        *self.shards.write() = loaded;
        *self.num_partitions.write() = Some(count);
        Ok(())
    }

    /// The shard that coordinates `transactional_id`, once the coordinator is ready.
    pub fn shard_for(&self, transactional_id: &str) -> Result<Arc<TxnShard>, ApiError> {
        let Some(partitions) = *self.num_partitions.read() else {
            return Err(ApiError::new(ResponseError::CoordinatorNotAvailable));
        };
        let index = strom_coordinator::partition_for_group(transactional_id, partitions);
        self.shards
            .read()
            .get(&index)
            .cloned()
            .ok_or_else(|| ApiError::new(ResponseError::CoordinatorNotAvailable))
    }

    /// Every loaded shard.
    pub fn shards(&self) -> Vec<Arc<TxnShard>> {
        self.shards.read().values().cloned().collect()
    }

    /// KIP-890's produce-side check: is `topic`-`partition` in the ongoing transaction of this
    /// producer id at this epoch?
    pub fn is_in_ongoing_txn(
        &self,
        producer_id: i64,
        epoch: i16,
        topic: &str,
        partition: i32,
    ) -> bool {
        self.shards.read().values().any(|shard| {
            shard
                .state
                .lock()
                .is_in_ongoing_txn(producer_id, epoch, topic, partition)
        })
    }

    /// Every transaction, filtered (ListTransactions).
    pub fn list(
        &self,
        states: &[String],
        producer_ids: &[i64],
        duration_filter_ms: i64,
    ) -> Vec<ListedTxn> {
        let now = now_ms();
        let mut listed: Vec<ListedTxn> = self
            .shards()
            .iter()
            .flat_map(|shard| {
                shard
                    .state
                    .lock()
                    .list_transactions(states, producer_ids, duration_filter_ms, now)
            })
            .collect();
        listed.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        listed
    }

    /// One transactional id's state (DescribeTransactions).
    pub fn describe(&self, transactional_id: &str) -> Result<Option<TxnDescription>, ApiError> {
        let shard = self.shard_for(transactional_id)?;
        let description = shard.state.lock().describe(transactional_id);
        Ok(description)
    }

    /// Drops every shard (at shutdown, after the last request).
    pub fn shutdown(&self) {
        self.shards.write().clear();
        *self.num_partitions.write() = None;
    }
}

/// Runs an operation on the shard of `transactional_id` (creating and loading the coordinator
/// first if needed), makes its records durable, starts writing the markers it asked for, and
/// returns its answer.
pub async fn run<T: Send + 'static>(
    broker: &Arc<Broker>,
    transactional_id: &str,
    op: impl FnOnce(
            &mut TransactionCoordinatorShard,
            i64,
            &mut dyn FnMut() -> Result<i64, i16>,
        ) -> TxnOutcome<T>
        + Send
        + 'static,
) -> Result<T, ApiError> {
    let shard = ready_shard(broker, transactional_id).await?;
    Ok(run_and_mark(broker, &shard, None, op).await)
}

/// The shard of `transactional_id`, creating and loading the coordinator first if needed.
async fn ready_shard(
    broker: &Arc<Broker>,
    transactional_id: &str,
) -> Result<Arc<TxnShard>, ApiError> {
    let id = transactional_id.to_string();
    crate::apis::blocking(broker, move |broker| {
        broker.txns.ensure_ready(broker)?;
        broker.txns.shard_for(&id)
    })
    .await
}

/// [`run_on`], then starts writing the markers the operation asked for.
async fn run_and_mark<T>(
    broker: &Arc<Broker>,
    shard: &Arc<TxnShard>,
    spare_id: Option<i64>,
    op: impl FnOnce(
        &mut TransactionCoordinatorShard,
        i64,
        &mut dyn FnMut() -> Result<i64, i16>,
    ) -> TxnOutcome<T>,
) -> T {
    let (reply, markers) = run_on(shard, spare_id, op).await;
    for marker in markers {
        markers::spawn(broker.clone(), shard.clone(), marker);
    }
    reply
}

/// [`run`] on a known shard; returns the answer and the markers to write.
///
/// The operation may take one new producer id, `spare_id`, allocated by the caller before the
/// shard's lock: allocating may write the metadata log, and the controller takes partition log
/// locks under its own lock, while a produce asks the shards (KIP-890) under a partition log
/// lock — waiting for the controller under a shard lock would close that circle. An operation
/// that needs an id it was not given gets CONCURRENT_TRANSACTIONS and the client retries.
async fn run_on<T>(
    shard: &Arc<TxnShard>,
    spare_id: Option<i64>,
    op: impl FnOnce(
        &mut TransactionCoordinatorShard,
        i64,
        &mut dyn FnMut() -> Result<i64, i16>,
    ) -> TxnOutcome<T>,
) -> (T, Vec<TxnMarker>) {
    let (reply, markers, durable_at) = {
        let mut state = shard.state.lock();
        let now = now_ms();
        let mut spare = spare_id;
        let mut ids = || {
            spare
                .take()
                .ok_or(ResponseError::ConcurrentTransactions.code())
        };
        let outcome = op(&mut state, now, &mut ids);
        let wrote = write::append_records(&shard.partition, &outcome.records, now);
        let durable_at = wrote.unwrap_or_else(|| shard.partition.log_end_offset());
        (outcome.reply, outcome.markers, durable_at)
    };
    shard.partition.wait_durable(durable_at).await;
    (reply, markers)
}

/// InitProducerId for a transactional id. A new id (or one whose epochs are exhausted) needs a
/// fresh producer id, allocated before the shard's lock is taken (see [`run_on`]).
pub async fn init_producer_id(
    broker: &Arc<Broker>,
    transactional_id: String,
    timeout_ms: i32,
    expected: Option<(i64, i16)>,
) -> Result<(i64, i16), i16> {
    let shard = ready_shard(broker, &transactional_id)
        .await
        .map_err(|error| error.code)?;
    let needs_id = shard
        .state
        .lock()
        .metadata(&transactional_id)
        .is_none_or(|txn| txn.producer_epoch >= i16::MAX - 2);
    let spare_id = if needs_id {
        let allocated =
            crate::apis::blocking(broker, |broker| broker.controller.allocate_producer_id()).await;
        Some(allocated.map_err(|error| error.code)?)
    } else {
        None
    };
    run_and_mark(broker, &shard, spare_id, move |state, now, ids| {
        state.init_producer_id(&transactional_id, timeout_ms, expected, now, ids)
    })
    .await
}

/// Fires due timers on every shard: transactions past their timeout are aborted, idle
/// transactional ids expire.
pub async fn poll_all(broker: &Arc<Broker>) {
    for shard in broker.txns.shards() {
        let due = {
            let state = shard.state.lock();
            state
                .next_deadline()
                .is_some_and(|deadline| deadline <= now_ms())
        };
        if !due {
            continue;
        }
        run_and_mark(broker, &shard, None, |state, now, ids| state.poll(now, ids)).await;
    }
}

/// Called by [`markers`] once every marker of `marker` is durable.
async fn complete(shard: &Arc<TxnShard>, marker: &TxnMarker) {
    let _ = run_on(shard, None, |state, now, _| {
        state.markers_written(marker, now)
    })
    .await;
}
