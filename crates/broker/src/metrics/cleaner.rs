//! The log cleaner's progress: cleanings completed and the bytes they read and wrote.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use strom_storage::CleaningStats;

/// Counters of the log cleaner (all partitions together).
#[derive(Debug, Clone, Default)]
pub struct CleanerMetrics {
    cleanings: Counter,
    bytes_read: Counter,
    bytes_written: Counter,
}

impl CleanerMetrics {
    pub(super) fn register(registry: &mut Registry) -> CleanerMetrics {
        let metrics = CleanerMetrics::default();
        registry.register(
            "strom_log_cleaner_cleanings",
            "Log cleanings completed",
            metrics.cleanings.clone(),
        );
        registry.register(
            "strom_log_cleaner_bytes_read",
            "Bytes the log cleaner read (the dirty section for the offset map, then every \
             cleaned segment)",
            metrics.bytes_read.clone(),
        );
        registry.register(
            "strom_log_cleaner_bytes_written",
            "Bytes the log cleaner wrote into cleaned segments",
            metrics.bytes_written.clone(),
        );
        metrics
    }

    /// A cleaning completed with these figures.
    pub fn cleaned(&self, stats: &CleaningStats) {
        self.cleanings.inc();
        self.bytes_read.inc_by(stats.bytes_read);
        self.bytes_written.inc_by(stats.bytes_written);
    }
}
