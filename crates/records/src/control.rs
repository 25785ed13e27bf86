//! Control records: the end-transaction markers (COMMIT / ABORT) the transaction coordinator has
//! the partition leaders write when a transaction completes.
//!
//! A control batch has the control and transactional attribute bits set, the producer id and
//! epoch of the transaction, base sequence -1 and exactly one record whose
//! key is `version i16 (0)` + `type i16 (0 = ABORT, 1 = COMMIT)` and whose value is
//! `version i16 (0)` + `coordinator_epoch i32` (Kafka's `ControlRecordType` and
//! `EndTransactionMarker`). As in Kafka, a version newer than 0 is read by its known prefix;
//! negative versions and short fields are rejected. Bytes come from disk or the network: every
//! length is checked.

use crate::batch::RecordBatch;
use crate::builder::{BuildError, RecordBatchBuilder};
use crate::compression::Compression;

/// Version of the control record key and of the end-transaction marker value we write.
pub const CONTROL_RECORD_VERSION: i16 = 0;

/// The kind of an end-transaction marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlRecordType {
    Abort,
    Commit,
}

impl ControlRecordType {
    /// The type id stored in the key.
    pub fn id(self) -> i16 {
        match self {
            ControlRecordType::Abort => 0,
            ControlRecordType::Commit => 1,
        }
    }

    /// `None` for type ids other than ABORT (0) and COMMIT (1).
    pub fn from_id(id: i16) -> Option<Self> {
        match id {
            0 => Some(ControlRecordType::Abort),
            1 => Some(ControlRecordType::Commit),
            _ => None,
        }
    }
}

fn be_i16(b: &[u8], at: usize) -> Option<i16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(i16::from_be_bytes([s[0], s[1]]))
}

fn be_i32(b: &[u8], at: usize) -> Option<i32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Parses a control record key; `None` when it is short, has a negative version or is of a type
/// other than ABORT / COMMIT.
pub fn parse_control_key(key: &[u8]) -> Option<ControlRecordType> {
    let version = be_i16(key, 0)?;
    if version < 0 {
        return None;
    }
    ControlRecordType::from_id(be_i16(key, 2)?)
}

/// An end-transaction marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EndTxnMarker {
    pub kind: ControlRecordType,
    pub coordinator_epoch: i32,
}

impl EndTxnMarker {
    pub fn new(kind: ControlRecordType, coordinator_epoch: i32) -> Self {
        Self {
            kind,
            coordinator_epoch,
        }
    }

    /// The control record key: version 0 and the type id.
    pub fn encode_key(&self) -> [u8; 4] {
        let mut out = [0u8; 4];
        out[..2].copy_from_slice(&CONTROL_RECORD_VERSION.to_be_bytes());
        out[2..].copy_from_slice(&self.kind.id().to_be_bytes());
        out
    }

    /// The marker value: version 0 and the coordinator epoch.
    pub fn encode_value(&self) -> [u8; 6] {
        let mut out = [0u8; 6];
        out[..2].copy_from_slice(&CONTROL_RECORD_VERSION.to_be_bytes());
        out[2..].copy_from_slice(&self.coordinator_epoch.to_be_bytes());
        out
    }

    /// Decodes a marker from a control record's key and value.
    pub fn decode(key: &[u8], value: &[u8]) -> Option<EndTxnMarker> {
        let kind = parse_control_key(key)?;
        let version = be_i16(value, 0)?;
        if version < 0 {
            return None;
        }
        Some(EndTxnMarker {
            kind,
            coordinator_epoch: be_i32(value, 2)?,
        })
    }
}

/// Builds the control batch holding `marker` for the transaction of `(producer_id, producer_epoch)`.
/// Offsets and the leader epoch are assigned by the log on append.
pub fn build_marker_batch(
    producer_id: i64,
    producer_epoch: i16,
    marker: &EndTxnMarker,
    timestamp_ms: i64,
) -> Result<Vec<u8>, BuildError> {
    let mut builder = RecordBatchBuilder::new(Compression::None)
        .producer(producer_id, producer_epoch, -1)
        .transactional(true)
        .control(true);
    builder.append(
        timestamp_ms,
        Some(&marker.encode_key()),
        Some(&marker.encode_value()),
        &[],
    );
    builder.build()
}

/// Reads the marker of a control batch (`batch_bytes` starts with the batch header). `None` when
/// the batch is not a control batch, is compressed, or its first record is not a readable marker.
pub fn read_marker(batch_bytes: &[u8]) -> Option<EndTxnMarker> {
    let batch = RecordBatch::parse(batch_bytes).ok()?;
    if !batch.header().is_control() {
        return None;
    }
    let record = batch.uncompressed_records()?.next()?.ok()?;
    EndTxnMarker::decode(record.key?, record.value?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{compute_crc, BatchHeader};

    #[test]
    fn key_and_value_roundtrip() {
        for kind in [ControlRecordType::Abort, ControlRecordType::Commit] {
            let m = EndTxnMarker::new(kind, 17);
            assert_eq!(parse_control_key(&m.encode_key()), Some(kind));
            assert_eq!(
                EndTxnMarker::decode(&m.encode_key(), &m.encode_value()),
                Some(m)
            );
        }
        assert_eq!(
            EndTxnMarker::new(ControlRecordType::Commit, 5).encode_key(),
            [0, 0, 0, 1]
        );
        assert_eq!(
            EndTxnMarker::new(ControlRecordType::Abort, 5).encode_value(),
            [0, 0, 0, 0, 0, 5]
        );
    }

    #[test]
    fn bad_keys_and_values_are_refused() {
        assert_eq!(parse_control_key(&[]), None);
        assert_eq!(parse_control_key(&[0, 0, 0]), None);
        assert_eq!(parse_control_key(&[0, 0, 0, 2]), None); // unknown type
        assert_eq!(parse_control_key(&[0xff, 0xff, 0, 1]), None); // negative version
        assert_eq!(
            parse_control_key(&[0, 1, 0, 1, 9]),
            Some(ControlRecordType::Commit)
        ); // newer version: known prefix
        assert_eq!(EndTxnMarker::decode(&[0, 0, 0, 1], &[0, 0, 0, 0, 0]), None);
        assert_eq!(
            EndTxnMarker::decode(&[0, 0, 0, 1], &[0xff, 0xff, 0, 0, 0, 0]),
            None
        );
    }

    #[test]
    fn marker_batch_is_a_valid_control_batch() {
        let m = EndTxnMarker::new(ControlRecordType::Abort, 3);
        let bytes = build_marker_batch(42, 7, &m, 1_000).unwrap();
        let h = BatchHeader::parse(&bytes).unwrap();
        assert_eq!(h.total_len(), bytes.len());
        assert!(h.is_control() && h.is_transactional());
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (42, 7, -1)
        );
        assert_eq!((h.records_count, h.last_offset_delta), (1, 0));
        assert_eq!((h.base_timestamp, h.max_timestamp), (1_000, 1_000));
        assert_eq!(h.compression_codec(), 0);
        assert_eq!(h.crc, compute_crc(&bytes));
        assert_eq!(read_marker(&bytes), Some(m));
    }

    #[test]
    fn read_marker_refuses_data_batches_and_garbage() {
        let mut b = RecordBatchBuilder::new(Compression::None).producer(1, 0, 0);
        b.append(0, Some(&[0, 0, 0, 1]), Some(&[0, 0, 0, 0, 0, 1]), &[]);
        assert_eq!(read_marker(&b.build().unwrap()), None);
        let bytes =
            build_marker_batch(1, 0, &EndTxnMarker::new(ControlRecordType::Commit, 0), 0).unwrap();
        for cut in 0..bytes.len() {
            assert_eq!(read_marker(&bytes[..cut]), None);
        }
        let mut garbled = bytes.clone();
        if let Some(last) = garbled.last_mut() {
            *last = 0xff;
        }
        let _ = read_marker(&garbled); // must not panic
    }
}
