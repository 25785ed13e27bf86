//! The checks of a ConsumerGroupHeartbeat request before it touches any group (Kafka's
//! `throwIfConsumerGroupHeartbeatRequestIsInvalid`): INVALID_REQUEST for missing or malformed
//! fields, UNSUPPORTED_ASSIGNOR for an unknown server assignor. (A regex is compiled, and refused
//! with INVALID_REGULAR_EXPRESSION, only when it changes: see the heartbeat.)

use strom_protocol::messages::ConsumerGroupHeartbeatRequest;
use strom_protocol::ResponseError;

use super::heartbeat::{fail, Failure};
use super::{LEAVE_GROUP_MEMBER_EPOCH, LEAVE_GROUP_STATIC_MEMBER_EPOCH};
use crate::assignor::{assignor, assignor_names};

/// Kafka's request checks (INVALID_REQUEST, UNSUPPORTED_ASSIGNOR).
pub(crate) fn validate(
    request: &ConsumerGroupHeartbeatRequest,
    version: i16,
) -> Result<(), Failure> {
    let invalid = |message: &str| fail(ResponseError::InvalidRequest, message.to_string());
    if request.group_id.is_empty() {
        return invalid("GroupId can't be empty.");
    }
    if request.instance_id.as_deref() == Some("") {
        return invalid("InstanceId can't be empty.");
    }
    if request.rack_id.as_deref() == Some("") {
        return invalid("RackId can't be empty.");
    }
    if version >= 1 && request.member_id.is_empty() {
        return invalid("MemberId can't be empty.");
    }
    match request.member_epoch {
        0 => {
            if request.rebalance_timeout_ms == -1 {
                return invalid("RebalanceTimeoutMs must be provided in first request.");
            }
            if request
                .topic_partitions
                .as_ref()
                .is_none_or(|t| !t.is_empty())
            {
                return invalid("TopicPartitions must be empty when (re-)joining.");
            }
            // An empty list of names, or an empty regex, joins with no topics.
            if request.subscribed_topic_names.is_none() && request.subscribed_topic_regex.is_none()
            {
                return invalid(
                    "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when \
                     (re-)joining.",
                );
            }
        }
        e if e > 0 || e == LEAVE_GROUP_MEMBER_EPOCH => {
            if request.member_id.is_empty() {
                return invalid("MemberId can't be empty.");
            }
        }
        LEAVE_GROUP_STATIC_MEMBER_EPOCH => {
            if request.member_id.is_empty() {
                return invalid("MemberId can't be empty.");
            }
            if request.instance_id.is_none() {
                return invalid("InstanceId can't be null.");
            }
        }
        _ => return invalid("MemberEpoch is invalid."),
    }
    if let Some(name) = request.server_assignor.as_deref() {
        if assignor(name).is_none() {
            return fail(
                ResponseError::UnsupportedAssignor,
                format!(
                    "ServerAssignor {name} is not supported. Supported assignors: {}.",
                    assignor_names().join(", ")
                ),
            );
        }
    }
    Ok(())
}
