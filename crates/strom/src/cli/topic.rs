//! `strom topic`: create, list, describe, delete topics and change their configs through the
//! Kafka admin APIs (CreateTopics, Metadata, ListOffsets, DescribeConfigs, DeleteTopics,
//! AlterConfigs).

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
    /// Show a topic's summary, configs and partitions (leaders, replicas, offsets).
    #[command(after_help = "Examples:\n  \
        strom topic describe orders\n  \
        strom topic describe orders --print-configs\n  \
        strom topic describe orders -p")]
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
    if all || args.print_configs {
        match describe_topic_configs(&admin, &args.name).await {
            Ok(entries) => {
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
