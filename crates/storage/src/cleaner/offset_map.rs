//! The cleaner's offset map: for each key in the dirty section, the offset of its latest record
//! (Kafka's `SkimpyOffsetMap`).
//!
//! Keys are stored as 128-bit XXH3 digests, as Kafka stores MD5 digests: a fixed 24 bytes per
//! key whatever the key's size, so the map's memory is bounded by `log.cleaner.dedupe.buffer.size`.
//! Two keys with the same digest would make the older one's latest record look superseded; with
//! 128 bits that takes about 2^64 keys.

use std::collections::HashMap;

use xxhash_rust::xxh3::xxh3_128;

/// Bytes one entry is charged against the buffer size (digest + offset), as Kafka counts.
pub const BYTES_PER_ENTRY: usize = 16 + 8;

/// Key digest → offset of the latest record with that key.
#[derive(Debug)]
pub struct OffsetMap {
    entries: HashMap<u128, i64>,
    capacity: usize,
    /// Largest offset put into the map, -1 when empty.
    latest_offset: i64,
}

impl OffsetMap {
    /// A map that holds at most `buffer_bytes / 24` keys (at least one).
    pub fn with_buffer_size(buffer_bytes: usize) -> Self {
        OffsetMap {
            entries: HashMap::new(),
            capacity: (buffer_bytes / BYTES_PER_ENTRY).max(1),
            latest_offset: -1,
        }
    }

    /// Records `offset` as the latest for `key` (offsets are put in increasing order).
    pub fn put(&mut self, key: &[u8], offset: i64) {
        let slot = self.entries.entry(xxh3_128(key)).or_insert(offset);
        *slot = (*slot).max(offset);
        self.latest_offset = self.latest_offset.max(offset);
    }

    /// Moves the latest offset up to `offset` (the last offset of every batch walked, keyed or
    /// not: records past it were not mapped and are kept as they are).
    pub fn update_latest_offset(&mut self, offset: i64) {
        self.latest_offset = self.latest_offset.max(offset);
    }

    /// The latest offset of `key`, if it was put.
    pub fn get(&self, key: &[u8]) -> Option<i64> {
        self.entries.get(&xxh3_128(key)).copied()
    }

    /// Whether `additional` more keys may be put without passing the capacity.
    pub fn has_room_for(&self, additional: usize) -> bool {
        self.entries.len().saturating_add(additional) <= self.capacity
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Largest offset put, -1 when empty.
    pub fn latest_offset(&self) -> i64 {
        self.latest_offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_offset_per_key_wins() {
        let mut m = OffsetMap::with_buffer_size(1 << 20);
        m.put(b"a", 1);
        m.put(b"b", 2);
        m.put(b"a", 5);
        assert_eq!(m.get(b"a"), Some(5));
        assert_eq!(m.get(b"b"), Some(2));
        assert_eq!(m.get(b"c"), None);
        assert_eq!(m.len(), 2);
        assert_eq!(m.latest_offset(), 5);
    }

    #[test]
    fn capacity_follows_the_buffer_size() {
        let m = OffsetMap::with_buffer_size(240);
        assert_eq!(m.capacity(), 10);
        assert!(m.has_room_for(10));
        assert!(!m.has_room_for(11));
        assert_eq!(OffsetMap::with_buffer_size(0).capacity(), 1);
    }
}
