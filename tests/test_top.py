"""`strom top --once`: one frame of throughput per topic (from two scrapes of /metrics) and lag
per consumer group (from /v1/groups), against a broker with traffic; and its arguments."""

from __future__ import annotations

import re
import subprocess
import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition

from conftest import strom_bin
from helpers import ck_create_topic, unique_group, unique_topic
from test_metrics import admin_address


def top(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [strom_bin(), "top", *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )


def test_top_once_shows_topic_throughput_and_group_lag(broker):
    admin = admin_address(broker)
    topic, group = unique_topic("top"), unique_group("top")
    ck_create_topic(broker.bootstrap, topic, 1)
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    consumer.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
    consumer.close()

    # Produce all through the frame's two scrapes, 1 s apart.
    stop = threading.Event()

    def produce():
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
        while not stop.is_set():
            producer.produce(topic, value=b"v" * 100)
            producer.poll(0)
            time.sleep(0.002)
        producer.flush(10)

    producing = threading.Thread(target=produce)
    producing.start()
    try:
        time.sleep(0.5)
        done = top("--once", "--interval", "1", "--admin", admin)
    finally:
        stop.set()
        producing.join()
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "\x1b[" not in out, "no ANSI codes when stdout is not a terminal"
    assert "TOPICS" in out and "GROUPS" in out, out
    row = re.search(rf"^{re.escape(topic)}\s+(\S+ \S+)\s+([\d.]+)\s+(\S+ \S+)$", out, re.MULTILINE)
    assert row, out
    assert float(row.group(2)) > 0, f"records in per second: {out}"
    assert row.group(1) != "0 B", out
    lag = re.search(rf"^{re.escape(group)}\s+Empty\s+0\s+(\d+)$", out, re.MULTILINE)
    assert lag and int(lag.group(1)) > 0, out


def test_top_arguments_and_an_unreachable_admin_api():
    done = top("--interval", "0")
    assert done.returncode == 2 and "between 0.1 and 86400" in done.stderr, done.stderr
    done = top("--interval", "soon")
    assert done.returncode == 2 and "not a number of seconds" in done.stderr, done.stderr
    done = top("--once", "--interval", "0.1", "--admin", "http://127.0.0.1:1")
    assert done.returncode == 1, done
    assert "admin API unreachable" in done.stderr and "/metrics" in done.stderr, done.stderr
    done = top("--help")
    assert done.returncode == 0 and "--once" in done.stdout and "STROM_ADMIN" in done.stdout, done.stdout
