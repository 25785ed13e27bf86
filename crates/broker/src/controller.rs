//! The controller: every change to topics, partitions and configs goes through here, is written
//! to the metadata log as records, and is then applied to the partitions this broker hosts.
//!
//! On one node the controller is local and synchronous. With the cluster it becomes the Raft
//! leader's job, and the rest of the broker keeps reacting to the same records.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use strom_metadata::{ConfigResource, MetadataImage, MetadataLog, MetadataRecord, Uuid};
use strom_protocol::ResponseError;

use crate::config::{self, AlterOp, BrokerConfig, DynamicLevel, TopicConfig};
use crate::error::{halt, ApiError, BrokerError};
use crate::replica_manager::ReplicaManager;
use crate::topic_name;

/// What a client asked to create.
#[derive(Debug, Clone)]
pub struct NewTopic {
    pub name: String,
    /// -1 means the broker default (`num.partitions`).
    pub num_partitions: i32,
    /// -1 means the broker default (`default.replication.factor`).
    pub replication_factor: i16,
    /// Manual assignment: replicas per partition index.
    pub assignments: Vec<(i32, Vec<i32>)>,
    pub configs: BTreeMap<String, String>,
}

/// A topic as created.
#[derive(Debug, Clone)]
pub struct CreatedTopic {
    pub topic_id: Uuid,
    pub num_partitions: i32,
    pub replication_factor: i16,
}

/// Which topic a deletion names.
#[derive(Debug, Clone)]
pub enum TopicRef {
    Name(String),
    Id(Uuid),
}

pub struct Controller {
    node_id: i32,
    broker_config: Arc<RwLock<BrokerConfig>>,
    log: Mutex<MetadataLog>,
    image: RwLock<Arc<MetadataImage>>,
    replicas: Arc<ReplicaManager>,
    /// The block of producer ids this broker hands out: `[next, end)`.
    producer_ids: Mutex<(i64, i64)>,
}

/// Producer ids reserved per metadata record (Kafka's ProducerIdManager block size).
const PRODUCER_ID_BLOCK_SIZE: i64 = 1000;

impl Controller {
    /// Replays the metadata log and opens (recovering) the log of every partition it names.
    pub fn start(
        broker_config: Arc<RwLock<BrokerConfig>>,
        replicas: Arc<ReplicaManager>,
    ) -> Result<Self, BrokerError> {
        let (node_id, data_dir) = {
            let config = broker_config.read();
            (config.node_id(), config.data_dir())
        };
        let log = MetadataLog::open(&data_dir)?;
        let image = Arc::new(log.image().clone());
        // Dynamic broker configs (cluster-wide and this node's) live in the metadata log too.
        for (resource, level) in [
            (ConfigResource::Broker(None), DynamicLevel::ClusterDefault),
            (ConfigResource::Broker(Some(node_id)), DynamicLevel::Broker),
        ] {
            if let Some(dynamic) = image.configs(&resource) {
                let mut config = broker_config.write();
                for (name, value) in dynamic {
                    if let Err(error) = config.set_dynamic_at(level, name, Some(value)) {
                        tracing::warn!(name, %error, "ignoring a stored dynamic broker config");
                    }
                }
            }
        }
        let controller = Self {
            node_id,
            broker_config,
            log: Mutex::new(log),
            image: RwLock::new(image.clone()),
            replicas,
            producer_ids: Mutex::new((0, 0)),
        };
        for topic in image.topics() {
            let config = controller.topic_config(&image, &topic.name);
            for partition in topic.partitions.values() {
                controller.replicas.open_partition(
                    &topic.name,
                    topic.topic_id,
                    partition.partition,
                    partition.leader_epoch,
                    config.clone(),
                )?;
            }
        }
        let hosted: HashSet<String> = image
            .topics()
            .flat_map(|t| {
                t.partitions
                    .keys()
                    .map(move |p| format!("{}-{}", t.name, p))
            })
            .collect();
        controller
            .replicas
            .remove_stray_logs(&|dir| hosted.contains(dir));
        Ok(controller)
    }

    /// The current metadata image (cheap to clone; replaced on every change).
    pub fn image(&self) -> Arc<MetadataImage> {
        self.image.read().clone()
    }

    pub fn broker_config(&self) -> &Arc<RwLock<BrokerConfig>> {
        &self.broker_config
    }

    /// The effective config of a topic: its overrides over the broker's values.
    pub fn topic_config(&self, image: &MetadataImage, topic: &str) -> Arc<TopicConfig> {
        Arc::new(TopicConfig::resolve(
            &image.topic_configs(topic),
            &self.broker_config.read(),
        ))
    }

    /// Creates a coordinator's internal topic (`__consumer_offsets`, `__transaction_state`:
    /// compacted, `segment_bytes` segments) unless it exists, and returns its partitions as this broker
    /// hosts them, by index.
    pub fn ensure_coordinator_topic(
        &self,
        name: &str,
        partitions: i32,
        compression: &str,
        segment_bytes: i32,
    ) -> Result<Vec<(i32, Arc<crate::partition::Partition>)>, ApiError> {
        if self.image().topic(name).is_none() {
            let configs = BTreeMap::from([
                ("cleanup.policy".to_string(), "compact".to_string()),
                ("compression.type".to_string(), compression.to_string()),
                ("segment.bytes".to_string(), segment_bytes.to_string()),
            ]);
            let request = NewTopic {
                name: name.to_string(),
                num_partitions: partitions,
                replication_factor: -1,
                assignments: Vec::new(),
                configs,
            };
            match self.create_topics(&[request], false).pop() {
                Some(Ok(_)) => tracing::info!(partitions, "created {name}"),
                Some(Err(error)) if error.code == ResponseError::TopicAlreadyExists.code() => {}
                Some(Err(error)) => return Err(error),
                None => return Err(ApiError::new(ResponseError::CoordinatorNotAvailable)),
            }
        }
        let image = self.image();
        let topic = image
            .topic(name)
            .ok_or_else(|| ApiError::new(ResponseError::CoordinatorNotAvailable))?;
        topic
            .partitions
            .keys()
            .map(|&index| {
                self.replicas
                    .get(name, index)
                    .map(|partition| (index, partition))
                    .ok_or_else(|| ApiError::new(ResponseError::CoordinatorNotAvailable))
            })
            .collect()
    }

    /// Hands out the next producer id. Ids come from blocks recorded in the metadata log before
    /// any of them is used, so an id is never handed out twice, across restarts included.
    pub fn allocate_producer_id(&self) -> Result<i64, ApiError> {
        let mut ids = self.producer_ids.lock();
        if ids.0 >= ids.1 {
            let mut log = self.log.lock();
            let start = log.image().next_producer_id();
            let Some(end) = start.checked_add(PRODUCER_ID_BLOCK_SIZE) else {
                return Err(ApiError::with_message(
                    ResponseError::UnknownServerError,
                    "producer ids are exhausted",
                ));
            };
            self.commit(
                &mut log,
                &[MetadataRecord::ProducerIds {
                    broker_id: self.node_id,
                    next_producer_id: end,
                }],
            );
            *ids = (start, end);
        }
        let id = ids.0;
        ids.0 += 1;
        Ok(id)
    }

    fn commit(&self, log: &mut MetadataLog, records: &[MetadataRecord]) -> Arc<MetadataImage> {
        if let Err(error) = log.append(records) {
            halt("cannot write the metadata log", &error);
        }
        let image = Arc::new(log.image().clone());
        *self.image.write() = image.clone();
        image
    }

    /// Checks a create request against the current image; returns the resolved partition count,
    /// replication factor and replica assignment.
    fn check_new_topic(
        &self,
        image: &MetadataImage,
        topic: &NewTopic,
        also_creating: &HashSet<String>,
    ) -> Result<(i32, i16, Vec<Vec<i32>>), ApiError> {
        if let Err(message) = topic_name::validate(&topic.name) {
            return Err(ApiError::with_message(
                ResponseError::InvalidTopicException,
                message,
            ));
        }
        if image.topic(&topic.name).is_some() || also_creating.contains(&topic.name) {
            return Err(ApiError::with_message(
                ResponseError::TopicAlreadyExists,
                format!("Topic '{}' already exists.", topic.name),
            ));
        }
        let key = topic_name::collision_key(&topic.name);
        if let Some(existing) = image
            .topics()
            .map(|t| t.name.as_str())
            .chain(also_creating.iter().map(String::as_str))
            .find(|other| topic_name::collision_key(other) == key)
        {
            return Err(ApiError::with_message(
                ResponseError::InvalidTopicException,
                format!(
                    "Topic '{}' collides with existing topic: {existing}",
                    topic.name
                ),
            ));
        }
        let broker = self.broker_config.read();
        if !topic.assignments.is_empty() {
            if topic.num_partitions != -1 || topic.replication_factor != -1 {
                return Err(ApiError::with_message(
                    ResponseError::InvalidRequest,
                    "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.",
                ));
            }
            check_partition_count(topic.assignments.len().min(i32::MAX as usize) as i32)?;
            let mut assignment = Vec::new();
            for (expected, (index, replicas)) in topic.assignments.iter().enumerate() {
                if *index != expected as i32 {
                    return Err(ApiError::with_message(
                        ResponseError::InvalidReplicaAssignment,
                        "partitions should be a consecutive 0-based integer sequence",
                    ));
                }
                self.check_replicas(replicas)?;
                assignment.push(replicas.clone());
            }
            let replication = assignment.first().map(|r| r.len()).unwrap_or(1) as i16;
            config::validate_topic_overrides_with(&topic.configs, &broker).map_err(config_error)?;
            return Ok((assignment.len() as i32, replication, assignment));
        }
        let partitions = if topic.num_partitions == -1 {
            broker.num_partitions()
        } else {
            topic.num_partitions
        };
        if partitions <= 0 {
            return Err(ApiError::with_message(
                ResponseError::InvalidPartitions,
                "Number of partitions must be larger than 0.",
            ));
        }
        check_partition_count(partitions)?;
        let replication = if topic.replication_factor == -1 {
            broker.default_replication_factor()
        } else {
            topic.replication_factor
        };
        if replication <= 0 {
            return Err(ApiError::with_message(
                ResponseError::InvalidReplicationFactor,
                "Replication factor must be larger than 0.",
            ));
        }
        if replication > 1 {
            return Err(ApiError::with_message(
                ResponseError::InvalidReplicationFactor,
                format!(
                    "Unable to replicate the partition {replication} time(s): The target replication factor of {replication} cannot be reached because only 1 broker(s) are registered."
                ),
            ));
        }
        config::validate_topic_overrides_with(&topic.configs, &broker).map_err(config_error)?;
        let assignment = (0..partitions).map(|_| vec![self.node_id]).collect();
        Ok((partitions, replication, assignment))
    }

    fn check_replicas(&self, replicas: &[i32]) -> Result<(), ApiError> {
        if replicas.is_empty() {
            return Err(ApiError::with_message(
                ResponseError::InvalidReplicaAssignment,
                "The manual partition assignment includes a partition with no replicas.",
            ));
        }
        if let Some(unknown) = replicas.iter().find(|r| **r != self.node_id) {
            return Err(ApiError::with_message(
                ResponseError::InvalidReplicaAssignment,
                format!("The manual partition assignment includes broker {unknown}, but no such broker is registered."),
            ));
        }
        if replicas.len() > 1 {
            return Err(ApiError::with_message(
                ResponseError::InvalidReplicaAssignment,
                "The manual partition assignment includes the same broker more than once.",
            ));
        }
        Ok(())
    }

    /// Creates topics (or only validates them). One result per requested topic, in order.
    pub fn create_topics(
        &self,
        topics: &[NewTopic],
        validate_only: bool,
    ) -> Vec<Result<CreatedTopic, ApiError>> {
        let mut log = self.log.lock();
        let image = Arc::new(log.image().clone());
        let mut creating = HashSet::new();
        let mut results = Vec::new();
        let mut records = Vec::new();
        let mut opened = Vec::new();
        for topic in topics {
            match self.check_new_topic(&image, topic, &creating) {
                Err(error) => results.push(Err(error)),
                Ok((partitions, replication, assignment)) => {
                    let topic_id = Uuid::new_v4();
                    if !validate_only {
                        creating.insert(topic.name.clone());
                        records.push(MetadataRecord::Topic {
                            name: topic.name.clone(),
                            topic_id,
                        });
                        for (name, value) in &topic.configs {
                            records.push(MetadataRecord::Config {
                                resource: ConfigResource::Topic(topic.name.clone()),
                                name: name.clone(),
                                value: Some(value.clone()),
                            });
                        }
                        for (index, replicas) in assignment.iter().enumerate() {
                            records.push(MetadataRecord::Partition {
                                topic_id,
                                partition: index as i32,
                                replicas: replicas.clone(),
                                isr: replicas.clone(),
                                leader: self.node_id,
                                leader_epoch: 0,
                            });
                        }
                        opened.push((topic.name.clone(), topic_id, partitions));
                    }
                    results.push(Ok(CreatedTopic {
                        topic_id,
                        num_partitions: partitions,
                        replication_factor: replication,
                    }));
                }
            }
        }
        if records.is_empty() {
            return results;
        }
        let image = self.commit(&mut log, &records);
        for (name, topic_id, partitions) in opened {
            let config = self.topic_config(&image, &name);
            for index in 0..partitions {
                if let Err(error) =
                    self.replicas
                        .open_partition(&name, topic_id, index, 0, config.clone())
                {
                    halt("cannot create a partition log", &error);
                }
            }
            tracing::info!(topic = %name, %topic_id, partitions, "topic created");
        }
        results
    }

    /// Creates `topic` with the broker defaults if it does not exist (auto-creation). Returns
    /// an error only when the name is illegal or the creation failed.
    pub fn ensure_topic(&self, topic: &str) -> Result<(), ApiError> {
        if self.image().topic(topic).is_some() {
            return Ok(());
        }
        let request = NewTopic {
            name: topic.to_string(),
            num_partitions: -1,
            replication_factor: -1,
            assignments: Vec::new(),
            configs: BTreeMap::new(),
        };
        match self.create_topics(&[request], false).pop() {
            Some(Ok(_)) => Ok(()),
            Some(Err(error)) if error.code == ResponseError::TopicAlreadyExists.code() => Ok(()),
            Some(Err(error)) => Err(error),
            None => Err(ApiError::new(ResponseError::UnknownServerError)),
        }
    }

    /// Deletes topics. One result per requested topic: its name and id, or an error.
    pub fn delete_topics(&self, topics: &[TopicRef]) -> Vec<Result<(String, Uuid), ApiError>> {
        if !self.broker_config.read().delete_topic_enable() {
            return topics
                .iter()
                .map(|_| {
                    Err(ApiError::with_message(
                        ResponseError::TopicDeletionDisabled,
                        "Topic deletion is disabled.",
                    ))
                })
                .collect();
        }
        let mut log = self.log.lock();
        let mut results = Vec::new();
        let mut deleting = HashSet::new();
        for topic in topics {
            let image = log.image();
            let found = match topic {
                TopicRef::Name(name) => image
                    .topic(name)
                    .map(|t| (t.name.clone(), t.topic_id))
                    .ok_or_else(|| ApiError::new(ResponseError::UnknownTopicOrPartition)),
                TopicRef::Id(id) => image
                    .topic_by_id(id)
                    .map(|t| (t.name.clone(), t.topic_id))
                    .ok_or_else(|| ApiError::new(ResponseError::UnknownTopicId)),
            };
            let found = match found {
                Ok((name, _)) if topic_name::is_internal(&name) => Err(ApiError::with_message(
                    ResponseError::InvalidTopicException,
                    format!("Topic {name} is an internal topic and cannot be deleted"),
                )),
                Ok((name, id)) if deleting.contains(&id) => Ok((name, id)),
                Ok((name, id)) => {
                    deleting.insert(id);
                    self.commit(&mut log, &[MetadataRecord::RemoveTopic { topic_id: id }]);
                    self.replicas.delete_topic(&name);
                    tracing::info!(topic = %name, topic_id = %id, "topic deleted");
                    Ok((name, id))
                }
                Err(error) => Err(error),
            };
            results.push(found);
        }
        results
    }

    /// Raises the partition count of a topic to `count`.
    pub fn create_partitions(
        &self,
        topic: &str,
        count: i32,
        assignments: Option<Vec<Vec<i32>>>,
        validate_only: bool,
    ) -> Result<(), ApiError> {
        let mut log = self.log.lock();
        let Some(existing) = log.image().topic(topic).cloned() else {
            return Err(ApiError::with_message(
                ResponseError::UnknownTopicOrPartition,
                format!("The topic '{topic}' does not exist."),
            ));
        };
        let current = existing.partitions.len() as i32;
        if count < current {
            return Err(ApiError::with_message(
                ResponseError::InvalidPartitions,
                format!("The topic {topic} currently has {current} partition(s); {count} would not be an increase."),
            ));
        }
        if count == current {
            return Err(ApiError::with_message(
                ResponseError::InvalidPartitions,
                format!("Topic already has {current} partition(s)."),
            ));
        }
        check_partition_count(count - current)?;
        let new_count = (count - current) as usize;
        let assignment = match assignments {
            Some(assignments) => {
                if assignments.len() != new_count {
                    return Err(ApiError::with_message(
                        ResponseError::InvalidReplicaAssignment,
                        format!("Attempted to add {new_count} additional partition(s), but only {} assignment(s) were specified.", assignments.len()),
                    ));
                }
                for replicas in &assignments {
                    self.check_replicas(replicas)?;
                }
                assignments
            }
            None => (0..new_count).map(|_| vec![self.node_id]).collect(),
        };
        if validate_only {
            return Ok(());
        }
        let records: Vec<MetadataRecord> = assignment
            .iter()
            .enumerate()
            .map(|(i, replicas)| MetadataRecord::Partition {
                topic_id: existing.topic_id,
                partition: current + i as i32,
                replicas: replicas.clone(),
                isr: replicas.clone(),
                leader: self.node_id,
                leader_epoch: 0,
            })
            .collect();
        let image = self.commit(&mut log, &records);
        let config = self.topic_config(&image, topic);
        for index in current..count {
            if let Err(error) =
                self.replicas
                    .open_partition(topic, existing.topic_id, index, 0, config.clone())
            {
                halt("cannot create a partition log", &error);
            }
        }
        tracing::info!(topic, from = current, to = count, "partitions added");
        Ok(())
    }

    /// Replaces (when `replace` is set, AlterConfigs) or edits (IncrementalAlterConfigs) the
    /// overrides of a topic. `changes` maps names to their new value, `None` deleting it.
    pub fn alter_topic_configs(
        &self,
        topic: &str,
        changes: &BTreeMap<String, Option<String>>,
        replace: bool,
        validate_only: bool,
    ) -> Result<(), ApiError> {
        self.update_topic_configs(topic, validate_only, |current| {
            Ok(apply_changes(current, changes, replace))
        })
    }

    /// IncrementalAlterConfigs on a topic: the operations apply to the overrides as they are
    /// under the metadata lock, so concurrent APPENDs to one list config both land.
    pub fn incremental_alter_topic_configs(
        &self,
        topic: &str,
        ops: &[(String, AlterOp, Option<String>)],
        validate_only: bool,
    ) -> Result<(), ApiError> {
        self.update_topic_configs(topic, validate_only, |current| {
            let ops: Vec<(&str, AlterOp, Option<&str>)> = ops
                .iter()
                .map(|(name, op, value)| (name.as_str(), *op, value.as_deref()))
                .collect();
            config::apply_incremental(current, &ops).map_err(config_error)
        })
    }

    /// Replaces a topic's overrides by what `next_of` makes of the current ones, under the
    /// metadata lock; validates them and writes only the difference.
    fn update_topic_configs(
        &self,
        topic: &str,
        validate_only: bool,
        next_of: impl FnOnce(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>, ApiError>,
    ) -> Result<(), ApiError> {
        let mut log = self.log.lock();
        if log.image().topic(topic).is_none() {
            return Err(ApiError::with_message(
                ResponseError::UnknownTopicOrPartition,
                format!("Topic {topic} does not exist."),
            ));
        }
        let current = log.image().topic_configs(topic);
        let next = next_of(&current)?;
        config::validate_topic_overrides_with(&next, &self.broker_config.read())
            .map_err(config_error)?;
        if validate_only {
            return Ok(());
        }
        let records = config_records(&ConfigResource::Topic(topic.to_string()), &current, &next);
        if records.is_empty() {
            return Ok(());
        }
        let image = self.commit(&mut log, &records);
        self.replicas
            .update_topic_config(topic, self.topic_config(&image, topic));
        Ok(())
    }

    /// Changes dynamic broker configs: cluster-wide (`node` is `None`, resource name "") or this
    /// node's own (resource name = node id), which win over the cluster-wide ones.
    pub fn alter_broker_configs(
        &self,
        node: Option<i32>,
        changes: &BTreeMap<String, Option<String>>,
        replace: bool,
        validate_only: bool,
    ) -> Result<(), ApiError> {
        let mut log = self.log.lock();
        let resource = ConfigResource::Broker(node);
        let level = if node.is_some() {
            DynamicLevel::Broker
        } else {
            DynamicLevel::ClusterDefault
        };
        let current = log.image().configs(&resource).cloned().unwrap_or_default();
        let next = apply_changes(&current, changes, replace);
        {
            // Validate on a copy, so a bad value changes nothing.
            let mut trial = self.broker_config.read().clone();
            for name in current.keys().filter(|n| !next.contains_key(*n)) {
                trial
                    .set_dynamic_at(level, name, None)
                    .map_err(config_error)?;
            }
            for (name, value) in &next {
                trial
                    .set_dynamic_at(level, name, Some(value))
                    .map_err(config_error)?;
            }
            if validate_only {
                return Ok(());
            }
            *self.broker_config.write() = trial;
        }
        let records = config_records(&resource, &current, &next);
        if records.is_empty() {
            return Ok(());
        }
        let image = self.commit(&mut log, &records);
        for topic in image.topics() {
            self.replicas
                .update_topic_config(&topic.name, self.topic_config(&image, &topic.name));
        }
        Ok(())
    }
}

/// The overrides after `changes` (`None` removes a name); `replace` starts from nothing
/// (AlterConfigs) rather than from `current` (IncrementalAlterConfigs).
fn apply_changes(
    current: &BTreeMap<String, String>,
    changes: &BTreeMap<String, Option<String>>,
    replace: bool,
) -> BTreeMap<String, String> {
    let mut next = if replace {
        BTreeMap::new()
    } else {
        current.clone()
    };
    for (name, value) in changes {
        match value {
            Some(value) => {
                next.insert(name.clone(), value.clone());
            }
            None => {
                next.remove(name);
            }
        }
    }
    next
}

/// The config records that turn `current` into `next` on `resource`.
fn config_records(
    resource: &ConfigResource,
    current: &BTreeMap<String, String>,
    next: &BTreeMap<String, String>,
) -> Vec<MetadataRecord> {
    let removed = current
        .keys()
        .filter(|name| !next.contains_key(*name))
        .map(|name| (name, None));
    let set = next
        .iter()
        .filter(|(name, value)| current.get(*name) != Some(*value))
        .map(|(name, value)| (name, Some(value.clone())));
    removed
        .chain(set)
        .map(|(name, value)| MetadataRecord::Config {
            resource: resource.clone(),
            name: name.clone(),
            value,
        })
        .collect()
}

/// Most partitions one request may create, as Kafka's controller limits it.
pub const MAX_PARTITIONS_PER_REQUEST: i32 = 10_000;

fn check_partition_count(partitions: i32) -> Result<(), ApiError> {
    if partitions > MAX_PARTITIONS_PER_REQUEST {
        return Err(ApiError::with_message(
            ResponseError::PolicyViolation,
            format!(
                "Excessively large number of partitions per request: {partitions} (at most {MAX_PARTITIONS_PER_REQUEST})."
            ),
        ));
    }
    Ok(())
}

fn config_error(error: config::ConfigError) -> ApiError {
    ApiError {
        code: error.kafka_error_code(),
        message: Some(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn config_changes_become_the_records_of_their_difference() {
        let current = map(&[("retention.ms", "1000"), ("segment.ms", "5000")]);
        let changes: BTreeMap<String, Option<String>> = [
            ("retention.ms".to_string(), Some("2000".to_string())),
            ("cleanup.policy".to_string(), Some("compact".to_string())),
        ]
        .into_iter()
        .collect();
        let incremental = apply_changes(&current, &changes, false);
        assert_eq!(
            incremental,
            map(&[
                ("cleanup.policy", "compact"),
                ("retention.ms", "2000"),
                ("segment.ms", "5000")
            ])
        );
        let replaced = apply_changes(&current, &changes, true);
        assert_eq!(
            replaced,
            map(&[("cleanup.policy", "compact"), ("retention.ms", "2000")])
        );
        let resource = ConfigResource::Topic("t".into());
        let records = config_records(&resource, &current, &replaced);
        let summary: Vec<(String, Option<String>)> = records
            .into_iter()
            .map(|r| match r {
                MetadataRecord::Config { name, value, .. } => (name, value),
                other => panic!("unexpected record {other:?}"),
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("segment.ms".to_string(), None),
                ("cleanup.policy".to_string(), Some("compact".to_string())),
                ("retention.ms".to_string(), Some("2000".to_string())),
            ]
        );
        assert!(config_records(&resource, &current, &current).is_empty());
    }
}
