//! Choosing the group's protocol: among the protocols every member supports, each member votes
//! for the first one in its own preference order, and the protocol with the most votes wins
//! (Kafka's `ClassicGroup.selectProtocol`). Kafka breaks ties by hash-map order; Strom breaks them
//! by the candidates' order in the leader's (else the first member's) preference list, so the
//! choice is deterministic.

use std::collections::BTreeMap;

use super::member::ClassicGroupMember;

/// The protocols supported by every member, in the order of `reference`'s preference.
pub fn candidate_protocols<'a>(
    reference: &'a ClassicGroupMember,
    members: &[&ClassicGroupMember],
) -> Vec<&'a str> {
    reference
        .protocols
        .iter()
        .map(|p| p.name.as_str())
        .filter(|name| members.iter().all(|m| m.supports(name)))
        .collect()
}

/// Selects the protocol of a non-empty group. `reference` is the leader (or any member) and
/// orders ties. `None` when the members share no protocol (prevented at join time).
pub fn select_protocol(
    reference: &ClassicGroupMember,
    members: &[&ClassicGroupMember],
) -> Option<String> {
    let candidates = candidate_protocols(reference, members);
    let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
    for member in members {
        if let Some(choice) = member
            .protocols
            .iter()
            .map(|p| p.name.as_str())
            .find(|name| candidates.contains(name))
        {
            *votes.entry(choice).or_default() += 1;
        }
    }
    let mut best: Option<(&str, usize)> = None;
    for candidate in &candidates {
        let count = votes.get(candidate).copied().unwrap_or(0);
        if best.is_none_or(|(_, c)| count > c) {
            best = Some((candidate, count));
        }
    }
    best.map(|(name, _)| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classic::member::{Protocol, DISARMED};
    use bytes::Bytes;

    fn member(id: &str, protocols: &[&str]) -> ClassicGroupMember {
        ClassicGroupMember {
            member_id: id.into(),
            group_instance_id: None,
            client_id: "c".into(),
            client_host: "h".into(),
            rebalance_timeout_ms: 1,
            session_timeout_ms: 1,
            protocol_type: "consumer".into(),
            protocols: protocols
                .iter()
                .map(|n| Protocol {
                    name: (*n).into(),
                    metadata: Bytes::new(),
                })
                .collect(),
            assignment: Bytes::new(),
            awaiting_join: None,
            awaiting_sync: None,
            is_new: false,
            heartbeat_deadline: DISARMED,
        }
    }

    #[test]
    fn majority_of_first_choices_among_common_protocols() {
        let a = member("a", &["range", "roundrobin", "sticky"]);
        let b = member("b", &["roundrobin", "range"]);
        let c = member("c", &["sticky", "roundrobin", "range"]);
        // "sticky" is not common: c votes for its next common choice, roundrobin.
        let all = [&a, &b, &c];
        assert_eq!(candidate_protocols(&a, &all), vec!["range", "roundrobin"]);
        assert_eq!(select_protocol(&a, &all).as_deref(), Some("roundrobin"));
    }

    #[test]
    fn ties_follow_the_reference_preference() {
        let a = member("a", &["range", "roundrobin"]);
        let b = member("b", &["roundrobin", "range"]);
        assert_eq!(select_protocol(&a, &[&a, &b]).as_deref(), Some("range"));
        assert_eq!(
            select_protocol(&b, &[&a, &b]).as_deref(),
            Some("roundrobin")
        );
    }

    #[test]
    fn no_common_protocol() {
        let a = member("a", &["range"]);
        let b = member("b", &["sticky"]);
        assert_eq!(select_protocol(&a, &[&a, &b]), None);
    }
}
