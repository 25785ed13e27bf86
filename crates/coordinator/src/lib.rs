//! `strom-coordinator`: Kafka's group coordinator (groups of the classic protocol, consumer
//! groups of the KIP-848 protocol, and committed offsets) as a state machine without I/O.
//!
//! The broker owns the runtime. It routes each group request to the [`GroupCoordinatorShard`]
//! of the group's `__consumer_offsets` partition ([`partition_for_group`]), calls it under a
//! lock, appends the [`CoordinatorRecord`]s of the returned [`Outcome`] to that partition, waits
//! until they are durable, and only then sends the reply and the [`Completion`]s (answers to
//! JoinGroup/SyncGroup requests that were parked with [`Reply::Later`]). It calls
//! [`GroupCoordinatorShard::poll`] at [`GroupCoordinatorShard::next_deadline`] for timers, and
//! at startup replays every record of the partition through [`GroupCoordinatorShard::replay`].
//! Time is always passed in (`now_ms`); nothing here knows a clock, a socket or tokio.
//!
//! ConsumerGroupHeartbeat and ConsumerGroupDescribe ([`consumer`]) also take a [`TopicsImage`]:
//! the topics (name → id, partition count) as the broker's metadata sees them at that moment.
//!
//! Records use Kafka's binary layout ([`records`], [`consumer::records`]) so Kafka's tools can
//! read the partition.
//! Errors that reach clients are Kafka error codes (`i16`).

pub mod assignor;
pub mod classic;
pub mod config;
pub mod consumer;
pub mod offsets;
pub mod outcome;
pub mod partitioner;
pub mod records;
pub mod shard;
pub mod transaction;
pub mod txn_offsets;

pub use classic::group::{ClassicGroup, ClassicGroupState};
pub use config::ShardConfig;
pub use consumer::group::{ConsumerGroup, ConsumerGroupState};
pub use consumer::member::{ConsumerGroupMember, MemberState};
pub use consumer::TopicsImage;
pub use offsets::FetchedOffset;
pub use outcome::{Completion, CoordinatorRecord, DelayedResponse, Outcome, Reply, RequestId};
pub use partitioner::partition_for_group;
pub use records::RecordError;
pub use shard::{Group, GroupCoordinatorShard};
pub use strom_protocol::messages::consumer_group_describe_response::DescribedGroup as DescribedConsumerGroup;
pub use strom_protocol::messages::describe_groups_response::DescribedGroup;
pub use strom_protocol::messages::list_groups_response::ListedGroup;
pub use transaction::{
    TransactionCoordinatorShard, TxnConfig, TxnMarker, TxnOutcome, TxnRecordError, TxnState,
};
