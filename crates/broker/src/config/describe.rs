//! What DescribeConfigs reports for a topic or a broker: each config's value, where the value
//! comes from ([`ConfigSource`], Kafka's numeric codes) and, on request, its synonyms and doc.
//!
//! Synonyms are listed as Kafka lists them: for a topic, its own override first; then the broker
//! synonyms grouped by source (per-broker dynamic, cluster-wide dynamic, static, default), each
//! group in the synonyms' precedence order. The reported source is that of the first synonym.

use super::broker::BrokerConfig;
use super::catalog::{
    broker_config, broker_synonym_group, ConfigDef, BROKER_CONFIGS, TOPIC_CONFIGS,
};
use super::topic::topic_value;
use super::value::canonical_value;
use std::collections::BTreeMap;

/// Where a config value comes from (Kafka's `DescribeConfigsResponse.ConfigSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ConfigSource {
    #[default]
    Unknown,
    /// A topic's own override.
    DynamicTopicConfig,
    /// A dynamic value for this broker.
    DynamicBrokerConfig,
    /// A dynamic value for every broker of the cluster.
    DynamicDefaultBrokerConfig,
    /// The broker's config file or flags.
    StaticBrokerConfig,
    /// The built-in default.
    DefaultConfig,
    /// A dynamic broker logger level (unused by Strom).
    DynamicBrokerLoggerConfig,
}

impl ConfigSource {
    /// Kafka's wire code.
    pub const fn code(self) -> i8 {
        match self {
            ConfigSource::Unknown => 0,
            ConfigSource::DynamicTopicConfig => 1,
            ConfigSource::DynamicBrokerConfig => 2,
            ConfigSource::DynamicDefaultBrokerConfig => 3,
            ConfigSource::StaticBrokerConfig => 4,
            ConfigSource::DefaultConfig => 5,
            ConfigSource::DynamicBrokerLoggerConfig => 6,
        }
    }

    /// The source for a wire code.
    pub const fn from_code(code: i8) -> Option<ConfigSource> {
        Some(match code {
            0 => ConfigSource::Unknown,
            1 => ConfigSource::DynamicTopicConfig,
            2 => ConfigSource::DynamicBrokerConfig,
            3 => ConfigSource::DynamicDefaultBrokerConfig,
            4 => ConfigSource::StaticBrokerConfig,
            5 => ConfigSource::DefaultConfig,
            6 => ConfigSource::DynamicBrokerLoggerConfig,
            _ => return None,
        })
    }
}

/// One synonym of a described config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSynonym {
    pub name: String,
    /// `None` for sensitive configs.
    pub value: Option<String>,
    pub source: ConfigSource,
}

/// One entry of a DescribeConfigs result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedConfig {
    pub name: String,
    /// `None` for sensitive configs and for unset configs without default.
    pub value: Option<String>,
    pub read_only: bool,
    pub source: ConfigSource,
    pub is_sensitive: bool,
    /// Kafka's DescribeConfigs type code (BOOLEAN 1 … PASSWORD 9).
    pub config_type: i8,
    pub documentation: Option<String>,
    /// Empty unless synonyms were asked for.
    pub synonyms: Vec<ConfigSynonym>,
}

/// Every (non-internal) topic config of a topic with `overrides` on `broker`, sorted by name.
pub fn describe_topic(
    overrides: &BTreeMap<String, String>,
    broker: &BrokerConfig,
    include_synonyms: bool,
    include_docs: bool,
) -> Vec<DescribedConfig> {
    TOPIC_CONFIGS
        .iter()
        .filter(|def| !def.internal)
        .map(|def| {
            let sensitive = def.is_sensitive();
            let mut synonyms = Vec::new();
            if let Some(canonical) = overrides
                .get(def.name)
                .and_then(|raw| canonical_value(def, raw).ok())
            {
                synonyms.push(ConfigSynonym {
                    name: def.name.to_string(),
                    value: (!sensitive).then_some(canonical),
                    source: ConfigSource::DynamicTopicConfig,
                });
            }
            synonyms.extend(broker_synonyms(def.broker_synonyms(), broker, sensitive));
            let value = topic_value(def, overrides, broker).map(|(value, _)| value);
            entry(def, value, false, synonyms, include_synonyms, include_docs)
        })
        .collect()
}

/// Every broker config as this broker's resource (named by its node id) reports it, sorted by
/// name; configs that are not dynamic are read-only.
pub fn describe_broker(
    broker: &BrokerConfig,
    include_synonyms: bool,
    include_docs: bool,
) -> Vec<DescribedConfig> {
    BROKER_CONFIGS
        .iter()
        .filter(|def| !def.internal)
        .map(|def| {
            let group = broker_synonym_group(def.name);
            let synonyms = broker_synonyms(&group, broker, def.is_sensitive());
            let value = broker.get(def.name).map(|(value, _)| value);
            entry(
                def,
                value,
                !def.is_dynamic(),
                synonyms,
                include_synonyms,
                include_docs,
            )
        })
        .collect()
}

/// The cluster-wide default broker resource (empty name): only the configs set dynamically at
/// that level, with only synonyms from that level, as Kafka reports it.
pub fn describe_broker_defaults(
    broker: &BrokerConfig,
    include_synonyms: bool,
    include_docs: bool,
) -> Vec<DescribedConfig> {
    let Some(layer) = broker.layer(ConfigSource::DynamicDefaultBrokerConfig) else {
        return Vec::new();
    };
    layer
        .iter()
        .filter_map(|(name, value)| {
            let def = broker_config(name)?;
            let group = broker_synonym_group(def.name);
            let synonyms: Vec<ConfigSynonym> = broker_synonyms(&group, broker, def.is_sensitive())
                .into_iter()
                .filter(|synonym| synonym.source == ConfigSource::DynamicDefaultBrokerConfig)
                .collect();
            Some(entry(
                def,
                Some(value.clone()),
                !def.is_dynamic(),
                synonyms,
                include_synonyms,
                include_docs,
            ))
        })
        .collect()
}

/// The broker-layer synonyms of `names`, grouped by source in Kafka's order, then defaults.
fn broker_synonyms(names: &[&str], broker: &BrokerConfig, sensitive: bool) -> Vec<ConfigSynonym> {
    let mut synonyms = Vec::new();
    for source in [
        ConfigSource::DynamicBrokerConfig,
        ConfigSource::DynamicDefaultBrokerConfig,
        ConfigSource::StaticBrokerConfig,
    ] {
        let Some(layer) = broker.layer(source) else {
            continue;
        };
        for name in names {
            if let Some(value) = layer.get(*name) {
                synonyms.push(ConfigSynonym {
                    name: (*name).to_string(),
                    value: (!sensitive).then(|| value.clone()),
                    source,
                });
            }
        }
    }
    for name in names {
        if let Some(default) = broker_config(name).and_then(|def| def.default) {
            synonyms.push(ConfigSynonym {
                name: (*name).to_string(),
                value: (!sensitive).then(|| default.to_string()),
                source: ConfigSource::DefaultConfig,
            });
        }
    }
    synonyms
}

fn entry(
    def: &ConfigDef,
    value: Option<String>,
    read_only: bool,
    synonyms: Vec<ConfigSynonym>,
    include_synonyms: bool,
    include_docs: bool,
) -> DescribedConfig {
    let sensitive = def.is_sensitive();
    DescribedConfig {
        name: def.name.to_string(),
        value: if sensitive { None } else { value },
        read_only,
        source: synonyms
            .first()
            .map_or(ConfigSource::DefaultConfig, |synonym| synonym.source),
        is_sensitive: sensitive,
        config_type: def.config_type.describe_code(),
        documentation: include_docs.then(|| def.doc.to_string()),
        synonyms: if include_synonyms {
            synonyms
        } else {
            Vec::new()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::broker::DynamicLevel;

    fn find<'a>(entries: &'a [DescribedConfig], name: &str) -> &'a DescribedConfig {
        entries
            .iter()
            .find(|entry| entry.name == name)
            .unwrap_or_else(|| panic!("{name} described"))
    }

    fn synonyms(entry: &DescribedConfig) -> Vec<(String, Option<String>, i8)> {
        entry
            .synonyms
            .iter()
            .map(|s| (s.name.clone(), s.value.clone(), s.source.code()))
            .collect()
    }

    fn syn(name: &str, value: &str, code: i8) -> (String, Option<String>, i8) {
        (name.to_string(), Some(value.to_string()), code)
    }

    #[test]
    fn source_codes() {
        assert_eq!(ConfigSource::DynamicTopicConfig.code(), 1);
        assert_eq!(ConfigSource::DynamicDefaultBrokerConfig.code(), 3);
        assert_eq!(ConfigSource::DefaultConfig.code(), 5);
        assert_eq!(
            ConfigSource::from_code(4),
            Some(ConfigSource::StaticBrokerConfig)
        );
        assert_eq!(ConfigSource::from_code(7), None);
    }

    #[test]
    fn topic_defaults() {
        let entries = describe_topic(&BTreeMap::new(), &BrokerConfig::default(), true, true);
        assert_eq!(
            entries.len(),
            TOPIC_CONFIGS.len() - 1,
            "internal config hidden"
        );
        let retention = find(&entries, "retention.ms");
        assert_eq!(retention.value.as_deref(), Some("604800000"));
        assert_eq!(retention.source, ConfigSource::DefaultConfig);
        assert!(!retention.read_only);
        assert_eq!(retention.config_type, 5);
        assert!(retention.documentation.is_some());
        assert_eq!(
            synonyms(retention),
            vec![syn("log.retention.hours", "168", 5)],
            "only the synonym with a default is listed"
        );
        let remote = find(&entries, "remote.storage.enable");
        assert_eq!(remote.source, ConfigSource::DefaultConfig);
        assert!(remote.synonyms.is_empty());
        assert_eq!(
            find(&entries, "min.cleanable.dirty.ratio").value.as_deref(),
            Some("0.5")
        );
        assert_eq!(find(&entries, "cleanup.policy").config_type, 7);
    }

    #[test]
    fn topic_sources_and_synonym_order() {
        let sets: Vec<String> = vec![
            "log.retention.hours=24".into(),
            "log.retention.minutes=90".into(),
        ];
        let mut broker = BrokerConfig::load(None, &sets).expect("valid");
        let none = BTreeMap::new();

        let entries = describe_topic(&none, &broker, true, false);
        let retention = find(&entries, "retention.ms");
        assert_eq!(retention.value.as_deref(), Some("5400000"));
        assert_eq!(retention.source, ConfigSource::StaticBrokerConfig);
        assert_eq!(
            synonyms(retention),
            vec![
                syn("log.retention.minutes", "90", 4),
                syn("log.retention.hours", "24", 4),
                syn("log.retention.hours", "168", 5),
            ]
        );
        assert!(retention.documentation.is_none());

        broker
            .set_dynamic("log.retention.ms", Some("60000"))
            .expect("dynamic");
        let entries = describe_topic(&none, &broker, true, false);
        let retention = find(&entries, "retention.ms");
        assert_eq!(retention.value.as_deref(), Some("60000"));
        assert_eq!(retention.source, ConfigSource::DynamicDefaultBrokerConfig);
        assert_eq!(synonyms(retention)[0], syn("log.retention.ms", "60000", 3));

        let overrides: BTreeMap<String, String> =
            [("retention.ms".to_string(), "1234".to_string())].into();
        let entries = describe_topic(&overrides, &broker, true, false);
        let retention = find(&entries, "retention.ms");
        assert_eq!(retention.value.as_deref(), Some("1234"));
        assert_eq!(retention.source, ConfigSource::DynamicTopicConfig);
        assert_eq!(
            synonyms(retention),
            vec![
                syn("retention.ms", "1234", 1),
                syn("log.retention.ms", "60000", 3),
                syn("log.retention.minutes", "90", 4),
                syn("log.retention.hours", "24", 4),
                syn("log.retention.hours", "168", 5),
            ]
        );

        let without = describe_topic(&overrides, &broker, false, false);
        let retention = find(&without, "retention.ms");
        assert!(retention.synonyms.is_empty());
        assert_eq!(
            retention.source,
            ConfigSource::DynamicTopicConfig,
            "source kept"
        );
    }

    #[test]
    fn flush_ms_lists_the_scheduler_interval() {
        let entries = describe_topic(&BTreeMap::new(), &BrokerConfig::default(), true, false);
        let flush = find(&entries, "flush.ms");
        assert_eq!(
            synonyms(flush),
            vec![syn(
                "log.flush.scheduler.interval.ms",
                "9223372036854775807",
                5
            )]
        );
    }

    #[test]
    fn broker_entries() {
        let sets: Vec<String> = vec!["num.partitions=3".into(), "log.retention.ms=1000".into()];
        let mut broker = BrokerConfig::load(None, &sets).expect("valid");
        broker
            .set_dynamic_at(DynamicLevel::Broker, "message.max.bytes", Some("2000000"))
            .expect("dynamic");
        broker
            .set_dynamic("message.max.bytes", Some("1500000"))
            .expect("dynamic");
        let entries = describe_broker(&broker, true, true);
        assert_eq!(entries.len(), BROKER_CONFIGS.len());

        let partitions = find(&entries, "num.partitions");
        assert_eq!(partitions.value.as_deref(), Some("3"));
        assert_eq!(partitions.source, ConfigSource::StaticBrokerConfig);
        assert!(partitions.read_only);
        assert_eq!(
            synonyms(partitions),
            vec![syn("num.partitions", "3", 4), syn("num.partitions", "1", 5)]
        );

        let max = find(&entries, "message.max.bytes");
        assert_eq!(max.value.as_deref(), Some("2000000"));
        assert_eq!(max.source, ConfigSource::DynamicBrokerConfig);
        assert!(!max.read_only);
        assert_eq!(
            synonyms(max),
            vec![
                syn("message.max.bytes", "2000000", 2),
                syn("message.max.bytes", "1500000", 3),
                syn("message.max.bytes", "1048588", 5),
            ]
        );

        // Kafka's quirk: log.retention.hours reports the source of its family's first synonym.
        let hours = find(&entries, "log.retention.hours");
        assert_eq!(hours.value.as_deref(), Some("168"));
        assert_eq!(hours.source, ConfigSource::StaticBrokerConfig);

        let unset = find(&entries, "advertised.listeners");
        assert_eq!(unset.value, None);
        assert_eq!(unset.source, ConfigSource::DefaultConfig);
        assert!(unset.synonyms.is_empty());

        let defaults = describe_broker_defaults(&broker, true, false);
        assert_eq!(defaults.len(), 1);
        assert_eq!(defaults[0].name, "message.max.bytes");
        assert_eq!(defaults[0].value.as_deref(), Some("1500000"));
        assert_eq!(defaults[0].source, ConfigSource::DynamicDefaultBrokerConfig);
        assert_eq!(
            synonyms(&defaults[0]),
            vec![syn("message.max.bytes", "1500000", 3)]
        );
    }
}
