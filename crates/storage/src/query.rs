//! Looking inside one stored batch for ListOffsets: the first record at or after a timestamp,
//! and the record holding the batch's max timestamp. Thin wrappers over `strom_records::query`
//! that add the log-start bound and flatten the error into a message (the caller knows the file
//! and position and reports it as `Corrupt`).

use strom_records::record::RecordIter;
use strom_records::{OffsetAndTimestamp, RecordBatch};

fn pair(r: OffsetAndTimestamp) -> (i64, i64) {
    (r.offset, r.timestamp)
}

/// `(offset, timestamp)` of the first record of `batch` (in offset order) with
/// `timestamp >= ts` and `offset >= min_offset`.
pub fn first_record_at_or_after(
    batch: &[u8],
    ts: i64,
    min_offset: i64,
    max_decompressed: usize,
) -> Result<Option<(i64, i64)>, String> {
    let found = strom_records::first_record_at_or_after(batch, ts, max_decompressed)
        .map_err(|e| e.to_string())?;
    match found {
        Some(r) if r.offset < min_offset => {
            // Only the batch straddling the log start offset gets here: walk it record by record.
            let b = RecordBatch::parse(batch).map_err(|e| e.to_string())?;
            let h = *b.header();
            let section = b
                .decompressed_records(max_decompressed)
                .map_err(|e| e.to_string())?;
            for rec in RecordIter::new(&section) {
                let rec = rec.map_err(|e| e.to_string())?;
                let (o, t) = (rec.offset(h.base_offset), rec.timestamp(&h));
                if o >= min_offset && t >= ts {
                    return Ok(Some((o, t)));
                }
            }
            Ok(None)
        }
        other => Ok(other.map(pair)),
    }
}

/// `(offset, timestamp)` of the first record carrying the batch's max timestamp.
pub fn max_timestamp_record(
    batch: &[u8],
    max_decompressed: usize,
) -> Result<Option<(i64, i64)>, String> {
    strom_records::max_timestamp_record(batch, max_decompressed)
        .map(|r| r.map(pair))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use strom_records::{Compression, RecordBatchBuilder};

    fn batch(base: i64, ts: &[i64]) -> Vec<u8> {
        let mut b = RecordBatchBuilder::new(Compression::None).base_offset(base);
        for &t in ts {
            b.append(t, None, Some(b"v"), &[]);
        }
        b.build().unwrap()
    }

    #[test]
    fn respects_min_offset() {
        let b = batch(10, &[5, 1, 7, 9]);
        assert_eq!(
            first_record_at_or_after(&b, 5, 0, 1 << 20),
            Ok(Some((10, 5)))
        );
        assert_eq!(
            first_record_at_or_after(&b, 5, 11, 1 << 20),
            Ok(Some((12, 7)))
        );
        assert_eq!(
            first_record_at_or_after(&b, 8, 0, 1 << 20),
            Ok(Some((13, 9)))
        );
        assert_eq!(first_record_at_or_after(&b, 10, 0, 1 << 20), Ok(None));
        assert_eq!(max_timestamp_record(&b, 1 << 20), Ok(Some((13, 9))));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(max_timestamp_record(&[1, 2, 3], 1 << 20).is_err());
        let mut b = batch(0, &[1, 2]);
        let n = b.len();
        b[n - 3] = 0xff;
        let _ = first_record_at_or_after(&b, 0, 1, 1 << 20);
    }
}
