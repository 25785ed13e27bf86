//! ListOffsets: the earliest, latest, max-timestamp or first-at-a-time offset of partitions.

use std::sync::Arc;

use strom_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use strom_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use strom_protocol::ResponseError;

use crate::partition::Partition;
use crate::server::Broker;

/// Special timestamps of ListOffsets.
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

pub async fn handle(
    broker: &Arc<Broker>,
    request: ListOffsetsRequest,
    version: i16,
) -> ListOffsetsResponse {
    let read_committed = request.isolation_level == 1;
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in topic.partitions {
            let mut response = ListOffsetsPartitionResponse::default()
                .with_partition_index(p.partition_index)
                .with_timestamp(-1)
                .with_offset(-1);
            let Some(partition) = broker.replicas.get(&topic.name, p.partition_index) else {
                response.error_code = ResponseError::UnknownTopicOrPartition.code();
                partitions.push(response);
                continue;
            };
            match lookup(
                &partition,
                p.current_leader_epoch,
                p.timestamp,
                read_committed,
            )
            .await
            {
                Ok((offset, timestamp)) => {
                    response.offset = offset;
                    response.timestamp = timestamp;
                    if version >= 4 {
                        response.leader_epoch = partition.leader_epoch();
                    }
                }
                Err(error) => response.error_code = error.code(),
            }
            partitions.push(response);
        }
        topics.push(
            ListOffsetsTopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions),
        );
    }
    ListOffsetsResponse::default().with_topics(topics)
}

async fn lookup(
    partition: &Arc<Partition>,
    current_leader_epoch: i32,
    timestamp: i64,
    read_committed: bool,
) -> Result<(i64, i64), ResponseError> {
    if current_leader_epoch >= 0 {
        let epoch = partition.leader_epoch();
        if current_leader_epoch < epoch {
            return Err(ResponseError::FencedLeaderEpoch);
        }
        if current_leader_epoch > epoch {
            return Err(ResponseError::UnknownLeaderEpoch);
        }
    }
    let latest = if read_committed {
        partition.last_stable_offset()
    } else {
        partition.high_watermark()
    };
    match timestamp {
        LATEST => Ok((latest, -1)),
        EARLIEST | EARLIEST_LOCAL => Ok((partition.log_start_offset(), -1)),
        // Nothing is tiered: the latest tiered offset is "none yet".
        LATEST_TIERED => Ok((-1, -1)),
        MAX_TIMESTAMP | 0.. => {
            let partition = partition.clone();
            let found = tokio::task::spawn_blocking(move || {
                if timestamp == MAX_TIMESTAMP {
                    partition.max_timestamp_offset()
                } else {
                    partition.offset_for_timestamp(timestamp)
                }
            })
            .await
            .map_err(|_| ResponseError::UnknownServerError)?;
            match found {
                Ok(Some((offset, ts))) if offset < latest => Ok((offset, ts)),
                Ok(_) => Ok((-1, -1)),
                Err(error) => {
                    tracing::error!(%error, "offset lookup by timestamp failed");
                    Err(ResponseError::KafkaStorageError)
                }
            }
        }
        _ => Err(ResponseError::InvalidRequest),
    }
}
