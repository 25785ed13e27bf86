//! `strom cluster`: what the cluster looks like from a client (Metadata request).

use anyhow::Result;
use rdkafka::consumer::Consumer as _;

use super::connection::{is_internal, ConnectionArgs, CONNECT_TIMEOUT};
use super::table::Table;

/// The `strom cluster` subcommands.
#[derive(clap::Subcommand)]
pub enum ClusterCommand {
    /// Show the cluster id, the brokers and how many topics there are.
    #[command(visible_alias = "metadata")]
    Info(InfoArgs),
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
