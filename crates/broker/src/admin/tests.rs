//! The admin API against an in-process broker: routes, JSON shapes, errors, and that the listener
//! stops with the broker.

use std::net::SocketAddr;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use strom_storage::{CleaningState, CleaningStats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::error::ErrorBody;
use super::groups::{
    decode_assignment, GroupDescription, GroupList, GroupMember, GroupOffset, TopicAssignment,
};
use super::readiness::Readiness;
use super::topics::{CompactionStatus, LastCleaning, TopicDescription, TopicList, TopicListing};
use super::{AdminListener, AdminState, Health};
use crate::config::{BrokerConfig, HostPort};
use crate::group_coordinator::{GroupSnapshot, MemberSnapshot};
use crate::server::{Broker, BrokerHandle};

async fn start_broker(dir: &tempfile::TempDir, extra: &[&str]) -> BrokerHandle {
    let mut sets = vec![
        format!("log.dirs={}", dir.path().join("data").display()),
        "listeners=127.0.0.1:0".to_owned(),
        "admin.listen=127.0.0.1:0".to_owned(),
    ];
    sets.extend(extra.iter().map(|s| (*s).to_owned()));
    let config = BrokerConfig::load(None, &sets).expect("valid config");
    Broker::start(config).await.expect("broker starts")
}

/// One HTTP/1.1 request on its own connection: the status code, the head and the body.
async fn raw_request(addr: SocketAddr, method: &str, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr)
        .await
        .expect("admin listener accepts");
    let head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(head.as_bytes())
        .await
        .expect("request sent");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a header");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    (status, head.to_owned(), body.to_owned())
}

/// A request whose answer must be JSON: the status code and the body.
async fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let (status, head, body) = raw_request(addr, method, path).await;
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{method} {path} is not JSON: {head}"
    );
    (status, body)
}

async fn get_json<T: DeserializeOwned>(addr: SocketAddr, path: &str) -> (u16, T) {
    let (status, body) = request(addr, "GET", path).await;
    let value =
        serde_json::from_str(&body).unwrap_or_else(|error| panic!("GET {path}: {error} in {body}"));
    (status, value)
}

#[tokio::test]
async fn admin_api_serves_health_and_topics_and_stops_with_the_broker() {
    let dir = tempfile::tempdir().expect("temp dir");
    let handle = start_broker(&dir, &["log.cleanup.policy=compact", "num.partitions=2"]).await;
    let admin = handle.admin_addr();
    assert_ne!(admin.port(), 0, "port 0 resolves to the bound port");
    handle
        .broker()
        .controller
        .ensure_topic("compacted")
        .expect("topic created");

    let (status, health): (_, Health) = get_json(admin, "/health").await;
    assert_eq!((status, health.status.as_str()), (200, "ok"));
    let (status, ready): (_, Health) = get_json(admin, "/ready").await;
    assert_eq!((status, ready.status.as_str()), (200, "ready"));

    let (status, cluster): (_, super::cluster::ClusterDescription) =
        get_json(admin, "/v1/cluster").await;
    assert_eq!(status, 200);
    assert_eq!(cluster.cluster_id, handle.broker().cluster_id);
    assert_eq!(cluster.controller_id, handle.broker().node_id);
    assert_eq!(cluster.brokers.len(), 1);
    assert_eq!(cluster.brokers[0].node_id, handle.broker().node_id);
    assert!(
        cluster.topics >= 1 && cluster.partitions >= 2,
        "{cluster:?}"
    );
    assert!(!cluster.version.is_empty());

    let (status, list): (_, TopicList) = get_json(admin, "/v1/topics").await;
    assert_eq!(status, 200);
    assert!(
        list.topics.contains(&TopicListing {
            name: "compacted".into(),
            partitions: 2
        }),
        "{list:?}"
    );

    let (status, topic): (_, TopicDescription) = get_json(admin, "/v1/topics/compacted").await;
    assert_eq!(status, 200);
    assert_eq!(topic.name, "compacted");
    let indexes: Vec<i32> = topic.partitions.iter().map(|p| p.partition).collect();
    assert_eq!(indexes, [0, 1]);
    for partition in &topic.partitions {
        assert_eq!(
            (partition.log_start_offset, partition.log_end_offset),
            (0, 0)
        );
        let compaction = partition.compaction.as_ref().expect("compacted topic");
        assert_eq!(compaction.dirty_ratio, 0.0);
        assert_eq!(compaction.last_cleaning, None);
    }

    let (status, error): (_, ErrorBody) = get_json(admin, "/v1/topics/missing").await;
    assert_eq!(status, 404);
    assert!(error.error.contains("missing"), "{error:?}");
    let (status, error): (_, ErrorBody) = get_json(admin, "/v2/nothing").await;
    assert_eq!(status, 404);
    assert!(error.error.contains("/v2/nothing"), "{error:?}");
    let (status, body) = request(admin, "POST", "/health").await;
    assert_eq!(status, 405, "{body}");
    assert!(body.contains("\"error\""), "{body}");

    handle.shutdown().await;
    assert!(
        TcpStream::connect(admin).await.is_err(),
        "the admin listener still accepts after shutdown"
    );
}

#[tokio::test]
async fn before_the_broker_serves_health_answers_and_the_rest_is_unavailable() {
    let readiness = Arc::new(Readiness::new());
    let listener = AdminListener::bind(&HostPort::parse("127.0.0.1:0").expect("address"))
        .await
        .expect("bound");
    let admin = listener.local_addr();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let serving = listener.spawn(AdminState::new(readiness.clone(), None), stopped);

    let (status, health): (_, Health) = get_json(admin, "/health").await;
    assert_eq!((status, health.status.as_str()), (200, "ok"));
    let (status, ready): (_, Health) = get_json(admin, "/ready").await;
    assert_eq!((status, ready.status.as_str()), (503, "recovering"));
    for path in ["/v1/cluster", "/v1/topics", "/v1/topics/any", "/metrics"] {
        let (status, error): (_, ErrorBody) = get_json(admin, path).await;
        assert_eq!(status, 503, "{path}: {error:?}");
        assert!(error.error.contains("recovering"), "{path}: {error:?}");
    }
    readiness.ready();
    let (status, ready): (_, Health) = get_json(admin, "/ready").await;
    assert_eq!((status, ready.status.as_str()), (200, "ready"));
    readiness.stopping();
    let (status, ready): (_, Health) = get_json(admin, "/ready").await;
    assert_eq!((status, ready.status.as_str()), (503, "stopping"));

    stop.send_replace(true);
    serving.await.expect("admin task ends");
}

/// The value of the sample named exactly `sample` (name and labels) in an exposition.
fn sample(text: &str, sample: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(sample)?.strip_prefix(' ')?;
        value.parse().ok()
    })
}

#[tokio::test]
async fn metrics_endpoint_serves_openmetrics_with_partition_figures() {
    let dir = tempfile::tempdir().expect("temp dir");
    let handle = start_broker(&dir, &["log.cleanup.policy=compact", "num.partitions=2"]).await;
    let admin = handle.admin_addr();
    handle
        .broker()
        .controller
        .ensure_topic("compacted")
        .expect("topic created");

    let (status, head, text) = raw_request(admin, "GET", "/metrics").await;
    assert_eq!(status, 200, "{text}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text; version=1.0.0; charset=utf-8"),
        "{head}"
    );
    for partition in [0, 1] {
        let labels = format!("{{topic=\"compacted\",partition=\"{partition}\"}}");
        for (name, value) in [
            ("strom_log_start_offset", 0.0),
            ("strom_log_end_offset", 0.0),
            ("strom_log_size_bytes", 0.0),
            ("strom_log_cleaner_dirty_ratio", 0.0),
        ] {
            assert_eq!(
                sample(&text, &format!("{name}{labels}")),
                Some(value),
                "{name}{labels} in:\n{text}"
            );
        }
    }
    assert_eq!(
        sample(&text, "strom_active_connections"),
        Some(0.0),
        "{text}"
    );
    if cfg!(target_os = "linux") {
        assert!(sample(&text, "process_resident_memory_bytes").is_some_and(|b| b > 0.0));
    }
    assert!(text.ends_with("# EOF\n"), "{text}");
    let (status, _) = request(admin, "POST", "/metrics").await;
    assert_eq!(status, 405);

    handle.shutdown().await;
}

#[tokio::test]
async fn a_taken_admin_address_is_a_startup_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut sets = vec![
        format!("log.dirs={}", dir.path().join("data").display()),
        "listeners=127.0.0.1:0".to_owned(),
    ];
    sets.push(format!("admin.listen={addr}"));
    let config = BrokerConfig::load(None, &sets).expect("valid config");
    let Err(error) = Broker::start(config).await else {
        panic!("the broker started on a taken admin address");
    };
    let message = error.to_string();
    assert!(
        message.contains(&addr.to_string()) && message.contains("admin.listen"),
        "{message}"
    );
}

#[test]
fn compaction_status_carries_the_cleaning_state_and_the_last_cleaning() {
    let state = CleaningState {
        first_dirty_offset: 10,
        first_uncleanable_offset: 30,
        clean_bytes: 300,
        dirty_bytes: 100,
        lag_exceeded: false,
        horizon_passed: false,
        min_cleanable_dirty_ratio: 0.5,
    };
    let stats = CleaningStats {
        started_ms: 1_700_000_000_000,
        duration_ms: 12,
        bytes_read: 4096,
        bytes_written: 1024,
        batches_read: 8,
        records_read: 40,
        records_removed: 30,
        segments_before: 3,
        segments_after: 1,
        keys: 10,
        end_offset: 10,
    };
    let status = CompactionStatus::new(&state, Some(stats));
    assert_eq!(status.dirty_ratio, 0.25);
    assert_eq!((status.clean_bytes, status.dirty_bytes), (300, 100));
    assert_eq!(
        (status.first_dirty_offset, status.first_uncleanable_offset),
        (10, 30)
    );
    assert_eq!(
        status.last_cleaning,
        Some(LastCleaning {
            started_ms: 1_700_000_000_000,
            duration_ms: 12,
            bytes_read: 4096,
            bytes_written: 1024,
            records_read: 40,
            records_removed: 30,
            segments_before: 3,
            segments_after: 1,
            end_offset: 10,
        })
    );
    let json = serde_json::to_value(&status).expect("serializable");
    let mut fields: Vec<&str> = json
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "clean_bytes",
            "dirty_bytes",
            "dirty_ratio",
            "first_dirty_offset",
            "first_uncleanable_offset",
            "last_cleaning"
        ]
    );
}

#[tokio::test]
async fn groups_endpoints_list_nothing_and_answer_404_for_an_unknown_group() {
    let dir = tempfile::tempdir().expect("temp dir");
    let handle = start_broker(&dir, &[]).await;
    let admin = handle.admin_addr();
    let (status, list): (_, GroupList) = get_json(admin, "/v1/groups").await;
    assert_eq!((status, list.groups.len()), (200, 0));
    let (status, error): (_, ErrorBody) = get_json(admin, "/v1/groups/nobody").await;
    assert_eq!(status, 404);
    assert!(
        error.error.contains("unknown group \"nobody\""),
        "{error:?}"
    );
    handle.shutdown().await;
}

/// A `ConsumerProtocolAssignment` v0: topics with partitions, then null user data.
fn encoded_assignment(topics: &[(&str, &[i32])]) -> Vec<u8> {
    let mut out = 0i16.to_be_bytes().to_vec();
    out.extend((topics.len() as i32).to_be_bytes());
    for (topic, partitions) in topics {
        out.extend((topic.len() as i16).to_be_bytes());
        out.extend(topic.as_bytes());
        out.extend((partitions.len() as i32).to_be_bytes());
        for p in *partitions {
            out.extend(p.to_be_bytes());
        }
    }
    out.extend((-1i32).to_be_bytes());
    out
}

#[test]
fn classic_assignments_are_decoded_and_garbage_is_not_trusted() {
    let bytes = encoded_assignment(&[("orders", &[2, 0]), ("audit", &[1])]);
    assert_eq!(
        decode_assignment(&bytes),
        Some(vec![
            TopicAssignment {
                topic: "audit".into(),
                partitions: vec![1]
            },
            TopicAssignment {
                topic: "orders".into(),
                partitions: vec![0, 2]
            },
        ])
    );
    assert_eq!(decode_assignment(&[]), Some(vec![]));
    for cut in 1..bytes.len() - 4 {
        assert_eq!(decode_assignment(&bytes[..cut]), None, "cut at {cut}");
    }
    // A count far beyond the bytes present ends at the end of the bytes.
    let mut huge = 0i16.to_be_bytes().to_vec();
    huge.extend(i32::MAX.to_be_bytes());
    assert_eq!(decode_assignment(&huge), None);
    assert_eq!(decode_assignment(&[0xff, 0xff, 0, 0, 0, 0]), None);
}

#[test]
fn a_group_description_carries_members_assignments_and_lag() {
    let member =
        |id: &str, assignment: Option<Vec<u8>>, assigned: Vec<(String, Vec<i32>)>| MemberSnapshot {
            member_id: id.into(),
            client_id: format!("client-{id}"),
            client_host: "/127.0.0.1".into(),
            classic_assignment: assignment.map(Into::into),
            assigned,
        };
    let snapshot = GroupSnapshot {
        group_id: "billing".into(),
        group_type: "classic",
        state: "Stable".into(),
        protocol_type: "consumer".into(),
        members: vec![
            member("b", Some(encoded_assignment(&[("orders", &[1])])), vec![]),
            member("a", Some(encoded_assignment(&[("orders", &[0])])), vec![]),
        ],
    };
    let offsets = vec![
        GroupOffset {
            topic: "orders".into(),
            partition: 0,
            committed_offset: 10,
            high_watermark: Some(15),
            log_end_offset: Some(15),
            lag: 5,
        },
        GroupOffset {
            topic: "orders".into(),
            partition: 1,
            committed_offset: 3,
            high_watermark: Some(10),
            log_end_offset: Some(12),
            lag: 7,
        },
    ];
    let described = GroupDescription::new(snapshot, offsets);
    assert_eq!(described.lag, 12);
    assert_eq!(
        described.members,
        vec![
            GroupMember {
                member_id: "a".into(),
                client_id: "client-a".into(),
                client_host: "/127.0.0.1".into(),
                assignment: vec![TopicAssignment {
                    topic: "orders".into(),
                    partitions: vec![0]
                }],
            },
            GroupMember {
                member_id: "b".into(),
                client_id: "client-b".into(),
                client_host: "/127.0.0.1".into(),
                assignment: vec![TopicAssignment {
                    topic: "orders".into(),
                    partitions: vec![1]
                }],
            },
        ]
    );
    // A KIP-848 member's assignment is the coordinator's, by topic name.
    let consumer = GroupDescription::new(
        GroupSnapshot {
            group_id: "new".into(),
            group_type: "consumer",
            state: "Stable".into(),
            protocol_type: "consumer".into(),
            members: vec![member("c", None, vec![("orders".into(), vec![0, 1])])],
        },
        vec![],
    );
    assert_eq!(
        consumer.members[0].assignment,
        vec![TopicAssignment {
            topic: "orders".into(),
            partitions: vec![0, 1]
        }]
    );
    assert_eq!(consumer.lag, 0);
}
