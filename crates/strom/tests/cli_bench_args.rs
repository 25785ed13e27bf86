//! `strom bench produce | consume | e2e | fetch` through the real binary: help, argument validation,
//! a clear error for an unreachable broker, and one small run against a real server whose
//! JSON report is checked for counts (never for timings).

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{Server, STROM};
use serde_json::Value;

fn strom(args: &[&str]) -> Output {
    Command::new(STROM)
        .args(args)
        .env_remove("STROM_BROKERS")
        .output()
        .expect("cannot run the strom binary")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs a bench command that must succeed and returns its last stdout line as JSON.
fn bench_json(args: &[&str]) -> Value {
    let output = strom(args);
    assert!(
        output.status.success(),
        "strom {args:?} failed: {}\n{}",
        stderr(&output),
        stdout(&output)
    );
    let text = stdout(&output);
    let last = text.lines().last().expect("no output");
    serde_json::from_str(last).unwrap_or_else(|err| panic!("last line {last:?}: {err}"))
}

#[test]
fn bench_commands_have_help() {
    for command in ["produce", "consume", "e2e"] {
        let output = strom(&["bench", command, "--help"]);
        assert!(output.status.success(), "{command}: {}", stderr(&output));
        let text = stdout(&output);
        assert!(
            text.contains(&format!("Usage: strom bench {command}")),
            "{text}"
        );
        for flag in [
            "--brokers",
            "STROM_BROKERS",
            "--topic",
            "--num-records",
            "--duration",
            "--json",
            "--quiet",
        ] {
            assert!(text.contains(flag), "{command} lacks {flag}: {text}");
        }
    }
    let produce = stdout(&strom(&["bench", "produce", "--help"]));
    for flag in [
        "--partitions",
        "--record-size",
        "--rate",
        "--acks",
        "--linger-ms",
        "--batch-size",
        "--compression",
        "--keys",
        "--producers",
    ] {
        assert!(produce.contains(flag), "produce lacks {flag}: {produce}");
    }
    let e2e = stdout(&strom(&["bench", "e2e", "--help"]));
    for flag in ["--rate", "--producers", "--consumers", "--record-size"] {
        assert!(e2e.contains(flag), "e2e lacks {flag}: {e2e}");
    }
    let consume = stdout(&strom(&["bench", "consume", "--help"]));
    for flag in ["--consumers", "--group"] {
        assert!(consume.contains(flag), "consume lacks {flag}: {consume}");
    }
    let bench = stdout(&strom(&["bench", "--help"]));
    for command in ["produce", "consume", "e2e", "disk", "net"] {
        assert!(bench.contains(command), "bench lacks {command}: {bench}");
    }
}

#[test]
fn bad_arguments_are_rejected() {
    let cases: &[(&[&str], &str)] = &[
        (&["bench", "produce", "--acks", "2"], "--acks"),
        (&["bench", "e2e", "--acks=-1"], "--acks"),
        (&["bench", "produce", "--keys", "foo"], "--keys"),
        (&["bench", "produce", "--keys", "0"], "--keys"),
        (
            &["bench", "produce", "--compression", "brotli"],
            "--compression",
        ),
        (
            &["bench", "produce", "--num-records", "10", "--duration", "5"],
            "cannot be used with",
        ),
        (
            &["bench", "consume", "--num-records", "10", "--duration", "5"],
            "cannot be used with",
        ),
        (&["bench", "produce", "--num-records", "0"], "--num-records"),
        (&["bench", "produce", "--duration", "0"], "--duration"),
        (&["bench", "produce", "--duration", "soon"], "--duration"),
        (&["bench", "produce", "--producers", "0"], "--producers"),
        (&["bench", "produce", "--record-size=-1"], "--record-size"),
        (&["bench", "produce", "--partitions", "0"], "--partitions"),
        (&["bench", "consume", "--consumers", "0"], "--consumers"),
        (&["bench", "e2e", "--rate", "fast"], "--rate"),
        (
            &["bench", "fetch", "--partition-max-bytes", "0"],
            "--partition-max-bytes",
        ),
        (&["bench", "fetch", "--duration", "0"], "--duration"),
    ];
    for (args, mention) in cases {
        let output = strom(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "strom {args:?} should be a usage error: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(mention),
            "strom {args:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn e2e_needs_room_for_the_send_time_in_the_value() {
    let output = strom(&[
        "bench",
        "e2e",
        "--record-size",
        "8",
        "--brokers",
        "127.0.0.1:1",
    ]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("--record-size must be at least 16"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn unreachable_broker_fails_fast_with_a_clear_message() {
    for command in ["produce", "consume", "e2e"] {
        let started = Instant::now();
        let output = strom(&["bench", command, "--brokers", "127.0.0.1:1", "-n", "10"]);
        let elapsed = started.elapsed();
        assert!(!output.status.success(), "{command} succeeded");
        let text = stderr(&output);
        assert!(
            text.contains("cannot reach a broker at 127.0.0.1:1"),
            "{command}: {text}"
        );
        // A generous bound: the point is that it does not hang, not how fast it is.
        assert!(
            elapsed < Duration::from_secs(30),
            "{command} took {elapsed:?}"
        );
    }
}

#[test]
fn bench_fetch_has_help_and_fails_fast_without_a_broker() {
    let output = strom(&["bench", "fetch", "--help"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for flag in [
        "--brokers",
        "--topic",
        "--duration",
        "--partition-max-bytes",
        "--json",
    ] {
        assert!(text.contains(flag), "{flag} missing in {text}");
    }
    let started = Instant::now();
    let output = strom(&["bench", "fetch", "--brokers", "127.0.0.1:1"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("cannot connect to 127.0.0.1:1"),
        "{}",
        stderr(&output)
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn produce_then_consume_counts_records() {
    let server = Server::start();
    let brokers = server.addr.as_str();

    let produced = bench_json(&[
        "bench",
        "produce",
        "--brokers",
        brokers,
        "--topic",
        "bench",
        "--partitions",
        "2",
        "--num-records",
        "2000",
        "--record-size",
        "100",
        "--keys",
        "50",
        "--compression",
        "lz4",
        "--producers",
        "2",
        "--json",
        "--quiet",
    ]);
    assert_eq!(produced["records"], 2000, "{produced}");
    assert_eq!(produced["bytes"], 200_000, "{produced}");
    assert_eq!(produced["errors"], 0, "{produced}");
    assert_eq!(produced["partitions"], 2, "{produced}");
    assert_eq!(produced["producers"], 2, "{produced}");
    assert_eq!(produced["acks"], "all", "{produced}");
    assert_eq!(produced["keys"], "50", "{produced}");
    assert_eq!(produced["compression"], "lz4", "{produced}");
    let latency = &produced["latency_ms"];
    assert_eq!(latency["count"], 2000, "{produced}");
    for field in ["p50", "p99", "p999", "max"] {
        assert!(latency[field].is_number(), "{field} in {produced}");
    }
    for field in ["records_per_sec", "bytes_per_sec", "elapsed_s"] {
        assert!(produced[field].is_number(), "{field} in {produced}");
    }

    let consumed = bench_json(&[
        "bench",
        "consume",
        "--brokers",
        brokers,
        "--topic",
        "bench",
        "--json",
        "--quiet",
    ]);
    assert_eq!(consumed["records"], 2000, "{consumed}");
    assert_eq!(consumed["bytes"], 200_000, "{consumed}");
    assert_eq!(consumed["partitions"], 2, "{consumed}");

    // The bare fetcher counts the same records from the batch headers alone.
    let fetched = bench_json(&[
        "bench",
        "fetch",
        "--brokers",
        brokers,
        "--topic",
        "bench",
        "--json",
        "--quiet",
    ]);
    assert_eq!(fetched["records"], 2000, "{fetched}");
    assert_eq!(fetched["available"], 2000, "{fetched}");
    assert!(fetched["bytes"].as_u64().unwrap_or(0) > 0, "{fetched}");
    for field in ["records_per_sec", "bytes_per_sec", "elapsed_s"] {
        assert!(fetched[field].is_number(), "{field} in {fetched}");
    }
    assert!(fetched["latency_ms"]["p99"].is_number(), "{fetched}");

    let some = bench_json(&[
        "bench",
        "consume",
        "--brokers",
        brokers,
        "--topic",
        "bench",
        "--consumers",
        "2",
        "--num-records",
        "500",
        "--json",
        "--quiet",
    ]);
    assert_eq!(some["records"], 500, "{some}");

    let e2e = bench_json(&[
        "bench",
        "e2e",
        "--brokers",
        brokers,
        "--topic",
        "bench",
        "--num-records",
        "300",
        "--rate",
        "0",
        "--record-size",
        "64",
        "--acks",
        "1",
        "--json",
        "--quiet",
    ]);
    assert_eq!(e2e["records"], 300, "{e2e}");
    assert_eq!(e2e["produced"], 300, "{e2e}");
    assert_eq!(e2e["latency_ms"]["count"], 300, "{e2e}");
    assert_eq!(e2e["ack_latency_ms"]["count"], 300, "{e2e}");
}
