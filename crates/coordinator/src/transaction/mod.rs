//! The transaction coordinator: transactional ids, their producer ids and epochs, and the
//! two-phase commit of a transaction (Ongoing → PrepareCommit/PrepareAbort → markers written →
//! CompleteCommit/CompleteAbort), as a state machine without I/O whose log is a
//! `__transaction_state` partition.
//!
//! The broker owns the runtime, as for groups: it routes each request to the
//! [`TransactionCoordinatorShard`] of the transactional id's partition, calls it under a lock,
//! appends the records of the returned [`TxnOutcome`] to that partition, waits until they are
//! durable, and only then sends the reply and writes the outcome's [`TxnMarker`]s to the data
//! partitions. When every partition of a marker has it durably, the runtime calls
//! [`TransactionCoordinatorShard::markers_written`], whose records complete the transaction. At
//! startup it replays the partition through [`TransactionCoordinatorShard::replay`] and writes
//! [`TransactionCoordinatorShard::pending_markers`]. Timers run through
//! [`TransactionCoordinatorShard::poll`] at [`TransactionCoordinatorShard::next_deadline`].
//! Producer ids come from the caller (`ids`); time is passed in (`now_ms`).
//!
//! The semantics are Kafka's for transaction version 1 (no epoch bump per transaction,
//! KIP-890 part 2). Errors that reach clients are Kafka error codes ([`errors`]).

pub mod config;
pub mod end;
pub mod errors;
pub mod listing;
pub mod metadata;
pub mod outcome;
pub mod partitions;
pub mod producer_id;
pub mod records;
pub mod shard;
pub mod state;
pub mod timers;

#[cfg(test)]
mod tests;

pub use config::TxnConfig;
pub use listing::{ListedTxn, TxnDescription};
pub use metadata::TransactionMetadata;
pub use outcome::{TxnMarker, TxnOutcome};
pub use partitions::TxnPartition;
pub use records::TxnRecordError;
pub use shard::TransactionCoordinatorShard;
pub use state::TxnState;
