//! Moves one member's current assignment towards its target assignment (KIP-848's
//! reconciliation, Kafka's `CurrentAssignmentBuilder`).
//!
//! Partitions the member owns but the target gives to someone else are revoked first: the member
//! keeps its epoch, is told an assignment without them, and stays `UnrevokedPartitions` until a
//! heartbeat's owned partitions no longer list them. Then it moves to the target epoch and gets
//! the target partitions that are free; those still owned by another member (their partition
//! epoch is not -1) wait (`UnreleasedPartitions`) and are added by a later heartbeat.

use uuid::Uuid;

use super::member::{ConsumerGroupMember, MemberState};
use super::records::Assignment;
use crate::classic::code;
use strom_protocol::ResponseError;

/// What reconciliation looks at besides the member.
pub struct Reconciliation<'a> {
    pub target_epoch: i32,
    pub target: &'a Assignment,
    /// The partitions the member reported owning; `None` when the heartbeat did not say.
    pub owned: Option<&'a Assignment>,
    /// The epoch of the member currently owning a partition, -1 when free.
    pub partition_epoch: &'a dyn Fn(Uuid, i32) -> i32,
}

/// The member after one reconciliation step (unchanged if nothing can move). An error is
/// FENCED_MEMBER_EPOCH for a member in a state this version does not know that still owns
/// partitions.
pub fn reconcile(
    member: &ConsumerGroupMember,
    r: &Reconciliation<'_>,
) -> Result<ConsumerGroupMember, i16> {
    match member.state {
        MemberState::Stable if member.member_epoch != r.target_epoch => {
            Ok(next_assignment(member, member.member_epoch, r))
        }
        MemberState::Stable => Ok(member.clone()),
        MemberState::UnrevokedPartitions => {
            if owns_any(r.owned, &member.pending_revocation) {
                Ok(member.clone())
            } else {
                Ok(next_assignment(member, member.member_epoch, r))
            }
        }
        MemberState::UnreleasedPartitions => Ok(next_assignment(member, member.member_epoch, r)),
        MemberState::Unknown => {
            if r.owned.is_none_or(|o| o.values().any(|p| !p.is_empty())) {
                return Err(code(ResponseError::FencedMemberEpoch));
            }
            Ok(next_assignment(member, r.target_epoch, r))
        }
    }
}

/// Whether the reported owned partitions include any of `partitions` (unknown = yes).
fn owns_any(owned: Option<&Assignment>, partitions: &Assignment) -> bool {
    let Some(owned) = owned else {
        return true;
    };
    owned.iter().any(|(topic, owned)| {
        partitions
            .get(topic)
            .is_some_and(|revoking| owned.iter().any(|p| revoking.contains(p)))
    })
}

fn next_assignment(
    member: &ConsumerGroupMember,
    member_epoch: i32,
    r: &Reconciliation<'_>,
) -> ConsumerGroupMember {
    let mut kept = Assignment::new();
    let mut revoking = Assignment::new();
    let mut claimable = Assignment::new();
    let mut unreleased = false;
    let topics: std::collections::BTreeSet<Uuid> = r
        .target
        .keys()
        .chain(member.assigned.keys())
        .copied()
        .collect();
    for topic in topics {
        let target = r.target.get(&topic);
        let current = member.assigned.get(&topic);
        for &p in current.into_iter().flatten() {
            if target.is_some_and(|t| t.contains(&p)) {
                kept.entry(topic).or_default().insert(p);
            } else {
                revoking.entry(topic).or_default().insert(p);
            }
        }
        for &p in target.into_iter().flatten() {
            if current.is_some_and(|c| c.contains(&p)) {
                continue;
            }
            if (r.partition_epoch)(topic, p) == -1 {
                claimable.entry(topic).or_default().insert(p);
            } else {
                unreleased = true;
            }
        }
    }
    let mut next = member.clone();
    if !revoking.is_empty() && owns_any(r.owned, &revoking) {
        next.state = MemberState::UnrevokedPartitions;
        set_epoch(&mut next, member_epoch);
        next.assigned = kept;
        next.pending_revocation = revoking;
        return next;
    }
    for (topic, partitions) in claimable {
        kept.entry(topic).or_default().extend(partitions);
    }
    next.state = if unreleased {
        MemberState::UnreleasedPartitions
    } else {
        MemberState::Stable
    };
    set_epoch(&mut next, r.target_epoch);
    next.assigned = kept;
    next.pending_revocation = Assignment::new();
    next
}

/// Moves the member to `epoch`, remembering the one it leaves.
fn set_epoch(member: &mut ConsumerGroupMember, epoch: i32) {
    if member.member_epoch != epoch {
        member.previous_member_epoch = member.member_epoch;
        member.member_epoch = epoch;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const T: Uuid = Uuid::from_u128(1);

    fn a(ps: &[i32]) -> Assignment {
        if ps.is_empty() {
            return Assignment::new();
        }
        Assignment::from([(T, ps.iter().copied().collect::<BTreeSet<_>>())])
    }

    fn member(epoch: i32, assigned: &[i32]) -> ConsumerGroupMember {
        ConsumerGroupMember {
            member_epoch: epoch,
            assigned: a(assigned),
            ..ConsumerGroupMember::new("m")
        }
    }

    #[test]
    fn revoke_then_claim() {
        let free = |_: Uuid, _: i32| -1;
        let target = a(&[0, 2]);
        let m = member(1, &[0, 1]);
        let owned = a(&[0, 1]);
        let r = Reconciliation {
            target_epoch: 2,
            target: &target,
            owned: Some(&owned),
            partition_epoch: &free,
        };
        let next = reconcile(&m, &r).unwrap();
        assert_eq!(next.state, MemberState::UnrevokedPartitions);
        assert_eq!(next.member_epoch, 1);
        assert_eq!(next.assigned, a(&[0]));
        assert_eq!(next.pending_revocation, a(&[1]));
        // Still owns 1: no progress.
        assert_eq!(reconcile(&next, &r).unwrap(), next);
        // Revoked: moves to epoch 2 and claims 2.
        let owned = a(&[0]);
        let held = |_: Uuid, p: i32| if p == 2 { 5 } else { -1 };
        let r = Reconciliation {
            owned: Some(&owned),
            partition_epoch: &held,
            ..r
        };
        let after = reconcile(&next, &r).unwrap();
        assert_eq!(after.state, MemberState::UnreleasedPartitions);
        assert_eq!((after.member_epoch, after.previous_member_epoch), (2, 1));
        assert_eq!(after.assigned, a(&[0]));
        let r = Reconciliation {
            partition_epoch: &free,
            ..r
        };
        let stable = reconcile(&after, &r).unwrap();
        assert_eq!(stable.state, MemberState::Stable);
        assert_eq!(stable.assigned, a(&[0, 2]));
    }

    #[test]
    fn revocation_skipped_when_member_does_not_own() {
        let free = |_: Uuid, _: i32| -1;
        let target = a(&[]);
        let owned = a(&[]);
        let r = Reconciliation {
            target_epoch: 3,
            target: &target,
            owned: Some(&owned),
            partition_epoch: &free,
        };
        let next = reconcile(&member(2, &[4]), &r).unwrap();
        assert_eq!(next.state, MemberState::Stable);
        assert_eq!(next.member_epoch, 3);
        assert!(next.assigned.is_empty());
    }
}
