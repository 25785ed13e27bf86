"""Crash safety: SIGKILL the broker under a producer's load, restart it, and check that every
record the broker acknowledged (acks=all) is still there, at the acknowledged offset."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

from confluent_kafka import Producer

from helpers import ck_consume_all, ck_create_topic, stop_producer_process, unique_topic, wait_until

HERE = Path(__file__).resolve().parent
PARTITIONS = 3
ROUNDS = 5


def count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def read_acks(path: Path) -> list[tuple[int, int, str]]:
    acks = []
    with open(path) as f:
        for line in f:
            if not line.endswith("\n"):
                continue  # only whole lines
            p, off, value = line.split()
            acks.append((int(p), int(off), value))
    return acks


def test_sigkill_loses_no_acknowledged_record(broker, tmp_path):
    seed = int(os.environ.get("STROM_CRASH_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    print(f"crash test seed: {seed} (set STROM_CRASH_SEED to repeat)")

    topic = unique_topic("crash")
    ck_create_topic(broker.bootstrap, topic, PARTITIONS)
    ack_file = tmp_path / "acks.txt"
    producer_log = tmp_path / "producer.log"
    with open(producer_log, "wb") as plog:
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "crash_producer.py"), broker.bootstrap, topic, str(PARTITIONS), str(ack_file)],
            stdout=plog,
            stderr=subprocess.STDOUT,
        )
    try:
        rounds = []
        for rnd in range(ROUNDS):
            acks_before = count_lines(ack_file)
            delay = rng.uniform(0.5, 2.5)
            time.sleep(delay)
            assert proc.poll() is None, f"producer died: {producer_log.read_text()[-3000:]}"
            broker.kill()
            time.sleep(0.2)  # let the producer see the connection drop
            acks_at_kill = count_lines(ack_file)
            rounds.append((delay, acks_before, acks_at_kill))
            broker.restart()
        after_restart = count_lines(ack_file)
        # The producer keeps going against the restarted broker.
        wait_until(
            lambda: count_lines(ack_file) > after_restart + 100,
            30,
            message="acknowledgements after the last restart",
        )
    finally:
        stop_producer_process(proc)
    assert proc.returncode == 0, f"producer exit {proc.returncode}: {producer_log.read_text()[-3000:]}"
    print("rounds (kill delay s, acks before, acks at kill):", rounds)
    print(producer_log.read_text()[-500:])
    progressed = sum(1 for _, before, at_kill in rounds if at_kill > before)
    assert progressed >= 3, f"the producer made progress in only {progressed} of {ROUNDS} rounds: {rounds}"

    acks = read_acks(ack_file)
    assert acks, "no record was acknowledged"

    # Two different acknowledged records at one offset is itself a lost write.
    acked_at: dict[tuple[int, int], str] = {}
    conflicts = []
    for p, off, value in acks:
        prev = acked_at.setdefault((p, off), value)
        if prev != value:
            conflicts.append((p, off, prev, value))
    assert not conflicts, f"{len(conflicts)} offsets were acknowledged for two different records: {conflicts[:10]}"

    logs = ck_consume_all(broker.bootstrap, topic, PARTITIONS, timeout=120)
    problems = []
    for p in range(PARTITIONS):
        offsets = [r.offset for r in logs[p]]
        if offsets != list(range(len(offsets))):
            gaps = [(a, b) for a, b in zip(offsets, offsets[1:]) if b != a + 1][:10]
            problems.append(f"partition {p}: offsets not contiguous from 0 (first {offsets[:1]}, jumps {gaps})")
        for r in logs[p]:
            if not (r.value or b"").decode().startswith(f"p{p}-"):
                problems.append(f"partition {p} offset {r.offset}: foreign value {r.value!r}")
                break
    stored = {(p, r.offset): r.value.decode() for p in logs for r in logs[p]}
    missing = [(p, off, v) for (p, off), v in acked_at.items() if (p, off) not in stored]
    changed = [(p, off, v, stored[(p, off)]) for (p, off), v in acked_at.items() if stored.get((p, off), v) != v]
    if missing:
        problems.append(f"{len(missing)} acknowledged records missing, e.g. {sorted(missing)[:10]}")
    if changed:
        problems.append(f"{len(changed)} acknowledged offsets hold another record, e.g. {sorted(changed)[:10]}")
    assert not problems, "\n".join(problems)
    print(f"{len(acked_at)} acknowledged records all present; log sizes { {p: len(logs[p]) for p in logs} }")

    # New writes after the last restart land right after the existing records.
    ends = {p: len(logs[p]) for p in range(PARTITIONS)}
    prod = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "enable.idempotence": False})
    delivered = {}

    def cb(err, msg):
        assert err is None, err
        delivered[msg.partition()] = msg.offset()

    for p in range(PARTITIONS):
        prod.produce(topic, value=f"after-{p}".encode(), partition=p, on_delivery=cb)
    assert prod.flush(20) == 0
    assert delivered == ends, f"new records at {delivered}, expected at the old ends {ends}"


def test_clean_restart_keeps_topics_and_records(broker):
    topic = unique_topic("restart")
    ck_create_topic(broker.bootstrap, topic, 3, config={"retention.ms": "123456789"})
    prod = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(300):
        prod.produce(topic, value=f"v{i}".encode(), key=f"k{i % 13}".encode())
    assert prod.flush(20) == 0
    before = ck_consume_all(broker.bootstrap, topic, 3)

    broker.stop()
    broker.restart()
    after = ck_consume_all(broker.bootstrap, topic, 3)
    flat = lambda logs: sorted((p, r.offset, r.key, r.value) for p in logs for r in logs[p])  # noqa: E731
    assert flat(after) == flat(before)
    assert sum(len(v) for v in after.values()) == 300

    from confluent_kafka.admin import ConfigResource, ResourceType

    from helpers import ck_admin

    admin = ck_admin(broker.bootstrap)
    res = ConfigResource(ResourceType.TOPIC, topic)
    cfg = admin.describe_configs([res], request_timeout=10)[res].result(timeout=15)
    assert cfg["retention.ms"].value == "123456789"

    # And after a SIGKILL with nothing in flight.
    broker.kill()
    broker.restart()
    again = ck_consume_all(broker.bootstrap, topic, 3)
    assert flat(again) == flat(before)
