//! The `uniform` assignor: spreads the partitions evenly over the members subscribed to them and
//! keeps each member's current partitions where it can.
//!
//! 1. Stickiness: each member keeps the partitions of its current assignment that still exist
//!    and that it still subscribes to (a partition claimed twice goes to the first member).
//! 2. The remaining partitions go, one by one, to the eligible member with the fewest partitions;
//!    partitions with fewer eligible members are placed first.
//! 3. Balance: while some member has at least two partitions more than another member that could
//!    take one of them, one partition moves from the fuller member (the most loaded first) to the
//!    emptiest one. Every move lowers the sum of squared sizes, so this ends; with homogeneous
//!    subscriptions sizes then differ by at most one and only surplus partitions moved.
//!
//! Ties are broken by member id and by (topic id, partition), so the result is deterministic.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::{AssignmentSpec, Assignor, GroupAssignment};
use crate::consumer::records::Assignment;

/// The assignor's name.
pub const NAME: &str = "uniform";

/// The `uniform` assignor.
#[derive(Debug, Clone, Copy, Default)]
pub struct UniformAssignor;

impl Assignor for UniformAssignor {
    fn name(&self) -> &'static str {
        NAME
    }

    fn assign(&self, spec: &AssignmentSpec) -> GroupAssignment {
        let mut state = State::new(spec);
        state.keep_current(spec);
        state.place_unassigned(spec);
        state.balance(spec);
        state.into_assignment()
    }
}

struct State {
    ids: Vec<String>,
    /// Per member (index into `ids`), its partitions.
    owned: Vec<BTreeSet<(Uuid, i32)>>,
    taken: BTreeSet<(Uuid, i32)>,
}

impl State {
    fn new(spec: &AssignmentSpec) -> Self {
        let ids: Vec<String> = spec.members.keys().cloned().collect();
        State {
            owned: vec![BTreeSet::new(); ids.len()],
            ids,
            taken: BTreeSet::new(),
        }
    }

    fn keep_current(&mut self, spec: &AssignmentSpec) {
        for (i, member) in spec.members.values().enumerate() {
            for (topic, partitions) in &member.current {
                let Some(&count) = spec.topics.get(topic) else {
                    continue;
                };
                if !member.subscribed.contains(topic) {
                    continue;
                }
                for &p in partitions {
                    if p >= 0 && p < count && self.taken.insert((*topic, p)) {
                        self.owned[i].insert((*topic, p));
                    }
                }
            }
        }
    }

    fn place_unassigned(&mut self, spec: &AssignmentSpec) {
        let eligible: BTreeMap<Uuid, Vec<usize>> = spec
            .topics
            .keys()
            .map(|t| {
                let members = spec
                    .members
                    .values()
                    .enumerate()
                    .filter(|(_, m)| m.subscribed.contains(t))
                    .map(|(i, _)| i)
                    .collect();
                (*t, members)
            })
            .collect();
        let mut pending: Vec<(usize, Uuid, i32)> = spec
            .topics
            .iter()
            .filter(|(t, _)| !eligible[*t].is_empty())
            .flat_map(|(t, count)| (0..*count).map(move |p| (*t, p)))
            .filter(|tp| !self.taken.contains(tp))
            .map(|(t, p)| (eligible[&t].len(), t, p))
            .collect();
        pending.sort_unstable();
        for (_, topic, p) in pending {
            let Some(&to) = eligible[&topic]
                .iter()
                .min_by_key(|&&i| (self.owned[i].len(), i))
            else {
                continue;
            };
            self.taken.insert((topic, p));
            self.owned[to].insert((topic, p));
        }
    }

    fn balance(&mut self, spec: &AssignmentSpec) {
        let subscriptions: Vec<&BTreeSet<Uuid>> =
            spec.members.values().map(|m| &m.subscribed).collect();
        loop {
            let mut order: Vec<usize> = (0..self.ids.len()).collect();
            order.sort_by_key(|&i| (self.owned[i].len(), i));
            let mut moved = false;
            'receivers: for &to in &order {
                for &from in order.iter().rev() {
                    if self.owned[from].len() <= self.owned[to].len() + 1 {
                        break;
                    }
                    let candidate = self.owned[from]
                        .iter()
                        .rev()
                        .find(|(t, _)| subscriptions[to].contains(t))
                        .copied();
                    if let Some(tp) = candidate {
                        self.owned[from].remove(&tp);
                        self.owned[to].insert(tp);
                        moved = true;
                        break 'receivers;
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn into_assignment(self) -> GroupAssignment {
        self.ids
            .into_iter()
            .zip(self.owned)
            .map(|(id, owned)| {
                let mut assignment = Assignment::new();
                for (t, p) in owned {
                    assignment.entry(t).or_default().insert(p);
                }
                (id, assignment)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assignor::testing::{check_complete, size, spec};
    use crate::assignor::MemberSpec;
    use proptest::prelude::*;

    fn sizes(result: &GroupAssignment) -> Vec<usize> {
        result.values().map(size).collect()
    }

    #[test]
    fn one_member_gets_everything() {
        let t = Uuid::from_u128(9);
        let spec = AssignmentSpec {
            members: BTreeMap::from([(
                "a".to_string(),
                MemberSpec {
                    subscribed: BTreeSet::from([t]),
                    current: Assignment::new(),
                },
            )]),
            topics: BTreeMap::from([(t, 4)]),
        };
        let result = UniformAssignor.assign(&spec);
        assert_eq!(result["a"][&t], BTreeSet::from([0, 1, 2, 3]));
    }

    proptest! {
        #[test]
        fn complete_and_balanced_when_homogeneous(spec in spec(true)) {
            let result = UniformAssignor.assign(&spec);
            check_complete(&spec, &result);
            let s = sizes(&result);
            prop_assert!(s.iter().max().unwrap() - s.iter().min().unwrap() <= 1, "{s:?}");
        }

        #[test]
        fn complete_when_heterogeneous(spec in spec(false)) {
            let result = UniformAssignor.assign(&spec);
            check_complete(&spec, &result);
            prop_assert_eq!(UniformAssignor.assign(&spec), result);
        }

        #[test]
        fn adding_a_member_moves_only_its_share(spec in spec(true)) {
            // Start from the balanced assignment, then add one member.
            let first = UniformAssignor.assign(&spec);
            let mut next = spec.clone();
            for (id, member) in next.members.iter_mut() {
                member.current = first[id].clone();
            }
            let all = next.topics.keys().copied().collect();
            next.members.insert("z-new".into(), MemberSpec { subscribed: all, current: Assignment::new() });
            let second = UniformAssignor.assign(&next);
            check_complete(&next, &second);
            let s = sizes(&second);
            prop_assert!(s.iter().max().unwrap() - s.iter().min().unwrap() <= 1);
            // Old members only lose partitions (to the new member), never gain or swap.
            for (id, assignment) in &first {
                for (t, ps) in &second[id] {
                    for p in ps {
                        prop_assert!(assignment.get(t).is_some_and(|a| a.contains(p)));
                    }
                }
            }
            // Stable input is a fixed point.
            let mut again = next.clone();
            for (id, member) in again.members.iter_mut() {
                member.current = second[id].clone();
            }
            prop_assert_eq!(UniformAssignor.assign(&again), second);
        }
    }
}
