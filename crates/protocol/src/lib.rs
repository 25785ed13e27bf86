//! The Kafka wire protocol as Strom sees it: length-prefixed frames, request decoding, response
//! encoding and the table of API versions Strom implements.
//!
//! This is the only crate that imports `kafka-protocol`; the message structs it generates are
//! re-exported as [`messages`] so the broker's handlers speak Kafka's own field names.

pub mod client;
pub mod fetch_frame;
pub mod frame;
pub mod request;
pub mod response;
pub mod versions;

pub use fetch_frame::{encode_fetch_frame, FileRange, RecordPart, RecordParts};
pub use kafka_protocol::messages;
pub use kafka_protocol::protocol::StrBytes;
pub use kafka_protocol::ResponseError;
pub use request::{decode_request, DecodeError, Request};
pub use response::{
    encode_response, encode_response_frame, Chunk, ChunksBuf, EncodeError, ResponseFrame,
};

/// Builds a `StrBytes` from an owned string without copying.
pub fn str_bytes(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}
