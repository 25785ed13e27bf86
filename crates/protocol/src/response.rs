//! Encoding a response: size prefix, response header (v0, or v1 with tagged fields) and body.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ResponseHeader, ResponseKind};
use kafka_protocol::protocol::Encodable;

/// A response Strom built but could not encode: a broker bug, never the client's fault.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode response: {0}")]
pub struct EncodeError(String);

/// Room for a response: a Fetch response is mostly its record batches, so the buffer starts
/// large enough for all of them (one copy of the fetched bytes, no regrowth).
fn capacity_hint(body: &ResponseKind) -> usize {
    const BASE: usize = 256;
    /// Topic and partition fields around each partition's records, generously.
    const PER_PARTITION: usize = 96;
    match body {
        ResponseKind::Fetch(fetch) => {
            fetch
                .responses
                .iter()
                .flat_map(|topic| &topic.partitions)
                .map(|p| {
                    PER_PARTITION
                        + p.records.as_ref().map_or(0, |r| r.len())
                        + p.aborted_transactions.as_ref().map_or(0, |a| a.len() * 16)
                })
                .sum::<usize>()
                + BASE
        }
        _ => BASE,
    }
}

/// Encodes a full response frame, size prefix included.
pub fn encode_response(
    correlation_id: i32,
    api_version: i16,
    body: &ResponseKind,
) -> Result<Bytes, EncodeError> {
    let mut buf = BytesMut::with_capacity(capacity_hint(body));
    buf.put_i32(0);
    let header_version = body.header_version(api_version);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut buf, header_version)
        .map_err(|e| EncodeError(e.to_string()))?;
    body.encode(&mut buf, api_version)
        .map_err(|e| EncodeError(e.to_string()))?;
    let size = i32::try_from(buf.len() - 4).map_err(|e| EncodeError(e.to_string()))?;
    buf[0..4].copy_from_slice(&size.to_be_bytes());
    Ok(buf.freeze())
}
