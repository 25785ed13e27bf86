//! The exposition of every metric fed by hand: names, types, labels and values as a scraper
//! sees them.

use std::sync::Arc;
use std::time::Duration;

use strom_protocol::messages::ApiKey;
use strom_storage::CleaningStats;

use super::{observe_fsync, Metrics, CONTENT_TYPE};
use crate::replica_manager::ReplicaManager;

/// The value of the sample named exactly `sample` (name and labels), if present.
fn sample(text: &str, sample: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(sample)?.strip_prefix(' ')?;
        value.parse().ok()
    })
}

#[test]
fn metrics_are_encoded_as_openmetrics_with_their_labels() {
    let dir = tempfile::tempdir().expect("temp dir");
    let groups = crate::group_coordinator::GroupCoordinator::new();
    let metrics = Metrics::new(
        Arc::new(ReplicaManager::new(dir.path())),
        groups.groups_view(),
    );

    metrics.topics.produced("orders", 300, 3);
    metrics.topics.produced("orders", 100, 1);
    metrics.topics.fetched("orders", 250);
    metrics.requests.started(Some(ApiKey::Produce)).finish();
    metrics.requests.started(Some(ApiKey::Produce)).finish();
    let _pending = metrics.requests.started(Some(ApiKey::Fetch));
    metrics.requests.rejected(None);
    metrics.requests.started(Some(ApiKey::Produce)).finish();
    metrics.requests.failed(Some(ApiKey::Produce));
    metrics.requests.produce_request(1000);
    metrics.requests.fetch_response(5000);
    let connection = metrics.requests.connection_opened();
    let _other = metrics.requests.connection_opened();
    drop(connection);
    metrics.cleaner.cleaned(&CleaningStats {
        started_ms: 0,
        duration_ms: 1,
        bytes_read: 4096,
        bytes_written: 1024,
        batches_read: 2,
        records_read: 10,
        records_removed: 5,
        segments_before: 2,
        segments_after: 1,
        keys: 5,
        end_offset: 10,
    });
    observe_fsync(Duration::from_millis(2));

    let text = metrics.encode().expect("encodable");
    let expected = [
        ("strom_topic_bytes_in_total{topic=\"orders\"}", 400.0),
        ("strom_topic_records_in_total{topic=\"orders\"}", 4.0),
        ("strom_topic_bytes_out_total{topic=\"orders\"}", 250.0),
        ("strom_requests_total{api=\"Produce\"}", 3.0),
        ("strom_requests_total{api=\"Fetch\"}", 1.0),
        ("strom_requests_total{api=\"unknown\"}", 1.0),
        ("strom_request_failures_total{api=\"unknown\"}", 1.0),
        ("strom_request_failures_total{api=\"Produce\"}", 1.0),
        ("strom_request_duration_seconds_count{api=\"Produce\"}", 3.0),
        // Started, not finished: counted as a request, not yet timed.
        ("strom_request_duration_seconds_count{api=\"Fetch\"}", 0.0),
        ("strom_produce_request_bytes_sum", 1000.0),
        ("strom_produce_request_bytes_count", 1.0),
        ("strom_fetch_response_bytes_sum", 5000.0),
        ("strom_active_connections", 1.0),
        ("strom_log_cleaner_cleanings_total", 1.0),
        ("strom_log_cleaner_bytes_read_total", 4096.0),
        ("strom_log_cleaner_bytes_written_total", 1024.0),
    ];
    for (name, value) in expected {
        assert_eq!(sample(&text, name), Some(value), "{name} in:\n{text}");
    }
    // The fsync histogram is the process's: other tests may have added to it.
    assert!(sample(&text, "strom_fsync_duration_seconds_count").is_some_and(|n| n >= 1.0));
    for type_line in [
        "# TYPE strom_topic_bytes_in counter",
        "# TYPE strom_request_duration_seconds histogram",
        "# UNIT strom_request_duration_seconds seconds",
        "# TYPE strom_active_connections gauge",
        "# TYPE strom_fsync_duration_seconds histogram",
        "# TYPE strom_log_end_offset gauge",
        "# TYPE strom_log_size_bytes gauge",
    ] {
        assert!(
            text.lines().any(|line| line == type_line),
            "{type_line} in:\n{text}"
        );
    }
    if cfg!(target_os = "linux") {
        assert!(sample(&text, "process_resident_memory_bytes").is_some_and(|b| b > 0.0));
        assert!(sample(&text, "process_open_fds").is_some_and(|n| n > 0.0));
    }
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(CONTENT_TYPE.starts_with("application/openmetrics-text; version=1.0.0"));
}

#[test]
fn error_codes_of_responses_are_counted_per_api_and_error_name() {
    use strom_protocol::messages::produce_response::{
        PartitionProduceResponse, TopicProduceResponse,
    };
    use strom_protocol::messages::{
        FetchResponse, HeartbeatResponse, ProduceResponse, ResponseKind,
    };
    use strom_protocol::ResponseError;

    let dir = tempfile::tempdir().expect("temp dir");
    let groups = crate::group_coordinator::GroupCoordinator::new();
    let metrics = Metrics::new(
        Arc::new(ReplicaManager::new(dir.path())),
        groups.groups_view(),
    );
    let partition =
        |code: ResponseError| PartitionProduceResponse::default().with_error_code(code.code());
    let produce = ProduceResponse::default().with_responses(vec![
        TopicProduceResponse::default().with_partition_responses(vec![
            partition(ResponseError::UnknownTopicOrPartition),
            PartitionProduceResponse::default(),
            partition(ResponseError::UnknownTopicOrPartition),
        ]),
        TopicProduceResponse::default()
            .with_partition_responses(vec![partition(ResponseError::NotLeaderOrFollower)]),
    ]);
    metrics
        .requests
        .count_errors(ApiKey::Produce, &ResponseKind::Produce(produce));
    metrics.requests.count_errors(
        ApiKey::Heartbeat,
        &ResponseKind::Heartbeat(
            HeartbeatResponse::default().with_error_code(ResponseError::RebalanceInProgress.code()),
        ),
    );
    // A code the protocol does not define is one bounded label value.
    metrics.requests.count_errors(
        ApiKey::Fetch,
        &ResponseKind::Fetch(FetchResponse::default().with_error_code(9999)),
    );
    metrics.requests.count_errors(
        ApiKey::Heartbeat,
        &ResponseKind::Heartbeat(HeartbeatResponse::default()),
    );

    let text = metrics.encode().expect("encodable");
    for (name, value) in [
        (
            "strom_request_errors_total{api=\"Produce\",error=\"UNKNOWN_TOPIC_OR_PARTITION\"}",
            2.0,
        ),
        (
            "strom_request_errors_total{api=\"Produce\",error=\"NOT_LEADER_OR_FOLLOWER\"}",
            1.0,
        ),
        (
            "strom_request_errors_total{api=\"Heartbeat\",error=\"REBALANCE_IN_PROGRESS\"}",
            1.0,
        ),
        (
            "strom_request_errors_total{api=\"Fetch\",error=\"UNKNOWN\"}",
            1.0,
        ),
    ] {
        assert_eq!(sample(&text, name), Some(value), "{name} in:\n{text}");
    }
    let lines = text
        .lines()
        .filter(|line| line.starts_with("strom_request_errors_total"))
        .count();
    assert_eq!(lines, 4, "no other error counted:\n{text}");
}
