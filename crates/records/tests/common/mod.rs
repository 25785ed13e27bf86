//! Helpers shared by the integration tests: hand-edited batches with a fixed-up CRC.
#![allow(dead_code)]

use strom_records::header::{compute_crc, OFFSET_BATCH_LENGTH, OFFSET_CRC};
use strom_records::{BATCH_HEADER_LEN, LOG_OVERHEAD};

pub const NOW: i64 = 1_700_000_000_000;

/// Recomputes the CRC of a complete batch after an edit.
pub fn fix_crc(batch: &mut [u8]) {
    let crc = compute_crc(batch);
    batch[OFFSET_CRC..OFFSET_CRC + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Writes `value` at `at`, then fixes the CRC.
pub fn patch(batch: &mut [u8], at: usize, value: &[u8]) {
    batch[at..at + value.len()].copy_from_slice(value);
    fix_crc(batch);
}

/// Replaces the records section (keeping header fields), fixing length and CRC.
pub fn with_section(batch: &[u8], section: &[u8]) -> Vec<u8> {
    let mut out = batch[..BATCH_HEADER_LEN].to_vec();
    out.extend_from_slice(section);
    let len = (out.len() - LOG_OVERHEAD) as i32;
    out[OFFSET_BATCH_LENGTH..OFFSET_BATCH_LENGTH + 4].copy_from_slice(&len.to_be_bytes());
    fix_crc(&mut out);
    out
}
