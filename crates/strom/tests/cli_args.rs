//! Argument handling of the `strom` client commands, checked through the real binary:
//! every command has `--help`, bad arguments are rejected, and an unreachable broker is
//! reported quickly and clearly.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn strom(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strom"))
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

#[test]
fn every_client_command_has_help() {
    let commands: &[&[&str]] = &[
        &[],
        &["topic"],
        &["topic", "create"],
        &["topic", "list"],
        &["topic", "describe"],
        &["topic", "delete"],
        &["topic", "alter-config"],
        &["produce"],
        &["consume"],
        &["cluster"],
        &["cluster", "info"],
        &["cluster", "health"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let output = strom(&args);
        assert!(
            output.status.success(),
            "strom {args:?} failed: {}",
            stderr(&output)
        );
        let text = stdout(&output);
        assert!(
            text.contains("Usage: strom"),
            "strom {args:?} printed {text}"
        );
    }
}

#[test]
fn connection_flag_is_documented_with_its_env_var_and_default() {
    for command in [
        &["topic", "list"][..],
        &["produce"],
        &["consume"],
        &["cluster", "info"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let text = stdout(&strom(&args));
        assert!(text.contains("--brokers"), "{args:?}: {text}");
        assert!(text.contains("STROM_BROKERS"), "{args:?}: {text}");
        assert!(text.contains("127.0.0.1:9092"), "{args:?}: {text}");
    }
}

#[test]
fn produce_and_consume_flags_are_listed() {
    let produce = stdout(&strom(&["produce", "--help"]));
    for flag in [
        "--key-separator",
        "--header",
        "--acks",
        "--compression",
        "--partition",
        "--timestamp",
    ] {
        assert!(
            produce.contains(flag),
            "produce --help lacks {flag}: {produce}"
        );
    }
    let consume = stdout(&strom(&["consume", "--help"]));
    for flag in [
        "--offset",
        "--partition",
        "--num",
        "--follow",
        "--format",
        "--json",
    ] {
        assert!(
            consume.contains(flag),
            "consume --help lacks {flag}: {consume}"
        );
    }
}

#[test]
fn bad_arguments_are_rejected_before_connecting() {
    let cases: &[&[&str]] = &[
        &["topic", "create"],
        &["topic", "create", "t", "--config", "novalue"],
        &["topic", "alter-config", "t"],
        &["produce", "t", "--acks", "2"],
        &["produce", "t", "--compression", "brotli"],
        &["consume", "t", "--offset", "yesterday"],
        &["consume", "t", "--format", "%q"],
        &["consume", "t", "--json", "--format", "%v"],
    ];
    for args in cases {
        let started = Instant::now();
        let output = strom(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "strom {args:?}: {}",
            stderr(&output)
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "strom {args:?} was slow"
        );
    }
}

#[test]
fn unreachable_broker_fails_fast_with_a_clear_message() {
    let started = Instant::now();
    let output = strom(&["topic", "list", "--brokers", "127.0.0.1:1"]);
    let elapsed = started.elapsed();
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(
        text.contains("cannot reach a broker at 127.0.0.1:1"),
        "stderr: {text}"
    );
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
}

#[test]
fn brokers_can_come_from_the_environment() {
    let output = Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(["cluster", "info"])
        .env("STROM_BROKERS", "127.0.0.1:1")
        .output()
        .expect("cannot run the strom binary");
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("cannot reach a broker at 127.0.0.1:1"),
        "stderr: {}",
        stderr(&output)
    );
}
