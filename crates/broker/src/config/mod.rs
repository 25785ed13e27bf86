//! Broker and topic configuration with Kafka's own names, types, defaults and validation.
//!
//! - [`catalog`]: the static table of every config ([`ConfigDef`]).
//! - [`value`]: parsing one value per its type and validator; [`ConfigError`].
//! - [`broker`]: [`BrokerConfig`], loaded from a TOML (or `.properties`) file and `--set` flags,
//!   plus dynamic overrides from AlterConfigs.
//! - [`topic`]: [`TopicConfig`], one topic's effective config, and override validation.
//! - [`describe`]: what DescribeConfigs reports, with sources and synonyms.

pub mod broker;
pub mod catalog;
pub mod describe;
pub mod topic;
pub mod value;

pub use broker::{BrokerConfig, DynamicLevel};
pub use catalog::{
    broker_config, topic_config, ConfigDef, ConfigScope, ConfigType, Validator, BROKER_CONFIGS,
    TOPIC_CONFIGS,
};
pub use describe::{
    describe_broker, describe_broker_defaults, describe_topic, ConfigSource, ConfigSynonym,
    DescribedConfig,
};
pub use topic::{
    apply_incremental, validate_topic_overrides, validate_topic_overrides_with, AlterOp,
    CleanupPolicy, CompressionType, TimestampType, TopicConfig,
};
pub use value::{
    parse_value, ConfigError, ConfigValue, HostPort, Listener, INVALID_CONFIG, INVALID_REQUEST,
};
