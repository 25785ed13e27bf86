//! DescribeCluster: the cluster id, the controller and the brokers (this node).

use std::sync::Arc;

use strom_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use strom_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};
use strom_protocol::ResponseError;

use super::sb;
use crate::server::Broker;

/// DescribeCluster v1 endpoint types.
const ENDPOINT_BROKERS: i8 = 1;

pub fn handle(
    broker: &Arc<Broker>,
    request: DescribeClusterRequest,
    version: i16,
) -> DescribeClusterResponse {
    let mut response = DescribeClusterResponse::default()
        .with_cluster_id(sb(broker.cluster_id.clone()))
        .with_controller_id(BrokerId(broker.node_id));
    if version >= 1 {
        response.endpoint_type = request.endpoint_type;
        if request.endpoint_type != ENDPOINT_BROKERS {
            // Controllers are reached through their own listener in Kafka; this node serves
            // only the broker endpoint type.
            response.error_code = ResponseError::UnsupportedEndpointType.code();
            response.error_message = Some(sb(
                "The target server does not support the requested endpoint type",
            ));
            return response;
        }
    }
    response.brokers = vec![DescribeClusterBroker::default()
        .with_broker_id(BrokerId(broker.node_id))
        .with_host(sb(broker.advertised_host.clone()))
        .with_port(broker.advertised_port)];
    response
}
