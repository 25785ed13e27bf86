//! The group's timers, fired by `poll`: KIP-394 pending member ids, member sessions (and the
//! join timeout of new members), the join phase (initial delay and rebalance timeout) and the
//! sync phase. Deadlines are stored on the group and its members; `poll` fires every deadline
//! that has passed, earliest first.

use strom_protocol::ResponseError;

use super::group::{ClassicGroup, ClassicGroupState, JoinTimer};
use super::member::DISARMED;
use super::{code, Ctx};

/// A timer that is due.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Due {
    PendingMember(String),
    Session(String),
    Join,
    Sync,
}

/// Safety bound on timer firings per group per poll (each firing disarms or moves its timer to
/// the future, so this is never reached in practice).
const MAX_FIRINGS_PER_POLL: usize = 100_000;

impl ClassicGroup {
    /// Fires every timer of the group due at `ctx.now`.
    pub(crate) fn poll(&mut self, ctx: &mut Ctx<'_>) {
        if self.needs_heartbeat_rearm {
            // Kafka reschedules every member's heartbeat when it loads a group.
            self.needs_heartbeat_rearm = false;
            let ids: Vec<String> = self.members.keys().cloned().collect();
            for id in ids {
                self.reschedule_heartbeat(&id, ctx.now, None);
            }
            if self.members.len() > ctx.config.group_max_size && self.can_rebalance() {
                tracing::info!(group = %self.group_id, "loaded group is over capacity, rebalancing");
                self.prepare_rebalance(ctx);
            }
        }
        for _ in 0..MAX_FIRINGS_PER_POLL {
            let Some(due) = self.next_due(ctx.now) else {
                return;
            };
            self.fire(ctx, due);
        }
        tracing::error!(group = %self.group_id, "timer storm: firing limit reached");
    }

    fn next_due(&self, now: i64) -> Option<Due> {
        let mut best: Option<(i64, Due)> = None;
        let mut consider = |deadline: i64, due: Due| {
            if deadline <= now && best.as_ref().is_none_or(|(d, _)| deadline < *d) {
                best = Some((deadline, due));
            }
        };
        for (id, &deadline) in &self.pending_join_members {
            consider(deadline, Due::PendingMember(id.clone()));
        }
        for (id, member) in &self.members {
            if member.heartbeat_deadline != DISARMED {
                consider(member.heartbeat_deadline, Due::Session(id.clone()));
            }
        }
        if let Some(timer) = self.join_timer {
            consider(timer.deadline(), Due::Join);
        }
        if let Some((deadline, _)) = self.sync_timer {
            consider(deadline, Due::Sync);
        }
        best.map(|(_, due)| due)
    }

    fn fire(&mut self, ctx: &mut Ctx<'_>, due: Due) {
        match due {
            Due::PendingMember(id) => {
                tracing::info!(group = %self.group_id, member = %id, "pending member expired");
                self.remove_member(&id);
                if self.is_in(ClassicGroupState::PreparingRebalance)
                    && self.has_all_members_joined()
                {
                    self.complete_join(ctx);
                }
            }
            Due::Session(id) => {
                let Some(member) = self.members.get_mut(&id) else {
                    return;
                };
                if member.has_satisfied_heartbeat() {
                    // Parked in a join or sync: the group, not the member, is late. The timer
                    // restarts when the join or sync completes.
                    member.heartbeat_deadline = DISARMED;
                } else {
                    tracing::info!(group = %self.group_id, member = %id, "session expired");
                    self.remove_member_and_update_group(ctx, &id);
                }
            }
            Due::Join => match self.join_timer.take() {
                Some(JoinTimer::InitialDelay {
                    delay_ms,
                    remaining_ms,
                    ..
                }) if self.new_member_added && remaining_ms != 0 => {
                    // New members keep arriving: wait one more delay, within the rebalance timeout.
                    self.new_member_added = false;
                    let new_delay = ctx
                        .config
                        .group_initial_rebalance_delay_ms
                        .min(remaining_ms);
                    let new_remaining = (remaining_ms - delay_ms).max(0);
                    self.join_timer = Some(JoinTimer::InitialDelay {
                        deadline: ctx.now.saturating_add(i64::from(new_delay.max(0))),
                        delay_ms: new_delay,
                        remaining_ms: new_remaining,
                    });
                }
                Some(_) => self.complete_join(ctx),
                None => {}
            },
            Due::Sync => {
                let Some((_, generation)) = self.sync_timer.take() else {
                    return;
                };
                if generation != self.generation_id
                    || !matches!(
                        self.state,
                        ClassicGroupState::CompletingRebalance | ClassicGroupState::Stable
                    )
                    || self.pending_sync_members.is_empty()
                {
                    return;
                }
                let late: Vec<String> = self.pending_sync_members.iter().cloned().collect();
                tracing::info!(group = %self.group_id, members = ?late, "members did not sync in time, removed");
                for id in &late {
                    self.remove_member_and_notify(
                        id,
                        ctx.effects,
                        code(ResponseError::UnknownMemberId),
                    );
                }
                self.prepare_rebalance(ctx);
            }
        }
    }
}
