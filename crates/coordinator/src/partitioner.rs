//! Which `__consumer_offsets` partition (and so which shard) owns a group: Kafka's
//! `Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions`.

/// Java's `String.hashCode`: `s[0]*31^(n-1) + ... + s[n-1]` over UTF-16 code units, with
/// wrapping 32-bit arithmetic.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// The partition of `__consumer_offsets` that holds `group_id`, for a topic of `partitions`
/// partitions. Kafka's `Utils.abs` is `x & 0x7fffffff` (so `i32::MIN` maps to 0, not overflow).
///
/// # Panics
/// If `partitions` is not positive.
pub fn partition_for_group(group_id: &str, partitions: i32) -> i32 {
    assert!(partitions > 0, "partitions must be positive");
    (java_string_hash(group_id) & 0x7fff_ffff) % partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_java() {
        // Values computed with java.lang.String#hashCode.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash("my-group"), -1_906_497_762);
        assert_eq!(partition_for_group("my-group", 50), 36);
        // A supplementary character is two UTF-16 code units (0xD83D, 0xDE00).
        assert_eq!(java_string_hash("\u{1F600}"), 0xD83D * 31 + 0xDE00);
    }

    #[test]
    fn partition_uses_kafka_abs() {
        assert_eq!(partition_for_group("hello", 50), 99_162_322 % 50);
        // "polygenelubricants" hashes to i32::MIN in Java: Kafka's abs gives 0.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(partition_for_group("polygenelubricants", 50), 0);
        // A negative hash is masked, not negated.
        let h = java_string_hash("my-group-with-negative-hash-xyz");
        assert_eq!(
            partition_for_group("my-group-with-negative-hash-xyz", 50),
            (h & 0x7fff_ffff) % 50
        );
    }
}
