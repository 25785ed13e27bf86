//! Property tests of `filter_batch` (the log cleaner's rewrite): random records, keep masks,
//! codecs and options against a model of Kafka's rules; and damaged or random batches never
//! panic, while anything rewritten reads back as a valid batch.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use common::{with_section, NOW};
use proptest::prelude::*;
use strom_records::header::{OFFSET_BATCH_LENGTH, OFFSET_MAGIC};
use strom_records::*;

type Bytes = Option<Vec<u8>>;

const CAP: usize = 1 << 16;

#[derive(Debug, Clone, PartialEq, Eq)]
struct TestRecord {
    timestamp: i64,
    key: Bytes,
    value: Bytes,
    headers: Vec<(Vec<u8>, Bytes)>,
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn record() -> impl Strategy<Value = TestRecord> {
    (
        prop_oneof![
            1 => Just(NO_TIMESTAMP),
            8 => NOW - 3_600_000..NOW + 3_600_000,
        ],
        proptest::option::of(bytes(16)),
        proptest::option::weighted(0.7, bytes(40)),
        proptest::collection::vec((bytes(8), proptest::option::of(bytes(8))), 0..3),
    )
        .prop_map(|(timestamp, key, value, headers)| TestRecord {
            timestamp,
            key,
            value,
            headers,
        })
}

fn codec() -> impl Strategy<Value = Compression> {
    proptest::sample::select(Compression::ALL.to_vec())
}

#[derive(Debug, Clone)]
struct Shape {
    codec: Compression,
    base_offset: i64,
    transactional: bool,
    log_append_time: Option<i64>,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        codec(),
        0i64..1 << 40,
        any::<bool>(),
        proptest::option::of(NOW..NOW + 1_000),
    )
        .prop_map(
            |(codec, base_offset, transactional, log_append_time)| Shape {
                codec,
                base_offset,
                transactional,
                log_append_time,
            },
        )
}

fn build(shape: &Shape, records: &[TestRecord]) -> Vec<u8> {
    let mut builder = RecordBatchBuilder::new(shape.codec)
        .base_offset(shape.base_offset)
        .partition_leader_epoch(3)
        .producer(4, 2, 10)
        .transactional(shape.transactional);
    for r in records {
        let headers: Vec<(&[u8], Option<&[u8]>)> = r
            .headers
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_deref()))
            .collect();
        builder.append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &headers);
    }
    let mut bytes = builder.build().unwrap();
    if let Some(now) = shape.log_append_time {
        stamp_log_append_time(&mut bytes, now);
    }
    bytes
}

/// Reads a batch back: its header and `(offset, record)` pairs, checking the framing.
fn read_back(bytes: &[u8]) -> (BatchHeader, Vec<(i64, TestRecord)>) {
    let batch = RecordBatch::parse(bytes).unwrap();
    assert_eq!(batch.size_in_bytes(), bytes.len());
    assert!(batch.is_crc_valid());
    let header = *batch.header();
    let section = batch.decompressed_records(CAP * 4).unwrap();
    let records: Vec<(i64, TestRecord)> = RecordIter::new(&section)
        .map(|r| {
            let r = r.unwrap();
            let record = TestRecord {
                timestamp: r.timestamp(&header),
                key: r.key.map(<[u8]>::to_vec),
                value: r.value.map(<[u8]>::to_vec),
                headers: r
                    .headers
                    .iter()
                    .map(|h| (h.key.to_vec(), h.value.map(<[u8]>::to_vec)))
                    .collect(),
            };
            (r.offset(header.base_offset), record)
        })
        .collect();
    assert_eq!(records.len(), header.records_count as usize);
    (header, records)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn kept_records_read_back_unchanged(
        shape in shape(),
        records in proptest::collection::vec(record(), 1..16),
        mask in proptest::collection::vec(any::<bool>(), 16),
        horizon in proptest::option::of(0i64..2 * NOW),
        retain_empty in any::<bool>(),
    ) {
        let bytes = build(&shape, &records);
        let batch = RecordBatch::parse(&bytes).unwrap();
        let options = FilterOptions {
            max_decompressed_bytes: CAP,
            delete_horizon_ms: horizon,
            retain_empty,
        };
        let mut next_offset = shape.base_offset;
        let outcome = filter_batch(&batch, &options, |_, offset| {
            assert_eq!(offset, next_offset);
            next_offset += 1;
            mask[(offset - shape.base_offset) as usize]
        })
        .unwrap();
        prop_assert_eq!(next_offset, shape.base_offset + records.len() as i64);

        // The model.
        let kept: Vec<(i64, TestRecord)> = records
            .iter()
            .enumerate()
            .filter(|(i, _)| mask[*i])
            .map(|(i, r)| {
                let mut r = r.clone();
                if let Some(now) = shape.log_append_time {
                    r.timestamp = now;
                }
                (shape.base_offset + i as i64, r)
            })
            .collect();
        let tombstone = kept.iter().any(|(_, r)| r.value.is_none());
        let new_horizon = horizon.filter(|_| tombstone);

        let out = match outcome {
            FilterOutcome::Dropped => {
                prop_assert!(kept.is_empty() && !retain_empty);
                return Ok(());
            }
            FilterOutcome::Unchanged => {
                prop_assert_eq!(kept.len(), records.len());
                prop_assert!(new_horizon.is_none());
                return Ok(());
            }
            FilterOutcome::Rewritten(out) => out,
        };
        let (header, read) = read_back(&out);
        prop_assert_eq!(&read, &kept);
        prop_assert_eq!(header.base_offset, shape.base_offset);
        prop_assert_eq!(header.last_offset_delta as usize, records.len() - 1);
        prop_assert_eq!(header.partition_leader_epoch, 3);
        prop_assert_eq!((header.producer_id, header.producer_epoch, header.base_sequence), (4, 2, 10));
        prop_assert_eq!(header.is_transactional(), shape.transactional);
        prop_assert!(!header.is_control());
        prop_assert_eq!(header.is_log_append_time(), shape.log_append_time.is_some());
        let original = batch.header();
        if kept.is_empty() {
            prop_assert!(retain_empty);
            prop_assert_eq!(out.len(), BATCH_HEADER_LEN);
            prop_assert_eq!(header.compression_codec(), 0);
            prop_assert_eq!(header.delete_horizon_ms(), None);
            prop_assert_eq!(header.base_timestamp, NO_TIMESTAMP);
            prop_assert_eq!(header.max_timestamp, original.max_timestamp);
        } else {
            prop_assert!(kept.len() < records.len() || new_horizon.is_some());
            prop_assert_eq!(header.compression_codec(), shape.codec.id());
            prop_assert_eq!(header.delete_horizon_ms(), new_horizon);
            let first = kept[0].1.timestamp;
            prop_assert_eq!(header.base_timestamp, new_horizon.unwrap_or(first));
            let max = match shape.log_append_time {
                Some(now) => now,
                None => kept.iter().map(|(_, r)| r.timestamp).fold(NO_TIMESTAMP, i64::max),
            };
            prop_assert_eq!(header.max_timestamp, max);
        }

        // Filtering the result again with the same options changes nothing.
        let again = RecordBatch::parse(&out).unwrap();
        prop_assert_eq!(
            filter_batch(&again, &options, |_, _| true).unwrap(),
            if kept.is_empty() && !retain_empty { FilterOutcome::Dropped } else { FilterOutcome::Unchanged }
        );
    }

    /// A valid header (length, CRC) over a random records section, compressed or not.
    #[test]
    fn random_sections_never_panic(
        codec in codec(),
        section in bytes(512),
        count in 1i32..8,
        mask in proptest::collection::vec(any::<bool>(), 8),
        horizon in proptest::option::of(any::<i64>()),
        retain_empty in any::<bool>(),
    ) {
        let mut builder = RecordBatchBuilder::new(codec);
        for i in 0..count {
            builder.append(NOW + i64::from(i), None, None, &[]);
        }
        let template = builder.build().unwrap();
        let options = FilterOptions { max_decompressed_bytes: CAP, delete_horizon_ms: horizon, retain_empty };
        check_arbitrary(&with_section(&template, &section), &options, &mask);
        if let Ok(packed) = compress(codec, &section) {
            check_arbitrary(&with_section(&template, &packed), &options, &mask);
        }
    }

    /// Random header fields too: only the magic and the length are made right.
    #[test]
    fn random_batches_never_panic(
        mut input in proptest::collection::vec(any::<u8>(), BATCH_HEADER_LEN..400),
        mask in proptest::collection::vec(any::<bool>(), 8),
        horizon in proptest::option::of(any::<i64>()),
        retain_empty in any::<bool>(),
    ) {
        input[OFFSET_MAGIC] = 2;
        let len = (input.len() - LOG_OVERHEAD) as i32;
        input[OFFSET_BATCH_LENGTH..OFFSET_BATCH_LENGTH + 4].copy_from_slice(&len.to_be_bytes());
        let options = FilterOptions { max_decompressed_bytes: CAP, delete_horizon_ms: horizon, retain_empty };
        check_arbitrary(&input, &options, &mask);
    }

    /// Valid records under random header fields (count, attributes, timestamps, offsets).
    #[test]
    fn random_headers_over_valid_records_never_panic(
        shape in shape(),
        records in proptest::collection::vec(record(), 1..6),
        header in proptest::collection::vec(any::<u8>(), 36),
        mask in proptest::collection::vec(any::<bool>(), 8),
        horizon in proptest::option::of(any::<i64>()),
        retain_empty in any::<bool>(),
    ) {
        let mut bytes = build(&shape, &records);
        // Everything after the CRC up to the records: attributes .. record count.
        bytes[21..57].copy_from_slice(&header);
        common::fix_crc(&mut bytes);
        let options = FilterOptions { max_decompressed_bytes: CAP, delete_horizon_ms: horizon, retain_empty };
        check_arbitrary(&bytes, &options, &mask);
    }
}

/// Filters `input` (if it parses); whatever comes out must be a readable batch.
fn check_arbitrary(input: &[u8], options: &FilterOptions, mask: &[bool]) {
    let Ok(batch) = RecordBatch::parse(input) else {
        return;
    };
    let mut index = 0;
    let outcome = filter_batch(&batch, options, |_, _| {
        index += 1;
        mask.get(index - 1).copied().unwrap_or(true)
    });
    if let Ok(FilterOutcome::Rewritten(out)) = outcome {
        let (header, _) = read_back(&out);
        assert_eq!(header.base_offset, batch.header().base_offset);
        assert_eq!(header.last_offset_delta, batch.header().last_offset_delta);
    }
}
