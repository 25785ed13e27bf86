//! Idempotent and transactional producer state of one partition (Kafka's `ProducerStateManager`
//! and `ProducerAppendInfo`).
//!
//! Per producer id the state keeps the epoch, the sequence and offset ranges of its last
//! [`MAX_CACHED_BATCHES`] batches (to answer a retried batch with its original offsets), the
//! coordinator epoch of the last marker, and the first offset of its ongoing transaction on this
//! partition. Across producers it keeps the ongoing transactions ordered by first offset (which
//! gives the first unstable offset).
//!
//! An append is checked against a scratch copy ([`ProducerAppend`]) of the producers it touches;
//! only once every batch passed and the bytes are written does the log apply the scratch
//! ([`ProducerStateManager::apply`]). The replay of a log on open uses the same path with
//! [`Origin::Replay`], which checks nothing: what the log holds is the truth.

use std::collections::{BTreeMap, VecDeque};

use strom_records::{ControlRecordType, EndTxnMarker};

/// Batches remembered per producer for duplicate detection (Kafka's `NUM_BATCHES_TO_RETAIN`,
/// the client's `max.in.flight.requests.per.connection` limit for idempotence).
pub const MAX_CACHED_BATCHES: usize = 5;

/// Kafka error codes of [`ProducerStateError`].
pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
pub const INVALID_PRODUCER_EPOCH: i16 = 47;
pub const INVALID_TXN_STATE: i16 = 48;
pub const TRANSACTION_COORDINATOR_FENCED: i16 = 52;
pub const INVALID_RECORD: i16 = 87;

/// Why a batch was refused by the producer state checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProducerStateError {
    #[error("producer {producer_id} has epoch {current_epoch}; batch epoch {epoch} is stale")]
    InvalidProducerEpoch {
        producer_id: i64,
        epoch: i16,
        current_epoch: i16,
    },
    #[error("out of order sequence for producer {producer_id} (epoch {epoch}): found {found}, last appended {last_sequence}")]
    OutOfOrderSequence {
        producer_id: i64,
        epoch: i16,
        found: i32,
        last_sequence: i32,
    },
    #[error("invalid transaction state for producer {producer_id}: {reason}")]
    InvalidTxnState {
        producer_id: i64,
        reason: &'static str,
    },
    #[error("transaction marker for producer {producer_id} has coordinator epoch {coordinator_epoch}, older than {current}")]
    TransactionCoordinatorFenced {
        producer_id: i64,
        coordinator_epoch: i32,
        current: i32,
    },
    #[error("invalid control batch from producer {producer_id}: {reason}")]
    InvalidControlBatch {
        producer_id: i64,
        reason: &'static str,
    },
}

impl ProducerStateError {
    /// The Kafka error code a produce response carries for this error.
    pub fn kafka_error_code(&self) -> i16 {
        match self {
            ProducerStateError::InvalidProducerEpoch { .. } => INVALID_PRODUCER_EPOCH,
            ProducerStateError::OutOfOrderSequence { .. } => OUT_OF_ORDER_SEQUENCE_NUMBER,
            ProducerStateError::InvalidTxnState { .. } => INVALID_TXN_STATE,
            ProducerStateError::TransactionCoordinatorFenced { .. } => {
                TRANSACTION_COORDINATOR_FENCED
            }
            ProducerStateError::InvalidControlBatch { .. } => INVALID_RECORD,
        }
    }
}

/// Sequence and offset range of one appended batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub timestamp: i64,
}

/// The state of one producer id on this partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    pub producer_id: i64,
    /// -1 until a batch or marker set it.
    pub epoch: i16,
    /// The last (at most [`MAX_CACHED_BATCHES`]) sequenced batches of `epoch`, oldest first.
    pub batches: VecDeque<BatchMetadata>,
    /// Coordinator epoch of the last marker, -1 if none.
    pub coordinator_epoch: i32,
    pub last_timestamp: i64,
    /// Last offset of the producer's last data batch (sequenced or not), -1 if none.
    pub last_data_offset: i64,
    /// First offset of the producer's ongoing transaction on this partition.
    pub current_txn_first_offset: Option<i64>,
}

impl ProducerEntry {
    pub fn new(producer_id: i64) -> Self {
        ProducerEntry {
            producer_id,
            epoch: -1,
            batches: VecDeque::new(),
            coordinator_epoch: -1,
            last_timestamp: -1,
            last_data_offset: -1,
            current_txn_first_offset: None,
        }
    }

    /// Last sequence appended in the current epoch, -1 if none.
    pub fn last_seq(&self) -> i32 {
        self.batches.back().map_or(-1, |b| b.last_seq)
    }

    /// The cached batch with exactly this epoch and sequence range (a retry).
    pub fn find_duplicate(
        &self,
        epoch: i16,
        first_seq: i32,
        last_seq: i32,
    ) -> Option<BatchMetadata> {
        if epoch != self.epoch || first_seq < 0 {
            return None;
        }
        self.batches
            .iter()
            .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
            .copied()
    }

    /// A new epoch forgets the batches of the old one (Kafka's `maybeUpdateProducerEpoch`).
    fn set_epoch(&mut self, epoch: i16) {
        if epoch != self.epoch {
            self.epoch = epoch;
            self.batches.clear();
        }
    }

    fn add_batch(&mut self, meta: BatchMetadata) {
        if self.batches.len() >= MAX_CACHED_BATCHES {
            self.batches.pop_front();
        }
        self.batches.push_back(meta);
    }
}

/// What DescribeProducers reports of one producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerSnapshot {
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// -1 if none.
    pub last_sequence: i32,
    pub last_timestamp: i64,
    pub coordinator_epoch: i32,
    /// -1 if none.
    pub current_txn_start_offset: i64,
}

/// An aborted transaction, as fetch responses (READ_COMMITTED) and the `.txnindex` carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AbortedTxn {
    pub producer_id: i64,
    /// First offset of the transaction on this partition.
    pub first_offset: i64,
    /// Offset of the ABORT marker.
    pub last_offset: i64,
    /// The last stable offset right after the marker: first offset of the earliest other
    /// ongoing transaction, or `last_offset + 1`.
    pub last_stable_offset: i64,
}

/// Who appends a batch, which decides the checks.
#[derive(Clone, Copy)]
pub enum Origin<'a> {
    /// A producer: epoch, sequence and transaction checks; `verify_txn(producer_id, epoch)` is
    /// asked before a transactional batch starts a transaction on this partition.
    Client {
        verify_txn: &'a dyn Fn(i64, i16) -> bool,
    },
    /// The broker (coordinator records, markers): epoch and marker checks, no sequences.
    Coordinator,
    /// Rebuilding from the log: no checks at all.
    Replay,
}

impl std::fmt::Debug for Origin<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Origin::Client { .. } => "Client",
            Origin::Coordinator => "Coordinator",
            Origin::Replay => "Replay",
        })
    }
}

/// What the producer state needs of one batch, with the offsets the log assigns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchInfo {
    pub producer_id: i64,
    pub epoch: i16,
    pub base_sequence: i32,
    pub last_offset_delta: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
    pub transactional: bool,
    pub control: bool,
    /// For a control batch: its marker, if readable.
    pub marker: Option<EndTxnMarker>,
}

impl BatchInfo {
    /// Sequence of the last record; wraps past `i32::MAX` to 0 (Kafka's `incrementSequence`).
    pub fn last_sequence(&self) -> i32 {
        let (base, delta) = (self.base_sequence, self.last_offset_delta.max(0));
        if base < 0 {
            return base;
        }
        if base > i32::MAX - delta {
            delta - (i32::MAX - base) - 1
        } else {
            base + delta
        }
    }
}

/// Kafka's `inSequence`: `next` follows `last`, wrapping at `i32::MAX`.
fn in_sequence(last: i32, next: i32) -> bool {
    i64::from(next) == i64::from(last) + 1 || (next == 0 && last == i32::MAX)
}

/// The producer state of one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerStateManager {
    producers: BTreeMap<i64, ProducerEntry>,
    /// Ongoing transactions: first offset → producer id.
    ongoing: BTreeMap<i64, i64>,
}

impl ProducerStateManager {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds the state from entries (a snapshot); ongoing transactions follow from them.
    pub fn from_entries(entries: impl IntoIterator<Item = ProducerEntry>) -> Self {
        let mut s = Self::default();
        for e in entries {
            if let Some(first) = e.current_txn_first_offset {
                s.ongoing.insert(first, e.producer_id);
            }
            s.producers.insert(e.producer_id, e);
        }
        s
    }

    pub fn entries(&self) -> impl Iterator<Item = &ProducerEntry> {
        self.producers.values()
    }

    pub fn entry(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// Earliest first offset of any ongoing transaction.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.keys().next().copied()
    }

    pub fn has_ongoing_txn(&self, producer_id: i64) -> bool {
        self.producers
            .get(&producer_id)
            .is_some_and(|e| e.current_txn_first_offset.is_some())
    }

    pub fn snapshots(&self) -> Vec<ProducerSnapshot> {
        self.producers
            .values()
            .map(|e| ProducerSnapshot {
                producer_id: e.producer_id,
                producer_epoch: e.epoch,
                last_sequence: e.last_seq(),
                last_timestamp: e.last_timestamp,
                coordinator_epoch: e.coordinator_epoch,
                current_txn_start_offset: e.current_txn_first_offset.unwrap_or(-1),
            })
            .collect()
    }

    /// Removes producers without an ongoing transaction that last wrote more than
    /// `expiration_ms` ago (Kafka's `removeExpiredProducers`). Returns how many.
    pub fn remove_expired(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers.retain(|_, e| {
            e.current_txn_first_offset.is_some()
                || now_ms.saturating_sub(e.last_timestamp) < expiration_ms
        });
        before - self.producers.len()
    }

    /// The log start moved: forgets producers whose last data batch is below it and that have no
    /// ongoing transaction (Kafka's `truncateHead`). Returns how many.
    pub fn truncate_head(&mut self, log_start_offset: i64) -> usize {
        let before = self.producers.len();
        self.producers.retain(|_, e| {
            e.current_txn_first_offset.is_some() || e.last_data_offset >= log_start_offset
        });
        before - self.producers.len()
    }

    /// Applies a validated append.
    pub fn apply(&mut self, update: ProducerUpdate) {
        for (pid, e) in update.entries {
            self.producers.insert(pid, e);
        }
        if let Some(ongoing) = update.ongoing {
            self.ongoing = ongoing;
        }
    }
}

/// The checked effect of one append on the producer state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerUpdate {
    entries: BTreeMap<i64, ProducerEntry>,
    ongoing: Option<BTreeMap<i64, i64>>,
    /// ABORT markers that completed a transaction, in offset order.
    pub aborted: Vec<AbortedTxn>,
}

impl ProducerUpdate {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.ongoing.is_none() && self.aborted.is_empty()
    }
}

/// A scratch copy of the producers an append touches (Kafka's `ProducerAppendInfo`, for all
/// producers of the request at once).
#[derive(Debug)]
pub struct ProducerAppend<'s> {
    state: &'s ProducerStateManager,
    update: ProducerUpdate,
}

impl<'s> ProducerAppend<'s> {
    pub fn new(state: &'s ProducerStateManager) -> Self {
        ProducerAppend {
            state,
            update: ProducerUpdate::default(),
        }
    }

    /// The batch a client retried: same epoch and sequence range as one of the producer's cached
    /// batches in the committed state (Kafka's `findDuplicateBatch`).
    pub fn find_duplicate(&self, b: &BatchInfo) -> Option<BatchMetadata> {
        if b.producer_id < 0 || b.control {
            return None;
        }
        self.state.producers.get(&b.producer_id)?.find_duplicate(
            b.epoch,
            b.base_sequence,
            b.last_sequence(),
        )
    }

    fn entry(&self, pid: i64) -> Option<&ProducerEntry> {
        self.update
            .entries
            .get(&pid)
            .or_else(|| self.state.producers.get(&pid))
    }

    fn entry_mut(&mut self, pid: i64) -> &mut ProducerEntry {
        let state = self.state;
        self.update.entries.entry(pid).or_insert_with(|| {
            state
                .producers
                .get(&pid)
                .cloned()
                .unwrap_or_else(|| ProducerEntry::new(pid))
        })
    }

    fn ongoing_mut(&mut self) -> &mut BTreeMap<i64, i64> {
        let state = self.state;
        self.update
            .ongoing
            .get_or_insert_with(|| state.ongoing.clone())
    }

    fn ongoing(&self) -> &BTreeMap<i64, i64> {
        self.update.ongoing.as_ref().unwrap_or(&self.state.ongoing)
    }

    /// Checks one batch against the scratch state and records its effect. Batches without a
    /// producer id are ignored. On error the scratch is left in an unspecified state: drop it.
    pub fn append(&mut self, b: &BatchInfo, origin: Origin<'_>) -> Result<(), ProducerStateError> {
        if b.producer_id < 0 {
            return Ok(());
        }
        if b.control {
            if matches!(origin, Origin::Client { .. }) {
                return Err(ProducerStateError::InvalidControlBatch {
                    producer_id: b.producer_id,
                    reason: "clients may not write control batches",
                });
            }
            return self.append_marker(b, origin);
        }
        self.append_data(b, origin)
    }

    fn check_epoch(&self, b: &BatchInfo, origin: Origin<'_>) -> Result<(), ProducerStateError> {
        if matches!(origin, Origin::Replay) {
            return Ok(());
        }
        match self.entry(b.producer_id) {
            Some(e) if b.epoch < e.epoch => Err(ProducerStateError::InvalidProducerEpoch {
                producer_id: b.producer_id,
                epoch: b.epoch,
                current_epoch: e.epoch,
            }),
            _ => Ok(()),
        }
    }

    /// Kafka's `checkSequence`, for client batches.
    fn check_sequence(&self, b: &BatchInfo) -> Result<(), ProducerStateError> {
        let Some(e) = self.entry(b.producer_id) else {
            // Unknown producer (e.g. its records were removed by retention): any sequence.
            return Ok(());
        };
        let ok = if b.epoch != e.epoch {
            // An epoch bump (KIP-360) restarts the sequence at 0.
            b.base_sequence == 0 || e.epoch == -1
        } else {
            e.epoch == -1 || in_sequence(e.last_seq(), b.base_sequence)
        };
        if ok {
            Ok(())
        } else {
            Err(ProducerStateError::OutOfOrderSequence {
                producer_id: b.producer_id,
                epoch: b.epoch,
                found: b.base_sequence,
                last_sequence: if b.epoch == e.epoch { e.last_seq() } else { -1 },
            })
        }
    }

    fn append_data(&mut self, b: &BatchInfo, origin: Origin<'_>) -> Result<(), ProducerStateError> {
        let pid = b.producer_id;
        self.check_epoch(b, origin)?;
        let ongoing = self
            .entry(pid)
            .and_then(|e| e.current_txn_first_offset.map(|first| (first, e.epoch)));
        if let Origin::Client { verify_txn } = origin {
            if b.transactional
                && ongoing.is_none_or(|(_, epoch)| epoch != b.epoch)
                && !verify_txn(pid, b.epoch)
            {
                return Err(ProducerStateError::InvalidTxnState {
                    producer_id: pid,
                    reason: "the partition is not part of an ongoing transaction of this producer",
                });
            }
            self.check_sequence(b)?;
        }
        if ongoing.is_some() && !b.transactional && !matches!(origin, Origin::Replay) {
            return Err(ProducerStateError::InvalidTxnState {
                producer_id: pid,
                reason: "non-transactional write from a producer with an ongoing transaction",
            });
        }
        let e = self.entry_mut(pid);
        e.set_epoch(b.epoch);
        if b.base_sequence >= 0 {
            e.add_batch(BatchMetadata {
                first_seq: b.base_sequence,
                last_seq: b.last_sequence(),
                first_offset: b.first_offset,
                last_offset: b.last_offset,
                timestamp: b.max_timestamp,
            });
        }
        e.last_timestamp = b.max_timestamp;
        e.last_data_offset = b.last_offset;
        if b.transactional && e.current_txn_first_offset.is_none() {
            e.current_txn_first_offset = Some(b.first_offset);
            self.ongoing_mut().insert(b.first_offset, pid);
        }
        Ok(())
    }

    fn append_marker(
        &mut self,
        b: &BatchInfo,
        origin: Origin<'_>,
    ) -> Result<(), ProducerStateError> {
        let pid = b.producer_id;
        let Some(marker) = b.marker else {
            return Err(ProducerStateError::InvalidControlBatch {
                producer_id: pid,
                reason: "the control batch holds no readable end-transaction marker",
            });
        };
        self.check_epoch(b, origin)?;
        if !matches!(origin, Origin::Replay) {
            if let Some(e) = self.entry(pid) {
                if marker.coordinator_epoch < e.coordinator_epoch {
                    return Err(ProducerStateError::TransactionCoordinatorFenced {
                        producer_id: pid,
                        coordinator_epoch: marker.coordinator_epoch,
                        current: e.coordinator_epoch,
                    });
                }
            }
        }
        let e = self.entry_mut(pid);
        let completed = e.current_txn_first_offset.take();
        e.set_epoch(b.epoch);
        e.coordinator_epoch = marker.coordinator_epoch;
        e.last_timestamp = b.max_timestamp;
        if let Some(first) = completed {
            let ongoing = self.ongoing_mut();
            ongoing.remove(&first);
            if marker.kind == ControlRecordType::Abort {
                let last_stable_offset =
                    ongoing.keys().next().copied().unwrap_or(b.last_offset + 1);
                self.update.aborted.push(AbortedTxn {
                    producer_id: pid,
                    first_offset: first,
                    last_offset: b.last_offset,
                    last_stable_offset,
                });
            }
        }
        Ok(())
    }

    /// Earliest ongoing transaction in the scratch state.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing().keys().next().copied()
    }

    /// The checked effect, to apply once the batches are written.
    pub fn finish(self) -> ProducerUpdate {
        self.update
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pid: i64, epoch: i16, seq: i32, n: i32, offset: i64) -> BatchInfo {
        BatchInfo {
            producer_id: pid,
            epoch,
            base_sequence: seq,
            last_offset_delta: n - 1,
            first_offset: offset,
            last_offset: offset + i64::from(n) - 1,
            max_timestamp: 100,
            transactional: false,
            control: false,
            marker: None,
        }
    }

    fn marker(pid: i64, epoch: i16, kind: ControlRecordType, coord: i32, offset: i64) -> BatchInfo {
        BatchInfo {
            base_sequence: -1,
            transactional: true,
            control: true,
            marker: Some(EndTxnMarker::new(kind, coord)),
            ..data(pid, epoch, -1, 1, offset)
        }
    }

    const YES: &dyn Fn(i64, i16) -> bool = &|_, _| true;
    const NO: &dyn Fn(i64, i16) -> bool = &|_, _| false;

    fn client(f: &dyn Fn(i64, i16) -> bool) -> Origin<'_> {
        Origin::Client { verify_txn: f }
    }

    fn apply(
        s: &mut ProducerStateManager,
        b: BatchInfo,
        o: Origin<'_>,
    ) -> Result<ProducerUpdate, ProducerStateError> {
        let mut a = ProducerAppend::new(s);
        a.append(&b, o)?;
        let u = a.finish();
        s.apply(u.clone());
        Ok(u)
    }

    #[test]
    fn sequences_epochs_and_duplicates() {
        let mut s = ProducerStateManager::new();
        apply(&mut s, data(1, 0, 7, 3, 0), client(YES)).unwrap(); // unknown producer: any seq
        apply(&mut s, data(1, 0, 10, 2, 3), client(YES)).unwrap();
        let err = apply(&mut s, data(1, 0, 13, 1, 5), client(YES)).unwrap_err();
        assert_eq!(err.kafka_error_code(), OUT_OF_ORDER_SEQUENCE_NUMBER);
        let dup = ProducerAppend::new(&s)
            .find_duplicate(&data(1, 0, 7, 3, 99))
            .unwrap();
        assert_eq!((dup.first_offset, dup.last_offset), (0, 2));
        assert!(ProducerAppend::new(&s)
            .find_duplicate(&data(1, 1, 7, 3, 99))
            .is_none());
        // bump needs seq 0
        let err = apply(&mut s, data(1, 1, 12, 1, 5), client(YES)).unwrap_err();
        assert_eq!(err.kafka_error_code(), OUT_OF_ORDER_SEQUENCE_NUMBER);
        apply(&mut s, data(1, 1, 0, 1, 5), client(YES)).unwrap();
        assert_eq!(s.entry(1).unwrap().batches.len(), 1);
        let err = apply(&mut s, data(1, 0, 1, 1, 6), client(YES)).unwrap_err();
        assert_eq!(err.kafka_error_code(), INVALID_PRODUCER_EPOCH);
        // wrap-around
        let mut s = ProducerStateManager::new();
        apply(&mut s, data(2, 0, i32::MAX - 1, 2, 0), client(YES)).unwrap();
        assert_eq!(s.entry(2).unwrap().last_seq(), i32::MAX);
        apply(&mut s, data(2, 0, 0, 1, 2), client(YES)).unwrap();
    }

    #[test]
    fn cache_keeps_five_batches() {
        let mut s = ProducerStateManager::new();
        for i in 0..8 {
            apply(&mut s, data(1, 0, i, 1, i64::from(i)), client(YES)).unwrap();
        }
        let a = ProducerAppend::new(&s);
        assert!(a.find_duplicate(&data(1, 0, 2, 1, 0)).is_none());
        assert!(a.find_duplicate(&data(1, 0, 3, 1, 0)).is_some());
    }

    #[test]
    fn transactions_and_markers() {
        let mut s = ProducerStateManager::new();
        let txn = |pid, seq, off| BatchInfo {
            transactional: true,
            ..data(pid, 0, seq, 2, off)
        };
        let err = apply(&mut s, txn(1, 0, 0), client(NO)).unwrap_err();
        assert_eq!(err.kafka_error_code(), INVALID_TXN_STATE);
        apply(&mut s, txn(1, 0, 0), client(YES)).unwrap();
        apply(&mut s, txn(1, 2, 2), client(NO)).unwrap(); // ongoing: no verification
        apply(&mut s, txn(2, 0, 4), client(YES)).unwrap();
        assert_eq!(s.first_unstable_offset(), Some(0));
        let err = apply(&mut s, data(1, 0, 4, 1, 6), client(YES)).unwrap_err();
        assert_eq!(err.kafka_error_code(), INVALID_TXN_STATE);
        let u = apply(
            &mut s,
            marker(1, 0, ControlRecordType::Abort, 3, 6),
            Origin::Coordinator,
        )
        .unwrap();
        assert_eq!(
            u.aborted,
            vec![AbortedTxn {
                producer_id: 1,
                first_offset: 0,
                last_offset: 6,
                last_stable_offset: 4
            }]
        );
        assert_eq!(s.first_unstable_offset(), Some(4));
        let err = apply(
            &mut s,
            marker(1, 0, ControlRecordType::Abort, 2, 7),
            Origin::Coordinator,
        )
        .unwrap_err();
        assert_eq!(err.kafka_error_code(), TRANSACTION_COORDINATOR_FENCED);
        let u = apply(
            &mut s,
            marker(2, 0, ControlRecordType::Commit, 3, 7),
            Origin::Coordinator,
        )
        .unwrap();
        assert!(u.aborted.is_empty());
        assert_eq!(s.first_unstable_offset(), None);
        // marker without a transaction: accepted, nothing aborted
        let u = apply(
            &mut s,
            marker(2, 0, ControlRecordType::Abort, 3, 8),
            Origin::Coordinator,
        )
        .unwrap();
        assert!(u.aborted.is_empty());
        let err = apply(
            &mut s,
            marker(2, 0, ControlRecordType::Abort, 3, 9),
            client(YES),
        )
        .unwrap_err();
        assert_eq!(err.kafka_error_code(), INVALID_RECORD);
        let err = apply(
            &mut s,
            marker(2, -1, ControlRecordType::Abort, 3, 9),
            Origin::Coordinator,
        )
        .unwrap_err();
        assert_eq!(err.kafka_error_code(), INVALID_PRODUCER_EPOCH);
    }

    #[test]
    fn coordinator_batches_skip_sequences() {
        let mut s = ProducerStateManager::new();
        let b = BatchInfo {
            transactional: true,
            ..data(5, 2, -1, 1, 0)
        };
        apply(&mut s, b, Origin::Coordinator).unwrap();
        apply(
            &mut s,
            BatchInfo {
                first_offset: 1,
                last_offset: 1,
                ..b
            },
            Origin::Coordinator,
        )
        .unwrap();
        assert!(s.has_ongoing_txn(5));
        assert_eq!(s.snapshots()[0].last_sequence, -1);
        assert_eq!(s.snapshots()[0].current_txn_start_offset, 0);
    }

    #[test]
    fn expiration_and_head_truncation() {
        let mut s = ProducerStateManager::new();
        apply(&mut s, data(1, 0, 0, 1, 0), client(YES)).unwrap();
        let t = BatchInfo {
            transactional: true,
            ..data(2, 0, 0, 1, 1)
        };
        apply(&mut s, t, client(YES)).unwrap();
        apply(&mut s, data(3, 0, 0, 1, 2), client(YES)).unwrap();
        assert_eq!(s.truncate_head(2), 1);
        assert_eq!(s.remove_expired(1_000, 500), 1);
        assert_eq!(s.len(), 1);
        assert!(s.has_ongoing_txn(2));
    }
}
