//! Argument handling of `strom txn`, checked through the real binary without a Strom broker:
//! help texts, rejected flags, a clear error when no broker answers, and the output against a
//! scripted stand-in broker (this file's `FakeBroker`) that answers ApiVersions, Metadata,
//! ListTransactions, FindCoordinator, DescribeTransactions and DescribeProducers with canned
//! responses encoded by `strom-protocol`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use strom_protocol::messages::{
    api_versions_response::ApiVersion,
    describe_producers_response, describe_transactions_response,
    find_coordinator_response::Coordinator,
    list_transactions_response,
    metadata_response::{MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic},
    ApiKey, ApiVersionsResponse, BrokerId, DescribeProducersResponse, DescribeTransactionsResponse,
    FindCoordinatorResponse, ListTransactionsResponse, MetadataResponse, ProducerId, RequestKind,
    ResponseKind, TopicName, TransactionalId,
};
use strom_protocol::{encode_response, str_bytes};

fn strom(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(args)
        .env_remove("STROM_BROKERS")
        .output()
        .expect("cannot run the strom binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_txn_command_has_help() {
    for command in [
        &["txn"][..],
        &["txn", "list"],
        &["txn", "describe"],
        &["txn", "producers"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let output = strom(&args);
        assert!(
            output.status.success(),
            "strom {args:?}: {}",
            text(&output.stderr)
        );
        let help = text(&output.stdout);
        assert!(
            help.contains("Usage: strom txn"),
            "strom {args:?} printed {help}"
        );
        if command.len() > 1 {
            for needle in [
                "STROM_BROKERS",
                "127.0.0.1:9092",
                "--bootstrap-server",
                "--json",
                "Examples:",
            ] {
                assert!(
                    help.contains(needle),
                    "strom {args:?} lacks {needle}:\n{help}"
                );
            }
        }
    }
    let help = text(&strom(&["txn", "list", "--help"]).stdout);
    for flag in ["--state", "--producer-id", "--duration-ms", "Ongoing"] {
        assert!(help.contains(flag), "txn list --help lacks {flag}:\n{help}");
    }
    let help = text(&strom(&["txn", "producers", "--help"]).stdout);
    for flag in ["--topic", "--partition"] {
        assert!(
            help.contains(flag),
            "txn producers --help lacks {flag}:\n{help}"
        );
    }
    let help = text(&strom(&["--help"]).stdout);
    assert!(help.contains("txn"), "strom --help lacks txn:\n{help}");
}

#[test]
fn bad_arguments_are_rejected() {
    for args in [
        &["txn", "describe"][..],
        &["txn", "describe", "a", "b"],
        &["txn", "producers"],
        &["txn", "producers", "--topic", "t", "--partition", "x"],
        &["txn", "list", "--duration-ms", "-5"],
        &["txn", "list", "--duration-ms", "soon"],
        &["txn", "list", "--producer-id", "x"],
        &["txn", "frobnicate"],
    ] {
        let output = strom(args);
        assert_eq!(output.status.code(), Some(2), "strom {args:?} was accepted");
    }
}

#[test]
fn unreachable_broker_is_reported_quickly() {
    for args in [
        &["txn", "list"][..],
        &["txn", "describe", "tx"],
        &["txn", "producers", "--topic", "t"],
    ] {
        for flag in ["--brokers", "--bootstrap-server"] {
            let mut args = args.to_vec();
            args.extend([flag, "127.0.0.1:1"]);
            let started = Instant::now();
            let output = strom(&args);
            assert_eq!(output.status.code(), Some(1), "strom {args:?}");
            let stderr = text(&output.stderr);
            assert!(
                stderr.contains("cannot connect to 127.0.0.1:1: connection refused"),
                "strom {args:?}: {stderr}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "strom {args:?} took {:?}",
                started.elapsed()
            );
        }
    }
    let output = strom(&["txn", "list", "--brokers", "no-port"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("expected HOST:PORT"),
        "{}",
        text(&output.stderr)
    );
}

/// A stand-in broker: node 1 at its own address, serving the APIs in `apis`, recording every
/// request it decodes.
struct FakeBroker {
    addr: String,
    requests: Arc<Mutex<Vec<RequestKind>>>,
}

impl FakeBroker {
    fn start(apis: &'static [ApiKey]) -> FakeBroker {
        let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind");
        let addr = listener.local_addr().expect("no local address").to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (seen, port) = (
            Arc::clone(&requests),
            listener.local_addr().expect("no local address").port(),
        );
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = Arc::clone(&seen);
                thread::spawn(move || serve(stream, apis, i32::from(port), &seen));
            }
        });
        FakeBroker { addr, requests }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut args = args.to_vec();
        args.extend(["--brokers", &self.addr]);
        strom(&args)
    }
}

fn serve(mut stream: TcpStream, apis: &[ApiKey], port: i32, seen: &Mutex<Vec<RequestKind>>) {
    loop {
        let mut size = [0u8; 4];
        if stream.read_exact(&mut size).is_err() {
            return;
        }
        let mut frame = vec![0u8; i32::from_be_bytes(size) as usize];
        stream.read_exact(&mut frame).expect("truncated request");
        let mut buf = Bytes::from(frame);
        let key = ApiKey::try_from(buf.get_i16()).expect("unknown api key");
        let version = buf.get_i16();
        let correlation_id = buf.get_i32();
        // The rest of the header: the client id, then (header v2) an empty tagged-field set.
        let client_id_len = buf.get_i16();
        assert_eq!(&buf[..client_id_len as usize], b"strom-cli");
        buf.advance(client_id_len as usize);
        if key.request_header_version(version) >= 2 {
            assert_eq!(buf.get_u8(), 0, "unexpected tagged fields in the header");
        }
        let request = RequestKind::decode(key, &mut buf, version).expect("undecodable request");
        assert!(!buf.has_remaining(), "{key:?} v{version}: bytes left");
        let response = answer(&request, apis, port);
        seen.lock().expect("poisoned").push(request);
        let bytes = encode_response(correlation_id, version, &response).expect("cannot encode");
        stream.write_all(&bytes).expect("cannot answer");
    }
}

fn answer(request: &RequestKind, apis: &[ApiKey], port: i32) -> ResponseKind {
    let host = str_bytes("127.0.0.1");
    match request {
        RequestKind::ApiVersions(_) => ResponseKind::ApiVersions(
            ApiVersionsResponse::default().with_api_keys(
                apis.iter()
                    .chain([ApiKey::ApiVersions, ApiKey::Metadata].iter())
                    .map(|key| {
                        let range = key.valid_versions();
                        ApiVersion::default()
                            .with_api_key(*key as i16)
                            .with_min_version(range.min)
                            .with_max_version(range.max)
                    })
                    .collect(),
            ),
        ),
        RequestKind::Metadata(req) => {
            let topics = req
                .topics
                .iter()
                .flatten()
                .filter_map(|t| t.name.clone())
                .map(|name| {
                    if name.0.as_str() == "orders" {
                        MetadataResponseTopic::default()
                            .with_name(Some(name))
                            .with_partitions(
                                (0..2)
                                    .map(|p| {
                                        MetadataResponsePartition::default()
                                            .with_partition_index(p)
                                            .with_leader_id(BrokerId(1))
                                    })
                                    .collect(),
                            )
                    } else {
                        MetadataResponseTopic::default()
                            .with_name(Some(name))
                            .with_error_code(3)
                    }
                })
                .collect();
            ResponseKind::Metadata(
                MetadataResponse::default()
                    .with_brokers(vec![MetadataResponseBroker::default()
                        .with_node_id(BrokerId(1))
                        .with_host(host)
                        .with_port(port)])
                    .with_topics(topics),
            )
        }
        RequestKind::ListTransactions(req) => {
            let known = ["Empty", "Ongoing", "PrepareCommit", "CompleteCommit"];
            let all = [("tx-b", 7, "Ongoing"), ("tx-a", 5, "CompleteCommit")];
            ResponseKind::ListTransactions(
                ListTransactionsResponse::default()
                    .with_unknown_state_filters(
                        req.state_filters
                            .iter()
                            .filter(|s| !known.contains(&s.as_str()))
                            .cloned()
                            .collect(),
                    )
                    .with_transaction_states(
                        all.iter()
                            .filter(|(_, _, state)| {
                                req.state_filters.is_empty()
                                    || req.state_filters.iter().any(|s| s.as_str() == *state)
                            })
                            .map(|(id, pid, state)| {
                                list_transactions_response::TransactionState::default()
                                    .with_transactional_id(TransactionalId(str_bytes(*id)))
                                    .with_producer_id(ProducerId(*pid))
                                    .with_transaction_state(str_bytes(*state))
                            })
                            .collect(),
                    ),
            )
        }
        RequestKind::FindCoordinator(req) => {
            assert_eq!(req.key_type, 1, "not a transaction coordinator lookup");
            ResponseKind::FindCoordinator(
                FindCoordinatorResponse::default().with_coordinators(
                    req.coordinator_keys
                        .iter()
                        .map(|key| {
                            Coordinator::default()
                                .with_key(key.clone())
                                .with_node_id(BrokerId(1))
                                .with_host(host.clone())
                                .with_port(port)
                        })
                        .collect(),
                ),
            )
        }
        RequestKind::DescribeTransactions(req) => ResponseKind::DescribeTransactions(
            DescribeTransactionsResponse::default().with_transaction_states(
                req.transactional_ids
                    .iter()
                    .map(|id| {
                        let state = describe_transactions_response::TransactionState::default()
                            .with_transactional_id(id.clone());
                        if id.0.as_str() != "tx-b" {
                            return state.with_error_code(105);
                        }
                        state
                            .with_transaction_state(str_bytes("Ongoing"))
                            .with_producer_id(ProducerId(7))
                            .with_producer_epoch(3)
                            .with_transaction_timeout_ms(60_000)
                            .with_transaction_start_time_ms(1_795_600_800_250)
                            .with_topics(vec![describe_transactions_response::TopicData::default()
                                .with_topic(TopicName(str_bytes("orders")))
                                .with_partitions(vec![1, 0])])
                    })
                    .collect(),
            ),
        ),
        RequestKind::DescribeProducers(req) => ResponseKind::DescribeProducers(
            DescribeProducersResponse::default().with_topics(
                req.topics
                    .iter()
                    .map(|t| {
                        describe_producers_response::TopicResponse::default()
                            .with_name(t.name.clone())
                            .with_partitions(
                                t.partition_indexes
                                    .iter()
                                    .map(|p| {
                                        let producers = if *p == 0 {
                                            vec![describe_producers_response::ProducerState::default()
                                                .with_producer_id(ProducerId(7))
                                                .with_producer_epoch(3)
                                                .with_last_sequence(41)
                                                .with_last_timestamp(1_795_600_800_250)
                                                .with_coordinator_epoch(0)
                                                .with_current_txn_start_offset(100)]
                                        } else {
                                            Vec::new()
                                        };
                                        describe_producers_response::PartitionResponse::default()
                                            .with_partition_index(*p)
                                            .with_active_producers(producers)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
        ),
        other => panic!("the fake broker got an unexpected request: {other:?}"),
    }
}

const TXN_APIS: &[ApiKey] = &[
    ApiKey::FindCoordinator,
    ApiKey::DescribeProducers,
    ApiKey::DescribeTransactions,
    ApiKey::ListTransactions,
];

#[test]
fn list_merges_and_filters() {
    let broker = FakeBroker::start(TXN_APIS);
    let output = broker.run(&["txn", "list"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lines: Vec<Vec<String>> = text(&output.stdout)
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect();
    assert_eq!(
        lines,
        [
            ["TRANSACTIONAL-ID", "COORDINATOR", "PRODUCER-ID", "STATE"],
            ["tx-a", "1", "5", "CompleteCommit"],
            ["tx-b", "1", "7", "Ongoing"],
        ]
    );

    let output = broker.run(&[
        "txn",
        "list",
        "--state",
        "Ongoing,Bogus",
        "--producer-id",
        "7",
        "--duration-ms",
        "1000",
        "--json",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let json: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("list --json is not JSON");
    assert_eq!(
        json,
        serde_json::json!([
            {"transactional_id": "tx-b", "coordinator": 1, "producer_id": 7, "state": "Ongoing"}
        ])
    );
    assert!(
        text(&output.stderr).contains("\"Bogus\""),
        "{}",
        text(&output.stderr)
    );
    let requests = broker.requests.lock().expect("poisoned");
    let filtered = requests
        .iter()
        .filter_map(|r| match r {
            RequestKind::ListTransactions(r) => Some(r),
            _ => None,
        })
        .next_back()
        .expect("no ListTransactions request");
    assert_eq!(
        filtered.state_filters,
        [str_bytes("Ongoing"), str_bytes("Bogus")]
    );
    assert_eq!(filtered.producer_id_filters, [ProducerId(7)]);
    assert_eq!(filtered.duration_filter, 1000);
}

#[test]
fn describe_shows_the_transaction_or_says_it_is_unknown() {
    let broker = FakeBroker::start(TXN_APIS);
    let output = broker.run(&["txn", "describe", "tx-b"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let out = text(&output.stdout);
    for line in [
        "TRANSACTIONAL-ID  tx-b",
        "COORDINATOR       1",
        "STATE             Ongoing",
        "PRODUCER-ID       7",
        "PRODUCER-EPOCH    3",
        "TIMEOUT-MS        60000",
        "START-TIME        2026-11-25T10:00:00.250Z",
        "TOPIC-PARTITIONS  orders-0,orders-1",
    ] {
        assert!(out.contains(line), "describe lacks {line:?}:\n{out}");
    }

    let output = broker.run(&["txn", "describe", "tx-b", "--json"]);
    let json: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("describe --json is not JSON");
    assert_eq!(json["coordinator"], 1);
    assert_eq!(json["producer_epoch"], 3);
    assert_eq!(json["transaction_start_time"], "2026-11-25T10:00:00.250Z");
    assert!(json["duration_ms"].as_i64().is_some_and(|d| d >= 0));
    assert_eq!(
        json["topic_partitions"],
        serde_json::json!([{"topic": "orders", "partition": 0}, {"topic": "orders", "partition": 1}])
    );

    let output = broker.run(&["txn", "describe", "nobody"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("transactional id nobody not found"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn producers_are_listed_per_partition() {
    let broker = FakeBroker::start(TXN_APIS);
    let output = broker.run(&["txn", "producers", "--topic", "orders"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lines: Vec<Vec<String>> = text(&output.stdout)
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect();
    assert_eq!(
        lines,
        [
            [
                "PARTITION",
                "PRODUCER-ID",
                "PRODUCER-EPOCH",
                "LAST-SEQUENCE",
                "LAST-TIMESTAMP",
                "COORDINATOR-EPOCH",
                "TXN-START-OFFSET"
            ],
            ["0", "7", "3", "41", "2026-11-25T10:00:00.250Z", "0", "100"],
        ]
    );
    let output = broker.run(&["txn", "producers", "--topic", "orders", "-p", "5"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("has no partition 5"));
    let output = broker.run(&["txn", "producers", "--topic", "missing"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("does not exist"));
}

#[test]
fn a_broker_without_transactions_is_named() {
    let broker = FakeBroker::start(&[ApiKey::FindCoordinator]);
    for (args, api) in [
        (&["txn", "list"][..], "ListTransactions"),
        (&["txn", "describe", "tx-b"], "DescribeTransactions"),
        (&["txn", "producers", "-t", "orders"], "DescribeProducers"),
    ] {
        let output = broker.run(args);
        assert_eq!(output.status.code(), Some(1), "strom {args:?}");
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains(&format!("the broker does not support {api}")),
            "strom {args:?}: {stderr}"
        );
    }
}
