//! Offsets committed inside a transaction (TxnOffsetCommit): pending per producer id until the
//! transaction's marker lands on the `__consumer_offsets` partition, then applied or dropped.
//!
//! This follows Kafka's `OffsetMetadataManager`:
//! - a TxnOffsetCommit writes ordinary offset commit records, but in a transactional batch of
//!   the producer; while the transaction is open they are *pending*: OffsetFetch does not see
//!   them (with `require_stable` the partition answers UNSTABLE_OFFSET_COMMIT instead);
//! - the commit marker moves the producer's pending offsets to the committed offsets, except
//!   where the committed offset was written later in the log (a non-transactional commit after
//!   the transactional record but before the marker wins, as in Kafka, which compares record
//!   offsets); the abort marker drops them;
//! - an offset tombstone (OffsetDelete, DeleteGroups, deleted topics) also removes the
//!   partition's pending offsets of every open transaction;
//! - a group with an open transaction is not deleted by the offsets expiration, and a committed
//!   offset with a pending one is not expired.
//!
//! Log order: every offset applied by the shard carries a `log_order` stamp
//! ([`crate::offsets::OffsetAndMetadata::log_order`]). The shard hands records to the runtime in
//! the order it applies them and the runtime appends them in that order, and a replay applies
//! them in log order, so a shard-local counter, bumped at every applied offset record (and
//! raised to the record's log offset when the replay knows it), orders offsets exactly as their
//! records are ordered in the log. Stamps are only compared with each other.
//!
//! Pending offsets are never part of [`crate::GroupCoordinatorShard::snapshot_records`]: their
//! records stay in the transactional batches of the log, so the runtime must not rewrite the
//! partition (its cleanup) while [`crate::GroupCoordinatorShard::has_open_transactions`].

use std::collections::{BTreeMap, BTreeSet};

use crate::offsets::{GroupOffsets, OffsetAndMetadata};

/// The pending offsets of one producer, by group.
pub type ProducerOffsets = BTreeMap<String, GroupOffsets>;

/// Pending transactional offsets of a shard: producer id → group → (topic, partition) → offset.
#[derive(Debug, Clone, Default)]
pub struct PendingTxnOffsets {
    by_producer: BTreeMap<i64, ProducerOffsets>,
    /// The producers with an open transaction that committed offsets for the group (Kafka's
    /// `openTransactionsByGroup`): a producer stays here until its marker, even when tombstones
    /// removed all its offsets for the group.
    open_by_group: BTreeMap<String, BTreeSet<i64>>,
}

impl PendingTxnOffsets {
    /// Keeps `offset` pending under `producer_id` (replacing an earlier one of the same
    /// transaction for that partition).
    pub fn add(
        &mut self,
        producer_id: i64,
        group: &str,
        topic: &str,
        partition: i32,
        offset: OffsetAndMetadata,
    ) {
        self.by_producer
            .entry(producer_id)
            .or_default()
            .entry(group.to_string())
            .or_default()
            .insert((topic.to_string(), partition), offset);
        self.open_by_group
            .entry(group.to_string())
            .or_default()
            .insert(producer_id);
    }

    /// Removes the pending offsets of `(group, topic, partition)` of every open transaction (an
    /// offset tombstone was applied).
    pub fn remove_partition(&mut self, group: &str, topic: &str, partition: i32) {
        let Some(producers) = self.open_by_group.get(group) else {
            return;
        };
        let key = (topic.to_string(), partition);
        for producer_id in producers {
            if let Some(offsets) = self
                .by_producer
                .get_mut(producer_id)
                .and_then(|p| p.get_mut(group))
            {
                offsets.remove(&key);
            }
        }
    }

    /// Ends the transaction of `producer_id`: its pending offsets, by group (empty when it has
    /// none).
    pub fn take(&mut self, producer_id: i64) -> ProducerOffsets {
        let Some(offsets) = self.by_producer.remove(&producer_id) else {
            return ProducerOffsets::new();
        };
        for group in offsets.keys() {
            if let Some(producers) = self.open_by_group.get_mut(group) {
                producers.remove(&producer_id);
                if producers.is_empty() {
                    self.open_by_group.remove(group);
                }
            }
        }
        offsets
    }

    /// Whether an open transaction has a pending offset for the partition.
    pub fn has_pending(&self, group: &str, topic: &str, partition: i32) -> bool {
        let Some(producers) = self.open_by_group.get(group) else {
            return false;
        };
        let key = (topic.to_string(), partition);
        producers.iter().any(|producer_id| {
            self.by_producer
                .get(producer_id)
                .and_then(|p| p.get(group))
                .is_some_and(|o| o.contains_key(&key))
        })
    }

    /// Whether a transaction that committed offsets for `group` is still open.
    pub fn has_open_transactions_for(&self, group: &str) -> bool {
        self.open_by_group.contains_key(group)
    }

    /// Whether any transaction with pending offsets is open.
    pub fn is_empty(&self) -> bool {
        self.by_producer.is_empty()
    }

    /// The producer ids with an open transaction, in order.
    pub fn producers(&self) -> impl Iterator<Item = i64> + '_ {
        self.by_producer.keys().copied()
    }

    /// The pending offset of `producer_id` for the partition.
    pub fn get(
        &self,
        producer_id: i64,
        group: &str,
        topic: &str,
        partition: i32,
    ) -> Option<&OffsetAndMetadata> {
        self.by_producer
            .get(&producer_id)?
            .get(group)?
            .get(&(topic.to_string(), partition))
    }

    /// Every partition of `group` with a pending offset.
    pub fn partitions_of_group(&self, group: &str) -> BTreeSet<(String, i32)> {
        self.open_by_group
            .get(group)
            .into_iter()
            .flatten()
            .filter_map(|producer_id| self.by_producer.get(producer_id)?.get(group))
            .flat_map(|offsets| offsets.keys().cloned())
            .collect()
    }

    /// Every (group, topic, partition) with a pending offset for one of `topics`.
    pub fn partitions_of_topics(&self, topics: &[String]) -> BTreeSet<(String, String, i32)> {
        self.by_producer
            .values()
            .flat_map(|groups| groups.iter())
            .flat_map(|(group, offsets)| {
                offsets
                    .keys()
                    .filter(|(topic, _)| topics.contains(topic))
                    .map(move |(topic, partition)| (group.clone(), topic.clone(), *partition))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset(o: i64, log_order: i64) -> OffsetAndMetadata {
        OffsetAndMetadata {
            committed_offset: o,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp: 0,
            expire_timestamp: None,
            log_order,
        }
    }

    #[test]
    fn pending_by_producer_and_group() {
        let mut p = PendingTxnOffsets::default();
        p.add(7, "g", "t", 0, offset(1, 1));
        p.add(7, "g", "t", 0, offset(2, 2));
        p.add(8, "g", "t", 1, offset(3, 3));
        p.add(8, "h", "t", 0, offset(4, 4));
        assert!(p.has_pending("g", "t", 0));
        assert!(p.has_pending("g", "t", 1));
        assert!(!p.has_pending("g", "t", 2));
        assert_eq!(p.get(7, "g", "t", 0).map(|o| o.committed_offset), Some(2));
        assert_eq!(p.partitions_of_group("g").len(), 2);
        assert_eq!(p.partitions_of_topics(&["t".to_string()]).len(), 3);

        p.remove_partition("g", "t", 0);
        assert!(!p.has_pending("g", "t", 0));
        // The transaction stays open for the group until its marker.
        assert!(p.has_open_transactions_for("g"));
        assert!(p.take(7).values().all(|o| o.is_empty()));
        let taken = p.take(8);
        assert_eq!(taken.len(), 2);
        assert!(!p.has_open_transactions_for("g"));
        assert!(p.is_empty());
        assert!(p.take(9).is_empty());
    }
}
