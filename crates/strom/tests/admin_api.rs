//! The admin HTTP API end to end: a real `strom server` with `admin.listen=127.0.0.1:0` (the
//! bound address comes from its "admin listener ready" log line), its JSON endpoints after
//! keyed records were produced to a compacted topic and the log cleaner ran, and the COMPACTION
//! section of `strom topic describe` that reads them.

use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value;

mod common;

use common::{Server, STROM};

/// Any free admin port, and a cleaner that looks for work every 100 ms (15 s by default).
const BROKER_ARGS: &[&str] = &[
    "--set",
    "admin.listen=127.0.0.1:0",
    "--set",
    "log.cleaner.backoff.ms=100",
];

/// A compacted topic whose segments roll every 2 KiB (the test-only `internal.segment.bytes`,
/// as in tests/test_compaction.py), cleaned as soon as anything is dirty.
const COMPACTED: &[(&str, &str)] = &[
    ("cleanup.policy", "compact"),
    ("internal.segment.bytes", "2048"),
    ("min.cleanable.dirty.ratio", "0.01"),
];

/// Removes the ANSI colour sequences tracing puts around field names.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The admin API's base URL, from the broker's `admin listener ready listen=HOST:PORT` line.
fn admin_url(server: &Server) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let log = strip_ansi(&server.log());
        let addr = log
            .lines()
            .filter(|line| line.contains("admin listener ready"))
            .find_map(|line| {
                line.split_whitespace()
                    .find_map(|field| field.strip_prefix("listen="))
                    .map(str::to_owned)
            });
        if let Some(addr) = addr {
            return format!("http://{addr}");
        }
        assert!(
            Instant::now() < deadline,
            "no `admin listener ready` line in the server log:\n{log}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// `GET url`: the status code and the JSON body.
fn get(url: &str) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut response = agent
        .get(url)
        .call()
        .unwrap_or_else(|error| panic!("GET {url}: {error}"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/json", "GET {url}");
    let body = response
        .body_mut()
        .read_json()
        .unwrap_or_else(|error| panic!("GET {url}: the body is not JSON: {error}"));
    (status, body)
}

async fn create_topic(server: &Server, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    let topic = configs.iter().fold(
        NewTopic::new(name, partitions, TopicReplication::Fixed(1)),
        |topic, (key, value)| topic.set(key, value),
    );
    let results = server
        .admin()
        .create_topics(
            &[topic],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("CreateTopics failed");
    assert_eq!(results, vec![Ok(name.to_owned())], "creating {name}");
    server.wait_for_topic(name, partitions as usize);
}

/// Produces `count` records to partition 0, cycling through five keys, one batch each.
async fn produce_keyed(server: &Server, topic: &str, count: usize) {
    let producer: FutureProducer = server.client(&[("acks", "all"), ("linger.ms", "0")]);
    let value = vec![b'v'; 100];
    for i in 0..count {
        let key = format!("key-{}", i % 5);
        producer
            .send(
                FutureRecord::to(topic)
                    .partition(0)
                    .key(&key)
                    .payload(&value),
                Duration::from_secs(10),
            )
            .await
            .unwrap_or_else(|(error, _)| panic!("producing record {i}: {error}"));
    }
}

/// Polls `GET url` until `done` accepts the body; fails the test after 30 s.
fn poll(url: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get(url);
        assert_eq!(status, 200, "GET {url}: {body}");
        if done(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "{what} never happened: {body}");
        thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `strom ARGS --brokers ADDR` with no STROM_* variables from the environment.
fn strom(server: &Server, args: &[&str]) -> Output {
    let output = Command::new(STROM)
        .args(args)
        .args(["--brokers", &server.addr])
        .env_remove("STROM_BROKERS")
        .env_remove("STROM_ADMIN")
        .output()
        .expect("cannot run strom");
    assert!(
        output.status.success(),
        "`strom {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The lines of the COMPACTION section (after its underline), up to the next blank line.
fn compaction_section(out: &str) -> Vec<&str> {
    out.lines()
        .skip_while(|line| *line != "COMPACTION")
        .skip(2)
        .take_while(|line| !line.is_empty())
        .collect()
}

#[tokio::test]
async fn admin_api_shows_topics_and_the_compaction_of_their_partitions() {
    let server = Server::start_with(BROKER_ARGS);
    let admin = admin_url(&server);
    create_topic(&server, "users", 2, COMPACTED).await;
    create_topic(&server, "events", 1, &[]).await;
    produce_keyed(&server, "users", 60).await;

    let (status, health) = get(&format!("{admin}/health"));
    assert_eq!(
        (status, &health),
        (200, &serde_json::json!({"status": "ok"}))
    );

    let (status, list) = get(&format!("{admin}/v1/topics"));
    assert_eq!(status, 200);
    let topics = list["topics"].as_array().expect("topics is a list");
    for (name, partitions) in [("users", 2), ("events", 1)] {
        assert!(
            topics.contains(&serde_json::json!({"name": name, "partitions": partitions})),
            "{name} with {partitions} partition(s) missing from {list}"
        );
    }

    let (status, events) = get(&format!("{admin}/v1/topics/events"));
    assert_eq!(status, 200);
    assert_eq!(
        events,
        serde_json::json!({"name": "events", "partitions": [{
            "partition": 0, "log_start_offset": 0, "log_end_offset": 0, "high_watermark": 0,
            "size_bytes": 0, "compaction": null,
        }]})
    );

    let started = now_ms();
    let users = poll(
        &format!("{admin}/v1/topics/users"),
        "a cleaning of users-0",
        |body| !body["partitions"][0]["compaction"]["last_cleaning"].is_null(),
    );
    assert_eq!(users["name"], "users");
    let partitions = users["partitions"].as_array().expect("partitions");
    assert_eq!(partitions.len(), 2, "{users}");
    let cleaned = &partitions[0];
    assert_eq!(cleaned["partition"], 0);
    assert_eq!(cleaned["log_start_offset"], 0);
    assert_eq!(cleaned["log_end_offset"], 60);
    assert_eq!(cleaned["high_watermark"], 60);
    assert!(
        cleaned["size_bytes"].as_u64().is_some_and(|b| b > 0),
        "{cleaned}"
    );
    let compaction = &cleaned["compaction"];
    let mut fields: Vec<&str> = compaction
        .as_object()
        .expect("compaction is an object")
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
    let ratio = compaction["dirty_ratio"].as_f64().expect("dirty_ratio");
    assert!((0.0..=1.0).contains(&ratio), "{compaction}");
    assert!(
        compaction["first_dirty_offset"].as_i64() > Some(0),
        "the cleaner checkpoint moved: {compaction}"
    );
    let last = &compaction["last_cleaning"];
    for field in [
        "started_ms",
        "duration_ms",
        "bytes_read",
        "bytes_written",
        "records_read",
        "records_removed",
        "segments_before",
        "segments_after",
        "end_offset",
    ] {
        assert!(last[field].is_number(), "{field} missing from {last}");
    }
    assert!(
        last["records_removed"].as_u64() > Some(0),
        "five keys, many records: {last}"
    );
    assert!(
        last["started_ms"]
            .as_i64()
            .is_some_and(|t| t > started - 60_000),
        "{last}"
    );
    let idle = &partitions[1];
    assert_eq!(idle["partition"], 1);
    assert_eq!(idle["log_end_offset"], 0);
    assert!(idle["compaction"].is_object(), "{idle}");
    assert!(idle["compaction"]["last_cleaning"].is_null(), "{idle}");

    let (status, missing) = get(&format!("{admin}/v1/topics/nope"));
    assert_eq!(status, 404);
    assert!(
        missing["error"]
            .as_str()
            .is_some_and(|e| e.contains("nope")),
        "{missing}"
    );

    // The CLI: a compacted topic gets the COMPACTION section by default.
    let out = stdout(&strom(
        &server,
        &["topic", "describe", "users", "--admin", &admin],
    ));
    let section = compaction_section(&out);
    assert_eq!(
        section.len(),
        3,
        "header and two partitions expected:\n{out}"
    );
    for column in [
        "PARTITION",
        "DIRTY-RATIO",
        "CLEAN-BYTES",
        "DIRTY-BYTES",
        "LAST-CLEANING",
        "READ-BYTES",
        "WRITTEN-BYTES",
        "RECORDS-REMOVED",
    ] {
        assert!(section[0].contains(column), "{column} missing:\n{out}");
    }
    assert!(
        section[1].starts_with("0 ") && section[1].contains('%') && section[1].contains(" ago"),
        "{out}"
    );
    assert!(
        section[2].starts_with("1 ") && section[2].contains("never"),
        "{out}"
    );

    // Not compacted: no section unless asked for, and then a note.
    let out = stdout(&strom(
        &server,
        &["topic", "describe", "events", "--admin", &admin],
    ));
    assert!(!out.contains("COMPACTION"), "{out}");
    let out = stdout(&strom(
        &server,
        &[
            "topic",
            "describe",
            "events",
            "-p",
            "--compaction",
            "--admin",
            &admin,
        ],
    ));
    assert!(out.contains("PARTITIONS"), "{out}");
    assert_eq!(
        compaction_section(&out),
        ["(not compacted: cleanup.policy does not include compact)"],
        "{out}"
    );
}

#[tokio::test]
async fn topic_describe_notes_an_unreachable_admin_api_and_still_succeeds() {
    let server = Server::start_with(&["--set", "admin.listen=127.0.0.1:0"]);
    create_topic(&server, "users", 1, COMPACTED).await;
    // A port nothing listens on any more.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("cannot find a free port");
    let url = format!("http://{closed}");
    let out = stdout(&strom(
        &server,
        &["topic", "describe", "users", "--admin", &url],
    ));
    assert!(out.contains("PARTITIONS"), "{out}");
    let section = compaction_section(&out);
    assert_eq!(section.len(), 1, "one note expected:\n{out}");
    assert!(
        section[0].contains("admin API unreachable") && section[0].contains(&url),
        "{out}"
    );
}

#[test]
fn a_taken_admin_port_stops_the_broker_with_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("cannot bind");
    let addr = taken.local_addr().expect("no local address");
    let dir = tempfile::tempdir().expect("cannot create a temp dir");
    let output = Command::new(STROM)
        .arg("server")
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--listen", "127.0.0.1:0"])
        .args(["--set", &format!("admin.listen={addr}")])
        .output()
        .expect("cannot run strom server");
    assert!(!output.status.success(), "the broker started anyway");
    let stderr = strip_ansi(&String::from_utf8_lossy(&output.stderr));
    assert!(
        stderr.contains(&format!("cannot listen on {addr} (admin.listen)")),
        "{stderr}"
    );
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
