//! `strom server`: parses flags into a broker config and runs the broker until SIGTERM/Ctrl-C.

use std::path::PathBuf;

use anyhow::Context;
use strom_broker::config::BrokerConfig;
use strom_broker::Broker;
use tracing_subscriber::EnvFilter;

#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  strom server
  strom server --data-dir /var/lib/strom --listen 0.0.0.0:9092 --advertise broker1.example.com:9092
  strom server --set num.partitions=3 --set log.retention.ms=86400000
  strom server --config strom.toml

Config files are TOML with Kafka's config names, e.g.:
  \"num.partitions\" = 3
  \"log.retention.hours\" = 24
  \"auto.create.topics.enable\" = false")]
pub struct ServerArgs {
    /// Where partition logs and metadata live (Kafka's `log.dirs`).
    #[arg(long, value_name = "DIR", env = "STROM_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address the Kafka listener binds to (Kafka's `listeners`). Default 127.0.0.1:9092.
    #[arg(long, value_name = "HOST:PORT")]
    listen: Option<String>,
    /// Address clients are told to connect to (Kafka's `advertised.listeners`).
    /// Defaults to the listen address.
    #[arg(long, value_name = "HOST:PORT")]
    advertise: Option<String>,
    /// A TOML file of broker configs with Kafka's names.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Sets any broker config by its Kafka name; repeatable. Applied after --config.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    sets: Vec<String>,
    /// Log level filter (`info`, `debug`, or a tracing filter like `strom_broker=debug`).
    /// The RUST_LOG environment variable takes precedence.
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long)]
    log_json: bool,
}

pub fn run(args: ServerArgs) -> anyhow::Result<()> {
    init_logging(&args.log_level, args.log_json);
    let mut config = BrokerConfig::load(args.config.as_deref(), &args.sets)
        .context("cannot load the broker configuration")?;
    if let Some(dir) = &args.data_dir {
        config.set_static("log.dirs", &dir.to_string_lossy())?;
    }
    if let Some(listen) = &args.listen {
        config.set_static("listeners", listen)?;
    }
    if let Some(advertise) = &args.advertise {
        config.set_static("advertised.listeners", advertise)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("strom")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let handle = Broker::start(config).await?;
        wait_for_signal().await;
        tracing::info!("shutdown requested");
        handle.shutdown().await;
        tracing::info!("stopped");
        Ok(())
    })
}

fn init_logging(level: &str, json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    // Colours only for a person at a terminal, not in log files.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the broker");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
