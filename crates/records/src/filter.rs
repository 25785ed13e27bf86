//! Rewrites a stored v2 batch keeping a subset of its records: the log cleaner's compaction step,
//! following Kafka's `MemoryRecords.filterTo` and `MemoryRecordsBuilder` for magic v2, with the
//! KIP-534 delete horizon.
//!
//! [`filter_batch`] calls a `keep` predicate once per record, in order, then:
//!
//! - every record kept and no delete horizon to add: [`FilterOutcome::Unchanged`]; the caller
//!   copies the original bytes (nothing is allocated here besides decompression);
//! - no record kept: [`FilterOutcome::Dropped`], or, with [`FilterOptions::retain_empty`], an empty
//!   batch written like Kafka's `DefaultRecordBatch.writeEmptyHeader`: 61 bytes, record count 0,
//!   compression none, no delete horizon, base timestamp `NO_TIMESTAMP` (-1), and the original's
//!   max timestamp, timestamp type, transactional and control bits, offsets, producer fields and
//!   leader epoch;
//! - otherwise a new batch, as Kafka's `buildRetainedRecordsInto` writes it: same base offset and
//!   same last offset delta as the original (so the producer's last sequence survives
//!   compaction), same leader epoch, producer id, epoch and base sequence, same transactional,
//!   control and timestamp-type bits, same codec (recompressed with [`compress`]); the kept
//!   records keep their offset deltas, attributes, keys, values and headers (copied as they are).
//!   The base timestamp is the delete horizon when the new batch has one, else the first kept
//!   record's timestamp; each timestamp delta is re-encoded against it so that every record's
//!   timestamp is unchanged. The max timestamp is the max over the kept records, or the original
//!   one for `LogAppendTime` batches (where every record reads as the max timestamp: like Kafka,
//!   the rewritten records' deltas then point at that time).
//!
//! Delete horizon: a batch that has one keeps it. A batch without one gets
//! [`FilterOptions::delete_horizon_ms`] when it is a control batch or a kept record is a
//! tombstone (null value). Kafka sets it on a control batch only when the cleaner found it to be
//! the marker of a now empty transaction (`containsMarkerForEmptyTxn`): the caller passes `None`
//! for other control batches.
//!
//! A rewritten batch has gaps in its offset deltas and fewer records than `last_offset_delta + 1`,
//! and an empty one has no records at all: the stored-batch readers ([`RecordBatch`],
//! [`RecordIter`], [`crate::query`], [`crate::control`]) read them, but the produce-path
//! [`crate::validate`] (client appends only) refuses them, as Kafka's `LogValidator` would.
//!
//! Checking the CRC of the input is the caller's job ([`RecordBatch::is_crc_valid`]). Malformed
//! records, a record count that does not match the records, decompression failures and outputs
//! over `i32::MAX` bytes are errors. They may be found after `keep` has seen earlier records.

use crate::batch::RecordBatch;
use crate::compression::{compress, Compression, CompressionError};
use crate::header::{
    compute_crc, BatchHeader, ATTR_CONTROL, ATTR_DELETE_HORIZON, ATTR_TIMESTAMP_TYPE_LOG_APPEND,
    ATTR_TRANSACTIONAL, BATCH_HEADER_LEN, LOG_OVERHEAD, OFFSET_BATCH_LENGTH, OFFSET_CRC,
};
use crate::record::{Record, RecordFormatError, RecordIter};
use crate::timestamp::NO_TIMESTAMP;
use crate::varint::{
    decode_varint, decode_varlong, encode_varint, encode_varlong, varint_len, varlong_len,
};

/// How [`filter_batch`] treats one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterOptions {
    /// Cap on the decompressed size of a compressed batch (error if exceeded).
    pub max_decompressed_bytes: usize,
    /// If `Some(h)`, the batch has no delete horizon yet and (it is a control batch, or a kept
    /// record is a tombstone, i.e. has a null value): the rewritten batch gets the delete horizon
    /// `h` (attribute bit set, base timestamp = `h`).
    pub delete_horizon_ms: Option<i64>,
    /// If every record is dropped: keep an empty batch (Kafka does this for the last batch of a
    /// producer, to keep its sequence and epoch) instead of dropping the batch.
    pub retain_empty: bool,
}

/// What became of a filtered batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterOutcome {
    /// Every record kept and nothing to change: the caller copies the original bytes as they are.
    Unchanged,
    /// The new batch bytes (a complete batch with a valid CRC).
    Rewritten(Vec<u8>),
    /// Every record dropped and not [`FilterOptions::retain_empty`].
    Dropped,
}

/// Why a batch could not be filtered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// Unknown codec, corrupt or oversized compressed records, or recompression failure.
    #[error(transparent)]
    Compression(#[from] CompressionError),
    #[error("found invalid record count {0} in record batch")]
    InvalidRecordCount(i32),
    #[error("record {index} of the batch: {source}")]
    Record {
        index: usize,
        source: RecordFormatError,
    },
    #[error("incorrect declared batch size: {declared} records declared, {found} present")]
    MissingRecords { declared: usize, found: usize },
    #[error("incorrect declared batch size: more than the {declared} declared records present")]
    ExtraRecords { declared: usize },
    #[error("filtered record batch would be larger than i32::MAX bytes")]
    TooLarge,
}

/// Filters the records of `batch` with `keep(record, offset)`, called once per record in order.
/// See the module documentation for what is kept and how the new batch is written.
pub fn filter_batch(
    batch: &RecordBatch<'_>,
    options: &FilterOptions,
    mut keep: impl FnMut(&Record<'_>, i64) -> bool,
) -> Result<FilterOutcome, FilterError> {
    let header = batch.header();
    let declared = usize::try_from(header.records_count)
        .map_err(|_| FilterError::InvalidRecordCount(header.records_count))?;
    let codec = batch.compression()?;
    // An empty records section is an empty batch whatever the codec (Kafka never reads the stream
    // of a batch declaring no records).
    let section = if batch.records_section().is_empty() {
        std::borrow::Cow::Borrowed(&[][..])
    } else {
        batch.decompressed_records(options.max_decompressed_bytes)?
    };
    let scan = scan(&section, header, declared, &mut keep)?;

    if scan.kept == 0 {
        if !options.retain_empty {
            return Ok(FilterOutcome::Dropped);
        }
        let empty = empty_batch(header)?;
        return Ok(if empty.as_slice() == batch.as_bytes() {
            FilterOutcome::Unchanged
        } else {
            FilterOutcome::Rewritten(empty)
        });
    }

    let existing_horizon = header.delete_horizon_ms();
    let new_horizon = match options.delete_horizon_ms {
        Some(horizon)
            if existing_horizon.is_none() && (header.is_control() || scan.kept_tombstone) =>
        {
            Some(horizon)
        }
        _ => None,
    };
    if scan.kept == scan.total && new_horizon.is_none() {
        return Ok(FilterOutcome::Unchanged);
    }
    rewrite(
        header,
        codec,
        &section,
        &scan,
        existing_horizon.or(new_horizon),
    )
    .map(FilterOutcome::Rewritten)
}

/// Indices of the dropped records, as a bitmap that allocates only at the first drop.
#[derive(Debug, Default)]
struct DropSet {
    words: Vec<u64>,
}

impl DropSet {
    fn insert(&mut self, index: usize) {
        let word = index / 64;
        if self.words.len() <= word {
            self.words.resize(word + 1, 0);
        }
        if let Some(bits) = self.words.get_mut(word) {
            *bits |= 1u64 << (index % 64);
        }
    }

    fn contains(&self, index: usize) -> bool {
        self.words
            .get(index / 64)
            .is_some_and(|bits| bits & (1u64 << (index % 64)) != 0)
    }
}

/// What the first pass over the records learned.
#[derive(Debug)]
struct Scan {
    /// Records in the batch.
    total: usize,
    /// Records kept.
    kept: usize,
    /// Whether a kept record has a null value.
    kept_tombstone: bool,
    /// Timestamp of the first kept record.
    first_kept_timestamp: Option<i64>,
    /// Max timestamp of the kept records (`NO_TIMESTAMP` unless one is larger, like Kafka).
    max_kept_timestamp: i64,
    dropped: DropSet,
}

/// Reads every record once, asking `keep` about each.
fn scan(
    section: &[u8],
    header: &BatchHeader,
    declared: usize,
    keep: &mut impl FnMut(&Record<'_>, i64) -> bool,
) -> Result<Scan, FilterError> {
    let mut scan = Scan {
        total: 0,
        kept: 0,
        kept_tombstone: false,
        first_kept_timestamp: None,
        max_kept_timestamp: NO_TIMESTAMP,
        dropped: DropSet::default(),
    };
    for (index, record) in RecordIter::new(section).enumerate() {
        if index >= declared {
            return Err(FilterError::ExtraRecords { declared });
        }
        let record = record.map_err(|source| FilterError::Record { index, source })?;
        scan.total = index + 1;
        if keep(&record, record.offset(header.base_offset)) {
            let timestamp = record.timestamp(header);
            scan.kept += 1;
            scan.kept_tombstone |= record.value.is_none();
            scan.first_kept_timestamp.get_or_insert(timestamp);
            scan.max_kept_timestamp = scan.max_kept_timestamp.max(timestamp);
        } else {
            scan.dropped.insert(index);
        }
    }
    if scan.total < declared {
        return Err(FilterError::MissingRecords {
            declared,
            found: scan.total,
        });
    }
    Ok(scan)
}

/// The header fields a filtered batch does not take from the original.
struct NewHeader {
    attributes: i16,
    base_timestamp: i64,
    max_timestamp: i64,
    records_count: i32,
}

/// The attribute bits a rewritten batch keeps (Kafka recomputes attributes from these).
const KEPT_ATTRIBUTES: i16 = ATTR_TIMESTAMP_TYPE_LOG_APPEND | ATTR_TRANSACTIONAL | ATTR_CONTROL;

/// Writes the kept records (`scan` has checked them all) into a new batch.
fn rewrite(
    header: &BatchHeader,
    codec: Compression,
    section: &[u8],
    scan: &Scan,
    horizon: Option<i64>,
) -> Result<Vec<u8>, FilterError> {
    let base_timestamp = horizon
        .or(scan.first_kept_timestamp)
        .unwrap_or(NO_TIMESTAMP);
    let max_timestamp = if header.is_log_append_time() {
        header.max_timestamp
    } else {
        scan.max_kept_timestamp
    };
    let mut attributes = codec.id() | (header.attributes & KEPT_ATTRIBUTES);
    if horizon.is_some() {
        attributes |= ATTR_DELETE_HORIZON;
    }
    let fields = NewHeader {
        attributes,
        base_timestamp,
        max_timestamp,
        records_count: i32::try_from(scan.kept).map_err(|_| FilterError::TooLarge)?,
    };
    let mut out = start_batch(header, &fields, section.len());
    match codec {
        Compression::None => write_kept(&mut out, header, section, scan, base_timestamp)?,
        codec => {
            let mut records = Vec::with_capacity(section.len());
            write_kept(&mut records, header, section, scan, base_timestamp)?;
            out.extend_from_slice(&compress(codec, &records)?);
        }
    }
    finish_batch(out)
}

/// Appends the kept records of `section`, their timestamp deltas relative to `base_timestamp`.
fn write_kept(
    out: &mut Vec<u8>,
    header: &BatchHeader,
    section: &[u8],
    scan: &Scan,
    base_timestamp: i64,
) -> Result<(), FilterError> {
    let mut iter = RecordIter::new(section);
    for index in 0.. {
        let start = section.len().saturating_sub(iter.remaining());
        let Some(record) = iter.next() else {
            break;
        };
        let record = record.map_err(|source| FilterError::Record { index, source })?;
        if scan.dropped.contains(index) {
            continue;
        }
        let raw = start
            .checked_add(record.size_in_bytes)
            .and_then(|end| section.get(start..end))
            .ok_or_else(|| malformed(index))?;
        let delta = record.timestamp(header).wrapping_sub(base_timestamp);
        if delta == record.timestamp_delta {
            // The common case: the record's bytes are copied as they are.
            out.extend_from_slice(raw);
        } else {
            write_record(out, raw, &record, delta, index)?;
        }
    }
    Ok(())
}

/// A record that read well in the first pass but not in the second (cannot happen).
fn malformed(index: usize) -> FilterError {
    FilterError::Record {
        index,
        source: RecordFormatError::Truncated { field: "body" },
    }
}

/// Appends `record` (number `index`), whose bytes in the section are `raw`, with timestamp delta
/// `delta`: the bytes after its offset delta (key, value and headers) are copied as they are.
fn write_record(
    out: &mut Vec<u8>,
    raw: &[u8],
    record: &Record<'_>,
    delta: i64,
    index: usize,
) -> Result<(), FilterError> {
    let tail = record_tail(raw).ok_or_else(|| malformed(index))?;
    let body_len = 1 + varlong_len(delta) + varint_len(record.offset_delta) + tail.len();
    let body_len = i32::try_from(body_len).map_err(|_| FilterError::TooLarge)?;
    encode_varint(body_len, out);
    out.push(record.attributes as u8);
    encode_varlong(delta, out);
    encode_varint(record.offset_delta, out);
    out.extend_from_slice(tail);
    Ok(())
}

/// The bytes of a record after its length, attributes, timestamp delta and offset delta.
fn record_tail(raw: &[u8]) -> Option<&[u8]> {
    let (_, used) = decode_varint(raw).ok()?;
    let rest = raw.get(used..)?.get(1..)?; // attributes
    let (_, used) = decode_varlong(rest).ok()?;
    let rest = rest.get(used..)?;
    let (_, used) = decode_varint(rest).ok()?;
    rest.get(used..)
}

/// Kafka's `writeEmptyHeader`: the header of `original` with no records.
fn empty_batch(original: &BatchHeader) -> Result<Vec<u8>, FilterError> {
    let fields = NewHeader {
        attributes: original.attributes & KEPT_ATTRIBUTES,
        base_timestamp: NO_TIMESTAMP,
        max_timestamp: original.max_timestamp,
        records_count: 0,
    };
    finish_batch(start_batch(original, &fields, 0))
}

/// Writes a batch header with the offsets, leader epoch and producer fields of `original`;
/// the batch length and CRC are filled by [`finish_batch`].
fn start_batch(original: &BatchHeader, fields: &NewHeader, records_capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(BATCH_HEADER_LEN.saturating_add(records_capacity));
    out.extend_from_slice(&original.base_offset.to_be_bytes());
    out.extend_from_slice(&[0; 4]); // batch length
    out.extend_from_slice(&original.partition_leader_epoch.to_be_bytes());
    out.push(original.magic as u8);
    out.extend_from_slice(&[0; 4]); // crc
    out.extend_from_slice(&fields.attributes.to_be_bytes());
    out.extend_from_slice(&original.last_offset_delta.to_be_bytes());
    out.extend_from_slice(&fields.base_timestamp.to_be_bytes());
    out.extend_from_slice(&fields.max_timestamp.to_be_bytes());
    out.extend_from_slice(&original.producer_id.to_be_bytes());
    out.extend_from_slice(&original.producer_epoch.to_be_bytes());
    out.extend_from_slice(&original.base_sequence.to_be_bytes());
    out.extend_from_slice(&fields.records_count.to_be_bytes());
    out
}

/// Fills in the batch length and the CRC.
fn finish_batch(mut out: Vec<u8>) -> Result<Vec<u8>, FilterError> {
    let batch_length = out
        .len()
        .checked_sub(LOG_OVERHEAD)
        .and_then(|len| i32::try_from(len).ok())
        .ok_or(FilterError::TooLarge)?;
    write_at(&mut out, OFFSET_BATCH_LENGTH, &batch_length.to_be_bytes());
    let crc = compute_crc(&out);
    write_at(&mut out, OFFSET_CRC, &crc.to_be_bytes());
    Ok(out)
}

fn write_at(out: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(slot) = out.get_mut(at..at + bytes.len()) {
        slot.copy_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::RecordBatchBuilder;
    use crate::control::{build_marker_batch, read_marker, ControlRecordType, EndTxnMarker};
    use crate::header::{OFFSET_ATTRIBUTES, OFFSET_RECORDS_COUNT};
    use crate::query::first_record_at_or_after;
    use crate::timestamp::stamp_log_append_time;
    use crate::validate::{validate_batches, ValidationConfig};

    const MIB: usize = 1 << 20;
    const NOW: i64 = 1_700_000_000_000;

    type Owned = Option<Vec<u8>>;

    /// One record as read back: offset, timestamp, key, value, headers.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Read {
        offset: i64,
        timestamp: i64,
        key: Owned,
        value: Owned,
        headers: Vec<(Vec<u8>, Owned)>,
    }

    fn read(bytes: &[u8]) -> (BatchHeader, Vec<Read>) {
        let batch = RecordBatch::parse(bytes).unwrap();
        assert_eq!(batch.size_in_bytes(), bytes.len());
        assert!(batch.is_crc_valid());
        let header = *batch.header();
        let section = batch.decompressed_records(MIB).unwrap();
        let records: Vec<Read> = RecordIter::new(&section)
            .map(|r| {
                let r = r.unwrap();
                Read {
                    offset: r.offset(header.base_offset),
                    timestamp: r.timestamp(&header),
                    key: r.key.map(<[u8]>::to_vec),
                    value: r.value.map(<[u8]>::to_vec),
                    headers: r
                        .headers
                        .iter()
                        .map(|h| (h.key.to_vec(), h.value.map(<[u8]>::to_vec)))
                        .collect(),
                }
            })
            .collect();
        assert_eq!(records.len(), header.records_count as usize);
        (header, records)
    }

    fn options() -> FilterOptions {
        FilterOptions {
            max_decompressed_bytes: MIB,
            delete_horizon_ms: None,
            retain_empty: false,
        }
    }

    fn with_horizon(horizon: i64) -> FilterOptions {
        FilterOptions {
            delete_horizon_ms: Some(horizon),
            ..options()
        }
    }

    /// Five records at offsets 1000..=1004, the third a tombstone, from producer (7, 3, 100).
    fn sample(codec: Compression) -> Vec<u8> {
        let mut builder = RecordBatchBuilder::new(codec)
            .base_offset(1000)
            .partition_leader_epoch(5)
            .producer(7, 3, 100)
            .transactional(true);
        builder
            .append(NOW, Some(b"k0"), Some(b"v0"), &[(b"h", Some(b"x"))])
            .append(NOW + 30, Some(b"k1"), Some(b"v1"), &[])
            .append(
                NOW - 20,
                Some(b"k2"),
                None,
                &[(b"a", None), (b"b", Some(b""))],
            )
            .append(NOW + 10, None, Some(b"v3"), &[])
            .append(NOW + 5, Some(b"k4"), Some(b"v4"), &[]);
        builder.build().unwrap()
    }

    fn filter(bytes: &[u8], options: &FilterOptions, keep: &[i64]) -> FilterOutcome {
        let batch = RecordBatch::parse(bytes).unwrap();
        filter_batch(&batch, options, |_, offset| keep.contains(&offset)).unwrap()
    }

    fn rewritten(outcome: FilterOutcome) -> Vec<u8> {
        match outcome {
            FilterOutcome::Rewritten(bytes) => bytes,
            other => panic!("expected a rewritten batch, got {other:?}"),
        }
    }

    #[test]
    fn keeping_everything_is_unchanged() {
        for codec in Compression::ALL {
            let bytes = sample(codec);
            let all = [1000, 1001, 1002, 1003, 1004];
            assert_eq!(filter(&bytes, &options(), &all), FilterOutcome::Unchanged);
            // A horizon is only for batches with tombstones or control batches.
            let mut builder = RecordBatchBuilder::new(codec);
            builder.append(NOW, Some(b"k"), Some(b"v"), &[]);
            let plain = builder.build().unwrap();
            assert_eq!(
                filter(&plain, &with_horizon(NOW), &[0]),
                FilterOutcome::Unchanged
            );
        }
    }

    #[test]
    fn keep_sees_every_record_in_order() {
        let bytes = sample(Compression::Zstd);
        let batch = RecordBatch::parse(&bytes).unwrap();
        let mut seen = Vec::new();
        let outcome = filter_batch(&batch, &options(), |record, offset| {
            seen.push((offset, record.key.map(<[u8]>::to_vec)));
            true
        })
        .unwrap();
        assert_eq!(outcome, FilterOutcome::Unchanged);
        let offsets: Vec<i64> = seen.iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, vec![1000, 1001, 1002, 1003, 1004]);
        assert_eq!(seen[3].1, None);
    }

    #[test]
    fn dropped_records_leave_the_rest_unchanged() {
        for codec in Compression::ALL {
            let bytes = sample(codec);
            let (original, all) = read(&bytes);
            // Drop the first and the last: base and last offsets stay.
            let out = rewritten(filter(&bytes, &options(), &[1001, 1002, 1003]));
            let (header, kept) = read(&out);
            assert_eq!(kept, all[1..4].to_vec(), "{codec}");
            assert_eq!(header.base_offset, 1000);
            assert_eq!(header.last_offset_delta, 4);
            assert_eq!(header.last_offset(), original.last_offset());
            assert_eq!(header.records_count, 3);
            assert_eq!(header.compression_codec(), codec.id());
            assert_eq!(header.partition_leader_epoch, 5);
            assert_eq!(
                (
                    header.producer_id,
                    header.producer_epoch,
                    header.base_sequence
                ),
                (7, 3, 100)
            );
            assert!(header.is_transactional() && !header.is_control());
            assert!(!header.is_log_append_time());
            assert_eq!(header.delete_horizon_ms(), None);
            // Base timestamp: the first kept record's; max: over the kept ones.
            assert_eq!(header.base_timestamp, NOW + 30);
            assert_eq!(header.max_timestamp, NOW + 30);

            let out = rewritten(filter(&bytes, &options(), &[1002, 1004]));
            let (header, kept) = read(&out);
            assert_eq!(kept, vec![all[2].clone(), all[4].clone()]);
            assert_eq!(
                (header.base_timestamp, header.max_timestamp),
                (NOW - 20, NOW + 5)
            );
            assert_eq!(header.records_count, 2);
            assert_eq!(header.last_offset_delta, 4);
        }
    }

    #[test]
    fn tombstones_get_the_delete_horizon() {
        for codec in Compression::ALL {
            let bytes = sample(codec);
            let (_, all) = read(&bytes);
            let horizon = NOW + 86_400_000; // later than every record: negative deltas
            let out = rewritten(filter(
                &bytes,
                &with_horizon(horizon),
                &[1000, 1001, 1002, 1003, 1004],
            ));
            let (header, kept) = read(&out);
            assert_eq!(kept, all, "{codec}");
            assert_eq!(header.delete_horizon_ms(), Some(horizon));
            assert_eq!(header.base_timestamp, horizon);
            assert_eq!(header.max_timestamp, NOW + 30);
            assert_ne!(header.attributes & ATTR_DELETE_HORIZON, 0);
            assert_eq!(header.records_count, 5);

            // A second pass keeps the first horizon, whether it drops records or not.
            assert_eq!(
                filter(
                    &out,
                    &with_horizon(horizon + 1),
                    &[1000, 1001, 1002, 1003, 1004]
                ),
                FilterOutcome::Unchanged
            );
            let again = rewritten(filter(&out, &with_horizon(horizon + 1), &[1001, 1002]));
            let (header, kept) = read(&again);
            assert_eq!(header.delete_horizon_ms(), Some(horizon));
            assert_eq!(kept, all[1..3].to_vec());
            assert_eq!(header.last_offset_delta, 4);

            // Dropping every tombstone: no horizon.
            let out = rewritten(filter(&bytes, &with_horizon(horizon), &[1000, 1001]));
            assert_eq!(read(&out).0.delete_horizon_ms(), None);
        }
    }

    #[test]
    fn horizon_earlier_than_the_records() {
        let bytes = sample(Compression::None);
        let (_, all) = read(&bytes);
        let out = rewritten(filter(&bytes, &with_horizon(5), &[1002, 1003]));
        let (header, kept) = read(&out);
        assert_eq!(header.delete_horizon_ms(), Some(5));
        assert_eq!(kept, all[2..4].to_vec());
        assert_eq!(header.max_timestamp, NOW + 10);
    }

    #[test]
    fn control_batch_gets_the_horizon() {
        let marker = EndTxnMarker::new(ControlRecordType::Commit, 9);
        let bytes = build_marker_batch(42, 4, &marker, NOW).unwrap();
        let out = rewritten(filter(&bytes, &with_horizon(NOW + 1_000), &[0]));
        let (header, kept) = read(&out);
        assert!(header.is_control() && header.is_transactional());
        assert_eq!(header.delete_horizon_ms(), Some(NOW + 1_000));
        assert_eq!(kept[0].timestamp, NOW);
        assert_eq!(header.max_timestamp, NOW);
        assert_eq!(
            (
                header.producer_id,
                header.producer_epoch,
                header.base_sequence
            ),
            (42, 4, -1)
        );
        assert_eq!(read_marker(&out), Some(marker));
        // Without a horizon to set, nothing changes.
        assert_eq!(filter(&bytes, &options(), &[0]), FilterOutcome::Unchanged);
        assert_eq!(
            filter(&out, &with_horizon(NOW + 5_000), &[0]),
            FilterOutcome::Unchanged
        );
    }

    #[test]
    fn dropping_everything() {
        for codec in Compression::ALL {
            let bytes = sample(codec);
            let (original, _) = read(&bytes);
            assert_eq!(filter(&bytes, &options(), &[]), FilterOutcome::Dropped);
            let retain = FilterOptions {
                retain_empty: true,
                ..with_horizon(NOW)
            };
            let empty = rewritten(filter(&bytes, &retain, &[]));
            assert_eq!(empty.len(), BATCH_HEADER_LEN);
            let (header, records) = read(&empty);
            assert!(records.is_empty());
            assert_eq!(header.records_count, 0);
            assert_eq!(header.compression_codec(), 0);
            assert_eq!(header.base_offset, 1000);
            assert_eq!(header.last_offset_delta, 4);
            assert_eq!(header.partition_leader_epoch, 5);
            assert_eq!(
                (
                    header.producer_id,
                    header.producer_epoch,
                    header.base_sequence
                ),
                (7, 3, 100)
            );
            assert!(header.is_transactional() && !header.is_control());
            assert_eq!(header.delete_horizon_ms(), None);
            assert_eq!(header.base_timestamp, NO_TIMESTAMP);
            assert_eq!(header.max_timestamp, original.max_timestamp);
            let batch = RecordBatch::parse(&empty).unwrap();
            assert_eq!(batch.uncompressed_records().unwrap().count(), 0);
            assert_eq!(first_record_at_or_after(&empty, 0, MIB).unwrap(), None);

            // Filtering it again: unchanged, or dropped.
            assert_eq!(filter(&empty, &retain, &[]), FilterOutcome::Unchanged);
            assert_eq!(filter(&empty, &options(), &[]), FilterOutcome::Dropped);
            // Client appends never carry empty batches: validation refuses them.
            let mut as_sent = empty.clone();
            as_sent[..8].copy_from_slice(&0i64.to_be_bytes());
            assert!(validate_batches(&as_sent, &ValidationConfig::default(), NOW).is_err());
        }
    }

    #[test]
    fn empty_batch_of_a_batch_with_a_horizon_drops_it() {
        let bytes = sample(Compression::Lz4);
        let with = rewritten(filter(&bytes, &with_horizon(NOW * 2), &[1000, 1002]));
        let retain = FilterOptions {
            retain_empty: true,
            ..options()
        };
        let empty = rewritten(filter(&with, &retain, &[]));
        let (header, _) = read(&empty);
        assert_eq!(header.delete_horizon_ms(), None);
        assert_eq!(header.max_timestamp, NOW);
        assert_eq!(header.attributes & ATTR_DELETE_HORIZON, 0);
    }

    #[test]
    fn log_append_time_batches_keep_their_max_timestamp() {
        for codec in Compression::ALL {
            let mut bytes = sample(codec);
            stamp_log_append_time(&mut bytes, NOW + 500);
            let out = rewritten(filter(&bytes, &options(), &[1001, 1003]));
            let (header, kept) = read(&out);
            assert!(header.is_log_append_time());
            assert_eq!(header.max_timestamp, NOW + 500);
            assert!(kept.iter().all(|r| r.timestamp == NOW + 500));
            assert_eq!(
                kept.iter().map(|r| r.offset).collect::<Vec<_>>(),
                vec![1001, 1003]
            );
            let out = rewritten(filter(&bytes, &with_horizon(NOW + 9_000), &[1002]));
            let (header, kept) = read(&out);
            assert!(header.is_log_append_time());
            assert_eq!(header.delete_horizon_ms(), Some(NOW + 9_000));
            assert_eq!(header.max_timestamp, NOW + 500);
            assert_eq!(kept[0].timestamp, NOW + 500);
            assert_eq!(kept[0].value, None);
        }
    }

    #[test]
    fn decompression_cap_is_an_error() {
        let mut builder = RecordBatchBuilder::new(Compression::Gzip);
        builder.append(NOW, None, Some(&[0u8; 10_000]), &[]);
        let bytes = builder.build().unwrap();
        let batch = RecordBatch::parse(&bytes).unwrap();
        let small = FilterOptions {
            max_decompressed_bytes: 1_000,
            ..options()
        };
        assert!(matches!(
            filter_batch(&batch, &small, |_, _| true),
            Err(FilterError::Compression(
                CompressionError::DecompressedTooLarge { .. }
            ))
        ));
    }

    #[test]
    fn wrong_record_counts_and_codecs_are_errors() {
        let bytes = sample(Compression::None);
        let patched = |at: usize, value: &[u8]| {
            let mut copy = bytes.clone();
            copy[at..at + value.len()].copy_from_slice(value);
            copy
        };
        let run = |bytes: &[u8]| {
            let batch = RecordBatch::parse(bytes).unwrap();
            filter_batch(&batch, &options(), |_, _| false)
        };
        assert_eq!(
            run(&patched(OFFSET_RECORDS_COUNT, &6i32.to_be_bytes())),
            Err(FilterError::MissingRecords {
                declared: 6,
                found: 5
            })
        );
        assert_eq!(
            run(&patched(OFFSET_RECORDS_COUNT, &4i32.to_be_bytes())),
            Err(FilterError::ExtraRecords { declared: 4 })
        );
        assert_eq!(
            run(&patched(OFFSET_RECORDS_COUNT, &(-1i32).to_be_bytes())),
            Err(FilterError::InvalidRecordCount(-1))
        );
        assert_eq!(
            run(&patched(OFFSET_ATTRIBUTES, &6i16.to_be_bytes())),
            Err(FilterError::Compression(CompressionError::UnknownCodec(6)))
        );
        // Cut a record short: the batch is shorter, the record framing broken.
        let mut cut = bytes[..bytes.len() - 1].to_vec();
        let len = (cut.len() - LOG_OVERHEAD) as i32;
        cut[OFFSET_BATCH_LENGTH..OFFSET_BATCH_LENGTH + 4].copy_from_slice(&len.to_be_bytes());
        assert!(matches!(
            run(&cut),
            Err(FilterError::Record { index: 4, .. })
        ));
    }

    #[test]
    fn drop_set_tracks_indices() {
        let mut set = DropSet::default();
        assert!(!set.contains(0));
        assert!(set.words.is_empty());
        for i in [0, 63, 64, 200] {
            set.insert(i);
        }
        for i in 0..300 {
            assert_eq!(set.contains(i), [0, 63, 64, 200].contains(&i), "{i}");
        }
    }
}
