//! Starting and stopping a broker: the admin HTTP listener first (it answers `/health` and
//! `/ready` during recovery), data directory, metadata replay and log recovery, the Kafka
//! listener, background tasks, and a graceful shutdown that finishes in-flight requests and
//! closes every log cleanly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::admin::readiness::Readiness;
use crate::admin::{AdminListener, AdminState};
use crate::config::BrokerConfig;
use crate::controller::Controller;
use crate::error::BrokerError;
use crate::metrics::Metrics;
use crate::replica_manager::ReplicaManager;

/// How often group timers (session and rebalance timeouts) are checked.
const GROUP_TIMER_TICK_MS: u64 = 50;
/// How often the transaction coordinator looks for timed-out transactions and expired ids
/// (each shard then acts only when its own deadline has passed).
const TXN_TIMER_TICK_MS: u64 = 100;
/// How long a shutdown waits for admin requests in flight before dropping them.
const ADMIN_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Milliseconds since the Unix epoch, the unit of Kafka's timestamps.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Everything a request handler needs, shared by all connections.
pub struct Broker {
    pub node_id: i32,
    pub cluster_id: String,
    /// The host and port clients are told to connect to.
    pub advertised_host: String,
    pub advertised_port: i32,
    pub config: Arc<RwLock<BrokerConfig>>,
    pub replicas: Arc<ReplicaManager>,
    pub controller: Controller,
    /// The group coordinator (consumer groups and committed offsets).
    pub groups: crate::group_coordinator::GroupCoordinator,
    pub txns: crate::txn_coordinator::TransactionCoordinator,
    /// The metrics served at the admin API's `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Set once at shutdown; long-polling fetches and idle connections watch it.
    shutdown: watch::Sender<bool>,
}

/// A running broker.
pub struct BrokerHandle {
    local_addr: SocketAddr,
    admin_addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    broker: Arc<Broker>,
}

impl BrokerHandle {
    /// The address the Kafka listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address the admin HTTP listener is bound to.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// Stops accepting, lets in-flight requests finish, then flushes and closes every log.
    pub async fn shutdown(self) {
        self.broker.shutdown.send_replace(true);
        if let Err(error) = self.task.await {
            tracing::error!(%error, "broker task failed");
        }
    }
}

impl Broker {
    /// A receiver that sees `true` once the broker is shutting down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Recovers the data directory and starts serving. Returns once the listener is bound (the
    /// admin listener is bound and serves first, during recovery).
    pub async fn start(config: BrokerConfig) -> Result<BrokerHandle, BrokerError> {
        Broker::start_with_log_level(config, None).await
    }

    /// [`Broker::start`] with the control of the process's log filter, which the admin API's
    /// `/v1/log-level` then serves.
    pub async fn start_with_log_level(
        config: BrokerConfig,
        log_level: Option<Arc<dyn crate::admin::log_level::LogLevelControl>>,
    ) -> Result<BrokerHandle, BrokerError> {
        // The admin listener first, so that /health and /ready answer during recovery; a
        // taken admin.listen still fails the startup.
        let admin_listener = AdminListener::bind(&config.admin_listen()).await?;
        let admin_addr = admin_listener.local_addr();
        let shutdown = watch::Sender::new(false);
        let readiness = Arc::new(Readiness::new());
        let mut admin = admin_listener.spawn(
            AdminState::new(readiness.clone(), log_level),
            shutdown.subscribe(),
        );
        tracing::info!(listen = %admin_addr, "admin listener ready");
        let (broker, listener, local_addr) =
            match Broker::recover(config, &readiness, shutdown).await {
                Ok(started) => started,
                Err(error) => {
                    // The admin listener stops: the shutdown sender is gone with the failed
                    // startup, or held by a broker that was built, which is told to stop.
                    if let Some(broker) = readiness.broker() {
                        broker.shutdown.send_replace(true);
                    }
                    if tokio::time::timeout(ADMIN_SHUTDOWN_TIMEOUT, &mut admin)
                        .await
                        .is_err()
                    {
                        admin.abort();
                    }
                    return Err(error);
                }
            };
        let task = tokio::spawn(run(
            broker.clone(),
            listener,
            admin,
            readiness,
            broker.shutdown_signal(),
        ));
        Ok(BrokerHandle {
            local_addr,
            admin_addr,
            task,
            broker,
        })
    }

    /// Recovers the data directory, binds the Kafka listener's port, builds the broker, loads
    /// the coordinators, then hands the broker to `readiness` and starts listening.
    async fn recover(
        config: BrokerConfig,
        readiness: &Readiness,
        shutdown: watch::Sender<bool>,
    ) -> Result<(Arc<Broker>, TcpListener, SocketAddr), BrokerError> {
        let data_dir = config.data_dir();
        std::fs::create_dir_all(&data_dir).map_err(|source| BrokerError::DataDir {
            path: data_dir.clone(),
            source,
        })?;
        let node_id = config.node_id();
        let cluster_id = crate::cluster::load_or_init(&data_dir, node_id)?;
        let listen = config
            .listeners()
            .into_iter()
            .next()
            .map(|l| (l.host.clone(), l.port))
            .unwrap_or_else(|| ("127.0.0.1".to_string(), 9092));
        let advertised = config
            .advertised_listeners()
            .into_iter()
            .next()
            .map(|l| (l.host.clone(), l.port as i32));
        let config = Arc::new(RwLock::new(config));
        let replicas = Arc::new(ReplicaManager::new(&data_dir));
        let started = std::time::Instant::now();
        let controller = {
            let config = config.clone();
            let replicas = replicas.clone();
            tokio::task::spawn_blocking(move || Controller::start(config, replicas))
                .await
                .map_err(|e| BrokerError::DataDirContents(format!("recovery task failed: {e}")))??
        };
        tracing::info!(
            data_dir = %data_dir.display(),
            partitions = replicas.all().len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "logs loaded"
        );
        let bind_addr = format!("{}:{}", listen.0, listen.1);
        let bind_error = |source| BrokerError::Bind {
            addr: bind_addr.clone(),
            source,
        };
        // Bound now (the port is ours and known, for the advertised address), listening only
        // once the coordinators are loaded: until then a client's connection is refused rather
        // than left waiting in the backlog.
        let socket = bind_socket(&bind_addr).await.map_err(bind_error)?;
        let local_addr = socket.local_addr().map_err(bind_error)?;
        let (advertised_host, advertised_port) = match advertised {
            // An advertised port of 0 follows an ephemeral listen port.
            Some((host, port)) => (
                host,
                if port == 0 {
                    local_addr.port() as i32
                } else {
                    port
                },
            ),
            None => {
                let host = if local_addr.ip().is_unspecified() {
                    tracing::warn!("listening on all interfaces without advertised.listeners; advertising localhost");
                    "localhost".to_string()
                } else {
                    local_addr.ip().to_string()
                };
                (host, local_addr.port() as i32)
            }
        };
        let groups = crate::group_coordinator::GroupCoordinator::new();
        let metrics = Arc::new(Metrics::new(replicas.clone(), groups.groups_view()));
        let broker = Arc::new(Broker {
            node_id,
            cluster_id,
            advertised_host,
            advertised_port,
            config,
            replicas,
            controller,
            groups,
            txns: crate::txn_coordinator::TransactionCoordinator::new(),
            metrics,
            shutdown,
        });
        {
            let loader = broker.clone();
            tokio::task::spawn_blocking(move || loader.groups.load_existing(&loader))
                .await
                .map_err(|e| {
                    BrokerError::DataDirContents(format!("group coordinator load failed: {e}"))
                })?;
            let loader = broker.clone();
            let pending = tokio::task::spawn_blocking(move || loader.txns.load_existing(&loader))
                .await
                .map_err(|e| {
                    BrokerError::DataDirContents(format!(
                        "transaction coordinator load failed: {e}"
                    ))
                })?;
            // Transactions decided before the restart but not completed: write their markers.
            for (shard, marker) in pending {
                crate::txn_coordinator::markers::spawn(broker.clone(), shard, marker);
            }
        }
        // The admin API's routes read the broker once its groups and transactions are loaded.
        readiness.broker_built(broker.clone());
        // Ready just before the port opens, with nothing in between: whoever finds the port
        // open finds /ready saying ready (connections wait in the backlog until `run` accepts).
        readiness.ready();
        let listener = socket.listen(LISTEN_BACKLOG).map_err(bind_error)?;
        tracing::info!(
            listen = %local_addr,
            advertised = %format!("{}:{}", broker.advertised_host, broker.advertised_port),
            node_id,
            cluster_id = %broker.cluster_id,
            "kafka listener ready"
        );
        Ok((broker, listener, local_addr))
    }
}

/// Pending connections the Kafka listener queues (what `TcpListener::bind` uses).
const LISTEN_BACKLOG: u32 = 1024;

/// A socket bound to the first address `addr` resolves to that can be bound, with
/// `SO_REUSEADDR` as `TcpListener::bind` sets it, not yet listening.
async fn bind_socket(addr: &str) -> std::io::Result<tokio::net::TcpSocket> {
    let mut last_error = None;
    for candidate in tokio::net::lookup_host(addr).await? {
        let socket = if candidate.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(candidate) {
            Ok(()) => return Ok(socket),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    }))
}

async fn run(
    broker: Arc<Broker>,
    listener: TcpListener,
    mut admin: tokio::task::JoinHandle<()>,
    readiness: Arc<Readiness>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let background = spawn_background_tasks(&broker, shutdown.clone());
    let cleaner = crate::log_cleaner::spawn(broker.clone(), shutdown.clone());
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(crate::connection::serve(broker.clone(), stream, peer, shutdown.clone()));
                }
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    readiness.stopping();
    drop(listener);
    // Members waiting in JoinGroup/SyncGroup would otherwise wait for timers that no longer run;
    // dropping the coordinator's state answers them (COORDINATOR_NOT_AVAILABLE) and lets go of
    // the __consumer_offsets partitions so their logs close cleanly.
    broker.groups.shutdown();
    broker.txns.shutdown();
    tracing::info!(
        connections = connections.len(),
        "shutting down: no longer accepting, finishing in-flight requests"
    );
    while connections.join_next().await.is_some() {}
    // The admin listener saw the shutdown too and finishes its requests in flight, which hold
    // partitions briefly; one that does not finish in time is dropped.
    if tokio::time::timeout(ADMIN_SHUTDOWN_TIMEOUT, &mut admin)
        .await
        .is_err()
    {
        tracing::warn!("admin requests still in flight at shutdown; dropping them");
        admin.abort();
        let _ = admin.await;
    }
    for task in background {
        task.abort();
        let _ = task.await;
    }
    // The cleaner saw the shutdown too; it stops a cleaning at its next read and lets go of the
    // partition before the logs are closed.
    let _ = cleaner.await;
    let replicas = broker.replicas.clone();
    let _ = tokio::task::spawn_blocking(move || replicas.close_all()).await;
    tracing::info!("all logs flushed and closed");
}

fn spawn_background_tasks(
    broker: &Arc<Broker>,
    shutdown: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let retention = {
        let broker = broker.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            loop {
                let interval = broker
                    .config
                    .read()
                    .log_retention_check_interval_ms()
                    .max(10);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(interval as u64)) => {}
                    _ = shutdown.changed() => return,
                }
                let replicas = broker.replicas.clone();
                let _ = tokio::task::spawn_blocking(move || replicas.apply_retention()).await;
            }
        })
    };
    let shutdown_for_groups = shutdown.clone();
    let shutdown_for_txns = shutdown.clone();
    let flush = {
        let broker = broker.clone();
        let mut shutdown = shutdown;
        tokio::spawn(async move {
            loop {
                let interval = broker
                    .config
                    .read()
                    .log_flush_scheduler_interval_ms()
                    .clamp(10, 60_000);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(interval as u64)) => {}
                    _ = shutdown.changed() => return,
                }
                broker.replicas.flush_due().await;
            }
        })
    };
    let group_timers = {
        let broker = broker.clone();
        let mut shutdown = shutdown_for_groups;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(GROUP_TIMER_TICK_MS)) => {}
                    _ = shutdown.changed() => return,
                }
                broker.groups.poll_all().await;
            }
        })
    };
    let txn_timers = {
        let broker = broker.clone();
        let mut shutdown = shutdown_for_txns;
        tokio::spawn(async move {
            let mut last_producer_expiry = now_ms();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(TXN_TIMER_TICK_MS)) => {}
                    _ = shutdown.changed() => return,
                }
                crate::txn_coordinator::poll_all(&broker).await;
                let (interval, expiration) = {
                    let config = broker.config.read();
                    (
                        i64::from(config.producer_id_expiration_check_interval_ms()),
                        i64::from(config.producer_id_expiration_ms()),
                    )
                };
                let now = now_ms();
                if now - last_producer_expiry >= interval {
                    last_producer_expiry = now;
                    let replicas = broker.replicas.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        for partition in replicas.all() {
                            partition.remove_expired_producers(now, expiration);
                        }
                    })
                    .await;
                }
            }
        })
    };
    vec![retention, flush, group_timers, txn_timers]
}
