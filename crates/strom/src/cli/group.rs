//! `strom group`: list, describe and delete consumer groups and reset their committed offsets,
//! in the spirit of `rpk group` and Kafka's `kafka-consumer-groups.sh`.
//!
//! Kafka APIs used: ListGroups and DescribeGroups (through librdkafka's group list), OffsetFetch
//! and OffsetCommit (through a consumer that carries the group's id but never joins it),
//! ListOffsets (watermarks and offsets by time), DeleteGroups (admin client).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::metadata::Metadata;
use rdkafka::{Offset, TopicPartitionList};

use super::connection::{
    admin_options, find_topic, is_internal, ConnectionArgs, KafkaContext as _, REQUEST_TIMEOUT,
};
use super::consumer_protocol::{decode_assignment, decode_subscription, Assignment, DecodeError};
use super::table::Table;

/// The `strom group` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum GroupCommand {
    /// List the consumer groups the broker knows (ListGroups + DescribeGroups).
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// Show a group's state, members, and per partition its committed offset and lag.
    #[command(after_help = "Examples:\n  \
        strom group describe billing\n\n\
        Shows every partition the members are assigned, plus (for a group without an\n\
        assignment) every partition with a committed offset. LAG is LOG-END-OFFSET minus\n\
        CURRENT-OFFSET; \"-\" means the group has committed nothing there yet.")]
    Describe(DescribeArgs),
    /// Delete groups that have no active members, with their committed offsets.
    #[command(
        visible_alias = "rm",
        after_help = "Examples:\n  \
        strom group delete billing\n  \
        strom group delete old-app-1 old-app-2\n\n\
        The broker refuses to delete a group that still has members (NonEmptyGroup):\n\
        stop its consumers first."
    )]
    Delete(DeleteArgs),
    /// Move a group's committed offsets (the group must have no active members).
    #[command(after_help = "Examples:\n  \
        strom group reset-offsets billing --topic orders --to-earliest             # show the plan\n  \
        strom group reset-offsets billing --topic orders --to-earliest --execute   # commit it\n  \
        strom group reset-offsets billing --topic orders --to-latest --execute\n  \
        strom group reset-offsets billing --topic orders --partition 0,2 --to-offset 100 --execute\n  \
        strom group reset-offsets billing --topic orders --to-datetime 2026-11-25T10:00:00Z --execute\n  \
        strom group reset-offsets billing --topic orders --to-datetime 1700000000000 --execute\n  \
        strom group reset-offsets billing --topic orders --topic payments --shift-by -10 --execute\n\n\
        Without --execute nothing is committed: the plan (TOPIC PARTITION OLD-OFFSET NEW-OFFSET)\n\
        is printed, as with --dry-run. Like Kafka, offsets are only reset while the group is\n\
        Empty or Dead, and every new offset is clamped into [log start offset, log end offset].\n\
        --to-datetime picks, per partition, the first record with a timestamp at or after the\n\
        time (the log end offset when there is none); it takes RFC 3339\n\
        (2026-11-25T10:00:00Z, 2026-11-25T11:00:00.500+01:00) or milliseconds since the epoch.")]
    ResetOffsets(ResetOffsetsArgs),
}

/// Arguments of `strom group list`.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Arguments of `strom group describe`.
#[derive(clap::Args, Debug)]
pub struct DescribeArgs {
    /// The group to describe.
    group: String,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Arguments of `strom group delete`.
#[derive(clap::Args, Debug)]
pub struct DeleteArgs {
    /// The groups to delete.
    #[arg(required = true, value_name = "GROUP")]
    groups: Vec<String>,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Arguments of `strom group reset-offsets`.
#[derive(clap::Args, Debug)]
#[command(group(
    clap::ArgGroup::new("target")
        .required(true)
        .args(["to_earliest", "to_latest", "to_offset", "to_datetime", "shift_by"])
))]
pub struct ResetOffsetsArgs {
    /// The group whose offsets move.
    group: String,
    /// A topic whose offsets move (repeatable).
    #[arg(short, long = "topic", required = true, value_name = "TOPIC")]
    topics: Vec<String>,
    /// Only these partitions of every --topic, comma-separated or repeated (default: all).
    #[arg(short, long = "partition", value_name = "N", value_delimiter = ',')]
    partitions: Vec<i32>,
    /// To the log start offset (the oldest record still kept).
    #[arg(long)]
    to_earliest: bool,
    /// To the log end offset (only records produced from now on are consumed).
    #[arg(long)]
    to_latest: bool,
    /// To this offset (clamped into [log start, log end]).
    #[arg(long, value_name = "OFFSET", value_parser = clap::value_parser!(i64).range(0..))]
    to_offset: Option<i64>,
    /// To the first record at or after this time: RFC 3339 or milliseconds since the epoch.
    #[arg(long, value_name = "DATETIME", value_parser = parse_datetime)]
    to_datetime: Option<i64>,
    /// Move the committed offset by N (negative: back); needs a committed offset.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    shift_by: Option<i64>,
    /// Only print the plan (the default without --execute).
    #[arg(long, conflicts_with = "execute")]
    dry_run: bool,
    /// Commit the new offsets.
    #[arg(long)]
    execute: bool,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Where `reset-offsets` moves each partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetTarget {
    Earliest,
    Latest,
    Offset(i64),
    /// Milliseconds since the epoch.
    Datetime(i64),
    ShiftBy(i64),
}

impl ResetOffsetsArgs {
    /// The one target the flags chose (clap enforces exactly one).
    pub fn target(&self) -> ResetTarget {
        if self.to_earliest {
            ResetTarget::Earliest
        } else if self.to_latest {
            ResetTarget::Latest
        } else if let Some(offset) = self.to_offset {
            ResetTarget::Offset(offset)
        } else if let Some(ms) = self.to_datetime {
            ResetTarget::Datetime(ms)
        } else if let Some(n) = self.shift_by {
            ResetTarget::ShiftBy(n)
        } else {
            // Unreachable through clap's ArgGroup; earliest is the harmless choice.
            ResetTarget::Earliest
        }
    }
}

/// Runs a `strom group` subcommand.
pub async fn run(cmd: GroupCommand) -> Result<()> {
    match cmd {
        GroupCommand::List(args) => list(args),
        GroupCommand::Describe(args) => describe(args),
        GroupCommand::Delete(args) => delete(args).await,
        GroupCommand::ResetOffsets(args) => reset_offsets(args),
    }
}

/// One member of a group, as DescribeGroups reports it.
struct Member {
    id: String,
    client_id: String,
    host: String,
    assignment: Result<Assignment, DecodeError>,
    /// The topics the member subscribed to (empty when its metadata does not decode).
    subscribed: Vec<String>,
}

/// A group, as DescribeGroups reports it.
struct Group {
    name: String,
    state: String,
    protocol_type: String,
    protocol: String,
    members: Vec<Member>,
}

impl Group {
    /// A group the broker does not list: Kafka describes such a group as Dead.
    fn dead(name: &str) -> Group {
        Group {
            name: name.to_owned(),
            state: "Dead".into(),
            protocol_type: String::new(),
            protocol: String::new(),
            members: Vec::new(),
        }
    }

    /// Offsets may only be reset while no member could commit over them.
    fn is_inactive(&self) -> bool {
        matches!(self.state.as_str(), "Empty" | "Dead")
    }
}

/// The groups the broker lists (all of them, or only `only`), described.
fn fetch_groups(consumer: &BaseConsumer, only: Option<&str>) -> Result<Vec<Group>> {
    let list = match consumer.fetch_group_list(only, REQUEST_TIMEOUT) {
        Ok(list) => list,
        Err(err) if err.rdkafka_error_code() == Some(RDKafkaErrorCode::UnsupportedFeature) => {
            anyhow::bail!(
                "the broker does not support consumer groups (it lacks ListGroups/DescribeGroups)"
            )
        }
        Err(err) => {
            return Err(err)
                .kafka_context(|| "cannot list the consumer groups (ListGroups/DescribeGroups)")
        }
    };
    let mut groups: Vec<Group> = list
        .groups()
        .iter()
        .filter(|g| only.is_none_or(|name| g.name() == name))
        .map(|g| Group {
            name: g.name().to_owned(),
            state: g.state().to_owned(),
            protocol_type: g.protocol_type().to_owned(),
            protocol: g.protocol().to_owned(),
            members: g
                .members()
                .iter()
                .map(|m| {
                    // Only "consumer" groups use the consumer protocol's encoding.
                    let consumer = g.protocol_type() == "consumer";
                    Member {
                        id: m.id().to_owned(),
                        client_id: m.client_id().to_owned(),
                        host: m.client_host().to_owned(),
                        assignment: if consumer {
                            decode_assignment(m.assignment().unwrap_or_default())
                        } else {
                            Ok(Assignment::default())
                        },
                        subscribed: m
                            .metadata()
                            .filter(|_| consumer)
                            .and_then(|bytes| decode_subscription(bytes).ok())
                            .map(|s| s.topics)
                            .unwrap_or_default(),
                    }
                })
                .collect(),
        })
        .collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(groups)
}

/// The described group, or a Dead one when the broker does not know it.
fn fetch_group(consumer: &BaseConsumer, name: &str) -> Result<Group> {
    Ok(fetch_groups(consumer, Some(name))?
        .into_iter()
        .next()
        .unwrap_or_else(|| Group::dead(name)))
}

fn list(args: ListArgs) -> Result<()> {
    let consumer = args.connection.metadata_client()?;
    args.connection.cluster_metadata(consumer.client())?;
    let mut table = Table::new(&["GROUP", "STATE", "PROTOCOL-TYPE"]);
    for group in fetch_groups(&consumer, None)? {
        table.row(vec![group.name, group.state, or_dash(&group.protocol_type)]);
    }
    table.print();
    Ok(())
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_owned()
    }
}

/// A consumer that carries the group's id for OffsetFetch and OffsetCommit but never subscribes,
/// so it never joins the group (its commits are Kafka's "simple" commits, generation -1).
fn group_client(connection: &ConnectionArgs, group: &str) -> Result<BaseConsumer> {
    connection.create(&[
        ("group.id", group),
        ("enable.auto.commit", "false"),
        ("enable.auto.offset.store", "false"),
    ])
}

/// The group's committed offsets for `partitions`; partitions without one are left out.
fn committed_offsets(
    consumer: &BaseConsumer,
    group: &str,
    partitions: &BTreeSet<(String, i32)>,
) -> Result<BTreeMap<(String, i32), (i64, String)>> {
    let mut tpl = TopicPartitionList::with_capacity(partitions.len());
    for (topic, partition) in partitions {
        tpl.add_partition(topic, *partition);
    }
    let committed = consumer
        .committed_offsets(tpl, REQUEST_TIMEOUT)
        .kafka_context(|| {
            format!("cannot read the committed offsets of group {group:?} (OffsetFetch)")
        })?;
    let mut out = BTreeMap::new();
    for elem in committed.elements() {
        if let Err(err) = elem.error() {
            anyhow::bail!(
                "cannot read the committed offset of group {group:?} for {}/{}: {}",
                elem.topic(),
                elem.partition(),
                super::connection::explain(&err)
            );
        }
        if let Offset::Offset(offset) = elem.offset() {
            if offset >= 0 {
                out.insert(
                    (elem.topic().to_owned(), elem.partition()),
                    (offset, elem.metadata().to_owned()),
                );
            }
        }
    }
    Ok(out)
}

/// Every partition of `topics` (those that exist), from the metadata.
fn partitions_of<'a>(
    metadata: &Metadata,
    topics: impl IntoIterator<Item = &'a str>,
) -> BTreeSet<(String, i32)> {
    let wanted: BTreeSet<&str> = topics.into_iter().collect();
    metadata
        .topics()
        .iter()
        .filter(|t| wanted.contains(t.name()))
        .flat_map(|t| t.partitions().iter().map(|p| (t.name().to_owned(), p.id())))
        .collect()
}

fn describe(args: DescribeArgs) -> Result<()> {
    let client = args.connection.metadata_client()?;
    let metadata = args.connection.cluster_metadata(client.client())?;
    let group = fetch_group(&client, &args.group)?;

    // Which member owns which partition.
    let mut owners: BTreeMap<(String, i32), &Member> = BTreeMap::new();
    let mut idle_members = Vec::new();
    for member in &group.members {
        match &member.assignment {
            Ok(assignment) => {
                let tps = assignment.topic_partitions();
                if tps.is_empty() {
                    idle_members.push(member);
                }
                for tp in tps {
                    owners.insert(tp, member);
                }
            }
            Err(err) => {
                eprintln!(
                    "warning: cannot decode the assignment of member {}: {err}",
                    member.id
                );
                idle_members.push(member);
            }
        }
    }
    // The partitions of the assigned and subscribed topics; without an assignment, of every
    // topic, so that an Empty group's committed offsets show.
    let candidates = if owners.is_empty() {
        partitions_of(
            &metadata,
            metadata
                .topics()
                .iter()
                .map(|t| t.name())
                .filter(|t| !is_internal(t)),
        )
    } else {
        let subscribed = group.members.iter().flat_map(|m| &m.subscribed);
        partitions_of(
            &metadata,
            owners
                .keys()
                .map(|(t, _)| t.as_str())
                .chain(subscribed.map(String::as_str)),
        )
    };
    let committed = if candidates.is_empty() {
        BTreeMap::new()
    } else {
        let group_consumer = group_client(&args.connection, &args.group)?;
        committed_offsets(&group_consumer, &args.group, &candidates)?
    };
    // Partitions that were assigned but vanished from the metadata still show.
    let shown: BTreeSet<(String, i32)> = candidates
        .into_iter()
        .filter(|tp| owners.contains_key(tp) || committed.contains_key(tp))
        .chain(owners.keys().cloned())
        .collect();

    let mut rows = Table::new(&[
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "MEMBER-ID",
        "CLIENT-ID",
        "HOST",
    ]);
    let mut total_lag: i64 = 0;
    for tp in &shown {
        let (topic, partition) = tp;
        let current = committed.get(tp).map(|(offset, _)| *offset);
        let end = match client.fetch_watermarks(topic, *partition, REQUEST_TIMEOUT) {
            Ok((_, high)) => Some(high),
            Err(err) => {
                eprintln!("warning: cannot read the log end offset of {topic}/{partition}: {err}");
                None
            }
        };
        let lag = match (current, end) {
            (Some(current), Some(end)) => {
                let lag = (end - current).max(0);
                total_lag += lag;
                lag.to_string()
            }
            _ => "-".into(),
        };
        let (member_id, client_id, host) = match owners.get(tp) {
            Some(m) => (m.id.clone(), m.client_id.clone(), m.host.clone()),
            None => ("-".into(), "-".into(), "-".into()),
        };
        rows.row(vec![
            topic.clone(),
            partition.to_string(),
            current.map_or("-".into(), |o| o.to_string()),
            end.map_or("-".into(), |o| o.to_string()),
            lag,
            member_id,
            client_id,
            host,
        ]);
    }
    for member in idle_members {
        rows.row(vec![
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            member.id.clone(),
            member.client_id.clone(),
            member.host.clone(),
        ]);
    }

    let mut summary = Table::new(&["GROUP", &group.name]);
    summary.row(vec!["STATE".into(), group.state.clone()]);
    summary.row(vec!["PROTOCOL-TYPE".into(), or_dash(&group.protocol_type)]);
    summary.row(vec!["PROTOCOL".into(), or_dash(&group.protocol)]);
    summary.row(vec!["MEMBERS".into(), group.members.len().to_string()]);
    summary.row(vec!["TOTAL-LAG".into(), total_lag.to_string()]);
    summary.print();
    println!();
    if shown.is_empty() && group.members.is_empty() {
        println!("(no members and no committed offsets)");
    } else {
        rows.print();
    }
    Ok(())
}

async fn delete(args: DeleteArgs) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = args.connection.create(&[])?;
    args.connection.cluster_metadata(admin.inner())?;
    let names: Vec<&str> = args.groups.iter().map(String::as_str).collect();
    let results = admin
        .delete_groups(&names, &admin_options())
        .await
        .kafka_context(|| "DeleteGroups failed")?;
    let mut table = Table::new(&["GROUP", "STATUS"]);
    let total = results.len();
    let mut failed = 0;
    for result in results {
        match result {
            Ok(name) => table.row(vec![name, "OK".into()]),
            Err((name, code)) => {
                failed += 1;
                let hint = match code {
                    RDKafkaErrorCode::NonEmptyGroup => " (stop its consumers first)",
                    _ => "",
                };
                table.row(vec![name, format!("{code}{hint}")]);
            }
        }
    }
    table.print();
    if failed > 0 {
        anyhow::bail!("failed to delete {failed} of {total} group(s)");
    }
    Ok(())
}

/// One partition's line of a reset plan.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PlannedReset {
    topic: String,
    partition: i32,
    old: Option<i64>,
    new: i64,
}

/// The new offset of one partition, clamped into `[low, high]` like Kafka's tool does.
/// `by_time` is the ListOffsets answer for a datetime target (None: no record at or after it).
fn new_offset(
    target: ResetTarget,
    committed: Option<i64>,
    low: i64,
    high: i64,
    by_time: Option<i64>,
) -> Result<i64, String> {
    let wanted = match target {
        ResetTarget::Earliest => low,
        ResetTarget::Latest => high,
        ResetTarget::Offset(offset) => offset,
        ResetTarget::Datetime(_) => by_time.unwrap_or(high),
        ResetTarget::ShiftBy(n) => match committed {
            Some(current) => current.saturating_add(n),
            None => return Err("the group has no committed offset to shift".into()),
        },
    };
    Ok(wanted.clamp(low, high.max(low)))
}

fn reset_offsets(args: ResetOffsetsArgs) -> Result<()> {
    let target = args.target();
    let client = args.connection.metadata_client()?;
    let metadata = args.connection.cluster_metadata(client.client())?;
    let group = fetch_group(&client, &args.group)?;
    if !group.is_inactive() {
        anyhow::bail!(
            "group {} is not empty (state {}); stop its consumers first",
            args.group,
            group.state
        );
    }

    // The partitions to move.
    let mut partitions: BTreeSet<(String, i32)> = BTreeSet::new();
    for topic_name in &args.topics {
        let topic = find_topic(&metadata, topic_name)?;
        let all: BTreeSet<i32> = topic.partitions().iter().map(|p| p.id()).collect();
        if args.partitions.is_empty() {
            partitions.extend(all.iter().map(|p| (topic_name.clone(), *p)));
        } else {
            for p in &args.partitions {
                if !all.contains(p) {
                    anyhow::bail!(
                        "topic {topic_name:?} has no partition {p} (it has {})",
                        all.len()
                    );
                }
                partitions.insert((topic_name.clone(), *p));
            }
        }
    }

    let group_consumer = group_client(&args.connection, &args.group)?;
    let committed = committed_offsets(&group_consumer, &args.group, &partitions)?;

    let by_time: BTreeMap<(String, i32), i64> = match target {
        ResetTarget::Datetime(ms) => {
            let mut tpl = TopicPartitionList::with_capacity(partitions.len());
            for (topic, partition) in &partitions {
                tpl.add_partition_offset(topic, *partition, Offset::Offset(ms))
                    .kafka_context(|| "cannot build the ListOffsets request")?;
            }
            let found = client
                .offsets_for_times(tpl, REQUEST_TIMEOUT)
                .kafka_context(|| "cannot look up offsets by time (ListOffsets)")?;
            let mut out = BTreeMap::new();
            for elem in found.elements() {
                if let Err(err) = elem.error() {
                    anyhow::bail!(
                        "cannot look up the offset of {}/{} by time: {}",
                        elem.topic(),
                        elem.partition(),
                        super::connection::explain(&err)
                    );
                }
                if let Offset::Offset(offset) = elem.offset() {
                    out.insert((elem.topic().to_owned(), elem.partition()), offset);
                }
            }
            out
        }
        _ => BTreeMap::new(),
    };

    let mut plan = Vec::with_capacity(partitions.len());
    for tp in &partitions {
        let (topic, partition) = tp;
        let (low, high) = client
            .fetch_watermarks(topic, *partition, REQUEST_TIMEOUT)
            .kafka_context(|| format!("cannot read the offsets of {topic}/{partition}"))?;
        let old = committed.get(tp).map(|(offset, _)| *offset);
        let new = new_offset(target, old, low, high, by_time.get(tp).copied())
            .map_err(|why| anyhow::anyhow!("cannot reset {topic}/{partition}: {why}"))?;
        plan.push(PlannedReset {
            topic: topic.clone(),
            partition: *partition,
            old,
            new,
        });
    }

    let mut table = Table::new(&["TOPIC", "PARTITION", "OLD-OFFSET", "NEW-OFFSET"]);
    for p in &plan {
        table.row(vec![
            p.topic.clone(),
            p.partition.to_string(),
            p.old.map_or("-".into(), |o| o.to_string()),
            p.new.to_string(),
        ]);
    }

    if !args.execute {
        table.print();
        println!("(dry run: nothing committed; add --execute to commit these offsets)");
        return Ok(());
    }

    let mut tpl = TopicPartitionList::with_capacity(plan.len());
    for p in &plan {
        tpl.add_partition_offset(&p.topic, p.partition, Offset::Offset(p.new))
            .kafka_context(|| "cannot build the OffsetCommit request")?;
    }
    group_consumer
        .commit(&tpl, CommitMode::Sync)
        .kafka_context(|| {
            format!(
                "cannot commit the offsets of group {:?} (OffsetCommit); \
                 did a consumer join it meanwhile?",
                args.group
            )
        })?;
    // Read them back: what the broker stores is what counts.
    let stored = committed_offsets(&group_consumer, &args.group, &partitions)?;
    for p in &plan {
        let now = stored
            .get(&(p.topic.clone(), p.partition))
            .map(|(offset, _)| *offset);
        if now != Some(p.new) {
            anyhow::bail!(
                "the broker acknowledged the commit but reports offset {} for {}/{} instead of {}",
                now.map_or("none".into(), |o| o.to_string()),
                p.topic,
                p.partition,
                p.new
            );
        }
    }
    table.print();
    Ok(())
}

/// Parses `--to-datetime`: milliseconds since the epoch, or an RFC 3339 date-time with a zone
/// (`2026-11-25T10:00:00Z`, `2026-11-25T10:00:00.250+01:00`; `t`/`z` and a space instead of
/// `T` are accepted too). Returns milliseconds since the epoch.
pub fn parse_datetime(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<i64>()
            .map_err(|_| format!("{s:?} is too large for milliseconds since the epoch"));
    }
    parse_rfc3339(s).ok_or_else(|| {
        format!(
            "expected RFC 3339 (e.g. 2026-11-25T10:00:00Z or 2026-11-25T10:00:00.5+01:00) \
             or milliseconds since the epoch, got {s:?}"
        )
    })
}

fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut pos = 19;
    let mut millis = 0;
    if b[pos] == b'.' {
        let start = pos + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        if end == start {
            return None;
        }
        // Milliseconds from the first three digits; finer digits are dropped.
        let digits = &s[start..end.min(start + 3)];
        millis = digits.parse::<i64>().ok()? * 10_i64.pow(3 - digits.len() as u32);
        pos = end;
    }
    let offset_minutes = match b.get(pos..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let hours = i64::from((h1 - b'0') * 10 + (h2 - b'0'));
            let minutes = i64::from((m1 - b'0') * 10 + (m2 - b'0'));
            if hours > 23 || minutes > 59 {
                return None;
            }
            let total = hours * 60 + minutes;
            if *sign == b'-' {
                -total
            } else {
                total
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// `strom group ...` as the binary parses it.
    #[derive(Parser, Debug)]
    #[command(name = "strom")]
    struct Cli {
        #[command(subcommand)]
        group: GroupCommand,
    }

    fn parse(args: &[&str]) -> Result<ResetOffsetsArgs, clap::Error> {
        let argv = ["strom", "reset-offsets"].iter().chain(args);
        match Cli::try_parse_from(argv)?.group {
            GroupCommand::ResetOffsets(args) => Ok(args),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn reset_offsets_takes_exactly_one_target() {
        let a = parse(&["g", "--topic", "t", "--to-earliest"]).unwrap();
        assert_eq!(a.group, "g");
        assert_eq!(a.topics, vec!["t"]);
        assert_eq!(a.target(), ResetTarget::Earliest);
        assert!(!a.execute && !a.dry_run);
        assert!(a.partitions.is_empty());

        let a = parse(&["g", "-t", "a", "--topic", "b", "--to-latest", "--execute"]).unwrap();
        assert_eq!(a.topics, vec!["a", "b"]);
        assert_eq!(a.target(), ResetTarget::Latest);
        assert!(a.execute);

        let a = parse(&["g", "-t", "a", "--to-offset", "42", "-p", "0,2", "-p", "5"]).unwrap();
        assert_eq!(a.target(), ResetTarget::Offset(42));
        assert_eq!(a.partitions, vec![0, 2, 5]);

        let a = parse(&["g", "-t", "a", "--shift-by", "-10", "--dry-run"]).unwrap();
        assert_eq!(a.target(), ResetTarget::ShiftBy(-10));
        assert!(a.dry_run);
        let a = parse(&["g", "-t", "a", "--shift-by", "3"]).unwrap();
        assert_eq!(a.target(), ResetTarget::ShiftBy(3));

        let a = parse(&["g", "-t", "a", "--to-datetime", "2026-11-25T10:00:00Z"]).unwrap();
        assert_eq!(a.target(), ResetTarget::Datetime(1_795_600_800_000));
        let a = parse(&["g", "-t", "a", "--to-datetime", "1700000000000"]).unwrap();
        assert_eq!(a.target(), ResetTarget::Datetime(1_700_000_000_000));
    }

    #[test]
    fn reset_offsets_rejects_bad_combinations() {
        // No target, two targets, no topic, no group.
        assert!(parse(&["g", "--topic", "t"]).is_err());
        assert!(parse(&["g", "--topic", "t", "--to-earliest", "--to-latest"]).is_err());
        assert!(parse(&["g", "--topic", "t", "--to-offset", "1", "--shift-by", "1"]).is_err());
        assert!(parse(&["g", "--to-earliest"]).is_err());
        assert!(parse(&["--topic", "t", "--to-earliest"]).is_err());
        // --dry-run and --execute contradict each other.
        assert!(parse(&["g", "-t", "t", "--to-earliest", "--dry-run", "--execute"]).is_err());
        // Offsets are not negative; datetimes must parse; partitions are numbers.
        assert!(parse(&["g", "-t", "t", "--to-offset", "-1"]).is_err());
        assert!(parse(&["g", "-t", "t", "--to-datetime", "yesterday"]).is_err());
        assert!(parse(&["g", "-t", "t", "--to-earliest", "-p", "x"]).is_err());
        assert!(parse(&["g", "-t", "t", "--shift-by", "ten"]).is_err());
    }

    #[test]
    fn other_subcommands_parse() {
        let cli = Cli::try_parse_from(["strom", "list", "--brokers", "h:1"]).unwrap();
        assert!(matches!(cli.group, GroupCommand::List(ref a) if a.connection.brokers == "h:1"));
        let cli = Cli::try_parse_from(["strom", "describe", "g"]).unwrap();
        assert!(matches!(cli.group, GroupCommand::Describe(ref a) if a.group == "g"));
        let cli = Cli::try_parse_from(["strom", "delete", "a", "b"]).unwrap();
        assert!(matches!(cli.group, GroupCommand::Delete(ref a) if a.groups == ["a", "b"]));
        assert!(Cli::try_parse_from(["strom", "delete"]).is_err());
        assert!(Cli::try_parse_from(["strom", "describe"]).is_err());
    }

    #[test]
    fn datetimes_parse_as_rfc3339_or_epoch_millis() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_datetime("0"), Ok(0));
        assert_eq!(
            parse_datetime("2026-11-25T10:00:00Z"),
            Ok(1_795_600_800_000)
        );
        assert_eq!(
            parse_datetime("2026-11-25T11:00:00+01:00"),
            Ok(1_795_600_800_000)
        );
        assert_eq!(
            parse_datetime("2026-11-25 04:30:00-05:30"),
            Ok(1_795_600_800_000)
        );
        assert_eq!(
            parse_datetime("2026-11-25t10:00:00.25z"),
            Ok(1_795_600_800_250)
        );
        assert_eq!(
            parse_datetime("2026-11-25T10:00:00.123456789Z"),
            Ok(1_795_600_800_123)
        );
        assert_eq!(
            parse_datetime("2024-02-29T23:59:59Z"),
            Ok(1_709_251_199_000)
        );
        assert_eq!(parse_datetime("1969-12-31T23:59:59Z"), Ok(-1000));
        assert_eq!(parse_datetime("1700000000000"), Ok(1_700_000_000_000));
        for bad in [
            "",
            "2026-11-25",
            "2026-11-25T10:00:00",
            "2026-11-25T10:00Z",
            "2026-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2026-11-25T24:00:00Z",
            "2026-11-25T10:00:00.Z",
            "2026-11-25T10:00:00+1:00",
            "2026-11-25T10:00:00+01:00x",
            "-5",
            "99999999999999999999999",
        ] {
            assert!(parse_datetime(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn new_offsets_are_clamped_into_the_log() {
        // log [10, 50), committed 30
        let at = |target, committed, by_time| new_offset(target, committed, 10, 50, by_time);
        assert_eq!(at(ResetTarget::Earliest, Some(30), None), Ok(10));
        assert_eq!(at(ResetTarget::Latest, Some(30), None), Ok(50));
        assert_eq!(at(ResetTarget::Offset(20), None, None), Ok(20));
        assert_eq!(at(ResetTarget::Offset(5), None, None), Ok(10));
        assert_eq!(at(ResetTarget::Offset(500), None, None), Ok(50));
        assert_eq!(at(ResetTarget::ShiftBy(-5), Some(30), None), Ok(25));
        assert_eq!(at(ResetTarget::ShiftBy(-50), Some(30), None), Ok(10));
        assert_eq!(at(ResetTarget::ShiftBy(100), Some(30), None), Ok(50));
        assert_eq!(at(ResetTarget::ShiftBy(i64::MAX), Some(30), None), Ok(50));
        assert!(at(ResetTarget::ShiftBy(1), None, None).is_err());
        assert_eq!(at(ResetTarget::Datetime(0), None, Some(17)), Ok(17));
        // No record at or after the time: the log end.
        assert_eq!(at(ResetTarget::Datetime(0), Some(30), None), Ok(50));
        // An empty log.
        assert_eq!(new_offset(ResetTarget::Offset(3), None, 0, 0, None), Ok(0));
    }
}
