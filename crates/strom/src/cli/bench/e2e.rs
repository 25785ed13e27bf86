//! `strom bench e2e`: producers at `--rate` and consumers on the same topic in one process.
//! Each value starts with the send time (8 bytes, little-endian microseconds of the process's
//! monotonic clock) and the run id (8 bytes); a consumer's latency is its poll time minus the
//! send time, so both ends read the same clock. Consumers are assigned the partitions at their
//! high watermarks taken before the first send, so they see every record of the run and skip
//! anything else on the topic. Produce-to-ack latency is reported too.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::Result;
use rdkafka::consumer::Consumer as _;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;

use super::common::{
    ensure_topic, now_us, share_rate, watermarks, Amount, ProducerArgs, Rng, TopicArgs,
};
use super::consume::{create_consumer, run_consumer, ConsumerPlan, Share, Tuning};
use super::produce::{check_errors, create_producer, run_producer, Plan, DEFAULT_AMOUNT};
use super::progress::Progress;
use super::stats::{
    percentiles_json, percentiles_text, print_report, rates, round3, thousands, throughput_text,
    Recorder, Totals,
};
use crate::cli::connection::{ConnectionArgs, KafkaContext as _};

/// Bytes at the start of each value: send time and run id.
const STAMP_LEN: u64 = 16;

/// Arguments of `strom bench e2e`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    strom bench e2e --topic lat --rate 1000 --duration 30\n  \
    strom bench e2e --rate 20000 --partitions 4 --consumers 2 --acks 1 --json\n\n\
    Without --num-records or --duration a run lasts 10 seconds. End-to-end latency is the\n\
    consumer's receive time minus the send time carried in the first 8 bytes of the value\n\
    (so --record-size must be at least 16). Consumers start at the end of the topic.")]
pub struct E2eArgs {
    #[command(flatten)]
    pub topic: TopicArgs,
    #[command(flatten)]
    pub producer: ProducerArgs,
    /// Number of consumers, each assigned a share of the partitions on its own thread.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub consumers: u32,
    /// Number of records to produce (in total over all producers).
    #[arg(long, short = 'n', value_name = "N", conflicts_with = "duration",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub num_records: Option<u64>,
    /// Produce for this many seconds instead of a number of records.
    #[arg(long, short = 'd', value_name = "SECS", value_parser = super::common::parse_seconds)]
    pub duration: Option<f64>,
    /// Records per second over all producers, paced evenly (0 = as fast as possible, which
    /// measures queueing more than latency).
    #[arg(long, value_name = "RECORDS_PER_SEC", default_value_t = 1000)]
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

/// Runs `strom bench e2e`.
pub async fn run(args: E2eArgs) -> Result<()> {
    if args.producer.record_size < STAMP_LEN {
        anyhow::bail!(
            "--record-size must be at least {STAMP_LEN} for e2e: each value carries its send time and the run id"
        );
    }
    let topic = &args.topic.topic;
    let partitions = ensure_topic(&args.connection, &args.topic, true, args.quiet).await?;
    if args.consumers > partitions as u32 {
        anyhow::bail!(
            "--consumers {} is more than the {partitions} partition(s) of {topic:?}",
            args.consumers
        );
    }
    let amount = Amount::from_flags(args.num_records, args.duration, DEFAULT_AMOUNT);
    let run_id = Rng::new(u64::from(std::process::id())).next_u64();

    // Consumers first, each at the high watermarks of its partitions.
    let marks = watermarks(&args.connection.metadata_client()?, topic, partitions)?;
    let consumer_recorders: Vec<Arc<Recorder>> =
        (0..args.consumers).map(|_| Arc::default()).collect();
    let mut consumers = Vec::new();
    for worker in 0..args.consumers {
        let consumer = create_consumer(&args.connection, "strom-bench-e2e", Tuning::Latency)?;
        let mut assignment = TopicPartitionList::new();
        for partition in (0..partitions).filter(|p| *p as u32 % args.consumers == worker) {
            let (_, high) = marks[partition as usize];
            assignment
                .add_partition_offset(topic, partition, Offset::Offset(high))
                .kafka_context(|| "cannot build the assignment")?;
        }
        consumer
            .assign(&assignment)
            .kafka_context(|| "cannot assign the partitions")?;
        consumers.push(consumer);
    }

    let workers = args.producer.producers;
    let producer_recorders: Vec<Arc<Recorder>> = (0..workers).map(|_| Arc::default()).collect();
    let producers = producer_recorders
        .iter()
        .map(|recorder| create_producer(&args.connection, &args.producer, topic, recorder))
        .collect::<Result<Vec<_>>>()?;

    let share = Share::new(u64::MAX, true);
    let progress = Progress::start(
        args.quiet,
        consumer_recorders.clone(),
        consumer_recorders.clone(),
        "e2e",
    );
    let start_us = now_us();
    let produced: Result<()> = thread::scope(|scope| {
        for (consumer, recorder) in consumers.iter().zip(&consumer_recorders) {
            let plan = ConsumerPlan {
                ends: None::<HashMap<i32, i64>>,
                partitions,
                run: Some(run_id),
                deadline: None,
            };
            let share = &share;
            let quiet = args.quiet;
            scope.spawn(move || run_consumer(consumer, &plan, share, recorder, quiet));
        }
        let handles: Vec<_> = producers
            .iter()
            .enumerate()
            .map(|(i, producer)| {
                let plan = Plan {
                    topic,
                    amount: amount.share(i as u32, workers),
                    rate: share_rate(args.rate, workers),
                    record_size: args.producer.record_size as usize,
                    keys: args.producer.keys,
                    stamp: Some(run_id),
                    seed: i as u64,
                };
                scope.spawn(move || run_producer(producer, &plan))
            })
            .collect();
        let results: Vec<Result<()>> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a producer thread panicked")))
            })
            .collect();
        let delivered: u64 = producer_recorders.iter().map(|r| r.records()).sum();
        match results.into_iter().collect::<Result<Vec<()>>>() {
            Ok(_) => share.producers_done(delivered),
            Err(err) => {
                share.stop();
                return Err(err);
            }
        }
        Ok(())
    });
    progress.stop();
    produced?;

    let acks = Totals::of(&producer_recorders);
    let e2e = Totals::of(&consumer_recorders);
    let elapsed =
        Duration::from_micros(e2e.last_us.saturating_sub(start_us)).max(Duration::from_micros(1));
    let (records_per_sec, bytes_per_sec) = rates(e2e.records, e2e.bytes, elapsed);
    let missing = acks.records.saturating_sub(e2e.records);
    let (num_records, duration_s) = amount.json();
    let json = json!({
        "command": "e2e",
        "topic": topic,
        "records": e2e.records,
        "bytes": e2e.bytes,
        "produced": acks.records,
        "missing": missing,
        "errors": acks.errors,
        "elapsed_s": round3(elapsed.as_secs_f64()),
        "records_per_sec": round3(records_per_sec),
        "bytes_per_sec": round3(bytes_per_sec),
        "latency_ms": percentiles_json(&e2e.latency),
        "ack_latency_ms": percentiles_json(&acks.latency),
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
        "consumers": args.consumers,
    });
    let mut lines = vec![
        format!(
            "e2e: produced {} and consumed {} records ({} payload bytes) in {:.2} s on {topic:?} ({partitions} partition(s))",
            thousands(acks.records),
            thousands(e2e.records),
            thousands(e2e.bytes),
            elapsed.as_secs_f64(),
        ),
        format!("  throughput   {}", throughput_text(records_per_sec, bytes_per_sec)),
        format!("  e2e latency  {}", percentiles_text(&e2e.latency)),
        format!("  ack latency  {}", percentiles_text(&acks.latency)),
    ];
    if missing > 0 {
        lines.push(format!(
            "  {} delivered record(s) were not consumed",
            thousands(missing)
        ));
    }
    print_report(&lines, args.json.then_some(&json));
    check_errors(&acks)?;
    if missing > 0 {
        anyhow::bail!(
            "{} delivered record(s) were not consumed",
            thousands(missing)
        );
    }
    Ok(())
}
