//! The records of KIP-848 consumer groups in `__consumer_offsets`, in Kafka's binary layout.
//!
//! Keys are not flexible: an `int16` key version, then the group id `string` (and the member id
//! `string` for member records). Key versions:
//! - 3 `ConsumerGroupMetadataKey` → value `ConsumerGroupMetadataValue { Epoch int32 }`;
//! - 4 `ConsumerGroupPartitionMetadataKey` → value `{ Topics [ TopicId uuid, TopicName string,
//!   NumPartitions int32, PartitionMetadata [ Partition int32, Racks [string] ] ] }` (Strom writes
//!   no partition metadata, as Kafka does since 4.0);
//! - 5 `ConsumerGroupMemberMetadataKey` → value `{ InstanceId string?, RackId string?, ClientId
//!   string, ClientHost string, SubscribedTopicNames [string], SubscribedTopicRegex string?,
//!   RebalanceTimeoutMs int32, ServerAssignor string?, tag 0: ClassicMemberMetadata }`;
//! - 6 `ConsumerGroupTargetAssignmentMetadataKey` → value `{ AssignmentEpoch int32 }`;
//! - 7 `ConsumerGroupTargetAssignmentMemberKey` → value `{ TopicPartitions [ TopicId uuid,
//!   Partitions [int32] ] }`;
//! - 8 `ConsumerGroupCurrentMemberAssignmentKey` → value `{ MemberEpoch int32,
//!   PreviousMemberEpoch int32, State int8, AssignedPartitions [TopicPartitions],
//!   PartitionsPendingRevocation [TopicPartitions] }`.
//!
//! Every value is version 0 in the flexible encoding (compact strings and arrays, tagged fields;
//! unknown tagged fields are skipped). A tombstone (no value) deletes the key.

use std::collections::{BTreeMap, BTreeSet};

use bytes::{BufMut, BytesMut};
use uuid::Uuid;

use crate::outcome::CoordinatorRecord;
use crate::records::{put_string, Reader, RecordError};

/// Partitions by topic id: an assignment.
pub type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

/// Key version of `ConsumerGroupMetadataKey`.
pub const GROUP_METADATA_KEY: i16 = 3;
/// Key version of `ConsumerGroupPartitionMetadataKey`.
pub const PARTITION_METADATA_KEY: i16 = 4;
/// Key version of `ConsumerGroupMemberMetadataKey`.
pub const MEMBER_METADATA_KEY: i16 = 5;
/// Key version of `ConsumerGroupTargetAssignmentMetadataKey`.
pub const TARGET_ASSIGNMENT_METADATA_KEY: i16 = 6;
/// Key version of `ConsumerGroupTargetAssignmentMemberKey`.
pub const TARGET_ASSIGNMENT_MEMBER_KEY: i16 = 7;
/// Key version of `ConsumerGroupCurrentMemberAssignmentKey`.
pub const CURRENT_MEMBER_ASSIGNMENT_KEY: i16 = 8;

/// One subscribed topic as the group last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    pub topic_id: Uuid,
    pub name: String,
    pub num_partitions: i32,
}

/// `ConsumerGroupMemberMetadataValue`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberMetadataValue {
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub server_assignor: Option<String>,
}

/// `ConsumerGroupCurrentMemberAssignmentValue`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CurrentAssignmentValue {
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    /// Kafka's `MemberState`: 0 stable, 1 unrevoked partitions, 2 unreleased partitions.
    pub state: i8,
    pub assigned: Assignment,
    pub pending_revocation: Assignment,
}

/// One consumer group record: its key fields and its value (`None` = tombstone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerRecord {
    GroupEpoch {
        group: String,
        epoch: Option<i32>,
    },
    PartitionMetadata {
        group: String,
        topics: Option<Vec<TopicMetadata>>,
    },
    MemberMetadata {
        group: String,
        member: String,
        value: Option<MemberMetadataValue>,
    },
    TargetAssignmentEpoch {
        group: String,
        epoch: Option<i32>,
    },
    TargetAssignmentMember {
        group: String,
        member: String,
        partitions: Option<Assignment>,
    },
    CurrentAssignment {
        group: String,
        member: String,
        value: Option<CurrentAssignmentValue>,
    },
}

impl ConsumerRecord {
    /// The group the record belongs to.
    pub fn group(&self) -> &str {
        match self {
            ConsumerRecord::GroupEpoch { group, .. }
            | ConsumerRecord::PartitionMetadata { group, .. }
            | ConsumerRecord::MemberMetadata { group, .. }
            | ConsumerRecord::TargetAssignmentEpoch { group, .. }
            | ConsumerRecord::TargetAssignmentMember { group, .. }
            | ConsumerRecord::CurrentAssignment { group, .. } => group,
        }
    }

    /// Whether the record deletes its key.
    pub fn is_tombstone(&self) -> bool {
        match self {
            ConsumerRecord::GroupEpoch { epoch, .. }
            | ConsumerRecord::TargetAssignmentEpoch { epoch, .. } => epoch.is_none(),
            ConsumerRecord::PartitionMetadata { topics, .. } => topics.is_none(),
            ConsumerRecord::MemberMetadata { value, .. } => value.is_none(),
            ConsumerRecord::TargetAssignmentMember { partitions, .. } => partitions.is_none(),
            ConsumerRecord::CurrentAssignment { value, .. } => value.is_none(),
        }
    }

    /// Whether `key` (its first two bytes) is the key of a consumer group record.
    pub fn is_consumer_key(key: &[u8]) -> bool {
        key.len() >= 2
            && (GROUP_METADATA_KEY..=CURRENT_MEMBER_ASSIGNMENT_KEY)
                .contains(&i16::from_be_bytes([key[0], key[1]]))
    }

    /// Encodes the record in Kafka's layout.
    pub fn encode(&self) -> CoordinatorRecord {
        let mut k = BytesMut::new();
        let mut v = BytesMut::new();
        v.put_i16(0);
        let has_value = match self {
            ConsumerRecord::GroupEpoch { group, epoch } => {
                key(&mut k, GROUP_METADATA_KEY, group, None);
                epoch.map(|e| {
                    v.put_i32(e);
                })
            }
            ConsumerRecord::PartitionMetadata { group, topics } => {
                key(&mut k, PARTITION_METADATA_KEY, group, None);
                topics.as_ref().map(|topics| {
                    put_len(&mut v, topics.len());
                    for t in topics {
                        v.put_slice(t.topic_id.as_bytes());
                        put_compact_string(&mut v, &t.name);
                        v.put_i32(t.num_partitions);
                        put_len(&mut v, 0); // no per-partition rack metadata
                        v.put_u8(0);
                    }
                })
            }
            ConsumerRecord::MemberMetadata {
                group,
                member,
                value,
            } => {
                key(&mut k, MEMBER_METADATA_KEY, group, Some(member));
                value.as_ref().map(|m| {
                    put_compact_nullable(&mut v, m.instance_id.as_deref());
                    put_compact_nullable(&mut v, m.rack_id.as_deref());
                    put_compact_string(&mut v, &m.client_id);
                    put_compact_string(&mut v, &m.client_host);
                    put_len(&mut v, m.subscribed_topic_names.len());
                    for t in &m.subscribed_topic_names {
                        put_compact_string(&mut v, t);
                    }
                    put_compact_nullable(&mut v, m.subscribed_topic_regex.as_deref());
                    v.put_i32(m.rebalance_timeout_ms);
                    put_compact_nullable(&mut v, m.server_assignor.as_deref());
                })
            }
            ConsumerRecord::TargetAssignmentEpoch { group, epoch } => {
                key(&mut k, TARGET_ASSIGNMENT_METADATA_KEY, group, None);
                epoch.map(|e| {
                    v.put_i32(e);
                })
            }
            ConsumerRecord::TargetAssignmentMember {
                group,
                member,
                partitions,
            } => {
                key(&mut k, TARGET_ASSIGNMENT_MEMBER_KEY, group, Some(member));
                partitions.as_ref().map(|a| put_assignment(&mut v, a))
            }
            ConsumerRecord::CurrentAssignment {
                group,
                member,
                value,
            } => {
                key(&mut k, CURRENT_MEMBER_ASSIGNMENT_KEY, group, Some(member));
                value.as_ref().map(|c| {
                    v.put_i32(c.member_epoch);
                    v.put_i32(c.previous_member_epoch);
                    v.put_i8(c.state);
                    put_assignment(&mut v, &c.assigned);
                    put_assignment(&mut v, &c.pending_revocation);
                })
            }
        };
        CoordinatorRecord {
            key: k.freeze(),
            value: has_value.map(|()| {
                v.put_u8(0); // no tagged fields
                v.freeze()
            }),
        }
    }

    /// Decodes a record. `Ok(None)` when the key is not a consumer group key (versions 3-8).
    pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<Option<ConsumerRecord>, RecordError> {
        if !Self::is_consumer_key(key) {
            return Ok(None);
        }
        let mut r = Reader::new(key);
        let version = r.i16()?;
        let group = r.string()?;
        let mut member = || r.string();
        let record = match version {
            GROUP_METADATA_KEY => ConsumerRecord::GroupEpoch {
                group,
                epoch: value
                    .map(|v| value_reader(v, "ConsumerGroupMetadataValue", |r| r.i32()))
                    .transpose()?,
            },
            PARTITION_METADATA_KEY => ConsumerRecord::PartitionMetadata {
                group,
                topics: value
                    .map(|v| value_reader(v, "ConsumerGroupPartitionMetadataValue", topics))
                    .transpose()?,
            },
            MEMBER_METADATA_KEY => ConsumerRecord::MemberMetadata {
                group,
                member: member()?,
                value: value
                    .map(|v| value_reader(v, "ConsumerGroupMemberMetadataValue", member_value))
                    .transpose()?,
            },
            TARGET_ASSIGNMENT_METADATA_KEY => ConsumerRecord::TargetAssignmentEpoch {
                group,
                epoch: value
                    .map(|v| {
                        value_reader(v, "ConsumerGroupTargetAssignmentMetadataValue", |r| r.i32())
                    })
                    .transpose()?,
            },
            TARGET_ASSIGNMENT_MEMBER_KEY => ConsumerRecord::TargetAssignmentMember {
                group,
                member: member()?,
                partitions: value
                    .map(|v| {
                        value_reader(v, "ConsumerGroupTargetAssignmentMemberValue", assignment)
                    })
                    .transpose()?,
            },
            _ => ConsumerRecord::CurrentAssignment {
                group,
                member: member()?,
                value: value
                    .map(|v| {
                        value_reader(v, "ConsumerGroupCurrentMemberAssignmentValue", |r| {
                            Ok(CurrentAssignmentValue {
                                member_epoch: r.i32()?,
                                previous_member_epoch: r.i32()?,
                                state: i8::from_be_bytes(r.array()?),
                                assigned: assignment(r)?,
                                pending_revocation: assignment(r)?,
                            })
                        })
                    })
                    .transpose()?,
            },
        };
        Ok(Some(record))
    }
}

fn key(w: &mut BytesMut, version: i16, group: &str, member: Option<&str>) {
    w.put_i16(version);
    put_string(w, group);
    if let Some(member) = member {
        put_string(w, member);
    }
}

/// Reads a version-0 flexible value: the version, the fields, then the tagged fields.
fn value_reader<T>(
    bytes: &[u8],
    kind: &'static str,
    fields: impl FnOnce(&mut Reader<'_>) -> Result<T, RecordError>,
) -> Result<T, RecordError> {
    let mut r = Reader::new(bytes);
    let version = r.i16()?;
    if version != 0 {
        return Err(RecordError::UnknownValueVersion { kind, version });
    }
    let value = fields(&mut r)?;
    r.skip_tagged_fields()?;
    Ok(value)
}

fn put_uvarint(w: &mut BytesMut, mut n: u32) {
    while n >= 0x80 {
        w.put_u8((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    w.put_u8(n as u8);
}

fn put_len(w: &mut BytesMut, len: usize) {
    put_uvarint(w, u32::try_from(len).unwrap_or(u32::MAX - 1) + 1);
}

fn put_compact_string(w: &mut BytesMut, s: &str) {
    put_len(w, s.len());
    w.put_slice(s.as_bytes());
}

fn put_compact_nullable(w: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_compact_string(w, s),
        None => w.put_u8(0),
    }
}

fn put_assignment(w: &mut BytesMut, a: &Assignment) {
    put_len(w, a.len());
    for (topic_id, partitions) in a {
        w.put_slice(topic_id.as_bytes());
        put_len(w, partitions.len());
        for p in partitions {
            w.put_i32(*p);
        }
        w.put_u8(0);
    }
}

fn uuid(r: &mut Reader<'_>) -> Result<Uuid, RecordError> {
    Ok(Uuid::from_bytes(r.array()?))
}

fn assignment(r: &mut Reader<'_>) -> Result<Assignment, RecordError> {
    let count = r.compact_array_len()?;
    let mut out = Assignment::new();
    for _ in 0..count {
        let topic_id = uuid(r)?;
        let n = r.compact_array_len()?;
        let mut partitions = BTreeSet::new();
        for _ in 0..n {
            partitions.insert(r.i32()?);
        }
        r.skip_tagged_fields()?;
        if !partitions.is_empty() {
            out.entry(topic_id).or_default().extend(partitions);
        }
    }
    Ok(out)
}

fn topics(r: &mut Reader<'_>) -> Result<Vec<TopicMetadata>, RecordError> {
    let count = r.compact_array_len()?;
    let mut out = Vec::with_capacity(count.min(r.remaining()));
    for _ in 0..count {
        let topic_id = uuid(r)?;
        let name = r.compact_string()?;
        let num_partitions = r.i32()?;
        for _ in 0..r.compact_array_len()? {
            r.i32()?;
            for _ in 0..r.compact_array_len()? {
                r.compact_string()?;
            }
            r.skip_tagged_fields()?;
        }
        r.skip_tagged_fields()?;
        out.push(TopicMetadata {
            topic_id,
            name,
            num_partitions,
        });
    }
    Ok(out)
}

fn member_value(r: &mut Reader<'_>) -> Result<MemberMetadataValue, RecordError> {
    let instance_id = r.compact_nullable_string()?;
    let rack_id = r.compact_nullable_string()?;
    let client_id = r.compact_string()?;
    let client_host = r.compact_string()?;
    let count = r.compact_array_len()?;
    let mut subscribed_topic_names = Vec::with_capacity(count.min(r.remaining()));
    for _ in 0..count {
        subscribed_topic_names.push(r.compact_string()?);
    }
    Ok(MemberMetadataValue {
        instance_id,
        rack_id,
        client_id,
        client_host,
        subscribed_topic_names,
        subscribed_topic_regex: r.compact_nullable_string()?,
        rebalance_timeout_ms: r.i32()?,
        server_assignor: r.compact_nullable_string()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(record: ConsumerRecord) {
        let encoded = record.encode();
        let decoded = ConsumerRecord::decode(&encoded.key, encoded.value.as_deref());
        assert_eq!(decoded, Ok(Some(record)));
    }

    #[test]
    fn group_epoch_bytes() {
        let record = ConsumerRecord::GroupEpoch {
            group: "g".into(),
            epoch: Some(5),
        };
        let encoded = record.encode();
        assert_eq!(&encoded.key[..], &[0, 3, 0, 1, b'g']);
        assert_eq!(encoded.value.as_deref(), Some(&[0, 0, 0, 0, 0, 5, 0][..]));
        round_trip(record);
    }

    #[test]
    fn current_assignment_bytes() {
        let topic = Uuid::from_u128(1);
        let record = ConsumerRecord::CurrentAssignment {
            group: "g".into(),
            member: "m".into(),
            value: Some(CurrentAssignmentValue {
                member_epoch: 2,
                previous_member_epoch: 1,
                state: 1,
                assigned: BTreeMap::from([(topic, BTreeSet::from([0, 1]))]),
                pending_revocation: BTreeMap::new(),
            }),
        };
        let encoded = record.encode();
        assert_eq!(&encoded.key[..], &[0, 8, 0, 1, b'g', 0, 1, b'm']);
        let mut expected = vec![0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 1, 2];
        expected.extend_from_slice(topic.as_bytes());
        expected.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0]);
        assert_eq!(encoded.value.as_deref(), Some(&expected[..]));
        round_trip(record);
    }

    #[test]
    fn tombstones_and_other_keys() {
        round_trip(ConsumerRecord::MemberMetadata {
            group: "g".into(),
            member: "m".into(),
            value: None,
        });
        assert_eq!(ConsumerRecord::decode(&[0, 2, 0, 1, b'g'], None), Ok(None));
        assert_eq!(ConsumerRecord::decode(&[0, 9, 0, 1, b'g'], None), Ok(None));
        assert!(ConsumerRecord::decode(&[0, 3, 0], None).is_err());
        assert!(matches!(
            ConsumerRecord::decode(&[0, 3, 0, 1, b'g'], Some(&[0, 1, 0, 0, 0, 1, 0])),
            Err(RecordError::UnknownValueVersion { .. })
        ));
    }

    #[test]
    fn partition_metadata_with_racks_decodes() {
        let id = Uuid::from_u128(7);
        let mut value = vec![0, 0, 2];
        value.extend_from_slice(id.as_bytes());
        value.extend_from_slice(&[2, b't', 0, 0, 0, 3]);
        // One partition (2) with one rack "r".
        value.extend_from_slice(&[2, 0, 0, 0, 2, 2, 2, b'r', 0, 0, 0]);
        let decoded = ConsumerRecord::decode(&[0, 4, 0, 1, b'g'], Some(&value));
        assert_eq!(
            decoded,
            Ok(Some(ConsumerRecord::PartitionMetadata {
                group: "g".into(),
                topics: Some(vec![TopicMetadata {
                    topic_id: id,
                    name: "t".into(),
                    num_partitions: 3
                }])
            }))
        );
    }

    fn string() -> impl Strategy<Value = String> {
        "\\PC{0,8}"
    }

    fn assignment_strategy() -> impl Strategy<Value = Assignment> {
        proptest::collection::btree_map(
            any::<u128>().prop_map(Uuid::from_u128),
            proptest::collection::btree_set(any::<i32>(), 1..4),
            0..3,
        )
    }

    proptest! {
        #[test]
        fn records_round_trip(
            group in string(), member in string(), epoch in any::<i32>(), prev in any::<i32>(),
            state in any::<i8>(), a in assignment_strategy(), b in assignment_strategy(),
            names in proptest::collection::vec(string(), 0..3), opt in proptest::option::of(string()),
            which in 0u8..6, tombstone in any::<bool>(),
        ) {
            let record = match which {
                0 => ConsumerRecord::GroupEpoch { group, epoch: (!tombstone).then_some(epoch) },
                1 => ConsumerRecord::PartitionMetadata { group, topics: (!tombstone).then(|| names.iter().enumerate().map(|(i, n)| TopicMetadata { topic_id: Uuid::from_u128(i as u128), name: n.clone(), num_partitions: epoch }).collect()) },
                2 => ConsumerRecord::MemberMetadata { group, member, value: (!tombstone).then(|| MemberMetadataValue {
                    instance_id: opt.clone(), rack_id: None, client_id: member_id_or(&names), client_host: "h".into(),
                    subscribed_topic_names: names.clone(), subscribed_topic_regex: opt.clone(), rebalance_timeout_ms: epoch, server_assignor: opt.clone(),
                }) },
                3 => ConsumerRecord::TargetAssignmentEpoch { group, epoch: (!tombstone).then_some(epoch) },
                4 => ConsumerRecord::TargetAssignmentMember { group, member, partitions: (!tombstone).then(|| a.clone()) },
                _ => ConsumerRecord::CurrentAssignment { group, member, value: (!tombstone).then(|| CurrentAssignmentValue {
                    member_epoch: epoch, previous_member_epoch: prev, state, assigned: a.clone(), pending_revocation: b.clone(),
                }) },
            };
            let encoded = record.encode();
            prop_assert_eq!(ConsumerRecord::decode(&encoded.key, encoded.value.as_deref()), Ok(Some(record)));
        }

        #[test]
        fn decoding_never_panics(key in proptest::collection::vec(any::<u8>(), 0..16), value in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut k = vec![0, 3 + key.first().copied().unwrap_or(0) % 6];
            k.extend_from_slice(&key);
            let _ = ConsumerRecord::decode(&k, Some(&value));
        }
    }

    fn member_id_or(names: &[String]) -> String {
        names.first().cloned().unwrap_or_default()
    }
}
