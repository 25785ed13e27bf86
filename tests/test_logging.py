"""The broker's logs: the level changed at run time through the admin API (`/v1/log-level`),
and the request fields (api, client_id, correlation_id) on what a request's handling logs."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from confluent_kafka import Producer

from helpers import ck_create_topic, unique_topic, wait_until
from test_metrics import admin_address


def call(admin: str, method: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://{admin}/v1/log-level",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_log_level_changes_at_run_time_and_requests_carry_their_fields(broker):
    admin = admin_address(broker)
    assert call(admin, "GET") == (200, {"level": "info"})
    topic = unique_topic("logs")
    ck_create_topic(broker.bootstrap, topic, 1)
    assert "DEBUG" not in broker.log_text()

    status, body = call(admin, "PUT", {"level": "info,strom_broker=debug"})
    assert (status, body) == (200, {"level": "info,strom_broker=debug"})
    assert call(admin, "GET") == (200, {"level": "info,strom_broker=debug"})
    producer = Producer({"bootstrap.servers": broker.bootstrap, "client.id": "log-test-client"})
    producer.produce(topic, value=b"x")
    assert producer.flush(10) == 0
    # Debug events of a request's handling name the request.
    wait_until(
        lambda: any(
            "DEBUG" in line and "client_id" in line and "log-test-client" in line and "correlation_id" in line
            for line in broker.log_text().splitlines()
        ),
        10,
        message="a debug line carrying the request's fields",
    )

    status, body = call(admin, "PUT", {"level": "no such level=="})
    assert status == 400 and "invalid log filter" in body["error"], body
    assert call(admin, "GET") == (200, {"level": "info,strom_broker=debug"}), "a bad filter changes nothing"
    assert call(admin, "PUT", {"level": "warn"}) == (200, {"level": "warn"})
    status, body = call(admin, "PUT", {"wrong": "shape"})
    assert status == 400, body


def test_json_logs_of_a_partition_carry_topic_and_partition_fields(broker_factory):
    """With --log-json, what the storage engine logs about a partition (a segment roll here, its
    recovery at start-up, its close) carries the partition's topic and partition as fields of
    the `partition` span, not only inside the message."""
    broker = broker_factory(extra_args=["--log-json"])
    topic = unique_topic("json")
    ck_create_topic(broker.bootstrap, topic, 2, {"segment.bytes": str(1024 * 1024)})
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 20})
    for _ in range(1500):  # 1.5 MB into partition 1: one roll
        producer.produce(topic, value=b"x" * 1000, partition=1)
    assert producer.flush(30) == 0

    def lines(message: str) -> list[dict]:
        found = []
        for line in broker.log_text().splitlines():
            if not line.startswith("{"):
                continue
            event = json.loads(line)
            if event.get("fields", {}).get("message") == message:
                found.append(event)
        return found

    rolls = wait_until(lambda: lines("rolled new segment"), 10, message="a segment roll logged")
    assert rolls[0]["span"] == {"name": "partition", "topic": topic, "partition": 1}, rolls[0]
    broker.stop()
    broker.start()
    # Opened once at creation, once at the restart (after a clean shutdown).
    opened = [
        e
        for e in lines("opened partition log")
        if e.get("span", {}).get("topic") == topic and e["fields"]["clean_shutdown"]
    ]
    assert sorted(e["span"]["partition"] for e in opened) == [0, 1], opened
    closed = [e for e in lines("closed partition log") if e.get("span", {}).get("topic") == topic]
    assert sorted(e["span"]["partition"] for e in closed) == [0, 1], closed
