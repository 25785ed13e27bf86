"""kcat's balanced consumer (-G: Debian's kcat on librdkafka 2.0.2) in a consumer group, and
`strom group` describing the group and resetting its offsets.

This file uses the broker's default group.initial.rebalance.delay.ms (3 s), so it also covers
the delayed first rebalance of a new or emptied group."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from helpers import ck_create_topic, ck_produce_per_partition, unique_group, unique_topic

KCAT = shutil.which("kcat") or shutil.which("kafkacat")


@pytest.fixture(autouse=True)
def _need_kcat():
    if KCAT is None:
        pytest.fail("kcat is not installed (scripts/test.sh installs Debian's kcat)", pytrace=False)


def kcat_group_consume(broker, group: str, topic: str, timeout: float = 60.0) -> list[tuple[int, int]]:
    """`kcat -G GROUP TOPIC -e`: join the group, read to the end of every assigned partition,
    commit (auto commit on close) and leave. Returns the (partition, offset) pairs read."""
    cmd = [
        KCAT, "-b", broker.bootstrap, "-G", group, topic, "-e", "-q",
        "-X", "auto.offset.reset=earliest",
        "-X", "socket.timeout.ms=10000",
        "-f", "%p %o\\n",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (
        f"{' '.join(cmd)} exited with {proc.returncode}\nstdout:\n{proc.stdout[-4000:]}\n"
        f"stderr:\n{proc.stderr[-4000:]}"
    )
    out = []
    for line in proc.stdout.splitlines():
        if line.strip():
            p, o = line.split()
            out.append((int(p), int(o)))
    return out


def strom(broker, *args: str) -> str:
    cmd = [broker.binary, *args, "--brokers", broker.bootstrap]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, (
        f"{' '.join(cmd)} exited with {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    )
    return proc.stdout


def parse_describe(text: str) -> tuple[dict[str, str], dict[tuple[str, int], dict[str, str]]]:
    """The summary (KEY VALUE lines) and the partition table of `strom group describe`."""
    summary_text, _, table_text = text.partition("\n\n")
    summary = {}
    for line in summary_text.splitlines():
        key, _, value = line.partition(" ")
        summary[key] = value.strip()
    lines = [line.split() for line in table_text.splitlines() if line.strip()]
    rows = {}
    if lines and lines[0][0] == "TOPIC":
        header = lines[0]
        for cells in lines[1:]:
            row = dict(zip(header, cells))
            if row["TOPIC"] != "-":
                rows[(row["TOPIC"], int(row["PARTITION"]))] = row
    return summary, rows


def test_kcat_balanced_consumer_then_strom_group_describe_and_reset(broker):
    topic, group = unique_topic("kc-cg"), unique_group("kc")
    ck_create_topic(broker.bootstrap, topic, 3)
    produced = ck_produce_per_partition(broker.bootstrap, topic, 3, 10, tag="kc")

    first = kcat_group_consume(broker, group, topic)
    assert sorted(first) == sorted(produced), f"kcat -G read {len(first)} of {len(produced)} records"

    listed = strom(broker, "group", "list")
    lines = [line.split() for line in listed.splitlines()]
    assert lines[0] == ["GROUP", "STATE", "PROTOCOL-TYPE"], listed
    assert [group, "Empty", "consumer"] in lines, listed

    summary, rows = parse_describe(strom(broker, "group", "describe", group))
    assert summary.get("GROUP") == group and summary.get("STATE") == "Empty", summary
    assert summary.get("TOTAL-LAG") == "0", summary
    assert set(rows) == {(topic, p) for p in range(3)}, rows
    for (_, p), row in rows.items():
        assert (row["CURRENT-OFFSET"], row["LOG-END-OFFSET"], row["LAG"]) == ("10", "10", "0"), row

    # A second kcat in the group finds nothing new: the first one committed.
    assert kcat_group_consume(broker, group, topic) == []

    plan = strom(broker, "group", "reset-offsets", group, "--topic", topic, "--to-earliest")
    assert "dry run" in plan, plan
    _, rows = parse_describe(strom(broker, "group", "describe", group))
    assert all(row["CURRENT-OFFSET"] == "10" for row in rows.values()), "a dry run committed"

    out = strom(broker, "group", "reset-offsets", group, "--topic", topic, "--to-earliest", "--execute")
    table = [line.split() for line in out.splitlines() if line.strip()]
    assert table[0] == ["TOPIC", "PARTITION", "OLD-OFFSET", "NEW-OFFSET"], out
    assert sorted(table[1:]) == [[topic, str(p), "10", "0"] for p in range(3)], out

    summary, rows = parse_describe(strom(broker, "group", "describe", group))
    assert summary.get("TOTAL-LAG") == "30", summary
    assert all((row["CURRENT-OFFSET"], row["LAG"]) == ("0", "10") for row in rows.values()), rows

    again = kcat_group_consume(broker, group, topic)
    assert sorted(again) == sorted(produced), f"after the reset kcat -G read {len(again)} records"
