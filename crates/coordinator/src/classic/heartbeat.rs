//! Heartbeat: keeps a member's session alive and tells it when a rebalance started.

use strom_protocol::ResponseError;

use super::group::{ClassicGroup, ClassicGroupState};
use super::{code, NONE};

impl ClassicGroup {
    /// Handles a Heartbeat; returns the error code. In CompletingRebalance a heartbeat is normal
    /// (the member may heartbeat between its join and sync responses), in PreparingRebalance it
    /// answers REBALANCE_IN_PROGRESS so the member rejoins; both refresh the session.
    pub(crate) fn heartbeat(
        &mut self,
        now: i64,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
    ) -> i16 {
        if let Err(error) = self.validate_existing_member(member_id, group_instance_id) {
            return error;
        }
        if generation_id != self.generation_id {
            return code(ResponseError::IllegalGeneration);
        }
        match self.state {
            ClassicGroupState::Empty | ClassicGroupState::Dead => {
                code(ResponseError::UnknownMemberId)
            }
            ClassicGroupState::PreparingRebalance => {
                self.reschedule_heartbeat(member_id, now, None);
                code(ResponseError::RebalanceInProgress)
            }
            ClassicGroupState::CompletingRebalance | ClassicGroupState::Stable => {
                self.reschedule_heartbeat(member_id, now, None);
                NONE
            }
        }
    }
}
