//! Kafka's classic group protocol (JoinGroup / SyncGroup / Heartbeat / LeaveGroup, KIP-62
//! generations, KIP-345 static membership, KIP-394 member ids, KIP-814 skipped assignment).
//!
//! The state lives in [`group::ClassicGroup`]; each API is an `impl ClassicGroup` block in its
//! own file, and the timers are in [`timers`]. Handlers never do I/O: they mutate the group and
//! push records and completions into `Effects`. A request that must wait for other members is
//! parked on its member ([`member::ParkedRequest`]) and answered by a completion later.
//! Members are iterated in member id order, so every outcome is deterministic.

pub mod group;
pub mod heartbeat;
pub mod join;
pub mod leave;
pub mod member;
pub mod protocol_selection;
pub mod subscription;
pub mod sync;
pub mod timers;

use std::collections::BTreeMap;

use bytes::Bytes;
use strom_protocol::messages::join_group_response::JoinGroupResponseMember;
use strom_protocol::messages::{JoinGroupResponse, SyncGroupResponse};
use strom_protocol::{str_bytes, ResponseError, StrBytes};

use crate::config::ShardConfig;
use crate::outcome::{CoordinatorRecord, Effects};
use crate::records::RecordKey;
use group::{ClassicGroup, ClassicGroupState};
use member::ParkedRequest;

/// What a handler needs besides the group: configuration, the time, and the effects sink.
pub(crate) struct Ctx<'a> {
    pub config: &'a ShardConfig,
    pub now: i64,
    pub effects: &'a mut Effects,
}

/// The error code of success.
pub const NONE: i16 = 0;

pub(crate) fn code(error: ResponseError) -> i16 {
    error.code()
}

fn opt_str(s: Option<&str>) -> Option<StrBytes> {
    s.map(|s| str_bytes(s.to_string()))
}

/// A JoinGroup response. Before v7 the protocol name is not nullable (Kafka sends "").
#[allow(clippy::too_many_arguments)]
pub(crate) fn join_response(
    version: i16,
    error_code: i16,
    member_id: &str,
    generation_id: i32,
    protocol_type: Option<&str>,
    protocol_name: Option<&str>,
    leader: &str,
    skip_assignment: bool,
    members: Vec<JoinGroupResponseMember>,
) -> JoinGroupResponse {
    let protocol_name = match protocol_name {
        Some(name) => Some(str_bytes(name.to_string())),
        None if version < 7 => Some(StrBytes::default()),
        None => None,
    };
    JoinGroupResponse::default()
        .with_error_code(error_code)
        .with_generation_id(generation_id)
        .with_protocol_type(if version >= 7 {
            opt_str(protocol_type)
        } else {
            None
        })
        .with_protocol_name(protocol_name)
        .with_leader(str_bytes(leader.to_string()))
        .with_skip_assignment(skip_assignment && version >= 9)
        .with_member_id(str_bytes(member_id.to_string()))
        .with_members(members)
}

/// A JoinGroup error response (generation -1, no leader, no protocol).
pub(crate) fn join_error(version: i16, member_id: &str, error_code: i16) -> JoinGroupResponse {
    join_response(
        version,
        error_code,
        member_id,
        -1,
        None,
        None,
        "",
        false,
        Vec::new(),
    )
}

/// A SyncGroup response.
pub(crate) fn sync_response(
    version: i16,
    error_code: i16,
    protocol_type: Option<&str>,
    protocol_name: Option<&str>,
    assignment: Bytes,
) -> SyncGroupResponse {
    let v5 = version >= 5;
    SyncGroupResponse::default()
        .with_error_code(error_code)
        .with_protocol_type(if v5 { opt_str(protocol_type) } else { None })
        .with_protocol_name(if v5 { opt_str(protocol_name) } else { None })
        .with_assignment(assignment)
}

pub(crate) fn sync_error(version: i16, error_code: i16) -> SyncGroupResponse {
    sync_response(version, error_code, None, None, Bytes::new())
}

impl ClassicGroup {
    /// The member list a leader receives in JoinGroup, with each member's metadata for the
    /// selected protocol (group instance ids from v5).
    pub(crate) fn join_response_members(&self, version: i16) -> Vec<JoinGroupResponseMember> {
        let protocol = self.protocol_name.as_deref().unwrap_or_default();
        self.members
            .values()
            .map(|m| {
                JoinGroupResponseMember::default()
                    .with_member_id(str_bytes(m.member_id.clone()))
                    .with_group_instance_id(if version >= 5 {
                        opt_str(m.group_instance_id.as_deref())
                    } else {
                        None
                    })
                    .with_metadata(m.metadata(protocol).cloned().unwrap_or_default())
            })
            .collect()
    }

    /// The JoinGroup response for the current generation, as sent to `member_id`.
    pub(crate) fn current_generation_response(
        &self,
        version: i16,
        member_id: &str,
        leader: &str,
        with_members: bool,
        skip_assignment: bool,
    ) -> JoinGroupResponse {
        let members = if with_members {
            self.join_response_members(version)
        } else {
            Vec::new()
        };
        join_response(
            version,
            NONE,
            member_id,
            self.generation_id,
            self.protocol_type.as_deref(),
            self.protocol_name.as_deref(),
            leader,
            skip_assignment,
            members,
        )
    }

    /// Writes the group metadata record of the current generation (with `assignments`
    /// overriding the members' current ones) and remembers it for snapshots.
    pub(crate) fn write_metadata(
        &mut self,
        ctx: &mut Ctx<'_>,
        assignments: &BTreeMap<String, Bytes>,
    ) {
        let value = self.metadata_record(assignments);
        ctx.effects.records.push(CoordinatorRecord {
            key: RecordKey::GroupMetadata {
                group: self.group_id.clone(),
            }
            .encode(),
            value: Some(value.encode()),
        });
        self.last_record = Some(value);
    }

    /// Kafka's `validateExistingMember`: a static member must present the member id its
    /// instance id maps to (else FENCED_INSTANCE_ID); a dynamic member must be known.
    pub(crate) fn validate_existing_member(
        &self,
        member_id: &str,
        group_instance_id: Option<&str>,
    ) -> Result<(), i16> {
        match group_instance_id {
            None if !self.has_member(member_id) => Err(code(ResponseError::UnknownMemberId)),
            None => Ok(()),
            Some(instance) => match self.static_member_id(instance) {
                None => Err(code(ResponseError::UnknownMemberId)),
                Some(existing) if existing != member_id => {
                    Err(code(ResponseError::FencedInstanceId))
                }
                Some(_) => Ok(()),
            },
        }
    }

    /// Arms the member's session timer from now.
    pub(crate) fn reschedule_heartbeat(
        &mut self,
        member_id: &str,
        now: i64,
        timeout_ms: Option<i64>,
    ) {
        if let Some(m) = self.members.get_mut(member_id) {
            let timeout = timeout_ms.unwrap_or(i64::from(m.session_timeout_ms));
            m.heartbeat_deadline = now.saturating_add(timeout.max(1));
        }
    }

    /// Removes a member and answers its parked requests with `error_code` (UNKNOWN_MEMBER_ID
    /// when removed, FENCED_INSTANCE_ID when replaced), so no request is left hanging.
    pub(crate) fn remove_member_and_notify(
        &mut self,
        member_id: &str,
        effects: &mut Effects,
        error_code: i16,
    ) -> Option<member::ClassicGroupMember> {
        let mut removed = self.remove_member(member_id)?;
        answer_parked(&mut removed, effects, error_code);
        Some(removed)
    }
}

/// Answers a member's parked JoinGroup and SyncGroup with an error.
pub(crate) fn answer_parked(
    member: &mut member::ClassicGroupMember,
    effects: &mut Effects,
    error_code: i16,
) {
    if let Some(ParkedRequest {
        request_id,
        version,
    }) = member.awaiting_join.take()
    {
        let member_id = if error_code == code(ResponseError::FencedInstanceId) {
            member.member_id.as_str()
        } else {
            ""
        };
        effects.complete_join(request_id, join_error(version, member_id, error_code));
    }
    if let Some(ParkedRequest {
        request_id,
        version,
    }) = member.awaiting_sync.take()
    {
        effects.complete_sync(request_id, sync_error(version, error_code));
    }
}

/// Whether `state` has members that may be waiting (for assertions in tests).
pub fn is_rebalancing(state: ClassicGroupState) -> bool {
    matches!(
        state,
        ClassicGroupState::PreparingRebalance | ClassicGroupState::CompletingRebalance
    )
}
