//! `GET /v1/topics` and `GET /v1/topics/{name}`: the topics this broker hosts and, per partition,
//! its offsets, its size and, on compacted topics, where log compaction stands (the dirty ratio
//! the cleaner compares with `min.cleanable.dirty.ratio`, and the figures of the last cleaning),
//! which Kafka shows only through the log cleaner's JMX metrics.
//!
//! The types here are the JSON shapes (snake_case fields); `strom topic describe` reads them back.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::Path;
use axum::Json;
use serde::{Deserialize, Serialize};
use strom_storage::{CleaningState, CleaningStats};

use super::error::AdminError;
use super::readiness::Serving;
use crate::partition::Partition;
use crate::server::now_ms;

/// The answer of `GET /v1/topics`, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicList {
    pub topics: Vec<TopicListing>,
}

/// One hosted topic in [`TopicList`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicListing {
    pub name: String,
    /// The partitions of the topic this broker hosts.
    pub partitions: usize,
}

/// The answer of `GET /v1/topics/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicDescription {
    pub name: String,
    /// Sorted by partition index.
    pub partitions: Vec<PartitionDescription>,
}

/// One partition in [`TopicDescription`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionDescription {
    pub partition: i32,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
    pub high_watermark: i64,
    /// Bytes of all the partition's segments.
    pub size_bytes: u64,
    /// `null` unless the topic's `cleanup.policy` includes `compact`.
    pub compaction: Option<CompactionStatus>,
}

/// Where log compaction stands on one partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompactionStatus {
    /// `dirty_bytes / (clean_bytes + dirty_bytes)`, 0 when neither has any bytes; the cleaner
    /// picks the partition once this exceeds `min.cleanable.dirty.ratio`.
    pub dirty_ratio: f64,
    /// Bytes of the segments below the first dirty offset (already cleaned).
    pub clean_bytes: u64,
    /// Bytes of the closed segments between the first dirty and first uncleanable offsets.
    pub dirty_bytes: u64,
    /// The log is clean below this offset (the cleaner checkpoint).
    pub first_dirty_offset: i64,
    /// Nothing at or past this offset may be cleaned yet (active segment, open transactions,
    /// `min.compaction.lag.ms`).
    pub first_uncleanable_offset: i64,
    /// `null` until the partition has been cleaned since the broker started.
    pub last_cleaning: Option<LastCleaning>,
}

/// What the last cleaning of a partition did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastCleaning {
    /// Wall-clock time (ms since the epoch) the cleaning started.
    pub started_ms: i64,
    pub duration_ms: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub records_read: u64,
    pub records_removed: u64,
    pub segments_before: usize,
    pub segments_after: usize,
    /// The cleaning rewrote the log up to this offset (exclusive).
    pub end_offset: i64,
}

impl CompactionStatus {
    pub fn new(state: &CleaningState, last_cleaning: Option<CleaningStats>) -> CompactionStatus {
        CompactionStatus {
            dirty_ratio: state.dirty_ratio(),
            clean_bytes: state.clean_bytes,
            dirty_bytes: state.dirty_bytes,
            first_dirty_offset: state.first_dirty_offset,
            first_uncleanable_offset: state.first_uncleanable_offset,
            last_cleaning: last_cleaning.map(LastCleaning::from),
        }
    }
}

impl From<CleaningStats> for LastCleaning {
    fn from(stats: CleaningStats) -> LastCleaning {
        LastCleaning {
            started_ms: stats.started_ms,
            duration_ms: stats.duration_ms,
            bytes_read: stats.bytes_read,
            bytes_written: stats.bytes_written,
            records_read: stats.records_read,
            records_removed: stats.records_removed,
            segments_before: stats.segments_before,
            segments_after: stats.segments_after,
            end_offset: stats.end_offset,
        }
    }
}

/// `GET /v1/topics`.
pub async fn list(Serving(broker): Serving) -> Json<TopicList> {
    let mut partitions: BTreeMap<String, usize> = BTreeMap::new();
    for partition in broker.replicas.all() {
        *partitions.entry(partition.topic.clone()).or_default() += 1;
    }
    let topics = partitions
        .into_iter()
        .map(|(name, partitions)| TopicListing { name, partitions })
        .collect();
    Json(TopicList { topics })
}

/// `GET /v1/topics/{name}`; 404 when this broker hosts no partition of the topic.
pub async fn describe(
    Serving(broker): Serving,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<TopicDescription>, AdminError> {
    let Path(name) = name.map_err(|rejection| AdminError::BadRequest(rejection.body_text()))?;
    let mut partitions: Vec<Arc<Partition>> = broker
        .replicas
        .all()
        .into_iter()
        .filter(|partition| partition.topic == name)
        .collect();
    if partitions.is_empty() {
        return Err(AdminError::UnknownTopic(name));
    }
    partitions.sort_by_key(|partition| partition.index);
    // The size and the cleaning state are read under each log's lock, which an append holds
    // across its write: wait for it on a blocking thread, not on an async worker.
    let now = now_ms();
    let partitions = tokio::task::spawn_blocking(move || {
        partitions
            .iter()
            .map(|partition| describe_partition(partition, now))
            .collect()
    })
    .await
    .map_err(|error| AdminError::Internal(format!("describing topic {name:?} failed: {error}")))?;
    Ok(Json(TopicDescription { name, partitions }))
}

/// One partition's figures. Blocking (takes the log's lock).
fn describe_partition(partition: &Partition, now_ms: i64) -> PartitionDescription {
    let compaction = partition
        .cleaning_state(now_ms)
        .map(|state| CompactionStatus::new(&state, partition.last_cleaning()));
    PartitionDescription {
        partition: partition.index,
        log_start_offset: partition.log_start_offset(),
        log_end_offset: partition.log_end_offset(),
        high_watermark: partition.high_watermark(),
        size_bytes: partition.size_bytes(),
        compaction,
    }
}
