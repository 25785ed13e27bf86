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
