//! Encoding a response: size prefix, response header (v0, or v1 with tagged fields) and body.
//!
//! [`encode_response`] gives the frame in one buffer. [`encode_response_frame`] gives it as
//! chunks so that a Fetch response's record sets, which are most of its bytes, go from the
//! buffer the log was read into straight to the socket (a vectored write) without being copied
//! into the response.

use std::io::IoSlice;
use std::ops::Range;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ResponseHeader, ResponseKind};
use kafka_protocol::protocol::buf::ByteBufMut;
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

/// Record sets at least this large travel as their own chunk of a [`ResponseFrame`] instead of
/// being copied into the encoded response; smaller ones cost less to copy than to write apart.
pub const SHARED_RECORDS_MIN: usize = 16 * 1024;

/// An encoded response frame (size prefix included) as a list of chunks to be written in
/// order: the encoded fields, and between them the record sets of a Fetch response as the very
/// `Bytes` the broker read them into (never copied). It is a [`Buf`] whose
/// `chunks_vectored` gives every chunk, so `write_all_buf` sends it with vectored writes.
#[derive(Debug, Clone, Default)]
pub struct ResponseFrame {
    /// Never holds an empty chunk.
    chunks: Vec<Bytes>,
    /// The first chunk not yet fully consumed (as a [`Buf`]).
    first: usize,
    /// Bytes left to consume.
    remaining: usize,
}

impl ResponseFrame {
    fn new(chunks: Vec<Bytes>) -> Self {
        let chunks: Vec<Bytes> = chunks.into_iter().filter(|c| !c.is_empty()).collect();
        let remaining = chunks.iter().map(Bytes::len).sum();
        ResponseFrame {
            chunks,
            first: 0,
            remaining,
        }
    }

    /// The chunks not yet consumed, in wire order.
    pub fn chunks(&self) -> &[Bytes] {
        self.chunks.get(self.first..).unwrap_or_default()
    }

    /// Bytes left on the wire, size prefix included.
    pub fn len(&self) -> usize {
        self.remaining
    }

    /// Whether every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.remaining == 0
    }

    /// The bytes left in one buffer (copies when more than one chunk is left).
    pub fn to_bytes(&self) -> Bytes {
        match self.chunks() {
            [] => Bytes::new(),
            [only] => only.clone(),
            chunks => {
                let mut out = BytesMut::with_capacity(self.remaining);
                for chunk in chunks {
                    out.extend_from_slice(chunk);
                }
                out.freeze()
            }
        }
    }
}

impl Buf for ResponseFrame {
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
        for (slot, chunk) in dst.iter_mut().zip(self.chunks()) {
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
    let shared = shared_records(body);
    let fetch = match body {
        ResponseKind::Fetch(fetch) if !shared.is_empty() => fetch,
        _ => {
            return encode_response(correlation_id, api_version, body)
                .map(|frame| ResponseFrame::new(vec![frame]))
        }
    };
    let mut buf = ChunkedBuf::new(BytesMut::with_capacity(BASE_CAPACITY), shared);
    buf.put_i32(0);
    let header_version = body.header_version(api_version);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut buf, header_version)
        .map_err(|e| EncodeError(e.to_string()))?;
    fetch
        .encode(&mut buf, api_version)
        .map_err(|e| EncodeError(e.to_string()))?;
    buf.finish()
}

/// The record sets of a response that [`encode_response_frame`] does not copy, in the order
/// the encoder meets them.
fn shared_records(body: &ResponseKind) -> Vec<Bytes> {
    match body {
        ResponseKind::Fetch(fetch) => fetch
            .responses
            .iter()
            .flat_map(|topic| &topic.partitions)
            .filter_map(|p| p.records.as_ref())
            .filter(|records| records.len() >= SHARED_RECORDS_MIN)
            .cloned()
            .collect(),
        _ => Vec::new(),
    }
}

/// Room for the encoded fields of a chunked frame: every field but the shared record sets.
const BASE_CAPACITY: usize = 4 * 1024;

/// The buffer [`encode_response_frame`] encodes into. It behaves as one growing buffer, except
/// that when the encoder puts a slice that is exactly one of the expected shared record sets
/// (same address, same length, hence the same bytes), the bytes encoded so far become a chunk
/// and the record set itself becomes the next one.
///
/// Gaps (fields written before their value is known) only ever point into the encoded fields,
/// never across a shared record set, so they are found in one owned chunk.
struct ChunkedBuf {
    /// Finished chunks: encoded fields (owned, so the size prefix can be filled in last) and
    /// shared record sets.
    done: Vec<Chunk>,
    /// Bytes in `done`.
    done_len: usize,
    current: BytesMut,
    /// The shared record sets not met yet, in encoding order.
    expected: std::vec::IntoIter<Bytes>,
    next: Option<Bytes>,
    /// Set when the encoder asked for something this buffer cannot give (a broker bug); the
    /// encoding then fails instead of producing a wrong frame.
    broken: bool,
    /// Handed out instead of panicking when `broken` is set.
    scratch: Vec<u8>,
}

enum Chunk {
    Owned(BytesMut),
    Shared(Bytes),
}

impl ChunkedBuf {
    fn new(current: BytesMut, expected: Vec<Bytes>) -> Self {
        let mut expected = expected.into_iter();
        let next = expected.next();
        ChunkedBuf {
            done: Vec::new(),
            done_len: 0,
            current,
            expected,
            next,
            broken: false,
            scratch: Vec::new(),
        }
    }

    fn finish(mut self) -> Result<ResponseFrame, EncodeError> {
        if self.broken || self.next.is_some() {
            return Err(EncodeError(
                "a fetch response's record sets were not encoded as expected".to_string(),
            ));
        }
        let total = self.done_len + self.current.len();
        let size = i32::try_from(total - 4).map_err(|e| EncodeError(e.to_string()))?;
        let current = std::mem::take(&mut self.current);
        self.done.push(Chunk::Owned(current));
        let mut chunks = Vec::with_capacity(self.done.len());
        let mut prefix_written = false;
        for chunk in self.done {
            match chunk {
                Chunk::Owned(mut owned) => {
                    if !prefix_written {
                        // The first chunk holds the size prefix (4 bytes put first).
                        let Some(prefix) = owned.get_mut(0..4) else {
                            return Err(EncodeError("response frame without its size".into()));
                        };
                        prefix.copy_from_slice(&size.to_be_bytes());
                        prefix_written = true;
                    }
                    chunks.push(owned.freeze());
                }
                Chunk::Shared(shared) => chunks.push(shared),
            }
        }
        Ok(ResponseFrame::new(chunks))
    }

    /// Ends the current owned chunk and appends `shared` after it.
    fn push_shared(&mut self, shared: Bytes) {
        let current = self.current.split();
        self.done_len += current.len() + shared.len();
        self.done.push(Chunk::Owned(current));
        self.done.push(Chunk::Shared(shared));
        self.next = self.expected.next();
    }
}

// The one `unsafe` in Strom: `BufMut` is an unsafe trait, and the encoder kafka-protocol generates
// writes through it.
// SAFETY: every method delegates to `current`, a `BytesMut`, whose implementation upholds the
// trait's contract; `put_slice` only adds the choice of appending a chunk instead.
#[allow(unsafe_code)]
unsafe impl BufMut for ChunkedBuf {
    fn remaining_mut(&self) -> usize {
        self.current.remaining_mut()
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        // SAFETY: forwarded with the caller's guarantee that `cnt` bytes were initialised.
        unsafe { self.current.advance_mut(cnt) }
    }

    fn chunk_mut(&mut self) -> &mut bytes::buf::UninitSlice {
        self.current.chunk_mut()
    }

    fn put_slice(&mut self, src: &[u8]) {
        if let Some(next) = &self.next {
            if next.as_ptr() == src.as_ptr() && next.len() == src.len() {
                let shared = next.clone();
                self.push_shared(shared);
                return;
            }
        }
        self.current.put_slice(src);
    }
}

impl ByteBufMut for ChunkedBuf {
    fn offset(&self) -> usize {
        self.done_len + self.current.len()
    }

    fn seek(&mut self, offset: usize) {
        match offset.checked_sub(self.done_len) {
            Some(local) => self.current.resize(local, 0),
            None => self.broken = true,
        }
    }

    fn range(&mut self, r: Range<usize>) -> &mut [u8] {
        if let (Some(start), Some(end)) = (
            r.start.checked_sub(self.done_len),
            r.end.checked_sub(self.done_len),
        ) {
            if let Some(slice) = self.current.get_mut(start..end) {
                return slice;
            }
        }
        // A gap in an earlier owned chunk.
        let mut at = 0;
        let mut found = None;
        for (i, chunk) in self.done.iter().enumerate() {
            let len = match chunk {
                Chunk::Owned(owned) => owned.len(),
                Chunk::Shared(shared) => shared.len(),
            };
            if r.start >= at && r.end <= at + len {
                if let Chunk::Owned(_) = chunk {
                    found = Some((i, at));
                }
                break;
            }
            at += len;
        }
        if let Some((i, at)) = found {
            if let Some(Chunk::Owned(owned)) = self.done.get_mut(i) {
                if let Some(slice) = owned.get_mut(r.start - at..r.end - at) {
                    return slice;
                }
            }
        }
        self.broken = true;
        self.scratch.clear();
        self.scratch.resize(r.len(), 0);
        &mut self.scratch
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
        for version in 4..=16 {
            let whole = encode_response(42, version, &body).unwrap();
            let frame = encode_response_frame(42, version, &body).unwrap();
            assert_eq!(frame.len(), whole.len(), "v{version}");
            assert_eq!(frame.to_bytes(), whole, "v{version}");
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
            .filter(|c| c.len() >= SHARED_RECORDS_MIN)
            .collect();
        assert_eq!(shared.len(), 2);
        assert_eq!(shared[0].as_ptr(), big.as_ptr());
        // Fields, shared set, fields, shared set, fields.
        assert_eq!(frame.chunks().len(), 5);
    }

    #[test]
    fn responses_without_large_records_are_one_chunk() {
        let body = ResponseKind::Fetch(FetchResponse::default());
        let frame = encode_response_frame(3, 12, &body).unwrap();
        assert_eq!(frame.chunks().len(), 1);
        assert_eq!(frame.to_bytes(), encode_response(3, 12, &body).unwrap());
    }

    #[test]
    fn consuming_the_frame_as_a_buf_yields_its_bytes() {
        let body = fetch(&[Some(records(70_000, 7)), Some(records(20_000, 8))]);
        let whole = encode_response(9, 11, &body).unwrap();
        let mut frame = encode_response_frame(9, 11, &body).unwrap();
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
        assert!(frame.is_empty());
    }
}
