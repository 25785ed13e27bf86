//! Produce-path validation cases, one Kafka rule per test.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use common::{fix_crc, patch, with_section, NOW};
use strom_records::header::{
    compute_crc, BatchHeader, OFFSET_ATTRIBUTES, OFFSET_BASE_OFFSET, OFFSET_BASE_SEQUENCE,
    OFFSET_LAST_OFFSET_DELTA, OFFSET_MAGIC, OFFSET_MAX_TIMESTAMP, OFFSET_RECORDS_COUNT,
};
use strom_records::varint::{encode_varint, encode_varlong};
use strom_records::*;

fn config() -> ValidationConfig {
    ValidationConfig::default()
}

fn batch_at(codec: Compression, timestamps: &[i64]) -> Vec<u8> {
    let mut builder = RecordBatchBuilder::new(codec);
    for (i, &ts) in timestamps.iter().enumerate() {
        builder.append(ts, Some(format!("k{i}").as_bytes()), Some(b"value"), &[]);
    }
    builder.build().unwrap()
}

fn simple(codec: Compression) -> Vec<u8> {
    batch_at(codec, &[NOW - 10, NOW, NOW - 5])
}

fn code(bytes: &[u8], config: &ValidationConfig) -> i16 {
    validate_batches(bytes, config, NOW)
        .expect_err("validation should fail")
        .kafka_error_code()
}

/// Encodes a record with the given offset delta and optional key (value "v", no headers).
fn raw_record(offset_delta: i32, key: Option<&[u8]>) -> Vec<u8> {
    let mut body = vec![0u8];
    encode_varlong(0, &mut body);
    encode_varint(offset_delta, &mut body);
    match key {
        Some(k) => {
            encode_varint(k.len() as i32, &mut body);
            body.extend_from_slice(k);
        }
        None => encode_varint(-1, &mut body),
    }
    encode_varint(1, &mut body);
    body.push(b'v');
    encode_varint(0, &mut body);
    let mut out = Vec::new();
    encode_varint(body.len() as i32, &mut out);
    out.extend(body);
    out
}

#[test]
fn accepts_every_codec() {
    for codec in Compression::ALL {
        let bytes = simple(codec);
        let validated = validate_batches(&bytes, &config(), NOW).unwrap();
        assert_eq!(validated.len(), 1);
        let batch = validated.batches[0];
        assert_eq!((batch.position, batch.len), (0, bytes.len()));
        assert_eq!(batch.compression, codec);
        assert_eq!(batch.records_count(), 3);
        assert_eq!(batch.max_timestamp, NOW);
        assert_eq!(batch.offset_delta_of_max_timestamp, 1);
        assert_eq!(validated.record_count(), 3);
        assert_eq!(batch.bytes(&bytes), Some(&bytes[..]));
    }
}

#[test]
fn accepts_concatenated_batches() {
    let mut bytes = simple(Compression::None);
    let first = bytes.len();
    bytes.extend(simple(Compression::Zstd));
    let validated = validate_batches(&bytes, &config(), NOW).unwrap();
    assert_eq!(validated.len(), 2);
    assert_eq!(validated.batches[1].position, first);
    assert_eq!(validated.record_count(), 6);
    assert_eq!(validated.last_offset_delta(), 5);
    assert_eq!(validated.max_timestamp(), NOW);
}

#[test]
fn empty_records_are_invalid() {
    assert_eq!(
        validate_batches(&[], &config(), NOW),
        Err(ValidationError::NoBatches)
    );
}

#[test]
fn old_magic_is_invalid_record() {
    for magic in [0u8, 1, 3] {
        let mut bytes = simple(Compression::None);
        bytes[OFFSET_MAGIC] = magic;
        let err = validate_batches(&bytes, &config(), NOW).unwrap_err();
        assert_eq!(
            err,
            ValidationError::UnsupportedMagic {
                batch: 0,
                magic: magic as i8
            }
        );
        assert_eq!(err.kafka_error_code(), 87);
    }
}

#[test]
fn every_truncation_is_corrupt() {
    let bytes = simple(Compression::Gzip);
    for cut in 1..bytes.len() {
        assert_eq!(code(&bytes[..cut], &config()), 2, "cut at {cut}");
    }
    // A truncated second batch fails the request too.
    let mut two = bytes.clone();
    two.extend_from_slice(&bytes[..bytes.len() - 3]);
    let err = validate_batches(&two, &config(), NOW).unwrap_err();
    assert_eq!((err.kafka_error_code(), err.batch()), (2, Some(1)));
}

#[test]
fn length_smaller_than_header_is_corrupt() {
    let mut bytes = simple(Compression::None);
    bytes[8..12].copy_from_slice(&10i32.to_be_bytes());
    assert_eq!(code(&bytes, &config()), 2);
    bytes[8..12].copy_from_slice(&(-1i32).to_be_bytes());
    assert_eq!(code(&bytes, &config()), 2);
}

#[test]
fn nonzero_base_offset_is_invalid_record() {
    let mut bytes = simple(Compression::None);
    bytes[OFFSET_BASE_OFFSET..OFFSET_BASE_OFFSET + 8].copy_from_slice(&5i64.to_be_bytes());
    assert_eq!(code(&bytes, &config()), 87);
}

#[test]
fn oversized_batch_is_message_too_large() {
    let bytes = simple(Compression::None);
    let config = ValidationConfig {
        max_message_bytes: bytes.len() - 1,
        ..config()
    };
    assert_eq!(
        validate_batches(&bytes, &config, NOW),
        Err(ValidationError::MessageTooLarge {
            batch: 0,
            size: bytes.len(),
            max: bytes.len() - 1
        })
    );
    let exact = ValidationConfig {
        max_message_bytes: bytes.len(),
        ..config
    };
    assert!(validate_batches(&bytes, &exact, NOW).is_ok());
}

#[test]
fn crc_mismatch_is_corrupt() {
    let mut bytes = simple(Compression::Snappy);
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    assert_eq!(code(&bytes, &config()), 2);
}

#[test]
fn offset_range_and_count_must_agree() {
    let bytes = simple(Compression::None);
    let mut wrong_delta = bytes.clone();
    patch(
        &mut wrong_delta,
        OFFSET_LAST_OFFSET_DELTA,
        &5i32.to_be_bytes(),
    );
    assert_eq!(code(&wrong_delta, &config()), 87);

    let mut zero = bytes.clone();
    patch(&mut zero, OFFSET_LAST_OFFSET_DELTA, &(-1i32).to_be_bytes());
    patch(&mut zero, OFFSET_RECORDS_COUNT, &0i32.to_be_bytes());
    assert_eq!(code(&zero, &config()), 87);

    // Count and delta agree but the section holds fewer records.
    let mut more = bytes.clone();
    patch(&mut more, OFFSET_LAST_OFFSET_DELTA, &3i32.to_be_bytes());
    patch(&mut more, OFFSET_RECORDS_COUNT, &4i32.to_be_bytes());
    assert_eq!(code(&more, &config()), 87);

    // ...or more records than declared.
    let mut fewer = bytes;
    patch(&mut fewer, OFFSET_LAST_OFFSET_DELTA, &1i32.to_be_bytes());
    patch(&mut fewer, OFFSET_RECORDS_COUNT, &2i32.to_be_bytes());
    assert_eq!(code(&fewer, &config()), 87);
}

#[test]
fn control_batches_from_clients_are_refused() {
    let mut builder = RecordBatchBuilder::new(Compression::None).control(true);
    builder.append(NOW, Some(b"k"), Some(b"v"), &[]);
    assert_eq!(code(&builder.build().unwrap(), &config()), 87);
}

#[test]
fn idempotent_batch_needs_a_sequence() {
    let mut builder = RecordBatchBuilder::new(Compression::None).producer(9, 0, 0);
    builder.append(NOW, None, Some(b"v"), &[]);
    let mut bytes = builder.build().unwrap();
    assert!(validate_batches(&bytes, &config(), NOW).is_ok());
    patch(&mut bytes, OFFSET_BASE_SEQUENCE, &(-1i32).to_be_bytes());
    assert_eq!(code(&bytes, &config()), 87);
}

#[test]
fn unknown_codec_is_unsupported_compression_type() {
    for codec in 5i16..8 {
        let mut bytes = simple(Compression::None);
        patch(&mut bytes, OFFSET_ATTRIBUTES, &codec.to_be_bytes());
        assert_eq!(
            validate_batches(&bytes, &config(), NOW),
            Err(ValidationError::UnsupportedCompression { batch: 0, codec })
        );
        assert_eq!(code(&bytes, &config()), 76);
    }
}

#[test]
fn decompression_bomb_is_refused() {
    let zeros = vec![0u8; 10 * 1024 * 1024];
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let mut builder = RecordBatchBuilder::new(codec);
        builder.append(NOW, None, Some(&zeros), &[]);
        let bytes = builder.build().unwrap();
        let config = ValidationConfig {
            max_decompressed_bytes: 1024 * 1024,
            ..config()
        };
        assert!(
            bytes.len() < config.max_message_bytes,
            "{codec}: {}",
            bytes.len()
        );
        assert_eq!(
            validate_batches(&bytes, &config, NOW),
            Err(ValidationError::DecompressedTooLarge {
                batch: 0,
                limit: 1024 * 1024
            }),
            "{codec}"
        );
    }
}

#[test]
fn undecodable_compressed_section_is_corrupt() {
    let bytes = simple(Compression::Lz4);
    let garbage = with_section(&bytes, b"definitely not an lz4 frame");
    assert_eq!(code(&garbage, &config()), 2);
}

#[test]
fn offset_deltas_must_count_up_from_zero() {
    let template = simple(Compression::None);
    let mut section = raw_record(0, Some(b"a"));
    section.extend(raw_record(2, Some(b"b")));
    section.extend(raw_record(3, Some(b"c")));
    let bytes = with_section(&template, &section);
    let err = validate_batches(&bytes, &config(), NOW).unwrap_err();
    assert_eq!(err.kafka_error_code(), 87);
    assert_eq!(err.record_errors()[0].batch_index, 1);

    // The same inside a compressed section.
    let packed = compress(Compression::Gzip, &section).unwrap();
    let mut gz = with_section(&template, &packed);
    patch(
        &mut gz,
        OFFSET_ATTRIBUTES,
        &Compression::Gzip.id().to_be_bytes(),
    );
    assert_eq!(code(&gz, &config()), 87);
}

#[test]
fn record_framing_errors_name_the_record() {
    let template = simple(Compression::None);
    let mut section = raw_record(0, Some(b"a"));
    section.extend(raw_record(1, Some(b"b")));
    let mut bad = raw_record(2, Some(b"c"));
    bad[0] += 2; // record length one byte longer than its fields
    bad.push(0);
    section.extend(bad);
    let err = validate_batches(&with_section(&template, &section), &config(), NOW).unwrap_err();
    assert_eq!(err.kafka_error_code(), 87);
    assert_eq!(err.record_errors().len(), 1);
    assert_eq!(err.record_errors()[0].batch_index, 2);
}

#[test]
fn create_time_outside_the_window_is_invalid_timestamp() {
    let bytes = batch_at(
        Compression::Zstd,
        &[NOW, NOW + 3_600_001, NOW - 10, NOW + 7_200_000],
    );
    let err = validate_batches(&bytes, &config(), NOW).unwrap_err();
    assert_eq!(err.kafka_error_code(), 32);
    let indices: Vec<i32> = err.record_errors().iter().map(|e| e.batch_index).collect();
    assert_eq!(indices, [1, 3]);
    assert!(err.record_errors()[0].message.contains("out of range"));

    let before = ValidationConfig {
        max_timestamp_diff_before_ms: 5,
        ..config()
    };
    let old = batch_at(Compression::None, &[NOW - 5, NOW - 6]);
    let err = validate_batches(&old, &before, NOW).unwrap_err();
    assert_eq!(
        (err.kafka_error_code(), err.record_errors()[0].batch_index),
        (32, 1)
    );

    // Extreme timestamps do not overflow the window arithmetic.
    let extreme = batch_at(Compression::None, &[i64::MIN, i64::MAX]);
    assert_eq!(code(&extreme, &config()), 32);
}

#[test]
fn records_without_timestamp_are_not_checked() {
    let bytes = batch_at(Compression::None, &[-1, -1]);
    let validated = validate_batches(&bytes, &config(), NOW).unwrap();
    assert_eq!(validated.batches[0].max_timestamp, NO_TIMESTAMP);
}

#[test]
fn log_append_time_topics_accept_any_create_time() {
    let mut bytes = batch_at(Compression::None, &[0, NOW + 10 * 3_600_000]);
    let config = ValidationConfig {
        timestamp_type: TimestampType::LogAppendTime,
        ..config()
    };
    let validated = validate_batches(&bytes, &config, NOW).unwrap();
    validated.assign_max_timestamps(&mut bytes, TimestampType::LogAppendTime, NOW);
    let header = BatchHeader::parse(&bytes).unwrap();
    assert!(header.is_log_append_time());
    assert_eq!(header.max_timestamp, NOW);
    assert_eq!(header.base_timestamp, 0);
    assert_eq!(header.crc, compute_crc(&bytes));
}

#[test]
fn clients_may_not_send_log_append_time_batches() {
    let mut bytes = simple(Compression::None);
    stamp_log_append_time(&mut bytes, NOW);
    for timestamp_type in [TimestampType::CreateTime, TimestampType::LogAppendTime] {
        let config = ValidationConfig {
            timestamp_type,
            ..config()
        };
        let result = validate_batches(&bytes, &config, NOW);
        if timestamp_type == TimestampType::LogAppendTime {
            assert_eq!(result.unwrap_err().kafka_error_code(), 32);
        } else {
            // Kafka checks the batch max timestamp as every record's timestamp here.
            assert!(result.is_ok());
        }
    }
}

#[test]
fn wrong_header_max_timestamp_is_fixed_not_refused() {
    let mut bytes = simple(Compression::Gzip);
    patch(&mut bytes, OFFSET_MAX_TIMESTAMP, &(NOW - 100).to_be_bytes());
    let validated = validate_batches(&bytes, &config(), NOW).unwrap();
    assert_eq!(validated.batches[0].max_timestamp, NOW);
    validated.assign_max_timestamps(&mut bytes, TimestampType::CreateTime, NOW + 1);
    let header = BatchHeader::parse(&bytes).unwrap();
    assert!(!header.is_log_append_time());
    assert_eq!(header.max_timestamp, NOW);
    assert_eq!(bytes, simple(Compression::Gzip));
}

#[test]
fn compacted_topics_require_keys() {
    let mut builder = RecordBatchBuilder::new(Compression::Snappy);
    builder
        .append(NOW, Some(b"k"), Some(b"v"), &[])
        .append(NOW, None, Some(b"v"), &[])
        .append(NOW, None, None, &[]);
    let bytes = builder.build().unwrap();
    assert!(validate_batches(&bytes, &config(), NOW).is_ok());
    let config = ValidationConfig {
        require_keys: true,
        ..config()
    };
    let err = validate_batches(&bytes, &config, NOW).unwrap_err();
    assert_eq!(err.kafka_error_code(), 87);
    let indices: Vec<i32> = err.record_errors().iter().map(|e| e.batch_index).collect();
    assert_eq!(indices, [1, 2]);
    assert!(err.error_message().contains("2 record errors"));
}

#[test]
fn partition_leader_epoch_is_not_covered_by_crc() {
    let mut bytes = simple(Compression::None);
    header::set_partition_leader_epoch(&mut bytes, 77);
    assert!(validate_batches(&bytes, &config(), NOW).is_ok());
    fix_crc(&mut bytes); // no-op: the epoch is outside the CRC
    assert_eq!(
        BatchHeader::parse(&bytes).unwrap().partition_leader_epoch,
        77
    );
}
