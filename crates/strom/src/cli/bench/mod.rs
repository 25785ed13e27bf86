//! `strom bench`: load generators against a broker (produce, consume, end to end, bare fetch) in the spirit
//! of kafka-producer-perf-test and rdkafka_performance, and the machine baselines (disk,
//! network, the durable round trip) their figures are compared with.
//!
//! Every load generator prints a human report on stdout and, with `--json`, one JSON object as
//! the last line; a progress line goes to stderr once per second when it is a terminal.

pub mod baseline;
mod common;
mod consume;
mod durable_rtt;
mod e2e;
mod fetch;
mod produce;
mod progress;
mod stats;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Produce records as fast as possible or at a rate; report throughput and ack latency.
    Produce(produce::ProduceArgs),
    /// Read a topic from the beginning; report throughput.
    Consume(consume::ConsumeArgs),
    /// Produce at a rate and consume the same records; report end-to-end and ack latency.
    E2e(e2e::E2eArgs),
    /// Read a topic with bare Fetch requests (no record decoding); report what the broker serves.
    Fetch(fetch::FetchArgs),
    /// Sequential write with fdatasync and fdatasync latency on a directory's filesystem.
    Disk(baseline::DiskArgs),
    /// Loopback TCP bandwidth with a sender/receiver pair.
    Net(baseline::NetArgs),
    /// Round trips through a minimal fdatasync-per-read server at a rate: the floor of acks=all ack latency.
    DurableRtt(durable_rtt::DurableRttArgs),
}

pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Produce(args) => produce::run(args).await,
        BenchCommand::Consume(args) => consume::run(args).await,
        BenchCommand::E2e(args) => e2e::run(args).await,
        BenchCommand::Fetch(args) => fetch::run(args).await,
        BenchCommand::Disk(args) => baseline::disk(args),
        BenchCommand::Net(args) => baseline::net(args),
        BenchCommand::DurableRtt(args) => durable_rtt::run(args),
    }
}
