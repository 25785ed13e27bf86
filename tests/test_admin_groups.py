"""The admin API's consumer groups (`/v1/groups`, `/v1/groups/{id}`) with a real
confluent-kafka consumer group: its state, members with client id, host and assignment, and per
partition the committed offset, high watermark, log end offset and lag."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition

from helpers import (
    GROUP_BROKER_ARGS,
    GROUP_HEARTBEAT_MS,
    GROUP_SESSION_TIMEOUT_MS,
    ck_create_topic,
    unique_group,
    unique_topic,
    wait_until,
)
from test_metrics import admin_address


def get(admin: str, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://{admin}{path}", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_groups_show_members_assignments_offsets_and_lag(broker_factory):
    broker = broker_factory(extra_args=GROUP_BROKER_ARGS)
    admin = admin_address(broker)
    topic, group = unique_topic("groups"), unique_group("groups")
    ck_create_topic(broker.bootstrap, topic, 2)
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(30):
        producer.produce(topic, value=b"x", partition=i % 2)
    assert producer.flush(15) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": group,
            "client.id": "groups-test-client",
            "enable.auto.commit": False,
            "session.timeout.ms": GROUP_SESSION_TIMEOUT_MS,
            "heartbeat.interval.ms": GROUP_HEARTBEAT_MS,
        }
    )
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 30
        while len(consumer.assignment()) < 2:
            assert time.monotonic() < deadline, "no assignment"
            consumer.poll(0.1)
        consumer.commit(
            offsets=[TopicPartition(topic, 0, 5), TopicPartition(topic, 1, 15)], asynchronous=False
        )
        wait_until(
            lambda: get(admin, f"/v1/groups/{group}")[1].get("state") == "Stable",
            10,
            message="the group stable",
        )

        status, listing = get(admin, "/v1/groups")
        assert status == 200
        mine = [g for g in listing["groups"] if g["group_id"] == group]
        assert mine == [
            {
                "group_id": group,
                "group_type": "classic",
                "state": "Stable",
                "protocol_type": "consumer",
                "members": 1,
                "lag": 10,
            }
        ], listing

        status, described = get(admin, f"/v1/groups/{group}")
        assert status == 200, described
        assert (described["state"], described["lag"]) == ("Stable", 10)
        [member] = described["members"]
        assert member["client_id"] == "groups-test-client"
        assert "127.0.0.1" in member["client_host"]
        assert member["assignment"] == [{"topic": topic, "partitions": [0, 1]}]
        assert described["offsets"] == [
            {
                "topic": topic,
                "partition": 0,
                "committed_offset": 5,
                "high_watermark": 15,
                "log_end_offset": 15,
                "lag": 10,
            },
            {
                "topic": topic,
                "partition": 1,
                "committed_offset": 15,
                "high_watermark": 15,
                "log_end_offset": 15,
                "lag": 0,
            },
        ]
    finally:
        consumer.close()

    # After the member left, the group is Empty and keeps its offsets.
    wait_until(lambda: get(admin, f"/v1/groups/{group}")[1]["state"] == "Empty", 10, message="Empty")
    status, described = get(admin, f"/v1/groups/{group}")
    assert (described["members"], described["lag"]) == ([], 10)
    status, error = get(admin, "/v1/groups/no-such-group")
    assert status == 404 and "no-such-group" in error["error"], error
