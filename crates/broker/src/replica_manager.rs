//! The partitions this broker hosts (Kafka's ReplicaManager): opening their logs at startup and
//! when topics are created, finding them for requests, deleting them with their topic, and the
//! periodic work on all of them (retention, time-based flush).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use strom_storage::{Log, StorageError};
use uuid::Uuid;

use crate::config::TopicConfig;
use crate::partition::Partition;
use crate::server::now_ms;

/// A topic name and partition index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }

    /// The partition's directory name inside the data directory, as Kafka names it.
    pub fn dir_name(&self) -> String {
        format!("{}-{}", self.topic, self.partition)
    }
}

pub struct ReplicaManager {
    data_dir: PathBuf,
    partitions: RwLock<HashMap<TopicPartition, Arc<Partition>>>,
}

impl ReplicaManager {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
            partitions: RwLock::new(HashMap::new()),
        }
    }

    pub fn get(&self, topic: &str, partition: i32) -> Option<Arc<Partition>> {
        self.partitions
            .read()
            .get(&TopicPartition::new(topic, partition))
            .cloned()
    }

    pub fn all(&self) -> Vec<Arc<Partition>> {
        self.partitions.read().values().cloned().collect()
    }

    /// Opens (recovering if needed) or creates the log of one partition and starts hosting it.
    pub fn open_partition(
        &self,
        topic: &str,
        topic_id: Uuid,
        partition: i32,
        leader_epoch: i32,
        config: Arc<TopicConfig>,
    ) -> Result<Arc<Partition>, StorageError> {
        let key = TopicPartition::new(topic, partition);
        if let Some(existing) = self.partitions.read().get(&key) {
            return Ok(existing.clone());
        }
        let dir = self.data_dir.join(key.dir_name());
        let now = now_ms();
        // Recovery's events (truncation of a torn tail, the opened log) name the partition.
        let (log, report) = crate::partition::span(topic, partition)
            .in_scope(|| Log::open(&dir, crate::engine_config::log_config(&config), now))?;
        tracing::debug!(topic, partition, ?report, "partition log opened");
        let hosted = Arc::new(Partition::new(
            topic.to_string(),
            topic_id,
            partition,
            log,
            config,
            leader_epoch,
            now,
        ));
        self.partitions.write().insert(key, hosted.clone());
        Ok(hosted)
    }

    /// Stops hosting every partition of `topic` and deletes their logs.
    pub fn delete_topic(&self, topic: &str) {
        let removed: Vec<Arc<Partition>> = {
            let mut partitions = self.partitions.write();
            let keys: Vec<TopicPartition> = partitions
                .keys()
                .filter(|key| key.topic == topic)
                .cloned()
                .collect();
            keys.iter()
                .filter_map(|key| partitions.remove(key))
                .collect()
        };
        for partition in removed {
            let index = partition.index;
            // In-flight requests may still hold the partition; its files go when the last one
            // lets go. Until then the directory is renamed so a new topic of the same name can
            // start afresh.
            match Arc::try_unwrap(partition) {
                Ok(partition) => {
                    if let Err(error) = partition.delete() {
                        tracing::warn!(topic, partition = index, %error, "cannot delete partition log");
                    }
                }
                Err(shared) => {
                    let dir = self
                        .data_dir
                        .join(TopicPartition::new(topic, index).dir_name());
                    let parked =
                        self.data_dir
                            .join(parked_dir_name(topic, index, &shared.topic_id));
                    shared.retire(|| match std::fs::rename(&dir, &parked) {
                        Ok(()) => Some(parked),
                        Err(error) => {
                            tracing::warn!(topic, partition = index, %error, "cannot park deleted partition log");
                            None
                        }
                    });
                }
            }
        }
    }

    /// Applies a changed topic config to the topic's partitions.
    pub fn update_topic_config(&self, topic: &str, config: Arc<TopicConfig>) {
        for partition in self.all().into_iter().filter(|p| p.topic == topic) {
            partition.set_config(config.clone());
        }
    }

    /// Removes directories parked by topic deletion (`*-delete`), and moves aside (`*-stray`,
    /// never deleted) partition directories the metadata does not know, so that a topic created
    /// later under the same name starts empty. Anything else in the data directory is left alone.
    pub fn remove_stray_logs(&self, known: &dyn Fn(&str) -> bool) {
        let Ok(entries) = std::fs::read_dir(&self.data_dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().to_string();
            if name == strom_metadata::log::METADATA_DIR {
                continue;
            }
            if name.ends_with("-delete") {
                tracing::info!(dir = %path.display(), "removing the log of a deleted topic");
                if let Err(error) = std::fs::remove_dir_all(&path) {
                    tracing::warn!(dir = %path.display(), %error, "cannot remove a deleted topic's log");
                }
                continue;
            }
            if is_partition_dir_name(&name) && !known(&name) {
                let aside = self
                    .data_dir
                    .join(format!("{name}.{}-stray", uuid::Uuid::new_v4().simple()));
                tracing::warn!(
                    dir = %path.display(),
                    moved_to = %aside.display(),
                    "a partition directory the metadata does not know; moving it aside"
                );
                if let Err(error) = std::fs::rename(&path, &aside) {
                    tracing::warn!(dir = %path.display(), %error, "cannot move a stray log directory aside");
                }
            }
        }
    }

    /// Deletes segments past retention on every partition.
    pub fn apply_retention(&self) {
        let now = now_ms();
        for partition in self.all() {
            match partition.apply_retention(now) {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(
                    topic = %partition.topic,
                    partition = partition.index,
                    deleted_segments = deleted,
                    log_start_offset = partition.log_start_offset(),
                    "retention deleted old segments"
                ),
                Err(error) if error.is_fsync_failure() => {
                    crate::error::halt("fsync during retention failed", &error)
                }
                Err(error) => tracing::warn!(
                    topic = %partition.topic,
                    partition = partition.index,
                    %error,
                    "retention failed"
                ),
            }
        }
    }

    /// Fsyncs partitions whose `flush.ms` has passed.
    pub async fn flush_due(&self) {
        let now = now_ms();
        for partition in self.all() {
            partition.flush_if_due(now).await;
        }
    }

    /// Closes every log cleanly; called once at shutdown when no request is in flight.
    pub fn close_all(&self) {
        let partitions: Vec<Arc<Partition>> =
            self.partitions.write().drain().map(|(_, p)| p).collect();
        for partition in partitions {
            let (topic, index) = (partition.topic.clone(), partition.index);
            match Arc::try_unwrap(partition) {
                Ok(partition) => {
                    if let Err(error) = partition.close() {
                        tracing::error!(%topic, partition = index, %error, "cannot close partition log");
                    }
                }
                Err(_) => {
                    tracing::warn!(%topic, partition = index, "partition still in use at shutdown; recovery will check it")
                }
            }
        }
    }
}

/// `<topic>-<partition>`, as partition directories are named.
fn is_partition_dir_name(name: &str) -> bool {
    match name.rsplit_once('-') {
        Some((topic, partition)) => {
            !topic.is_empty()
                && !partition.is_empty()
                && partition.bytes().all(|b| b.is_ascii_digit())
                && crate::topic_name::validate(topic).is_ok()
        }
        None => false,
    }
}

/// `<topic>-<partition>.<topic id>-delete`, with the topic name shortened so the whole name
/// fits the 255 bytes a file name may have (as Kafka does).
fn parked_dir_name(topic: &str, partition: i32, topic_id: &Uuid) -> String {
    let suffix = format!("-{partition}.{}-delete", topic_id.simple());
    let room = 255usize.saturating_sub(suffix.len());
    // Topic names are ASCII, so any byte index is a character boundary.
    let topic = topic.get(..room.min(topic.len())).unwrap_or(topic);
    format!("{topic}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parked_names_fit_a_file_name() {
        let id = Uuid::new_v4();
        let short = parked_dir_name("orders", 3, &id);
        assert_eq!(short, format!("orders-3.{}-delete", id.simple()));
        let long = parked_dir_name(&"t".repeat(249), 1234, &id);
        assert!(long.len() <= 255, "{} bytes", long.len());
        assert!(long.ends_with(&format!("-1234.{}-delete", id.simple())));
    }

    #[test]
    fn partition_dir_names() {
        assert!(is_partition_dir_name("orders-0"));
        assert!(is_partition_dir_name("my-topic-12"));
        assert!(!is_partition_dir_name("lost+found"));
        assert!(!is_partition_dir_name("orders-0.abc-delete"));
        assert!(!is_partition_dir_name("orders-"));
        assert!(!is_partition_dir_name("-3"));
    }
}
