//! End-to-end compatibility tests: the real `strom` binary runs as a broker and librdkafka
//! (through the `rdkafka` crate) talks to it as it would to Apache Kafka; the `strom` client
//! commands are checked against it as well.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders, Timestamp};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

mod common;

use common::{Server, STROM};

impl Server {
    fn consumer(&self) -> BaseConsumer {
        self.client(&[
            ("group.id", "compat-tests"),
            ("enable.auto.commit", "false"),
            ("enable.partition.eof", "false"),
        ])
    }

    fn producer(&self, compression: &str) -> FutureProducer {
        self.client(&[
            ("acks", "all"),
            ("compression.type", compression),
            ("linger.ms", "5"),
            ("message.timeout.ms", "20000"),
        ])
    }

    fn topic_names(&self) -> HashSet<String> {
        self.consumer()
            .fetch_metadata(None, Duration::from_secs(5))
            .expect("Metadata failed")
            .topics()
            .iter()
            .map(|t| t.name().to_owned())
            .collect()
    }

    /// Runs a `strom` client command against this server; fails the test after 30 s.
    fn cli(&self, args: &[&str], stdin: &[u8]) -> CliOutput {
        let mut child = Command::new(STROM)
            .args(args)
            .args(["--brokers", &self.addr])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run strom");
        let mut input = child.stdin.take().expect("stdin");
        let stdin = stdin.to_vec();
        let writer = thread::spawn(move || {
            let _ = input.write_all(&stdin);
        });
        let stdout = read_in_background(child.stdout.take().expect("stdout"));
        let stderr = read_in_background(child.stderr.take().expect("stderr"));
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().expect("cannot poll strom") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "`strom {}` did not finish within 30 s; stderr:\n{}",
                    args.join(" "),
                    String::from_utf8_lossy(&stderr.join().expect("stderr reader"))
                );
            }
            thread::sleep(Duration::from_millis(20));
        };
        writer.join().expect("stdin writer");
        let output = CliOutput {
            success: status.success(),
            stdout: String::from_utf8_lossy(&stdout.join().expect("stdout reader")).into_owned(),
            stderr: String::from_utf8_lossy(&stderr.join().expect("stderr reader")).into_owned(),
        };
        assert!(
            output.success,
            "`strom {}` failed: {}\nserver log:\n{}",
            args.join(" "),
            output.stderr,
            self.log()
        );
        output
    }
}

struct CliOutput {
    success: bool,
    stdout: String,
    stderr: String,
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock before 1970")
        .as_millis() as i64
}

/// What was produced, to compare with what is consumed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sent {
    key: Vec<u8>,
    value: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
    timestamp: i64,
}

fn headers_of(message: &impl Message) -> Vec<(String, Vec<u8>)> {
    message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads every partition of `topic` from the beginning until `count` records arrived.
fn consume_all(
    server: &Server,
    topic: &str,
    partitions: i32,
    count: usize,
) -> Vec<rdkafka::message::OwnedMessage> {
    let consumer = server.consumer();
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .expect("assignment");
    }
    consumer.assign(&assignment).expect("assign failed");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut messages = Vec::new();
    while messages.len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} records of {topic} arrived within 30 s",
            messages.len()
        );
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => messages.push(message.detach()),
            Some(Err(err)) => panic!("consuming {topic} failed: {err}"),
            None => {}
        }
    }
    // Nothing beyond what was produced.
    if let Some(Ok(extra)) = consumer.poll(Duration::from_millis(500)) {
        panic!(
            "unexpected extra record at {}/{}",
            extra.partition(),
            extra.offset()
        );
    }
    messages
}

#[tokio::test]
async fn every_codec_round_trips_keys_values_headers_and_timestamps() {
    let server = Server::start();
    const PARTITIONS: i32 = 3;
    const RECORDS: usize = 40;
    let base = now_ms() - 3_600_000;
    for (codec_index, codec) in ["none", "gzip", "snappy", "lz4", "zstd"]
        .into_iter()
        .enumerate()
    {
        let topic = format!("codec-{codec}");
        server.create_topic(&topic, PARTITIONS).await;
        let producer = server.producer(codec);
        let mut sent = Vec::new();
        let mut futures = Vec::new();
        for i in 0..RECORDS {
            let record = Sent {
                key: format!("key-{}", i % 7).into_bytes(),
                // Repetitive values so that compression has something to do.
                value: format!("{codec} value {i} {}", "abc".repeat(i)).into_bytes(),
                headers: vec![
                    ("codec".to_owned(), codec.as_bytes().to_vec()),
                    ("index".to_owned(), i.to_string().into_bytes()),
                ],
                timestamp: base + (codec_index * 1000 + i) as i64,
            };
            let headers = record
                .headers
                .iter()
                .fold(OwnedHeaders::new(), |h, (k, v)| {
                    h.insert(Header {
                        key: k.as_str(),
                        value: Some(v.as_slice()),
                    })
                });
            let future = producer
                .send_result(
                    FutureRecord::to(&topic)
                        .key(record.key.as_slice())
                        .payload(record.value.as_slice())
                        .headers(headers)
                        .timestamp(record.timestamp),
                )
                .map_err(|(err, _)| err)
                .expect("enqueue failed");
            futures.push(future);
            sent.push(record);
        }
        let mut by_position: HashMap<(i32, i64), Sent> = HashMap::new();
        let mut partitions_of_key: HashMap<Vec<u8>, HashSet<i32>> = HashMap::new();
        for (future, record) in futures.into_iter().zip(sent) {
            let delivery = future
                .await
                .expect("producer dropped")
                .unwrap_or_else(|(err, _)| panic!("{codec}: delivery failed: {err}"));
            assert!((0..PARTITIONS).contains(&delivery.partition));
            assert!(delivery.offset >= 0, "{codec}: no offset with acks=all");
            partitions_of_key
                .entry(record.key.clone())
                .or_default()
                .insert(delivery.partition);
            let previous = by_position.insert((delivery.partition, delivery.offset), record);
            assert!(
                previous.is_none(),
                "{codec}: two records reported at one offset"
            );
        }
        for (key, partitions) in &partitions_of_key {
            assert_eq!(
                partitions.len(),
                1,
                "{codec}: key {} landed in partitions {partitions:?}",
                String::from_utf8_lossy(key)
            );
        }

        let messages = consume_all(&server, &topic, PARTITIONS, RECORDS);
        for message in messages {
            let position = (message.partition(), message.offset());
            let expected = by_position
                .remove(&position)
                .unwrap_or_else(|| panic!("{codec}: unexpected record at {position:?}"));
            assert_eq!(
                message.key(),
                Some(expected.key.as_slice()),
                "{codec} {position:?}"
            );
            assert_eq!(
                message.payload(),
                Some(expected.value.as_slice()),
                "{codec} {position:?}"
            );
            assert_eq!(
                headers_of(&message),
                expected.headers,
                "{codec} {position:?}"
            );
            assert_eq!(
                message.timestamp(),
                Timestamp::CreateTime(expected.timestamp),
                "{codec} {position:?}"
            );
        }
        assert!(
            by_position.is_empty(),
            "{codec}: never consumed {by_position:?}"
        );
    }
}

#[tokio::test]
async fn offsets_for_times_finds_the_first_record_at_or_after_a_timestamp() {
    let server = Server::start();
    let topic = "by-time";
    server.create_topic(topic, 1).await;
    let producer = server.producer("none");
    let base = now_ms() - 600_000;
    for i in 0..10i64 {
        let value = format!("record {i}");
        let delivery = producer
            .send(
                FutureRecord::<(), _>::to(topic)
                    .payload(value.as_str())
                    .partition(0)
                    .timestamp(base + i * 1000),
                Duration::from_secs(10),
            )
            .await
            .unwrap_or_else(|(err, _)| panic!("delivery failed: {err}"));
        assert_eq!((delivery.partition, delivery.offset), (0, i));
    }
    let consumer = server.consumer();
    let lookup = |timestamp: i64| {
        let mut query = TopicPartitionList::new();
        query
            .add_partition_offset(topic, 0, Offset::Offset(timestamp))
            .expect("query");
        let found = consumer
            .offsets_for_times(query, Duration::from_secs(10))
            .expect("ListOffsets by timestamp failed");
        let elem = found
            .find_partition(topic, 0)
            .expect("partition 0 in result");
        elem.error().expect("partition error");
        elem.offset()
    };
    assert_eq!(lookup(base - 5_000), Offset::Offset(0));
    assert_eq!(lookup(base), Offset::Offset(0));
    assert_eq!(lookup(base + 3_500), Offset::Offset(4));
    assert_eq!(lookup(base + 9_000), Offset::Offset(9));
    assert_eq!(lookup(base + 60_000), Offset::End);
    assert_eq!(
        consumer
            .fetch_watermarks(topic, 0, Duration::from_secs(10))
            .expect("watermarks"),
        (0, 10)
    );
}

#[tokio::test]
async fn deleted_topics_disappear_from_metadata() {
    let server = Server::start();
    server.create_topic("doomed", 2).await;
    server.create_topic("kept", 1).await;
    assert!(server.topic_names().contains("doomed"));
    let results = server
        .admin()
        .delete_topics(
            &["doomed"],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("DeleteTopics failed");
    assert_eq!(results, vec![Ok("doomed".to_owned())]);
    let deadline = Instant::now() + Duration::from_secs(15);
    while server.topic_names().contains("doomed") {
        assert!(Instant::now() < deadline, "deleted topic still in metadata");
        thread::sleep(Duration::from_millis(100));
    }
    assert!(server.topic_names().contains("kept"));
}

#[tokio::test]
async fn illegal_topic_names_are_rejected_with_invalid_topic() {
    let server = Server::start();
    let admin = server.admin();
    for name in ["bad/name", "..", "."] {
        let results = admin
            .create_topics(
                &[NewTopic::new(name, 1, TopicReplication::Fixed(1))],
                &AdminOptions::new(),
            )
            .await
            .expect("CreateTopics failed");
        assert_eq!(
            results,
            vec![Err((name.to_owned(), RDKafkaErrorCode::InvalidTopic))],
            "creating {name:?}"
        );
    }
    // Creating an existing topic is an error too.
    server.create_topic("twice", 1).await;
    let results = admin
        .create_topics(
            &[NewTopic::new("twice", 1, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .expect("CreateTopics failed");
    assert_eq!(
        results,
        vec![Err((
            "twice".to_owned(),
            RDKafkaErrorCode::TopicAlreadyExists
        ))]
    );
}

#[test]
fn cli_round_trip() {
    let server = Server::start();
    let created = server.cli(&["topic", "create", "cli-rt", "-p", "2", "-r", "1"], b"");
    assert!(created.stdout.contains("cli-rt"), "{}", created.stdout);
    server.wait_for_topic("cli-rt", 2);

    let listed = server.cli(&["topic", "list"], b"");
    let row = listed
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some("cli-rt"))
        .unwrap_or_else(|| panic!("cli-rt not listed:\n{}", listed.stdout));
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["cli-rt", "2", "1"]
    );

    let lines = ["a:1", "b:2", "c:3", "a:4", "b:5", "no-key-here"];
    let input = lines.join("\n") + "\n";
    let produced = server.cli(
        &[
            "produce",
            "cli-rt",
            "--key-separator",
            ":",
            "-H",
            "via=cli",
            "-z",
            "lz4",
        ],
        input.as_bytes(),
    );
    let reports: Vec<&str> = produced.stdout.lines().collect();
    assert_eq!(reports.len(), lines.len(), "{}", produced.stdout);
    let mut partition_of_key: BTreeMap<&str, &str> = BTreeMap::new();
    for (line, report) in lines.iter().zip(&reports) {
        assert!(report.starts_with("Produced to partition "), "{report}");
        assert!(report.contains(" at offset "), "{report}");
        let partition = report.split_whitespace().nth(3).expect("partition");
        if let Some((key, _)) = line.split_once(':') {
            let previous = partition_of_key.insert(key, partition);
            assert!(
                previous.is_none_or(|p| p == partition),
                "key {key} moved partitions"
            );
        }
    }

    let consumed = server.cli(
        &["consume", "cli-rt", "-n", "6", "--format", "%k=%v\\n"],
        b"",
    );
    let mut got: Vec<&str> = consumed.stdout.lines().collect();
    got.sort_unstable();
    assert_eq!(got, ["=no-key-here", "a=1", "a=4", "b=2", "b=5", "c=3"]);

    // Without -n the consumer stops at the end offsets it saw at startup.
    let consumed = server.cli(&["consume", "cli-rt", "--format", "%p %k %v %h\\n"], b"");
    assert_eq!(consumed.stdout.lines().count(), 6, "{}", consumed.stdout);
    assert!(
        consumed.stdout.lines().all(|l| l.ends_with(" via=cli")),
        "{}",
        consumed.stdout
    );

    let json = server.cli(&["consume", "cli-rt", "--json", "-p", "0,1"], b"");
    let records: Vec<serde_json::Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(records.len(), 6);
    for record in &records {
        assert_eq!(record["topic"], "cli-rt");
        assert_eq!(record["headers"][0]["key"], "via");
        assert!(record["timestamp"].is_i64());
    }

    let described = server.cli(&["topic", "describe", "cli-rt"], b"");
    for section in ["SUMMARY", "CONFIGS", "PARTITIONS", "HIGH-WATERMARK"] {
        assert!(described.stdout.contains(section), "{}", described.stdout);
    }
    let info = server.cli(&["cluster", "info", "--json"], b"");
    let info: serde_json::Value = serde_json::from_str(info.stdout.trim()).expect("JSON");
    assert_eq!(info["brokers"].as_array().map(Vec::len), Some(1));

    server.cli(&["topic", "delete", "cli-rt"], b"");
    let deadline = Instant::now() + Duration::from_secs(15);
    while server.topic_names().contains("cli-rt") {
        assert!(Instant::now() < deadline, "deleted topic still in metadata");
        thread::sleep(Duration::from_millis(100));
    }
    assert!(!server
        .cli(&["topic", "list"], b"")
        .stdout
        .contains("cli-rt"));
}
