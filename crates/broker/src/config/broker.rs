//! [`BrokerConfig`]: the broker's configuration, in layers. Static values come from the config file
//! and `--set name=value` flags (and the binary's own flags through [`BrokerConfig::set_static`]);
//! dynamic values come from AlterConfigs on a broker resource, either cluster-wide (the resource
//! with an empty name) or for this broker (the resource named by its id). A lookup takes the
//! first layer that has the name: per-broker dynamic, cluster-wide dynamic, static, default.
//!
//! The config file is TOML whose keys are Kafka's dotted names, quoted (`"log.retention.ms" =
//! 1`) or bare (`log.retention.ms = 1`, which TOML reads as nested tables; they are flattened back
//! with dots). Values may be strings, integers, floats, booleans or arrays (joined by commas for
//! list configs). A file whose name ends in `.properties` is read as Kafka's `server.properties`
//! format instead. All values are stored in Kafka's canonical string form.

use super::catalog::{self, broker_config, ConfigDef};
use super::describe::ConfigSource;
use super::value::{canonical_value, parse_list, ConfigError, HostPort, Listener};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which dynamic layer an AlterConfigs on a broker resource changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DynamicLevel {
    /// The cluster-wide default: the broker resource with an empty name
    /// (reported as `DYNAMIC_DEFAULT_BROKER_CONFIG`).
    ClusterDefault,
    /// This broker: the broker resource named by its node id (`DYNAMIC_BROKER_CONFIG`).
    Broker,
}

/// The broker's configuration: static values, dynamic overrides, and typed accessors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerConfig {
    static_values: BTreeMap<String, String>,
    dynamic_default: BTreeMap<String, String>,
    dynamic_broker: BTreeMap<String, String>,
}

impl BrokerConfig {
    /// Loads the config file (if any), then applies `sets` (each `name=value`, overriding the
    /// file). Unknown names, bad values and inconsistent settings are errors.
    pub fn load(file: Option<&Path>, sets: &[String]) -> Result<BrokerConfig, ConfigError> {
        let mut config = BrokerConfig::default();
        if let Some(path) = file {
            let file_error = |message: String| ConfigError::File {
                path: path.to_path_buf(),
                message,
            };
            let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
            let entries = if path.extension().is_some_and(|ext| ext == "properties") {
                parse_properties(&text)
            } else {
                parse_toml(&text).map_err(file_error)?
            };
            config.apply_entries(entries, path)?;
        }
        for setting in sets {
            let (name, value) =
                setting
                    .split_once('=')
                    .ok_or_else(|| ConfigError::MalformedSetting {
                        setting: setting.clone(),
                    })?;
            config.insert_static(name.trim(), value)?;
        }
        config.check_consistency()?;
        Ok(config)
    }

    /// Builds a config from TOML text alone (as [`BrokerConfig::load`] would from a file).
    pub fn from_toml_str(text: &str) -> Result<BrokerConfig, ConfigError> {
        let path = Path::new("<toml>");
        let entries = parse_toml(text).map_err(|message| ConfigError::File {
            path: path.to_path_buf(),
            message,
        })?;
        let mut config = BrokerConfig::default();
        config.apply_entries(entries, path)?;
        config.check_consistency()?;
        Ok(config)
    }

    fn apply_entries(
        &mut self,
        entries: Vec<(String, String)>,
        path: &Path,
    ) -> Result<(), ConfigError> {
        let mut seen = std::collections::BTreeSet::new();
        for (name, value) in entries {
            if !seen.insert(name.clone()) {
                return Err(ConfigError::Duplicate {
                    name,
                    path: path.to_path_buf(),
                });
            }
            self.insert_static(&name, &value)?;
        }
        Ok(())
    }

    /// Sets a static value, as the config file or a flag would (the binary maps `--data-dir` to
    /// `log.dirs`, `--listen` to `listeners`, `--advertise` to `advertised.listeners`).
    pub fn set_static(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let before = self.static_values.clone();
        self.insert_static(name, value)?;
        if let Err(error) = self.check_consistency() {
            self.static_values = before;
            return Err(error);
        }
        Ok(())
    }

    fn insert_static(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let def = known(name)?;
        let canonical = canonical_value(def, value)?;
        self.static_values.insert(def.name.to_string(), canonical);
        Ok(())
    }

    /// Sets (`Some`) or removes (`None`) a cluster-wide dynamic value; see
    /// [`BrokerConfig::apply_dynamic`].
    pub fn set_dynamic(&mut self, name: &str, value: Option<&str>) -> Result<(), ConfigError> {
        self.apply_dynamic(DynamicLevel::ClusterDefault, &[(name, value)])
    }

    /// Sets or removes one dynamic value at `level`; see [`BrokerConfig::apply_dynamic`].
    pub fn set_dynamic_at(
        &mut self,
        level: DynamicLevel,
        name: &str,
        value: Option<&str>,
    ) -> Result<(), ConfigError> {
        self.apply_dynamic(level, &[(name, value)])
    }

    /// Applies several dynamic changes at `level` all or nothing, as IncrementalAlterConfigs
    /// does for one broker resource: `Some` sets, `None` removes. Setting an unknown name is
    /// `UnknownConfig` (40); setting configs that are not dynamic is `NotDynamic` naming all of
    /// them (Kafka's `INVALID_REQUEST`, 42); a bad value is `InvalidValue` (40). Removing never
    /// fails.
    pub fn apply_dynamic(
        &mut self,
        level: DynamicLevel,
        changes: &[(&str, Option<&str>)],
    ) -> Result<(), ConfigError> {
        let mut layer = self.dynamic_layer(level).clone();
        let sets: Vec<(&str, &str)> = changes
            .iter()
            .filter_map(|(name, value)| value.map(|value| (*name, value)))
            .collect();
        let validated = validate_dynamic(&sets)?;
        let mut validated = validated.into_iter();
        for (name, value) in changes {
            match value {
                Some(_) => {
                    if let Some((name, canonical)) = validated.next() {
                        layer.insert(name, canonical);
                    }
                }
                None => {
                    layer.remove(*name);
                }
            }
        }
        self.commit_dynamic(level, layer)
    }

    /// Replaces every dynamic value at `level` with `entries`, as the legacy AlterConfigs does
    /// for a broker resource; validation as in [`BrokerConfig::apply_dynamic`].
    pub fn replace_dynamic(
        &mut self,
        level: DynamicLevel,
        entries: &[(&str, &str)],
    ) -> Result<(), ConfigError> {
        let layer = validate_dynamic(entries)?.into_iter().collect();
        self.commit_dynamic(level, layer)
    }

    fn commit_dynamic(
        &mut self,
        level: DynamicLevel,
        layer: BTreeMap<String, String>,
    ) -> Result<(), ConfigError> {
        let mut candidate = self.clone();
        *candidate.dynamic_layer_mut(level) = layer;
        candidate.check_consistency()?;
        *self = candidate;
        Ok(())
    }

    fn dynamic_layer(&self, level: DynamicLevel) -> &BTreeMap<String, String> {
        match level {
            DynamicLevel::ClusterDefault => &self.dynamic_default,
            DynamicLevel::Broker => &self.dynamic_broker,
        }
    }

    fn dynamic_layer_mut(&mut self, level: DynamicLevel) -> &mut BTreeMap<String, String> {
        match level {
            DynamicLevel::ClusterDefault => &mut self.dynamic_default,
            DynamicLevel::Broker => &mut self.dynamic_broker,
        }
    }

    /// The dynamic values at `level` (for persisting them and restoring them after a restart
    /// with [`BrokerConfig::replace_dynamic`]).
    pub fn dynamic_configs(&self, level: DynamicLevel) -> &BTreeMap<String, String> {
        self.dynamic_layer(level)
    }

    /// The static values explicitly set (file, `--set`, [`BrokerConfig::set_static`]).
    pub fn static_configs(&self) -> &BTreeMap<String, String> {
        &self.static_values
    }

    /// The values held by one layer: `DynamicBrokerConfig`, `DynamicDefaultBrokerConfig` or
    /// `StaticBrokerConfig` (defaults live in the catalog; other sources hold nothing here).
    pub fn layer(&self, source: ConfigSource) -> Option<&BTreeMap<String, String>> {
        match source {
            ConfigSource::DynamicBrokerConfig => Some(&self.dynamic_broker),
            ConfigSource::DynamicDefaultBrokerConfig => Some(&self.dynamic_default),
            ConfigSource::StaticBrokerConfig => Some(&self.static_values),
            _ => None,
        }
    }

    /// The value of broker config `name` with its source, the default included; `None` for an
    /// unknown name or an unset config without default.
    pub fn get(&self, name: &str) -> Option<(String, ConfigSource)> {
        if let Some((value, source)) = self.explicit(name) {
            return Some((value.to_string(), source));
        }
        let default = broker_config(name)?.default?;
        Some((default.to_string(), ConfigSource::DefaultConfig))
    }

    /// The value of `name` if it was set in any layer (defaults excluded), with its source.
    pub fn explicit(&self, name: &str) -> Option<(&str, ConfigSource)> {
        [
            (&self.dynamic_broker, ConfigSource::DynamicBrokerConfig),
            (
                &self.dynamic_default,
                ConfigSource::DynamicDefaultBrokerConfig,
            ),
            (&self.static_values, ConfigSource::StaticBrokerConfig),
        ]
        .into_iter()
        .find_map(|(layer, source)| layer.get(name).map(|value| (value.as_str(), source)))
    }

    fn value(&self, name: &str) -> Option<String> {
        self.get(name).map(|(value, _)| value)
    }

    fn long(&self, name: &str) -> i64 {
        self.value(name)
            .and_then(|value| value.parse().ok())
            .unwrap_or_default()
    }

    fn int(&self, name: &str) -> i32 {
        i32::try_from(self.long(name)).unwrap_or(i32::MAX)
    }

    fn short(&self, name: &str) -> i16 {
        i16::try_from(self.long(name)).unwrap_or(i16::MAX)
    }

    fn boolean(&self, name: &str) -> bool {
        self.value(name).is_some_and(|value| value == "true")
    }

    /// Checks the rules that span several configs.
    fn check_consistency(&self) -> Result<(), ConfigError> {
        if let (Some((node, _)), Some((broker, _))) =
            (self.explicit("node.id"), self.explicit("broker.id"))
        {
            if node != broker {
                return Err(ConfigError::invalid(
                    "broker.id",
                    broker,
                    format!("must equal node.id ({node}) when both are set"),
                ));
            }
        }
        if let Some((name, value)) = self.retention_source() {
            if self.log_retention_ms() == 0 {
                return Err(ConfigError::invalid(
                    name,
                    value,
                    "log retention must be unlimited (-1) or at least 1 ms",
                ));
            }
        }
        Ok(())
    }

    fn retention_source(&self) -> Option<(&'static str, &str)> {
        [
            "log.retention.ms",
            "log.retention.minutes",
            "log.retention.hours",
        ]
        .into_iter()
        .find_map(|name| self.explicit(name).map(|(value, _)| (name, value)))
    }

    /// This broker's id: `node.id`, else `broker.id`, else 0.
    pub fn node_id(&self) -> i32 {
        if self.explicit("node.id").is_none() && self.explicit("broker.id").is_some() {
            self.int("broker.id")
        } else {
            self.int("node.id")
        }
    }

    /// The data directories: `log.dirs` if set, else `log.dir` (default `./strom-data`).
    pub fn log_dirs(&self) -> Vec<PathBuf> {
        let raw = match self.explicit("log.dirs") {
            Some((value, _)) => value.to_string(),
            None => self.value("log.dir").unwrap_or_default(),
        };
        parse_list(&raw).into_iter().map(PathBuf::from).collect()
    }

    /// The data directory Strom uses: the first of [`BrokerConfig::log_dirs`].
    pub fn data_dir(&self) -> PathBuf {
        self.log_dirs()
            .into_iter()
            .next()
            .unwrap_or_else(|| PathBuf::from("./strom-data"))
    }

    /// The Kafka listeners to bind (`listeners`; an empty host means every interface).
    pub fn listeners(&self) -> Vec<Listener> {
        parse_listeners(&self.value("listeners").unwrap_or_default())
    }

    /// The listeners advertised to clients: `advertised.listeners` if set, else `listeners` with
    /// a wildcard host (empty, `0.0.0.0`, `::`) replaced by loopback.
    pub fn advertised_listeners(&self) -> Vec<Listener> {
        if let Some((value, _)) = self.explicit("advertised.listeners") {
            return parse_listeners(value);
        }
        self.listeners()
            .into_iter()
            .map(|mut listener| {
                match listener.host.as_str() {
                    "" | "0.0.0.0" => listener.host = "127.0.0.1".to_string(),
                    "::" => listener.host = "::1".to_string(),
                    _ => {}
                }
                listener
            })
            .collect()
    }

    /// The advertised listener with the given name (the one a client connected through), or
    /// the first advertised listener when none has that name.
    pub fn advertised_listener(&self, listener_name: &str) -> Option<Listener> {
        let advertised = self.advertised_listeners();
        advertised
            .iter()
            .find(|listener| listener.name.eq_ignore_ascii_case(listener_name))
            .or_else(|| advertised.first())
            .cloned()
    }

    /// The admin HTTP listener address (`admin.listen`, Strom only).
    pub fn admin_listen(&self) -> HostPort {
        self.value("admin.listen")
            .and_then(|value| HostPort::parse(&value).ok())
            .unwrap_or_else(|| HostPort {
                host: "127.0.0.1".to_string(),
                port: 9644,
            })
    }

    /// The cluster id if configured (`cluster.id`, Strom only).
    pub fn cluster_id(&self) -> Option<String> {
        self.value("cluster.id")
    }

    /// Partitions of auto-created topics (`num.partitions`).
    pub fn num_partitions(&self) -> i32 {
        self.int("num.partitions")
    }

    /// Replication factor of auto-created topics (`default.replication.factor`).
    pub fn default_replication_factor(&self) -> i16 {
        self.short("default.replication.factor")
    }

    /// `auto.create.topics.enable`.
    pub fn auto_create_topics_enable(&self) -> bool {
        self.boolean("auto.create.topics.enable")
    }

    /// `delete.topic.enable`.
    pub fn delete_topic_enable(&self) -> bool {
        self.boolean("delete.topic.enable")
    }

    /// `message.max.bytes`: the broker-wide default of `max.message.bytes`.
    pub fn message_max_bytes(&self) -> i32 {
        self.int("message.max.bytes")
    }

    /// `socket.request.max.bytes`: the largest request frame accepted.
    pub fn socket_request_max_bytes(&self) -> i32 {
        self.int("socket.request.max.bytes")
    }

    /// `fetch.max.bytes`: the most bytes one Fetch response carries.
    pub fn fetch_max_bytes(&self) -> i32 {
        self.int("fetch.max.bytes")
    }

    /// `connections.max.idle.ms`.
    pub fn connections_max_idle_ms(&self) -> i64 {
        self.long("connections.max.idle.ms")
    }

    /// `queued.max.requests`.
    pub fn queued_max_requests(&self) -> i32 {
        self.int("queued.max.requests")
    }

    /// `num.io.threads` (informational).
    pub fn num_io_threads(&self) -> i32 {
        self.int("num.io.threads")
    }

    /// `num.network.threads` (informational).
    pub fn num_network_threads(&self) -> i32 {
        self.int("num.network.threads")
    }

    /// `log.retention.check.interval.ms`: how often retention runs.
    pub fn log_retention_check_interval_ms(&self) -> i64 {
        self.long("log.retention.check.interval.ms")
    }

    /// The broker-wide retention in ms: `log.retention.ms`, else `log.retention.minutes`, else
    /// `log.retention.hours`, a negative result meaning unlimited (-1), as Kafka computes it.
    pub fn log_retention_ms(&self) -> i64 {
        let millis = if self.explicit("log.retention.ms").is_some() {
            self.long("log.retention.ms")
        } else if self.explicit("log.retention.minutes").is_some() {
            self.long("log.retention.minutes").saturating_mul(60_000)
        } else {
            self.long("log.retention.hours").saturating_mul(3_600_000)
        };
        if millis < 0 {
            -1
        } else {
            millis
        }
    }

    /// `log.flush.interval.messages`.
    pub fn log_flush_interval_messages(&self) -> i64 {
        self.long("log.flush.interval.messages")
    }

    /// `log.flush.interval.ms`, falling back to `log.flush.scheduler.interval.ms` as Kafka does.
    pub fn log_flush_interval_ms(&self) -> i64 {
        if self.explicit("log.flush.interval.ms").is_some() {
            self.long("log.flush.interval.ms")
        } else {
            self.log_flush_scheduler_interval_ms()
        }
    }

    /// `log.flush.scheduler.interval.ms`: how often the flusher checks logs.
    pub fn log_flush_scheduler_interval_ms(&self) -> i64 {
        self.long("log.flush.scheduler.interval.ms")
    }

    /// `log.cleaner.enable`.
    pub fn log_cleaner_enable(&self) -> bool {
        self.boolean("log.cleaner.enable")
    }

    /// `log.cleaner.threads` (0 disables the cleaner).
    pub fn log_cleaner_threads(&self) -> i32 {
        self.int("log.cleaner.threads")
    }

    /// `log.cleaner.backoff.ms`.
    pub fn log_cleaner_backoff_ms(&self) -> i64 {
        self.long("log.cleaner.backoff.ms")
    }

    /// `log.cleaner.dedupe.buffer.size`.
    pub fn log_cleaner_dedupe_buffer_size(&self) -> i64 {
        self.long("log.cleaner.dedupe.buffer.size")
    }

    /// `log.cleaner.io.buffer.size`.
    pub fn log_cleaner_io_buffer_size(&self) -> i32 {
        self.int("log.cleaner.io.buffer.size")
    }

    /// `log.cleaner.io.max.bytes.per.second` (Kafka's default, `Double.MAX_VALUE`, is no limit).
    pub fn log_cleaner_io_max_bytes_per_second(&self) -> f64 {
        self.value("log.cleaner.io.max.bytes.per.second")
            .and_then(|value| value.parse().ok())
            .unwrap_or(f64::INFINITY)
    }

    /// `min.insync.replicas`: the broker-wide default.
    pub fn min_insync_replicas(&self) -> i32 {
        self.int("min.insync.replicas")
    }

    /// `offsets.topic.num.partitions`.
    pub fn offsets_topic_num_partitions(&self) -> i32 {
        self.int("offsets.topic.num.partitions")
    }

    /// `offsets.topic.segment.bytes`.
    pub fn offsets_topic_segment_bytes(&self) -> i32 {
        self.int("offsets.topic.segment.bytes")
    }

    /// `transaction.state.log.segment.bytes`.
    pub fn transaction_state_log_segment_bytes(&self) -> i32 {
        self.int("transaction.state.log.segment.bytes")
    }

    /// `offsets.topic.replication.factor`.
    pub fn offsets_topic_replication_factor(&self) -> i16 {
        self.short("offsets.topic.replication.factor")
    }

    /// `offsets.retention.minutes`, in ms.
    pub fn offsets_retention_ms(&self) -> i64 {
        self.long("offsets.retention.minutes")
            .saturating_mul(60_000)
    }

    /// `group.initial.rebalance.delay.ms`.
    pub fn group_initial_rebalance_delay_ms(&self) -> i32 {
        self.int("group.initial.rebalance.delay.ms")
    }

    /// `group.consumer.session.timeout.ms` (KIP-848 groups).
    pub fn group_consumer_session_timeout_ms(&self) -> i32 {
        self.int("group.consumer.session.timeout.ms")
    }

    /// `group.consumer.heartbeat.interval.ms` (KIP-848 groups).
    pub fn group_consumer_heartbeat_interval_ms(&self) -> i32 {
        self.int("group.consumer.heartbeat.interval.ms")
    }

    /// `group.consumer.max.size` (KIP-848 groups).
    pub fn group_consumer_max_size(&self) -> i32 {
        self.int("group.consumer.max.size")
    }

    /// `group.min.session.timeout.ms`.
    pub fn group_min_session_timeout_ms(&self) -> i32 {
        self.int("group.min.session.timeout.ms")
    }

    /// `group.max.session.timeout.ms`.
    pub fn group_max_session_timeout_ms(&self) -> i32 {
        self.int("group.max.session.timeout.ms")
    }

    /// `transaction.state.log.num.partitions`.
    pub fn transaction_state_log_num_partitions(&self) -> i32 {
        self.int("transaction.state.log.num.partitions")
    }

    /// `transactional.id.expiration.ms`.
    pub fn transactional_id_expiration_ms(&self) -> i32 {
        self.int("transactional.id.expiration.ms")
    }

    /// `producer.id.expiration.ms`.
    pub fn producer_id_expiration_ms(&self) -> i32 {
        self.int("producer.id.expiration.ms")
    }

    /// `producer.id.expiration.check.interval.ms`.
    pub fn producer_id_expiration_check_interval_ms(&self) -> i32 {
        self.int("producer.id.expiration.check.interval.ms")
    }

    /// `transaction.max.timeout.ms`.
    pub fn transaction_max_timeout_ms(&self) -> i32 {
        self.int("transaction.max.timeout.ms")
    }

    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`.
    pub fn transaction_abort_timed_out_cleanup_interval_ms(&self) -> i32 {
        self.int("transaction.abort.timed.out.transaction.cleanup.interval.ms")
    }

    /// `transaction.remove.expired.transaction.cleanup.interval.ms`.
    pub fn transaction_remove_expired_cleanup_interval_ms(&self) -> i32 {
        self.int("transaction.remove.expired.transaction.cleanup.interval.ms")
    }
}

fn known(name: &str) -> Result<&'static ConfigDef, ConfigError> {
    broker_config(name).ok_or_else(|| ConfigError::UnknownConfig {
        name: name.to_string(),
        suggestion: catalog::suggest_broker_name(name),
    })
}

/// Checks names (all unknown → first reported; all non-dynamic → reported together) then values,
/// returning the canonical values in order.
fn validate_dynamic(sets: &[(&str, &str)]) -> Result<Vec<(String, String)>, ConfigError> {
    let defs = sets
        .iter()
        .map(|(name, _)| known(name))
        .collect::<Result<Vec<_>, _>>()?;
    let not_dynamic: Vec<String> = defs
        .iter()
        .filter(|def| !def.is_dynamic())
        .map(|def| def.name.to_string())
        .collect();
    if !not_dynamic.is_empty() {
        return Err(ConfigError::NotDynamic { names: not_dynamic });
    }
    defs.iter()
        .zip(sets)
        .map(|(def, (_, value))| Ok((def.name.to_string(), canonical_value(def, value)?)))
        .collect()
}

fn parse_listeners(raw: &str) -> Vec<Listener> {
    parse_list(raw)
        .iter()
        .filter_map(|item| Listener::parse(item).ok())
        .collect()
}

/// Reads TOML into `(dotted name, value string)` pairs, flattening nested tables.
fn parse_toml(text: &str) -> Result<Vec<(String, String)>, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut entries = Vec::new();
    flatten(&table, "", &mut entries)?;
    Ok(entries)
}

fn flatten(
    table: &toml::Table,
    prefix: &str,
    out: &mut Vec<(String, String)>,
) -> Result<(), String> {
    for (key, value) in table {
        let name = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(inner, &name, out)?,
            toml::Value::Array(items) => {
                let parts = items
                    .iter()
                    .map(|item| scalar(&name, item))
                    .collect::<Result<Vec<_>, _>>()?;
                out.push((name, parts.join(",")));
            }
            other => {
                let value = scalar(&name, other)?;
                out.push((name, value));
            }
        }
    }
    Ok(())
}

fn scalar(name: &str, value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(n) => Ok(n.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Datetime(_) | toml::Value::Array(_) | toml::Value::Table(_) => Err(format!(
            "{name}: expected a string, number, boolean or array of those"
        )),
    }
}

/// Reads Java `.properties` text (`name=value` or `name: value` lines, `#`/`!` comments,
/// backslash line continuations) into pairs.
fn parse_properties(text: &str) -> Vec<(String, String)> {
    let mut entries = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim_start();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        let trailing = line.len() - line.trim_end_matches('\\').len();
        if trailing % 2 == 1 {
            pending.push_str(&line[..line.len() - 1]);
            continue;
        }
        pending.push_str(line);
        let logical = std::mem::take(&mut pending);
        let split = logical.find(['=', ':']);
        let (name, value) = match split {
            Some(at) => (&logical[..at], &logical[at + 1..]),
            None => (logical.as_str(), ""),
        };
        entries.push((name.trim().to_string(), value.trim().to_string()));
    }
    if !pending.is_empty() {
        let (name, value) = pending.split_once('=').unwrap_or((pending.as_str(), ""));
        entries.push((name.trim().to_string(), value.trim().to_string()));
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults() {
        let config = BrokerConfig::default();
        assert_eq!(config.node_id(), 0);
        assert_eq!(config.data_dir(), PathBuf::from("./strom-data"));
        assert_eq!(config.num_partitions(), 1);
        assert_eq!(config.default_replication_factor(), 1);
        assert!(config.auto_create_topics_enable());
        assert!(config.delete_topic_enable());
        assert_eq!(config.message_max_bytes(), 1_048_588);
        assert_eq!(config.socket_request_max_bytes(), 104_857_600);
        assert_eq!(config.log_retention_check_interval_ms(), 300_000);
        assert_eq!(config.log_flush_interval_messages(), i64::MAX);
        assert_eq!(config.log_flush_interval_ms(), i64::MAX);
        assert_eq!(config.log_flush_scheduler_interval_ms(), i64::MAX);
        assert_eq!(config.offsets_topic_num_partitions(), 50);
        assert_eq!(config.offsets_retention_ms(), 10080 * 60_000);
        assert_eq!(config.log_retention_ms(), 604_800_000);
        assert_eq!(config.admin_listen().to_string(), "127.0.0.1:9644");
        assert_eq!(
            config.listeners()[0].host_port(),
            ("127.0.0.1", 9092),
            "Strom listens on loopback by default"
        );
        assert_eq!(config.advertised_listeners(), config.listeners());
        assert_eq!(config.cluster_id(), None);
        assert_eq!(
            config.get("num.partitions"),
            Some(("1".to_string(), ConfigSource::DefaultConfig))
        );
        assert_eq!(config.get("log.retention.ms"), None);
        assert_eq!(config.get("no.such.config"), None);
    }

    #[test]
    fn toml_with_quoted_keys_and_all_value_kinds() {
        let config = BrokerConfig::from_toml_str(
            r#"
            "log.retention.ms" = 86400000
            "num.partitions" = "3"
            "auto.create.topics.enable" = false
            "log.cleaner.min.cleanable.ratio" = 0.25
            "listeners" = ["PLAINTEXT://0.0.0.0:19092", "ADMIN://127.0.0.1:19093"]
            "#,
        )
        .expect("valid");
        assert_eq!(config.log_retention_ms(), 86_400_000);
        assert_eq!(config.num_partitions(), 3);
        assert!(!config.auto_create_topics_enable());
        assert_eq!(
            config.get("log.cleaner.min.cleanable.ratio"),
            Some(("0.25".to_string(), ConfigSource::StaticBrokerConfig))
        );
        let listeners = config.listeners();
        assert_eq!(listeners.len(), 2);
        assert_eq!(listeners[1].name, "ADMIN");
        assert_eq!(
            config
                .advertised_listener("PLAINTEXT")
                .map(|l| l.to_string()),
            Some("PLAINTEXT://127.0.0.1:19092".to_string())
        );
    }

    #[test]
    fn toml_bare_dotted_keys_and_tables_flatten() {
        let config = BrokerConfig::from_toml_str(
            r#"
            log.retention.hours = 24
            num.partitions = 4
            log.dirs = "/var/lib/strom"

            [offsets.topic]
            num.partitions = 10
            "#,
        )
        .expect("valid");
        assert_eq!(config.log_retention_ms(), 86_400_000);
        assert_eq!(config.num_partitions(), 4);
        assert_eq!(config.offsets_topic_num_partitions(), 10);
        assert_eq!(config.data_dir(), PathBuf::from("/var/lib/strom"));
    }

    #[test]
    fn toml_same_name_twice_is_an_error() {
        let error = BrokerConfig::from_toml_str(
            r#"
            "num.partitions" = 3
            num.partitions = 4
            "#,
        )
        .expect_err("duplicate");
        assert!(
            matches!(error, ConfigError::Duplicate { ref name, .. } if name == "num.partitions")
        );
    }

    #[test]
    fn unknown_names_get_a_suggestion() {
        let error = BrokerConfig::from_toml_str("\"log.retention.hour\" = 1").expect_err("unknown");
        assert_eq!(
            error,
            ConfigError::UnknownConfig {
                name: "log.retention.hour".to_string(),
                suggestion: Some("log.retention.hours".to_string()),
            }
        );
        assert_eq!(
            error.to_string(),
            "Unknown config name: log.retention.hour (did you mean log.retention.hours?)"
        );
        let topic_name = BrokerConfig::load(None, &sets(&["retention.ms=5"])).expect_err("unknown");
        assert!(topic_name
            .to_string()
            .contains("did you mean log.retention.ms?"));
    }

    #[test]
    fn bad_values_and_syntax_are_errors() {
        let error = BrokerConfig::from_toml_str("\"num.partitions\" = 0").expect_err("invalid");
        assert_eq!(
            error.to_string(),
            "Invalid value 0 for configuration num.partitions: Value must be at least 1"
        );
        assert!(matches!(
            BrokerConfig::from_toml_str("num.partitions = ="),
            Err(ConfigError::File { .. })
        ));
        assert!(matches!(
            BrokerConfig::from_toml_str("\"log.dirs\" = 1979-05-27"),
            Err(ConfigError::File { .. })
        ));
    }

    #[test]
    fn load_file_then_sets_override() {
        let dir = std::env::temp_dir().join(format!("strom-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("strom.toml");
        std::fs::write(&path, "\"num.partitions\" = 3\nnode.id = 2\n").expect("write");
        let config = BrokerConfig::load(
            Some(&path),
            &sets(&["num.partitions=6", "log.retention.minutes = 30"]),
        )
        .expect("valid");
        assert_eq!(config.num_partitions(), 6);
        assert_eq!(config.node_id(), 2);
        assert_eq!(config.log_retention_ms(), 30 * 60_000);

        let properties = dir.join("server.properties");
        std::fs::write(
            &properties,
            "# Kafka style\nbroker.id=7\nlog.dirs=/a,\\\n  /b\nnum.partitions: 2\n",
        )
        .expect("write");
        let config = BrokerConfig::load(Some(&properties), &[]).expect("valid");
        assert_eq!(config.node_id(), 7);
        assert_eq!(
            config.log_dirs(),
            vec![PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert_eq!(config.num_partitions(), 2);

        let missing = BrokerConfig::load(Some(&dir.join("missing.toml")), &[]);
        assert!(matches!(missing, Err(ConfigError::File { .. })));
        std::fs::remove_dir_all(&dir).expect("cleanup");

        assert!(matches!(
            BrokerConfig::load(None, &sets(&["num.partitions"])),
            Err(ConfigError::MalformedSetting { .. })
        ));
    }

    #[test]
    fn retention_synonym_precedence() {
        let hours_only =
            BrokerConfig::load(None, &sets(&["log.retention.hours=1"])).expect("valid");
        assert_eq!(hours_only.log_retention_ms(), 3_600_000);
        let both = BrokerConfig::load(
            None,
            &sets(&["log.retention.hours=1", "log.retention.ms=5000"]),
        )
        .expect("valid");
        assert_eq!(both.log_retention_ms(), 5000);
        let minutes = BrokerConfig::load(
            None,
            &sets(&["log.retention.hours=1", "log.retention.minutes=2"]),
        )
        .expect("valid");
        assert_eq!(minutes.log_retention_ms(), 120_000);
        let negative = BrokerConfig::load(None, &sets(&["log.retention.hours=-3"])).expect("valid");
        assert_eq!(negative.log_retention_ms(), -1);
        let zero = BrokerConfig::load(None, &sets(&["log.retention.ms=0"])).expect_err("zero");
        assert!(zero.to_string().contains("log.retention.ms"));
    }

    #[test]
    fn node_id_and_broker_id() {
        let alias = BrokerConfig::load(None, &sets(&["broker.id=3"])).expect("valid");
        assert_eq!(alias.node_id(), 3);
        let same = BrokerConfig::load(None, &sets(&["broker.id=3", "node.id=3"])).expect("valid");
        assert_eq!(same.node_id(), 3);
        let error =
            BrokerConfig::load(None, &sets(&["broker.id=3", "node.id=4"])).expect_err("differ");
        assert_eq!(error.kafka_error_code(), 40);
        let mut config = BrokerConfig::load(None, &sets(&["broker.id=3"])).expect("valid");
        assert!(config.set_static("node.id", "5").is_err());
        assert_eq!(config.node_id(), 3, "a refused set_static changes nothing");
    }

    #[test]
    fn set_static_maps_binary_flags() {
        let mut config = BrokerConfig::default();
        config.set_static("log.dirs", "/data/strom").expect("valid");
        config
            .set_static("listeners", "0.0.0.0:9092")
            .expect("valid");
        config
            .set_static("advertised.listeners", "broker.example:9092")
            .expect("valid");
        assert_eq!(config.data_dir(), PathBuf::from("/data/strom"));
        assert_eq!(config.listeners()[0].to_addr_string(), "0.0.0.0:9092");
        assert_eq!(
            config.advertised_listeners()[0].to_string(),
            "PLAINTEXT://broker.example:9092"
        );
        assert_eq!(
            config.get("listeners"),
            Some(("0.0.0.0:9092".to_string(), ConfigSource::StaticBrokerConfig))
        );
        assert!(config.set_static("listeners", "nowhere").is_err());
    }

    #[test]
    fn dynamic_layers() {
        let mut config =
            BrokerConfig::load(None, &sets(&["message.max.bytes=2000000"])).expect("valid");
        assert_eq!(config.message_max_bytes(), 2_000_000);
        config
            .set_dynamic("message.max.bytes", Some("3000000"))
            .expect("dynamic");
        assert_eq!(
            config.get("message.max.bytes"),
            Some((
                "3000000".to_string(),
                ConfigSource::DynamicDefaultBrokerConfig
            ))
        );
        config
            .set_dynamic_at(DynamicLevel::Broker, "message.max.bytes", Some("4000000"))
            .expect("dynamic");
        assert_eq!(
            config.get("message.max.bytes"),
            Some(("4000000".to_string(), ConfigSource::DynamicBrokerConfig))
        );
        config
            .set_dynamic_at(DynamicLevel::Broker, "message.max.bytes", None)
            .expect("delete");
        assert_eq!(config.message_max_bytes(), 3_000_000);
        config
            .set_dynamic("message.max.bytes", None)
            .expect("delete");
        assert_eq!(config.message_max_bytes(), 2_000_000);
        assert!(
            config.set_dynamic("never.set", None).is_ok(),
            "deleting never fails"
        );
    }

    #[test]
    fn dynamic_refusals() {
        let mut config = BrokerConfig::default();
        let error = config
            .apply_dynamic(
                DynamicLevel::ClusterDefault,
                &[
                    ("log.dirs", Some("/x")),
                    ("log.retention.ms", Some("1000")),
                    ("num.partitions", Some("3")),
                ],
            )
            .expect_err("static configs");
        assert_eq!(
            error,
            ConfigError::NotDynamic {
                names: vec!["log.dirs".to_string(), "num.partitions".to_string()]
            }
        );
        assert_eq!(error.kafka_error_code(), 42);
        assert!(config
            .dynamic_configs(DynamicLevel::ClusterDefault)
            .is_empty());

        let error = config
            .set_dynamic("log.retention.ms", Some("-7"))
            .expect_err("bad value");
        assert_eq!(error.kafka_error_code(), 40);
        let error = config
            .set_dynamic("log.retension.ms", Some("1"))
            .expect_err("unknown");
        assert!(
            matches!(error, ConfigError::UnknownConfig { suggestion: Some(ref s), .. } if s == "log.retention.ms")
        );
        assert!(
            config.set_dynamic("log.retention.ms", Some("0")).is_err(),
            "zero retention"
        );
    }

    #[test]
    fn replace_dynamic_swaps_the_whole_layer() {
        let mut config = BrokerConfig::default();
        config
            .set_dynamic("log.retention.ms", Some("1000"))
            .expect("valid");
        config
            .replace_dynamic(
                DynamicLevel::ClusterDefault,
                &[("log.segment.bytes", "2097152")],
            )
            .expect("valid");
        let layer = config.dynamic_configs(DynamicLevel::ClusterDefault);
        assert_eq!(layer.len(), 1);
        assert_eq!(
            layer.get("log.segment.bytes").map(String::as_str),
            Some("2097152")
        );
    }

    #[test]
    fn values_are_stored_canonically() {
        let config = BrokerConfig::load(
            None,
            &sets(&[
                "log.cleanup.policy= compact , delete",
                "delete.topic.enable=FALSE",
            ]),
        )
        .expect("valid");
        assert_eq!(
            config
                .static_configs()
                .get("log.cleanup.policy")
                .map(String::as_str),
            Some("compact,delete")
        );
        assert!(!config.delete_topic_enable());
    }
}
