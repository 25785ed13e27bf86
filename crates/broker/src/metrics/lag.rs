//! Consumer lag, read when `/metrics` is scraped: for every group's committed offset on a
//! partition this broker hosts, the high watermark minus that offset (Kafka's
//! `records-lag`, as `kafka-consumer-groups.sh --describe` computes it).

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use crate::group_coordinator::GroupsView;
use crate::replica_manager::ReplicaManager;
use crate::server::now_ms;

/// `{group, topic, partition}`: a group's position on one partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct GroupPartitionLabels {
    pub group: String,
    pub topic: String,
    pub partition: i32,
}

/// Encodes every group's lag at each scrape.
pub(super) struct LagCollector {
    groups: GroupsView,
    replicas: Arc<ReplicaManager>,
}

impl LagCollector {
    pub(super) fn new(groups: GroupsView, replicas: Arc<ReplicaManager>) -> LagCollector {
        LagCollector { groups, replicas }
    }
}

impl std::fmt::Debug for LagCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LagCollector").finish_non_exhaustive()
    }
}

impl Collector for LagCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut rows: Vec<(GroupPartitionLabels, i64)> = self
            .groups
            .all(now_ms())
            .into_iter()
            .filter_map(|(group, topic, partition, committed)| {
                let high_watermark = self.replicas.get(&topic, partition)?.high_watermark();
                let lag = (high_watermark - committed).max(0);
                Some((
                    GroupPartitionLabels {
                        group,
                        topic,
                        partition,
                    },
                    lag,
                ))
            })
            .collect();
        rows.sort_by(|a, b| {
            (&a.0.group, &a.0.topic, a.0.partition).cmp(&(&b.0.group, &b.0.topic, b.0.partition))
        });
        let mut metric = encoder.encode_descriptor(
            "strom_consumer_group_lag",
            "Records between a group's committed offset and the partition's high watermark.",
            None,
            MetricType::Gauge,
        )?;
        for (labels, lag) in &rows {
            ConstGauge::new(*lag).encode(metric.encode_family(labels)?)?;
        }
        Ok(())
    }
}
