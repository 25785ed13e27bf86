//! The shard's configuration: the `group.*`, `group.consumer.*` and `offsets.*` broker settings
//! it obeys.

/// Settings of one group coordinator shard, named after Kafka's broker configs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardConfig {
    /// `group.min.session.timeout.ms`: the smallest session timeout a member may ask for.
    pub group_min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`: the largest session timeout a member may ask for.
    pub group_max_session_timeout_ms: i32,
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of an empty group waits
    /// for more members before completing the join phase.
    pub group_initial_rebalance_delay_ms: i32,
    /// `offsets.retention.minutes` in milliseconds: how long committed offsets outlive their
    /// group (see [`crate::offsets`] for when the clock starts).
    pub offsets_retention_ms: i64,
    /// `offsets.retention.check.interval.ms`: how often `poll` looks for expired offsets.
    pub offsets_retention_check_interval_ms: i64,
    /// `offset.metadata.max.bytes`: the largest metadata string of a committed offset.
    pub offset_metadata_max_bytes: usize,
    /// `group.max.size`: the largest number of members of a classic group.
    pub group_max_size: usize,
    /// How long a new member's `JoinGroup` may wait in the join phase before the member is
    /// dropped (Kafka's fixed `classicGroupNewMemberJoinTimeoutMs`, 5 minutes).
    pub group_new_member_join_timeout_ms: i64,
    /// `group.consumer.session.timeout.ms`: how long a consumer group member (KIP-848) lives
    /// without a heartbeat.
    pub consumer_session_timeout_ms: i32,
    /// `group.consumer.heartbeat.interval.ms`: the heartbeat interval told to consumer group
    /// members.
    pub consumer_heartbeat_interval_ms: i32,
    /// `group.consumer.max.size`: the largest number of members of a consumer group.
    pub consumer_group_max_size: usize,
}

impl Default for ShardConfig {
    fn default() -> Self {
        ShardConfig {
            group_min_session_timeout_ms: 6_000,
            group_max_session_timeout_ms: 1_800_000,
            group_initial_rebalance_delay_ms: 3_000,
            offsets_retention_ms: 7 * 24 * 60 * 60 * 1000,
            offsets_retention_check_interval_ms: 600_000,
            offset_metadata_max_bytes: 4096,
            group_max_size: i32::MAX as usize,
            group_new_member_join_timeout_ms: 300_000,
            consumer_session_timeout_ms: 45_000,
            consumer_heartbeat_interval_ms: 5_000,
            consumer_group_max_size: i32::MAX as usize,
        }
    }
}
