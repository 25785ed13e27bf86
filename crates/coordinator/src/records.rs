//! The records of `__consumer_offsets` in Kafka's binary layout, so that Kafka's tools (and a
//! Kafka broker) can read the partition.
//!
//! A record's key and value each start with an `int16` version. Keys:
//! - versions 0 and 1: `OffsetCommitKey` = group `string`, topic `string`, partition `int32`;
//! - version 2: `GroupMetadataKey` = group `string`;
//! - versions 3 to 8: KIP-848 consumer group records, see [`crate::consumer::records`];
//! - other versions belong to records Strom does not know yet (share groups, streams groups,
//!   transactions) and are skipped with a warning, as Kafka skips unknown keys.
//!
//! Values (`string` = `int16` length + UTF-8, nullable with length -1; `bytes` = `int32` length):
//! - `OffsetCommitValue` v0/v2: offset `int64`, metadata `string`, commit timestamp `int64`;
//!   v1 adds expire timestamp `int64`; v3 puts leader epoch `int32` after the offset; v4 is v3 in
//!   the flexible encoding (compact lengths, tagged fields). Strom writes v3, or v1 when the commit
//!   carried an explicit retention (OffsetCommit v2-4), as Kafka does.
//! - `GroupMetadataValue` v0: protocol type `string`, generation `int32`, protocol `string?`,
//!   leader `string?`, members `[member id, client id, client host, session timeout, subscription
//!   bytes, assignment bytes]`; v1 adds the member's rebalance timeout before the session timeout;
//!   v2 adds the current state timestamp `int64` after the leader; v3 adds the member's group
//!   instance id `string?` after the member id; v4 is v3 flexible. Strom writes v3.
//!
//! A tombstone (null value) deletes the key.

use bytes::{BufMut, Bytes, BytesMut};

/// A record that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record truncated: needed {needed} bytes at offset {at}")]
    Truncated { at: usize, needed: usize },
    #[error("invalid length {0}")]
    InvalidLength(i64),
    #[error("string is not UTF-8")]
    InvalidUtf8,
    #[error("unknown {kind} value version {version}")]
    UnknownValueVersion { kind: &'static str, version: i16 },
    #[error("varint too long")]
    InvalidVarint,
}

/// Key version of `OffsetCommitKey` written by Strom (Kafka writes 1).
pub const OFFSET_COMMIT_KEY_VERSION: i16 = 1;
/// Key version of `GroupMetadataKey`.
pub const GROUP_METADATA_KEY_VERSION: i16 = 2;
/// Value version of `OffsetCommitValue` written by Strom (without explicit retention).
pub const OFFSET_COMMIT_VALUE_VERSION: i16 = 3;
/// Value version of `GroupMetadataValue` written by Strom.
pub const GROUP_METADATA_VALUE_VERSION: i16 = 3;

/// The decoded key of a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKey {
    /// The committed offset of one partition for one group.
    OffsetCommit {
        group: String,
        topic: String,
        partition: i32,
    },
    /// The metadata of one group.
    GroupMetadata { group: String },
}

impl RecordKey {
    /// Decodes a key. `Ok(None)` is a key version Strom does not know (to be skipped).
    pub fn decode(bytes: &[u8]) -> Result<Option<RecordKey>, RecordError> {
        let mut r = Reader::new(bytes);
        let version = r.i16()?;
        match version {
            0 | 1 => {
                let group = r.string()?;
                let topic = r.string()?;
                let partition = r.i32()?;
                Ok(Some(RecordKey::OffsetCommit {
                    group,
                    topic,
                    partition,
                }))
            }
            2 => Ok(Some(RecordKey::GroupMetadata { group: r.string()? })),
            _ => Ok(None),
        }
    }

    /// Encodes the key in the version Strom writes.
    pub fn encode(&self) -> Bytes {
        let mut w = BytesMut::new();
        match self {
            RecordKey::OffsetCommit {
                group,
                topic,
                partition,
            } => {
                w.put_i16(OFFSET_COMMIT_KEY_VERSION);
                put_string(&mut w, group);
                put_string(&mut w, topic);
                w.put_i32(*partition);
            }
            RecordKey::GroupMetadata { group } => {
                w.put_i16(GROUP_METADATA_KEY_VERSION);
                put_string(&mut w, group);
            }
        }
        w.freeze()
    }

    /// The group the record belongs to.
    pub fn group(&self) -> &str {
        match self {
            RecordKey::OffsetCommit { group, .. } | RecordKey::GroupMetadata { group } => group,
        }
    }
}

/// The value of an `OffsetCommitKey`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitValue {
    pub offset: i64,
    /// -1 when unknown (value versions before 3).
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
    /// Only in value version 1: an explicit expiration time from OffsetCommit v2-4's retention.
    pub expire_timestamp: Option<i64>,
}

impl OffsetCommitValue {
    /// Encodes as version 3, or version 1 when `expire_timestamp` is set (v3 cannot carry it;
    /// the leader epoch is then lost, as in Kafka).
    pub fn encode(&self) -> Bytes {
        let mut w = BytesMut::new();
        match self.expire_timestamp {
            Some(expire) => {
                w.put_i16(1);
                w.put_i64(self.offset);
                put_string(&mut w, &self.metadata);
                w.put_i64(self.commit_timestamp);
                w.put_i64(expire);
            }
            None => {
                w.put_i16(OFFSET_COMMIT_VALUE_VERSION);
                w.put_i64(self.offset);
                w.put_i32(self.leader_epoch);
                put_string(&mut w, &self.metadata);
                w.put_i64(self.commit_timestamp);
            }
        }
        w.freeze()
    }

    /// Decodes value versions 0 to 4.
    pub fn decode(bytes: &[u8]) -> Result<OffsetCommitValue, RecordError> {
        let mut r = Reader::new(bytes);
        let version = r.i16()?;
        let flexible = version >= 4;
        match version {
            0..=4 => {
                let offset = r.i64()?;
                let leader_epoch = if version >= 3 { r.i32()? } else { -1 };
                let metadata = if flexible {
                    r.compact_string()?
                } else {
                    r.string()?
                };
                let commit_timestamp = r.i64()?;
                let expire_timestamp = if version == 1 { Some(r.i64()?) } else { None };
                if flexible {
                    r.skip_tagged_fields()?;
                }
                Ok(OffsetCommitValue {
                    offset,
                    leader_epoch,
                    metadata,
                    commit_timestamp,
                    expire_timestamp,
                })
            }
            _ => Err(RecordError::UnknownValueVersion {
                kind: "OffsetCommitValue",
                version,
            }),
        }
    }
}

/// One member in a `GroupMetadataValue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberMetadataValue {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout: i32,
    pub session_timeout: i32,
    /// The member's metadata for the group's selected protocol.
    pub subscription: Bytes,
    pub assignment: Bytes,
}

/// The value of a `GroupMetadataKey`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMetadataValue {
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    /// -1 when unknown (value versions before 2).
    pub current_state_timestamp: i64,
    pub members: Vec<MemberMetadataValue>,
}

impl GroupMetadataValue {
    /// Encodes as version 3.
    pub fn encode(&self) -> Bytes {
        let mut w = BytesMut::new();
        w.put_i16(GROUP_METADATA_VALUE_VERSION);
        put_string(&mut w, &self.protocol_type);
        w.put_i32(self.generation);
        put_nullable_string(&mut w, self.protocol.as_deref());
        put_nullable_string(&mut w, self.leader.as_deref());
        w.put_i64(self.current_state_timestamp);
        w.put_i32(len_i32(self.members.len()));
        for m in &self.members {
            put_string(&mut w, &m.member_id);
            put_nullable_string(&mut w, m.group_instance_id.as_deref());
            put_string(&mut w, &m.client_id);
            put_string(&mut w, &m.client_host);
            w.put_i32(m.rebalance_timeout);
            w.put_i32(m.session_timeout);
            w.put_i32(len_i32(m.subscription.len()));
            w.put_slice(&m.subscription);
            w.put_i32(len_i32(m.assignment.len()));
            w.put_slice(&m.assignment);
        }
        w.freeze()
    }

    /// Decodes value versions 0 to 4.
    pub fn decode(bytes: &[u8]) -> Result<GroupMetadataValue, RecordError> {
        let mut r = Reader::new(bytes);
        let version = r.i16()?;
        if !(0..=4).contains(&version) {
            return Err(RecordError::UnknownValueVersion {
                kind: "GroupMetadataValue",
                version,
            });
        }
        let flexible = version >= 4;
        let string = |r: &mut Reader<'_>| {
            if flexible {
                r.compact_string()
            } else {
                r.string()
            }
        };
        let nullable = |r: &mut Reader<'_>| {
            if flexible {
                r.compact_nullable_string()
            } else {
                r.nullable_string()
            }
        };
        let bytes_field = |r: &mut Reader<'_>| {
            if flexible {
                r.compact_bytes()
            } else {
                r.bytes()
            }
        };
        let protocol_type = string(&mut r)?;
        let generation = r.i32()?;
        let protocol = nullable(&mut r)?;
        let leader = nullable(&mut r)?;
        let current_state_timestamp = if version >= 2 { r.i64()? } else { -1 };
        let count = if flexible {
            r.compact_array_len()?
        } else {
            r.array_len()?
        };
        let mut members = Vec::with_capacity(count.min(r.remaining()));
        for _ in 0..count {
            let member_id = string(&mut r)?;
            let group_instance_id = if version >= 3 {
                nullable(&mut r)?
            } else {
                None
            };
            let client_id = string(&mut r)?;
            let client_host = string(&mut r)?;
            let session_timeout_or_rebalance = r.i32()?;
            let (rebalance_timeout, session_timeout) = if version >= 1 {
                (session_timeout_or_rebalance, r.i32()?)
            } else {
                // Version 0 has no rebalance timeout: Kafka uses the session timeout.
                (session_timeout_or_rebalance, session_timeout_or_rebalance)
            };
            let subscription = bytes_field(&mut r)?;
            let assignment = bytes_field(&mut r)?;
            if flexible {
                r.skip_tagged_fields()?;
            }
            members.push(MemberMetadataValue {
                member_id,
                group_instance_id,
                client_id,
                client_host,
                rebalance_timeout,
                session_timeout,
                subscription,
                assignment,
            });
        }
        if flexible {
            r.skip_tagged_fields()?;
        }
        Ok(GroupMetadataValue {
            protocol_type,
            generation,
            protocol,
            leader,
            current_state_timestamp,
            members,
        })
    }
}

pub(crate) fn len_i32(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}

pub(crate) fn put_string(w: &mut BytesMut, s: &str) {
    // Kafka strings are at most i16::MAX bytes; longer ones cannot be produced by a client
    // (request strings have the same limit), so truncation never happens in practice.
    let bytes = &s.as_bytes()[..s.len().min(i16::MAX as usize)];
    w.put_i16(bytes.len() as i16);
    w.put_slice(bytes);
}

pub(crate) fn put_nullable_string(w: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_string(w, s),
        None => w.put_i16(-1),
    }
}

/// A bounds-checked reader over a record's bytes.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if self.remaining() < n {
            return Err(RecordError::Truncated {
                at: self.pos,
                needed: n,
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], RecordError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn i16(&mut self) -> Result<i16, RecordError> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, RecordError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, RecordError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    pub(crate) fn uvarint(&mut self) -> Result<u32, RecordError> {
        let mut value = 0u32;
        for i in 0..5 {
            let b = self.array::<1>()?[0];
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(RecordError::InvalidVarint)
    }

    pub(crate) fn utf8(&mut self, len: usize) -> Result<String, RecordError> {
        let raw = self.take(len)?;
        String::from_utf8(raw.to_vec()).map_err(|_| RecordError::InvalidUtf8)
    }

    pub(crate) fn nullable_string(&mut self) -> Result<Option<String>, RecordError> {
        let len = self.i16()?;
        match len {
            -1 => Ok(None),
            n if n < 0 => Err(RecordError::InvalidLength(n.into())),
            n => self.utf8(n as usize).map(Some),
        }
    }

    pub(crate) fn string(&mut self) -> Result<String, RecordError> {
        self.nullable_string()?
            .ok_or(RecordError::InvalidLength(-1))
    }

    pub(crate) fn compact_nullable_string(&mut self) -> Result<Option<String>, RecordError> {
        match self.uvarint()? {
            0 => Ok(None),
            n => self.utf8(n as usize - 1).map(Some),
        }
    }

    pub(crate) fn compact_string(&mut self) -> Result<String, RecordError> {
        self.compact_nullable_string()?
            .ok_or(RecordError::InvalidLength(-1))
    }

    pub(crate) fn bytes(&mut self) -> Result<Bytes, RecordError> {
        let len = self.i32()?;
        if len < 0 {
            return Err(RecordError::InvalidLength(len.into()));
        }
        Ok(Bytes::copy_from_slice(self.take(len as usize)?))
    }

    pub(crate) fn compact_bytes(&mut self) -> Result<Bytes, RecordError> {
        match self.uvarint()? {
            0 => Err(RecordError::InvalidLength(-1)),
            n => Ok(Bytes::copy_from_slice(self.take(n as usize - 1)?)),
        }
    }

    pub(crate) fn array_len(&mut self) -> Result<usize, RecordError> {
        let len = self.i32()?;
        if len < 0 {
            return Err(RecordError::InvalidLength(len.into()));
        }
        Ok(len as usize)
    }

    pub(crate) fn compact_array_len(&mut self) -> Result<usize, RecordError> {
        match self.uvarint()? {
            0 => Err(RecordError::InvalidLength(-1)),
            n => Ok(n as usize - 1),
        }
    }

    pub(crate) fn skip_tagged_fields(&mut self) -> Result<(), RecordError> {
        let count = self.uvarint()?;
        for _ in 0..count {
            let _tag = self.uvarint()?;
            let size = self.uvarint()?;
            self.take(size as usize)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn offset_commit_key_bytes() {
        let key = RecordKey::OffsetCommit {
            group: "g".into(),
            topic: "t".into(),
            partition: 2,
        };
        let bytes = key.encode();
        assert_eq!(&bytes[..], &[0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 2][..]);
        assert_eq!(RecordKey::decode(&bytes), Ok(Some(key)));
        // Key version 0 has the same layout.
        assert_eq!(
            RecordKey::decode(&[0, 0, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 2]),
            Ok(Some(RecordKey::OffsetCommit {
                group: "g".into(),
                topic: "t".into(),
                partition: 2
            }))
        );
    }

    #[test]
    fn group_metadata_key_bytes() {
        let key = RecordKey::GroupMetadata { group: "ab".into() };
        assert_eq!(&key.encode()[..], &[0, 2, 0, 2, b'a', b'b'][..]);
        assert_eq!(RecordKey::decode(&key.encode()), Ok(Some(key)));
    }

    #[test]
    fn unknown_key_versions_are_skipped() {
        assert_eq!(RecordKey::decode(&[0, 3, 0, 1, b'g']), Ok(None));
        assert_eq!(RecordKey::decode(&[0, 11]), Ok(None));
        assert!(RecordKey::decode(&[0]).is_err());
    }

    #[test]
    fn offset_commit_value_bytes() {
        let value = OffsetCommitValue {
            offset: 5,
            leader_epoch: 7,
            metadata: "m".into(),
            commit_timestamp: 1000,
            expire_timestamp: None,
        };
        let expected: &[u8] = &[
            0, 3, // version
            0, 0, 0, 0, 0, 0, 0, 5, // offset
            0, 0, 0, 7, // leader epoch
            0, 1, b'm', // metadata
            0, 0, 0, 0, 0, 0, 0x03, 0xe8, // commit timestamp
        ];
        assert_eq!(&value.encode()[..], expected);
        assert_eq!(OffsetCommitValue::decode(expected), Ok(value));
    }

    #[test]
    fn offset_commit_value_old_versions() {
        // v0: offset, metadata, commit timestamp.
        let v0: &[u8] = &[0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(
            OffsetCommitValue::decode(v0),
            Ok(OffsetCommitValue {
                offset: 9,
                leader_epoch: -1,
                metadata: String::new(),
                commit_timestamp: 1,
                expire_timestamp: None
            })
        );
        // v1 with an expire timestamp round-trips.
        let v1 = OffsetCommitValue {
            offset: 1,
            leader_epoch: -1,
            metadata: "x".into(),
            commit_timestamp: 2,
            expire_timestamp: Some(3),
        };
        assert_eq!(v1.encode()[..2], [0, 1]);
        assert_eq!(OffsetCommitValue::decode(&v1.encode()), Ok(v1));
        // v4 (flexible): offset, epoch, compact metadata, timestamp, no tagged fields.
        let v4: &[u8] = &[
            0, 4, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 2, 2, b'z', 0, 0, 0, 0, 0, 0, 0, 1, 0,
        ];
        assert_eq!(
            OffsetCommitValue::decode(v4),
            Ok(OffsetCommitValue {
                offset: 9,
                leader_epoch: 2,
                metadata: "z".into(),
                commit_timestamp: 1,
                expire_timestamp: None
            })
        );
        assert!(matches!(
            OffsetCommitValue::decode(&[0, 5]),
            Err(RecordError::UnknownValueVersion { .. })
        ));
    }

    #[test]
    fn group_metadata_value_bytes() {
        let value = GroupMetadataValue {
            protocol_type: "consumer".into(),
            generation: 1,
            protocol: Some("range".into()),
            leader: Some("m".into()),
            current_state_timestamp: 10,
            members: vec![MemberMetadataValue {
                member_id: "m".into(),
                group_instance_id: None,
                client_id: "c".into(),
                client_host: "/h".into(),
                rebalance_timeout: 300,
                session_timeout: 100,
                subscription: Bytes::from_static(&[1, 2]),
                assignment: Bytes::from_static(&[3]),
            }],
        };
        let mut expected: Vec<u8> = vec![0, 3, 0, 8];
        expected.extend_from_slice(b"consumer");
        expected.extend_from_slice(&[0, 0, 0, 1, 0, 5]);
        expected.extend_from_slice(b"range");
        expected.extend_from_slice(&[0, 1, b'm']);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 10]);
        expected.extend_from_slice(&[0, 0, 0, 1]); // one member
        expected.extend_from_slice(&[0, 1, b'm', 0xff, 0xff, 0, 1, b'c', 0, 2, b'/', b'h']);
        expected.extend_from_slice(&[0, 0, 1, 44, 0, 0, 0, 100]);
        expected.extend_from_slice(&[0, 0, 0, 2, 1, 2, 0, 0, 0, 1, 3]);
        assert_eq!(&value.encode()[..], &expected[..]);
        assert_eq!(GroupMetadataValue::decode(&expected), Ok(value));
    }

    #[test]
    fn group_metadata_value_v0() {
        let mut v0: Vec<u8> = vec![0, 0, 0, 1, b'x', 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff];
        v0.extend_from_slice(&[0, 0, 0, 1, 0, 1, b'm', 0, 1, b'c', 0, 1, b'h']);
        v0.extend_from_slice(&[0, 0, 0, 50, 0, 0, 0, 0, 0, 0, 0, 0]);
        let decoded = GroupMetadataValue::decode(&v0).expect("v0 decodes");
        assert_eq!(decoded.generation, 4);
        assert_eq!(decoded.protocol, None);
        assert_eq!(decoded.current_state_timestamp, -1);
        assert_eq!(decoded.members[0].session_timeout, 50);
        assert_eq!(decoded.members[0].rebalance_timeout, 50);
    }

    #[test]
    fn truncated_and_garbage_values_are_errors() {
        let value = GroupMetadataValue {
            protocol_type: "consumer".into(),
            generation: 1,
            protocol: None,
            leader: None,
            current_state_timestamp: -1,
            members: vec![],
        }
        .encode();
        for cut in 0..value.len() {
            assert!(GroupMetadataValue::decode(&value[..cut]).is_err());
        }
        // A huge member count does not allocate.
        assert!(GroupMetadataValue::decode(&[
            0, 3, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff,
            0xff
        ])
        .is_err());
    }

    fn string() -> impl Strategy<Value = String> {
        "\\PC{0,12}"
    }

    proptest! {
        #[test]
        fn keys_round_trip(group in string(), topic in string(), partition in any::<i32>(), metadata in any::<bool>()) {
            let key = if metadata {
                RecordKey::GroupMetadata { group }
            } else {
                RecordKey::OffsetCommit { group, topic, partition }
            };
            prop_assert_eq!(RecordKey::decode(&key.encode()), Ok(Some(key)));
        }

        #[test]
        fn offset_values_round_trip(offset in any::<i64>(), epoch in any::<i32>(), metadata in string(), ts in any::<i64>(), expire in proptest::option::of(any::<i64>())) {
            let value = OffsetCommitValue {
                offset,
                leader_epoch: if expire.is_some() { -1 } else { epoch },
                metadata,
                commit_timestamp: ts,
                expire_timestamp: expire,
            };
            prop_assert_eq!(OffsetCommitValue::decode(&value.encode()), Ok(value));
        }

        #[test]
        fn group_values_round_trip(
            protocol_type in string(),
            generation in any::<i32>(),
            protocol in proptest::option::of(string()),
            leader in proptest::option::of(string()),
            ts in any::<i64>(),
            members in proptest::collection::vec(
                (string(), proptest::option::of(string()), string(), string(), any::<i32>(), any::<i32>(),
                 proptest::collection::vec(any::<u8>(), 0..16), proptest::collection::vec(any::<u8>(), 0..16)),
                0..4),
        ) {
            let value = GroupMetadataValue {
                protocol_type,
                generation,
                protocol,
                leader,
                current_state_timestamp: ts,
                members: members.into_iter().map(|(member_id, group_instance_id, client_id, client_host, rebalance_timeout, session_timeout, s, a)| MemberMetadataValue {
                    member_id, group_instance_id, client_id, client_host, rebalance_timeout, session_timeout,
                    subscription: Bytes::from(s), assignment: Bytes::from(a),
                }).collect(),
            };
            prop_assert_eq!(GroupMetadataValue::decode(&value.encode()), Ok(value));
        }

        #[test]
        fn decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = RecordKey::decode(&bytes);
            let _ = OffsetCommitValue::decode(&bytes);
            let _ = GroupMetadataValue::decode(&bytes);
        }
    }
}
