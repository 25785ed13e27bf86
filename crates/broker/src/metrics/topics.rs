//! Traffic per topic: bytes and records produced, bytes fetched.
//!
//! The handlers add one request's figures per topic at once, so a label lookup (a lock and the
//! label's allocation) happens once per topic of a request, never per record.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::labels::TopicLabels;

/// Counters per topic.
#[derive(Debug, Clone, Default)]
pub struct TopicMetrics {
    bytes_in: Family<TopicLabels, Counter>,
    records_in: Family<TopicLabels, Counter>,
    bytes_out: Family<TopicLabels, Counter>,
}

impl TopicMetrics {
    pub(super) fn register(registry: &mut Registry) -> TopicMetrics {
        let metrics = TopicMetrics::default();
        registry.register(
            "strom_topic_bytes_in",
            "Record bytes appended to the topic by produce requests (batches as sent)",
            metrics.bytes_in.clone(),
        );
        registry.register(
            "strom_topic_records_in",
            "Records appended to the topic by produce requests",
            metrics.records_in.clone(),
        );
        registry.register(
            "strom_topic_bytes_out",
            "Record bytes of the topic returned by fetch requests",
            metrics.bytes_out.clone(),
        );
        metrics
    }

    /// A produce request appended `records` records in `bytes` bytes of batches to `topic`.
    pub fn produced(&self, topic: &str, bytes: u64, records: u64) {
        let labels = TopicLabels {
            topic: topic.to_owned(),
        };
        self.bytes_in.get_or_create(&labels).inc_by(bytes);
        self.records_in.get_or_create(&labels).inc_by(records);
    }

    /// A fetch response carried `bytes` bytes of `topic`'s batches.
    pub fn fetched(&self, topic: &str, bytes: u64) {
        let labels = TopicLabels {
            topic: topic.to_owned(),
        };
        self.bytes_out.get_or_create(&labels).inc_by(bytes);
    }
}
