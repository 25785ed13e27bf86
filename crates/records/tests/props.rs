//! Property tests: build random batches with every codec, validate them, read them back; and
//! check that damaged or random input is refused without panicking.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use common::{with_section, NOW};
use proptest::prelude::*;
use strom_records::header::OFFSET_PARTITION_LEADER_EPOCH;
use strom_records::*;

type Bytes = Option<Vec<u8>>;

#[derive(Debug, Clone)]
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
        -3_600_000i64..3_600_000,
        proptest::option::of(bytes(40)),
        proptest::option::of(bytes(200)),
        proptest::collection::vec((bytes(12), proptest::option::of(bytes(20))), 0..4),
    )
        .prop_map(|(skew, key, value, headers)| TestRecord {
            timestamp: NOW + skew,
            key,
            value,
            headers,
        })
}

fn codec() -> impl Strategy<Value = Compression> {
    proptest::sample::select(Compression::ALL.to_vec())
}

fn build(codec: Compression, records: &[TestRecord]) -> Vec<u8> {
    let mut builder = RecordBatchBuilder::new(codec).producer(4, 2, 10);
    for r in records {
        let headers: Vec<(&[u8], Option<&[u8]>)> = r
            .headers
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_deref()))
            .collect();
        builder.append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &headers);
    }
    builder.build().unwrap()
}

fn config() -> ValidationConfig {
    ValidationConfig::default()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn built_batches_validate_and_read_back(
        codec in codec(),
        records in proptest::collection::vec(record(), 1..20),
    ) {
        let bytes = build(codec, &records);
        let validated = validate_batches(&bytes, &config(), NOW).unwrap();
        let summary = validated.batches[0];
        prop_assert_eq!(summary.records_count() as usize, records.len());
        prop_assert_eq!(summary.compression, codec);
        prop_assert_eq!((summary.producer_id(), summary.producer_epoch(), summary.base_sequence()), (4, 2, 10));
        let max = records.iter().map(|r| r.timestamp).max().unwrap();
        prop_assert_eq!(summary.max_timestamp, max);

        let batch = RecordBatch::parse(&bytes).unwrap();
        let section = batch.decompressed_records(1 << 24).unwrap();
        let read: Vec<Record<'_>> = RecordIter::new(&section).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(read.len(), records.len());
        for (i, (got, want)) in read.iter().zip(&records).enumerate() {
            prop_assert_eq!(got.offset_delta as usize, i);
            prop_assert_eq!(got.timestamp(batch.header()), want.timestamp);
            prop_assert_eq!(got.key, want.key.as_deref());
            prop_assert_eq!(got.value, want.value.as_deref());
            let headers: Vec<(Vec<u8>, Bytes)> = got
                .headers
                .iter()
                .map(|h| (h.key.to_vec(), h.value.map(<[u8]>::to_vec)))
                .collect();
            prop_assert_eq!(&headers, &want.headers);
        }

        let at = first_record_at_or_after(&bytes, max, 1 << 24).unwrap().unwrap();
        prop_assert_eq!(at.timestamp, max);
        prop_assert_eq!(max_timestamp_record(&bytes, 1 << 24).unwrap(), Some(at));
    }

    #[test]
    fn any_single_byte_corruption_is_caught(
        codec in codec(),
        records in proptest::collection::vec(record(), 1..6),
        position in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let mut bytes = build(codec, &records);
        let at = position.index(bytes.len());
        bytes[at] ^= flip;
        let result = validate_batches(&bytes, &config(), NOW);
        if (OFFSET_PARTITION_LEADER_EPOCH..OFFSET_PARTITION_LEADER_EPOCH + 4).contains(&at) {
            // The only header field neither covered by the CRC nor checked for client appends.
            prop_assert!(result.is_ok());
        } else {
            // Base offset: must be 0. Length: truncation or CRC. Magic: unsupported. Rest: CRC.
            prop_assert!(result.is_err(), "flip {flip:#x} at {at} accepted");
        }
    }

    #[test]
    fn truncation_is_corrupt_message(
        codec in codec(),
        records in proptest::collection::vec(record(), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let bytes = build(codec, &records);
        let cut = 1 + cut.index(bytes.len() - 1);
        let err = validate_batches(&bytes[..cut], &config(), NOW).unwrap_err();
        prop_assert_eq!(err.kafka_error_code(), 2, "{}", err);
    }

    /// Fuzz-like: arbitrary bytes never panic, and anything accepted can be read back.
    #[test]
    fn random_bytes_never_panic(input in bytes(512)) {
        check_arbitrary(&input);
    }

    /// Fuzz-like, deeper: a valid header (correct length and CRC) over a random records section,
    /// compressed or not, to exercise the record walker and the decoders.
    #[test]
    fn random_sections_never_panic(codec in codec(), section in bytes(512), count in 1i32..8) {
        let mut builder = RecordBatchBuilder::new(codec);
        for i in 0..count {
            builder.append(NOW + i64::from(i), None, None, &[]);
        }
        let template = builder.build().unwrap();
        check_arbitrary(&with_section(&template, &section));
        if let Ok(packed) = compress(codec, &section) {
            check_arbitrary(&with_section(&template, &packed));
        }
    }
}

fn check_arbitrary(input: &[u8]) {
    let small = ValidationConfig {
        max_decompressed_bytes: 1 << 16,
        ..config()
    };
    if let Ok(validated) = validate_batches(input, &small, NOW) {
        for summary in &validated {
            let batch = RecordBatch::parse(summary.bytes(input).unwrap()).unwrap();
            let section = batch.decompressed_records(1 << 16).unwrap();
            let count = RecordIter::new(&section).filter(Result::is_ok).count();
            assert_eq!(count, summary.records_count() as usize);
        }
    }
    for batch in batches(input).flatten() {
        let _ = first_record_at_or_after(batch.as_bytes(), NOW, 1 << 16);
        let _ = max_timestamp_record(batch.as_bytes(), 1 << 16);
    }
}
