//! Consumer group rebalances, read when `/metrics` is scraped: per group, the generations a
//! classic group started and the group epochs a KIP-848 consumer group bumped since the group
//! was created or the broker loaded it (Kafka's `group-coordinator-metrics` rebalance rate).
//! Read from the coordinator, so a deleted group's series goes with it and the label set stays
//! that of the groups that exist.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::MetricType;

use super::labels::GroupLabels;
use crate::group_coordinator::GroupsView;

/// Encodes every group's rebalance count at each scrape.
pub(super) struct RebalanceCollector {
    groups: GroupsView,
}

impl RebalanceCollector {
    pub(super) fn new(groups: GroupsView) -> RebalanceCollector {
        RebalanceCollector { groups }
    }
}

impl std::fmt::Debug for RebalanceCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RebalanceCollector").finish_non_exhaustive()
    }
}

impl Collector for RebalanceCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut rows = self.groups.rebalances();
        rows.sort();
        let mut metric = encoder.encode_descriptor(
            "strom_group_rebalances",
            "Rebalances of the group since it was created or the broker loaded it: new \
             generations of a classic group, group epoch bumps of a consumer group (KIP-848).",
            None,
            MetricType::Counter,
        )?;
        for (group, count) in rows {
            ConstCounter::new(count).encode(metric.encode_family(&GroupLabels { group })?)?;
        }
        Ok(())
    }
}
