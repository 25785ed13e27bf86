//! One module per Kafka API, named after it. A handler turns a request into its response; a
//! failure in one item (topic, partition, resource) never fails the others.

pub mod alter_configs;
pub mod api_versions;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_topic_partitions;
pub mod fetch;
pub mod incremental_alter_configs;
pub mod list_offsets;
pub mod metadata;
pub mod produce;

use strom_protocol::StrBytes;

/// A `StrBytes` from an owned or borrowed string.
pub(crate) fn sb(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}
