//! Reading the topics out of a consumer's subscription (the `ConsumerProtocolSubscription`
//! metadata a member of a `"consumer"` group sends in `JoinGroup`): `int16` version, then
//! `[string]` topics (`int32` count, `int16`-length strings), then fields Strom does not need.
//! Used to know which topics a group is subscribed to (offset expiration and `OffsetDelete`).

/// The subscribed topics, or `None` if the metadata does not parse.
pub fn subscribed_topics(metadata: &[u8]) -> Option<Vec<String>> {
    let mut pos = 0usize;
    let mut take = |n: usize| -> Option<&[u8]> {
        let s = metadata.get(pos..pos.checked_add(n)?)?;
        pos += n;
        Some(s)
    };
    let version = i16::from_be_bytes(take(2)?.try_into().ok()?);
    if version < 0 {
        return None;
    }
    let count = i32::from_be_bytes(take(4)?.try_into().ok()?);
    let count = usize::try_from(count).ok()?;
    let mut topics = Vec::with_capacity(count.min(metadata.len()));
    for _ in 0..count {
        let len = i16::from_be_bytes(take(2)?.try_into().ok()?);
        let len = usize::try_from(len).ok()?;
        topics.push(String::from_utf8(take(len)?.to_vec()).ok()?);
    }
    Some(topics)
}

/// Encodes a minimal version-0 subscription (topics, null user data); for tests and tools.
pub fn encode_subscription(topics: &[&str]) -> Vec<u8> {
    let mut out = vec![0, 0];
    out.extend_from_slice(&(topics.len() as i32).to_be_bytes());
    for t in topics {
        out.extend_from_slice(&(t.len() as i16).to_be_bytes());
        out.extend_from_slice(t.as_bytes());
    }
    out.extend_from_slice(&(-1i32).to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let bytes = encode_subscription(&["a", "bc"]);
        assert_eq!(
            subscribed_topics(&bytes),
            Some(vec!["a".into(), "bc".into()])
        );
        assert_eq!(subscribed_topics(&bytes[..5]), None);
        assert_eq!(subscribed_topics(&[0, 0, 0x7f, 0xff, 0xff, 0xff]), None);
        assert_eq!(subscribed_topics(&[]), None);
    }
}
