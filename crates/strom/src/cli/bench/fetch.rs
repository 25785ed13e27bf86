//! `strom bench fetch`: reads a topic from the beginning with bare Fetch requests, one
//! connection per partition leader and one request in flight on each, counting whole batches
//! from their headers without decoding a record. It measures what the broker serves when the
//! client does the least work a Kafka client can do; `bench consume` measures what a librdkafka
//! consumer gets, whose per-record work and single fetch in flight per broker bound it first on
//! a small machine. Throughput counts the record batches' bytes as they travel (headers
//! included), so it compares directly with the loopback TCP baseline.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use bytes::Bytes;
use serde_json::json;
use strom_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use strom_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use strom_protocol::messages::{BrokerId, FetchRequest, ListOffsetsRequest, TopicName};
use strom_protocol::{str_bytes, ResponseError};

use super::stats::{histogram, percentiles_json, percentiles_text, print_report, rates, round3};
use super::stats::{thousands, throughput_text};
use crate::cli::connection::ConnectionArgs;
use crate::cli::wire::{BrokerConnection, Cluster, Timeouts};

/// The Fetch version used: the last one that names topics (v13 names them by id).
const FETCH_VERSION: i16 = 12;

/// Arguments of `strom bench fetch`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    strom bench produce --topic b1 --num-records 3000000 && strom bench fetch --topic b1\n\n\
    Reads every partition from its log start to its high watermark as they were at the start\n\
    (or until --duration seconds). Bytes are record batch bytes as sent, headers included.")]
pub struct FetchArgs {
    /// The topic to read (it must exist).
    #[arg(long, default_value = super::common::DEFAULT_TOPIC)]
    pub topic: String,
    /// Stop after this many seconds.
    #[arg(long, short = 'd', value_name = "SECS", value_parser = super::common::parse_seconds)]
    pub duration: Option<f64>,
    /// Most bytes asked of each partition per request (Fetch's partition_max_bytes; the
    /// default is Kafka's max.partition.fetch.bytes).
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024,
          value_parser = clap::value_parser!(i32).range(1..))]
    pub partition_max_bytes: i32,
    /// Print the results as one JSON object on the last line of stdout as well.
    #[arg(long)]
    pub json: bool,
    /// No notes on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// One partition being read.
#[derive(Debug, Clone)]
struct Position {
    partition: i32,
    next: i64,
    end: i64,
}

/// What one connection read.
#[derive(Default)]
struct Read {
    records: u64,
    bytes: u64,
    /// Request to response, in microseconds.
    latencies: Vec<u64>,
}

/// Runs `strom bench fetch`.
pub async fn run(args: FetchArgs) -> Result<()> {
    let mut cluster = Cluster::connect(&args.connection.brokers).await?;
    let metadata = cluster.topic_metadata(&args.topic).await?;
    let Some(topic) = metadata
        .topics
        .iter()
        .find(|t| t.name.as_ref().is_some_and(|n| n.as_str() == args.topic))
    else {
        bail!("topic {:?} not found", args.topic);
    };
    if let Some(error) = ResponseError::try_from_code(topic.error_code) {
        bail!("topic {:?}: {error}", args.topic);
    }
    // Partitions grouped by leader.
    let mut by_leader: HashMap<i32, Vec<i32>> = HashMap::new();
    for p in &topic.partitions {
        by_leader
            .entry(p.leader_id.0)
            .or_default()
            .push(p.partition_index);
    }
    let mut readers = Vec::new();
    for (leader, partitions) in by_leader {
        let conn = cluster.broker(leader, None).await?;
        let mut conn = BrokerConnection::connect(conn.addr(), Timeouts::default()).await?;
        let positions = offsets(&mut conn, &args.topic, &partitions).await?;
        readers.push((conn, positions));
    }
    let available: i64 = readers
        .iter()
        .flat_map(|(_, positions)| positions)
        .map(|p| p.end - p.next)
        .sum();
    if !args.quiet {
        eprintln!(
            "fetching {} records of {:?} from {} broker(s)",
            thousands(available.max(0) as u64),
            args.topic,
            readers.len()
        );
    }
    let deadline = args
        .duration
        .map(|secs| Instant::now() + Duration::from_secs_f64(secs));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (conn, positions) in readers {
        let topic = args.topic.clone();
        let max = args.partition_max_bytes;
        tasks.spawn(async move { read(conn, &topic, positions, max, deadline).await });
    }
    let mut total = Read::default();
    while let Some(done) = tasks.join_next().await {
        let read = done.context("a fetch task failed")??;
        total.records += read.records;
        total.bytes += read.bytes;
        total.latencies.extend(read.latencies);
    }
    let elapsed = started.elapsed();
    let (records_per_sec, bytes_per_sec) = rates(total.records, total.bytes, elapsed);
    let mut latency = histogram();
    for us in &total.latencies {
        let _ = latency.record((*us).max(1));
    }
    let lines = vec![
        format!(
            "{} records, {} bytes of record batches in {:.2} s",
            thousands(total.records),
            thousands(total.bytes),
            elapsed.as_secs_f64()
        ),
        format!(
            "throughput: {}",
            throughput_text(records_per_sec, bytes_per_sec)
        ),
        format!(
            "fetch latency ({} requests): {}",
            thousands(latency.len()),
            percentiles_text(&latency)
        ),
    ];
    let value = json!({
        "command": "fetch",
        "topic": args.topic,
        "partition_max_bytes": args.partition_max_bytes,
        "records": total.records,
        "bytes": total.bytes,
        "available": available,
        "elapsed_s": round3(elapsed.as_secs_f64()),
        "records_per_sec": round3(records_per_sec),
        "bytes_per_sec": round3(bytes_per_sec),
        "latency_ms": percentiles_json(&latency),
    });
    print_report(&lines, args.json.then_some(&value));
    Ok(())
}

/// The log start offset and high watermark of each partition (ListOffsets earliest, latest).
async fn offsets(
    conn: &mut BrokerConnection,
    topic: &str,
    partitions: &[i32],
) -> Result<Vec<Position>> {
    let at = |timestamp: i64| {
        ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(TopicName(str_bytes(topic)))
                .with_partitions(
                    partitions
                        .iter()
                        .map(|&p| {
                            ListOffsetsPartition::default()
                                .with_partition_index(p)
                                .with_timestamp(timestamp)
                        })
                        .collect(),
                )])
    };
    let (_, earliest) = conn.send(&at(-2), 1).await?;
    let (_, latest) = conn.send(&at(-1), 1).await?;
    let offsets_of = |response: &strom_protocol::messages::ListOffsetsResponse| {
        let mut out = HashMap::new();
        for t in &response.topics {
            for p in &t.partitions {
                if let Some(error) = ResponseError::try_from_code(p.error_code) {
                    bail!("ListOffsets of {topic}-{}: {error}", p.partition_index);
                }
                out.insert(p.partition_index, p.offset);
            }
        }
        Ok(out)
    };
    let (earliest, latest) = (offsets_of(&earliest)?, offsets_of(&latest)?);
    partitions
        .iter()
        .map(
            |&partition| match (earliest.get(&partition), latest.get(&partition)) {
                (Some(&next), Some(&end)) => Ok(Position {
                    partition,
                    next,
                    end,
                }),
                _ => bail!("ListOffsets did not answer for {topic}-{partition}"),
            },
        )
        .collect()
}

/// Fetches until every partition reached its end (or the deadline), one request in flight.
async fn read(
    mut conn: BrokerConnection,
    topic: &str,
    mut positions: Vec<Position>,
    partition_max_bytes: i32,
    deadline: Option<Instant>,
) -> Result<Read> {
    let mut read = Read::default();
    loop {
        positions.retain(|p| p.next < p.end);
        if positions.is_empty() || deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(read);
        }
        let request = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(100)
            .with_min_bytes(1)
            .with_max_bytes(i32::MAX)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(TopicName(str_bytes(topic)))
                .with_partitions(
                    positions
                        .iter()
                        .map(|p| {
                            FetchPartition::default()
                                .with_partition(p.partition)
                                .with_fetch_offset(p.next)
                                .with_partition_max_bytes(partition_max_bytes)
                        })
                        .collect(),
                )]);
        let sent = Instant::now();
        let response = conn.send_at(&request, FETCH_VERSION).await?;
        read.latencies.push(sent.elapsed().as_micros() as u64);
        if let Some(error) = ResponseError::try_from_code(response.error_code) {
            bail!("Fetch failed: {error}");
        }
        for t in &response.responses {
            for p in &t.partitions {
                if let Some(error) = ResponseError::try_from_code(p.error_code) {
                    bail!("Fetch of {topic}-{}: {error}", p.partition_index);
                }
                let Some(position) = positions
                    .iter_mut()
                    .find(|x| x.partition == p.partition_index)
                else {
                    continue;
                };
                let batches = walk(p.records.as_ref().unwrap_or(&Bytes::new()));
                read.records += batches.records;
                read.bytes += batches.bytes;
                if let Some(next) = batches.next_offset {
                    position.next = position.next.max(next);
                }
            }
        }
    }
}

/// Whole record batches in a Fetch response's records, from their headers alone.
#[derive(Debug, Default, PartialEq, Eq)]
struct Batches {
    records: u64,
    bytes: u64,
    /// The offset after the last whole batch.
    next_offset: Option<i64>,
}

/// Walks the batch headers of `records`; a trailing partial batch (the protocol allows one)
/// is ignored.
fn walk(records: &[u8]) -> Batches {
    let mut out = Batches::default();
    let mut rest = records;
    // baseOffset (8), batchLength (4), ... lastOffsetDelta at 23, recordCount at 57.
    while let (Some(base), Some(len), Some(delta), Some(count)) = (
        be_i64(rest, 0),
        be_i32(rest, 8),
        be_i32(rest, 23),
        be_i32(rest, 57),
    ) {
        let total = 12 + len.max(0) as usize;
        if len < 49 || rest.len() < total {
            break;
        }
        out.records += count.max(0) as u64;
        out.bytes += total as u64;
        out.next_offset = Some(base + i64::from(delta) + 1);
        rest = &rest[total..];
    }
    out
}

fn be_i64(b: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn be_i32(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(base: i64, delta: i32, count: i32, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        b[0..8].copy_from_slice(&base.to_be_bytes());
        b[8..12].copy_from_slice(&((len - 12) as i32).to_be_bytes());
        b[23..27].copy_from_slice(&delta.to_be_bytes());
        b[57..61].copy_from_slice(&count.to_be_bytes());
        b
    }

    #[test]
    fn walks_whole_batches_and_ignores_a_partial_one() {
        let mut records = batch(10, 4, 5, 100);
        records.extend(batch(15, 0, 1, 70));
        let partial = batch(16, 9, 10, 200);
        records.extend(&partial[..150]);
        assert_eq!(
            walk(&records),
            Batches {
                records: 6,
                bytes: 170,
                next_offset: Some(16)
            }
        );
        assert_eq!(walk(&[]), Batches::default());
        assert_eq!(walk(&records[..30]), Batches::default());
    }
}
