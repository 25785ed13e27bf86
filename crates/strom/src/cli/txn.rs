//! `strom txn`: list and describe transactions and the producers writing to a partition, in the
//! spirit of Kafka's `kafka-transactions.sh` (list, describe, describe-producers).
//!
//! Kafka APIs used: Metadata (the brokers; a topic's partition leaders), ListTransactions (66)
//! on every broker, FindCoordinator (10, key type 1 = transaction) then DescribeTransactions (65)
//! on the coordinator, DescribeProducers (61) on each partition leader. librdkafka has no admin
//! call for these, so they go through the small client in [`super::wire`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use serde_json::json;
use strom_protocol::messages::{
    describe_producers_request::TopicRequest, describe_transactions_response, BrokerId,
    DescribeProducersRequest, DescribeTransactionsRequest, FindCoordinatorRequest,
    ListTransactionsRequest, ProducerId, TopicName, TransactionalId,
};
use strom_protocol::{str_bytes, ResponseError, StrBytes};

use super::table::Table;
use super::wire::{BrokerConnection, Cluster};

/// FindCoordinator's key type for a transactional id.
const KEY_TYPE_TRANSACTION: i8 = 1;

/// How long `describe` keeps retrying while the coordinator moves or loads its state.
const RETRY_BUDGET: Duration = Duration::from_secs(15);

/// The `strom txn` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum TxnCommand {
    /// List the transactions the brokers coordinate (ListTransactions on every broker).
    #[command(
        visible_alias = "ls",
        after_help = "Examples:\n  \
        strom txn list\n  \
        strom txn list --state Ongoing --state PrepareCommit\n  \
        strom txn list --producer-id 4000,4001\n  \
        strom txn list --duration-ms 60000      # open longer than a minute (ListTransactions v1+)\n  \
        strom txn list --json\n\n\
        States: Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort,\n\
        Dead, PrepareEpochFence. Filters combine: a transaction is listed when it matches one\n\
        of the --state values (if any), one of the --producer-id values (if any) and the\n\
        --duration-ms filter (if given). COORDINATOR is the id of the broker that coordinates it."
    )]
    List(ListArgs),
    /// Show one transaction: state, producer, timeout, start time and its partitions.
    #[command(after_help = "Examples:\n  \
        strom txn describe payments-tx-1\n  \
        strom txn describe payments-tx-1 --json\n\n\
        Asks any broker for the transaction coordinator of the id (FindCoordinator, key type\n\
        transaction) and the coordinator for the transaction (DescribeTransactions). START-TIME\n\
        is \"none\" while no transaction is open; DURATION is measured against this machine's\n\
        clock. An unknown id fails with \"transactional id ID not found\" (exit code 1).")]
    Describe(DescribeArgs),
    /// Show the active producers of a topic's partitions (idempotent and transactional).
    #[command(after_help = "Examples:\n  \
        strom txn producers --topic orders\n  \
        strom txn producers --topic orders --partition 0\n\n\
        Asks each partition's leader (DescribeProducers). TXN-START-OFFSET is the offset of the\n\
        producer's open transaction on the partition (\"none\" when it has none): the last\n\
        stable offset cannot pass it while the transaction stays open.")]
    Producers(ProducersArgs),
}

/// The connection flag of every `strom txn` command: `--brokers` like every client command,
/// also spelled `--bootstrap-server` as in Kafka's tools.
#[derive(clap::Args, Debug, Clone)]
pub struct TxnConnection {
    /// Comma-separated list of brokers (host:port) to bootstrap from.
    #[arg(
        long,
        visible_alias = "bootstrap-server",
        env = "STROM_BROKERS",
        default_value = "127.0.0.1:9092",
        value_name = "HOST:PORT,..."
    )]
    pub brokers: String,
}

/// Arguments of `strom txn list`.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Only transactions in this state (repeatable or comma-separated).
    #[arg(long = "state", value_name = "STATE", value_delimiter = ',')]
    pub states: Vec<String>,
    /// Only transactions of this producer id (repeatable or comma-separated).
    #[arg(long = "producer-id", value_name = "N", value_delimiter = ',')]
    pub producer_ids: Vec<i64>,
    /// Only transactions open for longer than N milliseconds (needs ListTransactions v1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(0..))]
    pub duration_ms: Option<i64>,
    /// Print one JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connection: TxnConnection,
}

/// Arguments of `strom txn describe`.
#[derive(clap::Args, Debug)]
pub struct DescribeArgs {
    /// The transactional id (the producer's `transactional.id`).
    #[arg(value_name = "ID")]
    pub transactional_id: String,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connection: TxnConnection,
}

/// Arguments of `strom txn producers`.
#[derive(clap::Args, Debug)]
pub struct ProducersArgs {
    /// The topic whose partitions are described.
    #[arg(short, long, value_name = "TOPIC")]
    pub topic: String,
    /// Only these partitions, comma-separated or repeated (default: all).
    #[arg(short, long = "partition", value_name = "N", value_delimiter = ',',
          value_parser = clap::value_parser!(i32).range(0..))]
    pub partitions: Vec<i32>,
    /// Print one JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connection: TxnConnection,
}

/// Runs a `strom txn` subcommand.
pub async fn run(cmd: TxnCommand) -> Result<()> {
    match cmd {
        TxnCommand::List(args) => list(args).await,
        TxnCommand::Describe(args) => describe(args).await,
        TxnCommand::Producers(args) => producers(args).await,
    }
}

/// A Kafka error code (non-zero) with the broker's message, if it sent one.
fn kafka_error(code: i16, message: Option<&StrBytes>) -> String {
    let name =
        ResponseError::try_from_code(code).map_or_else(|| "NONE".to_owned(), |e| e.to_string());
    match message.map(|m| m.as_str()).filter(|m| !m.is_empty()) {
        Some(message) => format!("{name} ({message})"),
        None => name,
    }
}

/// One line of `strom txn list`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Listed {
    transactional_id: String,
    coordinator: i32,
    producer_id: i64,
    state: String,
}

async fn list(args: ListArgs) -> Result<()> {
    let mut cluster = Cluster::connect(&args.connection.brokers).await?;
    let request = ListTransactionsRequest::default()
        .with_state_filters(args.states.iter().map(|s| str_bytes(s.as_str())).collect())
        .with_producer_id_filters(args.producer_ids.iter().map(|p| ProducerId(*p)).collect())
        .with_duration_filter(args.duration_ms.unwrap_or(-1));
    let min_version = if args.duration_ms.is_some() { 1 } else { 0 };

    let broker_ids: Vec<i32> = cluster.brokers().iter().map(|b| b.id).collect();
    if broker_ids.is_empty() {
        bail!("the cluster's metadata lists no brokers");
    }
    let mut rows = BTreeSet::new();
    let mut unknown_states = BTreeSet::new();
    let mut failures = Vec::new();
    for id in &broker_ids {
        let answer = async {
            let conn = cluster.broker(*id, None).await?;
            let (_, response) = conn.send(&request, min_version).await?;
            if response.error_code != 0 {
                bail!(
                    "ListTransactions failed: {}",
                    kafka_error(response.error_code, None)
                );
            }
            Ok(response)
        }
        .await;
        match answer {
            Ok(response) => {
                unknown_states.extend(response.unknown_state_filters.iter().map(|s| s.to_string()));
                rows.extend(response.transaction_states.iter().map(|t| Listed {
                    transactional_id: t.transactional_id.0.to_string(),
                    coordinator: *id,
                    producer_id: t.producer_id.0,
                    state: t.transaction_state.to_string(),
                }));
            }
            Err(err) => failures.push((*id, err)),
        }
    }
    // One broker and it failed: its error is the answer.
    if broker_ids.len() == 1 && failures.len() == 1 {
        if let Some((_, err)) = failures.pop() {
            return Err(err);
        }
    }
    for state in &unknown_states {
        eprintln!("warning: the broker does not know the transaction state {state:?}");
    }
    let mut rows: Vec<Listed> = rows.into_iter().collect();
    rows.sort_by(|a, b| {
        (&a.transactional_id, a.coordinator).cmp(&(&b.transactional_id, b.coordinator))
    });
    if args.json {
        let list: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({
                    "transactional_id": r.transactional_id,
                    "coordinator": r.coordinator,
                    "producer_id": r.producer_id,
                    "state": r.state,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
    } else {
        let mut table = Table::new(&["TRANSACTIONAL-ID", "COORDINATOR", "PRODUCER-ID", "STATE"]);
        for r in rows {
            table.row(vec![
                r.transactional_id,
                r.coordinator.to_string(),
                r.producer_id.to_string(),
                r.state,
            ]);
        }
        table.print();
    }
    if !failures.is_empty() {
        for (id, err) in &failures {
            eprintln!("warning: broker {id}: {err:#}");
        }
        bail!(
            "cannot list the transactions of {} of {} brokers; the list above is incomplete",
            failures.len(),
            broker_ids.len()
        );
    }
    Ok(())
}

/// Where a transactional id's coordinator lives.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Coordinator {
    id: i32,
    host: String,
    port: i32,
}

/// The outcome of one attempt that may be worth repeating.
enum Attempt<T> {
    Done(T),
    /// A retriable error (the coordinator moved, is loading, or is not elected yet).
    Retry(String),
}

fn is_retriable_coordinator_error(code: i16) -> bool {
    matches!(
        ResponseError::try_from_code(code),
        Some(
            ResponseError::CoordinatorNotAvailable
                | ResponseError::CoordinatorLoadInProgress
                | ResponseError::NotCoordinator
        )
    )
}

/// FindCoordinator for a transactional id: the batched form from v4, the single key before.
async fn find_coordinator(
    conn: &mut BrokerConnection,
    transactional_id: &str,
) -> Result<Attempt<Coordinator>> {
    let version = conn.version::<FindCoordinatorRequest>(1)?;
    let request = if version >= 4 {
        FindCoordinatorRequest::default()
            .with_key_type(KEY_TYPE_TRANSACTION)
            .with_coordinator_keys(vec![str_bytes(transactional_id)])
    } else {
        FindCoordinatorRequest::default()
            .with_key_type(KEY_TYPE_TRANSACTION)
            .with_key(str_bytes(transactional_id))
    };
    let response = conn.send_at(&request, version).await?;
    let (error_code, message, node_id, host, port) = if version >= 4 {
        let Some(c) = response
            .coordinators
            .into_iter()
            .find(|c| c.key.as_str() == transactional_id)
        else {
            bail!("the broker answered FindCoordinator without the transactional id");
        };
        (c.error_code, c.error_message, c.node_id, c.host, c.port)
    } else {
        (
            response.error_code,
            response.error_message,
            response.node_id,
            response.host,
            response.port,
        )
    };
    if is_retriable_coordinator_error(error_code) {
        return Ok(Attempt::Retry(kafka_error(error_code, message.as_ref())));
    }
    if error_code != 0 {
        bail!(
            "cannot find the coordinator of transactional id {transactional_id} \
             (FindCoordinator): {}",
            kafka_error(error_code, message.as_ref())
        );
    }
    let BrokerId(id) = node_id;
    Ok(Attempt::Done(Coordinator {
        id,
        host: host.to_string(),
        port,
    }))
}

/// A transaction as DescribeTransactions reports it.
struct Described {
    coordinator: i32,
    state: describe_transactions_response::TransactionState,
}

async fn describe_once(
    cluster: &mut Cluster,
    transactional_id: &str,
) -> Result<Attempt<Described>> {
    let coordinator = match find_coordinator(cluster.any(), transactional_id).await? {
        Attempt::Done(c) => c,
        Attempt::Retry(why) => return Ok(Attempt::Retry(why)),
    };
    let conn = cluster
        .broker(coordinator.id, Some((&coordinator.host, coordinator.port)))
        .await?;
    let request = DescribeTransactionsRequest::default()
        .with_transactional_ids(vec![TransactionalId(str_bytes(transactional_id))]);
    let (_, response) = conn.send(&request, 0).await?;
    let Some(state) = response
        .transaction_states
        .into_iter()
        .find(|s| s.transactional_id.0.as_str() == transactional_id)
    else {
        bail!("the coordinator answered DescribeTransactions without the transactional id");
    };
    match state.error_code {
        0 => Ok(Attempt::Done(Described {
            coordinator: coordinator.id,
            state,
        })),
        code if code == ResponseError::TransactionalIdNotFound.code() => {
            bail!("transactional id {transactional_id} not found")
        }
        code if is_retriable_coordinator_error(code) => Ok(Attempt::Retry(kafka_error(code, None))),
        code => bail!(
            "cannot describe transactional id {transactional_id} (DescribeTransactions): {}",
            kafka_error(code, None)
        ),
    }
}

async fn describe(args: DescribeArgs) -> Result<()> {
    let id = args.transactional_id.as_str();
    let mut cluster = Cluster::connect(&args.connection.brokers).await?;
    // Fail fast on a broker without transactions rather than retrying FindCoordinator.
    cluster.any().version::<DescribeTransactionsRequest>(0)?;
    let started = Instant::now();
    let mut backoff = Duration::from_millis(100);
    let described = loop {
        match describe_once(&mut cluster, id).await? {
            Attempt::Done(d) => break d,
            Attempt::Retry(why) if started.elapsed() + backoff > RETRY_BUDGET => bail!(
                "cannot describe transactional id {id}: the coordinator is still not ready \
                 after {}s ({why})",
                RETRY_BUDGET.as_secs()
            ),
            Attempt::Retry(_) => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    };
    let now_ms = now_ms();
    let s = &described.state;
    let start = s.transaction_start_time_ms;
    let duration_ms = (start >= 0).then(|| (now_ms - start).max(0));
    let mut partitions: Vec<(String, i32)> = s
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (t.topic.0.to_string(), *p)))
        .collect();
    partitions.sort();
    if args.json {
        let partitions: Vec<_> = partitions
            .iter()
            .map(|(topic, partition)| json!({ "topic": topic, "partition": partition }))
            .collect();
        let out = json!({
            "transactional_id": id,
            "coordinator": described.coordinator,
            "state": s.transaction_state.as_str(),
            "producer_id": s.producer_id.0,
            "producer_epoch": s.producer_epoch,
            "transaction_timeout_ms": s.transaction_timeout_ms,
            "transaction_start_time_ms": start,
            "transaction_start_time": (start >= 0).then(|| iso8601(start)),
            "duration_ms": duration_ms,
            "topic_partitions": partitions,
        });
        println!("{out}");
        return Ok(());
    }
    let mut table = Table::new(&["TRANSACTIONAL-ID", id]);
    table.row(vec![
        "COORDINATOR".into(),
        described.coordinator.to_string(),
    ]);
    table.row(vec!["STATE".into(), s.transaction_state.to_string()]);
    table.row(vec!["PRODUCER-ID".into(), s.producer_id.0.to_string()]);
    table.row(vec!["PRODUCER-EPOCH".into(), s.producer_epoch.to_string()]);
    table.row(vec![
        "TIMEOUT-MS".into(),
        s.transaction_timeout_ms.to_string(),
    ]);
    table.row(vec![
        "START-TIME".into(),
        if start >= 0 {
            iso8601(start)
        } else {
            "none".into()
        },
    ]);
    table.row(vec![
        "DURATION".into(),
        duration_ms.map_or_else(|| "none".into(), format_duration),
    ]);
    table.row(vec![
        "TOPIC-PARTITIONS".into(),
        if partitions.is_empty() {
            "none".into()
        } else {
            partitions
                .iter()
                .map(|(t, p)| format!("{t}-{p}"))
                .collect::<Vec<_>>()
                .join(",")
        },
    ]);
    table.print();
    Ok(())
}

/// One producer of one partition, as DescribeProducers reports it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ProducerRow {
    partition: i32,
    producer_id: i64,
    producer_epoch: i32,
    last_sequence: i32,
    last_timestamp: i64,
    coordinator_epoch: i32,
    current_txn_start_offset: i64,
}

async fn producers(args: ProducersArgs) -> Result<()> {
    let topic = args.topic.as_str();
    let mut cluster = Cluster::connect(&args.connection.brokers).await?;
    let metadata = cluster.topic_metadata(topic).await?;
    let Some(meta) = metadata
        .topics
        .iter()
        .find(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == topic))
    else {
        bail!("topic {topic:?} does not exist (UnknownTopicOrPartition)");
    };
    if meta.error_code == ResponseError::UnknownTopicOrPartition.code() {
        bail!("topic {topic:?} does not exist (UnknownTopicOrPartition)");
    }
    if meta.error_code != 0 {
        bail!("topic {topic:?}: {}", kafka_error(meta.error_code, None));
    }
    let leaders: BTreeMap<i32, i32> = meta
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.leader_id.0))
        .collect();
    let wanted: Vec<i32> = if args.partitions.is_empty() {
        leaders.keys().copied().collect()
    } else {
        for p in &args.partitions {
            if !leaders.contains_key(p) {
                bail!(
                    "topic {topic:?} has no partition {p} (it has {})",
                    leaders.len()
                );
            }
        }
        let unique: BTreeSet<i32> = args.partitions.iter().copied().collect();
        unique.into_iter().collect()
    };

    // Ask each leader about its partitions.
    let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    let mut failures: Vec<String> = Vec::new();
    for p in wanted {
        match leaders.get(&p).copied() {
            Some(leader) if leader >= 0 => by_leader.entry(leader).or_default().push(p),
            _ => failures.push(format!("{topic}/{p}: no leader")),
        }
    }
    let mut rows = Vec::new();
    for (leader, partitions) in by_leader {
        let request = DescribeProducersRequest::default()
            .with_topics(vec![TopicRequest::default()
                .with_name(TopicName(str_bytes(topic)))
                .with_partition_indexes(partitions.clone())]);
        let answer = async {
            let conn = cluster.broker(leader, None).await?;
            let (_, response) = conn.send(&request, 0).await?;
            anyhow::Ok(response)
        }
        .await;
        let response = match answer {
            Ok(response) => response,
            Err(err) if failures.is_empty() && partitions.len() == leaders.len() => {
                // Every partition on this one broker: its error is the answer.
                return Err(err);
            }
            Err(err) => {
                for p in &partitions {
                    failures.push(format!("{topic}/{p}: {err:#}"));
                }
                continue;
            }
        };
        for t in response
            .topics
            .iter()
            .filter(|t| t.name.0.as_str() == topic)
        {
            for p in &t.partitions {
                if p.error_code != 0 {
                    failures.push(format!(
                        "{topic}/{}: {}",
                        p.partition_index,
                        kafka_error(p.error_code, p.error_message.as_ref())
                    ));
                    continue;
                }
                rows.extend(p.active_producers.iter().map(|s| ProducerRow {
                    partition: p.partition_index,
                    producer_id: s.producer_id.0,
                    producer_epoch: s.producer_epoch,
                    last_sequence: s.last_sequence,
                    last_timestamp: s.last_timestamp,
                    coordinator_epoch: s.coordinator_epoch,
                    current_txn_start_offset: s.current_txn_start_offset,
                }));
            }
        }
    }
    rows.sort();
    if args.json {
        let list: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({
                    "topic": topic,
                    "partition": r.partition,
                    "producer_id": r.producer_id,
                    "producer_epoch": r.producer_epoch,
                    "last_sequence": r.last_sequence,
                    "last_timestamp_ms": r.last_timestamp,
                    "coordinator_epoch": r.coordinator_epoch,
                    "current_txn_start_offset": r.current_txn_start_offset,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
    } else {
        let mut table = Table::new(&[
            "PARTITION",
            "PRODUCER-ID",
            "PRODUCER-EPOCH",
            "LAST-SEQUENCE",
            "LAST-TIMESTAMP",
            "COORDINATOR-EPOCH",
            "TXN-START-OFFSET",
        ]);
        for r in &rows {
            table.row(vec![
                r.partition.to_string(),
                r.producer_id.to_string(),
                r.producer_epoch.to_string(),
                r.last_sequence.to_string(),
                if r.last_timestamp >= 0 {
                    iso8601(r.last_timestamp)
                } else {
                    "none".into()
                },
                r.coordinator_epoch.to_string(),
                if r.current_txn_start_offset >= 0 {
                    r.current_txn_start_offset.to_string()
                } else {
                    "none".into()
                },
            ]);
        }
        table.print();
    }
    if !failures.is_empty() {
        for failure in &failures {
            eprintln!("warning: {failure}");
        }
        bail!(
            "cannot describe the producers of {} partition(s) of {topic:?}",
            failures.len()
        );
    }
    Ok(())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Milliseconds since the epoch as ISO 8601 in UTC: `2026-11-25T10:00:00.250Z`.
fn iso8601(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A duration for people: `850ms`, `12.3s`, `4m 05s`, `2h 03m`, `3d 04h`.
fn format_duration(ms: i64) -> String {
    let s = ms / 1000;
    match ms {
        ..=999 => format!("{ms}ms"),
        1000..=59_999 => format!("{}.{}s", s, ms % 1000 / 100),
        60_000..=3_599_999 => format!("{}m {:02}s", s / 60, s % 60),
        3_600_000..=86_399_999 => format!("{}h {:02}m", s / 3600, s / 60 % 60),
        _ => format!("{}d {:02}h", s / 86_400, s / 3600 % 24),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// `strom txn ...` as the binary parses it.
    #[derive(Parser, Debug)]
    #[command(name = "strom")]
    struct Cli {
        #[command(subcommand)]
        txn: TxnCommand,
    }

    fn parse(args: &[&str]) -> Result<TxnCommand, clap::Error> {
        Cli::try_parse_from(std::iter::once("strom").chain(args.iter().copied())).map(|c| c.txn)
    }

    #[test]
    fn list_filters_parse() {
        let TxnCommand::List(a) = parse(&["list"]).unwrap() else {
            panic!("not list")
        };
        assert!(a.states.is_empty() && a.producer_ids.is_empty());
        assert_eq!(a.duration_ms, None);
        assert!(!a.json);
        let TxnCommand::List(a) = parse(&[
            "ls",
            "--state",
            "Ongoing,PrepareCommit",
            "--state",
            "Empty",
            "--producer-id",
            "1",
            "--producer-id",
            "2,3",
            "--duration-ms",
            "60000",
            "--json",
            "--bootstrap-server",
            "h:1",
        ])
        .unwrap() else {
            panic!("not list")
        };
        assert_eq!(a.states, ["Ongoing", "PrepareCommit", "Empty"]);
        assert_eq!(a.producer_ids, [1, 2, 3]);
        assert_eq!(a.duration_ms, Some(60000));
        assert!(a.json);
        assert_eq!(a.connection.brokers, "h:1");
        assert!(parse(&["list", "--duration-ms", "-1"]).is_err());
        assert!(parse(&["list", "--producer-id", "x"]).is_err());
        assert!(parse(&["list", "extra"]).is_err());
    }

    #[test]
    fn describe_and_producers_parse() {
        let TxnCommand::Describe(a) = parse(&["describe", "tx-1", "--brokers", "h:2"]).unwrap()
        else {
            panic!("not describe")
        };
        assert_eq!(a.transactional_id, "tx-1");
        assert_eq!(a.connection.brokers, "h:2");
        assert!(parse(&["describe"]).is_err());
        let TxnCommand::Producers(a) = parse(&["producers", "-t", "orders", "-p", "0,2"]).unwrap()
        else {
            panic!("not producers")
        };
        assert_eq!(a.topic, "orders");
        assert_eq!(a.partitions, [0, 2]);
        assert!(parse(&["producers"]).is_err());
        assert!(parse(&["producers", "--topic", "t", "--partition", "-1"]).is_err());
    }

    #[test]
    fn times_print_as_iso8601_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_795_600_800_250), "2026-11-25T10:00:00.250Z");
        assert_eq!(iso8601(1_709_251_199_000), "2024-02-29T23:59:59.000Z");
        assert_eq!(iso8601(-1000), "1969-12-31T23:59:59.000Z");
        for ms in [0, 951_782_400_000, 4_102_444_800_000, 1_234_567_890_123] {
            assert_eq!(
                super::super::group::parse_datetime(&iso8601(ms)),
                Ok(ms),
                "{ms}"
            );
        }
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(0), "0ms");
        assert_eq!(format_duration(850), "850ms");
        assert_eq!(format_duration(12_345), "12.3s");
        assert_eq!(format_duration(245_000), "4m 05s");
        assert_eq!(format_duration(7_380_000), "2h 03m");
        assert_eq!(format_duration(273_600_000), "3d 04h");
    }

    #[test]
    fn error_codes_read_as_kafka_names() {
        assert_eq!(kafka_error(105, None), "TransactionalIdNotFound");
        assert_eq!(
            kafka_error(15, Some(&str_bytes("no coordinator yet"))),
            "CoordinatorNotAvailable (no coordinator yet)"
        );
        assert!(is_retriable_coordinator_error(16));
        assert!(!is_retriable_coordinator_error(105));
    }
}
