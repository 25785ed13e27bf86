"""The admin API's readiness: `/ready` answers 503 `recovering` while the logs of an unclean
shutdown are recovered, and 200 `ready` once the Kafka listener serves; `/health` answers from
the start.

Recovery after SIGKILL opens every partition's log and scans the active segment of each with
full validation (CRC-32C of every batch), then fsyncs it and its directory: a topic of a few
hundred partitions holding some data takes about a second to recover in a debug build, while
the admin listener is up within milliseconds of the start. The admin port is fixed (picked free
beforehand) so that it can be polled before the broker logs it.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request

from confluent_kafka import Producer

from helpers import ck_create_topic, free_port, port_open, unique_topic

PARTITIONS = 300
RECORDS = 150_000
VALUE = os.urandom(1000)


def get(admin: str, path: str) -> tuple[int, dict] | None:
    """Status and JSON body of GET path, or None while nothing listens."""
    try:
        with urllib.request.urlopen(f"http://{admin}{path}", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return None


def test_ready_is_false_during_recovery_and_true_once_the_listener_serves(broker_factory):
    admin_port = free_port()
    admin = f"127.0.0.1:{admin_port}"
    broker = broker_factory(extra_args=["--set", f"admin.listen={admin}"])
    assert get(admin, "/ready") == (200, {"status": "ready"})
    topic = unique_topic("ready")
    ck_create_topic(broker.bootstrap, topic, PARTITIONS, {"segment.bytes": str(1024 * 1024)})
    producer = Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            "acks": 1,
            "linger.ms": 20,
            "compression.type": "none",
        }
    )
    for i in range(RECORDS):
        while True:
            try:
                producer.produce(topic, value=VALUE, partition=i % PARTITIONS)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(60) == 0
    broker.kill()  # unclean: every partition's active segment is scanned at the next start

    # (seconds since the restart, /ready answer, Kafka port open) until /ready says ready.
    seen: list[tuple[float, tuple[int, dict] | None, bool]] = []
    health: list[tuple[int, dict] | None] = []
    started = time.monotonic()

    def poll() -> None:
        while time.monotonic() - started < 60:
            # The port first: the broker says ready just before it opens the port, so a port
            # found open must be followed by /ready saying ready.
            kafka_open = port_open(broker.host, broker.port, timeout=0.05)
            ready = get(admin, "/ready")
            seen.append((time.monotonic() - started, ready, kafka_open))
            if ready is not None and ready[0] == 503 and not health:
                health.append(get(admin, "/health"))
            if ready is not None and ready[0] == 200:
                return
            time.sleep(0.01)

    poller = threading.Thread(target=poll)
    poller.start()
    broker.start()
    poller.join()

    recovering = [s for s in seen if s[1] == (503, {"status": "recovering"})]
    assert recovering, f"/ready never said recovering: {seen[:5]} ... {seen[-5:]}"
    assert seen[-1][1] == (200, {"status": "ready"}), seen[-5:]
    # Recovery took measurably long, and the Kafka listener was closed all the while.
    assert recovering[-1][0] - recovering[0][0] > 0.1, recovering
    assert not any(kafka_open for _, _, kafka_open in recovering), recovering
    assert health == [(200, {"status": "ok"})], "/health answers during recovery"
    # Nothing answered between "recovering" and "ready" but those two.
    answers = {s[1][1]["status"] for s in seen if s[1] is not None}
    assert answers == {"recovering", "ready"}, answers
    # Routes that read the broker answer once it serves, with every record recovered.
    status, description = get(admin, f"/v1/topics/{topic}")
    assert status == 200, description
    assert sum(p["log_end_offset"] for p in description["partitions"]) == RECORDS
    log = broker.log_text()
    assert "clean_shutdown=false" in log
