//! Whether the broker serves yet. The admin listener is up before the logs are recovered (so
//! that `/health` and `/ready` answer during a long recovery), while the [`Broker`] it
//! describes does not exist yet: [`Readiness`] is what the admin API shares with the startup,
//! the broker once it is built and the stage the broker is in.
//!
//! Routes that need the broker take [`Serving`], which answers 503 until the broker exists.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::AdminError;
use super::AdminState;
use crate::server::Broker;

/// Where the broker stands, as `/ready` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Replaying the metadata log, recovering partition logs, loading the coordinators.
    Recovering,
    /// The Kafka listener accepts and serves requests.
    Ready,
    /// Shutting down: no longer accepting Kafka connections.
    Stopping,
}

impl Stage {
    /// The name `/ready` answers.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Recovering => "recovering",
            Stage::Ready => "ready",
            Stage::Stopping => "stopping",
        }
    }
}

/// The broker's stage and, once built, the broker itself.
#[derive(Default)]
pub struct Readiness {
    stage: AtomicU8,
    broker: OnceLock<Arc<Broker>>,
}

const RECOVERING: u8 = 0;
const READY: u8 = 1;
const STOPPING: u8 = 2;

impl Readiness {
    /// A broker still recovering.
    pub fn new() -> Readiness {
        Readiness::default()
    }

    pub fn stage(&self) -> Stage {
        match self.stage.load(Ordering::Acquire) {
            RECOVERING => Stage::Recovering,
            READY => Stage::Ready,
            _ => Stage::Stopping,
        }
    }

    /// The broker is built: the routes that read it answer from now on.
    pub fn broker_built(&self, broker: Arc<Broker>) {
        // Set once by the startup; a second call would be a bug and changes nothing.
        let _ = self.broker.set(broker);
    }

    /// The Kafka listener serves.
    pub fn ready(&self) {
        // Never back from stopping to ready.
        let _ = self
            .stage
            .compare_exchange(RECOVERING, READY, Ordering::AcqRel, Ordering::Acquire);
    }

    /// The broker is shutting down.
    pub fn stopping(&self) {
        self.stage.store(STOPPING, Ordering::Release);
    }

    /// The broker, once built.
    pub fn broker(&self) -> Option<&Arc<Broker>> {
        self.broker.get()
    }
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("stage", &self.stage())
            .field("broker_built", &self.broker.get().is_some())
            .finish()
    }
}

/// Extracts the broker for a route that needs it; 503 while the broker is still recovering.
pub struct Serving(pub Arc<Broker>);

impl FromRequestParts<AdminState> for Serving {
    type Rejection = AdminError;

    async fn from_request_parts(
        _parts: &mut Parts,
        state: &AdminState,
    ) -> Result<Serving, AdminError> {
        state
            .readiness
            .broker()
            .cloned()
            .map(Serving)
            .ok_or_else(|| AdminError::Unavailable("the broker is recovering its logs".into()))
    }
}
