//! Micro-benchmarks of the wire layer's hot paths: decoding a Produce request carrying a
//! 16 KiB batch (the batch stays a slice of the frame) and encoding a Fetch response carrying
//! 1 MiB of batches.
//!
//! `cargo bench -p strom-protocol --bench wire`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use strom_protocol::client::encode_request;
use strom_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use strom_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use strom_protocol::messages::{FetchResponse, ProduceRequest, ResponseKind, TopicName};
use strom_protocol::{decode_request, encode_response, StrBytes};

fn produce_frame(batch_bytes: usize) -> Bytes {
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("bench")))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(Bytes::from(vec![0u8; batch_bytes])))])]);
    let frame = encode_request(&request, 9, 1, "bench").expect("encode");
    frame.slice(4..)
}

fn decode(c: &mut Criterion) {
    let frame = produce_frame(16 * 1024);
    let mut group = c.benchmark_group("wire");
    group.throughput(Throughput::Bytes(frame.len() as u64));
    group.bench_function("decode produce 16 KiB", |b| {
        b.iter(|| decode_request(frame.clone()).expect("decode"))
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let records = Bytes::from(vec![0u8; 1024 * 1024]);
    let response = ResponseKind::Fetch(FetchResponse::default().with_responses(vec![
        FetchableTopicResponse::default()
            .with_topic(TopicName(StrBytes::from_static_str("bench")))
            .with_partitions(vec![PartitionData::default()
                .with_partition_index(0)
                .with_high_watermark(1_000_000)
                .with_records(Some(records))]),
    ]));
    let mut group = c.benchmark_group("wire");
    group.throughput(Throughput::Bytes(1024 * 1024));
    group.bench_function("encode fetch response 1 MiB", |b| {
        b.iter(|| encode_response(1, 11, &response).expect("encode"))
    });
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
