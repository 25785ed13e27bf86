//! Routes each decoded request to its handler (Kafka's KafkaApis).

use std::net::SocketAddr;
use std::sync::Arc;

use strom_protocol::messages::{RequestKind, ResponseKind};
use strom_protocol::Request;
use tracing::Instrument;

use crate::handlers;
use crate::server::Broker;

/// What the connection does after a request. Built once per request and moved straight into
/// the encoder, so the size of the response variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Reply {
    /// Send this response.
    Response(ResponseKind),
    /// Send this Fetch response, whose record sets may be left in segment files.
    Fetch(Box<FetchReply>),
    /// Send nothing (a produce with acks=0 that succeeded).
    None,
    /// Close the connection (a produce with acks=0 that failed: the client learns of it only so).
    Close,
    /// The reply comes later (a produce waiting for its data to be durable); meanwhile the
    /// connection handles its next requests and queues their replies behind this one.
    Deferred(std::pin::Pin<Box<dyn std::future::Future<Output = Reply> + Send>>),
}

/// A Fetch response and its record sets, one per partition in the order the response lists
/// them, which take the place of the partitions' `records` fields when it is encoded (see
/// `strom_protocol::fetch_frame`).
pub struct FetchReply {
    pub response: strom_protocol::messages::FetchResponse,
    pub records: Vec<Option<strom_protocol::RecordParts>>,
}

/// Who sent a request: what handlers need beyond the request itself.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub client_id: String,
    pub peer: SocketAddr,
}

impl RequestContext {
    /// The client's host as Kafka reports it in group descriptions (`/127.0.0.1`).
    pub fn client_host(&self) -> String {
        format!("/{}", self.peer.ip())
    }
}

pub async fn handle(broker: &Arc<Broker>, request: Request, peer: SocketAddr) -> Reply {
    let context = RequestContext {
        client_id: request.client_id().to_string(),
        peer,
    };
    let version = request.api_version();
    let span = tracing::debug_span!(
        "request",
        api = ?request.api_key,
        version,
        correlation_id = request.correlation_id(),
        client_id = request.client_id()
    );
    tracing::trace!(parent: &span, "request received");
    dispatch(broker, request.body, version, &context)
        .instrument(span)
        .await
}

async fn dispatch(
    broker: &Arc<Broker>,
    body: RequestKind,
    version: i16,
    context: &RequestContext,
) -> Reply {
    match body {
        RequestKind::ApiVersions(req) => Reply::Response(ResponseKind::ApiVersions(
            handlers::api_versions::handle(&req, version),
        )),
        RequestKind::Metadata(req) => Reply::Response(ResponseKind::Metadata(
            handlers::metadata::handle(broker, req, version).await,
        )),
        RequestKind::Produce(req) => handlers::produce::handle(broker, req, version).await,
        RequestKind::Fetch(req) => Reply::Fetch(Box::new(
            handlers::fetch::handle(broker, req, version).await,
        )),
        RequestKind::ListOffsets(req) => Reply::Response(ResponseKind::ListOffsets(
            handlers::list_offsets::handle(broker, req, version).await,
        )),
        RequestKind::CreateTopics(req) => Reply::Response(ResponseKind::CreateTopics(
            handlers::create_topics::handle(broker, req, version).await,
        )),
        RequestKind::DeleteTopics(req) => Reply::Response(ResponseKind::DeleteTopics(
            handlers::delete_topics::handle(broker, req, version).await,
        )),
        RequestKind::CreatePartitions(req) => Reply::Response(ResponseKind::CreatePartitions(
            handlers::create_partitions::handle(broker, req, version).await,
        )),
        RequestKind::DescribeConfigs(req) => Reply::Response(ResponseKind::DescribeConfigs(
            handlers::describe_configs::handle(broker, req, version),
        )),
        RequestKind::AlterConfigs(req) => Reply::Response(ResponseKind::AlterConfigs(
            handlers::alter_configs::handle(broker, req, version).await,
        )),
        RequestKind::IncrementalAlterConfigs(req) => {
            Reply::Response(ResponseKind::IncrementalAlterConfigs(
                handlers::incremental_alter_configs::handle(broker, req, version).await,
            ))
        }
        RequestKind::DescribeCluster(req) => Reply::Response(ResponseKind::DescribeCluster(
            handlers::describe_cluster::handle(broker, req, version),
        )),
        RequestKind::DeleteRecords(req) => Reply::Response(ResponseKind::DeleteRecords(
            handlers::delete_records::handle(broker, req, version).await,
        )),
        RequestKind::DescribeTopicPartitions(req) => {
            Reply::Response(ResponseKind::DescribeTopicPartitions(
                handlers::describe_topic_partitions::handle(broker, req, version),
            ))
        }
        RequestKind::ConsumerGroupHeartbeat(req) => {
            Reply::Response(ResponseKind::ConsumerGroupHeartbeat(
                handlers::consumer_group_heartbeat::handle(broker, req, version, context).await,
            ))
        }
        RequestKind::ConsumerGroupDescribe(req) => {
            Reply::Response(ResponseKind::ConsumerGroupDescribe(
                handlers::consumer_group_describe::handle(broker, req, version).await,
            ))
        }
        RequestKind::InitProducerId(req) => Reply::Response(ResponseKind::InitProducerId(
            handlers::init_producer_id::handle(broker, req, version).await,
        )),
        RequestKind::AddPartitionsToTxn(req) => Reply::Response(ResponseKind::AddPartitionsToTxn(
            handlers::add_partitions_to_txn::handle(broker, req, version).await,
        )),
        RequestKind::AddOffsetsToTxn(req) => Reply::Response(ResponseKind::AddOffsetsToTxn(
            handlers::add_offsets_to_txn::handle(broker, req, version).await,
        )),
        RequestKind::EndTxn(req) => Reply::Response(ResponseKind::EndTxn(
            handlers::end_txn::handle(broker, req, version).await,
        )),
        RequestKind::TxnOffsetCommit(req) => Reply::Response(ResponseKind::TxnOffsetCommit(
            handlers::txn_offset_commit::handle(broker, req, version).await,
        )),
        RequestKind::ListTransactions(req) => Reply::Response(ResponseKind::ListTransactions(
            handlers::list_transactions::handle(broker, req, version).await,
        )),
        RequestKind::DescribeTransactions(req) => {
            Reply::Response(ResponseKind::DescribeTransactions(
                handlers::describe_transactions::handle(broker, req, version).await,
            ))
        }
        RequestKind::DescribeProducers(req) => Reply::Response(ResponseKind::DescribeProducers(
            handlers::describe_producers::handle(broker, req, version).await,
        )),
        RequestKind::FindCoordinator(req) => Reply::Response(ResponseKind::FindCoordinator(
            handlers::find_coordinator::handle(broker, req, version).await,
        )),
        RequestKind::JoinGroup(req) => Reply::Response(ResponseKind::JoinGroup(
            handlers::join_group::handle(broker, req, version, context).await,
        )),
        RequestKind::SyncGroup(req) => Reply::Response(ResponseKind::SyncGroup(
            handlers::sync_group::handle(broker, req, version).await,
        )),
        RequestKind::Heartbeat(req) => Reply::Response(ResponseKind::Heartbeat(
            handlers::heartbeat::handle(broker, req, version).await,
        )),
        RequestKind::LeaveGroup(req) => Reply::Response(ResponseKind::LeaveGroup(
            handlers::leave_group::handle(broker, req, version).await,
        )),
        RequestKind::OffsetCommit(req) => Reply::Response(ResponseKind::OffsetCommit(
            handlers::offset_commit::handle(broker, req, version).await,
        )),
        RequestKind::OffsetFetch(req) => Reply::Response(ResponseKind::OffsetFetch(
            handlers::offset_fetch::handle(broker, req, version).await,
        )),
        RequestKind::ListGroups(req) => Reply::Response(ResponseKind::ListGroups(
            handlers::list_groups::handle(broker, req, version).await,
        )),
        RequestKind::DescribeGroups(req) => Reply::Response(ResponseKind::DescribeGroups(
            handlers::describe_groups::handle(broker, req, version).await,
        )),
        RequestKind::DeleteGroups(req) => Reply::Response(ResponseKind::DeleteGroups(
            handlers::delete_groups::handle(broker, req, version).await,
        )),
        RequestKind::OffsetDelete(req) => Reply::Response(ResponseKind::OffsetDelete(
            handlers::offset_delete::handle(broker, req, version).await,
        )),
        other => {
            // Decoding already refuses APIs outside the implemented table; reaching this means
            // the table and this match disagree.
            tracing::error!(request = ?std::mem::discriminant(&other), "no handler for an advertised api");
            Reply::Close
        }
    }
}

/// Runs blocking work (metadata-log fsyncs, file creation) off the async runtime.
pub async fn blocking<T: Send + 'static>(
    broker: &Arc<Broker>,
    work: impl FnOnce(&Broker) -> T + Send + 'static,
) -> T {
    let broker = broker.clone();
    match tokio::task::spawn_blocking(move || work(&broker)).await {
        Ok(value) => value,
        Err(error) => crate::error::halt("a blocking broker task failed", &error),
    }
}
