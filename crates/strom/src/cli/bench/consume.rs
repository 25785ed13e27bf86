//! `strom bench consume`: reads a topic from the beginning (e.g. after `bench produce`) until
//! `--num-records`, `--duration` or the end of the topic as it was at the start, and reports
//! records/s and payload bytes/s. Consumers get the partitions by assignment (round robin) or,
//! with `--group`, join a consumer group; fetches are tuned for throughput. [`run_consumer`] is
//! shared with `bench e2e`, where consumers check each record's run id and measure its
//! end-to-end latency.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::KafkaError;
use rdkafka::{Message as _, Offset, TopicPartitionList};
use serde_json::json;

use super::common::{ensure_topic, now_us, parse_seconds, watermarks, TopicArgs};
use super::progress::Progress;
use super::stats::{print_report, rates, round3, thousands, throughput_text, Recorder, Totals};
use crate::cli::connection::{explain, ConnectionArgs, KafkaContext as _};

/// A consumer gives up after this long without a record once records have come.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// A consumer gives up after this long without any record (group joins can take seconds).
const FIRST_RECORD_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one poll waits; bounds how late a consumer notices it should stop.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);

/// Arguments of `strom bench consume`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    strom bench produce --topic b1 --num-records 1000000 && strom bench consume --topic b1\n  \
    strom bench consume --topic b1 --consumers 3 --group bench --json\n\n\
    Reads from the beginning of the topic until --num-records records, --duration seconds, or\n\
    the end of every partition as it was at the start. Throughput is measured from the first\n\
    record to the last; the time to the first record is reported as startup.")]
pub struct ConsumeArgs {
    /// The topic to read (it must exist).
    #[arg(long, default_value = super::common::DEFAULT_TOPIC)]
    pub topic: String,
    /// Stop after this many records (in total over all consumers).
    #[arg(long, short = 'n', value_name = "N", conflicts_with = "duration",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub num_records: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, short = 'd', value_name = "SECS", value_parser = parse_seconds)]
    pub duration: Option<f64>,
    /// Number of consumers, each a librdkafka instance on its own thread.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub consumers: u32,
    /// Join this consumer group (reading from its committed offsets, else the beginning)
    /// instead of assigning the partitions round robin. Offsets are never committed.
    #[arg(long, value_name = "NAME")]
    pub group: Option<String>,
    /// Print the results as one JSON object on the last line of stdout as well.
    #[arg(long)]
    pub json: bool,
    /// No progress line and no notes on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Runs `strom bench consume`.
pub async fn run(args: ConsumeArgs) -> Result<()> {
    let topic_args = TopicArgs {
        topic: args.topic.clone(),
        partitions: None,
    };
    let partitions = ensure_topic(&args.connection, &topic_args, false, args.quiet).await?;
    let marks = watermarks(&args.connection.metadata_client()?, &args.topic, partitions)?;
    let available: u64 = marks
        .iter()
        .map(|(low, high)| (high - low).max(0) as u64)
        .sum();
    let workers = args.consumers;
    if args.group.is_none() && workers > partitions as u32 {
        anyhow::bail!(
            "--consumers {workers} is more than the {partitions} partition(s) of {:?}; use --group to have idle members",
            args.topic
        );
    }
    let share = Share::new(args.num_records.unwrap_or(u64::MAX), false);
    let recorders: Vec<Arc<Recorder>> = (0..workers).map(|_| Arc::default()).collect();
    let mut consumers = Vec::new();
    let mut plans = Vec::new();
    for worker in 0..workers {
        let consumer = create_consumer(
            &args.connection,
            args.group.as_deref().unwrap_or("strom-bench"),
            Tuning::Throughput,
        )?;
        let ends = match &args.group {
            Some(_) => {
                consumer
                    .subscribe(&[&args.topic])
                    .kafka_context(|| format!("cannot subscribe to {:?}", args.topic))?;
                None
            }
            None => {
                let mut assignment = TopicPartitionList::new();
                let mut ends = HashMap::new();
                for partition in (0..partitions).filter(|p| *p as u32 % workers == worker) {
                    assignment
                        .add_partition_offset(&args.topic, partition, Offset::Beginning)
                        .kafka_context(|| "cannot build the assignment")?;
                    let (low, high) = marks[partition as usize];
                    if high > low {
                        ends.insert(partition, high);
                    }
                }
                consumer
                    .assign(&assignment)
                    .kafka_context(|| "cannot assign the partitions")?;
                Some(ends)
            }
        };
        consumers.push(consumer);
        plans.push(ConsumerPlan {
            ends,
            partitions,
            run: None,
            deadline: None,
        });
    }

    let progress = Progress::start(args.quiet, recorders.clone(), Vec::new(), "");
    let start = Instant::now();
    let start_us = now_us();
    let deadline = args
        .duration
        .map(|secs| start + Duration::from_secs_f64(secs));
    thread::scope(|scope| {
        for ((consumer, mut plan), recorder) in consumers.iter().zip(plans).zip(&recorders) {
            plan.deadline = deadline;
            let share = &share;
            let quiet = args.quiet;
            scope.spawn(move || run_consumer(consumer, &plan, share, recorder, quiet));
        }
    });
    progress.stop();

    let totals = Totals::of(&recorders);
    let elapsed = totals.span();
    let (records_per_sec, bytes_per_sec) = rates(totals.records, totals.bytes, elapsed);
    let startup = Duration::from_micros(totals.first_us.saturating_sub(start_us));
    let json = json!({
        "command": "consume",
        "topic": args.topic,
        "records": totals.records,
        "bytes": totals.bytes,
        "errors": totals.errors,
        "elapsed_s": round3(elapsed.as_secs_f64()),
        "startup_s": round3(if totals.records > 0 { startup.as_secs_f64() } else { 0.0 }),
        "records_per_sec": round3(records_per_sec),
        "bytes_per_sec": round3(bytes_per_sec),
        "latency_ms": null,
        "available": available,
        "num_records": args.num_records,
        "duration_s": args.duration,
        "group": args.group,
        "partitions": partitions,
        "consumers": workers,
        "producers": 0,
        "record_size": null,
        "acks": null,
        "compression": null,
        "keys": null,
        "rate": null,
    });
    let mut lines = vec![
        format!(
            "consumed {} records ({} payload bytes) in {:.2} s from {:?} ({partitions} partition(s), {} available); first record after {:.2} s",
            thousands(totals.records),
            thousands(totals.bytes),
            elapsed.as_secs_f64(),
            args.topic,
            thousands(available),
            startup.as_secs_f64(),
        ),
        format!("  throughput   {}", throughput_text(records_per_sec, bytes_per_sec)),
    ];
    if totals.errors > 0 {
        lines.push(format!(
            "  {} consumer error(s), first: {}",
            thousands(totals.errors),
            totals.first_error.as_deref().unwrap_or("unknown")
        ));
    }
    print_report(&lines, args.json.then_some(&json));
    Ok(())
}

/// How a consumer's fetches are tuned.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tuning {
    /// Large fetches and a deep prefetch queue; partition EOF events tell where the end is.
    Throughput,
    /// Answer as soon as one record is there (end-to-end latency).
    Latency,
}

/// A consumer in `group` that never commits, tuned as asked.
pub fn create_consumer(
    connection: &ConnectionArgs,
    group: &str,
    tuning: Tuning,
) -> Result<BaseConsumer> {
    let mut config = connection.client_config();
    config
        .set("client.id", "strom-bench")
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("max.partition.fetch.bytes", "8388608")
        .set("fetch.max.bytes", "52428800")
        .set("queued.min.messages", "1000000")
        .set("queued.max.messages.kbytes", "262144");
    match tuning {
        Tuning::Throughput => config
            .set("enable.partition.eof", "true")
            .set("fetch.min.bytes", "1048576")
            .set("fetch.wait.max.ms", "100"),
        Tuning::Latency => config
            .set("enable.partition.eof", "false")
            .set("fetch.min.bytes", "1")
            .set("fetch.wait.max.ms", "100"),
    };
    config
        .create()
        .kafka_context(|| "cannot create the Kafka consumer (librdkafka)")
}

/// What the consumers of one run share.
pub struct Share {
    /// Records counted so far, over all consumers.
    claimed: AtomicU64,
    /// Stop once `claimed` reaches it (`u64::MAX`: not known yet).
    target: AtomicU64,
    /// Set while producers may still send (e2e): consumers do not give up for idleness then.
    producing: AtomicBool,
    /// Set when every consumer should stop.
    stop: AtomicBool,
    /// Partitions whose end some group member has reached.
    at_end: Mutex<HashSet<i32>>,
}

impl Share {
    pub fn new(target: u64, producing: bool) -> Share {
        Share {
            claimed: AtomicU64::new(0),
            target: AtomicU64::new(target),
            producing: AtomicBool::new(producing),
            stop: AtomicBool::new(false),
            at_end: Mutex::new(HashSet::new()),
        }
    }

    /// The producers are done and delivered `target` records: consume that many.
    pub fn producers_done(&self, target: u64) {
        self.target.store(target, Ordering::SeqCst);
        self.producing.store(false, Ordering::SeqCst);
    }

    /// Makes every consumer stop at its next poll.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// What one consumer thread reads.
pub struct ConsumerPlan {
    /// Assignment mode: the end offset (exclusive) of each assigned partition still to finish.
    /// `None`: group member or e2e consumer, stopped by the target, EOFs or idleness.
    pub ends: Option<HashMap<i32, i64>>,
    /// Partitions of the topic (a group stops when all have reached their end).
    pub partitions: i32,
    /// e2e: only values stamped with this run id count; their latency is measured.
    pub run: Option<u64>,
    pub deadline: Option<Instant>,
}

/// Polls `consumer` until the plan or the share says stop, recording into `recorder`.
pub fn run_consumer(
    consumer: &BaseConsumer,
    plan: &ConsumerPlan,
    share: &Share,
    recorder: &Recorder,
    quiet: bool,
) {
    let mut ends = plan.ends.clone();
    let start = Instant::now();
    let mut last_record: Option<Instant> = None;
    let run = plan.run.map(u64::to_le_bytes);
    loop {
        if ends.as_ref().is_some_and(HashMap::is_empty)
            || share.stop.load(Ordering::Relaxed)
            || plan.deadline.is_some_and(|d| Instant::now() >= d)
        {
            return;
        }
        if share.claimed.load(Ordering::Relaxed) >= share.target.load(Ordering::Relaxed) {
            share.stop();
            return;
        }
        match consumer.poll(POLL_TIMEOUT) {
            None => {
                let idle = match last_record {
                    Some(at) => at.elapsed() >= IDLE_TIMEOUT,
                    None => start.elapsed() >= FIRST_RECORD_TIMEOUT,
                };
                if idle && !share.producing.load(Ordering::Relaxed) {
                    if !quiet {
                        eprintln!("note: a consumer stopped after receiving nothing for a while");
                    }
                    return;
                }
            }
            Some(Ok(message)) => {
                let now = now_us();
                let payload = message.payload().unwrap_or_default();
                let latency = match &run {
                    None => None,
                    Some(run) => match payload.get(..16) {
                        Some(stamp) if stamp[8..] == run[..] => {
                            let mut sent = [0u8; 8];
                            sent.copy_from_slice(&stamp[..8]);
                            Some(now.saturating_sub(u64::from_le_bytes(sent)))
                        }
                        // Not from this run (another writer to the topic).
                        _ => continue,
                    },
                };
                if share.claimed.fetch_add(1, Ordering::Relaxed)
                    >= share.target.load(Ordering::Relaxed)
                {
                    share.stop();
                    return;
                }
                recorder.record(payload.len() as u64, now, latency);
                last_record = Some(Instant::now());
                if let Some(ends) = &mut ends {
                    let partition = message.partition();
                    if ends
                        .get(&partition)
                        .is_some_and(|&end| message.offset() + 1 >= end)
                    {
                        ends.remove(&partition);
                    }
                }
            }
            Some(Err(KafkaError::PartitionEOF(partition))) => match &mut ends {
                Some(ends) => {
                    ends.remove(&partition);
                }
                None if plan.run.is_none() => {
                    let mut at_end = share.at_end.lock().unwrap_or_else(|e| e.into_inner());
                    at_end.insert(partition);
                    if at_end.len() >= plan.partitions as usize {
                        share.stop();
                    }
                }
                None => {}
            },
            Some(Err(err)) => {
                recorder.error(|| explain(&err));
            }
        }
    }
}
