//! The partition log: Kafka's segmented log of record batches, with sparse offset and time
//! indexes, crash recovery, retention and DeleteRecords. Sync `std` I/O only; the broker calls it
//! from async code through short critical sections and `spawn_blocking`.
//!
//! Start at [`Log`] (invariants documented in `log.rs`).

pub mod checkpoint;
pub mod config;
pub mod error;
pub mod log;
pub mod offset_index;
pub mod query;
pub mod read;
pub mod recovery;
pub mod retention;
pub mod segment;
pub mod time_index;

pub use config::LogConfig;
pub use error::StorageError;
pub use log::{AppendInfo, Log, RecoveryReport, SyncHandle};
pub use read::{FetchData, ReadPlan};
pub use retention::RetentionOutcome;
