//! `strom bench`: load generators against a broker (produce, consume, end to end) and the
//! machine baselines (disk, network) their figures are compared with.

pub mod baseline;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Sequential write with fdatasync and fdatasync latency on a directory's filesystem.
    Disk(baseline::DiskArgs),
    /// Loopback TCP bandwidth with a sender/receiver pair.
    Net(baseline::NetArgs),
}

pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Disk(args) => baseline::disk(args),
        BenchCommand::Net(args) => baseline::net(args),
    }
}
