//! Encoding a response: size prefix, response header (v0, or v1 with tagged fields) and body.
//!
//! [`encode_response`] gives the frame in one buffer. [`encode_response_frame`] gives it as
//! chunks so that a Fetch response's record sets, which are most of its bytes, go from the
//! buffer the log was read into, or from the segment files themselves ([`crate::fetch_frame`]),
//! straight to the socket without being copied into the response.

use std::io::IoSlice;

use bytes::{Buf, BufMut, Bytes, BytesMut};

pub use crate::fetch_frame::FileRange;
use kafka_protocol::messages::{ResponseHeader, ResponseKind};
use kafka_protocol::protocol::Encodable;

/// A response Strom built but could not encode: a broker bug, never the client's fault.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode response: {0}")]
pub struct EncodeError(pub(crate) String);

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

/// Record sets at least this large travel as their own chunk of a [`ResponseFrame`] instead of
/// being copied into the encoded response; smaller ones cost less to copy than to write apart.
pub const SHARED_RECORDS_MIN: usize = 16 * 1024;

/// One piece of a [`ResponseFrame`].
#[derive(Debug, Clone)]
pub enum Chunk {
    /// Bytes in memory: encoded fields, or a record set as the broker read it.
    Bytes(Bytes),
    /// Bytes of a segment file, sent from the page cache (`sendfile`).
    File(FileRange),
}

impl Chunk {
    pub fn len(&self) -> usize {
        match self {
            Chunk::Bytes(b) => b.len(),
            Chunk::File(f) => f.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An encoded response frame (size prefix included) as chunks to be written in order: the
/// encoded fields, and between them the record sets of a Fetch response, either as the very
/// `Bytes` the broker read them into or as ranges of segment files (never copied).
#[derive(Debug, Clone, Default)]
pub struct ResponseFrame {
    /// Never holds an empty chunk.
    chunks: Vec<Chunk>,
}

impl ResponseFrame {
    /// A frame of `chunks`, which hold the whole frame, size prefix included.
    pub(crate) fn new(mut chunks: Vec<Chunk>) -> ResponseFrame {
        chunks.retain(|c| !c.is_empty());
        ResponseFrame { chunks }
    }

    /// The chunks, in wire order.
    pub fn chunks(&self) -> &[Chunk] {
        &self.chunks
    }

    /// Bytes on the wire, size prefix included.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(Chunk::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Whether some bytes are still in files (the frame must then be written with `sendfile`).
    pub fn has_files(&self) -> bool {
        self.chunks.iter().any(|c| matches!(c, Chunk::File(_)))
    }

    /// The frame as a [`Buf`] for vectored writes, when all its bytes are in memory.
    pub fn into_buf(self) -> Result<ChunksBuf, ResponseFrame> {
        if self.has_files() {
            return Err(self);
        }
        let chunks: Vec<Bytes> = self
            .chunks
            .into_iter()
            .filter_map(|c| match c {
                Chunk::Bytes(b) => Some(b),
                Chunk::File(_) => None,
            })
            .collect();
        let remaining = chunks.iter().map(Bytes::len).sum();
        Ok(ChunksBuf {
            chunks,
            first: 0,
            remaining,
        })
    }

    /// The whole frame in one buffer, file ranges read (for tests and tools; copies).
    pub fn to_bytes(&self) -> std::io::Result<Bytes> {
        let mut out = BytesMut::with_capacity(self.len());
        for chunk in &self.chunks {
            match chunk {
                Chunk::Bytes(b) => out.extend_from_slice(b),
                Chunk::File(range) => {
                    let at = out.len();
                    out.resize(at + range.len, 0);
                    std::os::unix::fs::FileExt::read_exact_at(
                        &*range.file,
                        &mut out[at..],
                        range.position,
                    )?;
                }
            }
        }
        Ok(out.freeze())
    }
}

/// A frame's chunks as one [`Buf`] whose `chunks_vectored` gives them all, so that
/// `write_all_buf` sends them with vectored writes.
#[derive(Debug, Clone, Default)]
pub struct ChunksBuf {
    /// Never holds an empty chunk.
    chunks: Vec<Bytes>,
    /// The first chunk not yet fully consumed.
    first: usize,
    /// Bytes left to consume.
    remaining: usize,
}

impl Buf for ChunksBuf {
    fn remaining(&self) -> usize {
        self.remaining
    }

    fn chunk(&self) -> &[u8] {
        self.chunks.get(self.first).map_or(&[], |c| c.as_ref())
    }

    fn advance(&mut self, mut cnt: usize) {
        cnt = cnt.min(self.remaining);
        self.remaining -= cnt;
        while cnt > 0 {
            let Some(chunk) = self.chunks.get_mut(self.first) else {
                return;
            };
            if cnt < chunk.len() {
                chunk.advance(cnt);
                return;
            }
            cnt -= chunk.len();
            self.first += 1;
        }
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        let left = self.chunks.get(self.first..).unwrap_or_default();
        for (slot, chunk) in dst.iter_mut().zip(left) {
            *slot = IoSlice::new(chunk);
            n += 1;
        }
        n
    }
}

/// Encodes a full response frame like [`encode_response`], but leaves the large record sets of
/// a Fetch response where they are: the frame refers to them instead of holding a copy.
pub fn encode_response_frame(
    correlation_id: i32,
    api_version: i16,
    body: &ResponseKind,
) -> Result<ResponseFrame, EncodeError> {
    match body {
        ResponseKind::Fetch(fetch) => {
            crate::fetch_frame::encode_fetch_frame(correlation_id, api_version, fetch, &[])
        }
        _ => encode_response(correlation_id, api_version, body)
            .map(|frame| ResponseFrame::new(vec![Chunk::Bytes(frame)])),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use kafka_protocol::messages::fetch_response::{
        AbortedTransaction, FetchableTopicResponse, PartitionData,
    };
    use kafka_protocol::messages::{FetchResponse, ProducerId, TopicName};
    use kafka_protocol::protocol::StrBytes;

    use super::*;

    fn records(len: usize, seed: u8) -> Bytes {
        Bytes::from(
            (0..len)
                .map(|i| (i as u8).wrapping_mul(31) ^ seed)
                .collect::<Vec<u8>>(),
        )
    }

    fn fetch(sets: &[Option<Bytes>]) -> ResponseKind {
        let partitions = sets
            .iter()
            .enumerate()
            .map(|(i, set)| {
                PartitionData::default()
                    .with_partition_index(i as i32)
                    .with_high_watermark(1_000 + i as i64)
                    .with_last_stable_offset(900)
                    .with_log_start_offset(3)
                    .with_aborted_transactions(Some(vec![AbortedTransaction::default()
                        .with_producer_id(ProducerId(7))
                        .with_first_offset(11)]))
                    .with_records(set.clone())
            })
            .collect();
        ResponseKind::Fetch(
            FetchResponse::default()
                .with_session_id(0)
                .with_responses(vec![
                    FetchableTopicResponse::default()
                        .with_topic(TopicName(StrBytes::from_static_str("t")))
                        .with_partitions(partitions),
                    FetchableTopicResponse::default()
                        .with_topic(TopicName(StrBytes::from_static_str("u")))
                        .with_partitions(vec![PartitionData::default()
                            .with_records(Some(records(SHARED_RECORDS_MIN + 5, 9)))]),
                ]),
        )
    }

    #[test]
    fn chunked_frame_has_the_same_bytes_as_the_contiguous_one() {
        let sets = [
            Some(records(SHARED_RECORDS_MIN, 1)),
            None,
            Some(records(100, 2)),
            Some(Bytes::new()),
            Some(records(200_000, 3)),
            Some(records(SHARED_RECORDS_MIN - 1, 4)),
        ];
        let body = fetch(&sets);
        for version in 4..=18 {
            let whole = encode_response(42, version, &body).unwrap();
            let frame = encode_response_frame(42, version, &body).unwrap();
            assert_eq!(frame.len(), whole.len(), "v{version}");
            assert_eq!(frame.to_bytes().unwrap(), whole, "v{version}");
        }
    }

    #[test]
    fn large_record_sets_are_shared_not_copied() {
        let big = records(100_000, 5);
        let body = fetch(&[Some(big.clone()), Some(records(10, 6))]);
        let frame = encode_response_frame(1, 12, &body).unwrap();
        let shared: Vec<&Bytes> = frame
            .chunks()
            .iter()
            .filter_map(|c| match c {
                Chunk::Bytes(b) if b.len() >= SHARED_RECORDS_MIN => Some(b),
                _ => None,
            })
            .collect();
        assert_eq!(shared.len(), 2);
        assert_eq!(shared[0].as_ptr(), big.as_ptr());
        assert!(!frame.has_files());
    }

    #[test]
    fn responses_without_large_records_are_one_chunk() {
        let body = ResponseKind::Fetch(FetchResponse::default());
        let frame = encode_response_frame(3, 12, &body).unwrap();
        assert_eq!(
            frame.to_bytes().unwrap(),
            encode_response(3, 12, &body).unwrap()
        );
        let metadata = ResponseKind::Metadata(Default::default());
        let frame = encode_response_frame(3, 12, &metadata).unwrap();
        assert_eq!(
            frame.to_bytes().unwrap(),
            encode_response(3, 12, &metadata).unwrap()
        );
    }

    #[test]
    fn consuming_the_frame_as_a_buf_yields_its_bytes() {
        let body = fetch(&[Some(records(70_000, 7)), Some(records(20_000, 8))]);
        let whole = encode_response(9, 11, &body).unwrap();
        let mut frame = encode_response_frame(9, 11, &body)
            .unwrap()
            .into_buf()
            .unwrap();
        let mut out = Vec::new();
        // Consume in uneven steps, as partial writes do.
        let mut step = 1;
        while frame.has_remaining() {
            let mut slices = [IoSlice::new(&[]); 4];
            let n = frame.chunks_vectored(&mut slices);
            assert!(n >= 1);
            let take = step.min(slices[0].len());
            out.extend_from_slice(&slices[0][..take]);
            frame.advance(take);
            step = step * 3 + 1;
        }
        assert_eq!(out, whole.to_vec());
        assert_eq!(frame.remaining(), 0);
    }
}
