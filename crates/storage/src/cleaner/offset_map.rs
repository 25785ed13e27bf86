//! The cleaner's offset map: for each key in the dirty section, the offset of its latest record
//! (Kafka's `SkimpyOffsetMap`).
//!
//! Keys are stored as 128-bit XXH3 digests, as Kafka stores MD5 digests: a fixed size per key
//! whatever the key, so the map's memory is bounded by `log.cleaner.dedupe.buffer.size`. The
//! digest is seeded afresh for every cleaning, so no one can choose keys that collide on purpose;
//! an accidental collision (which would make the older key's latest record look superseded)
//! takes about 2^64 keys.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use xxhash_rust::xxh3::xxh3_128_with_seed;

/// Bytes one entry is charged against the buffer size: a 32-byte bucket (digest and offset,
/// aligned), its control byte, the table's 7/8 load factor and its growth by doubling.
pub const BYTES_PER_ENTRY: usize = 48;

/// The digests are uniformly distributed already: their low bits are the bucket hash.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u128(&mut self, digest: u128) {
        self.0 = digest as u64;
    }
}

/// Key digest → offset of the latest record with that key.
pub struct OffsetMap {
    entries: HashMap<u128, i64, BuildHasherDefault<DigestHasher>>,
    capacity: usize,
    seed: u64,
    /// Largest offset walked (keyed or not), -1 when none.
    latest_offset: i64,
}

impl std::fmt::Debug for OffsetMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OffsetMap")
            .field("keys", &self.entries.len())
            .field("capacity", &self.capacity)
            .field("latest_offset", &self.latest_offset)
            .finish()
    }
}

impl OffsetMap {
    /// A map that holds at most `buffer_bytes / 48` keys (at least one), digesting with `seed`.
    pub fn with_buffer_size(buffer_bytes: usize, seed: u64) -> Self {
        OffsetMap {
            entries: HashMap::default(),
            capacity: (buffer_bytes / BYTES_PER_ENTRY).max(1),
            seed,
            latest_offset: -1,
        }
    }

    /// Records `offset` as the latest for `key` (offsets are put in increasing order).
    pub fn put(&mut self, key: &[u8], offset: i64) {
        let slot = self
            .entries
            .entry(xxh3_128_with_seed(key, self.seed))
            .or_insert(offset);
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
        self.entries
            .get(&xxh3_128_with_seed(key, self.seed))
            .copied()
    }

    /// Whether the map holds its capacity of keys: the walk stops before the next batch (which
    /// may still go over by the keys of one batch).
    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.capacity
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

    /// Largest offset walked, -1 when none.
    pub fn latest_offset(&self) -> i64 {
        self.latest_offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_offset_per_key_wins() {
        let mut m = OffsetMap::with_buffer_size(1 << 20, 7);
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
        let mut m = OffsetMap::with_buffer_size(480, 1);
        assert_eq!(m.capacity(), 10);
        for k in 0..9u8 {
            m.put(&[k], i64::from(k));
        }
        assert!(!m.is_full());
        m.put(b"x", 9);
        assert!(m.is_full());
        assert_eq!(OffsetMap::with_buffer_size(0, 1).capacity(), 1);
    }
}
