//! The `range` assignor: for each topic, the members subscribed to it (in member id order) get
//! contiguous ranges of partitions; the first `partitions % members` members get one more.
//! Members subscribed to the same topics get the same partition numbers of topics with equal
//! partition counts (co-partitioning, as joins in stream processing need).

use super::{AssignmentSpec, Assignor, GroupAssignment};
use crate::consumer::records::Assignment;

/// The assignor's name.
pub const NAME: &str = "range";

/// The `range` assignor.
#[derive(Debug, Clone, Copy, Default)]
pub struct RangeAssignor;

impl Assignor for RangeAssignor {
    fn name(&self) -> &'static str {
        NAME
    }

    fn assign(&self, spec: &AssignmentSpec) -> GroupAssignment {
        let mut result: GroupAssignment = spec
            .members
            .keys()
            .map(|id| (id.clone(), Assignment::new()))
            .collect();
        for (topic, &count) in &spec.topics {
            let members: Vec<&String> = spec
                .members
                .iter()
                .filter(|(_, m)| m.subscribed.contains(topic))
                .map(|(id, _)| id)
                .collect();
            if members.is_empty() || count <= 0 {
                continue;
            }
            let n = members.len() as i32;
            let (quota, extra) = (count / n, count % n);
            let mut start = 0;
            for (i, member) in members.into_iter().enumerate() {
                let len = quota + i32::from((i as i32) < extra);
                if len > 0 {
                    if let Some(assignment) = result.get_mut(member) {
                        assignment.insert(*topic, (start..start + len).collect());
                    }
                }
                start += len;
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assignor::testing::{check_complete, spec, topic};
    use crate::assignor::MemberSpec;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    #[test]
    fn ranges_are_contiguous_and_co_partitioned() {
        let (a, b) = (topic(0), topic(1));
        let both = BTreeSet::from([a, b]);
        let spec = AssignmentSpec {
            members: ["m1", "m2"]
                .iter()
                .map(|m| {
                    (
                        m.to_string(),
                        MemberSpec {
                            subscribed: both.clone(),
                            current: Assignment::new(),
                        },
                    )
                })
                .collect(),
            topics: BTreeMap::from([(a, 3), (b, 3)]),
        };
        let result = RangeAssignor.assign(&spec);
        assert_eq!(result["m1"][&a], BTreeSet::from([0, 1]));
        assert_eq!(result["m1"][&b], BTreeSet::from([0, 1]));
        assert_eq!(result["m2"][&a], BTreeSet::from([2]));
        assert_eq!(result["m2"][&b], BTreeSet::from([2]));
    }

    proptest! {
        #[test]
        fn complete(spec in spec(false)) {
            let result = RangeAssignor.assign(&spec);
            check_complete(&spec, &result);
        }

        #[test]
        fn per_topic_balanced(spec in spec(true)) {
            let result = RangeAssignor.assign(&spec);
            check_complete(&spec, &result);
            for topic in spec.topics.keys() {
                let sizes: Vec<usize> = result.values().map(|a| a.get(topic).map_or(0, BTreeSet::len)).collect();
                prop_assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
            }
        }
    }
}
