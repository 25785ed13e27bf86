//! A minimal Kafka protocol client for the APIs librdkafka has no admin call for
//! (ListTransactions, DescribeTransactions, DescribeProducers).
//!
//! One [`BrokerConnection`] is one TCP connection with one request in flight at a time:
//! size-prefixed frames encoded by `strom-protocol`, increasing correlation ids, ApiVersions
//! first so that every request goes out at the highest version both sides speak, and a timeout
//! on every step. [`Cluster`] adds the Metadata view: the brokers, and a connection to each on
//! demand (the bootstrap connection is reused for the broker it reaches).

use std::collections::HashMap;
use std::io;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use bytes::Bytes;
use strom_protocol::client::{self, KafkaRequest};
use strom_protocol::frame::read_frame;
use strom_protocol::messages::{
    metadata_request::MetadataRequestTopic, ApiVersionsRequest, MetadataRequest, MetadataResponse,
    TopicName,
};
use strom_protocol::{str_bytes, ResponseError};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::connection::{CONNECT_TIMEOUT, REQUEST_TIMEOUT};

/// The client id every request carries.
const CLIENT_ID: &str = "strom-cli";

/// The largest response accepted (a broker describing many transactions stays far below).
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// The error code of an ApiVersions request at a version the broker does not know (KIP-511).
const UNSUPPORTED_VERSION: i16 = 35;

/// Timeouts of a connection.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// TCP connect plus the ApiVersions exchange.
    pub connect: Duration,
    /// One request and its response.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: CONNECT_TIMEOUT,
            request: REQUEST_TIMEOUT,
        }
    }
}

/// One connection to one broker.
pub struct BrokerConnection {
    addr: String,
    stream: TcpStream,
    next_correlation_id: i32,
    /// The broker's (min, max) version of every API it advertises, by api key.
    versions: HashMap<i16, (i16, i16)>,
    timeouts: Timeouts,
}

impl BrokerConnection {
    /// Connects to `addr` (`host:port`) and asks which API versions the broker speaks.
    pub async fn connect(addr: &str, timeouts: Timeouts) -> Result<BrokerConnection> {
        check_address(addr)?;
        let stream = match tokio::time::timeout(timeouts.connect, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(err)) => bail!("cannot connect to {addr}: {}", describe_io(&err)),
            Err(_) => bail!(
                "cannot connect to {addr}: no answer within {}",
                seconds(timeouts.connect)
            ),
        };
        // Requests are small and answered one at a time: no Nagle delay.
        let _ = stream.set_nodelay(true);
        let mut conn = BrokerConnection {
            addr: addr.to_owned(),
            stream,
            next_correlation_id: 0,
            versions: HashMap::new(),
            timeouts,
        };
        match tokio::time::timeout(timeouts.connect, conn.api_versions()).await {
            Ok(result) => result?,
            Err(_) => bail!(
                "the broker at {addr} accepted the connection but did not answer ApiVersions \
                 within {}",
                seconds(timeouts.connect)
            ),
        }
        Ok(conn)
    }

    /// The `host:port` this connection reaches.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Learns the broker's API versions: ApiVersions at our highest version, and, when the
    /// broker does not know that one, again at the highest it advertised in its v0 answer.
    async fn api_versions(&mut self) -> Result<()> {
        let request = ApiVersionsRequest::default()
            .with_client_software_name(str_bytes("strom-cli"))
            .with_client_software_version(str_bytes(env!("CARGO_PKG_VERSION")));
        let (_, ours) = client::client_versions::<ApiVersionsRequest>();
        let mut version = ours;
        for _ in 0..2 {
            let correlation_id = self.write_request(&request, version).await?;
            let frame = self.read_response().await?;
            // A broker that does not know `version` answers in v0 (KIP-511).
            let response = client::decode_response::<ApiVersionsRequest>(
                frame.clone(),
                version,
                correlation_id,
            )
            .or_else(|err| {
                client::decode_response::<ApiVersionsRequest>(frame, 0, correlation_id)
                    .map_err(|_| err)
            })
            .with_context(|| format!("the broker at {} answered ApiVersions oddly", self.addr))?;
            let advertised: HashMap<i16, (i16, i16)> = response
                .api_keys
                .iter()
                .map(|k| (k.api_key, (k.min_version, k.max_version)))
                .collect();
            if response.error_code == UNSUPPORTED_VERSION {
                let theirs = advertised
                    .get(&client::api_key::<ApiVersionsRequest>())
                    .map_or(0, |(_, max)| *max);
                if theirs < version {
                    version = theirs;
                    continue;
                }
            }
            if let Some(err) = ResponseError::try_from_code(response.error_code) {
                bail!("the broker at {} refused ApiVersions: {err}", self.addr);
            }
            self.versions = advertised;
            return Ok(());
        }
        bail!(
            "the broker at {} and strom agree on no ApiVersions version",
            self.addr
        )
    }

    /// The highest version of `R` both sides speak, at least `min_version`.
    pub fn version<R: KafkaRequest>(&self, min_version: i16) -> Result<i16> {
        let name = client::api_name::<R>();
        let Some(&theirs) = self.versions.get(&client::api_key::<R>()) else {
            bail!(
                "the broker does not support {name} (api key {}; broker {})",
                client::api_key::<R>(),
                self.addr
            );
        };
        let (our_min, our_max) = client::client_versions::<R>();
        match client::common_version::<R>(theirs) {
            Some(version) if version >= min_version => Ok(version),
            Some(version) => bail!(
                "the broker at {} speaks {name} up to v{version}; this needs v{min_version} \
                 or later",
                self.addr
            ),
            None => bail!(
                "the broker at {} speaks {name} v{}-v{}, strom speaks v{our_min}-v{our_max}",
                self.addr,
                theirs.0,
                theirs.1
            ),
        }
    }

    /// Sends `request` at the highest common version (at least `min_version`) and returns that
    /// version with the response.
    pub async fn send<R: KafkaRequest>(
        &mut self,
        request: &R,
        min_version: i16,
    ) -> Result<(i16, R::Response)> {
        let version = self.version::<R>(min_version)?;
        let response = self.send_at(request, version).await?;
        Ok((version, response))
    }

    /// Sends `request` at `version` and waits for its response.
    pub async fn send_at<R: KafkaRequest>(
        &mut self,
        request: &R,
        version: i16,
    ) -> Result<R::Response> {
        let name = client::api_name::<R>();
        let limit = self.timeouts.request;
        let exchange = async {
            let correlation_id = self.write_request(request, version).await?;
            let frame = self.read_response().await?;
            client::decode_response::<R>(frame, version, correlation_id)
                .with_context(|| format!("bad answer from the broker at {}", self.addr))
        };
        match tokio::time::timeout(limit, exchange).await {
            Ok(result) => result,
            Err(_) => bail!(
                "the broker at {} did not answer {name} within {}",
                self.addr,
                seconds(limit)
            ),
        }
    }

    async fn write_request<R: KafkaRequest>(&mut self, request: &R, version: i16) -> Result<i32> {
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        let frame = client::encode_request(request, version, correlation_id, CLIENT_ID)?;
        self.stream.write_all(&frame).await.map_err(|err| {
            anyhow!(
                "lost the connection to {}: {}",
                self.addr,
                describe_io(&err)
            )
        })?;
        Ok(correlation_id)
    }

    async fn read_response(&mut self) -> Result<Bytes> {
        match read_frame(&mut self.stream, MAX_RESPONSE_BYTES).await {
            Ok(Some(frame)) => Ok(frame),
            Ok(None) => bail!(
                "the broker at {} closed the connection without answering",
                self.addr
            ),
            Err(err) => bail!("lost the connection to {}: {err}", self.addr),
        }
    }
}

/// A broker as Metadata lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    pub id: i32,
    pub host: String,
    pub port: i32,
}

impl Broker {
    /// `host:port`, with brackets around an IPv6 host.
    pub fn addr(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The cluster as seen through a bootstrap connection: its brokers, and a connection to any of
/// them on demand.
pub struct Cluster {
    bootstrap: BrokerConnection,
    /// The node id the bootstrap connection reaches, when it is known.
    bootstrap_id: Option<i32>,
    brokers: Vec<Broker>,
    connections: HashMap<i32, BrokerConnection>,
    timeouts: Timeouts,
}

impl Cluster {
    /// Connects to the first reachable server of the comma-separated `servers` and reads the
    /// list of brokers (Metadata).
    pub async fn connect(servers: &str) -> Result<Cluster> {
        let timeouts = Timeouts::default();
        let mut bootstrap = bootstrap(servers, timeouts).await?;
        let (_, metadata) = bootstrap
            .send(&metadata_request(None, 0), 1)
            .await
            .context("cannot read the cluster's brokers (Metadata)")?;
        let mut brokers: Vec<Broker> = brokers_of(&metadata);
        brokers.sort_by_key(|b| b.id);
        let bootstrap_id = match brokers.as_slice() {
            // A single-broker cluster: whichever address it advertises, we are talking to it.
            [only] => Some(only.id),
            _ => brokers
                .iter()
                .find(|b| b.addr() == bootstrap.addr())
                .map(|b| b.id),
        };
        Ok(Cluster {
            bootstrap,
            bootstrap_id,
            brokers,
            connections: HashMap::new(),
            timeouts,
        })
    }

    /// The brokers Metadata listed, by id.
    pub fn brokers(&self) -> &[Broker] {
        &self.brokers
    }

    /// The connection that reaches any broker (for cluster-wide requests such as Metadata and
    /// FindCoordinator).
    pub fn any(&mut self) -> &mut BrokerConnection {
        &mut self.bootstrap
    }

    /// A connection to broker `id` (at `host:port` when Metadata does not list it).
    pub async fn broker(
        &mut self,
        id: i32,
        fallback: Option<(&str, i32)>,
    ) -> Result<&mut BrokerConnection> {
        if self.bootstrap_id == Some(id) {
            return Ok(&mut self.bootstrap);
        }
        let broker = match self.brokers.iter().find(|b| b.id == id) {
            Some(b) => b.clone(),
            None => match fallback {
                Some((host, port)) => Broker {
                    id,
                    host: host.to_owned(),
                    port,
                },
                None => bail!("broker {id} is not in the cluster's metadata"),
            },
        };
        if self.bootstrap_id.is_none() && broker.addr() == self.bootstrap.addr() {
            self.bootstrap_id = Some(id);
            return Ok(&mut self.bootstrap);
        }
        match self.connections.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => Ok(e.into_mut()),
            std::collections::hash_map::Entry::Vacant(e) => {
                let conn = BrokerConnection::connect(&broker.addr(), self.timeouts)
                    .await
                    .with_context(|| format!("cannot reach broker {id}"))?;
                Ok(e.insert(conn))
            }
        }
    }

    /// Metadata of one topic (its partitions and their leaders); the topic is never created.
    pub async fn topic_metadata(&mut self, topic: &str) -> Result<MetadataResponse> {
        let version = self.bootstrap.version::<MetadataRequest>(1)?;
        let (_, metadata) = self
            .bootstrap
            .send(&metadata_request(Some(topic), version), 1)
            .await
            .with_context(|| format!("cannot read the metadata of topic {topic:?}"))?;
        Ok(metadata)
    }
}

/// A Metadata request for no topic (only the brokers) or for one topic, without creating it.
fn metadata_request(topic: Option<&str>, version: i16) -> MetadataRequest {
    let topics = topic
        .map(|name| {
            vec![MetadataRequestTopic::default().with_name(Some(TopicName(str_bytes(name))))]
        })
        .unwrap_or_default();
    MetadataRequest::default()
        .with_topics(Some(topics))
        .with_allow_auto_topic_creation(version < 4)
}

fn brokers_of(metadata: &MetadataResponse) -> Vec<Broker> {
    metadata
        .brokers
        .iter()
        .map(|b| Broker {
            id: b.node_id.0,
            host: b.host.to_string(),
            port: b.port,
        })
        .collect()
}

/// Connects to the first server of the comma-separated list that answers.
pub async fn bootstrap(servers: &str, timeouts: Timeouts) -> Result<BrokerConnection> {
    let addrs: Vec<&str> = servers
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if addrs.is_empty() {
        bail!("no broker given (expected HOST:PORT,...)");
    }
    let mut failures = Vec::new();
    for addr in &addrs {
        match BrokerConnection::connect(addr, timeouts).await {
            Ok(conn) => return Ok(conn),
            Err(err) => failures.push(format!("{err:#}")),
        }
    }
    if let [only] = failures.as_slice() {
        bail!("{only}");
    }
    bail!(
        "cannot reach any broker at {}: {}",
        addrs.join(","),
        failures.join("; ")
    )
}

/// Refuses an address without a port before trying to resolve it.
fn check_address(addr: &str) -> Result<()> {
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(()),
        _ => bail!("cannot connect to {addr}: expected HOST:PORT"),
    }
}

/// An I/O error as a short lower-case phrase ("connection refused").
fn describe_io(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::ConnectionReset => "connection reset by the broker".into(),
        io::ErrorKind::TimedOut => "timed out".into(),
        io::ErrorKind::AddrNotAvailable => "address not available".into(),
        _ => {
            let text = err.to_string();
            // "failed to lookup address information: Name or service not known (os error -2)"
            let text = match text.find(" (os error") {
                Some(i) => text[..i].to_owned(),
                None => text,
            };
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => text,
            }
        }
    }
}

fn seconds(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_need_a_port() {
        assert!(check_address("127.0.0.1:9092").is_ok());
        assert!(check_address("broker-1.example:19092").is_ok());
        assert!(check_address("[::1]:9092").is_ok());
        assert!(check_address("127.0.0.1").is_err());
        assert!(check_address(":9092").is_err());
        assert!(check_address("host:port").is_err());
        assert!(check_address("host:99999").is_err());
    }

    #[test]
    fn broker_addresses_bracket_ipv6() {
        let b = |host: &str| Broker {
            id: 1,
            host: host.into(),
            port: 9092,
        };
        assert_eq!(b("localhost").addr(), "localhost:9092");
        assert_eq!(b("::1").addr(), "[::1]:9092");
    }

    #[test]
    fn io_errors_read_well() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(describe_io(&refused), "connection refused");
        let other = io::Error::other("Name or service not known (os error -2)");
        assert_eq!(describe_io(&other), "name or service not known");
    }

    #[tokio::test]
    async fn refused_connections_are_reported_plainly() {
        // Port 1 is privileged and unused on any sane test machine.
        let err = bootstrap("127.0.0.1:1", Timeouts::default())
            .await
            .err()
            .expect("connected to port 1");
        assert_eq!(
            format!("{err:#}"),
            "cannot connect to 127.0.0.1:1: connection refused"
        );
        let err = bootstrap("127.0.0.1:1, 127.0.0.1:2", Timeouts::default())
            .await
            .err()
            .expect("connected to port 1 or 2");
        assert!(format!("{err:#}").starts_with("cannot reach any broker at 127.0.0.1:1,127.0.0.1:2: cannot connect to 127.0.0.1:1: connection refused; "));
    }
}
