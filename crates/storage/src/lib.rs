//! The partition log: Kafka's segmented log of record batches, with sparse offset and time
//! indexes, crash recovery, retention and DeleteRecords, and the idempotent / transactional
//! producer state of the partition (sequence checks, transactions, aborted-transaction index),
//! and log compaction ([`cleaner`]).
//! Sync `std` I/O only; the broker calls it from async code through short critical sections and
//! `spawn_blocking`.
//!
//! Start at [`Log`] (invariants documented in `log.rs`).

pub mod checkpoint;
pub mod cleaner;
pub mod config;
pub mod error;
pub mod log;
pub mod offset_index;
pub mod producer_state;
pub mod query;
pub mod read;
pub mod recovery;
pub mod retention;
pub mod segment;
pub mod snapshot;
pub mod time_index;
pub mod txn_index;

pub use cleaner::{
    CleanedLog, CleanerSettings, CleaningCommit, CleaningPlan, CleaningState, CleaningStats,
    CompactionConfig, Throttler,
};
pub use config::LogConfig;
pub use error::StorageError;
pub use log::{AppendInfo, AppendOrigin, Log, RecoveryReport, SyncHandle};
pub use producer_state::{AbortedTxn, ProducerSnapshot, ProducerStateError};
pub use read::{FetchData, FetchParts, ReadPart, ReadPlan, CACHED_READ_MAX, ZERO_COPY_MIN_BATCH};
pub use retention::RetentionOutcome;
