//! Client subcommands: each talks to a broker through librdkafka (the `rdkafka` crate).

pub mod admin_http;
pub mod bench;
pub mod cluster;
pub mod connection;
pub mod consume;
pub mod consumer_protocol;
pub mod format;
pub mod group;
pub mod produce;
pub mod table;
pub mod top;
pub mod topic;
pub mod txn;
pub mod wire;

/// Runs a client command's future on a small runtime. librdkafka runs its own threads and
/// completes our futures from them, so one runtime thread is enough.
pub fn run(fut: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(fut)
}
