//! `strom`: the one binary. `strom server` runs a broker; every other subcommand is a client
//! tool in the spirit of Redpanda's `rpk` that talks to a broker over the Kafka protocol.

mod cli;
mod server;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: fetch buffers (up to `max.partition.fetch.bytes`
/// each) are allocated and freed per request, and glibc hands such blocks back to the kernel
/// and page-faults them in again every time; mimalloc reuses them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Strom: a Kafka-compatible event-streaming platform in one binary.
#[derive(Parser)]
#[command(name = "strom", version, about, long_about = None, propagate_version = true)]
struct Strom {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a broker (Kafka listener on 127.0.0.1:9092, data in ./strom-data by default).
    Server(server::ServerArgs),
    /// Create, list, describe, delete topics and change their configs.
    #[command(subcommand)]
    Topic(cli::topic::TopicCommand),
    /// Produce records read line by line from stdin.
    Produce(cli::produce::ProduceArgs),
    /// Consume records and print them.
    Consume(cli::consume::ConsumeArgs),
    /// Inspect the cluster.
    #[command(subcommand)]
    Cluster(cli::cluster::ClusterCommand),
    /// List, describe and delete consumer groups, and reset their offsets.
    #[command(subcommand)]
    Group(cli::group::GroupCommand),
    /// List and describe transactions and the producers writing to a topic.
    #[command(subcommand)]
    Txn(cli::txn::TxnCommand),
    /// A live view of a broker: throughput per topic and lag per consumer group (admin API).
    Top(cli::top::TopArgs),
    /// Measure throughput and latency (produce, consume, end to end) and the machine's limits.
    #[command(subcommand)]
    Bench(cli::bench::BenchCommand),
}

fn main() -> std::process::ExitCode {
    let args = Strom::parse();
    let result = match args.command {
        Command::Server(server_args) => server::run(server_args),
        Command::Topic(cmd) => cli::run(cli::topic::run(cmd)),
        Command::Produce(cmd) => cli::run(cli::produce::run(cmd)),
        Command::Consume(cmd) => cli::run(cli::consume::run(cmd)),
        Command::Cluster(cmd) => cli::run(cli::cluster::run(cmd)),
        Command::Group(cmd) => cli::run(cli::group::run(cmd)),
        Command::Txn(cmd) => cli::run(cli::txn::run(cmd)),
        Command::Bench(cmd) => cli::run(cli::bench::run(cmd)),
        Command::Top(args) => cli::top::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
