//! The admin HTTP API (Strom only): what Kafka exposes through JMX, served as JSON over HTTP the
//! way Redpanda's admin API is. It listens on `admin.listen` (default `127.0.0.1:9644`) from the
//! start of the broker, before the logs are recovered, stops with the Kafka listener, and has no
//! authentication: bind it to loopback or another trusted address.
//!
//! Endpoints (`GET` unless said otherwise):
//! - `/health`: `{"status": "ok"}` as soon as the admin listener is up (liveness: the process
//!   answers), during log recovery too;
//! - `/ready`: `{"status": "ready"}` (200) once the logs are recovered and the Kafka listener
//!   serves; 503 with `{"status": "recovering"}` before, `{"status": "stopping"}` during a
//!   shutdown ([`readiness`]). The other routes that read the broker answer 503 until it serves
//!   (`/v1/log-level` works from the start);
//! - `/metrics`: every metric of [`crate::metrics`] for Prometheus to scrape, in the OpenMetrics
//!   text format (`application/openmetrics-text; version=1.0.0`, what `prometheus-client`
//!   encodes; Prometheus asks for it first);
//! - `/v1/cluster`: the cluster id, the brokers with their Kafka listener, the controller, and
//!   the topics and partitions hosted ([`cluster`]);
//! - `/v1/topics`, `/v1/topics/{name}`: the topics this broker hosts, and per partition its
//!   offsets, size and where log compaction stands ([`topics`]);
//! - `/v1/groups`, `/v1/groups/{id}`: the consumer groups (state, protocol, members, total lag),
//!   and one group's members with their assignments and its committed offsets with the high
//!   watermark, log end offset and lag of each partition ([`groups`]);
//! - `/v1/log-level` (`GET`, and `PUT` with `{"level": "..."}`): the log filter, changed at run
//!   time ([`log_level`]).
//!
//! Failures are `{"error": "..."}` with a status code that says what went wrong ([`error`]).

pub mod cluster;
pub mod error;
pub mod groups;
pub mod log_level;
pub mod readiness;
pub mod topics;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::HostPort;
use crate::error::BrokerError;
use crate::metrics::CONTENT_TYPE as METRICS_CONTENT_TYPE;
use log_level::LogLevelControl;
use readiness::{Readiness, Serving, Stage};

/// What every route of the admin API may read: the broker's readiness (and the broker once it
/// is built), and the process's log filter.
#[derive(Clone)]
pub struct AdminState {
    pub readiness: Arc<Readiness>,
    /// The process's log filter, when the binary installed a changeable one.
    pub log_level: Option<Arc<dyn LogLevelControl>>,
}

impl AdminState {
    pub fn new(readiness: Arc<Readiness>, log_level: Option<Arc<dyn LogLevelControl>>) -> Self {
        AdminState {
            readiness,
            log_level,
        }
    }
}

/// The admin listener, bound but not yet serving (so that a bind failure stops the startup).
pub struct AdminListener {
    listener: TcpListener,
    local_addr: SocketAddr,
}

impl AdminListener {
    /// Binds `addr`; port 0 picks a free port (see [`AdminListener::local_addr`]).
    pub async fn bind(addr: &HostPort) -> Result<AdminListener, BrokerError> {
        let bind_addr = addr.to_addr_string();
        let bind_error = |source| BrokerError::Bind {
            addr: format!("{bind_addr} (admin.listen)"),
            source,
        };
        let listener = TcpListener::bind(&bind_addr).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        Ok(AdminListener {
            listener,
            local_addr,
        })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves the API until `shutdown` turns true, then stops accepting and lets the requests in
    /// flight finish (axum's graceful shutdown).
    /// Serving starts before the broker exists: the routes read it from `state`.
    pub fn spawn(self, state: AdminState, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            let stopping = async move {
                // An error means the broker is gone (or its startup failed): stop as well.
                let _ = shutdown.wait_for(|stopping| *stopping).await;
            };
            let served = axum::serve(self.listener, router(state))
                .with_graceful_shutdown(stopping)
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "admin listener failed");
            }
        })
    }
}

/// The routes of the admin API.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/v1/cluster", get(cluster::describe))
        .route("/v1/topics", get(topics::list))
        .route("/v1/topics/{name}", get(topics::describe))
        .route("/v1/groups", get(groups::list))
        .route("/v1/groups/{id}", get(groups::describe))
        .route("/v1/log-level", get(log_level::get).put(log_level::put))
        .fallback(error::no_such_endpoint)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state)
}

/// The answer of `GET /health` and `GET /ready`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `/health`: `ok` whenever the broker answers at all. `/ready`: `recovering`, `ready` or
    /// `stopping` ([`Stage::name`]).
    pub status: String,
}

async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
    })
}

/// `GET /ready`: 200 once the Kafka listener serves, 503 before and while stopping.
async fn ready(State(state): State<AdminState>) -> (StatusCode, Json<Health>) {
    let stage = state.readiness.stage();
    let status = match stage {
        Stage::Ready => StatusCode::OK,
        Stage::Recovering | Stage::Stopping => StatusCode::SERVICE_UNAVAILABLE,
    };
    (
        status,
        Json(Health {
            status: stage.name().to_owned(),
        }),
    )
}

/// `GET /metrics`: the Prometheus exposition of the broker's metrics.
async fn metrics(Serving(broker): Serving) -> Result<Response, error::AdminError> {
    // The partition figures are read under each log's lock, which an append holds across its
    // write: encode on a blocking thread, not on an async worker.
    let text = tokio::task::spawn_blocking(move || broker.metrics.encode())
        .await
        .map_err(|error| error::AdminError::Internal(format!("metrics task failed: {error}")))?
        .map_err(|error| {
            error::AdminError::Internal(format!("encoding metrics failed: {error}"))
        })?;
    Ok(([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response())
}
