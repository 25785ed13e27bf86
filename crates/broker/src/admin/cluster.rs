//! `GET /v1/cluster`: the cluster as this broker sees it (its id, the brokers and where clients
//! reach them, the controller, and how many topics and partitions are hosted), what Kafka's
//! DescribeCluster answers, for tools and the web console that speak HTTP.

use std::collections::BTreeSet;

use axum::Json;
use serde::{Deserialize, Serialize};

use super::readiness::Serving;

/// The answer of `GET /v1/cluster`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterDescription {
    pub cluster_id: String,
    /// The broker acting as controller (this one, while Strom runs as a single node).
    pub controller_id: i32,
    pub brokers: Vec<BrokerDescription>,
    /// Topics with at least one partition hosted here.
    pub topics: usize,
    pub partitions: usize,
    /// Strom's version.
    pub version: String,
}

/// One broker in [`ClusterDescription`]: its id and its advertised Kafka listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerDescription {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
}

/// `GET /v1/cluster`.
pub async fn describe(Serving(broker): Serving) -> Json<ClusterDescription> {
    let partitions = broker.replicas.all();
    let topics: BTreeSet<&str> = partitions.iter().map(|p| p.topic.as_str()).collect();
    Json(ClusterDescription {
        cluster_id: broker.cluster_id.clone(),
        controller_id: broker.node_id,
        brokers: vec![BrokerDescription {
            node_id: broker.node_id,
            host: broker.advertised_host.clone(),
            port: broker.advertised_port,
        }],
        topics: topics.len(),
        partitions: partitions.len(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    })
}
