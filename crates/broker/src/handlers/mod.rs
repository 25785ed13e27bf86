//! One module per Kafka API, named after it. A handler turns a request into its response; a
//! failure in one item (topic, partition, resource) never fails the others.

pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod alter_configs;
pub mod api_versions;
pub mod consumer_group_describe;
pub mod consumer_group_heartbeat;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_producers;
pub mod describe_topic_partitions;
pub mod describe_transactions;
pub mod end_txn;
pub mod fetch;
pub mod find_coordinator;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod list_transactions;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod produce;
pub mod sync_group;
pub mod txn_offset_commit;

use strom_protocol::StrBytes;

/// A `StrBytes` from an owned or borrowed string.
pub(crate) fn sb(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

/// PRODUCER_FENCED (90) exists in a transactional API from `since` on; older versions learn of
/// a fenced producer as INVALID_PRODUCER_EPOCH (47), as Kafka answers them.
pub(crate) fn fenced_for_version(code: i16, version: i16, since: i16) -> i16 {
    let fenced = strom_protocol::ResponseError::ProducerFenced.code();
    if code == fenced && version < since {
        strom_protocol::ResponseError::InvalidProducerEpoch.code()
    } else {
        code
    }
}
