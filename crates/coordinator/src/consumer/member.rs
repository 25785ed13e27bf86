//! A member of a consumer group (Kafka's `ConsumerGroupMember`): what it told the coordinator
//! (its metadata record) and where its reconciliation stands (its current assignment record).

use std::collections::BTreeSet;

use super::records::{Assignment, CurrentAssignmentValue, MemberMetadataValue};

/// Where a member is in its reconciliation towards the target assignment (Kafka's
/// `MemberState`, same byte values in records).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemberState {
    /// The member owns its whole assignment for its epoch.
    #[default]
    Stable,
    /// The member must revoke partitions before it can move to a newer epoch.
    UnrevokedPartitions,
    /// The member waits for partitions that other members still own.
    UnreleasedPartitions,
    /// A state of a newer Kafka: the member is fenced and rejoins from scratch.
    Unknown,
}

impl MemberState {
    /// The record byte.
    pub fn value(self) -> i8 {
        match self {
            MemberState::Stable => 0,
            MemberState::UnrevokedPartitions => 1,
            MemberState::UnreleasedPartitions => 2,
            MemberState::Unknown => 127,
        }
    }

    pub fn from_value(value: i8) -> Self {
        match value {
            0 => MemberState::Stable,
            1 => MemberState::UnrevokedPartitions,
            2 => MemberState::UnreleasedPartitions,
            _ => MemberState::Unknown,
        }
    }
}

/// One member of a consumer group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumerGroupMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: BTreeSet<String>,
    pub subscribed_topic_regex: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub server_assignor: Option<String>,
    /// The epoch the member must send in its next heartbeat; 0 before its first assignment,
    /// -2 after a static member's temporary leave.
    pub member_epoch: i32,
    /// The epoch before the last bump (accepted when the bump's response was lost).
    pub previous_member_epoch: i32,
    pub state: MemberState,
    /// The partitions the member owns (or may own now).
    pub assigned: Assignment,
    /// The partitions the member must give up before moving on.
    pub pending_revocation: Assignment,
}

impl ConsumerGroupMember {
    /// A member that just joined: epoch 0, nothing assigned.
    pub fn new(member_id: &str) -> Self {
        ConsumerGroupMember {
            member_id: member_id.to_string(),
            rebalance_timeout_ms: -1,
            ..ConsumerGroupMember::default()
        }
    }

    /// Whether the member is stable at `target_epoch`.
    pub fn is_reconciled_to(&self, target_epoch: i32) -> bool {
        self.state == MemberState::Stable && self.member_epoch == target_epoch
    }

    /// The member's metadata record value.
    pub fn metadata_value(&self) -> MemberMetadataValue {
        MemberMetadataValue {
            instance_id: self.instance_id.clone(),
            rack_id: self.rack_id.clone(),
            client_id: self.client_id.clone(),
            client_host: self.client_host.clone(),
            subscribed_topic_names: self.subscribed_topic_names.iter().cloned().collect(),
            subscribed_topic_regex: self.subscribed_topic_regex.clone(),
            rebalance_timeout_ms: self.rebalance_timeout_ms,
            server_assignor: self.server_assignor.clone(),
        }
    }

    /// Applies a metadata record value.
    pub fn apply_metadata(&mut self, value: &MemberMetadataValue) {
        self.instance_id = value.instance_id.clone();
        self.rack_id = value.rack_id.clone();
        self.client_id = value.client_id.clone();
        self.client_host = value.client_host.clone();
        self.subscribed_topic_names = value.subscribed_topic_names.iter().cloned().collect();
        self.subscribed_topic_regex = value.subscribed_topic_regex.clone();
        self.rebalance_timeout_ms = value.rebalance_timeout_ms;
        self.server_assignor = value.server_assignor.clone();
    }

    /// Whether the metadata (what a member metadata record holds) differs.
    pub fn metadata_differs(&self, other: &ConsumerGroupMember) -> bool {
        self.metadata_value() != other.metadata_value()
    }

    /// The member's current assignment record value.
    pub fn current_assignment_value(&self) -> CurrentAssignmentValue {
        CurrentAssignmentValue {
            member_epoch: self.member_epoch,
            previous_member_epoch: self.previous_member_epoch,
            state: self.state.value(),
            assigned: self.assigned.clone(),
            pending_revocation: self.pending_revocation.clone(),
        }
    }

    /// Applies a current assignment record value.
    pub fn apply_current_assignment(&mut self, value: &CurrentAssignmentValue) {
        self.member_epoch = value.member_epoch;
        self.previous_member_epoch = value.previous_member_epoch;
        self.state = MemberState::from_value(value.state);
        self.assigned = value.assigned.clone();
        self.pending_revocation = value.pending_revocation.clone();
    }

    /// Whether the reconciliation state (what a current assignment record holds) differs.
    pub fn assignment_differs(&self, other: &ConsumerGroupMember) -> bool {
        self.current_assignment_value() != other.current_assignment_value()
    }
}
