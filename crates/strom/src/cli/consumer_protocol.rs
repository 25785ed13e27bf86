//! Decoding of Kafka's consumer protocol (`ConsumerProtocol` in the Java client): the opaque
//! member metadata (a `Subscription`) and member assignment (an `Assignment`) that consumers of
//! protocol type "consumer" exchange through JoinGroup and SyncGroup, and that DescribeGroups
//! hands back as bytes.
//!
//! Both are the classic, non-flexible encoding: `INT16` version, `INT32`-counted arrays,
//! `INT16`-length strings and `INT32`-length bytes (-1 for null). Fields of newer versions than we
//! know are ignored, as the Java client does: a version's fields are always a prefix of the next
//! version's.

use std::collections::BTreeMap;

/// `ConsumerProtocolAssignment`: the partitions the leader gave one member.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    pub version: i16,
    /// Partitions per topic, in the order the leader wrote them.
    pub partitions: Vec<(String, Vec<i32>)>,
    pub user_data: Option<Vec<u8>>,
}

impl Assignment {
    /// (topic, partition) pairs, topics and partitions sorted.
    pub fn topic_partitions(&self) -> Vec<(String, i32)> {
        let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for (topic, partitions) in &self.partitions {
            by_topic.entry(topic).or_default().extend(partitions);
        }
        let mut out = Vec::new();
        for (topic, mut partitions) in by_topic {
            partitions.sort_unstable();
            partitions.dedup();
            out.extend(partitions.into_iter().map(|p| (topic.to_owned(), p)));
        }
        out
    }
}

/// `ConsumerProtocolSubscription`: what a member asked for when it joined.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscription {
    pub version: i16,
    pub topics: Vec<String>,
    pub user_data: Option<Vec<u8>>,
    /// v1+: the partitions the member owned before this rebalance (cooperative protocol).
    pub owned_partitions: Vec<(String, Vec<i32>)>,
    /// v2+: the generation of the owned partitions, -1 when unknown.
    pub generation_id: i32,
    /// v3+: the member's rack.
    pub rack_id: Option<String>,
}

/// Why some bytes are not a valid consumer protocol message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

/// Decodes an assignment. Empty bytes (a member that has not been assigned yet, or a group
/// between rebalances) decode to an empty assignment.
pub fn decode_assignment(bytes: &[u8]) -> Result<Assignment, DecodeError> {
    if bytes.is_empty() {
        return Ok(Assignment::default());
    }
    let mut r = Reader::new(bytes);
    let version = r.version()?;
    let partitions = r.topic_partitions("assigned partitions")?;
    let user_data = r.bytes("user data")?;
    Ok(Assignment {
        version,
        partitions,
        user_data,
    })
}

/// Decodes a subscription (member metadata of protocol type "consumer").
pub fn decode_subscription(bytes: &[u8]) -> Result<Subscription, DecodeError> {
    let mut r = Reader::new(bytes);
    let version = r.version()?;
    let count = r.array_len("topics")?;
    let mut topics = Vec::with_capacity(count.min(r.remaining() / 2));
    for _ in 0..count {
        topics.push(r.string("topic name")?);
    }
    let user_data = r.bytes("user data")?;
    let mut subscription = Subscription {
        version,
        topics,
        user_data,
        owned_partitions: Vec::new(),
        generation_id: -1,
        rack_id: None,
    };
    if version >= 1 {
        subscription.owned_partitions = r.topic_partitions("owned partitions")?;
    }
    if version >= 2 {
        subscription.generation_id = r.i32("generation id")?;
    }
    if version >= 3 {
        subscription.rack_id = r.nullable_string("rack id")?;
    }
    Ok(subscription)
}

/// A bounds-checked big-endian reader.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError(format!(
                "truncated {what}: needs {n} bytes at offset {}, {} left",
                self.pos,
                self.remaining()
            )));
        }
        let slice = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    fn i16(&mut self, what: &str) -> Result<i16, DecodeError> {
        let b = self.take(2, what)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self, what: &str) -> Result<i32, DecodeError> {
        let b = self.take(4, what)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn version(&mut self) -> Result<i16, DecodeError> {
        let version = self.i16("version")?;
        if version < 0 {
            return Err(DecodeError(format!("negative version {version}")));
        }
        Ok(version)
    }

    /// An array length; null (-1) counts as empty. Every element takes at least one byte, so a
    /// count beyond the bytes left is rejected before anything is allocated.
    fn array_len(&mut self, what: &str) -> Result<usize, DecodeError> {
        let n = self.i32(what)?;
        if n < -1 {
            return Err(DecodeError(format!("invalid {what} count {n}")));
        }
        let n = usize::try_from(n.max(0)).unwrap_or(0);
        if n > self.remaining() {
            return Err(DecodeError(format!(
                "{what} count {n} exceeds the {} bytes left",
                self.remaining()
            )));
        }
        Ok(n)
    }

    fn nullable_string(&mut self, what: &str) -> Result<Option<String>, DecodeError> {
        let len = self.i16(what)?;
        if len == -1 {
            return Ok(None);
        }
        let len = usize::try_from(len)
            .map_err(|_| DecodeError(format!("invalid {what} length {len}")))?;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| DecodeError(format!("{what} is not UTF-8")))
    }

    fn string(&mut self, what: &str) -> Result<String, DecodeError> {
        self.nullable_string(what)?
            .ok_or_else(|| DecodeError(format!("null {what}")))
    }

    fn bytes(&mut self, what: &str) -> Result<Option<Vec<u8>>, DecodeError> {
        let len = self.i32(what)?;
        if len == -1 {
            return Ok(None);
        }
        let len = usize::try_from(len)
            .map_err(|_| DecodeError(format!("invalid {what} length {len}")))?;
        Ok(Some(self.take(len, what)?.to_vec()))
    }

    /// `[topic string, [partition int32]]`.
    fn topic_partitions(&mut self, what: &str) -> Result<Vec<(String, Vec<i32>)>, DecodeError> {
        let topics = self.array_len(what)?;
        let mut out = Vec::with_capacity(topics.min(self.remaining() / 6));
        for _ in 0..topics {
            let topic = self.string("topic name")?;
            let count = self.array_len("partitions")?;
            let mut partitions = Vec::with_capacity(count.min(self.remaining() / 4));
            for _ in 0..count {
                partitions.push(self.i32("partition")?);
            }
            out.push((topic, partitions));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encoders for the tests, mirroring Kafka's ConsumerProtocol serializer.
    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend((s.len() as i16).to_be_bytes());
        out.extend(s.as_bytes());
    }

    fn topic_partitions(out: &mut Vec<u8>, tps: &[(&str, &[i32])]) {
        out.extend((tps.len() as i32).to_be_bytes());
        for (topic, partitions) in tps {
            string(out, topic);
            out.extend((partitions.len() as i32).to_be_bytes());
            for p in *partitions {
                out.extend(p.to_be_bytes());
            }
        }
    }

    fn assignment(version: i16, tps: &[(&str, &[i32])], user_data: Option<&[u8]>) -> Vec<u8> {
        let mut out = version.to_be_bytes().to_vec();
        topic_partitions(&mut out, tps);
        match user_data {
            None => out.extend((-1i32).to_be_bytes()),
            Some(data) => {
                out.extend((data.len() as i32).to_be_bytes());
                out.extend(data);
            }
        }
        out
    }

    #[test]
    fn decodes_an_assignment_of_two_topics() {
        let bytes = assignment(0, &[("orders", &[2, 0]), ("payments", &[1])], None);
        let a = decode_assignment(&bytes).unwrap();
        assert_eq!(a.version, 0);
        assert_eq!(
            a.partitions,
            vec![("orders".into(), vec![2, 0]), ("payments".into(), vec![1])]
        );
        assert_eq!(a.user_data, None);
        assert_eq!(
            a.topic_partitions(),
            vec![
                ("orders".into(), 0),
                ("orders".into(), 2),
                ("payments".into(), 1)
            ]
        );
    }

    #[test]
    fn decodes_user_data_and_ignores_fields_of_newer_versions() {
        let mut bytes = assignment(3, &[("t", &[5])], Some(b"sticky"));
        bytes.extend([0xde, 0xad, 0xbe, 0xef]); // a future version's extra field
        let a = decode_assignment(&bytes).unwrap();
        assert_eq!(a.version, 3);
        assert_eq!(a.user_data.as_deref(), Some(&b"sticky"[..]));
        assert_eq!(a.topic_partitions(), vec![("t".into(), 5)]);
    }

    #[test]
    fn empty_bytes_are_an_empty_assignment() {
        assert_eq!(decode_assignment(&[]).unwrap(), Assignment::default());
        let a = decode_assignment(&assignment(1, &[], Some(b""))).unwrap();
        assert!(a.topic_partitions().is_empty());
    }

    #[test]
    fn rejects_truncated_and_oversized_assignments() {
        let bytes = assignment(0, &[("orders", &[0, 1, 2])], None);
        for cut in 1..bytes.len() {
            assert!(
                decode_assignment(&bytes[..cut]).is_err(),
                "a prefix of {cut} bytes decoded"
            );
        }
        // A topic count far beyond the bytes present must fail, not allocate.
        let mut huge = 0i16.to_be_bytes().to_vec();
        huge.extend(i32::MAX.to_be_bytes());
        let err = decode_assignment(&huge).unwrap_err();
        assert!(err.0.contains("exceeds"), "{err}");
        let mut negative = 0i16.to_be_bytes().to_vec();
        negative.extend((-5i32).to_be_bytes());
        assert!(decode_assignment(&negative).is_err());
        assert!(decode_assignment(&(-1i16).to_be_bytes()).is_err());
    }

    #[test]
    fn decodes_subscriptions_of_every_version() {
        // v0: topics and user data only (librdkafka's range/roundrobin assignors).
        let mut v0 = 0i16.to_be_bytes().to_vec();
        v0.extend(2i32.to_be_bytes());
        string(&mut v0, "a");
        string(&mut v0, "b");
        v0.extend((-1i32).to_be_bytes());
        let s = decode_subscription(&v0).unwrap();
        assert_eq!(s.topics, vec!["a", "b"]);
        assert_eq!(s.user_data, None);
        assert!(s.owned_partitions.is_empty());
        assert_eq!(s.generation_id, -1);

        // v3: owned partitions, generation and rack (cooperative-sticky).
        let mut v3 = 3i16.to_be_bytes().to_vec();
        v3.extend(1i32.to_be_bytes());
        string(&mut v3, "a");
        v3.extend(2i32.to_be_bytes());
        v3.extend(b"ud");
        topic_partitions(&mut v3, &[("a", &[0, 3])]);
        v3.extend(7i32.to_be_bytes());
        string(&mut v3, "rack-1");
        let s = decode_subscription(&v3).unwrap();
        assert_eq!(s.version, 3);
        assert_eq!(s.topics, vec!["a"]);
        assert_eq!(s.user_data.as_deref(), Some(&b"ud"[..]));
        assert_eq!(s.owned_partitions, vec![("a".into(), vec![0, 3])]);
        assert_eq!(s.generation_id, 7);
        assert_eq!(s.rack_id.as_deref(), Some("rack-1"));

        assert!(decode_subscription(&v3[..v3.len() - 1]).is_err());
        assert!(decode_subscription(&[]).is_err());
    }
}
