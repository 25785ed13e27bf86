//! Fsync latency: how long the group commit's fdatasync of a partition's active segment takes.
//!
//! Partitions are created by the replica manager without a handle on the broker, and fsyncs
//! happen for every caller of `Partition::wait_durable` (produce, the coordinators, transaction
//! markers), so the histogram is one per process: [`FSYNC_DURATION`]. Every [`super::Metrics`]
//! registers the same histogram (two brokers in one test process share it).

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

/// From 50 µs to about 1.6 s.
static FSYNC_DURATION: LazyLock<Histogram> =
    LazyLock::new(|| Histogram::new(exponential_buckets(0.000_05, 2.0, 16)));

pub(super) fn register(registry: &mut Registry) {
    registry.register_with_unit(
        "strom_fsync_duration",
        "Time of one fdatasync of a partition's log (group commit; the whole process)",
        Unit::Seconds,
        FSYNC_DURATION.clone(),
    );
}

/// One fsync took `elapsed`.
pub fn observe_fsync(elapsed: Duration) {
    FSYNC_DURATION.observe(elapsed.as_secs_f64());
}
