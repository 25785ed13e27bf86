//! What the cleaner knows about transactions while it walks the log in offset order (Kafka's
//! `CleanedTransactionMetadata`): which data batches belong to aborted transactions (removed),
//! and which transaction markers no longer guard any data (removable once their delete horizon
//! has passed).
//!
//! The aborted transactions come from the `.txnindex` entries overlapping the walked range. A
//! transactional data batch whose producer has an aborted transaction that started at or before
//! it is aborted data; any other transactional batch belongs to a committed (or, below the last
//! stable offset, completed) transaction. An ABORT marker is kept, with its index entry, while
//! this walk still saw aborted data of its transaction (the next cleaning removes the marker);
//! a COMMIT marker is removable when none of its transaction's data was seen in this walk.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use strom_records::ControlRecordType;

use crate::producer_state::AbortedTxn;

/// An aborted transaction whose first offset the walk has passed.
#[derive(Debug, Clone, Copy)]
struct Ongoing {
    txn: AbortedTxn,
    /// The walk saw at least one data batch of the transaction.
    data_seen: bool,
}

/// Transaction bookkeeping of one cleaner walk.
#[derive(Debug, Default)]
pub struct CleanedTransactions {
    /// Aborted transactions not yet started by the walk, by first offset.
    pending: VecDeque<AbortedTxn>,
    ongoing_aborted: HashMap<i64, Ongoing>,
    ongoing_committed: HashSet<i64>,
    /// Aborted transactions whose marker the cleaned log keeps, for its `.txnindex`.
    retained_index: BTreeSet<(i64, i64)>,
    kept: Vec<AbortedTxn>,
}

impl CleanedTransactions {
    /// `aborted`: the aborted transactions overlapping the walked range.
    pub fn new(mut aborted: Vec<AbortedTxn>) -> Self {
        aborted.sort_by_key(|t| (t.first_offset, t.last_offset));
        CleanedTransactions {
            pending: aborted.into(),
            ..CleanedTransactions::default()
        }
    }

    fn start_up_to(&mut self, offset: i64) {
        while self
            .pending
            .front()
            .is_some_and(|t| t.first_offset <= offset)
        {
            if let Some(txn) = self.pending.pop_front() {
                self.ongoing_aborted.insert(
                    txn.producer_id,
                    Ongoing {
                        txn,
                        data_seen: false,
                    },
                );
            }
        }
    }

    /// A data batch at `[base_offset, last_offset]`: true when it belongs to an aborted
    /// transaction (its records are removed).
    pub fn is_aborted_data(
        &mut self,
        producer_id: i64,
        transactional: bool,
        last_offset: i64,
    ) -> bool {
        self.start_up_to(last_offset);
        if !transactional || producer_id < 0 {
            return false;
        }
        match self.ongoing_aborted.get_mut(&producer_id) {
            Some(ongoing) => {
                ongoing.data_seen = true;
                true
            }
            None => {
                self.ongoing_committed.insert(producer_id);
                false
            }
        }
    }

    /// A marker batch at `offset`: true when the marker guards no data left in the log (it may
    /// go once its delete horizon has passed).
    pub fn on_marker(
        &mut self,
        producer_id: i64,
        kind: Option<ControlRecordType>,
        offset: i64,
    ) -> bool {
        self.start_up_to(offset);
        match kind {
            Some(ControlRecordType::Abort) => match self.ongoing_aborted.remove(&producer_id) {
                Some(ongoing) if ongoing.data_seen => {
                    if self
                        .retained_index
                        .insert((ongoing.txn.first_offset, ongoing.txn.last_offset))
                    {
                        self.kept.push(ongoing.txn);
                    }
                    false
                }
                _ => true,
            },
            Some(ControlRecordType::Commit) => !self.ongoing_committed.remove(&producer_id),
            // Any other control record is kept.
            _ => false,
        }
    }

    /// The aborted transactions kept so far, in the order their markers were walked.
    pub fn kept_so_far(&self) -> &[AbortedTxn] {
        &self.kept
    }

    /// The aborted transactions the cleaned segments' `.txnindex` files keep, in marker order.
    pub fn into_kept(mut self) -> Vec<AbortedTxn> {
        self.kept.sort_by_key(|t| t.last_offset);
        self.kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aborted(pid: i64, first: i64, last: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id: pid,
            first_offset: first,
            last_offset: last,
            last_stable_offset: last + 1,
        }
    }

    #[test]
    fn aborted_data_is_recognised_and_its_marker_kept_once() {
        let mut t = CleanedTransactions::new(vec![aborted(7, 10, 20)]);
        assert!(
            !t.is_aborted_data(7, true, 5),
            "before the transaction started"
        );
        assert!(t.is_aborted_data(7, true, 12));
        assert!(
            !t.is_aborted_data(8, true, 13),
            "another producer's transaction"
        );
        assert!(!t.is_aborted_data(7, false, 14), "non-transactional batch");
        assert!(
            !t.on_marker(7, Some(ControlRecordType::Abort), 20),
            "data was seen: keep"
        );
        assert!(
            !t.on_marker(8, Some(ControlRecordType::Commit), 21),
            "committed data seen"
        );
        assert_eq!(t.into_kept(), vec![aborted(7, 10, 20)]);
    }

    #[test]
    fn empty_transactions_markers_are_removable() {
        let mut t = CleanedTransactions::new(vec![aborted(7, 10, 20)]);
        assert!(t.on_marker(7, Some(ControlRecordType::Abort), 20));
        assert!(t.on_marker(9, Some(ControlRecordType::Commit), 30));
        assert!(t.into_kept().is_empty());
    }
}
