//! The error codes a response carries, for `strom_request_errors_total{api,error}` (Kafka's
//! `ErrorsPerSec{request,error}`): every non-zero `error_code` of a response, top-level and per
//! topic, partition, group, member or transaction, counted once per occurrence.
//!
//! [`for_each_error`] walks the response types of the APIs Strom serves; a response of an API
//! it does not list contributes its top-level `error_code` when it has one, or nothing.

use strom_protocol::messages::ResponseKind;

/// Calls `count` with every non-zero error code in `body`.
pub fn for_each_error(body: &ResponseKind, mut count: impl FnMut(i16)) {
    let mut code = |code: i16| {
        if code != 0 {
            count(code);
        }
    };
    match body {
        ResponseKind::Produce(r) => {
            for topic in &r.responses {
                topic
                    .partition_responses
                    .iter()
                    .for_each(|p| code(p.error_code));
            }
        }
        ResponseKind::Fetch(r) => {
            code(r.error_code);
            for topic in &r.responses {
                topic.partitions.iter().for_each(|p| code(p.error_code));
            }
        }
        ResponseKind::Metadata(r) => {
            code(r.error_code);
            for topic in &r.topics {
                code(topic.error_code);
                topic.partitions.iter().for_each(|p| code(p.error_code));
            }
        }
        ResponseKind::OffsetCommit(r) => {
            for topic in &r.topics {
                topic.partitions.iter().for_each(|p| code(p.error_code));
            }
        }
        ResponseKind::OffsetFetch(r) => {
            code(r.error_code);
            for topic in &r.topics {
                topic.partitions.iter().for_each(|p| code(p.error_code));
            }
            for group in &r.groups {
                code(group.error_code);
                for topic in &group.topics {
                    topic.partitions.iter().for_each(|p| code(p.error_code));
                }
            }
        }
        ResponseKind::JoinGroup(r) => code(r.error_code),
        ResponseKind::SyncGroup(r) => code(r.error_code),
        ResponseKind::Heartbeat(r) => code(r.error_code),
        ResponseKind::LeaveGroup(r) => {
            code(r.error_code);
            r.members.iter().for_each(|m| code(m.error_code));
        }
        ResponseKind::FindCoordinator(r) => {
            code(r.error_code);
            r.coordinators.iter().for_each(|c| code(c.error_code));
        }
        ResponseKind::ListOffsets(r) => {
            for topic in &r.topics {
                topic.partitions.iter().for_each(|p| code(p.error_code));
            }
        }
        ResponseKind::CreateTopics(r) => {
            for topic in &r.topics {
                code(topic.error_code);
                code(topic.topic_config_error_code);
            }
        }
        ResponseKind::DeleteTopics(r) => r.responses.iter().for_each(|t| code(t.error_code)),
        ResponseKind::InitProducerId(r) => code(r.error_code),
        ResponseKind::AddPartitionsToTxn(r) => {
            code(r.error_code);
            let topics = r
                .results_by_transaction
                .iter()
                .flat_map(|txn| &txn.topic_results)
                .chain(&r.results_by_topic_v3_and_below);
            for topic in topics {
                topic
                    .results_by_partition
                    .iter()
                    .for_each(|p| code(p.partition_error_code));
            }
        }
        ResponseKind::EndTxn(r) => code(r.error_code),
        ResponseKind::TxnOffsetCommit(r) => {
            for topic in &r.topics {
                topic.partitions.iter().for_each(|p| code(p.error_code));
            }
        }
        ResponseKind::AddOffsetsToTxn(r) => code(r.error_code),
        ResponseKind::ApiVersions(r) => code(r.error_code),
        ResponseKind::ConsumerGroupHeartbeat(r) => code(r.error_code),
        ResponseKind::ConsumerGroupDescribe(r) => r.groups.iter().for_each(|g| code(g.error_code)),
        ResponseKind::DescribeCluster(r) => code(r.error_code),
        ResponseKind::ListGroups(r) => code(r.error_code),
        ResponseKind::ListTransactions(r) => code(r.error_code),
        ResponseKind::OffsetDelete(r) => {
            code(r.error_code);
            for topic in &r.topics {
                topic.partitions.iter().for_each(|p| code(p.error_code));
            }
        }
        ResponseKind::AlterConfigs(r) => r.responses.iter().for_each(|c| code(c.error_code)),
        ResponseKind::IncrementalAlterConfigs(r) => {
            r.responses.iter().for_each(|c| code(c.error_code))
        }
        ResponseKind::DescribeConfigs(r) => r.results.iter().for_each(|c| code(c.error_code)),
        ResponseKind::CreatePartitions(r) => r.results.iter().for_each(|t| code(t.error_code)),
        ResponseKind::DeleteGroups(r) => r.results.iter().for_each(|g| code(g.error_code)),
        ResponseKind::DescribeGroups(r) => r.groups.iter().for_each(|g| code(g.error_code)),
        ResponseKind::DeleteRecords(r) => {
            for topic in &r.topics {
                topic.partitions.iter().for_each(|p| code(p.error_code));
            }
        }
        ResponseKind::DescribeProducers(r) => {
            for topic in &r.topics {
                topic.partitions.iter().for_each(|p| code(p.error_code));
            }
        }
        ResponseKind::DescribeTopicPartitions(r) => {
            for topic in &r.topics {
                code(topic.error_code);
                topic.partitions.iter().for_each(|p| code(p.error_code));
            }
        }
        ResponseKind::DescribeTransactions(r) => {
            r.transaction_states.iter().for_each(|t| code(t.error_code))
        }
        // Not served by Strom: nothing to count.
        _ => {}
    }
}
