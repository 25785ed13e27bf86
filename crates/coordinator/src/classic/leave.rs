//! LeaveGroup: members leave by member id (dynamic) or by group instance id (static, possibly
//! without member id: an administrative removal); a departure starts a rebalance, or empties
//! the group when the last member leaves.

use strom_protocol::ResponseError;

use super::group::{ClassicGroup, ClassicGroupState};
use super::{code, Ctx, NONE};

/// One member named by a LeaveGroup and the result for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeavingMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub error_code: i16,
}

impl ClassicGroup {
    /// Removes the named members; returns one result per identity, in request order.
    pub(crate) fn leave(
        &mut self,
        ctx: &mut Ctx<'_>,
        identities: &[(String, Option<String>)],
    ) -> Vec<LeavingMember> {
        let mut results = Vec::with_capacity(identities.len());
        let mut removed_any = false;
        for (member_id, instance) in identities {
            let error = if member_id.is_empty() {
                match instance.as_deref().and_then(|i| self.static_member_id(i)) {
                    Some(existing) => {
                        let existing = existing.to_string();
                        self.remove_leaving(ctx, &existing);
                        removed_any = true;
                        NONE
                    }
                    None => code(ResponseError::UnknownMemberId),
                }
            } else if self.is_pending_member(member_id) {
                self.remove_member(member_id);
                removed_any = true;
                NONE
            } else {
                match self.validate_existing_member(member_id, instance.as_deref()) {
                    Ok(()) => {
                        self.remove_leaving(ctx, member_id);
                        removed_any = true;
                        NONE
                    }
                    Err(error) => error,
                }
            };
            results.push(LeavingMember {
                member_id: member_id.clone(),
                group_instance_id: instance.clone(),
                error_code: error,
            });
        }
        if removed_any {
            match self.state {
                ClassicGroupState::Stable | ClassicGroupState::CompletingRebalance => {
                    self.maybe_prepare_rebalance_or_complete_join(ctx);
                }
                ClassicGroupState::PreparingRebalance => {
                    if self.has_all_members_joined() {
                        self.complete_join(ctx);
                    }
                }
                ClassicGroupState::Empty | ClassicGroupState::Dead => {}
            }
        }
        results
    }

    fn remove_leaving(&mut self, ctx: &mut Ctx<'_>, member_id: &str) {
        tracing::info!(group = %self.group_id, member = %member_id, "member leaves");
        self.remove_member_and_notify(member_id, ctx.effects, code(ResponseError::UnknownMemberId));
    }

    /// Removes a member whose session expired (or that the sync phase dropped) and moves the
    /// group on: a rebalance from Stable/CompletingRebalance, or the end of the join phase when
    /// every remaining member has rejoined.
    pub(crate) fn remove_member_and_update_group(&mut self, ctx: &mut Ctx<'_>, member_id: &str) {
        self.remove_member_and_notify(member_id, ctx.effects, code(ResponseError::UnknownMemberId));
        match self.state {
            ClassicGroupState::Stable | ClassicGroupState::CompletingRebalance => {
                self.maybe_prepare_rebalance_or_complete_join(ctx);
            }
            ClassicGroupState::PreparingRebalance if self.has_all_members_joined() => {
                self.complete_join(ctx);
            }
            _ => {}
        }
    }
}
