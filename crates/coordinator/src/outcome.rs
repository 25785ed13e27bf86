//! What a shard call hands back to the runtime: the reply, the records to append, and the
//! answers to earlier requests that this call completed.

use bytes::Bytes;
use strom_protocol::messages::{JoinGroupResponse, SyncGroupResponse};

/// Identifies a request whose answer may come later (a `JoinGroup` or `SyncGroup` that waits
/// for the rest of the group). Chosen by the runtime, unique among pending requests.
pub type RequestId = u64;

/// A record for the shard's `__consumer_offsets` partition, in Kafka's binary layout
/// (see [`crate::records`]). `value: None` is a tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoordinatorRecord {
    pub key: Bytes,
    pub value: Option<Bytes>,
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply<T> {
    /// Answer now (after the outcome's records are durable).
    Now(T),
    /// The request waits; a [`Completion`] with its request id, returned by a later call
    /// (another member's request or `poll`), answers it.
    Later,
}

impl<T> Reply<T> {
    /// The immediate answer, if any.
    pub fn now(self) -> Option<T> {
        match self {
            Reply::Now(t) => Some(t),
            Reply::Later => None,
        }
    }

    /// Whether the request waits for a completion.
    pub fn is_later(&self) -> bool {
        matches!(self, Reply::Later)
    }
}

/// The answer to a request that waited.
#[derive(Debug, Clone, PartialEq)]
pub enum DelayedResponse {
    JoinGroup(JoinGroupResponse),
    SyncGroup(SyncGroupResponse),
}

/// A delayed answer to the request `request_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub request_id: RequestId,
    pub response: DelayedResponse,
}

/// The result of one shard call.
///
/// The runtime appends `records` to the shard's partition, waits until they are durable, and only
/// then sends `reply` (when `Now`) and every completion: a client never sees a state that a crash
/// could lose. If the append fails, the in-memory state is ahead of the log; the runtime must then
/// reload the shard from the log (or halt), as the shard does not roll back.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome<T> {
    pub reply: Reply<T>,
    pub records: Vec<CoordinatorRecord>,
    pub completions: Vec<Completion>,
}

impl<T> Outcome<T> {
    /// An immediate answer with no side effect.
    pub fn now(reply: T) -> Self {
        Outcome {
            reply: Reply::Now(reply),
            records: Vec::new(),
            completions: Vec::new(),
        }
    }
}

/// Side effects gathered while handling a call: records to append and completions to deliver.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    pub records: Vec<CoordinatorRecord>,
    pub completions: Vec<Completion>,
}

impl Effects {
    pub fn into_outcome<T>(self, reply: Reply<T>) -> Outcome<T> {
        Outcome {
            reply,
            records: self.records,
            completions: self.completions,
        }
    }

    pub fn complete_join(&mut self, request_id: RequestId, response: JoinGroupResponse) {
        self.completions.push(Completion {
            request_id,
            response: DelayedResponse::JoinGroup(response),
        });
    }

    pub fn complete_sync(&mut self, request_id: RequestId, response: SyncGroupResponse) {
        self.completions.push(Completion {
            request_id,
            response: DelayedResponse::SyncGroup(response),
        });
    }
}
