//! Kafka's consumer group protocol (KIP-848): `ConsumerGroupHeartbeat` with server-side
//! assignment and incremental reconciliation, `ConsumerGroupDescribe`, and the consumer group
//! records.
//!
//! A heartbeat (see [`heartbeat`]) updates the member, bumps the group epoch when the
//! membership, a subscription (topic names or a regex, see [`topic_regex`]), the set of topics
//! a regex selects or a subscribed topic's partition count changed, recomputes the target
//! assignment for the new epoch with the group's assignor ([`crate::assignor`]), and moves the
//! member towards its target ([`reconcile`]): revoke first, then take free partitions. Other
//! members keep consuming throughout; nothing stops the group.
//!
//! Every state change is a [`records::ConsumerRecord`] applied through
//! [`group::ConsumerGroup::apply`], the same path `replay` takes. A heartbeat works on a copy of
//! the group and stores it only when it succeeds, so an error leaves no trace.

pub mod describe;
pub mod group;
pub mod heartbeat;
pub mod member;
pub mod reconcile;
pub mod records;
pub mod target;
pub mod timers;
pub mod topic_regex;
pub mod validate;

use std::collections::BTreeMap;

use uuid::Uuid;

/// The member epoch of a member leaving the group.
pub const LEAVE_GROUP_MEMBER_EPOCH: i32 = -1;
/// The member epoch of a static member leaving temporarily (it will rejoin).
pub const LEAVE_GROUP_STATIC_MEMBER_EPOCH: i32 = -2;

/// Topics as the broker's metadata sees them now: name → (topic id, partition count). The
/// runtime builds it per call from its metadata image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicsImage {
    pub topics: BTreeMap<String, (Uuid, i32)>,
}

impl TopicsImage {
    /// An image of the given topics.
    pub fn new(topics: impl IntoIterator<Item = (String, Uuid, i32)>) -> Self {
        TopicsImage {
            topics: topics
                .into_iter()
                .map(|(name, id, count)| (name, (id, count)))
                .collect(),
        }
    }

    /// The name of a topic id (a linear search: images are small and this is for describe).
    pub fn name_of(&self, topic_id: Uuid) -> Option<&str> {
        self.topics
            .iter()
            .find(|(_, (id, _))| *id == topic_id)
            .map(|(name, _)| name.as_str())
    }
}
