//! The Strom broker: the Kafka listener, one handler per Kafka API, the partitions this node
//! hosts, and the controller that changes cluster metadata.
//!
//! Request flow: [`server`] accepts connections; [`connection`] reads frames and answers them in
//! order; [`apis`] routes each decoded request to its handler in [`handlers`]; handlers work on
//! [`replica_manager::ReplicaManager`] (partitions and their logs) and
//! [`controller::Controller`] (topics, partitions and configs as metadata-log records).
//! [`admin`] serves the admin HTTP API, [`metrics`] the Prometheus metrics it exposes.

pub mod admin;
pub mod apis;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod controller;
pub mod engine_config;
pub mod error;
pub mod group_coordinator;
pub mod handlers;
pub mod log_cleaner;
pub mod metrics;
pub mod partition;
pub mod replica_manager;
pub mod send_frame;
pub mod server;
pub mod topic_name;
pub mod txn_coordinator;

pub use error::BrokerError;
pub use server::{Broker, BrokerHandle};
