//! A KIP-848 consumer group's state (Kafka's `ConsumerGroup`): the group epoch, the target
//! assignment and its epoch, the members, who owns which partition (partition epochs), the
//! subscribed topics' metadata, and the members' timers.
//!
//! Every change goes through [`ConsumerGroup::apply`] of a [`ConsumerRecord`], whether the record
//! was just produced by a request or read back at load, so a replayed group equals the live one
//! (timers excepted: they are armed again by the first `poll` after a load).

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::member::{ConsumerGroupMember, MemberState};
use super::records::{Assignment, ConsumerRecord, TopicMetadata};
use super::topic_regex::{self, RegexCache};
use crate::assignor::DEFAULT_ASSIGNOR;

/// The states of a consumer group, as ListGroups and ConsumerGroupDescribe name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerGroupState {
    /// No members.
    Empty,
    /// The group epoch is ahead of the target assignment's epoch.
    Assigning,
    /// Some member has not reached the target assignment yet.
    Reconciling,
    /// Every member is at the target assignment.
    Stable,
    /// Deleted (only reported for unknown groups).
    Dead,
}

impl ConsumerGroupState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsumerGroupState::Empty => "Empty",
            ConsumerGroupState::Assigning => "Assigning",
            ConsumerGroupState::Reconciling => "Reconciling",
            ConsumerGroupState::Stable => "Stable",
            ConsumerGroupState::Dead => "Dead",
        }
    }
}

/// A consumer group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumerGroup {
    pub group_id: String,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub members: BTreeMap<String, ConsumerGroupMember>,
    /// Instance id → member id of the static members.
    pub static_members: BTreeMap<String, String>,
    /// The target assignment of each member (for `assignment_epoch`).
    pub target: BTreeMap<String, Assignment>,
    /// The epoch of the member owning each (topic id, partition), assigned or being revoked.
    pub partition_epochs: BTreeMap<(Uuid, i32), i32>,
    /// The subscribed topics that exist, as of the last group epoch bump.
    pub subscription_metadata: Vec<TopicMetadata>,
    /// When each member's session expires (not persisted).
    pub session_deadlines: BTreeMap<String, i64>,
    /// When each member revoking partitions is fenced, with the epoch it must leave.
    pub rebalance_deadlines: BTreeMap<String, (i32, i64)>,
    /// The compiled subscription regexes of the members, one per distinct pattern (not
    /// persisted: rebuilt as member records are applied).
    pub regexes: RegexCache,
    /// Group epoch bumps since the group was created or loaded (not persisted: a statistic,
    /// the broker's `strom_group_rebalances_total`).
    pub rebalances: u64,
}

impl ConsumerGroup {
    pub fn new(group_id: &str) -> Self {
        ConsumerGroup {
            group_id: group_id.to_string(),
            ..ConsumerGroup::default()
        }
    }

    pub fn state(&self) -> ConsumerGroupState {
        if self.members.is_empty() {
            ConsumerGroupState::Empty
        } else if self.group_epoch > self.assignment_epoch {
            ConsumerGroupState::Assigning
        } else if self
            .members
            .values()
            .any(|m| !m.is_reconciled_to(self.assignment_epoch))
        {
            ConsumerGroupState::Reconciling
        } else {
            ConsumerGroupState::Stable
        }
    }

    /// The epoch of the member owning a partition, -1 when free.
    pub fn partition_epoch(&self, topic: Uuid, partition: i32) -> i32 {
        self.partition_epochs
            .get(&(topic, partition))
            .copied()
            .unwrap_or(-1)
    }

    /// The union of the members' subscribed topic names (regexes not included).
    pub fn subscribed_topic_names(&self) -> BTreeSet<&str> {
        self.members
            .values()
            .flat_map(|m| m.subscribed_topic_names.iter().map(String::as_str))
            .collect()
    }

    /// The distinct subscription regexes of the members.
    pub fn subscribed_topic_regexes(&self) -> BTreeSet<&str> {
        self.members
            .values()
            .filter_map(|m| m.subscribed_topic_regex.as_deref())
            .collect()
    }

    /// Whether `member` subscribes to `topic`, by name or by regex.
    pub fn member_subscribes(&self, member: &ConsumerGroupMember, topic: &str) -> bool {
        member.subscribed_topic_names.contains(topic)
            || member
                .subscribed_topic_regex
                .as_deref()
                .and_then(|pattern| self.regexes.get(pattern))
                .is_some_and(|regex| topic_regex::selects(regex, topic))
    }

    /// Whether some member subscribes to `topic`, by name or by regex.
    pub fn subscribes_to(&self, topic: &str) -> bool {
        self.subscribed_topic_names().contains(topic)
            || self
                .subscribed_topic_regexes()
                .into_iter()
                .filter_map(|pattern| self.regexes.get(pattern))
                .any(|regex| topic_regex::selects(regex, topic))
    }

    /// Whether the group is subscribed to `topic` (offset expiration, OffsetDelete): a topic
    /// named by a member, or one that a regex resolved to at the last group epoch bump.
    pub fn is_subscribed_to_topic(&self, topic: &str) -> bool {
        self.members
            .values()
            .any(|m| m.subscribed_topic_names.contains(topic))
            || self.subscription_metadata.iter().any(|t| t.name == topic)
    }

    /// The assignor most members ask for (ties: the smallest name), else the default.
    pub fn preferred_assignor(&self) -> String {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(name) = &m.server_assignor {
                *counts.entry(name).or_default() += 1;
            }
        }
        counts
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map_or(DEFAULT_ASSIGNOR.to_string(), |(n, _)| n.to_string())
    }

    /// Applies one record of this group.
    pub fn apply(&mut self, record: &ConsumerRecord) {
        match record {
            ConsumerRecord::GroupEpoch { epoch, .. } => self.group_epoch = epoch.unwrap_or(0),
            ConsumerRecord::PartitionMetadata { topics, .. } => {
                self.subscription_metadata = topics.clone().unwrap_or_default();
            }
            ConsumerRecord::MemberMetadata { member, value, .. } => match value {
                Some(value) => {
                    let m = self
                        .members
                        .entry(member.clone())
                        .or_insert_with(|| ConsumerGroupMember::new(member));
                    if let Some(old) = m.instance_id.take() {
                        self.static_members.remove(&old);
                    }
                    m.apply_metadata(value);
                    if let Some(instance) = &m.instance_id {
                        self.static_members.insert(instance.clone(), member.clone());
                    }
                    self.refresh_regexes();
                }
                None => {
                    if let Some(m) = self.members.remove(member) {
                        self.remove_partition_epochs(&m);
                        if let Some(instance) = &m.instance_id {
                            if self.static_members.get(instance) == Some(member) {
                                self.static_members.remove(instance);
                            }
                        }
                    }
                    self.session_deadlines.remove(member);
                    self.rebalance_deadlines.remove(member);
                    self.refresh_regexes();
                }
            },
            ConsumerRecord::TargetAssignmentEpoch { epoch, .. } => {
                self.assignment_epoch = epoch.unwrap_or(0);
            }
            ConsumerRecord::TargetAssignmentMember {
                member, partitions, ..
            } => match partitions {
                Some(p) => {
                    self.target.insert(member.clone(), p.clone());
                }
                None => {
                    self.target.remove(member);
                }
            },
            ConsumerRecord::CurrentAssignment {
                member,
                value: None,
                ..
            } if !self.members.contains_key(member) => {}
            ConsumerRecord::CurrentAssignment { member, value, .. } => {
                let mut m = self
                    .members
                    .remove(member)
                    .unwrap_or_else(|| ConsumerGroupMember::new(member));
                self.remove_partition_epochs(&m);
                match value {
                    Some(value) => m.apply_current_assignment(value),
                    None => {
                        m.member_epoch = -1;
                        m.previous_member_epoch = -1;
                        m.state = MemberState::Stable;
                        m.assigned.clear();
                        m.pending_revocation.clear();
                    }
                }
                self.add_partition_epochs(&m);
                self.members.insert(member.clone(), m);
            }
        }
    }

    /// Compiles the members' regexes not compiled yet and forgets those no member uses.
    fn refresh_regexes(&mut self) {
        let patterns: BTreeSet<String> = self
            .subscribed_topic_regexes()
            .into_iter()
            .map(str::to_string)
            .collect();
        self.regexes.retain(|p| patterns.contains(p));
        for pattern in &patterns {
            if let Err(error) = self.regexes.compile(pattern) {
                // Only a record written by another implementation can get here: a heartbeat
                // refuses an invalid regex. The member then subscribes to no topic by regex.
                tracing::warn!(group = %self.group_id, pattern = %pattern, %error,
                    "cannot compile the subscription regex of a member");
            }
        }
    }

    fn remove_partition_epochs(&mut self, m: &ConsumerGroupMember) {
        for (t, ps) in m.assigned.iter().chain(&m.pending_revocation) {
            for p in ps {
                self.partition_epochs.remove(&(*t, *p));
            }
        }
    }

    fn add_partition_epochs(&mut self, m: &ConsumerGroupMember) {
        for (t, ps) in m.assigned.iter().chain(&m.pending_revocation) {
            for p in ps {
                if let Some(previous) = self.partition_epochs.insert((*t, *p), m.member_epoch) {
                    tracing::warn!(group = %self.group_id, member = %m.member_id, topic_id = %t,
                        partition = p, previous, "partition owned by two members");
                }
            }
        }
    }

    /// Records that rebuild this group from nothing (for `snapshot_records`).
    pub fn snapshot(&self) -> Vec<ConsumerRecord> {
        let group = || self.group_id.clone();
        let mut out = vec![
            ConsumerRecord::GroupEpoch {
                group: group(),
                epoch: Some(self.group_epoch),
            },
            ConsumerRecord::PartitionMetadata {
                group: group(),
                topics: Some(self.subscription_metadata.clone()),
            },
        ];
        for (id, m) in &self.members {
            out.push(ConsumerRecord::MemberMetadata {
                group: group(),
                member: id.clone(),
                value: Some(m.metadata_value()),
            });
        }
        for (id, target) in &self.target {
            out.push(ConsumerRecord::TargetAssignmentMember {
                group: group(),
                member: id.clone(),
                partitions: Some(target.clone()),
            });
        }
        out.push(ConsumerRecord::TargetAssignmentEpoch {
            group: group(),
            epoch: Some(self.assignment_epoch),
        });
        for (id, m) in &self.members {
            out.push(ConsumerRecord::CurrentAssignment {
                group: group(),
                member: id.clone(),
                value: Some(m.current_assignment_value()),
            });
        }
        out
    }

    /// Tombstones deleting the whole group (Kafka's order: members' current assignments, target
    /// assignments, target epoch, members' metadata, partition metadata, group epoch).
    pub fn tombstones(&self) -> Vec<ConsumerRecord> {
        let group = || self.group_id.clone();
        let mut out = Vec::new();
        for id in self.members.keys() {
            out.push(ConsumerRecord::CurrentAssignment {
                group: group(),
                member: id.clone(),
                value: None,
            });
        }
        for id in self
            .members
            .keys()
            .chain(self.target.keys())
            .collect::<BTreeSet<_>>()
        {
            out.push(ConsumerRecord::TargetAssignmentMember {
                group: group(),
                member: id.clone(),
                partitions: None,
            });
        }
        out.push(ConsumerRecord::TargetAssignmentEpoch {
            group: group(),
            epoch: None,
        });
        for id in self.members.keys() {
            out.push(ConsumerRecord::MemberMetadata {
                group: group(),
                member: id.clone(),
                value: None,
            });
        }
        out.push(ConsumerRecord::PartitionMetadata {
            group: group(),
            topics: None,
        });
        out.push(ConsumerRecord::GroupEpoch {
            group: group(),
            epoch: None,
        });
        out
    }

    /// The earliest timer of the group; `i64::MIN` when a member has no session timer yet
    /// (after a load), so that `poll` arms it.
    pub fn next_deadline(&self) -> Option<i64> {
        if self
            .members
            .keys()
            .any(|m| !self.session_deadlines.contains_key(m))
        {
            return Some(i64::MIN);
        }
        self.session_deadlines
            .values()
            .chain(self.rebalance_deadlines.values().map(|(_, d)| d))
            .min()
            .copied()
    }
}
