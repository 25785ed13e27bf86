//! Typed parsing and validation of one config value, following Kafka's `ConfigDef` rules, and the
//! [`ConfigError`] every config operation reports.
//!
//! Parsing trims the string first; booleans are `true`/`false` in any case; numbers are decimal
//! integers in the type's range; lists are comma-separated with each item trimmed. Error messages
//! read like Kafka's, e.g. `Invalid value -5 for configuration segment.bytes: Value must be at
//! least 1048576`.

use super::catalog::{ConfigDef, ConfigType, Validator};
use std::fmt;
use std::path::PathBuf;

/// Kafka's `INVALID_CONFIG` error code.
pub const INVALID_CONFIG: i16 = 40;
/// Kafka's `INVALID_REQUEST` error code.
pub const INVALID_REQUEST: i16 = 42;

/// Why a config name or value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A name that is no broker config (config file, `--set`, broker AlterConfigs).
    #[error("Unknown config name: {name}{}", did_you_mean(.suggestion))]
    UnknownConfig {
        name: String,
        suggestion: Option<String>,
    },
    /// A name that is no topic config (CreateTopics, topic AlterConfigs); Kafka's wording.
    #[error("Unknown topic config name: {name}{}", did_you_mean(.suggestion))]
    UnknownTopicConfig {
        name: String,
        suggestion: Option<String>,
    },
    /// A value that does not parse or does not pass the config's validator.
    #[error("Invalid value {value} for configuration {name}: {reason}")]
    InvalidValue {
        name: String,
        value: String,
        reason: String,
    },
    /// Values that are each valid but not together (e.g. min > max compaction lag).
    #[error("{message}")]
    Conflict { message: String },
    /// A request Kafka refuses as malformed rather than as a bad config, e.g. APPEND to a config
    /// that is not a list.
    #[error("{message}")]
    InvalidRequest { message: String },
    /// Broker configs that AlterConfigs may not change at runtime.
    #[error("Cannot update these configs dynamically: [{}]", .names.join(", "))]
    NotDynamic { names: Vec<String> },
    /// A config set twice in one file.
    #[error("config {name} is set more than once in {path}")]
    Duplicate { name: String, path: PathBuf },
    /// A `--set` argument that is not `name=value`.
    #[error("invalid setting {setting:?}: expected name=value")]
    MalformedSetting { setting: String },
    /// The config file could not be read or parsed.
    #[error("cannot load config file {path}: {message}")]
    File { path: PathBuf, message: String },
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(name) => format!(" (did you mean {name}?)"),
        None => String::new(),
    }
}

impl ConfigError {
    /// The Kafka error code for this error: `INVALID_CONFIG` (40) for unknown names, bad values
    /// and conflicts (Kafka answers unknown topic config names with 40 too), `INVALID_REQUEST`
    /// (42) for altering a broker config that is not dynamic and for requests Kafka deems
    /// malformed (APPEND/SUBTRACT on a non-list config), as Kafka does.
    pub fn kafka_error_code(&self) -> i16 {
        match self {
            ConfigError::NotDynamic { .. }
            | ConfigError::InvalidRequest { .. }
            | ConfigError::MalformedSetting { .. } => INVALID_REQUEST,
            _ => INVALID_CONFIG,
        }
    }

    pub(crate) fn invalid(name: &str, value: impl fmt::Display, reason: impl Into<String>) -> Self {
        ConfigError::InvalidValue {
            name: name.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// A parsed config value.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    Boolean(bool),
    String(String),
    Int(i32),
    Short(i16),
    Long(i64),
    Double(f64),
    List(Vec<String>),
    Class(String),
    Password(String),
}

impl ConfigValue {
    /// The value in Kafka's canonical string form (what DescribeConfigs shows): lists joined by
    /// commas, doubles as Java prints them.
    pub fn to_kafka_string(&self) -> String {
        match self {
            ConfigValue::Boolean(b) => b.to_string(),
            ConfigValue::String(s) | ConfigValue::Class(s) | ConfigValue::Password(s) => s.clone(),
            ConfigValue::Int(n) => n.to_string(),
            ConfigValue::Short(n) => n.to_string(),
            ConfigValue::Long(n) => n.to_string(),
            ConfigValue::Double(d) => java_double_string(*d),
            ConfigValue::List(items) => items.join(","),
        }
    }

    /// The value as a boolean, if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            ConfigValue::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The value as an integer, if it is one of the integer types.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            ConfigValue::Int(n) => Some(i64::from(*n)),
            ConfigValue::Short(n) => Some(i64::from(*n)),
            ConfigValue::Long(n) => Some(*n),
            _ => None,
        }
    }

    /// The value as a float, if it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            ConfigValue::Double(d) => Some(*d),
            // Precision loss is irrelevant for range checks on config values.
            #[allow(clippy::cast_precision_loss)]
            other => other.as_i64().map(|n| n as f64),
        }
    }

    /// The value as a string, if it is a string-like type.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ConfigValue::String(s) | ConfigValue::Class(s) | ConfigValue::Password(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a list, if it is one.
    pub fn as_list(&self) -> Option<&[String]> {
        match self {
            ConfigValue::List(items) => Some(items),
            _ => None,
        }
    }
}

/// Parses `raw` per `def`'s type and checks it with `def`'s validator.
pub fn parse_value(def: &ConfigDef, raw: &str) -> Result<ConfigValue, ConfigError> {
    let value = parse_type(def.name, def.config_type, raw)?;
    check(def, &value)?;
    Ok(value)
}

/// Parses and validates `raw`, returning it in canonical string form.
pub fn canonical_value(def: &ConfigDef, raw: &str) -> Result<String, ConfigError> {
    parse_value(def, raw).map(|value| value.to_kafka_string())
}

/// Parses `raw` as `config_type` without validating it (Kafka's `ConfigDef.parseType`).
pub fn parse_type(
    name: &str,
    config_type: ConfigType,
    raw: &str,
) -> Result<ConfigValue, ConfigError> {
    let trimmed = raw.trim();
    let not_a_number = || {
        ConfigError::invalid(
            name,
            raw,
            format!("Not a number of type {}", config_type.kafka_name()),
        )
    };
    Ok(match config_type {
        ConfigType::Boolean => {
            if trimmed.eq_ignore_ascii_case("true") {
                ConfigValue::Boolean(true)
            } else if trimmed.eq_ignore_ascii_case("false") {
                ConfigValue::Boolean(false)
            } else {
                return Err(ConfigError::invalid(
                    name,
                    raw,
                    "Expected value to be either true or false",
                ));
            }
        }
        ConfigType::String => ConfigValue::String(trimmed.to_string()),
        ConfigType::Class => ConfigValue::Class(trimmed.to_string()),
        ConfigType::Password => ConfigValue::Password(raw.to_string()),
        ConfigType::Int => ConfigValue::Int(trimmed.parse().map_err(|_| not_a_number())?),
        ConfigType::Short => ConfigValue::Short(trimmed.parse().map_err(|_| not_a_number())?),
        ConfigType::Long => ConfigValue::Long(trimmed.parse().map_err(|_| not_a_number())?),
        ConfigType::Double => {
            // Unlike Java, NaN is refused: no config has a use for it.
            let parsed: f64 = trimmed.parse().map_err(|_| not_a_number())?;
            if parsed.is_nan() {
                return Err(not_a_number());
            }
            ConfigValue::Double(parsed)
        }
        ConfigType::List => ConfigValue::List(parse_list(trimmed)),
    })
}

/// Splits a comma-separated list, trimming items; the empty string is the empty list.
pub fn parse_list(raw: &str) -> Vec<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Vec::new();
    }
    trimmed
        .split(',')
        .map(|item| item.trim().to_string())
        .collect()
}

fn check(def: &ConfigDef, value: &ConfigValue) -> Result<(), ConfigError> {
    let name = def.name;
    let shown = value.to_kafka_string();
    let number = || value.as_f64().unwrap_or(f64::NAN);
    #[allow(clippy::cast_precision_loss)]
    let as_f = |n: i64| n as f64;
    match def.validator {
        Validator::None => Ok(()),
        Validator::AtLeast(min) => {
            if number() < as_f(min) {
                Err(ConfigError::invalid(
                    name,
                    shown,
                    format!("Value must be at least {min}"),
                ))
            } else {
                Ok(())
            }
        }
        Validator::Between(min, max) => {
            let n = number();
            if n < as_f(min) {
                Err(ConfigError::invalid(
                    name,
                    shown,
                    format!("Value must be at least {min}"),
                ))
            } else if n > as_f(max) {
                Err(ConfigError::invalid(
                    name,
                    shown,
                    format!("Value must be no more than {max}"),
                ))
            } else {
                Ok(())
            }
        }
        Validator::BetweenOr { min, max, or } => {
            let n = number();
            if n == as_f(or) || (as_f(min)..=as_f(max)).contains(&n) {
                Ok(())
            } else {
                Err(ConfigError::invalid(
                    name,
                    shown,
                    format!("Value must be between {min} and {max} or equal to {or}"),
                ))
            }
        }
        Validator::OneOf(allowed) => {
            let s = value.as_str().unwrap_or_default();
            if allowed.contains(&s) {
                Ok(())
            } else {
                Err(one_of_error(name, s, allowed))
            }
        }
        Validator::ListOf(allowed) => {
            let items = value.as_list().unwrap_or_default();
            if let Some(bad) = items.iter().find(|item| !allowed.contains(&item.as_str())) {
                return Err(one_of_error(name, bad, allowed));
            }
            no_duplicates(name, &shown, items)
        }
        Validator::NonEmptyList => {
            let items = value.as_list().unwrap_or_default();
            if items.is_empty() || items.iter().any(String::is_empty) {
                return Err(ConfigError::invalid(
                    name,
                    shown,
                    "Empty list or empty items are not allowed",
                ));
            }
            no_duplicates(name, &shown, items)
        }
        Validator::ThrottledReplicas => {
            let items = value.as_list().unwrap_or_default();
            let ok = (items.len() == 1 && items[0] == "*")
                || items.iter().all(|item| {
                    item.split_once(':').is_some_and(|(partition, broker)| {
                        partition.trim().parse::<u32>().is_ok()
                            && broker.trim().parse::<u32>().is_ok()
                    })
                });
            if ok {
                Ok(())
            } else {
                Err(ConfigError::invalid(
                    name,
                    shown,
                    "must be '*' or a comma-separated list of partitionId:brokerId",
                ))
            }
        }
        Validator::Listeners | Validator::AdvertisedListeners => {
            let items = value.as_list().unwrap_or_default();
            let mut names = Vec::new();
            for item in items {
                let listener = Listener::parse(item)
                    .map_err(|reason| ConfigError::invalid(name, &shown, reason))?;
                if def.validator == Validator::AdvertisedListeners && listener.host == "0.0.0.0" {
                    return Err(ConfigError::invalid(
                        name,
                        shown,
                        "the meta-address 0.0.0.0 cannot be advertised",
                    ));
                }
                if names.contains(&listener.name) {
                    return Err(ConfigError::invalid(
                        name,
                        shown,
                        format!(
                            "Each listener must have a different name; {} repeats",
                            listener.name
                        ),
                    ));
                }
                names.push(listener.name);
            }
            Ok(())
        }
        Validator::HostPort => {
            let s = value.as_str().unwrap_or_default();
            HostPort::parse(s)
                .map(|_| ())
                .map_err(|reason| ConfigError::invalid(name, s, reason))
        }
    }
}

fn one_of_error(name: &str, value: &str, allowed: &[&str]) -> ConfigError {
    ConfigError::invalid(
        name,
        value,
        format!("String must be one of: {}", allowed.join(", ")),
    )
}

fn no_duplicates(name: &str, shown: &str, items: &[String]) -> Result<(), ConfigError> {
    for (i, item) in items.iter().enumerate() {
        if items[..i].contains(item) {
            return Err(ConfigError::invalid(
                name,
                shown,
                format!("Values must not be duplicated: {item}"),
            ));
        }
    }
    Ok(())
}

/// Formats a double the way Java's `Double.toString` does (`0.5`, `1.0`, `1.0E7`).
pub fn java_double_string(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    let magnitude = value.abs();
    if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
        // Debug prints the shortest round-tripping decimal and always keeps a fraction.
        return format!("{value:?}");
    }
    let scientific = format!("{value:E}");
    match scientific.split_once('E') {
        Some((mantissa, exponent)) if !mantissa.contains('.') => format!("{mantissa}.0E{exponent}"),
        _ => scientific,
    }
}

/// A `HOST:PORT` address; IPv6 hosts may be bracketed (`[::1]:9092`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// The host, without brackets; empty means every interface.
    pub host: String,
    pub port: u16,
}

impl HostPort {
    /// Parses `HOST:PORT`, returning a reason on failure.
    pub fn parse(s: &str) -> Result<HostPort, String> {
        let s = s.trim();
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("missing ']' in {s:?}"))?;
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| format!("missing port in {s:?}"))?;
            (host, port)
        } else {
            s.rsplit_once(':')
                .ok_or_else(|| format!("expected HOST:PORT, got {s:?}"))?
        };
        let port = port
            .parse::<u16>()
            .map_err(|_| format!("invalid port {port:?} in {s:?}"))?;
        Ok(HostPort {
            host: host.to_string(),
            port,
        })
    }

    /// The address as a string suitable for binding or connecting (`0.0.0.0` for an empty host,
    /// IPv6 hosts bracketed).
    pub fn to_addr_string(&self) -> String {
        if self.host.is_empty() {
            format!("0.0.0.0:{}", self.port)
        } else if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_addr_string())
    }
}

/// One listener: a name (the security protocol, `PLAINTEXT` when omitted) and an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Listener {
    /// The listener name, upper-cased.
    pub name: String,
    /// The host, without brackets; empty means every interface.
    pub host: String,
    pub port: u16,
}

impl Listener {
    /// Parses `NAME://HOST:PORT` or `HOST:PORT`.
    pub fn parse(s: &str) -> Result<Listener, String> {
        let s = s.trim();
        let (name, address) = match s.split_once("://") {
            Some((name, address)) => {
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!("invalid listener name {name:?} in {s:?}"));
                }
                (name.to_ascii_uppercase(), address)
            }
            None => ("PLAINTEXT".to_string(), s),
        };
        let HostPort { host, port } = HostPort::parse(address)?;
        Ok(Listener { name, host, port })
    }

    /// The `(host, port)` pair.
    pub fn host_port(&self) -> (&str, u16) {
        (&self.host, self.port)
    }

    /// The address as a string suitable for binding (`0.0.0.0` for an empty host).
    pub fn to_addr_string(&self) -> String {
        HostPort {
            host: self.host.clone(),
            port: self.port,
        }
        .to_addr_string()
    }
}

impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(f, "{}://{}:{}", self.name, host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::catalog::{broker_config, topic_config};

    fn topic(name: &str) -> &'static ConfigDef {
        topic_config(name).expect("known topic config")
    }

    fn err(name: &str, raw: &str) -> String {
        parse_value(topic(name), raw)
            .expect_err("invalid")
            .to_string()
    }

    #[test]
    fn booleans_are_case_insensitive() {
        let def = topic("preallocate");
        assert_eq!(parse_value(def, "TRUE"), Ok(ConfigValue::Boolean(true)));
        assert_eq!(parse_value(def, " false "), Ok(ConfigValue::Boolean(false)));
        assert_eq!(
            err("preallocate", "yes"),
            "Invalid value yes for configuration preallocate: Expected value to be either true or false"
        );
    }

    #[test]
    fn integers_respect_their_width() {
        assert_eq!(
            parse_value(topic("segment.bytes"), " 2097152 "),
            Ok(ConfigValue::Int(2097152))
        );
        assert_eq!(
            err("segment.bytes", "3000000000"),
            "Invalid value 3000000000 for configuration segment.bytes: Not a number of type INT"
        );
        assert_eq!(
            parse_value(topic("retention.ms"), "3000000000"),
            Ok(ConfigValue::Long(3_000_000_000))
        );
        assert_eq!(
            parse_value(topic("retention.bytes"), "9223372036854775807"),
            Ok(ConfigValue::Long(i64::MAX))
        );
        assert_eq!(
            err("retention.ms", "9223372036854775808"),
            "Invalid value 9223372036854775808 for configuration retention.ms: Not a number of type LONG"
        );
        assert_eq!(
            err("retention.ms", "1h"),
            "Invalid value 1h for configuration retention.ms: Not a number of type LONG"
        );
        let short = broker_config("offsets.topic.replication.factor").expect("exists");
        assert_eq!(parse_value(short, "3"), Ok(ConfigValue::Short(3)));
        assert!(parse_value(short, "40000").is_err());
    }

    #[test]
    fn at_least_boundaries() {
        assert_eq!(
            err("segment.bytes", "-5"),
            "Invalid value -5 for configuration segment.bytes: Value must be at least 1048576"
        );
        assert!(parse_value(topic("segment.bytes"), "1048576").is_ok());
        assert!(parse_value(topic("segment.bytes"), "1048575").is_err());
        assert!(parse_value(topic("retention.ms"), "-1").is_ok());
        assert_eq!(
            err("retention.ms", "-2"),
            "Invalid value -2 for configuration retention.ms: Value must be at least -1"
        );
        assert!(parse_value(topic("segment.index.bytes"), "4").is_ok());
        assert!(parse_value(topic("segment.index.bytes"), "3").is_err());
        assert!(parse_value(topic("min.insync.replicas"), "0").is_err());
        assert!(parse_value(topic("internal.segment.bytes"), "14").is_ok());
    }

    #[test]
    fn doubles_and_between() {
        let def = topic("min.cleanable.dirty.ratio");
        assert_eq!(parse_value(def, "0"), Ok(ConfigValue::Double(0.0)));
        assert_eq!(parse_value(def, "1"), Ok(ConfigValue::Double(1.0)));
        assert_eq!(canonical_value(def, "1").as_deref(), Ok("1.0"));
        assert_eq!(
            err("min.cleanable.dirty.ratio", "1.5"),
            "Invalid value 1.5 for configuration min.cleanable.dirty.ratio: Value must be no more than 1"
        );
        assert_eq!(
            err("min.cleanable.dirty.ratio", "-0.1"),
            "Invalid value -0.1 for configuration min.cleanable.dirty.ratio: Value must be at least 0"
        );
        assert_eq!(
            err("min.cleanable.dirty.ratio", "half"),
            "Invalid value half for configuration min.cleanable.dirty.ratio: Not a number of type DOUBLE"
        );
        assert!(parse_value(def, "NaN").is_err());
        assert!(parse_value(topic("compression.zstd.level"), "-131072").is_ok());
        assert!(parse_value(topic("compression.zstd.level"), "23").is_err());
        assert!(parse_value(topic("compression.lz4.level"), "0").is_err());
    }

    #[test]
    fn gzip_level_allows_minus_one() {
        let def = topic("compression.gzip.level");
        assert!(parse_value(def, "-1").is_ok());
        assert!(parse_value(def, "1").is_ok());
        assert!(parse_value(def, "9").is_ok());
        assert_eq!(
            err("compression.gzip.level", "0"),
            "Invalid value 0 for configuration compression.gzip.level: Value must be between 1 and 9 or equal to -1"
        );
    }

    #[test]
    fn strings_one_of() {
        assert!(parse_value(topic("compression.type"), " zstd ").is_ok());
        assert_eq!(
            err("compression.type", "brotli"),
            "Invalid value brotli for configuration compression.type: String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer"
        );
        assert!(parse_value(topic("message.timestamp.type"), "createtime").is_err());
        assert!(parse_value(topic("message.timestamp.type"), "LogAppendTime").is_ok());
    }

    #[test]
    fn lists() {
        let def = topic("cleanup.policy");
        assert_eq!(
            parse_value(def, " compact , delete "),
            Ok(ConfigValue::List(vec!["compact".into(), "delete".into()]))
        );
        assert_eq!(
            canonical_value(def, "compact, delete").as_deref(),
            Ok("compact,delete")
        );
        assert_eq!(parse_value(def, ""), Ok(ConfigValue::List(Vec::new())));
        assert_eq!(
            err("cleanup.policy", "delete,purge"),
            "Invalid value purge for configuration cleanup.policy: String must be one of: compact, delete"
        );
        assert!(parse_value(def, "delete,delete").is_err());
        assert_eq!(parse_list("a,,b"), vec!["a", "", "b"]);
    }

    #[test]
    fn throttled_replicas() {
        let def = topic("leader.replication.throttled.replicas");
        assert!(parse_value(def, "").is_ok());
        assert!(parse_value(def, "*").is_ok());
        assert!(parse_value(def, "0:1, 1:2").is_ok());
        assert!(parse_value(def, "0:x").is_err());
        assert!(parse_value(def, "*,0:1").is_err());
    }

    #[test]
    fn listeners_and_host_ports() {
        assert_eq!(
            Listener::parse("PLAINTEXT://localhost:9092"),
            Ok(Listener {
                name: "PLAINTEXT".into(),
                host: "localhost".into(),
                port: 9092
            })
        );
        let bare = Listener::parse("127.0.0.1:19092").expect("valid");
        assert_eq!(bare.name, "PLAINTEXT");
        assert_eq!(bare.host_port(), ("127.0.0.1", 19092));
        let v6 = Listener::parse("EXTERNAL://[::1]:9093").expect("valid");
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.to_addr_string(), "[::1]:9093");
        assert_eq!(v6.to_string(), "EXTERNAL://[::1]:9093");
        let any = Listener::parse("PLAINTEXT://:9092").expect("valid");
        assert_eq!(any.to_addr_string(), "0.0.0.0:9092");
        assert!(Listener::parse("localhost").is_err());
        assert!(Listener::parse("localhost:99999").is_err());
        assert!(Listener::parse("bad name://h:1").is_err());

        let listeners = broker_config("listeners").expect("exists");
        assert!(parse_value(listeners, "PLAINTEXT://a:1,EXTERNAL://b:2").is_ok());
        assert!(
            parse_value(listeners, "a:1,b:2").is_err(),
            "two PLAINTEXT listeners"
        );
        let advertised = broker_config("advertised.listeners").expect("exists");
        assert!(parse_value(advertised, "PLAINTEXT://0.0.0.0:9092").is_err());
        let admin = broker_config("admin.listen").expect("exists");
        assert!(parse_value(admin, "127.0.0.1:9644").is_ok());
        assert!(parse_value(admin, "127.0.0.1").is_err());
        assert_eq!(
            HostPort::parse("[::]:1").map(|hp| hp.to_string()),
            Ok("[::]:1".to_string())
        );
    }

    #[test]
    fn java_doubles() {
        assert_eq!(java_double_string(0.5), "0.5");
        assert_eq!(java_double_string(1.0), "1.0");
        assert_eq!(java_double_string(0.0), "0.0");
        assert_eq!(java_double_string(1e7), "1.0E7");
        assert_eq!(java_double_string(1.5e-4), "1.5E-4");
        assert_eq!(java_double_string(f64::MAX), "1.7976931348623157E308");
    }

    #[test]
    fn error_codes_and_messages() {
        let unknown = ConfigError::UnknownTopicConfig {
            name: "retention.msx".into(),
            suggestion: Some("retention.ms".into()),
        };
        assert_eq!(
            unknown.to_string(),
            "Unknown topic config name: retention.msx (did you mean retention.ms?)"
        );
        assert_eq!(unknown.kafka_error_code(), INVALID_CONFIG);
        let plain = ConfigError::UnknownConfig {
            name: "x".into(),
            suggestion: None,
        };
        assert_eq!(plain.to_string(), "Unknown config name: x");
        assert_eq!(plain.kafka_error_code(), 40);
        let not_dynamic = ConfigError::NotDynamic {
            names: vec!["log.dirs".into(), "num.partitions".into()],
        };
        assert_eq!(
            not_dynamic.to_string(),
            "Cannot update these configs dynamically: [log.dirs, num.partitions]"
        );
        assert_eq!(not_dynamic.kafka_error_code(), INVALID_REQUEST);
    }

    #[test]
    fn every_default_is_valid() {
        use crate::config::catalog::{BROKER_CONFIGS, TOPIC_CONFIGS};
        for def in TOPIC_CONFIGS.iter().chain(BROKER_CONFIGS) {
            if let Some(default) = def.default {
                let canonical = canonical_value(def, default)
                    .unwrap_or_else(|e| panic!("default of {} invalid: {e}", def.name));
                assert_eq!(
                    canonical, default,
                    "default of {} is not canonical",
                    def.name
                );
            }
        }
    }
}
