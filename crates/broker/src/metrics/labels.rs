//! The label sets of Strom's metrics, one struct per set of label names.
//!
//! Label values come from names Kafka already restricts (topic names are
//! `[a-zA-Z0-9._-]`, API names are the protocol's), so they need no escaping.

use std::fmt::Write as _;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use strom_protocol::messages::ApiKey;
use strom_protocol::ResponseError;

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

/// `{api, error}`: error codes in responses per Kafka API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ApiErrorLabels {
    pub api: ApiName,
    pub error: ErrorName,
}

/// A Kafka error code, encoded by its name as Kafka spells it (`UNKNOWN_TOPIC_OR_PARTITION`,
/// `OFFSET_OUT_OF_RANGE`), `UNKNOWN` for a code the protocol does not define (so the label set
/// stays bounded). Copy, and named only when encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorName(i16);

/// The code of every error the protocol does not define.
const UNDEFINED_CODE: i16 = i16::MIN;

impl ErrorName {
    pub fn new(code: i16) -> ErrorName {
        match ResponseError::try_from_code(code) {
            Some(ResponseError::Unknown(_)) | None => ErrorName(UNDEFINED_CODE),
            Some(_) => ErrorName(code),
        }
    }
}

impl EncodeLabelValue for ErrorName {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        let error = match ResponseError::try_from_code(self.0) {
            Some(error) if self.0 != UNDEFINED_CODE => error,
            _ => return encoder.write_str("UNKNOWN"),
        };
        // kafka-protocol names its variants in CamelCase; Kafka's names are SCREAMING_SNAKE_CASE.
        for (i, c) in error.to_string().chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                encoder.write_char('_')?;
            }
            encoder.write_char(c.to_ascii_uppercase())?;
        }
        Ok(())
    }
}
