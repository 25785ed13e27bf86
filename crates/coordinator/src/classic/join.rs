//! JoinGroup and the join phase: new members (with the KIP-394 member id handshake), static
//! members replacing their previous incarnation (KIP-345), rejoins, and the rebalance itself
//! (prepare, initial delay, completion with the leader receiving the members' metadata).

use std::collections::BTreeMap;

use strom_protocol::messages::JoinGroupRequest;
use strom_protocol::ResponseError;

use super::group::{ClassicGroup, ClassicGroupState, JoinTimer};
use super::member::{ClassicGroupMember, ParkedRequest, Protocol};
use super::{code, join_error, Ctx};
use crate::outcome::{Reply, RequestId};
use strom_protocol::messages::JoinGroupResponse;

/// The fields of a JoinGroup the group needs, decoded once.
pub(crate) struct JoinParams<'a> {
    pub request_id: RequestId,
    pub version: i16,
    pub member_id: &'a str,
    pub group_instance_id: Option<&'a str>,
    pub client_id: &'a str,
    pub client_host: &'a str,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: &'a str,
    pub protocols: Vec<Protocol>,
}

impl<'a> JoinParams<'a> {
    pub fn from_request(
        request_id: RequestId,
        request: &'a JoinGroupRequest,
        version: i16,
        client_id: &'a str,
        client_host: &'a str,
    ) -> Self {
        // v0 has no rebalance timeout: Kafka uses the session timeout.
        let rebalance_timeout_ms = if version >= 1 {
            request.rebalance_timeout_ms
        } else {
            request.session_timeout_ms
        };
        JoinParams {
            request_id,
            version,
            member_id: &request.member_id,
            group_instance_id: if version >= 5 {
                request.group_instance_id.as_deref()
            } else {
                None
            },
            client_id,
            client_host,
            session_timeout_ms: request.session_timeout_ms,
            rebalance_timeout_ms,
            protocol_type: &request.protocol_type,
            protocols: request
                .protocols
                .iter()
                .map(|p| Protocol {
                    name: p.name.to_string(),
                    metadata: p.metadata.clone(),
                })
                .collect(),
        }
    }

    fn parked(&self) -> ParkedRequest {
        ParkedRequest {
            request_id: self.request_id,
            version: self.version,
        }
    }
}

impl ClassicGroup {
    /// Handles a JoinGroup addressed to this group.
    pub(crate) fn join(
        &mut self,
        ctx: &mut Ctx<'_>,
        p: JoinParams<'_>,
    ) -> Reply<JoinGroupResponse> {
        if !self.accept_joining_member(p.member_id, ctx.config.group_max_size) {
            self.remove_member_and_notify(
                p.member_id,
                ctx.effects,
                code(ResponseError::GroupMaxSizeReached),
            );
            return Reply::Now(join_error(
                p.version,
                "",
                code(ResponseError::GroupMaxSizeReached),
            ));
        }
        if p.member_id.is_empty() {
            self.join_new_member(ctx, p)
        } else {
            self.join_existing_member(ctx, p)
        }
    }

    /// Kafka's `acceptJoiningMember`: existing members are always accepted; new ones while the
    /// group is below `group.max.size` (counting members that rejoined during a rebalance).
    fn accept_joining_member(&self, member_id: &str, max_size: usize) -> bool {
        match self.state {
            ClassicGroupState::Empty | ClassicGroupState::Dead => true,
            ClassicGroupState::PreparingRebalance => {
                self.members
                    .get(member_id)
                    .is_some_and(|m| m.awaiting_join.is_some())
                    || self.num_awaiting_join() < max_size
            }
            ClassicGroupState::CompletingRebalance | ClassicGroupState::Stable => {
                self.has_member(member_id) || self.members.len() < max_size
            }
        }
    }

    fn join_new_member(
        &mut self,
        ctx: &mut Ctx<'_>,
        p: JoinParams<'_>,
    ) -> Reply<JoinGroupResponse> {
        if !self.supports_protocols(p.protocol_type, &p.protocols) {
            return Reply::Now(join_error(
                p.version,
                "",
                code(ResponseError::InconsistentGroupProtocol),
            ));
        }
        let prefix = p.group_instance_id.unwrap_or(p.client_id);
        let new_member_id = format!("{prefix}-{}", uuid::Uuid::new_v4());
        match p.group_instance_id {
            Some(instance) => match self.static_member_id(instance).map(str::to_string) {
                Some(old_member_id) => {
                    self.update_static_member(ctx, p, &old_member_id, &new_member_id)
                }
                None => self.add_member_then_rebalance(ctx, p, new_member_id),
            },
            None if p.version >= 4 => {
                // KIP-394: hand out the member id and wait for the member to rejoin with it.
                let deadline = ctx
                    .now
                    .saturating_add(i64::from(p.session_timeout_ms).max(1));
                self.pending_join_members
                    .insert(new_member_id.clone(), deadline);
                tracing::debug!(group = %self.group_id, member = %new_member_id, "member id required");
                Reply::Now(join_error(
                    p.version,
                    &new_member_id,
                    code(ResponseError::MemberIdRequired),
                ))
            }
            None => self.add_member_then_rebalance(ctx, p, new_member_id),
        }
    }

    fn join_existing_member(
        &mut self,
        ctx: &mut Ctx<'_>,
        p: JoinParams<'_>,
    ) -> Reply<JoinGroupResponse> {
        if !self.supports_protocols(p.protocol_type, &p.protocols) {
            return Reply::Now(join_error(
                p.version,
                p.member_id,
                code(ResponseError::InconsistentGroupProtocol),
            ));
        }
        if self.is_pending_member(p.member_id) {
            if p.group_instance_id.is_some() {
                // A pending member id is only handed to dynamic members (Kafka fails the same way).
                return Reply::Now(join_error(
                    p.version,
                    p.member_id,
                    code(ResponseError::UnknownServerError),
                ));
            }
            let member_id = p.member_id.to_string();
            return self.add_member_then_rebalance(ctx, p, member_id);
        }
        if let Err(error) = self.validate_existing_member(p.member_id, p.group_instance_id) {
            return Reply::Now(join_error(p.version, p.member_id, error));
        }
        let (matches, is_leader) = {
            let member = &self.members[p.member_id];
            (member.matches(&p.protocols), self.is_leader(p.member_id))
        };
        match self.state {
            ClassicGroupState::PreparingRebalance => self.update_member_then_rebalance(ctx, p),
            ClassicGroupState::CompletingRebalance if matches => {
                // The member lost its join response: send the current generation again.
                let leader = self.leader_id.clone().unwrap_or_default();
                Reply::Now(self.current_generation_response(
                    p.version,
                    p.member_id,
                    &leader,
                    is_leader,
                    false,
                ))
            }
            ClassicGroupState::CompletingRebalance => self.update_member_then_rebalance(ctx, p),
            ClassicGroupState::Stable if is_leader || !matches => {
                // A leader's rejoin forces a rebalance (it may have seen metadata changes that
                // its subscription does not show); so does a member whose metadata changed.
                self.update_member_then_rebalance(ctx, p)
            }
            ClassicGroupState::Stable => {
                let leader = self.leader_id.clone().unwrap_or_default();
                Reply::Now(self.current_generation_response(
                    p.version,
                    p.member_id,
                    &leader,
                    false,
                    false,
                ))
            }
            ClassicGroupState::Empty | ClassicGroupState::Dead => Reply::Now(join_error(
                p.version,
                p.member_id,
                code(ResponseError::UnknownMemberId),
            )),
        }
    }

    fn add_member_then_rebalance(
        &mut self,
        ctx: &mut Ctx<'_>,
        p: JoinParams<'_>,
        member_id: String,
    ) -> Reply<JoinGroupResponse> {
        let member = ClassicGroupMember {
            member_id: member_id.clone(),
            group_instance_id: p.group_instance_id.map(str::to_string),
            client_id: p.client_id.to_string(),
            client_host: p.client_host.to_string(),
            rebalance_timeout_ms: p.rebalance_timeout_ms,
            session_timeout_ms: p.session_timeout_ms,
            protocol_type: p.protocol_type.to_string(),
            protocols: p.protocols.clone(),
            assignment: bytes::Bytes::new(),
            awaiting_join: Some(p.parked()),
            awaiting_sync: None,
            is_new: true,
            // A new member cannot heartbeat before its join response: its join times out instead.
            heartbeat_deadline: ctx
                .now
                .saturating_add(ctx.config.group_new_member_join_timeout_ms.max(1)),
        };
        self.pending_join_members.remove(&member_id);
        self.add_member(member);
        if self.is_in(ClassicGroupState::PreparingRebalance) && self.generation_id == 0 {
            self.new_member_added = true;
        }
        tracing::info!(group = %self.group_id, member = %member_id, "member joins");
        self.maybe_prepare_rebalance_or_complete_join(ctx);
        Reply::Later
    }

    fn update_member_then_rebalance(
        &mut self,
        ctx: &mut Ctx<'_>,
        p: JoinParams<'_>,
    ) -> Reply<JoinGroupResponse> {
        self.update_member(ctx, p.member_id, &p);
        self.maybe_prepare_rebalance_or_complete_join(ctx);
        Reply::Later
    }

    /// Records the member's new protocols and timeouts and parks its join. A join parked by an
    /// earlier attempt of the same member is answered REBALANCE_IN_PROGRESS (Kafka drops it).
    fn update_member(&mut self, ctx: &mut Ctx<'_>, member_id: &str, p: &JoinParams<'_>) {
        let Some(member) = self.members.get_mut(member_id) else {
            return;
        };
        member.protocols = p.protocols.clone();
        member.rebalance_timeout_ms = p.rebalance_timeout_ms;
        member.session_timeout_ms = p.session_timeout_ms;
        if let Some(old) = member.awaiting_join.replace(p.parked()) {
            ctx.effects.complete_join(
                old.request_id,
                join_error(
                    old.version,
                    member_id,
                    code(ResponseError::RebalanceInProgress),
                ),
            );
        }
    }

    /// A static member rejoined with an empty member id: its new member id replaces the old one
    /// (whose parked requests are fenced). In a Stable group whose selected protocol would not
    /// change, no rebalance happens: the group metadata record is rewritten and the member gets
    /// the current generation (KIP-345); a v9+ leader learns it leads but must skip assignment
    /// (KIP-814), an older one is told the previous leader id so that it does not reassign.
    fn update_static_member(
        &mut self,
        ctx: &mut Ctx<'_>,
        p: JoinParams<'_>,
        old_member_id: &str,
        new_member_id: &str,
    ) -> Reply<JoinGroupResponse> {
        let current_leader = self.leader_id.clone().unwrap_or_default();
        self.replace_static_member(ctx, old_member_id, new_member_id);
        self.reschedule_heartbeat(new_member_id, ctx.now, None);
        self.update_member(ctx, new_member_id, &p);
        match self.state {
            ClassicGroupState::Stable => {
                if self.select_protocol() == self.protocol_name {
                    tracing::info!(group = %self.group_id, member = %new_member_id,
                        "static member rejoins without rebalance");
                    if let Some(m) = self.members.get_mut(new_member_id) {
                        m.awaiting_join = None;
                    }
                    self.write_metadata(ctx, &BTreeMap::new());
                    if p.version >= 9 {
                        let is_leader = self.is_leader(new_member_id);
                        let leader = self.leader_id.clone().unwrap_or_default();
                        Reply::Now(self.current_generation_response(
                            p.version,
                            new_member_id,
                            &leader,
                            is_leader,
                            is_leader,
                        ))
                    } else {
                        Reply::Now(self.current_generation_response(
                            p.version,
                            new_member_id,
                            &current_leader,
                            false,
                            false,
                        ))
                    }
                } else {
                    self.maybe_prepare_rebalance_or_complete_join(ctx);
                    Reply::Later
                }
            }
            ClassicGroupState::CompletingRebalance => {
                // The leader may already be assigning to the old member id: rebalance again.
                self.prepare_rebalance(ctx);
                Reply::Later
            }
            ClassicGroupState::PreparingRebalance => {
                self.maybe_complete_join_phase(ctx);
                Reply::Later
            }
            ClassicGroupState::Empty | ClassicGroupState::Dead => Reply::Now(join_error(
                p.version,
                "",
                code(ResponseError::UnknownServerError),
            )),
        }
    }

    /// Moves a static member to a new member id, keeping its assignment and leadership; the old
    /// incarnation's parked requests are answered FENCED_INSTANCE_ID.
    fn replace_static_member(
        &mut self,
        ctx: &mut Ctx<'_>,
        old_member_id: &str,
        new_member_id: &str,
    ) {
        let was_leader = self.is_leader(old_member_id);
        let was_pending_sync = self.pending_sync_members.contains(old_member_id);
        let Some(mut member) = self.remove_member_and_notify(
            old_member_id,
            ctx.effects,
            code(ResponseError::FencedInstanceId),
        ) else {
            return;
        };
        member.member_id = new_member_id.to_string();
        self.add_member(member);
        if was_leader {
            self.leader_id = Some(new_member_id.to_string());
        }
        if was_pending_sync {
            self.pending_sync_members.insert(new_member_id.to_string());
        }
    }

    /// Starts a rebalance if the state allows, else tries to finish the current join phase.
    pub(crate) fn maybe_prepare_rebalance_or_complete_join(&mut self, ctx: &mut Ctx<'_>) {
        if self.can_rebalance() {
            self.prepare_rebalance(ctx);
        } else {
            self.maybe_complete_join_phase(ctx);
        }
    }

    /// Enters PreparingRebalance: parked syncs are answered REBALANCE_IN_PROGRESS, the sync
    /// timer is cancelled, and the join timer starts (the initial delay for an Empty group).
    pub(crate) fn prepare_rebalance(&mut self, ctx: &mut Ctx<'_>) {
        if self.is_in(ClassicGroupState::CompletingRebalance) {
            self.reset_and_propagate_assignment_with_error(
                ctx,
                code(ResponseError::RebalanceInProgress),
            );
        }
        self.sync_timer = None;
        let initial = self.is_in(ClassicGroupState::Empty);
        if initial {
            let delay_ms = ctx.config.group_initial_rebalance_delay_ms.max(0);
            let remaining_ms = (self.rebalance_timeout_ms() - delay_ms).max(0);
            self.join_timer = Some(JoinTimer::InitialDelay {
                deadline: ctx.now.saturating_add(i64::from(delay_ms)),
                delay_ms,
                remaining_ms,
            });
        }
        tracing::info!(group = %self.group_id, generation = self.generation_id, "preparing to rebalance");
        self.transition_to(ClassicGroupState::PreparingRebalance, ctx.now);
        if !initial {
            if self.has_all_members_joined() {
                self.complete_join(ctx);
            } else {
                self.arm_rebalance_timer(ctx.now);
            }
        }
    }

    fn arm_rebalance_timer(&mut self, now: i64) {
        let timeout = i64::from(self.rebalance_timeout_ms()).max(1);
        self.join_timer = Some(JoinTimer::Rebalance {
            deadline: now.saturating_add(timeout),
        });
    }

    /// Completes the join phase if every member rejoined, unless the group is in its initial
    /// delay (the first rebalance after Empty waits for its timer).
    pub(crate) fn maybe_complete_join_phase(&mut self, ctx: &mut Ctx<'_>) {
        if self.is_in(ClassicGroupState::PreparingRebalance)
            && self.has_all_members_joined()
            && self.previous_state != ClassicGroupState::Empty
        {
            self.complete_join(ctx);
        }
    }

    /// Ends the join phase: dynamic members that did not rejoin are removed, a leader that did
    /// not rejoin is replaced, the next generation starts, and every parked join is answered
    /// (the leader with the members' metadata). An empty result writes the Empty group record.
    pub(crate) fn complete_join(&mut self, ctx: &mut Ctx<'_>) {
        if !self.is_in(ClassicGroupState::PreparingRebalance) {
            return;
        }
        self.join_timer = None;
        let not_rejoined: Vec<String> = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none() && !m.is_static())
            .map(|m| m.member_id.clone())
            .collect();
        for member_id in not_rejoined {
            tracing::info!(group = %self.group_id, member = %member_id, "member did not rejoin, removed");
            self.remove_member_and_notify(
                &member_id,
                ctx.effects,
                code(ResponseError::UnknownMemberId),
            );
        }
        if !self.maybe_elect_new_joined_leader() && !self.members.is_empty() {
            // Only static members that have not rejoined remain: wait for them (or their
            // session timeouts) another rebalance timeout.
            tracing::warn!(group = %self.group_id, "no member rejoined, rebalance postponed");
            self.arm_rebalance_timer(ctx.now);
            return;
        }
        self.init_next_generation(ctx.now);
        if self.is_in(ClassicGroupState::Empty) {
            tracing::info!(group = %self.group_id, generation = self.generation_id, "group is empty");
            self.write_metadata(ctx, &BTreeMap::new());
            return;
        }
        tracing::info!(group = %self.group_id, generation = self.generation_id,
            protocol = ?self.protocol_name, members = self.members.len(), "join phase complete");
        let leader = self.leader_id.clone().unwrap_or_default();
        let member_ids: Vec<String> = self.members.keys().cloned().collect();
        for member_id in member_ids {
            let parked = self
                .members
                .get_mut(&member_id)
                .and_then(|m| m.awaiting_join.take());
            if let Some(parked) = parked {
                let is_leader = member_id == leader;
                let response = self.current_generation_response(
                    parked.version,
                    &member_id,
                    &leader,
                    is_leader,
                    false,
                );
                ctx.effects.complete_join(parked.request_id, response);
            }
            self.reschedule_heartbeat(&member_id, ctx.now, None);
            if let Some(m) = self.members.get_mut(&member_id) {
                m.is_new = false;
            }
            self.pending_sync_members.insert(member_id);
        }
        let timeout = i64::from(self.rebalance_timeout_ms()).max(1);
        self.sync_timer = Some((ctx.now.saturating_add(timeout), self.generation_id));
    }
}
