//! `strom bench produce`: producers as fast as possible or at `--rate`, reporting throughput
//! and produce-to-ack latency. Each producer is a librdkafka `BaseProducer` on its own thread
//! that sends a reused payload buffer (librdkafka copies it); a second thread waits for its
//! delivery reports, so that each is timed when it arrives, not when the sender next gets round
//! to polling. The latency of a record is the time from `produce()` to its delivery callback on
//! the monotonic clock (the send time travels as the delivery opaque). [`run_producer`] is shared
//! with `bench e2e`, which also stamps the send time into the value.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;
use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer as _, ProducerContext};
use serde_json::json;

use super::common::{ensure_topic, now_us, share_rate, Amount, Keys, ProducerArgs, Rng, TopicArgs};
use super::progress::Progress;
use super::stats::{
    percentiles_json, percentiles_text, print_report, rates, round3, thousands, throughput_text,
    Recorder, Totals,
};
use crate::cli::connection::{explain, ConnectionArgs, KafkaContext as _, CONNECT_TIMEOUT};

/// How long the final flush may wait for outstanding delivery reports.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);

/// How long one wait of the delivery-report thread lasts (it then checks whether to stop).
const REPORT_WAIT: Duration = Duration::from_millis(100);
/// How long the sender pauses when librdkafka's queue is full.
const QUEUE_FULL_PAUSE: Duration = Duration::from_micros(200);

/// Arguments of `strom bench produce`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    strom bench produce --topic b1 --num-records 1000000 --record-size 100 --acks 1\n  \
    strom bench produce --duration 30 --rate 50000 --partitions 6 --keys 1000 --json\n\n\
    Without --num-records or --duration a run lasts 10 seconds. The topic is created with\n\
    --partitions partitions (default 1, replication factor 1) when it does not exist.\n\
    Latency is measured from the produce() call to the delivery report; bytes count payloads.")]
pub struct ProduceArgs {
    #[command(flatten)]
    pub topic: TopicArgs,
    #[command(flatten)]
    pub producer: ProducerArgs,
    /// Number of records to produce (in total over all producers).
    #[arg(long, short = 'n', value_name = "N", conflicts_with = "duration",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub num_records: Option<u64>,
    /// Produce for this many seconds instead of a number of records.
    #[arg(long, short = 'd', value_name = "SECS", value_parser = super::common::parse_seconds)]
    pub duration: Option<f64>,
    /// Records per second over all producers, paced evenly (0 = as fast as possible).
    #[arg(long, value_name = "RECORDS_PER_SEC", default_value_t = 0)]
    pub rate: u64,
    /// Print the results as one JSON object on the last line of stdout as well.
    #[arg(long)]
    pub json: bool,
    /// No progress line and no notes on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// The default length of a run without `--num-records` or `--duration`.
pub const DEFAULT_AMOUNT: Amount = Amount::Duration(Duration::from_secs(10));

/// Runs `strom bench produce`.
pub async fn run(args: ProduceArgs) -> Result<()> {
    let partitions = ensure_topic(&args.connection, &args.topic, true, args.quiet).await?;
    let amount = Amount::from_flags(args.num_records, args.duration, DEFAULT_AMOUNT);
    let workers = args.producer.producers;
    let recorders: Vec<Arc<Recorder>> = (0..workers).map(|_| Arc::default()).collect();
    let producers = recorders
        .iter()
        .map(|recorder| {
            create_producer(
                &args.connection,
                &args.producer,
                &args.topic.topic,
                recorder,
            )
        })
        .collect::<Result<Vec<_>>>()?;

    let progress = Progress::start(args.quiet, recorders.clone(), recorders.clone(), "ack");
    let start = Instant::now();
    let results: Vec<Result<()>> = thread::scope(|scope| {
        let handles: Vec<_> = producers
            .into_iter()
            .enumerate()
            .map(|(i, producer)| {
                let plan = Plan {
                    topic: &args.topic.topic,
                    amount: amount.share(i as u32, workers),
                    rate: share_rate(args.rate, workers),
                    record_size: args.producer.record_size as usize,
                    keys: args.producer.keys,
                    stamp: None,
                    seed: i as u64,
                };
                scope.spawn(move || run_producer(&producer, &plan))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a producer thread panicked")))
            })
            .collect()
    });
    let elapsed = start.elapsed();
    progress.stop();
    results.into_iter().collect::<Result<Vec<()>>>()?;

    let totals = Totals::of(&recorders);
    let (records_per_sec, bytes_per_sec) = rates(totals.records, totals.bytes, elapsed);
    let (num_records, duration_s) = amount.json();
    let json = json!({
        "command": "produce",
        "topic": args.topic.topic,
        "records": totals.records,
        "bytes": totals.bytes,
        "errors": totals.errors,
        "elapsed_s": round3(elapsed.as_secs_f64()),
        "records_per_sec": round3(records_per_sec),
        "bytes_per_sec": round3(bytes_per_sec),
        "latency_ms": percentiles_json(&totals.latency),
        "num_records": num_records,
        "duration_s": duration_s,
        "rate": args.rate,
        "record_size": args.producer.record_size,
        "acks": args.producer.acks,
        "linger_ms": args.producer.linger_ms,
        "batch_size": args.producer.batch_size,
        "compression": args.producer.compression.name(),
        "keys": args.producer.keys.to_string(),
        "partitions": partitions,
        "producers": workers,
        "consumers": 0,
    });
    let lines = vec![
        format!(
            "produced {} records ({} payload bytes) in {:.2} s to {:?} ({partitions} partition(s))",
            thousands(totals.records),
            thousands(totals.bytes),
            elapsed.as_secs_f64(),
            args.topic.topic
        ),
        format!(
            "  throughput   {}",
            throughput_text(records_per_sec, bytes_per_sec)
        ),
        format!("  ack latency  {}", percentiles_text(&totals.latency)),
    ];
    print_report(&lines, args.json.then_some(&json));
    check_errors(&totals)
}

/// Fails when some records were not delivered, naming the first error.
pub fn check_errors(totals: &Totals) -> Result<()> {
    if totals.errors > 0 {
        anyhow::bail!(
            "{} record(s) were not delivered; first error: {}",
            thousands(totals.errors),
            totals.first_error.as_deref().unwrap_or("unknown")
        );
    }
    Ok(())
}

/// The producer context: every delivery report lands in the thread's [`Recorder`].
pub struct AckRecorder {
    recorder: Arc<Recorder>,
}

impl ClientContext for AckRecorder {}

impl ProducerContext for AckRecorder {
    /// The send time, in `now_us()` microseconds.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_us: usize) {
        let now = now_us();
        match result {
            Ok(message) => self.recorder.record(
                message.payload_len() as u64,
                now,
                Some(now.saturating_sub(sent_us as u64)),
            ),
            Err((err, _)) => self.recorder.error(|| explain(err)),
        }
    }
}

/// A producer configured for throughput from the flags, reporting into `recorder`. Its
/// metadata for `topic` is fetched up front, so that connecting is not part of the timing.
pub fn create_producer(
    connection: &ConnectionArgs,
    args: &ProducerArgs,
    topic: &str,
    recorder: &Arc<Recorder>,
) -> Result<BaseProducer<AckRecorder>> {
    let mut config = connection.client_config();
    config
        .set("client.id", "strom-bench")
        .set("acks", &args.acks)
        .set("compression.type", args.compression.name())
        .set("linger.ms", args.linger_ms.to_string())
        .set("batch.size", args.batch_size.to_string())
        .set("batch.num.messages", "1000000")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "262144")
        .set("message.timeout.ms", "30000")
        // Like the Java client (TCP_NODELAY): without it, librdkafka's small requests wait on
        // Nagle's algorithm for the previous one's ACK, which measures the kernel, not Strom.
        .set("socket.nagle.disable", "true");
    let producer: BaseProducer<AckRecorder> = config
        .create_with_context(AckRecorder {
            recorder: Arc::clone(recorder),
        })
        .kafka_context(|| "cannot create the Kafka producer (librdkafka)")?;
    producer
        .client()
        .fetch_metadata(Some(topic), CONNECT_TIMEOUT)
        .kafka_context(|| format!("cannot reach a broker at {}", connection.brokers))?;
    Ok(producer)
}

/// What one producer thread sends.
pub struct Plan<'a> {
    pub topic: &'a str,
    pub amount: Amount,
    /// Records per second for this thread; 0 = as fast as possible.
    pub rate: f64,
    pub record_size: usize,
    pub keys: Keys,
    /// For e2e: the run id written after the send time in the first 16 bytes of each value.
    pub stamp: Option<u64>,
    /// Distinguishes the threads' random streams.
    pub seed: u64,
}

/// Sends `plan` through `producer`, then waits for every delivery report.
pub fn run_producer(producer: &BaseProducer<AckRecorder>, plan: &Plan<'_>) -> Result<()> {
    let sending = AtomicBool::new(true);
    thread::scope(|scope| {
        // Delivery reports are served by a thread of their own that blocks until one arrives.
        // (rdkafka's `poll` busy-waits the last millisecond of its timeout, so this thread spins
        // for about 1 % of the time.)
        scope.spawn(|| {
            while sending.load(Ordering::Acquire) {
                producer.poll(REPORT_WAIT);
            }
        });
        let sent = send_all(producer, plan);
        sending.store(false, Ordering::Release);
        sent
    })?;
    producer.flush(FLUSH_TIMEOUT).kafka_context(|| {
        format!(
            "{} record(s) still undelivered after {} s",
            producer.in_flight_count(),
            FLUSH_TIMEOUT.as_secs()
        )
    })?;
    Ok(())
}

/// The sending loop of [`run_producer`].
fn send_all(producer: &BaseProducer<AckRecorder>, plan: &Plan<'_>) -> Result<()> {
    let mut rng = Rng::new(plan.seed);
    let mut value = rng.letters(plan.record_size);
    let start = Instant::now();
    let (limit, deadline) = match plan.amount {
        Amount::Records(n) => (n, None),
        Amount::Duration(d) => (u64::MAX, Some(start + d)),
    };
    let mut sent = 0u64;
    while sent < limit {
        let now = Instant::now();
        if deadline.is_some_and(|deadline| now >= deadline) {
            break;
        }
        if plan.rate > 0.0 {
            let due = start + Duration::from_secs_f64(sent as f64 / plan.rate);
            if deadline.is_some_and(|deadline| due >= deadline) {
                break;
            }
            if due > now {
                thread::sleep(due - now);
            }
        }
        let sent_us = now_us();
        if let Some(run) = plan.stamp {
            value[..8].copy_from_slice(&sent_us.to_le_bytes());
            value[8..16].copy_from_slice(&run.to_le_bytes());
        }
        let key = match plan.keys {
            Keys::None => None,
            Keys::Random => Some(rng.next_u64().to_be_bytes()),
            Keys::Distinct(n) => Some((rng.next_u64() % n).to_be_bytes()),
        };
        let mut record =
            BaseRecord::<[u8], [u8], usize>::with_opaque_to(plan.topic, sent_us as usize)
                .payload(&value[..]);
        if let Some(key) = &key {
            record = record.key(&key[..]);
        }
        match producer.send(record) {
            Ok(()) => sent += 1,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                // The queue is full: give librdkafka a moment to deliver, then try again with a
                // new send time.
                thread::sleep(QUEUE_FULL_PAUSE);
            }
            Err((err, _)) => return Err(err).kafka_context(|| "cannot enqueue a record"),
        }
    }
    Ok(())
}
