//! `strom produce`: reads records from stdin, one per line, and produces them with
//! librdkafka's `FutureProducer`, keeping many in flight and reporting each delivery in order.

use std::collections::VecDeque;
use std::io::BufRead as _;
use std::time::Duration;

use anyhow::{Context as _, Result};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer as _};

use super::connection::{explain, find_topic, parse_key_value, ConnectionArgs, KafkaContext as _};

/// At most this many records wait for their delivery report at once.
const MAX_IN_FLIGHT: usize = 10_000;

/// Arguments of `strom produce`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    echo hello | strom produce greetings\n  \
    printf 'user1:login\\nuser2:logout\\n' | strom produce events --key-separator :\n  \
    strom produce events -H source=cli -H trace=abc -z zstd < records.txt\n  \
    strom produce events -p 0 --acks 1 --timestamp 1700000000000\n\n\
    Each line of stdin is one record (the trailing newline is not part of it). Without\n\
    --key-separator the key is null. A line is reported as\n  \
    Produced to partition 0 at offset 4 with timestamp 1700000000000.")]
pub struct ProduceArgs {
    /// The topic to produce to (it must exist).
    topic: String,
    /// Split each line into key and value at the first occurrence of SEP; lines without it
    /// get a null key.
    #[arg(short = 'k', long, value_name = "SEP")]
    key_separator: Option<String>,
    /// Header added to every record, key=value (repeatable).
    #[arg(short = 'H', long = "header", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    headers: Vec<(String, String)>,
    /// Acknowledgements to wait for: 0 (none), 1 (leader), all (all in-sync replicas).
    #[arg(long, default_value = "all", value_parser = ["0", "1", "all"])]
    acks: String,
    /// Compression codec for record batches.
    #[arg(short = 'z', long, value_enum, default_value_t = Compression::None)]
    compression: Compression,
    /// Produce every record to this partition (default: the partitioner picks, by key hash
    /// when there is a key).
    #[arg(short, long)]
    partition: Option<i32>,
    /// Record timestamp in milliseconds since the Unix epoch (default: now).
    #[arg(long, value_name = "MS")]
    timestamp: Option<i64>,
    /// Do not print a line per record; only report failures.
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Compression codecs librdkafka can produce.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    fn config_value(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// Counts of what happened to the records read so far.
#[derive(Default)]
struct Tally {
    sent: u64,
    failed: u64,
}

/// Runs `strom produce`.
pub async fn run(args: ProduceArgs) -> Result<()> {
    let producer: FutureProducer = args.connection.create(&[
        ("acks", args.acks.as_str()),
        ("compression.type", args.compression.config_value()),
        ("linger.ms", "5"),
        ("message.timeout.ms", "30000"),
    ])?;
    let metadata = args.connection.cluster_metadata(producer.client())?;
    let topic = find_topic(&metadata, &args.topic)?;
    if let Some(partition) = args.partition {
        if !topic.partitions().iter().any(|p| p.id() == partition) {
            anyhow::bail!(
                "topic {:?} has no partition {partition} (it has {})",
                args.topic,
                topic.partitions().len()
            );
        }
    }
    let headers = args
        .headers
        .iter()
        .fold(OwnedHeaders::new(), |headers, (key, value)| {
            headers.insert(Header {
                key,
                value: Some(value),
            })
        });

    let mut lines = spawn_stdin_reader();
    let mut in_flight: VecDeque<(u64, DeliveryFuture)> = VecDeque::new();
    let mut tally = Tally::default();
    let mut line_number = 0u64;
    let mut eof = false;
    loop {
        tokio::select! {
            biased;
            delivery = front(&mut in_flight), if !in_flight.is_empty() => {
                if let Some((line, result)) = delivery {
                    report(line, result, args.quiet, &mut tally);
                }
            }
            line = lines.recv(), if !eof && in_flight.len() < MAX_IN_FLIGHT => match line {
                Some(Ok(line)) => {
                    line_number += 1;
                    let (key, value) = split_line(&line, args.key_separator.as_deref());
                    let mut record = FutureRecord::to(&args.topic).payload(value).headers(headers.clone());
                    if let Some(key) = key {
                        record = record.key(key);
                    }
                    if let Some(partition) = args.partition {
                        record = record.partition(partition);
                    }
                    if let Some(timestamp) = args.timestamp {
                        record = record.timestamp(timestamp);
                    }
                    let future = enqueue(&producer, record, &mut in_flight, args.quiet, &mut tally).await?;
                    in_flight.push_back((line_number, future));
                }
                Some(Err(err)) => return Err(err).context("cannot read stdin"),
                None => eof = true,
            },
            else => break,
        }
    }
    if tally.failed > 0 {
        anyhow::bail!(
            "{} of {} record(s) could not be produced",
            tally.failed,
            tally.sent
        );
    }
    if !args.quiet && tally.sent == 0 {
        eprintln!("no records produced: stdin was empty");
    }
    Ok(())
}

/// Reads stdin on its own thread, one line (without `\n` or `\r\n`) per message, as raw bytes.
fn spawn_stdin_reader() -> tokio::sync::mpsc::Receiver<std::io::Result<Vec<u8>>> {
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        loop {
            let mut line = Vec::new();
            let message = match stdin.read_until(b'\n', &mut line) {
                Ok(0) => return,
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                    }
                    Ok(line)
                }
                Err(err) => Err(err),
            };
            let stop = message.is_err();
            if tx.blocking_send(message).is_err() || stop {
                return;
            }
        }
    });
    rx
}

/// Splits a line into (key, value) at the first `separator`; no separator means a null key.
fn split_line<'a>(line: &'a [u8], separator: Option<&str>) -> (Option<&'a [u8]>, &'a [u8]) {
    let Some(separator) = separator.map(str::as_bytes).filter(|s| !s.is_empty()) else {
        return (None, line);
    };
    match line.windows(separator.len()).position(|w| w == separator) {
        Some(at) => (Some(&line[..at]), &line[at + separator.len()..]),
        None => (None, line),
    }
}

/// What a `DeliveryFuture` yields: `Err` only if the producer went away.
type Delivery = <DeliveryFuture as std::future::Future>::Output;

/// Waits for the oldest in-flight record's delivery report and removes it from the queue.
async fn front(in_flight: &mut VecDeque<(u64, DeliveryFuture)>) -> Option<(u64, Delivery)> {
    let (_, future) = in_flight.front_mut()?;
    let result = future.await;
    let (line, _) = in_flight.pop_front()?;
    Some((line, result))
}

/// Hands `record` to librdkafka; while its queue is full, waits for earlier deliveries.
async fn enqueue(
    producer: &FutureProducer,
    mut record: FutureRecord<'_, [u8], [u8]>,
    in_flight: &mut VecDeque<(u64, DeliveryFuture)>,
    quiet: bool,
    tally: &mut Tally,
) -> Result<DeliveryFuture> {
    loop {
        match producer.send_result(record) {
            Ok(future) => {
                tally.sent += 1;
                return Ok(future);
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                record = returned;
                match front(in_flight).await {
                    Some((line, result)) => report(line, result, quiet, tally),
                    None => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
            Err((err, _)) => return Err(err).kafka_context(|| "cannot enqueue a record"),
        }
    }
}

/// Prints where a record landed, or why it did not.
fn report(line: u64, result: Delivery, quiet: bool, tally: &mut Tally) {
    match result {
        Ok(Ok(delivery)) => {
            if quiet {
                return;
            }
            let mut text = format!("Produced to partition {}", delivery.partition);
            if delivery.offset >= 0 {
                text.push_str(&format!(" at offset {}", delivery.offset));
            }
            if let Some(timestamp) = delivery.timestamp.to_millis() {
                text.push_str(&format!(" with timestamp {timestamp}"));
            }
            println!("{text}.");
        }
        Ok(Err((err, _))) => {
            tally.failed += 1;
            eprintln!(
                "error: record from line {line} was not produced: {}",
                explain(&err)
            );
        }
        Err(_) => {
            tally.failed += 1;
            eprintln!("error: record from line {line} was not produced: the producer shut down");
        }
    }
}
