//! SyncGroup: followers park until the leader sends the assignments, which are relayed byte for
//! byte; the leader's sync writes the group metadata record and makes the group Stable.

use std::collections::BTreeMap;

use bytes::Bytes;
use strom_protocol::messages::{SyncGroupRequest, SyncGroupResponse};
use strom_protocol::ResponseError;

use super::group::{ClassicGroup, ClassicGroupState};
use super::member::ParkedRequest;
use super::{code, sync_error, sync_response, Ctx, NONE};
use crate::outcome::{Reply, RequestId};

/// `true` when the request names a protocol type or name that differs from the group's.
fn inconsistent(requested: Option<&str>, group: Option<&str>) -> bool {
    matches!((requested, group), (Some(r), Some(g)) if r != g)
}

impl ClassicGroup {
    /// Handles a SyncGroup addressed to this group.
    pub(crate) fn sync(
        &mut self,
        ctx: &mut Ctx<'_>,
        request_id: RequestId,
        request: &SyncGroupRequest,
        version: i16,
    ) -> Reply<SyncGroupResponse> {
        let member_id: &str = &request.member_id;
        let instance = if version >= 3 {
            request.group_instance_id.as_deref()
        } else {
            None
        };
        if let Err(error) = self.validate_existing_member(member_id, instance) {
            return Reply::Now(sync_error(version, error));
        }
        if request.generation_id != self.generation_id {
            return Reply::Now(sync_error(version, code(ResponseError::IllegalGeneration)));
        }
        if version >= 5
            && (inconsistent(
                request.protocol_type.as_deref(),
                self.protocol_type.as_deref(),
            ) || inconsistent(
                request.protocol_name.as_deref(),
                self.protocol_name.as_deref(),
            ))
        {
            return Reply::Now(sync_error(
                version,
                code(ResponseError::InconsistentGroupProtocol),
            ));
        }
        match self.state {
            ClassicGroupState::PreparingRebalance => Reply::Now(sync_error(
                version,
                code(ResponseError::RebalanceInProgress),
            )),
            ClassicGroupState::CompletingRebalance => {
                let parked = ParkedRequest {
                    request_id,
                    version,
                };
                if let Some(member) = self.members.get_mut(member_id) {
                    if let Some(old) = member.awaiting_sync.replace(parked) {
                        ctx.effects.complete_sync(
                            old.request_id,
                            sync_error(old.version, code(ResponseError::RebalanceInProgress)),
                        );
                    }
                }
                self.remove_pending_sync_member(member_id);
                if self.is_leader(member_id) {
                    let mut assignments: BTreeMap<String, Bytes> = request
                        .assignments
                        .iter()
                        .map(|a| (a.member_id.to_string(), a.assignment.clone()))
                        .collect();
                    for id in self.members.keys() {
                        if !assignments.contains_key(id) {
                            tracing::warn!(group = %self.group_id, member = %id,
                                "leader sent no assignment for member, using an empty one");
                            assignments.insert(id.clone(), Bytes::new());
                        }
                    }
                    tracing::info!(group = %self.group_id, generation = self.generation_id,
                        "assignment received from leader");
                    self.write_metadata(ctx, &assignments);
                    for (id, member) in self.members.iter_mut() {
                        if let Some(a) = assignments.get(id) {
                            member.assignment = a.clone();
                        }
                    }
                    self.propagate_assignment(ctx, NONE);
                    self.transition_to(ClassicGroupState::Stable, ctx.now);
                }
                Reply::Later
            }
            ClassicGroupState::Stable => {
                self.remove_pending_sync_member(member_id);
                let assignment = self
                    .members
                    .get(member_id)
                    .map(|m| m.assignment.clone())
                    .unwrap_or_default();
                Reply::Now(sync_response(
                    version,
                    NONE,
                    self.protocol_type.as_deref(),
                    self.protocol_name.as_deref(),
                    assignment,
                ))
            }
            ClassicGroupState::Empty | ClassicGroupState::Dead => {
                Reply::Now(sync_error(version, code(ResponseError::UnknownMemberId)))
            }
        }
    }

    /// The member synced: once every member has, the sync timer is no longer needed.
    fn remove_pending_sync_member(&mut self, member_id: &str) {
        self.pending_sync_members.remove(member_id);
        if self.pending_sync_members.is_empty()
            || !matches!(
                self.state,
                ClassicGroupState::CompletingRebalance | ClassicGroupState::Stable
            )
        {
            self.sync_timer = None;
        }
    }

    /// Answers every parked sync with the member's assignment and `error_code`; on success the
    /// members' session timers restart (a session may have lapsed while they waited).
    pub(crate) fn propagate_assignment(&mut self, ctx: &mut Ctx<'_>, error_code: i16) {
        let protocol_type = self.protocol_type.clone();
        let protocol_name = self.protocol_name.clone();
        let success = error_code == NONE;
        for member in self.members.values_mut() {
            if let Some(parked) = member.awaiting_sync.take() {
                ctx.effects.complete_sync(
                    parked.request_id,
                    sync_response(
                        parked.version,
                        error_code,
                        protocol_type.as_deref(),
                        protocol_name.as_deref(),
                        member.assignment.clone(),
                    ),
                );
            }
            if success {
                member.heartbeat_deadline = ctx
                    .now
                    .saturating_add(i64::from(member.session_timeout_ms).max(1));
            }
        }
    }

    /// Clears the assignments and answers parked syncs with `error_code`.
    pub(crate) fn reset_and_propagate_assignment_with_error(
        &mut self,
        ctx: &mut Ctx<'_>,
        error_code: i16,
    ) {
        for member in self.members.values_mut() {
            member.assignment = Bytes::new();
        }
        self.propagate_assignment(ctx, error_code);
    }
}
