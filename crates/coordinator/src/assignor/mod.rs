//! Server-side partition assignors of KIP-848 consumer groups: given the members'
//! subscriptions (as topic ids), the subscribed topics' partition counts and the current target
//! assignment, each computes a new target assignment. They are pure and deterministic (members
//! and topics are visited in order), so replaying a log computes nothing: the result is in the
//! records.
//!
//! - [`uniform`]: balanced and sticky (Kafka's default `uniform`);
//! - [`range`]: per topic, contiguous ranges to the subscribed members in member id order, so
//!   topics with the same partition count are co-partitioned (Kafka's `range`).

pub mod range;
pub mod uniform;

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use crate::consumer::records::Assignment;

/// The assignor used when no member asks for one.
pub const DEFAULT_ASSIGNOR: &str = uniform::NAME;

/// One member as an assignor sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberSpec {
    /// The ids of the existing topics the member subscribes to.
    pub subscribed: BTreeSet<Uuid>,
    /// The member's current target assignment (the assignors try to keep it).
    pub current: Assignment,
}

/// The input of an assignor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssignmentSpec {
    /// Members by member id.
    pub members: BTreeMap<String, MemberSpec>,
    /// Partition count of every subscribed topic, by topic id.
    pub topics: BTreeMap<Uuid, i32>,
}

/// A target assignment: every member of the spec, with its partitions (possibly none).
pub type GroupAssignment = BTreeMap<String, Assignment>;

/// A server-side assignor.
pub trait Assignor: Sync {
    /// The name clients use in `ServerAssignor`.
    fn name(&self) -> &'static str;
    /// Computes the target assignment.
    fn assign(&self, spec: &AssignmentSpec) -> GroupAssignment;
}

/// The assignors Strom supports, by name.
pub fn assignor(name: &str) -> Option<&'static dyn Assignor> {
    match name {
        uniform::NAME => Some(&uniform::UniformAssignor),
        range::NAME => Some(&range::RangeAssignor),
        _ => None,
    }
}

/// The names of the supported assignors (for error messages).
pub fn assignor_names() -> [&'static str; 2] {
    [uniform::NAME, range::NAME]
}

#[cfg(test)]
pub(crate) mod testing {
    //! Strategies and checks shared by the assignors' property tests.
    use super::*;
    use proptest::prelude::*;

    pub fn topic(i: u8) -> Uuid {
        Uuid::from_u128(u128::from(i) + 1)
    }

    /// A spec with `members` members subscribed to subsets of `topics` topics.
    pub fn spec(homogeneous: bool) -> impl Strategy<Value = AssignmentSpec> {
        (
            proptest::collection::vec(1i32..12, 1..5),
            1usize..8,
            proptest::collection::vec(any::<u8>(), 8),
        )
            .prop_map(move |(counts, members, masks)| {
                let topics: BTreeMap<Uuid, i32> = counts
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (topic(i as u8), *c))
                    .collect();
                let all: BTreeSet<Uuid> = topics.keys().copied().collect();
                let members = (0..members)
                    .map(|m| {
                        let subscribed = if homogeneous {
                            all.clone()
                        } else {
                            all.iter()
                                .enumerate()
                                .filter(|(i, _)| {
                                    masks[m] & (1 << (i % 8)) != 0 || *i == m % all.len()
                                })
                                .map(|(_, t)| *t)
                                .collect()
                        };
                        (
                            format!("m{m}"),
                            MemberSpec {
                                subscribed,
                                current: Assignment::new(),
                            },
                        )
                    })
                    .collect();
                AssignmentSpec { members, topics }
            })
    }

    /// Every partition of a subscribed topic goes to exactly one member subscribed to it.
    pub fn check_complete(spec: &AssignmentSpec, result: &GroupAssignment) {
        let mut seen = BTreeSet::new();
        assert_eq!(result.len(), spec.members.len());
        for (member, assignment) in result {
            for (topic, partitions) in assignment {
                assert!(spec.members[member].subscribed.contains(topic));
                for p in partitions {
                    assert!(*p >= 0 && *p < spec.topics[topic]);
                    assert!(seen.insert((*topic, *p)), "{topic}-{p} assigned twice");
                }
            }
        }
        for (topic, count) in &spec.topics {
            let subscribed = spec.members.values().any(|m| m.subscribed.contains(topic));
            for p in 0..*count {
                assert_eq!(seen.contains(&(*topic, p)), subscribed, "{topic}-{p}");
            }
        }
    }

    pub fn size(a: &Assignment) -> usize {
        a.values().map(BTreeSet::len).sum()
    }
}
