//! The sparse offset index of one segment, kept in memory.
//!
//! Each entry maps the last offset of a batch (relative to the segment's base offset) to the file
//! position where that batch starts. On disk: `relative_offset u32 BE` + `position u32 BE`, 8 bytes
//! an entry. Entries are strictly increasing in both fields, so a lookup for offset `o` returns a
//! position at or before the batch containing `o`.

/// Size of one on-disk entry.
pub const OFFSET_ENTRY_LEN: usize = 8;

/// One index entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetEntry {
    pub relative_offset: u32,
    pub position: u32,
}

/// The offset index of one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetIndex {
    base_offset: i64,
    entries: Vec<OffsetEntry>,
}

impl OffsetIndex {
    pub fn new(base_offset: i64) -> Self {
        OffsetIndex {
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

    /// Absolute offset and position of the last entry.
    pub fn last(&self) -> Option<(i64, u32)> {
        self.entries
            .last()
            .map(|e| (self.base_offset + i64::from(e.relative_offset), e.position))
    }

    /// True when one more entry would make the index larger than `max_bytes`.
    pub fn is_full(&self, max_bytes: u32) -> bool {
        self.entries.len() >= max_bytes as usize / OFFSET_ENTRY_LEN
    }

    /// Adds an entry; ignored (returns false) unless both fields grow and the offset fits.
    pub fn append(&mut self, offset: i64, position: u32) -> bool {
        let Some(rel) = offset
            .checked_sub(self.base_offset)
            .and_then(|r| u32::try_from(r).ok())
        else {
            return false;
        };
        if let Some(last) = self.entries.last() {
            if rel <= last.relative_offset || position <= last.position {
                return false;
            }
        }
        self.entries.push(OffsetEntry {
            relative_offset: rel,
            position,
        });
        true
    }

    /// The entry with the largest offset `<= target` as `(offset, position)`; `(base, 0)` if none.
    pub fn lookup(&self, target: i64) -> (i64, u32) {
        let n = self
            .entries
            .partition_point(|e| self.base_offset + i64::from(e.relative_offset) <= target);
        match n.checked_sub(1).and_then(|i| self.entries.get(i)) {
            Some(e) => (self.base_offset + i64::from(e.relative_offset), e.position),
            None => (self.base_offset, 0),
        }
    }

    /// Drops entries pointing at or beyond `position` (after truncating the log file there).
    pub fn truncate_to_position(&mut self, position: u64) {
        self.entries.retain(|e| u64::from(e.position) < position);
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * OFFSET_ENTRY_LEN);
        for e in &self.entries {
            out.extend_from_slice(&e.relative_offset.to_be_bytes());
            out.extend_from_slice(&e.position.to_be_bytes());
        }
        out
    }

    /// Decodes an index file; checks the size, monotonicity and that positions lie inside a log
    /// of `log_len` bytes.
    pub fn decode(base_offset: i64, bytes: &[u8], log_len: u64) -> Result<Self, String> {
        if bytes.len() % OFFSET_ENTRY_LEN != 0 {
            return Err(format!(
                "size {} is not a multiple of {OFFSET_ENTRY_LEN}",
                bytes.len()
            ));
        }
        let mut idx = OffsetIndex::new(base_offset);
        for chunk in bytes.chunks_exact(OFFSET_ENTRY_LEN) {
            let rel = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let position = u32::from_be_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
            if u64::from(position) >= log_len {
                return Err(format!(
                    "entry position {position} is past the log end {log_len}"
                ));
            }
            if !idx.append(base_offset + i64::from(rel), position) {
                return Err(format!(
                    "entry (relative offset {rel}, position {position}) is not increasing"
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
    fn empty_lookup_is_segment_start() {
        let idx = OffsetIndex::new(100);
        assert_eq!(idx.lookup(150), (100, 0));
        assert_eq!(idx.lookup(0), (100, 0));
    }

    #[test]
    fn append_rejects_non_increasing() {
        let mut idx = OffsetIndex::new(10);
        assert!(idx.append(12, 100));
        assert!(!idx.append(12, 200));
        assert!(!idx.append(13, 100));
        assert!(!idx.append(5, 300));
        assert!(idx.append(20, 300));
        assert_eq!(idx.len(), 2);
    }

    #[test]
    fn decode_rejects_bad_files() {
        assert!(OffsetIndex::decode(0, &[0; 7], 100).is_err());
        let mut idx = OffsetIndex::new(0);
        idx.append(5, 50);
        let bytes = idx.encode();
        assert!(OffsetIndex::decode(0, &bytes, 50).is_err());
        assert_eq!(OffsetIndex::decode(0, &bytes, 51).unwrap(), idx);
        assert!(OffsetIndex::decode(0, &[0; 16], 100).is_err());
    }

    #[test]
    fn is_full_by_bytes() {
        let mut idx = OffsetIndex::new(0);
        assert!(!idx.is_full(16));
        idx.append(1, 1);
        idx.append(2, 2);
        assert!(idx.is_full(16));
    }

    proptest! {
        #[test]
        fn lookup_matches_linear_scan(
            steps in proptest::collection::vec((1u32..50, 1u32..500), 0..60),
            targets in proptest::collection::vec(0i64..4000, 1..20),
        ) {
            let base = 1000i64;
            let mut idx = OffsetIndex::new(base);
            let (mut off, mut pos) = (base, 0u32);
            let mut model = Vec::new();
            for (d_off, d_pos) in steps {
                off += i64::from(d_off);
                pos += d_pos;
                prop_assert!(idx.append(off, pos));
                model.push((off, pos));
            }
            for t in targets {
                let t = t + base - 500;
                let expect = model.iter().rev().find(|(o, _)| *o <= t).copied().unwrap_or((base, 0));
                prop_assert_eq!(idx.lookup(t), expect);
            }
            let decoded = OffsetIndex::decode(base, &idx.encode(), u64::from(pos) + 1).unwrap();
            prop_assert_eq!(decoded, idx);
        }
    }
}
