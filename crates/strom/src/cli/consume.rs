//! `strom consume`: reads records from chosen partitions with `assign()` (no consumer group,
//! nothing committed) and prints them with a template or as JSON.

use std::collections::HashMap;
use std::io::{BufWriter, Write};

use anyhow::{Context as _, Result};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::connection::{explain, find_topic, ConnectionArgs, KafkaContext as _, REQUEST_TIMEOUT};
use super::format::{write_json, Template};

/// Arguments of `strom consume`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    strom consume orders                      # everything there is now, then exit\n  \
    strom consume orders -f -o end            # only new records, until Ctrl-C\n  \
    strom consume orders -p 0,2 -o 100 -n 10  # 10 records from offset 100 of partitions 0 and 2\n  \
    strom consume orders -o @1700000000000    # from the first record at or after this time\n  \
    strom consume orders --format '%p/%o %k=%v\\n'\n  \
    strom consume orders --json\n\n\
    Format directives: %t topic, %p partition, %o offset, %k key, %v value,\n\
    %T timestamp (ms), %h headers (k=v,k2=v2), %% percent; escapes \\n \\r \\t \\\\.")]
pub struct ConsumeArgs {
    /// The topic to read.
    topic: String,
    /// Where to start: `start` (oldest record), `end` (only new records), an offset N, or
    /// `@MS` (first record with a timestamp at or after MS milliseconds since the epoch).
    #[arg(short, long, default_value = "start", value_parser = parse_start, value_name = "start|end|N|@MS")]
    offset: StartOffset,
    /// Partitions to read, comma-separated or repeated (default: all).
    #[arg(short, long = "partition", value_name = "N", value_delimiter = ',')]
    partitions: Vec<i32>,
    /// Exit after printing N records.
    #[arg(short, long, value_name = "N")]
    num: Option<u64>,
    /// Keep waiting for new records instead of exiting at the end offsets seen at startup.
    #[arg(short, long)]
    follow: bool,
    /// Output template per record (see below).
    #[arg(long, default_value = "%v\\n", value_parser = Template::parse, conflicts_with = "json")]
    format: Template,
    /// Print one JSON object per line: topic, partition, offset, timestamp, key, value, headers.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// The `--offset` choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StartOffset {
    Start,
    End,
    At(i64),
    Timestamp(i64),
}

fn parse_start(s: &str) -> Result<StartOffset, String> {
    match s {
        "start" | "beginning" | "oldest" => Ok(StartOffset::Start),
        "end" | "newest" => Ok(StartOffset::End),
        _ => {
            if let Some(ms) = s.strip_prefix('@') {
                ms.parse()
                    .map(StartOffset::Timestamp)
                    .map_err(|_| format!("expected @MILLISECONDS, got {s:?}"))
            } else {
                match s.parse::<i64>() {
                    Ok(n) if n >= 0 => Ok(StartOffset::At(n)),
                    _ => Err(format!(
                        "expected start, end, an offset >= 0 or @MS, got {s:?}"
                    )),
                }
            }
        }
    }
}

/// Runs `strom consume`.
pub async fn run(args: ConsumeArgs) -> Result<()> {
    let consumer: StreamConsumer = args.connection.create(&[
        // Required by librdkafka; we only assign(), so no group is ever joined.
        ("group.id", "strom-cli"),
        ("enable.auto.commit", "false"),
        ("enable.auto.offset.store", "false"),
        ("enable.partition.eof", "true"),
        ("auto.offset.reset", "earliest"),
    ])?;
    let metadata = args.connection.cluster_metadata(consumer.client())?;
    let topic = find_topic(&metadata, &args.topic)?;
    let mut all: Vec<i32> = topic.partitions().iter().map(|p| p.id()).collect();
    all.sort_unstable();
    let partitions = if args.partitions.is_empty() {
        all
    } else {
        if let Some(missing) = args.partitions.iter().find(|p| !all.contains(p)) {
            anyhow::bail!(
                "topic {:?} has no partition {missing} (it has {})",
                args.topic,
                all.len()
            );
        }
        args.partitions.clone()
    };

    let starts = start_offsets(&consumer, &args.topic, &partitions, args.offset)?;
    // Without --follow, stop at the high watermarks seen now: partition -> end offset.
    let mut ends: HashMap<i32, i64> = HashMap::new();
    let mut assignment = TopicPartitionList::new();
    for (&partition, &start) in partitions.iter().zip(&starts) {
        if !args.follow {
            let (low, high) = consumer
                .fetch_watermarks(&args.topic, partition, REQUEST_TIMEOUT)
                .kafka_context(|| format!("cannot read the offsets of partition {partition}"))?;
            let first = match start {
                Offset::Beginning => low,
                Offset::Offset(n) => n.max(low),
                _ => high,
            };
            if first >= high {
                continue;
            }
            ends.insert(partition, high);
        }
        assignment.add_partition_offset(&args.topic, partition, start)?;
    }
    if assignment.count() == 0 {
        return Ok(());
    }
    consumer
        .assign(&assignment)
        .kafka_context(|| "cannot assign partitions")?;

    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut printed = 0u64;
    while args.num.is_none_or(|n| printed < n) && (args.follow || !ends.is_empty()) {
        match consumer.recv().await {
            Ok(message) => {
                if !args.follow {
                    let Some(&end) = ends.get(&message.partition()) else {
                        continue;
                    };
                    if message.offset() + 1 >= end {
                        ends.remove(&message.partition());
                    }
                    if message.offset() >= end {
                        continue;
                    }
                }
                let written = if args.json {
                    write_json(&mut out, &message)
                } else {
                    args.format.write(&mut out, &message)
                };
                let written = written.and_then(|()| if args.follow { out.flush() } else { Ok(()) });
                if !output_ok(written)? {
                    return Ok(());
                }
                printed += 1;
            }
            Err(KafkaError::PartitionEOF(partition)) => {
                if !args.follow {
                    ends.remove(&partition);
                }
            }
            Err(err @ KafkaError::MessageConsumptionFatal(_)) => {
                anyhow::bail!("cannot consume topic {:?}: {}", args.topic, explain(&err))
            }
            Err(KafkaError::MessageConsumption(
                code @ (RDKafkaErrorCode::UnknownTopicOrPartition
                | RDKafkaErrorCode::TopicAuthorizationFailed),
            )) => anyhow::bail!("cannot consume topic {:?}: {code}", args.topic),
            Err(err) => eprintln!("warning: {}", explain(&err)),
        }
    }
    output_ok(out.flush())?;
    Ok(())
}

/// `Ok(true)` if writing worked, `Ok(false)` if the reader went away (e.g. `| head`).
fn output_ok(result: std::io::Result<()>) -> Result<bool> {
    match result {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(err) => Err(err).context("cannot write to stdout"),
    }
}

/// The offset to start each partition at; `@MS` is resolved with ListOffsets by timestamp.
fn start_offsets(
    consumer: &StreamConsumer,
    topic: &str,
    partitions: &[i32],
    start: StartOffset,
) -> Result<Vec<Offset>> {
    let fixed = match start {
        StartOffset::Start => Offset::Beginning,
        StartOffset::End => Offset::End,
        StartOffset::At(n) => Offset::Offset(n),
        StartOffset::Timestamp(ms) => {
            let mut query = TopicPartitionList::new();
            for &partition in partitions {
                query.add_partition_offset(topic, partition, Offset::Offset(ms))?;
            }
            let found = consumer
                .offsets_for_times(query, REQUEST_TIMEOUT)
                .kafka_context(|| "cannot look up offsets by timestamp")?;
            return partitions
                .iter()
                .map(|&partition| {
                    let elem = found
                        .find_partition(topic, partition)
                        .with_context(|| format!("no offset returned for partition {partition}"))?;
                    elem.error().kafka_context(|| {
                        format!("cannot look up the offset of partition {partition}")
                    })?;
                    // No record at or after the timestamp: start at the end.
                    Ok(match elem.offset() {
                        Offset::Offset(n) if n >= 0 => Offset::Offset(n),
                        _ => Offset::End,
                    })
                })
                .collect();
        }
    };
    Ok(vec![fixed; partitions.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_offsets() {
        assert_eq!(parse_start("start"), Ok(StartOffset::Start));
        assert_eq!(parse_start("end"), Ok(StartOffset::End));
        assert_eq!(parse_start("17"), Ok(StartOffset::At(17)));
        assert_eq!(
            parse_start("@1700000000000"),
            Ok(StartOffset::Timestamp(1_700_000_000_000))
        );
        assert!(parse_start("-3").is_err());
        assert!(parse_start("@soon").is_err());
    }
}
