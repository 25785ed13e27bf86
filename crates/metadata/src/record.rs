//! The records of the metadata log. Their names follow KRaft's (TopicRecord, PartitionRecord,
//! ConfigRecord, RemoveTopicRecord, ProducerIdsRecord) so the Raft-replicated log that comes later keeps them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::image::ConfigResource;

/// One change to cluster metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum MetadataRecord {
    /// A topic came into existence.
    Topic { name: String, topic_id: Uuid },
    /// A partition of a topic came into existence or changed leadership.
    Partition {
        topic_id: Uuid,
        partition: i32,
        replicas: Vec<i32>,
        isr: Vec<i32>,
        leader: i32,
        leader_epoch: i32,
    },
    /// A config was set (`value` is `Some`) or removed (`None`) on a topic or a broker.
    Config {
        resource: ConfigResource,
        name: String,
        value: Option<String>,
    },
    /// A topic and all its partitions were deleted.
    RemoveTopic { topic_id: Uuid },
    /// A block of producer ids was handed to `broker_id`: every id below `next_producer_id` is
    /// taken (KRaft's ProducerIdsRecord).
    ProducerIds {
        broker_id: i32,
        next_producer_id: i64,
    },
}
