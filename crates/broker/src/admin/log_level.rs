//! `GET` / `PUT /v1/log-level`: the broker's log filter, read and changed at run time (Kafka
//! does this through its Log4j JMX bean). The binary that installs the logger hands the broker a
//! [`LogLevelControl`]; a broker started without one (tests, embedders) answers 404. Served from
//! the start, during log recovery too.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::AdminError;
use super::AdminState;

/// Reads and replaces the log filter of the process (`info`, `debug`, or a tracing filter such
/// as `info,strom_storage=debug`).
pub trait LogLevelControl: Send + Sync {
    /// The filter in force.
    fn current(&self) -> String;
    /// Replaces the filter; an unparsable one is refused with a message and changes nothing.
    fn set(&self, filter: &str) -> Result<(), String>;
}

/// The body of both requests and answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLevel {
    pub level: String,
}

fn control(state: &AdminState) -> Result<&Arc<dyn LogLevelControl>, AdminError> {
    state
        .log_level
        .as_ref()
        .ok_or_else(|| AdminError::NoSuchEndpoint("/v1/log-level (no logger to control)".into()))
}

/// `GET /v1/log-level`.
pub async fn get(State(state): State<AdminState>) -> Result<Json<LogLevel>, AdminError> {
    Ok(Json(LogLevel {
        level: control(&state)?.current(),
    }))
}

/// `PUT /v1/log-level` with `{"level": "..."}`.
pub async fn put(
    State(state): State<AdminState>,
    body: Result<Json<LogLevel>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<LogLevel>, AdminError> {
    let Json(wanted) = body.map_err(|e| AdminError::BadRequest(e.body_text()))?;
    let control = control(&state)?;
    control.set(&wanted.level).map_err(AdminError::BadRequest)?;
    tracing::info!(level = %wanted.level, "log level changed through the admin API");
    Ok(Json(LogLevel {
        level: control.current(),
    }))
}
