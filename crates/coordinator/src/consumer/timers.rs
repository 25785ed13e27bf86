//! The timers of a consumer group: a member whose session expires
//! (`group.consumer.session.timeout.ms` without a heartbeat) or that does not revoke its
//! partitions within its rebalance timeout is fenced: removed, and the group epoch bumped so
//! that the others take its partitions. After a load, the first `poll` arms every member's
//! session (and the rebalance timer of members revoking partitions) from that moment.

use super::group::ConsumerGroup;
use super::heartbeat::emit;
use super::member::MemberState;
use super::records::ConsumerRecord;
use crate::config::ShardConfig;
use crate::outcome::CoordinatorRecord;

/// Removes a member (its three records are tombstoned), drops the subscribed topics nobody
/// subscribes to any more from the group's metadata, and bumps the group epoch.
pub(crate) fn fence_member(
    group: &mut ConsumerGroup,
    member_id: &str,
    records: &mut Vec<CoordinatorRecord>,
) {
    let group_id = group.group_id.clone();
    let member = member_id.to_string();
    for record in [
        ConsumerRecord::CurrentAssignment {
            group: group_id.clone(),
            member: member.clone(),
            value: None,
        },
        ConsumerRecord::TargetAssignmentMember {
            group: group_id.clone(),
            member: member.clone(),
            partitions: None,
        },
        ConsumerRecord::MemberMetadata {
            group: group_id.clone(),
            member,
            value: None,
        },
    ] {
        emit(group, records, record);
    }
    let metadata: Vec<_> = group
        .subscription_metadata
        .iter()
        .filter(|t| group.subscribes_to(&t.name))
        .cloned()
        .collect();
    if metadata != group.subscription_metadata {
        emit(
            group,
            records,
            ConsumerRecord::PartitionMetadata {
                group: group_id.clone(),
                topics: Some(metadata),
            },
        );
    }
    let epoch = group.group_epoch + 1;
    emit(
        group,
        records,
        ConsumerRecord::GroupEpoch {
            group: group_id,
            epoch: Some(epoch),
        },
    );
}

/// Fires the group's due timers and arms missing ones.
pub(crate) fn poll(
    group: &mut ConsumerGroup,
    config: &ShardConfig,
    now_ms: i64,
) -> Vec<CoordinatorRecord> {
    let session = i64::from(config.consumer_session_timeout_ms);
    let members: Vec<(String, MemberState, i32, i32)> = group
        .members
        .values()
        .map(|m| {
            (
                m.member_id.clone(),
                m.state,
                m.member_epoch,
                m.rebalance_timeout_ms,
            )
        })
        .collect();
    for (id, state, epoch, rebalance_timeout) in &members {
        group
            .session_deadlines
            .entry(id.clone())
            .or_insert_with(|| now_ms.saturating_add(session));
        if *state == MemberState::UnrevokedPartitions {
            group
                .rebalance_deadlines
                .entry(id.clone())
                .or_insert_with(|| {
                    (
                        *epoch,
                        now_ms.saturating_add(i64::from((*rebalance_timeout).max(0))),
                    )
                });
        }
    }
    let mut records = Vec::new();
    for (id, _, epoch, _) in members {
        let session_expired = group
            .session_deadlines
            .get(&id)
            .is_some_and(|d| *d <= now_ms);
        let revocation_expired = group
            .rebalance_deadlines
            .get(&id)
            .is_some_and(|(e, d)| *d <= now_ms && *e == epoch);
        if session_expired || revocation_expired {
            tracing::info!(group = %group.group_id, member = %id,
                reason = if session_expired { "session expired" } else { "revocation timed out" },
                "member fenced from the consumer group");
            fence_member(group, &id, &mut records);
        } else if group
            .rebalance_deadlines
            .get(&id)
            .is_some_and(|(e, d)| *d <= now_ms && *e != epoch)
        {
            group.rebalance_deadlines.remove(&id);
        }
    }
    records
}
