//! A classic group's state: the state machine (Empty → PreparingRebalance → CompletingRebalance
//! → Stable), the generation, the leader, the members (dynamic and static), the members waiting
//! for a member id (KIP-394) and the timers of the group.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::member::{ClassicGroupMember, Protocol, DISARMED};
use super::protocol_selection::select_protocol;
use super::subscription::subscribed_topics;
use crate::records::{GroupMetadataValue, MemberMetadataValue};

/// The protocol type of Kafka's Java consumer (and librdkafka's): its subscriptions can be read.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// The states of a classic group, named as Kafka names them on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClassicGroupState {
    /// No members; offsets may still exist.
    Empty,
    /// Members are (re)joining; the join phase ends when all known members rejoined or the
    /// rebalance timeout expires.
    PreparingRebalance,
    /// Join responses were sent; waiting for the leader's assignment in `SyncGroup`.
    CompletingRebalance,
    /// Every member has its assignment.
    Stable,
    /// Deleted (only reported for unknown groups).
    Dead,
}

impl ClassicGroupState {
    /// The state's name in DescribeGroups and ListGroups.
    pub fn as_str(self) -> &'static str {
        match self {
            ClassicGroupState::Empty => "Empty",
            ClassicGroupState::PreparingRebalance => "PreparingRebalance",
            ClassicGroupState::CompletingRebalance => "CompletingRebalance",
            ClassicGroupState::Stable => "Stable",
            ClassicGroupState::Dead => "Dead",
        }
    }
}

/// The join-phase timer of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinTimer {
    /// The first rebalance of an empty group waits `group.initial.rebalance.delay.ms`, extended
    /// by the same delay while new members keep arriving, up to the rebalance timeout.
    InitialDelay {
        deadline: i64,
        delay_ms: i32,
        remaining_ms: i32,
    },
    /// The rebalance timeout: members that have not rejoined by then are removed.
    Rebalance { deadline: i64 },
}

impl JoinTimer {
    pub fn deadline(&self) -> i64 {
        match *self {
            JoinTimer::InitialDelay { deadline, .. } | JoinTimer::Rebalance { deadline } => {
                deadline
            }
        }
    }
}

/// A classic group (Kafka's `ClassicGroup`).
#[derive(Debug, Clone)]
pub struct ClassicGroup {
    pub group_id: String,
    pub state: ClassicGroupState,
    pub previous_state: ClassicGroupState,
    /// When the group entered its current state (None when loaded from a record without it).
    pub current_state_timestamp: Option<i64>,
    /// `None` for a "simple" group created by offset commits without membership.
    pub protocol_type: Option<String>,
    /// The protocol selected for the current generation.
    pub protocol_name: Option<String>,
    pub generation_id: i32,
    pub leader_id: Option<String>,
    /// Members by member id.
    pub members: BTreeMap<String, ClassicGroupMember>,
    /// Static members: group instance id → member id.
    pub static_members: BTreeMap<String, String>,
    /// Members told MEMBER_ID_REQUIRED and expected to rejoin with their id (KIP-394), with the
    /// deadline after which they are forgotten.
    pub pending_join_members: BTreeMap<String, i64>,
    /// Members of the current generation that have not sent SyncGroup yet.
    pub pending_sync_members: BTreeSet<String>,
    /// Set when a member joins during the group's first rebalance: extends the initial delay.
    pub new_member_added: bool,
    pub join_timer: Option<JoinTimer>,
    /// Sync timeout: deadline and the generation it guards.
    pub sync_timer: Option<(i64, i32)>,
    /// The topics the members subscribe to, when known (consumer protocol type).
    pub subscribed_topics: Option<BTreeSet<String>>,
    /// The last group metadata record written or replayed, re-emitted by snapshots.
    pub last_record: Option<GroupMetadataValue>,
    /// Members' heartbeat deadlines must be armed at the next poll (after a load).
    pub needs_heartbeat_rearm: bool,
    /// Generations started since the group was created or loaded (not persisted: a statistic,
    /// the broker's `strom_group_rebalances_total`).
    pub rebalances: u64,
}

impl ClassicGroup {
    /// A new empty group without protocol type.
    pub fn new(group_id: impl Into<String>, now_ms: i64) -> Self {
        ClassicGroup {
            group_id: group_id.into(),
            state: ClassicGroupState::Empty,
            previous_state: ClassicGroupState::Empty,
            current_state_timestamp: Some(now_ms),
            protocol_type: None,
            protocol_name: None,
            generation_id: 0,
            leader_id: None,
            members: BTreeMap::new(),
            static_members: BTreeMap::new(),
            pending_join_members: BTreeMap::new(),
            pending_sync_members: BTreeSet::new(),
            new_member_added: false,
            join_timer: None,
            sync_timer: None,
            subscribed_topics: None,
            last_record: None,
            needs_heartbeat_rearm: false,
            rebalances: 0,
        }
    }

    pub fn is_in(&self, state: ClassicGroupState) -> bool {
        self.state == state
    }

    pub fn transition_to(&mut self, state: ClassicGroupState, now_ms: i64) {
        self.previous_state = self.state;
        self.state = state;
        self.current_state_timestamp = Some(now_ms);
    }

    /// Whether a rebalance may start from the current state.
    pub fn can_rebalance(&self) -> bool {
        matches!(
            self.state,
            ClassicGroupState::Stable
                | ClassicGroupState::CompletingRebalance
                | ClassicGroupState::Empty
        )
    }

    pub fn has_member(&self, member_id: &str) -> bool {
        self.members.contains_key(member_id)
    }

    pub fn is_pending_member(&self, member_id: &str) -> bool {
        self.pending_join_members.contains_key(member_id)
    }

    pub fn is_leader(&self, member_id: &str) -> bool {
        self.leader_id.as_deref() == Some(member_id)
    }

    pub fn static_member_id(&self, group_instance_id: &str) -> Option<&str> {
        self.static_members
            .get(group_instance_id)
            .map(String::as_str)
    }

    pub fn num_awaiting_join(&self) -> usize {
        self.members
            .values()
            .filter(|m| m.awaiting_join.is_some())
            .count()
    }

    /// All members rejoined and no member id handed out by MEMBER_ID_REQUIRED is outstanding.
    pub fn has_all_members_joined(&self) -> bool {
        self.members.len() == self.num_awaiting_join() && self.pending_join_members.is_empty()
    }

    /// The group's rebalance timeout: the largest of its members'.
    pub fn rebalance_timeout_ms(&self) -> i32 {
        self.members
            .values()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0)
    }

    /// Whether a member of `protocol_type` supporting `protocols` may join: an empty group takes
    /// any non-empty protocol type and list; otherwise the type must match and one of the
    /// protocols must be supported by every member.
    pub fn supports_protocols(&self, protocol_type: &str, protocols: &[Protocol]) -> bool {
        if self.members.is_empty() {
            !protocol_type.is_empty() && !protocols.is_empty()
        } else {
            self.protocol_type.as_deref() == Some(protocol_type)
                && protocols
                    .iter()
                    .any(|p| self.members.values().all(|m| m.supports(&p.name)))
        }
    }

    /// Selects the protocol for the next generation (see [`super::protocol_selection`]).
    pub fn select_protocol(&self) -> Option<String> {
        let members: Vec<&ClassicGroupMember> = self.members.values().collect();
        let reference = self
            .leader_id
            .as_deref()
            .and_then(|l| self.members.get(l))
            .or_else(|| members.first().copied())?;
        select_protocol(reference, &members)
    }

    /// Adds a member; the first member sets the group's protocol type and becomes the leader.
    pub fn add_member(&mut self, member: ClassicGroupMember) {
        if self.members.is_empty() {
            self.protocol_type = Some(member.protocol_type.clone());
        }
        if self.leader_id.is_none() {
            self.leader_id = Some(member.member_id.clone());
        }
        if let Some(instance) = &member.group_instance_id {
            self.static_members
                .insert(instance.clone(), member.member_id.clone());
        }
        self.members.insert(member.member_id.clone(), member);
    }

    /// Removes a member (or a pending member) without answering its parked requests: callers do.
    /// The leader role passes to the first remaining member.
    pub fn remove_member(&mut self, member_id: &str) -> Option<ClassicGroupMember> {
        let removed = self.members.remove(member_id);
        if let Some(instance) = removed.as_ref().and_then(|m| m.group_instance_id.as_ref()) {
            if self.static_members.get(instance).map(String::as_str) == Some(member_id) {
                self.static_members.remove(instance);
            }
        }
        if self.is_leader(member_id) {
            self.leader_id = self.members.keys().next().cloned();
        }
        self.pending_join_members.remove(member_id);
        self.pending_sync_members.remove(member_id);
        removed
    }

    /// If the leader has not rejoined, passes leadership to a member that has. False when no
    /// member has rejoined.
    pub fn maybe_elect_new_joined_leader(&mut self) -> bool {
        let Some(leader) = self.leader_id.as_deref() else {
            return false;
        };
        if self
            .members
            .get(leader)
            .is_some_and(|m| m.awaiting_join.is_some())
        {
            return true;
        }
        match self.members.values().find(|m| m.awaiting_join.is_some()) {
            Some(m) => {
                self.leader_id = Some(m.member_id.clone());
                true
            }
            None => false,
        }
    }

    /// Starts the next generation: selects the protocol and moves to CompletingRebalance, or to
    /// Empty when no member is left.
    pub fn init_next_generation(&mut self, now_ms: i64) {
        self.generation_id = self.generation_id.wrapping_add(1);
        self.rebalances += 1;
        if self.members.is_empty() {
            self.protocol_name = None;
            self.transition_to(ClassicGroupState::Empty, now_ms);
        } else {
            self.protocol_name = self.select_protocol();
            self.transition_to(ClassicGroupState::CompletingRebalance, now_ms);
        }
        self.subscribed_topics = self.compute_subscribed_topics();
        self.pending_sync_members.clear();
    }

    /// The union of the members' subscribed topics, when the protocol type is "consumer" and
    /// every subscription parses; an empty set for an empty group with a protocol type.
    pub fn compute_subscribed_topics(&self) -> Option<BTreeSet<String>> {
        self.protocol_type.as_ref()?;
        if self.members.is_empty() {
            return Some(BTreeSet::new());
        }
        if self.protocol_type.as_deref() != Some(CONSUMER_PROTOCOL_TYPE) {
            return None;
        }
        let protocol = self.protocol_name.as_deref()?;
        let mut topics = BTreeSet::new();
        for member in self.members.values() {
            topics.extend(subscribed_topics(member.metadata(protocol)?)?);
        }
        Some(topics)
    }

    /// Whether the group is known to subscribe to `topic`.
    pub fn is_subscribed_to_topic(&self, topic: &str) -> bool {
        self.subscribed_topics
            .as_ref()
            .is_some_and(|t| t.contains(topic))
    }

    /// The group metadata record of the group's current generation with the given assignments
    /// (members missing from `assignments` keep their current one).
    pub fn metadata_record(&self, assignments: &BTreeMap<String, Bytes>) -> GroupMetadataValue {
        let protocol = self.protocol_name.as_deref().unwrap_or_default();
        GroupMetadataValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation_id,
            protocol: self.protocol_name.clone(),
            leader: self.leader_id.clone(),
            current_state_timestamp: self.current_state_timestamp.unwrap_or(-1),
            members: self
                .members
                .values()
                .map(|m| MemberMetadataValue {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout: m.rebalance_timeout_ms,
                    session_timeout: m.session_timeout_ms,
                    subscription: m.metadata(protocol).cloned().unwrap_or_default(),
                    assignment: assignments
                        .get(&m.member_id)
                        .cloned()
                        .unwrap_or_else(|| m.assignment.clone()),
                })
                .collect(),
        }
    }

    /// Rebuilds a group from its metadata record (at load): Empty without members, else Stable.
    /// Members support only the selected protocol, with their recorded subscription; their
    /// heartbeats are armed at the next poll.
    pub fn from_record(group_id: &str, value: &GroupMetadataValue) -> Self {
        let mut group = ClassicGroup::new(group_id, 0);
        group.state = if value.members.is_empty() {
            ClassicGroupState::Empty
        } else {
            ClassicGroupState::Stable
        };
        group.previous_state = group.state;
        group.current_state_timestamp =
            (value.current_state_timestamp >= 0).then_some(value.current_state_timestamp);
        group.protocol_type =
            (!value.protocol_type.is_empty()).then(|| value.protocol_type.clone());
        group.protocol_name = value.protocol.clone();
        group.generation_id = value.generation;
        let protocol = value.protocol.clone().unwrap_or_default();
        for m in &value.members {
            group.add_member(ClassicGroupMember {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                rebalance_timeout_ms: m.rebalance_timeout,
                session_timeout_ms: m.session_timeout,
                protocol_type: value.protocol_type.clone(),
                protocols: vec![Protocol {
                    name: protocol.clone(),
                    metadata: m.subscription.clone(),
                }],
                assignment: m.assignment.clone(),
                awaiting_join: None,
                awaiting_sync: None,
                is_new: false,
                heartbeat_deadline: DISARMED,
            });
        }
        group.leader_id = value
            .leader
            .clone()
            .filter(|l| group.members.contains_key(l))
            .or_else(|| group.members.keys().next().cloned());
        group.subscribed_topics = group.compute_subscribed_topics();
        group.needs_heartbeat_rearm = !group.members.is_empty();
        group.last_record = Some(value.clone());
        group
    }

    /// The earliest deadline among the group's timers.
    pub fn next_deadline(&self) -> Option<i64> {
        if self.needs_heartbeat_rearm {
            return Some(i64::MIN);
        }
        let members = self
            .members
            .values()
            .map(|m| m.heartbeat_deadline)
            .filter(|&d| d != DISARMED);
        let pending = self.pending_join_members.values().copied();
        let join = self.join_timer.map(|t| t.deadline());
        let sync = self.sync_timer.map(|(d, _)| d);
        members.chain(pending).chain(join).chain(sync).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, instance: Option<&str>, protocols: &[&str]) -> ClassicGroupMember {
        ClassicGroupMember {
            member_id: id.into(),
            group_instance_id: instance.map(Into::into),
            client_id: "c".into(),
            client_host: "h".into(),
            rebalance_timeout_ms: 10,
            session_timeout_ms: 5,
            protocol_type: "consumer".into(),
            protocols: protocols
                .iter()
                .map(|n| Protocol {
                    name: (*n).into(),
                    metadata: Bytes::from_static(b"meta"),
                })
                .collect(),
            assignment: Bytes::new(),
            awaiting_join: None,
            awaiting_sync: None,
            is_new: false,
            heartbeat_deadline: DISARMED,
        }
    }

    #[test]
    fn first_member_sets_type_and_leader_and_leader_moves_on_removal() {
        let mut g = ClassicGroup::new("g", 0);
        assert!(g.supports_protocols("consumer", &member("x", None, &["range"]).protocols));
        assert!(!g.supports_protocols("", &member("x", None, &["range"]).protocols));
        assert!(!g.supports_protocols("consumer", &[]));
        g.add_member(member("b", None, &["range", "rr"]));
        g.add_member(member("a", Some("i"), &["rr"]));
        assert_eq!(g.protocol_type.as_deref(), Some("consumer"));
        assert_eq!(g.leader_id.as_deref(), Some("b"));
        assert_eq!(g.static_member_id("i"), Some("a"));
        assert!(g.supports_protocols("consumer", &member("x", None, &["rr"]).protocols));
        assert!(!g.supports_protocols("consumer", &member("x", None, &["range"]).protocols));
        assert!(!g.supports_protocols("connect", &member("x", None, &["rr"]).protocols));
        assert_eq!(g.select_protocol().as_deref(), Some("rr"));
        assert_eq!(g.rebalance_timeout_ms(), 10);
        g.remove_member("b");
        assert_eq!(g.leader_id.as_deref(), Some("a"));
        g.remove_member("a");
        assert_eq!(g.leader_id, None);
        assert!(g.static_members.is_empty());
    }

    #[test]
    fn record_round_trip_gives_stable_group() {
        let mut g = ClassicGroup::new("g", 0);
        g.add_member(member("a", Some("i"), &["range"]));
        g.init_next_generation(7);
        assert_eq!(g.state, ClassicGroupState::CompletingRebalance);
        let mut assignments = BTreeMap::new();
        assignments.insert("a".to_string(), Bytes::from_static(b"asg"));
        let record = g.metadata_record(&assignments);
        assert_eq!(record.generation, 1);
        assert_eq!(record.current_state_timestamp, 7);
        assert_eq!(&record.members[0].assignment[..], b"asg");
        let loaded = ClassicGroup::from_record("g", &record);
        assert_eq!(loaded.state, ClassicGroupState::Stable);
        assert_eq!(loaded.generation_id, 1);
        assert_eq!(loaded.protocol_name.as_deref(), Some("range"));
        assert_eq!(loaded.static_member_id("i"), Some("a"));
        assert_eq!(&loaded.members["a"].assignment[..], b"asg");
        assert_eq!(loaded.next_deadline(), Some(i64::MIN));
    }

    #[test]
    fn elect_new_leader_among_rejoined() {
        let mut g = ClassicGroup::new("g", 0);
        g.add_member(member("a", None, &["range"]));
        g.add_member(member("b", None, &["range"]));
        assert!(!g.maybe_elect_new_joined_leader());
        g.members.get_mut("b").expect("b").awaiting_join =
            Some(super::super::member::ParkedRequest {
                request_id: 1,
                version: 5,
            });
        assert!(g.maybe_elect_new_joined_leader());
        assert_eq!(g.leader_id.as_deref(), Some("b"));
    }
}
