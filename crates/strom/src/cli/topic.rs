//! `strom topic`: create, list, describe, delete topics and change their configs through the
//! Kafka admin APIs (CreateTopics, Metadata, ListOffsets, DescribeConfigs, DeleteTopics,
//! AlterConfigs). `describe` also reads where log compaction stands from the broker's admin HTTP
//! API (`GET /v1/topics/{name}`, see `strom_broker::admin`), which Kafka has only as JMX metrics.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use rdkafka::admin::{
    AdminClient, AlterConfig, ConfigEntry, ConfigSource, NewTopic, ResourceSpecifier,
    TopicReplication, TopicResult,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::metadata::MetadataTopic;
use strom_broker::admin::topics::{PartitionDescription, TopicDescription};

use super::admin_http::{self, AdminArgs, AdminGetError};
use super::connection::{
    admin_options, find_topic, is_internal, parse_key_value, ConnectionArgs, KafkaContext as _,
    REQUEST_TIMEOUT,
};
use super::table::Table;

/// The `strom topic` subcommands.
#[derive(clap::Subcommand)]
pub enum TopicCommand {
    /// Create one or more topics.
    #[command(after_help = "Examples:\n  \
        strom topic create orders\n  \
        strom topic create orders payments -p 6 -r 3\n  \
        strom topic create events -c cleanup.policy=compact -c retention.ms=86400000\n  \
        strom topic create orders --dry-run")]
    Create(CreateArgs),
    /// List topics with their partition and replica counts.
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// Show a topic's summary, configs and partitions (leaders, replicas, offsets), and for
    /// compacted topics where log compaction stands.
    #[command(after_help = "Examples:\n  \
        strom topic describe orders\n  \
        strom topic describe orders --print-configs\n  \
        strom topic describe orders -p\n  \
        strom topic describe users --admin http://broker1:9644\n  \
        strom topic describe users -p --compaction\n\n\
        The COMPACTION section (printed with all sections when cleanup.policy includes compact,\n\
        or whenever --compaction is given) shows per partition the dirty ratio the log cleaner\n\
        compares with min.cleanable.dirty.ratio, the clean and dirty bytes, and what the last\n\
        cleaning since the broker started did. It comes from the broker's admin HTTP API\n\
        (broker config admin.listen), not from a Kafka API; if that API cannot be reached, the\n\
        section says so and the rest of the output is unaffected.")]
    Describe(DescribeArgs),
    /// Delete one or more topics and all their records.
    #[command(visible_alias = "rm")]
    Delete(DeleteArgs),
    /// Set or remove per-topic config overrides.
    #[command(after_help = "Examples:\n  \
        strom topic alter-config orders --set retention.ms=3600000\n  \
        strom topic alter-config orders --set cleanup.policy=compact --delete retention.ms\n\n\
        Uses the AlterConfigs API (librdkafka's Rust binding has no IncrementalAlterConfigs):\n\
        the current overrides are read with DescribeConfigs, changed, and written back as a whole.")]
    AlterConfig(AlterConfigArgs),
}

/// Arguments of `strom topic create`.
#[derive(clap::Args)]
pub struct CreateArgs {
    /// Names of the topics to create.
    #[arg(required = true, value_name = "NAME")]
    names: Vec<String>,
    /// Number of partitions; -1 uses the broker's default (`num.partitions`).
    #[arg(short, long, default_value_t = -1, allow_negative_numbers = true)]
    partitions: i32,
    /// Replication factor; -1 uses the broker's default (`default.replication.factor`).
    #[arg(short, long, default_value_t = -1, allow_negative_numbers = true)]
    replicas: i32,
    /// Topic config override as key=value (repeatable), e.g. `-c retention.ms=60000`.
    #[arg(short = 'c', long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    configs: Vec<(String, String)>,
    /// Only ask the broker to validate the request; create nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Arguments of `strom topic list`.
#[derive(clap::Args)]
pub struct ListArgs {
    /// Also list internal topics (names starting with `__`, e.g. `__consumer_offsets`).
    #[arg(short, long)]
    internal: bool,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Arguments of `strom topic describe`.
#[derive(clap::Args)]
pub struct DescribeArgs {
    /// The topic to describe.
    name: String,
    /// Print the summary section (name, partitions, replication).
    #[arg(short = 's', long)]
    print_summary: bool,
    /// Print the configs section (key, value, source) from DescribeConfigs.
    #[arg(short = 'c', long)]
    print_configs: bool,
    /// Print the partitions section (leader, replicas, log start offset, high watermark).
    #[arg(short = 'p', long)]
    print_partitions: bool,
    /// Print all sections (the default when no --print-* flag is given).
    #[arg(short = 'a', long)]
    print_all: bool,
    /// Add the COMPACTION section (dirty ratio, last cleaning) even when it would not be
    /// printed: with --print-* flags, or for a topic that is not compacted.
    #[arg(long)]
    compaction: bool,
    /// The broker's admin HTTP API, read for the COMPACTION section.
    #[command(flatten)]
    admin: AdminArgs,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Arguments of `strom topic delete`.
#[derive(clap::Args)]
pub struct DeleteArgs {
    /// Names of the topics to delete.
    #[arg(required = true, value_name = "NAME")]
    names: Vec<String>,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Arguments of `strom topic alter-config`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("changes").required(true).multiple(true).args(["set", "delete"])))]
pub struct AlterConfigArgs {
    /// The topic whose configs change.
    name: String,
    /// Set a config override, key=value (repeatable).
    #[arg(short, long, value_name = "KEY=VALUE", value_parser = parse_key_value)]
    set: Vec<(String, String)>,
    /// Remove a config override so the broker default applies again (repeatable).
    #[arg(short, long, value_name = "KEY")]
    delete: Vec<String>,
    /// Only ask the broker to validate the change; alter nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Runs a `strom topic` subcommand.
pub async fn run(cmd: TopicCommand) -> Result<()> {
    match cmd {
        TopicCommand::Create(args) => create(args).await,
        TopicCommand::List(args) => list(args),
        TopicCommand::Describe(args) => describe(args).await,
        TopicCommand::Delete(args) => delete(args).await,
        TopicCommand::AlterConfig(args) => alter_config(args).await,
    }
}

type Admin = AdminClient<DefaultClientContext>;

/// An admin client that has already seen a broker answer.
fn connected_admin(connection: &ConnectionArgs) -> Result<Admin> {
    let admin: Admin = connection.create(&[])?;
    connection.cluster_metadata(admin.inner())?;
    Ok(admin)
}

/// Prints a TOPIC STATUS table and fails if any topic failed.
fn report_topic_results(results: Vec<TopicResult>, ok: &str, verb: &str) -> Result<()> {
    let mut table = Table::new(&["TOPIC", "STATUS"]);
    let total = results.len();
    let mut failed = 0;
    for result in results {
        match result {
            Ok(name) => table.row(vec![name, ok.to_owned()]),
            Err((name, code)) => {
                failed += 1;
                table.row(vec![name, code.to_string()]);
            }
        }
    }
    table.print();
    if failed > 0 {
        anyhow::bail!("failed to {verb} {failed} of {total} topic(s)");
    }
    Ok(())
}

async fn create(args: CreateArgs) -> Result<()> {
    let admin = connected_admin(&args.connection)?;
    let topics: Vec<NewTopic<'_>> = args
        .names
        .iter()
        .map(|name| {
            args.configs.iter().fold(
                NewTopic::new(
                    name,
                    args.partitions,
                    TopicReplication::Fixed(args.replicas),
                ),
                |topic, (key, value)| topic.set(key, value),
            )
        })
        .collect();
    let results = admin
        .create_topics(&topics, &admin_options().validate_only(args.dry_run))
        .await
        .kafka_context(|| "CreateTopics failed")?;
    let ok = if args.dry_run { "OK (dry run)" } else { "OK" };
    report_topic_results(results, ok, "create")
}

fn list(args: ListArgs) -> Result<()> {
    let consumer = args.connection.metadata_client()?;
    let metadata = args.connection.cluster_metadata(consumer.client())?;
    let mut topics: Vec<&MetadataTopic> = metadata
        .topics()
        .iter()
        .filter(|t| args.internal || !is_internal(t.name()))
        .collect();
    topics.sort_by_key(|t| t.name());
    let mut table = Table::new(&["NAME", "PARTITIONS", "REPLICAS"]);
    for topic in topics {
        table.row(vec![
            topic.name().to_owned(),
            topic.partitions().len().to_string(),
            replication_factor(topic).to_string(),
        ]);
    }
    table.print();
    Ok(())
}

/// The largest replica count among the topic's partitions.
fn replication_factor(topic: &MetadataTopic) -> usize {
    topic
        .partitions()
        .iter()
        .map(|p| p.replicas().len())
        .max()
        .unwrap_or(0)
}

async fn describe(args: DescribeArgs) -> Result<()> {
    let (admin, consumer): (Admin, BaseConsumer) = args.connection.admin()?;
    let metadata = args.connection.cluster_metadata(consumer.client())?;
    let topic = find_topic(&metadata, &args.name)?;
    let all =
        args.print_all || !(args.print_summary || args.print_configs || args.print_partitions);
    let mut sections = Vec::new();
    if all || args.print_summary {
        let mut table = Table::new(&["NAME", &args.name]);
        table.row(vec![
            "PARTITIONS".into(),
            topic.partitions().len().to_string(),
        ]);
        table.row(vec![
            "REPLICAS".into(),
            replication_factor(topic).to_string(),
        ]);
        if let Some(err) = topic.error() {
            table.row(vec![
                "ERROR".into(),
                RDKafkaErrorCode::from(err).to_string(),
            ]);
        }
        sections.push(("SUMMARY", table.render()));
    }
    // Without configs (e.g. a broker lacking DescribeConfigs) the other sections still print.
    let mut failure = None;
    let mut compacted = false;
    if all || args.print_configs {
        match describe_topic_configs(&admin, &args.name).await {
            Ok(entries) => {
                compacted = entries.iter().any(|entry| {
                    entry.name == "cleanup.policy"
                        && entry
                            .value
                            .as_deref()
                            .is_some_and(|policy| policy.split(',').any(|p| p.trim() == "compact"))
                });
                let mut table = Table::new(&["KEY", "VALUE", "SOURCE"]);
                for entry in entries {
                    table.row(vec![
                        entry.name.clone(),
                        display_value(&entry),
                        source_name(&entry.source).into(),
                    ]);
                }
                sections.push(("CONFIGS", table.render()));
            }
            Err(err) => {
                sections.push(("CONFIGS", "(unavailable, see the error below)\n".into()));
                failure = Some(err);
            }
        }
    }
    if all || args.print_partitions {
        sections.push(("PARTITIONS", partitions_table(&consumer, topic)?.render()));
    }
    if args.compaction || (all && compacted) {
        sections.push((
            "COMPACTION",
            compaction_section(&args.admin.url, &args.name).await,
        ));
    }
    let titled = sections.len() > 1;
    let mut first = true;
    for (title, body) in sections {
        if !std::mem::take(&mut first) {
            println!();
        }
        if titled {
            println!("{title}\n{}", "=".repeat(title.len()));
        }
        print!("{body}");
    }
    match failure {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// The partitions of `topic` with their log start offsets and high watermarks (ListOffsets).
fn partitions_table(consumer: &BaseConsumer, topic: &MetadataTopic) -> Result<Table> {
    let mut partitions: Vec<_> = topic.partitions().iter().collect();
    partitions.sort_by_key(|p| p.id());
    let any_error = partitions.iter().any(|p| p.error().is_some());
    let mut header = vec![
        "PARTITION",
        "LEADER",
        "REPLICAS",
        "ISR",
        "LOG-START-OFFSET",
        "HIGH-WATERMARK",
    ];
    if any_error {
        header.push("ERROR");
    }
    let mut table = Table::new(&header);
    for partition in partitions {
        let (low, high) =
            match consumer.fetch_watermarks(topic.name(), partition.id(), REQUEST_TIMEOUT) {
                Ok((low, high)) => (low.to_string(), high.to_string()),
                Err(err) => {
                    eprintln!(
                        "warning: cannot read offsets of partition {}: {err}",
                        partition.id()
                    );
                    ("-".into(), "-".into())
                }
            };
        let mut row = vec![
            partition.id().to_string(),
            partition.leader().to_string(),
            format!("{:?}", partition.replicas()),
            format!("{:?}", partition.isr()),
            low,
            high,
        ];
        if any_error {
            row.push(
                partition
                    .error()
                    .map_or(String::new(), |e| RDKafkaErrorCode::from(e).to_string()),
            );
        }
        table.row(row);
    }
    Ok(table)
}

/// The COMPACTION section: one row per partition from the admin API, or a one-line note saying
/// why there is none (the command does not fail for it).
async fn compaction_section(admin_url: &str, topic: &str) -> String {
    let url = topic_url(admin_url, topic);
    let fetched = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || fetch_topic_description(&url))
            .await
            .unwrap_or_else(|error| Err(format!("the request failed: {error}")))
    };
    match fetched {
        Ok(description) => compaction_table(&description.partitions, now_ms()),
        Err(note) => format!("({note}; tried {url})\n"),
    }
}

/// `GET /v1/topics/{topic}` under the admin API's base URL (`http://` is assumed when the URL
/// has no scheme).
fn topic_url(admin_url: &str, topic: &str) -> String {
    let mut path = String::from("/v1/topics/");
    // Legal topic names need no escaping; anything else is percent-encoded rather than trusted.
    for byte in topic.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-') {
            path.push(char::from(byte));
        } else {
            path.push_str(&format!("%{byte:02X}"));
        }
    }
    admin_http::url(admin_url, &path)
}

/// Reads a topic's description from the admin API; the error is a note for people.
fn fetch_topic_description(url: &str) -> std::result::Result<TopicDescription, String> {
    admin_http::get_json::<TopicDescription>(url).map_err(|error| match error {
        AdminGetError::Status(404, reason) => format!(
            "the admin API does not know this topic ({reason}): is --admin the broker of --brokers?"
        ),
        other => other.to_string(),
    })
}

/// One row per partition; a note instead when no partition is compacted.
fn compaction_table(partitions: &[PartitionDescription], now_ms: i64) -> String {
    if partitions.iter().all(|p| p.compaction.is_none()) {
        return "(not compacted: cleanup.policy does not include compact)\n".into();
    }
    let mut table = Table::new(&[
        "PARTITION",
        "DIRTY-RATIO",
        "CLEAN-BYTES",
        "DIRTY-BYTES",
        "LAST-CLEANING",
        "READ-BYTES",
        "WRITTEN-BYTES",
        "RECORDS-REMOVED",
    ]);
    for partition in partitions {
        let mut row = vec![partition.partition.to_string()];
        match &partition.compaction {
            None => row.extend(std::iter::repeat_n("-".to_owned(), 7)),
            Some(compaction) => {
                row.push(format!("{:.1}%", compaction.dirty_ratio * 100.0));
                row.push(compaction.clean_bytes.to_string());
                row.push(compaction.dirty_bytes.to_string());
                match &compaction.last_cleaning {
                    None => row.extend(["never", "-", "-", "-"].map(String::from)),
                    Some(last) => {
                        let finished_ms = last.started_ms.saturating_add_unsigned(last.duration_ms);
                        row.push(format!("{} ago", format_age(now_ms - finished_ms)));
                        row.push(last.bytes_read.to_string());
                        row.push(last.bytes_written.to_string());
                        row.push(last.records_removed.to_string());
                    }
                }
            }
        }
        table.row(row);
    }
    table.render()
}

/// A time span for people: `850ms`, `12.3s`, `4m 05s`, `2h 03m`, `3d 04h` (negative spans, from
/// clocks that disagree, count as 0).
fn format_age(ms: i64) -> String {
    let ms = ms.max(0);
    let s = ms / 1000;
    match ms {
        ..=999 => format!("{ms}ms"),
        1000..=59_999 => format!("{}.{}s", s, ms % 1000 / 100),
        60_000..=3_599_999 => format!("{}m {:02}s", s / 60, s % 60),
        3_600_000..=86_399_999 => format!("{}h {:02}m", s / 3600, s / 60 % 60),
        _ => format!("{}d {:02}h", s / 86_400, s / 3600 % 24),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The topic's configs (DescribeConfigs), sorted by name.
async fn describe_topic_configs(admin: &Admin, topic: &str) -> Result<Vec<ConfigEntry>> {
    let results = admin
        .describe_configs(&[ResourceSpecifier::Topic(topic)], &admin_options())
        .await
        .kafka_context(|| "DescribeConfigs failed")?;
    let resource = results
        .into_iter()
        .next()
        .context("DescribeConfigs returned no result")?
        .map_err(|code| anyhow::anyhow!("DescribeConfigs of topic {topic:?} failed: {code}"))?;
    let mut entries = resource.entries;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

fn display_value(entry: &ConfigEntry) -> String {
    match &entry.value {
        _ if entry.is_sensitive => "(sensitive)".into(),
        Some(value) => value.clone(),
        None => "-".into(),
    }
}

/// The config source the way Kafka's tools name it.
fn source_name(source: &ConfigSource) -> &'static str {
    match source {
        ConfigSource::Unknown => "UNKNOWN",
        ConfigSource::DynamicTopic => "DYNAMIC_TOPIC_CONFIG",
        ConfigSource::DynamicBroker => "DYNAMIC_BROKER_CONFIG",
        ConfigSource::DynamicDefaultBroker => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        ConfigSource::StaticBroker => "STATIC_BROKER_CONFIG",
        ConfigSource::Default => "DEFAULT_CONFIG",
    }
}

async fn delete(args: DeleteArgs) -> Result<()> {
    let admin = connected_admin(&args.connection)?;
    let names: Vec<&str> = args.names.iter().map(String::as_str).collect();
    let results = admin
        .delete_topics(&names, &admin_options())
        .await
        .kafka_context(|| "DeleteTopics failed")?;
    report_topic_results(results, "OK", "delete")
}

async fn alter_config(args: AlterConfigArgs) -> Result<()> {
    let admin = connected_admin(&args.connection)?;
    // AlterConfigs replaces the whole set of overrides, so start from the current ones.
    let current = describe_topic_configs(&admin, &args.name).await?;
    let mut overrides: BTreeMap<String, String> = BTreeMap::new();
    for entry in current
        .into_iter()
        .filter(|e| e.source == ConfigSource::DynamicTopic)
    {
        let being_changed =
            args.set.iter().any(|(k, _)| *k == entry.name) || args.delete.contains(&entry.name);
        match entry.value {
            Some(value) if !entry.is_sensitive => {
                overrides.insert(entry.name, value);
            }
            _ if being_changed => {}
            _ => anyhow::bail!(
                "topic {:?} has the sensitive override {:?} whose value the broker does not reveal; \
                 AlterConfigs would drop it, so set it again in the same command (--set {}=...)",
                args.name,
                entry.name,
                entry.name
            ),
        }
    }
    for key in &args.delete {
        if overrides.remove(key).is_none() {
            eprintln!(
                "note: {key} has no override on topic {:?}; nothing to delete",
                args.name
            );
        }
    }
    for (key, value) in &args.set {
        overrides.insert(key.clone(), value.clone());
    }
    let alter = overrides.iter().fold(
        AlterConfig::new(ResourceSpecifier::Topic(&args.name)),
        |alter, (k, v)| alter.set(k, v),
    );
    let results = admin
        .alter_configs(&[alter], &admin_options().validate_only(args.dry_run))
        .await
        .kafka_context(|| "AlterConfigs failed")?;
    for result in results {
        if let Err((_, code)) = result {
            anyhow::bail!("cannot alter the configs of topic {:?}: {code}", args.name);
        }
    }
    let mut table = Table::new(&["KEY", "CHANGE"]);
    for (key, value) in &args.set {
        table.row(vec![key.clone(), format!("set to {value}")]);
    }
    for key in &args.delete {
        table.row(vec![key.clone(), "deleted (broker default applies)".into()]);
    }
    table.print();
    if args.dry_run {
        println!("(dry run: the broker validated the change but applied nothing)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use strom_broker::admin::topics::{CompactionStatus, LastCleaning};

    fn partition(index: i32, compaction: Option<CompactionStatus>) -> PartitionDescription {
        PartitionDescription {
            partition: index,
            log_start_offset: 0,
            log_end_offset: 10,
            high_watermark: 10,
            size_bytes: 1000,
            compaction,
        }
    }

    fn compaction(last_cleaning: Option<LastCleaning>) -> CompactionStatus {
        CompactionStatus {
            dirty_ratio: 0.256,
            clean_bytes: 3000,
            dirty_bytes: 1030,
            first_dirty_offset: 5,
            first_uncleanable_offset: 10,
            last_cleaning,
        }
    }

    #[test]
    fn topic_url_adds_the_scheme_and_escapes_what_a_topic_name_cannot_hold() {
        assert_eq!(
            topic_url("http://h:9644/", "users"),
            "http://h:9644/v1/topics/users"
        );
        assert_eq!(
            topic_url("127.0.0.1:9644", "a.b_c-1"),
            "http://127.0.0.1:9644/v1/topics/a.b_c-1"
        );
        assert_eq!(
            topic_url("http://h", "a/b c"),
            "http://h/v1/topics/a%2Fb%20c"
        );
    }

    #[test]
    fn compaction_table_shows_ratio_bytes_and_the_last_cleaning() {
        let last = LastCleaning {
            started_ms: 100_000,
            duration_ms: 500,
            bytes_read: 8192,
            bytes_written: 2048,
            records_read: 90,
            records_removed: 80,
            segments_before: 4,
            segments_after: 1,
            end_offset: 5,
        };
        let text = compaction_table(
            &[
                partition(0, Some(compaction(Some(last)))),
                partition(1, Some(compaction(None))),
                partition(2, None),
            ],
            100_500 + 65_000,
        );
        let lines: Vec<Vec<&str>> = text
            .lines()
            .map(|line| {
                line.split("  ")
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .collect()
            })
            .collect();
        assert_eq!(
            lines,
            [
                vec![
                    "PARTITION",
                    "DIRTY-RATIO",
                    "CLEAN-BYTES",
                    "DIRTY-BYTES",
                    "LAST-CLEANING",
                    "READ-BYTES",
                    "WRITTEN-BYTES",
                    "RECORDS-REMOVED"
                ],
                vec![
                    "0",
                    "25.6%",
                    "3000",
                    "1030",
                    "1m 05s ago",
                    "8192",
                    "2048",
                    "80"
                ],
                vec!["1", "25.6%", "3000", "1030", "never", "-", "-", "-"],
                vec!["2", "-", "-", "-", "-", "-", "-", "-"],
            ]
        );
    }

    #[test]
    fn compaction_table_of_a_topic_that_is_not_compacted_is_a_note() {
        assert_eq!(
            compaction_table(&[partition(0, None)], 0),
            "(not compacted: cleanup.policy does not include compact)\n"
        );
    }

    #[test]
    fn ages_are_short_and_never_negative() {
        assert_eq!(format_age(-5), "0ms");
        assert_eq!(format_age(850), "850ms");
        assert_eq!(format_age(12_345), "12.3s");
        assert_eq!(format_age(245_000), "4m 05s");
        assert_eq!(format_age(7_380_000), "2h 03m");
        assert_eq!(format_age(273_600_000), "3d 04h");
    }
}
