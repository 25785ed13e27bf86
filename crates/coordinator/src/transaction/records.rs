//! The records of `__transaction_state` in Kafka's binary layout, so that Kafka's tools (and a
//! Kafka broker) can read the partition.
//!
//! Key: `int16` version 0, then `TransactionLogKey` = transactional id `string`.
//!
//! Value: `int16` version, then `TransactionLogValue`:
//! - v0: producer id `int64`, producer epoch `int16`, transaction timeout `int32`, status `int8`
//!   ([`TxnState::id`]), partitions (nullable `int32`-counted array of topic `string` +
//!   `int32`-counted partition ids), last update timestamp `int64`, start timestamp `int64`;
//! - v1: the same fields in the flexible encoding (compact strings and arrays, tagged fields;
//!   the tagged previous/next producer ids and client transaction version of KIP-890 are
//!   skipped, as Strom implements transaction version 1 only).
//!
//! Strom writes v0 (Kafka's value for transaction version 1 clients). The partitions are null
//! when the state is `Empty`, as Kafka writes them. A null value (tombstone) means the
//! transactional id expired.

use std::collections::BTreeSet;

use bytes::{BufMut, Bytes, BytesMut};

use super::state::TxnState;
use crate::records::{len_i32, put_string, Reader, RecordError};

/// Key version of `TransactionLogKey`.
pub const TXN_LOG_KEY_VERSION: i16 = 0;
/// Value version of `TransactionLogValue` written by Strom.
pub const TXN_LOG_VALUE_VERSION: i16 = 0;

/// A `__transaction_state` record that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxnRecordError {
    #[error(transparent)]
    Decode(#[from] RecordError),
    #[error("unknown TransactionLogKey version {0}")]
    UnknownKeyVersion(i16),
    #[error("unknown TransactionLogValue version {0}")]
    UnknownValueVersion(i16),
    #[error("unknown transaction status {0}")]
    UnknownStatus(i8),
}

/// Encodes the key of `transactional_id`'s record.
pub fn encode_key(transactional_id: &str) -> Bytes {
    let mut w = BytesMut::with_capacity(4 + transactional_id.len());
    w.put_i16(TXN_LOG_KEY_VERSION);
    put_string(&mut w, transactional_id);
    w.freeze()
}

/// Decodes a key into its transactional id.
pub fn decode_key(bytes: &[u8]) -> Result<String, TxnRecordError> {
    let mut r = Reader::new(bytes);
    match r.i16()? {
        TXN_LOG_KEY_VERSION => Ok(r.string()?),
        version => Err(TxnRecordError::UnknownKeyVersion(version)),
    }
}

/// The value of a transactional id's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnLogValue {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub txn_timeout_ms: i32,
    pub state: TxnState,
    /// The transaction's partitions (topic, partition), sorted.
    pub partitions: BTreeSet<(String, i32)>,
    pub last_update_timestamp_ms: i64,
    pub start_timestamp_ms: i64,
}

impl TxnLogValue {
    /// Encodes as version 0. The partitions of an `Empty` state are written as null.
    pub fn encode(&self) -> Bytes {
        let mut w = BytesMut::new();
        w.put_i16(TXN_LOG_VALUE_VERSION);
        w.put_i64(self.producer_id);
        w.put_i16(self.producer_epoch);
        w.put_i32(self.txn_timeout_ms);
        w.put_i8(self.state.id());
        if self.state == TxnState::Empty {
            w.put_i32(-1);
        } else {
            let topics = group_by_topic(&self.partitions);
            w.put_i32(len_i32(topics.len()));
            for (topic, partitions) in topics {
                put_string(&mut w, topic);
                w.put_i32(len_i32(partitions.len()));
                for p in partitions {
                    w.put_i32(p);
                }
            }
        }
        w.put_i64(self.last_update_timestamp_ms);
        w.put_i64(self.start_timestamp_ms);
        w.freeze()
    }

    /// Decodes value versions 0 and 1.
    pub fn decode(bytes: &[u8]) -> Result<TxnLogValue, TxnRecordError> {
        let mut r = Reader::new(bytes);
        let version = r.i16()?;
        let flexible = match version {
            0 => false,
            1 => true,
            _ => return Err(TxnRecordError::UnknownValueVersion(version)),
        };
        let producer_id = r.i64()?;
        let producer_epoch = r.i16()?;
        let txn_timeout_ms = r.i32()?;
        let status = r.array::<1>()?[0] as i8;
        let state = TxnState::from_id(status).ok_or(TxnRecordError::UnknownStatus(status))?;
        let topic_count = if flexible {
            match r.uvarint()? {
                0 => None,
                n => Some(n as usize - 1),
            }
        } else {
            match r.i32()? {
                -1 => None,
                n if n < 0 => return Err(RecordError::InvalidLength(n.into()).into()),
                n => Some(n as usize),
            }
        };
        let mut partitions = BTreeSet::new();
        for _ in 0..topic_count.unwrap_or(0) {
            let topic = if flexible {
                r.compact_string()?
            } else {
                r.string()?
            };
            let count = if flexible {
                r.compact_array_len()?
            } else {
                r.array_len()?
            };
            if count > r.remaining() / 4 {
                return Err(RecordError::Truncated {
                    at: bytes.len() - r.remaining(),
                    needed: count.saturating_mul(4),
                }
                .into());
            }
            for _ in 0..count {
                partitions.insert((topic.clone(), r.i32()?));
            }
            if flexible {
                r.skip_tagged_fields()?;
            }
        }
        let last_update_timestamp_ms = r.i64()?;
        let start_timestamp_ms = r.i64()?;
        if flexible {
            r.skip_tagged_fields()?;
        }
        Ok(TxnLogValue {
            producer_id,
            producer_epoch,
            txn_timeout_ms,
            state,
            partitions,
            last_update_timestamp_ms,
            start_timestamp_ms,
        })
    }
}

/// The partitions grouped by topic, in order.
pub(crate) fn group_by_topic(partitions: &BTreeSet<(String, i32)>) -> Vec<(&str, Vec<i32>)> {
    let mut topics: Vec<(&str, Vec<i32>)> = Vec::new();
    for (topic, partition) in partitions {
        match topics.last_mut() {
            Some((last, ids)) if *last == topic.as_str() => ids.push(*partition),
            _ => topics.push((topic, vec![*partition])),
        }
    }
    topics
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value(state: TxnState, partitions: &[(&str, i32)]) -> TxnLogValue {
        TxnLogValue {
            producer_id: 7,
            producer_epoch: 2,
            txn_timeout_ms: 60_000,
            state,
            partitions: partitions
                .iter()
                .map(|(t, p)| (t.to_string(), *p))
                .collect(),
            last_update_timestamp_ms: 1_000,
            start_timestamp_ms: 900,
        }
    }

    #[test]
    fn key_bytes() {
        let key = encode_key("tx");
        assert_eq!(&key[..], &[0, 0, 0, 2, b't', b'x'][..]);
        assert_eq!(decode_key(&key), Ok("tx".to_string()));
        assert_eq!(
            decode_key(&[0, 1, 0, 0]),
            Err(TxnRecordError::UnknownKeyVersion(1))
        );
        assert!(decode_key(&[0, 0, 0, 5, b'a']).is_err());
    }

    #[test]
    fn value_v0_bytes() {
        let v = value(TxnState::Ongoing, &[("a", 1), ("a", 0), ("b", 3)]);
        let mut expected: Vec<u8> = vec![0, 0]; // version
        expected.extend_from_slice(&7i64.to_be_bytes());
        expected.extend_from_slice(&2i16.to_be_bytes());
        expected.extend_from_slice(&60_000i32.to_be_bytes());
        expected.push(1); // Ongoing
        expected.extend_from_slice(&[0, 0, 0, 2]); // two topics
        expected.extend_from_slice(&[0, 1, b'a', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1]);
        expected.extend_from_slice(&[0, 1, b'b', 0, 0, 0, 1, 0, 0, 0, 3]);
        expected.extend_from_slice(&1_000i64.to_be_bytes());
        expected.extend_from_slice(&900i64.to_be_bytes());
        assert_eq!(&v.encode()[..], &expected[..]);
        assert_eq!(TxnLogValue::decode(&expected), Ok(v));
    }

    #[test]
    fn empty_state_writes_null_partitions() {
        let v = value(TxnState::Empty, &[]);
        let bytes = v.encode();
        assert_eq!(&bytes[17..21], &[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(TxnLogValue::decode(&bytes), Ok(v));
        // A completed transaction has an empty (not null) array.
        let v = value(TxnState::CompleteCommit, &[]);
        assert_eq!(&v.encode()[17..21], &[0, 0, 0, 0]);
        assert_eq!(TxnLogValue::decode(&v.encode()), Ok(v));
    }

    #[test]
    fn value_v1_flexible() {
        let mut v1: Vec<u8> = vec![0, 1];
        v1.extend_from_slice(&7i64.to_be_bytes());
        v1.extend_from_slice(&2i16.to_be_bytes());
        v1.extend_from_slice(&60_000i32.to_be_bytes());
        v1.push(3); // PrepareAbort
        v1.extend_from_slice(&[2, 2, b'a', 3, 0, 0, 0, 4, 0, 0, 0, 5, 0]); // [a: 4, 5]
        v1.extend_from_slice(&1_000i64.to_be_bytes());
        v1.extend_from_slice(&900i64.to_be_bytes());
        // Tagged fields: PreviousProducerId (tag 0) and ClientTransactionVersion (tag 2).
        v1.extend_from_slice(&[2, 0, 8]);
        v1.extend_from_slice(&5i64.to_be_bytes());
        v1.extend_from_slice(&[2, 2, 0, 1]);
        assert_eq!(
            TxnLogValue::decode(&v1),
            Ok(value(TxnState::PrepareAbort, &[("a", 4), ("a", 5)]))
        );
    }

    #[test]
    fn bad_values_are_errors() {
        assert_eq!(
            TxnLogValue::decode(&[0, 2]),
            Err(TxnRecordError::UnknownValueVersion(2))
        );
        let mut bad_status = value(TxnState::Empty, &[]).encode().to_vec();
        bad_status[16] = 9;
        assert_eq!(
            TxnLogValue::decode(&bad_status),
            Err(TxnRecordError::UnknownStatus(9))
        );
        let bytes = value(TxnState::Ongoing, &[("t", 1), ("u", 2)]).encode();
        for cut in 0..bytes.len() {
            assert!(TxnLogValue::decode(&bytes[..cut]).is_err());
        }
        // A huge partition count does not allocate.
        let mut huge = value(TxnState::Ongoing, &[("t", 1)]).encode().to_vec();
        huge[24..28].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(TxnLogValue::decode(&huge).is_err());
    }

    fn state() -> impl Strategy<Value = TxnState> {
        (0i8..8).prop_map(|id| TxnState::from_id(id).expect("valid id"))
    }

    proptest! {
        #[test]
        fn values_round_trip(
            producer_id in any::<i64>(),
            producer_epoch in any::<i16>(),
            txn_timeout_ms in any::<i32>(),
            state in state(),
            partitions in proptest::collection::btree_set(("\\PC{0,8}", any::<i32>()), 0..6),
            last in any::<i64>(),
            start in any::<i64>(),
        ) {
            let v = TxnLogValue {
                producer_id,
                producer_epoch,
                txn_timeout_ms,
                state,
                partitions: if state == TxnState::Empty { BTreeSet::new() } else { partitions },
                last_update_timestamp_ms: last,
                start_timestamp_ms: start,
            };
            prop_assert_eq!(TxnLogValue::decode(&v.encode()), Ok(v));
        }

        #[test]
        fn decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_key(&bytes);
            let _ = TxnLogValue::decode(&bytes);
            let mut v1 = vec![0, 1];
            v1.extend_from_slice(&bytes);
            let _ = TxnLogValue::decode(&v1);
        }
    }
}
