//! `ConsumerGroupHeartbeat` (Kafka's `GroupMetadataManager.consumerGroupHeartbeat`): joins
//! (member epoch 0), heartbeats (the member's epoch, with the fields that changed), leaves (-1)
//! and static members' temporary leaves (-2).
//!
//! One heartbeat: (1) get or create the member and write its metadata record if it changed;
//! bump the group epoch when its subscription (names or regex) changed or the subscribed
//! topics' metadata did (which covers a topic created or deleted that a regex selects);
//! (2) when the group epoch is ahead of the target assignment, compute a new target with the
//! group's assignor; (3) reconcile the member towards its target; (4) re-arm its session. The
//! reply carries the member epoch and, when it changed or the request was a full one, the
//! member's assignment.

use strom_protocol::messages::consumer_group_heartbeat_request::TopicPartitions as OwnedTopic;
use strom_protocol::messages::consumer_group_heartbeat_response::{
    Assignment as ResponseAssignment, TopicPartitions,
};
use strom_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use strom_protocol::{str_bytes, ResponseError};
use uuid::Uuid;

use super::group::ConsumerGroup;
use super::member::{ConsumerGroupMember, MemberState};
use super::reconcile::{reconcile, Reconciliation};
use super::records::{Assignment, ConsumerRecord};
use super::target::{subscription_metadata, update_target_assignment};
use super::timers::fence_member;
use super::validate::validate;
use super::{TopicsImage, LEAVE_GROUP_STATIC_MEMBER_EPOCH};
use crate::classic::group::ClassicGroupState;
use crate::outcome::{CoordinatorRecord, Outcome, Reply};
use crate::shard::{group_tombstone, Group, GroupCoordinatorShard};

/// An error code and its message.
pub(crate) type Failure = (i16, String);

pub(crate) fn fail<T>(error: ResponseError, message: String) -> Result<T, Failure> {
    Err((error.code(), message))
}

/// Applies `record` to the group and queues it for the log.
pub(crate) fn emit(
    group: &mut ConsumerGroup,
    records: &mut Vec<CoordinatorRecord>,
    record: ConsumerRecord,
) {
    group.apply(&record);
    // Only live changes go through here (a load applies records directly): a new group epoch
    // is a rebalance.
    if matches!(record, ConsumerRecord::GroupEpoch { epoch: Some(_), .. }) {
        group.rebalances += 1;
    }
    records.push(record.encode());
}

impl GroupCoordinatorShard {
    /// Handles a ConsumerGroupHeartbeat (v0-1). `topics` is the broker's view of the topics now;
    /// subscriptions are resolved against it.
    pub fn consumer_group_heartbeat(
        &mut self,
        request: &ConsumerGroupHeartbeatRequest,
        version: i16,
        client_id: &str,
        client_host: &str,
        topics: &TopicsImage,
        now_ms: i64,
    ) -> Outcome<ConsumerGroupHeartbeatResponse> {
        let result = validate(request, version).and_then(|()| {
            if request.member_epoch < 0 {
                self.consumer_group_leave(request)
            } else {
                let client = (client_id, client_host);
                self.consumer_group_heartbeat_inner(request, client, topics, now_ms)
            }
        });
        match result {
            Ok((response, records)) => Outcome {
                reply: Reply::Now(response),
                records,
                completions: Vec::new(),
            },
            Err((code, message)) => {
                tracing::debug!(group = %&*request.group_id, member = %&*request.member_id,
                    code, %message, "consumer group heartbeat failed");
                Outcome::now(
                    ConsumerGroupHeartbeatResponse::default()
                        .with_error_code(code)
                        .with_error_message(Some(str_bytes(message))),
                )
            }
        }
    }

    fn consumer_group_leave(
        &mut self,
        request: &ConsumerGroupHeartbeatRequest,
    ) -> Result<(ConsumerGroupHeartbeatResponse, Vec<CoordinatorRecord>), Failure> {
        let group_id: &str = &request.group_id;
        let member_id: &str = &request.member_id;
        let group = match self.groups.get_mut(group_id) {
            Some(Group::Consumer(g)) => g,
            Some(Group::Classic(_)) => {
                return fail(
                    ResponseError::GroupIdNotFound,
                    format!("Group {group_id} is not a consumer group."),
                )
            }
            None => {
                return fail(
                    ResponseError::GroupIdNotFound,
                    format!("Consumer group {group_id} not found."),
                )
            }
        };
        let member = match request.instance_id.as_deref() {
            None => match group.members.get(member_id) {
                Some(m) => m.clone(),
                None => return unknown_member(group_id, member_id),
            },
            Some(instance) => static_member(group, instance, member_id)?,
        };
        let mut records = Vec::new();
        if request.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH {
            // The static member keeps its assignment until it rejoins or its session expires.
            let mut left = member.clone();
            left.member_epoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH;
            left.pending_revocation.clear();
            emit(
                group,
                &mut records,
                ConsumerRecord::CurrentAssignment {
                    group: group_id.to_string(),
                    member: member.member_id.clone(),
                    value: Some(left.current_assignment_value()),
                },
            );
            group.rebalance_deadlines.remove(&member.member_id);
            tracing::info!(group = %group_id, member = %member_id, "static member left temporarily");
        } else {
            fence_member(group, &member.member_id, &mut records);
            tracing::info!(group = %group_id, member = %member_id, "member left the consumer group");
        }
        let response = ConsumerGroupHeartbeatResponse::default()
            .with_member_id(Some(str_bytes(member.member_id)))
            .with_member_epoch(request.member_epoch);
        Ok((response, records))
    }

    fn consumer_group_heartbeat_inner(
        &mut self,
        request: &ConsumerGroupHeartbeatRequest,
        (client_id, client_host): (&str, &str),
        topics: &TopicsImage,
        now_ms: i64,
    ) -> Result<(ConsumerGroupHeartbeatResponse, Vec<CoordinatorRecord>), Failure> {
        let group_id: &str = &request.group_id;
        let epoch = request.member_epoch;
        let mut records = Vec::new();
        let mut group = match self.groups.get(group_id) {
            Some(Group::Consumer(g)) => g.clone(),
            None if epoch == 0 => ConsumerGroup::new(group_id),
            None => {
                return fail(
                    ResponseError::GroupIdNotFound,
                    format!("Consumer group {group_id} not found."),
                )
            }
            Some(Group::Classic(c))
                if epoch == 0
                    && c.is_in(ClassicGroupState::Empty)
                    && c.members.is_empty()
                    && c.pending_join_members.is_empty() =>
            {
                // An empty classic group becomes a consumer group; its offsets stay.
                tracing::info!(group = %group_id, "empty classic group converted to a consumer group");
                records.push(group_tombstone(group_id));
                ConsumerGroup::new(group_id)
            }
            Some(Group::Classic(_)) => {
                return fail(
                    ResponseError::GroupIdNotFound,
                    format!("Group {group_id} is not a consumer group."),
                )
            }
        };
        if group.members.len() >= self.config.consumer_group_max_size
            && (request.member_id.is_empty() || !group.members.contains_key(&*request.member_id))
        {
            return fail(
                ResponseError::GroupMaxSizeReached,
                format!(
                    "The consumer group has reached its maximum capacity of {} members.",
                    self.config.consumer_group_max_size
                ),
            );
        }
        let member_id = if request.member_id.is_empty() {
            Uuid::new_v4().to_string()
        } else {
            request.member_id.to_string()
        };
        let owned = request.topic_partitions.as_deref().map(to_assignment);
        let instance = request.instance_id.as_deref();
        let member = find_or_create_member(
            &mut group,
            &mut records,
            &member_id,
            epoch,
            instance,
            owned.as_ref(),
        )?;

        // 1. The member and the group epoch.
        let mut updated = member.clone();
        updated.client_id = client_id.to_string();
        updated.client_host = client_host.to_string();
        if let Some(instance) = instance {
            updated.instance_id = Some(instance.to_string());
        }
        if let Some(rack) = request.rack_id.as_deref() {
            updated.rack_id = Some(rack.to_string());
        }
        if request.rebalance_timeout_ms != -1 {
            updated.rebalance_timeout_ms = request.rebalance_timeout_ms;
        }
        if let Some(assignor) = request.server_assignor.as_deref() {
            updated.server_assignor = Some(assignor.to_string());
        }
        if let Some(names) = &request.subscribed_topic_names {
            updated.subscribed_topic_names = names.iter().map(|n| n.to_string()).collect();
        }
        // Null keeps the regex; an empty one clears it (librdkafka sends "" with plain
        // subscriptions).
        if let Some(regex) = request.subscribed_topic_regex.as_deref() {
            updated.subscribed_topic_regex = (!regex.is_empty()).then(|| regex.to_string());
        }
        if updated.subscribed_topic_regex != member.subscribed_topic_regex {
            if let Some(regex) = updated.subscribed_topic_regex.as_deref() {
                // Compiled once: the group's cache keeps it for the member record below.
                if let Err(error) = group.regexes.compile(regex) {
                    return fail(
                        ResponseError::InvalidRegularExpression,
                        format!(
                            "SubscribedTopicRegex `{regex}` is not a valid regular expression: \
                             {error}."
                        ),
                    );
                }
            }
        }
        let mut bump = false;
        if !group.members.contains_key(&member_id) || updated.metadata_differs(&member) {
            emit(
                &mut group,
                &mut records,
                ConsumerRecord::MemberMetadata {
                    group: group_id.to_string(),
                    member: member_id.clone(),
                    value: Some(updated.metadata_value()),
                },
            );
            bump = updated.subscribed_topic_names != member.subscribed_topic_names
                || updated.subscribed_topic_regex != member.subscribed_topic_regex;
        }
        let metadata = subscription_metadata(&group, topics);
        if metadata != group.subscription_metadata {
            emit(
                &mut group,
                &mut records,
                ConsumerRecord::PartitionMetadata {
                    group: group_id.to_string(),
                    topics: Some(metadata),
                },
            );
            bump = true;
        }
        if bump {
            let next = group.group_epoch + 1;
            emit(
                &mut group,
                &mut records,
                ConsumerRecord::GroupEpoch {
                    group: group_id.to_string(),
                    epoch: Some(next),
                },
            );
            tracing::info!(group = %group_id, epoch = next, "bumped group epoch");
        }

        // 2. The target assignment.
        if group.group_epoch > group.assignment_epoch {
            update_target_assignment(&mut group, &mut records);
        }

        // 3. Reconciliation.
        let current = group
            .members
            .get(&member_id)
            .cloned()
            .unwrap_or_else(|| updated.clone());
        let target_epoch = group.assignment_epoch;
        if !current.is_reconciled_to(target_epoch) {
            let target = group.target.get(&member_id).cloned().unwrap_or_default();
            let partition_epoch = |t: Uuid, p: i32| group.partition_epoch(t, p);
            let next = reconcile(
                &current,
                &Reconciliation {
                    target_epoch,
                    target: &target,
                    owned: owned.as_ref(),
                    partition_epoch: &partition_epoch,
                },
            )
            .map_err(|code| {
                (
                    code,
                    "The member is in an unknown state; it must rejoin.".to_string(),
                )
            })?;
            if next.assignment_differs(&current) {
                emit(
                    &mut group,
                    &mut records,
                    ConsumerRecord::CurrentAssignment {
                        group: group_id.to_string(),
                        member: member_id.clone(),
                        value: Some(next.current_assignment_value()),
                    },
                );
                if next.state == MemberState::UnrevokedPartitions {
                    let timeout = i64::from(next.rebalance_timeout_ms.max(0));
                    group.rebalance_deadlines.insert(
                        member_id.clone(),
                        (next.member_epoch, now_ms.saturating_add(timeout)),
                    );
                } else {
                    group.rebalance_deadlines.remove(&member_id);
                }
            }
        }

        // 4. The session.
        let session = i64::from(self.config.consumer_session_timeout_ms);
        group
            .session_deadlines
            .insert(member_id.clone(), now_ms.saturating_add(session));

        let after = group.members.get(&member_id).cloned().unwrap_or(updated);
        let full_request = epoch == 0
            || (request.rebalance_timeout_ms != -1
                && (request.subscribed_topic_names.is_some()
                    || request.subscribed_topic_regex.is_some())
                && request.topic_partitions.is_some());
        let mut response = ConsumerGroupHeartbeatResponse::default()
            .with_member_id(Some(str_bytes(member_id)))
            .with_member_epoch(after.member_epoch)
            .with_heartbeat_interval_ms(self.config.consumer_heartbeat_interval_ms);
        if full_request || after.assigned != member.assigned {
            response = response.with_assignment(Some(response_assignment(&after.assigned)));
        }
        self.groups
            .insert(group_id.to_string(), Group::Consumer(group));
        Ok((response, records))
    }
}

fn unknown_member<T>(group_id: &str, member_id: &str) -> Result<T, Failure> {
    fail(
        ResponseError::UnknownMemberId,
        format!("Member {member_id} is not a member of group {group_id}."),
    )
}

/// The static member of `instance`, which must be `member_id`.
fn static_member(
    group: &ConsumerGroup,
    instance: &str,
    member_id: &str,
) -> Result<ConsumerGroupMember, Failure> {
    let Some(member) = group
        .static_members
        .get(instance)
        .and_then(|id| group.members.get(id))
    else {
        return fail(
            ResponseError::UnknownMemberId,
            format!("Instance id {instance} is unknown."),
        );
    };
    if member.member_id != member_id {
        return fail(
            ResponseError::FencedInstanceId,
            format!(
                "Static member {member_id} with instance id {instance} is fenced by member {}.",
                member.member_id
            ),
        );
    }
    Ok(member.clone())
}

/// Kafka's member epoch check: a newer epoch is fenced; an older one only when it is not the
/// previous epoch with owned partitions inside the current assignment (the response that bumped
/// the epoch may have been lost). Epoch 0 (a rejoin) is always accepted.
fn check_member_epoch(
    member: &ConsumerGroupMember,
    received: i32,
    owned: Option<&Assignment>,
) -> Result<(), Failure> {
    let fenced = || {
        fail(
            ResponseError::FencedMemberEpoch,
            format!(
                "The consumer group member has a member epoch ({received}) different from the one \
                 known by the group coordinator ({}). The member must abandon all its partitions \
                 and rejoin.",
                member.member_epoch
            ),
        )
    };
    if received == 0 || received == member.member_epoch {
        return Ok(());
    }
    if received > member.member_epoch {
        return fenced();
    }
    let subset = owned.is_some_and(|owned| {
        owned
            .iter()
            .all(|(t, ps)| ps.is_empty() || member.assigned.get(t).is_some_and(|a| ps.is_subset(a)))
    });
    if received != member.previous_member_epoch || !subset {
        return fenced();
    }
    Ok(())
}

/// The member a heartbeat is for: existing, new, or a static member replacing its previous
/// incarnation (which must have left with epoch -2).
fn find_or_create_member(
    group: &mut ConsumerGroup,
    records: &mut Vec<CoordinatorRecord>,
    member_id: &str,
    epoch: i32,
    instance: Option<&str>,
    owned: Option<&Assignment>,
) -> Result<ConsumerGroupMember, Failure> {
    let Some(instance) = instance else {
        return match group.members.get(member_id) {
            Some(m) => {
                check_member_epoch(m, epoch, owned)?;
                Ok(m.clone())
            }
            None if epoch == 0 => Ok(ConsumerGroupMember::new(member_id)),
            None => unknown_member(&group.group_id, member_id),
        };
    };
    if epoch != 0 {
        let member = static_member(group, instance, member_id)?;
        check_member_epoch(&member, epoch, owned)?;
        return Ok(member);
    }
    let existing = group
        .static_members
        .get(instance)
        .and_then(|id| group.members.get(id))
        .cloned();
    match existing {
        None => Ok(group
            .members
            .get(member_id)
            .cloned()
            .unwrap_or_else(|| ConsumerGroupMember::new(member_id))),
        // The same incarnation rejoining (after being fenced) keeps its state.
        Some(old) if old.member_id == member_id => Ok(old),
        Some(old) if old.member_epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH => fail(
            ResponseError::UnreleasedInstanceId,
            format!(
                "Static member {member_id} with instance id {instance} cannot join the group \
                 because the instance id is owned by member {} that has not left.",
                old.member_id
            ),
        ),
        Some(old) => {
            // The new incarnation takes the previous one's place and assignment.
            let group_id = group.group_id.clone();
            let target = group.target.get(&old.member_id).cloned();
            let mut new = old.clone();
            new.member_id = member_id.to_string();
            new.member_epoch = 0;
            new.previous_member_epoch = 0;
            for record in [
                ConsumerRecord::CurrentAssignment {
                    group: group_id.clone(),
                    member: old.member_id.clone(),
                    value: None,
                },
                ConsumerRecord::TargetAssignmentMember {
                    group: group_id.clone(),
                    member: old.member_id.clone(),
                    partitions: None,
                },
                ConsumerRecord::MemberMetadata {
                    group: group_id.clone(),
                    member: old.member_id.clone(),
                    value: None,
                },
                ConsumerRecord::MemberMetadata {
                    group: group_id.clone(),
                    member: new.member_id.clone(),
                    value: Some(new.metadata_value()),
                },
                ConsumerRecord::TargetAssignmentMember {
                    group: group_id.clone(),
                    member: new.member_id.clone(),
                    partitions: Some(target.unwrap_or_default()),
                },
                ConsumerRecord::CurrentAssignment {
                    group: group_id.clone(),
                    member: new.member_id.clone(),
                    value: Some(new.current_assignment_value()),
                },
            ] {
                emit(group, records, record);
            }
            tracing::info!(group = %group_id, instance, old = %old.member_id, new = %member_id,
                "static member rejoined");
            Ok(new)
        }
    }
}

fn to_assignment(owned: &[OwnedTopic]) -> Assignment {
    let mut out = Assignment::new();
    for t in owned {
        if !t.partitions.is_empty() {
            out.entry(t.topic_id)
                .or_default()
                .extend(t.partitions.iter().copied());
        }
    }
    out
}

fn response_assignment(assigned: &Assignment) -> ResponseAssignment {
    ResponseAssignment::default().with_topic_partitions(
        assigned
            .iter()
            .map(|(id, ps)| {
                TopicPartitions::default()
                    .with_topic_id(*id)
                    .with_partitions(ps.iter().copied().collect())
            })
            .collect(),
    )
}
