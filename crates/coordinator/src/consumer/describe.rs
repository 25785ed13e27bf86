//! `ConsumerGroupDescribe`: a consumer group's epochs, assignor and members with their current
//! and target assignments (topic names resolved through the broker's topics image).

use strom_protocol::messages::consumer_group_describe_response::{
    Assignment as DescribedAssignment, DescribedGroup, Member, TopicPartitions,
};
use strom_protocol::{str_bytes, ResponseError};

use super::records::{Assignment, TopicMetadata};
use super::TopicsImage;
use crate::shard::{Group, GroupCoordinatorShard};

/// The group operations Strom allows everyone (no ACLs yet): READ, DELETE and DESCRIBE, as
/// Kafka's bit field of `AclOperation` codes.
const GROUP_AUTHORIZED_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);

/// ConsumerGroupDescribe's "member type" of a member using the consumer protocol.
const MEMBER_TYPE_CONSUMER: i8 = 1;

impl GroupCoordinatorShard {
    /// One group of a ConsumerGroupDescribe: GROUP_ID_NOT_FOUND for unknown groups and for
    /// groups of the classic protocol (clients then fall back to DescribeGroups).
    pub fn consumer_group_describe(
        &self,
        group_id: &str,
        topics: &TopicsImage,
        include_authorized_operations: bool,
    ) -> DescribedGroup {
        let described =
            DescribedGroup::default().with_group_id(str_bytes(group_id.to_string()).into());
        let group = match self.groups.get(group_id) {
            Some(Group::Consumer(g)) => g,
            other => {
                let message = match other {
                    Some(_) => format!("Group {group_id} is not a consumer group."),
                    None => format!("Group {group_id} not found."),
                };
                return described
                    .with_error_code(ResponseError::GroupIdNotFound.code())
                    .with_error_message(Some(str_bytes(message)));
            }
        };
        let name_of = |id| {
            group
                .subscription_metadata
                .iter()
                .find(|t: &&TopicMetadata| t.topic_id == id)
                .map(|t| t.name.as_str())
                .or_else(|| topics.name_of(id))
                .unwrap_or("")
                .to_string()
        };
        let assignment = |a: &Assignment| {
            DescribedAssignment::default().with_topic_partitions(
                a.iter()
                    .map(|(id, ps)| {
                        TopicPartitions::default()
                            .with_topic_id(*id)
                            .with_topic_name(str_bytes(name_of(*id)).into())
                            .with_partitions(ps.iter().copied().collect())
                    })
                    .collect(),
            )
        };
        let members = group
            .members
            .values()
            .map(|m| {
                Member::default()
                    .with_member_id(str_bytes(m.member_id.clone()))
                    .with_instance_id(m.instance_id.clone().map(str_bytes))
                    .with_rack_id(m.rack_id.clone().map(str_bytes))
                    .with_member_epoch(m.member_epoch)
                    .with_client_id(str_bytes(m.client_id.clone()))
                    .with_client_host(str_bytes(m.client_host.clone()))
                    .with_subscribed_topic_names(
                        m.subscribed_topic_names
                            .iter()
                            .map(|n| str_bytes(n.clone()).into())
                            .collect(),
                    )
                    .with_subscribed_topic_regex(m.subscribed_topic_regex.clone().map(str_bytes))
                    .with_assignment(assignment(&m.assigned))
                    .with_target_assignment(assignment(
                        &group.target.get(&m.member_id).cloned().unwrap_or_default(),
                    ))
                    .with_member_type(MEMBER_TYPE_CONSUMER)
            })
            .collect();
        let mut described = described
            .with_group_state(str_bytes(group.state().as_str().to_string()))
            .with_group_epoch(group.group_epoch)
            .with_assignment_epoch(group.assignment_epoch)
            .with_assignor_name(str_bytes(group.preferred_assignor()))
            .with_members(members);
        if include_authorized_operations {
            described = described.with_authorized_operations(GROUP_AUTHORIZED_OPERATIONS);
        }
        described
    }
}
