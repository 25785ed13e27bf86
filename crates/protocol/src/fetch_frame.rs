//! A Fetch response whose record sets may stay in the segment files they were read from: the
//! frame then holds [`FileRange`]s that the connection sends with `sendfile`, so a consumer's
//! bytes go from the page cache to the socket without passing through the broker's memory.
//!
//! kafka-protocol's generated encoder needs every record set in memory, so the Fetch response
//! is encoded here by hand, field by field as Kafka's FetchResponse schema lists them (v4 to
//! v18), with the nested structs that never hold records (aborted transactions, tagged fields)
//! still encoded by kafka-protocol. Tests check the bytes against kafka-protocol's own encoding
//! at every version.

use std::fs::File;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::{FetchResponse, ResponseHeader};
use kafka_protocol::protocol::{Encodable, HeaderVersion};

use crate::response::{Chunk, EncodeError, ResponseFrame, SHARED_RECORDS_MIN};

/// Bytes of a segment file, to be sent as they are on disk.
#[derive(Debug, Clone)]
pub struct FileRange {
    pub file: Arc<File>,
    pub position: u64,
    pub len: usize,
}

/// A partition's record set as the fetch read it: in memory, in files, or both, in order.
#[derive(Debug, Clone, Default)]
pub struct RecordParts {
    pub parts: Vec<RecordPart>,
}

/// One piece of a record set.
#[derive(Debug, Clone)]
pub enum RecordPart {
    Memory(Bytes),
    File(FileRange),
}

impl RecordParts {
    /// The record set's length in bytes.
    pub fn len(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                RecordPart::Memory(b) => b.len(),
                RecordPart::File(f) => f.len,
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Encodes `response` (size prefix, header and body) at `version`. `records` gives, for the
/// partitions in the order the response lists them (topic by topic), the record sets that
/// replace their `records` field; `None`, or an index past its end, keeps the field.
pub fn encode_fetch_frame(
    correlation_id: i32,
    version: i16,
    response: &FetchResponse,
    records: &[Option<RecordParts>],
) -> Result<ResponseFrame, EncodeError> {
    if !(4..=18).contains(&version) {
        return Err(EncodeError(format!("Fetch v{version} is not supported")));
    }
    let flexible = version >= 12;
    let mut out = Frame::default();
    out.buf.put_i32(0);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let header_version = FetchResponse::header_version(version);
    encode_struct(&header, &mut out.buf, header_version)?;

    out.buf.put_i32(response.throttle_time_ms);
    if version >= 7 {
        out.buf.put_i16(response.error_code);
        out.buf.put_i32(response.session_id);
    } else if response.session_id != 0 {
        return Err(EncodeError("a session id needs Fetch v7".into()));
    }
    put_array_len(&mut out.buf, flexible, response.responses.len())?;
    let mut index = 0;
    for topic in &response.responses {
        if version <= 12 {
            put_string(&mut out.buf, flexible, topic.topic.as_str())?;
        }
        if version >= 13 {
            out.buf.put_slice(topic.topic_id.as_bytes());
        }
        put_array_len(&mut out.buf, flexible, topic.partitions.len())?;
        for partition in &topic.partitions {
            let parts = records.get(index).and_then(Option::as_ref);
            index += 1;
            encode_partition(&mut out, version, partition, parts)?;
        }
        if flexible {
            no_unknown_tags(topic.unknown_tagged_fields.is_empty())?;
            put_varint(&mut out.buf, 0);
        }
    }
    if flexible {
        no_unknown_tags(response.unknown_tagged_fields.is_empty())?;
        if version >= 16 && !response.node_endpoints.is_empty() {
            put_varint(&mut out.buf, 1);
            put_varint(&mut out.buf, 0);
            let mut endpoints = BytesMut::new();
            put_array_len(&mut endpoints, true, response.node_endpoints.len())?;
            for endpoint in &response.node_endpoints {
                encode_struct(endpoint, &mut endpoints, version)?;
            }
            put_varint(&mut out.buf, len_u32(endpoints.len())?);
            out.buf.put_slice(&endpoints);
        } else {
            put_varint(&mut out.buf, 0);
        }
    }
    out.finish()
}

fn encode_partition(
    out: &mut Frame,
    version: i16,
    p: &PartitionData,
    parts: Option<&RecordParts>,
) -> Result<(), EncodeError> {
    let flexible = version >= 12;
    let buf = &mut out.buf;
    buf.put_i32(p.partition_index);
    buf.put_i16(p.error_code);
    buf.put_i64(p.high_watermark);
    buf.put_i64(p.last_stable_offset);
    if version >= 5 {
        buf.put_i64(p.log_start_offset);
    }
    match &p.aborted_transactions {
        None => put_null_array(buf, flexible),
        Some(aborted) => {
            put_array_len(buf, flexible, aborted.len())?;
            for txn in aborted {
                encode_struct(txn, buf, version)?;
            }
        }
    }
    if version >= 11 {
        buf.put_i32(p.preferred_read_replica.0);
    } else if p.preferred_read_replica.0 != -1 {
        return Err(EncodeError(
            "a preferred read replica needs Fetch v11".into(),
        ));
    }
    match (parts, &p.records) {
        (Some(parts), _) => {
            put_bytes_len(&mut out.buf, flexible, Some(parts.len()))?;
            for part in &parts.parts {
                match part {
                    RecordPart::Memory(bytes) => out.push_bytes(bytes),
                    RecordPart::File(range) => out.push_chunk(Chunk::File(range.clone())),
                }
            }
        }
        (None, None) => put_bytes_len(&mut out.buf, flexible, None)?,
        (None, Some(bytes)) => {
            put_bytes_len(&mut out.buf, flexible, Some(bytes.len()))?;
            out.push_bytes(bytes);
        }
    }
    if flexible {
        no_unknown_tags(p.unknown_tagged_fields.is_empty())?;
        let buf = &mut out.buf;
        let diverging = p.diverging_epoch != Default::default();
        let leader = p.current_leader != Default::default();
        let snapshot = p.snapshot_id != Default::default();
        put_varint(
            buf,
            u32::from(diverging) + u32::from(leader) + u32::from(snapshot),
        );
        if diverging {
            put_tagged(buf, 0, &p.diverging_epoch, version)?;
        }
        if leader {
            put_tagged(buf, 1, &p.current_leader, version)?;
        }
        if snapshot {
            put_tagged(buf, 2, &p.snapshot_id, version)?;
        }
    }
    Ok(())
}

/// The frame being built: owned field bytes in `buf`, cut into a chunk whenever a shared
/// record set or a file range comes between them.
#[derive(Default)]
struct Frame {
    /// The first part, which starts with the size prefix; kept mutable until the size is known.
    head: Option<BytesMut>,
    /// The parts after `head`.
    chunks: Vec<Chunk>,
    buf: BytesMut,
}

impl Frame {
    /// Appends a record set held in memory: small ones are copied among the fields, large ones
    /// become a chunk of their own.
    fn push_bytes(&mut self, bytes: &Bytes) {
        if bytes.len() >= SHARED_RECORDS_MIN {
            self.push_chunk(Chunk::Bytes(bytes.clone()));
        } else {
            self.buf.put_slice(bytes);
        }
    }

    fn push_chunk(&mut self, chunk: Chunk) {
        let fields = self.buf.split();
        match self.head {
            None => self.head = Some(fields),
            Some(_) => self.chunks.push(Chunk::Bytes(fields.freeze())),
        }
        self.chunks.push(chunk);
    }

    /// Fills in the size prefix and puts the parts in order.
    fn finish(mut self) -> Result<ResponseFrame, EncodeError> {
        let tail = self.buf.split();
        let mut head = match self.head.take() {
            Some(head) => {
                self.chunks.push(Chunk::Bytes(tail.freeze()));
                head
            }
            None => tail,
        };
        let total = head.len() + self.chunks.iter().map(Chunk::len).sum::<usize>();
        let size = total
            .checked_sub(4)
            .and_then(|size| i32::try_from(size).ok())
            .ok_or_else(|| EncodeError(format!("a response frame of {total} bytes")))?;
        let Some(prefix) = head.get_mut(0..4) else {
            return Err(EncodeError("response frame without its size".into()));
        };
        prefix.copy_from_slice(&size.to_be_bytes());
        let mut chunks = Vec::with_capacity(self.chunks.len() + 1);
        chunks.push(Chunk::Bytes(head.freeze()));
        chunks.append(&mut self.chunks);
        Ok(ResponseFrame::new(chunks))
    }
}

fn encode_struct<T: Encodable>(
    value: &T,
    buf: &mut BytesMut,
    version: i16,
) -> Result<(), EncodeError> {
    value
        .encode(buf, version)
        .map_err(|e| EncodeError(e.to_string()))
}

fn put_tagged<T: Encodable>(
    buf: &mut BytesMut,
    tag: u32,
    value: &T,
    version: i16,
) -> Result<(), EncodeError> {
    let size = value
        .compute_size(version)
        .map_err(|e| EncodeError(e.to_string()))?;
    put_varint(buf, tag);
    put_varint(buf, len_u32(size)?);
    encode_struct(value, buf, version)
}

fn no_unknown_tags(empty: bool) -> Result<(), EncodeError> {
    if empty {
        Ok(())
    } else {
        Err(EncodeError(
            "unknown tagged fields in a Fetch response".into(),
        ))
    }
}

fn len_u32(len: usize) -> Result<u32, EncodeError> {
    u32::try_from(len).map_err(|_| EncodeError(format!("a field of {len} bytes is too long")))
}

fn len_i32(len: usize) -> Result<i32, EncodeError> {
    i32::try_from(len).map_err(|_| EncodeError(format!("a field of {len} bytes is too long")))
}

fn put_varint(buf: &mut BytesMut, mut value: u32) {
    while value >= 0x80 {
        buf.put_u8((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

fn put_array_len(buf: &mut BytesMut, flexible: bool, len: usize) -> Result<(), EncodeError> {
    if flexible {
        put_varint(buf, len_u32(len)?.saturating_add(1));
    } else {
        buf.put_i32(len_i32(len)?);
    }
    Ok(())
}

fn put_null_array(buf: &mut BytesMut, flexible: bool) {
    if flexible {
        put_varint(buf, 0);
    } else {
        buf.put_i32(-1);
    }
}

fn put_bytes_len(
    buf: &mut BytesMut,
    flexible: bool,
    len: Option<usize>,
) -> Result<(), EncodeError> {
    match (len, flexible) {
        (None, true) => put_varint(buf, 0),
        (None, false) => buf.put_i32(-1),
        (Some(len), true) => put_varint(buf, len_u32(len)?.saturating_add(1)),
        (Some(len), false) => buf.put_i32(len_i32(len)?),
    }
    Ok(())
}

fn put_string(buf: &mut BytesMut, flexible: bool, s: &str) -> Result<(), EncodeError> {
    if flexible {
        put_varint(buf, len_u32(s.len())?.saturating_add(1));
    } else {
        let len = i16::try_from(s.len()).map_err(|_| EncodeError("topic name too long".into()))?;
        buf.put_i16(len);
    }
    buf.put_slice(s.as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Write;

    use kafka_protocol::messages::fetch_response::{
        EpochEndOffset, FetchableTopicResponse, LeaderIdAndEpoch, NodeEndpoint,
    };
    use kafka_protocol::messages::{BrokerId, ResponseKind, TopicName};
    use kafka_protocol::protocol::StrBytes;

    use super::*;
    use crate::response::encode_response;

    fn data(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(7) ^ seed).collect()
    }

    /// A response whose partitions' records are `sets`, with tagged fields where versions have
    /// them.
    fn response(sets: &[Option<Vec<u8>>], version: i16) -> FetchResponse {
        let partitions = sets
            .iter()
            .enumerate()
            .map(|(i, set)| {
                let mut p = PartitionData::default()
                    .with_partition_index(i as i32)
                    .with_high_watermark(77)
                    .with_records(set.clone().map(Bytes::from));
                if version >= 12 && i == 1 {
                    p.diverging_epoch = EpochEndOffset::default().with_epoch(3).with_end_offset(9);
                    p.current_leader = LeaderIdAndEpoch::default()
                        .with_leader_id(BrokerId(2))
                        .with_leader_epoch(4);
                }
                if version >= 11 {
                    p.preferred_read_replica = BrokerId(-1);
                }
                p
            })
            .collect();
        let mut topic = FetchableTopicResponse::default().with_partitions(partitions);
        if version >= 13 {
            topic.topic_id = uuid::Uuid::from_u128(0x1234_5678_9abc_def0);
        } else {
            topic.topic = TopicName(StrBytes::from_static_str("orders"));
        }
        let mut response = FetchResponse::default().with_responses(vec![topic]);
        if version >= 7 {
            response.session_id = 5;
        }
        if version >= 16 {
            response.node_endpoints = vec![NodeEndpoint::default()
                .with_node_id(BrokerId(1))
                .with_host(StrBytes::from_static_str("localhost"))
                .with_port(9092)];
        }
        response
    }

    #[test]
    fn file_backed_records_encode_like_kafka_protocol_at_every_version() {
        let sets = [
            Some(data(40_000, 1)),
            Some(data(300, 2)),
            None,
            Some(data(20_000, 3)),
        ];
        // The first and last sets come from a file: one as two ranges, one mixed.
        let mut file = tempfile::tempfile().unwrap();
        let (a, b) = (sets[0].clone().unwrap(), sets[3].clone().unwrap());
        file.write_all(b"junk").unwrap();
        file.write_all(&a).unwrap();
        file.write_all(&b[..15_000]).unwrap();
        let file = Arc::new(file);
        let range = |position: u64, len: usize| {
            RecordPart::File(FileRange {
                file: Arc::clone(&file),
                position,
                len,
            })
        };
        let parts = vec![
            Some(RecordParts {
                parts: vec![range(4, 10_000), range(10_004, 30_000)],
            }),
            None,
            None,
            Some(RecordParts {
                parts: vec![
                    range(40_004, 15_000),
                    RecordPart::Memory(Bytes::copy_from_slice(&b[15_000..])),
                ],
            }),
        ];
        for version in 4..=18 {
            let body = response(&sets, version);
            let expected =
                encode_response(11, version, &ResponseKind::Fetch(body.clone())).unwrap();
            let frame = encode_fetch_frame(11, version, &body, &parts).unwrap();
            assert!(frame.has_files());
            assert_eq!(frame.len(), expected.len(), "v{version}");
            assert_eq!(frame.to_bytes().unwrap(), expected, "v{version}");
            // Without replacements the in-memory records are used.
            let frame = encode_fetch_frame(11, version, &body, &[]).unwrap();
            assert!(!frame.has_files());
            assert_eq!(frame.to_bytes().unwrap(), expected, "v{version}");
        }
    }

    #[test]
    fn versions_outside_the_schema_are_refused() {
        let body = FetchResponse::default();
        assert!(encode_fetch_frame(1, 3, &body, &[]).is_err());
        assert!(encode_fetch_frame(1, 19, &body, &[]).is_err());
    }
}
