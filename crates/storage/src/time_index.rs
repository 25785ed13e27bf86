//! The sparse time index of one segment, kept in memory.
//!
//! Each entry says "the largest timestamp seen up to (and first reached at) this offset".
//! On disk: `timestamp i64 BE` + `relative_offset u32 BE`, 12 bytes an entry. Timestamps are
//! strictly increasing and offsets non-decreasing, so every batch before an entry's offset has a
//! max timestamp smaller than the entry's.

/// Size of one on-disk entry.
pub const TIME_ENTRY_LEN: usize = 12;

/// One index entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeEntry {
    pub timestamp: i64,
    pub relative_offset: u32,
}

/// The time index of one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeIndex {
    base_offset: i64,
    entries: Vec<TimeEntry>,
}

impl TimeIndex {
    pub fn new(base_offset: i64) -> Self {
        TimeIndex {
            base_offset,
            entries: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `(timestamp, absolute offset)` of the last entry.
    pub fn last(&self) -> Option<(i64, i64)> {
        self.entries
            .last()
            .map(|e| (e.timestamp, self.base_offset + i64::from(e.relative_offset)))
    }

    /// True when one more entry would make the index larger than `max_bytes`.
    pub fn is_full(&self, max_bytes: u32) -> bool {
        self.entries.len() >= max_bytes as usize / TIME_ENTRY_LEN
    }

    /// Adds `(timestamp, offset)` if the timestamp grows and the offset does not shrink.
    pub fn maybe_append(&mut self, timestamp: i64, offset: i64) -> bool {
        let Some(rel) = offset
            .checked_sub(self.base_offset)
            .and_then(|r| u32::try_from(r).ok())
        else {
            return false;
        };
        if let Some(last) = self.entries.last() {
            if timestamp <= last.timestamp || rel < last.relative_offset {
                return false;
            }
        }
        self.entries.push(TimeEntry {
            timestamp,
            relative_offset: rel,
        });
        true
    }

    /// The entry with the largest timestamp `<= target` as `(timestamp, offset)`;
    /// `None` when every entry is newer (start scanning at the segment's base).
    pub fn lookup(&self, target: i64) -> Option<(i64, i64)> {
        let n = self.entries.partition_point(|e| e.timestamp <= target);
        let e = n.checked_sub(1).and_then(|i| self.entries.get(i))?;
        Some((e.timestamp, self.base_offset + i64::from(e.relative_offset)))
    }

    /// Drops entries for offsets `>= offset`.
    pub fn truncate_to_offset(&mut self, offset: i64) {
        let base = self.base_offset;
        self.entries
            .retain(|e| base + i64::from(e.relative_offset) < offset);
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * TIME_ENTRY_LEN);
        for e in &self.entries {
            out.extend_from_slice(&e.timestamp.to_be_bytes());
            out.extend_from_slice(&e.relative_offset.to_be_bytes());
        }
        out
    }

    /// Decodes a time index file; checks the size and monotonicity.
    pub fn decode(base_offset: i64, bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() % TIME_ENTRY_LEN != 0 {
            return Err(format!(
                "size {} is not a multiple of {TIME_ENTRY_LEN}",
                bytes.len()
            ));
        }
        let mut idx = TimeIndex::new(base_offset);
        for c in bytes.chunks_exact(TIME_ENTRY_LEN) {
            let ts = i64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            let rel = u32::from_be_bytes([c[8], c[9], c[10], c[11]]);
            if !idx.maybe_append(ts, base_offset + i64::from(rel)) {
                return Err(format!(
                    "entry (timestamp {ts}, relative offset {rel}) is not increasing"
                ));
            }
        }
        Ok(idx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn maybe_append_only_when_growing() {
        let mut t = TimeIndex::new(0);
        assert!(t.maybe_append(100, 3));
        assert!(!t.maybe_append(100, 5));
        assert!(!t.maybe_append(90, 6));
        assert!(t.maybe_append(101, 3));
        assert!(!t.maybe_append(200, 2));
        assert_eq!(t.last(), Some((101, 3)));
    }

    #[test]
    fn lookup_floor() {
        let mut t = TimeIndex::new(10);
        t.maybe_append(100, 12);
        t.maybe_append(200, 20);
        assert_eq!(t.lookup(99), None);
        assert_eq!(t.lookup(100), Some((100, 12)));
        assert_eq!(t.lookup(199), Some((100, 12)));
        assert_eq!(t.lookup(1000), Some((200, 20)));
    }

    #[test]
    fn truncate_and_decode() {
        let mut t = TimeIndex::new(10);
        t.maybe_append(100, 12);
        t.maybe_append(200, 20);
        assert_eq!(TimeIndex::decode(10, &t.encode()).unwrap(), t);
        assert!(TimeIndex::decode(10, &[0; 13]).is_err());
        t.truncate_to_offset(20);
        assert_eq!(t.last(), Some((100, 12)));
        let mut dup = t.encode();
        dup.extend_from_slice(&t.encode());
        assert!(TimeIndex::decode(10, &dup).is_err());
    }

    proptest! {
        #[test]
        fn lookup_matches_model(
            steps in proptest::collection::vec((1i64..100, 0u32..10), 0..50),
            targets in proptest::collection::vec(-100i64..3000, 1..20),
        ) {
            let mut t = TimeIndex::new(0);
            let (mut ts, mut off) = (0i64, 0i64);
            let mut model = Vec::new();
            for (dts, doff) in steps {
                ts += dts;
                off += i64::from(doff);
                prop_assert!(t.maybe_append(ts, off));
                model.push((ts, off));
            }
            for target in targets {
                let expect = model.iter().rev().find(|(x, _)| *x <= target).copied();
                prop_assert_eq!(t.lookup(target), expect);
            }
        }
    }
}
