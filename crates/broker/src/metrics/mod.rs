//! Strom's metrics, in the Prometheus data model, served by the admin API at `GET /metrics`.
//!
//! Every metric is defined once, typed, in this module, with `prometheus-client` (the Prometheus
//! project's Rust client); the rest of the broker calls methods named after what happened
//! (`produced`, `fetched`, `started`, `cleaned`) and never spells a metric name. [`Metrics`]
//! is built once per broker and held by [`crate::server::Broker`].
//!
//! - [`topics`]: bytes and records in, bytes out, per topic (the produce and fetch handlers);
//! - [`requests`]: requests, failures and latency per Kafka API, error codes of responses per
//!   API and error ([`errors`]), produce request and fetch response sizes, open connections
//!   (the connection loop);
//! - [`fsync`]: fdatasync latency of the group commit (one histogram per process);
//! - [`cleaner`]: cleanings completed, bytes read and written (the log cleaner);
//! - [`partitions`], [`lag`], [`groups`] and [`process`]: figures read when the metrics are
//!   scraped: offsets, size and dirty ratio per partition, consumer lag per group and partition,
//!   rebalances per group, resident memory and open files of the process.
//!
//! The exposition is OpenMetrics text (`# EOF` at the end, counters as `<name>_total`), which
//! Prometheus asks for first and parses natively: see [`CONTENT_TYPE`].
//!
//! Cost on the request path: a label lookup takes a read lock of its family (a write lock the
//! first time a label set is seen) and allocates the label struct for topics; the handlers do
//! it once per topic of a request, never per record. No lock is held across I/O.

pub mod cleaner;
pub mod errors;
pub mod fsync;
mod groups;
pub mod labels;
mod lag;
mod partitions;
mod process;
pub mod requests;
pub mod topics;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use prometheus_client::registry::Registry;

use crate::group_coordinator::GroupsView;
use crate::replica_manager::ReplicaManager;

pub use cleaner::CleanerMetrics;
pub use fsync::observe_fsync;
pub use requests::{ConnectionGuard, RequestMetrics, RequestTimer};
pub use topics::TopicMetrics;

/// The Content-Type of the exposition: OpenMetrics 1.0 text, what `prometheus-client` encodes.
/// (Its counter families are named without `_total` in `# TYPE` lines, so the older
/// `text/plain; version=0.0.4` would make Prometheus see them as untyped.)
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The broker's metrics: the registry that encodes them, and handles to update them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub topics: TopicMetrics,
    pub requests: RequestMetrics,
    pub cleaner: CleanerMetrics,
}

impl Metrics {
    /// Registers every metric; the per-partition figures are read from `replicas`, and the
    /// consumer lag and the rebalances from `groups`, at scrape time.
    pub fn new(replicas: Arc<ReplicaManager>, groups: GroupsView) -> Metrics {
        let mut registry = Registry::default();
        let topics = TopicMetrics::register(&mut registry);
        let requests = RequestMetrics::register(&mut registry);
        fsync::register(&mut registry);
        let cleaner = CleanerMetrics::register(&mut registry);
        registry.register_collector(Box::new(groups::RebalanceCollector::new(groups.clone())));
        registry.register_collector(Box::new(lag::LagCollector::new(
            groups,
            Arc::clone(&replicas),
        )));
        registry.register_collector(Box::new(partitions::PartitionCollector::new(replicas)));
        registry.register_collector(Box::new(process::ProcessCollector));
        Metrics {
            registry,
            topics,
            requests,
            cleaner,
        }
    }

    /// The exposition of every metric, in [`CONTENT_TYPE`]. Blocking: the partition figures
    /// are read under each log's lock (call it from a blocking thread).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}
