//! Writing a transaction's end markers (Kafka's TransactionMarkerChannelManager, on one node).
//!
//! A marker is a control batch with the producer's id and epoch appended to every partition of
//! the transaction. On a `__consumer_offsets` partition it is appended under the group shard's
//! lock and the shard applies or drops the transaction's offsets in the same critical section.
//! Once every marker is durable the transaction coordinator completes the transaction. A
//! partition whose topic was deleted meanwhile is skipped. Writing a marker twice (after a
//! restart between prepare and complete) is harmless: the second one finds no open
//! transaction on the partition.

use std::sync::Arc;

use strom_coordinator::transaction::TxnMarker;
use strom_records::control::{build_marker_batch, ControlRecordType, EndTxnMarker};
use strom_storage::{AppendOrigin, StorageError};

use super::TxnShard;
use crate::error::halt;
use crate::group_coordinator::OFFSETS_TOPIC;
use crate::partition::Partition;
use crate::server::{now_ms, Broker};

/// How long to wait before writing a marker again after a failed write.
const RETRY_BACKOFF: std::time::Duration = std::time::Duration::from_millis(500);

/// Writes `marker` in the background and then completes its transaction. A transaction is
/// completed only once every partition has its marker (or is gone): a partition left without
/// one would keep its last stable offset behind the transaction forever.
pub fn spawn(broker: Arc<Broker>, shard: Arc<TxnShard>, marker: TxnMarker) {
    tokio::spawn(async move {
        let written = {
            let broker = broker.clone();
            let marker = marker.clone();
            tokio::task::spawn_blocking(move || append_all(&broker, &marker)).await
        };
        let written = match written {
            Ok(Some(written)) => written,
            // The broker is stopping: the transaction stays prepared and its markers are
            // written again at the next start.
            Ok(None) => return,
            Err(error) => halt("a transaction marker task failed", &error),
        };
        for (partition, offset) in written {
            partition.wait_durable(offset).await;
        }
        super::complete(&shard, &marker).await;
    });
}

/// Appends the marker to every partition; returns what to wait for, or `None` when the broker
/// began stopping before every marker could be written.
fn append_all(broker: &Broker, marker: &TxnMarker) -> Option<Vec<(Arc<Partition>, i64)>> {
    let now = now_ms();
    let control = EndTxnMarker {
        kind: if marker.commit {
            ControlRecordType::Commit
        } else {
            ControlRecordType::Abort
        },
        coordinator_epoch: marker.coordinator_epoch,
    };
    let batch = match build_marker_batch(marker.producer_id, marker.producer_epoch, &control, now) {
        Ok(batch) => batch,
        Err(error) => halt("cannot build a transaction marker", &error),
    };
    let mut written = Vec::with_capacity(marker.partitions.len());
    for (topic, index) in &marker.partitions {
        loop {
            if *broker.shutdown_signal().borrow() {
                return None;
            }
            let Some(partition) = broker.replicas.get(topic, *index) else {
                tracing::debug!(
                    topic,
                    partition = index,
                    "no partition for a transaction marker (topic deleted)"
                );
                break;
            };
            let appended = if topic == OFFSETS_TOPIC {
                broker.groups.append_txn_marker(
                    &partition,
                    &batch,
                    marker.producer_id,
                    marker.commit,
                    now,
                )
            } else {
                partition.append(&batch, AppendOrigin::Coordinator, now)
            };
            match appended {
                Ok(info) => {
                    written.push((partition, info.last_offset + 1));
                    break;
                }
                Err(StorageError::ProducerState(error)) => {
                    // A newer epoch or coordinator already wrote on the partition: this marker
                    // is obsolete there.
                    tracing::warn!(topic, partition = index, producer_id = marker.producer_id, %error, "transaction marker refused");
                    break;
                }
                Err(error) if error.is_fsync_failure() => {
                    halt("fsync failed writing a transaction marker", &error)
                }
                Err(error) => {
                    // A deleted partition is retired (and soon gone from the replicas); any
                    // other failure (disk full...) is retried until the write succeeds.
                    tracing::error!(topic, partition = index, %error, "cannot write a transaction marker; retrying");
                    std::thread::sleep(RETRY_BACKOFF);
                }
            }
        }
    }
    Some(written)
}
