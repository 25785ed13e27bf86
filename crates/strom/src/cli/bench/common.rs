//! What the load generators share: the flags of their producers and of the topic, how much to
//! send (`--num-records` or `--duration`), the topic setup (created when missing, RF 1), a
//! process-wide monotonic clock in microseconds and a small random number generator.

use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use rdkafka::admin::{AdminClient, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::RDKafkaErrorCode;

use crate::cli::connection::{admin_options, ConnectionArgs, KafkaContext as _, CONNECT_TIMEOUT};

/// How long a new topic may take to show all its partitions with a leader.
const TOPIC_READY_TIMEOUT: Duration = Duration::from_secs(15);

/// The topic every bench command uses unless `--topic` says otherwise.
pub const DEFAULT_TOPIC: &str = "strom-bench";

/// Compression codecs librdkafka can produce.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    /// The value of librdkafka's `compression.type`, also used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// The keys given to records (`--keys none|random|N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keys {
    /// Null keys: librdkafka's sticky partitioner spreads batches over the partitions.
    None,
    /// A fresh random 8-byte key per record.
    Random,
    /// One of N distinct 8-byte keys, picked at random per record.
    Distinct(u64),
}

impl fmt::Display for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Keys::None => f.write_str("none"),
            Keys::Random => f.write_str("random"),
            Keys::Distinct(n) => write!(f, "{n}"),
        }
    }
}

/// Parses `--keys`.
pub fn parse_keys(s: &str) -> Result<Keys, String> {
    match s {
        "none" => Ok(Keys::None),
        "random" => Ok(Keys::Random),
        _ => match s.parse::<u64>() {
            Ok(n) if n > 0 => Ok(Keys::Distinct(n)),
            _ => Err(format!(
                "expected none, random or a number of distinct keys (at least 1), got {s:?}"
            )),
        },
    }
}

/// Parses a positive number of seconds (`--duration`).
pub fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs.is_finite() && secs < 1e9 => Ok(secs),
        _ => Err(format!("expected a positive number of seconds, got {s:?}")),
    }
}

/// The topic flags of every bench command.
#[derive(clap::Args, Clone, Debug)]
pub struct TopicArgs {
    /// The topic to use.
    #[arg(long, default_value = DEFAULT_TOPIC)]
    pub topic: String,
    /// Partitions of the topic when it has to be created (replication factor 1). An existing
    /// topic is used as it is.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..=100_000))]
    pub partitions: Option<i32>,
}

/// The producer flags of `bench produce` and `bench e2e`.
#[derive(clap::Args, Clone, Debug)]
pub struct ProducerArgs {
    /// Size of each record's value in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(0..=64 * 1024 * 1024))]
    pub record_size: u64,
    /// Acknowledgements to wait for: 0 (none), 1 (leader), all (all in-sync replicas).
    #[arg(long, default_value = "all", value_parser = ["0", "1", "all"])]
    pub acks: String,
    /// How long librdkafka waits to fill a batch (linger.ms).
    #[arg(long, value_name = "MS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(0..=900_000))]
    pub linger_ms: u64,
    /// Largest record batch in bytes (batch.size).
    #[arg(long, value_name = "BYTES", default_value_t = 1_000_000,
          value_parser = clap::value_parser!(u64).range(1..=2_147_483_647))]
    pub batch_size: u64,
    /// Compression codec for record batches.
    #[arg(long, value_enum, default_value_t = Compression::None)]
    pub compression: Compression,
    /// Record keys: none (null), random (a new one per record) or N (N distinct keys).
    #[arg(long, value_name = "none|random|N", default_value = "none", value_parser = parse_keys)]
    pub keys: Keys,
    /// Number of producers, each a librdkafka instance on its own thread.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub producers: u32,
}

/// How much a run sends: a number of records or a duration (`--num-records`, `--duration`).
#[derive(Clone, Copy, Debug)]
pub enum Amount {
    Records(u64),
    Duration(Duration),
}

impl Amount {
    /// From the two mutually exclusive flags; `default` when neither is given.
    pub fn from_flags(records: Option<u64>, seconds: Option<f64>, default: Amount) -> Amount {
        match (records, seconds) {
            (Some(n), _) => Amount::Records(n),
            (None, Some(secs)) => Amount::Duration(Duration::from_secs_f64(secs)),
            (None, None) => default,
        }
    }

    /// Splits the amount over `workers` threads: records as evenly as possible, a duration
    /// unchanged.
    pub fn share(self, worker: u32, workers: u32) -> Amount {
        match self {
            Amount::Records(n) => {
                let (workers, worker) = (u64::from(workers), u64::from(worker));
                Amount::Records(n / workers + u64::from(worker < n % workers))
            }
            duration => duration,
        }
    }

    /// `num_records` and `duration_s` for the JSON report.
    pub fn json(self) -> (serde_json::Value, serde_json::Value) {
        match self {
            Amount::Records(n) => (n.into(), serde_json::Value::Null),
            Amount::Duration(d) => (serde_json::Value::Null, d.as_secs_f64().into()),
        }
    }
}

/// Splits a rate (records per second, 0 = unlimited) over `workers` threads.
pub fn share_rate(rate: u64, workers: u32) -> f64 {
    rate as f64 / f64::from(workers)
}

/// Makes sure `topic` exists, creating it with `partitions` (default 1) and replication
/// factor 1 when `create` is set, and returns its partition count. Fails with `cannot reach a
/// broker at ...` when no broker answers.
pub async fn ensure_topic(
    connection: &ConnectionArgs,
    topic: &TopicArgs,
    create: bool,
    quiet: bool,
) -> Result<i32> {
    let client = connection.metadata_client()?;
    if let Some(count) = partition_count(connection, &client, &topic.topic)? {
        if let Some(wanted) = topic.partitions.filter(|&wanted| wanted != count) {
            if !quiet {
                eprintln!(
                    "note: topic {:?} exists with {count} partition(s); --partitions {wanted} ignored",
                    topic.topic
                );
            }
        }
        return Ok(count);
    }
    if !create {
        anyhow::bail!("topic {:?} does not exist", topic.topic);
    }
    let partitions = topic.partitions.unwrap_or(1);
    let admin: AdminClient<DefaultClientContext> = connection.create(&[])?;
    let results = admin
        .create_topics(
            &[NewTopic::new(
                &topic.topic,
                partitions,
                TopicReplication::Fixed(1),
            )],
            &admin_options(),
        )
        .await
        .kafka_context(|| "CreateTopics failed")?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => anyhow::bail!("cannot create topic {name:?}: {code}"),
        }
    }
    if !quiet {
        eprintln!(
            "created topic {:?} with {partitions} partition(s)",
            topic.topic
        );
    }
    let deadline = Instant::now() + TOPIC_READY_TIMEOUT;
    loop {
        let metadata = connection.cluster_metadata(client.client())?;
        let ready = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic.topic)
            .filter(|t| t.error().is_none() && !t.partitions().is_empty())
            .filter(|t| t.partitions().iter().all(|p| p.leader() >= 0));
        if let Some(t) = ready {
            return Ok(t.partitions().len() as i32);
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "topic {:?} was created but its partitions have no leader after {} s",
                topic.topic,
                TOPIC_READY_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The partition count of `topic`, or `None` when it does not exist.
fn partition_count(
    connection: &ConnectionArgs,
    client: &BaseConsumer,
    topic: &str,
) -> Result<Option<i32>> {
    let metadata = connection.cluster_metadata(client.client())?;
    Ok(metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .filter(|t| !t.partitions().is_empty())
        .map(|t| t.partitions().len() as i32))
}

/// The low and high watermarks of every partition of `topic` (index = partition id).
pub fn watermarks(client: &BaseConsumer, topic: &str, partitions: i32) -> Result<Vec<(i64, i64)>> {
    (0..partitions)
        .map(|partition| {
            client
                .fetch_watermarks(topic, partition, CONNECT_TIMEOUT)
                .kafka_context(|| format!("cannot read the offsets of {topic}/{partition}"))
        })
        .collect()
}

/// Microseconds since the first call in this process, on the monotonic clock. Producers stamp
/// records with it and consumers in the same process compare against it.
pub fn now_us() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// A xorshift64* generator: fast, good enough for keys and payload bytes, not cryptographic.
pub struct Rng(u64);

impl Rng {
    /// Seeded from the wall clock and `salt` (e.g. the thread's index).
    pub fn new(salt: u64) -> Rng {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        let seed = (nanos ^ salt.wrapping_mul(0xBF58_476D_1CE4_E5B9)) | 1;
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Seeded with `seed` (the same bytes every run).
    pub fn seeded(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    /// Fills `data` with output of the generator: incompressible enough for any filesystem.
    pub fn fill(&mut self, data: &mut [u8]) {
        for chunk in data.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }

    /// `len` random upper-case letters, as kafka-producer-perf-test's payloads.
    pub fn letters(&mut self, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| b'A' + (self.next_u64() % 26) as u8)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse() {
        assert_eq!(parse_keys("none"), Ok(Keys::None));
        assert_eq!(parse_keys("random"), Ok(Keys::Random));
        assert_eq!(parse_keys("100"), Ok(Keys::Distinct(100)));
        assert!(parse_keys("0").is_err());
        assert!(parse_keys("foo").is_err());
    }

    #[test]
    fn records_are_shared_evenly() {
        let shares: Vec<u64> = (0..3)
            .map(|i| match Amount::Records(10).share(i, 3) {
                Amount::Records(n) => n,
                Amount::Duration(_) => 0,
            })
            .collect();
        assert_eq!(shares, vec![4, 3, 3]);
    }
}
