//! The APIs Strom implements and the versions it accepts, as ApiVersions advertises them.
//!
//! Every version `kafka-protocol` can decode is accepted for an implemented API; an API that is
//! not in [`IMPLEMENTED`] is neither advertised nor served.

use kafka_protocol::messages::ApiKey;

/// The APIs the broker serves, in api-key order.
pub const IMPLEMENTED: &[ApiKey] = &[
    ApiKey::Produce,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    ApiKey::Metadata,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::FindCoordinator,
    ApiKey::JoinGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
    ApiKey::SyncGroup,
    ApiKey::DescribeGroups,
    ApiKey::ListGroups,
    ApiKey::ApiVersions,
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
    ApiKey::DeleteRecords,
    ApiKey::InitProducerId,
    ApiKey::AddPartitionsToTxn,
    ApiKey::AddOffsetsToTxn,
    ApiKey::EndTxn,
    ApiKey::TxnOffsetCommit,
    ApiKey::DeleteGroups,
    ApiKey::DescribeConfigs,
    ApiKey::AlterConfigs,
    ApiKey::CreatePartitions,
    ApiKey::IncrementalAlterConfigs,
    ApiKey::OffsetDelete,
    ApiKey::DescribeCluster,
    ApiKey::DescribeProducers,
    ApiKey::DescribeTransactions,
    ApiKey::ListTransactions,
    ApiKey::ConsumerGroupHeartbeat,
    ApiKey::ConsumerGroupDescribe,
    ApiKey::DescribeTopicPartitions,
];

/// An inclusive range of versions of one API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiRange {
    pub api_key: ApiKey,
    pub min_version: i16,
    pub max_version: i16,
}

/// The version range Strom serves for `api_key`, or `None` when the API is not implemented.
pub fn supported(api_key: ApiKey) -> Option<ApiRange> {
    if !IMPLEMENTED.contains(&api_key) {
        return None;
    }
    let range = api_key.valid_versions();
    Some(ApiRange {
        api_key,
        min_version: range.min,
        max_version: version_cap(api_key).map_or(range.max, |cap| cap.min(range.max)),
    })
}

/// Versions `kafka-protocol` knows but Strom does not serve: InitProducerId v6 is KIP-939's
/// two-phase commit, and AddPartitionsToTxn/EndTxn/TxnOffsetCommit v5 are KIP-890's
/// transaction version 2 (Strom implements transaction version 1).
fn version_cap(api_key: ApiKey) -> Option<i16> {
    match api_key {
        ApiKey::InitProducerId => Some(5),
        ApiKey::AddPartitionsToTxn | ApiKey::EndTxn | ApiKey::TxnOffsetCommit => Some(4),
        _ => None,
    }
}

/// Every implemented API with its range, for the ApiVersions response.
pub fn all_supported() -> impl Iterator<Item = ApiRange> {
    IMPLEMENTED.iter().filter_map(|key| supported(*key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_covers_v0_to_v4() {
        let range = supported(ApiKey::ApiVersions).unwrap();
        assert_eq!((range.min_version, range.max_version), (0, 4));
    }

    #[test]
    fn unimplemented_apis_are_not_advertised() {
        assert!(supported(ApiKey::SaslHandshake).is_none());
        assert!(all_supported().all(|r| r.min_version <= r.max_version));
    }
}
