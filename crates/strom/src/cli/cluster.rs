//! `strom cluster`: what the cluster looks like from a client (Metadata request), and whether
//! it is healthy (Metadata plus the broker's admin API `/health`).

use anyhow::Result;
use rdkafka::consumer::Consumer as _;

use super::admin_http::{self, AdminArgs};
use super::connection::{is_internal, ConnectionArgs, CONNECT_TIMEOUT};
use super::table::Table;

/// The `strom cluster` subcommands.
#[derive(clap::Subcommand)]
pub enum ClusterCommand {
    /// Show the cluster id, the brokers and how many topics there are.
    #[command(visible_alias = "metadata")]
    Info(InfoArgs),
    /// Whether the cluster is healthy: brokers answering, every partition with a leader, the
    /// admin API up. Exits 1 when unhealthy.
    #[command(after_help = "Examples:\n  strom cluster health\n  \
        strom cluster health --brokers broker1:9092 --admin http://broker1:9644 --json")]
    Health(HealthArgs),
}

/// Arguments of `strom cluster health`.
#[derive(clap::Args)]
pub struct HealthArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    admin: AdminArgs,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Arguments of `strom cluster info`.
#[derive(clap::Args)]
pub struct InfoArgs {
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Runs a `strom cluster` subcommand.
pub async fn run(cmd: ClusterCommand) -> Result<()> {
    match cmd {
        ClusterCommand::Info(args) => info(args),
        ClusterCommand::Health(args) => health(args).await,
    }
}

fn info(args: InfoArgs) -> Result<()> {
    let consumer = args.connection.metadata_client()?;
    let metadata = args.connection.cluster_metadata(consumer.client())?;
    let cluster_id = consumer.client().fetch_cluster_id(CONNECT_TIMEOUT);
    let mut brokers: Vec<_> = metadata.brokers().iter().collect();
    brokers.sort_by_key(|b| b.id());
    let topics = metadata
        .topics()
        .iter()
        .filter(|t| !is_internal(t.name()))
        .count();
    let internal = metadata.topics().len() - topics;
    if args.json {
        let json = serde_json::json!({
            "cluster_id": cluster_id,
            "brokers": brokers
                .iter()
                .map(|b| serde_json::json!({ "id": b.id(), "host": b.host(), "port": b.port() }))
                .collect::<Vec<_>>(),
            "topics": topics,
            "internal_topics": internal,
        });
        println!("{json}");
        return Ok(());
    }
    println!("CLUSTER\n=======");
    println!("{}\n", cluster_id.as_deref().unwrap_or("(no cluster id)"));
    println!("BROKERS\n=======");
    let mut table = Table::new(&["ID", "HOST", "PORT"]);
    for broker in brokers {
        table.row(vec![
            broker.id().to_string(),
            broker.host().to_owned(),
            broker.port().to_string(),
        ]);
    }
    table.print();
    println!("\nTOPICS\n======");
    println!("{topics} (+{internal} internal)");
    Ok(())
}

/// `strom cluster health`: healthy when the brokers answer Metadata and every partition has a
/// leader. The admin API's `/health` is reported too (a broker whose admin API is unreachable
/// still serves clients, so it does not make the cluster unhealthy by itself).
async fn health(args: HealthArgs) -> Result<()> {
    let consumer = args.connection.metadata_client()?;
    let metadata = args.connection.cluster_metadata(consumer.client())?;
    let brokers = metadata.brokers().len();
    let mut partitions = 0usize;
    let mut leaderless: Vec<String> = Vec::new();
    for topic in metadata.topics() {
        for partition in topic.partitions() {
            partitions += 1;
            if partition.leader() < 0 || partition.error().is_some() {
                leaderless.push(format!("{}-{}", topic.name(), partition.id()));
            }
        }
    }
    let url = admin_http::url(&args.admin.url, "/health");
    let fetch_url = url.clone();
    let admin =
        tokio::task::spawn_blocking(move || admin_http::get_json::<serde_json::Value>(&fetch_url))
            .await
            .map_err(|e| anyhow::anyhow!("admin API check failed: {e}"))?;
    let admin_status = match &admin {
        Ok(body) => body
            .get("status")
            .and_then(|s| s.as_str())
            .unwrap_or("unknown")
            .to_string(),
        Err(error) => error.to_string(),
    };
    let healthy = brokers > 0 && leaderless.is_empty();
    if args.json {
        let json = serde_json::json!({
            "healthy": healthy,
            "brokers": brokers,
            "partitions": partitions,
            "leaderless_partitions": leaderless,
            "admin_api": { "url": url, "ok": admin.is_ok(), "status": admin_status },
        });
        println!("{json}");
    } else {
        let mut table = Table::new(&["CHECK", "STATUS"]);
        table.row(vec![
            "HEALTHY".into(),
            if healthy { "yes" } else { "no" }.into(),
        ]);
        table.row(vec!["BROKERS".into(), brokers.to_string()]);
        table.row(vec!["PARTITIONS".into(), partitions.to_string()]);
        table.row(vec![
            "LEADERLESS-PARTITIONS".into(),
            if leaderless.is_empty() {
                "0".into()
            } else {
                format!("{} ({})", leaderless.len(), leaderless.join(", "))
            },
        ]);
        table.row(vec!["ADMIN-API".into(), format!("{admin_status} ({url})")]);
        table.print();
    }
    if !healthy {
        anyhow::bail!("the cluster is not healthy");
    }
    Ok(())
}
