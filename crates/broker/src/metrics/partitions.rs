//! Figures of every hosted partition's log, read when `/metrics` is scraped: log start and end
//! offsets, size, and on compacted topics the dirty ratio the log cleaner compares with
//! `min.cleanable.dirty.ratio`.
//!
//! Read at scrape time rather than kept in gauges, so a deleted partition's series simply
//! disappear. Blocking: the size and the cleaning state are read under each log's lock.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use super::labels::PartitionLabels;
use crate::replica_manager::ReplicaManager;
use crate::server::now_ms;

/// Encodes the partitions' figures at each scrape.
pub(super) struct PartitionCollector {
    replicas: Arc<ReplicaManager>,
}

impl PartitionCollector {
    pub(super) fn new(replicas: Arc<ReplicaManager>) -> PartitionCollector {
        PartitionCollector { replicas }
    }
}

impl std::fmt::Debug for PartitionCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionCollector").finish_non_exhaustive()
    }
}

/// One partition's figures at the scrape.
struct Row {
    labels: PartitionLabels,
    log_start_offset: i64,
    log_end_offset: i64,
    size_bytes: u64,
    /// `None` unless the topic is compacted.
    dirty_ratio: Option<f64>,
}

impl Collector for PartitionCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let now = now_ms();
        let mut rows: Vec<Row> = self
            .replicas
            .all()
            .iter()
            .map(|partition| Row {
                labels: PartitionLabels {
                    topic: partition.topic.clone(),
                    partition: partition.index,
                },
                log_start_offset: partition.log_start_offset(),
                log_end_offset: partition.log_end_offset(),
                size_bytes: partition.size_bytes(),
                dirty_ratio: partition
                    .cleaning_state(now)
                    .map(|state| state.dirty_ratio()),
            })
            .collect();
        rows.sort_by(|a, b| {
            (&a.labels.topic, a.labels.partition).cmp(&(&b.labels.topic, b.labels.partition))
        });
        encode_gauges(
            &mut encoder,
            "strom_log_start_offset",
            "The first offset of the partition's log.",
            None,
            rows.iter().map(|row| (&row.labels, row.log_start_offset)),
        )?;
        encode_gauges(
            &mut encoder,
            "strom_log_end_offset",
            "The offset the next record appended to the partition gets.",
            None,
            rows.iter().map(|row| (&row.labels, row.log_end_offset)),
        )?;
        encode_gauges(
            &mut encoder,
            "strom_log_size",
            "Bytes of all the partition's segments.",
            Some(&Unit::Bytes),
            rows.iter().map(|row| (&row.labels, row.size_bytes)),
        )?;
        encode_gauges(
            &mut encoder,
            "strom_log_cleaner_dirty_ratio",
            "Dirty bytes over clean plus dirty bytes of a compacted partition; the cleaner \
             picks it once this exceeds min.cleanable.dirty.ratio.",
            None,
            rows.iter()
                .filter_map(|row| Some((&row.labels, row.dirty_ratio?))),
        )
    }
}

/// One gauge family: its descriptor, then one sample per partition.
fn encode_gauges<'a, V: EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    samples: impl Iterator<Item = (&'a PartitionLabels, V)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    for (labels, value) in samples {
        ConstGauge::new(value).encode(metric.encode_family(labels)?)?;
    }
    Ok(())
}
