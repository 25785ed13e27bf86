//! One group coordinator shard: the groups and offsets of one `__consumer_offsets` partition.
//! It routes each request to its group, answers the group-level APIs (describe, list, delete),
//! rebuilds its state from the partition's records (`replay`) and fires timers (`poll`).
//!
//! Offset commits, offset deletions and group deletions produce records and then apply them
//! through the same code as `replay`, so the state after a restart is the state before it.
//! Classic group transitions mutate the group directly and write its metadata record at the
//! moments Kafka does (new group, join phase ending Empty, leader's SyncGroup, static member
//! replacement); `replay` rebuilds the group as of its last record (Empty or Stable).
//! Consumer groups (KIP-848, [`crate::consumer`]) change only through their records, applied
//! as they are produced, so `replay` rebuilds them exactly.

use std::collections::BTreeMap;

use strom_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use strom_protocol::messages::leave_group_response::MemberResponse;
use strom_protocol::messages::list_groups_response::ListedGroup;
use strom_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use strom_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use strom_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use strom_protocol::messages::{
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, OffsetCommitRequest, OffsetCommitResponse, OffsetDeleteRequest,
    OffsetDeleteResponse, SyncGroupRequest, SyncGroupResponse, TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
};
use strom_protocol::{str_bytes, ResponseError, StrBytes};

use crate::classic::group::{ClassicGroup, ClassicGroupState, CONSUMER_PROTOCOL_TYPE};
use crate::classic::join::JoinParams;
use crate::classic::NONE;
use crate::classic::{join_error, sync_error, Ctx};
use crate::config::ShardConfig;
use crate::consumer;
use crate::consumer::group::ConsumerGroup;
use crate::consumer::records::ConsumerRecord;
use crate::offsets::{
    offset_record, offset_tombstone, validate_consumer_offset_commit,
    validate_consumer_offset_fetch, validate_consumer_txn_offset_commit, validate_offset_commit,
    validate_txn_offset_commit, FetchedOffset, OffsetAndMetadata, OffsetStore,
};
use crate::outcome::{
    Completion, CoordinatorRecord, DelayedResponse, Effects, Outcome, Reply, RequestId,
};
use crate::records::{GroupMetadataValue, OffsetCommitValue, RecordError, RecordKey};
use crate::txn_offsets::PendingTxnOffsets;

/// A group of any protocol.
///
/// An empty group of one protocol is replaced by a group of the other when a member of the other
/// protocol joins (ConsumerGroupHeartbeat with epoch 0, or JoinGroup). A non-empty group refuses
/// the other protocol: ConsumerGroupHeartbeat gets GROUP_ID_NOT_FOUND, JoinGroup
/// INCONSISTENT_GROUP_PROTOCOL and the other classic APIs UNKNOWN_MEMBER_ID (Strom does not mix
/// classic members into consumer groups).
// Groups live in the shard's map and are rarely moved; boxing would only add indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Group {
    /// A group of the classic protocol (JoinGroup/SyncGroup).
    Classic(ClassicGroup),
    /// A group of the consumer protocol (KIP-848: ConsumerGroupHeartbeat, server-side assignment).
    Consumer(ConsumerGroup),
}

impl Group {
    pub(crate) fn classic(&self) -> Option<&ClassicGroup> {
        match self {
            Group::Classic(g) => Some(g),
            Group::Consumer(_) => None,
        }
    }

    pub(crate) fn classic_mut(&mut self) -> Option<&mut ClassicGroup> {
        match self {
            Group::Classic(g) => Some(g),
            Group::Consumer(_) => None,
        }
    }

    pub(crate) fn consumer(&self) -> Option<&ConsumerGroup> {
        match self {
            Group::Consumer(g) => Some(g),
            Group::Classic(_) => None,
        }
    }

    fn is_subscribed_to_topic(&self, topic: &str) -> bool {
        match self {
            Group::Classic(g) => g.is_subscribed_to_topic(topic),
            Group::Consumer(g) => g.is_subscribed_to_topic(topic),
        }
    }
}

/// The group coordinator state of one `__consumer_offsets` partition. See the crate docs for
/// how the runtime drives it.
#[derive(Debug, Clone)]
pub struct GroupCoordinatorShard {
    pub(crate) config: ShardConfig,
    pub(crate) groups: BTreeMap<String, Group>,
    pub(crate) offsets: OffsetStore,
    /// Offsets of open transactions (TxnOffsetCommit), by producer id ([`crate::txn_offsets`]).
    pub(crate) pending_txn_offsets: PendingTxnOffsets,
    /// The log-order stamp of the next applied offset record
    /// ([`OffsetAndMetadata::log_order`]).
    next_log_order: i64,
    /// When `poll` next looks for expired offsets; `None` until the first poll.
    next_offsets_cleanup_ms: Option<i64>,
}

/// Turns the completion of `request_id` produced by the same call into an immediate reply.
fn settle<T>(
    reply: Reply<T>,
    request_id: RequestId,
    completions: &mut Vec<Completion>,
    extract: impl Fn(DelayedResponse) -> Option<T>,
) -> Reply<T> {
    if let Reply::Later = reply {
        if let Some(i) = completions.iter().position(|c| c.request_id == request_id) {
            let completion = completions.remove(i);
            if let Some(response) = extract(completion.response) {
                return Reply::Now(response);
            }
        }
    }
    reply
}

fn sb(s: &str) -> StrBytes {
    str_bytes(s.to_string())
}

impl GroupCoordinatorShard {
    pub fn new(config: ShardConfig) -> Self {
        GroupCoordinatorShard {
            config,
            groups: BTreeMap::new(),
            offsets: OffsetStore::default(),
            pending_txn_offsets: PendingTxnOffsets::default(),
            next_log_order: 0,
            next_offsets_cleanup_ms: None,
        }
    }

    pub fn config(&self) -> &ShardConfig {
        &self.config
    }

    /// The classic group `group_id`, if it exists (for diagnostics and tests).
    pub fn classic_group(&self, group_id: &str) -> Option<&ClassicGroup> {
        self.groups.get(group_id).and_then(Group::classic)
    }

    /// The consumer group `group_id`, if it exists (for diagnostics and tests).
    pub fn consumer_group(&self, group_id: &str) -> Option<&ConsumerGroup> {
        self.groups.get(group_id).and_then(Group::consumer)
    }

    /// The ids of the shard's groups.
    pub fn group_ids(&self) -> impl Iterator<Item = &str> {
        self.groups.keys().map(String::as_str)
    }

    /// Every group with its rebalances (classic generations, consumer group epochs) since it
    /// was created or loaded.
    pub fn rebalances(&self) -> impl Iterator<Item = (&str, u64)> {
        self.groups.iter().map(|(id, group)| {
            let count = match group {
                Group::Classic(g) => g.rebalances,
                Group::Consumer(g) => g.rebalances,
            };
            (id.as_str(), count)
        })
    }

    /// Applies one record of the partition (at load) from a batch that is not transactional.
    /// Unknown key versions (records of features Strom lacks) are skipped with a warning;
    /// undecodable records are errors. Records must be replayed in log order (with
    /// [`Self::replay_transactional`] and [`Self::replay_end_transaction`] for transactional
    /// and control batches).
    pub fn replay(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), RecordError> {
        self.replay_record(None, None, key, value)
    }

    /// Applies one record of a transactional batch of `producer_id` (at load), at log offset
    /// `record_offset`: an offset commit stays pending until the transaction's marker
    /// ([`Self::replay_end_transaction`]); any other record (and an offset tombstone) applies
    /// as in [`Self::replay`].
    pub fn replay_transactional(
        &mut self,
        producer_id: i64,
        key: &[u8],
        value: Option<&[u8]>,
        record_offset: i64,
    ) -> Result<(), RecordError> {
        self.replay_record(Some(producer_id), Some(record_offset), key, value)
    }

    /// Applies the end-transaction marker (control batch) of `producer_id` (at load): the same
    /// as [`Self::complete_transaction`].
    pub fn replay_end_transaction(&mut self, producer_id: i64, commit: bool) {
        self.complete_transaction(producer_id, commit);
    }

    /// The stamp of the offset record applied now; `record_offset` (its log offset, when known)
    /// raises the counter so that stamps equal log offsets where the replay gives them.
    fn stamp(&mut self, record_offset: Option<i64>) -> i64 {
        let stamp = record_offset.map_or(self.next_log_order, |o| o.max(self.next_log_order));
        self.next_log_order = stamp.saturating_add(1);
        stamp
    }

    /// Applies one record; `producer_id` when it belongs to a transactional batch.
    fn replay_record(
        &mut self,
        producer_id: Option<i64>,
        record_offset: Option<i64>,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<(), RecordError> {
        if let Some(record) = ConsumerRecord::decode(key, value)? {
            self.apply_consumer_record(&record);
            return Ok(());
        }
        let Some(key) = RecordKey::decode(key)? else {
            tracing::warn!(
                key_version = key.get(..2).map(|v| i16::from_be_bytes([v[0], v[1]])),
                "skipping __consumer_offsets record of unknown key version"
            );
            return Ok(());
        };
        match key {
            RecordKey::OffsetCommit {
                group,
                topic,
                partition,
            } => {
                let value = value.map(OffsetCommitValue::decode).transpose()?;
                let offset = value.map(|v| {
                    let stamp = self.stamp(record_offset);
                    OffsetAndMetadata::from_value(&v, stamp)
                });
                match (producer_id, offset) {
                    (Some(producer_id), Some(offset)) => {
                        self.ensure_group(&group);
                        self.pending_txn_offsets.add(
                            producer_id,
                            &group,
                            &topic,
                            partition,
                            offset,
                        );
                    }
                    (_, offset) => self.apply_offset(&group, &topic, partition, offset),
                }
            }
            RecordKey::GroupMetadata { group } => match value {
                Some(value) => {
                    let value = GroupMetadataValue::decode(value)?;
                    self.groups.insert(
                        group.clone(),
                        Group::Classic(ClassicGroup::from_record(&group, &value)),
                    );
                }
                None => {
                    self.groups.remove(&group);
                }
            },
        }
        Ok(())
    }

    /// Applies a consumer group record: creates the group at its first record (replacing a
    /// classic group of the same id, which a tombstone should have deleted already) and deletes
    /// it at the tombstone of its group epoch. Tombstones of unknown groups are ignored.
    fn apply_consumer_record(&mut self, record: &ConsumerRecord) {
        let group_id = record.group();
        let exists = matches!(self.groups.get(group_id), Some(Group::Consumer(_)));
        if let ConsumerRecord::GroupEpoch { epoch: None, .. } = record {
            if exists {
                self.groups.remove(group_id);
            }
            return;
        }
        if record.is_tombstone() && !exists {
            return;
        }
        let entry = self
            .groups
            .entry(group_id.to_string())
            .or_insert_with(|| Group::Consumer(ConsumerGroup::new(group_id)));
        if let Group::Classic(_) = entry {
            tracing::warn!(group = %group_id, "consumer group record replaces a classic group");
            *entry = Group::Consumer(ConsumerGroup::new(group_id));
        }
        if let Group::Consumer(group) = entry {
            group.apply(record);
        }
    }

    /// A commit for a group that does not exist creates a "simple" group: Empty, without
    /// protocol type (Kafka does the same, also for transactional commits).
    fn ensure_group(&mut self, group: &str) {
        if !self.groups.contains_key(group) {
            let mut simple = ClassicGroup::new(group, 0);
            simple.current_state_timestamp = None;
            self.groups
                .insert(group.to_string(), Group::Classic(simple));
        }
    }

    /// Applies an offset commit (or its tombstone, which also drops the partition's pending
    /// offsets of every open transaction, as Kafka does).
    fn apply_offset(
        &mut self,
        group: &str,
        topic: &str,
        partition: i32,
        value: Option<OffsetAndMetadata>,
    ) {
        if value.is_some() {
            self.ensure_group(group);
        }
        let removed = value.is_none();
        self.offsets.apply(group, topic, partition, value);
        if removed {
            self.pending_txn_offsets
                .remove_partition(group, topic, partition);
            self.remove_if_orphan_simple_group(group);
        }
    }

    /// A simple group exists only through its offsets (it has no record of its own), so it
    /// goes with its last offset, once no open transaction committed offsets for it; otherwise
    /// a restart would not find it either.
    fn remove_if_orphan_simple_group(&mut self, group: &str) {
        if self.offsets.has_offsets(group)
            || self.pending_txn_offsets.has_open_transactions_for(group)
        {
            return;
        }
        let is_simple = self
            .groups
            .get(group)
            .and_then(Group::classic)
            .is_some_and(|g| {
                g.last_record.is_none()
                    && g.members.is_empty()
                    && g.pending_join_members.is_empty()
                    && g.is_in(ClassicGroupState::Empty)
            });
        if is_simple {
            self.groups.remove(group);
        }
    }

    /// Applies records this shard produced (offsets and tombstones) through the replay path.
    fn apply_records(&mut self, records: &[CoordinatorRecord]) {
        for record in records {
            if let Err(error) = self.replay(&record.key, record.value.as_deref()) {
                // Records produced here always decode; this would be a bug in `records`.
                tracing::error!(%error, "could not apply a record produced by the shard");
            }
        }
    }

    /// Handles a JoinGroup. The reply is `Later` while the join phase runs; the join is then
    /// answered by a [`Completion`] of a later call (another member's join, or `poll`).
    pub fn join_group(
        &mut self,
        request_id: RequestId,
        request: &JoinGroupRequest,
        version: i16,
        client_id: &str,
        client_host: &str,
        now_ms: i64,
    ) -> Outcome<JoinGroupResponse> {
        let group_id: &str = &request.group_id;
        let member_id: &str = &request.member_id;
        if group_id.is_empty() {
            return Outcome::now(join_error(
                version,
                member_id,
                ResponseError::InvalidGroupId.code(),
            ));
        }
        if request.session_timeout_ms < self.config.group_min_session_timeout_ms
            || request.session_timeout_ms > self.config.group_max_session_timeout_ms
        {
            return Outcome::now(join_error(
                version,
                member_id,
                ResponseError::InvalidSessionTimeout.code(),
            ));
        }
        // An empty consumer group gives way to the classic group; a non-empty one refuses it.
        let mut replaced = Vec::new();
        if let Some(Group::Consumer(group)) = self.groups.get(group_id) {
            if !group.members.is_empty() {
                return Outcome::now(join_error(
                    version,
                    member_id,
                    ResponseError::InconsistentGroupProtocol.code(),
                ));
            }
            replaced = group
                .tombstones()
                .iter()
                .map(ConsumerRecord::encode)
                .collect();
            self.apply_records(&replaced);
        }
        let is_new_group = !self.groups.contains_key(group_id);
        if is_new_group {
            if !member_id.is_empty() {
                return Outcome::now(join_error(
                    version,
                    member_id,
                    ResponseError::UnknownMemberId.code(),
                ));
            }
            self.groups.insert(
                group_id.to_string(),
                Group::Classic(ClassicGroup::new(group_id, now_ms)),
            );
        }
        let mut effects = Effects::default();
        let Some(group) = self.groups.get_mut(group_id).and_then(Group::classic_mut) else {
            return Outcome::now(join_error(
                version,
                member_id,
                ResponseError::UnknownServerError.code(),
            ));
        };
        let mut ctx = Ctx {
            config: &self.config,
            now: now_ms,
            effects: &mut effects,
        };
        let params = JoinParams::from_request(request_id, request, version, client_id, client_host);
        let reply = group.join(&mut ctx, params);
        if is_new_group && ctx.effects.records.is_empty() {
            // Persist the new group so that it survives a restart (Kafka does the same).
            group.write_metadata(&mut ctx, &BTreeMap::new());
        }
        let reply = settle(reply, request_id, &mut effects.completions, |r| match r {
            DelayedResponse::JoinGroup(r) => Some(r),
            DelayedResponse::SyncGroup(_) => None,
        });
        replaced.append(&mut effects.records);
        effects.records = replaced;
        effects.into_outcome(reply)
    }

    /// Handles a SyncGroup. Followers get `Later` until the leader's SyncGroup, whose outcome
    /// carries their completions (and the group metadata record with the assignments).
    pub fn sync_group(
        &mut self,
        request_id: RequestId,
        request: &SyncGroupRequest,
        version: i16,
        now_ms: i64,
    ) -> Outcome<SyncGroupResponse> {
        let Some(group) = self
            .groups
            .get_mut(&**request.group_id)
            .and_then(Group::classic_mut)
        else {
            return Outcome::now(sync_error(version, ResponseError::UnknownMemberId.code()));
        };
        let mut effects = Effects::default();
        let mut ctx = Ctx {
            config: &self.config,
            now: now_ms,
            effects: &mut effects,
        };
        let reply = group.sync(&mut ctx, request_id, request, version);
        let reply = settle(reply, request_id, &mut effects.completions, |r| match r {
            DelayedResponse::SyncGroup(r) => Some(r),
            DelayedResponse::JoinGroup(_) => None,
        });
        effects.into_outcome(reply)
    }

    /// Handles a Heartbeat.
    pub fn heartbeat(
        &mut self,
        request: &HeartbeatRequest,
        version: i16,
        now_ms: i64,
    ) -> Outcome<HeartbeatResponse> {
        let error = match self
            .groups
            .get_mut(&**request.group_id)
            .and_then(Group::classic_mut)
        {
            None => ResponseError::UnknownMemberId.code(),
            Some(group) => {
                let instance = if version >= 3 {
                    request.group_instance_id.as_deref()
                } else {
                    None
                };
                group.heartbeat(now_ms, &request.member_id, instance, request.generation_id)
            }
        };
        Outcome::now(HeartbeatResponse::default().with_error_code(error))
    }

    /// Handles a LeaveGroup: v0-2 name one member id (its error is the top-level error); v3+
    /// name members by member id and/or group instance id, with one result each.
    pub fn leave_group(
        &mut self,
        request: &LeaveGroupRequest,
        version: i16,
        now_ms: i64,
    ) -> Outcome<LeaveGroupResponse> {
        let Some(group) = self
            .groups
            .get_mut(&**request.group_id)
            .and_then(Group::classic_mut)
        else {
            return Outcome::now(
                LeaveGroupResponse::default()
                    .with_error_code(ResponseError::UnknownMemberId.code()),
            );
        };
        let identities: Vec<(String, Option<String>)> = if version >= 3 {
            request
                .members
                .iter()
                .map(|m| {
                    (
                        m.member_id.to_string(),
                        m.group_instance_id.as_ref().map(|i| i.to_string()),
                    )
                })
                .collect()
        } else {
            vec![(request.member_id.to_string(), None)]
        };
        let mut effects = Effects::default();
        let mut ctx = Ctx {
            config: &self.config,
            now: now_ms,
            effects: &mut effects,
        };
        let results = group.leave(&mut ctx, &identities);
        let response = if version >= 3 {
            LeaveGroupResponse::default().with_members(
                results
                    .iter()
                    .map(|r| {
                        MemberResponse::default()
                            .with_member_id(sb(&r.member_id))
                            .with_group_instance_id(r.group_instance_id.as_deref().map(sb))
                            .with_error_code(r.error_code)
                    })
                    .collect(),
            )
        } else {
            LeaveGroupResponse::default().with_error_code(
                results
                    .first()
                    .map_or(ResponseError::UnknownMemberId.code(), |r| r.error_code),
            )
        };
        effects.into_outcome(Reply::Now(response))
    }

    /// Handles an OffsetCommit (topics by name, v2-9). A commit with generation -1, no member
    /// id and no instance id is a "simple" commit, accepted when the group is Empty or does not
    /// exist (it is then created without protocol type). Each partition's record is returned;
    /// metadata longer than `offset.metadata.max.bytes` (in UTF-8 bytes) fails only its
    /// partition with OFFSET_METADATA_TOO_LARGE.
    pub fn commit_offsets(
        &mut self,
        request: &OffsetCommitRequest,
        version: i16,
        now_ms: i64,
    ) -> Outcome<OffsetCommitResponse> {
        let group_id: &str = &request.group_id;
        let member_id: &str = &request.member_id;
        let instance = if version >= 7 {
            request.group_instance_id.as_deref()
        } else {
            None
        };
        let generation = request.generation_id_or_member_epoch;
        let validation = match self.groups.get(group_id) {
            None if generation < 0 => Ok(()),
            None if version >= 9 => Err(ResponseError::GroupIdNotFound.code()),
            None => Err(ResponseError::IllegalGeneration.code()),
            Some(Group::Classic(group)) => {
                validate_offset_commit(group, member_id, instance, generation)
            }
            Some(Group::Consumer(group)) => {
                validate_consumer_offset_commit(group, member_id, generation, version)
            }
        };
        let partition_response = |index: i32, error: i16| {
            OffsetCommitResponsePartition::default()
                .with_partition_index(index)
                .with_error_code(error)
        };
        if let Err(error) = validation {
            let topics = request
                .topics
                .iter()
                .map(|t| {
                    OffsetCommitResponseTopic::default()
                        .with_name(t.name.clone())
                        .with_partitions(
                            t.partitions
                                .iter()
                                .map(|p| partition_response(p.partition_index, error))
                                .collect(),
                        )
                })
                .collect();
            return Outcome::now(OffsetCommitResponse::default().with_topics(topics));
        }
        // A commit by a member keeps its session alive (Stable or PreparingRebalance).
        if let Some(group) = self.groups.get_mut(group_id).and_then(Group::classic_mut) {
            if matches!(
                group.state,
                ClassicGroupState::Stable | ClassicGroupState::PreparingRebalance
            ) {
                group.reschedule_heartbeat(member_id, now_ms, None);
            }
        }
        let expire_timestamp = (version <= 4 && request.retention_time_ms != -1)
            .then(|| now_ms.saturating_add(request.retention_time_ms));
        let mut records = Vec::new();
        let mut topics = Vec::with_capacity(request.topics.len());
        for topic in &request.topics {
            let mut partitions = Vec::with_capacity(topic.partitions.len());
            for p in &topic.partitions {
                let metadata = p.committed_metadata.as_deref().unwrap_or("");
                if metadata.len() > self.config.offset_metadata_max_bytes {
                    partitions.push(partition_response(
                        p.partition_index,
                        ResponseError::OffsetMetadataTooLarge.code(),
                    ));
                    continue;
                }
                let offset = OffsetAndMetadata {
                    committed_offset: p.committed_offset,
                    leader_epoch: if version >= 6 {
                        p.committed_leader_epoch
                    } else {
                        -1
                    },
                    metadata: metadata.to_string(),
                    commit_timestamp: now_ms,
                    expire_timestamp,
                    // Stamped when applied (through `replay`).
                    log_order: 0,
                };
                records.push(offset_record(
                    group_id,
                    &topic.name,
                    p.partition_index,
                    &offset,
                ));
                partitions.push(partition_response(p.partition_index, NONE));
            }
            topics.push(
                OffsetCommitResponseTopic::default()
                    .with_name(topic.name.clone())
                    .with_partitions(partitions),
            );
        }
        self.apply_records(&records);
        Outcome {
            reply: Reply::Now(OffsetCommitResponse::default().with_topics(topics)),
            records,
            completions: Vec::new(),
        }
    }

    /// Handles a TxnOffsetCommit (KIP-98; v3+ name the member, KIP-447). The group checks are
    /// Kafka's for transactional commits ([`validate_txn_offset_commit`],
    /// [`validate_consumer_txn_offset_commit`]); an unknown group accepts a commit with
    /// generation < 0 (and is then created as a "simple" group, as for OffsetCommit) and answers
    /// ILLEGAL_GENERATION otherwise; an empty group id is INVALID_GROUP_ID and a negative
    /// producer id INVALID_PRODUCER_ID_MAPPING. A group-level error fails every partition;
    /// metadata over `offset.metadata.max.bytes` fails only its partition.
    ///
    /// The returned records are ordinary offset commit records, which the runtime must append as
    /// ONE transactional batch of the request's producer id and epoch, under the shard lock like
    /// every outcome (the shard relies on records reaching the log in the order it applied
    /// them). They are pending under the producer id, invisible to OffsetFetch, until the
    /// runtime calls [`Self::complete_transaction`] after the transaction's marker is written
    /// to this partition. Checks of the producer (epoch, transaction state) belong to the
    /// runtime and must come before this call: the shard does not roll back.
    pub fn txn_commit_offsets(
        &mut self,
        request: &TxnOffsetCommitRequest,
        version: i16,
        now_ms: i64,
    ) -> Outcome<TxnOffsetCommitResponse> {
        let group_id: &str = &request.group_id;
        let producer_id = request.producer_id.0;
        let (member_id, instance, generation): (&str, Option<&str>, i32) = if version >= 3 {
            (
                &request.member_id,
                request.group_instance_id.as_deref(),
                request.generation_id,
            )
        } else {
            ("", None, -1)
        };
        let validation = if group_id.is_empty() {
            Err(ResponseError::InvalidGroupId.code())
        } else if producer_id < 0 {
            Err(ResponseError::InvalidProducerIdMapping.code())
        } else {
            match self.groups.get(group_id) {
                None if generation < 0 => Ok(()),
                None => Err(ResponseError::IllegalGeneration.code()),
                Some(Group::Classic(group)) => {
                    validate_txn_offset_commit(group, member_id, instance, generation)
                }
                Some(Group::Consumer(group)) => {
                    validate_consumer_txn_offset_commit(group, member_id, instance, generation)
                }
            }
        };
        let partition_response = |index: i32, error: i16| {
            TxnOffsetCommitResponsePartition::default()
                .with_partition_index(index)
                .with_error_code(error)
        };
        let mut records = Vec::new();
        let mut topics = Vec::with_capacity(request.topics.len());
        for topic in &request.topics {
            let mut partitions = Vec::with_capacity(topic.partitions.len());
            for p in &topic.partitions {
                let metadata = p.committed_metadata.as_deref().unwrap_or("");
                let error = match validation {
                    Err(error) => error,
                    Ok(()) if metadata.len() > self.config.offset_metadata_max_bytes => {
                        ResponseError::OffsetMetadataTooLarge.code()
                    }
                    Ok(()) => {
                        let offset = OffsetAndMetadata {
                            committed_offset: p.committed_offset,
                            leader_epoch: if version >= 2 {
                                p.committed_leader_epoch
                            } else {
                                -1
                            },
                            metadata: metadata.to_string(),
                            commit_timestamp: now_ms,
                            expire_timestamp: None,
                            log_order: 0,
                        };
                        records.push(offset_record(
                            group_id,
                            &topic.name,
                            p.partition_index,
                            &offset,
                        ));
                        NONE
                    }
                };
                partitions.push(partition_response(p.partition_index, error));
            }
            topics.push(
                TxnOffsetCommitResponseTopic::default()
                    .with_name(topic.name.clone())
                    .with_partitions(partitions),
            );
        }
        for record in &records {
            if let Err(error) = self.replay_record(
                Some(producer_id),
                None,
                &record.key,
                record.value.as_deref(),
            ) {
                tracing::error!(%error, "could not apply a record produced by the shard");
            }
        }
        Outcome {
            reply: Reply::Now(TxnOffsetCommitResponse::default().with_topics(topics)),
            records,
            completions: Vec::new(),
        }
    }

    /// Ends the transaction of `producer_id` on this partition, once its marker is written to
    /// the partition (at load: [`Self::replay_end_transaction`]). On commit its pending offsets
    /// become the committed offsets, except where the committed offset's record is later in
    /// the log than the transactional one (Kafka keeps the most recent record); on abort they
    /// are dropped. A producer without pending offsets is a no-op. Writes no record.
    pub fn complete_transaction(&mut self, producer_id: i64, commit: bool) {
        let pending = self.pending_txn_offsets.take(producer_id);
        for (group, offsets) in pending {
            if commit {
                for ((topic, partition), offset) in offsets {
                    let newer = self
                        .offsets
                        .group(&group)
                        .and_then(|o| o.get(&(topic.clone(), partition)))
                        .is_none_or(|existing| offset.log_order > existing.log_order);
                    if newer {
                        self.apply_offset(&group, &topic, partition, Some(offset));
                    } else {
                        tracing::info!(
                            %group, %topic, partition, producer_id,
                            "transactional offset commit superseded by a later commit"
                        );
                    }
                }
            }
            self.remove_if_orphan_simple_group(&group);
        }
    }

    /// Whether an open transaction has a pending offset for the partition of the group (Kafka's
    /// `hasPendingTransactionalOffsets`).
    pub fn has_pending_transactional_offsets(
        &self,
        group_id: &str,
        topic: &str,
        partition: i32,
    ) -> bool {
        self.pending_txn_offsets
            .has_pending(group_id, topic, partition)
    }

    /// Whether a transaction with offsets on this partition is open. The runtime must not
    /// rewrite the partition from [`Self::snapshot_records`] (its cleanup) while this holds:
    /// pending offsets live only in their transactional batches, and rewriting committed
    /// offsets after them would also change which commit is the latest at the marker.
    pub fn has_open_transactions(&self) -> bool {
        !self.pending_txn_offsets.is_empty()
    }

    /// The producer ids with pending offsets on this partition.
    pub fn open_transaction_producers(&self) -> Vec<i64> {
        self.pending_txn_offsets.producers().collect()
    }

    /// The pending offset of `producer_id` for the partition, if any (diagnostics and tests).
    pub fn pending_transactional_offset(
        &self,
        producer_id: i64,
        group_id: &str,
        topic: &str,
        partition: i32,
    ) -> Option<&OffsetAndMetadata> {
        self.pending_txn_offsets
            .get(producer_id, group_id, topic, partition)
    }

    /// One group of an OffsetFetch (v0-7 single group, v8+ `groups[]`): the requested partitions
    /// (offset -1 where nothing is committed, also for unknown groups), or every committed
    /// partition when `topics` is `None`. The `Err` group-level error is reserved for KIP-848
    /// member epoch checks; classic groups never produce it. Pending transactional offsets are
    /// invisible (`require_stable` false).
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        topics: Option<&[(String, Vec<i32>)]>,
        now_ms: i64,
    ) -> Result<Vec<FetchedOffset>, i16> {
        self.fetch_offsets_as_member(group_id, None, -1, topics, false, now_ms)
    }

    /// [`Self::fetch_offsets`] for OffsetFetch v9+, which names the member (`member_id`,
    /// `member_epoch`; `None`/-1 when absent). For a consumer group the member must exist
    /// (UNKNOWN_MEMBER_ID) at that epoch (STALE_MEMBER_EPOCH), unless both are absent; classic
    /// and unknown groups are not checked. With `require_stable` (OffsetFetch v7+), a partition
    /// with a pending transactional offset answers UNSTABLE_OFFSET_COMMIT with offset -1 (per
    /// partition, as Kafka does; when `topics` is `None` only committed partitions are listed,
    /// so a partition with a pending offset but no committed one does not appear).
    pub fn fetch_offsets_as_member(
        &self,
        group_id: &str,
        member_id: Option<&str>,
        member_epoch: i32,
        topics: Option<&[(String, Vec<i32>)]>,
        require_stable: bool,
        _now_ms: i64,
    ) -> Result<Vec<FetchedOffset>, i16> {
        if let Some(Group::Consumer(group)) = self.groups.get(group_id) {
            validate_consumer_offset_fetch(group, member_id, member_epoch)?;
        }
        let mut fetched = self.offsets.fetch(group_id, topics);
        if require_stable && self.pending_txn_offsets.has_open_transactions_for(group_id) {
            for f in &mut fetched {
                if self
                    .pending_txn_offsets
                    .has_pending(group_id, &f.topic, f.partition)
                {
                    f.committed_offset = -1;
                    f.committed_leader_epoch = -1;
                    f.metadata.clear();
                    f.error_code = ResponseError::UnstableOffsetCommit.code();
                }
            }
        }
        Ok(fetched)
    }

    /// One group of a DescribeGroups. Members' metadata (for the selected protocol) and
    /// assignments are shown only when the group is Stable, as Kafka does. An unknown group is
    /// "Dead" with no error before v6, GROUP_ID_NOT_FOUND from v6.
    pub fn describe_group(&self, group_id: &str, version: i16) -> DescribedGroup {
        let Some(group) = self.groups.get(group_id).and_then(Group::classic) else {
            // A consumer group is not a classic group: Kafka answers as for an unknown group
            // (clients describe it with ConsumerGroupDescribe).
            let message = if self.groups.contains_key(group_id) {
                format!("Group {group_id} is not a classic group.")
            } else {
                format!("Group {group_id} not found.")
            };
            let mut described = DescribedGroup::default()
                .with_group_id(sb(group_id).into())
                .with_group_state(sb(ClassicGroupState::Dead.as_str()));
            if version >= 6 {
                described = described
                    .with_error_code(ResponseError::GroupIdNotFound.code())
                    .with_error_message(Some(sb(&message)));
            }
            return described;
        };
        let stable = group.is_in(ClassicGroupState::Stable);
        let protocol = if stable {
            group.protocol_name.clone().unwrap_or_default()
        } else {
            String::new()
        };
        let members = group
            .members
            .values()
            .map(|m| {
                let member = DescribedGroupMember::default()
                    .with_member_id(sb(&m.member_id))
                    .with_group_instance_id(m.group_instance_id.as_deref().map(sb))
                    .with_client_id(sb(&m.client_id))
                    .with_client_host(sb(&m.client_host));
                if stable {
                    member
                        .with_member_metadata(m.metadata(&protocol).cloned().unwrap_or_default())
                        .with_member_assignment(m.assignment.clone())
                } else {
                    member
                }
            })
            .collect();
        DescribedGroup::default()
            .with_group_id(sb(group_id).into())
            .with_group_state(sb(group.state.as_str()))
            .with_protocol_type(sb(group.protocol_type.as_deref().unwrap_or_default()))
            .with_protocol_data(sb(&protocol))
            .with_members(members)
    }

    /// The groups of a ListGroups, filtered by state and type (case-insensitive; an empty filter
    /// lets everything through). Classic groups are of type "classic"; consumer groups of type
    /// "consumer", with protocol type "consumer" and Kafka's consumer group states.
    pub fn list_groups(
        &self,
        states_filter: &[String],
        types_filter: &[String],
    ) -> Vec<ListedGroup> {
        let matches = |filter: &[String], value: &str| {
            filter.is_empty() || filter.iter().any(|f| f.eq_ignore_ascii_case(value))
        };
        self.groups
            .iter()
            .map(|(id, g)| match g {
                Group::Classic(g) => (
                    id,
                    g.protocol_type.as_deref().unwrap_or_default(),
                    g.state.as_str(),
                    "classic",
                ),
                Group::Consumer(g) => (id, CONSUMER_PROTOCOL_TYPE, g.state().as_str(), "consumer"),
            })
            .filter(|(_, _, state, kind)| {
                matches(states_filter, state) && matches(types_filter, kind)
            })
            .map(|(id, protocol_type, state, kind)| {
                ListedGroup::default()
                    .with_group_id(sb(id).into())
                    .with_protocol_type(sb(protocol_type))
                    .with_group_state(sb(state))
                    .with_group_type(sb(kind))
            })
            .collect()
    }

    /// Deletes Empty groups with their offsets (tombstones for both). Per group:
    /// GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, or NONE. As in Kafka, open transactions do not
    /// prevent the deletion: partitions with only a pending transactional offset get a
    /// tombstone too, which drops the pending offsets (a later commit marker finds nothing).
    pub fn delete_groups(
        &mut self,
        group_ids: &[String],
        _now_ms: i64,
    ) -> Outcome<Vec<(String, i16)>> {
        let mut results = Vec::with_capacity(group_ids.len());
        let mut records = Vec::new();
        for group_id in group_ids {
            let group_records = match self.groups.get(group_id) {
                None => Err(ResponseError::GroupIdNotFound.code()),
                Some(Group::Classic(g)) if g.is_in(ClassicGroupState::Dead) => {
                    Err(ResponseError::GroupIdNotFound.code())
                }
                Some(Group::Classic(g)) if !g.is_in(ClassicGroupState::Empty) => {
                    Err(ResponseError::NonEmptyGroup.code())
                }
                Some(Group::Classic(_)) => Ok(vec![group_tombstone(group_id)]),
                Some(Group::Consumer(g)) if !g.members.is_empty() => {
                    Err(ResponseError::NonEmptyGroup.code())
                }
                Some(Group::Consumer(g)) => {
                    Ok(g.tombstones().iter().map(ConsumerRecord::encode).collect())
                }
            };
            let error = match group_records {
                Err(error) => error,
                Ok(group_records) => {
                    let mut tombstones = self.offsets.tombstones_for_group(group_id);
                    let committed = self.offsets.group(group_id);
                    tombstones.extend(
                        self.pending_txn_offsets
                            .partitions_of_group(group_id)
                            .into_iter()
                            .filter(|key| !committed.is_some_and(|o| o.contains_key(key)))
                            .map(|(topic, partition)| {
                                offset_tombstone(group_id, &topic, partition)
                            }),
                    );
                    tombstones.extend(group_records);
                    self.apply_records(&tombstones);
                    records.extend(tombstones);
                    tracing::info!(group = %group_id, "group deleted");
                    NONE
                }
            };
            results.push((group_id.clone(), error));
        }
        Outcome {
            reply: Reply::Now(results),
            records,
            completions: Vec::new(),
        }
    }

    /// Handles an OffsetDelete: GROUP_ID_NOT_FOUND for unknown groups; NON_EMPTY_GROUP for a
    /// non-empty group that is not of the "consumer" protocol type; GROUP_SUBSCRIBED_TO_TOPIC
    /// for the partitions of a topic the members subscribe to.
    pub fn delete_offsets(
        &mut self,
        request: &OffsetDeleteRequest,
        _now_ms: i64,
    ) -> Outcome<OffsetDeleteResponse> {
        let group_id: &str = &request.group_id;
        let group = match self.groups.get(group_id) {
            None => {
                return Outcome::now(
                    OffsetDeleteResponse::default()
                        .with_error_code(ResponseError::GroupIdNotFound.code()),
                )
            }
            Some(g) => g,
        };
        let top_error = match group {
            Group::Consumer(_) => None,
            Group::Classic(group) => match group.state {
                ClassicGroupState::Dead => Some(ResponseError::GroupIdNotFound.code()),
                ClassicGroupState::Empty => None,
                _ if group.protocol_type.as_deref() == Some(CONSUMER_PROTOCOL_TYPE) => None,
                _ => Some(ResponseError::NonEmptyGroup.code()),
            },
        };
        if let Some(error) = top_error {
            return Outcome::now(OffsetDeleteResponse::default().with_error_code(error));
        }
        let mut records = Vec::new();
        let offsets = self.offsets.group(group_id);
        let topics = request
            .topics
            .iter()
            .map(|topic| {
                let subscribed = group.is_subscribed_to_topic(&topic.name);
                let partitions = topic
                    .partitions
                    .iter()
                    .map(|p| {
                        let error = if subscribed {
                            ResponseError::GroupSubscribedToTopic.code()
                        } else {
                            // A tombstone also drops pending transactional offsets.
                            if offsets.is_some_and(|o| {
                                o.contains_key(&(topic.name.to_string(), p.partition_index))
                            }) || self.pending_txn_offsets.has_pending(
                                group_id,
                                &topic.name,
                                p.partition_index,
                            ) {
                                records.push(crate::offsets::offset_tombstone(
                                    group_id,
                                    &topic.name,
                                    p.partition_index,
                                ));
                            }
                            NONE
                        };
                        OffsetDeleteResponsePartition::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(error)
                    })
                    .collect();
                OffsetDeleteResponseTopic::default()
                    .with_name(topic.name.clone())
                    .with_partitions(partitions)
            })
            .collect();
        self.apply_records(&records);
        Outcome {
            reply: Reply::Now(OffsetDeleteResponse::default().with_topics(topics)),
            records,
            completions: Vec::new(),
        }
    }

    /// Fires the timers due at `now_ms`: KIP-394 pending members, sessions, join phases
    /// (initial delay, rebalance timeout), sync phases, and every
    /// `offsets.retention.check.interval.ms` the offsets expiration (see [`crate::offsets`]),
    /// which also deletes Empty groups left without offsets.
    pub fn poll(&mut self, now_ms: i64) -> Outcome<()> {
        let mut effects = Effects::default();
        for group in self.groups.values_mut() {
            match group {
                Group::Classic(group) => {
                    let mut ctx = Ctx {
                        config: &self.config,
                        now: now_ms,
                        effects: &mut effects,
                    };
                    group.poll(&mut ctx);
                }
                Group::Consumer(group) => {
                    let records = consumer::timers::poll(group, &self.config, now_ms);
                    effects.records.extend(records);
                }
            }
        }
        match self.next_offsets_cleanup_ms {
            None => {
                self.next_offsets_cleanup_ms = Some(
                    now_ms.saturating_add(self.config.offsets_retention_check_interval_ms.max(1)),
                );
            }
            Some(at) if now_ms >= at => {
                self.next_offsets_cleanup_ms = Some(
                    now_ms.saturating_add(self.config.offsets_retention_check_interval_ms.max(1)),
                );
                let records = self.cleanup_group_metadata(now_ms);
                effects.records.extend(records);
            }
            Some(_) => {}
        }
        effects.into_outcome(Reply::Now(()))
    }

    /// Expires offsets and deletes Empty groups that have none left.
    fn cleanup_group_metadata(&mut self, now_ms: i64) -> Vec<CoordinatorRecord> {
        let mut records = Vec::new();
        let retention = self.config.offsets_retention_ms;
        for (group_id, group) in &self.groups {
            let has_pending = |topic: &str, partition: i32| {
                self.pending_txn_offsets
                    .has_pending(group_id, topic, partition)
            };
            let (tombstones, all_expired) = match group {
                Group::Classic(g) => self.offsets.expired(g, now_ms, retention, &has_pending),
                Group::Consumer(g) => {
                    self.offsets
                        .expired_consumer(g, now_ms, retention, &has_pending)
                }
            };
            if !tombstones.is_empty() {
                tracing::info!(group = %group_id, count = tombstones.len(), "offsets expired");
            }
            records.extend(tombstones);
            // A group with an open transaction is kept (Kafka does the same).
            if !all_expired || self.pending_txn_offsets.has_open_transactions_for(group_id) {
                continue;
            }
            match group {
                Group::Classic(g)
                    if g.is_in(ClassicGroupState::Empty) && g.pending_join_members.is_empty() =>
                {
                    tracing::info!(group = %group_id, "empty group without offsets deleted");
                    records.push(group_tombstone(group_id));
                }
                Group::Consumer(g) if g.members.is_empty() => {
                    tracing::info!(group = %group_id, "empty consumer group without offsets deleted");
                    records.extend(g.tombstones().iter().map(ConsumerRecord::encode));
                }
                _ => {}
            }
        }
        self.apply_records(&records);
        records
    }

    /// The earliest time `poll` has something to do. A value in the past (`i64::MIN`) means
    /// "poll now": after a load (to arm the sessions) and before the first poll.
    pub fn next_deadline(&self) -> Option<i64> {
        let cleanup = Some(self.next_offsets_cleanup_ms.unwrap_or(i64::MIN));
        self.groups
            .values()
            .filter_map(|g| match g {
                Group::Classic(g) => g.next_deadline(),
                Group::Consumer(g) => g.next_deadline(),
            })
            .chain(cleanup)
            .min()
    }

    /// Deletes every group's committed offsets for deleted topics (tombstones), as Kafka does
    /// when topics go away: a topic created again under the same name starts without them.
    /// Pending transactional offsets of those topics get a tombstone too (one per partition).
    pub fn delete_topic_offsets(&mut self, topics: &[String]) -> Outcome<()> {
        let mut doomed = self.pending_txn_offsets.partitions_of_topics(topics);
        for (group, offsets) in self.offsets.groups() {
            for (topic, partition) in offsets.keys() {
                if topics.contains(topic) {
                    doomed.insert((group.clone(), topic.clone(), *partition));
                }
            }
        }
        let records: Vec<CoordinatorRecord> = doomed
            .iter()
            .map(|(group, topic, partition)| offset_tombstone(group, topic, *partition))
            .collect();
        self.apply_records(&records);
        Outcome {
            reply: Reply::Now(()),
            records,
            completions: Vec::new(),
        }
    }

    /// Every live record re-encoded: each group's last metadata record, then every committed
    /// offset. Replaying them into a new shard reproduces this shard's groups (as of their last
    /// record) and offsets; the runtime uses this to rewrite the partition and drop its past.
    /// Pending transactional offsets are not included (they can only live in their
    /// transactional batches): the runtime must not rewrite the partition while
    /// [`Self::has_open_transactions`].
    pub fn snapshot_records(&self) -> Vec<CoordinatorRecord> {
        let mut records = Vec::new();
        for (id, group) in &self.groups {
            match group {
                Group::Classic(g) => {
                    if let Some(value) = &g.last_record {
                        records.push(CoordinatorRecord {
                            key: RecordKey::GroupMetadata { group: id.clone() }.encode(),
                            value: Some(value.encode()),
                        });
                    }
                }
                Group::Consumer(g) => {
                    records.extend(g.snapshot().iter().map(ConsumerRecord::encode));
                }
            }
        }
        for (group, offsets) in self.offsets.groups() {
            for ((topic, partition), offset) in offsets {
                records.push(offset_record(group, topic, *partition, offset));
            }
        }
        records
    }
}

/// The tombstone of a classic group's metadata.
pub(crate) fn group_tombstone(group_id: &str) -> CoordinatorRecord {
    CoordinatorRecord {
        key: RecordKey::GroupMetadata {
            group: group_id.to_string(),
        }
        .encode(),
        value: None,
    }
}
