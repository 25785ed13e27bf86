//! [`TopicConfig`]: the effective configuration of one topic, and the validation of per-topic
//! overrides that CreateTopics, AlterConfigs and IncrementalAlterConfigs apply.
//!
//! A topic config's value is, in order: the topic's own override; else the first of its broker
//! synonyms that is set in any broker layer (per-broker dynamic, cluster-wide dynamic, static),
//! converted to ms for the `.hours`/`.minutes` forms; else the first broker synonym's default;
//! else the topic config's own default. This is Kafka's precedence, e.g. `log.retention.ms` over
//! `log.retention.minutes` over `log.retention.hours` for `retention.ms`.

use super::broker::BrokerConfig;
use super::catalog::{
    self, broker_config, synonym_to_millis_factor, topic_config, ConfigDef, ConfigType,
};
use super::describe::ConfigSource;
use super::value::{canonical_value, parse_list, ConfigError};
use std::collections::BTreeMap;

/// Which timestamp a record batch keeps (`message.timestamp.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampType {
    /// The producer's timestamp.
    CreateTime,
    /// The broker's append time.
    LogAppendTime,
}

/// The codec batches are stored with (`compression.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompressionType {
    Uncompressed,
    Zstd,
    Lz4,
    Snappy,
    Gzip,
    /// Keep the producer's codec.
    Producer,
}

impl CompressionType {
    /// Parses Kafka's name (`uncompressed`, `zstd`, `lz4`, `snappy`, `gzip`, `producer`).
    pub fn from_name(name: &str) -> Option<CompressionType> {
        Some(match name {
            "uncompressed" => CompressionType::Uncompressed,
            "zstd" => CompressionType::Zstd,
            "lz4" => CompressionType::Lz4,
            "snappy" => CompressionType::Snappy,
            "gzip" => CompressionType::Gzip,
            "producer" => CompressionType::Producer,
            _ => return None,
        })
    }

    /// Kafka's name of the codec.
    pub fn name(self) -> &'static str {
        match self {
            CompressionType::Uncompressed => "uncompressed",
            CompressionType::Zstd => "zstd",
            CompressionType::Lz4 => "lz4",
            CompressionType::Snappy => "snappy",
            CompressionType::Gzip => "gzip",
            CompressionType::Producer => "producer",
        }
    }
}

/// How old data is removed (`cleanup.policy`); both false is allowed (keep everything).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CleanupPolicy {
    pub delete: bool,
    pub compact: bool,
}

/// The effective configuration of one topic.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicConfig {
    pub retention_ms: i64,
    pub retention_bytes: i64,
    /// `segment.bytes`, or the internal test-only `internal.segment.bytes` when set.
    pub segment_bytes: i32,
    pub segment_ms: i64,
    pub segment_jitter_ms: i64,
    pub segment_index_bytes: i32,
    pub index_interval_bytes: i32,
    pub max_message_bytes: i32,
    pub message_timestamp_type: TimestampType,
    /// `message.timestamp.before.max.ms`, or the deprecated `message.timestamp.difference.max.ms`
    /// when the former is `Long.MAX`, as Kafka 3.6+ does.
    pub message_timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms`, or the deprecated `message.timestamp.difference.max.ms`
    /// when only the latter is set.
    pub message_timestamp_after_max_ms: i64,
    pub cleanup_policy: CleanupPolicy,
    pub compression_type: CompressionType,
    pub compression_gzip_level: i32,
    pub compression_lz4_level: i32,
    pub compression_zstd_level: i32,
    pub flush_messages: i64,
    pub flush_ms: i64,
    pub min_insync_replicas: i32,
    pub delete_retention_ms: i64,
    pub min_compaction_lag_ms: i64,
    pub max_compaction_lag_ms: i64,
    pub min_cleanable_dirty_ratio: f64,
    pub file_delete_delay_ms: i64,
    pub preallocate: bool,
    pub unclean_leader_election_enable: bool,
    pub remote_storage_enable: bool,
    /// `local.retention.ms` with -2 resolved to `retention_ms`.
    pub local_retention_ms: i64,
    /// `local.retention.bytes` with -2 resolved to `retention_bytes`.
    pub local_retention_bytes: i64,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig::resolve(&BTreeMap::new(), &BrokerConfig::default())
    }
}

impl TopicConfig {
    /// The effective config of a topic with these overrides on this broker. Overrides are
    /// expected to be validated already; one that is not valid is ignored with a warning.
    pub fn resolve(overrides: &BTreeMap<String, String>, broker: &BrokerConfig) -> TopicConfig {
        let value = |name: &str| {
            topic_config(name)
                .and_then(|def| topic_value(def, overrides, broker))
                .unwrap_or_default()
        };
        let text = |name: &str| value(name).0;
        let long = |name: &str| text(name).parse::<i64>().unwrap_or_default();
        let int = |name: &str| text(name).parse::<i32>().unwrap_or_default();
        let boolean = |name: &str| text(name) == "true";

        let segment_bytes = overrides
            .get("internal.segment.bytes")
            .and_then(|raw| valid_override("internal.segment.bytes", raw))
            .and_then(|canonical| canonical.parse().ok())
            .unwrap_or_else(|| int("segment.bytes"));

        let difference = value("message.timestamp.difference.max.ms");
        let difference_set = difference.1 != ConfigSource::DefaultConfig;
        let difference = difference.0.parse::<i64>().unwrap_or(i64::MAX);
        let before = long("message.timestamp.before.max.ms");
        let before = if before == i64::MAX {
            difference
        } else {
            before
        };
        let after = value("message.timestamp.after.max.ms");
        let after = if after.1 == ConfigSource::DefaultConfig && difference_set {
            difference
        } else {
            after.0.parse().unwrap_or_default()
        };

        let policies = parse_list(&text("cleanup.policy"));
        let retention_ms = long("retention.ms");
        let retention_bytes = long("retention.bytes");
        let local = |name: &str, fallback: i64| match long(name) {
            -2 => fallback,
            other => other,
        };

        TopicConfig {
            retention_ms,
            retention_bytes,
            segment_bytes,
            segment_ms: long("segment.ms"),
            segment_jitter_ms: long("segment.jitter.ms"),
            segment_index_bytes: int("segment.index.bytes"),
            index_interval_bytes: int("index.interval.bytes"),
            max_message_bytes: int("max.message.bytes"),
            message_timestamp_type: if text("message.timestamp.type") == "LogAppendTime" {
                TimestampType::LogAppendTime
            } else {
                TimestampType::CreateTime
            },
            message_timestamp_before_max_ms: before,
            message_timestamp_after_max_ms: after,
            cleanup_policy: CleanupPolicy {
                delete: policies.iter().any(|p| p == "delete"),
                compact: policies.iter().any(|p| p == "compact"),
            },
            compression_type: CompressionType::from_name(&text("compression.type"))
                .unwrap_or(CompressionType::Producer),
            compression_gzip_level: int("compression.gzip.level"),
            compression_lz4_level: int("compression.lz4.level"),
            compression_zstd_level: int("compression.zstd.level"),
            flush_messages: long("flush.messages"),
            flush_ms: long("flush.ms"),
            min_insync_replicas: int("min.insync.replicas"),
            delete_retention_ms: long("delete.retention.ms"),
            min_compaction_lag_ms: long("min.compaction.lag.ms"),
            max_compaction_lag_ms: long("max.compaction.lag.ms"),
            min_cleanable_dirty_ratio: text("min.cleanable.dirty.ratio").parse().unwrap_or(0.5),
            file_delete_delay_ms: long("file.delete.delay.ms"),
            preallocate: boolean("preallocate"),
            unclean_leader_election_enable: boolean("unclean.leader.election.enable"),
            remote_storage_enable: boolean("remote.storage.enable"),
            local_retention_ms: local("local.retention.ms", retention_ms),
            local_retention_bytes: local("local.retention.bytes", retention_bytes),
        }
    }

    /// The age at which the active segment rolls: `segment.ms`, capped by
    /// `max.compaction.lag.ms` on compacted topics (as Kafka's `LogConfig.maxSegmentMs`).
    pub fn max_segment_ms(&self) -> i64 {
        if self.cleanup_policy.compact && self.max_compaction_lag_ms > 0 {
            self.max_compaction_lag_ms.min(self.segment_ms)
        } else {
            self.segment_ms
        }
    }
}

fn valid_override(name: &str, raw: &str) -> Option<String> {
    let def = topic_config(name)?;
    match canonical_value(def, raw) {
        Ok(canonical) => Some(canonical),
        Err(error) => {
            tracing::warn!(%error, "ignoring invalid topic config override");
            None
        }
    }
}

/// The effective value of topic config `def` in canonical form, with its source (the source a
/// broker synonym was found in, `DefaultConfig` for defaults).
pub(crate) fn topic_value(
    def: &ConfigDef,
    overrides: &BTreeMap<String, String>,
    broker: &BrokerConfig,
) -> Option<(String, ConfigSource)> {
    if let Some(canonical) = overrides
        .get(def.name)
        .and_then(|raw| valid_override(def.name, raw))
    {
        return Some((canonical, ConfigSource::DynamicTopicConfig));
    }
    let synonyms = def.broker_synonyms();
    if let Some((value, source)) = synonyms.iter().find_map(|synonym| {
        broker
            .explicit(synonym)
            .map(|(value, source)| (to_millis(synonym, value), source))
    }) {
        return Some((value, source));
    }
    if let Some(value) = synonyms.iter().find_map(|synonym| {
        broker_config(synonym)
            .and_then(|d| d.default)
            .map(|d| to_millis(synonym, d))
    }) {
        return Some((value, ConfigSource::DefaultConfig));
    }
    def.default
        .map(|default| (default.to_string(), ConfigSource::DefaultConfig))
}

/// Converts an `.hours`/`.minutes` broker synonym to ms; a negative result means -1 (unlimited).
fn to_millis(synonym: &str, value: &str) -> String {
    let factor = synonym_to_millis_factor(synonym);
    if factor == 1 {
        return value.to_string();
    }
    match value.parse::<i64>() {
        Ok(n) => n.saturating_mul(factor).max(-1).to_string(),
        Err(_) => value.to_string(),
    }
}

/// Validates topic overrides against Strom's defaults; see [`validate_topic_overrides_with`].
pub fn validate_topic_overrides(overrides: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    validate_topic_overrides_with(overrides, &BrokerConfig::default())
}

/// Validates topic overrides as Kafka does for CreateTopics and (Incremental)AlterConfigs: every
/// name must be a topic config (`Unknown topic config name: x`), every value must parse and pass
/// its validator, and the resulting config must be consistent with `broker`'s values
/// (min vs max compaction lag; tiered storage, which Strom does not support, refused). All
/// errors are `INVALID_CONFIG` (40).
pub fn validate_topic_overrides_with(
    overrides: &BTreeMap<String, String>,
    broker: &BrokerConfig,
) -> Result<(), ConfigError> {
    let mut defs = Vec::with_capacity(overrides.len());
    for name in overrides.keys() {
        let def = topic_config(name).ok_or_else(|| ConfigError::UnknownTopicConfig {
            name: name.clone(),
            suggestion: catalog::suggest_topic_name(name),
        })?;
        defs.push(def);
    }
    for (def, raw) in defs.iter().zip(overrides.values()) {
        canonical_value(def, raw)?;
    }
    let config = TopicConfig::resolve(overrides, broker);
    if config.min_compaction_lag_ms > config.max_compaction_lag_ms {
        return Err(ConfigError::Conflict {
            message: format!(
                "conflict topic config setting min.compaction.lag.ms ({}) > max.compaction.lag.ms ({})",
                config.min_compaction_lag_ms, config.max_compaction_lag_ms
            ),
        });
    }
    if config.remote_storage_enable {
        return Err(ConfigError::Conflict {
            message: "Tiered Storage functionality is disabled in the broker. Topic cannot be \
                      configured with remote log storage."
                .to_string(),
        });
    }
    Ok(())
}

/// An IncrementalAlterConfigs operation (Kafka's `AlterConfigOp.OpType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlterOp {
    Set,
    Delete,
    Append,
    Subtract,
}

impl AlterOp {
    /// The operation for a wire code (0 set, 1 delete, 2 append, 3 subtract).
    pub fn from_code(code: i8) -> Option<AlterOp> {
        Some(match code {
            0 => AlterOp::Set,
            1 => AlterOp::Delete,
            2 => AlterOp::Append,
            3 => AlterOp::Subtract,
            _ => return None,
        })
    }
}

/// Applies IncrementalAlterConfigs operations to a topic's overrides and returns the new
/// overrides (validate them with [`validate_topic_overrides_with`] before storing). APPEND and
/// SUBTRACT work on list configs only (otherwise `InvalidRequest`, 42, as Kafka); they start from
/// the current override or the topic config's default, APPEND skipping items already present.
pub fn apply_incremental(
    current: &BTreeMap<String, String>,
    ops: &[(&str, AlterOp, Option<&str>)],
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut next = current.clone();
    for (name, op, value) in ops {
        let value = value.unwrap_or_default();
        match op {
            AlterOp::Set => {
                next.insert((*name).to_string(), value.to_string());
            }
            AlterOp::Delete => {
                next.remove(*name);
            }
            AlterOp::Append | AlterOp::Subtract => {
                let def = topic_config(name).ok_or_else(|| ConfigError::UnknownTopicConfig {
                    name: (*name).to_string(),
                    suggestion: catalog::suggest_topic_name(name),
                })?;
                let verb = if *op == AlterOp::Append {
                    "append"
                } else {
                    "subtract"
                };
                if def.config_type != ConfigType::List {
                    return Err(ConfigError::InvalidRequest {
                        message: format!(
                            "Config value {verb} is not allowed for config key: {name}"
                        ),
                    });
                }
                let old = next
                    .get(*name)
                    .map(String::as_str)
                    .or(def.default)
                    .unwrap_or_default();
                let mut items = parse_list(old);
                let given = parse_list(value);
                if *op == AlterOp::Append {
                    for item in given {
                        if !items.contains(&item) {
                            items.push(item);
                        }
                    }
                } else {
                    items.retain(|item| !given.contains(item));
                }
                next.insert((*name).to_string(), items.join(","));
            }
        }
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::broker::DynamicLevel;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn broker(sets: &[&str]) -> BrokerConfig {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        BrokerConfig::load(None, &sets).expect("valid broker config")
    }

    #[test]
    fn defaults_match_kafka() {
        let config = TopicConfig::default();
        assert_eq!(config.retention_ms, 604_800_000);
        assert_eq!(config.retention_bytes, -1);
        assert_eq!(config.segment_bytes, 1_073_741_824);
        assert_eq!(config.segment_ms, 604_800_000);
        assert_eq!(config.segment_index_bytes, 10_485_760);
        assert_eq!(config.index_interval_bytes, 4096);
        assert_eq!(config.max_message_bytes, 1_048_588);
        assert_eq!(config.message_timestamp_type, TimestampType::CreateTime);
        assert_eq!(config.message_timestamp_before_max_ms, i64::MAX);
        assert_eq!(config.message_timestamp_after_max_ms, 3_600_000);
        assert_eq!(
            config.cleanup_policy,
            CleanupPolicy {
                delete: true,
                compact: false
            }
        );
        assert_eq!(config.compression_type, CompressionType::Producer);
        assert_eq!(config.flush_messages, i64::MAX);
        assert_eq!(config.flush_ms, i64::MAX);
        assert_eq!(config.min_insync_replicas, 1);
        assert_eq!(config.delete_retention_ms, 86_400_000);
        assert_eq!(config.min_compaction_lag_ms, 0);
        assert_eq!(config.max_compaction_lag_ms, i64::MAX);
        assert!((config.min_cleanable_dirty_ratio - 0.5).abs() < f64::EPSILON);
        assert_eq!(config.local_retention_ms, 604_800_000);
        assert_eq!(config.local_retention_bytes, -1);
        assert_eq!(config.compression_gzip_level, -1);
        assert!(!config.preallocate);
    }

    #[test]
    fn precedence_override_dynamic_static_default() {
        let mut broker = broker(&["log.retention.hours=48"]);
        let none = BTreeMap::new();
        assert_eq!(
            TopicConfig::resolve(&none, &broker).retention_ms,
            48 * 3_600_000
        );

        broker
            .set_dynamic("log.retention.ms", Some("7000"))
            .expect("dynamic");
        assert_eq!(TopicConfig::resolve(&none, &broker).retention_ms, 7000);

        broker
            .set_dynamic_at(DynamicLevel::Broker, "log.retention.ms", Some("8000"))
            .expect("dynamic");
        assert_eq!(TopicConfig::resolve(&none, &broker).retention_ms, 8000);

        let overrides = map(&[("retention.ms", "9000")]);
        assert_eq!(TopicConfig::resolve(&overrides, &broker).retention_ms, 9000);
    }

    #[test]
    fn broker_synonyms_feed_topic_values() {
        let broker = broker(&[
            "log.roll.hours=2",
            "message.max.bytes=5000",
            "log.cleanup.policy=compact",
            "compression.type=zstd",
            "log.flush.scheduler.interval.ms=1000",
            "log.message.timestamp.type=LogAppendTime",
            "log.segment.bytes=2097152",
        ]);
        let config = TopicConfig::resolve(&BTreeMap::new(), &broker);
        assert_eq!(config.segment_ms, 7_200_000);
        assert_eq!(config.max_message_bytes, 5000);
        assert!(config.cleanup_policy.compact && !config.cleanup_policy.delete);
        assert_eq!(config.compression_type, CompressionType::Zstd);
        assert_eq!(
            config.flush_ms, 1000,
            "scheduler interval backs log.flush.interval.ms"
        );
        assert_eq!(config.message_timestamp_type, TimestampType::LogAppendTime);
        assert_eq!(config.segment_bytes, 2_097_152);
    }

    #[test]
    fn minutes_beat_hours_and_ms_beats_both() {
        let minutes = broker(&["log.retention.hours=1", "log.retention.minutes=3"]);
        assert_eq!(
            TopicConfig::resolve(&BTreeMap::new(), &minutes).retention_ms,
            180_000
        );
        let ms = broker(&[
            "log.retention.hours=1",
            "log.retention.minutes=3",
            "log.retention.ms=42",
        ]);
        assert_eq!(TopicConfig::resolve(&BTreeMap::new(), &ms).retention_ms, 42);
        let unlimited = broker(&["log.retention.hours=-1"]);
        assert_eq!(
            TopicConfig::resolve(&BTreeMap::new(), &unlimited).retention_ms,
            -1
        );
    }

    #[test]
    fn internal_segment_bytes_wins() {
        let overrides = map(&[
            ("internal.segment.bytes", "1024"),
            ("segment.bytes", "2097152"),
        ]);
        assert!(validate_topic_overrides(&overrides).is_ok());
        let config = TopicConfig::resolve(&overrides, &BrokerConfig::default());
        assert_eq!(config.segment_bytes, 1024);
    }

    #[test]
    fn timestamp_difference_fallback() {
        let overrides = map(&[("message.timestamp.difference.max.ms", "5000")]);
        let config = TopicConfig::resolve(&overrides, &BrokerConfig::default());
        assert_eq!(config.message_timestamp_before_max_ms, 5000);
        assert_eq!(config.message_timestamp_after_max_ms, 5000);
        let overrides = map(&[
            ("message.timestamp.difference.max.ms", "5000"),
            ("message.timestamp.after.max.ms", "100"),
            ("message.timestamp.before.max.ms", "200"),
        ]);
        let config = TopicConfig::resolve(&overrides, &BrokerConfig::default());
        assert_eq!(config.message_timestamp_before_max_ms, 200);
        assert_eq!(config.message_timestamp_after_max_ms, 100);
    }

    #[test]
    fn invalid_override_is_ignored_when_resolving() {
        let overrides = map(&[("retention.ms", "soon")]);
        assert_eq!(
            TopicConfig::resolve(&overrides, &BrokerConfig::default()).retention_ms,
            604_800_000
        );
    }

    #[test]
    fn validation_messages() {
        let error = validate_topic_overrides(&map(&[("segment.bytes", "-5")])).expect_err("bad");
        assert_eq!(
            error.to_string(),
            "Invalid value -5 for configuration segment.bytes: Value must be at least 1048576"
        );
        assert_eq!(error.kafka_error_code(), 40);

        let error =
            validate_topic_overrides(&map(&[("log.retention.ms", "5")])).expect_err("broker name");
        assert_eq!(
            error.to_string(),
            "Unknown topic config name: log.retention.ms (did you mean retention.ms?)"
        );
        assert_eq!(error.kafka_error_code(), 40);

        let error = validate_topic_overrides(&map(&[("cleanup.policy", "delete,archive")]))
            .expect_err("bad list");
        assert_eq!(
            error.to_string(),
            "Invalid value archive for configuration cleanup.policy: String must be one of: compact, delete"
        );

        let error = validate_topic_overrides(&map(&[
            ("min.compaction.lag.ms", "10"),
            ("max.compaction.lag.ms", "5"),
        ]))
        .expect_err("conflict");
        assert_eq!(
            error.to_string(),
            "conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)"
        );

        let error = validate_topic_overrides(&map(&[("remote.storage.enable", "true")]))
            .expect_err("tiered");
        assert_eq!(error.kafka_error_code(), 40);
        assert!(validate_topic_overrides(&map(&[("remote.storage.enable", "false")])).is_ok());

        assert!(validate_topic_overrides(&map(&[
            ("retention.ms", "-1"),
            ("cleanup.policy", "compact,delete"),
            ("message.timestamp.type", "LogAppendTime"),
            ("message.downconversion.enable", "false"),
        ]))
        .is_ok());
    }

    #[test]
    fn validation_against_broker_values() {
        let broker = broker(&["log.cleaner.max.compaction.lag.ms=1000"]);
        let overrides = map(&[("min.compaction.lag.ms", "2000")]);
        assert!(validate_topic_overrides(&overrides).is_ok());
        assert!(validate_topic_overrides_with(&overrides, &broker).is_err());
    }

    #[test]
    fn incremental_operations() {
        let current = map(&[("retention.ms", "1000")]);
        let next = apply_incremental(
            &current,
            &[
                ("cleanup.policy", AlterOp::Append, Some("compact")),
                ("retention.ms", AlterOp::Delete, None),
                ("segment.ms", AlterOp::Set, Some("60000")),
            ],
        )
        .expect("valid");
        assert_eq!(
            next,
            map(&[
                ("cleanup.policy", "delete,compact"),
                ("segment.ms", "60000")
            ])
        );

        let next = apply_incremental(
            &next,
            &[
                ("cleanup.policy", AlterOp::Append, Some("compact")),
                ("cleanup.policy", AlterOp::Subtract, Some("delete")),
            ],
        )
        .expect("valid");
        assert_eq!(
            next.get("cleanup.policy").map(String::as_str),
            Some("compact")
        );

        let error = apply_incremental(&current, &[("retention.ms", AlterOp::Append, Some("1"))])
            .expect_err("not a list");
        assert_eq!(
            error.to_string(),
            "Config value append is not allowed for config key: retention.ms"
        );
        assert_eq!(error.kafka_error_code(), 42);
        let error = apply_incremental(&current, &[("nope", AlterOp::Subtract, Some("1"))])
            .expect_err("unknown");
        assert_eq!(error.kafka_error_code(), 40);
        assert_eq!(AlterOp::from_code(2), Some(AlterOp::Append));
        assert_eq!(AlterOp::from_code(9), None);
    }

    #[test]
    fn max_segment_ms_caps_compacted_topics() {
        let overrides = map(&[
            ("cleanup.policy", "compact"),
            ("max.compaction.lag.ms", "1000"),
        ]);
        assert_eq!(
            TopicConfig::resolve(&overrides, &BrokerConfig::default()).max_segment_ms(),
            1000
        );
        assert_eq!(TopicConfig::default().max_segment_ms(), 604_800_000);
    }
}
