//! A member of a classic group: its identity, timeouts, supported protocols, assignment, and the
//! `JoinGroup` / `SyncGroup` request it may have parked.

use bytes::Bytes;

use crate::outcome::RequestId;

/// A deadline that never fires: the timer is disarmed.
pub const DISARMED: i64 = i64::MAX;

/// One protocol a member supports (e.g. an assignor name for consumers), with the member's
/// metadata for it (the subscription for consumers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    pub name: String,
    pub metadata: Bytes,
}

/// A request parked until the group reaches the next step, and the API version to answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParkedRequest {
    pub request_id: RequestId,
    pub version: i16,
}

/// A member of a classic group (Kafka's `ClassicGroupMember`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassicGroupMember {
    pub member_id: String,
    /// Set for static members (KIP-345).
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub protocol_type: String,
    /// The supported protocols in the member's order of preference.
    pub protocols: Vec<Protocol>,
    /// The assignment the leader gave this member for the current generation.
    pub assignment: Bytes,
    /// A `JoinGroup` waiting for the join phase to complete.
    pub awaiting_join: Option<ParkedRequest>,
    /// A `SyncGroup` waiting for the leader's assignment.
    pub awaiting_sync: Option<ParkedRequest>,
    /// Joined during the current join phase and has not received a join response yet: its
    /// heartbeat timer is the new-member join timeout and a parked join does not protect it.
    pub is_new: bool,
    /// When the member's session expires unless it heartbeats ([`DISARMED`] when not armed).
    pub heartbeat_deadline: i64,
}

impl ClassicGroupMember {
    /// Whether the member is static (has a group instance id).
    pub fn is_static(&self) -> bool {
        self.group_instance_id.is_some()
    }

    /// The member's metadata for `protocol`, if it supports it.
    pub fn metadata(&self, protocol: &str) -> Option<&Bytes> {
        self.protocols
            .iter()
            .find(|p| p.name == protocol)
            .map(|p| &p.metadata)
    }

    /// Whether the member supports `protocol`.
    pub fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|p| p.name == protocol)
    }

    /// Whether `protocols` is exactly what the member already announced (same names, metadata
    /// and order): a rejoin with unchanged metadata.
    pub fn matches(&self, protocols: &[Protocol]) -> bool {
        self.protocols == protocols
    }

    /// Whether a missed session deadline is forgiven: a member parked in a join or sync waits for
    /// the group, not for itself, unless it is new (then its join may time out).
    pub fn has_satisfied_heartbeat(&self) -> bool {
        !self.is_new && (self.awaiting_join.is_some() || self.awaiting_sync.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(protocols: &[(&str, &'static [u8])]) -> ClassicGroupMember {
        ClassicGroupMember {
            member_id: "m".into(),
            group_instance_id: None,
            client_id: "c".into(),
            client_host: "h".into(),
            rebalance_timeout_ms: 1,
            session_timeout_ms: 1,
            protocol_type: "consumer".into(),
            protocols: protocols
                .iter()
                .map(|(n, m)| Protocol {
                    name: (*n).into(),
                    metadata: Bytes::from_static(m),
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
    fn metadata_and_matches() {
        let m = member(&[("range", b"r"), ("roundrobin", b"rr")]);
        assert_eq!(m.metadata("roundrobin").map(|b| &b[..]), Some(&b"rr"[..]));
        assert!(m.metadata("sticky").is_none());
        assert!(m.matches(&member(&[("range", b"r"), ("roundrobin", b"rr")]).protocols));
        assert!(!m.matches(&member(&[("roundrobin", b"rr"), ("range", b"r")]).protocols));
        assert!(!m.matches(&member(&[("range", b"x"), ("roundrobin", b"rr")]).protocols));
    }

    #[test]
    fn satisfied_heartbeat() {
        let mut m = member(&[]);
        assert!(!m.has_satisfied_heartbeat());
        m.awaiting_join = Some(ParkedRequest {
            request_id: 1,
            version: 5,
        });
        assert!(m.has_satisfied_heartbeat());
        m.is_new = true;
        assert!(!m.has_satisfied_heartbeat());
    }
}
