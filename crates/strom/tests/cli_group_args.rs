//! Argument handling of `strom group`, checked through the real binary without a broker:
//! help texts, rejected flag combinations, and a clear error when no broker answers.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn strom(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(args)
        .env_remove("STROM_BROKERS")
        .output()
        .expect("cannot run the strom binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_group_command_has_help() {
    for command in [
        &["group"][..],
        &["group", "list"],
        &["group", "describe"],
        &["group", "delete"],
        &["group", "reset-offsets"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let output = strom(&args);
        assert!(
            output.status.success(),
            "strom {args:?}: {}",
            text(&output.stderr)
        );
        let help = text(&output.stdout);
        assert!(
            help.contains("Usage: strom group"),
            "strom {args:?} printed {help}"
        );
        if command.len() > 1 {
            assert!(
                help.contains("STROM_BROKERS"),
                "strom {args:?} printed {help}"
            );
        }
    }
    let help = text(&strom(&["group", "reset-offsets", "--help"]).stdout);
    for flag in [
        "--to-earliest",
        "--to-latest",
        "--to-offset",
        "--to-datetime",
        "--shift-by",
        "--partition",
        "--dry-run",
        "--execute",
        "Examples:",
    ] {
        assert!(
            help.contains(flag),
            "reset-offsets --help lacks {flag}:\n{help}"
        );
    }
}

#[test]
fn reset_offsets_needs_one_target_and_a_topic() {
    for args in [
        &["group", "reset-offsets", "g", "--topic", "t"][..],
        &["group", "reset-offsets", "g", "--to-earliest"],
        &[
            "group",
            "reset-offsets",
            "g",
            "-t",
            "t",
            "--to-earliest",
            "--to-latest",
        ],
        &[
            "group",
            "reset-offsets",
            "g",
            "-t",
            "t",
            "--to-earliest",
            "--dry-run",
            "--execute",
        ],
        &[
            "group",
            "reset-offsets",
            "g",
            "-t",
            "t",
            "--to-datetime",
            "noon",
        ],
    ] {
        let output = strom(args);
        assert_eq!(output.status.code(), Some(2), "strom {args:?} was accepted");
    }
    let output = strom(&[
        "group",
        "reset-offsets",
        "g",
        "-t",
        "t",
        "--to-datetime",
        "noon",
    ]);
    assert!(
        text(&output.stderr).contains("RFC 3339"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn unreachable_broker_is_reported_quickly() {
    for args in [
        &["group", "list"][..],
        &["group", "describe", "g"],
        &["group", "delete", "g"],
        &["group", "reset-offsets", "g", "-t", "t", "--to-earliest"],
    ] {
        let mut args = args.to_vec();
        args.extend(["--brokers", "127.0.0.1:1"]);
        let started = Instant::now();
        let output = strom(&args);
        assert!(!output.status.success(), "strom {args:?} succeeded");
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("cannot reach a broker at 127.0.0.1:1"),
            "strom {args:?}: {stderr}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "strom {args:?} took {:?}",
            started.elapsed()
        );
    }
}
