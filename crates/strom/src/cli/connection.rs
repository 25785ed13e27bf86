//! Connection flags shared by every client command (`--brokers`) and the helpers that turn
//! them into librdkafka clients, check that a broker answers, and explain failures.

use std::time::Duration;

use std::fmt::Display;

use anyhow::Result;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::{Client, DefaultClientContext};
use rdkafka::config::{ClientConfig, FromClientConfig};
use rdkafka::consumer::BaseConsumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::metadata::{Metadata, MetadataTopic};
use rdkafka::ClientContext;

/// How long the first metadata request may take before we call the brokers unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long admin and offset requests may take once a broker has answered.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The `--brokers` flag, flattened into every client command.
#[derive(clap::Args, Debug, Clone)]
pub struct ConnectionArgs {
    /// Comma-separated list of brokers (host:port) to bootstrap from.
    #[arg(
        long,
        env = "STROM_BROKERS",
        default_value = "127.0.0.1:9092",
        value_name = "HOST:PORT,..."
    )]
    pub brokers: String,
}

impl ConnectionArgs {
    /// A librdkafka config with the bootstrap servers and the settings every CLI client shares.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("client.id", "strom-cli")
            // Asking for a topic's metadata must never create it behind the user's back.
            .set("allow.auto.create.topics", "false")
            // Fail fast on hosts that never answer instead of waiting for the OS timeout.
            .set("socket.connection.setup.timeout.ms", "5000")
            // librdkafka logs connection failures itself; we report them as one clear error.
            .set("log_level", "0");
        config
    }

    /// Builds a client of type `T` (producer, consumer, admin client) from [`Self::client_config`]
    /// plus `extra` settings.
    pub fn create<T: FromClientConfig>(&self, extra: &[(&str, &str)]) -> Result<T> {
        let mut config = self.client_config();
        for (key, value) in extra {
            config.set(*key, *value);
        }
        config
            .create()
            .kafka_context(|| "cannot create the Kafka client (librdkafka)")
    }

    /// An admin client plus a consumer handle (for metadata and watermark queries).
    pub fn admin(&self) -> Result<(AdminClient<DefaultClientContext>, BaseConsumer)> {
        let admin = self.create::<AdminClient<DefaultClientContext>>(&[])?;
        let consumer = self.metadata_client()?;
        Ok((admin, consumer))
    }

    /// A consumer that never joins a group, used for metadata and offset lookups.
    pub fn metadata_client(&self) -> Result<BaseConsumer> {
        self.create::<BaseConsumer>(&[("group.id", "strom-cli"), ("enable.auto.commit", "false")])
    }

    /// Fetches metadata for all topics; an error here means no broker answered, which we
    /// report as `cannot reach a broker at <brokers>`.
    pub fn cluster_metadata<C: ClientContext>(&self, client: &Client<C>) -> Result<Metadata> {
        client
            .fetch_metadata(None, CONNECT_TIMEOUT)
            .kafka_context(|| format!("cannot reach a broker at {}", self.brokers))
    }
}

/// Admin request options with our timeouts.
pub fn admin_options() -> AdminOptions {
    AdminOptions::new()
        .request_timeout(Some(REQUEST_TIMEOUT))
        .operation_timeout(Some(REQUEST_TIMEOUT))
}

/// Finds `topic` in `metadata`, or explains that it does not exist.
pub fn find_topic<'a>(metadata: &'a Metadata, topic: &str) -> Result<&'a MetadataTopic> {
    match metadata.topics().iter().find(|t| t.name() == topic) {
        None => anyhow::bail!("topic {topic:?} does not exist (UnknownTopicOrPartition)"),
        Some(t) => match t.error() {
            Some(err) if t.partitions().is_empty() => {
                anyhow::bail!("topic {topic:?}: {}", RDKafkaErrorCode::from(err))
            }
            _ => Ok(t),
        },
    }
}

/// Topics whose name starts with `__` (`__consumer_offsets`, `__transaction_state`, ...) are
/// the broker's own; librdkafka's metadata does not carry the `is_internal` flag.
pub fn is_internal(topic: &str) -> bool {
    topic.starts_with("__")
}

/// Splits a `key=value` flag value.
pub fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected key=value, got {s:?}")),
    }
}

/// Adds a human-readable context to librdkafka errors: the Kafka error code's name and text
/// (e.g. `InvalidTopic (Broker: Invalid topic)`) without repeating it as a cause chain.
pub trait KafkaContext<T> {
    /// Prefixes the error with `context()`.
    fn kafka_context<M: Display>(self, context: impl FnOnce() -> M) -> Result<T>;
}

impl<T> KafkaContext<T> for Result<T, KafkaError> {
    fn kafka_context<M: Display>(self, context: impl FnOnce() -> M) -> Result<T> {
        self.map_err(|err| anyhow::anyhow!("{}: {}", context(), explain(&err)))
    }
}

/// The error code of a librdkafka error when it has one, else its description.
pub fn explain(err: &KafkaError) -> String {
    match err {
        KafkaError::AdminOp(code) => code.to_string(),
        _ => match err.rdkafka_error_code() {
            Some(code) => code.to_string(),
            None => err.to_string(),
        },
    }
}
