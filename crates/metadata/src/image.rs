//! The in-memory image of cluster metadata that the metadata log builds.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::record::MetadataRecord;

/// What a config belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ConfigResource {
    /// A topic, by name.
    Topic(String),
    /// One broker by id, or every broker (the cluster-wide default) when `None`.
    Broker(Option<i32>),
}

/// One partition's placement and leadership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionImage {
    pub partition: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub leader: i32,
    pub leader_epoch: i32,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicImage {
    pub name: String,
    pub topic_id: Uuid,
    pub partitions: BTreeMap<i32, PartitionImage>,
}

/// Topics, partitions and configs, as of the last applied record.
#[derive(Debug, Clone, Default)]
pub struct MetadataImage {
    topics: BTreeMap<String, TopicImage>,
    names_by_id: HashMap<Uuid, String>,
    configs: BTreeMap<ConfigResource, BTreeMap<String, String>>,
    /// Every producer id below this one has been handed out.
    next_producer_id: i64,
}

impl MetadataImage {
    /// Applies one record. Records that refer to something absent are ignored: they can only come
    /// from a log written by a buggy or newer broker, and replay must not stop there.
    pub fn apply(&mut self, record: &MetadataRecord) {
        match record {
            MetadataRecord::Topic { name, topic_id } => {
                self.names_by_id.insert(*topic_id, name.clone());
                self.topics.insert(
                    name.clone(),
                    TopicImage {
                        name: name.clone(),
                        topic_id: *topic_id,
                        partitions: BTreeMap::new(),
                    },
                );
            }
            MetadataRecord::Partition {
                topic_id,
                partition,
                replicas,
                isr,
                leader,
                leader_epoch,
            } => {
                let Some(topic) = self
                    .names_by_id
                    .get(topic_id)
                    .and_then(|name| self.topics.get_mut(name))
                else {
                    tracing::warn!(%topic_id, partition, "partition record for an unknown topic");
                    return;
                };
                topic.partitions.insert(
                    *partition,
                    PartitionImage {
                        partition: *partition,
                        replicas: replicas.clone(),
                        isr: isr.clone(),
                        leader: *leader,
                        leader_epoch: *leader_epoch,
                    },
                );
            }
            MetadataRecord::Config {
                resource,
                name,
                value,
            } => {
                let configs = self.configs.entry(resource.clone()).or_default();
                match value {
                    Some(value) => {
                        configs.insert(name.clone(), value.clone());
                    }
                    None => {
                        configs.remove(name);
                    }
                }
                if configs.is_empty() {
                    self.configs.remove(resource);
                }
            }
            MetadataRecord::RemoveTopic { topic_id } => {
                if let Some(name) = self.names_by_id.remove(topic_id) {
                    self.topics.remove(&name);
                    self.configs.remove(&ConfigResource::Topic(name));
                }
            }
            MetadataRecord::ProducerIds {
                next_producer_id, ..
            } => {
                // Blocks only move forward, even if a record repeats an older one.
                self.next_producer_id = self.next_producer_id.max(*next_producer_id);
            }
        }
    }

    /// The first producer id not handed out yet.
    pub fn next_producer_id(&self) -> i64 {
        self.next_producer_id
    }

    pub fn topic(&self, name: &str) -> Option<&TopicImage> {
        self.topics.get(name)
    }

    pub fn topic_by_id(&self, topic_id: &Uuid) -> Option<&TopicImage> {
        self.names_by_id
            .get(topic_id)
            .and_then(|name| self.topics.get(name))
    }

    pub fn topics(&self) -> impl Iterator<Item = &TopicImage> {
        self.topics.values()
    }

    /// The config overrides set on `resource` (not the defaults).
    pub fn configs(&self, resource: &ConfigResource) -> Option<&BTreeMap<String, String>> {
        self.configs.get(resource)
    }

    /// The overrides of a topic, empty when it has none.
    pub fn topic_configs(&self, topic: &str) -> BTreeMap<String, String> {
        self.configs
            .get(&ConfigResource::Topic(topic.to_string()))
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_partitions_configs_and_removal() {
        let mut image = MetadataImage::default();
        let topic_id = Uuid::new_v4();
        image.apply(&MetadataRecord::Topic {
            name: "orders".into(),
            topic_id,
        });
        image.apply(&MetadataRecord::Partition {
            topic_id,
            partition: 0,
            replicas: vec![0],
            isr: vec![0],
            leader: 0,
            leader_epoch: 0,
        });
        image.apply(&MetadataRecord::Config {
            resource: ConfigResource::Topic("orders".into()),
            name: "retention.ms".into(),
            value: Some("1000".into()),
        });
        assert_eq!(image.topic("orders").unwrap().partitions.len(), 1);
        assert_eq!(image.topic_by_id(&topic_id).unwrap().name, "orders");
        assert_eq!(image.topic_configs("orders")["retention.ms"], "1000");
        image.apply(&MetadataRecord::RemoveTopic { topic_id });
        assert!(image.topic("orders").is_none());
        assert!(image.topic_configs("orders").is_empty());
    }
}
