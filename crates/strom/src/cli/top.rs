//! `strom top`: a live view of a broker, read from its admin API. Throughput per topic (bytes
//! and records in, bytes out, per second) comes from two scrapes of `/metrics` an interval
//! apart (the `strom_topic_*_total` counters, differences divided by the time between the
//! scrapes); lag per consumer group from `/v1/groups`. The screen is cleared (ANSI) between
//! frames only when stdout is a terminal; `--once` prints one frame and exits.

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use strom_broker::admin::groups::GroupList;

use super::admin_http::{self, AdminArgs};
use super::table::Table;

/// Arguments of `strom top`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  strom top\n  strom top --interval 5 --admin http://broker1:9644\n  \
    strom top --once --interval 1"
)]
pub struct TopArgs {
    /// Seconds between two frames (and between the two scrapes of the first frame).
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS", value_parser = parse_interval)]
    interval: f64,
    /// Print one frame and exit (for scripts and tests).
    #[arg(long)]
    once: bool,
    #[command(flatten)]
    admin: AdminArgs,
}

/// An interval between 0.1 s and one day.
fn parse_interval(raw: &str) -> Result<f64, String> {
    let seconds: f64 = raw
        .parse()
        .map_err(|_| format!("{raw:?} is not a number of seconds"))?;
    if !(0.1..=86_400.0).contains(&seconds) {
        return Err(format!(
            "{raw} is out of range: the interval must be between 0.1 and 86400 seconds"
        ));
    }
    Ok(seconds)
}

/// The `strom_topic_*_total` counters of one topic.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TopicCounters {
    pub bytes_in: f64,
    pub records_in: f64,
    pub bytes_out: f64,
}

/// One topic's rates between two scrapes, per second.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TopicRates {
    pub bytes_in: f64,
    pub records_in: f64,
    pub bytes_out: f64,
}

/// The per-topic counters of an OpenMetrics exposition (samples such as
/// `strom_topic_bytes_in_total{topic="orders"} 400`; other lines are ignored).
pub fn topic_counters(text: &str) -> BTreeMap<String, TopicCounters> {
    let mut out: BTreeMap<String, TopicCounters> = BTreeMap::new();
    for line in text.lines() {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Some((name, labels)) = series.split_once("{topic=\"") else {
            continue;
        };
        let Some(topic) = labels.strip_suffix("\"}") else {
            continue;
        };
        if topic.contains('"') {
            continue; // another label follows: not a per-topic counter
        }
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        if !matches!(
            name,
            "strom_topic_bytes_in_total"
                | "strom_topic_records_in_total"
                | "strom_topic_bytes_out_total"
        ) {
            continue;
        }
        let counters = out.entry(topic.to_owned()).or_default();
        match name {
            "strom_topic_bytes_in_total" => counters.bytes_in = value,
            "strom_topic_records_in_total" => counters.records_in = value,
            _ => counters.bytes_out = value,
        }
    }
    out
}

/// The rates of every topic in `now`, from `before` scraped `elapsed` earlier. A counter that
/// went down (the broker restarted) counts from zero.
pub fn rates(
    before: &BTreeMap<String, TopicCounters>,
    now: &BTreeMap<String, TopicCounters>,
    elapsed: Duration,
) -> BTreeMap<String, TopicRates> {
    let seconds = elapsed.as_secs_f64().max(1e-3);
    let rate = |then: f64, now: f64| {
        let delta = if now >= then { now - then } else { now };
        delta / seconds
    };
    now.iter()
        .map(|(topic, counters)| {
            let then = before.get(topic).copied().unwrap_or_default();
            (
                topic.clone(),
                TopicRates {
                    bytes_in: rate(then.bytes_in, counters.bytes_in),
                    records_in: rate(then.records_in, counters.records_in),
                    bytes_out: rate(then.bytes_out, counters.bytes_out),
                },
            )
        })
        .collect()
}

/// `1234567` bytes as `1.2 MB`.
fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// One frame of the view.
pub fn frame(
    admin: &str,
    interval: f64,
    rates: &BTreeMap<String, TopicRates>,
    groups: &GroupList,
) -> String {
    let mut out = format!("strom top  {admin}  every {interval} s\n\nTOPICS\n");
    let mut topics = Table::new(&["TOPIC", "BYTES IN/S", "RECORDS IN/S", "BYTES OUT/S"]);
    for (topic, rate) in rates {
        topics.row(vec![
            topic.clone(),
            human_bytes(rate.bytes_in),
            format!("{:.1}", rate.records_in),
            human_bytes(rate.bytes_out),
        ]);
    }
    out.push_str(&topics.render());
    out.push_str("\nGROUPS\n");
    let mut table = Table::new(&["GROUP", "STATE", "MEMBERS", "LAG"]);
    for group in &groups.groups {
        table.row(vec![
            group.group_id.clone(),
            group.state.clone(),
            group.members.to_string(),
            group.lag.to_string(),
        ]);
    }
    out.push_str(&table.render());
    out
}

/// Runs `strom top` (blocking).
pub fn run(args: TopArgs) -> Result<()> {
    let metrics_url = admin_http::url(&args.admin.url, "/metrics");
    let groups_url = admin_http::url(&args.admin.url, "/v1/groups");
    let interval = Duration::from_secs_f64(args.interval);
    let scrape = || -> Result<(Instant, BTreeMap<String, TopicCounters>)> {
        let text = admin_http::get_text(&metrics_url)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("cannot read {metrics_url}"))?;
        Ok((Instant::now(), topic_counters(&text)))
    };
    let clear = std::io::stdout().is_terminal();
    let mut before = scrape()?;
    loop {
        std::thread::sleep(interval);
        let now = scrape()?;
        let groups: GroupList = admin_http::get_json(&groups_url)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("cannot read {groups_url}"))?;
        let rates = rates(&before.1, &now.1, now.0.duration_since(before.0));
        let text = frame(&args.admin.url, args.interval, &rates, &groups);
        let mut stdout = std::io::stdout().lock();
        if clear {
            // Clear the screen and move the cursor home.
            write!(stdout, "\x1b[2J\x1b[H")?;
        }
        write!(stdout, "{text}")?;
        stdout.flush()?;
        if args.once {
            return Ok(());
        }
        before = now;
    }
}

#[cfg(test)]
mod tests {
    use strom_broker::admin::groups::GroupListing;

    use super::*;

    const SCRAPE: &str = "# HELP strom_topic_bytes_in Record bytes\n\
        # TYPE strom_topic_bytes_in counter\n\
        strom_topic_bytes_in_total{topic=\"orders\"} 4000\n\
        strom_topic_records_in_total{topic=\"orders\"} 40\n\
        strom_topic_bytes_out_total{topic=\"orders\"} 8000\n\
        strom_topic_bytes_out_total{topic=\"audit\"} 10\n\
        strom_log_end_offset{topic=\"orders\",partition=\"0\"} 40\n\
        strom_requests_total{api=\"Produce\"} 3\n\
        # EOF\n";

    #[test]
    fn topic_counters_are_read_from_the_exposition() {
        let counters = topic_counters(SCRAPE);
        assert_eq!(
            counters,
            BTreeMap::from([
                (
                    "audit".to_owned(),
                    TopicCounters {
                        bytes_out: 10.0,
                        ..TopicCounters::default()
                    }
                ),
                (
                    "orders".to_owned(),
                    TopicCounters {
                        bytes_in: 4000.0,
                        records_in: 40.0,
                        bytes_out: 8000.0
                    }
                ),
            ])
        );
        assert!(
            topic_counters("garbage\nstrom_topic_bytes_in_total{topic=\"x\"} nan-ish\n").is_empty()
        );
    }

    #[test]
    fn rates_are_differences_per_second_and_survive_a_restart() {
        let before = topic_counters(SCRAPE);
        let mut now = before.clone();
        let orders = now.get_mut("orders").expect("orders");
        orders.bytes_in += 2000.0;
        orders.records_in += 20.0;
        // The broker restarted: the counter starts again from zero.
        orders.bytes_out = 100.0;
        now.insert(
            "new".to_owned(),
            TopicCounters {
                bytes_in: 50.0,
                ..TopicCounters::default()
            },
        );
        let rates = rates(&before, &now, Duration::from_secs(2));
        assert_eq!(
            rates["orders"],
            TopicRates {
                bytes_in: 1000.0,
                records_in: 10.0,
                bytes_out: 50.0
            }
        );
        assert_eq!(rates["new"].bytes_in, 25.0);
        assert_eq!(rates["audit"], TopicRates::default());
    }

    #[test]
    fn a_frame_shows_topics_and_groups() {
        let rates = BTreeMap::from([(
            "orders".to_owned(),
            TopicRates {
                bytes_in: 1_500_000.0,
                records_in: 12.5,
                bytes_out: 999.0,
            },
        )]);
        let groups = GroupList {
            groups: vec![GroupListing {
                group_id: "billing".into(),
                group_type: "classic".into(),
                state: "Stable".into(),
                protocol_type: "consumer".into(),
                members: 2,
                lag: 42,
            }],
        };
        let text = frame("http://127.0.0.1:9644", 2.0, &rates, &groups);
        assert!(
            text.contains("orders  1.5 MB      12.5          999 B"),
            "{text}"
        );
        assert!(text.contains("billing  Stable  2        42"), "{text}");
    }

    #[test]
    fn intervals_are_checked() {
        assert_eq!(parse_interval("0.5"), Ok(0.5));
        assert!(parse_interval("0").is_err());
        assert!(parse_interval("-1").is_err());
        assert!(parse_interval("soon").is_err());
    }
}
