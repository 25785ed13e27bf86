//! One transaction coordinator shard: the transactional ids of one `__transaction_state`
//! partition. It holds their state, rebuilds it from the partition's records (`replay`), and
//! writes a record for every change. The operations live in their own modules
//! ([`super::producer_id`], [`super::partitions`], [`super::end`], [`super::timers`],
//! [`super::listing`]).

use std::collections::{BTreeMap, HashMap};

use super::config::TxnConfig;
use super::metadata::TransactionMetadata;
use super::outcome::TxnMarker;
use super::records::{decode_key, encode_key, TxnLogValue, TxnRecordError};
use super::state::TxnState;
use crate::outcome::CoordinatorRecord;

/// The transaction coordinator state of one `__transaction_state` partition. See
/// [`crate::transaction`] for how the runtime drives it.
#[derive(Debug, Clone)]
pub struct TransactionCoordinatorShard {
    pub(super) config: TxnConfig,
    pub(super) coordinator_epoch: i32,
    pub(super) txns: BTreeMap<String, TransactionMetadata>,
    /// Producer id → transactional id, for the produce-side checks.
    pub(super) by_producer_id: HashMap<i64, String>,
    /// When `poll` next looks for timed-out transactions; `None` until the first poll.
    pub(super) next_abort_check_ms: Option<i64>,
    /// When `poll` next looks for expired transactional ids; `None` until the first poll.
    pub(super) next_expire_check_ms: Option<i64>,
}

impl TransactionCoordinatorShard {
    /// An empty shard. `coordinator_epoch` (the partition's leader epoch) goes into every
    /// marker, so that partitions can refuse markers of a deposed coordinator.
    pub fn new(config: TxnConfig, coordinator_epoch: i32) -> Self {
        TransactionCoordinatorShard {
            config,
            coordinator_epoch,
            txns: BTreeMap::new(),
            by_producer_id: HashMap::new(),
            next_abort_check_ms: None,
            next_expire_check_ms: None,
        }
    }

    pub fn config(&self) -> &TxnConfig {
        &self.config
    }

    pub fn coordinator_epoch(&self) -> i32 {
        self.coordinator_epoch
    }

    /// The state of `transactional_id`, if it exists (for diagnostics and tests).
    pub fn metadata(&self, transactional_id: &str) -> Option<&TransactionMetadata> {
        self.txns.get(transactional_id)
    }

    /// The transactional id that currently owns `producer_id`.
    pub fn transactional_id_of(&self, producer_id: i64) -> Option<&str> {
        self.by_producer_id.get(&producer_id).map(String::as_str)
    }

    /// The shard's transactional ids, sorted.
    pub fn transactional_ids(&self) -> impl Iterator<Item = &str> {
        self.txns.keys().map(String::as_str)
    }

    /// Applies one record of the partition (at load). A tombstone removes the transactional id;
    /// undecodable records are errors (the shard is unchanged). A value in state `Dead` (never
    /// written by Kafka) counts as a tombstone, and `PrepareEpochFence` (never written either)
    /// as `PrepareAbort`, the state Kafka moves on to from it.
    pub fn replay(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), TxnRecordError> {
        let transactional_id = decode_key(key)?;
        let value = value.map(TxnLogValue::decode).transpose()?;
        match value {
            Some(value) if value.state != TxnState::Dead => {
                let mut metadata = TransactionMetadata::from_value(value);
                if metadata.state == TxnState::PrepareEpochFence {
                    metadata.state = TxnState::PrepareAbort;
                }
                self.put(&transactional_id, metadata);
            }
            _ => self.remove(&transactional_id),
        }
        Ok(())
    }

    /// After loading: the markers still to write, for the transactions whose commit or abort
    /// was decided but not completed (the coordinator stopped while writing markers). A marker
    /// with no partitions needs no write; the runtime calls `markers_written` right away.
    pub fn pending_markers(&self) -> Vec<TxnMarker> {
        self.txns
            .iter()
            .filter(|(_, m)| m.state.is_prepare())
            .map(|(id, m)| self.marker(id, m))
            .collect()
    }

    /// One record per live transactional id, describing its current state: replaying them
    /// alone rebuilds the shard (for rewriting the partition when it has grown).
    pub fn snapshot_records(&self) -> Vec<CoordinatorRecord> {
        self.txns
            .iter()
            .map(|(id, m)| record(id, Some(m)))
            .collect()
    }

    /// Stores the new state of `transactional_id` and returns its record.
    pub(super) fn store(
        &mut self,
        transactional_id: &str,
        metadata: TransactionMetadata,
    ) -> CoordinatorRecord {
        let record = record(transactional_id, Some(&metadata));
        self.put(transactional_id, metadata);
        record
    }

    /// Removes `transactional_id` and returns its tombstone.
    pub(super) fn delete(&mut self, transactional_id: &str) -> CoordinatorRecord {
        self.remove(transactional_id);
        record(transactional_id, None)
    }

    /// The marker that ends `metadata`'s transaction (in a Prepare state).
    pub(super) fn marker(
        &self,
        transactional_id: &str,
        metadata: &TransactionMetadata,
    ) -> TxnMarker {
        TxnMarker {
            transactional_id: transactional_id.to_string(),
            producer_id: metadata.producer_id,
            producer_epoch: metadata.producer_epoch,
            coordinator_epoch: self.coordinator_epoch,
            commit: metadata.state == TxnState::PrepareCommit,
            partitions: metadata.partitions.iter().cloned().collect(),
        }
    }

    fn put(&mut self, transactional_id: &str, metadata: TransactionMetadata) {
        let producer_id = metadata.producer_id;
        if let Some(old) = self.txns.insert(transactional_id.to_string(), metadata) {
            if old.producer_id != producer_id {
                self.unindex(old.producer_id, transactional_id);
            }
        }
        self.by_producer_id
            .insert(producer_id, transactional_id.to_string());
    }

    fn remove(&mut self, transactional_id: &str) {
        if let Some(old) = self.txns.remove(transactional_id) {
            self.unindex(old.producer_id, transactional_id);
        }
    }

    fn unindex(&mut self, producer_id: i64, transactional_id: &str) {
        if self.by_producer_id.get(&producer_id).map(String::as_str) == Some(transactional_id) {
            self.by_producer_id.remove(&producer_id);
        }
    }
}

/// The record of `transactional_id` in state `metadata` (a tombstone for `None`).
fn record(transactional_id: &str, metadata: Option<&TransactionMetadata>) -> CoordinatorRecord {
    CoordinatorRecord {
        key: encode_key(transactional_id),
        value: metadata.map(|m| m.to_value().encode()),
    }
}
