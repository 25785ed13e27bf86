//! DeleteRecords: move partitions' log start offsets forward.

use std::sync::Arc;

use strom_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use strom_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
use strom_protocol::ResponseError;
use strom_storage::StorageError;

use crate::server::Broker;

/// An offset of -1 means "up to the high watermark".
const HIGH_WATERMARK: i64 = -1;

pub async fn handle(
    broker: &Arc<Broker>,
    request: DeleteRecordsRequest,
    _version: i16,
) -> DeleteRecordsResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in topic.partitions {
            let mut result = DeleteRecordsPartitionResult::default()
                .with_partition_index(p.partition_index)
                .with_low_watermark(-1);
            match broker.replicas.get(&topic.name, p.partition_index) {
                None => result.error_code = ResponseError::UnknownTopicOrPartition.code(),
                Some(partition) => {
                    let high_watermark = partition.high_watermark();
                    let offset = if p.offset == HIGH_WATERMARK {
                        high_watermark
                    } else {
                        p.offset
                    };
                    if !partition.config().cleanup_policy.delete {
                        // Kafka refuses to move the start of a log that only compaction trims.
                        result.error_code = ResponseError::PolicyViolation.code();
                    } else if offset < 0 || offset > high_watermark {
                        result.error_code = ResponseError::OffsetOutOfRange.code();
                    } else {
                        let deleted = tokio::task::spawn_blocking(move || {
                            partition.delete_records_before(offset)
                        })
                        .await;
                        match deleted {
                            Ok(Ok(low_watermark)) => result.low_watermark = low_watermark,
                            Ok(Err(StorageError::OffsetOutOfRange { .. })) => {
                                result.error_code = ResponseError::OffsetOutOfRange.code()
                            }
                            Ok(Err(error)) if error.is_fsync_failure() => {
                                crate::error::halt("fsync during DeleteRecords failed", &error)
                            }
                            Ok(Err(error)) => {
                                tracing::error!(%error, "DeleteRecords failed");
                                result.error_code = ResponseError::KafkaStorageError.code();
                            }
                            Err(_) => result.error_code = ResponseError::UnknownServerError.code(),
                        }
                    }
                }
            }
            partitions.push(result);
        }
        topics.push(
            DeleteRecordsTopicResult::default()
                .with_name(topic.name)
                .with_partitions(partitions),
        );
    }
    DeleteRecordsResponse::default().with_topics(topics)
}
