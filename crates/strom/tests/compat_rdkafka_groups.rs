//! Consumer groups end to end: the real `strom` binary runs as a broker, librdkafka 2.12
//! (through the `rdkafka` crate) joins groups on it with the classic protocol, commits and reads
//! committed offsets; `strom group` lists, describes, resets and deletes them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::config::FromClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

mod common;

use common::{Server, STROM};

/// New groups rebalance at once.
const GROUP_BROKER_ARGS: &[&str] = &["--set", "group.initial.rebalance.delay.ms=0"];

/// Client settings that keep group tests quick: 6 s is the broker's minimum session timeout.
const GROUP_CLIENT: &[(&str, &str)] = &[
    ("session.timeout.ms", "6000"),
    ("heartbeat.interval.ms", "1000"),
    ("auto.offset.reset", "earliest"),
    ("enable.partition.eof", "false"),
    ("fetch.wait.max.ms", "100"),
];

impl Server {
    /// A group member: `group.id` plus the quick group settings plus `extra`.
    fn member<T: FromClientConfig>(&self, group: &str, extra: &[(&str, &str)]) -> T {
        let mut settings: Vec<(&str, &str)> = vec![("group.id", group)];
        settings.extend_from_slice(GROUP_CLIENT);
        settings.extend_from_slice(extra);
        self.client(&settings)
    }

    /// Produces `per_partition` records to every partition, the i-th with timestamp
    /// `base_ts + i * 1000`; returns the acknowledged (partition, offset) pairs.
    async fn produce(
        &self,
        topic: &str,
        partitions: i32,
        per_partition: i64,
        base_ts: i64,
    ) -> BTreeSet<(i32, i64)> {
        let producer: FutureProducer = self.client(&[("acks", "all"), ("linger.ms", "5")]);
        let mut futures = Vec::new();
        for i in 0..per_partition {
            for partition in 0..partitions {
                let value = format!("{topic}-{partition}-{i}");
                futures.push(
                    producer
                        .send_result(
                            FutureRecord::<(), _>::to(topic)
                                .payload(value.as_bytes())
                                .partition(partition)
                                .timestamp(base_ts + i * 1000),
                        )
                        .map_err(|(err, _)| err)
                        .expect("enqueue failed"),
                );
            }
        }
        let mut acked = BTreeSet::new();
        for future in futures {
            let delivery = future
                .await
                .expect("producer dropped")
                .unwrap_or_else(|(err, _)| panic!("delivery failed: {err}"));
            acked.insert((delivery.partition, delivery.offset));
        }
        acked
    }

    /// The group's committed offsets for `topic`'s partitions, read by a client that never
    /// joins the group (OffsetFetch).
    fn committed(&self, group: &str, topic: &str, partitions: i32) -> BTreeMap<i32, Option<i64>> {
        let consumer: BaseConsumer = self.client(&[("group.id", group)]);
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition(topic, p);
        }
        consumer
            .committed_offsets(tpl, Duration::from_secs(10))
            .expect("OffsetFetch failed")
            .elements()
            .iter()
            .map(|e| {
                let offset = match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                };
                (e.partition(), offset)
            })
            .collect()
    }

    /// Runs a `strom` client command against this server; fails the test after 30 s.
    fn cli(&self, args: &[&str]) -> CliOutput {
        let mut child = Command::new(STROM)
            .args(args)
            .args(["--brokers", &self.addr])
            .env_remove("STROM_BROKERS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run strom");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if child.try_wait().expect("cannot poll strom").is_some() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("`strom {}` did not finish within 30 s", args.join(" "));
            }
            thread::sleep(Duration::from_millis(20));
        }
        let output = child
            .wait_with_output()
            .expect("cannot read strom's output");
        CliOutput {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Like [`Server::cli`], failing the test unless the command succeeds.
    fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.success,
            "`strom {}` failed:\nstdout:\n{}\nstderr:\n{}\nserver log:\n{}",
            args.join(" "),
            out.stdout,
            out.stderr,
            self.log()
        );
        out.stdout
    }
}

struct CliOutput {
    success: bool,
    stdout: String,
    stderr: String,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock before 1970")
        .as_millis() as i64
}

/// The partitions a consumer owns right now.
fn owned(consumer: &impl Consumer) -> BTreeSet<i32> {
    consumer
        .assignment()
        .expect("assignment")
        .elements()
        .iter()
        .map(|e| e.partition())
        .collect()
}

/// Records (partition, offset) one member received, filled by its polling task.
type Received = Arc<Mutex<Vec<(i32, i64)>>>;

/// Drives a StreamConsumer (rebalances happen while it is polled) until `stop` is set.
fn spawn_member(
    consumer: Arc<StreamConsumer>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> (Received, tokio::task::JoinHandle<()>) {
    let received: Received = Arc::default();
    let sink = received.clone();
    let handle = tokio::spawn(async move {
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            match tokio::time::timeout(Duration::from_millis(200), consumer.recv()).await {
                Ok(Ok(message)) => sink
                    .lock()
                    .expect("lock")
                    .push((message.partition(), message.offset())),
                Ok(Err(err)) => panic!("consume error: {err}"),
                Err(_) => {}
            }
        }
    });
    (received, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stream_consumers_share_a_topics_partitions() {
    let server = Server::start_with(GROUP_BROKER_ARGS);
    server.create_topic("shared", 4).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let members: Vec<Arc<StreamConsumer>> = (0..2)
        .map(|i| {
            let client_id = format!("member-{i}");
            let consumer: StreamConsumer = server.member(
                "sharing",
                &[
                    ("client.id", client_id.as_str()),
                    ("partition.assignment.strategy", "range"),
                ],
            );
            consumer.subscribe(&["shared"]).expect("subscribe");
            Arc::new(consumer)
        })
        .collect();
    let tasks: Vec<_> = members
        .iter()
        .map(|m| spawn_member(m.clone(), stop.clone()))
        .collect();

    // Each partition owned by exactly one member, all owned, two each; and it holds.
    let deadline = Instant::now() + Duration::from_secs(40);
    let owners = loop {
        let sets: Vec<BTreeSet<i32>> = members.iter().map(|m| owned(m.as_ref())).collect();
        let union: BTreeSet<i32> = sets.iter().flatten().copied().collect();
        if sets.iter().all(|s| s.len() == 2) && union == (0..4).collect() {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let again: Vec<BTreeSet<i32>> = members.iter().map(|m| owned(m.as_ref())).collect();
            if again == sets {
                break sets;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no 2/2 split of 4 partitions within 40 s: {sets:?}; server log:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let produced = server.produce("shared", 4, 5, now_ms()).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen: BTreeSet<(i32, i64)> = tasks
            .iter()
            .flat_map(|(r, _)| r.lock().expect("lock").clone())
            .collect();
        if seen.is_superset(&produced) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {} records read within 30 s",
            seen.len(),
            produced.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for (i, (received, handle)) in tasks.into_iter().enumerate() {
        handle.await.expect("member task panicked");
        let received = received.lock().expect("lock").clone();
        for (partition, offset) in &received {
            assert!(
                owners[i].contains(partition),
                "member {i} owning {:?} read {partition}/{offset}",
                owners[i]
            );
        }
        let unique: BTreeSet<_> = received.iter().collect();
        assert_eq!(
            unique.len(),
            received.len(),
            "member {i} read a record twice"
        );
    }
}

#[tokio::test]
async fn commit_consumer_state_and_committed_offsets() {
    let server = Server::start_with(GROUP_BROKER_ARGS);
    server.create_topic("commits", 3).await;
    let produced = server.produce("commits", 3, 4, now_ms()).await;
    let consumer: StreamConsumer = server.member("committer", &[("enable.auto.commit", "false")]);
    consumer.subscribe(&["commits"]).expect("subscribe");
    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !seen.is_superset(&produced) {
        assert!(
            Instant::now() < deadline,
            "read {} of {} records within 30 s; server log:\n{}",
            seen.len(),
            produced.len(),
            server.log()
        );
        if let Ok(message) = tokio::time::timeout(Duration::from_millis(200), consumer.recv()).await
        {
            let message = message.expect("consume error");
            seen.insert((message.partition(), message.offset()));
        }
    }
    consumer
        .commit_consumer_state(CommitMode::Sync)
        .expect("commit_consumer_state failed");

    let committed = consumer
        .committed(Duration::from_secs(10))
        .expect("committed failed");
    let offsets: HashMap<i32, Offset> = committed
        .elements()
        .iter()
        .map(|e| (e.partition(), e.offset()))
        .collect();
    for p in 0..3 {
        assert_eq!(offsets.get(&p), Some(&Offset::Offset(4)), "partition {p}");
    }
    // Another client of the group, not a member, reads the same offsets (OffsetFetch).
    assert_eq!(
        server.committed("committer", "commits", 3),
        (0..3).map(|p| (p, Some(4))).collect()
    );

    // A commit of explicit offsets by the member.
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("commits", 1, Offset::Offset(2))
        .expect("tpl");
    consumer
        .commit(&tpl, CommitMode::Sync)
        .expect("commit failed");
    let mut one = TopicPartitionList::new();
    one.add_partition("commits", 1);
    let back = consumer
        .committed_offsets(one, Duration::from_secs(10))
        .expect("committed_offsets failed");
    assert_eq!(back.elements()[0].offset(), Offset::Offset(2));
}

#[tokio::test]
async fn consumer_group_protocol_kip848() {
    let server = Server::start_with(GROUP_BROKER_ARGS);
    server.create_topic("kip848", 2).await;
    let produced = server.produce("kip848", 2, 5, now_ms()).await;
    let consumer: StreamConsumer = server.client(&[
        ("group.id", "next-gen"),
        ("group.protocol", "consumer"),
        ("auto.offset.reset", "earliest"),
        ("enable.auto.commit", "false"),
    ]);
    consumer.subscribe(&["kip848"]).expect("subscribe");
    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !seen.is_superset(&produced) {
        assert!(
            Instant::now() < deadline,
            "read {} of {} records with group.protocol=consumer",
            seen.len(),
            produced.len()
        );
        if let Ok(message) = tokio::time::timeout(Duration::from_millis(200), consumer.recv()).await
        {
            let message = message.expect("consume error");
            seen.insert((message.partition(), message.offset()));
        }
    }
    assert_eq!(owned(&consumer), [0, 1].into_iter().collect());
    consumer
        .commit_consumer_state(CommitMode::Sync)
        .expect("commit failed");
    assert_eq!(
        server.committed("next-gen", "kip848", 2),
        (0..2).map(|p| (p, Some(5))).collect()
    );
}

/// The rows of a TOPIC/PARTITION table (`strom group describe`, `reset-offsets`), by
/// (topic, partition), each a map from column title to cell.
fn table_rows(text: &str) -> BTreeMap<(String, i32), BTreeMap<String, String>> {
    let mut rows = BTreeMap::new();
    let mut header: Option<Vec<String>> = None;
    for line in text.lines() {
        let cells: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        if cells.first().map(String::as_str) == Some("TOPIC") {
            header = Some(cells);
            continue;
        }
        if let Some(header) = &header {
            let row: BTreeMap<String, String> = header.iter().cloned().zip(cells).collect();
            if let (Some(topic), Some(Ok(partition))) = (
                row.get("TOPIC"),
                row.get("PARTITION").map(|p| p.parse::<i32>()),
            ) {
                rows.insert((topic.clone(), partition), row);
            }
        }
    }
    rows
}

/// The value of `KEY` in the summary lines of `strom group describe`.
fn summary_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let mut cells = line.split_whitespace();
        (cells.next() == Some(key)).then(|| cells.collect::<Vec<_>>().join(" "))
    })
}

fn cell(rows: &BTreeMap<(String, i32), BTreeMap<String, String>>, p: i32, col: &str) -> String {
    rows.get(&("cli-groups".to_owned(), p))
        .and_then(|r| r.get(col))
        .cloned()
        .unwrap_or_else(|| panic!("no {col} for partition {p} in {rows:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_group_list_describe_reset_delete() {
    let server = Server::start_with(GROUP_BROKER_ARGS);
    server.create_topic("cli-groups", 2).await;
    let base = now_ms() - 600_000;
    server.produce("cli-groups", 2, 10, base).await;

    // An active member that read everything and committed 10 on partition 0, 4 on partition 1.
    let member: BaseConsumer = server.member(
        "cli-group",
        &[("enable.auto.commit", "false"), ("client.id", "cli-member")],
    );
    member.subscribe(&["cli-groups"]).expect("subscribe");
    let mut read = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while read < 20 {
        assert!(
            Instant::now() < deadline,
            "read {read} of 20 records; server log:\n{}",
            server.log()
        );
        if let Some(message) = member.poll(Duration::from_millis(100)) {
            message.expect("consume error");
            read += 1;
        }
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("cli-groups", 0, Offset::Offset(10))
        .expect("tpl");
    tpl.add_partition_offset("cli-groups", 1, Offset::Offset(4))
        .expect("tpl");
    member.commit(&tpl, CommitMode::Sync).expect("commit");

    let listed = server.cli_ok(&["group", "list"]);
    assert!(
        listed
            .lines()
            .next()
            .is_some_and(|l| l.split_whitespace().eq(["GROUP", "STATE", "PROTOCOL-TYPE"])),
        "{listed}"
    );
    assert!(
        listed
            .lines()
            .any(|l| l.split_whitespace().eq(["cli-group", "Stable", "consumer"])),
        "{listed}"
    );

    // The BaseConsumer is polled only by us: keep it alive in the group while the CLI runs.
    let described = server.cli_ok(&["group", "describe", "cli-group"]);
    member.poll(Duration::from_millis(10));
    assert_eq!(
        summary_value(&described, "STATE").as_deref(),
        Some("Stable"),
        "{described}"
    );
    assert_eq!(
        summary_value(&described, "PROTOCOL-TYPE").as_deref(),
        Some("consumer")
    );
    assert_eq!(
        summary_value(&described, "PROTOCOL").as_deref(),
        Some("range")
    );
    assert_eq!(summary_value(&described, "MEMBERS").as_deref(), Some("1"));
    assert_eq!(
        summary_value(&described, "TOTAL-LAG").as_deref(),
        Some("6"),
        "{described}"
    );
    let rows = table_rows(&described);
    assert_eq!(rows.len(), 2, "{described}");
    assert_eq!(cell(&rows, 0, "CURRENT-OFFSET"), "10");
    assert_eq!(cell(&rows, 0, "LOG-END-OFFSET"), "10");
    assert_eq!(cell(&rows, 0, "LAG"), "0");
    assert_eq!(cell(&rows, 1, "CURRENT-OFFSET"), "4");
    assert_eq!(cell(&rows, 1, "LAG"), "6");
    assert_eq!(cell(&rows, 1, "CLIENT-ID"), "cli-member");
    assert_ne!(cell(&rows, 1, "MEMBER-ID"), "-");

    // Kafka refuses to reset the offsets of an active group.
    let refused = server.cli(&[
        "group",
        "reset-offsets",
        "cli-group",
        "--topic",
        "cli-groups",
        "--to-earliest",
        "--execute",
    ]);
    assert!(
        !refused.success,
        "reset of an active group succeeded: {}",
        refused.stdout
    );
    assert!(
        refused
            .stderr
            .contains("group cli-group is not empty (state Stable); stop its consumers first"),
        "{}",
        refused.stderr
    );
    // Nor delete it.
    let refused = server.cli(&["group", "delete", "cli-group"]);
    assert!(!refused.success, "{}", refused.stdout);
    assert!(
        refused.stdout.contains("NonEmptyGroup"),
        "{}",
        refused.stdout
    );

    drop(member); // closes: LeaveGroup
    let deadline = Instant::now() + Duration::from_secs(15);
    while !server
        .cli_ok(&["group", "list"])
        .lines()
        .any(|l| l.split_whitespace().eq(["cli-group", "Empty", "consumer"]))
    {
        assert!(Instant::now() < deadline, "cli-group did not become Empty");
        thread::sleep(Duration::from_millis(200));
    }
    let described = server.cli_ok(&["group", "describe", "cli-group"]);
    assert_eq!(summary_value(&described, "STATE").as_deref(), Some("Empty"));
    assert_eq!(summary_value(&described, "MEMBERS").as_deref(), Some("0"));
    let rows = table_rows(&described);
    assert_eq!(cell(&rows, 1, "LAG"), "6", "{described}");
    assert_eq!(cell(&rows, 1, "MEMBER-ID"), "-");

    let reset = |extra: &[&str]| {
        let mut args = vec![
            "group",
            "reset-offsets",
            "cli-group",
            "--topic",
            "cli-groups",
        ];
        args.extend_from_slice(extra);
        server.cli_ok(&args)
    };
    // A dry run prints the plan and commits nothing.
    let plan = reset(&["--to-earliest", "--dry-run"]);
    let rows = table_rows(&plan);
    assert_eq!(cell(&rows, 0, "OLD-OFFSET"), "10", "{plan}");
    assert_eq!(cell(&rows, 0, "NEW-OFFSET"), "0");
    assert_eq!(cell(&rows, 1, "OLD-OFFSET"), "4");
    assert_eq!(cell(&rows, 1, "NEW-OFFSET"), "0");
    assert!(plan.contains("dry run"), "{plan}");
    assert_eq!(
        server.committed("cli-group", "cli-groups", 2),
        [(0, Some(10)), (1, Some(4))].into_iter().collect()
    );
    // Without --execute it is a dry run too.
    reset(&["--to-earliest"]);
    assert_eq!(
        server.committed("cli-group", "cli-groups", 2),
        [(0, Some(10)), (1, Some(4))].into_iter().collect()
    );

    reset(&["--to-earliest", "--execute"]);
    assert_eq!(
        server.committed("cli-group", "cli-groups", 2),
        [(0, Some(0)), (1, Some(0))].into_iter().collect()
    );
    reset(&["--shift-by", "3", "--partition", "1", "--execute"]);
    reset(&["--to-offset", "100", "--partition", "0", "--execute"]); // clamped to the log end
    assert_eq!(
        server.committed("cli-group", "cli-groups", 2),
        [(0, Some(10)), (1, Some(3))].into_iter().collect()
    );
    reset(&["--shift-by", "-5", "--execute"]); // clamped to the log start
    assert_eq!(
        server.committed("cli-group", "cli-groups", 2),
        [(0, Some(5)), (1, Some(0))].into_iter().collect()
    );
    // Record i has timestamp base + i s: the first at or after base + 6.5 s is offset 7.
    let at = (base + 6_500).to_string();
    reset(&["--to-datetime", &at, "--execute"]);
    assert_eq!(
        server.committed("cli-group", "cli-groups", 2),
        [(0, Some(7)), (1, Some(7))].into_iter().collect()
    );
    // No record at or after that time: the log end.
    reset(&["--to-datetime", "2999-01-01T00:00:00Z", "--execute"]);
    reset(&["--to-latest", "--execute"]);
    assert_eq!(
        server.committed("cli-group", "cli-groups", 2),
        [(0, Some(10)), (1, Some(10))].into_iter().collect()
    );
    let bad = server.cli(&[
        "group",
        "reset-offsets",
        "cli-group",
        "--topic",
        "cli-groups",
        "--partition",
        "9",
        "--to-earliest",
    ]);
    assert!(
        !bad.success && bad.stderr.contains("has no partition 9"),
        "{}",
        bad.stderr
    );

    let deleted = server.cli_ok(&["group", "delete", "cli-group"]);
    assert!(
        deleted
            .lines()
            .any(|l| l.split_whitespace().eq(["cli-group", "OK"])),
        "{deleted}"
    );
    let listed = server.cli_ok(&["group", "list"]);
    assert!(!listed.contains("cli-group"), "{listed}");
    assert_eq!(
        server.committed("cli-group", "cli-groups", 2),
        [(0, None), (1, None)].into_iter().collect()
    );
    let again = server.cli(&["group", "delete", "cli-group"]);
    assert!(!again.success);
    assert!(again.stdout.contains("GroupIdNotFound"), "{}", again.stdout);
}
