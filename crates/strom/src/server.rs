//! `strom server`: parses flags into a broker config and runs the broker until SIGTERM/Ctrl-C.

use std::path::PathBuf;

use anyhow::Context;
use std::sync::{Arc, Mutex};
use strom_broker::config::BrokerConfig;
use strom_broker::Broker;

use strom_broker::admin::log_level::LogLevelControl;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{reload, EnvFilter, Registry};

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
    let log_filter = init_logging(&args.log_level, args.log_json);
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
        let handle = Broker::start_with_log_level(config, Some(log_filter)).await?;
        wait_for_signal().await;
        tracing::info!("shutdown requested");
        handle.shutdown().await;
        tracing::info!("stopped");
        Ok(())
    })
}

/// The process's log filter, changeable at run time through the admin API (`/v1/log-level`).
struct LogFilter {
    handle: reload::Handle<EnvFilter, Registry>,
    current: Mutex<String>,
}

impl LogLevelControl for LogFilter {
    fn current(&self) -> String {
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn set(&self, filter: &str) -> Result<(), String> {
        let parsed = EnvFilter::try_new(filter)
            .map_err(|e| format!("invalid log filter {filter:?}: {e}"))?;
        self.handle
            .reload(parsed)
            .map_err(|e| format!("cannot change the log filter: {e}"))?;
        *self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = filter.to_string();
        Ok(())
    }
}

fn init_logging(level: &str, json: bool) -> Arc<LogFilter> {
    let (filter, text) = match std::env::var("RUST_LOG") {
        Ok(env) if EnvFilter::try_new(&env).is_ok() => (EnvFilter::new(&env), env),
        _ => (EnvFilter::new(level), level.to_string()),
    };
    let (filter, handle) = reload::Layer::new(filter);
    // Colours only for a person at a terminal, not in log files.
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        registry.with(fmt.json()).init();
    } else {
        registry.with(fmt).init();
    }
    Arc::new(LogFilter {
        handle,
        current: Mutex::new(text),
    })
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
