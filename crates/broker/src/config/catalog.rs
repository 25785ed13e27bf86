//! The static catalog of every configuration Strom understands: Kafka's names, types, defaults and
//! validators, and for each topic config the broker configs that supply its cluster-wide default.
//!
//! Topic configs and broker configs live in two tables because a few names (for example
//! `min.insync.replicas` and `compression.type`) are both: the broker one is the default of the
//! topic one. Defaults, types and validators follow Apache Kafka 4.x (`LogConfig`,
//! `ServerLogConfigs`, `KafkaConfig`); the configs removed in Kafka 4.0
//! (`message.format.version`, `message.downconversion.enable`,
//! `message.timestamp.difference.max.ms`) are still accepted and marked deprecated. Where Strom
//! departs from Kafka the doc line says so.

/// The value type of a config, as Kafka's `ConfigDef.Type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigType {
    /// `true` or `false`, case-insensitive.
    Boolean,
    /// A string, trimmed.
    String,
    /// A 32-bit signed integer.
    Int,
    /// A 16-bit signed integer.
    Short,
    /// A 64-bit signed integer.
    Long,
    /// A 64-bit float.
    Double,
    /// A comma-separated list of strings.
    List,
    /// A Java class name (accepted, never loaded).
    Class,
    /// A secret string, never shown by DescribeConfigs.
    Password,
}

impl ConfigType {
    /// The `config_type` code DescribeConfigs (v3+) reports for this type.
    pub const fn describe_code(self) -> i8 {
        match self {
            ConfigType::Boolean => 1,
            ConfigType::String => 2,
            ConfigType::Int => 3,
            ConfigType::Short => 4,
            ConfigType::Long => 5,
            ConfigType::Double => 6,
            ConfigType::List => 7,
            ConfigType::Class => 8,
            ConfigType::Password => 9,
        }
    }

    /// Kafka's upper-case name of the type, as it appears in its error messages.
    pub const fn kafka_name(self) -> &'static str {
        match self {
            ConfigType::Boolean => "BOOLEAN",
            ConfigType::String => "STRING",
            ConfigType::Int => "INT",
            ConfigType::Short => "SHORT",
            ConfigType::Long => "LONG",
            ConfigType::Double => "DOUBLE",
            ConfigType::List => "LIST",
            ConfigType::Class => "CLASS",
            ConfigType::Password => "PASSWORD",
        }
    }

    /// Whether values of this type are secrets (DescribeConfigs hides them).
    pub const fn is_sensitive(self) -> bool {
        matches!(self, ConfigType::Password)
    }
}

/// The check a parsed value must pass, mirroring Kafka's `ConfigDef.Validator`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validator {
    /// Anything the type parses.
    None,
    /// A number no less than the bound (Kafka's `Range.atLeast`).
    AtLeast(i64),
    /// A number within the inclusive bounds (Kafka's `Range.between`).
    Between(i64, i64),
    /// A number within the inclusive bounds, or exactly `or` (the gzip level's "-1 = default").
    BetweenOr { min: i64, max: i64, or: i64 },
    /// One of these strings, case-sensitive (Kafka's `ValidString.in`).
    OneOf(&'static [&'static str]),
    /// A list whose items are each one of these strings, without duplicates (`ValidList.in`).
    ListOf(&'static [&'static str]),
    /// A list with at least one item and no duplicates (`log.dirs`).
    NonEmptyList,
    /// `*`, or a list of `partition:broker` pairs (the replication-throttle lists).
    ThrottledReplicas,
    /// A list of `NAME://HOST:PORT` or `HOST:PORT` listeners with distinct names.
    Listeners,
    /// Like [`Validator::Listeners`], and no host may be the meta-address 0.0.0.0.
    AdvertisedListeners,
    /// A single `HOST:PORT`.
    HostPort,
}

/// Where a config applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigScope {
    /// A topic-level config; `broker_synonyms` are the broker configs that give its default for
    /// every topic, in Kafka's order of precedence (the first one set wins).
    Topic {
        broker_synonyms: &'static [&'static str],
    },
    /// A broker-level config; `dynamic` is whether AlterConfigs may change it at runtime.
    Broker { dynamic: bool },
}

/// One configuration: its name, type, default, validator, one-line doc and scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigDef {
    /// Kafka's dotted name, e.g. `retention.ms`.
    pub name: &'static str,
    /// How values are parsed.
    pub config_type: ConfigType,
    /// The default in Kafka's string form, or `None` when the config has no default.
    pub default: Option<&'static str>,
    /// The check a parsed value must pass.
    pub validator: Validator,
    /// A short description.
    pub doc: &'static str,
    /// Topic or broker config.
    pub scope: ConfigScope,
    /// Accepted but left out of DescribeConfigs (Kafka's internal configs).
    pub internal: bool,
    /// Removed or deprecated in Kafka; still accepted for compatibility.
    pub deprecated: bool,
}

impl ConfigDef {
    const fn topic(
        name: &'static str,
        config_type: ConfigType,
        default: Option<&'static str>,
        validator: Validator,
        broker_synonyms: &'static [&'static str],
        doc: &'static str,
    ) -> ConfigDef {
        ConfigDef {
            name,
            config_type,
            default,
            validator,
            doc,
            scope: ConfigScope::Topic { broker_synonyms },
            internal: false,
            deprecated: false,
        }
    }

    const fn broker(
        name: &'static str,
        config_type: ConfigType,
        default: Option<&'static str>,
        validator: Validator,
        dynamic: bool,
        doc: &'static str,
    ) -> ConfigDef {
        ConfigDef {
            name,
            config_type,
            default,
            validator,
            doc,
            scope: ConfigScope::Broker { dynamic },
            internal: false,
            deprecated: false,
        }
    }

    const fn deprecated(self) -> ConfigDef {
        ConfigDef {
            deprecated: true,
            ..self
        }
    }

    const fn internal(self) -> ConfigDef {
        ConfigDef {
            internal: true,
            ..self
        }
    }

    /// The broker configs supplying this topic config's default, in precedence order (empty for
    /// broker configs and for topic configs without a broker-wide default).
    pub fn broker_synonyms(&self) -> &'static [&'static str] {
        match self.scope {
            ConfigScope::Topic { broker_synonyms } => broker_synonyms,
            ConfigScope::Broker { .. } => &[],
        }
    }

    /// Whether AlterConfigs may change this broker config at runtime (false for topic configs).
    pub fn is_dynamic(&self) -> bool {
        matches!(self.scope, ConfigScope::Broker { dynamic: true })
    }

    /// Whether DescribeConfigs hides the value.
    pub fn is_sensitive(&self) -> bool {
        self.config_type.is_sensitive()
    }
}

/// `Long.MAX_VALUE`, the default of several "no limit" configs.
pub const LONG_MAX: &str = "9223372036854775807";

/// The values of `cleanup.policy`.
pub const CLEANUP_POLICIES: &[&str] = &["compact", "delete"];
/// The values of `compression.type`, in Kafka's order.
pub const COMPRESSION_TYPES: &[&str] =
    &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];
/// The values of `message.timestamp.type`.
pub const TIMESTAMP_TYPES: &[&str] = &["CreateTime", "LogAppendTime"];

use ConfigType::{Boolean, Double, Int, List, Long, Short, String as Str};
use Validator::{AtLeast, Between, ListOf, OneOf};

/// The minimum segment size, 1 MiB since Kafka 4.0 (KIP-1030; it was 14 bytes before). Tests that
/// need tiny segments use the internal topic config `internal.segment.bytes`, as Kafka's do.
pub const MIN_SEGMENT_BYTES: i64 = 1024 * 1024;

/// Every topic-level config, sorted by name.
pub static TOPIC_CONFIGS: &[ConfigDef] = &[
    ConfigDef::topic(
        "cleanup.policy",
        List,
        Some("delete"),
        ListOf(CLEANUP_POLICIES),
        &["log.cleanup.policy"],
        "How old segments are removed: delete them, compact by key, or both.",
    ),
    ConfigDef::topic(
        "compression.gzip.level",
        Int,
        Some("-1"),
        Validator::BetweenOr {
            min: 1,
            max: 9,
            or: -1,
        },
        &["compression.gzip.level"],
        "Gzip level used when the broker recompresses batches with gzip.",
    ),
    ConfigDef::topic(
        "compression.lz4.level",
        Int,
        Some("9"),
        Between(1, 17),
        &["compression.lz4.level"],
        "LZ4 level used when the broker recompresses batches with lz4.",
    ),
    ConfigDef::topic(
        "compression.type",
        Str,
        Some("producer"),
        OneOf(COMPRESSION_TYPES),
        &["compression.type"],
        "Codec batches are stored with; 'producer' keeps whatever the producer used.",
    ),
    ConfigDef::topic(
        "compression.zstd.level",
        Int,
        Some("3"),
        Between(-131072, 22),
        &["compression.zstd.level"],
        "Zstd level used when the broker recompresses batches with zstd.",
    ),
    ConfigDef::topic(
        "delete.retention.ms",
        Long,
        Some("86400000"),
        AtLeast(0),
        &["log.cleaner.delete.retention.ms"],
        "How long tombstones survive compaction, in ms.",
    ),
    ConfigDef::topic(
        "file.delete.delay.ms",
        Long,
        Some("60000"),
        AtLeast(0),
        &["log.segment.delete.delay.ms"],
        "Delay before a removed segment file is unlinked, in ms.",
    ),
    ConfigDef::topic(
        "flush.messages",
        Long,
        Some(LONG_MAX),
        AtLeast(1),
        &["log.flush.interval.messages"],
        "Force an fsync after this many appended messages.",
    ),
    ConfigDef::topic(
        "flush.ms",
        Long,
        Some(LONG_MAX),
        AtLeast(0),
        &["log.flush.interval.ms", "log.flush.scheduler.interval.ms"],
        "Force an fsync when unflushed data is this old, in ms.",
    ),
    ConfigDef::topic(
        "follower.replication.throttled.replicas",
        List,
        Some(""),
        Validator::ThrottledReplicas,
        &[],
        "Replicas whose follower-side replication is throttled ('*' for all).",
    ),
    ConfigDef::topic(
        "index.interval.bytes",
        Int,
        Some("4096"),
        AtLeast(0),
        &["log.index.interval.bytes"],
        "Bytes appended between two offset-index entries.",
    ),
    ConfigDef::topic(
        "internal.segment.bytes",
        Int,
        None,
        AtLeast(14),
        &[],
        "Segment size overriding segment.bytes below its minimum; for tests only.",
    )
    .internal(),
    ConfigDef::topic(
        "leader.replication.throttled.replicas",
        List,
        Some(""),
        Validator::ThrottledReplicas,
        &[],
        "Replicas whose leader-side replication is throttled ('*' for all).",
    ),
    ConfigDef::topic(
        "local.retention.bytes",
        Long,
        Some("-2"),
        AtLeast(-2),
        &["log.local.retention.bytes"],
        "Bytes kept locally when tiered storage is on; -2 means retention.bytes.",
    ),
    ConfigDef::topic(
        "local.retention.ms",
        Long,
        Some("-2"),
        AtLeast(-2),
        &["log.local.retention.ms"],
        "Time kept locally when tiered storage is on; -2 means retention.ms.",
    ),
    ConfigDef::topic(
        "max.compaction.lag.ms",
        Long,
        Some(LONG_MAX),
        AtLeast(1),
        &["log.cleaner.max.compaction.lag.ms"],
        "Longest a record may stay uncompacted, in ms.",
    ),
    ConfigDef::topic(
        "max.message.bytes",
        Int,
        Some("1048588"),
        AtLeast(0),
        &["message.max.bytes"],
        "Largest record batch the topic accepts, in bytes.",
    ),
    ConfigDef::topic(
        "message.downconversion.enable",
        Boolean,
        Some("true"),
        Validator::None,
        &["log.message.downconversion.enable"],
        "Whether old fetch versions get down-converted batches (removed in Kafka 4.0).",
    )
    .deprecated(),
    ConfigDef::topic(
        "message.format.version",
        Str,
        Some("3.0-IV1"),
        Validator::None,
        &["log.message.format.version"],
        "Legacy on-disk message format version (removed in Kafka 4.0; ignored).",
    )
    .deprecated(),
    ConfigDef::topic(
        "message.timestamp.after.max.ms",
        Long,
        Some("3600000"),
        AtLeast(0),
        &["log.message.timestamp.after.max.ms"],
        "How far in the future a CreateTime timestamp may be, in ms.",
    ),
    ConfigDef::topic(
        "message.timestamp.before.max.ms",
        Long,
        Some(LONG_MAX),
        AtLeast(0),
        &["log.message.timestamp.before.max.ms"],
        "How far in the past a CreateTime timestamp may be, in ms.",
    ),
    ConfigDef::topic(
        "message.timestamp.difference.max.ms",
        Long,
        Some(LONG_MAX),
        AtLeast(0),
        &["log.message.timestamp.difference.max.ms"],
        "Old two-sided timestamp bound; used when before/after are not set (removed in 4.0).",
    )
    .deprecated(),
    ConfigDef::topic(
        "message.timestamp.type",
        Str,
        Some("CreateTime"),
        OneOf(TIMESTAMP_TYPES),
        &["log.message.timestamp.type"],
        "Keep the producer's timestamp (CreateTime) or stamp the append time (LogAppendTime).",
    ),
    ConfigDef::topic(
        "min.cleanable.dirty.ratio",
        Double,
        Some("0.5"),
        Between(0, 1),
        &["log.cleaner.min.cleanable.ratio"],
        "Share of uncompacted bytes that makes a log eligible for compaction.",
    ),
    ConfigDef::topic(
        "min.compaction.lag.ms",
        Long,
        Some("0"),
        AtLeast(0),
        &["log.cleaner.min.compaction.lag.ms"],
        "Shortest time a record stays uncompacted, in ms.",
    ),
    ConfigDef::topic(
        "min.insync.replicas",
        Int,
        Some("1"),
        AtLeast(1),
        &["min.insync.replicas"],
        "In-sync replicas an acks=all write needs.",
    ),
    ConfigDef::topic(
        "preallocate",
        Boolean,
        Some("false"),
        Validator::None,
        &["log.preallocate"],
        "Whether a new segment file is allocated at full size up front.",
    ),
    ConfigDef::topic(
        "remote.log.copy.disable",
        Boolean,
        Some("false"),
        Validator::None,
        &[],
        "Stop copying segments to tiered storage (tiered storage is unsupported).",
    ),
    ConfigDef::topic(
        "remote.log.delete.on.disable",
        Boolean,
        Some("false"),
        Validator::None,
        &[],
        "Delete tiered data when tiered storage is turned off (unsupported).",
    ),
    ConfigDef::topic(
        "remote.storage.enable",
        Boolean,
        Some("false"),
        Validator::None,
        &[],
        "Tier old segments to remote storage; Strom refuses true.",
    ),
    ConfigDef::topic(
        "retention.bytes",
        Long,
        Some("-1"),
        Validator::None,
        &["log.retention.bytes"],
        "Size per partition beyond which old segments are deleted; -1 for no limit.",
    ),
    ConfigDef::topic(
        "retention.ms",
        Long,
        Some("604800000"),
        AtLeast(-1),
        &[
            "log.retention.ms",
            "log.retention.minutes",
            "log.retention.hours",
        ],
        "Age beyond which old segments are deleted, in ms; -1 for no limit.",
    ),
    ConfigDef::topic(
        "segment.bytes",
        Int,
        Some("1073741824"),
        AtLeast(MIN_SEGMENT_BYTES),
        &["log.segment.bytes"],
        "Size at which the active segment is rolled, in bytes.",
    ),
    ConfigDef::topic(
        "segment.index.bytes",
        Int,
        Some("10485760"),
        AtLeast(4),
        &["log.index.size.max.bytes"],
        "Maximum size of a segment's offset index, in bytes.",
    ),
    ConfigDef::topic(
        "segment.jitter.ms",
        Long,
        Some("0"),
        AtLeast(0),
        &["log.roll.jitter.ms", "log.roll.jitter.hours"],
        "Random time subtracted from segment.ms to spread rolls, in ms.",
    ),
    ConfigDef::topic(
        "segment.ms",
        Long,
        Some("604800000"),
        AtLeast(1),
        &["log.roll.ms", "log.roll.hours"],
        "Age at which the active segment is rolled, in ms.",
    ),
    ConfigDef::topic(
        "unclean.leader.election.enable",
        Boolean,
        Some("false"),
        Validator::None,
        &["unclean.leader.election.enable"],
        "Whether an out-of-sync replica may become leader, losing data.",
    ),
];

/// Every broker-level config, sorted by name.
pub static BROKER_CONFIGS: &[ConfigDef] = &[
    ConfigDef::broker(
        "admin.listen",
        Str,
        Some("127.0.0.1:9644"),
        Validator::HostPort,
        false,
        "Strom only: HOST:PORT of the admin HTTP listener.",
    ),
    ConfigDef::broker(
        "advertised.listeners",
        List,
        None,
        Validator::AdvertisedListeners,
        false,
        "Addresses given to clients in metadata; defaults to listeners.",
    ),
    ConfigDef::broker(
        "auto.create.topics.enable",
        Boolean,
        Some("true"),
        Validator::None,
        false,
        "Create a topic when a client asks for metadata of an unknown one.",
    ),
    ConfigDef::broker(
        "broker.id",
        Int,
        None,
        AtLeast(0),
        false,
        "Older name of node.id; must equal it when both are set.",
    ),
    ConfigDef::broker(
        "cluster.id",
        Str,
        None,
        Validator::None,
        false,
        "Strom only: the cluster id reported in metadata; generated when unset.",
    ),
    ConfigDef::broker(
        "compression.gzip.level",
        Int,
        Some("-1"),
        Validator::BetweenOr { min: 1, max: 9, or: -1 },
        true,
        "Default gzip level for topics.",
    ),
    ConfigDef::broker(
        "compression.lz4.level",
        Int,
        Some("9"),
        Between(1, 17),
        true,
        "Default lz4 level for topics.",
    ),
    ConfigDef::broker(
        "compression.type",
        Str,
        Some("producer"),
        OneOf(COMPRESSION_TYPES),
        true,
        "Default storage codec for topics.",
    ),
    ConfigDef::broker(
        "compression.zstd.level",
        Int,
        Some("3"),
        Between(-131072, 22),
        true,
        "Default zstd level for topics.",
    ),
    ConfigDef::broker(
        "connections.max.idle.ms",
        Long,
        Some("600000"),
        Validator::None,
        false,
        "Idle time after which a client connection is closed, in ms.",
    ),
    ConfigDef::broker(
        "default.replication.factor",
        Int,
        Some("1"),
        AtLeast(1),
        false,
        "Replication factor of auto-created topics and of CreateTopics asking for -1.",
    ),
    ConfigDef::broker(
        "delete.topic.enable",
        Boolean,
        Some("true"),
        Validator::None,
        false,
        "Whether DeleteTopics is allowed.",
    ),
    ConfigDef::broker(
        "fetch.max.bytes",
        Int,
        Some("57671680"),
        AtLeast(1024),
        false,
        "Most bytes one Fetch response carries.",
    ),
    ConfigDef::broker(
        "group.consumer.heartbeat.interval.ms",
        Int,
        Some("5000"),
        Validator::AtLeast(1),
        false,
        "How often members of consumer-protocol groups (KIP-848) heartbeat, in ms.",
    ),
    ConfigDef::broker(
        "group.consumer.max.size",
        Int,
        Some("2147483647"),
        Validator::AtLeast(1),
        false,
        "Most members a consumer-protocol group (KIP-848) may have.",
    ),
    ConfigDef::broker(
        "group.consumer.session.timeout.ms",
        Int,
        Some("45000"),
        Validator::AtLeast(1),
        false,
        "Session timeout of members of consumer-protocol groups (KIP-848), in ms.",
    ),
    ConfigDef::broker(
        "group.initial.rebalance.delay.ms",
        Int,
        Some("3000"),
        Validator::None,
        false,
        "Wait for more members before the first rebalance of an empty group, in ms.",
    ),
    ConfigDef::broker(
        "group.max.session.timeout.ms",
        Int,
        Some("1800000"),
        Validator::None,
        false,
        "Largest session timeout a consumer may ask for, in ms.",
    ),
    ConfigDef::broker(
        "group.min.session.timeout.ms",
        Int,
        Some("6000"),
        Validator::None,
        false,
        "Smallest session timeout a consumer may ask for, in ms.",
    ),
    ConfigDef::broker(
        "listeners",
        List,
        Some("PLAINTEXT://127.0.0.1:9092"),
        Validator::Listeners,
        false,
        "Addresses the Kafka listener binds; HOST:PORT or NAME://HOST:PORT (Strom default: loopback).",
    ),
    ConfigDef::broker(
        "log.cleaner.backoff.ms",
        Long,
        Some("15000"),
        AtLeast(0),
        true,
        "How long the compaction cleaner sleeps when no log needs cleaning, in ms.",
    ),
    ConfigDef::broker(
        "log.cleaner.dedupe.buffer.size",
        Long,
        Some("134217728"),
        AtLeast(0),
        true,
        "Memory of the compaction cleaner's key-to-offset map, in bytes (24 bytes per key).",
    ),
    ConfigDef::broker(
        "log.cleaner.delete.retention.ms",
        Long,
        Some("86400000"),
        AtLeast(0),
        true,
        "Default delete.retention.ms for topics.",
    ),
    ConfigDef::broker(
        "log.cleaner.enable",
        Boolean,
        Some("true"),
        Validator::None,
        false,
        "Whether the compaction cleaner runs.",
    ),
    ConfigDef::broker(
        "log.cleaner.io.buffer.size",
        Int,
        Some("524288"),
        AtLeast(0),
        true,
        "Size of each read of the compaction cleaner, in bytes.",
    ),
    ConfigDef::broker(
        "log.cleaner.io.max.bytes.per.second",
        Double,
        Some("1.7976931348623157E308"),
        Validator::None,
        true,
        "I/O rate cap of the compaction cleaner, in bytes per second.",
    ),
    ConfigDef::broker(
        "log.cleaner.max.compaction.lag.ms",
        Long,
        Some(LONG_MAX),
        AtLeast(1),
        true,
        "Default max.compaction.lag.ms for topics.",
    ),
    ConfigDef::broker(
        "log.cleaner.min.cleanable.ratio",
        Double,
        Some("0.5"),
        Between(0, 1),
        true,
        "Default min.cleanable.dirty.ratio for topics.",
    ),
    ConfigDef::broker(
        "log.cleaner.min.compaction.lag.ms",
        Long,
        Some("0"),
        AtLeast(0),
        true,
        "Default min.compaction.lag.ms for topics.",
    ),
    ConfigDef::broker(
        "log.cleaner.threads",
        Int,
        Some("1"),
        AtLeast(0),
        true,
        "Threads of the compaction cleaner.",
    ),
    ConfigDef::broker(
        "log.cleanup.policy",
        List,
        Some("delete"),
        ListOf(CLEANUP_POLICIES),
        true,
        "Default cleanup.policy for topics.",
    ),
    ConfigDef::broker(
        "log.dir",
        List,
        Some("./strom-data"),
        Validator::NonEmptyList,
        false,
        "Data directory, used when log.dirs is unset (Strom default: ./strom-data).",
    ),
    ConfigDef::broker(
        "log.dirs",
        List,
        None,
        Validator::NonEmptyList,
        false,
        "Data directories; Strom stores everything in the first one.",
    ),
    ConfigDef::broker(
        "log.flush.interval.messages",
        Long,
        Some(LONG_MAX),
        AtLeast(1),
        true,
        "Default flush.messages for topics.",
    ),
    ConfigDef::broker(
        "log.flush.interval.ms",
        Long,
        None,
        Validator::None,
        true,
        "Default flush.ms for topics; log.flush.scheduler.interval.ms when unset.",
    ),
    ConfigDef::broker(
        "log.flush.scheduler.interval.ms",
        Long,
        Some(LONG_MAX),
        Validator::None,
        false,
        "How often the flusher looks for logs due an fsync, in ms.",
    ),
    ConfigDef::broker(
        "log.index.interval.bytes",
        Int,
        Some("4096"),
        AtLeast(0),
        true,
        "Default index.interval.bytes for topics.",
    ),
    ConfigDef::broker(
        "log.index.size.max.bytes",
        Int,
        Some("10485760"),
        AtLeast(4),
        true,
        "Default segment.index.bytes for topics.",
    ),
    ConfigDef::broker(
        "log.local.retention.bytes",
        Long,
        Some("-2"),
        AtLeast(-2),
        true,
        "Default local.retention.bytes for topics.",
    ),
    ConfigDef::broker(
        "log.local.retention.ms",
        Long,
        Some("-2"),
        AtLeast(-2),
        true,
        "Default local.retention.ms for topics.",
    ),
    ConfigDef::broker(
        "log.message.downconversion.enable",
        Boolean,
        Some("true"),
        Validator::None,
        true,
        "Default message.downconversion.enable for topics (removed in Kafka 4.0).",
    )
    .deprecated(),
    ConfigDef::broker(
        "log.message.format.version",
        Str,
        Some("3.0-IV1"),
        Validator::None,
        false,
        "Default message.format.version for topics (removed in Kafka 4.0; ignored).",
    )
    .deprecated(),
    ConfigDef::broker(
        "log.message.timestamp.after.max.ms",
        Long,
        Some("3600000"),
        AtLeast(0),
        true,
        "Default message.timestamp.after.max.ms for topics.",
    ),
    ConfigDef::broker(
        "log.message.timestamp.before.max.ms",
        Long,
        Some(LONG_MAX),
        AtLeast(0),
        true,
        "Default message.timestamp.before.max.ms for topics.",
    ),
    ConfigDef::broker(
        "log.message.timestamp.difference.max.ms",
        Long,
        Some(LONG_MAX),
        AtLeast(0),
        true,
        "Default message.timestamp.difference.max.ms for topics (removed in Kafka 4.0).",
    )
    .deprecated(),
    ConfigDef::broker(
        "log.message.timestamp.type",
        Str,
        Some("CreateTime"),
        OneOf(TIMESTAMP_TYPES),
        true,
        "Default message.timestamp.type for topics.",
    ),
    ConfigDef::broker(
        "log.preallocate",
        Boolean,
        Some("false"),
        Validator::None,
        true,
        "Default preallocate for topics.",
    ),
    ConfigDef::broker(
        "log.retention.bytes",
        Long,
        Some("-1"),
        Validator::None,
        true,
        "Default retention.bytes for topics.",
    ),
    ConfigDef::broker(
        "log.retention.check.interval.ms",
        Long,
        Some("300000"),
        AtLeast(1),
        false,
        "How often retention is enforced, in ms.",
    ),
    ConfigDef::broker(
        "log.retention.hours",
        Int,
        Some("168"),
        Validator::None,
        false,
        "Default retention.ms for topics, in hours; below log.retention.minutes.",
    ),
    ConfigDef::broker(
        "log.retention.minutes",
        Int,
        None,
        Validator::None,
        false,
        "Default retention.ms for topics, in minutes; below log.retention.ms.",
    ),
    ConfigDef::broker(
        "log.retention.ms",
        Long,
        None,
        AtLeast(-1),
        true,
        "Default retention.ms for topics; wins over the minutes and hours forms.",
    ),
    ConfigDef::broker(
        "log.roll.hours",
        Int,
        Some("168"),
        AtLeast(1),
        false,
        "Default segment.ms for topics, in hours; below log.roll.ms.",
    ),
    ConfigDef::broker(
        "log.roll.jitter.hours",
        Int,
        Some("0"),
        AtLeast(0),
        false,
        "Default segment.jitter.ms for topics, in hours; below log.roll.jitter.ms.",
    ),
    ConfigDef::broker(
        "log.roll.jitter.ms",
        Long,
        None,
        Validator::None,
        true,
        "Default segment.jitter.ms for topics.",
    ),
    ConfigDef::broker(
        "log.roll.ms",
        Long,
        None,
        Validator::None,
        true,
        "Default segment.ms for topics; wins over log.roll.hours.",
    ),
    ConfigDef::broker(
        "log.segment.bytes",
        Int,
        Some("1073741824"),
        AtLeast(MIN_SEGMENT_BYTES),
        true,
        "Default segment.bytes for topics.",
    ),
    ConfigDef::broker(
        "log.segment.delete.delay.ms",
        Long,
        Some("60000"),
        AtLeast(0),
        true,
        "Default file.delete.delay.ms for topics.",
    ),
    ConfigDef::broker(
        "message.max.bytes",
        Int,
        Some("1048588"),
        AtLeast(0),
        true,
        "Default max.message.bytes for topics.",
    ),
    ConfigDef::broker(
        "min.insync.replicas",
        Int,
        Some("1"),
        AtLeast(1),
        true,
        "Default min.insync.replicas for topics.",
    ),
    ConfigDef::broker(
        "node.id",
        Int,
        Some("0"),
        AtLeast(0),
        false,
        "This broker's id (Strom default 0; Kafka requires it).",
    ),
    ConfigDef::broker(
        "num.io.threads",
        Int,
        Some("8"),
        AtLeast(1),
        true,
        "Request handler threads (informational in Strom).",
    ),
    ConfigDef::broker(
        "num.network.threads",
        Int,
        Some("3"),
        AtLeast(1),
        true,
        "Network threads (informational in Strom).",
    ),
    ConfigDef::broker(
        "num.partitions",
        Int,
        Some("1"),
        AtLeast(1),
        false,
        "Partitions of auto-created topics and of CreateTopics asking for -1.",
    ),
    ConfigDef::broker(
        "num.recovery.threads.per.data.dir",
        Int,
        Some("1"),
        AtLeast(1),
        true,
        "Threads per data directory for log recovery at startup.",
    ),
    ConfigDef::broker(
        "offsets.retention.minutes",
        Int,
        Some("10080"),
        AtLeast(1),
        false,
        "How long committed offsets of an empty group are kept, in minutes.",
    ),
    ConfigDef::broker(
        "offsets.topic.num.partitions",
        Int,
        Some("50"),
        AtLeast(1),
        false,
        "Partitions of __consumer_offsets.",
    ),
    ConfigDef::broker(
        "offsets.topic.replication.factor",
        Short,
        Some("1"),
        AtLeast(1),
        false,
        "Replication factor of __consumer_offsets (Strom default 1; Kafka's is 3).",
    ),
    ConfigDef::broker(
        "offsets.topic.segment.bytes",
        Int,
        Some("104857600"),
        AtLeast(MIN_SEGMENT_BYTES),
        false,
        "segment.bytes of __consumer_offsets when it is created (small segments are compacted sooner).",
    ),
    ConfigDef::broker(
        "producer.id.expiration.check.interval.ms",
        Int,
        Some("600000"),
        AtLeast(1),
        false,
        "How often idle producer ids are looked for and dropped, in ms.",
    ),
    ConfigDef::broker(
        "producer.id.expiration.ms",
        Int,
        Some("86400000"),
        AtLeast(1),
        true,
        "Idle time after which a producer id's state is dropped, in ms.",
    ),
    ConfigDef::broker(
        "queued.max.requests",
        Int,
        Some("500"),
        AtLeast(1),
        false,
        "Requests queued before the network stops reading more.",
    ),
    ConfigDef::broker(
        "socket.request.max.bytes",
        Int,
        Some("104857600"),
        AtLeast(1),
        false,
        "Largest request frame accepted, in bytes.",
    ),
    ConfigDef::broker(
        "transaction.abort.timed.out.transaction.cleanup.interval.ms",
        Int,
        Some("10000"),
        AtLeast(1),
        false,
        "How often transactions past their timeout are looked for and aborted, in ms.",
    ),
    ConfigDef::broker(
        "transaction.max.timeout.ms",
        Int,
        Some("900000"),
        AtLeast(1),
        false,
        "Largest transaction timeout a producer may ask for, in ms.",
    ),
    ConfigDef::broker(
        "transaction.remove.expired.transaction.cleanup.interval.ms",
        Int,
        Some("3600000"),
        AtLeast(1),
        false,
        "How often expired transactional ids are looked for and removed, in ms.",
    ),
    ConfigDef::broker(
        "transaction.state.log.num.partitions",
        Int,
        Some("50"),
        AtLeast(1),
        false,
        "Partitions of __transaction_state.",
    ),
    ConfigDef::broker(
        "transaction.state.log.replication.factor",
        Short,
        Some("1"),
        AtLeast(1),
        false,
        "Replication factor of __transaction_state (Strom default 1; Kafka's is 3).",
    ),
    ConfigDef::broker(
        "transaction.state.log.segment.bytes",
        Int,
        Some("104857600"),
        AtLeast(MIN_SEGMENT_BYTES),
        false,
        "segment.bytes of __transaction_state when it is created.",
    ),
    ConfigDef::broker(
        "transactional.id.expiration.ms",
        Int,
        Some("604800000"),
        AtLeast(1),
        false,
        "Idle time after which a transactional id expires, in ms.",
    ),
    ConfigDef::broker(
        "unclean.leader.election.enable",
        Boolean,
        Some("false"),
        Validator::None,
        true,
        "Default unclean.leader.election.enable for topics.",
    ),
];

/// The topic config called `name`, internal ones included.
pub fn topic_config(name: &str) -> Option<&'static ConfigDef> {
    TOPIC_CONFIGS.iter().find(|def| def.name == name)
}

/// The broker config called `name`.
pub fn broker_config(name: &str) -> Option<&'static ConfigDef> {
    BROKER_CONFIGS.iter().find(|def| def.name == name)
}

/// The multiplier turning a broker synonym's value into milliseconds (`log.retention.hours` →
/// 3 600 000, `log.retention.minutes` → 60 000, anything else → 1).
pub fn synonym_to_millis_factor(broker_name: &str) -> i64 {
    if broker_name.ends_with(".hours") {
        3_600_000
    } else if broker_name.ends_with(".minutes") {
        60_000
    } else {
        1
    }
}

/// The names DescribeConfigs lists as synonyms of broker config `name`, in Kafka's order: the
/// ms/minutes/hours families of retention, roll and roll jitter, `log.flush.interval.ms` with the
/// scheduler interval behind it, and otherwise `name` alone.
pub fn broker_synonym_group(name: &str) -> Vec<&'static str> {
    const GROUPS: &[&[&str]] = &[
        &[
            "log.retention.ms",
            "log.retention.minutes",
            "log.retention.hours",
        ],
        &["log.roll.ms", "log.roll.hours"],
        &["log.roll.jitter.ms", "log.roll.jitter.hours"],
    ];
    if let Some(group) = GROUPS.iter().find(|group| group.contains(&name)) {
        return group.to_vec();
    }
    if name == "log.flush.interval.ms" {
        return vec!["log.flush.interval.ms", "log.flush.scheduler.interval.ms"];
    }
    match broker_config(name) {
        Some(def) => vec![def.name],
        None => Vec::new(),
    }
}

/// The closest known name to a misspelt one, if any is close enough to be a useful hint.
pub fn closest_name<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let wanted = name.to_ascii_lowercase().replace(['_', '-'], ".");
    let (distance, best) = candidates
        .into_iter()
        .map(|candidate| (edit_distance(&wanted, candidate), candidate))
        .min_by_key(|(distance, _)| *distance)?;
    let tolerance = (name.len() / 3).max(2);
    (distance <= tolerance).then(|| best.to_string())
}

/// A suggestion for a name given at broker level that is not a broker config: the broker
/// synonym of a topic config, or the closest broker config name.
pub fn suggest_broker_name(name: &str) -> Option<String> {
    if let Some(first) = topic_config(name).and_then(|def| def.broker_synonyms().first()) {
        return Some((*first).to_string());
    }
    closest_name(name, BROKER_CONFIGS.iter().map(|def| def.name))
}

/// A suggestion for a name given as a topic config that is not one: the topic config a broker
/// synonym stands for, or the closest topic config name.
pub fn suggest_topic_name(name: &str) -> Option<String> {
    if let Some(def) = TOPIC_CONFIGS
        .iter()
        .find(|def| def.broker_synonyms().contains(&name))
    {
        return Some(def.name.to_string());
    }
    closest_name(
        name,
        TOPIC_CONFIGS
            .iter()
            .filter(|def| !def.internal)
            .map(|def| def.name),
    )
}

/// Levenshtein distance over bytes (config names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            let insertion = current[j] + 1;
            let deletion = previous[j + 1] + 1;
            current.push(substitution.min(insertion).min(deletion));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn tables_are_sorted_and_unique() {
        for table in [TOPIC_CONFIGS, BROKER_CONFIGS] {
            let names: Vec<&str> = table.iter().map(|def| def.name).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(names, sorted);
        }
    }

    #[test]
    fn scopes_match_tables() {
        assert!(TOPIC_CONFIGS
            .iter()
            .all(|def| matches!(def.scope, ConfigScope::Topic { .. })));
        assert!(BROKER_CONFIGS
            .iter()
            .all(|def| matches!(def.scope, ConfigScope::Broker { .. })));
    }

    #[test]
    fn every_broker_synonym_is_a_broker_config() {
        for def in TOPIC_CONFIGS {
            for synonym in def.broker_synonyms() {
                assert!(
                    broker_config(synonym).is_some(),
                    "{} names unknown synonym {synonym}",
                    def.name
                );
            }
        }
    }

    #[test]
    fn first_synonyms_are_dynamic_others_are_not() {
        // Kafka's DynamicLogConfig makes the first synonym of each topic config reconfigurable.
        let mut first = BTreeSet::new();
        for def in TOPIC_CONFIGS {
            if let Some(name) = def.broker_synonyms().first() {
                first.insert(*name);
            }
        }
        for name in &first {
            let def = broker_config(name).expect("synonym exists");
            let expected = *name != "log.message.format.version";
            assert_eq!(def.is_dynamic(), expected, "{name}");
        }
        for name in [
            "log.retention.hours",
            "log.retention.minutes",
            "log.roll.hours",
            "log.flush.scheduler.interval.ms",
        ] {
            assert!(!broker_config(name).expect("exists").is_dynamic(), "{name}");
        }
    }

    #[test]
    fn kafka_defaults() {
        let default = |name: &str| topic_config(name).and_then(|def| def.default);
        assert_eq!(default("max.message.bytes"), Some("1048588"));
        assert_eq!(default("message.timestamp.after.max.ms"), Some("3600000"));
        assert_eq!(default("message.timestamp.before.max.ms"), Some(LONG_MAX));
        assert_eq!(default("retention.ms"), Some("604800000"));
        assert_eq!(default("segment.bytes"), Some("1073741824"));
        assert_eq!(default("min.cleanable.dirty.ratio"), Some("0.5"));
        let broker = |name: &str| broker_config(name).and_then(|def| def.default);
        assert_eq!(broker("socket.request.max.bytes"), Some("104857600"));
        assert_eq!(broker("offsets.topic.num.partitions"), Some("50"));
        assert_eq!(broker("admin.listen"), Some("127.0.0.1:9644"));
    }

    #[test]
    fn synonym_order_follows_kafka() {
        let retention = topic_config("retention.ms").expect("exists");
        assert_eq!(
            retention.broker_synonyms(),
            &[
                "log.retention.ms",
                "log.retention.minutes",
                "log.retention.hours"
            ]
        );
        assert_eq!(
            topic_config("flush.ms").expect("exists").broker_synonyms(),
            &["log.flush.interval.ms", "log.flush.scheduler.interval.ms"]
        );
        assert_eq!(
            broker_synonym_group("log.retention.hours"),
            vec![
                "log.retention.ms",
                "log.retention.minutes",
                "log.retention.hours"
            ]
        );
        assert_eq!(
            broker_synonym_group("log.flush.scheduler.interval.ms"),
            vec!["log.flush.scheduler.interval.ms"]
        );
        assert_eq!(synonym_to_millis_factor("log.roll.hours"), 3_600_000);
        assert_eq!(synonym_to_millis_factor("log.retention.minutes"), 60_000);
        assert_eq!(synonym_to_millis_factor("log.retention.ms"), 1);
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest_broker_name("log.retention.hour").as_deref(),
            Some("log.retention.hours")
        );
        assert_eq!(
            suggest_broker_name("num_partitions").as_deref(),
            Some("num.partitions")
        );
        assert_eq!(
            suggest_broker_name("retention.ms").as_deref(),
            Some("log.retention.ms")
        );
        assert_eq!(
            suggest_topic_name("log.retention.ms").as_deref(),
            Some("retention.ms")
        );
        assert_eq!(
            suggest_topic_name("segmnt.bytes").as_deref(),
            Some("segment.bytes")
        );
        assert_eq!(suggest_topic_name("completely.unrelated.thing"), None);
    }

    #[test]
    fn type_codes() {
        assert_eq!(ConfigType::Boolean.describe_code(), 1);
        assert_eq!(ConfigType::Password.describe_code(), 9);
        assert!(ConfigType::Password.is_sensitive());
        assert!(!ConfigType::String.is_sensitive());
    }
}
