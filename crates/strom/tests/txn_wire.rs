//! Transaction APIs at the wire level, for the versions and paths real clients reach only
//! indirectly: the batched broker form of AddPartitionsToTxn (v4, KIP-890 `verify_only`), the
//! PRODUCER_FENCED / INVALID_PRODUCER_EPOCH split by version, the partition errors of an
//! AddPartitionsToTxn naming an unknown topic, and what ApiVersions advertises (transaction
//! version 1 only; no inter-broker WriteTxnMarkers).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use common::Server;
use strom_protocol::client::{decode_response, encode_request, KafkaRequest};
use strom_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use strom_protocol::messages::create_topics_request::CreatableTopic;
use strom_protocol::messages::{
    AddPartitionsToTxnRequest, ApiKey, ApiVersionsRequest, CreateTopicsRequest, EndTxnRequest,
    InitProducerIdRequest, ProducerId, TopicName, TransactionalId,
};
use strom_protocol::StrBytes;

const NONE: i16 = 0;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const INVALID_PRODUCER_EPOCH: i16 = 47;
const INVALID_TXN_STATE: i16 = 48;
const OPERATION_NOT_ATTEMPTED: i16 = 55;
const PRODUCER_FENCED: i16 = 90;

/// One blocking connection that sends requests and reads their responses in order.
struct Wire {
    stream: TcpStream,
    correlation_id: i32,
}

impl Wire {
    fn connect(addr: &str) -> Wire {
        let stream = TcpStream::connect(addr).expect("cannot connect to the broker");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("cannot set a read timeout");
        Wire {
            stream,
            correlation_id: 0,
        }
    }

    fn call<R: KafkaRequest>(&mut self, request: &R, version: i16) -> R::Response {
        self.correlation_id += 1;
        let frame = encode_request(request, version, self.correlation_id, "txn-wire-test")
            .expect("cannot encode the request");
        self.stream.write_all(&frame).expect("cannot send");
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size).expect("no response size");
        let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
        self.stream.read_exact(&mut body).expect("no response body");
        decode_response::<R>(Bytes::from(body), version, self.correlation_id)
            .expect("cannot decode the response")
    }
}

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

fn create_topic(wire: &mut Wire, name: &str, partitions: i32) {
    let request = CreateTopicsRequest::default()
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(s(name)))
            .with_num_partitions(partitions)
            .with_replication_factor(1)])
        .with_timeout_ms(10_000);
    let response = wire.call(&request, 5);
    assert_eq!(response.topics[0].error_code, NONE, "create {name}");
}

/// A transactional producer id and epoch for `id`.
fn init(wire: &mut Wire, id: &str) -> (i64, i16) {
    let request = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(s(id))))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let response = wire.call(&request, 4);
    assert_eq!(response.error_code, NONE, "InitProducerId for {id}");
    (response.producer_id.0, response.producer_epoch)
}

fn txn(
    id: &str,
    (producer_id, epoch): (i64, i16),
    verify_only: bool,
    partitions: &[(&str, i32)],
) -> AddPartitionsToTxnTransaction {
    let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
    for (topic, partition) in partitions {
        match topics.iter_mut().find(|t| t.name.as_str() == *topic) {
            Some(t) => t.partitions.push(*partition),
            None => topics.push(
                AddPartitionsToTxnTopic::default()
                    .with_name(TopicName(s(topic)))
                    .with_partitions(vec![*partition]),
            ),
        }
    }
    AddPartitionsToTxnTransaction::default()
        .with_transactional_id(TransactionalId(s(id)))
        .with_producer_id(ProducerId(producer_id))
        .with_producer_epoch(epoch)
        .with_verify_only(verify_only)
        .with_topics(topics)
}

/// Every (topic, partition, error) of a v4 response for one transaction.
fn v4_errors(
    response: &strom_protocol::messages::AddPartitionsToTxnResponse,
    id: &str,
) -> Vec<(String, i32, i16)> {
    let result = response
        .results_by_transaction
        .iter()
        .find(|r| r.transactional_id.as_str() == id)
        .unwrap_or_else(|| panic!("no result for {id}"));
    let mut errors: Vec<(String, i32, i16)> = result
        .topic_results
        .iter()
        .flat_map(|t| {
            t.results_by_partition.iter().map(|p| {
                (
                    t.name.to_string(),
                    p.partition_index,
                    p.partition_error_code,
                )
            })
        })
        .collect();
    errors.sort();
    errors
}

#[test]
fn batched_add_partitions_adds_and_verifies() {
    let server = Server::start();
    let mut wire = Wire::connect(&server.addr);
    create_topic(&mut wire, "apt", 2);
    let a = init(&mut wire, "batched-a");
    let b = init(&mut wire, "batched-b");

    // Two transactions in one request: both get their partitions.
    let add = AddPartitionsToTxnRequest::default().with_transactions(vec![
        txn("batched-a", a, false, &[("apt", 0)]),
        txn("batched-b", b, false, &[("apt", 0), ("apt", 1)]),
    ]);
    let response = wire.call(&add, 4);
    assert_eq!(response.error_code, NONE);
    assert_eq!(
        v4_errors(&response, "batched-a"),
        vec![("apt".into(), 0, NONE)]
    );
    assert_eq!(
        v4_errors(&response, "batched-b"),
        vec![("apt".into(), 0, NONE), ("apt".into(), 1, NONE)]
    );

    // verify_only answers per partition and adds nothing.
    let verify = AddPartitionsToTxnRequest::default().with_transactions(vec![txn(
        "batched-a",
        a,
        true,
        &[("apt", 0), ("apt", 1)],
    )]);
    let response = wire.call(&verify, 4);
    assert_eq!(
        v4_errors(&response, "batched-a"),
        vec![
            ("apt".into(), 0, NONE),
            ("apt".into(), 1, INVALID_TXN_STATE)
        ]
    );
    let response = wire.call(&verify, 4);
    assert_eq!(
        v4_errors(&response, "batched-a")[1],
        ("apt".into(), 1, INVALID_TXN_STATE),
        "verify_only must not add the partition"
    );

    // A stale epoch is fenced.
    let stale = AddPartitionsToTxnRequest::default().with_transactions(vec![txn(
        "batched-a",
        (a.0, a.1 - 1),
        false,
        &[("apt", 1)],
    )]);
    let response = wire.call(&stale, 4);
    assert_eq!(
        v4_errors(&response, "batched-a"),
        vec![("apt".into(), 1, PRODUCER_FENCED)]
    );
}

#[test]
fn unknown_topic_fails_the_whole_transaction_request() {
    let server = Server::start();
    let mut wire = Wire::connect(&server.addr);
    create_topic(&mut wire, "known", 1);
    let (producer_id, epoch) = init(&mut wire, "unknown-topic");
    let request = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(TransactionalId(s("unknown-topic")))
        .with_v3_and_below_producer_id(ProducerId(producer_id))
        .with_v3_and_below_producer_epoch(epoch)
        .with_v3_and_below_topics(vec![
            AddPartitionsToTxnTopic::default()
                .with_name(TopicName(s("known")))
                .with_partitions(vec![0]),
            AddPartitionsToTxnTopic::default()
                .with_name(TopicName(s("missing")))
                .with_partitions(vec![0]),
        ]);
    let response = wire.call(&request, 3);
    let mut errors: Vec<(String, i16)> = response
        .results_by_topic_v3_and_below
        .iter()
        .flat_map(|t| {
            t.results_by_partition
                .iter()
                .map(|p| (t.name.to_string(), p.partition_error_code))
        })
        .collect();
    errors.sort();
    assert_eq!(
        errors,
        vec![
            ("known".into(), OPERATION_NOT_ATTEMPTED),
            ("missing".into(), UNKNOWN_TOPIC_OR_PARTITION)
        ]
    );
}

#[test]
fn fenced_producer_error_depends_on_the_version() {
    let server = Server::start();
    let mut wire = Wire::connect(&server.addr);
    let first = init(&mut wire, "fenced");
    let second = init(&mut wire, "fenced");
    assert_eq!(second.0, first.0, "same producer id, bumped epoch");
    assert_eq!(second.1, first.1 + 1);
    let end = |version| {
        (
            version,
            EndTxnRequest::default()
                .with_transactional_id(TransactionalId(s("fenced")))
                .with_producer_id(ProducerId(first.0))
                .with_producer_epoch(first.1)
                .with_committed(true),
        )
    };
    let (v, request) = end(1);
    assert_eq!(wire.call(&request, v).error_code, INVALID_PRODUCER_EPOCH);
    let (v, request) = end(3);
    assert_eq!(wire.call(&request, v).error_code, PRODUCER_FENCED);
}

#[test]
fn api_versions_advertise_transaction_version_1() {
    let server = Server::start();
    let mut wire = Wire::connect(&server.addr);
    let response = wire.call(&ApiVersionsRequest::default(), 3);
    let max = |key: ApiKey| {
        response
            .api_keys
            .iter()
            .find(|k| k.api_key == key as i16)
            .map(|k| k.max_version)
    };
    assert_eq!(max(ApiKey::InitProducerId), Some(5));
    assert_eq!(max(ApiKey::AddPartitionsToTxn), Some(4));
    assert_eq!(max(ApiKey::EndTxn), Some(4));
    assert_eq!(max(ApiKey::TxnOffsetCommit), Some(4));
    assert!(max(ApiKey::AddOffsetsToTxn).is_some());
    assert!(max(ApiKey::ListTransactions).is_some());
    assert!(max(ApiKey::DescribeTransactions).is_some());
    assert!(max(ApiKey::DescribeProducers).is_some());
    assert_eq!(max(ApiKey::WriteTxnMarkers), None);
}
