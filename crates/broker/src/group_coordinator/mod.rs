//! The runtime around the group coordinator's state machines (`strom-coordinator`).
//!
//! Groups live in the shards of the internal topic `__consumer_offsets`: group `g` belongs to
//! partition `abs(hash(g)) % offsets.topic.num.partitions`. Each shard is a
//! [`GroupCoordinatorShard`] (pure state, no I/O) behind a lock, next to the partition that is
//! its log. An operation runs under the shard's lock and returns records; the runtime appends
//! them to the partition while still holding the lock (so the log's order is the state's order),
//! then, outside the lock, waits until they are durable before the client hears of the result.
//! At startup every shard is rebuilt by replaying its partition. Delayed answers (a JoinGroup
//! waiting for the other members, a SyncGroup waiting for the leader) come out of later
//! operations or timers as completions, delivered through one-shot channels.

pub(crate) mod load;
pub(crate) mod write;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use strom_coordinator::{
    Completion, DelayedResponse, GroupCoordinatorShard, Outcome, Reply, RequestId, ShardConfig,
};
use strom_protocol::ResponseError;
use tokio::sync::oneshot;

use strom_storage::{AppendInfo, AppendOrigin, StorageError};

use crate::error::ApiError;
use crate::partition::Partition;
use crate::server::{now_ms, Broker};

/// The internal topic that holds group metadata and committed offsets.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// One `__consumer_offsets` partition and the groups it holds.
pub struct Shard {
    pub partition: Arc<Partition>,
    state: Mutex<GroupCoordinatorShard>,
}

/// An operation's answer: now, or later through a channel.
pub enum Answer<T> {
    Now(T),
    Later(oneshot::Receiver<DelayedResponse>),
}

pub struct GroupCoordinator {
    shards: Arc<RwLock<HashMap<i32, Arc<Shard>>>>,
    /// The partition count of `__consumer_offsets` once it exists.
    num_partitions: RwLock<Option<i32>>,
    next_request_id: AtomicU64,
    pending: Mutex<HashMap<RequestId, oneshot::Sender<DelayedResponse>>>,
    /// Serializes creating and loading the topic.
    loading: Mutex<()>,
}

impl Default for GroupCoordinator {
    fn default() -> Self {
        Self::new()
    }
}

impl GroupCoordinator {
    pub fn new() -> Self {
        Self {
            shards: Arc::new(RwLock::new(HashMap::new())),
            num_partitions: RwLock::new(None),
            next_request_id: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
            loading: Mutex::new(()),
        }
    }

    fn shard_config(broker: &Broker) -> ShardConfig {
        let config = broker.config.read();
        ShardConfig {
            group_min_session_timeout_ms: config.group_min_session_timeout_ms(),
            group_max_session_timeout_ms: config.group_max_session_timeout_ms(),
            group_initial_rebalance_delay_ms: config.group_initial_rebalance_delay_ms(),
            offsets_retention_ms: config.offsets_retention_ms(),
            consumer_session_timeout_ms: config.group_consumer_session_timeout_ms(),
            consumer_heartbeat_interval_ms: config.group_consumer_heartbeat_interval_ms(),
            consumer_group_max_size: config.group_consumer_max_size().max(1) as usize,
            ..ShardConfig::default()
        }
    }

    /// Loads the shards of an existing `__consumer_offsets` (at startup). Blocking.
    pub fn load_existing(&self, broker: &Broker) {
        if broker.controller.image().topic(OFFSETS_TOPIC).is_some() {
            if let Err(error) = self.ensure_ready(broker) {
                tracing::error!(?error, "cannot load the group coordinator");
            }
        }
    }

    /// Creates `__consumer_offsets` if needed and loads every shard not loaded yet. Blocking.
    pub fn ensure_ready(&self, broker: &Broker) -> Result<(), ApiError> {
        if self.num_partitions.read().is_some() {
            return Ok(());
        }
        let _loading = self.loading.lock();
        if self.num_partitions.read().is_some() {
            return Ok(());
        }
        let partitions = broker.controller.ensure_coordinator_topic(
            OFFSETS_TOPIC,
            broker.config.read().offsets_topic_num_partitions(),
            "producer",
            broker.config.read().offsets_topic_segment_bytes(),
        )?;
        let config = Self::shard_config(broker);
        let started = std::time::Instant::now();
        let mut loaded = HashMap::new();
        for (index, partition) in partitions {
            let mut state = GroupCoordinatorShard::new(config.clone());
            load::replay_partition(&partition, &mut state);
            loaded.insert(
                index,
                Arc::new(Shard {
                    partition,
                    state: Mutex::new(state),
                }),
            );
        }
        tracing::info!(
            shards = loaded.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "group coordinator loaded"
        );
        let count = loaded.len() as i32;
        *self.shards.write() = loaded;
        *self.num_partitions.write() = Some(count);
        Ok(())
    }

    /// The `__consumer_offsets` partition of `group_id`, once the coordinator is ready.
    pub fn partition_for(&self, group_id: &str) -> Result<i32, ApiError> {
        match *self.num_partitions.read() {
            Some(partitions) => Ok(strom_coordinator::partition_for_group(group_id, partitions)),
            None => Err(ApiError::new(ResponseError::CoordinatorNotAvailable)),
        }
    }

    /// The shard that coordinates `group_id`, once the coordinator is ready.
    pub fn shard_for(&self, group_id: &str) -> Result<Arc<Shard>, ApiError> {
        let Some(partitions) = *self.num_partitions.read() else {
            return Err(ApiError::new(ResponseError::CoordinatorNotAvailable));
        };
        let index = strom_coordinator::partition_for_group(group_id, partitions);
        self.shards
            .read()
            .get(&index)
            .cloned()
            .ok_or_else(|| ApiError::new(ResponseError::CoordinatorNotAvailable))
    }

    /// Appends a transaction's end marker to a `__consumer_offsets` partition and, in the same
    /// critical section, applies (commit) or drops (abort) the producer's pending offsets.
    pub fn append_txn_marker(
        &self,
        partition: &Partition,
        marker: &[u8],
        producer_id: i64,
        commit: bool,
        now_ms: i64,
    ) -> Result<AppendInfo, StorageError> {
        let shard = self.shards.read().get(&partition.index).cloned();
        match shard {
            Some(shard) => {
                let mut state = shard.state.lock();
                let info = shard
                    .partition
                    .append(marker, AppendOrigin::Coordinator, now_ms)?;
                state.complete_transaction(producer_id, commit);
                Ok(info)
            }
            None => partition.append(marker, AppendOrigin::Coordinator, now_ms),
        }
    }

    /// Every loaded shard.
    pub fn shards(&self) -> Vec<Arc<Shard>> {
        self.shards.read().values().cloned().collect()
    }

    /// A handle on the shards for readers outside the request path (metrics).
    pub fn groups_view(&self) -> GroupsView {
        GroupsView {
            shards: Arc::clone(&self.shards),
        }
    }

    /// Runs a read-only operation on a shard. Its answer waits until every record the state it
    /// saw depends on is durable, so a reader never learns of a change a crash could undo.
    pub async fn read<T>(&self, shard: &Shard, op: impl FnOnce(&GroupCoordinatorShard) -> T) -> T {
        let (value, written) = {
            let state = shard.state.lock();
            (op(&state), shard.partition.log_end_offset())
        };
        shard.partition.wait_durable(written).await;
        value
    }

    /// Runs an operation on the shard, makes its records durable, delivers the completions it
    /// produced, and returns its answer.
    pub async fn run<T>(
        &self,
        shard: &Shard,
        op: impl FnOnce(&mut GroupCoordinatorShard, RequestId, i64) -> Outcome<T>,
    ) -> Answer<T> {
        self.run_as(shard, None, op).await
    }

    /// [`Self::run`] whose records are written on behalf of a transactional producer
    /// (`producer`: id and epoch), as one transactional batch (TxnOffsetCommit).
    pub async fn run_as<T>(
        &self,
        shard: &Shard,
        producer: Option<(i64, i16)>,
        op: impl FnOnce(&mut GroupCoordinatorShard, RequestId, i64) -> Outcome<T>,
    ) -> Answer<T> {
        let request_id = self.next_request_id.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = oneshot::channel();
        self.pending.lock().insert(request_id, sender);
        let (reply, completions, durable_at) = {
            let mut state = shard.state.lock();
            let now = now_ms();
            let outcome = op(&mut state, request_id, now);
            let wrote = write::append_records_as(&shard.partition, &outcome.records, producer, now);
            // Even an operation that wrote nothing may have read state whose records are still
            // on their way to disk: its answer waits for them too (free when they are durable).
            let durable_at = wrote.unwrap_or_else(|| shard.partition.log_end_offset());
            (outcome.reply, outcome.completions, durable_at)
        };
        shard.partition.wait_durable(durable_at).await;
        self.deliver(completions);
        match reply {
            Reply::Now(value) => {
                self.pending.lock().remove(&request_id);
                Answer::Now(value)
            }
            Reply::Later => Answer::Later(receiver),
        }
    }

    fn deliver(&self, completions: Vec<Completion>) {
        if completions.is_empty() {
            return;
        }
        let mut pending = self.pending.lock();
        for completion in completions {
            if let Some(sender) = pending.remove(&completion.request_id) {
                // The client may have gone; its answer then has nowhere to go.
                let _ = sender.send(completion.response);
            }
        }
    }

    /// Runs an operation that always answers at once on the shard of `group_id`.
    pub async fn run_now<T>(
        &self,
        group_id: &str,
        op: impl FnOnce(&mut GroupCoordinatorShard, i64) -> Outcome<T>,
    ) -> Result<T, ApiError> {
        let shard = self.shard_for(group_id)?;
        match self.run(&shard, |state, _, now| op(state, now)).await {
            Answer::Now(value) => Ok(value),
            Answer::Later(_) => Err(ApiError::new(ResponseError::UnknownServerError)),
        }
    }

    /// Removes every group's committed offsets for deleted topics (Kafka does this when topics
    /// are deleted, so a topic re-created under the same name starts without them).
    pub async fn delete_topic_offsets(&self, topics: &[String]) {
        if topics.is_empty() {
            return;
        }
        for shard in self.shards() {
            let _ = self
                .run(&shard, |state, _, _| state.delete_topic_offsets(topics))
                .await;
        }
    }

    /// Drops every shard (at shutdown, after the last request): waiting members get no answer,
    /// and the partitions can be closed.
    pub fn shutdown(&self) {
        self.shards.write().clear();
        *self.num_partitions.write() = None;
        self.pending.lock().clear();
    }

    /// Fires due timers on every shard (session and rebalance timeouts, offset expiration).
    pub async fn poll_all(&self) {
        for shard in self.shards() {
            let (completions, durable_at) = {
                let mut state = shard.state.lock();
                let now = now_ms();
                if state.next_deadline().is_none_or(|deadline| deadline > now) {
                    continue;
                }
                let outcome = state.poll(now);
                let durable_at = write::append_records(&shard.partition, &outcome.records, now);
                (outcome.completions, durable_at)
            };
            if let Some(offset) = durable_at {
                shard.partition.wait_durable(offset).await;
            }
            self.deliver(completions);
        }
    }
}

/// Waits for a delayed answer; a dropped sender (a shard that went away) is a coordinator error.
pub async fn delayed(receiver: oneshot::Receiver<DelayedResponse>) -> Option<DelayedResponse> {
    receiver.await.ok()
}

/// The groups as readers outside the request path see them (the consumer lag and rebalance
/// metrics, the admin API): a handle on the coordinator's shards that does not keep the broker
/// alive.
#[derive(Clone)]
pub struct GroupsView {
    shards: Arc<RwLock<HashMap<i32, Arc<Shard>>>>,
}

/// One committed offset: (group, topic, partition, offset).
pub type CommittedOffset = (String, String, i32, i64);

/// One committed offset of a known group: (topic, partition, offset).
pub type GroupCommittedOffset = (String, i32, i64);

impl GroupsView {
    /// The committed offsets of every group (pending transactional offsets not included), as
    /// the state is now (each shard's lock is held briefly).
    pub fn all(&self, now_ms: i64) -> Vec<CommittedOffset> {
        let shards: Vec<Arc<Shard>> = self.shards.read().values().cloned().collect();
        let mut out = Vec::new();
        for shard in shards {
            let state = shard.state.lock();
            let groups: Vec<String> = state.group_ids().map(str::to_string).collect();
            for group in groups {
                let Ok(offsets) = state.fetch_offsets(&group, None, now_ms) else {
                    continue;
                };
                out.extend(
                    offsets
                        .into_iter()
                        .filter(|o| o.committed_offset >= 0)
                        .map(|o| (group.clone(), o.topic, o.partition, o.committed_offset)),
                );
            }
        }
        out
    }

    /// Every group as it is now: protocol, state and members (the admin API's `/v1/groups`).
    pub fn groups(&self) -> Vec<GroupSnapshot> {
        let shards: Vec<Arc<Shard>> = self.shards.read().values().cloned().collect();
        let mut out = Vec::new();
        for shard in shards {
            let state = shard.state.lock();
            let ids: Vec<String> = state.group_ids().map(str::to_string).collect();
            out.extend(ids.iter().filter_map(|id| GroupSnapshot::of(&state, id)));
        }
        out
    }

    /// One group as it is now, if it exists, with its committed offsets (pending
    /// transactional offsets not included): (topic, partition, offset). Only the group's own
    /// shard is locked, once.
    pub fn group_with_offsets(
        &self,
        group_id: &str,
        now_ms: i64,
    ) -> Option<(GroupSnapshot, Vec<GroupCommittedOffset>)> {
        let shard = {
            let shards = self.shards.read();
            // Every partition of `__consumer_offsets` has its shard once loaded; none before.
            let partitions = i32::try_from(shards.len()).ok().filter(|n| *n > 0)?;
            let index = strom_coordinator::partition_for_group(group_id, partitions);
            shards.get(&index).cloned()?
        };
        let state = shard.state.lock();
        let group = GroupSnapshot::of(&state, group_id)?;
        let offsets = state
            .fetch_offsets(group_id, None, now_ms)
            .unwrap_or_default()
            .into_iter()
            .filter(|o| o.committed_offset >= 0)
            .map(|o| (o.topic, o.partition, o.committed_offset))
            .collect();
        Some((group, offsets))
    }

    /// Every group's rebalances since it was created or loaded: (group, count).
    pub fn rebalances(&self) -> Vec<(String, u64)> {
        let shards: Vec<Arc<Shard>> = self.shards.read().values().cloned().collect();
        let mut out = Vec::new();
        for shard in shards {
            let state = shard.state.lock();
            out.extend(
                state
                    .rebalances()
                    .map(|(group, count)| (group.to_owned(), count)),
            );
        }
        out
    }
}

/// A group as the admin API shows it, copied out of its shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSnapshot {
    pub group_id: String,
    /// `classic` (JoinGroup/SyncGroup) or `consumer` (KIP-848).
    pub group_type: &'static str,
    /// Kafka's state names (`Stable`, `PreparingRebalance`, `Empty`, ...).
    pub state: String,
    /// `consumer`, `connect`, ...; empty for a group that only commits offsets.
    pub protocol_type: String,
    pub members: Vec<MemberSnapshot>,
}

/// One member of a [`GroupSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSnapshot {
    pub member_id: String,
    pub client_id: String,
    pub client_host: String,
    /// What a classic member was assigned, as the group leader encoded it (the consumer
    /// protocol's `ConsumerProtocolAssignment` for `consumer` groups).
    pub classic_assignment: Option<bytes::Bytes>,
    /// What a consumer group member owns: (topic name, partitions), by topic name.
    pub assigned: Vec<(String, Vec<i32>)>,
}

impl GroupSnapshot {
    fn of(state: &GroupCoordinatorShard, group_id: &str) -> Option<GroupSnapshot> {
        if let Some(group) = state.classic_group(group_id) {
            let members = group
                .members
                .values()
                .map(|m| MemberSnapshot {
                    member_id: m.member_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    classic_assignment: Some(m.assignment.clone()),
                    assigned: Vec::new(),
                })
                .collect();
            return Some(GroupSnapshot {
                group_id: group_id.to_owned(),
                group_type: "classic",
                state: group.state.as_str().to_owned(),
                protocol_type: group.protocol_type.clone().unwrap_or_default(),
                members,
            });
        }
        let group = state.consumer_group(group_id)?;
        let name_of = |id: &uuid::Uuid| {
            group
                .subscription_metadata
                .iter()
                .find(|t| t.topic_id == *id)
                .map_or_else(|| id.to_string(), |t| t.name.clone())
        };
        let members = group
            .members
            .values()
            .map(|m| MemberSnapshot {
                member_id: m.member_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                classic_assignment: None,
                assigned: m
                    .assigned
                    .iter()
                    .map(|(id, partitions)| (name_of(id), partitions.iter().copied().collect()))
                    .collect(),
            })
            .collect();
        Some(GroupSnapshot {
            group_id: group_id.to_owned(),
            group_type: "consumer",
            state: group.state().as_str().to_owned(),
            protocol_type: "consumer".to_owned(),
            members,
        })
    }
}
