//! The label sets of Strom's metrics, one struct per set of label names.
//!
//! Label values come from names Kafka already restricts (topic names are
//! `[a-zA-Z0-9._-]`, API names are the protocol's), so they need no escaping.

use std::fmt::Write as _;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use strom_protocol::messages::ApiKey;

/// `{topic}`: traffic per topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct TopicLabels {
    pub topic: String,
}

/// `{topic, partition}`: figures of one partition's log.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct PartitionLabels {
    pub topic: String,
    pub partition: i32,
}

/// `{group}`: figures of one consumer group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct GroupLabels {
    pub group: String,
}

/// `{api}`: requests per Kafka API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ApiLabels {
    pub api: ApiName,
}

impl ApiLabels {
    pub fn new(api: Option<ApiKey>) -> ApiLabels {
        ApiLabels { api: ApiName(api) }
    }
}

/// The name of a Kafka API as the protocol spells it (`Produce`, `Fetch`, `ApiVersions`), or
/// `unknown` for a request whose API key Strom does not know. Copy, so that looking up a
/// request's metrics allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApiName(pub Option<ApiKey>);

impl EncodeLabelValue for ApiName {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        match self.0 {
            // The variant names of kafka-protocol's ApiKey are the protocol's API names.
            Some(api) => write!(encoder, "{api:?}"),
            None => encoder.write_str("unknown"),
        }
    }
}
