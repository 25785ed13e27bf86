//! Committed offsets: the store (group → topic-partition → offset), the validation of
//! OffsetCommit against the group's membership, OffsetFetch, OffsetDelete and expiration.
//!
//! Expiration follows Kafka's `offsetExpirationCondition` for classic groups, checked every
//! `offsets.retention.check.interval.ms`:
//! - an offset committed with an explicit retention (OffsetCommit v2-4) expires at its own
//!   expire timestamp;
//! - a group with a protocol type that is Empty: its offsets expire `offsets.retention.ms` after
//!   the group became Empty (its current state timestamp; the commit timestamp when unknown);
//! - a "simple" group (offsets only, no protocol type): each offset expires
//!   `offsets.retention.ms` after its commit;
//! - a Stable "consumer" group whose subscriptions are known: offsets of topics it does not
//!   subscribe to expire `offsets.retention.ms` after their commit;
//! - otherwise nothing expires.
//!
//! For a KIP-848 consumer group (Kafka's rule for modern groups): the offsets of topics no
//! member subscribes to expire `offsets.retention.ms` after their commit.
//!
//! An Empty group left without offsets by a cleanup is deleted (its metadata tombstoned).

use std::collections::BTreeMap;

use strom_protocol::ResponseError;

use crate::classic::group::{ClassicGroup, ClassicGroupState, CONSUMER_PROTOCOL_TYPE};
use crate::classic::NONE;
use crate::consumer::group::ConsumerGroup;
use crate::outcome::CoordinatorRecord;
use crate::records::{OffsetCommitValue, RecordKey};

/// One committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    pub committed_offset: i64,
    /// -1 when unknown.
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
    /// Set by OffsetCommit v2-4 with a retention time.
    pub expire_timestamp: Option<i64>,
    /// Where the record that set this offset sits in the partition's log, as an order key (not
    /// stored in the record): later records have larger stamps. Used to let the latest of a
    /// transactional and a non-transactional commit win when the transaction commits (see
    /// [`crate::txn_offsets`]); only comparable with stamps of the same shard.
    pub log_order: i64,
}

impl OffsetAndMetadata {
    pub fn from_value(value: &OffsetCommitValue, log_order: i64) -> Self {
        OffsetAndMetadata {
            committed_offset: value.offset,
            leader_epoch: value.leader_epoch,
            metadata: value.metadata.clone(),
            commit_timestamp: value.commit_timestamp,
            expire_timestamp: value.expire_timestamp,
            log_order,
        }
    }

    pub fn to_value(&self) -> OffsetCommitValue {
        OffsetCommitValue {
            offset: self.committed_offset,
            leader_epoch: if self.expire_timestamp.is_some() {
                -1
            } else {
                self.leader_epoch
            },
            metadata: self.metadata.clone(),
            commit_timestamp: self.commit_timestamp,
            expire_timestamp: self.expire_timestamp,
        }
    }
}

/// One partition in an OffsetFetch answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedOffset {
    pub topic: String,
    pub partition: i32,
    /// -1 when the group has no offset for the partition.
    pub committed_offset: i64,
    /// -1 when unknown.
    pub committed_leader_epoch: i32,
    /// "" when none.
    pub metadata: String,
    pub error_code: i16,
}

/// Offsets of one group, by (topic, partition).
pub type GroupOffsets = BTreeMap<(String, i32), OffsetAndMetadata>;

/// All committed offsets of a shard.
#[derive(Debug, Clone, Default)]
pub struct OffsetStore {
    by_group: BTreeMap<String, GroupOffsets>,
}

impl OffsetStore {
    /// Applies an offset commit record (`None` = tombstone).
    pub fn apply(
        &mut self,
        group: &str,
        topic: &str,
        partition: i32,
        value: Option<OffsetAndMetadata>,
    ) {
        match value {
            Some(offset) => {
                self.by_group
                    .entry(group.to_string())
                    .or_default()
                    .insert((topic.to_string(), partition), offset);
            }
            None => {
                if let Some(offsets) = self.by_group.get_mut(group) {
                    offsets.remove(&(topic.to_string(), partition));
                    if offsets.is_empty() {
                        self.by_group.remove(group);
                    }
                }
            }
        }
    }

    pub fn group(&self, group: &str) -> Option<&GroupOffsets> {
        self.by_group.get(group)
    }

    pub fn has_offsets(&self, group: &str) -> bool {
        self.by_group.contains_key(group)
    }

    pub fn groups(&self) -> impl Iterator<Item = (&String, &GroupOffsets)> {
        self.by_group.iter()
    }

    /// OffsetFetch for one group: the requested partitions (-1 where nothing is committed), or
    /// every committed partition when `topics` is `None`.
    pub fn fetch(&self, group: &str, topics: Option<&[(String, Vec<i32>)]>) -> Vec<FetchedOffset> {
        let offsets = self.by_group.get(group);
        let found = |topic: &str, partition: i32, o: Option<&OffsetAndMetadata>| match o {
            Some(o) => FetchedOffset {
                topic: topic.to_string(),
                partition,
                committed_offset: o.committed_offset,
                committed_leader_epoch: o.leader_epoch,
                metadata: o.metadata.clone(),
                error_code: NONE,
            },
            None => FetchedOffset {
                topic: topic.to_string(),
                partition,
                committed_offset: -1,
                committed_leader_epoch: -1,
                metadata: String::new(),
                error_code: NONE,
            },
        };
        match topics {
            Some(topics) => topics
                .iter()
                .flat_map(|(topic, partitions)| {
                    partitions.iter().map(move |&p| {
                        found(topic, p, offsets.and_then(|o| o.get(&(topic.clone(), p))))
                    })
                })
                .collect(),
            None => offsets
                .into_iter()
                .flatten()
                .map(|((topic, p), o)| found(topic, *p, Some(o)))
                .collect(),
        }
    }

    /// Tombstones for every offset of `group`.
    pub fn tombstones_for_group(&self, group: &str) -> Vec<CoordinatorRecord> {
        self.by_group
            .get(group)
            .into_iter()
            .flatten()
            .map(|((topic, partition), _)| offset_tombstone(group, topic, *partition))
            .collect()
    }

    /// Tombstones for the offsets of the classic `group` that have expired at `now_ms`, and
    /// whether every offset of the group expired (true also when it has none). An offset for
    /// which `has_pending(topic, partition)` (a transaction has a pending offset for the
    /// partition) does not expire yet.
    pub fn expired(
        &self,
        group: &ClassicGroup,
        now_ms: i64,
        retention_ms: i64,
        has_pending: &dyn Fn(&str, i32) -> bool,
    ) -> (Vec<CoordinatorRecord>, bool) {
        self.expired_with(
            &group.group_id,
            expiration_base(group),
            |topic| group.is_subscribed_to_topic(topic),
            has_pending,
            now_ms,
            retention_ms,
        )
    }

    /// The same for a consumer group (KIP-848): offsets of topics the group does not subscribe
    /// to expire `retention_ms` after their commit (or at their explicit expire timestamp).
    pub fn expired_consumer(
        &self,
        group: &ConsumerGroup,
        now_ms: i64,
        retention_ms: i64,
        has_pending: &dyn Fn(&str, i32) -> bool,
    ) -> (Vec<CoordinatorRecord>, bool) {
        self.expired_with(
            &group.group_id,
            Some(ExpirationBase::CommitTimestamp),
            |topic| group.is_subscribed_to_topic(topic),
            has_pending,
            now_ms,
            retention_ms,
        )
    }

    fn expired_with(
        &self,
        group_id: &str,
        base: Option<ExpirationBase>,
        is_subscribed: impl Fn(&str) -> bool,
        has_pending: &dyn Fn(&str, i32) -> bool,
        now_ms: i64,
        retention_ms: i64,
    ) -> (Vec<CoordinatorRecord>, bool) {
        let Some(offsets) = self.by_group.get(group_id) else {
            return (Vec::new(), true);
        };
        let Some(base) = base else {
            return (Vec::new(), false);
        };
        let mut tombstones = Vec::new();
        let mut all = true;
        for ((topic, partition), offset) in offsets {
            let expired = !is_subscribed(topic)
                && match offset.expire_timestamp {
                    Some(expire) => now_ms >= expire,
                    None => now_ms.saturating_sub(base.timestamp(offset)) >= retention_ms,
                }
                && !has_pending(topic, *partition);
            if expired {
                tombstones.push(offset_tombstone(group_id, topic, *partition));
            } else {
                all = false;
            }
        }
        (tombstones, all)
    }
}

/// From when an offset's retention counts.
enum ExpirationBase {
    /// The group's current state timestamp (when it became Empty), else the commit.
    StateTimestamp(Option<i64>),
    CommitTimestamp,
}

impl ExpirationBase {
    fn timestamp(&self, offset: &OffsetAndMetadata) -> i64 {
        match self {
            ExpirationBase::StateTimestamp(Some(ts)) => *ts,
            ExpirationBase::StateTimestamp(None) | ExpirationBase::CommitTimestamp => {
                offset.commit_timestamp
            }
        }
    }
}

fn expiration_base(group: &ClassicGroup) -> Option<ExpirationBase> {
    match &group.protocol_type {
        None => Some(ExpirationBase::CommitTimestamp),
        Some(_) if group.is_in(ClassicGroupState::Empty) => Some(ExpirationBase::StateTimestamp(
            group.current_state_timestamp,
        )),
        Some(t)
            if t == CONSUMER_PROTOCOL_TYPE
                && group.subscribed_topics.is_some()
                && group.is_in(ClassicGroupState::Stable) =>
        {
            Some(ExpirationBase::CommitTimestamp)
        }
        Some(_) => None,
    }
}

/// The record of a committed offset.
pub fn offset_record(
    group: &str,
    topic: &str,
    partition: i32,
    offset: &OffsetAndMetadata,
) -> CoordinatorRecord {
    CoordinatorRecord {
        key: RecordKey::OffsetCommit {
            group: group.to_string(),
            topic: topic.to_string(),
            partition,
        }
        .encode(),
        value: Some(offset.to_value().encode()),
    }
}

/// The tombstone of a committed offset.
pub fn offset_tombstone(group: &str, topic: &str, partition: i32) -> CoordinatorRecord {
    CoordinatorRecord {
        key: RecordKey::OffsetCommit {
            group: group.to_string(),
            topic: topic.to_string(),
            partition,
        }
        .encode(),
        value: None,
    }
}

/// Kafka's `validateOffsetCommit` for a classic group. `generation < 0` with no member id and
/// no instance id is a "simple" commit (admin tools, consumers without group management),
/// accepted only while the group is Empty.
pub fn validate_offset_commit(
    group: &ClassicGroup,
    member_id: &str,
    group_instance_id: Option<&str>,
    generation_id: i32,
) -> Result<(), i16> {
    if group.is_in(ClassicGroupState::Dead) {
        return Err(ResponseError::CoordinatorNotAvailable.code());
    }
    if generation_id < 0 && group.is_in(ClassicGroupState::Empty) {
        return Ok(());
    }
    if generation_id >= 0 || !member_id.is_empty() || group_instance_id.is_some() {
        group.validate_existing_member(member_id, group_instance_id)?;
        if generation_id != group.generation_id {
            return Err(ResponseError::IllegalGeneration.code());
        }
    } else if !group.is_in(ClassicGroupState::Empty) {
        return Err(ResponseError::UnknownMemberId.code());
    }
    if group.is_in(ClassicGroupState::CompletingRebalance) {
        // The member has its new generation but not its assignment yet.
        return Err(ResponseError::RebalanceInProgress.code());
    }
    Ok(())
}

/// Kafka's `ClassicGroup.validateOffsetCommit` for a TxnOffsetCommit (`isTransactional`):
/// as [`validate_offset_commit`], except that a commit naming no member (no member id, no
/// instance id, generation < 0: TxnOffsetCommit v0-2, or a producer outside the group) is
/// accepted in any state, and CompletingRebalance is not refused.
pub fn validate_txn_offset_commit(
    group: &ClassicGroup,
    member_id: &str,
    group_instance_id: Option<&str>,
    generation_id: i32,
) -> Result<(), i16> {
    if group.is_in(ClassicGroupState::Dead) {
        return Err(ResponseError::CoordinatorNotAvailable.code());
    }
    if generation_id < 0 && group.is_in(ClassicGroupState::Empty) {
        return Ok(());
    }
    if generation_id >= 0 || !member_id.is_empty() || group_instance_id.is_some() {
        group.validate_existing_member(member_id, group_instance_id)?;
        if generation_id != group.generation_id {
            return Err(ResponseError::IllegalGeneration.code());
        }
    }
    Ok(())
}

/// Kafka's `ConsumerGroup.validateOffsetCommit` for a TxnOffsetCommit: accepted with a
/// negative epoch while the group has no members, or when no member is named at all (member id
/// "", epoch -1, no instance id: KAFKA-18060); otherwise the member must exist
/// (UNKNOWN_MEMBER_ID) at the given epoch, where a stale epoch is ILLEGAL_GENERATION (Kafka's
/// `validateTransactionalOffsetCommit` turns STALE_MEMBER_EPOCH into it). There is no API
/// version requirement.
pub fn validate_consumer_txn_offset_commit(
    group: &ConsumerGroup,
    member_id: &str,
    group_instance_id: Option<&str>,
    member_epoch: i32,
) -> Result<(), i16> {
    if member_epoch < 0 && group.members.is_empty() {
        return Ok(());
    }
    if member_epoch == -1 && member_id.is_empty() && group_instance_id.is_none() {
        return Ok(());
    }
    let member = group
        .members
        .get(member_id)
        .ok_or(ResponseError::UnknownMemberId.code())?;
    if member_epoch != member.member_epoch {
        return Err(ResponseError::IllegalGeneration.code());
    }
    Ok(())
}

/// Kafka's `ConsumerGroup.validateOffsetCommit`: a commit with a negative epoch is accepted
/// while the group has no members; otherwise the member must exist (UNKNOWN_MEMBER_ID), commit
/// with OffsetCommit v9+ (UNSUPPORTED_VERSION) and with its current member epoch
/// (STALE_MEMBER_EPOCH).
pub fn validate_consumer_offset_commit(
    group: &ConsumerGroup,
    member_id: &str,
    member_epoch: i32,
    version: i16,
) -> Result<(), i16> {
    if member_epoch < 0 && group.members.is_empty() {
        return Ok(());
    }
    let member = group
        .members
        .get(member_id)
        .ok_or(ResponseError::UnknownMemberId.code())?;
    if version < 9 {
        return Err(ResponseError::UnsupportedVersion.code());
    }
    if member_epoch != member.member_epoch {
        return Err(ResponseError::StaleMemberEpoch.code());
    }
    Ok(())
}

/// Kafka's `ConsumerGroup.validateOffsetFetch`: without member id and with a negative epoch
/// (admin clients) anything goes; otherwise UNKNOWN_MEMBER_ID or STALE_MEMBER_EPOCH.
pub fn validate_consumer_offset_fetch(
    group: &ConsumerGroup,
    member_id: Option<&str>,
    member_epoch: i32,
) -> Result<(), i16> {
    if member_id.is_none() && member_epoch < 0 {
        return Ok(());
    }
    let member = member_id
        .and_then(|id| group.members.get(id))
        .ok_or(ResponseError::UnknownMemberId.code())?;
    if member_epoch != member.member_epoch {
        return Err(ResponseError::StaleMemberEpoch.code());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset(o: i64, ts: i64) -> OffsetAndMetadata {
        OffsetAndMetadata {
            committed_offset: o,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp: ts,
            expire_timestamp: None,
            log_order: 0,
        }
    }

    const NO_PENDING: &dyn Fn(&str, i32) -> bool = &|_, _| false;

    #[test]
    fn fetch_known_unknown_and_all() {
        let mut store = OffsetStore::default();
        store.apply("g", "t", 0, Some(offset(5, 1)));
        store.apply("g", "t", 1, Some(offset(6, 1)));
        let some = store.fetch("g", Some(&[("t".to_string(), vec![0, 2])]));
        assert_eq!(some[0].committed_offset, 5);
        assert_eq!(some[1].committed_offset, -1);
        assert_eq!(store.fetch("g", None).len(), 2);
        assert!(store.fetch("other", None).is_empty());
        store.apply("g", "t", 0, None);
        store.apply("g", "t", 1, None);
        assert!(!store.has_offsets("g"));
    }

    #[test]
    fn simple_group_expires_by_commit_time() {
        let mut store = OffsetStore::default();
        store.apply("g", "t", 0, Some(offset(5, 100)));
        store.apply("g", "t", 1, Some(offset(5, 200)));
        let group = ClassicGroup::new("g", 0);
        let (t, all) = store.expired(&group, 150, 50, NO_PENDING);
        assert_eq!((t.len(), all), (1, false));
        let (t, all) = store.expired(&group, 250, 50, NO_PENDING);
        assert_eq!((t.len(), all), (2, true));
    }

    #[test]
    fn empty_group_expires_from_state_timestamp() {
        let mut store = OffsetStore::default();
        store.apply("g", "t", 0, Some(offset(5, 100)));
        let mut group = ClassicGroup::new("g", 0);
        group.protocol_type = Some("consumer".into());
        group.current_state_timestamp = Some(1000);
        assert_eq!(store.expired(&group, 1049, 50, NO_PENDING).0.len(), 0);
        assert_eq!(store.expired(&group, 1050, 50, NO_PENDING).0.len(), 1);
        group.state = ClassicGroupState::Stable;
        // Stable without known subscriptions: nothing expires.
        assert_eq!(
            store.expired(&group, 10_000, 50, NO_PENDING),
            (Vec::new(), false)
        );
    }

    #[test]
    fn explicit_expire_timestamp_wins() {
        let mut store = OffsetStore::default();
        let mut o = offset(5, 100);
        o.expire_timestamp = Some(120);
        store.apply("g", "t", 0, Some(o));
        let group = ClassicGroup::new("g", 0);
        assert_eq!(store.expired(&group, 121, 1_000_000, NO_PENDING).0.len(), 1);
    }
}
