//! Feeds arbitrary bytes to the produce-path validator, then walks whatever it accepted, and
//! runs the ListOffsets look-ups on every complete batch. Nothing may panic, and an accepted
//! batch must read back with exactly its declared number of records.
//!
//! Random bytes rarely carry a valid CRC, so the input is also wrapped as the records section
//! of a well-formed header (codec and record count from the first byte, CRC fixed up) to reach
//! the decoders and the record walker.
#![no_main]

use strom_records::header::{compute_crc, OFFSET_BATCH_LENGTH, OFFSET_CRC};
use strom_records::{
    batches, first_record_at_or_after, max_timestamp_record, validate_batches, Compression,
    RecordBatch, RecordBatchBuilder, RecordIter, TimestampType, ValidationConfig, BATCH_HEADER_LEN,
    LOG_OVERHEAD,
};

const NOW: i64 = 1_700_000_000_000;
const CAP: usize = 1 << 20;

fn exercise(data: &[u8]) {
    let config = ValidationConfig {
        max_decompressed_bytes: CAP,
        ..ValidationConfig::default()
    };
    if let Ok(validated) = validate_batches(data, &config, NOW) {
        for summary in &validated {
            let bytes = summary
                .bytes(data)
                .expect("validated batch lies inside the input");
            let batch = RecordBatch::parse(bytes).expect("validated batch parses");
            let section = batch
                .decompressed_records(CAP)
                .expect("validated batch decompresses");
            let mut count = 0;
            for record in RecordIter::new(&section) {
                let record = record.expect("validated records parse");
                count += 1;
                let _ = record.headers.iter().count();
            }
            assert_eq!(count, summary.records_count() as usize);
        }
        let mut stamped = data.to_vec();
        validated.assign_max_timestamps(&mut stamped, TimestampType::LogAppendTime, NOW);
    }
    for batch in batches(data).flatten() {
        let _ = first_record_at_or_after(batch.as_bytes(), NOW, CAP);
        let _ = max_timestamp_record(batch.as_bytes(), CAP);
        if let Ok(section) = batch.decompressed_records(CAP) {
            for _ in RecordIter::new(&section) {}
        }
    }
}

/// A valid header (codec and record count chosen by `selector`) over `section`.
fn wrap(selector: u8, section: &[u8]) -> Option<Vec<u8>> {
    let codec = Compression::ALL[usize::from(selector & 7) % Compression::ALL.len()];
    let mut builder = RecordBatchBuilder::new(codec);
    for i in 0..=(selector >> 3) {
        builder.append(NOW + i64::from(i), None, None, &[]);
    }
    let mut batch = builder.build().ok()?;
    batch.truncate(BATCH_HEADER_LEN);
    batch.extend_from_slice(section);
    let len = i32::try_from(batch.len() - LOG_OVERHEAD).ok()?;
    batch[OFFSET_BATCH_LENGTH..OFFSET_BATCH_LENGTH + 4].copy_from_slice(&len.to_be_bytes());
    let crc = compute_crc(&batch);
    batch[OFFSET_CRC..OFFSET_CRC + 4].copy_from_slice(&crc.to_be_bytes());
    Some(batch)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    exercise(data);
    if let Some((&selector, section)) = data.split_first() {
        if let Some(batch) = wrap(selector, section) {
            exercise(&batch);
        }
    }
});
