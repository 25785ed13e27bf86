//! The target assignment of a consumer group (Kafka's `TargetAssignmentBuilder`): the subscribed
//! topics as the broker sees them, and the group assignor's result for the group epoch, written
//! as one record per member whose target changed plus the new target assignment epoch.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::group::ConsumerGroup;
use super::heartbeat::emit;
use super::records::{ConsumerRecord, TopicMetadata};
use super::topic_regex::selects;
use super::TopicsImage;
use crate::assignor::{assignor, AssignmentSpec, MemberSpec, DEFAULT_ASSIGNOR};
use crate::outcome::CoordinatorRecord;

/// The subscribed topics that exist, in name order: the topics the members name, and the
/// topics of the image that their regexes select.
pub(crate) fn subscription_metadata(
    group: &ConsumerGroup,
    topics: &TopicsImage,
) -> Vec<TopicMetadata> {
    let names = group.subscribed_topic_names();
    let regexes: Vec<_> = group
        .subscribed_topic_regexes()
        .into_iter()
        .filter_map(|pattern| group.regexes.get(pattern))
        .collect();
    topics
        .topics
        .iter()
        .filter(|(name, _)| {
            names.contains(name.as_str()) || regexes.iter().any(|r| selects(r, name))
        })
        .map(|(name, &(topic_id, num_partitions))| TopicMetadata {
            topic_id,
            name: name.clone(),
            num_partitions,
        })
        .collect()
}

/// Computes the target assignment for the group epoch and writes what changed.
pub(crate) fn update_target_assignment(
    group: &mut ConsumerGroup,
    records: &mut Vec<CoordinatorRecord>,
) {
    let name = group.preferred_assignor();
    let assignor = assignor(&name)
        .or_else(|| assignor(DEFAULT_ASSIGNOR))
        .expect("the default assignor exists");
    let spec = AssignmentSpec {
        members: group
            .members
            .iter()
            .map(|(id, m)| {
                let subscribed: BTreeSet<Uuid> = group
                    .subscription_metadata
                    .iter()
                    .filter(|t| group.member_subscribes(m, &t.name))
                    .map(|t| t.topic_id)
                    .collect();
                let current = group.target.get(id).cloned().unwrap_or_default();
                (
                    id.clone(),
                    MemberSpec {
                        subscribed,
                        current,
                    },
                )
            })
            .collect(),
        topics: group
            .subscription_metadata
            .iter()
            .map(|t| (t.topic_id, t.num_partitions))
            .collect(),
    };
    let result = assignor.assign(&spec);
    let group_id = group.group_id.clone();
    for (member, assignment) in result {
        if group.target.get(&member) != Some(&assignment) {
            emit(
                group,
                records,
                ConsumerRecord::TargetAssignmentMember {
                    group: group_id.clone(),
                    member,
                    partitions: Some(assignment),
                },
            );
        }
    }
    let epoch = group.group_epoch;
    emit(
        group,
        records,
        ConsumerRecord::TargetAssignmentEpoch {
            group: group_id.clone(),
            epoch: Some(epoch),
        },
    );
    tracing::info!(group = %group_id, epoch, assignor = assignor.name(), "computed target assignment");
}
